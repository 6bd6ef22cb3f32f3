//! `rtmfp bench`: sender and receiver runtimes in one process over
//! loopback, and a table of what they did.
//!
//! - **Throughput**: one session, one flow, `--bytes` in `--size`
//!   messages into a sink, with the Flash profile's crypto; MB/s from the
//!   first message queued to the last write receipt.
//! - **CPU seconds per GB**: the whole process's user+system time
//!   (`getrusage`) over the transfer, so both ends together.
//! - **Handshakes per second** against one server, per DH group: the
//!   server has a fresh ephemeral key per handshake (RFC 7425 §5.3);
//!   `--sessions` client runtimes, each its own identity with static DH
//!   keys, open, close and reopen sessions one at a time, so there is
//!   never more than one session per pair of identities (RFC 7016
//!   §3.5.1).
//! - **RTT**: a ping-pong of small messages through an echo server (the
//!   `rtmfp echo` code) measured by the application, and the session's
//!   smoothed RTT.

use crate::common::{
    fail, identity, install_signal_handlers, parse_bytes, parse_duration, parse_group,
    parse_message_size, parse_rate, runtime_config, stop_requested, CliError, CpuTime, Result,
    SecurityArgs, RECV_BUFFER,
};
use crate::echo::EchoServer;
use crate::send::{transfer, wait_open, Amount, EchoMode, Spec};
use crate::swarm::LoadOptions;
use clap::Args;
use rtmfp_core::crypto::flash::epd::epd_for_fingerprint;
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, PeerId};
use rtmfp_core::endpoint::{Event, SessionHandle};
use rtmfp_core::flow::{MessageOptions, Priority};
use rtmfp_core::runtime::{Handle, Runtime};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Benchmark over loopback: throughput, CPU per GB, handshakes per
/// second and RTT, printed as a table.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Bytes to move through one flow (K/M/G suffixes: 2^10, 2^20, 2^30).
    #[arg(long, value_name = "N", value_parser = parse_bytes, default_value = "64M")]
    pub bytes: u64,
    /// Message size for the throughput test.
    #[arg(long, value_name = "BYTES", value_parser = parse_message_size, default_value = "16K")]
    pub size: usize,
    /// Handshakes to time per DH group (0: skip).
    #[arg(long, value_name = "N", default_value = "200")]
    pub handshakes: u64,
    /// DH group for the handshake test: 2, 5, 14 or 16; repeat for
    /// several.
    #[arg(long = "group", value_name = "G", value_parser = parse_group,
          default_values = ["14", "2"])]
    pub groups: Vec<u64>,
    /// Concurrent client identities (one runtime each) opening sessions
    /// in the handshake test.
    #[arg(long, value_name = "N", default_value = "8",
          value_parser = clap::value_parser!(u64).range(1..=256))]
    pub sessions: u64,
    /// Round trips in the ping-pong RTT test.
    #[arg(long, value_name = "N", default_value = "1000",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub pings: u64,
    /// Crowd mode: open N Flash NetConnections against one server (see
    /// --server), hold them idle for --hold seconds, and report open
    /// times, probe connects while idle, and the server's CPU and memory
    /// per session.  The other tests are skipped.
    #[arg(long, value_name = "N")]
    pub crowd: Option<usize>,
    /// Crowd mode: seconds to hold the crowd idle.
    #[arg(long, value_name = "SECS", default_value = "30")]
    pub hold: u64,
    /// Crowd and fan-out modes: new connects per second.
    #[arg(long, value_name = "N", default_value = "1000")]
    pub rate: u32,
    /// Crowd and fan-out modes: the server to test (any RTMFP server);
    /// default an `rtmfp server` started on loopback.
    #[arg(long, value_name = "ADDR")]
    pub server: Option<std::net::SocketAddr>,
    /// Crowd and fan-out modes: the process ID of --server, to read its
    /// CPU time and memory from /proc.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// Crowd mode: probe connects made one at a time while the crowd is
    /// idle.
    #[arg(long, value_name = "N", default_value = "20")]
    pub probes: usize,
    /// Crowd and fan-out modes: clients per client process (each needs
    /// that many sockets under its open-file limit).
    #[arg(long, value_name = "N", default_value = "15000")]
    pub per_process: usize,
    /// Crowd mode, internal: be one client process of a larger crowd.
    #[arg(long, hide = true, requires = "crowd")]
    pub crowd_worker: bool,
    /// Crowd and fan-out modes, internal: which client process.
    #[arg(long, hide = true, default_value = "0")]
    pub crowd_worker_index: u8,
    /// Fan-out mode: one publisher sends a synthetic stream through the
    /// server (see --server) to N players; report delivery, loss,
    /// latency, and the server's CPU per delivered Gbit.  The other tests
    /// are skipped.
    #[arg(long, value_name = "N", conflicts_with = "crowd")]
    pub fanout: Option<usize>,
    /// Fan-out mode: the stream's payload bit rate (k, M: decimal).
    #[arg(long, value_name = "RATE", value_parser = parse_rate, default_value = "1M")]
    pub bitrate: f64,
    /// Fan-out mode: video frames per second.
    #[arg(long, value_name = "N", default_value = "30",
          value_parser = clap::value_parser!(u32).range(1..=240))]
    pub fps: u32,
    /// Fan-out mode: seconds of steady streaming measured.
    #[arg(long, value_name = "SECS", value_parser = parse_duration, default_value = "20")]
    pub duration: Duration,
    /// Fan-out mode: seconds of streaming before the measured window,
    /// once every player plays.
    #[arg(long, value_name = "SECS", value_parser = parse_duration, default_value = "3")]
    pub warmup: Duration,
    /// Fan-out mode: run N = 50, 100, 200, ... up to --fanout N (a fresh
    /// server each) until quality drops (twice in a row at one N), a row per run.
    #[arg(long, requires = "fanout")]
    pub sweep: bool,
    /// Fan-out mode, internal: be one client process of the players.
    #[arg(long, hide = true, requires = "fanout")]
    pub fanout_worker: bool,
    /// Fan-out mode, internal: the stream the players play.
    #[arg(long, hide = true)]
    pub fanout_stream: Option<String>,
    /// Flood mode: N established Flash NetConnections make round trips
    /// (a checkInfo call every 10 ms each) to the server (see --server)
    /// before, during and after a flood of valid IIKeyings from many
    /// loopback addresses; report their latency, the flood's rate and
    /// the server's CPU per phase.  The other tests are skipped.
    #[arg(long, value_name = "N", conflicts_with_all = ["crowd", "fanout"])]
    pub flood: Option<usize>,
    /// Flood mode: seconds of round trips before the flood (and after).
    #[arg(long, value_name = "SECS", value_parser = parse_duration, default_value = "5")]
    pub baseline: Duration,
    /// Flood mode: seconds of flood.
    #[arg(long, value_name = "SECS", value_parser = parse_duration, default_value = "10")]
    pub flood_duration: Duration,
    /// Flood mode: source addresses of the flood, 127.0.0.2 and up (at
    /// most 249).
    #[arg(long, value_name = "N", default_value = "200")]
    pub flood_sources: usize,
    /// Flood mode: sockets per source address, each with one handshake
    /// in flight.
    #[arg(long, value_name = "N", default_value = "5")]
    pub flood_per_source: usize,
    /// Flood mode: the DH group of the flood's certificates (2, 5, 14 or
    /// 16), so the server's keying cost per IIKeying: 2 (1024 bits, as
    /// Flash Player) is the cheapest, 16 (4096 bits) the dearest.
    #[arg(long, value_name = "G", value_parser = parse_group, default_value = "2")]
    pub flood_group: u64,
    /// Crowd, fan-out and flood modes: an option of the clients'
    /// NetConnections, NAME=VALUE (repeatable), as `rtmfp check` takes
    /// them, e.g. keepalive_interval=5s or hmac_policy=required.
    /// `--option help` lists the names.
    #[arg(long = "option", short = 'o', value_name = "NAME=VALUE")]
    pub option: Vec<String>,
    /// Crowd, fan-out and flood modes: an option of the `rtmfp server`
    /// the benchmark starts, NAME=VALUE (repeatable), as `rtmfp server
    /// --option` takes them; not with --server.  `--server-option help`
    /// lists the names.
    #[arg(long, value_name = "NAME=VALUE", conflicts_with = "server")]
    pub server_option: Vec<String>,
    #[command(flatten)]
    pub security: SecurityArgs,
}

