//! What every native class (`NativeEndpoint`, `NativeNetConnection`,
//! `NativeServer`) is made of: the runtime options they all take
//! ([`NativeRuntimeOptions`], converted once by [`Runtime`]), its
//! [`Shared`] runtime, the outbox for replies, the environment cleanup
//! hook, and the `ref`/`unref`/`close` that go with them.

use crate::convert;
use crate::errors::{self, Code, Result};
use crate::items::NativeItem;
use crate::shared::{Outbox, Reply, Shared, Source};
use napi::bindgen_prelude::{AsyncTask, Function};
use napi::{CleanupEnvHook, Env, Task};
use napi_derive::napi;
use rtmfp_core::crypto::{FlashConfig, FlashProfile, PeerId};
use rtmfp_core::endpoint::EndpointConfig;
use rtmfp_core::host::Hosted;
use rtmfp_core::runtime::RuntimeConfig;
use rtmfp_core::turn::TurnConfig;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

/// The options of every native class's runtime (`runtime` in the options
/// of `new NativeEndpoint`, `NativeNetConnection`, `NativeServer`): the
/// public options of the same names (lib/index.d.ts), checked and
/// defaulted by the JS wrapper; `bind` as `"ip:port"` / `"[ipv6]:port"`
/// literals.
#[napi(object)]
pub struct NativeRuntimeOptions {
    pub bind: Vec<String>,
    pub hostname: Option<String>,
    pub open_timeout: Option<f64>,
    pub idle_timeout: Option<f64>,
    pub keepalive_interval: Option<f64>,
    pub key_log: Option<String>,
    pub turn: Option<String>,
}

/// Sets `slot` to option `name` (ms) if it was given.
fn set_millis(slot: &mut Duration, ms: Option<f64>, name: &str) -> Result<()> {
    if let Some(ms) = ms {
        *slot = convert::millis(ms, name)?;
    }
    Ok(())
}

/// [`NativeRuntimeOptions`] checked and converted: what core's
/// `RuntimeConfig` and `NetConnectionConfig` take.
pub struct Runtime {
    pub bind: Vec<SocketAddr>,
    pub endpoint: EndpointConfig,
    /// The identity's configuration, with the options' hostname and key log.
    pub flash: FlashConfig,
    pub turn: Option<TurnConfig>,
}

impl Runtime {
    /// Checks and converts `options` for an identity of `flash`
    /// (`FlashConfig::client()` or `::server()`).
    pub fn new(options: NativeRuntimeOptions, mut flash: FlashConfig) -> Result<Runtime> {
        let bind = convert::bind_addrs(&options.bind)?;
        let mut endpoint = EndpointConfig::default();
        set_millis(
            &mut endpoint.open_timeout,
            options.open_timeout,
            "openTimeout",
        )?;
        set_millis(
            &mut endpoint.idle_timeout,
            options.idle_timeout,
            "idleTimeout",
        )?;
        let keepalive = options.keepalive_interval;
        set_millis(
            &mut endpoint.keepalive_interval,
            keepalive,
            "keepaliveInterval",
        )?;
        flash.hostname = options.hostname.map(String::into_bytes);
        flash.key_log = convert::key_log(options.key_log)?;
        Ok(Runtime {
            bind,
            endpoint,
            flash,
            turn: convert::turn(options.turn)?,
        })
    }

    /// Makes the identity and starts core's object with `start` on a
    /// runtime of these options; a failure is told by
    /// [`convert::start_failed`].  Returns the object and its peer ID.
    pub fn start<T>(
        self,
        start: impl FnOnce(RuntimeConfig) -> std::io::Result<T>,
    ) -> Result<(T, PeerId)> {
        let profile = FlashProfile::generate(self.flash)
            .map_err(|e| errors::err(Code::Internal, format!("cannot make an identity: {e}")))?;
        let peer_id = profile.near_id();
        let mut config = RuntimeConfig::new(self.bind.clone(), Arc::new(profile));
        config.endpoint = self.endpoint;
        config.turn = self.turn;
        let started = start(config).map_err(|e| convert::start_failed(&self.bind, e))?;
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
