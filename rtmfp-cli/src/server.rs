//! `rtmfp server`: the Stratus-like rendezvous server (RFC 7425 §5):
//! developer key check, peer registry, introductions (RFC 7016 §3.5.1.6),
//! name lookup and the relay of streams published to the server.
//!
//! One line per connect, rejection, disconnect, publish, play,
//! introduction and name registration goes to stdout; SIGINT or SIGTERM
//! closes every session in order and prints the totals.

use crate::common::{
    fail, hex, identity, install_signal_handlers, parse_listen, stop_requested, Result,
    SecurityArgs,
};
use crate::options;
use clap::Args;
use rtmfp_core::endpoint::{DropReason, SessionHandle};
use rtmfp_core::host::options::{Object, OptionValue, Options};
use rtmfp_core::rendezvous::cluster::redis::{ClusterConfig, ClusterError};
use rtmfp_core::rendezvous::{Hooks, KeySet, ServerEvent, ServerHandle};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Run a rendezvous server: checks developer keys, gives every client its
/// peer ID, introduces peers to each other by peer ID (NAT traversal),
/// resolves registered names and relays streams published to it.
#[derive(Args, Debug)]
#[command(after_help = "\
Developer keys: a client's key is the last path segment of its URI \
(rtmfp://HOST/app/KEY).  Without --keys or --key every key is accepted \
and a warning says so.

Name lookup: clients call registerName(NAME) and lookupName(NAME) on \
their NetConnection (rtmfp publish --name, rtmfp play --peer-name).

Options of core's table (the ones Python's, Node's and C's servers take): \
--option NAME=VALUE, repeatable, e.g. --option idle_timeout=30s \
--option hmac_policy=required; durations take a unit (30s, 500ms, 1.5s), \
lists are comma-separated.  --option help lists every name with its \
type, range, default and meaning.  The flags below that have a row \
(--listen is bind, --key/--keys keys, --max-*-per-client, \
--max-flows-per-session, --no-relay, --recv-coalesce, --cluster, --turn) \
are set first, so an --option of the same row overrides them; --no-hmac \
and --no-sseq apply last.

Limits a hostile client cannot pass: --max-streams-per-client, --max-names-per-client and --max-flows-per-session bound the state one client makes the server hold.

Cluster: with --cluster URL the server is a node sharing peers, names \
and streams through Redis with the other nodes of that URL (see \
docs/cluster.md); `rtmfp redirector` sends clients to the least loaded \
node.

