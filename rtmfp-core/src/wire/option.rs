//! Options and option lists (RFC 7016 §2.1.3, §2.1.4).
//!
//! An option is `VLU length`, then (when the length is non-zero) a VLU type
//! and a value filling the rest of the length.  A zero-length option is a
//! Marker; an option list is options ended by a Marker.

use super::{reader::Reader, vlu, Result, WireError};

/// One non-empty option: a type code and its value bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionTlv<'a> {
    /// The option's type code.
    pub option_type: u64,
    /// The option's value (may be empty).
    pub value: &'a [u8],
}

/// What [`read_option`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A zero-length option (§2.1.3).
    Marker,
    /// A non-empty option.
    Option(OptionTlv<'a>),
}

/// Reads one option (or Marker) from `reader`.
pub fn read_option<'a>(reader: &mut Reader<'a>) -> Result<Parsed<'a>> {
    let payload = reader.vlu_bytes()?;
    if payload.is_empty() {
        return Ok(Parsed::Marker);
    }
    let mut inner = Reader::new(payload);
    let option_type = inner.vlu()?;
    Ok(Parsed::Option(OptionTlv {
        option_type,
        value: inner.rest(),
    }))
}

/// A validated option list (§2.1.4), borrowed from the packet.
///
/// [`OptionList::parse`] checks the whole list up to and including its
/// Marker, so iterating over it cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionList<'a> {
    /// The encoded options, without the final Marker.
    raw: &'a [u8],
}

impl<'a> OptionList<'a> {
    /// The empty option list.
    pub const EMPTY: OptionList<'static> = OptionList { raw: &[] };

    /// Parses an option list from `reader`, consuming its Marker.
    pub fn parse(reader: &mut Reader<'a>) -> Result<Self> {
        let start = reader.clone();
        let mut consumed = 0;
        loop {
            let before = reader.remaining();
            match read_option(reader)? {
                Parsed::Marker => break,
                Parsed::Option(_) => consumed += before - reader.remaining(),
            }
        }
        let raw = start.clone().bytes(consumed)?;
        Ok(OptionList { raw })
    }

    /// Parses a byte string that is exactly one option list.
    pub fn parse_exact(bytes: &'a [u8]) -> Result<Self> {
        let mut reader = Reader::new(bytes);
        let list = Self::parse(&mut reader)?;
        reader.finish()?;
        Ok(list)
    }

    /// The encoded options, without the final Marker.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Whether the list holds no options.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Iterates over the options in order.
    pub fn iter(&self) -> OptionIter<'a> {
        OptionIter {
            reader: Reader::new(self.raw),
        }
    }

    /// The value of the first option of type `option_type`.
    pub fn find(&self, option_type: u64) -> Option<&'a [u8]> {
        self.iter()
            .find(|o| o.option_type == option_type)
            .map(|o| o.value)
    }

    /// Appends this list, with its Marker, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.raw);
        out.push(0);
    }

    /// Length of the encoding, Marker included.
    pub fn encoded_len(&self) -> usize {
        self.raw.len() + 1
    }
}

impl<'a> IntoIterator for OptionList<'a> {
    type Item = OptionTlv<'a>;
    type IntoIter = OptionIter<'a>;
    fn into_iter(self) -> OptionIter<'a> {
        self.iter()
    }
}

/// Iterator over a validated [`OptionList`].
#[derive(Debug, Clone)]
pub struct OptionIter<'a> {
    reader: Reader<'a>,
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = OptionTlv<'a>;
    fn next(&mut self) -> Option<OptionTlv<'a>> {
        match read_option(&mut self.reader) {
            Ok(Parsed::Option(option)) => Some(option),
            // The list was validated at parse time; a Marker cannot occur.
            _ => None,
        }
    }
}

