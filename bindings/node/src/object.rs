//! What every native class (`NativeEndpoint`, `NativeNetConnection`,
//! `NativeServer`) is made of: its options and runtime ([`Runtime`]), its
//! [`Shared`] runtime, the outbox for replies, the environment cleanup
//! hook, and the `ref`/`unref`/`close` that go with them.

use crate::convert::{self, AddrSpec};
use crate::errors::{self, Code, Result};
use crate::items::{Item, NativeItem};
use crate::shared::{Outbox, Reply, Shared, Source};
use napi::bindgen_prelude::Object;
use napi::bindgen_prelude::{AsyncTask, Function};
use napi::{CleanupEnvHook, Env, Task};
use rtmfp_core::crypto::PeerId;
use rtmfp_core::host::options::{self, Options};
use rtmfp_core::host::Hosted;
use rtmfp_core::runtime::RuntimeConfig;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

/// The runtime of a native class, from its options object (read against
/// core's table by [`options::read`]).
pub struct Runtime {
    options: Options,
    object: options::Object,
}

impl Runtime {
    /// Reads and checks the options `object` takes from `js`.
    pub fn read(env: &Env, js: &Object<'_>, object: options::Object) -> Result<Runtime> {
        Ok(Runtime {
            options: crate::options::read(env, js, object)?,
            object,
        })
    }

    /// The options read.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Makes the identity and starts core's object with `start` on a
    /// runtime of these options; a failure is told by
    /// [`convert::start_failed`].  Returns the object and its peer ID.
    pub fn start<T>(
        self,
        start: impl FnOnce(RuntimeConfig) -> std::io::Result<T>,
    ) -> Result<(T, PeerId)> {
        let profile = self.options.identity(self.object).map_err(errors::failed)?;
        let peer_id = profile.near_id();
        let config = self
            .options
            .runtime_config(self.object, Arc::new(profile))
            .map_err(errors::failed)?;
        let bind = config.bind.clone();
        let started = start(config).map_err(|e| convert::start_failed(&bind, e))?;
        Ok((started, peer_id))
    }
}

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
    /// Starts the dispatcher of a started core object (`host`, whose
    /// events `source` reads) to `on_items`, on the JS thread; if the
    /// environment goes (process exit, worker terminated) with the object
    /// open, its threads are stopped.
    pub fn start(
        env: &Env,
        host: Arc<dyn Hosted>,
        source: Source,
        peer_id: PeerId,
        on_items: Function<'_, Vec<NativeItem>, ()>,
    ) -> Result<Base> {
        let (shared, outbox) = Shared::start(host, source, peer_id, on_items)?;
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

    /// Hands the reply to `request` and the addresses of `specs` to
    /// `post`: at once if none needs resolving, else from a thread of its
    /// own once the names are resolved (resolving blocks: never on the JS
    /// thread).  A name that does not resolve answers the request with
    /// ERR_RTMFP_INVALID_ARGUMENT; if the object closed meanwhile, the
    /// dropped reply answers ERR_RTMFP_CLOSED.
    pub fn with_addrs<P>(&self, request: u32, specs: Vec<AddrSpec>, post: P) -> Result<()>
    where
        P: FnOnce(Vec<SocketAddr>, Reply, &Shared) -> Result<()> + Send + 'static,
    {
        let reply = self.reply(request)?;
        if let Some(addrs) = convert::ready(&specs) {
            return post(addrs, reply, &self.shared);
        }
        let shared = self.shared.clone();
        std::thread::Builder::new()
            .name("rtmfp-resolve".into())
            .spawn(move || match convert::resolve(specs) {
                Ok(addrs) => {
                    let _ = post(addrs, reply, &shared);
                }
                Err(why) => reply.send(Item::failed(request, Code::InvalidArgument, why)),
            })
            .map_err(|e| errors::err(Code::Io, format!("cannot start a thread: {e}")))?;
        Ok(())
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
