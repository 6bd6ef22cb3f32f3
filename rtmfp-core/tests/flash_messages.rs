//! RTMP messages on RTMFP flows (RFC 7425 §5.1-5.3): message mapping,
//! flow metadata, user control events and commands.

use proptest::prelude::*;
use rtmfp_core::flash::command::{self, code, decode_values, encode_values, ConnectObject};
use rtmfp_core::flash::message::{message_type, MessageKind, MAX_U24};
use rtmfp_core::flash::{
    Command, FlashError, FlowMetadata, Message, ReceiveIntent, StatusInfo, UserControlEvent, Value,
};
use std::net::SocketAddr;

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// An AMF0 string: 0x02, U16 length, bytes.
fn amf0_str(len: u16, bytes: &[u8]) -> Vec<u8> {
    assert_eq!(usize::from(len), bytes.len(), "hand-counted length");
    cat(&[&[0x02], &len.to_be_bytes(), bytes])
}

/// An AMF0 object key: U16 length, bytes.
fn key(len: u16, bytes: &[u8]) -> Vec<u8> {
    assert_eq!(usize::from(len), bytes.len(), "hand-counted length");
    cat(&[&len.to_be_bytes(), bytes])
}

const NUM_0: [u8; 9] = [0x00, 0, 0, 0, 0, 0, 0, 0, 0];
const NUM_1: [u8; 9] = [0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0];
const NUM_2: [u8; 9] = [0x00, 0x40, 0x00, 0, 0, 0, 0, 0, 0];
const NUM_3: [u8; 9] = [0x00, 0x40, 0x08, 0, 0, 0, 0, 0, 0];
const NUM_4: [u8; 9] = [0x00, 0x40, 0x10, 0, 0, 0, 0, 0, 0];
const NULL: [u8; 1] = [0x05];

// ------------------------------------------------- §5.3.3 setPeerInfo --

fn fig3_payload() -> Vec<u8> {
    cat(&[
        &amf0_str(0x0b, b"setPeerInfo"),
        &NUM_0,
        &NULL,
        &amf0_str(0x11, b"192.0.2.129:50001"),
        &amf0_str(0x15, b"[2001:db8:1::2]:50002"),
    ])
}

#[test]
fn set_peer_info_figure_3() {
    let cmd = Command::set_peer_info_strings(["192.0.2.129:50001", "[2001:db8:1::2]:50002"]);
    assert_eq!(
        cmd.encode(message_type::COMMAND_AMF0).unwrap(),
        fig3_payload()
    );

    // From socket addresses: IPv6 goes in brackets.
    let addrs: Vec<SocketAddr> = vec![
        "192.0.2.129:50001".parse().unwrap(),
        "[2001:db8:1::2]:50002".parse().unwrap(),
    ];
    assert_eq!(Command::set_peer_info(&addrs), cmd);

    // As a whole type 20 flow message with timestamp 0.
    let msg = cmd.to_message(message_type::COMMAND_AMF0, 0).unwrap();
    assert_eq!(
        msg.to_bytes().unwrap(),
        cat(&[&[20, 0, 0, 0, 0], &fig3_payload()])
    );

    // As type 17: format selector 0, then the same AMF0 values.
    let ext = cmd.encode(message_type::COMMAND_AMF3).unwrap();
    assert_eq!(ext, cat(&[&[0x00], &fig3_payload()]));

    // And back.
    for (t, payload) in [(20u8, fig3_payload()), (17, ext)] {
        let back = Command::decode(t, &payload).unwrap();
        assert_eq!(back, cmd);
        assert_eq!(back.peer_info_addresses(), addrs);
    }
}

#[test]
fn set_peer_info_may_be_empty_and_skips_junk() {
    let empty = Command::set_peer_info(&[]);
    assert_eq!(
        empty.encode(20).unwrap(),
        cat(&[&amf0_str(0x0b, b"setPeerInfo"), &NUM_0, &NULL])
    );
    let junk = Command::new(
        "setPeerInfo",
        0.0,
        Value::Null,
        vec![
            Value::from("nonsense"),
            Value::Number(1.0),
            Value::from("10.0.0.1:1935"),
        ],
    );
    assert_eq!(
        junk.peer_info_addresses(),
        ["10.0.0.1:1935".parse::<SocketAddr>().unwrap()]
    );
}

