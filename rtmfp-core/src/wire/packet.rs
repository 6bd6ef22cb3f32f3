//! The plain packet: header, chunks and padding (RFC 7016 §2.2.4).

use super::{chunk::Chunk, reader::Reader, Result, WireError};

/// TC: time critical forward notification.
pub const FLAG_TC: u8 = 0x80;
/// TCR: time critical reverse notification.
pub const FLAG_TCR: u8 = 0x40;
/// TS: timestamp present.
pub const FLAG_TS: u8 = 0x08;
/// TSE: timestamp echo present.
pub const FLAG_TSE: u8 = 0x04;
/// MOD: the packet mode bits.
pub const MODE_MASK: u8 = 0x03;

/// Bytes of a chunk header: type and length.
pub const CHUNK_HEADER_LEN: usize = 3;
/// Largest chunk payload the 16-bit length can describe.
pub const MAX_CHUNK_PAYLOAD: usize = u16::MAX as usize;

/// Packet mode (§2.2.4).  Mode 0 is forbidden and never represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// 1: sent by the session's original initiator.
    Initiator,
    /// 2: sent by the session's original responder.
    Responder,
    /// 3: session startup.
    Startup,
}

impl Mode {
    /// The MOD bits.
    pub fn bits(self) -> u8 {
        match self {
            Mode::Initiator => 1,
            Mode::Responder => 2,
            Mode::Startup => 3,
        }
    }

    fn from_bits(bits: u8) -> Result<Self> {
        match bits & MODE_MASK {
            1 => Ok(Mode::Initiator),
            2 => Ok(Mode::Responder),
            3 => Ok(Mode::Startup),
            _ => Err(WireError::ForbiddenMode),
        }
    }
}

/// The common header of a plain packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketHeader {
    /// TC: this packet carries real-time user data.
    pub time_critical: bool,
    /// TCR: the sender is receiving time critical packets on other sessions.
    pub time_critical_reverse: bool,
    /// The packet mode.
    pub mode: Mode,
    /// The sender's 250 Hz clock, low 16 bits, if present.
    pub timestamp: Option<u16>,
    /// The sender's estimate of the far end's timestamp, if present.
    pub timestamp_echo: Option<u16>,
}

impl PacketHeader {
    /// A header with only the mode set.
    pub fn new(mode: Mode) -> Self {
        PacketHeader {
            time_critical: false,
            time_critical_reverse: false,
            mode,
            timestamp: None,
            timestamp_echo: None,
        }
    }

    /// Reads a header; the reserved bits are ignored.
    pub fn read(reader: &mut Reader<'_>) -> Result<Self> {
        let flags = reader.u8()?;
        let mode = Mode::from_bits(flags)?;
        let timestamp = if flags & FLAG_TS != 0 {
            Some(reader.u16()?)
        } else {
            None
        };
        let timestamp_echo = if flags & FLAG_TSE != 0 {
            Some(reader.u16()?)
        } else {
            None
        };
        Ok(PacketHeader {
            time_critical: flags & FLAG_TC != 0,
            time_critical_reverse: flags & FLAG_TCR != 0,
            mode,
            timestamp,
            timestamp_echo,
        })
    }

    /// The flags byte.
    pub fn flags(&self) -> u8 {
        let mut flags = self.mode.bits();
        if self.time_critical {
            flags |= FLAG_TC;
        }
        if self.time_critical_reverse {
            flags |= FLAG_TCR;
        }
        if self.timestamp.is_some() {
            flags |= FLAG_TS;
        }
        if self.timestamp_echo.is_some() {
            flags |= FLAG_TSE;
        }
        flags
    }

    /// Appends the header to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.flags());
        if let Some(ts) = self.timestamp {
            out.extend_from_slice(&ts.to_be_bytes());
        }
        if let Some(echo) = self.timestamp_echo {
            out.extend_from_slice(&echo.to_be_bytes());
        }
    }

    /// Length of the encoded header.
    pub fn encoded_len(&self) -> usize {
        1 + 2 * usize::from(self.timestamp.is_some())
            + 2 * usize::from(self.timestamp_echo.is_some())
    }
}

