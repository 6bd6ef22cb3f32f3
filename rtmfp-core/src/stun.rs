//! The STUN message codec (RFC 8489 §5, §14-§15), with the TURN methods
//! and attributes (RFC 8656 §17-§18) that the relay client needs and the
//! RFC 5780 ones that `rtmfp check` needs.
//!
//! Pure and allocation-light: [`Message::parse`] validates the header and
//! the attribute layout of a datagram and then hands out attributes by
//! type; [`Builder`] writes a message, with MESSAGE-INTEGRITY and
//! FINGERPRINT computed over what precedes them.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// RFC 8489 §5: the fixed magic cookie.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// RFC 8489 §14.7: FINGERPRINT is the CRC-32 XORed with this.
const FINGERPRINT_XOR: u32 = 0x5354_554E;
/// The STUN header: type, length, cookie, transaction ID.
pub const HEADER_LEN: usize = 20;
/// An HMAC-SHA1 MESSAGE-INTEGRITY value.
const INTEGRITY_LEN: usize = 20;

/// Methods (RFC 8489 §18.2, RFC 8656 §17).
pub mod method {
    /// Binding.
    pub const BINDING: u16 = 0x001;
    /// Allocate.
    pub const ALLOCATE: u16 = 0x003;
    /// Refresh.
    pub const REFRESH: u16 = 0x004;
    /// Send (indication).
    pub const SEND: u16 = 0x006;
    /// Data (indication).
    pub const DATA: u16 = 0x007;
    /// CreatePermission.
    pub const CREATE_PERMISSION: u16 = 0x008;
    /// ChannelBind.
    pub const CHANNEL_BIND: u16 = 0x009;
}

/// Attribute types (RFC 8489 §18.3, RFC 8656 §18).
pub mod attr {
    /// MAPPED-ADDRESS.
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    /// CHANGE-REQUEST (RFC 5780 §7.2).
    pub const CHANGE_REQUEST: u16 = 0x0003;
    /// USERNAME.
    pub const USERNAME: u16 = 0x0006;
    /// MESSAGE-INTEGRITY.
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    /// ERROR-CODE.
    pub const ERROR_CODE: u16 = 0x0009;
    /// CHANNEL-NUMBER.
    pub const CHANNEL_NUMBER: u16 = 0x000C;
    /// LIFETIME.
    pub const LIFETIME: u16 = 0x000D;
    /// XOR-PEER-ADDRESS.
    pub const XOR_PEER_ADDRESS: u16 = 0x0012;
    /// DATA.
    pub const DATA: u16 = 0x0013;
    /// REALM.
    pub const REALM: u16 = 0x0014;
    /// NONCE.
    pub const NONCE: u16 = 0x0015;
    /// XOR-RELAYED-ADDRESS.
    pub const XOR_RELAYED_ADDRESS: u16 = 0x0016;
    /// REQUESTED-TRANSPORT.
    pub const REQUESTED_TRANSPORT: u16 = 0x0019;
    /// XOR-MAPPED-ADDRESS.
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    /// SOFTWARE.
    pub const SOFTWARE: u16 = 0x8022;
    /// FINGERPRINT.
    pub const FINGERPRINT: u16 = 0x8028;
    /// RESPONSE-ORIGIN (RFC 5780 §7.3).
    pub const RESPONSE_ORIGIN: u16 = 0x802B;
    /// OTHER-ADDRESS (RFC 5780 §7.4).
    pub const OTHER_ADDRESS: u16 = 0x802C;
}

/// The class of a message (RFC 8489 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A request.
    Request,
    /// An indication.
    Indication,
    /// A success response.
    Success,
    /// An error response.
    Error,
}

impl Class {
    fn bits(self) -> u16 {
        match self {
            Class::Request => 0x000,
            Class::Indication => 0x010,
            Class::Success => 0x100,
            Class::Error => 0x110,
        }
    }
}

