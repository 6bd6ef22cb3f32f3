//! `rtmfp bench --fanout N`: one publisher sends a stream through the
//! server (RFC 7425 §5.3.5, not DIRECT_CONNECTIONS: the server relays
//! it) to N players, and what that costs the server per delivered bit.
//!
//! - The **publisher** (a thread of this process, one [`Swarm`] member)
//!   publishes synthetic AVC video at `--fps` (a key frame every second,
//!   three times the size of an inter frame) and AAC-like audio at 43
//!   tags a second, together `--bitrate` of payload.  Every message
//!   carries a sequence number and the CLOCK_MONOTONIC instant it was
//!   sent (system-wide on Linux, so the player processes can compare).
//! - The **players** (client processes of [`Swarm`]s, `--per-process`
//!   each) connect at `--rate` and play the stream through the server.
//!   Once every one plays, after a warm-up, the coordinator gives them the
//!   **window** of `--duration` seconds: the messages the publisher sent
//!   in it are the ones counted.  A message is **on time** if it reaches
//!   a player within 500 ms of being sent; one that comes later is
//!   **late**, one that never comes (the server's 1 s media lifetime, a
//!   full flow buffer, loss) is **lost**.
//! - **Quality holds** if every player got at least 99 % of the
//!   window's messages on time.
//! - The server's CPU time (user + system, `/proc/PID/stat`) over the
//!   window, divided by the window's delivered payload (on time, all
//!   players), is its **CPU seconds per delivered Gbit**; 1 s/Gbit is
//!   1,000 players of 1 Mbit/s per core.  The client processes' CPU is
//!   reported too: on one machine they compete with the server for it.
//!
//! `--sweep` raises N (50, 100, 200, ...) up to `--fanout N`, a fresh
//! server each time, until quality drops twice in a row at one N, and
//! prints one row per run.

use crate::common::{fail, Result};
use crate::swarm::{
    cpu_of, fit_sockets, machine_cpu, mono_ns, sample, LoadOptions, Role, ServerUnderTest, Swarm,
    Workers,
};
use rtmfp_core::flash::client::ClientEvent;
use rtmfp_core::flash::command::code;
use rtmfp_core::flash::message::message_type;
use rtmfp_core::flash::StreamId;
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct FanoutSpec {
    /// Players (the largest N with `sweep`).
    pub players: usize,
    /// Payload bits per second of the stream (audio and video).
    pub bitrate: f64,
    /// Video frames per second.
    pub fps: u32,
    /// The measured window.
    pub duration: Duration,
    /// Streaming before the window, once every player plays.
    pub warmup: Duration,
    /// New player connects per second.
    pub rate: u32,
    /// The server; `None` starts `rtmfp server` on loopback (a fresh one
    /// for each N of a sweep).
    pub server: Option<SocketAddr>,
    /// The server's process ID, for its CPU and memory.
    pub server_pid: Option<u32>,
    /// Players per client process.
    pub per_process: usize,
    /// Raise N up to `players` until quality drops.
    pub sweep: bool,
    /// Client process only: which one (it binds 127.0.0.(W+1) on
    /// loopback).
    pub worker_index: u8,
    /// Client process only: the stream to play.
    pub stream: Option<String>,
    /// The clients' and the server child's options.
    pub options: LoadOptions,
}

/// The RTMFP URI's application.
const APP: &str = "fanout";
/// Audio tags per second (AAC at 44.1 kHz).
const AUDIO_RATE: u32 = crate::publish::SYNTHETIC_AUDIO_RATE;
/// Bytes of an audio tag body.
const AUDIO_BYTES: usize = 150;
/// Marks a stamped message.
const MAGIC: &[u8; 4] = b"RFan";
/// A message later than this is late.
const LATE: Duration = Duration::from_millis(500);
/// Quality holds if every player got this share of the messages on time.
const QUALITY: f64 = 0.99;
/// Latency histogram: buckets of 100 µs up to 10 s (and one above).
const BUCKET_NS: u64 = 100_000;
const BUCKETS: usize = 100_000;
/// The N of a sweep, up to `--fanout N`.
const LADDER: &[usize] = &[
    50, 100, 200, 300, 400, 500, 600, 800, 1000, 1200, 1500, 2000, 2500, 3000, 4000, 5000, 6000,
    8000, 10000, 15000, 20000,
];

