//! An application layer (the Flash client, the rendezvous server) hosted
//! on the runtime's I/O thread so that the JS thread can reach it without
//! waiting.
//!
//! `Handle::call_layer` reaches a layer but blocks until the I/O thread
//! has run the call; `Handle::post` does not block but only sees the
//! endpoint.  [`Hosted`] puts the layer behind an `Arc<Mutex<_>>` that
//! only the I/O thread ever locks: the runtime calls the layer through
//! it, and a closure posted with [`post`] locks it (uncontended: same
//! thread) to call the layer with the endpoint.  The native object holds
//! only a `Weak` reference, so the layer, and the sink that closes its
//! event queue ([`sink`]), go when the I/O thread ends.

use crate::errors::Result;
use crate::items::Item;
use crate::object::lock;
use crate::shared::Shared;
use rtmfp_core::endpoint::{Endpoint, Event, EventSink, Layer};
use rtmfp_core::runtime::EventQueue;
use std::any::Any;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

/// Sees each endpoint event (with the layer) before the layer does.
pub type Observer<L> = Box<dyn FnMut(&L, &Event) + Send>;

/// A layer reachable from posted closures: see the module docs.
pub struct Hosted<L: Layer> {
    layer: Arc<Mutex<L>>,
    observer: Option<Observer<L>>,
}

impl<L: Layer> Hosted<L> {
    /// Hosts `layer`; returns it and the weak reference for [`post`].
    pub fn new(layer: L, observer: Option<Observer<L>>) -> (Hosted<L>, Weak<Mutex<L>>) {
        let layer = Arc::new(Mutex::new(layer));
        let weak = Arc::downgrade(&layer);
        (Hosted { layer, observer }, weak)
    }
}

impl<L: Layer> Layer for Hosted<L> {
    fn on_event(&mut self, ep: &mut Endpoint, now: Instant, event: Event) -> Option<Event> {
        let mut layer = lock(&self.layer);
        if let Some(observe) = self.observer.as_mut() {
            observe(&layer, &event);
        }
        layer.on_event(ep, now, event)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        lock(&self.layer).poll_timeout()
    }

    fn on_timeout(&mut self, ep: &mut Endpoint, now: Instant) {
        lock(&self.layer).on_timeout(ep, now)
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Runs `f` with the layer on the I/O thread, without waiting.  If the
/// layer is gone (the runtime stopped) `f` is dropped unrun: a `Reply`
/// it holds then answers `ERR_RTMFP_CLOSED`.
pub fn post<L, F>(shared: &Shared, layer: &Weak<Mutex<L>>, f: F) -> Result<()>
where
    L: Layer,
    F: FnOnce(&mut L, &mut Endpoint, Instant) + Send + 'static,
{
    let layer = layer.clone();
    shared.post(move |ep, now| {
        if let Some(layer) = layer.upgrade() {
            f(&mut lock(&layer), ep, now);
        }
    })
}

/// Closes the queue when dropped (with the layer that owns the sink).
struct CloseOnDrop(Arc<EventQueue<Item>>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A layer's event sink: each event, as `convert` makes it an item (or
/// drops it), into `queue`, which closes when the sink goes.
pub fn sink<T, F>(queue: Arc<EventQueue<Item>>, mut convert: F) -> EventSink<T>
where
    T: 'static,
    F: FnMut(T) -> Option<Item> + Send + 'static,
{
    let guard = CloseOnDrop(queue);
    Box::new(move |event| {
        if let Some(item) = convert(event) {
            guard.0.push(item);
        }
    })
}
