//! [`FlashProfile`]: the RFC 7425 §4 Cryptography Profile.

use hmac::{digest::KeyInit, Mac};

use super::cert::{Certificate, CertificateBuilder, DhMode};
use super::default_key::default_session_crypto;
use super::dh::{self, DhKeyPair};
use super::epd::{canonical_epd, Epd};
use super::kdf::{derive, hmac_sha256, select_initiator_key, select_responder_key};
use super::key_log::{KeyLog, SessionKeyLine};
use super::keying::{
    negotiate_flags, HmacNegotiation, KeyingComponent, NegotiationFlags, Outcome, Policy,
};
use super::packet::{FlashSessionCrypto, HmacParams, HmacSha256, PacketParams};
use crate::crypto::tlv::{put_option, Element, Options};
use crate::crypto::{
    CryptoError, CryptoProfile, InitiatorKeying, PeerId, ResponderKeyingResult, SessionCrypto,
    SessionKeys,
};

/// 0x1d Simple Password signature option (RFC 7425 §4.3.5.1.1).
pub const SIG_OPT_SIMPLE_PASSWORD: u64 = 0x1d;

/// Bytes of Extra Randomness we put in certificates and keying components
/// (RFC 7425 §4.3.3.3, §4.5.2.2: 16 to 64). Flash Player and Adobe's
/// servers sent 64, and Flash-era stacks check the sizes that follow from it
/// (a 76-byte initiator and a 73-byte responder keying component).
const EXTRA_RANDOMNESS_LEN: usize = 64;

/// The groups a client certificate carries static keys for by default: just
/// group 2, as Flash Player did. Flash-era stacks (librtmfp, MonaServer2)
/// parse a peer certificate as exactly one 1024-bit static key, and compute
/// the peer ID over those 132 bytes only; every RFC 7425 stack supports it.
pub const FLASH_CLIENT_GROUPS: [u64; 1] = [2];

/// The groups a server certificate lists by default: Adobe's servers listed
/// 2, 5 and 14; 16 is added for stacks that prefer it (rtmfp-cpp). An
/// initiator picks among them, so each far end gets its own preference.
pub const FLASH_SERVER_GROUPS: [u64; 4] = [2, 5, 14, 16];

/// A password credential (RFC 7425 §4.3.5.1.1).
#[derive(Clone, PartialEq, Eq)]
pub struct SimplePassword {
    /// The password identifier (e.g. a user name).
    pub id: Vec<u8>,
    /// The password, used as the HMAC-SHA256 key.
    pub password: Vec<u8>,
}

impl std::fmt::Debug for SimplePassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimplePassword")
            .field("id", &String::from_utf8_lossy(&self.id))
            .finish_non_exhaustive()
    }
}

/// Configuration of a [`FlashProfile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashConfig {
    /// Supported DH groups in preference order (subset of 2, 5, 14, 16).
    /// As Initiator we pick the first one the far certificate supports.
    pub groups: Vec<u64>,
    /// Ephemeral or static DH. RFC 7425 §5.3 and §7: servers SHOULD use
    /// ephemeral keys; clients SHOULD use static keys and a new certificate
    /// per NetConnection.
    pub dh_mode: DhMode,
    /// Certificate Hostname option (RFC 7425 §4.3.3.1).
    pub hostname: Option<Vec<u8>>,
    /// Certificate Accepts Ancillary Data option (RFC 7425 §4.3.3.2); a
    /// server reached by `rtmfp://` URI needs it.
    pub accepts_ancillary_data: bool,
    /// HMAC negotiation policy (RFC 7425 §4.6.4).
    pub hmac: Policy,
    /// Length of the HMAC we send, 4..=32.
    pub hmac_length: u8,
    /// Session sequence number policy (RFC 7425 §4.6.6).
    pub sseq: Policy,
    /// Credential to sign our Initial Keying with (RFC 7425 §4.3.5.1.1).
    pub sign_password: Option<SimplePassword>,
    /// Credentials recognized when verifying far signatures.
    pub verify_passwords: Vec<SimplePassword>,
    /// Require a valid Simple Password signature from the far end.
    pub require_signature: bool,
    /// Where to log each session's packet keys (see [`super::key_log`]);
    /// `None`: [`KeyLog::default_for_process`] (`RTMFP_KEYLOGFILE`).
    pub key_log: Option<KeyLog>,
}

