//! Hot reload (issue 5 part 6; architecture principle 13): `SIGHUP` and `POST /reload`
//! read the configuration again, build everything new off to the side (parse and validate,
//! number files, DNS, routing tables, emergency tables, TLS material), and only when all of
//! it succeeded swap it in at once:
//!
//! * the shards get the new routing generation (calls in progress keep the targets they were
//!   given; the gateway health map is the same object before and after, so health survives);
//! * the admission limits change in place (the counts of calls in progress stay);
//! * TLS profiles get their new certificate and trust bundle (old connections close once
//!   idle, TI-5).
//!
//! An invalid configuration is refused with its file, line and reason, and nothing changes.
//! Sections that only a restart can apply (listeners, admin, CDR, node, SIP timers, call
//! timers) are reported as such in the answer; the rest is applied.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sbc_b2bua::SharedAdmission;
use sbc_config::Config;
use sbc_policy::EdgeTarget;
use sbc_routing::HealthMap;
use sbc_transport::{TlsIdentity, TlsStore, TrustBundle};
use tokio::sync::watch;

use crate::routing::{self, Routing};
use crate::{engine, resolver};

/// What a reload swaps, and what the DNS refresh rebuilds from.
pub(crate) struct Reloader {
    source: Option<PathBuf>,
    current: Mutex<Arc<Config>>,
    /// The addresses the current routing was built from.
    resolved: Mutex<(engine::Resolved, Vec<EdgeTarget>)>,
    health: Arc<HealthMap>,
    router: watch::Sender<Routing>,
    adm: SharedAdmission,
    tls: Vec<(String, TlsStore)>,
    /// ELIN bindings and recent emergency callers: survive every reload (TI-41).
    elin: Arc<Mutex<sbc_emergency::ElinStore>>,
    /// One reload at a time.
    busy: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sections whose change needs a restart (compared by value).
fn restart_sections(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut v = Vec::new();
    let diff =
        |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") != format!("{b:?}");
    if diff(&old.listeners, &new.listeners) {
        v.push("listener");
    }
    if diff(&old.admin, &new.admin) {
        v.push("admin");
    }
    if diff(&old.cdr, &new.cdr) {
        v.push("cdr");
    }
    if diff(&old.node, &new.node) {
        v.push("node");
    }
    if diff(&old.sip, &new.sip) {
        v.push("sip");
    }
    let timers = |c: &Config| {
        let k = &c.calls;
        (
            k.retry_after_s,
            k.no_answer_timeout_s,
            k.session_expires_s,
            k.min_se_s,
            k.drain_timeout_s,
        )
    };
    if timers(old) != timers(new) {
        v.push("calls (timers)");
    }
    let names = |c: &Config| {
        c.tls_profiles
            .iter()
            .map(|p| p.name.get_ref().clone())
            .collect::<Vec<_>>()
    };
    if names(old) != names(new) {
        v.push("tls (profiles added or removed)");
    }
    v
}

/// Reads a profile's files into new TLS material (nothing swapped yet).
fn read_tls(cfg: &Config, name: &str) -> Result<Option<(TlsIdentity, TrustBundle)>, String> {
    let Some(p) = cfg.tls_profiles.iter().find(|p| p.name.get_ref() == name) else {
        return Ok(None);
    };
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let identity = TlsIdentity::from_pem(&read(&p.cert_chain)?, &read(&p.key)?)
        .map_err(|e| format!("tls profile {name}: {e}"))?;
    let trust = match &p.trust_bundle {
        Some(b) => TrustBundle::from_pem(&read(b)?),
        None => TrustBundle::from_pem(b""),
    }
    .map_err(|e| format!("tls profile {name}: {e}"))?;
    Ok(Some((identity, trust)))
}

impl Reloader {
    #[allow(clippy::too_many_arguments)] // built once, in start()
    pub(crate) fn new(
        source: Option<PathBuf>,
        cfg: Arc<Config>,
        resolved: (engine::Resolved, Vec<EdgeTarget>),
        health: Arc<HealthMap>,
        router: watch::Sender<Routing>,
        adm: SharedAdmission,
        tls: Vec<(String, TlsStore)>,
        elin: Arc<Mutex<sbc_emergency::ElinStore>>,
    ) -> Reloader {
        Reloader {
            source,
            current: Mutex::new(cfg),
            resolved: Mutex::new(resolved),
            health,
            router,
            adm,
            tls,
            elin,
            busy: tokio::sync::Mutex::new(()),
        }
    }

