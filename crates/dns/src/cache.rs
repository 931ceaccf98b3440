//! The answer cache: keyed by `(name, type)`, absolute expiries from an injected `now`.
//!
//! * Positive answers live for the smallest record TTL, raised to [`CachePolicy::min_ttl`] and
//!   then capped at [`CachePolicy::max_ttl`] (default 900 s: Teams requires re-resolving at
//!   least every 15 minutes, TI-3). The cap always wins over the floor.
//! * NXDOMAIN / NODATA live for the SOA negative TTL (RFC 2308), never longer than
//!   [`CachePolicy::negative_ttl`] (default 30 s), and at least `min_ttl` (unless the cap
//!   is lower).
//! * Failures (SERVFAIL, timeout) are remembered for [`CachePolicy::failure_ttl`] so a dead
//!   resolver is not hammered by every call; `0` disables that.
//! * Serve-stale (RFC 8767): when a refresh *fails* and the previous positive answer expired
//!   less than [`CachePolicy::stale_window`] ago, that answer is used again (its expiry pushed
//!   by `failure_ttl`, so the next lookup tries DNS again). A negative answer replaces it at
//!   once. `stale_window = 0` disables this.
//! * At most [`CachePolicy::max_entries`] entries: a new name first evicts dead entries,
//!   then the entry closest to death.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::record::{Answer, Query, Record};

/// How long answers are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Upper bound on any entry's life (TI-3: 15 minutes).
    pub max_ttl: Duration,
    /// Lower bound on positive and negative entries (a TTL of 0 would otherwise mean one DNS
    /// query per call).
    pub min_ttl: Duration,
    /// Upper bound (and default) for NXDOMAIN / NODATA entries.
    pub negative_ttl: Duration,
    /// How long a failure is remembered, and how long a stale answer is reused after one.
    pub failure_ttl: Duration,
    /// How long after expiry a positive answer may still be served when refreshing it fails.
    pub stale_window: Duration,
    /// Most entries kept.
    pub max_entries: usize,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            max_ttl: Duration::from_secs(900),
            min_ttl: Duration::from_secs(5),
            negative_ttl: Duration::from_secs(30),
            failure_ttl: Duration::from_secs(5),
            stale_window: Duration::from_secs(3600),
            max_entries: 4096,
        }
    }
}

impl CachePolicy {
    fn clamp(&self, d: Duration) -> Duration {
        d.max(self.min_ttl).min(self.max_ttl)
    }

    /// The life of a positive answer whose smallest record TTL is `ttl` seconds.
    pub fn positive_life(&self, ttl: u32) -> Duration {
        self.clamp(Duration::from_secs(u64::from(ttl)))
    }

    /// The life of a negative answer carrying `negative_ttl` seconds from its SOA.
    pub fn negative_life(&self, negative_ttl: Option<u32>) -> Duration {
        let d = negative_ttl.map_or(self.negative_ttl, |s| {
            Duration::from_secs(u64::from(s)).min(self.negative_ttl)
        });
        self.clamp(d)
    }
}

#[derive(Debug, Clone)]
struct Entry {
    /// Served until this instant (exclusive).
    expires: Instant,
    /// Kept for serve-stale until this instant; at least `expires`.
    keep_until: Instant,
    answer: Answer,
}

/// The cache. Not thread-safe by itself: the shell wraps it in a lock it never holds across
/// an await.
#[derive(Debug, Clone)]
pub struct Cache {
    policy: CachePolicy,
    entries: HashMap<Query, Entry>,
}

impl Default for Cache {
    fn default() -> Self {
        Cache::new(CachePolicy::default())
    }
}

fn secs_left(now: Instant, until: Instant) -> u32 {
    let d = until.saturating_duration_since(now);
    // Round up so an entry with 0.4 s left does not claim TTL 0.
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    u32::try_from(s).unwrap_or(u32::MAX)
}

/// `answer` with every TTL lowered to `left` seconds (the time the cache will still serve it).
fn with_ttl_left(answer: &Answer, left: u32) -> Answer {
    match answer {
        Answer::Records(rs) => Answer::Records(
            rs.iter()
                .map(|r| Record::new(r.ttl.min(left), r.data.clone()))
                .collect(),
        ),
        Answer::NoData { .. } => Answer::NoData {
            negative_ttl: Some(left),
        },
        Answer::NxDomain { .. } => Answer::NxDomain {
            negative_ttl: Some(left),
        },
        Answer::Failed => Answer::Failed,
    }
}

