//! Full crypto-level handshakes between two profiles (RFC 7425 §4.6), the
//! negotiation failures, glare, override, EPD selection and signatures.

use rand::rngs::StdRng;
use rand::SeedableRng;
use rtmfp_core::crypto::flash::cert::DhMode;
use rtmfp_core::crypto::flash::epd::{epd_for_fingerprint, epd_for_uri, Epd};
use rtmfp_core::crypto::flash::keying::{negotiate, KeyingComponent, NegotiationFlags, Policy};
use rtmfp_core::crypto::flash::SimplePassword;
use rtmfp_core::crypto::{
    CryptoError, CryptoProfile, FlashConfig, FlashProfile, PlainProfile, SessionKeys,
};

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn profile(mode: DhMode, groups: &[u64], seed: u64) -> FlashProfile {
    let cfg = FlashConfig {
        dh_mode: mode,
        groups: groups.to_vec(),
        ..FlashConfig::default()
    };
    FlashProfile::new(cfg, &mut rng(seed)).unwrap()
}

/// Runs IIKeying → RIKeying at the crypto level; returns (initiator keys,
/// responder keys).
fn handshake(
    a: &dyn CryptoProfile,
    b: &dyn CryptoProfile,
    seed: u64,
) -> Result<(SessionKeys, SessionKeys), CryptoError> {
    let mut r = rng(seed);
    let b_cert = b.certificate().to_vec();
    let a_cert = a.certificate().to_vec();
    let state = a.initiator_keying(&b_cert, &mut r)?;
    let signed_i = [&a_cert[..], &state.skic[..]].concat();
    let sig_i = a.sign(&signed_i);
    assert!(b.verify(&a_cert, &signed_i, &sig_i));
    let res = b.responder_keying(&a_cert, &state.skic, &mut r)?;
    let sig_r = b.sign(&res.skrc);
    assert!(a.verify(&b_cert, &res.skrc, &sig_r));
    let ik = a.initiator_finish(&state, &b_cert, &res.skrc)?;
    Ok((ik, res.keys))
}

fn exchange(x: SessionKeys, y: SessionKeys) {
    exchange_keys(x, y, true);
}

fn exchange_keys(mut x: SessionKeys, mut y: SessionKeys, distinct_keys: bool) {
    assert_eq!(x.near_nonce, y.far_nonce);
    assert_eq!(x.far_nonce, y.near_nonce);
    assert_ne!(x.near_nonce, x.far_nonce);
    assert_eq!(x.near_nonce.len(), 32);
    for i in 0..3u8 {
        let msg = [i; 37];
        let (mut e, mut d) = (Vec::new(), Vec::new());
        x.crypto.encrypt(&msg, &mut e);
        y.crypto.decrypt(&e, &mut d).unwrap();
        assert_eq!(&d[..37], &msg);
        let (mut e, mut d) = (Vec::new(), Vec::new());
        y.crypto.encrypt(&msg, &mut e);
        x.crypto.decrypt(&e, &mut d).unwrap();
        assert_eq!(&d[..37], &msg);
        if distinct_keys {
            // Own packets do not decrypt as the far end's (distinct keys).
            let mut e2 = Vec::new();
            x.crypto.encrypt(&msg, &mut e2);
            assert!(x.crypto.decrypt(&e2, &mut Vec::new()).is_err());
        }
    }
}

#[test]
fn handshake_all_modes_and_groups() {
    let modes = [DhMode::Ephemeral, DhMode::Static];
    let mut seed = 1;
    for group in [2u64, 5, 14, 16] {
        for im in modes {
            for rm in modes {
                seed += 10;
                let a = profile(im, &[group], seed);
                let b = profile(rm, &[group], seed + 1);
                let (ik, rk) = handshake(&a, &b, seed + 2)
                    .unwrap_or_else(|e| panic!("group {group} {im:?}/{rm:?}: {e}"));
                assert_eq!(ik.far_peer_id, Some(b.near_id()));
                assert_eq!(rk.far_peer_id, Some(a.near_id()));
                assert_eq!(a.peer_id(a.certificate()), Some(a.near_id()));
                exchange(ik, rk);
            }
        }
    }
}

