//! The table's own checks: names, every row's type and range, where each
//! lands, the builders' defaults, and the words of a refusal.

use super::*;
use crate::crypto::flash::keying::Policy;
use crate::flash::client::PeerConnectMode;
use crate::rendezvous::KeySet;
use std::collections::HashSet;
use std::time::Duration;

/// The path of a file under the system's temporary directory, unique to
/// this test run.
fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("rtmfp-options-{}-{name}", std::process::id()))
}

/// A file at [`temp_path`] holding `text`.
fn temp_file(name: &str, text: &str) -> String {
    let path = temp_path(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// Removes the files [`temp_file`] made.
fn remove_temp_files(names: &[&str]) {
    for name in names {
        let _ = std::fs::remove_file(temp_path(name));
    }
}

/// A value of `row`'s kind that is not its default.
fn sample(row: &Row) -> OptionValue {
    match row.kind {
        Kind::Duration { .. } => OptionValue::Millis(1234.0),
        Kind::Count { min, .. } => OptionValue::Int(i128::from(min) + 1),
        Kind::Flag => OptionValue::Bool(row.default != "true"),
        Kind::Text => OptionValue::Text("example".to_owned()),
        Kind::Word(words) => OptionValue::Text(words[words.len() - 1].to_owned()),
        Kind::Addresses => OptionValue::Text("127.0.0.1:5".to_owned()),
        Kind::Groups => OptionValue::List(vec![OptionValue::Int(16)]),
        Kind::TurnUri => OptionValue::Text("turn://u:p@127.0.0.1:3478".to_owned()),
        Kind::KeyLog => OptionValue::Text(temp_file("key-log", "")),
        Kind::Keys => OptionValue::List(vec![OptionValue::Text("k".to_owned())]),
        Kind::KeysFile => OptionValue::Text(temp_file("keys", "# keys\nFILEKEY\n")),
        Kind::Keepalive => OptionValue::None,
    }
}

/// The first object that takes `row`.
fn object_of(row: &Row) -> Object {
    [Object::Endpoint, Object::NetConnection, Object::Server]
        .into_iter()
        .find(|o| row.objects.has(*o))
        .unwrap()
}

#[test]
fn names_are_unique_snake_case_and_every_row_is_taken_by_some_object() {
    let mut seen = HashSet::new();
    for r in ROWS {
        assert!(seen.insert(r.name), "{} twice", r.name);
        assert!(
            r.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{}",
            r.name
        );
        let objects = [Object::Endpoint, Object::NetConnection, Object::Server];
        assert!(
            objects.iter().any(|o| r.objects.has(*o)),
            "{} is taken by no object",
            r.name
        );
        assert!(!r.doc.is_empty() && !r.default.is_empty(), "{}", r.name);
        assert_eq!(row(r.name).map(|found| found.name), Some(r.name));
    }
    assert_eq!(camel_case("max_flows_per_session"), "maxFlowsPerSession");
    assert_eq!(camel_case("bind"), "bind");
    assert!(row("nope").is_none());
}

#[test]
fn every_row_takes_a_value_of_its_kind_and_it_lands_in_the_configs() {
    for row in ROWS {
        let object = object_of(row);
        let before = format!("{:?}", Options::new().configs(object));
        let mut options = Options::new();
        options
            .set(row.name, sample(row))
            .unwrap_or_else(|e| panic!("{}: {e}", row.name));
        assert!(options.is_set(row.name));
        let after = format!("{:?}", options.configs(object));
        assert_ne!(before, after, "{} landed nowhere", row.name);
        options.unset(row.name);
        assert_eq!(format!("{:?}", options.configs(object)), before);
    }
    remove_temp_files(&["key-log", "keys"]);
}

#[test]
fn every_row_refuses_a_value_of_another_type_naming_the_option() {
    for row in ROWS {
        let wrong = match row.kind {
            Kind::Flag | Kind::Count { .. } => OptionValue::Text("x".to_owned()),
            _ => OptionValue::Bool(true),
        };
        let e = Options::spelled(|n| format!("options.{}", camel_case(n)))
            .set(row.name, wrong)
            .unwrap_err()
            .failure();
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", row.name);
        let shown = format!("options.{} must be ", camel_case(row.name));
        assert!(e.message.starts_with(&shown), "{}: {}", row.name, e.message);
    }
}

#[test]
fn counts_are_checked_with_their_range_in_one_wording() {
    for row in ROWS {
        let Kind::Count { min, max } = row.kind else {
            continue;
        };
        let mut options = Options::new();
        for ok in [min, max] {
            options.set(row.name, OptionValue::Int(ok.into())).unwrap();
        }
        for bad in [i128::from(min) - 1, i128::from(max) + 1] {
            let e = options.set(row.name, OptionValue::Int(bad)).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("{} must be from {min} to {max}, got {bad}", row.name)
            );
        }
    }
    // The words Python and Node show (their tests read them).
    let e = Options::new()
        .set("max_streams_per_client", OptionValue::Int(0))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "max_streams_per_client must be from 1 to 65535, got 0"
    );
    let e = Options::spelled(|n| format!("options.{}", camel_case(n)))
        .set("max_names_per_client", OptionValue::Int(65536))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "options.maxNamesPerClient must be from 1 to 65535, got 65536"
    );
}

