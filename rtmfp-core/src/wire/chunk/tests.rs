use super::*;
use crate::wire::{
    address::AddressOrigin,
    option::encode_list,
    packet::{Mode, Packet},
};
use proptest::prelude::*;

fn encoded(chunk: &Chunk<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    chunk.encode(&mut out).unwrap();
    out
}

fn decode_whole(bytes: &[u8]) -> Chunk<'_> {
    assert!(bytes.len() >= 3);
    let len = usize::from(u16::from_be_bytes([bytes[1], bytes[2]]));
    assert_eq!(len, bytes.len() - 3, "chunk length field");
    Chunk::decode(bytes[0], &bytes[3..]).unwrap()
}

#[test]
fn rfc7016_figure_3_next_user_data() {
    // §2.3.12 Figure 3: three sequential messages in one packet.
    let bytes = hex::decode("100007000205030001021100040003040511000400060708").unwrap();
    let mut plain = vec![0x01];
    plain.extend_from_slice(&bytes);
    let packet = Packet::parse(&plain).unwrap();
    let chunks: Vec<_> = packet.chunks().map(|c| c.decode().unwrap()).collect();
    assert_eq!(chunks.len(), 3);
    let Chunk::UserData(first) = chunks[0] else {
        panic!("expected User Data")
    };
    assert_eq!(
        (
            first.flow_id,
            first.sequence_number,
            first.forward_sequence_number()
        ),
        (2, 5, 2)
    );
    assert_eq!(first.fragment, FragmentControl::Whole);
    assert_eq!(first.data, &[0, 1, 2]);
    assert_eq!(
        chunks[1],
        Chunk::NextUserData(NextUserData {
            fragment: FragmentControl::Whole,
            abandon: false,
            fin: false,
            options: None,
            data: &[3, 4, 5],
        })
    );
    let Chunk::NextUserData(third) = chunks[2] else {
        panic!("expected Next User Data")
    };
    assert_eq!(third.data, &[6, 7, 8]);
    let mut again = Vec::new();
    for c in &chunks {
        c.encode(&mut again).unwrap();
    }
    assert_eq!(again, bytes);
}

#[test]
fn rfc7016_figure_4_bitmap_ack() {
    let bytes = hex::decode("500005057f107906").unwrap();
    let Chunk::BitmapAck(ack) = decode_whole(&bytes) else {
        panic!("expected Bitmap Ack")
    };
    assert_eq!(
        (ack.flow_id, ack.buffer_blocks_available, ack.cumulative_ack),
        (5, 127, 16)
    );
    let acked: Vec<u64> = ack.acknowledged().collect();
    assert_eq!(acked, [18, 21, 22, 23, 24, 27, 28]);
    assert_eq!(encoded(&Chunk::BitmapAck(ack)), bytes);
}

#[test]
fn rfc7016_figure_5_range_ack() {
    let bytes = hex::decode("510007057f1000000103").unwrap();
    let Chunk::RangeAck(ack) = decode_whole(&bytes) else {
        panic!("expected Range Ack")
    };
    assert_eq!(
        (ack.flow_id, ack.buffer_blocks_available, ack.cumulative_ack),
        (5, 127, 16)
    );
    let ranges: Vec<_> = ack.ranges.iter().collect();
    assert_eq!(ranges, [(18, 18), (21, 24)]);
    assert_eq!(encoded(&Chunk::RangeAck(ack)), bytes);
}

#[test]
fn rfc7016_figure_6_truncated_range_ack() {
    // Figure 6's label says length=9; the bytes say 7 (a known erratum).
    let bytes = hex::decode("510007057f1000000183").unwrap();
    let Chunk::RangeAck(ack) = decode_whole(&bytes) else {
        panic!("expected Range Ack")
    };
    let ranges: Vec<_> = ack.ranges.iter().collect();
    assert_eq!(ranges, [(18, 18)]);
}

#[test]
fn user_data_options_metadata_and_association() {
    let options = encode_list([
        (OPTION_USER_METADATA, &b"TC\x04\x01"[..]),
        (OPTION_RETURN_ASSOCIATION, &[0x81, 0x00][..]),
    ]);
    let list = OptionList::parse_exact(&options).unwrap();
    let chunk = Chunk::UserData(UserData {
        fragment: FragmentControl::Begin,
        abandon: false,
        fin: true,
        flow_id: 3,
        sequence_number: 1,
        fsn_offset: 1,
        options: Some(list),
        data: b"hello",
    });
    let bytes = encoded(&chunk);
    assert_eq!(bytes[3], 0x80 | 0x10 | 0x01, "OPT|FRA=begin|FIN");
    let Chunk::UserData(ud) = decode_whole(&bytes) else {
        panic!()
    };
    assert_eq!(ud.metadata(), Some(&b"TC\x04\x01"[..]));
    assert_eq!(ud.return_association(), Some(Ok(128)));
    assert_eq!(ud.forward_sequence_number(), 0);
    assert_eq!(ud.data, b"hello");
}

