//! Direct peer-to-peer streams (RFC 7425 §5.4): the subscriber's side
//! (`NetStream(peerID).play`) and the DIRECT_CONNECTIONS publisher's side
//! (subscribers, `on_peer_connect`, `max_peer_connections`).

use super::server::order_for;
use super::ClientError;
use super::{
    ClientEvent, ConnState, FlashClient, PeerConnectMode, PeerSession, PeerState, PeerStream,
    PeerStreamId, PeerStreamInfo, StreamId, StreamKind,
};
use crate::crypto::flash::epd::epd_for_fingerprint;
use crate::crypto::PeerId;
use crate::endpoint::{Endpoint, EndpointError, OpenFailure, Role, SessionHandle};
use crate::flash::command::{code, name, Command, StatusInfo};
use crate::flash::inbound::{classify, Inbound};
use crate::flash::media::StreamSender;
use crate::flash::message::message_type;
use crate::flash::metadata::FlowMetadata;
use crate::flash::user_control::UserControlEvent;
use crate::flash::Value;
use crate::flow::FlowId;
use crate::session::flows::FlowError;
use std::net::SocketAddr;
use std::time::Instant;

/// Commands on P2P flows go as AMF0 (type 20): nothing negotiates an
/// encoding between peers.
const P2P_COMMAND: u8 = message_type::COMMAND_AMF0;

/// The stream ID of the first NetStream a player opens on a session to a
/// publisher. Flash Player numbered them from 2,000,001 (flow metadata
/// `TC 04 FA 89 01`), and Flash-era publishers (librtmfp) take only flows
/// with that prefix as direct NetStreams. RFC 7425 §5.4.1 needs any
/// non-zero ID, so use Flash's.
pub const FIRST_PEER_STREAM_ID: u32 = 2_000_001;

fn command_bytes(command: &Command) -> Vec<u8> {
    command.encode(P2P_COMMAND).unwrap_or_default()
}

impl FlashClient {
    // ----- subscriber -----

    /// Starts (or continues) a peer NetStream's play: reuse a session to
    /// the publisher, or open one with the EPD for its peer ID and the
    /// server session's DESTADDR as the first candidate, so that the
    /// server introduces us (RFC 7425 §5.4.1, RFC 7016 §3.5.1.6).
    pub(super) fn start_peer_play(&mut self, ep: &mut Endpoint, now: Instant, stream: StreamId) {
        let Some(s) = self.streams.get(&stream) else {
            return;
        };
        let StreamKind::Peer(peer) = s.kind else {
            return;
        };
        if s.peer.session.is_some() || s.peer.ended || s.closed {
            return;
        }
        let epd = epd_for_fingerprint(&peer);
        if let Some(session) = ep.find_session(&epd) {
            let entry = self
                .peer_sessions
                .entry(session)
                .or_insert_with(|| new_peer_session(Some(peer)));
            entry.open = true;
            self.set_player_session(stream, session);
            self.open_player_control(ep, now, stream, session);
            return;
        }
        let opening = self
            .peer_sessions
            .iter_mut()
            .find(|(_, p)| !p.open && p.far_id == Some(peer));
        if let Some((&session, p)) = opening {
            p.waiting.push(stream);
            self.set_player_session(stream, session);
            self.set_direct_deadline(stream, now);
            return;
        }
        let server = self.conn.as_ref().map(|c| (c.state, c.far_address));
        match server {
            Some((ConnState::Connected, Some(server_address))) => {
                match ep.connect(now, epd, &[server_address]) {
                    Ok(session) => {
                        let mut p = new_peer_session(Some(peer));
                        p.waiting.push(stream);
                        self.peer_sessions.insert(session, p);
                        self.set_player_session(stream, session);
                        self.set_direct_deadline(stream, now);
                    }
                    Err(e) => self.fail_peer_play(stream, &format!("cannot open a session: {e}")),
                }
            }
            Some((ConnState::Opening | ConnState::Connecting, _)) => {
                if !self.waiting_for_server.contains(&stream) {
                    self.waiting_for_server.push(stream);
                }
            }
            _ => self.fail_peer_play(stream, "no server connection to introduce the peers"),
        }
    }

    fn set_player_session(&mut self, stream: StreamId, session: SessionHandle) {
        if let Some(s) = self.streams.get_mut(&stream) {
            s.peer.session = Some(session);
            if session_open_now(&self.peer_sessions, session) {
                s.peer.direct_deadline = None;
            }
        }
    }

