//! One shard: a transaction endpoint and what sits above it, owned by one task.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sbc_b2bua::{Engine, EngineEvent};
use sbc_config::Config;
use sbc_transport::{Event as TEvent, Transmit as TTransmit, Transport, TransportHandle};
use sbc_txn::{Dispatch, Endpoint, Instant, Peer, Transport as TxnTransport};
use tokio::sync::{mpsc, watch};

use crate::local::{self, LocalPolicy};

/// What the server shares with every shard.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    /// The cores' `Instant::ZERO`, common to all shards so engine times convert to UTC alike.
    pub(crate) epoch: tokio::time::Instant,
    /// True while draining.
    pub(crate) draining: watch::Receiver<bool>,
    /// Calls in progress, per shard.
    pub(crate) calls: Arc<Vec<std::sync::atomic::AtomicUsize>>,
    /// Metrics.
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
    /// The current routing (replaced when names re-resolve to new addresses or on reload).
    pub(crate) router: watch::Receiver<crate::routing::Routing>,
}

/// Counters a shard keeps (exported as metrics by the admin listener).
#[derive(Debug, Default)]
pub struct ShardStats {
    /// Messages handled.
    pub messages: AtomicU64,
    /// Transmits that failed.
    pub send_errors: AtomicU64,
}

pub(crate) struct Shard {
    id: usize,
    ep: Endpoint,
    transport: TransportHandle,
    rx: mpsc::Receiver<TEvent>,
    epoch: tokio::time::Instant,
    local: LocalPolicy,
    engine: Engine,
    events: Option<mpsc::Sender<EngineEvent>>,
    control: Control,
    active_txns: i64,
    active_calls: i64,
    /// The endpoint's retransmission count already added to the metric.
    retransmissions: u64,
    /// The `trunk="all"` active-calls gauge and this shard's queue-depth gauge, looked up
    /// once (a lookup per wake-up costs a label allocation and a map search).
    calls_gauge: prometheus_client::metrics::gauge::Gauge,
    queue_gauge: prometheus_client::metrics::gauge::Gauge,
    stats: Arc<ShardStats>,
    /// TLS server names of the addresses we dial (from the current routing).
    sni: Arc<std::collections::HashMap<std::net::SocketAddr, String>>,
}

/// Queued messages handled per wake-up before the shard looks at its timers and control
/// channels again (bounded so timers still fire on time under a flood).
const BATCH: usize = 64;

fn to_txn(t: Transport) -> TxnTransport {
    match t {
        Transport::Udp => TxnTransport::Udp,
        Transport::Tcp => TxnTransport::Tcp,
        Transport::Tls => TxnTransport::Tls,
    }
}

fn from_txn(t: TxnTransport) -> Option<Transport> {
    match t {
        TxnTransport::Udp => Some(Transport::Udp),
        TxnTransport::Tcp => Some(Transport::Tcp),
        TxnTransport::Tls => Some(Transport::Tls),
        _ => None,
    }
}

impl Shard {
    pub(crate) fn new(
        id: usize,
        cfg: Arc<Config>,
        engine: Engine,
        transport: TransportHandle,
        rx: mpsc::Receiver<TEvent>,
        events: Option<mpsc::Sender<EngineEvent>>,
        control: Control,
    ) -> Result<Shard, String> {
        let tcfg = sbc_txn::Config {
            t1: Duration::from_millis(cfg.sip.t1_ms),
            t2: Duration::from_millis(cfg.sip.t2_ms),
            t4: Duration::from_millis(cfg.sip.t4_ms),
            // Stateless To tags must differ per node and restart.
            tag_seed: seed(id),
            ..sbc_txn::Config::default()
        };
        let ep = Endpoint::new(tcfg).map_err(|e| e.to_string())?;
        let sni = control.router.borrow().sni.clone();
        let calls_gauge = control.metrics.trunk("all").active;
        let queue_gauge = control.metrics.shard_queue_depth(id as u32);
        Ok(Shard {
            id,
            ep,
            transport,
            rx,
            epoch: control.epoch,
            local: LocalPolicy::from_config(&cfg),
            engine,
            events,
            control,
            active_txns: 0,
            active_calls: 0,
            retransmissions: 0,
            calls_gauge,
            queue_gauge,
            stats: Arc::new(ShardStats::default()),
            sni,
        })
    }

