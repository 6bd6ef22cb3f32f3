//! A sans-IO TURN client (RFC 8656; RFC 5766 before it) for one relay
//! allocation over UDP: what Flash Player did with `RTMFPTURNProxy`.
//!
//! The owner feeds it what the TURN server sends ([`TurnClient::receive`]),
//! hands it every datagram meant for a peer ([`TurnClient::send`]), sends
//! what [`TurnClient::poll_transmit`] gives to the server, and calls
//! [`TurnClient::handle_timeout`] at [`TurnClient::poll_timeout`].
//!
//! - Allocate with long-term credentials (RFC 8656 §7.1-§7.3): the first
//!   request is unauthenticated; the 401 brings REALM and NONCE, and the
//!   retry carries USERNAME, REALM, NONCE and MESSAGE-INTEGRITY.  A 438
//!   (Stale Nonce) is retried with the new nonce.
//! - Refresh before the allocation's lifetime ends (§8).
//! - A channel per peer address (ChannelBind, §11), which also installs
//!   the permission for the peer's IP (§12.2); datagrams then go as
//!   ChannelData (§12.4), four bytes of overhead.  Datagrams for a peer
//!   whose channel is being bound wait (a few per peer).  When the
//!   channel numbers run out, CreatePermission (§9) and Send indications
//!   (§10) carry the rest.
//! - Channels and permissions are refreshed every four minutes while
//!   the peer is in use (permissions last five, channels ten) and
//!   forgotten after ten idle minutes.
//! - Requests are retransmitted over UDP (RFC 8489 §6.2.1: RTO 500 ms,
//!   doubling, seven sends).

use super::TurnConfig;
use crate::stun::{self, attr, method, Builder, Class, Message};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// RFC 8489 §6.2.1: the initial retransmission timeout.
const INITIAL_RTO: Duration = Duration::from_millis(500);
/// RFC 8489 §6.2.1: Rc, the most sends of one request.
const MAX_SENDS: u32 = 7;
/// RFC 8489 §6.2.1: Rm, the last wait is this many RTOs.
const LAST_WAIT_FACTOR: u32 = 16;
/// RFC 8656 §12: channel numbers 0x4000-0x4FFF (RFC 5766 allowed more;
/// the smaller range suits both).
const FIRST_CHANNEL: u16 = 0x4000;
const LAST_CHANNEL: u16 = 0x4FFF;
/// Refresh channels and permissions this often while in use (permissions
/// last 300 s, channels 600 s: RFC 8656 §9, §12).
const PEER_REFRESH: Duration = Duration::from_secs(240);
/// A peer unused this long is forgotten (its channel lapses).
const PEER_IDLE: Duration = Duration::from_secs(600);
/// Datagrams kept per peer while its channel or permission is set up.
const PEER_QUEUE: usize = 16;
/// Most 438 (Stale Nonce) retries in a row for one request.
const STALE_NONCE_RETRIES: u32 = 3;
/// The SOFTWARE attribute we send.
const SOFTWARE: &str = concat!("rtmfp/", env!("CARGO_PKG_VERSION"));

/// Why the relay cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnError {
    /// No answer from the server within the allocation timeout.
    Timeout,
    /// The server refused the credentials (401 after authenticating).
    Unauthorized,
    /// The server refused the request: the STUN error code and reason.
    Refused(u16, String),
    /// A success response without the relayed address.
    Malformed,
    /// Nothing listens at the TURN server's address (ICMP port
    /// unreachable).
    Unreachable,
}

impl fmt::Display for TurnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TurnError::Timeout => write!(f, "no answer from the TURN server"),
            TurnError::Unauthorized => write!(
                f,
                "the TURN server refused the credentials (401 Unauthorized: wrong user, password or realm)"
            ),
            TurnError::Refused(code, reason) => {
                write!(f, "the TURN server refused the allocation ({code} {reason})")
            }
            TurnError::Malformed => {
                write!(f, "the TURN server answered without a relayed address")
            }
            TurnError::Unreachable => write!(
                f,
                "nothing listens at the TURN server's address (ICMP port unreachable)"
            ),
        }
    }
}

