//! The datagram decoder: multiplex, Default Session Key, packet, chunks.
//! Nothing may panic, and whatever decodes must re-encode and decode to
//! the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmfp_core::crypto::flash::default_key::default_session_crypto;
use rtmfp_core::crypto::{CryptoProfile, PlainProfile, SessionCrypto};
use rtmfp_core::wire::{read_multiplex, Chunk, Packet};

fn check_plain(plain: &[u8]) {
    let Ok(packet) = Packet::parse(plain) else {
        return;
    };
    for raw in packet.chunks() {
        if let Ok(chunk) = raw.decode() {
            let mut bytes = Vec::new();
            chunk.encode(&mut bytes).expect("decoded chunk re-encodes");
            let again = Chunk::decode(bytes[0], &bytes[3..]).expect("re-encoded chunk decodes");
            assert_eq!(again, chunk);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The bytes as a plain packet...
    check_plain(data);
    // ...and as a datagram under the Flash Default Session Key.
    if let Ok((_session_id, encrypted)) = read_multiplex(data) {
        let mut plain = Vec::new();
        if default_session_crypto()
            .decrypt(encrypted, &mut plain)
            .is_ok()
        {
            check_plain(&plain);
        }
        plain.clear();
        let plain_profile = PlainProfile::new(b"fuzz".to_vec());
        if plain_profile
            .default_session_crypto()
            .decrypt(encrypted, &mut plain)
            .is_ok()
        {
            check_plain(&plain);
        }
    }
});
