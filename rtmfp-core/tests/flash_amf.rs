//! AMF0 / AMF3 codecs: known answers derived by hand from `amf0.txt` and
//! `amf3.txt`, round trips, and hostile input.

use proptest::prelude::*;
use rtmfp_core::flash::amf::{
    amf0, amf3, AmfError, Dictionary, Limits, MixedArray, Object, ObjectVector, Value, Vector,
};

fn s(v: &str) -> Value {
    Value::from(v)
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const ONE: [u8; 8] = [0x3f, 0xf0, 0, 0, 0, 0, 0, 0];
const TWO: [u8; 8] = [0x40, 0x00, 0, 0, 0, 0, 0, 0];

// ---------------------------------------------------------------- AMF0 --

#[test]
fn amf0_scalars() {
    // number-type = 0x00 DOUBLE
    assert_eq!(
        amf0::encode(&Value::Number(1.0)).unwrap(),
        cat(&[&[0x00], &ONE])
    );
    // boolean-type = 0x01 U8
    assert_eq!(amf0::encode(&Value::Boolean(false)).unwrap(), [0x01, 0x00]);
    // string-type = 0x02 U16 UTF-8 ("é" is two UTF-8 bytes)
    assert_eq!(
        amf0::encode(&s("hé")).unwrap(),
        [0x02, 0x00, 0x03, b'h', 0xc3, 0xa9]
    );
    // null, undefined, unsupported
    assert_eq!(amf0::encode(&Value::Null).unwrap(), [0x05]);
    assert_eq!(amf0::encode(&Value::Undefined).unwrap(), [0x06]);
    assert_eq!(amf0::encode(&Value::Unsupported).unwrap(), [0x0d]);
    // date-type = 0x0B DOUBLE S16
    let date = Value::Date {
        millis: 2.0,
        time_zone: -60,
    };
    assert_eq!(
        amf0::encode(&date).unwrap(),
        cat(&[&[0x0b], &TWO, &[0xff, 0xc4]])
    );
    // xml-document-type = 0x0F U32 UTF-8
    assert_eq!(
        amf0::encode(&Value::XmlDocument("<a/>".into())).unwrap(),
        cat(&[&[0x0f, 0, 0, 0, 4], b"<a/>"])
    );
    // Integer has no AMF0 form: a number.
    assert_eq!(
        amf0::encode(&Value::Integer(1)).unwrap(),
        cat(&[&[0x00], &ONE])
    );
}

#[test]
fn amf0_complex_types() {
    // anonymous-object-type = 0x03 *(UTF-8 value) UTF-8-empty 0x09
    let obj = Value::object([("a", Value::Number(1.0))]);
    let obj_bytes = cat(&[&[0x03, 0x00, 0x01, b'a', 0x00], &ONE, &[0x00, 0x00, 0x09]]);
    assert_eq!(amf0::encode(&obj).unwrap(), obj_bytes);
    assert_eq!(amf0::decode(&obj_bytes).unwrap(), (obj, obj_bytes.len()));

    // typed-object-type = 0x10 class-name *(object-property)
    let typed = Value::typed_object("P", [("x", Value::Null)]);
    let typed_bytes = [0x10, 0, 1, b'P', 0, 1, b'x', 0x05, 0, 0, 0x09];
    assert_eq!(amf0::encode(&typed).unwrap(), typed_bytes);
    assert_eq!(amf0::decode(&typed_bytes).unwrap().0, typed);

    // ecma-array-type = 0x08 U32 count *(object-property)
    let ecma = Value::EcmaArray(vec![("k".into(), Value::Null)]);
    let ecma_bytes = [0x08, 0, 0, 0, 1, 0, 1, b'k', 0x05, 0, 0, 0x09];
    assert_eq!(amf0::encode(&ecma).unwrap(), ecma_bytes);
    assert_eq!(amf0::decode(&ecma_bytes).unwrap().0, ecma);
    // The count is only a hint: a wrong one still decodes.
    let mut lying = ecma_bytes;
    lying[4] = 9;
    assert_eq!(amf0::decode(&lying).unwrap().0, ecma);

    // strict-array-type = 0x0A U32 count *(value-type)
    let strict = Value::StrictArray(vec![Value::Number(1.0), s("a")]);
    let strict_bytes = cat(&[&[0x0a, 0, 0, 0, 2, 0x00], &ONE, &[0x02, 0, 1, b'a']]);
    assert_eq!(amf0::encode(&strict).unwrap(), strict_bytes);
    assert_eq!(amf0::decode(&strict_bytes).unwrap().0, strict);

    // reference-type = 0x07 U16: the array is object 0, its object 1.
    let refs = Value::StrictArray(vec![Value::object::<&str>([]), Value::Reference(1)]);
    let refs_bytes = [0x0a, 0, 0, 0, 2, 0x03, 0, 0, 0x09, 0x07, 0, 1];
    assert_eq!(amf0::encode(&refs).unwrap(), refs_bytes);
    assert_eq!(amf0::decode(&refs_bytes).unwrap().0, refs);
    // Index 2 does not exist yet.
    let mut bad = refs_bytes;
    bad[11] = 2;
    assert_eq!(amf0::decode(&bad), Err(AmfError::BadReference));
}

#[test]
fn amf0_object_end_type_is_00_00_09() {
    // amf0.txt §2.11: object-end-type = UTF-8-empty object-end-marker.
    assert_eq!(
        amf0::encode(&Value::object::<&str>([])).unwrap(),
        [0x03, 0x00, 0x00, 0x09]
    );
    // Outside an object it is an error.
    assert_eq!(amf0::decode(&[0x09]), Err(AmfError::UnexpectedObjectEnd));
}

#[test]
fn amf0_avmplus_switch() {
    // amf0.txt §3.1: 0x11 then one AMF3 value.
    let bytes = [0x11, 0x04, 0x7f];
    assert_eq!(
        amf0::decode(&bytes).unwrap().0,
        Value::Avmplus(Box::new(Value::Integer(127)))
    );
    assert_eq!(
        amf0::encode(&Value::Avmplus(Box::new(Value::Integer(127)))).unwrap(),
        bytes
    );
    // AMF3-only values switch by themselves.
    assert_eq!(
        amf0::encode(&Value::ByteArray(vec![1, 2])).unwrap(),
        [0x11, 0x0c, 0x05, 0x01, 0x02]
    );
    // The AMF3 tables are shared by the switched values of a message.
    let values = [
        Value::Avmplus(Box::new(s("hello"))),
        Value::Avmplus(Box::new(s("hello"))),
    ];
    let bytes = amf0::encode_all(&values).unwrap();
    assert_eq!(
        bytes,
        cat(&[&[0x11, 0x06, 0x0b], b"hello", &[0x11, 0x06, 0x00]])
    );
    assert_eq!(amf0::decode_all(&bytes).unwrap(), values);
}

#[test]
fn amf0_unsupported_and_unknown_markers() {
    assert_eq!(
        amf0::decode(&[0x04]),
        Err(AmfError::UnsupportedMarker(0x04))
    );
    assert_eq!(
        amf0::decode(&[0x0e]),
        Err(AmfError::UnsupportedMarker(0x0e))
    );
    for m in 0x12..=0xffu8 {
        assert_eq!(amf0::decode(&[m]), Err(AmfError::UnknownMarker(m)));
    }
}

// ---------------------------------------------------------------- AMF3 --

#[test]
fn amf3_scalars() {
    assert_eq!(amf3::encode(&Value::Undefined).unwrap(), [0x00]);
    assert_eq!(amf3::encode(&Value::Null).unwrap(), [0x01]);
    assert_eq!(amf3::encode(&Value::Boolean(false)).unwrap(), [0x02]);
    assert_eq!(amf3::encode(&Value::Boolean(true)).unwrap(), [0x03]);
    // integer-type = 0x04 U29; 300 = 0b10_0101100 -> 0x82 0x2c
    assert_eq!(
        amf3::encode(&Value::Integer(300)).unwrap(),
        [0x04, 0x82, 0x2c]
    );
    // double-type = 0x05 DOUBLE
    assert_eq!(
        amf3::encode(&Value::Number(1.0)).unwrap(),
        cat(&[&[0x05], &ONE])
    );
    // UTF-8-empty = 0x01
    assert_eq!(amf3::encode(&s("")).unwrap(), [0x06, 0x01]);
    // date-type = 0x08 U29D-value(0x01) DOUBLE
    let date = Value::Date {
        millis: 1.0,
        time_zone: 0,
    };
    assert_eq!(amf3::encode(&date).unwrap(), cat(&[&[0x08, 0x01], &ONE]));
    // xml-doc / xml: U29X-value = (4 << 1) | 1
    assert_eq!(
        amf3::encode(&Value::XmlDocument("<a/>".into())).unwrap(),
        cat(&[&[0x07, 0x09], b"<a/>"])
    );
    assert_eq!(
        amf3::encode(&Value::Xml("<a/>".into())).unwrap(),
        cat(&[&[0x0b, 0x09], b"<a/>"])
    );
    // bytearray-type = 0x0C U29B-value *(U8)
    assert_eq!(
        amf3::encode(&Value::ByteArray(vec![1, 2, 3])).unwrap(),
        [0x0c, 0x07, 1, 2, 3]
    );
}

#[test]
fn amf3_string_references() {
    // "hello" is sent once; the second is string reference 0; the empty
    // string is never a reference.
    let v = Value::StrictArray(vec![s("hello"), s("hello"), s(""), s("")]);
    let bytes = cat(&[
        &[0x09, 0x09, 0x01],
        &[0x06, 0x0b],
        b"hello",
        &[0x06, 0x00, 0x06, 0x01, 0x06, 0x01],
    ]);
    assert_eq!(amf3::encode(&v).unwrap(), bytes);
    assert_eq!(amf3::decode(&bytes).unwrap(), (v, bytes.len()));
    // A non-canonical encoder sending the literal twice also decodes.
    let literal_twice = cat(&[&[0x09, 0x05, 0x01, 0x06, 0x03, b'a', 0x06, 0x03, b'a']]);
    assert_eq!(
        amf3::decode(&literal_twice).unwrap().0,
        Value::StrictArray(vec![s("a"), s("a")])
    );
}

#[test]
fn amf3_objects_and_traits() {
    // Anonymous dynamic object: U29O-traits = 0b1011 (dynamic, 0 sealed),
    // class "" (0x01), member "a" = int 1, then the empty string.
    let anon = Value::object([("a", Value::Integer(1))]);
    let anon_bytes = [0x0a, 0x0b, 0x01, 0x03, b'a', 0x04, 0x01, 0x01];
    assert_eq!(amf3::encode(&anon).unwrap(), anon_bytes);
    assert_eq!(amf3::decode(&anon_bytes).unwrap().0, anon);

    // Two instances of a sealed class: the second refers to the traits
    // (U29O-traits-ref 0 = 0b01) and the strings table holds "P", "x".
    let p = |x| Value::typed_object("P", [("x", Value::Integer(x))]);
    let v = Value::StrictArray(vec![p(1), p(2)]);
    let bytes = [
        0x09, 0x05, 0x01, // array, 2 dense, no associative part
        0x0a, 0x13, 0x03, b'P', 0x03, b'x', 0x04, 0x01, // traits: 1 sealed
        0x0a, 0x01, 0x04, 0x02, // traits reference 0
    ];
    assert_eq!(amf3::encode(&v).unwrap(), bytes);
    assert_eq!(amf3::decode(&bytes).unwrap().0, v);

    // Sealed and dynamic members together.
    let mixed = Value::Object(Box::new(Object {
        class: Some("Q".into()),
        properties: vec![("x".into(), Value::Null), ("y".into(), Value::Null)],
        sealed: 1,
        dynamic: true,
    }));
    let mixed_bytes = [
        0x0a, 0x1b, 0x03, b'Q', 0x03, b'x', 0x01, 0x03, b'y', 0x01, 0x01,
    ];
    assert_eq!(amf3::encode(&mixed).unwrap(), mixed_bytes);
    assert_eq!(amf3::decode(&mixed_bytes).unwrap().0, mixed);

    // Object reference: the array is object 0, the object is object 1.
    let refs = Value::StrictArray(vec![anon_empty(), Value::Reference(1)]);
    let refs_bytes = [0x09, 0x05, 0x01, 0x0a, 0x0b, 0x01, 0x01, 0x0a, 0x02];
    assert_eq!(amf3::encode(&refs).unwrap(), refs_bytes);
    assert_eq!(amf3::decode(&refs_bytes).unwrap().0, refs);
}

fn anon_empty() -> Value {
    Value::object::<&str>([])
}

#[test]
fn amf3_externalizable() {
    // U29O-traits-ext = 0b0111, class name, then (here) one AMF3 value.
    let class = "flex.messaging.io.ArrayCollection";
    let v = Value::Externalizable {
        class: class.into(),
        body: Box::new(Value::StrictArray(vec![Value::Integer(1)])),
    };
    let bytes = cat(&[
        &[0x0a, 0x07, (class.len() as u8) << 1 | 1],
        class.as_bytes(),
        &[0x09, 0x03, 0x01, 0x04, 0x01],
    ]);
    assert_eq!(amf3::encode(&v).unwrap(), bytes);
    assert_eq!(amf3::decode(&bytes).unwrap().0, v);
}

#[test]
fn amf3_arrays() {
    // Associative part first, then the dense part.
    let mixed = Value::MixedArray(Box::new(MixedArray {
        dense: vec![Value::Integer(2)],
        assoc: vec![("a".into(), Value::Integer(1))],
    }));
    let bytes = [0x09, 0x03, 0x03, b'a', 0x04, 0x01, 0x01, 0x04, 0x02];
    assert_eq!(amf3::encode(&mixed).unwrap(), bytes);
    assert_eq!(amf3::decode(&bytes).unwrap().0, mixed);
    let ecma = Value::EcmaArray(vec![("a".into(), Value::Integer(1))]);
    assert_eq!(
        amf3::encode(&ecma).unwrap(),
        [0x09, 0x01, 0x03, b'a', 0x04, 0x01, 0x01]
    );
    // An empty key would end the associative part.
    let bad = Value::EcmaArray(vec![(String::new(), Value::Null)]);
    assert_eq!(amf3::encode(&bad), Err(AmfError::EmptyKey));
}

#[test]
fn amf3_vectors_and_dictionary() {
    let vi = Value::VectorInt(Vector {
        fixed: false,
        items: vec![1, -1],
    });
    let vi_bytes = [0x0d, 0x05, 0x00, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(amf3::encode(&vi).unwrap(), vi_bytes);
    assert_eq!(amf3::decode(&vi_bytes).unwrap().0, vi);

    let vu = Value::VectorUint(Vector {
        fixed: true,
        items: vec![0xffff_ffff],
    });
    assert_eq!(
        amf3::encode(&vu).unwrap(),
        [0x0e, 0x03, 0x01, 0xff, 0xff, 0xff, 0xff]
    );
    let vd = Value::VectorDouble(Vector {
        fixed: false,
        items: vec![1.0],
    });
    assert_eq!(
        amf3::encode(&vd).unwrap(),
        cat(&[&[0x0f, 0x03, 0x00], &ONE])
    );

    let vo = Value::VectorObject(Box::new(ObjectVector {
        fixed: false,
        type_name: "T".into(),
        items: vec![Value::Null],
    }));
    let vo_bytes = [0x10, 0x03, 0x00, 0x03, b'T', 0x01];
    assert_eq!(amf3::encode(&vo).unwrap(), vo_bytes);
    assert_eq!(amf3::decode(&vo_bytes).unwrap().0, vo);

    let dict = Value::Dictionary(Box::new(Dictionary {
        weak_keys: true,
        entries: vec![(s("k"), Value::Integer(5))],
    }));
    let dict_bytes = [0x11, 0x03, 0x01, 0x06, 0x03, b'k', 0x04, 0x05];
    assert_eq!(amf3::encode(&dict).unwrap(), dict_bytes);
    assert_eq!(amf3::decode(&dict_bytes).unwrap().0, dict);
}

#[test]
fn amf3_hostile_inputs() {
    // Unknown marker.
    assert_eq!(amf3::decode(&[0x12]), Err(AmfError::UnknownMarker(0x12)));
    // References to empty tables: string, object, traits.
    assert_eq!(amf3::decode(&[0x06, 0x02]), Err(AmfError::BadReference));
    assert_eq!(amf3::decode(&[0x0a, 0x00]), Err(AmfError::BadReference));
    assert_eq!(amf3::decode(&[0x0a, 0x01]), Err(AmfError::BadReference));
    // A string claiming 2^28 - 1 bytes.
    assert_eq!(
        amf3::decode(&[0x06, 0xff, 0xff, 0xff, 0xff]),
        Err(AmfError::Truncated)
    );
    // Vectors and arrays claiming 2^28 - 1 elements.
    for m in [0x09, 0x0d, 0x0e, 0x0f, 0x10, 0x11] {
        let r = amf3::decode(&[m, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01]);
        assert_eq!(r, Err(AmfError::Truncated), "marker {m:#x}");
    }
    // Traits claiming 2^25 - 1 sealed names.
    assert_eq!(
        amf3::decode(&[0x0a, 0xff, 0xff, 0xff, 0xf3, 0x01]),
        Err(AmfError::Truncated)
    );
    // Invalid UTF-8.
    assert_eq!(
        amf3::decode(&[0x06, 0x03, 0xff]),
        Err(AmfError::InvalidUtf8)
    );
}

#[test]
fn deep_nesting_is_refused() {
    // AMF0 strict arrays of one element, 100000 deep.
    let deep0: Vec<u8> = [0x0a, 0, 0, 0, 1].repeat(100_000);
    assert_eq!(amf0::decode(&deep0), Err(AmfError::DepthExceeded));
    // AMF0 objects.
    let deep_obj: Vec<u8> = [0x03, 0, 1, b'a'].repeat(100_000);
    assert_eq!(amf0::decode(&deep_obj), Err(AmfError::DepthExceeded));
    // AMF3 arrays of one dense element.
    let deep3: Vec<u8> = [0x09, 0x03, 0x01].repeat(100_000);
    assert_eq!(amf3::decode(&deep3), Err(AmfError::DepthExceeded));
    // Through the switch: AMF0 array, then AMF3 nesting.
    let mixed = cat(&[&[0x0a, 0, 0, 0, 1, 0x11], &deep3]);
    assert_eq!(amf0::decode(&mixed), Err(AmfError::DepthExceeded));
    // 64 levels are fine, 65 are not; the encoder agrees.
    let nest = |n: usize| (0..n).fold(Value::Null, |v, _| Value::StrictArray(vec![v]));
    for (codec_enc, codec_dec) in [
        (
            amf0::encode as fn(&Value) -> _,
            amf0::decode as fn(&[u8]) -> _,
        ),
        (amf3::encode, amf3::decode),
    ] {
        let ok = codec_enc(&nest(64)).unwrap();
        assert!(codec_dec(&ok).is_ok());
        assert_eq!(codec_enc(&nest(65)), Err(AmfError::DepthExceeded));
    }
    // Explicit limits.
    let shallow = Limits {
        max_depth: 2,
        ..Limits::for_input(64)
    };
    let three = amf0::encode(&nest(3)).unwrap();
    let mut d = amf0::Decoder::with_limits(&three, shallow);
    assert_eq!(d.decode(), Err(AmfError::DepthExceeded));
}

#[test]
fn amf0_huge_lengths_fail_fast() {
    assert_eq!(
        amf0::decode(&[0x0a, 0xff, 0xff, 0xff, 0xff]),
        Err(AmfError::Truncated)
    );
    assert_eq!(
        amf0::decode(&[0x0c, 0xff, 0xff, 0xff, 0xff, b'a']),
        Err(AmfError::Truncated)
    );
    assert_eq!(
        amf0::decode(&[0x0f, 0xff, 0xff, 0xff, 0xff]),
        Err(AmfError::Truncated)
    );
    assert_eq!(
        amf0::decode(&[0x08, 0xff, 0xff, 0xff, 0xff]),
        Err(AmfError::Truncated)
    );
    assert_eq!(amf0::decode(&[0x02, 0xff, 0xff]), Err(AmfError::Truncated));
    assert_eq!(
        amf0::decode(&[0x02, 0x00, 0x01, 0xc3]),
        Err(AmfError::InvalidUtf8)
    );
}

#[test]
fn string_reference_bomb_is_refused() {
    // A 60000-byte string, then an array of 1000000 references to it: two
    // bytes of input each, 60 GB if expanded.
    let big = "x".repeat(60_000);
    let mut bytes = vec![0x09];
    amf3::write_u29((1_000_001 << 1) | 1, &mut bytes).unwrap();
    bytes.push(0x01);
    bytes.push(0x06);
    amf3::write_u29(((big.len() as u32) << 1) | 1, &mut bytes).unwrap();
    bytes.extend_from_slice(big.as_bytes());
    for _ in 0..1_000_000 {
        bytes.extend_from_slice(&[0x06, 0x00]);
    }
    assert_eq!(amf3::decode(&bytes), Err(AmfError::MemoryExceeded));
}

#[test]
fn trait_reference_bomb_is_refused() {
    // Traits with 200 sealed names that are references to a 10000-byte
    // string, then 100000 objects reusing the traits.
    let mut bytes = vec![0x09];
    amf3::write_u29((100_001 << 1) | 1, &mut bytes).unwrap();
    bytes.extend_from_slice(&[0x01, 0x06]);
    amf3::write_u29((10_000 << 1) | 1, &mut bytes).unwrap();
    bytes.extend(std::iter::repeat_n(b'n', 10_000));
    bytes.push(0x0a);
    amf3::write_u29((200 << 4) | 0b011, &mut bytes).unwrap();
    bytes.push(0x01); // class ""
    bytes.extend(std::iter::repeat_n(0x00, 200)); // string reference 0
    bytes.extend(std::iter::repeat_n(0x01, 200));
    for _ in 0..100_000 {
        bytes.extend_from_slice(&[0x0a, 0x01]);
        bytes.extend(std::iter::repeat_n(0x01, 200));
    }
    assert_eq!(amf3::decode(&bytes), Err(AmfError::MemoryExceeded));
}

#[test]
fn failed_encodings_leave_the_tables_alone() {
    // The first value adds "abc" and an object to the tables, then fails.
    let bad = Value::StrictArray(vec![
        s("abc"),
        Value::EcmaArray(vec![(String::new(), Value::Null)]),
    ]);
    let good = [s("abc"), Value::Reference(0)];
    let mut out = Vec::new();
    let mut e = amf3::Encoder::new();
    assert_eq!(e.encode(&bad, &mut out), Err(AmfError::EmptyKey));
    assert!(out.is_empty());
    assert_eq!(e.encode(&good[0], &mut out), Ok(()));
    assert_eq!(out, [0x06, 0x07, b'a', b'b', b'c']);
    assert_eq!(e.encode(&good[1], &mut out), Err(AmfError::BadReference));

    // Same through AMF0 and its switch.
    let bad0 = Value::StrictArray(vec![Value::Avmplus(Box::new(bad.clone())), Value::Null]);
    let mut out = Vec::new();
    let mut e = amf0::Encoder::new();
    assert!(e.encode(&bad0, &mut out).is_err());
    assert_eq!(
        e.encode(&Value::Reference(0), &mut out),
        Err(AmfError::BadReference)
    );
    assert_eq!(
        e.encode(&Value::Avmplus(Box::new(s("abc"))), &mut out),
        Ok(())
    );
    assert_eq!(out, [0x11, 0x06, 0x07, b'a', b'b', b'c']);
}

// ---------------------------------------------------------- proptests --

fn key() -> BoxedStrategy<String> {
    prop::sample::select(vec!["a", "b", "code", "level", "é", "0"])
        .prop_map(String::from)
        .boxed()
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["", "a", "hello", "hé", "漢字"]).prop_map(String::from),
        "[ -~]{0,12}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<f64>().prop_map(Value::Number),
        any::<i32>().prop_map(Value::Integer),
        any::<bool>().prop_map(Value::Boolean),
        text().prop_map(Value::String),
        Just(Value::Null),
        Just(Value::Undefined),
        Just(Value::Unsupported),
        (any::<f64>(), any::<i16>())
            .prop_map(|(millis, time_zone)| Value::Date { millis, time_zone }),
        text().prop_map(Value::XmlDocument),
        text().prop_map(Value::Xml),
        prop::collection::vec(any::<u8>(), 0..6).prop_map(Value::ByteArray),
        (any::<bool>(), prop::collection::vec(any::<i32>(), 0..4))
            .prop_map(|(fixed, items)| Value::VectorInt(Vector { fixed, items })),
        (any::<bool>(), prop::collection::vec(any::<u32>(), 0..4))
            .prop_map(|(fixed, items)| Value::VectorUint(Vector { fixed, items })),
        (any::<bool>(), prop::collection::vec(any::<f64>(), 0..4))
            .prop_map(|(fixed, items)| Value::VectorDouble(Vector { fixed, items })),
        (0u32..4).prop_map(Value::Reference),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 40, 5, |inner| {
        let members = prop::collection::vec((key(), inner.clone()), 0..4);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::StrictArray),
            members.clone().prop_map(Value::EcmaArray),
            (prop::collection::vec(inner.clone(), 0..3), members.clone()).prop_map(
                |(dense, assoc)| Value::MixedArray(Box::new(MixedArray { dense, assoc }))
            ),
            (
                prop::option::of(prop::sample::select(vec!["", "P", "Q"])),
                members.clone(),
                0usize..4,
                any::<bool>()
            )
                .prop_map(|(class, properties, sealed, dynamic)| {
                    Value::Object(Box::new(Object {
                        class: class.map(String::from),
                        properties,
                        sealed,
                        dynamic,
                    }))
                }),
            (
                any::<bool>(),
                text(),
                prop::collection::vec(inner.clone(), 0..3)
            )
                .prop_map(|(fixed, type_name, items)| Value::VectorObject(Box::new(
                    ObjectVector {
                        fixed,
                        type_name,
                        items
                    }
                ))),
            (
                any::<bool>(),
                prop::collection::vec((inner.clone(), inner.clone()), 0..3)
            )
                .prop_map(|(weak_keys, entries)| Value::Dictionary(Box::new(
                    Dictionary { weak_keys, entries }
                ))),
            inner.clone().prop_map(|v| Value::Avmplus(Box::new(v))),
            (prop::sample::select(vec!["E", "F"]), inner).prop_map(|(c, body)| {
                Value::Externalizable {
                    class: c.into(),
                    body: Box::new(body),
                }
            }),
        ]
    })
}

