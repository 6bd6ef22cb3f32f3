//! `rtmfp publish`: publishes an FLV file, an FLV byte stream on stdin
//! (`ffmpeg ... -f flv - | rtmfp publish URI -`) or a synthetic FLV as a
//! stream, through the server (RFC 7425 §5.3.5) or to peers that play it
//! directly by our peer ID (`DIRECT_CONNECTIONS`, §5.4), paced by the
//! tags' timestamps.

use crate::common::{fail, parse_duration, stop_requested, CliError, Progress, Result};
use crate::options::{Flags, Maker, OptionArgs};
use crate::peer::{self, parse_stream_uri, ClientArgs, StreamUri};
use clap::Args;
use rtmfp_core::endpoint::EndpointError;
use rtmfp_core::flash::client::{ClientError, ClientEvent, PeerStreamId};
use rtmfp_core::flash::command::code;
use rtmfp_core::flash::flv::{self, tag_type, Tag};
use rtmfp_core::flash::flv_stream::FlvDemuxer;
use rtmfp_core::flash::{NetConnection, NetError, NetStream, Value};
use rtmfp_core::host::options::{Object, OptionValue, Options};
use rtmfp_core::session::flows::FlowError;
use std::collections::HashSet;
use std::io::{BufReader, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Frame rate of `--synthetic` video.
pub const SYNTHETIC_FPS: u32 = 25;
/// Audio tags per second of `--synthetic` (AAC at 44.1 kHz: 1024
/// samples a frame).
pub const SYNTHETIC_AUDIO_RATE: u32 = 43;

/// Publish an FLV file, FLV from stdin (`-`) or a synthetic FLV as a
/// stream: through the server, or directly to peers (DIRECT_CONNECTIONS)
/// that play it by this publisher's peer ID or registered name.
#[derive(Args, Debug)]
#[command(after_help = "\
The stream name is the URI's fragment: rtmfp://HOST[:PORT]/APP/KEY#STREAM.

With --direct the publisher prints `peer ID HEX`; play it with \
`rtmfp play URI --peer HEX` (or --peer-name NAME with --name NAME).  It \
waits for its first subscriber before it starts (see --wait), then \
prints one line per subscriber accepted, rejected or gone.

FILE.flv `-` reads an FLV byte stream from stdin, for example from \
FFmpeg: `ffmpeg -re -i in.mp4 -c:v libx264 -c:a aac -f flv - | rtmfp \
publish URI -`.  A stream that is not FLV is an error before connecting; \
one that breaks later ends the publish after its last whole tag.  Tags \
are paced by their timestamps (--speed 1) unless --speed 0 sends them as \
they come, for a live source that is already paced (ffmpeg -re, a \
camera).  With --direct the tags read while waiting for the first \
subscriber are kept (up to 256, then stdin is not read) and sent first.

--synthetic makes a deterministic FLV: one onMetaData tag, 25 fps AVC \
video (a key frame every second) and 43 AAC audio tags a second.")]
pub struct PublishArgs {
    /// rtmfp://HOST[:PORT]/APP[/KEY]#STREAM (port 1935 by default).
    #[arg(value_name = "URI", value_parser = parse_stream_uri)]
    pub uri: StreamUri,
    /// The FLV file to publish, or - for an FLV byte stream on stdin
    /// (or use --synthetic SECS).
    #[arg(value_name = "FILE.flv")]
    pub file: Option<PathBuf>,
    /// Publish a synthetic FLV this long instead of a file (seconds).
    #[arg(long, value_name = "SECS", value_parser = parse_duration, conflicts_with = "file")]
    pub synthetic: Option<Duration>,
    /// Publish to peers directly (NetStream DIRECT_CONNECTIONS): the
    /// server only introduces them and carries no media.
    #[arg(long)]
    pub direct: bool,
    /// Register NAME with the server (registerName) so that players can
    /// find this publisher with `rtmfp play --peer-name NAME`.
    #[arg(long, value_name = "NAME", requires = "direct")]
    pub name: Option<String>,
    /// Start over at the end of the file, for ever (timestamps keep
    /// increasing); not with stdin.
    #[arg(long = "loop")]
    pub repeat: bool,
    /// Pacing: 1 sends tags at their timestamps (real time, the default),
    /// 2 twice as fast, 0.5 at half speed, 0 as fast as they are read
    /// (for a live source on stdin that is already paced).
    #[arg(long, value_name = "FACTOR", value_parser = parse_speed, default_value = "1")]
    pub speed: f64,
    /// Start sending once N subscribers are connected (--direct only: a
    /// server does not tell the publisher who plays).  Default: 1 with
    /// --direct, 0 (at once) through the server.
    #[arg(long, value_name = "N")]
    pub wait: Option<usize>,
    /// Most subscribers at once (Flash's maxPeerConnections, default 8);
    /// more are rejected with NetStream.Connect.Rejected.
    #[arg(long, value_name = "N", requires = "direct")]
    pub max_peers: Option<usize>,
    /// Accept the first N subscribers and reject every later one (the
    /// onPeerConnect policy; for demonstrations and tests).
    #[arg(long, value_name = "N", requires = "direct")]
    pub reject_after: Option<usize>,
    /// No progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub options: OptionArgs,
}

/// `rtmfp publish` makes a NetConnection.
pub const MAKER: Maker = Maker {
    object: Object::NetConnection,
    command: "publish",
    without: &[],
};

fn parse_speed(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=1e6).contains(&v) => Ok(v),
        _ => Err(format!(
            "bad speed {s:?}: a factor (1 = real time, 0 = no pacing)"
        )),
    }
}

