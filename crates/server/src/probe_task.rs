//! The tokio shell around the pure [`crate::probe::Prober`]: sleeps until its next deadline,
//! sends its OPTIONS through the transport (TLS SNI = the edge dialled, TI-6), feeds it the
//! responses the dispatcher routes here ([`Route`]), follows drain (TI-9) and DNS changes
//! (TI-3), and publishes health to the metrics.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use sbc_config::Config;
use sbc_routing::HealthMap;
use sbc_transport::resolve::DnsResolver;
use sbc_transport::{Event as TEvent, Transmit as TTransmit, Transport, TransportHandle};
use sbc_txn::{Instant, Peer, Transport as TxnTransport};
use tokio::sync::{mpsc, watch};

use crate::engine::Resolved;
use crate::metrics::Metrics;
use crate::probe::{self, Prober, ProberConfig, Role, TargetStatus, TeamsIdentity};
use crate::ServerError;

/// Responses in flight to the prober; beyond it they are dropped (Timer F then decides).
const QUEUE: usize = 256;
/// TI-3: re-resolve the Microsoft names at least every 15 minutes.
const MAX_REFRESH: Duration = Duration::from_secs(15 * 60);

/// The dispatcher's side: takes the responses to the prober's OPTIONS.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    prefix: Arc<[u8]>,
    tx: Option<mpsc::Sender<TEvent>>,
}

impl Route {
    /// Keeps `ev` when it is a response to a probe (delivered to the prober, `None`);
    /// anything else is handed back for the shards.
    pub(crate) fn offer(&self, ev: TEvent) -> Option<TEvent> {
        let Some(tx) = &self.tx else {
            return Some(ev);
        };
        match &ev {
            TEvent::Message(m) if probe::claims(&self.prefix, &m.msg) => {
                // A full queue only loses a probe answer; the probe then times out.
                if tx.try_send(ev).is_err() {
                    tracing::debug!("prober queue full; OPTIONS response dropped");
                }
                None
            }
            _ => Some(ev),
        }
    }
}

/// What the server handle exposes of the prober.
#[derive(Debug, Clone)]
pub struct ProbeHandle {
    gateways: Arc<HealthMap>,
    edges: Arc<HealthMap>,
    status: Arc<Mutex<Vec<TargetStatus>>>,
}

impl ProbeHandle {
    /// Gateway health cells: hand this map to `sbc_routing::Tables::build` so routing skips
    /// the gateways the prober finds down (the map outlives table rebuilds).
    pub fn gateway_health(&self) -> &Arc<HealthMap> {
        &self.gateways
    }

    /// Microsoft edge health cells, by edge host (TI-18 ordering of sip/sip2/sip3).
    pub fn edge_health(&self) -> &Arc<HealthMap> {
        &self.edges
    }

