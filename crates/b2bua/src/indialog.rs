//! Established calls: BYE, re-INVITE/UPDATE with offer/answer mapping and glare handling,
//! end-to-end relay of INFO/NOTIFY/MESSAGE/OPTIONS, ACKs (including the delayed-offer
//! answer), 2xx retransmissions after the transaction is gone, and RFC 4028 session timers.

use core::time::Duration;

use bytes::Bytes;
use sbc_sip::build;
use sbc_sip::{HeaderName, Message, Method};
use sbc_txn::{AcceptError, Endpoint, Incoming, Instant, Peer, TxnId};

use crate::body::BodyRole;
use crate::call::{Oa, Pending2xx, Relay, TimerKind};
use crate::engine::{is_invite_2xx, Engine, Role, Shared};
use crate::event::{CallKey, CallPhase, EndReason, EndedBy, Side};
use crate::wire;

/// A retransmitted 2xx to a re-INVITE we already ACKed: send the same ACK again
/// (RFC 3261 §13.2.2.4; the ACK for a 2xx is the TU's, not a transaction's).
fn reack_2xx(leg: Option<&crate::call::Leg>, msg: &Message, ep: &mut Endpoint) {
    let Some(leg) = leg.filter(|_| is_invite_2xx(msg)) else {
        return;
    };
    if let Some((c, ack)) = &leg.last_ack {
        if msg.cseq().is_some_and(|x| x.seq == *c) {
            ep.note_retransmission();
            ep.send_stateless(leg.dlg.next_hop(), ack.clone());
        }
    }
}

/// A retransmitted 2xx for a dialog of `call` we already ACKed (found by Call-ID and the
/// peer's tag, on either leg): the same ACK again. False when no leg matches.
pub(crate) fn reack_in_call(call: &crate::call::Call, msg: &Message, ep: &mut Endpoint) -> bool {
    let found = [Side::A, Side::B].into_iter().find_map(|s| {
        call.leg(s)
            .filter(|l| {
                msg.call_id() == Some(&l.dlg.call_id[..])
                    && msg.to_tag() == Some(&l.dlg.remote_tag[..])
            })
            .and_then(|l| l.last_ack.clone().map(|(_, a)| (a, l.dlg.next_hop())))
    });
    match found {
        Some((ack, hop)) => {
            ep.note_retransmission();
            ep.send_stateless(hop, ack);
            true
        }
        None => false,
    }
}

fn ended_by(side: Side) -> EndedBy {
    match side {
        Side::A => EndedBy::Caller,
        Side::B => EndedBy::Callee,
    }
}

