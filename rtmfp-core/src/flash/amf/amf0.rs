//! AMF0 (`amf0.txt`), with the avmplus-object-marker switch to AMF3.
//!
//! The object reference table (anonymous objects, typed objects, ECMA
//! arrays and strict arrays, `amf0.txt` §2.9) and the AMF3 tables used by
//! switched values live for one [`Decoder`] / [`Encoder`], that is for one
//! message.
//!
//! The encoder switches to AMF3 by itself for values AMF0 cannot express
//! (XML, ByteArray, vectors, dictionaries, externalizable objects), and
//! wherever the value says so with [`Value::Avmplus`].  [`Value::Integer`]
//! becomes an AMF0 number.

use super::{amf3, checked_count, AmfError, Budget, Cursor, Limits, Object, Result, Value};

/// AMF0 type markers.
pub mod marker {
    /// Number (DOUBLE).
    pub const NUMBER: u8 = 0x00;
    /// Boolean.
    pub const BOOLEAN: u8 = 0x01;
    /// String (U16 length).
    pub const STRING: u8 = 0x02;
    /// Anonymous object.
    pub const OBJECT: u8 = 0x03;
    /// Movieclip (reserved, not supported).
    pub const MOVIECLIP: u8 = 0x04;
    /// `null`.
    pub const NULL: u8 = 0x05;
    /// `undefined`.
    pub const UNDEFINED: u8 = 0x06;
    /// Reference (U16 index).
    pub const REFERENCE: u8 = 0x07;
    /// ECMA array.
    pub const ECMA_ARRAY: u8 = 0x08;
    /// Object end (after an empty name).
    pub const OBJECT_END: u8 = 0x09;
    /// Strict array.
    pub const STRICT_ARRAY: u8 = 0x0A;
    /// Date (DOUBLE and S16 time zone).
    pub const DATE: u8 = 0x0B;
    /// Long string (U32 length).
    pub const LONG_STRING: u8 = 0x0C;
    /// Unsupported.
    pub const UNSUPPORTED: u8 = 0x0D;
    /// Recordset (reserved, not supported).
    pub const RECORDSET: u8 = 0x0E;
    /// XML document (U32 length).
    pub const XML_DOCUMENT: u8 = 0x0F;
    /// Typed object.
    pub const TYPED_OBJECT: u8 = 0x10;
    /// Switch to AMF3 for one value.
    pub const AVMPLUS: u8 = 0x11;
}

/// Decodes a sequence of AMF0 values sharing one set of reference tables.
#[derive(Debug)]
pub struct Decoder<'a> {
    cur: Cursor<'a>,
    objects: u32,
    amf3: amf3::DecodeState<'a>,
    budget: Budget,
}

impl<'a> Decoder<'a> {
    /// A decoder over `input` with [`Limits::for_input`].
    pub fn new(input: &'a [u8]) -> Self {
        Decoder::with_limits(input, Limits::for_input(input.len()))
    }

    /// A decoder over `input` with explicit limits.
    pub fn with_limits(input: &'a [u8], limits: Limits) -> Self {
        Decoder {
            cur: Cursor::new(input),
            objects: 0,
            amf3: amf3::DecodeState::default(),
            budget: Budget::new(limits),
        }
    }

    /// Decodes the next value.
    pub fn decode(&mut self) -> Result<Value> {
        self.read_value(0)
    }

    /// Whether all input has been consumed.
    pub fn is_empty(&self) -> bool {
        self.cur.remaining() == 0
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.cur.position()
    }

