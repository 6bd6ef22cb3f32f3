//! The rendezvous server's handling of what a connected client sends
//! (RFC 7425 §5): a real session through the sans-IO endpoints in the
//! simulator (plain crypto, so that each input is cheap), a Flash `connect`,
//! then a structure-aware script from the input:
//!
//! ```text
//! op len body[len] op len body[len] ...
//! op % 4 == 0: open a flow whose metadata is `body` ("TC\x04\x01" ...)
//! op % 4 == 1: send `body` as a flow message on the current flow
//! op % 4 == 2: send a command: type 20, timestamp 0, then `body` (AMF0)
//! op % 4 == 3: let `body[0]` x 10 ms pass
//! ```
//!
//! Nothing may panic, and the server keeps at most the one client.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmfp_core::crypto::PlainProfile;
use rtmfp_core::endpoint::{Endpoint, EndpointConfig, Layered};
use rtmfp_core::flash::command::{Command, ConnectObject};
use rtmfp_core::flash::message::message_type;
use rtmfp_core::flow::{MessageOptions, Priority};
use rtmfp_core::rendezvous::{Hooks, Server, ServerConfig};
use rtmfp_core::sim::{addr, LinkConfig, Sim};
use std::sync::Arc;
use std::time::Duration;

const SERVER: &str = "203.0.113.1:1935";
const CLIENT: &str = "198.51.100.7:50000";

fn endpoint(sim: &Sim, name: &[u8]) -> Endpoint {
    let cfg = EndpointConfig {
        rng_seed: Some(7),
        ..EndpointConfig::default()
    };
    Endpoint::new(cfg, Arc::new(PlainProfile::new(name.to_vec())), sim.now())
}

/// Lets `ms` of virtual time pass.
fn pass(sim: &mut Sim, ms: u64) {
    let _ = sim.run_for(Duration::from_millis(ms));
}

fn flash_message(t: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![t, 0, 0, 0, 0];
    m.extend_from_slice(body);
    m
}

fuzz_target!(|data: &[u8]| {
    let mut sim = Sim::new(1);
    sim.set_default_link(LinkConfig::ideal().with_delay(Duration::from_millis(5)));
    let server_ep = endpoint(&sim, b"server");
    let server = sim.add_node(
        Layered::new(
            server_ep,
            Server::new(ServerConfig::default(), Hooks::default()),
        ),
        &[addr(SERVER)],
    );
    let client_ep = endpoint(&sim, b"client");
    let client = sim.add_node(client_ep, &[addr(CLIENT)]);
    let session = sim.with_node::<Endpoint, _>(client, |ep, now| {
        ep.connect(now, b"server".to_vec(), &[addr(SERVER)])
    });
    let Ok(session) = session else { return };
    pass(&mut sim, 200);

    // The NetConnection control flow and its connect.
    let connect = Command::connect(
        &ConnectObject::new("app/key", "rtmfp://203.0.113.1/app/key"),
        Vec::new(),
    )
    .encode(message_type::COMMAND_AMF0)
    .expect("a connect encodes");
    let Ok(mut flow) = sim.with_node::<Endpoint, _>(client, |ep, now| {
        let flow = ep.open_flow(session, b"TC\x04\x00", Priority::Routine, None)?;
        ep.send(
            now,
            session,
            flow,
            &flash_message(message_type::COMMAND_AMF0, &connect),
            MessageOptions::default(),
        )?;
        Ok::<_, rtmfp_core::endpoint::EndpointError>(flow)
    }) else {
        return;
    };
    pass(&mut sim, 100);
    // The script starts from a connected client: the server's policy code
    // for what follows is what this target is for.
    let connected = sim.with_node::<Layered<Server>, _>(server, |node, _| {
        node.layer.sessions().iter().filter(|c| c.connected).count()
    });
    assert_eq!(connected, 1, "the connect was accepted");

    let mut rest = data;
    let mut ops = 0;
    while rest.len() >= 2 && ops < 64 {
        ops += 1;
        let (op, len) = (rest[0], usize::from(rest[1]));
        let body = &rest[2..(2 + len).min(rest.len())];
        rest = &rest[(2 + len).min(rest.len())..];
        match op % 4 {
            0 => {
                let opened = sim.with_node::<Endpoint, _>(client, |ep, _| {
                    ep.open_flow(session, body, Priority::Routine, None)
                });
                if let Ok(f) = opened {
                    flow = f;
                }
            }
            1 | 2 => {
                let message = if op % 4 == 1 {
                    body.to_vec()
                } else {
                    flash_message(message_type::COMMAND_AMF0, body)
                };
                let _ = sim.with_node::<Endpoint, _>(client, |ep, now| {
                    ep.send(now, session, flow, &message, MessageOptions::default())
                });
            }
            _ => {
                let ticks = body.first().copied().unwrap_or(1);
                pass(&mut sim, 10 * u64::from(ticks));
            }
        }
        pass(&mut sim, 20);
    }
    pass(&mut sim, 200);
    let clients =
        sim.with_node::<Layered<Server>, _>(server, |node, _| node.layer.sessions().len());
    assert!(clients <= 1, "one client, {clients} sessions");
});
