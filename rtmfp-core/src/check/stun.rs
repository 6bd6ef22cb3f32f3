//! The few STUN messages the check needs (RFC 8489; RFC 5780
//! attributes): Binding requests with CHANGE-REQUEST, Binding responses
//! with XOR-MAPPED-ADDRESS, RESPONSE-ORIGIN and OTHER-ADDRESS, and error
//! responses, on top of the shared codec ([`crate::stun`]).  No
//! authentication: a Binding needs none.

use crate::stun::{self as codec, attr, method, Builder, Class};
use std::net::SocketAddr;

pub use crate::stun::MAGIC_COOKIE;

const CHANGE_IP: u32 = 0x04;
const CHANGE_PORT: u32 = 0x02;

/// A transaction ID.
pub type TransactionId = [u8; 12];

/// A Binding request, with the RFC 5780 CHANGE-REQUEST flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingRequest {
    /// Its transaction ID.
    pub transaction_id: TransactionId,
    /// Answer from the other IP address.
    pub change_ip: bool,
    /// Answer from the other port.
    pub change_port: bool,
}

/// What a Binding response says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingResponse {
    /// The request's transaction ID.
    pub transaction_id: TransactionId,
    /// XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS): where the request came from.
    pub mapped: SocketAddr,
    /// RESPONSE-ORIGIN: where the response was sent from.
    pub origin: Option<SocketAddr>,
    /// OTHER-ADDRESS: the server's alternate address (RFC 5780 §7.4).
    pub other: Option<SocketAddr>,
}

/// A parsed STUN message of the kinds above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A Binding request.
    Request(BindingRequest),
    /// A Binding success response.
    Response(BindingResponse),
    /// A Binding error response: its transaction ID and error code.
    Error(TransactionId, u16),
}

impl BindingRequest {
    /// The request on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Builder::new(method::BINDING, Class::Request, self.transaction_id);
        if self.change_ip || self.change_port {
            let flags = if self.change_ip { CHANGE_IP } else { 0 }
                | if self.change_port { CHANGE_PORT } else { 0 };
            b = b.attribute(attr::CHANGE_REQUEST, &flags.to_be_bytes());
        }
        b.finish()
    }
}

impl BindingResponse {
    /// The response on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Builder::new(method::BINDING, Class::Success, self.transaction_id)
            .xor_address(attr::XOR_MAPPED_ADDRESS, self.mapped);
        if let Some(origin) = self.origin {
            b = b.address(attr::RESPONSE_ORIGIN, origin);
        }
        if let Some(other) = self.other {
            b = b.address(attr::OTHER_ADDRESS, other);
        }
        b.finish()
    }
}

/// An error response with `code` (e.g. 420) and a reason phrase.
pub fn encode_error(id: &TransactionId, code: u16, reason: &str) -> Vec<u8> {
    let mut v = vec![0, 0, (code / 100) as u8, (code % 100) as u8];
    v.extend_from_slice(reason.as_bytes());
    Builder::new(method::BINDING, Class::Error, *id)
        .attribute(attr::ERROR_CODE, &v)
        .finish()
}

/// Whether `data` looks like a STUN message (RFC 8489 §5: two zero bits,
/// the magic cookie, a length that fits).
pub fn is_stun(data: &[u8]) -> bool {
    codec::looks_like_stun(data)
        && usize::from(u16::from_be_bytes([data[2], data[3]])) + codec::HEADER_LEN <= data.len()
}

/// Parses a Binding request, success or error response; anything else
/// (other methods, malformed messages, a FINGERPRINT that does not match)
/// is `None`.  A MESSAGE-INTEGRITY is not checked: the check uses none.
pub fn parse(data: &[u8]) -> Option<Message> {
    let m = codec::Message::parse(data).ok()?;
    if m.method != method::BINDING {
        return None;
    }
    let id = m.transaction;
    match m.class {
        Class::Request => {
            let change = m
                .get(attr::CHANGE_REQUEST)
                .and_then(|v| <[u8; 4]>::try_from(v).ok())
                .map_or(0, u32::from_be_bytes);
            Some(Message::Request(BindingRequest {
                transaction_id: id,
                change_ip: change & CHANGE_IP != 0,
                change_port: change & CHANGE_PORT != 0,
            }))
        }
        Class::Success => Some(Message::Response(BindingResponse {
            transaction_id: id,
            mapped: m
                .xor_address(attr::XOR_MAPPED_ADDRESS)
                .or_else(|| m.address(attr::MAPPED_ADDRESS))?,
            origin: m.address(attr::RESPONSE_ORIGIN),
            other: m.address(attr::OTHER_ADDRESS),
        })),
        Class::Error => Some(Message::Error(id, m.error_code().map_or(0, |(c, _)| c))),
        Class::Indication => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5769 §2.2, the sample IPv4 response, whole (its
    /// MESSAGE-INTEGRITY and FINGERPRINT are skipped, not checked).
    #[test]
    fn decodes_the_rfc_5769_ipv4_response() {
        let msg: [u8; 80] = [
            0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
            0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74,
            0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01,
            0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99,
            0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b,
            0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
        ];
        let Some(Message::Response(r)) = parse(&msg) else {
            panic!("not a response");
        };
        assert_eq!(r.transaction_id, msg[8..20]);
        assert_eq!(r.mapped, "192.0.2.1:32853".parse().unwrap());
        assert_eq!((r.origin, r.other), (None, None));
    }

    #[test]
    fn requests_and_responses_round_trip() {
        let id = [7u8; 12];
        for (ip, port) in [(false, false), (true, false), (false, true), (true, true)] {
            let req = BindingRequest {
                transaction_id: id,
                change_ip: ip,
                change_port: port,
            };
            assert_eq!(parse(&req.encode()), Some(Message::Request(req)));
        }
        for mapped in ["198.51.100.7:40000", "[2001:db8::1]:3478"] {
            let resp = BindingResponse {
                transaction_id: id,
                mapped: mapped.parse().unwrap(),
                origin: Some("203.0.113.10:1936".parse().unwrap()),
                other: Some("203.0.113.11:1937".parse().unwrap()),
            };
            assert_eq!(parse(&resp.encode()), Some(Message::Response(resp)));
        }
        let err = encode_error(&id, 420, "no alternate address");
        assert_eq!(parse(&err), Some(Message::Error(id, 420)));
    }

    #[test]
    fn rtmfp_and_garbage_are_not_stun() {
        assert_eq!(parse(&[0u8; 19]), None);
        assert_eq!(parse(&[0x80; 64]), None);
        let mut truncated = BindingRequest {
            transaction_id: [1; 12],
            change_ip: true,
            change_port: false,
        }
        .encode();
        truncated.pop();
        assert_eq!(parse(&truncated), None);
    }
}