#[test]
fn durations_in_either_unit_never_negative_and_zero_as_the_row_says() {
    let mut o = Options::new();
    o.set("open_timeout", OptionValue::Seconds(1.5)).unwrap();
    o.set("idle_timeout", OptionValue::Millis(2500.0)).unwrap();
    let e = o.configs(Object::Endpoint).endpoint;
    assert_eq!(e.open_timeout, Duration::from_millis(1500));
    assert_eq!(e.idle_timeout, Duration::from_millis(2500));
    let words = |name, value| o.clone().set(name, value).unwrap_err().to_string();
    assert_eq!(
        words("idle_timeout", OptionValue::Seconds(-1.0)),
        "idle_timeout must be >= 0 seconds, got -1"
    );
    assert_eq!(
        words("open_timeout", OptionValue::Millis(f64::NAN)),
        "open_timeout must be >= 0 ms, got NaN"
    );
    assert_eq!(
        words("keepalive_interval", OptionValue::Millis(0.0)),
        "keepalive_interval must be more than 0 ms"
    );
    assert!(words("open_timeout", OptionValue::Seconds(1e30)).contains("out of range"));
    // 0: no relay fallback; 0 s of hook time: the default verdict at once.
    o.set("direct_timeout", OptionValue::Millis(0.0)).unwrap();
    assert_eq!(o.client_config().direct_timeout, None);
    o.set("direct_timeout", OptionValue::Seconds(2.5)).unwrap();
    assert_eq!(
        o.client_config().direct_timeout,
        Some(Duration::from_millis(2500))
    );
    o.set("hook_timeout", OptionValue::Seconds(0.0)).unwrap();
    assert_eq!(o.asks().deadline, Duration::ZERO);
}

#[test]
fn the_builders_without_options_are_cores_defaults() {
    let o = Options::new();
    assert_eq!(o.bind(Object::Endpoint), vec!["0.0.0.0:0".parse().unwrap()]);
    assert_eq!(
        o.bind(Object::Server),
        vec!["0.0.0.0:1935".parse().unwrap()]
    );
    assert_eq!(o.flash(Object::Endpoint), FlashConfig::client());
    assert_eq!(o.flash(Object::NetConnection), FlashConfig::client());
    assert_eq!(o.flash(Object::Server), FlashConfig::server());
    let nc = o.netconnection_config().unwrap();
    let core = NetConnectionConfig::default();
    assert_eq!(nc.bind, core.bind);
    assert_eq!(nc.flash, core.flash);
    assert_eq!(
        nc.event_queue_limit,
        Some(crate::runtime::DEFAULT_EVENT_QUEUE_LIMIT)
    );
    assert_eq!(format!("{:?}", nc.client), format!("{:?}", core.client));
    assert_eq!(
        format!("{:?}", nc.endpoint),
        format!("{:?}", EndpointConfig::default())
    );
    assert_eq!(
        format!("{:?}", o.server_config()),
        format!("{:?}", ServerConfig::default())
    );
    assert_eq!(format!("{:?}", o.asks()), format!("{:?}", Asks::default()));
    assert_eq!(o.cluster(), None);
    assert!(o.turn().unwrap().is_none());
}

