//! Media anchoring in the call path (issue 7; TI-29, TI-32..TI-37): a [`BodyPolicy`] that
//! runs every SDP crossing the B2BUA through an `sbc-media` session and drives the
//! `sbc-relay` packet relay from the negotiated plan.
//!
//! * One [`MediaAnchor`] per shard engine (call keys are per engine); the port pool is
//!   shared by the node's shards behind a mutex (lock order: sessions, then pool).
//! * Leg policies come from the trunk names in [`BodyContext`]: the Teams trunk
//!   (`sbc_policy::TEAMS_TRUNK`) gets [`MediaPolicy::microsoft`] (SRTP, TI-32), any other
//!   [`MediaPolicy::gateway`].
//! * A multipart body (an emergency INVITE with PIDF-LO, TI-39) has only its SDP part
//!   rewritten (`sbc_emergency::replace_sdp`); a body without one SDP part passes as is.
//! * After every answer the session's [`RelayPlan`] is compared with the running one; a
//!   change stops the relay and starts it again on the same leased ports (the relay has no
//!   live re-key). One task per call applies these in order.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use sbc_b2bua::{BodyAction, BodyContext, BodyPolicy, BodyRole, CallKey, Side};
use sbc_media::{
    AnswerKind, KeySource, Leg, LegConfig, LegPlan, MediaError, MediaPolicy, MediaSession,
    PortPool, PortRange, RelayPlan, SessionConfig, SrtpKey, SrtpSuite,
};
use sbc_relay::shell::{spawn_call, CallHandle, LegSockets, ShellConfig};
use sbc_relay::{CallLimits, SourcePolicy, SrtpLeg};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// The node's relay ports, shared by every shard's [`MediaAnchor`].
pub type SharedPool = Arc<Mutex<PortPool>>;

