//! Ask mode ([`Asks`]): a `connect`, `publish` or `play` that passed the
//! server's own checks and its synchronous hook waits, parked, for the
//! application's verdict, so that the decision can be taken off the I/O
//! thread (C's event thread, Python's reading thread, Node's JS thread)
//! before the client is answered (RFC 7425 §5.3.2 connect statuses,
//! §5.3.5 stream statuses).
//!
//! The protocol, for every host:
//! 1. the request is parked under a fresh ask id and announced by
//!    [`ServerEvent::Asked`];
//! 2. [`Server::answer`] with that id applies the verdict: the client gets
//!    its answer as if a synchronous hook had decided;
//! 3. without a verdict within [`Asks::deadline`], [`Asks::default`] is
//!    applied and [`ServerEvent::AskEnded`] says [`AskEnd::Expired`];
//! 4. a client that goes away while parked (its session closes, or it
//!    closes or deletes the stream) ends the ask with [`AskEnd::Gone`]
//!    ([`ServerEvent::AskEnded`]) and nothing is applied;
//! 5. a verdict for an ask that ended does nothing and says why
//!    ([`AskError::Ended`]; [`AskError::Unknown`] once it is forgotten:
//!    the last [`REMEMBERED`] are remembered).

use super::server::{ClientState, Server};
use super::types::{AskEnd, AskError, AskRequest, Decision, ServerEvent};
use crate::endpoint::{Endpoint, SessionHandle};
use crate::flash::command::ObjectEncoding;
use std::time::Instant;

/// How many ended asks a server remembers for [`AskError::Ended`].
pub const REMEMBERED: usize = 1024;

/// What a parked request needs to be answered.
#[derive(Debug, Clone)]
pub(super) enum Waiting {
    /// A `connect`: its transaction and the encoding it asked for.
    Connect { txn: f64, encoding: ObjectEncoding },
    /// A `publish` on one of the client's stream IDs.
    Publish { stream_id: u32, name: String },
    /// A `play` on one of the client's stream IDs.
    Play { stream_id: u32, name: String },
}

/// A request waiting for its verdict.
#[derive(Debug, Clone)]
pub(crate) struct Parked {
    session: SessionHandle,
    deadline: Instant,
    what: Waiting,
}

impl Waiting {
    fn stream_id(&self) -> Option<u32> {
        match self {
            Waiting::Connect { .. } => None,
            Waiting::Publish { stream_id, .. } | Waiting::Play { stream_id, .. } => {
                Some(*stream_id)
            }
        }
    }
}

impl Server {
    /// Parks a request and announces it; returns its ask id.
    pub(super) fn park(
        &mut self,
        now: Instant,
        session: SessionHandle,
        what: Waiting,
        request: AskRequest,
    ) -> u64 {
        let id = self.next_ask;
        self.next_ask += 1;
        let deadline = now + self.hooks.asks.deadline;
        self.parked.insert(
            id,
            Parked {
                session,
                deadline,
                what,
            },
        );
        self.emit(ServerEvent::Asked { id, request });
        id
    }

    /// The application's verdict on ask `id` ([`ServerEvent::Asked`]):
    /// `Ok(())` accepts, `Err(reason)` rejects with a reason the client
    /// sees in its status description.  An ask that ended (expired, or
    /// its client went away) is left alone: [`AskError::Ended`].
    pub fn answer(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        id: u64,
        decision: Decision,
    ) -> Result<(), AskError> {
        let Some(parked) = self.parked.remove(&id) else {
            return Err(self
                .ended
                .iter()
                .find(|(i, _)| *i == id)
                .map_or(AskError::Unknown, |(_, end)| AskError::Ended(*end)));
        };
        self.remember(id, AskEnd::Answered);
        self.apply(ep, now, id, parked, decision);
        Ok(())
    }

    /// How many requests wait for a verdict.
    pub fn parked_asks(&self) -> usize {
        self.parked.len()
    }

    fn remember(&mut self, id: u64, end: AskEnd) {
        if self.ended.len() >= REMEMBERED {
            self.ended.pop_front();
        }
        self.ended.push_back((id, end));
    }

    /// Answers the client of a parked request with `decision`.
    fn apply(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        id: u64,
        parked: Parked,
        decision: Decision,
    ) {
        let session = parked.session;
        match parked.what {
            Waiting::Connect { txn, encoding } => {
                if self
                    .clients
                    .get(&session)
                    .is_some_and(|c| c.state == ClientState::Asking)
                {
                    self.finish_connect(ep, now, session, txn, encoding, decision);
                }
            }
            Waiting::Publish { stream_id, name } => {
                if self.take_stream_ask(session, stream_id, id) {
                    match decision {
                        Ok(()) => self.publish_accepted(ep, now, session, stream_id, name),
                        Err(reason) => {
                            self.refuse_publish(ep, now, session, stream_id, name, reason)
                        }
                    }
                }
            }
            Waiting::Play { stream_id, name } => {
                if self.take_stream_ask(session, stream_id, id) {
                    match decision {
                        Ok(()) => self.start_play(ep, now, session, stream_id, name),
                        Err(reason) => self.refuse_play(ep, now, session, stream_id, name, reason),
                    }
                }
            }
        }
    }

    /// Clears the stream's wait for ask `id`; false if the stream no
    /// longer waits for it.
    fn take_stream_ask(&mut self, session: SessionHandle, stream_id: u32, id: u64) -> bool {
        let Some(s) = self
            .clients
            .get_mut(&session)
            .and_then(|c| c.streams.get_mut(&stream_id))
            .filter(|s| s.asking == Some(id))
        else {
            return false;
        };
        s.asking = None;
        true
    }

    /// The client went away: its asks (of stream `stream_id`, or all)
    /// end with [`AskEnd::Gone`].
    pub(super) fn forget_asks(&mut self, session: SessionHandle, stream_id: Option<u32>) {
        let gone: Vec<u64> = self
            .parked
            .iter()
            .filter(|(_, p)| {
                p.session == session && (stream_id.is_none() || p.what.stream_id() == stream_id)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(p) = self.parked.remove(&id) {
                if let Some(s) = p.what.stream_id().and_then(|sid| {
                    self.clients
                        .get_mut(&session)
                        .and_then(|c| c.streams.get_mut(&sid))
                }) {
                    s.asking = None;
                }
            }
            self.remember(id, AskEnd::Gone);
            self.emit(ServerEvent::AskEnded {
                id,
                end: AskEnd::Gone,
            });
        }
    }

    /// The earliest deadline of a parked request.
    pub(super) fn ask_deadline(&self) -> Option<Instant> {
        self.parked.values().map(|p| p.deadline).min()
    }

    /// Applies the default verdict to the requests whose deadline passed.
    pub(super) fn expire_asks(&mut self, ep: &mut Endpoint, now: Instant) {
        let due: Vec<u64> = self
            .parked
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(parked) = self.parked.remove(&id) else {
                continue;
            };
            self.remember(id, AskEnd::Expired);
            self.emit(ServerEvent::AskEnded {
                id,
                end: AskEnd::Expired,
            });
            let decision = self.hooks.asks.default.clone();
            self.apply(ep, now, id, parked, decision);
        }
    }
}
