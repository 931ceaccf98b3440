//! Building each shard's call engine from the configuration.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sbc_b2bua::{
    Cidr, Engine, EngineConfig, Gateway, LegPolicy, Limits, SessionTimers, StaticRoute,
    StaticRouter,
};
use sbc_config::{Config, TransportKind};
use sbc_txn::{Peer, Transport};

fn peer(t: TransportKind, addr: SocketAddr) -> Peer {
    let t = match t {
        TransportKind::Udp => Transport::Udp,
        TransportKind::Tcp => Transport::Tcp,
        TransportKind::Tls => Transport::Tls,
    };
    Peer::new(t, addr)
}

/// The router compiled from `[[route]]` and `[[gateway]]`.
pub fn router(cfg: &Config) -> StaticRouter {
    let routes = cfg
        .routes
        .iter()
        .map(|r| StaticRoute {
            name: r.name.get_ref().clone(),
            sources: r
                .from
                .iter()
                .map(|n| Cidr::new(n.network(), n.prefix_len()))
                .collect(),
            gateways: r
                .gateways
                .iter()
                .filter_map(|g| cfg.gateway(g.get_ref()))
                .map(|g| Gateway {
                    peer: peer(g.transport, g.address),
                    trunk: g.name.get_ref().clone(),
                })
                .collect(),
        })
        .collect();
    StaticRouter::new(routes)
}

/// A node-wide limit split over `shards` (rounded up, at least 1).
fn per_shard(v: Option<u32>, shards: usize) -> Option<u32> {
    v.map(|v| v.div_ceil(shards as u32).max(1))
}

/// The engine configuration for one shard. `signalling` is the address the SBC advertises in
/// Contact and Via (the first UDP listener as bound).
pub fn engine_config(cfg: &Config, signalling: SocketAddr, shards: usize) -> EngineConfig {
    let leg = LegPolicy::udp(&signalling.to_string());
    let c = &cfg.calls;
    let mut e = EngineConfig {
        product: cfg.node.product.clone(),
        a_side: leg.clone(),
        b_side: leg,
        limits: Limits {
            max_calls: per_shard(c.max_calls, shards),
            cps: per_shard(c.max_cps, shards),
            burst: None,
        },
        retry_after: c.retry_after_s,
        no_answer: Duration::from_secs(c.no_answer_timeout_s),
        session_timers: (c.session_expires_s != 0).then_some(SessionTimers {
            interval: c.session_expires_s,
            min_se: c.min_se_s,
        }),
        ..EngineConfig::default()
    };
    for g in &cfg.gateways {
        if g.max_calls.is_some() || g.max_cps.is_some() {
            e.trunk_limits.insert(
                g.name.get_ref().clone(),
                Limits {
                    max_calls: per_shard(g.max_calls, shards),
                    cps: per_shard(g.max_cps, shards),
                    burst: None,
                },
            );
        }
    }
    e
}

/// One engine per shard, sharing the router.
pub fn build(
    cfg: &Config,
    signalling: SocketAddr,
    shard: usize,
    shards: usize,
    seed: u64,
) -> Result<Engine, String> {
    let router = Arc::new(router(cfg));
    Engine::with_seed(
        engine_config(cfg, signalling, shards),
        shard as u16,
        router,
        seed,
    )
    .map_err(|e| e.to_string())
}
