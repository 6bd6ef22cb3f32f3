//! `rtmfp decrypt`: the RTMFP packets of a capture, decrypted with a key
//! log (`RTMFP_KEYLOGFILE`, `--key-log`; format in
//! `rtmfp_core::crypto::flash::key_log`), one line per datagram.
//!
//! Startup packets (session ID 0) use the default session key (RFC 7425
//! §4.1) and need no log.  Every other datagram is tried against each
//! logged session, both directions; the checksum or HMAC of the packet
//! (§4.7.3) says which one is right.

use crate::common::{fail, hex, CliError, Result};
use crate::pcap::{self, Datagram};
use clap::Args;
use rtmfp_core::crypto::flash::default_key::default_session_crypto;
use rtmfp_core::crypto::flash::key_log::{Direction, SessionKeyLine};
use rtmfp_core::crypto::SessionCrypto;
use rtmfp_core::wire::chunk::FragmentControl;
use rtmfp_core::wire::{read_multiplex, Chunk, Mode, Packet};
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

/// Decrypt the RTMFP packets of a pcap capture with a key log
/// (`rtmfp decrypt --key-log FILE CAPTURE.pcap`).
#[derive(Args, Debug)]
#[command(after_help = "\
Make the key log by running any rtmfp program (the CLI, or an application on \
the C, Python or Node library) with RTMFP_KEYLOGFILE=FILE in its environment, \
or with its key log option (rtmfp --key-log FILE ...). Capture with \
`tcpdump -i lo -w CAPTURE.pcap udp port 1935` (classic pcap).

Output, one line per UDP datagram:
  FRAME TIME SRC > DST session ID [SESSION DIRECTION] MODE ts=T: CHUNK; CHUNK...
SESSION is the logged session's number in the key log (1 = first line), \
DIRECTION `sent` or `received` as seen by the side that logged it; \
startup packets say `[default key]`. Datagrams that no key opens say `not decrypted`. \
Loopback captures of UDP GSO sends hold several datagrams in one frame: they \
are split and shown as `(GSO segment I of N)`.")]
pub struct DecryptArgs {
    /// Print each chunk's payload bytes in hex too.
    #[arg(long)]
    pub hex: bool,
    /// The capture (classic pcap).
    #[arg(value_name = "CAPTURE.pcap")]
    pub capture: PathBuf,
}

/// What a datagram turned out to be.
#[derive(Debug, PartialEq, Eq)]
enum Opened {
    /// Decrypted with the default key.
    Startup(Vec<u8>),
    /// Decrypted with session `index` (0-based) of the log.
    Session(usize, Direction, Vec<u8>),
    /// No key opened it.
    Closed,
}

fn open(sessions: &[SessionKeyLine], datagram: &[u8]) -> Option<(u32, Opened)> {
    let (session_id, encrypted) = read_multiplex(datagram).ok()?;
    let logged = || {
        sessions
            .iter()
            .enumerate()
            .find_map(|(i, s)| s.open(encrypted).map(|(d, p)| Opened::Session(i, d, p)))
    };
    // Startup packets use the default key (RFC 7425 §4.1): every packet to
    // session 0, and the Responder Initial Keying, which goes to the
    // initiator's session ID before the keys exist (RFC 7016 §3.5.1.3).
    let startup = || {
        let mut plain = Vec::new();
        default_session_crypto()
            .decrypt(encrypted, &mut plain)
            .ok()
            .map(|()| Opened::Startup(plain))
    };
    let opened = if session_id == 0 {
        startup()
    } else {
        logged().or_else(startup)
    };
    Some((session_id, opened.unwrap_or(Opened::Closed)))
}

fn fra(f: FragmentControl) -> &'static str {
    match f {
        FragmentControl::Whole => "",
        FragmentControl::Begin => " begin",
        FragmentControl::Middle => " middle",
        FragmentControl::End => " end",
    }
}

