//! AMF3 (`amf3.txt`), with the later Vector and Dictionary types.
//!
//! Markers: undefined 0x00, null 0x01, false 0x02, true 0x03, integer
//! 0x04, double 0x05, string 0x06, XMLDocument 0x07, date 0x08, array
//! 0x09, object 0x0A, XML 0x0B, ByteArray 0x0C, `Vector.<int>` 0x0D,
//! `Vector.<uint>` 0x0E, `Vector.<Number>` 0x0F, `Vector.<Object>` 0x10,
//! Dictionary 0x11.
//!
//! Three reference tables (strings, objects, traits) live for one
//! [`Decoder`] / [`Encoder`], that is for one message.  The encoder is
//! canonical: it sends every repeated non-empty string and every repeated
//! set of traits by reference, and never sends the empty string by
//! reference.

use super::{
    checked_count, AmfError, Budget, Cursor, Dictionary, Limits, MixedArray, Object, ObjectVector,
    Result, Value, Vector,
};
use std::collections::HashMap;

/// AMF3 type markers.
pub mod marker {
    /// `undefined`.
    pub const UNDEFINED: u8 = 0x00;
    /// `null`.
    pub const NULL: u8 = 0x01;
    /// `false`.
    pub const FALSE: u8 = 0x02;
    /// `true`.
    pub const TRUE: u8 = 0x03;
    /// 29-bit signed integer.
    pub const INTEGER: u8 = 0x04;
    /// IEEE-754 double.
    pub const DOUBLE: u8 = 0x05;
    /// String.
    pub const STRING: u8 = 0x06;
    /// Legacy XMLDocument.
    pub const XML_DOC: u8 = 0x07;
    /// Date.
    pub const DATE: u8 = 0x08;
    /// Array (dense and associative parts).
    pub const ARRAY: u8 = 0x09;
    /// Object.
    pub const OBJECT: u8 = 0x0A;
    /// E4X XML.
    pub const XML: u8 = 0x0B;
    /// ByteArray.
    pub const BYTE_ARRAY: u8 = 0x0C;
    /// `Vector.<int>`.
    pub const VECTOR_INT: u8 = 0x0D;
    /// `Vector.<uint>`.
    pub const VECTOR_UINT: u8 = 0x0E;
    /// `Vector.<Number>`.
    pub const VECTOR_DOUBLE: u8 = 0x0F;
    /// `Vector.<Object>`.
    pub const VECTOR_OBJECT: u8 = 0x10;
    /// Dictionary.
    pub const DICTIONARY: u8 = 0x11;
}

/// Largest value a U29 holds: 2^29 - 1.
pub const U29_MAX: u32 = (1 << 29) - 1;
/// Smallest integer the integer type holds: -2^28.
pub const INT29_MIN: i32 = -(1 << 28);
/// Largest integer the integer type holds: 2^28 - 1.
pub const INT29_MAX: i32 = (1 << 28) - 1;
/// Largest length, count or index behind a one-bit flag: 2^28 - 1.
const U28_MAX: usize = (1 << 28) - 1;

/// Reads a U29 (amf3.txt §1.3.1).
pub(crate) fn read_u29(cur: &mut Cursor<'_>) -> Result<u32> {
    let mut value: u32 = 0;
    for _ in 0..3 {
        let b = cur.u8()?;
        if b & 0x80 == 0 {
            return Ok((value << 7) | u32::from(b));
        }
        value = (value << 7) | u32::from(b & 0x7f);
    }
    Ok((value << 8) | u32::from(cur.u8()?))
}

/// Appends a U29; values over [`U29_MAX`] are [`AmfError::TooLarge`].
pub fn write_u29(value: u32, out: &mut Vec<u8>) -> Result<()> {
    match value {
        0..=0x7f => out.push(value as u8),
        0x80..=0x3fff => out.extend_from_slice(&[(value >> 7) as u8 | 0x80, value as u8 & 0x7f]),
        0x4000..=0x1f_ffff => out.extend_from_slice(&[
            (value >> 14) as u8 | 0x80,
            (value >> 7) as u8 | 0x80,
            value as u8 & 0x7f,
        ]),
        0x20_0000..=U29_MAX => out.extend_from_slice(&[
            (value >> 22) as u8 | 0x80,
            (value >> 15) as u8 | 0x80,
            (value >> 8) as u8 | 0x80,
            value as u8,
        ]),
        _ => return Err(AmfError::TooLarge),
    }
    Ok(())
}

