//! Admission control (architecture principle 2: decide before allocating): concurrent-call
//! counters and calls-per-second token buckets, global and per trunk, checked before a new
//! INVITE's server transaction is accepted; plus the per-target "unavailable until" map that
//! 503 + Retry-After responses feed (TI-18, resilience item 5).

use core::time::Duration;
use std::collections::HashMap;

use sbc_txn::{Instant, Peer};

use crate::config::Limits;

/// A token bucket on the injected clock: `rate` tokens per second up to `burst`, counted in
/// thousandths so low rates refill smoothly.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    milli: u64,
    last: Instant,
    rate: u32,
    burst: u32,
}

impl Bucket {
    fn new(rate: u32, burst: u32, now: Instant) -> Bucket {
        let burst = burst.max(1);
        Bucket {
            milli: u64::from(burst) * 1000,
            last: now,
            rate,
            burst,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last);
        // Capped so the multiplication cannot overflow; an hour refills any bucket.
        let ns = elapsed.min(Duration::from_secs(3600)).as_nanos();
        let add = ns * u128::from(self.rate) / 1_000_000;
        let cap = u64::from(self.burst) * 1000;
        self.milli = (u128::from(self.milli) + add).min(u128::from(cap)) as u64;
        self.last = now.max(self.last);
    }

    fn available(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.milli >= 1000
    }

    fn take(&mut self) {
        self.milli = self.milli.saturating_sub(1000);
    }

    /// Seconds until one token is available (at least 1).
    fn wait_secs(&self) -> u32 {
        if self.rate == 0 {
            return u32::MAX;
        }
        let missing = 1000u64.saturating_sub(self.milli);
        let ms = missing.div_ceil(u64::from(self.rate));
        (ms.div_ceil(1000) as u32).max(1)
    }
}

#[derive(Debug, Clone)]
struct Gate {
    limits: Limits,
    active: u32,
    bucket: Option<Bucket>,
}

impl Gate {
    fn new(limits: Limits, now: Instant) -> Gate {
        Gate {
            limits,
            active: 0,
            bucket: limits
                .cps
                .map(|r| Bucket::new(r, limits.burst.unwrap_or(r), now)),
        }
    }

    /// `Err(retry_after_hint)` when this gate refuses.
    fn check(&mut self, now: Instant) -> Result<(), (u32, &'static str)> {
        if self.limits.max_calls.is_some_and(|m| self.active >= m) {
            return Err((0, "concurrent call limit"));
        }
        if let Some(b) = &mut self.bucket {
            if !b.available(now) {
                return Err((b.wait_secs(), "calls-per-second limit"));
            }
        }
        Ok(())
    }

    fn commit(&mut self) {
        self.active += 1;
        if let Some(b) = &mut self.bucket {
            b.take();
        }
    }
}

/// Why admission refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// Suggested Retry-After (seconds), 0 for "use the configured default".
    pub(crate) retry_after: u32,
    /// For logs and metrics.
    pub(crate) why: &'static str,
}

/// The counters of one engine.
#[derive(Debug)]
pub(crate) struct Admission {
    global: Gate,
    trunk_limits: HashMap<String, Limits>,
    trunks: HashMap<String, Gate>,
    unavailable: HashMap<Peer, Instant>,
}

impl Admission {
    pub(crate) fn new(global: Limits, trunk_limits: HashMap<String, Limits>) -> Admission {
        Admission {
            global: Gate::new(global, Instant::ZERO),
            trunk_limits,
            trunks: HashMap::new(),
            unavailable: HashMap::new(),
        }
    }

    fn gate(&mut self, trunk: &str, now: Instant) -> Option<&mut Gate> {
        if !self.trunks.contains_key(trunk) {
            let limits = *self.trunk_limits.get(trunk)?;
            self.trunks
                .insert(trunk.to_string(), Gate::new(limits, now));
        }
        self.trunks.get_mut(trunk)
    }

    /// The global check (before routing: cheapest first).
    pub(crate) fn check_global(&mut self, now: Instant) -> Result<(), Refusal> {
        self.global
            .check(now)
            .map_err(|(retry_after, why)| Refusal { retry_after, why })
    }

