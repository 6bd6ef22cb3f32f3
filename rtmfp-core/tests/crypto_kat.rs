//! Known-answer tests for the Flash crypto profile's primitives.

use aes::cipher::KeyInit;
use aes::{Aes128Dec, Aes128Enc};
use num_bigint::BigUint;
use rtmfp_core::crypto::checksum::{internet_checksum, ones_complement_sum};
use rtmfp_core::crypto::flash::default_key::{default_session_crypto, DEFAULT_SESSION_KEY};
use rtmfp_core::crypto::flash::dh::{self, encode_secret};
use rtmfp_core::crypto::flash::kdf::hmac_sha256;
use rtmfp_core::crypto::flash::packet::{cbc_decrypt, cbc_encrypt};
use rtmfp_core::crypto::SessionCrypto;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

// NIST SP 800-38A F.2.1 CBC-AES128.Encrypt (and F.2.2 Decrypt).
const SP800_38A_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const SP800_38A_IV: &str = "000102030405060708090a0b0c0d0e0f";
const SP800_38A_PT: &str = "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
    30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";
const SP800_38A_CT: &str = "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2
    73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7";

#[test]
fn aes128_cbc_sp800_38a_f21() {
    let key: [u8; 16] = unhex(SP800_38A_KEY).try_into().unwrap();
    let iv: [u8; 16] = unhex(SP800_38A_IV).try_into().unwrap();
    let mut buf = unhex(SP800_38A_PT);
    cbc_encrypt(&Aes128Enc::new(&key.into()), &iv, &mut buf);
    assert_eq!(buf, unhex(SP800_38A_CT));
    cbc_decrypt(&Aes128Dec::new(&key.into()), &iv, &mut buf);
    assert_eq!(buf, unhex(SP800_38A_PT));
}

#[test]
fn aes128_cbc_zero_iv_equals_iv_folded_into_first_block() {
    // The packet path uses a zero IV (RFC 7425 §4.7.1). CBC with IV v over
    // P1..Pn equals CBC with a zero IV over (P1 ^ v), P2..Pn.
    let key: [u8; 16] = unhex(SP800_38A_KEY).try_into().unwrap();
    let iv = unhex(SP800_38A_IV);
    let mut buf = unhex(SP800_38A_PT);
    for (b, v) in buf.iter_mut().zip(&iv) {
        *b ^= v;
    }
    cbc_encrypt(&Aes128Enc::new(&key.into()), &[0; 16], &mut buf);
    assert_eq!(buf, unhex(SP800_38A_CT));
}

#[test]
fn default_session_key_bytes() {
    // RFC 7425 §4.1
    assert_eq!(
        DEFAULT_SESSION_KEY.to_vec(),
        unhex("41 64 6F 62 65 20 53 79 73 74 65 6D 73 20 30 32")
    );
    let mut c = default_session_crypto();
    let mut out = Vec::new();
    c.encrypt(b"\x0b\x00\x01", &mut out);
    assert_eq!(out.len(), 16);
    let mut plain = Vec::new();
    c.decrypt(&out, &mut plain).unwrap();
    // Checksum removed; padding remains.
    assert_eq!(&plain[..3], b"\x0b\x00\x01");
    assert!(plain[3..].iter().all(|&b| b == 0xff));
    assert_eq!(plain.len(), 14);
}