/// The pool for `[media]`'s range.
pub fn pool(cfg: &sbc_config::Media) -> Result<SharedPool, String> {
    PortPool::new(PortRange {
        min: cfg.port_min,
        max: cfg.port_max,
    })
    .map(|p| Arc::new(Mutex::new(p)))
    .map_err(|e| format!("media ports: {e:?}"))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the relay task of one call is told, in order.
#[derive(Debug)]
enum Cmd {
    Plan(RelayPlan),
    Stop,
}

#[derive(Debug)]
struct CallMedia {
    session: MediaSession,
    /// The B trunk the session was built for (a failover to another trunk before any
    /// answer rebuilds it).
    trunk_b: Option<String>,
    /// The plan the relay runs (or was last told to run).
    running: RelayPlan,
    relay: Option<mpsc::UnboundedSender<Cmd>>,
}

/// The media [`BodyPolicy`] of one shard.
#[derive(Debug)]
pub struct MediaAnchor {
    address: IpAddr,
    microsoft_trunks: Vec<String>,
    pool: SharedPool,
    calls: Mutex<HashMap<CallKey, CallMedia>>,
    rt: Handle,
    next_id: AtomicU64,
    shard: u16,
}

/// The media policy of a trunk (TI-29: the Teams trunk is SRTP toward Microsoft; so are
/// the trunks `[media] microsoft_trunks` names).
pub fn policy_for(trunk: Option<&str>, microsoft_trunks: &[String]) -> MediaPolicy {
    match trunk {
        Some(t) if t == sbc_policy::TEAMS_TRUNK || microsoft_trunks.iter().any(|m| m == t) => {
            MediaPolicy::microsoft()
        }
        _ => MediaPolicy::gateway(),
    }
}

impl MediaAnchor {
    /// An anchor advertising `address`, leasing from `pool`, running relays on `rt`.
    pub fn new(
        address: IpAddr,
        microsoft_trunks: Vec<String>,
        pool: SharedPool,
        rt: Handle,
        shard: u16,
    ) -> MediaAnchor {
        MediaAnchor {
            address,
            microsoft_trunks,
            pool,
            calls: Mutex::new(HashMap::new()),
            rt,
            next_id: AtomicU64::new(u64::from(shard) << 48),
            shard,
        }
    }

    /// Calls with a media session (tests, metrics).
    pub fn sessions(&self) -> usize {
        lock(&self.calls).len()
    }

    fn new_session(&self, ctx: &BodyContext<'_>) -> CallMedia {
        let leg = |trunk| LegConfig {
            policy: policy_for(trunk, &self.microsoft_trunks),
            local_ip: self.address,
        };
        CallMedia {
            session: MediaSession::new(SessionConfig::new(leg(ctx.trunk_a), leg(ctx.trunk_b))),
            trunk_b: ctx.trunk_b.map(str::to_owned),
            running: RelayPlan::default(),
            relay: None,
        }
    }

    /// Runs `f` with a CSPRNG key source; `None` when the OS generator failed (then
    /// nothing the call produced may be used).
    fn with_rng<R>(f: impl FnOnce(&mut dyn KeySource) -> R) -> (R, bool) {
        let mut failed = false;
        let mut rng = |buf: &mut [u8]| {
            if getrandom::getrandom(buf).is_err() {
                failed = true;
            }
        };
        let r = f(&mut rng);
        (r, failed)
    }

    fn offer(&self, ctx: &BodyContext<'_>, sdp: &[u8]) -> Result<Vec<u8>, u16> {
        let mut calls = lock(&self.calls);
        let leg = leg_of(ctx.from);
        let rebuild = calls.get(&ctx.call).is_some_and(|c| {
            !c.session.is_anchored() && ctx.from == Side::A && c.trunk_b.as_deref() != ctx.trunk_b
        });
        if rebuild {
            if let Some(mut old) = calls.remove(&ctx.call) {
                old.session.release(&mut lock(&self.pool));
            }
        }
        let call = calls
            .entry(ctx.call)
            .or_insert_with(|| self.new_session(ctx));
        fresh_keys_if_relaying(call);
        let mut pool = lock(&self.pool);
        let (r, failed) = Self::with_rng(|rng| call.session.on_offer(leg, sdp, &mut pool, rng));
        match r {
            Ok(_) if failed => {
                call.session.offer_failed(&mut pool);
                tracing::error!("OS random generator failed: offer refused");
                Err(503)
            }
            Ok(out) => Ok(out),
            Err(e) => Err(refused(e)),
        }
    }

    fn answer(&self, ctx: &BodyContext<'_>, sdp: &[u8], kind: AnswerKind) -> Option<Vec<u8>> {
        let mut calls = lock(&self.calls);
        let call = calls.get_mut(&ctx.call)?;
        call.session.offer_pending()?;
        fresh_keys_if_relaying(call);
        let mut pool = lock(&self.pool);
        let (r, failed) = Self::with_rng(|rng| {
            call.session
                .on_answer(leg_of(ctx.from), sdp, kind, &mut pool, rng)
        });
        let out = match r {
            Ok(_) if failed => {
                tracing::error!("OS random generator failed: answer refused");
                call.session.offer_failed(&mut pool);
                None
            }
            Ok(out) => Some(out),
            Err(e) => {
                tracing::warn!(error = e.as_str(), "answer refused by the media session");
                if kind == AnswerKind::Final {
                    call.session.offer_failed(&mut pool);
                }
                None
            }
        };
        drop(pool);
        if out.is_some() {
            self.update_relay(call);
        }
        out
    }

    /// Tells the call's relay task about a changed plan (starting the task if needed).
    fn update_relay(&self, call: &mut CallMedia) {
        let plan = call.session.relay_plan();
        // Early to final with the same streams: the running relay already does it.
        if plan.streams == call.running.streams {
            call.running = plan;
            return;
        }
        call.running = plan.clone();
        let tx = call.relay.get_or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            self.rt.spawn(relay_task(id, self.address, rx, self.shard));
            tx
        });
        let _ = tx.send(Cmd::Plan(plan));
    }
}

/// Once a relay runs, every later SDP of ours carries fresh keys (RFC 4568 §7.1.4): a plan
/// change restarts the relay with fresh SRTP contexts whose rollover counters start at 0,
/// and an unchanged outbound key would then protect packets under indices it already used
/// (keystream reuse, RFC 3711 §9.1).
fn fresh_keys_if_relaying(call: &mut CallMedia) {
    if !call.running.streams.is_empty() {
        call.session.request_rekey(Leg::A);
        call.session.request_rekey(Leg::B);
    }
}

fn leg_of(side: Side) -> Leg {
    match side {
        Side::A => Leg::A,
        Side::B => Leg::B,
    }
}

fn refused(e: MediaError) -> u16 {
    tracing::info!(error = e.as_str(), "offer refused by the media session");
    e.sip_status()
}

