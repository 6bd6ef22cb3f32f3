//! What every native class (`NativeEndpoint`, `NativeNetConnection`,
//! `NativeServer`) is made of: its [`Shared`] runtime, the outbox for
//! replies, the environment cleanup hook, and the `ref`/`unref`/`close`
//! that go with them.

use crate::convert;
use crate::errors::{self, Result};
use crate::shared::{Outbox, Reply, Shared};
use napi::bindgen_prelude::AsyncTask;
use napi::{CleanupEnvHook, Env, Task};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections are plain updates: a panic cannot leave the data
    // inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The members every native class has over its `base: Base`: `peerId`,
/// `addresses`, `closed`, `ref()` and `unref()`.
macro_rules! base_members {
    ($ty:ty) => {
        #[napi_derive::napi]
        impl $ty {
            /// Its peer ID (the certificate fingerprint), 64 hex digits.
            #[napi(getter)]
            pub fn peer_id(&self) -> String {
                crate::convert::hex(&self.base.shared.peer_id)
            }

            /// Every bound address, `"ip:port"` (with the port the system
            /// picked for port 0).
            #[napi(getter)]
            pub fn addresses(&self) -> Vec<String> {
                self.base
                    .shared
                    .local_addrs
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            }

            /// The TURN relayed address, `"ip:port"`, while it runs over a
            /// relay (option `turn`); `null` without one.
            #[napi(getter)]
            pub fn relayed_address(&self) -> Option<String> {
                self.base.shared.relayed_addr().map(|a| a.to_string())
            }

            /// Whether it is closed (or its I/O thread stopped).
            #[napi(getter)]
            pub fn closed(&self) -> bool {
                self.base.shared.is_closed()
            }

            /// The event callback keeps the process alive.
            #[napi(js_name = "ref")]
            pub fn ref_(&self, env: napi::Env) -> crate::errors::Result<()> {
                self.base.set_ref(&env, true)
            }

            /// The event callback no longer keeps the process alive.
            #[napi]
            pub fn unref(&self, env: napi::Env) -> crate::errors::Result<()> {
                self.base.set_ref(&env, false)
            }
        }
    };
}
pub(crate) use base_members;

/// One native object's runtime, as seen from its JS object.
pub struct Base {
    pub shared: Arc<Shared>,
    /// `None` once closed: then the threadsafe function goes as soon as
    /// the dispatcher and the pending requests are done with it.
    outbox: Mutex<Option<Outbox>>,
    hook: Mutex<Option<CleanupEnvHook<Weak<Shared>>>>,
}

impl Base {
    /// Wraps a started [`Shared`]; if the environment goes (process exit,
    /// worker terminated) with the object open, its threads are stopped.
    pub fn new(env: &Env, shared: Arc<Shared>, outbox: Outbox) -> Result<Base> {
        let hook = env
            .add_env_cleanup_hook(Arc::downgrade(&shared), |weak| {
                if let Some(shared) = weak.upgrade() {
                    shared.stop_now();
                }
            })
            .map_err(errors::internal)?;
        Ok(Base {
            shared,
            outbox: Mutex::new(Some(outbox)),
            hook: Mutex::new(Some(hook)),
        })
    }

    pub fn outbox(&self) -> Option<Outbox> {
        lock(&self.outbox).clone()
    }

    /// The reply to request `request` (fails once closed).
    pub fn reply(&self, request: u32) -> Result<Reply> {
        self.shared.check_open()?;
        let outbox = self.outbox().ok_or_else(errors::closed)?;
        Ok(Reply::new(outbox, request))
    }

    /// Whether the event callback keeps the process alive.
    pub fn set_ref(&self, env: &Env, referenced: bool) -> Result<()> {
        match self.outbox() {
            Some(outbox) => outbox.set_ref(env, referenced),
            None => Ok(()),
        }
    }

    /// Marks the object closed, drops its reference to the threadsafe
    /// function (the dispatcher's goes after `end`) and shuts the runtime
    /// down on a libuv worker.
    pub fn close(&self, env: &Env, timeout_ms: f64) -> Result<AsyncTask<CloseTask>> {
        let timeout = convert::millis(timeout_ms, "timeout")?;
        self.shared.mark_closed();
        lock(&self.outbox).take();
        if let Some(hook) = lock(&self.hook).take() {
            env.remove_env_cleanup_hook(hook)
                .map_err(errors::internal)?;
        }
        Ok(AsyncTask::new(CloseTask {
            shared: self.shared.clone(),
            timeout,
        }))
    }
}

/// `close()` on a libuv worker: shutting down waits for the far ends.
pub struct CloseTask {
    shared: Arc<Shared>,
    timeout: Duration,
}

impl Task for CloseTask {
    type Output = bool;
    type JsValue = bool;

    fn compute(&mut self) -> napi::Result<bool> {
        Ok(self.shared.shutdown(self.timeout))
    }

    fn resolve(&mut self, _: Env, clean: bool) -> napi::Result<bool> {
        Ok(clean)
    }
}
