//! VLU and Option helpers (RFC 7016 §2.1.2, §2.1.3) for the crypto
//! profile's option-encoded structures (certificates, EPDs, keying
//! components, signatures), on top of the wire codec's `vlu` and `option`
//! with errors in the crypto layer's terms.

use super::CryptoError;
use crate::wire::{option, vlu, WireError};

fn malformed(e: WireError) -> CryptoError {
    match e {
        WireError::VluOverflow => CryptoError::Malformed("VLU exceeds 64 bits"),
        WireError::Truncated => CryptoError::Malformed("truncated VLU"),
        _ => CryptoError::Malformed("option longer than its container"),
    }
}

/// Appends `value` as a VLU (RFC 7016 §2.1.2).
pub(crate) fn put_vlu(out: &mut Vec<u8>, value: u64) {
    vlu::encode(value, out);
}

/// Number of bytes `put_vlu` writes for `value`.
pub(crate) fn vlu_len(value: u64) -> usize {
    vlu::encoded_len(value)
}

/// Reads one VLU from the front of `buf`, returning the value and the number
/// of bytes consumed. Fails on truncation or on a value above `u64::MAX`.
pub(crate) fn get_vlu(buf: &[u8]) -> Result<(u64, usize), CryptoError> {
    vlu::decode(buf).map_err(malformed)
}

/// Appends one non-empty Option (RFC 7016 §2.1.3): VLU length of the payload,
/// VLU type, value.
pub(crate) fn put_option(out: &mut Vec<u8>, typ: u64, value: &[u8]) {
    option::write_option(typ, value, out);
}

/// Appends a Marker (an empty Option, RFC 7016 §2.1.3).
pub(crate) fn put_marker(out: &mut Vec<u8>) {
    option::write_marker(out);
}

/// One parsed element of an option sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Element<'a> {
    /// A non-empty option: type code and value.
    Option {
        /// Option type code.
        typ: u64,
        /// Option value bytes.
        value: &'a [u8],
    },
    /// An empty option.
    Marker,
}

/// Iterator over a sequence of Options and Markers filling a whole buffer.
/// Yields `Err` once (then stops) on a truncated or malformed option.
pub(crate) struct Options<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Options<'a> {
    /// Iterates the options of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Options {
            buf,
            pos: 0,
            failed: false,
        }
    }

    /// Byte offset of the next element (or of the end).
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    fn next_element(&mut self) -> Result<Element<'a>, CryptoError> {
        let mut reader = crate::wire::Reader::new(&self.buf[self.pos..]);
        let before = reader.remaining();
        let element = match option::read_option(&mut reader).map_err(malformed)? {
            option::Parsed::Marker => Element::Marker,
            option::Parsed::Option(o) => Element::Option {
                typ: o.option_type,
                value: o.value,
            },
        };
        self.pos += before - reader.remaining();
        Ok(element)
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<Element<'a>, CryptoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let r = self.next_element();
        if r.is_err() {
            self.failed = true;
        }
        Some(r)
    }
}

/// Reads a value that must be exactly one VLU.
pub(crate) fn vlu_exact(value: &[u8]) -> Result<u64, CryptoError> {
    let (v, n) = get_vlu(value)?;
    if n != value.len() {
        return Err(CryptoError::Malformed("trailing bytes after VLU"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlu_round_trip() {
        for v in [0u64, 1, 127, 128, 16383, 16384, u64::MAX] {
            let mut b = Vec::new();
            put_vlu(&mut b, v);
            assert_eq!(b.len(), vlu_len(v));
            assert_eq!(get_vlu(&b).unwrap(), (v, b.len()));
        }
        // RFC 7016 §2.1.2: 0x81 0x00 = 128.
        assert_eq!(get_vlu(&[0x81, 0x00]).unwrap(), (128, 2));
        assert!(get_vlu(&[0x81]).is_err());
        assert!(get_vlu(&[0xff; 11]).is_err());
    }

    #[test]
    fn options_parse() {
        let mut b = Vec::new();
        put_option(&mut b, 0x0f, &[1, 2, 3]);
        put_marker(&mut b);
        put_option(&mut b, 300, &[]);
        let v: Vec<_> = Options::new(&b).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            v,
            vec![
                Element::Option {
                    typ: 0x0f,
                    value: &[1, 2, 3]
                },
                Element::Marker,
                Element::Option {
                    typ: 300,
                    value: &[]
                },
            ]
        );
        assert!(Options::new(&[5, 1]).any(|r| r.is_err()));
    }
}
