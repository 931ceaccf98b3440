//! Offer/answer and in-dialog traffic: delayed offer, 2xx retransmission on both legs,
//! forking, PRACK termination, re-INVITE/UPDATE both ways with glare, end-to-end relay.

mod common;

use common::*;
use sbc_b2bua::EndReason;
use sbc_sip::{HeaderName, Message, Method};
use sbc_testkit::{header, headers_named, response, Sim, UaDialog};
use std::time::Duration;

fn parse(s: &str) -> Message {
    Message::parse(bytes::Bytes::from(s.to_string())).unwrap()
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
    b.target = "sip:127.0.0.1:5060".into();
    (a, b, b_inv)
}

#[test]
fn delayed_offer_answer_travels_in_the_ack() {
    let mut sim = world(default_config());
    let inv = invite("d-1", &[], "");
    sim.ua(0).send(&inv, addr(SBC));
    sim.run_for(ms(10));
    let (t, b_inv) = sim.ua(1).expect_request(Method::Invite);
    assert!(b_inv.body().is_empty());
    assert!(b_inv.get(HeaderName::ContentType).is_none());
    // B's 200 carries the offer.
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
    sim.ua(0).expect_response(100);
    let ok = sim.ua(0).expect_response(200);
    assert_eq!(ok.body(), SDP_B.as_bytes());
    // No ACK to B yet: it must carry A's answer.
    sim.ua(1).expect_nothing();
    let mut a = UaDialog::uac(&parse(&inv), &ok, ALICE);
    let ack = a.request("ACK", "ack-d1", &[], SDP_A);
    sim.ua(0).send_raw(ack, addr(SBC));
    sim.run_for(ms(10));
    let b_ack = sim.ua(1).expect_ack();
    assert_eq!(b_ack.body(), SDP_A.as_bytes());
    assert_eq!(
        header(&b_ack, HeaderName::ContentType).unwrap(),
        "application/sdp"
    );
    assert_eq!(b_ack.cseq().unwrap().seq, 1);
    // gw1 retransmits its 200 (the ACK crossed it): we ACK again, identically.
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
    let again = sim.ua(1).expect_ack();
    assert_eq!(again.as_bytes(), b_ack.as_bytes());
}

#[test]
fn our_2xx_is_retransmitted_t1_doubling_to_t2_then_both_legs_get_bye() {
    let mut sim = world(default_config());
    sim.ua(0).send(&invite("d-2", &[], SDP_A), addr(SBC));
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
    let start = sim.wire.log().len();
    // Alice never ACKs.
    sim.run_for(Duration::from_secs(40));
    let sent: Vec<u64> = sim.wire.log()[start..]
        .iter()
        .filter(|p| p.to.addr == addr(ALICE) && p.first_line() == "SIP/2.0 200 OK")
        .map(|p| p.sent_at.as_nanos() / 1_000_000)
        .collect();
    let t0 = 11;
    let expect: Vec<u64> = [
        0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500,
    ]
    .iter()
    .map(|d| t0 + d)
    .collect();
    assert_eq!(sent, expect, "RFC 3261 §13.3.1.4 schedule");
    // At 64*T1 the call is torn down with BYE on both legs (RFC 3261 §13.3.1.4).
    let byes: Vec<_> = sim.wire.log()[start..]
        .iter()
        .filter(|p| p.first_line().starts_with("BYE "))
        .map(|p| (p.to.addr, p.sent_at.as_nanos() / 1_000_000))
        .collect();
    assert!(byes.contains(&(addr(ALICE), t0 + 32_000)), "{byes:?}");
    assert!(byes.contains(&(addr(GW1), t0 + 32_000)), "{byes:?}");
    assert_eq!(sim.dut.cdrs()[0].reason, EndReason::AckTimeout);
    assert_drained(&mut sim);
}

#[test]
fn b_2xx_retransmission_after_timer_m_is_reacked_from_dialog_state() {
    let mut sim = world(default_config());
    let (_a, _b, b_inv) = answered(&mut sim, "d-3");
    let first_ack = sim
        .wire
        .log()
        .iter()
        .rev()
        .find(|p| p.to.addr == addr(GW1) && p.first_line().starts_with("ACK"))
        .unwrap()
        .bytes
        .clone();
    sim.run_for(Duration::from_secs(40)); // Timer M is gone on both sides
    let ok = response(
        &b_inv,
        200,
        Some("g1"),
        &["Contact: <sip:gw@127.0.0.1:5080>"],
        SDP_B,
    );
    sim.ua(1).send_raw(ok, addr(SBC));
    sim.run_for(ms(10));
    let ack = sim.ua(1).expect_ack();
    assert_eq!(ack.as_bytes(), &first_ack[..]);
    assert_eq!(sim.dut.engine.calls(), 1);
}

