//! Flash-profile certificates (RFC 7425 §4.3).
//!
//! A certificate is a sequence of Options and Markers; the first Marker
//! ends the canonical section (§4.3.1), whose SHA-256 is the fingerprint or
//! peer ID (§4.3.2).

use sha2::{Digest, Sha256};

use crate::crypto::tlv::{get_vlu, put_marker, put_option, put_vlu, vlu_exact, Element, Options};
use crate::crypto::{CryptoError, PeerId};

/// 0x00 Hostname (RFC 7425 §4.3.3.1), canonical section only.
pub const OPT_HOSTNAME: u64 = 0x00;
/// 0x0a Accepts Ancillary Data (RFC 7425 §4.3.3.2), canonical section only.
pub const OPT_ACCEPTS_ANCILLARY_DATA: u64 = 0x0a;
/// 0x0e Extra Randomness (RFC 7425 §4.3.3.3), anywhere.
pub const OPT_EXTRA_RANDOMNESS: u64 = 0x0e;
/// 0x15 Supported Ephemeral DH Group (RFC 7425 §4.3.3.4), canonical only.
pub const OPT_EPHEMERAL_DH_GROUP: u64 = 0x15;
/// 0x1d Static DH Public Key (RFC 7425 §4.3.3.5), canonical only.
pub const OPT_STATIC_DH_KEY: u64 = 0x1d;

/// How a certificate's holder does Diffie-Hellman (RFC 7425 §4.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhMode {
    /// Ephemeral keys, in the groups of 0x15 options (possibly none).
    Ephemeral,
    /// Static keys published in 0x1d options.
    Static,
}

/// The length of a certificate's canonical section (RFC 7425 §4.3.1): the
/// bytes before the first Marker, or the whole certificate.
pub fn canonical_len(cert: &[u8]) -> Result<usize, CryptoError> {
    let mut it = Options::new(cert);
    loop {
        let at = it.position();
        match it.next() {
            None => return Ok(cert.len()),
            Some(Err(e)) => return Err(e),
            Some(Ok(Element::Marker)) => {
                // Still parse the rest: a malformed tail invalidates the
                // whole certificate (RFC 7425 §3).
                for e in it {
                    e?;
                }
                return Ok(at);
            }
            Some(Ok(Element::Option { .. })) => {}
        }
    }
}

/// The fingerprint (peer ID) of a certificate: SHA-256 of its canonical
/// section (RFC 7425 §4.3.2).
pub fn fingerprint(cert: &[u8]) -> Result<PeerId, CryptoError> {
    let n = canonical_len(cert)?;
    Ok(Sha256::digest(&cert[..n]).into())
}

/// A parsed certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Hostname option (canonical section only).
    pub hostname: Option<Vec<u8>>,
    /// Accepts Ancillary Data option present (canonical section only).
    pub accepts_ancillary_data: bool,
    /// Every Extra Randomness value, in order.
    pub extra_randomness: Vec<Vec<u8>>,
    /// Supported ephemeral groups, in order (canonical section only).
    pub ephemeral_groups: Vec<u64>,
    /// Static public keys (group, big-endian key), in order (canonical
    /// section only).
    pub static_keys: Vec<(u64, Vec<u8>)>,
    canonical_len: usize,
    fingerprint: PeerId,
}

impl Certificate {
    /// Parses and checks a certificate. Unknown options are ignored;
    /// 0x00, 0x0a, 0x15 and 0x1d outside the canonical section are ignored
    /// (RFC 7425 §4.3.3). Fails on malformed options, a repeated Hostname,
    /// or both static and ephemeral DH options.
    pub fn parse(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut c = Certificate {
            hostname: None,
            accepts_ancillary_data: false,
            extra_randomness: Vec::new(),
            ephemeral_groups: Vec::new(),
            static_keys: Vec::new(),
            canonical_len: bytes.len(),
            fingerprint: [0; 32],
        };
        let mut canonical = true;
        let mut it = Options::new(bytes);
        loop {
            let at = it.position();
            let (typ, value) = match it.next() {
                None => break,
                Some(Err(e)) => return Err(e),
                Some(Ok(Element::Marker)) => {
                    if canonical {
                        c.canonical_len = at;
                        canonical = false;
                    }
                    continue;
                }
                Some(Ok(Element::Option { typ, value })) => (typ, value),
            };
            match (typ, canonical) {
                (OPT_EXTRA_RANDOMNESS, _) => c.extra_randomness.push(value.to_vec()),
                (_, false) => {}
                (OPT_HOSTNAME, true) => {
                    if c.hostname.is_some() {
                        return Err(CryptoError::BadCertificate("Hostname more than once"));
                    }
                    c.hostname = Some(value.to_vec());
                }
                (OPT_ACCEPTS_ANCILLARY_DATA, true) => c.accepts_ancillary_data = true,
                (OPT_EPHEMERAL_DH_GROUP, true) => c.ephemeral_groups.push(vlu_exact(value)?),
                (OPT_STATIC_DH_KEY, true) => {
                    let (group, n) = get_vlu(value)?;
                    c.static_keys.push((group, value[n..].to_vec()));
                }
                _ => {}
            }
        }
        // RFC 7425 §4.3.3.4-5: not both kinds.
        if !c.ephemeral_groups.is_empty() && !c.static_keys.is_empty() {
            return Err(CryptoError::BadCertificate(
                "both static and ephemeral Diffie-Hellman options",
            ));
        }
        c.fingerprint = Sha256::digest(&bytes[..c.canonical_len]).into();
        Ok(c)
    }

