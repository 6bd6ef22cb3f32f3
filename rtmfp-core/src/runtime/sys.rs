//! Every `unsafe` call of the crate: the few system calls that neither
//! `std` nor `mio` offer.
//!
//! - `recvmmsg` / `sendmmsg` (Linux): many datagrams per system call, with
//!   optional UDP GSO (`UDP_SEGMENT`) on send.
//! - `IP_RECVERR` / `IPV6_RECVERR` and `MSG_ERRQUEUE`: ICMP errors on an
//!   unconnected UDP socket.
//! - `SO_RCVBUF` / `SO_SNDBUF`.
//! - `eventfd` (Linux) or a non-blocking `pipe` elsewhere: the event
//!   notification fd.
//!
//! Everything here is small, takes borrowed file descriptors, and returns
//! `io::Result`.  Callers outside this file never see a raw pointer.
#![allow(unsafe_code)]

use std::io;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Datagrams per `recvmmsg` / `sendmmsg` call.
pub const BATCH: usize = 32;

/// One received datagram of a batch.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    /// Bytes written into its slot.
    pub len: usize,
    /// Its source.
    pub from: SocketAddr,
    /// It was longer than the slot and was cut (`MSG_TRUNC`).
    pub truncated: bool,
}

/// One datagram (or, with `segment`, one GSO super-datagram) to send.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// Destination.
    pub to: SocketAddr,
    /// Payload, in pieces sent as one (gathered by the kernel, no copy).
    pub data: &'a [&'a [u8]],
    /// With UDP GSO: the kernel cuts the payload into datagrams of this
    /// size (the last may be shorter).
    pub segment: Option<u16>,
}

/// An `OwnedFd` from a system call's return value.
fn owned(fd: libc::c_int) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by a successful system call that
    // creates a descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A non-blocking, close-on-exec eventfd with counter 0 (Linux).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd takes no pointers; the result is checked by `owned`.
    owned(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })
}

/// Not available off Linux; callers fall back to [`pipe`].
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn eventfd() -> io::Result<OwnedFd> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// A non-blocking, close-on-exec pipe: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two c_ints for pipe to fill.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let read = owned(fds[0])?;
    let write = owned(fds[1])?;
    for fd in [fds[0], fds[1]] {
        // SAFETY: `fd` is an open descriptor owned by `read`/`write` above;
        // F_GETFL/F_SETFL/F_SETFD take integer arguments only.
        let ok = unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            flags >= 0
                && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
                && libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) == 0
        };
        if !ok {
            return Err(io::Error::last_os_error());
        }
    }
    Ok((read, write))
}

fn setsockopt_int(fd: RawFd, level: libc::c_int, name: libc::c_int, value: i32) -> io::Result<()> {
    let value: libc::c_int = value;
    // SAFETY: `value` lives across the call and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets `SO_RCVBUF` and `SO_SNDBUF`.  The kernel clamps them to its
/// maximum (`net.core.rmem_max`) unless the process may exceed it
/// (`CAP_NET_ADMIN`: `SO_RCVBUFFORCE`), which is tried first on Linux.
pub fn set_buffer_sizes(fd: RawFd, bytes: usize) -> io::Result<()> {
    let bytes = i32::try_from(bytes).unwrap_or(i32::MAX);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        if setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, bytes).is_ok()
            && setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, bytes).is_ok()
        {
            return Ok(());
        }
    }
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, bytes)?;
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, bytes)
}

/// Whether the kernel does UDP GSO (`UDP_SEGMENT`, Linux 4.18+) on this
/// socket.
/// Lowers the calling thread's scheduling priority (Linux: nice 10 for
/// this thread only), so that work on it yields the CPU to the I/O thread.
/// Best effort.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn lower_thread_priority() {
    // SAFETY: gettid has no preconditions; setpriority on our own thread
    // ID only changes this thread's nice value.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// Lowers the calling thread's priority where the system allows it per
/// thread (not here).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn lower_thread_priority() {}

#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn gso_supported(fd: RawFd) -> bool {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` live across the call; `len` holds the
    // size of `value`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            SOL_UDP,
            UDP_SEGMENT,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    rc == 0
}

