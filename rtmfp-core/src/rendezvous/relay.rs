//! Streams through the server (RFC 7425 §5.3.5): `publish` and `play` on
//! stream flows, and the relay of a publisher's messages to its players,
//! each on the player's own flows for that stream (audio above video,
//! late frames dropped).  This is also the fallback when two peers cannot
//! reach each other directly.

use super::asks::Waiting;
use super::server::{ClientState, ClientStream, Published, Server};
use super::types::{AskKind, AskRequest, ServerEvent, StreamRequest};
use crate::endpoint::{Endpoint, SessionHandle};
use crate::flash::command::{code, decode_values, encode_values, name, Command, StatusInfo};
use crate::flash::inbound::Inbound;
use crate::flash::media::{encode_shared, is_sequence_header, is_video_keyframe, StreamSender};
use crate::flash::message::message_type;
use crate::flash::user_control::UserControlEvent;
use crate::flash::Value;
use crate::flow::FlowId;
use std::time::Instant;

/// `onMetaData` stripped of a leading `@setDataFrame`, if `payload` is
/// one (FMS convention: publishers send `@setDataFrame`, players get
/// `onMetaData`).
fn metadata_of(message_type: u8, payload: &[u8]) -> Option<Vec<u8>> {
    let values = decode_values(message_type, payload).ok()?;
    match values.first().and_then(Value::as_str) {
        Some("onMetaData") => Some(payload.to_vec()),
        Some("@setDataFrame") => encode_values(message_type, &values[1..]).ok(),
        _ => None,
    }
}

impl Server {
    /// The flows to a client for one of its stream IDs, opened lazily and
    /// associated to its control flow (§5.3.5.2).
    fn stream_sender(
        clients: &mut std::collections::HashMap<SessionHandle, super::server::Client>,
        media: crate::flash::media::MediaConfig,
        session: SessionHandle,
        stream_id: u32,
    ) -> Option<(&mut StreamSender, u8)> {
        let c = clients.get_mut(&session)?;
        let control = c.control;
        let ty = c.encoding.command_type();
        let s = c.streams.get_mut(&stream_id)?;
        let sender = s
            .sender
            .get_or_insert_with(|| StreamSender::new(session, stream_id, control, media));
        Some((sender, ty))
    }

    /// Sends a status event on a client's stream.
    pub(super) fn stream_status(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        stream_id: u32,
        info: &StatusInfo,
    ) {
        let media = self.config.media;
        if let Some((sender, ty)) =
            Self::stream_sender(&mut self.clients, media, session, stream_id)
        {
            if let Ok(payload) = Command::on_status(info).encode(ty) {
                let _ = sender.send(ep, now, ty, 0, &payload);
            }
        }
    }

    /// Whether a client's stream ID already publishes or plays (or waits
    /// for a verdict on doing so).
    fn stream_in_use(&self, session: SessionHandle, stream_id: u32) -> bool {
        self.clients
            .get(&session)
            .and_then(|c| c.streams.get(&stream_id))
            .is_some_and(|s| s.publishing.is_some() || s.playing.is_some() || s.asking.is_some())
    }

    /// What the hooks are told about a `publish` or `play`.
    fn stream_request(&self, session: SessionHandle, stream_id: u32, name: &str) -> StreamRequest {
        let c = self.clients.get(&session);
        StreamRequest {
            session,
            peer_id: c.and_then(|c| c.peer_id),
            address: c.map_or(([0, 0, 0, 0], 0).into(), |c| c.address),
            app: c.map(|c| c.app.clone()).unwrap_or_default(),
            name: name.to_owned(),
            stream_id,
        }
    }

    /// Parks a `publish` or `play` that passed every other check until
    /// the application's verdict (super::asks); false if it is not asked
    /// about.
    fn park_stream(
        &mut self,
        now: Instant,
        session: SessionHandle,
        stream_id: u32,
        stream: &str,
        kind: AskKind,
    ) -> bool {
        if !self.hooks.asks.asks(kind) {
            return false;
        }
        let request = self.stream_request(session, stream_id, stream);
        let (what, request) = match kind {
            AskKind::Publish => (
                Waiting::Publish {
                    stream_id,
                    name: stream.to_owned(),
                },
                AskRequest::Publish(request),
            ),
            _ => (
                Waiting::Play {
                    stream_id,
                    name: stream.to_owned(),
                },
                AskRequest::Play(request),
            ),
        };
        let id = self.park(now, session, what, request);
        if let Some(s) = self
            .clients
            .get_mut(&session)
            .and_then(|c| c.streams.get_mut(&stream_id))
        {
            s.asking = Some(id);
        }
        true
    }