/// Values with one exact AMF0 representation: decoding gives them back.
fn amf0_canonical() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        (-1e300f64..1e300).prop_map(Value::Number),
        any::<bool>().prop_map(Value::Boolean),
        text().prop_map(Value::String),
        Just(Value::Null),
        Just(Value::Undefined),
        (-1e15f64..1e15, any::<i16>())
            .prop_map(|(millis, time_zone)| Value::Date { millis, time_zone }),
        text().prop_map(Value::XmlDocument),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        let members = prop::collection::vec((key(), inner.clone()), 0..4);
        prop_oneof![
            prop::collection::vec(inner, 0..4).prop_map(Value::StrictArray),
            members.clone().prop_map(Value::EcmaArray),
            members
                .clone()
                .prop_map(|p| Value::Object(Box::new(Object::anonymous(p)))),
            (prop::sample::select(vec!["P", "Q"]), members)
                .prop_map(|(c, p)| Value::Object(Box::new(Object::typed(c, p)))),
        ]
    })
}

/// Values with one exact AMF3 representation.
fn amf3_canonical() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        (-1e300f64..1e300).prop_map(Value::Number),
        (-(1i32 << 28)..(1 << 28)).prop_map(Value::Integer),
        any::<bool>().prop_map(Value::Boolean),
        text().prop_map(Value::String),
        Just(Value::Null),
        Just(Value::Undefined),
        text().prop_map(Value::Xml),
        prop::collection::vec(any::<u8>(), 0..6).prop_map(Value::ByteArray),
        (any::<bool>(), prop::collection::vec(any::<i32>(), 0..4))
            .prop_map(|(fixed, items)| Value::VectorInt(Vector { fixed, items })),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::StrictArray),
            prop::collection::vec((key(), inner.clone()), 1..4).prop_map(Value::EcmaArray),
            prop::collection::vec((key(), inner.clone()), 0..4)
                .prop_map(|p| Value::Object(Box::new(Object::anonymous(p)))),
            (
                prop::sample::select(vec!["P", "Q"]),
                prop::collection::vec((key(), inner), 0..4)
            )
                .prop_map(|(c, p)| Value::Object(Box::new(Object::typed(c, p)))),
        ]
    })
}

