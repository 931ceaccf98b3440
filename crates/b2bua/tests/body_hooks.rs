//! The body policy's hooks used by media anchoring (issue 7, TI-29/TI-32..TI-37): refusing
//! an offer (`BodyAction::Reject`), the roll-back notification (`exchange_failed`) and the
//! trunk names in `BodyContext`.

mod common;

use common::*;
use sbc_b2bua::{
    BodyAction, BodyContext, BodyPolicy, BodyRole, CallKey, RouteDecision, Router, Side,
    StaticRouter,
};
use sbc_sip::{Message, Method};
use sbc_testkit::{response, Sim, UaDialog};
use sbc_txn::{Peer, Transport};
use std::sync::{Arc, Mutex};

fn parse(s: &str) -> Message {
    Message::parse(bytes::Bytes::from(s.to_string())).unwrap()
}

/// One body seen: from, role, A trunk, B trunk.
type Seen = (Side, BodyRole, Option<String>, Option<String>);

/// What the policy saw, and what it answers: refuses offers whose body contains
/// `refuse_marker` with `status`, and marks every other body it rewrites.
#[derive(Debug, Default)]
struct Recorder {
    seen: Mutex<Vec<Seen>>,
    failed: Mutex<Vec<Side>>,
    ended: Mutex<Vec<CallKey>>,
    refuse: Option<(&'static str, u16)>,
    /// Refuse answers containing this.
    refuse_answer: Option<&'static str>,
}

impl BodyPolicy for Recorder {
    fn rewrite(&self, ctx: &BodyContext<'_>) -> BodyAction {
        self.seen.lock().unwrap().push((
            ctx.from,
            ctx.role,
            ctx.trunk_a.map(str::to_owned),
            ctx.trunk_b.map(str::to_owned),
        ));
        let text = String::from_utf8_lossy(ctx.body);
        if let Some((marker, status)) = self.refuse {
            if ctx.role == BodyRole::Offer && text.contains(marker) {
                return BodyAction::Reject { status };
            }
        }
        if let Some(marker) = self.refuse_answer {
            if ctx.role == BodyRole::Answer && text.contains(marker) {
                return BodyAction::Reject { status: 488 };
            }
        }
        BodyAction::Replace {
            content_type: b"application/sdp".to_vec(),
            body: text.replace("127.0.0.1", "192.0.2.99").into_bytes(),
        }
    }

    fn call_ended(&self, call: CallKey) {
        self.ended.lock().unwrap().push(call);
    }

    fn exchange_failed(&self, _call: CallKey, from: Side) {
        self.failed.lock().unwrap().push(from);
    }
}

/// The lab router, with every caller arriving on the "teams" trunk.
#[derive(Debug)]
struct FromTeams(StaticRouter);

impl Router for FromTeams {
    fn route(&self, req: &Message, from: Peer) -> RouteDecision {
        self.0.route(req, from)
    }
    fn source_trunk(&self, _req: &Message, _from: Peer) -> Option<String> {
        Some("teams".into())
    }
}

fn world_policy(policy: Arc<Recorder>) -> Sim<SbcNode> {
    let lab = StaticRouter::lab_default(Some(Peer::new(Transport::Udp, addr(GW2))));
    let mut sim = world_with(default_config(), Arc::new(FromTeams(lab)));
    sim.dut.engine.set_body_policy(policy);
    sim
}

#[test]
fn refused_b_leg_offer_fails_the_call_without_a_b_invite() {
    let policy = Arc::new(Recorder {
        refuse: Some(("m=audio 40000", 503)),
        ..Recorder::default()
    });
    let mut sim = world_policy(policy.clone());
    sim.ua(0).send(&invite("bh-1", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(100);
    let r = sim.ua(0).expect_response(503);
    assert!(r.to_tag().is_some());
    // Neither gw1 nor the failover gw2 got an INVITE: the offer is the same for both.
    sim.ua(1).expect_nothing();
    sim.ua(2).expect_nothing();
    // One refusal: the policy was not asked again for the next target.
    let seen = policy.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0],
        (
            Side::A,
            BodyRole::Offer,
            Some("teams".into()),
            Some("gw1".into())
        )
    );
    assert!(policy.failed.lock().unwrap().is_empty());
    assert_eq!(policy.ended.lock().unwrap().len(), 1);
    let cdrs = sim.dut.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].status, 503);
    sim.ua(0).send_raw(
        sbc_testkit::request(
            &[
                "ACK sip:+15551234@127.0.0.1:5060;user=phone SIP/2.0",
                "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa-bh-1",
                "Max-Forwards: 70",
                "From: \"Alice\" <sip:+15550001@alice.example.com;user=phone>;tag=a-tag",
                &format!(
                    "To: <sip:+15551234@sbc.example.com;user=phone>;tag={}",
                    String::from_utf8_lossy(r.to_tag().unwrap())
                ),
                "Call-ID: bh-1",
                "CSeq: 10 ACK",
            ],
            "",
        ),
        addr(SBC),
    );
    assert_drained(&mut sim);
}

