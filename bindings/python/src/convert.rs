//! Python arguments to `rtmfp-core` types and back: bytes-like data,
//! durations, addresses, peer IDs, priorities, constructor options.

use crate::errors::{self, invalid};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString, PyTuple};
use rtmfp_core::crypto::PeerId;
use rtmfp_core::flow::{DeliveryOrder, Priority};
use rtmfp_core::host::options::{OptionValue, Options};
use std::ffi::{c_char, c_int, c_void};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

// ---------------------------------------------------------------- bytes --

/// CPython's `Py_buffer`.  The abi3 (limited API) build for 3.9 has no
/// buffer protocol in pyo3-ffi: it joined the limited API in 3.11.  The
/// struct and both functions are unchanged since CPython 3.3 and every
/// CPython >= 3.9 exports them; 3.11 only promised what was already true.
#[repr(C)]
struct RawBuffer {
    buf: *mut c_void,
    obj: *mut ffi::PyObject,
    len: ffi::Py_ssize_t,
    itemsize: ffi::Py_ssize_t,
    readonly: c_int,
    ndim: c_int,
    format: *mut c_char,
    shape: *mut ffi::Py_ssize_t,
    strides: *mut ffi::Py_ssize_t,
    suboffsets: *mut ffi::Py_ssize_t,
    internal: *mut c_void,
}

extern "C" {
    fn PyObject_GetBuffer(obj: *mut ffi::PyObject, view: *mut RawBuffer, flags: c_int) -> c_int;
    fn PyBuffer_Release(view: *mut RawBuffer);
}

/// `PyBUF_SIMPLE`: a C-contiguous run of bytes, read-only is fine.
const PYBUF_SIMPLE: c_int = 0;

/// An argument that is any bytes-like object (read with `copy_bytes`):
/// the stubs (scripts/event_stubs.py) type it `_BytesLike`.
pub(crate) type BytesLike<'a, 'py> = &'a Bound<'py, PyAny>;

/// An argument that is a peer ID, 64 hex digits or 32 bytes (read with
/// `peer_id`): the stubs type it `Union[str, bytes]`.
pub(crate) type PeerIdArg<'a, 'py> = &'a Bound<'py, PyAny>;

/// Copies bytes-like `data` (`bytes`, `bytearray`, `memoryview` or any
/// other C-contiguous buffer exporter) into a `Vec`: exactly one copy,
/// made while the GIL is held so that no other thread can change a
/// mutable buffer halfway through.
pub(crate) fn copy_bytes(data: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(b) = data.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(b) = data.cast::<PyByteArray>() {
        return Ok(b.to_vec());
    }
    if data.is_instance_of::<PyString>() {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "data must be bytes-like (bytes, bytearray, memoryview), not str; encode it first",
        ));
    }
    let mut view = RawBuffer {
        buf: std::ptr::null_mut(),
        obj: std::ptr::null_mut(),
        len: 0,
        itemsize: 0,
        readonly: 0,
        ndim: 0,
        format: std::ptr::null_mut(),
        shape: std::ptr::null_mut(),
        strides: std::ptr::null_mut(),
        suboffsets: std::ptr::null_mut(),
        internal: std::ptr::null_mut(),
    };
    // SAFETY: `data` is a live object and the GIL is held (we have a
    // `Bound`); on success the exporter fills `view` with a contiguous
    // buffer of `len` bytes that stays valid and unresized until
    // `PyBuffer_Release`, which is called exactly once below.
    unsafe {
        if PyObject_GetBuffer(data.as_ptr(), &mut view, PYBUF_SIMPLE) != 0 {
            return Err(PyErr::fetch(data.py()));
        }
        let len = usize::try_from(view.len).unwrap_or(0);
        let out = if len == 0 || view.buf.is_null() {
            Vec::new()
        } else {
            std::slice::from_raw_parts(view.buf as *const u8, len).to_vec()
        };
        PyBuffer_Release(&mut view);
        Ok(out)
    }
}

// ------------------------------------------------------------ durations --

/// Seconds (a float) to a `Duration`; negative, NaN or huge values are an
/// `InvalidArgument` naming `what`.
pub(crate) fn duration(py: Python<'_>, seconds: f64, what: &str) -> PyResult<Duration> {
    if seconds.is_nan() || seconds < 0.0 {
        return Err(invalid(
            py,
            format!("{what} must be >= 0 seconds, got {seconds}"),
        ));
    }
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| invalid(py, format!("{what} is out of range: {seconds}")))
}

/// Default `close()` deadline of `Endpoint`, `NetConnection` and
/// `Server`, in seconds: long enough for far ends on any sane network to
/// acknowledge the Close Requests.
pub(crate) const DEFAULT_CLOSE_TIMEOUT: f64 = 1.0;

/// `Duration` to seconds.
pub(crate) fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

// ------------------------------------------------------------ addresses --

/// One address as given: `"host:port"` / `"[v6]:port"`, or `(host, port)`.
enum AddrSpec {
    Text(String),
    Pair(String, u16),
}

