//! `rtmfp.check`: the Python face of `rtmfp check`
//! (rtmfp_core::flash::check); the words come from the core.

use crate::convert::{self, duration, AddrList};
use crate::errors;
use pyo3::prelude::*;
use rtmfp_core::flash::check::{check as run_check, CheckOptions, CheckReport as CoreReport};
use rtmfp_core::flash::check_uri;

/// What ``rtmfp.check`` found: whether UDP reaches the server, at what
/// address it sees us, what the NAT does.  ``str()`` is the report as
/// ``rtmfp check`` prints it.
#[pyclass(frozen, module = "rtmfp._rtmfp")]
pub struct CheckReport {
    report: CoreReport,
    uri: String,
}

#[pymethods]
impl CheckReport {
    /// Whether the server answered (a session and connect success).
    #[getter]
    fn reached(&self) -> bool {
        self.report.reached()
    }

    /// Why there is no session with the server (UDP blocked, nothing
    /// listening, a TURN proxy that does not work), else ``None``.
    #[getter]
    fn error(&self) -> Option<String> {
        self.report.connect_error.clone()
    }

    /// The server's address, ``"ip:port"``.
    #[getter]
    fn server(&self) -> Option<String> {
        self.report.server.map(|a| a.to_string())
    }

    /// The session's round-trip time in seconds.
    #[getter]
    fn rtt(&self) -> Option<f64> {
        self.report.rtt.map(|d| d.as_secs_f64())
    }

    /// The address the server sees us at (the relayed one through TURN).
    #[getter]
    fn public_address(&self) -> Option<String> {
        self.report.public_address.map(|a| a.to_string())
    }

    /// The NAT's mapping: ``"endpoint-independent"``,
    /// ``"address-dependent"``, ``"address-and-port-dependent"``,
    /// ``"not-port-dependent"``, or ``None`` when not measured.
    #[getter]
    fn mapping(&self) -> Option<&'static str> {
        self.report.nat.as_ref().map(|n| n.mapping.key())
    }

    /// The NAT's filtering, with the same names as ``mapping``.
    #[getter]
    fn filtering(&self) -> Option<&'static str> {
        self.report.nat.as_ref().map(|n| n.filtering.key())
    }

    /// Whether a datagram the NAT refused left state behind (the router
    /// that breaks hole punching between near peers; docs/nat.md).
    #[getter]
    fn unsolicited_leaves_state(&self) -> Option<bool> {
        self.report
            .nat
            .as_ref()
            .and_then(|n| n.unsolicited_leaves_state)
    }

    /// What the NAT's behaviour means for direct peer-to-peer streams.
    #[getter]
    fn verdict(&self) -> &'static str {
        self.report.verdict()
    }

    /// The findings as ``(key, text)`` pairs: ``server``, ``udp`` (or
    /// ``turn``), ``public``, ``check``, ``mapping``, ``filtering``,
    /// ``unsolicited``, ``verdict``.
    #[getter]
    fn lines(&self) -> Vec<(&'static str, String)> {
        self.report.lines(&self.uri)
    }

    fn __str__(&self) -> String {
        self.report.text(&self.uri)
    }

    fn __repr__(&self) -> String {
        format!(
            "CheckReport(reached={}, public_address={:?}, mapping={:?}, filtering={:?})",
            self.reached(),
            self.public_address(),
            self.mapping(),
            self.filtering()
        )
    }
}

/// Tells in a few seconds whether UDP reaches the RTMFP server at ``uri``
/// (``rtmfp://HOST[:PORT][/APP]``), at what address it sees us, and what
/// this host's NAT does (RFC 5780 mapping and filtering, against the
/// server's check service or the STUN server ``stun``, ``"ip:port"``).
/// With ``turn`` (``"turn://USER:PASS@HOST[:PORT]"``) it goes through that
/// relay, and so tells whether the relay works.  Blocks (the GIL
/// released) for up to ``timeout`` seconds and about three more; never
/// raises for what the network does: see ``reached`` and ``error``.
/// It takes the options a ``NetConnection`` takes, as Node's ``check``
/// does (``help(rtmfp.check)`` lists them, from core's table).
#[pyfunction]
#[pyo3(signature = (
    uri,
    *,
    timeout = 5.0,
    bind = None,
    stun = None,
    turn = None,
    turn_username = None,
    turn_password = None,
    hostname = None,
    dh_groups = None,
    hmac_policy = None,
    sseq_policy = None,
    key_log = None,
    open_timeout = None,
    idle_timeout = None,
    keepalive_interval = None,
    max_datagram_size = None,
    send_buffer = None,
    receive_buffer = None,
    max_flows_per_session = None,
    event_queue_limit = None,
    max_peer_connections = None,
    direct_timeout = None,
))]
#[allow(clippy::too_many_arguments)]
pub fn check(
    py: Python<'_>,
    uri: &str,
    timeout: f64,
    bind: Option<AddrList>,
    stun: Option<String>,
    turn: Option<String>,
    turn_username: Option<String>,
    turn_password: Option<String>,
    hostname: Option<String>,
    dh_groups: Option<Vec<i64>>,
    hmac_policy: Option<String>,
    sseq_policy: Option<String>,
    key_log: Option<std::path::PathBuf>,
    open_timeout: Option<f64>,
    idle_timeout: Option<f64>,
    keepalive_interval: Option<f64>,
    max_datagram_size: Option<i64>,
    send_buffer: Option<i64>,
    receive_buffer: Option<i64>,
    max_flows_per_session: Option<i64>,
    event_queue_limit: Option<i64>,
    max_peer_connections: Option<i64>,
    direct_timeout: Option<f64>,
) -> PyResult<CheckReport> {
    let uri = check_uri(uri).map_err(pyo3::exceptions::PyValueError::new_err)?;
    let keywords = convert::keywords![
        turn,
        turn_username,
        turn_password,
        hostname,
        dh_groups,
        hmac_policy,
        sseq_policy,
        key_log,
        open_timeout,
        idle_timeout,
        keepalive_interval,
        max_datagram_size,
        send_buffer,
        receive_buffer,
        max_flows_per_session,
        event_queue_limit,
        max_peer_connections,
        direct_timeout,
    ];
    let options = convert::options_with_bind(py, bind, keywords)?;
    let config = py
        .detach(|| options.netconnection_config())
        .map_err(|f| errors::failure(py, f))?;
    let stun = stun
        .map(|s| {
            s.parse().map_err(|_| {
                pyo3::exceptions::PyValueError::new_err(format!("stun: bad address {s:?}"))
            })
        })
        .transpose()?;
    let options = CheckOptions {
        config,
        timeout: duration(py, timeout, "timeout")?,
        stun,
    };
    let target = uri.clone();
    let report = py.detach(move || run_check(&target, options));
    Ok(CheckReport { report, uri })
}