#[test]
fn set_peer_info_without_a_command_object_as_librtmfp_sends_it() {
    // Seen on the wire from librtmfp: no Null command object, so the first
    // address string comes right after the transaction ID.
    let first = b"192.0.2.2:56699";
    let second = b"[fd00::2]:58429";
    let payload = cat(&[
        &amf0_str(0x0b, b"setPeerInfo"),
        &NUM_0,
        &amf0_str(first.len() as u16, first),
        &amf0_str(second.len() as u16, second),
    ]);
    let cmd = Command::decode(20, &payload).unwrap();
    assert_eq!(
        cmd.peer_info_addresses(),
        [
            "192.0.2.2:56699".parse::<SocketAddr>().unwrap(),
            "[fd00::2]:58429".parse().unwrap()
        ]
    );
}

// ----------------------------------------------- rtmp-1.0 connect ------

#[test]
fn connect_command_from_the_rtmp_spec() {
    // The example values of the connect command object table
    // (rtmp-1.0.txt commands part §4.1.1): SUPPORT_SND_MP3 = 0x0004,
    // SUPPORT_VID_SORENSON = 0x0004, SUPPORT_VID_CLIENT_SEEK = 1, kAMF3 = 3.
    let object = Value::object([
        ("app", Value::from("testapp")),
        ("flashver", Value::from("FMSc/1.0")),
        ("swfUrl", Value::from("file://C:/FlvPlayer.swf")),
        (
            "tcUrl",
            Value::from("rtmp://localhost:1935/testapp/instance1"),
        ),
        ("fpad", Value::Boolean(false)),
        ("audioCodecs", Value::Number(4.0)),
        ("videoCodecs", Value::Number(4.0)),
        ("videoFunction", Value::Number(1.0)),
        ("pageUrl", Value::from("http://somehost/sample.html")),
        ("objectEncoding", Value::Number(3.0)),
    ]);
    let cmd = Command::new("connect", 1.0, object, vec![]);
    let expected = cat(&[
        &amf0_str(0x07, b"connect"),
        &NUM_1,
        &[0x03],
        &key(0x03, b"app"),
        &amf0_str(0x07, b"testapp"),
        &key(0x08, b"flashver"),
        &amf0_str(0x08, b"FMSc/1.0"),
        &key(0x06, b"swfUrl"),
        &amf0_str(0x17, b"file://C:/FlvPlayer.swf"),
        &key(0x05, b"tcUrl"),
        &amf0_str(0x27, b"rtmp://localhost:1935/testapp/instance1"),
        &key(0x04, b"fpad"),
        &[0x01, 0x00],
        &key(0x0b, b"audioCodecs"),
        &NUM_4,
        &key(0x0b, b"videoCodecs"),
        &NUM_4,
        &key(0x0d, b"videoFunction"),
        &NUM_1,
        &key(0x07, b"pageUrl"),
        &amf0_str(0x1b, b"http://somehost/sample.html"),
        &key(0x0e, b"objectEncoding"),
        &NUM_3,
        &[0x00, 0x00, 0x09],
    ]);
    assert_eq!(cmd.encode(20).unwrap(), expected);
    let back = Command::decode(20, &expected).unwrap();
    assert_eq!(back, cmd);
    assert_eq!(back.command_object.get_str("app"), Some("testapp"));
    assert_eq!(back.command_object.get_f64("objectEncoding"), Some(3.0));
}

#[test]
fn connect_builder_and_amf3_switched_object() {
    let o = ConnectObject::new("app/KEY", "rtmfp://example.com/app/KEY");
    let cmd = Command::connect(&o, vec![]);
    assert_eq!(cmd.transaction_id, 1.0);
    // A type 17 connect whose object goes in AMF3 (as AMF3 clients do).
    let switched = Command::new(
        "connect",
        1.0,
        Value::Avmplus(Box::new(Value::object([("app", Value::from("a"))]))),
        vec![],
    );
    let payload = switched.encode(17).unwrap();
    assert_eq!(
        payload,
        cat(&[
            &[0x00],
            &amf0_str(7, b"connect"),
            &NUM_1,
            // 0x11, AMF3 anonymous dynamic object {app: "a"}
            &[0x11, 0x0a, 0x0b, 0x01, 0x07, b'a', b'p', b'p', 0x06, 0x03, b'a', 0x01],
        ])
    );
    let back = Command::decode(17, &payload).unwrap();
    assert_eq!(back.command_object.get_str("app"), Some("a"));
}