fn addr_spec(item: &Bound<'_, PyAny>) -> PyResult<AddrSpec> {
    let py = item.py();
    if let Ok(s) = item.cast::<PyString>() {
        return Ok(AddrSpec::Text(s.to_cow()?.into_owned()));
    }
    if let Ok(t) = item.cast::<PyTuple>() {
        if t.len() == 2 {
            if let (Ok(host), Ok(port)) = (
                t.get_item(0)?.extract::<String>(),
                t.get_item(1)?.extract::<u16>(),
            ) {
                return Ok(AddrSpec::Pair(host, port));
            }
        }
    }
    Err(invalid(
        py,
        format!(
            "bad address {}: expected \"host:port\" or (host, port)",
            item.repr()?
        ),
    ))
}

/// Addresses as given: one address (a string or a `(host, port)` tuple)
/// or an iterable of them.  Not resolved yet.
pub(crate) struct AddrList(Vec<AddrSpec>);

impl<'py> FromPyObject<'_, 'py> for AddrList {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        let obj = obj.to_owned();
        if obj.is_instance_of::<PyString>() {
            return Ok(AddrList(vec![addr_spec(&obj)?]));
        }
        if let Ok(t) = obj.cast::<PyTuple>() {
            if t.len() == 2 && t.get_item(1)?.extract::<u16>().is_ok() {
                return Ok(AddrList(vec![addr_spec(&obj)?]));
            }
        }
        let iter = obj.try_iter().map_err(|_| {
            invalid(
                obj.py(),
                "addresses must be \"host:port\", (host, port) or a list of them",
            )
        })?;
        let mut out = Vec::new();
        for item in iter {
            out.push(addr_spec(&item?)?);
        }
        Ok(AddrList(out))
    }
}

impl AddrList {
    /// Resolves every address (host names through the system resolver)
    /// with the GIL released.  An empty result is an error.
    pub(crate) fn resolve(self, py: Python<'_>) -> PyResult<Vec<SocketAddr>> {
        let resolved: Result<Vec<SocketAddr>, String> = py.detach(move || {
            let mut out = Vec::new();
            for spec in self.0 {
                match spec {
                    AddrSpec::Text(s) => {
                        if let Ok(a) = s.parse::<SocketAddr>() {
                            out.push(a);
                            continue;
                        }
                        let hint = "expected \"host:port\" or \"[ipv6]:port\"";
                        let addrs = s
                            .to_socket_addrs()
                            .map_err(|e| format!("bad address {s:?}: {e} ({hint})"))?;
                        out.extend(addrs);
                    }
                    AddrSpec::Pair(host, port) => {
                        let host = host.trim_start_matches('[').trim_end_matches(']');
                        let addrs = (host, port)
                            .to_socket_addrs()
                            .map_err(|e| format!("bad address ({host:?}, {port}): {e}"))?;
                        out.extend(addrs);
                    }
                }
            }
            Ok(out)
        });
        let resolved = resolved.map_err(|e| invalid(py, e))?;
        if resolved.is_empty() {
            return Err(invalid(py, "no address given"));
        }
        Ok(resolved)
    }
}

/// Addresses as `"ip:port"` strings: an `addresses` getter's list and,
/// joined with `", "`, the `OSError` filename of a failed bind.
pub(crate) fn addr_strings(list: &[SocketAddr]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

/// The first of the addresses (an `address` getter's), `"ip:port"`.
pub(crate) fn first_addr(list: &[SocketAddr]) -> Option<String> {
    list.first().map(ToString::to_string)
}

// ------------------------------------------------------------- peer IDs --

/// Lowercase hex (core's, shared by every adapter).
pub(crate) use rtmfp_core::flash::peer_id::to_hex as hex;

/// A peer ID given as 64 hex digits or 32 bytes.
pub(crate) fn peer_id(obj: &Bound<'_, PyAny>) -> PyResult<PeerId> {
    let py = obj.py();
    let mut id = [0u8; 32];
    if let Ok(s) = obj.cast::<PyString>() {
        let s = s.to_cow()?;
        let digits = s.as_bytes();
        let bad = || {
            invalid(
                py,
                format!("bad peer ID {s:?}: expected 64 hex digits (32 bytes)"),
            )
        };
        if digits.len() != 64 {
            return Err(bad());
        }
        for (i, pair) in digits.chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).map_err(|_| bad())?;
            id[i] = u8::from_str_radix(text, 16).map_err(|_| bad())?;
        }
        return Ok(id);
    }
    let bytes = copy_bytes(obj).map_err(|_| {
        invalid(
            py,
            "a peer ID is a str of 64 hex digits or 32 bytes".to_string(),
        )
    })?;
    if bytes.len() != 32 {
        return Err(invalid(
            py,
            format!("bad peer ID: {} bytes, expected 32", bytes.len()),
        ));
    }
    id.copy_from_slice(&bytes);
    Ok(id)
}

// ------------------------------------------------------- flow settings --

