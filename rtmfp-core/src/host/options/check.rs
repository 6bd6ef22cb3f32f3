//! An option's value checked against its row's [`Kind`], once, with one
//! set of words: every refusal names the option as the adapter spells it.

use super::table::{Kind, Zero, MAX_BIND_ADDRESSES};
use super::{OptionError, OptionValue};
use crate::crypto::flash::dh::SUPPORTED_GROUPS;
use crate::crypto::flash::KeyLog;
use crate::host::{ErrorKind, Failure};
use crate::rendezvous::KeySet;
use crate::turn::TurnUri;
use std::net::SocketAddr;
use std::time::Duration;

/// A value that passed its row's check, in core's types.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Checked {
    /// [`Kind::Duration`]; `None` for 0 where 0 is [`Zero::Off`].
    Duration(Option<Duration>),
    /// [`Kind::Count`].
    Count(usize),
    /// [`Kind::Flag`].
    Flag(bool),
    /// [`Kind::Text`] and [`Kind::TurnUri`]; `None` for none (a TURN
    /// relay turned off).
    Text(Option<String>),
    /// [`Kind::Word`]: the word's index.
    Word(usize),
    /// [`Kind::Addresses`].
    Addresses(Vec<SocketAddr>),
    /// [`Kind::Groups`].
    Groups(Vec<u64>),
    /// [`Kind::KeyLog`]; `None` goes back to the default.
    KeyLog(Option<KeyLog>),
    /// [`Kind::Keys`].
    Texts(Vec<String>),
    /// [`Kind::KeysFile`].
    KeySet(KeySet),
    /// [`Kind::Keepalive`].
    Keepalive(Option<(Duration, Duration)>),
}

/// The accessors rows use: each is called only on its own kind's value
/// (the table's test sets every row), so a mismatch is a bug in the
/// table, answered with a neutral value rather than a panic.
impl Checked {
    pub(crate) fn duration(&self) -> Duration {
        self.optional_duration().unwrap_or_default()
    }
    pub(crate) fn optional_duration(&self) -> Option<Duration> {
        match self {
            Checked::Duration(d) => *d,
            _ => None,
        }
    }
    pub(crate) fn count(&self) -> usize {
        match self {
            Checked::Count(n) => *n,
            _ => 0,
        }
    }
    pub(crate) fn flag(&self) -> bool {
        matches!(self, Checked::Flag(true))
    }
    pub(crate) fn optional_text(&self) -> Option<&str> {
        match self {
            Checked::Text(t) => t.as_deref(),
            _ => None,
        }
    }
    pub(crate) fn text(&self) -> &str {
        self.optional_text().unwrap_or_default()
    }
    pub(crate) fn word(&self) -> usize {
        match self {
            Checked::Word(i) => *i,
            _ => 0,
        }
    }
    pub(crate) fn addresses(&self) -> &[SocketAddr] {
        match self {
            Checked::Addresses(a) => a,
            _ => &[],
        }
    }
    pub(crate) fn groups(&self) -> &[u64] {
        match self {
            Checked::Groups(g) => g,
            _ => &[],
        }
    }
    pub(crate) fn key_log(&self) -> Option<&KeyLog> {
        match self {
            Checked::KeyLog(k) => k.as_ref(),
            _ => None,
        }
    }
    pub(crate) fn texts(&self) -> &[String] {
        match self {
            Checked::Texts(t) => t,
            _ => &[],
        }
    }
    pub(crate) fn key_set(&self) -> &KeySet {
        match self {
            Checked::KeySet(k) => k,
            _ => &KeySet::Any,
        }
    }
    pub(crate) fn keepalive(&self) -> Option<(Duration, Duration)> {
        match self {
            Checked::Keepalive(k) => *k,
            _ => None,
        }
    }
}

fn invalid(message: String) -> OptionError {
    OptionError::Invalid(Failure::new(ErrorKind::InvalidArgument, message))
}

