//! The pure packet path: for one packet received on one leg, decide whether to forward it,
//! translate it (SRTP <-> RTP, payload type), and where to send it. No sockets, no clock:
//! the shell passes the receive time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sbc_srtp::{Context, Error as SrtpError};

use crate::stats::{DropReason, LegStats};

/// Which of the two legs of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegId {
    /// The first leg (e.g. towards Microsoft Teams).
    A,
    /// The second leg (e.g. towards the PSTN gateway).
    B,
}

impl LegId {
    /// The other leg.
    pub fn other(self) -> LegId {
        match self {
            LegId::A => LegId::B,
            LegId::B => LegId::A,
        }
    }

    fn idx(self) -> usize {
        match self {
            LegId::A => 0,
            LegId::B => 1,
        }
    }
}

/// RTP or RTCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Media.
    Rtp,
    /// Control.
    Rtcp,
}

/// Which of a leg's local sockets a packet arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Port {
    /// The RTP port (carries RTCP too with rtcp-mux).
    Rtp,
    /// The separate RTCP port (RTP port + 1, RFC 3550 §11).
    Rtcp,
}

/// Where a leg's remote end is taken from (symmetric RTP, RFC 4961; "latching").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourcePolicy {
    /// From the first accepted packet on, the remote address follows the source of accepted
    /// packets for this long; then it stays latched. Zero with `strict`: only the
    /// signalled address is accepted.
    pub learn_window: Duration,
    /// Once latched, drop packets from any other source (counted as `wrong_source`).
    /// Without it they are still forwarded but do not move the latch.
    pub strict: bool,
}

impl Default for SourcePolicy {
    fn default() -> Self {
        SourcePolicy {
            learn_window: Duration::from_secs(3),
            strict: true,
        }
    }
}

/// SRTP state of one leg: one context per direction (RFC 3711 §3.2.1).
#[derive(Debug)]
pub struct SrtpLeg {
    /// Unprotects what the leg's peer sends us (keys from the peer's `a=crypto`).
    pub inbound: Context,
    /// Protects what we send to the peer (keys from our `a=crypto`).
    pub outbound: Context,
}

/// Configuration of one leg.
#[derive(Debug)]
pub struct LegConfig {
    /// The remote RTP address signalled in SDP (`c=` + `m=` port), if known.
    pub remote_rtp: Option<SocketAddr>,
    /// The remote RTCP address (RFC 3605 `a=rtcp` or port + 1); ignored with `rtcp_mux`.
    pub remote_rtcp: Option<SocketAddr>,
    /// RTCP shares the RTP port (RFC 5761).
    pub rtcp_mux: bool,
    /// `None`: plain RTP; `Some`: SRTP with these contexts.
    pub srtp: Option<SrtpLeg>,
    /// Latching / source checking.
    pub source: SourcePolicy,
    /// Payload types rewritten on packets sent out of this leg: (received PT, sent PT).
    /// RFC 4733 telephone-event and CN (RFC 3389) are forwarded like any payload type,
    /// remapped when the two offers numbered them differently.
    pub pt_map: Vec<(u8, u8)>,
}

impl LegConfig {
    /// A plain-RTP leg towards `remote` with default latching.
    pub fn plain(remote: Option<SocketAddr>) -> LegConfig {
        LegConfig {
            remote_rtp: remote,
            remote_rtcp: remote.map(|a| SocketAddr::new(a.ip(), a.port().wrapping_add(1))),
            rtcp_mux: false,
            srtp: None,
            source: SourcePolicy::default(),
            pt_map: Vec::new(),
        }
    }
}

/// The remote address of one port of a leg: the signalled one until packets arrive, then
/// the learned one.
#[derive(Debug, Clone, Copy, Default)]
struct Latch {
    addr: Option<SocketAddr>,
    /// When the first packet was accepted (the learning window runs from there).
    since: Option<Instant>,
}

