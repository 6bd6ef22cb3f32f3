//! When a peer play finds no direct path (docs/relay-fallback.md):
//! after [`ClientConfig::direct_timeout`] without a session to
//! the publisher, the player asks the server for the publisher's stream
//! through the server (`relayPeerStream`, see
//! [`crate::rendezvous::fallback`] for the exchange) and plays it there,
//! on the same NetStream.  A publisher of ours that is asked publishes the
//! stream through the server too, under a name of its own, and mirrors
//! every message of its DIRECT_CONNECTIONS stream to it.
//!
//! What each side sees, as NetStatus events on its NetStream:
//! - the player: "NetStream.Play.Relayed" (status), then the server's
//!   "NetStream.Play.Start"; or "NetStream.Connect.Failed" (error) that
//!   says no direct path was found and why there is no relay;
//! - the publisher: "NetStream.Publish.Relayed" (status) when a
//!   subscriber that found no direct path plays through the server.
//!
//! With a Flash server or a Flash publisher nothing of this is sent: the
//! server must advertise `relayFallback` in its connect answer, and the
//! publisher must have offered (`offerRelay`).
//!
//! [`ClientConfig::direct_timeout`]: super::ClientConfig::direct_timeout

use super::{Call, FlashClient, NetStream, Op, RelayPlay, StreamKind};
use crate::endpoint::Endpoint;
use crate::flash::amf::Value;
use crate::flash::command::{code, name, Command, StatusInfo};
use crate::flash::peer_id::to_hex;
use crate::rendezvous::fallback::{
    OFFER_RELAY, RELAY_FALLBACK, RELAY_PEER_STREAM, RELAY_PLAYING, RELAY_REQUEST,
};
use std::time::Instant;

use super::types::StreamId;

/// The player's status when it plays through the server relay.
pub const PLAY_RELAYED: &str = "NetStream.Play.Relayed";
/// The publisher's status when a subscriber with no direct path gets the
/// stream through the server.
pub const PUBLISH_RELAYED: &str = "NetStream.Publish.Relayed";

impl FlashClient {
    /// After a successful connect: remember whether the server takes
    /// part, and offer to publish through it on request.
    pub(super) fn on_connected_fallback(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        info: &StatusInfo,
    ) {
        let advertised = info
            .extra
            .iter()
            .any(|(k, v)| k == RELAY_FALLBACK && matches!(v, Value::Boolean(true)));
        if let Some(conn) = self.conn.as_mut() {
            conn.relay_fallback = advertised;
        }
        if advertised && self.config.offer_relay {
            let offer = Command::new(OFFER_RELAY, 0.0, Value::Null, vec![]);
            let _ = self.send_control(ep, now, &offer);
        }
    }

    /// The earliest direct-path deadline of a peer play.
    pub(super) fn next_direct_deadline(&self) -> Option<Instant> {
        self.streams
            .values()
            .filter_map(|s| s.peer.direct_deadline)
            .min()
    }

    /// Peer plays whose session did not open in time give up the direct
    /// path and fall back.
    pub(super) fn check_direct_deadlines(&mut self, ep: &mut Endpoint, now: Instant) {
        let due: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|(_, s)| s.peer.direct_deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for stream in due {
            let Some(s) = self.streams.get_mut(&stream) else {
                continue;
            };
            s.peer.direct_deadline = None;
            let session = s.peer.session.take();
            let mut addresses = 0;
            if let Some(session) = session {
                addresses = ep.opening_candidates(session).saturating_sub(1);
                let abandon = match self.peer_sessions.get_mut(&session) {
                    Some(p) if !p.open => {
                        p.waiting.retain(|w| *w != stream);
                        p.waiting.is_empty()
                    }
                    _ => false,
                };
                if abandon {
                    self.peer_sessions.remove(&session);
                    let _ = ep.close(now, session, true);
                }
            }
            self.fall_back(ep, now, stream, addresses);
        }
    }

    /// No direct path: ask the server for the relay, or fail saying why.
    fn fall_back(&mut self, ep: &mut Endpoint, now: Instant, stream: StreamId, addresses: usize) {
        let Some(s) = self.streams.get(&stream) else {
            return;
        };
        let StreamKind::Peer(peer) = s.kind else {
            return;
        };
        let name = s.peer.name.clone().unwrap_or_default();
        let waited = self.config.direct_timeout.unwrap_or_default();
        let introduced = match addresses {
            0 => "the server gave no address for it".to_owned(),
            1 => "the server gave 1 address, which did not answer".to_owned(),
            n => format!("the server gave {n} addresses, none answered"),
        };
        let no_path = format!(
            "no direct path to peer {} within {waited:?} ({introduced}: NAT or firewall)",
            to_hex(&peer)
        );
        let offered = self
            .conn
            .as_ref()
            .is_some_and(|c| c.relay_fallback && c.state == super::ConnState::Connected);
        if !offered {
            let why = format!("{no_path}; the server offers no relay: try --turn");
            return self.fail_peer_play(stream, &why);
        }
        let txn = self.txn();
        let call = Command::new(
            RELAY_PEER_STREAM,
            txn as f64,
            Value::Null,
            vec![
                Value::from(to_hex(&peer).as_str()),
                Value::from(name.as_str()),
            ],
        );
        match self.send_control(ep, now, &call) {
            Ok(()) => {
                self.calls.insert(txn, Call::Relay(stream, no_path));
                if let Some(s) = self.streams.get_mut(&stream) {
                    s.peer.relay = RelayPlay::Asked;
                }
            }
            Err(e) => {
                self.fail_peer_play(stream, &format!("{no_path}; cannot ask the server: {e}"))
            }
        }
    }

