//! Round trips of the Flash profile's encodings and packet protection.

use proptest::prelude::*;
use rtmfp_core::crypto::flash::cert::{Certificate, CertificateBuilder};
use rtmfp_core::crypto::flash::epd::Epd;
use rtmfp_core::crypto::flash::keying::{HmacNegotiation, KeyingComponent, NegotiationFlags};
use rtmfp_core::crypto::flash::packet::{
    FlashSessionCrypto, HmacParams, PacketParams, ReplayWindow,
};
use rtmfp_core::crypto::{CryptoError, SessionCrypto};
use sha2::{Digest, Sha256};

fn flags() -> impl Strategy<Value = NegotiationFlags> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(a, b, c)| NegotiationFlags {
        send_always: a,
        send_on_request: b,
        request: c,
    })
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

prop_compose! {
    fn cert_builder()(
        hostname in proptest::option::of(bytes(40)),
        accepts in any::<bool>(),
        extra in proptest::collection::vec(bytes(64), 0..3),
        is_static in any::<bool>(),
        groups in proptest::collection::vec(any::<u64>(), 0..4),
        keys in proptest::collection::vec((any::<u64>(), bytes(200)), 0..3),
        // Types 0x0e are counted anywhere, so keep them out of the tail.
        tail in proptest::collection::vec(
            (any::<u64>().prop_filter("not 0x0e", |t| *t != 0x0e), bytes(20)), 0..3),
    ) -> CertificateBuilder {
        CertificateBuilder {
            hostname,
            accepts_ancillary_data: accepts,
            extra_randomness: extra,
            ephemeral_groups: if is_static { vec![] } else { groups },
            static_keys: if is_static { keys } else { vec![] },
            non_canonical: tail,
        }
    }
}

proptest! {
    #[test]
    fn certificate_round_trip(b in cert_builder()) {
        let bytes = b.build();
        let c = Certificate::parse(&bytes).unwrap();
        prop_assert_eq!(&c.hostname, &b.hostname);
        prop_assert_eq!(c.accepts_ancillary_data, b.accepts_ancillary_data);
        prop_assert_eq!(&c.extra_randomness, &b.extra_randomness);
        prop_assert_eq!(&c.ephemeral_groups, &b.ephemeral_groups);
        prop_assert_eq!(&c.static_keys, &b.static_keys);
        // RFC 7425 §4.3.1-2: the canonical section is everything before the
        // first marker, and the fingerprint hashes only it.
        let canon = CertificateBuilder { non_canonical: vec![], ..b.clone() }.build();
        prop_assert_eq!(c.canonical_len(), canon.len());
        let fp: [u8; 32] = Sha256::digest(&canon).into();
        prop_assert_eq!(c.fingerprint(), fp);
    }

    #[test]
    fn epd_round_trip(
        hostname in proptest::option::of(bytes(40)),
        anc in proptest::option::of(bytes(80)),
        fp in proptest::option::of(any::<[u8; 32]>()),
    ) {
        let e = Epd { hostname, ancillary_data: anc, fingerprint: fp };
        prop_assert_eq!(Epd::parse(&e.encode()).unwrap(), e.clone());
        if let Some(fp) = fp {
            let c = e.canonical().unwrap();
            prop_assert_eq!(c.len(), 34);
            prop_assert_eq!(&c[..2], &[0x21, 0x0f]);
            prop_assert_eq!(&c[2..], &fp);
        }
    }

    #[test]
    fn keying_round_trip(
        eph in proptest::option::of((any::<u64>(), bytes(300))),
        extra in proptest::option::of(bytes(64)),
        select in proptest::option::of(any::<u64>()),
        hmac in proptest::option::of((flags(), 4u64..=32)),
        sseq in proptest::option::of(flags()),
    ) {
        let k = KeyingComponent {
            ephemeral_key: eph,
            extra_randomness: extra,
            group_select: select,
            hmac: hmac.map(|(flags, len)| HmacNegotiation {
                flags,
                hmac_length: if flags.offers() { len } else { 0 },
            }),
            sseq,
        };
        prop_assert_eq!(KeyingComponent::parse(&k.encode()).unwrap(), k);
    }
}

