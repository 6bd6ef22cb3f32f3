//! The runtime's side of a TURN relay ([`crate::turn`]): which socket
//! reaches the TURN server, the allocation's outcome for
//! [`Runtime::start`](super::Runtime::start), and re-allocation when an
//! allocation is lost.
//!
//! With a relay, every datagram of the endpoint goes through it, as
//! Flash Player did with `RTMFPTURNProxy`: datagrams from other sources
//! are dropped (and counted), so that the host behaves the same whether
//! or not its firewall lets them in.

use crate::turn::{TurnClient, TurnConfig, TurnError, TurnEvent, TurnStats};
use std::net::SocketAddr;
use std::sync::mpsc::SyncSender;
use std::sync::Mutex;
use std::time::Instant;

/// What the start-up waits for: the relayed address, or why not.
pub(crate) type Ready = SyncSender<Result<SocketAddr, TurnError>>;

/// A relay in use by the driver.
pub(crate) struct Relay {
    pub(crate) client: TurnClient,
    config: TurnConfig,
    /// The socket that reaches the server, and the server's address as
    /// that socket spells it.
    pub(crate) socket: usize,
    pub(crate) server: SocketAddr,
    ready: Option<Ready>,
    /// Counters of allocations before the current one.
    earlier: TurnStats,
    /// Datagrams from sources other than the TURN server, dropped.
    pub(crate) bypass_dropped: u64,
}

/// What the driver must do after relay events.
pub(crate) enum Outcome {
    /// Nothing special.
    Running,
    /// The first allocation failed: stop the runtime.
    FailedAtStart,
}

impl Relay {
    pub(crate) fn new(
        config: TurnConfig,
        socket: usize,
        server: SocketAddr,
        ready: Ready,
        now: Instant,
    ) -> Relay {
        Relay {
            client: TurnClient::new(config.clone(), now),
            config,
            socket,
            server,
            ready: Some(ready),
            earlier: TurnStats::default(),
            bypass_dropped: 0,
        }
    }

    /// Whether a datagram from `from` is the TURN server's.
    pub(crate) fn is_server(&self, from: SocketAddr) -> bool {
        from == self.client.server()
    }

    /// Handles the client's events; `relayed` is where the current
    /// relayed address is published for handles.
    pub(crate) fn on_events(
        &mut self,
        now: Instant,
        relayed: &Mutex<Option<SocketAddr>>,
    ) -> Outcome {
        let mut outcome = Outcome::Running;
        while let Some(event) = self.client.poll_event() {
            match event {
                TurnEvent::Allocated { relayed: addr, .. } => {
                    *relayed.lock().unwrap_or_else(|e| e.into_inner()) = Some(addr);
                    if let Some(ready) = self.ready.take() {
                        let _ = ready.send(Ok(addr));
                    }
                }
                TurnEvent::Failed(error) => {
                    if let Some(ready) = self.ready.take() {
                        let _ = ready.send(Err(error));
                        outcome = Outcome::FailedAtStart;
                    } else {
                        // Lost after start (the server restarted, or
                        // refreshes went unanswered): allocate again.
                        // Sessions follow the new relayed address by
                        // RFC 7016 §3.5.4 address mobility.
                        *relayed.lock().unwrap_or_else(|e| e.into_inner()) = None;
                        self.earlier = add(&self.earlier, self.client.stats());
                        self.client = TurnClient::new(self.config.clone(), now);
                    }
                }
                TurnEvent::PeerRefused { .. } => {}
            }
        }
        outcome
    }

    /// Counters over every allocation of this runtime.
    pub(crate) fn stats(&self) -> TurnStats {
        add(&self.earlier, self.client.stats())
    }
}

fn add(a: &TurnStats, b: &TurnStats) -> TurnStats {
    TurnStats {
        requests: a.requests + b.requests,
        retransmissions: a.retransmissions + b.retransmissions,
        channel_data_sent: a.channel_data_sent + b.channel_data_sent,
        send_indications: a.send_indications + b.send_indications,
        channel_data_received: a.channel_data_received + b.channel_data_received,
        data_indications: a.data_indications + b.data_indications,
        dropped: a.dropped + b.dropped,
        unroutable: a.unroutable + b.unroutable,
        invalid: a.invalid + b.invalid,
        channels: a.channels + b.channels,
        refused_peers: a.refused_peers + b.refused_peers,
        allocations: a.allocations + b.allocations,
    }
}
