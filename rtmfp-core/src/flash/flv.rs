//! The FLV file format (flv-v10.1.txt Annex E): header, tags with their
//! back-pointers, and the audio and video tag headers.
//!
//! ```text
//! header (9+ bytes) | PreviousTagSize0 = 0 | tag 1 | PreviousTagSize1 | ...
//! tag = reserved:2 filter:1 type:5 | size u24 | timestamp u24 | ext u8 |
//!       stream ID u24 (0) | data
//! ```
//!
//! Tag types 8 (audio), 9 (video) and 18 (script data, AMF0) are the RTMP
//! message types of the same numbers, so a tag maps to a [`Message`] with
//! [`Tag::to_message`].
//!
//! Readers: [`SliceReader`] over bytes in memory (zero-copy) and [`Reader`]
//! over any [`io::Read`]; writer: [`Writer`] over any [`io::Write`], or
//! [`write_header`] / [`write_tag`] into a `Vec`.  [`synthetic`] builds a
//! deterministic test file.

use super::amf::{amf0, Value};
use super::message::{Message, MAX_U24};
use super::{FlashError, Result};
use std::borrow::Cow;
use std::io::{self, Read, Write};

/// The file signature, "FLV".
pub const SIGNATURE: [u8; 3] = *b"FLV";
/// Length of the version 1 header.
pub const HEADER_LEN: usize = 9;
/// Length of a tag header (before the data).
pub const TAG_HEADER_LEN: usize = 11;

/// Tag types.
pub mod tag_type {
    /// Audio.
    pub const AUDIO: u8 = 8;
    /// Video.
    pub const VIDEO: u8 = 9;
    /// Script data (AMF0).
    pub const SCRIPT: u8 = 18;
}

/// Audio `SoundFormat` values.
pub mod sound_format {
    /// Linear PCM, platform endian.
    pub const PCM_PLATFORM: u8 = 0;
    /// ADPCM.
    pub const ADPCM: u8 = 1;
    /// MP3.
    pub const MP3: u8 = 2;
    /// Linear PCM, little endian.
    pub const PCM_LE: u8 = 3;
    /// Nellymoser 16 kHz mono.
    pub const NELLYMOSER_16K: u8 = 4;
    /// Nellymoser 8 kHz mono.
    pub const NELLYMOSER_8K: u8 = 5;
    /// Nellymoser.
    pub const NELLYMOSER: u8 = 6;
    /// G.711 A-law.
    pub const G711_ALAW: u8 = 7;
    /// G.711 mu-law.
    pub const G711_MULAW: u8 = 8;
    /// AAC (followed by an AACPacketType byte).
    pub const AAC: u8 = 10;
    /// Speex.
    pub const SPEEX: u8 = 11;
    /// MP3 8 kHz.
    pub const MP3_8K: u8 = 14;
    /// Device-specific sound.
    pub const DEVICE: u8 = 15;
}

/// Video `FrameType` values.
pub mod frame_type {
    /// Key frame (for AVC, a seekable frame).
    pub const KEY: u8 = 1;
    /// Inter frame.
    pub const INTER: u8 = 2;
    /// Disposable inter frame (H.263 only).
    pub const DISPOSABLE_INTER: u8 = 3;
    /// Generated key frame (server use).
    pub const GENERATED_KEY: u8 = 4;
    /// Video info/command frame.
    pub const INFO: u8 = 5;
}

/// Video `CodecID` values.
pub mod codec_id {
    /// Sorenson H.263.
    pub const SORENSON_H263: u8 = 2;
    /// Screen video.
    pub const SCREEN: u8 = 3;
    /// On2 VP6.
    pub const VP6: u8 = 4;
    /// On2 VP6 with alpha.
    pub const VP6_ALPHA: u8 = 5;
    /// Screen video version 2.
    pub const SCREEN_V2: u8 = 6;
    /// AVC (H.264; followed by AVCPacketType and CompositionTime).
    pub const AVC: u8 = 7;
}