    /// Refuses a publish or play: an error status on the stream with the
    /// stream name as details, and a StreamRejected event.
    #[allow(clippy::too_many_arguments)]
    fn refuse_stream(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        stream_id: u32,
        stream: String,
        status_code: &str,
        reason: String,
    ) {
        let info =
            StatusInfo::error(status_code, &reason).with("details", Value::from(stream.as_str()));
        self.stream_status(ep, now, session, stream_id, &info);
        self.emit(ServerEvent::StreamRejected {
            session,
            name: stream,
            reason,
        });
    }

    pub(super) fn on_stream(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        stream_id: u32,
        inbound: Inbound,
    ) {
        let draining = self.draining_stream(session, stream_id).is_some();
        let known = self.clients.get(&session).is_some_and(|c| {
            c.state == ClientState::Connected && (draining || c.streams.contains_key(&stream_id))
        });
        if !known {
            return;
        }
        match inbound {
            Inbound::Command { command, .. } => match command.name.as_str() {
                name::PUBLISH => {
                    let stream = command.stream_name().unwrap_or_default().to_owned();
                    self.publish(ep, now, session, stream_id, stream);
                }
                name::PLAY => {
                    let stream = command.stream_name().unwrap_or_default().to_owned();
                    self.play(ep, now, session, stream_id, stream);
                }
                name::CLOSE_STREAM => self.stop_stream(ep, now, session, stream_id),
                name::DELETE_STREAM => {
                    if let Some(id) = command.number_arg().filter(|n| *n >= 1.0) {
                        self.delete_stream(ep, now, session, id as u32);
                    }
                }
                _ => {}
            },
            Inbound::Media {
                message_type,
                timestamp,
                payload,
            } => self.on_media(
                ep,
                now,
                session,
                stream_id,
                message_type,
                timestamp,
                &payload,
            ),
            Inbound::UserControl(_) | Inbound::Ignored => {}
        }
    }

    fn publish(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        stream_id: u32,
        stream: String,
    ) {
        // A closed publication on this stream ID, or of this name, that
        // still drains ends now.
        self.finish_draining(ep, now, session, stream_id);
        self.finish_draining_name(ep, now, &stream);
        let busy = self.stream_in_use(session, stream_id);
        let refusal = if stream.is_empty() {
            Some("a stream name is required".to_owned())
        } else if busy {
            Some("the stream ID is already in use".to_owned())
        } else if self.published.contains_key(&stream) {
            Some(format!("{stream:?} is already being published"))
        } else if self.hooks.on_publish.is_some() {
            let request = self.stream_request(session, stream_id, &stream);
            self.hooks
                .on_publish
                .as_mut()
                .and_then(|hook| hook(&request).err())
        } else {
            None
        };
        if let Some(reason) = refusal {
            return self.refuse_stream(
                ep,
                now,
                session,
                stream_id,
                stream,
                code::PUBLISH_BAD_NAME,
                reason,
            );
        }
        if self.park_stream(now, session, stream_id, &stream, AskKind::Publish) {
            return;
        }
        self.start_publish(ep, now, session, stream_id, stream);
    }

    /// A `publish` accepted by the application (super::asks): the name
    /// may have been taken while it waited.
    pub(super) fn publish_accepted(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        stream_id: u32,
        stream: String,
    ) {
        self.finish_draining_name(ep, now, &stream);
        if self.published.contains_key(&stream) {
            let reason = format!("{stream:?} is already being published");
            return self.refuse_publish(ep, now, session, stream_id, stream, reason);
        }
        self.start_publish(ep, now, session, stream_id, stream);
    }

    /// Refuses a `publish` with "NetStream.Publish.BadName" (§5.3.5).
    pub(super) fn refuse_publish(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        stream_id: u32,
        stream: String,
        reason: String,
    ) {
        self.refuse_stream(
            ep,
            now,
            session,
            stream_id,
            stream,
            code::PUBLISH_BAD_NAME,
            reason,
        );
    }