/// Sizes of the synthetic stream's tag bodies.
#[derive(Debug, Clone, Copy)]
struct Plan {
    fps: u32,
    key: usize,
    inter: usize,
}

impl Plan {
    /// Video takes what audio leaves of `bitrate`; a key frame (one a
    /// second) is three inter frames.
    fn new(bitrate: f64, fps: u32) -> Plan {
        let fps = fps.max(1);
        let per_second = bitrate / 8.0 - f64::from(AUDIO_RATE) * AUDIO_BYTES as f64;
        let inter = ((per_second / f64::from(fps + 2)) as usize).max(32);
        Plan {
            fps,
            key: 3 * inter,
            inter,
        }
    }

    /// Payload bits per second.
    fn bitrate(&self) -> f64 {
        let video = self.key + (self.fps as usize - 1) * self.inter;
        8.0 * (video + AUDIO_RATE as usize * AUDIO_BYTES) as f64
    }
}

/// Where the stamp starts in a tag body: after the FLV video header (frame
/// type and codec, AVC packet type, composition time) or audio header.
fn stamp_offset(ty: u8) -> usize {
    if ty == message_type::VIDEO {
        5
    } else {
        2
    }
}

/// A tag body of `len` bytes: the FLV header, the stamp, filler.
fn tag_body(ty: u8, key: bool, seq: u32, sent_ns: u64, len: usize, out: &mut Vec<u8>) {
    out.clear();
    if ty == message_type::VIDEO {
        // AVC NALU: key (1) or inter (2) frame, codec 7.
        out.extend_from_slice(&[if key { 0x17 } else { 0x27 }, 1, 0, 0, 0]);
    } else {
        // AAC raw, 44 kHz, 16-bit, stereo.
        out.extend_from_slice(&[0xaf, 1]);
    }
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&sent_ns.to_be_bytes());
    let mut x = seq.wrapping_mul(0x9e37_79b9) | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.push(x as u8);
    }
}

/// The sequence number and send instant of a stamped tag body.
fn read_stamp(ty: u8, payload: &[u8]) -> Option<(u32, u64)> {
    let s = payload.get(stamp_offset(ty)..)?;
    if s.len() < 16 || &s[..4] != MAGIC {
        return None;
    }
    let seq = u32::from_be_bytes(s[4..8].try_into().ok()?);
    let ns = u64::from_be_bytes(s[8..16].try_into().ok()?);
    Some((seq, ns))
}

// ---------------------------------------------------------------- publisher

/// The publisher member.
#[derive(Default)]
struct Publisher {
    stream: Option<StreamId>,
    started: bool,
    failure: Option<String>,
}

impl Role for Publisher {
    fn on_event(&mut self, event: ClientEvent, _now: Instant) {
        if let ClientEvent::Status {
            stream: Some(s),
            info,
        } = event
        {
            if Some(s) == self.stream {
                if info.code == code::PUBLISH_START {
                    self.started = true;
                } else if info.is_error() {
                    self.failure = Some(format!("{}: {}", info.code, info.description));
                }
            }
        }
    }
}

/// What the publisher sent.
#[derive(Debug, Default)]
struct Sent {
    /// Send instant (CLOCK_MONOTONIC ns) and payload bytes of every
    /// message queued.
    messages: Vec<(u64, u32)>,
    /// Messages the flow refused (buffer full).
    refused: u64,
    /// Messages sent more than 50 ms after they were due.
    behind: u64,
}