/// RFC 8489 §5: the 14-bit message type interleaves the method's bits
/// with the two class bits (C1 at bit 8, C0 at bit 4).
pub fn message_type(method: u16, class: Class) -> u16 {
    let m = method & 0x0FFF;
    ((m & 0x0F80) << 2) | ((m & 0x0070) << 1) | (m & 0x000F) | class.bits()
}

fn split_type(t: u16) -> (u16, Class) {
    let method = ((t & 0x3E00) >> 2) | ((t & 0x00E0) >> 1) | (t & 0x000F);
    let class = match t & 0x0110 {
        0x000 => Class::Request,
        0x010 => Class::Indication,
        0x100 => Class::Success,
        _ => Class::Error,
    };
    (method, class)
}

/// Why a datagram is not a well-formed STUN message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Shorter than its header or than its declared length, or an
    /// attribute runs past the end.
    Truncated,
    /// The top two bits are not zero, or the length is not a multiple of
    /// four, or the cookie is wrong.
    NotStun,
    /// A FINGERPRINT is present and does not match.
    BadFingerprint,
}

/// A parsed STUN message borrowing its datagram.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    bytes: &'a [u8],
    /// The method, such as [`method::ALLOCATE`].
    pub method: u16,
    /// The class.
    pub class: Class,
    /// The 96-bit transaction ID.
    pub transaction: [u8; 12],
}

/// Whether a datagram can be a STUN message (the first two bits are zero
/// and the magic cookie is in place), as opposed to ChannelData (RFC 8656
/// §12.4 demultiplexes on the first byte).
pub fn looks_like_stun(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER_LEN
        && bytes[0] & 0xC0 == 0
        && u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) == MAGIC_COOKIE
}

