//! `rtmfp bench --flood K`: K established Flash NetConnections keep
//! making round trips to a server while a flood of valid handshakes from
//! many addresses makes it do Diffie-Hellman work (issue 14: a handshake
//! flood must not starve the I/O thread nor the established sessions).
//!
//! - The established sessions are a [`Swarm`] on 127.0.0.1: each calls
//!   the server's `checkInfo` command (which it answers at once) every
//!   [`CALL_INTERVAL`], one call outstanding at a time; a call unanswered
//!   after [`CALL_TIMEOUT`] is lost, and the next one starts.
//! - The flood runs on its own thread from `--flood-sources` loopback
//!   addresses (127.0.0.2, 127.0.0.3, ...), `--flood-per-source` sockets
//!   each.  Each socket is a sans-IO `Endpoint` with the identity of its
//!   address, and loops: IHello → RHello → IIKeying (a valid one, so the
//!   server has to do the Diffie-Hellman work), then waits for the
//!   RIKeying without processing it (the handshake is abandoned; no
//!   Diffie-Hellman work on this side), and starts again.  A step
//!   unanswered after [`FLOOD_TIMEOUT`] starts again too.
//! - Three phases: baseline (no flood), flood, after.  Per phase: the
//!   round trips' latency, how many completed and were lost, the flood's
//!   IIKeyings sent and answered per second, and the server's CPU.
//!
//! With the default server (an `rtmfp server` child), the server's own
//! keying counters (jobs queued, done, and IIKeyings dropped because the
//! queue was full or their source busy) come from the totals line it
//! prints when it stops.

use crate::common::{fail, Result};
use crate::swarm::{
    fit_sockets, machine_cpu, percentile, LoadOptions, ProcSample, Role, ServerUnderTest, Swarm,
};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use rtmfp_core::crypto::flash::epd::epd_for_uri;
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile};
use rtmfp_core::endpoint::{Endpoint, EndpointConfig, SessionHandle};
use rtmfp_core::flash::client::ClientEvent;
use rtmfp_core::rendezvous::CHECK_INFO;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How often each established session starts a round trip.
pub const CALL_INTERVAL: Duration = Duration::from_millis(10);
/// A round trip unanswered this long is lost.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(1);
/// A flood handshake step unanswered this long starts again.
pub const FLOOD_TIMEOUT: Duration = Duration::from_secs(1);

/// What to run.
#[derive(Debug, Clone)]
pub struct FloodSpec {
    /// Established NetConnections making round trips.
    pub clients: usize,
    /// Seconds of round trips before the flood (and after it).
    pub baseline: Duration,
    /// Seconds of flood.
    pub flood: Duration,
    /// Flood source addresses (127.0.0.2 and up, at most 249).
    pub sources: usize,
    /// Flood sockets per source address: handshakes in flight per
    /// address.
    pub per_source: usize,
    /// The DH group of the flood's certificates (the server keys in it).
    pub group: u64,
    /// The server; `None` starts `rtmfp server` on loopback.
    pub server: Option<SocketAddr>,
    /// The server's process ID, for its CPU.
    pub server_pid: Option<u32>,
    /// The clients' and the server child's options.
    pub options: LoadOptions,
}

/// An established session's round trips.
#[derive(Default)]
struct Caller {
    /// The outstanding call: its transaction ID and when it was made.
    outstanding: Option<(f64, Instant)>,
    /// When to make the next call.
    next: Option<Instant>,
    /// Completed round trips: when each was made, and how long it took.
    done: Vec<(Instant, Duration)>,
    /// When each lost call was made.
    lost: Vec<Instant>,
}

impl Role for Caller {
    fn on_event(&mut self, event: ClientEvent, now: Instant) {
        if let ClientEvent::CallResult { transaction_id, .. } = event {
            if let Some((txn, sent)) = self.outstanding {
                if txn == transaction_id {
                    self.done.push((sent, now - sent));
                    self.outstanding = None;
                }
            }
        }
    }
}

/// The flood's counters.
#[derive(Debug, Default, Clone, Copy)]
struct FloodCounts {
    /// IHellos sent.
    ihellos: u64,
    /// IIKeyings sent (each after an RHello).
    iikeyings: u64,
    /// Answers to IIKeyings: the first datagram after one.
    answered: u64,
    /// Steps that timed out.
    timeouts: u64,
}