#[test]
fn duplicate_epd_options_are_malformed() {
    let mut e = Epd {
        hostname: Some(b"a".to_vec()),
        ..Epd::default()
    }
    .encode();
    e.extend_from_slice(&e.clone());
    assert!(Epd::parse(&e).is_err());
    // A fingerprint that is not 32 bytes.
    assert!(Epd::parse(&[0x03, 0x0f, 1, 2]).is_err());
    // Unknown options are ignored.
    assert_eq!(Epd::parse(&[0x02, 0x33, 9]).unwrap(), Epd::default());
}

#[test]
fn certificate_rules() {
    // Both static and ephemeral kinds: rejected (RFC 7425 §4.3.3.4-5).
    let both = CertificateBuilder {
        ephemeral_groups: vec![2],
        static_keys: vec![(2, vec![1; 128])],
        ..CertificateBuilder::default()
    }
    .build();
    assert!(matches!(
        Certificate::parse(&both),
        Err(CryptoError::BadCertificate(_))
    ));
    // A static key after the marker is ignored, so this is fine and
    // ephemeral.
    let mut tail = CertificateBuilder {
        ephemeral_groups: vec![2],
        ..CertificateBuilder::default()
    }
    .build();
    tail.push(0);
    tail.extend_from_slice(&[0x03, 0x1d, 0x02, 0x05]);
    let c = Certificate::parse(&tail).unwrap();
    assert!(c.static_keys.is_empty());
    assert_eq!(c.canonical_len(), tail.len() - 5);
    // Hostname twice in the canonical section.
    assert!(Certificate::parse(&[0x02, 0x00, b'a', 0x02, 0x00, b'b']).is_err());
    // Empty certificate: empty canonical section.
    let e = Certificate::parse(&[]).unwrap();
    assert_eq!(e.fingerprint(), <[u8; 32]>::from(Sha256::digest([])));
    // Leading marker: empty canonical section.
    let m = Certificate::parse(&[0x00, 0x02, 0x00, b'x']).unwrap();
    assert_eq!(m.canonical_len(), 0);
    assert_eq!(m.hostname, None);
}

fn params(hmac: Option<usize>, sseq: bool, key: u8) -> PacketParams {
    let h = hmac.map(|len| HmacParams {
        key: [key; 32],
        len,
    });
    PacketParams {
        send_hmac: h.clone(),
        recv_hmac: h,
        send_sseq: sseq,
        recv_sseq: sseq,
    }
}

fn pair(hmac: Option<usize>, sseq: bool) -> (FlashSessionCrypto, FlashSessionCrypto) {
    let p = params(hmac, sseq, 7);
    (
        FlashSessionCrypto::new(&[1; 16], &[2; 16], &p),
        FlashSessionCrypto::new(&[2; 16], &[1; 16], &p),
    )
}

fn modes() -> Vec<(Option<usize>, bool)> {
    let mut v = Vec::new();
    for sseq in [false, true] {
        v.push((None, sseq));
        for len in 4..=32 {
            v.push((Some(len), sseq));
        }
    }
    v
}

#[test]
fn packet_round_trip_every_mode() {
    for (hmac, sseq) in modes() {
        let (mut a, mut b) = pair(hmac, sseq);
        for len in [1usize, 2, 13, 14, 15, 16, 17, 31, 32, 100, 1200] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut enc = Vec::new();
            let before = a.overhead(len);
            a.encrypt(&plain, &mut enc);
            assert_eq!(enc.len(), len + before, "overhead {hmac:?} {sseq} {len}");
            assert_eq!((enc.len() - hmac.unwrap_or(0)) % 16, 0);
            let mut dec = vec![0xaa];
            b.decrypt(&enc, &mut dec).unwrap();
            assert_eq!(dec[0], 0xaa, "decrypt appends");
            assert_eq!(&dec[1..=len], plain.as_slice());
            assert!(dec[len + 1..].iter().all(|&x| x == 0xff), "0xff padding");
            assert!(dec.len() - 1 - len < 16);
            // And the other direction.
            let mut enc2 = Vec::new();
            b.encrypt(&plain, &mut enc2);
            let mut dec2 = Vec::new();
            a.decrypt(&enc2, &mut dec2).unwrap();
            assert_eq!(&dec2[..len], plain.as_slice());
        }
        // max_plain_len fits exactly.
        for budget in [0usize, 15, 16, 17, 50, 1200, 1400] {
            let n = a.max_plain_len(budget);
            if n > 0 {
                assert!(n + a.overhead(n) <= budget);
                assert!(n + 1 + a.overhead(n + 1) > budget);
            }
        }
    }
}

