//! Call setup: a new INVITE becomes a call (after validation, loop check, routing and
//! admission), B-leg attempts with serial failover and bounded redirects, provisional
//! responses with early-dialog mapping and PRACK, the answer, CANCEL and no-answer.

use core::time::Duration;

use bytes::Bytes;
use sbc_sip::build::{self, MessageWriter};
use sbc_sip::hdr::{MinSe, RSeq, RetryAfter, SessionExpires};
use sbc_sip::uri::parse_uri;
use sbc_sip::{HeaderName, Message, Method};
use sbc_txn::{AcceptError, Endpoint, Incoming, Instant, Peer, Transport, TxnId};

use crate::body::{BodyAction, BodyRole};
use crate::call::{
    ASide, Attempt, BSide, Call, CdrDraft, Early, Leg, Pending2xx, TimerKind, N_TIMERS,
};
use crate::engine::{is_invite_2xx, sub_bytes, Engine, Role, Shared};
use crate::event::{CallKey, CallPhase, EndReason, EndedBy, EngineEvent, Side};
use crate::router::{CallClass, RouteDecision, Target};
use crate::wire::{self, Dialog};

/// Largest request sent over UDP when the path MTU is unknown (RFC 3261 §18.1.1).
const UDP_MAX_REQUEST: usize = 1300;

