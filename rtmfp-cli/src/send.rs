//! `rtmfp send`: a bulk or real-time sender.
//!
//! One session, one sending flow.  Bulk mode keeps the flow's send buffer
//! full; with `--rate` messages are queued on a fixed schedule.  Write
//! receipts (delivered / abandoned) are counted; if the target echoes
//! (`rtmfp echo`, rtmfp-cpp's echoserver) the return flow is accepted and
//! with `--verify` every echoed byte is checked.

use crate::common::{
    describe_close, describe_open_failure, fail, fill_message, fmt_bytes, fmt_ms, fmt_rate, hex,
    identity, install_signal_handlers, parse_bytes, parse_duration, parse_listen,
    parse_message_size, parse_peer_id, parse_priority, parse_rate, parse_target, stop_requested,
    CliError, Progress, Result, SecurityArgs, Target, RECV_BUFFER,
};
use crate::options::{self, Flags, Maker, OptionArgs};
use clap::{ArgGroup, Args};
use rtmfp_core::crypto::flash::epd::{epd_for_fingerprint, epd_for_uri};
use rtmfp_core::crypto::PeerId;
use rtmfp_core::endpoint::{EndpointError, Event, SessionHandle, SessionInfo};
use rtmfp_core::flow::{FlowId, MessageId, MessageOptions, Priority};
use rtmfp_core::host::options::{Object, OptionValue};
use rtmfp_core::runtime::{Handle, Runtime};
use rtmfp_core::session::flows::FlowError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Send messages to a peer: bulk, or paced at --rate; reports
/// throughput, write receipts, RTT and congestion state.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("amount").args(["count", "duration", "bytes"])))]
pub struct SendArgs {
    /// rtmfp://host[:port]/app (port 1935 by default; the URI is sent as
    /// the endpoint discriminator) or host:port.
    #[arg(value_name = "TARGET", value_parser = parse_target)]
    pub target: Target,
    /// Require this peer ID (64 hex digits: the server's certificate
    /// fingerprint) instead of sending the URI.
    #[arg(long, value_name = "HEX", value_parser = parse_peer_id)]
    pub peer_id: Option<PeerId>,
    /// Real-time mode: queue messages at this many bits per second
    /// (e.g. 500k, 10M); without it, bulk mode keeps the flow full.
    #[arg(long, value_name = "BITS/S", value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Message size in bytes (K/M suffixes: 2^10, 2^20).
    #[arg(long, value_name = "BYTES", value_parser = parse_message_size, default_value = "16K")]
    pub size: usize,
    /// Send this many messages.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Send for this long (seconds; the default is 10 s).
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Send this many bytes (K/M/G suffixes; the last message may be
    /// shorter).
    #[arg(long, value_name = "N", value_parser = parse_bytes)]
    pub bytes: Option<u64>,
    /// Flow priority: 0-7 or background, bulk, data, routine, priority,
    /// immediate, flash, flash-override (4 and up are time critical).
    #[arg(long, value_parser = parse_priority, default_value = "routine")]
    pub priority: Priority,
    /// Abandon each message not delivered within MS milliseconds of
    /// queueing (counted as abandoned).
    #[arg(long, value_name = "MS")]
    pub deadline: Option<u64>,
    /// Check that every echoed message comes back byte for byte (needs an
    /// echo server).
    #[arg(long)]
    pub verify: bool,
    /// Give up opening the session after this long (seconds).
    #[arg(long, value_name = "SECS", value_parser = parse_duration, default_value = "10")]
    pub timeout: Duration,
    /// Local address to bind (default: any address, a free port, of the
    /// target's address family).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub bind: Option<SocketAddr>,
    /// No progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub security: SecurityArgs,
    #[command(flatten)]
    pub turn: crate::common::TurnArgs,
    #[command(flatten)]
    pub options: OptionArgs,
}

/// `rtmfp send` makes an endpoint (a client's identity).
pub const MAKER: Maker = Maker {
    object: Object::Endpoint,
    command: "send",
    without: &[],
};

/// How much to send.
#[derive(Debug, Clone, Copy)]
pub enum Amount {
    Count(u64),
    Bytes(u64),
    Time(Duration),
}

/// Whether to expect an echo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoMode {
    /// A sink: ignore return flows.
    Off,
    /// Use a return flow if one opens.
    Auto,
    /// Fail without one.
    Required,
}

