//! Blind transfer terminated by the SBC (RFC 3515 REFER, RFC 3892 Referred-By; TI-26).
//!
//! The transferor is the peer of one leg (side `X`, Microsoft in practice); the other leg
//! (side `Y`, the PSTN party) stays. On a REFER from `X`, when that leg's policy says
//! [`ReferMode::Terminate`]:
//!
//! 1. `202 Accepted`, then a NOTIFY (`Event: refer`, `message/sipfrag`) with `100 Trying`
//!    on the transferor's dialog (RFC 3515 §2.4.4–2.4.5);
//! 2. a new INVITE **to the transferor's peer** (TI-26: to Microsoft, never straight to the
//!    PSTN): Request-URI = the Refer-To URI without its `?headers`, `Referred-By` copied byte
//!    for byte, From = our identity on the transferor's dialog, Contact = that leg's
//!    Contact (tenant FQDN, TI-14), the SDP last sent to the transferor as the offer (TI-15);
//! 3. its provisional and final responses become NOTIFYs on the transferor's dialog (the final
//!    one with `Subscription-State: terminated`);
//! 4. on its 2xx: ACK, the new dialog takes the transferor's place in the call, and `Y` gets
//!    a re-INVITE offering the new party's SDP (re-bridged); the transferor's dialog lives on
//!    until its BYE (which then ends only that dialog);
//! 5. a BYE from the transferor before the new call is answered ends only the transferor's
//!    dialog; if the new call then fails, `Y` is released with BYE.
//!
//! One transfer per call at a time (a second REFER gets 491); a REFER while an offer/answer
//! exchange is unfinished gets 491 too (RFC 3261 §14.2 by analogy: the SDP to offer is not
//! settled).

use bytes::Bytes;
use sbc_sip::addr::ReferToHdr;
use sbc_sip::build::{self, MessageWriter};
use sbc_sip::{HeaderName, Message};
use sbc_txn::{Endpoint, Incoming, Instant, TxnId};

use crate::call::{Leg, Oa, TimerKind, Transfer};
use crate::engine::{is_invite_2xx, sub_bytes, Engine, Role, Shared};
use crate::event::{CallKey, EndReason, EndedBy, Side};
use crate::wire::{self, Dialog};

/// What a leg does with a REFER from its peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ReferMode {
    /// Refuse it (`501`, REFER not in Allow).
    #[default]
    Reject,
    /// Carry the transfer out here (TI-26).
    Terminate,
}

/// Which NOTIFY of a refer subscription (RFC 3515 §2.4.4–2.4.7).
#[derive(Debug, Clone, Copy)]
enum Notice {
    /// The first, right after the 202 (the transfer state does not exist yet).
    First,
    /// The first and last: the new INVITE could not even be sent.
    FirstFinal,
    /// A provisional response of the new call.
    Progress,
    /// Its final response: the subscription ends.
    Final,
}

/// Longest `Referred-By` value accepted (TI-26 asks for at least 400 characters). Its
/// content is not judged: it is Microsoft's to read, and it is copied byte for byte.
const MAX_REFERRED_BY: usize = 2048;