/// The FLV file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// File version (1).
    pub version: u8,
    /// TypeFlagsAudio.
    pub has_audio: bool,
    /// TypeFlagsVideo.
    pub has_video: bool,
    /// Length of the header in bytes (9 for version 1).
    pub data_offset: u32,
}

impl Header {
    /// A version 1 header.
    pub fn new(has_audio: bool, has_video: bool) -> Header {
        Header {
            version: 1,
            has_audio,
            has_video,
            data_offset: HEADER_LEN as u32,
        }
    }

    /// Parses the first 9 bytes of a file.  Fails with
    /// [`FlashError::BadFlvHeader`] for a wrong signature or a DataOffset
    /// under 9.
    pub fn parse(bytes: &[u8]) -> Result<Header> {
        let b = bytes.get(..HEADER_LEN).ok_or(FlashError::Truncated)?;
        if b[..3] != SIGNATURE {
            return Err(FlashError::BadFlvHeader);
        }
        let data_offset = u32::from_be_bytes([b[5], b[6], b[7], b[8]]);
        if data_offset < HEADER_LEN as u32 {
            return Err(FlashError::BadFlvHeader);
        }
        Ok(Header {
            version: b[3],
            has_audio: b[4] & 0x04 != 0,
            has_video: b[4] & 0x01 != 0,
            data_offset,
        })
    }

    /// Appends the 9-byte header.  `data_offset` is not used: the header
    /// written is always 9 bytes long, with DataOffset 9.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&SIGNATURE);
        out.push(self.version);
        out.push((u8::from(self.has_audio) << 2) | u8::from(self.has_video));
        out.extend_from_slice(&(HEADER_LEN as u32).to_be_bytes());
    }
}

/// The 11-byte header of a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagHeader {
    /// TagType (5 bits).
    pub tag_type: u8,
    /// Filter: the tag is encrypted / needs pre-processing.
    pub filter: bool,
    /// DataSize: bytes of data after the header.
    pub data_size: u32,
    /// Timestamp in milliseconds (24 bits plus the extension byte as the
    /// upper 8).
    pub timestamp: u32,
    /// StreamID (always 0 in files).
    pub stream_id: u32,
}

impl TagHeader {
    /// Parses a tag header.
    pub fn parse(b: &[u8; TAG_HEADER_LEN]) -> TagHeader {
        TagHeader {
            tag_type: b[0] & 0x1f,
            filter: b[0] & 0x20 != 0,
            data_size: u32::from_be_bytes([0, b[1], b[2], b[3]]),
            timestamp: u32::from_be_bytes([b[7], b[4], b[5], b[6]]),
            stream_id: u32::from_be_bytes([0, b[8], b[9], b[10]]),
        }
    }

    /// The encoding.  Fails with [`FlashError::OutOfRange`] for a tag type
    /// over 31 or a stream ID over 2^24 - 1, and [`FlashError::TooLarge`]
    /// for a data size over 2^24 - 1.
    pub fn to_bytes(&self) -> Result<[u8; TAG_HEADER_LEN]> {
        if self.tag_type > 0x1f || self.stream_id > MAX_U24 {
            return Err(FlashError::OutOfRange);
        }
        if self.data_size > MAX_U24 {
            return Err(FlashError::TooLarge);
        }
        let size = self.data_size.to_be_bytes();
        let ts = self.timestamp.to_be_bytes();
        let sid = self.stream_id.to_be_bytes();
        Ok([
            self.tag_type | (u8::from(self.filter) << 5),
            size[1],
            size[2],
            size[3],
            ts[1],
            ts[2],
            ts[3],
            ts[0],
            sid[1],
            sid[2],
            sid[3],
        ])
    }
}

/// One tag: header fields and data (borrowed or owned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag<'a> {
    /// TagType: 8 audio, 9 video, 18 script data.
    pub tag_type: u8,
    /// Filter bit (encrypted tag).
    pub filter: bool,
    /// Timestamp in milliseconds.
    pub timestamp: u32,
    /// StreamID field (0 in files).
    pub stream_id: u32,
    /// The tag data, starting with the audio / video tag header.
    pub data: Cow<'a, [u8]>,
}

