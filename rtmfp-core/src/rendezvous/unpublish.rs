//! The end of a publication.  RTMFP flows have no order between them
//! (RFC 7425 §5.2), and a publisher's `deleteStream` travels on its
//! control flow while the last audio and video may still be queued, or
//! going again after a loss, on the stream's own flows.  So a publication
//! the publisher closed keeps relaying what still comes on its stream
//! flows until those flows finish (the publisher closed them and every
//! message was delivered, RFC 7016 §3.6.3.3), the session ends, or
//! [`UNPUBLISH_DRAIN_LIMIT`] passes; only then do its players hear
//! "NetStream.Play.UnpublishNotify" and the name become free.

use super::server::Server;
use super::types::ServerEvent;
use crate::endpoint::{Endpoint, SessionHandle};
use crate::flash::command::{code, StatusInfo};
use crate::flash::Value;
use crate::flow::FlowId;
use std::time::{Duration, Instant};

/// How long a closed publication waits at most for its stream flows (a
/// publisher that keeps them open after `closeStream`, as it may).
pub const UNPUBLISH_DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// A publication its publisher closed whose stream flows are still open.
#[derive(Debug)]
pub(super) struct Draining {
    pub stream: String,
    pub until: Instant,
}

impl Server {
    /// The publisher `(session, stream_id)` stopped publishing `stream`:
    /// it hears so at once; its players once the stream's flows are done.
    pub(super) fn end_publication(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        stream_id: u32,
        stream: String,
    ) {
        let ours = self.published.get(&stream).map(|p| p.publisher);
        if ours != Some((session, stream_id)) {
            return;
        }
        let done = StatusInfo::status(
            code::UNPUBLISH_SUCCESS,
            &format!("{stream} is now unpublished."),
        )
        .with("details", Value::from(stream.as_str()));
        self.stream_status(ep, now, session, stream_id, &done);
        if self.stream_flows_open(session, stream_id) {
            let until = now + UNPUBLISH_DRAIN_LIMIT;
            self.draining
                .insert((session, stream_id), Draining { stream, until });
        } else {
            self.unpublished(ep, now, session, &stream);
        }
    }

    /// The publication is over: its players hear it, its name is free.
    fn unpublished(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        stream: &str,
    ) {
        self.published.remove(stream);
        self.notify_unpublished(ep, now, stream);
        self.emit(ServerEvent::Unpublished {
            session,
            name: stream.to_owned(),
        });
    }

    /// Whether the client still has receiving flows for `stream_id`.
    fn stream_flows_open(&self, session: SessionHandle, stream_id: u32) -> bool {
        self.clients
            .get(&session)
            .is_some_and(|c| c.recv.values().any(|&id| id == stream_id))
    }

    /// The stream a closed publication of `(session, stream_id)` still
    /// relays, if it drains.
    pub(super) fn draining_stream(&self, session: SessionHandle, stream_id: u32) -> Option<&str> {
        self.draining
            .get(&(session, stream_id))
            .map(|d| d.stream.as_str())
    }

    /// Ends the draining publication of `(session, stream_id)` now.
    pub(super) fn finish_draining(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        stream_id: u32,
    ) {
        if let Some(d) = self.draining.remove(&(session, stream_id)) {
            self.unpublished(ep, now, session, &d.stream);
        }
    }

    /// Ends the draining publication of `stream`, if any (someone
    /// publishes that name again).
    pub(super) fn finish_draining_name(&mut self, ep: &mut Endpoint, now: Instant, stream: &str) {
        let key = self
            .draining
            .iter()
            .find(|(_, d)| d.stream == stream)
            .map(|(k, _)| *k);
        if let Some((session, stream_id)) = key {
            self.finish_draining(ep, now, session, stream_id);
        }
    }

    /// A receiving flow of the client finished: a draining publication
    /// whose last stream flow it was is over.
    pub(super) fn on_recv_flow_finished(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        flow: FlowId,
    ) {
        let Some(stream_id) = self
            .clients
            .get_mut(&session)
            .and_then(|c| c.recv.remove(&flow))
        else {
            return;
        };
        if self.draining.contains_key(&(session, stream_id))
            && !self.stream_flows_open(session, stream_id)
        {
            self.finish_draining(ep, now, session, stream_id);
        }
    }

    /// The session is gone: its draining publications end now.
    pub(super) fn finish_draining_session(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
    ) {
        let ids: Vec<u32> = self
            .draining
            .keys()
            .filter(|(s, _)| *s == session)
            .map(|(_, id)| *id)
            .collect();
        for id in ids {
            self.finish_draining(ep, now, session, id);
        }
    }

    /// When the next draining publication runs out of time.
    pub(super) fn draining_deadline(&self) -> Option<Instant> {
        self.draining.values().map(|d| d.until).min()
    }

    /// Ends the draining publications whose time is up.
    pub(super) fn expire_draining(&mut self, ep: &mut Endpoint, now: Instant) {
        let due: Vec<(SessionHandle, u32)> = self
            .draining
            .iter()
            .filter(|(_, d)| d.until <= now)
            .map(|(k, _)| *k)
            .collect();
        for (session, stream_id) in due {
            self.finish_draining(ep, now, session, stream_id);
        }
    }
}
