//! Application layers that run beside the endpoint, on its thread.
//!
//! A [`Layer`] sees every endpoint event before the application does and
//! may act on the endpoint at once: the Flash client and the rendezvous
//! server are layers.  The runtime runs a layer on its I/O thread; the
//! simulator runs one in a [`Layered`] node.  Either way the layer's
//! reactions (answering a command, introducing peers) cost no thread hop.

use super::{Endpoint, Event};
use std::any::Any;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// Where a layer hands its own typed events when they should not wait in
/// the layer for polling: for example into a runtime
/// [`EventQueue`](crate::runtime::EventQueue) that another thread reads.
pub type EventSink<T> = Box<dyn FnMut(T) + Send>;

/// Code that sits on top of an [`Endpoint`] and consumes its events.
pub trait Layer: Send + 'static {
    /// Handles one endpoint event.  Returns the event to pass it on to the
    /// application, or `None` when the layer consumed it.
    fn on_event(&mut self, endpoint: &mut Endpoint, now: Instant, event: Event) -> Option<Event>;

    /// When [`Layer::on_timeout`] next has work.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// The time from [`Layer::poll_timeout`] has come.
    fn on_timeout(&mut self, _endpoint: &mut Endpoint, _now: Instant) {}

    /// The layer as `Any`, so a typed handle can reach it.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// Runs the endpoint's pending events through `layer`; those it passes on
/// are appended to `out`.  Reactions that cause more events are handled in
/// the same call.
pub fn pump(
    layer: &mut dyn Layer,
    endpoint: &mut Endpoint,
    now: Instant,
    out: &mut impl Extend<Event>,
) {
    while let Some(event) = endpoint.poll_event() {
        if let Some(event) = layer.on_event(endpoint, now, event) {
            out.extend(Some(event));
        }
    }
}

/// An endpoint with a layer on top: a simulator node, or any sans-IO
/// driver.  Events the layer passes on wait in [`Layered::events`].
pub struct Layered<L: Layer> {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The layer.
    pub layer: L,
    /// Events the layer passed on.
    pub events: VecDeque<Event>,
}

impl<L: Layer> Layered<L> {
    /// Puts `layer` on `endpoint`.
    pub fn new(endpoint: Endpoint, layer: L) -> Self {
        Layered {
            endpoint,
            layer,
            events: VecDeque::new(),
        }
    }

    /// Runs `f` on the layer and endpoint, then pumps events.
    pub fn with<R>(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut L, &mut Endpoint, Instant) -> R,
    ) -> R {
        let r = f(&mut self.layer, &mut self.endpoint, now);
        pump(&mut self.layer, &mut self.endpoint, now, &mut self.events);
        r
    }
}

impl<L: Layer> crate::sim::SimNode for Layered<L> {
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        self.endpoint.handle_datagram(now, local, remote, data);
        pump(&mut self.layer, &mut self.endpoint, now, &mut self.events);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<crate::sim::Transmit> {
        pump(&mut self.layer, &mut self.endpoint, now, &mut self.events);
        self.endpoint
            .poll_transmit(now, buf)
            .map(|t| crate::sim::Transmit::to(t.destination))
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        [self.endpoint.poll_timeout(), self.layer.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.endpoint.poll_timeout().is_some_and(|t| t <= now) {
            self.endpoint.handle_timeout(now);
        }
        if self.layer.poll_timeout().is_some_and(|t| t <= now) {
            self.layer.on_timeout(&mut self.endpoint, now);
        }
        pump(&mut self.layer, &mut self.endpoint, now, &mut self.events);
    }
}