#[test]
fn user_data_rules_of_2_3_11() {
    // seq 0 is forbidden.
    assert_eq!(
        Chunk::decode(0x10, &[0x00, 1, 0, 0]),
        Err(WireError::InvalidValue)
    );
    // fsnOffset greater than seq.
    assert_eq!(
        Chunk::decode(0x10, &[0x00, 1, 2, 3]),
        Err(WireError::InvalidValue)
    );
    // fsnOffset 0 only when abandoned.
    assert_eq!(
        Chunk::decode(0x10, &[0x00, 1, 2, 0]),
        Err(WireError::InvalidValue)
    );
    assert!(Chunk::decode(0x10, &[0x02, 1, 2, 0]).is_ok());
    // OPT set but the list has no Marker.
    assert_eq!(
        Chunk::decode(0x10, &[0x80, 1, 2, 1, 0x01, 0x00]),
        Err(WireError::Truncated)
    );
    // An option longer than the chunk.
    assert_eq!(
        Chunk::decode(0x10, &[0x80, 1, 2, 1, 0x02, 0x00]),
        Err(WireError::BadLength)
    );
    assert_eq!(Chunk::decode(0x10, &[0x00, 1]), Err(WireError::Truncated));
}

#[test]
fn startup_chunk_layouts() {
    // IHello: epdLength, epd, tag.
    let ihello = Chunk::IHello(IHello {
        epd: &[0x21, 0x0f, 0xaa],
        tag: &[1, 2, 3, 4, 5, 6, 7, 8],
    });
    assert_eq!(
        encoded(&ihello),
        [0x30, 0x00, 12, 3, 0x21, 0x0f, 0xaa, 1, 2, 3, 4, 5, 6, 7, 8]
    );
    // Redirect with one IPv4 address.
    let addrs = AddressList::encode(&[Address::new(
        "10.0.0.1:1935".parse().unwrap(),
        AddressOrigin::Reflexive,
    )]);
    let redirect = Chunk::Redirect(Redirect {
        tag_echo: &[9, 9],
        addresses: AddressList::parse(&addrs).unwrap(),
    });
    let bytes = encoded(&redirect);
    assert_eq!(bytes, [0x71, 0, 10, 2, 9, 9, 0x02, 10, 0, 0, 1, 0x07, 0x8f]);
    let Chunk::Redirect(r) = decode_whole(&bytes) else {
        panic!()
    };
    assert_eq!(r.addresses.iter().count(), 1);
    // IIKeying: isid, cookie, cert, skic, signature; signed parameters.
    let iik = IIKeying {
        initiator_session_id: 0x0200_0000,
        cookie_echo: &[0xc0; 3],
        certificate: &[0xce; 2],
        skic: &[0x5c; 4],
        signature: b"X",
    };
    let bytes = encoded(&Chunk::IIKeying(iik));
    assert_eq!(
        &bytes[3..],
        &[2, 0, 0, 0, 3, 0xc0, 0xc0, 0xc0, 2, 0xce, 0xce, 4, 0x5c, 0x5c, 0x5c, 0x5c, b'X']
    );
    let mut signed = Vec::new();
    iik.write_signed_parameters(&mut signed);
    assert_eq!(iik.signed_parameters(&bytes[3..]), &signed[..]);
    // RIKeying.
    let rik = RIKeying {
        responder_session_id: 7,
        skrc: &[1, 2],
        signature: &[],
    };
    assert_eq!(
        encoded(&Chunk::RIKeying(rik)),
        [0x78, 0, 7, 0, 0, 0, 7, 2, 1, 2]
    );
}

#[test]
fn implied_redirect_has_no_addresses() {
    let Chunk::Redirect(r) = Chunk::decode(0x71, &[1, 0xab]).unwrap() else {
        panic!()
    };
    assert!(r.addresses.is_empty());
    assert_eq!(r.tag_echo, &[0xab]);
    // A trailing partial address is an error.
    assert_eq!(
        Chunk::decode(0x71, &[1, 0xab, 0x00, 1, 2]),
        Err(WireError::Truncated)
    );
}

#[test]
fn fragment_must_not_be_empty() {
    assert_eq!(
        Chunk::decode(0x7f, &[0x80, 1, 0]),
        Err(WireError::InvalidValue)
    );
    let Chunk::Fragment(f) = Chunk::decode(0x7f, &[0x80, 1, 2, 0xee]).unwrap() else {
        panic!()
    };
    assert!(f.more);
    assert_eq!((f.packet_id, f.fragment_num, f.data), (1, 2, &[0xee][..]));
}

