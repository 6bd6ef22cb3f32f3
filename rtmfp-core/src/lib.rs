//! `rtmfp-core`: the protocol engine of rtmfp.
//!
//! RTMFP is Adobe's Secure Real-Time Media Flow Protocol, specified in
//! RFC 7016, with the Flash communication profile of RFC 7425.  This crate
//! is sans-IO: it never touches a socket or a clock.
//!
//! - [`wire`] knows bytes: the RFC 7016 §2 codec.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod wire;
