//! Handshake datagrams captured from the Flash-era family, librtmfp (the
//! client library behind FFmpeg's RTMFP support) and MonaServer2, decode
//! with our codec and crypto, and our profiles answer them in the shapes
//! those programs check. See tests/fixtures/flash-era/README.md for how
//! they were captured.

mod startup_fixtures;

use rand::{rngs::StdRng, SeedableRng};
use rtmfp_core::crypto::flash::cert::{fingerprint, Certificate};
use rtmfp_core::crypto::flash::epd::Epd;
use rtmfp_core::crypto::flash::keying::KeyingComponent;
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile};
use rtmfp_core::wire::{chunk::Chunk, Mode, Packet};

/// The peer ID librtmfp's TestClient printed ("Peer ID :") in the capture:
/// the certificate of its IIKeying to our server, and of its RHello to our
/// player, since it is the same process.
const TESTCLIENT_PEER_ID: &str = "f798333d49a3484c29aa659ffe773cd7d00ed8565709a65d5c0dd9011e139b3b";

fn open(name: &str) -> (u32, Vec<u8>) {
    startup_fixtures::open("flash-era", name)
}

/// Runs `f` on the single chunk of a startup packet.
fn with_chunk<R>(name: &str, f: impl FnOnce(u32, Chunk<'_>) -> R) -> R {
    let (session_id, plain) = open(name);
    let packet = Packet::parse(&plain).unwrap();
    assert_eq!(packet.header.mode, Mode::Startup, "{name}");
    let chunks: Vec<_> = packet.chunks().collect();
    assert_eq!(chunks.len(), 1, "{name}");
    f(session_id, chunks[0].decode().unwrap())
}

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Flash Player's peer certificate: one option, a group-2 static key.
fn assert_flash_peer_certificate(cert: &[u8]) {
    assert_eq!(cert.len(), 132);
    assert_eq!(&cert[..4], &[0x81, 0x02, 0x1d, 0x02]);
    let c = Certificate::parse(cert).unwrap();
    assert_eq!(c.groups(), vec![2]);
    assert_eq!(hex::encode(c.fingerprint()), TESTCLIENT_PEER_ID);
}

#[test]
fn librtmfp_ihello_names_only_the_app() {
    with_chunk("librtmfp-1-ihello.bin", |sid, chunk| {
        assert_eq!(sid, 0);
        let Chunk::IHello(ihello) = chunk else {
            panic!("not an IHello: {chunk:?}")
        };
        // Not the whole rtmfp:// URI (rtmfp-cpp's choice) but just the
        // app: a server must take any Ancillary Data (RFC 7425 §4.4.2).
        let epd = Epd::parse(ihello.epd).unwrap();
        assert_eq!(epd.ancillary_data.as_deref(), Some(&b"live"[..]));
        assert_eq!(ihello.tag.len(), 16);
    });
}

#[test]
fn librtmfp_iikeying_has_flash_shapes_and_our_server_answers_in_kind() {
    with_chunk("librtmfp-2-iikeying.bin", |sid, chunk| {
        assert_eq!(sid, 0);
        let Chunk::IIKeying(iik) = chunk else {
            panic!("not an IIKeying: {chunk:?}")
        };
        // It echoed our 64-byte cookie.
        assert_eq!(iik.cookie_echo.len(), 64);
        assert_flash_peer_certificate(iik.certificate);
        // 76 bytes: group select 2, 64 bytes of randomness, HMAC "send on
        // request" with 10 bytes, SSEQ "send on request"; signature "X".
        assert_eq!(iik.skic.len(), 76);
        let k = KeyingComponent::parse(iik.skic).unwrap();
        assert_eq!(k.group_select, Some(2));
        assert_eq!(k.extra_randomness.as_ref().map(Vec::len), Some(64));
        let h = k.hmac.unwrap();
        assert!(h.flags.send_on_request && !h.flags.request && !h.flags.send_always);
        assert_eq!(h.hmac_length, 10);
        let s = k.sseq.unwrap();
        assert!(s.send_on_request && !s.request && !s.send_always);
        assert_eq!(iik.signature, b"X");

        // Our server keys with it and answers what librtmfp checks: the
        // negotiations declined, then the ephemeral group-2 key at 11.
        let server = FlashProfile::new(FlashConfig::server(), &mut rng(1)).unwrap();
        let res = server
            .responder_keying(iik.certificate, iik.skic, &mut rng(2))
            .unwrap();
        assert_eq!(
            &res.skrc[..11],
            &[0x03, 0x1a, 0x00, 0x00, 0x02, 0x1e, 0x00, 0x81, 0x02, 0x0d, 0x02]
        );
        assert_eq!(res.skrc.len(), 139);
        assert_eq!(
            res.keys.far_peer_id.map(hex::encode).as_deref(),
            Some(TESTCLIENT_PEER_ID)
        );
    });
}

#[test]
fn librtmfp_p2p_rhello_carries_the_same_flash_certificate() {
    with_chunk("librtmfp-3-p2p-rhello.bin", |sid, chunk| {
        assert_eq!(sid, 0);
        let Chunk::RHello(rh) = chunk else {
            panic!("not an RHello: {chunk:?}")
        };
        assert_eq!(rh.tag_echo.len(), 16);
        assert_eq!(rh.cookie.len(), 64);
        assert_flash_peer_certificate(rh.certificate);
        assert_eq!(
            hex::encode(fingerprint(rh.certificate).unwrap()),
            TESTCLIENT_PEER_ID
        );
        // Our peer can key with it (static group 2 at both ends).
        let us = FlashProfile::new(FlashConfig::client(), &mut rng(3)).unwrap();
        let st = us.initiator_keying(rh.certificate, &mut rng(4)).unwrap();
        assert_eq!(st.skic.len(), 76);
    });
}

#[test]
fn librtmfp_p2p_rikeying_declines_hmac_and_sseq() {
    with_chunk("librtmfp-4-p2p-rikeying.bin", |sid, chunk| {
        assert_ne!(sid, 0, "sent to our initiator session ID");
        let Chunk::RIKeying(rik) = chunk else {
            panic!("not an RIKeying: {chunk:?}")
        };
        assert_eq!(rik.skrc.len(), 73);
        assert_eq!(
            &rik.skrc[..9],
            &[0x03, 0x1a, 0x00, 0x00, 0x02, 0x1e, 0x00, 0x41, 0x0e]
        );
        let k = KeyingComponent::parse(rik.skrc).unwrap();
        assert!(!k.hmac.unwrap().flags.offers());
        assert!(!k.sseq.unwrap().offers());
        assert_eq!(k.extra_randomness.map(|r| r.len()), Some(64));
        assert_eq!(rik.signature, b"X");
    });
}

#[test]
fn mona_rhello_is_adobes_77_byte_server_certificate() {
    with_chunk("mona-1-rhello.bin", |sid, chunk| {
        assert_eq!(sid, 0);
        let Chunk::RHello(rh) = chunk else {
            panic!("not an RHello: {chunk:?}")
        };
        assert_eq!(rh.cookie.len(), 64);
        let cert = rh.certificate;
        assert_eq!(cert.len(), 77);
        assert_eq!(&cert[..4], &[0x01, 0x0a, 0x41, 0x0e]);
        assert_eq!(
            &cert[68..],
            &[0x02, 0x15, 0x02, 0x02, 0x15, 0x05, 0x02, 0x15, 0x0e]
        );
        let c = Certificate::parse(cert).unwrap();
        assert!(c.accepts_ancillary_data);
        assert_eq!(c.ephemeral_groups, vec![2, 5, 14]);
        // Our client picks group 2 with it.
        let us = FlashProfile::new(FlashConfig::client(), &mut rng(5)).unwrap();
        let st = us.initiator_keying(cert, &mut rng(6)).unwrap();
        let k = KeyingComponent::parse(&st.skic).unwrap();
        assert_eq!(k.group_select, Some(2));
    });
}

#[test]
fn mona_rikeying_has_the_negotiations_then_a_group_2_key() {
    with_chunk("mona-2-rikeying.bin", |sid, chunk| {
        assert_ne!(sid, 0, "sent to our initiator session ID");
        let Chunk::RIKeying(rik) = chunk else {
            panic!("not an RIKeying: {chunk:?}")
        };
        assert_eq!(&rik.skrc[..7], &[0x03, 0x1a, 0x00, 0x00, 0x02, 0x1e, 0x00]);
        let k = KeyingComponent::parse(rik.skrc).unwrap();
        let (group, key) = k.ephemeral_key.unwrap();
        assert_eq!(group, 2);
        assert!((126..=128).contains(&key.len()));
        assert!(!k.hmac.unwrap().flags.offers());
        assert_eq!(rik.signature, b"X");
    });
}
