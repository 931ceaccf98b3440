//! The engine: the call table, the indices that find a call from a message or a transaction,
//! the timer queue, and the entry points the shell drives.

use core::cell::Cell;
use core::cmp::Reverse;
use core::time::Duration;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use sbc_sip::build::{self, MessageWriter};
use sbc_sip::hdr::{Refresher, SessionExpires};
use sbc_sip::validate::unsupported_extensions;
use sbc_sip::{HeaderName, Message, Method};
use sbc_txn::{Dispatch, Endpoint, Event, Incoming, Instant, Peer, TxnId};

use crate::admission::SharedAdmission;
use crate::body::{BodyAction, BodyContext, BodyPolicy, BodyRole, PassThrough};
use crate::call::{Call, Leg, Session, Slab, TimerKind, N_TIMERS};
use crate::config::{ConfigError, EngineConfig, LegPolicy};
use crate::event::{
    CallKey, CallPhase, Cdr, EndReason, EndedBy, EngineEvent, RefusedAttempt, Side,
};
use crate::ids::{IdGen, IdSource, SplitMix64};
use crate::router::Router;
use crate::wire::{self, dialog_request, Dialog, HeaderFilter, ReqLine};

/// What a tracked transaction is to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The caller's INVITE (server).
    AInvite,
    /// A B-leg INVITE (client), by attempt number.
    BInvite(u8),
    /// An in-dialog request relayed across: the server transaction on the side it came
    /// from, or our client transaction on the other side (to `Side`).
    RelayServer,
    RelayClient(Side),
    /// Our session refresh (or re-offer) on this side (client).
    Refresh(Side),
    /// The INVITE of a transfer (client).
    Transfer,
    /// Our re-INVITE to the remaining party of a Replaces (client).
    Replace,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct TxnRef {
    pub(crate) call: CallKey,
    pub(crate) role: Role,
}

/// One entry of the Call-ID index. A-side entries carry the caller's tag (their From tag in
/// requests, To tag in responses); B-side entries carry our tag (To in requests, From in
/// responses). Both legs have their own Call-ID, so the pair is unambiguous.
#[derive(Debug, Clone)]
pub(crate) struct IndexEntry {
    tag: Bytes,
    side: Side,
    key: CallKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerEntry {
    at: Instant,
    index: u32,
    gen: u32,
    kind: u8,
}

/// Everything but the call table, so a call and the shared state can be borrowed at once.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) cfg: EngineConfig,
    /// 0: A side, 1: B side, 2..: trunks.
    pub(crate) policies: Vec<LegPolicy>,
    pub(crate) policy_by_trunk: HashMap<String, usize>,
    /// Variants of a policy with another Contact (per-tenant FQDNs, TI-14), interned: one
    /// entry per (policy, contact) ever used, so legs keep a plain index.
    /// Keyed by the Contact first so a lookup borrows it (no allocation per call).
    contact_variants: HashMap<String, Vec<(usize, crate::ReferMode, usize)>>,
    /// The header filter of each policy (parallel to `policies`): what may cross into a leg
    /// is decided by that leg's policy.
    filters: Vec<HeaderFilter>,
    pub(crate) ids: IdGen,
    pub(crate) router: Arc<dyn Router>,
    pub(crate) body: Arc<dyn BodyPolicy>,
    /// The trunk names of each call's legs (A source, B target), for [`BodyContext`]:
    /// kept here because bodies are finished with the call borrowed elsewhere.
    pub(crate) trunks: HashMap<CallKey, [Option<Arc<str>>; 2]>,
    pub(crate) events: VecDeque<EngineEvent>,
    timers: BinaryHeap<Reverse<TimerEntry>>,
    index: HashMap<Bytes, Vec<IndexEntry>>,
    pub(crate) txns: HashMap<TxnId, TxnRef>,
    pub(crate) adm: SharedAdmission,
    pub(crate) draining: bool,
    pub(crate) shard: u16,
    /// The call the current input concerns, for [`Engine::recover_after_panic`]: set when
    /// an input is matched to a call, cleared at the start of every input.
    current: Cell<Option<CallKey>>,
    /// The server transaction the current input accepted, answered 500 by the recovery if
    /// the panic left it without a final response.
    pub(crate) accepted: Cell<Option<TxnId>>,
}

/// The call engine of one shard. See the crate documentation for the model.
///
/// Drive it with every [`Dispatch`] the shard's [`Endpoint`] returns
/// ([`Engine::handle_dispatch`]), every [`Event`] it emits ([`Engine::handle_txn_event`]),
/// and [`Engine::handle_timeout`] at [`Engine::poll_timeout`]; drain
/// [`Engine::poll_event`]. The engine acts on the endpoint it is handed (accept, respond,
/// send): drain the endpoint's transmits and events after each call.
#[derive(Debug)]
pub struct Engine {
    pub(crate) calls: Slab,
    pub(crate) sh: Shared,
}

