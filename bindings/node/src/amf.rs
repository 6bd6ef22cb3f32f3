//! AMF values (`rtmfp_core::flash::Value`) to JS values and back: the
//! arguments of `NetConnection.call`, `NetStream.send`/`sendData`, and what
//! data messages, commands and call results carry.
//!
//! JS to AMF (for sending):
//!
//! | JS | AMF |
//! | --- | --- |
//! | number | Number |
//! | boolean, string | Boolean, String |
//! | null, undefined | Null, Undefined |
//! | Array | StrictArray |
//! | Date | Date |
//! | Buffer, TypedArray, ArrayBuffer | ByteArray (sent as AMF3 in AMF0) |
//! | other objects | anonymous Object (own enumerable string keys) |
//!
//! Functions, symbols and BigInts are an invalid argument, and so is
//! nesting deeper than [`MAX_DEPTH`] (a cycle, most likely).
//!
//! AMF to JS (received): numbers, booleans, strings, `null`, `undefined`
//! as themselves; objects and ECMA arrays as plain objects; strict arrays
//! and vectors as Arrays; a mixed array as an Array with its named members
//! as properties; Date as Date; ByteArray as Buffer; XML as its string; a
//! dictionary as an Array of `[key, value]` pairs; an externalizable
//! object as its body; an unresolved reference as `null`.

use crate::errors::{invalid, Result};
use napi::bindgen_prelude::{Buffer, ToNapiValue, TypeName, ValueType};
use napi::sys;
use rtmfp_core::flash::amf::{Object, Value};
use std::ptr;

/// How deep JS values may nest.
pub const MAX_DEPTH: usize = 64;

/// An AMF value on its way to JS.
pub struct Amf(pub Value);

impl TypeName for Amf {
    fn type_name() -> &'static str {
        "unknown"
    }

    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

/// A raw Node-API call's status as a `Result` (`what`: the call's name).
pub(crate) fn check(status: sys::napi_status, what: &str) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::new(
            napi::Status::GenericFailure,
            format!("Node-API {what} failed ({status})"),
        ))
    }
}

/// A new empty JS object.
pub(crate) unsafe fn object(env: sys::napi_env) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    check(
        unsafe { sys::napi_create_object(env, &mut out) },
        "create_object",
    )?;
    Ok(out)
}

/// Sets `target[key]`.
pub(crate) unsafe fn set(
    env: sys::napi_env,
    target: sys::napi_value,
    key: &str,
    value: sys::napi_value,
) -> napi::Result<()> {
    let key = unsafe { String::to_napi_value(env, key.to_owned())? };
    check(
        unsafe { sys::napi_set_property(env, target, key, value) },
        "set_property",
    )
}

unsafe fn array(env: sys::napi_env, items: Vec<Value>) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    check(
        unsafe { sys::napi_create_array_with_length(env, items.len(), &mut out) },
        "create_array",
    )?;
    for (i, item) in items.into_iter().enumerate() {
        let v = unsafe { Amf::to_napi_value(env, Amf(item))? };
        check(
            unsafe { sys::napi_set_element(env, out, i as u32, v) },
            "set_element",
        )?;
    }
    Ok(out)
}

unsafe fn members(
    env: sys::napi_env,
    target: sys::napi_value,
    props: Vec<(String, Value)>,
) -> napi::Result<sys::napi_value> {
    for (k, v) in props {
        let v = unsafe { Amf::to_napi_value(env, Amf(v))? };
        unsafe { set(env, target, &k, v)? };
    }
    Ok(target)
}

