//! `rtmfp play`: plays a stream through the server (RFC 7425 §5.3.5) or
//! directly from its publisher by peer ID or registered name (§5.4), and
//! optionally writes what arrives to an FLV file.

use crate::common::{fail, parse_duration, parse_peer_id, stop_requested, Progress, Result};
use crate::peer::{self, parse_stream_uri, ClientArgs, StreamUri};
use crate::publish::Counts;
use clap::Args;
use rtmfp_core::flash::client::ClientEvent;
use rtmfp_core::flash::command::code;
use rtmfp_core::flash::flv::{self, tag_type, Tag};
use rtmfp_core::flash::message::message_type;
use rtmfp_core::flash::{NetConnection, Value};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
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
rejected or failed.")]
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
    /// Write the audio, video and data messages to this FLV file, in
    /// timestamp order (they arrive on separate flows; a 2 s window of
    /// stream time puts them back in order).
    #[arg(long, short = 'o', value_name = "FILE.flv")]
    pub out: Option<PathBuf>,
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
}

fn parse_peer_id_hex(s: &str) -> std::result::Result<String, String> {
    parse_peer_id(s).map(|id| crate::common::hex(&id))
}

/// Stream time (ms) a tag is held so that tags from the stream's other
/// flows can be put before it.
const REORDER_WINDOW_MS: u32 = 2000;

/// Puts tags back in timestamp order for the FLV file.  Audio, video and
/// data travel on separate flows (RFC 7425 §5.1.1), audio at a higher
/// priority, so they arrive interleaved differently from how they were
/// sent; an FLV file wants non-decreasing timestamps.  At equal
/// timestamps data goes first, then audio, then video.
struct Reorder<W: Write> {
    writer: flv::Writer<W>,
    pending: BTreeMap<(u32, u8, u64), (u8, Vec<u8>)>,
    newest: u32,
    seq: u64,
}

impl<W: Write> Reorder<W> {
    fn new(writer: flv::Writer<W>) -> Self {
        Reorder {
            writer,
            pending: BTreeMap::new(),
            newest: 0,
            seq: 0,
        }
    }

    fn push(&mut self, kind: u8, timestamp: u32, data: &[u8]) -> std::io::Result<()> {
        // A jump far back in time (a new publish, a wrap): what is held
        // belongs before it.
        if !self.pending.is_empty() && timestamp.saturating_add(2 * REORDER_WINDOW_MS) < self.newest
        {
            self.flush_until(u32::MAX)?;
            self.newest = timestamp;
        }
        let rank = match kind {
            tag_type::AUDIO => 1,
            tag_type::VIDEO => 2,
            _ => 0,
        };
        self.seq += 1;
        self.pending
            .insert((timestamp, rank, self.seq), (kind, data.to_vec()));
        self.newest = self.newest.max(timestamp);
        match self.newest.checked_sub(REORDER_WINDOW_MS) {
            Some(limit) => self.flush_until(limit),
            None => Ok(()),
        }
    }

    /// Writes every held tag with a timestamp up to `limit`.
    fn flush_until(&mut self, limit: u32) -> std::io::Result<()> {
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 > limit {
                break;
            }
            let ((ts, _, _), (kind, data)) = entry.remove_entry();
            self.writer.write_tag(&Tag::borrowed(kind, ts, &data))?;
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<()> {
        self.flush_until(u32::MAX)?;
        self.writer.flush()
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
}

pub fn run(args: PlayArgs) -> Result<()> {
    crate::common::install_signal_handlers();
    let nc = peer::connect(&args.uri, &args.client)?;
    let result = play(&args, &nc);
    nc.close(Duration::from_secs(1));
    result
}

fn play(args: &PlayArgs, nc: &NetConnection) -> Result<()> {
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

    let mut writer = match &args.out {
        Some(path) => {
            let file = File::create(path)
                .map_err(|e| fail(format!("cannot create {}: {e}", path.display())))?;
            Some(Reorder::new(
                flv::Writer::new(BufWriter::new(file), &flv::Header::new(true, true))
                    .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?,
            ))
        }
        None => None,
    };
    let write_err = |e: std::io::Error| {
        fail(format!(
            "cannot write {}: {e}",
            args.out
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ))
    };

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
    let mut started = false;
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
        let Some(event) = nc.next_event_timeout(Duration::from_millis(100)) else {
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
                    w.push(kind, timestamp, data).map_err(write_err)?;
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
    if let Some(w) = writer {
        w.finish().map_err(write_err)?;
    }
    let why = match &end {
        End::Stream(c) => format!("the stream ended ({c})"),
        End::Count => "--count reached".into(),
        End::Duration => "--duration reached".into(),
        End::Interrupted => "interrupted".into(),
        End::ServerClosed => "the server closed the connection".into(),
    };
    let media_time = first_media.map(|t| t.elapsed()).unwrap_or_default();
    println!(
        "received    {} in {:.1} s; {why}",
        counts.summary(),
        media_time.as_secs_f64()
    );
    if let Some(path) = &args.out {
        println!("wrote       {} ({} tags)", path.display(), counts.tags());
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
        let header = flv::Header::new(true, true);
        let mut w = Reorder::new(flv::Writer::new(Vec::new(), &header).unwrap());
        for t in &arrival {
            w.push(t.0, t.1, &t.2).unwrap();
        }
        w.flush_until(u32::MAX).unwrap();
        assert_eq!(tags(&w.writer.into_inner()), sent);
    }
}