impl Engine {
    /// An engine for shard `shard` with its own identifier source.
    pub fn new(
        cfg: EngineConfig,
        shard: u16,
        router: Arc<dyn Router>,
        ids: Box<dyn IdSource>,
    ) -> Result<Engine, ConfigError> {
        cfg.validate()?;
        let mut policies = vec![cfg.a_side.clone(), cfg.b_side.clone()];
        let mut policy_by_trunk = HashMap::new();
        let mut names: Vec<&String> = cfg.trunks.keys().collect();
        names.sort();
        for name in names {
            policy_by_trunk.insert(name.clone(), policies.len());
            policies.push(cfg.trunks[name].clone());
        }
        let filters = policies
            .iter()
            .map(|p| HeaderFilter::new(p.headers.as_ref().unwrap_or(&cfg.headers), p))
            .collect();
        let idgen = IdGen::new(ids, shard, &cfg.loop_token, cfg.call_id_suffix.as_deref());
        let adm = SharedAdmission::new(cfg.limits, cfg.trunk_limits.clone());
        Ok(Engine {
            calls: Slab::default(),
            sh: Shared {
                cfg,
                policies,
                policy_by_trunk,
                contact_variants: HashMap::new(),
                filters,
                ids: idgen,
                router,
                body: Arc::new(PassThrough),
                trunks: HashMap::new(),
                events: VecDeque::new(),
                timers: BinaryHeap::new(),
                index: HashMap::new(),
                txns: HashMap::new(),
                adm,
                draining: false,
                shard,
                current: Cell::new(None),
                accepted: Cell::new(None),
            },
        })
    }

    /// [`Engine::new`] with a [`SplitMix64`] seeded by `seed`.
    pub fn with_seed(
        cfg: EngineConfig,
        shard: u16,
        router: Arc<dyn Router>,
        seed: u64,
    ) -> Result<Engine, ConfigError> {
        Engine::new(cfg, shard, router, Box::new(SplitMix64::new(seed)))
    }

    /// Swaps the router (config reload); calls in progress keep their targets.
    pub fn set_router(&mut self, router: Arc<dyn Router>) {
        self.sh.router = router;
    }

    /// Installs the body hook (default [`PassThrough`]).
    pub fn set_body_policy(&mut self, body: Arc<dyn BodyPolicy>) {
        self.sh.body = body;
    }

    /// Drain mode: new calls get 503 + Retry-After; calls in progress go on.
    pub fn set_draining(&mut self, on: bool) {
        self.sh.draining = on;
    }

    /// The shard index embedded in our identifiers.
    pub fn shard(&self) -> u16 {
        self.sh.shard
    }

    /// Calls in the table.
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    /// Transactions the engine tracks (dropped as the endpoint reports them terminated).
    pub fn tracked_transactions(&self) -> usize {
        self.sh.txns.len()
    }

    /// Call-ID index entries (two per call once its B leg exists).
    pub fn index_len(&self) -> usize {
        self.sh.index.values().map(Vec::len).sum()
    }

    /// After the shell caught a panic in one of this engine's inputs (architecture principle
    /// 10): ends the call that input concerned, if it was matched to one: 500 to a pending
    /// INVITE, BYE on established legs, CANCEL of a ringing attempt, CDR with
    /// [`EndReason::Internal`]. Every other call is untouched. Returns the call ended. The
    /// shell should contain a panic of this too (the call's state may be what is broken).
    pub fn recover_after_panic(&mut self, now: Instant, ep: &mut Endpoint) -> Option<CallKey> {
        let mut accepted = self.sh.accepted.take();
        let key = self.sh.current.take();
        if let Some(call) = key.and_then(|k| self.calls.get_mut(k)) {
            if call.a.txn.is_some() {
                call.cdr.status = 500;
                // The caller's INVITE is answered by the call's end, with the call's tag.
                if call.a.txn == accepted {
                    accepted = None;
                }
            }
        }
        // A request accepted by that input and left unanswered gets its 500 first (the
        // endpoint refuses it if a final response already went), so no transaction hangs.
        if let Some(t) = accepted {
            if let Some(req) = ep.request(t).cloned() {
                let tag = Bytes::from(self.sh.ids.tag());
                let tag = req.to_tag().is_none().then_some(&tag[..]);
                let mut out = Vec::with_capacity(512);
                let mut w = build::response(&req, 500, None, tag, &mut out);
                self.sh.server_headers(&mut w, 0);
                w.finish(None, b"");
                let _ = ep.respond_bytes(now, t, out);
            }
        }
        if let Some(key) = key {
            self.hangup(
                now,
                ep,
                key,
                [true, true],
                None,
                (EndedBy::Sbc, EndReason::Internal),
            );
        }
        key
    }

    /// Replaces this engine's admission counters with node-wide ones shared with the other
    /// shards' engines (their limits replace [`EngineConfig::limits`] and
    /// [`EngineConfig::trunk_limits`]). Call before the first message.
    pub fn share_admission(&mut self, adm: SharedAdmission) {
        self.sh.adm = adm;
    }

    /// The admission counters (a clone shares them).
    pub fn admission(&self) -> &SharedAdmission {
        &self.sh.adm
    }

    /// Calls counted by admission (node-wide when shared).
    pub fn admitted(&self) -> u32 {
        self.sh.adm.active()
    }

    /// False while a target is marked unavailable by a 503 with Retry-After; a router that
    /// wants to skip such gateways itself can consult this.
    pub fn is_available(&self, peer: Peer, now: Instant) -> bool {
        self.sh.adm.is_available(peer, now)
    }

    /// Targets currently marked unavailable (503 + Retry-After) and not yet expired.
    pub fn unavailable_targets(&self) -> usize {
        self.sh.adm.unavailable_len()
    }

    /// The phase of a live call.
    pub fn call_phase(&self, call: CallKey) -> Option<CallPhase> {
        self.calls.get(call).map(|c| c.phase)
    }

