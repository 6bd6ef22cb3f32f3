//! The FLV byte-stream demuxer and muxer (what `rtmfp publish -`, `play
//! --out -` and the languages' FLV streams run on). The first byte picks
//! where the input is cut; the rest is the stream. Nothing may panic; the
//! tags must not depend on how the bytes were cut; and whatever the
//! demuxer accepted, the muxer writes back into an FLV the demuxer reads
//! to the same tags.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmfp_core::flash::flv::Header;
use rtmfp_core::flash::flv_stream::{FlvDemuxer, FlvMuxer};

fn demux(data: &[u8], cut: usize) -> (Vec<(u8, u32, Vec<u8>)>, bool) {
    let mut d = FlvDemuxer::new();
    let mut tags = Vec::new();
    let mut failed = false;
    for piece in data.chunks(cut.max(1)) {
        if d.push(piece).is_err() {
            failed = true;
        }
        while let Some(t) = d.next_tag() {
            tags.push((t.tag_type, t.timestamp, t.data.to_vec()));
        }
        if failed {
            break;
        }
    }
    (tags, failed)
}

fuzz_target!(|input: &[u8]| {
    let Some((&cut, data)) = input.split_first() else {
        return;
    };
    let (whole, whole_failed) = demux(data, data.len());
    let (pieces, pieces_failed) = demux(data, usize::from(cut));
    assert_eq!(whole, pieces, "tags depend on the cut");
    assert_eq!(whole_failed, pieces_failed);
    // Muxed back with window 0, the same tags come out again.
    let mut muxer = FlvMuxer::new(Header::new(true, true), 0);
    let mut out = Vec::new();
    for (ty, ts, body) in &whole {
        let tag = rtmfp_core::flash::flv::Tag::borrowed(*ty, *ts, body);
        if muxer.push(tag, &mut out).is_err() {
            return;
        }
    }
    muxer.finish(&mut out);
    let (again, failed) = demux(&out, out.len());
    assert!(!failed, "our own FLV does not read back");
    assert_eq!(again.len(), whole.len());
    for ((t1, _, b1), (t2, _, b2)) in whole.iter().zip(&again) {
        assert_eq!((t1, b1), (t2, b2));
    }
});