/// A transfer to run on an open session and flow.
#[derive(Debug, Clone)]
pub struct Spec {
    pub size: usize,
    pub amount: Amount,
    pub rate: Option<f64>,
    pub deadline: Option<Duration>,
    pub verify: bool,
    pub echo: EchoMode,
    pub progress: bool,
}

/// What a transfer did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub sent_msgs: u64,
    pub sent_bytes: u64,
    pub delivered_msgs: u64,
    pub delivered_bytes: u64,
    pub abandoned_msgs: u64,
    /// First message queued → last write receipt.
    pub elapsed: Duration,
    pub echo_flow: bool,
    pub echoed_msgs: u64,
    pub echoed_bytes: u64,
    /// First message queued → last echoed message.
    pub echo_elapsed: Duration,
    pub verify_errors: u64,
    pub first_verify_error: Option<String>,
    pub interrupted: bool,
}

/// Messages queued per call to the I/O thread, at most.
const CALL_MESSAGES: u64 = 4096;
/// Bytes queued per call to the I/O thread, at most.
const CALL_BYTES: u64 = 8 << 20;
/// No event for this long while something is outstanding: stalled.
const STALL: Duration = Duration::from_secs(20);

fn would_block(e: &EndpointError) -> bool {
    matches!(e, EndpointError::Flow(FlowError::WouldBlock))
}

struct Queued {
    sent: u64,
    bytes: u64,
    blocked: bool,
    /// The one message shorter than `size` (the last in `Bytes` mode).
    short: Option<(MessageId, usize)>,
}