/// Writes a U29 carrying `value` shifted left by one with the low flag set
/// (`U29S-value`, `U29A-value`, ...).
fn write_u28_flagged(value: usize, out: &mut Vec<u8>) -> Result<()> {
    if value > U28_MAX {
        return Err(AmfError::TooLarge);
    }
    write_u29(((value as u32) << 1) | 1, out)
}

/// Traits of an AMF3 object as read from the wire.
#[derive(Debug, Clone)]
struct Traits<'a> {
    class: &'a str,
    names: Vec<&'a str>,
    dynamic: bool,
    externalizable: bool,
}

/// Decoding reference tables of one message.  Strings borrow the input.
#[derive(Debug, Default)]
pub(crate) struct DecodeState<'a> {
    strings: Vec<&'a str>,
    /// Type marker of each object-table entry, to check references.
    objects: Vec<u8>,
    traits: Vec<Traits<'a>>,
}

fn read_string<'a>(
    cur: &mut Cursor<'a>,
    st: &mut DecodeState<'a>,
    budget: &mut Budget,
) -> Result<&'a str> {
    let header = read_u29(cur)?;
    let s = if header & 1 == 0 {
        *st.strings
            .get((header >> 1) as usize)
            .ok_or(AmfError::BadReference)?
    } else {
        let s = cur.str((header >> 1) as usize)?;
        if !s.is_empty() {
            st.strings.push(s);
        }
        s
    };
    budget.charge(s.len())?;
    Ok(s)
}

/// Reads the U29 after a complex marker: `Ok(Err(reference))` for a
/// reference (checked against the table and the marker), `Ok(Ok(rest))`
/// for an inline value, whose table slot is then reserved.
fn read_complex_header(
    cur: &mut Cursor<'_>,
    st: &mut DecodeState<'_>,
    marker: u8,
) -> Result<std::result::Result<u32, Value>> {
    let header = read_u29(cur)?;
    if header & 1 == 0 {
        let index = header >> 1;
        return match st.objects.get(index as usize) {
            Some(&m) if m == marker => Ok(Err(Value::Reference(index))),
            _ => Err(AmfError::BadReference),
        };
    }
    st.objects.push(marker);
    Ok(Ok(header >> 1))
}

fn read_members<'a>(
    cur: &mut Cursor<'a>,
    st: &mut DecodeState<'a>,
    budget: &mut Budget,
    depth: usize,
    into: &mut Vec<(String, Value)>,
) -> Result<()> {
    loop {
        let key = read_string(cur, st, budget)?;
        if key.is_empty() {
            return Ok(());
        }
        let value = read_value(cur, st, budget, depth)?;
        into.push((key.to_owned(), value));
    }
}