/// Runs `f` on the SDP of a body (the whole body, or the one SDP part of a
/// `multipart/mixed` one) and puts its result in place, every other byte unchanged (TI-39:
/// the PIDF-LO of an emergency call crosses as it came). A body without one plain SDP
/// passes; `f` may answer with the action to take instead.
pub fn with_sdp(
    content_type: Option<&[u8]>,
    body: &[u8],
    f: impl FnOnce(&[u8]) -> Result<Vec<u8>, BodyAction>,
) -> BodyAction {
    let Some(ct) = content_type else {
        return BodyAction::Pass;
    };
    let Ok(loc) = sbc_emergency::locate_sdp(ct, body) else {
        return BodyAction::Pass;
    };
    let Some(sdp) = body.get(loc.range.clone()) else {
        return BodyAction::Pass;
    };
    let new = match f(sdp) {
        Ok(s) => s,
        Err(action) => return action,
    };
    let body = if loc.part.is_none() {
        new
    } else {
        match sbc_emergency::replace_sdp(ct, body, &new) {
            Ok(b) => b,
            // Located a moment ago; refusing beats sending a body we cannot build.
            Err(_) => return BodyAction::Reject { status: 500 },
        }
    };
    BodyAction::Replace {
        content_type: ct.to_vec(),
        body,
    }
}

impl BodyPolicy for MediaAnchor {
    fn rewrite(&self, ctx: &BodyContext<'_>) -> BodyAction {
        let kind = match ctx.role {
            BodyRole::Other => return BodyAction::Pass,
            BodyRole::Offer => None,
            BodyRole::Early => Some(AnswerKind::Provisional),
            BodyRole::Answer => Some(AnswerKind::Final),
        };
        with_sdp(ctx.content_type, ctx.body, |sdp| match kind {
            None => self
                .offer(ctx, sdp)
                .map_err(|status| BodyAction::Reject { status }),
            Some(kind) => match self.answer(ctx, sdp, kind) {
                Some(s) => Ok(s),
                // No session: the offer was not anchored, not ours to rewrite.
                None if !lock(&self.calls).contains_key(&ctx.call) => Err(BodyAction::Pass),
                None => Err(BodyAction::Reject { status: 488 }),
            },
        })
    }

    fn exchange_failed(&self, call: CallKey, _from: Side) {
        let mut calls = lock(&self.calls);
        if let Some(c) = calls.get_mut(&call) {
            c.session.offer_failed(&mut lock(&self.pool));
            // A provisional plan of the failed offer is gone too.
            self.update_relay(c);
        }
    }

    fn call_ended(&self, call: CallKey) {
        let Some(mut c) = lock(&self.calls).remove(&call) else {
            return;
        };
        c.session.release(&mut lock(&self.pool));
        if let Some(tx) = c.relay {
            let _ = tx.send(Cmd::Stop);
        }
    }
}

/// One call's relay: applies plans in order, each replacing the previous relay.
async fn relay_task(id: u64, ip: IpAddr, mut rx: mpsc::UnboundedReceiver<Cmd>, shard: u16) {
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let mut running: Vec<CallHandle> = Vec::new();
    loop {
        let cmd = tokio::select! {
            c = rx.recv() => c,
            Some((_, ev)) = ev_rx.recv() => {
                tracing::info!(shard, relay = id, ?ev, "media relay event");
                continue;
            }
        };
        // Ports are released to the pool before the sockets close; a new lease of the same
        // ports binds after this stop completes only within this task, so stop first.
        for h in running.drain(..) {
            h.stop().await;
        }
        match cmd {
            Some(Cmd::Plan(plan)) => {
                for s in &plan.streams {
                    match start_stream(id, ip, &s.a, &s.b, ev_tx.clone()) {
                        Ok(h) => running.push(h),
                        Err(e) => {
                            tracing::warn!(shard, relay = id, error = %e, "media relay not started")
                        }
                    }
                }
            }
            Some(Cmd::Stop) | None => break,
        }
    }
    for h in running {
        h.stop().await;
    }
}

fn bind(ip: IpAddr, port: u16) -> std::io::Result<UdpSocket> {
    UdpSocket::bind(SocketAddr::new(ip, port))
}

fn sockets(ip: IpAddr, l: &LegPlan) -> std::io::Result<LegSockets> {
    Ok(LegSockets {
        rtp: bind(ip, l.local_rtp)?,
        rtcp: if l.rtcp_mux {
            None
        } else {
            Some(bind(ip, l.local_rtcp)?)
        },
    })
}

fn context(k: &SrtpKey) -> Result<sbc_srtp::Context, String> {
    let suite = match k.suite {
        SrtpSuite::AesCm128HmacSha1_80 => sbc_srtp::Suite::AesCm128HmacSha1_80,
        SrtpSuite::AesCm128HmacSha1_32 => sbc_srtp::Suite::AesCm128HmacSha1_32,
    };
    let mki = match k.mki {
        Some(m) => Some(sbc_srtp::Mki::new(m.value, m.length).map_err(|e| format!("{e:?}"))?),
        None => None,
    };
    let lifetime = k.lifetime.and_then(|l| l.packets());
    let params = sbc_srtp::KeyParams::from_key_salt(&k.master, lifetime, mki);
    sbc_srtp::Context::new(suite, &[params], sbc_srtp::Config::default())
        .map_err(|e| format!("{e:?}"))
}

