//! `rtmfp bench --crowd N`: N Flash NetConnections against one server,
//! held idle, and what that costs the server.
//!
//! The clients run sans-IO in this process, on one thread (a
//! [`Swarm`](crate::swarm::Swarm), shared with `--fanout`): each is an
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
use crate::swarm::{
    fit_sockets, percentile, LoadOptions, ProcSample, Role, ServerUnderTest, Swarm, Workers,
};
use std::net::SocketAddr;
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
    /// The clients' and the server child's options.
    pub options: LoadOptions,
}

/// A crowd member: idle once connected; a probe connects while the
/// crowd is idle.
struct Crowd {
    probe: bool,
}

impl Role for Crowd {}

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
/// holds them `hold` with `probes` probe connects, calls `held` (before
/// anything is closed: closing is not idle work), and says what it saw.
#[allow(clippy::too_many_arguments)]
fn drive(
    server: SocketAddr,
    worker: u8,
    clients: usize,
    rate: u32,
    hold: Duration,
    probes: usize,
    options: &LoadOptions,
    opened: &mut dyn FnMut(),
    held: &mut dyn FnMut(),
) -> Result<Outcome> {
    fit_sockets(clients + probes)?;
    let mut crowd = Swarm::<Crowd>::new(server, worker, "crowd", options)?;
    let start = Instant::now();
    let rate = f64::from(rate.max(1));
    // Opening: at `rate`, until every one has an outcome (or 60 s after
    // the last was started).
    let deadline = start + Duration::from_secs_f64(clients as f64 / rate) + Duration::from_secs(60);
    let mut last_report = start;
    crowd.run(deadline, |c, now| {
        let due = ((now - start).as_secs_f64() * rate) as usize + 1;
        while c.members.len() < due.min(clients) {
            c.open(Crowd { probe: false }, |_, _, _, _| Ok(()))?;
        }
        if now - last_report >= Duration::from_secs(5) {
            last_report = now;
            let up = c.members.iter().filter(|x| x.connected.is_some()).count();
            eprintln!(
                "  {:>6.1} s: {} started, {up} connected",
                (now - start).as_secs_f64(),
                c.members.len()
            );
        }
        Ok(c.members.len() == clients
            && c.members.iter().all(|x| x.connected.is_some() || x.failed))
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
            c.open(Crowd { probe: true }, |_, _, _, _| Ok(()))?;
        }
        Ok(false)
    })?;
    held();
    let crowd_clients: Vec<_> = crowd.members.iter().filter(|c| !c.role.probe).collect();
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
            .members
            .iter()
            .filter(|c| c.role.probe)
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
        &spec.options,
        &mut || println!("opened"),
        &mut || println!("held"),
    )?;
    outcome.print();
    Ok(())
}

/// Runs the crowd benchmark and prints its table.
pub fn run(spec: CrowdSpec) -> Result<()> {
    let server = ServerUnderTest::new(spec.server, spec.server_pid, &spec.options)?;
    measure(&spec, &server)
}

/// A sample of the server and when it was taken.
type Timed = Option<(ProcSample, Instant)>;

/// Server samples: before, once every client has an outcome, at the end
/// of the hold (before the clients close).
type Samples = (Option<ProcSample>, Timed, Timed);

/// The server now, with the time.
fn timed(sut: &ServerUnderTest) -> Timed {
    sut.sample().map(|s| (s, Instant::now()))
}

fn measure(spec: &CrowdSpec, sut: &ServerUnderTest) -> Result<()> {
    let server = sut.addr;
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
    let before = sut.sample();
    let start = Instant::now();
    let mut open_done = None;
    let mut held = None;
    let mut all_open_after = Duration::ZERO;
    let outcome = if workers == 1 {
        drive(
            server,
            0,
            spec.clients,
            spec.rate,
            spec.hold,
            spec.probes,
            &spec.options,
            &mut || {
                all_open_after = start.elapsed();
                open_done = timed(sut);
            },
            &mut || held = timed(sut),
        )?
    } else {
        let (o, after) = coordinate(spec, sut, workers, &mut open_done, &mut held)?;
        all_open_after = after;
        o
    };
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
/// last had every client's outcome.  The server is sampled when the last
/// one has every outcome (`open_done`) and when the last one's hold ends
/// (`held`).
fn coordinate(
    spec: &CrowdSpec,
    sut: &ServerUnderTest,
    workers: usize,
    open_done: &mut Timed,
    held: &mut Timed,
) -> Result<(Outcome, Duration)> {
    let start = Instant::now();
    let procs = Workers::spawn(workers, spec.clients, false, |w, share| {
        let rate = (spec.rate as usize / workers).max(1);
        let probes = if w == 0 { spec.probes } else { 0 };
        [
            "bench",
            "--crowd-worker",
            "--crowd",
            &share.to_string(),
            "--hold",
            &spec.hold.as_secs().to_string(),
            "--rate",
            &rate.to_string(),
            "--probes",
            &probes.to_string(),
            "--server",
            &sut.addr.to_string(),
            "--crowd-worker-index",
            &w.to_string(),
        ]
        .map(String::from)
        .into_iter()
        .chain(spec.options.client_args())
        .collect()
    })?;
    let mut outcome = Outcome::default();
    let (mut opened, mut holds_ended) = (0, 0);
    let mut all_open_after = Duration::ZERO;
    for (_, line) in procs.lines.iter() {
        if line == "opened" {
            opened += 1;
            if opened == workers {
                all_open_after = start.elapsed();
                *open_done = timed(sut);
            }
        } else if line == "held" {
            holds_ended += 1;
            if holds_ended == workers {
                *held = timed(sut);
            }
        } else {
            outcome.add_line(&line);
        }
    }
    procs.wait()?;
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
        (Some(b), Some((o, opened_at)), Some((h, held_at))) => {
            let idle_cpu = h.cpu - o.cpu;
            let window = held_at.duration_since(opened_at).as_secs_f64();
            println!("| server CPU while opening | {:.2} s |", o.cpu - b.cpu);
            println!(
                "| server CPU while idle | {:.2} s per {:.1} s ({:.1} % of a core) |",
                idle_cpu,
                window,
                100.0 * idle_cpu / window.max(1e-3)
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
