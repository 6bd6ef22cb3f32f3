//! FLV bytes in and out of a [`NetStream`]: what FFmpeg's `-f flv -` and
//! librtmfp's `RTMFP_Write` / `RTMFP_Read` carry, once, for every host
//! (Rust, C, Python, Node).
//!
//! **Writing** ([`NetStream::write_flv`]) publishes an FLV byte stream:
//! the bytes go through an [`FlvDemuxer`] (so they may be split anywhere:
//! a header in two writes, a tag across many) and each whole tag is sent
//! as the message of its type ([`NetStream::send_tag`]: audio 8, video 9,
//! script data 18) on the publishing stream.
//!
//! - Backpressure: tags the flows refuse (their send buffer is full,
//!   `WouldBlock`) stay queued, in order, and are sent first by every
//!   later call.  A write takes bytes in pieces of [`WRITE_PIECE`] while
//!   fewer than [`MAX_QUEUED_TAGS`] tags wait and returns how many it
//!   took: possibly fewer than given (a partial write), or
//!   [`FlvIoError::WouldBlock`] when it could take none.
//!   [`NetStream::write_flv_timeout`] waits for room,
//!   [`NetStream::flush_flv`] until every queued tag is sent.
//! - Not FLV: the first bad byte is [`FlvIoError::NotFlv`].  Every tag
//!   complete before it is still sent; a write that took bytes before the
//!   error returns that count, and the error comes with the next call (and
//!   every one after).
//!
//! **Reading** ([`NetStream::start_flv_read`], then
//! [`NetStream::read_flv`]) turns a playing stream's media into FLV bytes:
//! from then on its audio, video and data messages no longer arrive as
//! [`ClientEvent::Media`] events but go through an [`FlvMuxer`] with a
//! reordering window (0: as they come).  The FLV header is readable at
//! once.  Status events still arrive as events.
//!
//! - A read returns what is ready (up to the buffer's size),
//!   [`FlvIoError::WouldBlock`] when nothing is yet, and `Ok(0)` at the
//!   end of the stream: once nothing arrived for [`END_GRACE`] after the
//!   publisher unpublished ("NetStream.Play.UnpublishNotify",
//!   ".Play.Stop", "NetStream.Connect.Closed") or the connection closed
//!   (at most [`END_GRACE_MAX`] after it), or at once after
//!   [`NetStream::close`].
//! - Tags held in the window while the stream pauses come out once
//!   nothing arrived for the window (at least 20 ms): a read does that, so
//!   a host that waits on [`NetStream::flv_read_fd`] with a window over 0
//!   waits at most the window between reads.  The fd is readable while
//!   bytes wait and at the end.
//!
//! Both sides are safe from any thread (a NetStream's clones share them).

use super::client::{ClientError, ClientEvent, StreamId};
use super::command::code;
use super::flv::{tag_type, Header, Tag};
use super::flv_stream::{FlvDemuxer, FlvMuxer, FlvStreamError};
use super::message::message_type;
use super::net_connection::{NetError, NetStream};
use crate::endpoint::{EndpointError, EventSink};
use crate::runtime::EventQueue;
use crate::session::flows::FlowError;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A write takes no more bytes once this many tags wait for the flows.
pub const MAX_QUEUED_TAGS: usize = 64;

/// A write takes bytes in pieces of this size, checking for room between
/// them.
pub const WRITE_PIECE: usize = 16 * 1024;

/// The reordering window of [`NetStream::start_flv_read`] that hosts use
/// by default: low latency with room for the skew between the audio and
/// video flows (what `rtmfp play --out -` uses).
pub const DEFAULT_READ_WINDOW_MS: u32 = 100;

/// After the end of the stream, media still on its way (on the stream's
/// other flows: the end status does not wait for them) is taken until
/// nothing arrived for this long.
pub const END_GRACE: Duration = Duration::from_millis(300);

/// The longest the reader goes on taking media after the end of the
/// stream.
pub const END_GRACE_MAX: Duration = Duration::from_secs(3);

/// How often a blocking write looks for room again.
const WRITE_POLL: Duration = Duration::from_millis(5);