/// What the client reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnEvent {
    /// The allocation exists: the relayed address (what peers see) and
    /// our address as the TURN server sees it.
    Allocated {
        /// XOR-RELAYED-ADDRESS.
        relayed: SocketAddr,
        /// XOR-MAPPED-ADDRESS (our public address toward the server).
        mapped: Option<SocketAddr>,
    },
    /// The allocation failed or was lost (a failed refresh).
    Failed(TurnError),
    /// The server refused a peer (for example 403 Forbidden IP); the
    /// datagrams for it are dropped.
    PeerRefused {
        /// The peer's address.
        peer: SocketAddr,
        /// The STUN error code (0 when the request timed out).
        code: u16,
    },
}

/// What [`TurnClient::send`] did with a datagram.
#[derive(Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Send this to the TURN server (the datagram, wrapped).
    Send(Vec<u8>),
    /// Kept until the peer's channel or permission is ready.
    Queued,
    /// Dropped (no allocation, refused peer, or a full per-peer queue);
    /// the buffer comes back for reuse.
    Dropped(Vec<u8>),
}

/// What [`TurnClient::receive`] found in a datagram from the server.
#[derive(Debug, PartialEq, Eq)]
pub enum Received<'a> {
    /// A peer's datagram, relayed.
    Peer(SocketAddr, &'a [u8]),
    /// A STUN message for the client itself (handled).
    Consumed,
    /// Not a valid message for this allocation (counted, dropped).
    Invalid,
}

/// Counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurnStats {
    /// Requests sent, retransmissions included.
    pub requests: u64,
    /// Requests sent again after a timeout.
    pub retransmissions: u64,
    /// Datagrams to peers wrapped as ChannelData.
    pub channel_data_sent: u64,
    /// Datagrams to peers sent as Send indications.
    pub send_indications: u64,
    /// Datagrams from peers received as ChannelData.
    pub channel_data_received: u64,
    /// Datagrams from peers received as Data indications.
    pub data_indications: u64,
    /// Datagrams to peers dropped.
    pub dropped: u64,
    /// Of those, datagrams to addresses the TURN server cannot reach (a
    /// private address from a public server), never sent.
    pub unroutable: u64,
    /// Datagrams from the server that were not valid for us.
    pub invalid: u64,
    /// Channels bound (refreshes not counted).
    pub channels: u64,
    /// Peers the server refused.
    pub refused_peers: u64,
    /// Allocations made (more than one after a lost allocation).
    pub allocations: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Allocate,
    Refresh { lifetime: u32 },
    ChannelBind(SocketAddr),
    CreatePermission(SocketAddr),
}

