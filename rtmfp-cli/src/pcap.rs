//! The UDP datagrams of a classic pcap capture (what `tcpdump -w` writes):
//! link types null/loopback (0), Ethernet (1), raw IP (101), Linux cooked
//! v1 (113) and v2 (276), IPv4 (228) and IPv6 (229); IPv4 and IPv6, not
//! fragmented.  Anything else in the capture is skipped and counted.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One UDP datagram of the capture.
#[derive(Debug, Clone, PartialEq)]
pub struct Datagram {
    /// Its frame's number in the capture, from 1 (as Wireshark counts).
    pub frame: usize,
    /// Capture time, seconds since the epoch.
    pub time: f64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: Vec<u8>,
}

/// What a capture held.
#[derive(Debug, Default)]
pub struct Capture {
    pub datagrams: Vec<Datagram>,
    /// Frames that were not whole UDP datagrams.
    pub skipped: usize,
}

fn u16_be(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// Parses a classic pcap file.
pub fn parse(data: &[u8]) -> Result<Capture, String> {
    let magic = data
        .get(..4)
        .ok_or("not a pcap file: shorter than its header")?;
    let (little, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
        [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
        [0x0a, 0x0d, 0x0d, 0x0a] => {
            return Err(
                "a pcapng file: save it as classic pcap (`editcap -F pcap IN OUT`, \
                 or `tcpdump -w`)"
                    .into(),
            )
        }
        _ => return Err("not a pcap file (bad magic number)".into()),
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let linktype = u32_at(20).ok_or("not a pcap file: truncated header")?;
    if !matches!(linktype, 0 | 1 | 101 | 113 | 228 | 229 | 276) {
        return Err(format!("link type {linktype} is not supported"));
    }
    let mut capture = Capture::default();
    let mut at = 24;
    let mut frame = 0;
    while at + 16 <= data.len() {
        frame += 1;
        let (secs, frac, incl) = match (u32_at(at), u32_at(at + 4), u32_at(at + 8)) {
            (Some(s), Some(f), Some(i)) => (s, f, i as usize),
            _ => break,
        };
        let Some(bytes) = data.get(at + 16..at + 16 + incl) else {
            capture.skipped += 1;
            break;
        };
        at += 16 + incl;
        let time = f64::from(secs) + f64::from(frac) / if nanos { 1e9 } else { 1e6 };
        match link_payload(linktype, bytes).and_then(udp) {
            Some((src, dst, payload)) => capture.datagrams.push(Datagram {
                frame,
                time,
                src,
                dst,
                payload: payload.to_vec(),
            }),
            None => capture.skipped += 1,
        }
    }
    Ok(capture)
}

/// The IP packet inside a frame of `linktype`.
fn link_payload(linktype: u32, frame: &[u8]) -> Option<&[u8]> {
    let (skip, ethertype) = match linktype {
        0 => return frame.get(4..),
        1 => (14, u16_be(frame, 12)?),
        101 | 228 | 229 => return Some(frame),
        113 => (16, u16_be(frame, 14)?),
        276 => (20, u16_be(frame, 0)?),
        _ => return None,
    };
    matches!(ethertype, 0x0800 | 0x86dd).then(|| frame.get(skip..))?
}

/// Source, destination and payload of a UDP datagram in an IP packet.
fn udp(ip: &[u8]) -> Option<(SocketAddr, SocketAddr, &[u8])> {
    let (src, dst, udp) = match ip.first()? >> 4 {
        4 => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let flags_fragment = u16_be(ip, 6)?;
            // Protocol UDP, not a fragment (MF clear, offset 0).
            if *ip.get(9)? != 17 || flags_fragment & 0x3fff != 0 {
                return None;
            }
            let total = usize::from(u16_be(ip, 2)?).min(ip.len());
            let src: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            (
                IpAddr::V4(Ipv4Addr::from(src)),
                IpAddr::V4(Ipv4Addr::from(dst)),
                ip.get(ihl..total)?,
            )
        }
        6 => {
            // No extension headers: next header UDP.
            if *ip.get(6)? != 17 {
                return None;
            }
            let len = usize::from(u16_be(ip, 4)?);
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            (
                IpAddr::V6(Ipv6Addr::from(src)),
                IpAddr::V6(Ipv6Addr::from(dst)),
                ip.get(40..40 + len)?,
            )
        }
        _ => return None,
    };
    let sport = u16_be(udp, 0)?;
    let dport = u16_be(udp, 2)?;
    let len = usize::from(u16_be(udp, 4)?);
    let payload = udp.get(8..len)?;
    Some((
        SocketAddr::new(src, sport),
        SocketAddr::new(dst, dport),
        payload,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Source address and port, destination address and port, payload.
    type Udp<'a> = (&'a [u8; 4], u16, &'a [u8; 4], u16, &'a [u8]);

    /// A classic little-endian pcap of raw IPv4 frames.
    fn raw_ipv4_capture(datagrams: &[Udp<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in [0xa1b2c3d4u32, 0x0004_0002, 0, 0, 65535, 101] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        // The second word above packs version 2.4 as two u16s.
        out[4..8].copy_from_slice(&[2, 0, 4, 0]);
        for (i, (src, sport, dst, dport, payload)) in datagrams.iter().enumerate() {
            let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
            ip.extend_from_slice(*src);
            ip.extend_from_slice(*dst);
            let total = (20 + 8 + payload.len()) as u16;
            ip[2..4].copy_from_slice(&total.to_be_bytes());
            ip.extend_from_slice(&sport.to_be_bytes());
            ip.extend_from_slice(&dport.to_be_bytes());
            ip.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            ip.extend_from_slice(&[0, 0]);
            ip.extend_from_slice(payload);
            for v in [i as u32 + 1, 500_000, ip.len() as u32, ip.len() as u32] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&ip);
        }
        out
    }

    #[test]
    fn reads_udp_datagrams_of_a_raw_ip_capture() {
        let pcap = raw_ipv4_capture(&[
            (&[127, 0, 0, 1], 5000, &[127, 0, 0, 2], 1935, b"hello"),
            (&[127, 0, 0, 2], 1935, &[127, 0, 0, 1], 5000, b""),
        ]);
        let c = parse(&pcap).unwrap();
        assert_eq!(c.skipped, 0);
        assert_eq!(c.datagrams.len(), 2);
        let d = &c.datagrams[0];
        assert_eq!(d.frame, 1);
        assert_eq!(d.src, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(d.dst, "127.0.0.2:1935".parse().unwrap());
        assert_eq!(d.payload, b"hello");
        assert!((d.time - 1.5).abs() < 1e-9);
        assert!(c.datagrams[1].payload.is_empty());
    }

    #[test]
    fn says_what_is_wrong_with_other_files() {
        assert!(parse(b"").unwrap_err().contains("shorter"));
        assert!(parse(&[0x0a, 0x0d, 0x0d, 0x0a, 0, 0])
            .unwrap_err()
            .contains("pcapng"));
        assert!(parse(b"GIF89a..........................")
            .unwrap_err()
            .contains("magic"));
        // Truncated records are cut, not read past.
        let mut pcap = raw_ipv4_capture(&[(&[1, 1, 1, 1], 1, &[2, 2, 2, 2], 2, b"x")]);
        pcap.truncate(pcap.len() - 3);
        assert_eq!(parse(&pcap).unwrap().datagrams.len(), 0);
    }
}
