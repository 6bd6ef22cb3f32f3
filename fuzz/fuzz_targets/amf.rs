//! The AMF0 and AMF3 decoders (RFC 7425 §5.1 command and data bodies).
//! Nothing may panic or run away (the decoders bound depth and size), and
//! whatever decodes must encode, and that encoding must survive another
//! decode and encode unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmfp_core::flash::amf::{amf0, amf3};

fuzz_target!(|data: &[u8]| {
    if let Ok(values) = amf0::decode_all(data) {
        for v in &values {
            // A decoded value may still not encode (e.g. over a size
            // limit); one that does must round-trip.
            if let Ok(bytes) = amf0::encode(v) {
                let (again, used) = amf0::decode(&bytes).expect("our AMF0 decodes");
                assert_eq!(used, bytes.len());
                assert_eq!(amf0::encode(&again).expect("re-encodes"), bytes);
            }
        }
    }
    if let Ok(values) = amf3::decode_all(data) {
        for v in &values {
            if let Ok(bytes) = amf3::encode(v) {
                let (again, used) = amf3::decode(&bytes).expect("our AMF3 decodes");
                assert_eq!(used, bytes.len());
                assert_eq!(amf3::encode(&again).expect("re-encodes"), bytes);
            }
        }
    }
});
