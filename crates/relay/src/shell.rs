//! The tokio shell: runs one [`Call`] per task over its UDP sockets.
//!
//! Per wakeup of a readable socket the task takes at most [`ShellConfig::budget`] packets,
//! [`BATCH`] per `recvmmsg(2)`, runs each through [`Call::process`] in place, and sends the
//! forwarded ones with one `sendmmsg(2)` per batch (`nix` wrappers: no `unsafe` here). Then
//! it yields, so a flooding peer costs its own call's task time and cannot starve others.
//! Sends never wait: a full socket buffer drops the packet (counted as `send_failed`), as a
//! late media packet is worthless anyway.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::socket::{recvmmsg, sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::core::{Call, Event, LegId, Port, Verdict, TAIL_ROOM};
use crate::stats::{DropReason, LegStats};

/// Datagrams per `recvmmsg`/`sendmmsg` call.
pub const BATCH: usize = 32;
/// Receive buffer per datagram, including the tail room for an SRTP trailer.
pub const BUF_LEN: usize = 2048;
const RECV_MAX: usize = BUF_LEN - TAIL_ROOM;

/// Shell limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShellConfig {
    /// Packets taken from one socket per wakeup before yielding (fairness between calls).
    pub budget: usize,
    /// How often statistics are published and inactivity is checked. The inactivity event
    /// is late by at most this much.
    pub tick: Duration,
}

impl Default for ShellConfig {
    fn default() -> Self {
        ShellConfig {
            budget: 4 * BATCH,
            tick: Duration::from_secs(1),
        }
    }
}

/// The local sockets of one leg (bound, non-blocking, e.g. from the media port pool).
#[derive(Debug)]
pub struct LegSockets {
    /// The RTP socket (also RTCP with rtcp-mux).
    pub rtp: std::net::UdpSocket,
    /// The RTCP socket; `None` with rtcp-mux.
    pub rtcp: Option<std::net::UdpSocket>,
}

/// Snapshot of a call's statistics, published every [`ShellConfig::tick`] and at stop.
pub type SharedStats = Arc<Mutex<[LegStats; 2]>>;

