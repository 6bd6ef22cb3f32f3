//! One open session (RFC 7016 §3.5): timestamps and RTT, keepalive,
//! address mobility and close.  The endpoint owns sessions; a session
//! builds and protects its own packets.

pub mod flows;
pub mod mobility;
pub mod pacing;
pub mod rtt;

use crate::crypto::{PeerId, SessionCrypto};
use crate::endpoint::schedule::Slot;
use crate::endpoint::{CloseReason, Event, Role, SessionHandle};
use crate::flow::congestion::TcContext;
use crate::flow::FlowLimits;
use crate::wire::multiplex::{fill_session_id, SSID_LEN};
use crate::wire::packet::{FLAG_TC, FLAG_TCR};
use crate::wire::{chunk::chunk_type, Chunk, Mode, PacketBuilder, PacketHeader};
use flows::{FlowStats, Flows};
use mobility::Mobility;
use rtt::RttState;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Close Request retransmission period in S_NEARCLOSE (§3.5.5).
const CLOSE_RESEND: Duration = Duration::from_secs(5);
/// Longest stay in S_NEARCLOSE (§3.5.5).
const NEARCLOSE_TIMEOUT: Duration = Duration::from_secs(90);
/// Stay in S_FARCLOSE_LINGER (§3.5.5).
const FARCLOSE_LINGER: Duration = Duration::from_secs(19);

/// Session states after opening (§3.5, Figure 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// S_OPEN.
    Open,
    /// S_NEARCLOSE: this end asked to close; Close Requests are resent.
    NearClose {
        /// When the state was entered.
        since: Instant,
        /// When the next Close Request goes out.
        next_close: Instant,
    },
    /// S_FARCLOSE_LINGER: the far end closed; this end answers its
    /// retransmitted Close Requests for a while.
    FarCloseLinger {
        /// When the state was entered.
        since: Instant,
    },
    /// S_CLOSED.
    Closed,
}

/// Per-session counters and estimates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionStats {
    /// Packets received and verified.
    pub packets_in: u64,
    /// Packets sent.
    pub packets_out: u64,
    /// Datagram bytes received.
    pub bytes_in: u64,
    /// Datagram bytes sent.
    pub bytes_out: u64,
    /// Smoothed RTT, once measured.
    pub srtt: Option<Duration>,
    /// RTT variance.
    pub rttvar: Duration,
    /// Effective retransmission timeout.
    pub erto: Duration,
    /// Keepalive Pings sent.
    pub keepalives_sent: u64,
    /// Far-address changes accepted.
    pub address_changes: u64,
    /// Flow and congestion control counters.
    pub flows: FlowStats,
}

/// A chunk waiting to be sent, with an optional destination other than
/// DESTADDR (a mobility check goes to the new address).
#[derive(Debug)]
struct PendingChunk {
    bytes: Vec<u8>,
    destination: Option<SocketAddr>,
}

/// What the keying produced, to build a session from.
pub struct SessionSetup {
    /// The application's handle.
    pub handle: SessionHandle,
    /// Which end this is.
    pub role: Role,
    /// Session ID the far end puts on packets to us.
    pub rx_session_id: u32,
    /// Session ID we put on packets to the far end.
    pub tx_session_id: u32,
    /// DESTADDR.
    pub dest_addr: SocketAddr,
    /// The far end's certificate.
    pub far_cert: Vec<u8>,
    /// The far end's canonical EPD, if the profile gives one.
    pub far_canonical_epd: Option<Vec<u8>>,
    /// The far end's peer ID.
    pub far_peer_id: Option<PeerId>,
    /// The session keys.
    pub crypto: Box<dyn SessionCrypto>,
    /// NEAR_NONCE.
    pub near_nonce: Vec<u8>,
    /// FAR_NONCE.
    pub far_nonce: Vec<u8>,
    /// Origin of this endpoint's timestamp clock.
    pub epoch: Instant,
    /// A fresh 128-bit MOB_SECRET.
    pub mobility_secret: [u8; 16],
    /// Responder only: what to resend for a retransmitted IIKeying.
    pub responder_replay: Option<ResponderReplay>,
}