/// One chunk, briefly.
fn describe(chunk: &Chunk<'_>, show_hex: bool) -> String {
    let data = |d: &[u8]| {
        if show_hex {
            format!(" {}", hex(d))
        } else {
            String::new()
        }
    };
    match chunk {
        Chunk::UserData(u) => format!(
            "UserData flow {} seq {} fsn {}{}{}{} {} bytes{}",
            u.flow_id,
            u.sequence_number,
            u.forward_sequence_number(),
            fra(u.fragment),
            if u.fin { " fin" } else { "" },
            if u.options.is_some() { " +options" } else { "" },
            u.data.len(),
            data(u.data)
        ),
        Chunk::NextUserData(u) => format!(
            "NextUserData{}{} {} bytes{}",
            fra(u.fragment),
            if u.fin { " fin" } else { "" },
            u.data.len(),
            data(u.data)
        ),
        Chunk::BitmapAck(a) => format!(
            "BitmapAck flow {} cum {} buffer {}",
            a.flow_id, a.cumulative_ack, a.buffer_blocks_available
        ),
        Chunk::RangeAck(a) => format!(
            "RangeAck flow {} cum {} buffer {}",
            a.flow_id, a.cumulative_ack, a.buffer_blocks_available
        ),
        Chunk::IHello(h) => format!("IHello epd {} bytes tag {}", h.epd.len(), hex(h.tag)),
        Chunk::RHello(h) => format!(
            "RHello tag {} cookie {} bytes cert {} bytes",
            hex(h.tag_echo),
            h.cookie.len(),
            h.certificate.len()
        ),
        Chunk::IIKeying(k) => format!(
            "IIKeying session {} cookie {} bytes cert {} bytes",
            k.initiator_session_id,
            k.cookie_echo.len(),
            k.certificate.len()
        ),
        Chunk::RIKeying(k) => format!("RIKeying session {}", k.responder_session_id),
        Chunk::Redirect(r) => format!("Redirect tag {}", hex(r.tag_echo)),
        Chunk::Ping(m) => format!("Ping {} bytes{}", m.len(), data(m)),
        Chunk::PingReply(m) => format!("PingReply {} bytes{}", m.len(), data(m)),
        Chunk::BufferProbe(flow) => format!("BufferProbe flow {flow}"),
        Chunk::FlowException(e) => format!("FlowException flow {} code {}", e.flow_id, e.exception),
        Chunk::Close => "Close".into(),
        Chunk::CloseAck => "CloseAck".into(),
        Chunk::Fragment(f) => format!(
            "Fragment packet {} #{}{} {} bytes",
            f.packet_id,
            f.fragment_num,
            if f.more { " more" } else { "" },
            f.data.len()
        ),
        Chunk::FIHello(_) => "FIHello".into(),
        Chunk::CookieChange(_) => "CookieChange".into(),
        Chunk::Unknown { chunk_type, .. } => format!("chunk 0x{chunk_type:02x}"),
    }
}

/// A decrypted packet: mode, timestamps and chunks.
fn describe_packet(plain: &[u8], show_hex: bool) -> String {
    let packet = match Packet::parse(plain) {
        Ok(p) => p,
        Err(e) => return format!("malformed packet ({e})"),
    };
    let h = packet.header;
    let mode = match h.mode {
        Mode::Initiator => "initiator",
        Mode::Responder => "responder",
        Mode::Startup => "startup",
    };
    let mut out = mode.to_string();
    if let Some(ts) = h.timestamp {
        let _ = write!(out, " ts={ts}");
    }
    if let Some(echo) = h.timestamp_echo {
        let _ = write!(out, " echo={echo}");
    }
    let chunks: Vec<String> = packet
        .chunks()
        .map(|raw| match raw.decode() {
            Ok(c) => describe(&c, show_hex),
            Err(e) => format!("chunk 0x{:02x} malformed ({e})", raw.chunk_type),
        })
        .collect();
    format!("{out}: {}", chunks.join("; "))
}

/// Counts for the summary.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    datagrams: usize,
    startup: usize,
    decrypted: usize,
    closed: usize,
}

/// A loopback capture of a UDP GSO send (`UDP_SEGMENT`) holds the whole
/// run of equal-size datagrams as one: finds the segment size at which
/// every segment opens, trying the sizes a packet can have (whole AES
/// blocks plus a logged HMAC length, after the 4-byte session ID).
fn split_gso<'a>(sessions: &[SessionKeyLine], payload: &'a [u8]) -> Option<Vec<&'a [u8]>> {
    let mut tails: Vec<usize> = sessions
        .iter()
        .flat_map(|s| [&s.params.send_hmac, &s.params.recv_hmac])
        .map(|h| h.as_ref().map_or(0, |h| h.len))
        .chain([0])
        .collect();
    tails.sort_unstable();
    tails.dedup();
    let opens = |seg: &[u8]| !matches!(open(sessions, seg), None | Some((_, Opened::Closed)));
    (1..payload.len() / 16)
        .flat_map(|blocks| tails.iter().map(move |t| 4 + blocks * 16 + t))
        .filter(|&size| size < payload.len())
        .find(|&size| payload.chunks(size).all(opens))
        .map(|size| payload.chunks(size).collect())
}

fn line(d: &Datagram, start: f64, sessions: &[SessionKeyLine], hex: bool, t: &mut Tally) -> String {
    let head = format!("{} {:.6} {} > {}", d.frame, d.time - start, d.src, d.dst);
    let opened = open(sessions, &d.payload);
    if matches!(opened, Some((_, Opened::Closed))) {
        if let Some(segments) = split_gso(sessions, &d.payload) {
            let n = segments.len();
            return segments
                .iter()
                .enumerate()
                .map(|(i, seg)| {
                    let head = format!("{head} (GSO segment {} of {n})", i + 1);
                    segment(&head, open(sessions, seg), seg.len(), hex, t)
                })
                .collect::<Vec<_>>()
                .join("\n");
        }
    }
    segment(&head, opened, d.payload.len(), hex, t)
}

