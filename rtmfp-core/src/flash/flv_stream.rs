//! FLV as a byte stream, sans-IO: what a pipe, a socket or a language
//! binding's `write(bytes)` / `read(buf)` carries (FFmpeg's `-f flv -`,
//! librtmfp's `RTMFP_Write` / `RTMFP_Read`).
//!
//! - [`FlvDemuxer`] takes bytes split anywhere (a header in two writes, a
//!   tag across many) with [`FlvDemuxer::push`] and gives whole, owned
//!   tags with [`FlvDemuxer::next_tag`].  A stream that is not FLV (a bad
//!   signature, an absurd DataOffset, a tag type that is not audio, video
//!   or script data, a tag over the size limit) is an [`FlvStreamError`]
//!   at the first bad byte; every tag complete before it is still
//!   returned.  It holds at most one partial tag: [`MAX_TAG_SIZE`] (the
//!   largest a u24 DataSize can say) or a smaller limit.
//! - [`FlvMuxer`] turns tags into FLV bytes: the header and
//!   PreviousTagSize0 first, then each tag and its PreviousTagSize.  Tags
//!   that arrive out of order (audio, video and data travel on separate
//!   flows, RFC 7425 §5.1.1) are put back in timestamp order within a
//!   window of stream time; a window of 0 writes them as they come.
//!
//! Neither does I/O or reads a clock: the caller moves the bytes.

use super::flv::{tag_type, Header, Tag, TagHeader, HEADER_LEN, SIGNATURE, TAG_HEADER_LEN};
use super::message::MAX_U24;
use super::FlashError;
use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;

/// The largest tag data a stream may carry: 2^24 - 1 bytes, what the
/// u24 DataSize field can say.
pub const MAX_TAG_SIZE: u32 = MAX_U24;

/// The largest header DataOffset accepted.  Version 1 headers are 9 bytes;
/// room is left for a future, longer header, but a DataOffset past this is
/// taken for a stream that is not FLV.
pub const MAX_DATA_OFFSET: u32 = 1024;

/// Why a byte stream is not (or no longer) FLV.  Offsets count bytes from
/// the start of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlvStreamError {
    /// The stream does not start with the signature "FLV"; `found` holds
    /// its first bytes (up to 3).
    NotFlv {
        /// The first bytes of the stream.
        found: Vec<u8>,
    },
    /// The header's DataOffset is under 9 or over [`MAX_DATA_OFFSET`].
    BadDataOffset {
        /// The DataOffset field.
        data_offset: u32,
    },
    /// A tag's first byte has reserved bits set or a type that is not 8
    /// (audio), 9 (video) or 18 (script data): the stream lost its way.
    BadTagType {
        /// Offset of the tag.
        offset: u64,
        /// The tag's first byte.
        byte: u8,
    },
    /// A tag's DataSize is over the demuxer's limit.
    TagTooLarge {
        /// Offset of the tag.
        offset: u64,
        /// Its DataSize.
        size: u32,
        /// The limit.
        max: u32,
    },
    /// The stream ended before its first byte ([`FlvDemuxer::finish`]).
    Empty,
    /// The stream ended inside an element ([`FlvDemuxer::finish`]).
    Truncated {
        /// Offset of the incomplete element.
        offset: u64,
        /// What it was: "the FLV header", "a tag header", "tag data".
        inside: &'static str,
    },
}

impl fmt::Display for FlvStreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlvStreamError::NotFlv { found } => {
                write!(f, "not an FLV stream: it starts with")?;
                for b in found {
                    write!(f, " {b:02x}")?;
                }
                write!(
                    f,
                    " ({:?}), not \"FLV\"",
                    String::from_utf8_lossy(found).escape_debug().to_string()
                )
            }
            FlvStreamError::BadDataOffset { data_offset } => write!(
                f,
                "not an FLV stream: header DataOffset {data_offset} (9 to {MAX_DATA_OFFSET} expected)"
            ),
            FlvStreamError::BadTagType { offset, byte } => write!(
                f,
                "not FLV from byte {offset} on: tag type byte 0x{byte:02x} is not audio (8), \
                 video (9) or script data (18)"
            ),
            FlvStreamError::TagTooLarge { offset, size, max } => write!(
                f,
                "FLV tag at byte {offset} claims {size} bytes of data, over the {max}-byte limit"
            ),
            FlvStreamError::Empty => f.write_str("empty stream: no FLV header"),
            FlvStreamError::Truncated { offset, inside } => {
                write!(f, "FLV stream ended inside {inside} (at byte {offset})")
            }
        }
    }
}

impl std::error::Error for FlvStreamError {}