    /// Refuses a `play` with "NetStream.Play.Failed" (§5.3.5).
    pub(super) fn refuse_play(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        stream_id: u32,
        stream: String,
        reason: String,
    ) {
        self.refuse_stream(
            ep,
            now,
            session,
            stream_id,
            stream,
            code::PLAY_FAILED,
            reason,
        );
    }

    /// Publishes `stream` from a client's stream ID: "NetStream.Publish.Start"
    /// to it, "NetStream.Play.PublishNotify" to the players waiting.
    fn start_publish(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        stream_id: u32,
        stream: String,
    ) {
        if let Some(s) = self
            .clients
            .get_mut(&session)
            .and_then(|c| c.streams.get_mut(&stream_id))
        {
            s.publishing = Some(stream.clone());
        }
        self.published.insert(
            stream.clone(),
            Published {
                publisher: (session, stream_id),
                metadata: None,
                video_config: None,
                audio_config: None,
                messages: 0,
                bytes: 0,
                relayed: 0,
            },
        );
        let info = StatusInfo::status(code::PUBLISH_START, &format!("{stream} is now published."))
            .with("details", Value::from(stream.as_str()));
        self.stream_status(ep, now, session, stream_id, &info);
        // A cluster upstream for it is no longer needed.
        self.drop_upstream(&stream);
        self.notify_published(ep, now, &stream);
        self.emit(ServerEvent::Published {
            session,
            name: stream,
        });
    }

    /// Players already waiting for `stream` hear that it started.
    pub(super) fn notify_published(&mut self, ep: &mut Endpoint, now: Instant, stream: &str) {
        let waiting: Vec<(SessionHandle, u32)> = self
            .players
            .get(stream)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        let notify = StatusInfo::status(
            code::PLAY_PUBLISH_NOTIFY,
            &format!("{stream} is now published."),
        )
        .with("details", Value::from(stream));
        for (s, id) in waiting {
            if let Some(cs) = self
                .clients
                .get_mut(&s)
                .and_then(|c| c.streams.get_mut(&id))
            {
                cs.waiting_keyframe = true;
            }
            self.stream_status(ep, now, s, id, &notify);
        }
    }

    /// Players of `stream` hear that it stopped.
    pub(super) fn notify_unpublished(&mut self, ep: &mut Endpoint, now: Instant, stream: &str) {
        let players: Vec<(SessionHandle, u32)> = self
            .players
            .get(stream)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        let info = StatusInfo::status(
            code::PLAY_UNPUBLISH_NOTIFY,
            &format!("{stream} is now unpublished."),
        )
        .with("details", Value::from(stream));
        for (s, id) in players {
            // The notify must not overtake the last media, which the
            // player's other flows may still carry (RFC 7425 §5.2).
            let sync_id = self.next_sync_id;
            self.next_sync_id = self.next_sync_id.wrapping_add(1);
            let media = self.config.media;
            if let Some((sender, _)) = Self::stream_sender(&mut self.clients, media, s, id) {
                let _ = sender.sync(ep, now, sync_id);
            }
            self.stream_status(ep, now, s, id, &info);
        }
    }

    /// `play` (§5.3.5.2): StreamBegin and the play statuses on the
    /// client's flows for that stream ID, then the publisher's messages
    /// as they come (metadata and codec configuration first).
    fn play(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        stream_id: u32,
        stream: String,
    ) {
        let busy = self.stream_in_use(session, stream_id);
        let refusal = if stream.is_empty() {
            Some("a stream name is required".to_owned())
        } else if busy {
            Some("the stream ID is already in use".to_owned())
        } else if !self.config.relay {
            Some("this server does not relay streams".to_owned())
        } else if self.hooks.on_play.is_some() {
            let request = self.stream_request(session, stream_id, &stream);
            self.hooks
                .on_play
                .as_mut()
                .and_then(|hook| hook(&request).err())
        } else {
            None
        };
        if let Some(reason) = refusal {
            return self.refuse_play(ep, now, session, stream_id, stream, reason);
        }
        if self.park_stream(now, session, stream_id, &stream, AskKind::Play) {
            return;
        }
        self.start_play(ep, now, session, stream_id, stream);
    }