#[derive(Debug)]
struct Transaction {
    purpose: Purpose,
    bytes: Vec<u8>,
    sends: u32,
    rto: Duration,
    next: Instant,
    stale_retries: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PeerState {
    /// ChannelBind in flight.
    Binding,
    /// Channel bound.
    Bound,
    /// CreatePermission in flight (no channel numbers left).
    Permitting,
    /// Permission installed; Send indications.
    Permitted,
    /// Refused by the server.
    Refused,
}

#[derive(Debug)]
struct Peer {
    state: PeerState,
    channel: Option<u16>,
    queue: VecDeque<Vec<u8>>,
    last_used: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Allocating,
    Allocated,
    Failed,
    Released,
}

/// One TURN allocation.
#[derive(Debug)]
pub struct TurnClient {
    config: TurnConfig,
    state: State,
    started: Instant,
    realm: Option<String>,
    nonce: Option<Vec<u8>>,
    key: Option<[u8; 16]>,
    relayed: Option<SocketAddr>,
    mapped: Option<SocketAddr>,
    refresh_at: Option<Instant>,
    transactions: HashMap<[u8; 12], Transaction>,
    out: VecDeque<Vec<u8>>,
    peers: HashMap<SocketAddr, Peer>,
    channels: HashMap<u16, SocketAddr>,
    next_channel: u16,
    /// Peers due for a refresh, in due order (every peer has the same
    /// period, so appending keeps the order).
    refresh_queue: VecDeque<(Instant, SocketAddr)>,
    events: VecDeque<TurnEvent>,
    stats: TurnStats,
}

impl TurnClient {
    /// A client that starts allocating at once.
    pub fn new(config: TurnConfig, now: Instant) -> TurnClient {
        let mut c = TurnClient {
            config,
            state: State::Allocating,
            started: now,
            realm: None,
            nonce: None,
            key: None,
            relayed: None,
            mapped: None,
            refresh_at: None,
            transactions: HashMap::new(),
            out: VecDeque::new(),
            peers: HashMap::new(),
            channels: HashMap::new(),
            next_channel: FIRST_CHANNEL,
            refresh_queue: VecDeque::new(),
            events: VecDeque::new(),
            stats: TurnStats::default(),
        };
        c.request(now, Purpose::Allocate, 0);
        c
    }

    /// The TURN server's address.
    pub fn server(&self) -> SocketAddr {
        self.config.server
    }

    /// The relayed address, once allocated.
    pub fn relayed(&self) -> Option<SocketAddr> {
        self.relayed.filter(|_| self.state == State::Allocated)
    }

    /// Our address as the TURN server sees it, once allocated.
    pub fn mapped(&self) -> Option<SocketAddr> {
        self.mapped
    }

    /// Whether the allocation failed for good.
    pub fn is_failed(&self) -> bool {
        self.state == State::Failed
    }

    /// Counters.
    pub fn stats(&self) -> &TurnStats {
        &self.stats
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<TurnEvent> {
        self.events.pop_front()
    }

    /// The next datagram for the TURN server.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// Releases the allocation (a Refresh with LIFETIME 0, RFC 8656 §8),
    /// sent once without waiting for the answer.
    pub fn release(&mut self, now: Instant) {
        if self.state == State::Allocated {
            self.request(now, Purpose::Refresh { lifetime: 0 }, 0);
            self.transactions.clear();
        }
        self.state = State::Released;
    }

    /// The system reported the server's port closed (ICMP port
    /// unreachable): an allocation in progress fails at once instead of
    /// at its timeout.
    pub fn handle_unreachable(&mut self) {
        if self.state == State::Allocating {
            self.fail(TurnError::Unreachable);
        }
    }

    /// The earliest time [`TurnClient::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.state, State::Failed | State::Released) {
            return None;
        }
        let retry = self.transactions.values().map(|t| t.next).min();
        let deadline =
            (self.state == State::Allocating).then(|| self.started + self.config.allocate_timeout);
        [
            retry,
            deadline,
            self.refresh_at,
            self.refresh_queue.front().map(|r| r.0),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs what is due: retransmissions, timeouts, refreshes.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.state, State::Failed | State::Released) {
            return;
        }
        if self.state == State::Allocating && now >= self.started + self.config.allocate_timeout {
            self.fail(TurnError::Timeout);
            return;
        }
        let due: Vec<[u8; 12]> = self
            .transactions
            .iter()
            .filter(|(_, t)| t.next <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(t) = self.transactions.get_mut(&id) else {
                continue;
            };
            if t.sends >= MAX_SENDS {
                let t = self.transactions.remove(&id).expect("present");
                self.on_timeout(now, t.purpose);
                continue;
            }
            t.sends += 1;
            t.rto *= 2;
            t.next = now
                + if t.sends == MAX_SENDS {
                    INITIAL_RTO * LAST_WAIT_FACTOR
                } else {
                    t.rto
                };
            self.out.push_back(t.bytes.clone());
            self.stats.requests += 1;
            self.stats.retransmissions += 1;
        }
        if self.refresh_at.is_some_and(|t| t <= now) {
            self.refresh_at = None;
            let lifetime = self.config.lifetime.as_secs() as u32;
            self.request(now, Purpose::Refresh { lifetime }, 0);
        }
        while let Some(&(due, peer)) = self.refresh_queue.front() {
            if due > now {
                break;
            }
            self.refresh_queue.pop_front();
            let Some(p) = self.peers.get(&peer) else {
                continue;
            };
            if now.saturating_duration_since(p.last_used) >= PEER_IDLE {
                // Let the server's channel and permission lapse.  A
                // channel number is not reused (RFC 8656 §12).
                self.peers.remove(&peer);
                continue;
            }
            match p.state {
                PeerState::Bound => self.request(now, Purpose::ChannelBind(peer), 0),
                PeerState::Permitted => self.request(now, Purpose::CreatePermission(peer), 0),
                PeerState::Refused => {
                    self.peers.remove(&peer);
                    continue;
                }
                _ => continue,
            }
            self.refresh_queue.push_back((now + PEER_REFRESH, peer));
        }
    }