/// Why an FLV write or read failed.
#[derive(Debug)]
pub enum FlvIoError {
    /// The written bytes are not FLV (from the byte the error names on).
    /// Sticky: every later write returns it.
    NotFlv(FlvStreamError),
    /// Nothing could be done yet: a write found [`MAX_QUEUED_TAGS`] tags
    /// waiting for the flows, a read found no bytes ready, a flush ran out
    /// of time.
    WouldBlock,
    /// The call does not fit the stream: reading before
    /// [`NetStream::start_flv_read`], starting twice.
    WrongState(&'static str),
    /// Sending failed (the stream does not publish, the connection is
    /// closed, ...).  The tags not sent stay queued.
    Net(NetError),
}

impl fmt::Display for FlvIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlvIoError::NotFlv(e) => write!(f, "{e}"),
            FlvIoError::WouldBlock => f.write_str("would block: try again later"),
            FlvIoError::WrongState(why) => f.write_str(why),
            FlvIoError::Net(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FlvIoError {}

impl From<NetError> for FlvIoError {
    fn from(e: NetError) -> Self {
        FlvIoError::Net(e)
    }
}

impl From<FlvIoError> for std::io::Error {
    fn from(e: FlvIoError) -> Self {
        use std::io::ErrorKind;
        let kind = match &e {
            FlvIoError::NotFlv(_) => ErrorKind::InvalidData,
            FlvIoError::WouldBlock => ErrorKind::WouldBlock,
            FlvIoError::WrongState(_) => ErrorKind::Unsupported,
            FlvIoError::Net(NetError::Io(io)) => io.kind(),
            FlvIoError::Net(_) => ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The connection is closed.
fn closed() -> FlvIoError {
    FlvIoError::Net(NetError::Runtime(crate::runtime::RuntimeError::Closed))
}

fn would_block(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Endpoint(EndpointError::Flow(FlowError::WouldBlock))
    )
}

/// The FLV state of one NetConnection's streams, shared by its
/// [`NetStream`]s and its event sink.
#[derive(Debug, Default)]
pub(crate) struct FlvTable {
    /// Whether any reader was started (the sink looks no further if not).
    any_reader: AtomicBool,
    readers: Mutex<HashMap<StreamId, Arc<Reader>>>,
    writers: Mutex<HashMap<StreamId, Arc<Mutex<Writer>>>>,
}

impl FlvTable {
    /// An event sink that diverts the media of streams being read as FLV
    /// into their readers and passes every other event to `inner`.
    pub(crate) fn route(
        self: Arc<Self>,
        mut inner: EventSink<ClientEvent>,
    ) -> EventSink<ClientEvent> {
        Box::new(move |e| {
            if let Some(e) = self.divert(e) {
                inner(e)
            }
        })
    }

    fn reader(&self, id: StreamId) -> Option<Arc<Reader>> {
        lock(&self.readers).get(&id).cloned()
    }

    fn divert(&self, e: ClientEvent) -> Option<ClientEvent> {
        if !self.any_reader.load(Ordering::Acquire) {
            return Some(e);
        }
        match &e {
            ClientEvent::Media { stream, .. } => {
                if let Some(r) = self.reader(*stream) {
                    if let ClientEvent::Media {
                        message_type,
                        timestamp,
                        payload,
                        ..
                    } = e
                    {
                        r.media(message_type, timestamp, payload);
                    }
                    return None;
                }
            }
            ClientEvent::Status {
                stream: Some(s),
                info,
            } => {
                let over = [
                    code::PLAY_UNPUBLISH_NOTIFY,
                    code::PLAY_STOP,
                    code::CONNECT_CLOSED_STREAM,
                ];
                if over.contains(&info.code.as_str()) {
                    if let Some(r) = self.reader(*s) {
                        r.end(false);
                    }
                }
            }
            ClientEvent::Status { stream: None, info }
                if info.code == code::CONNECT_CLOSED || info.is_error() =>
            {
                for r in lock(&self.readers).values() {
                    r.end(false);
                }
            }
            _ => {}
        }
        Some(e)
    }

    fn writer(&self, id: StreamId) -> Arc<Mutex<Writer>> {
        lock(&self.writers)
            .entry(id)
            .or_insert_with(|| {
                Arc::new(Mutex::new(Writer {
                    demux: FlvDemuxer::new(),
                    queue: VecDeque::new(),
                }))
            })
            .clone()
    }

    /// The stream was closed: its reader ends now.
    pub(crate) fn stream_closed(&self, id: StreamId) {
        if let Some(r) = self.reader(id) {
            r.end(true);
        }
    }
}

/// One stream's writing side.
#[derive(Debug)]
struct Writer {
    demux: FlvDemuxer,
    /// Whole tags not yet taken by the flows, in stream order.
    queue: VecDeque<Tag<'static>>,
}

/// One stream's reading side: the muxer (fed on the I/O thread) and the
/// bytes it wrote (taken by readers on any thread).
#[derive(Debug)]
struct Reader {
    mux: Mutex<Mux>,
    out: EventQueue<Vec<u8>>,
    /// The chunk being read and how much of it was taken.
    partial: Mutex<(Vec<u8>, usize)>,
}

#[derive(Debug)]
struct Mux {
    muxer: FlvMuxer,
    last_arrival: Instant,
    /// When the end of the stream was seen.
    ending: Option<Instant>,
    /// The end was written (the queue is closed).
    done: bool,
}

impl Reader {
    fn new(window_ms: u32) -> std::io::Result<Reader> {
        let out = EventQueue::new(usize::MAX)?;
        let mut muxer = FlvMuxer::new(Header::new(true, true), window_ms);
        // The header at once: a reader learns that FLV follows.
        let mut head = Vec::new();
        muxer.start(&mut head);
        out.push(head);
        Ok(Reader {
            mux: Mutex::new(Mux {
                muxer,
                last_arrival: Instant::now(),
                ending: None,
                done: false,
            }),
            out,
            partial: Mutex::new((Vec::new(), 0)),
        })
    }

    /// I/O thread: one media message of the stream.
    fn media(&self, ty: u8, timestamp: u32, payload: Vec<u8>) {
        let (kind, data) = match ty {
            message_type::AUDIO => (tag_type::AUDIO, payload),
            message_type::VIDEO => (tag_type::VIDEO, payload),
            message_type::DATA_AMF0 => (tag_type::SCRIPT, payload),
            // AMF3 data: a format selector 0, then AMF0 values.
            message_type::DATA_AMF3 if payload.first() == Some(&0) => {
                (tag_type::SCRIPT, payload[1..].to_vec())
            }
            _ => return,
        };
        let mut m = lock(&self.mux);
        if m.done {
            return;
        }
        m.last_arrival = Instant::now();
        let mut bytes = Vec::new();
        // A message over 2^24 - 1 bytes cannot be a tag: skipped.
        let _ = m.muxer.push(Tag::new(kind, timestamp, data), &mut bytes);
        if !bytes.is_empty() {
            self.out.push(bytes);
        }
    }

    /// The stream ended: everything held is written now; the end follows
    /// after [`END_GRACE`] (at once if `now`).
    fn end(&self, now: bool) {
        let mut m = lock(&self.mux);
        if m.done {
            return;
        }
        let mut bytes = Vec::new();
        m.muxer.flush(&mut bytes);
        if !bytes.is_empty() {
            self.out.push(bytes);
        }
        let at = Instant::now();
        m.ending.get_or_insert(at);
        if now {
            m.done = true;
            self.out.close();
        }
    }

    /// Time-driven work, done by readers: the end after its grace, and
    /// the flush of what a paused stream holds.
    fn tick(&self) {
        let mut m = lock(&self.mux);
        if m.done {
            return;
        }
        let mut bytes = Vec::new();
        // Quiet for the grace since the end (or since the last message
        // that came after it), or the longest grace spent.
        let quiet = m.last_arrival.elapsed() >= END_GRACE;
        if m.ending
            .is_some_and(|t| (quiet && t.elapsed() >= END_GRACE) || t.elapsed() >= END_GRACE_MAX)
        {
            m.muxer.finish(&mut bytes);
            m.done = true;
        } else if m.muxer.held() > 0 && m.last_arrival.elapsed() >= self.idle(&m) {
            m.muxer.flush(&mut bytes);
        }
        if !bytes.is_empty() {
            self.out.push(bytes);
        }
        if m.done {
            self.out.close();
        }
    }

    fn idle(&self, m: &Mux) -> Duration {
        Duration::from_millis(u64::from(m.muxer.window_ms()).max(20))
    }

    /// How long a waiting reader sleeps before it looks at the clock.
    fn slice(&self) -> Duration {
        let m = lock(&self.mux);
        if m.ending.is_some() {
            Duration::from_millis(20)
        } else {
            self.idle(&m)
        }
    }

    fn read(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<usize, FlvIoError> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut partial = lock(&self.partial);
        loop {
            let (chunk, at) = &mut *partial;
            if *at < chunk.len() {
                let n = buf.len().min(chunk.len() - *at);
                buf[..n].copy_from_slice(&chunk[*at..*at + n]);
                *at += n;
                return Ok(n);
            }
            if buf.is_empty() {
                return Ok(0);
            }
            self.tick();
            if let Some(next) = self.out.try_pop() {
                *partial = (next, 0);
                continue;
            }
            if self.out.is_closed() {
                return Ok(0);
            }
            let slice = self.slice();
            let wait = match (timeout, deadline) {
                (Some(_), Some(d)) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(FlvIoError::WouldBlock);
                    }
                    left.min(slice)
                }
                _ => slice,
            };
            if let Some(next) = self.out.pop_timeout(Some(wait)) {
                *partial = (next, 0);
            }
        }
    }
}

impl NetStream {
    /// Publishes FLV bytes: takes what it can of `bytes` (see the module
    /// docs for partial writes and backpressure) and sends every whole tag
    /// on this publishing stream.  Never blocks on the flows.
    ///
    /// Returns how many bytes it took (fewer than `bytes.len()` when
    /// [`MAX_QUEUED_TAGS`] tags came to wait, or before a bad byte);
    /// [`FlvIoError::WouldBlock`] if it took none for want of room;
    /// [`FlvIoError::NotFlv`] for a stream that is not FLV;
    /// [`FlvIoError::Net`] if sending failed (tags stay queued).
    pub fn write_flv(&self, bytes: &[u8]) -> Result<usize, FlvIoError> {
        if self.is_closed() {
            return Err(closed());
        }
        let writer = self.flv.writer(self.id);
        let mut w = lock(&writer);
        self.pump(&mut w)?;
        if let Some(e) = w.demux.error() {
            return Err(FlvIoError::NotFlv(e.clone()));
        }
        if bytes.is_empty() {
            return Ok(0);
        }
        let mut taken = 0usize;
        for piece in bytes.chunks(WRITE_PIECE) {
            if w.queue.len() >= MAX_QUEUED_TAGS {
                break;
            }
            let before = w.demux.position();
            let pushed = w.demux.push(piece);
            taken += (w.demux.position() - before) as usize;
            while let Some(tag) = w.demux.next_tag() {
                w.queue.push_back(tag);
            }
            if let Err(e) = pushed {
                // What came before the bad byte still goes out.
                let sent = self.pump(&mut w);
                return match (taken, sent) {
                    (0, Ok(())) => Err(FlvIoError::NotFlv(e)),
                    (0, Err(sent)) => Err(sent),
                    (n, _) => Ok(n),
                };
            }
            if self.pump(&mut w).is_err() {
                // The bytes are taken (their tags wait); the error comes
                // with the next call.
                return Ok(taken);
            }
        }
        if taken == 0 {
            Err(FlvIoError::WouldBlock)
        } else {
            Ok(taken)
        }
    }

    /// As [`write_flv`](Self::write_flv), waiting up to `timeout` (`None`:
    /// as long as it takes) for room to take at least one byte.
    pub fn write_flv_timeout(
        &self,
        bytes: &[u8],
        timeout: Option<Duration>,
    ) -> Result<usize, FlvIoError> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            match self.write_flv(bytes) {
                Err(FlvIoError::WouldBlock) => {}
                other => return other,
            }
            if timeout.is_some() && deadline.is_none_or(|d| Instant::now() >= d) {
                return Err(FlvIoError::WouldBlock);
            }
            std::thread::sleep(WRITE_POLL);
        }
    }

