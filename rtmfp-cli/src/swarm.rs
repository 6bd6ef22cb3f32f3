//! The client side of the server benchmarks (`rtmfp bench --crowd`,
//! `--fanout`), shared by both:
//!
//! - [`Swarm`]: many Flash NetConnections driven sans-IO from one thread,
//!   each an `Endpoint` with a `FlashClient` on its own UDP socket and
//!   its own identity (a Flash client has one certificate per
//!   NetConnection, RFC 7425 §5.3); what each one does with its events is
//!   its [`Role`];
//! - [`Workers`]: the split of a large swarm over client processes (this
//!   executable again), whose stdout lines come back on one channel;
//! - [`ServerUnderTest`]: an `rtmfp server` child on loopback, or any
//!   server given by address, and [`sample`] for a process's CPU time
//!   and memory from `/proc`.

use crate::common::{fail, CliError, Result};
use crate::options::{Flags, Maker};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use rtmfp_core::crypto::{FlashConfig, FlashProfile};
use rtmfp_core::endpoint::{Endpoint, EndpointConfig, Layered};
use rtmfp_core::flash::client::{ClientError, ClientEvent};
use rtmfp_core::flash::{ClientConfig, FlashClient};
use rtmfp_core::host::options::Object;
use rtmfp_core::sim::SimNode;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// CPU seconds and resident memory of a process, from `/proc`.
#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    /// User plus system CPU time, in seconds.
    pub cpu: f64,
    /// Resident set size, in bytes.
    pub rss: u64,
}

/// The CPU time and memory of process `pid` now.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(ProcSample {
        cpu: (utime + stime) / clock_ticks(),
        rss: rss_kb * 1024,
    })
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}

/// The whole machine's busy and total CPU time (seconds, all CPUs), from
/// the first line of `/proc/stat`.
pub fn machine_cpu() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<f64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0.0);
    let t = clock_ticks();
    Some(((total - idle) / t, total / t))
}

/// CLOCK_MONOTONIC in nanoseconds: system-wide on Linux, so the client
/// processes of one machine can compare what they stamp.
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer to a local.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Raises the open-file limit to fit `wanted` sockets (as far as allowed).
fn raise_fd_limit(wanted: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointer to a local.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if lim.rlim_cur >= wanted {
        return lim.rlim_cur;
    }
    let want = libc::rlimit {
        rlim_cur: wanted,
        rlim_max: lim.rlim_max.max(wanted),
    };
    // SAFETY: valid pointer to a local; raising the hard limit needs
    // privileges, and a refusal leaves the old limits.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
        return wanted;
    }
    let soft = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) };
    lim.rlim_max
}

/// Makes room for `clients` sockets under the open-file limit, or says
/// why there is none.
pub fn fit_sockets(clients: usize) -> Result<()> {
    let limit = raise_fd_limit(clients as u64 + 256);
    if (limit as usize) < clients + 64 {
        return Err(fail(format!(
            "{clients} clients need as many sockets; the open-file limit is {limit} (ulimit -n)"
        )));
    }
    Ok(())
}

/// `rtmfp bench --option`: the swarm's clients are NetConnections, but
/// sans-IO ones on sockets the swarm binds, without a runtime; so the
/// rows of a runtime (bind addresses, event queue, receive coalescing)
/// and of a TURN relay have nothing to apply to.
pub const MAKER: Maker = Maker {
    object: Object::NetConnection,
    command: "bench",
    without: &[
        "bind",
        "event_queue_limit",
        "recv_coalesce",
        "turn",
        "turn_username",
        "turn_password",
    ],
};

