//! What the commands share: errors and exit codes, argument parsers,
//! identities, signals, CPU time and printing.

use clap::Args;
use rtmfp_core::crypto::flash::keying::Policy;
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile, PeerId};
use rtmfp_core::endpoint::{CloseReason, OpenFailure};
use rtmfp_core::flow::Priority;
use rtmfp_core::runtime::{parse_uri, RuntimeConfig, RuntimeError, DEFAULT_PORT};
use std::fmt;
use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A failed command.  Usage errors (bad arguments, addresses, URIs, peer
/// IDs) exit with 2, like clap's own; failures at run time with 1.
#[derive(Debug)]
pub enum CliError {
    Usage(String),
    Runtime(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Runtime(_) => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Runtime(m) => f.write_str(m),
        }
    }
}

impl From<RuntimeError> for CliError {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::InvalidArgument(why) => CliError::Usage(why),
            other => CliError::Runtime(other.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, CliError>;

/// A run-time failure with a message.
pub fn fail(msg: impl Into<String>) -> CliError {
    CliError::Runtime(msg.into())
}

// ---------------------------------------------------------------------
// Argument parsers (clap `value_parser`s: an `Err` is a usage error).

/// A local address to bind: `IP:PORT`, `[IPv6]:PORT`, `HOST:PORT`
/// (resolved) or a bare `PORT` (all IPv4 interfaces).
pub fn parse_listen(s: &str) -> std::result::Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    if s.parse::<IpAddr>().is_ok() {
        return Err(format!(
            "{s:?} has no port (want ADDR:PORT, e.g. 0.0.0.0:1935)"
        ));
    }
    let (host, port) = split_host_port(s)?;
    let port = port.ok_or_else(|| format!("{s:?} has no port (want ADDR:PORT)"))?;
    resolve(&host, port)?
        .into_iter()
        .next()
        .ok_or_else(|| format!("{host} has no address"))
}

/// `HOST[:PORT]` or `[IPv6][:PORT]`; the port, if present, must be a
/// number from 0 to 65535.
fn split_host_port(s: &str) -> std::result::Result<(String, Option<u16>), String> {
    let bad_port = |p: &str| format!("bad port {p:?} in {s:?} (want 0-65535)");
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("bad address {s:?}: missing ']'"))?;
        match after.strip_prefix(':') {
            Some(p) => (host.to_string(), Some(p)),
            None if after.is_empty() => (host.to_string(), None),
            None => return Err(format!("bad address {s:?}")),
        }
    } else if s.matches(':').count() > 1 {
        return Err(format!(
            "bad address {s:?}: write IPv6 addresses in brackets, e.g. [::1]:1935"
        ));
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (s.to_string(), None),
        }
    };
    if host.is_empty() || host.contains(['/', ' ', '@']) {
        return Err(format!("bad address {s:?}: no host name"));
    }
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().map_err(|_| bad_port(p))?),
    };
    Ok((host, port))
}

/// Every address of `host:port`; an error names the host.
pub fn resolve(host: &str, port: u16) -> std::result::Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host:?}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host:?} has no address"));
    }
    Ok(addrs)
}

/// What `rtmfp send` connects to.
#[derive(Debug, Clone)]
pub enum Target {
    /// `rtmfp://host[:port]/...`: the URI is the EPD (Ancillary Data).
    Uri(String),
    /// `host:port`.
    Host { host: String, port: u16 },
}

impl Target {
    /// The candidate addresses.
    pub fn addresses(&self) -> std::result::Result<Vec<SocketAddr>, String> {
        match self {
            Target::Uri(uri) => {
                let (host, port) = parse_uri(uri).map_err(|e| e.to_string())?;
                resolve(&host, port)
            }
            Target::Host { host, port } => resolve(host, *port),
        }
    }

