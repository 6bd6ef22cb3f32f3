//! The native half of the `rtmfp` npm package.
//!
//! Bindings are thin: logic lives in `rtmfp-core`, never here.

use napi_derive::napi;

/// The version of the rtmfp native library (the Cargo package version).
#[napi]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
