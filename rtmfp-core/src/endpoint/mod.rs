//! The sans-IO endpoint: sessions by ID, startup, cookies, redirects,
//! Forwarded IHellos (RFC 7016 §3.5.1).
//!
//! The endpoint never touches a socket or a clock.  Its driver feeds it
//! datagrams ([`Endpoint::handle_datagram`]) and time
//! ([`Endpoint::handle_timeout`]), and takes datagrams
//! ([`Endpoint::poll_transmit`]) and events ([`Endpoint::poll_event`]).

mod burst;
mod config;
mod cookie;
mod event;
mod fragments;
mod keying;
pub mod layer;
mod opening;
pub(crate) mod schedule;
mod sim_node;
mod startup;
mod stats;
pub(crate) mod timers;

pub use config::{EndpointConfig, FIHelloPolicy};
pub use cookie::{CookieCheck, CookieJar};
pub use event::{CloseReason, Event, OpenFailure, Role, SessionHandle};
pub use keying::{KeyingDone, KeyingJob};
pub(crate) use keying::{Outcome, Pending, PendingIIKeying, Work};
pub use layer::{EventSink, Layer, Layered};
pub use stats::{DropCounts, DropReason, EndpointStats};

use crate::crypto::{CryptoError, CryptoProfile, PeerId, SessionCrypto};
use crate::flow::congestion::TcClock;
use crate::flow::{DeliveryOrder, FlowId, MessageId, MessageOptions, Priority};
use crate::session::flows::FlowError;
use crate::session::{Session, SessionState, SessionStats, SessionTimers};
use crate::wire::{
    chunk::{chunk_allowed_in, FIHello},
    read_multiplex, write_multiplex, Address, Chunk, Mode, Packet, PacketBuilder, PacketHeader,
};
use opening::{Opening, OpeningState};
use rand::{rngs::StdRng, RngCore, SeedableRng};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Largest plain startup packet.  Startup packets carry certificates and
/// keying components that may exceed the path MTU; they are sent whole
/// and left to IP fragmentation, as Flash Player sent them.  A far end's
/// Packet Fragments are reassembled ([`fragments`], §3.4).
const MAX_STARTUP_PACKET: usize = 8192;

/// A datagram ready to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Where it goes.
    pub destination: SocketAddr,
    /// Its length in the caller's buffer.
    pub len: usize,
}

/// Errors from the endpoint's API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointError {
    /// No session or opening has this handle (closed, or never existed).
    UnknownSession,
    /// The session is not open.
    NotOpen,
    /// Arguments that cannot work, with the reason.
    InvalidArgument(&'static str),
    /// A flow operation failed.
    Flow(FlowError),
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointError::UnknownSession => f.write_str("no such session"),
            EndpointError::NotOpen => f.write_str("session is not open"),
            EndpointError::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
            EndpointError::Flow(FlowError::UnknownFlow) => f.write_str("no such flow"),
            EndpointError::Flow(FlowError::Closed) => f.write_str("flow is closed"),
            EndpointError::Flow(FlowError::WouldBlock) => f.write_str("flow send buffer is full"),
            EndpointError::Flow(FlowError::MetadataTooLarge) => {
                f.write_str("flow metadata over 512 bytes")
            }
        }
    }
}

impl std::error::Error for EndpointError {}

impl From<FlowError> for EndpointError {
    fn from(e: FlowError) -> Self {
        EndpointError::Flow(e)
    }
}

/// A snapshot of one session for the application.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// Which end started it.
    pub role: Role,
    /// Whether it is open (not opening, closing or closed).
    pub open: bool,
    /// DESTADDR.
    pub far_address: SocketAddr,
    /// The far end's peer ID.
    pub far_peer_id: Option<PeerId>,
    /// Counters and RTT estimates.
    pub stats: SessionStats,
}

