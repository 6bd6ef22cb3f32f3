//! What the clients' flows carry goes through the Flow Synchronization
//! barriers (RFC 7425 §5.2, [`crate::flash::flow_sync`]) before the
//! server processes it, as it does through the Flash client's.

use super::Server;
use crate::endpoint::{Endpoint, SessionHandle};
use crate::flash::flow_sync::{FlowSync, FlowSyncStats, Received, Synced};
use crate::flow::FlowId;
use std::time::Instant;

impl Synced for Server {
    fn flow_sync(&mut self) -> &mut FlowSync {
        &mut self.flow_sync
    }

    /// One message, or the end of a flow (the end of a client's control
    /// flow is the end of the client, §5.3.6).
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
}

impl Server {
    /// What the Flow Synchronization barriers did so far.
    pub fn flow_sync_stats(&self) -> FlowSyncStats {
        self.flow_sync.stats()
    }
}
