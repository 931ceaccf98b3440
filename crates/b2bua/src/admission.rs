//! Admission control (architecture principle 2: decide before allocating): concurrent-call
//! counters and calls-per-second token buckets, global and per trunk, checked before a new
//! INVITE's server transaction is accepted; plus the per-target "unavailable until" map that
//! 503 + Retry-After responses feed (TI-18, resilience item 5).

use core::time::Duration;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

    /// `Err(retry_after_hint)` when this gate refuses a normal call (emergency calls and
    /// callbacks are never checked, only counted: TI-40).
    fn check(&mut self, now: Instant) -> Result<(), (u32, &'static str)> {
        let reserved = self.limits.reserved;
        if self
            .limits
            .max_calls
            .is_some_and(|m| self.active >= m.saturating_sub(reserved))
        {
            return Err((0, "concurrent call limit"));
        }
        if let Some(b) = &mut self.bucket {
            if !b.available(now) {
                return Err((b.wait_secs(), "calls-per-second limit"));
            }
        }
        Ok(())
    }

    fn set_limits(&mut self, limits: Limits) {
        let now = self.bucket.map_or(Instant::ZERO, |b| b.last);
        let keep = self.bucket.map(|b| b.milli);
        self.limits = limits;
        self.bucket = limits.cps.map(|r| {
            let mut b = Bucket::new(r, limits.burst.unwrap_or(r), now);
            if let Some(m) = keep {
                b.milli = b.milli.min(m);
            }
            b
        });
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

#[derive(Debug)]
struct Inner {
    global: Gate,
    trunk_limits: HashMap<String, Limits>,
    trunks: HashMap<String, Gate>,
    unavailable: HashMap<Peer, Instant>,
}

impl Inner {
    fn gate(&mut self, trunk: &str, now: Instant) -> Option<&mut Gate> {
        if !self.trunks.contains_key(trunk) {
            let limits = *self.trunk_limits.get(trunk)?;
            self.trunks
                .insert(trunk.to_string(), Gate::new(limits, now));
        }
        self.trunks.get_mut(trunk)
    }

    fn check_trunks(&mut self, trunks: &[&str], now: Instant) -> Result<(), Refusal> {
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
}

/// The admission counters of a node: concurrent calls and calls-per-second buckets, global
/// and per trunk, and the targets a 503 + Retry-After made unavailable.
///
/// One value is shared (cheap clone, one lock) by the engines of every shard, so a
/// node-wide limit is exact whatever the shard count: `max_calls = 5` admits five calls, not
/// five per shard, and a gateway that asked for a pause is paused for every shard (TI-18).
/// The lock is taken a few times per new call and never across I/O.
#[derive(Debug, Clone)]
pub struct SharedAdmission(Arc<Mutex<Inner>>);

impl SharedAdmission {
    /// Counters for these limits (global over all calls; per trunk by trunk name).
    pub fn new(global: Limits, trunk_limits: HashMap<String, Limits>) -> SharedAdmission {
        SharedAdmission(Arc::new(Mutex::new(Inner {
            global: Gate::new(global, Instant::ZERO),
            trunk_limits,
            trunks: HashMap::new(),
            unavailable: HashMap::new(),
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the counters half-updated (every
        // update is a single field write), so a poisoned lock is still usable.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// New limits (a reload): the counts of calls in progress stay, buckets keep their
    /// tokens (capped to the new burst), gates of trunks no longer limited stop refusing.
    pub fn set_limits(&self, global: Limits, trunk_limits: HashMap<String, Limits>) {
        let mut g = self.lock();
        g.global.set_limits(global);
        for (name, gate) in g.trunks.iter_mut() {
            let l = trunk_limits.get(name).copied().unwrap_or_default();
            gate.set_limits(l);
        }
        g.trunk_limits = trunk_limits;
    }

    /// Calls counted now (all shards).
    pub fn active(&self) -> u32 {
        self.lock().global.active
    }

    /// The global check (before routing: cheapest first). Advisory: the admitting decision
    /// is [`SharedAdmission::try_commit`]'s.
    pub(crate) fn check_global(&self, now: Instant) -> Result<(), Refusal> {
        self.lock()
            .global
            .check(now)
            .map_err(|(retry_after, why)| Refusal { retry_after, why })
    }

    /// The per-trunk checks for the trunks a call would count against (advisory, as above).
    pub(crate) fn check_trunks(&self, trunks: &[&str], now: Instant) -> Result<(), Refusal> {
        self.lock().check_trunks(trunks, now)
    }

    /// Checks every gate again and counts the call, atomically: two shards admitting at the
    /// same instant cannot both take the last slot.
    /// A priority call (emergency, callback) is counted without being checked.
    pub(crate) fn try_commit(
        &self,
        trunks: &[&str],
        now: Instant,
        priority: bool,
    ) -> Result<(), Refusal> {
        let mut g = self.lock();
        if !priority {
            g.global
                .check(now)
                .map_err(|(retry_after, why)| Refusal { retry_after, why })?;
            g.check_trunks(trunks, now)?;
        }
        g.global.commit();
        for t in trunks {
            if let Some(gate) = g.gate(t, now) {
                gate.commit();
            }
        }
        Ok(())
    }

    /// A counted call ended (or was counted and then could not be set up).
    pub(crate) fn release(&self, trunks: &[&str]) {
        let mut g = self.lock();
        g.global.active = g.global.active.saturating_sub(1);
        for t in trunks {
            if let Some(gate) = g.trunks.get_mut(*t) {
                gate.active = gate.active.saturating_sub(1);
            }
        }
    }

    /// A target asked for a pause (503 + Retry-After) until `until`.
    pub(crate) fn mark_unavailable(&self, peer: Peer, until: Instant) {
        let mut g = self.lock();
        let e = g.unavailable.entry(peer).or_insert(until);
        *e = (*e).max(until);
    }

    /// False while `peer` is paused.
    pub fn is_available(&self, peer: Peer, now: Instant) -> bool {
        self.lock().unavailable.get(&peer).is_none_or(|&u| u <= now)
    }

    /// Seconds until the earliest of these peers is available again.
    pub(crate) fn earliest_available(
        &self,
        peers: impl Iterator<Item = Peer>,
        now: Instant,
    ) -> u32 {
        let g = self.lock();
        peers
            .filter_map(|p| g.unavailable.get(&p))
            .map(|&u| u.saturating_duration_since(now).as_secs() as u32 + 1)
            .min()
            .unwrap_or(1)
    }

    /// Forgets expired pauses (called from the engines' timeout handling).
    pub(crate) fn expire(&self, now: Instant) {
        let mut g = self.lock();
        if !g.unavailable.is_empty() {
            g.unavailable.retain(|_, u| *u > now);
        }
    }

    /// Targets paused and not yet expired.
    pub fn unavailable_len(&self) -> usize {
        self.lock().unavailable.len()
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
        let a = SharedAdmission::new(
            Limits {
                max_calls: None,
                cps: Some(2),
                burst: Some(2),
                reserved: 0,
            },
            HashMap::new(),
        );
        let now = ms(0);
        for _ in 0..2 {
            assert!(a.check_global(now).is_ok());
            a.try_commit(&[], now, false).unwrap();
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
        let a = SharedAdmission::new(Limits::default(), tl);
        let now = ms(0);
        assert!(a.check_trunks(&["gw", "other"], now).is_ok());
        a.try_commit(&["gw", "other"], now, false).unwrap();
        assert_eq!(
            a.try_commit(&["gw"], now, false).unwrap_err().why,
            "trunk concurrent call limit"
        );
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
        let a = SharedAdmission::new(Limits::default(), HashMap::new());
        let p = Peer::new(sbc_txn::Transport::Udp, "192.0.2.1:5060".parse().unwrap());
        a.mark_unavailable(p, ms(30_000));
        assert!(!a.is_available(p, ms(29_999)));
        assert!(a.is_available(p, ms(30_000)));
        assert_eq!(a.earliest_available([p].into_iter(), ms(10_000)), 21);
        a.expire(ms(30_000));
        assert_eq!(a.unavailable_len(), 0);
    }

    #[test]
    fn clones_share_one_node_wide_count() {
        // Two shards' engines hold clones: the limit is the node's, not each shard's.
        let a = SharedAdmission::new(
            Limits {
                max_calls: Some(3),
                ..Limits::default()
            },
            HashMap::new(),
        );
        let b = a.clone();
        let now = ms(0);
        a.try_commit(&[], now, false).unwrap();
        b.try_commit(&[], now, false).unwrap();
        a.try_commit(&[], now, false).unwrap();
        assert_eq!(
            b.try_commit(&[], now, false).unwrap_err().why,
            "concurrent call limit"
        );
        assert!(a.check_global(now).is_err());
        b.release(&[]);
        assert_eq!(a.active(), 2);
        a.try_commit(&[], now, false).unwrap();
        let p = Peer::new(sbc_txn::Transport::Udp, "192.0.2.9:5060".parse().unwrap());
        a.mark_unavailable(p, ms(5_000));
        assert!(!b.is_available(p, ms(1_000)));
    }

    #[test]
    fn reserved_share_is_for_priority_calls_only() {
        // TI-40: 4 calls, 1 of them reserved for emergency calls and callbacks.
        let a = SharedAdmission::new(
            Limits {
                max_calls: Some(4),
                cps: Some(1),
                burst: Some(3),
                reserved: 1,
            },
            HashMap::new(),
        );
        let now = ms(0);
        for _ in 0..3 {
            a.try_commit(&[], now, false).unwrap();
        }
        assert!(a.try_commit(&[], now, false).is_err(), "the reserve");
        // A reload with a larger limit admits again; the count stays.
        a.set_limits(
            Limits {
                max_calls: Some(10),
                ..Limits::default()
            },
            HashMap::new(),
        );
        assert_eq!(a.active(), 3);
        a.try_commit(&[], now, false).unwrap();
        a.release(&[]);
        // Past the reserve, the call limit and the empty CPS bucket alike.
        a.try_commit(&[], now, true).unwrap();
        a.try_commit(&[], now, true).unwrap();
        assert_eq!(a.active(), 5);
    }
}
