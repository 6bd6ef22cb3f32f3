//! The handshake: hostile datagrams into a responder endpoint that has an
//! open session.  Nothing may panic and no session may appear from junk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmfp_core::crypto::{CryptoProfile, PlainProfile};
use rtmfp_core::endpoint::{Endpoint, EndpointConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let config = EndpointConfig {
        rng_seed: Some(7),
        ..EndpointConfig::default()
    };
    let crypto: Arc<dyn CryptoProfile> = Arc::new(PlainProfile::new(b"responder".to_vec()));
    let mut endpoint = Endpoint::new(config, crypto, now);
    let from = "192.0.2.1:5000".parse().unwrap();
    let local = "192.0.2.2:1935".parse().unwrap();
    // Split the input into datagrams at 0xfe 0xfe markers.
    for (i, datagram) in data.split(|&b| b == 0xfe).enumerate() {
        let t = now + Duration::from_millis(i as u64 * 10);
        endpoint.handle_datagram(t, local, from, datagram);
        let mut buf = Vec::new();
        while endpoint.poll_transmit(t, &mut buf).is_some() {}
        endpoint.handle_timeout(t);
    }
    while endpoint.poll_event().is_some() {}
});