#[test]
fn the_builders_put_each_option_where_the_adapters_did() {
    let mut o = Options::new();
    let set = |o: &mut Options, name: &str, v: OptionValue| o.set(name, v).unwrap();
    set(&mut o, "server", OptionValue::Bool(true));
    set(
        &mut o,
        "bind",
        OptionValue::List(vec![
            OptionValue::Text("127.0.0.1:0".into()),
            OptionValue::Text("[::1]:0".into()),
        ]),
    );
    set(&mut o, "hostname", OptionValue::Text("example.org".into()));
    set(
        &mut o,
        "dh_groups",
        OptionValue::List(vec![OptionValue::Int(16), OptionValue::Int(14)]),
    );
    set(&mut o, "hmac_policy", OptionValue::Int(2));
    set(&mut o, "sseq_policy", OptionValue::Text("off".into()));
    set(&mut o, "max_peer_connections", OptionValue::Int(3));
    set(&mut o, "peer_connect_mode", OptionValue::Int(1));
    set(&mut o, "event_queue_limit", OptionValue::Int(100));
    set(&mut o, "max_flows_per_session", OptionValue::Int(64));
    set(&mut o, "max_streams_per_client", OptionValue::Int(2));
    set(&mut o, "ask_publish", OptionValue::Bool(true));
    set(
        &mut o,
        "cluster",
        OptionValue::Text("redis://127.0.0.1:1".into()),
    );
    set(
        &mut o,
        "keepalive",
        OptionValue::List(vec![OptionValue::Seconds(20.0), OptionValue::Seconds(5.0)]),
    );

    // An endpoint's role makes its identity; a NetConnection is a client.
    let flash = o.flash(Object::Endpoint);
    assert!(flash.accepts_ancillary_data);
    assert_eq!(flash.groups, vec![16, 14]);
    assert_eq!(flash.hmac, Policy::REQUIRED);
    assert_eq!(flash.sseq, Policy::OFF);
    assert_eq!(flash.hostname.as_deref(), Some(&b"example.org"[..]));
    let client = o.flash(Object::NetConnection);
    assert!(!client.accepts_ancillary_data);
    assert_eq!(client.groups, vec![16, 14]);

    let nc = o.netconnection_config().unwrap();
    assert_eq!(nc.bind.len(), 2);
    assert_eq!(nc.client.max_peer_connections, 3);
    assert_eq!(nc.client.peer_connect, PeerConnectMode::Ask);
    assert_eq!(nc.event_queue_limit, Some(100));
    assert_eq!(nc.endpoint.flow_limits.max_recv_flows, 64);

    let rc = o
        .runtime_config(
            Object::Server,
            Arc::new(o.identity(Object::Server).unwrap()),
        )
        .unwrap();
    assert_eq!(rc.event_queue_limit, 100);
    assert_eq!(rc.endpoint.flow_limits.max_recv_flows, 64);
    assert_eq!(rc.bind.len(), 2);
    let server = o.server_config();
    assert_eq!(server.max_streams_per_client, 2);
    assert_eq!(server.max_names_per_client, 16);
    assert_eq!(
        server.keepalive,
        Some((Duration::from_secs(20), Duration::from_secs(5)))
    );
    let asks = o.asks();
    assert!(asks.publish && !asks.connect && !asks.play);
    assert_eq!(o.cluster().as_deref(), Some("redis://127.0.0.1:1"));
}