impl Default for FlashConfig {
    /// Ephemeral DH, groups [`FLASH_SERVER_GROUPS`], opportunistic HMAC
    /// (16 bytes) and SSEQ, no passwords.
    fn default() -> Self {
        FlashConfig {
            groups: FLASH_SERVER_GROUPS.to_vec(),
            dh_mode: DhMode::Ephemeral,
            hostname: None,
            accepts_ancillary_data: false,
            hmac: Policy::OPPORTUNISTIC,
            hmac_length: 16,
            sseq: Policy::OPPORTUNISTIC,
            sign_password: None,
            verify_passwords: Vec::new(),
            require_signature: false,
            key_log: None,
        }
    }
}

impl FlashConfig {
    /// A server: ephemeral DH, accepts ancillary data (RFC 7425 §5.3).
    pub fn server() -> Self {
        FlashConfig {
            accepts_ancillary_data: true,
            ..Self::default()
        }
    }

    /// A client or peer: static DH (RFC 7425 §5.3, §7) in the groups of
    /// [`FLASH_CLIENT_GROUPS`], so that the certificate has the shape every
    /// Flash-era stack expects.
    pub fn client() -> Self {
        FlashConfig {
            dh_mode: DhMode::Static,
            groups: FLASH_CLIENT_GROUPS.to_vec(),
            ..Self::default()
        }
    }
}

/// The RFC 7425 §4 Cryptography Profile: one identity (certificate and DH
/// keys) and the policies it negotiates with.
#[derive(Debug)]
pub struct FlashProfile {
    config: FlashConfig,
    cert_bytes: Vec<u8>,
    cert: Certificate,
    static_keys: Vec<DhKeyPair>,
}

/// Initiator state between IIKeying and RIKeying.
struct InitState {
    keypair: DhKeyPair,
    far_fingerprint: PeerId,
}