/// A parsed plain packet: its header and its chunk area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The common header.
    pub header: PacketHeader,
    body: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Parses the header of a plain (decrypted) packet.
    ///
    /// A packet with mode 0 is [`WireError::ForbiddenMode`] and MUST be
    /// discarded (§2.2.4).  Chunks are read lazily by [`Packet::chunks`].
    pub fn parse(plain: &'a [u8]) -> Result<Self> {
        let mut reader = Reader::new(plain);
        let header = PacketHeader::read(&mut reader)?;
        Ok(Packet {
            header,
            body: reader.rest(),
        })
    }

    /// Iterates over the chunks, stopping where padding begins.
    pub fn chunks(&self) -> RawChunks<'a> {
        RawChunks { rest: self.body }
    }
}

/// A chunk's type code and its undecoded payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawChunk<'a> {
    /// The chunk type code (§2.3).
    pub chunk_type: u8,
    /// The payload, exactly `chunkLength` bytes.
    pub payload: &'a [u8],
}

impl<'a> RawChunk<'a> {
    /// Decodes the payload according to the type.
    pub fn decode(&self) -> Result<Chunk<'a>> {
        Chunk::decode(self.chunk_type, self.payload)
    }
}

/// Iterator over the chunks of a packet (§2.2.4).
///
/// Fewer than three remaining bytes, or a length running past the end, mark
/// the start of padding and end the iteration.  Ignore/Padding chunks
/// (types 0x00 and 0xff) are skipped.
#[derive(Debug, Clone)]
pub struct RawChunks<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for RawChunks<'a> {
    type Item = RawChunk<'a>;

    fn next(&mut self) -> Option<RawChunk<'a>> {
        loop {
            if self.rest.len() < CHUNK_HEADER_LEN {
                self.rest = &[];
                return None;
            }
            let chunk_type = self.rest[0];
            let len = usize::from(u16::from_be_bytes([self.rest[1], self.rest[2]]));
            let after_header = &self.rest[CHUNK_HEADER_LEN..];
            if len > after_header.len() {
                self.rest = &[];
                return None;
            }
            let (payload, rest) = after_header.split_at(len);
            self.rest = rest;
            if chunk_type == 0x00 || chunk_type == 0xff {
                continue;
            }
            return Some(RawChunk {
                chunk_type,
                payload,
            });
        }
    }
}

/// Appends chunks to a packet without letting it exceed a size limit.
///
/// The builder writes into a caller's buffer, so a packet costs no
/// allocation once that buffer has grown.
#[derive(Debug)]
pub struct PacketBuilder<'b> {
    out: &'b mut Vec<u8>,
    start: usize,
    limit: usize,
    chunks: usize,
}

impl<'b> PacketBuilder<'b> {
    /// Starts a packet with `header` at the end of `out`.  The packet,
    /// header included, will not exceed `limit` bytes.
    pub fn new(header: &PacketHeader, limit: usize, out: &'b mut Vec<u8>) -> Self {
        let start = out.len();
        header.encode(out);
        PacketBuilder {
            out,
            start,
            limit,
            chunks: 0,
        }
    }

    /// Bytes still free under the limit.
    pub fn remaining(&self) -> usize {
        self.limit.saturating_sub(self.len())
    }

    /// Bytes of the packet so far.
    pub fn len(&self) -> usize {
        self.out.len() - self.start
    }

    /// Whether no chunk has been added yet.
    pub fn is_empty(&self) -> bool {
        self.chunks == 0
    }

    /// Number of chunks added.
    pub fn chunk_count(&self) -> usize {
        self.chunks
    }

    /// Adds a chunk, or returns [`WireError::TooLarge`] and leaves the
    /// packet unchanged if it does not fit.
    pub fn push(&mut self, chunk: &Chunk<'_>) -> Result<()> {
        let mark = self.out.len();
        chunk.encode(self.out)?;
        self.commit_or_rollback(mark)
    }

    /// Adds a chunk from its type and an already encoded payload.
    pub fn push_raw(&mut self, chunk_type: u8, payload: &[u8]) -> Result<()> {
        if payload.len() > MAX_CHUNK_PAYLOAD {
            return Err(WireError::TooLarge);
        }
        let mark = self.out.len();
        self.out.push(chunk_type);
        self.out
            .extend_from_slice(&(payload.len() as u16).to_be_bytes());
        self.out.extend_from_slice(payload);
        self.commit_or_rollback(mark)
    }

    /// Adds a chunk whose payload `write` appends to the buffer.
    ///
    /// Use this to encode straight into the packet; the chunk is removed
    /// again if it would not fit.
    pub fn push_with(&mut self, chunk_type: u8, write: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
        let mark = self.out.len();
        self.out.extend_from_slice(&[chunk_type, 0, 0]);
        write(self.out);
        let payload_len = self.out.len() - mark - CHUNK_HEADER_LEN;
        if payload_len > MAX_CHUNK_PAYLOAD {
            self.out.truncate(mark);
            return Err(WireError::TooLarge);
        }
        self.out[mark + 1..mark + 3].copy_from_slice(&(payload_len as u16).to_be_bytes());
        self.commit_or_rollback(mark)
    }