/// One datagram's line.
fn segment(
    head: &str,
    opened: Option<(u32, Opened)>,
    len: usize,
    hex: bool,
    t: &mut Tally,
) -> String {
    t.datagrams += 1;
    match opened {
        None => {
            t.closed += 1;
            format!("{head} not RTMFP ({len} bytes)")
        }
        Some((id, Opened::Startup(plain))) => {
            t.startup += 1;
            format!(
                "{head} session {id} [default key] {}",
                describe_packet(&plain, hex)
            )
        }
        Some((id, Opened::Session(i, dir, plain))) => {
            t.decrypted += 1;
            let dir = match dir {
                Direction::Sent => "sent",
                Direction::Received => "received",
            };
            format!(
                "{head} session {id} [{} {dir}] {}",
                i + 1,
                describe_packet(&plain, hex)
            )
        }
        Some((id, Opened::Closed)) => {
            t.closed += 1;
            format!("{head} session {id} not decrypted ({len} bytes)")
        }
    }
}

/// Runs `rtmfp decrypt` with the key log `key_log` (`--key-log`).
pub fn run(args: DecryptArgs, key_log: Option<PathBuf>) -> Result<()> {
    let key_log = key_log.ok_or_else(|| {
        CliError::Usage("decrypt needs --key-log FILE (the key log to decrypt with)".into())
    })?;
    let text = std::fs::read_to_string(&key_log)
        .map_err(|e| fail(format!("cannot read the key log {key_log:?}: {e}")))?;
    let (sessions, errors) = SessionKeyLine::parse_all(&text);
    for e in &errors {
        eprintln!("rtmfp: {key_log:?} {e} (skipped)");
    }
    let data = std::fs::read(&args.capture)
        .map_err(|e| fail(format!("cannot read {:?}: {e}", args.capture)))?;
    let capture = pcap::parse(&data).map_err(|e| fail(format!("{:?}: {e}", args.capture)))?;
    let start = capture.datagrams.first().map_or(0.0, |d| d.time);
    let mut tally = Tally::default();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for d in &capture.datagrams {
        let text = line(d, start, &sessions, args.hex, &mut tally);
        if writeln!(out, "{text}").is_err() {
            // The reader went away (| head).
            return Ok(());
        }
    }
    let _ = out.flush();
    eprintln!(
        "{} RTMFP datagrams in {} UDP frames ({} other frames skipped): {} startup, {} decrypted with {} logged sessions, {} not decrypted",
        tally.datagrams,
        capture.datagrams.len(),
        capture.skipped,
        tally.startup,
        tally.decrypted,
        sessions.len(),
        tally.closed
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtmfp_core::crypto::flash::packet::{FlashSessionCrypto, PacketParams};
    use rtmfp_core::wire::write_multiplex;

    fn session() -> SessionKeyLine {
        SessionKeyLine {
            near_nonce: vec![1; 32],
            encrypt_key: [3; 16],
            decrypt_key: [4; 16],
            params: PacketParams::default(),
        }
    }

    /// A datagram the logged side received: a Ping with `message`.
    fn received(message: &[u8]) -> Vec<u8> {
        let mut plain = vec![0x09, 0, 1, 0x01, 0, message.len() as u8];
        plain.extend_from_slice(message);
        // The far end encrypts with our decrypt key.
        let mut far = FlashSessionCrypto::new(&[4; 16], &[3; 16], &PacketParams::default());
        let mut encrypted = Vec::new();
        far.encrypt(&plain, &mut encrypted);
        let mut datagram = Vec::new();
        write_multiplex(7, &encrypted, &mut datagram);
        datagram
    }

    fn datagram(payload: Vec<u8>) -> Datagram {
        Datagram {
            frame: 3,
            time: 10.5,
            src: "127.0.0.1:1".parse().unwrap(),
            dst: "127.0.0.1:2".parse().unwrap(),
            payload,
        }
    }

    #[test]
    fn a_logged_packet_is_shown_with_its_chunks() {
        let mut t = Tally::default();
        let text = line(&datagram(received(b"hi")), 10.0, &[session()], true, &mut t);
        assert_eq!(
            text,
            "3 0.500000 127.0.0.1:1 > 127.0.0.1:2 session 7 [1 received] initiator ts=1: Ping 2 bytes 6869"
        );
        assert_eq!(t.decrypted, 1);
        let text = line(&datagram(received(b"hi")), 10.0, &[], false, &mut t);
        assert!(
            text.ends_with("session 7 not decrypted (20 bytes)"),
            "{text}"
        );
        assert_eq!(t.closed, 1);
        let text = line(&datagram(vec![1, 2]), 10.0, &[], false, &mut t);
        assert!(text.ends_with("not RTMFP (2 bytes)"), "{text}");
    }

    #[test]
    fn a_gso_run_is_split_into_its_datagrams() {
        let first = received(&[b'a'; 40]);
        let second = received(b"b");
        assert!(second.len() < first.len());
        let mut run = first.clone();
        run.extend_from_slice(&first);
        run.extend_from_slice(&second);
        let mut t = Tally::default();
        let text = line(&datagram(run), 10.0, &[session()], false, &mut t);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].contains("(GSO segment 1 of 3)"), "{text}");
        assert!(lines[2].ends_with("Ping 1 bytes"), "{text}");
        assert_eq!(t.decrypted, 3);
    }
}
