//! The server's part of the relay fallback (docs/relay-fallback.md):
//! when a player finds no direct path to a DIRECT_CONNECTIONS
//! publisher, the server asks the publisher to publish the stream through
//! it too, and tells the player the name to play.
//!
//! This is our own step on top of RFC 7425; nothing of it reaches a peer
//! that did not ask for it:
//!
//! 1. The connect `_result` of a server that relays streams carries
//!    `relayFallback: true` in its information object (Flash clients
//!    ignore properties they do not know).
//! 2. A client of ours that will publish through the server on request
//!    answers with `offerRelay` (no transaction).  Flash Player never
//!    sends it, so the server never asks a Flash publisher.
//! 3. A player calls `relayPeerStream(txn, null, PUBLISHER_ID_HEX, NAME)`.
//!    If the publisher offered, the server calls it:
//!    `relayRequest(txn', null, NAME, PLAYER_ID_HEX)`.  The publisher
//!    answers `_result(txn', null, RELAY_NAME)` (it publishes NAME through
//!    the server as RELAY_NAME) or `_error`; the server forwards the
//!    answer to the player, who plays RELAY_NAME through the server.
//! 4. A publisher that is not connected, did not offer, or goes away
//!    before answering: the player gets `_error` with
//!    "NetConnection.Call.Failed" and a description that says which.
//! 5. When the player plays RELAY_NAME, the server tells the publisher:
//!    `relayPlaying(0, null, RELAY_NAME, PLAYER_ID_HEX)`, so that it
//!    knows the subscriber is there (as a direct subscriber's `play`
//!    tells it).

use super::server::Server;
use crate::endpoint::{Endpoint, SessionHandle};
use crate::flash::amf::Value;
use crate::flash::command::{name, Command, StatusInfo};
use crate::flash::peer_id::{from_hex, to_hex};
use std::time::Instant;

/// The player's call: ask for the relay of a peer's stream.
pub const RELAY_PEER_STREAM: &str = "relayPeerStream";
/// The server's call to a publisher.
pub const RELAY_REQUEST: &str = "relayRequest";
/// The server's notice to a publisher that a relayed subscriber plays.
pub const RELAY_PLAYING: &str = "relayPlaying";
/// A client's offer to publish through the server on request.
pub const OFFER_RELAY: &str = "offerRelay";
/// The property of the connect `_result` information object that says the
/// server takes part.
pub const RELAY_FALLBACK: &str = "relayFallback";

/// A player's call waiting for the publisher's answer.
#[derive(Debug, Clone, Copy)]
pub(super) struct PendingRelay {
    pub player: SessionHandle,
    pub player_txn: f64,
    pub publisher: SessionHandle,
}

impl Server {
    /// `offerRelay` from a client.
    pub(super) fn on_offer_relay(&mut self, session: SessionHandle) {
        if let Some(c) = self.clients.get_mut(&session) {
            c.offers_relay = true;
        }
    }

    /// `relayPeerStream(txn, null, PUBLISHER_ID_HEX, NAME)` from a player.
    pub(super) fn on_relay_peer_stream(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        player: SessionHandle,
        command: &Command,
    ) {
        let txn = command.transaction_id;
        let publisher_hex = command.arg(0).and_then(Value::as_str).unwrap_or_default();
        let stream = command.arg(1).and_then(Value::as_str).unwrap_or_default();
        let Some(publisher_id) = from_hex(publisher_hex) else {
            return self.call_failed(
                ep,
                now,
                player,
                txn,
                "relayPeerStream: a peer ID (64 hex digits) and a stream name",
            );
        };
        if !self.config.relay {
            return self.call_failed(ep, now, player, txn, "this server relays no streams");
        }
        let Some(publisher) = self.registry.lookup(&publisher_id).map(|r| r.session) else {
            let why = format!("peer {publisher_hex} is not connected to this server");
            return self.call_failed(ep, now, player, txn, &why);
        };
        if !self.clients.get(&publisher).is_some_and(|c| c.offers_relay) {
            let why = format!(
                "peer {publisher_hex} does not offer a relay through the server (a Flash Player peer, or relaying is off)"
            );
            return self.call_failed(ep, now, player, txn, &why);
        }
        let player_hex = self
            .clients
            .get(&player)
            .and_then(|c| c.peer_id)
            .map(|id| to_hex(&id))
            .unwrap_or_default();
        self.next_relay_txn += 1;
        let ask = self.next_relay_txn;
        self.relay_requests.insert(
            ask,
            PendingRelay {
                player,
                player_txn: txn,
                publisher,
            },
        );
        let request = Command::new(
            RELAY_REQUEST,
            ask as f64,
            Value::Null,
            vec![Value::from(stream), Value::from(player_hex.as_str())],
        );
        self.reply(ep, now, publisher, &request);
    }

    /// A publisher's `_result` or `_error` to `relayRequest`: forwarded to
    /// the player.  `false` if it answers nothing we asked.
    pub(super) fn on_relay_answer(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        publisher: SessionHandle,
        command: &Command,
    ) -> bool {
        let ask = command.transaction_id as u64;
        let Some(pending) = self
            .relay_requests
            .get(&ask)
            .filter(|p| p.publisher == publisher)
            .copied()
        else {
            return false;
        };
        self.relay_requests.remove(&ask);
        let relay_name = command
            .arg(0)
            .and_then(Value::as_str)
            .filter(|_| command.name == name::RESULT);
        match relay_name {
            Some(relay_name) => {
                self.relay_names
                    .insert(relay_name.to_owned(), pending.publisher);
                let ok = Command::new(
                    name::RESULT,
                    pending.player_txn,
                    Value::Null,
                    vec![Value::from(relay_name)],
                );
                self.reply(ep, now, pending.player, &ok);
            }
            None => {
                let why = command
                    .status_info()
                    .map(|i| i.description)
                    .unwrap_or_else(|| "the publisher declined to relay".to_owned());
                self.call_failed(ep, now, pending.player, pending.player_txn, &why);
            }
        }
        true
    }

    /// A session went away: its players' calls fail, its own calls are
    /// forgotten.
    pub(super) fn forget_relay_requests(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
    ) {
        let gone: Vec<(u64, PendingRelay)> = self
            .relay_requests
            .iter()
            .filter(|(_, p)| p.publisher == session || p.player == session)
            .map(|(k, p)| (*k, *p))
            .collect();
        self.relay_names.retain(|_, p| *p != session);
        for (ask, p) in gone {
            self.relay_requests.remove(&ask);
            if p.publisher == session {
                self.call_failed(
                    ep,
                    now,
                    p.player,
                    p.player_txn,
                    "the publisher left before answering",
                );
            }
        }
    }
}

impl Server {
    /// A player started playing `name`: if it is a relay name, tell its
    /// publisher who plays it.
    pub(super) fn on_relay_play(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        player: SessionHandle,
        name: &str,
    ) {
        let Some(&publisher) = self.relay_names.get(name) else {
            return;
        };
        let player_hex = self
            .clients
            .get(&player)
            .and_then(|c| c.peer_id)
            .map(|id| to_hex(&id))
            .unwrap_or_default();
        let notice = Command::new(
            RELAY_PLAYING,
            0.0,
            Value::Null,
            vec![Value::from(name), Value::from(player_hex.as_str())],
        );
        self.reply(ep, now, publisher, &notice);
    }
}

/// The connect `_result` information object of a server that takes part.
pub(super) fn advertise(info: StatusInfo) -> StatusInfo {
    info.with(RELAY_FALLBACK, Value::Boolean(true))
}
