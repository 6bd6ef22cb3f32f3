//! The table of host options: one [`Row`] per option an adapter can set,
//! with its canonical `snake_case` name, its value type and range
//! ([`Kind`]), its default (as documented), the objects that take it, and
//! where its checked value lands in core's configs.

use super::check::Checked;
use super::Configs;
use crate::crypto::flash::keying::Policy;
use crate::flash::client::PeerConnectMode;
use crate::rendezvous::{KeySet, LIMIT_MAX, LIMIT_MIN};
use crate::runtime::MAX_RECV_COALESCE;

/// Which objects take an option (a set of [`Object`]s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Objects(u8);

/// An object an adapter makes from options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// A plain endpoint (C's `rtmfp_endpoint`, Python's and Node's
    /// `Endpoint`).
    Endpoint,
    /// A Flash NetConnection (a client identity).
    NetConnection,
    /// A rendezvous server (a server identity).
    Server,
}

impl Objects {
    /// Endpoints only.
    pub const ENDPOINT: Objects = Objects(1);
    /// NetConnections only.
    pub const NETCONNECTION: Objects = Objects(2);
    /// Servers only.
    pub const SERVER: Objects = Objects(4);
    /// Every object: the runtime's and the identity's options.
    pub const ALL: Objects = Objects(7);
    /// Endpoints and servers: the objects whose runtime an adapter
    /// configures (a NetConnection configures its own).
    pub const ENDPOINT_AND_SERVER: Objects = Objects(5);

    /// Whether `object` takes the option.
    pub fn has(self, object: Object) -> bool {
        let bit = match object {
            Object::Endpoint => 1,
            Object::NetConnection => 2,
            Object::Server => 4,
        };
        self.0 & bit != 0
    }
}

/// What an option's value is, with its range: what [`Options::set`]
/// checks and how it words a refusal.
///
/// [`Options::set`]: super::Options::set
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A duration, given in seconds (`OptionValue::Seconds`) or
    /// milliseconds (`OptionValue::Millis`): never negative or NaN; what 0
    /// means is `zero`.
    Duration {
        /// What 0 means.
        zero: Zero,
    },
    /// An integer from `min` to `max`.
    Count {
        /// The least value.
        min: u64,
        /// The most value.
        max: u64,
    },
    /// True or false.
    Flag,
    /// Any text.
    Text,
    /// One word of a list (or its index, for C's enums).
    Word(&'static [&'static str]),
    /// Local addresses to bind: IP literals with a port (`"ip:port"`,
    /// `"[ipv6]:port"`), or addresses an adapter resolved; 1 to
    /// [`MAX_BIND_ADDRESSES`].
    Addresses,
    /// Diffie-Hellman groups in preference order: 1 to 4 distinct values
    /// of 2, 5, 14, 16 (RFC 7425 §4.3.3, RFC 3526).
    Groups,
    /// A TURN URI, `turn:HOST[:PORT]` or `turn://USER:PASS@HOST[:PORT]`
    /// (RFC 7065), parsed when set, resolved when an object starts.
    TurnUri,
    /// A file to append session keys to (docs/key-log.md), opened when
    /// set.
    KeyLog,
    /// Developer keys: a list of non-empty texts.
    Keys,
    /// A file of developer keys (one a line; blank lines and `#` lines
    /// skipped), read when set.
    KeysFile,
    /// The periods a server advises its clients (RFC 7425 §5.3.4): two
    /// durations (server session, peer sessions), or none to send none.
    Keepalive,
}

/// What a duration of 0 means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zero {
    /// 0 is refused: the duration must be more than 0.
    Refused,
    /// 0 turns the feature off (stored as `None`).
    Off,
    /// 0 is a duration like any other.
    Allowed,
}

/// Most bind addresses an object takes.
pub const MAX_BIND_ADDRESSES: usize = 16;

/// Most `max_peer_connections`.
pub const MAX_PEER_CONNECTIONS: u64 = 65535;

/// One option.
#[derive(Clone, Copy)]
pub struct Row {
    /// The canonical name, `snake_case` (Python's keyword; Node's key is
    /// its [`camel_case`]; C's setter is named after it).
    pub name: &'static str,
    /// Its type and range.
    pub kind: Kind,
    /// Its default, in words.
    pub default: &'static str,
    /// The objects that take it.
    pub objects: Objects,
    /// What it does, in one line.
    pub doc: &'static str,
    /// Where its checked value lands.
    pub(crate) apply: fn(&Checked, &mut Configs),
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}

const POLICIES: &[&str] = &["off", "opportunistic", "required"];
const PEER_CONNECT_MODES: &[&str] = &["accept_all", "ask"];

fn policy(c: &Checked) -> Policy {
    [Policy::OFF, Policy::OPPORTUNISTIC, Policy::REQUIRED][c.word()]
}

