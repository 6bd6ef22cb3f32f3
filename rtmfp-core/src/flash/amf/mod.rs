//! Action Message Format: AMF0 (`amf0.txt`) and AMF3 (`amf3.txt`).
//!
//! Both codecs share one value model, [`Value`].  The encoder is chosen
//! explicitly: [`amf0::encode`] or [`amf3::encode`] (and the message-scoped
//! [`amf0::Encoder`] / [`amf3::Encoder`]).  An AMF0 stream switches one
//! value to AMF3 with the `avmplus-object-marker` (0x11); that value
//! decodes as [`Value::Avmplus`].
//!
//! # References
//!
//! Object references (AMF0 `reference-marker`, AMF3 `U29O-ref`) are kept
//! explicit as [`Value::Reference`]: the decoder checks the index against
//! the object table and the encoder writes it back unchanged.  This keeps
//! round trips byte-exact, allows cycles, and prevents reference-expansion
//! bombs.  AMF3 string and trait references are purely an encoding matter:
//! the decoder resolves them and the encoder emits them wherever it can.
//!
//! # Hostile input
//!
//! Decoders never panic and never pre-allocate from an attacker's count
//! beyond what the remaining input could hold.  Nesting is limited to
//! [`Limits::max_depth`] and the memory a message may decode to (values,
//! strings, and strings repeated through AMF3 references) is limited by
//! [`Limits::max_memory`].  Reference tables are per decoder, that is per
//! message.

pub mod amf0;
pub mod amf3;
mod value;

pub use value::{Dictionary, MixedArray, Object, ObjectVector, Value, Vector};

use std::fmt;

/// Why AMF bytes failed to decode, or a [`Value`] failed to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmfError {
    /// The input ended inside a value.
    Truncated,
    /// A type marker that the format does not define.
    UnknownMarker(u8),
    /// A reserved, unsupported marker (AMF0 movieclip 0x04, recordset 0x0E).
    UnsupportedMarker(u8),
    /// An AMF0 object-end marker outside an object or ECMA array.
    UnexpectedObjectEnd,
    /// A string is not valid UTF-8.
    InvalidUtf8,
    /// A reference points outside its reference table.
    BadReference,
    /// Values nest deeper than [`Limits::max_depth`].
    DepthExceeded,
    /// The decoded message would exceed [`Limits::max_memory`].
    MemoryExceeded,
    /// A length, count or index does not fit its field (for example a
    /// U29 over 2^29 - 1, an AMF0 key over 65535 bytes, or an AMF3 string
    /// over 2^28 - 1 bytes).
    TooLarge,
    /// An empty name where the format reserves it as a terminator (AMF3
    /// dynamic member or associative array key).
    EmptyKey,
}

impl fmt::Display for AmfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AmfError::Truncated => f.write_str("AMF input truncated"),
            AmfError::UnknownMarker(m) => write!(f, "unknown AMF type marker 0x{m:02x}"),
            AmfError::UnsupportedMarker(m) => write!(f, "unsupported AMF type marker 0x{m:02x}"),
            AmfError::UnexpectedObjectEnd => f.write_str("object-end marker outside an object"),
            AmfError::InvalidUtf8 => f.write_str("AMF string is not UTF-8"),
            AmfError::BadReference => f.write_str("AMF reference out of range"),
            AmfError::DepthExceeded => f.write_str("AMF values nest too deeply"),
            AmfError::MemoryExceeded => f.write_str("AMF message decodes too large"),
            AmfError::TooLarge => f.write_str("AMF length or index too large"),
            AmfError::EmptyKey => f.write_str("empty AMF member name"),
        }
    }
}

impl std::error::Error for AmfError {}

/// Result type of the AMF codecs.
pub type Result<T> = std::result::Result<T, AmfError>;

/// Default nesting limit of decoders and encoders.
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// Limits that keep hostile input cheap to reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of containers (objects, arrays, vectors,
    /// dictionaries, AMF3 switches) allowed.
    pub max_depth: usize,
    /// Rough upper bound, in bytes, of the memory the decoded values of
    /// one message may take: each value counts its in-memory size, each
    /// string its length, including every string repeated through an AMF3
    /// string or trait reference.
    pub max_memory: usize,
}

impl Limits {
    /// The default limits for decoding `input_len` bytes: depth
    /// [`DEFAULT_MAX_DEPTH`] and memory 1 MiB + 64 bytes per input byte,
    /// capped at 256 MiB.  Every honest encoding fits: a value takes at
    /// least one input byte and well under 64 bytes of memory.
    pub fn for_input(input_len: usize) -> Limits {
        Limits {
            max_depth: DEFAULT_MAX_DEPTH,
            max_memory: input_len
                .saturating_mul(64)
                .saturating_add(1 << 20)
                .min(256 << 20),
        }
    }
}

/// A bounds-checked cursor over the input of a decoder.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Result<&'a [u8]> {
        if len > self.remaining() {
            return Err(AmfError::Truncated);
        }
        let out = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let b = self.bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_be_bytes(self.array()?))
    }

    pub(crate) fn str(&mut self, len: usize) -> Result<&'a str> {
        std::str::from_utf8(self.bytes(len)?).map_err(|_| AmfError::InvalidUtf8)
    }
}

/// Depth and memory accounting shared by the AMF0 and AMF3 decoders of
/// one message.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    max_depth: usize,
    memory_left: usize,
}

impl Budget {
    pub(crate) fn new(limits: Limits) -> Self {
        Budget {
            max_depth: limits.max_depth,
            memory_left: limits.max_memory,
        }
    }

    /// Fails if `depth` containers deep is too deep.
    pub(crate) fn check_depth(&self, depth: usize) -> Result<()> {
        if depth > self.max_depth {
            Err(AmfError::DepthExceeded)
        } else {
            Ok(())
        }
    }

    /// Charges `bytes` of decoded memory.
    pub(crate) fn charge(&mut self, bytes: usize) -> Result<()> {
        match self.memory_left.checked_sub(bytes) {
            Some(left) => {
                self.memory_left = left;
                Ok(())
            }
            None => Err(AmfError::MemoryExceeded),
        }
    }

    /// Charges one decoded value.
    pub(crate) fn charge_value(&mut self) -> Result<()> {
        self.charge(std::mem::size_of::<Value>())
    }
}

/// Capacity to reserve for `count` elements that each take at least
/// `min_bytes` of the `remaining` input: fails fast when the input cannot
/// hold them, and never reserves more than it could.
pub(crate) fn checked_count(count: usize, min_bytes: usize, remaining: usize) -> Result<usize> {
    match count.checked_mul(min_bytes) {
        Some(need) if need <= remaining => Ok(count),
        _ => Err(AmfError::Truncated),
    }
}