/// Publishes `stream` on `server` until `stop`: says on `started` once
/// it publishes (or why not).
fn publisher(
    server: SocketAddr,
    stream: String,
    plan: Plan,
    options: &LoadOptions,
    stop: Arc<AtomicBool>,
    started: mpsc::Sender<std::result::Result<(), String>>,
) -> Result<Sent> {
    let mut swarm = Swarm::<Publisher>::new(server, 0, APP, options)?;
    let opened = swarm.open(Publisher::default(), |role, c, ep, now| {
        let s = c.create_stream(ep, now);
        role.stream = Some(s);
        c.publish(ep, now, s, &stream)
    });
    if let Err(e) = opened {
        let _ = started.send(Err(e.to_string()));
        return Err(e);
    }
    swarm.run(Instant::now() + Duration::from_secs(30), |s, _| {
        let m = &s.members[0];
        Ok(m.role.started || m.role.failure.is_some() || m.failed)
    })?;
    let m = &swarm.members[0];
    if !m.role.started {
        let why = m.role.failure.clone().unwrap_or_else(|| {
            if m.connected.is_none() {
                "the publisher did not connect".into()
            } else {
                "no answer to publish".into()
            }
        });
        let _ = started.send(Err(why.clone()));
        return Err(fail(why));
    }
    let _ = started.send(Ok(()));
    let ns = m.role.stream.expect("set by open");

    let mut sent = Sent::default();
    let t0 = mono_ns();
    let (mut v, mut a) = (0u64, 0u64);
    let mut seq = 0u32;
    let mut body = Vec::new();
    let frame_ns = 1_000_000_000 / u64::from(plan.fps);
    let audio_ns = 1_000_000_000 / u64::from(AUDIO_RATE);
    let mut failure = None;
    swarm.run(Instant::now() + Duration::from_secs(24 * 3600), |s, now| {
        if stop.load(Ordering::Relaxed) {
            return Ok(true);
        }
        if s.members[0].failed {
            failure = Some("the publisher's connection closed");
            return Ok(true);
        }
        loop {
            let (video_due, audio_due) = (t0 + v * frame_ns, t0 + a * audio_ns);
            let due = video_due.min(audio_due);
            let t = mono_ns();
            if due > t {
                return Ok(false);
            }
            let video = video_due <= audio_due;
            let (ty, key, len) = if video {
                let key = v % u64::from(plan.fps) == 0;
                v += 1;
                (
                    message_type::VIDEO,
                    key,
                    if key { plan.key } else { plan.inter },
                )
            } else {
                a += 1;
                (message_type::AUDIO, false, AUDIO_BYTES)
            };
            if t - due > 50_000_000 {
                sent.behind += 1;
            }
            tag_body(ty, key, seq, t, len, &mut body);
            seq = seq.wrapping_add(1);
            let ts = ((due - t0) / 1_000_000) as u32;
            let ok = s.with(0, now, |_, c, ep, now| c.send(ep, now, ns, ty, ts, &body));
            match ok {
                Ok(_) => sent.messages.push((t, body.len() as u32)),
                Err(_) => sent.refused += 1,
            }
        }
    })?;
    // Unpublish and close, so that a server that outlives this run is
    // free of the stream.
    let now = Instant::now();
    swarm.with(0, now, |_, c, ep, now| c.close(ep, now));
    swarm.run(Instant::now() + Duration::from_millis(300), |_, _| {
        Ok(false)
    })?;
    match failure {
        Some(why) => Err(fail(why)),
        None => Ok(sent),
    }
}

// ------------------------------------------------------------------ players

/// What the players of one process share.
struct Shared {
    /// The measured window (CLOCK_MONOTONIC ns, start inclusive); (0, 0)
    /// until the coordinator says.
    window: Cell<(u64, u64)>,
    /// Latency of every window message received, in `BUCKET_NS` buckets.
    latency: RefCell<Vec<u64>>,
}

/// One player member.
struct Player {
    shared: Rc<Shared>,
    stream: Option<StreamId>,
    /// NetStream.Play.Start came.
    playing: bool,
    /// Stamped audio and video messages, all.
    media: u64,
    /// Window messages received, on time, late, and the on-time bytes.
    window: u64,
    on_time: u64,
    late: u64,
    on_time_bytes: u64,
}

impl Role for Player {
    fn on_event(&mut self, event: ClientEvent, _now: Instant) {
        match event {
            ClientEvent::Media {
                message_type: ty,
                payload,
                ..
            } => {
                let Some((_, sent)) = read_stamp(ty, &payload) else {
                    return;
                };
                self.media += 1;
                let (start, end) = self.shared.window.get();
                if sent < start || sent >= end {
                    return;
                }
                let latency = mono_ns().saturating_sub(sent);
                self.window += 1;
                if latency <= LATE.as_nanos() as u64 {
                    self.on_time += 1;
                    self.on_time_bytes += payload.len() as u64;
                } else {
                    self.late += 1;
                }
                let b = ((latency / BUCKET_NS) as usize).min(BUCKETS);
                self.shared.latency.borrow_mut()[b] += 1;
            }
            ClientEvent::Status {
                stream: Some(s),
                info,
            } if Some(s) == self.stream && info.code == code::PLAY_START => {
                self.playing = true;
            }
            _ => {}
        }
    }
}

