//! The connection table and the per-connection read loop shared by inbound and outbound
//! stream connections.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use sbc_sip::{Frame, Framing, Message, ParseErrorKind, ParserConfig, StreamFramer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{watch, Notify};
use tokio::time::{sleep_until, timeout, Instant};

use crate::error::SendError;
use crate::shared::Shared;
use crate::stats::Stats;
use crate::types::{ConnId, Event, Inbound, InboundError, Peer, TlsInfo, Transport};

/// Any byte stream we can carry SIP on (TCP, TLS server side, TLS client side).
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}
pub(crate) type BoxIo = Box<dyn Io>;

/// Connection table key: transport and remote address (canonical form).
pub(crate) type Key = (Transport, SocketAddr);

/// How long closing a connection may spend sending TLS close_notify / FIN.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// Read buffer growth step.
const READ_CHUNK: usize = 8 * 1024;

/// One open stream connection. The read half is owned by its task; the write half sits
/// here behind an async mutex so any task can send (writes are bounded by
/// `write_timeout`).
pub(crate) struct Conn {
    pub(crate) id: ConnId,
    pub(crate) transport: Transport,
    pub(crate) remote: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) tls: Option<Arc<TlsInfo>>,
    pub(crate) outbound: bool,
    pub(crate) generation: Option<u64>,
    /// The store's current generation (to tell whether this connection is stale).
    current_generation: Option<watch::Receiver<u64>>,
    writer: tokio::sync::Mutex<Option<WriteHalf<BoxIo>>>,
    /// Milliseconds since `Shared::epoch` of the last read or write.
    last_activity: AtomicU64,
    closing: AtomicBool,
    close_notify: Notify,
    closed_tx: watch::Sender<bool>,
    aliases: StdMutex<Vec<Key>>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("id", &self.id)
            .field("transport", &self.transport)
            .field("remote", &self.remote)
            .field("local", &self.local)
            .finish()
    }
}

impl Conn {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        shared: &Shared,
        transport: Transport,
        remote: SocketAddr,
        local: SocketAddr,
        tls: Option<Arc<TlsInfo>>,
        outbound: bool,
        gen: Option<&GenWatch>,
        writer: WriteHalf<BoxIo>,
    ) -> Conn {
        let (closed_tx, _) = watch::channel(false);
        Conn {
            id: shared.table.next_id(),
            transport,
            remote,
            local,
            tls,
            outbound,
            generation: gen.map(|g| g.id),
            current_generation: gen.map(|g| g.rx.clone()),
            writer: tokio::sync::Mutex::new(Some(writer)),
            last_activity: AtomicU64::new(shared.now_ms()),
            closing: AtomicBool::new(false),
            close_notify: Notify::new(),
            closed_tx,
            aliases: StdMutex::new(Vec::new()),
        }
    }

    pub(crate) fn peer(&self) -> Peer {
        Peer {
            transport: self.transport,
            remote: self.remote,
            local: self.local,
            conn: Some(self.id),
        }
    }

    /// True when the TLS material was reloaded after this connection was opened: it is
    /// no longer offered for new requests and closes once idle.
    pub(crate) fn is_stale(&self) -> bool {
        match (&self.current_generation, self.generation) {
            (Some(rx), Some(id)) => *rx.borrow() != id,
            _ => false,
        }
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Asks the read task to close the connection.
    pub(crate) fn request_close(&self) {
        self.closing.store(true, Ordering::Release);
        // notify_one stores a permit, so a request made while the task is busy elsewhere
        // is seen at its next select.
        self.close_notify.notify_one();
    }

    /// Resolves once the connection has been torn down.
    pub(crate) fn closed_signal(&self) -> watch::Receiver<bool> {
        self.closed_tx.subscribe()
    }

    fn touch(&self, shared: &Shared) {
        self.last_activity.store(shared.now_ms(), Ordering::Relaxed);
    }

    fn last_activity(&self, shared: &Shared) -> Instant {
        shared.epoch + Duration::from_millis(self.last_activity.load(Ordering::Relaxed))
    }

    /// Writes one message (or keep-alive). Waiting for a concurrent writer and writing both
    /// count against `write_timeout`; a failed or timed-out write closes the connection
    /// (the stream may hold half a message).
    pub(crate) async fn write(&self, shared: &Shared, bytes: &[u8]) -> Result<(), SendError> {
        if self.is_closing() {
            return Err(SendError::Closed(self.id));
        }
        let id = self.id;
        let attempt = async {
            let mut guard = self.writer.lock().await;
            let Some(w) = guard.as_mut() else {
                return Err(SendError::Closed(id));
            };
            let r = async {
                w.write_all(bytes).await?;
                w.flush().await
            }
            .await;
            r.map_err(|e| SendError::Io(e.kind()))
        };
        match timeout(shared.write_timeout, attempt).await {
            Ok(Ok(())) => {
                self.touch(shared);
                Ok(())
            }
            Ok(Err(e)) => {
                self.request_close();
                Err(e)
            }
            Err(_) => {
                self.request_close();
                Err(SendError::WriteTimeout(id))
            }
        }
    }
}