#[test]
fn words_lists_addresses_and_keys_are_refused_with_what_is_wrong() {
    let mut o = Options::new();
    let words =
        |o: &mut Options, name: &str, v: OptionValue| o.set(name, v).unwrap_err().to_string();
    assert_eq!(
        words(&mut o, "hmac_policy", OptionValue::Int(3)),
        "hmac_policy must be one of off, opportunistic, required (0..=2), got 3"
    );
    assert_eq!(
        words(
            &mut o,
            "peer_connect_mode",
            OptionValue::Text("maybe".into())
        ),
        "peer_connect_mode must be one of accept_all, ask, got \"maybe\""
    );
    assert_eq!(
        words(
            &mut o,
            "dh_groups",
            OptionValue::List(vec![OptionValue::Int(3)])
        ),
        "dh_groups: DH group 3 is not supported (use 2, 5, 14 or 16)"
    );
    let twice = OptionValue::List(vec![OptionValue::Int(14), OptionValue::Int(14)]);
    assert!(words(&mut o, "dh_groups", twice).contains("listed twice"));
    assert!(words(&mut o, "dh_groups", OptionValue::List(vec![])).contains("give 1 to 4"));
    assert!(words(&mut o, "bind", OptionValue::Text("localhost:1".into())).contains("IP literal"));
    assert!(words(&mut o, "bind", OptionValue::List(vec![])).contains("no address"));
    let many = OptionValue::List(vec![OptionValue::Text("127.0.0.1:0".into()); 17]);
    assert!(words(&mut o, "bind", many).contains("at most 16"));
    let keys = OptionValue::List(vec![
        OptionValue::Text("a".into()),
        OptionValue::Text(String::new()),
    ]);
    assert_eq!(words(&mut o, "keys", keys), "keys[1] is empty");
    assert_eq!(
        words(&mut o, "nope", OptionValue::Bool(true)),
        "nope is not an option"
    );
}

#[test]
fn keys_come_from_a_list_or_a_file_not_both() {
    let mut o = Options::new();
    o.set(
        "keys",
        OptionValue::List(vec![OptionValue::Text("K".into())]),
    )
    .unwrap();
    assert_eq!(o.server_config().keys, KeySet::of(["K"]));
    let e = o
        .set("keys_file", OptionValue::Text(temp_file("both", "K\n")))
        .unwrap_err();
    assert_eq!(e.to_string(), "give keys_file or keys, not both");
    remove_temp_files(&["both"]);
    let e = Options::new()
        .set("keys_file", OptionValue::Text("/nonexistent/keys".into()))
        .unwrap_err();
    assert!(
        matches!(&e, OptionError::File { path, .. } if path.as_path() == std::path::Path::new("/nonexistent/keys"))
    );
    assert_eq!(e.failure().kind, ErrorKind::Io);
    assert!(e.to_string().starts_with("cannot read the keys file"));
}

#[test]
fn a_key_log_that_cannot_be_opened_is_an_io_failure_with_its_path() {
    let e = Options::new()
        .set("key_log", OptionValue::Text("/".into()))
        .unwrap_err();
    assert_eq!(e.failure().kind, ErrorKind::Io);
    assert!(e.to_string().starts_with("cannot open the key log \"/\""));
    let mut o = Options::new();
    o.set("key_log", OptionValue::None).unwrap();
    assert_eq!(o.flash(Object::Endpoint).key_log, None);
}

#[test]
fn a_turn_relay_parses_when_set_and_needs_a_user_name() {
    let mut o = Options::new();
    let e = o
        .set("turn", OptionValue::Text("turn:host:notaport".into()))
        .unwrap_err();
    assert!(e.to_string().starts_with("turn: "), "{e}");
    o.set("turn", OptionValue::Text("turn:127.0.0.1".into()))
        .unwrap();
    let e = o.check_turn().unwrap_err();
    assert!(e.message.contains("user name"), "{}", e.message);
    o.set("turn_username", OptionValue::Text("u".into()))
        .unwrap();
    o.set("turn_password", OptionValue::Text("p".into()))
        .unwrap();
    o.check_turn().unwrap();
    let relay = o.turn().unwrap().unwrap();
    assert_eq!(relay.server, "127.0.0.1:3478".parse().unwrap());
    assert_eq!(relay.username, "u");
    o.set("turn", OptionValue::None).unwrap();
    assert!(o.turn().unwrap().is_none());
}

