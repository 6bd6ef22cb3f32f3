//! The byte shapes Flash Player and Adobe's servers sent, which Flash-era
//! stacks (librtmfp, MonaServer2) check strictly: our defaults must produce
//! them, and move up (HMAC, SSEQ, bigger groups) only when the far end asks.
//!
//! The shapes come from the wire: the handshakes captured from librtmfp and
//! MonaServer2 in `tests/fixtures/flash-era/` (decoded in
//! `interop_fixtures_flash_era.rs`) and the published Flash Player captures.

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use rtmfp_core::crypto::flash::cert::Certificate;
use rtmfp_core::crypto::flash::keying::KeyingComponent;
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile};

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn client(seed: u64) -> FlashProfile {
    FlashProfile::new(FlashConfig::client(), &mut rng(seed)).unwrap()
}

fn server(seed: u64) -> FlashProfile {
    FlashProfile::new(FlashConfig::server(), &mut rng(seed)).unwrap()
}

/// A Flash Player / librtmfp Initiator keying component: group select 2,
/// 64 bytes of randomness, HMAC "send on request" with 10 bytes, SSEQ
/// "send on request" (76 bytes).
fn flash_skic(seed: u64) -> Vec<u8> {
    let mut r = [0u8; 64];
    rng(seed).fill_bytes(&mut r);
    [
        &[0x02, 0x1d, 0x02, 0x41, 0x0e][..],
        &r,
        &[0x03, 0x1a, 0x02, 0x0a, 0x02, 0x1e, 0x02],
    ]
    .concat()
}

#[test]
fn client_certificate_is_one_static_group_2_key() {
    let c = client(1);
    let cert = c.certificate();
    // 0x81 0x02 = 130: type 0x1d, group 2, a 128-byte key.
    assert_eq!(cert.len(), 132);
    assert_eq!(&cert[..4], &[0x81, 0x02, 0x1d, 0x02]);
    // The whole certificate is the canonical section, so the peer ID that
    // Flash-era stacks compute over these 132 bytes is ours.
    assert_eq!(Certificate::parse(cert).unwrap().canonical_len(), 132);
}

#[test]
fn server_certificate_has_flash_shape_and_offers_group_16() {
    let s = server(2);
    let cert = s.certificate();
    // Accepts Ancillary Data, 64 bytes of randomness, then the groups.
    assert_eq!(&cert[..4], &[0x01, 0x0a, 0x41, 0x0e]);
    assert_eq!(
        &cert[68..],
        &[0x02, 0x15, 0x02, 0x02, 0x15, 0x05, 0x02, 0x15, 0x0e, 0x02, 0x15, 0x10]
    );
}

#[test]
fn initiator_keying_is_flash_sized() {
    let c = client(3);
    let s = server(4);
    let st = c.initiator_keying(s.certificate(), &mut rng(5)).unwrap();
    // Group select 2, 64 bytes of randomness, then the negotiations.
    assert_eq!(st.skic.len(), 76);
    assert_eq!(&st.skic[..5], &[0x02, 0x1d, 0x02, 0x41, 0x0e]);
    assert_eq!(c.sign(b"anything"), b"X");
}

#[test]
fn peer_answers_a_flash_initiator_with_flash_shape() {
    let flash_peer = client(6);
    let us = client(7);
    let skic = flash_skic(8);
    let res = us
        .responder_keying(flash_peer.certificate(), &skic, &mut rng(9))
        .unwrap();
    // HMAC and SSEQ declined, as a Flash peer answers; 64 bytes of salt.
    assert_eq!(res.skrc.len(), 73);
    assert_eq!(
        &res.skrc[..9],
        &[0x03, 0x1a, 0x00, 0x00, 0x02, 0x1e, 0x00, 0x41, 0x0e]
    );
    // Neither side adds an HMAC or a sequence number: 10 bytes padded to 16.
    assert_eq!(res.keys.crypto.overhead(10), 6);
}

#[test]
fn server_answers_a_flash_initiator_with_flash_shape() {
    let flash_client = client(10);
    let s = server(11);
    let res = s
        .responder_keying(flash_client.certificate(), &flash_skic(12), &mut rng(13))
        .unwrap();
    // The negotiations first, then the ephemeral group-2 key at offset 11.
    assert_eq!(res.skrc.len(), 7 + 2 + 2 + 128);
    assert_eq!(
        &res.skrc[..11],
        &[0x03, 0x1a, 0x00, 0x00, 0x02, 0x1e, 0x00, 0x81, 0x02, 0x0d, 0x02]
    );
    let k = KeyingComponent::parse(&res.skrc).unwrap();
    assert_eq!(
        k.ephemeral_key.map(|(g, key)| (g, key.len())),
        Some((2, 128))
    );
}

#[test]
fn an_initiator_that_requests_gets_hmac_and_sseq() {
    // Our own initiator asks (REQ) at the same size; our responder moves up.
    let a = client(14);
    let b = server(15);
    let st = a.initiator_keying(b.certificate(), &mut rng(16)).unwrap();
    let res = b
        .responder_keying(a.certificate(), &st.skic, &mut rng(17))
        .unwrap();
    let k = KeyingComponent::parse(&res.skrc).unwrap();
    let h = k.hmac.unwrap();
    assert!(h.flags.send_on_request && h.flags.request);
    assert!(k.sseq.unwrap().request);
    let ik = a.initiator_finish(&st, b.certificate(), &res.skrc).unwrap();
    // 1 SSEQ byte + 10 data, padded to 16, plus a 16-byte HMAC.
    assert_eq!(ik.crypto.overhead(10), 22);
    assert_eq!(res.keys.crypto.overhead(10), 22);
}
