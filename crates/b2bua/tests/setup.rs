//! Call setup outcomes: failure relay with Reason, serial failover (only on 408/503/504,
//! Timer B, before any 18x), 503 Retry-After marking, CANCEL in every position, no-answer,
//! redirects (TI-31).

mod common;

use common::*;
use sbc_b2bua::{EndReason, EndedBy, EngineEvent};
use sbc_sip::{HeaderName, Method};
use sbc_testkit::{header, response, Rx};
use std::time::Duration;

fn start(sim: &mut sbc_testkit::Sim<SbcNode>, call_id: &str) -> sbc_txn::TxnId {
    let t = sim.ua(0).send(&invite(call_id, &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(100);
    t
}

#[test]
fn failure_relayed_with_reason_and_no_failover_on_486() {
    let mut sim = world(default_config());
    start(&mut sim, "f-1");
    let (t, inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1).respond(
        t,
        response(
            &inv,
            486,
            Some("g1"),
            &[
                "Reason: Q.850;cause=17;text=\"User busy\"",
                "Warning: 399 gw \"internal detail\"",
            ],
            "",
        ),
    );
    sim.run_for(ms(10));
    let busy = sim.ua(0).expect_response(486);
    assert_eq!(
        header(&busy, HeaderName::Reason).unwrap(),
        "Q.850;cause=17;text=\"User busy\""
    );
    assert!(
        busy.get(HeaderName::Warning).is_none(),
        "not on the copy list"
    );
    assert_eq!(busy.reason().unwrap(), b"Busy Here");
    sim.ua(2).expect_nothing();
    let c = &sim.dut.cdrs()[0];
    assert_eq!(
        (c.status, c.q850, c.ended_by, c.reason),
        (486, Some(17), EndedBy::Callee, EndReason::Rejected)
    );
    assert_drained(&mut sim);
}

#[test]
fn no_failover_on_404_or_603() {
    for status in [404u16, 603, 500] {
        let mut sim = world(default_config());
        start(&mut sim, "f-2");
        let (t, inv) = sim.ua(1).expect_request(Method::Invite);
        sim.ua(1)
            .respond(t, response(&inv, status, Some("g1"), &[], ""));
        sim.run_for(ms(10));
        sim.ua(0).expect_response(status);
        sim.ua(2).expect_nothing();
        assert_drained(&mut sim);
    }
}

#[test]
fn failover_on_503_marks_target_unavailable_for_retry_after() {
    let mut sim = world(default_config());
    start(&mut sim, "f-3");
    let (t, inv1) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1).respond(
        t,
        response(&inv1, 503, Some("g1"), &["Retry-After: 30"], ""),
    );
    sim.run_for(ms(10));
    // The next gateway gets a fresh INVITE: new Call-ID and tag, same body.
    let (t2, inv2) = sim.ua(2).expect_request(Method::Invite);
    assert_ne!(inv1.call_id(), inv2.call_id());
    assert_ne!(inv1.from_tag(), inv2.from_tag());
    assert_eq!(inv2.body(), SDP_A.as_bytes());
    assert_eq!(
        inv2.request_uri_raw().unwrap(),
        b"sip:+15551234@127.0.0.1:5090;user=phone"
    );
    sim.ua(0).expect_nothing();
    let gw1 = sbc_txn::Peer::new(sbc_txn::Transport::Udp, addr(GW1));
    assert!(sim.dut.events.iter().any(|e| matches!(e,
        EngineEvent::TargetUnavailable { peer, until } if *peer == gw1 && *until == sbc_txn::Instant::from_millis(30_011))));
    assert!(!sim.dut.engine.is_available(gw1, sim.now()));
    sim.ua(2)
        .respond(t2, response(&inv2, 486, Some("g2"), &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(486);
    assert_eq!(sim.dut.cdrs()[0].attempts, 2);
    assert_eq!(sim.dut.cdrs()[0].trunk_out.as_deref(), Some("gw2"));

    // Within 30 s new calls skip gw1.
    start(&mut sim, "f-3b");
    sim.ua(1).expect_nothing();
    let (t, inv) = sim.ua(2).expect_request(Method::Invite);
    sim.ua(2)
        .respond(t, response(&inv, 480, Some("g2"), &[], ""));
    sim.run_for(Duration::from_secs(31));
    sim.ua(0).clear();
    assert!(sim.dut.engine.is_available(gw1, sim.now()));
    // After it, gw1 is tried first again.
    start(&mut sim, "f-3c");
    let (t, inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1)
        .respond(t, response(&inv, 480, Some("g1"), &[], ""));
    sim.run_for(ms(10));
    assert_drained(&mut sim);
}

#[test]
fn all_targets_unavailable_is_503_with_retry_after_and_no_state() {
    let mut sim = world(default_config());
    start(&mut sim, "f-4");
    let (t, inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1)
        .respond(t, response(&inv, 503, Some("g1"), &["Retry-After: 60"], ""));
    sim.run_for(ms(10));
    let (t, inv) = sim.ua(2).expect_request(Method::Invite);
    sim.ua(2)
        .respond(t, response(&inv, 503, Some("g2"), &["Retry-After: 60"], ""));
    sim.run_for(ms(10));
    let r = sim.ua(0).expect_response(503);
    assert!(
        r.get(HeaderName::RetryAfter).is_none(),
        "the gateway's Retry-After is not ours"
    );
    assert_eq!(sim.dut.cdrs()[0].reason, EndReason::NoTarget);
    // Both gateways out: refused before any state, with our own Retry-After.
    sim.ua(0).send(&invite("f-4b", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    let r = sim.ua(0).expect_response(503);
    let ra: u32 = header(&r, HeaderName::RetryAfter).unwrap().parse().unwrap();
    assert!((55..=61).contains(&ra), "{ra}");
    assert_eq!(sim.dut.engine.calls(), 0);
    let Some(EngineEvent::Rejected {
        status: 503,
        why: "every target unavailable",
        attempt: Some(a),
        ..
    }) = sim.dut.events.last()
    else {
        panic!("{:?}", sim.dut.events.last())
    };
    // The refused INVITE still yields what its call record needs.
    assert_eq!(
        (&a.call_id[..], a.cseq, &a.calling[..], &a.called[..]),
        (&b"f-4b"[..], 10, &b"+15550001"[..], &b"+15551234"[..])
    );
    assert_drained(&mut sim);
}

#[test]
fn failover_on_timer_b_and_408_before_any_18x() {
    let mut sim = world(default_config());
    // gw1 is dead: everything to it is lost.
    sim.wire.drop_when(|p| p.to.addr == addr(GW1));
    start(&mut sim, "f-5");
    sim.ua(2).expect_nothing();
    sim.run_for(Duration::from_secs(31));
    sim.ua(2).expect_nothing();
    sim.run_for(Duration::from_secs(2)); // Timer B = 64*T1 = 32 s
    let (t, inv) = sim.ua(2).expect_request(Method::Invite);
    sim.ua(2)
        .respond(t, response(&inv, 408, Some("g2"), &[], ""));
    sim.run_for(ms(10));
    // Out of targets: the last failure goes up.
    sim.ua(0).expect_response(408);
    sim.wire.clear_drops();
    assert_drained(&mut sim);
}

#[test]
fn no_failover_after_18x_went_upstream() {
    let mut sim = world(default_config());
    start(&mut sim, "f-6");
    let (t, inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1)
        .respond(t, response(&inv, 180, Some("g1"), &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(180);
    sim.ua(1)
        .respond(t, response(&inv, 503, Some("g1"), &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(503);
    sim.ua(2).expect_nothing();
    assert_drained(&mut sim);
}

#[test]
fn timer_b_with_no_target_left_is_408() {
    let router = sbc_b2bua::StaticRouter::lab_default(None);
    let mut sim = world_with(default_config(), std::sync::Arc::new(router));
    sim.wire.drop_when(|p| p.to.addr == addr(GW1));
    start(&mut sim, "f-7");
    sim.run_for(Duration::from_secs(33));
    sim.ua(0).expect_response(408);
    let c = &sim.dut.cdrs()[0];
    assert_eq!(
        (c.status, c.ended_by, c.reason),
        (408, EndedBy::Sbc, EndReason::NoTarget)
    );
    sim.wire.clear_drops();
    assert_drained(&mut sim);
}

#[test]
fn cancel_after_ringing() {
    let mut sim = world(default_config());
    let inv_txn = start(&mut sim, "c-1");
    let (t, inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1)
        .respond(t, response(&inv, 180, Some("g1"), &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(180);
    sim.ua(0).cancel(inv_txn);
    sim.run_for(ms(10));
    sim.ua(0).expect_response(200); // to the CANCEL
    sim.ua(0).expect_response(487);
    // The B leg got its own CANCEL (same branch as our INVITE, §9.1) and answered 487.
    let (_, c) = sim.ua(1).expect_request(Method::Cancel);
    assert_eq!(c.branch(), inv.branch());
    assert_eq!(c.call_id(), inv.call_id());
    let cdr = &sim.dut.cdrs()[0];
    assert_eq!(
        (cdr.status, cdr.ended_by, cdr.reason),
        (487, EndedBy::Caller, EndReason::Cancelled)
    );
    assert_eq!(sim.dut.engine.calls(), 0);
    assert_drained(&mut sim);
}

#[test]
fn cancel_carries_the_callers_reason() {
    let mut sim = world(default_config());
    start(&mut sim, "c-2");
    let (t, inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1)
        .respond(t, response(&inv, 183, Some("g1"), &[], SDP_B));
    sim.run_for(ms(10));
    let early = sim.ua(0).expect_response(183);
    assert_eq!(
        early.body(),
        SDP_B.as_bytes(),
        "early media SDP relayed byte-exact"
    );
    // A CANCEL written by hand with a Reason (RFC 3326).
    let cancel = sbc_testkit::request(
        &[
            "CANCEL sip:+15551234@127.0.0.1:5060;user=phone SIP/2.0",
            "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa-c-2",
            "Max-Forwards: 70",
            "From: \"Alice\" <sip:+15550001@alice.example.com;user=phone>;tag=a-tag",
            "To: <sip:+15551234@sbc.example.com;user=phone>",
            "Call-ID: c-2",
            "CSeq: 10 CANCEL",
            "Reason: SIP;cause=200;text=\"Call completed elsewhere\"",
        ],
        "",
    );
    sim.ua(0).send(&cancel, addr(SBC));
    sim.run_for(ms(10));
    let (_, c) = sim.ua(1).expect_request(Method::Cancel);
    assert_eq!(
        header(&c, HeaderName::Reason).unwrap(),
        "SIP;cause=200;text=\"Call completed elsewhere\""
    );
    assert_drained(&mut sim);
}

#[test]
fn cancel_before_any_provisional_is_held_until_one_arrives() {
    let mut sim = world(default_config());
    // gw1's automatic 100 Trying is lost: our INVITE client transaction stays in Calling.
    sim.wire.drop_next(1, |p| {
        p.from.addr == addr(GW1) && p.first_line().starts_with("SIP/2.0 100")
    });
    let inv_txn = start(&mut sim, "c-3");
    let (t, inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(0).cancel(inv_txn);
    sim.run_for(ms(10));
    sim.ua(0).expect_response(200);
    sim.ua(0).expect_response(487);
    // §9.1: no CANCEL before a provisional response...
    assert!(sim
        .ua(1)
        .inbox()
        .iter()
        .all(|r| !matches!(r, Rx::Request { msg, .. } if msg.method() == Some(Method::Cancel))));
    // ...then it goes out with the first one.
    sim.ua(1)
        .respond(t, response(&inv, 180, Some("g1"), &[], ""));
    sim.run_for(ms(10));
    sim.ua(1).expect_request(Method::Cancel);
    assert_drained(&mut sim);
}

#[test]
fn cancel_racing_a_200_acks_and_byes_the_late_b_leg() {
    let mut sim = world(default_config());
    let inv_txn = start(&mut sim, "c-4");
    let (t, inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1)
        .respond(t, response(&inv, 180, Some("g1"), &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(180);
    // Both in flight at once: the caller's CANCEL and gw1's 200.
    sim.ua(1).auto_cancel = false;
    sim.ua(0).cancel(inv_txn);
    sim.ua(1).respond(
        t,
        response(
            &inv,
            200,
            Some("g1"),
            &["Contact: <sip:gw@127.0.0.1:5080>"],
            SDP_B,
        ),
    );
    sim.run_for(ms(10));
    sim.ua(0).expect_response(200); // to the CANCEL
    sim.ua(0).expect_response(487); // never the 200
    sim.ua(0).expect_nothing();
    // gw1: the CANCEL (answered by the transaction, too late), then ACK and BYE for the 2xx.
    let (ct, c) = sim.ua(1).expect_request(Method::Cancel);
    sim.ua(1).respond(ct, response(&c, 200, None, &[], ""));
    let ack = sim.ua(1).expect_ack();
    assert_eq!(ack.to_tag().unwrap(), b"g1");
    assert_eq!(ack.request_uri_raw().unwrap(), b"sip:gw@127.0.0.1:5080");
    let (bt, bye) = sim.ua(1).expect_request(Method::Bye);
    assert_eq!(bye.call_id(), inv.call_id());
    sim.ua(1).respond(bt, response(&bye, 200, None, &[], ""));
    let cdr = &sim.dut.cdrs()[0];
    assert_eq!((cdr.status, cdr.reason), (487, EndReason::Cancelled));
    assert_drained(&mut sim);
}

#[test]
fn cancel_for_unknown_transaction_is_481() {
    let mut sim = world(default_config());
    let cancel = sbc_testkit::request(
        &[
            "CANCEL sip:+1@127.0.0.1:5060 SIP/2.0",
            "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKnothing",
            "Max-Forwards: 70",
            "From: <sip:a@x>;tag=1",
            "To: <sip:b@y>",
            "Call-ID: none",
            "CSeq: 1 CANCEL",
        ],
        "",
    );
    sim.ua(0).send(&cancel, addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(481);
    assert_drained(&mut sim);
}

#[test]
fn no_answer_timer_cancels_and_answers_480() {
    let cfg = sbc_b2bua::EngineConfig {
        no_answer: Duration::from_secs(20),
        ..default_config()
    };
    let mut sim = world(cfg);
    start(&mut sim, "n-1");
    let (t, inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1)
        .respond(t, response(&inv, 180, Some("g1"), &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(180);
    sim.run_for(Duration::from_secs(19));
    sim.ua(0).expect_nothing();
    sim.run_for(Duration::from_secs(1));
    sim.ua(0).expect_response(480);
    sim.ua(1).expect_request(Method::Cancel);
    let c = &sim.dut.cdrs()[0];
    assert_eq!(
        (c.status, c.ended_by, c.reason),
        (480, EndedBy::Sbc, EndReason::NoAnswer)
    );
    assert_drained(&mut sim);
}

#[test]
fn redirect_followed_within_policy_never_relayed() {
    let mut sim = world(default_config());
    start(&mut sim, "r-1");
    let (t, inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1).respond(
        t,
        response(
            &inv,
            302,
            Some("g1"),
            &["Contact: <sip:+15559999@127.0.0.1:5080;user=phone?X-Hdr=1>"],
            "",
        ),
    );
    sim.run_for(ms(10));
    // Same gateway, the new Request-URI (URI headers dropped), new transaction.
    let (t, inv2) = sim.ua(1).expect_request(Method::Invite);
    assert_eq!(
        inv2.request_uri_raw().unwrap(),
        b"sip:+15559999@127.0.0.1:5080;user=phone"
    );
    assert_ne!(inv2.branch(), inv.branch());
    sim.ua(1)
        .respond(t, response(&inv2, 180, Some("g2"), &[], ""));
    sim.ua(1).respond(
        t,
        response(
            &inv2,
            200,
            Some("g2"),
            &["Contact: <sip:gw@127.0.0.1:5080>"],
            SDP_B,
        ),
    );
    sim.run_for(ms(10));
    sim.ua(0).expect_response(180);
    sim.ua(0).expect_response(200);
    assert_eq!(sim.dut.engine.calls(), 1);
}

#[test]
fn redirects_are_bounded_and_mapped_to_480() {
    let mut sim = world(default_config());
    start(&mut sim, "r-2");
    for i in 0..4 {
        let (t, inv) = sim.ua(1).expect_request(Method::Invite);
        let contact = format!("Contact: <sip:+1555000{i}@127.0.0.1:5080>");
        sim.ua(1)
            .respond(t, response(&inv, 301, Some("g1"), &[&contact], ""));
        sim.run_for(ms(10));
    }
    // Three followed (N=3), the fourth mapped: no 3xx ever goes upstream (TI-31).
    sim.ua(1).expect_nothing();
    let r = sim.ua(0).expect_response(480);
    assert!(r.get(HeaderName::Contact).is_none());
    let c = &sim.dut.cdrs()[0];
    assert_eq!(
        (c.status, c.reason, c.attempts),
        (480, EndReason::Redirected, 4)
    );
    assert_drained(&mut sim);
}

#[test]
fn failover_on_transport_error() {
    let mut sim = world(default_config());
    sim.dut.unreachable = Some(addr(GW1));
    start(&mut sim, "f-8");
    sim.ua(1).expect_nothing();
    let (t, inv) = sim.ua(2).expect_request(Method::Invite);
    sim.ua(2)
        .respond(t, response(&inv, 486, Some("g2"), &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(486);
    assert_eq!(sim.dut.cdrs()[0].attempts, 2);
    sim.dut.unreachable = None;
    assert_drained(&mut sim);
}

#[test]
fn transport_error_on_the_only_target_is_503() {
    let router = sbc_b2bua::StaticRouter::lab_default(None);
    let mut sim = world_with(default_config(), std::sync::Arc::new(router));
    sim.dut.unreachable = Some(addr(GW1));
    start(&mut sim, "f-9");
    sim.ua(0).expect_response(503);
    sim.dut.unreachable = None;
    assert_drained(&mut sim);
}

#[test]
fn caller_bye_on_an_early_dialog_acts_as_cancel() {
    let mut sim = world(default_config());
    let inv = invite("c-5", &[], SDP_A);
    sim.ua(0).send(&inv, addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(100);
    let (t, b_inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1).respond(
        t,
        response(
            &b_inv,
            180,
            Some("g1"),
            &["Contact: <sip:gw@127.0.0.1:5080>"],
            "",
        ),
    );
    sim.run_for(ms(10));
    let ringing = sim.ua(0).expect_response(180);
    let inv_msg = sbc_sip::Message::parse(bytes::Bytes::from(inv)).unwrap();
    let mut a = sbc_testkit::UaDialog::uac(&inv_msg, &ringing, ALICE);
    a.target = format!("sip:{SBC}");
    sim.ua(0)
        .send(&a.request("BYE", "early-bye", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(200);
    sim.ua(0).expect_response(487);
    sim.ua(1).expect_request(Method::Cancel);
    let c = &sim.dut.cdrs()[0];
    assert_eq!((c.status, c.reason), (487, EndReason::Cancelled));
    assert_drained(&mut sim);
}

/// Failover statuses are the trunk's: a gateway configured to fail over on 486 as well moves
/// the call to the next target on 486; one configured with no codes relays its 503.
#[test]
fn failover_codes_are_per_trunk() {
    let mut cfg = default_config();
    let mut gw1 = cfg.b_side.clone();
    gw1.failover_codes = vec![486];
    cfg.trunks.insert("gw1".into(), gw1);
    let mut sim = world(cfg);
    start(&mut sim, "fc-1");
    let (t, inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1)
        .respond(t, response(&inv, 486, Some("g1"), &[], ""));
    sim.run_for(ms(10));
    // The next target (gw2) gets the call.
    let (_t2, _inv2) = sim.ua(2).expect_request(Method::Invite);

    let mut cfg = default_config();
    let mut gw1 = cfg.b_side.clone();
    gw1.failover_codes = Vec::new();
    cfg.trunks.insert("gw1".into(), gw1);
    let mut sim = world(cfg);
    start(&mut sim, "fc-2");
    let (t, inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1)
        .respond(t, response(&inv, 503, Some("g1"), &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(503);
    assert!(sim.ua(2).inbox().is_empty(), "no failover");
}

/// A trunk's INVITE timeout: no response at all from gw1 within 2 s → CANCEL it and try
/// gw2 (a timeout fails over), long before Timer B's 32 s.
#[test]
fn per_trunk_invite_timeout_cancels_and_fails_over() {
    let mut cfg = default_config();
    let mut gw1 = cfg.b_side.clone();
    gw1.invite_timeout = Some(Duration::from_secs(2));
    cfg.trunks.insert("gw1".into(), gw1);
    let mut sim = world(cfg);
    // gw1 is silent: everything it gets is dropped.
    sim.wire.drop_when(|p| p.to.addr == addr(GW1));
    start(&mut sim, "it-1");
    sim.run_for(Duration::from_millis(1_900));
    assert!(sim.ua(2).inbox().is_empty());
    sim.run_for(Duration::from_millis(200));
    let (_t, inv) = sim.ua(2).expect_request(Method::Invite);
    assert_eq!(inv.method(), Some(Method::Invite));
    // The CANCEL toward gw1 is held until a provisional arrives (RFC 3261 §9.1); none does,
    // so it never goes out, and the abandoned INVITE ends with its Timer B.
    assert!(!sim
        .wire
        .dropped()
        .iter()
        .any(|p| p.first_line().starts_with("CANCEL ")));
}

/// A gateway (or Microsoft proxy) over TCP/TLS.
#[derive(Debug)]
struct TcpGw;

impl sbc_b2bua::Router for TcpGw {
    fn route(&self, _req: &sbc_sip::Message, _from: sbc_txn::Peer) -> sbc_b2bua::RouteDecision {
        let peer = sbc_txn::Peer::new(sbc_txn::Transport::Tcp, addr(GW1));
        sbc_b2bua::RouteDecision::Targets(vec![sbc_b2bua::Target::new(
            peer,
            b"sip:+15551234@127.0.0.1:5080;transport=tcp".to_vec(),
            "edge",
        )])
    }
}

/// TI-18: a 503 from a target reached over a stream asks the shell to drop that connection.
#[test]
fn a_503_over_a_stream_drops_the_connection() {
    let mut sim = world_with(default_config(), std::sync::Arc::new(TcpGw));
    start(&mut sim, "dc-1");
    let (t, inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1)
        .respond(t, response(&inv, 503, Some("g1"), &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(503);
    assert!(sim.dut.events.iter().any(|e| matches!(
        e,
        EngineEvent::DropConnection { peer } if peer.transport == sbc_txn::Transport::Tcp
    )));
}
