//! A set of `u64` sequence numbers kept as sorted, disjoint, non-adjacent
//! inclusive ranges: the receiver's SEQUENCE_SET (RFC 7016 §3.6.3).

/// Sorted disjoint inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<(u64, u64)>,
}

impl RangeSet {
    /// An empty set.
    pub fn new() -> Self {
        RangeSet { ranges: Vec::new() }
    }

    /// Adds `from..=to`.  Returns the number of values that were new.
    pub fn insert(&mut self, from: u64, to: u64) -> u64 {
        if from > to {
            return 0;
        }
        // First range that could touch or follow `from`.
        let start = self
            .ranges
            .partition_point(|&(_, end)| end.saturating_add(1) < from);
        let mut new_from = from;
        let mut new_to = to;
        let mut end_index = start;
        let mut covered = 0u64;
        while end_index < self.ranges.len() {
            let (a, b) = self.ranges[end_index];
            if a > new_to.saturating_add(1) {
                break;
            }
            // Overlap with the original request counts as already present.
            let lo = a.max(from);
            let hi = b.min(to);
            if lo <= hi {
                covered += hi - lo + 1;
            }
            new_from = new_from.min(a);
            new_to = new_to.max(b);
            end_index += 1;
        }
        self.ranges.splice(start..end_index, [(new_from, new_to)]);
        (to - from + 1) - covered
    }

    /// Whether `value` is in the set.
    pub fn contains(&self, value: u64) -> bool {
        let i = self.ranges.partition_point(|&(_, end)| end < value);
        i < self.ranges.len() && self.ranges[i].0 <= value
    }

    /// The top of the run starting at 0 (the CSN of §3.6.3.3), if 0 is in
    /// the set.
    pub fn cumulative(&self) -> Option<u64> {
        match self.ranges.first() {
            Some(&(0, end)) => Some(end),
            _ => None,
        }
    }

    /// Whether the set has a hole between 0 and its highest value.
    pub fn has_gaps(&self) -> bool {
        !matches!(self.ranges.as_slice(), [] | [(0, _)])
    }

    /// The highest value, if any.
    pub fn max(&self) -> Option<u64> {
        self.ranges.last().map(|&(_, end)| end)
    }

    /// The ranges in order.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// Whether `0..=to` is entirely present.
    pub fn contains_through(&self, to: u64) -> bool {
        self.cumulative().is_some_and(|c| c >= to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn rfc_example_csn() {
        // §3.6.3.3: {0,1,2,3,5,6} has CSN 3.
        let mut s = RangeSet::new();
        for v in [0, 1, 2, 3, 5, 6] {
            s.insert(v, v);
        }
        assert_eq!(s.cumulative(), Some(3));
        assert!(s.has_gaps());
        assert_eq!(s.ranges(), &[(0, 3), (5, 6)]);
        s.insert(4, 4);
        assert_eq!(s.ranges(), &[(0, 6)]);
        assert!(!s.has_gaps());
    }

    #[test]
    fn insert_reports_new_values() {
        let mut s = RangeSet::new();
        assert_eq!(s.insert(10, 19), 10);
        assert_eq!(s.insert(15, 25), 6);
        assert_eq!(s.insert(0, 30), 15);
        assert_eq!(s.insert(5, 5), 0);
        assert_eq!(s.ranges(), &[(0, 30)]);
        assert_eq!(s.insert(u64::MAX, u64::MAX), 1);
        assert!(s.contains(u64::MAX));
    }

    proptest! {
        #[test]
        fn behaves_like_a_set(ops in proptest::collection::vec((0u64..200, 0u64..20), 0..60)) {
            let mut s = RangeSet::new();
            let mut model = BTreeSet::new();
            for (from, len) in ops {
                let to = from + len;
                let before = model.len();
                model.extend(from..=to);
                prop_assert_eq!(s.insert(from, to), (model.len() - before) as u64);
            }
            for v in 0..230 {
                prop_assert_eq!(s.contains(v), model.contains(&v));
            }
            // Ranges are sorted, disjoint and not adjacent.
            for w in s.ranges().windows(2) {
                prop_assert!(w[0].1 + 1 < w[1].0);
            }
            let expected_csn = if model.contains(&0) { (0..).take_while(|v| model.contains(v)).last() } else { None };
            prop_assert_eq!(s.cumulative(), expected_csn);
        }
    }
}
