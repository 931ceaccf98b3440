//! ELIN mode (TI-41) and PSAP callbacks (TI-42).
//!
//! Two halves, so a configuration reload never forgets a caller:
//! * [`ElinPlan`]: immutable, compiled from the config: per tenant, location key -> ELIN
//!   pool, a default pool, and which PIDF-LO elements hold the key / a carried ELIN;
//! * [`ElinStore`]: mutable state owned by the call engine: who called recently (caller ->
//!   time) and which caller each ELIN stands for (ELIN -> caller), with the callback window,
//!   a bound on its size (oldest evicted, counted) and a virtual clock (`now_ms`).
//!
//! Several callers sharing an ELIN: TI-41 routes a callback to the ELIN "back to the
//! original caller", i.e. the caller whose emergency call the PSAP is returning. Two rules
//! follow: (1) when a location has several ELINs, each new emergency call takes the *least
//! recently used* ELIN of the pool, so concurrent callers get distinct callback numbers as
//! long as the pool lasts; (2) when an ELIN must be reused within the window, the binding is
//! overwritten and a callback goes to the *most recent* caller on that ELIN (the call the PSAP
//! most plausibly returns). The "least recently used one is chosen" is rule (1); read
//! as "a callback goes to the least recent caller" it would contradict TI-41, so it is not
//! implemented that way (docs/emergency.md).

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::classify::ConfigError;
use crate::config::{CallbackConfig, EmergencyConfig};
use crate::location::LocationInfo;
use crate::number::normalize_number;

#[derive(Debug, Clone, PartialEq, Eq)]
struct TenantElin {
    location_element: String,
    carried_element: Option<String>,
    default_elins: Vec<String>,
    locations: HashMap<String, Vec<String>>,
}

/// The compiled ELIN configuration of every tenant (immutable; rebuilt on reload).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElinPlan {
    tenants: HashMap<String, TenantElin>,
}

fn check_element(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::BadElin(format!("bad element name {name:?}")))
    }
}

fn elin_number(n: &str) -> Result<String, ConfigError> {
    normalize_number(n.as_bytes())
        .filter(|v| v.bytes().all(|b| b == b'+' || b.is_ascii_digit()))
        .ok_or_else(|| ConfigError::BadElin(format!("bad ELIN {n:?}")))
}

impl ElinPlan {
    /// Compiles the ELIN part of the configuration.
    pub fn new(cfg: &EmergencyConfig) -> Result<ElinPlan, ConfigError> {
        let mut tenants = HashMap::new();
        for t in &cfg.tenants {
            let Some(e) = &t.elin else { continue };
            check_element(&e.location_element)?;
            if let Some(c) = &e.carried_element {
                check_element(c)?;
            }
            let default_elins = e
                .default_elins
                .iter()
                .map(|n| elin_number(n))
                .collect::<Result<Vec<_>, _>>()?;
            let mut locations = HashMap::new();
            for l in &e.locations {
                let key = l.key.trim().to_owned();
                if key.is_empty() || l.elins.is_empty() {
                    return Err(ConfigError::BadElin(format!(
                        "tenant {:?}: location {:?} needs a key and at least one ELIN",
                        t.id, l.key
                    )));
                }
                let pool = l
                    .elins
                    .iter()
                    .map(|n| elin_number(n))
                    .collect::<Result<Vec<_>, _>>()?;
                let unique: HashSet<&String> = pool.iter().collect();
                if unique.len() != pool.len() {
                    return Err(ConfigError::BadElin(format!(
                        "location {key:?}: duplicate ELIN"
                    )));
                }
                if locations.insert(key.clone(), pool).is_some() {
                    return Err(ConfigError::BadElin(format!("location {key:?} twice")));
                }
            }
            tenants.insert(
                t.id.clone(),
                TenantElin {
                    location_element: e.location_element.clone(),
                    carried_element: e.carried_element.clone(),
                    default_elins,
                    locations,
                },
            );
        }
        Ok(ElinPlan { tenants })
    }

    /// True when `tenant` runs in ELIN mode.
    pub fn enabled(&self, tenant: &str) -> bool {
        self.tenants.contains_key(tenant)
    }

    /// The PIDF-LO elements to capture for `tenant`: (location key, carried ELIN).
    pub fn elements(&self, tenant: &str) -> (Option<&str>, Option<&str>) {
        match self.tenants.get(tenant) {
            Some(t) => (Some(&t.location_element), t.carried_element.as_deref()),
            None => (None, None),
        }
    }
}

/// Where the presented ELIN came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElinSource {
    /// Carried in the PIDF-LO (the configured element).
    Carried,
    /// The pool of the location key found in the PIDF-LO.
    Location,
    /// The tenant's default pool (location unknown, malformed or not configured).
    Default,
    /// No ELIN: ELIN mode off, or no pool applies; the caller's number is kept.
    None,
}