impl<'a> Tag<'a> {
    /// A tag owning its data, with filter clear and stream ID 0.
    pub fn new(tag_type: u8, timestamp: u32, data: Vec<u8>) -> Tag<'static> {
        Tag {
            tag_type,
            filter: false,
            timestamp,
            stream_id: 0,
            data: Cow::Owned(data),
        }
    }

    /// A tag borrowing its data, with filter clear and stream ID 0.
    pub fn borrowed(tag_type: u8, timestamp: u32, data: &'a [u8]) -> Tag<'a> {
        Tag {
            tag_type,
            filter: false,
            timestamp,
            stream_id: 0,
            data: Cow::Borrowed(data),
        }
    }

    /// The tag's header.
    pub fn header(&self) -> TagHeader {
        TagHeader {
            tag_type: self.tag_type,
            filter: self.filter,
            data_size: u32::try_from(self.data.len()).unwrap_or(u32::MAX),
            timestamp: self.timestamp,
            stream_id: self.stream_id,
        }
    }

    /// Whether this is an audio tag.
    pub fn is_audio(&self) -> bool {
        self.tag_type == tag_type::AUDIO
    }

    /// Whether this is a video tag.
    pub fn is_video(&self) -> bool {
        self.tag_type == tag_type::VIDEO
    }

    /// Whether this is a script data tag.
    pub fn is_script(&self) -> bool {
        self.tag_type == tag_type::SCRIPT
    }

    /// The audio tag header, for an audio tag.
    pub fn audio_header(&self) -> Option<Result<AudioHeader>> {
        self.is_audio().then(|| AudioHeader::parse(&self.data))
    }

    /// The video tag header, for a video tag.
    pub fn video_header(&self) -> Option<Result<VideoHeader>> {
        self.is_video().then(|| VideoHeader::parse(&self.data))
    }

    /// Whether this is a video key frame (FrameType 1 or 4).
    pub fn is_keyframe(&self) -> bool {
        matches!(self.video_header(), Some(Ok(h)) if h.is_keyframe())
    }

    /// The AMF0 values of a script data tag (for example "onMetaData" and
    /// an ECMA array).
    pub fn script_values(&self) -> Result<Vec<Value>> {
        if !self.is_script() {
            return Err(FlashError::WrongMessageType(self.tag_type));
        }
        Ok(amf0::decode_all(&self.data)?)
    }

    /// The RTMP message of the same type, timestamp and payload.
    pub fn to_message(&self) -> Message<'_> {
        Message::borrowed(self.tag_type, self.timestamp, &self.data)
    }

    /// A tag from an RTMP message (audio, video or data).
    pub fn from_message(message: &'a Message<'_>) -> Tag<'a> {
        Tag::borrowed(message.message_type, message.timestamp, &message.payload)
    }

    /// A copy that owns its data.
    pub fn into_owned(self) -> Tag<'static> {
        Tag {
            tag_type: self.tag_type,
            filter: self.filter,
            timestamp: self.timestamp,
            stream_id: self.stream_id,
            data: Cow::Owned(self.data.into_owned()),
        }
    }

    /// Appends the tag and its PreviousTagSize to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let header = self.header().to_bytes()?;
        out.reserve(TAG_HEADER_LEN + self.data.len() + 4);
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&((TAG_HEADER_LEN + self.data.len()) as u32).to_be_bytes());
        Ok(())
    }
}

/// Appends a header and PreviousTagSize0 to `out`.
pub fn write_header(header: &Header, out: &mut Vec<u8>) {
    header.encode(out);
    out.extend_from_slice(&[0; 4]);
}

/// Appends a tag (filter clear, stream ID 0) and its PreviousTagSize.
pub fn write_tag(tag_type: u8, timestamp: u32, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    Tag::borrowed(tag_type, timestamp, data).encode(out)
}

