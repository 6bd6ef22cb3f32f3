//! `rtmfp echo`: an echo or sink server peer.
//!
//! Every incoming flow is accepted.  In echo mode each one gets a return
//! flow associated with it (RFC 7016 §2.3.11.1.2) and every message is
//! sent back on it, in order; when the return flow is full the incoming
//! flow is suspended until it drains, so a fast sender is slowed to what
//! the way back can carry.  In sink mode messages are only counted.

use crate::common::{
    describe_close, fail, hex, identity, install_signal_handlers, parse_bytes, parse_listen,
    stop_requested, CpuTime, Result, SecurityArgs,
};
use crate::options::{self, Flags, Maker, OptionArgs};
use clap::Args;
use rtmfp_core::endpoint::{Endpoint, EndpointError, Event, SessionHandle};
use rtmfp_core::flow::{DeliveryOrder, FlowId, MessageOptions, Priority};
use rtmfp_core::host::options::{Object, OptionValue, Options};
use rtmfp_core::runtime::{Handle, Runtime};
use rtmfp_core::session::flows::FlowError;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Run an echo (or sink) server: accepts every session and flow and
/// sends every message back on a return flow.
#[derive(Args, Debug)]
pub struct EchoArgs {
    /// Local UDP address to listen on: IP:PORT, [IPv6]:PORT or a bare
    /// port; repeat for several (e.g. IPv4 and IPv6).  Port 0 picks a free
    /// port; the bound address is printed as `listening ADDR`.
    #[arg(long, short = 'l', value_name = "ADDR", value_parser = parse_listen,
          default_value = "0.0.0.0:1935")]
    pub listen: Vec<SocketAddr>,
    /// Certificate hostname (RFC 7425 §4.3.3.1), so that clients can
    /// require it (rtmfp-cpp fcclient -n NAME).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Only count messages; open no return flows.
    #[arg(long)]
    pub sink: bool,
    /// Print a stats line every second (sessions, msgs/s, MB/s, CPU).
    #[arg(long)]
    pub progress: bool,
    /// Receive buffer (BUFFER_CAPACITY, RFC 7016 §3.6.3) of each incoming
    /// flow.  A message is reassembled in it, so messages larger than it
    /// crawl; 16M is what rtmfp-cpp's echoserver uses.  K/M suffixes.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes, default_value = "16M")]
    pub recv_buffer: u64,
    #[command(flatten)]
    pub security: SecurityArgs,
    #[command(flatten)]
    pub turn: crate::common::TurnArgs,
    #[command(flatten)]
    pub options: OptionArgs,
}

/// `rtmfp echo` makes an endpoint (with a server's identity).
pub const MAKER: Maker = Maker {
    object: Object::Endpoint,
    command: "echo",
    without: &[],
};

/// The endpoint's options: a server's identity (`server`), the flags
/// that have a row (`--listen` as `bind`, `--hostname`, `--recv-buffer`
/// as `receive_buffer`, `--turn`), then every `--option`.
fn echo_options(args: &EchoArgs) -> Result<Options> {
    let mut flags = Flags::new();
    flags.set("server", "server", OptionValue::Bool(true))?;
    flags.set(
        "bind",
        "--listen",
        OptionValue::Addresses(args.listen.clone()),
    )?;
    if let Some(h) = &args.hostname {
        flags.set("hostname", "--hostname", OptionValue::Text(h.clone()))?;
    }
    let buffer = OptionValue::Int(args.recv_buffer.into());
    flags.set("receive_buffer", "--recv-buffer", buffer)?;
    args.turn.set(&mut flags)?;
    MAKER.options(&args.options.option, flags)
}

/// Counters of an [`EchoServer`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    /// Sessions open now.
    pub sessions_open: usize,
    /// Sessions opened so far.
    pub sessions_total: u64,
    /// Messages received.
    pub messages_in: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Messages queued back on return flows.
    pub messages_out: u64,
    /// Bytes queued back on return flows.
    pub bytes_out: u64,
}

/// One incoming flow being echoed.
struct Echo {
    /// The return flow; `None` if it could not be opened or was rejected.
    ret: Option<FlowId>,
    /// Messages waiting for room on the return flow, oldest first.
    pending: VecDeque<Vec<u8>>,
    /// The incoming flow is suspended while `pending` is not empty.
    suspended: bool,
    /// The incoming flow finished; close the return flow once drained.
    finished: bool,
}

/// Echo state, touched only on the I/O thread (inside `Handle::call`).
#[derive(Default)]
struct EchoState {
    /// By (session, receiving flow).
    flows: HashMap<(SessionHandle, FlowId), Echo>,
    /// Return flow → receiving flow.
    by_return: HashMap<(SessionHandle, FlowId), FlowId>,
}

fn would_block(e: &EndpointError) -> bool {
    matches!(e, EndpointError::Flow(FlowError::WouldBlock))
}