/// Control of the flood thread.
const WAIT: u8 = 0;
const GO: u8 = 1;
const STOP: u8 = 2;

/// Where one flood socket is in its handshake.
enum Step {
    Idle,
    AwaitRHello(SessionHandle, Instant),
    AwaitRIKeying(Instant),
}

struct FloodSocket {
    socket: UdpSocket,
    local: SocketAddr,
    endpoint: Endpoint,
    step: Step,
}

/// The flood's sockets, ready to go.
struct Flood {
    poll: Poll,
    sockets: Vec<FloodSocket>,
    server: SocketAddr,
    epd: Vec<u8>,
    counts: FloodCounts,
    buf: Vec<u8>,
}

impl Flood {
    /// One identity per source address, `per_source` sockets each.
    fn new(server: SocketAddr, sources: usize, per_source: usize, group: u64) -> Result<Flood> {
        let poll = Poll::new().map_err(|e| fail(format!("poll: {e}")))?;
        let now = Instant::now();
        let mut sockets = Vec::new();
        for s in 0..sources {
            let ip = Ipv4Addr::new(127, 0, 0, 2 + s as u8);
            let crypto: Arc<dyn CryptoProfile> = Arc::new(
                FlashProfile::generate(FlashConfig {
                    groups: vec![group],
                    ..FlashConfig::client()
                })
                .map_err(|e| fail(format!("flood identity: {e}")))?,
            );
            for _ in 0..per_source {
                let mut socket = UdpSocket::bind(SocketAddr::from((ip, 0)))
                    .map_err(|e| fail(format!("flood socket on {ip}: {e}")))?;
                let local = socket.local_addr().map_err(|e| fail(e.to_string()))?;
                poll.registry()
                    .register(&mut socket, Token(sockets.len()), Interest::READABLE)
                    .map_err(|e| fail(format!("poll register: {e}")))?;
                sockets.push(FloodSocket {
                    socket,
                    local,
                    endpoint: Endpoint::new(EndpointConfig::default(), crypto.clone(), now),
                    step: Step::Idle,
                });
            }
        }
        Ok(Flood {
            poll,
            sockets,
            server,
            epd: epd_for_uri(&format!("rtmfp://{server}/flood"), None),
            counts: FloodCounts::default(),
            buf: Vec::with_capacity(2048),
        })
    }

    /// Sends what socket `i`'s endpoint has queued; how many datagrams.
    fn flush(&mut self, i: usize, now: Instant) -> usize {
        let s = &mut self.sockets[i];
        let mut n = 0;
        while let Some(t) = s.endpoint.poll_transmit(now, &mut self.buf) {
            let _ = s.socket.send_to(&self.buf, t.destination);
            n += 1;
        }
        while s.endpoint.poll_event().is_some() {}
        n
    }

    /// Starts a new handshake on socket `i` (IHello).
    fn start(&mut self, i: usize, now: Instant) {
        let s = &mut self.sockets[i];
        match s.endpoint.connect(now, self.epd.clone(), &[self.server]) {
            Ok(h) => {
                s.step = Step::AwaitRHello(h, now);
                self.counts.ihellos += 1;
                self.flush(i, now);
            }
            Err(_) => s.step = Step::Idle,
        }
    }

    /// A datagram for socket `i`.
    fn on_datagram(&mut self, i: usize, now: Instant, from: SocketAddr, d: &[u8]) {
        let s = &mut self.sockets[i];
        match s.step {
            Step::AwaitRHello(handle, _) => {
                let local = s.local;
                s.endpoint.handle_datagram(now, local, from, d);
                if self.flush(i, now) > 0 {
                    // The RHello was answered with the IIKeying: abandon
                    // the opening, so that the RIKeying is never keyed
                    // here.
                    let s = &mut self.sockets[i];
                    let _ = s.endpoint.close(now, handle, false);
                    while s.endpoint.poll_event().is_some() {}
                    s.step = Step::AwaitRIKeying(now);
                    self.counts.iikeyings += 1;
                }
            }
            Step::AwaitRIKeying(_) => {
                // The RIKeying (sent to the initiator's session ID, so not
                // told apart from other packets without decrypting it).
                self.counts.answered += 1;
                self.start(i, now);
            }
            _ => {}
        }
    }