impl<'a> Message<'a> {
    /// Parses and checks the layout of a STUN message: the header, each
    /// attribute's length within the message, and the FINGERPRINT if
    /// there is one.  Trailing bytes after the declared length are
    /// ignored (a datagram holds one message).
    pub fn parse(bytes: &'a [u8]) -> Result<Message<'a>, ParseError> {
        if bytes.len() < HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        if !looks_like_stun(bytes) {
            return Err(ParseError::NotStun);
        }
        let len = u16::from_be_bytes([bytes[2], bytes[3]]) as usize;
        if !len.is_multiple_of(4) {
            return Err(ParseError::NotStun);
        }
        if bytes.len() < HEADER_LEN + len {
            return Err(ParseError::Truncated);
        }
        let bytes = &bytes[..HEADER_LEN + len];
        let (method, class) = split_type(u16::from_be_bytes([bytes[0], bytes[1]]));
        let mut transaction = [0u8; 12];
        transaction.copy_from_slice(&bytes[8..20]);
        let message = Message {
            bytes,
            method,
            class,
            transaction,
        };
        // Walk every attribute once so that later look-ups cannot run
        // past the end.
        let mut at = HEADER_LEN;
        while at < bytes.len() {
            if at + 4 > bytes.len() {
                return Err(ParseError::Truncated);
            }
            let t = u16::from_be_bytes([bytes[at], bytes[at + 1]]);
            let l = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
            let end = at + 4 + l;
            if end > bytes.len() {
                return Err(ParseError::Truncated);
            }
            if t == attr::FINGERPRINT {
                // RFC 8489 §14.7: the last attribute, a CRC-32 over
                // everything before it (with the length covering it).
                if l != 4 || end != bytes.len() {
                    return Err(ParseError::BadFingerprint);
                }
                let want = u32::from_be_bytes([
                    bytes[at + 4],
                    bytes[at + 5],
                    bytes[at + 6],
                    bytes[at + 7],
                ]);
                if crc32fast::hash(&bytes[..at]) ^ FINGERPRINT_XOR != want {
                    return Err(ParseError::BadFingerprint);
                }
            }
            at = end + padding(l);
        }
        Ok(message)
    }

    /// The whole message.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Attributes in order: `(type, value, offset of the attribute's
    /// header)`.
    fn attributes(&self) -> impl Iterator<Item = (u16, &'a [u8], usize)> + 'a {
        let bytes = self.bytes;
        let mut at = HEADER_LEN;
        std::iter::from_fn(move || {
            if at + 4 > bytes.len() {
                return None;
            }
            let t = u16::from_be_bytes([bytes[at], bytes[at + 1]]);
            let l = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
            let start = at;
            let value = bytes.get(at + 4..at + 4 + l)?;
            at += 4 + l + padding(l);
            Some((t, value, start))
        })
    }

    /// The first attribute of a type.  RFC 8489 §14: only the first of
    /// duplicates counts; attributes after MESSAGE-INTEGRITY (other than
    /// FINGERPRINT) are ignored.
    pub fn get(&self, wanted: u16) -> Option<&'a [u8]> {
        for (t, value, _) in self.attributes() {
            if t == wanted {
                return Some(value);
            }
            if t == attr::MESSAGE_INTEGRITY {
                return None;
            }
        }
        None
    }

    /// An XOR-*-ADDRESS attribute (RFC 8489 §14.2).
    pub fn xor_address(&self, wanted: u16) -> Option<SocketAddr> {
        decode_xor_address(self.get(wanted)?, &self.transaction)
    }

    /// A plain address attribute (MAPPED-ADDRESS's format, RFC 8489
    /// §14.1: RFC 5780's RESPONSE-ORIGIN and OTHER-ADDRESS use it).
    pub fn address(&self, wanted: u16) -> Option<SocketAddr> {
        decode_address(self.get(wanted)?)
    }

    /// ERROR-CODE (RFC 8489 §14.8): the code (300-699) and the reason.
    pub fn error_code(&self) -> Option<(u16, String)> {
        let v = self.get(attr::ERROR_CODE)?;
        if v.len() < 4 {
            return None;
        }
        let code = u16::from(v[2] & 0x07) * 100 + u16::from(v[3]);
        Some((code, String::from_utf8_lossy(&v[4..]).into_owned()))
    }

    /// LIFETIME in seconds (RFC 8656 §18.2).
    pub fn lifetime(&self) -> Option<u32> {
        let v = self.get(attr::LIFETIME)?;
        Some(u32::from_be_bytes(v.try_into().ok()?))
    }

    /// Checks MESSAGE-INTEGRITY (RFC 8489 §14.5) with `key`: the HMAC-SHA1
    /// over the message up to the attribute, with the header's length
    /// rewritten to end just after it.  `false` when absent.
    pub fn check_integrity(&self, key: &[u8]) -> bool {
        let Some((_, value, at)) = self
            .attributes()
            .find(|(t, _, _)| *t == attr::MESSAGE_INTEGRITY)
        else {
            return false;
        };
        if value.len() != INTEGRITY_LEN {
            return false;
        }
        let covered_len = (at + 4 + INTEGRITY_LEN - HEADER_LEN) as u16;
        let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC takes any key");
        mac.update(&self.bytes[..2]);
        mac.update(&covered_len.to_be_bytes());
        mac.update(&self.bytes[4..at]);
        mac.verify_slice(value).is_ok()
    }
}

/// Decodes a plain (not XORed) address value.
pub fn decode_address(v: &[u8]) -> Option<SocketAddr> {
    decode_xor_address_with(v, None)
}

fn padding(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// Decodes an XOR-*-ADDRESS value.
pub fn decode_xor_address(v: &[u8], transaction: &[u8; 12]) -> Option<SocketAddr> {
    decode_xor_address_with(v, Some(transaction))
}

/// The XOR key of an address attribute: the cookie and the transaction
/// ID, or zeros for a plain address.
fn address_key(transaction: Option<&[u8; 12]>) -> [u8; 16] {
    let mut key = [0u8; 16];
    if let Some(t) = transaction {
        key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        key[4..].copy_from_slice(t);
    }
    key
}

fn decode_xor_address_with(v: &[u8], transaction: Option<&[u8; 12]>) -> Option<SocketAddr> {
    if v.len() < 4 {
        return None;
    }
    let key = address_key(transaction);
    let port = u16::from_be_bytes([v[2], v[3]]) ^ u16::from_be_bytes([key[0], key[1]]);
    match (v[1], v.len()) {
        (0x01, 8) => {
            let mut a = [0u8; 4];
            for i in 0..4 {
                a[i] = v[4 + i] ^ key[i];
            }
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), port))
        }
        (0x02, 20) => {
            let mut a = [0u8; 16];
            for i in 0..16 {
                a[i] = v[4 + i] ^ key[i];
            }
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a)), port))
        }
        _ => None,
    }
}