/// Where the demuxer is in the stream.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Collecting the 9-byte header in `field`.
    Header,
    /// Skipping bytes: the rest of a long header, PreviousTagSize fields.
    Skip(u64),
    /// Collecting an 11-byte tag header in `field`.
    TagHeader,
    /// Collecting a tag's data.
    TagData(TagHeader),
}

/// Incremental FLV reader over bytes that arrive in pieces.
///
/// ```
/// use rtmfp_core::flash::flv::{self, tag_type, Header};
/// use rtmfp_core::flash::flv_stream::FlvDemuxer;
///
/// let mut file = Vec::new();
/// flv::write_header(&Header::new(true, false), &mut file);
/// flv::write_tag(tag_type::AUDIO, 0, &[0xaf, 1, 2, 3], &mut file).unwrap();
///
/// let mut demux = FlvDemuxer::new();
/// demux.push(&file[..5]).unwrap();
/// assert!(demux.next_tag().is_none());
/// demux.push(&file[5..]).unwrap();
/// assert_eq!(demux.next_tag().unwrap().data.as_ref(), &[0xaf, 1, 2, 3]);
/// demux.finish().unwrap();
/// ```
///
/// PreviousTagSize fields are skipped, not checked: files in the wild get
/// them wrong, and a stream that lost its way shows at the next tag
/// header.  A tag is returned as soon as its data is complete, before its
/// PreviousTagSize arrives.  Tags wait in a queue until
/// [`next_tag`](Self::next_tag) takes them, so a caller that pushes
/// without taking holds every tag in memory; [`ready`](Self::ready) says
/// how many wait.
#[derive(Debug, Clone)]
pub struct FlvDemuxer {
    state: State,
    field: Vec<u8>,
    data: Vec<u8>,
    ready: VecDeque<Tag<'static>>,
    header: Option<Header>,
    /// Bytes consumed so far.
    position: u64,
    /// Offset of the element being collected.
    element: u64,
    max_tag_size: u32,
    error: Option<FlvStreamError>,
    tags: u64,
}

impl Default for FlvDemuxer {
    fn default() -> Self {
        FlvDemuxer::new()
    }
}

impl FlvDemuxer {
    /// A demuxer waiting for the FLV header, with the [`MAX_TAG_SIZE`]
    /// limit.
    pub fn new() -> FlvDemuxer {
        FlvDemuxer {
            state: State::Header,
            field: Vec::with_capacity(TAG_HEADER_LEN),
            data: Vec::new(),
            ready: VecDeque::new(),
            header: None,
            position: 0,
            element: 0,
            max_tag_size: MAX_TAG_SIZE,
            error: None,
            tags: 0,
        }
    }

    /// A demuxer that rejects tags with more than `max` bytes of data (at
    /// most [`MAX_TAG_SIZE`]).
    pub fn with_max_tag_size(max: u32) -> FlvDemuxer {
        FlvDemuxer {
            max_tag_size: max.min(MAX_TAG_SIZE),
            ..FlvDemuxer::new()
        }
    }

    /// The stream's header, once its 9 bytes have arrived.
    pub fn header(&self) -> Option<Header> {
        self.header
    }

    /// Bytes consumed so far (all of them, unless an error stopped it).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Tags parsed so far, taken or not.
    pub fn tags_parsed(&self) -> u64 {
        self.tags
    }

    /// Tags waiting for [`next_tag`](Self::next_tag).
    pub fn ready(&self) -> usize {
        self.ready.len()
    }

    /// Bytes held for the element being collected (a partial tag).
    pub fn partial_bytes(&self) -> usize {
        self.field.len() + self.data.len()
    }

    /// The error that stopped the stream, if any.
    pub fn error(&self) -> Option<&FlvStreamError> {
        self.error.as_ref()
    }