impl Latch {
    fn new(addr: Option<SocketAddr>) -> Latch {
        Latch { addr, since: None }
    }

    /// Decide on a packet from `src`: `Ok(true)` accept and latch it, `Ok(false)` accept
    /// without moving the latch, `Err(())` drop as a wrong source.
    fn admit(&self, src: SocketAddr, now: Instant, policy: &SourcePolicy) -> Result<bool, ()> {
        let known = self.addr == Some(src);
        match self.since {
            // Nothing accepted yet. With no learning window and strict checking only the
            // signalled address may send (e.g. the Teams media processor, never behind NAT).
            None if policy.strict && policy.learn_window.is_zero() => match self.addr {
                Some(_) if !known => Err(()),
                _ => Ok(true),
            },
            None => Ok(true),
            Some(_) if known => Ok(false),
            Some(t) if now.saturating_duration_since(t) < policy.learn_window => Ok(true),
            Some(_) if policy.strict => Err(()),
            Some(_) => Ok(false),
        }
    }

    fn latch(&mut self, src: SocketAddr, now: Instant) {
        self.addr = Some(src);
        self.since.get_or_insert(now);
    }
}

/// Per-leg state.
#[derive(Debug)]
struct Leg {
    cfg: LegConfig,
    rtp_latch: Latch,
    rtcp_latch: Latch,
    stats: LegStats,
    last_rx: Option<Instant>,
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send `buf[..len]` from `leg`'s `port` socket to `dst`.
    Forward {
        /// The leg whose socket sends.
        leg: LegId,
        /// Which of its sockets.
        port: Port,
        /// The destination.
        dst: SocketAddr,
        /// Bytes to send from the start of the buffer.
        len: usize,
    },
    /// Dropped and counted.
    Drop(DropReason),
}

/// Events for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// No valid packet on either leg for the inactivity timeout: the caller ends the call.
    Inactive {
        /// Time since the last valid packet (or since the call started).
        idle: Duration,
    },
}

/// Limits of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// Report [`Event::Inactive`] after this long without a valid packet on either leg.
    pub inactivity_timeout: Duration,
}

impl Default for CallLimits {
    fn default() -> Self {
        CallLimits {
            inactivity_timeout: Duration::from_secs(60),
        }
    }
}

/// Bytes of tail room a receive buffer needs beyond the received packet for the largest
/// SRTP/SRTCP trailer this relay can add.
pub const TAIL_ROOM: usize = sbc_srtp::MAX_RTCP_TRAILER;

/// The pure state of one call: two legs.
#[derive(Debug)]
pub struct Call {
    legs: [Leg; 2],
    limits: CallLimits,
    started: Instant,
    inactive_reported: bool,
}

fn srtp_drop(e: SrtpError) -> DropReason {
    match e {
        SrtpError::TooShort | SrtpError::BadHeader => DropReason::Malformed,
        SrtpError::AuthFailed => DropReason::AuthFailed,
        SrtpError::Replayed => DropReason::Replayed,
        SrtpError::BadMki => DropReason::BadMki,
        SrtpError::KeyExpired => DropReason::KeyExpired,
        SrtpError::TooManyStreams => DropReason::TooManyStreams,
        SrtpError::NoRoom => DropReason::TooLarge,
    }
}

/// RFC 5761 §4: with rtcp-mux, RTCP packet types 192..=223 in the second byte (RTP
/// payload types 64..=95 with the marker bit) are RTCP.
fn is_rtcp(pkt: &[u8]) -> bool {
    pkt.len() >= 2 && (192..=223).contains(&pkt[1])
}

impl Call {
    /// A call between two legs; `now` starts the inactivity clock.
    pub fn new(a: LegConfig, b: LegConfig, limits: CallLimits, now: Instant) -> Call {
        let leg = |cfg: LegConfig| Leg {
            rtp_latch: Latch::new(cfg.remote_rtp),
            rtcp_latch: Latch::new(if cfg.rtcp_mux {
                cfg.remote_rtp
            } else {
                cfg.remote_rtcp
            }),
            cfg,
            stats: LegStats::default(),
            last_rx: None,
        };
        Call {
            legs: [leg(a), leg(b)],
            limits,
            started: now,
            inactive_reported: false,
        }
    }