/// Reads one AMF3 value; `depth` counts the containers around it.
pub(crate) fn read_value<'a>(
    cur: &mut Cursor<'a>,
    st: &mut DecodeState<'a>,
    budget: &mut Budget,
    depth: usize,
) -> Result<Value> {
    budget.charge_value()?;
    let m = cur.u8()?;
    let value = match m {
        marker::UNDEFINED => Value::Undefined,
        marker::NULL => Value::Null,
        marker::FALSE => Value::Boolean(false),
        marker::TRUE => Value::Boolean(true),
        marker::INTEGER => {
            let raw = read_u29(cur)?;
            // Sign-extend the 29-bit two's complement value.
            Value::Integer(((raw << 3) as i32) >> 3)
        }
        marker::DOUBLE => Value::Number(cur.f64()?),
        marker::STRING => Value::String(read_string(cur, st, budget)?.to_owned()),
        marker::XML_DOC | marker::XML => match read_complex_header(cur, st, m)? {
            Err(reference) => reference,
            Ok(len) => {
                let s = cur.str(len as usize)?;
                budget.charge(s.len())?;
                if m == marker::XML {
                    Value::Xml(s.to_owned())
                } else {
                    Value::XmlDocument(s.to_owned())
                }
            }
        },
        marker::DATE => match read_complex_header(cur, st, m)? {
            Err(reference) => reference,
            Ok(_) => Value::Date {
                millis: cur.f64()?,
                time_zone: 0,
            },
        },
        marker::BYTE_ARRAY => match read_complex_header(cur, st, m)? {
            Err(reference) => reference,
            Ok(len) => {
                let bytes = cur.bytes(len as usize)?;
                budget.charge(bytes.len())?;
                Value::ByteArray(bytes.to_vec())
            }
        },
        marker::ARRAY => match read_complex_header(cur, st, m)? {
            Err(reference) => reference,
            Ok(dense_len) => {
                budget.check_depth(depth + 1)?;
                let mut assoc = Vec::new();
                read_members(cur, st, budget, depth + 1, &mut assoc)?;
                let count = checked_count(dense_len as usize, 1, cur.remaining())?;
                let mut dense = Vec::with_capacity(count);
                for _ in 0..count {
                    dense.push(read_value(cur, st, budget, depth + 1)?);
                }
                match (dense.is_empty(), assoc.is_empty()) {
                    (_, true) => Value::StrictArray(dense),
                    (true, false) => Value::EcmaArray(assoc),
                    (false, false) => Value::MixedArray(Box::new(MixedArray { dense, assoc })),
                }
            }
        },
        marker::OBJECT => match read_complex_header(cur, st, m)? {
            Err(reference) => reference,
            Ok(rest) => {
                budget.check_depth(depth + 1)?;
                read_object(cur, st, budget, depth + 1, rest)?
            }
        },
        marker::VECTOR_INT | marker::VECTOR_UINT | marker::VECTOR_DOUBLE => {
            match read_complex_header(cur, st, m)? {
                Err(reference) => reference,
                Ok(len) => {
                    let fixed = cur.u8()? != 0;
                    let width = if m == marker::VECTOR_DOUBLE { 8 } else { 4 };
                    let count = checked_count(len as usize, width, cur.remaining())?;
                    budget.charge(count * width)?;
                    match m {
                        marker::VECTOR_INT => {
                            let mut items = Vec::with_capacity(count);
                            for _ in 0..count {
                                items.push(cur.u32()? as i32);
                            }
                            Value::VectorInt(Vector { fixed, items })
                        }
                        marker::VECTOR_UINT => {
                            let mut items = Vec::with_capacity(count);
                            for _ in 0..count {
                                items.push(cur.u32()?);
                            }
                            Value::VectorUint(Vector { fixed, items })
                        }
                        _ => {
                            let mut items = Vec::with_capacity(count);
                            for _ in 0..count {
                                items.push(cur.f64()?);
                            }
                            Value::VectorDouble(Vector { fixed, items })
                        }
                    }
                }
            }
        }
        marker::VECTOR_OBJECT => match read_complex_header(cur, st, m)? {
            Err(reference) => reference,
            Ok(len) => {
                budget.check_depth(depth + 1)?;
                let fixed = cur.u8()? != 0;
                let type_name = read_string(cur, st, budget)?.to_owned();
                let count = checked_count(len as usize, 1, cur.remaining())?;
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    items.push(read_value(cur, st, budget, depth + 1)?);
                }
                Value::VectorObject(Box::new(ObjectVector {
                    fixed,
                    type_name,
                    items,
                }))
            }
        },
        marker::DICTIONARY => match read_complex_header(cur, st, m)? {
            Err(reference) => reference,
            Ok(len) => {
                budget.check_depth(depth + 1)?;
                let weak_keys = cur.u8()? != 0;
                let count = checked_count(len as usize, 2, cur.remaining())?;
                let mut entries = Vec::with_capacity(count);
                for _ in 0..count {
                    let key = read_value(cur, st, budget, depth + 1)?;
                    let value = read_value(cur, st, budget, depth + 1)?;
                    entries.push((key, value));
                }
                Value::Dictionary(Box::new(Dictionary { weak_keys, entries }))
            }
        },
        other => return Err(AmfError::UnknownMarker(other)),
    };
    Ok(value)
}