Output: `fingerprint HEX`, `listening ADDR`, then one line per event: \
connect, reject, peer-info, name, publish, unpublish, play, \
stream-reject, introduce, disconnect.")]
pub struct ServerArgs {
    /// Local UDP address to listen on: IP:PORT, [IPv6]:PORT or a bare
    /// port; repeat for several.  Port 0 picks a free port.
    #[arg(long, short = 'l', value_name = "ADDR", value_parser = parse_listen,
          default_value = "0.0.0.0:1935")]
    pub listen: Vec<SocketAddr>,
    /// Accept only the developer keys in FILE: one per line, blank lines
    /// and `#` comments skipped.
    #[arg(long, value_name = "FILE", conflicts_with = "any_key")]
    pub keys: Option<PathBuf>,
    /// Accept this developer key (repeatable; adds to --keys).
    #[arg(long = "key", value_name = "KEY", conflicts_with = "any_key")]
    pub key: Vec<String>,
    /// Accept any developer key, or none (the default when neither
    /// --keys nor --key is given; this flag only silences the warning).
    #[arg(long)]
    pub any_key: bool,
    /// Most clients connected at once; further connects are rejected
    /// with NetConnection.Connect.Rejected.  Default: no limit.
    #[arg(long, value_name = "N")]
    pub max_clients: Option<usize>,
    /// Most streams one client has at once (1 to 65535, default 64): a
    /// further createStream gets _error (NetConnection.Call.Failed).
    #[arg(long, value_name = "N")]
    pub max_streams_per_client: Option<u64>,
    /// Most names one client registers (1 to 65535, default 16): a
    /// further registerName gets _error.
    #[arg(long, value_name = "N")]
    pub max_names_per_client: Option<u64>,
    /// Most receiving flows one session keeps at once (1 to 65535,
    /// default 512): a further flow's data is dropped and counted.
    #[arg(long, value_name = "N")]
    pub max_flows_per_session: Option<u64>,
    /// Don't relay streams published to the server (a pure rendezvous
    /// service: connects, introductions and names only).
    #[arg(long)]
    pub no_relay: bool,
    /// Receive coalescing in microseconds (at most 10000): when datagrams
    /// wake the server densely, one wake-up waits this long and reads
    /// them all, so a crowd of idle clients costs fewer context switches;
    /// their datagrams wait up to this much longer.  0 turns it off.
    /// Default 1000 (1 ms), or RTMFP_RECV_COALESCE_US.
    #[arg(long, value_name = "MICROS")]
    pub recv_coalesce: Option<u64>,
    /// Run the check service for `rtmfp check` on ADDR (IP:PORT, not the
    /// RTMFP port): a STUN responder (RFC 5780 NAT behaviour discovery).
    /// Give two ports of one IP, and the same two ports of a second IP if
    /// the host has one (up to four); the first is the primary.  Clients
    /// learn the addresses with the checkInfo command.
    #[arg(long = "check", value_name = "ADDR", value_parser = parse_listen)]
    pub check: Vec<SocketAddr>,
    /// Be a node of a rendezvous cluster sharing peers, names and
    /// streams through Redis at URL (redis://HOST:PORT[/DB]): peers on
    /// other nodes are introduced and their names resolve here.  Redis
    /// unreachable at start is an error.
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,
    /// This node's name in the cluster (default: random).
    #[arg(long, value_name = "NAME", requires = "cluster")]
    pub node: Option<String>,
    /// The address clients reach this node at, handed out by the
    /// redirector (repeatable; default: the listen addresses, an
    /// unspecified IP as loopback).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen, requires = "cluster")]
    pub advertise: Vec<SocketAddr>,
    /// Lifetime in seconds of the node's entries in Redis; the node
    /// refreshes them every third of it, so a crashed node's entries are
    /// gone after at most this long.
    #[arg(long, value_name = "SECS", default_value_t = 15, requires = "cluster",
          value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub cluster_ttl: u64,
    #[command(flatten)]
    pub options: options::OptionArgs,
    #[command(flatten)]
    pub security: SecurityArgs,
    #[command(flatten)]
    pub turn: crate::common::TurnArgs,
}

/// Starts the check service: one thread per address, each answering the
/// Binding requests that arrive on it from whichever socket the request
/// asks for.  The threads end with the process.
fn start_check_service(addrs: &[SocketAddr]) -> Result<Vec<SocketAddr>> {
    use std::net::UdpSocket;
    if addrs.len() > 4 {
        return Err(fail(
            "at most four --check addresses (two ports on each of two IPs)",
        ));
    }
    let mut sockets = Vec::new();
    for a in addrs {
        if a.ip().is_unspecified() || a.port() == 0 {
            return Err(fail(format!(
                "--check {a}: give the IP and port clients reach it at (it is sent to them)"
            )));
        }
        let s =
            UdpSocket::bind(a).map_err(|e| fail(format!("cannot listen on --check {a}: {e}")))?;
        sockets.push(s);
    }
    let local: Vec<SocketAddr> = sockets.iter().filter_map(|s| s.local_addr().ok()).collect();
    let sockets = Arc::new(sockets);
    let responder = Arc::new(rtmfp_core::check::Responder::new(local.clone()));
    for i in 0..sockets.len() {
        let (sockets, responder) = (sockets.clone(), responder.clone());
        std::thread::Builder::new()
            .name(format!("check-{i}"))
            .spawn(move || {
                let mut buf = [0u8; 1500];
                let me = local_of(&sockets[i]);
                // At most this many answers a second from each socket: a
                // reflector should not be a useful flood.
                const MAX_PER_SECOND: u32 = 2000;
                let (mut second, mut answered) = (Instant::now(), 0u32);
                loop {
                    let Ok((n, from)) = sockets[i].recv_from(&mut buf) else {
                        continue;
                    };
                    if second.elapsed() >= Duration::from_secs(1) {
                        (second, answered) = (Instant::now(), 0);
                    }
                    if answered >= MAX_PER_SECOND {
                        continue;
                    }
                    answered += 1;
                    let Some(reply) = responder.handle(me, from, &buf[..n]) else {
                        continue;
                    };
                    if let Some(out) = sockets.iter().find(|s| local_of(s) == reply.from) {
                        let _ = out.send_to(&reply.data, reply.to);
                    }
                }
            })
            .map_err(|e| fail(format!("cannot start the check service: {e}")))?;
    }
    Ok(local)
}

