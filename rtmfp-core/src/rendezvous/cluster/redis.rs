//! The cluster store on Redis (feature `cluster`).
//!
//! What is kept (every key under a prefix, `rtmfp:` by default; every
//! entry with a TTL, [`ClusterConfig::ttl`], that the node's heartbeat
//! refreshes every third of it while the entry lives on the node, so that
//! a crashed node's entries expire by themselves):
//!
//! | key | value |
//! | --- | --- |
//! | `peer:<64 hex>` | `node\|observed\|addr,addr` ([`RemotePeer`]) |
//! | `name:<name>` | the holder's peer ID, 64 hex |
//! | `stream:<name>` | the node the stream is published through |
//! | `node:<node>` | `load\|addr,addr` ([`NodeRecord`]) |
//! | `nodes` | sorted set: node → load (members whose `node:` key expired are dead) |
//!
//! A node subscribes to the channel `intro:<node>`: another node publishes
//! there the introductions it wants this one to make
//! ([`encode_introduction`]).  It also subscribes to `streams`, where
//! every node announces the streams published through it, so that
//! players waiting elsewhere get them at once (cross-node relay,
//! `upstream.rs`).
//!
//! Threads: a worker owns the command connection and serves the
//! [`ClusterOp`]s the server sends through [`RedisCluster::link`]; a
//! subscriber owns the pub/sub connection.  Both post answers to the
//! server layer with [`Handle::post_layer`], never blocking the I/O
//! thread.  A lost connection is retried with a backoff (100 ms doubling
//! to 5 s); once back, the worker writes the node's whole state again
//! (Redis may have restarted empty).  While Redis is away, queries are
//! answered "not found" at once.

use super::record::{decode_introduction, encode_introduction, valid_node_name};
use super::upstream::Upstream;
use super::{ClusterLink, ClusterOp, NodeRecord, RemotePeer};
use crate::crypto::PeerId;
use crate::flash::peer_id::{from_hex, to_hex};
use crate::rendezvous::Server;
use crate::runtime::Handle;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long one Redis command may take before the connection counts as
/// lost.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Reconnection backoff bounds.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Most operations queued for the worker; more are dropped and counted.
const QUEUE: usize = 65536;
/// Most operations the worker takes from its queue at once.
const BATCH: usize = 512;

/// Compare-and-delete: deletes KEYS[1] if its value starts with ARGV[1].
const DEL_IF_PREFIX: &str = "local v = redis.call('GET', KEYS[1]) \
     if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end \
     return 0";
/// Set-if-absent-or-ours: sets KEYS[1] to ARGV[1] with a TTL of ARGV[2]
/// seconds unless another value holds it; 1 if set.
const SET_IF_MINE: &str = "local v = redis.call('GET', KEYS[1]) \
     if (not v) or v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1 end \
     return 0";

/// Settings of a Redis cluster node.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `redis://HOST:PORT[/DB]`.
    pub url: String,
    /// This node's name: letters, digits, `-`, `_`, `.`; at most 64.
    pub node: String,
    /// Where clients reach this node (what the redirector hands out).
    pub advertise: Vec<SocketAddr>,
    /// Lifetime of every entry; the node refreshes its own every third
    /// of it.
    pub ttl: Duration,
    /// Prefix of every key and channel.
    pub prefix: String,
}

impl ClusterConfig {
    /// A node named at random, with a 15 s TTL and the `rtmfp:` prefix.
    pub fn new(url: &str) -> ClusterConfig {
        ClusterConfig {
            url: url.to_owned(),
            node: format!("node-{:016x}", rand::random::<u64>()),
            advertise: Vec::new(),
            ttl: Duration::from_secs(15),
            prefix: "rtmfp:".to_owned(),
        }
    }
}

/// Why a cluster could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterError {
    /// The URL or a setting is wrong.
    Config(String),
    /// Redis does not answer.
    Unreachable(String),
}

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterError::Config(e) => write!(f, "bad cluster setting: {e}"),
            ClusterError::Unreachable(e) => write!(f, "Redis is unreachable: {e}"),
        }
    }
}

impl std::error::Error for ClusterError {}

