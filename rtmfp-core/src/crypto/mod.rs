//! The Cryptography Profile seam (RFC 7016 §3.2, §2.2.3) and its profiles.
//!
//! RTMFP delegates identities, certificates, Endpoint Discriminators (EPDs),
//! key agreement and packet encryption to an application-defined
//! Cryptography Profile. [`CryptoProfile`] is that seam; [`SessionCrypto`]
//! is one session key (or the Default Session Key) in use.
//!
//! - [`flash`] is the RFC 7425 §4 Flash profile ([`flash::FlashProfile`]).
//! - [`plain`] is a fast, deterministic, unencrypted profile for tests.
//!
//! The trait is object safe and `Send + Sync`, and the keying results are
//! `Send`, so a runtime can run the Diffie-Hellman work on a worker thread.

use std::any::Any;
use std::fmt;

pub mod checksum;
pub mod flash;
pub mod plain;
pub(crate) mod tlv;

pub use flash::{FlashConfig, FlashProfile};
pub use plain::PlainProfile;

/// A 256-bit peer ID: the SHA-256 fingerprint of a certificate's canonical
/// section in the Flash profile (RFC 7425 §4.3.2).
pub type PeerId = [u8; 32];

/// The Cryptography Profile functions of RFC 7016 §3.2, plus key agreement.
///
/// All functions are deterministic given their inputs and the supplied RNG,
/// as RFC 7016 §3.2 requires for identity functions.
pub trait CryptoProfile: Send + Sync {
    /// Cipher for the startup pseudo-session and the Default Session Key
    /// (RFC 7016 §2.2.3, RFC 7425 §4.1).
    fn default_session_crypto(&self) -> Box<dyn SessionCrypto>;

    /// This endpoint's certificate bytes (sent in RHello and IIKeying).
    fn certificate(&self) -> &[u8];

    /// The peer ID of a certificate (RFC 7425 §4.3.2), if the profile has
    /// peer IDs and the certificate is well formed. `peer_id(certificate())`
    /// is this endpoint's `near_id`.
    fn peer_id(&self, cert: &[u8]) -> Option<PeerId>;

    /// Whether an EPD selects this endpoint's identity (RFC 7016 §3.2,
    /// RFC 7425 §4.4.3).
    fn epd_selects_me(&self, epd: &[u8]) -> bool {
        self.cert_selected_by_epd(self.certificate(), epd)
    }

    /// Whether `epd` selects the certificate `cert` (RFC 7425 §4.4.3). The
    /// initiator checks an RHello's certificate against the EPD it sent.
    fn cert_selected_by_epd(&self, cert: &[u8], epd: &[u8]) -> bool;

    /// The Canonical EPD named by `epd`, if it names exactly one identity
    /// (RFC 7425 §4.4.4: only an EPD with a Fingerprint option does).
    fn canonical_epd(&self, epd: &[u8]) -> Option<Vec<u8>>;

    /// The Canonical EPD of a certificate (RFC 7016 §3.2), used to detect
    /// duplicate sessions to one identity (RFC 7016 §3.5.1.1.1).
    fn canonical_epd_of_cert(&self, cert: &[u8]) -> Option<Vec<u8>>;

    /// Initiator: build the Session Key Initiator Component for a responder
    /// whose certificate is `far_cert`. The returned state holds the private
    /// key until [`CryptoProfile::initiator_finish`].
    fn initiator_keying(
        &self,
        far_cert: &[u8],
        rng: &mut dyn rand::RngCore,
    ) -> Result<InitiatorKeying, CryptoError>;

    /// Signs the signed parameters of an IIKeying or RIKeying
    /// (RFC 7425 §4.3.5). Empty when the profile has nothing to sign with.
    fn sign(&self, signed: &[u8]) -> Vec<u8>;

    /// Verifies a far end's signature over `signed` (RFC 7425 §4.3.5). A
    /// verifier that requires no signature accepts anything.
    fn verify(&self, far_cert: &[u8], signed: &[u8], signature: &[u8]) -> bool;

