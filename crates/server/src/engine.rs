//! Building each shard's call engine from the configuration.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sbc_b2bua::{
    Cidr, Engine, EngineConfig, Gateway, LegPolicy, Limits, ReferMode, SessionTimers,
    SharedAdmission, StaticRoute, StaticRouter,
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

/// Each gateway's resolved peers, in failover order (RFC 3263), by gateway name.
pub type Resolved = std::collections::HashMap<String, Vec<Peer>>;

/// The router compiled from `[[route]]` and `[[gateway]]`, with every gateway expanded to
/// its resolved addresses (each tried in turn by serial failover, same trunk name).
pub fn router(cfg: &Config, resolved: &Resolved) -> StaticRouter {
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
                .flat_map(|g| {
                    let name = g.name.get_ref().clone();
                    resolved
                        .get(&name)
                        .into_iter()
                        .flatten()
                        .map(move |p| Gateway {
                            peer: *p,
                            trunk: name.clone(),
                        })
                })
                .collect(),
        })
        .collect();
    StaticRouter::new(routes)
}

fn limits(max_calls: Option<u32>, cps: Option<u32>) -> Limits {
    Limits {
        max_calls,
        cps,
        burst: None,
        reserved: 0,
    }
}

/// The node's admission counters (`[calls]` limits and each gateway's limits), shared by
/// every shard's engine so node-wide limits hold exactly whatever the shard count.
pub fn admission(cfg: &Config) -> SharedAdmission {
    let c = &cfg.calls;
    let trunks = cfg
        .gateways
        .iter()
        .filter(|g| g.max_calls.is_some() || g.max_cps.is_some())
        .map(|g| (g.name.get_ref().clone(), limits(g.max_calls, g.max_cps)))
        .chain(
            cfg.tenants
                .iter()
                .filter(|t| t.max_calls.is_some() || t.max_cps.is_some())
                .map(|t| {
                    (
                        sbc_b2bua::tenant_key(t.id.get_ref()),
                        limits(t.max_calls, t.max_cps),
                    )
                }),
        )
        .collect();
    SharedAdmission::new(limits(c.max_calls, c.max_cps), trunks)
}

/// The engine configuration for one shard. `signalling` is the address the SBC advertises in
/// Contact and Via (the first UDP listener as bound). Limits live in [`admission`].
pub fn engine_config(cfg: &Config, signalling: SocketAddr) -> EngineConfig {
    let leg = LegPolicy::udp(&signalling.to_string());
    let c = &cfg.calls;
    let mut e = EngineConfig {
        product: cfg.node.product.clone(),
        a_side: leg.clone(),
        b_side: leg.clone(),
        retry_after: c.retry_after_s,
        no_answer: Duration::from_secs(c.no_answer_timeout_s),
        session_timers: (c.session_expires_s != 0).then_some(SessionTimers {
            interval: c.session_expires_s,
            min_se: c.min_se_s,
        }),
        ..EngineConfig::default()
    };
    // Gateways: 100rel as configured (RFC 3262 terminated per leg).
    for g in &cfg.gateways {
        let mut p = leg.clone();
        p.prack = g.rel100 != sbc_config::Rel100::Disabled;
        e.trunks.insert(g.name.get_ref().clone(), p);
    }
    // The Microsoft side (TI-14..TI-17, TI-26): our Contact on the base FQDN (the tenant's
    // replaces it per call), no 100rel/UPDATE, X-MS-SBC on everything; REFER listed and
    // handled on one trunk name, left out (Microsoft transfers itself) on the other; the
    // policy picks the name by the tenant's effective `refer`.
    if let Some(t) = &cfg.teams {
        let base = t.base_fqdn.get_ref();
        for mode in [
            sbc_config::ReferMode::Handle,
            sbc_config::ReferMode::Microsoft,
        ] {
            let handle = mode == sbc_config::ReferMode::Handle;
            let mut allow = String::from("INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY");
            if handle {
                allow.push_str(", REFER");
            }
            let p = LegPolicy {
                contact: format!("sip:{base}:{};transport=tls", t.sbc_port),
                sent_by: format!("{base}:{}", t.sbc_port),
                allow,
                prack: false,
                refresh_with_update: false,
                add_headers: vec![("X-MS-SBC".into(), t.x_ms_sbc(cfg).to_owned())],
                headers: None,
                refer: if handle {
                    ReferMode::Terminate
                } else {
                    ReferMode::Reject
                },
            };
            e.trunks.insert(sbc_policy::teams_trunk(mode).to_owned(), p);
        }
    }
    e
}

/// One engine per shard, sharing the router and the admission counters.
pub fn build(
    cfg: &Config,
    router: Arc<dyn sbc_b2bua::Router>,
    signalling: SocketAddr,
    shard: usize,
    adm: &SharedAdmission,
    seed: u64,
) -> Result<Engine, String> {
    let mut e = Engine::with_seed(engine_config(cfg, signalling), shard as u16, router, seed)
        .map_err(|e| e.to_string())?;
    e.share_admission(adm.clone());
    Ok(e)
}

/// The SIP URI the resolver is given for a gateway.
pub fn uri_of(g: &sbc_config::Gateway) -> String {
    let t = match g.transport {
        TransportKind::Udp => "udp",
        TransportKind::Tcp => "tcp",
        TransportKind::Tls => "tls",
    };
    format!("sip:{};transport={t}", g.address)
}

/// Resolves every gateway (RFC 3263 through the shell's resolver; static entries first). A
/// gateway that does not resolve is left out, logged, and retried at the next refresh.
pub async fn resolve_all(cfg: &Config, dns: &sbc_transport::resolve::DnsResolver) -> Resolved {
    let mut out = Resolved::new();
    for g in &cfg.gateways {
        let name = g.name.get_ref().clone();
        if let Ok(addr) = g.address.parse::<SocketAddr>() {
            out.insert(name, vec![peer(g.transport, addr)]);
            continue;
        }
        match dns.resolve_uri(uri_of(g).as_bytes()).await {
            Ok(targets) => {
                let peers = targets
                    .iter()
                    .map(|t| {
                        let k = match t.transport {
                            sbc_dns::Transport::Tcp => TransportKind::Tcp,
                            sbc_dns::Transport::Tls => TransportKind::Tls,
                            sbc_dns::Transport::Udp => TransportKind::Udp,
                        };
                        peer(k, t.addr)
                    })
                    .collect();
                out.insert(name, peers);
            }
            Err(e) => tracing::warn!(gateway = %name, error = %e, "gateway does not resolve"),
        }
    }
    out
}