#[test]
fn packet_tamper_and_truncation_fail() {
    for (hmac, sseq) in modes() {
        let (mut a, mut b) = pair(hmac, sseq);
        let plain: Vec<u8> = (0..40u8).collect();
        let mut enc = Vec::new();
        a.encrypt(&plain, &mut enc);
        for i in 0..enc.len() {
            for bit in [0x01u8, 0x80] {
                let mut t = enc.clone();
                t[i] ^= bit;
                let mut out = vec![9];
                assert!(
                    b.decrypt(&t, &mut out).is_err(),
                    "tamper byte {i} bit {bit:#x} {hmac:?} {sseq}"
                );
                assert_eq!(out, vec![9], "out untouched on error");
            }
        }
        for cut in 0..enc.len() {
            let mut out = Vec::new();
            assert!(
                b.decrypt(&enc[..cut], &mut out).is_err(),
                "truncated to {cut}"
            );
        }
        let mut longer = enc.clone();
        longer.push(0);
        assert_eq!(
            b.decrypt(&longer, &mut Vec::new()),
            Err(CryptoError::BadLength)
        );
        // The untampered packet still verifies (nothing above consumed its
        // sequence number).
        b.decrypt(&enc, &mut Vec::new()).unwrap();
    }
}

#[test]
fn checksum_vs_hmac_errors_are_typed() {
    let (mut a, mut b) = pair(Some(10), false);
    let mut enc = Vec::new();
    a.encrypt(b"hello", &mut enc);
    let n = enc.len();
    enc[n - 1] ^= 1;
    assert_eq!(b.decrypt(&enc, &mut Vec::new()), Err(CryptoError::BadHmac));
    let (mut a, mut b) = pair(None, false);
    let mut enc = Vec::new();
    a.encrypt(b"hello", &mut enc);
    enc[3] ^= 1;
    assert_eq!(
        b.decrypt(&enc, &mut Vec::new()),
        Err(CryptoError::BadChecksum)
    );
    assert_eq!(
        b.decrypt(&[0; 15], &mut Vec::new()),
        Err(CryptoError::BadLength)
    );
    assert_eq!(b.decrypt(&[], &mut Vec::new()), Err(CryptoError::BadLength));
}

#[test]
fn replay_rejected_and_reorder_accepted() {
    for hmac in [None, Some(16)] {
        let (mut a, mut b) = pair(hmac, true);
        let pkts: Vec<Vec<u8>> = (0..300u32)
            .map(|i| {
                let mut e = Vec::new();
                a.encrypt(&i.to_be_bytes(), &mut e);
                e
            })
            .collect();
        // Deliver 0..100 in a scrambled order (reordering up to 99 apart).
        let mut order: Vec<usize> = (0..100).collect();
        order.reverse();
        order.swap(10, 50);
        for &i in &order {
            let mut out = Vec::new();
            b.decrypt(&pkts[i], &mut out).unwrap();
            assert_eq!(&out[..4], &(i as u32).to_be_bytes());
        }
        // Duplicates are dropped.
        for &i in &[0usize, 50, 99] {
            assert_eq!(
                b.decrypt(&pkts[i], &mut Vec::new()),
                Err(CryptoError::Replay)
            );
        }
        // Jump ahead; then anything 128 or more behind is too old even if
        // never seen.
        b.decrypt(&pkts[260], &mut Vec::new()).unwrap();
        assert_eq!(
            b.decrypt(&pkts[132], &mut Vec::new()),
            Err(CryptoError::Replay)
        );
        b.decrypt(&pkts[133], &mut Vec::new()).unwrap();
        b.decrypt(&pkts[259], &mut Vec::new()).unwrap();
        assert_eq!(
            b.decrypt(&pkts[260], &mut Vec::new()),
            Err(CryptoError::Replay)
        );
    }
}