    /// Responder: validate the initiator's certificate and SKIC, then build
    /// the Session Key Responder Component and the session's keys.
    fn responder_keying(
        &self,
        far_cert: &[u8],
        skic: &[u8],
        rng: &mut dyn rand::RngCore,
    ) -> Result<ResponderKeyingResult, CryptoError>;

    /// Initiator: finish keying with the RIKeying's SKRC.
    fn initiator_finish(
        &self,
        state: &InitiatorKeying,
        far_cert: &[u8],
        skrc: &[u8],
    ) -> Result<SessionKeys, CryptoError>;

    /// Glare (RFC 7016 §3.5.1.1.3, RFC 7425 §4.3.6): whether the near end
    /// prevails as the Initiator against the far end's certificate.
    fn near_wins_glare(&self, far_cert: &[u8]) -> bool;

    /// Session override (RFC 7425 §4.3.7): whether a new incoming session
    /// with `new_cert` overrides an existing session with `old_cert`.
    fn is_override(&self, old_cert: &[u8], new_cert: &[u8]) -> bool;
}

/// One direction-pair of packet protection: a session key, or the Default
/// Session Key (RFC 7016 §2.2.3, RFC 7425 §4.7).
pub trait SessionCrypto: Send {
    /// Encrypts one plain RTMFP packet into the `encryptedPacket` bytes
    /// (everything after the 4-byte scrambled session ID, RFC 7016 §2.2.2),
    /// appending them to `out`. Pads as the profile requires.
    fn encrypt(&mut self, plain: &[u8], out: &mut Vec<u8>);

    /// Encrypts several packets of this session, in order: `plains[i]`
    /// appended to `outs[i]` exactly as [`SessionCrypto::encrypt`] would,
    /// one after the other.  A profile may do them together (the Flash
    /// profile runs their CBC chains side by side, which AES-NI does
    /// several times faster than one chain).
    fn encrypt_many(&mut self, plains: &[Vec<u8>], outs: &mut [Vec<u8>]) {
        for (plain, out) in plains.iter().zip(outs.iter_mut()) {
            self.encrypt(plain, out);
        }
    }

    /// Decrypts and verifies one `encryptedPacket`, appending the plain
    /// packet to `out` (trailing padding may remain; the packet parser
    /// ignores it, RFC 7016 §2.2.4). On error `out` is left as it was and
    /// the packet MUST be dropped as though never received.
    fn decrypt(&mut self, encrypted: &[u8], out: &mut Vec<u8>) -> Result<(), CryptoError>;

    /// Bytes added by encryption to a plain packet of `plain_len` bytes.
    fn overhead(&self, plain_len: usize) -> usize;

    /// The largest plain packet whose encryption fits in `budget` bytes.
    fn max_plain_len(&self, budget: usize) -> usize {
        let mut n = budget;
        while n > 0 && n + self.overhead(n) > budget {
            n -= 1;
        }
        n
    }
}

/// Initiator keying state between IIKeying and RIKeying.
pub struct InitiatorKeying {
    /// The Session Key Initiator Component to send in IIKeying.
    pub skic: Vec<u8>,
    state: Box<dyn Any + Send>,
}

impl InitiatorKeying {
    /// Wraps a profile's private state with the SKIC it produced.
    pub fn new<T: Any + Send>(skic: Vec<u8>, state: T) -> Self {
        InitiatorKeying {
            skic,
            state: Box::new(state),
        }
    }

    /// Borrows the profile's private state, failing with
    /// [`CryptoError::WrongState`] if it came from another profile.  The
    /// state survives a failed [`CryptoProfile::initiator_finish`], so a
    /// forged RIKeying cannot end an opening session.
    pub fn state_ref<T: Any + Send>(&self) -> Result<&T, CryptoError> {
        self.state
            .downcast_ref::<T>()
            .ok_or(CryptoError::WrongState)
    }

    /// Recovers the profile's private state, failing with
    /// [`CryptoError::WrongState`] if it came from another profile.
    pub fn into_state<T: Any + Send>(self) -> Result<(Vec<u8>, T), CryptoError> {
        match self.state.downcast::<T>() {
            Ok(s) => Ok((self.skic, *s)),
            Err(_) => Err(CryptoError::WrongState),
        }
    }
}