/// The calling number to present for an emergency call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedCaller {
    /// The number to put in From / P-Asserted-Identity (the ELIN, or the caller's own).
    pub number: String,
    /// The ELIN when one replaced the caller.
    pub elin: Option<String>,
    /// Where it came from.
    pub source: ElinSource,
}

/// A recognised PSAP callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// Whom to route the callback to (the original caller).
    pub route_to: String,
    /// The ELIN the PSAP dialed, when it was one.
    pub via_elin: Option<String>,
}

/// Counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Remembered callers.
    pub callers: usize,
    /// Live ELIN bindings.
    pub bindings: usize,
    /// Entries evicted because the store was full (oldest first).
    pub evicted: u64,
    /// Entries removed because their window passed.
    pub expired: u64,
    /// ELIN bindings overwritten by a newer caller within the window (pool exhausted).
    pub reused: u64,
}

/// (time in ms, sequence number): a total order even for equal times.
type Stamp = (u64, u64);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    Caller(String),
    Binding(String),
}

#[derive(Debug, Clone)]
struct Binding {
    caller: String,
    stamp: Stamp,
}

/// The callback memory (TI-41, TI-42). Owned by the call engine; survives config reloads.
#[derive(Debug, Clone)]
pub struct ElinStore {
    window_ms: u64,
    max_entries: usize,
    seq: u64,
    /// tenant \0 caller -> last emergency call.
    callers: HashMap<String, Stamp>,
    /// tenant \0 ELIN -> caller it stands for.
    bindings: HashMap<String, Binding>,
    /// tenant \0 ELIN -> last assignment (for the LRU choice; pruned with the window).
    elin_used: HashMap<String, Stamp>,
    /// Every caller and binding by age, for expiry and eviction.
    order: BTreeMap<Stamp, Slot>,
    stats: StoreStats,
}

fn key(tenant: &str, number: &str) -> String {
    let mut k = String::with_capacity(tenant.len() + 1 + number.len());
    k.push_str(tenant);
    k.push('\0');
    k.push_str(number);
    k
}

/// A number as stored and compared: normalised when it is one, else as given.
fn norm(n: &str) -> String {
    normalize_number(n.as_bytes()).unwrap_or_else(|| n.to_owned())
}

impl ElinStore {
    /// An empty store with the configured window and bound.
    pub fn new(cfg: &CallbackConfig) -> ElinStore {
        ElinStore {
            window_ms: cfg.window_secs.saturating_mul(1000),
            max_entries: cfg.max_entries.max(1),
            seq: 0,
            callers: HashMap::new(),
            bindings: HashMap::new(),
            elin_used: HashMap::new(),
            order: BTreeMap::new(),
            stats: StoreStats::default(),
        }
    }

    /// Applies a reloaded configuration: new window and bound; remembered callers are kept
    /// (only evicted if the new bound is smaller).
    pub fn reconfigure(&mut self, cfg: &CallbackConfig) {
        self.window_ms = cfg.window_secs.saturating_mul(1000);
        self.max_entries = cfg.max_entries.max(1);
        self.evict_to_bound();
    }