    /// The server's answer to `relayPeerStream`.
    pub(super) fn on_relay_answer(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        stream: StreamId,
        no_path: String,
        command: &Command,
    ) {
        let relay_name = command
            .arg(0)
            .and_then(Value::as_str)
            .filter(|_| command.is_result())
            .map(str::to_owned);
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        if s.closed {
            return;
        }
        let Some(relay_name) = relay_name else {
            let why = command
                .status_info()
                .map(|i| i.description)
                .unwrap_or_else(|| "the server refused".to_owned());
            let why = format!("{no_path}, and no relay: {why}; try --turn");
            return self.fail_peer_play(stream, &why);
        };
        s.peer.relay = RelayPlay::Playing(relay_name.clone());
        s.pending.push(Op::Play(relay_name.clone()));
        self.status(
            Some(stream),
            StatusInfo::status(
                PLAY_RELAYED,
                &format!("{no_path}: playing through the server relay as {relay_name:?}"),
            ),
        );
        self.send_create_stream(ep, now, stream);
    }

    /// `relayRequest(txn, null, NAME, PLAYER_ID_HEX)` from the server.
    pub(super) fn on_relay_request(&mut self, ep: &mut Endpoint, now: Instant, command: &Command) {
        let txn = command.transaction_id;
        let wanted = command
            .arg(0)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let direct = self
            .streams
            .iter()
            .find(|(_, s)| {
                s.kind == StreamKind::DirectConnections
                    && !s.closed
                    && s.publishing.as_deref() == Some(wanted.as_str())
            })
            .map(|(id, s)| (*id, s.mirror));
        let answer = match (direct, self.config.offer_relay) {
            (Some((id, mirror)), true) => {
                let relay_name = match mirror.and_then(|m| self.streams.get(&m)) {
                    Some(m) => m.publishing.clone().unwrap_or_default(),
                    None => self.start_mirror(ep, now, id, &wanted),
                };
                Command::new(
                    name::RESULT,
                    txn,
                    Value::Null,
                    vec![Value::from(relay_name.as_str())],
                )
            }
            (None, _) => Command::error(
                txn,
                Value::Null,
                StatusInfo::error(
                    code::CALL_FAILED,
                    &format!("the peer publishes no {wanted:?}"),
                )
                .to_value(),
            ),
            (Some(_), false) => Command::error(
                txn,
                Value::Null,
                StatusInfo::error(code::CALL_FAILED, "the publisher does not relay").to_value(),
            ),
        };
        let _ = self.send_control(ep, now, &answer);
    }

    /// `relayPlaying(0, null, RELAY_NAME, PLAYER_ID_HEX)`: a subscriber with
    /// no direct path plays our stream through the server.
    pub(super) fn on_relay_playing(&mut self, command: &Command) {
        let relay_name = command.arg(0).and_then(Value::as_str).unwrap_or_default();
        let player = command.arg(1).and_then(Value::as_str).unwrap_or("?");
        let direct = self.streams.iter().find_map(|(_, s)| {
            let of = s.mirror_of?;
            (s.publishing.as_deref() == Some(relay_name)).then_some(of)
        });
        let Some(direct) = direct else {
            return;
        };
        let name = self
            .streams
            .get(&direct)
            .and_then(|d| d.publishing.clone())
            .unwrap_or_default();
        self.status(
            Some(direct),
            StatusInfo::status(
                PUBLISH_RELAYED,
                &format!(
                    "subscriber {player} found no direct path: it plays {name:?} through \
                     the server, as {relay_name:?}"
                ),
            ),
        );
    }

    /// A hidden server stream that publishes what DIRECT_CONNECTIONS
    /// stream `direct` sends; returns its name.
    fn start_mirror(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        direct: StreamId,
        name: &str,
    ) -> String {
        let relay_name = format!("{name}.relay-{:016x}", rand::random::<u64>());
        let mirror = self.new_stream(StreamKind::Server);
        if let Some(m) = self.streams.get_mut(&mirror) {
            m.mirror_of = Some(direct);
            m.publishing = Some(relay_name.clone());
            m.pending.push(Op::Publish(relay_name.clone()));
        }
        if let Some(d) = self.streams.get_mut(&direct) {
            d.mirror = Some(mirror);
        }
        self.send_create_stream(ep, now, mirror);
        relay_name
    }

    /// Whether an event about `stream` is internal (a mirror's).
    pub(super) fn is_mirror(&self, stream: StreamId) -> bool {
        self.streams
            .get(&stream)
            .is_some_and(|s: &NetStream| s.mirror_of.is_some())
    }
}

/// `relayRequest` is the server's call to a publisher.
pub(super) fn is_relay_request(command: &Command) -> bool {
    command.name == RELAY_REQUEST
}

/// `relayPlaying` is the server's notice to a publisher.
pub(super) fn is_relay_playing(command: &Command) -> bool {
    command.name == RELAY_PLAYING
}