    /// Plays `stream` on a client's stream ID (`play` accepted).
    pub(super) fn start_play(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        stream_id: u32,
        stream: String,
    ) {
        if let Some(s) = self
            .clients
            .get_mut(&session)
            .and_then(|c| c.streams.get_mut(&stream_id))
        {
            s.playing = Some(stream.clone());
            s.waiting_keyframe = true;
        }
        self.players
            .entry(stream.clone())
            .or_default()
            .insert((session, stream_id));
        let media = self.config.media;
        if let Some((sender, _)) = Self::stream_sender(&mut self.clients, media, session, stream_id)
        {
            let begin = UserControlEvent::StreamBegin { stream_id }.to_bytes();
            let _ = sender.send(ep, now, message_type::USER_CONTROL, 0, &begin);
        }
        let details = Value::from(stream.as_str());
        let reset = StatusInfo::status(
            code::PLAY_RESET,
            &format!("Playing and resetting {stream}."),
        )
        .with("details", details.clone());
        let start = StatusInfo::status(code::PLAY_START, &format!("Started playing {stream}."))
            .with("details", details);
        self.stream_status(ep, now, session, stream_id, &reset);
        self.stream_status(ep, now, session, stream_id, &start);
        // A late joiner gets the stream's metadata and codec configuration.
        let cached: Vec<(u8, u32, Vec<u8>)> = self
            .published
            .get(&stream)
            .map(|p| {
                let mut v = Vec::new();
                if let Some(m) = &p.metadata {
                    v.push(m.clone());
                }
                if let Some((ts, b)) = &p.audio_config {
                    v.push((message_type::AUDIO, *ts, b.clone()));
                }
                if let Some((ts, b)) = &p.video_config {
                    v.push((message_type::VIDEO, *ts, b.clone()));
                }
                v
            })
            .unwrap_or_default();
        if let Some((sender, _)) = Self::stream_sender(&mut self.clients, media, session, stream_id)
        {
            for (ty, ts, payload) in cached {
                let _ = sender.send(ep, now, ty, ts, &payload);
            }
        }
        self.on_relay_play(ep, now, session, &stream);
        if !self.published.contains_key(&stream) {
            // A cluster node plays it from the node it is published
            // through, if any (cluster/upstream.rs).
            let app = self
                .clients
                .get(&session)
                .map(|c| c.app.clone())
                .unwrap_or_default();
            self.want_upstream(now, &stream, &app);
        }
        self.emit(ServerEvent::Playing {
            session,
            name: stream,
        });
    }

    /// A message from a publisher: remembered if it is metadata or codec
    /// configuration, then relayed to every player of the stream.
    #[allow(clippy::too_many_arguments)]
    fn on_media(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        stream_id: u32,
        ty: u8,
        timestamp: u32,
        payload: &[u8],
    ) {
        let draining = self.draining_stream(session, stream_id).map(str::to_owned);
        let Some(c) = self.clients.get_mut(&session) else {
            return;
        };
        let publishing = c.streams.get(&stream_id).and_then(|s| s.publishing.clone());
        let Some(stream) = publishing.or(draining) else {
            return;
        };
        let av = matches!(ty, message_type::AUDIO | message_type::VIDEO);
        if av {
            c.media_in += 1;
            self.stats.media_in += 1;
        }
        self.relay_to_players(
            ep,
            now,
            &stream,
            Some((session, stream_id)),
            ty,
            timestamp,
            payload,
        );
    }

