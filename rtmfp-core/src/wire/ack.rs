//! Encoding acknowledgements: the smaller of Bitmap and Range Ack
//! (RFC 7016 §2.3.13, §2.3.14, §3.6.3.4.3).

use super::{chunk::chunk_type, packet::CHUNK_HEADER_LEN, vlu};

/// Which ack encoding [`write_ack`] chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckKind {
    /// Data Acknowledgement Bitmap (0x50).
    Bitmap,
    /// Data Acknowledgement Ranges (0x51).
    Ranges,
}

/// What one flow's acknowledgement says.
#[derive(Debug, Clone, Copy)]
pub struct AckInfo<'r> {
    /// The acknowledged flow.
    pub flow_id: u64,
    /// Receive window in 1024-byte blocks.
    pub buffer_blocks_available: u64,
    /// Every sequence number up to and including this one is received.
    pub cumulative_ack: u64,
    /// Received ranges above `cumulative_ack + 1`, inclusive, increasing,
    /// disjoint and not adjacent to each other.
    pub ranges: &'r [(u64, u64)],
}

fn header_len(info: &AckInfo<'_>) -> usize {
    vlu::encoded_len(info.flow_id)
        + vlu::encoded_len(info.buffer_blocks_available)
        + vlu::encoded_len(info.cumulative_ack)
}

fn write_header(info: &AckInfo<'_>, out: &mut Vec<u8>) {
    vlu::encode(info.flow_id, out);
    vlu::encode(info.buffer_blocks_available, out);
    vlu::encode(info.cumulative_ack, out);
}

/// Bytes of the bitmap that covers the first `count` ranges.
fn bitmap_len(info: &AckInfo<'_>, count: usize) -> usize {
    match count.checked_sub(1).map(|i| info.ranges[i].1) {
        None => 0,
        Some(last) => {
            let bits = last - (info.cumulative_ack + 2) + 1;
            usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX)
        }
    }
}

/// Bytes of the (holes-1, received-1) pairs for the first `count` ranges.
fn ranges_len(info: &AckInfo<'_>, count: usize) -> usize {
    let mut cursor = info.cumulative_ack;
    let mut len = 0;
    for &(from, to) in &info.ranges[..count] {
        len += vlu::encoded_len(from - cursor - 2) + vlu::encoded_len(to - from);
        cursor = to;
    }
    len
}

/// Length of the whole (untruncated) ack chunk [`write_ack`] would write
/// for `info`, chunk header included.
pub fn encoded_len(info: &AckInfo<'_>) -> usize {
    let n = info.ranges.len();
    CHUNK_HEADER_LEN + header_len(info) + bitmap_len(info, n).min(ranges_len(info, n))
}

/// Appends one whole ack chunk (type, length, payload) for `info` to
/// `out`, choosing whichever of Bitmap and Range Ack is smaller.
///
/// If the whole ack would exceed `max_chunk_len` bytes, the ack is
/// truncated: it keeps as many of the lowest ranges as fit, which still
/// tells the truth about everything it mentions (§3.6.3.4.6).  Returns the
/// kind written, or `None` (and writes nothing) if not even the
/// cumulative part fits.
pub fn write_ack(info: &AckInfo<'_>, max_chunk_len: usize, out: &mut Vec<u8>) -> Option<AckKind> {
    let base = CHUNK_HEADER_LEN + header_len(info);
    if base > max_chunk_len {
        return None;
    }
    let budget = (max_chunk_len - base).min(u16::MAX as usize - header_len(info));
    // Find the most ranges that fit with either encoding.
    let mut count = info.ranges.len();
    loop {
        let (b, r) = (bitmap_len(info, count), ranges_len(info, count));
        if b.min(r) <= budget {
            let kind = if b <= r {
                AckKind::Bitmap
            } else {
                AckKind::Ranges
            };
            write_chunk(info, count, kind, out);
            return Some(kind);
        }
        count -= 1;
    }
}