/// Counters of a cluster node's link to Redis.
#[derive(Debug, Default)]
pub struct ClusterCounters {
    /// Operations dropped because the worker's queue was full.
    pub dropped: AtomicU64,
    /// Times a connection to Redis was (re)established after a loss.
    pub reconnects: AtomicU64,
    /// Redis commands that failed (each loses the connection).
    pub errors: AtomicU64,
    /// Names another node's peer holds in Redis already.
    pub name_conflicts: AtomicU64,
    /// Introductions received from other nodes.
    pub introductions_in: AtomicU64,
    /// Full state writes (heartbeats and re-registrations).
    pub refreshes: AtomicU64,
}

/// A snapshot of [`ClusterCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterStats {
    /// Operations dropped because the worker's queue was full.
    pub dropped: u64,
    /// Connections to Redis re-established after a loss.
    pub reconnects: u64,
    /// Redis commands that failed.
    pub errors: u64,
    /// Names another node's peer held in Redis already.
    pub name_conflicts: u64,
    /// Introductions received from other nodes.
    pub introductions_in: u64,
    /// Full state writes.
    pub refreshes: u64,
}

impl ClusterCounters {
    /// The counters now.
    pub fn snapshot(&self) -> ClusterStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ClusterStats {
            dropped: get(&self.dropped),
            reconnects: get(&self.reconnects),
            errors: get(&self.errors),
            name_conflicts: get(&self.name_conflicts),
            introductions_in: get(&self.introductions_in),
            refreshes: get(&self.refreshes),
        }
    }
}

enum Msg {
    Op(ClusterOp),
    Stop,
}

/// Where answers go: the server layer's runtime, once attached.
pub(super) type Poster = Arc<Mutex<Option<Handle>>>;

/// Runs `f` on the server layer (dropped before attach or once closed).
pub(super) fn post<F>(poster: &Poster, f: F)
where
    F: FnOnce(&mut Server, &mut crate::endpoint::Endpoint, Instant) + Send + 'static,
{
    let handle = poster.lock().ok().and_then(|h| h.clone());
    if let Some(h) = handle {
        let _ = h.post_layer::<Server, _>(f);
    }
}

/// A running cluster node's link to Redis: a worker thread and a
/// subscriber thread.  Stopping it (or dropping it) removes the node's
/// entries from Redis.
#[derive(Debug)]
pub struct RedisCluster {
    node: String,
    tx: SyncSender<Msg>,
    poster: Poster,
    stop: Arc<AtomicBool>,
    counters: Arc<ClusterCounters>,
    threads: Vec<JoinHandle<()>>,
}

struct Keys {
    prefix: String,
}

impl Keys {
    fn peer(&self, p: &PeerId) -> String {
        format!("{}peer:{}", self.prefix, to_hex(p))
    }
    fn name(&self, n: &str) -> String {
        format!("{}name:{n}", self.prefix)
    }
    fn stream(&self, n: &str) -> String {
        format!("{}stream:{n}", self.prefix)
    }
    fn node(&self, n: &str) -> String {
        format!("{}node:{n}", self.prefix)
    }
    fn nodes(&self) -> String {
        format!("{}nodes", self.prefix)
    }
    fn intro(&self, n: &str) -> String {
        format!("{}intro:{n}", self.prefix)
    }
    fn streams(&self) -> String {
        format!("{}streams", self.prefix)
    }
}

fn connect(client: &redis::Client) -> redis::RedisResult<redis::Connection> {
    let mut conn = client.get_connection_with_timeout(COMMAND_TIMEOUT)?;
    conn.set_read_timeout(Some(COMMAND_TIMEOUT))?;
    conn.set_write_timeout(Some(COMMAND_TIMEOUT))?;
    redis::cmd("PING").query::<String>(&mut conn)?;
    Ok(conn)
}