impl EchoState {
    /// Handles a batch of events on the I/O thread; returns the messages
    /// and bytes sent back.
    fn apply(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        sink: bool,
        events: Vec<Event>,
    ) -> (u64, u64) {
        let (mut msgs, mut bytes) = (0u64, 0u64);
        for event in events {
            match event {
                Event::FlowOpened {
                    session,
                    flow,
                    mut metadata,
                    ..
                } => {
                    if ep
                        .accept_flow(now, session, flow, DeliveryOrder::Sequence)
                        .is_err()
                        || sink
                    {
                        continue;
                    }
                    metadata.extend_from_slice(b" return");
                    metadata.truncate(512);
                    let ret = ep
                        .open_flow(session, &metadata, Priority::Routine, Some(flow))
                        .ok();
                    if let Some(r) = ret {
                        self.by_return.insert((session, r), flow);
                    }
                    self.flows.insert(
                        (session, flow),
                        Echo {
                            ret,
                            pending: VecDeque::new(),
                            suspended: false,
                            finished: false,
                        },
                    );
                }
                Event::Message {
                    session,
                    flow,
                    data,
                    ..
                } => {
                    let Some(echo) = self.flows.get_mut(&(session, flow)) else {
                        continue;
                    };
                    let Some(ret) = echo.ret else { continue };
                    if !echo.pending.is_empty() {
                        echo.pending.push_back(data);
                        continue;
                    }
                    match ep.send(now, session, ret, &data, MessageOptions::default()) {
                        Ok(_) => {
                            msgs += 1;
                            bytes += data.len() as u64;
                        }
                        Err(e) if would_block(&e) => {
                            echo.pending.push_back(data);
                            if !echo.suspended {
                                let _ = ep.set_flow_suspended(now, session, flow, true);
                                echo.suspended = true;
                            }
                        }
                        Err(_) => echo.ret = None,
                    }
                }
                Event::FlowWritable { session, flow } => {
                    let Some(&recv) = self.by_return.get(&(session, flow)) else {
                        continue;
                    };
                    let Some(echo) = self.flows.get_mut(&(session, recv)) else {
                        continue;
                    };
                    while let Some(front) = echo.pending.front() {
                        match ep.send(now, session, flow, front, MessageOptions::default()) {
                            Ok(_) => {
                                msgs += 1;
                                bytes += front.len() as u64;
                                echo.pending.pop_front();
                            }
                            Err(e) if would_block(&e) => break,
                            Err(_) => {
                                echo.pending.clear();
                                echo.ret = None;
                            }
                        }
                    }
                    if echo.pending.is_empty() {
                        if echo.suspended {
                            let _ = ep.set_flow_suspended(now, session, recv, false);
                            echo.suspended = false;
                        }
                        if echo.finished {
                            let _ = ep.close_flow(now, session, flow);
                        }
                    }
                }
                Event::FlowFinished { session, flow } => {
                    let Some(echo) = self.flows.get_mut(&(session, flow)) else {
                        continue;
                    };
                    echo.finished = true;
                    match echo.ret {
                        Some(ret) if echo.pending.is_empty() => {
                            let _ = ep.close_flow(now, session, ret);
                        }
                        Some(_) => {}
                        None => {
                            self.flows.remove(&(session, flow));
                        }
                    }
                }
                Event::FlowComplete { session, flow }
                | Event::FlowRejected { session, flow, .. } => {
                    let Some(recv) = self.by_return.remove(&(session, flow)) else {
                        continue;
                    };
                    if let Some(echo) = self.flows.get_mut(&(session, recv)) {
                        echo.ret = None;
                        echo.pending.clear();
                        if echo.suspended {
                            let _ = ep.set_flow_suspended(now, session, recv, false);
                        }
                        if echo.finished {
                            self.flows.remove(&(session, recv));
                        }
                    }
                }
                Event::SessionClosed { session, .. } => {
                    self.flows.retain(|(s, _), _| *s != session);
                    self.by_return.retain(|(s, _), _| *s != session);
                }
                _ => {}
            }
        }
        (msgs, bytes)
    }
}

/// An echo/sink server over a runtime: reads its events and answers them.
pub struct EchoServer {
    handle: Handle,
    sink: bool,
    state: Arc<Mutex<EchoState>>,
    pub totals: Totals,
}

/// Events taken from the queue per batch (one call to the I/O thread).
const BATCH: usize = 512;

impl EchoServer {
    pub fn new(handle: Handle, sink: bool) -> EchoServer {
        EchoServer {
            handle,
            sink,
            state: Arc::default(),
            totals: Totals::default(),
        }
    }