    /// The next engine event.
    pub fn poll_event(&mut self) -> Option<EngineEvent> {
        self.sh.events.pop_front()
    }

    /// The earliest engine deadline (stale entries of ended calls and disarmed timers are
    /// skipped and forgotten).
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(&Reverse(e)) = self.sh.timers.peek() {
            if self.is_armed(e) {
                return Some(e.at);
            }
            self.sh.timers.pop();
        }
        None
    }

    fn is_armed(&self, e: TimerEntry) -> bool {
        let key = CallKey {
            index: e.index,
            gen: e.gen,
        };
        self.calls
            .get(key)
            .and_then(|c| c.timers.get(e.kind as usize).copied().flatten())
            == Some(e.at)
    }

    /// Fires every engine timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, ep: &mut Endpoint) {
        while let Some(&Reverse(e)) = self.sh.timers.peek() {
            if e.at > now {
                break;
            }
            self.sh.timers.pop();
            if !self.is_armed(e) {
                continue;
            }
            let key = CallKey {
                index: e.index,
                gen: e.gen,
            };
            let Some(kind) = TimerKind::from_index(e.kind) else {
                continue;
            };
            if let Some(c) = self.calls.get_mut(key) {
                c.timers[kind as usize] = None;
            }
            self.on_timer(now, ep, key, kind);
        }
        self.sh.adm.expire(now);
    }

    /// Convenience for shells and tests: feeds every pending endpoint event to
    /// [`Engine::handle_txn_event`] (including the ones the engine's own commands cause).
    pub fn drain_endpoint_events(&mut self, now: Instant, ep: &mut Endpoint) {
        while let Some(ev) = ep.poll_event() {
            self.handle_txn_event(now, ep, ev);
        }
    }

    /// A message the endpoint dispatched.
    pub fn handle_dispatch(&mut self, now: Instant, ep: &mut Endpoint, d: Dispatch) {
        self.sh.current.set(None);
        self.sh.accepted.set(None);
        match d {
            Dispatch::Matched(_) | Dispatch::Dropped(_) => {}
            Dispatch::Incoming(inc) => self.on_incoming(now, ep, inc),
            Dispatch::StrayAck { msg, from, .. } => self.on_ack(now, ep, msg, from),
            Dispatch::StrayResponse { msg, from } => self.on_stray_response(now, ep, &msg, from),
        }
    }

    /// An event of the endpoint.
    pub fn handle_txn_event(&mut self, now: Instant, ep: &mut Endpoint, ev: Event) {
        self.sh.current.set(None);
        self.sh.accepted.set(None);
        if let Event::Response { txn, .. }
        | Event::Timeout { txn, .. }
        | Event::TransportError { txn } = &ev
        {
            if let Some(r) = self.sh.txns.get(txn) {
                self.sh.current.set(Some(r.call));
            }
        }
        match ev {
            Event::Terminated { txn } => {
                self.sh.txns.remove(&txn);
            }
            Event::Response { txn, msg } => self.on_response(now, ep, txn, msg),
            Event::Timeout { txn, .. } => self.on_txn_failure(now, ep, txn, 408),
            Event::TransportError { txn } => self.on_txn_failure(now, ep, txn, 503),
        }
    }

    fn on_response(&mut self, now: Instant, ep: &mut Endpoint, txn: TxnId, msg: Message) {
        let Some(r) = self.sh.txns.get(&txn).copied() else {
            // Untracked (BYE, PRACK, CANCEL): only a 2xx to an INVITE needs us.
            if is_invite_2xx(&msg) {
                let peer = ep.peer(txn);
                self.orphan_2xx(now, ep, &msg, peer);
            }
            return;
        };
        if self.calls.get(r.call).is_none() {
            if is_invite_2xx(&msg) {
                let peer = ep.peer(txn);
                self.orphan_2xx(now, ep, &msg, peer);
            }
            return;
        }
        match r.role {
            Role::BInvite(no) => self.on_b_response(now, ep, r.call, txn, no, msg),
            Role::RelayClient(to) => self.on_relay_response(now, ep, r.call, txn, to, msg),
            Role::Refresh(side) => self.on_refresh_response(now, ep, r.call, side, txn, msg),
            Role::Transfer => self.on_transfer_response(now, ep, r.call, txn, msg),
            Role::Replace => self.on_replace_response(now, ep, r.call, txn, msg),
            Role::AInvite | Role::RelayServer => {}
        }
    }

    fn on_txn_failure(&mut self, now: Instant, ep: &mut Endpoint, txn: TxnId, status: u16) {
        let Some(r) = self.sh.txns.get(&txn).copied() else {
            return;
        };
        if self.calls.get(r.call).is_none() {
            return;
        }
        match r.role {
            Role::BInvite(no) => self.on_b_failure_local(now, ep, r.call, txn, no, status),
            Role::RelayClient(_) => self.on_relay_failure(now, ep, r.call, txn, status),
            Role::Transfer => self.on_transfer_failure(now, ep, r.call, status),
            Role::Replace => self.on_replace_failure(now, ep, r.call, txn, status),
            Role::Refresh(_) => self.hangup(
                now,
                ep,
                r.call,
                [true, true],
                None,
                (EndedBy::Sbc, EndReason::RefreshFailed),
            ),
            // Timer H (our failure never ACKed) or a transport error on a server
            // transaction: nothing to do for the call.
            Role::AInvite | Role::RelayServer => {}
        }
    }

    // ----- new requests --------------------------------------------------------------------

    fn on_incoming(&mut self, now: Instant, ep: &mut Endpoint, inc: Incoming) {
        let method = inc.method();
        match sbc_sip::check_request(inc.message(), &self.sh.cfg.request_policy) {
            sbc_sip::Verdict::Accept => {}
            sbc_sip::Verdict::Reject { status, why } => {
                let mut extra: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
                if status == 405 {
                    extra.push((
                        b"Allow".to_vec(),
                        self.sh.policies[0].allow.as_bytes().to_vec(),
                    ));
                }
                if status == 420 {
                    let tags: Vec<&[u8]> =
                        unsupported_extensions(inc.message(), &self.sh.cfg.request_policy)
                            .collect();
                    extra.push((b"Unsupported".to_vec(), tags.join(&b", "[..])));
                }
                let extra: Vec<(&[u8], &[u8])> =
                    extra.iter().map(|(n, v)| (&n[..], &v[..])).collect();
                self.reject(now, ep, inc, status, why, &extra);
                return;
            }
            sbc_sip::Verdict::Drop { .. } => {
                ep.ignore(inc);
                return;
            }
        }
        if method == Method::Cancel {
            self.on_cancel(now, ep, inc);
            return;
        }
        if inc.message().to_tag().is_some() {
            self.on_in_dialog(now, ep, inc);
            return;
        }
        match method {
            Method::Invite => {
                // TI-27: an INVITE naming one of our dialogs in Replaces takes its place.
                if let Some(inc) = self.on_replaces(now, ep, inc) {
                    self.on_new_invite(now, ep, inc)
                }
            }
            Method::Options => {
                let (allow, sup) = self.sh.caps(0, false);
                let hdrs: [(&[u8], &[u8]); 3] = [
                    (b"Allow", allow.as_bytes()),
                    (b"Accept", b"application/sdp"),
                    (b"Supported", sup.as_bytes()),
                ];
                let n = if sup.is_empty() { 2 } else { 3 };
                self.reject(now, ep, inc, 200, "OPTIONS answered locally", &hdrs[..n]);
            }
            // Pager-mode MESSAGE and other dialog-less requests are not served.
            Method::Message | Method::Refer | Method::Notify | Method::Info => {
                self.reject(now, ep, inc, 403, "out-of-dialog request not served", &[])
            }
            _ => self.reject(now, ep, inc, 481, "no such dialog", &[]),
        }
    }

    /// A stateless answer to a request that gets no state; also reported as an event.
    pub(crate) fn reject(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        inc: Incoming,
        status: u16,
        why: &'static str,
        headers: &[(&[u8], &[u8])],
    ) {
        self.reject_with_reason(now, ep, inc, status, None, why, headers);
    }

    /// [`Engine::reject`] with a reason phrase.
    #[allow(clippy::too_many_arguments)] // one call site per refusal kind; a struct would add noise
    pub(crate) fn reject_with_reason(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        inc: Incoming,
        status: u16,
        reason: Option<&[u8]>,
        why: &'static str,
        headers: &[(&[u8], &[u8])],
    ) {
        let from = inc.from();
        let attempt = (status >= 300 && inc.method() == Method::Invite).then(|| {
            let m = inc.message();
            Box::new(RefusedAttempt {
                call_id: m.call_id().unwrap_or_default().to_vec(),
                cseq: m.cseq().map_or(0, |c| c.seq),
                calling: wire::user_part(m.from_raw()),
                called: wire::user_part(m.to_raw()),
                trunk_in: self.sh.router.source_trunk(m, from),
            })
        });
        let sh = &self.sh;
        let mut all: Vec<(&[u8], &[u8])> = Vec::with_capacity(headers.len() + 4);
        all.extend_from_slice(headers);
        all.push((b"Server", sh.cfg.product.as_bytes()));
        all.extend(sh.policy_pairs(0));
        ep.reject_with(inc, status, reason, &all);
        if status >= 300 {
            self.sh.events.push_back(EngineEvent::Rejected {
                status,
                why,
                from,
                at: now,
                attempt,
            });
        }
    }

    // ----- call end ------------------------------------------------------------------------

    /// Sends BYE on the established legs selected by `bye` (A, B), cancels a B attempt still
    /// ringing, and removes the call. `src` is the request that caused it (its Reason and
    /// other allowed headers are copied onto the BYEs).
    pub(crate) fn hangup(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        bye: [bool; 2],
        src: Option<&Message>,
        (by, reason): (EndedBy, EndReason),
    ) {
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return;
        };
        for (side, send) in [(Side::A, bye[0]), (Side::B, bye[1])] {
            if !send {
                continue;
            }
            let Some(leg) = call.leg_mut(side) else {
                continue;
            };
            // A 2xx we still owe an ACK gets one first (§13.2.2.4 before §15.1.1).
            if let Some(c) = leg.ack_owed.take() {
                let (bytes, peer) = sh.build_ack(leg, c, None, key);
                ep.send_stateless(peer, bytes);
            }
            leg.dlg.local_cseq += 1;
            let cseq = leg.dlg.local_cseq;
            let mut out = Vec::with_capacity(512);
            let (mut w, peer) = sh.start_request(&mut out, &leg.dlg, leg.policy, b"BYE", cseq, 70);
            if let Some(m) = src {
                sh.filter(leg.policy).copy(&mut w, m, &[], false);
            }
            w.finish(None, b"");
            let _ = ep.send_request_bytes(now, out, peer);
        }
        let status = call.cdr.status;
        self.finish(now, ep, key, status, by, reason);
    }

    /// Removes a call: answers what is still pending (the caller's INVITE with `status`,
    /// relayed requests with 487, RFC 3261 §15.1.2), cancels a ringing B attempt, releases
    /// admission, drops the indices, and emits the CDR.
    pub(crate) fn finish(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        status: u16,
        by: EndedBy,
        reason: EndReason,
    ) {
        self.end_transfer(now, ep, key);
        let Some(mut call) = self.calls.remove(key) else {
            return;
        };
        let sh = &mut self.sh;
        for cid in &call.more_call_ids {
            sh.index_remove(cid, key);
        }
        if let Some(txn) = call.a.txn.take() {
            let status = if status >= 300 { status } else { 500 };
            let mut out = Vec::with_capacity(512);
            let mut w = build::response(
                &call.a.invite,
                status,
                None,
                Some(&call.a.fail_tag),
                &mut out,
            );
            sh.server_headers(&mut w, call.a.policy);
            w.finish(None, b"");
            let _ = ep.respond_bytes(now, txn, out);
            call.cdr.status = status;
        }
        let relays: Vec<_> = call.relays.drain(..).collect();
        for r in relays {
            let pol = call.leg(r.from).map_or(0, |l| l.policy);
            let mut out = Vec::with_capacity(512);
            let mut w = build::response(&r.request, 487, None, None, &mut out);
            sh.server_headers(&mut w, pol);
            w.finish(None, b"");
            let _ = ep.respond_bytes(now, r.server, out);
        }
        if call.b.leg.is_none() {
            if let Some(att) = &call.b.cur {
                let pol = att.policy;
                let mut hdrs: Vec<(&[u8], &[u8])> = call
                    .cancel_reason
                    .as_ref()
                    .map(|r| (&b"Reason"[..], &r[..]))
                    .into_iter()
                    .collect();
                hdrs.extend(sh.policy_pairs(pol));
                // AlreadyFinal / Unknown: the attempt ended on its own; a late 2xx is ACKed
                // and BYEd as an orphan.
                let _ = ep.cancel_with(now, att.txn, &hdrs);
            }
        }
        let a_cid = call.a.invite.call_id().unwrap_or_default();
        sh.index_remove(a_cid, key);
        for (cid, _) in &call.b.call_ids {
            sh.index_remove(cid, key);
        }
        let counted: Vec<&str> = call.counted.iter().map(String::as_str).collect();
        sh.adm.release(&counted);
        sh.body.call_ended(key);
        sh.trunks.remove(&key);
        let (by, reason) = call.cdr.ended.unwrap_or((by, reason));
        tracing::info!(
            parent: &call.span,
            status = call.cdr.status,
            ended_by = ?by,
            ?reason,
            attempts = call.b.attempts,
            "call ended"
        );
        sh.events.push_back(EngineEvent::CallState {
            call: key,
            phase: CallPhase::Ended,
            at: now,
        });
        let cdr = Cdr {
            call: key,
            a_call_id: a_cid.to_vec(),
            b_call_id: call.b.call_ids.last().map(|(c, _)| c.to_vec()),
            calling: wire::user_part(call.a.invite.from_raw()),
            called: wire::user_part(call.a.invite.to_raw()),
            trunk_in: call.cdr.trunk_in.take(),
            tenant: call.cdr.tenant.take(),
            emergency: call.cdr.emergency,
            trunk_out: call.cdr.trunk_out.take(),
            attempts: call.b.attempts,
            invite_at: call.cdr.invite_at,
            ringing_at: call.cdr.ringing_at,
            answered_at: call.cdr.answered_at,
            ended_at: now,
            status: call.cdr.status,
            ended_by: by,
            reason,
            q850: call.cdr.q850,
        };
        sh.events.push_back(EngineEvent::Cdr(Box::new(cdr)));
    }

    // ----- timers --------------------------------------------------------------------------

    fn on_timer(&mut self, now: Instant, ep: &mut Endpoint, key: CallKey, kind: TimerKind) {
        self.sh.current.set(Some(key));
        self.sh.accepted.set(None);
        match kind {
            TimerKind::NoAnswer => self.on_no_answer(now, ep, key),
            TimerKind::RetxA => self.on_retx(now, ep, key, Side::A),
            TimerKind::RetxB => self.on_retx(now, ep, key, Side::B),
            TimerKind::SessionA => self.on_session_timer(now, ep, key, Side::A),
            TimerKind::SessionB => self.on_session_timer(now, ep, key, Side::B),
            TimerKind::Attempt => self.on_attempt_timeout(now, ep, key),
        }
    }

    /// RFC 3261 §13.3.1.4 / RFC 6026: our 2xx is re-sent at T1, 2T1, ... capped at T2 until
    /// the ACK; after 64*T1 the dialog is confirmed and torn down with BYE on both legs.
    fn on_retx(&mut self, now: Instant, ep: &mut Endpoint, key: CallKey, side: Side) {
        let t2 = ep.config().t2;
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return;
        };
        let Some(p) = call.leg_mut(side).and_then(|l| l.uas_2xx.as_mut()) else {
            return;
        };
        if now >= p.give_up {
            if let Some(l) = call.leg_mut(side) {
                l.uas_2xx = None;
            }
            self.hangup(
                now,
                ep,
                key,
                [true, true],
                None,
                (EndedBy::Sbc, EndReason::AckTimeout),
            );
            return;
        }
        ep.note_retransmission();
        if ep.respond(now, p.txn, p.msg.clone()).is_err() {
            ep.send_stateless(p.peer, p.msg.bytes().clone());
        }
        p.interval = (p.interval * 2).min(t2);
        let at = (now + p.interval).min(p.give_up);
        sh.arm(key, call, TimerKind::retx(side), at);
    }
}

