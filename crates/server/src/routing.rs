//! The router the shards use, built from the configuration and what DNS resolved: the
//! tenant-aware [`sbc_policy::CallPolicy`] when a `[teams]` trunk or tenants are configured
//! (with the `[[route]]` source routes as its fallback), else the plain source routes.
//! Rebuilt on DNS changes and reloads; gateway health ([`HealthMap`]) outlives every build.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use sbc_b2bua::Router;
use sbc_config::Config;
use sbc_emergency::ElinStore;
use sbc_policy::{CallPolicy, EdgeTarget, EmergencyContext, Resolved};
use sbc_routing::{HealthMap, Tables};
use sbc_transport::resolve::DnsResolver;
use sbc_txn::{Peer, Transport};

use crate::engine;
use crate::health_router::HealthRouter;

/// One generation of routing, handed to the shards as a whole.
#[derive(Debug, Clone)]
pub struct Routing {
    /// The engines' router.
    pub router: Arc<dyn Router>,
    /// TLS server names (SNI, TI-6) of the addresses we dial: the Microsoft edges.
    pub sni: Arc<HashMap<SocketAddr, String>>,
}

/// Resolves the Microsoft edges (static addresses for labs, else RFC 3263 on
/// `sip:<host>:<port>;transport=tls`, TI-3).
pub async fn resolve_edges(cfg: &Config, dns: &DnsResolver) -> Vec<EdgeTarget> {
    let Some(teams) = &cfg.teams else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in &teams.edges {
        let host = e.host.get_ref().clone();
        let peers = match e.address {
            Some(a) => vec![Peer::new(Transport::Tls, a)],
            None => {
                let uri = format!("sip:{host}:{};transport=tls", e.port);
                match dns.resolve_uri(uri.as_bytes()).await {
                    Ok(ts) => ts
                        .iter()
                        .map(|t| Peer::new(Transport::Tls, t.addr))
                        .collect(),
                    Err(err) => {
                        tracing::warn!(edge = %host, error = %err, "Microsoft edge does not resolve");
                        Vec::new()
                    }
                }
            }
        };
        out.push(EdgeTarget { host, peers });
    }
    out
}

/// Builds one generation. `Err` carries a readable reason (a reload refuses the config).
pub fn build(
    cfg: &Config,
    gateways: &engine::Resolved,
    edges: &[EdgeTarget],
    health: &Arc<HealthMap>,
    elin: &Arc<Mutex<ElinStore>>,
) -> Result<Routing, String> {
    let fallback = engine::router(cfg, gateways);
    if cfg.teams.is_none() && cfg.tenants.is_empty() {
        return Ok(Routing {
            router: Arc::new(HealthRouter::new(fallback, health.clone())),
            sni: Arc::new(HashMap::new()),
        });
    }
    let tables = Tables::build(cfg, health).map_err(|e| format!("routing tables: {e}"))?;
    let emergency = sbc_emergency::EmergencyPolicy::new(&cfg.emergency)
        .map_err(|e| format!("emergency: {e}"))?;
    let emergency = EmergencyContext {
        policy: Arc::new(emergency),
        store: elin.clone(),
        clock: Arc::new(wall_ms),
    };
    let resolved = Resolved {
        gateways: gateways.clone(),
        edges: edges.to_vec(),
    };
    let policy = CallPolicy::new(cfg, Arc::new(tables), &resolved, Some(emergency), fallback)
        .map_err(|e| e.to_string())?;
    let sni = edges
        .iter()
        .flat_map(|e| e.peers.iter().map(move |p| (p.addr, e.host.clone())))
        .collect();
    // The tables skip down gateways themselves (same health cells); the wrapper covers the
    // fallback source routes and the all-down answer.
    Ok(Routing {
        router: Arc::new(HealthRouter::new(policy, health.clone())),
        sni: Arc::new(sni),
    })
}

/// Wall-clock milliseconds (the ELIN callback window is real time and spans reloads).
fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The node's ELIN / callback memory (TI-41, TI-42): created once, kept across reloads.
pub fn elin_store(cfg: &Config) -> Arc<Mutex<ElinStore>> {
    Arc::new(Mutex::new(ElinStore::new(&cfg.emergency.callback)))
}