/// An RTMFP endpoint: any number of sessions, as initiator or responder.
pub struct Endpoint {
    config: EndpointConfig,
    /// The datagrams of the last session's turn, and the buffers a
    /// session assembles them in (shared by all sessions: no allocation
    /// per datagram).
    burst: burst::Burst,
    /// The plain packet a session's datagram decrypts into, one buffer for
    /// all sessions.
    rx_plain: Vec<u8>,
    crypto: Arc<dyn CryptoProfile>,
    default_crypto: Box<dyn SessionCrypto>,
    epoch: Instant,
    rng: StdRng,
    cookies: CookieJar,
    /// Fragmented startup packets being reassembled (§3.4).
    fragments: fragments::Reassembly,
    next_handle: u64,
    /// Boxed, so that the table's spare room costs a pointer a slot.
    sessions: HashMap<u32, Box<Session>>,
    session_by_handle: HashMap<SessionHandle, u32>,
    openings: HashMap<SessionHandle, Opening>,
    opening_by_tag: HashMap<Vec<u8>, SessionHandle>,
    opening_by_rx_id: HashMap<u32, SessionHandle>,
    outbox: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<Event>,
    unmatched_queued: usize,
    stats: EndpointStats,
    /// A Time Critical packet went out on some session (§3.5.2.1).
    tc_sent: TcClock,
    /// Timers, readiness and changes of the sessions (work in proportion
    /// to what is active).
    schedule: schedule::Schedule,
    /// Open sessions by far address (§3.5.1.1.2 step 2 looks them up).
    open_by_addr: HashMap<SocketAddr, u32>,
    /// The last two distinct sessions that received a Time Critical
    /// packet, latest first (§2.2.4: TCR on the other sessions).
    tc_received: [Option<(u32, Instant)>; 2],
    /// Keying jobs waiting for a worker (offload mode).
    keying_jobs: VecDeque<KeyingJob>,
    /// IIKeyings whose keying runs elsewhere, by job ID.
    pending_keying: HashMap<u64, Pending>,
    /// How many of those each source IP address has.
    pending_by_source: HashMap<std::net::IpAddr, usize>,
    /// The responder handshakes being keyed, by (initiator's address,
    /// initiator session ID): a retransmitted IIKeying is found without
    /// looking at every job.
    pending_responders: std::collections::HashSet<(SocketAddr, u32)>,
    next_keying_job: u64,
}

impl Endpoint {
    /// A new endpoint with identity and crypto from `crypto`.  `now` is
    /// the origin of its timestamp clock.
    pub fn new(config: EndpointConfig, crypto: Arc<dyn CryptoProfile>, now: Instant) -> Self {
        let mut rng = match config.rng_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        let mut master = [0u8; 32];
        rng.fill_bytes(&mut master);
        let cookies = CookieJar::new(master, now, config.cookie_slot);
        Endpoint {
            default_crypto: crypto.default_session_crypto(),
            crypto,
            config,
            epoch: now,
            rng,
            cookies,
            fragments: Default::default(),
            next_handle: 1,
            sessions: HashMap::new(),
            session_by_handle: HashMap::new(),
            openings: HashMap::new(),
            opening_by_tag: HashMap::new(),
            opening_by_rx_id: HashMap::new(),
            outbox: VecDeque::new(),
            burst: burst::Burst::default(),
            rx_plain: Vec::new(),
            events: VecDeque::new(),
            unmatched_queued: 0,
            stats: EndpointStats::default(),
            tc_sent: TcClock::default(),
            schedule: schedule::Schedule::default(),
            open_by_addr: HashMap::new(),
            tc_received: [None, None],
            keying_jobs: VecDeque::new(),
            pending_keying: HashMap::new(),
            pending_by_source: HashMap::new(),
            pending_responders: std::collections::HashSet::new(),
            next_keying_job: 1,
        }
    }

    /// This endpoint's peer ID (`near_id`), where the profile has one.
    pub fn peer_id(&self) -> Option<PeerId> {
        self.crypto.peer_id(self.crypto.certificate())
    }

    /// The crypto profile.
    pub fn crypto(&self) -> &Arc<dyn CryptoProfile> {
        &self.crypto
    }

    /// The configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// Endpoint-wide counters.
    pub fn stats(&self) -> &EndpointStats {
        &self.stats
    }

    /// Number of sessions in S_OPEN (or closing) state.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Number of sessions still opening.
    pub fn opening_count(&self) -> usize {
        self.openings.len()
    }

    /// How many candidate addresses an opening session has tried (the
    /// first ones given, then those that Redirects added, §3.5.1.1.1); 0
    /// when it is not opening.
    pub fn opening_candidates(&self, session: SessionHandle) -> usize {
        self.openings
            .get(&session)
            .map_or(0, |o| o.candidates.len())
    }

    fn new_handle(&mut self) -> SessionHandle {
        let handle = SessionHandle(self.next_handle);
        self.next_handle += 1;
        handle
    }

