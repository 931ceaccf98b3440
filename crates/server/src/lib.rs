//! `sbc-server`: the driver that turns the pure cores into a running SBC.
//!
//! ```text
//!   transport (tokio) ──Event──▶ dispatcher ──by Call-ID──▶ shard 0..N
//!        ▲                                                   │ owns Endpoint (sbc-txn)
//!        └────────────── Transmit ◀──────────────────────────┘ and the local handler
//! ```
//!
//! * The transport task pool delivers parsed messages on one channel. The dispatcher picks a
//!   shard by a hash of the Call-ID, so every message of a call meets the same state, and
//!   each shard owns its transaction endpoint by `&mut` (architecture principle 3): no locks
//!   on the per-message path.
//! * A shard runs the sans-IO rule: after any input, drain `poll_transmit` and `poll_event`,
//!   then sleep until `poll_timeout`. Time is converted once per wake-up from tokio's clock
//!   to the cores' [`sbc_txn::Instant`].
//! * Sends on an existing path (UDP, or a stream connection the transport already has) are
//!   awaited inline; the transport reports failures, which go back to the endpoint as
//!   transport errors (RFC 3261 §17.1.4, §17.2.4).

pub mod admin;
pub mod cdr;
mod engine;
mod events;
mod health_router;
mod local;
pub mod media;
pub mod metrics;
pub mod notify;
pub mod probe;
mod probe_task;
mod reload;
mod routing;
mod shard;
mod tls;

use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sbc_config::{Config, TransportKind};
use sbc_sip::ParserConfig;
use sbc_transport::{
    Acl, ListenerConfig, OutboundConfig, Transport, TransportConfig, TransportHandle,
};
use tokio::sync::{mpsc, watch};

pub use probe_task::ProbeHandle;
pub use shard::ShardStats;

/// Why the server could not start.
#[derive(Debug)]
pub enum ServerError {
    /// TLS material could not be loaded.
    Tls(String),
    /// A listener could not be set up.
    Transport(String),
    /// The transaction layer refused the timer settings.
    Config(String),
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerError::Tls(e) => write!(f, "tls: {e}"),
            ServerError::Transport(e) => write!(f, "transport: {e}"),
            ServerError::Config(e) => write!(f, "config: {e}"),
        }
    }
}

impl std::error::Error for ServerError {}

/// What a started server exposes to its owner (the binary, or a test).
#[derive(Debug)]
pub struct ServerHandle {
    transport: TransportHandle,
    listeners: Vec<(String, TransportKind, SocketAddr)>,
    admin: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    draining: watch::Sender<bool>,
    draining_flag: Arc<AtomicBool>,
    calls: Arc<Vec<AtomicUsize>>,
    metrics: Arc<metrics::Metrics>,
    cdr: Option<cdr::CdrWriter>,
    events: Option<tokio::task::JoinHandle<()>>,
    reloader: Arc<reload::Reloader>,
    probe: ProbeHandle,
}

impl ServerHandle {
    /// The bound listeners: name, transport, local address (ports resolved when 0 was asked).
    pub fn listeners(&self) -> &[(String, TransportKind, SocketAddr)] {
        &self.listeners
    }

    /// Applies a new configuration (hot reload, see `reload.rs`): everything is built first
    /// and swapped at once; on error nothing changes. Returns what was applied.
    pub async fn reload(&self, cfg: Config) -> Result<String, String> {
        self.reloader.apply(cfg).await
    }

    /// Reads the configuration file `sbcd run --config` named again and applies it
    /// (`SIGHUP`).
    pub async fn reload_from_source(&self) -> Result<String, String> {
        self.reloader.reload_from_source().await
    }

    /// The configuration in force (after the last successful reload).
    pub fn config(&self) -> Arc<Config> {
        self.reloader.config()
    }

    /// The transport handle (connection table, counters).
    pub fn transport(&self) -> &TransportHandle {
        &self.transport
    }