impl FlashProfile {
    /// A new identity from `config`, generating DH keys (static mode) and
    /// certificate randomness with `rng`.
    pub fn new(config: FlashConfig, rng: &mut dyn rand::RngCore) -> Result<Self, CryptoError> {
        if config.groups.is_empty() {
            return Err(CryptoError::NoCommonGroup);
        }
        let mut groups = Vec::new();
        for &g in &config.groups {
            if dh::group(g).is_none() {
                return Err(CryptoError::UnsupportedGroup(g));
            }
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        if !(4..=32).contains(&config.hmac_length) {
            return Err(CryptoError::Malformed("HMAC length not in 4..=32"));
        }
        let config = FlashConfig { groups, ..config };
        let mut builder = CertificateBuilder {
            hostname: config.hostname.clone(),
            accepts_ancillary_data: config.accepts_ancillary_data,
            ..CertificateBuilder::default()
        };
        let mut static_keys = Vec::new();
        match config.dh_mode {
            DhMode::Ephemeral => {
                // RFC 7425 §4.3.3.3: unique fingerprint without a public key.
                let mut r = vec![0u8; EXTRA_RANDOMNESS_LEN];
                rng.fill_bytes(&mut r);
                builder.extra_randomness.push(r);
                builder.ephemeral_groups = config.groups.clone();
            }
            DhMode::Static => {
                for &g in &config.groups {
                    let group = dh::group(g).ok_or(CryptoError::UnsupportedGroup(g))?;
                    let kp = DhKeyPair::generate(group, rng);
                    builder.static_keys.push((g, kp.public_key().to_vec()));
                    static_keys.push(kp);
                }
            }
        }
        let cert_bytes = builder.build();
        let cert = Certificate::parse(&cert_bytes)?;
        Ok(FlashProfile {
            config,
            cert_bytes,
            cert,
            static_keys,
        })
    }

    /// [`FlashProfile::new`] with the thread-local CSPRNG.
    pub fn generate(mut config: FlashConfig) -> Result<Self, CryptoError> {
        if config.key_log.is_none() {
            config.key_log = KeyLog::default_for_process();
        }
        Self::new(config, &mut rand::rng())
    }

    /// The configuration (groups deduplicated).
    pub fn config(&self) -> &FlashConfig {
        &self.config
    }

    /// This endpoint's peer ID (`near_id`, RFC 7425 §4.3.2).
    pub fn near_id(&self) -> PeerId {
        self.cert.fingerprint()
    }

    fn static_key(&self, group: u64) -> Option<&DhKeyPair> {
        self.static_keys.iter().find(|k| k.group().id() == group)
    }

    fn our_keying(
        &self,
        rng: &mut dyn rand::RngCore,
        extra: bool,
        (hmac_flags, sseq_flags): (NegotiationFlags, NegotiationFlags),
    ) -> KeyingComponent {
        let extra_randomness = extra.then(|| {
            let mut r = vec![0u8; EXTRA_RANDOMNESS_LEN];
            rng.fill_bytes(&mut r);
            r
        });
        KeyingComponent {
            extra_randomness,
            hmac: Some(HmacNegotiation {
                flags: hmac_flags,
                // RFC 7425 §4.5.2.4: 0 iff neither SND nor SOR.
                hmac_length: if hmac_flags.offers() {
                    u64::from(self.config.hmac_length)
                } else {
                    0
                },
            }),
            sseq: Some(sseq_flags),
            ..KeyingComponent::default()
        }
    }

    /// The HMAC and SSEQ flags we send as Initiator: what our policies say.
    fn initiator_flags(&self) -> (NegotiationFlags, NegotiationFlags) {
        (self.config.hmac.flags(), self.config.sseq.flags())
    }

    /// The HMAC and SSEQ flags we answer `far` with as Responder (see
    /// [`Policy::answer`]).
    fn responder_flags(&self, far: &KeyingComponent) -> (NegotiationFlags, NegotiationFlags) {
        let far_hmac = far.hmac.map(|h| h.flags).unwrap_or_default();
        let far_sseq = far.sseq.unwrap_or_default();
        (
            self.config.hmac.answer(far_hmac),
            self.config.sseq.answer(far_sseq),
        )
    }

    fn negotiate(
        &self,
        (near_hmac, near_sseq): (NegotiationFlags, NegotiationFlags),
        far: &KeyingComponent,
    ) -> Result<(Outcome, Outcome), CryptoError> {
        let hmac = negotiate_flags(self.config.hmac, near_hmac, far.hmac.map(|h| h.flags))
            .ok_or(CryptoError::HmacRequired)?;
        let sseq = negotiate_flags(self.config.sseq, near_sseq, far.sseq)
            .ok_or(CryptoError::SseqRequired)?;
        Ok((hmac, sseq))
    }

    fn session_keys(
        &self,
        dh_secret: &[u8],
        sknc: &[u8],
        skfc: &[u8],
        far: &KeyingComponent,
        (hmac, sseq): (Outcome, Outcome),
        far_peer_id: PeerId,
    ) -> SessionKeys {
        let s = derive(dh_secret, sknc, skfc);
        let far_hmac_len = far.hmac.map_or(0, |h| h.hmac_length) as usize;
        let params = PacketParams {
            send_hmac: hmac.send.then_some(HmacParams {
                key: s.hmac_send_key,
                len: usize::from(self.config.hmac_length),
            }),
            recv_hmac: hmac.recv.then_some(HmacParams {
                key: s.hmac_recv_key,
                len: far_hmac_len,
            }),
            send_sseq: sseq.send,
            recv_sseq: sseq.recv,
        };
        if let Some(log) = &self.config.key_log {
            log.record(&SessionKeyLine {
                near_nonce: s.near_nonce.to_vec(),
                encrypt_key: s.aes_encrypt_key(),
                decrypt_key: s.aes_decrypt_key(),
                params: params.clone(),
            });
        }
        let crypto = FlashSessionCrypto::new(&s.aes_encrypt_key(), &s.aes_decrypt_key(), &params);
        SessionKeys {
            crypto: Box::new(crypto),
            near_nonce: s.near_nonce.to_vec(),
            far_nonce: s.far_nonce.to_vec(),
            far_peer_id: Some(far_peer_id),
        }
    }

    fn simple_password_option(pw: &SimplePassword, signed: &[u8]) -> Vec<u8> {
        let mut v = hmac_sha256(&pw.password, signed).to_vec();
        v.extend_from_slice(&pw.id);
        let mut out = Vec::new();
        put_option(&mut out, SIG_OPT_SIMPLE_PASSWORD, &v);
        out
    }
}

impl CryptoProfile for FlashProfile {
    fn default_session_crypto(&self) -> Box<dyn SessionCrypto> {
        Box::new(default_session_crypto())
    }

