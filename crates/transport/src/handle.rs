//! Starting the endpoint and sending through it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use dashmap::DashMap;
use rustls_pki_types::ServerName;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::time::{timeout, Instant};
use tokio_rustls::TlsConnector;

use crate::config::TransportConfig;
use crate::conn::{run_connection, BoxIo, Conn, ConnTable, GenWatch, Key, StreamLimits};
use crate::error::{SendError, StartError};
use crate::listener::{run_stream_listener, StreamListener};
use crate::shared::{ListenerInfo, Picker, Shared, Sink, UdpEntry};
use crate::stats::{Stats, StatsSnapshot};
use crate::tls::cert_dns_names;
use crate::types::{canonical, ConnId, Event, Peer, Sent, TlsInfo, Transmit, Transport};
use crate::udp::{run_udp, MAX_DATAGRAM};

/// Listen backlog for stream listeners.
const BACKLOG: i32 = 1024;

/// What the table knows about one open connection.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Its id.
    pub id: ConnId,
    /// Transport and addresses.
    pub peer: Peer,
    /// TLS facts.
    pub tls: Option<Arc<TlsInfo>>,
    /// True when we opened it.
    pub outbound: bool,
    /// The TLS store generation it was opened under.
    pub generation: Option<u64>,
    /// True when the TLS material was reloaded since: not used for new requests any more,
    /// closed once idle.
    pub stale: bool,
}

/// The cloneable handle to a running transport endpoint: sends, aliases, closes and
/// reads counters. Inbound traffic arrives on the [`mpsc::Receiver`] returned by
/// [`TransportHandle::start`].
#[derive(Debug, Clone)]
pub struct TransportHandle {
    shared: Arc<Shared>,
}

impl TransportHandle {
    /// Binds every listener, then starts their tasks on the current tokio runtime. Nothing
    /// is started if any listener fails to bind.
    pub async fn start(
        cfg: TransportConfig,
    ) -> Result<(TransportHandle, mpsc::Receiver<Event>), StartError> {
        let (handle, mut rx) = Self::start_inner(cfg, 1, None).await?;
        let rx = rx.pop().ok_or(StartError::Invalid {
            name: String::new(),
            what: "no inbound queue",
        })?;
        Ok((handle, rx))
    }

    /// Like [`TransportHandle::start`], with `queues` inbound queues (at least 1) of
    /// `queue_capacity` each: every inbound event goes to queue `pick(&event) % queues`,
    /// straight from the task that received it. A server whose shards each own one queue
    /// (and pick by Call-ID) needs no dispatcher task in between.
    pub async fn start_sharded(
        cfg: TransportConfig,
        queues: usize,
        pick: Picker,
    ) -> Result<(TransportHandle, Vec<mpsc::Receiver<Event>>), StartError> {
        if queues == 0 {
            return Err(StartError::Invalid {
                name: String::new(),
                what: "at least one inbound queue is needed",
            });
        }
        Self::start_inner(cfg, queues, Some(pick)).await
    }

