//! The FLV reader and the audio/video tag headers. Nothing may panic;
//! every tag read must write back to the same bytes and read again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmfp_core::flash::flv::{self, AudioHeader, SliceReader, VideoHeader};

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = SliceReader::new(data) else {
        return;
    };
    for tag in reader {
        let Ok(tag) = tag else { break };
        match tag.tag_type {
            flv::tag_type::AUDIO => {
                let _ = AudioHeader::parse(&tag.data);
            }
            flv::tag_type::VIDEO => {
                let _ = VideoHeader::parse(&tag.data);
            }
            _ => {}
        }
        let mut out = Vec::new();
        if flv::write_tag(tag.tag_type, tag.timestamp, &tag.data, &mut out).is_ok() {
            let mut file = Vec::new();
            flv::write_header(&flv::Header::new(true, true), &mut file);
            file.extend_from_slice(&out);
            let back = SliceReader::new(&file)
                .expect("our header")
                .next()
                .expect("one tag")
                .expect("our tag reads");
            assert_eq!(
                (back.tag_type, back.timestamp, &back.data[..]),
                (tag.tag_type, tag.timestamp, &tag.data[..])
            );
        }
    }
});
