//! The native half of the `rtmfp` npm package.
//!
//! Bindings are thin: logic lives in `rtmfp-core`, never here.  This crate
//! only translates JS arguments, events, replies and errors; the typed,
//! Node-style API (`Endpoint`, `Session`, `Flow`, `RecvFlow`, EventEmitter
//! events, Promises) is the JS wrapper in `lib/`, built on
//! [`endpoint::NativeEndpoint`].
//!
//! Layout:
//! - [`endpoint`]: `NativeEndpoint`, its options, and the libuv tasks for
//!   the calls that must wait (`close`, `stats`);
//! - [`shared`]: what runs behind one endpoint: the runtime, the
//!   dispatcher thread, the threadsafe function and the request replies;
//! - [`items`]: events and replies as the JS callback receives them;
//! - [`errors`]: `err.code` values and the mapping from core errors;
//! - [`convert`]: durations (ms), addresses, peer IDs, priorities.
//!
//! There are no Rust unit tests: a test binary cannot link the Node-API
//! symbols, which only the `node` process provides.  `test/*.test.js`
//! exercise everything through the package.
//!
//! The Flash layer (`NetConnection`, `NetStream`) and the rendezvous
//! `Server` go in modules of their own beside these: each starts its
//! runtime with `Runtime::start_with_layer`, wraps it with
//! [`shared::Shared::start`] (same dispatcher, threadsafe function, replies
//! and lifetime), and adds its layer's events to [`items`].

mod convert;
mod endpoint;
mod errors;
mod items;
mod shared;

use napi_derive::napi;

/// The version of the rtmfp native library (the Cargo package version).
#[napi]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
