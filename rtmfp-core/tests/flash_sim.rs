//! RFC 7425 §5 in the deterministic simulator: the Flash client layer
//! against the rendezvous server layer, with peers behind NATs.
//!
//! - connects, developer keys, `setPeerInfo` and Set Keepalive Timers;
//! - DIRECT_CONNECTIONS streams played by peer ID through the server as
//!   introducer, with the server carrying no media;
//! - `on_peer_connect` and `max_peer_connections`;
//! - publish/play through the server (relay), and name lookup.

use rand::{rngs::StdRng, SeedableRng};
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile};
use rtmfp_core::endpoint::{Endpoint, EndpointConfig, EndpointError, Layered};
use rtmfp_core::flash::client::{
    ClientConfig, ClientError, ClientEvent, FlashClient, StreamId, PLAY_RELAYED, PUBLISH_RELAYED,
};
use rtmfp_core::flash::command::{code, Command, StatusInfo};
use rtmfp_core::flash::flv::{self, SliceReader, Tag};
use rtmfp_core::flash::message::message_type;
use rtmfp_core::flash::peer_id::to_hex;
use rtmfp_core::flash::user_control::UserControlEvent;
use rtmfp_core::flash::Value;
use rtmfp_core::rendezvous::{
    AskEnd, AskError, AskKind, AskRequest, Asks, Hooks, KeySet, Server, ServerConfig, ServerEvent,
    NO_ANSWER,
};
use rtmfp_core::session::flows::FlowError;
use rtmfp_core::sim::{
    addr, seed_from_env_or, Limits, LinkConfig, NatBehaviour, NatConfig, NodeId, Sim, TraceKind,
};
use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SERVER: &str = "203.0.113.1:1935";
const URI: &str = "rtmfp://203.0.113.1:1935/app/GOODKEY";

type ClientNode = Layered<FlashClient>;
type ServerNode = Layered<Server>;

fn crypto(config: FlashConfig, seed: u64) -> Arc<dyn CryptoProfile> {
    Arc::new(FlashProfile::new(config, &mut StdRng::seed_from_u64(seed)).unwrap())
}

fn endpoint(sim: &Sim, config: FlashConfig, seed: u64) -> Endpoint {
    let ep = EndpointConfig {
        rng_seed: Some(seed ^ sim.seed()),
        ..EndpointConfig::default()
    };
    Endpoint::new(ep, crypto(config, seed ^ sim.seed()), sim.now())
}

/// A server, its clients and every client event seen so far.
struct World {
    sim: Sim,
    server: NodeId,
    clients: Vec<NodeId>,
    log: HashMap<NodeId, Vec<ClientEvent>>,
    server_log: Vec<ServerEvent>,
    next_seed: u64,
}

impl World {
    fn new(seed: u64, config: ServerConfig, hooks: Hooks) -> World {
        let mut sim = Sim::new(seed);
        sim.set_default_link(LinkConfig::ideal().with_delay(Duration::from_millis(15)));
        let server_ep = endpoint(&sim, FlashConfig::server(), 1);
        let server = sim.add_node(
            Layered::new(server_ep, Server::new(config, hooks)),
            &[addr(SERVER)],
        );
        World {
            sim,
            server,
            clients: Vec::new(),
            log: HashMap::new(),
            server_log: Vec::new(),
            next_seed: 100,
        }
    }

    fn keyed() -> World {
        World::new(
            seed_from_env_or(7425),
            ServerConfig {
                keys: KeySet::of(["GOODKEY"]),
                ..ServerConfig::default()
            },
            Hooks::default(),
        )
    }

    /// A client; behind its own NAT of `nat` behaviour if given.  Its
    /// local (setPeerInfo) address is its own socket address.
    fn add_client(&mut self, nat: Option<NatBehaviour>, config: ClientConfig) -> NodeId {
        let i = self.clients.len() as u8;
        self.next_seed += 1;
        let ep = endpoint(&self.sim, FlashConfig::client(), self.next_seed);
        let id = match nat {
            Some(behaviour) => {
                let public = addr(&format!("198.51.100.{}:0", 10 + i)).ip();
                let nat = self.sim.add_nat(NatConfig::new(public, behaviour));
                let local = addr(&format!("10.0.{i}.2:5000"));
                let config = ClientConfig {
                    local_addresses: vec![local],
                    ..config
                };
                self.sim
                    .add_node_behind(nat, Layered::new(ep, FlashClient::new(config)), &[local])
            }
            None => {
                let local = addr(&format!("192.0.2.{}:5000", 10 + i));
                let config = ClientConfig {
                    local_addresses: vec![local],
                    ..config
                };
                self.sim
                    .add_node(Layered::new(ep, FlashClient::new(config)), &[local])
            }
        };
        self.clients.push(id);
        self.log.insert(id, Vec::new());
        id
    }

    fn with<R>(
        &mut self,
        id: NodeId,
        f: impl FnOnce(&mut FlashClient, &mut Endpoint, Instant) -> R,
    ) -> R {
        self.sim
            .with_node::<ClientNode, R>(id, |node, now| node.with(now, f))
    }

    fn with_server<R>(&mut self, f: impl FnOnce(&mut Server, &mut Endpoint, Instant) -> R) -> R {
        let server = self.server;
        self.sim
            .with_node::<ServerNode, R>(server, |node, now| node.with(now, f))
    }

    fn connect(&mut self, id: NodeId, uri: &str) {
        self.with(id, |c, ep, now| {
            c.connect(ep, now, uri, &[addr(SERVER)], vec![]).unwrap()
        });
    }

    fn near_id(&self, id: NodeId) -> [u8; 32] {
        self.sim.node::<ClientNode>(id).endpoint.peer_id().unwrap()
    }

    /// Runs until `done` holds over the event logs, at most `limit`.
    fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&HashMap<NodeId, Vec<ClientEvent>>, &[ServerEvent]) -> bool,
    ) -> bool {
        let clients = self.clients.clone();
        let server = self.server;
        let log = &mut self.log;
        let server_log = &mut self.server_log;
        self.sim
            .run_until(
                |sim| {
                    for &id in &clients {
                        let node = sim.node_mut::<ClientNode>(id);
                        let entry = log.get_mut(&id).unwrap();
                        entry.extend(std::iter::from_fn(|| node.layer.poll_event()));
                    }
                    let node = sim.node_mut::<ServerNode>(server);
                    server_log.extend(std::iter::from_fn(|| node.layer.poll_event()));
                    done(log, server_log)
                },
                Limits::time(limit),
            )
            .satisfied()
    }

    /// Runs `d` of virtual time, then collects the events.
    fn run_for(&mut self, d: Duration) {
        let _ = self.sim.run_for(d);
        self.run_until(Duration::ZERO, |_, _| true);
    }

    /// Runs until client `id` has a status with `code` (on any stream);
    /// returns it.
    /// Waits (bounded) for the answer to call `txn` of client `id`:
    /// whether it was `_result`, and the response.
    fn call_result(&mut self, id: NodeId, txn: f64) -> (bool, Command) {
        assert!(self.run_until(Duration::from_secs(5), |log, _| {
            log[&id].iter().any(|e| matches!(e, ClientEvent::CallResult { transaction_id, .. } if *transaction_id == txn))
        }));
        self.log[&id]
            .iter()
            .find_map(|e| match e {
                ClientEvent::CallResult {
                    transaction_id,
                    ok,
                    response,
                } if *transaction_id == txn => Some((*ok, response.clone())),
                _ => None,
            })
            .unwrap()
    }

    fn wait_status(&mut self, id: NodeId, code: &str, limit: Duration) -> StatusInfo {
        let found = self.run_until(limit, |log, _| has_status(&log[&id], code));
        assert!(
            found,
            "client {id} never saw {code}; sim seed = {}; events: {:#?}",
            self.sim.seed(),
            statuses(&self.log[&id])
        );
        self.log[&id]
            .iter()
            .find_map(|e| match e {
                ClientEvent::Status { info, .. } if info.code == code => Some(info.clone()),
                _ => None,
            })
            .unwrap()
    }

    fn connected(&mut self, nat: Option<NatBehaviour>, config: ClientConfig) -> NodeId {
        let id = self.add_client(nat, config);
        self.connect(id, URI);
        self.wait_status(id, code::CONNECT_SUCCESS, Duration::from_secs(10));
        id
    }

    fn media(&self, id: NodeId, stream: StreamId) -> Vec<(u8, u32, Vec<u8>)> {
        self.log[&id]
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Media {
                    stream: s,
                    message_type,
                    timestamp,
                    payload,
                } if *s == stream => Some((*message_type, *timestamp, payload.clone())),
                _ => None,
            })
            .collect()
    }
}

fn has_status(events: &[ClientEvent], code: &str) -> bool {
    events.iter().any(|e| e.status_code() == Some(code))
}

fn statuses(events: &[ClientEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Status { stream, info } => Some(format!(
                "{stream:?} {} {} ({})",
                info.level, info.code, info.description
            )),
            _ => None,
        })
        .collect()
}

fn status_of(events: &[ClientEvent], stream: StreamId, code: &str) -> Option<StatusInfo> {
    events.iter().find_map(|e| match e {
        ClientEvent::Status {
            stream: Some(s),
            info,
        } if *s == stream && info.code == code => Some(info.clone()),
        _ => None,
    })
}

/// The synthetic FLV's tags, owned.
fn tags(duration_ms: u32) -> Vec<Tag<'static>> {
    let file = flv::synthetic(duration_ms, 25, 20);
    SliceReader::new(&file)
        .unwrap()
        .map(|t| t.unwrap().into_owned())
        .collect()
}

