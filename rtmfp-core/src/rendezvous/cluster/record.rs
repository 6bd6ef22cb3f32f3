//! The text forms the cluster keeps in its store: one peer's record, one
//! node's record and one introduction request.  Pure functions, so that
//! a store implementation only moves strings, and malformed text read
//! back from the store is rejected here (never a panic).

use crate::crypto::PeerId;
use crate::flash::peer_id::{from_hex, to_hex};
use std::net::SocketAddr;

/// A peer held by another node, as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePeer {
    /// The node holding its session.
    pub node: String,
    /// Its address as that node sees it (reflexive).
    pub observed: SocketAddr,
    /// Its `setPeerInfo` addresses (RFC 7425 §5.3.3).
    pub addresses: Vec<SocketAddr>,
}

/// A live node, as the redirector reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// Connected clients.
    pub load: u64,
    /// Where clients reach it.
    pub addresses: Vec<SocketAddr>,
}

fn join(addresses: &[SocketAddr]) -> String {
    let list: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
    list.join(",")
}

fn split(list: &str) -> Option<Vec<SocketAddr>> {
    if list.is_empty() {
        return Some(Vec::new());
    }
    list.split(',').map(|a| a.parse().ok()).collect()
}

/// Whether `node` can name a node (it is put in keys and records).
pub fn valid_node_name(node: &str) -> bool {
    !node.is_empty()
        && node.len() <= 64
        && node
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

impl RemotePeer {
    /// `node|observed|addr,addr`.
    pub fn encode(&self) -> String {
        format!("{}|{}|{}", self.node, self.observed, join(&self.addresses))
    }

    /// The inverse of [`RemotePeer::encode`]; `None` if malformed.
    pub fn decode(text: &str) -> Option<RemotePeer> {
        let mut parts = text.splitn(3, '|');
        let node = parts.next()?;
        let observed = parts.next()?.parse().ok()?;
        let addresses = split(parts.next()?)?;
        valid_node_name(node).then(|| RemotePeer {
            node: node.to_owned(),
            observed,
            addresses,
        })
    }
}

impl NodeRecord {
    /// `load|addr,addr`.
    pub fn encode(&self) -> String {
        format!("{}|{}", self.load, join(&self.addresses))
    }

    /// The inverse of [`NodeRecord::encode`]; `None` if malformed.
    pub fn decode(text: &str) -> Option<NodeRecord> {
        let (load, list) = text.split_once('|')?;
        Some(NodeRecord {
            load: load.parse().ok()?,
            addresses: split(list)?,
        })
    }
}

/// An introduction request for the node holding `target`:
/// `target-hex from epd-hex tag-hex`.
pub fn encode_introduction(target: &PeerId, from: SocketAddr, epd: &[u8], tag: &[u8]) -> String {
    format!("{} {from} {} {}", to_hex(target), to_hex(epd), to_hex(tag))
}

/// The inverse of [`encode_introduction`]: (target, from, EPD, tag).
pub fn decode_introduction(text: &str) -> Option<(PeerId, SocketAddr, Vec<u8>, Vec<u8>)> {
    let mut parts = text.split(' ');
    let target = from_hex(parts.next()?)?;
    let from = parts.next()?.parse().ok()?;
    let epd = bytes_from_hex(parts.next()?)?;
    let tag = bytes_from_hex(parts.next()?)?;
    if parts.next().is_some() || epd.len() > 512 || tag.len() > 255 {
        return None;
    }
    Some((target, from, epd, tag))
}

fn bytes_from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn peer_records_round_trip_and_reject_garbage() {
        let p = RemotePeer {
            node: "n-1a2b".into(),
            observed: a("198.51.100.7:40000"),
            addresses: vec![a("10.0.0.2:5000"), a("[2001:db8::1]:5001")],
        };
        let text = p.encode();
        assert_eq!(
            text,
            "n-1a2b|198.51.100.7:40000|10.0.0.2:5000,[2001:db8::1]:5001"
        );
        assert_eq!(RemotePeer::decode(&text), Some(p.clone()));
        let bare = RemotePeer {
            addresses: vec![],
            ..p
        };
        assert_eq!(RemotePeer::decode(&bare.encode()), Some(bare));
        for bad in [
            "",
            "n|x|",
            "n|1.2.3.4:5|bad",
            "|1.2.3.4:5|",
            "a b|1.2.3.4:5|",
            "n|1.2.3.4:5",
        ] {
            assert_eq!(RemotePeer::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn node_records_round_trip() {
        let n = NodeRecord {
            load: 12,
            addresses: vec![a("127.0.0.1:1935")],
        };
        assert_eq!(n.encode(), "12|127.0.0.1:1935");
        assert_eq!(NodeRecord::decode(&n.encode()), Some(n));
        assert_eq!(NodeRecord::decode("x|"), None);
        assert_eq!(NodeRecord::decode("3"), None);
    }

    #[test]
    fn introductions_round_trip_and_reject_garbage() {
        let text = encode_introduction(&[0xab; 32], a("192.0.2.1:7"), &[0x21, 0x0f], &[1, 2]);
        assert_eq!(
            decode_introduction(&text),
            Some(([0xab; 32], a("192.0.2.1:7"), vec![0x21, 0x0f], vec![1, 2]))
        );
        assert!(text.ends_with(" 192.0.2.1:7 210f 0102"));
        for bad in ["", "zz 1.2.3.4:5 00 00", &text[..text.len() - 1], "é"] {
            assert_eq!(decode_introduction(bad), None, "{bad:?}");
        }
        assert_eq!(decode_introduction(&format!("{text} 00")), None);
    }

    #[test]
    fn node_names() {
        assert!(valid_node_name("node-1.a_b"));
        assert!(!valid_node_name(""));
        assert!(!valid_node_name("a|b"));
        assert!(!valid_node_name(&"x".repeat(65)));
    }
}
