//! INVITE with Replaces (RFC 3891; TI-27): Microsoft replaces its dialog of a call (after a
//! consultative transfer or a call park pickup) with a new one.
//!
//! The new INVITE names an established leg of a call (`Replaces: call-id;to-tag;from-tag`).
//! The SBC answers it itself: its SDP offer goes to the remaining party `Y` as a re-INVITE;
//! `Y`'s answer goes back in our 200 to the new INVITE. The new dialog then takes the replaced
//! leg's slot (with our 2xx retransmitted until its ACK) and the replaced dialog gets a BYE.
//! A failure of `Y` is answered with the same status and nothing is retried (TI-27). A
//! Replaces naming no established dialog of ours gets 481 (RFC 3891 §3), one naming a call with
//! an exchange under way 491, one without SDP 488 (the remaining party needs an offer).

use bytes::Bytes;
use sbc_sip::build;
use sbc_sip::hdr::Replaces;
use sbc_sip::{HeaderName, Message};
use sbc_txn::{Endpoint, Incoming, Instant, TxnId};

use crate::call::{Leg, Oa, Pending2xx, TimerKind};
use crate::engine::{sub_bytes, Engine, Role, Shared};
use crate::event::{CallKey, Side};
use crate::wire::{self, Dialog};

/// A Replaces INVITE waiting for the remaining party's answer.
#[derive(Debug, Clone)]
pub(crate) struct Replacing {
    /// The side being replaced.
    pub(crate) side: Side,
    /// The new INVITE (server transaction) and the request itself.
    pub(crate) server: TxnId,
    pub(crate) request: Message,
    /// Our re-INVITE to the remaining party.
    pub(crate) client: TxnId,
    pub(crate) client_cseq: u32,
    /// Our tag in the new dialog.
    pub(crate) tag: Bytes,
    pub(crate) peer: sbc_txn::Peer,
}