/// A running call. Dropping it does not stop the task; call [`CallHandle::stop`].
#[derive(Debug)]
pub struct CallHandle {
    stats: SharedStats,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl CallHandle {
    /// The latest statistics of legs A and B.
    pub fn stats(&self) -> [LegStats; 2] {
        match self.stats.lock() {
            Ok(s) => *s,
            Err(p) => *p.into_inner(),
        }
    }

    /// Stop the call, wait for its task (sockets are closed), and return the final
    /// statistics of legs A and B.
    pub async fn stop(mut self) -> [LegStats; 2] {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
        self.stats()
    }
}

fn to_std(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    a.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}

type Sock = UdpSocket;

/// `recvmmsg`/`sendmmsg` header arrays. They hold raw pointers (not `Send`), so they live
/// per worker thread rather than in the task; `pump` never awaits while using them.
struct Headers {
    recv: MultiHeaders<SockaddrStorage>,
    send: MultiHeaders<SockaddrStorage>,
}

thread_local! {
    static HEADERS: std::cell::RefCell<Headers> = std::cell::RefCell::new(Headers {
        recv: MultiHeaders::preallocate(BATCH, None),
        send: MultiHeaders::preallocate(BATCH, None),
    });
}

fn slot(leg: LegId, port: Port) -> usize {
    match (leg, port) {
        (LegId::A, Port::Rtp) => 0,
        (LegId::A, Port::Rtcp) => 1,
        (LegId::B, Port::Rtp) => 2,
        (LegId::B, Port::Rtcp) => 3,
    }
}

fn slot_leg_port(i: usize) -> (LegId, Port) {
    let leg = if i < 2 { LegId::A } else { LegId::B };
    let port = if i % 2 == 0 { Port::Rtp } else { Port::Rtcp };
    (leg, port)
}

/// Received datagrams of one batch: (length, source, truncated).
type Received = [(usize, Option<SocketAddr>, bool); BATCH];

/// One `recvmmsg` on `sock`, at most `max` datagrams into `bufs`; returns how many.
///
/// It runs inside tokio's `try_io`, and a short batch (fewer than `max`: the queue is
/// empty) is reported to tokio as `WouldBlock` after the datagrams were stored. That clears
/// the socket's readiness without the extra `recvmmsg` that would only return `EAGAIN`.
/// It is safe: tokio clears only if no new readiness edge arrived since it sampled the
/// readiness *before* this call, so a datagram arriving meanwhile still wakes the task.
fn recv_batch(
    sock: &Sock,
    bufs: &mut [[u8; BUF_LEN]; BATCH],
    hdrs: &mut Headers,
    max: usize,
    out: &mut Received,
) -> io::Result<usize> {
    let fd = sock.as_raw_fd();
    let mut got = 0;
    let r = sock.try_io(Interest::READABLE, || {
        let mut iovs = bufs
            .each_mut()
            .map(|b| [IoSliceMut::new(&mut b[..RECV_MAX])]);
        let res = recvmmsg(
            fd,
            &mut hdrs.recv,
            iovs.iter_mut().take(max),
            MsgFlags::MSG_DONTWAIT,
            None,
        )
        .map_err(io::Error::from)?;
        for (slot, m) in out.iter_mut().zip(res) {
            *slot = (
                m.bytes,
                m.address.as_ref().and_then(to_std),
                m.flags.contains(MsgFlags::MSG_TRUNC),
            );
            got += 1;
        }
        if got < max {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(())
    });
    match r {
        Ok(()) => Ok(got),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock && got > 0 => Ok(got),
        Err(e) => Err(e),
    }
}

/// Packets to send from one socket: (buffer index, length, destination).
struct SendList {
    n: usize,
    items: [(usize, usize, Option<SockaddrStorage>); BATCH],
}

/// One `sendmmsg` per [`BATCH`] of `list` on `sock`; returns how many the kernel took.
fn send_batch(
    sock: &Sock,
    bufs: &[[u8; BUF_LEN]; BATCH],
    hdrs: &mut Headers,
    list: &SendList,
) -> usize {
    let fd = sock.as_raw_fd();
    let items = &list.items[..list.n];
    let iovs: [[IoSlice<'_>; 1]; BATCH] = std::array::from_fn(|k| {
        [IoSlice::new(
            items.get(k).map_or(&[][..], |&(b, len, _)| &bufs[b][..len]),
        )]
    });
    let addrs: [Option<SockaddrStorage>; BATCH] =
        std::array::from_fn(|k| items.get(k).and_then(|s| s.2));
    let mut done = 0;
    while done < items.len() {
        match sendmmsg(
            fd,
            &mut hdrs.send,
            &iovs[done..items.len()],
            &addrs[done..items.len()],
            [],
            MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(r) => {
                let sent = r.count();
                if sent == 0 {
                    break;
                }
                done += sent;
            }
            // EAGAIN and anything else: the rest of the batch is dropped.
            Err(_) => break,
        }
    }
    done
}

/// Start `call` on its sockets in the current tokio runtime. Events go to `events` tagged
/// with `id`.
pub fn spawn_call(
    id: u64,
    call: Call,
    a: LegSockets,
    b: LegSockets,
    cfg: ShellConfig,
    events: mpsc::UnboundedSender<(u64, Event)>,
) -> io::Result<CallHandle> {
    let conv = |s: Option<std::net::UdpSocket>| -> io::Result<Option<Sock>> {
        s.map(|s| {
            s.set_nonblocking(true)?;
            UdpSocket::from_std(s)
        })
        .transpose()
    };
    let socks = [
        conv(Some(a.rtp))?,
        conv(a.rtcp)?,
        conv(Some(b.rtp))?,
        conv(b.rtcp)?,
    ];
    let stats: SharedStats = Arc::new(Mutex::new([LegStats::default(); 2]));
    let (stop_tx, stop_rx) = oneshot::channel();
    let task = tokio::spawn(run(id, call, socks, cfg, stats.clone(), events, stop_rx));
    Ok(CallHandle {
        stats,
        stop: Some(stop_tx),
        task,
    })
}

async fn readable(s: &Option<Sock>) -> io::Result<()> {
    match s {
        Some(s) => s.readable().await,
        None => std::future::pending().await,
    }
}

async fn run(
    id: u64,
    mut call: Call,
    socks: [Option<Sock>; 4],
    cfg: ShellConfig,
    stats: SharedStats,
    events: mpsc::UnboundedSender<(u64, Event)>,
    mut stop: oneshot::Receiver<()>,
) {
    let budget = cfg.budget.max(1);
    let tick = cfg.tick.max(Duration::from_millis(1));
    let mut bufs: Box<[[u8; BUF_LEN]; BATCH]> = Box::new([[0u8; BUF_LEN]; BATCH]);
    // One timer for statistics and inactivity, re-armed only when it fires: no timer
    // work per packet.
    let timer = tokio::time::sleep(tick);
    tokio::pin!(timer);
    let publish = |call: &Call| {
        if let Ok(mut s) = stats.lock() {
            *s = [*call.stats(LegId::A), *call.stats(LegId::B)];
        }
    };
    loop {
        let (i, ready) = tokio::select! {
            _ = &mut stop => {
                publish(&call);
                return;
            }
            () = &mut timer => {
                let now = Instant::now();
                if let Some(ev) = call.poll(now) {
                    let _ = events.send((id, ev));
                }
                publish(&call);
                timer.as_mut().reset(tokio::time::Instant::now() + tick);
                continue;
            }
            g = readable(&socks[0]) => (0, g),
            g = readable(&socks[1]) => (1, g),
            g = readable(&socks[2]) => (2, g),
            g = readable(&socks[3]) => (3, g),
        };
        if ready.is_err() {
            // The reactor failed the socket: nothing more will arrive on it.
            publish(&call);
            return;
        }
        let exhausted =
            HEADERS.with(|h| pump(&mut call, &socks, &mut bufs, &mut h.borrow_mut(), i, budget));
        if exhausted {
            tokio::task::yield_now().await;
        }
    }
}

/// Drain socket `i` up to `budget` packets; true if the budget ran out (more may wait).
fn pump(
    call: &mut Call,
    socks: &[Option<Sock>; 4],
    bufs: &mut [[u8; BUF_LEN]; BATCH],
    hdrs: &mut Headers,
    i: usize,
    budget: usize,
) -> bool {
    let (leg, port) = slot_leg_port(i);
    let Some(sock) = socks[i].as_ref() else {
        return false;
    };
    let mut taken = 0;
    let mut got: Received = [(0, None, false); BATCH];
    while taken < budget {
        let want = (budget - taken).min(BATCH);
        let n = match recv_batch(sock, bufs, hdrs, want, &mut got) {
            Ok(n) => n,
            // Empty: readiness cleared by try_io.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            // Another error (e.g. an ICMP error queued on the socket) was consumed by
            // this call; the socket stays usable. It costs budget so a persistent error
            // cannot spin.
            Err(_) => {
                taken += 1;
                continue;
            }
        };
        taken += n;
        let now = Instant::now();
        let mut lists: [SendList; 4] = std::array::from_fn(|_| SendList {
            n: 0,
            items: [(0, 0, None); BATCH],
        });
        for (k, &(len, src, trunc)) in got[..n].iter().enumerate() {
            let Some(src) = src else { continue };
            if trunc {
                call.count_rx_drop(leg, DropReason::TooLarge, len);
                continue;
            }
            if let Verdict::Forward {
                leg: out,
                port: op,
                dst,
                len,
            } = call.process(leg, port, src, &mut bufs[k], len, now)
            {
                let o = slot(out, op);
                if socks[o].is_some() {
                    let l = &mut lists[o];
                    l.items[l.n] = (k, len, Some(SockaddrStorage::from(dst)));
                    l.n += 1;
                } else {
                    call.count_send_failure(leg, out, len);
                }
            }
        }
        for (o, list) in lists.iter().enumerate() {
            if list.n > 0 {
                let Some(out) = socks[o].as_ref() else {
                    continue;
                };
                let sent = send_batch(out, bufs, hdrs, list);
                for &(_, len, _) in &list.items[sent..list.n] {
                    call.count_send_failure(leg, slot_leg_port(o).0, len);
                }
            }
        }
        if n < want {
            return false; // the queue was emptied and readiness cleared (see recv_batch)
        }
    }
    true
}