    async fn start_inner(
        cfg: TransportConfig,
        queues: usize,
        pick: Option<Picker>,
    ) -> Result<(TransportHandle, Vec<mpsc::Receiver<Event>>), StartError> {
        if cfg.queue_capacity == 0 {
            return Err(StartError::Invalid {
                name: String::new(),
                what: "queue_capacity must be at least 1",
            });
        }
        let mut udp = Vec::new();
        let mut udp_tasks = Vec::new();
        let mut streams = Vec::new();
        let mut infos = Vec::new();
        for l in cfg.listeners {
            let bind_err = |error| StartError::Bind {
                name: l.name.clone(),
                addr: l.bind,
                error,
            };
            if l.parser.max_message_size == 0 {
                return Err(StartError::Invalid {
                    name: l.name,
                    what: "parser.max_message_size must be positive",
                });
            }
            match l.transport {
                Transport::Udp => {
                    let socket = bind_udp(l.bind).map_err(bind_err)?;
                    let local = canonical(socket.local_addr().map_err(bind_err)?);
                    infos.push(ListenerInfo {
                        name: l.name.clone(),
                        transport: Transport::Udp,
                        local,
                    });
                    udp_tasks.push((udp.len(), l.acl, l.parser));
                    udp.push(UdpEntry {
                        local,
                        socket: Arc::new(socket),
                    });
                }
                Transport::Tcp | Transport::Tls => {
                    if l.transport == Transport::Tls && l.tls.is_none() {
                        return Err(StartError::MissingTls { name: l.name });
                    }
                    let listener = bind_tcp(l.bind).map_err(bind_err)?;
                    let local = canonical(listener.local_addr().map_err(bind_err)?);
                    infos.push(ListenerInfo {
                        name: l.name.clone(),
                        transport: l.transport,
                        local,
                    });
                    streams.push(StreamListener {
                        cfg: l,
                        local,
                        listener,
                    });
                }
            }
        }
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..queues)
            .map(|_| mpsc::channel(cfg.queue_capacity))
            .unzip();
        let events = Sink::new(txs, pick);
        let (shutdown_tx, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            table: ConnTable::default(),
            stats: Stats::default(),
            events,
            udp,
            listeners: infos,
            outbound: cfg.outbound,
            write_timeout: cfg.write_timeout,
            shutdown_tx,
            epoch: Instant::now(),
            connecting: DashMap::new(),
        });
        for (index, acl, parser) in udp_tasks {
            tokio::spawn(run_udp(shared.clone(), index, acl, parser));
        }
        for l in streams {
            tokio::spawn(run_stream_listener(shared.clone(), l));
        }
        Ok((TransportHandle { shared }, rxs))
    }

    /// Sends one message.
    ///
    /// * UDP: from the listener socket bound to `t.local`, else the first UDP listener of
    ///   the destination's family.
    /// * TCP/TLS: on `t.conn` while it is open (responses, RFC 3261 §18.2.2); else on an
    ///   open connection to `(transport, to)` (opened by either side, or aliased); else a
    ///   new connection (TLS: our certificate as client certificate, SNI and verified name
    ///   = `t.server_name`, TI-5/TI-6). A connection taken from the table whose write
    ///   fails at once (closed, reset) is replaced by a new connection, once; a failed
    ///   write on the pinned `t.conn` is returned as it is (the connection is closed).
    pub async fn send(&self, t: Transmit) -> Result<Sent, SendError> {
        let r = self.send_inner(t).await;
        let stats = &self.shared.stats;
        match &r {
            Ok(_) => Stats::inc(&stats.messages_out),
            Err(e) => {
                Stats::inc(&stats.send_errors);
                tracing::debug!(error = %e, "send failed");
            }
        }
        r
    }

    async fn send_inner(&self, t: Transmit) -> Result<Sent, SendError> {
        let shared = &self.shared;
        if shared.is_shutting_down() {
            return Err(SendError::ShuttingDown);
        }
        let to = canonical(t.to);
        if t.transport == Transport::Udp {
            if t.bytes.len() > MAX_DATAGRAM {
                return Err(SendError::TooLarge { len: t.bytes.len() });
            }
            let entry = self
                .pick_udp(t.local, to)
                .ok_or(SendError::NoUdpSocket { to })?;
            entry
                .socket
                .send_to(&t.bytes, to)
                .await
                .map_err(|e| SendError::Io(e.kind()))?;
            return Ok(Sent {
                conn: None,
                local: entry.local,
                opened: false,
            });
        }
        if let Some(id) = t.conn {
            if let Some(c) = shared.table.get(id) {
                if !c.is_closing() && c.transport == t.transport {
                    c.write(shared, &t.bytes).await?;
                    return Ok(sent(&c, false));
                }
            }
        }
        let key: Key = (t.transport, to);
        if let Some(c) = shared.table.lookup(key) {
            match c.write(shared, &t.bytes).await {
                Ok(()) => return Ok(sent(&c, false)),
                Err(SendError::Closed(_) | SendError::Io(_)) => {} // replace it below
                Err(e) => return Err(e),
            }
        }
        // One connect per destination at a time; late comers reuse its result.
        let gate = shared.connecting.entry(key).or_default().value().clone();
        let guard = gate.lock().await;
        if let Some(c) = shared.table.lookup(key) {
            drop(guard);
            c.write(shared, &t.bytes).await?;
            return Ok(sent(&c, false));
        }
        let opened = self.open(t.transport, to, t.server_name.as_deref()).await;
        drop(guard);
        shared
            .connecting
            .remove_if(&key, |_, g| Arc::ptr_eq(g, &gate));
        let c = opened?;
        c.write(shared, &t.bytes).await?;
        Ok(sent(&c, true))
    }

    fn pick_udp(&self, local: Option<SocketAddr>, to: SocketAddr) -> Option<&UdpEntry> {
        let udp = &self.shared.udp;
        local
            .and_then(|l| {
                let l = canonical(l);
                udp.iter()
                    .find(|u| u.local == l && u.local.is_ipv4() == to.is_ipv4())
            })
            .or_else(|| udp.iter().find(|u| u.local.is_ipv4() == to.is_ipv4()))
    }

    /// Opens (connect, TLS handshake), registers and starts a connection.
    async fn open(
        &self,
        transport: Transport,
        to: SocketAddr,
        server_name: Option<&str>,
    ) -> Result<Arc<Conn>, SendError> {
        let shared = &self.shared;
        let out = &shared.outbound;
        // Check the TLS prerequisites before spending a connection.
        let tls_setup = if transport == Transport::Tls {
            let store = out.tls.as_ref().ok_or(SendError::NoTlsConfig)?;
            let name = match server_name {
                Some(n) => ServerName::try_from(n.to_owned())
                    .map_err(|_| SendError::InvalidServerName(n.to_owned()))?,
                None => ServerName::IpAddress(to.ip().into()),
            };
            Some((store, name))
        } else {
            None
        };
        let tcp = match timeout(out.connect_timeout, TcpStream::connect(to)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                Stats::inc(&shared.stats.connect_failures);
                return Err(SendError::Connect(e.kind()));
            }
            Err(_) => {
                Stats::inc(&shared.stats.connect_failures);
                return Err(SendError::ConnectTimeout);
            }
        };
        let _ = tcp.set_nodelay(true);
        let local = canonical(tcp.local_addr().map_err(|e| SendError::Io(e.kind()))?);
        let (io, tls, gen): (BoxIo, _, _) = match tls_setup {
            None => (Box::new(tcp), None, None),
            Some((store, name)) => {
                let generation = store.current();
                let connector = TlsConnector::from(generation.client.clone());
                let stats = &shared.stats;
                let s = match timeout(out.handshake_timeout, connector.connect(name, tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        Stats::inc(&stats.handshakes_failed);
                        Stats::inc(&stats.connect_failures);
                        return Err(handshake_error(e));
                    }
                    Err(_) => {
                        Stats::inc(&stats.handshakes_failed);
                        Stats::inc(&stats.connect_failures);
                        return Err(SendError::HandshakeTimeout);
                    }
                };
                Stats::inc(&stats.handshakes_ok);
                let info = TlsInfo {
                    peer_cert_names: s
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(cert_dns_names)
                        .unwrap_or_default(),
                    sni: server_name.map(str::to_owned),
                };
                let gen = GenWatch {
                    rx: store.subscribe(),
                    id: generation.id,
                    stale_idle: store.options().stale_idle_timeout,
                };
                (Box::new(s), Some(Arc::new(info)), Some(gen))
            }
        };
        let (reader, writer) = tokio::io::split(io);
        let conn = Arc::new(Conn::new(
            shared,
            transport,
            to,
            local,
            tls,
            true,
            gen.as_ref(),
            writer,
        ));
        shared.table.insert(conn.clone());
        Stats::inc(&shared.stats.connections_open);
        Stats::inc(&shared.stats.connections_opened);
        let limits = StreamLimits {
            idle_timeout: out.idle_timeout,
            header_read_timeout: out.header_read_timeout,
            parser: out.parser,
        };
        tokio::spawn(run_connection(
            shared.clone(),
            conn.clone(),
            reader,
            limits,
            gen,
            (),
        ));
        Ok(conn)
    }

    /// Registers `addr` as another name of connection `conn` (RFC 5923-style, from the
    /// Via sent-by of a request that arrived on it), so requests to `(transport, addr)`
    /// reuse it. False when the connection is not open. Removed when it closes.
    pub fn alias(&self, conn: ConnId, transport: Transport, addr: SocketAddr) -> bool {
        self.shared.table.alias(conn, (transport, canonical(addr)))
    }

    /// The open connection the table would use for `(transport, addr)`.
    pub fn lookup(&self, transport: Transport, addr: SocketAddr) -> Option<ConnId> {
        self.shared
            .table
            .lookup((transport, canonical(addr)))
            .map(|c| c.id)
    }

    /// Facts about an open connection.
    pub fn connection(&self, conn: ConnId) -> Option<ConnInfo> {
        self.shared.table.get(conn).map(|c| info(&c))
    }

    /// Every open connection.
    pub fn connections(&self) -> Vec<ConnInfo> {
        self.shared.table.all().iter().map(|c| info(c)).collect()
    }

    /// Number of open connections.
    pub fn connection_count(&self) -> usize {
        self.shared.table.len()
    }

    /// Closes a connection. False when it is not open.
    pub fn close(&self, conn: ConnId) -> bool {
        match self.shared.table.get(conn) {
            Some(c) => {
                c.request_close();
                true
            }
            None => false,
        }
    }

    /// Resolves once `conn` is closed (at once if it is not open).
    pub async fn closed(&self, conn: ConnId) {
        let Some(c) = self.shared.table.get(conn) else {
            return;
        };
        let mut rx = c.closed_signal();
        drop(c);
        let _ = rx.wait_for(|closed| *closed).await;
    }

    /// The listeners and their bound addresses.
    pub fn listeners(&self) -> &[ListenerInfo] {
        &self.shared.listeners
    }

    /// The bound address of the listener called `name`.
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.shared
            .listeners
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.local)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Stops the listeners and closes every connection; sends fail afterwards.
    pub fn shutdown(&self) {
        self.shared.shutdown_tx.send_replace(true);
    }
}

fn sent(c: &Conn, opened: bool) -> Sent {
    Sent {
        conn: Some(c.id),
        local: c.local,
        opened,
    }
}

fn info(c: &Conn) -> ConnInfo {
    ConnInfo {
        id: c.id,
        peer: c.peer(),
        tls: c.tls.clone(),
        outbound: c.outbound,
        generation: c.generation,
        stale: c.is_stale(),
    }
}

/// tokio-rustls reports TLS failures as `io::Error`s wrapping the `rustls::Error`.
fn handshake_error(e: io::Error) -> SendError {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(tls) => SendError::Tls(tls.clone()),
        None => SendError::HandshakeIo(e.kind()),
    }
}

fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_nonblocking(true)?;
    // Signalling bursts (a gateway's retransmissions, a flood of OPTIONS) must queue in the
    // kernel rather than be lost: ask for 4 MiB (Linux caps it at net.core.rmem_max; the
    // default 208 KiB lost two thirds of a 1,000-datagram burst in the transport bench).
    let _ = s.set_recv_buffer_size(4 * 1024 * 1024);
    let _ = s.set_send_buffer_size(1024 * 1024);
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

fn bind_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(BACKLOG)?;
    TcpListener::from_std(s.into())
}