// --------------------------------------------------- other commands ----

#[test]
fn stream_commands_by_hand() {
    assert_eq!(
        Command::create_stream(2.0).encode(20).unwrap(),
        cat(&[&amf0_str(12, b"createStream"), &NUM_2, &NULL])
    );
    let result = Command::create_stream_result(2.0, 1);
    assert_eq!(
        result.encode(20).unwrap(),
        cat(&[&amf0_str(7, b"_result"), &NUM_2, &NULL, &NUM_1])
    );
    assert_eq!(result.number_arg(), Some(1.0));
    let publish = Command::publish("stream1", "live");
    assert_eq!(
        publish.encode(20).unwrap(),
        cat(&[
            &amf0_str(7, b"publish"),
            &NUM_0,
            &NULL,
            &amf0_str(7, b"stream1"),
            &amf0_str(4, b"live")
        ])
    );
    assert_eq!(
        Command::play("s").encode(20).unwrap(),
        cat(&[&amf0_str(4, b"play"), &NUM_0, &NULL, &amf0_str(1, b"s")])
    );
    assert_eq!(
        Command::delete_stream(1).encode(20).unwrap(),
        cat(&[&amf0_str(12, b"deleteStream"), &NUM_0, &NULL, &NUM_1])
    );
    assert_eq!(
        Command::close_stream().encode(20).unwrap(),
        cat(&[&amf0_str(11, b"closeStream"), &NUM_0, &NULL])
    );
    for c in [publish, Command::play("s")] {
        let back = Command::decode(20, &c.encode(20).unwrap()).unwrap();
        assert_eq!(back.stream_name(), Some(c.stream_name().unwrap()));
    }
}

#[test]
fn on_status_info_object() {
    let info = StatusInfo::status(code::PLAY_START, "Started");
    let cmd = Command::on_status(&info);
    let expected = cat(&[
        &amf0_str(8, b"onStatus"),
        &NUM_0,
        &NULL,
        &[0x03],
        &key(5, b"level"),
        &amf0_str(6, b"status"),
        &key(4, b"code"),
        &amf0_str(20, b"NetStream.Play.Start"),
        &key(11, b"description"),
        &amf0_str(7, b"Started"),
        &[0, 0, 9],
    ]);
    assert_eq!(cmd.encode(20).unwrap(), expected);
    let back = Command::decode(20, &expected).unwrap();
    assert_eq!(back.status_info(), Some(info));
    let rejected = StatusInfo::error(code::CONNECT_REJECTED, "bad key");
    let err = Command::error(1.0, Value::Null, rejected.to_value());
    let back = Command::decode(17, &err.encode(17).unwrap()).unwrap();
    assert!(back.is_error());
    assert!(back.status_info().unwrap().is_error());
}

#[test]
fn data_messages() {
    // "@setDataFrame", "onMetaData", ECMA array, as a publisher sends it.
    let values = vec![
        Value::from("@setDataFrame"),
        Value::from("onMetaData"),
        Value::EcmaArray(vec![("width".into(), Value::Number(320.0))]),
    ];
    for t in [message_type::DATA_AMF0, message_type::DATA_AMF3] {
        let payload = encode_values(t, &values).unwrap();
        assert_eq!(payload[0] == 0, t == message_type::DATA_AMF3);
        assert_eq!(decode_values(t, &payload).unwrap(), values);
    }
    assert_eq!(
        decode_values(message_type::AUDIO, &[]),
        Err(FlashError::WrongMessageType(8))
    );
    // Malformed AMF is an error for that message only.
    assert!(matches!(
        decode_values(18, &[0x02, 0x00, 0x05, b'a']),
        Err(FlashError::Amf(_))
    ));
}

// ------------------------------------------- §5.1.2 message mapping ----