/// Reads an inline object after its U29 (flag bit already consumed,
/// `rest` = the U29 shifted right by one).
fn read_object<'a>(
    cur: &mut Cursor<'a>,
    st: &mut DecodeState<'a>,
    budget: &mut Budget,
    depth: usize,
    rest: u32,
) -> Result<Value> {
    let traits = if rest & 1 == 0 {
        let t = st
            .traits
            .get((rest >> 1) as usize)
            .ok_or(AmfError::BadReference)?
            .clone();
        budget.charge(t.class.len() + t.names.iter().map(|n| n.len()).sum::<usize>())?;
        t
    } else if rest & 2 != 0 {
        let class = read_string(cur, st, budget)?;
        let t = Traits {
            class,
            names: Vec::new(),
            dynamic: false,
            externalizable: true,
        };
        st.traits.push(t.clone());
        t
    } else {
        let dynamic = rest & 4 != 0;
        let class = read_string(cur, st, budget)?;
        // Each name and each member value take at least one byte.
        let count = checked_count((rest >> 3) as usize, 2, cur.remaining())?;
        let mut names = Vec::with_capacity(count);
        for _ in 0..count {
            names.push(read_string(cur, st, budget)?);
        }
        let t = Traits {
            class,
            names,
            dynamic,
            externalizable: false,
        };
        st.traits.push(t.clone());
        t
    };
    if traits.externalizable {
        let body = read_value(cur, st, budget, depth)?;
        return Ok(Value::Externalizable {
            class: traits.class.to_owned(),
            body: Box::new(body),
        });
    }
    let sealed = checked_count(traits.names.len(), 1, cur.remaining())?;
    let mut properties = Vec::with_capacity(sealed);
    for name in &traits.names {
        let value = read_value(cur, st, budget, depth)?;
        properties.push(((*name).to_owned(), value));
    }
    if traits.dynamic {
        read_members(cur, st, budget, depth, &mut properties)?;
    }
    Ok(Value::Object(Box::new(Object {
        class: (!traits.class.is_empty()).then(|| traits.class.to_owned()),
        properties,
        sealed,
        dynamic: traits.dynamic,
    })))
}

/// Decodes a sequence of AMF3 values sharing one set of reference tables
/// (one message, or one `ByteArray.readObject` context).
#[derive(Debug)]
pub struct Decoder<'a> {
    cur: Cursor<'a>,
    state: DecodeState<'a>,
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
            state: DecodeState::default(),
            budget: Budget::new(limits),
        }
    }

    /// Decodes the next value.
    pub fn decode(&mut self) -> Result<Value> {
        read_value(&mut self.cur, &mut self.state, &mut self.budget, 0)
    }

    /// Whether all input has been consumed.
    pub fn is_empty(&self) -> bool {
        self.cur.remaining() == 0
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.cur.position()
    }
}

/// Decodes the first AMF3 value of `input`; returns it and the number of
/// bytes it took.
pub fn decode(input: &[u8]) -> Result<(Value, usize)> {
    let mut d = Decoder::new(input);
    let v = d.decode()?;
    Ok((v, d.position()))
}

/// Decodes every AMF3 value of `input`, with shared reference tables.
pub fn decode_all(input: &[u8]) -> Result<Vec<Value>> {
    let mut d = Decoder::new(input);
    let mut out = Vec::new();
    while !d.is_empty() {
        out.push(d.decode()?);
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TraitKey<'v> {
    class: &'v str,
    names: Vec<&'v str>,
    dynamic: bool,
    externalizable: bool,
}

/// Encodes a sequence of AMF3 values sharing one set of reference tables.
///
/// The encoder borrows the values it writes (its string and trait tables
/// point into them), so it lives no longer than they do.
#[derive(Debug)]
pub struct Encoder<'v> {
    strings: HashMap<&'v str, u32>,
    string_count: usize,
    /// Type marker of each object-table entry written so far.
    objects: Vec<u8>,
    traits: HashMap<TraitKey<'v>, u32>,
    trait_count: usize,
    max_depth: usize,
}

impl Default for Encoder<'_> {
    fn default() -> Self {
        Encoder::new()
    }
}

