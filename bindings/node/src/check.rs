//! `rtmfp.check()`: the Node face of `rtmfp check`
//! (rtmfp_core::flash::check), run on a libuv worker; the words come
//! from the core.

// Reached from JS only: napi's glue, which test builds leave out.
#![cfg_attr(test, allow(dead_code))]

use crate::convert;
use crate::errors::{self, Code};
use napi::bindgen_prelude::{AsyncTask, Object};
use napi::{Env, Task};
use napi_derive::napi;
use rtmfp_core::flash::check::{check as run_check, CheckOptions, CheckReport};
use rtmfp_core::flash::check_uri;

/// What `check` found, as a plain object.  Its field docs are those of
/// `CheckReport` in lib/index.d.ts (`scripts/event_stubs.py` writes them
/// there, with `undefined` as `null`, as lib/check.js hands them on).
#[napi(object)]
pub struct NativeCheckReport {
    /// Whether the server answered.
    pub reached: bool,
    /// Why there is no session with the server, else null.
    pub error: Option<String>,
    /// The server's address, "ip:port".
    pub server: Option<String>,
    /// The session's round-trip time, ms.
    pub rtt: Option<f64>,
    /// The address the server sees us at (the relayed one through TURN).
    pub public_address: Option<String>,
    /// "endpoint-independent", "address-dependent",
    /// "address-and-port-dependent", "not-port-dependent", "unknown"; null
    /// when not measured.
    pub mapping: Option<String>,
    /// The NAT's filtering, with the same names.
    pub filtering: Option<String>,
    /// Whether a datagram the NAT refused left state behind (docs/nat.md).
    pub unsolicited_leaves_state: Option<bool>,
    /// What the NAT's behaviour means for direct peer-to-peer streams.
    pub verdict: String,
    /// [key, text] per finding: server, udp (or turn), public, check,
    /// mapping, filtering, unsolicited, verdict.
    pub lines: Vec<Vec<String>>,
    /// The report as `rtmfp check` prints it.
    pub text: String,
}

pub struct CheckTask {
    uri: String,
    options: Option<CheckOptions>,
}

impl Task for CheckTask {
    type Output = CheckReport;
    type JsValue = NativeCheckReport;

    fn compute(&mut self) -> napi::Result<CheckReport> {
        let options = self.options.take().unwrap_or_default();
        Ok(run_check(&self.uri, options))
    }

    fn resolve(&mut self, _: Env, r: CheckReport) -> napi::Result<NativeCheckReport> {
        let nat = r.nat.as_ref();
        Ok(NativeCheckReport {
            reached: r.reached(),
            error: r.connect_error.clone(),
            server: r.server.map(|a| a.to_string()),
            rtt: r.rtt.map(convert::to_millis),
            public_address: r.public_address.map(|a| a.to_string()),
            mapping: nat.map(|n| n.mapping.key().to_owned()),
            filtering: nat.map(|n| n.filtering.key().to_owned()),
            unsolicited_leaves_state: nat.and_then(|n| n.unsolicited_leaves_state),
            verdict: r.verdict().to_owned(),
            lines: r
                .lines(&self.uri)
                .into_iter()
                .map(|(k, v)| vec![k.to_owned(), v])
                .collect(),
            text: r.text(&self.uri),
        })
    }
}

/// Starts a check of the server at `uri` with a NetConnection of these
/// options (core's table: `bind`, `turn`, ...), plus `timeout` (ms,
/// defaulted by the JS wrapper) and `stun`; resolves to its report.
#[napi]
pub fn check(env: Env, uri: String, options: Object<'_>) -> errors::Result<AsyncTask<CheckTask>> {
    let uri = check_uri(&uri).map_err(|e| errors::err(Code::InvalidArgument, e))?;
    let config = crate::options::read(
        &env,
        &options,
        rtmfp_core::host::options::Object::NetConnection,
    )?
    .netconnection_config()
    .map_err(errors::failed)?;
    let timeout: f64 = options
        .get("timeout")
        .map_err(errors::internal)?
        .unwrap_or(5000.0);
    let stun: Option<String> = options.get("stun").map_err(errors::internal)?;
    let stun = stun
        .map(|s| {
            s.parse().map_err(|_| {
                errors::err(
                    Code::InvalidArgument,
                    format!("options.stun: bad address {s:?}"),
                )
            })
        })
        .transpose()?;
    Ok(AsyncTask::new(CheckTask {
        uri,
        options: Some(CheckOptions {
            config,
            timeout: convert::millis(timeout, "options.timeout")?,
            stun,
        }),
    }))
}