/// Appends one non-empty option (§2.1.3) to `out`.
pub fn write_option(option_type: u64, value: &[u8], out: &mut Vec<u8>) {
    let len = vlu::encoded_len(option_type) + value.len();
    vlu::encode(len as u64, out);
    vlu::encode(option_type, out);
    out.extend_from_slice(value);
}

/// Appends a Marker (an empty option) to `out`.
pub fn write_marker(out: &mut Vec<u8>) {
    out.push(0);
}

/// Builds an encoded option list (with its Marker) from options.
pub fn encode_list<'v>(options: impl IntoIterator<Item = (u64, &'v [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (option_type, value) in options {
        write_option(option_type, value, &mut out);
    }
    write_marker(&mut out);
    out
}

/// Reads options until the end of `bytes`, where a Marker need not appear.
///
/// RFC 7425 certificates and keying components are option sequences that
/// run to the end of their field; this reads them.  Stops with an error on
/// the first malformed option.
pub fn read_all(bytes: &[u8]) -> Result<Vec<Parsed<'_>>> {
    let mut reader = Reader::new(bytes);
    let mut out = Vec::new();
    while !reader.is_empty() {
        out.push(read_option(&mut reader)?);
    }
    Ok(out)
}

/// Checks that an option value is exactly one VLU and returns it.
pub fn value_as_vlu(value: &[u8]) -> Result<u64> {
    let mut reader = Reader::new(value);
    let v = reader.vlu()?;
    if !reader.is_empty() {
        return Err(WireError::TrailingBytes);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn marker_and_option() {
        let bytes = [0x03, 0x0a, 0xbe, 0xef, 0x00, 0x99];
        let mut reader = Reader::new(&bytes);
        let list = OptionList::parse(&mut reader).unwrap();
        assert_eq!(reader.rest(), &[0x99]);
        let items: Vec<_> = list.iter().collect();
        assert_eq!(
            items,
            [OptionTlv {
                option_type: 0x0a,
                value: &[0xbe, 0xef]
            }]
        );
        assert_eq!(list.find(0x0a), Some(&[0xbe, 0xef][..]));
        assert_eq!(list.find(0x00), None);
    }

    #[test]
    fn empty_list_is_one_marker() {
        let list = OptionList::parse_exact(&[0x00]).unwrap();
        assert!(list.is_empty());
        assert_eq!(encode_list([]), [0x00]);
    }

    #[test]
    fn missing_marker_or_overrun_is_an_error() {
        assert_eq!(
            OptionList::parse_exact(&[0x02, 0x0a, 0x01]),
            Err(WireError::Truncated)
        );
        assert_eq!(
            OptionList::parse_exact(&[0x05, 0x0a, 0x01, 0x00]),
            Err(WireError::BadLength)
        );
    }

    #[test]
    fn option_whose_type_vlu_overruns_its_length_is_an_error() {
        // length 1 but the type VLU says "more".
        assert_eq!(
            OptionList::parse_exact(&[0x01, 0x81, 0x00]),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn vlu_value() {
        assert_eq!(value_as_vlu(&[0x81, 0x00]), Ok(128));
        assert_eq!(value_as_vlu(&[0x01, 0x02]), Err(WireError::TrailingBytes));
    }

    proptest! {
        #[test]
        fn list_round_trips(options in proptest::collection::vec((any::<u64>(), proptest::collection::vec(any::<u8>(), 0..40)), 0..6)) {
            let bytes = encode_list(options.iter().map(|(t, v)| (*t, v.as_slice())));
            let list = OptionList::parse_exact(&bytes).unwrap();
            let decoded: Vec<(u64, Vec<u8>)> = list.iter().map(|o| (o.option_type, o.value.to_vec())).collect();
            prop_assert_eq!(&decoded, &options);
            let mut again = Vec::new();
            list.encode(&mut again);
            prop_assert_eq!(again, bytes);
        }

        #[test]
        fn parse_never_panics(bytes: Vec<u8>) {
            let _ = OptionList::parse_exact(&bytes);
            let _ = read_all(&bytes);
        }
    }
}
