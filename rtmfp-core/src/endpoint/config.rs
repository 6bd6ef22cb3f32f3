//! Endpoint configuration.

use crate::flow::FlowLimits;
use std::time::Duration;

/// How a target answers a Forwarded IHello that selects it
/// (RFC 7016 §3.5.1.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FIHelloPolicy {
    /// Send an RHello to the reply address, as though the FIHello were an
    /// IHello from there.  This opens the target's NAT towards the
    /// initiator (§3.5.1.6).
    RespondWithRHello,
    /// Send an Implied Redirect (a Redirect with no addresses) to the reply
    /// address, so the initiator learns the target's observed address.
    ImpliedRedirect,
    /// Ignore Forwarded IHellos.
    Ignore,
}

/// Settings of an [`Endpoint`](super::Endpoint).
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Largest datagram this endpoint sends, in bytes.  Neither RFC sets a
    /// default; 1200 keeps every packet clear of IPv6's minimum MTU.
    pub max_datagram_size: usize,
    /// An open session with nothing received for this long sends a
    /// keepalive Ping (RFC 7016 §3.5.4.1), at most once per ERTO.
    pub keepalive_interval: Duration,
    /// An open session with nothing received for this long is dead and is
    /// closed with [`CloseReason::IdleTimeout`](super::CloseReason::IdleTimeout).
    pub idle_timeout: Duration,
    /// The ultimate open timeout (RFC 7016 §3.5.1.1.1 recommends 95 s).
    pub open_timeout: Duration,
    /// The most candidate addresses a Redirect may grow an opening
    /// session to (REDIRECT_THRESHOLD, at most 24 per §3.5.1.1.1).
    pub redirect_threshold: usize,
    /// How Forwarded IHellos are answered.
    pub fihello_policy: FIHelloPolicy,
    /// Cookie time slot.  A cookie stays valid for two to three slots,
    /// never less than the 95 s open timeout (§3.5.1.1.2).
    pub cookie_slot: Duration,
    /// Most [`Event::UnmatchedIHello`](super::Event::UnmatchedIHello)
    /// events queued at once; more are dropped and counted, so that a
    /// flood cannot grow memory.
    pub max_queued_unmatched: usize,
    /// Most datagrams waiting in the transmit queue; beyond it, startup
    /// replies are dropped and counted.
    pub max_queued_transmits: usize,
    /// Run the responder's Diffie-Hellman work outside `handle_datagram`:
    /// IIKeyings become [`KeyingJob`](super::KeyingJob)s for the driver to
    /// run on other threads.  The runtime turns this on; sans-IO users
    /// leave it off to key inline.
    pub offload_keying: bool,
    /// Most keying jobs outstanding at once in offload mode; more
    /// IIKeyings are dropped (and retransmitted by their initiators).
    pub max_pending_keying: usize,
    /// Once half of `max_pending_keying` is taken, most of those from one
    /// IP address (fairness: one flooding source cannot fill the queue);
    /// more IIKeyings from it are dropped as `SourceBusy` until its
    /// handshakes finish.  Below half, a burst from one address (clients
    /// behind one NAT) goes through.
    pub max_pending_keying_per_source: usize,
    /// Send and receive buffer limits of new flows.
    pub flow_limits: FlowLimits,
    /// Seed for the endpoint's random numbers (tags, session IDs, keys).
    /// `None` seeds from the operating system; a seed makes simulator runs
    /// reproducible.
    pub rng_seed: Option<u64>,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            max_datagram_size: 1200,
            keepalive_interval: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            open_timeout: Duration::from_secs(95),
            redirect_threshold: 24,
            fihello_policy: FIHelloPolicy::RespondWithRHello,
            cookie_slot: Duration::from_secs(60),
            max_queued_unmatched: 4096,
            max_queued_transmits: 4096,
            offload_keying: false,
            max_pending_keying: 1024,
            max_pending_keying_per_source: 32,
            flow_limits: FlowLimits::default(),
            rng_seed: None,
        }
    }
}
