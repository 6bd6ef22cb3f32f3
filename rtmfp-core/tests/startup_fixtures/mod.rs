//! Reading the captured startup datagrams of `tests/fixtures/` (shared by
//! the fixture tests of each independent implementation).

use rand::{rngs::StdRng, SeedableRng};
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile};
use rtmfp_core::wire::read_multiplex;

/// The bytes of `tests/fixtures/<dir>/<name>`.
pub fn fixture(dir: &str, name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/fixtures/{dir}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Decrypts a startup datagram with the Default Session Key (RFC 7425
/// §4.1); returns its session ID and plain packet.
pub fn open(dir: &str, name: &str) -> (u32, Vec<u8>) {
    let datagram = fixture(dir, name);
    let (session_id, encrypted) = read_multiplex(&datagram).unwrap();
    let profile = FlashProfile::new(FlashConfig::default(), &mut StdRng::seed_from_u64(0)).unwrap();
    let mut plain = Vec::new();
    profile
        .default_session_crypto()
        .decrypt(encrypted, &mut plain)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    (session_id, plain)
}