    fn read_utf8(&mut self) -> Result<&'a str> {
        let len = self.cur.u16()?;
        let s = self.cur.str(usize::from(len))?;
        self.budget.charge(s.len())?;
        Ok(s)
    }

    fn read_utf8_long(&mut self) -> Result<String> {
        let len = self.cur.u32()?;
        let s = self.cur.str(len as usize)?;
        self.budget.charge(s.len())?;
        Ok(s.to_owned())
    }

    /// Reads object properties up to and including the object end.
    fn read_properties(&mut self, depth: usize, hint: usize) -> Result<Vec<(String, Value)>> {
        // Each property takes at least 3 bytes (empty name and a marker).
        let capacity = hint.min(self.cur.remaining() / 3);
        let mut props = Vec::with_capacity(capacity);
        loop {
            let key = self.read_utf8()?;
            if key.is_empty() && self.cur.peek() == Some(marker::OBJECT_END) {
                self.cur.u8()?;
                return Ok(props);
            }
            let value = self.read_value(depth)?;
            props.push((key.to_owned(), value));
        }
    }

    fn begin_complex(&mut self, depth: usize) -> Result<()> {
        self.budget.check_depth(depth + 1)?;
        self.objects = self.objects.checked_add(1).ok_or(AmfError::TooLarge)?;
        Ok(())
    }

    fn read_value(&mut self, depth: usize) -> Result<Value> {
        self.budget.charge_value()?;
        let m = self.cur.u8()?;
        let value = match m {
            marker::NUMBER => Value::Number(self.cur.f64()?),
            marker::BOOLEAN => Value::Boolean(self.cur.u8()? != 0),
            marker::STRING => Value::String(self.read_utf8()?.to_owned()),
            marker::LONG_STRING => Value::String(self.read_utf8_long()?),
            marker::XML_DOCUMENT => Value::XmlDocument(self.read_utf8_long()?),
            marker::NULL => Value::Null,
            marker::UNDEFINED => Value::Undefined,
            marker::UNSUPPORTED => Value::Unsupported,
            marker::REFERENCE => {
                let index = u32::from(self.cur.u16()?);
                if index >= self.objects {
                    return Err(AmfError::BadReference);
                }
                Value::Reference(index)
            }
            marker::OBJECT => {
                self.begin_complex(depth)?;
                let props = self.read_properties(depth + 1, 8)?;
                Value::Object(Box::new(Object::anonymous(props)))
            }
            marker::TYPED_OBJECT => {
                self.begin_complex(depth)?;
                let class = self.read_utf8()?.to_owned();
                let props = self.read_properties(depth + 1, 8)?;
                Value::Object(Box::new(Object::typed(class, props)))
            }
            marker::ECMA_ARRAY => {
                self.begin_complex(depth)?;
                // The associative-count is only a hint: the object end
                // terminates the array.
                let hint = self.cur.u32()? as usize;
                Value::EcmaArray(self.read_properties(depth + 1, hint)?)
            }
            marker::STRICT_ARRAY => {
                self.begin_complex(depth)?;
                let count = checked_count(self.cur.u32()? as usize, 1, self.cur.remaining())?;
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    items.push(self.read_value(depth + 1)?);
                }
                Value::StrictArray(items)
            }
            marker::DATE => Value::Date {
                millis: self.cur.f64()?,
                time_zone: self.cur.u16()? as i16,
            },
            marker::AVMPLUS => Value::Avmplus(Box::new(amf3::read_value(
                &mut self.cur,
                &mut self.amf3,
                &mut self.budget,
                depth,
            )?)),
            marker::OBJECT_END => return Err(AmfError::UnexpectedObjectEnd),
            marker::MOVIECLIP | marker::RECORDSET => return Err(AmfError::UnsupportedMarker(m)),
            other => return Err(AmfError::UnknownMarker(other)),
        };
        Ok(value)
    }
}

/// Decodes the first AMF0 value of `input`; returns it and the number of
/// bytes it took.
pub fn decode(input: &[u8]) -> Result<(Value, usize)> {
    let mut d = Decoder::new(input);
    let v = d.decode()?;
    Ok((v, d.position()))
}

/// Decodes every AMF0 value of `input`, with shared reference tables (an
/// RTMP command or data message body).
pub fn decode_all(input: &[u8]) -> Result<Vec<Value>> {
    let mut d = Decoder::new(input);
    let mut out = Vec::new();
    while !d.is_empty() {
        out.push(d.decode()?);
    }
    Ok(out)
}

/// Encodes a sequence of AMF0 values sharing one set of reference tables.
#[derive(Debug)]
pub struct Encoder<'v> {
    objects: u32,
    amf3: amf3::Encoder<'v>,
    max_depth: usize,
}

impl Default for Encoder<'_> {
    fn default() -> Self {
        Encoder::new()
    }
}