    /// Wraps a datagram for `peer`.  Takes the buffer so that ChannelData
    /// can be built in place.
    pub fn send(&mut self, now: Instant, peer: SocketAddr, mut datagram: Vec<u8>) -> SendOutcome {
        if self.state != State::Allocated || datagram.len() > usize::from(u16::MAX) - 64 {
            self.stats.dropped += 1;
            return SendOutcome::Dropped(datagram);
        }
        if !reachable_from(self.config.server, peer) {
            // A public relay cannot reach a private address, and coturn
            // answers the attempt by failing the allocation's socket:
            // never ask it to (a peer's LAN candidates from setPeerInfo).
            self.stats.dropped += 1;
            self.stats.unroutable += 1;
            return SendOutcome::Dropped(datagram);
        }
        if !self.peers.contains_key(&peer) {
            self.open_peer(now, peer);
        }
        let p = self.peers.get_mut(&peer).expect("opened");
        p.last_used = now;
        match p.state {
            PeerState::Bound => {
                let channel = p.channel.expect("bound peers have a channel");
                let header = stun::channel_header(channel, datagram.len());
                datagram.splice(0..0, header);
                self.stats.channel_data_sent += 1;
                SendOutcome::Send(datagram)
            }
            PeerState::Permitted => {
                self.stats.send_indications += 1;
                SendOutcome::Send(send_indication(peer, &datagram))
            }
            PeerState::Binding | PeerState::Permitting if p.queue.len() < PEER_QUEUE => {
                p.queue.push_back(datagram);
                SendOutcome::Queued
            }
            _ => {
                self.stats.dropped += 1;
                SendOutcome::Dropped(datagram)
            }
        }
    }