/// Every audio and video tag of `tags` is in `got` (media messages as
/// `World::media` gives them), in order, with its timestamp and bytes.
fn assert_every_tag(got: &[(u8, u32, Vec<u8>)], tags: &[Tag<'static>]) {
    for kind in [8u8, 9] {
        let g: Vec<_> = got.iter().filter(|m| m.0 == kind).collect();
        let e: Vec<_> = tags
            .iter()
            .filter(|t| t.tag_type == kind)
            .map(|t| (t.tag_type, t.timestamp, t.data.to_vec()))
            .collect();
        assert_eq!(g.len(), e.len(), "type {kind}: every tag, in order");
        assert!(g.iter().zip(&e).all(|(g, e)| **g == *e), "type {kind}");
    }
}

/// Sends the tags from client `id` on `stream`, each at its timestamp
/// (virtual time); returns the messages that went out to at least one
/// destination.
fn stream_tags(world: &mut World, id: NodeId, stream: StreamId, tags: &[Tag<'static>]) -> usize {
    let start = world.sim.now();
    let mut sent = 0;
    for tag in tags {
        let at = start + Duration::from_millis(u64::from(tag.timestamp));
        if at > world.sim.now() {
            let _ = world.sim.run_until_time(at);
        }
        let n = world.with(id, |c, ep, now| {
            c.send(ep, now, stream, tag.tag_type, tag.timestamp, &tag.data)
                .unwrap()
        });
        if n > 0 {
            sent += 1;
        }
    }
    sent
}

#[test]
fn peers_behind_nats_connect_with_keys_peer_info_and_keepalive_advice() {
    let mut w = World::keyed();
    let a = w.connected(Some(NatBehaviour::PortRestricted), ClientConfig::default());
    let b = w.connected(Some(NatBehaviour::PortRestricted), ClientConfig::default());
    // setPeerInfo reaches the server after the connect succeeds.
    assert!(w.run_until(Duration::from_secs(2), |_, s| {
        s.iter()
            .filter(|e| matches!(e, ServerEvent::PeerInfo { .. }))
            .count()
            == 2
    }));
    let sessions = w.with_server(|s, _, _| s.sessions());
    assert_eq!(sessions.len(), 2);
    for (id, info) in [(a, &sessions[0]), (b, &sessions[1])] {
        assert!(info.connected);
        assert_eq!(info.peer_id, Some(w.near_id(id)));
        assert_eq!(info.key.as_deref(), Some("GOODKEY"));
        assert_eq!(info.app, "app/GOODKEY");
        // The server sees the NAT's public address, not the private one
        // the peer announced: behind a NAT (RFC 7425 §5.3.3).
        assert_eq!(info.addresses.len(), 1);
        assert!(info.addresses[0].ip().to_string().starts_with("10.0."));
        assert!(info.address.ip().to_string().starts_with("198.51.100."));
        assert_eq!(info.behind_nat, Some(true));
        // Registered for introductions.
        let record = w.with_server(move |s, _, _| s.lookup_peer(&info.peer_id.unwrap()));
        let record = record.expect("registered");
        assert_eq!(record.observed, info.address);
        assert_eq!(record.addresses, info.addresses);
    }
    // Flash identity: near/far IDs, nonces.
    let (far, near_nonce, far_nonce, server_id) = {
        let server_id = w.sim.node::<ServerNode>(w.server).endpoint.peer_id();
        let c = &w.sim.node::<ClientNode>(a).layer;
        (
            c.far_id(),
            c.near_nonce().map(<[u8]>::to_vec),
            c.far_nonce().map(<[u8]>::to_vec),
            server_id,
        )
    };
    assert_eq!(far, server_id);
    assert_eq!(near_nonce.unwrap().len(), 32);
    assert_eq!(far_nonce.unwrap().len(), 32);
    assert_eq!(to_hex(&w.near_id(a)).len(), 64);
    // Set Keepalive Timers (15 s / 10 s by default) is applied (§5.3.4).
    let timers = w.log[&a].iter().find_map(|e| match e {
        ClientEvent::KeepaliveTimers { server, peer } => Some((*server, *peer)),
        _ => None,
    });
    assert_eq!(
        timers,
        Some((Duration::from_secs(15), Duration::from_secs(10)))
    );
    let server_session = w.sim.node::<ClientNode>(a).layer.server_session().unwrap();
    assert_eq!(
        w.sim
            .node::<ClientNode>(a)
            .endpoint
            .keepalive_interval(server_session),
        Some(Duration::from_secs(15))
    );
    // The success info object is the server's.
    let info = w.log[&a]
        .iter()
        .find_map(|e| match e {
            ClientEvent::Status { stream: None, info } => Some(info.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(info.level, "status");
    assert_eq!(info.code, code::CONNECT_SUCCESS);
}

#[test]
fn a_bad_developer_key_is_rejected_and_the_session_closed() {
    let mut w = World::keyed();
    let bad = w.add_client(None, ClientConfig::default());
    w.connect(bad, "rtmfp://203.0.113.1:1935/app/BADKEY");
    let info = w.wait_status(bad, code::CONNECT_REJECTED, Duration::from_secs(10));
    assert_eq!(info.level, "error");
    assert!(info.description.contains("BADKEY"), "{info:?}");
    assert!(w
        .server_log
        .iter()
        .any(|e| matches!(e, ServerEvent::Rejected { reason, .. } if reason.contains("BADKEY"))));
    // No key at all is rejected too.
    let none = w.add_client(None, ClientConfig::default());
    w.connect(none, "rtmfp://203.0.113.1:1935/");
    let info = w.wait_status(none, code::CONNECT_REJECTED, Duration::from_secs(10));
    assert!(info.description.contains("required"), "{info:?}");
    // The sessions are closed; nothing is registered.
    w.run_for(Duration::from_secs(5));
    assert_eq!(w.with_server(|s, _, _| s.sessions()).len(), 0);
    assert_eq!(w.with_server(|s, _, _| s.stats().rejects), 2);
    assert_eq!(
        w.sim.node::<ServerNode>(w.server).endpoint.session_count(),
        0
    );
    // Never a success or a second status for the connection.
    for id in [bad, none] {
        let conn: Vec<_> = w.log[&id]
            .iter()
            .filter(|e| matches!(e, ClientEvent::Status { stream: None, .. }))
            .collect();
        assert_eq!(conn.len(), 1, "{conn:?}");
    }
}

#[test]
fn the_connect_hook_rejects_with_its_reason() {
    let hooks = Hooks {
        on_connect: Some(Box::new(|req| {
            if req.args.first().and_then(Value::as_str) == Some("let me in") {
                Ok(())
            } else {
                Err("the password is wrong".to_owned())
            }
        })),
        ..Hooks::default()
    };
    let mut w = World::new(seed_from_env_or(3), ServerConfig::default(), hooks);
    let no = w.add_client(None, ClientConfig::default());
    w.connect(no, URI);
    let info = w.wait_status(no, code::CONNECT_REJECTED, Duration::from_secs(10));
    assert_eq!(info.description, "the password is wrong");
    let yes = w.add_client(None, ClientConfig::default());
    w.with(yes, |c, ep, now| {
        c.connect(
            ep,
            now,
            URI,
            &[addr(SERVER)],
            vec![Value::from("let me in")],
        )
        .unwrap()
    });
    w.wait_status(yes, code::CONNECT_SUCCESS, Duration::from_secs(10));
}

/// Byte counter of everything the server node sends and receives.
fn tap_server(w: &mut World) -> Rc<Cell<u64>> {
    let bytes = Rc::new(Cell::new(0u64));
    let counter = bytes.clone();
    let server = w.server;
    w.sim.set_tap(move |event, _| match &event.kind {
        TraceKind::Send { node, len, .. } | TraceKind::Deliver { node, len, .. }
            if *node == server =>
        {
            counter.set(counter.get() + *len as u64)
        }
        _ => {}
    });
    bytes
}

#[test]
fn a_peer_plays_a_direct_stream_by_peer_id_and_the_server_carries_no_media() {
    let mut w = World::keyed();
    let a = w.connected(Some(NatBehaviour::PortRestricted), ClientConfig::default());
    let b = w.connected(Some(NatBehaviour::PortRestricted), ClientConfig::default());
    // A publishes DIRECT_CONNECTIONS.
    let cam = w.with(a, |c, ep, now| {
        let s = c.create_direct_stream();
        c.publish(ep, now, s, "cam").unwrap();
        s
    });
    assert!(
        status_of(&w.log[&a], cam, code::PUBLISH_START).is_some() || {
            w.wait_status(a, code::PUBLISH_START, Duration::from_secs(1));
            true
        }
    );
    // Nothing was sent to the server for it.
    assert!(w.with_server(|s, _, _| s.streams()).is_empty());
    // B knows only A's peer ID.
    let a_id = w.near_id(a);
    let play = w.with(b, |c, ep, now| {
        let s = c.create_peer_stream(a_id);
        c.play(ep, now, s, "cam").unwrap();
        s
    });
    w.wait_status(b, code::PLAY_START, Duration::from_secs(30));
    let log_b = &w.log[&b];
    assert!(status_of(log_b, play, code::CONNECT_SUCCESS_STREAM).is_some());
    assert!(status_of(log_b, play, code::PLAY_RESET).is_some());
    assert!(log_b.iter().any(|e| matches!(
        e,
        ClientEvent::UserControl { stream: Some(s), event: UserControlEvent::StreamBegin { .. } } if *s == play
    )));
    // The server introduced B to A.
    assert!(w
        .server_log
        .iter()
        .any(|e| matches!(e, ServerEvent::Introduced { target, .. } if *target == a_id)));
    // The P2P session is direct: B's far address for A is A's NAT.
    let b_client = &w.sim.node::<ClientNode>(b);
    let p2p = b_client
        .endpoint
        .find_session(&rtmfp_core::crypto::flash::epd::epd_for_fingerprint(&a_id))
        .expect("a session to A");
    let far = b_client.endpoint.session_info(p2p).unwrap().far_address;
    assert!(far.ip().to_string().starts_with("198.51.100."), "{far}");
    assert_ne!(far, addr(SERVER));
    // A has one subscriber, not yet sent anything.
    let (peers, unconnected) = {
        let c = &w.sim.node::<ClientNode>(a).layer;
        (c.peer_streams(Some(cam)), c.unconnected_peer_streams())
    };
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].far_id, Some(w.near_id(b)));
    assert_eq!(peers[0].name, "cam");
    assert_eq!(unconnected.len(), 1);

    // Stream 3 s of media, counting every byte the server sends or gets.
    let server_bytes = tap_server(&mut w);
    let tags = tags(3000);
    let media_bytes: usize = tags.iter().map(|t| t.data.len()).sum();
    let sent = stream_tags(&mut w, a, cam, &tags);
    assert_eq!(sent, tags.len());
    let want = tags.len();
    assert!(
        w.run_until(Duration::from_secs(10), |log, _| {
            log[&b]
                .iter()
                .filter(|e| matches!(e, ClientEvent::Media { .. }))
                .count()
                >= want
        }),
        "sim seed = {}",
        w.sim.seed()
    );
    let got = w.media(b, play);
    let expected: Vec<(u8, u32, Vec<u8>)> = tags
        .iter()
        .map(|t| (t.tag_type, t.timestamp, t.data.to_vec()))
        .collect();
    for kind in [8u8, 9, 18] {
        let g: Vec<_> = got.iter().filter(|m| m.0 == kind).collect();
        let e: Vec<_> = expected.iter().filter(|m| m.0 == kind).collect();
        assert_eq!(g, e, "type {kind} differs");
    }
    // The server saw keepalives at most: no media bytes.
    assert!(
        server_bytes.get() < 1000,
        "server carried {} bytes while {media_bytes} bytes of media flowed",
        server_bytes.get()
    );
    assert!(media_bytes > 30_000);
    let stats = w.with_server(|s, _, _| s.stats());
    assert_eq!(stats.media_in, 0);
    assert_eq!(stats.relayed, 0);
    let c = &w.sim.node::<ClientNode>(a).layer;
    assert!(c.unconnected_peer_streams().is_empty());
    let (v, au) = flv::synthetic_tag_counts(3000, 25, 20);
    assert_eq!(c.peer_streams(None)[0].media_sent, (v + au) as u64);

    // B stops: A forgets the subscriber (§5.4.3).
    w.with(b, |c, ep, now| c.close_stream(ep, now, play).unwrap());
    assert!(w.run_until(Duration::from_secs(5), |log, _| {
        log[&a]
            .iter()
            .any(|e| matches!(e, ClientEvent::PeerStreamClosed { .. }))
    }));
    assert!(w
        .sim
        .node::<ClientNode>(a)
        .layer
        .peer_streams(None)
        .is_empty());
}

/// Subscribes client `sub` to `name` at `publisher`; returns its stream.
fn subscribe(w: &mut World, sub: NodeId, publisher: NodeId, name: &str) -> StreamId {
    let id = w.near_id(publisher);
    w.with(sub, |c, ep, now| {
        let s = c.create_peer_stream(id);
        c.play(ep, now, s, name).unwrap();
        s
    })
}

/// Runs until `sub`'s `stream` has Play.Start or a refusal; returns the
/// decisive status.
fn outcome(w: &mut World, sub: NodeId, stream: StreamId) -> StatusInfo {
    let decisive = [
        code::PLAY_START,
        code::CONNECT_REJECTED_STREAM,
        code::PLAY_STREAM_NOT_FOUND,
        code::CONNECT_FAILED_STREAM,
    ];
    let done = w.run_until(Duration::from_secs(30), |log, _| {
        decisive
            .iter()
            .any(|c| status_of(&log[&sub], stream, c).is_some())
    });
    assert!(
        done,
        "no outcome: {:#?}\nall: {:#?}",
        statuses(&w.log[&sub]),
        w.log
            .iter()
            .map(|(k, v)| (
                k,
                statuses(v),
                v.iter()
                    .filter(|e| matches!(
                        e,
                        ClientEvent::PeerStreamClosed { .. } | ClientEvent::PeerStreamOpened { .. }
                    ))
                    .count()
            ))
            .collect::<Vec<_>>()
    );
    decisive
        .iter()
        .find_map(|c| status_of(&w.log[&sub], stream, c))
        .unwrap()
}

#[test]
fn on_peer_connect_rejects_the_third_subscriber() {
    let mut w = World::keyed();
    let a = w.connected(Some(NatBehaviour::PortRestricted), ClientConfig::default());
    let asked = Arc::new(AtomicUsize::new(0));
    let seen = asked.clone();
    let cam = w.with(a, move |c, ep, now| {
        c.set_peer_connect_policy(Some(Box::new(move |peer| {
            assert_eq!(peer.name, "cam");
            assert!(peer.far_id.is_some());
            seen.fetch_add(1, Ordering::SeqCst) != 2
        })));
        let s = c.create_direct_stream();
        c.publish(ep, now, s, "cam").unwrap();
        s
    });
    let subs: Vec<NodeId> = (0..3)
        .map(|_| w.connected(Some(NatBehaviour::PortRestricted), ClientConfig::default()))
        .collect();
    let mut results = Vec::new();
    for &sub in &subs {
        let s = subscribe(&mut w, sub, a, "cam");
        results.push(outcome(&mut w, sub, s));
    }
    assert_eq!(asked.load(Ordering::SeqCst), 3);
    assert_eq!(results[0].code, code::PLAY_START);
    assert_eq!(results[1].code, code::PLAY_START);
    assert_eq!(results[2].code, code::CONNECT_REJECTED_STREAM);
    assert_eq!(results[2].level, "error");
    assert!(results[2].description.contains("on_peer_connect"));
    let c = &w.sim.node::<ClientNode>(a).layer;
    assert_eq!(c.peer_streams(Some(cam)).len(), 2);
    assert!(w.log[&a].iter().any(|e| matches!(
        e,
        ClientEvent::PeerStreamClosed { reason, .. } if reason.contains(code::CONNECT_REJECTED_STREAM)
    )));
    // The rejected subscriber's control flow is rejected after the status
    // arrives: its stream is over and it gets no media.
    let n = stream_tags(&mut w, a, cam, &tags(500));
    assert!(n > 0);
    w.run_for(Duration::from_secs(2));
    assert!(w.media(subs[2], StreamId(1)).is_empty());
    assert!(!w.media(subs[0], StreamId(1)).is_empty());
}

#[test]
fn the_ninth_subscriber_is_refused_at_max_peer_connections() {
    let mut w = World::keyed();
    let a = w.connected(None, ClientConfig::default());
    assert_eq!(
        w.sim
            .node::<ClientNode>(a)
            .layer
            .config()
            .max_peer_connections,
        8
    );
    let cam = w.with(a, |c, ep, now| {
        let s = c.create_direct_stream();
        c.publish(ep, now, s, "cam").unwrap();
        s
    });
    let mut outcomes = Vec::new();
    for _ in 0..9 {
        let sub = w.connected(None, ClientConfig::default());
        let s = subscribe(&mut w, sub, a, "cam");
        outcomes.push(outcome(&mut w, sub, s));
    }
    for o in &outcomes[..8] {
        assert_eq!(o.code, code::PLAY_START);
    }
    assert_eq!(outcomes[8].code, code::CONNECT_REJECTED_STREAM);
    assert_eq!(outcomes[8].level, "error");
    assert!(
        outcomes[8]
            .description
            .contains("max_peer_connections (8) reached"),
        "{:?}",
        outcomes[8]
    );
    assert_eq!(
        w.sim
            .node::<ClientNode>(a)
            .layer
            .peer_streams(Some(cam))
            .len(),
        8
    );
    // A wrong name is "not found", not a slot.
    let late = w.connected(None, ClientConfig::default());
    let s = subscribe(&mut w, late, a, "nope");
    assert_eq!(outcome(&mut w, late, s).code, code::PLAY_STREAM_NOT_FOUND);
}

#[test]
fn ask_mode_waits_for_accept_or_reject() {
    let mut w = World::keyed();
    let a = w.connected(
        None,
        ClientConfig {
            peer_connect: rtmfp_core::flash::client::PeerConnectMode::Ask,
            ..ClientConfig::default()
        },
    );
    w.with(a, |c, ep, now| {
        let s = c.create_direct_stream();
        c.publish(ep, now, s, "cam").unwrap();
    });
    let b = w.connected(None, ClientConfig::default());
    let d = w.connected(None, ClientConfig::default());
    let sb = subscribe(&mut w, b, a, "cam");
    let sd = subscribe(&mut w, d, a, "cam");
    assert!(w.run_until(Duration::from_secs(30), |log, _| {
        log[&a]
            .iter()
            .filter(|e| matches!(e, ClientEvent::PeerConnect { .. }))
            .count()
            == 2
    }));
    let asks: Vec<_> = w.log[&a]
        .iter()
        .filter_map(|e| match e {
            ClientEvent::PeerConnect { peer } => Some(peer.clone()),
            _ => None,
        })
        .collect();
    let b_id = w.near_id(b);
    let (yes, no) = if asks[0].far_id == Some(b_id) {
        (asks[0].id, asks[1].id)
    } else {
        (asks[1].id, asks[0].id)
    };
    assert_eq!(
        w.sim
            .node::<ClientNode>(a)
            .layer
            .unconnected_peer_streams()
            .len(),
        2
    );
    w.with(a, |c, ep, now| {
        c.accept_peer(ep, now, yes).unwrap();
        c.reject_peer(ep, now, no, "not a friend").unwrap();
    });
    assert_eq!(outcome(&mut w, b, sb).code, code::PLAY_START);
    let refused = outcome(&mut w, d, sd);
    assert_eq!(refused.code, code::CONNECT_REJECTED_STREAM);
    assert_eq!(refused.description, "not a friend");
}

#[test]
fn a_stream_that_asks_waits_while_the_others_accept() {
    let mut w = World::keyed();
    let a = w.connected(None, ClientConfig::default());
    let (asks, open) = w.with(a, |c, ep, now| {
        let asks = c.create_direct_stream();
        c.publish(ep, now, asks, "asks").unwrap();
        c.set_stream_asks(asks, true).unwrap();
        let open = c.create_direct_stream();
        c.publish(ep, now, open, "open").unwrap();
        (asks, open)
    });
    let b = w.connected(None, ClientConfig::default());
    let d = w.connected(None, ClientConfig::default());
    let sb = subscribe(&mut w, b, a, "asks");
    let sd = subscribe(&mut w, d, a, "open");
    // The open stream's subscriber plays at once, without a question.
    assert_eq!(outcome(&mut w, d, sd).code, code::PLAY_START);
    assert!(w.run_until(Duration::from_secs(30), |log, _| {
        log[&a]
            .iter()
            .any(|e| matches!(e, ClientEvent::PeerConnect { .. }))
    }));
    let asked: Vec<_> = w.log[&a]
        .iter()
        .filter_map(|e| match e {
            ClientEvent::PeerConnect { peer } => Some(peer.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].stream, Some(asks));
    assert_eq!(asked[0].far_id, Some(w.near_id(b)));
    w.with(a, |c, ep, now| c.accept_peer(ep, now, asked[0].id).unwrap());
    assert_eq!(outcome(&mut w, b, sb).code, code::PLAY_START);
    // Unknown streams are refused; closing the stream forgets it.
    w.with(a, |c, ep, now| {
        assert_eq!(
            c.set_stream_asks(StreamId(999), true),
            Err(rtmfp_core::flash::client::ClientError::UnknownStream)
        );
        c.close_stream(ep, now, open).unwrap();
    });
}

#[test]
fn a_full_subscriber_makes_a_direct_send_would_block_not_vanish() {
    let mut w = World::keyed();
    let a = w.connected(None, ClientConfig::default());
    let cam = w.with(a, |c, ep, now| {
        let s = c.create_direct_stream();
        c.publish(ep, now, s, "cam").unwrap();
        s
    });
    let b = w.connected(None, ClientConfig::default());
    let sb = subscribe(&mut w, b, a, "cam");
    assert_eq!(outcome(&mut w, b, sb).code, code::PLAY_START);
    // Without letting the network run, fill the subscriber's flows: the
    // send that does not fit says so instead of reporting 0 destinations.
    let frame = vec![0x27u8; 60_000];
    let results = w.with(a, |c, ep, now| {
        (0..400)
            .map(|i| c.send(ep, now, cam, message_type::VIDEO, i * 40, &frame))
            .collect::<Vec<_>>()
    });
    let taken = results.iter().take_while(|r| matches!(r, Ok(1))).count();
    assert!(taken > 0 && taken < 400, "{taken} taken");
    assert!(
        matches!(
            results[taken],
            Err(ClientError::Endpoint(EndpointError::Flow(
                FlowError::WouldBlock
            )))
        ),
        "{:?}",
        results[taken]
    );
    assert!(
        !results.iter().any(|r| matches!(r, Ok(0))),
        "no silent drops"
    );
}

#[test]
fn publish_and_play_through_the_server() {
    let mut w = World::keyed();
    let a = w.connected(Some(NatBehaviour::PortRestricted), ClientConfig::default());
    let b = w.connected(Some(NatBehaviour::PortRestricted), ClientConfig::default());
    // B plays before A publishes: it waits and gets every tag.
    let play = w.with(b, |c, ep, now| {
        let s = c.create_stream(ep, now);
        c.play(ep, now, s, "live").unwrap();
        s
    });
    w.wait_status(b, code::PLAY_START, Duration::from_secs(5));
    let live = w.with(a, |c, ep, now| {
        let s = c.create_stream(ep, now);
        c.publish(ep, now, s, "live").unwrap();
        s
    });
    w.wait_status(a, code::PUBLISH_START, Duration::from_secs(5));
    assert!(w.log[&a]
        .iter()
        .any(|e| matches!(e, ClientEvent::StreamCreated { stream, stream_id } if *stream == live && *stream_id >= 1)));
    w.wait_status(b, code::PLAY_PUBLISH_NOTIFY, Duration::from_secs(5));
    let streams = w.with_server(|s, _, _| s.streams());
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].name, "live");
    assert_eq!(streams[0].players, 1);
    assert_eq!(streams[0].publisher_id, Some(w.near_id(a)));
    // A second publisher of the same name is refused.
    let c3 = w.connected(None, ClientConfig::default());
    w.with(c3, |c, ep, now| {
        let s = c.create_stream(ep, now);
        c.publish(ep, now, s, "live").unwrap();
    });
    w.wait_status(c3, code::PUBLISH_BAD_NAME, Duration::from_secs(5));

    let tags = tags(2000);
    stream_tags(&mut w, a, live, &tags);
    let want = tags.len();
    assert!(w.run_until(Duration::from_secs(10), |log, _| {
        log[&b]
            .iter()
            .filter(|e| matches!(e, ClientEvent::Media { .. }))
            .count()
            >= want
    }));
    let got = w.media(b, play);
    assert_every_tag(&got, &tags);
    let stats = w.with_server(|s, _, _| s.stats());
    let (v, au) = flv::synthetic_tag_counts(2000, 25, 20);
    assert_eq!(stats.media_in, (v + au) as u64);
    assert!(stats.relayed >= (v + au) as u64);

    // A late joiner gets metadata first and no video before a key frame.
    let late = w.connected(None, ClientConfig::default());
    let lp = w.with(late, |c, ep, now| {
        let s = c.create_stream(ep, now);
        c.play(ep, now, s, "live").unwrap();
        s
    });
    w.wait_status(late, code::PLAY_START, Duration::from_secs(5));
    let more: Vec<Tag<'static>> = tags
        .iter()
        .filter(|t| t.tag_type != 18)
        .skip(10)
        .map(|t| Tag::new(t.tag_type, t.timestamp + 2000, t.data.to_vec()))
        .collect();
    stream_tags(&mut w, a, live, &more);
    w.run_for(Duration::from_secs(2));
    let got = w.media(late, lp);
    assert_eq!(got[0].0, 18, "metadata first");
    let first_video = got.iter().find(|m| m.0 == 9).expect("video");
    assert!(rtmfp_core::flash::media::is_video_keyframe(&first_video.2));

    // Unpublish: the players hear it.
    w.with(a, |c, ep, now| c.close_stream(ep, now, live).unwrap());
    w.wait_status(b, code::PLAY_UNPUBLISH_NOTIFY, Duration::from_secs(5));
    assert!(w.with_server(|s, _, _| s.streams()).is_empty());
}

#[test]
fn names_register_and_resolve_to_peer_ids() {
    let mut w = World::keyed();
    let a = w.connected(Some(NatBehaviour::PortRestricted), ClientConfig::default());
    let b = w.connected(Some(NatBehaviour::PortRestricted), ClientConfig::default());
    let reg = w.with(a, |c, ep, now| {
        c.call(ep, now, "registerName", vec![Value::from("alice")])
            .unwrap()
    });
    let (ok, r) = w.call_result(a, reg);
    assert!(ok);
    assert_eq!(r.arg(0), Some(&Value::Boolean(true)));
    // B cannot take it.
    let steal = w.with(b, |c, ep, now| {
        c.call(ep, now, "registerName", vec![Value::from("alice")])
            .unwrap()
    });
    let (ok, r) = w.call_result(b, steal);
    assert!(!ok);
    assert_eq!(r.status_info().unwrap().code, code::CALL_FAILED);
    // B resolves it to A's peer ID ...
    let look = w.with(b, |c, ep, now| {
        c.call(ep, now, "lookupName", vec![Value::from("alice")])
            .unwrap()
    });
    let (ok, r) = w.call_result(b, look);
    assert!(ok);
    let hex = r.arg(0).and_then(Value::as_str).unwrap().to_owned();
    assert_eq!(hex, to_hex(&w.near_id(a)));
    // ... and plays A's direct stream with it (the "type a friend's name"
    // flow).
    w.with(a, |c, ep, now| {
        let s = c.create_direct_stream();
        c.publish(ep, now, s, "cam").unwrap();
    });
    let peer = rtmfp_core::flash::peer_id::from_hex(&hex).unwrap();
    let s = w.with(b, move |c, ep, now| {
        let s = c.create_peer_stream(peer);
        c.play(ep, now, s, "cam").unwrap();
        s
    });
    assert_eq!(outcome(&mut w, b, s).code, code::PLAY_START);
    // Unknown names fail.
    let miss = w.with(b, |c, ep, now| {
        c.call(ep, now, "lookupName", vec![Value::from("bob")])
            .unwrap()
    });
    let (ok, r) = w.call_result(b, miss);
    assert!(!ok);
    assert!(r.status_info().unwrap().description.contains("bob"));
    // Names go with their peer.
    w.with(a, |c, ep, now| c.close(ep, now));
    w.run_for(Duration::from_secs(3));
    assert_eq!(w.with_server(|s, _, _| s.lookup_name("alice")), None);
    assert!(w
        .server_log
        .iter()
        .any(|e| matches!(e, ServerEvent::Disconnected { .. })));
}

#[test]
fn closing_the_connection_reports_closed_once() {
    let mut w = World::keyed();
    let a = w.connected(None, ClientConfig::default());
    w.with(a, |c, ep, now| c.close(ep, now));
    w.wait_status(a, code::CONNECT_CLOSED, Duration::from_secs(10));
    w.run_for(Duration::from_secs(5));
    let closed = w.log[&a]
        .iter()
        .filter(|e| e.status_code() == Some(code::CONNECT_CLOSED))
        .count();
    assert_eq!(closed, 1);
    assert_eq!(w.with_server(|s, _, _| s.sessions()).len(), 0);
}

#[test]
fn when_a_direct_session_cannot_be_made_the_server_relays() {
    // Symmetric NATs defeat the introduction.  With the automatic relay
    // fallback off (as in Flash Player), the peer play fails with
    // "NetStream.Connect.Failed", and the application falls back to a
    // stream through the server itself.
    let mut w = World::keyed();
    let flash_like = ClientConfig {
        direct_timeout: None,
        ..ClientConfig::default()
    };
    let a = w.connected(Some(NatBehaviour::Symmetric), flash_like.clone());
    let b = w.connected(Some(NatBehaviour::Symmetric), flash_like);
    let (cam, live) = w.with(a, |c, ep, now| {
        let cam = c.create_direct_stream();
        c.publish(ep, now, cam, "cam").unwrap();
        let live = c.create_stream(ep, now);
        c.publish(ep, now, live, "cam-relay").unwrap();
        (cam, live)
    });
    let direct = subscribe(&mut w, b, a, "cam");
    let failed = w.wait_status(b, code::CONNECT_FAILED_STREAM, Duration::from_secs(120));
    assert_eq!(failed.level, "error");
    assert!(w.media(b, direct).is_empty());
    assert!(w
        .sim
        .node::<ClientNode>(a)
        .layer
        .peer_streams(Some(cam))
        .is_empty());
    let relay = w.with(b, |c, ep, now| {
        let s = c.create_stream(ep, now);
        c.play(ep, now, s, "cam-relay").unwrap();
        s
    });
    w.wait_status(b, code::PLAY_START, Duration::from_secs(5));
    let tags = tags(1000);
    stream_tags(&mut w, a, live, &tags);
    let want = tags.iter().filter(|t| t.tag_type != 18).count();
    assert!(w.run_until(Duration::from_secs(5), |log, _| {
        log[&b]
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    ClientEvent::Media {
                        message_type: 8 | 9,
                        ..
                    }
                )
            })
            .count()
            >= want
    }));
    assert_eq!(w.media(b, relay).iter().filter(|m| m.0 != 18).count(), want);
}

