//! `rtmfp bench --crowd N`: N Flash NetConnections against one server,
//! held idle, and what that costs the server.
//!
//! The clients run sans-IO in this process, on one thread: each is an
//! `Endpoint` with a `FlashClient` on its own UDP socket and its own
//! identity (a Flash client has one certificate per NetConnection, RFC
//! 7425 §5.3), connected with the Flash `connect` command at `--rate`
//! per second.  The server is `--server ADDR` (any RTMFP server: ours,
//! rtmfp-cpp's `tcserver`, ...) or, by default, an `rtmfp server` child
//! process on loopback.  The server's CPU time and memory come from
//! `/proc/PID` (so `--server` needs `--server-pid` for them).
//!
//! While the crowd is idle, probe clients connect one at a time: their
//! connect times say whether a newcomer still gets in quickly.

use crate::common::{fail, Result};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use rtmfp_core::crypto::{FlashConfig, FlashProfile};
use rtmfp_core::endpoint::{Endpoint, EndpointConfig, Layered};
use rtmfp_core::flash::client::ClientEvent;
use rtmfp_core::flash::{ClientConfig, FlashClient};
use rtmfp_core::sim::SimNode;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct CrowdSpec {
    /// NetConnections to open and hold.
    pub clients: usize,
    /// How long to hold them idle once all are open.
    pub hold: Duration,
    /// New connects per second.
    pub rate: u32,
    /// The server; `None` starts `rtmfp server` on loopback.
    pub server: Option<SocketAddr>,
    /// The server's process ID, for its CPU and memory.
    pub server_pid: Option<u32>,
    /// Probe connects while the crowd is idle.
    pub probes: usize,
    /// Clients one process holds at most (its open-file limit must fit
    /// them); more make several client processes.
    pub per_process: usize,
    /// Which client process this is (0 for the first or only one): on
    /// loopback, process W binds 127.0.0.(W+1), so that the crowd is not
    /// limited by one address's ephemeral ports (about 28,000).
    pub worker_index: u8,
}

/// One client.
struct Client {
    node: Layered<FlashClient>,
    socket: UdpSocket,
    local: SocketAddr,
    started: Instant,
    connected: Option<Duration>,
    failed: bool,
    probe: bool,
}

/// CPU seconds and resident memory of a process, from `/proc`.
#[derive(Debug, Clone, Copy)]
struct ProcSample {
    cpu: f64,
    rss: u64,
}

fn sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
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
        cpu: (utime + stime) / ticks,
        rss: rss_kb * 1024,
    })
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

/// Starts `rtmfp server` (this executable) on loopback; its address.
fn spawn_server() -> Result<(Child, SocketAddr)> {
    let exe = std::env::current_exe().map_err(|e| fail(format!("own executable: {e}")))?;
    let mut child = Command::new(exe)
        .args(["server", "--listen", "127.0.0.1:0", "--any-key"])
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
                return Err(fail("rtmfp server did not start"));
            }
        }
    };
    // Keep reading its output so that it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok((child, addr))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The clients and their loop.
struct Crowd {
    poll: Poll,
    bind: SocketAddr,
    clients: Vec<Client>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    server: SocketAddr,
    uri: String,
    buf: Vec<u8>,
    recv: Vec<u8>,
    identity_time: Duration,
}

impl Crowd {
    fn new(server: SocketAddr, worker: u8) -> Result<Crowd> {
        let bind = match server {
            SocketAddr::V4(a) if a.ip().is_loopback() => {
                SocketAddr::from(([127, 0, 0, worker.saturating_add(1)], 0))
            }
            SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
            SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
        };
        Ok(Crowd {
            poll: Poll::new().map_err(|e| fail(format!("poll: {e}")))?,
            bind,
            clients: Vec::new(),
            timers: BinaryHeap::new(),
            server,
            uri: format!("rtmfp://{server}/crowd"),
            buf: Vec::with_capacity(2048),
            recv: vec![0; 65536],
            identity_time: Duration::ZERO,
        })
    }