/// A priority 0..=7 (`rtmfp.Priority` is an `IntEnum`).
pub(crate) fn priority(py: Python<'_>, level: i64) -> PyResult<Priority> {
    match u8::try_from(level) {
        Ok(l) if l <= 7 => Ok(Priority::from_level(l)),
        _ => Err(invalid(
            py,
            format!("priority must be 0..7 (rtmfp.Priority), got {level}"),
        )),
    }
}

/// `"sequence"` or `"network"`.
pub(crate) fn delivery_order(py: Python<'_>, order: &str) -> PyResult<DeliveryOrder> {
    match order {
        "sequence" => Ok(DeliveryOrder::Sequence),
        "network" => Ok(DeliveryOrder::Network),
        other => Err(invalid(
            py,
            format!("order must be \"sequence\" or \"network\", got {other:?}"),
        )),
    }
}

// -------------------------------------------------------------- options --

/// Core's options (`rtmfp_core::host::options`) from a constructor's
/// keyword arguments, `(name, value)` with `None` for one not given: core
/// checks each and words a refusal with the keyword's name.
pub(crate) fn options<'a>(
    py: Python<'_>,
    given: impl IntoIterator<Item = (&'a str, Option<OptionValue>)>,
) -> PyResult<Options> {
    let mut options = Options::new();
    for (name, value) in given {
        if let Some(value) = value {
            options
                .set(name, value)
                .map_err(|e| errors::option(py, e))?;
        }
    }
    Ok(options)
}

/// A keyword argument as an option value, by the Rust type it is
/// declared with: `float` seconds, `str` text or word, `int` count,
/// `list[int]` (Diffie-Hellman groups), a path, a `bool` flag; `None` (an
/// `Option` left unset) is no value, so core's default stands.
pub(crate) trait KeywordValue {
    fn option_value(self) -> Option<OptionValue>;
}

impl KeywordValue for f64 {
    fn option_value(self) -> Option<OptionValue> {
        Some(OptionValue::Seconds(self))
    }
}

impl KeywordValue for bool {
    fn option_value(self) -> Option<OptionValue> {
        Some(OptionValue::Bool(self))
    }
}

impl KeywordValue for i64 {
    fn option_value(self) -> Option<OptionValue> {
        Some(OptionValue::Int(self.into()))
    }
}

impl KeywordValue for String {
    fn option_value(self) -> Option<OptionValue> {
        Some(OptionValue::Text(self))
    }
}

impl KeywordValue for std::path::PathBuf {
    fn option_value(self) -> Option<OptionValue> {
        Some(OptionValue::Path(self))
    }
}

impl KeywordValue for Vec<i64> {
    fn option_value(self) -> Option<OptionValue> {
        let ints = self.into_iter().map(|n| OptionValue::Int(n.into()));
        Some(OptionValue::List(ints.collect()))
    }
}

impl<T: KeywordValue> KeywordValue for Option<T> {
    fn option_value(self) -> Option<OptionValue> {
        self.and_then(KeywordValue::option_value)
    }
}

/// `(name, value)` pairs for [`options`] from keyword arguments named as
/// the table's rows: `keywords![hostname, open_timeout]` is
/// `[("hostname", ..), ("open_timeout", ..)]`, each converted by its type
/// ([`KeywordValue`]).
macro_rules! keywords {
    ($($name:ident),* $(,)?) => {
        [$((stringify!($name), $crate::convert::KeywordValue::option_value($name))),*]
    };
}
pub(crate) use keywords;

/// `_option_names(object)`: the names of the table's rows that `object`
/// (`"endpoint"`, `"netconnection"`, `"server"`) takes, in table order;
/// the tests check that every one has a keyword.
#[pyfunction]
pub(crate) fn _option_names(py: Python<'_>, object: &str) -> PyResult<Vec<&'static str>> {
    use rtmfp_core::host::options::{rows_of, Object};
    let object = match object {
        "endpoint" => Object::Endpoint,
        "netconnection" => Object::NetConnection,
        "server" => Object::Server,
        other => {
            return Err(invalid(
                py,
                format!("object must be one of endpoint, netconnection, server, got {other:?}"),
            ))
        }
    };
    Ok(rows_of(object).map(|r| r.name).collect())
}

/// `_option_table()`: core's table of options as JSON
/// (`rtmfp_core::host::options::table_json`), for the docstrings the
/// package builds and for the stubs' generator (scripts/option_stubs.py).
#[pyfunction]
pub(crate) fn _option_table() -> String {
    rtmfp_core::host::options::table_json()
}

/// [`options`] for a constructor (or `check`): the `bind` keyword's
/// addresses, resolved first (GIL released), then the other keywords.
pub(crate) fn options_with_bind<'a>(
    py: Python<'_>,
    bind: Option<AddrList>,
    given: impl IntoIterator<Item = (&'a str, Option<OptionValue>)>,
) -> PyResult<Options> {
    let bind = match bind {
        Some(b) => Some(OptionValue::Addresses(b.resolve(py)?)),
        None => None,
    };
    options(py, [("bind", bind)].into_iter().chain(given))
}