    /// The next whole tag, in stream order.
    pub fn next_tag(&mut self) -> Option<Tag<'static>> {
        self.ready.pop_front()
    }

    /// Takes the next piece of the stream.  On an error, the bytes from
    /// the bad element on are dropped, the tags before it stay ready for
    /// [`next_tag`](Self::next_tag), and every later push returns the same
    /// error.
    pub fn push(&mut self, mut bytes: &[u8]) -> Result<(), FlvStreamError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        while !bytes.is_empty() {
            let used = match self.state {
                State::Header => self.header_bytes(bytes),
                State::Skip(left) => {
                    let n = (bytes.len() as u64).min(left);
                    self.state = if n == left {
                        self.element = self.position + n;
                        State::TagHeader
                    } else {
                        State::Skip(left - n)
                    };
                    Ok(n as usize)
                }
                State::TagHeader => self.tag_header_bytes(bytes),
                State::TagData(h) => Ok(self.tag_data_bytes(h, bytes)),
            };
            match used {
                Ok(n) => {
                    self.position += n as u64;
                    bytes = &bytes[n..];
                }
                Err(e) => {
                    self.field.clear();
                    self.data = Vec::new();
                    self.error = Some(e.clone());
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Says that the stream ended.  `Ok` at a tag boundary (a missing last
    /// PreviousTagSize is forgiven); [`FlvStreamError::Truncated`] inside
    /// the header, a tag header or tag data; the stored error if one
    /// stopped the stream.
    pub fn finish(&self) -> Result<(), FlvStreamError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let inside = match self.state {
            State::Header if self.position == 0 => return Err(FlvStreamError::Empty),
            State::Header => "the FLV header",
            // The rest of a longer header, a PreviousTagSize: forgiven.
            State::Skip(_) => return Ok(()),
            State::TagHeader if self.field.is_empty() => return Ok(()),
            State::TagHeader => "a tag header",
            State::TagData(_) => "tag data",
        };
        Err(FlvStreamError::Truncated {
            offset: self.element,
            inside,
        })
    }

    fn header_bytes(&mut self, bytes: &[u8]) -> Result<usize, FlvStreamError> {
        let n = bytes.len().min(HEADER_LEN - self.field.len());
        self.field.extend_from_slice(&bytes[..n]);
        // Check the signature byte by byte: a stream that is not FLV is
        // told so at its first byte.
        let sig = self.field.len().min(SIGNATURE.len());
        if self.field[..sig] != SIGNATURE[..sig] {
            return Err(FlvStreamError::NotFlv {
                found: self.field[..sig].to_vec(),
            });
        }
        if self.field.len() == HEADER_LEN {
            let f = &self.field;
            let data_offset = u32::from_be_bytes([f[5], f[6], f[7], f[8]]);
            if !(HEADER_LEN as u32..=MAX_DATA_OFFSET).contains(&data_offset) {
                return Err(FlvStreamError::BadDataOffset { data_offset });
            }
            self.header = Some(Header {
                version: f[3],
                has_audio: f[4] & 0x04 != 0,
                has_video: f[4] & 0x01 != 0,
                data_offset,
            });
            self.field.clear();
            // The rest of a longer header, then PreviousTagSize0.
            self.state = State::Skip(u64::from(data_offset) - HEADER_LEN as u64 + 4);
        }
        Ok(n)
    }

    fn tag_header_bytes(&mut self, bytes: &[u8]) -> Result<usize, FlvStreamError> {
        let n = bytes.len().min(TAG_HEADER_LEN - self.field.len());
        self.field.extend_from_slice(&bytes[..n]);
        let first = self.field[0];
        // Reserved bits clear (the filter bit is allowed), a known type.
        let kind = first & 0x1f;
        if first & 0xc0 != 0
            || !matches!(kind, tag_type::AUDIO | tag_type::VIDEO | tag_type::SCRIPT)
        {
            return Err(FlvStreamError::BadTagType {
                offset: self.element,
                byte: first,
            });
        }
        if self.field.len() >= 4 {
            let size = u32::from_be_bytes([0, self.field[1], self.field[2], self.field[3]]);
            if size > self.max_tag_size {
                return Err(FlvStreamError::TagTooLarge {
                    offset: self.element,
                    size,
                    max: self.max_tag_size,
                });
            }
        }
        if let Ok(head) = <&[u8; TAG_HEADER_LEN]>::try_from(self.field.as_slice()) {
            let h = TagHeader::parse(head);
            self.field.clear();
            // Grow as the data arrives: a DataSize costs no more memory
            // than the bytes actually sent.
            self.data = Vec::with_capacity((h.data_size as usize).min(64 * 1024));
            self.state = State::TagData(h);
            if h.data_size == 0 {
                self.emit(h);
            }
        }
        Ok(n)
    }

    fn tag_data_bytes(&mut self, h: TagHeader, bytes: &[u8]) -> usize {
        let n = bytes.len().min(h.data_size as usize - self.data.len());
        self.data.extend_from_slice(&bytes[..n]);
        if self.data.len() == h.data_size as usize {
            self.emit(h);
        }
        n
    }

    /// Queues the tag whose data is complete; its PreviousTagSize follows.
    fn emit(&mut self, h: TagHeader) {
        self.ready.push_back(Tag {
            tag_type: h.tag_type,
            filter: h.filter,
            timestamp: h.timestamp,
            stream_id: h.stream_id,
            data: Cow::Owned(std::mem::take(&mut self.data)),
        });
        self.tags += 1;
        self.state = State::Skip(4);
    }
}

/// A backwards jump in timestamps larger than this beyond the window is
/// taken for a stream that started over (a new publish), not a late tag.
pub const RESTART_JUMP_MS: u32 = 10_000;

/// Writes tags as an FLV byte stream, in timestamp order within a window.
///
/// The header and PreviousTagSize0 come out with the first
/// [`push`](Self::push) (or [`finish`](Self::finish)), whether or not a tag
/// leaves the window then, so a reader learns at once that FLV follows.
///
/// **Window.**  A tag is held until a tag `window_ms` newer (in stream
/// time) has been pushed, then written in timestamp order; at equal
/// timestamps script data goes first, then audio, then video, then in
/// arrival order.  A window of 0 writes every tag as it arrives.
/// [`flush`](Self::flush) writes what is held (for a stream that paused),
/// [`finish`](Self::finish) at the end.
///
/// **Timestamps.**  A tag later than the window (any out-of-order tag
/// with a window of 0) is written after tags newer than it;
/// [`late`](Self::late) counts them.  What is done to its timestamp is
/// [`Monotonic`]: by default ([`Monotonic::PerType`]) it keeps it, so that
/// timestamps never decrease within the audio, within the video and
/// within the data, but may step back between them.  That is what FFmpeg
/// reads and writes itself (its FLV muxer does so at the end of a
/// stream); raising the timestamp instead ([`Monotonic::Global`]) makes
/// video DTS repeat, which FFmpeg then has to patch when it remuxes.  A
/// jump back of more than the window plus [`RESTART_JUMP_MS`] is a
/// stream that started over: what is held is written, and the new
/// timestamps are shifted to continue from the last one written.
#[derive(Debug, Clone)]
pub struct FlvMuxer {
    mode: Monotonic,
    header: Header,
    header_written: bool,
    window_ms: u32,
    /// The last timestamp written per rank (script, audio, video, other).
    last_by_type: [Option<u32>; 4],
    /// Held tags by (stream time, rank, arrival).
    held: BTreeMap<(u32, u8, u64), Tag<'static>>,
    /// Added to every incoming timestamp (after a restart).
    shift: u32,
    newest: Option<u32>,
    last_out: Option<u32>,
    seq: u64,
    raised: u64,
    late: u64,
    written: u64,
}

/// How far [`FlvMuxer`] keeps timestamps from going back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Monotonic {
    /// Timestamps as received (after a restart's shift).
    Off,
    /// Never back within a tag type (audio, video, script data); a late
    /// tag keeps its timestamp.  The default.
    #[default]
    PerType,
    /// Never back through the whole stream: a late tag gets the last
    /// timestamp written.
    Global,
}

impl FlvMuxer {
    /// A muxer writing `header` with a window of `window_ms` of stream
    /// time (0: as tags arrive), making timestamps non-decreasing.
    pub fn new(header: Header, window_ms: u32) -> FlvMuxer {
        FlvMuxer {
            header,
            header_written: false,
            window_ms,
            mode: Monotonic::default(),
            last_by_type: [None; 4],
            held: BTreeMap::new(),
            shift: 0,
            newest: None,
            last_out: None,
            seq: 0,
            raised: 0,
            late: 0,
            written: 0,
        }
    }

    /// How timestamps are kept from going back ([`Monotonic::PerType`]
    /// by default).
    pub fn set_monotonic(&mut self, mode: Monotonic) {
        self.mode = mode;
    }

    /// The window in milliseconds of stream time.
    pub fn window_ms(&self) -> u32 {
        self.window_ms
    }

    /// Tags held in the window.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Tags written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Tags whose timestamp was raised (see [`Monotonic`]).
    pub fn raised(&self) -> u64 {
        self.raised
    }

    /// Tags written after a tag with a later timestamp: later than the
    /// window.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// Appends the header and PreviousTagSize0 to `out` if they have not
    /// been written yet.
    pub fn start(&mut self, out: &mut Vec<u8>) {
        if !self.header_written {
            super::flv::write_header(&self.header, out);
            self.header_written = true;
        }
    }

    /// Takes one tag and appends to `out` whatever is now ready (nothing,
    /// or several tags).  Fails, taking nothing, for a tag that cannot be
    /// encoded (data over 2^24 - 1 bytes, type over 31, stream ID over
    /// 2^24 - 1).
    pub fn push(&mut self, tag: Tag<'_>, out: &mut Vec<u8>) -> Result<(), FlashError> {
        tag.header().to_bytes()?;
        self.start(out);
        let mut ts = tag.timestamp.wrapping_add(self.shift);
        if let Some(newest) = self.newest {
            let limit = u64::from(self.window_ms) + u64::from(RESTART_JUMP_MS);
            if u64::from(ts) + limit < u64::from(newest) {
                // The stream started over: what is held came before.
                self.flush(out);
                let base = self.last_out.unwrap_or(newest);
                self.shift = self.shift.wrapping_add(base.wrapping_sub(ts));
                ts = base;
                self.newest = Some(base);
            }
        }
        let newest = self.newest.map_or(ts, |n| n.max(ts));
        self.newest = Some(newest);
        let rank = rank(tag.tag_type);
        self.seq += 1;
        let owned = Tag {
            timestamp: ts,
            ..tag.into_owned()
        };
        self.held.insert((ts, rank, self.seq), owned);
        while let Some(entry) = self.held.first_entry() {
            if u64::from(entry.key().0) + u64::from(self.window_ms) > u64::from(newest) {
                break;
            }
            let tag = entry.remove();
            self.write(tag, out);
        }
        Ok(())
    }

    /// Appends every held tag to `out` (after the header, if not yet
    /// written), in order.
    pub fn flush(&mut self, out: &mut Vec<u8>) {
        self.start(out);
        while let Some((_, tag)) = self.held.pop_first() {
            self.write(tag, out);
        }
    }

    /// The end of the stream: appends the header if nothing was written
    /// yet and every held tag.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.flush(out);
    }

    fn write(&mut self, mut tag: Tag<'static>, out: &mut Vec<u8>) {
        let slot = &mut self.last_by_type[usize::from(rank(tag.tag_type))];
        let floor = match self.mode {
            Monotonic::Off => None,
            Monotonic::PerType => *slot,
            Monotonic::Global => self.last_out,
        };
        if self.last_out.is_some_and(|l| tag.timestamp < l) {
            self.late += 1;
        }
        if let Some(floor) = floor.filter(|&f| tag.timestamp < f) {
            tag.timestamp = floor;
            self.raised += 1;
        }
        *slot = Some(slot.map_or(tag.timestamp, |l| l.max(tag.timestamp)));
        self.last_out = Some(
            self.last_out
                .map_or(tag.timestamp, |l| l.max(tag.timestamp)),
        );
        // Checked in push: this cannot fail.
        let _ = tag.encode(out);
        self.written += 1;
    }
}