#[test]
fn initiator_picks_its_preferred_common_group() {
    let a = profile(DhMode::Ephemeral, &[5, 2, 14], 1);
    let b = profile(DhMode::Ephemeral, &[14, 2], 2);
    let st = a.initiator_keying(b.certificate(), &mut rng(3)).unwrap();
    let k = KeyingComponent::parse(&st.skic).unwrap();
    assert_eq!(k.ephemeral_key.as_ref().map(|x| x.0), Some(2));
    assert_eq!(k.group_select, None);
    // A static initiator selects the group instead, with extra randomness.
    let c = profile(DhMode::Static, &[14, 2], 4);
    let st = c.initiator_keying(b.certificate(), &mut rng(5)).unwrap();
    let k = KeyingComponent::parse(&st.skic).unwrap();
    assert_eq!(k.group_select, Some(14));
    assert!(k.ephemeral_key.is_none());
    assert_eq!(k.extra_randomness.map(|r| r.len()), Some(64));
}

#[test]
fn default_config_handshake_negotiates_hmac_and_sseq() {
    let a = FlashProfile::new(FlashConfig::client(), &mut rng(1)).unwrap();
    let b = FlashProfile::new(FlashConfig::server(), &mut rng(2)).unwrap();
    let (ik, rk) = handshake(&a, &b, 3).unwrap();
    // HMAC 16 both ways + SSEQ: 1 SSEQ byte + 10 data + 5 pad + 16 HMAC.
    assert_eq!(ik.crypto.overhead(10), 22);
    exchange(ik, rk);
}

#[test]
fn no_common_group() {
    let a = profile(DhMode::Ephemeral, &[2], 1);
    let b = profile(DhMode::Static, &[14], 2);
    assert_eq!(
        a.initiator_keying(b.certificate(), &mut rng(3))
            .unwrap_err(),
        CryptoError::NoCommonGroup
    );
    // A responder asked for a group it does not support.
    let c = profile(DhMode::Ephemeral, &[2, 14], 4);
    let st = c.initiator_keying(b.certificate(), &mut rng(5)).unwrap();
    let d = profile(DhMode::Ephemeral, &[2], 6);
    assert_eq!(
        d.responder_keying(c.certificate(), &st.skic, &mut rng(7))
            .unwrap_err(),
        CryptoError::UnsupportedGroup(14)
    );
}

fn with_policies(mode: DhMode, hmac: Policy, sseq: Policy, seed: u64) -> FlashProfile {
    let cfg = FlashConfig {
        dh_mode: mode,
        groups: vec![2],
        hmac,
        sseq,
        ..FlashConfig::default()
    };
    FlashProfile::new(cfg, &mut rng(seed)).unwrap()
}

#[test]
fn required_but_not_offered() {
    let off = with_policies(DhMode::Ephemeral, Policy::OFF, Policy::OFF, 1);
    let need_hmac = with_policies(DhMode::Ephemeral, Policy::REQUIRED, Policy::OFF, 2);
    let need_sseq = with_policies(DhMode::Static, Policy::OFF, Policy::REQUIRED, 3);
    // Responder requires HMAC; initiator offers none.
    assert_eq!(
        handshake(&off, &need_hmac, 4).unwrap_err(),
        CryptoError::HmacRequired
    );
    // Initiator requires SSEQ; responder offers none.
    assert_eq!(
        handshake(&need_sseq, &off, 5).unwrap_err(),
        CryptoError::SseqRequired
    );
    // Opportunistic on one side satisfies a requirement on the other: SOR
    // and the requirer's REQ.
    let opp = with_policies(
        DhMode::Ephemeral,
        Policy::OPPORTUNISTIC,
        Policy::OPPORTUNISTIC,
        6,
    );
    let (a, b) = handshake(&opp, &need_hmac, 7).unwrap();
    exchange(a, b);
    let (a, b) = handshake(&need_sseq, &opp, 8).unwrap();
    exchange(a, b);
    // Both off: checksum, no SSEQ, still works.
    let off2 = with_policies(DhMode::Static, Policy::OFF, Policy::OFF, 9);
    let (a, b) = handshake(&off, &off2, 10).unwrap();
    assert_eq!(a.crypto.overhead(14), 2);
    exchange(a, b);
}

