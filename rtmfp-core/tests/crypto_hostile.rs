//! Hostile input: parsers, packet decryption and keying never panic on
//! arbitrary bytes, and never accept garbage.

use std::sync::OnceLock;

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rtmfp_core::crypto::flash::cert::{fingerprint, Certificate, DhMode};
use rtmfp_core::crypto::flash::default_key::default_session_crypto;
use rtmfp_core::crypto::flash::epd::Epd;
use rtmfp_core::crypto::flash::keying::KeyingComponent;
use rtmfp_core::crypto::flash::packet::{FlashSessionCrypto, HmacParams, PacketParams};
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile, SessionCrypto};

fn profiles() -> &'static (FlashProfile, FlashProfile) {
    static P: OnceLock<(FlashProfile, FlashProfile)> = OnceLock::new();
    P.get_or_init(|| {
        let mk = |mode, seed| {
            let cfg = FlashConfig {
                dh_mode: mode,
                groups: vec![2, 14],
                require_signature: true,
                ..FlashConfig::default()
            };
            FlashProfile::new(cfg, &mut StdRng::seed_from_u64(seed)).unwrap()
        };
        (mk(DhMode::Ephemeral, 1), mk(DhMode::Static, 2))
    })
}

/// Byte strings that are well-formed option lists with interesting types,
/// so the fuzzing reaches past the option parser.
fn option_list() -> impl Strategy<Value = Vec<u8>> {
    let typ = prop_oneof![
        Just(0x00u64),
        Just(0x0a),
        Just(0x0d),
        Just(0x0e),
        Just(0x0f),
        Just(0x15),
        Just(0x1a),
        Just(0x1d),
        Just(0x1e),
        any::<u64>()
    ];
    let value = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..8),
        proptest::collection::vec(any::<u8>(), 126..131),
        // group VLU then a key-sized blob
        (
            prop_oneof![Just(2u8), Just(14), Just(5), any::<u8>()],
            proptest::collection::vec(any::<u8>(), 0..260)
        )
            .prop_map(|(g, mut k)| {
                k.insert(0, g);
                k
            }),
    ];
    proptest::collection::vec((typ, value, any::<bool>()), 0..6).prop_map(|opts| {
        let mut out = Vec::new();
        for (t, v, marker) in opts {
            if marker {
                out.push(0);
            }
            let mut tv = Vec::new();
            let mut n = t;
            let mut digits = vec![(n & 0x7f) as u8];
            n >>= 7;
            while n > 0 {
                digits.push((n & 0x7f) as u8 | 0x80);
                n >>= 7;
            }
            digits.reverse();
            tv.extend_from_slice(&digits);
            tv.extend_from_slice(&v);
            let len = tv.len();
            if len < 128 {
                out.push(len as u8);
            } else {
                out.push(0x80 | (len >> 7) as u8);
                out.push((len & 0x7f) as u8);
            }
            out.extend_from_slice(&tv);
        }
        out
    })
}

fn any_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..600),
        option_list(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic(b in any_bytes()) {
        let _ = Certificate::parse(&b);
        let _ = fingerprint(&b);
        let _ = Epd::parse(&b);
        let _ = KeyingComponent::parse(&b);
        let (e, s) = profiles();
        let _ = e.epd_selects_me(&b);
        let _ = e.cert_selected_by_epd(&b, &b);
        let _ = e.canonical_epd(&b);
        let _ = e.canonical_epd_of_cert(&b);
        let _ = e.peer_id(&b);
        prop_assert!(!e.verify(&b, &b, &b) || !b.is_empty());
        let _ = s.near_wins_glare(&b);
    }

    #[test]
    fn decrypt_never_panics_or_accepts_garbage(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        let hmac = Some(HmacParams { key: [9; 32], len: 10 });
        let configs = [
            PacketParams::default(),
            PacketParams { send_sseq: true, recv_sseq: true, ..PacketParams::default() },
            PacketParams { send_hmac: hmac.clone(), recv_hmac: hmac, send_sseq: true, recv_sseq: true },
        ];
        for (i, p) in configs.iter().enumerate() {
            let mut c = FlashSessionCrypto::new(&[1; 16], &[1; 16], p);
            let mut out = vec![7u8];
            let r = c.decrypt(&b, &mut out);
            if r.is_err() {
                prop_assert_eq!(&out, &vec![7u8]);
            }
            // With an HMAC, random bytes never verify.
            if i == 2 {
                prop_assert!(r.is_err());
            }
        }
        let _ = default_session_crypto().decrypt(&b, &mut Vec::new());
    }

    #[test]
    fn keying_never_panics(cert in any_bytes(), comp in any_bytes()) {
        let (e, s) = profiles();
        let mut rng = StdRng::seed_from_u64(7);
        // Arbitrary far certificate and SKIC: responder. (A well-formed
        // pair can succeed: any properly encoded certificate is authentic
        // in this profile, RFC 7425 §4.3.4, and random bytes are usually an
        // acceptable public key.)
        let _ = e.responder_keying(&cert, &comp, &mut rng);
        let _ = s.responder_keying(&cert, &comp, &mut rng);
        // Arbitrary far certificate: initiator.
        let _ = e.initiator_keying(&cert, &mut rng);
        // Real state, arbitrary SKRC (may succeed if it carries an
        // acceptable key in the selected group).
        let st = s.initiator_keying(e.certificate(), &mut rng).unwrap();
        let _ = s.initiator_finish(&st, e.certificate(), &comp);
    }

    #[test]
    fn responder_with_real_cert_and_fuzzed_skic(comp in option_list()) {
        let (e, s) = profiles();
        let mut rng = StdRng::seed_from_u64(8);
        // Cannot succeed: the fuzzed DH keys are random bytes, so either
        // parsing, selection or key validation fails, or the key is
        // acceptable and we derive keys nobody else has. Only no panics.
        let _ = e.responder_keying(s.certificate(), &comp, &mut rng);
        let _ = s.responder_keying(e.certificate(), &comp, &mut rng);
    }
}