impl Engine {
    /// A request with a To tag (RFC 3261 §12.2.2).
    pub(crate) fn on_in_dialog(&mut self, now: Instant, ep: &mut Endpoint, inc: Incoming) {
        let method = inc.method();
        let Some((key, side)) = self.sh.lookup_request(inc.message()) else {
            return self.reject(now, ep, inc, 481, "no such dialog", &[]);
        };
        // The transferor's dialog after a transfer took its place (TI-26).
        let Some(inc) = self.on_old_dialog(now, ep, key, inc) else {
            return;
        };
        let Some(call) = self.calls.get_mut(key) else {
            return self.reject(now, ep, inc, 481, "no such dialog", &[]);
        };
        let to_tag = inc.message().to_tag();
        let established = call
            .leg(side)
            .is_some_and(|l| to_tag == Some(&l.dlg.local_tag[..]));
        if !established {
            let early_a = side == Side::A
                && call.a.txn.is_some()
                && to_tag.is_some_and(|t| call.a.tags.iter().any(|(_, a)| &a[..] == t));
            if method == Method::Bye && early_a {
                // §15: the caller may end an early dialog with BYE; for the call it is a
                // CANCEL (the B leg is cancelled, the INVITE gets 487).
                let bye = inc.message().clone();
                if let Some(c) = wire::q850(&bye) {
                    call.cdr.q850 = Some(c);
                }
                call.cancel_reason = bye
                    .get(HeaderName::Reason)
                    .map(|v| crate::engine::sub_bytes(&bye, v));
                let pol = call.a.policy;
                self.answer(now, ep, inc, 200, pol);
                self.finish(now, ep, key, 487, EndedBy::Caller, EndReason::Cancelled);
                return;
            }
            if method == Method::Options {
                return self.options_locally(now, ep, inc);
            }
            return self.reject(now, ep, inc, 481, "no such dialog", &[]);
        }
        let cseq = inc.message().cseq().map_or(0, |c| c.seq);
        if let Some(leg) = call.leg_mut(side) {
            // §12.2.2: a lower CSeq than the last one is out of order.
            if leg.dlg.remote_cseq != 0 && cseq <= leg.dlg.remote_cseq {
                return self.reject(now, ep, inc, 500, "CSeq out of order", &[]);
            }
            leg.dlg.remote_cseq = cseq;
        }
        match method {
            Method::Bye => {
                // During a transfer the transferor's BYE ends only its dialog.
                if let Some(inc) = self.on_transferor_bye(now, ep, key, side, inc) {
                    self.on_bye(now, ep, key, side, inc)
                }
            }
            Method::Refer => self.on_refer(now, ep, key, side, inc),
            Method::Invite | Method::Update => self.on_offer_request(now, ep, key, side, inc),
            Method::Info | Method::Notify | Method::Message | Method::Options => {
                self.relay(now, ep, key, side, inc, false)
            }
            // We never send reliable provisionals (100rel is terminated on the B leg).
            Method::Prack => self.reject(now, ep, inc, 481, "no reliable provisional pending", &[]),
            _ => {
                let allow = self.sh.policies[call_policy(self, key, side)].allow.clone();
                self.reject(
                    now,
                    ep,
                    inc,
                    501,
                    "method not relayed",
                    &[(b"Allow", allow.as_bytes())],
                )
            }
        }
    }

    /// Accepts a request and answers it at once with `status`.
    pub(crate) fn answer(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        inc: Incoming,
        status: u16,
        policy: usize,
    ) -> Option<TxnId> {
        let req = inc.message().clone();
        let txn = ep.accept(now, inc).ok()?;
        self.sh.accepted.set(Some(txn));
        let mut out = Vec::with_capacity(512);
        let mut w = build::response(&req, status, None, None, &mut out);
        self.sh.server_headers(&mut w, policy);
        w.finish(None, b"");
        let _ = ep.respond_bytes(now, txn, out);
        Some(txn)
    }

    fn options_locally(&mut self, now: Instant, ep: &mut Endpoint, inc: Incoming) {
        let (allow, sup) = self.sh.caps(0, false);
        let hdrs: [(&[u8], &[u8]); 3] = [
            (b"Allow", allow.as_bytes()),
            (b"Accept", b"application/sdp"),
            (b"Supported", sup.as_bytes()),
        ];
        let n = if sup.is_empty() { 2 } else { 3 };
        self.reject(now, ep, inc, 200, "OPTIONS answered locally", &hdrs[..n]);
    }

    /// BYE: 200 here, BYE on the other leg (with the Reason and other allowed headers).
    fn on_bye(&mut self, now: Instant, ep: &mut Endpoint, key: CallKey, side: Side, inc: Incoming) {
        let bye = inc.message().clone();
        let pol = call_policy(self, key, side);
        if self.answer(now, ep, inc, 200, pol).is_none() {
            return;
        }
        if let Some(call) = self.calls.get_mut(key) {
            if let Some(c) = wire::q850(&bye) {
                call.cdr.q850 = Some(c);
            }
        }
        let legs = [side == Side::B, side == Side::A];
        self.hangup(
            now,
            ep,
            key,
            legs,
            Some(&bye),
            (ended_by(side), EndReason::Normal),
        );
    }

