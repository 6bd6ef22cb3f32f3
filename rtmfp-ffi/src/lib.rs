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
//!
//! Modules: [`config`] (`rtmfp_config_*`), [`endpoint`] (endpoints,
//! sessions, event polling), [`flow`] (`rtmfp_flow_*`), [`event`] (the
//! `rtmfp_event` struct), [`netconnection`] (`rtmfp_netconnection_*`,
//! `rtmfp_netstream_*`: the Flash client), [`server`] (`rtmfp_server_*`:
//! the rendezvous server); `dispatch` (polling and the callback
//! dispatcher, shared by all objects with events).
//!
//! Handle-table tags (each kind of object has its own, so a handle of one
//! kind is refused where another is expected): 1 config, 2 endpoint,
//! 3 NetConnection, 4 NetStream, 5 rendezvous server.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
// C names: `rtmfp_config`, `rtmfp_event_type`, ... are the header's names.
#![allow(non_camel_case_types)]

// cbindgen writes the header in this order: errors and version first.
mod error;
mod version;

pub mod check;
pub mod config;
pub mod endpoint;
pub mod event;
pub mod flow;
pub mod flv;
pub mod netconnection;
pub mod server;

mod dispatch;
mod guard;
// Some table operations (drain, get_mut, ...) are only used by tests yet.
#[allow(dead_code)]
mod handles;
mod util;

pub use config::*;
pub use endpoint::*;
pub use error::*;
pub use event::*;
pub use flow::*;
pub use flv::*;
pub use netconnection::*;
pub use server::*;
pub use version::*;