pub(crate) fn is_invite_2xx(msg: &Message) -> bool {
    msg.status().is_some_and(|s| (200..300).contains(&s))
        && msg.cseq().is_some_and(|c| c.method == Method::Invite)
}

impl Shared {
    pub(crate) fn emit_phase(
        &mut self,
        key: CallKey,
        call: &mut Call,
        phase: CallPhase,
        now: Instant,
    ) {
        if call.phase != phase {
            call.phase = phase;
            tracing::info!(parent: &call.span, ?phase, "call phase");
            self.events.push_back(EngineEvent::CallState {
                call: key,
                phase,
                at: now,
            });
        }
    }

    pub(crate) fn arm(&mut self, key: CallKey, call: &mut Call, kind: TimerKind, at: Instant) {
        call.timers[kind as usize] = Some(at);
        self.timers.push(Reverse(TimerEntry {
            at,
            index: key.index,
            gen: key.gen,
            kind: kind as u8,
        }));
    }

    pub(crate) fn disarm(call: &mut Call, kind: TimerKind) {
        call.timers[kind as usize] = None;
    }

    pub(crate) fn track(&mut self, txn: TxnId, call: CallKey, role: Role) {
        self.txns.insert(txn, TxnRef { call, role });
    }

    // ----- index -------------------------------------------------------------------------

