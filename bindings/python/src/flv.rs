//! FLV byte streams on a NetStream (issue 16): core's
//! `rtmfp_core::flash::flv_io`, with the GIL released in slices (Ctrl-C
//! works during a wait) and its errors as Python exceptions.

use crate::errors::{self, Kind};
use pyo3::prelude::*;
use rtmfp_core::flash::flv_io::FlvIoError;
use rtmfp_core::flash::NetStream as CoreNetStream;
use rtmfp_core::host::Classify;
use std::time::{Duration, Instant};

/// How long one GIL-free wait lasts before signals are checked.
const SLICE: Duration = Duration::from_millis(50);

pub(crate) fn error(py: Python<'_>, e: FlvIoError) -> PyErr {
    match e {
        // A blocking call that ran out of time: Python's TimeoutError.
        FlvIoError::WouldBlock => errors::err(py, Kind::Timeout, "nothing within the timeout"),
        FlvIoError::Net(e) => errors::from_net(py, e),
        e => errors::failure(py, e.failure()),
    }
}

/// Runs `op` with waits of at most a slice each, until it does not
/// answer `WouldBlock` or `timeout` (seconds; `None`: no limit) passes.
pub(crate) fn sliced<T: Send>(
    py: Python<'_>,
    core: &CoreNetStream,
    timeout: Option<f64>,
    op: impl Fn(&CoreNetStream, Duration) -> Result<T, FlvIoError> + Sync,
) -> PyResult<T> {
    let deadline = match timeout {
        Some(t) if !(t >= 0.0 && t.is_finite()) => {
            return Err(errors::invalid(py, "timeout must be >= 0 or None"))
        }
        Some(t) => Instant::now().checked_add(Duration::from_secs_f64(t)),
        None => None,
    };
    loop {
        let slice = match (timeout, deadline) {
            (Some(_), Some(d)) => d.saturating_duration_since(Instant::now()).min(SLICE),
            _ => SLICE,
        };
        match py.detach(|| op(core, slice)) {
            Err(FlvIoError::WouldBlock) => {}
            other => return other.map_err(|e| error(py, e)),
        }
        if timeout.is_some() && deadline.is_none_or(|d| Instant::now() >= d) {
            return Err(error(py, FlvIoError::WouldBlock));
        }
        py.check_signals()?;
    }
}
