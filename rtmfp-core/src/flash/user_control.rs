//! User Control messages (RTMP type 4): a big-endian `u16` event type and
//! event data (rtmp-1.0 §3.7 of the commands part, RFC 7425 §5.2, §5.3.4).

use super::message::{message_type, Message};
use super::{FlashError, Result};

/// User control event type numbers.
pub mod event_type {
    /// Stream Begin: u32 stream ID.
    pub const STREAM_BEGIN: u16 = 0;
    /// Stream EOF: u32 stream ID.
    pub const STREAM_EOF: u16 = 1;
    /// Stream Dry: u32 stream ID.
    pub const STREAM_DRY: u16 = 2;
    /// Set Buffer Length: u32 stream ID, u32 milliseconds.
    pub const SET_BUFFER_LENGTH: u16 = 3;
    /// Stream Is Recorded: u32 stream ID.
    pub const STREAM_IS_RECORDED: u16 = 4;
    /// Ping Request: u32 timestamp.
    pub const PING_REQUEST: u16 = 6;
    /// Ping Response: u32 timestamp.
    pub const PING_RESPONSE: u16 = 7;
    /// Flow Synchronization (RFC 7425 §5.2): u32 syncID, u32 count.
    pub const FLOW_SYNC: u16 = 34;
    /// Set Keepalive Timers (RFC 7425 §5.3.4): u32 server ms, u32 peer ms.
    pub const SET_KEEPALIVE_TIMERS: u16 = 41;
}

/// A user control event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserControlEvent {
    /// A stream has become functional.
    StreamBegin {
        /// The stream.
        stream_id: u32,
    },
    /// Playback of a stream is over.
    StreamEof {
        /// The stream.
        stream_id: u32,
    },
    /// A stream has no more data for now.
    StreamDry {
        /// The stream.
        stream_id: u32,
    },
    /// The client's buffer length for a stream.
    SetBufferLength {
        /// The stream.
        stream_id: u32,
        /// Buffer length in milliseconds.
        buffer_ms: u32,
    },
    /// A stream is recorded.
    StreamIsRecorded {
        /// The stream.
        stream_id: u32,
    },
    /// A ping from the server.
    PingRequest {
        /// The server's local time.
        timestamp: u32,
    },
    /// The answer to a ping.
    PingResponse {
        /// The timestamp of the request.
        timestamp: u32,
    },
    /// A flow synchronization barrier (RFC 7425 §5.2).
    FlowSync {
        /// The barrier's identifier.
        sync_id: u32,
        /// How many flows the barrier spans: at least 1, and SHOULD be at
        /// least 2.
        count: u32,
    },
    /// The server's advice of keepalive periods (RFC 7425 §5.3.4).
    SetKeepaliveTimers {
        /// Period for the session with the server, in milliseconds.
        server_ms: u32,
        /// Period for sessions with peers, in milliseconds.
        peer_ms: u32,
    },
    /// Any other event, kept verbatim.
    Unknown {
        /// The event type.
        event_type: u16,
        /// The event data.
        data: Vec<u8>,
    },
}