impl Engine {
    /// A REFER on an established leg.
    pub(crate) fn on_refer(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        x: Side,
        inc: Incoming,
    ) {
        let Some(call) = self.calls.get(key) else {
            return;
        };
        let Some(leg) = call.leg(x) else {
            return self.reject(now, ep, inc, 481, "no such dialog", &[]);
        };
        let policy = leg.policy;
        if self.sh.policies[policy].refer != ReferMode::Terminate {
            let allow = self.sh.policies[policy].allow.clone();
            return self.reject(
                now,
                ep,
                inc,
                501,
                "REFER not served on this leg",
                &[(b"Allow", allow.as_bytes())],
            );
        }
        if call.transfer.is_some() || call.oa_busy() || call.leg(x.other()).is_none() {
            return self.reject(now, ep, inc, 491, "transfer or offer pending", &[]);
        }
        let req = inc.message();
        let Some(Ok(refer_to)) = req.typed::<ReferToHdr<'_>>() else {
            return self.reject(now, ep, inc, 400, "bad Refer-To", &[]);
        };
        if req.values(HeaderName::ReferTo).nth(1).is_some() {
            return self.reject(now, ep, inc, 400, "several Refer-To", &[]);
        }
        let target = refer_to.uri_without_headers();
        if !(target.starts_with(b"sip:") || target.starts_with(b"sips:")) {
            return self.reject(now, ep, inc, 416, "Refer-To scheme not served", &[]);
        }
        let target = Bytes::copy_from_slice(target);
        let referred_by = match req.get(HeaderName::ReferredBy) {
            Some(v) if v.len() > MAX_REFERRED_BY => {
                return self.reject(now, ep, inc, 400, "Referred-By too long", &[])
            }
            Some(v) => Some(sub_bytes(req, v)),
            None => None,
        };
        // RFC 3515 §2.4.2: the REFER is accepted, the result comes by NOTIFY.
        let pol = policy;
        if self.answer(now, ep, inc, 202, pol).is_none() {
            return;
        }
        self.notify(now, ep, key, x, b"SIP/2.0 100 Trying", Notice::First);
        if !self.send_transfer_invite(now, ep, key, x, target, referred_by) {
            self.notify(
                now,
                ep,
                key,
                x,
                b"SIP/2.0 503 Service Unavailable",
                Notice::FirstFinal,
            );
        }
    }

    /// Builds and sends the INVITE of a transfer (see the module documentation).
    fn send_transfer_invite(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        x: Side,
        target: Bytes,
        referred_by: Option<Bytes>,
    ) -> bool {
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return false;
        };
        let Some(leg) = call.leg(x) else {
            return false;
        };
        let policy = leg.policy;
        let peer = leg.dlg.peer;
        let from_uri = leg.dlg.local_uri.clone();
        let body = leg.last_body.clone();
        let call_id = Bytes::from(sh.ids.call_id());
        let tag = Bytes::from(sh.ids.tag());
        let branch = sh.ids.branch();
        let mut to = Vec::with_capacity(target.len() + 2);
        to.push(b'<');
        to.extend_from_slice(&target);
        to.push(b'>');
        let to_uri = Bytes::from(to);
        let (allow, sup) = sh.caps(policy, false);
        let p = &sh.policies[policy];
        let mut out = Vec::with_capacity(1024);
        let mut w = MessageWriter::request(&mut out, b"INVITE", &target);
        wire::via(&mut w, peer.transport, &p.sent_by, &branch);
        w.header_u64(b"Max-Forwards", 70);
        w.header_parts(b"From", &[&from_uri, b";tag=", &tag]);
        w.header(b"To", &to_uri);
        w.header(b"Call-ID", &call_id);
        wire::cseq(&mut w, 1, b"INVITE");
        w.header_parts(b"Contact", &[b"<", p.contact.as_bytes(), b">"]);
        w.header(b"Allow", allow.as_bytes());
        if !sup.is_empty() {
            w.header(b"Supported", sup.as_bytes());
        }
        w.header(b"User-Agent", sh.cfg.product.as_bytes());
        sh.add_policy_headers(&mut w, policy);
        if let Some(rb) = &referred_by {
            // Byte for byte (TI-26).
            w.header(b"Referred-By", rb);
        }
        match &body {
            Some((ct, b)) => w.finish((!ct.is_empty()).then_some(&ct[..]), b),
            None => w.finish(None, b""),
        }
        let Ok(msg) = Message::parse(Bytes::from(out)) else {
            return false;
        };
        let Ok(txn) = ep.send_request(now, msg, peer) else {
            return false;
        };
        sh.track(txn, key, Role::Transfer);
        call.transfer = Some(Box::new(Transfer {
            side: x,
            txn,
            call_id,
            tag,
            from_uri,
            to_uri,
            request_uri: target,
            peer,
            policy,
            body,
            old: None,
            transferor_gone: false,
        }));
        true
    }

    /// A NOTIFY with a sipfrag status line on the transferor's dialog (RFC 3515 §2.4.5):
    /// before the new dialog took its place that is the leg in slot `x`, afterwards the kept
    /// old dialog. Nothing when the transferor has gone.
    fn notify(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        x: Side,
        frag: &[u8],
        n: Notice,
    ) {
        let (last, first) = match n {
            Notice::First => (false, true),
            Notice::FirstFinal => (true, true),
            Notice::Progress => (false, false),
            Notice::Final => (true, false),
        };
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return;
        };
        // Before the transfer exists (the 100 Trying right after the 202) the transferor's
        // dialog is in its slot; once the transfer is over or the transferor left, there is
        // nobody to tell.
        let swapped = call.transfer.as_ref().is_some_and(|t| t.old.is_some());
        let gone = call.transfer.as_ref().is_none_or(|t| t.transferor_gone);
        if gone && !first {
            return;
        }
        let leg = if swapped {
            call.transfer.as_mut().and_then(|t| t.old.as_mut())
        } else {
            call.leg_mut(x)
        };
        let Some(leg) = leg else {
            return;
        };
        leg.dlg.local_cseq += 1;
        let cseq = leg.dlg.local_cseq;
        let mut out = Vec::with_capacity(768);
        let (mut w, peer) = sh.start_request(&mut out, &leg.dlg, leg.policy, b"NOTIFY", cseq, 70);
        w.header(b"Event", b"refer");
        let state: &[u8] = if last {
            b"terminated;reason=noresource"
        } else {
            b"active;expires=60"
        };
        w.header(b"Subscription-State", state);
        let mut body = frag.to_vec();
        body.extend_from_slice(b"\r\n");
        w.finish(Some(b"message/sipfrag;version=2.0"), &body);
        // Untracked: its response needs nothing from us.
        let _ = ep.send_request_bytes(now, out, peer);
    }

    /// A response to the transfer INVITE.
    pub(crate) fn on_transfer_response(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        txn: TxnId,
        msg: Message,
    ) {
        let status = msg.status().unwrap_or(500);
        let Some(call) = self.calls.get(key) else {
            return;
        };
        let pending = call
            .transfer
            .as_ref()
            .filter(|t| t.txn == txn && t.old.is_none())
            .map(|t| t.side);
        let Some(x) = pending else {
            // Done already: a 2xx retransmission (or a second fork) of the new call. The
            // new dialog sits in the slot of the side that referred.
            if is_invite_2xx(&msg) && !crate::indialog::reack_in_call(call, &msg, ep) {
                let peer = ep.peer(txn);
                self.orphan_2xx(now, ep, &msg, peer);
            }
            return;
        };
        let line = status_line(&msg);
        if status < 200 {
            if status > 100 {
                self.notify(now, ep, key, x, &line, Notice::Progress);
            }
            return;
        }
        if status >= 300 {
            self.notify(now, ep, key, x, &line, Notice::Final);
            return self.transfer_failed(now, ep, key);
        }
        self.transfer_answered(now, ep, key, msg);
        self.notify(now, ep, key, x, &line, Notice::Final);
    }

    /// The transfer INVITE timed out or could not be sent.
    pub(crate) fn on_transfer_failure(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        status: u16,
    ) {
        let Some(x) = self
            .calls
            .get(key)
            .and_then(|c| c.transfer.as_ref())
            .filter(|t| t.old.is_none())
            .map(|t| t.side)
        else {
            return;
        };
        let line = format!("SIP/2.0 {status} {}", reason_text(status));
        self.notify(now, ep, key, x, line.as_bytes(), Notice::Final);
        self.transfer_failed(now, ep, key);
    }

    /// The new call failed: the transfer is over; the call goes on with the transferor if
    /// its dialog is still up, else the remaining party is released.
    fn transfer_failed(&mut self, now: Instant, ep: &mut Endpoint, key: CallKey) {
        let Some(call) = self.calls.get_mut(key) else {
            return;
        };
        let Some(t) = call.transfer.take() else {
            return;
        };
        if t.transferor_gone {
            let y = t.side.other();
            self.hangup(
                now,
                ep,
                key,
                [y == Side::A, y == Side::B],
                None,
                (EndedBy::Sbc, EndReason::TransferFailed),
            );
        }
    }

    /// The new call answered: ACK it, put its dialog in the transferor's place, re-offer
    /// its SDP to the remaining party.
    fn transfer_answered(&mut self, now: Instant, ep: &mut Endpoint, key: CallKey, msg: Message) {
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return;
        };
        let Some(t) = call.transfer.as_mut() else {
            return;
        };
        let x = t.side;
        let remote_tag = msg.to_tag().map(|g| sub_bytes(&msg, g)).unwrap_or_default();
        let mut rs = wire::record_route(&msg);
        rs.reverse();
        let mut z = Leg {
            dlg: Dialog {
                call_id: t.call_id.clone(),
                local_tag: t.tag.clone(),
                remote_tag: remote_tag.clone(),
                local_uri: t.from_uri.clone(),
                remote_uri: t.to_uri.clone(),
                local_cseq: 1,
                remote_cseq: 0,
                remote_target: wire::contact_uri(&msg).unwrap_or_else(|| t.request_uri.clone()),
                route_set: rs,
                peer: t.peer,
            },
            policy: t.policy,
            uas_2xx: None,
            last_ack: None,
            ack_owed: None,
            session: None,
            last_body: t.body.clone(),
            allows_update: wire::allows(&msg, "UPDATE"),
        };
        let (ack, peer) = sh.build_ack(&mut z, 1, None, key);
        ep.send_stateless(peer, ack);
        // The index: requests and responses of the new dialog find side `x` of this call
        // (A-side entries carry the peer's tag, B-side ones ours).
        let tag = match x {
            Side::A => remote_tag,
            Side::B => t.tag.clone(),
        };
        sh.index_add(t.call_id.clone(), tag, x, key);
        call.more_call_ids.push(t.call_id.clone());
        // The transferor's timers belong to its dialog, which leaves the call.
        Shared::disarm(call, TimerKind::retx(x));
        Shared::disarm(call, TimerKind::session(x));
        let old = match x {
            Side::A => call.a.leg.replace(z),
            Side::B => call.b.leg.replace(z),
        };
        let Some(t) = call.transfer.as_mut() else {
            return;
        };
        match old {
            Some(o) => t.old = Some(o),
            // The transferor left before the answer: nothing more to tell it.
            None => {
                call.transfer = None;
            }
        }
        // Re-bridge: the remaining party gets the new party's SDP as an offer.
        let y = x.other();
        let ct = msg
            .get(HeaderName::ContentType)
            .map(|v| sub_bytes(&msg, v))
            .unwrap_or_default();
        let body = msg.body_bytes();
        if body.is_empty() {
            return;
        }
        let Some(leg) = call.leg_mut(y) else {
            return;
        };
        if leg
            .last_body
            .as_ref()
            .is_some_and(|(_, b)| b[..] == body[..])
        {
            return;
        }
        leg.last_body = Some((ct, body));
        leg.dlg.local_cseq += 1;
        let cseq = leg.dlg.local_cseq;
        let (allow, sup) = sh.caps(leg.policy, false);
        let mut out = Vec::with_capacity(1024);
        let (mut w, hop) = sh.start_request(&mut out, &leg.dlg, leg.policy, b"INVITE", cseq, 70);
        w.header(b"Allow", allow.as_bytes());
        if !sup.is_empty() {
            w.header(b"Supported", sup.as_bytes());
        }
        if let Some(s) = &leg.session {
            w.header(b"Session-Expires", &Shared::session_header(s, true));
        }
        match &leg.last_body {
            Some((ct, b)) => w.finish((!ct.is_empty()).then_some(&ct[..]), b),
            None => w.finish(None, b""),
        }
        // Answered like our session refresh: 2xx ACKed, 491 retried by the session path,
        // other failures end the call.
        if let Ok(client) = ep.send_request_bytes(now, out, hop) {
            sh.track(client, key, Role::Refresh(y));
            call.oa = Some(Oa {
                origin: None,
                target: y,
                client,
            });
        }
    }

    /// A request on the transferor's dialog after the new one took its place: its BYE ends
    /// only that dialog; anything else gets 481 (it is no longer part of the call).
    /// Returns the request when it does not belong to that dialog.
    pub(crate) fn on_old_dialog(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        inc: Incoming,
    ) -> Option<Incoming> {
        let call = self.calls.get_mut(key)?;
        let Some(old) = call.transfer.as_ref().and_then(|t| t.old.as_ref()) else {
            return Some(inc);
        };
        let m = inc.message();
        let ours =
            m.call_id() == Some(&old.dlg.call_id[..]) && m.to_tag() == Some(&old.dlg.local_tag[..]);
        if !ours {
            return Some(inc);
        }
        let policy = old.policy;
        if inc.method() != sbc_sip::Method::Bye {
            self.reject(now, ep, inc, 481, "transferred dialog", &[]);
            return None;
        }
        self.answer(now, ep, inc, 200, policy);
        self.drop_old_dialog(key);
        None
    }

    /// Forgets the transferor's dialog (its index entries go; the new dialog's stay).
    fn drop_old_dialog(&mut self, key: CallKey) {
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return;
        };
        let Some(t) = call.transfer.take() else {
            return;
        };
        if let Some(old) = t.old {
            sh.index_remove(&old.dlg.call_id, key);
        }
    }

    /// A BYE from the transferor while its transfer is under way (before the new call
    /// answered): ends only its dialog. Returns the request when no transfer is pending.
    pub(crate) fn on_transferor_bye(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        side: Side,
        inc: Incoming,
    ) -> Option<Incoming> {
        let Some(call) = self.calls.get(key) else {
            return Some(inc);
        };
        let pending = call
            .transfer
            .as_ref()
            .is_some_and(|t| t.side == side && t.old.is_none());
        if !pending {
            return Some(inc);
        }
        let policy = call.leg(side).map_or(0, |l| l.policy);
        self.answer(now, ep, inc, 200, policy);
        let Engine { calls, sh } = self;
        let call = calls.get_mut(key)?;
        Shared::disarm(call, TimerKind::retx(side));
        Shared::disarm(call, TimerKind::session(side));
        let leg = match side {
            Side::A => call.a.leg.take(),
            Side::B => call.b.leg.take(),
        };
        if let Some(l) = leg {
            sh.index_remove(&l.dlg.call_id, key);
        }
        if let Some(t) = call.transfer.as_mut() {
            t.transferor_gone = true;
        }
        None
    }

    /// At the end of a call: cancel a transfer INVITE still pending and BYE a transferor
    /// dialog still kept.
    pub(crate) fn end_transfer(&mut self, now: Instant, ep: &mut Endpoint, key: CallKey) {
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return;
        };
        let Some(mut t) = call.transfer.take() else {
            return;
        };
        match t.old.as_mut() {
            None => {
                let _ = ep.cancel_with(now, t.txn, &sh.policy_pairs(t.policy));
            }
            Some(old) => {
                old.dlg.local_cseq += 1;
                let cseq = old.dlg.local_cseq;
                let mut out = Vec::with_capacity(512);
                let (w, peer) = sh.start_request(&mut out, &old.dlg, old.policy, b"BYE", cseq, 70);
                w.finish(None, b"");
                let _ = ep.send_request_bytes(now, out, peer);
                sh.index_remove(&old.dlg.call_id, key);
            }
        }
    }
}

/// `SIP/2.0 <code> <reason>` of a response, for a sipfrag body.
fn status_line(msg: &Message) -> Vec<u8> {
    let mut v = b"SIP/2.0 ".to_vec();
    let code = msg.status().unwrap_or(500);
    v.extend_from_slice(code.to_string().as_bytes());
    v.push(b' ');
    match msg.reason() {
        Some(r) if !r.is_empty() => v.extend_from_slice(r),
        _ => v.extend_from_slice(reason_text(code).as_bytes()),
    }
    v
}

fn reason_text(code: u16) -> &'static str {
    build::reason_phrase(code)
}