/// `rtmfp bench --fanout-worker`: one process's share of the players.
/// Prints `ready` once every player has media (or failed), takes the
/// window from stdin (`window START END`), and prints one `p` line per
/// player and `h BUCKET COUNT` latency lines after it.
pub fn worker(spec: FanoutSpec) -> Result<()> {
    let server = spec
        .server
        .ok_or_else(|| fail("--fanout-worker needs --server"))?;
    let stream = spec
        .stream
        .clone()
        .ok_or_else(|| fail("--fanout-worker needs --fanout-stream"))?;
    let n = spec.players;
    fit_sockets(n)?;
    let (tx, stdin) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::stdin().lock().lines().map_while(|l| l.ok()) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let shared = Rc::new(Shared {
        window: Cell::new((0, 0)),
        latency: RefCell::new(vec![0; BUCKETS + 1]),
    });
    let mut swarm = Swarm::<Player>::new(server, spec.worker_index, APP, &spec.options)?;
    let start = Instant::now();
    let rate = f64::from(spec.rate.max(1));
    let deadline = start + Duration::from_secs_f64(n as f64 / rate) + Duration::from_secs(60);
    let mut last_report = start;
    swarm.run(deadline, |s, now| {
        let due = ((now - start).as_secs_f64() * rate) as usize + 1;
        while s.members.len() < due.min(n) {
            let player = Player {
                shared: shared.clone(),
                stream: None,
                playing: false,
                media: 0,
                window: 0,
                on_time: 0,
                late: 0,
                on_time_bytes: 0,
            };
            s.open(player, |p, c, ep, now| {
                let id = c.create_stream(ep, now);
                p.stream = Some(id);
                c.play(ep, now, id, &stream)
            })?;
        }
        if now - last_report >= Duration::from_secs(5) {
            last_report = now;
            let up = s.members.iter().filter(|m| m.connected.is_some()).count();
            let fed = s.members.iter().filter(|m| m.role.media > 0).count();
            eprintln!(
                "  {:>6.1} s: {} started, {up} connected, {fed} receiving",
                (now - start).as_secs_f64(),
                s.members.len()
            );
        }
        Ok(s.members.len() == n && s.members.iter().all(|m| m.role.media > 0 || m.failed))
    })?;
    println!("ready");
    // Streaming until the window is over and its last messages are late.
    let mut end: Option<Instant> = None;
    let mut window_late = false;
    let mut gone = false;
    swarm.run(Instant::now() + Duration::from_secs(24 * 3600), |_, now| {
        match stdin.try_recv() {
            Ok(line) => {
                let mut it = line.split_whitespace();
                if let (Some("window"), Some(a), Some(b)) = (it.next(), it.next(), it.next()) {
                    let (a, b): (u64, u64) = (a.parse().unwrap_or(0), b.parse().unwrap_or(0));
                    let t = mono_ns();
                    window_late = t > a;
                    shared.window.set((a, b));
                    let left = Duration::from_nanos(b.saturating_sub(t));
                    end = Some(now + left + LATE + Duration::from_millis(500));
                }
            }
            Err(mpsc::TryRecvError::Disconnected) if end.is_none() => {
                gone = true;
                return Ok(true);
            }
            Err(_) => {}
        }
        Ok(end.is_some_and(|e| now >= e))
    })?;
    if gone {
        return Err(fail("the coordinator is gone (stdin closed)"));
    }
    for m in &swarm.members {
        let r = &m.role;
        println!(
            "p {} {} {} {} {} {} {}",
            u8::from(m.connected.is_some()),
            u8::from(r.playing),
            r.media,
            r.window,
            r.on_time,
            r.late,
            r.on_time_bytes
        );
    }
    for (b, &count) in shared.latency.borrow().iter().enumerate() {
        if count > 0 {
            println!("h {b} {count}");
        }
    }
    if window_late {
        println!("window-late");
    }
    // Leave in order, so that a server that outlives this run is not left
    // relaying to them.
    let now = Instant::now();
    for i in 0..swarm.members.len() {
        swarm.with(i, now, |_, c, ep, now| c.close(ep, now));
    }
    swarm.run(Instant::now() + Duration::from_millis(300), |_, _| {
        Ok(false)
    })?;
    Ok(())
}

