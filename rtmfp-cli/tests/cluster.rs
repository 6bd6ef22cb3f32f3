//! The rendezvous cluster end to end with real processes: a
//! `redis-server` the test starts on a free port, `rtmfp server
//! --cluster` nodes, `rtmfp redirector`, and `rtmfp publish` / `rtmfp
//! play` clients.  A peer on one node is found by name and by peer ID
//! from another node and a direct stream opens between them; the
//! redirector spreads clients over the nodes; a Redis restart is
//! survived; Redis unreachable at start is exit status 1.
//!
//! Tests that need `redis-server` (Debian package `redis-server`) skip
//! with a message when it is not installed.  Every process is killed on
//! drop and every wait is bounded.

mod common;

use common::{summary_counts, Proc, Server};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server of our own, killed on drop.
struct Redis {
    child: Option<Child>,
    port: u16,
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn have_redis() -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("SKIP: redis-server is not installed (Debian package redis-server)");
    }
    found
}

impl Redis {
    /// A redis-server of our own on a free port.  Tests run in parallel
    /// and each picks its port by binding port 0 and letting it go, so two
    /// may pick the same one: the second redis-server then cannot listen,
    /// and the test would talk to the first (and lose it when that test
    /// ends).  So a start that finds another process on the port tries a
    /// new port.
    fn start() -> Redis {
        for _ in 0..5 {
            if let Some(redis) = Self::try_start_on(free_tcp_port()) {
                return redis;
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// A redis-server of our own on `port` (a restart on the same port).
    fn start_on(port: u16) -> Redis {
        Self::try_start_on(port).unwrap_or_else(|| panic!("redis-server did not start on {port}"))
    }

    /// Starts redis-server on `port` and waits (bounded) until it answers;
    /// None if it exited or another process answers there.
    fn try_start_on(port: u16) -> Option<Redis> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let mut redis = Redis {
            child: Some(child),
            port,
        };
        let pid = redis.child.as_ref().map(|c| c.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let exited = redis
                .child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
            if exited {
                return None;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // Ours only if the process that answers is our child.
                let info: String = redis::Client::open(redis.url())
                    .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
                    .and_then(|mut conn| redis::cmd("INFO").arg("server").query(&mut conn))
                    .unwrap_or_default();
                let answered = info
                    .lines()
                    .find_map(|l| l.strip_prefix("process_id:"))
                    .and_then(|p| p.trim().parse::<u32>().ok());
                return (answered == pid).then_some(redis);
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(2))
            .unwrap()
    }

    fn get(&self, key: &str) -> Option<String> {
        redis::cmd("GET").arg(key).query(&mut self.conn()).unwrap()
    }

    /// Waits (bounded) until `key` holds a value; returns it.
    fn wait_key(&self, key: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(v) = self.get(key) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "no {key} in Redis after {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A node named `name` of the cluster at `url`.
fn node(url: &str, name: &str, ttl: &str) -> Server {
    Server::start(&[
        "--any-key",
        "--cluster",
        url,
        "--node",
        name,
        "--cluster-ttl",
        ttl,
    ])
}

/// The player got all of `rtmfp publish --synthetic 2`.
fn check_whole_stream(out: &str) {
    let (videos, audios) = rtmfp_core::flash::flv::synthetic_tag_counts(2000, 25, 43);
    assert_eq!(summary_counts(out, "video").0, videos as u64, "{out}");
    assert_eq!(summary_counts(out, "audio").0, audios as u64, "{out}");
}

/// A publisher of 2 s of synthetic FLV straight to its players, named
/// `name`, connected through `uri`; returns it with its peer ID.
fn start_publisher(uri: &str, name: &str) -> (Proc, String) {
    let mut p = Proc::spawn(&[
        "publish",
        uri,
        "--direct",
        "--name",
        name,
        "--synthetic",
        "2",
        "--speed",
        "2",
        "-q",
    ]);
    let id = p.wait_line("peer ID ");
    p.wait_line(&format!("name \"{name}\" registered"));
    p.wait_line("waiting for 1 subscriber");
    (p, id)
}

#[test]
fn unreachable_redis_is_exit_1_with_a_clear_error() {
    let port = free_tcp_port(); // nothing listens there
    let url = format!("redis://127.0.0.1:{port}/");
    for args in [
        &["server", "--listen", "127.0.0.1:0", "--cluster", &url][..],
        &["redirector", "--listen", "127.0.0.1:0", "--cluster", &url],
    ] {
        let (code, out, err) = Proc::spawn(args).finish();
        assert_eq!(code, 1, "{args:?}: {out}\n{err}");
        assert!(err.contains("Redis is unreachable"), "{err}");
        assert!(err.contains(&url), "{err}");
    }
    let (code, _, err) = Proc::spawn(&["server", "--cluster", "mysql://x"]).finish();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("bad cluster setting"), "{err}");
}

#[test]
fn a_peer_on_another_node_is_found_by_name_and_by_peer_id() {
    if !have_redis() {
        return;
    }
    let redis = Redis::start();
    let url = redis.url();
    let a = node(&url, "a", "15");
    let b = node(&url, "b", "15");
    let (publisher, id) = start_publisher(&a.uri("k", "cam"), "alice");
    // The shared state: the publisher's record names node a, and its name.
    let record = redis.wait_key(&format!("rtmfp:peer:{id}"), Duration::from_secs(10));
    assert!(record.starts_with("a|127.0.0.1:"), "{record}");
    assert_eq!(redis.get("rtmfp:name:alice").as_deref(), Some(id.as_str()));

    // A player on node b: lookupName misses there, Redis answers; the
    // IHello for the publisher's ID gets b's Redirect and a's Forwarded
    // IHello; the stream comes straight from the publisher.
    let mut player = Proc::spawn(&["play", &b.uri("k", "cam"), "--peer-name", "alice", "-q"]);
    assert_eq!(player.wait_line("name \"alice\" is peer "), id);
    let (code, out, err) = player.finish();
    assert_eq!(code, 0, "player:\n{out}\n{err}");
    assert!(out.contains(&format!("directly from peer {id}")), "{out}");
    check_whole_stream(&out);
    let (code, out, err) = publisher.finish();
    assert_eq!(code, 0, "publisher:\n{out}\n{err}");

    // By peer ID, from node b, to a second publisher on node a.
    let (publisher, id2) = publisher_named(&a, "bob");
    let (code, out, err) =
        Proc::spawn(&["play", &b.uri("k", "cam"), "--peer", &id2, "-q"]).finish();
    assert_eq!(code, 0, "player:\n{out}\n{err}");
    check_whole_stream(&out);
    drop(publisher);

    // An unknown name still fails cleanly on a cluster node.
    let (code, _, err) = Proc::spawn(&["play", &b.uri("k", "s"), "--peer-name", "nobody"]).finish();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("NetConnection.Call.Failed"), "{err}");

    let log_b = b.stop();
    assert!(
        log_b.contains(&format!("to {id} at [127.0.0.1:")),
        "{log_b}"
    );
    assert!(log_b.contains(", 2 cross-node introductions"), "{log_b}");
    assert!(log_b.contains("1 names resolved by the cluster"), "{log_b}");
    let log_a = a.stop();
    assert!(log_a.contains("0 cross-node introductions"), "{log_a}");
    assert!(!log_a.contains(" 0 forwarded for other nodes"), "{log_a}");
    // An orderly stop takes the nodes' entries away at once.
    assert_eq!(redis.get("rtmfp:node:a"), None);
    assert_eq!(redis.get("rtmfp:name:alice"), None);
}

#[test]
fn a_name_held_on_one_node_is_refused_on_another() {
    if !have_redis() {
        return;
    }
    let redis = Redis::start();
    let url = redis.url();
    let a = node(&url, "a", "15");
    let b = node(&url, "b", "15");
    let (first, id) = start_publisher(&a.uri("k", "cam"), "carol");
    // The second claimant, on node b, is told no: the store holds the name
    // for the first.
    let (code, _, err) = Proc::spawn(&[
        "publish",
        &b.uri("k", "cam"),
        "--direct",
        "--name",
        "carol",
        "--synthetic",
        "1",
        "-q",
    ])
    .finish();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("taken (on another node)"), "{err}");
    assert_eq!(redis.get("rtmfp:name:carol").as_deref(), Some(id.as_str()));
    drop(first);
    drop(b);
    drop(a);
}

fn publisher_named(server: &Server, name: &str) -> (Proc, String) {
    start_publisher(&server.uri("k", "cam"), name)
}

/// A redirector on a free port of the cluster at `url`, with its port.
fn redirector(url: &str) -> (Proc, u16) {
    let mut r = Proc::spawn(&["redirector", "--listen", "127.0.0.1:0", "--cluster", url]);
    let addr = r.wait_line("listening ");
    let port = addr.rsplit(':').next().unwrap().parse().unwrap();
    (r, port)
}

#[test]
fn the_redirector_spreads_clients_over_the_nodes_and_they_meet_across_them() {
    if !have_redis() {
        return;
    }
    let redis = Redis::start();
    let url = redis.url();
    let a = node(&url, "a", "15");
    let b = node(&url, "b", "15");
    let (mut r, port) = redirector(&url);
    r.wait_line("nodes 2:");
    let uri = format!("rtmfp://127.0.0.1:{port}/app/k#cam");
    // Both nodes idle: the first client goes to "a" (ties by name), the
    // next to "b" (a's count went up).
    let (publisher, id) = start_publisher(&uri, "carol");
    let mut player = Proc::spawn(&["play", &uri, "--peer-name", "carol", "-q"]);
    assert_eq!(player.wait_line("name \"carol\" is peer "), id);
    let (code, out, err) = player.finish();
    assert_eq!(code, 0, "player:\n{out}\n{err}");
    check_whole_stream(&out);
    // The connect status names the server the client ended on.
    let server_of = |out: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix("status NetConnection.Connect.Success (server "))
            .map(|s| s.trim_end_matches(')').to_owned())
            .unwrap_or_default()
    };
    assert_eq!(server_of(&out), b.fingerprint, "{out}");
    let (code, pub_out, err) = publisher.finish();
    assert_eq!(code, 0, "publisher:\n{pub_out}\n{err}");
    assert_eq!(server_of(&pub_out), a.fingerprint, "{pub_out}");
    let log_b = b.stop();
    assert!(log_b.contains("1 cross-node introductions"), "{log_b}");
    a.stop();
    r.interrupt();
    let (code, out, _) = r.finish();
    assert_eq!(code, 0);
    assert!(
        out.contains("totals") && out.contains(" 2 redirected"),
        "{out}"
    );
}