#[test]
fn negotiation_truth_table() {
    // RFC 7425 §4.6.4/§4.6.6: send iff SND, or SOR and peer REQ.
    for bits in 0u8..8 {
        let far = NegotiationFlags::from_byte(bits);
        for near in [Policy::OFF, Policy::OPPORTUNISTIC, Policy::REQUIRED] {
            let out = negotiate(near, Some(far));
            let recv = far.send_always || (far.send_on_request && near.flags().request);
            let send = near.send_always || (near.send_on_request && far.request);
            if near.require && !recv {
                assert_eq!(out, None);
            } else {
                let o = out.unwrap();
                assert_eq!((o.send, o.recv), (send, recv), "{bits:#x} {near:?}");
            }
        }
    }
    // No option at all: all flags clear.
    let o = negotiate(Policy::OPPORTUNISTIC, None).unwrap();
    assert!(!o.send && !o.recv);
    assert_eq!(negotiate(Policy::REQUIRED, None), None);
}

#[test]
fn keying_must_match_certificate_mode() {
    let eph = profile(DhMode::Ephemeral, &[2], 1);
    let stat = profile(DhMode::Static, &[2], 2);
    let resp = profile(DhMode::Ephemeral, &[2], 3);
    // A static-certificate initiator cannot key ephemerally: that would let
    // anyone claim its peer ID (RFC 7425 §4.3.4).
    let st = eph
        .initiator_keying(resp.certificate(), &mut rng(4))
        .unwrap();
    assert!(matches!(
        resp.responder_keying(stat.certificate(), &st.skic, &mut rng(5)),
        Err(CryptoError::KeyingMismatch(_))
    ));
    // An ephemeral certificate with a group select and no key.
    let st = stat
        .initiator_keying(resp.certificate(), &mut rng(6))
        .unwrap();
    assert!(matches!(
        resp.responder_keying(eph.certificate(), &st.skic, &mut rng(7)),
        Err(CryptoError::KeyingMismatch(_))
    ));
    // A static responder must not send an ephemeral key; an ephemeral one
    // must. Swap SKRCs between responders to check the initiator.
    let rs = profile(DhMode::Static, &[2], 8);
    let st = eph.initiator_keying(rs.certificate(), &mut rng(9)).unwrap();
    let st2 = eph
        .initiator_keying(resp.certificate(), &mut rng(9))
        .unwrap();
    let from_eph = resp
        .responder_keying(eph.certificate(), &st2.skic, &mut rng(10))
        .unwrap();
    assert!(matches!(
        eph.initiator_finish(&st, rs.certificate(), &from_eph.skrc),
        Err(CryptoError::KeyingMismatch(_))
    ));
    // Finishing against a different certificate than we keyed for.
    let st = eph
        .initiator_keying(resp.certificate(), &mut rng(11))
        .unwrap();
    assert!(matches!(
        eph.initiator_finish(&st, rs.certificate(), &from_eph.skrc),
        Err(CryptoError::KeyingMismatch(_))
    ));
    // State from another profile type.
    let plain = PlainProfile::new(b"p".to_vec());
    let st = plain.initiator_keying(b"q", &mut rng(12)).unwrap();
    assert_eq!(
        eph.initiator_finish(&st, resp.certificate(), &from_eph.skrc)
            .unwrap_err(),
        CryptoError::WrongState
    );
}

#[test]
fn bad_public_key_rejected() {
    // An SKIC with an unacceptable ephemeral key (RFC 7425 §4.6.2).
    let a = profile(DhMode::Ephemeral, &[2], 1);
    let b = profile(DhMode::Ephemeral, &[2], 2);
    let st = a.initiator_keying(b.certificate(), &mut rng(3)).unwrap();
    let mut k = KeyingComponent::parse(&st.skic).unwrap();
    for bad in [vec![1u8], vec![0xff; 128], vec![0; 128]] {
        k.ephemeral_key = Some((2, bad));
        assert_eq!(
            b.responder_keying(a.certificate(), &k.encode(), &mut rng(4))
                .unwrap_err(),
            CryptoError::BadPublicKey
        );
    }
}

