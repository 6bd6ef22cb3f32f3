//! `rtmfp play`: plays a stream through the server (RFC 7425 §5.3.5) or
//! directly from its publisher by peer ID or registered name (§5.4), and
//! optionally writes what arrives as FLV to a file or to stdout
//! (`rtmfp play URI --out - | ffplay -`).

use crate::common::{fail, parse_duration, parse_peer_id, stop_requested, Progress, Result};
use crate::options::{Flags, Maker};
use crate::peer::{self, parse_stream_uri, ClientArgs, StreamUri};
use crate::publish::Counts;
use clap::Args;
use rtmfp_core::flash::client::ClientEvent;
use rtmfp_core::flash::command::code;
use rtmfp_core::flash::flv::{self, tag_type, Tag};
use rtmfp_core::flash::flv_stream::FlvMuxer;
use rtmfp_core::flash::message::message_type;
use rtmfp_core::flash::{NetConnection, Value};
use rtmfp_core::host::options::Object;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Play a stream: through the server, or directly from the peer that
/// publishes it (by peer ID or by a name it registered).
#[derive(Args, Debug)]
#[command(after_help = "\
The stream name is the URI's fragment: rtmfp://HOST[:PORT]/APP/KEY#STREAM.

It plays until the publisher ends the stream, --count or --duration is \
reached, or SIGINT; then it prints `received audio N tags (B bytes), \
video ..., data ...`.  Exit status 1 if the connect or the play was \
rejected or failed.

--out - writes an FLV byte stream to stdout for a pipe (`| ffplay -`, \
`| ffmpeg -i - ...`): the header at once, then each tag as soon as the \
reordering window lets it go.  Every message then goes to stderr.  The \
window is stream time: a tag waits until one --window MS newer has \
arrived (or nothing has arrived for that long), so that audio, video and \
data, which travel on separate flows, come out in timestamp order.  \
--window 0 writes tags as they arrive.  A tag later than the window is \
written late with its own timestamp: timestamps never go back within the \
audio, the video or the data, but may between them, as in FFmpeg's own \
FLV output.  The reader going away (EPIPE) ends the play cleanly, with \
status 0.")]
pub struct PlayArgs {
    /// rtmfp://HOST[:PORT]/APP[/KEY]#STREAM (port 1935 by default).
    #[arg(value_name = "URI", value_parser = parse_stream_uri)]
    pub uri: StreamUri,
    /// Play directly from the publisher with this peer ID (64 hex digits,
    /// printed by `rtmfp publish --direct`); the server introduces us.
    #[arg(long, value_name = "PEER_ID", value_parser = parse_peer_id_hex,
          conflicts_with = "peer_name")]
    pub peer: Option<String>,
    /// Play directly from the publisher that registered NAME with the
    /// server (`rtmfp publish --direct --name NAME`), found with
    /// lookupName.
    #[arg(long, value_name = "NAME")]
    pub peer_name: Option<String>,
    /// Write the audio, video and data messages to this FLV file, or to
    /// stdout with -, in timestamp order (see --window).
    #[arg(long, short = 'o', value_name = "FILE.flv")]
    pub out: Option<PathBuf>,
    /// Reordering window of --out in milliseconds of stream time: 0
    /// writes tags as they arrive.  Default 2000 for a file, 100 for
    /// stdout (low latency).
    #[arg(long, value_name = "MS", requires = "out")]
    pub window: Option<u32>,
    /// Stop after N audio and video messages.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this long (seconds; 500ms, 2.5 ...).
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// No progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub client: ClientArgs,
    /// Set an option of core's table a NetConnection takes: NAME=VALUE
    /// (repeatable), e.g. idle_timeout=30s, max_datagram_size=1400.
    /// `--option help` lists them.  No -o here: -o is --out.
    #[arg(long = "option", value_name = "NAME=VALUE")]
    pub option: Vec<String>,
}

/// `rtmfp play` makes a NetConnection.
pub const MAKER: Maker = Maker {
    object: Object::NetConnection,
    command: "play",
    without: &[],
};

fn parse_peer_id_hex(s: &str) -> std::result::Result<String, String> {
    parse_peer_id(s).map(|id| crate::common::hex(&id))
}

/// Default --window for a file: order first.
const FILE_WINDOW_MS: u32 = 2000;
/// Default --window for stdout: low latency, room for the skew between
/// the audio and video flows.
const PIPE_WINDOW_MS: u32 = 100;

