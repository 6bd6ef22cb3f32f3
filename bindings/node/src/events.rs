//! Core's description of an event ([`rtmfp_core::host::describe`]) to the
//! JS object the callback receives, for every event at once.
//!
//! `type` is the kind in camelCase and each field a camelCase key, except
//! where Node's name has always differed ([`KINDS`], [`FIELDS`]); an
//! absent value (`Null`) leaves its key out.  Numbers, ids and counts are
//! numbers, durations milliseconds, addresses `"ip:port"`, peer IDs 64 hex
//! digits, words camelCase strings, bytes Buffers (moved, not copied), AMF
//! values as in [`crate::amf`], lists Arrays and records plain objects.
//! Keys and words are made once ([`crate::keys`]).

use crate::amf::{check, object, Amf};
use crate::convert::{hex, num, to_millis};
use crate::keys;
use napi::bindgen_prelude::{Buffer, Null, ToNapiValue};
use napi::sys;
use rtmfp_core::host::{Description, Value};
use std::ffi::CStr;
use std::ptr;

/// Kinds whose `type` is not their camelCase.
const KINDS: &[(&str, &CStr)] = &[
    ("status", c"netStatus"),
    ("unmatched_ihello", c"unmatchedIHello"),
    ("connected", c"clientConnected"),
    ("rejected", c"clientRejected"),
    ("peer_info", c"clientPeerInfo"),
    ("disconnected", c"clientDisconnected"),
    ("published", c"streamPublished"),
    ("unpublished", c"streamUnpublished"),
    ("playing", c"streamPlaying"),
    ("ask", c"serverAsk"),
    ("ask_ended", c"serverAskEnded"),
];

/// Fields (kind, field) with another key, or none (left out).
const FIELDS: &[(&str, &str, Option<&CStr>)] = &[
    ("media", "payload", Some(c"data")),
    ("command", "command_object", None),
    ("peer_stream_info", "session", None),
];

/// Kinds whose `stream` is always set (0 when the NetStream has no key).
const STREAM_ALWAYS: &[&str] = &["media", "stream_created"];

/// The `type` of an event of `kind`.
fn kind_name(kind: &'static str) -> &'static CStr {
    match KINDS.iter().find(|(k, _)| *k == kind) {
        Some((_, name)) => name,
        None => keys::camel(kind),
    }
}

/// The key of a field, `None` to leave it out.
fn key(kind: &str, field: &'static str) -> Option<&'static CStr> {
    match FIELDS.iter().find(|(k, f, _)| *k == kind && *f == field) {
        Some((_, _, name)) => *name,
        None => Some(keys::camel(field)),
    }
}

/// An event (or a described reply) as a JS object with its `type`.
/// `stream` is given for a Flash client event: the JS key of its NetStream
/// (`None`: none, or a NetStream JS does not know), which replaces the
/// description's `stream`.
///
/// # Safety
/// `env` is a valid environment, used on its thread.
pub unsafe fn event(
    env: sys::napi_env,
    d: Description,
    stream: Option<Option<u32>>,
) -> napi::Result<sys::napi_value> {
    // SAFETY: the caller's contract.
    unsafe { record(env, d, stream, true) }
}

/// A record; `typed`: with `type` first (an event).
unsafe fn record(
    env: sys::napi_env,
    d: Description,
    stream: Option<Option<u32>>,
    typed: bool,
) -> napi::Result<sys::napi_value> {
    // SAFETY: the caller's contract; every value set was made in `env`.
    unsafe {
        let out = object(env)?;
        if typed {
            let name = keys::string(env, kind_name(d.kind))?;
            keys::set(env, out, c"type", name)?;
        }
        for field in d.fields {
            let value = match (field.name, stream) {
                ("stream", Some(Some(k))) => Value::U64(k.into()),
                ("stream", Some(None)) if STREAM_ALWAYS.contains(&d.kind) => Value::U64(0),
                ("stream", Some(None)) => continue,
                (_, _) => field.value,
            };
            let Some(name) = key(d.kind, field.name) else {
                continue;
            };
            if value == Value::Null {
                continue;
            }
            let js = to_js(env, value)?;
            keys::set(env, out, name, js)?;
        }
        Ok(out)
    }
}

unsafe fn to_js(env: sys::napi_env, value: Value) -> napi::Result<sys::napi_value> {
    // SAFETY: the caller's contract.
    unsafe {
        match value {
            Value::Null => Null::to_napi_value(env, Null),
            Value::Bool(b) => bool::to_napi_value(env, b),
            Value::U64(n) => f64::to_napi_value(env, num(n)),
            Value::F64(n) => f64::to_napi_value(env, n),
            Value::Text(s) => String::to_napi_value(env, s),
            Value::Word(w) => keys::string(env, keys::camel(w)),
            Value::Bytes(b) => Buffer::to_napi_value(env, b.into()),
            Value::Duration(d) => f64::to_napi_value(env, to_millis(d)),
            Value::Address(a) => String::to_napi_value(env, a.to_string()),
            Value::PeerId(id) => String::to_napi_value(env, hex(&id)),
            Value::Session(s) => f64::to_napi_value(env, num(s.0)),
            Value::RecvFlow(f) | Value::SendFlow(f) => f64::to_napi_value(env, num(f)),
            Value::Stream(s) => f64::to_napi_value(env, s.0.into()),
            Value::PeerStream(p) => f64::to_napi_value(env, num(p.0)),
            Value::Amf(v) => Amf::to_napi_value(env, Amf(v)),
            Value::List(items) => {
                let mut out = ptr::null_mut();
                check(
                    sys::napi_create_array_with_length(env, items.len(), &mut out),
                    "create_array",
                )?;
                for (i, item) in items.into_iter().enumerate() {
                    let v = to_js(env, item)?;
                    check(sys::napi_set_element(env, out, i as u32, v), "set_element")?;
                }
                Ok(out)
            }
            Value::Record(d) => record(env, d, None, false),
        }
    }
}