impl ToNapiValue for Amf {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        // SAFETY (for the block): `env` is valid (the caller's contract)
        // and every value passed on was made in it.
        unsafe {
            match val.0 {
                Value::Number(n) => f64::to_napi_value(env, n),
                Value::Integer(i) => i32::to_napi_value(env, i),
                Value::Boolean(b) => bool::to_napi_value(env, b),
                Value::String(s) | Value::XmlDocument(s) | Value::Xml(s) => {
                    String::to_napi_value(env, s)
                }
                Value::Null | Value::Reference(_) => {
                    let mut out = ptr::null_mut();
                    check(sys::napi_get_null(env, &mut out), "get_null")?;
                    Ok(out)
                }
                Value::Undefined | Value::Unsupported => {
                    let mut out = ptr::null_mut();
                    check(sys::napi_get_undefined(env, &mut out), "get_undefined")?;
                    Ok(out)
                }
                Value::Object(o) => {
                    let Object { properties, .. } = *o;
                    members(env, object(env)?, properties)
                }
                Value::EcmaArray(props) => members(env, object(env)?, props),
                Value::StrictArray(items) => array(env, items),
                Value::MixedArray(m) => {
                    let m = *m;
                    let out = array(env, m.dense)?;
                    members(env, out, m.assoc)
                }
                Value::Date { millis, .. } => {
                    let mut out = ptr::null_mut();
                    check(sys::napi_create_date(env, millis, &mut out), "create_date")?;
                    Ok(out)
                }
                Value::ByteArray(bytes) => Buffer::to_napi_value(env, Buffer::from(bytes)),
                Value::VectorInt(v) => array(env, v.items.into_iter().map(Value::from).collect()),
                Value::VectorUint(v) => array(
                    env,
                    v.items
                        .into_iter()
                        .map(|n| Value::Number(n.into()))
                        .collect(),
                ),
                Value::VectorDouble(v) => {
                    array(env, v.items.into_iter().map(Value::from).collect())
                }
                Value::VectorObject(v) => array(env, v.items),
                Value::Dictionary(d) => array(
                    env,
                    d.entries
                        .into_iter()
                        .map(|(k, v)| Value::StrictArray(vec![k, v]))
                        .collect(),
                ),
                Value::Externalizable { body, .. } => Amf::to_napi_value(env, Amf(*body)),
                Value::Avmplus(v) => Amf::to_napi_value(env, Amf(*v)),
            }
        }
    }
}