    /// Counters and sizes.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            callers: self.callers.len(),
            bindings: self.bindings.len(),
            ..self.stats
        }
    }

    fn live(&self, stamp: Stamp, now_ms: u64) -> bool {
        now_ms < stamp.0.saturating_add(self.window_ms)
    }

    fn stamp(&mut self, now_ms: u64) -> Stamp {
        self.seq += 1;
        (now_ms, self.seq)
    }

    /// Records an emergency call from `caller` of `tenant` and returns the number to present
    /// (TI-41): the ELIN when the tenant is in ELIN mode and a pool applies, else the caller.
    pub fn on_emergency_call(
        &mut self,
        plan: &ElinPlan,
        tenant: &str,
        caller: &str,
        location: Option<&LocationInfo>,
        now_ms: u64,
    ) -> PresentedCaller {
        // Expire first: ELINs whose window passed are free again for the LRU choice.
        self.expire(now_ms);
        let caller = norm(caller);
        let st = self.stamp(now_ms);
        let ck = key(tenant, &caller);
        if let Some(old) = self.callers.insert(ck.clone(), st) {
            self.order.remove(&old);
        }
        self.order.insert(st, Slot::Caller(ck));

        let chosen = plan.tenants.get(tenant).and_then(|t| {
            let carried = location
                .and_then(|l| l.carried_elin())
                .filter(|_| t.carried_element.is_some())
                .and_then(|e| elin_number(e).ok());
            if let Some(e) = carried {
                return Some((e, ElinSource::Carried));
            }
            let pool = location
                .and_then(|l| l.location_key())
                .and_then(|k| t.locations.get(k.expose().trim()));
            let (pool, source) = match pool {
                Some(p) => (p, ElinSource::Location),
                None if !t.default_elins.is_empty() => (&t.default_elins, ElinSource::Default),
                None => return None,
            };
            // Least recently used first; never used (or used before the window and pruned)
            // counts as oldest; ties keep the configured order (min_by_key takes the first).
            let e = pool
                .iter()
                .min_by_key(|e| self.elin_used.get(&key(tenant, e)).copied())?;
            Some((e.clone(), source))
        });

        let out = match chosen {
            Some((elin, source)) => {
                let bk = key(tenant, &elin);
                let bst = self.stamp(now_ms);
                let new = Binding {
                    caller: caller.clone(),
                    stamp: bst,
                };
                if let Some(old) = self.bindings.insert(bk.clone(), new) {
                    self.order.remove(&old.stamp);
                    if self.live(old.stamp, now_ms) && old.caller != caller {
                        self.stats.reused += 1;
                    }
                }
                self.order.insert(bst, Slot::Binding(bk.clone()));
                self.elin_used.insert(bk, bst);
                PresentedCaller {
                    number: elin.clone(),
                    elin: Some(elin),
                    source,
                }
            }
            None => PresentedCaller {
                number: caller,
                elin: None,
                source: ElinSource::None,
            },
        };
        self.evict_to_bound();
        out
    }

    /// Restarts the window for `caller` (e.g. when the emergency call ends, so the window
    /// covers the time after the call). Its ELIN bindings are refreshed too.
    pub fn refresh(&mut self, tenant: &str, caller: &str, now_ms: u64) {
        let caller = norm(caller);
        let ck = key(tenant, &caller);
        if !self.callers.contains_key(&ck) {
            return;
        }
        let st = self.stamp(now_ms);
        if let Some(old) = self.callers.insert(ck.clone(), st) {
            self.order.remove(&old);
        }
        self.order.insert(st, Slot::Caller(ck));
        let prefix = key(tenant, "");
        let mine: Vec<String> = self
            .bindings
            .iter()
            .filter(|(k, b)| k.starts_with(&prefix) && b.caller == caller)
            .map(|(k, _)| k.clone())
            .collect();
        for bk in mine {
            let st = self.stamp(now_ms);
            if let Some(b) = self.bindings.get_mut(&bk) {
                self.order.remove(&b.stamp);
                b.stamp = st;
            }
            self.order.insert(st, Slot::Binding(bk.clone()));
            self.elin_used.insert(bk, st);
        }
    }

    /// A PSAP callback to `called` (TI-41/TI-42): to an ELIN with a live binding -> the
    /// original (most recent) caller; to a number that itself made an emergency call within
    /// the window -> that number. `None` otherwise.
    pub fn callback(&self, tenant: &str, called: &str, now_ms: u64) -> Option<Callback> {
        let called = norm(called);
        let k = key(tenant, &called);
        if let Some(b) = self.bindings.get(&k).filter(|b| self.live(b.stamp, now_ms)) {
            return Some(Callback {
                route_to: b.caller.clone(),
                via_elin: Some(called),
            });
        }
        self.callers
            .get(&k)
            .filter(|&&st| self.live(st, now_ms))
            .map(|_| Callback {
                route_to: called,
                via_elin: None,
            })
    }

    /// TI-42: true when a call to `called` is a PSAP callback (bypasses screening and limits).
    pub fn is_callback(&self, tenant: &str, called: &str, now_ms: u64) -> bool {
        self.callback(tenant, called, now_ms).is_some()
    }

    /// Drops everything whose window has passed; returns how many entries went.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let mut n = 0;
        while let Some((&st, _)) = self.order.first_key_value() {
            if self.live(st, now_ms) {
                break;
            }
            if let Some((_, slot)) = self.order.pop_first() {
                self.remove_slot(&slot);
                n += 1;
            }
        }
        let window = self.window_ms;
        self.elin_used
            .retain(|_, st| now_ms < st.0.saturating_add(window));
        self.stats.expired += n as u64;
        n
    }

    fn remove_slot(&mut self, slot: &Slot) {
        match slot {
            Slot::Caller(k) => {
                self.callers.remove(k);
            }
            Slot::Binding(k) => {
                self.bindings.remove(k);
            }
        }
    }

    fn evict_to_bound(&mut self) {
        while self.callers.len() + self.bindings.len() > self.max_entries {
            let Some((_, slot)) = self.order.pop_first() else {
                break;
            };
            self.remove_slot(&slot);
            self.stats.evicted += 1;
        }
        // The LRU table only orders ELINs; bounded the same way (oldest dropped).
        while self.elin_used.len() > self.max_entries {
            let oldest = self
                .elin_used
                .iter()
                .min_by_key(|(_, st)| **st)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    self.elin_used.remove(&k);
                }
                None => break,
            }
        }
    }
}