    /// Handles a datagram that came from the TURN server.
    pub fn receive<'a>(&mut self, now: Instant, datagram: &'a [u8]) -> Received<'a> {
        if let Some((channel, payload)) = stun::parse_channel_data(datagram) {
            let Some(&peer) = self.channels.get(&channel) else {
                self.stats.invalid += 1;
                return Received::Invalid;
            };
            if let Some(p) = self.peers.get_mut(&peer) {
                p.last_used = now;
            }
            self.stats.channel_data_received += 1;
            return Received::Peer(peer, payload);
        }
        let Ok(m) = Message::parse(datagram) else {
            self.stats.invalid += 1;
            return Received::Invalid;
        };
        match m.class {
            Class::Indication if m.method == method::DATA => {
                // RFC 8656 §11.6: XOR-PEER-ADDRESS and DATA.
                let (Some(peer), Some(data)) =
                    (m.xor_address(attr::XOR_PEER_ADDRESS), m.get(attr::DATA))
                else {
                    self.stats.invalid += 1;
                    return Received::Invalid;
                };
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.last_used = now;
                }
                self.stats.data_indications += 1;
                Received::Peer(peer, data)
            }
            Class::Success | Class::Error if self.on_response(now, &m) => Received::Consumed,
            _ => {
                self.stats.invalid += 1;
                Received::Invalid
            }
        }
    }

    fn open_peer(&mut self, now: Instant, peer: SocketAddr) {
        let (state, channel) = if self.next_channel <= LAST_CHANNEL {
            let c = self.next_channel;
            self.next_channel += 1;
            (PeerState::Binding, Some(c))
        } else {
            (PeerState::Permitting, None)
        };
        self.peers.insert(
            peer,
            Peer {
                state,
                channel,
                queue: VecDeque::new(),
                last_used: now,
            },
        );
        match state {
            PeerState::Binding => self.request(now, Purpose::ChannelBind(peer), 0),
            _ => self.request(now, Purpose::CreatePermission(peer), 0),
        }
    }

    /// Builds and sends a request.
    fn request(&mut self, now: Instant, purpose: Purpose, stale_retries: u32) {
        let id: [u8; 12] = rand::random();
        let mut b = match purpose {
            Purpose::Allocate => {
                // RFC 8656 §7.1: REQUESTED-TRANSPORT UDP (17).
                let lifetime = self.config.lifetime.as_secs() as u32;
                Builder::new(method::ALLOCATE, Class::Request, id)
                    .attribute(attr::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
                    .attribute(attr::LIFETIME, &lifetime.to_be_bytes())
            }
            Purpose::Refresh { lifetime } => Builder::new(method::REFRESH, Class::Request, id)
                .attribute(attr::LIFETIME, &lifetime.to_be_bytes()),
            Purpose::ChannelBind(peer) => {
                let channel = self.peers.get(&peer).and_then(|p| p.channel).unwrap_or(0);
                Builder::new(method::CHANNEL_BIND, Class::Request, id)
                    .attribute(
                        attr::CHANNEL_NUMBER,
                        &[(channel >> 8) as u8, channel as u8, 0, 0],
                    )
                    .xor_address(attr::XOR_PEER_ADDRESS, peer)
            }
            Purpose::CreatePermission(peer) => {
                Builder::new(method::CREATE_PERMISSION, Class::Request, id)
                    .xor_address(attr::XOR_PEER_ADDRESS, peer)
            }
        };
        b = b.attribute(attr::SOFTWARE, SOFTWARE.as_bytes());
        if let (Some(realm), Some(nonce), Some(key)) = (&self.realm, &self.nonce, &self.key) {
            b = b
                .attribute(attr::USERNAME, self.config.username.as_bytes())
                .attribute(attr::REALM, realm.as_bytes())
                .attribute(attr::NONCE, nonce)
                .integrity(key);
        }
        let bytes = b.fingerprint();
        self.out.push_back(bytes.clone());
        self.stats.requests += 1;
        self.transactions.insert(
            id,
            Transaction {
                purpose,
                bytes,
                sends: 1,
                rto: INITIAL_RTO,
                next: now + INITIAL_RTO,
                stale_retries,
            },
        );
    }

    /// A response: matched to its transaction, authenticated, acted on.
    /// `false` when it matches nothing or fails its integrity check.
    fn on_response(&mut self, now: Instant, m: &Message<'_>) -> bool {
        if !self.transactions.contains_key(&m.transaction) {
            return false;
        }
        // RFC 8489 §9.2.5: once we authenticate, responses must carry a
        // valid MESSAGE-INTEGRITY (401 and 438 answers may not).
        let error = m.error_code();
        let unauthenticated_ok = matches!(&error, Some((401 | 438, _)));
        if let Some(key) = self.key {
            if !unauthenticated_ok && !m.check_integrity(&key) {
                return false;
            }
        }
        let t = self.transactions.remove(&m.transaction).expect("present");
        match (m.class, error) {
            (Class::Success, _) => self.on_success(now, t.purpose, m),
            (_, Some((code @ (401 | 438), _))) => {
                // RFC 8489 §9.2.5: learn the realm and nonce and retry,
                // once after a 401 and a few times after a 438.
                let had_key = self.key.is_some();
                if let Some(nonce) = m.get(attr::NONCE) {
                    self.nonce = Some(nonce.to_vec());
                }
                if let Some(realm) = m.get(attr::REALM) {
                    let realm = String::from_utf8_lossy(realm).into_owned();
                    self.key = Some(stun::long_term_key(
                        &self.config.username,
                        &realm,
                        &self.config.password,
                    ));
                    self.realm = Some(realm);
                }
                let retry = match code {
                    401 => !had_key && self.key.is_some() && self.nonce.is_some(),
                    _ => t.stale_retries < STALE_NONCE_RETRIES && self.key.is_some(),
                };
                if retry {
                    self.request(now, t.purpose, t.stale_retries + u32::from(code == 438));
                } else if code == 401 {
                    self.on_failure(now, t.purpose, TurnError::Unauthorized, 401);
                } else {
                    self.on_failure(
                        now,
                        t.purpose,
                        TurnError::Refused(438, "Stale Nonce".into()),
                        438,
                    );
                }
            }
            (_, Some((code, reason))) => {
                self.on_failure(now, t.purpose, TurnError::Refused(code, reason), code)
            }
            (_, None) => self.on_failure(now, t.purpose, TurnError::Malformed, 0),
        }
        true
    }

    fn on_success(&mut self, now: Instant, purpose: Purpose, m: &Message<'_>) {
        match purpose {
            Purpose::Allocate => {
                let Some(relayed) = m.xor_address(attr::XOR_RELAYED_ADDRESS) else {
                    self.fail(TurnError::Malformed);
                    return;
                };
                self.relayed = Some(relayed);
                self.mapped = m.xor_address(attr::XOR_MAPPED_ADDRESS);
                self.state = State::Allocated;
                self.stats.allocations += 1;
                self.schedule_refresh(now, m.lifetime());
                self.events.push_back(TurnEvent::Allocated {
                    relayed,
                    mapped: self.mapped,
                });
            }
            Purpose::Refresh { .. } => self.schedule_refresh(now, m.lifetime()),
            Purpose::ChannelBind(peer) => {
                let first = self
                    .peers
                    .get(&peer)
                    .is_some_and(|p| p.state == PeerState::Binding);
                if first {
                    self.stats.channels += 1;
                    let p = self.peers.get_mut(&peer).expect("present");
                    p.state = PeerState::Bound;
                    let channel = p.channel.expect("binding peers have a channel");
                    self.channels.insert(channel, peer);
                    self.refresh_queue.push_back((now + PEER_REFRESH, peer));
                    self.flush_peer(peer);
                }
            }
            Purpose::CreatePermission(peer) => {
                let first = self
                    .peers
                    .get(&peer)
                    .is_some_and(|p| p.state == PeerState::Permitting);
                if first {
                    self.peers.get_mut(&peer).expect("present").state = PeerState::Permitted;
                    self.refresh_queue.push_back((now + PEER_REFRESH, peer));
                    self.flush_peer(peer);
                }
            }
        }
    }

    /// Sends what waited for a peer's channel or permission.
    fn flush_peer(&mut self, peer: SocketAddr) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let waiting = std::mem::take(&mut p.queue);
        let (state, channel) = (p.state, p.channel);
        for mut d in waiting {
            match (state, channel) {
                (PeerState::Bound, Some(c)) => {
                    d.splice(0..0, stun::channel_header(c, d.len()));
                    self.stats.channel_data_sent += 1;
                    self.out.push_back(d);
                }
                _ => {
                    self.stats.send_indications += 1;
                    self.out.push_back(send_indication(peer, &d));
                }
            }
        }
    }

    fn schedule_refresh(&mut self, now: Instant, lifetime: Option<u32>) {
        let lifetime = Duration::from_secs(u64::from(
            lifetime.unwrap_or(self.config.lifetime.as_secs() as u32),
        ));
        if lifetime.is_zero() {
            return;
        }
        // A minute early, or halfway for short lifetimes.
        let early = Duration::from_secs(60).min(lifetime / 2);
        self.refresh_at = Some(now + lifetime - early);
    }

    fn on_timeout(&mut self, now: Instant, purpose: Purpose) {
        match purpose {
            Purpose::Allocate => self.fail(TurnError::Timeout),
            Purpose::Refresh { .. } => {
                // The server went quiet: try again a little later while
                // the allocation may still live.
                self.refresh_at = Some(now + INITIAL_RTO * 4);
            }
            Purpose::ChannelBind(peer) | Purpose::CreatePermission(peer) => {
                self.refuse_peer(now, peer, 0)
            }
        }
    }

    fn on_failure(&mut self, now: Instant, purpose: Purpose, error: TurnError, code: u16) {
        match purpose {
            Purpose::Allocate => self.fail(error),
            // RFC 8656 §8: 437 means the allocation is gone.
            Purpose::Refresh { .. } => self.fail(error),
            Purpose::ChannelBind(peer) | Purpose::CreatePermission(peer) => {
                self.refuse_peer(now, peer, code)
            }
        }
    }

    /// A peer's channel or permission failed: its datagrams are dropped
    /// until the next refresh time, when it is forgotten and may be tried
    /// again.
    fn refuse_peer(&mut self, now: Instant, peer: SocketAddr, code: u16) {
        if let Some(p) = self.peers.get_mut(&peer) {
            if matches!(p.state, PeerState::Binding | PeerState::Permitting) {
                p.state = PeerState::Refused;
                self.refresh_queue.push_back((now + PEER_REFRESH, peer));
                self.stats.dropped += p.queue.len() as u64;
                p.queue.clear();
                self.stats.refused_peers += 1;
                self.events.push_back(TurnEvent::PeerRefused { peer, code });
            }
        }
    }

    fn fail(&mut self, error: TurnError) {
        if self.state == State::Failed {
            return;
        }
        self.state = State::Failed;
        self.transactions.clear();
        self.refresh_at = None;
        self.refresh_queue.clear();
        for p in self.peers.values_mut() {
            self.stats.dropped += p.queue.len() as u64;
            p.queue.clear();
        }
        self.events.push_back(TurnEvent::Failed(error));
    }
}

