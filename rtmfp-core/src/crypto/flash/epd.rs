//! Flash-profile Endpoint Discriminators (RFC 7425 §4.4).

use super::cert::Certificate;
use crate::crypto::tlv::{put_option, Element, Options};
use crate::crypto::{CryptoError, PeerId};

/// 0x00 Required Hostname (RFC 7425 §4.4.2.1).
pub const OPT_REQUIRED_HOSTNAME: u64 = 0x00;
/// 0x0a Ancillary Data, the server URI in UTF-8 (RFC 7425 §4.4.2.2).
pub const OPT_ANCILLARY_DATA: u64 = 0x0a;
/// 0x0f Fingerprint, 32 bytes (RFC 7425 §4.4.2.3).
pub const OPT_FINGERPRINT: u64 = 0x0f;

/// Length of a Canonical EPD (RFC 7425 §4.4.4).
pub const CANONICAL_EPD_LEN: usize = 34;

/// A parsed EPD.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Epd {
    /// Required Hostname.
    pub hostname: Option<Vec<u8>>,
    /// Ancillary Data (server URI).
    pub ancillary_data: Option<Vec<u8>>,
    /// Fingerprint of the wanted certificate.
    pub fingerprint: Option<PeerId>,
}

impl Epd {
    /// Parses an EPD. Unknown options are ignored; a repeated known option
    /// or a fingerprint that is not 32 bytes is malformed (RFC 7425 §4.4.2).
    pub fn parse(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut e = Epd::default();
        for el in Options::new(bytes) {
            let (typ, value) = match el? {
                Element::Marker => continue,
                Element::Option { typ, value } => (typ, value),
            };
            match typ {
                OPT_REQUIRED_HOSTNAME if e.hostname.is_some() => {
                    return Err(CryptoError::Malformed("EPD hostname more than once"));
                }
                OPT_REQUIRED_HOSTNAME => e.hostname = Some(value.to_vec()),
                OPT_ANCILLARY_DATA if e.ancillary_data.is_some() => {
                    return Err(CryptoError::Malformed("EPD ancillary data more than once"));
                }
                OPT_ANCILLARY_DATA => e.ancillary_data = Some(value.to_vec()),
                OPT_FINGERPRINT => {
                    let fp: PeerId = value
                        .try_into()
                        .map_err(|_| CryptoError::Malformed("EPD fingerprint not 32 bytes"))?;
                    if e.fingerprint.replace(fp).is_some() {
                        return Err(CryptoError::Malformed("EPD fingerprint more than once"));
                    }
                }
                _ => {}
            }
        }
        Ok(e)
    }

    /// Encodes the EPD: fingerprint, hostname, ancillary data, in that order.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(fp) = &self.fingerprint {
            put_option(&mut out, OPT_FINGERPRINT, fp);
        }
        if let Some(h) = &self.hostname {
            put_option(&mut out, OPT_REQUIRED_HOSTNAME, h);
        }
        if let Some(a) = &self.ancillary_data {
            put_option(&mut out, OPT_ANCILLARY_DATA, a);
        }
        out
    }

    /// Whether this EPD selects `cert` (RFC 7425 §4.4.3, Figure 1).
    pub fn selects(&self, cert: &Certificate) -> bool {
        if let Some(fp) = &self.fingerprint {
            return cert.fingerprint() == *fp;
        }
        if let Some(h) = &self.hostname {
            match &cert.hostname {
                Some(ch) if ch == h => {}
                _ => return false,
            }
        }
        if self.ancillary_data.is_some() {
            if !cert.accepts_ancillary_data {
                return false;
            }
        } else if self.hostname.is_none() {
            return false;
        }
        true
    }

    /// The Canonical EPD for this EPD's fingerprint, if it has one.
    pub fn canonical(&self) -> Option<[u8; CANONICAL_EPD_LEN]> {
        self.fingerprint.as_ref().map(canonical_epd)
    }
}

/// The Canonical EPD for a fingerprint: `0x21 0x0f` + 32 bytes
/// (RFC 7425 §4.4.4).
pub fn canonical_epd(fingerprint: &PeerId) -> [u8; CANONICAL_EPD_LEN] {
    let mut out = [0u8; CANONICAL_EPD_LEN];
    out[0] = 0x21;
    out[1] = 0x0f;
    out[2..].copy_from_slice(fingerprint);
    out
}

/// An EPD naming a peer by fingerprint (peer ID), for P2P connections.
/// It is the Canonical EPD.
pub fn epd_for_fingerprint(fingerprint: &PeerId) -> Vec<u8> {
    canonical_epd(fingerprint).to_vec()
}

/// An EPD for a server URI (RFC 7425 §4.4.2.2), optionally requiring a
/// hostname.
pub fn epd_for_uri(uri: &str, hostname: Option<&[u8]>) -> Vec<u8> {
    Epd {
        hostname: hostname.map(<[u8]>::to_vec),
        ancillary_data: Some(uri.as_bytes().to_vec()),
        fingerprint: None,
    }
    .encode()
}
