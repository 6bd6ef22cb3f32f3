//! Session key logs, in the spirit of `SSLKEYLOGFILE`: each Flash-profile
//! session's packet keys, one line per session, so that a packet capture
//! can be decrypted later (`rtmfp decrypt --key-log FILE CAPTURE.pcap`).
//!
//! Written when [`FlashConfig::key_log`](super::FlashConfig::key_log) is
//! set, else when the program set a process default
//! ([`KeyLog::set_process_default`]), else when the environment variable
//! `RTMFP_KEYLOGFILE` names a file (looked up once per identity, at
//! [`FlashProfile::generate`](super::FlashProfile::generate)).
//! Lines are appended (`O_APPEND`, one `write` each), so several
//! processes may share one file.
//!
//! # Line format
//!
//! ```text
//! # comment
//! RTMFP_SESSION <near_nonce> <encrypt_key> <decrypt_key> <send_hmac> <recv_hmac> <send_sseq> <recv_sseq>
//! ```
//!
//! Fields are separated by one space; bytes are lower-case hex.
//!
//! - `near_nonce`: NEAR_NONCE of the session (RFC 7425 §4.6.5) of the
//!   side that wrote the line; the far end logs it as its FAR_NONCE.  It
//!   names the session.
//! - `encrypt_key`, `decrypt_key`: the 16-byte AES-128 keys of the
//!   packets this side sends and receives (the first 16 bytes of
//!   ENCRYPT_KEY and DECRYPT_KEY, §4.6.3).
//! - `send_hmac`, `recv_hmac`: `-` when the packets carry the simple
//!   checksum (§4.7.3.1), else `<length>:<32-byte HMAC key>` (§4.7.3.2).
//! - `send_sseq`, `recv_sseq`: `1` when the packets carry session
//!   sequence numbers (§4.6.6), else `0`.
//!
//! Lines with another label are ignored by readers, so the format can
//! grow.
//!
//! **Anyone with the file can read the sessions it lists.**  It is for
//! debugging; never leave it on in production.

use super::packet::{FlashSessionCrypto, HmacParams, PacketParams};
use crate::crypto::SessionCrypto;
use crate::flash::peer_id::to_hex as hex;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The environment variable that turns key logging on for every
/// identity made without an explicit [`KeyLog`].
pub const KEY_LOG_ENV: &str = "RTMFP_KEYLOGFILE";

/// The label of a session's line.
pub const SESSION_LABEL: &str = "RTMFP_SESSION";

/// A key log file, opened for appending.  Cheap to clone; clones (and
/// every `KeyLog` of the same path in this process) share one file.
#[derive(Clone)]
pub struct KeyLog {
    path: PathBuf,
    file: Arc<Mutex<File>>,
}

impl std::fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("KeyLog").field(&self.path).finish()
    }
}

impl PartialEq for KeyLog {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

impl Eq for KeyLog {}

/// Open key log files of this process, by path.
fn open_files() -> &'static Mutex<HashMap<PathBuf, Arc<Mutex<File>>>> {
    static FILES: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<File>>>>> = OnceLock::new();
    FILES.get_or_init(Default::default)
}

fn process_default() -> &'static Mutex<Option<KeyLog>> {
    static DEFAULT: Mutex<Option<KeyLog>> = Mutex::new(None);
    &DEFAULT
}

impl KeyLog {
    /// Opens (creating it, mode 0600 where the system has modes) `path`
    /// for appending.
    pub fn open(path: impl AsRef<Path>) -> io::Result<KeyLog> {
        let path = path.as_ref().to_path_buf();
        let mut files = open_files().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(file) = files.get(&path) {
            return Ok(KeyLog {
                path,
                file: file.clone(),
            });
        }
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = Arc::new(Mutex::new(options.open(&path)?));
        files.insert(path.clone(), file.clone());
        Ok(KeyLog { path, file })
    }

    /// The key log named by `RTMFP_KEYLOGFILE`, if it is set and can be
    /// opened.  A failure is said once on stderr and otherwise ignored: a
    /// debugging aid never stops the application.
    pub fn from_env() -> Option<KeyLog> {
        let path = std::env::var_os(KEY_LOG_ENV).filter(|p| !p.is_empty())?;
        match KeyLog::open(&path) {
            Ok(log) => Some(log),
            Err(e) => {
                static SAID: std::sync::Once = std::sync::Once::new();
                SAID.call_once(|| eprintln!("rtmfp: {KEY_LOG_ENV}={path:?}: cannot open it: {e}"));
                None
            }
        }
    }

    /// Makes `log` the key log of every identity this process makes from
    /// now on without an explicit one (before `RTMFP_KEYLOGFILE`); `None`
    /// goes back to the environment.  For programs with a `--key-log`
    /// option, such as the `rtmfp` CLI.
    pub fn set_process_default(log: Option<KeyLog>) {
        *process_default().lock().unwrap_or_else(|e| e.into_inner()) = log;
    }

