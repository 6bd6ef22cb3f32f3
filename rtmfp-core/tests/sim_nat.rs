//! NAT boxes: mapping, filtering, expiry, hairpinning, nesting, hole punching.

use std::net::SocketAddr;
use std::time::Duration;

use rtmfp_core::sim::toy::Recorder;
use rtmfp_core::sim::{
    self, DropReason, Limits, NatBehaviour, NatConfig, NatId, NodeId, Sim, Stop,
};

const NAT_IP: [u8; 4] = [198, 51, 100, 1];

fn a(s: &str) -> SocketAddr {
    sim::addr(s)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A client behind one NAT; a server with two ports; another public host.
struct World {
    sim: Sim,
    nat: NatId,
    client: NodeId,
    server: NodeId,
    other: NodeId,
}

const CLIENT: &str = "192.168.1.2:5000";
const SERVER: &str = "203.0.113.10:1000";
const SERVER_PORT2: &str = "203.0.113.10:2000";
const OTHER: &str = "203.0.113.20:3000";

fn world(seed: u64, config: NatConfig) -> World {
    let mut sim = Sim::new(sim::seed_from_env_or(seed));
    let nat = sim.add_nat(config);
    let client = sim.add_node_behind(nat, Recorder::new(), &[a(CLIENT)]);
    let server = sim.add_node(Recorder::new(), &[a(SERVER), a(SERVER_PORT2)]);
    let other = sim.add_node(Recorder::new(), &[a(OTHER)]);
    World {
        sim,
        nat,
        client,
        server,
        other,
    }
}

fn idle(sim: &mut Sim) {
    let r = sim.run_until_idle(Limits::default());
    assert_eq!(r.stop, Stop::Idle, "{r}");
}

fn send(sim: &mut Sim, node: NodeId, from: &str, to: SocketAddr, data: &[u8]) {
    sim.node_mut::<Recorder>(node).send_from(a(from), to, data);
}

fn inbox_len(sim: &Sim, node: NodeId) -> usize {
    sim.node::<Recorder>(node).inbox.len()
}

/// The client says hello to the server; returns the public address the server saw.
fn hello(w: &mut World) -> SocketAddr {
    let before = inbox_len(&w.sim, w.server);
    send(&mut w.sim, w.client, CLIENT, a(SERVER), b"hello");
    idle(&mut w.sim);
    let inbox = &w.sim.node::<Recorder>(w.server).inbox;
    assert_eq!(inbox.len(), before + 1, "{}", w.sim);
    inbox.last().unwrap().remote
}

#[test]
fn filtering_follows_the_nat_type() {
    use NatBehaviour::*;
    // (behaviour, other port of the contacted host passes, other host passes)
    for (behaviour, port_ok, host_ok) in [
        (FullCone, true, true),
        (AddressRestricted, true, false),
        (PortRestricted, false, false),
        (Symmetric, false, false),
    ] {
        let mut w = world(20, NatConfig::new(NAT_IP, behaviour));
        let mapped = hello(&mut w);
        assert_eq!(
            mapped.ip(),
            std::net::IpAddr::from(NAT_IP),
            "source translated; {behaviour:?}"
        );
        let maps = w.sim.nat_mappings(w.nat);
        assert_eq!(maps.len(), 1, "{behaviour:?}");
        assert_eq!((maps[0].internal, maps[0].external), (a(CLIENT), mapped));

        send(&mut w.sim, w.server, SERVER, mapped, b"reply");
        send(&mut w.sim, w.server, SERVER_PORT2, mapped, b"other port");
        send(&mut w.sim, w.other, OTHER, mapped, b"other host");
        idle(&mut w.sim);
        let c = w.sim.node::<Recorder>(w.client);
        let ctx = format!("{behaviour:?}; {}", w.sim);
        assert_eq!(c.count_from(a(SERVER)), 1, "the reply passes; {ctx}");
        assert_eq!(c.inbox[0].local, a(CLIENT), "{ctx}");
        assert_eq!(c.count_from(a(SERVER_PORT2)), port_ok as usize, "{ctx}");
        assert_eq!(c.count_from(a(OTHER)), host_ok as usize, "{ctx}");
        let filtered = (!port_ok) as u64 + (!host_ok) as u64;
        assert_eq!(
            w.sim.stats().drops.get(DropReason::NatFiltered),
            filtered,
            "{ctx}"
        );
        assert_eq!(w.sim.nat_stats(w.nat).dropped_filtered, filtered, "{ctx}");
    }
}

#[test]
fn symmetric_maps_each_destination_to_its_own_port() {
    use NatBehaviour::*;
    for behaviour in [FullCone, AddressRestricted, PortRestricted, Symmetric] {
        let mut w = world(21, NatConfig::new(NAT_IP, behaviour));
        for to in [SERVER, SERVER_PORT2, OTHER] {
            send(&mut w.sim, w.client, CLIENT, a(to), b"hi");
        }
        idle(&mut w.sim);
        let inboxes = [w.server, w.other].map(|n| w.sim.node::<Recorder>(n).inbox.clone());
        let seen: Vec<SocketAddr> = inboxes.iter().flatten().map(|r| r.remote).collect();
        assert_eq!(seen.len(), 3, "{}", w.sim);
        assert!(seen
            .iter()
            .all(|s| s.ip() == std::net::IpAddr::from(NAT_IP)));
        let mut ports: Vec<u16> = seen.iter().map(|s| s.port()).collect();
        ports.sort();
        ports.dedup();
        let maps = w.sim.nat_mappings(w.nat);
        if behaviour == Symmetric {
            assert_eq!(ports.len(), 3, "a port per destination; {}", w.sim);
            assert_eq!(maps.len(), 3);
            assert!(maps.iter().all(|m| m.remote.is_some()));
        } else {
            assert_eq!(
                ports,
                [40000],
                "one endpoint-independent port; {behaviour:?}"
            );
            assert_eq!(maps.len(), 1);
        }
    }
}

#[test]
fn unsolicited_datagrams_find_no_mapping() {
    let mut w = world(22, NatConfig::new(NAT_IP, NatBehaviour::FullCone));
    send(
        &mut w.sim,
        w.other,
        OTHER,
        a("198.51.100.1:40000"),
        b"knock",
    );
    idle(&mut w.sim);
    assert_eq!(inbox_len(&w.sim, w.client), 0);
    assert_eq!(
        w.sim.stats().drops.get(DropReason::NatNoMapping),
        1,
        "{}",
        w.sim
    );
    // Private addresses are not routable from the internet.
    send(&mut w.sim, w.other, OTHER, a(CLIENT), b"knock");
    idle(&mut w.sim);
    assert_eq!(w.sim.stats().drops.get(DropReason::NoRoute), 1, "{}", w.sim);
}

#[test]
fn mappings_expire_after_the_timeout() {
    for behaviour in [
        NatBehaviour::FullCone,
        NatBehaviour::PortRestricted,
        NatBehaviour::Symmetric,
    ] {
        let mut w = world(
            23,
            NatConfig::new(NAT_IP, behaviour).with_mapping_timeout(secs(30)),
        );
        let mapped = hello(&mut w); // mapping made at t = 10 ms
        let _ = w.sim.run_for(secs(28));
        send(&mut w.sim, w.server, SERVER, mapped, b"still open");
        idle(&mut w.sim);
        assert_eq!(inbox_len(&w.sim, w.client), 1, "{behaviour:?}; {}", w.sim);
        let _ = w.sim.run_for(secs(2)); // t > 30.01 s: expired
        assert!(w.sim.nat_mappings(w.nat).is_empty(), "{}", w.sim);
        send(&mut w.sim, w.server, SERVER, mapped, b"too late");
        idle(&mut w.sim);
        assert_eq!(inbox_len(&w.sim, w.client), 1, "{behaviour:?}; {}", w.sim);
        assert_eq!(
            w.sim.stats().drops.get(DropReason::NatNoMapping),
            1,
            "{}",
            w.sim
        );
        // Sending again makes a fresh mapping on a new port.
        let again = hello(&mut w);
        assert_ne!(again, mapped, "{behaviour:?}; {}", w.sim);
    }
}

#[test]
fn outbound_refreshes_mappings_and_inbound_does_not_by_default() {
    let cfg = NatConfig::new(NAT_IP, NatBehaviour::PortRestricted).with_mapping_timeout(secs(30));
    // Outbound keepalives every 20 s hold the mapping for 100 s.
    let mut w = world(24, cfg.clone());
    let mapped = hello(&mut w);
    for _ in 0..5 {
        let _ = w.sim.run_for(secs(20));
        assert_eq!(hello(&mut w), mapped, "{}", w.sim);
    }
    send(&mut w.sim, w.server, SERVER, mapped, b"reply");
    idle(&mut w.sim);
    assert_eq!(inbox_len(&w.sim, w.client), 1, "{}", w.sim);

    // Inbound traffic alone does not: the mapping dies 30 s after the hello,
    // so only the pushes at 10 s and 20 s get in.
    for (inbound_refresh, expected) in [(false, 2), (true, 10)] {
        let mut w = world(25, cfg.clone().with_inbound_refresh(inbound_refresh));
        let mapped = hello(&mut w);
        for _ in 0..10 {
            let _ = w.sim.run_for(secs(10));
            send(&mut w.sim, w.server, SERVER, mapped, b"push");
        }
        idle(&mut w.sim);
        assert_eq!(
            inbox_len(&w.sim, w.client),
            expected,
            "refresh {inbound_refresh}; {}",
            w.sim
        );
    }
}

/// A and B, both at 192.168.1.2:5000 behind their own NATs, register with
/// a rendezvous server, then punch toward each other's public address.
/// Returns (datagrams A got from B, datagrams B got from A, sim).
fn punch(seed: u64, behaviour: NatBehaviour, rounds: usize) -> (usize, usize, Sim) {
    let (from_b, from_a, sim, _) = punch_with(seed, rounds, |ip| NatConfig::new(ip, behaviour));
    (from_b, from_a, sim)
}

fn punch_with(
    seed: u64,
    rounds: usize,
    config: impl Fn([u8; 4]) -> NatConfig,
) -> (usize, usize, Sim, [NatId; 2]) {
    let mut sim = Sim::new(sim::seed_from_env_or(seed));
    let nat1 = sim.add_nat(config([198, 51, 100, 1]));
    let nat2 = sim.add_nat(config([198, 51, 100, 2]));
    let na = sim.add_node_behind(nat1, Recorder::new(), &[a(CLIENT)]);
    let nb = sim.add_node_behind(nat2, Recorder::new(), &[a(CLIENT)]);
    let s = sim.add_node(Recorder::new(), &[a(SERVER)]);
    send(&mut sim, na, CLIENT, a(SERVER), b"register");
    send(&mut sim, nb, CLIENT, a(SERVER), b"register");
    idle(&mut sim);
    let seen = sim.node::<Recorder>(s).remotes();
    assert_eq!(seen.len(), 2, "{sim}");
    let (a_pub, b_pub) = (seen[0], seen[1]);
    assert_eq!(
        (a_pub.ip(), b_pub.ip()),
        ([198, 51, 100, 1].into(), [198, 51, 100, 2].into())
    );
    for _ in 0..rounds {
        send(&mut sim, na, CLIENT, b_pub, b"punch");
        send(&mut sim, nb, CLIENT, a_pub, b"punch");
        idle(&mut sim);
    }
    let from_b = sim.node::<Recorder>(na).inbox.len();
    let from_a = sim.node::<Recorder>(nb).inbox.len();
    (from_b, from_a, sim, [nat1, nat2])
}

#[test]
fn hole_punching_between_port_restricted_nats_works() {
    let (from_b, from_a, sim) = punch(26, NatBehaviour::PortRestricted, 2);
    // A's first punch reaches NAT 2 before B's opens it, and is filtered;
    // every later one passes both ways.
    assert_eq!((from_b, from_a), (2, 1), "{sim}");
    assert_eq!(sim.stats().drops.get(DropReason::NatFiltered), 1, "{sim}");
}

/// Linux MASQUERADE without an input filter (docs/nat.md): A's first punch
/// reaches NAT 2 before B's leaves, and NAT 2 keeps an entry for it.  B's
/// punch to A would be the reverse of that entry, so it leaves from another
/// port, which NAT 1 has never sent to: filtered, and kept in turn.  From
/// then on every punch lands on one of those entries, in both directions.
#[test]
fn hole_punching_between_nats_that_confirm_unsolicited_datagrams_fails() {
    let (from_b, from_a, sim, [nat1, nat2]) = punch_with(29, 3, |ip| {
        NatConfig::new(ip, NatBehaviour::PortRestricted).with_confirm_unsolicited(true)
    });
    assert_eq!((from_b, from_a), (0, 0), "{sim}");
    let (n1, n2) = (sim.nat_stats(nat1), sim.nat_stats(nat2));
    // NAT 2 kept A's first punch; NAT 1 kept B's first punch, which came
    // from the port the clash gave it.
    assert_eq!(
        (n1.confirmed_unsolicited, n2.confirmed_unsolicited),
        (1, 1),
        "{sim}"
    );
    assert_eq!((n1.clash_remaps, n2.clash_remaps), (0, 1), "{sim}");
    assert_eq!(sim.stats().drops.get(DropReason::NatFiltered), 6, "{sim}");
    // The same NATs with an input filter: the first punch leaves nothing.
    let (from_b, from_a, sim) = punch(29, NatBehaviour::PortRestricted, 3);
    assert_eq!((from_b, from_a), (3, 2), "{sim}");
}

#[test]
fn hole_punching_between_symmetric_nats_fails() {
    let (from_b, from_a, sim) = punch(27, NatBehaviour::Symmetric, 3);
    assert_eq!((from_b, from_a), (0, 0), "{sim}");
    assert_eq!(sim.stats().drops.get(DropReason::NatFiltered), 6, "{sim}");
}

#[test]
fn hairpinning_is_configurable() {
    for hairpin in [true, false] {
        let mut sim = Sim::new(sim::seed_from_env_or(28));
        let nat =
            sim.add_nat(NatConfig::new(NAT_IP, NatBehaviour::PortRestricted).with_hairpin(hairpin));
        let (pa, pb) = ("192.168.1.2:5000", "192.168.1.3:5000");
        let na = sim.add_node_behind(nat, Recorder::new(), &[a(pa)]);
        let nb = sim.add_node_behind(nat, Recorder::new(), &[a(pb)]);
        let s = sim.add_node(Recorder::new(), &[a(SERVER)]);
        send(&mut sim, na, pa, a(SERVER), b"register");
        send(&mut sim, nb, pb, a(SERVER), b"register");
        idle(&mut sim);
        let seen = sim.node::<Recorder>(s).remotes();
        let (a_pub, b_pub) = (seen[0], seen[1]);
        for _ in 0..2 {
            send(&mut sim, na, pa, b_pub, b"via nat");
            send(&mut sim, nb, pb, a_pub, b"via nat");
            idle(&mut sim);
        }
        let got = (
            sim.node::<Recorder>(na).count_from(b_pub),
            sim.node::<Recorder>(nb).count_from(a_pub),
        );
        if hairpin {
            // Filtering still applies: A's first datagram gets to B's mapping
            // before B has sent to A, and is filtered.
            assert_eq!(got, (2, 1), "{sim}");
        } else {
            assert_eq!(got, (0, 0), "{sim}");
            assert_eq!(sim.stats().drops.get(DropReason::NatHairpin), 4, "{sim}");
        }
        // On the LAN they reach each other directly, untranslated.
        send(&mut sim, na, pa, a(pb), b"lan");
        idle(&mut sim);
        assert_eq!(sim.node::<Recorder>(nb).count_from(a(pa)), 1, "{sim}");
    }
}

#[test]
fn nested_nats_translate_twice() {
    let mut sim = Sim::new(sim::seed_from_env_or(29));
    let cgn =
        sim.add_nat(NatConfig::new(NAT_IP, NatBehaviour::PortRestricted).with_first_port(50000));
    let home = sim.add_nat_behind(cgn, NatConfig::new([100, 64, 0, 2], NatBehaviour::FullCone));
    let c = sim.add_node_behind(home, Recorder::new(), &[a(CLIENT)]);
    let s = sim.add_node(Recorder::new(), &[a(SERVER)]);
    send(&mut sim, c, CLIENT, a(SERVER), b"hi");
    idle(&mut sim);
    let seen = sim.node::<Recorder>(s).inbox[0].remote;
    assert_eq!(seen, a("198.51.100.1:50000"), "{sim}");
    let inner = sim.nat_mappings(home);
    assert_eq!(
        (inner[0].internal, inner[0].external),
        (a(CLIENT), a("100.64.0.2:40000"))
    );
    assert_eq!(sim.nat_mappings(cgn)[0].internal, a("100.64.0.2:40000"));
    send(&mut sim, s, SERVER, seen, b"back");
    idle(&mut sim);
    assert_eq!(sim.node::<Recorder>(c).count_from(a(SERVER)), 1, "{sim}");
}

#[test]
fn a_nat_reset_moves_the_client_to_a_new_port() {
    let mut w = world(30, NatConfig::new(NAT_IP, NatBehaviour::PortRestricted));
    let before = hello(&mut w);
    w.sim.reset_nat(w.nat);
    assert!(w.sim.nat_mappings(w.nat).is_empty());
    send(&mut w.sim, w.server, SERVER, before, b"to the old port");
    idle(&mut w.sim);
    assert_eq!(inbox_len(&w.sim, w.client), 0, "{}", w.sim);
    let after = hello(&mut w);
    assert_eq!(after.ip(), before.ip());
    assert_ne!(after.port(), before.port(), "{}", w.sim);
}
