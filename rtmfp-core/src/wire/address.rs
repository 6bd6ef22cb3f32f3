//! Internet socket addresses with an origin tag (RFC 7016 §2.1.5).

use super::{reader::Reader, Result};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The IP6 flag of the address flags byte.
const FLAG_IP6: u8 = 0x80;
/// The ORI field of the address flags byte.
const ORIGIN_MASK: u8 = 0x03;

/// Where an address came from (the ORI field, §2.1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressOrigin {
    /// 0: unknown, unspecified or other.
    Unknown,
    /// 1: reported by its owner as a local interface address.
    Local,
    /// 2: observed as the source of a received packet (reflexive).
    Reflexive,
    /// 3: a relay, proxy or introducer.
    Relay,
}

impl AddressOrigin {
    fn from_bits(bits: u8) -> Self {
        match bits & ORIGIN_MASK {
            0 => AddressOrigin::Unknown,
            1 => AddressOrigin::Local,
            2 => AddressOrigin::Reflexive,
            _ => AddressOrigin::Relay,
        }
    }

    fn bits(self) -> u8 {
        match self {
            AddressOrigin::Unknown => 0,
            AddressOrigin::Local => 1,
            AddressOrigin::Reflexive => 2,
            AddressOrigin::Relay => 3,
        }
    }
}

/// An IPv4 or IPv6 socket address tagged with its origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address {
    /// The socket address.
    pub addr: SocketAddr,
    /// Where the address came from.
    pub origin: AddressOrigin,
}

impl Address {
    /// An address with the given origin.
    pub fn new(addr: SocketAddr, origin: AddressOrigin) -> Self {
        Address { addr, origin }
    }

    /// Reads an address; reserved flag bits are ignored (§2).
    pub fn read(reader: &mut Reader<'_>) -> Result<Self> {
        let flags = reader.u8()?;
        let ip = if flags & FLAG_IP6 != 0 {
            let b = reader.bytes(16)?;
            let mut octets = [0u8; 16];
            octets.copy_from_slice(b);
            IpAddr::V6(Ipv6Addr::from(octets))
        } else {
            let b = reader.bytes(4)?;
            IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        };
        let port = reader.u16()?;
        Ok(Address {
            addr: SocketAddr::new(ip, port),
            origin: AddressOrigin::from_bits(flags),
        })
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let origin = self.origin.bits();
        match self.addr.ip() {
            IpAddr::V4(ip) => {
                out.push(origin);
                out.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                out.push(FLAG_IP6 | origin);
                out.extend_from_slice(&ip.octets());
            }
        }
        out.extend_from_slice(&self.addr.port().to_be_bytes());
    }

    /// Length of the encoding: 7 bytes for IPv4, 19 for IPv6.
    pub fn encoded_len(&self) -> usize {
        if self.addr.is_ipv4() {
            7
        } else {
            19
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::WireError;
    use proptest::prelude::*;

    #[test]
    fn ipv4_layout() {
        let a = Address::new("192.0.2.1:1935".parse().unwrap(), AddressOrigin::Reflexive);
        let mut out = Vec::new();
        a.encode(&mut out);
        assert_eq!(out, [0x02, 192, 0, 2, 1, 0x07, 0x8f]);
        assert_eq!(Address::read(&mut Reader::new(&out)), Ok(a));
    }

    #[test]
    fn ipv6_layout_and_reserved_bits_ignored() {
        let mut bytes = vec![0x80 | 0x7c | 0x01];
        bytes.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        bytes.extend_from_slice(&[0xc3, 0x51]);
        let a = Address::read(&mut Reader::new(&bytes)).unwrap();
        assert_eq!(a.addr, "[2001:db8::1]:50001".parse().unwrap());
        assert_eq!(a.origin, AddressOrigin::Local);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Address::read(&mut Reader::new(&[0x80, 1, 2, 3, 4, 5, 6])),
            Err(WireError::Truncated)
        );
    }

    fn any_address() -> impl Strategy<Value = Address> {
        let origin = prop_oneof![
            Just(AddressOrigin::Unknown),
            Just(AddressOrigin::Local),
            Just(AddressOrigin::Reflexive),
            Just(AddressOrigin::Relay),
        ];
        (any::<SocketAddr>(), origin).prop_map(|(addr, origin)| {
            // Flow info and scope IDs are not carried by §2.1.5.
            let addr = SocketAddr::new(addr.ip(), addr.port());
            Address::new(addr, origin)
        })
    }

    proptest! {
        #[test]
        fn round_trip(a in any_address()) {
            let mut out = Vec::new();
            a.encode(&mut out);
            prop_assert_eq!(out.len(), a.encoded_len());
            prop_assert_eq!(Address::read(&mut Reader::new(&out)), Ok(a));
        }
    }
}
