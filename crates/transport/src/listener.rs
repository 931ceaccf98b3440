//! TCP/TLS accept loops. Order of checks for each accepted socket, cheapest first and all
//! before a byte is read: ACL, listener-wide cap, per-source cap; then (TLS) a handshake
//! slot and the handshake, together bounded by `handshake_timeout`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use crate::config::ListenerConfig;
use crate::conn::{run_connection, BoxIo, Conn, GenWatch, SourceSlot, StreamLimits};
use crate::shared::Shared;
use crate::stats::Stats;
use crate::tls::cert_dns_names;
use crate::types::{canonical, TlsInfo, Transport};

/// Pause after a failed accept (EMFILE and friends) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

pub(crate) struct StreamListener {
    pub(crate) cfg: ListenerConfig,
    pub(crate) local: SocketAddr,
    pub(crate) listener: TcpListener,
}

/// Per-listener admission state.
struct Admission {
    per_source: Arc<DashMap<IpAddr, usize>>,
    total: Arc<Semaphore>,
    handshakes: Arc<Semaphore>,
}

pub(crate) async fn run_stream_listener(shared: Arc<Shared>, l: StreamListener) {
    let StreamListener {
        cfg,
        local,
        listener,
    } = l;
    let cfg = Arc::new(cfg);
    let adm = Admission {
        per_source: Arc::new(DashMap::new()),
        total: Arc::new(Semaphore::new(permits(cfg.max_connections))),
        handshakes: Arc::new(Semaphore::new(permits(cfg.max_concurrent_handshakes))),
    };
    let mut shutdown = shared.shutdown_rx();
    loop {
        let (stream, src) = tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            _ = shared.events.closed() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(listener = %cfg.name, error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let src = canonical(src);
        if !cfg.acl.allows(src.ip()) {
            Stats::inc(&shared.stats.acl_drops);
            tracing::trace!(listener = %cfg.name, %src, "refused by ACL");
            drop(stream);
            continue;
        }
        let Ok(total) = adm.total.clone().try_acquire_owned() else {
            Stats::inc(&shared.stats.connection_limit_drops);
            continue;
        };
        let Some(slot) =
            SourceSlot::acquire(&adm.per_source, src.ip(), cfg.max_connections_per_source)
        else {
            Stats::inc(&shared.stats.connection_limit_drops);
            tracing::debug!(listener = %cfg.name, %src, "per-source connection cap reached");
            continue;
        };
        Stats::inc(&shared.stats.connections_accepted);
        tokio::spawn(serve_inbound(
            shared.clone(),
            cfg.clone(),
            adm.handshakes.clone(),
            stream,
            src,
            local,
            (total, slot),
        ));
    }
}

fn permits(n: usize) -> usize {
    if n == 0 {
        Semaphore::MAX_PERMITS
    } else {
        n.min(Semaphore::MAX_PERMITS)
    }
}

async fn serve_inbound(
    shared: Arc<Shared>,
    cfg: Arc<ListenerConfig>,
    handshakes: Arc<Semaphore>,
    stream: TcpStream,
    remote: SocketAddr,
    listener_local: SocketAddr,
    guards: (tokio::sync::OwnedSemaphorePermit, SourceSlot),
) {
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().map(canonical).unwrap_or(listener_local);
    let (io, tls, gen): (BoxIo, _, _) = match (cfg.transport, &cfg.tls) {
        (Transport::Tls, Some(tls_cfg)) => {
            let generation = tls_cfg.store.current();
            let acceptor = TlsAcceptor::from(generation.server(tls_cfg.client_auth));
            let handshake = async {
                // Closed only if the listener is gone: then proceed without a slot.
                let _slot = handshakes.acquire().await;
                acceptor.accept(stream).await
            };
            let stats = &shared.stats;
            let tls_stream = match timeout(cfg.handshake_timeout, handshake).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    Stats::inc(&stats.handshakes_failed);
                    tracing::debug!(listener = %cfg.name, %remote, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    Stats::inc(&stats.handshakes_failed);
                    Stats::inc(&stats.handshake_timeouts);
                    tracing::debug!(listener = %cfg.name, %remote, "TLS handshake timed out");
                    return;
                }
            };
            Stats::inc(&stats.handshakes_ok);
            let (_, server) = tls_stream.get_ref();
            let info = TlsInfo {
                peer_cert_names: server
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(cert_dns_names)
                    .unwrap_or_default(),
                sni: server.server_name().map(str::to_owned),
            };
            let gen = GenWatch {
                rx: tls_cfg.store.subscribe(),
                id: generation.id,
                stale_idle: tls_cfg.store.options().stale_idle_timeout,
            };
            (Box::new(tls_stream), Some(Arc::new(info)), Some(gen))
        }
        (Transport::Tls, None) | (Transport::Udp, _) => return,
        (Transport::Tcp, _) => (Box::new(stream), None, None),
    };
    let (reader, writer) = tokio::io::split(io);
    let conn = Arc::new(Conn::new(
        &shared,
        cfg.transport,
        remote,
        local,
        tls,
        false,
        gen.as_ref(),
        writer,
    ));
    shared.table.insert(conn.clone());
    Stats::inc(&shared.stats.connections_open);
    let limits = StreamLimits {
        idle_timeout: cfg.idle_timeout,
        header_read_timeout: cfg.header_read_timeout,
        parser: cfg.parser,
    };
    run_connection(shared, conn, reader, limits, gen, guards).await;
}
