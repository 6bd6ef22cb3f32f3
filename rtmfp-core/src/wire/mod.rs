//! The RFC 7016 §2 wire codec: pure functions over byte slices.
//!
//! Nothing here does I/O, keeps state or allocates where a borrow will do.
//! Every parser returns a typed [`WireError`] on malformed input; none
//! panics and none reads out of bounds, whatever the bytes.
//!
//! - [`vlu`]: variable length unsigned integers (§2.1.2);
//! - [`option`]: options and option lists (§2.1.3, §2.1.4);
//! - [`address`]: Internet socket addresses with an origin (§2.1.5);
//! - [`multiplex`]: the scrambled session ID (§2.2.2);
//! - [`packet`]: the plain packet header and chunk framing (§2.2.4);
//! - [`chunk`]: every chunk of §2.3;
//! - [`ack`]: building the smaller of a Bitmap or Range Ack (§2.3.13-14).

pub mod ack;
pub mod address;
pub mod chunk;
pub mod multiplex;
pub mod option;
pub mod packet;
mod reader;
pub mod vlu;

pub use address::{Address, AddressOrigin};
pub use chunk::{chunk_type, Chunk};
pub use multiplex::{read_multiplex, scramble_session_id, write_multiplex};
pub use packet::{Mode, Packet, PacketBuilder, PacketHeader};
pub use reader::Reader;

use std::fmt;

/// Why a datagram, packet, chunk or field failed to parse or encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The input ended before a field was complete.
    Truncated,
    /// A VLU encodes a value that does not fit in 64 bits.
    VluOverflow,
    /// A length field or count is inconsistent with the data.
    BadLength,
    /// A packet uses the forbidden mode 0 (RFC 7016 §2.2.4).
    ForbiddenMode,
    /// A field holds a value the RFC forbids (for example an empty fragment).
    InvalidValue,
    /// Bytes remain where the structure should have ended.
    TrailingBytes,
    /// An encoded element would not fit: a chunk payload over 65535 bytes,
    /// or a packet over its size limit.
    TooLarge,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            WireError::Truncated => "input truncated",
            WireError::VluOverflow => "VLU overflows 64 bits",
            WireError::BadLength => "inconsistent length",
            WireError::ForbiddenMode => "packet mode 0 is forbidden",
            WireError::InvalidValue => "field value not allowed",
            WireError::TrailingBytes => "unexpected trailing bytes",
            WireError::TooLarge => "element too large to encode",
        };
        f.write_str(text)
    }
}

impl std::error::Error for WireError {}

/// Result type of the wire codec.
pub type Result<T> = std::result::Result<T, WireError>;