    /// A fresh, unique, non-zero receive session ID (§3.5.1.1.1).
    fn new_session_id(&mut self) -> u32 {
        loop {
            let id = self.rng.next_u32();
            if id != 0
                && !self.sessions.contains_key(&id)
                && !self.opening_by_rx_id.contains_key(&id)
            {
                return id;
            }
        }
    }

    fn drop_counted(&mut self, reason: DropReason) {
        self.stats.drops.add(reason);
    }

    /// Starts opening a session to the identity `epd` at the candidate
    /// addresses (§3.5.1.1.1).  The IHellos go out at once.
    pub fn connect(
        &mut self,
        now: Instant,
        epd: Vec<u8>,
        candidates: &[SocketAddr],
    ) -> Result<SessionHandle, EndpointError> {
        if candidates.is_empty() {
            return Err(EndpointError::InvalidArgument("no candidate address"));
        }
        let handle = self.new_handle();
        let mut tag = vec![0u8; 16];
        self.rng.fill_bytes(&mut tag);
        let mut opening = Opening {
            handle,
            epd,
            tag: tag.clone(),
            started: now,
            candidates: Vec::new(),
            state: OpeningState::IHelloSent,
            keying_started: false,
            parked: None,
        };
        for &address in candidates {
            opening.add_candidate(address, now, self.config.redirect_threshold);
        }
        self.opening_by_tag.insert(tag, handle);
        self.openings.insert(handle, opening);
        self.drive_opening(now, handle);
        Ok(handle)
    }

    /// Adds candidate addresses to an opening session.
    pub fn add_candidates(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        addresses: &[SocketAddr],
    ) -> Result<(), EndpointError> {
        let limit = self.config.redirect_threshold;
        let opening = self
            .openings
            .get_mut(&handle)
            .ok_or(EndpointError::UnknownSession)?;
        for &address in addresses {
            opening.add_candidate(address, now, limit);
        }
        self.drive_opening(now, handle);
        Ok(())
    }

    /// Closes a session: in order (Close Request, §3.5.5) or abruptly
    /// (Close Ack).  An opening session is abandoned.
    pub fn close(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        abrupt: bool,
    ) -> Result<(), EndpointError> {
        if self.openings.contains_key(&handle) {
            self.fail_opening(handle, OpenFailure::Cancelled);
            return Ok(());
        }
        let id = *self
            .session_by_handle
            .get(&handle)
            .ok_or(EndpointError::UnknownSession)?;
        if let Some(session) = self.sessions.get_mut(&id) {
            session.close(now, abrupt, &mut self.events);
            self.schedule.touch(id, &mut session.slot);
        }
        Ok(())
    }

    /// Closes every session in order and abandons every opening.
    pub fn close_all(&mut self, now: Instant) {
        let openings: Vec<_> = self.openings.keys().copied().collect();
        for handle in openings {
            self.fail_opening(handle, OpenFailure::Cancelled);
        }
        for (&id, session) in self.sessions.iter_mut() {
            session.close(now, false, &mut self.events);
            self.schedule.touch(id, &mut session.slot);
        }
    }

    /// A snapshot of a session, opening or open.
    pub fn session_info(&self, handle: SessionHandle) -> Option<SessionInfo> {
        if let Some(id) = self.session_by_handle.get(&handle) {
            let s = self.sessions.get(id)?;
            return Some(SessionInfo {
                role: s.role,
                open: s.state == SessionState::Open,
                far_address: s.dest_addr,
                far_peer_id: s.far_peer_id,
                stats: s.stats(),
            });
        }
        None
    }

    /// Sets the idle time before a keepalive Ping on one open session
    /// (RFC 7016 §3.5.4.1), for example as advised by the server's Set
    /// Keepalive Timers (RFC 7425 §5.3.4).  The caller clamps it.
    pub fn set_keepalive_interval(
        &mut self,
        handle: SessionHandle,
        interval: std::time::Duration,
    ) -> Result<(), EndpointError> {
        if interval.is_zero() {
            return Err(EndpointError::InvalidArgument("zero keepalive interval"));
        }
        self.open_session_mut(handle)?
            .set_keepalive_interval(interval);
        Ok(())
    }

    /// The keepalive interval of an open session.
    pub fn keepalive_interval(&self, handle: SessionHandle) -> Option<std::time::Duration> {
        let id = self.session_by_handle.get(&handle)?;
        Some(self.sessions.get(id)?.keepalive_interval())
    }