    /// Waits up to `wait` for events and handles what has arrived.  Lines
    /// worth printing (sessions opening and closing) go to `notes`.
    /// Returns `false` once the runtime has stopped.
    pub fn step(&mut self, wait: Duration, notes: &mut Vec<String>) -> bool {
        let Some(first) = self.handle.next_event_timeout(wait) else {
            return !self.handle.is_closed();
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match self.handle.try_next_event() {
                Some(e) => batch.push(e),
                None => break,
            }
        }
        let mut work = Vec::new();
        for event in batch {
            match &event {
                Event::SessionOpened {
                    session,
                    far_address,
                    far_peer_id,
                    ..
                } => {
                    self.totals.sessions_open += 1;
                    self.totals.sessions_total += 1;
                    notes.push(format!(
                        "session {} open: {far_address} peer {}",
                        session.0,
                        far_peer_id.map(|p| hex(&p)).unwrap_or_else(|| "?".into())
                    ));
                }
                Event::SessionClosed { session, reason } => {
                    self.totals.sessions_open = self.totals.sessions_open.saturating_sub(1);
                    notes.push(format!(
                        "session {} closed: {}",
                        session.0,
                        describe_close(*reason)
                    ));
                    if !self.sink {
                        work.push(event);
                    }
                }
                Event::Message { data, .. } => {
                    self.totals.messages_in += 1;
                    self.totals.bytes_in += data.len() as u64;
                    if !self.sink {
                        work.push(event);
                    }
                }
                Event::FlowOpened { .. } => work.push(event),
                Event::FlowWritable { .. }
                | Event::FlowFinished { .. }
                | Event::FlowComplete { .. }
                | Event::FlowRejected { .. }
                    if !self.sink =>
                {
                    work.push(event)
                }
                _ => {}
            }
        }
        if !work.is_empty() {
            let state = self.state.clone();
            let sink = self.sink;
            let sent = self.handle.call(move |ep, now| {
                state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .apply(ep, now, sink, work)
            });
            match sent {
                Ok((m, b)) => {
                    self.totals.messages_out += m;
                    self.totals.bytes_out += b;
                }
                Err(_) => return false,
            }
        }
        true
    }
}

pub fn run(args: EchoArgs) -> Result<()> {
    if MAKER.help_asked(&args.options.option) {
        return Ok(());
    }
    install_signal_handlers();
    let opts = echo_options(&args)?;
    let flash = args.security.apply(opts.flash(Object::Endpoint));
    let hostname = flash
        .hostname
        .as_ref()
        .map(|h| String::from_utf8_lossy(h).into_owned());
    let (crypto, id) = identity(flash)?;
    let rc = opts
        .runtime_config(Object::Endpoint, crypto)
        .map_err(options::failure)?;
    let bind = rc.bind.clone();
    let rt = Runtime::start(rc).map_err(|e| {
        let addrs: Vec<String> = bind.iter().map(|a| a.to_string()).collect();
        fail(format!("cannot listen on {}: {e}", addrs.join(", ")))
    })?;
    println!("fingerprint {}", hex(&id));
    for a in rt.local_addrs() {
        println!("listening {a}");
    }
    crate::common::print_relayed(rt.handle().relayed_addr());
    println!(
        "mode {}{}",
        if args.sink { "sink" } else { "echo" },
        hostname
            .as_deref()
            .map(|h| format!(", hostname {h}"))
            .unwrap_or_default()
    );
    let mut server = EchoServer::new(rt.handle(), args.sink);
    let mut notes = Vec::new();
    let start = Instant::now();
    let cpu0 = CpuTime::now();
    let mut last = (Instant::now(), server.totals, cpu0);
    while !stop_requested() {
        if !server.step(Duration::from_millis(100), &mut notes) {
            return Err(fail("the runtime stopped"));
        }
        for n in notes.drain(..) {
            println!("{n}");
        }
        if args.progress && last.0.elapsed() >= Duration::from_secs(1) {
            let (t0, before, cpu_before) = last;
            let now = Instant::now();
            let cpu = CpuTime::now();
            let secs = now.duration_since(t0).as_secs_f64();
            let t = server.totals;
            println!(
                "stats sessions {} ({} total) | in {:.0} msg/s {:.2} MB/s | out {:.0} msg/s {:.2} MB/s | cpu {:.0}%",
                t.sessions_open,
                t.sessions_total,
                (t.messages_in - before.messages_in) as f64 / secs,
                (t.bytes_in - before.bytes_in) as f64 / secs / 1e6,
                (t.messages_out - before.messages_out) as f64 / secs,
                (t.bytes_out - before.bytes_out) as f64 / secs / 1e6,
                cpu.since(cpu_before).total().as_secs_f64() / secs * 100.0,
            );
            last = (now, t, cpu);
        }
    }
    println!("shutting down");
    let report = rt.shutdown(Duration::from_secs(2));
    let t = server.totals;
    let cpu = CpuTime::now().since(cpu0);
    println!(
        "totals sessions {} | in {} msgs {} bytes | out {} msgs {} bytes | {:.1} s, cpu {:.2} s | {}",
        t.sessions_total,
        t.messages_in,
        t.bytes_in,
        t.messages_out,
        t.bytes_out,
        start.elapsed().as_secs_f64(),
        cpu.total().as_secs_f64(),
        if report.clean {
            "closed cleanly"
        } else {
            "some sessions did not acknowledge the close"
        }
    );
    Ok(())
}