#[test]
fn session_chunks_and_trailing_bytes() {
    assert_eq!(Chunk::decode(0x18, &[0x05]), Ok(Chunk::BufferProbe(5)));
    assert_eq!(
        Chunk::decode(0x18, &[0x05, 0x00]),
        Err(WireError::TrailingBytes)
    );
    assert_eq!(
        Chunk::decode(0x5e, &[0x05, 0x00]),
        Ok(Chunk::FlowException(FlowException {
            flow_id: 5,
            exception: 0
        }))
    );
    assert_eq!(Chunk::decode(0x5e, &[0x05]), Err(WireError::Truncated));
    assert_eq!(encoded(&Chunk::Close), [0x0c, 0, 0]);
    assert_eq!(encoded(&Chunk::CloseAck), [0x4c, 0, 0]);
    assert_eq!(
        Chunk::decode(0x42, &[1, 2]),
        Ok(Chunk::Unknown {
            chunk_type: 0x42,
            payload: &[1, 2]
        })
    );
}

#[test]
fn ack_overflow_is_invalid() {
    // cumAck = u64::MAX with a bitmap byte cannot be represented.
    let mut payload = vec![1, 1];
    vlu::encode(u64::MAX, &mut payload);
    payload.push(0x01);
    assert_eq!(Chunk::decode(0x50, &payload), Err(WireError::InvalidValue));
    let mut payload = vec![1, 1];
    vlu::encode(u64::MAX - 1, &mut payload);
    payload.extend_from_slice(&[0, 0]);
    assert_eq!(Chunk::decode(0x51, &payload), Err(WireError::InvalidValue));
}

#[test]
fn mode_rules() {
    assert!(Chunk::IHello(IHello { epd: &[], tag: &[] }).allowed_in(Mode::Startup));
    assert!(!Chunk::IHello(IHello { epd: &[], tag: &[] }).allowed_in(Mode::Initiator));
    assert!(!Chunk::Ping(&[]).allowed_in(Mode::Startup));
    assert!(Chunk::Ping(&[]).allowed_in(Mode::Responder));
    // FIHello travels in an open session.
    assert!(!chunk_allowed_in(chunk_type::FIHELLO, Mode::Startup));
    assert!(chunk_allowed_in(chunk_type::FRAGMENT, Mode::Startup));
}

#[test]
fn oversized_payload_is_rejected_and_buffer_untouched() {
    let big = vec![0u8; 70_000];
    let mut out = vec![1, 2, 3];
    assert_eq!(Chunk::Ping(&big).encode(&mut out), Err(WireError::TooLarge));
    assert_eq!(out, [1, 2, 3]);
}

// ---- property tests: every chunk type round-trips byte-identically ----

/// Owned material from which a borrowed chunk is built.
#[derive(Debug, Clone)]
struct Material {
    a: Vec<u8>,
    b: Vec<u8>,
    c: Vec<u8>,
    d: Vec<u8>,
    options: Vec<u8>,
    addresses: Vec<u8>,
    ranges: Vec<u8>,
    numbers: [u64; 4],
    flags: [bool; 4],
    fra: u8,
    address: Address,
    id: u32,
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn address() -> impl Strategy<Value = Address> {
    (any::<bool>(), any::<[u8; 16]>(), any::<u16>(), 0u8..4).prop_map(|(v6, ip, port, origin)| {
        let ip: std::net::IpAddr = if v6 {
            std::net::Ipv6Addr::from(ip).into()
        } else {
            std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).into()
        };
        let origin = [
            AddressOrigin::Unknown,
            AddressOrigin::Local,
            AddressOrigin::Reflexive,
            AddressOrigin::Relay,
        ][usize::from(origin)];
        Address::new(std::net::SocketAddr::new(ip, port), origin)
    })
}

fn material() -> impl Strategy<Value = Material> {
    let options = proptest::collection::vec((any::<u64>(), bytes(20)), 0..4)
        .prop_map(|o| encode_list(o.iter().map(|(t, v)| (*t, v.as_slice()))));
    let addresses =
        proptest::collection::vec(address(), 0..4).prop_map(|a| AddressList::encode(&a));
    let ranges = proptest::collection::vec((0u64..1000, 0u64..1000), 0..6).prop_map(|pairs| {
        let mut out = Vec::new();
        for (h, r) in pairs {
            vlu::encode(h, &mut out);
            vlu::encode(r, &mut out);
        }
        out
    });
    (
        (bytes(64), bytes(64), bytes(300), bytes(64)),
        (options, addresses, ranges),
        (
            any::<[u64; 4]>(),
            any::<[bool; 4]>(),
            0u8..4,
            address(),
            any::<u32>(),
        ),
    )
        .prop_map(
            |((a, b, c, d), (options, addresses, ranges), (numbers, flags, fra, address, id))| {
                Material {
                    a,
                    b,
                    c,
                    d,
                    options,
                    addresses,
                    ranges,
                    numbers,
                    flags,
                    fra,
                    address,
                    id,
                }
            },
        )
}