/// No UDP GSO off Linux.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn gso_supported(_fd: RawFd) -> bool {
    false
}

/// Asks for ICMP errors on an unconnected UDP socket (`IP_RECVERR`,
/// `IPV6_RECVERR`): they are queued on the error queue and the next
/// receive or send reports the error once.  Without it Linux drops ICMP
/// errors for unconnected sockets.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn enable_recv_err(fd: RawFd, ipv6: bool) -> io::Result<()> {
    if ipv6 {
        setsockopt_int(fd, libc::SOL_IPV6, libc::IPV6_RECVERR, 1)?;
        // A dual-stack socket also gets IPv4 errors.
        let _ = setsockopt_int(fd, libc::SOL_IP, libc::IP_RECVERR, 1);
        Ok(())
    } else {
        setsockopt_int(fd, libc::SOL_IP, libc::IP_RECVERR, 1)
    }
}

/// Not available off Linux.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn enable_recv_err(_fd: RawFd, _ipv6: bool) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Reads up to `max` entries of the socket's error queue
/// (`MSG_ERRQUEUE`) and returns the `errno` each carries
/// (`ECONNREFUSED` for ICMP port unreachable, `EHOSTUNREACH`, ...) with
/// the destination of the datagram that drew it.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn drain_error_queue(fd: RawFd, max: usize) -> Vec<(i32, Option<SocketAddr>)> {
    let mut errors = Vec::new();
    for _ in 0..max {
        let mut data = [0u8; 64];
        // u64 storage keeps the control buffer aligned for cmsghdr.
        let mut control = [0u64; 64];
        let mut name = zeroed_storage();
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        // SAFETY: msghdr is plain old data; all-zero is a valid value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: every pointer in `msg` points at a live local buffer of
        // the length given next to it.
        let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
        if n < 0 {
            break;
        }
        let mut errno = 0;
        // SAFETY: the CMSG_* walk stays within `control`, whose valid
        // length the kernel wrote back into `msg.msg_controllen`; the
        // extended error is read unaligned from inside a cmsg.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                let c = &*cmsg;
                let is_err = (c.cmsg_level == libc::SOL_IP && c.cmsg_type == libc::IP_RECVERR)
                    || (c.cmsg_level == libc::SOL_IPV6 && c.cmsg_type == libc::IPV6_RECVERR);
                if is_err
                    && c.cmsg_len as usize
                        >= libc::CMSG_LEN(std::mem::size_of::<libc::sock_extended_err>() as u32)
                            as usize
                {
                    let ee: libc::sock_extended_err =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    errno = ee.ee_errno as i32;
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        // ip(7), IP_RECVERR: msg_name holds the original destination of
        // the datagram that drew the error.
        let destination = if msg.msg_namelen > 0 {
            from_storage(&name)
        } else {
            None
        };
        errors.push((errno, destination));
    }
    errors
}

/// Not available off Linux.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn drain_error_queue(_fd: RawFd, _max: usize) -> Vec<(i32, Option<SocketAddr>)> {
    Vec::new()
}

fn zeroed_storage() -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
    unsafe { std::mem::zeroed() }
}