#[test]
fn refused_reoffer_gets_the_status_and_nothing_is_relayed() {
    let policy = Arc::new(Recorder {
        refuse: Some(("a=sendonly", 488)),
        ..Recorder::default()
    });
    let mut sim = world_policy(policy.clone());
    let (mut a, _b, b_inv) = answered(&mut sim, "bh-2");
    // The answer to A was rewritten (the hook runs on answers with the trunks known).
    let hold = SDP_A.replace("RTP/AVP 0\r\n", "RTP/AVP 0\r\na=sendonly\r\n");
    let reinv = a.request("INVITE", "reinv-bh2", &[], &hold);
    sim.ua(0).send(&reinv, addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(100);
    sim.ua(0).expect_response(488);
    sim.ua(1).expect_nothing();
    // The dialog still works and B's CSeq space has no gap: the next re-offer is CSeq 2.
    let reinv = a.request("INVITE", "reinv-bh2b", &[], SDP_A);
    sim.ua(0).send(&reinv, addr(SBC));
    sim.run_for(ms(10));
    let (t, r) = sim.ua(1).expect_request(Method::Invite);
    assert_eq!(r.cseq().unwrap().seq, 2);
    assert_eq!(r.call_id(), b_inv.call_id());
    assert!(String::from_utf8_lossy(r.body()).contains("192.0.2.99"));
    // B refuses it (491): the policy is told so it can roll back.
    sim.ua(1).respond(t, response(&r, 491, None, &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(100);
    sim.ua(0).expect_response(491);
    assert_eq!(*policy.failed.lock().unwrap(), [Side::A]);
    let seen = policy.seen.lock().unwrap().clone();
    assert!(seen
        .iter()
        .all(|s| s.2.as_deref() == Some("teams") && s.3.as_deref() == Some("gw1")));
    assert!(seen.contains(&(
        Side::B,
        BodyRole::Answer,
        Some("teams".into()),
        Some("gw1".into())
    )));
}

#[test]
fn failed_b_attempt_is_reported_before_the_next_offer() {
    let policy = Arc::new(Recorder::default());
    let mut sim = world_policy(policy.clone());
    sim.ua(0).send(&invite("bh-3", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    let (t, b_inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1)
        .respond(t, response(&b_inv, 503, Some("x"), &[], ""));
    sim.run_for(ms(10));
    // Failover to gw2 with a fresh offer, after the roll-back notice for the first one.
    let (_, b2) = sim.ua(2).expect_request(Method::Invite);
    assert!(String::from_utf8_lossy(b2.body()).contains("192.0.2.99"));
    assert_eq!(*policy.failed.lock().unwrap(), [Side::A]);
    let seen = policy.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].3.as_deref(), Some("gw2"));
}

#[test]
fn refused_2xx_answer_acks_and_byes_b_and_fails_a_with_488() {
    let policy = Arc::new(Recorder {
        refuse_answer: Some("o=gw"),
        ..Recorder::default()
    });
    let mut sim = world_policy(policy.clone());
    sim.ua(0).send(&invite("bh-4", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    let (t, b_inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1).respond(
        t,
        response(
            &b_inv,
            200,
            Some("g4"),
            &["Contact: <sip:gw@127.0.0.1:5080>"],
            SDP_B,
        ),
    );
    sim.run_for(ms(10));
    // B's 2xx is ACKed, then its dialog ended.
    let ack = sim.ua(1).expect_ack();
    assert_eq!(ack.cseq().unwrap().seq, 1);
    let (t, bye) = sim.ua(1).expect_request(Method::Bye);
    assert_eq!(bye.call_id(), b_inv.call_id());
    sim.ua(1).respond(t, response(&bye, 200, None, &[], ""));
    sim.ua(0).expect_response(100);
    let r = sim.ua(0).expect_response(488);
    assert!(r.body().is_empty(), "nothing of B's answer reaches A");
    // The caller was never told of an answered call; no failover after a 2xx.
    sim.ua(2).expect_nothing();
    let cdrs = sim.dut.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].status, 488);
    assert_eq!(policy.ended.lock().unwrap().len(), 1);
}

/// A confirmed call; returns Alice's and gw1's dialogs and gw1's INVITE.
fn answered(sim: &mut Sim<SbcNode>, call_id: &str) -> (UaDialog, UaDialog, Message) {
    let inv = invite(call_id, &[], SDP_A);
    sim.ua(0).send(&inv, addr(SBC));
    sim.run_for(ms(10));
    let (t, b_inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1).respond(
        t,
        response(
            &b_inv,
            200,
            Some("g1"),
            &["Contact: <sip:gw@127.0.0.1:5080>"],
            SDP_B,
        ),
    );
    sim.run_for(ms(10));
    sim.ua(1).expect_ack();
    sim.ua(0).expect_response(100);
    let ok = sim.ua(0).expect_response(200);
    let mut a = UaDialog::uac(&parse(&inv), &ok, ALICE);
    let ack = a.request("ACK", &format!("ack-{call_id}"), &[], "");
    sim.ua(0).send_raw(ack, addr(SBC));
    sim.run_for(ms(10));
    let mut b = UaDialog::uas(&b_inv, "g1", GW1);
    b.target = format!("sip:{SBC}");
    (a, b, b_inv)
}