#[test]
fn message_mapping() {
    let bytes = [9, 0xff, 0xff, 0xff, 0xff, 0x17, 0x01];
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.message_type, message_type::VIDEO);
    assert_eq!(m.timestamp, u32::MAX);
    assert_eq!(&m.payload[..], [0x17, 0x01]);
    assert_eq!(m.kind(), MessageKind::Video);
    assert_eq!(m.to_bytes().unwrap(), bytes);
    for (t, kind) in [
        (4, MessageKind::UserControl),
        (8, MessageKind::Audio),
        (15, MessageKind::Data),
        (16, MessageKind::SharedObject),
        (17, MessageKind::Command),
        (18, MessageKind::Data),
        (19, MessageKind::SharedObject),
        (20, MessageKind::Command),
        (22, MessageKind::Aggregate),
        (1, MessageKind::ChunkControl),
        (6, MessageKind::ChunkControl),
        (7, MessageKind::Unknown),
    ] {
        assert_eq!(MessageKind::of(t), kind, "{t}");
    }
    let big = Message::new(8, 0, vec![0; MAX_U24 as usize + 1]);
    assert_eq!(big.to_bytes(), Err(FlashError::TooLarge));
    let decoded = Command::from_message(&Message::new(8, 0, vec![]));
    assert_eq!(decoded, Err(FlashError::WrongMessageType(8)));
}

// -------------------------------------------------- user control -------

#[test]
fn user_control_events_by_hand() {
    for (event, bytes) in [
        (
            UserControlEvent::StreamBegin { stream_id: 1 },
            vec![0, 0, 0, 0, 0, 1],
        ),
        (
            UserControlEvent::StreamEof { stream_id: 1 },
            vec![0, 1, 0, 0, 0, 1],
        ),
        (
            UserControlEvent::StreamDry { stream_id: 1 },
            vec![0, 2, 0, 0, 0, 1],
        ),
        (
            UserControlEvent::SetBufferLength {
                stream_id: 1,
                buffer_ms: 3000,
            },
            vec![0, 3, 0, 0, 0, 1, 0, 0, 0x0b, 0xb8],
        ),
        (
            UserControlEvent::StreamIsRecorded { stream_id: 1 },
            vec![0, 4, 0, 0, 0, 1],
        ),
        (
            UserControlEvent::PingRequest { timestamp: 7 },
            vec![0, 6, 0, 0, 0, 7],
        ),
        (
            UserControlEvent::PingResponse { timestamp: 7 },
            vec![0, 7, 0, 0, 0, 7],
        ),
        (
            UserControlEvent::FlowSync {
                sync_id: 13,
                count: 2,
            },
            vec![0, 0x22, 0, 0, 0, 13, 0, 0, 0, 2],
        ),
        (
            UserControlEvent::SetKeepaliveTimers {
                server_ms: 5000,
                peer_ms: 5000,
            },
            vec![0, 0x29, 0, 0, 0x13, 0x88, 0, 0, 0x13, 0x88],
        ),
        (
            UserControlEvent::Unknown {
                event_type: 31,
                data: vec![1, 2, 3],
            },
            vec![0, 31, 1, 2, 3],
        ),
    ] {
        assert_eq!(event.to_bytes(), bytes, "{event:?}");
        assert_eq!(UserControlEvent::parse(&bytes), Ok(event.clone()));
        let m = event.to_message(0);
        assert_eq!(m.message_type, 4);
        assert_eq!(UserControlEvent::from_message(&m), Ok(event));
    }
    assert_eq!(UserControlEvent::parse(&[0]), Err(FlashError::Truncated));
    assert_eq!(
        UserControlEvent::parse(&[0, 0, 0]),
        Err(FlashError::Truncated)
    );
}

// ------------------------------------------------- §5.1.1 metadata -----

#[test]
fn flow_metadata_control_flow() {
    // §5.3.1: the NetConnection control flow is stream 0, RXI 0.
    let md = FlowMetadata::new(0, ReceiveIntent::OriginalOrder);
    assert_eq!(md.to_bytes().unwrap(), b"TC\x04\x00");
    assert!(FlowMetadata::is_rtmp_flow(b"TC\x04\x00"));
    assert!(!FlowMetadata::is_rtmp_flow(b"GC\x04\x00"));
    assert_eq!(
        FlowMetadata::parse(b"TC\x00\x00"),
        Err(FlashError::MissingStreamId)
    );
    assert_eq!(
        FlowMetadata::parse(b"tc\x04\x00"),
        Err(FlashError::BadSignature)
    );
}

// --------------------------------------------------------- proptests --

fn small_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        (-1e9f64..1e9).prop_map(Value::Number),
        any::<bool>().prop_map(Value::Boolean),
        "[a-zA-Z0-9.:]{0,10}".prop_map(Value::String),
        Just(Value::Null),
        Just(Value::Undefined),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::StrictArray),
            prop::collection::vec(("[a-z]{1,5}", inner), 0..3).prop_map(Value::object),
        ]
    })
}

