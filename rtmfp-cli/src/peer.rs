//! What `rtmfp publish` and `rtmfp play` share: the stream URI, the
//! client options, connecting a NetConnection and server calls.

use crate::common::{fail, parse_duration, parse_listen, Result, SecurityArgs, TurnArgs};
use crate::options::{self, Flags};
use clap::Args;
use rtmfp_core::flash::client::ClientEvent;
use rtmfp_core::flash::command::code;
use rtmfp_core::flash::uri::RtmfpUri;
use rtmfp_core::flash::{NetConnection, StreamId, Value};
use rtmfp_core::host::options::{OptionValue, Options};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// `rtmfp://host[:port]/app[/KEY]#stream`.
#[derive(Debug, Clone)]
pub struct StreamUri {
    /// The URI as given (the connect's tcUrl drops the fragment).
    pub uri: String,
    /// The URI without the fragment, for messages.
    pub connection: String,
    /// The stream name (the fragment).
    pub stream: String,
}

/// A value parser for [`StreamUri`].
pub fn parse_stream_uri(s: &str) -> std::result::Result<StreamUri, String> {
    if !s.starts_with("rtmfp://") {
        return Err(format!(
            "bad URI {s:?}: want rtmfp://HOST[:PORT]/APP[/KEY]#STREAM"
        ));
    }
    let parsed = RtmfpUri::parse(s).map_err(|e| e.to_string())?;
    if parsed.port == 0 {
        return Err(format!("bad URI {s:?}: port 0"));
    }
    let stream = parsed.fragment.clone().ok_or_else(|| {
        format!("the URI {s:?} names no stream: add #NAME, as in rtmfp://HOST/app/KEY#cam")
    })?;
    Ok(StreamUri {
        uri: s.to_owned(),
        connection: parsed.tc_url,
        stream,
    })
}

/// Client options shared by `publish` and `play`.
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// Local UDP address to bind (port 0: any free port).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen, default_value = "0.0.0.0:0")]
    pub bind: SocketAddr,
    /// How long to wait for the server's answer to connect (and for a
    /// name lookup), in seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_duration, default_value = "20")]
    pub timeout: Duration,
    /// A peer play waits this long for a direct session to the
    /// publisher, then plays through the server relay if the server and
    /// the publisher offer it (docs/relay-fallback.md); 0: wait for the
    /// session's own timeout, no fallback (Flash Player's behaviour).
    #[arg(long, value_name = "SECS", value_parser = parse_duration_or_zero, default_value = "5")]
    pub direct_timeout: Duration,
    #[command(flatten)]
    pub security: SecurityArgs,
    #[command(flatten)]
    pub turn: TurnArgs,
}

/// A duration, or 0 (off).
fn parse_duration_or_zero(s: &str) -> std::result::Result<Duration, String> {
    match s.trim() {
        "0" | "0s" | "0ms" => Ok(Duration::ZERO),
        other => parse_duration(other),
    }
}

impl ClientArgs {
    /// Sets the rows these flags have: `--bind` (`bind`),
    /// `--direct-timeout` (`direct_timeout`), `--turn` (`turn`).
    /// `--timeout` is the CLI's own wait, not a row.
    pub fn set(&self, flags: &mut Flags) -> Result<()> {
        flags.set("bind", "--bind", OptionValue::Addresses(vec![self.bind]))?;
        flags.duration("direct_timeout", "--direct-timeout", self.direct_timeout)?;
        self.turn.set(flags)
    }
}

/// Connects to the server with a NetConnection made by core's builder
/// from `options` (`--no-hmac` / `--no-sseq` on top) and waits for
/// "NetConnection.Connect.Success"; a rejection, a failure or no answer
/// is an error naming the status.
pub fn connect(uri: &StreamUri, args: &ClientArgs, options: &Options) -> Result<NetConnection> {
    let mut config = options.netconnection_config().map_err(options::failure)?;
    config.flash = args.security.apply(config.flash);
    let nc = NetConnection::connect(&uri.uri, config)
        .map_err(|e| fail(format!("cannot connect to {}: {e}", uri.connection)))?;
    crate::common::print_relayed(nc.relayed_addr());
    let deadline = Instant::now() + args.timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if crate::common::stop_requested() {
            nc.close(Duration::from_millis(200));
            return Err(fail("interrupted while connecting"));
        }
        let Some(event) = nc.next_event_timeout(left.min(Duration::from_millis(200))) else {
            if left.is_zero() {
                nc.close(Duration::from_millis(200));
                return Err(fail(format!(
                    "no answer from {} within {:?}",
                    uri.connection, args.timeout
                )));
            }
            continue;
        };
        let ClientEvent::Status { stream: None, info } = event else {
            continue;
        };
        if info.code == code::CONNECT_SUCCESS {
            let far = nc.far_id_hex().ok().flatten().unwrap_or_default();
            println!("status {} (server {far})", info.code);
            return Ok(nc);
        }
        let why = if info.description.is_empty() {
            info.code.clone()
        } else {
            format!("{}: {}", info.code, info.description)
        };
        println!("status {why}");
        nc.close(Duration::from_millis(500));
        return Err(fail(format!("cannot connect to {}: {why}", uri.connection)));
    }
}

/// Calls a server command and waits for its `_result` (its first
/// argument) or `_error` (its description).  Other events that arrive
/// meanwhile are handed to `other`.
pub fn call(
    nc: &NetConnection,
    name: &str,
    args: Vec<Value>,
    timeout: Duration,
    mut other: impl FnMut(ClientEvent),
) -> Result<std::result::Result<Option<Value>, String>> {
    let txn = nc
        .call(name, args)
        .map_err(|e| fail(format!("{name}: {e}")))?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || crate::common::stop_requested() {
            return Err(fail(format!("no answer to {name} within {timeout:?}")));
        }
        match nc.next_event_timeout(left.min(Duration::from_millis(200))) {
            Some(ClientEvent::CallResult {
                transaction_id,
                ok,
                response,
            }) if transaction_id == txn => {
                if ok {
                    return Ok(Ok(response.args.first().cloned()));
                }
                let why = response
                    .status_info()
                    .map(|i| format!("{}: {}", i.code, i.description))
                    .unwrap_or_else(|| "refused".into());
                return Ok(Err(why));
            }
            Some(e) => other(e),
            None => {}
        }
    }
}

/// Whether a status on `stream` ends a play or a publish.
pub fn stream_status(event: &ClientEvent, stream: StreamId) -> Option<(&str, &str, bool)> {
    match event {
        ClientEvent::Status {
            stream: Some(s),
            info,
        } if *s == stream => Some((&info.code, &info.description, info.is_error())),
        _ => None,
    }
}
