//! Two network namespaces joined by a veth pair whose first end is shaped
//! by `tbf`, for tests that need a real queue in the path (loopback has
//! none).  Root and iproute2 only; removed on drop.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;

/// Namespaces `A` (10.231.0.1, egress shaped) and `B` (10.231.0.2).
pub struct ShapedLink {
    a: String,
    b: String,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

impl ShapedLink {
    /// Builds the link with A's egress limited to `rate` (tc syntax, such
    /// as "40mbit"); `None` when not root or a command fails.
    pub fn new(rate: &str) -> Option<ShapedLink> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return None;
        }
        let id = std::process::id();
        let link = ShapedLink {
            a: format!("rtmfp-qa-{id}"),
            b: format!("rtmfp-qb-{id}"),
        };
        let (a, b) = (link.a.as_str(), link.b.as_str());
        let ok = ip(&["netns", "add", a])
            && ip(&["netns", "add", b])
            && ip(&[
                "link", "add", "qa", "netns", a, "type", "veth", "peer", "name", "qb", "netns", b,
            ])
            && ip(&["-n", a, "addr", "add", "10.231.0.1/24", "dev", "qa"])
            && ip(&["-n", b, "addr", "add", "10.231.0.2/24", "dev", "qb"])
            && ip(&["-n", a, "link", "set", "qa", "up"])
            && ip(&["-n", b, "link", "set", "qb", "up"])
            && Command::new("ip")
                .args([
                    "netns", "exec", a, "tc", "qdisc", "add", "dev", "qa", "root",
                ])
                .args(["tbf", "rate", rate, "burst", "32kb", "limit", "4mb"])
                .status()
                .is_ok_and(|s| s.success());
        ok.then_some(link)
    }

    /// Runs `f` with this thread in namespace A (sockets made there stay
    /// there), then returns the thread to its own namespace.
    pub fn in_a<R>(&self, f: impl FnOnce() -> R) -> R {
        in_netns(&self.a, f)
    }

    /// Like [`ShapedLink::in_a`], in namespace B.
    pub fn in_b<R>(&self, f: impl FnOnce() -> R) -> R {
        in_netns(&self.b, f)
    }
}

fn in_netns<R>(name: &str, f: impl FnOnce() -> R) -> R {
    let own = File::open("/proc/thread-self/ns/net").expect("own namespace");
    let target = File::open(format!("/var/run/netns/{name}")).expect("namespace");
    // SAFETY: setns on valid namespace fds changes only this thread's
    // network namespace; it is restored below before returning.
    assert_eq!(
        unsafe { libc::setns(target.as_raw_fd(), libc::CLONE_NEWNET) },
        0
    );
    let out = f();
    assert_eq!(
        unsafe { libc::setns(own.as_raw_fd(), libc::CLONE_NEWNET) },
        0
    );
    out
}

impl Drop for ShapedLink {
    fn drop(&mut self) {
        ip(&["netns", "del", &self.a]);
        ip(&["netns", "del", &self.b]);
    }
}