impl Engine {
    /// An out-of-dialog INVITE: every check that can refuse it runs before the server
    /// transaction is accepted (principle 2), so a refusal costs no state.
    pub(crate) fn on_new_invite(&mut self, now: Instant, ep: &mut Endpoint, inc: Incoming) {
        let from = inc.from();
        let msg = inc.message();
        let (Some(_), Some(_)) = (msg.call_id(), msg.from_tag()) else {
            return self.reject(now, ep, inc, 400, "INVITE without From tag", &[]);
        };
        // RFC 3261 §8.2.2.2: same Call-ID and From tag as a call in progress, new branch.
        if self.sh.lookup_request(msg).is_some() {
            return self.reject(now, ep, inc, 482, "merged request", &[]);
        }
        // A B2BUA has no proxy Via to compare (§16.3 item 4): it recognises its own branch
        // token in any Via of the request, i.e. one of our INVITEs came back.
        let ids = &self.sh.ids;
        let looped = msg
            .values(HeaderName::Via)
            .filter_map(|(_, v)| sbc_sip::Via::parse(v).ok())
            .any(|v| v.branch().is_some_and(|b| ids.is_own_branch(b)));
        if looped {
            return self.reject(now, ep, inc, 482, "loop detected", &[]);
        }
        // TI-38: emergency calls and callbacks are recognised before any other policy, and
        // nothing that is about capacity refuses them (TI-40, TI-42).
        let class = self.sh.router.classify(msg, from);
        let priority = class.is_priority();
        let ra = self.sh.cfg.retry_after.to_string();
        if self.sh.draining && !priority {
            return self.reject(
                now,
                ep,
                inc,
                503,
                "draining",
                &[(b"Retry-After", ra.as_bytes())],
            );
        }
        let table = if priority {
            self.sh.cfg.max_calls
        } else {
            self.sh.cfg.max_calls - self.sh.cfg.emergency_slots
        };
        if self.calls.len() >= table {
            return self.reject(
                now,
                ep,
                inc,
                503,
                "call table full",
                &[(b"Retry-After", ra.as_bytes())],
            );
        }
        let global = if priority {
            Ok(())
        } else {
            self.sh.adm.check_global(now)
        };
        if let Err(r) = global {
            let ra = retry_after_text(r.retry_after, self.sh.cfg.retry_after);
            return self.reject(now, ep, inc, 503, r.why, &[(b"Retry-After", ra.as_bytes())]);
        }
        // RFC 4028 §8.1: a Session-Expires below our Min-SE gets 422 with our Min-SE.
        if let Some(st) = self.sh.cfg.session_timers {
            if let Some(Ok(se)) = msg.typed::<SessionExpires<'_>>() {
                if se.seconds() < st.min_se {
                    let v = st.min_se.to_string();
                    return self.reject(
                        now,
                        ep,
                        inc,
                        422,
                        "session interval too small",
                        &[(b"Min-SE", v.as_bytes())],
                    );
                }
            }
        }
        let targets = match self.sh.router.route(msg, from) {
            RouteDecision::Reject { status, reason } => {
                // Never a 3xx upstream (TI-31); anything out of range is our error.
                let status = match status {
                    300..=399 => 480,
                    400..=699 => status,
                    _ => 500,
                };
                let reason = reason.filter(|r| !r.bytes().any(|b| b.is_ascii_control()));
                return self.reject_with_reason(
                    now,
                    ep,
                    inc,
                    status,
                    reason.as_deref().map(str::as_bytes),
                    "rejected by routing",
                    &[],
                );
            }
            RouteDecision::Targets(t) if t.is_empty() => {
                return self.reject(now, ep, inc, 404, "no route", &[]);
            }
            RouteDecision::Targets(t) => t,
        };
        let Some(first) = targets
            .iter()
            .find(|t| self.sh.adm.is_available(t.peer, now))
        else {
            let secs = self
                .sh
                .adm
                .earliest_available(targets.iter().map(|t| t.peer), now);
            let v = secs.to_string();
            return self.reject(
                now,
                ep,
                inc,
                503,
                "every target unavailable",
                &[(b"Retry-After", v.as_bytes())],
            );
        };
        let trunk_in = self.sh.router.source_trunk(msg, from);
        let mut counted: Vec<String> = Vec::with_capacity(2);
        if let Some(t) = &trunk_in {
            counted.push(t.clone());
        }
        if !counted.contains(&first.trunk) {
            counted.push(first.trunk.clone());
        }
        // Tenant limits count like a trunk's, under their own key.
        if let Some(t) = &first.presentation.tenant {
            counted.push(crate::tenant_key(t));
        }
        {
            let names: Vec<&str> = counted.iter().map(String::as_str).collect();
            let trunks = if priority {
                Ok(())
            } else {
                self.sh.adm.check_trunks(&names, now)
            };
            if let Err(r) = trunks {
                let ra = retry_after_text(r.retry_after, self.sh.cfg.retry_after);
                return self.reject(now, ep, inc, 503, r.why, &[(b"Retry-After", ra.as_bytes())]);
            }
        }
        // Counted atomically before the transaction is accepted, so a limit shared with
        // other shards is never overrun; handed back if the accept fails.
        {
            let names: Vec<&str> = counted.iter().map(String::as_str).collect();
            if let Err(r) = self.sh.adm.try_commit(&names, now, priority) {
                let ra = retry_after_text(r.retry_after, self.sh.cfg.retry_after);
                return self.reject(now, ep, inc, 503, r.why, &[(b"Retry-After", ra.as_bytes())]);
            }
        }
        let a_policy = self.sh.trunk_policy(trunk_in.as_deref(), Side::A);
        let a_policy = self.sh.with_contact(
            a_policy,
            first.presentation.a_contact.as_deref(),
            first.presentation.refer,
        );
        let tenant = first.presentation.tenant.clone();
        let invite = msg.clone();
        // The 100 carries the A leg's own headers too (X-MS-SBC on every response, TI-17).
        let txn = match ep.accept_with(now, inc, &self.sh.policy_pairs(a_policy)) {
            Ok(t) => {
                self.sh.accepted.set(Some(t));
                t
            }
            Err(e) => {
                let names: Vec<&str> = counted.iter().map(String::as_str).collect();
                self.sh.adm.release(&names);
                match e {
                    // A retransmission was accepted while this one waited: its twin answers.
                    AcceptError::Duplicate(_) => return,
                    AcceptError::TableFull(inc) => {
                        return self.reject(
                            now,
                            ep,
                            *inc,
                            503,
                            "transaction table full",
                            &[(b"Retry-After", ra.as_bytes())],
                        );
                    }
                }
            }
        };
        let fail_tag = Bytes::from(self.sh.ids.tag());
        let call = Call {
            phase: CallPhase::Proceeding,
            a: ASide {
                invite,
                peer: from,
                txn: Some(txn),
                policy: a_policy,
                fail_tag,
                tags: Vec::new(),
                leg: None,
            },
            b: BSide {
                targets,
                next: 0,
                attempts: 0,
                redirects: 0,
                cur: None,
                leg: None,
                call_ids: Vec::new(),
                refused: None,
            },
            sent_18x: false,
            oa: None,
            relays: Vec::new(),
            timers: [None; N_TIMERS],
            cdr: CdrDraft {
                invite_at: now,
                ringing_at: None,
                answered_at: None,
                status: 0,
                q850: None,
                trunk_in,
                trunk_out: None,
                tenant,
                emergency: class == CallClass::Emergency,
                ended: None,
            },
            counted,
            cancel_reason: None,
            span: tracing::Span::none(),
            transfer: None,
            more_call_ids: Vec::new(),
            replacing: None,
        };
        let key = self.calls.insert(call);
        self.sh.set_current(key);
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return;
        };
        let a_cid = sub_bytes(&call.a.invite, call.a.invite.call_id().unwrap_or_default());
        let a_tag = sub_bytes(&call.a.invite, call.a.invite.from_tag().unwrap_or_default());
        sh.index_add(a_cid, a_tag, Side::A, key);
        sh.set_trunk(key, Side::A, call.cdr.trunk_in.as_deref());
        sh.track(txn, key, Role::AInvite);
        call.span = call_span(sh.shard, key, &call.a.invite);
        sh.events.push_back(EngineEvent::CallState {
            call: key,
            phase: CallPhase::Proceeding,
            at: now,
        });
        let na = now + sh.cfg.no_answer;
        sh.arm(key, call, TimerKind::NoAnswer, na);
        if !self.start_next(now, ep, key) {
            self.fail_a(now, ep, key, 503, None, (EndedBy::Sbc, EndReason::NoTarget));
        }
    }

    /// Sends the INVITE to the next available target. False when none is left.
    fn start_next(&mut self, now: Instant, ep: &mut Endpoint, key: CallKey) -> bool {
        loop {
            let Some(call) = self.calls.get_mut(key) else {
                return false;
            };
            let Some(target) = call.b.targets.get(call.b.next).cloned() else {
                return false;
            };
            call.b.next += 1;
            if !self.sh.adm.is_available(target.peer, now) {
                continue;
            }
            if self.send_attempt(now, ep, key, target, None, false) {
                return true;
            }
            if self.calls.get(key).is_some_and(|c| c.b.refused.is_some()) {
                return false;
            }
        }
    }

    /// Builds the B-leg INVITE (RFC 3261 §8.1.1: our Call-ID, From tag, CSeq, Via, Contact;
    /// nothing of the A leg's Via, Record-Route, Contact or Call-ID) and sends it.
    fn send_attempt(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        target: Target,
        se_override: Option<u32>,
        no_upgrade: bool,
    ) -> bool {
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return false;
        };
        let a = &call.a.invite;
        let policy = sh.trunk_policy(Some(&target.trunk), Side::B);
        let policy = sh.with_contact(
            policy,
            target.presentation.contact.as_deref(),
            target.presentation.refer,
        );
        let call_id = Bytes::from(sh.ids.call_id());
        let tag = Bytes::from(sh.ids.tag());
        let branch = sh.ids.branch();
        let from_uri = match &target.presentation.from {
            Some(f) => Bytes::from(f.clone()),
            None => Bytes::from(wire::strip_tag(a.from_raw().unwrap_or_default())),
        };
        let to_uri = match &target.presentation.to {
            Some(t) => Bytes::from(t.clone()),
            None => Bytes::from(wire::strip_tag(a.to_raw().unwrap_or_default())),
        };
        let cseq = 1u32;
        let mf = a.max_forwards().unwrap_or(70).saturating_sub(1);
        let session_asked = sh
            .cfg
            .session_timers
            .map(|st| se_override.unwrap_or(st.interval).max(st.min_se));
        let (allow, sup) = sh.caps(policy, true);
        let p = &sh.policies[policy];
        let mut out = Vec::with_capacity(a.as_bytes().len() + 512);
        let mut w = MessageWriter::request(&mut out, b"INVITE", &target.request_uri);
        wire::via(&mut w, target.peer.transport, &p.sent_by, &branch);
        w.header_u64(b"Max-Forwards", u64::from(mf));
        w.header_parts(b"From", &[&from_uri, b";tag=", &tag]);
        w.header(b"To", &to_uri);
        w.header(b"Call-ID", &call_id);
        wire::cseq(&mut w, cseq, b"INVITE");
        w.header_parts(b"Contact", &[b"<", p.contact.as_bytes(), b">"]);
        w.header(b"Allow", allow.as_bytes());
        if !sup.is_empty() {
            w.header(b"Supported", sup.as_bytes());
        }
        if let (Some(se), Some(st)) = (session_asked, sh.cfg.session_timers) {
            w.header_u64(b"Session-Expires", u64::from(se));
            w.header_u64(b"Min-SE", u64::from(st.min_se));
        }
        w.header(b"User-Agent", sh.cfg.product.as_bytes());
        sh.add_policy_headers(&mut w, policy);
        let has_body = !a.body().is_empty();
        sh.filter(policy).copy(&mut w, a, &[], has_body);
        sh.set_trunk(key, Side::B, Some(&target.trunk));
        let body = match sh.finish_offer(w, key, Side::A, a) {
            Ok(b) => b,
            Err(status) => {
                // The offer is the same for every target: stop here (BodyAction::Reject).
                call.b.refused = Some(status);
                return false;
            }
        };
        // RFC 3261 §18.1.1 (TI-8, TI-40): a request larger than 1300 bytes (path MTU
        // unknown) goes over a congestion-controlled transport; the top Via says so.
        let mut target = target;
        let upgraded =
            !no_upgrade && target.peer.transport == Transport::Udp && out.len() > UDP_MAX_REQUEST;
        if upgraded {
            let via = b"Via: SIP/2.0/UDP ";
            if let Some(i) = out.windows(via.len()).position(|w| w == via) {
                out[i + 13..i + 16].copy_from_slice(b"TCP");
            }
            target.peer = Peer::new(Transport::Tcp, target.peer.addr);
        }
        let msg = match Message::parse(Bytes::from(out)) {
            Ok(m) => m,
            Err(_) => return false,
        };
        let txn = match ep.send_request(now, msg, target.peer) {
            Ok(t) => t,
            Err(_) => return false,
        };
        call.b.attempts = call.b.attempts.saturating_add(1);
        let no = call.b.attempts;
        sh.track(txn, key, Role::BInvite(no));
        sh.index_add(call_id.clone(), tag.clone(), Side::B, key);
        call.b.call_ids.push((call_id.clone(), tag.clone()));
        call.cdr.trunk_out = Some(target.trunk.clone());
        match sh.policies[policy].invite_timeout {
            Some(d) => sh.arm(key, call, TimerKind::Attempt, now + d),
            None => Shared::disarm(call, TimerKind::Attempt),
        }
        call.b.cur = Some(Attempt {
            no,
            target,
            policy,
            txn,
            call_id,
            tag,
            from_uri,
            to_uri,
            cseq,
            next_cseq: cseq + 1,
            early: Vec::new(),
            body,
            session_asked,
            se_retried: se_override.is_some(),
            upgraded,
        });
        true
    }

    /// A response on a B-leg INVITE.
    pub(crate) fn on_b_response(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        txn: TxnId,
        no: u8,
        msg: Message,
    ) {
        let Some(call) = self.calls.get(key) else {
            return;
        };
        let current = call
            .b
            .cur
            .as_ref()
            .is_some_and(|a| a.no == no && a.txn == txn);
        let status = msg.status().unwrap_or(500);
        if !current {
            // An attempt we gave up on (failover, redirect): a late 2xx is ACKed and BYEd.
            if is_invite_2xx(&msg) {
                let peer = ep.peer(txn);
                self.orphan_2xx(now, ep, &msg, peer);
            }
            return;
        }
        // Any response stops the attempt's own timeout, as any response stops Timer B.
        if let Some(call) = self.calls.get_mut(key) {
            Shared::disarm(call, TimerKind::Attempt);
        }
        match status {
            100 => {}
            101..=199 => self.on_b_provisional(now, ep, key, msg),
            200..=299 => self.on_b_success(now, ep, key, msg),
            _ => self.on_b_failure(now, ep, key, msg),
        }
    }

    /// 18x from B: PRACK it if reliable (RFC 3262, terminated per leg), map its early
    /// dialog to an A-side To tag, relay it unreliably (Require/RSeq never cross).
    fn on_b_provisional(&mut self, now: Instant, ep: &mut Endpoint, key: CallKey, msg: Message) {
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return;
        };
        let Some(att) = call.b.cur.as_mut() else {
            return;
        };
        let policy = att.policy;
        let to_tag = msg.to_tag().map(|t| sub_bytes(&msg, t));
        let early_idx = to_tag
            .as_ref()
            .map(|t| match att.early.iter().position(|e| e.tag == *t) {
                Some(i) => i,
                None => {
                    att.early.push(Early {
                        tag: t.clone(),
                        rseq: None,
                    });
                    att.early.len() - 1
                }
            });
        let rseq = match msg.typed::<RSeq>() {
            Some(Ok(r)) if wire::has_option(&msg, HeaderName::Require, "100rel") => Some(r.value()),
            _ => None,
        };
        if let (Some(rseq), Some(i), true) = (rseq, early_idx, sh.policies[policy].prack) {
            if att.early[i].rseq.is_some_and(|r| rseq <= r) {
                // A retransmission of a reliable 18x: our PRACK's own transaction retransmits.
                return;
            }
            att.early[i].rseq = Some(rseq);
            let cseq = att.next_cseq;
            att.next_cseq += 1;
            let dlg = early_dialog(att, &msg);
            let mut out = Vec::with_capacity(512);
            let (mut w, peer) = sh.start_request(&mut out, &dlg, policy, b"PRACK", cseq, 70);
            let rack = format!("{rseq} {} INVITE", att.cseq);
            w.header(b"RAck", rack.as_bytes());
            w.finish(None, b"");
            let _ = ep.send_request_bytes(now, out, peer);
        }
        let status = msg.status().unwrap_or(180);
        // TI-24: for callers that stop their ringback on 183, early media becomes ringing.
        let as_ringing = status == 183 && sh.policies[call.a.policy].early_media_as_ringing;
        let (status, phrase) = if as_ringing {
            (180, None)
        } else {
            (status, msg.reason())
        };
        let a_tag = to_tag.map(|t| a_tag_for(sh, &mut call.a.tags, t));
        let Some(txn) = call.a.txn else {
            return;
        };
        let (allow, sup) = sh.caps(call.a.policy, false);
        let mut out = Vec::with_capacity(msg.as_bytes().len() + 256);
        let mut w = build::response(&call.a.invite, status, phrase, a_tag.as_deref(), &mut out);
        let p = &sh.policies[call.a.policy];
        if a_tag.is_some() {
            w.header_parts(b"Contact", &[b"<", p.contact.as_bytes(), b">"]);
        }
        w.header(b"Allow", allow.as_bytes());
        if !sup.is_empty() {
            w.header(b"Supported", sup.as_bytes());
        }
        sh.server_headers(&mut w, call.a.policy);
        let has_body = !msg.body().is_empty() && !as_ringing;
        sh.filter(call.a.policy).copy(&mut w, &msg, &[], has_body);
        if as_ringing {
            w.finish(None, b"");
        } else {
            sh.finish_body(w, key, Side::B, BodyRole::Early, Some(&msg));
        }
        let _ = ep.respond_bytes(now, txn, out);
        if !call.sent_18x {
            call.sent_18x = true;
            call.cdr.ringing_at = Some(now);
            sh.emit_phase(key, call, CallPhase::Early, now);
        }
    }

    /// 2xx from B: confirm both dialogs, ACK B (now, or with the A side's answer for a
    /// delayed offer), relay the 2xx to A and retransmit it until A's ACK.
    fn on_b_success(&mut self, now: Instant, ep: &mut Endpoint, key: CallKey, msg: Message) {
        let t1 = ep.config().t1;
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return;
        };
        if let Some(leg) = call.b.leg.as_ref() {
            if msg.to_tag() == Some(&leg.dlg.remote_tag[..]) {
                // A retransmission (RFC 6026 Accepted passes them up): ACK again if we did.
                if let Some((_, ack)) = &leg.last_ack {
                    ep.note_retransmission();
                    ep.send_stateless(leg.dlg.next_hop(), ack.clone());
                }
                return;
            }
            // A second fork answered: ACK and BYE it (RFC 3261 §13.2.2.4).
            let peer = leg.dlg.peer;
            self.orphan_2xx(now, ep, &msg, Some(peer));
            return;
        }
        let Some(att) = call.b.cur.as_ref() else {
            return;
        };
        if call.a.txn.is_none() {
            return;
        }
        // The body policy decides on B's answer before anything is confirmed, so that a
        // refused answer can end the call cleanly instead of leaving the offer unanswered.
        let answer = (att.body.is_some() && !msg.body().is_empty())
            .then(|| sh.decide(key, Side::B, BodyRole::Answer, &msg));
        if let Some(BodyAction::Reject { .. }) = answer {
            // RFC 3261 §13.2.2.4: ACK the 2xx, then BYE that dialog; the caller gets 488
            // (RFC 3261 §21.4.26: the answer is not acceptable here).
            let peer = att.target.peer;
            call.b.cur = None;
            call.b.refused = Some(488);
            self.orphan_2xx(now, ep, &msg, Some(peer));
            self.fail_a(now, ep, key, 488, None, (EndedBy::Sbc, EndReason::Rejected));
            return;
        }
        let Some(txn) = call.a.txn.take() else {
            return;
        };
        let b_policy = att.policy;
        let remote_tag = msg.to_tag().map(|t| sub_bytes(&msg, t)).unwrap_or_default();
        let mut rs = wire::record_route(&msg);
        rs.reverse();
        let mut b_leg = Leg {
            dlg: Dialog {
                call_id: att.call_id.clone(),
                local_tag: att.tag.clone(),
                remote_tag: remote_tag.clone(),
                local_uri: att.from_uri.clone(),
                remote_uri: att.to_uri.clone(),
                local_cseq: att.next_cseq - 1,
                remote_cseq: 0,
                remote_target: wire::contact_uri(&msg)
                    .unwrap_or_else(|| Bytes::copy_from_slice(&att.target.request_uri)),
                route_set: rs,
                peer: att.target.peer,
            },
            policy: b_policy,
            uas_2xx: None,
            last_ack: None,
            ack_owed: None,
            session: sh.uac_session(&msg, att.session_asked, now),
            last_body: att.body.clone(),
            allows_update: wire::allows(&msg, "UPDATE"),
        };
        let offer_sent = att.body.is_some();
        if offer_sent {
            let (bytes, peer) = sh.build_ack(&mut b_leg, att.cseq, None, key);
            ep.send_stateless(peer, bytes);
        } else {
            b_leg.ack_owed = Some(att.cseq);
        }
        // The A dialog (we are its UAS): our tag is the one this B dialog had upstream.
        let a = &call.a.invite;
        let a_tag = a_tag_for(sh, &mut call.a.tags, remote_tag);
        let a_session = sh.uas_session(a, now);
        let (allow, sup) = sh.caps(call.a.policy, false);
        let status = msg.status().unwrap_or(200);
        let mut out = Vec::with_capacity(msg.as_bytes().len() + 256);
        let mut w = build::response(a, status, msg.reason(), Some(&a_tag), &mut out);
        let p = &sh.policies[call.a.policy];
        w.header_parts(b"Contact", &[b"<", p.contact.as_bytes(), b">"]);
        w.header(b"Allow", allow.as_bytes());
        if !sup.is_empty() {
            w.header(b"Supported", sup.as_bytes());
        }
        if let Some((s, require)) = &a_session {
            w.header(b"Session-Expires", &Shared::session_header(s, false));
            if *require {
                w.header(b"Require", b"timer");
            }
        }
        sh.server_headers(&mut w, call.a.policy);
        let has_body = !msg.body().is_empty();
        sh.filter(call.a.policy).copy(&mut w, &msg, &[], has_body);
        let role = if offer_sent {
            BodyRole::Answer
        } else {
            BodyRole::Offer
        };
        let a_body = match answer {
            Some(action) => Shared::write_body(w, &msg, action),
            None => sh.finish_body(w, key, Side::B, role, Some(&msg)),
        };
        let Ok(resp) = Message::parse(Bytes::from(out)) else {
            return;
        };
        let _ = ep.respond(now, txn, resp.clone());
        let a_cseq = a.cseq().map_or(1, |c| c.seq);
        // §12.1.1: the UAS route set is the Record-Route in order.
        let a_rs = wire::record_route(a);
        let a_leg = Leg {
            dlg: Dialog {
                call_id: sub_bytes(a, a.call_id().unwrap_or_default()),
                local_tag: a_tag,
                remote_tag: sub_bytes(a, a.from_tag().unwrap_or_default()),
                local_uri: Bytes::from(wire::strip_tag(a.to_raw().unwrap_or_default())),
                remote_uri: Bytes::from(wire::strip_tag(a.from_raw().unwrap_or_default())),
                local_cseq: 0,
                remote_cseq: a_cseq,
                remote_target: wire::contact_uri(a).unwrap_or_else(|| {
                    Bytes::copy_from_slice(a.request_uri_raw().unwrap_or_default())
                }),
                route_set: a_rs,
                peer: call.a.peer,
            },
            policy: call.a.policy,
            uas_2xx: Some(Pending2xx {
                txn,
                msg: resp,
                cseq: a_cseq,
                interval: t1,
                give_up: now + t1 * 64,
                peer: call.a.peer,
            }),
            last_ack: None,
            ack_owed: None,
            session: a_session.map(|(s, _)| s),
            last_body: a_body,
            allows_update: wire::allows(a, "UPDATE"),
        };
        call.a.leg = Some(a_leg);
        call.b.leg = Some(b_leg);
        call.cdr.answered_at = Some(now);
        call.cdr.status = status;
        if call.cdr.ringing_at.is_none() {
            call.sent_18x = true;
        }
        Shared::disarm(call, TimerKind::NoAnswer);
        sh.arm(key, call, TimerKind::RetxA, now + t1);
        sh.arm_session(key, call, Side::A, now);
        sh.arm_session(key, call, Side::B, now);
        sh.emit_phase(key, call, CallPhase::Answered, now);
    }

    /// A final error from B: failover, redirect, 422 retry, or relay upstream.
    fn on_b_failure(&mut self, now: Instant, ep: &mut Endpoint, key: CallKey, msg: Message) {
        let status = msg.status().unwrap_or(500);
        let Some(call) = self.calls.get_mut(key) else {
            return;
        };
        let Some(att) = call.b.cur.take() else {
            return;
        };
        if call.b.leg.is_some() {
            return;
        }
        // TI-18: a 503 over a stream drops that connection.
        if status == 503 && att.target.peer.transport != Transport::Udp {
            self.sh.events.push_back(EngineEvent::DropConnection {
                peer: att.target.peer,
            });
        }
        if att.body.is_some() {
            self.sh.offer_failed(key, Side::A);
        }
        // RFC 3261 §21.5.4 / TI-18: 503 with Retry-After takes the target out for that long.
        if status == 503 {
            if let Some(Ok(ra)) = msg.typed::<RetryAfter<'_>>() {
                let until = now + Duration::from_secs(u64::from(ra.seconds()));
                self.sh.adm.mark_unavailable(att.target.peer, until);
                self.sh.events.push_back(EngineEvent::TargetUnavailable {
                    peer: att.target.peer,
                    until,
                });
            }
        }
        // RFC 4028 §7.4: a 422 names the smallest interval B accepts; retry once with it.
        if status == 422 && !att.se_retried && !call.sent_18x {
            if let Some(Ok(min)) = msg.typed::<MinSe<'_>>() {
                let se = min.seconds();
                if self.send_attempt(now, ep, key, att.target.clone(), Some(se), false) {
                    return;
                }
            }
        }
        // TI-31: a 3xx is followed within policy (same gateway, new Request-URI) or mapped.
        if (300..400).contains(&status) {
            let max = self.sh.cfg.max_redirects;
            let mapped = self.sh.cfg.redirect_status;
            let Some(call) = self.calls.get_mut(key) else {
                return;
            };
            if call.b.redirects < max && !call.sent_18x {
                if let Some(uri) = redirect_uri(&msg) {
                    call.b.redirects += 1;
                    // Same gateway, trunk and presentation; only the Request-URI changes.
                    let t = Target {
                        request_uri: uri,
                        ..att.target.clone()
                    };
                    if self.send_attempt(now, ep, key, t, None, false) {
                        return;
                    }
                }
            }
            self.fail_a(
                now,
                ep,
                key,
                mapped,
                None,
                (EndedBy::Callee, EndReason::Redirected),
            );
            return;
        }
        let sent_18x = self.calls.get(key).is_some_and(|c| c.sent_18x);
        // The attempt's trunk decides which statuses move on (default 408/503/504).
        let retry = self.sh.policies[att.policy]
            .failover_codes
            .contains(&status);
        if retry && !sent_18x && self.start_next(now, ep, key) {
            return;
        }
        let reason = if retry {
            EndReason::NoTarget
        } else {
            EndReason::Rejected
        };
        self.fail_a(now, ep, key, status, Some(&msg), (EndedBy::Callee, reason));
    }

    /// The trunk's INVITE timeout passed without a final response (only while the attempt is
    /// still the current one and no B leg exists): CANCEL it, then like Timer B.
    pub(crate) fn on_attempt_timeout(&mut self, now: Instant, ep: &mut Endpoint, key: CallKey) {
        let Some(call) = self.calls.get_mut(key) else {
            return;
        };
        if call.b.leg.is_some() {
            return;
        }
        let Some(att) = call.b.cur.as_ref() else {
            return;
        };
        let (txn, no, pol) = (att.txn, att.no, att.policy);
        let _ = ep.cancel_with(now, txn, &self.sh.policy_pairs(pol));
        self.on_b_failure_local(now, ep, key, txn, no, 408);
    }

    /// Timer B or a transport error on the B-leg INVITE.
    pub(crate) fn on_b_failure_local(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        txn: TxnId,
        no: u8,
        status: u16,
    ) {
        let Some(call) = self.calls.get_mut(key) else {
            return;
        };
        if !call
            .b
            .cur
            .as_ref()
            .is_some_and(|a| a.no == no && a.txn == txn)
            || call.b.leg.is_some()
        {
            return;
        }
        let att = call.b.cur.take();
        if att.as_ref().is_some_and(|a| a.body.is_some()) {
            self.sh.offer_failed(key, Side::A);
        }
        // §18.1.1: a TCP connection refused for a request upgraded from UDP is retried
        // over UDP on the same target.
        if let Some(a) = att.as_ref().filter(|a| a.upgraded && status == 503) {
            let mut t = a.target.clone();
            t.peer = Peer::new(Transport::Udp, t.peer.addr);
            if self.send_attempt(now, ep, key, t, None, true) {
                return;
            }
        }
        // Timer B (408) and transport errors (503) move on unless the trunk says otherwise.
        let retry = att.as_ref().is_none_or(|a| {
            let p = &self.sh.policies[a.policy];
            if status == 408 {
                p.failover_on_timeout
            } else {
                p.failover_on_transport_error
            }
        });
        if retry
            && !self.calls.get(key).is_some_and(|c| c.sent_18x)
            && self.start_next(now, ep, key)
        {
            return;
        }
        self.fail_a(
            now,
            ep,
            key,
            status,
            None,
            (EndedBy::Sbc, EndReason::NoTarget),
        );
    }

    /// Answers the caller's INVITE with a final error (relaying `src`'s status line, Reason
    /// and other allowed headers and body) and ends the call.
    pub(crate) fn fail_a(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        status: u16,
        src: Option<&Message>,
        (by, reason): (EndedBy, EndReason),
    ) {
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return;
        };
        // The body policy refused the B-leg offer: that, not what led there, is the answer.
        let (status, src, (by, reason)) = match call.b.refused {
            Some(s) => (s, None, (EndedBy::Sbc, EndReason::Rejected)),
            None => (status, src, (by, reason)),
        };
        if let Some(txn) = call.a.txn.take() {
            let phrase =
                src.and_then(|m| (m.status() == Some(status)).then(|| m.reason()).flatten());
            let mut out = Vec::with_capacity(512);
            let mut w = build::response(
                &call.a.invite,
                status,
                phrase,
                Some(&call.a.fail_tag),
                &mut out,
            );
            sh.server_headers(&mut w, call.a.policy);
            match src {
                Some(m) => {
                    sh.filter(call.a.policy)
                        .copy(&mut w, m, &[], !m.body().is_empty());
                    sh.finish_body(w, key, Side::B, BodyRole::Other, Some(m));
                    if let Some(c) = wire::q850(m) {
                        call.cdr.q850 = Some(c);
                    }
                }
                None => w.finish(None, b""),
            }
            let _ = ep.respond_bytes(now, txn, out);
            call.cdr.status = status;
        }
        // Our own attempt is over; nothing left to CANCEL.
        call.b.cur = None;
        self.finish(now, ep, key, status, by, reason);
    }

    /// CANCEL (RFC 3261 §9.2): 200 for the CANCEL, 487 for the INVITE, CANCEL on the B leg
    /// (with the caller's Reason, RFC 3326). A 2xx racing it is ACKed and BYEd as an orphan.
    pub(crate) fn on_cancel(&mut self, now: Instant, ep: &mut Endpoint, inc: Incoming) {
        let target = inc.cancels();
        let r = target.and_then(|t| self.sh.txns.get(&t).copied());
        let Some((t, r)) = target.zip(r) else {
            return self.reject(now, ep, inc, 481, "CANCEL matches no transaction", &[]);
        };
        let Some(call) = self.calls.get(r.call) else {
            return self.reject(now, ep, inc, 481, "CANCEL for an ended call", &[]);
        };
        let tag = call.a.fail_tag.clone();
        let reason = inc
            .message()
            .get(HeaderName::Reason)
            .map(|v| sub_bytes(inc.message(), v));
        let q850 = wire::q850(inc.message());
        let cancel = inc.message().clone();
        let Ok(ctxn) = ep.accept(now, inc) else {
            return;
        };
        self.sh.accepted.set(Some(ctxn));
        let mut out = Vec::with_capacity(512);
        let tag_opt = (r.role == Role::AInvite).then_some(&tag[..]);
        let pol = match r.role {
            Role::AInvite => call.a.policy,
            _ => call
                .relays
                .iter()
                .find(|x| x.server == t)
                .and_then(|x| call.leg(x.from))
                .map_or(0, |l| l.policy),
        };
        let mut w = build::response(&cancel, 200, None, tag_opt, &mut out);
        self.sh.server_headers(&mut w, pol);
        w.finish(None, b"");
        let _ = ep.respond_bytes(now, ctxn, out);
        match r.role {
            Role::AInvite => {
                let Some(call) = self.calls.get_mut(r.call) else {
                    return;
                };
                if call.a.txn != Some(t) {
                    return; // answered already: the CANCEL has no effect (§9.2)
                }
                call.cancel_reason = reason;
                if q850.is_some() {
                    call.cdr.q850 = q850;
                }
                self.finish(now, ep, r.call, 487, EndedBy::Caller, EndReason::Cancelled);
            }
            Role::RelayServer => {
                // A re-INVITE being relayed: cancel our copy; its 487 comes back through.
                if let Some(rel) = call.relays.iter().find(|x| x.server == t) {
                    if rel.method == Method::Invite {
                        let pol = call.leg(rel.from.other()).map_or(1, |l| l.policy);
                        let _ = ep.cancel_with(now, rel.client, &self.sh.policy_pairs(pol));
                    }
                }
            }
            _ => {}
        }
    }

    /// The no-answer timer: CANCEL the B leg, answer the caller.
    pub(crate) fn on_no_answer(&mut self, now: Instant, ep: &mut Endpoint, key: CallKey) {
        let Some(call) = self.calls.get(key) else {
            return;
        };
        if call.a.txn.is_none() {
            return;
        }
        let status = self.sh.cfg.no_answer_status;
        self.finish(now, ep, key, status, EndedBy::Sbc, EndReason::NoAnswer);
    }

    /// ACK and BYE a 2xx nobody wants (a late fork, a B leg answering after CANCEL or
    /// failover, or a retransmission for a call already gone): §13.2.2.4 says a UAC ACKs
    /// every 2xx and may then end the dialog. Only for dialogs that carry our identifiers.
    pub(crate) fn orphan_2xx(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        msg: &Message,
        learned: Option<Peer>,
    ) {
        let ours = msg.call_id().and_then(crate::ids::shard_of).is_some()
            || msg.from_tag().and_then(crate::ids::shard_of_tag).is_some();
        let (Some(cid), Some(ftag), Some(ttag), Some(cseq), Some(peer)) = (
            msg.call_id(),
            msg.from_tag(),
            msg.to_tag(),
            msg.cseq(),
            learned,
        ) else {
            return;
        };
        if !ours {
            return;
        }
        let Some(target) = wire::contact_uri(msg) else {
            return;
        };
        let mut rs = wire::record_route(msg);
        rs.reverse();
        let dlg = Dialog {
            call_id: sub_bytes(msg, cid),
            local_tag: sub_bytes(msg, ftag),
            remote_tag: sub_bytes(msg, ttag),
            local_uri: Bytes::from(wire::strip_tag(msg.from_raw().unwrap_or_default())),
            remote_uri: Bytes::from(wire::strip_tag(msg.to_raw().unwrap_or_default())),
            local_cseq: cseq.seq,
            remote_cseq: 0,
            remote_target: target,
            route_set: rs,
            peer,
        };
        let policy = if crate::ids::shard_of(cid).is_some() {
            1
        } else {
            0
        };
        let mut out = Vec::with_capacity(512);
        let (w, hop) = self
            .sh
            .start_request(&mut out, &dlg, policy, b"ACK", cseq.seq, 70);
        w.finish(None, b"");
        ep.send_stateless(hop, Bytes::from(out));
        let mut out = Vec::with_capacity(512);
        let (w, hop) =
            self.sh
                .start_request(&mut out, &dlg, policy, b"BYE", cseq.seq.wrapping_add(1), 70);
        w.finish(None, b"");
        let _ = ep.send_request_bytes(now, out, hop);
    }
}

