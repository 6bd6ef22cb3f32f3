//! `rtmfp-core`: the protocol engine of rtmfp.
//!
//! RTMFP is Adobe's Secure Real-Time Media Flow Protocol, specified in
//! RFC 7016, with the Flash communication profile of RFC 7425.  This crate
//! is sans-IO: it never touches a socket or a clock.
//!
//! - [`wire`] knows bytes: the RFC 7016 §2 codec.
//! - [`endpoint`] and [`session`] know RFC 7016 §3: startup, sessions,
//!   keepalive, mobility and close.
//! - [`flow`] knows RFC 7016 §3.6 flows and Appendix A congestion control.
//! - [`crypto`] knows keys: the crypto profile seam (RFC 7016 §3.2) and the
//!   RFC 7425 §4 Flash profile.
//! - [`runtime`] knows mio: the I/O thread with the UDP sockets, timers,
//!   commands in and events out.  It is the only I/O in the crate, and
//!   its `runtime/sys.rs` holds the crate's only `unsafe` code.
//! - [`flash`] knows RFC 7425 §5: AMF0/AMF3, RTMP messages, flow
//!   metadata, commands and FLV files, and the Flash client
//!   (NetConnection, NetStream, direct peer-to-peer streams).
//! - [`rendezvous`] knows server policy: developer keys, the peer
//!   registry, introductions, name lookup and the stream relay.
//! - [`check`] is the connectivity check: a STUN (RFC 5780) responder
//!   for servers and a prober that tells a client what its NAT does.
//! - [`sim`] is test support: a deterministic network simulator (links,
//!   NATs, virtual time) that drives sans-IO endpoints.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod check;
pub mod crypto;
pub mod endpoint;
pub mod flash;
pub mod flow;
pub mod host;
pub mod rendezvous;
pub mod runtime;
pub mod session;
pub mod sim;
pub mod stun;
pub mod turn;
pub mod wire;
