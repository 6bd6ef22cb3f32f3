//! Flash communication codecs (RFC 7425 §5): pure, sans-IO encoders and
//! decoders for everything that rides on RTMFP flows in the Flash profile.
//!
//! - [`amf`]: AMF0 and AMF3 values ([`amf::Value`]), with the AMF0
//!   `avmplus-object-marker` switch to AMF3;
//! - [`message`]: RTMP messages mapped onto flow messages (§5.1.2) and the
//!   message type constants;
//! - [`metadata`]: the "TC" flow metadata (§5.1.1);
//! - [`user_control`]: user control events, including Flow Sync (§5.2)
//!   and Set Keepalive Timers (§5.3.4);
//! - [`command`]: NetConnection / NetStream commands over type 20 (AMF0)
//!   and type 17 (AMF3 command) payloads, with typed helpers such as
//!   `setPeerInfo` (§5.3.3);
//! - [`flv`]: the FLV file format (header, tags, audio and video tag
//!   headers) and a deterministic synthetic FLV generator.
//!
//! Nothing here panics on input: malformed bytes give a typed
//! [`FlashError`] (or [`amf::AmfError`]) for that one message.

pub mod amf;
pub mod candidates;
pub mod check;
mod check_report;
pub use check_report::check_uri;
pub mod client;
pub mod command;
pub mod flow_sync;
pub mod flv;
pub mod flv_io;
pub mod flv_stream;
pub mod inbound;
pub mod media;
pub mod message;
pub mod metadata;
pub mod net_connection;
pub mod peer_id;
pub mod uri;
pub mod user_control;

pub use amf::{AmfError, Value};
pub use client::{ClientConfig, ClientEvent, FlashClient, PeerStreamId, StreamId};
pub use command::{Command, StatusInfo};
pub use message::Message;
pub use metadata::{FlowMetadata, ReceiveIntent};
pub use net_connection::{NetConnection, NetConnectionConfig, NetError, NetStream};
pub use user_control::UserControlEvent;

use std::fmt;

/// Why a Flash message, flow metadata, command or FLV structure failed to
/// parse or encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashError {
    /// The input ended before a field was complete.
    Truncated,
    /// An AMF value inside the message is malformed.
    Amf(AmfError),
    /// Flow metadata does not begin with the "TC" signature (§5.1.1).
    BadSignature,
    /// Flow metadata has its streamIDPresent flag clear (§5.1.1).
    MissingStreamId,
    /// A field holds a value outside its allowed range (for example a
    /// stream ID over 16777215, or a Flow Sync count of 0).
    OutOfRange,
    /// An element is too large to encode (for example a message payload
    /// over 16777215 bytes, §5.1).
    TooLarge,
    /// A type 17 / type 15 payload starts with a format selector other
    /// than 0 (§5.3.3).
    BadFormatSelector(u8),
    /// A command payload does not start with a string command name.
    NotACommand,
    /// The message type does not carry what was asked for (for example
    /// decoding a command from an audio message).
    WrongMessageType(u8),
    /// The bytes are not an FLV file (bad signature or header length).
    BadFlvHeader,
}

impl fmt::Display for FlashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlashError::Truncated => f.write_str("input truncated"),
            FlashError::Amf(e) => write!(f, "malformed AMF: {e}"),
            FlashError::BadSignature => f.write_str("unknown flow metadata signature"),
            FlashError::MissingStreamId => f.write_str("flow metadata without a stream ID"),
            FlashError::OutOfRange => f.write_str("field value out of range"),
            FlashError::TooLarge => f.write_str("element too large to encode"),
            FlashError::BadFormatSelector(b) => write!(f, "unknown format selector {b}"),
            FlashError::NotACommand => f.write_str("payload is not a command"),
            FlashError::WrongMessageType(t) => write!(f, "unexpected message type {t}"),
            FlashError::BadFlvHeader => f.write_str("not an FLV header"),
        }
    }
}

impl std::error::Error for FlashError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FlashError::Amf(e) => Some(e),
            _ => None,
        }
    }
}

impl From<AmfError> for FlashError {
    fn from(e: AmfError) -> Self {
        FlashError::Amf(e)
    }
}

/// Result type of the Flash codecs.
pub type Result<T> = std::result::Result<T, FlashError>;
