//! The multiplex layer: scrambled session IDs (RFC 7016 §2.2.2).
//!
//! A datagram is a 32-bit scrambled session ID followed by the encrypted
//! packet.  The session ID is recovered by XOR with the first two 32-bit
//! words of the encrypted packet, zero-padded to 8 bytes if shorter.

use super::{Result, WireError};

/// Bytes of the scrambled session ID.
pub const SSID_LEN: usize = 4;

fn first_words_xor(encrypted: &[u8]) -> u32 {
    let mut head = [0u8; 8];
    let n = encrypted.len().min(8);
    head[..n].copy_from_slice(&encrypted[..n]);
    let w0 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let w1 = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    w0 ^ w1
}

/// Scrambles (or, equally, unscrambles) a session ID against an encrypted
/// packet (§2.2.2).
pub fn scramble_session_id(session_id: u32, encrypted: &[u8]) -> u32 {
    session_id ^ first_words_xor(encrypted)
}

/// Fills in the scrambled session ID of a datagram whose first
/// [`SSID_LEN`] bytes were left for it and whose encrypted packet follows:
/// [`write_multiplex`] in place, without copying the packet.
pub fn fill_session_id(session_id: u32, datagram: &mut [u8]) {
    let ssid = scramble_session_id(session_id, &datagram[SSID_LEN..]);
    datagram[..SSID_LEN].copy_from_slice(&ssid.to_be_bytes());
}

/// Splits a datagram into its session ID and encrypted packet.
pub fn read_multiplex(datagram: &[u8]) -> Result<(u32, &[u8])> {
    if datagram.len() < SSID_LEN {
        return Err(WireError::Truncated);
    }
    let (ssid, encrypted) = datagram.split_at(SSID_LEN);
    let ssid = u32::from_be_bytes([ssid[0], ssid[1], ssid[2], ssid[3]]);
    Ok((scramble_session_id(ssid, encrypted), encrypted))
}

/// Appends a datagram for `session_id` carrying `encrypted` to `out`.
pub fn write_multiplex(session_id: u32, encrypted: &[u8], out: &mut Vec<u8>) {
    let ssid = scramble_session_id(session_id, encrypted);
    out.extend_from_slice(&ssid.to_be_bytes());
    out.extend_from_slice(encrypted);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn filling_the_session_id_in_place_matches_write_multiplex() {
        let encrypted: Vec<u8> = (0u8..37).collect();
        let mut copied = Vec::new();
        write_multiplex(0x1234_5678, &encrypted, &mut copied);
        let mut in_place = vec![0; SSID_LEN];
        in_place.extend_from_slice(&encrypted);
        fill_session_id(0x1234_5678, &mut in_place);
        assert_eq!(in_place, copied);
        assert_ne!(&in_place[..SSID_LEN], &0x1234_5678u32.to_be_bytes());
    }

    #[test]
    fn scrambling_worked_example() {
        // sessionID = SSID ^ first32[0] ^ first32[1]
        let encrypted = [0x11, 0x22, 0x33, 0x44, 0x01, 0x02, 0x03, 0x04, 0xff];
        let mut datagram = Vec::new();
        write_multiplex(0x0000_0005, &encrypted, &mut datagram);
        let expected_ssid = 0x0000_0005 ^ 0x1122_3344 ^ 0x0102_0304u32;
        assert_eq!(datagram[..4], expected_ssid.to_be_bytes());
        assert_eq!(read_multiplex(&datagram), Ok((5, &encrypted[..])));
    }

    #[test]
    fn short_packets_are_zero_padded() {
        let encrypted = [0xaa, 0xbb, 0xcc];
        assert_eq!(scramble_session_id(0, &encrypted), 0xaabb_cc00);
        assert_eq!(read_multiplex(&[0, 0, 0]), Err(WireError::Truncated));
        assert_eq!(read_multiplex(&[0, 0, 0, 7]), Ok((7, &[][..])));
    }

    proptest! {
        #[test]
        fn round_trip(session_id: u32, encrypted: Vec<u8>) {
            let mut datagram = Vec::new();
            write_multiplex(session_id, &encrypted, &mut datagram);
            prop_assert_eq!(read_multiplex(&datagram), Ok((session_id, &encrypted[..])));
        }
    }
}