const fn duration(zero: Zero) -> Kind {
    Kind::Duration { zero }
}

const fn limit() -> Kind {
    Kind::Count {
        min: LIMIT_MIN as u64,
        max: LIMIT_MAX as u64,
    }
}

/// Every option, in the order builders apply them.
pub static ROWS: &[Row] = &[
    Row {
        name: "bind",
        kind: Kind::Addresses,
        default: "0.0.0.0:0 (a server 0.0.0.0:1935)",
        objects: Objects::ALL,
        doc: "local addresses, one UDP socket each (port 0: the system picks)",
        apply: |c, t| t.bind = Some(c.addresses().to_vec()),
    },
    Row {
        name: "server",
        kind: Kind::Flag,
        default: "false",
        objects: Objects::ENDPOINT,
        doc: "a server identity (ephemeral Diffie-Hellman, reachable by rtmfp:// URI; RFC 7425 §5.3)",
        apply: |c, t| t.server_role = c.flag(),
    },
    Row {
        name: "hostname",
        kind: Kind::Text,
        default: "none",
        objects: Objects::ALL,
        doc: "the certificate's Hostname option (RFC 7425 §4.3.3.1)",
        apply: |c, t| t.flash.hostname = Some(c.text().as_bytes().to_vec()),
    },
    Row {
        name: "dh_groups",
        kind: Kind::Groups,
        default: "the role's: a client 2 (static keys, as Flash Player), a server 2, 5, 14, 16",
        objects: Objects::ALL,
        doc: "Diffie-Hellman groups in preference order (RFC 7425 §4.3.3)",
        apply: |c, t| t.flash.groups = c.groups().to_vec(),
    },
    Row {
        name: "hmac_policy",
        kind: Kind::Word(POLICIES),
        default: "opportunistic",
        objects: Objects::ALL,
        doc: "packet HMAC negotiation (RFC 7425 §4.6.4)",
        apply: |c, t| t.flash.hmac = policy(c),
    },
    Row {
        name: "sseq_policy",
        kind: Kind::Word(POLICIES),
        default: "opportunistic",
        objects: Objects::ALL,
        doc: "session sequence number negotiation (RFC 7425 §4.6.6)",
        apply: |c, t| t.flash.sseq = policy(c),
    },
    Row {
        name: "key_log",
        kind: Kind::KeyLog,
        default: "the file named by RTMFP_KEYLOGFILE",
        objects: Objects::ALL,
        doc: "a file each session's packet keys are appended to (docs/key-log.md)",
        apply: |c, t| t.flash.key_log = c.key_log().cloned(),
    },
    Row {
        name: "open_timeout",
        kind: duration(Zero::Refused),
        default: "95 s (RFC 7016 §3.5.1.1.1)",
        objects: Objects::ALL,
        doc: "a session not open after this long fails",
        apply: |c, t| t.endpoint.open_timeout = c.duration(),
    },
    Row {
        name: "idle_timeout",
        kind: duration(Zero::Refused),
        default: "60 s",
        objects: Objects::ALL,
        doc: "an open session that received nothing for this long is closed",
        apply: |c, t| t.endpoint.idle_timeout = c.duration(),
    },
    Row {
        name: "keepalive_interval",
        kind: duration(Zero::Refused),
        default: "10 s",
        objects: Objects::ALL,
        doc: "an open session that received nothing for this long pings (RFC 7016 §3.5.4.1)",
        apply: |c, t| t.endpoint.keepalive_interval = c.duration(),
    },
    Row {
        name: "max_datagram_size",
        kind: Kind::Count { min: 576, max: 65507 },
        default: "1200 (clears IPv6's minimum MTU)",
        objects: Objects::ALL,
        doc: "the largest UDP datagram sent, in bytes",
        apply: |c, t| t.endpoint.max_datagram_size = c.count(),
    },
    Row {
        name: "send_buffer",
        kind: Kind::Count { min: 1024, max: 1 << 30 },
        default: "4 MiB",
        objects: Objects::ALL,
        doc: "bytes a sending flow holds unacknowledged before it refuses messages",
        apply: |c, t| t.endpoint.flow_limits.send_buffer = c.count(),
    },
    Row {
        name: "receive_buffer",
        kind: Kind::Count { min: 1024, max: 1 << 30 },
        default: "1 MiB",
        objects: Objects::ALL,
        doc: "the window a receiving flow advertises, in bytes (RFC 7016 §3.6.3)",
        apply: |c, t| t.endpoint.flow_limits.receive_buffer = c.count(),
    },
    Row {
        name: "max_flows_per_session",
        kind: limit(),
        default: "512",
        objects: Objects::ALL,
        doc: "most receiving flows one session keeps; a further flow's data is dropped",
        apply: |c, t| t.endpoint.flow_limits.max_recv_flows = c.count(),
    },
    Row {
        name: "event_queue_limit",
        kind: Kind::Count { min: 16, max: 1 << 24 },
        default: "65536",
        objects: Objects::ALL,
        doc: "most events waiting unread; then datagrams wait until events are read",
        apply: |c, t| t.event_queue_limit = c.count(),
    },
    Row {
        name: "recv_coalesce",
        kind: duration(Zero::Allowed),
        default: "0 (off); a server's 1 ms; RTMFP_RECV_COALESCE_US if set",
        objects: Objects::ENDPOINT_AND_SERVER,
        doc: "while datagrams arrive densely, read them in batches this far apart \
              (at most 10 ms; 0: one wake-up per datagram)",
        apply: |c, t| t.recv_coalesce = c.duration().min(MAX_RECV_COALESCE),
    },
    Row {
        name: "turn",
        kind: Kind::TurnUri,
        default: "none",
        objects: Objects::ALL,
        doc: "a TURN relay every datagram goes through (RFC 8656), as Flash's RTMFPTURNProxy",
        apply: |c, t| t.turn.uri = c.optional_text().map(str::to_owned),
    },
    Row {
        name: "turn_username",
        kind: Kind::Text,
        default: "the TURN URI's",
        objects: Objects::ALL,
        doc: "the TURN relay's user name, over the URI's",
        apply: |c, t| t.turn.username = Some(c.text().to_owned()),
    },
    Row {
        name: "turn_password",
        kind: Kind::Text,
        default: "the TURN URI's",
        objects: Objects::ALL,
        doc: "the TURN relay's password, over the URI's",
        apply: |c, t| t.turn.password = Some(c.text().to_owned()),
    },
    Row {
        name: "max_peer_connections",
        kind: Kind::Count {
            min: 0,
            max: MAX_PEER_CONNECTIONS,
        },
        default: "8",
        objects: Objects::NETCONNECTION,
        doc: "most subscribers of the DIRECT_CONNECTIONS streams (Flash's maxPeerConnections)",
        apply: |c, t| t.client.max_peer_connections = c.count(),
    },
    Row {
        name: "direct_timeout",
        kind: duration(Zero::Off),
        default: "5 s; 0 waits for the open timeout with no fallback, as Flash did",
        objects: Objects::NETCONNECTION,
        doc: "how long a peer play waits for a direct session before it plays through the server (docs/relay-fallback.md)",
        apply: |c, t| t.client.direct_timeout = c.optional_duration(),
    },
    Row {
        name: "peer_connect_mode",
        kind: Kind::Word(PEER_CONNECT_MODES),
        default: "accept_all",
        objects: Objects::NETCONNECTION,
        doc: "accept every subscriber, or ask the application about each",
        apply: |c, t| {
            t.client.peer_connect = [PeerConnectMode::AcceptAll, PeerConnectMode::Ask][c.word()]
        },
    },
    Row {
        name: "keys",
        kind: Kind::Keys,
        default: "any key, or none",
        objects: Objects::SERVER,
        doc: "the developer keys accepted on connect (the last segment of rtmfp://host/app/KEY)",
        apply: |c, t| t.server.keys = KeySet::of(c.texts().iter().cloned()),
    },
    Row {
        name: "keys_file",
        kind: Kind::KeysFile,
        default: "none",
        objects: Objects::SERVER,
        doc: "a file of developer keys, one a line",
        apply: |c, t| t.server.keys = c.key_set().clone(),
    },
    Row {
        name: "cluster",
        kind: Kind::Text,
        default: "none",
        objects: Objects::SERVER,
        doc: "redis://HOST:PORT[/DB]: a node of a rendezvous cluster (docs/cluster.md)",
        apply: |c, t| t.cluster = Some(c.text().to_owned()),
    },
    Row {
        name: "max_streams_per_client",
        kind: limit(),
        default: "64",
        objects: Objects::SERVER,
        doc: "most streams one client has at once; a further createStream gets _error",
        apply: |c, t| t.server.max_streams_per_client = c.count(),
    },
    Row {
        name: "max_names_per_client",
        kind: limit(),
        default: "16",
        objects: Objects::SERVER,
        doc: "most names one client registers; a further registerName gets _error",
        apply: |c, t| t.server.max_names_per_client = c.count(),
    },
    Row {
        name: "relay",
        kind: Kind::Flag,
        default: "true",
        objects: Objects::SERVER,
        doc: "relay streams published to the server to its players",
        apply: |c, t| t.server.relay = c.flag(),
    },
    Row {
        name: "keepalive",
        kind: Kind::Keepalive,
        default: "15 s and 10 s",
        objects: Objects::SERVER,
        doc: "keepalive periods advised to clients (server session, peer sessions; RFC 7425 §5.3.4)",
        apply: |c, t| t.server.keepalive = c.keepalive(),
    },
    Row {
        name: "ask_connect",
        kind: Kind::Flag,
        default: "false",
        objects: Objects::SERVER,
        doc: "park each connect until the application answers (a hook is set)",
        apply: |c, t| t.asks.connect = c.flag(),
    },
    Row {
        name: "ask_publish",
        kind: Kind::Flag,
        default: "false",
        objects: Objects::SERVER,
        doc: "park each publish until the application answers",
        apply: |c, t| t.asks.publish = c.flag(),
    },
    Row {
        name: "ask_play",
        kind: Kind::Flag,
        default: "false",
        objects: Objects::SERVER,
        doc: "park each play until the application answers",
        apply: |c, t| t.asks.play = c.flag(),
    },
    Row {
        name: "hook_timeout",
        kind: duration(Zero::Allowed),
        default: "10 s",
        objects: Objects::SERVER,
        doc: "how long a parked request waits; then it is refused with \"no answer from the server application\"",
        apply: |c, t| t.asks.deadline = c.duration(),
    },
];

