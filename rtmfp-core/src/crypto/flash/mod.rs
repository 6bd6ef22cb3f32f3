//! The RTMFP Cryptography Profile for Flash platform communication
//! (RFC 7425 §4).
//!
//! - [`default_key`]: the Default Session Key (§4.1).
//! - [`dh`]: MODP groups and Diffie-Hellman (§4.2, §4.6.2).
//! - [`cert`]: certificates and fingerprints (§4.3).
//! - [`epd`]: Endpoint Discriminators (§4.4).
//! - [`keying`]: Session Keying Components and negotiation (§4.5).
//! - [`kdf`]: key selection and derivation (§4.6).
//! - [`packet`]: packet encryption and verification (§4.7).
//! - [`profile`]: [`FlashProfile`], the [`CryptoProfile`](crate::crypto::CryptoProfile).

pub mod cert;
pub mod default_key;
pub mod dh;
pub mod epd;
pub mod kdf;
pub mod key_log;
pub mod keying;
pub mod packet;
pub mod profile;

pub use cert::DhMode;
pub use key_log::KeyLog;
pub use profile::{FlashConfig, FlashProfile, SimplePassword};
