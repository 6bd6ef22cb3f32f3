//! The `rtmfp._rtmfp` extension module behind the `rtmfp` Python package.
//!
//! Bindings are thin: logic lives in `rtmfp-core`, never here.  This crate
//! only translates Python arguments, results, events and errors.
//!
//! Layout:
//! - [`endpoint`]: `Endpoint` (identity, sockets, I/O thread, events);
//! - [`session`]: `Session`, `Flow` (sending), `RecvFlow` (receiving);
//! - [`events`]: one frozen class per endpoint event, and the generic
//!   conversion of every event from core's description;
//! - [`shared`]: the state behind one endpoint (runtime handle, events
//!   set aside by blocking waits) and the blocking waits themselves;
//! - [`errors`]: the `rtmfp.Error` hierarchy;
//! - [`convert`]: bytes-like data, durations, addresses, peer IDs.
//!
//! The Flash layer and the rendezvous server:
//! - [`netconnection`]: `NetConnection` and `NetStream`, over
//!   `rtmfp_core::flash::{NetConnection, NetStream}`; `on_peer_connect`
//!   through the client's ask mode;
//! - [`server`]: `Server`, over `rtmfp_core::rendezvous::ServerHandle`,
//!   with Python hooks run on the event-reading thread;
//! - [`layer`]: what both share: the layer's event queue with blocking
//!   waits and a duplicated event fd (the counterpart of [`shared`]), and
//!   the delivery of callback exceptions;
//! - [`flash_events`]: their event classes; [`amf`]: AMF values.
//!
//! [`plumbing`]: what the three objects with an event stream share (their
//! blocking event iterator), written once.

mod amf;
mod check;
mod convert;
mod endpoint;
mod errors;
mod events;
mod flash_events;
mod flv;
mod layer;
mod netconnection;
mod plumbing;
mod server;
mod session;
mod shared;

use pyo3::prelude::*;

/// The compiled half of the `rtmfp` package; import `rtmfp` instead.
#[pymodule]
fn _rtmfp(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_class::<endpoint::Endpoint>()?;
    m.add_class::<endpoint::EventIterator>()?;
    m.add_class::<session::Session>()?;
    m.add_class::<session::Flow>()?;
    m.add_class::<session::RecvFlow>()?;
    events::register(m)?;
    m.add_function(wrap_pyfunction!(endpoint::_open_error, m)?)?;
    m.add_class::<netconnection::NetConnection>()?;
    m.add_class::<netconnection::NetStream>()?;
    m.add_class::<netconnection::NetEventIterator>()?;
    m.add_class::<server::Server>()?;
    m.add_class::<check::CheckReport>()?;
    m.add_function(wrap_pyfunction!(check::check, m)?)?;
    m.add_class::<server::ServerEventIterator>()?;
    m.add("DIRECT_CONNECTIONS", netconnection::DIRECT_CONNECTIONS)?;
    m.add("CONNECT_TO_FMS", netconnection::CONNECT_TO_FMS)?;
    m.add_function(wrap_pyfunction!(netconnection::_call_outcome, m)?)?;
    m.add_function(wrap_pyfunction!(netconnection::_lookup_answer, m)?)?;
    m.add_function(wrap_pyfunction!(netconnection::_connect_outcome, m)?)?;
    m.add_function(wrap_pyfunction!(netconnection::_is_connect_outcome, m)?)?;
    m.add_function(wrap_pyfunction!(convert::_option_names, m)?)?;
    m.add_function(wrap_pyfunction!(convert::_option_table, m)?)?;
    Ok(())
}