    /// The open session whose far end an EPD selects, if any.
    pub fn find_session(&self, epd: &[u8]) -> Option<SessionHandle> {
        let canonical = self.crypto.canonical_epd(epd);
        self.sessions
            .values()
            .filter(|s| s.state == SessionState::Open)
            .find(|s| match (&canonical, &s.far_canonical_epd) {
                (Some(c), Some(far)) => c == far,
                _ => self.crypto.cert_selected_by_epd(&s.far_cert, epd),
            })
            .map(|s| s.handle)
    }

    /// Sends a Responder Redirect (§2.3.5) for an IHello's `tag` to `to`.
    /// No addresses make an Implied Redirect.
    pub fn send_redirect(
        &mut self,
        now: Instant,
        to: SocketAddr,
        tag: &[u8],
        addresses: &[Address],
    ) {
        let raw = crate::wire::chunk::AddressList::encode(addresses);
        let Ok(list) = crate::wire::chunk::AddressList::parse(&raw) else {
            return;
        };
        let chunk = Chunk::Redirect(crate::wire::chunk::Redirect {
            tag_echo: tag,
            addresses: list,
        });
        self.send_startup(now, to, 0, &chunk);
    }

    /// Sends a Forwarded IHello (§2.3.3) over an open session: the far end
    /// should answer `reply_address`, the initiator's observed address.
    pub fn send_forwarded_ihello(
        &mut self,
        handle: SessionHandle,
        epd: &[u8],
        tag: &[u8],
        reply_address: SocketAddr,
    ) -> Result<(), EndpointError> {
        let id = *self
            .session_by_handle
            .get(&handle)
            .ok_or(EndpointError::UnknownSession)?;
        let session = self
            .sessions
            .get_mut(&id)
            .ok_or(EndpointError::UnknownSession)?;
        if session.state != SessionState::Open {
            return Err(EndpointError::NotOpen);
        }
        session.queue(
            &Chunk::FIHello(FIHello {
                epd,
                reply_address: Address::new(reply_address, crate::wire::AddressOrigin::Reflexive),
                tag,
            }),
            None,
        );
        self.schedule.touch(id, &mut session.slot);
        Ok(())
    }

    fn open_session_mut(&mut self, handle: SessionHandle) -> Result<&mut Session, EndpointError> {
        Ok(self.open_session_and_events(handle)?.0)
    }

    /// An open session and the event queue, borrowed together.
    fn open_session_and_events(
        &mut self,
        handle: SessionHandle,
    ) -> Result<(&mut Session, &mut VecDeque<Event>), EndpointError> {
        let id = *self
            .session_by_handle
            .get(&handle)
            .ok_or(EndpointError::UnknownSession)?;
        let session = self
            .sessions
            .get_mut(&id)
            .ok_or(EndpointError::UnknownSession)?;
        if session.state != SessionState::Open {
            return Err(EndpointError::NotOpen);
        }
        // The caller changes it: look at it again before sending.
        self.schedule.touch(id, &mut session.slot);
        Ok((session, &mut self.events))
    }

    /// Opens a sending flow with per-flow metadata (at most 512 bytes) and
    /// an optional return association with one of our receiving flows
    /// (§3.6.2.1, §2.3.11.1).
    pub fn open_flow(
        &mut self,
        handle: SessionHandle,
        metadata: &[u8],
        priority: Priority,
        association: Option<FlowId>,
    ) -> Result<FlowId, EndpointError> {
        let session = self.open_session_mut(handle)?;
        if let Some(recv) = association {
            if session.flows.recv_flow(recv).is_none() {
                return Err(EndpointError::Flow(FlowError::UnknownFlow));
            }
        }
        let max_plain = session.max_plain();
        Ok(session
            .flows
            .open(metadata, priority, association, max_plain)?)
    }

    /// Queues a message of any size on a sending flow.  The returned ID
    /// comes back in [`Event::MessageDelivered`] or
    /// [`Event::MessageAbandoned`].
    pub fn send(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        flow: FlowId,
        data: &[u8],
        options: MessageOptions,
    ) -> Result<MessageId, EndpointError> {
        let (session, events) = self.open_session_and_events(handle)?;
        let id = session.flows.send(now, flow, data, options)?;
        session.flows.collect_events(now, handle, events);
        Ok(id)
    }