/// What a responder needs to answer a retransmitted IIKeying
/// idempotently (§3.5.1.1.2 step 2.1).
#[derive(Debug, Clone)]
pub struct ResponderReplay {
    /// The initiator's session ID.
    pub initiator_session_id: u32,
    /// The initiator's SKIC.
    pub skic: Vec<u8>,
    /// The RIKeying chunk sent, encoded whole.
    pub rikeying_chunk: Vec<u8>,
}

/// Timing settings a session needs.
#[derive(Debug, Clone, Copy)]
pub struct SessionTimers {
    /// Idle time before a keepalive Ping.
    pub keepalive_interval: Duration,
    /// Idle time before the session is declared dead.
    pub idle_timeout: Duration,
    /// Largest datagram to send.
    pub max_datagram: usize,
    /// Buffer limits of new flows.
    pub flow_limits: FlowLimits,
}

/// An open (or closing) session.
pub struct Session {
    /// The application's handle.
    pub handle: SessionHandle,
    /// Which end started the session.
    pub role: Role,
    /// When it opened.
    pub opened_at: Instant,
    /// Current state.
    pub state: SessionState,
    /// Session ID the far end uses to reach us.
    pub rx_session_id: u32,
    tx_session_id: u32,
    /// DESTADDR.
    pub dest_addr: SocketAddr,
    /// The far end's certificate.
    pub far_cert: Vec<u8>,
    /// The far end's canonical EPD.
    pub far_canonical_epd: Option<Vec<u8>>,
    /// The far end's peer ID.
    pub far_peer_id: Option<PeerId>,
    crypto: Box<dyn SessionCrypto>,
    /// Responder only: for retransmitted IIKeying.
    pub responder_replay: Option<ResponderReplay>,
    rtt: RttState,
    mobility: Mobility,
    timers: SessionTimers,
    last_rx: Instant,
    keepalive_sent_at: Option<Instant>,
    pending: VecDeque<PendingChunk>,
    closed_event_sent: bool,
    stats: SessionStats,
    /// The session's flows.
    pub flows: Flows,
    /// Its place in the endpoint's schedule (timers, readiness).
    pub(crate) slot: Slot,
    /// The address it is indexed under as an open session, if any.
    pub(crate) indexed_addr: Option<SocketAddr>,
}

impl Session {
    /// A new S_OPEN session.
    pub fn new(setup: SessionSetup, timers: SessionTimers, now: Instant) -> Self {
        Session {
            handle: setup.handle,
            role: setup.role,
            opened_at: now,
            state: SessionState::Open,
            rx_session_id: setup.rx_session_id,
            tx_session_id: setup.tx_session_id,
            dest_addr: setup.dest_addr,
            far_cert: setup.far_cert,
            far_canonical_epd: setup.far_canonical_epd,
            far_peer_id: setup.far_peer_id,
            crypto: setup.crypto,
            responder_replay: setup.responder_replay,
            rtt: RttState::new(setup.epoch),
            mobility: Mobility::new(setup.mobility_secret, setup.epoch),
            timers,
            last_rx: now,
            keepalive_sent_at: None,
            pending: VecDeque::new(),
            closed_event_sent: false,
            stats: SessionStats::default(),
            flows: Flows::new(timers.flow_limits),
            slot: Slot::default(),
            indexed_addr: None,
        }
    }

    /// The packet mode this end marks its packets with (§2.2.4).
    fn near_mode(&self) -> Mode {
        match self.role {
            Role::Initiator => Mode::Initiator,
            Role::Responder => Mode::Responder,
        }
    }

    /// The mode the far end's packets carry.
    pub fn far_mode(&self) -> Mode {
        match self.role {
            Role::Initiator => Mode::Responder,
            Role::Responder => Mode::Initiator,
        }
    }

