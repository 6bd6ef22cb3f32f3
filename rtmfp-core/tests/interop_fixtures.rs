//! Real handshake datagrams captured from an independent RTMFP
//! implementation (zenomt/rtmfp-cpp) decode with our codec and crypto.
//! See tests/fixtures/handshake/README.md for how they were captured.
//! The fingerprints below are what those programs printed themselves.

mod startup_fixtures;

use rand::{rngs::StdRng, SeedableRng};
use rtmfp_core::crypto::flash::cert::{fingerprint, Certificate};
use rtmfp_core::crypto::flash::epd::{epd_for_fingerprint, Epd};
use rtmfp_core::crypto::flash::keying::KeyingComponent;
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile};
use rtmfp_core::wire::{chunk::Chunk, Mode, Packet};

/// tcserver's printed fingerprint (its RHello certificate).
const TCSERVER_FP: &str = "1b5a537355a90e93168a0244fa5149deb0ef42a4c450b43029673fe97cd753d1";
/// tcconn's printed fingerprint (its IIKeying certificate).
const TCCONN_FP: &str = "acf22b5d615fe41d62d84a23c475ba6fab679d73239af6f37b4fdf80848a3a81";
/// echoserver's printed fingerprint.
const ECHOSERVER_FP: &str = "0af6ab0a6ea3591b23514fd62170c6caeb62ed8bcda289802bb418c0afb1a4a9";
/// fcclient's printed fingerprint.
const FCCLIENT_FP: &str = "0c968bae127781d8fec07afa1841b31846ea24e500b8328186dd3cd5958dbb12";

fn open(name: &str) -> (u32, Vec<u8>) {
    startup_fixtures::open("handshake", name)
}

/// The single chunk of a startup packet, with its raw payload.
fn only_chunk(plain: &[u8]) -> (Chunk<'_>, &[u8]) {
    let packet = Packet::parse(plain).unwrap();
    assert_eq!(packet.header.mode, Mode::Startup);
    let chunks: Vec<_> = packet.chunks().collect();
    assert_eq!(chunks.len(), 1);
    (chunks[0].decode().unwrap(), chunks[0].payload)
}

fn hex32(id: [u8; 32]) -> String {
    hex::encode(id)
}

#[test]
fn ihello_from_tcconn_carries_its_uri_epd_and_a_tag() {
    let (session_id, plain) = open("tcserver-1-ihello.bin");
    assert_eq!(session_id, 0);
    let (Chunk::IHello(ihello), _) = only_chunk(&plain) else {
        panic!("not an IHello")
    };
    let epd = Epd::parse(ihello.epd).unwrap();
    assert_eq!(
        epd.ancillary_data.as_deref(),
        Some(&b"rtmfp://127.0.0.1:19350/live"[..])
    );
    assert_eq!(epd.fingerprint, None);
    assert_eq!(ihello.tag.len(), 16);
}

#[test]
fn rhello_certificates_hash_to_the_printed_server_fingerprints() {
    for (name, printed) in [
        ("tcserver-2-rhello.bin", TCSERVER_FP),
        ("echoserver-2-rhello.bin", ECHOSERVER_FP),
    ] {
        let (session_id, plain) = open(name);
        assert_eq!(session_id, 0);
        let (Chunk::RHello(rhello), _) = only_chunk(&plain) else {
            panic!("{name}: not an RHello")
        };
        assert_eq!(rhello.cookie.len(), 65, "{name}");
        assert_eq!(rhello.tag_echo.len(), 16, "{name}");
        assert_eq!(
            hex32(fingerprint(rhello.certificate).unwrap()),
            printed,
            "{name}"
        );
        // Our initiator would accept this certificate for that peer ID and
        // could key with it.
        let cert = Certificate::parse(rhello.certificate).unwrap();
        assert!(cert.supports_group(16) && cert.supports_group(14) && cert.supports_group(2));
        let us = FlashProfile::new(FlashConfig::client(), &mut StdRng::seed_from_u64(1)).unwrap();
        let fp = fingerprint(rhello.certificate).unwrap();
        assert!(us.cert_selected_by_epd(rhello.certificate, &epd_for_fingerprint(&fp)));
        let keying = us
            .initiator_keying(rhello.certificate, &mut StdRng::seed_from_u64(2))
            .unwrap();
        assert!(!keying.skic.is_empty());
    }
}

#[test]
fn iikeying_certificates_hash_to_the_printed_client_fingerprints() {
    for (name, printed) in [
        ("tcserver-3-iikeying.bin", TCCONN_FP),
        ("echoserver-3-iikeying.bin", FCCLIENT_FP),
    ] {
        let (session_id, plain) = open(name);
        assert_eq!(session_id, 0);
        let (Chunk::IIKeying(iik), payload) = only_chunk(&plain) else {
            panic!("{name}: not an IIKeying")
        };
        assert_ne!(iik.initiator_session_id, 0);
        assert_eq!(iik.cookie_echo.len(), 65);
        assert_eq!(
            hex32(fingerprint(iik.certificate).unwrap()),
            printed,
            "{name}"
        );
        // Its default settings require HMAC and session sequence numbers.
        let skic = KeyingComponent::parse(iik.skic).unwrap();
        let hmac = skic.hmac.expect("HMAC negotiation option");
        assert_eq!(hmac.flags.to_byte(), 0x07, "{name}: SND|SOR|REQ");
        assert_eq!(hmac.hmac_length, 16);
        assert_eq!(skic.sseq.expect("SSEQ option").to_byte(), 0x07);
        // The signature is "X" (none) and the signed parameters re-encode
        // to exactly the received bytes.
        assert_eq!(iik.signature, b"X");
        let mut signed = Vec::new();
        iik.write_signed_parameters(&mut signed);
        assert_eq!(iik.signed_parameters(payload), &signed[..]);
    }
}

#[test]
fn rikeying_goes_to_the_initiator_session_id_with_a_group_16_key() {
    let (_, iik_plain) = open("tcserver-3-iikeying.bin");
    let (Chunk::IIKeying(iik), _) = only_chunk(&iik_plain) else {
        panic!()
    };
    let (session_id, plain) = open("tcserver-4-rikeying.bin");
    assert_eq!(session_id, iik.initiator_session_id);
    let (Chunk::RIKeying(rik), _) = only_chunk(&plain) else {
        panic!("not an RIKeying")
    };
    assert_ne!(rik.responder_session_id, 0);
    let skrc = KeyingComponent::parse(rik.skrc).unwrap();
    let (group, key) = skrc.ephemeral_key.expect("ephemeral DH key");
    assert_eq!(group, 16);
    assert_eq!(key.len(), 512);
}

#[test]
fn static_redirector_redirects_to_the_echo_server() {
    let (_, plain) = open("static-redirector-2-redirect.bin");
    let (Chunk::Redirect(redirect), _) = only_chunk(&plain) else {
        panic!("not a Redirect")
    };
    let (_, ihello_plain) = open("static-redirector-1-ihello.bin");
    let (Chunk::IHello(ihello), _) = only_chunk(&ihello_plain) else {
        panic!()
    };
    assert_eq!(redirect.tag_echo, ihello.tag);
    let addresses: Vec<_> = redirect.addresses.iter().map(|a| a.addr).collect();
    assert_eq!(addresses, ["127.0.0.1:19351".parse().unwrap()]);
}