    pub(crate) fn index_add(&mut self, call_id: Bytes, tag: Bytes, side: Side, key: CallKey) {
        self.index
            .entry(call_id)
            .or_default()
            .push(IndexEntry { tag, side, key });
    }

    pub(crate) fn index_remove(&mut self, call_id: &[u8], key: CallKey) {
        if let Some(v) = self.index.get_mut(call_id) {
            v.retain(|e| e.key != key);
            if v.is_empty() {
                self.index.remove(call_id);
            }
        }
    }

    /// Every (call, side) indexed under `call_id`.
    pub(crate) fn dialogs_of(&self, call_id: &[u8]) -> Vec<(CallKey, Side)> {
        self.index
            .get(call_id)
            .map(|v| v.iter().map(|e| (e.key, e.side)).collect())
            .unwrap_or_default()
    }

    /// The call and side a request belongs to: A side by the caller's From tag, B side by
    /// our tag in To.
    pub(crate) fn lookup_request(&self, msg: &Message) -> Option<(CallKey, Side)> {
        let v = self.index.get(msg.call_id()?)?;
        let (from, to) = (msg.from_tag(), msg.to_tag());
        v.iter()
            .find(|e| match e.side {
                Side::A => from == Some(&e.tag[..]),
                Side::B => to == Some(&e.tag[..]),
            })
            .map(|e| self.note_current(e.key, e.side))
    }