    /// The admin listener's address, when enabled.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin
    }

    /// Metrics (shared with the shards).
    pub fn metrics(&self) -> &Arc<metrics::Metrics> {
        &self.metrics
    }

    /// The OPTIONS prober: gateway and Microsoft edge health (TI-9).
    pub fn probe(&self) -> &ProbeHandle {
        &self.probe
    }

    /// Calls in progress on all shards.
    pub fn active_calls(&self) -> usize {
        self.calls.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Graceful drain (architecture principle 14): new calls get 503 + Retry-After, health
    /// turns 503, calls in progress finish; returns when none is left or at `deadline`, with
    /// the number still up.
    pub async fn drain(&self, deadline: Duration) -> usize {
        self.draining_flag.store(true, Ordering::Relaxed);
        let _ = self.draining.send(true);
        let until = tokio::time::Instant::now() + deadline;
        loop {
            let n = self.active_calls();
            if n == 0 || tokio::time::Instant::now() >= until {
                return n;
            }
            tokio::time::sleep(events::DRAIN_POLL).await;
        }
    }

    /// Stops shards and transport, then flushes every CDR to disk.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        self.transport.shutdown();
        // The shards exit on the stop signal and drop their event senders; the consumer then
        // ends, and only then is the CDR writer closed, so no record is in flight.
        if let Some(ev) = self.events.take() {
            let _ = ev.await;
        }
        match self.cdr.take() {
            Some(w) => w.close().await,
            None => Ok(()),
        }
    }

    /// Stops without waiting (tests).
    pub fn abort(&self) {
        let _ = self.shutdown.send(true);
        self.transport.shutdown();
    }
}

fn to_transport(k: TransportKind) -> Transport {
    match k {
        TransportKind::Udp => Transport::Udp,
        TransportKind::Tcp => Transport::Tcp,
        TransportKind::Tls => Transport::Tls,
    }
}

fn parser_config(cfg: &Config) -> ParserConfig {
    ParserConfig {
        max_message_size: cfg.sip.max_message_size,
        max_headers: cfg.sip.max_headers,
        max_vias: cfg.sip.max_vias,
        max_line_len: cfg.sip.max_line_len,
    }
}

fn transport_config(
    cfg: &Config,
) -> Result<(TransportConfig, Vec<(String, sbc_transport::TlsStore)>), ServerError> {
    let stores = tls::load_profiles(cfg)?;
    let parser = parser_config(cfg);
    let mut listeners = Vec::new();
    for l in &cfg.listeners {
        let name = l.name.get_ref().clone();
        let mut lc = ListenerConfig::new(name.clone(), to_transport(l.transport), l.bind);
        let allow: Vec<String> = l.allow.iter().map(ToString::to_string).collect();
        let deny: Vec<String> = l.deny.iter().map(ToString::to_string).collect();
        lc.acl = Acl::parse(
            allow.iter().map(String::as_str),
            deny.iter().map(String::as_str),
        )
        .map_err(|e| ServerError::Transport(format!("listener {name}: {}", e.0)))?;
        lc.max_connections_per_source = l.max_connections_per_source;
        lc.max_concurrent_handshakes = l.max_concurrent_handshakes;
        lc.handshake_timeout = Duration::from_millis(l.handshake_timeout_ms);
        lc.idle_timeout = Duration::from_secs(l.idle_timeout_s);
        lc.header_read_timeout = Duration::from_millis(l.message_timeout_ms);
        lc.parser = parser;
        if let Some(profile) = &l.tls {
            let store = stores
                .iter()
                .find(|(n, _)| n == profile)
                .map(|(_, s)| s.clone())
                .ok_or_else(|| ServerError::Tls(format!("unknown profile {profile}")))?;
            lc.tls = Some(tls::server_config(store, l.client_auth));
        }
        listeners.push(lc);
    }
    let outbound = OutboundConfig {
        tls: stores.first().map(|(_, s)| s.clone()),
        parser,
        ..OutboundConfig::default()
    };
    let tc = TransportConfig {
        listeners,
        outbound,
        ..TransportConfig::default()
    };
    Ok((tc, stores))
}

/// Number of shards: one per core, at least one.
fn shard_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The shell's DNS resolver: configured name servers (or the system's), static hosts first.
fn resolver(cfg: &Config) -> Result<sbc_transport::resolve::DnsResolver, ServerError> {
    use sbc_transport::resolve::{DnsConfig, DnsResolver};
    let mut statics = sbc_dns::statics::StaticEntries::new();
    for h in &cfg.dns.hosts {
        let name = sbc_dns::Name::parse(&h.name)
            .map_err(|e| ServerError::Config(format!("dns.hosts {}: {e:?}", h.name)))?;
        statics.add_host(name, h.addresses.iter().copied());
    }
    let dcfg = DnsConfig {
        statics,
        nameservers: cfg.dns.nameservers.clone(),
        ..DnsConfig::default()
    };
    // Without name servers configured the system's resolv.conf is used; a machine without
    // one still runs with static entries and IP gateways only.
    match DnsResolver::new(dcfg.clone()) {
        Ok(r) => Ok(r),
        Err(e) => {
            tracing::warn!(error = %e, "no DNS resolver; static entries and IP addresses only");
            Ok(DnsResolver::offline(dcfg))
        }
    }
}

