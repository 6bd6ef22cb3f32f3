//! What the client's flows receive goes through the Flow Synchronization
//! barriers (RFC 7425 §5.2, [`crate::flash::flow_sync`]) before the
//! client processes it.

use super::FlashClient;
use crate::endpoint::{Endpoint, SessionHandle};
use crate::flash::flow_sync::{FlowSyncStats, Received};
use crate::flow::FlowId;
use std::time::Instant;

impl FlashClient {
    /// Takes what `flow` of `session` received, through the barriers.
    pub(super) fn receive(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        flow: FlowId,
        item: Received,
    ) {
        let mut released = std::mem::take(&mut self.released);
        self.flow_sync
            .receive(now, session, flow, item, &mut released);
        self.process_released(ep, now, session, released);
    }

    /// Processes, in order, what the barriers let through for `session`;
    /// keeps `released`'s allocation for the next time.
    pub(super) fn process_released(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        mut released: Vec<(FlowId, Received)>,
    ) {
        for (flow, item) in released.drain(..) {
            self.process(ep, now, session, flow, item);
        }
        self.released = released;
    }

    /// Processes one message or flow end, of the server session or of a
    /// peer's.
    pub(super) fn process(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        flow: FlowId,
        item: Received,
    ) {
        let server = self.conn.as_ref().map(|c| c.session) == Some(session);
        match (item, server) {
            (Received::Message(data), true) => self.on_server_message(ep, now, flow, &data),
            (Received::Message(data), false) => self.on_peer_message(ep, now, session, flow, &data),
            (Received::Finished, true) => self.on_server_flow_finished(ep, now, flow),
            (Received::Finished, false) => self.on_peer_flow_finished(ep, now, session, flow),
        }
    }

    /// What the Flow Synchronization barriers did so far.
    pub fn flow_sync_stats(&self) -> FlowSyncStats {
        self.flow_sync.stats()
    }
}
