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
        if plan == call.running {
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

impl BodyPolicy for MediaAnchor {
    fn rewrite(&self, ctx: &BodyContext<'_>) -> BodyAction {
        if ctx.role == BodyRole::Other {
            return BodyAction::Pass;
        }
        let Some(ct) = ctx.content_type else {
            return BodyAction::Pass;
        };
        // Only the SDP (part) is ours; anything else crosses byte for byte (TI-39).
        let Ok(loc) = sbc_emergency::locate_sdp(ct, ctx.body) else {
            return BodyAction::Pass;
        };
        let Some(sdp) = ctx.body.get(loc.range.clone()) else {
            return BodyAction::Pass;
        };
        let new = match ctx.role {
            BodyRole::Offer => match self.offer(ctx, sdp) {
                Ok(s) => s,
                Err(status) => return BodyAction::Reject { status },
            },
            BodyRole::Answer | BodyRole::Early => {
                let kind = if ctx.role == BodyRole::Early {
                    AnswerKind::Provisional
                } else {
                    AnswerKind::Final
                };
                match self.answer(ctx, sdp, kind) {
                    Some(s) => s,
                    // No session or no offer outstanding: not ours to rewrite.
                    None if !lock(&self.calls).contains_key(&ctx.call) => return BodyAction::Pass,
                    None => return BodyAction::Reject { status: 488 },
                }
            }
            BodyRole::Other => return BodyAction::Pass,
        };
        let body = if loc.part.is_none() {
            new
        } else {
            match sbc_emergency::replace_sdp(ct, ctx.body, &new) {
                Ok(b) => b,
                Err(_) => return BodyAction::Reject { status: 500 },
            }
        };
        BodyAction::Replace {
            content_type: ct.to_vec(),
            body,
        }
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