/// Reads the tags of an FLV file held in memory, without copying.
///
/// PreviousTagSize fields are not checked against the tags (files in the
/// wild often get them wrong), but must be present.  The iterator yields
/// an error for a truncated tag and then stops.
#[derive(Debug, Clone)]
pub struct SliceReader<'a> {
    header: Header,
    file: &'a [u8],
    pos: usize,
}

impl<'a> SliceReader<'a> {
    /// Parses the header and PreviousTagSize0 of `file`.
    pub fn new(file: &'a [u8]) -> Result<SliceReader<'a>> {
        let header = Header::parse(file)?;
        let pos = (header.data_offset as usize)
            .checked_add(4)
            .filter(|&p| p <= file.len())
            .ok_or(FlashError::Truncated)?;
        Ok(SliceReader { header, file, pos })
    }

    /// The file header.
    pub fn header(&self) -> Header {
        self.header
    }

    /// Offset of the next tag in the file.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Reads the next tag; `Ok(None)` at the clean end of the file.
    pub fn next_tag(&mut self) -> Result<Option<Tag<'a>>> {
        let rest = &self.file[self.pos..];
        if rest.is_empty() {
            return Ok(None);
        }
        let Some(head) = rest.first_chunk::<TAG_HEADER_LEN>() else {
            return Err(FlashError::Truncated);
        };
        let h = TagHeader::parse(head);
        let end = TAG_HEADER_LEN + h.data_size as usize;
        // The data and the PreviousTagSize after it.
        if rest.len() < end + 4 {
            return Err(FlashError::Truncated);
        }
        self.pos += end + 4;
        Ok(Some(Tag {
            tag_type: h.tag_type,
            filter: h.filter,
            timestamp: h.timestamp,
            stream_id: h.stream_id,
            data: Cow::Borrowed(&rest[TAG_HEADER_LEN..end]),
        }))
    }
}

impl<'a> Iterator for SliceReader<'a> {
    type Item = Result<Tag<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_tag() {
            Ok(tag) => tag.map(Ok),
            Err(e) => {
                self.pos = self.file.len();
                Some(Err(e))
            }
        }
    }
}

fn invalid(e: FlashError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Fills `buf`; `Ok(false)` if the stream ended before the first byte.
fn read_exact_or_eof<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Reads the tags of an FLV file from a byte stream.
///
/// Tag data grows as it arrives, so a lying DataSize costs no more memory
/// than the bytes actually sent.  Malformed files give
/// [`io::ErrorKind::InvalidData`] (wrapping a [`FlashError`]) or
/// [`io::ErrorKind::UnexpectedEof`].
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    header: Header,
}

impl<R: Read> Reader<R> {
    /// Reads the header and PreviousTagSize0.
    pub fn new(mut inner: R) -> io::Result<Reader<R>> {
        let mut head = [0u8; HEADER_LEN];
        inner.read_exact(&mut head)?;
        let header = Header::parse(&head).map_err(invalid)?;
        let skip = u64::from(header.data_offset) - HEADER_LEN as u64 + 4;
        let skipped = io::copy(&mut (&mut inner).take(skip), &mut io::sink())?;
        if skipped != skip {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(Reader { inner, header })
    }

    /// The file header.
    pub fn header(&self) -> Header {
        self.header
    }

    /// Reads the next tag's data into `data` (replacing its contents) and
    /// returns its header; `Ok(None)` at the clean end of the stream.
    pub fn read_tag_into(&mut self, data: &mut Vec<u8>) -> io::Result<Option<TagHeader>> {
        let mut head = [0u8; TAG_HEADER_LEN];
        if !read_exact_or_eof(&mut self.inner, &mut head)? {
            return Ok(None);
        }
        let h = TagHeader::parse(&head);
        data.clear();
        let size = u64::from(h.data_size);
        (&mut self.inner).take(size).read_to_end(data)?;
        if data.len() as u64 != size {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut back = [0u8; 4];
        self.inner.read_exact(&mut back)?;
        Ok(Some(h))
    }

    /// Reads the next tag; `Ok(None)` at the clean end of the stream.
    pub fn read_tag(&mut self) -> io::Result<Option<Tag<'static>>> {
        let mut data = Vec::new();
        Ok(self.read_tag_into(&mut data)?.map(|h| Tag {
            tag_type: h.tag_type,
            filter: h.filter,
            timestamp: h.timestamp,
            stream_id: h.stream_id,
            data: Cow::Owned(data),
        }))
    }

    /// The underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = io::Result<Tag<'static>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read_tag().transpose()
    }
}

