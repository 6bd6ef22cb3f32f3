//! Flow metadata for RTMP message flows (RFC 7425 §5.1.1).
//!
//! ```text
//! 'T' 'C' | rsv:5 SID:1 rsv:1 RXI:1 | streamID (VLU, present when SID)
//! ```
//!
//! In this profile SID MUST be set; a flow without it, or with another
//! signature, SHOULD be rejected: [`FlowMetadata::parse`] fails for both.

use super::message::MAX_U24;
use super::{FlashError, Result};
use crate::wire::{vlu, WireError};

/// The metadata signature of RTMP message flows: "TC".
pub const SIGNATURE: [u8; 2] = *b"TC";
/// Flag: the stream ID is present (MUST be set in this profile).
pub const FLAG_SID: u8 = 0x04;
/// Flag: receive intent, 1 = network arrival order.
pub const FLAG_RXI: u8 = 0x01;

/// The sender's hint of the order in which to take delivery of messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReceiveIntent {
    /// RXI = 0: in original queuing order (sequence number order).
    #[default]
    OriginalOrder,
    /// RXI = 1: as soon as they arrive, even out of order (live audio).
    NetworkArrival,
}

/// The metadata of a flow carrying RTMP messages for one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowMetadata {
    /// The RTMP stream ID (0 for NetConnection control flows); at most
    /// 16777215.
    pub stream_id: u32,
    /// The receive intent hint.
    pub receive_intent: ReceiveIntent,
}

impl FlowMetadata {
    /// Metadata for `stream_id` with the given intent.
    pub fn new(stream_id: u32, receive_intent: ReceiveIntent) -> FlowMetadata {
        FlowMetadata {
            stream_id,
            receive_intent,
        }
    }

    /// Parses flow user metadata.
    ///
    /// Reserved flag bits are ignored, and so are bytes after the stream
    /// ID (room for derived profiles).  Fails with
    /// [`FlashError::BadSignature`] if the metadata does not begin with
    /// "TC", [`FlashError::MissingStreamId`] if SID is clear, and
    /// [`FlashError::OutOfRange`] for a stream ID over 16777215.
    pub fn parse(metadata: &[u8]) -> Result<FlowMetadata> {
        if metadata.len() < 2 {
            return Err(if SIGNATURE.starts_with(metadata) {
                FlashError::Truncated
            } else {
                FlashError::BadSignature
            });
        }
        if metadata[..2] != SIGNATURE {
            return Err(FlashError::BadSignature);
        }
        let flags = *metadata.get(2).ok_or(FlashError::Truncated)?;
        if flags & FLAG_SID == 0 {
            return Err(FlashError::MissingStreamId);
        }
        let (stream_id, _) = vlu::decode(&metadata[3..]).map_err(|e| match e {
            WireError::Truncated => FlashError::Truncated,
            _ => FlashError::OutOfRange,
        })?;
        let stream_id = u32::try_from(stream_id)
            .ok()
            .filter(|&id| id <= MAX_U24)
            .ok_or(FlashError::OutOfRange)?;
        let receive_intent = if flags & FLAG_RXI != 0 {
            ReceiveIntent::NetworkArrival
        } else {
            ReceiveIntent::OriginalOrder
        };
        Ok(FlowMetadata {
            stream_id,
            receive_intent,
        })
    }

    /// Whether `metadata` begins with the "TC" signature (whatever else is
    /// wrong with it).
    pub fn is_rtmp_flow(metadata: &[u8]) -> bool {
        metadata.starts_with(&SIGNATURE)
    }

    /// Appends the encoding to `out`.  Fails with
    /// [`FlashError::OutOfRange`] for a stream ID over 16777215.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.stream_id > MAX_U24 {
            return Err(FlashError::OutOfRange);
        }
        out.extend_from_slice(&SIGNATURE);
        let rxi = match self.receive_intent {
            ReceiveIntent::OriginalOrder => 0,
            ReceiveIntent::NetworkArrival => FLAG_RXI,
        };
        out.push(FLAG_SID | rxi);
        vlu::encode(u64::from(self.stream_id), out);
        Ok(())
    }

    /// The encoding.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(3 + vlu::MAX_VLU_LEN);
        self.encode(&mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        let control = FlowMetadata::new(0, ReceiveIntent::OriginalOrder);
        assert_eq!(control.to_bytes().unwrap(), [0x54, 0x43, 0x04, 0x00]);
        // Flash Player's first direct NetStream on a peer session, as
        // librtmfp sends and expects it.
        let peer = FlowMetadata::new(
            crate::flash::client::FIRST_PEER_STREAM_ID,
            ReceiveIntent::OriginalOrder,
        );
        assert_eq!(
            peer.to_bytes().unwrap(),
            [0x54, 0x43, 0x04, 0xfa, 0x89, 0x01]
        );
        let audio = FlowMetadata::new(300, ReceiveIntent::NetworkArrival);
        // 300 = 0b10_0101100 -> VLU 0x82 0x2c.
        assert_eq!(audio.to_bytes().unwrap(), [0x54, 0x43, 0x05, 0x82, 0x2c]);
        assert_eq!(
            FlowMetadata::parse(&[0x54, 0x43, 0x05, 0x82, 0x2c]),
            Ok(audio)
        );
        // Reserved bits are ignored.
        assert_eq!(
            FlowMetadata::parse(&[0x54, 0x43, 0xfe, 0x00])
                .unwrap()
                .stream_id,
            0
        );
    }

    #[test]
    fn rejections() {
        assert_eq!(
            FlowMetadata::parse(b"TC\x01\x00"),
            Err(FlashError::MissingStreamId)
        );
        assert_eq!(
            FlowMetadata::parse(b"TC\x00"),
            Err(FlashError::MissingStreamId)
        );
        assert_eq!(
            FlowMetadata::parse(b"GC\x04\x00"),
            Err(FlashError::BadSignature)
        );
        assert_eq!(FlowMetadata::parse(b""), Err(FlashError::Truncated));
        assert_eq!(FlowMetadata::parse(b"X"), Err(FlashError::BadSignature));
        assert_eq!(FlowMetadata::parse(b"TC"), Err(FlashError::Truncated));
        assert_eq!(FlowMetadata::parse(b"TC\x04"), Err(FlashError::Truncated));
        assert_eq!(
            FlowMetadata::parse(b"TC\x04\x88"),
            Err(FlashError::Truncated)
        );
        // 2^24 is one over the limit: VLU 0x88 0x80 0x80 0x00.
        assert_eq!(
            FlowMetadata::parse(b"TC\x04\x88\x80\x80\x00"),
            Err(FlashError::OutOfRange)
        );
        assert_eq!(
            FlowMetadata::new(MAX_U24 + 1, ReceiveIntent::OriginalOrder).to_bytes(),
            Err(FlashError::OutOfRange)
        );
    }
}
