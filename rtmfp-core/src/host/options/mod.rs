//! Host options once: every option an adapter's constructors take (C's
//! `rtmfp_config_set_*`, Python's keyword arguments, Node's options
//! objects), as one table ([`ROWS`]) and one bag ([`Options`]).
//!
//! An adapter converts its language's values into `(name, OptionValue)`
//! and calls [`Options::set`], which checks type and range once, with one
//! set of words naming the option as the adapter spells it (`openTimeout`
//! in Node, `open_timeout` in Python, the setter's argument in C).  The
//! builders ([`Options::runtime_config`], [`Options::netconnection_config`],
//! [`Options::server_config`], ...) make core's configs from the options
//! set, each row putting its value where it lands.  A new option is one
//! [`Row`]: its name, type, range, default, objects and landing place.
//!
//! The decisions (where the adapters differed) are in
//! `docs/host-model.md`, "Options once".

mod check;
mod table;

pub use check::{expects, type_error};
pub use table::{
    camel_case, row, rows_of, table_json, Kind, Object, Objects, Row, Zero, MAX_BIND_ADDRESSES,
    MAX_PEER_CONNECTIONS, ROWS,
};

use crate::crypto::{CryptoProfile, FlashConfig, FlashProfile};
use crate::endpoint::EndpointConfig;
use crate::flash::client::ClientConfig;
use crate::flash::NetConnectionConfig;
use crate::host::{ErrorKind, Failure};
use crate::rendezvous::{Asks, ServerConfig};
use crate::runtime::{
    default_recv_coalesce, default_server_recv_coalesce, RuntimeConfig, DEFAULT_EVENT_QUEUE_LIMIT,
};
use crate::turn::{TurnConfig, TurnUri};
use check::Checked;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A value as an adapter gives it, before its row's check.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    /// The language's "none" (`NULL`, `None`, `null`): for a TURN URI or a
    /// key log, back to the default; for a server's keepalive, none sent.
    None,
    /// A boolean.
    Bool(bool),
    /// An integer (a count, or a C enum's value for a word).
    Int(i128),
    /// A duration in seconds (Python).
    Seconds(f64),
    /// A duration in milliseconds (C and Node).
    Millis(f64),
    /// A text: a word, a path, a URI, an address literal.
    Text(String),
    /// A path that need not be UTF-8 (Python's `os.PathLike`).
    Path(std::path::PathBuf),
    /// Addresses the adapter resolved itself (Python resolves names).
    Addresses(Vec<SocketAddr>),
    /// A list (addresses as texts, DH groups, keys, keepalive periods).
    List(Vec<OptionValue>),
}

impl OptionValue {
    /// The value in words, for a refusal: "true", "7", "the string \"x\"".
    pub fn describe(&self) -> String {
        match self {
            OptionValue::None => "none".to_owned(),
            OptionValue::Bool(b) => b.to_string(),
            OptionValue::Int(n) => n.to_string(),
            OptionValue::Seconds(s) => format!("{s} seconds"),
            OptionValue::Millis(ms) => format!("{ms} ms"),
            OptionValue::Text(t) => format!("the string {t:?}"),
            OptionValue::Path(p) => format!("the path {p:?}"),
            OptionValue::Addresses(_) | OptionValue::List(_) => "a list".to_owned(),
        }
    }
}

/// Why an option was refused.
#[derive(Debug)]
pub enum OptionError {
    /// A value of the wrong type, out of range, or an unknown option:
    /// [`ErrorKind::InvalidArgument`].
    Invalid(Failure),
    /// A file could not be opened or read (a key log, a keys file): an
    /// [`ErrorKind::Io`] failure, with the path and the system's error for
    /// adapters that report those (Python's `OSError`).
    File {
        /// What every adapter shows.
        failure: Failure,
        /// The path given.
        path: std::path::PathBuf,
        /// The system's error.
        error: std::io::Error,
    },
}

impl OptionError {
    /// The failure: its kind and the words every adapter shows.
    pub fn failure(&self) -> Failure {
        match self {
            OptionError::Invalid(f) | OptionError::File { failure: f, .. } => f.clone(),
        }
    }
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.failure().message)
    }
}

impl std::error::Error for OptionError {}

impl From<OptionError> for Failure {
    fn from(e: OptionError) -> Failure {
        e.failure()
    }
}

/// A TURN relay as set: resolved when an object starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurnSpec {
    /// The URI; `None`: no relay.
    pub uri: Option<String>,
    /// A user name over the URI's.
    pub username: Option<String>,
    /// A password over the URI's.
    pub password: Option<String>,
}