fn local_of(s: &std::net::UdpSocket) -> SocketAddr {
    s.local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// The key set the arguments ask for.
fn key_set(args: &ServerArgs) -> Result<KeySet> {
    if args.keys.is_none() && args.key.is_empty() {
        return Ok(KeySet::Any);
    }
    let mut keys: Vec<String> = args.key.clone();
    if let Some(path) = &args.keys {
        match KeySet::from_file(path) {
            Ok(KeySet::List(set)) => keys.extend(set),
            Ok(KeySet::Any) => {}
            Err(e) => {
                return Err(fail(format!(
                    "cannot read the key file {}: {e}",
                    path.display()
                )))
            }
        }
    }
    if keys.is_empty() {
        return Err(fail(format!(
            "the key file {} has no keys; every connect would be rejected",
            args.keys
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )));
    }
    Ok(KeySet::of(keys))
}

/// Hooks that enforce `--max-clients`.
fn hooks(max_clients: Option<usize>) -> Hooks {
    let Some(max) = max_clients else {
        return Hooks::default();
    };
    let connected = Arc::new(AtomicUsize::new(0));
    let on_disconnect = connected.clone();
    Hooks {
        on_connect: Some(Box::new(move |_| {
            if connected.load(Ordering::SeqCst) >= max {
                return Err(format!("the server is full ({max} clients)"));
            }
            connected.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })),
        on_disconnect: Some(Box::new(move |_| {
            let _ = on_disconnect.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_sub(1))
            });
        })),
        ..Hooks::default()
    }
}

fn id_or_unknown(id: Option<&[u8; 32]>) -> String {
    id.map(|p| hex(p)).unwrap_or_else(|| "(no peer ID)".into())
}

/// The server's event lines, with peer IDs looked up by session.
#[derive(Default)]
struct Printer {
    peers: HashMap<SessionHandle, String>,
}

impl Printer {
    fn peer(&self, session: SessionHandle) -> String {
        self.peers
            .get(&session)
            .cloned()
            .unwrap_or_else(|| format!("session {}", session.0))
    }

