//! Flow Synchronization on receipt (RFC 7425 §5.2), end to end: a
//! scripted Flash server (a bare endpoint that speaks §5.3 by hand) sends
//! media and Flow Synchronization messages on two flows of one stream,
//! and our client must play them in the order the barriers impose,
//! whatever order the flows arrive in.

use rand::{rngs::StdRng, SeedableRng};
use rtmfp_core::crypto::{CryptoProfile, FlashConfig, FlashProfile};
use rtmfp_core::endpoint::{Endpoint, EndpointConfig, Event, Layered, SessionHandle};
use rtmfp_core::flash::client::{ClientConfig, ClientEvent, FlashClient};
use rtmfp_core::flash::command::{code, Command, StatusInfo};
use rtmfp_core::flash::flow_sync::BARRIER_TIMEOUT;
use rtmfp_core::flash::message::{message_type, Message};
use rtmfp_core::flash::user_control::UserControlEvent;
use rtmfp_core::flash::Value;
use rtmfp_core::flow::{DeliveryOrder, FlowId, MessageOptions, Priority};
use rtmfp_core::sim::{addr, seed_from_env_or, Limits, LinkConfig, NodeId, Sim};
use std::sync::Arc;
use std::time::Duration;

const SERVER: &str = "203.0.113.1:1935";
const CONTROL_METADATA: [u8; 4] = [0x54, 0x43, 0x04, 0x00];
const STREAM_ID: u8 = 7;

type ClientNode = Layered<FlashClient>;

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

/// The scripted server's side: its endpoint node, the client's session,
/// and what the client's flows carried to it.
struct Script {
    sim: Sim,
    server: NodeId,
    client: NodeId,
    session: Option<SessionHandle>,
    /// (flow, metadata) of each flow the client opened, in order.
    opened: Vec<(FlowId, Vec<u8>)>,
    /// Commands the client sent, with their flow.
    commands: Vec<(FlowId, Command)>,
    /// Timestamps of the audio messages the client played.
    played: Vec<u32>,
}

impl Script {
    fn new() -> Script {
        let mut sim = Sim::new(seed_from_env_or(52));
        sim.set_default_link(LinkConfig::ideal().with_delay(Duration::from_millis(10)));
        let server_ep = endpoint(&sim, FlashConfig::server(), 1);
        let server = sim.add_node(server_ep, &[addr(SERVER)]);
        let client = sim.add_node(
            Layered::new(
                endpoint(&sim, FlashConfig::client(), 2),
                FlashClient::new(ClientConfig::default()),
            ),
            &[addr("192.0.2.77:5000")],
        );
        Script {
            sim,
            server,
            client,
            session: None,
            opened: Vec::new(),
            commands: Vec::new(),
            played: Vec::new(),
        }
    }

    /// Reads the server endpoint's and the client's events.
    fn pump(&mut self) {
        let now = self.sim.now();
        let ep = self.sim.node_mut::<Endpoint>(self.server);
        while let Some(e) = ep.poll_event() {
            match e {
                Event::SessionOpened { session, .. } => self.session = Some(session),
                Event::FlowOpened {
                    session,
                    flow,
                    metadata,
                    ..
                } => {
                    ep.accept_flow(now, session, flow, DeliveryOrder::Sequence)
                        .unwrap();
                    self.opened.push((flow, metadata));
                }
                Event::Message { flow, data, .. } => {
                    let m = Message::parse(&data).unwrap();
                    if m.message_type == message_type::COMMAND_AMF0 {
                        self.commands
                            .push((flow, Command::from_message(&m).unwrap()));
                    }
                }
                _ => {}
            }
        }
        let node = self.sim.node_mut::<ClientNode>(self.client);
        while let Some(e) = node.layer.poll_event() {
            if let ClientEvent::Media {
                message_type: message_type::AUDIO,
                timestamp,
                ..
            } = e
            {
                self.played.push(timestamp);
            }
        }
    }

    /// Runs until the client sent command `name`; returns it and its flow.
    fn wait_command(&mut self, name: &str) -> (FlowId, Command) {
        let mut found = None;
        let deadline = self.sim.now() + Duration::from_secs(5);
        while found.is_none() && self.sim.now() < deadline {
            self.run_for(Duration::from_millis(5));
            found = self.commands.iter().find(|(_, c)| c.name == name).cloned();
        }
        found.unwrap_or_else(|| panic!("the client sent no {name}"))
    }

    fn run_for(&mut self, d: Duration) {
        let _ = self.sim.run_until(|_| false, Limits::time(d));
        self.pump();
    }

    fn send(&mut self, flow: FlowId, m: Message<'_>) {
        let now = self.sim.now();
        let session = self.session.unwrap();
        self.sim
            .node_mut::<Endpoint>(self.server)
            .send(
                now,
                session,
                flow,
                &m.to_bytes().unwrap(),
                MessageOptions::default(),
            )
            .unwrap();
    }