impl<'v> Encoder<'v> {
    /// An encoder with empty tables and the default depth limit.
    pub fn new() -> Self {
        Encoder {
            strings: HashMap::new(),
            string_count: 0,
            objects: Vec::new(),
            traits: HashMap::new(),
            trait_count: 0,
            max_depth: super::DEFAULT_MAX_DEPTH,
        }
    }

    /// Appends `value` to `out`.  On error `out` and the reference tables
    /// are left as they were, so the encoder stays usable.
    pub fn encode(&mut self, value: &'v Value, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        let checkpoint = self.checkpoint();
        let r = self.write_value(value, out, 0);
        if r.is_err() {
            out.truncate(start);
            self.rollback(checkpoint);
        }
        r
    }

    /// The table sizes, to undo a failed encoding.
    pub(crate) fn checkpoint(&self) -> [usize; 3] {
        [self.string_count, self.objects.len(), self.trait_count]
    }

    /// Forgets table entries added since `checkpoint`.
    pub(crate) fn rollback(&mut self, [strings, objects, traits]: [usize; 3]) {
        if self.string_count > strings {
            self.strings.retain(|_, i| (*i as usize) < strings);
            self.string_count = strings;
        }
        self.objects.truncate(objects);
        if self.trait_count > traits {
            self.traits.retain(|_, i| (*i as usize) < traits);
            self.trait_count = traits;
        }
    }

    fn check_depth(&self, depth: usize) -> Result<()> {
        if depth > self.max_depth {
            Err(AmfError::DepthExceeded)
        } else {
            Ok(())
        }
    }

    fn write_string(&mut self, s: &'v str, out: &mut Vec<u8>) -> Result<()> {
        if s.is_empty() {
            out.push(0x01);
            return Ok(());
        }
        if let Some(&index) = self.strings.get(s) {
            return write_u29(index << 1, out);
        }
        write_u28_flagged(s.len(), out)?;
        out.extend_from_slice(s.as_bytes());
        if self.string_count <= U28_MAX {
            self.strings.insert(s, self.string_count as u32);
        }
        self.string_count += 1;
        Ok(())
    }

    /// Starts an inline complex value: writes the marker and reserves its
    /// object-table slot.
    fn begin_complex(&mut self, marker: u8, out: &mut Vec<u8>) {
        out.push(marker);
        self.objects.push(marker);
    }