    fn note_current(&self, key: CallKey, side: Side) -> (CallKey, Side) {
        self.current.set(Some(key));
        (key, side)
    }

    /// Records the call the current input concerns.
    pub(crate) fn set_current(&self, key: CallKey) {
        self.current.set(Some(key));
    }

    /// The call and side a response belongs to: A side by the caller's tag in To, B side by
    /// our tag in From.
    pub(crate) fn lookup_response(&self, msg: &Message) -> Option<(CallKey, Side)> {
        let v = self.index.get(msg.call_id()?)?;
        let (from, to) = (msg.from_tag(), msg.to_tag());
        v.iter()
            .find(|e| match e.side {
                Side::A => to == Some(&e.tag[..]),
                Side::B => from == Some(&e.tag[..]),
            })
            .map(|e| self.note_current(e.key, e.side))
    }

    // ----- policy --------------------------------------------------------------------------

    /// The header filter for messages written toward a leg with this policy.
    pub(crate) fn filter(&self, policy: usize) -> &HeaderFilter {
        &self.filters[policy]
    }

    /// `policy`, or its variant presenting `contact` as our Contact and, when routing says
    /// so, the tenant's transfer mode (TI-26: a tenant whose transfers Microsoft performs
    /// does not see REFER in Allow).
    pub(crate) fn with_contact(
        &mut self,
        policy: usize,
        contact: Option<&str>,
        refer: Option<crate::ReferMode>,
    ) -> usize {
        let Some(c) = contact else {
            return policy;
        };
        let base = &self.policies[policy];
        let refer = refer.unwrap_or(base.refer);
        if c == base.contact && refer == base.refer {
            return policy;
        }
        let known = self
            .contact_variants
            .get(c)
            .and_then(|v| v.iter().find(|e| e.0 == policy && e.1 == refer));
        if let Some(&(_, _, i)) = known {
            return i;
        }
        let mut p = base.clone();
        p.contact = c.to_string();
        if refer != p.refer {
            p.allow = match refer {
                crate::ReferMode::Terminate if !p.allow.contains("REFER") => {
                    format!("{}, REFER", p.allow)
                }
                crate::ReferMode::Reject => p
                    .allow
                    .split(',')
                    .map(str::trim)
                    .filter(|m| *m != "REFER")
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => p.allow.clone(),
            };
            p.refer = refer;
        }
        let i = self.policies.len();
        self.policies.push(p);
        self.filters.push(self.filters[policy].clone());
        self.contact_variants
            .entry(c.to_string())
            .or_default()
            .push((policy, refer, i));
        i
    }