    fn open(&mut self, metadata: &[u8], association: FlowId) -> FlowId {
        let session = self.session.unwrap();
        self.sim
            .node_mut::<Endpoint>(self.server)
            .open_flow(session, metadata, Priority::Routine, Some(association))
            .unwrap()
    }

    /// Connects the client, answers `createStream` with [`STREAM_ID`] and
    /// waits for its `play`; returns the flow that carried `play`.
    fn connect_and_play(&mut self) -> FlowId {
        self.sim.with_node::<ClientNode, _>(self.client, |n, now| {
            n.with(now, |c, ep, now| {
                let uri = "rtmfp://203.0.113.1:1935/app";
                c.connect(ep, now, uri, &[addr(SERVER)], vec![]).unwrap()
            })
        });
        let (control, connect) = self.wait_command("connect");
        let back = self.open(&CONTROL_METADATA, control);
        let info = StatusInfo::status(code::CONNECT_SUCCESS, "ok")
            .with("objectEncoding", Value::Number(0.0));
        let result = Command::result(connect.transaction_id, Value::Null, info.to_value());
        self.send(back, result.to_message(20, 0).unwrap());
        self.wait_command("setPeerInfo");
        self.sim.with_node::<ClientNode, _>(self.client, |n, now| {
            n.with(now, |c, ep, now| {
                let stream = c.create_stream(ep, now);
                c.play(ep, now, stream, "x").unwrap();
            })
        });
        let (_, create) = self.wait_command("createStream");
        let reply = Command::create_stream_result(create.transaction_id, STREAM_ID.into());
        self.send(back, reply.to_message(20, 0).unwrap());
        let (stream_flow, _) = self.wait_command("play");
        stream_flow
    }
}

fn audio(timestamp: u32) -> Message<'static> {
    Message::new(
        message_type::AUDIO,
        timestamp,
        vec![0xaf, 1, timestamp as u8],
    )
}

fn sync(sync_id: u32, count: u32) -> Message<'static> {
    UserControlEvent::FlowSync { sync_id, count }.to_message(0)
}

/// Figure 2's first barrier, with the flows arriving in the worst order:
/// the whole of F2 (M3, Sync(8,2), M5) well before F1 (M1, M2, M4,
/// Sync(8,2)).  Without the barrier the client would play M5 second.
#[test]
fn media_after_a_barrier_waits_for_every_flow_of_the_barrier() {
    let mut s = Script::new();
    let play = s.connect_and_play();
    let metadata = [0x54, 0x43, 0x04, STREAM_ID];
    let f1 = s.open(&metadata, play);
    let f2 = s.open(&metadata, play);
    for m in [audio(3), sync(8, 2), audio(5)] {
        s.send(f2, m);
    }
    s.run_for(Duration::from_millis(300));
    assert_eq!(s.played, [3], "M5 waits at barrier 8");
    for m in [audio(1), audio(2), audio(4), sync(8, 2)] {
        s.send(f1, m);
    }
    s.run_for(Duration::from_millis(300));
    assert_eq!(s.played, [3, 1, 2, 4, 5]);
    let stats = s
        .sim
        .node_mut::<ClientNode>(s.client)
        .layer
        .flow_sync_stats();
    assert_eq!((stats.completed, stats.let_go, stats.held), (1, 0, 1));
}

/// A barrier whose other flows never reach it stalls its flow for
/// BARRIER_TIMEOUT at most; then what the flow held plays, in order.
#[test]
fn a_barrier_never_completed_is_let_go_after_its_timeout() {
    let mut s = Script::new();
    let play = s.connect_and_play();
    let f1 = s.open(&[0x54, 0x43, 0x04, STREAM_ID], play);
    for m in [audio(1), sync(9, 2), audio(2), audio(3)] {
        s.send(f1, m);
    }
    s.run_for(BARRIER_TIMEOUT - Duration::from_millis(500));
    assert_eq!(s.played, [1], "held while the barrier may still complete");
    s.run_for(Duration::from_secs(1));
    assert_eq!(s.played, [1, 2, 3], "let go, in the flow's order");
    let stats = s
        .sim
        .node_mut::<ClientNode>(s.client)
        .layer
        .flow_sync_stats();
    assert_eq!((stats.completed, stats.let_go), (0, 1));
}