/// Every open stream connection, by id and by (transport, remote address) including
/// aliases (RFC 5923-style: registered by the server from the Via sent-by).
#[derive(Debug, Default)]
pub(crate) struct ConnTable {
    conns: DashMap<ConnId, Arc<Conn>>,
    by_addr: DashMap<Key, ConnId>,
    next_id: AtomicU64,
}

impl ConnTable {
    fn next_id(&self) -> ConnId {
        ConnId(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }

    pub(crate) fn insert(&self, conn: Arc<Conn>) {
        let id = conn.id;
        self.by_addr.insert((conn.transport, conn.remote), id);
        self.conns.insert(id, conn);
    }

    pub(crate) fn get(&self, id: ConnId) -> Option<Arc<Conn>> {
        self.conns.get(&id).map(|c| c.value().clone())
    }

    /// An open connection to `key` (direct or aliased) that may carry new requests: not
    /// closing, not of a superseded TLS generation.
    pub(crate) fn lookup(&self, key: Key) -> Option<Arc<Conn>> {
        let id = *self.by_addr.get(&key)?.value();
        match self.get(id) {
            Some(c) if !c.is_closing() && !c.is_stale() => Some(c),
            Some(_) => None,
            None => {
                // An alias registered while its connection was being removed.
                self.by_addr.remove_if(&key, |_, v| *v == id);
                None
            }
        }
    }

    pub(crate) fn alias(&self, id: ConnId, key: Key) -> bool {
        let Some(conn) = self.get(id) else {
            return false;
        };
        if conn.is_closing() {
            return false;
        }
        lock(&conn.aliases).push(key);
        self.by_addr.insert(key, id);
        true
    }

    pub(crate) fn remove(&self, conn: &Conn) {
        let id = conn.id;
        self.conns.remove(&id);
        self.by_addr
            .remove_if(&(conn.transport, conn.remote), |_, v| *v == id);
        let aliases = std::mem::take(&mut *lock(&conn.aliases));
        for key in aliases {
            self.by_addr.remove_if(&key, |_, v| *v == id);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.conns.len()
    }

    pub(crate) fn all(&self) -> Vec<Arc<Conn>> {
        self.conns.iter().map(|c| c.value().clone()).collect()
    }
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded data (a list of keys) stays consistent even if a holder panicked.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Holds one slot of a per-source connection count; released on drop.
#[derive(Debug)]
pub(crate) struct SourceSlot {
    map: Arc<DashMap<IpAddr, usize>>,
    ip: IpAddr,
}

impl SourceSlot {
    /// Takes a slot for `ip` unless it already has `cap` (0 = unlimited).
    pub(crate) fn acquire(
        map: &Arc<DashMap<IpAddr, usize>>,
        ip: IpAddr,
        cap: usize,
    ) -> Option<SourceSlot> {
        let mut n = map.entry(ip).or_insert(0);
        if cap != 0 && *n >= cap {
            return None;
        }
        *n += 1;
        drop(n);
        Some(SourceSlot {
            map: map.clone(),
            ip,
        })
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        if let Entry::Occupied(mut e) = self.map.entry(self.ip) {
            let n = e.get_mut();
            *n = n.saturating_sub(1);
            if *n == 0 {
                e.remove();
            }
        }
    }
}

/// Limits of one connection's read loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamLimits {
    pub(crate) idle_timeout: Duration,
    pub(crate) header_read_timeout: Duration,
    pub(crate) parser: ParserConfig,
}

/// Watches the TLS generation a connection was opened under.
pub(crate) struct GenWatch {
    pub(crate) rx: watch::Receiver<u64>,
    pub(crate) id: u64,
    pub(crate) stale_idle: Duration,
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CloseReason {
    Requested,
    Shutdown,
    PeerClosed,
    ReadError,
    Idle,
    Stale,
    SlowSender,
    Invalid,
    QueueClosed,
}

/// Registers `conn` and runs its read loop until it closes, then tears it down. `guards`
/// (connection-cap slots) are released when this returns.
pub(crate) async fn run_connection<G: Send>(
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    reader: ReadHalf<BoxIo>,
    limits: StreamLimits,
    gen: Option<GenWatch>,
    guards: G,
) {
    let mut task = ReadTask {
        shared: shared.clone(),
        conn: conn.clone(),
        reader,
        buf: BytesMut::with_capacity(READ_CHUNK),
        framer: StreamFramer::new(limits.parser),
        limits,
        msg_started: None,
        gen,
        shutdown: shared.shutdown_rx(),
    };
    let reason = task.run().await;
    tracing::debug!(conn = %conn.id, remote = %conn.remote, ?reason, "connection closed");
    drop(task.reader);
    shared.table.remove(&conn);
    conn.closing.store(true, Ordering::Release);
    Stats::dec(&shared.stats.connections_open);
    // Take the write half (a writer in progress finishes or times out first) and close it
    // politely: TLS close_notify, then FIN. Dropping both halves closes the socket.
    if let Ok(mut guard) = timeout(shared.write_timeout, conn.writer.lock()).await {
        if let Some(mut w) = guard.take() {
            drop(guard);
            let _ = timeout(SHUTDOWN_GRACE, w.shutdown()).await;
        }
    }
    drop(guards);
    conn.closed_tx.send_replace(true);
}

struct ReadTask {
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    reader: ReadHalf<BoxIo>,
    buf: BytesMut,
    framer: StreamFramer,
    limits: StreamLimits,
    /// When the first byte of the message being read arrived.
    msg_started: Option<Instant>,
    gen: Option<GenWatch>,
    shutdown: watch::Receiver<bool>,
}

impl ReadTask {
    fn stale(&self) -> bool {
        self.gen.as_ref().is_some_and(|g| *g.rx.borrow() != g.id)
    }

    fn deadline(&self) -> Instant {
        let last = self.conn.last_activity(&self.shared);
        let mut d = last + self.limits.idle_timeout;
        if let Some(g) = self.gen.as_ref().filter(|_| self.stale()) {
            d = d.min(last + g.stale_idle);
        }
        if let Some(s) = self.msg_started {
            d = d.min(s + self.limits.header_read_timeout);
        }
        d
    }

    async fn run(&mut self) -> CloseReason {
        loop {
            if self.conn.is_closing() {
                return CloseReason::Requested;
            }
            if *self.shutdown.borrow() {
                return CloseReason::Shutdown;
            }
            if self.buf.capacity() - self.buf.len() < READ_CHUNK / 2 {
                self.buf.reserve(READ_CHUNK);
            }
            let deadline = self.deadline();
            tokio::select! {
                biased;
                _ = self.conn.close_notify.notified() => return CloseReason::Requested,
                _ = self.shutdown.changed() => return CloseReason::Shutdown,
                _ = generation_changed(&mut self.gen) => continue,
                _ = sleep_until(deadline) => {
                    if let Some(reason) = self.check_timers() {
                        return reason;
                    }
                }
                r = self.reader.read_buf(&mut self.buf) => match r {
                    Ok(0) => return CloseReason::PeerClosed,
                    Ok(_) => {
                        self.conn.touch(&self.shared);
                        if let Err(reason) = self.process().await {
                            return reason;
                        }
                    }
                    Err(e) => {
                        tracing::debug!(conn = %self.conn.id, error = %e, "read failed");
                        return CloseReason::ReadError;
                    }
                },
            }
        }
    }

    /// Called when the earliest deadline passed: decides which (if any) fired.
    fn check_timers(&mut self) -> Option<CloseReason> {
        let now = Instant::now();
        let stats = &self.shared.stats;
        if let Some(s) = self.msg_started {
            if now >= s + self.limits.header_read_timeout {
                // A lone CRLF (a pong, or a keep-alive some clients send alone) waits for a
                // possible second CRLF forever: it is not a slow message.
                if self.buf.len() < 4 && self.buf.iter().all(|&b| b == b'\r' || b == b'\n') {
                    self.buf.clear();
                    self.framer.reset();
                    self.msg_started = None;
                    return None;
                }
                Stats::inc(&stats.slow_sender_closes);
                return Some(CloseReason::SlowSender);
            }
        }
        let last = self.conn.last_activity(&self.shared);
        if let Some(g) = self.gen.as_ref().filter(|_| self.stale()) {
            if now >= last + g.stale_idle {
                Stats::inc(&stats.stale_closes);
                return Some(CloseReason::Stale);
            }
        }
        if now >= last + self.limits.idle_timeout {
            Stats::inc(&stats.idle_closes);
            return Some(CloseReason::Idle);
        }
        None
    }

    /// Cuts every complete frame out of the buffer and delivers it.
    async fn process(&mut self) -> Result<(), CloseReason> {
        loop {
            match self.framer.poll(&self.buf) {
                Frame::NeedMore => {
                    if self.buf.is_empty() {
                        self.msg_started = None;
                    } else if self.msg_started.is_none() {
                        self.msg_started = Some(Instant::now());
                    }
                    return Ok(());
                }
                Frame::KeepAlive { len, ping } => {
                    self.buf.advance(len);
                    self.msg_started = None;
                    if ping {
                        // RFC 5626 §4.4.1: answer a CRLFCRLF ping with a CRLF pong.
                        Stats::inc(&self.shared.stats.keepalive_pings);
                        if self.conn.write(&self.shared, b"\r\n").await.is_err() {
                            return Err(CloseReason::Requested);
                        }
                    }
                }
                Frame::Complete(n) => {
                    let bytes = self.buf.split_to(n).freeze();
                    self.msg_started = None;
                    let peer = self.conn.peer();
                    let ev = match Message::parse_with(
                        bytes.clone(),
                        &self.limits.parser,
                        Framing::Stream,
                    ) {
                        Ok(msg) => {
                            Stats::inc(&self.shared.stats.messages_in);
                            Event::Message(Inbound {
                                msg,
                                peer,
                                tls: self.conn.tls.clone(),
                            })
                        }
                        Err(error) => {
                            Stats::inc(&self.shared.stats.parse_errors);
                            Event::Error(InboundError {
                                peer,
                                error,
                                bytes,
                                closed: false,
                            })
                        }
                    };
                    self.deliver(ev).await?;
                }
                Frame::Invalid(error) => {
                    let stats = &self.shared.stats;
                    if error.kind == ParseErrorKind::MessageTooLarge {
                        Stats::inc(&stats.oversize_closes);
                    } else {
                        Stats::inc(&stats.invalid_frame_closes);
                    }
                    Stats::inc(&stats.parse_errors);
                    let bytes = self.buf.split().freeze();
                    // The connection is closing anyway: never wait for queue room here.
                    let _ = self.shared.events.try_send(Event::Error(InboundError {
                        peer: self.conn.peer(),
                        error,
                        bytes,
                        closed: true,
                    }));
                    return Err(CloseReason::Invalid);
                }
            }
        }
    }

    /// Hands an event to the server; waits for queue room (backpressure: no reading
    /// meanwhile) unless the connection is closed or the transport shuts down.
    async fn deliver(&mut self, ev: Event) -> Result<(), CloseReason> {
        tokio::select! {
            biased;
            _ = self.conn.close_notify.notified() => Err(CloseReason::Requested),
            _ = self.shutdown.changed() => Err(CloseReason::Shutdown),
            r = self.shared.events.send(ev) => r.map_err(|_| CloseReason::QueueClosed),
        }
    }
}

/// Resolves when the TLS generation changes; never when there is none to watch.
async fn generation_changed(gen: &mut Option<GenWatch>) {
    match gen {
        Some(g) => {
            if g.rx.changed().await.is_err() {
                // The store is gone: nothing will change any more.
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}