    /// Decrypts and verifies a packet for this session into `out`.
    pub fn decrypt(
        &mut self,
        encrypted: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), crate::crypto::CryptoError> {
        self.crypto.decrypt(encrypted, out)
    }

    /// Bookkeeping for a verified packet, before its chunks are handled.
    pub fn on_packet(&mut self, now: Instant, datagram_len: usize, header: &PacketHeader) {
        let (timestamp, echo) = (header.timestamp, header.timestamp_echo);
        if header.time_critical {
            self.flows.tc_received.mark(now);
        }
        if header.time_critical_reverse {
            self.flows.tcr_received.mark(now);
        }
        self.flows.begin_packet();
        self.stats.packets_in += 1;
        self.stats.bytes_in += datagram_len as u64;
        self.last_rx = now;
        self.keepalive_sent_at = None;
        self.rtt.on_receive(now, timestamp, echo);
    }

    /// Whether the session can still exchange packets.
    pub fn is_live(&self) -> bool {
        !matches!(self.state, SessionState::Closed)
    }

    /// Handles a session chunk.  Returns false if the chunk is not one a
    /// session handles (the endpoint deals with it).
    pub fn handle_chunk(
        &mut self,
        now: Instant,
        source: SocketAddr,
        chunk: &Chunk<'_>,
        events: &mut VecDeque<Event>,
    ) -> bool {
        match *chunk {
            Chunk::Ping(message) => {
                // §3.5.4: reply in S_OPEN, copying the message.
                if self.state == SessionState::Open {
                    self.queue(&Chunk::PingReply(message), None);
                }
            }
            Chunk::PingReply(message) => {
                if Mobility::is_mobility_message(message) {
                    if self.state == SessionState::Open
                        && self.mobility.accept_reply(now, source, message)
                        && source != self.dest_addr
                    {
                        let from = self.dest_addr;
                        self.dest_addr = source;
                        self.stats.address_changes += 1;
                        events.push_back(Event::FarAddressChanged {
                            session: self.handle,
                            from,
                            to: source,
                        });
                    }
                } else {
                    self.keepalive_sent_at = None;
                }
            }
            Chunk::Close => {
                // §3.5.5: answer with Close Ack; S_OPEN lingers.
                if self.state != SessionState::Closed {
                    self.queue(&Chunk::CloseAck, None);
                }
                if self.state == SessionState::Open {
                    self.state = SessionState::FarCloseLinger { since: now };
                    self.emit_closed(now, CloseReason::Remote, events);
                }
            }
            Chunk::CloseAck => {
                let reason = match self.state {
                    SessionState::NearClose { .. } => CloseReason::Local,
                    _ => CloseReason::Remote,
                };
                if self.state != SessionState::Closed {
                    self.state = SessionState::Closed;
                    self.emit_closed(now, reason, events);
                }
            }
            _ => {
                // Flows only exist in S_OPEN sessions (§3.5.5).
                if self.state != SessionState::Open {
                    return matches!(
                        chunk,
                        Chunk::UserData(_)
                            | Chunk::NextUserData(_)
                            | Chunk::BitmapAck(_)
                            | Chunk::RangeAck(_)
                            | Chunk::BufferProbe(_)
                            | Chunk::FlowException(_)
                    );
                }
                return self.flows.handle_chunk(now, chunk);
            }
        }
        true
    }

    /// After a verified packet's chunks: flow bookkeeping, then a mobility
    /// check if it came from an address other than DESTADDR (§3.5.4.2).
    /// `tc_sent_anywhere`: a TC packet went out on any session in the last
    /// 800 ms (§3.5.2.1).
    pub fn after_packet(
        &mut self,
        now: Instant,
        source: SocketAddr,
        tc_sent_anywhere: bool,
        events: &mut VecDeque<Event>,
    ) {
        if self.state == SessionState::Open {
            let tc = TcContext {
                tc_sent_here: self.flows.tc_sent.recent(now),
                fastgrow_allowed: !self.flows.tcr_received.recent(now) && !tc_sent_anywhere,
            };
            self.flows
                .end_packet(now, self.rtt.erto(), tc, self.handle, events);
        }
        if self.state == SessionState::Open && source != self.dest_addr {
            if let Some(message) = self.mobility.check_message(now, source) {
                self.queue(&Chunk::Ping(&message), Some(source));
            }
        }
    }