    /// The fingerprint / peer ID (RFC 7425 §4.3.2).
    pub fn fingerprint(&self) -> PeerId {
        self.fingerprint
    }

    /// Length of the canonical section (RFC 7425 §4.3.1).
    pub fn canonical_len(&self) -> usize {
        self.canonical_len
    }

    /// Static or ephemeral Diffie-Hellman. A certificate with neither kind
    /// of option counts as ephemeral with no listed groups.
    pub fn dh_mode(&self) -> DhMode {
        if self.static_keys.is_empty() {
            DhMode::Ephemeral
        } else {
            DhMode::Static
        }
    }

    /// The static public key for `group` (the first, if repeated).
    pub fn static_key(&self, group: u64) -> Option<&[u8]> {
        self.static_keys
            .iter()
            .find(|(g, _)| *g == group)
            .map(|(_, k)| k.as_slice())
    }

    /// Whether the certificate advertises `group`, ephemeral or static.
    pub fn supports_group(&self, group: u64) -> bool {
        self.ephemeral_groups.contains(&group) || self.static_key(group).is_some()
    }

    /// Every group advertised, in certificate order.
    pub fn groups(&self) -> Vec<u64> {
        match self.dh_mode() {
            DhMode::Ephemeral => self.ephemeral_groups.clone(),
            DhMode::Static => self.static_keys.iter().map(|(g, _)| *g).collect(),
        }
    }
}

/// Builds certificate bytes. Canonical options are written in the order
/// hostname, accepts-ancillary, extra randomness, ephemeral groups, static
/// keys; then, if `non_canonical` is not empty, a Marker and those options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateBuilder {
    /// 0x00 Hostname.
    pub hostname: Option<Vec<u8>>,
    /// 0x0a Accepts Ancillary Data.
    pub accepts_ancillary_data: bool,
    /// 0x0e Extra Randomness values (canonical section).
    pub extra_randomness: Vec<Vec<u8>>,
    /// 0x15 Supported Ephemeral DH Group, one option each.
    pub ephemeral_groups: Vec<u64>,
    /// 0x1d Static DH Public Key (group, key), one option each.
    pub static_keys: Vec<(u64, Vec<u8>)>,
    /// Raw (type, value) options after the first Marker.
    pub non_canonical: Vec<(u64, Vec<u8>)>,
}

impl CertificateBuilder {
    /// Encodes the certificate.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(h) = &self.hostname {
            put_option(&mut out, OPT_HOSTNAME, h);
        }
        if self.accepts_ancillary_data {
            put_option(&mut out, OPT_ACCEPTS_ANCILLARY_DATA, &[]);
        }
        for r in &self.extra_randomness {
            put_option(&mut out, OPT_EXTRA_RANDOMNESS, r);
        }
        for &g in &self.ephemeral_groups {
            let mut v = Vec::new();
            put_vlu(&mut v, g);
            put_option(&mut out, OPT_EPHEMERAL_DH_GROUP, &v);
        }
        for (g, k) in &self.static_keys {
            let mut v = Vec::new();
            put_vlu(&mut v, *g);
            v.extend_from_slice(k);
            put_option(&mut out, OPT_STATIC_DH_KEY, &v);
        }
        if !self.non_canonical.is_empty() {
            put_marker(&mut out);
            for (t, v) in &self.non_canonical {
                put_option(&mut out, *t, v);
            }
        }
        out
    }
}