/// Re-resolves gateway and Microsoft edge names every `dns.refresh_s` (TI-3: at least
/// every 15 minutes) through the reloader, which rebuilds routing when an address changed;
/// calls in progress keep the targets they started with.
fn spawn_dns_refresh(reloader: Arc<reload::Reloader>, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            let every = Duration::from_secs(reloader.config().dns.refresh_s.max(1));
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
            reloader.refresh_dns().await;
        }
    });
}

/// The queue of an inbound event: answers to the prober's OPTIONS (their Call-ID carries its
/// prefix) go to queue `shards`, the prober's; B-side traffic carries our own Call-ID, which
/// names its shard; everything else is spread by a keyed hash of the Call-ID, so every
/// message of a call meets the same state.
fn shard_picker(shards: usize, probe_prefix: Arc<[u8]>) -> sbc_transport::Picker {
    let hasher = std::collections::hash_map::RandomState::new();
    Arc::new(move |ev: &sbc_transport::Event| {
        let key = match ev {
            sbc_transport::Event::Message(m) => {
                if probe::claims(&probe_prefix, &m.msg) {
                    return shards;
                }
                m.msg.call_id().unwrap_or(b"")
            }
            sbc_transport::Event::Error(_) => b"",
        };
        match sbc_b2bua::shard_of(key) {
            Some(s) => usize::from(s) % shards,
            None => {
                let mut h = hasher.build_hasher();
                h.write(key);
                (h.finish() % shards as u64) as usize
            }
        }
    })
}

/// Starts listeners and shards on the current tokio runtime.
pub async fn start(cfg: Config) -> Result<ServerHandle, ServerError> {
    start_with(cfg, None).await
}