// -------------------------------------------------------------- coordinator

/// One player's outcome.
#[derive(Debug, Default, Clone, Copy)]
struct PlayerOutcome {
    connected: bool,
    playing: bool,
    media: u64,
    on_time: u64,
    late: u64,
    on_time_bytes: u64,
}

/// What one run of N players measured.
#[derive(Debug, Default)]
struct Measured {
    players: usize,
    workers: usize,
    /// Messages and payload bytes the publisher sent in the window.
    expected: u64,
    expected_bytes: u64,
    refused: u64,
    behind: u64,
    outcomes: Vec<PlayerOutcome>,
    latency: Vec<u64>,
    window: Duration,
    server_cpu: Option<f64>,
    server_rss: Option<u64>,
    players_cpu: f64,
    publisher_cpu: f64,
    /// Busy and total CPU seconds of the machine over the window.
    machine: Option<(f64, f64)>,
    window_late: bool,
}

impl Measured {
    fn connected(&self) -> usize {
        self.outcomes.iter().filter(|o| o.connected).count()
    }

    fn receiving(&self) -> usize {
        self.outcomes.iter().filter(|o| o.media > 0).count()
    }

    /// On-time payload bits per second, all players.
    fn delivered_bps(&self) -> f64 {
        let bytes: u64 = self.outcomes.iter().map(|o| o.on_time_bytes).sum();
        bytes as f64 * 8.0 / self.window.as_secs_f64()
    }

    /// Window messages lost (never came) and late, all players.
    fn lost_late(&self) -> (u64, u64) {
        let late: u64 = self.outcomes.iter().map(|o| o.late).sum();
        let lost: u64 = self
            .outcomes
            .iter()
            .map(|o| self.expected.saturating_sub(o.on_time + o.late))
            .sum();
        (lost, late)
    }

    /// The worst player's on-time share, and the missing players count
    /// as 0.
    fn worst(&self) -> f64 {
        let mut worst = if self.outcomes.len() < self.players {
            0.0
        } else {
            1.0f64
        };
        for o in &self.outcomes {
            worst = worst.min(o.on_time as f64 / self.expected.max(1) as f64);
        }
        worst
    }

    fn holds(&self) -> bool {
        self.expected > 0 && self.connected() == self.players && self.worst() >= QUALITY
    }

    /// The latency quantile `p`, in ms (bucket upper bounds).
    fn latency_ms(&self, p: f64) -> f64 {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let rank = ((total as f64 - 1.0) * p).round() as u64;
        let mut seen = 0;
        for (b, &c) in self.latency.iter().enumerate() {
            seen += c;
            if seen > rank {
                return (b as u64 + 1) as f64 * BUCKET_NS as f64 / 1e6;
            }
        }
        0.0
    }

    /// Server CPU seconds per delivered Gbit.
    fn cpu_per_gbit(&self) -> Option<f64> {
        let gbit = self.delivered_bps() * self.window.as_secs_f64() / 1e9;
        self.server_cpu.filter(|_| gbit > 0.0).map(|c| c / gbit)
    }

    fn percent(&self, cpu: f64) -> f64 {
        100.0 * cpu / self.window.as_secs_f64()
    }

    /// CPU seconds of everything else on the machine over the window:
    /// other work competes with the server and the clients.
    fn others_cpu(&self) -> Option<f64> {
        let (busy, _) = self.machine?;
        Some((busy - self.server_cpu? - self.players_cpu - self.publisher_cpu).max(0.0))
    }
}

/// Sleeps until CLOCK_MONOTONIC `ns`.
fn sleep_until(ns: u64) {
    let now = mono_ns();
    if ns > now {
        std::thread::sleep(Duration::from_nanos(ns - now));
    }
}