    fn now(&self) -> Instant {
        Instant::from_duration(self.epoch.elapsed())
    }

    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        tracing::debug!(shard = self.id, "shard started");
        let mut draining = self.control.draining.clone();
        let mut router = self.control.router.clone();
        // One timer for the shard's life, moved only when the next deadline changes:
        // creating a fresh sleep per wake-up registers and cancels a timer per message.
        // `far` stands for "no deadline"; `armed` is what the timer is set to (None after
        // it fired, so it is always set again before the next wait).
        let far = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
        let mut armed = Some(far);
        let sleep = tokio::time::sleep_until(far);
        tokio::pin!(sleep);
        loop {
            let next = match (self.ep.poll_timeout(), self.engine.poll_timeout()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let want = next.map_or(far, |t| self.epoch + t.as_duration());
            if armed != Some(want) {
                sleep.as_mut().reset(want);
                armed = Some(want);
            }
            tokio::select! {
                ev = self.rx.recv() => match ev {
                    Some(ev) => {
                        self.handle_event(ev);
                        self.drain().await;
                        // More already queued: handle them in this wake-up, each drained
                        // before the next as above (same order, same outputs).
                        for _ in 1..BATCH {
                            let Ok(ev) = self.rx.try_recv() else { break };
                            self.handle_event(ev);
                            self.drain().await;
                        }
                    }
                    None => break,
                },
                () = &mut sleep => {
                    // Fired: re-arm from the cores' next deadline on the next turn.
                    armed = None;
                    let now = self.now();
                    self.guarded(|engine, ep, _| {
                        ep.handle_timeout(now);
                        engine.drain_endpoint_events(now, ep);
                        engine.handle_timeout(now, ep);
                    });
                    self.drain().await;
                }
                _ = stop.changed() => break,
                Ok(()) = router.changed() => {
                    let r = router.borrow_and_update().clone();
                    self.engine.set_router(r.router);
                    self.sni = r.sni;
                    self.drain().await;
                }
                Ok(()) = draining.changed() => {
                    // Drain: new calls get 503 + Retry-After; calls in progress go on.
                    let on = *draining.borrow();
                    self.engine.set_draining(on);
                    self.drain().await;
                }
            }
            self.publish();
        }
    }

    fn handle_event(&mut self, ev: TEvent) {
        self.stats.messages.fetch_add(1, Ordering::Relaxed);
        let now = self.now();
        match ev {
            TEvent::Message(m) => {
                let from = Peer::new(to_txn(m.peer.transport), m.peer.remote);
                self.guarded(
                    |engine, ep, local| match ep.handle_message(now, m.msg, from) {
                        Dispatch::Incoming(inc) => {
                            if let Some(inc) = local::handle(ep, inc, local) {
                                engine.handle_dispatch(now, ep, Dispatch::Incoming(inc));
                            }
                        }
                        d => engine.handle_dispatch(now, ep, d),
                    },
                );
            }
            TEvent::Error(e) => {
                self.control.metrics.parse_error(e.error.kind.as_str());
                tracing::debug!(peer = %e.peer.remote, error = %e.error, "unparseable message");
            }
        }
    }

