//! The value model shared by AMF0 and AMF3.

/// An AMF value, decoded from or to be encoded as AMF0 or AMF3.
///
/// Some variants exist in only one format; the encoders map them:
///
/// | variant | AMF0 | AMF3 |
/// |---|---|---|
/// | `Number` | number 0x00 | double 0x05 |
/// | `Integer` | number 0x00 | integer 0x04 (double if outside 29 bits) |
/// | `Boolean` | boolean 0x01 | false 0x02 / true 0x03 |
/// | `String` | string 0x02, long string 0x0C over 65535 bytes | string 0x06 |
/// | `Null`, `Undefined` | 0x05, 0x06 | 0x01, 0x00 |
/// | `Unsupported` | unsupported 0x0D | undefined 0x00 |
/// | `Object` | object 0x03, typed object 0x10 | object 0x0A |
/// | `EcmaArray` | ECMA array 0x08 | array 0x09, associative part only |
/// | `StrictArray` | strict array 0x0A | array 0x09, dense part only |
/// | `MixedArray` | ECMA array, dense keys "0".."n-1" first | array 0x09 |
/// | `Date` | date 0x0B with time zone | date 0x08 (no time zone) |
/// | `XmlDocument` | XML document 0x0F | XMLDocument 0x07 |
/// | `Reference` | reference 0x07 (AMF0 table) | `U29O-ref` (AMF3 table) |
/// | `Avmplus` | avmplus marker 0x11, then the value in AMF3 | the value |
/// | others (AMF3 only) | avmplus marker 0x11, then AMF3 | as named |
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An IEEE-754 double (AMF0 number, AMF3 double).
    Number(f64),
    /// An AMF3 integer (29-bit signed on the wire).
    Integer(i32),
    /// A boolean.
    Boolean(bool),
    /// A UTF-8 string.
    String(String),
    /// `null`.
    Null,
    /// `undefined`.
    Undefined,
    /// The AMF0 unsupported marker (0x0D).
    Unsupported,
    /// An anonymous or typed object.
    Object(Box<Object>),
    /// An associative (ECMA) array: string keys only.
    EcmaArray(Vec<(String, Value)>),
    /// A strict (dense) array.
    StrictArray(Vec<Value>),
    /// An AMF3 array with both a dense and an associative part.
    MixedArray(Box<MixedArray>),
    /// A date: milliseconds since the Unix epoch (UTC) and, in AMF0 only,
    /// the reserved time zone field (should be 0).
    Date {
        /// Milliseconds since 1970-01-01T00:00:00Z.
        millis: f64,
        /// AMF0 time zone offset in minutes (reserved; AMF3 drops it).
        time_zone: i16,
    },
    /// A legacy XMLDocument, as its string form.
    XmlDocument(String),
    /// An AMF3 (E4X) XML value, as its string form.
    Xml(String),
    /// An AMF3 ByteArray.
    ByteArray(Vec<u8>),
    /// An AMF3 `Vector.<int>`.
    VectorInt(Vector<i32>),
    /// An AMF3 `Vector.<uint>`.
    VectorUint(Vector<u32>),
    /// An AMF3 `Vector.<Number>`.
    VectorDouble(Vector<f64>),
    /// An AMF3 `Vector.<Object>` (or of a named class).
    VectorObject(Box<ObjectVector>),
    /// An AMF3 Dictionary.
    Dictionary(Box<Dictionary>),
    /// An AMF3 externalizable object: the class name and its body.
    ///
    /// AMF3 leaves the body's format to the class.  This codec reads and
    /// writes it as one AMF3 value, which is what the common Flex
    /// externalizable classes (`flex.messaging.io.ArrayCollection`,
    /// `ObjectProxy`) do; any other body is an error for that message.
    Externalizable {
        /// The registered class alias.
        class: String,
        /// The body, as one AMF3 value.
        body: Box<Value>,
    },
    /// A reference to an earlier complex value of the same message, by
    /// index into the object table of the format being decoded (AMF0
    /// objects and arrays; AMF3 objects, arrays, dates, XML, byte arrays,
    /// vectors and dictionaries).
    Reference(u32),
    /// In AMF0, a value switched to AMF3 by the avmplus-object-marker
    /// (0x11).  In AMF3 it is transparent.
    Avmplus(Box<Value>),
}

/// An anonymous or typed object.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object {
    /// The class alias; `None` (or, in AMF3, the empty string) for an
    /// anonymous object.
    pub class: Option<String>,
    /// Members, in wire order: the first `sealed` are the AMF3 sealed
    /// members named by the traits, the rest are dynamic members.
    pub properties: Vec<(String, Value)>,
    /// AMF3 only: how many leading properties are sealed members.
    /// Clamped to `properties.len()` when encoding.
    pub sealed: usize,
    /// AMF3 only: whether the traits are dynamic.  Encoding treats an
    /// object with properties beyond its sealed ones as dynamic.
    pub dynamic: bool,
}

