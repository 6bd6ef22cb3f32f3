//! FLV files (flv-v10.1.txt Annex E): writing, reading back tag by tag,
//! audio / video tag headers, the synthetic generator, and hostile input.

use proptest::prelude::*;
use rtmfp_core::flash::amf::Value;
use rtmfp_core::flash::flv::{
    self, codec_id, frame_type, sound_format, tag_type, AudioHeader, Header, Reader, SliceReader,
    Tag, VideoHeader, Writer,
};
use rtmfp_core::flash::message::Message;
use rtmfp_core::flash::FlashError;
use std::io::{self, Cursor};

fn video(frame: u8, codec: u8, avc: Option<u8>, body: &[u8]) -> Vec<u8> {
    let mut d = Vec::new();
    VideoHeader {
        frame_type: frame,
        codec_id: codec,
        avc_packet_type: avc,
        composition_time: 0,
    }
    .encode(&mut d);
    d.extend_from_slice(body);
    d
}

fn aac(packet_type: u8, body: &[u8]) -> Vec<u8> {
    let mut d = Vec::new();
    AudioHeader {
        sound_format: sound_format::AAC,
        sound_rate: 3,
        sound_size: 1,
        sound_type: 1,
        aac_packet_type: Some(packet_type),
    }
    .encode(&mut d);
    d.extend_from_slice(body);
    d
}

/// A small hand-made file: metadata, AVC and AAC sequence headers, a key
/// frame, an inter frame, an AAC frame and an MP3 frame.
fn small_tags() -> Vec<Tag<'static>> {
    let mut meta = Vec::new();
    rtmfp_core::flash::amf::amf0::encode_string("onMetaData", &mut meta).unwrap();
    meta.extend(
        rtmfp_core::flash::amf::amf0::encode(&Value::EcmaArray(vec![(
            "duration".into(),
            Value::Number(0.1),
        )]))
        .unwrap(),
    );
    vec![
        Tag::new(tag_type::SCRIPT, 0, meta),
        Tag::new(
            tag_type::VIDEO,
            0,
            video(frame_type::KEY, codec_id::AVC, Some(0), &[1, 0x64, 0, 0x1f]),
        ),
        Tag::new(tag_type::AUDIO, 0, aac(0, &[0x12, 0x10])),
        Tag::new(
            tag_type::VIDEO,
            0,
            video(frame_type::KEY, codec_id::AVC, Some(1), &[0, 0, 0, 1, 0x65]),
        ),
        Tag::new(tag_type::AUDIO, 23, aac(1, &[0x21; 10])),
        Tag::new(
            tag_type::VIDEO,
            40,
            video(
                frame_type::INTER,
                codec_id::AVC,
                Some(1),
                &[0, 0, 0, 1, 0x41],
            ),
        ),
        Tag::new(tag_type::AUDIO, 46, vec![0x2f, 0xff, 0xfb]),
        Tag::new(
            tag_type::VIDEO,
            0x0100_0000,
            video(frame_type::INTER, codec_id::SORENSON_H263, None, &[0; 3]),
        ),
    ]
}

fn small_file() -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), &Header::new(true, true)).unwrap();
    for t in small_tags() {
        w.write_tag(&t).unwrap();
    }
    w.into_inner()
}