    pub(crate) fn trunk_policy(&self, trunk: Option<&str>, side: Side) -> usize {
        trunk
            .and_then(|t| self.policy_by_trunk.get(t).copied())
            .unwrap_or(match side {
                Side::A => 0,
                Side::B => 1,
            })
    }

    /// `Allow` and `Supported` for a leg; `initial_uac` for the INVITE that sets up a B leg
    /// (the only request whose reliable provisionals we PRACK).
    pub(crate) fn caps(&self, policy: usize, initial_uac: bool) -> (String, String) {
        let p = &self.policies[policy];
        let mut sup: Vec<&str> = Vec::new();
        if self.cfg.session_timers.is_some() {
            sup.push("timer");
        }
        if initial_uac && p.prack {
            sup.push("100rel");
        }
        (p.allow.clone(), sup.join(", "))
    }

    /// `Server` and the leg's added headers, for every response we build (TI-17).
    pub(crate) fn server_headers(&self, w: &mut MessageWriter<'_>, policy: usize) {
        w.header(b"Server", self.cfg.product.as_bytes());
        self.add_policy_headers(w, policy);
    }

    /// The leg's added headers as pairs (for messages the transaction layer builds).
    pub(crate) fn policy_pairs(&self, policy: usize) -> Vec<(&[u8], &[u8])> {
        self.policies[policy]
            .add_headers
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect()
    }

    pub(crate) fn add_policy_headers(&self, w: &mut MessageWriter<'_>, policy: usize) {
        for (n, v) in &self.policies[policy].add_headers {
            w.header(n.as_bytes(), v.as_bytes());
        }
    }

