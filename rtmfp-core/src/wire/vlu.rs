//! Variable Length Unsigned integers (RFC 7016 §2.1.2).
//!
//! Seven bits per byte, most significant group first; a set high bit
//! (0x80) means another byte follows.  Values up to 2^64 - 1 are handled,
//! as §2.1.2 recommends; anything larger is [`WireError::VluOverflow`].

use super::{Result, WireError};

/// Longest VLU encoding of a `u64`: ceil(64 / 7) bytes.
pub const MAX_VLU_LEN: usize = 10;

/// Decodes a VLU at the start of `buf`.
///
/// Returns the value and the number of bytes it took.
pub fn decode(buf: &[u8]) -> Result<(u64, usize)> {
    let mut value: u64 = 0;
    for (index, &byte) in buf.iter().enumerate() {
        if value > (u64::MAX >> 7) {
            return Err(WireError::VluOverflow);
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Ok((value, index + 1));
        }
    }
    Err(WireError::Truncated)
}

/// Number of bytes the shortest encoding of `value` takes.
pub fn encoded_len(value: u64) -> usize {
    let bits = 64 - value.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Appends the shortest encoding of `value` to `out`.
pub fn encode(value: u64, out: &mut Vec<u8>) {
    let len = encoded_len(value);
    for index in (0..len).rev() {
        let digit = ((value >> (7 * index)) & 0x7f) as u8;
        let more = if index == 0 { 0 } else { 0x80 };
        out.push(digit | more);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        encode(value, &mut out);
        out
    }

    #[test]
    fn known_encodings() {
        // Derived from the §2.1.2 definition (CHECKLIST "VLU, derived").
        assert_eq!(enc(0), [0x00]);
        assert_eq!(enc(127), [0x7f]);
        assert_eq!(enc(128), [0x81, 0x00]);
        assert_eq!(enc(16383), [0xff, 0x7f]);
        assert_eq!(enc(16384), [0x81, 0x80, 0x00]);
        assert_eq!(
            enc(u64::MAX),
            [0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]
        );
    }

    #[test]
    fn decode_reports_length_and_ignores_rest() {
        assert_eq!(decode(&[0x81, 0x00, 0xaa]), Ok((128, 2)));
        assert_eq!(decode(&[0x05]), Ok((5, 1)));
    }

    #[test]
    fn non_canonical_leading_zero_groups_decode() {
        assert_eq!(decode(&[0x80, 0x80, 0x05]), Ok((5, 3)));
    }

    #[test]
    fn truncated_and_overflow() {
        assert_eq!(decode(&[]), Err(WireError::Truncated));
        assert_eq!(decode(&[0x81]), Err(WireError::Truncated));
        assert_eq!(decode(&[0xff; 20]), Err(WireError::VluOverflow));
        // 2^64 exactly: one bit too many.
        let too_big = [0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(decode(&too_big), Err(WireError::VluOverflow));
    }

    proptest::proptest! {
        #[test]
        fn round_trip(value: u64) {
            let bytes = enc(value);
            proptest::prop_assert_eq!(bytes.len(), encoded_len(value));
            proptest::prop_assert_eq!(decode(&bytes), Ok((value, bytes.len())));
        }

        #[test]
        fn never_panics(bytes: Vec<u8>) {
            let _ = decode(&bytes);
        }
    }
}
