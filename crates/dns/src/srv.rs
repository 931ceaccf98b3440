//! SRV ordering (RFC 2782 "Usage rules") with an injected random source.

use crate::record::Srv;

/// A source of uniform random numbers, injected so ordering is deterministic under test.
///
/// Any `FnMut(u32) -> u32` is one: called with `bound >= 1`, it returns a value in
/// `0..bound`. A value out of range is clamped, never trusted.
pub trait RandomSource {
    /// A uniformly distributed value in `0..bound` (`bound >= 1`).
    fn below(&mut self, bound: u32) -> u32;
}

impl<F: FnMut(u32) -> u32> RandomSource for F {
    fn below(&mut self, bound: u32) -> u32 {
        self(bound)
    }
}

/// Orders SRV records for serial failover: ascending priority; within one priority, the
/// RFC 2782 weighted selection: zero-weight records first in the working list, running sums
/// of the weights, a random number in `0..=sum`, the first record whose running sum reaches
/// it is next; repeat on the rest.
///
/// Records for the root target (`.`) are kept; callers filter them beforehand.
pub fn order_srv(records: &mut Vec<Srv>, rng: &mut dyn RandomSource) {
    records.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(records.len());
    let mut rest = std::mem::take(records);
    while !rest.is_empty() {
        let prio = rest[0].priority;
        let n = rest.iter().take_while(|r| r.priority == prio).count();
        let mut group: Vec<Srv> = rest.drain(..n).collect();
        // Zero-weight records at the beginning (stable otherwise).
        group.sort_by_key(|r| r.weight != 0);
        while !group.is_empty() {
            let sum: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
            // `group` holds at most `u16::MAX`-weighted records of a bounded answer; clamp
            // anyway so the bound always fits.
            let bound = u32::try_from(sum + 1).unwrap_or(u32::MAX);
            let pick = u64::from(rng.below(bound).min(bound - 1));
            let mut running = 0u64;
            let idx = group
                .iter()
                .position(|r| {
                    running += u64::from(r.weight);
                    running >= pick
                })
                .unwrap_or(group.len() - 1);
            out.push(group.remove(idx));
        }
    }
    *records = out;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::Name;

    fn srv(priority: u16, weight: u16, host: &str) -> Srv {
        Srv::new(priority, weight, 5060, Name::parse(host).unwrap())
    }

    fn hosts(v: &[Srv]) -> Vec<&str> {
        v.iter().map(|r| r.target.as_str()).collect()
    }

    #[test]
    fn priority_first() {
        let mut v = vec![srv(20, 100, "c"), srv(10, 0, "a"), srv(15, 5, "b")];
        order_srv(&mut v, &mut |_| 0);
        assert_eq!(hosts(&v), ["a", "b", "c"]);
    }

    #[test]
    fn weighted_selection_follows_running_sums() {
        // Weights 10, 20, 70: running sums 10, 30, 100.
        let base = vec![srv(1, 10, "a"), srv(1, 20, "b"), srv(1, 70, "c")];
        // Always the smallest number: the first record each round.
        let mut v = base.clone();
        order_srv(&mut v, &mut |_| 0);
        assert_eq!(hosts(&v), ["a", "b", "c"]);
        // Always the largest: the last record each round.
        let mut v = base.clone();
        order_srv(&mut v, &mut |b| b - 1);
        assert_eq!(hosts(&v), ["c", "b", "a"]);
        // Boundaries: 10 still selects a, 11 selects b, 31 selects c.
        for (r, first) in [(10, "a"), (11, "b"), (30, "b"), (31, "c"), (100, "c")] {
            let mut v = base.clone();
            let mut first_call = true;
            order_srv(&mut v, &mut |_| {
                let x = if first_call { r } else { 0 };
                first_call = false;
                x
            });
            assert_eq!(v[0].target.as_str(), first, "random {r}");
        }
        // The bound offered is sum + 1 each round (0..=sum).
        let mut bounds = Vec::new();
        let mut v = base;
        order_srv(&mut v, &mut |b| {
            bounds.push(b);
            0
        });
        assert_eq!(bounds, [101, 91, 71]);
    }

    #[test]
    fn zero_weights_go_first_in_the_working_list() {
        let mut v = vec![srv(1, 50, "heavy"), srv(1, 0, "zero")];
        order_srv(&mut v, &mut |_| 0);
        assert_eq!(hosts(&v), ["zero", "heavy"]);
        let mut v = vec![srv(1, 50, "heavy"), srv(1, 0, "zero")];
        order_srv(&mut v, &mut |_| 1);
        assert_eq!(hosts(&v), ["heavy", "zero"]);
        // All zero: received order.
        let mut v = vec![srv(1, 0, "x"), srv(1, 0, "y"), srv(1, 0, "z")];
        order_srv(&mut v, &mut |b| b - 1);
        assert_eq!(hosts(&v), ["x", "y", "z"]);
    }

    #[test]
    fn out_of_range_random_is_clamped() {
        let mut v = vec![srv(1, 1, "a"), srv(1, 1, "b")];
        order_srv(&mut v, &mut |_| u32::MAX);
        assert_eq!(hosts(&v), ["b", "a"]);
    }

    #[test]
    fn weights_shape_the_distribution() {
        // A deterministic LCG: over many runs the first choice follows the weights.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rng = move |bound: u32| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (((state >> 33) * u64::from(bound)) >> 31) as u32
        };
        let mut first = [0u32; 3];
        for _ in 0..10_000 {
            let mut v = vec![srv(1, 10, "a"), srv(1, 20, "b"), srv(1, 70, "c")];
            order_srv(&mut v, &mut rng);
            first[usize::from(v[0].target.as_str().as_bytes()[0] - b'a')] += 1;
        }
        // Expected 10 % / 20 % / 70 % (the RFC picks over 0..=sum, so "a" gets 11/101).
        assert!((900..1_300).contains(&first[0]), "{first:?}");
        assert!((1_750..2_250).contains(&first[1]), "{first:?}");
        assert!((6_700..7_300).contains(&first[2]), "{first:?}");
    }
}
