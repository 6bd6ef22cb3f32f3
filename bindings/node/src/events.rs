//! Core's description of an event ([`rtmfp_core::host::describe`]) to the
//! JS object the callback receives, for every event at once.
//!
//! `type` is the kind in camelCase and each field a camelCase key, except
//! where Node's name has always differed ([`KINDS`], [`FIELDS`]); an
//! absent value (`Null`) leaves its key out.  Numbers, ids and counts are
//! numbers, durations milliseconds, addresses `"ip:port"`, peer IDs 64 hex
//! digits, words camelCase strings, bytes Buffers (moved, not copied), AMF
//! values as in [`crate::amf`], lists Arrays and records plain objects.

use crate::amf::{check, object, set, Amf};
use crate::convert::{hex, num, to_millis};
use napi::bindgen_prelude::{Buffer, Null, ToNapiValue};
use napi::sys;
use rtmfp_core::host::{Description, Value};
use std::borrow::Cow;
use std::ptr;

/// Kinds whose `type` is not their camelCase.
const KINDS: &[(&str, &str)] = &[
    ("status", "netStatus"),
    ("unmatched_ihello", "unmatchedIHello"),
    ("connected", "clientConnected"),
    ("rejected", "clientRejected"),
    ("peer_info", "clientPeerInfo"),
    ("disconnected", "clientDisconnected"),
    ("published", "streamPublished"),
    ("unpublished", "streamUnpublished"),
    ("playing", "streamPlaying"),
    ("ask", "serverAsk"),
    ("ask_ended", "serverAskEnded"),
];

/// Fields (kind, field) with another key, or none (`""`: left out).
const FIELDS: &[(&str, &str, &str)] = &[
    ("media", "payload", "data"),
    ("command", "command_object", ""),
    ("peer_stream_info", "session", ""),
];

/// Kinds whose `stream` is always set (0 when the NetStream has no key).
const STREAM_ALWAYS: &[&str] = &["media", "stream_created"];

/// `snake_case` to `camelCase`.
fn camel(name: &'static str) -> Cow<'static, str> {
    if !name.contains('_') {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn kind_name(kind: &'static str) -> Cow<'static, str> {
    match KINDS.iter().find(|(k, _)| *k == kind) {
        Some((_, name)) => Cow::Borrowed(name),
        None => camel(kind),
    }
}

/// The key of a field, `None` to leave it out.
fn key(kind: &str, field: &'static str) -> Option<Cow<'static, str>> {
    match FIELDS.iter().find(|(k, f, _)| *k == kind && *f == field) {
        Some((_, _, "")) => None,
        Some((_, _, name)) => Some(Cow::Borrowed(name)),
        None => Some(camel(field)),
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
            let name = String::to_napi_value(env, kind_name(d.kind).into_owned())?;
            set(env, out, "type", name)?;
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
            set(env, out, &name, js)?;
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
            Value::Word(w) => String::to_napi_value(env, camel(w).into_owned()),
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