    /// Runs core processing, containing a panic (architecture principle 10: input never
    /// panics, and if a bug does, it costs that input, not the shard): the panic is logged and
    /// counted and the shard goes on with its other calls.
    /// Then the engine ends the call the input concerned (500 / BYE to its legs), itself
    /// contained: that call's state may be what is broken.
    fn guarded(&mut self, f: impl FnOnce(&mut Engine, &mut Endpoint, &LocalPolicy)) {
        use std::panic::{catch_unwind, AssertUnwindSafe};
        let (engine, ep, local) = (&mut self.engine, &mut self.ep, &self.local);
        if catch_unwind(AssertUnwindSafe(|| f(engine, ep, local))).is_err() {
            self.control.metrics.panics.inc();
            let now = Instant::from_duration(self.epoch.elapsed());
            match catch_unwind(AssertUnwindSafe(|| engine.recover_after_panic(now, ep))) {
                Ok(call) => tracing::error!(
                    shard = self.id,
                    ?call,
                    "panic in call processing contained; the call concerned was ended"
                ),
                Err(_) => tracing::error!(
                    shard = self.id,
                    "panic in call processing contained; ending its call panicked too"
                ),
            }
        }
    }

    async fn drain(&mut self) {
        loop {
            let now = self.now();
            self.guarded(|engine, ep, _| engine.drain_endpoint_events(now, ep));
            while let Some(ev) = self.engine.poll_event() {
                self.engine_event(ev).await;
            }
            if !self.send_transmits().await {
                break;
            }
        }
    }

    /// Shares this shard's table sizes (drain progress, metrics).
    fn publish(&mut self) {
        let calls = self.engine.calls();
        self.control.calls[self.id].store(calls, Ordering::Relaxed);
        // The node-wide gauge is labelled trunk="all" (per-trunk gauges come with tenants).
        let calls = calls as i64;
        if calls != self.active_calls {
            self.calls_gauge.inc_by(calls - self.active_calls);
            self.active_calls = calls;
        }
        let retx = self.ep.retransmissions();
        self.control
            .metrics
            .retransmissions
            .inc_by(retx - self.retransmissions);
        self.retransmissions = retx;
        let txns = self.ep.len() as i64;
        self.control
            .metrics
            .transactions
            .inc_by(txns - self.active_txns);
        self.active_txns = txns;
        self.queue_gauge.set(self.rx.len() as i64);
    }

    async fn engine_event(&mut self, ev: EngineEvent) {
        if let EngineEvent::DropConnection { peer } = &ev {
            // TI-18: the next request to this proxy opens a fresh connection.
            if let Some(t) = from_txn(peer.transport) {
                if let Some(conn) = self.transport.lookup(t, peer.addr) {
                    self.transport.close(conn);
                    tracing::info!(peer = %peer, "connection dropped after 503");
                }
            }
            return;
        }
        if let EngineEvent::Rejected {
            status, why, from, ..
        } = &ev
        {
            tracing::debug!(status, why, from = %from, "call refused");
        }
        if let Some(tx) = &self.events {
            // Back-pressure rather than loss: CDRs must not be dropped.
            let _ = tx.send(ev).await;
        }
    }

    /// Sends every pending transmit; true when anything was sent (more events may follow).
    async fn send_transmits(&mut self) -> bool {
        let mut any = false;
        while let Some(t) = self.ep.poll_transmit() {
            any = true;
            let Some(transport) = from_txn(t.to.transport) else {
                continue;
            };
            let mut tx = TTransmit::new(transport, t.to.addr, t.bytes);
            // TLS toward a Microsoft edge: SNI and certificate name = the edge host (TI-6).
            if transport == Transport::Tls {
                tx.server_name = self.sni.get(&t.to.addr).cloned();
            }
            if let Err(e) = self.transport.send(tx).await {
                self.stats.send_errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(error = %e, to = %t.to, "send failed");
                if let Some(txn) = t.txn {
                    let now = self.now();
                    let _ = self.ep.handle_transport_error(now, txn);
                }
            }
        }
        any
    }
}

/// A per-shard random seed from the OS-keyed std hasher (the shell may use randomness; the
/// cores only receive it).
pub(crate) fn seed(id: usize) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_usize(id);
    h.finish()
}
