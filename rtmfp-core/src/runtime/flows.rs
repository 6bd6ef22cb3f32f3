//! The flow half of the public API: [`Handle`] methods that run the
//! endpoint's flow operations on the I/O thread (RFC 7016 §3.6).

use super::{Handle, RuntimeError};
use crate::endpoint::SessionHandle;
use crate::flow::{DeliveryOrder, FlowId, MessageId, MessageOptions, Priority};
use std::net::{SocketAddr, ToSocketAddrs};

/// Default UDP port of `rtmfp:` URIs (RFC 7425 §6.1).
pub const DEFAULT_PORT: u16 = 1935;

/// The host and port of an `rtmfp://host[:port]/...` URI (RFC 7425 §6.1).
/// IPv6 literals go in brackets.
pub fn parse_uri(uri: &str) -> Result<(String, u16), RuntimeError> {
    let bad =
        || RuntimeError::InvalidArgument(format!("not an rtmfp://host[:port]/... URI: {uri:?}"));
    let rest = uri.strip_prefix("rtmfp://").ok_or_else(bad)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        return Err(bad());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => DEFAULT_PORT,
            None => return Err(bad()),
        };
        (host.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_string(), port.parse().map_err(|_| bad())?),
            None => (authority.to_string(), DEFAULT_PORT),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host, port))
}

impl Handle {
    /// Connects to the server named by an `rtmfp://host[:port]/app` URI:
    /// the EPD is the URI as Ancillary Data (RFC 7425 §4.4.2.2, §5.3.1)
    /// and every address the host resolves to is a candidate (§6.1).
    /// Name resolution blocks the calling thread, not the I/O thread.
    pub fn connect_uri(&self, uri: &str) -> Result<SessionHandle, RuntimeError> {
        let (host, port) = parse_uri(uri)?;
        let addresses: Vec<SocketAddr> = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| RuntimeError::InvalidArgument(format!("cannot resolve {host}: {e}")))?
            .collect();
        if addresses.is_empty() {
            return Err(RuntimeError::InvalidArgument(format!(
                "{host} has no address"
            )));
        }
        let epd = crate::crypto::flash::epd::epd_for_uri(uri, None);
        self.connect(epd, &addresses)
    }

    /// Opens a sending flow on an open session (RFC 7016 §3.6.2.1).
    pub fn open_flow(
        &self,
        session: SessionHandle,
        metadata: &[u8],
        priority: Priority,
        association: Option<FlowId>,
    ) -> Result<FlowId, RuntimeError> {
        let metadata = metadata.to_vec();
        Ok(self.call(move |ep, _| ep.open_flow(session, &metadata, priority, association))??)
    }

    /// Queues a message; its receipt arrives as `MessageDelivered` or
    /// `MessageAbandoned`.  Fails with a flow `WouldBlock` error while the
    /// send buffer is full (wait for `FlowWritable`).
    pub fn send(
        &self,
        session: SessionHandle,
        flow: FlowId,
        data: &[u8],
        options: MessageOptions,
    ) -> Result<MessageId, RuntimeError> {
        let data = data.to_vec();
        Ok(self.call(move |ep, now| ep.send(now, session, flow, &data, options))??)
    }

    /// Whether a sending flow accepts a message now.
    pub fn flow_writable(
        &self,
        session: SessionHandle,
        flow: FlowId,
    ) -> Result<bool, RuntimeError> {
        Ok(self.call(move |ep, _| ep.flow_writable(session, flow))??)
    }

    /// Closes a sending flow; `FlowComplete` follows once acknowledged.
    pub fn close_flow(&self, session: SessionHandle, flow: FlowId) -> Result<(), RuntimeError> {
        Ok(self.call(move |ep, now| ep.close_flow(now, session, flow))??)
    }

    /// Abandons a queued message and those chained to it.
    pub fn abandon_message(
        &self,
        session: SessionHandle,
        flow: FlowId,
        message: MessageId,
    ) -> Result<(), RuntimeError> {
        Ok(self.call(move |ep, now| ep.abandon_message(now, session, flow, message))??)
    }

    /// Accepts a receiving flow announced by `FlowOpened`.
    pub fn accept_flow(
        &self,
        session: SessionHandle,
        flow: FlowId,
        order: DeliveryOrder,
    ) -> Result<(), RuntimeError> {
        Ok(self.call(move |ep, now| ep.accept_flow(now, session, flow, order))??)
    }

    /// Rejects a receiving flow with an exception code.
    pub fn reject_flow(
        &self,
        session: SessionHandle,
        flow: FlowId,
        code: u64,
    ) -> Result<(), RuntimeError> {
        Ok(self.call(move |ep, _| ep.reject_flow(session, flow, code))??)
    }

    /// Suspends or resumes delivery on a receiving flow.
    pub fn set_flow_suspended(
        &self,
        session: SessionHandle,
        flow: FlowId,
        suspended: bool,
    ) -> Result<(), RuntimeError> {
        Ok(self.call(move |ep, now| ep.set_flow_suspended(now, session, flow, suspended))??)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_forms() {
        assert_eq!(
            parse_uri("rtmfp://example.com/app").unwrap(),
            ("example.com".into(), 1935)
        );
        assert_eq!(
            parse_uri("rtmfp://127.0.0.1:19350/live#s").unwrap(),
            ("127.0.0.1".into(), 19350)
        );
        assert_eq!(
            parse_uri("rtmfp://[::1]:5000/x").unwrap(),
            ("::1".into(), 5000)
        );
        assert_eq!(parse_uri("rtmfp://[::1]").unwrap(), ("::1".into(), 1935));
        assert_eq!(parse_uri("rtmfp://host").unwrap(), ("host".into(), 1935));
        for bad in [
            "rtmfp:",
            "rtmfp://",
            "http://x/",
            "rtmfp://h:notaport/",
            "rtmfp://[::1/",
            "rtmfp://:1935/",
        ] {
            assert!(parse_uri(bad).is_err(), "{bad}");
        }
    }
}