#[test]
fn a_direct_stream_survives_a_lossy_path() {
    let mut w = World::keyed();
    w.sim.set_default_link(
        LinkConfig::ideal()
            .with_delay(Duration::from_millis(20))
            .with_loss(0.05),
    );
    let a = w.connected(Some(NatBehaviour::PortRestricted), ClientConfig::default());
    let b = w.connected(Some(NatBehaviour::PortRestricted), ClientConfig::default());
    let cam = w.with(a, |c, ep, now| {
        let s = c.create_direct_stream();
        c.publish(ep, now, s, "cam").unwrap();
        s
    });
    let play = subscribe(&mut w, b, a, "cam");
    assert_eq!(outcome(&mut w, b, play).code, code::PLAY_START);
    let tags = tags(3000);
    stream_tags(&mut w, a, cam, &tags);
    w.run_for(Duration::from_secs(3));
    let got = w.media(b, play);
    for kind in [8u8, 9] {
        let sent: Vec<u32> = tags
            .iter()
            .filter(|t| t.tag_type == kind)
            .map(|t| t.timestamp)
            .collect();
        let times: Vec<u32> = got.iter().filter(|m| m.0 == kind).map(|m| m.1).collect();
        // In order, no duplicates, and late frames only ever missing.
        assert!(
            times.windows(2).all(|w| w[0] < w[1]),
            "type {kind}: {times:?}"
        );
        assert!(times.iter().all(|t| sent.contains(t)));
        assert!(
            times.len() * 100 >= sent.len() * 90,
            "type {kind}: {} of {} arrived, sim seed = {}",
            times.len(),
            sent.len(),
            w.sim.seed()
        );
    }
}