fn u32_at(data: &[u8], at: usize) -> Result<u32> {
    let b = data.get(at..at + 4).ok_or(FlashError::Truncated)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

impl UserControlEvent {
    /// The event type number.
    pub fn event_type(&self) -> u16 {
        use event_type::*;
        match self {
            UserControlEvent::StreamBegin { .. } => STREAM_BEGIN,
            UserControlEvent::StreamEof { .. } => STREAM_EOF,
            UserControlEvent::StreamDry { .. } => STREAM_DRY,
            UserControlEvent::SetBufferLength { .. } => SET_BUFFER_LENGTH,
            UserControlEvent::StreamIsRecorded { .. } => STREAM_IS_RECORDED,
            UserControlEvent::PingRequest { .. } => PING_REQUEST,
            UserControlEvent::PingResponse { .. } => PING_RESPONSE,
            UserControlEvent::FlowSync { .. } => FLOW_SYNC,
            UserControlEvent::SetKeepaliveTimers { .. } => SET_KEEPALIVE_TIMERS,
            UserControlEvent::Unknown { event_type, .. } => *event_type,
        }
    }

    /// Parses a user control message payload.
    ///
    /// Bytes after the fields of a known event are ignored.  Fails with
    /// [`FlashError::Truncated`] when fields are missing and
    /// [`FlashError::OutOfRange`] for a Flow Sync count of 0 (§5.2: it
    /// MUST be at least 1).
    pub fn parse(payload: &[u8]) -> Result<UserControlEvent> {
        use event_type::*;
        let head = payload.get(..2).ok_or(FlashError::Truncated)?;
        let event_type = u16::from_be_bytes([head[0], head[1]]);
        let data = &payload[2..];
        Ok(match event_type {
            STREAM_BEGIN => UserControlEvent::StreamBegin {
                stream_id: u32_at(data, 0)?,
            },
            STREAM_EOF => UserControlEvent::StreamEof {
                stream_id: u32_at(data, 0)?,
            },
            STREAM_DRY => UserControlEvent::StreamDry {
                stream_id: u32_at(data, 0)?,
            },
            SET_BUFFER_LENGTH => UserControlEvent::SetBufferLength {
                stream_id: u32_at(data, 0)?,
                buffer_ms: u32_at(data, 4)?,
            },
            STREAM_IS_RECORDED => UserControlEvent::StreamIsRecorded {
                stream_id: u32_at(data, 0)?,
            },
            PING_REQUEST => UserControlEvent::PingRequest {
                timestamp: u32_at(data, 0)?,
            },
            PING_RESPONSE => UserControlEvent::PingResponse {
                timestamp: u32_at(data, 0)?,
            },
            FLOW_SYNC => {
                let sync_id = u32_at(data, 0)?;
                let count = u32_at(data, 4)?;
                if count == 0 {
                    return Err(FlashError::OutOfRange);
                }
                UserControlEvent::FlowSync { sync_id, count }
            }
            SET_KEEPALIVE_TIMERS => UserControlEvent::SetKeepaliveTimers {
                server_ms: u32_at(data, 0)?,
                peer_ms: u32_at(data, 4)?,
            },
            _ => UserControlEvent::Unknown {
                event_type,
                data: data.to_vec(),
            },
        })
    }

    /// Parses the payload of a [`Message`], checking it is of type 4.
    pub fn from_message(message: &Message<'_>) -> Result<UserControlEvent> {
        if message.message_type != message_type::USER_CONTROL {
            return Err(FlashError::WrongMessageType(message.message_type));
        }
        UserControlEvent::parse(&message.payload)
    }

    /// Appends the payload encoding to `out`.
    ///
    /// A Flow Sync with count 0 encodes, but will not parse.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.event_type().to_be_bytes());
        let (a, b) = match self {
            UserControlEvent::StreamBegin { stream_id }
            | UserControlEvent::StreamEof { stream_id }
            | UserControlEvent::StreamDry { stream_id }
            | UserControlEvent::StreamIsRecorded { stream_id } => (*stream_id, None),
            UserControlEvent::PingRequest { timestamp }
            | UserControlEvent::PingResponse { timestamp } => (*timestamp, None),
            UserControlEvent::SetBufferLength {
                stream_id,
                buffer_ms,
            } => (*stream_id, Some(*buffer_ms)),
            UserControlEvent::FlowSync { sync_id, count } => (*sync_id, Some(*count)),
            UserControlEvent::SetKeepaliveTimers { server_ms, peer_ms } => {
                (*server_ms, Some(*peer_ms))
            }
            UserControlEvent::Unknown { data, .. } => {
                out.extend_from_slice(data);
                return;
            }
        };
        out.extend_from_slice(&a.to_be_bytes());
        if let Some(b) = b {
            out.extend_from_slice(&b.to_be_bytes());
        }
    }

    /// The payload encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(10);
        self.encode(&mut out);
        out
    }

    /// A type 4 message carrying this event.  Flow Sync and Set Keepalive
    /// Timers ignore the timestamp; 0 is customary.
    pub fn to_message(&self, timestamp: u32) -> Message<'static> {
        Message::new(message_type::USER_CONTROL, timestamp, self.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_sync_layout_of_section_5_2() {
        let e = UserControlEvent::FlowSync {
            sync_id: 8,
            count: 2,
        };
        let m = e.to_message(0).to_bytes().unwrap();
        assert_eq!(m, [4, 0, 0, 0, 0, 0x00, 0x22, 0, 0, 0, 8, 0, 0, 0, 2]);
        assert_eq!(UserControlEvent::parse(&m[5..]), Ok(e));
        assert_eq!(
            UserControlEvent::parse(&[0, 34, 0, 0, 0, 8, 0, 0, 0, 0]),
            Err(FlashError::OutOfRange)
        );
        assert_eq!(
            UserControlEvent::parse(&[0, 34, 0, 0, 0, 8, 0, 0, 0]),
            Err(FlashError::Truncated)
        );
    }

    #[test]
    fn keepalive_layout_of_section_5_3_4() {
        let e = UserControlEvent::SetKeepaliveTimers {
            server_ms: 15_000,
            peer_ms: 10_000,
        };
        assert_eq!(
            e.to_bytes(),
            [0x00, 0x29, 0, 0, 0x3a, 0x98, 0, 0, 0x27, 0x10]
        );
        assert_eq!(UserControlEvent::parse(&e.to_bytes()), Ok(e));
    }
}