fn fra(bits: u8) -> FragmentControl {
    [
        FragmentControl::Whole,
        FragmentControl::Begin,
        FragmentControl::End,
        FragmentControl::Middle,
    ][usize::from(bits & 3)]
}

/// Builds chunk number `which` (one per chunk type) from the material.
fn build(which: u8, m: &Material) -> Chunk<'_> {
    let [n0, n1, n2, n3] = m.numbers;
    let options = if m.flags[3] {
        Some(OptionList::parse_exact(&m.options).unwrap())
    } else {
        None
    };
    match which {
        0 => Chunk::Fragment(Fragment {
            more: m.flags[0],
            packet_id: n0,
            fragment_num: n1,
            data: if m.a.is_empty() { &[0] } else { &m.a },
        }),
        1 => Chunk::IHello(IHello {
            epd: &m.a,
            tag: &m.b,
        }),
        2 => Chunk::FIHello(FIHello {
            epd: &m.a,
            reply_address: m.address,
            tag: &m.b,
        }),
        3 => Chunk::RHello(RHello {
            tag_echo: &m.a,
            cookie: &m.b,
            certificate: &m.c,
        }),
        4 => Chunk::Redirect(Redirect {
            tag_echo: &m.a,
            addresses: AddressList::parse(&m.addresses).unwrap(),
        }),
        5 => Chunk::CookieChange(CookieChange {
            old_cookie: &m.a,
            new_cookie: &m.b,
        }),
        6 => Chunk::IIKeying(IIKeying {
            initiator_session_id: m.id,
            cookie_echo: &m.a,
            certificate: &m.c,
            skic: &m.b,
            signature: &m.d,
        }),
        7 => Chunk::RIKeying(RIKeying {
            responder_session_id: m.id,
            skrc: &m.c,
            signature: &m.d,
        }),
        8 => Chunk::Ping(&m.a),
        9 => Chunk::PingReply(&m.a),
        10 => {
            let sequence_number = n1.max(1);
            let abandon = m.flags[1];
            let fsn_offset = if abandon {
                n2 % (sequence_number + 1)
            } else {
                1 + n2 % sequence_number
            };
            Chunk::UserData(UserData {
                fragment: fra(m.fra),
                abandon,
                fin: m.flags[2],
                flow_id: n0,
                sequence_number,
                fsn_offset,
                options,
                data: &m.c,
            })
        }
        11 => Chunk::NextUserData(NextUserData {
            fragment: fra(m.fra),
            abandon: m.flags[1],
            fin: m.flags[2],
            options,
            data: &m.c,
        }),
        12 => Chunk::BitmapAck(BitmapAck {
            flow_id: n0,
            buffer_blocks_available: n1,
            cumulative_ack: n2 >> 8,
            bitmap: &m.a,
        }),
        13 => {
            let cumulative_ack = n2 >> 16;
            Chunk::RangeAck(RangeAck {
                flow_id: n0,
                buffer_blocks_available: n1,
                cumulative_ack,
                ranges: AckRanges::parse(cumulative_ack, &m.ranges).unwrap(),
            })
        }
        14 => Chunk::BufferProbe(n3),
        15 => Chunk::FlowException(FlowException {
            flow_id: n0,
            exception: n3,
        }),
        16 => Chunk::Close,
        17 => Chunk::CloseAck,
        _ => Chunk::Unknown {
            chunk_type: 0x20 + (n3 as u8 & 0x0f),
            payload: &m.a,
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_chunk_round_trips(which in 0u8..19, m in material()) {
        let chunk = build(which, &m);
        let bytes = encoded(&chunk);
        let decoded = decode_whole(&bytes);
        prop_assert_eq!(decoded, chunk);
        prop_assert_eq!(encoded(&decoded), bytes);
    }

    #[test]
    fn decode_never_panics(chunk_type: u8, payload in bytes(200)) {
        if let Ok(chunk) = Chunk::decode(chunk_type, &payload) {
            // Whatever decodes re-encodes and decodes to the same value.
            let bytes = encoded(&chunk);
            prop_assert_eq!(decode_whole(&bytes), chunk);
            if let Chunk::BitmapAck(a) = chunk { let _ = a.acknowledged().count(); }
            if let Chunk::RangeAck(a) = chunk { let _ = a.ranges.iter().count(); }
            if let Chunk::UserData(u) = chunk { let _ = (u.metadata(), u.return_association()); }
        }
    }

    #[test]
    fn packets_never_panic(plain in bytes(300)) {
        if let Ok(packet) = Packet::parse(&plain) {
            for raw in packet.chunks() {
                let _ = raw.decode();
            }
        }
    }
}