/// What a raw server endpoint received from the client so far.
fn raw_events(sim: &mut Sim, id: NodeId) -> Vec<rtmfp_core::endpoint::Event> {
    let ep = sim.node_mut::<Endpoint>(id);
    std::iter::from_fn(|| ep.poll_event()).collect()
}

#[test]
fn the_client_speaks_rfc_7425_section_5_3_on_the_flows() {
    use rtmfp_core::endpoint::Event;
    use rtmfp_core::flash::message::Message;
    use rtmfp_core::flow::{DeliveryOrder, MessageOptions, Priority};

    let mut sim = Sim::new(seed_from_env_or(53));
    sim.set_default_link(LinkConfig::ideal().with_delay(Duration::from_millis(10)));
    let server_ep = endpoint(&sim, FlashConfig::server(), 1);
    let server = sim.add_node(server_ep, &[addr(SERVER)]);
    let client_config = ClientConfig {
        // §5.3.3: loopback and link-local addresses are not announced.
        local_addresses: vec![
            addr("127.0.0.1:5000"),
            addr("192.0.2.77:5000"),
            addr("[fe80::1]:5000"),
            addr("[2001:db8::7]:5000"),
        ],
        ..ClientConfig::default()
    };
    let client = sim.add_node(
        Layered::new(
            endpoint(&sim, FlashConfig::client(), 2),
            FlashClient::new(client_config),
        ),
        &[addr("192.0.2.77:5000")],
    );
    let uri = "rtmfp://203.0.113.1:1935/app/KEY";
    sim.with_node::<ClientNode, _>(client, |n, now| {
        n.with(now, |c, ep, now| {
            c.connect(ep, now, uri, &[addr(SERVER)], vec![]).unwrap()
        })
    });
    // Collects (session, flow, metadata, association) and messages.
    let mut opened = Vec::new();
    let mut messages: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut session = None;
    let mut pump = |sim: &mut Sim, opened: &mut Vec<_>, messages: &mut Vec<_>| {
        for e in raw_events(sim, server) {
            match e {
                Event::SessionOpened { session: s, .. } => session = Some(s),
                Event::FlowOpened {
                    session: s,
                    flow,
                    metadata,
                    association,
                } => {
                    let now = sim.now();
                    sim.node_mut::<Endpoint>(server)
                        .accept_flow(now, s, flow, DeliveryOrder::Sequence)
                        .unwrap();
                    opened.push((s, flow, metadata, association));
                }
                Event::Message { flow, data, .. } => messages.push((flow, data)),
                _ => {}
            }
        }
        session
    };
    let _ = sim.run_until(
        |sim| {
            pump(sim, &mut opened, &mut messages);
            !messages.is_empty()
        },
        Limits::time(Duration::from_secs(5)),
    );
    // §5.3.1: on S_OPEN, a flow for stream ID 0, original order, with no
    // association, carrying "connect".
    assert_eq!(opened.len(), 1);
    let (s, control, ref metadata, association) = opened[0];
    assert_eq!(metadata, &[0x54, 0x43, 0x04, 0x00]);
    assert_eq!(association, None);
    let connect = Message::parse(&messages[0].1).unwrap();
    assert_eq!((connect.message_type, connect.timestamp), (20, 0));
    let command = Command::from_message(&connect).unwrap();
    assert_eq!(command.name, "connect");
    assert_eq!(command.transaction_id, 1.0);
    assert_eq!(command.command_object.get_str("app"), Some("app/KEY"));
    assert_eq!(command.command_object.get_str("tcUrl"), Some(uri));
    assert_eq!(command.command_object.get_f64("objectEncoding"), Some(3.0));

    // §5.3.2: the server's return control flow, stream ID 0, associated
    // to the client's; "_result" for transaction 1; then Set Keepalive
    // Timers below the client's minimum and above its maximum.
    let now = sim.now();
    let ep = sim.node_mut::<Endpoint>(server);
    let back = ep
        .open_flow(
            s,
            &[0x54, 0x43, 0x04, 0x00],
            Priority::Routine,
            Some(control),
        )
        .unwrap();
    let info =
        StatusInfo::status(code::CONNECT_SUCCESS, "ok").with("objectEncoding", Value::Number(0.0));
    let result = Command::result(1.0, Value::Null, info.to_value())
        .to_message(20, 0)
        .unwrap();
    ep.send(
        now,
        s,
        back,
        &result.to_bytes().unwrap(),
        MessageOptions::default(),
    )
    .unwrap();
    let timers = UserControlEvent::SetKeepaliveTimers {
        server_ms: 3000,
        peer_ms: 600_000,
    }
    .to_message(0);
    ep.send(
        now,
        s,
        back,
        &timers.to_bytes().unwrap(),
        MessageOptions::default(),
    )
    .unwrap();
    messages.clear();
    let _ = sim.run_until(
        |sim| {
            pump(sim, &mut opened, &mut messages);
            !messages.is_empty()
        },
        Limits::time(Duration::from_secs(5)),
    );
    // §5.3.3: setPeerInfo right after the success, AMF0 as negotiated,
    // transaction 0, null, the candidate addresses without loopback or
    // link-local ones.
    let spi = Message::parse(&messages[0].1).unwrap();
    assert_eq!(spi.message_type, 20);
    let spi = Command::from_message(&spi).unwrap();
    assert_eq!(spi.name, "setPeerInfo");
    assert_eq!(spi.transaction_id, 0.0);
    assert_eq!(spi.command_object, Value::Null);
    assert_eq!(
        spi.args,
        [
            Value::from("192.0.2.77:5000"),
            Value::from("[2001:db8::7]:5000")
        ]
    );
    let node = sim.node_mut::<ClientNode>(client);
    let events: Vec<ClientEvent> = std::iter::from_fn(|| node.layer.poll_event()).collect();
    assert_eq!(events[0].status_code(), Some(code::CONNECT_SUCCESS));
    // §5.3.4: clamped to the client's minimum (5 s) and maximum (half
    // the 60 s idle timeout).
    assert!(events.contains(&ClientEvent::KeepaliveTimers {
        server: Duration::from_secs(5),
        peer: Duration::from_secs(30),
    }));

    // §5.3.5.1: createStream, then publish on a new flow for that stream
    // ID associated to the server's return control flow.
    sim.with_node::<ClientNode, _>(client, |n, now| {
        n.with(now, |c, ep, now| {
            let st = c.create_stream(ep, now);
            c.publish(ep, now, st, "x").unwrap();
        })
    });
    messages.clear();
    let _ = sim.run_until(
        |sim| {
            pump(sim, &mut opened, &mut messages);
            !messages.is_empty()
        },
        Limits::time(Duration::from_secs(5)),
    );
    let create = Command::from_message(&Message::parse(&messages[0].1).unwrap()).unwrap();
    assert_eq!(create.name, "createStream");
    assert_eq!(messages[0].0, control);
    let reply = Command::create_stream_result(create.transaction_id, 7)
        .to_message(20, 0)
        .unwrap();
    let now = sim.now();
    sim.node_mut::<Endpoint>(server)
        .send(
            now,
            s,
            back,
            &reply.to_bytes().unwrap(),
            MessageOptions::default(),
        )
        .unwrap();
    messages.clear();
    let _ = sim.run_until(
        |sim| {
            pump(sim, &mut opened, &mut messages);
            !messages.is_empty()
        },
        Limits::time(Duration::from_secs(5)),
    );
    let (_, stream_flow, ref metadata, association) = opened[1];
    assert_eq!(metadata, &[0x54, 0x43, 0x04, 0x07]);
    assert_eq!(association, Some(back));
    assert_eq!(messages[0].0, stream_flow);
    let publish = Command::from_message(&Message::parse(&messages[0].1).unwrap()).unwrap();
    assert_eq!(publish.name, "publish");
    assert_eq!(publish.args, [Value::from("x"), Value::from("live")]);
}