    fn certificate(&self) -> &[u8] {
        &self.cert_bytes
    }

    fn peer_id(&self, cert: &[u8]) -> Option<PeerId> {
        super::cert::fingerprint(cert).ok()
    }

    fn epd_selects_me(&self, epd: &[u8]) -> bool {
        Epd::parse(epd).is_ok_and(|e| e.selects(&self.cert))
    }

    fn cert_selected_by_epd(&self, cert: &[u8], epd: &[u8]) -> bool {
        match (Certificate::parse(cert), Epd::parse(epd)) {
            (Ok(c), Ok(e)) => e.selects(&c),
            _ => false,
        }
    }

    fn canonical_epd(&self, epd: &[u8]) -> Option<Vec<u8>> {
        Epd::parse(epd).ok()?.canonical().map(|c| c.to_vec())
    }

    fn canonical_epd_of_cert(&self, cert: &[u8]) -> Option<Vec<u8>> {
        let fp = super::cert::fingerprint(cert).ok()?;
        Some(canonical_epd(&fp).to_vec())
    }

    fn initiator_keying(
        &self,
        far_cert: &[u8],
        rng: &mut dyn rand::RngCore,
    ) -> Result<InitiatorKeying, CryptoError> {
        let far = Certificate::parse(far_cert)?;
        // RFC 7425 §4.6.1: a group both ends support, in our preference.
        let g = *self
            .config
            .groups
            .iter()
            .find(|&&g| far.supports_group(g))
            .ok_or(CryptoError::NoCommonGroup)?;
        let group = dh::group(g).ok_or(CryptoError::UnsupportedGroup(g))?;
        if let Some(key) = far.static_key(g) {
            // Fail early on a bad static key (RFC 7425 §4.6.2).
            dh::validate_public_key(group, key)?;
        }
        let (keypair, skic) = match self.config.dh_mode {
            DhMode::Ephemeral => {
                // RFC 7425 §4.6.1.1-2: one 0x0d option, no group select.
                let kp = DhKeyPair::generate(group, rng);
                let mut k = self.our_keying(rng, false, self.initiator_flags());
                k.ephemeral_key = Some((g, kp.public_key().to_vec()));
                (kp, k)
            }
            DhMode::Static => {
                // RFC 7425 §4.6.1.3-4: group select plus extra randomness.
                let kp = self
                    .static_key(g)
                    .ok_or(CryptoError::UnsupportedGroup(g))?
                    .clone();
                let mut k = self.our_keying(rng, true, self.initiator_flags());
                k.group_select = Some(g);
                (kp, k)
            }
        };
        Ok(InitiatorKeying::new(
            skic.encode_initiator(),
            InitState {
                keypair,
                far_fingerprint: far.fingerprint(),
            },
        ))
    }

    fn sign(&self, signed: &[u8]) -> Vec<u8> {
        // RFC 7425 §4.3.5: with nothing to sign, "X" or empty. Flash sent
        // "X", and Flash-era stacks check for it after the keying component.
        match &self.config.sign_password {
            Some(pw) => Self::simple_password_option(pw, signed),
            None => b"X".to_vec(),
        }
    }