    pub(crate) fn write_value(
        &mut self,
        value: &'v Value,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<()> {
        match value {
            Value::Undefined | Value::Unsupported => out.push(marker::UNDEFINED),
            Value::Null => out.push(marker::NULL),
            Value::Boolean(false) => out.push(marker::FALSE),
            Value::Boolean(true) => out.push(marker::TRUE),
            Value::Integer(i) if (INT29_MIN..=INT29_MAX).contains(i) => {
                out.push(marker::INTEGER);
                write_u29((*i as u32) & U29_MAX, out)?;
            }
            Value::Integer(i) => {
                out.push(marker::DOUBLE);
                out.extend_from_slice(&f64::from(*i).to_be_bytes());
            }
            Value::Number(n) => {
                out.push(marker::DOUBLE);
                out.extend_from_slice(&n.to_be_bytes());
            }
            Value::String(s) => {
                out.push(marker::STRING);
                self.write_string(s, out)?;
            }
            Value::XmlDocument(s) | Value::Xml(s) => {
                let m = if matches!(value, Value::Xml(_)) {
                    marker::XML
                } else {
                    marker::XML_DOC
                };
                self.begin_complex(m, out);
                write_u28_flagged(s.len(), out)?;
                out.extend_from_slice(s.as_bytes());
            }
            Value::Date { millis, .. } => {
                self.begin_complex(marker::DATE, out);
                out.push(0x01);
                out.extend_from_slice(&millis.to_be_bytes());
            }
            Value::ByteArray(bytes) => {
                self.begin_complex(marker::BYTE_ARRAY, out);
                write_u28_flagged(bytes.len(), out)?;
                out.extend_from_slice(bytes);
            }
            Value::StrictArray(items) => self.write_array(items, &[], out, depth)?,
            Value::EcmaArray(assoc) => self.write_array(&[], assoc, out, depth)?,
            Value::MixedArray(m) => self.write_array(&m.dense, &m.assoc, out, depth)?,
            Value::Object(o) => {
                self.check_depth(depth + 1)?;
                self.write_object(o, out, depth + 1)?;
            }
            Value::Externalizable { class, body } => {
                self.check_depth(depth + 1)?;
                self.begin_complex(marker::OBJECT, out);
                let key = TraitKey {
                    class,
                    names: Vec::new(),
                    dynamic: false,
                    externalizable: true,
                };
                if let Some(&index) = self.traits.get(&key) {
                    write_u29((index << 2) | 0b01, out)?;
                } else {
                    out.push(0b0111);
                    self.write_string(class, out)?;
                    self.add_traits(key);
                }
                self.write_value(body, out, depth + 1)?;
            }
            Value::VectorInt(v) => {
                self.write_vector_header(marker::VECTOR_INT, v.items.len(), v.fixed, out)?;
                for i in &v.items {
                    out.extend_from_slice(&i.to_be_bytes());
                }
            }
            Value::VectorUint(v) => {
                self.write_vector_header(marker::VECTOR_UINT, v.items.len(), v.fixed, out)?;
                for i in &v.items {
                    out.extend_from_slice(&i.to_be_bytes());
                }
            }
            Value::VectorDouble(v) => {
                self.write_vector_header(marker::VECTOR_DOUBLE, v.items.len(), v.fixed, out)?;
                for i in &v.items {
                    out.extend_from_slice(&i.to_be_bytes());
                }
            }
            Value::VectorObject(v) => {
                self.check_depth(depth + 1)?;
                self.write_vector_header(marker::VECTOR_OBJECT, v.items.len(), v.fixed, out)?;
                self.write_string(&v.type_name, out)?;
                for item in &v.items {
                    self.write_value(item, out, depth + 1)?;
                }
            }
            Value::Dictionary(d) => {
                self.check_depth(depth + 1)?;
                self.begin_complex(marker::DICTIONARY, out);
                write_u28_flagged(d.entries.len(), out)?;
                out.push(u8::from(d.weak_keys));
                for (k, v) in &d.entries {
                    self.write_value(k, out, depth + 1)?;
                    self.write_value(v, out, depth + 1)?;
                }
            }
            Value::Reference(index) => {
                let m = *self
                    .objects
                    .get(*index as usize)
                    .ok_or(AmfError::BadReference)?;
                out.push(m);
                if *index as usize > U28_MAX {
                    return Err(AmfError::TooLarge);
                }
                write_u29(index << 1, out)?;
            }
            Value::Avmplus(inner) => self.write_value(inner, out, depth)?,
        }
        Ok(())
    }

    fn write_vector_header(
        &mut self,
        marker: u8,
        len: usize,
        fixed: bool,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        self.begin_complex(marker, out);
        write_u28_flagged(len, out)?;
        out.push(u8::from(fixed));
        Ok(())
    }