impl Engine {
    /// An out-of-dialog INVITE carrying Replaces. Returns the request when it has none.
    pub(crate) fn on_replaces(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        inc: Incoming,
    ) -> Option<Incoming> {
        if inc.message().get(HeaderName::Replaces).is_none() {
            return Some(inc);
        }
        let msg = inc.message();
        let rep = match msg.typed::<Replaces<'_>>()? {
            Ok(r) => r,
            Err(_) => {
                self.reject(now, ep, inc, 400, "bad Replaces", &[]);
                return None;
            }
        };
        // The dialog: one of our established legs whose Call-ID and two tags match (the tags
        // in either order: the header names them from the sender's side).
        let found = self
            .sh
            .dialogs_of(rep.call_id())
            .into_iter()
            .find(|&(key, side)| {
                self.calls
                    .get(key)
                    .and_then(|c| c.leg(side))
                    .is_some_and(|l| {
                        let (lt, rt) = (&l.dlg.local_tag[..], &l.dlg.remote_tag[..]);
                        (rep.to_tag() == lt && rep.from_tag() == rt)
                            || (rep.to_tag() == rt && rep.from_tag() == lt)
                    })
            });
        let Some((key, x)) = found else {
            self.reject(now, ep, inc, 481, "Replaces names no dialog", &[]);
            return None;
        };
        let call = self.calls.get(key)?;
        if call.oa_busy() || call.transfer.is_some() || call.replacing.is_some() {
            self.reject(now, ep, inc, 491, "exchange under way", &[]);
            return None;
        }
        if msg.body().is_empty() {
            self.reject(now, ep, inc, 488, "Replaces without an offer", &[]);
            return None;
        }
        let y = x.other();
        if call.leg(y).is_none() {
            self.reject(now, ep, inc, 481, "other leg gone", &[]);
            return None;
        }
        let x_policy = call.leg(x).map_or(0, |l| l.policy);
        let request = msg.clone();
        let peer = inc.from();
        let Ok(server) = ep.accept_with(now, inc, &self.sh.policy_pairs(x_policy)) else {
            return None;
        };
        self.sh.accepted.set(Some(server));
        self.sh.set_current(key);
        // The offer to the remaining party, as a re-INVITE of its dialog.
        let Engine { calls, sh } = self;
        let call = calls.get_mut(key)?;
        let leg = call.leg_mut(y)?;
        leg.dlg.local_cseq += 1;
        let cseq = leg.dlg.local_cseq;
        let (allow, sup) = sh.caps(leg.policy, false);
        let mut out = Vec::with_capacity(request.as_bytes().len() + 512);
        let (mut w, hop) = sh.start_request(&mut out, &leg.dlg, leg.policy, b"INVITE", cseq, 70);
        w.header(b"Allow", allow.as_bytes());
        if !sup.is_empty() {
            w.header(b"Supported", sup.as_bytes());
        }
        let body = sh.finish_body(w, key, x, crate::BodyRole::Offer, Some(&request));
        let Ok(client) = ep.send_request_bytes(now, out, hop) else {
            let mut o = Vec::with_capacity(512);
            let mut w = build::response(&request, 500, None, None, &mut o);
            sh.server_headers(&mut w, x_policy);
            w.finish(None, b"");
            let _ = ep.respond_bytes(now, server, o);
            return None;
        };
        if let Some(l) = call.leg_mut(y) {
            l.last_body = body;
        }
        sh.track(client, key, Role::Replace);
        call.oa = Some(Oa {
            origin: Some(x),
            target: y,
            client,
        });
        let tag = Bytes::from(sh.ids.tag());
        call.replacing = Some(Box::new(Replacing {
            side: x,
            server,
            request,
            client,
            client_cseq: cseq,
            tag,
            peer,
        }));
        None
    }

    /// The remaining party answered our re-INVITE of a replacement.
    pub(crate) fn on_replace_response(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        txn: TxnId,
        msg: Message,
    ) {
        let status = msg.status().unwrap_or(500);
        if status < 200 {
            return;
        }
        let t1 = ep.config().t1;
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return;
        };
        let Some(r) = call.replacing.take().filter(|r| r.client == txn) else {
            // A retransmitted 2xx after the swap: ACK it again.
            if crate::engine::is_invite_2xx(&msg) {
                crate::indialog::reack_in_call(call, &msg, ep);
            }
            return;
        };
        call.oa = None;
        let (x, y) = (r.side, r.side.other());
        let x_policy = call.leg(x).map_or(0, |l| l.policy);
        if status >= 300 {
            // TI-27: the replacement failed; say so and keep the call as it was.
            let mut out = Vec::with_capacity(512);
            let mut w = build::response(&r.request, status, msg.reason(), Some(&r.tag), &mut out);
            sh.server_headers(&mut w, x_policy);
            w.finish(None, b"");
            let _ = ep.respond_bytes(now, r.server, out);
            return;
        }
        // ACK the remaining party (its answer is in this 2xx).
        if let Some(l) = call.leg_mut(y) {
            if let Some(c) = wire::contact_uri(&msg) {
                l.dlg.remote_target = c;
            }
            let (ack, hop) = sh.build_ack(l, r.client_cseq, None, key);
            ep.send_stateless(hop, ack);
        }
        // Our 200 to the new INVITE, with the remaining party's answer.
        let (allow, sup) = sh.caps(x_policy, false);
        let mut out = Vec::with_capacity(msg.as_bytes().len() + 512);
        let mut w = build::response(&r.request, 200, None, Some(&r.tag), &mut out);
        let p = &sh.policies[x_policy];
        w.header_parts(b"Contact", &[b"<", p.contact.as_bytes(), b">"]);
        w.header(b"Allow", allow.as_bytes());
        if !sup.is_empty() {
            w.header(b"Supported", sup.as_bytes());
        }
        sh.server_headers(&mut w, x_policy);
        let sent = sh.finish_body(w, key, y, crate::BodyRole::Answer, Some(&msg));
        let resp = match Message::parse(Bytes::from(out)) {
            Ok(m) => m,
            Err(_) => return,
        };
        let _ = ep.respond(now, r.server, resp.clone());
        // The new dialog (we are its UAS) takes the replaced leg's slot.
        let req = &r.request;
        let z = Leg {
            dlg: Dialog {
                call_id: sub_bytes(req, req.call_id().unwrap_or_default()),
                local_tag: r.tag.clone(),
                remote_tag: sub_bytes(req, req.from_tag().unwrap_or_default()),
                local_uri: Bytes::from(wire::strip_tag(req.to_raw().unwrap_or_default())),
                remote_uri: Bytes::from(wire::strip_tag(req.from_raw().unwrap_or_default())),
                local_cseq: 1,
                remote_cseq: req.cseq().map_or(0, |c| c.seq),
                remote_target: wire::contact_uri(req).unwrap_or_default(),
                route_set: wire::record_route(req),
                peer: r.peer,
            },
            policy: x_policy,
            uas_2xx: Some(Pending2xx {
                txn: r.server,
                msg: resp,
                cseq: req.cseq().map_or(0, |c| c.seq),
                interval: t1,
                give_up: now + t1 * 64,
                peer: r.peer,
            }),
            last_ack: None,
            ack_owed: None,
            session: None,
            last_body: sent,
            allows_update: wire::allows(req, "UPDATE"),
        };
        let z_tag = match x {
            // A-side entries carry the peer's tag, B-side ones ours.
            Side::A => z.dlg.remote_tag.clone(),
            Side::B => z.dlg.local_tag.clone(),
        };
        let z_cid = z.dlg.call_id.clone();
        Shared::disarm(call, TimerKind::retx(x));
        Shared::disarm(call, TimerKind::session(x));
        let old = match x {
            Side::A => call.a.leg.replace(z),
            Side::B => call.b.leg.replace(z),
        };
        sh.index_add(z_cid.clone(), z_tag, x, key);
        call.more_call_ids.push(z_cid);
        sh.arm(key, call, TimerKind::retx(x), now + t1);
        // RFC 3891 §3: the replaced dialog ends with a BYE.
        if let Some(mut o) = old {
            sh.index_remove(&o.dlg.call_id, key);
            o.dlg.local_cseq += 1;
            let cseq = o.dlg.local_cseq;
            let mut out = Vec::with_capacity(512);
            let (w, hop) = sh.start_request(&mut out, &o.dlg, o.policy, b"BYE", cseq, 70);
            w.finish(None, b"");
            let _ = ep.send_request_bytes(now, out, hop);
        }
    }
}

impl Engine {
    /// Our re-INVITE of a replacement timed out or could not be sent: the new INVITE gets
    /// that failure (TI-27: no retry).
    pub(crate) fn on_replace_failure(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: CallKey,
        txn: TxnId,
        status: u16,
    ) {
        let Engine { calls, sh } = self;
        let Some(call) = calls.get_mut(key) else {
            return;
        };
        let Some(r) = call.replacing.take().filter(|r| r.client == txn) else {
            return;
        };
        call.oa = None;
        let pol = call.leg(r.side).map_or(0, |l| l.policy);
        let mut out = Vec::with_capacity(512);
        let mut w = build::response(&r.request, status, None, Some(&r.tag), &mut out);
        sh.server_headers(&mut w, pol);
        w.finish(None, b"");
        let _ = ep.respond_bytes(now, r.server, out);
    }
}
