//! The client's NetConnection to the server (RFC 7425 §5.3): the control
//! flows, `connect`, `setPeerInfo`, Set Keepalive Timers and the stream
//! flows of NetStreams through the server.

use super::{
    Call, ClientError, ClientEvent, ConnState, FlashClient, Op, StreamId, StreamKind, CONNECT_TXN,
};
use crate::crypto::PeerId;
use crate::endpoint::Endpoint;
use crate::flash::candidates::advertisable;
use crate::flash::command::{code, name, Command, ObjectEncoding, StatusInfo};
use crate::flash::inbound::{classify, Inbound};
use crate::flash::media::StreamSender;
use crate::flash::message::message_type;
use crate::flash::metadata::{FlowMetadata, ReceiveIntent};
use crate::flash::user_control::UserControlEvent;
use crate::flow::{DeliveryOrder, FlowId};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The delivery order a receiver takes for a flow's receive intent
/// (RFC 7425 §5.1.1).
pub(crate) fn order_for(metadata: &FlowMetadata) -> DeliveryOrder {
    match metadata.receive_intent {
        ReceiveIntent::OriginalOrder => DeliveryOrder::Sequence,
        ReceiveIntent::NetworkArrival => DeliveryOrder::Network,
    }
}

impl FlashClient {
    /// S_OPEN with the server: open the NetConnection control flow
    /// (stream ID 0, original order) and send `connect` (§5.3.1).
    pub(super) fn on_server_open(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        far_address: SocketAddr,
        far_id: Option<PeerId>,
        near_nonce: Vec<u8>,
        far_nonce: Vec<u8>,
    ) {
        let media = self.config.media;
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        conn.far_address = Some(far_address);
        conn.far_id = far_id;
        conn.near_nonce = near_nonce;
        conn.far_nonce = far_nonce;
        conn.state = ConnState::Connecting;
        let mut control = StreamSender::new(conn.session, 0, None, media);
        // `connect` always goes as an AMF0 command (type 20): the encoding
        // is what it negotiates.
        let sent = conn
            .connect_command
            .encode(message_type::COMMAND_AMF0)
            .ok()
            .and_then(|payload| {
                control
                    .send(ep, now, message_type::COMMAND_AMF0, 0, &payload)
                    .ok()
            });
        conn.control = Some(control);
        if sent.is_none() {
            let session = conn.session;
            let _ = ep.close(now, session, true);
            self.server_gone(Some(code::CONNECT_FAILED), "could not send connect");
        }
    }

