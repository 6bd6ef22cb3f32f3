//! [`Host`]: one application layer on its own runtime, reachable from any
//! thread, closed once.

use crate::endpoint::{Endpoint, Layer};
use crate::runtime::{Handle, Runtime, RuntimeConfig, RuntimeError, ShutdownReport};
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A layer `L` (the Flash client, the rendezvous server) running on its
/// own runtime.
///
/// - [`Host::call`] runs a closure with the layer on the I/O thread and
///   waits for its result (C and Python calls); [`Host::post`] does not
///   wait (Node, which must never block its thread).
/// - [`Host::shutdown`] takes `&self` and is idempotent: the first call
///   says goodbye through the layer, closes every session in order and
///   stops the I/O thread; later calls (from any thread, also racing)
///   answer `None`.  Calls after it fail with [`RuntimeError::Closed`].
pub struct Host<L> {
    handle: Handle,
    runtime: Mutex<Option<Runtime>>,
    layer: PhantomData<fn() -> L>,
}

impl<L> fmt::Debug for Host<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

/// An object on its own runtime (a plain endpoint, a NetConnection, a
/// server), as an adapter holds it: its handle, and a close that happens
/// once.
pub trait Hosted: Send + Sync {
    /// The runtime handle.
    fn runtime_handle(&self) -> Handle;
    /// Closes in order within `deadline` and stops the I/O thread, once:
    /// `Some(report)` for the call that did it, `None` for any other.
    fn close_within(&self, deadline: Duration) -> Option<ShutdownReport>;
}

impl Host<()> {
    /// Binds the sockets of `config` and starts a plain endpoint (no
    /// layer: its events go to the runtime's own queue).
    pub fn start_plain(config: RuntimeConfig) -> io::Result<Host<()>> {
        Ok(Host::wrap(Runtime::start(config)?))
    }
}

impl<L> Host<L> {
    fn wrap(runtime: Runtime) -> Host<L> {
        Host {
            handle: runtime.handle(),
            runtime: Mutex::new(Some(runtime)),
            layer: PhantomData,
        }
    }

    /// Closes every session in order and stops the I/O thread within
    /// `deadline`, once (see [`Hosted::close_within`]).
    pub fn close(&self, deadline: Duration) -> Option<ShutdownReport> {
        Some(self.take_runtime()?.shutdown(deadline))
    }

    /// The runtime, for the one call that shuts it down.
    fn take_runtime(&self) -> Option<Runtime> {
        self.runtime
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// The runtime handle (endpoint calls, counters, the runtime's own
    /// event queue).
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The bound local addresses.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.handle.local_addrs()
    }

    /// Whether it was shut down (or its I/O thread stopped).
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }
}

impl<L: Send> Hosted for Host<L> {
    fn runtime_handle(&self) -> Handle {
        self.handle.clone()
    }
    fn close_within(&self, deadline: Duration) -> Option<ShutdownReport> {
        self.close(deadline)
    }
}

impl<L: Layer> Host<L> {
    /// Binds the sockets of `config` and starts `layer` on a new I/O
    /// thread.
    pub fn start(config: RuntimeConfig, layer: L) -> io::Result<Host<L>> {
        Ok(Host::wrap(Runtime::start_with_layer(
            config,
            Box::new(layer),
        )?))
    }

    /// Runs `f` with the layer on the I/O thread and returns its result.
    pub fn call<R, F>(&self, f: F) -> Result<R, RuntimeError>
    where
        R: Send + 'static,
        F: FnOnce(&mut L, &mut Endpoint, Instant) -> R + Send + 'static,
    {
        self.handle.call_layer::<L, R, F>(f)
    }

    /// Runs `f` with the layer on the I/O thread without waiting; if the
    /// runtime stops first, `f` is dropped unrun (so a reply it owns can
    /// say "closed" from its `Drop`).
    pub fn post<F>(&self, f: F) -> Result<(), RuntimeError>
    where
        F: FnOnce(&mut L, &mut Endpoint, Instant) + Send + 'static,
    {
        self.handle.post_layer::<L, F>(f)
    }

    /// Shuts down once: runs `farewell` with the layer (a NetConnection's
    /// orderly close), closes every session in order, and stops the I/O
    /// thread within `deadline`.  `Some(report)` for the call that did
    /// it, `None` for every other.  Blocks for up to `deadline`.
    pub fn shutdown<F>(&self, deadline: Duration, farewell: F) -> Option<ShutdownReport>
    where
        F: FnOnce(&mut L, &mut Endpoint, Instant) + Send + 'static,
    {
        let runtime = self.take_runtime()?;
        let _ = runtime.call_layer::<L, _, _>(farewell);
        Some(runtime.shutdown(deadline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::PlainProfile;
    use crate::endpoint::Event;
    use std::any::Any;
    use std::sync::Arc;

    /// A layer that counts what it is asked to.
    #[derive(Default)]
    struct Counter {
        calls: u32,
        farewells: u32,
    }

    impl Layer for Counter {
        fn on_event(&mut self, _: &mut Endpoint, _: Instant, event: Event) -> Option<Event> {
            Some(event)
        }
        fn as_any_mut(&mut self) -> &mut dyn Any {
            self
        }
    }

    fn host() -> Host<Counter> {
        let config = RuntimeConfig::new(
            vec!["127.0.0.1:0".parse().unwrap()],
            Arc::new(PlainProfile::new(b"host".to_vec())),
        );
        Host::start(config, Counter::default()).expect("start")
    }

    #[test]
    fn posts_run_in_order_before_a_later_call() {
        let h = host();
        for _ in 0..100 {
            h.post(|c, _, _| c.calls += 1).unwrap();
        }
        assert_eq!(h.call(|c, _, _| c.calls).unwrap(), 100);
    }

    #[test]
    fn shutdown_runs_the_farewell_once_and_then_everything_is_closed() {
        let h = Arc::new(host());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let h = h.clone();
                std::thread::spawn(move || {
                    h.shutdown(Duration::from_millis(200), |c, _, _| c.farewells += 1)
                        .is_some()
                })
            })
            .collect();
        let did: Vec<bool> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(did.iter().filter(|d| **d).count(), 1, "{did:?}");
        assert!(h.is_closed());
        assert_eq!(h.call(|c, _, _| c.calls), Err(RuntimeError::Closed));
        assert_eq!(h.post(|c, _, _| c.calls += 1), Err(RuntimeError::Closed));
    }

    #[test]
    fn a_post_for_another_layer_type_is_dropped_not_run() {
        let h = host();
        struct Other;
        impl Layer for Other {
            fn on_event(&mut self, _: &mut Endpoint, _: Instant, e: Event) -> Option<Event> {
                Some(e)
            }
            fn as_any_mut(&mut self) -> &mut dyn Any {
                self
            }
        }
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        h.handle()
            .post_layer::<Other, _>(move |_, _, _| {
                flag.store(true, std::sync::atomic::Ordering::SeqCst)
            })
            .unwrap();
        // A call behind it has run, so the post was handled (and dropped).
        h.call(|_, _, _| ()).unwrap();
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }
}