    fn emit_closed(&mut self, now: Instant, reason: CloseReason, events: &mut VecDeque<Event>) {
        // Leaving S_OPEN aborts every flow (§3.5.5).
        self.flows.abort_all(now, self.handle, events);
        if !self.closed_event_sent {
            self.closed_event_sent = true;
            events.push_back(Event::SessionClosed {
                session: self.handle,
                reason,
            });
        }
    }

    /// A new session from the same identity overrode this one
    /// (§3.5.1.1.2 step 2.3): S_CLOSED, flows aborted.
    pub fn close_overridden(&mut self, now: Instant, events: &mut VecDeque<Event>) {
        self.state = SessionState::Closed;
        self.emit_closed(now, CloseReason::Overridden, events);
    }

    /// Starts an orderly close (S_OPEN → S_NEARCLOSE), or closes abruptly.
    pub fn close(&mut self, now: Instant, abrupt: bool, events: &mut VecDeque<Event>) {
        match self.state {
            SessionState::Open if !abrupt => {
                self.state = SessionState::NearClose {
                    since: now,
                    next_close: now + CLOSE_RESEND,
                };
                self.flows.abort_all(now, self.handle, events);
                self.queue(&Chunk::Close, None);
            }
            SessionState::Closed => {}
            _ => {
                self.queue(&Chunk::CloseAck, None);
                self.state = SessionState::Closed;
                self.emit_closed(now, CloseReason::LocalAbrupt, events);
            }
        }
    }

    /// Queues a chunk for the next packet.
    pub fn queue(&mut self, chunk: &Chunk<'_>, destination: Option<SocketAddr>) {
        let mut bytes = Vec::new();
        if chunk.encode(&mut bytes).is_ok() {
            self.pending.push_back(PendingChunk { bytes, destination });
        }
    }

    /// Queues an already encoded chunk.
    pub fn queue_encoded(&mut self, bytes: Vec<u8>) {
        self.pending.push_back(PendingChunk {
            bytes,
            destination: None,
        });
    }

    /// Runs timers: keepalive, idle death, close retransmission, linger.
    pub fn handle_timeout(&mut self, now: Instant, events: &mut VecDeque<Event>) {
        match self.state {
            SessionState::Open => {
                let idle = now.saturating_duration_since(self.last_rx);
                if idle >= self.timers.idle_timeout {
                    // The far end is gone: close abruptly (§3.5.4.1, §3.5.5).
                    self.queue(&Chunk::CloseAck, None);
                    self.state = SessionState::Closed;
                    self.emit_closed(now, CloseReason::IdleTimeout, events);
                    return;
                }
                if self.flows.next_timeout().is_some_and(|t| t <= now)
                    && self.flows.handle_timeout(now, self.handle, events)
                {
                    self.rtt.on_timeout();
                }
                if idle >= self.timers.keepalive_interval {
                    match self.keepalive_sent_at {
                        Some(sent) if now.saturating_duration_since(sent) < self.rtt.erto() => {}
                        Some(_) => {
                            // No reply within ERTO: back off (§3.5.4.1).
                            self.rtt.on_timeout();
                            self.send_keepalive(now);
                        }
                        None => self.send_keepalive(now),
                    }
                }
            }
            SessionState::NearClose { since, next_close } => {
                if now.saturating_duration_since(since) >= NEARCLOSE_TIMEOUT {
                    self.state = SessionState::Closed;
                    self.emit_closed(now, CloseReason::Local, events);
                } else if now >= next_close {
                    self.queue(&Chunk::Close, None);
                    self.state = SessionState::NearClose {
                        since,
                        next_close: now + CLOSE_RESEND,
                    };
                }
            }
            SessionState::FarCloseLinger { since } => {
                if now.saturating_duration_since(since) >= FARCLOSE_LINGER {
                    self.state = SessionState::Closed;
                }
            }
            SessionState::Closed => {}
        }
    }

