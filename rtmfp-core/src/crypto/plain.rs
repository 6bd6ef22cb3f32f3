//! [`PlainProfile`]: an unencrypted, deterministic profile for tests and the
//! network simulator. It provides no security whatsoever.
//!
//! - A certificate is any identity bytes; an EPD selects a certificate iff
//!   it equals it, and is its own canonical EPD.
//! - A packet is `[u16 Internet checksum of the rest] plain packet`.
//! - Keying components are the identity's certificate hash (no secrets);
//!   nonces are SHA-256 over both components.

use sha2::{Digest, Sha256};

use super::checksum::internet_checksum;
use super::{
    CryptoError, CryptoProfile, InitiatorKeying, PeerId, ResponderKeyingResult, SessionCrypto,
    SessionKeys,
};

/// Checksum-only packet protection: 2-byte big-endian Internet checksum of
/// the plain packet, then the plain packet.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainSessionCrypto;

impl SessionCrypto for PlainSessionCrypto {
    fn encrypt(&mut self, plain: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&internet_checksum(plain).to_be_bytes());
        out.extend_from_slice(plain);
    }

    fn decrypt(&mut self, encrypted: &[u8], out: &mut Vec<u8>) -> Result<(), CryptoError> {
        if encrypted.len() < 2 {
            return Err(CryptoError::BadLength);
        }
        let (c, body) = encrypted.split_at(2);
        if internet_checksum(body) != u16::from_be_bytes([c[0], c[1]]) {
            return Err(CryptoError::BadChecksum);
        }
        out.extend_from_slice(body);
        Ok(())
    }

    fn overhead(&self, _plain_len: usize) -> usize {
        2
    }
}

/// The plain test profile; see the module documentation.
#[derive(Debug, Clone)]
pub struct PlainProfile {
    identity: Vec<u8>,
}

/// Initiator state of the plain profile.
struct PlainInit;

impl PlainProfile {
    /// A profile whose certificate is `identity`.
    pub fn new(identity: impl Into<Vec<u8>>) -> Self {
        PlainProfile {
            identity: identity.into(),
        }
    }

    fn component(role: u8, cert: &[u8]) -> Vec<u8> {
        let mut v = vec![role];
        v.extend_from_slice(&Sha256::digest(cert));
        v
    }

    fn keys(sknc: &[u8], skfc: &[u8], far_cert: &[u8]) -> SessionKeys {
        SessionKeys {
            crypto: Box::new(PlainSessionCrypto),
            near_nonce: Sha256::digest([sknc, skfc].concat()).to_vec(),
            far_nonce: Sha256::digest([skfc, sknc].concat()).to_vec(),
            far_peer_id: Some(Sha256::digest(far_cert).into()),
        }
    }
}

impl CryptoProfile for PlainProfile {
    fn default_session_crypto(&self) -> Box<dyn SessionCrypto> {
        Box::new(PlainSessionCrypto)
    }

    fn certificate(&self) -> &[u8] {
        &self.identity
    }

    fn peer_id(&self, cert: &[u8]) -> Option<PeerId> {
        Some(Sha256::digest(cert).into())
    }

    fn cert_selected_by_epd(&self, cert: &[u8], epd: &[u8]) -> bool {
        cert == epd
    }

    fn canonical_epd(&self, epd: &[u8]) -> Option<Vec<u8>> {
        Some(epd.to_vec())
    }

    fn canonical_epd_of_cert(&self, cert: &[u8]) -> Option<Vec<u8>> {
        Some(cert.to_vec())
    }

    fn initiator_keying(
        &self,
        _far_cert: &[u8],
        _rng: &mut dyn rand::RngCore,
    ) -> Result<InitiatorKeying, CryptoError> {
        Ok(InitiatorKeying::new(
            Self::component(b'I', &self.identity),
            PlainInit,
        ))
    }

    fn sign(&self, _signed: &[u8]) -> Vec<u8> {
        Vec::new()
    }

    fn verify(&self, _far_cert: &[u8], _signed: &[u8], _signature: &[u8]) -> bool {
        true
    }

    fn responder_keying(
        &self,
        far_cert: &[u8],
        skic: &[u8],
        _rng: &mut dyn rand::RngCore,
    ) -> Result<ResponderKeyingResult, CryptoError> {
        if skic.first() != Some(&b'I') {
            return Err(CryptoError::Malformed("plain SKIC"));
        }
        let skrc = Self::component(b'R', &self.identity);
        let keys = Self::keys(&skrc, skic, far_cert);
        Ok(ResponderKeyingResult { skrc, keys })
    }

    fn initiator_finish(
        &self,
        state: &InitiatorKeying,
        far_cert: &[u8],
        skrc: &[u8],
    ) -> Result<SessionKeys, CryptoError> {
        state.state_ref::<PlainInit>()?;
        let skic = &state.skic;
        if skrc.first() != Some(&b'R') {
            return Err(CryptoError::Malformed("plain SKRC"));
        }
        Ok(Self::keys(skic, skrc, far_cert))
    }

    fn near_wins_glare(&self, far_cert: &[u8]) -> bool {
        self.identity.as_slice() <= far_cert
    }

    fn is_override(&self, old_cert: &[u8], new_cert: &[u8]) -> bool {
        old_cert == new_cert
    }
}