    /// The key log of an identity made without an explicit one: the
    /// process default ([`KeyLog::set_process_default`]), else
    /// [`KeyLog::from_env`].
    pub fn default_for_process() -> Option<KeyLog> {
        let set = process_default()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        set.or_else(KeyLog::from_env)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a session's line (one `write`, so concurrent writers do
    /// not interleave).  A failing write (a full disk) is ignored: a
    /// debugging aid never stops a session.
    pub fn record(&self, keys: &SessionKeyLine) {
        let line = keys.to_line() + "\n";
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = file.write_all(line.as_bytes());
    }
}

/// One session's keys, as a key log line holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeyLine {
    /// NEAR_NONCE of the side that logged it.
    pub near_nonce: Vec<u8>,
    /// AES-128 key of the packets it sends.
    pub encrypt_key: [u8; 16],
    /// AES-128 key of the packets it receives.
    pub decrypt_key: [u8; 16],
    /// What was negotiated for each direction.
    pub params: PacketParams,
}

/// Which way a packet went, seen from the side that logged the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sent by the side that logged the keys.
    Sent,
    /// Received by it.
    Received,
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn hmac_field(h: &Option<HmacParams>) -> String {
    match h {
        None => "-".into(),
        Some(h) => format!("{}:{}", h.len, hex(&h.key)),
    }
}

fn parse_hmac(field: &str) -> Result<Option<HmacParams>, String> {
    if field == "-" {
        return Ok(None);
    }
    let (len, key) = field
        .split_once(':')
        .ok_or_else(|| format!("HMAC field {field:?}: expected - or LENGTH:KEY"))?;
    let len: usize = len
        .parse()
        .ok()
        .filter(|n| (4..=32).contains(n))
        .ok_or_else(|| format!("HMAC length {len:?}: expected 4 to 32"))?;
    let key: [u8; 32] = unhex(key)
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| "HMAC key: expected 64 hex digits".to_string())?;
    Ok(Some(HmacParams { key, len }))
}

fn parse_flag(field: &str) -> Result<bool, String> {
    match field {
        "0" => Ok(false),
        "1" => Ok(true),
        other => Err(format!("sequence number flag {other:?}: expected 0 or 1")),
    }
}

fn parse_key(field: &str, what: &str) -> Result<[u8; 16], String> {
    unhex(field)
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| format!("{what}: expected 32 hex digits"))
}

impl SessionKeyLine {
    /// The line, without its newline.
    pub fn to_line(&self) -> String {
        let p = &self.params;
        format!(
            "{SESSION_LABEL} {} {} {} {} {} {} {}",
            hex(&self.near_nonce),
            hex(&self.encrypt_key),
            hex(&self.decrypt_key),
            hmac_field(&p.send_hmac),
            hmac_field(&p.recv_hmac),
            u8::from(p.send_sseq),
            u8::from(p.recv_sseq),
        )
    }

    /// Parses one line: `Ok(None)` for a comment, a blank line or another
    /// label; an error says what is wrong with a session line.
    pub fn parse(line: &str) -> Result<Option<SessionKeyLine>, String> {
        let line = line.trim();
        let mut fields = line.split_ascii_whitespace();
        if fields.next() != Some(SESSION_LABEL) {
            return Ok(None);
        }
        let fields: Vec<&str> = fields.collect();
        let [nonce, enc, dec, send_hmac, recv_hmac, send_sseq, recv_sseq] = fields[..] else {
            return Err(format!(
                "{SESSION_LABEL} needs 7 fields, found {}",
                fields.len()
            ));
        };
        Ok(Some(SessionKeyLine {
            near_nonce: unhex(nonce).ok_or("near nonce: expected hex digits")?,
            encrypt_key: parse_key(enc, "encrypt key")?,
            decrypt_key: parse_key(dec, "decrypt key")?,
            params: PacketParams {
                send_hmac: parse_hmac(send_hmac)?,
                recv_hmac: parse_hmac(recv_hmac)?,
                send_sseq: parse_flag(send_sseq)?,
                recv_sseq: parse_flag(recv_sseq)?,
            },
        }))
    }