    /// While the session to the publisher opens: give up the direct path
    /// at `now` + `direct_timeout` (fallback.rs).
    fn set_direct_deadline(&mut self, stream: StreamId, now: Instant) {
        let timeout = self.config.direct_timeout;
        if let (Some(s), Some(t)) = (self.streams.get_mut(&stream), timeout) {
            s.peer.direct_deadline = Some(now + t);
        }
    }

    /// Reports a peer play that cannot be made ("NetStream.Connect.Failed").
    pub(super) fn fail_peer_play(&mut self, stream: StreamId, why: &str) {
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        if s.peer.ended {
            return;
        }
        s.peer.ended = true;
        s.peer.direct_deadline = None;
        s.playing = None;
        self.status(
            Some(stream),
            StatusInfo::error(code::CONNECT_FAILED_STREAM, why),
        );
    }

    /// With a session to the publisher: the subscriber's control flow, a
    /// new unassociated flow with a non-zero stream ID carrying `play`
    /// (RFC 7425 §5.4.1).
    fn open_player_control(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        stream: StreamId,
        session: SessionHandle,
    ) {
        let media = self.config.media;
        let Some(p) = self.peer_sessions.get_mut(&session) else {
            return;
        };
        let stream_id = p.next_stream_id;
        p.next_stream_id += 1;
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        let name = s.peer.name.clone().unwrap_or_default();
        let mut sender = StreamSender::new(session, stream_id, None, media);
        let sent = sender.data_flow(ep).and_then(|flow| {
            sender.send(
                ep,
                now,
                P2P_COMMAND,
                0,
                &command_bytes(&Command::play(&name)),
            )?;
            Ok(flow)
        });
        match sent {
            Ok(flow) => {
                s.stream_id = Some(stream_id);
                s.sender = Some(sender);
                self.player_controls.insert((session, flow), stream);
                self.status(
                    Some(stream),
                    StatusInfo::status(code::CONNECT_SUCCESS_STREAM, "Connected to the peer.")
                        .with("details", Value::from(name.as_str())),
                );
            }
            Err(e) => self.fail_peer_play(stream, &format!("cannot open the control flow: {e}")),
        }
    }

    pub(super) fn on_peer_session_open(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        _role: Role,
        far_address: SocketAddr,
        far_id: Option<PeerId>,
    ) {
        let p = self
            .peer_sessions
            .entry(session)
            .or_insert_with(|| new_peer_session(far_id));
        p.open = true;
        p.far_id = far_id;
        p.far_address = Some(far_address);
        let waiting = std::mem::take(&mut p.waiting);
        if let Some(k) = self.peer_keepalive {
            let _ = ep.set_keepalive_interval(session, k);
        }
        for stream in waiting {
            if let Some(s) = self.streams.get_mut(&stream) {
                s.peer.direct_deadline = None;
            }
            self.open_player_control(ep, now, stream, session);
        }
    }

    pub(super) fn on_peer_session_failed(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        reason: OpenFailure,
    ) {
        let Some(p) = self.peer_sessions.remove(&session) else {
            return;
        };
        for stream in p.waiting {
            if let Some(s) = self.streams.get_mut(&stream) {
                s.peer.session = None;
            }
            match reason {
                // Another session to the publisher exists (or won glare):
                // use it (RFC 7016 §3.5.1.1.1 step 1, §3.5.1.3).
                OpenFailure::Duplicate(_) => self.start_peer_play(ep, now, stream),
                _ => self.fail_peer_play(
                    stream,
                    &format!("the session to the peer did not open: {reason}"),
                ),
            }
        }
    }

