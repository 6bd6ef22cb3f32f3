//! `rtmfp://` URIs as Flash uses them (RFC 7425 §6.1, §5.3.1).
//!
//! `rtmfp://host[:port]/app[/instance...][#stream]`: the authority names
//! the server (default UDP port 1935), the path is the application (the
//! connect command object's `app`, without the leading `/`), and the
//! fragment, if any, is a stream name for tools that play or publish one.
//! The developer key of a rendezvous service is the last path segment
//! (`rtmfp://p2p.example/app/DEVELOPER-KEY`).

use std::fmt;

/// Default UDP port of `rtmfp:` URIs (RFC 7425 §6.1).
pub const DEFAULT_PORT: u16 = 1935;

/// A parsed `rtmfp://` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmfpUri {
    /// The host: a name, an IPv4 literal or an IPv6 literal (without
    /// brackets).
    pub host: String,
    /// The UDP port.
    pub port: u16,
    /// The path without its leading `/`, such as `"app/KEY"`; the
    /// connect command's `app`.
    pub app: String,
    /// The fragment (after `#`), if any: a stream name.
    pub fragment: Option<String>,
    /// The URI without user information and fragment: the connect
    /// command's `tcUrl` and the EPD's Ancillary Data (RFC 7425 §5.3.1).
    pub tc_url: String,
}

/// Why a URI is not an `rtmfp://` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriError(pub String);

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not an rtmfp://host[:port]/app URI: {:?}", self.0)
    }
}

impl std::error::Error for UriError {}

impl RtmfpUri {
    /// Parses `rtmfp://[user@]host[:port][/path][?query][#fragment]`.
    pub fn parse(uri: &str) -> Result<RtmfpUri, UriError> {
        let bad = || UriError(uri.to_owned());
        let rest = uri.strip_prefix("rtmfp://").ok_or_else(bad)?;
        let (rest, fragment) = match rest.split_once('#') {
            Some((r, f)) => (r, Some(f.to_owned()).filter(|f| !f.is_empty())),
            None => (rest, None),
        };
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_query) = rest.split_at(auth_end);
        // User information is never sent (RFC 3986 §3.2.1 deprecates it).
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        if authority.is_empty() {
            return Err(bad());
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None if after.is_empty() => DEFAULT_PORT,
                None => return Err(bad()),
            };
            (host.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad())?),
                None => (authority.to_owned(), DEFAULT_PORT),
            }
        };
        if host.is_empty() {
            return Err(bad());
        }
        let path = path_query.split('?').next().unwrap_or("");
        let app = path.trim_start_matches('/').to_owned();
        let tc_url = format!("rtmfp://{authority}{path_query}");
        Ok(RtmfpUri {
            host,
            port,
            app,
            fragment,
            tc_url,
        })
    }

    /// The developer key: the last non-empty path segment, if any.
    pub fn developer_key(&self) -> Option<&str> {
        developer_key_of(&self.app)
    }
}

/// The last non-empty `/`-separated segment of an application path (the
/// developer key convention of rendezvous services).
pub fn developer_key_of(app: &str) -> Option<&str> {
    app.split('/').rev().find(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let u = RtmfpUri::parse("rtmfp://p2p.example:19350/app/KEY123#live").unwrap();
        assert_eq!(u.host, "p2p.example");
        assert_eq!(u.port, 19350);
        assert_eq!(u.app, "app/KEY123");
        assert_eq!(u.fragment.as_deref(), Some("live"));
        assert_eq!(u.tc_url, "rtmfp://p2p.example:19350/app/KEY123");
        assert_eq!(u.developer_key(), Some("KEY123"));

        let u = RtmfpUri::parse("rtmfp://user:pw@[::1]/k/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", DEFAULT_PORT));
        assert_eq!(u.tc_url, "rtmfp://[::1]/k/");
        assert_eq!(u.developer_key(), Some("k"));

        let u = RtmfpUri::parse("rtmfp://h").unwrap();
        assert_eq!(u.app, "");
        assert_eq!(u.developer_key(), None);
        assert_eq!(u.tc_url, "rtmfp://h");

        for bad in [
            "rtmfp:",
            "rtmfp://",
            "http://h/a",
            "rtmfp://h:x/",
            "rtmfp://[::1/",
        ] {
            assert!(RtmfpUri::parse(bad).is_err(), "{bad}");
        }
    }
}