/// Sends on `flow` (open on `session`) as `spec` says and gathers write
/// receipts and echoes until everything is accounted for, `stop()` says
/// so, or something fails.  Closes the flow when the last message is
/// queued and any return flow has opened.
pub fn transfer(
    h: &Handle,
    session: SessionHandle,
    flow: FlowId,
    spec: &Spec,
    stop: &dyn Fn() -> bool,
) -> Result<Outcome> {
    let size = spec.size;
    // Total messages and the length of the last one, when known.
    let (total, last_len) = match spec.amount {
        Amount::Count(n) => (Some(n), size),
        Amount::Bytes(b) => {
            let n = b.div_ceil(size as u64);
            let last = (b - n.saturating_sub(1) * size as u64) as usize;
            (Some(n), last)
        }
        Amount::Time(_) => (None, size),
    };
    let len_of = move |seq: u64| {
        if Some(seq + 1) == total {
            last_len
        } else {
            size
        }
    };
    let template: Arc<Vec<u8>> = Arc::new({
        let mut v = vec![0u8; size];
        fill_message(0, &mut v);
        v
    });
    let options = MessageOptions {
        finish_within: spec.deadline,
        ..MessageOptions::default()
    };
    let mut out = Outcome::default();
    let mut progress = spec.progress.then(Progress::new);
    let mut scratch = vec![0u8; size];
    let mut short: Option<(MessageId, usize)> = None;
    let mut all_sent = false;
    let mut flow_closed = false;
    let mut blocked = false;
    let mut ret_flow: Option<FlowId> = None;
    let mut ret_finished = false;
    let mut next_echo_seq = 0u64;
    let start = Instant::now();
    let mut receipts_done_at: Option<Instant> = None;
    let mut last_activity = start;
    let mut last_progress = start;
    let per_msg = spec
        .rate
        .map(|r| Duration::from_secs_f64(size as f64 * 8.0 / r));
    let mut events = Vec::with_capacity(4096);

    loop {
        if stop() {
            out.interrupted = true;
            break;
        }
        let now = Instant::now();
        // 1. Queue what may go now.
        if !all_sent {
            let done = match spec.amount {
                Amount::Count(_) | Amount::Bytes(_) => Some(out.sent_msgs) >= total,
                Amount::Time(d) => now.duration_since(start) >= d,
            };
            if done {
                all_sent = true;
            } else if !blocked {
                let remaining = total.map_or(u64::MAX, |t| t - out.sent_msgs);
                let due = match per_msg {
                    None => remaining,
                    Some(p) => {
                        let k =
                            (now.duration_since(start).as_secs_f64() / p.as_secs_f64()) as u64 + 1;
                        k.saturating_sub(out.sent_msgs).min(remaining)
                    }
                };
                let want = due.min(CALL_MESSAGES);
                if want > 0 {
                    let first = out.sent_msgs;
                    let verify = spec.verify;
                    let tpl = template.clone();
                    let q = h.call(move |ep, now| {
                        let mut q = Queued {
                            sent: 0,
                            bytes: 0,
                            blocked: false,
                            short: None,
                        };
                        let mut buf = if verify { vec![0u8; size] } else { Vec::new() };
                        while q.sent < want && q.bytes < CALL_BYTES {
                            let seq = first + q.sent;
                            let len = len_of(seq);
                            let data: &[u8] = if verify {
                                fill_message(seq, &mut buf[..len]);
                                &buf[..len]
                            } else {
                                &tpl[..len]
                            };
                            match ep.send(now, session, flow, data, options) {
                                Ok(id) => {
                                    q.sent += 1;
                                    q.bytes += len as u64;
                                    if len != size {
                                        q.short = Some((id, len));
                                    }
                                }
                                Err(e) if would_block(&e) => {
                                    q.blocked = true;
                                    break;
                                }
                                Err(e) => return Err(e),
                            }
                        }
                        Ok(q)
                    })?;
                    let q = q.map_err(|e| fail(format!("send failed: {e}")))?;
                    out.sent_msgs += q.sent;
                    out.sent_bytes += q.bytes;
                    blocked = q.blocked;
                    if q.short.is_some() {
                        short = q.short;
                    }
                }
            }
        }
        // 2. Wait for events: not at all while there is more to queue in
        // bulk mode, until the next message is due in real-time mode.
        let wait = if all_sent || blocked {
            Duration::from_millis(20)
        } else if let Some(p) = per_msg {
            let next_due = p.mul_f64((out.sent_msgs) as f64);
            next_due
                .saturating_sub(start.elapsed())
                .min(Duration::from_millis(20))
        } else {
            Duration::ZERO
        };
        let first = if wait.is_zero() {
            h.try_next_event()
        } else {
            h.next_event_timeout(wait)
        };
        events.clear();
        events.extend(first);
        while events.len() < 4096 {
            match h.try_next_event() {
                Some(e) => events.push(e),
                None => break,
            }
        }
        let now = Instant::now();
        if !events.is_empty() {
            last_activity = now;
        }
        for e in events.drain(..) {
            match e {
                Event::MessageDelivered {
                    flow: f, message, ..
                } if f == flow => {
                    out.delivered_msgs += 1;
                    out.delivered_bytes += match short {
                        Some((id, len)) if id == message => len as u64,
                        _ => size as u64,
                    };
                    out.elapsed = now.duration_since(start);
                }
                Event::MessageAbandoned { flow: f, .. } if f == flow => {
                    out.abandoned_msgs += 1;
                    out.elapsed = now.duration_since(start);
                }
                Event::FlowWritable { flow: f, .. } if f == flow => blocked = false,
                Event::FlowRejected { flow: f, code, .. } if f == flow => {
                    return Err(fail(format!("the target rejected the flow (code {code})")));
                }
                Event::FlowOpened {
                    flow: rf,
                    association,
                    ..
                } => {
                    if association == Some(flow) && ret_flow.is_none() && spec.echo != EchoMode::Off
                    {
                        h.accept_flow(session, rf, Default::default())?;
                        ret_flow = Some(rf);
                        out.echo_flow = true;
                    } else {
                        h.reject_flow(session, rf, 0)?;
                    }
                }
                Event::Message {
                    flow: rf,
                    data,
                    gap_before,
                    ..
                } if Some(rf) == ret_flow => {
                    out.echoed_msgs += 1;
                    out.echoed_bytes += data.len() as u64;
                    out.echo_elapsed = now.duration_since(start);
                    if spec.verify {
                        let gaps_allowed = gap_before || out.abandoned_msgs > 0;
                        let seq = if data.len() >= 8 {
                            u64::from_le_bytes(data[..8].try_into().unwrap())
                        } else {
                            next_echo_seq
                        };
                        let problem = if seq < next_echo_seq
                            || (seq > next_echo_seq && !gaps_allowed)
                        {
                            Some(format!(
                                "echoed message {} came back as message {seq}",
                                next_echo_seq
                            ))
                        } else if data.len() != len_of(seq) {
                            Some(format!(
                                "echoed message {seq} has {} bytes, sent {}",
                                data.len(),
                                len_of(seq)
                            ))
                        } else {
                            fill_message(seq, &mut scratch[..data.len()]);
                            (scratch[..data.len()] != data[..])
                                .then(|| format!("echoed message {seq} differs from what was sent"))
                        };
                        if let Some(p) = problem {
                            out.verify_errors += 1;
                            out.first_verify_error.get_or_insert(p);
                        }
                        next_echo_seq = seq.max(next_echo_seq) + 1;
                    }
                }
                Event::FlowFinished { flow: rf, .. } if Some(rf) == ret_flow => ret_finished = true,
                Event::SessionClosed { reason, .. } => {
                    return Err(fail(format!(
                        "the session closed during the transfer: {} (sent {}, delivered {}, abandoned {})",
                        describe_close(reason),
                        out.sent_msgs,
                        out.delivered_msgs,
                        out.abandoned_msgs
                    )));
                }
                _ => {}
            }
        }
        // 3. Progress, once a second.
        if let Some(p) = progress.as_mut() {
            if now.duration_since(last_progress) >= Duration::from_secs(1) {
                last_progress = now;
                let info = h.session_info(session)?;
                p.update(&progress_line(start.elapsed(), &out, info.as_ref()));
            }
        }
        // 4. Close the flow once everything is queued, but not before the
        // echo's return flow has opened: a return flow associated with a
        // flow that is no longer open is rejected (RFC 7016 §3.6.3.1 step 7).
        if all_sent && !flow_closed && (spec.echo == EchoMode::Off || ret_flow.is_some()) {
            flow_closed = true;
            let _ = h.close_flow(session, flow);
        }
        // 5. Done?
        let receipts_done = all_sent && out.delivered_msgs + out.abandoned_msgs >= out.sent_msgs;
        if receipts_done {
            let at = *receipts_done_at.get_or_insert(now);
            let echo_done = match (spec.echo, ret_flow) {
                (EchoMode::Off, _) => true,
                (_, Some(_)) => ret_finished || out.echoed_msgs >= out.sent_msgs,
                (EchoMode::Auto, None) => now.duration_since(at) > Duration::from_millis(500),
                (EchoMode::Required, None) => {
                    if now.duration_since(at) > Duration::from_secs(3) {
                        return Err(fail(
                            "no echo: the target opened no return flow (is it an echo server?)",
                        ));
                    }
                    false
                }
            };
            if echo_done {
                if !flow_closed {
                    let _ = h.close_flow(session, flow);
                }
                break;
            }
        }
        if now.duration_since(last_activity) > STALL {
            return Err(fail(format!(
                "stalled: nothing happened for {} s (sent {}, delivered {}, abandoned {}, echoed {})",
                STALL.as_secs(),
                out.sent_msgs,
                out.delivered_msgs,
                out.abandoned_msgs,
                out.echoed_msgs
            )));
        }
    }
    if let Some(p) = progress.as_mut() {
        p.finish();
    }
    Ok(out)
}