    /// The connection is over: report it once with `code` (default:
    /// Closed if it was up, Failed otherwise).
    pub(super) fn server_gone(&mut self, code_override: Option<&str>, description: &str) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let was = conn.state;
        conn.state = ConnState::Closed;
        if conn.ended {
            return;
        }
        conn.ended = true;
        let code = code_override.unwrap_or(if was == ConnState::Connected {
            code::CONNECT_CLOSED
        } else {
            code::CONNECT_FAILED
        });
        let info = if code == code::CONNECT_CLOSED {
            StatusInfo::status(code, description)
        } else {
            StatusInfo::error(code, description)
        };
        for s in self.streams.values_mut() {
            if s.kind == StreamKind::Server {
                s.closed = true;
            }
        }
        let waiting = std::mem::take(&mut self.waiting_for_server);
        for stream in waiting {
            self.fail_peer_play(stream, "no server connection to introduce the peers");
        }
        self.status(None, info);
    }

    /// Sends a command on the NetConnection control flow in the
    /// negotiated encoding (§5.3.3: type 20 for AMF0, 17 for AMF3).
    pub(super) fn send_control(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        command: &Command,
    ) -> Result<(), ClientError> {
        let conn = self.conn.as_mut().ok_or(ClientError::NotConnected)?;
        if conn.state != ConnState::Connected {
            return Err(ClientError::NotConnected);
        }
        let ty = conn.encoding.command_type();
        let payload = command
            .encode(ty)
            .map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        let control = conn.control.as_mut().ok_or(ClientError::NotConnected)?;
        control.send(ep, now, ty, 0, &payload)?;
        Ok(())
    }

    pub(super) fn send_create_stream(&mut self, ep: &mut Endpoint, now: Instant, id: StreamId) {
        let txn = self.txn();
        if self
            .send_control(ep, now, &Command::create_stream(txn as f64))
            .is_ok()
        {
            self.calls.insert(txn, Call::CreateStream(id));
        }
    }

    /// Sends a stream's `publish` or `play` on its flow to the server
    /// (§5.3.5.1: that stream ID, associated to the server's canonical
    /// control flow).
    pub(super) fn run_op(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        stream: StreamId,
        op: Op,
    ) -> Result<(), ClientError> {
        let ty = self.object_encoding().command_type();
        let command = match &op {
            Op::Publish(name) => Command::publish(name, "live"),
            Op::Play(name) => Command::play(name),
        };
        let payload = command
            .encode(ty)
            .map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        let s = self
            .streams
            .get_mut(&stream)
            .ok_or(ClientError::UnknownStream)?;
        let sender = s
            .sender
            .as_mut()
            .ok_or(ClientError::WrongState("no stream ID yet"))?;
        sender.send(ep, now, ty, 0, &payload)?;
        Ok(())
    }

    /// A flow from the server: stream ID 0 flows are its control flows,
    /// the first one canonical (§5.3.2); others carry a stream (§5.3.5.2).
    /// Both must be associated to one of our flows.
    pub(super) fn on_server_flow(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        flow: FlowId,
        metadata: &[u8],
        association: Option<FlowId>,
    ) {
        let Some(conn) = self.conn.as_ref() else {
            return;
        };
        let session = conn.session;
        let Ok(meta) = FlowMetadata::parse(metadata) else {
            // §5.1.1: reject unknown signatures and flows without SID.
            let _ = ep.reject_flow(session, flow, 0);
            return;
        };
        let ours = association.is_some_and(|a| {
            conn.control.as_ref().is_some_and(|c| c.owns(a))
                || self.streams.values().any(|s| {
                    s.kind == StreamKind::Server && s.sender.as_ref().is_some_and(|x| x.owns(a))
                })
        });
        let known_stream = meta.stream_id == 0 || self.server_streams.contains_key(&meta.stream_id);
        if !ours || !known_stream {
            let _ = ep.reject_flow(session, flow, 0);
            return;
        }
        if ep
            .accept_flow(now, session, flow, order_for(&meta))
            .is_err()
        {
            return;
        }
        if let Some(conn) = self.conn.as_mut() {
            if meta.stream_id == 0 && conn.return_control.is_none() {
                conn.return_control = Some(flow);
            }
            conn.recv.insert(flow, meta.stream_id);
        }
    }

    pub(super) fn on_server_message(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        flow: FlowId,
        data: &[u8],
    ) {
        let Some(&stream_id) = self.conn.as_ref().and_then(|c| c.recv.get(&flow)) else {
            return;
        };
        // Malformed messages are an error for that message only.
        let Ok(inbound) = classify(data) else {
            return;
        };
        if stream_id == 0 {
            self.on_control_inbound(ep, now, inbound);
        } else if let Some(&local) = self.server_streams.get(&stream_id) {
            self.on_stream_inbound(ep, now, local, inbound);
        }
    }

    fn on_control_inbound(&mut self, ep: &mut Endpoint, now: Instant, inbound: Inbound) {
        match inbound {
            Inbound::Command { command, .. } => {
                if command.is_result() || command.is_error() {
                    self.on_response(ep, now, None, command);
                } else if command.name == name::ON_STATUS {
                    if let Some(info) = command.status_info() {
                        self.status(None, info);
                    }
                } else if command.name == name::CLOSE {
                    self.close(ep, now);
                } else if super::fallback::is_relay_request(&command) {
                    self.on_relay_request(ep, now, &command);
                } else if super::fallback::is_relay_playing(&command) {
                    self.on_relay_playing(&command);
                } else {
                    self.emit(ClientEvent::Command {
                        stream: None,
                        command,
                    });
                }
            }
            Inbound::UserControl(UserControlEvent::SetKeepaliveTimers { server_ms, peer_ms }) => {
                self.apply_keepalive(ep, server_ms, peer_ms);
            }
            Inbound::UserControl(UserControlEvent::PingRequest { timestamp }) => {
                if let Some(control) = self.conn.as_mut().and_then(|c| c.control.as_mut()) {
                    let pong = UserControlEvent::PingResponse { timestamp }.to_bytes();
                    let _ = control.send(ep, now, message_type::USER_CONTROL, 0, &pong);
                }
            }
            Inbound::UserControl(event) => self.emit(ClientEvent::UserControl {
                stream: None,
                event,
            }),
            Inbound::Media { .. } | Inbound::Ignored => {}
        }
    }

    fn on_stream_inbound(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        local: StreamId,
        inbound: Inbound,
    ) {
        match inbound {
            Inbound::Command { command, .. } => {
                if command.is_result() || command.is_error() {
                    self.on_response(ep, now, Some(local), command);
                } else if command.name == name::ON_STATUS {
                    if let Some(info) = command.status_info() {
                        self.stream_status(local, &info);
                        self.status(Some(local), info);
                    }
                } else {
                    self.emit(ClientEvent::Command {
                        stream: Some(local),
                        command,
                    });
                }
            }
            Inbound::UserControl(event) => self.emit(ClientEvent::UserControl {
                stream: Some(local),
                event,
            }),
            Inbound::Media {
                message_type,
                timestamp,
                payload,
            } => self.emit(ClientEvent::Media {
                stream: local,
                message_type,
                timestamp,
                payload,
            }),
            Inbound::Ignored => {}
        }
    }

    /// Keeps a stream's state in step with the statuses it is sent.
    fn stream_status(&mut self, local: StreamId, info: &StatusInfo) {
        if let Some(s) = self.streams.get_mut(&local) {
            if info.code == code::PUBLISH_BAD_NAME
                || (info.is_error() && info.code.starts_with("NetStream.Publish"))
            {
                s.publishing = None;
            }
            if info.code == code::PLAY_STREAM_NOT_FOUND || info.code == code::PLAY_FAILED {
                s.playing = None;
            }
        }
    }

    /// `_result` / `_error` for a transaction.
    fn on_response(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        stream: Option<StreamId>,
        command: Command,
    ) {
        let txn = command.transaction_id as u64;
        let connecting = self
            .conn
            .as_ref()
            .is_some_and(|c| c.state == ConnState::Connecting);
        if txn == CONNECT_TXN && connecting {
            return self.on_connect_response(ep, now, command);
        }
        match self.calls.remove(&txn) {
            Some(Call::CreateStream(id)) => self.on_create_stream_result(ep, now, id, &command),
            Some(Call::Relay(id, no_path)) => self.on_relay_answer(ep, now, id, no_path, &command),
            Some(Call::User) => self.emit(ClientEvent::CallResult {
                transaction_id: command.transaction_id,
                ok: command.is_result(),
                response: command,
            }),
            None => self.emit(ClientEvent::Command { stream, command }),
        }
    }

    /// The answer to `connect` (§5.3.2): up on `_result`, then
    /// `setPeerInfo` (§5.3.3); refused on `_error`.
    fn on_connect_response(&mut self, ep: &mut Endpoint, now: Instant, command: Command) {
        if command.is_error() {
            let info = command.status_info().unwrap_or_else(|| {
                StatusInfo::error(code::CONNECT_REJECTED, "the server refused the connection")
            });
            if let Some(conn) = self.conn.as_mut() {
                conn.state = ConnState::Closed;
                conn.ended = true;
                let session = conn.session;
                let _ = ep.close(now, session, false);
            }
            let waiting = std::mem::take(&mut self.waiting_for_server);
            for stream in waiting {
                self.fail_peer_play(stream, "the server refused the connection");
            }
            self.status(None, info);
            return;
        }
        let info = command
            .status_info()
            .unwrap_or_else(|| StatusInfo::status(code::CONNECT_SUCCESS, "Connection succeeded."));
        let encoding = info
            .extra
            .iter()
            .find(|(k, _)| k == "objectEncoding")
            .and_then(|(_, v)| v.as_f64())
            .map_or(ObjectEncoding::Amf0, ObjectEncoding::from_number);
        if let Some(conn) = self.conn.as_mut() {
            conn.state = ConnState::Connected;
            conn.encoding = encoding;
        }
        self.on_connected_fallback(ep, now, &info);
        self.status(None, info);
        // §5.3.3: the client MUST send setPeerInfo after a successful
        // connect, with its candidate addresses (no loopback or
        // link-local ones).
        let addresses = advertisable(&self.config.local_addresses);
        let _ = self.send_control(ep, now, &Command::set_peer_info(&addresses));
        let unnumbered: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|(_, s)| s.kind == StreamKind::Server && s.stream_id.is_none() && !s.closed)
            .map(|(id, _)| *id)
            .collect();
        for id in unnumbered {
            self.send_create_stream(ep, now, id);
        }
        let waiting = std::mem::take(&mut self.waiting_for_server);
        for stream in waiting {
            self.start_peer_play(ep, now, stream);
        }
    }

    fn on_create_stream_result(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        id: StreamId,
        command: &Command,
    ) {
        let stream_id = command
            .number_arg()
            .filter(|n| command.is_result() && *n >= 1.0 && *n <= f64::from(0x00ff_ffff))
            .map(|n| n as u32);
        let Some(stream_id) = stream_id else {
            self.status(
                Some(id),
                StatusInfo::error(code::STREAM_FAILED, "createStream failed"),
            );
            return;
        };
        let media = self.config.media;
        let Some(conn) = self.conn.as_ref() else {
            return;
        };
        let sender = StreamSender::new(conn.session, stream_id, conn.return_control, media);
        let Some(s) = self.streams.get_mut(&id) else {
            return;
        };
        s.stream_id = Some(stream_id);
        s.sender = Some(sender);
        let ops = std::mem::take(&mut s.pending);
        self.server_streams.insert(stream_id, id);
        self.emit(ClientEvent::StreamCreated {
            stream: id,
            stream_id,
        });
        for op in ops {
            let _ = self.run_op(ep, now, id, op);
        }
    }

    /// Applies Set Keepalive Timers (§5.3.4) within our minimum and
    /// maximum; the maximum stays under half the idle timeout so that a
    /// quiet session is not declared dead between keepalives.
    fn apply_keepalive(&mut self, ep: &mut Endpoint, server_ms: u32, peer_ms: u32) {
        let min = self.config.keepalive_min;
        let max = self
            .config
            .keepalive_max
            .min(ep.config().idle_timeout / 2)
            .max(min);
        let clamp = |ms: u32| Duration::from_millis(u64::from(ms)).clamp(min, max);
        let (server, peer) = (clamp(server_ms), clamp(peer_ms));
        if let Some(conn) = self.conn.as_ref() {
            let _ = ep.set_keepalive_interval(conn.session, server);
        }
        self.peer_keepalive = Some(peer);
        for (session, p) in &self.peer_sessions {
            if p.open {
                let _ = ep.set_keepalive_interval(*session, peer);
            }
        }
        self.emit(ClientEvent::KeepaliveTimers { server, peer });
    }

    /// The server rejected one of our flows: the control flow means it
    /// has gone (§5.3.6); a stream flow ends that stream (§5.3.5.3).
    pub(super) fn on_server_flow_rejected(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        flow: FlowId,
    ) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if conn.control.as_ref().is_some_and(|c| c.owns(flow)) {
            let session = conn.session;
            let _ = ep.close(now, session, true);
            self.server_gone(None, "the server rejected the control flow");
            return;
        }
        let hit = self.streams.iter_mut().find_map(|(id, s)| {
            (s.kind == StreamKind::Server && s.sender.as_mut().is_some_and(|x| x.on_rejected(flow)))
                .then_some(*id)
        });
        if let Some(id) = hit {
            self.status(
                Some(id),
                StatusInfo::error(code::STREAM_FAILED, "the server rejected the stream's flow"),
            );
        }
    }

    /// A server flow finished; the canonical control flow finishing is
    /// the server's orderly close (§5.3.6): close ours and the session.
    pub(super) fn on_server_flow_finished(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        flow: FlowId,
    ) {
        let canonical = self
            .conn
            .as_ref()
            .is_some_and(|c| c.return_control == Some(flow));
        if canonical {
            self.close(ep, now);
            self.server_gone(None, "the server closed the connection");
        }
    }
}