/// The value a row's documented default stands for, when it is one
/// ("95 s (RFC ...)", "4 MiB", "1200 (...)", "true", "opportunistic",
/// "15 s and 10 s"); `None` for words that are not a value ("none", "the
/// role's ...").
fn documented(row: &Row) -> Option<OptionValue> {
    let words: Vec<&str> = row.default.split([' ', ';', ',']).collect();
    let number = |i: usize| words.get(i).and_then(|w| w.parse::<f64>().ok());
    match row.kind {
        Kind::Duration { .. } if words.get(1) == Some(&"s") => number(0).map(OptionValue::Seconds),
        Kind::Count { .. } => {
            let n = number(0)?;
            let scale = if words.get(1) == Some(&"MiB") {
                1 << 20
            } else {
                1
            };
            Some(OptionValue::Int(n as i128 * scale))
        }
        Kind::Flag => row.default.parse().ok().map(OptionValue::Bool),
        Kind::Word(words) => words
            .contains(&row.default)
            .then(|| OptionValue::Text(row.default.to_owned())),
        Kind::Keepalive => Some(OptionValue::List(vec![
            OptionValue::Seconds(number(0)?),
            OptionValue::Seconds(number(3)?),
        ])),
        _ => None,
    }
}

#[test]
fn every_documented_default_is_the_default() {
    let mut checked = 0;
    for row in ROWS {
        let Some(value) = documented(row) else {
            continue;
        };
        let object = object_of(row);
        let mut options = Options::new();
        options
            .set(row.name, value.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", row.name));
        assert_eq!(
            format!("{:?}", options.configs(object)),
            format!("{:?}", Options::new().configs(object)),
            "{}: the default is not {value:?}",
            row.name
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} defaults read");
}

#[test]
fn receive_coalescing_is_a_servers_millisecond_unless_set() {
    use crate::runtime::{RECV_COALESCE_ENV, SERVER_RECV_COALESCE};
    if std::env::var(RECV_COALESCE_ENV).is_ok() {
        return; // the environment chose for every runtime
    }
    let none = Options::new();
    assert_eq!(none.configs(Object::Endpoint).recv_coalesce, Duration::ZERO);
    assert_eq!(
        none.configs(Object::Server).recv_coalesce,
        SERVER_RECV_COALESCE
    );
    let mut set = Options::new();
    set.set("recv_coalesce", OptionValue::Millis(0.5)).unwrap();
    for object in [Object::Endpoint, Object::Server] {
        assert_eq!(
            set.configs(object).recv_coalesce,
            Duration::from_micros(500)
        );
    }
    set.set("recv_coalesce", OptionValue::Seconds(0.0)).unwrap();
    assert_eq!(set.configs(Object::Server).recv_coalesce, Duration::ZERO);
    // Longer than the most is the most, as from the environment.
    set.set("recv_coalesce", OptionValue::Millis(50.0)).unwrap();
    assert_eq!(
        set.configs(Object::Server).recv_coalesce,
        crate::runtime::MAX_RECV_COALESCE
    );
    assert!(set.set("recv_coalesce", OptionValue::Millis(-1.0)).is_err());
}

#[test]
fn the_table_as_json_has_one_line_per_row_in_order() {
    let json = super::table_json();
    let lines: Vec<&str> = json.lines().collect();
    assert_eq!(lines.first(), Some(&"["));
    assert_eq!(lines.last(), Some(&"]"));
    let rows = &lines[1..lines.len() - 1];
    assert_eq!(rows.len(), ROWS.len());
    for (line, row) in rows.iter().zip(ROWS) {
        let name = format!(
            "{{\"name\": \"{}\", \"camel\": \"{}\"",
            row.name,
            camel_case(row.name)
        );
        assert!(line.trim_start().starts_with(&name), "{line}");
        assert!(
            line.contains(&format!("\"expects\": {:?}", super::expects(row.kind))),
            "{line}"
        );
        let objects: Vec<String> = Object::EVERY
            .into_iter()
            .filter(|o| row.objects.has(*o))
            .map(|o| format!("\"{}\"", o.key()))
            .collect();
        let end = format!("\"objects\": [{}]}}", objects.join(", "));
        assert!(line.trim_end_matches(',').ends_with(&end), "{line}");
    }
    // A doc with quotes is escaped (hook_timeout's).
    assert!(json.contains(r#"refused with \"no answer from the server application\""#));
}