    /// Starts an in-dialog request on a leg: request line, our Via (new branch), dialog
    /// headers and route set, Contact where the method needs one, User-Agent and the leg's
    /// added headers. Returns the writer and the next hop.
    pub(crate) fn start_request<'o>(
        &mut self,
        out: &'o mut Vec<u8>,
        dlg: &Dialog,
        policy: usize,
        method: &[u8],
        cseq: u32,
        max_forwards: u8,
    ) -> (MessageWriter<'o>, Peer) {
        let peer = dlg.next_hop();
        let branch = self.ids.branch();
        let p = &self.policies[policy];
        let mut w = dialog_request(
            out,
            dlg,
            &ReqLine {
                method,
                cseq,
                branch: &branch,
                transport: peer.transport,
                sent_by: &p.sent_by,
                max_forwards,
            },
        );
        if matches!(
            method,
            b"INVITE" | b"UPDATE" | b"NOTIFY" | b"SUBSCRIBE" | b"REFER"
        ) {
            w.header_parts(b"Contact", &[b"<", p.contact.as_bytes(), b">"]);
        }
        w.header(b"User-Agent", self.cfg.product.as_bytes());
        self.add_policy_headers(&mut w, policy);
        (w, peer)
    }

    /// The ACK for a 2xx on a leg where we are UAC (§13.2.2.4): its own transaction, sent
    /// to the remote target through the route set, CSeq number of the INVITE.
    pub(crate) fn build_ack(
        &mut self,
        leg: &mut Leg,
        cseq: u32,
        body: Option<(&Message, Side)>,
        key: CallKey,
    ) -> (Bytes, Peer) {
        let mut out = Vec::with_capacity(512);
        let (mut w, peer) = self.start_request(&mut out, &leg.dlg, leg.policy, b"ACK", cseq, 70);
        let sent = match body {
            Some((m, from)) => {
                let has = !m.body().is_empty();
                self.filter(leg.policy).copy(&mut w, m, &[], has);
                self.finish_body(w, key, from, BodyRole::Answer, Some(m))
            }
            None => {
                w.finish(None, b"");
                None
            }
        };
        if sent.is_some() {
            leg.last_body = sent;
        }
        let bytes = Bytes::from(out);
        leg.last_ack = Some((cseq, bytes.clone()));
        (bytes, peer)
    }

    /// Ends a message with the body of `src` as the body policy decides (Content-Type and
    /// Content-Length follow the body actually sent). Returns what was sent. A refused
    /// body ([`BodyAction::Reject`]) is left out: the message goes without a body.
    pub(crate) fn finish_body(
        &self,
        w: MessageWriter<'_>,
        key: CallKey,
        from: Side,
        role: BodyRole,
        src: Option<&Message>,
    ) -> Option<(Bytes, Bytes)> {
        let Some(m) = src.filter(|m| !m.body().is_empty()) else {
            w.finish(None, b"");
            return None;
        };
        let action = self.decide(key, from, role, m);
        if let BodyAction::Reject { status } = action {
            tracing::warn!(
                status,
                ?role,
                "body refused by the body policy, sent without it"
            );
        }
        Self::write_body(w, m, action)
    }

    /// [`Shared::finish_body`] for a request carrying an offer: `Err(status)` when the
    /// policy refuses it, and then nothing is written (the caller discards the message
    /// and answers its requester with `status`).
    pub(crate) fn finish_offer(
        &self,
        w: MessageWriter<'_>,
        key: CallKey,
        from: Side,
        src: &Message,
    ) -> Result<Option<(Bytes, Bytes)>, u16> {
        if src.body().is_empty() {
            w.finish(None, b"");
            return Ok(None);
        }
        match self.decide(key, from, BodyRole::Offer, src) {
            // Only a failure class makes sense toward the requester (RFC 3261 §21.4-6).
            BodyAction::Reject { status } => Err(if (400..700).contains(&status) {
                status
            } else {
                488
            }),
            action => Ok(Self::write_body(w, src, action)),
        }
    }

    pub(crate) fn decide(
        &self,
        key: CallKey,
        from: Side,
        role: BodyRole,
        m: &Message,
    ) -> BodyAction {
        let trunks = self.trunks.get(&key);
        let trunk = |i: usize| trunks.and_then(|t| t[i].as_deref());
        let ctx = BodyContext {
            call: key,
            from,
            role,
            content_type: wire::content_type(m),
            body: m.body(),
            trunk_a: trunk(0),
            trunk_b: trunk(1),
        };
        self.body.rewrite(&ctx)
    }

    pub(crate) fn write_body(
        w: MessageWriter<'_>,
        m: &Message,
        action: BodyAction,
    ) -> Option<(Bytes, Bytes)> {
        match action {
            BodyAction::Pass => {
                let ct = wire::content_type(m);
                w.finish(ct, m.body());
                let ct = ct.map_or_else(Bytes::new, |c| sub_bytes(m, c));
                Some((ct, m.body_bytes()))
            }
            BodyAction::Replace { content_type, body } => {
                w.finish(Some(&content_type), &body);
                Some((Bytes::from(content_type), Bytes::from(body)))
            }
            BodyAction::Reject { .. } => {
                w.finish(None, b"");
                None
            }
        }
    }

    /// The trunk of a call's leg, as [`BodyContext`] reports it.
    pub(crate) fn set_trunk(&mut self, key: CallKey, side: Side, trunk: Option<&str>) {
        let i = usize::from(side == Side::B);
        self.trunks.entry(key).or_default()[i] = trunk.map(Arc::from);
    }

    /// An offer the body policy saw will not be answered.
    pub(crate) fn offer_failed(&self, key: CallKey, from: Side) {
        self.body.exchange_failed(key, from);
    }

    /// Session-Expires for a request (`uac`) or response (`!uac`) we send on a leg.
    pub(crate) fn session_header(s: &Session, we_are_uac: bool) -> Vec<u8> {
        let who = match (s.we_refresh, we_are_uac) {
            (true, true) | (false, false) => "uac",
            (true, false) | (false, true) => "uas",
        };
        format!("{};refresher={who}", s.interval).into_bytes()
    }

    /// RFC 4028 §9 as UAS: the session for a leg whose INVITE/UPDATE we answer 2xx, and
    /// whether the response must `Require: timer`.
    pub(crate) fn uas_session(&self, req: &Message, now: Instant) -> Option<(Session, bool)> {
        let st = self.cfg.session_timers?;
        let supports = wire::has_option(req, HeaderName::Supported, "timer")
            || wire::has_option(req, HeaderName::Require, "timer");
        let (interval, we_refresh) = match req.typed::<SessionExpires<'_>>() {
            Some(Ok(se)) => {
                let we = match se.refresher() {
                    Some(Refresher::Uac) => false,
                    Some(Refresher::Uas) => true,
                    None => !supports,
                };
                (se.seconds().max(st.min_se), we)
            }
            _ => (st.interval, true),
        };
        Some((new_session(interval, we_refresh, now), supports))
    }

    /// RFC 4028 §7.4 as UAC: the session after a 2xx to a request of ours that asked for
    /// `asked` seconds. No Session-Expires in the 2xx: no session timer on that leg.
    pub(crate) fn uac_session(
        &self,
        resp: &Message,
        asked: Option<u32>,
        now: Instant,
    ) -> Option<Session> {
        asked?;
        let Some(Ok(se)) = resp.typed::<SessionExpires<'_>>() else {
            return None;
        };
        let we_refresh = se.refresher() != Some(Refresher::Uas);
        Some(new_session(se.seconds().max(1), we_refresh, now))
    }

    /// Arms the session timer of a leg (refresh at half the interval, RFC 4028 §10; or the
    /// expiry, `interval - min(32, interval/3)` when the peer refreshes).
    pub(crate) fn arm_session(&mut self, key: CallKey, call: &mut Call, side: Side, now: Instant) {
        let kind = TimerKind::session(side);
        let Some(s) = call.leg(side).and_then(|l| l.session) else {
            Shared::disarm(call, kind);
            return;
        };
        let at = if s.we_refresh {
            now + Duration::from_secs(u64::from(s.interval / 2))
        } else {
            s.expires
        };
        self.arm(key, call, kind, at);
    }
}

/// A session refreshed at `now`.
pub(crate) fn new_session(interval: u32, we_refresh: bool, now: Instant) -> Session {
    let secs = if we_refresh {
        interval
    } else {
        interval - (interval / 3).min(32)
    };
    Session {
        interval,
        we_refresh,
        expires: now + Duration::from_secs(u64::from(secs)),
    }
}

/// A sub-slice of a message as shared bytes.
pub(crate) fn sub_bytes(m: &Message, part: &[u8]) -> Bytes {
    match m.span_of(part) {
        Some(s) => m.bytes().slice(s.range()),
        None => Bytes::copy_from_slice(part),
    }
}

// Keep the array length and the enum in step.
const _: () = assert!(N_TIMERS == TimerKind::Attempt as usize + 1);