    /// The URI naming this target (`host:port` becomes `rtmfp://host:port/`).
    pub fn uri(&self) -> String {
        match self {
            Target::Uri(u) => u.clone(),
            Target::Host { host, port } if host.contains(':') => {
                format!("rtmfp://[{host}]:{port}/")
            }
            Target::Host { host, port } => format!("rtmfp://{host}:{port}/"),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Uri(u) => f.write_str(u),
            Target::Host { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Target::Host { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

/// `rtmfp://host[:port]/...` or `host:port` (port defaults to 1935).
pub fn parse_target(s: &str) -> std::result::Result<Target, String> {
    if s.contains("://") || s.starts_with("rtmfp:") {
        if !s.starts_with("rtmfp://") {
            return Err(format!("bad URI {s:?}: the scheme must be rtmfp://"));
        }
        let (_, port) = parse_uri(s).map_err(|e| e.to_string())?;
        if port == 0 {
            return Err(format!("bad URI {s:?}: port 0"));
        }
        return Ok(Target::Uri(s.to_string()));
    }
    if let Ok(a) = s.parse::<SocketAddr>() {
        if a.port() == 0 {
            return Err(format!("bad address {s:?}: port 0"));
        }
        return Ok(Target::Host {
            host: a.ip().to_string(),
            port: a.port(),
        });
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(Target::Host {
            host: ip.to_string(),
            port: DEFAULT_PORT,
        });
    }
    let (host, port) = split_host_port(s)?;
    if port == Some(0) {
        return Err(format!("bad address {s:?}: port 0"));
    }
    Ok(Target::Host {
        host,
        port: port.unwrap_or(DEFAULT_PORT),
    })
}

/// A peer ID (certificate fingerprint): 64 hex digits.
pub fn parse_peer_id(s: &str) -> std::result::Result<PeerId, String> {
    let s = s.trim();
    if s.len() != 64 {
        return Err(format!(
            "a peer ID is 64 hex digits (a SHA-256 fingerprint); got {} characters",
            s.len()
        ));
    }
    let mut id = [0u8; 32];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16)
            .map_err(|_| format!("a peer ID is 64 hex digits; {s:?} is not hex"))?;
    }
    Ok(id)
}

/// A byte count: `5000`, `16K`, `8M`, `1G` (K/M/G are 2^10/2^20/2^30;
/// `KiB`, `MB`, ... are read the same way).
pub fn parse_bytes(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("bad size {s:?} (examples: 5000, 16K, 8M, 1G)"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("bad size {s:?} (examples: 5000, 16K, 8M, 1G)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// A positive byte count that fits in memory as one message.
pub fn parse_message_size(s: &str) -> std::result::Result<usize, String> {
    let n = parse_bytes(s)?;
    if n == 0 || n > 64 << 20 {
        return Err(format!("message size {s:?} must be 1 byte to 64M"));
    }
    Ok(n as usize)
}

/// A rate in bits per second: `500k`, `10M`, `1G` (decimal: k = 1000),
/// optionally followed by `bps` or `bit/s`.
pub fn parse_rate(s: &str) -> std::result::Result<f64, String> {
    let bad = || format!("bad rate {s:?} (bits per second; examples: 500k, 10M, 1G)");
    let mut t = s.trim().to_string();
    for suffix in ["bit/s", "bps", "b/s"] {
        if let Some(rest) = t.strip_suffix(suffix) {
            t = rest.to_string();
            break;
        }
    }
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('m' | 'M') => (&t[..t.len() - 1], 1e6),
        Some('g' | 'G') => (&t[..t.len() - 1], 1e9),
        _ => (t.as_str(), 1.0),
    };
    let v: f64 = num.parse().map_err(|_| bad())?;
    let rate = v * mult;
    if !rate.is_finite() || rate < 8.0 {
        return Err(bad());
    }
    Ok(rate)
}

/// Seconds: `10`, `2.5`, `500ms`, `10s`.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    let (num, scale) = if let Some(ms) = t.strip_suffix("ms") {
        (ms, 1e-3)
    } else if let Some(sec) = t.strip_suffix('s') {
        (sec, 1.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?} (seconds, e.g. 10, 2.5, 500ms)"))?;
    if !v.is_finite() || v <= 0.0 || v * scale > 1e7 {
        return Err(format!("duration {s:?} must be positive"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

/// A flow priority: 0-7 or a name (RFC 7016 §2.3.11.1.1 levels:
/// background, bulk, data, routine, priority, immediate, flash,
/// flash-override).
pub fn parse_priority(s: &str) -> std::result::Result<Priority, String> {
    if let Ok(n) = s.parse::<u8>() {
        if n <= 7 {
            return Ok(Priority::from_level(n));
        }
    }
    let p = match s.to_ascii_lowercase().replace('_', "-").as_str() {
        "background" => Priority::Background,
        "bulk" => Priority::Bulk,
        "data" => Priority::Data,
        "routine" => Priority::Routine,
        "priority" => Priority::Priority,
        "immediate" => Priority::Immediate,
        "flash" => Priority::Flash,
        "flash-override" | "flashoverride" => Priority::FlashOverride,
        _ => {
            return Err(format!(
                "bad priority {s:?}: 0-7 or background, bulk, data, routine, \
                 priority, immediate, flash, flash-override"
            ))
        }
    };
    Ok(p)
}

/// A Diffie-Hellman group of RFC 7425 §4.2: 2, 5, 14 or 16.
pub fn parse_group(s: &str) -> std::result::Result<u64, String> {
    match s.parse::<u64>() {
        Ok(g @ (2 | 5 | 14 | 16)) => Ok(g),
        _ => Err(format!("bad DH group {s:?}: 2, 5, 14 or 16")),
    }
}

// ---------------------------------------------------------------------
// Identities.

/// Negotiation options every command shares (RFC 7425 §4.6.4, §4.6.6).
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct SecurityArgs {
    /// Don't ask for HMAC-SHA256 packet authentication (send it only on
    /// request), like rtmfp-cpp's -H.  Default: used whenever both ends can.
    #[arg(long)]
    pub no_hmac: bool,
    /// Don't ask for session sequence numbers (send them only on
    /// request), like rtmfp-cpp's -S.
    #[arg(long)]
    pub no_sseq: bool,
}

const SEND_ON_REQUEST: Policy = Policy {
    send_always: false,
    send_on_request: true,
    request: false,
    require: false,
};

impl SecurityArgs {
    /// `config` with these negotiation policies.
    pub fn apply(self, mut config: FlashConfig) -> FlashConfig {
        if self.no_hmac {
            config.hmac = SEND_ON_REQUEST;
        }
        if self.no_sseq {
            config.sseq = SEND_ON_REQUEST;
        }
        config
    }

    /// How packets are protected, for reports.
    pub fn describe(self) -> &'static str {
        match (self.no_hmac, self.no_sseq) {
            (false, false) => "AES-128-CBC + HMAC-SHA256 + session sequence numbers",
            (true, false) => "AES-128-CBC, checksums + session sequence numbers",
            (false, true) => "AES-128-CBC + HMAC-SHA256",
            (true, true) => "AES-128-CBC, checksums",
        }
    }
}

/// `--turn`: every datagram through a TURN relay (Flash's
/// `RTMFPTURNProxy`).
#[derive(Args, Debug, Clone, Default)]
pub struct TurnArgs {
    /// Send and receive everything through this TURN relay (RFC 8656),
    /// as Flash Player did with RTMFPTURNProxy: peers and servers see the
    /// relayed address.  For hosts whose firewall lets UDP reach only the
    /// TURN server.
    #[arg(long, value_name = "turn://USER:PASS@HOST[:PORT]")]
    pub turn: Option<String>,
}

impl TurnArgs {
    /// Sets the `turn` row from `--turn`, if given: core checks the URI.
    pub fn set(&self, flags: &mut crate::options::Flags) -> Result<()> {
        match &self.turn {
            Some(uri) => flags.set(
                "turn",
                "--turn",
                rtmfp_core::host::options::OptionValue::Text(uri.clone()),
            ),
            None => Ok(()),
        }
    }
}

/// Prints where peers reach a runtime that uses a relay.
pub fn print_relayed(relayed: Option<SocketAddr>) {
    if let Some(a) = relayed {
        println!("relayed {a} (through the TURN server)");
    }
}

/// Receive buffer (BUFFER_CAPACITY, RFC 7016 §3.6.3) the commands give
/// incoming flows unless told otherwise: what rtmfp-cpp's echoserver
/// uses.  A message is reassembled inside it, so messages larger than it
/// crawl at one block per round trip.
pub const RECV_BUFFER: usize = 16 << 20;

/// A runtime configuration for `bind` with `crypto` and incoming flows
/// buffering `recv_buffer` bytes.
pub fn runtime_config(
    bind: Vec<SocketAddr>,
    crypto: Arc<dyn CryptoProfile>,
    recv_buffer: usize,
) -> RuntimeConfig {
    let mut config = RuntimeConfig::new(bind, crypto);
    config.endpoint.flow_limits.receive_buffer = recv_buffer;
    config
}

/// A fresh Flash-profile identity (RFC 7425 §4), as a crypto profile.
pub fn identity(config: FlashConfig) -> Result<(Arc<dyn CryptoProfile>, PeerId)> {
    let profile = FlashProfile::generate(config)
        .map_err(|e| fail(format!("cannot make an identity: {e:?}")))?;
    let id = profile.near_id();
    Ok((Arc::new(profile), id))
}

// ---------------------------------------------------------------------
// Signals.

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    if STOP.swap(true, Ordering::SeqCst) {
        // A second Ctrl-C: stop now.  _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// SIGINT and SIGTERM set a flag that [`stop_requested`] reads; a second
/// one exits at once.
pub fn install_signal_handlers() {
    // SAFETY: the handler only touches an atomic and calls _exit, both
    // async-signal-safe; sigaction is given a zeroed, filled-in struct.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        for sig in [libc::SIGINT, libc::SIGTERM] {
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// Dies quietly on a closed stdout (`rtmfp send ... | head`) like other
/// Unix tools, instead of panicking in `println!`: Rust ignores SIGPIPE.
pub fn default_sigpipe() {
    // SAFETY: restoring the default disposition of one signal.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Whether SIGINT or SIGTERM arrived.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

// ---------------------------------------------------------------------
// CPU time.

/// User and system CPU time of this process so far (all threads).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTime {
    pub user: Duration,
    pub system: Duration,
}

impl CpuTime {
    pub fn now() -> CpuTime {
        // SAFETY: getrusage fills the zeroed struct we own.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
        if rc != 0 {
            return CpuTime::default();
        }
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        CpuTime {
            user: tv(ru.ru_utime),
            system: tv(ru.ru_stime),
        }
    }

    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }

    pub fn total(self) -> Duration {
        self.user + self.system
    }
}

// ---------------------------------------------------------------------
// Printing.

/// Lowercase hex (core's, shared by every adapter).
pub use rtmfp_core::flash::peer_id::to_hex as hex;

/// `1234567` → `1.23 MB` (decimal units).
pub fn fmt_bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} kB", n / 1e3)
    } else {
        format!("{n} B")
    }
}

/// A duration in milliseconds with three decimals.
pub fn fmt_ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Bytes over time as `MB/s` and `Mbit/s`.
pub fn fmt_rate(bytes: u64, elapsed: Duration) -> String {
    let s = elapsed.as_secs_f64().max(1e-9);
    let mbps = bytes as f64 / s / 1e6;
    format!("{mbps:.2} MB/s ({:.1} Mbit/s)", mbps * 8.0)
}

pub fn describe_open_failure(reason: OpenFailure) -> String {
    match reason {
        OpenFailure::Timeout => "no answer (timeout)".into(),
        OpenFailure::Duplicate(_) => "a session to that peer already exists".into(),
        OpenFailure::KeyingFailed => {
            "the far end's keying was unacceptable (bad keys, signature, or HMAC/sequence-number policy)".into()
        }
        OpenFailure::Cancelled => "cancelled".into(),
        OpenFailure::Unreachable(address) => format!(
            "{address} is unreachable: ICMP port or host unreachable (is a server running there?)"
        ),
    }
}

pub fn describe_close(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::Local => "closed by us",
        CloseReason::LocalAbrupt => "closed abruptly by us",
        CloseReason::Remote => "closed by the far end",
        CloseReason::IdleTimeout => "idle timeout",
        CloseReason::Overridden => "overridden by a new session from the same peer",
    }
}

/// A progress line on stderr: rewritten in place with `\r` on a
/// terminal, one line each otherwise.
pub struct Progress {
    tty: bool,
    width: usize,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            width: 0,
        }
    }

    pub fn update(&mut self, line: &str) {
        if self.tty {
            let pad = self.width.saturating_sub(line.len());
            eprint!("\r{line}{}", " ".repeat(pad));
            self.width = line.len();
        } else {
            eprintln!("{line}");
        }
    }

    /// Ends the rewritten line, if any.
    pub fn finish(&mut self) {
        if self.tty && self.width > 0 {
            eprintln!();
            self.width = 0;
        }
    }
}

/// A deterministic, cheap pattern for message `seq`: verifiable bytes.
/// Messages of 8 bytes or more start with `seq` (little-endian).
pub fn fill_message(seq: u64, buf: &mut [u8]) {
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for chunk in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    if buf.len() >= 8 {
        buf[..8].copy_from_slice(&seq.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_rates_priorities() {
        assert_eq!(parse_bytes("8M").unwrap(), 8 << 20);
        assert_eq!(parse_bytes("16KiB").unwrap(), 16 << 10);
        assert_eq!(parse_bytes("5000").unwrap(), 5000);
        assert!(parse_bytes("x").is_err());
        assert_eq!(parse_rate("10M").unwrap(), 10e6);
        assert_eq!(parse_rate("500kbps").unwrap(), 500e3);
        assert_eq!(parse_priority("7").unwrap(), Priority::FlashOverride);
        assert_eq!(parse_priority("bulk").unwrap(), Priority::Bulk);
        assert!(parse_priority("9").is_err());
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    }

    #[test]
    fn addresses_and_targets() {
        assert_eq!(
            parse_listen("127.0.0.1:0").unwrap(),
            "127.0.0.1:0".parse().unwrap()
        );
        assert_eq!(
            parse_listen("1935").unwrap(),
            "0.0.0.0:1935".parse().unwrap()
        );
        assert!(parse_listen("127.0.0.1").is_err());
        assert!(parse_listen("127.0.0.1:99999").is_err());
        assert!(parse_target("http://x/").is_err());
        assert!(parse_target("rtmfp://:1935/").is_err());
        assert!(parse_target("1.2.3.4:0").is_err());
        assert!(matches!(
            parse_target("[::1]:5000").unwrap(),
            Target::Host { port: 5000, .. }
        ));
        assert!(matches!(
            parse_target("rtmfp://127.0.0.1:5/app").unwrap(),
            Target::Uri(_)
        ));
        assert!(parse_peer_id("abc").is_err());
        assert!(parse_peer_id(&"zz".repeat(32)).is_err());
        assert_eq!(parse_peer_id(&"0a".repeat(32)).unwrap(), [10u8; 32]);
    }

    #[test]
    fn pattern_carries_its_sequence_number() {
        let mut a = vec![0u8; 100];
        fill_message(42, &mut a);
        assert_eq!(u64::from_le_bytes(a[..8].try_into().unwrap()), 42);
        let mut b = vec![0u8; 100];
        fill_message(43, &mut b);
        assert_ne!(a[8..], b[8..]);
    }
}