#[test]
fn replay_window_unit() {
    let mut w = ReplayWindow::new();
    assert!(w.check(5));
    w.commit(5);
    assert!(!w.check(5));
    assert!(w.check(4));
    assert!(w.check(0));
    w.commit(5 + 1000);
    assert!(!w.check(5));
    assert!(w.check(1005 - 127));
    assert!(!w.check(1005 - 128));
    w.commit(u64::MAX);
    assert!(!w.check(u64::MAX));
    assert!(w.check(u64::MAX - 1));
}

#[test]
fn sseq_counts_from_zero() {
    // The first packet carries SSEQ 0 as a 1-byte VLU: with HMAC (no
    // checksum) the decrypted plaintext starts with 0x00.
    let p = params(Some(32), true, 3);
    let mut a = FlashSessionCrypto::new(&[5; 16], &[6; 16], &p);
    let no_sseq = PacketParams {
        recv_sseq: false,
        ..params(Some(32), false, 3)
    };
    let mut b = FlashSessionCrypto::new(&[6; 16], &[5; 16], &no_sseq);
    for want in 0u8..3 {
        let mut e = Vec::new();
        a.encrypt(b"\x42", &mut e);
        let mut out = Vec::new();
        b.decrypt(&e, &mut out).unwrap();
        assert_eq!(&out[..2], &[want, 0x42]);
    }
}

#[test]
fn asymmetric_directions() {
    // A sends HMAC-8 without SSEQ; B sends checksum with SSEQ.
    let a_p = PacketParams {
        send_hmac: Some(HmacParams {
            key: [1; 32],
            len: 8,
        }),
        recv_hmac: None,
        send_sseq: false,
        recv_sseq: true,
    };
    let b_p = PacketParams {
        send_hmac: None,
        recv_hmac: Some(HmacParams {
            key: [1; 32],
            len: 8,
        }),
        send_sseq: true,
        recv_sseq: false,
    };
    let mut a = FlashSessionCrypto::new(&[1; 16], &[2; 16], &a_p);
    let mut b = FlashSessionCrypto::new(&[2; 16], &[1; 16], &b_p);
    for i in 0..5u8 {
        let (mut e1, mut e2, mut o1, mut o2) = (vec![], vec![], vec![], vec![]);
        a.encrypt(&[i; 20], &mut e1);
        b.decrypt(&e1, &mut o1).unwrap();
        assert_eq!(&o1[..20], &[i; 20]);
        b.encrypt(&[i; 21], &mut e2);
        a.decrypt(&e2, &mut o2).unwrap();
        assert_eq!(&o2[..21], &[i; 21]);
    }
}

fn packet_params(hmac: Option<usize>, sseq: bool) -> PacketParams {
    let h = hmac.map(|len| HmacParams { key: [7; 32], len });
    PacketParams {
        send_hmac: h.clone(),
        recv_hmac: h,
        send_sseq: sseq,
        recv_sseq: sseq,
    }
}

proptest! {
    /// Several packets encrypted together (their CBC chains side by
    /// side) are the bytes one-at-a-time encryption makes, in order
    /// (sequence numbers included), and each decrypts on its own.
    #[test]
    fn packets_encrypted_together_are_the_packets_encrypted_one_by_one(
        // A packet is never empty (it has at least its header).
        packets in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 1..1300), 0..20),
        hmac in proptest::option::of(4usize..=32),
        sseq in any::<bool>(),
        prefix in 0usize..5,
    ) {
        let params = packet_params(hmac, sseq);
        let (ek, dk) = ([1u8; 16], [2u8; 16]);
        let mut one = FlashSessionCrypto::new(&ek, &dk, &params);
        let mut many = FlashSessionCrypto::new(&ek, &dk, &params);
        let expected: Vec<Vec<u8>> = packets
            .iter()
            .map(|p| {
                let mut out = vec![0xAA; prefix];
                one.encrypt(p, &mut out);
                out
            })
            .collect();
        let mut outs: Vec<Vec<u8>> = packets.iter().map(|_| vec![0xAA; prefix]).collect();
        many.encrypt_many(&packets, &mut outs);
        prop_assert_eq!(&outs, &expected);
        // The far end (its keys swapped) reads every one.
        let mut far = FlashSessionCrypto::new(&dk, &ek, &params);
        for (p, out) in packets.iter().zip(&outs) {
            let mut plain = Vec::new();
            far.decrypt(&out[prefix..], &mut plain).unwrap();
            prop_assert_eq!(&plain[..p.len()], &p[..]);
        }
    }
}
