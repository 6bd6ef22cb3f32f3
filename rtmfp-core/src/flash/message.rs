//! RTMP messages carried in RTMFP flow messages (RFC 7425 §5.1, §5.1.2).
//!
//! A flow message is `u8 messageType`, `u32 timestamp` (big-endian), then
//! the payload; the payload length is that of the flow message and the
//! stream ID comes from the flow's metadata ([`super::metadata`]).

use super::{FlashError, Result};
use std::borrow::Cow;

/// RTMP message type numbers.
pub mod message_type {
    /// Chunk stream: Set Chunk Size (not used on RTMFP; MUST be ignored).
    pub const SET_CHUNK_SIZE: u8 = 1;
    /// Chunk stream: Abort Message (not used on RTMFP; MUST be ignored).
    pub const ABORT: u8 = 2;
    /// Chunk stream: Acknowledgement (not used on RTMFP; MUST be ignored).
    pub const ACKNOWLEDGEMENT: u8 = 3;
    /// User Control message ([`crate::flash::user_control`]).
    pub const USER_CONTROL: u8 = 4;
    /// Chunk stream: Window Acknowledgement Size (MUST be ignored).
    pub const WINDOW_ACK_SIZE: u8 = 5;
    /// Chunk stream: Set Peer Bandwidth (MUST be ignored).
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    /// Audio data.
    pub const AUDIO: u8 = 8;
    /// Video data.
    pub const VIDEO: u8 = 9;
    /// Data message, AMF3 (format byte 0, then AMF0 values).
    pub const DATA_AMF3: u8 = 15;
    /// Shared object message, AMF3.
    pub const SHARED_OBJECT_AMF3: u8 = 16;
    /// Command Extended message, AMF3 (format byte 0, then AMF0 values).
    pub const COMMAND_AMF3: u8 = 17;
    /// Data message, AMF0.
    pub const DATA_AMF0: u8 = 18;
    /// Shared object message, AMF0.
    pub const SHARED_OBJECT_AMF0: u8 = 19;
    /// Command message, AMF0.
    pub const COMMAND_AMF0: u8 = 20;
    /// Aggregate message (FLV-tag-like sub-messages).
    pub const AGGREGATE: u8 = 22;

    /// Whether `t` is an RTMP Chunk Stream protocol control type (1, 2, 3,
    /// 5, 6): RFC 7425 §5.1 says these SHOULD NOT be sent and MUST be
    /// ignored.
    pub fn is_chunk_control(t: u8) -> bool {
        matches!(t, 1 | 2 | 3 | 5 | 6)
    }
}

/// Largest RTMP payload length, stream ID or FLV data size: 2^24 - 1
/// (RFC 7425 §5.1).
pub const MAX_U24: u32 = 0x00ff_ffff;

/// Bytes before the payload of a mapped message.
pub const HEADER_LEN: usize = 5;

/// What a message type carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Chunk stream control (1, 2, 3, 5, 6): ignore.
    ChunkControl,
    /// User Control (4).
    UserControl,
    /// Audio (8).
    Audio,
    /// Video (9).
    Video,
    /// Data (18 AMF0, 15 AMF3).
    Data,
    /// Shared object (19 AMF0, 16 AMF3).
    SharedObject,
    /// Command (20 AMF0, 17 AMF3).
    Command,
    /// Aggregate (22).
    Aggregate,
    /// Any other type.
    Unknown,
}

impl MessageKind {
    /// The kind of message type `t`.
    pub fn of(t: u8) -> MessageKind {
        use message_type::*;
        match t {
            SET_CHUNK_SIZE | ABORT | ACKNOWLEDGEMENT | WINDOW_ACK_SIZE | SET_PEER_BANDWIDTH => {
                MessageKind::ChunkControl
            }
            USER_CONTROL => MessageKind::UserControl,
            AUDIO => MessageKind::Audio,
            VIDEO => MessageKind::Video,
            DATA_AMF0 | DATA_AMF3 => MessageKind::Data,
            SHARED_OBJECT_AMF0 | SHARED_OBJECT_AMF3 => MessageKind::SharedObject,
            COMMAND_AMF0 | COMMAND_AMF3 => MessageKind::Command,
            AGGREGATE => MessageKind::Aggregate,
            _ => MessageKind::Unknown,
        }
    }
}

/// One RTMP message as mapped onto an RTMFP flow message.
///
/// The payload is borrowed when parsed and owned when built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The RTMP message type (see [`message_type`]).
    pub message_type: u8,
    /// The RTMP timestamp in milliseconds; wraps around at 2^32.
    pub timestamp: u32,
    /// The payload.
    pub payload: Cow<'a, [u8]>,
}

