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
use std::time::Instant;

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
}

impl Default for ShellConfig {
    fn default() -> Self {
        ShellConfig { budget: 4 * BATCH }
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

/// Snapshot of a call's statistics, published after every batch.
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

struct Io {
    /// [A rtp, A rtcp, B rtp, B rtcp]
    socks: [Option<UdpSocket>; 4],
    bufs: Box<[[u8; BUF_LEN]; BATCH]>,
}

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

impl Io {
    /// One `recvmmsg` on socket `i`, at most `max` datagrams.
    fn recv_batch(
        &mut self,
        hdrs: &mut Headers,
        i: usize,
        max: usize,
        out: &mut Received,
    ) -> io::Result<usize> {
        let Some(sock) = self.socks[i].as_ref() else {
            return Ok(0);
        };
        let fd = sock.as_raw_fd();
        let bufs = &mut self.bufs;
        let hdrs = &mut hdrs.recv;
        sock.try_io(Interest::READABLE, || {
            let mut iovs = bufs
                .each_mut()
                .map(|b| [IoSliceMut::new(&mut b[..RECV_MAX])]);
            let res = recvmmsg(
                fd,
                hdrs,
                iovs.iter_mut().take(max),
                MsgFlags::MSG_DONTWAIT,
                None,
            )
            .map_err(io::Error::from)?;
            let mut n = 0;
            for (slot, m) in out.iter_mut().zip(res) {
                *slot = (
                    m.bytes,
                    m.address.as_ref().and_then(to_std),
                    m.flags.contains(MsgFlags::MSG_TRUNC),
                );
                n += 1;
            }
            Ok(n)
        })
    }

    /// One `sendmmsg` on socket `i` of `sends` (buffer index, length, destination); returns
    /// how many the kernel took.
    fn send_batch(
        &mut self,
        hdrs: &mut Headers,
        i: usize,
        sends: &[(usize, usize, SockaddrStorage)],
    ) -> usize {
        let Some(sock) = self.socks[i].as_ref() else {
            return 0;
        };
        let fd = sock.as_raw_fd();
        let mut done = 0;
        while done < sends.len() {
            let rest = &sends[done..];
            let bufs = &self.bufs;
            let iovs: [[IoSlice<'_>; 1]; BATCH] = std::array::from_fn(|k| {
                [IoSlice::new(
                    rest.get(k).map_or(&[][..], |&(b, len, _)| &bufs[b][..len]),
                )]
            });
            let addrs: [Option<SockaddrStorage>; BATCH] =
                std::array::from_fn(|k| rest.get(k).map(|s| s.2));
            let n = rest.len().min(BATCH);
            match sendmmsg(
                fd,
                &mut hdrs.send,
                &iovs[..n],
                &addrs[..n],
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
    let conv = |s: Option<std::net::UdpSocket>| -> io::Result<Option<UdpSocket>> {
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
    let io = Io {
        socks,
        bufs: Box::new([[0u8; BUF_LEN]; BATCH]),
    };
    let stats: SharedStats = Arc::new(Mutex::new([LegStats::default(); 2]));
    let (stop_tx, stop_rx) = oneshot::channel();
    let task = tokio::spawn(run(id, call, io, cfg, stats.clone(), events, stop_rx));
    Ok(CallHandle {
        stats,
        stop: Some(stop_tx),
        task,
    })
}

async fn readable(s: &Option<UdpSocket>) -> usize {
    match s {
        Some(s) => {
            // An error here (never seen on UDP) is retried through try_io, which reports it.
            let _ = s.readable().await;
            0
        }
        None => std::future::pending().await,
    }
}

async fn run(
    id: u64,
    mut call: Call,
    mut io: Io,
    cfg: ShellConfig,
    stats: SharedStats,
    events: mpsc::UnboundedSender<(u64, Event)>,
    mut stop: oneshot::Receiver<()>,
) {
    let budget = cfg.budget.max(1);
    loop {
        let deadline = tokio::time::Instant::from_std(call.next_deadline());
        let ready = tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep_until(deadline) => {
                if let Some(ev) = call.poll(Instant::now()) {
                    let _ = events.send((id, ev));
                }
                continue;
            }
            _ = readable(&io.socks[0]) => 0,
            _ = readable(&io.socks[1]) => 1,
            _ = readable(&io.socks[2]) => 2,
            _ = readable(&io.socks[3]) => 3,
        };
        let exhausted =
            HEADERS.with(|h| pump(&mut call, &mut io, &mut h.borrow_mut(), ready, budget));
        if let Ok(mut s) = stats.lock() {
            *s = [*call.stats(LegId::A), *call.stats(LegId::B)];
        }
        if exhausted {
            tokio::task::yield_now().await;
        }
    }
}

/// Drain socket `i` up to `budget` packets; true if the budget ran out (more may wait).
fn pump(call: &mut Call, io: &mut Io, hdrs: &mut Headers, i: usize, budget: usize) -> bool {
    let (leg, port) = slot_leg_port(i);
    let mut taken = 0;
    let mut got: Received = [(0, None, false); BATCH];
    let mut sends: [Vec<(usize, usize, SockaddrStorage)>; 4] = Default::default();
    while taken < budget {
        let n = match io.recv_batch(hdrs, i, (budget - taken).min(BATCH), &mut got) {
            Ok(0) | Err(_) => return false, // WouldBlock (readiness cleared) or socket error
            Ok(n) => n,
        };
        taken += n;
        let now = Instant::now();
        for s in &mut sends {
            s.clear();
        }
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
            } = call.process(leg, port, src, &mut io.bufs[k], len, now)
            {
                let o = slot(out, op);
                if io.socks[o].is_some() {
                    sends[o].push((k, len, SockaddrStorage::from(dst)));
                } else {
                    call.count_send_failure(leg, out, len);
                }
            }
        }
        for (o, batch) in sends.iter().enumerate() {
            if !batch.is_empty() {
                let sent = io.send_batch(hdrs, o, batch);
                for &(_, len, _) in &batch[sent..] {
                    call.count_send_failure(leg, slot_leg_port(o).0, len);
                }
            }
        }
    }
    true
}