/// Core's configs with the options applied: what the builders take their
/// parts from.
#[derive(Debug, Clone)]
pub struct Configs {
    /// The bind addresses; `None`: the object's default.
    pub bind: Option<Vec<SocketAddr>>,
    /// An endpoint's role: a server identity.
    pub server_role: bool,
    /// The identity, on top of the role's [`FlashConfig`].
    pub flash: FlashConfig,
    /// The endpoint's settings.
    pub endpoint: EndpointConfig,
    /// The runtime's event queue limit.
    pub event_queue_limit: usize,
    /// The runtime's receive coalescing (a server's default differs).
    pub recv_coalesce: Duration,
    /// The TURN relay.
    pub turn: TurnSpec,
    /// A NetConnection's Flash client.
    pub client: ClientConfig,
    /// A server's settings.
    pub server: ServerConfig,
    /// A server's rendezvous cluster URI.
    pub cluster: Option<String>,
    /// A server's ask mode.
    pub asks: Asks,
}

impl Object {
    /// The bind address when none is given: `0.0.0.0:0` (the system picks
    /// a port), a server `0.0.0.0:1935` (RTMFP's usual port).
    pub fn default_bind(self) -> SocketAddr {
        let port = if self == Object::Server { 1935 } else { 0 };
        SocketAddr::from(([0, 0, 0, 0], port))
    }

    /// Whether its identity is a server's (ephemeral Diffie-Hellman,
    /// reachable by URI), given an endpoint's `server` option.
    fn server_identity(self, server_role: bool) -> bool {
        match self {
            Object::Endpoint => server_role,
            Object::NetConnection => false,
            Object::Server => true,
        }
    }
}

/// One option set: its row, the adapter's name for it, its value.
#[derive(Debug, Clone)]
struct Entry {
    shown: String,
    value: Checked,
}

/// The options an adapter set, checked; see the module documentation.
#[derive(Debug, Clone)]
pub struct Options {
    /// By row index: the builders apply rows in table order.
    set: BTreeMap<usize, Entry>,
    spell: fn(&str) -> String,
}

impl Default for Options {
    fn default() -> Self {
        Options::new()
    }
}

impl Options {
    /// No option set; refusals name options by their canonical names.
    pub fn new() -> Options {
        Options::spelled(str::to_owned)
    }

    /// No option set; refusals name option `name` as `spell(name)`
    /// (Node: `options.openTimeout`).
    pub fn spelled(spell: fn(&str) -> String) -> Options {
        Options {
            set: BTreeMap::new(),
            spell,
        }
    }

    /// Sets option `name` (canonical) to `value`, checked against its row.
    pub fn set(&mut self, name: &str, value: OptionValue) -> Result<(), OptionError> {
        let shown = (self.spell)(name);
        self.set_as(name, &shown, value)
    }

    /// [`Options::set`], naming the option `shown` in a refusal (C names
    /// the setter's argument).
    pub fn set_as(
        &mut self,
        name: &str,
        shown: &str,
        value: OptionValue,
    ) -> Result<(), OptionError> {
        let index = ROWS.iter().position(|r| r.name == name).ok_or_else(|| {
            OptionError::Invalid(Failure::new(
                ErrorKind::InvalidArgument,
                format!("{shown} is not an option"),
            ))
        })?;
        // A server's keys come from a list or a file, not both.
        for (one, other) in [("keys", "keys_file"), ("keys_file", "keys")] {
            if name == one {
                if let Some(e) = self.entry(other) {
                    return Err(OptionError::Invalid(Failure::new(
                        ErrorKind::InvalidArgument,
                        format!("give {shown} or {}, not both", e.shown),
                    )));
                }
            }
        }
        let value = check::check(ROWS[index].kind, shown, value)?;
        self.set.insert(
            index,
            Entry {
                shown: shown.to_owned(),
                value,
            },
        );
        Ok(())
    }

    /// Takes option `name` back to its default.
    pub fn unset(&mut self, name: &str) {
        if let Some(index) = ROWS.iter().position(|r| r.name == name) {
            self.set.remove(&index);
        }
    }

    /// Whether option `name` was set.
    pub fn is_set(&self, name: &str) -> bool {
        self.entry(name).is_some()
    }

    fn entry(&self, name: &str) -> Option<&Entry> {
        let index = ROWS.iter().position(|r| r.name == name)?;
        self.set.get(&index)
    }

