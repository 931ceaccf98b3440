//! Gateway health, kept outside the immutable tables so a table swap (reload) keeps it.
//!
//! [`HealthMap`] hands out one [`GatewayHealth`] per gateway *name*; every table built with the
//! same map shares those cells, so the OPTIONS prober and the call path see one state across
//! reloads. Selection reads one atomic per candidate: no lock, no allocation.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use sbc_config::OptionsProbe;

/// The health of one gateway. New gateways start up, so calls flow before the first probe.
#[derive(Debug)]
pub struct GatewayHealth {
    up: AtomicBool,
    ok_streak: AtomicU32,
    fail_streak: AtomicU32,
}

impl Default for GatewayHealth {
    fn default() -> Self {
        GatewayHealth {
            up: AtomicBool::new(true),
            ok_streak: AtomicU32::new(0),
            fail_streak: AtomicU32::new(0),
        }
    }
}

impl GatewayHealth {
    /// True when calls may be sent to the gateway.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Forces the state (admin action, or a transport failure the engine treats as fatal).
    /// Resets the probe streaks.
    pub fn set_up(&self, up: bool) {
        self.ok_streak.store(0, Ordering::Relaxed);
        self.fail_streak.store(0, Ordering::Relaxed);
        self.up.store(up, Ordering::Relaxed);
    }

    /// Records one OPTIONS probe result (any final response = answered; timeout or transport
    /// error = failed). A down gateway comes up after `up_threshold` answered probes in a row,
    /// an up one goes down after `down_threshold` failures in a row. Returns the new state
    /// when it changed. Meant for one prober per gateway.
    pub fn record_probe(&self, answered: bool, probe: &OptionsProbe) -> Option<bool> {
        let (streak, other, threshold) = if answered {
            (&self.ok_streak, &self.fail_streak, probe.up_threshold)
        } else {
            (&self.fail_streak, &self.ok_streak, probe.down_threshold)
        };
        other.store(0, Ordering::Relaxed);
        let n = streak.load(Ordering::Relaxed).saturating_add(1);
        streak.store(n, Ordering::Relaxed);
        if self.is_up() != answered && n >= threshold.max(1) {
            self.up.store(answered, Ordering::Relaxed);
            return Some(answered);
        }
        None
    }
}

/// Health cells by gateway name, shared by every table generation.
#[derive(Default)]
pub struct HealthMap {
    cells: Mutex<HashMap<String, Arc<GatewayHealth>>>,
}

impl fmt::Debug for HealthMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthMap")
            .field("gateways", &self.snapshot())
            .finish()
    }
}

impl HealthMap {
    /// An empty map.
    pub fn new() -> HealthMap {
        HealthMap::default()
    }

    /// The cell of `name`, created (up) on first use. Table builds call this once per gateway.
    pub fn cell(&self, name: &str) -> Arc<GatewayHealth> {
        // A poisoned lock only means another thread panicked mid-insert; the map is still whole.
        let mut m = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(m.entry(name.to_owned()).or_default())
    }

    /// The cell of `name` if a table ever used it.
    pub fn get(&self, name: &str) -> Option<Arc<GatewayHealth>> {
        let m = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        m.get(name).cloned()
    }

    /// Every gateway and whether it is up, sorted by name (metrics, admin API).
    pub fn snapshot(&self) -> Vec<(String, bool)> {
        let m = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<(String, bool)> = m.iter().map(|(k, h)| (k.clone(), h.is_up())).collect();
        v.sort();
        v
    }

    /// Drops cells no longer named by `keep` (after a reload removed gateways).
    pub fn retain<'a>(&self, keep: impl IntoIterator<Item = &'a str>) {
        let keep: std::collections::HashSet<&str> = keep.into_iter().collect();
        let mut m = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|k, _| keep.contains(k.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_debounce_transitions() {
        let p = OptionsProbe {
            interval_s: 30,
            up_threshold: 2,
            down_threshold: 3,
        };
        let h = GatewayHealth::default();
        assert!(h.is_up());
        assert_eq!(h.record_probe(false, &p), None);
        assert_eq!(h.record_probe(false, &p), None);
        assert_eq!(
            h.record_probe(true, &p),
            None,
            "an answer resets the failure streak"
        );
        assert_eq!(h.record_probe(false, &p), None);
        assert_eq!(h.record_probe(false, &p), None);
        assert_eq!(h.record_probe(false, &p), Some(false));
        assert!(!h.is_up());
        assert_eq!(h.record_probe(false, &p), None);
        assert_eq!(h.record_probe(true, &p), None);
        assert_eq!(h.record_probe(true, &p), Some(true));
        assert!(h.is_up());
        h.set_up(false);
        assert!(!h.is_up());
    }

    #[test]
    fn cells_are_shared_by_name() {
        let m = HealthMap::new();
        let a = m.cell("gw");
        a.set_up(false);
        assert!(!m.cell("gw").is_up());
        assert!(m.get("other").is_none());
        m.cell("other");
        assert_eq!(
            m.snapshot(),
            [("gw".to_owned(), false), ("other".to_owned(), true)]
        );
        m.retain(["gw"]);
        assert!(m.get("other").is_none() && m.get("gw").is_some());
    }
}