/// Where --out goes: FLV bytes from a [`FlvMuxer`] (which puts the
/// stream's flows back in timestamp order) to a file or to stdout.
struct Output {
    muxer: FlvMuxer,
    sink: Box<dyn Write>,
    buf: Vec<u8>,
    /// Stdout: every write goes out at once.
    pipe: bool,
    name: String,
}

impl Output {
    fn new(sink: Box<dyn Write>, pipe: bool, window_ms: u32, name: String) -> io::Result<Output> {
        let mut out = Output {
            muxer: FlvMuxer::new(flv::Header::new(true, true), window_ms),
            sink,
            buf: Vec::new(),
            pipe,
            name,
        };
        // The header at once: a reader knows FLV follows.
        out.muxer.start(&mut out.buf);
        out.drain()?;
        Ok(out)
    }

    fn push(&mut self, kind: u8, timestamp: u32, data: &[u8]) -> io::Result<()> {
        self.muxer
            .push(Tag::borrowed(kind, timestamp, data), &mut self.buf)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.drain()
    }

    /// Writes what the window holds (the stream paused).
    fn flush_held(&mut self) -> io::Result<()> {
        self.muxer.flush(&mut self.buf);
        self.drain()
    }

    fn drain(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.sink.write_all(&self.buf)?;
            self.buf.clear();
            if self.pipe {
                self.sink.flush()?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.muxer.finish(&mut self.buf);
        self.drain()?;
        self.sink.flush()
    }
}

/// Gives the FLV stream stdout's descriptor, and stdout's place to
/// stderr: every `println!` (here, in `peer`, anywhere) becomes a
/// diagnostic on stderr and cannot corrupt the FLV.  SIGPIPE is ignored
/// so that a reader that goes away is an EPIPE error, a clean end.
fn take_stdout() -> Result<File> {
    use std::os::fd::FromRawFd;
    let _ = io::stdout().flush();
    // SAFETY: plain descriptor calls on this process's own fds 1 and 2;
    // the new descriptor is owned by the File and by nothing else.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let fd = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3);
        if fd < 0 {
            return Err(fail(format!(
                "cannot use stdout: {}",
                io::Error::last_os_error()
            )));
        }
        if libc::dup2(2, 1) < 0 {
            let e = io::Error::last_os_error();
            libc::close(fd);
            return Err(fail(format!("cannot send messages to stderr: {e}")));
        }
        Ok(File::from_raw_fd(fd))
    }
}

/// How the play ended.
enum End {
    /// The publisher ended the stream (or its session).
    Stream(String),
    Count,
    Duration,
    Interrupted,
    /// The server connection went away (playing through it).
    ServerClosed,
    /// Whoever read --out - closed it (EPIPE).
    ReaderGone,
}

pub fn run(args: PlayArgs) -> Result<()> {
    if MAKER.help_asked(&args.option) {
        return Ok(());
    }
    crate::common::install_signal_handlers();
    // The flags that have a row (`--bind`, `--direct-timeout`, `--turn`),
    // then every `--option`.
    let mut flags = Flags::new();
    args.client.set(&mut flags)?;
    let options = MAKER.options(&args.option, flags)?;
    let pipe = args.out.as_deref() == Some(std::path::Path::new("-"));
    // Before anything prints: stdout is for the FLV only.
    let stdout = if pipe { Some(take_stdout()?) } else { None };
    let window = args
        .window
        .unwrap_or(if pipe { PIPE_WINDOW_MS } else { FILE_WINDOW_MS });
    let out = match (&args.out, stdout) {
        (Some(_), Some(file)) => Some(
            Output::new(Box::new(file), true, window, "stdout".into())
                .map_err(|e| fail(format!("cannot write stdout: {e}")))?,
        ),
        (Some(path), None) => Some(
            File::create(path)
                .and_then(|f| {
                    Output::new(
                        Box::new(BufWriter::new(f)),
                        false,
                        window,
                        path.display().to_string(),
                    )
                })
                .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?,
        ),
        _ => None,
    };
    let nc = peer::connect(&args.uri, &args.client, &options)?;
    let result = play(&args, &nc, out);
    nc.close(Duration::from_secs(1));
    result
}

