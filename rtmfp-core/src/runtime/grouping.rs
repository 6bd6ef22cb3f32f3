//! Send order for UDP GSO: the endpoint hands out datagrams round-robin
//! among its ready sessions (fair within a rank), so a fan-out to many
//! players alternates destinations and no two neighbours share one.  GSO
//! (`UDP_SEGMENT`) carries only runs to one destination, so before a send
//! the queue is regrouped: each destination's datagrams next to each
//! other, destinations in the order they first appear, every
//! destination's datagrams in their own order.  All of them go out in the
//! same few system calls anyway, so the fairness between sessions is
//! unchanged, and no session's datagrams are reordered.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

/// Regroups send queues by destination, reusing its scratch space.
#[derive(Debug, Default)]
pub(crate) struct Grouper {
    group_of: HashMap<SocketAddr, u32>,
    keys: Vec<u32>,
    items: Vec<(u32, (SocketAddr, Vec<u8>))>,
}

impl Grouper {
    /// Puts the datagrams of each destination of `queue` next to each
    /// other (a stable grouping: see the module's documentation).
    pub fn group(&mut self, queue: &mut VecDeque<(SocketAddr, Vec<u8>)>) {
        // Short queues, and the common case of one destination (a bulk
        // transfer, a client): nothing to regroup, no hashing.
        let first = match queue.front() {
            Some((to, _)) if queue.len() >= 3 => *to,
            _ => return,
        };
        if queue.iter().all(|(to, _)| *to == first) {
            return;
        }
        self.group_of.clear();
        self.keys.clear();
        for (to, _) in queue.iter() {
            let next = self.group_of.len() as u32;
            self.keys.push(*self.group_of.entry(*to).or_insert(next));
        }
        // Already grouped (one destination, or runs in order): keep it.
        if self.keys.windows(2).all(|w| w[0] <= w[1]) {
            return;
        }
        self.items.clear();
        self.items
            .extend(self.keys.iter().copied().zip(queue.drain(..)));
        // Stable: each destination's datagrams keep their order.
        self.items.sort_by_key(|(group, _)| *group);
        queue.extend(self.items.drain(..).map(|(_, item)| item));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn queue(items: &[(u16, u8)]) -> VecDeque<(SocketAddr, Vec<u8>)> {
        items.iter().map(|&(p, b)| (addr(p), vec![b])).collect()
    }

    fn flat(q: &VecDeque<(SocketAddr, Vec<u8>)>) -> Vec<(u16, u8)> {
        q.iter().map(|(a, d)| (a.port(), d[0])).collect()
    }

    #[test]
    fn round_robin_becomes_one_run_per_destination_in_order() {
        let mut g = Grouper::default();
        let mut q = queue(&[(1, 1), (2, 1), (3, 1), (1, 2), (2, 2), (3, 2), (1, 3)]);
        g.group(&mut q);
        assert_eq!(
            flat(&q),
            [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (3, 1), (3, 2)]
        );
    }

    #[test]
    fn grouped_or_short_queues_are_left_alone() {
        let mut g = Grouper::default();
        let mut q = queue(&[(5, 1), (5, 2), (6, 1), (7, 1), (7, 2)]);
        g.group(&mut q);
        assert_eq!(flat(&q), [(5, 1), (5, 2), (6, 1), (7, 1), (7, 2)]);
        let mut q = queue(&[(2, 1), (1, 1)]);
        g.group(&mut q);
        assert_eq!(flat(&q), [(2, 1), (1, 1)]);
    }

    #[test]
    fn scratch_is_reused_between_calls() {
        let mut g = Grouper::default();
        for _ in 0..3 {
            let mut q = queue(&[(1, 1), (2, 1), (1, 2), (2, 2)]);
            g.group(&mut q);
            assert_eq!(flat(&q), [(1, 1), (1, 2), (2, 1), (2, 2)]);
        }
    }
}