    /// Starts one more client connecting.
    fn open(&mut self, probe: bool) -> Result<()> {
        let t = Instant::now();
        let crypto = FlashProfile::generate(FlashConfig::client())
            .map_err(|e| fail(format!("client identity: {e}")))?;
        self.identity_time += t.elapsed();
        let mut socket = UdpSocket::bind(self.bind).map_err(|e| {
            fail(format!(
                "socket {} of the crowd on {}: {e}",
                self.clients.len() + 1,
                self.bind
            ))
        })?;
        let local = socket.local_addr().map_err(|e| fail(e.to_string()))?;
        let i = self.clients.len();
        self.poll
            .registry()
            .register(&mut socket, Token(i), Interest::READABLE)
            .map_err(|e| fail(format!("poll register: {e}")))?;
        let now = Instant::now();
        let endpoint = Endpoint::new(EndpointConfig::default(), Arc::new(crypto), now);
        let mut client = FlashClient::new(ClientConfig::default());
        client.set_local_addresses(vec![local]);
        let mut node = Layered::new(endpoint, client);
        let (uri, server) = (self.uri.clone(), self.server);
        node.with(now, |c, ep, now| {
            c.connect(ep, now, &uri, &[server], Vec::new())
        })
        .map_err(|e| fail(format!("connect: {e}")))?;
        self.clients.push(Client {
            node,
            socket,
            local,
            started: now,
            connected: None,
            failed: false,
            probe,
        });
        self.activity(i, now);
        Ok(())
    }

    /// After anything happened to client `i`: send what it has, note a
    /// connect outcome, schedule its timer.
    fn activity(&mut self, i: usize, now: Instant) {
        let c = &mut self.clients[i];
        while let Some(t) = c.node.poll_transmit(now, &mut self.buf) {
            // A full socket buffer drops it, as the network would.
            let _ = c.socket.send_to(&self.buf, t.destination);
        }
        while let Some(e) = c.node.layer.poll_event() {
            if let ClientEvent::Status { stream: None, info } = e {
                match info.code.as_str() {
                    "NetConnection.Connect.Success" if c.connected.is_none() => {
                        c.connected = Some(now - c.started);
                    }
                    "NetConnection.Connect.Failed"
                    | "NetConnection.Connect.Rejected"
                    | "NetConnection.Connect.Closed" => c.failed = true,
                    _ => {}
                }
            }
        }
        c.node.events.clear();
        if let Some(t) = c.node.poll_timeout() {
            self.timers.push(Reverse((t, i)));
        }
    }

    /// Runs the loop until `until`, or until `done` says so.
    fn run(
        &mut self,
        until: Instant,
        mut step: impl FnMut(&mut Crowd, Instant) -> Result<bool>,
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
                    let c = &mut self.clients[i];
                    match c.socket.recv_from(&mut self.recv) {
                        Ok((n, from)) => {
                            let local = c.local;
                            c.node.handle_datagram(now, local, from, &self.recv[..n]);
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
                let node = &mut self.clients[i].node;
                if node.poll_timeout().is_some_and(|t| t <= now) {
                    node.handle_timeout(now);
                    self.activity(i, now);
                }
            }
        }
    }
}

/// What the clients saw.
#[derive(Debug, Default)]
struct Outcome {
    /// Connect times of the crowd.
    times: Vec<Duration>,
    failed: usize,
    alive: usize,
    /// Connect times of the probes.
    probes: Vec<Duration>,
    identity_time: Duration,
}

impl Outcome {
    /// As lines for the coordinator (`c MS`, `f`, `a N`, `p MS`, `i S`).
    fn print(&self) {
        for t in &self.times {
            println!("c {}", t.as_secs_f64() * 1e3);
        }
        for _ in 0..self.failed {
            println!("f");
        }
        for t in &self.probes {
            println!("p {}", t.as_secs_f64() * 1e3);
        }
        println!("a {}", self.alive);
        println!("i {}", self.identity_time.as_secs_f64());
    }

    /// Adds one worker's line.
    fn add_line(&mut self, line: &str) {
        let ms = |v: &str| {
            v.parse::<f64>()
                .ok()
                .map(|m| Duration::from_secs_f64(m / 1e3))
        };
        match line.split_once(' ') {
            Some(("c", v)) => self.times.extend(ms(v)),
            Some(("p", v)) => self.probes.extend(ms(v)),
            Some(("a", v)) => self.alive += v.parse::<usize>().unwrap_or(0),
            Some(("i", v)) => {
                self.identity_time += Duration::from_secs_f64(v.parse().unwrap_or(0.0))
            }
            _ if line == "f" => self.failed += 1,
            _ => {}
        }
    }
}