fn event() -> impl Strategy<Value = UserControlEvent> {
    prop_oneof![
        any::<u32>().prop_map(|stream_id| UserControlEvent::StreamBegin { stream_id }),
        any::<u32>().prop_map(|stream_id| UserControlEvent::StreamEof { stream_id }),
        any::<u32>().prop_map(|stream_id| UserControlEvent::StreamDry { stream_id }),
        (any::<u32>(), any::<u32>()).prop_map(|(stream_id, buffer_ms)| {
            UserControlEvent::SetBufferLength {
                stream_id,
                buffer_ms,
            }
        }),
        any::<u32>().prop_map(|stream_id| UserControlEvent::StreamIsRecorded { stream_id }),
        any::<u32>().prop_map(|timestamp| UserControlEvent::PingRequest { timestamp }),
        any::<u32>().prop_map(|timestamp| UserControlEvent::PingResponse { timestamp }),
        (any::<u32>(), 1u32..)
            .prop_map(|(sync_id, count)| UserControlEvent::FlowSync { sync_id, count }),
        (any::<u32>(), any::<u32>()).prop_map(|(server_ms, peer_ms)| {
            UserControlEvent::SetKeepaliveTimers { server_ms, peer_ms }
        }),
        (
            (8u16..).prop_filter("known", |t| *t != 34 && *t != 41),
            prop::collection::vec(any::<u8>(), 0..8)
        )
            .prop_map(|(event_type, data)| UserControlEvent::Unknown { event_type, data }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn message_round_trip(t in any::<u8>(), ts in any::<u32>(),
                          payload in prop::collection::vec(any::<u8>(), 0..64)) {
        let m = Message::new(t, ts, payload);
        let bytes = m.to_bytes().unwrap();
        prop_assert_eq!(bytes.len(), m.encoded_len());
        prop_assert_eq!(Message::parse(&bytes).unwrap(), m);
    }

    #[test]
    fn metadata_round_trip(id in 0..=MAX_U24, arrival in any::<bool>()) {
        let intent = if arrival { ReceiveIntent::NetworkArrival } else { ReceiveIntent::OriginalOrder };
        let md = FlowMetadata::new(id, intent);
        prop_assert_eq!(FlowMetadata::parse(&md.to_bytes().unwrap()), Ok(md));
    }

    #[test]
    fn user_control_round_trip(e in event()) {
        prop_assert_eq!(UserControlEvent::parse(&e.to_bytes()), Ok(e));
    }

    #[test]
    fn command_round_trip(
        name in "[a-zA-Z_]{1,12}",
        txid in -1e6f64..1e6,
        object in small_value(),
        args in prop::collection::vec(small_value(), 0..4),
        amf3 in any::<bool>(),
    ) {
        let t = if amf3 { message_type::COMMAND_AMF3 } else { message_type::COMMAND_AMF0 };
        let cmd = Command::new(name, txid, object, args);
        let msg = cmd.to_message(t, 0).unwrap();
        let wire = msg.to_bytes().unwrap();
        let back = Command::from_message(&Message::parse(&wire).unwrap()).unwrap();
        prop_assert_eq!(&back, &cmd);
        prop_assert_eq!(back.encode(t).unwrap(), cmd.encode(t).unwrap());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        let _ = Message::parse(&bytes);
        let _ = FlowMetadata::parse(&bytes);
        let _ = UserControlEvent::parse(&bytes);
        for t in [15u8, 17, 18, 20] {
            let _ = Command::decode(t, &bytes);
            let _ = decode_values(t, &bytes);
        }
        if let Ok(m) = Message::parse(&bytes) {
            let _ = Command::from_message(&m);
            let _ = UserControlEvent::from_message(&m);
            for sub in rtmfp_core::flash::message::aggregate(&m.payload) {
                let _ = sub;
            }
        }
    }

    #[test]
    fn mutated_commands_never_panic(
        args in prop::collection::vec(small_value(), 0..4),
        at in any::<prop::sample::Index>(),
        b in any::<u8>(),
    ) {
        let mut payload = Command::new("call", 3.0, Value::Null, args).encode(20).unwrap();
        let i = at.index(payload.len());
        payload[i] = b;
        let _ = Command::decode(20, &payload);
        let _ = Command::decode(20, &payload[..i]);
        let _ = command::decode_values(20, &payload);
    }
}