impl Object {
    /// An anonymous, dynamic object (what ActionScript's `{}` is).
    pub fn anonymous(properties: Vec<(String, Value)>) -> Object {
        Object {
            class: None,
            properties,
            sealed: 0,
            dynamic: true,
        }
    }

    /// A typed object whose members are all sealed.
    pub fn typed(class: impl Into<String>, properties: Vec<(String, Value)>) -> Object {
        let sealed = properties.len();
        Object {
            class: Some(class.into()),
            properties,
            sealed,
            dynamic: false,
        }
    }

    /// The value of the first property called `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        lookup(&self.properties, key)
    }
}

/// An AMF3 array with a dense and an associative part.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MixedArray {
    /// The dense part, indices 0..n.
    pub dense: Vec<Value>,
    /// The associative part (non-empty keys).
    pub assoc: Vec<(String, Value)>,
}

/// An AMF3 vector of numbers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Vector<T> {
    /// Whether the vector has a fixed length.
    pub fixed: bool,
    /// The elements.
    pub items: Vec<T>,
}

/// An AMF3 vector of objects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectVector {
    /// Whether the vector has a fixed length.
    pub fixed: bool,
    /// The element class name; empty for `Vector.<Object>` (`"*"` is also
    /// common on the wire).
    pub type_name: String,
    /// The elements.
    pub items: Vec<Value>,
}

/// An AMF3 Dictionary.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dictionary {
    /// Whether the keys are weakly referenced.
    pub weak_keys: bool,
    /// Key/value pairs.
    pub entries: Vec<(Value, Value)>,
}

fn lookup<'v>(props: &'v [(String, Value)], key: &str) -> Option<&'v Value> {
    props.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// An anonymous object from `(name, value)` pairs.
    pub fn object<K: Into<String>>(properties: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(Box::new(Object::anonymous(
            properties.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        )))
    }

    /// A typed object (all members sealed) from `(name, value)` pairs.
    pub fn typed_object<K: Into<String>>(
        class: impl Into<String>,
        properties: impl IntoIterator<Item = (K, Value)>,
    ) -> Value {
        Value::Object(Box::new(Object::typed(
            class,
            properties.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        )))
    }

    /// Looks through [`Value::Avmplus`] wrappers.
    pub fn unwrap_avmplus(&self) -> &Value {
        let mut v = self;
        while let Value::Avmplus(inner) = v {
            v = inner;
        }
        v
    }

    /// The string, if this is a string (or an XML form of one).
    pub fn as_str(&self) -> Option<&str> {
        match self.unwrap_avmplus() {
            Value::String(s) | Value::XmlDocument(s) | Value::Xml(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is a `Number` or an `Integer`.
    pub fn as_f64(&self) -> Option<f64> {
        match self.unwrap_avmplus() {
            Value::Number(n) => Some(*n),
            Value::Integer(i) => Some(f64::from(*i)),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self.unwrap_avmplus() {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// Whether this is `null` or `undefined`.
    pub fn is_null_or_undefined(&self) -> bool {
        matches!(self.unwrap_avmplus(), Value::Null | Value::Undefined)
    }

    /// The named members, if this is an object or an associative array
    /// (for a mixed array, its associative part).
    pub fn properties(&self) -> Option<&[(String, Value)]> {
        match self.unwrap_avmplus() {
            Value::Object(o) => Some(&o.properties),
            Value::EcmaArray(p) => Some(p),
            Value::MixedArray(m) => Some(&m.assoc),
            _ => None,
        }
    }

    /// The first member called `key` of an object or associative array.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.properties().and_then(|p| lookup(p, key))
    }

    /// The string member `key` of an object, if present and a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// The numeric member `key` of an object, if present and a number.
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(Value::as_f64)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Number(n)
    }
}

impl From<i32> for Value {
    fn from(n: i32) -> Value {
        Value::Integer(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Boolean(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<Object> for Value {
    fn from(o: Object) -> Value {
        Value::Object(Box::new(o))
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::StrictArray(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_stays_small() {
        assert!(std::mem::size_of::<Value>() <= 40);
    }

    #[test]
    fn accessors() {
        let v = Value::object([
            ("code", Value::from("NetConnection.Connect.Success")),
            ("n", Value::Integer(3)),
        ]);
        assert_eq!(v.get_str("code"), Some("NetConnection.Connect.Success"));
        assert_eq!(v.get_f64("n"), Some(3.0));
        assert_eq!(v.get("missing"), None);
        let wrapped = Value::Avmplus(Box::new(v.clone()));
        assert_eq!(wrapped.get_f64("n"), Some(3.0));
        assert!(Value::Null.is_null_or_undefined());
    }
}