    /// A message of a published stream (from its publisher, or from a
    /// cluster upstream): remembered if it is metadata or codec
    /// configuration, then sent to every player but `exclude`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn relay_to_players(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        stream: &str,
        exclude: Option<(SessionHandle, u32)>,
        ty: u8,
        timestamp: u32,
        payload: &[u8],
    ) {
        let Some(p) = self.published.get_mut(stream) else {
            return;
        };
        p.messages += 1;
        p.bytes += payload.len() as u64;
        let mut payload = payload.to_vec();
        if matches!(ty, message_type::DATA_AMF0 | message_type::DATA_AMF3) {
            if let Some(meta) = metadata_of(ty, &payload) {
                payload = meta.clone();
                p.metadata = Some((ty, timestamp, meta));
            }
        } else if is_sequence_header(ty, &payload) {
            let slot = if ty == message_type::VIDEO {
                &mut p.video_config
            } else {
                &mut p.audio_config
            };
            *slot = Some((timestamp, payload.clone()));
        }
        if !self.config.relay {
            return;
        }
        let players: Vec<(SessionHandle, u32)> = self
            .players
            .get(stream)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        let media = self.config.media;
        let mut relayed = 0;
        let mut dropped = 0;
        // Encoded once: every player's flow holds the same bytes.
        let Ok(encoded) = encode_shared(ty, timestamp, &payload) else {
            self.stats.relay_dropped += players.len() as u64;
            return;
        };
        for (s, id) in players {
            if Some((s, id)) == exclude {
                continue;
            }
            let Some(cs) = self
                .clients
                .get_mut(&s)
                .and_then(|c| c.streams.get_mut(&id))
            else {
                continue;
            };
            if ty == message_type::VIDEO && cs.waiting_keyframe && !is_sequence_header(ty, &payload)
            {
                if !is_video_keyframe(&payload) {
                    continue;
                }
                cs.waiting_keyframe = false;
            }
            if let Some((sender, _)) = Self::stream_sender(&mut self.clients, media, s, id) {
                match sender.send_encoded(ep, now, ty, &payload, encoded.clone()) {
                    Ok(_) => relayed += 1,
                    Err(_) => dropped += 1,
                }
            }
        }
        if let Some(p) = self.published.get_mut(stream) {
            p.relayed += relayed;
        }
        self.stats.relayed += relayed;
        self.stats.relay_dropped += dropped;
    }

    /// Stops what a client's stream ID publishes or plays (`closeStream`).
    pub(super) fn stop_stream(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        stream_id: u32,
    ) {
        let Some(s) = self
            .clients
            .get_mut(&session)
            .and_then(|c| c.streams.get_mut(&stream_id))
        else {
            return;
        };
        let publishing = s.publishing.take();
        let playing = s.playing.take();
        if s.asking.is_some() {
            // Its parked publish or play is moot.
            self.forget_asks(session, Some(stream_id));
        }
        if let Some(stream) = playing {
            if let Some(set) = self.players.get_mut(&stream) {
                set.remove(&(session, stream_id));
                if set.is_empty() {
                    self.players.remove(&stream);
                    self.drop_upstream(&stream);
                }
            }
        }
        if let Some(stream) = publishing {
            self.end_publication(ep, now, session, stream_id, stream);
        }
    }

    /// `deleteStream`: stop it and close our flows for it.
    pub(super) fn delete_stream(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        stream_id: u32,
    ) {
        self.stop_stream(ep, now, session, stream_id);
        if let Some(mut s) = self
            .clients
            .get_mut(&session)
            .and_then(|c| c.streams.remove(&stream_id))
        {
            close_stream_sender(&mut s, ep, now);
        }
    }

    /// A client rejected one of our stream flows: stop sending it that
    /// stream (§5.3.5.3: no new flow in its place).
    pub(super) fn on_stream_flow_rejected(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        flow: FlowId,
    ) {
        let hit = self.clients.get_mut(&session).and_then(|c| {
            c.streams.iter_mut().find_map(|(id, s)| {
                s.sender
                    .as_mut()
                    .is_some_and(|x| x.on_rejected(flow))
                    .then_some(*id)
            })
        });
        if let Some(id) = hit {
            self.stop_stream(ep, now, session, id);
        }
    }
}

fn close_stream_sender(s: &mut ClientStream, ep: &mut Endpoint, now: Instant) {
    if let Some(sender) = s.sender.as_mut() {
        sender.close(ep, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_data_frame_is_stripped() {
        let meta = Value::EcmaArray(vec![("duration".into(), Value::Number(1.0))]);
        let with = encode_values(
            18,
            &[
                Value::from("@setDataFrame"),
                Value::from("onMetaData"),
                meta.clone(),
            ],
        )
        .unwrap();
        let plain = encode_values(18, &[Value::from("onMetaData"), meta]).unwrap();
        assert_eq!(metadata_of(18, &with), Some(plain.clone()));
        assert_eq!(metadata_of(18, &plain), Some(plain));
        assert_eq!(
            metadata_of(18, &encode_values(18, &[Value::from("other")]).unwrap()),
            None
        );
    }
}