impl RedisCluster {
    /// Connects to Redis (failing at once if it does not answer) and
    /// starts the node's threads.  Answers reach the server only after
    /// [`RedisCluster::attach`].
    pub fn connect(config: ClusterConfig) -> Result<RedisCluster, ClusterError> {
        if !valid_node_name(&config.node) {
            return Err(ClusterError::Config(format!(
                "invalid node name {:?}",
                config.node
            )));
        }
        if config.ttl < Duration::from_secs(3) {
            return Err(ClusterError::Config("the TTL must be 3 s or more".into()));
        }
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| ClusterError::Config(format!("{}: {e}", config.url)))?;
        let conn = connect(&client)
            .map_err(|e| ClusterError::Unreachable(format!("{}: {e}", config.url)))?;
        let (tx, rx) = sync_channel(QUEUE);
        let poster: Poster = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(ClusterCounters::default());
        let keys = Keys {
            prefix: config.prefix.clone(),
        };
        let channels = vec![keys.intro(&config.node), keys.streams()];
        let mut worker = Worker {
            client: client.clone(),
            conn: Some(conn),
            keys,
            config: config.clone(),
            poster: poster.clone(),
            counters: counters.clone(),
            peers: HashMap::new(),
            names: HashMap::new(),
            streams: HashSet::new(),
            load: 0,
            backoff: BACKOFF_MIN,
            retry_at: None,
            upstreams: HashMap::new(),
        };
        let w = std::thread::Builder::new()
            .name("rtmfp-cluster".into())
            .spawn(move || worker.run(rx))
            .map_err(|e| ClusterError::Config(format!("cannot start a thread: {e}")))?;
        let (p, s, c) = (poster.clone(), stop.clone(), counters.clone());
        let sub = std::thread::Builder::new()
            .name("rtmfp-cluster-sub".into())
            .spawn(move || subscriber(client, channels, p, s, c))
            .map_err(|e| ClusterError::Config(format!("cannot start a thread: {e}")))?;
        Ok(RedisCluster {
            node: config.node,
            tx,
            poster,
            stop,
            counters,
            threads: vec![w, sub],
        })
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The link to give the server ([`Server::set_cluster`]).
    pub fn link(&self) -> Box<dyn ClusterLink> {
        Box::new(RedisLink {
            node: self.node.clone(),
            tx: self.tx.clone(),
            counters: self.counters.clone(),
        })
    }

    /// Delivers answers and introductions to the server layer on the
    /// runtime of `handle`.
    pub fn attach(&self, handle: Handle) {
        if let Ok(mut p) = self.poster.lock() {
            *p = Some(handle);
        }
    }

    /// The link's counters.
    pub fn counters(&self) -> &ClusterCounters {
        &self.counters
    }

    /// Removes the node's entries from Redis (if it is reachable) and
    /// stops the threads.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.tx.send(Msg::Stop);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The server's [`ClusterLink`] to the worker.
struct RedisLink {
    node: String,
    tx: SyncSender<Msg>,
    counters: Arc<ClusterCounters>,
}

impl ClusterLink for RedisLink {
    fn node(&self) -> &str {
        &self.node
    }

