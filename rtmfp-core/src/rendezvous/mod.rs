//! The server side of RFC 7425 §5: a Stratus/Cirrus-like rendezvous
//! service that is also a small media server.
//!
//! [`Server`] is a sans-IO [`Layer`](crate::endpoint::Layer) on a server
//! endpoint (RFC 7425 §4 server certificate: ephemeral DH, accepts
//! ancillary data).  [`ServerHandle`] runs it on a
//! [`Runtime`](crate::runtime::Runtime).
//!
//! - **Connects** (§5.3.1-2): the developer key ([`keys`]) is checked
//!   against a [`KeySet`]; then the `on_connect` hook may reject with a
//!   reason.  A refused client gets `_error` with
//!   "NetConnection.Connect.Rejected" and its session is closed.  A
//!   client that is accepted gets `_result` with
//!   "NetConnection.Connect.Success", then Set Keepalive Timers (§5.3.4).
//! - **Registry** ([`registry`]): peer ID → observed address and
//!   `setPeerInfo` addresses (§5.3.3), in memory by default.
//! - **Introducer** ([`introducer`], RFC 7016 §3.5.1.6, RFC 7425 §5.4.1):
//!   an IHello for a connected peer's ID gets a Redirect to that peer's
//!   addresses, and the peer gets a Forwarded IHello.
//! - **Names**: `registerName(name)` and `lookupName(name)` commands on
//!   the NetConnection ([`REGISTER_NAME`], [`LOOKUP_NAME`], and
//!   [`CHECK_INFO`] for `rtmfp check`): a peer
//!   registers a name; another resolves it to a 64-hex-character peer ID.
//! - **Relay** (§5.3.5): `publish`/`play` through the server; a
//!   publisher's messages go to every player on the player's flows.
//! - **Hooks** ([`Hooks`]) for connect, publish, play and disconnect, and
//!   [`ServerEvent`]s.  Synchronous hooks decide on the I/O thread; with
//!   [`Asks`] a connect, publish or play waits (parked, the client not
//!   yet answered) for a verdict from any thread, by ask id, with a
//!   deadline and a default verdict; [`Server::sessions`] and [`Server::streams`] list
//!   what is going on.

mod asks;
pub mod cluster;
pub mod fallback;
mod handle;
pub mod introducer;
pub mod keys;
mod limits;
pub mod registry;
mod relay;
mod server;
mod sync;
mod types;
mod unpublish;

pub use handle::ServerHandle;
pub use keys::KeySet;
pub use limits::{Limit, LimitError, LIMIT_MAX, LIMIT_MIN};
pub use registry::{MemoryRegistry, NameError, PeerRecord, PeerRegistry};
pub use server::{Server, ServerStats, CHECK_INFO, LOOKUP_NAME, REGISTER_NAME};
pub use types::{
    AskEnd, AskError, AskKind, AskRequest, Asks, ClientInfo, ConnectHook, ConnectRequest, Decision,
    DisconnectHook, Hooks, ServerConfig, ServerEvent, StreamHook, StreamInfo, StreamRequest,
    NO_ANSWER,
};
pub use unpublish::UNPUBLISH_DRAIN_LIMIT;