/// The options of a load benchmark (`--crowd`, `--fanout`, `--flood`):
/// the clients' `--option`s and the `rtmfp server` child's
/// `--server-option`s, as given (client processes get them again).
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--option NAME=VALUE`, for every client.
    pub client: Vec<String>,
    /// `--server-option NAME=VALUE`, for the server child.
    pub server: Vec<String>,
}

impl LoadOptions {
    /// Checks both lists (the server's as `rtmfp server` would), so that
    /// a bad option stops the benchmark before anything starts.
    pub fn check(&self) -> Result<()> {
        MAKER.options(&self.client, Flags::new())?;
        crate::server::MAKER
            .options(&self.server, Flags::new())
            .map_err(|e| match e {
                // Core's words name the flag `rtmfp server` takes.
                CliError::Usage(m) => CliError::Usage(m.replace("--option", "--server-option")),
                e => e,
            })?;
        Ok(())
    }

    /// The clients' endpoint, identity and Flash client settings.
    fn client_configs(&self) -> Result<(EndpointConfig, FlashConfig, ClientConfig)> {
        let c = MAKER
            .options(&self.client, Flags::new())?
            .configs(Object::NetConnection);
        Ok((c.endpoint, c.flash, c.client))
    }

    /// The clients' options as arguments of a client process.
    pub fn client_args(&self) -> Vec<String> {
        self.client
            .iter()
            .flat_map(|o| ["--option".to_owned(), o.clone()])
            .collect()
    }
}

/// The server a benchmark runs against: an `rtmfp server` child on
/// loopback (killed on drop), or one given by address.
pub struct ServerUnderTest {
    child: Option<Child>,
    /// The child's "totals" line, once it stops.
    totals: Option<mpsc::Receiver<String>>,
    /// Its address.
    pub addr: SocketAddr,
    /// Its process ID, if known (for [`sample`]).
    pub pid: Option<u32>,
}

impl ServerUnderTest {
    /// `addr` (with `pid` for its costs), or a new `rtmfp server` with
    /// `options`' server options.
    pub fn new(
        addr: Option<SocketAddr>,
        pid: Option<u32>,
        options: &LoadOptions,
    ) -> Result<ServerUnderTest> {
        match addr {
            Some(addr) => Ok(ServerUnderTest {
                child: None,
                totals: None,
                addr,
                pid,
            }),
            None => {
                let (child, addr, totals) = spawn_server(&options.server)?;
                Ok(ServerUnderTest {
                    pid: Some(child.id()),
                    child: Some(child),
                    totals: Some(totals),
                    addr,
                })
            }
        }
    }

    /// Its CPU time and memory now, if its process is known.
    pub fn sample(&self) -> Option<ProcSample> {
        self.pid.and_then(sample)
    }

    /// Stops the `rtmfp server` child in order (SIGTERM) and returns the
    /// "totals" line it prints on the way out (its counters); `None` for
    /// a server given by address, or if it printed none within 5 s.
    pub fn stop(&mut self) -> Option<String> {
        let child = self.child.take()?;
        // SAFETY: kill has no memory preconditions; the child is ours and
        // not yet reaped, so its PID is still its own.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let line = self
            .totals
            .take()
            .and_then(|rx| rx.recv_timeout(Duration::from_secs(5)).ok());
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        line
    }
}

impl Drop for ServerUnderTest {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `rtmfp server` (this executable) on loopback with `options`
/// (`NAME=VALUE`); its address, and where its "totals" line will come.
fn spawn_server(options: &[String]) -> Result<(Child, SocketAddr, mpsc::Receiver<String>)> {
    let exe = std::env::current_exe().map_err(|e| fail(format!("own executable: {e}")))?;
    let mut child = Command::new(exe)
        .args(["server", "--listen", "127.0.0.1:0", "--any-key"])
        .args(options.iter().flat_map(|o| ["--option", o.as_str()]))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| fail(format!("cannot start rtmfp server: {e}")))?;
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(a) = line.strip_prefix("listening ") {
                    break a
                        .trim()
                        .parse()
                        .map_err(|e| fail(format!("server address {a:?}: {e}")))?;
                }
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail("rtmfp server did not start"));
            }
        }
    };
    // Keep reading its output so that it never blocks on a full pipe.
    let (tx, totals) = mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(|l| l.ok()) {
            if line.starts_with("totals ") {
                let _ = tx.send(line);
            }
        }
    });
    Ok((child, addr, totals))
}

/// The `p` quantile (0 to 1) of sorted durations; zero if none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// What one member of a [`Swarm`] does with its client's events (after
/// the swarm noted the connect outcome).
pub trait Role {
    /// One event of this member's client.
    fn on_event(&mut self, _event: ClientEvent, _now: Instant) {}
}

/// One NetConnection of a [`Swarm`].
pub struct Member<R> {
    /// The client on its endpoint.
    pub node: Layered<FlashClient>,
    socket: UdpSocket,
    local: SocketAddr,
    started: Instant,
    /// How long `connect` took, once it succeeded.
    pub connected: Option<Duration>,
    /// Whether the connection failed, was rejected or closed.
    pub failed: bool,
    /// What it does.
    pub role: R,
}

/// Many NetConnections to one server on one thread, each on its own
/// socket with its own identity.
pub struct Swarm<R> {
    poll: Poll,
    bind: SocketAddr,
    /// The members, in the order opened.
    pub members: Vec<Member<R>>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    server: SocketAddr,
    uri: String,
    buf: Vec<u8>,
    recv: Vec<u8>,
    /// Each client's endpoint, identity and Flash client settings.
    endpoint: EndpointConfig,
    flash: FlashConfig,
    client: ClientConfig,
    /// Time spent making identities.
    pub identity_time: Duration,
}

impl<R: Role> Swarm<R> {
    /// A swarm for `server`, connecting to `rtmfp://SERVER/APP`.  On
    /// loopback, client process `worker` binds 127.0.0.(worker+1), so that
    /// a large swarm is not limited by one address's ephemeral ports
    /// (about 28,000).  Its clients are made with `options`' client
    /// options.
    pub fn new(
        server: SocketAddr,
        worker: u8,
        app: &str,
        options: &LoadOptions,
    ) -> Result<Swarm<R>> {
        let (endpoint, flash, client) = options.client_configs()?;
        let bind = match server {
            SocketAddr::V4(a) if a.ip().is_loopback() => {
                SocketAddr::from(([127, 0, 0, worker.saturating_add(1)], 0))
            }
            SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
            SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
        };
        Ok(Swarm {
            poll: Poll::new().map_err(|e| fail(format!("poll: {e}")))?,
            bind,
            members: Vec::new(),
            timers: BinaryHeap::new(),
            server,
            uri: format!("rtmfp://{server}/{app}"),
            buf: Vec::with_capacity(2048),
            recv: vec![0; 65536],
            endpoint,
            flash,
            client,
            identity_time: Duration::ZERO,
        })
    }

    /// Starts one more member connecting; `setup` may then queue more on
    /// its client (`create_stream`, `play`, ...: they wait for the
    /// connection).  Its index.
    pub fn open(
        &mut self,
        mut role: R,
        setup: impl FnOnce(
            &mut R,
            &mut FlashClient,
            &mut Endpoint,
            Instant,
        ) -> std::result::Result<(), ClientError>,
    ) -> Result<usize> {
        let t = Instant::now();
        let crypto = FlashProfile::generate(self.flash.clone())
            .map_err(|e| fail(format!("client identity: {e}")))?;
        self.identity_time += t.elapsed();
        let mut socket = UdpSocket::bind(self.bind).map_err(|e| {
            fail(format!(
                "socket {} of the swarm on {}: {e}",
                self.members.len() + 1,
                self.bind
            ))
        })?;
        let local = socket.local_addr().map_err(|e| fail(e.to_string()))?;
        let i = self.members.len();
        self.poll
            .registry()
            .register(&mut socket, Token(i), Interest::READABLE)
            .map_err(|e| fail(format!("poll register: {e}")))?;
        let now = Instant::now();
        let endpoint = Endpoint::new(self.endpoint.clone(), Arc::new(crypto), now);
        let mut client = FlashClient::new(self.client.clone());
        client.set_local_addresses(vec![local]);
        let mut node = Layered::new(endpoint, client);
        let (uri, server) = (self.uri.clone(), self.server);
        node.with(now, |c, ep, now| {
            c.connect(ep, now, &uri, &[server], Vec::new())?;
            setup(&mut role, c, ep, now)
        })
        .map_err(|e| fail(format!("connect: {e}")))?;
        self.members.push(Member {
            node,
            socket,
            local,
            started: now,
            connected: None,
            failed: false,
            role,
        });
        self.activity(i, now);
        Ok(i)
    }

    /// Runs `f` on member `i`'s client, then sends what it queued.
    pub fn with<T>(
        &mut self,
        i: usize,
        now: Instant,
        f: impl FnOnce(&mut R, &mut FlashClient, &mut Endpoint, Instant) -> T,
    ) -> T {
        let m = &mut self.members[i];
        let role = &mut m.role;
        let r = m.node.with(now, |c, ep, now| f(role, c, ep, now));
        self.activity(i, now);
        r
    }

    /// After anything happened to member `i`: send what it has, note a
    /// connect outcome, hand its events to its role, schedule its timer.
    fn activity(&mut self, i: usize, now: Instant) {
        let m = &mut self.members[i];
        while let Some(t) = m.node.poll_transmit(now, &mut self.buf) {
            // A full socket buffer drops it, as the network would.
            let _ = m.socket.send_to(&self.buf, t.destination);
        }
        while let Some(e) = m.node.layer.poll_event() {
            if let ClientEvent::Status { stream: None, info } = &e {
                match info.code.as_str() {
                    "NetConnection.Connect.Success" if m.connected.is_none() => {
                        m.connected = Some(now - m.started);
                    }
                    "NetConnection.Connect.Failed"
                    | "NetConnection.Connect.Rejected"
                    | "NetConnection.Connect.Closed" => m.failed = true,
                    _ => {}
                }
            }
            m.role.on_event(e, now);
        }
        m.node.events.clear();
        if let Some(t) = m.node.poll_timeout() {
            self.timers.push(Reverse((t, i)));
        }
    }

    /// Runs the loop until `until`, or until `step` says it is done
    /// (`step` runs at least every 5 ms).
    pub fn run(
        &mut self,
        until: Instant,
        mut step: impl FnMut(&mut Swarm<R>, Instant) -> Result<bool>,
    ) -> Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let now = Instant::now();
            if now >= until || step(self, now)? {
                return Ok(());
            }
            let next = self
                .timers
                .peek()
                .map(|Reverse((t, _))| *t)
                .unwrap_or(until)
                .min(until);
            let wait = next
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(5));
            self.poll
                .poll(&mut events, Some(wait))
                .map_err(|e| fail(format!("poll: {e}")))?;
            let now = Instant::now();
            for ev in events.iter() {
                let i = ev.token().0;
                loop {
                    let m = &mut self.members[i];
                    match m.socket.recv_from(&mut self.recv) {
                        Ok((n, from)) => {
                            let local = m.local;
                            m.node.handle_datagram(now, local, from, &self.recv[..n]);
                        }
                        Err(_) => break,
                    }
                }
                self.activity(i, now);
            }
            while let Some(&Reverse((t, i))) = self.timers.peek() {
                if t > now {
                    break;
                }
                self.timers.pop();
                let node = &mut self.members[i].node;
                if node.poll_timeout().is_some_and(|t| t <= now) {
                    node.handle_timeout(now);
                    self.activity(i, now);
                }
            }
        }
    }
}