fn start(crypto: Arc<dyn CryptoProfile>) -> Result<Runtime> {
    Runtime::start(runtime_config(
        vec!["127.0.0.1:0".parse().unwrap()],
        crypto,
        RECV_BUFFER,
    ))
    .map_err(|e| fail(format!("cannot bind 127.0.0.1: {e}")))
}

/// An in-process server: a runtime and a thread running `EchoServer`.
struct Server {
    rt: Option<Runtime>,
    id: PeerId,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(config: FlashConfig, sink: bool) -> Result<Server> {
        let (crypto, id) = identity(config)?;
        let rt = start(crypto)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let mut server = EchoServer::new(rt.handle(), sink);
            std::thread::Builder::new()
                .name("bench-server".into())
                .spawn(move || {
                    let mut notes = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        if !server.step(Duration::from_millis(20), &mut notes) {
                            break;
                        }
                        notes.clear();
                    }
                })
                .map_err(|e| fail(format!("cannot start a thread: {e}")))?
        };
        Ok(Server {
            rt: Some(rt),
            id,
            stop,
            thread: Some(thread),
        })
    }

    fn handle(&self) -> Handle {
        self.rt.as_ref().unwrap().handle()
    }

    fn connect(&self, client: &Handle) -> Result<SessionHandle> {
        let session =
            client.connect(epd_for_fingerprint(&self.id), &self.handle().local_addrs())?;
        wait_open(client, session, Duration::from_secs(20), &stop_requested)?;
        Ok(session)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown(Duration::from_millis(500));
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn binary_size(n: u64) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{} GiB", n >> 30)
    } else if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