    /// The idle time before a keepalive Ping on this session.
    pub fn keepalive_interval(&self) -> Duration {
        self.timers.keepalive_interval
    }

    /// Changes the idle time before a keepalive Ping on this session
    /// (for example as advised by RFC 7425 §5.3.4 Set Keepalive Timers).
    pub fn set_keepalive_interval(&mut self, interval: Duration) {
        self.timers.keepalive_interval = interval;
    }

    fn send_keepalive(&mut self, now: Instant) {
        self.keepalive_sent_at = Some(now);
        self.stats.keepalives_sent += 1;
        self.queue(&Chunk::Ping(&[]), None);
    }

    /// When [`Session::handle_timeout`] next has work.
    pub fn next_timeout(&self) -> Option<Instant> {
        match self.state {
            SessionState::Open => {
                let idle_deadline = self.last_rx + self.timers.idle_timeout;
                let keepalive = match self.keepalive_sent_at {
                    Some(sent) => sent + self.rtt.erto(),
                    None => self.last_rx + self.timers.keepalive_interval,
                };
                let flows = self.flows.next_timeout().unwrap_or(keepalive);
                Some(idle_deadline.min(keepalive).min(flows))
            }
            SessionState::NearClose { since, next_close } => {
                Some(next_close.min(since + NEARCLOSE_TIMEOUT))
            }
            SessionState::FarCloseLinger { since } => Some(since + FARCLOSE_LINGER),
            SessionState::Closed => None,
        }
    }

    /// How urgently this session wants to send: control chunks and acks
    /// rank above all data (9); otherwise the highest priority with data
    /// ready (0..=7) plus one.  `None` with nothing to send.
    pub fn send_rank(&mut self, now: Instant) -> Option<u8> {
        if !self.pending.is_empty() {
            return Some(9);
        }
        if self.state != SessionState::Open {
            return None;
        }
        if self.flows.wants_ack() {
            return Some(9);
        }
        self.flows
            .ready_priority(now, self.rtt.erto())
            .map(|p| p.level() + 1)
    }

    /// Whether packets are waiting to go out.
    pub fn has_pending(&mut self, now: Instant) -> bool {
        if !self.pending.is_empty() {
            return true;
        }
        self.state == SessionState::Open
            && (self.flows.wants_ack() || self.flows.can_send_data(now, self.rtt.erto()))
    }

    /// Whether the session is finished: closed with nothing left to send.
    pub fn is_finished(&self) -> bool {
        self.state == SessionState::Closed && self.pending.is_empty()
    }

    /// Builds the session's next datagrams, at most `outs.len()` of them,
    /// into `outs` (each cleared first), using `plains` (as long as
    /// `outs`) for their plain packets; pushes each one's destination and
    /// whether it was Time Critical onto `sent`, and returns how many.
    /// Each is what one call for one datagram would have built: control
    /// chunks, then acknowledgements, probes and user data by priority.
    /// `tcr`: set the Time Critical Reverse flag (TC packets are arriving
    /// on other sessions, §2.2.4).  They are encrypted together
    /// ([`SessionCrypto::encrypt_many`]).
    pub fn poll_datagrams(
        &mut self,
        now: Instant,
        max_datagram: usize,
        tcr: bool,
        plains: &mut [Vec<u8>],
        outs: &mut [Vec<u8>],
        sent: &mut Vec<(SocketAddr, bool)>,
    ) -> usize {
        let mut n = 0;
        while n < outs.len().min(plains.len()) {
            match self.build_plain(now, max_datagram, tcr, &mut plains[n]) {
                Some(s) => sent.push(s),
                None => break,
            }
            n += 1;
        }
        // Encrypted straight into the datagrams, behind room for the
        // scrambled session ID (RFC 7016 §2.2.2).
        for out in &mut outs[..n] {
            out.clear();
            out.extend_from_slice(&[0; SSID_LEN]);
        }
        self.crypto.encrypt_many(&plains[..n], &mut outs[..n]);
        for out in &mut outs[..n] {
            fill_session_id(self.tx_session_id, out);
            self.stats.packets_out += 1;
            self.stats.bytes_out += out.len() as u64;
        }
        n
    }

