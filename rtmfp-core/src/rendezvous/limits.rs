//! The limits a server puts on what one client may make it hold, and
//! their valid range, decided here once: every adapter (C, Python, Node,
//! the CLI) checks its options with [`Limit::check`] and words the error
//! with its own option name.

use std::fmt;

/// The least value of every [`Limit`].
pub const LIMIT_MIN: usize = 1;
/// The most value of every [`Limit`].
pub const LIMIT_MAX: usize = 65535;

/// A limit a hostile client cannot pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// [`ServerConfig::max_streams_per_client`](super::ServerConfig::max_streams_per_client).
    StreamsPerClient,
    /// [`ServerConfig::max_names_per_client`](super::ServerConfig::max_names_per_client).
    NamesPerClient,
    /// [`FlowLimits::max_recv_flows`](crate::flow::FlowLimits::max_recv_flows):
    /// receiving flows of one session.
    FlowsPerSession,
}

impl Limit {
    /// The limit's name in Rust, C and Python (`max_streams_per_client`,
    /// `max_names_per_client`, `max_flows_per_session`).
    pub fn name(self) -> &'static str {
        match self {
            Limit::StreamsPerClient => "max_streams_per_client",
            Limit::NamesPerClient => "max_names_per_client",
            Limit::FlowsPerSession => "max_flows_per_session",
        }
    }

    /// `value` if it is in [`LIMIT_MIN`]`..=`[`LIMIT_MAX`]: zero would
    /// refuse every stream, name or flow, and more than 65535 is no limit.
    pub fn check(self, value: usize) -> Result<usize, LimitError> {
        self.check_int(value as i128)
    }

    /// [`Limit::check`] for adapters whose numbers may be negative (a
    /// Python or JavaScript integer), so that the error names the value
    /// given.
    pub fn check_int(self, value: i128) -> Result<usize, LimitError> {
        if (LIMIT_MIN as i128..=LIMIT_MAX as i128).contains(&value) {
            Ok(value as usize)
        } else {
            Err(LimitError { limit: self, value })
        }
    }
}

/// A limit's value out of range.  Displays as
/// "max_streams_per_client must be from 1 to 65535, got 0";
/// [`LimitError::reason`] is the part after the name, for adapters whose
/// option has another name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitError {
    /// Which limit.
    pub limit: Limit,
    /// The value given.
    pub value: i128,
}

impl LimitError {
    /// "must be from 1 to 65535, got 0".
    pub fn reason(&self) -> String {
        format!(
            "must be from {LIMIT_MIN} to {LIMIT_MAX}, got {}",
            self.value
        )
    }
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.limit.name(), self.reason())
    }
}

impl std::error::Error for LimitError {}

impl From<LimitError> for std::io::Error {
    fn from(e: LimitError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_absurd_values_are_refused_with_the_range() {
        assert_eq!(Limit::StreamsPerClient.check(1), Ok(1));
        assert_eq!(Limit::NamesPerClient.check(LIMIT_MAX), Ok(LIMIT_MAX));
        let e = Limit::StreamsPerClient.check(0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "max_streams_per_client must be from 1 to 65535, got 0"
        );
        let e = Limit::FlowsPerSession.check(65536).unwrap_err();
        assert_eq!(e.reason(), "must be from 1 to 65535, got 65536");
        let e = Limit::NamesPerClient.check_int(-3).unwrap_err();
        assert_eq!(e.reason(), "must be from 1 to 65535, got -3");
    }

    #[test]
    fn a_server_handle_refuses_to_start_out_of_range() {
        use crate::rendezvous::{Hooks, ServerConfig, ServerHandle};
        let bind = ["127.0.0.1:0".parse().unwrap()];
        let config = ServerConfig {
            max_names_per_client: 0,
            ..ServerConfig::default()
        };
        let Err(e) = ServerHandle::start(&bind, config, Hooks::default()) else {
            panic!("a server with max_names_per_client 0 started");
        };
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(
            e.to_string(),
            "max_names_per_client must be from 1 to 65535, got 0"
        );
    }
}
