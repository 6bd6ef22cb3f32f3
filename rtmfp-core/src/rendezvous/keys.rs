//! Developer keys: the credential a rendezvous service checks on
//! `connect` (not in either RFC; Adobe's Cirrus/Stratus convention).
//!
//! The key is the last non-empty path segment of the connect command
//! object's `app` (so `rtmfp://host/app/KEY` or `rtmfp://host/KEY`); when
//! `app` is empty, the first string argument of `connect`.

use crate::flash::uri::developer_key_of;
use crate::flash::Value;
use std::collections::HashSet;
use std::io;
use std::path::Path;

/// The developer keys a server accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySet {
    /// Any key, or none: for development.
    Any,
    /// Exactly these keys.
    List(HashSet<String>),
}

impl KeySet {
    /// A key set of `keys`.
    pub fn of<S: Into<String>>(keys: impl IntoIterator<Item = S>) -> KeySet {
        KeySet::List(keys.into_iter().map(Into::into).collect())
    }

    /// Loads keys from a file: one per line; blank lines and lines
    /// starting with `#` are skipped, surrounding white space ignored.
    pub fn from_file(path: impl AsRef<Path>) -> io::Result<KeySet> {
        Ok(KeySet::parse(&std::fs::read_to_string(path)?))
    }

    /// Parses the file format of [`KeySet::from_file`].
    pub fn parse(text: &str) -> KeySet {
        KeySet::of(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#')),
        )
    }

    /// Whether `key` is accepted.
    pub fn accepts(&self, key: Option<&str>) -> bool {
        match self {
            KeySet::Any => true,
            KeySet::List(keys) => key.is_some_and(|k| keys.contains(k)),
        }
    }
}

/// The developer key of a connect: the last path segment of `app`, else
/// the first string argument.
pub fn developer_key(app: &str, args: &[Value]) -> Option<String> {
    developer_key_of(app)
        .map(str::to_owned)
        .or_else(|| args.iter().find_map(|v| v.as_str().map(str::to_owned)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let set = KeySet::parse("# keys\n  abc \n\ndef\n#ghi\n");
        assert!(set.accepts(Some("abc")));
        assert!(set.accepts(Some("def")));
        assert!(!set.accepts(Some("ghi")));
        assert!(!set.accepts(None));
        assert!(KeySet::Any.accepts(None));
        assert_eq!(developer_key("app/KEY", &[]), Some("KEY".into()));
        assert_eq!(developer_key("KEY/", &[]), Some("KEY".into()));
        assert_eq!(
            developer_key("", &[Value::Null, Value::from("K2")]),
            Some("K2".into())
        );
        assert_eq!(developer_key("", &[]), None);
    }
}