    fn verify(&self, _far_cert: &[u8], signed: &[u8], signature: &[u8]) -> bool {
        // RFC 7425 §4.3.5: a verifier that does not require a signature
        // SHALL accept any signature field, even empty or malformed.
        if !self.config.require_signature {
            return true;
        }
        // "X" or malformed reads as empty, which fails the requirement.
        let mut valid = false;
        for el in Options::new(signature) {
            let Ok(Element::Option { typ, value }) = el else {
                return false;
            };
            if typ != SIG_OPT_SIMPLE_PASSWORD || value.len() < 32 {
                continue;
            }
            let (tag, id) = value.split_at(32);
            // RFC 7425 §4.3.5.1.1: ignore unrecognized IDs; any recognized
            // ID with a bad HMAC invalidates the whole signature.
            for pw in self.config.verify_passwords.iter().filter(|p| p.id == id) {
                let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(&pw.password) else {
                    return false;
                };
                mac.update(signed);
                if mac.verify_slice(tag).is_err() {
                    return false;
                }
                valid = true;
            }
        }
        valid
    }

    fn responder_keying(
        &self,
        far_cert: &[u8],
        skic: &[u8],
        rng: &mut dyn rand::RngCore,
    ) -> Result<ResponderKeyingResult, CryptoError> {
        let far = Certificate::parse(far_cert)?;
        let skic_p = KeyingComponent::parse(skic)?;
        let (g, far_public) = select_initiator_key(&far, &skic_p)?;
        if !self.config.groups.contains(&g) {
            return Err(CryptoError::UnsupportedGroup(g));
        }
        let group = dh::group(g).ok_or(CryptoError::UnsupportedGroup(g))?;
        // Cheap checks before the expensive DH work.
        let flags = self.responder_flags(&skic_p);
        let outcome = self.negotiate(flags, &skic_p)?;
        dh::validate_public_key(group, &far_public)?;
        let (keypair, skrc) = match self.config.dh_mode {
            DhMode::Ephemeral => {
                // RFC 7425 §4.6.1.1, §4.6.1.3: 0x0d in the same group.
                let kp = DhKeyPair::generate(group, rng);
                let mut k = self.our_keying(rng, false, flags);
                k.ephemeral_key = Some((g, kp.public_key().to_vec()));
                (kp, k)
            }
            DhMode::Static => {
                // RFC 7425 §4.6.1.2, §4.6.1.4: our static key; salt only.
                let kp = self
                    .static_key(g)
                    .ok_or(CryptoError::UnsupportedGroup(g))?
                    .clone();
                (kp, self.our_keying(rng, true, flags))
            }
        };
        let secret = keypair.shared_secret(&far_public)?;
        let skrc = skrc.encode_responder();
        let keys = self.session_keys(&secret, &skrc, skic, &skic_p, outcome, far.fingerprint());
        Ok(ResponderKeyingResult { skrc, keys })
    }

    fn initiator_finish(
        &self,
        state: &InitiatorKeying,
        far_cert: &[u8],
        skrc: &[u8],
    ) -> Result<SessionKeys, CryptoError> {
        let st = state.state_ref::<InitState>()?;
        let skic = &state.skic;
        let far = Certificate::parse(far_cert)?;
        if far.fingerprint() != st.far_fingerprint {
            return Err(CryptoError::KeyingMismatch(
                "responder certificate changed since initiator keying",
            ));
        }
        let skrc_p = KeyingComponent::parse(skrc)?;
        let far_public = select_responder_key(&far, st.keypair.group().id(), &skrc_p)?;
        let outcome = self.negotiate(self.initiator_flags(), &skrc_p)?;
        let secret = st.keypair.shared_secret(&far_public)?;
        Ok(self.session_keys(&secret, skic, skrc, &skrc_p, outcome, far.fingerprint()))
    }

    fn near_wins_glare(&self, far_cert: &[u8]) -> bool {
        // RFC 7425 §4.3.6: unsigned lexicographic, a prefix sorts first;
        // the near end prevails if ordered before or identical.
        self.cert_bytes.as_slice() <= far_cert
    }

    fn is_override(&self, old_cert: &[u8], new_cert: &[u8]) -> bool {
        // RFC 7425 §4.3.7: only identical certificates.
        old_cert == new_cert
    }
}
