//! Python values to AMF values (`rtmfp_core::flash::Value`) and back, for
//! data messages (`NetStream.send_data`, `Media.values()`), call
//! arguments and results, and status info objects.
//!
//! | Python                      | AMF                                   |
//! |-----------------------------|---------------------------------------|
//! | `None`                      | null (undefined, unsupported too)     |
//! | `bool`                      | boolean                               |
//! | `int`, `float`              | number (a double; AMF3 integers come back as `int`) |
//! | `str`                       | string (XML too)                      |
//! | `bytes`, `bytearray`        | ByteArray (AMF3)                      |
//! | `dict` with `str` keys      | anonymous object (ECMA arrays, AMF3 dictionaries come back as `dict`) |
//! | `list`, `tuple`             | strict array (vectors come back as `list`) |
//! | `datetime.datetime`         | date (comes back in UTC)              |

use crate::errors::invalid;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMapping, PySequence, PyString,
    PyTuple,
};
use rtmfp_core::flash::amf::Object;
use rtmfp_core::flash::Value;

/// Deepest nesting converted either way.
const MAX_DEPTH: usize = 64;

/// A Python value to an AMF value.
pub(crate) fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    to_value_at(obj, 0)
}

fn to_value_at(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    let py = obj.py();
    if depth > MAX_DEPTH {
        return Err(invalid(py, "AMF value nested too deeply"));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Boolean(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        let n: f64 = obj.extract()?;
        return Ok(Value::Number(n));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::Number(f.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::ByteArray(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Value::ByteArray(b.to_vec()));
    }
    let datetime = py.import("datetime")?.getattr("datetime")?;
    if obj.is_instance(&datetime)? {
        let seconds: f64 = obj.call_method0("timestamp")?.extract()?;
        return Ok(Value::Date {
            millis: seconds * 1000.0,
            time_zone: 0,
        });
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        return object(d.iter(), depth);
    }
    if let Ok(m) = obj.cast::<PyMapping>() {
        let items = m.items()?;
        let mut pairs = Vec::new();
        for item in items.iter() {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            pairs.push((k, v));
        }
        return object(pairs.into_iter(), depth);
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let seq = obj.cast::<PySequence>()?;
        let mut items = Vec::with_capacity(seq.len()?);
        for item in obj.try_iter()? {
            items.push(to_value_at(&item?, depth + 1)?);
        }
        return Ok(Value::StrictArray(items));
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "cannot send {} as an AMF value (use None, bool, int, float, str, bytes, \
         list, tuple, dict with str keys, datetime)",
        obj.get_type().name()?
    )))
}

fn object<'py>(
    pairs: impl Iterator<Item = (Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    depth: usize,
) -> PyResult<Value> {
    let mut properties = Vec::new();
    for (k, v) in pairs {
        let key = k.cast::<PyString>().map_err(|_| {
            invalid(
                k.py(),
                "AMF object keys must be str, got a key of type ".to_owned()
                    + &k.get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
            )
        })?;
        properties.push((key.to_cow()?.into_owned(), to_value_at(&v, depth + 1)?));
    }
    Ok(Value::Object(Box::new(Object::anonymous(properties))))
}

/// An AMF value to a Python value.
pub(crate) fn to_python(py: Python<'_>, value: &Value) -> PyResult<Py<PyAny>> {
    to_python_at(py, value, 0)
}

/// Several AMF values to a Python list.
pub(crate) fn list(py: Python<'_>, values: &[Value]) -> PyResult<Py<PyList>> {
    let out = PyList::empty(py);
    for v in values {
        out.append(to_python(py, v)?)?;
    }
    Ok(out.unbind())
}

fn pairs_to_dict<'a>(
    py: Python<'_>,
    pairs: impl Iterator<Item = (&'a String, &'a Value)>,
    depth: usize,
) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    for (k, v) in pairs {
        d.set_item(k, to_python_at(py, v, depth + 1)?)?;
    }
    Ok(d.into_any().unbind())
}

fn seq_to_list<T, F>(py: Python<'_>, items: &[T], mut f: F) -> PyResult<Py<PyAny>>
where
    F: FnMut(&T) -> PyResult<Py<PyAny>>,
{
    let out = PyList::empty(py);
    for item in items {
        out.append(f(item)?)?;
    }
    Ok(out.into_any().unbind())
}

fn to_python_at(py: Python<'_>, value: &Value, depth: usize) -> PyResult<Py<PyAny>> {
    if depth > MAX_DEPTH {
        return Err(invalid(py, "AMF value nested too deeply"));
    }
    let obj: Py<PyAny> = match value {
        Value::Number(n) => n.into_pyobject(py)?.into_any().unbind(),
        Value::Integer(i) => i.into_pyobject(py)?.into_any().unbind(),
        Value::Boolean(b) => b.into_pyobject(py)?.to_owned().into_any().unbind(),
        Value::String(s) | Value::XmlDocument(s) | Value::Xml(s) => {
            PyString::new(py, s).into_any().unbind()
        }
        Value::Null | Value::Undefined | Value::Unsupported | Value::Reference(_) => py.None(),
        Value::Object(o) => pairs_to_dict(py, o.properties.iter().map(|(k, v)| (k, v)), depth)?,
        Value::EcmaArray(pairs) => pairs_to_dict(py, pairs.iter().map(|(k, v)| (k, v)), depth)?,
        Value::StrictArray(items) => seq_to_list(py, items, |v| to_python_at(py, v, depth + 1))?,
        Value::MixedArray(m) => {
            if m.assoc.is_empty() {
                seq_to_list(py, &m.dense, |v| to_python_at(py, v, depth + 1))?
            } else {
                let d = PyDict::new(py);
                for (i, v) in m.dense.iter().enumerate() {
                    d.set_item(i, to_python_at(py, v, depth + 1)?)?;
                }
                for (k, v) in &m.assoc {
                    d.set_item(k, to_python_at(py, v, depth + 1)?)?;
                }
                d.into_any().unbind()
            }
        }
        Value::Date { millis, .. } => {
            let datetime = py.import("datetime")?;
            let utc = datetime.getattr("timezone")?.getattr("utc")?;
            datetime
                .getattr("datetime")?
                .call_method1("fromtimestamp", (millis / 1000.0, utc))?
                .unbind()
        }
        Value::ByteArray(b) => PyBytes::new(py, b).into_any().unbind(),
        Value::VectorInt(v) => seq_to_list(py, &v.items, |i| {
            Ok(i.into_pyobject(py)?.into_any().unbind())
        })?,
        Value::VectorUint(v) => seq_to_list(py, &v.items, |i| {
            Ok(i.into_pyobject(py)?.into_any().unbind())
        })?,
        Value::VectorDouble(v) => seq_to_list(py, &v.items, |f| {
            Ok(f.into_pyobject(py)?.into_any().unbind())
        })?,
        Value::VectorObject(v) => seq_to_list(py, &v.items, |x| to_python_at(py, x, depth + 1))?,
        Value::Dictionary(d) => {
            let out = PyDict::new(py);
            for (k, v) in &d.entries {
                let key = to_python_at(py, k, depth + 1)?;
                let val = to_python_at(py, v, depth + 1)?;
                if out.set_item(key.bind(py), &val).is_err() {
                    // An unhashable key (a list, a dict): use its repr.
                    out.set_item(key.bind(py).repr()?, val)?;
                }
            }
            out.into_any().unbind()
        }
        Value::Externalizable { body, .. } => to_python_at(py, body, depth + 1)?,
        Value::Avmplus(inner) => to_python_at(py, inner, depth)?,
    };
    Ok(obj)
}