#[test]
fn the_server_speaks_rfc_7425_section_5_3_on_the_flows() {
    use rtmfp_core::crypto::flash::epd::epd_for_uri;
    use rtmfp_core::endpoint::Event;
    use rtmfp_core::flash::command::ConnectObject;
    use rtmfp_core::flash::message::Message;
    use rtmfp_core::flow::{DeliveryOrder, MessageOptions, Priority};

    let mut w = World::keyed();
    let client = w.sim.add_node(
        endpoint(&w.sim, FlashConfig::client(), 9),
        &[addr("192.0.2.99:5000")],
    );
    let now = w.sim.now();
    let uri = "rtmfp://203.0.113.1:1935/app/GOODKEY";
    w.sim
        .node_mut::<Endpoint>(client)
        .connect(now, epd_for_uri(uri, None), &[addr(SERVER)])
        .unwrap();
    type Opened = Vec<(u64, Vec<u8>, Option<u64>)>;
    type Messages = Vec<(u64, Vec<u8>)>;
    fn pump(
        sim: &mut Sim,
        client: NodeId,
        opened: &mut Opened,
        messages: &mut Messages,
        s: &mut Option<rtmfp_core::endpoint::SessionHandle>,
    ) {
        for e in raw_events(sim, client) {
            match e {
                Event::SessionOpened { session, .. } => *s = Some(session),
                Event::FlowOpened {
                    session,
                    flow,
                    metadata,
                    association,
                } => {
                    let now = sim.now();
                    sim.node_mut::<Endpoint>(client)
                        .accept_flow(now, session, flow, DeliveryOrder::Sequence)
                        .unwrap();
                    opened.push((flow, metadata, association));
                }
                Event::Message { flow, data, .. } => messages.push((flow, data)),
                _ => {}
            }
        }
    }
    let mut s = None;
    let mut opened: Opened = Vec::new();
    let mut messages: Messages = Vec::new();
    let _ = w.sim.run_until(
        |sim| {
            pump(sim, client, &mut opened, &mut messages, &mut s);
            s.is_some()
        },
        Limits::time(Duration::from_secs(5)),
    );
    let session = s.expect("open");
    let send = |w: &mut World, flow, m: Message<'static>| {
        let now = w.sim.now();
        w.sim
            .node_mut::<Endpoint>(client)
            .send(
                now,
                session,
                flow,
                &m.to_bytes().unwrap(),
                MessageOptions::default(),
            )
            .unwrap();
    };
    let control = w
        .sim
        .node_mut::<Endpoint>(client)
        .open_flow(session, &[0x54, 0x43, 0x04, 0x00], Priority::Routine, None)
        .unwrap();
    let mut object = ConnectObject::new("app/GOODKEY", uri);
    object.object_encoding = rtmfp_core::flash::command::ObjectEncoding::Amf0;
    send(
        &mut w,
        control,
        Command::connect(&object, vec![]).to_message(20, 0).unwrap(),
    );
    let wait = |w: &mut World, opened: &mut Opened, messages: &mut Messages, n: usize| {
        let mut s = None;
        let _ = w.sim.run_until(
            |sim| {
                pump(sim, client, opened, messages, &mut s);
                messages.len() >= n
            },
            Limits::time(Duration::from_secs(5)),
        );
    };
    wait(&mut w, &mut opened, &mut messages, 2);
    // §5.3.2: a return flow for stream ID 0 associated to our control
    // flow, "_result" for transaction 1, then Set Keepalive Timers (§5.3.4).
    let (back, ref metadata, association) = opened[0];
    assert_eq!(metadata, &[0x54, 0x43, 0x04, 0x00]);
    assert_eq!(association, Some(control));
    let result = Command::from_message(&Message::parse(&messages[0].1).unwrap()).unwrap();
    assert_eq!(
        (result.name.as_str(), result.transaction_id),
        ("_result", 1.0)
    );
    let info = result.status_info().unwrap();
    assert_eq!(
        (info.level.as_str(), info.code.as_str()),
        ("status", code::CONNECT_SUCCESS)
    );
    let timers = Message::parse(&messages[1].1).unwrap();
    assert_eq!(
        UserControlEvent::from_message(&timers).unwrap(),
        UserControlEvent::SetKeepaliveTimers {
            server_ms: 15_000,
            peer_ms: 10_000
        }
    );
    // setPeerInfo, createStream, then play on a flow for the new stream
    // ID associated to the server's control flow (§5.3.5.1).
    send(
        &mut w,
        control,
        Command::set_peer_info(&[addr("192.0.2.99:5000")])
            .to_message(20, 0)
            .unwrap(),
    );
    send(
        &mut w,
        control,
        Command::create_stream(2.0).to_message(20, 0).unwrap(),
    );
    wait(&mut w, &mut opened, &mut messages, 3);
    let created = Command::from_message(&Message::parse(&messages[2].1).unwrap()).unwrap();
    assert_eq!(
        (created.name.as_str(), created.transaction_id),
        ("_result", 2.0)
    );
    let id = created.number_arg().unwrap() as u32;
    assert!(id >= 1);
    let peers = w.with_server(|s, _, _| s.sessions());
    assert_eq!(peers[0].addresses, [addr("192.0.2.99:5000")]);
    assert_eq!(peers[0].behind_nat, Some(false));
    let stream_flow = w
        .sim
        .node_mut::<Endpoint>(client)
        .open_flow(
            session,
            &[0x54, 0x43, 0x04, id as u8],
            Priority::Routine,
            Some(back),
        )
        .unwrap();
    send(
        &mut w,
        stream_flow,
        Command::play("nothing-yet").to_message(20, 0).unwrap(),
    );
    wait(&mut w, &mut opened, &mut messages, 6);
    // §5.3.5.2: the server's flow for that stream ID, associated to our
    // control flow: StreamBegin, then the play statuses.
    let (sflow, ref metadata, association) = opened[1];
    assert_eq!(metadata, &[0x54, 0x43, 0x04, id as u8]);
    assert_eq!(association, Some(control));
    let on_stream: Vec<&Vec<u8>> = messages
        .iter()
        .filter(|(f, _)| *f == sflow)
        .map(|(_, d)| d)
        .collect();
    assert_eq!(
        UserControlEvent::from_message(&Message::parse(on_stream[0]).unwrap()).unwrap(),
        UserControlEvent::StreamBegin { stream_id: id }
    );
    let codes: Vec<String> = on_stream[1..]
        .iter()
        .map(|d| {
            Command::from_message(&Message::parse(d).unwrap())
                .unwrap()
                .status_info()
                .unwrap()
                .code
        })
        .collect();
    assert_eq!(codes, [code::PLAY_RESET, code::PLAY_START]);
}