fn progress_line(elapsed: Duration, out: &Outcome, info: Option<&SessionInfo>) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut line = format!(
        "{:6.1} s  sent {}  delivered {} msgs {:.2} MB/s  abandoned {}",
        secs,
        fmt_bytes(out.sent_bytes),
        out.delivered_msgs,
        out.delivered_bytes as f64 / secs / 1e6,
        out.abandoned_msgs
    );
    if out.echo_flow {
        line += &format!("  echoed {}", out.echoed_msgs);
    }
    if let Some(i) = info {
        if let Some(srtt) = i.stats.srtt {
            line += &format!("  srtt {}", fmt_ms(srtt));
        }
        line += &format!(
            "  cwnd {}  retx {}",
            fmt_bytes(i.stats.flows.cwnd as u64),
            i.stats.flows.retransmissions
        );
    }
    line
}

/// Waits for `session` to open; the far address, peer ID and how long it
/// took.
pub fn wait_open(
    h: &Handle,
    session: SessionHandle,
    timeout: Duration,
    stop: &dyn Fn() -> bool,
) -> Result<(SocketAddr, Option<PeerId>)> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline && !stop() {
        match h.next_event_timeout(Duration::from_millis(50)) {
            Some(Event::SessionOpened {
                session: s,
                far_address,
                far_peer_id,
                ..
            }) if s == session => return Ok((far_address, far_peer_id)),
            Some(Event::SessionOpenFailed { session: s, reason }) if s == session => {
                return Err(fail(describe_open_failure(reason)));
            }
            _ => {}
        }
    }
    let _ = h.close_session(session, true);
    if stop() {
        Err(fail("interrupted"))
    } else {
        Err(fail(format!(
            "no answer within {} s",
            timeout.as_secs_f64()
        )))
    }
}