    /// Queues a message held in a shared buffer: like [`Endpoint::send`],
    /// but the bytes are not copied, so one message sent on many flows (a
    /// relay to many players) is stored once.
    pub fn send_shared(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        flow: FlowId,
        data: bytes::Bytes,
        options: MessageOptions,
    ) -> Result<MessageId, EndpointError> {
        let (session, events) = self.open_session_and_events(handle)?;
        let id = session.flows.send_shared(now, flow, data, options)?;
        session.flows.collect_events(now, handle, events);
        Ok(id)
    }

    /// Whether a sending flow accepts a message now (backpressure).
    pub fn flow_writable(
        &mut self,
        handle: SessionHandle,
        flow: FlowId,
    ) -> Result<bool, EndpointError> {
        let session = self.open_session_mut(handle)?;
        session
            .flows
            .is_writable(flow)
            .ok_or(EndpointError::Flow(FlowError::UnknownFlow))
    }

    /// Abandons a queued message and the messages chained to it.
    pub fn abandon_message(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        flow: FlowId,
        message: MessageId,
    ) -> Result<(), EndpointError> {
        let (session, events) = self.open_session_and_events(handle)?;
        session.flows.abandon(flow, message)?;
        session.flows.collect_events(now, handle, events);
        Ok(())
    }

    /// Closes a sending flow: the final sequence number goes out, then
    /// [`Event::FlowComplete`] once everything is acknowledged.
    pub fn close_flow(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        flow: FlowId,
    ) -> Result<(), EndpointError> {
        let (session, events) = self.open_session_and_events(handle)?;
        session.flows.close(now, flow)?;
        session.flows.collect_events(now, handle, events);
        Ok(())
    }

    /// Accepts a receiving flow: its messages are delivered as
    /// [`Event::Message`], in sequence or in network order.
    pub fn accept_flow(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        flow: FlowId,
        order: DeliveryOrder,
    ) -> Result<(), EndpointError> {
        let (session, events) = self.open_session_and_events(handle)?;
        session.flows.accept(flow, order)?;
        session.flows.collect_events(now, handle, events);
        Ok(())
    }

    /// Rejects a receiving flow; the sender sees [`Event::FlowRejected`]
    /// with `code` (§3.6.3.7).
    pub fn reject_flow(
        &mut self,
        handle: SessionHandle,
        flow: FlowId,
        code: u64,
    ) -> Result<(), EndpointError> {
        let session = self.open_session_mut(handle)?;
        Ok(session.flows.reject(flow, code)?)
    }

    /// Suspends or resumes delivery on a receiving flow; a suspended flow's
    /// window closes as its buffer fills (§3.6.3.5).
    pub fn set_flow_suspended(
        &mut self,
        now: Instant,
        handle: SessionHandle,
        flow: FlowId,
        suspended: bool,
    ) -> Result<(), EndpointError> {
        let (session, events) = self.open_session_and_events(handle)?;
        session.flows.set_suspended(flow, suspended)?;
        session.flows.collect_events(now, handle, events);
        Ok(())
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front()?;
        if matches!(event, Event::UnmatchedIHello { .. }) {
            self.unmatched_queued -= 1;
        }
        Some(event)
    }