    fn line(&mut self, event: ServerEvent) -> String {
        match event {
            ServerEvent::Connected { client } => {
                let id = id_or_unknown(client.peer_id.as_ref());
                self.peers.insert(client.session, id.clone());
                format!(
                    "connect     {id} from {} app {:?}",
                    client.address, client.app
                )
            }
            ServerEvent::Rejected {
                peer_id, reason, ..
            } => format!(
                "reject      {}: NetConnection.Connect.Rejected: {reason}",
                id_or_unknown(peer_id.as_ref())
            ),
            ServerEvent::PeerInfo {
                session, addresses, ..
            } => {
                let list: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
                format!("peer-info   {} [{}]", self.peer(session), list.join(", "))
            }
            ServerEvent::Disconnected { client } => {
                let id = id_or_unknown(client.peer_id.as_ref());
                self.peers.remove(&client.session);
                format!(
                    "disconnect  {id} from {} ({} media messages in)",
                    client.address, client.media_in
                )
            }
            ServerEvent::Published { session, name } => {
                format!("publish     {name:?} by {}", self.peer(session))
            }
            ServerEvent::Unpublished { session, name } => {
                format!("unpublish   {name:?} by {}", self.peer(session))
            }
            ServerEvent::Playing { session, name } => {
                format!("play        {name:?} by {}", self.peer(session))
            }
            ServerEvent::StreamRejected {
                session,
                name,
                reason,
            } => format!("stream-reject {name:?} by {}: {reason}", self.peer(session)),
            ServerEvent::Introduced {
                initiator,
                target,
                addresses,
            } => {
                let list: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
                format!(
                    "introduce   {initiator} to {} at [{}]",
                    hex(&target),
                    list.join(", ")
                )
            }
            ServerEvent::NameRegistered { peer_id, name } => {
                format!("name        {name:?} is {}", hex(&peer_id))
            }
            // The CLI decides without asking (no ask mode is enabled).
            ServerEvent::Asked { id, request } => {
                format!(
                    "ask         {id}: {:?} by {}",
                    request.kind(),
                    self.peer(request.session())
                )
            }
            ServerEvent::AskEnded { id, end } => format!("ask-end     {id}: {end:?}"),
        }
    }
}

/// `rtmfp server` makes a server.
pub const MAKER: options::Maker = options::Maker {
    object: Object::Server,
    command: "server",
    without: &[],
};

/// The server's options: the flags that have a row of core's table,
/// then every `--option`, each checked by core (a later one of the same
/// row wins).
fn server_options(args: &ServerArgs) -> Result<Options> {
    let mut flags = options::Flags::new();
    flags.set(
        "bind",
        "--listen",
        OptionValue::Addresses(args.listen.clone()),
    )?;
    if let KeySet::List(keys) = key_set(args)? {
        let shown = if args.key.is_empty() {
            "--keys"
        } else {
            "--key"
        };
        let keys = keys.into_iter().map(OptionValue::Text).collect();
        flags.set("keys", shown, OptionValue::List(keys))?;
    }
    for (name, flag, n) in [
        (
            "max_streams_per_client",
            "--max-streams-per-client",
            args.max_streams_per_client,
        ),
        (
            "max_names_per_client",
            "--max-names-per-client",
            args.max_names_per_client,
        ),
        (
            "max_flows_per_session",
            "--max-flows-per-session",
            args.max_flows_per_session,
        ),
    ] {
        if let Some(n) = n {
            flags.set(name, flag, OptionValue::Int(n.into()))?;
        }
    }
    if args.no_relay {
        flags.set("relay", "--no-relay", OptionValue::Bool(false))?;
    }
    if let Some(us) = args.recv_coalesce {
        let ms = us as f64 / 1000.0;
        flags.set("recv_coalesce", "--recv-coalesce", OptionValue::Millis(ms))?;
    }
    if let Some(url) = &args.cluster {
        flags.set("cluster", "--cluster", OptionValue::Text(url.clone()))?;
    }
    args.turn.set(&mut flags)?;
    MAKER.options(&args.options.option, flags)
}

