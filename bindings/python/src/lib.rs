//! The `rtmfp._rtmfp` extension module behind the `rtmfp` Python package.
//!
//! Bindings are thin: logic lives in `rtmfp-core`, never here.  This crate
//! only translates Python arguments, results, events and errors.
//!
//! Layout:
//! - [`endpoint`]: `Endpoint` (identity, sockets, I/O thread, events);
//! - [`session`]: `Session`, `Flow` (sending), `RecvFlow` (receiving);
//! - [`events`]: one frozen class per endpoint event;
//! - [`shared`]: the state behind one endpoint (runtime handle, events
//!   set aside by blocking waits) and the blocking waits themselves;
//! - [`errors`]: the `rtmfp.Error` hierarchy;
//! - [`convert`]: bytes-like data, durations, addresses, peer IDs.
//!
//! The Flash layer (`NetConnection`, `NetStream`) and the rendezvous
//! `Server` go in modules of their own beside these: each starts its
//! runtime with `Runtime::start_with_layer`, wraps it in a [`shared::Shared`]
//! (`Shared::new(runtime, peer_id)`) and so gets the same blocking waits,
//! event fd and error mapping; layer events are added to [`events`].

mod convert;
mod endpoint;
mod errors;
mod events;
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
    Ok(())
}
