//! STUN and TURN from the network (what a TURN server, a check service or
//! anyone who can reach those sockets sends): the shared codec, the check's
//! Binding layer, and a TURN client fed the datagrams as if from its
//! server.  Nothing may panic; a parsed message's accessors stay within it;
//! the client's state stays coherent (it keeps accepting sends).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmfp_core::stun::{self, attr, Message};
use rtmfp_core::turn::{TurnClient, TurnConfig};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        for t in [
            attr::XOR_MAPPED_ADDRESS,
            attr::XOR_RELAYED_ADDRESS,
            attr::XOR_PEER_ADDRESS,
        ] {
            let _ = m.xor_address(t);
        }
        let _ = m.address(attr::OTHER_ADDRESS);
        let _ = m.error_code();
        let _ = m.lifetime();
        let _ = m.check_integrity(b"key");
        assert!(m.bytes().len() <= data.len());
    }
    let _ = stun::parse_channel_data(data);
    let _ = rtmfp_core::check::stun::parse(data);

    // The same bytes, split into datagrams at 0xFF bytes, as the TURN
    // server's traffic to a client mid-allocation.
    let now = Instant::now();
    let config = TurnConfig::new("192.0.2.10:3478".parse().unwrap(), "u", "p");
    let mut client = TurnClient::new(config, now);
    let peer = "203.0.113.5:1935".parse().unwrap();
    for (i, datagram) in data.split(|b| *b == 0xFF).enumerate() {
        let t = now + Duration::from_millis(i as u64 * 100);
        let _ = client.receive(t, datagram);
        let _ = client.send(t, peer, datagram.to_vec());
        client.handle_timeout(t);
        while client.poll_transmit().is_some() {}
        while client.poll_event().is_some() {}
    }
});
