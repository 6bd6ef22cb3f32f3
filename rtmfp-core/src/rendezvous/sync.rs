//! What the clients' flows carry goes through the Flow Synchronization
//! barriers (RFC 7425 §5.2, [`crate::flash::flow_sync`]) before the
//! server processes it, as it does through the Flash client's.

use super::Server;
use crate::endpoint::{Endpoint, SessionHandle};
use crate::flash::flow_sync::{FlowSyncStats, Received};
use crate::flow::FlowId;
use std::time::Instant;

impl Server {
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

    /// Before a new flow: what a barrier holds of an old flow with the
    /// same ID goes first ([`crate::flash::flow_sync::FlowSync::flow_opened`]).
    pub(super) fn release_before_open(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        flow: FlowId,
    ) {
        let mut released = std::mem::take(&mut self.released);
        self.flow_sync
            .flow_opened(now, session, flow, &mut released);
        self.process_released(ep, now, session, released);
    }

    /// Lets go the barriers whose time is up, and processes what they
    /// held.
    pub(super) fn expire_flow_sync(&mut self, ep: &mut Endpoint, now: Instant) {
        if self.flow_sync.next_deadline().is_none_or(|d| d > now) {
            return;
        }
        let mut late = Vec::new();
        self.flow_sync.expire(now, &mut late);
        for (session, flow, item) in late {
            self.process(ep, now, session, flow, item);
        }
    }

    fn process_released(
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

    /// Processes one message, or the end of a flow (the end of a
    /// client's control flow is the end of the client, §5.3.6).
    fn process(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        session: SessionHandle,
        flow: FlowId,
        item: Received,
    ) {
        match item {
            Received::Message(data) => self.on_message(ep, now, session, flow, &data),
            Received::Finished => {
                self.on_recv_flow_finished(ep, now, session, flow);
                if self
                    .clients
                    .get(&session)
                    .is_some_and(|c| c.control == Some(flow))
                {
                    self.close_client(ep, now, session);
                }
            }
        }
    }

    /// What the Flow Synchronization barriers did so far.
    pub fn flow_sync_stats(&self) -> FlowSyncStats {
        self.flow_sync.stats()
    }
}