    /// Statistics of one leg (counted on receipt on that leg, and on sending out of it).
    pub fn stats(&self, leg: LegId) -> &LegStats {
        &self.legs[leg.idx()].stats
    }

    /// Whether the leg uses rtcp-mux (the shell then needs no RTCP socket for it).
    pub fn rtcp_mux(&self, leg: LegId) -> bool {
        self.legs[leg.idx()].cfg.rtcp_mux
    }

    /// Process `buf[..len]`, received on `leg`'s `port` socket from `src`, in place.
    /// `buf` must have [`TAIL_ROOM`] bytes beyond `len` for a protected packet to grow.
    /// Never fails: every refused packet becomes a counted [`Verdict::Drop`].
    pub fn process(
        &mut self,
        leg: LegId,
        port: Port,
        src: SocketAddr,
        buf: &mut [u8],
        len: usize,
        now: Instant,
    ) -> Verdict {
        let verdict = self.process_inner(leg, port, src, buf, len, now);
        let s = &mut self.legs[leg.idx()].stats;
        s.rx_packets += 1;
        s.rx_bytes += len as u64;
        match verdict {
            Verdict::Forward { leg: out, len, .. } => {
                let o = &mut self.legs[out.idx()].stats;
                o.tx_packets += 1;
                o.tx_bytes += len as u64;
            }
            Verdict::Drop(r) => s.drops.count(r),
        }
        verdict
    }

    fn process_inner(
        &mut self,
        leg: LegId,
        port: Port,
        src: SocketAddr,
        buf: &mut [u8],
        len: usize,
        now: Instant,
    ) -> Verdict {
        let Some(pkt) = buf.get(..len) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        if pkt.len() < 8 || pkt[0] >> 6 != 2 {
            return Verdict::Drop(DropReason::Malformed);
        }
        let kind = match port {
            Port::Rtcp => Kind::Rtcp,
            Port::Rtp if self.legs[leg.idx()].cfg.rtcp_mux && is_rtcp(pkt) => Kind::Rtcp,
            Port::Rtp if is_rtcp(pkt) => return Verdict::Drop(DropReason::Malformed),
            Port::Rtp => Kind::Rtp,
        };
        if kind == Kind::Rtp && pkt.len() < 12 {
            return Verdict::Drop(DropReason::Malformed);
        }
        let (inl, outl) = match leg {
            LegId::A => {
                let [a, b] = &mut self.legs;
                (a, b)
            }
            LegId::B => {
                let [a, b] = &mut self.legs;
                (b, a)
            }
        };
        // Source check before any crypto work: a spoofer's packets cost no HMAC.
        let latch = match kind {
            Kind::Rtp => &inl.rtp_latch,
            Kind::Rtcp => &inl.rtcp_latch,
        };
        let relatch = match latch.admit(src, now, &inl.cfg.source) {
            Ok(r) => r,
            Err(()) => return Verdict::Drop(DropReason::WrongSource),
        };
        // Inbound: SRTP -> RTP.
        let mut len = len;
        if let Some(s) = inl.cfg.srtp.as_mut() {
            let r = match kind {
                Kind::Rtp => s.inbound.unprotect_rtp(&mut buf[..len]),
                Kind::Rtcp => s.inbound.unprotect_rtcp(&mut buf[..len]),
            };
            match r {
                Ok(n) => len = n,
                Err(e) => return Verdict::Drop(srtp_drop(e)),
            }
        } else if kind == Kind::Rtp && sbc_rtp_header_len(&buf[..len]).is_none() {
            return Verdict::Drop(DropReason::Malformed);
        }
        // Authenticated (or plain and well-formed): latch the source (RFC 4961 symmetric RTP).
        if relatch {
            match kind {
                Kind::Rtp => inl.rtp_latch.latch(src, now),
                Kind::Rtcp => inl.rtcp_latch.latch(src, now),
            }
        }
        inl.last_rx = Some(now);
        if kind == Kind::Rtcp {
            inl.stats.rtcp.observe(&buf[..len]);
        }
        // Outbound.
        let (out_port, dst) = match kind {
            Kind::Rtp => (Port::Rtp, outl.rtp_latch.addr),
            Kind::Rtcp if outl.cfg.rtcp_mux => (Port::Rtp, outl.rtp_latch.addr),
            Kind::Rtcp => (Port::Rtcp, outl.rtcp_latch.addr),
        };
        let Some(dst) = dst else {
            return Verdict::Drop(DropReason::NoDestination);
        };
        if kind == Kind::Rtp {
            let pt = buf[1] & 0x7f;
            if let Some(&(_, to)) = outl.cfg.pt_map.iter().find(|(from, _)| *from == pt) {
                buf[1] = (buf[1] & 0x80) | (to & 0x7f);
            }
        }
        if let Some(s) = outl.cfg.srtp.as_mut() {
            let r = match kind {
                Kind::Rtp => s.outbound.protect_rtp(buf, len),
                Kind::Rtcp => s.outbound.protect_rtcp(buf, len),
            };
            match r {
                Ok(n) => len = n,
                Err(e) => return Verdict::Drop(srtp_drop(e)),
            }
        }
        Verdict::Forward {
            leg: leg.other(),
            port: out_port,
            dst,
            len,
        }
    }