    /// Every session line of a key log's text; the errors name their
    /// line numbers (1-based).
    pub fn parse_all(text: &str) -> (Vec<SessionKeyLine>, Vec<String>) {
        let mut lines = Vec::new();
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            match SessionKeyLine::parse(line) {
                Ok(Some(l)) => lines.push(l),
                Ok(None) => {}
                Err(e) => errors.push(format!("line {}: {e}", i + 1)),
            }
        }
        (lines, errors)
    }

    /// A packet cipher that opens packets of `direction` (the packet
    /// after the scrambled session ID).  Replay checks start afresh.
    fn opener(&self, direction: Direction) -> FlashSessionCrypto {
        let p = &self.params;
        let (key, hmac, sseq) = match direction {
            Direction::Sent => (&self.encrypt_key, &p.send_hmac, p.send_sseq),
            Direction::Received => (&self.decrypt_key, &p.recv_hmac, p.recv_sseq),
        };
        let params = PacketParams {
            send_hmac: None,
            recv_hmac: hmac.clone(),
            send_sseq: false,
            recv_sseq: sseq,
        };
        FlashSessionCrypto::new(key, key, &params)
    }

    /// Decrypts `encrypted` (a datagram without its first four bytes) as
    /// a packet of this session, trying both directions: the plain packet
    /// and its direction if its checksum (or HMAC) verifies.
    pub fn open(&self, encrypted: &[u8]) -> Option<(Direction, Vec<u8>)> {
        [Direction::Received, Direction::Sent]
            .into_iter()
            .find_map(|direction| {
                let mut plain = Vec::new();
                self.opener(direction)
                    .decrypt(encrypted, &mut plain)
                    .ok()
                    .map(|()| (direction, plain))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(params: PacketParams) -> SessionKeyLine {
        SessionKeyLine {
            near_nonce: vec![0xab; 32],
            encrypt_key: [1; 16],
            decrypt_key: [2; 16],
            params,
        }
    }

    #[test]
    fn lines_round_trip_in_the_documented_format() {
        let plain = line(PacketParams::default());
        let text = plain.to_line();
        assert_eq!(
            text,
            format!(
                "RTMFP_SESSION {} {} {} - - 0 0",
                "ab".repeat(32),
                "01".repeat(16),
                "02".repeat(16)
            )
        );
        assert_eq!(SessionKeyLine::parse(&text), Ok(Some(plain)));
        let full = line(PacketParams {
            send_hmac: Some(HmacParams {
                key: [3; 32],
                len: 10,
            }),
            recv_hmac: Some(HmacParams {
                key: [4; 32],
                len: 32,
            }),
            send_sseq: true,
            recv_sseq: true,
        });
        let text = full.to_line();
        assert!(
            text.ends_with(&format!("32:{} 1 1", "04".repeat(32))),
            "{text}"
        );
        assert_eq!(SessionKeyLine::parse(&text), Ok(Some(full)));
    }

    #[test]
    fn readers_skip_comments_and_other_labels_and_name_bad_lines() {
        let good = line(PacketParams::default()).to_line();
        let text = format!(
            "# rtmfp key log\n\nCLIENT_RANDOM aa bb\n{good}\nRTMFP_SESSION zz\n{good} extra\n"
        );
        let (lines, errors) = SessionKeyLine::parse_all(&text);
        assert_eq!(lines.len(), 1);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("line 5:"), "{errors:?}");
        assert!(errors[1].starts_with("line 6:"), "{errors:?}");
    }

    #[test]
    fn a_logged_session_opens_both_directions_and_nothing_else() {
        let params = PacketParams {
            send_hmac: None,
            recv_hmac: Some(HmacParams {
                key: [9; 32],
                len: 10,
            }),
            send_sseq: true,
            recv_sseq: false,
        };
        let logged = line(params.clone());
        // The far end's view: our decrypt key is its encrypt key, ...
        let far_params = PacketParams {
            send_hmac: params.recv_hmac.clone(),
            recv_hmac: params.send_hmac.clone(),
            send_sseq: params.recv_sseq,
            recv_sseq: params.send_sseq,
        };
        let mut near = FlashSessionCrypto::new(&[1; 16], &[2; 16], &params);
        let mut far = FlashSessionCrypto::new(&[2; 16], &[1; 16], &far_params);
        let packet = b"\x0b\x12\x34 some plain packet bytes".to_vec();
        let mut sent = Vec::new();
        near.encrypt(&packet, &mut sent);
        let mut received = Vec::new();
        far.encrypt(&packet, &mut received);
        let (dir, plain) = logged.open(&sent).expect("sent");
        assert_eq!(dir, Direction::Sent);
        assert_eq!(&plain[..packet.len()], &packet[..]);
        let (dir, plain) = logged.open(&received).expect("received");
        assert_eq!(dir, Direction::Received);
        assert_eq!(&plain[..packet.len()], &packet[..]);
        let other = SessionKeyLine {
            encrypt_key: [7; 16],
            decrypt_key: [8; 16],
            ..logged
        };
        assert_eq!(other.open(&sent), None);
    }

    #[test]
    fn one_file_per_path_and_lines_append() {
        let dir = std::env::temp_dir().join(format!("rtmfp-keylog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.log");
        let _ = std::fs::remove_file(&path);
        let a = KeyLog::open(&path).unwrap();
        let b = KeyLog::open(&path).unwrap();
        assert_eq!(a, b);
        a.record(&line(PacketParams::default()));
        b.record(&line(PacketParams::default()));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(SessionKeyLine::parse_all(&text).0.len(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