    /// Runs until `control` says stop; starts when it says go.
    fn run(&mut self, control: &AtomicU8) -> Result<FloodCounts> {
        while control.load(Ordering::Relaxed) == WAIT {
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut events = Events::with_capacity(1024);
        let mut recv = vec![0u8; 65536];
        let mut last_scan = Instant::now() - Duration::from_secs(1);
        while control.load(Ordering::Relaxed) == GO {
            self.poll
                .poll(&mut events, Some(Duration::from_millis(1)))
                .map_err(|e| fail(format!("poll: {e}")))?;
            let now = Instant::now();
            for ev in events.iter() {
                let i = ev.token().0;
                while let Ok((n, from)) = self.sockets[i].socket.recv_from(&mut recv) {
                    self.on_datagram(i, now, from, &recv[..n]);
                }
            }
            if now - last_scan >= Duration::from_millis(10) {
                last_scan = now;
                for i in 0..self.sockets.len() {
                    match self.sockets[i].step {
                        Step::Idle => self.start(i, now),
                        Step::AwaitRHello(h, t) if now - t >= FLOOD_TIMEOUT => {
                            let _ = self.sockets[i].endpoint.close(now, h, false);
                            self.counts.timeouts += 1;
                            self.start(i, now);
                        }
                        Step::AwaitRIKeying(t) if now - t >= FLOOD_TIMEOUT => {
                            self.counts.timeouts += 1;
                            self.start(i, now);
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(self.counts)
    }
}

/// Samples at a phase boundary.
#[derive(Clone, Copy)]
struct Mark {
    at: Instant,
    server: Option<ProcSample>,
    /// CPU seconds of the server's I/O thread and of its keying workers.
    threads: Option<(f64, f64)>,
    machine: Option<(f64, f64)>,
}

impl Mark {
    fn now(sut: &ServerUnderTest) -> Mark {
        Mark {
            at: Instant::now(),
            server: sut.sample(),
            threads: sut.pid.and_then(server_threads),
            machine: machine_cpu(),
        }
    }
}

/// CPU seconds of process `pid`'s `rtmfp-io` thread and of its
/// `rtmfp-keying-*` threads, from `/proc/PID/task`.
fn server_threads(pid: u32) -> Option<(f64, f64)> {
    let (mut io, mut keying) = (0.0, 0.0);
    let mut found = false;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let path = task.path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        let Some(cpu) = std::fs::read_to_string(path.join("stat"))
            .ok()
            .and_then(|s| thread_cpu(&s))
        else {
            continue;
        };
        match comm.trim() {
            "rtmfp-io" => {
                io += cpu;
                found = true;
            }
            c if c.starts_with("rtmfp-keying") => keying += cpu,
            _ => {}
        }
    }
    found.then_some((io, keying))
}

/// User plus system CPU seconds from a `/proc/.../stat` line.
fn thread_cpu(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    Some(ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64)
}

/// Runs the flood benchmark and prints its table.
pub fn run(spec: FloodSpec) -> Result<()> {
    if spec.sources == 0 || spec.sources > 249 {
        return Err(fail("--flood-sources: 1 to 249 (127.0.0.2 to 127.0.0.250)"));
    }
    if spec.clients == 0 {
        return Err(fail("--flood: at least one established NetConnection"));
    }
    let mut sut = ServerUnderTest::new(spec.server, spec.server_pid, &spec.options)?;
    let server = sut.addr;
    if !matches!(server, SocketAddr::V4(a) if a.ip().is_loopback()) {
        return Err(fail(
            "--flood sends from 127.0.0.x: the server must be on loopback",
        ));
    }
    fit_sockets(spec.clients + spec.sources * spec.per_source)?;

    // The flood's sockets and identities first, so that making them does
    // not weigh on the baseline.
    eprintln!(
        "flood: {} identities, {} sockets ...",
        spec.sources,
        spec.sources * spec.per_source
    );
    let control = Arc::new(AtomicU8::new(WAIT));
    let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
    let flood_thread = {
        let control = control.clone();
        let (sources, per_source, group) = (spec.sources, spec.per_source, spec.group);
        std::thread::Builder::new()
            .name("flood".into())
            .spawn(move || -> Result<FloodCounts> {
                let mut flood = match Flood::new(server, sources, per_source, group) {
                    Ok(f) => {
                        let _ = ready_tx.send(Ok(()));
                        f
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(fail(e.to_string())));
                        return Err(e);
                    }
                };
                flood.run(&control)
            })
            .map_err(|e| fail(format!("cannot start a thread: {e}")))?
    };
    // Stops the flood thread however this function ends.
    struct StopOnDrop(Arc<AtomicU8>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(STOP, Ordering::Relaxed);
        }
    }
    let _stop = StopOnDrop(control.clone());
    ready_rx
        .recv()
        .map_err(|_| fail("the flood thread died"))??;

    // The established sessions.
    eprintln!("flood: {} NetConnections to {server} ...", spec.clients);
    let mut swarm = Swarm::<Caller>::new(server, 0, "flood", &spec.options)?;
    for _ in 0..spec.clients {
        swarm.open(Caller::default(), |_, _, _, _| Ok(()))?;
    }
    swarm.run(Instant::now() + Duration::from_secs(30), |c, _| {
        Ok(c.members.iter().all(|m| m.connected.is_some() || m.failed))
    })?;
    let up = swarm
        .members
        .iter()
        .filter(|m| m.connected.is_some())
        .count();
    if up < spec.clients {
        return Err(fail(format!(
            "{} of {} NetConnections did not connect",
            spec.clients - up,
            spec.clients
        )));
    }

    // Baseline, flood, after.
    let lengths = [spec.baseline, spec.flood, spec.baseline];
    let mut marks = vec![Mark::now(&sut)];
    let start = marks[0].at;
    let ends = [
        start + lengths[0],
        start + lengths[0] + lengths[1],
        start + lengths[0] + lengths[1] + lengths[2],
    ];
    let mut phase = 0;
    let mut flood_counts = None;
    let mut flood_thread = Some(flood_thread);
    eprintln!(
        "flood: baseline {:.0} s, flood {:.0} s from {} addresses, after {:.0} s ...",
        lengths[0].as_secs_f64(),
        lengths[1].as_secs_f64(),
        spec.sources,
        lengths[2].as_secs_f64()
    );
    let mut step_err = None;
    swarm.run(ends[2] + CALL_TIMEOUT, |c, now| {
        if phase < 3 && now >= ends[phase] {
            marks.push(Mark::now(&sut));
            phase += 1;
            match phase {
                1 => control.store(GO, Ordering::Relaxed),
                2 => {
                    control.store(STOP, Ordering::Relaxed);
                    match flood_thread.take().map(|t| t.join()) {
                        Some(Ok(Ok(counts))) => flood_counts = Some(counts),
                        Some(Ok(Err(e))) => step_err = Some(e),
                        _ => step_err = Some(fail("the flood thread died")),
                    }
                }
                _ => {}
            }
        }
        for i in 0..c.members.len() {
            let role = &mut c.members[i].role;
            if let Some((_, sent)) = role.outstanding {
                if now - sent >= CALL_TIMEOUT {
                    role.lost.push(sent);
                    role.outstanding = None;
                }
            }
            if phase >= 3 || role.outstanding.is_some() || role.next.is_some_and(|t| now < t) {
                continue;
            }
            role.next = Some(now + CALL_INTERVAL);
            let made = c.with(i, now, |_, client, ep, now| {
                client.call(ep, now, CHECK_INFO, Vec::new())
            });
            if let Ok(txn) = made {
                c.members[i].role.outstanding = Some((txn, now));
            }
        }
        // Done once the last phase's calls are answered or lost.
        Ok(phase >= 3 && c.members.iter().all(|m| m.role.outstanding.is_none()))
    })?;
    if let Some(e) = step_err {
        return Err(e);
    }
    while marks.len() < 4 {
        marks.push(Mark::now(&sut));
    }
    let totals = sut.stop();
    report(
        &spec,
        server,
        &swarm,
        &marks,
        flood_counts.unwrap_or_default(),
        totals,
    )
}

/// The fields of the server's totals line that concern keying.
fn keying_totals(totals: &str) -> Option<String> {
    let at = totals.find("keying ")?;
    let rest = &totals[at..];
    let end = [", closed", ", some"]
        .iter()
        .filter_map(|e| rest.find(e))
        .min()
        .unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

fn report(
    spec: &FloodSpec,
    server: SocketAddr,
    swarm: &Swarm<Caller>,
    marks: &[Mark],
    flood: FloodCounts,
    totals: Option<String>,
) -> Result<()> {
    let names = ["baseline", "flood", "after"];
    let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1e3);
    println!(
        "rtmfp bench --flood: {} established Flash NetConnections to {server} \
         (a checkInfo call every {} ms each), flood of valid IIKeyings (DH group {}) \
         from {} addresses x {} sockets",
        spec.clients,
        CALL_INTERVAL.as_millis(),
        spec.group,
        spec.sources,
        spec.per_source
    );
    println!(
        "| phase | secs | RTT p50 / p99 / max (ms) | round trips/s | lost | \
         IIKeyings sent/s | answered/s | server CPU % (I/O thread / keying) | machine CPU % |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for p in 0..3 {
        let (from, to) = (marks[p], marks[p + 1]);
        let secs = (to.at - from.at).as_secs_f64().max(1e-9);
        let in_phase = |t: Instant| t >= from.at && t < to.at;
        let mut rtts: Vec<Duration> = swarm
            .members
            .iter()
            .flat_map(|m| m.role.done.iter())
            .filter(|(t, _)| in_phase(*t))
            .map(|(_, d)| *d)
            .collect();
        rtts.sort();
        let lost = swarm
            .members
            .iter()
            .flat_map(|m| m.role.lost.iter())
            .filter(|t| in_phase(**t))
            .count();
        let (sent, answered) = if p == 1 {
            (
                format!("{:.0}", flood.iikeyings as f64 / secs),
                format!("{:.0}", flood.answered as f64 / secs),
            )
        } else {
            ("0".into(), "0".into())
        };
        let mut server_cpu = match (from.server, to.server) {
            (Some(a), Some(b)) => format!("{:.0}", 100.0 * (b.cpu - a.cpu) / secs),
            _ => "-".into(),
        };
        if let (Some((io0, k0)), Some((io1, k1))) = (from.threads, to.threads) {
            server_cpu.push_str(&format!(
                " ({:.0} / {:.0})",
                100.0 * (io1 - io0) / secs,
                100.0 * (k1 - k0) / secs
            ));
        }
        let machine = match (from.machine, to.machine) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
                format!("{:.0}", 100.0 * (b1 - b0) / (t1 - t0))
            }
            _ => "-".into(),
        };
        println!(
            "| {} | {secs:.1} | {} / {} / {} | {:.0} | {lost} | {sent} | {answered} | {server_cpu} | {machine} |",
            names[p],
            ms(percentile(&rtts, 0.5)),
            ms(percentile(&rtts, 0.99)),
            ms(rtts.last().copied().unwrap_or_default()),
            rtts.len() as f64 / secs,
        );
    }
    println!(
        "flood: {} IHellos, {} IIKeyings, {} answered, {} steps timed out",
        flood.ihellos, flood.iikeyings, flood.answered, flood.timeouts
    );
    match totals.as_deref().and_then(keying_totals) {
        Some(k) => println!("server: {k}"),
        None => println!("server: keying counters not reachable (only with the default server)"),
    }
    // The verdict: every session completed round trips all through the
    // flood, and none was lost.
    let (f0, f1) = (marks[1].at, marks[2].at);
    let mut worst_gap = Duration::ZERO;
    let mut lost_in_flood = 0;
    let mut silent = 0;
    for m in &swarm.members {
        let mut times: Vec<Instant> = m
            .role
            .done
            .iter()
            .map(|(t, d)| *t + *d)
            .filter(|t| *t >= f0 && *t < f1)
            .collect();
        times.sort();
        if times.is_empty() {
            silent += 1;
        }
        let mut prev = f0;
        for t in times.iter().copied().chain(std::iter::once(f1)) {
            worst_gap = worst_gap.max(t - prev);
            prev = t;
        }
        lost_in_flood += m.role.lost.iter().filter(|t| **t >= f0 && **t < f1).count();
    }
    let flowing = silent == 0 && lost_in_flood == 0;
    println!(
        "verdict: {} (during the flood: {} of {} sessions completed round trips, {lost_in_flood} \
         round trips lost, longest gap between a session's round trips {} ms)",
        if flowing {
            "established sessions kept flowing"
        } else {
            "established sessions STALLED"
        },
        swarm.members.len() - silent,
        swarm.members.len(),
        ms(worst_gap)
    );
    if flood.iikeyings == 0 {
        return Err(fail("the flood sent no IIKeying"));
    }
    if !flowing {
        return Err(fail("established sessions stalled during the flood"));
    }
    Ok(())
}