/// Opens `clients` at `rate`, calls `opened` once each has an outcome,
/// holds them `hold` with `probes` probe connects, and says what it saw.
fn drive(
    server: SocketAddr,
    worker: u8,
    clients: usize,
    rate: u32,
    hold: Duration,
    probes: usize,
    opened: &mut dyn FnMut(),
) -> Result<Outcome> {
    let limit = raise_fd_limit(clients as u64 + probes as u64 + 256);
    if (limit as usize) < clients + probes + 64 {
        return Err(fail(format!(
            "{clients} clients need as many sockets; the open-file limit is {limit} (ulimit -n)"
        )));
    }
    let mut crowd = Crowd::new(server, worker)?;
    let start = Instant::now();
    let rate = f64::from(rate.max(1));
    // Opening: at `rate`, until every one has an outcome (or 60 s after
    // the last was started).
    let deadline = start + Duration::from_secs_f64(clients as f64 / rate) + Duration::from_secs(60);
    let mut last_report = start;
    crowd.run(deadline, |c, now| {
        let due = ((now - start).as_secs_f64() * rate) as usize + 1;
        while c.clients.len() < due.min(clients) {
            c.open(false)?;
        }
        if now - last_report >= Duration::from_secs(5) {
            last_report = now;
            let up = c.clients.iter().filter(|x| x.connected.is_some()).count();
            eprintln!(
                "  {:>6.1} s: {} started, {up} connected",
                (now - start).as_secs_f64(),
                c.clients.len()
            );
        }
        Ok(c.clients.len() == clients
            && c.clients.iter().all(|x| x.connected.is_some() || x.failed))
    })?;
    opened();
    // Holding: idle, with a probe connect now and then.
    let hold_start = Instant::now();
    let probe_every = hold / (probes as u32 + 1);
    let mut probes_started = 0;
    crowd.run(hold_start + hold, |c, now| {
        if probes_started < probes && now - hold_start >= probe_every * (probes_started as u32 + 1)
        {
            probes_started += 1;
            c.open(true)?;
        }
        Ok(false)
    })?;
    let crowd_clients: Vec<&Client> = crowd.clients.iter().filter(|c| !c.probe).collect();
    Ok(Outcome {
        times: crowd_clients.iter().filter_map(|c| c.connected).collect(),
        failed: crowd_clients
            .iter()
            .filter(|c| c.connected.is_none())
            .count(),
        alive: crowd_clients
            .iter()
            .filter(|c| c.connected.is_some() && !c.failed && c.node.layer.is_connected())
            .count(),
        probes: crowd
            .clients
            .iter()
            .filter(|c| c.probe)
            .filter_map(|c| c.connected)
            .collect(),
        identity_time: crowd.identity_time,
    })
}

/// `rtmfp bench --crowd-worker`: one process's share of a crowd, its
/// outcome printed as lines for the coordinator ("opened" first, once
/// every client has an outcome).
pub fn worker(spec: CrowdSpec) -> Result<()> {
    let server = spec
        .server
        .ok_or_else(|| fail("--crowd-worker needs --server"))?;
    let outcome = drive(
        server,
        spec.worker_index,
        spec.clients,
        spec.rate,
        spec.hold,
        spec.probes,
        &mut || {
            println!("opened");
        },
    )?;
    outcome.print();
    Ok(())
}

/// Runs the crowd benchmark and prints its table.
pub fn run(spec: CrowdSpec) -> Result<()> {
    let (mut child, server, pid) = match spec.server {
        Some(addr) => (None, addr, spec.server_pid),
        None => {
            let (child, addr) = spawn_server()?;
            let pid = child.id();
            (Some(child), addr, Some(pid))
        }
    };
    let result = measure(&spec, server, pid);
    if let Some(c) = child.as_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
    result
}

/// Server samples: before, once every client has an outcome, after the
/// hold.
type Samples = (Option<ProcSample>, Option<ProcSample>, Option<ProcSample>);

fn measure(spec: &CrowdSpec, server: SocketAddr, pid: Option<u32>) -> Result<()> {
    let workers = spec.clients.div_ceil(spec.per_process.max(1)).max(1);
    if workers > 200 {
        return Err(fail(format!(
            "{workers} client processes: raise --per-process (at most 200 processes)"
        )));
    }
    eprintln!(
        "crowd: {} NetConnections to {server} at {}/s, {workers} client process(es) ...",
        spec.clients, spec.rate
    );
    let before = pid.and_then(sample);
    let start = Instant::now();
    let mut open_done = None;
    let mut all_open_after = Duration::ZERO;
    let outcome = if workers == 1 {
        drive(
            server,
            0,
            spec.clients,
            spec.rate,
            spec.hold,
            spec.probes,
            &mut || {
                all_open_after = start.elapsed();
                open_done = pid.and_then(sample);
            },
        )?
    } else {
        let (o, after) = coordinate(spec, server, workers, pid, &mut open_done)?;
        all_open_after = after;
        o
    };
    let held = pid.and_then(sample);
    report(
        spec,
        server,
        workers,
        all_open_after,
        outcome,
        (before, open_done, held),
    )
}