#[test]
fn glare_exactly_one_wins() {
    let ps: Vec<FlashProfile> = (0..6)
        .map(|i| {
            let mode = if i % 2 == 0 {
                DhMode::Ephemeral
            } else {
                DhMode::Static
            };
            profile(mode, &[2], 100 + i)
        })
        .collect();
    for (i, x) in ps.iter().enumerate() {
        for (j, y) in ps.iter().enumerate() {
            if i == j {
                // Identical certificates: the near end prevails.
                assert!(x.near_wins_glare(y.certificate()));
                continue;
            }
            assert_ne!(
                x.near_wins_glare(y.certificate()),
                y.near_wins_glare(x.certificate()),
                "{i} vs {j}"
            );
        }
    }
    // Prefix sorts first (RFC 7425 §4.3.6).
    let p = PlainProfile::new(b"abc".to_vec());
    assert!(p.near_wins_glare(b"abcd"));
    assert!(!p.near_wins_glare(b"ab"));
    assert!(!p.near_wins_glare(b"\x00bc"));
    assert!(p.near_wins_glare(b"\xffbc"));
}

#[test]
fn override_only_identical() {
    let a = profile(DhMode::Ephemeral, &[2], 1);
    let b = profile(DhMode::Ephemeral, &[2], 2);
    assert!(a.is_override(b.certificate(), b.certificate()));
    assert!(!a.is_override(a.certificate(), b.certificate()));
}

#[test]
fn epd_selection() {
    let cfg = FlashConfig {
        hostname: Some(b"server.example".to_vec()),
        accepts_ancillary_data: true,
        groups: vec![2],
        ..FlashConfig::default()
    };
    let s = FlashProfile::new(cfg, &mut rng(1)).unwrap();
    let plain = profile(DhMode::Ephemeral, &[2], 2);
    // By fingerprint alone.
    let by_fp = epd_for_fingerprint(&s.near_id());
    assert_eq!(by_fp.len(), 34);
    assert!(s.epd_selects_me(&by_fp));
    assert!(!plain.epd_selects_me(&by_fp));
    assert!(plain.cert_selected_by_epd(s.certificate(), &by_fp));
    // A fingerprint decides alone, whatever else the EPD says.
    let fp_wrong_host = Epd {
        fingerprint: Some(s.near_id()),
        hostname: Some(b"other".to_vec()),
        ancillary_data: None,
    }
    .encode();
    assert!(s.epd_selects_me(&fp_wrong_host));
    // URI needs Accepts Ancillary Data.
    let uri = epd_for_uri("rtmfp://server.example/app", None);
    assert!(s.epd_selects_me(&uri));
    assert!(!plain.epd_selects_me(&uri));
    // Hostname must match exactly.
    let host = Epd {
        hostname: Some(b"server.example".to_vec()),
        ..Epd::default()
    }
    .encode();
    assert!(s.epd_selects_me(&host));
    assert!(!s.epd_selects_me(&epd_for_uri("x", Some(b"SERVER.example"))));
    assert!(s.epd_selects_me(&epd_for_uri("x", Some(b"server.example"))));
    // Nothing selecting: the empty EPD, unknown options only, malformed.
    assert!(!s.epd_selects_me(&[]));
    assert!(!s.epd_selects_me(&[0x02, 0x44, 0x01]));
    assert!(!s.epd_selects_me(&[0x05, 0x0f]));
    // Canonical EPDs.
    assert_eq!(s.canonical_epd(&fp_wrong_host), Some(by_fp.clone()));
    assert_eq!(s.canonical_epd_of_cert(s.certificate()), Some(by_fp));
    assert_eq!(s.canonical_epd(&uri), None);
}

