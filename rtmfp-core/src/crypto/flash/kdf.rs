//! Session key computation (RFC 7425 §4.6): public key selection (§4.6.1),
//! packet keys (§4.6.3), HMAC keys (§4.6.4) and nonces (§4.6.5).
//!
//! `HMAC-SHA256(K, M)` is the HMAC of message `M` under key `K`
//! (RFC 7425 §2), so in `HMAC-SHA256(DH_SECRET, HMAC-SHA256(SKFC, SKNC))`
//! the DH secret keys the outer HMAC and the far component keys the inner
//! one over the near component.

use hmac::{digest::KeyInit, Mac};

use super::cert::{Certificate, DhMode};
use super::keying::KeyingComponent;
use super::packet::HmacSha256;
use crate::crypto::CryptoError;

/// HMAC-SHA256(key, msg).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Every key and nonce of one end of a session (RFC 7425 §4.6.3-5).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecrets {
    /// ENCRYPT_KEY = HMAC-SHA256(DH_SECRET, HMAC-SHA256(SKFC, SKNC)).
    pub encrypt_key: [u8; 32],
    /// DECRYPT_KEY = HMAC-SHA256(DH_SECRET, HMAC-SHA256(SKNC, SKFC)).
    pub decrypt_key: [u8; 32],
    /// HMAC_SEND_KEY = HMAC-SHA256(DH_SECRET, ENCRYPT_KEY).
    pub hmac_send_key: [u8; 32],
    /// HMAC_RECV_KEY = HMAC-SHA256(DH_SECRET, DECRYPT_KEY).
    pub hmac_recv_key: [u8; 32],
    /// NEAR_NONCE = HMAC-SHA256(DH_SECRET, SKNC).
    pub near_nonce: [u8; 32],
    /// FAR_NONCE = HMAC-SHA256(DH_SECRET, SKFC).
    pub far_nonce: [u8; 32],
}

impl std::fmt::Debug for SessionSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSecrets { .. }")
    }
}

impl SessionSecrets {
    /// The AES-128 encrypt key: first 16 bytes of ENCRYPT_KEY (§4.6.3).
    pub fn aes_encrypt_key(&self) -> [u8; 16] {
        first16(&self.encrypt_key)
    }

    /// The AES-128 decrypt key: first 16 bytes of DECRYPT_KEY (§4.6.3).
    pub fn aes_decrypt_key(&self) -> [u8; 16] {
        first16(&self.decrypt_key)
    }
}

fn first16(k: &[u8; 32]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&k[..16]);
    out
}

/// Derives one end's keys from DH_SECRET and the near and far keying
/// components (SKNC = the component this end sent, SKFC = the one it
/// received).
pub fn derive(dh_secret: &[u8], sknc: &[u8], skfc: &[u8]) -> SessionSecrets {
    // RFC 7425 §4.6.3
    let encrypt_key = hmac_sha256(dh_secret, &hmac_sha256(skfc, sknc));
    let decrypt_key = hmac_sha256(dh_secret, &hmac_sha256(sknc, skfc));
    // RFC 7425 §4.6.4
    let hmac_send_key = hmac_sha256(dh_secret, &encrypt_key);
    let hmac_recv_key = hmac_sha256(dh_secret, &decrypt_key);
    // RFC 7425 §4.6.5
    let near_nonce = hmac_sha256(dh_secret, sknc);
    let far_nonce = hmac_sha256(dh_secret, skfc);
    SessionSecrets {
        encrypt_key,
        decrypt_key,
        hmac_send_key,
        hmac_recv_key,
        near_nonce,
        far_nonce,
    }
}

/// Responder side of RFC 7425 §4.6.1: from the initiator's certificate and
/// SKIC, the selected group and the initiator's public key.
///
/// - Initiator ephemeral (§4.6.1.1, §4.6.1.2): the SKIC's 0x0d option gives
///   both. The SKIC must not also select a group.
/// - Initiator static (§4.6.1.3, §4.6.1.4): the SKIC's 0x1d Group Select
///   names a group whose key is in the certificate.
///
/// The certificate's kind decides which is acceptable: an initiator whose
/// certificate has a static key must key with it, otherwise anyone could
/// claim that certificate's peer ID (RFC 7425 §4.3.4).
pub fn select_initiator_key(
    initiator_cert: &Certificate,
    skic: &KeyingComponent,
) -> Result<(u64, Vec<u8>), CryptoError> {
    match initiator_cert.dh_mode() {
        DhMode::Ephemeral => match (&skic.ephemeral_key, skic.group_select) {
            (Some((g, key)), None) => Ok((*g, key.clone())),
            (Some(_), Some(_)) => Err(CryptoError::KeyingMismatch(
                "SKIC has both an ephemeral key and a group select",
            )),
            (None, _) => Err(CryptoError::KeyingMismatch(
                "ephemeral initiator sent no ephemeral key",
            )),
        },
        DhMode::Static => {
            if skic.ephemeral_key.is_some() {
                return Err(CryptoError::KeyingMismatch(
                    "static initiator sent an ephemeral key",
                ));
            }
            let g = skic.group_select.ok_or(CryptoError::KeyingMismatch(
                "static initiator sent no group select",
            ))?;
            let key = initiator_cert
                .static_key(g)
                .ok_or(CryptoError::KeyingMismatch(
                    "selected group has no static key in the initiator certificate",
                ))?;
            Ok((g, key.to_vec()))
        }
    }
}

/// Initiator side of RFC 7425 §4.6.1: the responder's public key in the
/// selected `group`, from its certificate (static, §4.6.1.2 and §4.6.1.4)
/// or its SKRC's 0x0d option (ephemeral, §4.6.1.1 and §4.6.1.3).
pub fn select_responder_key(
    responder_cert: &Certificate,
    group: u64,
    skrc: &KeyingComponent,
) -> Result<Vec<u8>, CryptoError> {
    match responder_cert.dh_mode() {
        DhMode::Static => {
            if skrc.ephemeral_key.is_some() {
                return Err(CryptoError::KeyingMismatch(
                    "static responder sent an ephemeral key",
                ));
            }
            responder_cert
                .static_key(group)
                .map(<[u8]>::to_vec)
                .ok_or(CryptoError::UnsupportedGroup(group))
        }
        DhMode::Ephemeral => match &skrc.ephemeral_key {
            Some((g, key)) if *g == group => Ok(key.clone()),
            Some(_) => Err(CryptoError::KeyingMismatch(
                "responder key is not in the selected group",
            )),
            None => Err(CryptoError::KeyingMismatch(
                "ephemeral responder sent no ephemeral key",
            )),
        },
    }
}