fn relay_leg(l: &LegPlan) -> Result<sbc_relay::LegConfig, String> {
    let srtp = match &l.srtp {
        Some(k) => Some(SrtpLeg {
            inbound: context(&k.inbound)?,
            outbound: context(&k.outbound)?,
        }),
        None => None,
    };
    Ok(sbc_relay::LegConfig {
        remote_rtp: l.remote_rtp,
        remote_rtcp: l.remote_rtcp,
        rtcp_mux: l.rtcp_mux,
        srtp,
        source: SourcePolicy::default(),
        pt_map: Vec::new(),
    })
}

fn start_stream(
    id: u64,
    ip: IpAddr,
    a: &LegPlan,
    b: &LegPlan,
    events: mpsc::UnboundedSender<(u64, sbc_relay::Event)>,
) -> Result<CallHandle, String> {
    let call = sbc_relay::Call::new(
        relay_leg(a)?,
        relay_leg(b)?,
        CallLimits::default(),
        std::time::Instant::now(),
    );
    let sa = sockets(ip, a).map_err(|e| format!("bind {}: {e}", a.local_rtp))?;
    let sb = sockets(ip, b).map_err(|e| format!("bind {}: {e}", b.local_rtp))?;
    spawn_call(id, call, sa, sb, ShellConfig::default(), events).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP: &[u8] = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0\r\n";
    const PIDF: &str = "<?xml version=\"1.0\"?>\r\n<presence entity=\"pres:a@b\">\r\n\
<tuple id=\"t\"><status/></tuple></presence>\r\n";

    fn multipart() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"--XyZ\r\nContent-Type: application/sdp\r\n\r\n");
        b.extend_from_slice(SDP);
        b.extend_from_slice(b"\r\n--XyZ\r\nContent-Type: application/pidf+xml\r\n");
        b.extend_from_slice(b"Content-ID: <loc@x>\r\n\r\n");
        b.extend_from_slice(PIDF.as_bytes());
        b.extend_from_slice(b"\r\n--XyZ--\r\n");
        b
    }

    #[test]
    fn multipart_keeps_every_non_sdp_byte() {
        let ct = b"multipart/mixed;boundary=XyZ";
        let body = multipart();
        let mut seen = Vec::new();
        let act = with_sdp(Some(ct), &body, |sdp| {
            seen = sdp.to_vec();
            Ok(b"v=0\r\nNEW\r\n".to_vec())
        });
        assert_eq!(seen, SDP);
        let BodyAction::Replace {
            content_type,
            body: out,
        } = act
        else {
            panic!("{act:?}");
        };
        assert_eq!(content_type, ct);
        let expect = String::from_utf8(body)
            .unwrap()
            .replace(std::str::from_utf8(SDP).unwrap(), "v=0\r\nNEW\r\n");
        assert_eq!(String::from_utf8(out).unwrap(), expect);
    }

    #[test]
    fn no_sdp_part_or_no_type_passes_and_refusals_propagate() {
        let never = |_: &[u8]| -> Result<Vec<u8>, BodyAction> { panic!("not an SDP") };
        assert_eq!(with_sdp(None, SDP, never), BodyAction::Pass);
        assert_eq!(
            with_sdp(Some(b"application/pidf+xml"), PIDF.as_bytes(), never),
            BodyAction::Pass
        );
        assert_eq!(
            with_sdp(Some(b"application/sdp"), SDP, |_| Err(BodyAction::Reject {
                status: 488
            })),
            BodyAction::Reject { status: 488 }
        );
    }

    #[test]
    fn teams_and_listed_trunks_get_the_microsoft_policy() {
        let listed = vec!["lab-teams".to_owned()];
        assert_eq!(
            policy_for(Some(sbc_policy::TEAMS_TRUNK), &[]),
            MediaPolicy::microsoft()
        );
        assert_eq!(
            policy_for(Some("lab-teams"), &listed),
            MediaPolicy::microsoft()
        );
        assert_eq!(policy_for(Some("gw1"), &listed), MediaPolicy::gateway());
        assert_eq!(policy_for(None, &listed), MediaPolicy::gateway());
    }
}