/// Both peers behind symmetric NATs: no direct path.  After the direct
/// timeout the player asks the server for the relay, the publisher (ours)
/// publishes the stream through the server too, and every tag arrives;
/// each side is told which path is used.
#[test]
fn no_direct_path_falls_back_to_the_server_relay() {
    let mut w = World::keyed();
    let a = w.connected(Some(NatBehaviour::Symmetric), ClientConfig::default());
    let b = w.connected(Some(NatBehaviour::Symmetric), ClientConfig::default());
    let cam = w.with(a, |c, ep, now| {
        let s = c.create_direct_stream();
        c.publish(ep, now, s, "cam").unwrap();
        s
    });
    w.wait_status(a, code::PUBLISH_START, Duration::from_secs(1));
    let play = subscribe(&mut w, b, a, "cam");
    let relayed = w.wait_status(b, PLAY_RELAYED, Duration::from_secs(30));
    assert!(
        relayed.description.contains("no direct path to peer")
            && relayed.description.contains("NAT or firewall"),
        "{}",
        relayed.description
    );
    assert_eq!(
        status_of(&w.log[&b], play, PLAY_RELAYED).unwrap().code,
        PLAY_RELAYED
    );
    w.wait_status(b, code::PLAY_START, Duration::from_secs(10));
    // The publisher is told once the subscriber plays through the server.
    w.wait_status(a, PUBLISH_RELAYED, Duration::from_secs(5));
    let told = status_of(&w.log[&a], cam, PUBLISH_RELAYED).expect("on its stream");
    assert!(told.description.contains(&to_hex(&w.near_id(b))));
    // The mirror is hidden: the publisher's application saw no other stream.
    assert!(w.log[&a].iter().all(|e| match e {
        ClientEvent::Status {
            stream: Some(s), ..
        }
        | ClientEvent::StreamCreated { stream: s, .. } => *s == cam,
        _ => true,
    }));
    w.run_for(Duration::from_millis(500));

    let tags = tags(2000);
    let sent = stream_tags(&mut w, a, cam, &tags);
    assert_eq!(sent, tags.len(), "the relay counts as a destination");
    let want = tags.iter().filter(|t| t.tag_type != 18).count();
    assert!(
        w.run_until(Duration::from_secs(10), |log, _| {
            log[&b]
                .iter()
                .filter(|e| {
                    matches!(
                        e,
                        ClientEvent::Media {
                            message_type: 8 | 9,
                            ..
                        }
                    )
                })
                .count()
                >= want
        }),
        "sim seed = {}",
        w.sim.seed()
    );
    let got: Vec<_> = w.media(b, play).into_iter().filter(|m| m.0 != 18).collect();
    let expected: Vec<_> = tags
        .iter()
        .filter(|t| t.tag_type != 18)
        .map(|t| (t.tag_type, t.timestamp, t.data.to_vec()))
        .collect();
    for kind in [8u8, 9] {
        let g: Vec<_> = got.iter().filter(|m| m.0 == kind).collect();
        let e: Vec<_> = expected.iter().filter(|m| m.0 == kind).collect();
        assert_eq!(g, e, "type {kind} differs");
    }
    let stats = w.with_server(|s, _, _| s.stats());
    assert!(stats.relayed > 0, "{stats:?}");

    // The player stops: its relayed stream is deleted on the server.
    w.with(b, |c, ep, now| c.close_stream(ep, now, play).unwrap());
    w.run_for(Duration::from_millis(500));
    assert!(w
        .with_server(|s, _, _| s.streams())
        .iter()
        .all(|s| s.players == 0));
}

/// Without the server's relay (a server that relays nothing) the player
/// fails with a message that says what happened and what to try.
#[test]
fn no_direct_path_and_no_relay_fails_with_the_reason() {
    let mut w = World::new(
        7,
        ServerConfig {
            relay: false,
            ..ServerConfig::default()
        },
        Hooks::default(),
    );
    let a = w.connected(Some(NatBehaviour::Symmetric), ClientConfig::default());
    let b = w.connected(Some(NatBehaviour::Symmetric), ClientConfig::default());
    w.with(a, |c, ep, now| {
        let s = c.create_direct_stream();
        c.publish(ep, now, s, "cam").unwrap();
    });
    let play = subscribe(&mut w, b, a, "cam");
    let info = outcome(&mut w, b, play);
    assert_eq!(info.code, code::CONNECT_FAILED_STREAM);
    assert!(
        info.description.contains("no direct path") && info.description.contains("try --turn"),
        "{}",
        info.description
    );
}