/// CPU time (user + system) of a process, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    // Fields 14 and 15 of stat; the text after ')' starts at field 3.
    n(11) + n(12)
}

#[test]
fn nodes_survive_a_redis_restart_without_spinning_and_register_again() {
    if !have_redis() {
        return;
    }
    let mut redis = Redis::start();
    let port = redis.port;
    let url = redis.url();
    let a = node(&url, "a", "3");
    let b = node(&url, "b", "3");
    let (publisher, id) = start_publisher(&a.uri("k", "cam"), "dave");
    redis.wait_key("rtmfp:name:dave", Duration::from_secs(10));

    redis.kill();
    let before = cpu_ticks(a.proc.pid());
    std::thread::sleep(Duration::from_secs(3));
    let spent = cpu_ticks(a.proc.pid()) - before;
    // A spinning reconnect loop would burn ~300 ticks in 3 s.
    assert!(
        spent < 100,
        "node a used {spent} ticks in 3 s without Redis"
    );

    // Back empty: the nodes write their state again (heartbeat each
    // second with a 3 s TTL; reconnect backoff at most 5 s).
    let redis = Redis::start_on(port);
    let record = redis.wait_key(&format!("rtmfp:peer:{id}"), Duration::from_secs(15));
    assert!(record.starts_with("a|"), "{record}");
    assert_eq!(
        redis.wait_key("rtmfp:name:dave", Duration::from_secs(15)),
        id
    );
    redis.wait_key("rtmfp:node:b", Duration::from_secs(15));

    // And the cluster works again: b finds dave on a.
    let mut player = Proc::spawn(&["play", &b.uri("k", "cam"), "--peer-name", "dave", "-q"]);
    assert_eq!(player.wait_line("name \"dave\" is peer "), id);
    let (code, out, err) = player.finish();
    assert_eq!(code, 0, "player:\n{out}\n{err}");
    check_whole_stream(&out);
    drop(publisher);
    b.stop();
    let log_a = a.stop();
    assert!(!log_a.contains("Redis: 0 reconnects"), "{log_a}");
}

