//! The options objects of `new NativeEndpoint`, `NativeNetConnection`,
//! `NativeServer` and `check`, read against core's table
//! (`rtmfp_core::host::options`): every row the object takes is looked up
//! under its camelCase key, its JS value converted to an `OptionValue`,
//! and core checks it, naming it `options.KEY`.  A new option in core is
//! a new option here, with no line in this crate.

use crate::amf;
use crate::errors::{self, Result};
use napi::bindgen_prelude::{Object, Unknown, ValueType};
use napi::{Env, JsValue};
use rtmfp_core::flash::amf::Value;
use rtmfp_core::host::options::{
    self, camel_case, rows_of, type_error, Kind, OptionValue, Options,
};

/// Rows Node expresses in its own way, never read from an options object:
/// a NetConnection asks about subscribers per NetStream (`onPeerConnect`,
/// core's per-stream asks), not for the whole client.
const NOT_OPTIONS: &[&str] = &["peer_connect_mode"];

/// How Node names option `name` in errors: `options.openTimeout`.
fn spell(name: &str) -> String {
    format!("options.{}", camel_case(name))
}

/// The options `object` takes, read from the JS object `js`.
pub fn read(env: &Env, js: &Object<'_>, object: options::Object) -> Result<Options> {
    let mut options = Options::spelled(spell);
    for row in rows_of(object).filter(|r| !NOT_OPTIONS.contains(&r.name)) {
        let key = camel_case(row.name);
        let Some(value) = js.get::<Unknown>(&key).map_err(errors::internal)? else {
            continue;
        };
        if value.get_type().map_err(errors::internal)? == ValueType::Undefined {
            continue;
        }
        let shown = spell(row.name);
        let value = option_value(env, &value, row.kind, &shown)?;
        options
            .set_as(row.name, &shown, value)
            .map_err(|e| errors::failed(e.failure()))?;
    }
    Ok(options)
}

/// A JS value as the `OptionValue` a row of `kind` takes (what it means
/// is core's to check).
fn option_value(env: &Env, value: &Unknown<'_>, kind: Kind, shown: &str) -> Result<OptionValue> {
    let refuse = |what: &str| errors::failed(type_error(kind, shown, what).failure());
    let js = amf::from_js(env.raw(), value.raw(), shown, 0).map_err(|_| refuse("a function"))?;
    one(js, kind).map_err(|js| refuse(&describe(&js)))
}

/// One value, or a list of them, for a row of `kind`; the value back if
/// it has no such form.
fn one(js: Value, kind: Kind) -> std::result::Result<OptionValue, Value> {
    Ok(match js {
        Value::Null => OptionValue::None,
        Value::Boolean(b) => OptionValue::Bool(b),
        Value::String(s) => OptionValue::Text(s),
        Value::Number(ms) if matches!(kind, Kind::Duration { .. } | Kind::Keepalive) => {
            OptionValue::Millis(ms)
        }
        // A count is a non-negative safe integer, as everywhere in Node.
        Value::Number(n)
            if matches!(kind, Kind::Count { .. } | Kind::Groups)
                && n.fract() == 0.0
                && (0.0..=9_007_199_254_740_991.0).contains(&n) =>
        {
            OptionValue::Int(n as i128)
        }
        Value::StrictArray(items) => OptionValue::List(
            items
                .into_iter()
                .map(|item| one(item, kind))
                .collect::<std::result::Result<_, _>>()?,
        ),
        other => return Err(other),
    })
}

/// A JS value in words, as validate.js's `describe` says it.
fn describe(js: &Value) -> String {
    match js {
        Value::Number(n) => format!("number {n}"),
        Value::Boolean(b) => format!("boolean {b}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::StrictArray(_) => "an array".to_owned(),
        Value::Null => "null".to_owned(),
        _ => "an object".to_owned(),
    }
}
