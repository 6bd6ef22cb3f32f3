//! The simple checksum of RFC 7425 §4.7.3.1: the Internet checksum
//! (RFC 1071), also used by the plain test profile.

/// The 16-bit ones' complement sum of `data` taken as big-endian 16-bit
/// words (RFC 1071 §4.1).
///
/// An odd last byte is added as "the lower 8 bits of a 16-bit word whose
/// upper 8 bits are 0", exactly as RFC 7425 §4.7.3.1 says. (RFC 1071 itself
/// pads the odd byte on the right, i.e. as the *upper* 8 bits; the two
/// differ, and RTMFP does checksum odd lengths: a 1-byte SSEQ before the
/// checksum leaves 16k−3 checked bytes. RFC 7425's wording is what the
/// independent implementation does too.)
pub fn ones_complement_sum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for w in &mut chunks {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        sum = (sum & 0xffff) + (sum >> 16);
    }
    if let [last] = chunks.remainder() {
        // RFC 7425 §4.7.3.1: odd byte is the low half.
        sum += u32::from(*last);
    }
    // Fold carries (RFC 1071 §4.1).
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The simple checksum: the ones' complement of [`ones_complement_sum`].
pub fn internet_checksum(data: &[u8]) -> u16 {
    !ones_complement_sum(data)
}