    /// Handles one received datagram.  `local` is the address it arrived
    /// on and `from` its source.  Bad datagrams are dropped and counted;
    /// they never change session state.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        _local: SocketAddr,
        from: SocketAddr,
        data: &[u8],
    ) {
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += data.len() as u64;
        let Ok((session_id, encrypted)) = read_multiplex(data) else {
            return self.drop_counted(DropReason::Truncated);
        };
        if session_id == 0 {
            self.handle_startup_packet(now, from, None, encrypted);
        } else if self.sessions.contains_key(&session_id) {
            // One decryption buffer for every session: no allocation per
            // datagram received.
            let mut plain = std::mem::take(&mut self.rx_plain);
            plain.clear();
            self.handle_session_packet(now, from, session_id, encrypted, data.len(), &mut plain);
            self.rx_plain = plain;
        } else if let Some(&handle) = self.opening_by_rx_id.get(&session_id) {
            self.handle_startup_packet(now, from, Some(handle), encrypted);
        } else {
            self.drop_counted(DropReason::UnknownSessionId);
        }
    }

    fn handle_session_packet(
        &mut self,
        now: Instant,
        from: SocketAddr,
        id: u32,
        encrypted: &[u8],
        len: usize,
        plain: &mut Vec<u8>,
    ) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        match session.decrypt(encrypted, plain) {
            Ok(()) => {}
            Err(CryptoError::Replay) => return self.drop_counted(DropReason::Replay),
            Err(_) => return self.drop_counted(DropReason::Integrity),
        }
        let Ok(packet) = Packet::parse(plain) else {
            return self.drop_counted(DropReason::BadHeader);
        };
        if packet.header.mode != session.far_mode() || !session.is_live() {
            return self.drop_counted(DropReason::WrongMode);
        }
        session.on_packet(now, len, &packet.header);
        self.schedule.touch(id, &mut session.slot);
        let time_critical = packet.header.time_critical;
        let mut forwarded = Vec::new();
        let mut drops = Vec::new();
        for raw in packet.chunks() {
            if !chunk_allowed_in(raw.chunk_type, packet.header.mode) {
                drops.push(DropReason::ChunkInWrongMode);
                continue;
            }
            let chunk = match raw.decode() {
                Ok(chunk) => chunk,
                Err(_) => {
                    drops.push(DropReason::MalformedChunk);
                    continue;
                }
            };
            if let Chunk::FIHello(f) = chunk {
                forwarded.push((f.epd.to_vec(), f.tag.to_vec(), f.reply_address.addr));
            } else if !session.handle_chunk(now, from, &chunk, &mut self.events) {
                // Flow chunks (User Data, acks, probes, exceptions) are
                // handled by the flows layer, which is not built yet.
                drops.push(DropReason::UnknownChunk);
            }
        }
        let tc_anywhere = self.tc_sent.recent(now);
        session.after_packet(now, from, tc_anywhere, &mut self.events);
        if time_critical {
            self.note_tc_received(id, now);
        }
        for reason in drops {
            self.drop_counted(reason);
        }
        for (epd, tag, reply) in forwarded {
            self.on_forwarded_ihello(now, &epd, &tag, reply);
        }
    }

    /// An ICMP error (port, host or network unreachable) came back for a
    /// datagram we sent to `remote`. An opening session whose every
    /// candidate address has drawn one fails at once with
    /// [`OpenFailure::Unreachable`], instead of retrying until the open
    /// timeout: nothing listens there. A candidate that answers later is
    /// still taken. Open sessions are not affected (their own keepalives
    /// and idle limit decide, §3.5.4.1), nor is an opening already past
    /// its RHello to another address.
    pub fn handle_unreachable(&mut self, remote: SocketAddr) {
        let mut failed = Vec::new();
        for (handle, opening) in &mut self.openings {
            let in_keying_to_it =
                matches!(&opening.state, OpeningState::KeyingSent(k) if k.dest == remote);
            let mut hit = false;
            for c in opening
                .candidates
                .iter_mut()
                .filter(|c| c.address == remote)
            {
                c.unreachable = true;
                hit = true;
            }
            let all_unreachable = opening.candidates.iter().all(|c| c.unreachable);
            let fails = match &opening.state {
                OpeningState::IHelloSent => hit && all_unreachable,
                OpeningState::KeyingSent(_) => in_keying_to_it,
            };
            if fails {
                failed.push(*handle);
            }
        }
        for handle in failed {
            self.fail_opening(handle, OpenFailure::Unreachable(remote));
        }
    }

    /// Runs timers: IHello and IIKeying retransmission, open timeouts,
    /// keepalives, idle death and close states.  Only sessions whose
    /// timer is due are visited.
    pub fn handle_timeout(&mut self, now: Instant) {
        let handles: Vec<SessionHandle> = self.openings.keys().copied().collect();
        for handle in handles {
            self.drive_opening(now, handle);
        }
        self.settle();
        loop {
            let sessions = &mut self.sessions;
            let due = self.schedule.pop_due(now, |id, t| {
                sessions.get_mut(&id).is_some_and(|s| s.slot.claim(t))
            });
            let Some(id) = due else { break };
            if let Some(session) = self.sessions.get_mut(&id) {
                if session.next_timeout().is_some_and(|t| t <= now) {
                    session.handle_timeout(now, &mut self.events);
                }
                self.schedule.touch(id, &mut session.slot);
            }
        }
        self.settle();
    }

    /// Replaces the timer entries that would wake the loop for nothing (a
    /// session whose deadline moved later since, or that is gone) by the
    /// real deadlines, so that a loop sleeping until
    /// [`Endpoint::poll_timeout`] sleeps until real work.  Call it before
    /// sleeping; without it a wakeup is at worst early.
    pub fn prune_timers(&mut self) {
        self.settle();
        while let Some((t, id)) = self.schedule.peek() {
            let Some(session) = self.sessions.get_mut(&id).filter(|s| s.slot.is_live(t)) else {
                self.schedule.pop();
                continue;
            };
            let next = session.next_timeout();
            if next.is_some_and(|n| n <= t) {
                return;
            }
            self.schedule.pop();
            session.slot.claim(t);
            self.schedule.reschedule(id, &mut session.slot, next);
        }
    }

    /// When [`Endpoint::handle_timeout`] next has work (possibly a little
    /// early: then it finds nothing due and says the next time).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let openings = self
            .openings
            .values()
            .map(|o| o.next_timeout(self.config.open_timeout));
        let touched = self
            .schedule
            .touched()
            .iter()
            .filter_map(|id| self.sessions.get(id)?.next_timeout());
        openings
            .chain(touched)
            .chain(self.schedule.next_deadline())
            .min()
    }

    /// The next datagram to send, written into `buf` (which is cleared).
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        buf.clear();
        self.settle();
        let destination = if let Some((destination, datagram)) = self.outbox.pop_front() {
            buf.extend_from_slice(&datagram);
            Some(destination)
        } else if !self.burst.is_empty() {
            self.burst.pop(buf)
        } else {
            self.poll_sessions(now, buf)
        };
        self.settle();
        let destination = destination?;
        self.stats.datagrams_out += 1;
        self.stats.bytes_out += buf.len() as u64;
        Some(Transmit {
            destination,
            len: buf.len(),
        })
    }

    /// The next datagram from the ready sessions: strict precedence by the
    /// highest priority each has ready, round-robin among equals.  The
    /// chosen session builds a burst (`burst.rs`); the first datagram is
    /// returned, the rest wait for the next calls.
    fn poll_sessions(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<SocketAddr> {
        let max = self.config.max_datagram_size;
        self.rank_settled(now);
        // The first of the ready set, checked: a rank that changed since
        // it was placed is corrected and the next one is tried.  Each
        // correction fixes one entry, so this ends.
        let id = loop {
            let (placed, id) = self.schedule.next_in_turn()?;
            let Some(session) = self.sessions.get_mut(&id) else {
                // Gone without being removed (cannot happen): drop it.
                self.schedule.forget(placed, id);
                continue;
            };
            let rank = session.send_rank(now);
            if rank == Some(placed) {
                break id;
            }
            self.schedule.rank(id, &mut session.slot, rank);
        };
        let tcr = self.tc_received_elsewhere(id, now);
        let session = self.sessions.get_mut(&id)?;
        let burst = &mut self.burst;
        burst.start();
        session.poll_datagrams(
            now,
            max,
            tcr,
            &mut burst.plains,
            &mut burst.outs,
            &mut burst.sent,
        );
        self.schedule.touch(id, &mut session.slot);
        self.schedule.served(id);
        if burst.sent.iter().any(|&(_, time_critical)| time_critical) {
            self.tc_sent.mark(now);
        }
        burst.pop(buf)
    }

    /// Whether a session other than `id` received a Time Critical packet
    /// lately (§2.2.4: then `id` sets TCR).
    fn tc_received_elsewhere(&self, id: u32, now: Instant) -> bool {
        self.tc_received.iter().flatten().any(|&(other, at)| {
            other != id && now.saturating_duration_since(at) < crate::flow::congestion::TC_WINDOW
        })
    }

    /// Records a Time Critical packet received on session `id`.
    fn note_tc_received(&mut self, id: u32, now: Instant) {
        if self.tc_received[0].is_none_or(|(last, _)| last != id) {
            self.tc_received[1] = self.tc_received[0];
        }
        self.tc_received[0] = Some((id, now));
    }

    /// Asks every session settled since the last call for its send rank,
    /// and places it in the ready set under it.
    fn rank_settled(&mut self, now: Instant) {
        let mut unranked = self.schedule.take_unranked();
        for id in unranked.drain(..) {
            if let Some(session) = self.sessions.get_mut(&id) {
                let rank = session.send_rank(now);
                self.schedule.rank(id, &mut session.slot, rank);
            }
        }
        self.schedule.recycle_unranked(unranked);
    }

    /// Marks session `id` changed: [`Endpoint::settle`] re-reads it.
    fn touch(&mut self, id: u32) {
        if let Some(session) = self.sessions.get_mut(&id) {
            self.schedule.touch(id, &mut session.slot);
        }
    }

    /// Re-reads every touched session: removes the finished ones (closed
    /// with nothing left to send), schedules the next timer of the others,
    /// puts them in the ready set and keeps the address index current.
    fn settle(&mut self) {
        let mut touched = self.schedule.take_touched();
        for id in touched.drain(..) {
            let Some(session) = self.sessions.get_mut(&id) else {
                continue;
            };
            if session.is_finished() {
                self.remove_session(id);
                continue;
            }
            let next = session.next_timeout();
            self.schedule.settle(id, &mut session.slot, next);
            let indexed = (session.state == SessionState::Open).then_some(session.dest_addr);
            if session.indexed_addr != indexed {
                if let Some(old) = session.indexed_addr {
                    if self.open_by_addr.get(&old) == Some(&id) {
                        self.open_by_addr.remove(&old);
                    }
                }
                if let Some(addr) = indexed {
                    self.open_by_addr.insert(addr, id);
                }
                session.indexed_addr = indexed;
            }
        }
        self.schedule.recycle(touched);
        let sessions = &self.sessions;
        self.schedule.compact(sessions.len(), |id, t| {
            sessions.get(&id).is_some_and(|s| s.slot.is_live(t))
        });
    }

    /// Forgets session `id`.
    fn remove_session(&mut self, id: u32) {
        if let Some(session) = self.sessions.remove(&id) {
            self.session_by_handle.remove(&session.handle);
            if let Some(addr) = session.indexed_addr {
                if self.open_by_addr.get(&addr) == Some(&id) {
                    self.open_by_addr.remove(&addr);
                }
            }
            self.schedule.remove(id, &session.slot);
        }
    }

    /// The open session whose far address is `addr`, if any.
    fn open_session_at(&mut self, addr: SocketAddr) -> Option<u32> {
        self.settle();
        let id = *self.open_by_addr.get(&addr)?;
        let s = self.sessions.get(&id)?;
        (s.dest_addr == addr && s.state == SessionState::Open).then_some(id)
    }

    /// Encrypts a startup packet (mode 3, Default Session Key) with one
    /// chunk and queues it for `to` under session ID `session_id`.
    fn send_startup(&mut self, now: Instant, to: SocketAddr, session_id: u32, chunk: &Chunk<'_>) {
        let mut encoded = Vec::new();
        if chunk.encode(&mut encoded).is_err() {
            return;
        }
        self.send_startup_encoded(now, to, session_id, &encoded);
    }

    fn send_startup_encoded(
        &mut self,
        now: Instant,
        to: SocketAddr,
        session_id: u32,
        chunk: &[u8],
    ) {
        if self.outbox.len() >= self.config.max_queued_transmits {
            return self.drop_counted(DropReason::QueueFull);
        }
        let mut header = PacketHeader::new(Mode::Startup);
        header.timestamp = Some(crate::session::rtt::timestamp(self.epoch, now));
        let mut plain = Vec::with_capacity(chunk.len() + 8);
        let mut builder = PacketBuilder::new(&header, MAX_STARTUP_PACKET, &mut plain);
        if builder
            .push_raw(chunk[0], &chunk[crate::wire::packet::CHUNK_HEADER_LEN..])
            .is_err()
        {
            return;
        }
        builder.finish();
        let mut encrypted = Vec::with_capacity(plain.len() + 32);
        self.default_crypto.encrypt(&plain, &mut encrypted);
        let mut datagram = Vec::with_capacity(encrypted.len() + 4);
        write_multiplex(session_id, &encrypted, &mut datagram);
        self.outbox.push_back((to, datagram));
    }

    fn fail_opening(&mut self, handle: SessionHandle, reason: OpenFailure) {
        if let Some(opening) = self.openings.remove(&handle) {
            self.opening_by_tag.remove(&opening.tag);
            if let OpeningState::KeyingSent(k) = &opening.state {
                self.opening_by_rx_id.remove(&k.rx_session_id);
            }
            self.events.push_back(Event::SessionOpenFailed {
                session: handle,
                reason,
            });
        }
    }

    fn session_timers(&self) -> SessionTimers {
        SessionTimers {
            keepalive_interval: self.config.keepalive_interval,
            idle_timeout: self.config.idle_timeout,
            max_datagram: self.config.max_datagram_size,
            flow_limits: self.config.flow_limits,
        }
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("sessions", &self.sessions.len())
            .field("ready", &self.schedule.ready_len())
            .field("timer_entries", &self.schedule.timer_entries())
            .field("openings", &self.openings.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}