/// Writes an FLV file to a byte sink.
#[derive(Debug)]
pub struct Writer<W: Write> {
    inner: W,
}

impl<W: Write> Writer<W> {
    /// Writes the header and PreviousTagSize0.
    pub fn new(mut inner: W, header: &Header) -> io::Result<Writer<W>> {
        let mut head = Vec::with_capacity(HEADER_LEN + 4);
        write_header(header, &mut head);
        inner.write_all(&head)?;
        Ok(Writer { inner })
    }

    /// Writes one tag and its PreviousTagSize.
    pub fn write_tag(&mut self, tag: &Tag<'_>) -> io::Result<()> {
        let header = tag.header().to_bytes().map_err(invalid)?;
        let back = ((TAG_HEADER_LEN + tag.data.len()) as u32).to_be_bytes();
        self.inner.write_all(&header)?;
        self.inner.write_all(&tag.data)?;
        self.inner.write_all(&back)
    }

    /// Writes an audio, video or script data message as a tag.
    pub fn write_message(&mut self, message: &Message<'_>) -> io::Result<()> {
        self.write_tag(&Tag::from_message(message))
    }

    /// Flushes the sink.
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// The AudioTagHeader at the start of an audio tag's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioHeader {
    /// SoundFormat (see [`sound_format`]).
    pub sound_format: u8,
    /// SoundRate: 0 = 5.5 kHz, 1 = 11 kHz, 2 = 22 kHz, 3 = 44 kHz.
    pub sound_rate: u8,
    /// SoundSize: 0 = 8-bit, 1 = 16-bit samples.
    pub sound_size: u8,
    /// SoundType: 0 = mono, 1 = stereo.
    pub sound_type: u8,
    /// AACPacketType (0 sequence header, 1 raw), for AAC only.
    pub aac_packet_type: Option<u8>,
}

impl AudioHeader {
    /// Parses the header at the start of `data`.
    pub fn parse(data: &[u8]) -> Result<AudioHeader> {
        let b = *data.first().ok_or(FlashError::Truncated)?;
        let sound_format = b >> 4;
        let aac_packet_type = if sound_format == sound_format::AAC {
            Some(*data.get(1).ok_or(FlashError::Truncated)?)
        } else {
            None
        };
        Ok(AudioHeader {
            sound_format,
            sound_rate: (b >> 2) & 0x03,
            sound_size: (b >> 1) & 0x01,
            sound_type: b & 0x01,
            aac_packet_type,
        })
    }

    /// Length of the header: 2 for AAC, else 1.
    pub fn len(&self) -> usize {
        1 + usize::from(self.aac_packet_type.is_some())
    }

    /// Always false: a header takes at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether this is an AAC sequence header (AudioSpecificConfig).
    pub fn is_aac_sequence_header(&self) -> bool {
        self.sound_format == sound_format::AAC && self.aac_packet_type == Some(0)
    }

    /// Appends the header (fields masked to their widths).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(
            (self.sound_format << 4)
                | ((self.sound_rate & 3) << 2)
                | ((self.sound_size & 1) << 1)
                | (self.sound_type & 1),
        );
        if let Some(t) = self.aac_packet_type {
            out.push(t);
        }
    }
}

/// The VideoTagHeader at the start of a video tag's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoHeader {
    /// FrameType (see [`frame_type`]).
    pub frame_type: u8,
    /// CodecID (see [`codec_id`]).
    pub codec_id: u8,
    /// AVCPacketType (0 sequence header, 1 NALU, 2 end of sequence), for
    /// AVC only.
    pub avc_packet_type: Option<u8>,
    /// CompositionTime offset in milliseconds (SI24), for AVC only.
    pub composition_time: i32,
}