/// Our A-side To tag for a B early dialog (created on first sight).
fn a_tag_for(sh: &mut Shared, tags: &mut Vec<(Bytes, Bytes)>, b_tag: Bytes) -> Bytes {
    if let Some((_, a)) = tags.iter().find(|(b, _)| *b == b_tag) {
        return a.clone();
    }
    let a = Bytes::from(sh.ids.tag());
    tags.push((b_tag, a.clone()));
    a
}

/// The B early dialog of a provisional response (for PRACK).
fn early_dialog(att: &Attempt, msg: &Message) -> Dialog {
    let mut rs = wire::record_route(msg);
    rs.reverse();
    Dialog {
        call_id: att.call_id.clone(),
        local_tag: att.tag.clone(),
        remote_tag: msg.to_tag().map(|t| sub_bytes(msg, t)).unwrap_or_default(),
        local_uri: att.from_uri.clone(),
        remote_uri: att.to_uri.clone(),
        local_cseq: att.next_cseq,
        remote_cseq: 0,
        remote_target: wire::contact_uri(msg)
            .unwrap_or_else(|| Bytes::copy_from_slice(&att.target.request_uri)),
        route_set: rs,
        peer: att.target.peer,
    }
}

/// The first Contact of a 3xx as a Request-URI: SIP(S) or tel only, URI headers dropped.
fn redirect_uri(msg: &Message) -> Option<Vec<u8>> {
    let uri = wire::contact_uri(msg)?;
    match parse_uri(&uri).ok()? {
        sbc_sip::uri::Uri::Sip(u) => Some(u.without_headers().to_vec()),
        sbc_sip::uri::Uri::Tel(t) => Some(t.raw.to_vec()),
        sbc_sip::uri::Uri::Absolute(_) => None,
    }
}

fn retry_after_text(hint: u32, default: u32) -> String {
    let v = if hint == 0 || hint == u32::MAX {
        default
    } else {
        hint
    };
    v.max(1).to_string()
}

/// The span of a new call: its identifiers, and its numbers redacted (they appear in full
/// only in the debug event inside it).
fn call_span(shard: u16, key: CallKey, invite: &Message) -> tracing::Span {
    let calling = wire::user_part(invite.from_raw());
    let called = wire::user_part(invite.to_raw());
    let span = tracing::info_span!(
        "call",
        shard,
        call = key.index,
        call_id = %String::from_utf8_lossy(invite.call_id().unwrap_or_default()),
        from = %wire::Redacted(&calling),
        to = %wire::Redacted(&called),
    );
    tracing::info!(parent: &span, "call accepted");
    tracing::debug!(
        parent: &span,
        from = %String::from_utf8_lossy(&calling),
        to = %String::from_utf8_lossy(&called),
        "call numbers"
    );
    span
}