fn write_utf8(s: &str, out: &mut Vec<u8>) -> Result<()> {
    let len = u16::try_from(s.len()).map_err(|_| AmfError::TooLarge)?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn write_utf8_long(s: &str, out: &mut Vec<u8>) -> Result<()> {
    let len = u32::try_from(s.len()).map_err(|_| AmfError::TooLarge)?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

impl<'v> Encoder<'v> {
    /// An encoder with empty tables and the default depth limit.
    pub fn new() -> Self {
        Encoder {
            objects: 0,
            amf3: amf3::Encoder::new(),
            max_depth: super::DEFAULT_MAX_DEPTH,
        }
    }

    /// Appends `value` to `out`.  On error `out` and the reference tables
    /// are left as they were, so the encoder stays usable.
    pub fn encode(&mut self, value: &'v Value, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        let objects = self.objects;
        let amf3 = self.amf3.checkpoint();
        let r = self.write_value(value, out, 0);
        if r.is_err() {
            out.truncate(start);
            self.objects = objects;
            self.amf3.rollback(amf3);
        }
        r
    }

    fn begin_complex(&mut self, marker: u8, depth: usize, out: &mut Vec<u8>) -> Result<()> {
        if depth + 1 > self.max_depth {
            return Err(AmfError::DepthExceeded);
        }
        self.objects = self.objects.checked_add(1).ok_or(AmfError::TooLarge)?;
        out.push(marker);
        Ok(())
    }

    fn write_properties<'p>(
        &mut self,
        props: impl Iterator<Item = (&'p str, &'v Value)>,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<()> {
        for (k, v) in props {
            write_utf8(k, out)?;
            self.write_value(v, out, depth)?;
        }
        out.extend_from_slice(&[0x00, 0x00, marker::OBJECT_END]);
        Ok(())
    }

    fn write_value(&mut self, value: &'v Value, out: &mut Vec<u8>, depth: usize) -> Result<()> {
        match value {
            Value::Number(n) => {
                out.push(marker::NUMBER);
                out.extend_from_slice(&n.to_be_bytes());
            }
            Value::Integer(i) => {
                out.push(marker::NUMBER);
                out.extend_from_slice(&f64::from(*i).to_be_bytes());
            }
            Value::Boolean(b) => out.extend_from_slice(&[marker::BOOLEAN, u8::from(*b)]),
            Value::String(s) if s.len() <= usize::from(u16::MAX) => {
                out.push(marker::STRING);
                write_utf8(s, out)?;
            }
            Value::String(s) => {
                out.push(marker::LONG_STRING);
                write_utf8_long(s, out)?;
            }
            Value::XmlDocument(s) => {
                out.push(marker::XML_DOCUMENT);
                write_utf8_long(s, out)?;
            }
            Value::Null => out.push(marker::NULL),
            Value::Undefined => out.push(marker::UNDEFINED),
            Value::Unsupported => out.push(marker::UNSUPPORTED),
            Value::Reference(index) => {
                if *index >= self.objects {
                    return Err(AmfError::BadReference);
                }
                let index = u16::try_from(*index).map_err(|_| AmfError::TooLarge)?;
                out.push(marker::REFERENCE);
                out.extend_from_slice(&index.to_be_bytes());
            }
            Value::Object(o) => {
                match &o.class {
                    Some(class) => {
                        self.begin_complex(marker::TYPED_OBJECT, depth, out)?;
                        write_utf8(class, out)?;
                    }
                    None => self.begin_complex(marker::OBJECT, depth, out)?,
                }
                let props = o.properties.iter().map(|(k, v)| (k.as_str(), v));
                self.write_properties(props, out, depth + 1)?;
            }
            Value::EcmaArray(props) => {
                self.begin_complex(marker::ECMA_ARRAY, depth, out)?;
                let count = u32::try_from(props.len()).map_err(|_| AmfError::TooLarge)?;
                out.extend_from_slice(&count.to_be_bytes());
                let props = props.iter().map(|(k, v)| (k.as_str(), v));
                self.write_properties(props, out, depth + 1)?;
            }
            Value::MixedArray(m) => {
                // An ECMA array: dense part under keys "0".."n-1" first.
                self.begin_complex(marker::ECMA_ARRAY, depth, out)?;
                let count =
                    u32::try_from(m.dense.len() + m.assoc.len()).map_err(|_| AmfError::TooLarge)?;
                out.extend_from_slice(&count.to_be_bytes());
                for (i, v) in m.dense.iter().enumerate() {
                    write_utf8(&i.to_string(), out)?;
                    self.write_value(v, out, depth + 1)?;
                }
                let props = m.assoc.iter().map(|(k, v)| (k.as_str(), v));
                self.write_properties(props, out, depth + 1)?;
            }
            Value::StrictArray(items) => {
                self.begin_complex(marker::STRICT_ARRAY, depth, out)?;
                let count = u32::try_from(items.len()).map_err(|_| AmfError::TooLarge)?;
                out.extend_from_slice(&count.to_be_bytes());
                for v in items {
                    self.write_value(v, out, depth + 1)?;
                }
            }
            Value::Date { millis, time_zone } => {
                out.push(marker::DATE);
                out.extend_from_slice(&millis.to_be_bytes());
                out.extend_from_slice(&time_zone.to_be_bytes());
            }
            Value::Avmplus(inner) => {
                out.push(marker::AVMPLUS);
                self.amf3.write_value(inner, out, depth)?;
            }
            Value::Xml(_)
            | Value::ByteArray(_)
            | Value::VectorInt(_)
            | Value::VectorUint(_)
            | Value::VectorDouble(_)
            | Value::VectorObject(_)
            | Value::Dictionary(_)
            | Value::Externalizable { .. } => {
                out.push(marker::AVMPLUS);
                self.amf3.write_value(value, out, depth)?;
            }
        }
        Ok(())
    }
}

/// Appends an AMF0 string (or long string, over 65535 bytes) without
/// building a [`Value`]; strings do not touch the reference tables.
pub fn encode_string(s: &str, out: &mut Vec<u8>) -> Result<()> {
    if s.len() <= usize::from(u16::MAX) {
        out.push(marker::STRING);
        write_utf8(s, out)
    } else {
        out.push(marker::LONG_STRING);
        write_utf8_long(s, out)
    }
}

/// Appends an AMF0 number without building a [`Value`].
pub fn encode_number(n: f64, out: &mut Vec<u8>) {
    out.push(marker::NUMBER);
    out.extend_from_slice(&n.to_be_bytes());
}

/// Encodes one value as AMF0 with fresh reference tables.
pub fn encode(value: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    Encoder::new().encode(value, &mut out)?;
    Ok(out)
}

/// Encodes values as one AMF0 sequence with shared reference tables (an
/// RTMP command or data message body).
pub fn encode_all(values: &[Value]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut e = Encoder::new();
    for v in values {
        e.encode(v, &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_by_hand() {
        assert_eq!(
            encode(&Value::Number(1.0)).unwrap(),
            [0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(encode(&Value::Boolean(true)).unwrap(), [0x01, 0x01]);
        assert_eq!(
            encode(&Value::from("ab")).unwrap(),
            [0x02, 0x00, 0x02, b'a', b'b']
        );
        assert_eq!(encode(&Value::Null).unwrap(), [0x05]);
        assert_eq!(encode(&Value::Undefined).unwrap(), [0x06]);
        // Non-zero booleans are true.
        assert_eq!(decode(&[0x01, 0x7f]).unwrap().0, Value::Boolean(true));
    }

    #[test]
    fn long_string_switch_at_65536() {
        let short = Value::String("x".repeat(65535));
        assert_eq!(encode(&short).unwrap()[..3], [0x02, 0xff, 0xff]);
        let long = Value::String("x".repeat(65536));
        let bytes = encode(&long).unwrap();
        assert_eq!(bytes[..5], [0x0c, 0x00, 0x01, 0x00, 0x00]);
        assert_eq!(decode(&bytes).unwrap(), (long, bytes.len()));
    }

    #[test]
    fn reference_must_point_back() {
        // A reference with nothing in the table.
        assert_eq!(decode(&[0x07, 0x00, 0x00]), Err(AmfError::BadReference));
        assert_eq!(encode(&Value::Reference(0)), Err(AmfError::BadReference));
        // A self-reference inside an object is fine (a cycle).
        let cyclic = Value::object([("self", Value::Reference(0))]);
        let bytes = encode(&cyclic).unwrap();
        assert_eq!(
            bytes,
            [0x03, 0x00, 0x04, b's', b'e', b'l', b'f', 0x07, 0x00, 0x00, 0x00, 0x00, 0x09]
        );
        assert_eq!(decode(&bytes).unwrap().0, cyclic);
    }
}