type Rows = Vec<(String, String)>;

fn throughput(args: &BenchArgs, rows: &mut Rows) -> Result<()> {
    let server = Server::start(args.security.apply(FlashConfig::server()), true)?;
    let (crypto, _) = identity(args.security.apply(FlashConfig::client()))?;
    let client = start(crypto)?;
    let session = server.connect(&client)?;
    let flow = client.open_flow(session, b"rtmfp bench", Priority::Routine, None)?;
    let spec = Spec {
        size: args.size,
        amount: Amount::Bytes(args.bytes),
        rate: None,
        deadline: None,
        verify: false,
        echo: EchoMode::Off,
        progress: true,
    };
    let cpu0 = CpuTime::now();
    let out = transfer(&client, session, flow, &spec, &stop_requested)?;
    let cpu = CpuTime::now().since(cpu0);
    if out.interrupted {
        return Err(fail("interrupted"));
    }
    let info = client.session_info(session)?;
    let stats = client.stats()?;
    let server_stats = server.handle().stats()?;
    let secs = out.elapsed.as_secs_f64().max(1e-9);
    let mbps = out.delivered_bytes as f64 / secs / 1e6;
    rows.push((
        format!(
            "throughput, 1 flow, {} in {} messages",
            binary_size(args.bytes),
            binary_size(args.size as u64)
        ),
        format!("{mbps:.1} MB/s = {:.0} Mbit/s ({:.2} s)", mbps * 8.0, secs),
    ));
    let gb = out.delivered_bytes as f64 / 1e9;
    rows.push((
        "CPU s/GB (both ends, user+sys)".into(),
        format!(
            "{:.2} s/GB (user {:.2} s, sys {:.2} s, {:.0}% of one CPU)",
            cpu.total().as_secs_f64() / gb,
            cpu.user.as_secs_f64(),
            cpu.system.as_secs_f64(),
            cpu.total().as_secs_f64() / secs * 100.0
        ),
    ));
    if let Some(i) = info {
        rows.push((
            "  loss / retransmissions".into(),
            format!(
                "{} loss events, {} timeouts, {} fragments resent; cwnd {} kB",
                i.stats.flows.loss_events,
                i.stats.flows.timeouts,
                i.stats.flows.retransmissions,
                i.stats.flows.cwnd / 1000
            ),
        ));
    }
    rows.push((
        "  datagrams per syscall".into(),
        format!(
            "sender: send {:.1}, recv {:.1}; receiver: recv {:.1}, send {:.1} (gso {})",
            stats.io.datagrams_per_send_syscall(),
            stats.io.datagrams_per_recv_syscall(),
            server_stats.io.datagrams_per_recv_syscall(),
            server_stats.io.datagrams_per_send_syscall(),
            if stats.io.gso { "on" } else { "off" }
        ),
    ));
    client.shutdown(Duration::from_millis(500));
    Ok(())
}

