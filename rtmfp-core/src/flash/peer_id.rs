//! Peer IDs as Flash shows them: 64 lowercase hex characters
//! (`NetConnection.nearID`, `farID`; RFC 7425 §4.3.2).

use crate::crypto::PeerId;

/// The 64-character lowercase hex form of a peer ID or any bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Parses a peer ID from 64 hex characters (either case, surrounding
/// white space ignored).
pub fn from_hex(s: &str) -> Option<PeerId> {
    let s = s.trim().as_bytes();
    if s.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut id = [0u8; 32];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        id[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut id = [0u8; 32];
        id[0] = 0xab;
        id[31] = 0x09;
        let h = to_hex(&id);
        assert_eq!(h.len(), 64);
        assert!(h.starts_with("ab00"));
        assert!(h.ends_with("0009"));
        assert_eq!(from_hex(&h), Some(id));
        assert_eq!(from_hex(&h.to_uppercase()), Some(id));
        assert_eq!(from_hex(&h[1..]), None);
        assert_eq!(from_hex(&h.replace('a', "g")), None);
    }
}