#[test]
fn a_killed_nodes_entries_expire_and_the_redirector_drops_it() {
    if !have_redis() {
        return;
    }
    let redis = Redis::start();
    let url = redis.url();
    let mut a = node(&url, "a", "3");
    let b = node(&url, "b", "3");
    let (mut r, port) = redirector(&url);
    r.wait_line("nodes 2:");
    let uri = format!("rtmfp://127.0.0.1:{port}/app/k#cam");
    let (mut publisher, id) = start_publisher(&uri, "erin");
    assert!(redis
        .wait_key(&format!("rtmfp:peer:{id}"), Duration::from_secs(5))
        .starts_with("a|"));

    let killed = Instant::now();
    a.proc.kill_hard();
    publisher.kill_hard();
    // Within the TTL (3 s) and a redirector refresh, node a is gone.
    r.wait_line("nodes 1:");
    assert!(killed.elapsed() < Duration::from_secs(10));
    assert_eq!(redis.get(&format!("rtmfp:peer:{id}")), None);
    assert_eq!(redis.get("rtmfp:name:erin"), None);

    // A publisher coming back through the redirector lands on b, and its
    // name resolves again for a player there.
    let (publisher, id2) = start_publisher(&uri, "erin");
    let mut player = Proc::spawn(&["play", &uri, "--peer-name", "erin", "-q"]);
    assert_eq!(player.wait_line("name \"erin\" is peer "), id2);
    let (code, out, err) = player.finish();
    assert_eq!(code, 0, "player:\n{out}\n{err}");
    check_whole_stream(&out);
    assert!(killed.elapsed() < Duration::from_secs(30));
    drop(publisher);
    b.stop();
}

