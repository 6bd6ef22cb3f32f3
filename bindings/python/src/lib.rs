//! The `rtmfp._rtmfp` extension module behind the `rtmfp` Python package.
//!
//! Bindings are thin: logic lives in `rtmfp-core`, never here.

use pyo3::prelude::*;

/// The compiled half of the `rtmfp` package; import `rtmfp` instead.
#[pymodule]
fn _rtmfp(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