/// The rendezvous server is a receiver too: a command behind a barrier
/// on a client's stream flow waits until the client's other flow reaches
/// the barrier.  A scripted client (a bare endpoint) connects, creates a
/// stream, and sends Sync(8,2) then `publish` on the stream's flow: the
/// server publishes only once Sync(8,2) arrives on a second flow.
#[test]
fn the_server_holds_a_command_behind_a_barrier_until_it_completes() {
    use rtmfp_core::crypto::flash::epd::epd_for_uri;
    use rtmfp_core::flash::command::{ConnectObject, ObjectEncoding};
    use rtmfp_core::rendezvous::{Hooks, Server, ServerConfig, ServerEvent};

    let mut sim = Sim::new(seed_from_env_or(52));
    sim.set_default_link(LinkConfig::ideal().with_delay(Duration::from_millis(10)));
    let server = sim.add_node(
        Layered::new(
            endpoint(&sim, FlashConfig::server(), 1),
            Server::new(ServerConfig::default(), Hooks::default()),
        ),
        &[addr(SERVER)],
    );
    let client = sim.add_node(
        endpoint(&sim, FlashConfig::client(), 2),
        &[addr("192.0.2.99:5000")],
    );
    let uri = "rtmfp://203.0.113.1:1935/app";
    let now = sim.now();
    sim.node_mut::<Endpoint>(client)
        .connect(now, epd_for_uri(uri, None), &[addr(SERVER)])
        .unwrap();
    /// What the scripted client and the server saw.
    #[derive(Default)]
    struct Seen {
        session: Option<SessionHandle>,
        back: Option<FlowId>,
        results: Vec<Command>,
        published: Vec<String>,
    }
    fn run(sim: &mut Sim, client: NodeId, server: NodeId, d: Duration, seen: &mut Seen) {
        let _ = sim.run_until(|_| false, Limits::time(d));
        let now = sim.now();
        let ep = sim.node_mut::<Endpoint>(client);
        while let Some(e) = ep.poll_event() {
            match e {
                Event::SessionOpened { session, .. } => seen.session = Some(session),
                Event::FlowOpened { session, flow, .. } => {
                    ep.accept_flow(now, session, flow, DeliveryOrder::Sequence)
                        .unwrap();
                    seen.back.get_or_insert(flow);
                }
                Event::Message { data, .. } => {
                    let m = Message::parse(&data).unwrap();
                    if let Ok(c) = Command::from_message(&m) {
                        seen.results.push(c);
                    }
                }
                _ => {}
            }
        }
        let node = sim.node_mut::<Layered<Server>>(server);
        while let Some(e) = node.layer.poll_event() {
            if let ServerEvent::Published { name, .. } = e {
                seen.published.push(name);
            }
        }
    }
    let mut seen = Seen::default();
    run(
        &mut sim,
        client,
        server,
        Duration::from_millis(500),
        &mut seen,
    );
    let s = seen.session.expect("the session opened");
    let send = |sim: &mut Sim, flow: FlowId, m: Message<'_>| {
        let now = sim.now();
        sim.node_mut::<Endpoint>(client)
            .send(
                now,
                s,
                flow,
                &m.to_bytes().unwrap(),
                MessageOptions::default(),
            )
            .unwrap();
    };
    let open = |sim: &mut Sim, metadata: &[u8], association: Option<FlowId>| {
        sim.node_mut::<Endpoint>(client)
            .open_flow(s, metadata, Priority::Routine, association)
            .unwrap()
    };
    let control = open(&mut sim, &CONTROL_METADATA, None);
    let mut object = ConnectObject::new("app", uri);
    object.object_encoding = ObjectEncoding::Amf0;
    send(
        &mut sim,
        control,
        Command::connect(&object, vec![]).to_message(20, 0).unwrap(),
    );
    send(
        &mut sim,
        control,
        Command::create_stream(2.0).to_message(20, 0).unwrap(),
    );
    run(
        &mut sim,
        client,
        server,
        Duration::from_millis(300),
        &mut seen,
    );
    let created = seen
        .results
        .iter()
        .find(|c| c.transaction_id == 2.0)
        .expect("createStream answered");
    let id = created.number_arg().unwrap() as u8;
    let back = seen.back.expect("the server's control flow");
    let metadata = [0x54, 0x43, 0x04, id];
    let f1 = open(&mut sim, &metadata, Some(back));
    send(&mut sim, f1, sync(8, 2));
    send(
        &mut sim,
        f1,
        Command::publish("x", "live").to_message(20, 0).unwrap(),
    );
    run(
        &mut sim,
        client,
        server,
        Duration::from_millis(300),
        &mut seen,
    );
    assert!(seen.published.is_empty(), "publish waits at barrier 8");
    let f2 = open(&mut sim, &metadata, Some(back));
    send(&mut sim, f2, sync(8, 2));
    run(
        &mut sim,
        client,
        server,
        Duration::from_millis(300),
        &mut seen,
    );
    assert_eq!(
        seen.published,
        ["x"],
        "published once the barrier completed"
    );
    let stats = sim
        .node_mut::<Layered<Server>>(server)
        .layer
        .flow_sync_stats();
    assert_eq!((stats.completed, stats.held), (1, 1));
}