/// Where the tags come from.
enum Source {
    File(PathBuf),
    Synthetic(Arc<Vec<u8>>),
    /// FLV on stdin, demuxed by a reader thread; read once.
    Stdin(Option<mpsc::Receiver<Piece>>),
}

/// What the stdin reader thread hands over.
enum Piece {
    Header(flv::Header),
    Tag(Tag<'static>),
    /// The stream ended at a tag boundary.
    End,
    /// The stream is not (or no longer) FLV, or stdin failed.
    Failed(String),
}

/// Tags of the stdin reader thread held at most: then it stops reading,
/// and a live source is held back by the pipe.
const STDIN_QUEUE: usize = 256;

/// Reads stdin in a thread, so that the I/O of the connection goes on
/// while a live source is quiet, and demuxes it with [`FlvDemuxer`].
fn read_stdin() -> mpsc::Receiver<Piece> {
    let (tx, rx) = mpsc::sync_channel(STDIN_QUEUE);
    let reader = move || {
        let mut stdin = std::io::stdin().lock();
        let mut demux = FlvDemuxer::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut header_sent = false;
        loop {
            let (pushed, eof) = match stdin.read(&mut buf) {
                Ok(0) => (demux.finish(), true),
                Ok(n) => (demux.push(&buf[..n]), false),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = tx.send(Piece::Failed(format!("cannot read: {e}")));
                    return;
                }
            };
            if !header_sent {
                if let Some(h) = demux.header() {
                    header_sent = true;
                    if tx.send(Piece::Header(h)).is_err() {
                        return;
                    }
                }
            }
            while let Some(tag) = demux.next_tag() {
                if tx.send(Piece::Tag(tag)).is_err() {
                    return;
                }
            }
            match pushed {
                Err(e) => {
                    let _ = tx.send(Piece::Failed(e.to_string()));
                    return;
                }
                Ok(()) if eof => {
                    let _ = tx.send(Piece::End);
                    return;
                }
                Ok(()) => {}
            }
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("stdin-flv".into())
        .spawn(reader)
    {
        let (tx, rx) = mpsc::sync_channel(1);
        let _ = tx.send(Piece::Failed(format!("cannot start a thread: {e}")));
        return rx;
    }
    rx
}

/// The tags of one pass over the source.
enum Tags {
    Reader(flv::Reader<Box<dyn Read>>),
    Pipe(mpsc::Receiver<Piece>),
}

/// The next tag, or why there is none yet.
enum Next {
    Tag(Tag<'static>),
    End,
    Failed(String),
    /// Nothing within the wait (stdin only).
    Idle,
}

impl Tags {
    fn next(&mut self, wait: Duration) -> Next {
        match self {
            Tags::Reader(r) => match r.read_tag() {
                Ok(Some(t)) => Next::Tag(t),
                Ok(None) => Next::End,
                Err(e) => Next::Failed(e.to_string()),
            },
            Tags::Pipe(rx) => match rx.recv_timeout(wait) {
                Ok(Piece::Tag(t)) => Next::Tag(t),
                Ok(Piece::Header(_)) => Next::Idle,
                Ok(Piece::End) => Next::End,
                Ok(Piece::Failed(why)) => Next::Failed(why),
                Err(mpsc::RecvTimeoutError::Timeout) => Next::Idle,
                Err(mpsc::RecvTimeoutError::Disconnected) => Next::End,
            },
        }
    }
}

impl Source {
    fn open(&mut self) -> Result<Tags> {
        let inner: Box<dyn Read> = match self {
            Source::File(path) => Box::new(BufReader::new(
                std::fs::File::open(&*path)
                    .map_err(|e| fail(format!("cannot open {}: {e}", path.display())))?,
            )),
            Source::Synthetic(bytes) => Box::new(std::io::Cursor::new(ArcBytes(bytes.clone()))),
            Source::Stdin(rx) => {
                return rx
                    .take()
                    .map(Tags::Pipe)
                    .ok_or_else(|| fail("stdin can be read only once"))
            }
        };
        flv::Reader::new(inner)
            .map(Tags::Reader)
            .map_err(|e| fail(format!("{}: not an FLV file: {e}", self)))
    }

    /// Starts reading stdin and waits for the FLV header: a stream that
    /// is not FLV fails before connecting.
    fn stdin() -> Result<Source> {
        let rx = read_stdin();
        loop {
            if stop_requested() {
                return Err(fail("interrupted"));
            }
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(Piece::Header(h)) => {
                    println!(
                        "source stdin: FLV{}{}",
                        if h.has_video { ", video" } else { "" },
                        if h.has_audio { ", audio" } else { "" }
                    );
                    return Ok(Source::Stdin(Some(rx)));
                }
                Ok(Piece::Failed(why)) => return Err(fail(format!("stdin: {why}"))),
                Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(fail("stdin: the stream ended before an FLV header"))
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Synthetic(_) => f.write_str("synthetic FLV"),
            Source::Stdin(_) => f.write_str("stdin"),
        }
    }
}

struct ArcBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Tags and bytes by kind.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub audio: (u64, u64),
    pub video: (u64, u64),
    pub data: (u64, u64),
}

impl Counts {
    pub fn add(&mut self, tag_type: u8, len: usize) {
        let slot = match tag_type {
            tag_type::AUDIO => &mut self.audio,
            tag_type::VIDEO => &mut self.video,
            _ => &mut self.data,
        };
        slot.0 += 1;
        slot.1 += len as u64;
    }

    pub fn tags(&self) -> u64 {
        self.audio.0 + self.video.0 + self.data.0
    }

    pub fn summary(&self) -> String {
        format!(
            "audio {} tags ({} bytes), video {} tags ({} bytes), data {} tags ({} bytes)",
            self.audio.0, self.audio.1, self.video.0, self.video.1, self.data.0, self.data.1
        )
    }
}

/// The publisher's view of its subscribers and connection.
struct State {
    stream: Option<rtmfp_core::flash::StreamId>,
    accepted: HashSet<PeerStreamId>,
    /// Subscribers with no direct path that play through the server.
    relayed: usize,
    server_closed: bool,
    failure: Option<String>,
}

impl State {
    fn on_event(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::PeerStreamOpened { peer } => {
                self.accepted.insert(peer.id);
                println!(
                    "subscriber {} accepted: {} at {} plays {:?} ({} connected)",
                    peer.id.0,
                    peer.far_id_hex().unwrap_or_else(|| "?".into()),
                    peer.far_address,
                    peer.name,
                    self.accepted.len()
                );
            }
            ClientEvent::PeerStreamClosed { peer, reason, .. } => {
                if self.accepted.remove(&peer) {
                    println!(
                        "subscriber {} left: {reason} ({} connected)",
                        peer.0,
                        self.accepted.len()
                    );
                } else {
                    println!("subscriber {} rejected: {reason}", peer.0);
                }
            }
            ClientEvent::Status { stream: None, info } => {
                println!("status {}", info.code);
                if info.code == code::CONNECT_CLOSED || info.is_error() {
                    self.server_closed = true;
                }
            }
            ClientEvent::Status {
                stream: Some(s),
                info,
            } if Some(s) == self.stream => {
                println!("status {}", info.code);
                if info.code == rtmfp_core::flash::client::PUBLISH_RELAYED {
                    // A subscriber found no direct path (docs/relay-fallback.md).
                    self.relayed += 1;
                    println!("relay {}", info.description);
                }
                if info.is_error() {
                    self.failure = Some(format!("{}: {}", info.code, info.description));
                }
            }
            _ => {}
        }
    }

    /// Whether the publish can go on: not if the stream failed, or the
    /// server connection closed while publishing through it.
    fn check(&mut self, direct: bool) -> std::result::Result<(), String> {
        if let Some(why) = self.failure.take() {
            return Err(why);
        }
        if self.server_closed && !direct {
            return Err("the server closed the connection".into());
        }
        Ok(())
    }

    /// Takes events for up to `wait`.
    fn pump(&mut self, nc: &NetConnection, wait: Duration) {
        if let Some(e) = nc.next_event_timeout(wait) {
            self.on_event(e);
            while let Some(e) = nc.try_next_event() {
                self.on_event(e);
            }
        }
    }
}

fn would_block(e: &NetError) -> bool {
    matches!(
        e,
        NetError::Client(ClientError::Endpoint(EndpointError::Flow(
            FlowError::WouldBlock
        )))
    )
}

/// Waits until every session's flows are idle (nothing in flight and
/// nothing new sent between two looks), at most `limit`.
fn drain(nc: &NetConnection, state: &mut State, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut last = None;
    while Instant::now() < deadline && !stop_requested() {
        let sample = nc.with_client(|c, ep, _| c.delivery(ep, None));
        let Ok(sample) = sample else { return };
        if sample.0 == 0 && last == Some(sample) {
            return;
        }
        last = Some(sample);
        state.pump(nc, Duration::from_millis(50));
    }
}

/// The NetConnection's options: the flags that have a row (`--bind`,
/// `--direct-timeout`, `--turn`, `--max-peers`), then every `--option`.
fn publish_options(args: &PublishArgs) -> Result<Options> {
    let mut flags = Flags::new();
    args.client.set(&mut flags)?;
    if let Some(max) = args.max_peers {
        let max = OptionValue::Int(max as i128);
        flags.set("max_peer_connections", "--max-peers", max)?;
    }
    MAKER.options(&args.options.option, flags)
}

pub fn run(args: PublishArgs) -> Result<()> {
    if MAKER.help_asked(&args.options.option) {
        return Ok(());
    }
    crate::common::install_signal_handlers();
    let options = publish_options(&args)?;
    if !args.direct && args.wait.is_some_and(|n| n > 0) {
        // A server does not tell a publisher who plays (RFC 7425 §5.4 has
        // no such message), so this would wait for ever.
        return Err(CliError::Usage(
            "--wait counts the subscribers of a DIRECT_CONNECTIONS stream (--direct); \
             through a server the publisher is not told who plays. Add --direct, or \
             start the players first and publish without --wait"
                .into(),
        ));
    }
    let stdin = args.file.as_deref() == Some(std::path::Path::new("-"));
    if stdin && args.repeat {
        return Err(CliError::Usage(
            "--loop needs a file: stdin (-) can be read only once".into(),
        ));
    }
    let mut source = match (&args.file, args.synthetic) {
        (Some(_), _) if stdin => Source::stdin()?,
        (Some(path), _) => Source::File(path.clone()),
        (None, Some(d)) => {
            let ms = d.as_millis().min(u128::from(u32::MAX / 2)) as u32;
            let (v, a) = flv::synthetic_tag_counts(ms, SYNTHETIC_FPS, SYNTHETIC_AUDIO_RATE);
            println!(
                "source synthetic FLV, {:.1} s: {v} video, {a} audio, 1 data tags",
                f64::from(ms) / 1000.0
            );
            Source::Synthetic(Arc::new(flv::synthetic(
                ms,
                SYNTHETIC_FPS,
                SYNTHETIC_AUDIO_RATE,
            )))
        }
        (None, None) => {
            return Err(CliError::Usage(
                "nothing to publish: give an FLV file (rtmfp publish URI FILE.flv), \
                 or --synthetic SECS for a generated test stream"
                    .into(),
            ))
        }
    };
    // Open it once before connecting: a bad file fails fast (stdin was
    // checked above).
    if !stdin {
        drop(source.open()?);
    }

    let nc = peer::connect(&args.uri, &args.client, &options)?;
    println!("peer ID {}", nc.near_id_hex());
    let mut state = State {
        stream: None,
        accepted: HashSet::new(),
        relayed: 0,
        server_closed: false,
        failure: None,
    };
    let result = publish(&args, &mut source, &nc, &mut state);
    nc.close(Duration::from_secs(2));
    result
}

fn publish(
    args: &PublishArgs,
    source: &mut Source,
    nc: &NetConnection,
    state: &mut State,
) -> Result<()> {
    let name = &args.uri.stream;
    if let Some(peer_name) = &args.name {
        let answer = peer::call(
            nc,
            rtmfp_core::rendezvous::REGISTER_NAME,
            vec![Value::from(peer_name.as_str())],
            args.client.timeout,
            |e| state.on_event(e),
        )?;
        match answer {
            Ok(_) => println!("name {peer_name:?} registered"),
            Err(why) => return Err(fail(format!("cannot register {peer_name:?}: {why}"))),
        }
    }
    let ns: NetStream = if args.direct {
        nc.create_direct_stream()
    } else {
        nc.create_stream()
    }
    .map_err(|e| fail(format!("cannot create a stream: {e}")))?;
    state.stream = Some(ns.id());
    if let Some(limit) = args.reject_after {
        let seen = AtomicUsize::new(0);
        nc.set_peer_connect_policy(Some(Box::new(move |_| {
            seen.fetch_add(1, Ordering::SeqCst) < limit
        })))
        .map_err(|e| fail(e.to_string()))?;
    }
    ns.publish(name)
        .map_err(|e| fail(format!("cannot publish {name:?}: {e}")))?;

    // NetStream.Publish.Start, or a refusal.
    let deadline = Instant::now() + args.client.timeout;
    loop {
        if stop_requested() {
            return Err(fail("interrupted"));
        }
        if Instant::now() > deadline {
            return Err(fail(format!("no answer to publish {name:?}")));
        }
        let Some(event) = nc.next_event_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let started = peer::stream_status(&event, ns.id())
            .map(|(c, d, err)| (c == code::PUBLISH_START, err.then(|| format!("{c}: {d}"))));
        state.on_event(event);
        match started {
            Some((true, _)) => break,
            Some((_, Some(why))) => return Err(fail(format!("cannot publish {name:?}: {why}"))),
            _ => {}
        }
        if state.server_closed {
            return Err(fail("the server closed the connection"));
        }
    }
    let connection = &args.uri.connection;
    if args.direct {
        println!("publishing {name:?} directly (DIRECT_CONNECTIONS); play it with:");
        match &args.name {
            Some(n) => println!(
                "  rtmfp play {connection}#{name} --peer-name {n}\n  rtmfp play {connection}#{name} --peer {}",
                nc.near_id_hex()
            ),
            None => println!(
                "  rtmfp play {connection}#{name} --peer {}",
                nc.near_id_hex()
            ),
        }
    } else {
        println!("publishing {name:?} through the server; play it with:");
        println!("  rtmfp play {connection}#{name}");
    }

    let wait = args.wait.unwrap_or(usize::from(args.direct));
    if wait > 0 {
        println!(
            "waiting for {wait} subscriber{}",
            if wait == 1 { "" } else { "s" }
        );
        while state.accepted.len() + state.relayed < wait {
            if stop_requested() {
                return Ok(());
            }
            if state.server_closed && !args.direct {
                return Err(fail("the server closed the connection"));
            }
            state.pump(nc, Duration::from_millis(200));
        }
    }

    let mut progress = Progress::new();
    let mut counts = Counts::default();
    let start = Instant::now();
    let mut last_progress = Instant::now();
    let mut offset: u32 = 0;
    let mut first_ts: Option<u32> = None;
    let mut passes = 0u64;
    'passes: loop {
        passes += 1;
        let mut reader = source.open()?;
        let mut pass_max: u32 = 0;
        loop {
            let tag = match reader.next(Duration::from_millis(100)) {
                Next::Tag(t) => t,
                Next::End => break,
                Next::Failed(e) => {
                    progress.finish();
                    eprintln!("rtmfp: warning: {source}: {e}; stopping at the last whole tag");
                    break;
                }
                Next::Idle => {
                    // A quiet live source: keep the connection served.
                    if stop_requested() {
                        break 'passes;
                    }
                    if let Err(why) = state.check(args.direct) {
                        progress.finish();
                        return Err(fail(why));
                    }
                    state.pump(nc, Duration::ZERO);
                    continue;
                }
            };
            if !matches!(
                tag.tag_type,
                tag_type::AUDIO | tag_type::VIDEO | tag_type::SCRIPT
            ) {
                continue;
            }
            pass_max = pass_max.max(tag.timestamp);
            let ts = tag.timestamp.wrapping_add(offset);
            let t0 = *first_ts.get_or_insert(ts);
            // --speed 0: no pacing, every tag is due at once.
            let due = if args.speed > 0.0 {
                start
                    + Duration::from_secs_f64(
                        f64::from(ts.saturating_sub(t0)) / 1000.0 / args.speed,
                    )
            } else {
                start
            };
            loop {
                if stop_requested() {
                    break 'passes;
                }
                if let Err(why) = state.check(args.direct) {
                    progress.finish();
                    return Err(fail(why));
                }
                let now = Instant::now();
                if now >= due {
                    break;
                }
                state.pump(nc, (due - now).min(Duration::from_millis(100)));
            }
            let out = Tag::new(tag.tag_type, ts, tag.data.into_owned());
            loop {
                match ns.send_tag(&out) {
                    Ok(_) => break,
                    Err(e) if would_block(&e) && !stop_requested() => {
                        state.pump(nc, Duration::from_millis(5));
                    }
                    Err(e) => {
                        progress.finish();
                        return Err(fail(format!("cannot send: {e}")));
                    }
                }
            }
            counts.add(out.tag_type, out.data.len());
            if !args.quiet && last_progress.elapsed() >= Duration::from_secs(1) {
                last_progress = Instant::now();
                progress.update(&format!(
                    "publish {:.1} s | video {} audio {} data {} tags | {} subscribers",
                    start.elapsed().as_secs_f64(),
                    counts.video.0,
                    counts.audio.0,
                    counts.data.0,
                    if args.direct {
                        state.accepted.len().to_string()
                    } else {
                        "server".into()
                    }
                ));
            }
        }
        if !args.repeat {
            break;
        }
        // The next pass continues one frame after this one's last tag.
        offset = offset.wrapping_add(pass_max).wrapping_add(40);
    }
    progress.finish();
    // Let what was sent arrive before the stream ends, so that players
    // see every tag before the unpublish.
    drain(nc, state, Duration::from_secs(5));
    let _ = ns.close();
    drain(nc, state, Duration::from_secs(2));
    while let Some(e) = nc.try_next_event() {
        state.on_event(e);
    }
    println!(
        "sent        {} in {:.1} s{}",
        counts.summary(),
        start.elapsed().as_secs_f64(),
        if passes > 1 {
            format!(", {passes} passes")
        } else {
            String::new()
        }
    );
    if counts.tags() == 0 {
        return Err(fail(format!("{source} has no audio, video or data tags")));
    }
    Ok(())
}