    pub(super) fn on_peer_session_closed(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
    ) {
        self.peer_sessions.remove(&session);
        let subscribers: Vec<PeerStreamId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.info.session == session)
            .map(|(id, _)| *id)
            .collect();
        for id in subscribers {
            self.drop_peer(ep, now, id, "the session with the subscriber closed", false);
        }
        self.player_flows.retain(|(s, _), _| *s != session);
        let players: Vec<StreamId> = self
            .player_controls
            .iter()
            .filter(|((s, _), _)| *s == session)
            .map(|(_, id)| *id)
            .collect();
        self.player_controls.retain(|(s, _), _| *s != session);
        self.rejecting.retain(|(s, _), _| *s != session);
        for stream in players {
            self.end_peer_play(stream, "the session with the publisher closed");
        }
    }

    /// A peer play is over: "NetStream.Connect.Closed", once.
    fn end_peer_play(&mut self, stream: StreamId, why: &str) {
        if let Some(s) = self.streams.get_mut(&stream) {
            if s.peer.ended {
                return;
            }
            s.peer.ended = true;
            s.playing = None;
            self.status(
                Some(stream),
                StatusInfo::status(code::CONNECT_CLOSED_STREAM, why),
            );
        }
    }

    /// A flow on a peer session: an unassociated flow with a non-zero
    /// stream ID is a subscriber's control flow (§5.4.2); a flow
    /// associated to one of our player control flows is a publisher's
    /// return flow.  Anything else is rejected.
    pub(super) fn on_peer_flow(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        flow: FlowId,
        metadata: &[u8],
        association: Option<FlowId>,
    ) {
        let Ok(meta) = FlowMetadata::parse(metadata) else {
            let _ = ep.reject_flow(session, flow, 0);
            return;
        };
        match association {
            None if meta.stream_id != 0 => {
                if ep
                    .accept_flow(now, session, flow, order_for(&meta))
                    .is_err()
                {
                    return;
                }
                let far = self.peer_sessions.get(&session);
                let far_id = far.and_then(|p| p.far_id);
                let far_address = far
                    .and_then(|p| p.far_address)
                    .or_else(|| ep.session_info(session).map(|i| i.far_address));
                let Some(far_address) = far_address else {
                    return;
                };
                let id = PeerStreamId(self.next_peer);
                self.next_peer += 1;
                self.peers.insert(
                    id,
                    PeerStream {
                        info: PeerStreamInfo {
                            id,
                            stream: None,
                            name: String::new(),
                            far_id,
                            far_address,
                            session,
                            stream_id: meta.stream_id,
                            accepted: false,
                            media_sent: 0,
                        },
                        control: flow,
                        sender: None,
                        state: PeerState::AwaitingPlay,
                    },
                );
                self.peer_controls.insert((session, flow), id);
            }
            Some(a) => match self.player_controls.get(&(session, a)).copied() {
                Some(stream) => {
                    if ep.accept_flow(now, session, flow, order_for(&meta)).is_ok() {
                        self.player_flows.insert((session, flow), stream);
                        if let Some(s) = self.streams.get_mut(&stream) {
                            s.peer.recv.insert(flow);
                        }
                    }
                }
                None => {
                    let _ = ep.reject_flow(session, flow, 0);
                }
            },
            None => {
                let _ = ep.reject_flow(session, flow, 0);
            }
        }
    }

    pub(super) fn on_peer_message(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        flow: FlowId,
        data: &[u8],
    ) {
        let Ok(inbound) = classify(data) else {
            return;
        };
        if let Some(&id) = self.peer_controls.get(&(session, flow)) {
            if let Inbound::Command { command, .. } = inbound {
                match command.name.as_str() {
                    name::PLAY => {
                        let name = command.stream_name().unwrap_or_default().to_owned();
                        self.on_peer_play(ep, now, id, name);
                    }
                    name::CLOSE_STREAM | name::DELETE_STREAM => {
                        self.drop_peer(ep, now, id, "the subscriber closed the stream", false);
                    }
                    _ => {}
                }
            }
        } else if let Some(&stream) = self.player_flows.get(&(session, flow)) {
            self.on_player_inbound(ep, now, stream, inbound);
        }
    }

    /// What a publisher sends a subscriber on its return flows (§5.4.2).
    fn on_player_inbound(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        stream: StreamId,
        inbound: Inbound,
    ) {
        match inbound {
            Inbound::Command { command, .. } if command.name == name::ON_STATUS => {
                let Some(info) = command.status_info() else {
                    return;
                };
                let refused = info.is_error()
                    || info.code == code::CONNECT_REJECTED_STREAM
                    || info.code == code::PLAY_STREAM_NOT_FOUND;
                if refused {
                    if let Some(s) = self.streams.get_mut(&stream) {
                        s.peer.ended = true;
                        s.playing = None;
                        if let Some(sender) = s.sender.as_mut() {
                            sender.close(ep, now);
                        }
                    }
                }
                self.status(Some(stream), info);
            }
            Inbound::Command { command, .. } => self.emit(ClientEvent::Command {
                stream: Some(stream),
                command,
            }),
            Inbound::UserControl(event) => self.emit(ClientEvent::UserControl {
                stream: Some(stream),
                event,
            }),
            Inbound::Media {
                message_type,
                timestamp,
                payload,
            } => self.emit(ClientEvent::Media {
                stream,
                message_type,
                timestamp,
                payload,
            }),
            Inbound::Ignored => {}
        }
    }

    pub(super) fn on_peer_flow_rejected(
        &mut self,
        _ep: &mut Endpoint,
        _now: Instant,
        session: SessionHandle,
        flow: FlowId,
    ) {
        // An exception on the subscriber control flow: the stream is
        // closed (§5.4.3).
        if let Some(stream) = self.player_controls.get(&(session, flow)).copied() {
            self.end_peer_play(stream, "the publisher closed the stream");
            return;
        }
        let hit = self.peers.iter_mut().find_map(|(id, p)| {
            (p.info.session == session && p.sender.as_mut().is_some_and(|s| s.on_rejected(flow)))
                .then_some(*id)
        });
        if let Some(id) = hit {
            self.drop_peer(_ep, _now, id, "the subscriber rejected the stream", false);
        }
    }

    pub(super) fn on_peer_flow_finished(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        flow: FlowId,
    ) {
        // §5.4.3: the publisher closes and unpublishes to a subscriber
        // whose control flow closed.
        if let Some(&id) = self.peer_controls.get(&(session, flow)) {
            self.drop_peer(ep, now, id, "the subscriber closed its control flow", false);
        }
    }

    // ----- DIRECT_CONNECTIONS publisher -----

    /// A subscriber's `play` (§5.4.2): the stream must be one of our
    /// DIRECT_CONNECTIONS streams, `max_peer_connections` must leave room,
    /// then the policy (or the mode) decides.
    fn on_peer_play(&mut self, ep: &mut Endpoint, now: Instant, id: PeerStreamId, name: String) {
        let stream = self
            .streams
            .iter()
            .find(|(_, s)| {
                s.kind == StreamKind::DirectConnections
                    && !s.closed
                    && s.publishing.as_deref() == Some(name.as_str())
            })
            .map(|(id, _)| *id);
        let max = self.config.max_peer_connections;
        let active = self
            .peers
            .iter()
            .filter(|(pid, p)| **pid != id && p.state != PeerState::AwaitingPlay)
            .count();
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        if p.state != PeerState::AwaitingPlay {
            return;
        }
        p.info.name = name.clone();
        let Some(stream) = stream else {
            return self.refuse_peer(
                ep,
                now,
                id,
                code::PLAY_STREAM_NOT_FOUND,
                &format!("no DIRECT_CONNECTIONS stream named {name:?}"),
            );
        };
        p.info.stream = Some(stream);
        if active >= max {
            return self.refuse_peer(
                ep,
                now,
                id,
                code::CONNECT_REJECTED_STREAM,
                &format!("max_peer_connections ({max}) reached"),
            );
        }
        p.state = PeerState::Pending;
        let info = p.info.clone();
        if let Some(policy) = self.policy.as_mut() {
            if policy(&info) {
                self.admit_peer(ep, now, id);
            } else {
                self.refuse_peer(
                    ep,
                    now,
                    id,
                    code::CONNECT_REJECTED_STREAM,
                    "rejected by the publisher's on_peer_connect",
                );
            }
            return;
        }
        if self.config.peer_connect == PeerConnectMode::Ask || self.asking.contains(&stream) {
            self.emit(ClientEvent::PeerConnect { peer: info });
        } else {
            self.admit_peer(ep, now, id);
        }
    }

    /// Accepts a subscriber: return flows with its stream ID associated
    /// to its control flow, carrying StreamBegin and the play statuses;
    /// media follows as the publisher sends it (§5.4.2).
    pub(super) fn admit_peer(&mut self, ep: &mut Endpoint, now: Instant, id: PeerStreamId) {
        let media = self.config.media;
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        let stream_id = p.info.stream_id;
        let name = p.info.name.clone();
        let mut sender = StreamSender::new(p.info.session, stream_id, Some(p.control), media);
        let begin = UserControlEvent::StreamBegin { stream_id }.to_bytes();
        let reset = Command::on_status(
            &StatusInfo::status(code::PLAY_RESET, &format!("Playing and resetting {name}."))
                .with("details", Value::from(name.as_str())),
        );
        let start = Command::on_status(
            &StatusInfo::status(code::PLAY_START, &format!("Started playing {name}."))
                .with("details", Value::from(name.as_str())),
        );
        let sent = sender
            .send(ep, now, message_type::USER_CONTROL, 0, &begin)
            .and_then(|_| sender.send(ep, now, P2P_COMMAND, 0, &command_bytes(&reset)))
            .and_then(|_| sender.send(ep, now, P2P_COMMAND, 0, &command_bytes(&start)));
        p.sender = Some(sender);
        if sent.is_err() {
            return self.drop_peer(ep, now, id, "cannot open flows to the subscriber", false);
        }
        p.state = PeerState::Accepted;
        p.info.accepted = true;
        let info = p.info.clone();
        self.emit(ClientEvent::PeerStreamOpened { peer: info });
    }

    /// Refuses a subscriber: an error status on a return flow, then its
    /// control flow is rejected once the status is delivered (§5.4.3).
    pub(super) fn refuse_peer(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        id: PeerStreamId,
        status_code: &str,
        why: &str,
    ) {
        let media = self.config.media;
        let Some(mut p) = self.peers.remove(&id) else {
            return;
        };
        self.peer_controls.remove(&(p.info.session, p.control));
        if let Some(sender) = p.sender.as_mut() {
            sender.close(ep, now);
        }
        let mut sender =
            StreamSender::new(p.info.session, p.info.stream_id, Some(p.control), media);
        let refusal = Command::on_status(
            &StatusInfo::error(status_code, why).with("details", Value::from(p.info.name.as_str())),
        );
        let flow = sender.data_flow(ep).and_then(|flow| {
            sender.send(ep, now, P2P_COMMAND, 0, &command_bytes(&refusal))?;
            Ok(flow)
        });
        sender.close(ep, now);
        match flow {
            Ok(flow) => {
                self.rejecting.insert((p.info.session, flow), p.control);
            }
            Err(_) => {
                let _ = ep.reject_flow(p.info.session, p.control, 0);
            }
        }
        self.emit(ClientEvent::PeerStreamClosed {
            peer: id,
            stream: p.info.stream,
            far_id: p.info.far_id,
            reason: format!("{status_code}: {why}"),
        });
    }

    /// Forgets a subscriber; with `tell`, its control flow is rejected
    /// after our flows close (the publisher ends the stream, §5.4.3).
    pub(super) fn drop_peer(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        id: PeerStreamId,
        why: &str,
        tell: bool,
    ) {
        let Some(mut p) = self.peers.remove(&id) else {
            return;
        };
        self.peer_controls.remove(&(p.info.session, p.control));
        if let Some(sender) = p.sender.as_mut() {
            if tell {
                // The notify must not overtake the last media on the
                // subscriber's other flows (RFC 7425 §5.2).
                let _ = sender.sync(ep, now, self.next_sync_id);
                self.next_sync_id = self.next_sync_id.wrapping_add(1);
                let stop = Command::on_status(
                    &StatusInfo::status(code::PLAY_UNPUBLISH_NOTIFY, why)
                        .with("details", Value::from(p.info.name.as_str())),
                );
                if let Ok(flow) = sender.data_flow(ep) {
                    if sender
                        .send(ep, now, P2P_COMMAND, 0, &command_bytes(&stop))
                        .is_ok()
                    {
                        self.rejecting.insert((p.info.session, flow), p.control);
                    }
                }
            }
            sender.close(ep, now);
        } else if tell {
            let _ = ep.reject_flow(p.info.session, p.control, 0);
        }
        self.emit(ClientEvent::PeerStreamClosed {
            peer: id,
            stream: p.info.stream,
            far_id: p.info.far_id,
            reason: why.to_owned(),
        });
    }

    /// Sends one message to the accepted subscribers of `stream` (or to
    /// `only`); returns how many it was queued for.  If none took it and
    /// some refused because their flow was full, it is
    /// `FlowError::WouldBlock` (the caller keeps it and retries, as on a
    /// server stream); a subscriber that is full while others take the
    /// message misses it (a slow subscriber does not hold back the rest).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_to_peers(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        stream: StreamId,
        only: Option<PeerStreamId>,
        message_type: u8,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<usize, ClientError> {
        let media = matches!(message_type, message_type::AUDIO | message_type::VIDEO);
        let (mut n, mut full) = (0, 0);
        for (id, p) in self.peers.iter_mut() {
            if p.state != PeerState::Accepted
                || p.info.stream != Some(stream)
                || only.is_some_and(|o| o != *id)
            {
                continue;
            }
            if let Some(sender) = p.sender.as_mut() {
                match sender.send(ep, now, message_type, timestamp, payload) {
                    Ok(_) => {
                        n += 1;
                        if media {
                            p.info.media_sent += 1;
                        }
                    }
                    Err(EndpointError::Flow(FlowError::WouldBlock)) => full += 1,
                    Err(_) => {}
                }
            }
        }
        if n == 0 && full > 0 {
            return Err(ClientError::Endpoint(EndpointError::Flow(
                FlowError::WouldBlock,
            )));
        }
        Ok(n)
    }
}

fn new_peer_session(far_id: Option<PeerId>) -> PeerSession {
    PeerSession {
        far_id,
        far_address: None,
        open: false,
        waiting: Vec::new(),
        next_stream_id: FIRST_PEER_STREAM_ID,
    }
}

fn session_open_now(
    sessions: &std::collections::HashMap<SessionHandle, PeerSession>,
    session: SessionHandle,
) -> bool {
    sessions.get(&session).is_some_and(|p| p.open)
}