/// A client that asks for streams and names without end meets the
/// server's per-connection limits: a clean `_error` for each call beyond
/// them, and the ones within them keep working.
#[test]
fn streams_and_names_beyond_the_limits_are_refused() {
    let mut w = World::new(
        seed_from_env_or(7426),
        ServerConfig {
            keys: KeySet::of(["GOODKEY"]),
            max_streams_per_client: 3,
            max_names_per_client: 2,
            ..ServerConfig::default()
        },
        Hooks::default(),
    );
    let a = w.connected(None, ClientConfig::default());
    for n in 0..5 {
        let txn = w.with(a, |c, ep, now| {
            c.call(ep, now, "createStream", vec![]).unwrap()
        });
        let (ok, r) = w.call_result(a, txn);
        if n < 3 {
            assert!(ok, "stream {n} within the limit");
        } else {
            assert!(!ok, "stream {n} beyond the limit");
            let info = r.status_info().unwrap();
            assert_eq!(info.code, code::CALL_FAILED);
            assert!(info.description.contains("too many streams"), "{info:?}");
        }
    }
    for (n, name) in ["n0", "n1", "n2", "n1"].iter().enumerate() {
        let txn = w.with(a, |c, ep, now| {
            c.call(ep, now, "registerName", vec![Value::from(*name)])
                .unwrap()
        });
        let (ok, r) = w.call_result(a, txn);
        match n {
            // The third name is one too many; registering a held name
            // again is no new name.
            2 => {
                assert!(!ok);
                let info = r.status_info().unwrap();
                assert!(info.description.contains("too many names"), "{info:?}");
            }
            _ => assert!(ok, "{name}"),
        }
    }
    // The connection is unharmed: the server still answers it.
    let txn = w.with(a, |c, ep, now| {
        c.call(ep, now, "lookupName", vec![Value::from("n0")])
            .unwrap()
    });
    let (ok, _) = w.call_result(a, txn);
    assert!(ok);
}

/// A world with a publisher `a` of `name` through the server (stream
/// `live`) and a player `b` of it (stream `play`) that heard it start.
fn publisher_and_player(name: &str) -> (World, NodeId, NodeId, StreamId, StreamId) {
    publisher_and_player_in(World::keyed(), name)
}

/// As [`publisher_and_player`], in world `w`.
fn publisher_and_player_in(
    mut w: World,
    name: &str,
) -> (World, NodeId, NodeId, StreamId, StreamId) {
    let a = w.connected(None, ClientConfig::default());
    let b = w.connected(None, ClientConfig::default());
    let play = w.with(b, |c, ep, now| {
        let s = c.create_stream(ep, now);
        c.play(ep, now, s, name).unwrap();
        s
    });
    w.wait_status(b, code::PLAY_START, Duration::from_secs(5));
    let live = w.with(a, |c, ep, now| {
        let s = c.create_stream(ep, now);
        c.publish(ep, now, s, name).unwrap();
        s
    });
    w.wait_status(b, code::PLAY_PUBLISH_NOTIFY, Duration::from_secs(5));
    (w, a, b, live, play)
}

/// A publisher that writes its last tags and closes at once: its
/// `deleteStream` (on the control flow) overtakes the video still queued
/// on the video flow, and the server keeps relaying that stream until the
/// publisher's stream flows finish, so the players get every tag.
#[test]
fn the_tags_written_just_before_close_reach_the_players() {
    let (mut w, a, b, live, play) = publisher_and_player("burst");
    // A lossy uplink: video fragments go again after the deleteStream.
    w.sim.set_uplink(
        a,
        LinkConfig::ideal()
            .with_delay(Duration::from_millis(15))
            .with_loss(0.05),
    );
    // Every tag at once, then the close, in one turn of the publisher.
    let tags = tags(4000);
    w.with(a, |c, ep, now| {
        for tag in &tags {
            c.send(ep, now, live, tag.tag_type, tag.timestamp, &tag.data)
                .unwrap();
        }
        c.close_stream(ep, now, live).unwrap();
    });
    let closed = w.sim.now();
    w.wait_status(b, code::PLAY_UNPUBLISH_NOTIFY, Duration::from_secs(10));
    // Over when the publisher's flows finished, before the drain limit.
    assert!(w.sim.now() - closed < rtmfp_core::rendezvous::UNPUBLISH_DRAIN_LIMIT);
    w.run_for(Duration::from_secs(1));
    let got = w.media(b, play);
    assert_every_tag(&got, &tags);
    assert!(w.with_server(|s, _, _| s.streams()).is_empty());
}

/// A publisher that says `closeStream` on its stream and keeps the
/// stream's flows open (as Flash Player may): what it still sends there
/// is relayed until the drain limit, then the players hear the end.
#[test]
fn a_close_stream_with_open_flows_ends_at_the_drain_limit() {
    let limit = rtmfp_core::rendezvous::UNPUBLISH_DRAIN_LIMIT;
    let (mut w, a, b, live, play) = publisher_and_player("open");
    let close = Command::close_stream()
        .encode(message_type::COMMAND_AMF0)
        .unwrap();
    w.with(a, |c, ep, now| {
        c.send(ep, now, live, message_type::COMMAND_AMF0, 0, &close)
            .unwrap()
    });
    w.wait_status(a, code::UNPUBLISH_SUCCESS, Duration::from_secs(5));
    let closed = w.sim.now();
    // Still relayed: it came on the stream's open flows.
    let late = [8u8, 0xAF, 1, 2, 3];
    w.with(a, |c, ep, now| {
        c.send(ep, now, live, message_type::AUDIO, 40, &late[1..])
            .unwrap()
    });
    w.wait_status(
        b,
        code::PLAY_UNPUBLISH_NOTIFY,
        limit + Duration::from_secs(2),
    );
    let waited = w.sim.now() - closed;
    assert!(waited >= limit - Duration::from_millis(100), "{waited:?}");
    assert!(
        w.media(b, play)
            .iter()
            .any(|m| m.0 == late[0] && m.2 == late[1..]),
        "the audio sent after closeStream was relayed"
    );
    assert!(w.with_server(|s, _, _| s.streams()).is_empty());
}

// ----- ask mode (rendezvous::Asks) -----

/// A server that asks about the `kinds` of request, with a 3 s deadline.
fn asking(kinds: &[AskKind], default: Result<(), String>) -> World {
    let mut asks = Asks {
        deadline: Duration::from_secs(3),
        default,
        ..Asks::default()
    };
    for k in kinds {
        asks.set(*k, true);
    }
    let hooks = Hooks {
        asks,
        ..Hooks::default()
    };
    World::new(seed_from_env_or(13), ServerConfig::default(), hooks)
}

impl World {
    /// Runs until the server asks about something new; its id and request.
    fn next_ask(&mut self) -> (u64, AskRequest) {
        let seen = self
            .server_log
            .iter()
            .filter(|e| matches!(e, ServerEvent::Asked { .. }))
            .count();
        assert!(self.run_until(Duration::from_secs(10), |_, log| {
            log.iter()
                .filter(|e| matches!(e, ServerEvent::Asked { .. }))
                .count()
                > seen
        }));
        self.server_log
            .iter()
            .filter_map(|e| match e {
                ServerEvent::Asked { id, request } => Some((*id, request.clone())),
                _ => None,
            })
            .nth(seen)
            .unwrap()
    }

    fn answer(&mut self, id: u64, decision: Result<(), String>) -> Result<(), AskError> {
        self.with_server(move |s, ep, now| s.answer(ep, now, id, decision))
    }

    fn ask_ended(&self, id: u64) -> Option<AskEnd> {
        self.server_log.iter().find_map(|e| match e {
            ServerEvent::AskEnded { id: i, end } if *i == id => Some(*end),
            _ => None,
        })
    }
}

#[test]
fn an_asked_connect_is_answered_only_with_the_verdict() {
    let mut w = asking(&[AskKind::Connect], Err(NO_ANSWER.to_owned()));
    let no = w.add_client(None, ClientConfig::default());
    w.connect(no, "rtmfp://server/private");
    let (id, request) = w.next_ask();
    let AskRequest::Connect(req) = request else {
        panic!("{request:?}")
    };
    assert_eq!(req.app, "private");
    assert_eq!(req.peer_id, Some(w.near_id(no)));
    assert_eq!(req.address, addr("192.0.2.10:5000"));
    // Parked: the client has no answer, the server counts no client.
    w.run_for(Duration::from_secs(1));
    assert!(
        statuses(&w.log[&no]).is_empty(),
        "{:?}",
        statuses(&w.log[&no])
    );
    assert_eq!(w.with_server(|s, _, _| s.parked_asks()), 1);
    assert_eq!(w.answer(id, Err("private apps are closed".into())), Ok(()));
    let info = w.wait_status(no, code::CONNECT_REJECTED, Duration::from_secs(5));
    assert_eq!(info.description, "private apps are closed");
    assert!(w.server_log.iter().any(
        |e| matches!(e, ServerEvent::Rejected { reason, .. } if reason == "private apps are closed")
    ));
    // A second verdict does nothing, and says so.
    assert_eq!(w.answer(id, Ok(())), Err(AskError::Ended(AskEnd::Answered)));
    assert_eq!(w.answer(9999, Ok(())), Err(AskError::Unknown));

    let yes = w.add_client(None, ClientConfig::default());
    w.connect(yes, URI);
    let (id, _) = w.next_ask();
    assert_eq!(w.answer(id, Ok(())), Ok(()));
    w.wait_status(yes, code::CONNECT_SUCCESS, Duration::from_secs(5));
    let s = w.with_server(|s, _, _| s.sessions());
    assert!(s
        .iter()
        .any(|c| c.connected && c.peer_id == Some(w.near_id(yes))));
}