impl fmt::Debug for InitiatorKeying {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InitiatorKeying")
            .field("skic_len", &self.skic.len())
            .finish_non_exhaustive()
    }
}

/// What a completed key agreement gives a session (RFC 7425 §4.6).
pub struct SessionKeys {
    /// The session's packet protection.
    pub crypto: Box<dyn SessionCrypto>,
    /// NEAR_NONCE (RFC 7425 §4.6.5).
    pub near_nonce: Vec<u8>,
    /// FAR_NONCE (RFC 7425 §4.6.5); equals the far end's `near_nonce`.
    pub far_nonce: Vec<u8>,
    /// The far end's peer ID, where the profile has one.
    pub far_peer_id: Option<PeerId>,
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKeys")
            .field("far_peer_id", &self.far_peer_id.map(hex32))
            .finish_non_exhaustive()
    }
}

fn hex32(id: PeerId) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// The responder's output: the SKRC to send in RIKeying, and the keys.
#[derive(Debug)]
pub struct ResponderKeyingResult {
    /// The Session Key Responder Component.
    pub skrc: Vec<u8>,
    /// The session's keys.
    pub keys: SessionKeys,
}

/// Errors from the crypto layer. A packet-level error means: drop the
/// packet as though never received. A keying error means: do not open the
/// session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// A structure (option list, VLU, certificate, EPD, keying component)
    /// does not parse; the text says what was wrong.
    Malformed(&'static str),
    /// Encrypted packet length is not N×16 + hmacLength (RFC 7425 §4.7.2).
    BadLength,
    /// Simple checksum mismatch (RFC 7425 §4.7.3.1).
    BadChecksum,
    /// HMAC mismatch (RFC 7425 §4.7.3.2).
    BadHmac,
    /// Duplicate or too-old session sequence number (RFC 7425 §4.7.3.3).
    Replay,
    /// A certificate violates the profile (e.g. both static and ephemeral
    /// Diffie-Hellman options, RFC 7425 §4.3.3.4-5).
    BadCertificate(&'static str),
    /// The peers support no Diffie-Hellman group in common.
    NoCommonGroup,
    /// A Diffie-Hellman group this endpoint does not support.
    UnsupportedGroup(u64),
    /// The far Diffie-Hellman public key is unacceptable (RFC 7425 §4.6.2).
    BadPublicKey,
    /// The keying component does not match the certificate's Diffie-Hellman
    /// mode (RFC 7425 §4.6.1).
    KeyingMismatch(&'static str),
    /// This end requires HMAC and the far end will not send it
    /// (RFC 7425 §4.6.4).
    HmacRequired,
    /// This end requires session sequence numbers and the far end will not
    /// send them (RFC 7425 §4.6.6).
    SseqRequired,
    /// [`InitiatorKeying`] state came from a different profile.
    WrongState,
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoError::Malformed(what) => write!(f, "malformed: {what}"),
            CryptoError::BadLength => f.write_str("encrypted packet has a bad length"),
            CryptoError::BadChecksum => f.write_str("packet checksum mismatch"),
            CryptoError::BadHmac => f.write_str("packet HMAC mismatch"),
            CryptoError::Replay => f.write_str("duplicate or too old session sequence number"),
            CryptoError::BadCertificate(what) => write!(f, "bad certificate: {what}"),
            CryptoError::NoCommonGroup => f.write_str("no Diffie-Hellman group in common"),
            CryptoError::UnsupportedGroup(g) => write!(f, "unsupported Diffie-Hellman group {g}"),
            CryptoError::BadPublicKey => f.write_str("unacceptable Diffie-Hellman public key"),
            CryptoError::KeyingMismatch(what) => write!(f, "keying mismatch: {what}"),
            CryptoError::HmacRequired => f.write_str("HMAC required but not offered by far end"),
            CryptoError::SseqRequired => {
                f.write_str("session sequence numbers required but not offered by far end")
            }
            CryptoError::WrongState => f.write_str("initiator keying state from another profile"),
        }
    }
}

impl std::error::Error for CryptoError {}