/// Order at equal timestamps: script data, audio, video, anything else.
fn rank(tag_type: u8) -> u8 {
    match tag_type {
        tag_type::SCRIPT => 0,
        tag_type::AUDIO => 1,
        tag_type::VIDEO => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::flv::{self, SliceReader};

    /// A small real FLV: metadata, AAC and AVC sequence headers, a few
    /// frames, an empty tag, audio ahead of video.
    fn small_flv() -> Vec<u8> {
        let mut out = Vec::new();
        flv::write_header(&Header::new(true, true), &mut out);
        let mut script = Vec::new();
        crate::flash::amf::amf0::encode_string("onMetaData", &mut script).unwrap();
        script.extend_from_slice(&[0x08, 0, 0, 0, 0, 0, 0, 9]);
        flv::write_tag(tag_type::SCRIPT, 0, &script, &mut out).unwrap();
        flv::write_tag(tag_type::VIDEO, 0, &[0x17, 0, 0, 0, 0, 1, 0x64], &mut out).unwrap();
        flv::write_tag(tag_type::AUDIO, 0, &[0xaf, 0, 0x12, 0x10], &mut out).unwrap();
        flv::write_tag(tag_type::AUDIO, 23, &[0xaf, 1, 1, 2, 3, 4, 5], &mut out).unwrap();
        flv::write_tag(
            tag_type::VIDEO,
            40,
            &[0x17, 1, 0, 0, 0x50, 9, 8, 7],
            &mut out,
        )
        .unwrap();
        flv::write_tag(tag_type::AUDIO, 46, &[], &mut out).unwrap();
        flv::write_tag(tag_type::VIDEO, 80, &[0x27, 1, 0, 0, 0, 6], &mut out).unwrap();
        // A timestamp with the extension byte set.
        flv::write_tag(tag_type::AUDIO, 0x0100_0010, &[0xaf, 1, 0xee], &mut out).unwrap();
        out
    }

    fn expected(file: &[u8]) -> Vec<Tag<'static>> {
        SliceReader::new(file)
            .unwrap()
            .map(|t| t.unwrap().into_owned())
            .collect()
    }

    fn drain(d: &mut FlvDemuxer) -> Vec<Tag<'static>> {
        std::iter::from_fn(|| d.next_tag()).collect()
    }

    #[test]
    fn splits_at_every_offset_give_the_same_tags() {
        let file = small_flv();
        let want = expected(&file);
        assert_eq!(want.len(), 8);
        for i in 0..=file.len() {
            let mut d = FlvDemuxer::new();
            d.push(&file[..i]).unwrap();
            let mut got = drain(&mut d);
            d.push(&file[i..]).unwrap();
            got.extend(drain(&mut d));
            d.finish().unwrap();
            assert_eq!(got, want, "split at {i}");
            assert_eq!(d.header(), Some(Header::new(true, true)));
            assert_eq!(d.position(), file.len() as u64);
        }
        // Every pair of split points: three pieces.
        for i in 0..=file.len() {
            for j in i..=file.len() {
                let mut d = FlvDemuxer::new();
                for piece in [&file[..i], &file[i..j], &file[j..]] {
                    d.push(piece).unwrap();
                }
                assert_eq!(drain(&mut d), want, "split at {i} and {j}");
            }
        }
    }

    #[test]
    fn one_byte_at_a_time_and_tags_as_soon_as_their_data_is_in() {
        let file = small_flv();
        let want = expected(&file);
        let mut d = FlvDemuxer::new();
        let mut got = Vec::new();
        for (i, b) in file.iter().enumerate() {
            d.push(std::slice::from_ref(b)).unwrap();
            got.extend(drain(&mut d));
            // A tag comes out before its PreviousTagSize.
            if i + 1 == file.len() - 4 {
                assert_eq!(got.len(), want.len());
            }
            assert!(d.partial_bytes() <= 32);
        }
        assert_eq!(got, want);
    }

    #[test]
    fn a_synthetic_file_in_odd_pieces() {
        let file = flv::synthetic(2000, 25, 43);
        let want = expected(&file);
        let mut d = FlvDemuxer::new();
        let mut got = Vec::new();
        for piece in file.chunks(1000 - 7) {
            d.push(piece).unwrap();
            got.extend(drain(&mut d));
        }
        d.finish().unwrap();
        assert_eq!(got, want);
        assert_eq!(d.tags_parsed(), want.len() as u64);
    }

    #[test]
    fn a_longer_header_is_skipped() {
        let mut file = small_flv();
        // DataOffset 12: three more header bytes.
        file[8] = 12;
        file.splice(9..9, [0xaa, 0xbb, 0xcc]);
        let mut d = FlvDemuxer::new();
        d.push(&file).unwrap();
        assert_eq!(drain(&mut d), expected(&small_flv()));
        assert_eq!(d.header().unwrap().data_offset, 12);
    }

    #[test]
    fn not_flv_is_told_at_the_first_byte() {
        let mut d = FlvDemuxer::new();
        let e = d.push(b"GIF89a").unwrap_err();
        assert_eq!(
            e,
            FlvStreamError::NotFlv {
                found: b"GIF".to_vec()
            }
        );
        assert!(e.to_string().contains("not an FLV stream"), "{e}");
        assert!(d.next_tag().is_none());
        // Sticky.
        assert_eq!(d.push(b"FLV").unwrap_err(), e);
        assert_eq!(d.finish().unwrap_err(), e);

        let mut d = FlvDemuxer::new();
        d.push(b"FL").unwrap();
        let e = d.push(b"A\x01").unwrap_err();
        assert_eq!(
            e,
            FlvStreamError::NotFlv {
                found: b"FLA".to_vec()
            }
        );
        assert!(e.to_string().contains("46 4c 41"), "{e}");
    }

    #[test]
    fn absurd_data_offsets_are_rejected() {
        for offset in [0u32, 8, MAX_DATA_OFFSET + 1, u32::MAX] {
            let mut file = b"FLV\x01\x05".to_vec();
            file.extend_from_slice(&offset.to_be_bytes());
            let mut d = FlvDemuxer::new();
            let e = d.push(&file).unwrap_err();
            assert_eq!(
                e,
                FlvStreamError::BadDataOffset {
                    data_offset: offset
                }
            );
            assert!(e.to_string().contains("DataOffset"), "{e}");
        }
    }

    #[test]
    fn garbage_after_good_tags_loses_nothing_before_it() {
        let file = small_flv();
        let want = expected(&file);
        for garbage in [
            &b"\x00\x00\x00"[..],
            b"hello world",
            b"\xff",
            b"\x49\0\0\x01",
        ] {
            for split in [0, 1, file.len() / 2] {
                let mut stream = file.clone();
                stream.extend_from_slice(garbage);
                let mut d = FlvDemuxer::new();
                // The good part in pieces, then the rest in one go.
                let cut = file.len() - split;
                d.push(&stream[..cut]).unwrap();
                let e = d.push(&stream[cut..]).unwrap_err();
                assert_eq!(
                    e,
                    FlvStreamError::BadTagType {
                        offset: file.len() as u64,
                        byte: garbage[0],
                    },
                    "{garbage:?}"
                );
                assert_eq!(drain(&mut d), want);
                assert_eq!(d.error(), Some(&e));
                assert!(
                    e.to_string().contains(&format!("byte {}", file.len())),
                    "{e}"
                );
            }
        }
    }

    #[test]
    fn a_tag_over_the_limit_is_rejected_before_its_data() {
        let mut file = Vec::new();
        flv::write_header(&Header::new(false, true), &mut file);
        flv::write_tag(tag_type::VIDEO, 0, &[7; 100], &mut file).unwrap();
        let second = file.len() as u64;
        flv::write_tag(tag_type::VIDEO, 40, &[7; 101], &mut file).unwrap();

        let mut d = FlvDemuxer::with_max_tag_size(100);
        // Only the second tag's header: the error comes before its data.
        let e = d.push(&file[..second as usize + 4]).unwrap_err();
        assert_eq!(
            e,
            FlvStreamError::TagTooLarge {
                offset: second,
                size: 101,
                max: 100
            }
        );
        assert!(e.to_string().contains("101 bytes"), "{e}");
        assert_eq!(drain(&mut d).len(), 1);
        assert_eq!(d.partial_bytes(), 0);

        // The default limit is the u24 maximum: the largest tag fits.
        let mut d = FlvDemuxer::new();
        let mut big = Vec::new();
        flv::write_header(&Header::new(false, true), &mut big);
        flv::write_tag(
            tag_type::VIDEO,
            0,
            &vec![0x17; MAX_TAG_SIZE as usize],
            &mut big,
        )
        .unwrap();
        for piece in big.chunks(1 << 20) {
            d.push(piece).unwrap();
        }
        assert_eq!(d.next_tag().unwrap().data.len(), MAX_TAG_SIZE as usize);
        assert_eq!(
            FlvDemuxer::with_max_tag_size(u32::MAX).max_tag_size,
            MAX_TAG_SIZE
        );
    }

    #[test]
    fn finish_tells_a_truncated_stream() {
        let file = small_flv();
        let mut d = FlvDemuxer::new();
        assert_eq!(d.finish(), Err(FlvStreamError::Empty));
        assert_eq!(
            FlvStreamError::Empty.to_string(),
            "empty stream: no FLV header"
        );
        d.push(&file[..5]).unwrap();
        assert!(matches!(
            d.finish(),
            Err(FlvStreamError::Truncated {
                inside: "the FLV header",
                ..
            })
        ));
        // The header alone, with or without PreviousTagSize0: a stream
        // with no tags yet.
        let mut d = FlvDemuxer::new();
        d.push(&file[..9]).unwrap();
        d.finish().unwrap();
        d.push(&file[9..15]).unwrap();
        assert_eq!(
            d.finish(),
            Err(FlvStreamError::Truncated {
                offset: 13,
                inside: "a tag header"
            })
        );
        d.push(&file[15..30]).unwrap();
        assert!(matches!(
            d.finish(),
            Err(FlvStreamError::Truncated {
                offset: 13,
                inside: "tag data"
            })
        ));
        // All but the last PreviousTagSize: forgiven.
        let mut d = FlvDemuxer::new();
        d.push(&file[..file.len() - 4]).unwrap();
        d.finish().unwrap();
        assert_eq!(drain(&mut d), expected(&file));
    }

    fn tag(kind: u8, ts: u32) -> Tag<'static> {
        Tag::new(kind, ts, vec![kind, ts as u8])
    }

    /// (type, timestamp, original timestamp) of a muxer's output.
    fn written(out: &[u8]) -> Vec<(u8, u32, u8)> {
        expected(out)
            .iter()
            .map(|t| (t.tag_type, t.timestamp, t.data[1]))
            .collect()
    }

    #[test]
    fn the_header_comes_first_even_with_everything_held() {
        let mut m = FlvMuxer::new(Header::new(true, true), 1000);
        let mut out = Vec::new();
        m.push(tag(tag_type::VIDEO, 0), &mut out).unwrap();
        assert_eq!(out, [b'F', b'L', b'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]);
        assert_eq!(m.held(), 1);
        m.finish(&mut out);
        assert_eq!(written(&out), [(9, 0, 0)]);

        let mut empty = Vec::new();
        FlvMuxer::new(Header::new(false, true), 0).finish(&mut empty);
        assert_eq!(empty.len(), 13);
        assert!(SliceReader::new(&empty).unwrap().next().is_none());
    }

    #[test]
    fn window_zero_writes_as_tags_arrive() {
        let arrival = [
            tag(tag_type::VIDEO, 0),
            tag(tag_type::AUDIO, 0),
            tag(tag_type::VIDEO, 40),
            tag(tag_type::AUDIO, 23),
            tag(tag_type::AUDIO, 46),
            tag(tag_type::VIDEO, 80),
        ];
        let mut m = FlvMuxer::new(Header::new(true, true), 0);
        let mut out = Vec::new();
        for (i, t) in arrival.iter().enumerate() {
            let before = out.len();
            m.push(t.clone(), &mut out).unwrap();
            assert!(out.len() > before, "tag {i} written at once");
            assert_eq!(m.held(), 0);
        }
        // Each type's timestamps never go back; between types they may.
        assert_eq!(
            written(&out),
            [
                (9, 0, 0),
                (8, 0, 0),
                (9, 40, 40),
                (8, 23, 23),
                (8, 46, 46),
                (9, 80, 80)
            ]
        );
        assert_eq!((m.late(), m.raised()), (1, 0));

        // Global: the late audio tag gets the last timestamp written.
        let mut m = FlvMuxer::new(Header::new(true, true), 0);
        m.set_monotonic(Monotonic::Global);
        let mut out = Vec::new();
        for t in &arrival {
            m.push(t.clone(), &mut out).unwrap();
        }
        let ts: Vec<u32> = written(&out).iter().map(|t| t.1).collect();
        assert_eq!(ts, [0, 0, 40, 40, 46, 80]);
        assert_eq!((m.late(), m.raised()), (1, 1));
    }

    #[test]
    fn per_type_and_off() {
        // A video tag going back within its own type.
        let arrival = [
            tag(tag_type::VIDEO, 40),
            tag(tag_type::AUDIO, 50),
            tag(tag_type::VIDEO, 20),
        ];
        for (mode, want) in [
            (Monotonic::PerType, [40, 50, 40]),
            (Monotonic::Off, [40, 50, 20]),
            (Monotonic::Global, [40, 50, 50]),
        ] {
            let mut m = FlvMuxer::new(Header::new(true, true), 0);
            m.set_monotonic(mode);
            let mut out = Vec::new();
            for t in &arrival {
                m.push(t.clone(), &mut out).unwrap();
            }
            let ts: Vec<u32> = written(&out).iter().map(|t| t.1).collect();
            assert_eq!(ts, want, "{mode:?}");
            assert_eq!(m.late(), 1);
        }
    }

    #[test]
    fn a_window_puts_flows_back_in_order() {
        let arrival = [
            tag(tag_type::VIDEO, 0),
            tag(tag_type::VIDEO, 40),
            tag(tag_type::AUDIO, 0),
            tag(tag_type::SCRIPT, 0),
            tag(tag_type::AUDIO, 23),
            tag(tag_type::VIDEO, 80),
            tag(tag_type::AUDIO, 46),
            tag(tag_type::VIDEO, 120),
            tag(tag_type::VIDEO, 160),
            tag(tag_type::VIDEO, 200),
            tag(tag_type::VIDEO, 240),
            // Later than the 100 ms window: written late, as it is.
            tag(tag_type::AUDIO, 69),
            tag(tag_type::AUDIO, 250),
        ];
        let mut m = FlvMuxer::new(Header::new(true, true), 100);
        let mut out = Vec::new();
        let mut held = Vec::new();
        for t in arrival {
            m.push(t, &mut out).unwrap();
            held.push(m.held());
        }
        // Nothing leaves before a tag 100 ms newer than it came.
        assert_eq!(held[..5], [1, 2, 3, 4, 5]);
        m.finish(&mut out);
        assert_eq!(
            written(&out),
            [
                (18, 0, 0),
                (8, 0, 0),
                (9, 0, 0),
                (8, 23, 23),
                (9, 40, 40),
                (8, 46, 46),
                (9, 80, 80),
                (9, 120, 120),
                (8, 69, 69),
                (9, 160, 160),
                (9, 200, 200),
                (9, 240, 240),
                (8, 250, 250),
            ]
        );
        assert_eq!((m.late(), m.raised()), (1, 0));
        assert_eq!(m.written(), 13);
    }

    #[test]
    fn a_stream_that_starts_over_continues_from_the_last_timestamp() {
        let mut m = FlvMuxer::new(Header::new(true, true), 200);
        let mut out = Vec::new();
        for ts in (0..=60_000).step_by(1000) {
            m.push(tag(tag_type::VIDEO, ts), &mut out).unwrap();
        }
        m.push(tag(tag_type::VIDEO, 0), &mut out).unwrap();
        m.push(tag(tag_type::VIDEO, 40), &mut out).unwrap();
        m.finish(&mut out);
        let ts: Vec<u32> = written(&out).iter().map(|t| t.1).collect();
        assert_eq!(ts[ts.len() - 3..], [60_000, 60_000, 60_040]);
        assert!(ts.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn muxer_output_reads_back_through_the_demuxer() {
        let file = flv::synthetic(3000, 25, 43);
        let tags = expected(&file);
        let mut m = FlvMuxer::new(Header::new(true, true), 0);
        let mut out = Vec::new();
        for t in &tags {
            m.push(t.clone(), &mut out).unwrap();
        }
        m.finish(&mut out);
        assert_eq!(out, file);
        let mut d = FlvDemuxer::new();
        d.push(&out).unwrap();
        assert_eq!(drain(&mut d), tags);

        // An unencodable tag is refused and not held.
        let mut bad = Tag::new(tag_type::VIDEO, 0, vec![]);
        bad.stream_id = 1 << 24;
        assert!(m.push(bad, &mut out).is_err());
        assert_eq!(m.held(), 0);
    }
}