#[test]
fn write_then_read_back_tag_by_tag() {
    let file = small_file();
    // Header, PreviousTagSize0.
    assert_eq!(file[..13], [b'F', b'L', b'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]);

    let mut r = SliceReader::new(&file).unwrap();
    assert_eq!(r.header(), Header::new(true, true));
    let mut read = Vec::new();
    while let Some(tag) = r.next_tag().unwrap() {
        read.push(tag.into_owned());
    }
    assert_eq!(read, small_tags());

    // The io::Read reader agrees.
    let streamed: Vec<Tag> = Reader::new(Cursor::new(&file))
        .unwrap()
        .collect::<io::Result<_>>()
        .unwrap();
    assert_eq!(streamed, small_tags());

    // Every PreviousTagSize is 11 + the previous DataSize.
    let mut pos = 13;
    while pos < file.len() {
        let size = u32::from_be_bytes([0, file[pos + 1], file[pos + 2], file[pos + 3]]) as usize;
        let back = &file[pos + 11 + size..pos + 15 + size];
        assert_eq!(
            u32::from_be_bytes(back.try_into().unwrap()) as usize,
            11 + size
        );
        pos += 15 + size;
    }
    assert_eq!(pos, file.len());
}

#[test]
fn tag_headers_and_keyframes() {
    let tags = small_tags();
    let keyframes: Vec<bool> = tags.iter().map(Tag::is_keyframe).collect();
    assert_eq!(
        keyframes,
        [false, true, false, true, false, false, false, false]
    );
    let seq = tags[1].video_header().unwrap().unwrap();
    assert!(seq.is_avc_sequence_header());
    assert_eq!(seq.len(), 5);
    let h263 = tags[7].video_header().unwrap().unwrap();
    assert_eq!(
        (h263.codec_id, h263.avc_packet_type, h263.len()),
        (2, None, 1)
    );
    assert_eq!(tags[7].timestamp, 0x0100_0000);

    let aac_seq = tags[2].audio_header().unwrap().unwrap();
    assert!(aac_seq.is_aac_sequence_header());
    assert_eq!(
        (aac_seq.sound_rate, aac_seq.sound_size, aac_seq.sound_type),
        (3, 1, 1)
    );
    // 0x2f = MP3 (2), 44 kHz (3), 16-bit (1), stereo (1).
    let mp3 = tags[6].audio_header().unwrap().unwrap();
    assert_eq!(
        mp3,
        AudioHeader {
            sound_format: sound_format::MP3,
            sound_rate: 3,
            sound_size: 1,
            sound_type: 1,
            aac_packet_type: None
        }
    );
    assert_eq!(mp3.len(), 1);
    assert!(tags[0].audio_header().is_none());
    assert_eq!(
        tags[0].script_values().unwrap()[0],
        Value::from("onMetaData")
    );
    assert_eq!(AudioHeader::parse(&[0xaf]), Err(FlashError::Truncated));
    assert_eq!(VideoHeader::parse(&[0x17, 1]), Err(FlashError::Truncated));
    assert_eq!(VideoHeader::parse(&[]), Err(FlashError::Truncated));
}

#[test]
fn tags_map_to_rtmp_messages() {
    for tag in small_tags() {
        let m = tag.to_message();
        assert_eq!(m.message_type, tag.tag_type);
        assert_eq!(m.timestamp, tag.timestamp);
        let bytes = m.to_bytes().unwrap();
        let parsed = Message::parse(&bytes).unwrap();
        assert_eq!(Tag::from_message(&parsed), tag);
    }
    // A player writes what it receives.
    let mut w = Writer::new(Vec::new(), &Header::new(true, true)).unwrap();
    for tag in small_tags() {
        w.write_message(&tag.to_message()).unwrap();
    }
    assert_eq!(w.into_inner(), small_file());
}

#[test]
fn writer_refuses_what_does_not_fit() {
    let mut w = Writer::new(Vec::new(), &Header::new(false, false)).unwrap();
    let bad_type = Tag::new(32, 0, vec![]);
    assert_eq!(
        w.write_tag(&bad_type).unwrap_err().kind(),
        io::ErrorKind::InvalidData
    );
    let too_big = Tag::new(8, 0, vec![0; 1 << 24]);
    assert!(w.write_tag(&too_big).is_err());
    assert_eq!(
        flv::write_tag(8, 0, &vec![0; 1 << 24], &mut Vec::new()),
        Err(FlashError::TooLarge)
    );
}

#[test]
fn truncation_anywhere_is_an_error_not_a_panic() {
    let file = small_file();
    let whole = small_tags().len();
    for cut in 0..file.len() {
        let part = &file[..cut];
        match SliceReader::new(part) {
            Err(e) => assert_eq!(e, FlashError::Truncated, "cut {cut}"),
            Ok(r) => {
                let results: Vec<_> = r.collect();
                let ok = results.iter().filter(|r| r.is_ok()).count();
                assert!(ok < whole || cut == file.len());
                // Either a clean tag boundary or one final error.
                let errors = results.iter().filter(|r| r.is_err()).count();
                assert!(errors <= 1);
            }
        }
        if let Ok(r) = Reader::new(Cursor::new(part)) {
            let results: Vec<_> = r.collect();
            assert!(results.iter().filter(|r| r.is_ok()).count() < whole);
        }
    }
}

#[test]
fn lying_data_size_does_not_allocate_it() {
    // A tag claiming 16 MiB of data in a 30-byte stream.
    let mut file = Vec::new();
    flv::write_header(&Header::new(true, false), &mut file);
    file.extend_from_slice(&[8, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);
    let mut r = Reader::new(Cursor::new(&file)).unwrap();
    let mut data = Vec::new();
    let err = r.read_tag_into(&mut data).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert!(data.capacity() < 1 << 20);
    assert_eq!(
        SliceReader::new(&file).unwrap().next_tag(),
        Err(FlashError::Truncated)
    );
}

#[test]
fn bad_headers() {
    assert_eq!(
        SliceReader::new(b"FLV\x01\x05\x00\x00\x00\x05\x00\x00\x00\x00").unwrap_err(),
        FlashError::BadFlvHeader
    );
    assert_eq!(
        SliceReader::new(b"RIFF\x05\x00\x00\x00\x09\x00\x00\x00\x00").unwrap_err(),
        FlashError::BadFlvHeader
    );
    // A DataOffset past the end.
    assert_eq!(
        SliceReader::new(b"FLV\x01\x05\xff\xff\xff\xff\x00\x00\x00\x00").unwrap_err(),
        FlashError::Truncated
    );
    assert_eq!(
        Reader::new(Cursor::new(b"FLV\x01\x05\xff\xff\xff\xff\x00"))
            .unwrap_err()
            .kind(),
        io::ErrorKind::UnexpectedEof
    );
    // A larger DataOffset is skipped.
    let mut file = b"FLV\x01\x04\x00\x00\x00\x0c\xaa\xbb\xcc\x00\x00\x00\x00".to_vec();
    flv::write_tag(8, 5, &[0x2f], &mut file).unwrap();
    let tags: Vec<_> = SliceReader::new(&file).unwrap().collect();
    assert_eq!(tags, [Ok(Tag::borrowed(8, 5, &[0x2f]))]);
    let tags: Vec<_> = Reader::new(Cursor::new(&file))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(tags, [Tag::new(8, 5, vec![0x2f])]);
}

// ----------------------------------------------------------- synthetic --

#[test]
fn synthetic_file() {
    let file = flv::synthetic(2000, 25, 43);
    assert_eq!(file, flv::synthetic(2000, 25, 43), "deterministic");
    let (videos, audios) = flv::synthetic_tag_counts(2000, 25, 43);
    assert_eq!((videos, audios), (50, 86));

    let r = SliceReader::new(&file).unwrap();
    assert_eq!(r.header(), Header::new(true, true));
    let tags: Vec<Tag> = r.collect::<Result<_, _>>().unwrap();
    assert_eq!(tags.len(), 1 + videos + audios);
    assert!(tags[0].is_script());
    let meta = tags[0].script_values().unwrap();
    assert_eq!(meta[0], Value::from("onMetaData"));
    assert_eq!(meta[1].get_f64("framerate"), Some(25.0));

    let v: Vec<&Tag> = tags.iter().filter(|t| t.is_video()).collect();
    let a: Vec<&Tag> = tags.iter().filter(|t| t.is_audio()).collect();
    assert_eq!((v.len(), a.len()), (videos, audios));
    // One key frame a second, starting with the first frame.
    let keys: Vec<usize> = (0..v.len()).filter(|&i| v[i].is_keyframe()).collect();
    assert_eq!(keys, [0, 25]);
    assert_eq!(v[1].timestamp, 40);
    assert_eq!(v[49].timestamp, 1960);
    assert!(a.iter().all(|t| {
        let h = t.audio_header().unwrap().unwrap();
        h.sound_format == sound_format::AAC && h.aac_packet_type == Some(1)
    }));
    // Timestamps never go backwards, and every tag is below the duration.
    assert!(tags.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    assert!(tags.iter().all(|t| t.timestamp < 2000));
    // Distinct frames have distinct content.
    assert_ne!(v[1].data, v[2].data);

    // Streams can be left out.
    let audio_only = flv::synthetic(1000, 0, 10);
    let r = SliceReader::new(&audio_only).unwrap();
    assert_eq!(r.header(), Header::new(true, false));
    assert_eq!(r.count(), 11);
    assert_eq!(
        SliceReader::new(&flv::synthetic(0, 30, 30))
            .unwrap()
            .count(),
        1
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut file = Vec::new();
        flv::write_header(&Header::new(true, true), &mut file);
        file.extend_from_slice(&body);
        if let Ok(r) = SliceReader::new(&file) {
            for tag in r.flatten() {
                let _ = tag.audio_header();
                let _ = tag.video_header();
                let _ = tag.is_keyframe();
                let _ = tag.script_values();
            }
        }
        if let Ok(r) = Reader::new(Cursor::new(&file)) {
            for tag in r.flatten() {
                let _ = tag.is_keyframe();
            }
        }
        let _ = SliceReader::new(&body).map(|r| r.count());
        let _ = AudioHeader::parse(&body);
        let _ = VideoHeader::parse(&body);
    }

    #[test]
    fn tags_round_trip(
        tags in prop::collection::vec(
            (prop::sample::select(vec![8u8, 9, 18]), any::<u32>(),
             prop::collection::vec(any::<u8>(), 0..40)),
            0..8),
    ) {
        let mut file = Vec::new();
        flv::write_header(&Header::new(true, true), &mut file);
        for (t, ts, data) in &tags {
            flv::write_tag(*t, *ts, data, &mut file).unwrap();
        }
        let back: Vec<Tag> = SliceReader::new(&file).unwrap().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(back.len(), tags.len());
        for (tag, (t, ts, data)) in back.iter().zip(&tags) {
            prop_assert_eq!(tag.tag_type, *t);
            prop_assert_eq!(tag.timestamp, *ts);
            prop_assert_eq!(&tag.data[..], &data[..]);
        }
    }

    #[test]
    fn synthetic_counts_hold(duration in 0u32..3000, fps in 0u32..61, rate in 0u32..51) {
        let file = flv::synthetic(duration, fps, rate);
        let (v, a) = flv::synthetic_tag_counts(duration, fps, rate);
        let tags: Vec<Tag> = SliceReader::new(&file).unwrap().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(tags.iter().filter(|t| t.is_video()).count(), v);
        prop_assert_eq!(tags.iter().filter(|t| t.is_audio()).count(), a);
        prop_assert_eq!(tags.len(), v + a + 1);
    }
}