    /// Every probed target's state as of the prober's last step.
    pub fn status(&self) -> Vec<TargetStatus> {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Everything the prober task needs from `start()`.
pub(crate) struct Setup {
    pub(crate) cfg: Arc<Config>,
    pub(crate) transport: TransportHandle,
    pub(crate) signalling: SocketAddr,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) dns: DnsResolver,
    pub(crate) resolved: Resolved,
    pub(crate) epoch: tokio::time::Instant,
    pub(crate) draining: watch::Receiver<bool>,
    pub(crate) stop: watch::Receiver<bool>,
    /// The prober's seed (its Call-ID prefix, [`probe::call_id_prefix`], is known to the
    /// transport's shard picker before the prober starts).
    pub(crate) seed: u64,
}

/// Starts the prober when the configuration asks for probes (a `[teams]` trunk, or a gateway
/// with `options`); returns the handle and the dispatcher's route.
pub(crate) fn spawn(s: Setup) -> Result<(ProbeHandle, Route), ServerError> {
    let handle = ProbeHandle {
        gateways: Arc::new(HealthMap::new()),
        edges: Arc::new(HealthMap::new()),
        status: Arc::new(Mutex::new(Vec::new())),
    };
    let seed = s.seed;
    let prefix: Arc<[u8]> = probe::call_id_prefix(seed).into_bytes().into();
    let resolved = &s.resolved;
    let targets = probe::targets(
        &s.cfg,
        &handle.gateways,
        &handle.edges,
        |_| None,
        |name| resolved.get(name).and_then(|p| p.first().copied()),
    );
    if targets.is_empty() {
        return Ok((handle, Route { prefix, tx: None }));
    }
    let sip = &s.cfg.sip;
    let pcfg = ProberConfig {
        txn: sbc_txn::Config {
            t1: Duration::from_millis(sip.t1_ms),
            t2: Duration::from_millis(sip.t2_ms),
            t4: Duration::from_millis(sip.t4_ms),
            ..sbc_txn::Config::default()
        },
        seed,
        sent_by: s.signalling.to_string(),
        user_agent: s.cfg.node.product.clone(),
        teams: s.cfg.teams.as_ref().map(|t| TeamsIdentity {
            base_fqdn: t.base_fqdn.get_ref().clone(),
            sbc_port: t.sbc_port,
            x_ms_sbc: t.x_ms_sbc(&s.cfg).to_owned(),
            interval: Duration::from_secs(u64::from(t.options_interval_s)),
        }),
    };
    let (tx, rx) = mpsc::channel(QUEUE);
    let (addr_tx, addr_rx) = mpsc::channel(64);
    let cfg = s.cfg.clone();
    let dns = s.dns.clone();
    let stop = s.stop.clone();
    let status = handle.status.clone();
    tokio::spawn(async move {
        // Resolve the edges before the first probe, so it does not fail for want of DNS.
        let mut targets = targets;
        for (name, addr) in resolve_edges(&cfg, &dns).await {
            if let Some(t) = targets.iter_mut().find(|t| t.name == name) {
                t.addr = t.addr.or(addr);
            }
        }
        let now = Instant::from_duration(s.epoch.elapsed());
        let prober = match Prober::new(pcfg, targets, now) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "OPTIONS prober not started");
                return;
            }
        };
        spawn_refresh(cfg, dns, addr_tx, stop);
        let task = Task {
            published: prober
                .status()
                .map(|st| Published::new(&s.metrics, &st))
                .collect(),
            prober,
            transport: s.transport,
            rx,
            addr_rx,
            epoch: s.epoch,
            status,
        };
        task.run(s.draining, s.stop).await;
    });
    Ok((
        handle,
        Route {
            prefix,
            tx: Some(tx),
        },
    ))
}

/// The metric series of one target and what was already added to its counters.
struct Published {
    up: Gauge,
    sent: Counter,
    failed: Counter,
    last_sent: u64,
    last_failed: u64,
}

impl Published {
    fn new(m: &Metrics, st: &TargetStatus) -> Published {
        Published {
            up: match st.role {
                Role::Gateway => m.gateway_up(&st.name),
                Role::Edge => m.teams_edge_up(&st.name),
            },
            sent: m.options_probes(&st.name),
            failed: m.options_probe_failures(&st.name),
            last_sent: 0,
            last_failed: 0,
        }
    }

    fn update(&mut self, st: &TargetStatus) {
        self.up.set(i64::from(st.up));
        self.sent.inc_by(st.sent.saturating_sub(self.last_sent));
        self.failed
            .inc_by(st.failed.saturating_sub(self.last_failed));
        self.last_sent = st.sent;
        self.last_failed = st.failed;
    }
}

struct Task {
    prober: Prober,
    transport: TransportHandle,
    rx: mpsc::Receiver<TEvent>,
    addr_rx: mpsc::Receiver<(String, Option<SocketAddr>)>,
    epoch: tokio::time::Instant,
    published: Vec<Published>,
    status: Arc<Mutex<Vec<TargetStatus>>>,
}

impl Task {
    fn now(&self) -> Instant {
        Instant::from_duration(self.epoch.elapsed())
    }