// RFC 4231 HMAC-SHA256 test cases.
#[test]
fn hmac_sha256_rfc4231() {
    let cases: &[(Vec<u8>, Vec<u8>, &str)] = &[
        (
            vec![0x0b; 20],
            b"Hi There".to_vec(),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            b"Jefe".to_vec(),
            b"what do ya want for nothing?".to_vec(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            vec![0xaa; 20],
            vec![0xdd; 50],
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        ),
        (
            unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
            vec![0xcd; 50],
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        ),
        (
            vec![0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
        (
            vec![0xaa; 131],
            b"This is a test using a larger than block-size key and a larger than \
block-size data. The key needs to be hashed before being used by the HMAC algorithm."
                .to_vec(),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        ),
    ];
    for (key, data, want) in cases {
        assert_eq!(hmac_sha256(key, data).to_vec(), unhex(want));
    }
    // Test case 5: truncated to 128 bits.
    let t5 = hmac_sha256(&[0x0c; 20], b"Test With Truncation");
    assert_eq!(t5[..16].to_vec(), unhex("a3b6167473100ee06e0c796c2955552b"));
}

// MODP primes as printed in RFC 2409 §6.2 (group 2) and RFC 3526 §2, §3, §5.
const RFC_PRIMES: &[(u64, &str)] = &[
    (
        2,
        "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1
         29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD
         EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245
         E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
         EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE65381
         FFFFFFFF FFFFFFFF",
    ),
    (
        5,
        "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1
         29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD
         EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245
         E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
         EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D
         C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F
         83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D
         670C354E 4ABC9804 F1746C08 CA237327 FFFFFFFF FFFFFFFF",
    ),
    (
        14,
        "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1
         29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD
         EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245
         E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
         EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D
         C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F
         83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D
         670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B
         E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9
         DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510
         15728E5A 8AACAA68 FFFFFFFF FFFFFFFF",
    ),
    (
        16,
        "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1
         29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD
         EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245
         E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
         EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D
         C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F
         83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D
         670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B
         E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9
         DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510
         15728E5A 8AAAC42D AD33170D 04507A33 A85521AB DF1CBA64
         ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7
         ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B
         F12FFA06 D98A0864 D8760273 3EC86A64 521F2B18 177B200C
         BBE11757 7A615D6C 770988C0 BAD946E2 08E24FA0 74E5AB31
         43DB5BFC E0FD108E 4B82D120 A9210801 1A723C12 A787E6D7
         88719A10 BDBA5B26 99C32718 6AF4E23C 1A946834 B6150BDA
         2583E9CA 2AD44CE8 DBBBC2DB 04DE8EF9 2E8EFC14 1FBECAA6
         287C5947 4E6BC05D 99B2964F A090C3A2 233BA186 515BE7ED
         1F612970 CEE2D7AF B81BDD76 2170481C D0069127 D5B05AA9
         93B4EA98 8D8FDDC1 86FFB7DC 90A6C08F 4DF435C9 34063199
         FFFFFFFF FFFFFFFF",
    ),
];

/// arctan(1/x) scaled by `one`, by its Taylor series.
fn atan_inv(x: u32, one: &BigUint) -> BigUint {
    let x = BigUint::from(x);
    let x2 = &x * &x;
    let mut term = one / &x;
    let mut pos = term.clone();
    let mut neg = BigUint::ZERO;
    let mut n = 1u32;
    while term > BigUint::ZERO {
        term /= &x2;
        let t = &term / BigUint::from(2 * n + 1);
        if n % 2 == 1 {
            neg += t;
        } else {
            pos += t;
        }
        n += 1;
    }
    pos - neg
}

/// floor(2^bits · π) by Machin's formula π = 16·atan(1/5) − 4·atan(1/239),
/// computed with 64 guard bits.
fn floor_pi_shl(bits: u64) -> BigUint {
    let guard = 64;
    let one = BigUint::from(1u32) << (bits + guard);
    let pi = BigUint::from(16u32) * atan_inv(5, &one) - BigUint::from(4u32) * atan_inv(239, &one);
    pi >> guard
}

#[test]
fn modp_primes_match_rfc_hex_and_formula() {
    // p = 2^N − 2^(N−64) − 1 + 2^64·(⌊2^(N−130)·π⌋ + k) (RFC 2409 §6.2,
    // RFC 3526), with π computed here, independently of any hex.
    let ks = [
        (2u64, 1024u64, 129093u32),
        (5, 1536, 741804),
        (14, 2048, 124476),
        (16, 4096, 240904),
    ];
    for (gid, n, k) in ks {
        let one = BigUint::from(1u32);
        let formula = (&one << n) - (&one << (n - 64)) - &one
            + (&one << 64u32) * (floor_pi_shl(n - 130) + BigUint::from(k));
        let hex_text: String = RFC_PRIMES
            .iter()
            .find(|(g, _)| *g == gid)
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        let rfc = BigUint::parse_bytes(hex_text.as_bytes(), 16).unwrap();
        let ours = dh::group(gid).unwrap();
        assert_eq!(rfc, formula, "RFC hex vs formula, group {gid}");
        assert_eq!(ours.prime(), &rfc, "our prime, group {gid}");
        assert_eq!(ours.bits(), n);
        assert_eq!(ours.public_key_len() as u64, n / 8);
    }
    assert!(dh::group(1).is_none());
    assert!(dh::group(15).is_none());
}

#[test]
fn rfc1071_checksum_example() {
    // RFC 1071 §3 numerical example.
    let data = unhex("00 01 f2 03 f4 f5 f6 f7");
    assert_eq!(ones_complement_sum(&data), 0xddf2);
    assert_eq!(internet_checksum(&data), 0x220d);
    // Appending the checksum makes the sum 0xffff.
    let mut with = data.clone();
    with.extend_from_slice(&0x220du16.to_be_bytes());
    assert_eq!(internet_checksum(&with), 0);
    // RFC 7425 §4.7.3.1: an odd last byte is the low 8 bits of a word.
    assert_eq!(ones_complement_sum(&[0x12]), 0x0012);
    assert_eq!(ones_complement_sum(&[0xab, 0xcd, 0x12]), 0xabdf);
    assert_eq!(internet_checksum(&[]), 0xffff);
}

#[test]
fn dh_secret_encoding_example() {
    // RFC 7425 §4.6.2: 4886718345 → 01 23 45 67 89.
    assert_eq!(
        encode_secret(&BigUint::from(4_886_718_345u64)),
        unhex("01 23 45 67 89")
    );
    assert_eq!(encode_secret(&BigUint::from(0x80u32)), vec![0x80]);
}

#[test]
fn dh_public_key_validation() {
    // RFC 7425 §4.6.2 boundaries.
    let g = dh::group(2).unwrap();
    let p = g.prime().clone();
    let bound = BigUint::from(1u32 << 24);
    let check = |y: &BigUint| dh::validate_public_key(g, &y.to_bytes_be()).is_ok();
    // 2^24 has one 1 bit: too few ones.
    assert!(!check(&bound));
    assert!(!check(&(&bound - 1u32)));
    // A 32-bit value with 16 ones and 16 zeros is the smallest shape OK.
    assert!(check(&BigUint::from(0xffff_0000u32)));
    assert!(!check(&BigUint::from(0x7fff_8000u32 >> 1))); // 30 bits, 16 ones, 14 zeros
    assert!(!check(&BigUint::from(0x7fff_0000u32))); // 15 ones
                                                     // p − 2^24 is acceptable (p has plenty of both bits); above is not.
    assert!(check(&(&p - &bound)));
    assert!(!check(&(&p - &bound + 1u32)));
    assert!(!check(&p));
    assert!(!check(&(&p - 1u32)));
    // Leading zero bytes do not count as zero bits and are allowed.
    let mut padded = vec![0u8; 8];
    padded.extend_from_slice(&0xffff_0000u32.to_be_bytes());
    assert!(dh::validate_public_key(g, &padded).is_ok());
    assert!(dh::validate_public_key(g, &[]).is_err());
}

#[test]
fn dh_exponent_sizes() {
    for (gid, bits) in [(2, 256), (5, 256), (14, 256), (16, 320)] {
        assert_eq!(dh::group(gid).unwrap().exponent_bits(), bits);
    }
}