/// How far an address reaches: loopback < private (RFC 1918, CGNAT,
/// link-local, ULA) < public.
fn scope(addr: SocketAddr) -> u8 {
    match addr.ip() {
        std::net::IpAddr::V4(ip) => {
            let o = ip.octets();
            if ip.is_loopback() {
                0
            } else if ip.is_private() || ip.is_link_local() || (o[0] == 100 && (o[1] & 0xC0) == 64)
            {
                1
            } else {
                2
            }
        }
        std::net::IpAddr::V6(ip) => {
            let first = ip.segments()[0];
            if ip.is_loopback() {
                0
            } else if (first & 0xFE00) == 0xFC00 || (first & 0xFFC0) == 0xFE80 {
                1
            } else {
                2
            }
        }
    }
}

/// Whether a TURN server at `server` can relay to `peer`: a server on a
/// private network reaches private and public peers, a public one only
/// public peers (a loopback one, in tests, everything).
fn reachable_from(server: SocketAddr, peer: SocketAddr) -> bool {
    server.is_ipv4() == peer.is_ipv4() && scope(peer) >= scope(server)
}

/// RFC 8656 §10.1: a Send indication (no authentication).
fn send_indication(peer: SocketAddr, data: &[u8]) -> Vec<u8> {
    Builder::new(method::SEND, Class::Indication, rand::random())
        .xor_address(attr::XOR_PEER_ADDRESS, peer)
        .attribute(attr::DATA, data)
        .finish()
}