impl VideoHeader {
    /// Parses the header at the start of `data`.
    pub fn parse(data: &[u8]) -> Result<VideoHeader> {
        let b = *data.first().ok_or(FlashError::Truncated)?;
        let codec_id = b & 0x0f;
        let (avc_packet_type, composition_time) = if codec_id == codec_id::AVC {
            let avc = data.get(1..5).ok_or(FlashError::Truncated)?;
            // Sign-extend the SI24.
            let ct = i32::from_be_bytes([avc[1], avc[2], avc[3], 0]) >> 8;
            (Some(avc[0]), ct)
        } else {
            (None, 0)
        };
        Ok(VideoHeader {
            frame_type: b >> 4,
            codec_id,
            avc_packet_type,
            composition_time,
        })
    }

    /// Length of the header: 5 for AVC, else 1.
    pub fn len(&self) -> usize {
        if self.avc_packet_type.is_some() {
            5
        } else {
            1
        }
    }

    /// Always false: a header takes at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether the frame is a key frame (FrameType 1, or 4 generated).
    pub fn is_keyframe(&self) -> bool {
        matches!(self.frame_type, frame_type::KEY | frame_type::GENERATED_KEY)
    }

    /// Whether this is an AVC sequence header (decoder configuration).
    pub fn is_avc_sequence_header(&self) -> bool {
        self.codec_id == codec_id::AVC && self.avc_packet_type == Some(0)
    }

    /// Whether this is a video info/command frame (FrameType 5).
    pub fn is_info_frame(&self) -> bool {
        self.frame_type == frame_type::INFO
    }

    /// Appends the header.  The AVC fields are written when
    /// `avc_packet_type` is set; the composition time is truncated to 24
    /// bits.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push((self.frame_type << 4) | (self.codec_id & 0x0f));
        if let Some(t) = self.avc_packet_type {
            out.push(t);
            out.extend_from_slice(&self.composition_time.to_be_bytes()[1..]);
        }
    }
}

/// Video and audio tag counts of [`synthetic`]`(duration_ms, fps,
/// audio_rate)`; the file also has one script data tag.
pub fn synthetic_tag_counts(duration_ms: u32, fps: u32, audio_rate: u32) -> (usize, usize) {
    let count = |rate: u32| (u64::from(duration_ms) * u64::from(rate)).div_ceil(1000) as usize;
    (count(fps), count(audio_rate))
}