#[test]
fn simple_password_signatures() {
    let pw = SimplePassword {
        id: b"alice".to_vec(),
        password: b"secret".to_vec(),
    };
    let signer = FlashProfile::new(
        FlashConfig {
            groups: vec![2],
            sign_password: Some(pw.clone()),
            ..FlashConfig::default()
        },
        &mut rng(1),
    )
    .unwrap();
    let verifier = FlashProfile::new(
        FlashConfig {
            groups: vec![2],
            verify_passwords: vec![pw.clone()],
            require_signature: true,
            ..FlashConfig::default()
        },
        &mut rng(2),
    )
    .unwrap();
    let lax = profile(DhMode::Ephemeral, &[2], 3);
    let msg = b"signed parameters";
    let sig = signer.sign(msg);
    assert_eq!(sig[1], 0x1d);
    assert!(verifier.verify(signer.certificate(), msg, &sig));
    assert!(!verifier.verify(signer.certificate(), b"other", &sig));
    assert!(!verifier.verify(signer.certificate(), msg, b""));
    assert!(!verifier.verify(signer.certificate(), msg, b"X"));
    // Unrecognized IDs are ignored, so only they: not valid when required.
    let eve = FlashProfile::new(
        FlashConfig {
            groups: vec![2],
            sign_password: Some(SimplePassword {
                id: b"eve".to_vec(),
                password: b"secret".to_vec(),
            }),
            ..FlashConfig::default()
        },
        &mut rng(4),
    )
    .unwrap();
    assert!(!verifier.verify(eve.certificate(), msg, &eve.sign(msg)));
    // A recognized ID with a wrong HMAC poisons the whole signature.
    let mut bad = sig.clone();
    bad[5] ^= 1;
    let both = [eve.sign(msg), bad.clone()].concat();
    assert!(!verifier.verify(signer.certificate(), msg, &both));
    let good_and_unknown = [eve.sign(msg), sig.clone()].concat();
    assert!(verifier.verify(signer.certificate(), msg, &good_and_unknown));
    // A verifier that requires nothing accepts anything (RFC 7425 §4.3.5).
    assert!(lax.verify(signer.certificate(), msg, &bad));
    assert!(lax.verify(signer.certificate(), msg, b"X"));
    assert!(lax.verify(signer.certificate(), msg, &[0xff]));
    // With nothing to sign, "X" as Flash sent (RFC 7425 §4.3.5).
    assert_eq!(lax.sign(msg), b"X");
}

#[test]
fn plain_profile_handshake() {
    let a = PlainProfile::new(b"alice".to_vec());
    let b = PlainProfile::new(b"bob".to_vec());
    assert!(a.epd_selects_me(b"alice"));
    assert!(!a.epd_selects_me(b"bob"));
    let (x, y) = handshake(&a, &b, 1).unwrap();
    assert_eq!(x.far_peer_id, b.peer_id(b"bob"));
    exchange_keys(x, y, false);
    let mut d = a.default_session_crypto();
    let mut e = Vec::new();
    d.encrypt(b"hi", &mut e);
    assert_eq!(e.len(), 2 + d.overhead(2));
    e[3] ^= 1;
    assert_eq!(
        d.decrypt(&e, &mut Vec::new()),
        Err(CryptoError::BadChecksum)
    );
}

#[test]
fn profile_is_object_safe_and_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Box<dyn CryptoProfile>>();
    assert_send::<rtmfp_core::crypto::InitiatorKeying>();
    assert_send::<rtmfp_core::crypto::ResponderKeyingResult>();
    assert_send::<SessionKeys>();
    let p: std::sync::Arc<dyn CryptoProfile> =
        std::sync::Arc::new(profile(DhMode::Static, &[2], 1));
    let q = p.clone();
    let b_cert = profile(DhMode::Ephemeral, &[2], 2).certificate().to_vec();
    let st = std::thread::spawn(move || q.initiator_keying(&b_cert, &mut rand::rng()))
        .join()
        .unwrap()
        .unwrap();
    assert!(!st.skic.is_empty());
}

#[test]
fn config_validation() {
    let bad_group = FlashConfig {
        groups: vec![3],
        ..FlashConfig::default()
    };
    assert_eq!(
        FlashProfile::new(bad_group, &mut rng(1)).unwrap_err(),
        CryptoError::UnsupportedGroup(3)
    );
    let bad_len = FlashConfig {
        hmac_length: 3,
        ..FlashConfig::default()
    };
    assert!(FlashProfile::new(bad_len, &mut rng(1)).is_err());
    let empty = FlashConfig {
        groups: vec![],
        ..FlashConfig::default()
    };
    assert!(FlashProfile::new(empty, &mut rng(1)).is_err());
}