fn play(args: &PlayArgs, nc: &NetConnection, mut writer: Option<Output>) -> Result<()> {
    let name = &args.uri.stream;
    let peer_id = match (&args.peer, &args.peer_name) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(peer_name)) => {
            let answer = peer::call(
                nc,
                rtmfp_core::rendezvous::LOOKUP_NAME,
                vec![Value::from(peer_name.as_str())],
                args.client.timeout,
                |_| {},
            )?;
            match answer {
                Ok(Some(Value::String(id))) if parse_peer_id(&id).is_ok() => {
                    println!("name {peer_name:?} is peer {id}");
                    Some(id)
                }
                Ok(other) => {
                    return Err(fail(format!(
                        "lookupName {peer_name:?}: unexpected answer {other:?}"
                    )))
                }
                Err(why) => return Err(fail(format!("cannot find {peer_name:?}: {why}"))),
            }
        }
        (None, None) => None,
    };
    let ns = match &peer_id {
        Some(id) => nc.create_peer_stream(id),
        None => nc.create_stream(),
    }
    .map_err(|e| fail(format!("cannot create a stream: {e}")))?;
    ns.play(name)
        .map_err(|e| fail(format!("cannot play {name:?}: {e}")))?;
    match &peer_id {
        Some(id) => println!("playing {name:?} directly from peer {id}"),
        None => println!("playing {name:?} through the server"),
    }
    if let Some(w) = &writer {
        println!(
            "writing FLV to {}, reordering window {} ms",
            w.name,
            w.muxer.window_ms()
        );
    }
    let out_name = writer.as_ref().map(|w| w.name.clone()).unwrap_or_default();
    let write_err = |e: io::Error| fail(format!("cannot write {out_name}: {e}"));
    // Whoever reads stdout went away: the end, not a failure.
    let gone = |e: &io::Error| e.kind() == io::ErrorKind::BrokenPipe;

    let mut counts = Counts::default();
    let mut progress = Progress::new();
    let start = Instant::now();
    let mut first_media: Option<Instant> = None;
    let mut last_progress = Instant::now();
    // After the end of the stream, what is still on its way (on other
    // flows of the stream) gets a short grace until things are quiet.
    let mut ending: Option<(End, Instant)> = None;
    let mut last_arrival = Instant::now();
    let grace = Duration::from_millis(300);
    let idle_flush = Duration::from_millis(
        writer
            .as_ref()
            .map_or(100, |w| u64::from(w.muxer.window_ms()).max(20)),
    );
    let mut started = false;
    let mut relayed = false;
    let end = loop {
        if let Some((_, since)) = &ending {
            if last_arrival.elapsed() >= grace || since.elapsed() >= Duration::from_secs(3) {
                break ending.take().map(|(e, _)| e).unwrap_or(End::Interrupted);
            }
        } else if stop_requested() {
            break End::Interrupted;
        } else if args.duration.is_some_and(|d| start.elapsed() >= d) {
            break End::Duration;
        } else if !started && start.elapsed() >= args.client.timeout {
            progress.finish();
            return Err(fail(match &peer_id {
                Some(id) => format!(
                    "peer {id} did not answer within {:?} (is it connected to this server, \
                     and publishing {name:?}?)",
                    args.client.timeout
                ),
                None => format!(
                    "no answer to play {name:?} within {:?}",
                    args.client.timeout
                ),
            }));
        }
        let Some(event) = nc.next_event_timeout(Duration::from_millis(100).min(idle_flush)) else {
            // A paused stream: what the window holds goes out to a pipe.
            if let Some(w) = writer.as_mut().filter(|w| w.pipe && w.muxer.held() > 0) {
                if last_arrival.elapsed() >= idle_flush {
                    match w.flush_held() {
                        Ok(()) => {}
                        Err(e) if gone(&e) => break End::ReaderGone,
                        Err(e) => return Err(write_err(e)),
                    }
                }
            }
            continue;
        };
        match event {
            ClientEvent::Media {
                stream,
                message_type: ty,
                timestamp,
                payload,
            } if stream == ns.id() => {
                last_arrival = Instant::now();
                first_media.get_or_insert(last_arrival);
                let (kind, data) = match ty {
                    message_type::AUDIO => (tag_type::AUDIO, &payload[..]),
                    message_type::VIDEO => (tag_type::VIDEO, &payload[..]),
                    message_type::DATA_AMF0 => (tag_type::SCRIPT, &payload[..]),
                    // AMF3 data: a format selector 0, then AMF0 values.
                    message_type::DATA_AMF3 if payload.first() == Some(&0) => {
                        (tag_type::SCRIPT, &payload[1..])
                    }
                    _ => continue,
                };
                counts.add(kind, data.len());
                if let Some(w) = writer.as_mut() {
                    match w.push(kind, timestamp, data) {
                        Ok(()) => {}
                        Err(e) if gone(&e) => break End::ReaderGone,
                        Err(e) => return Err(write_err(e)),
                    }
                }
                if ending.is_none()
                    && args
                        .count
                        .is_some_and(|n| counts.audio.0 + counts.video.0 >= n)
                {
                    break End::Count;
                }
            }
            ClientEvent::Status {
                stream: Some(s),
                info,
            } if s == ns.id() => {
                progress.finish();
                println!("status {}", info.code);
                if info.code == rtmfp_core::flash::client::PLAY_RELAYED {
                    // No direct path: the server relays (docs/relay-fallback.md).
                    relayed = true;
                    println!("path relay ({})", info.description);
                } else if info.code == code::PLAY_START && !started && peer_id.is_some() && !relayed
                {
                    println!("path direct");
                }
                started |= info.code == code::PLAY_START;
                if info.is_error() {
                    return Err(fail(format!(
                        "cannot play {name:?}: {}: {}",
                        info.code, info.description
                    )));
                }
                let over = [
                    code::PLAY_UNPUBLISH_NOTIFY,
                    code::PLAY_STOP,
                    code::CONNECT_CLOSED_STREAM,
                ];
                if ending.is_none() && over.contains(&info.code.as_str()) {
                    ending = Some((End::Stream(info.code.clone()), Instant::now()));
                }
            }
            ClientEvent::Status { stream: None, info } => {
                progress.finish();
                println!("status {}", info.code);
                let closed = info.code == code::CONNECT_CLOSED || info.is_error();
                if closed && peer_id.is_none() && ending.is_none() {
                    ending = Some((End::ServerClosed, Instant::now()));
                }
            }
            _ => {}
        }
        if !args.quiet && last_progress.elapsed() >= Duration::from_secs(1) {
            last_progress = Instant::now();
            progress.update(&format!(
                "play {:.1} s | video {} audio {} data {} tags | {} bytes",
                start.elapsed().as_secs_f64(),
                counts.video.0,
                counts.audio.0,
                counts.data.0,
                counts.audio.1 + counts.video.1 + counts.data.1
            ));
        }
    };
    progress.finish();
    let _ = ns.close();
    let mut end = end;
    if let Some(w) = writer.as_mut() {
        match w.finish() {
            Ok(()) => {}
            Err(e) if gone(&e) => end = End::ReaderGone,
            Err(e) => return Err(write_err(e)),
        }
    }
    let why = match &end {
        End::Stream(c) => format!("the stream ended ({c})"),
        End::Count => "--count reached".into(),
        End::Duration => "--duration reached".into(),
        End::Interrupted => "interrupted".into(),
        End::ServerClosed => "the server closed the connection".into(),
        End::ReaderGone => "the reader of stdout went away".into(),
    };
    let media_time = first_media.map(|t| t.elapsed()).unwrap_or_default();
    println!(
        "received    {} in {:.1} s; {why}",
        counts.summary(),
        media_time.as_secs_f64()
    );
    if let Some(w) = &writer {
        println!(
            "wrote       {} ({} tags{})",
            w.name,
            w.muxer.written(),
            match w.muxer.late() {
                0 => String::new(),
                n => format!(", {n} later than the window"),
            }
        );
    }
    if matches!(end, End::ServerClosed) && counts.tags() == 0 {
        return Err(fail("the server closed the connection"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(file: &[u8]) -> Vec<(u8, u32, Vec<u8>)> {
        flv::SliceReader::new(file)
            .unwrap()
            .map(|t| {
                let t = t.unwrap();
                (t.tag_type, t.timestamp, t.data.into_owned())
            })
            .collect()
    }

    #[test]
    fn reorder_puts_flows_back_in_timestamp_order() {
        let source = flv::synthetic(5000, 25, 43);
        let sent = tags(&source);
        let kind = |k: u8| sent.iter().filter(move |t| t.0 == k).cloned();
        // Three flows, each in its own order: audio runs 1.5 s ahead of
        // video, and the data tag (0 ms) comes after ten video tags.
        let mut audio = kind(8).peekable();
        let mut arrival = Vec::new();
        for (i, v) in kind(9).enumerate() {
            while audio.peek().is_some_and(|a| a.1 <= v.1 + 1500) {
                arrival.push(audio.next().unwrap());
            }
            arrival.push(v);
            if i == 10 {
                arrival.extend(kind(18));
            }
        }
        arrival.extend(audio);
        assert_ne!(arrival, sent);
        let file = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.borrow_mut().write(b)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let sink = Box::new(Shared(file.clone()));
        let mut w = Output::new(sink, false, FILE_WINDOW_MS, "test".into()).unwrap();
        for t in &arrival {
            w.push(t.0, t.1, &t.2).unwrap();
        }
        w.finish().unwrap();
        assert_eq!(tags(&file.borrow()), sent);
        assert_eq!((w.muxer.late(), w.muxer.raised()), (0, 0));
    }
}