/// What `kind` takes, in words ("an integer from 1 to 65535"): the end of
/// every type refusal, "NAME must be WORDS, got WHAT".
pub fn expects(kind: Kind) -> String {
    match kind {
        Kind::Duration { .. } => "a duration".to_owned(),
        Kind::Count { min, max } => format!("an integer from {min} to {max}"),
        Kind::Flag => "true or false".to_owned(),
        Kind::Text | Kind::TurnUri => "a string".to_owned(),
        Kind::KeyLog | Kind::KeysFile => "a path".to_owned(),
        Kind::Word(words) => format!("one of {}", words.join(", ")),
        Kind::Addresses => "an address or a list of addresses".to_owned(),
        Kind::Groups => "a list of Diffie-Hellman groups (2, 5, 14, 16)".to_owned(),
        Kind::Keys => "a list of strings".to_owned(),
        Kind::Keepalive => "two durations or none".to_owned(),
    }
}

/// The refusal of a value of the wrong type: "NAME must be WORDS, got
/// WHAT" (`what` in the adapter's words: "number 7", "a list").
pub fn type_error(kind: Kind, shown: &str, what: &str) -> OptionError {
    invalid(format!("{shown} must be {}, got {what}", expects(kind)))
}

/// Checks `value` for an option of `kind` that the adapter calls `shown`.
pub(crate) fn check(kind: Kind, shown: &str, value: OptionValue) -> Result<Checked, OptionError> {
    let wrong = |value: &OptionValue| type_error(kind, shown, &value.describe());
    match (kind, value) {
        (Kind::Duration { zero }, v) => duration(zero, shown, v).map(Checked::Duration),
        (Kind::Count { min, max }, OptionValue::Int(n)) => {
            if (i128::from(min)..=i128::from(max)).contains(&n) {
                Ok(Checked::Count(n as usize))
            } else {
                Err(invalid(format!(
                    "{shown} must be from {min} to {max}, got {n}"
                )))
            }
        }
        (Kind::Flag, OptionValue::Bool(b)) => Ok(Checked::Flag(b)),
        (Kind::Text, OptionValue::Text(t)) => Ok(Checked::Text(Some(t))),
        (Kind::Word(words), OptionValue::Text(t)) => words
            .iter()
            .position(|w| *w == t)
            .map(Checked::Word)
            .ok_or_else(|| {
                invalid(format!(
                    "{shown} must be one of {}, got {t:?}",
                    words.join(", ")
                ))
            }),
        (Kind::Word(words), OptionValue::Int(i)) => usize::try_from(i)
            .ok()
            .filter(|i| *i < words.len())
            .map(Checked::Word)
            .ok_or_else(|| {
                invalid(format!(
                    "{shown} must be one of {} (0..={}), got {i}",
                    words.join(", "),
                    words.len() - 1
                ))
            }),
        (Kind::Addresses, v) => addresses(shown, v).map(Checked::Addresses),
        (Kind::Groups, OptionValue::List(items)) => groups(shown, items).map(Checked::Groups),
        (Kind::TurnUri, OptionValue::None) => Ok(Checked::Text(None)),
        (Kind::TurnUri, OptionValue::Text(uri)) => match TurnUri::parse(&uri) {
            Ok(_) => Ok(Checked::Text(Some(uri))),
            Err(e) => Err(invalid(format!("{shown}: {e}"))),
        },
        (Kind::KeyLog, OptionValue::None) => Ok(Checked::KeyLog(None)),
        (Kind::KeyLog, OptionValue::Text(path)) => {
            check(kind, shown, OptionValue::Path(path.into()))
        }
        (Kind::KeyLog, OptionValue::Path(path)) => match KeyLog::open(&path) {
            Ok(log) => Ok(Checked::KeyLog(Some(log))),
            Err(error) => Err(OptionError::File {
                failure: Failure::new(
                    ErrorKind::Io,
                    format!("cannot open the key log {path:?}: {error}"),
                ),
                path,
                error,
            }),
        },
        (Kind::Keys, OptionValue::List(items)) => keys(shown, items).map(Checked::Texts),
        (Kind::KeysFile, OptionValue::Text(path)) => {
            check(kind, shown, OptionValue::Path(path.into()))
        }
        (Kind::KeysFile, OptionValue::Path(path)) => match KeySet::from_file(&path) {
            Ok(keys) => Ok(Checked::KeySet(keys)),
            Err(error) => Err(OptionError::File {
                failure: Failure::new(
                    ErrorKind::Io,
                    format!("cannot read the keys file {path:?}: {error}"),
                ),
                path,
                error,
            }),
        },
        (Kind::Keepalive, OptionValue::None) => Ok(Checked::Keepalive(None)),
        (Kind::Keepalive, OptionValue::List(items)) if items.len() == 2 => {
            let mut periods = items
                .into_iter()
                .map(|v| duration(Zero::Refused, shown, v).map(Option::unwrap_or_default));
            let server = periods.next().unwrap_or(Ok(Duration::ZERO))?;
            let peer = periods.next().unwrap_or(Ok(Duration::ZERO))?;
            Ok(Checked::Keepalive(Some((server, peer))))
        }
        (_, v) => Err(wrong(&v)),
    }
}