impl<'a> Message<'a> {
    /// A message owning its payload.
    pub fn new(message_type: u8, timestamp: u32, payload: Vec<u8>) -> Message<'static> {
        Message {
            message_type,
            timestamp,
            payload: Cow::Owned(payload),
        }
    }

    /// A message borrowing its payload.
    pub fn borrowed(message_type: u8, timestamp: u32, payload: &'a [u8]) -> Message<'a> {
        Message {
            message_type,
            timestamp,
            payload: Cow::Borrowed(payload),
        }
    }

    /// Parses a flow message (§5.1.2) without copying the payload.
    ///
    /// Fails with [`FlashError::Truncated`] under 5 bytes and
    /// [`FlashError::TooLarge`] for a payload over 16777215 bytes.
    pub fn parse(flow_message: &'a [u8]) -> Result<Message<'a>> {
        if flow_message.len() < HEADER_LEN {
            return Err(FlashError::Truncated);
        }
        let (head, payload) = flow_message.split_at(HEADER_LEN);
        if payload.len() > MAX_U24 as usize {
            return Err(FlashError::TooLarge);
        }
        Ok(Message::borrowed(
            head[0],
            u32::from_be_bytes([head[1], head[2], head[3], head[4]]),
            payload,
        ))
    }

    /// What this message carries.
    pub fn kind(&self) -> MessageKind {
        MessageKind::of(self.message_type)
    }

    /// Whether RFC 7425 §5.1 says to ignore this message (chunk stream
    /// control types 1, 2, 3, 5 and 6).
    pub fn must_ignore(&self) -> bool {
        message_type::is_chunk_control(self.message_type)
    }

    /// Length of the encoded flow message.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Appends the flow message encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        encode_parts(self.message_type, self.timestamp, &self.payload, out)
    }

    /// The flow message encoding.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out)?;
        Ok(out)
    }

    /// A copy that owns its payload.
    pub fn into_owned(self) -> Message<'static> {
        Message {
            message_type: self.message_type,
            timestamp: self.timestamp,
            payload: Cow::Owned(self.payload.into_owned()),
        }
    }
}

/// Appends a flow message made of its parts to `out` without building a
/// [`Message`].  Fails with [`FlashError::TooLarge`] for a payload over
/// 16777215 bytes.
pub fn encode_parts(
    message_type: u8,
    timestamp: u32,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    if payload.len() > MAX_U24 as usize {
        return Err(FlashError::TooLarge);
    }
    out.reserve(HEADER_LEN + payload.len());
    out.push(message_type);
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// One sub-message of an aggregate message (type 22).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubMessage<'a> {
    /// The RTMP message type.
    pub message_type: u8,
    /// The sub-message's own timestamp (24 bits plus an extension byte,
    /// as in an FLV tag).
    pub timestamp: u32,
    /// The stream ID field of the sub-message header.
    pub stream_id: u32,
    /// The payload.
    pub payload: &'a [u8],
}

/// Iterates the sub-messages of an aggregate message payload: each is an
/// 11-byte FLV-tag-style header, the payload, and a 4-byte back pointer.
///
/// Yields an error (and then stops) on a truncated sub-message.
pub fn aggregate(payload: &[u8]) -> Aggregate<'_> {
    Aggregate { rest: payload }
}

/// Iterator returned by [`aggregate`].
#[derive(Debug, Clone)]
pub struct Aggregate<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Aggregate<'a> {
    type Item = Result<SubMessage<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.rest;
        if r.len() < 11 {
            self.rest = &[];
            return Some(Err(FlashError::Truncated));
        }
        let size = u32::from_be_bytes([0, r[1], r[2], r[3]]) as usize;
        let timestamp = u32::from_be_bytes([r[7], r[4], r[5], r[6]]);
        let stream_id = u32::from_be_bytes([0, r[8], r[9], r[10]]);
        let Some(payload) = r.get(11..11 + size) else {
            self.rest = &[];
            return Some(Err(FlashError::Truncated));
        };
        // The back pointer may be missing after the last sub-message, but
        // not cut short.
        let after = &r[11 + size..];
        self.rest = match after.len() {
            0 => after,
            1..=3 => {
                self.rest = &[];
                return Some(Err(FlashError::Truncated));
            }
            _ => &after[4..],
        };
        Some(Ok(SubMessage {
            message_type: r[0],
            timestamp,
            stream_id,
            payload,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_by_hand() {
        let m = Message::new(message_type::AUDIO, 0x0102_0304, vec![0xaf, 0x01]);
        let bytes = m.to_bytes().unwrap();
        assert_eq!(bytes, [8, 1, 2, 3, 4, 0xaf, 0x01]);
        let back = Message::parse(&bytes).unwrap();
        assert_eq!(back, m);
        assert!(matches!(back.payload, Cow::Borrowed(_)));
        assert_eq!(back.kind(), MessageKind::Audio);
        assert_eq!(Message::parse(&bytes[..4]), Err(FlashError::Truncated));
        // Empty payloads are fine.
        assert_eq!(Message::parse(&[4, 0, 0, 0, 0]).unwrap().payload.len(), 0);
    }

    #[test]
    fn chunk_control_is_ignored() {
        for t in 0..=255u8 {
            let ignore = Message::borrowed(t, 0, &[]).must_ignore();
            assert_eq!(ignore, [1, 2, 3, 5, 6].contains(&t), "{t}");
        }
    }

    #[test]
    fn aggregate_sub_messages() {
        let mut agg = Vec::new();
        for (t, ts, data) in [(8u8, 0x0100_0010u32, &[1u8, 2][..]), (9, 20, &[3][..])] {
            agg.push(t);
            agg.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
            agg.extend_from_slice(&ts.to_be_bytes()[1..]);
            agg.push((ts >> 24) as u8);
            agg.extend_from_slice(&[0, 0, 1]);
            agg.extend_from_slice(data);
            agg.extend_from_slice(&(11 + data.len() as u32).to_be_bytes());
        }
        let subs: Vec<_> = aggregate(&agg).collect::<Result<_>>().unwrap();
        assert_eq!(subs.len(), 2);
        assert_eq!(subs[0].timestamp, 0x0100_0010);
        assert_eq!(subs[0].payload, [1, 2]);
        assert_eq!(subs[1].message_type, 9);
        assert_eq!(subs[1].stream_id, 1);
        assert!(aggregate(&agg[..15]).any(|r| r.is_err()));
    }
}