#[test]
fn an_unanswered_ask_gets_the_default_at_its_deadline() {
    let mut w = asking(&[AskKind::Connect], Err(NO_ANSWER.to_owned()));
    let a = w.add_client(None, ClientConfig::default());
    let start = w.sim.now();
    w.connect(a, URI);
    let (id, _) = w.next_ask();
    let info = w.wait_status(a, code::CONNECT_REJECTED, Duration::from_secs(10));
    assert_eq!(info.description, NO_ANSWER);
    assert!(w.sim.now() - start >= Duration::from_secs(3));
    assert_eq!(w.ask_ended(id), Some(AskEnd::Expired));
    assert_eq!(w.answer(id, Ok(())), Err(AskError::Ended(AskEnd::Expired)));

    // The default may accept.
    let mut w = asking(&[AskKind::Connect], Ok(()));
    let b = w.add_client(None, ClientConfig::default());
    w.connect(b, URI);
    let (id, _) = w.next_ask();
    w.wait_status(b, code::CONNECT_SUCCESS, Duration::from_secs(10));
    assert_eq!(w.ask_ended(id), Some(AskEnd::Expired));
}

#[test]
fn asked_publishes_and_plays_wait_for_their_verdicts() {
    let mut w = asking(
        &[AskKind::Publish, AskKind::Play],
        Err(NO_ANSWER.to_owned()),
    );
    // Connects are not asked about.
    let a = w.connected(None, ClientConfig::default());
    let b = w.connected(None, ClientConfig::default());
    let refused = w.with(a, |c, ep, now| {
        let s = c.create_stream(ep, now);
        c.publish(ep, now, s, "secret").unwrap();
        s
    });
    let (id, request) = w.next_ask();
    let AskRequest::Publish(req) = request else {
        panic!("{request:?}")
    };
    assert_eq!(
        (req.name.as_str(), req.app.as_str()),
        ("secret", "app/GOODKEY")
    );
    assert_eq!(req.peer_id, Some(w.near_id(a)));
    w.answer(id, Err("no such channel".into())).unwrap();
    let info = w.wait_status(a, code::PUBLISH_BAD_NAME, Duration::from_secs(5));
    assert_eq!(info.description, "no such channel");
    assert!(status_of(&w.log[&a], refused, code::PUBLISH_BAD_NAME).is_some());
    // Accepted: publish, then a play that is accepted too.
    let live = w.with(a, |c, ep, now| {
        let s = c.create_stream(ep, now);
        c.publish(ep, now, s, "live").unwrap();
        s
    });
    let (id, _) = w.next_ask();
    w.answer(id, Ok(())).unwrap();
    w.wait_status(a, code::PUBLISH_START, Duration::from_secs(5));
    assert!(status_of(&w.log[&a], live, code::PUBLISH_START).is_some());
    w.with(b, |c, ep, now| {
        let s = c.create_stream(ep, now);
        c.play(ep, now, s, "live").unwrap();
    });
    let (id, request) = w.next_ask();
    assert_eq!(request.kind(), AskKind::Play);
    w.run_for(Duration::from_millis(500));
    assert!(!has_status(&w.log[&b], code::PLAY_START));
    w.answer(id, Ok(())).unwrap();
    w.wait_status(b, code::PLAY_START, Duration::from_secs(5));
    assert_eq!(w.with_server(|s, _, _| s.streams())[0].players, 1);
    // A refused play.
    w.with(b, |c, ep, now| {
        let s = c.create_stream(ep, now);
        c.play(ep, now, s, "other").unwrap();
    });
    let (id, _) = w.next_ask();
    w.answer(id, Err("not for you".into())).unwrap();
    let info = w.wait_status(b, code::PLAY_FAILED, Duration::from_secs(5));
    assert_eq!(info.description, "not for you");
}

#[test]
fn a_client_that_leaves_while_parked_ends_its_ask() {
    let mut w = asking(&[AskKind::Connect, AskKind::Publish], Ok(()));
    let a = w.add_client(None, ClientConfig::default());
    w.connect(a, URI);
    let (id, _) = w.next_ask();
    w.with(a, |c, ep, now| c.close(ep, now));
    assert!(
        w.run_until(Duration::from_secs(10), |_, log| log.iter().any(
            |e| matches!(e, ServerEvent::AskEnded { id: i, end: AskEnd::Gone } if *i == id)
        ))
    );
    assert_eq!(w.answer(id, Ok(())), Err(AskError::Ended(AskEnd::Gone)));
    assert_eq!(w.with_server(|s, _, _| s.parked_asks()), 0);
    // Nothing counted it as connected, and the default never applies.
    w.run_for(Duration::from_secs(5));
    assert!(!w
        .server_log
        .iter()
        .any(|e| matches!(e, ServerEvent::Connected { .. })));

    // A parked publish whose stream is closed meanwhile.
    let b = w.add_client(None, ClientConfig::default());
    w.connect(b, URI);
    let (id, _) = w.next_ask();
    w.answer(id, Ok(())).unwrap();
    w.wait_status(b, code::CONNECT_SUCCESS, Duration::from_secs(5));
    let s = w.with(b, |c, ep, now| {
        let s = c.create_stream(ep, now);
        c.publish(ep, now, s, "live").unwrap();
        s
    });
    let (id, _) = w.next_ask();
    w.with(b, |c, ep, now| c.close_stream(ep, now, s).unwrap());
    w.run_for(Duration::from_secs(1));
    assert_eq!(w.ask_ended(id), Some(AskEnd::Gone));
    assert_eq!(w.answer(id, Ok(())), Err(AskError::Ended(AskEnd::Gone)));
    assert!(w.with_server(|s, _, _| s.streams()).is_empty());
}

/// A peer-ID play through the server's introduction (RFC 7016 §3.5.1.5,
/// RFC 7425 §5.3) over bad links: 8 % loss, 3 % duplicates, 10 %
/// reordered by 40 ms, jitter, with no NAT or behind restricted NATs.
/// Every seed ends in Play.Start (directly or through the relay).
/// `SEEDS=n` runs more than the default 200.
#[test]
fn a_peer_play_starts_over_lossy_reordering_links_whatever_the_schedule() {
    let n: u64 = std::env::var("SEEDS").map_or(200, |s| s.parse().expect("SEEDS is a number"));
    for seed in 0..n {
        let mut w = World::new(
            seed,
            ServerConfig {
                keys: KeySet::of(["GOODKEY"]),
                ..ServerConfig::default()
            },
            Hooks::default(),
        );
        w.sim.set_default_link(
            LinkConfig::ideal()
                .with_delay(Duration::from_millis(20))
                .with_jitter(Duration::from_millis(10))
                .with_loss(0.08)
                .with_duplicate(0.03)
                .with_reorder(0.1, Duration::from_millis(40)),
        );
        let nat = match seed % 3 {
            0 => None,
            1 => Some(NatBehaviour::PortRestricted),
            _ => Some(NatBehaviour::AddressRestricted),
        };
        let join = |w: &mut World| {
            let id = w.add_client(nat, ClientConfig::default());
            w.connect(id, URI);
            w.wait_status(id, code::CONNECT_SUCCESS, Duration::from_secs(90));
            id
        };
        let a = join(&mut w);
        let b = join(&mut w);
        w.with(a, |c, ep, now| {
            let s = c.create_direct_stream();
            c.publish(ep, now, s, "cam").unwrap();
        });
        let play = subscribe(&mut w, b, a, "cam");
        let got = outcome(&mut w, b, play);
        assert_eq!(got.code, code::PLAY_START, "seed {seed}: {got:?}");
    }
}

/// The end of a publication reaches a player after its last media, over
/// a lossy downlink: the server relays audio, video and the statuses on
/// three flows, which have no order between them (RFC 7425 §5.2), so it
/// puts a Flow Synchronization barrier on the player's flows before
/// "NetStream.Play.UnpublishNotify".  Every seed: no media after the
/// notify.  `SEEDS=n` runs more than the default 30.
#[test]
fn players_hear_the_end_after_the_last_media_over_a_lossy_downlink() {
    the_end_comes_after_the_last_media(false);
}

/// As above, for a DIRECT_CONNECTIONS publisher and its subscriber: the
/// publisher puts the barrier on the subscriber's flows.
#[test]
fn subscribers_hear_the_end_after_the_last_media_over_a_lossy_downlink() {
    the_end_comes_after_the_last_media(true);
}

fn the_end_comes_after_the_last_media(direct: bool) {
    let n: u64 = std::env::var("SEEDS").map_or(30, |s| s.parse().expect("SEEDS is a number"));
    for seed in 0..n {
        let mut w = World::new(
            seed,
            ServerConfig {
                keys: KeySet::of(["GOODKEY"]),
                ..ServerConfig::default()
            },
            Hooks::default(),
        );
        let (mut w, a, b, live, play) = if direct {
            let a = w.connected(None, ClientConfig::default());
            let b = w.connected(None, ClientConfig::default());
            let live = w.with(a, |c, ep, now| {
                let s = c.create_direct_stream();
                c.publish(ep, now, s, "end").unwrap();
                s
            });
            let play = subscribe(&mut w, b, a, "end");
            assert_eq!(outcome(&mut w, b, play).code, code::PLAY_START);
            (w, a, b, live, play)
        } else {
            publisher_and_player_in(w, "end")
        };
        w.sim.set_downlink(
            b,
            LinkConfig::ideal()
                .with_delay(Duration::from_millis(15))
                .with_loss(0.1),
        );
        let tags = tags(1000);
        w.with(a, |c, ep, now| {
            for tag in &tags {
                c.send(ep, now, live, tag.tag_type, tag.timestamp, &tag.data)
                    .unwrap();
            }
        });
        w.run_for(Duration::from_millis(100));
        w.with(a, |c, ep, now| c.close_stream(ep, now, live).unwrap());
        w.wait_status(b, code::PLAY_UNPUBLISH_NOTIFY, Duration::from_secs(10));
        let before = w.media(b, play);
        w.run_for(Duration::from_secs(2));
        let after = w.media(b, play);
        assert_eq!(
            after.len() - before.len(),
            0,
            "seed {seed}: media played after UnpublishNotify"
        );
        // Video past its lifetime may be abandoned under this loss; the
        // rest arrives, all of it before the notify.
        assert!(
            before.len() * 10 >= tags.len() * 9,
            "seed {seed}: {} of {} tags",
            before.len(),
            tags.len()
        );
    }
}