/// One run: a server (given or fresh), the publisher, `n` players.
fn run_one(spec: &FanoutSpec, n: usize, plan: Plan) -> Result<Measured> {
    let sut = ServerUnderTest::new(spec.server, spec.server_pid, &spec.options)?;
    let workers = n.div_ceil(spec.per_process.max(1)).max(1);
    if workers > 200 {
        return Err(fail(format!(
            "{workers} client processes: raise --per-process (at most 200 processes)"
        )));
    }
    eprintln!(
        "fanout: 1 publisher, {n} players through {} at {:.2} Mbit/s, {workers} client process(es) ...",
        sut.addr,
        plan.bitrate() / 1e6
    );
    let stream = format!(
        "fanout-{}-{}",
        std::process::id(),
        mono_ns() % 1_000_000_007
    );
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let publisher = {
        let (stop, stream, addr) = (stop.clone(), stream.clone(), sut.addr);
        let options = spec.options.clone();
        std::thread::Builder::new()
            .name("fanout-publisher".into())
            .spawn(move || publisher(addr, stream, plan, &options, stop, tx))
            .map_err(|e| fail(format!("cannot start a thread: {e}")))?
    };
    // Stops the publisher however this returns.
    struct Stop(Arc<AtomicBool>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let stopper = Stop(stop);
    match rx.recv_timeout(Duration::from_secs(40)) {
        Ok(Ok(())) => {}
        Ok(Err(why)) => return Err(fail(format!("publisher: {why}"))),
        Err(_) => return Err(fail("publisher: no outcome within 40 s")),
    }
    let mut procs = Workers::spawn(workers, n, true, |w, share| {
        let rate = (spec.rate as usize / workers).max(1);
        [
            "bench",
            "--fanout-worker",
            "--fanout",
            &share.to_string(),
            "--rate",
            &rate.to_string(),
            "--server",
            &sut.addr.to_string(),
            "--crowd-worker-index",
            &w.to_string(),
            "--fanout-stream",
            &stream,
        ]
        .map(String::from)
        .into_iter()
        .chain(spec.options.client_args())
        .collect()
    })?;
    let mut lines = Vec::new();
    let mut ready = 0;
    while ready < procs.count() {
        match procs.lines.recv() {
            Ok((_, l)) if l == "ready" => ready += 1,
            Ok((_, l)) => lines.push(l),
            Err(_) => break,
        }
    }
    if ready < procs.count() {
        procs.wait()?;
        return Err(fail("the client processes ended before they were ready"));
    }
    std::thread::sleep(spec.warmup);
    let start = mono_ns() + 500_000_000;
    let end = start + spec.duration.as_nanos() as u64;
    procs.tell(&format!("window {start} {end}"));
    let pids = procs.pids();
    let me = std::process::id();
    sleep_until(start);
    let (s0, p0, c0, m0) = (sut.sample(), cpu_of(&pids), sample(me), machine_cpu());
    sleep_until(end);
    let (s1, p1, c1, m1) = (sut.sample(), cpu_of(&pids), sample(me), machine_cpu());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match procs.lines.recv_timeout(left) {
            Ok((_, l)) => lines.push(l),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(fail("the client processes did not report within 60 s"))
            }
        }
    }
    procs.wait()?;
    drop(stopper);
    let sent = publisher
        .join()
        .map_err(|_| fail("the publisher thread panicked"))??;
    let mut m = Measured {
        players: n,
        workers,
        refused: sent.refused,
        behind: sent.behind,
        latency: vec![0; BUCKETS + 1],
        window: spec.duration,
        server_cpu: s0.zip(s1).map(|(a, b)| b.cpu - a.cpu),
        server_rss: s1.map(|s| s.rss),
        players_cpu: p1 - p0,
        publisher_cpu: c0.zip(c1).map_or(0.0, |(a, b)| b.cpu - a.cpu),
        machine: m0.zip(m1).map(|(a, b)| (b.0 - a.0, b.1 - a.1)),
        ..Measured::default()
    };
    for &(t, len) in &sent.messages {
        if t >= start && t < end {
            m.expected += 1;
            m.expected_bytes += u64::from(len);
        }
    }
    for l in &lines {
        let mut it = l.split_whitespace();
        match it.next() {
            Some("p") => {
                let v: Vec<u64> = it.filter_map(|x| x.parse().ok()).collect();
                if let [c, p, media, _window, on_time, late, bytes] = v[..] {
                    m.outcomes.push(PlayerOutcome {
                        connected: c == 1,
                        playing: p == 1,
                        media,
                        on_time,
                        late,
                        on_time_bytes: bytes,
                    });
                }
            }
            Some("h") => {
                let v: Vec<u64> = it.filter_map(|x| x.parse().ok()).collect();
                if let [b, c] = v[..] {
                    if let Some(slot) = m.latency.get_mut(b as usize) {
                        *slot += c;
                    }
                }
            }
            Some("window-late") => m.window_late = true,
            _ => {}
        }
    }
    Ok(m)
}