    /// Core's configs for `object` with every option set applied, in
    /// table order, over the defaults (the identity over its role's).
    pub fn configs(&self, object: Object) -> Configs {
        let server_role = self.entry("server").is_some_and(|e| e.value.flag());
        let flash = if object.server_identity(server_role) {
            FlashConfig::server()
        } else {
            FlashConfig::client()
        };
        let mut configs = Configs {
            bind: None,
            server_role,
            flash,
            endpoint: EndpointConfig::default(),
            event_queue_limit: DEFAULT_EVENT_QUEUE_LIMIT,
            recv_coalesce: if object == Object::Server {
                default_server_recv_coalesce()
            } else {
                default_recv_coalesce()
            },
            turn: TurnSpec::default(),
            client: ClientConfig::default(),
            server: ServerConfig::default(),
            cluster: None,
            asks: Asks::default(),
        };
        for (index, entry) in &self.set {
            (ROWS[*index].apply)(&entry.value, &mut configs);
        }
        configs
    }

    /// The addresses `object` binds.
    pub fn bind(&self, object: Object) -> Vec<SocketAddr> {
        self.configs(object)
            .bind
            .unwrap_or_else(|| vec![object.default_bind()])
    }

    /// The identity's settings of `object`.
    pub fn flash(&self, object: Object) -> FlashConfig {
        self.configs(object).flash
    }

    /// Makes the identity of `object` (static Diffie-Hellman keys take a
    /// moment: an adapter may run this off its main thread).
    pub fn identity(&self, object: Object) -> Result<FlashProfile, Failure> {
        FlashProfile::generate(self.flash(object))
            .map_err(|e| Failure::new(ErrorKind::Identity, format!("cannot make an identity: {e}")))
    }

    /// Checks the TURN relay without resolving it: its URI parses and a
    /// user name is given (in the URI or `turn_username`).
    pub fn check_turn(&self) -> Result<(), Failure> {
        self.turn_uri().map(drop)
    }

    fn turn_uri(&self) -> Result<Option<(TurnUri, TurnSpec, String)>, Failure> {
        let spec = self.configs(Object::Endpoint).turn;
        let Some(text) = spec.uri.clone() else {
            return Ok(None);
        };
        let shown = self
            .entry("turn")
            .map_or("turn".to_owned(), |e| e.shown.clone());
        let invalid = |e: String| Failure::new(ErrorKind::InvalidArgument, format!("{shown}: {e}"));
        let uri = TurnUri::parse(&text).map_err(invalid)?;
        if uri.username.is_none() && spec.username.is_none() {
            return Err(invalid(format!(
                "the TURN proxy {text:?} needs a user name (turn://USER:PASS@HOST:PORT)"
            )));
        }
        Ok(Some((uri, spec, shown)))
    }

    /// The TURN relay, resolved (blocking name lookup), if one is set.
    pub fn turn(&self) -> Result<Option<TurnConfig>, Failure> {
        let Some((uri, spec, shown)) = self.turn_uri()? else {
            return Ok(None);
        };
        uri.resolve(spec.username.as_deref(), spec.password.as_deref())
            .map(Some)
            .map_err(|e| Failure::new(ErrorKind::InvalidArgument, format!("{shown}: {e}")))
    }

    /// The runtime of `object` with identity `crypto`: bind addresses,
    /// endpoint settings, event queue limit, TURN relay (resolved: this
    /// may block).
    pub fn runtime_config(
        &self,
        object: Object,
        crypto: Arc<dyn CryptoProfile>,
    ) -> Result<RuntimeConfig, Failure> {
        let configs = self.configs(object);
        let bind = configs.bind.unwrap_or_else(|| vec![object.default_bind()]);
        let mut rc = RuntimeConfig::new(bind, crypto);
        rc.endpoint = configs.endpoint;
        rc.event_queue_limit = configs.event_queue_limit;
        rc.recv_coalesce = configs.recv_coalesce;
        rc.turn = self.turn()?;
        Ok(rc)
    }

    /// A NetConnection's configuration (no `connect` arguments; the TURN
    /// relay resolved: this may block).
    pub fn netconnection_config(&self) -> Result<NetConnectionConfig, Failure> {
        let configs = self.configs(Object::NetConnection);
        Ok(NetConnectionConfig {
            bind: configs
                .bind
                .unwrap_or_else(|| vec![Object::NetConnection.default_bind()]),
            client: configs.client,
            endpoint: configs.endpoint,
            flash: configs.flash,
            args: Vec::new(),
            event_queue_limit: Some(configs.event_queue_limit),
            turn: self.turn()?,
        })
    }

    /// A NetConnection's Flash client settings.
    pub fn client_config(&self) -> ClientConfig {
        self.configs(Object::NetConnection).client
    }

    /// A server's settings.
    pub fn server_config(&self) -> ServerConfig {
        self.configs(Object::Server).server
    }

    /// A server's ask mode.
    pub fn asks(&self) -> Asks {
        self.configs(Object::Server).asks
    }

    /// A server's rendezvous cluster URI, if any.
    pub fn cluster(&self) -> Option<String> {
        self.configs(Object::Server).cluster
    }
}

#[cfg(test)]
mod tests;