/// Runs `workers` worker processes; their merged outcome and when the
/// last had every client's outcome.
fn coordinate(
    spec: &CrowdSpec,
    server: SocketAddr,
    workers: usize,
    pid: Option<u32>,
    open_done: &mut Option<ProcSample>,
) -> Result<(Outcome, Duration)> {
    let exe = std::env::current_exe().map_err(|e| fail(format!("own executable: {e}")))?;
    let start = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel::<(usize, String)>();
    let mut children = Vec::new();
    for w in 0..workers {
        let share = spec.clients / workers + usize::from(w < spec.clients % workers);
        let rate = (spec.rate as usize / workers).max(1);
        let probes = if w == 0 { spec.probes } else { 0 };
        let mut child = Command::new(&exe)
            .args(["bench", "--crowd-worker", "--crowd"])
            .arg(share.to_string())
            .args(["--hold", &spec.hold.as_secs().to_string()])
            .args(["--rate", &rate.to_string()])
            .args(["--probes", &probes.to_string()])
            .args(["--server", &server.to_string()])
            .args(["--crowd-worker-index", &w.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| fail(format!("cannot start a client process: {e}")))?;
        let stdout = child.stdout.take().expect("piped");
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if tx.send((w, line)).is_err() {
                    break;
                }
            }
        });
        children.push(child);
    }
    drop(tx);
    let mut outcome = Outcome::default();
    let mut opened = 0;
    let mut all_open_after = Duration::ZERO;
    for (_, line) in rx {
        if line == "opened" {
            opened += 1;
            if opened == workers {
                all_open_after = start.elapsed();
                *open_done = pid.and_then(sample);
            }
        } else {
            outcome.add_line(&line);
        }
    }
    let mut failed = 0;
    for mut c in children {
        if !c.wait().is_ok_and(|s| s.success()) {
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(fail(format!(
            "{failed} of {workers} client processes failed (see above)"
        )));
    }
    Ok((outcome, all_open_after))
}

fn report(
    spec: &CrowdSpec,
    server: SocketAddr,
    workers: usize,
    all_open_after: Duration,
    mut outcome: Outcome,
    (before, open_done, held): Samples,
) -> Result<()> {
    let n = spec.clients;
    outcome.times.sort();
    outcome.probes.sort();
    let (times, probe_times) = (&outcome.times, &outcome.probes);
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    println!(
        "rtmfp bench --crowd: {n} Flash NetConnections to {server}, held idle {} s",
        spec.hold.as_secs()
    );
    println!("| measure | value |");
    println!("| --- | --- |");
    println!(
        "| connected | {} of {n} ({} failed) |",
        times.len(),
        outcome.failed
    );
    println!("| all open after | {:.1} s |", all_open_after.as_secs_f64());
    println!(
        "| open p50 / p99 / max | {} / {} / {} |",
        ms(percentile(times, 0.5)),
        ms(percentile(times, 0.99)),
        ms(times.last().copied().unwrap_or_default())
    );
    println!("| alive after the hold | {} |", outcome.alive);
    println!(
        "| probe connects while idle (p50 / p99 / max of {}) | {} / {} / {} |",
        probe_times.len(),
        ms(percentile(probe_times, 0.5)),
        ms(percentile(probe_times, 0.99)),
        ms(probe_times.last().copied().unwrap_or_default())
    );
    match (before, open_done, held) {
        (Some(b), Some(o), Some(h)) => {
            let idle_cpu = h.cpu - o.cpu;
            println!("| server CPU while opening | {:.2} s |", o.cpu - b.cpu);
            println!(
                "| server CPU while idle | {:.2} s per {} s ({:.1} % of a core) |",
                idle_cpu,
                spec.hold.as_secs(),
                100.0 * idle_cpu / spec.hold.as_secs_f64()
            );
            println!(
                "| server memory | {:.1} MB before, {:.1} MB held: {:.1} KB per session |",
                b.rss as f64 / 1e6,
                h.rss as f64 / 1e6,
                (h.rss.saturating_sub(b.rss)) as f64 / 1e3 / n.max(1) as f64
            );
        }
        _ => println!("| server CPU and memory | not measured (give --server-pid) |"),
    }
    println!(
        "| client side | {workers} process(es), one thread each; identities took {:.1} s |",
        outcome.identity_time.as_secs_f64()
    );
    if times.len() < n {
        return Err(fail(format!(
            "{} of {n} NetConnections did not connect",
            n - times.len()
        )));
    }
    Ok(())
}