    fn commit_or_rollback(&mut self, mark: usize) -> Result<()> {
        if self.len() > self.limit {
            self.out.truncate(mark);
            return Err(WireError::TooLarge);
        }
        self.chunks += 1;
        Ok(())
    }

    /// Finishes the packet and returns its length.
    pub fn finish(self) -> usize {
        self.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk::Chunk;

    #[test]
    fn header_flags_layout() {
        let header = PacketHeader {
            time_critical: true,
            time_critical_reverse: false,
            mode: Mode::Initiator,
            timestamp: Some(0x1234),
            timestamp_echo: Some(0xabcd),
        };
        let mut out = Vec::new();
        header.encode(&mut out);
        assert_eq!(out, [0x8d, 0x12, 0x34, 0xab, 0xcd]);
        assert_eq!(header.encoded_len(), 5);
        let packet = Packet::parse(&out).unwrap();
        assert_eq!(packet.header, header);
    }

    #[test]
    fn mode_zero_is_forbidden_and_reserved_bits_ignored() {
        assert_eq!(Packet::parse(&[0x00]), Err(WireError::ForbiddenMode));
        assert_eq!(
            Packet::parse(&[0x30 | 0x03]).unwrap().header.mode,
            Mode::Startup
        );
        assert_eq!(Packet::parse(&[0x0b, 0x00]), Err(WireError::Truncated));
    }

    #[test]
    fn chunks_padding_and_ignore_chunks() {
        // Ping(1 byte), an explicit 0x00 ignore chunk, Close, then 0xff padding.
        let plain = [
            0x0b, 0x00, 0x01, 0x01, 0x00, 0x01, 0x2a, 0x00, 0x00, 0x01, 0x77, 0x0c, 0x00, 0x00,
            0xff, 0xff, 0xff, 0xff,
        ];
        let packet = Packet::parse(&plain).unwrap();
        assert_eq!(packet.header.timestamp, Some(1));
        let chunks: Vec<_> = packet.chunks().map(|c| c.decode().unwrap()).collect();
        assert_eq!(chunks, [Chunk::Ping(&[0x2a]), Chunk::Close]);
    }

    #[test]
    fn overrunning_length_starts_padding() {
        let plain = [0x01, 0x01, 0x00, 0x05, 0x01, 0x02];
        assert_eq!(Packet::parse(&plain).unwrap().chunks().count(), 0);
        // Two bytes left: padding.
        assert_eq!(
            Packet::parse(&[0x01, 0x01, 0x00]).unwrap().chunks().count(),
            0
        );
    }

    #[test]
    fn builder_respects_limit() {
        let mut buf = vec![0xee]; // existing content is left alone
        let mut b = PacketBuilder::new(&PacketHeader::new(Mode::Responder), 13, &mut buf);
        assert!(b.is_empty());
        b.push(&Chunk::Ping(&[1, 2, 3])).unwrap(); // 1 + 6
        assert_eq!(b.remaining(), 6);
        assert_eq!(
            b.push(&Chunk::Ping(&[1, 2, 3, 4])),
            Err(WireError::TooLarge)
        );
        b.push(&Chunk::Close).unwrap();
        b.push_raw(0x4c, &[]).unwrap();
        assert_eq!(b.push_raw(0x4c, &[]), Err(WireError::TooLarge));
        assert_eq!(b.chunk_count(), 3);
        assert_eq!(b.finish(), 13);
        assert_eq!(
            buf,
            [0xee, 0x02, 0x01, 0x00, 0x03, 1, 2, 3, 0x0c, 0x00, 0x00, 0x4c, 0x00, 0x00]
        );
    }

    #[test]
    fn push_with_backpatches_length() {
        let mut buf = Vec::new();
        let mut b = PacketBuilder::new(&PacketHeader::new(Mode::Initiator), 100, &mut buf);
        b.push_with(0x01, |out| out.extend_from_slice(&[9, 9]))
            .unwrap();
        assert_eq!(
            b.push_with(0x01, |out| out.resize(out.len() + 200, 0)),
            Err(WireError::TooLarge)
        );
        assert_eq!(buf, [0x01, 0x01, 0x00, 0x02, 9, 9]);
    }
}