    /// Count a packet the shell dropped before [`Call::process`] (e.g. truncated by the
    /// receive buffer).
    pub fn count_rx_drop(&mut self, leg: LegId, reason: DropReason, len: usize) {
        let s = &mut self.legs[leg.idx()].stats;
        s.rx_packets += 1;
        s.rx_bytes += len as u64;
        s.drops.count(reason);
    }

    /// A forwarded packet (`len` bytes out of `out`) the socket did not take: it becomes a
    /// `send_failed` drop of the leg it came from.
    pub fn count_send_failure(&mut self, from: LegId, out: LegId, len: usize) {
        self.legs[from.idx()]
            .stats
            .drops
            .count(DropReason::SendFailed);
        let o = &mut self.legs[out.idx()].stats;
        o.tx_packets = o.tx_packets.saturating_sub(1);
        o.tx_bytes = o.tx_bytes.saturating_sub(len as u64);
    }

    /// Check the inactivity timer; returns the event once. Call it periodically (the shell
    /// does so at [`Call::next_deadline`]).
    pub fn poll(&mut self, now: Instant) -> Option<Event> {
        if self.inactive_reported {
            return None;
        }
        let last = self.last_activity();
        let idle = now.saturating_duration_since(last);
        if idle >= self.limits.inactivity_timeout {
            self.inactive_reported = true;
            return Some(Event::Inactive { idle });
        }
        None
    }

    /// When [`Call::poll`] may next report something.
    pub fn next_deadline(&self) -> Instant {
        self.last_activity() + self.limits.inactivity_timeout
    }

    fn last_activity(&self) -> Instant {
        self.legs
            .iter()
            .filter_map(|l| l.last_rx)
            .max()
            .unwrap_or(self.started)
            .max(self.started)
    }
}

/// RTP header length (RFC 3550 §5.1) if the packet holds it.
fn sbc_rtp_header_len(pkt: &[u8]) -> Option<usize> {
    if pkt.len() < 12 {
        return None;
    }
    let mut n = 12 + 4 * usize::from(pkt[0] & 0x0f);
    if pkt[0] & 0x10 != 0 {
        let ext = pkt.get(n..n + 4)?;
        n += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
    }
    (n <= pkt.len()).then_some(n)
}