/// The row of option `name` (canonical, `snake_case`).
pub fn row(name: &str) -> Option<&'static Row> {
    ROWS.iter().find(|r| r.name == name)
}

/// The rows `object` takes, in table order.
pub fn rows_of(object: Object) -> impl Iterator<Item = &'static Row> {
    ROWS.iter().filter(move |r| r.objects.has(object))
}

/// `snake_case` → `camelCase` (Node's spelling): `open_timeout` →
/// `openTimeout`.
pub fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

impl Object {
    /// Every object, in the table's order of [`Objects`] bits.
    pub const EVERY: [Object; 3] = [Object::Endpoint, Object::NetConnection, Object::Server];

    /// Its name in the table's JSON ([`table_json`]): `endpoint`,
    /// `netconnection`, `server`.
    pub fn key(self) -> &'static str {
        match self {
            Object::Endpoint => "endpoint",
            Object::NetConnection => "netconnection",
            Object::Server => "server",
        }
    }
}

/// The table as JSON, for the adapters' generated documentation and
/// typings (`scripts/option_stubs.py`): an array with one object per row,
/// in table order: `name`, `camel` ([`camel_case`]), `kind` (`duration`
/// with `zero`: `refused`, `off` or `allowed`; `count` with `min` and
/// `max`; `flag`; `text`; `word` with `words`; `addresses`; `groups`;
/// `turn_uri`; `key_log`; `keys`; `keys_file`; `keepalive`), `expects`
/// (core's words for the kind, [`super::expects`]), `default`, `doc` and
/// `objects` (their [`Object::key`]s).
pub fn table_json() -> String {
    fn text(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
    let rows: Vec<String> = ROWS
        .iter()
        .map(|r| {
            let kind = match r.kind {
                Kind::Duration { zero } => {
                    let zero = match zero {
                        Zero::Refused => "refused",
                        Zero::Off => "off",
                        Zero::Allowed => "allowed",
                    };
                    format!("\"duration\", \"zero\": \"{zero}\"")
                }
                Kind::Count { min, max } => format!("\"count\", \"min\": {min}, \"max\": {max}"),
                Kind::Flag => "\"flag\"".to_owned(),
                Kind::Text => "\"text\"".to_owned(),
                Kind::Word(words) => {
                    let words: Vec<String> = words.iter().map(|w| text(w)).collect();
                    format!("\"word\", \"words\": [{}]", words.join(", "))
                }
                Kind::Addresses => "\"addresses\"".to_owned(),
                Kind::Groups => "\"groups\"".to_owned(),
                Kind::TurnUri => "\"turn_uri\"".to_owned(),
                Kind::KeyLog => "\"key_log\"".to_owned(),
                Kind::Keys => "\"keys\"".to_owned(),
                Kind::KeysFile => "\"keys_file\"".to_owned(),
                Kind::Keepalive => "\"keepalive\"".to_owned(),
            };
            let objects: Vec<String> = Object::EVERY
                .iter()
                .filter(|o| r.objects.has(**o))
                .map(|o| text(o.key()))
                .collect();
            format!(
                "  {{\"name\": {}, \"camel\": {}, \"kind\": {kind}, \"expects\": {}, \
                 \"default\": {}, \"doc\": {}, \"objects\": [{}]}}",
                text(r.name),
                text(&camel_case(r.name)),
                text(&super::expects(r.kind)),
                text(r.default),
                text(r.doc),
                objects.join(", ")
            )
        })
        .collect();
    format!("[\n{}\n]\n", rows.join(",\n"))
}
