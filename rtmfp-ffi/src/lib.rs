//! `rtmfp-ffi`: the C ABI of rtmfp, built as `librtmfp.so` / `librtmfp.a`.
//!
//! The header `include/rtmfp.h` is generated from this crate by cbindgen
//! (see `cbindgen.toml`); every `///` comment on an exported item ends up
//! in the header, so write them for C programmers.
//!
//! Conventions (see DESIGN.md, "C ABI conventions"):
//! - every symbol is prefixed `rtmfp_`, every constant `RTMFP_`;
//! - fallible functions return `int`: [`RTMFP_OK`] (0) or a non-negative
//!   count on success, a negative `RTMFP_ERR_*` code on failure;
//!   [`rtmfp_strerror`] names the code and [`rtmfp_last_error_message`]
//!   gives the detail;
//! - no panic crosses the boundary: every entry point runs inside
//!   [`guard::ffi_guard`] (or one of its siblings), which catches it and
//!   reports [`RTMFP_ERR_PANIC`];
//! - objects are opaque handles from a generation-checked table
//!   ([`handles`]), so a freed or forged handle gives
//!   [`RTMFP_ERR_INVALID_HANDLE`], never a use-after-free.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod error;
mod guard;
// The handle table is the foundation for endpoint/session handles that
// later issues add; until then only its unit tests use it.
#[allow(dead_code)]
mod handles;
mod version;

pub use error::*;
pub use version::*;