    async fn run(mut self, mut draining: watch::Receiver<bool>, mut stop: watch::Receiver<bool>) {
        self.prober.set_draining(*draining.borrow_and_update());
        loop {
            self.send().await;
            self.publish();
            let deadline = self
                .prober
                .poll_timeout()
                .map(|t| self.epoch + t.as_duration());
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ev = self.rx.recv() => match ev {
                    Some(TEvent::Message(m)) => {
                        let from = Peer::new(to_txn(m.peer.transport), m.peer.remote);
                        let now = self.now();
                        self.prober.handle_message(now, m.msg, from);
                    }
                    Some(TEvent::Error(_)) => {}
                    None => break,
                },
                () = sleep => {
                    let now = self.now();
                    self.prober.handle_timeout(now);
                }
                Some((name, addr)) = self.addr_rx.recv() => self.prober.set_addr(&name, addr),
                Ok(()) = draining.changed() => {
                    let on = *draining.borrow_and_update();
                    tracing::info!(draining = on, "OPTIONS toward Microsoft {}", if on { "stopped" } else { "resumed" });
                    self.prober.set_draining(on);
                }
                _ = stop.changed() => break,
            }
        }
    }

    async fn send(&mut self) {
        while let Some(t) = self.prober.poll_transmit() {
            let transport = match t.to.transport {
                TxnTransport::Udp => Transport::Udp,
                TxnTransport::Tcp => Transport::Tcp,
                TxnTransport::Tls => Transport::Tls,
                _ => continue,
            };
            let mut tx = TTransmit::new(transport, t.to.addr, t.bytes);
            tx.server_name = t.server_name;
            if let Err(e) = self.transport.send(tx).await {
                tracing::debug!(error = %e, to = %t.to, "OPTIONS send failed");
                if let Some(txn) = t.txn {
                    let now = self.now();
                    self.prober.handle_transport_error(now, txn);
                }
            }
        }
    }

    fn publish(&mut self) {
        while let Some((name, up)) = self.prober.poll_change() {
            if up {
                tracing::info!(target_name = %name, "OPTIONS: peer up");
            } else {
                tracing::warn!(target_name = %name, "OPTIONS: peer down");
            }
        }
        let status: Vec<TargetStatus> = self.prober.status().collect();
        for (p, st) in self.published.iter_mut().zip(&status) {
            p.update(st);
        }
        *self.status.lock().unwrap_or_else(|e| e.into_inner()) = status;
    }
}

fn to_txn(t: Transport) -> TxnTransport {
    match t {
        Transport::Udp => TxnTransport::Udp,
        Transport::Tcp => TxnTransport::Tcp,
        Transport::Tls => TxnTransport::Tls,
    }
}

/// Resolves every `[teams]` edge without a static address (TI-3: by DNS, never pinned).
async fn resolve_edges(cfg: &Config, dns: &DnsResolver) -> Vec<(String, Option<SocketAddr>)> {
    let mut out = Vec::new();
    let Some(teams) = &cfg.teams else { return out };
    for e in teams.edges.iter().filter(|e| e.address.is_none()) {
        let host = e.host.get_ref();
        let uri = format!("sip:{host}:{};transport=tls", e.port);
        let addr = match dns.resolve_uri(uri.as_bytes()).await {
            Ok(t) => t.first().map(|t| t.addr),
            Err(err) => {
                tracing::warn!(edge = %host, error = %err, "Microsoft edge does not resolve");
                None
            }
        };
        out.push((host.clone(), addr));
    }
    out
}

/// Re-resolves the edges and probed gateways every `dns.refresh_s` (at most 15 minutes) and
/// sends the prober what changed. A name that fails keeps its last address.
fn spawn_refresh(
    cfg: Arc<Config>,
    dns: DnsResolver,
    tx: mpsc::Sender<(String, Option<SocketAddr>)>,
    mut stop: watch::Receiver<bool>,
) {
    let every = Duration::from_secs(cfg.dns.refresh_s).min(MAX_REFRESH);
    let names = cfg
        .teams
        .as_ref()
        .is_some_and(|t| t.edges.iter().any(|e| e.address.is_none()))
        || cfg
            .gateways
            .iter()
            .any(|g| g.options.is_some() && g.address.parse::<SocketAddr>().is_err());
    if !names || every.is_zero() {
        return;
    }
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
            let mut fresh: Vec<(String, Option<SocketAddr>)> = resolve_edges(&cfg, &dns)
                .await
                .into_iter()
                .filter(|(_, a)| a.is_some())
                .collect();
            let gws = crate::engine::resolve_all(&cfg, &dns).await;
            for g in cfg.gateways.iter().filter(|g| g.options.is_some()) {
                let name = g.name.get_ref();
                if let Some(p) = gws.get(name).and_then(|p| p.first()) {
                    fresh.push((name.clone(), Some(p.addr)));
                }
            }
            for u in fresh {
                if tx.send(u).await.is_err() {
                    return;
                }
            }
        }
    });
}