/// The long-term credential key (RFC 8489 §9.2.2):
/// MD5(username ":" realm ":" password).  The strings are used as given
/// (no SASLprep/OpaqueString processing; ASCII credentials need none).
pub fn long_term_key(username: &str, realm: &str, password: &str) -> [u8; 16] {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    h.update(username.as_bytes());
    h.update(b":");
    h.update(realm.as_bytes());
    h.update(b":");
    h.update(password.as_bytes());
    h.finalize().into()
}

/// Writes one STUN message.
#[derive(Debug)]
pub struct Builder {
    buf: Vec<u8>,
    transaction: [u8; 12],
}

impl Builder {
    /// A message of `method` and `class` with this transaction ID.
    pub fn new(method: u16, class: Class, transaction: [u8; 12]) -> Builder {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&message_type(method, class).to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        buf.extend_from_slice(&transaction);
        Builder { buf, transaction }
    }

    fn set_len(&mut self) {
        let len = (self.buf.len() - HEADER_LEN) as u16;
        self.buf[2..4].copy_from_slice(&len.to_be_bytes());
    }

    /// Adds an attribute (zero-padded to four bytes).
    pub fn attribute(mut self, t: u16, value: &[u8]) -> Builder {
        self.buf.extend_from_slice(&t.to_be_bytes());
        self.buf
            .extend_from_slice(&(value.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(value);
        self.buf
            .extend(std::iter::repeat_n(0, padding(value.len())));
        self
    }

    /// Adds an XOR-*-ADDRESS attribute.
    pub fn xor_address(self, t: u16, addr: SocketAddr) -> Builder {
        let transaction = self.transaction;
        self.address_with(t, addr, Some(&transaction))
    }

    /// Adds a plain address attribute (MAPPED-ADDRESS's format).
    pub fn address(self, t: u16, addr: SocketAddr) -> Builder {
        self.address_with(t, addr, None)
    }

    fn address_with(self, t: u16, addr: SocketAddr, transaction: Option<&[u8; 12]>) -> Builder {
        let key = address_key(transaction);
        let port = addr.port() ^ u16::from_be_bytes([key[0], key[1]]);
        let mut v = vec![0u8];
        match addr.ip() {
            IpAddr::V4(ip) => {
                v.push(0x01);
                v.extend_from_slice(&port.to_be_bytes());
                v.extend(ip.octets().iter().zip(key).map(|(a, k)| a ^ k));
            }
            IpAddr::V6(ip) => {
                v.push(0x02);
                v.extend_from_slice(&port.to_be_bytes());
                v.extend(ip.octets().iter().zip(key).map(|(a, k)| a ^ k));
            }
        }
        self.attribute(t, &v)
    }

    /// Adds MESSAGE-INTEGRITY keyed with `key` (RFC 8489 §14.5).
    pub fn integrity(mut self, key: &[u8]) -> Builder {
        // The length covers the attribute being added.
        let len = (self.buf.len() - HEADER_LEN + 4 + INTEGRITY_LEN) as u16;
        self.buf[2..4].copy_from_slice(&len.to_be_bytes());
        let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC takes any key");
        mac.update(&self.buf);
        let tag = mac.finalize().into_bytes();
        self.attribute(attr::MESSAGE_INTEGRITY, &tag)
    }

    /// Adds FINGERPRINT (RFC 8489 §14.7) and returns the message.
    pub fn fingerprint(mut self) -> Vec<u8> {
        let len = (self.buf.len() - HEADER_LEN + 8) as u16;
        self.buf[2..4].copy_from_slice(&len.to_be_bytes());
        let crc = crc32fast::hash(&self.buf) ^ FINGERPRINT_XOR;
        self.attribute(attr::FINGERPRINT, &crc.to_be_bytes())
            .finish()
    }

    /// The message without FINGERPRINT.
    pub fn finish(mut self) -> Vec<u8> {
        self.set_len();
        self.buf
    }
}

/// RFC 8656 §12.4: a ChannelData message's header: the channel number
/// (0x4000-0x4FFF) and the payload's length.
pub const CHANNEL_HEADER_LEN: usize = 4;

/// Splits a ChannelData message into its channel and payload (RFC 8656
/// §12.4; over UDP, padding after the payload may or may not be there).
pub fn parse_channel_data(bytes: &[u8]) -> Option<(u16, &[u8])> {
    if bytes.len() < CHANNEL_HEADER_LEN || bytes[0] & 0xC0 != 0x40 {
        return None;
    }
    let channel = u16::from_be_bytes([bytes[0], bytes[1]]);
    let len = u16::from_be_bytes([bytes[2], bytes[3]]) as usize;
    let payload = bytes.get(CHANNEL_HEADER_LEN..CHANNEL_HEADER_LEN + len)?;
    Some((channel, payload))
}

/// The ChannelData header for a payload of `len` bytes on `channel`.
pub fn channel_header(channel: u16, len: usize) -> [u8; CHANNEL_HEADER_LEN] {
    let c = channel.to_be_bytes();
    let l = (len as u16).to_be_bytes();
    [c[0], c[1], l[0], l[1]]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 5769 §2.1: a request with short-term credentials; the padding
    /// of USERNAME is spaces, which must not matter.
    const SAMPLE_REQUEST: &str = "
        00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
        00 24 00 04 6e 00 01 ff
        80 29 00 08 93 2f f9 b1 51 26 3b 36
        00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
        00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
        80 28 00 04 e5 7a 3b cf";

    /// RFC 5769 §2.2: an IPv4 response.
    const SAMPLE_IPV4_RESPONSE: &str = "
        01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
        00 20 00 08 00 01 a1 47 e1 12 a6 43
        00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
        80 28 00 04 c0 7d 4c 96";

    /// RFC 5769 §2.3: an IPv6 response.
    const SAMPLE_IPV6_RESPONSE: &str = "
        01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
        00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
        00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
        80 28 00 04 c8 fb 0b 4c";

    /// RFC 5769 §2.4: a request with long-term credentials (no
    /// FINGERPRINT).
    const SAMPLE_LONG_TERM: &str = "
        00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
        00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
        00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46
                    53 54 76 79 36 34 73 41
        00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
        00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66";

    const SHORT_TERM_PASSWORD: &[u8] = b"VOkJxbRl1RmTxUk/WvJxBt";

    #[test]
    fn rfc5769_sample_request_checks_integrity_and_fingerprint() {
        let bytes = hex(SAMPLE_REQUEST);
        let m = Message::parse(&bytes).expect("parses, fingerprint matches");
        assert_eq!((m.method, m.class), (method::BINDING, Class::Request));
        assert_eq!(m.get(attr::USERNAME), Some(&b"evtj:h6vY"[..]));
        assert_eq!(m.get(attr::SOFTWARE), Some(&b"STUN test client"[..]));
        assert!(m.check_integrity(SHORT_TERM_PASSWORD));
        assert!(!m.check_integrity(b"wrong"));
    }

    #[test]
    fn rfc5769_ipv4_response_gives_the_mapped_address() {
        let bytes = hex(SAMPLE_IPV4_RESPONSE);
        let m = Message::parse(&bytes).unwrap();
        assert_eq!((m.method, m.class), (method::BINDING, Class::Success));
        assert_eq!(
            m.xor_address(attr::XOR_MAPPED_ADDRESS),
            Some("192.0.2.1:32853".parse().unwrap())
        );
        assert!(m.check_integrity(SHORT_TERM_PASSWORD));
    }

    #[test]
    fn rfc5769_ipv6_response_gives_the_mapped_address() {
        let bytes = hex(SAMPLE_IPV6_RESPONSE);
        let m = Message::parse(&bytes).unwrap();
        assert_eq!(
            m.xor_address(attr::XOR_MAPPED_ADDRESS),
            Some(
                "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                    .parse()
                    .unwrap()
            )
        );
        assert!(m.check_integrity(SHORT_TERM_PASSWORD));
    }

    #[test]
    fn rfc5769_long_term_request_checks_with_the_md5_key() {
        let bytes = hex(SAMPLE_LONG_TERM);
        let m = Message::parse(&bytes).unwrap();
        let username = std::str::from_utf8(m.get(attr::USERNAME).unwrap()).unwrap();
        assert_eq!(username, "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}");
        assert_eq!(m.get(attr::REALM), Some(&b"example.org"[..]));
        assert_eq!(
            m.get(attr::NONCE),
            Some(&b"f//499k954d6OL34oL9FSTvy64sA"[..])
        );
        // The password after SASLprep is "TheMatrIX" (RFC 5769 §2.4).
        let key = long_term_key(username, "example.org", "TheMatrIX");
        assert!(m.check_integrity(&key));
        assert!(!m.check_integrity(&long_term_key(username, "example.org", "thematrix")));
    }

    #[test]
    fn a_flipped_bit_fails_the_fingerprint() {
        let mut bytes = hex(SAMPLE_IPV4_RESPONSE);
        bytes[30] ^= 1;
        assert_eq!(
            Message::parse(&bytes).unwrap_err(),
            ParseError::BadFingerprint
        );
    }

    #[test]
    fn builder_output_round_trips_with_integrity_and_fingerprint() {
        let tx = [7u8; 12];
        let key = long_term_key("user", "realm", "pass");
        let peer: SocketAddr = "203.0.113.9:4000".parse().unwrap();
        let bytes = Builder::new(method::CHANNEL_BIND, Class::Request, tx)
            .attribute(attr::CHANNEL_NUMBER, &[0x40, 0x01, 0, 0])
            .xor_address(attr::XOR_PEER_ADDRESS, peer)
            .attribute(attr::USERNAME, b"user")
            .integrity(&key)
            .fingerprint();
        let m = Message::parse(&bytes).unwrap();
        assert_eq!((m.method, m.class), (method::CHANNEL_BIND, Class::Request));
        assert_eq!(m.transaction, tx);
        assert_eq!(m.xor_address(attr::XOR_PEER_ADDRESS), Some(peer));
        assert!(m.check_integrity(&key));
        // The type bits of a success response, per RFC 8489 §5.
        assert_eq!(message_type(method::ALLOCATE, Class::Success), 0x0103);
        assert_eq!(message_type(method::ALLOCATE, Class::Error), 0x0113);
        assert_eq!(message_type(method::DATA, Class::Indication), 0x0017);
    }

    #[test]
    fn malformed_messages_are_refused_without_panicking() {
        let good = hex(SAMPLE_IPV4_RESPONSE);
        for cut in 0..good.len() {
            let _ = Message::parse(&good[..cut]);
        }
        let mut bad_len = good.clone();
        bad_len[3] = 0x3d;
        assert_eq!(Message::parse(&bad_len).unwrap_err(), ParseError::NotStun);
        let mut overrun = good.clone();
        overrun[22] = 0xff; // SOFTWARE's length runs past the end
        assert!(Message::parse(&overrun).is_err());
        assert_eq!(
            Message::parse(&[0x40, 0, 0, 4, 1, 2, 3, 4]).unwrap_err(),
            ParseError::Truncated
        );
    }

    #[test]
    fn channel_data_splits_and_ignores_padding() {
        let mut d = channel_header(0x4001, 5).to_vec();
        d.extend_from_slice(b"hello\0\0\0");
        assert_eq!(parse_channel_data(&d), Some((0x4001, &b"hello"[..])));
        assert_eq!(parse_channel_data(&d[..6]), None);
        assert_eq!(parse_channel_data(&[0x00, 1, 0, 0]), None);
    }
}