impl Cache {
    /// An empty cache.
    pub fn new(policy: CachePolicy) -> Cache {
        Cache {
            policy,
            entries: HashMap::new(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &CachePolicy {
        &self.policy
    }

    /// Number of entries, live or kept for serve-stale.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The live answer for `query`, TTLs lowered to the time left.
    pub fn get(&self, now: Instant, query: &Query) -> Option<Answer> {
        self.get_fresh(now, query, Duration::ZERO)
    }

    /// The answer for `query` if it stays live for more than `min_remaining` (the background
    /// refresher asks with a margin so it re-resolves before expiry).
    pub fn get_fresh(
        &self,
        now: Instant,
        query: &Query,
        min_remaining: Duration,
    ) -> Option<Answer> {
        let e = self.entries.get(query)?;
        if e.expires.saturating_duration_since(now) <= min_remaining {
            return None;
        }
        Some(with_ttl_left(&e.answer, secs_left(now, e.expires)))
    }

    /// When the entry for `query` stops being served, if there is one.
    pub fn expires_at(&self, query: &Query) -> Option<Instant> {
        self.entries.get(query).map(|e| e.expires)
    }

    /// The earliest instant, minus `margin`, at which a positive entry for one of `queries`
    /// expires: when a refresher should re-resolve them. Negative, failed and absent entries
    /// are ignored (`None` if no query has a positive entry).
    pub fn next_refresh<'q>(
        &self,
        queries: impl IntoIterator<Item = &'q Query>,
        margin: Duration,
    ) -> Option<Instant> {
        queries
            .into_iter()
            .filter_map(|q| self.entries.get(q))
            .filter(|e| e.answer.is_positive())
            .map(|e| e.expires.checked_sub(margin).unwrap_or(e.expires))
            .min()
    }

    /// Records the answer a query got at `now` and returns the answer the procedure should
    /// use: the same one, except after a failure when a positive answer may be served stale.
    pub fn store(&mut self, now: Instant, query: &Query, answer: Answer) -> Answer {
        let p = self.policy;
        let (life, answer) = match answer {
            Answer::Records(rs) if rs.is_empty() => {
                (p.negative_life(None), Answer::NoData { negative_ttl: None })
            }
            Answer::Records(rs) => {
                let ttl = rs.iter().map(|r| r.ttl).min().unwrap_or(0);
                (p.positive_life(ttl), Answer::Records(rs))
            }
            Answer::NoData { negative_ttl } => (
                p.negative_life(negative_ttl),
                Answer::NoData { negative_ttl },
            ),
            Answer::NxDomain { negative_ttl } => (
                p.negative_life(negative_ttl),
                Answer::NxDomain { negative_ttl },
            ),
            Answer::Failed => return self.store_failure(now, query),
        };
        let expires = now + life;
        let keep_until = if answer.is_positive() {
            expires + p.stale_window
        } else {
            expires
        };
        self.put(
            now,
            query,
            Entry {
                expires,
                keep_until,
                answer: answer.clone(),
            },
        );
        answer
    }

    fn store_failure(&mut self, now: Instant, query: &Query) -> Answer {
        let p = self.policy;
        if let Some(e) = self.entries.get_mut(query) {
            if e.answer.is_positive() && now < e.keep_until {
                // Still fresh (an early refresh failed) or stale within the window: keep
                // serving it; a stale one for `failure_ttl` more, never past the window.
                if e.expires <= now {
                    e.expires = (now + p.failure_ttl).min(e.keep_until);
                }
                let left = secs_left(now, e.expires).max(1);
                return with_ttl_left(&e.answer, left);
            }
        }
        if !p.failure_ttl.is_zero() {
            let until = now + p.failure_ttl.min(p.max_ttl);
            self.put(
                now,
                query,
                Entry {
                    expires: until,
                    keep_until: until,
                    answer: Answer::Failed,
                },
            );
        }
        Answer::Failed
    }

    fn put(&mut self, now: Instant, query: &Query, entry: Entry) {
        if let Some(e) = self.entries.get_mut(query) {
            *e = entry;
            return;
        }
        if self.policy.max_entries == 0 {
            return;
        }
        if self.entries.len() >= self.policy.max_entries {
            self.purge(now);
        }
        if self.entries.len() >= self.policy.max_entries {
            let victim = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.keep_until)
                .map(|(q, _)| q.clone());
            if let Some(v) = victim {
                self.entries.remove(&v);
            }
        }
        self.entries.insert(query.clone(), entry);
    }

    /// Drops entries that can no longer be served, not even stale.
    pub fn purge(&mut self, now: Instant) {
        self.entries.retain(|_, e| e.keep_until > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::Name;
    use crate::record::{RData, RecordType};
    use std::net::Ipv4Addr;

    fn q(name: &str, t: RecordType) -> Query {
        Query::new(Name::parse(name).unwrap(), t)
    }

    fn a(ttl: u32, last: u8) -> Answer {
        Answer::Records(vec![Record::new(
            ttl,
            RData::A(Ipv4Addr::new(192, 0, 2, last)),
        )])
    }

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn positive_entry_expires_at_its_ttl() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        let k = q("gw.example", RecordType::A);
        assert_eq!(c.store(t0, &k, a(60, 1)), a(60, 1));
        assert_eq!(c.expires_at(&k), Some(t0 + s(60)));
        assert_eq!(c.get(t0, &k), Some(a(60, 1)));
        // TTLs count down.
        assert_eq!(c.get(t0 + s(45), &k), Some(a(15, 1)));
        assert_eq!(c.get(t0 + Duration::from_millis(59_500), &k), Some(a(1, 1)));
        assert_eq!(c.get(t0 + s(60), &k), None);
        assert_eq!(c.get(t0 + s(61), &k), None);
        // Another type of the same name is another key.
        assert_eq!(c.get(t0, &q("gw.example", RecordType::Aaaa)), None);
        assert_eq!(c.len(), 1);
        assert!(!c.is_empty());
    }

    #[test]
    fn smallest_record_ttl_rules() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        let k = q("gw.example", RecordType::A);
        let ans = Answer::Records(vec![
            Record::new(300, RData::A(Ipv4Addr::new(192, 0, 2, 1))),
            Record::new(20, RData::A(Ipv4Addr::new(192, 0, 2, 2))),
        ]);
        c.store(t0, &k, ans);
        assert_eq!(c.expires_at(&k), Some(t0 + s(20)));
    }

    #[test]
    fn fifteen_minute_cap() {
        // TI-3: a day-long TTL is still re-resolved after 900 s.
        let t0 = Instant::now();
        let mut c = Cache::default();
        let k = q("sip.pstnhub.microsoft.com", RecordType::A);
        c.store(t0, &k, a(86_400, 1));
        assert_eq!(c.expires_at(&k), Some(t0 + s(900)));
        assert!(c.get(t0 + s(899), &k).is_some());
        assert_eq!(c.get(t0 + s(900), &k), None);
        // The TTL handed out never exceeds what the cache will serve.
        assert_eq!(c.get(t0, &k), Some(a(900, 1)));
        // A stricter cap is honoured too.
        let mut c = Cache::new(CachePolicy {
            max_ttl: s(60),
            ..CachePolicy::default()
        });
        c.store(t0, &k, a(3600, 1));
        assert_eq!(c.expires_at(&k), Some(t0 + s(60)));
    }

    #[test]
    fn min_ttl_floor_and_cap_wins() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        let k = q("gw.example", RecordType::A);
        c.store(t0, &k, a(0, 1));
        assert_eq!(c.expires_at(&k), Some(t0 + s(5)));
        assert_eq!(c.get(t0 + s(4), &k), Some(a(0, 1)));
        let p = CachePolicy {
            min_ttl: s(100),
            max_ttl: s(50),
            ..CachePolicy::default()
        };
        assert_eq!(p.positive_life(1), s(50));
        assert_eq!(p.negative_life(Some(1)), s(50));
    }