    /// Sends the queued tags and waits up to `timeout` (`None`: as long as
    /// it takes) until the flows took them all and the far ends
    /// acknowledged everything sent (the sessions this stream sends on
    /// have nothing in flight and sent nothing new between two looks).
    /// Call it before [`close`](Self::close) so that the last tags are not
    /// cut off.  `Ok` then; [`FlvIoError::WouldBlock`] if something still
    /// waits at the deadline.
    pub fn flush_flv(&self, timeout: Option<Duration>) -> Result<(), FlvIoError> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let writer = self.flv.writer(self.id);
        let mut last = None;
        loop {
            let queued = {
                let mut w = lock(&writer);
                self.pump(&mut w)?;
                w.queue.len()
            };
            if queued == 0 {
                let sample = self.on_client(|c, ep, _, id| c.delivery(ep, Some(id)))?;
                if sample.0 == 0 && last == Some(sample.1) {
                    return Ok(());
                }
                last = Some(sample.1);
            }
            if timeout.is_some() && deadline.is_none_or(|d| Instant::now() >= d) {
                return Err(FlvIoError::WouldBlock);
            }
            std::thread::sleep(WRITE_POLL);
        }
    }

    /// Tags written but not yet taken by the flows.
    pub fn flv_queued(&self) -> usize {
        lock(&self.flv.writer(self.id)).queue.len()
    }

    /// Sends queued tags until the flows refuse one (it stays first).
    fn pump(&self, w: &mut Writer) -> Result<(), FlvIoError> {
        if w.queue.is_empty() {
            return Ok(());
        }
        let queue = std::mem::take(&mut w.queue);
        let outcome = self.on_client(move |c, ep, now, id| {
            let mut queue = queue;
            while let Some(t) = queue.front() {
                match c.send(ep, now, id, t.tag_type, t.timestamp, &t.data) {
                    Ok(_) => {
                        queue.pop_front();
                    }
                    Err(e) => return (queue, Some(e)),
                }
            }
            (queue, None)
        });
        let (rest, failed) = outcome?;
        w.queue = rest;
        match failed {
            Some(e) if !would_block(&e) => Err(FlvIoError::Net(e.into())),
            _ => Ok(()),
        }
    }

    /// Reads this playing stream as FLV from now on, with a reordering
    /// window of `window_ms` of stream time (0: tags as they arrive;
    /// [`DEFAULT_READ_WINDOW_MS`] is the hosts' default).  Call it before
    /// [`play`](Self::play) so that no media is missed: from now on the
    /// stream's media goes to [`read_flv`](Self::read_flv) instead of
    /// [`ClientEvent::Media`] events.  [`FlvIoError::WrongState`] if
    /// already started.
    pub fn start_flv_read(&self, window_ms: u32) -> Result<(), FlvIoError> {
        if self.is_closed() {
            return Err(closed());
        }
        let mut readers = lock(&self.flv.readers);
        if readers.contains_key(&self.id) {
            return Err(FlvIoError::WrongState(
                "this NetStream is already read as FLV",
            ));
        }
        let reader = Reader::new(window_ms).map_err(|e| FlvIoError::Net(NetError::Io(e)))?;
        readers.insert(self.id, Arc::new(reader));
        self.flv.any_reader.store(true, Ordering::Release);
        Ok(())
    }

    fn flv_reader(&self) -> Result<Arc<Reader>, FlvIoError> {
        self.flv.reader(self.id).ok_or(FlvIoError::WrongState(
            "this NetStream is not read as FLV (start_flv_read first)",
        ))
    }

    /// Reads FLV bytes of this playing stream into `buf` without waiting:
    /// how many were ready (at most `buf.len()`), `Ok(0)` at the end of
    /// the stream (or for an empty `buf`), [`FlvIoError::WouldBlock`] if
    /// none is ready yet.
    pub fn read_flv(&self, buf: &mut [u8]) -> Result<usize, FlvIoError> {
        self.read_flv_timeout(buf, Some(Duration::ZERO))
    }

    /// As [`read_flv`](Self::read_flv), waiting up to `timeout` (`None`:
    /// until bytes or the end come) for bytes.
    pub fn read_flv_timeout(
        &self,
        buf: &mut [u8],
        timeout: Option<Duration>,
    ) -> Result<usize, FlvIoError> {
        let reader = self.flv_reader()?;
        if self.is_closed() {
            // The connection stopped without a word to the stream.
            reader.end(false);
        }
        reader.read(buf, timeout)
    }

    /// A file descriptor readable while FLV bytes of this stream wait and
    /// at its end (never read or write it).  With a window over 0, wait
    /// at most the window between reads (see the module docs).
    pub fn flv_read_fd(&self) -> Result<RawFd, FlvIoError> {
        Ok(self.flv_reader()?.out.fd())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flash::command::StatusInfo;
    use crate::flash::flv::{self, SliceReader};

    fn media(stream: u32, ty: u8, ts: u32, payload: &[u8]) -> ClientEvent {
        ClientEvent::Media {
            stream: StreamId(stream),
            message_type: ty,
            timestamp: ts,
            payload: payload.to_vec(),
        }
    }

    fn status(stream: Option<u32>, code: &str) -> ClientEvent {
        ClientEvent::Status {
            stream: stream.map(StreamId),
            info: StatusInfo::status(code, ""),
        }
    }

    fn read_all(r: &Reader) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            match r.read(&mut buf, Some(Duration::from_secs(5))) {
                Ok(0) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn the_sink_diverts_only_the_read_streams_media() {
        let table = Arc::new(FlvTable::default());
        let passed = Arc::new(Mutex::new(Vec::new()));
        let p = passed.clone();
        let mut sink = table.clone().route(Box::new(move |e| lock(&p).push(e)));
        // No reader yet: everything passes.
        sink(media(1, 9, 0, &[0x17, 1]));
        let reader = Arc::new(Reader::new(0).unwrap());
        lock(&table.readers).insert(StreamId(1), reader.clone());
        table.any_reader.store(true, Ordering::Release);
        sink(media(1, 9, 40, &[0x17, 1, 2]));
        sink(media(2, 9, 40, &[0x17, 1, 2]));
        sink(media(1, 8, 41, &[0xaf, 1]));
        // AMF3 data loses its format selector; other types are dropped.
        sink(media(1, 15, 42, &[0, 2, 0, 1, b'x']));
        sink(media(1, 4, 43, &[1, 2]));
        sink(status(Some(2), code::PLAY_UNPUBLISH_NOTIFY));
        sink(status(Some(1), code::PLAY_UNPUBLISH_NOTIFY));
        // After the end: still taken within the grace.
        sink(media(1, 8, 64, &[0xaf, 1, 9]));
        assert_eq!(
            lock(&passed).len(),
            4,
            "media of 1 before, of 2, two statuses"
        );
        let bytes = read_all(&reader);
        let tags: Vec<(u8, u32, Vec<u8>)> = SliceReader::new(&bytes)
            .unwrap()
            .map(|t| {
                let t = t.unwrap();
                (t.tag_type, t.timestamp, t.data.into_owned())
            })
            .collect();
        assert_eq!(
            tags,
            [
                (9, 40, vec![0x17, 1, 2]),
                (8, 41, vec![0xaf, 1]),
                (18, 42, vec![2, 0, 1, b'x']),
                (8, 64, vec![0xaf, 1, 9]),
            ]
        );
        // Ended: reads say so, media is dropped.
        sink(media(1, 8, 90, &[0xaf]));
        assert_eq!(reader.read(&mut [0u8; 4], Some(Duration::ZERO)).unwrap(), 0);
    }

    #[test]
    fn a_window_reorders_and_a_pause_flushes_what_it_holds() {
        let r = Reader::new(1000);
        let r = r.unwrap();
        let mut head = [0u8; 64];
        // The header is readable before any media.
        assert_eq!(r.read(&mut head, Some(Duration::ZERO)).unwrap(), 13);
        assert!(matches!(
            r.read(&mut head, Some(Duration::ZERO)),
            Err(FlvIoError::WouldBlock)
        ));
        r.media(9, 40, vec![0x27, 1]);
        r.media(8, 20, vec![0xaf, 1]);
        // Held in the window until the stream is quiet for it.
        let mut buf = [0u8; 256];
        let n = r.read(&mut buf, Some(Duration::from_secs(10))).unwrap();
        let mut file = head[..13].to_vec();
        file.extend_from_slice(&buf[..n]);
        let ts: Vec<u32> = SliceReader::new(&file)
            .unwrap()
            .map(|t| t.unwrap().timestamp)
            .collect();
        assert_eq!(ts, [20, 40]);
        r.end(true);
        assert_eq!(r.read(&mut buf, None).unwrap(), 0);
    }

    #[test]
    fn writer_side_errors_without_a_connection() {
        // A reader that was never started.
        let e = FlvIoError::WrongState("x");
        assert_eq!(
            std::io::Error::from(e).kind(),
            std::io::ErrorKind::Unsupported
        );
        let e = FlvIoError::NotFlv(FlvStreamError::NotFlv {
            found: b"GIF".to_vec(),
        });
        assert!(e.to_string().contains("not an FLV stream"));
        assert_eq!(
            std::io::Error::from(e).kind(),
            std::io::ErrorKind::InvalidData
        );
        let _ = flv::synthetic(10, 25, 43);
    }
}