/// [`start`], remembering the file the configuration came from: `SIGHUP` (through
/// [`ServerHandle::reload_from_source`]) and `POST /reload` read it again.
pub async fn start_with(cfg: Config, source: Option<PathBuf>) -> Result<ServerHandle, ServerError> {
    let (tcfg, tls_stores) = transport_config(&cfg)?;
    let n = shard_count();
    let probe_seed = shard::seed(usize::MAX);
    let probe_prefix: Arc<[u8]> = probe::call_id_prefix(probe_seed).into_bytes().into();
    // The transport's receiving tasks put every message straight into its shard's queue
    // (no dispatcher task in between: one thread hand-off per message, not two), the
    // prober's answers into one more queue. A full shard queue is back-pressure: the
    // transport stops reading streams and drops datagrams (counted there) rather than
    // growing memory without bound.
    let (transport, mut inbound) =
        TransportHandle::start_sharded(tcfg, n + 1, shard_picker(n, probe_prefix))
            .await
            .map_err(|e| ServerError::Transport(e.to_string()))?;
    let listeners: Vec<(String, TransportKind, SocketAddr)> = cfg
        .listeners
        .iter()
        .map(|l| {
            let name = l.name.get_ref().clone();
            let addr = transport.local_addr(&name).unwrap_or(l.bind);
            (name, l.transport, addr)
        })
        .collect();
    let (shutdown, shutdown_rx) = watch::channel(false);
    let cfg = Arc::new(cfg);
    // Contact/Via advertise the first UDP listener as bound (else the first listener).
    let signalling = listeners
        .iter()
        .find(|l| l.1 == TransportKind::Udp)
        .or(listeners.first())
        .map(|l| l.2)
        .ok_or_else(|| ServerError::Config("no listener".into()))?;
    let metrics = Arc::new(metrics::Metrics::new());
    let cdr = match &cfg.cdr.path {
        Some(path) => {
            let c = &cfg.cdr;
            let ccfg = cdr::CdrConfig {
                rotate_bytes: Some(c.rotate_bytes),
                rotate_interval: Some(Duration::from_secs(c.rotate_interval_s)),
                fsync_interval: Duration::from_millis(c.fsync_interval_ms),
                counters: metrics.cdr.clone(),
                ..cdr::CdrConfig::new(path.clone())
            };
            let w = cdr::CdrWriter::start(ccfg)
                .map_err(|e| ServerError::Config(format!("cdr {}: {e}", path.display())))?;
            Some(w)
        }
        None => None,
    };
    let epoch = tokio::time::Instant::now();
    let clock = events::Clock {
        wall_at_zero: std::time::SystemTime::now(),
    };
    let (ev_tx, ev_rx) = mpsc::channel(8192);
    let sinks = events::Sinks {
        node: cfg.node.name.clone(),
        cdr: cdr.as_ref().map(cdr::CdrWriter::sink),
        metrics: metrics.clone(),
        clock,
    };
    let events = tokio::spawn(events::consume(ev_rx, sinks));
    let (draining, draining_rx) = watch::channel(false);
    let dns = resolver(&cfg)?;
    let resolved = engine::resolve_all(&cfg, &dns).await;
    let edges = routing::resolve_edges(&cfg, &dns).await;
    let (probe, probe_route) = probe_task::spawn(probe_task::Setup {
        cfg: cfg.clone(),
        transport: transport.clone(),
        signalling,
        metrics: metrics.clone(),
        dns: dns.clone(),
        resolved: resolved.clone(),
        epoch,
        draining: draining_rx.clone(),
        stop: shutdown_rx.clone(),
        seed: probe_seed,
    })?;
    // One health map: the prober records into it, routing skips what it marks down, and
    // reloads keep it.
    let health = probe.gateway_health().clone();
    let elin = routing::elin_store(&cfg);
    let first =
        routing::build(&cfg, &resolved, &edges, &health, &elin).map_err(ServerError::Config)?;
    drop(dns);
    let router = first.router.clone();
    let (router_tx, router_rx) = watch::channel(first);
    let adm = engine::admission(&cfg);
    let reloader = Arc::new(reload::Reloader::new(
        source,
        cfg.clone(),
        (resolved, edges),
        health,
        router_tx,
        adm.clone(),
        tls_stores,
        elin,
    ));
    spawn_dns_refresh(reloader.clone(), shutdown_rx.clone());
    let calls: Arc<Vec<AtomicUsize>> = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
    let control = shard::Control {
        epoch,
        draining: draining_rx,
        calls: calls.clone(),
        metrics: metrics.clone(),
        router: router_rx,
    };
    let probe_rx = inbound.pop();
    // Media anchoring (issue 7): one port pool for the node, one body policy per shard.
    let media = match (cfg.media.enabled, cfg.media.address) {
        (true, Some(ip)) => Some((ip, media::pool(&cfg.media).map_err(ServerError::Config)?)),
        _ => None,
    };
    for (id, rx) in inbound.into_iter().enumerate() {
        let mut engine = engine::build(&cfg, router.clone(), signalling, id, &adm, shard::seed(id))
            .map_err(ServerError::Config)?;
        if let Some((ip, pool)) = &media {
            engine.set_body_policy(Arc::new(media::MediaAnchor::new(
                *ip,
                cfg.media.microsoft_trunks.clone(),
                pool.clone(),
                tokio::runtime::Handle::current(),
                id as u16,
            )));
        }
        let s = shard::Shard::new(
            id,
            cfg.clone(),
            engine,
            transport.clone(),
            rx,
            Some(ev_tx.clone()),
            control.clone(),
        )
        .map_err(ServerError::Config)?;
        tokio::spawn(s.run(shutdown_rx.clone()));
    }
    drop(ev_tx);
    let draining_flag = Arc::new(AtomicBool::new(false));
    let admin = match cfg.admin.listen {
        Some(addr) => {
            let m = metrics.clone();
            let t = transport.clone();
            let hooks = admin::AdminHooks::new(
                move || m.encode(Some(&t.stats())),
                {
                    let r = reloader.clone();
                    let rt = tokio::runtime::Handle::current();
                    move || rt.block_on(r.reload_from_source())
                },
                draining_flag.clone(),
            );
            let (bound, _task) = admin::AdminServer::start(addr, hooks)
                .await
                .map_err(|e| ServerError::Transport(format!("admin {addr}: {e}")))?;
            Some(bound)
        }
        None => None,
    };
    // The prober's queue: its answers go to it (anything else there is a stray).
    if let Some(mut rx) = probe_rx {
        let mut stop = shutdown_rx.clone();
        tokio::spawn(async move {
            loop {
                let ev = tokio::select! {
                    ev = rx.recv() => ev,
                    _ = stop.changed() => None,
                };
                let Some(ev) = ev else { break };
                if probe_route.offer(ev).is_some() {
                    tracing::debug!("stray message on the prober's queue dropped");
                }
            }
        });
    }
    Ok(ServerHandle {
        transport,
        listeners,
        admin,
        shutdown,
        draining,
        draining_flag,
        calls,
        metrics,
        cdr,
        events: Some(events),
        reloader,
        probe,
    })
}