/// Client processes (this executable again, each with its share of the
/// clients), their stdout lines on one channel.
pub struct Workers {
    children: Vec<Child>,
    stdins: Vec<Option<ChildStdin>>,
    /// `(worker, line)` for every line a worker prints, until all exit.
    pub lines: mpsc::Receiver<(usize, String)>,
}

impl Workers {
    /// Splits `clients` over `count` processes: worker `w` runs `rtmfp`
    /// with `args(w, its share)`; with `stdin`, [`Workers::tell`] can
    /// write to them.
    pub fn spawn(
        count: usize,
        clients: usize,
        stdin: bool,
        args: impl Fn(usize, usize) -> Vec<String>,
    ) -> Result<Workers> {
        let exe = std::env::current_exe().map_err(|e| fail(format!("own executable: {e}")))?;
        let (tx, lines) = mpsc::channel::<(usize, String)>();
        let mut workers = Workers {
            children: Vec::new(),
            stdins: Vec::new(),
            lines,
        };
        for w in 0..count {
            let share = clients / count + usize::from(w < clients % count);
            let mut child = Command::new(&exe)
                .args(args(w, share))
                .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| fail(format!("cannot start a client process: {e}")))?;
            let stdout = child.stdout.take().expect("piped");
            workers.stdins.push(child.stdin.take());
            workers.children.push(child);
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                    if tx.send((w, line)).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(workers)
    }

    /// How many.
    pub fn count(&self) -> usize {
        self.children.len()
    }

    /// Their process IDs.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// Writes `line` to every worker's stdin.
    pub fn tell(&mut self, line: &str) {
        for s in self.stdins.iter_mut().flatten() {
            let _ = writeln!(s, "{line}");
            let _ = s.flush();
        }
    }

    /// Waits for them all; an error if any failed.
    pub fn wait(mut self) -> Result<()> {
        self.stdins.clear();
        let count = self.children.len();
        let failed = self
            .children
            .iter_mut()
            .map(|c| c.wait().is_ok_and(|s| s.success()))
            .filter(|ok| !ok)
            .count();
        self.children.clear();
        if failed > 0 {
            return Err(fail(format!(
                "{failed} of {count} client processes failed (see above)"
            )));
        }
        Ok(())
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The combined CPU seconds of processes `pids` (those still there).
pub fn cpu_of(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|&p| sample(p)).map(|s| s.cpu).sum()
}