    /// re-INVITE / UPDATE: one offer/answer exchange per call at a time. A request from the
    /// side we have an exchange pending toward is glare: 491 (RFC 3261 §14.2, RFC 3311
    /// §5.2); a second one from the side whose first is still pending gets 500 with
    /// Retry-After (§14.2).
    fn on_offer_request(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        side: Side,
        inc: Incoming,
    ) {
        let Some(call) = self.calls.get(key) else {
            return;
        };
        if let Some(oa) = call.oa {
            if oa.origin == Some(side) {
                let ra = (1 + self.sh.ids.u64() % 10).to_string();
                return self.reject(
                    now,
                    ep,
                    inc,
                    500,
                    "offer pending from this side",
                    &[(b"Retry-After", ra.as_bytes())],
                );
            }
            return self.reject(now, ep, inc, 491, "glare", &[]);
        }
        if call.oa_busy() || call.phase != CallPhase::Confirmed {
            return self.reject(now, ep, inc, 491, "offer/answer in progress", &[]);
        }
        self.relay(now, ep, key, side, inc, true);
    }

    /// Relays an in-dialog request to the other leg as a request of that leg's dialog.
    fn relay(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        from: Side,
        inc: Incoming,
        oa: bool,
    ) {
        let to = from.other();
        let method = inc.method();
        let other_alive = self.calls.get(key).is_some_and(|c| c.leg(to).is_some());
        if method == Method::Options && (!other_alive || inc.message().max_forwards() == Some(0)) {
            return self.options_locally(now, ep, inc);
        }
        if !other_alive {
            return self.reject(now, ep, inc, 481, "other leg gone", &[]);
        }
        let req = inc.message().clone();
        let from_policy = self
            .calls
            .get(key)
            .and_then(|c| c.leg(from))
            .map_or(0, |l| l.policy);
        // A re-INVITE's 100 carries the leg's own headers (TI-17).
        let server = match ep.accept_with(now, inc, &self.sh.policy_pairs(from_policy)) {
            Ok(t) => {
                self.sh.accepted.set(Some(t));
                t
            }
            Err(AcceptError::Duplicate(_)) => return,
            Err(AcceptError::TableFull(inc)) => {
                return self.reject(now, ep, *inc, 503, "transaction table full", &[])
            }
        };
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return;
        };
        // §12.2.2 target refresh: the Contact of a re-INVITE/UPDATE replaces the target.
        if oa {
            if let (Some(c), Some(l)) = (wire::contact_uri(&req), call.leg_mut(from)) {
                l.dlg.remote_target = c;
            }
        }
        let Some(leg) = call.leg_mut(to) else {
            return;
        };
        leg.dlg.local_cseq += 1;
        let cseq = leg.dlg.local_cseq;
        let mf = req.max_forwards().unwrap_or(70).saturating_sub(1);
        let mut out = Vec::with_capacity(req.as_bytes().len() + 256);
        let (mut w, peer) =
            sh.start_request(&mut out, &leg.dlg, leg.policy, req.method_bytes(), cseq, mf);
        if oa {
            let (allow, sup) = sh.caps(leg.policy, false);
            w.header(b"Allow", allow.as_bytes());
            if !sup.is_empty() {
                w.header(b"Supported", sup.as_bytes());
            }
            if let Some(s) = &leg.session {
                w.header(b"Session-Expires", &Shared::session_header(s, true));
            }
        }
        let also: &[HeaderName] = match method {
            Method::Notify => &[HeaderName::Event, HeaderName::SubscriptionState],
            _ => &[],
        };
        let has_body = !req.body().is_empty();
        sh.filter(leg.policy).copy(&mut w, &req, also, has_body);
        sh.filter(leg.policy)
            .copy_raw(&mut w, &req, &[b"Info-Package"]);
        let body = if oa {
            match sh.finish_offer(w, key, from, &req) {
                Ok(b) => b,
                Err(status) => {
                    // BodyAction::Reject: the requester gets the status, nothing is
                    // relayed and the other leg's CSeq space is left as it was.
                    if let Some(l) = call.leg_mut(to) {
                        l.dlg.local_cseq -= 1;
                    }
                    let mut out = Vec::with_capacity(512);
                    let mut w = build::response(&req, status, None, None, &mut out);
                    sh.server_headers(&mut w, call.leg(from).map_or(0, |l| l.policy));
                    w.finish(None, b"");
                    let _ = ep.respond_bytes(now, server, out);
                    return;
                }
            }
        } else {
            sh.finish_body(w, key, from, BodyRole::Other, Some(&req))
        };
        let client = match ep.send_request_bytes(now, out, peer) {
            Ok(c) => c,
            Err(e) => {
                if oa && body.is_some() {
                    sh.offer_failed(key, from);
                }
                let mut out = Vec::with_capacity(512);
                let mut w = build::response(&req, e.status(), None, None, &mut out);
                sh.server_headers(&mut w, call.leg(from).map_or(0, |l| l.policy));
                w.finish(None, b"");
                let _ = ep.respond_bytes(now, server, out);
                return;
            }
        };
        sh.track(server, key, Role::RelayServer);
        sh.track(client, key, Role::RelayClient(to));
        if oa {
            call.oa = Some(Oa {
                origin: Some(from),
                target: to,
                client,
            });
            if let (Some(b), Some(l)) = (&body, call.leg_mut(to)) {
                l.last_body = Some(b.clone());
            }
        }
        call.relays.push(Relay {
            server,
            client,
            from,
            method,
            request: req,
            client_cseq: cseq,
            offer: body.is_some(),
        });
    }

    /// A response to a relayed request: provisional (INVITE only) and final responses go
    /// back on the server transaction; a re-INVITE 2xx starts the ACK handling of both legs.
    pub(crate) fn on_relay_response(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        ctxn: TxnId,
        to: Side,
        msg: Message,
    ) {
        let t1 = ep.config().t1;
        let status = msg.status().unwrap_or(500);
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return;
        };
        let Some(i) = call.relays.iter().position(|r| r.client == ctxn) else {
            // The final went up already: a 2xx retransmission of a relayed re-INVITE.
            reack_2xx(call.leg(to), &msg, ep);
            return;
        };
        if status < 200 {
            let r = &call.relays[i];
            if status > 100 && r.method == Method::Invite {
                let mut out = Vec::with_capacity(msg.as_bytes().len() + 256);
                let mut w = build::response(&r.request, status, msg.reason(), None, &mut out);
                let pol = call.leg(r.from).map_or(0, |l| l.policy);
                sh.server_headers(&mut w, pol);
                sh.filter(pol)
                    .copy(&mut w, &msg, &[], !msg.body().is_empty());
                sh.finish_body(w, key, to, BodyRole::Early, Some(&msg));
                let _ = ep.respond_bytes(now, r.server, out);
            }
            return;
        }
        let relay = call.relays.remove(i);
        let from = relay.from;
        let is_oa = matches!(relay.method, Method::Invite | Method::Update);
        if call.oa.is_some_and(|o| o.client == ctxn) {
            call.oa = None;
        }
        let ok = (200..300).contains(&status);
        let mut x_session = None;
        // RFC 3264 §8 / RFC 3261 §14.1: a refused re-offer (491 included) leaves the
        // session as it was; the body policy rolls back what it prepared.
        if !ok && is_oa && relay.offer {
            sh.offer_failed(key, from);
        }
        if ok && is_oa {
            if let Some(l) = call.leg_mut(to) {
                if let Some(c) = wire::contact_uri(&msg) {
                    l.dlg.remote_target = c;
                }
                let asked = l.session.map(|s| s.interval);
                l.session = sh.uac_session(&msg, asked, now);
            }
            x_session = sh.uas_session(&relay.request, now);
            if let Some(l) = call.leg_mut(from) {
                l.session = x_session.map(|(s, _)| s);
            }
        }
        let Some(x_policy) = call.leg(from).map(|l| l.policy) else {
            return;
        };
        let mut out = Vec::with_capacity(msg.as_bytes().len() + 256);
        let mut w = build::response(&relay.request, status, msg.reason(), None, &mut out);
        if ok && is_oa {
            let (allow, sup) = sh.caps(x_policy, false);
            let p = &sh.policies[x_policy];
            w.header_parts(b"Contact", &[b"<", p.contact.as_bytes(), b">"]);
            w.header(b"Allow", allow.as_bytes());
            if !sup.is_empty() {
                w.header(b"Supported", sup.as_bytes());
            }
            if let Some((s, require)) = &x_session {
                w.header(b"Session-Expires", &Shared::session_header(s, false));
                if *require {
                    w.header(b"Require", b"timer");
                }
            }
        }
        sh.server_headers(&mut w, x_policy);
        sh.filter(x_policy)
            .copy(&mut w, &msg, &[], !msg.body().is_empty());
        let role = match (is_oa, relay.offer) {
            (true, true) => BodyRole::Answer,
            (true, false) => BodyRole::Offer,
            _ => BodyRole::Other,
        };
        let body = sh.finish_body(w, key, to, role, Some(&msg));
        let Ok(resp) = Message::parse(Bytes::from(out)) else {
            return;
        };
        let x_peer = ep.peer(relay.server);
        let _ = ep.respond(now, relay.server, resp.clone());
        if ok && is_oa {
            if let (Some(b), Some(l)) = (body, call.leg_mut(from)) {
                l.last_body = Some(b);
            }
        }
        if ok && relay.method == Method::Invite {
            if let Some(l) = call.leg_mut(to) {
                if relay.offer {
                    let (bytes, peer) = sh.build_ack(l, relay.client_cseq, None, key);
                    ep.send_stateless(peer, bytes);
                } else {
                    l.ack_owed = Some(relay.client_cseq);
                }
            }
            if let Some(l) = call.leg_mut(from) {
                l.uas_2xx = Some(Pending2xx {
                    txn: relay.server,
                    msg: resp,
                    cseq: relay.request.cseq().map_or(0, |c| c.seq),
                    interval: t1,
                    give_up: now + t1 * 64,
                    peer: x_peer.unwrap_or(l.dlg.peer),
                });
            }
            sh.arm(key, call, TimerKind::retx(from), now + t1);
        }
        if ok && is_oa {
            sh.arm_session(key, call, from, now);
            sh.arm_session(key, call, to, now);
        }
        // §12.2.1.2: 481 or 408 to a request within a dialog means the dialog is gone.
        if matches!(status, 408 | 481) {
            self.hangup(
                now,
                ep,
                key,
                [true, true],
                None,
                (EndedBy::Sbc, EndReason::DialogLost),
            );
        }
    }

    /// Timeout or transport error on a relayed request: 408 upstream, dialog gone.
    pub(crate) fn on_relay_failure(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        ctxn: TxnId,
        status: u16,
    ) {
        let Some(call) = self.calls.get_mut(key) else {
            return;
        };
        let Some(i) = call.relays.iter().position(|r| r.client == ctxn) else {
            return;
        };
        let relay = call.relays.remove(i);
        if call.oa.is_some_and(|o| o.client == ctxn) {
            call.oa = None;
        }
        if relay.offer && matches!(relay.method, Method::Invite | Method::Update) {
            self.sh.offer_failed(key, relay.from);
        }
        let mut out = Vec::with_capacity(512);
        let mut w = build::response(&relay.request, status, None, None, &mut out);
        let pol = call.leg(relay.from).map_or(0, |l| l.policy);
        self.sh.server_headers(&mut w, pol);
        w.finish(None, b"");
        let _ = ep.respond_bytes(now, relay.server, out);
        self.hangup(
            now,
            ep,
            key,
            [true, true],
            None,
            (EndedBy::Sbc, EndReason::DialogLost),
        );
    }

    /// An ACK for a 2xx (its own transaction, §17.1.1.3): stops our 2xx retransmissions on
    /// that leg and, for a delayed offer, carries the answer into the other leg's ACK.
    pub(crate) fn on_ack(&mut self, now: Instant, ep: &mut Endpoint, msg: Message, _from: Peer) {
        let Some((key, side)) = self.sh.lookup_request(&msg) else {
            return;
        };
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return;
        };
        let cseq = msg.cseq().map_or(0, |c| c.seq);
        let Some(leg) = call.leg_mut(side) else {
            return;
        };
        if msg.to_tag() != Some(&leg.dlg.local_tag[..]) {
            return;
        }
        if leg.uas_2xx.as_ref().is_none_or(|p| p.cseq != cseq) {
            return; // a retransmitted ACK, or one for a 2xx we no longer wait for
        }
        leg.uas_2xx = None;
        Shared::disarm(call, TimerKind::retx(side));
        let other = side.other();
        if let Some(ol) = call.leg_mut(other) {
            if let Some(c) = ol.ack_owed.take() {
                let (bytes, peer) = sh.build_ack(ol, c, Some((&msg, side)), key);
                ep.send_stateless(peer, bytes);
            }
        }
        if call.phase == CallPhase::Answered {
            sh.emit_phase(key, call, CallPhase::Confirmed, now);
        }
    }

    /// A response no transaction took: a 2xx retransmitted after Timer M is ACKed again
    /// from dialog state; an unknown 2xx with our identifiers is ACKed and BYEd.
    pub(crate) fn on_stray_response(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        msg: &Message,
        from: Peer,
    ) {
        if !is_invite_2xx(msg) {
            return;
        }
        if let Some((key, side)) = self.sh.lookup_response(msg) {
            if let Some(leg) = self.calls.get(key).and_then(|c| c.leg(side)) {
                if msg.to_tag() == Some(&leg.dlg.remote_tag[..]) {
                    if let Some((c, ack)) = &leg.last_ack {
                        if msg.cseq().is_some_and(|x| x.seq == *c) {
                            ep.note_retransmission();
                            ep.send_stateless(leg.dlg.next_hop(), ack.clone());
                        }
                    }
                    // Else the ACK waits for the other side's answer (delayed offer).
                    return;
                }
            }
        }
        self.orphan_2xx(now, ep, msg, Some(from));
    }

    // ----- session timers (RFC 4028) -------------------------------------------------------

    pub(crate) fn on_session_timer(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        side: Side,
    ) {
        let Some(call) = self.calls.get_mut(key) else {
            return;
        };
        let Some(s) = call.leg(side).and_then(|l| l.session) else {
            return;
        };
        if now >= s.expires {
            // §10: no refresh before expiry: BYE both legs.
            self.hangup(
                now,
                ep,
                key,
                [true, true],
                None,
                (EndedBy::Sbc, EndReason::SessionExpired),
            );
            return;
        }
        if !s.we_refresh {
            self.sh.arm(key, call, TimerKind::session(side), s.expires);
            return;
        }
        if call.oa_busy() {
            // An exchange in flight will refresh both legs when it completes; look again soon.
            let at = (now + Duration::from_secs(2)).min(s.expires);
            self.sh.arm(key, call, TimerKind::session(side), at);
            return;
        }
        self.send_refresh(now, ep, key, side);
    }

    /// Our refresh (we are the refresher on this leg): re-INVITE with the last body we sent
    /// on the leg (an unchanged offer), or UPDATE without a body where the policy prefers it
    /// and the peer allows it (RFC 4028 §7.1, §9; TI-30 wants re-INVITE toward Microsoft).
    fn send_refresh(&mut self, now: Instant, ep: &mut Endpoint, key: CallKey, side: Side) {
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return;
        };
        let Some(leg) = call.leg_mut(side) else {
            return;
        };
        let Some(s) = leg.session else {
            return;
        };
        let update = sh.policies[leg.policy].refresh_with_update && leg.allows_update;
        let method: &[u8] = if update { b"UPDATE" } else { b"INVITE" };
        leg.dlg.local_cseq += 1;
        let cseq = leg.dlg.local_cseq;
        let (allow, sup) = sh.caps(leg.policy, false);
        let mut out = Vec::with_capacity(1024);
        let (mut w, peer) = sh.start_request(&mut out, &leg.dlg, leg.policy, method, cseq, 70);
        w.header(b"Allow", allow.as_bytes());
        if !sup.is_empty() {
            w.header(b"Supported", sup.as_bytes());
        }
        w.header(b"Session-Expires", &Shared::session_header(&s, true));
        match (&leg.last_body, update) {
            (Some((ct, body)), false) => {
                let ct = (!ct.is_empty()).then_some(&ct[..]);
                w.finish(ct, body)
            }
            _ => w.finish(None, b""),
        }
        match ep.send_request_bytes(now, out, peer) {
            Ok(client) => {
                sh.track(client, key, Role::Refresh(side));
                call.oa = Some(Oa {
                    origin: None,
                    target: side,
                    client,
                });
                // Guard: without a 2xx by the expiry, the session is over.
                sh.arm(key, call, TimerKind::session(side), s.expires);
            }
            Err(_) => self.hangup(
                now,
                ep,
                key,
                [true, true],
                None,
                (EndedBy::Sbc, EndReason::RefreshFailed),
            ),
        }
    }

    pub(crate) fn on_refresh_response(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        side: Side,
        ctxn: TxnId,
        msg: Message,
    ) {
        let status = msg.status().unwrap_or(500);
        if status < 200 {
            return;
        }
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return;
        };
        let ours = call
            .oa
            .is_some_and(|o| o.origin.is_none() && o.client == ctxn);
        if !ours {
            reack_2xx(call.leg(side), &msg, ep);
            return;
        }
        call.oa = None;
        if (200..300).contains(&status) {
            let Some(leg) = call.leg_mut(side) else {
                return;
            };
            if let Some(c) = wire::contact_uri(&msg) {
                leg.dlg.remote_target = c;
            }
            if msg.cseq().is_some_and(|c| c.method == Method::Invite) {
                let cseq = msg.cseq().map_or(0, |c| c.seq);
                let (bytes, peer) = sh.build_ack(leg, cseq, None, key);
                ep.send_stateless(peer, bytes);
            }
            let asked = leg.session.map(|s| s.interval);
            leg.session = sh.uac_session(&msg, asked, now);
            sh.arm_session(key, call, side, now);
            return;
        }
        if status == 491 {
            // §14.1: retry after 2.1–4 s as the owner of the Call-ID (our B leg), 0–2 s
            // otherwise; the session timer path sends it.
            let r = sh.ids.u64();
            let ms = match side {
                Side::B => 2100 + r % 1900,
                Side::A => r % 2000,
            };
            let expires = call.leg(side).and_then(|l| l.session).map(|s| s.expires);
            let at = now + Duration::from_millis(ms);
            let at = expires.map_or(at, |e| at.min(e));
            sh.arm(key, call, TimerKind::session(side), at);
            return;
        }
        self.hangup(
            now,
            ep,
            key,
            [true, true],
            None,
            (EndedBy::Sbc, EndReason::RefreshFailed),
        );
    }
}

fn call_policy(e: &Engine, key: CallKey, side: Side) -> usize {
    e.calls
        .get(key)
        .and_then(|c| c.leg(side).map(|l| l.policy))
        .unwrap_or(match side {
            Side::A => 0,
            Side::B => 1,
        })
}