    /// The configuration in force.
    pub(crate) fn config(&self) -> Arc<Config> {
        lock(&self.current).clone()
    }

    /// Reads the configuration file again (the one `sbcd run --config` named) and applies
    /// it. Without a file (the embedded default) there is nothing new to read.
    pub(crate) async fn reload_from_source(&self) -> Result<String, String> {
        let cfg = match &self.source {
            Some(p) => Config::load(p).map_err(|e| format!("reload refused: {e}"))?,
            None => Config::embedded_default(),
        };
        self.apply(cfg).await
    }

    /// Builds everything from `new` off to the side, then swaps it in; on any error nothing
    /// changes. Returns what was applied and what needs a restart.
    pub(crate) async fn apply(&self, new: Config) -> Result<String, String> {
        let _one = self.busy.lock().await;
        let old = self.config();
        let dns = resolver(&new).map_err(|e| format!("reload refused: {e}"))?;
        let gateways = engine::resolve_all(&new, &dns).await;
        let edges = routing::resolve_edges(&new, &dns).await;
        let routing = routing::build(&new, &gateways, &edges, &self.health, &self.elin)
            .map_err(|e| format!("reload refused: {e}"))?;
        let mut tls = Vec::new();
        for (name, store) in &self.tls {
            if let Some(m) = read_tls(&new, name).map_err(|e| format!("reload refused: {e}"))? {
                tls.push((store, m));
            }
        }
        // Everything built: swap.
        for (store, (identity, trust)) in tls {
            // Built from the same bytes a moment ago; a failure here leaves that profile's
            // old material in place.
            if let Err(e) = store.reload(Some(identity), Some(trust)) {
                tracing::error!(error = %e, "TLS reload failed after validation");
            }
        }
        let _ = self.router.send(routing);
        lock(&self.elin).reconfigure(&new.emergency.callback);
        let (global, trunks) = engine::admission_limits(&new);
        self.adm.set_limits(global, trunks);
        self.health
            .retain(new.gateways.iter().map(|g| g.name.get_ref().as_str()));
        let restart = restart_sections(&old, &new);
        let msg = format!(
            "reloaded: {} tenants, {} gateways, {} gateway groups{}",
            new.tenants.len(),
            new.gateways.len(),
            new.gateway_groups.len(),
            if restart.is_empty() {
                String::new()
            } else {
                format!("; needs a restart to apply: {}", restart.join(", "))
            }
        );
        *lock(&self.resolved) = (gateways, edges);
        *lock(&self.current) = Arc::new(new);
        tracing::info!("{msg}");
        Ok(msg)
    }

    /// The periodic DNS refresh (TI-3): re-resolves gateway and edge names of the current
    /// configuration and rebuilds routing when an address changed. A name that failed this
    /// round keeps its last good addresses.
    pub(crate) async fn refresh_dns(&self) {
        let _one = self.busy.lock().await;
        let cfg = self.config();
        let Ok(dns) = resolver(&cfg) else {
            return;
        };
        let fresh = engine::resolve_all(&cfg, &dns).await;
        let mut edges = routing::resolve_edges(&cfg, &dns).await;
        let (mut next, old_edges) = lock(&self.resolved).clone();
        next.extend(fresh);
        let old_by_host: HashMap<&str, &EdgeTarget> =
            old_edges.iter().map(|e| (e.host.as_str(), e)).collect();
        for e in &mut edges {
            if e.peers.is_empty() {
                if let Some(o) = old_by_host.get(e.host.as_str()) {
                    e.peers = o.peers.clone();
                }
            }
        }
        let same = {
            let cur = lock(&self.resolved);
            cur.0 == next && cur.1 == edges
        };
        if same {
            return;
        }
        match routing::build(&cfg, &next, &edges, &self.health, &self.elin) {
            Ok(r) => {
                tracing::info!("gateway or edge addresses changed; new router");
                let _ = self.router.send(r);
                *lock(&self.resolved) = (next, edges);
            }
            Err(e) => tracing::error!(error = %e, "router rebuild failed; old one kept"),
        }
    }
}