fn handshakes(args: &BenchArgs, group: u64, rows: &mut Rows) -> Result<()> {
    let server = Server::start(
        args.security.apply(FlashConfig {
            groups: vec![group],
            ..FlashConfig::server()
        }),
        true,
    )?;
    let clients = args.sessions.min(args.handshakes).max(1);
    // Identities (with their static DH keys) are made before the clock
    // starts.
    let mut runtimes = Vec::new();
    for _ in 0..clients {
        let (crypto, _) = identity(args.security.apply(FlashConfig {
            groups: vec![group],
            ..FlashConfig::client()
        }))?;
        runtimes.push(start(crypto)?);
    }
    let barrier = Arc::new(Barrier::new(clients as usize + 1));
    let addrs = server.handle().local_addrs();
    let epd = epd_for_fingerprint(&server.id);
    let mut threads = Vec::new();
    for (i, rt) in runtimes.into_iter().enumerate() {
        let n = args.handshakes / clients + u64::from((i as u64) < args.handshakes % clients);
        let barrier = barrier.clone();
        let addrs = addrs.clone();
        let epd = epd.clone();
        threads.push(std::thread::spawn(move || {
            let mut latencies = Vec::with_capacity(n as usize);
            let mut failures = 0u64;
            barrier.wait();
            for _ in 0..n {
                if stop_requested() {
                    break;
                }
                let t = Instant::now();
                let Ok(session) = rt.connect(epd.clone(), &addrs) else {
                    failures += 1;
                    continue;
                };
                if wait_open(&rt, session, Duration::from_secs(20), &stop_requested).is_err() {
                    failures += 1;
                    continue;
                }
                latencies.push(t.elapsed());
                // One session per pair of identities: close this one
                // before opening the next.
                let _ = rt.close_session(session, false);
                let deadline = Instant::now() + Duration::from_secs(5);
                while Instant::now() < deadline {
                    if let Some(Event::SessionClosed { session: s, .. }) =
                        rt.next_event_timeout(Duration::from_millis(50))
                    {
                        if s == session {
                            break;
                        }
                    }
                }
            }
            rt.shutdown(Duration::from_millis(200));
            (latencies, failures)
        }));
    }
    let cpu0 = CpuTime::now();
    let t0 = Instant::now();
    barrier.wait();
    let mut latencies = Vec::new();
    let mut failures = 0;
    for t in threads {
        let (l, f) = t.join().map_err(|_| fail("a handshake thread panicked"))?;
        latencies.extend(l);
        failures += f;
    }
    let elapsed = t0.elapsed();
    let cpu = CpuTime::now().since(cpu0);
    if stop_requested() {
        return Err(fail("interrupted"));
    }
    let opened = server.handle().stats()?.endpoint.sessions_opened;
    latencies.sort();
    let ok = latencies.len() as u64;
    let bits = rtmfp_core::crypto::flash::dh::group(group).map_or(0, |g| g.bits());
    rows.push((
        format!("handshakes/s, DH group {group} ({bits}-bit), {clients} clients"),
        format!(
            "{:.1}/s ({ok} in {:.2} s{}; p50 {}, p99 {}; {} CPU each)",
            ok as f64 / elapsed.as_secs_f64().max(1e-9),
            elapsed.as_secs_f64(),
            if failures > 0 {
                format!(", {failures} FAILED")
            } else {
                String::new()
            },
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99)),
            ms(cpu.total() / (ok.max(1) as u32)),
        ),
    ));
    if opened < ok {
        return Err(fail(format!(
            "the server counted {opened} sessions for {ok} handshakes"
        )));
    }
    Ok(())
}