    fn send(&mut self, op: ClusterOp) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(Msg::Op(op)) {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The worker: the node's state as it must be in Redis, and the command
/// connection.
struct Worker {
    client: redis::Client,
    conn: Option<redis::Connection>,
    keys: Keys,
    config: ClusterConfig,
    poster: Poster,
    counters: Arc<ClusterCounters>,
    peers: HashMap<PeerId, RemotePeer>,
    names: HashMap<String, PeerId>,
    streams: HashSet<String>,
    load: u64,
    backoff: Duration,
    retry_at: Option<Instant>,
    /// Cross-node relays running, by stream name.
    upstreams: HashMap<String, Arc<Upstream>>,
}

impl Worker {
    fn run(&mut self, rx: Receiver<Msg>) {
        let period = self.config.ttl / 3;
        let mut next_refresh = Instant::now();
        loop {
            let now = Instant::now();
            if self.conn.is_none() && self.retry_at.is_some_and(|t| t <= now) {
                self.reconnect();
                if self.conn.is_some() {
                    next_refresh = now;
                }
            }
            if next_refresh <= now {
                self.refresh();
                next_refresh = now + period;
            }
            let wake = self
                .retry_at
                .filter(|_| self.conn.is_none())
                .map_or(next_refresh, |t| t.min(next_refresh));
            match rx.recv_timeout(wake.saturating_duration_since(Instant::now())) {
                Ok(Msg::Op(op)) => {
                    // What else is queued goes in the same batch: the
                    // lookups and introductions of a burst share one
                    // round trip to Redis.
                    let mut batch = vec![op];
                    let mut stop = false;
                    while batch.len() < BATCH {
                        match rx.try_recv() {
                            Ok(Msg::Op(op)) => batch.push(op),
                            Ok(Msg::Stop) => {
                                stop = true;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.on_batch(batch);
                    if stop {
                        break;
                    }
                }
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        self.leave();
    }

    fn reconnect(&mut self) {
        match connect(&self.client) {
            Ok(c) => {
                self.conn = Some(c);
                self.backoff = BACKOFF_MIN;
                self.retry_at = None;
                self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.retry_at = Some(Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
            }
        }
    }

    /// Runs `f` on the connection; an error drops it and schedules a
    /// reconnection.
    fn with<T>(
        &mut self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Option<T> {
        let conn = self.conn.as_mut()?;
        match f(conn) {
            Ok(v) => Some(v),
            Err(_) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                self.conn = None;
                self.retry_at = Some(Instant::now() + self.backoff);
                None
            }
        }
    }

    fn ttl(&self) -> u64 {
        self.config.ttl.as_secs().max(1)
    }

    fn node_record(&self) -> String {
        NodeRecord {
            load: self.load,
            addresses: self.config.advertise.clone(),
        }
        .encode()
    }

    /// Changes in order; lookups and introductions pipelined after them.
    fn on_batch(&mut self, ops: Vec<ClusterOp>) {
        enum Answer {
            Peer(u64),
            Name(u64),
        }
        let mut pipe = redis::pipe();
        let mut answers = Vec::new();
        let mut publishes = 0;
        for op in ops {
            match op {
                ClusterOp::FindPeer { query, peer } => {
                    pipe.cmd("GET").arg(self.keys.peer(&peer));
                    answers.push(Answer::Peer(query));
                }
                ClusterOp::FindName { query, name } => {
                    pipe.cmd("GET").arg(self.keys.name(&name));
                    answers.push(Answer::Name(query));
                }
                ClusterOp::Introduce {
                    node,
                    target,
                    epd,
                    tag,
                    from,
                } => {
                    if valid_node_name(&node) {
                        pipe.cmd("PUBLISH")
                            .arg(self.keys.intro(&node))
                            .arg(encode_introduction(&target, from, &epd, &tag))
                            .ignore();
                        publishes += 1;
                    }
                }
                other => self.on_op(other),
            }
        }
        if answers.is_empty() {
            if publishes > 0 {
                self.with(|c| pipe.query::<()>(c));
            }
            return;
        }
        // Redis away: every lookup is answered "not found" at once.
        let replies: Vec<Option<String>> = self
            .with(|c| pipe.query::<Vec<Option<String>>>(c))
            .unwrap_or_default();
        for (i, answer) in answers.into_iter().enumerate() {
            let text = replies.get(i).cloned().flatten();
            match answer {
                Answer::Peer(query) => {
                    let found = text.and_then(|t| RemotePeer::decode(&t));
                    post(&self.poster, move |s, ep, now| {
                        s.cluster_peer_found(ep, now, query, found)
                    });
                }
                Answer::Name(query) => {
                    let found = text.and_then(|t| from_hex(&t));
                    post(&self.poster, move |s, ep, now| {
                        s.cluster_name_found(ep, now, query, found)
                    });
                }
            }
        }
    }

    fn on_op(&mut self, op: ClusterOp) {
        let ttl = self.ttl();
        match op {
            ClusterOp::PeerUp {
                peer,
                observed,
                addresses,
            } => {
                let record = RemotePeer {
                    node: self.config.node.clone(),
                    observed,
                    addresses,
                };
                let (key, value) = (self.keys.peer(&peer), record.encode());
                self.peers.insert(peer, record);
                self.with(|c| {
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(&value)
                        .arg("EX")
                        .arg(ttl)
                        .query::<()>(c)
                });
            }
            ClusterOp::PeerDown { peer } => {
                self.peers.remove(&peer);
                let hex = to_hex(&peer);
                let gone: Vec<String> = self
                    .names
                    .iter()
                    .filter(|(_, p)| **p == peer)
                    .map(|(n, _)| n.clone())
                    .collect();
                let mut pipe = redis::pipe();
                let mine = format!("{}|", self.config.node);
                pipe.cmd("EVAL")
                    .arg(DEL_IF_PREFIX)
                    .arg(1)
                    .arg(self.keys.peer(&peer))
                    .arg(&mine)
                    .ignore();
                for n in gone {
                    self.names.remove(&n);
                    pipe.cmd("EVAL")
                        .arg(DEL_IF_PREFIX)
                        .arg(1)
                        .arg(self.keys.name(&n))
                        .arg(&hex)
                        .ignore();
                }
                self.with(|c| pipe.query::<()>(c));
            }
            ClusterOp::Name { name, peer } => {
                let key = self.keys.name(&name);
                self.names.insert(name, peer);
                let hex = to_hex(&peer);
                if self.with(|c| set_if_mine(c, &key, &hex, ttl)) == Some(false) {
                    self.counters.name_conflicts.fetch_add(1, Ordering::Relaxed);
                }
            }
            ClusterOp::StreamUp { name } => {
                let (key, node) = (self.keys.stream(&name), self.config.node.clone());
                let channel = self.keys.streams();
                self.with(|c| {
                    redis::pipe()
                        .cmd("SET")
                        .arg(&key)
                        .arg(&node)
                        .arg("EX")
                        .arg(ttl)
                        .ignore()
                        .cmd("PUBLISH")
                        .arg(&channel)
                        .arg(format!("{node} {name}"))
                        .ignore()
                        .query::<()>(c)
                });
                self.streams.insert(name);
            }
            ClusterOp::Upstream { name, app } => self.start_upstream(name, app),
            ClusterOp::UpstreamStop { name } => {
                if let Some(u) = self.upstreams.remove(&name) {
                    u.stop.store(true, Ordering::SeqCst);
                }
            }
            ClusterOp::StreamDown { name } => {
                let (key, node) = (self.keys.stream(&name), self.config.node.clone());
                self.streams.remove(&name);
                self.with(|c| {
                    redis::cmd("EVAL")
                        .arg(DEL_IF_PREFIX)
                        .arg(1)
                        .arg(&key)
                        .arg(&node)
                        .query::<()>(c)
                });
            }
            ClusterOp::Load { clients } => {
                self.load = clients;
                let (key, value, nodes) = (
                    self.keys.node(&self.config.node),
                    self.node_record(),
                    self.keys.nodes(),
                );
                let node = self.config.node.clone();
                self.with(|c| {
                    redis::pipe()
                        .cmd("SET")
                        .arg(&key)
                        .arg(&value)
                        .arg("EX")
                        .arg(ttl)
                        .ignore()
                        .cmd("ZADD")
                        .arg(&nodes)
                        .arg(clients)
                        .arg(&node)
                        .ignore()
                        .query::<()>(c)
                });
            }
            ClusterOp::FindPeer { query, peer } => {
                let key = self.keys.peer(&peer);
                let found = self
                    .with(|c| redis::cmd("GET").arg(&key).query::<Option<String>>(c))
                    .flatten()
                    .and_then(|t| RemotePeer::decode(&t));
                post(&self.poster, move |s, ep, now| {
                    s.cluster_peer_found(ep, now, query, found)
                });
            }
            ClusterOp::ClaimName { query, name, peer } => {
                // The same atomic set-unless-another-holds-it as for a
                // granted name; `None` when Redis is away.
                let key = self.keys.name(&name);
                let hex = to_hex(&peer);
                let granted = self.with(|c| set_if_mine(c, &key, &hex, ttl));
                if granted == Some(false) {
                    self.counters.name_conflicts.fetch_add(1, Ordering::Relaxed);
                }
                post(&self.poster, move |s, ep, now| {
                    s.cluster_name_claimed(ep, now, query, granted)
                });
            }
            ClusterOp::FindName { query, name } => {
                let key = self.keys.name(&name);
                let found = self
                    .with(|c| redis::cmd("GET").arg(&key).query::<Option<String>>(c))
                    .flatten()
                    .and_then(|t| from_hex(&t));
                post(&self.poster, move |s, ep, now| {
                    s.cluster_name_found(ep, now, query, found)
                });
            }
            ClusterOp::Introduce {
                node,
                target,
                epd,
                tag,
                from,
            } => {
                if !valid_node_name(&node) {
                    return;
                }
                let channel = self.keys.intro(&node);
                let message = encode_introduction(&target, from, &epd, &tag);
                self.with(|c| {
                    redis::cmd("PUBLISH")
                        .arg(&channel)
                        .arg(&message)
                        .query::<i64>(c)
                });
            }
        }
    }

    /// Starts relaying stream `name` from the node it is published
    /// through, unless a relay for it runs already or no other node has
    /// it (the server asks again while its players wait).
    fn start_upstream(&mut self, name: String, app: String) {
        self.upstreams.retain(|_, u| !u.done.load(Ordering::SeqCst));
        if self.upstreams.contains_key(&name) {
            return;
        }
        let key = self.keys.stream(&name);
        let Some(node) = self
            .with(|c| redis::cmd("GET").arg(&key).query::<Option<String>>(c))
            .flatten()
            .filter(|n| *n != self.config.node && valid_node_name(n))
        else {
            return;
        };
        let key = self.keys.node(&node);
        let Some(address) = self
            .with(|c| redis::cmd("GET").arg(&key).query::<Option<String>>(c))
            .flatten()
            .and_then(|t| NodeRecord::decode(&t))
            .and_then(|r| r.addresses.first().copied())
        else {
            return;
        };
        let flags = Arc::new(Upstream::default());
        let (f, poster, n) = (flags.clone(), self.poster.clone(), name.clone());
        let spawned = std::thread::Builder::new()
            .name("rtmfp-upstream".into())
            .spawn(move || super::upstream::run(address, app, n, poster, f));
        if spawned.is_ok() {
            self.upstreams.insert(name, flags);
        }
    }

    /// Writes the node's whole state with fresh TTLs (the heartbeat, and
    /// the re-registration after Redis came back).
    fn refresh(&mut self) {
        if self.conn.is_none() {
            return;
        }
        let ttl = self.ttl();
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(self.keys.node(&self.config.node))
            .arg(self.node_record())
            .arg("EX")
            .arg(ttl)
            .ignore();
        pipe.cmd("ZADD")
            .arg(self.keys.nodes())
            .arg(self.load)
            .arg(&self.config.node)
            .ignore();
        for (p, r) in &self.peers {
            pipe.cmd("SET")
                .arg(self.keys.peer(p))
                .arg(r.encode())
                .arg("EX")
                .arg(ttl)
                .ignore();
        }
        for (n, p) in &self.names {
            pipe.cmd("EVAL")
                .arg(SET_IF_MINE)
                .arg(1)
                .arg(self.keys.name(n))
                .arg(to_hex(p))
                .arg(ttl)
                .ignore();
        }
        for n in &self.streams {
            pipe.cmd("SET")
                .arg(self.keys.stream(n))
                .arg(&self.config.node)
                .arg("EX")
                .arg(ttl)
                .ignore();
        }
        if self.with(|c| pipe.query::<()>(c)).is_some() {
            self.counters.refreshes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An orderly stop: the node's entries go at once rather than at
    /// their TTL.
    fn leave(&mut self) {
        for u in self.upstreams.values() {
            u.stop.store(true, Ordering::SeqCst);
        }
        if self.conn.is_none() {
            return;
        }
        let node = self.config.node.clone();
        let mine = format!("{node}|");
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(self.keys.node(&node)).ignore();
        pipe.cmd("ZREM").arg(self.keys.nodes()).arg(&node).ignore();
        for p in self.peers.keys() {
            pipe.cmd("EVAL")
                .arg(DEL_IF_PREFIX)
                .arg(1)
                .arg(self.keys.peer(p))
                .arg(&mine)
                .ignore();
        }
        for (n, p) in &self.names {
            pipe.cmd("EVAL")
                .arg(DEL_IF_PREFIX)
                .arg(1)
                .arg(self.keys.name(n))
                .arg(to_hex(p))
                .ignore();
        }
        for n in &self.streams {
            pipe.cmd("EVAL")
                .arg(DEL_IF_PREFIX)
                .arg(1)
                .arg(self.keys.stream(n))
                .arg(&node)
                .ignore();
        }
        self.with(|c| pipe.query::<()>(c));
    }
}

fn set_if_mine(
    c: &mut redis::Connection,
    key: &str,
    value: &str,
    ttl: u64,
) -> redis::RedisResult<bool> {
    let set: i64 = redis::cmd("EVAL")
        .arg(SET_IF_MINE)
        .arg(1)
        .arg(key)
        .arg(value)
        .arg(ttl)
        .query(c)?;
    Ok(set == 1)
}

/// The subscriber: introductions other nodes ask of this one, passed to
/// the server layer ([`Server::cluster_introduce`]).
fn subscriber(
    client: redis::Client,
    channels: Vec<String>,
    poster: Poster,
    stop: Arc<AtomicBool>,
    counters: Arc<ClusterCounters>,
) {
    let mut backoff = BACKOFF_MIN;
    let mut first = true;
    while !stop.load(Ordering::SeqCst) {
        let mut conn = match connect(&client) {
            Ok(c) => c,
            Err(_) => {
                sleep_unless(&stop, backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        backoff = BACKOFF_MIN;
        if !first {
            counters.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        first = false;
        // Short reads, so that a stop is noticed.
        if conn
            .set_read_timeout(Some(Duration::from_millis(250)))
            .is_err()
        {
            continue;
        }
        let mut pubsub = conn.as_pubsub();
        if pubsub.subscribe(&channels).is_err() {
            continue;
        }
        while !stop.load(Ordering::SeqCst) {
            match pubsub.get_message() {
                Ok(msg) if channels.get(1).is_some_and(|c| c == msg.get_channel_name()) => {
                    // `node name`: a stream published through `node`.
                    let text = String::from_utf8_lossy(msg.get_payload_bytes()).into_owned();
                    let Some((_, name)) = text.split_once(' ') else {
                        continue;
                    };
                    let name = name.to_owned();
                    post(&poster, move |s, _, now| {
                        s.cluster_stream_published(now, &name)
                    });
                }
                Ok(msg) => {
                    let text = String::from_utf8_lossy(msg.get_payload_bytes()).into_owned();
                    let Some((target, from, epd, tag)) = decode_introduction(&text) else {
                        continue;
                    };
                    counters.introductions_in.fetch_add(1, Ordering::Relaxed);
                    post(&poster, move |s, ep, _| {
                        s.cluster_introduce(ep, &target, &epd, &tag, from);
                    });
                }
                Err(e) if e.is_timeout() => {}
                Err(_) => break,
            }
        }
    }
}

fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let end = Instant::now() + d;
    while !stop.load(Ordering::SeqCst) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// The live nodes in Redis, least loaded first: members of `nodes` whose
/// `node:` record has not expired (dead members are removed).
pub fn live_nodes(
    conn: &mut redis::Connection,
    prefix: &str,
) -> redis::RedisResult<Vec<(String, NodeRecord)>> {
    let keys = Keys {
        prefix: prefix.to_owned(),
    };
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(keys.nodes())
        .arg(0)
        .arg(-1)
        .query(conn)?;
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let mut get = redis::cmd("MGET");
    for m in &members {
        get.arg(keys.node(m));
    }
    let records: Vec<Option<String>> = get.query(conn)?;
    let mut live = Vec::new();
    let mut dead = Vec::new();
    for (m, r) in members.into_iter().zip(records) {
        match r.as_deref().and_then(NodeRecord::decode) {
            Some(rec) => live.push((m, rec)),
            None => dead.push(m),
        }
    }
    if !dead.is_empty() {
        let mut rem = redis::cmd("ZREM");
        rem.arg(keys.nodes());
        for d in &dead {
            rem.arg(d);
        }
        rem.query::<i64>(conn)?;
    }
    // The record's load is the freshest; ties by name for a stable order.
    live.sort_by(|a, b| a.1.load.cmp(&b.1.load).then_with(|| a.0.cmp(&b.0)));
    Ok(live)
}

/// Opens a checked connection to `url` (PING answered), with command
/// timeouts.
pub fn open(url: &str) -> Result<(redis::Client, redis::Connection), ClusterError> {
    let client =
        redis::Client::open(url).map_err(|e| ClusterError::Config(format!("{url}: {e}")))?;
    let conn = connect(&client).map_err(|e| ClusterError::Unreachable(format!("{url}: {e}")))?;
    Ok((client, conn))
}