/// Deterministic filler bytes for tag `index` of stream `kind`.
fn filler(kind: u32, index: u32, len: usize, out: &mut Vec<u8>) {
    let mut x = (kind << 24) ^ index.wrapping_mul(0x9e37_79b9) ^ 0x2545_f491;
    out.extend((0..len).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
}

/// A deterministic FLV file for tests and benchmarks.
///
/// - one script data tag at 0 ms: `"onMetaData"` and an ECMA array with
///   `duration` (s), `framerate`, `videocodecid` 7, `audiocodecid` 10,
///   `audiosamplerate` 44100 and `stereo`;
/// - video at `fps`, for `duration_ms`: AVC NALU tags (no sequence
///   header), a key frame every `fps` frames (once a second) starting with
///   the first, the others inter frames; key frames carry 1200 bytes after
///   the header, inter frames 300 to 480;
/// - audio at `audio_rate` tags per second: AAC raw tags (44 kHz, 16-bit,
///   stereo) of 100 to 130 bytes after the header.
///
/// Tag `i` of a stream is at `i * 1000 / rate` ms; audio goes before video
/// at equal times.  The counts are [`synthetic_tag_counts`]; a rate of 0
/// leaves that stream (and its header flag) out.  Bodies are pseudo-random
/// but a pure function of the arguments.
pub fn synthetic(duration_ms: u32, fps: u32, audio_rate: u32) -> Vec<u8> {
    let (videos, audios) = synthetic_tag_counts(duration_ms, fps, audio_rate);
    let mut out = Vec::new();
    write_header(&Header::new(audios > 0, videos > 0), &mut out);

    let meta = Value::EcmaArray(vec![
        (
            "duration".to_owned(),
            Value::Number(f64::from(duration_ms) / 1000.0),
        ),
        ("framerate".to_owned(), Value::Number(f64::from(fps))),
        ("videocodecid".to_owned(), Value::Number(7.0)),
        ("audiocodecid".to_owned(), Value::Number(10.0)),
        ("audiosamplerate".to_owned(), Value::Number(44100.0)),
        ("stereo".to_owned(), Value::Boolean(true)),
    ]);
    let mut script = Vec::new();
    let _ = amf0::encode_string("onMetaData", &mut script);
    let _ = amf0::Encoder::new().encode(&meta, &mut script);
    let _ = write_tag(tag_type::SCRIPT, 0, &script, &mut out);

    let time = |i: usize, rate: u32| (i as u64 * 1000 / u64::from(rate.max(1))) as u32;
    let (mut v, mut a) = (0usize, 0usize);
    let mut data = Vec::new();
    while v < videos || a < audios {
        let audio_next = a < audios && (v >= videos || time(a, audio_rate) <= time(v, fps));
        data.clear();
        if audio_next {
            AudioHeader {
                sound_format: sound_format::AAC,
                sound_rate: 3,
                sound_size: 1,
                sound_type: 1,
                aac_packet_type: Some(1),
            }
            .encode(&mut data);
            filler(1, a as u32, 100 + (a % 4) * 10, &mut data);
            let _ = write_tag(tag_type::AUDIO, time(a, audio_rate), &data, &mut out);
            a += 1;
        } else {
            let key = v % fps.max(1) as usize == 0;
            VideoHeader {
                frame_type: if key {
                    frame_type::KEY
                } else {
                    frame_type::INTER
                },
                codec_id: codec_id::AVC,
                avc_packet_type: Some(1),
                composition_time: 0,
            }
            .encode(&mut data);
            let len = if key { 1200 } else { 300 + (v % 10) * 20 };
            filler(2, v as u32, len, &mut data);
            let _ = write_tag(tag_type::VIDEO, time(v, fps), &data, &mut out);
            v += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_by_hand() {
        let mut out = Vec::new();
        write_header(&Header::new(true, true), &mut out);
        assert_eq!(out, [b'F', b'L', b'V', 1, 0x05, 0, 0, 0, 9, 0, 0, 0, 0]);
        assert_eq!(Header::parse(&out).unwrap(), Header::new(true, true));
        assert_eq!(
            Header::parse(b"FLX\x01\x05\0\0\0\x09"),
            Err(FlashError::BadFlvHeader)
        );
        assert_eq!(
            Header::parse(b"FLV\x01\x05\0\0\0\x08"),
            Err(FlashError::BadFlvHeader)
        );
        assert_eq!(Header::parse(b"FLV"), Err(FlashError::Truncated));
    }

    #[test]
    fn tag_header_by_hand() {
        let t = Tag::new(tag_type::VIDEO, 0x1234_5678, vec![0x17, 1, 0, 0, 0]);
        let mut out = Vec::new();
        t.encode(&mut out).unwrap();
        assert_eq!(
            out,
            [9, 0, 0, 5, 0x34, 0x56, 0x78, 0x12, 0, 0, 0, 0x17, 1, 0, 0, 0, 0, 0, 0, 16]
        );
        assert!(t.is_keyframe());
    }

    #[test]
    fn composition_time_is_signed() {
        let h = VideoHeader::parse(&[0x27, 1, 0xff, 0xff, 0xfe]).unwrap();
        assert_eq!(h.composition_time, -2);
        assert_eq!(h.frame_type, frame_type::INTER);
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out, [0x27, 1, 0xff, 0xff, 0xfe]);
    }
}