pub fn run(args: ServerArgs) -> Result<()> {
    if MAKER.help_asked(&args.options.option) {
        return Ok(());
    }
    install_signal_handlers();
    let options = server_options(&args)?;
    let (crypto, id) = identity(args.security.apply(options.flash(Object::Server)))?;
    let check_addresses = start_check_service(&args.check)?;
    let mut config = options.server_config();
    config.check_addresses = check_addresses.clone();
    let keys = config.keys.clone();
    let relay = config.relay;
    let cluster_url = options.cluster();
    let runtime = options
        .runtime_config(Object::Server, crypto)
        .map_err(options::failure)?;
    let bind = runtime.bind.clone();
    let listen_failed = |e: std::io::Error| {
        let addrs: Vec<String> = bind.iter().map(|a| a.to_string()).collect();
        fail(format!("cannot listen on {}: {e}", addrs.join(", ")))
    };
    let server = match &cluster_url {
        None => ServerHandle::start_with(runtime, config, hooks(args.max_clients))
            .map_err(listen_failed)?,
        Some(url) => {
            let mut cluster = ClusterConfig::new(url);
            if let Some(n) = &args.node {
                cluster.node = n.clone();
            }
            cluster.advertise = args.advertise.clone();
            cluster.ttl = Duration::from_secs(args.cluster_ttl);
            ServerHandle::start_clustered(runtime, config, hooks(args.max_clients), cluster)
                .map_err(
                    |e| match e.get_ref().and_then(|r| r.downcast_ref::<ClusterError>()) {
                        Some(c) => fail(format!("cannot join the cluster: {c}")),
                        None => listen_failed(e),
                    },
                )?
        }
    };
    println!("rtmfp rendezvous server (RFC 7016 / RFC 7425)");
    println!("fingerprint {}", hex(&id));
    for a in server.local_addrs() {
        println!("listening {a}");
    }
    crate::common::print_relayed(server.relayed_addr());
    match &keys {
        KeySet::Any if !args.any_key => println!(
            "warning: accepting any developer key (development mode); \
             restrict with --keys FILE or --key KEY"
        ),
        KeySet::Any => println!("keys any"),
        KeySet::List(set) => println!("keys {} developer key(s)", set.len()),
    }
    if !relay {
        println!("relay off");
    }
    for a in &check_addresses {
        println!("check {a}");
    }
    if let (Some(url), Some(node)) = (&cluster_url, server.cluster_node()) {
        println!("cluster {url} node {node}");
    }
    let start = Instant::now();
    let mut printer = Printer::default();
    let mut events = 0u64;
    while !stop_requested() {
        if let Some(event) = server.next_event_timeout(Duration::from_millis(200)) {
            events += 1;
            println!("{}", printer.line(event));
            while let Some(event) = server.try_next_event() {
                events += 1;
                println!("{}", printer.line(event));
            }
        }
    }
    println!("shutting down");
    let stats = server.stats().ok();
    let runtime = server.handle().stats().ok();
    let cluster = server.cluster_stats();
    let clients = server.sessions().map(|s| s.len()).unwrap_or(0);
    let report = server.shutdown(Duration::from_secs(2));
    let mut totals = format!(
        "totals {:.1} s, {events} events, {clients} clients at shutdown",
        start.elapsed().as_secs_f64()
    );
    if let Some(s) = stats {
        totals.push_str(&format!(
            ", {} introductions, {} media messages in, {} relayed",
            s.introductions, s.media_in, s.relayed
        ));
        if cluster_url.is_some() {
            totals.push_str(&format!(
                ", {} cross-node introductions, {} forwarded for other nodes, \
                 {} names resolved by the cluster, {} cluster timeouts",
                s.remote_introductions,
                s.forwarded_introductions,
                s.remote_name_lookups,
                s.cluster_timeouts
            ));
        }
    }
    if let Some(c) = cluster {
        totals.push_str(&format!(
            ", Redis: {} reconnects, {} errors, {} operations dropped, {} name conflicts",
            c.reconnects, c.errors, c.dropped, c.name_conflicts
        ));
    }
    if let Some(r) = runtime {
        // Diffie-Hellman work (issue 14): what was keyed, and IIKeyings
        // dropped because the keying queue was full or their source busy.
        totals.push_str(&format!(
            ", keying {} jobs, {} done, {} queue full, {} source busy",
            r.io.keying_jobs,
            r.io.keying_offloaded,
            r.endpoint.drops.get(DropReason::QueueFull),
            r.endpoint.drops.get(DropReason::SourceBusy)
        ));
        // The send path's batching: datagrams per system call, and the
        // UDP GSO runs among them.
        totals.push_str(&format!(
            ", sent {} datagrams in {} system calls ({} GSO runs)",
            r.io.send_datagrams, r.io.send_syscalls, r.io.gso_sends
        ));
    }
    totals.push_str(if report.clean {
        ", closed cleanly"
    } else {
        ", some sessions did not acknowledge the close"
    });
    println!("{totals}");
    Ok(())
}