fn verdict(m: &Measured) -> &'static str {
    if m.holds() {
        "holds"
    } else {
        "DROPS"
    }
}

fn fmt_opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "-".into())
}

fn report(spec: &FanoutSpec, plan: Plan, server: &str, m: &Measured) {
    let n = m.players;
    let secs = m.window.as_secs_f64();
    println!(
        "rtmfp bench --fanout: 1 publisher, {n} players through {server}, {} s window",
        secs
    );
    println!("| measure | value |");
    println!("| --- | --- |");
    println!(
        "| stream | {:.3} Mbit/s payload: {} fps video ({} B key frames once a second, {} B inter), {AUDIO_RATE} audio tags/s of {AUDIO_BYTES} B |",
        plan.bitrate() / 1e6,
        plan.fps,
        plan.key,
        plan.inter
    );
    println!(
        "| players connected / playing / receiving | {} / {} / {} of {n} |",
        m.connected(),
        m.outcomes.iter().filter(|o| o.playing).count(),
        m.receiving()
    );
    println!(
        "| sent in the window | {} messages, {:.3} Mbit/s ({} refused by the flow, {} sent > 50 ms late) |",
        m.expected,
        m.expected_bytes as f64 * 8.0 / secs / 1e6,
        m.refused,
        m.behind
    );
    let delivered = m.delivered_bps();
    println!(
        "| delivered on time (all players) | {:.1} Mbit/s ({:.3} Mbit/s per player) |",
        delivered / 1e6,
        delivered / 1e6 / n.max(1) as f64
    );
    let (lost, late) = m.lost_late();
    println!(
        "| messages lost / late (> {} ms), all players | {lost} / {late} of {} |",
        LATE.as_millis(),
        m.expected * n as u64
    );
    println!("| worst player on time | {:.2} % |", 100.0 * m.worst());
    println!(
        "| latency p50 / p99 / max | {:.1} / {:.1} / {:.1} ms |",
        m.latency_ms(0.5),
        m.latency_ms(0.99),
        m.latency_ms(1.0)
    );
    match m.server_cpu {
        Some(cpu) => {
            println!(
                "| server CPU | {cpu:.2} s in {secs} s ({:.1} % of a core); {:.1} MB resident |",
                m.percent(cpu),
                m.server_rss.unwrap_or(0) as f64 / 1e6
            );
            println!(
                "| server CPU per delivered Gbit | {} |",
                fmt_opt(m.cpu_per_gbit(), |c| format!(
                    "{c:.2} s/Gbit: {:.0} players of {:.1} Mbit/s per core",
                    1e9 / (c * spec.bitrate),
                    spec.bitrate / 1e6
                ))
            );
        }
        None => println!("| server CPU | not measured (give --server-pid) |"),
    }
    println!(
        "| client side | {} player process(es): {:.1} % of a core; publisher {:.1} % |",
        m.workers,
        m.percent(m.players_cpu),
        m.percent(m.publisher_cpu)
    );
    if let Some((busy, total)) = m.machine {
        println!(
            "| machine | {:.0} % busy of {} CPUs; other processes {} % of a core |",
            100.0 * busy / total.max(1e-9),
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            fmt_opt(m.others_cpu(), |c| format!("{:.0}", m.percent(c)))
        );
    }
    println!(
        "| quality (every player >= {:.0} % on time) | {}{} |",
        100.0 * QUALITY,
        verdict(m),
        if m.window_late {
            " (a client process got the window late)"
        } else {
            ""
        }
    );
}