    fn write_array(
        &mut self,
        dense: &'v [Value],
        assoc: &'v [(String, Value)],
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<()> {
        self.check_depth(depth + 1)?;
        self.begin_complex(marker::ARRAY, out);
        write_u28_flagged(dense.len(), out)?;
        self.write_members(assoc, out, depth + 1)?;
        for item in dense {
            self.write_value(item, out, depth + 1)?;
        }
        Ok(())
    }

    /// Writes name/value pairs and the empty-string terminator.
    fn write_members(
        &mut self,
        members: &'v [(String, Value)],
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<()> {
        for (k, v) in members {
            if k.is_empty() {
                return Err(AmfError::EmptyKey);
            }
            self.write_string(k, out)?;
            self.write_value(v, out, depth)?;
        }
        out.push(0x01);
        Ok(())
    }

    fn add_traits(&mut self, key: TraitKey<'v>) {
        if self.trait_count <= U28_MAX >> 1 {
            self.traits.insert(key, self.trait_count as u32);
        }
        self.trait_count += 1;
    }

    fn write_object(&mut self, o: &'v Object, out: &mut Vec<u8>, depth: usize) -> Result<()> {
        self.begin_complex(marker::OBJECT, out);
        let sealed = o.sealed.min(o.properties.len());
        let dynamic = o.dynamic || o.properties.len() > sealed;
        let key = TraitKey {
            class: o.class.as_deref().unwrap_or(""),
            names: o.properties[..sealed]
                .iter()
                .map(|(k, _)| k.as_str())
                .collect(),
            dynamic,
            externalizable: false,
        };
        if let Some(&index) = self.traits.get(&key) {
            write_u29((index << 2) | 0b01, out)?;
        } else {
            if sealed >= 1 << 25 {
                return Err(AmfError::TooLarge);
            }
            write_u29(
                ((sealed as u32) << 4) | (u32::from(dynamic) << 3) | 0b011,
                out,
            )?;
            self.write_string(key.class, out)?;
            for name in &key.names {
                self.write_string(name, out)?;
            }
            self.add_traits(key);
        }
        for (_, v) in &o.properties[..sealed] {
            self.write_value(v, out, depth)?;
        }
        if dynamic {
            self.write_members(&o.properties[sealed..], out, depth)?;
        }
        Ok(())
    }
}

/// Encodes one value as AMF3 with fresh reference tables.
pub fn encode(value: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    Encoder::new().encode(value, &mut out)?;
    Ok(out)
}

/// Encodes values as one AMF3 sequence with shared reference tables.
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

    fn u29(v: u32) -> Vec<u8> {
        let mut out = Vec::new();
        write_u29(v, &mut out).unwrap();
        out
    }

    #[test]
    fn u29_boundaries_from_the_table() {
        // amf3.txt §1.3.1 table: 1..4 bytes at 0x7F / 0x3FFF / 0x1FFFFF.
        assert_eq!(u29(0), [0x00]);
        assert_eq!(u29(0x7f), [0x7f]);
        assert_eq!(u29(0x80), [0x81, 0x00]);
        assert_eq!(u29(0x3fff), [0xff, 0x7f]);
        assert_eq!(u29(0x4000), [0x81, 0x80, 0x00]);
        assert_eq!(u29(0x1f_ffff), [0xff, 0xff, 0x7f]);
        assert_eq!(u29(0x20_0000), [0x80, 0xc0, 0x80, 0x00]);
        assert_eq!(u29(U29_MAX), [0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            write_u29(U29_MAX + 1, &mut Vec::new()),
            Err(AmfError::TooLarge)
        );
        for v in [
            0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 0x1f_ffff, 0x20_0000, U29_MAX,
        ] {
            let bytes = u29(v);
            let mut c = Cursor::new(&bytes);
            assert_eq!(read_u29(&mut c).unwrap(), v);
            assert_eq!(c.remaining(), 0);
        }
    }

    #[test]
    fn integers_sign_extend() {
        for (i, bytes) in [
            (0, vec![0x04, 0x00]),
            (-1, vec![0x04, 0xff, 0xff, 0xff, 0xff]),
            (INT29_MAX, vec![0x04, 0xbf, 0xff, 0xff, 0xff]),
            (INT29_MIN, vec![0x04, 0xc0, 0x80, 0x80, 0x00]),
        ] {
            assert_eq!(encode(&Value::Integer(i)).unwrap(), bytes, "{i}");
            assert_eq!(decode(&bytes).unwrap().0, Value::Integer(i));
        }
        // Out of range: a double.
        let big = encode(&Value::Integer(INT29_MAX + 1)).unwrap();
        assert_eq!(big[0], marker::DOUBLE);
        assert_eq!(decode(&big).unwrap().0, Value::Number(268435456.0));
    }

    #[test]
    fn reference_marker_must_match() {
        // [date, array-marker ref 0]: the referenced entry is a date.
        let bytes = [
            0x09, 0x05, 0x01, 0x08, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x09, 0x00,
        ];
        // Object 0 is the outer array itself, so "ref 0" with an array
        // marker is fine; ref 1 (the date) with an array marker is not.
        assert!(decode(&bytes).is_ok());
        let mut bad = bytes;
        bad[14] = 0x02;
        assert_eq!(decode(&bad), Err(AmfError::BadReference));
        bad[13] = 0x08;
        assert!(decode(&bad).is_ok());
    }
}