impl napi::bindgen_prelude::FromNapiValue for Amf {
    unsafe fn from_napi_value(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Self> {
        from_js(env, v, "value", 0)
            .map(Amf)
            .map_err(|e| napi::Error::new(napi::Status::InvalidArg, e.reason.clone()))
    }
}

// ------------------------------------------------------------- JS to AMF --

/// What the Node-API getter `call` (named `what`) writes through its last
/// argument, which starts as `init`; a failure is the argument's
/// (ERR_RTMFP_INVALID_ARGUMENT).
fn read<T>(what: &str, init: T, call: impl FnOnce(&mut T) -> sys::napi_status) -> Result<T> {
    let mut out = init;
    check(call(&mut out), what).map_err(|e| invalid(e.reason.clone()))?;
    Ok(out)
}

fn type_of(env: sys::napi_env, v: sys::napi_value) -> Result<i32> {
    // SAFETY: a value of this env, on its thread.
    read("typeof", 0, |t| unsafe { sys::napi_typeof(env, v, t) })
}

fn is(
    env: sys::napi_env,
    v: sys::napi_value,
    f: unsafe extern "C" fn(sys::napi_env, sys::napi_value, *mut bool) -> sys::napi_status,
) -> bool {
    let mut out = false;
    // SAFETY: a value of this env, on its thread.
    let status = unsafe { f(env, v, &mut out) };
    status == sys::Status::napi_ok && out
}

fn bytes_of(env: sys::napi_env, v: sys::napi_value) -> Option<Vec<u8>> {
    let mut data: *mut std::ffi::c_void = ptr::null_mut();
    let mut len = 0usize;
    // SAFETY: values of this env; the data pointer is read only while
    // the value is alive (within this call).
    unsafe {
        if is(env, v, sys::napi_is_buffer) {
            if sys::napi_get_buffer_info(env, v, &mut data, &mut len) != sys::Status::napi_ok {
                return None;
            }
        } else if is(env, v, sys::napi_is_typedarray) {
            let mut kind = 0;
            let mut count = 0usize;
            let mut buffer = ptr::null_mut();
            let mut offset = 0usize;
            if sys::napi_get_typedarray_info(
                env,
                v,
                &mut kind,
                &mut count,
                &mut data,
                &mut buffer,
                &mut offset,
            ) != sys::Status::napi_ok
            {
                return None;
            }
            // `data` already points at the view's first byte.
            len = count
                * match kind {
                    sys::TypedarrayType::int16_array | sys::TypedarrayType::uint16_array => 2,
                    sys::TypedarrayType::int32_array
                    | sys::TypedarrayType::uint32_array
                    | sys::TypedarrayType::float32_array => 4,
                    sys::TypedarrayType::float64_array
                    | sys::TypedarrayType::bigint64_array
                    | sys::TypedarrayType::biguint64_array => 8,
                    _ => 1,
                };
        } else if is(env, v, sys::napi_is_dataview) {
            let mut buffer = ptr::null_mut();
            let mut offset = 0usize;
            if sys::napi_get_dataview_info(env, v, &mut len, &mut data, &mut buffer, &mut offset)
                != sys::Status::napi_ok
            {
                return None;
            }
        } else if is(env, v, sys::napi_is_arraybuffer) {
            if sys::napi_get_arraybuffer_info(env, v, &mut data, &mut len) != sys::Status::napi_ok {
                return None;
            }
        } else {
            return None;
        }
        if len == 0 || data.is_null() {
            return Some(Vec::new());
        }
        Some(std::slice::from_raw_parts(data as *const u8, len).to_vec())
    }
}

fn get(
    env: sys::napi_env,
    target: sys::napi_value,
    key: sys::napi_value,
) -> Result<sys::napi_value> {
    // SAFETY: values of this env, on its thread.
    read("get_property", ptr::null_mut(), |out| unsafe {
        sys::napi_get_property(env, target, key, out)
    })
}

fn length(env: sys::napi_env, array: sys::napi_value) -> Result<u32> {
    // SAFETY: an array of this env, on its thread.
    read("get_array_length", 0, |n| unsafe {
        sys::napi_get_array_length(env, array, n)
    })
}

fn element(env: sys::napi_env, array: sys::napi_value, i: u32) -> Result<sys::napi_value> {
    // SAFETY: an array of this env, on its thread.
    read("get_element", ptr::null_mut(), |out| unsafe {
        sys::napi_get_element(env, array, i, out)
    })
}

fn string(env: sys::napi_env, v: sys::napi_value) -> Result<String> {
    // SAFETY: a string value of this env.
    unsafe { <String as napi::bindgen_prelude::FromNapiValue>::from_napi_value(env, v) }
        .map_err(|e| invalid(e.reason.clone()))
}

/// One JS value as AMF; `what` names it in errors.
pub fn from_js(env: sys::napi_env, v: sys::napi_value, what: &str, depth: usize) -> Result<Value> {
    use sys::ValueType as T;
    if depth > MAX_DEPTH {
        return Err(invalid(format!(
            "{what} nests deeper than {MAX_DEPTH} levels (a cycle?)"
        )));
    }
    let t = type_of(env, v)?;
    // SAFETY (for the getters): values of this env, of the type checked.
    match t {
        T::napi_undefined => Ok(Value::Undefined),
        T::napi_null => Ok(Value::Null),
        T::napi_boolean => Ok(Value::Boolean(read("get_bool", false, |b| unsafe {
            sys::napi_get_value_bool(env, v, b)
        })?)),
        T::napi_number => Ok(Value::Number(read("get_double", 0.0, |n| unsafe {
            sys::napi_get_value_double(env, v, n)
        })?)),
        T::napi_string => Ok(Value::String(string(env, v)?)),
        T::napi_object => {
            if read("is_array", false, |a| unsafe {
                sys::napi_is_array(env, v, a)
            })? {
                let n = length(env, v)?;
                let mut items = Vec::with_capacity(n as usize);
                for i in 0..n {
                    let item = element(env, v, i)?;
                    items.push(from_js(env, item, &format!("{what}[{i}]"), depth + 1)?);
                }
                return Ok(Value::StrictArray(items));
            }
            if is(env, v, sys::napi_is_date) {
                let millis = read("get_date", 0.0, |m| unsafe {
                    sys::napi_get_date_value(env, v, m)
                })?;
                return Ok(Value::Date {
                    millis,
                    time_zone: 0,
                });
            }
            if let Some(bytes) = bytes_of(env, v) {
                return Ok(Value::ByteArray(bytes));
            }
            let keys = read("get_all_property_names", ptr::null_mut(), |keys| unsafe {
                sys::napi_get_all_property_names(
                    env,
                    v,
                    sys::KeyCollectionMode::own_only,
                    sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
                    sys::KeyConversion::numbers_to_strings,
                    keys,
                )
            })?;
            let n = length(env, keys)?;
            let mut props = Vec::with_capacity(n as usize);
            for i in 0..n {
                let key = element(env, keys, i)?;
                let name = string(env, key)?;
                let value = get(env, v, key)?;
                let value = from_js(env, value, &format!("{what}.{name}"), depth + 1)?;
                props.push((name, value));
            }
            Ok(Value::object(props))
        }
        _ => Err(invalid(format!(
            "{what} cannot be sent as AMF: functions, symbols and BigInts have no AMF form"
        ))),
    }
}

/// JS arguments (`...args`) as AMF values.
pub fn from_js_list(
    env: &napi::Env,
    values: &[napi::bindgen_prelude::Unknown<'_>],
    what: &str,
) -> Result<Vec<Value>> {
    use napi::JsValue;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| from_js(env.raw(), v.raw(), &format!("{what}[{i}]"), 0))
        .collect()
}