    /// Builds the next plain packet into `plain` (see
    /// [`Session::poll_datagrams`]); returns its destination and whether
    /// it is Time Critical, or `None` with nothing to send.
    fn build_plain(
        &mut self,
        now: Instant,
        max_datagram: usize,
        tcr: bool,
        plain: &mut Vec<u8>,
    ) -> Option<(SocketAddr, bool)> {
        let detour = self
            .pending
            .front()
            .and_then(|p| p.destination)
            .filter(|&d| d != self.dest_addr);
        let open = self.state == SessionState::Open && detour.is_none();
        let erto = self.rtt.erto();
        let want_ack = open && self.flows.wants_ack();
        let want_data = open && self.flows.can_send_data(now, erto);
        if self.pending.is_empty() && !want_ack && !want_data {
            return None;
        }
        let destination = detour.unwrap_or(self.dest_addr);
        let (timestamp, timestamp_echo) = self.rtt.on_send(now);
        let header = PacketHeader {
            time_critical: false,
            time_critical_reverse: false,
            mode: self.near_mode(),
            timestamp,
            timestamp_echo,
        };
        let budget = max_datagram.saturating_sub(SSID_LEN);
        let limit = self.crypto.max_plain_len(budget);
        plain.clear();
        let mut builder = PacketBuilder::new(&header, limit, plain);
        while let Some(next) = self.pending.front() {
            if next.destination.unwrap_or(self.dest_addr) != destination {
                break;
            }
            let bytes = &next.bytes;
            let fits = builder.push_raw(bytes[0], &bytes[crate::wire::packet::CHUNK_HEADER_LEN..]);
            if fits.is_err() {
                if builder.is_empty() {
                    // Can never fit: drop it rather than wedge the queue.
                    self.pending.pop_front();
                    continue;
                }
                break;
            }
            self.pending.pop_front();
        }
        let mut time_critical = false;
        if open {
            if want_ack {
                let primary = builder.is_empty();
                self.flows.write_acks(&mut builder, primary);
            }
            self.flows.write_probes(now, erto, &mut builder);
            let (data, tc) = self
                .flows
                .write_data(now, erto, self.rtt.srtt(), &mut builder);
            time_critical = tc;
            if data {
                self.flows.write_acks(&mut builder, false);
            }
        }
        if builder.is_empty() {
            return None;
        }
        builder.finish();
        if time_critical {
            plain[0] |= FLAG_TC;
            self.flows.tc_sent.mark(now);
        }
        if tcr {
            plain[0] |= FLAG_TCR;
        }
        Some((destination, time_critical))
    }

    /// The most user data one fragment can carry in this session.
    pub fn max_plain(&self) -> usize {
        let budget = self.timers.max_datagram.saturating_sub(SSID_LEN);
        self.crypto.max_plain_len(budget)
    }

    /// A snapshot of the counters and estimates.
    pub fn stats(&self) -> SessionStats {
        let mut stats = self.stats.clone();
        stats.srtt = self.rtt.srtt();
        stats.rttvar = self.rtt.rttvar();
        stats.erto = self.rtt.erto();
        stats.flows = self.flows.stats();
        stats
    }
}

/// Whether a chunk type is one an open session handles itself or passes
/// on (all non-startup chunks).
pub fn is_session_chunk(code: u8) -> bool {
    !chunk_type::is_startup(code)
}
