//! Diffie-Hellman MODP groups and key agreement (RFC 7425 §4.2, §4.6.2).
//!
//! Groups: 2 (1024-bit, RFC 7296 App. B.2 / RFC 2409 §6.2), 5 (1536-bit),
//! 14 (2048-bit) and 16 (4096-bit) (RFC 3526 §2, §3, §5). Generator g = 2.

use std::sync::OnceLock;

use num_bigint::BigUint;

use crate::crypto::CryptoError;

/// Group IDs this implementation supports, strongest first.
pub const SUPPORTED_GROUPS: [u64; 4] = [16, 14, 5, 2];

/// MODP group 2 prime (1024 bits), big-endian hex as printed in the RFC.
const P2_HEX: &[&str] = &[
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
];

/// MODP group 5 prime (1536 bits), big-endian hex as printed in the RFC.
const P5_HEX: &[&str] = &[
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF",
];

/// MODP group 14 prime (2048 bits), big-endian hex as printed in the RFC.
const P14_HEX: &[&str] = &[
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
];

/// MODP group 16 prime (4096 bits), big-endian hex as printed in the RFC.
const P16_HEX: &[&str] = &[
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33",
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864",
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2",
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7",
    "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8",
    "DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2",
    "233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9",
    "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF",
];

/// One MODP group (RFC 3526): prime modulus `p`, generator 2.
#[derive(Debug)]
pub struct DhGroup {
    id: u64,
    p: BigUint,
    p_bytes: usize,
    exponent_bits: u64,
}

impl DhGroup {
    /// The group ID (2, 5, 14 or 16).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The prime modulus.
    pub fn prime(&self) -> &BigUint {
        &self.p
    }

    /// The prime's size in bits.
    pub fn bits(&self) -> u64 {
        self.p.bits()
    }

    /// Length in bytes of public keys we send (the modulus length).
    pub fn public_key_len(&self) -> usize {
        self.p_bytes
    }

    /// Bits in the private exponents we generate.
    ///
    /// Short exponents, at least twice the group's security strength
    /// (RFC 3526 §8 table; NIST SP 800-57 Pt. 1 Table 2 and SP 800-56A
    /// §5.6.1.1.1): 1024/1536/2048-bit groups are about 80/96/112-bit
    /// strong, so 256 bits; the 4096-bit group is about 150-bit strong
    /// (RFC 3526 §8 recommends a 300-480 bit exponent), so 320 bits.
    pub fn exponent_bits(&self) -> u64 {
        self.exponent_bits
    }
}

fn parse_hex(lines: &[&str]) -> BigUint {
    let hex: String = lines.concat();
    // The constants are valid hex; a failure here is a programming error
    // caught by the known-answer tests.
    BigUint::parse_bytes(hex.as_bytes(), 16).unwrap_or_default()
}

fn make(id: u64, lines: &[&str], exponent_bits: u64) -> DhGroup {
    let p = parse_hex(lines);
    let p_bytes = p.bits().div_ceil(8) as usize;
    DhGroup {
        id,
        p,
        p_bytes,
        exponent_bits,
    }
}

/// The MODP group with this ID, if supported.
pub fn group(id: u64) -> Option<&'static DhGroup> {
    static G2: OnceLock<DhGroup> = OnceLock::new();
    static G5: OnceLock<DhGroup> = OnceLock::new();
    static G14: OnceLock<DhGroup> = OnceLock::new();
    static G16: OnceLock<DhGroup> = OnceLock::new();
    match id {
        2 => Some(G2.get_or_init(|| make(2, P2_HEX, 256))),
        5 => Some(G5.get_or_init(|| make(5, P5_HEX, 256))),
        14 => Some(G14.get_or_init(|| make(14, P14_HEX, 256))),
        16 => Some(G16.get_or_init(|| make(16, P16_HEX, 320))),
        _ => None,
    }
}

/// 2^24, the bound of RFC 7425 §4.6.2.
const BOUND: u64 = 1 << 24;

/// Checks a far public key against RFC 7425 §4.6.2: 2^24 <= y <= p − 2^24,
/// at least 16 one bits and at least 16 zero bits not counting leading
/// zeros.
pub fn validate_public_key(group: &DhGroup, y: &[u8]) -> Result<BigUint, CryptoError> {
    let y = BigUint::from_bytes_be(y);
    let bound = BigUint::from(BOUND);
    if y < bound || y > &group.p - &bound {
        return Err(CryptoError::BadPublicKey);
    }
    let ones = y.count_ones();
    let zeros = y.bits() - ones;
    if ones < 16 || zeros < 16 {
        return Err(CryptoError::BadPublicKey);
    }
    Ok(y)
}

/// Encodes a shared secret as DH_SECRET: big-endian with no leading zero
/// bytes (RFC 7425 §4.6.2; 4886718345 → `01 23 45 67 89`).
pub fn encode_secret(secret: &BigUint) -> Vec<u8> {
    if secret.bits() == 0 {
        return Vec::new();
    }
    secret.to_bytes_be()
}

/// A Diffie-Hellman key pair in one group.
#[derive(Clone)]
pub struct DhKeyPair {
    group: &'static DhGroup,
    private: BigUint,
    public: Vec<u8>,
}

impl std::fmt::Debug for DhKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhKeyPair")
            .field("group", &self.group.id)
            .finish_non_exhaustive()
    }
}

impl DhKeyPair {
    /// Generates a key pair with a short random private exponent of
    /// [`DhGroup::exponent_bits`] bits (top bit set). Regenerates in the
    /// astronomically unlikely case the public key would fail RFC 7425
    /// §4.6.2 at the far end.
    pub fn generate(group: &'static DhGroup, rng: &mut dyn rand::RngCore) -> Self {
        let nbytes = group.exponent_bits.div_ceil(8) as usize;
        let mut buf = vec![0u8; nbytes];
        loop {
            rng.fill_bytes(&mut buf);
            buf[0] |= 0x80;
            let x = BigUint::from_bytes_be(&buf);
            let kp = Self::from_private_int(group, x);
            if validate_public_key(group, &kp.public).is_ok() {
                return kp;
            }
        }
    }

    /// A key pair from a big-endian private exponent (for static keys kept
    /// across runs, and for test vectors).
    pub fn from_private(group: &'static DhGroup, private: &[u8]) -> Self {
        Self::from_private_int(group, BigUint::from_bytes_be(private))
    }

    fn from_private_int(group: &'static DhGroup, x: BigUint) -> Self {
        let y = BigUint::from(2u32).modpow(&x, &group.p);
        let mut public = y.to_bytes_be();
        if public.len() < group.p_bytes {
            let mut padded = vec![0u8; group.p_bytes - public.len()];
            padded.extend_from_slice(&public);
            public = padded;
        }
        DhKeyPair {
            group,
            private: x,
            public,
        }
    }

    /// The group.
    pub fn group(&self) -> &'static DhGroup {
        self.group
    }

    /// The public key, big-endian, padded to the modulus length.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// The private exponent, big-endian.
    pub fn private_key(&self) -> Vec<u8> {
        self.private.to_bytes_be()
    }

    /// Validates the far public key (RFC 7425 §4.6.2) and computes
    /// DH_SECRET.
    pub fn shared_secret(&self, far_public: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let y = validate_public_key(self.group, far_public)?;
        Ok(encode_secret(&y.modpow(&self.private, &self.group.p)))
    }
}
