//! The Default Session Key (RFC 7425 §4.1).

use super::packet::{FlashSessionCrypto, PacketParams};

/// "Adobe Systems 02" in UTF-8 (RFC 7425 §4.1):
/// `41 64 6F 62 65 20 53 79 73 74 65 6D 73 20 30 32`.
pub const DEFAULT_SESSION_KEY: [u8; 16] = *b"Adobe Systems 02";

/// The default cipher: AES-128-CBC with the Default Session Key in both
/// directions, zero IV, simple checksum, no HMAC, no session sequence
/// numbers (RFC 7425 §4.1, §4.6.4, §4.6.6).
pub fn default_session_crypto() -> FlashSessionCrypto {
    FlashSessionCrypto::new(
        &DEFAULT_SESSION_KEY,
        &DEFAULT_SESSION_KEY,
        &PacketParams::default(),
    )
}