#[test]
fn forked_early_dialogs_map_to_distinct_a_tags_and_the_loser_is_byed() {
    let mut sim = world(default_config());
    sim.ua(0).send(&invite("d-4", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    let (t, b_inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1).respond(
        t,
        response(
            &b_inv,
            180,
            Some("fork1"),
            &["Contact: <sip:f1@127.0.0.1:5080>"],
            "",
        ),
    );
    sim.ua(1).respond(
        t,
        response(
            &b_inv,
            183,
            Some("fork2"),
            &["Contact: <sip:f2@127.0.0.1:5080>"],
            SDP_B,
        ),
    );
    sim.run_for(ms(10));
    sim.ua(0).expect_response(100);
    let r1 = sim.ua(0).expect_response(180);
    let r2 = sim.ua(0).expect_response(183);
    assert_ne!(r1.to_tag(), r2.to_tag());
    assert_eq!(r2.body(), SDP_B.as_bytes());
    sim.ua(1).respond(
        t,
        response(
            &b_inv,
            200,
            Some("fork2"),
            &["Contact: <sip:f2@127.0.0.1:5080>"],
            SDP_B,
        ),
    );
    sim.run_for(ms(10));
    let ok = sim.ua(0).expect_response(200);
    assert_eq!(
        ok.to_tag(),
        r2.to_tag(),
        "the 2xx uses the A tag of its early dialog"
    );
    let ack = sim.ua(1).expect_ack();
    assert_eq!(ack.request_uri_raw().unwrap(), b"sip:f2@127.0.0.1:5080");
    // The other fork answers too: ACK + BYE it, nothing upstream.
    sim.ua(1).respond(
        t,
        response(
            &b_inv,
            200,
            Some("fork1"),
            &["Contact: <sip:f1@127.0.0.1:5080>"],
            SDP_B,
        ),
    );
    sim.run_for(ms(10));
    let ack = sim.ua(1).expect_ack();
    assert_eq!(ack.to_tag().unwrap(), b"fork1");
    let (_, bye) = sim.ua(1).expect_request(Method::Bye);
    assert_eq!(bye.to_tag().unwrap(), b"fork1");
    assert_eq!(bye.request_uri_raw().unwrap(), b"sip:f1@127.0.0.1:5080");
    sim.ua(0).expect_nothing();
    assert_eq!(sim.dut.engine.calls(), 1);
}

#[test]
fn reliable_provisionals_are_pracked_on_b_and_relayed_unreliably() {
    let mut sim = world(default_config());
    sim.ua(0).send(&invite("d-5", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    let (t, b_inv) = sim.ua(1).expect_request(Method::Invite);
    assert!(header(&b_inv, HeaderName::Supported)
        .unwrap()
        .contains("100rel"));
    let rel = |rseq: &str| {
        response(
            &b_inv,
            183,
            Some("g1"),
            &[
                "Contact: <sip:gw@127.0.0.1:5080>",
                "Require: 100rel",
                &format!("RSeq: {rseq}"),
            ],
            SDP_B,
        )
    };
    sim.ua(1).respond(t, rel("1"));
    sim.run_for(ms(10));
    let (pt, prack) = sim.ua(1).expect_request(Method::Prack);
    assert_eq!(header(&prack, HeaderName::RAck).unwrap(), "1 1 INVITE");
    assert_eq!(prack.cseq().unwrap().seq, 2);
    assert_eq!(prack.to_tag().unwrap(), b"g1");
    assert_eq!(prack.request_uri_raw().unwrap(), b"sip:gw@127.0.0.1:5080");
    sim.ua(1).respond(pt, response(&prack, 200, None, &[], ""));
    sim.ua(0).expect_response(100);
    let p = sim.ua(0).expect_response(183);
    assert!(p.get(HeaderName::Require).is_none() && p.get(HeaderName::RSeq).is_none());
    assert_eq!(p.body(), SDP_B.as_bytes());
    // A retransmission of RSeq 1 is neither PRACKed nor relayed again.
    sim.ua(1).respond(t, rel("1"));
    sim.run_for(ms(10));
    sim.ua(1).expect_nothing();
    sim.ua(0).expect_nothing();
    sim.ua(1).respond(t, rel("2"));
    sim.run_for(ms(10));
    let (_, prack) = sim.ua(1).expect_request(Method::Prack);
    assert_eq!(header(&prack, HeaderName::RAck).unwrap(), "2 1 INVITE");
    assert_eq!(prack.cseq().unwrap().seq, 3);
    // The confirmed dialog continues the CSeq space after the PRACKs.
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
    sim.ua(0).expect_response(183);
    let ok = sim.ua(0).expect_response(200);
    let mut a = UaDialog::uac(&parse(&invite("d-5", &[], SDP_A)), &ok, ALICE);
    sim.ua(0)
        .send_raw(a.request("ACK", "ack-d5", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0)
        .send(&a.request("BYE", "bye-d5", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(1).expect_ack();
    let (_, bye) = sim.ua(1).expect_request(Method::Bye);
    assert_eq!(bye.cseq().unwrap().seq, 4);
}

#[test]
fn no_100rel_offered_on_a_leg_whose_policy_forbids_it() {
    let mut cfg = default_config();
    cfg.b_side.prack = false;
    let mut sim = world(cfg);
    sim.ua(0).send(&invite("d-6", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    let (_, b_inv) = sim.ua(1).expect_request(Method::Invite);
    assert_eq!(header(&b_inv, HeaderName::Supported).unwrap(), "timer");
}

#[test]
fn reinvite_from_a_is_relayed_with_offer_answer_mapping() {
    let mut sim = world(default_config());
    let (mut a, _b, b_inv) = answered(&mut sim, "d-7");
    let hold = SDP_A.replace(
        "m=audio 40000 RTP/AVP 0\r\n",
        "m=audio 40000 RTP/AVP 0\r\na=sendonly\r\n",
    );
    let reinv = a.request(
        "INVITE",
        "reinv-a",
        &["Contact: <sip:alice-new@127.0.0.1:5070>"],
        &hold,
    );
    sim.ua(0).send(&reinv, addr(SBC));
    sim.run_for(ms(10));
    let (t, r) = sim.ua(1).expect_request(Method::Invite);
    assert_eq!(r.body(), hold.as_bytes());
    assert_eq!(r.call_id(), b_inv.call_id());
    assert_eq!(r.cseq().unwrap().seq, 2);
    assert_eq!(r.to_tag().unwrap(), b"g1");
    assert_eq!(
        header(&r, HeaderName::Contact).unwrap(),
        "<sip:127.0.0.1:5060>"
    );
    assert!(!String::from_utf8_lossy(r.as_bytes()).contains("alice-new"));
    let answer = SDP_B.replace(
        "m=audio 50000 RTP/AVP 0\r\n",
        "m=audio 50000 RTP/AVP 0\r\na=recvonly\r\n",
    );
    sim.ua(1).respond(
        t,
        response(
            &r,
            200,
            None,
            &["Contact: <sip:gw@127.0.0.1:5080>"],
            &answer,
        ),
    );
    sim.run_for(ms(10));
    // B's 2xx is ACKed by us (our re-INVITE had the offer); A gets the answer.
    let ack = sim.ua(1).expect_ack();
    assert_eq!(ack.cseq().unwrap().seq, 2);
    sim.ua(0).expect_response(100);
    let ok = sim.ua(0).expect_response(200);
    assert_eq!(ok.body(), answer.as_bytes());
    sim.ua(0)
        .send_raw(a.request("ACK", "ack-reinv-a", &[], ""), addr(SBC));
    sim.run_for(ms(5000));
    // No retransmissions after A's ACK.
    assert!(sim.ua(0).inbox().is_empty());
    // Target refresh: our next request to A goes to its new Contact.
    let mut b = UaDialog::uas(&b_inv, "g1", GW1);
    b.target = "sip:127.0.0.1:5060".into();
    sim.ua(1)
        .send(&b.request("BYE", "bye-b7", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    let (_, bye) = sim.ua(0).expect_request(Method::Bye);
    assert_eq!(
        bye.request_uri_raw().unwrap(),
        b"sip:alice-new@127.0.0.1:5070"
    );
    assert_drained(&mut sim);
}

#[test]
fn reinvite_from_b_and_glare() {
    let mut sim = world(default_config());
    let (mut a, mut b, _) = answered(&mut sim, "d-8");
    // gw1 re-INVITEs; A is slow to answer.
    sim.ua(1)
        .send(&b.request("INVITE", "reinv-b", &[], SDP_B), addr(SBC));
    sim.run_for(ms(10));
    let (t, r) = sim.ua(0).expect_request(Method::Invite);
    assert_eq!(r.call_id().unwrap(), b"d-8");
    assert_eq!(r.to_tag().unwrap(), b"a-tag");
    assert_eq!(r.cseq().unwrap().seq, 1);
    assert_eq!(r.request_uri_raw().unwrap(), b"sip:alice@127.0.0.1:5070");
    assert_eq!(
        header(&r, HeaderName::Route).unwrap(),
        "<sip:127.0.0.1:5070;lr;x-topo=core17>"
    );
    // Meanwhile A sends its own re-INVITE: glare on the A leg → 491 (RFC 3261 §14.2).
    sim.ua(0)
        .send(&a.request("INVITE", "reinv-a8", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(491);
    // And gw1 a second one while its first is pending: 500 with Retry-After.
    sim.ua(1).expect_response(100);
    sim.ua(1)
        .send(&b.request("INVITE", "reinv-b2", &[], SDP_B), addr(SBC));
    sim.run_for(ms(10));
    let r500 = sim.ua(1).expect_response(500);
    let ra: u32 = header(&r500, HeaderName::RetryAfter)
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&ra));
    // A answers the first: 200 relayed to gw1, A gets our ACK.
    sim.ua(0).respond(
        t,
        response(
            &r,
            200,
            None,
            &["Contact: <sip:alice@127.0.0.1:5070>"],
            SDP_A,
        ),
    );
    sim.run_for(ms(10));
    let a_ack = sim.ua(0).expect_ack();
    assert_eq!(a_ack.cseq().unwrap().seq, 1);
    let ok = sim.ua(1).expect_response(200);
    assert_eq!(ok.body(), SDP_A.as_bytes());
    assert_eq!(
        header(&ok, HeaderName::Contact).unwrap(),
        "<sip:127.0.0.1:5060>"
    );
    // Our 200 to gw1 is retransmitted until gw1's ACK.
    sim.run_for(ms(600));
    sim.ua(1).expect_response(200);
    sim.ua(1)
        .send_raw(b.request_cseq("ACK", 100, "ack-b8", &[], ""), addr(SBC));
    sim.run_for(ms(5000));
    sim.ua(1).expect_nothing();
    // Now A may re-INVITE.
    sim.ua(0)
        .send(&a.request("INVITE", "reinv-a9", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(1).expect_request(Method::Invite);
}

#[test]
fn update_info_message_notify_and_options_are_relayed_end_to_end() {
    let mut sim = world(default_config());
    let (mut a, mut b, _) = answered(&mut sim, "d-9");
    // UPDATE with an offer.
    sim.ua(0)
        .send(&a.request("UPDATE", "upd-a", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    let (t, u) = sim.ua(1).expect_request(Method::Update);
    assert_eq!(u.body(), SDP_A.as_bytes());
    sim.ua(1).respond(t, response(&u, 200, None, &[], SDP_B));
    sim.run_for(ms(10));
    let ok = sim.ua(0).expect_response(200);
    assert_eq!(ok.body(), SDP_B.as_bytes());
    // INFO with a DTMF body and an Info-Package header.
    let dtmf = "Signal=5\r\nDuration=160\r\n";
    let mut info = a.request(
        "INFO",
        "info-a",
        &["Info-Package: dtmf", "Content-Type: application/dtmf-relay"],
        "",
    );
    info = info.replace(
        "Content-Length: 0\r\n\r\n",
        &format!("Content-Length: {}\r\n\r\n{dtmf}", dtmf.len()),
    );
    sim.ua(0).send(&info, addr(SBC));
    sim.run_for(ms(10));
    let (t, i) = sim.ua(1).expect_request(Method::Info);
    assert_eq!(i.body(), dtmf.as_bytes());
    assert_eq!(
        header(&i, HeaderName::ContentType).unwrap(),
        "application/dtmf-relay"
    );
    assert_eq!(headers_named(&i, "Info-Package"), ["dtmf"]);
    sim.ua(1).respond(t, response(&i, 200, None, &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(200);
    // NOTIFY from B with Event / Subscription-State.
    sim.ua(1).send(
        &b.request(
            "NOTIFY",
            "ntf-b",
            &["Event: talk", "Subscription-State: active"],
            "",
        ),
        addr(SBC),
    );
    sim.run_for(ms(10));
    let (t, n) = sim.ua(0).expect_request(Method::Notify);
    assert_eq!(header(&n, HeaderName::Event).unwrap(), "talk");
    assert_eq!(header(&n, HeaderName::SubscriptionState).unwrap(), "active");
    sim.ua(0).respond(t, response(&n, 200, None, &[], ""));
    sim.run_for(ms(10));
    sim.ua(1).expect_response(200);
    // MESSAGE and OPTIONS relayed; a 405 answer is relayed as is.
    sim.ua(0)
        .send(&a.request("MESSAGE", "msg-a", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    let (t, m) = sim.ua(1).expect_request(Method::Message);
    sim.ua(1).respond(t, response(&m, 405, None, &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(405);
    sim.ua(1)
        .send(&b.request("OPTIONS", "opt-b", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    let (t, o) = sim.ua(0).expect_request(Method::Options);
    sim.ua(0).respond(t, response(&o, 200, None, &[], ""));
    sim.run_for(ms(10));
    sim.ua(1).expect_response(200);
    assert_eq!(sim.dut.engine.calls(), 1);
}

#[test]
fn relayed_request_answered_481_ends_the_call() {
    let mut sim = world(default_config());
    let (mut a, _b, _) = answered(&mut sim, "d-10");
    sim.ua(0)
        .send(&a.request("INFO", "info-x", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    let (t, i) = sim.ua(1).expect_request(Method::Info);
    sim.ua(1).respond(t, response(&i, 481, None, &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(481);
    // §12.2.1.2: the dialog is gone: BYE to A (and B, harmlessly).
    let (t, bye) = sim.ua(0).expect_request(Method::Bye);
    sim.ua(0).respond(t, response(&bye, 200, None, &[], ""));
    assert_eq!(sim.dut.cdrs()[0].reason, EndReason::DialogLost);
    assert_drained(&mut sim);
}

#[test]
fn out_of_order_cseq_and_prack_in_dialog() {
    let mut sim = world(default_config());
    let (a, _b, _) = answered(&mut sim, "d-11");
    sim.ua(0)
        .send(&a.request_cseq("INFO", 5, "old", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(500);
    sim.ua(0).send(
        &a.request_cseq("PRACK", 50, "prk", &["RAck: 1 10 INVITE"], ""),
        addr(SBC),
    );
    sim.run_for(ms(10));
    sim.ua(0).expect_response(481);
    sim.ua(0).send(
        &a.request_cseq("REFER", 51, "ref", &["Refer-To: <sip:x@y>"], ""),
        addr(SBC),
    );
    sim.run_for(ms(10));
    let resp = sim.ua(0).expect_response(501);
    assert!(resp.get(HeaderName::Allow).is_some());
    assert_eq!(sim.dut.engine.calls(), 1);
}

#[test]
fn cancel_of_a_relayed_reinvite_is_relayed_as_cancel() {
    let mut sim = world(default_config());
    let (mut a, _b, _) = answered(&mut sim, "d-12");
    let reinv = a.request("INVITE", "reinv-c", &[], SDP_A);
    let t = sim.ua(0).send(&reinv, addr(SBC));
    sim.run_for(ms(10));
    let (rt, r) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1).respond(rt, response(&r, 180, None, &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(100);
    sim.ua(0).expect_response(180);
    sim.ua(0).cancel(t);
    sim.run_for(ms(10));
    sim.ua(0).expect_response(200);
    // gw1's transaction answers our CANCEL and 487s the re-INVITE; the 487 comes back.
    sim.ua(1).expect_request(Method::Cancel);
    sim.ua(0).expect_response(487);
    // The call itself lives on, and a new offer may follow.
    assert_eq!(sim.dut.engine.calls(), 1);
    sim.ua(0)
        .send(&a.request("INVITE", "reinv-c2", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(1).expect_request(Method::Invite);
}

#[test]
fn reinvite_without_sdp_gets_its_answer_from_the_other_sides_ack() {
    let mut sim = world(default_config());
    let (mut a, _b, _) = answered(&mut sim, "d-13");
    sim.ua(0)
        .send(&a.request("INVITE", "reinv-empty", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    let (t, r) = sim.ua(1).expect_request(Method::Invite);
    assert!(r.body().is_empty());
    sim.ua(1).respond(
        t,
        response(&r, 200, None, &["Contact: <sip:gw@127.0.0.1:5080>"], SDP_B),
    );
    sim.run_for(ms(10));
    sim.ua(1).expect_nothing(); // the ACK waits for A's answer
    sim.ua(0).expect_response(100);
    let ok = sim.ua(0).expect_response(200);
    assert_eq!(ok.body(), SDP_B.as_bytes());
    sim.ua(0)
        .send_raw(a.request("ACK", "ack-empty", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    let ack = sim.ua(1).expect_ack();
    assert_eq!(ack.cseq().unwrap().seq, 2);
    assert_eq!(ack.body(), SDP_A.as_bytes());
}