/// A duration in seconds or milliseconds: never negative, NaN or beyond
/// `Duration`; 0 as `zero` says.
fn duration(zero: Zero, shown: &str, value: OptionValue) -> Result<Option<Duration>, OptionError> {
    let (number, unit, seconds) = match value {
        OptionValue::Seconds(s) => (s, "seconds", s),
        OptionValue::Millis(ms) => (ms, "ms", ms / 1000.0),
        v => return Err(type_error(Kind::Duration { zero }, shown, &v.describe())),
    };
    if number.is_nan() || number < 0.0 {
        return Err(invalid(format!(
            "{shown} must be >= 0 {unit}, got {number}"
        )));
    }
    if number == 0.0 {
        return match zero {
            Zero::Refused => Err(invalid(format!("{shown} must be more than 0 {unit}"))),
            Zero::Off => Ok(None),
            Zero::Allowed => Ok(Some(Duration::ZERO)),
        };
    }
    Duration::try_from_secs_f64(seconds)
        .map(Some)
        .map_err(|_| invalid(format!("{shown} is out of range: {number} {unit}")))
}

fn addresses(shown: &str, value: OptionValue) -> Result<Vec<SocketAddr>, OptionError> {
    let list = match value {
        OptionValue::Addresses(list) => list,
        OptionValue::Text(one) => vec![literal(shown, &one)?],
        OptionValue::List(items) => items
            .into_iter()
            .map(|item| match item {
                OptionValue::Text(t) => literal(shown, &t),
                v => Err(type_error(Kind::Addresses, shown, &v.describe())),
            })
            .collect::<Result<_, _>>()?,
        v => return Err(type_error(Kind::Addresses, shown, &v.describe())),
    };
    if list.is_empty() {
        return Err(invalid(format!("{shown}: no address given")));
    }
    if list.len() > MAX_BIND_ADDRESSES {
        return Err(invalid(format!(
            "{shown}: at most {MAX_BIND_ADDRESSES} bind addresses, got {}",
            list.len()
        )));
    }
    Ok(list)
}

/// An IP literal and port, blanks around it ignored: what an object binds
/// (no name is resolved).
fn literal(shown: &str, text: &str) -> Result<SocketAddr, OptionError> {
    text.trim().parse().map_err(|_| {
        invalid(format!(
            "{shown}: bad bind address {text:?}: expected an IP literal and port, \
             \"ip:port\" or \"[ipv6]:port\""
        ))
    })
}

fn groups(shown: &str, items: Vec<OptionValue>) -> Result<Vec<u64>, OptionError> {
    let max = SUPPORTED_GROUPS.len();
    if items.is_empty() || items.len() > max {
        return Err(invalid(format!(
            "{shown}: give 1 to {max} groups, got {}",
            items.len()
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let OptionValue::Int(g) = item else {
            return Err(type_error(Kind::Groups, shown, &item.describe()));
        };
        let g = u64::try_from(g)
            .ok()
            .filter(|g| SUPPORTED_GROUPS.contains(g))
            .ok_or_else(|| {
                invalid(format!(
                    "{shown}: DH group {g} is not supported (use 2, 5, 14 or 16)"
                ))
            })?;
        if out.contains(&g) {
            return Err(invalid(format!("{shown}: DH group {g} is listed twice")));
        }
        out.push(g);
    }
    Ok(out)
}

fn keys(shown: &str, items: Vec<OptionValue>) -> Result<Vec<String>, OptionError> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            OptionValue::Text(k) if k.is_empty() => Err(invalid(format!("{shown}[{i}] is empty"))),
            OptionValue::Text(k) => Ok(k),
            v => Err(invalid(format!(
                "{shown}[{i}] must be a string, got {}",
                v.describe()
            ))),
        })
        .collect()
}