fn write_chunk(info: &AckInfo<'_>, count: usize, kind: AckKind, out: &mut Vec<u8>) {
    let mark = out.len();
    let code = match kind {
        AckKind::Bitmap => chunk_type::BITMAP_ACK,
        AckKind::Ranges => chunk_type::RANGE_ACK,
    };
    out.extend_from_slice(&[code, 0, 0]);
    write_header(info, out);
    match kind {
        AckKind::Bitmap => {
            let start = out.len();
            out.resize(start + bitmap_len(info, count), 0);
            let base = info.cumulative_ack + 2;
            for &(from, to) in &info.ranges[..count] {
                for seq in from..=to {
                    let bit = (seq - base) as usize;
                    out[start + bit / 8] |= 1 << (bit % 8);
                }
            }
        }
        AckKind::Ranges => {
            let mut cursor = info.cumulative_ack;
            for &(from, to) in &info.ranges[..count] {
                vlu::encode(from - cursor - 2, out);
                vlu::encode(to - from, out);
                cursor = to;
            }
        }
    }
    let len = (out.len() - mark - CHUNK_HEADER_LEN) as u16;
    out[mark + 1..mark + 3].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::Chunk;
    use proptest::prelude::*;

    fn info(cum: u64, ranges: &[(u64, u64)]) -> AckInfo<'_> {
        AckInfo {
            flow_id: 5,
            buffer_blocks_available: 127,
            cumulative_ack: cum,
            ranges,
        }
    }

    #[test]
    fn reproduces_rfc_figures() {
        // Figure 4's set, 18, 21-24, 27-28: bitmap (2 bytes) beats ranges (6).
        let mut out = Vec::new();
        let kind = write_ack(&info(16, &[(18, 18), (21, 24), (27, 28)]), 100, &mut out);
        assert_eq!(kind, Some(AckKind::Bitmap));
        assert_eq!(out, hex::decode("500005057f107906").unwrap());
        // Figure 5's set, 18 and 21-24: one byte of bitmap beats 4 of ranges.
        out.clear();
        write_ack(&info(16, &[(18, 18), (21, 24)]), 100, &mut out);
        assert_eq!(out, hex::decode("500004057f1079").unwrap());
    }

    #[test]
    fn far_ranges_use_range_encoding() {
        let mut out = Vec::new();
        let kind = write_ack(&info(16, &[(1000, 1000)]), 100, &mut out);
        assert_eq!(kind, Some(AckKind::Ranges));
        // holes-1 = 1000-16-2 = 982 -> 87 56, received-1 = 0.
        assert_eq!(out, [0x51, 0, 6, 5, 0x7f, 0x10, 0x87, 0x56, 0x00]);
    }

    #[test]
    fn cumulative_only() {
        let mut out = Vec::new();
        assert_eq!(write_ack(&info(3, &[]), 6, &mut out), Some(AckKind::Bitmap));
        assert_eq!(out, [0x50, 0, 3, 5, 0x7f, 3]);
        assert_eq!(write_ack(&info(3, &[]), 5, &mut Vec::new()), None);
    }

    #[test]
    fn truncation_keeps_lowest_ranges() {
        let ranges: Vec<(u64, u64)> = (0..50).map(|i| (100 + i * 1000, 100 + i * 1000)).collect();
        let mut out = Vec::new();
        write_ack(&info(16, &ranges), 20, &mut out).unwrap();
        assert!(out.len() <= 20);
        let chunk = Chunk::decode(out[0], &out[3..]).unwrap();
        let Chunk::RangeAck(ack) = chunk else {
            panic!()
        };
        let got: Vec<_> = ack.ranges.iter().collect();
        assert!(!got.is_empty());
        assert_eq!(got[..], ranges[..got.len()]);
    }

    fn range_set() -> impl Strategy<Value = (u64, Vec<(u64, u64)>)> {
        (
            0u64..1_000_000,
            proptest::collection::vec((0u64..40, 0u64..40), 0..20),
        )
            .prop_map(|(cum, gaps)| {
                let mut ranges = Vec::new();
                let mut cursor = cum;
                for (hole, run) in gaps {
                    let from = cursor + 2 + hole;
                    let to = from + run;
                    ranges.push((from, to));
                    cursor = to;
                }
                (cum, ranges)
            })
    }

    proptest! {
        #[test]
        fn decodes_to_the_same_set_and_is_smallest((cum, ranges) in range_set()) {
            let mut out = Vec::new();
            let kind = write_ack(&info(cum, &ranges), 2000, &mut out).unwrap();
            let decoded: Vec<u64> = match Chunk::decode(out[0], &out[3..]).unwrap() {
                Chunk::BitmapAck(a) => { prop_assert_eq!(kind, AckKind::Bitmap); a.acknowledged().collect() }
                Chunk::RangeAck(a) => { prop_assert_eq!(kind, AckKind::Ranges); a.ranges.iter().flat_map(|(f, t)| f..=t).collect() }
                other => panic!("{other:?}"),
            };
            let expected: Vec<u64> = ranges.iter().flat_map(|&(f, t)| f..=t).collect();
            prop_assert_eq!(decoded, expected);
            let n = ranges.len();
            prop_assert!(out.len() - 3 - header_len(&info(cum, &ranges)) == bitmap_len(&info(cum, &ranges), n).min(ranges_len(&info(cum, &ranges), n)));
        }
    }
}