type Enc = fn(&[Value]) -> Result<Vec<u8>, AmfError>;
type Dec = fn(&[u8]) -> Result<Vec<Value>, AmfError>;

fn check_idempotent(values: &[Value], enc: Enc, dec: Dec) -> Result<(), TestCaseError> {
    // Values with dangling references are refused; the rest must round
    // trip to identical bytes.
    let Ok(first) = enc(values) else {
        return Ok(());
    };
    let decoded = dec(&first).map_err(|e| TestCaseError::fail(format!("{e}: {first:02x?}")))?;
    prop_assert_eq!(decoded.len(), values.len());
    let second = enc(&decoded).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(first, second);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn amf0_encode_decode_encode_is_identical(values in prop::collection::vec(value(), 1..4)) {
        check_idempotent(&values, amf0::encode_all, amf0::decode_all)?;
    }

    #[test]
    fn amf3_encode_decode_encode_is_identical(values in prop::collection::vec(value(), 1..4)) {
        check_idempotent(&values, amf3::encode_all, amf3::decode_all)?;
    }

    #[test]
    fn amf0_canonical_values_come_back(v in amf0_canonical()) {
        let bytes = amf0::encode(&v).unwrap();
        prop_assert_eq!(amf0::decode(&bytes).unwrap(), (v, bytes.len()));
    }

    #[test]
    fn amf3_canonical_values_come_back(v in amf3_canonical()) {
        let bytes = amf3::encode(&v).unwrap();
        prop_assert_eq!(amf3::decode(&bytes).unwrap(), (v.clone(), bytes.len()));
        // And switched into AMF0.
        let switched = Value::Avmplus(Box::new(v));
        let bytes = amf0::encode(&switched).unwrap();
        prop_assert_eq!(amf0::decode(&bytes).unwrap().0, switched);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = amf0::decode_all(&bytes);
        let _ = amf3::decode_all(&bytes);
    }

    #[test]
    fn mutated_encodings_never_panic(
        v in value(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        for enc in [amf0::encode as fn(&Value) -> _, amf3::encode] {
            let Ok(mut bytes) = enc(&v) else { continue };
            for (at, b) in &edits {
                let i = at.index(bytes.len());
                bytes[i] = *b;
            }
            let _ = amf0::decode_all(&bytes);
            let _ = amf3::decode_all(&bytes);
            let short = &bytes[..cut.index(bytes.len())];
            let _ = amf0::decode_all(short);
            let _ = amf3::decode_all(short);
        }
    }
}