pub fn run(args: SendArgs) -> Result<()> {
    if MAKER.help_asked(&args.options.option) {
        return Ok(());
    }
    install_signal_handlers();
    // The endpoint's options: its own receive buffer (RECV_BUFFER), the
    // flags that have a row (`--bind`, `--turn`), then every `--option`;
    // without a bind address, one of the target's family.
    let mut flags = Flags::new();
    let buffer = OptionValue::Int(RECV_BUFFER as i128);
    flags.set("receive_buffer", "receive_buffer", buffer)?;
    if let Some(bind) = args.bind {
        flags.set("bind", "--bind", OptionValue::Addresses(vec![bind]))?;
    }
    args.turn.set(&mut flags)?;
    let mut opts = MAKER.options(&args.options.option, flags)?;
    let mut addrs = args.target.addresses().map_err(CliError::Usage)?;
    if !opts.is_set("bind") {
        let any: std::net::SocketAddr = if addrs[0].is_ipv6() {
            "[::]:0".parse().unwrap()
        } else {
            "0.0.0.0:0".parse().unwrap()
        };
        opts.set("bind", OptionValue::Addresses(vec![any]))
            .map_err(options::refused)?;
    }
    let bind = opts.bind(Object::Endpoint);
    addrs.retain(|a| bind.iter().any(|b| b.is_ipv6() == a.is_ipv6()));
    let shown: Vec<String> = bind.iter().map(|a| a.to_string()).collect();
    let shown = shown.join(", ");
    if addrs.is_empty() {
        return Err(CliError::Usage(format!(
            "{} has no address of the same family as --bind {shown}",
            args.target
        )));
    }
    let (crypto, _id) = identity(args.security.apply(opts.flash(Object::Endpoint)))?;
    let rc = opts
        .runtime_config(Object::Endpoint, crypto)
        .map_err(options::failure)?;
    let rt = Runtime::start(rc).map_err(|e| fail(format!("cannot bind {shown}: {e}")))?;
    crate::common::print_relayed(rt.handle().relayed_addr());
    let epd = match &args.peer_id {
        Some(id) => epd_for_fingerprint(id),
        None => epd_for_uri(&args.target.uri(), None),
    };
    let t0 = Instant::now();
    let session = rt.connect(epd, &addrs)?;
    let (far, far_id) = wait_open(&rt, session, args.timeout, &stop_requested)
        .map_err(|e| fail(format!("cannot open a session to {}: {e}", args.target)))?;
    let handshake = t0.elapsed();
    println!(
        "session     {far} peer {} opened in {}",
        far_id.map(|p| hex(&p)).unwrap_or_else(|| "?".into()),
        fmt_ms(handshake)
    );
    let flow = rt.open_flow(session, b"rtmfp send", args.priority, None)?;
    let amount = match (args.count, args.bytes, args.duration) {
        (Some(n), _, _) => Amount::Count(n),
        (_, Some(b), _) => Amount::Bytes(b),
        (_, _, Some(d)) => Amount::Time(d),
        _ => Amount::Time(Duration::from_secs(10)),
    };
    let spec = Spec {
        size: args.size,
        amount,
        rate: args.rate,
        deadline: args.deadline.map(Duration::from_millis),
        verify: args.verify,
        echo: if args.verify {
            EchoMode::Required
        } else {
            EchoMode::Auto
        },
        progress: !args.quiet,
    };
    let out = transfer(&rt, session, flow, &spec, &stop_requested)?;
    let info = rt.session_info(session)?;
    let _ = rt.close_session(session, false);
    let report = rt.shutdown(Duration::from_secs(1));

    println!(
        "mode        {}, {} B messages, priority {:?}{}",
        match args.rate {
            Some(r) => format!("real-time at {:.3} Mbit/s", r / 1e6),
            None => "bulk".into(),
        },
        args.size,
        args.priority,
        args.deadline
            .map(|d| format!(", deadline {d} ms"))
            .unwrap_or_default()
    );
    println!(
        "messages    {} sent, {} delivered, {} abandoned (write receipts){}",
        out.sent_msgs,
        out.delivered_msgs,
        out.abandoned_msgs,
        if out.interrupted { "; interrupted" } else { "" }
    );
    println!(
        "throughput  {} delivered in {:.3} s: {}",
        fmt_bytes(out.delivered_bytes),
        out.elapsed.as_secs_f64(),
        fmt_rate(out.delivered_bytes, out.elapsed)
    );
    if out.echo_flow {
        println!(
            "echo        {} received, {} in {:.3} s: {}{}",
            out.echoed_msgs,
            fmt_bytes(out.echoed_bytes),
            out.echo_elapsed.as_secs_f64(),
            fmt_rate(out.echoed_bytes, out.echo_elapsed),
            if !args.verify {
                String::new()
            } else if out.verify_errors == 0 {
                ", verified: every byte exact".into()
            } else {
                format!(", VERIFY FAILED: {} bad", out.verify_errors)
            }
        );
    } else {
        println!("echo        none (no return flow)");
    }
    if let Some(i) = &info {
        let s = &i.stats;
        println!(
            "rtt         srtt {}, rttvar {}, erto {}, handshake {}",
            s.srtt.map(fmt_ms).unwrap_or_else(|| "-".into()),
            fmt_ms(s.rttvar),
            fmt_ms(s.erto),
            fmt_ms(handshake)
        );
        println!(
            "congestion  cwnd {} B, ssthresh {}, loss events {}, timeouts {}, retransmitted fragments {}",
            s.flows.cwnd,
            if s.flows.ssthresh == usize::MAX {
                "-".to_string()
            } else {
                format!("{} B", s.flows.ssthresh)
            },
            s.flows.loss_events,
            s.flows.timeouts,
            s.flows.retransmissions
        );
        println!(
            "packets     {} out, {} in; {} out, {} in",
            s.packets_out,
            s.packets_in,
            fmt_bytes(s.bytes_out),
            fmt_bytes(s.bytes_in)
        );
    }
    println!("io          {}", report.stats.io);
    if out.verify_errors > 0 {
        return Err(fail(format!(
            "verification failed: {} bad echoed messages; first: {}",
            out.verify_errors,
            out.first_verify_error.unwrap_or_default()
        )));
    }
    if args.verify && out.echoed_msgs < out.delivered_msgs && !out.interrupted {
        return Err(fail(format!(
            "verification failed: {} messages delivered but {} echoed",
            out.delivered_msgs, out.echoed_msgs
        )));
    }
    Ok(())
}