fn row_header() {
    println!(
        "| N | delivered Mbit/s | server CPU % | CPU s/Gbit | players/core | clients CPU % | others CPU % | latency p50 / p99 ms | lost / late | worst player | verdict |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
}

fn row(spec: &FanoutSpec, m: &Measured) {
    let (lost, late) = m.lost_late();
    println!(
        "| {} | {:.1} | {} | {} | {} | {:.0} | {} | {:.1} / {:.1} | {lost} / {late} | {:.2} % | {} |",
        m.players,
        m.delivered_bps() / 1e6,
        fmt_opt(m.server_cpu, |c| format!("{:.0}", m.percent(c))),
        fmt_opt(m.cpu_per_gbit(), |c| format!("{c:.2}")),
        fmt_opt(m.cpu_per_gbit(), |c| format!(
            "{:.0}",
            1e9 / (c * spec.bitrate)
        )),
        m.percent(m.players_cpu + m.publisher_cpu),
        fmt_opt(m.others_cpu(), |c| format!("{:.0}", m.percent(c))),
        m.latency_ms(0.5),
        m.latency_ms(0.99),
        100.0 * m.worst(),
        verdict(m)
    );
}

/// Runs the fan-out benchmark (or its sweep) and prints its table.
pub fn run(spec: FanoutSpec) -> Result<()> {
    if spec.bitrate < 100e3 {
        return Err(fail("--bitrate must be at least 100k"));
    }
    let plan = Plan::new(spec.bitrate, spec.fps);
    if !spec.sweep {
        let m = run_one(&spec, spec.players, plan)?;
        let server = spec
            .server
            .map_or_else(|| "rtmfp server".to_owned(), |a| a.to_string());
        report(&spec, plan, &server, &m);
        if m.receiving() < spec.players {
            return Err(fail(format!(
                "{} of {} players received nothing",
                spec.players - m.receiving(),
                spec.players
            )));
        }
        return Ok(());
    }
    let mut sizes: Vec<usize> = LADDER
        .iter()
        .copied()
        .filter(|&s| s < spec.players)
        .collect();
    sizes.push(spec.players);
    println!(
        "rtmfp bench --fanout --sweep: 1 publisher at {:.2} Mbit/s ({} fps), {} s windows, through {}",
        plan.bitrate() / 1e6,
        plan.fps,
        spec.duration.as_secs_f64(),
        spec.server
            .map_or_else(|| "a fresh rtmfp server each".to_owned(), |a| a.to_string())
    );
    let mut rows = Vec::new();
    'sizes: for n in sizes {
        // A drop is tried once more before the sweep stops: on a shared
        // machine, other work can starve a run.
        for _ in 0..2 {
            let m = run_one(&spec, n, plan)?;
            let holds = m.holds();
            eprintln!(
                "  N = {n}: {:.1} Mbit/s delivered, {}",
                m.delivered_bps() / 1e6,
                verdict(&m)
            );
            rows.push(m);
            if holds {
                continue 'sizes;
            }
        }
        break;
    }
    row_header();
    for m in &rows {
        row(&spec, m);
    }
    let best = rows.iter().filter(|m| m.holds()).map(|m| m.players).max();
    match best {
        Some(b) => println!(
            "largest N where quality holds (every player >= {:.0} % of messages within {} ms): {b}",
            100.0 * QUALITY,
            LATE.as_millis()
        ),
        None => println!("quality did not hold at any N"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip() {
        let mut b = Vec::new();
        tag_body(message_type::VIDEO, true, 7, 123_456_789, 100, &mut b);
        assert_eq!(b.len(), 100);
        assert!(rtmfp_core::flash::media::is_video_keyframe(&b));
        assert_eq!(read_stamp(message_type::VIDEO, &b), Some((7, 123_456_789)));
        tag_body(message_type::AUDIO, false, 8, 42, AUDIO_BYTES, &mut b);
        assert_eq!(read_stamp(message_type::AUDIO, &b), Some((8, 42)));
        assert!(!rtmfp_core::flash::media::is_sequence_header(
            message_type::AUDIO,
            &b
        ));
        assert_eq!(read_stamp(message_type::AUDIO, &b[..10]), None);
    }

    #[test]
    fn the_plan_adds_up_to_the_bitrate() {
        let p = Plan::new(1e6, 30);
        assert!((p.bitrate() - 1e6).abs() < 1e4, "{p:?}");
        let p = Plan::new(4e6, 25);
        assert!((p.bitrate() - 4e6).abs() < 1e4, "{p:?}");
    }
}