/// Writes `addr` as a C socket address; returns its length.
fn to_storage(addr: &SocketAddr, storage: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                // SAFETY: sin_zero is a byte array; zero is its only value.
                ..unsafe { std::mem::zeroed() }
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned
            // for sockaddr_in.
            unsafe { std::ptr::write((storage as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_in6 is plain old data; all-zero is valid.
            let mut sin6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_flowinfo = a.flowinfo().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            // SAFETY: sockaddr_storage is larger than and suitably aligned
            // for sockaddr_in6.
            unsafe { std::ptr::write((storage as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

/// Reads a C socket address written by the kernel.
fn from_storage(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, and
            // sockaddr_storage is large enough and aligned for it.
            let sin: libc::sockaddr_in =
                unsafe { std::ptr::read((storage as *const libc::sockaddr_storage).cast()) };
            let ip = std::net::Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::from((ip, u16::from_be(sin.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6: libc::sockaddr_in6 =
                unsafe { std::ptr::read((storage as *const libc::sockaddr_storage).cast()) };
            let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                u32::from_be(sin6.sin6_flowinfo),
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// What one [`recv_batch`] call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// Datagrams written to `out` (those with a source address we read).
    pub count: usize,
    /// The call returned fewer datagrams than it asked for, so the
    /// socket's queue was empty at that instant.  With edge-triggered
    /// readiness (mio's epoll) a datagram arriving after it raises a new
    /// event, so the caller need not call again just to see `WouldBlock`:
    /// one system call less per wake-up on a quiet socket.
    pub drained: bool,
}

/// Receives up to [`BATCH`] datagrams with one `recvmmsg`.  `buf` is cut
/// into `out.len()` equal slots; datagram `i` lands in slot `i`.  Returns
/// how many arrived (at least one), or the error (`WouldBlock` when none
/// wait).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn recv_batch(fd: RawFd, buf: &mut [u8], out: &mut [Received]) -> io::Result<Batch> {
    let count = out.len().min(BATCH);
    if count == 0 {
        return Ok(Batch {
            count: 0,
            drained: false,
        });
    }
    let slot = buf.len() / count;
    let mut names = [zeroed_storage(); BATCH];
    let mut iovs: Vec<libc::iovec> = buf
        .chunks_mut(slot)
        .take(count)
        .map(|chunk| libc::iovec {
            iov_base: chunk.as_mut_ptr().cast(),
            iov_len: chunk.len(),
        })
        .collect();
    // SAFETY: mmsghdr is plain old data; all-zero is a valid value.
    let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for (i, m) in msgs.iter_mut().take(count).enumerate() {
        m.msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
        m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        m.msg_hdr.msg_iov = &mut iovs[i];
        m.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: `msgs[..count]` point at `names` and `iovs`, which point
    // into `buf`; all outlive the call and the lengths are theirs.
    let n = unsafe {
        libc::recvmmsg(
            fd,
            msgs.as_mut_ptr(),
            count as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    let mut got = 0;
    for i in 0..n {
        let Some(from) = from_storage(&names[i]) else {
            continue;
        };
        out[got] = Received {
            len: (msgs[i].msg_len as usize).min(slot),
            from,
            truncated: msgs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
        };
        if got != i {
            buf.copy_within(i * slot..i * slot + out[got].len, got * slot);
        }
        got += 1;
    }
    Ok(Batch {
        count: got,
        drained: n < count,
    })
}

/// Off Linux there is no batch receive; the caller uses `recv_from`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn recv_batch(_fd: RawFd, _buf: &mut [u8], _out: &mut [Received]) -> io::Result<Batch> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// `SOL_UDP` / `UDP_SEGMENT` (Linux 4.18+), not in every libc release.
#[cfg(any(target_os = "linux", target_os = "android"))]
const SOL_UDP: libc::c_int = 17;
#[cfg(any(target_os = "linux", target_os = "android"))]
const UDP_SEGMENT: libc::c_int = 103;

/// Sends up to [`BATCH`] datagrams with one `sendmmsg`.  Returns how many
/// left (at least one), or the error of the first.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn send_batch(fd: RawFd, msgs_in: &[Outgoing<'_>]) -> io::Result<usize> {
    let count = msgs_in.len().min(BATCH);
    if count == 0 {
        return Ok(0);
    }
    // Control space for one UDP_SEGMENT cmsg (a u16) per message, as u64s
    // so that every cmsghdr is aligned.
    const CONTROL_WORDS: usize = 4;
    let mut names = [zeroed_storage(); BATCH];
    let mut controls = [[0u64; CONTROL_WORDS]; BATCH];
    // Every message's pieces, in order; message i's are
    // `iovs[starts[i]..starts[i] + msgs_in[i].data.len()]`.
    let mut iovs: Vec<libc::iovec> = Vec::new();
    let mut starts = [0usize; BATCH];
    for (i, m) in msgs_in[..count].iter().enumerate() {
        starts[i] = iovs.len();
        iovs.extend(m.data.iter().map(|piece| libc::iovec {
            iov_base: piece.as_ptr() as *mut libc::c_void,
            iov_len: piece.len(),
        }));
    }
    // SAFETY: mmsghdr is plain old data; all-zero is a valid value.
    let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for (i, m) in msgs.iter_mut().take(count).enumerate() {
        let len = to_storage(&msgs_in[i].to, &mut names[i]);
        m.msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
        m.msg_hdr.msg_namelen = len;
        m.msg_hdr.msg_iov = iovs[starts[i]..].as_mut_ptr();
        m.msg_hdr.msg_iovlen = msgs_in[i].data.len() as _;
        if let Some(segment) = msgs_in[i].segment {
            m.msg_hdr.msg_control = controls[i].as_mut_ptr().cast();
            // SAFETY: CMSG_SPACE is arithmetic on its argument.
            let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<u16>() as u32) } as usize;
            debug_assert!(space <= CONTROL_WORDS * 8);
            m.msg_hdr.msg_controllen = space as _;
            // SAFETY: msg_control points at `controls[i]`, which holds
            // `space` bytes, so the first cmsghdr and its u16 fit.
            unsafe {
                let cmsg = libc::CMSG_FIRSTHDR(&m.msg_hdr);
                (*cmsg).cmsg_level = SOL_UDP;
                (*cmsg).cmsg_type = UDP_SEGMENT;
                (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<u16>() as u32) as _;
                std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), segment);
            }
        }
    }
    // SAFETY: `msgs[..count]` point at `names`, `controls` and `iovs`,
    // which point at the callers' payloads; all outlive the call.  The
    // kernel only reads the payloads despite the `*mut` in iovec.
    let n = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), count as libc::c_uint, 0) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Off Linux there is no batch send; the caller uses `send_to`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn send_batch(_fd: RawFd, _msgs: &[Outgoing<'_>]) -> io::Result<usize> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn batch_send_with_gso_arrives_as_separate_datagrams() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        // Three 100-byte segments and a 40-byte tail gathered from two
        // pieces that split the second segment, then a plain datagram, in
        // one sendmmsg.
        let big: Vec<u8> = (0..340u32).map(|i| (i / 100) as u8).collect();
        let gso = gso_supported(tx.as_raw_fd());
        let msgs = [
            Outgoing {
                to,
                data: &[&big[..150], &big[150..]],
                segment: gso.then_some(100),
            },
            Outgoing {
                to,
                data: &[b"plain"],
                segment: None,
            },
        ];
        assert_eq!(send_batch(tx.as_raw_fd(), &msgs).unwrap(), 2);
        let mut buf = vec![0u8; 2048 * BATCH];
        let mut out = [Received {
            len: 0,
            from: to,
            truncated: false,
        }; BATCH];
        let mut lens = Vec::new();
        for _ in 0..1000 {
            match recv_batch(rx.as_raw_fd(), &mut buf, &mut out) {
                Ok(Batch { count: n, drained }) => {
                    assert!(drained, "fewer than BATCH arrived, so the queue was empty");
                    for (k, r) in out[..n].iter().enumerate() {
                        assert_eq!(r.from, tx.local_addr().unwrap());
                        let slot = &buf[k * 2048..k * 2048 + r.len];
                        if r.len == 5 {
                            assert_eq!(slot, b"plain");
                        } else if gso {
                            assert!(slot.iter().all(|&b| b == slot[0]));
                        }
                        lens.push(r.len);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if lens.len() >= if gso { 5 } else { 2 } {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(e) => panic!("{e}"),
            }
        }
        if gso {
            assert_eq!(lens, vec![100, 100, 100, 40, 5]);
        } else {
            assert_eq!(lens, vec![340, 5]);
        }
    }

    #[test]
    fn socket_addresses_round_trip_through_c_storage() {
        for a in [
            "127.0.0.1:1935",
            "[::1]:65535",
            "[fe80::1%3]:9",
            "0.0.0.0:0",
            "[2001:db8::7]:443",
        ] {
            let addr: SocketAddr = a.parse().unwrap();
            let mut s = zeroed_storage();
            to_storage(&addr, &mut s);
            assert_eq!(from_storage(&s), Some(addr));
        }
    }
}