    /// The per-trunk checks for the trunks a call would count against.
    pub(crate) fn check_trunks(&mut self, trunks: &[&str], now: Instant) -> Result<(), Refusal> {
        for t in trunks {
            if let Some(g) = self.gate(t, now) {
                g.check(now).map_err(|(retry_after, why)| Refusal {
                    retry_after,
                    why: if why == "concurrent call limit" {
                        "trunk concurrent call limit"
                    } else {
                        "trunk calls-per-second limit"
                    },
                })?;
            }
        }
        Ok(())
    }

    /// Counts an admitted call (after every check passed).
    pub(crate) fn commit(&mut self, trunks: &[&str], now: Instant) {
        self.global.commit();
        for t in trunks {
            if let Some(g) = self.gate(t, now) {
                g.commit();
            }
        }
    }

    /// A call ended.
    pub(crate) fn release(&mut self, trunks: &[&str]) {
        self.global.active = self.global.active.saturating_sub(1);
        for t in trunks {
            if let Some(g) = self.trunks.get_mut(*t) {
                g.active = g.active.saturating_sub(1);
            }
        }
    }

    pub(crate) fn active(&self) -> u32 {
        self.global.active
    }

    pub(crate) fn mark_unavailable(&mut self, peer: Peer, until: Instant) {
        let e = self.unavailable.entry(peer).or_insert(until);
        *e = (*e).max(until);
    }

    pub(crate) fn is_available(&self, peer: Peer, now: Instant) -> bool {
        self.unavailable.get(&peer).is_none_or(|&u| u <= now)
    }

    /// Seconds until the earliest of these peers is available again.
    pub(crate) fn earliest_available(
        &self,
        peers: impl Iterator<Item = Peer>,
        now: Instant,
    ) -> u32 {
        peers
            .filter_map(|p| self.unavailable.get(&p))
            .map(|&u| u.saturating_duration_since(now).as_secs() as u32 + 1)
            .min()
            .unwrap_or(1)
    }

    /// Forgets expired entries (called from the engine's timeout handling).
    pub(crate) fn expire(&mut self, now: Instant) {
        self.unavailable.retain(|_, u| *u > now);
    }

    pub(crate) fn unavailable_len(&self) -> usize {
        self.unavailable.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    #[test]
    fn bucket_refills_on_the_injected_clock() {
        let mut a = Admission::new(
            Limits {
                max_calls: None,
                cps: Some(2),
                burst: Some(2),
            },
            HashMap::new(),
        );
        let now = ms(0);
        for _ in 0..2 {
            assert!(a.check_global(now).is_ok());
            a.commit(&[], now);
        }
        let r = a.check_global(now).unwrap_err();
        assert_eq!(r.why, "calls-per-second limit");
        assert_eq!(r.retry_after, 1);
        // Half a second later one token is back (2 per second).
        assert!(a.check_global(ms(499)).is_err());
        assert!(a.check_global(ms(500)).is_ok());
    }

    #[test]
    fn concurrency_per_trunk() {
        let mut tl = HashMap::new();
        tl.insert(
            "gw".to_string(),
            Limits {
                max_calls: Some(1),
                ..Limits::default()
            },
        );
        let mut a = Admission::new(Limits::default(), tl);
        let now = ms(0);
        assert!(a.check_trunks(&["gw", "other"], now).is_ok());
        a.commit(&["gw", "other"], now);
        assert_eq!(
            a.check_trunks(&["gw"], now).unwrap_err().why,
            "trunk concurrent call limit"
        );
        a.release(&["gw", "other"]);
        assert!(a.check_trunks(&["gw"], now).is_ok());
        assert_eq!(a.active(), 0);
    }

    #[test]
    fn unavailable_targets() {
        let mut a = Admission::new(Limits::default(), HashMap::new());
        let p = Peer::new(sbc_txn::Transport::Udp, "192.0.2.1:5060".parse().unwrap());
        a.mark_unavailable(p, ms(30_000));
        assert!(!a.is_available(p, ms(29_999)));
        assert!(a.is_available(p, ms(30_000)));
        assert_eq!(a.earliest_available([p].into_iter(), ms(10_000)), 21);
        a.expire(ms(30_000));
        assert_eq!(a.unavailable_len(), 0);
    }
}