/// rtmfp-cpp's `tcconn` ($RTMFP_CPP_DIR/tcconn), if the variable is set
/// and the program is there.
fn tcconn() -> Option<std::path::PathBuf> {
    let Some(dir) = std::env::var_os("RTMFP_CPP_DIR") else {
        eprintln!("SKIP rtmfp-cpp interop: $RTMFP_CPP_DIR is not set");
        return None;
    };
    let path = std::path::PathBuf::from(dir).join("tcconn");
    if !path.exists() {
        eprintln!("SKIP rtmfp-cpp interop: {} is missing", path.display());
        return None;
    }
    Some(path)
}

#[test]
fn rtmfp_cpp_tcconn_follows_our_redirector() {
    let Some(tcconn) = tcconn() else { return };
    if !have_redis() {
        return;
    }
    let redis = Redis::start();
    let url = redis.url();
    let mut a = node(&url, "a", "15");
    let (mut r, port) = redirector(&url);
    r.wait_line("nodes 1:");
    // (tcconn's own output is block-buffered into a pipe: the node's
    // log is what tells.)
    let mut child = Command::new(tcconn)
        .arg(format!("rtmfp://127.0.0.1:{port}/app/k"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tcconn");
    // It opens its session with the node the Redirect named, and
    // connects and plays there.
    let line = a.proc.wait_line("connect ");
    assert!(line.ends_with("app \"app/k\""), "{line}");
    a.proc.wait_line("play        \"live\"");
    let _ = child.kill();
    let _ = child.wait();
    r.interrupt();
    let (_, out, _) = r.finish();
    assert!(out.contains(" 1 redirected"), "{out}");
}

/// The peer IDs in a server log's `connect` lines.
fn connected_ids(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.strip_prefix("connect     "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_player_on_one_node_plays_a_stream_published_through_another() {
    if !have_redis() {
        return;
    }
    let redis = Redis::start();
    let url = redis.url();
    let a = node(&url, "a", "15");
    let b = node(&url, "b", "15");
    // The player waits on b; the publisher starts on a: b hears of it on
    // the `streams` channel, plays it from a over a session of its own
    // and relays it.
    let mut player = Proc::spawn(&["play", &b.uri("k", "live"), "-q"]);
    player.wait_line("status NetStream.Play.Start");
    let publisher = Proc::spawn(&["publish", &a.uri("k", "live"), "--synthetic", "6", "-q"]);
    let (code, pub_out, err) = publisher.finish();
    assert_eq!(code, 0, "publisher:\n{pub_out}\n{err}");
    let (code, out, err) = player.finish();
    assert_eq!(code, 0, "player:\n{out}\n{err}");
    assert!(out.contains("NetStream.Play.PublishNotify"), "{out}");
    assert!(out.contains("NetStream.Play.UnpublishNotify"), "{out}");
    // A live join: the relay starts a moment after the publisher, and
    // video waits for a key frame; most of the 6 s stream arrives.
    let (videos, audios) = rtmfp_core::flash::flv::synthetic_tag_counts(6000, 25, 43);
    let (v, _) = summary_counts(&out, "video");
    let (au, _) = summary_counts(&out, "audio");
    assert!(v >= videos as u64 / 3 && v <= videos as u64, "{out}");
    assert!(au >= audios as u64 / 2 && au <= audios as u64, "{out}");
    assert_eq!(summary_counts(&out, "data").0, 1, "{out}");

    let log_b = b.stop();
    let log_a = a.stop();
    // a saw the publisher and b's upstream, never the player.
    let on_a = connected_ids(&log_a);
    let on_b = connected_ids(&log_b);
    assert_eq!(on_a.len(), 2, "{log_a}");
    assert_eq!(on_b.len(), 1, "{log_b}");
    assert!(
        !on_a.contains(&on_b[0]),
        "the player connected to a:\n{log_a}"
    );
    assert!(log_a.contains("play        \"live\""), "{log_a}");
    let relayed = |log: &str| -> u64 {
        let t = log.lines().find(|l| l.starts_with("totals ")).unwrap_or("");
        let i = t.find(" relayed").unwrap_or(0);
        t[..i]
            .rsplit(' ')
            .next()
            .unwrap_or("0")
            .parse()
            .unwrap_or(0)
    };
    assert!(relayed(&log_b) >= v + au, "{log_b}");
}

mod failover {
    use super::*;
    use rtmfp_core::flash::client::ClientEvent;
    use rtmfp_core::flash::command::code;
    use rtmfp_core::flash::{NetConnection, NetConnectionConfig, Value};

    /// A NetConnection that notices a dead server within 3 s.
    fn config() -> NetConnectionConfig {
        let mut c = NetConnectionConfig {
            bind: vec!["127.0.0.1:0".parse().unwrap()],
            ..NetConnectionConfig::default()
        };
        c.endpoint.idle_timeout = Duration::from_secs(3);
        c.endpoint.keepalive_interval = Duration::from_millis(500);
        c.client.keepalive_min = Duration::from_millis(500);
        c
    }

    /// The next NetConnection status within `within`.
    fn status(nc: &NetConnection, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            if let Some(ClientEvent::Status { stream: None, info }) = nc.next_event_timeout(left) {
                return Some(info.code);
            }
        }
    }

    /// A call's answer (`Ok(args)` or `Err(status code)`).
    fn call(nc: &NetConnection, name: &str, arg: &str) -> Result<Vec<Value>, String> {
        let txn = nc.call(name, vec![Value::from(arg)]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no answer to {name}");
            if let Some(ClientEvent::CallResult {
                transaction_id,
                ok,
                response,
            }) = nc.next_event_timeout(left)
            {
                if transaction_id == txn {
                    return if ok {
                        Ok(response.args)
                    } else {
                        Err(format!("{:?}", response.status_info().map(|i| i.code)))
                    };
                }
            }
        }
    }

    fn lookup(nc: &NetConnection, name: &str) -> Option<String> {
        match call(nc, "lookupName", name) {
            Ok(args) => args.first().and_then(|v| v.as_str()).map(str::to_owned),
            Err(_) => None,
        }
    }

    #[test]
    fn clients_of_a_killed_node_come_back_through_the_redirector_under_their_peer_ids() {
        if !have_redis() {
            return;
        }
        let redis = Redis::start();
        let url = redis.url();
        let mut a = node(&url, "a", "3");
        let b = node(&url, "b", "3");
        let (mut r, port) = redirector(&url);
        r.wait_line("nodes 2:");
        let uri = format!("rtmfp://127.0.0.1:{port}/app/k");
        // x lands on a (both idle, ties by name), y on b.
        let x = NetConnection::connect(&uri, config()).unwrap();
        assert_eq!(
            status(&x, WAIT_CONNECT).as_deref(),
            Some(code::CONNECT_SUCCESS)
        );
        assert_eq!(x.far_id_hex().unwrap(), Some(a.fingerprint.clone()));
        let y = NetConnection::connect(&uri, config()).unwrap();
        assert_eq!(
            status(&y, WAIT_CONNECT).as_deref(),
            Some(code::CONNECT_SUCCESS)
        );
        assert_eq!(y.far_id_hex().unwrap(), Some(b.fingerprint.clone()));
        let id = x.near_id_hex();
        assert!(call(&x, "registerName", "xavier").is_ok());
        assert_eq!(lookup(&y, "xavier"), Some(id.clone()));

        let killed = Instant::now();
        a.proc.kill_hard();
        // x notices within its idle timeout, then connects again through
        // the redirector until it lands on a live node (the redirector
        // may hand out a until a's record expires).
        let gone = status(&x, Duration::from_secs(10));
        assert_eq!(gone.as_deref(), Some(code::CONNECT_CLOSED));
        loop {
            assert!(
                killed.elapsed() < Duration::from_secs(30),
                "x never came back"
            );
            x.open(&uri, vec![]).unwrap();
            if status(&x, WAIT_CONNECT).as_deref() == Some(code::CONNECT_SUCCESS) {
                break;
            }
        }
        assert_eq!(x.far_id_hex().unwrap(), Some(b.fingerprint.clone()));
        // Same identity, same peer ID; its name resolves again.
        assert_eq!(x.near_id_hex(), id);
        assert!(call(&x, "registerName", "xavier").is_ok());
        assert_eq!(lookup(&y, "xavier"), Some(id.clone()));
        assert!(killed.elapsed() < Duration::from_secs(30));

        // And a new direct stream from x to y works.
        let cam = x.create_direct_stream().unwrap();
        cam.publish("cam").unwrap();
        let play = y.create_peer_stream(&id).unwrap();
        play.play("cam").unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let frame = [0xaf, 0x01, 1, 2, 3];
        let got = 'wait: loop {
            assert!(Instant::now() < deadline, "no media from x to y");
            let _ = cam.send_audio(0, &frame);
            while let Some(e) = y.next_event_timeout(Duration::from_millis(50)) {
                if let ClientEvent::Media { payload, .. } = e {
                    break 'wait payload;
                }
            }
        };
        assert_eq!(got, frame);
        x.close(Duration::from_millis(300));
        y.close(Duration::from_millis(300));
        b.stop();
    }

    const WAIT_CONNECT: Duration = Duration::from_secs(8);
}
