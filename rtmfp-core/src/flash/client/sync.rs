//! What the client's flows receive goes through the Flow Synchronization
//! barriers (RFC 7425 §5.2, [`crate::flash::flow_sync`]) before the
//! client processes it.

use super::FlashClient;
use crate::endpoint::{Endpoint, SessionHandle};
use crate::flash::flow_sync::{FlowSync, FlowSyncStats, Received, Synced};
use crate::flow::FlowId;
use std::time::Instant;

impl Synced for FlashClient {
    fn flow_sync(&mut self) -> &mut FlowSync {
        &mut self.flow_sync
    }

    /// One message or flow end, of the server session or of a peer's.
    fn process(
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
}

impl FlashClient {
    /// What the Flow Synchronization barriers did so far.
    pub fn flow_sync_stats(&self) -> FlowSyncStats {
        self.flow_sync.stats()
    }
}
