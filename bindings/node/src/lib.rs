//! The native half of the `rtmfp` npm package.
//!
//! Bindings are thin: logic lives in `rtmfp-core`, never here.  This crate
//! only translates JS arguments, events, replies and errors; the typed,
//! Node-style API (`Endpoint`, `Session`, `Flow`, `RecvFlow`, EventEmitter
//! events, Promises) is the JS wrapper in `lib/`, built on
//! [`endpoint::NativeEndpoint`].
//!
//! Layout:
//! - [`endpoint`]: `NativeEndpoint`, its options, and the libuv task for
//!   `stats`;
//! - [`netconnection`]: `NativeNetConnection`, the Flash client (RFC 7425
//!   NetConnection and NetStream, DIRECT_CONNECTIONS) on its own runtime;
//! - [`flv`]: FLV byte streams on a NetStream, on libuv workers;
//! - [`server`]: `NativeServer`, the rendezvous server on its own runtime;
//! - [`object`]: what the three classes share (runtime, outbox, cleanup
//!   hook, `ref`/`unref`/`close`);
//! - [`shared`]: what runs behind one object: the runtime, the
//!   dispatcher thread, the threadsafe function and the request replies;
//! - [`layer`]: a layer hosted on the I/O thread, reachable without
//!   waiting, and its event sink;
//! - [`items`]: what the JS callback receives (events, replies, `end`);
//! - [`events`]: core's description of an event to its JS object, for
//!   every event at once; [`keys`]: its keys and words, made once;
//! - [`amf`]: AMF values to JS values and back;
//! - [`errors`]: `err.code` values and the mapping from core errors;
//! - [`outcome`]: failures and outcomes JS words through the core;
//! - [`options`]: options objects read against core's table of options;
//! - [`convert`]: durations (ms), addresses, peer IDs, priorities;
//! - `bench` (cargo feature `bench` only): the micro-benchmark of
//!   [`events`] that scripts/bench-events.js runs.
//!
//! There are no Rust unit tests: a test binary cannot link the Node-API
//! symbols, which only the `node` process provides.  `test/*.test.js`
//! exercise everything through the package.

mod amf;
#[cfg(feature = "bench")]
mod bench;
mod check;
mod convert;
mod endpoint;
mod errors;
mod events;
mod flv;
mod items;
mod keys;
mod netconnection;
mod object;
mod options;
mod outcome;
mod server;
mod shared;

use napi_derive::napi;

/// The version of the rtmfp native library (the Cargo package version).
#[napi]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// Checks the options of a NetConnection (core's table) without starting
/// anything, so that a bad one throws at `new NetConnection`; its native
/// object is made at `connect()`.
#[napi]
pub fn check_net_connection_options(
    env: napi::Env,
    options: napi::bindgen_prelude::Object<'_>,
) -> errors::Result<()> {
    options::read(
        &env,
        &options,
        rtmfp_core::host::options::Object::NetConnection,
    )
    .map(drop)
}

/// Core's table of options as JSON (`rtmfp_core::host::options::table_json`):
/// what the options interfaces of lib/index.d.ts are generated from
/// (scripts/option_stubs.py; test/options.test.js checks them).
#[napi]
pub fn option_table() -> String {
    rtmfp_core::host::options::table_json()
}