fn rtt(args: &BenchArgs, rows: &mut Rows) -> Result<()> {
    let server = Server::start(args.security.apply(FlashConfig::server()), false)?;
    let (crypto, _) = identity(args.security.apply(FlashConfig::client()))?;
    let client = start(crypto)?;
    let session = server.connect(&client)?;
    let flow = client.open_flow(session, b"rtmfp bench ping", Priority::Routine, None)?;
    let warmup = 20;
    let mut samples = Vec::with_capacity(args.pings as usize);
    let mut ret = None;
    let message = [0x5au8; 32];
    for i in 0..args.pings + warmup {
        if stop_requested() {
            return Err(fail("interrupted"));
        }
        let t = Instant::now();
        client.send(session, flow, &message, MessageOptions::default())?;
        let deadline = t + Duration::from_secs(10);
        loop {
            let Some(e) =
                client.next_event_timeout(deadline.saturating_duration_since(Instant::now()))
            else {
                return Err(fail(format!("ping {i}: no echo within 10 s")));
            };
            match e {
                Event::FlowOpened {
                    flow: rf,
                    association: Some(a),
                    ..
                } if a == flow => {
                    client.accept_flow(session, rf, Default::default())?;
                    ret = Some(rf);
                }
                Event::Message { flow: rf, .. } if Some(rf) == ret => break,
                Event::SessionClosed { .. } => return Err(fail("the session closed")),
                _ => {}
            }
        }
        if i >= warmup {
            samples.push(t.elapsed());
        }
    }
    let info = client.session_info(session)?;
    samples.sort();
    rows.push((
        "srtt (session_info; RFC 7016 timestamps tick every 4 ms)".into(),
        info.and_then(|i| i.stats.srtt)
            .map(ms)
            .unwrap_or_else(|| "-".into()),
    ));
    rows.push((
        format!(
            "ping-pong RTT, 32 B messages, {} round trips",
            samples.len()
        ),
        format!(
            "p50 {}, p99 {}, max {}",
            ms(percentile(&samples, 0.5)),
            ms(percentile(&samples, 0.99)),
            ms(*samples.last().unwrap_or(&Duration::ZERO))
        ),
    ));
    client.shutdown(Duration::from_millis(500));
    Ok(())
}

fn print_table(rows: &Rows) {
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).max(4);
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(6).max(6);
    println!("| {:<w0$} | {:<w1$} |", "test", "result");
    println!("|{}|{}|", "-".repeat(w0 + 2), "-".repeat(w1 + 2));
    for (a, b) in rows {
        println!("| {a:<w0$} | {b:<w1$} |");
    }
}

pub fn run(args: BenchArgs) -> Result<()> {
    install_signal_handlers();
    if crate::swarm::MAKER.help_asked(&args.option)
        || crate::server::MAKER.help_asked(&args.server_option)
    {
        return Ok(());
    }
    let options = LoadOptions {
        client: args.option.clone(),
        server: args.server_option.clone(),
    };
    let load = args.crowd.is_some() || args.flood.is_some() || args.fanout.is_some();
    let given = !(options.client.is_empty() && options.server.is_empty());
    if given && !load {
        return Err(CliError::Usage(
            "--option and --server-option are for --crowd, --fanout and --flood \
             (the other tests build both ends in this process)"
                .into(),
        ));
    }
    options.check()?;
    if let Some(clients) = args.crowd {
        let spec = crate::crowd::CrowdSpec {
            clients,
            hold: Duration::from_secs(args.hold),
            rate: args.rate,
            server: args.server,
            server_pid: args.server_pid,
            probes: args.probes,
            per_process: args.per_process,
            worker_index: args.crowd_worker_index,
            options,
        };
        return if args.crowd_worker {
            crate::crowd::worker(spec)
        } else {
            crate::crowd::run(spec)
        };
    }
    if let Some(clients) = args.flood {
        return crate::flood::run(crate::flood::FloodSpec {
            clients,
            baseline: args.baseline,
            flood: args.flood_duration,
            sources: args.flood_sources,
            per_source: args.flood_per_source,
            group: args.flood_group,
            server: args.server,
            server_pid: args.server_pid,
            options,
        });
    }
    if let Some(players) = args.fanout {
        let spec = crate::fanout::FanoutSpec {
            players,
            bitrate: args.bitrate,
            fps: args.fps,
            duration: args.duration,
            warmup: args.warmup,
            rate: args.rate,
            server: args.server,
            server_pid: args.server_pid,
            per_process: args.per_process,
            sweep: args.sweep,
            worker_index: args.crowd_worker_index,
            stream: args.fanout_stream,
            options,
        };
        return if args.fanout_worker {
            crate::fanout::worker(spec)
        } else {
            crate::fanout::run(spec)
        };
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "rtmfp bench: 127.0.0.1 loopback, Flash profile ({}), {cpus} CPUs",
        args.security.describe()
    );
    let mut rows = Rows::new();
    if args.bytes > 0 {
        eprintln!("throughput: {} ...", binary_size(args.bytes));
        throughput(&args, &mut rows)?;
    }
    if args.handshakes > 0 {
        for &g in &args.groups {
            eprintln!("handshakes: {} with DH group {g} ...", args.handshakes);
            handshakes(&args, g, &mut rows)?;
        }
    }
    eprintln!("rtt: {} round trips ...", args.pings);
    rtt(&args, &mut rows)?;
    print_table(&rows);
    Ok(())
}
