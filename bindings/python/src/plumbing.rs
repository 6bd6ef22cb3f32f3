//! What every object with an event stream (`Endpoint`, `NetConnection`,
//! `Server`) has the same: its blocking event iterator, written once.

use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::PyTraverseError;
use std::sync::Arc;

/// What an event iterator holds, as the garbage collector sees it.
pub(crate) trait Held {
    fn visit(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError>;
}

/// A Python object (a `NetConnection`, a `Server`): visited.
impl<T> Held for Py<T> {
    fn visit(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(self)
    }
}

/// Rust state (an endpoint's `Shared`): nothing to visit.
impl<T> Held for Arc<T> {
    fn visit(&self, _: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        Ok(())
    }
}

/// `event_iterator!(/// doc  Name(Source), |source, py| read)`: a frozen
/// pyclass `Name` holding a `Source`, iterating the events `read` returns
/// (blocking: `Ok(None)` never comes from a read without a timeout) and
/// ending, instead of raising `ClosedError`, once the stream is closed
/// and its last events were read.
macro_rules! event_iterator {
    ($(#[$doc:meta])* $name:ident($held:ty), |$source:ident, $py:ident| $read:expr) => {
        $(#[$doc])*
        #[pyclass(frozen, module = "rtmfp")]
        pub(crate) struct $name($held);

        #[pymethods]
        impl $name {
            fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
                slf
            }

            fn __next__(&self, $py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
                let $source = &self.0;
                match $read {
                    Err(e) if crate::errors::is_closed_error($py, &e) => Ok(None),
                    other => other,
                }
            }

            fn __traverse__(
                &self,
                visit: pyo3::gc::PyVisit<'_>,
            ) -> Result<(), pyo3::PyTraverseError> {
                crate::plumbing::Held::visit(&self.0, &visit)
            }
        }
    };
}
pub(crate) use event_iterator;
