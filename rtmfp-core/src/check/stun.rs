//! The few STUN messages the check needs (RFC 8489, formerly RFC 5389;
//! RFC 5780 attributes): Binding requests with CHANGE-REQUEST, Binding
//! responses with XOR-MAPPED-ADDRESS, RESPONSE-ORIGIN and OTHER-ADDRESS,
//! and error responses.  No authentication: a Binding needs none.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The magic cookie (RFC 8489 §5).
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// Binding request.
pub const BINDING_REQUEST: u16 = 0x0001;
/// Binding success response.
pub const BINDING_RESPONSE: u16 = 0x0101;
/// Binding error response.
pub const BINDING_ERROR: u16 = 0x0111;

const MAPPED_ADDRESS: u16 = 0x0001;
const CHANGE_REQUEST: u16 = 0x0003;
const ERROR_CODE: u16 = 0x0009;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;
const RESPONSE_ORIGIN: u16 = 0x802b;
const OTHER_ADDRESS: u16 = 0x802c;

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

fn header(out: &mut Vec<u8>, kind: u16, id: &TransactionId) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    out.extend_from_slice(id);
}

fn attribute(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn finish(mut out: Vec<u8>) -> Vec<u8> {
    let len = (out.len() - 20) as u16;
    out[2..4].copy_from_slice(&len.to_be_bytes());
    out
}

fn address_value(addr: SocketAddr, xor: Option<&TransactionId>) -> Vec<u8> {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let mut v = vec![0u8];
    let port = match xor {
        Some(_) => addr.port() ^ (MAGIC_COOKIE >> 16) as u16,
        None => addr.port(),
    };
    match addr.ip() {
        IpAddr::V4(ip) => {
            v.push(0x01);
            v.extend_from_slice(&port.to_be_bytes());
            let mut o = ip.octets();
            if xor.is_some() {
                o.iter_mut().zip(cookie).for_each(|(b, c)| *b ^= c);
            }
            v.extend_from_slice(&o);
        }
        IpAddr::V6(ip) => {
            v.push(0x02);
            v.extend_from_slice(&port.to_be_bytes());
            let mut o = ip.octets();
            if let Some(id) = xor {
                let key: Vec<u8> = cookie.iter().chain(id.iter()).copied().collect();
                o.iter_mut().zip(key).for_each(|(b, k)| *b ^= k);
            }
            v.extend_from_slice(&o);
        }
    }
    v
}

fn parse_address(v: &[u8], xor: Option<&TransactionId>) -> Option<SocketAddr> {
    if v.len() < 4 {
        return None;
    }
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let mut port = u16::from_be_bytes([v[2], v[3]]);
    if xor.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let ip = match (v[1], v.len()) {
        (0x01, 8) => {
            let mut o = [v[4], v[5], v[6], v[7]];
            if xor.is_some() {
                o.iter_mut().zip(cookie).for_each(|(b, c)| *b ^= c);
            }
            IpAddr::V4(Ipv4Addr::from(o))
        }
        (0x02, 20) => {
            let mut o: [u8; 16] = v[4..20].try_into().ok()?;
            if let Some(id) = xor {
                let key: Vec<u8> = cookie.iter().chain(id.iter()).copied().collect();
                o.iter_mut().zip(key).for_each(|(b, k)| *b ^= k);
            }
            IpAddr::V6(Ipv6Addr::from(o))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

impl BindingRequest {
    /// The request on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(28);
        header(&mut out, BINDING_REQUEST, &self.transaction_id);
        if self.change_ip || self.change_port {
            let flags = if self.change_ip { CHANGE_IP } else { 0 }
                | if self.change_port { CHANGE_PORT } else { 0 };
            attribute(&mut out, CHANGE_REQUEST, &flags.to_be_bytes());
        }
        finish(out)
    }
}

impl BindingResponse {
    /// The response on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let id = &self.transaction_id;
        let mut out = Vec::with_capacity(64);
        header(&mut out, BINDING_RESPONSE, id);
        attribute(
            &mut out,
            XOR_MAPPED_ADDRESS,
            &address_value(self.mapped, Some(id)),
        );
        if let Some(origin) = self.origin {
            attribute(&mut out, RESPONSE_ORIGIN, &address_value(origin, None));
        }
        if let Some(other) = self.other {
            attribute(&mut out, OTHER_ADDRESS, &address_value(other, None));
        }
        finish(out)
    }
}

/// An error response with `code` (e.g. 420) and a reason phrase.
pub fn encode_error(id: &TransactionId, code: u16, reason: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    header(&mut out, BINDING_ERROR, id);
    let mut v = vec![0, 0, (code / 100) as u8, (code % 100) as u8];
    v.extend_from_slice(reason.as_bytes());
    attribute(&mut out, ERROR_CODE, &v);
    finish(out)
}

/// Whether `data` looks like a STUN message (RFC 8489 §5: two zero bits,
/// the magic cookie, a length that fits).
pub fn is_stun(data: &[u8]) -> bool {
    data.len() >= 20
        && data[0] & 0xC0 == 0
        && data[4..8] == MAGIC_COOKIE.to_be_bytes()
        && usize::from(u16::from_be_bytes([data[2], data[3]])) + 20 <= data.len()
}

/// Parses a Binding request, success or error response; anything else
/// (other methods, malformed messages) is `None`.  Unknown attributes are
/// skipped (a Binding response's MESSAGE-INTEGRITY or FINGERPRINT is not
/// checked: the check uses none).
pub fn parse(data: &[u8]) -> Option<Message> {
    if !is_stun(data) {
        return None;
    }
    let kind = u16::from_be_bytes([data[0], data[1]]);
    let len = usize::from(u16::from_be_bytes([data[2], data[3]]));
    let id: TransactionId = data[8..20].try_into().ok()?;
    let mut attrs = &data[20..20 + len];
    let (mut mapped, mut xor_mapped, mut origin, mut other) = (None, None, None, None);
    let (mut change, mut error) = (0u32, None);
    while attrs.len() >= 4 {
        let t = u16::from_be_bytes([attrs[0], attrs[1]]);
        let l = usize::from(u16::from_be_bytes([attrs[2], attrs[3]]));
        let padded = (l + 3) & !3;
        if attrs.len() < 4 + l {
            return None;
        }
        let v = &attrs[4..4 + l];
        match t {
            MAPPED_ADDRESS => mapped = parse_address(v, None),
            XOR_MAPPED_ADDRESS => xor_mapped = parse_address(v, Some(&id)),
            RESPONSE_ORIGIN => origin = parse_address(v, None),
            OTHER_ADDRESS => other = parse_address(v, None),
            CHANGE_REQUEST if l == 4 => change = u32::from_be_bytes(v.try_into().ok()?),
            ERROR_CODE if l >= 4 => error = Some(u16::from(v[2] & 7) * 100 + u16::from(v[3])),
            _ => {}
        }
        attrs = &attrs[(4 + padded).min(attrs.len())..];
    }
    match kind {
        BINDING_REQUEST => Some(Message::Request(BindingRequest {
            transaction_id: id,
            change_ip: change & CHANGE_IP != 0,
            change_port: change & CHANGE_PORT != 0,
        })),
        BINDING_RESPONSE => Some(Message::Response(BindingResponse {
            transaction_id: id,
            mapped: xor_mapped.or(mapped)?,
            origin,
            other,
        })),
        BINDING_ERROR => Some(Message::Error(id, error.unwrap_or(0))),
        _ => None,
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