    #[test]
    fn negative_caching() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        let k = q("_sip._udp.example.com", RecordType::Srv);
        // No SOA: the default 30 s.
        let nx = Answer::NxDomain { negative_ttl: None };
        assert_eq!(c.store(t0, &k, nx.clone()), nx);
        assert_eq!(c.expires_at(&k), Some(t0 + s(30)));
        assert_eq!(
            c.get(t0 + s(10), &k),
            Some(Answer::NxDomain {
                negative_ttl: Some(20)
            })
        );
        assert_eq!(c.get(t0 + s(30), &k), None);
        // A long SOA minimum is capped at negative_ttl, a short one kept (above the floor).
        c.store(
            t0,
            &k,
            Answer::NoData {
                negative_ttl: Some(3600),
            },
        );
        assert_eq!(c.expires_at(&k), Some(t0 + s(30)));
        c.store(
            t0,
            &k,
            Answer::NoData {
                negative_ttl: Some(10),
            },
        );
        assert_eq!(c.expires_at(&k), Some(t0 + s(10)));
        c.store(
            t0,
            &k,
            Answer::NoData {
                negative_ttl: Some(1),
            },
        );
        assert_eq!(c.expires_at(&k), Some(t0 + s(5)));
        // An empty record list is NODATA.
        assert_eq!(
            c.store(t0, &k, Answer::Records(vec![])),
            Answer::NoData { negative_ttl: None }
        );
        assert_eq!(
            c.get(t0, &k),
            Some(Answer::NoData {
                negative_ttl: Some(30)
            })
        );
    }

    #[test]
    fn failures_are_remembered_briefly() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        let k = q("gw.example", RecordType::A);
        assert_eq!(c.store(t0, &k, Answer::Failed), Answer::Failed);
        assert_eq!(c.get(t0 + s(4), &k), Some(Answer::Failed));
        assert_eq!(c.get(t0 + s(5), &k), None);
        let mut c = Cache::new(CachePolicy {
            failure_ttl: Duration::ZERO,
            ..CachePolicy::default()
        });
        assert_eq!(c.store(t0, &k, Answer::Failed), Answer::Failed);
        assert!(c.is_empty());
    }

    #[test]
    fn serve_stale_after_a_failed_refresh() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        let k = q("gw.example", RecordType::A);
        c.store(t0, &k, a(60, 7));
        // Expired, DNS fails: the old answer comes back for failure_ttl.
        let t1 = t0 + s(100);
        assert_eq!(c.get(t1, &k), None);
        assert_eq!(c.store(t1, &k, Answer::Failed), a(5, 7));
        assert_eq!(c.get(t1 + s(1), &k), Some(a(4, 7)));
        assert_eq!(c.get(t1 + s(5), &k), None);
        // Past the window (60 + 3600 s), the failure is the answer.
        let t2 = t0 + s(60 + 3600);
        assert_eq!(c.store(t2, &k, Answer::Failed), Answer::Failed);
        assert_eq!(c.get(t2, &k), Some(Answer::Failed));
        // A negative answer replaces a stale positive one at once.
        c.store(t0, &k, a(60, 7));
        c.store(t1, &k, Answer::NxDomain { negative_ttl: None });
        assert_eq!(c.store(t1 + s(31), &k, Answer::Failed), Answer::Failed);
    }

    #[test]
    fn failed_early_refresh_keeps_fresh_answer() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        let k = q("gw.example", RecordType::A);
        c.store(t0, &k, a(600, 7));
        assert_eq!(c.store(t0 + s(590), &k, Answer::Failed), a(10, 7));
        assert_eq!(c.expires_at(&k), Some(t0 + s(600)));
    }

    #[test]
    fn serve_stale_disabled() {
        let t0 = Instant::now();
        let mut c = Cache::new(CachePolicy {
            stale_window: Duration::ZERO,
            ..CachePolicy::default()
        });
        let k = q("gw.example", RecordType::A);
        c.store(t0, &k, a(60, 7));
        assert_eq!(c.store(t0 + s(61), &k, Answer::Failed), Answer::Failed);
    }

    #[test]
    fn refresh_ahead_margin() {
        let t0 = Instant::now();
        let mut c = Cache::default();
        let ka = q("gw.example", RecordType::A);
        let kb = q("gw2.example", RecordType::A);
        let kn = q("gw.example", RecordType::Aaaa);
        c.store(t0, &ka, a(300, 1));
        c.store(t0, &kb, a(120, 2));
        c.store(t0, &kn, Answer::NoData { negative_ttl: None });
        assert!(c.get_fresh(t0 + s(200), &ka, s(60)).is_some());
        assert!(c.get_fresh(t0 + s(240), &ka, s(60)).is_none());
        assert_eq!(
            c.next_refresh([&ka, &kb, &kn], s(30)),
            Some(t0 + s(90)),
            "negative entries do not drive the refresher"
        );
        assert_eq!(c.next_refresh([&kn], s(30)), None);
        assert_eq!(
            c.next_refresh(&[q("x.example", RecordType::A)], s(30)),
            None
        );
    }

    #[test]
    fn bounded_size_evicts_closest_to_death() {
        let t0 = Instant::now();
        let mut c = Cache::new(CachePolicy {
            max_entries: 2,
            stale_window: Duration::ZERO,
            ..CachePolicy::default()
        });
        let k1 = q("a.example", RecordType::A);
        let k2 = q("b.example", RecordType::A);
        let k3 = q("c.example", RecordType::A);
        c.store(t0, &k1, a(100, 1));
        c.store(t0, &k2, a(50, 2));
        c.store(t0, &k3, a(200, 3));
        assert_eq!(c.len(), 2);
        assert!(c.get(t0, &k2).is_none());
        assert!(c.get(t0, &k1).is_some() && c.get(t0, &k3).is_some());
        // Overwriting a key does not evict.
        c.store(t0, &k1, a(10, 1));
        assert_eq!(c.len(), 2);
        // Dead entries go first.
        c.store(t0 + s(20), &k2, a(100, 2));
        assert!(c.get(t0 + s(20), &k3).is_some());
        assert!(c.get(t0 + s(20), &k2).is_some());
        c.purge(t0 + s(1000));
        assert!(c.is_empty());
        c.store(t0, &k1, a(10, 1));
        c.clear();
        assert!(c.is_empty());
        let mut none = Cache::new(CachePolicy {
            max_entries: 0,
            ..CachePolicy::default()
        });
        none.store(t0, &k1, a(10, 1));
        assert!(none.is_empty());
        assert_eq!(none.policy().max_entries, 0);
    }
}
