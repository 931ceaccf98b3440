//! Basic call: INVITE → 180 → 200 → ACK → BYE, on a simulated network with a virtual
//! clock; exact messages on both legs, topology hiding, header policy, CDR, empty tables.

mod common;

use common::*;
use sbc_b2bua::{CallPhase, EndReason, EndedBy, EngineEvent};
use sbc_sip::{HeaderName, Method};
use sbc_testkit::{header, response, UaDialog};

const B_INVITE: &str = "INVITE sip:+15551234@127.0.0.1:5080;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKSb2b000371bb54d8d101b5b9;rport\r\n\
Max-Forwards: 69\r\n\
From: \"Alice\" <sip:+15550001@alice.example.com;user=phone>;tag=000371c18690ee42c90b\r\n\
To: <sip:+15551234@sbc.example.com;user=phone>\r\n\
Call-ID: sbc0003.beeb8da1658eec67f893a2eefb32555e\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:127.0.0.1:5060>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, MESSAGE, NOTIFY\r\n\
Supported: timer, 100rel\r\n\
Session-Expires: 1800\r\n\
Min-SE: 90\r\n\
User-Agent: TestSBC/1.0\r\n\
P-Asserted-Identity: <sip:+15550001@alice.example.com;user=phone>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 92\r\n\
\r\n";

const A_200: &str = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa-call-1\r\n\
Via: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bKhidden\r\n\
From: \"Alice\" <sip:+15550001@alice.example.com;user=phone>;tag=a-tag\r\n\
To: <sip:+15551234@sbc.example.com;user=phone>;tag=0003c34d0bff90150280\r\n\
Call-ID: call-1\r\n\
CSeq: 10 INVITE\r\n\
Contact: <sip:127.0.0.1:5060>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, MESSAGE, NOTIFY\r\n\
Supported: timer\r\n\
Session-Expires: 1800;refresher=uas\r\n\
Require: timer\r\n\
Server: TestSBC/1.0\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 89\r\n\
\r\n";

const B_ACK: &str = "ACK sip:gw@127.0.0.1:5080 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKSb2b0003e099ec6cd7363ca5;rport\r\n\
Max-Forwards: 70\r\n\
From: \"Alice\" <sip:+15550001@alice.example.com;user=phone>;tag=000371c18690ee42c90b\r\n\
To: <sip:+15551234@sbc.example.com;user=phone>;tag=g1\r\n\
Call-ID: sbc0003.beeb8da1658eec67f893a2eefb32555e\r\n\
CSeq: 1 ACK\r\n\
User-Agent: TestSBC/1.0\r\n\
Content-Length: 0\r\n\
\r\n";

/// Sets up a call to the confirmed state; returns the dialogs of Alice and gw1.
pub fn answered_call(sim: &mut sbc_testkit::Sim<SbcNode>, call_id: &str) -> (UaDialog, UaDialog) {
    let inv = invite(call_id, &[], SDP_A);
    let inv_msg = sbc_sip::Message::parse(bytes::Bytes::from(inv.clone())).unwrap();
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
    let mut a = UaDialog::uac(&inv_msg, &ok, ALICE);
    let ack = a.request("ACK", &format!("ack-{call_id}"), &[], "");
    sim.ua(0).send_raw(ack, addr(SBC));
    sim.run_for(ms(10));
    let b = UaDialog::uas(&b_inv, "g1", GW1);
    (a, b)
}

#[test]
fn basic_call_exact_messages_both_legs() {
    let mut sim = world(default_config());
    let inv = invite("call-1", &[], SDP_A);
    let inv_msg = sbc_sip::Message::parse(bytes::Bytes::from(inv.clone())).unwrap();
    sim.ua(0).send(&inv, addr(SBC));
    sim.run_for(ms(10));

    // The B leg is built, not edited: our Call-ID, tag, Via, Contact; the A leg's Vias,
    // Record-Route, Contact, Call-ID, User-Agent and unknown headers stay behind.
    let (t, b_inv) = sim.ua(1).expect_request(Method::Invite);
    let text = String::from_utf8_lossy(b_inv.as_bytes()).into_owned();
    assert_eq!(text, format!("{B_INVITE}{SDP_A}"));
    assert_eq!(b_inv.body(), SDP_A.as_bytes(), "body byte-exact");
    for hidden in [
        "10.9.9.9",
        "x-topo",
        "alice@",
        "call-1",
        "AliceUA",
        "X-Secret",
        "a-tag",
        "z9hG4bKa-",
    ] {
        assert!(!text.contains(hidden), "{hidden} leaked to the B leg");
    }
    assert_eq!(sbc_b2bua::shard_of(b_inv.call_id().unwrap()), Some(3));
    assert_eq!(sbc_b2bua::shard_of_tag(b_inv.from_tag().unwrap()), Some(3));
    sim.ua(0).expect_response(100);

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
    let a_tag = String::from_utf8_lossy(ringing.to_tag().unwrap()).into_owned();
    assert_ne!(a_tag, "g1", "B's To tag never reaches A");
    assert_eq!(
        header(&ringing, HeaderName::Contact).unwrap(),
        "<sip:127.0.0.1:5060>"
    );
    assert_eq!(
        sim.dut.engine.call_phase(first_call(&sim)),
        Some(CallPhase::Early)
    );

    sim.ua(1).respond(
        t,
        response(
            &b_inv,
            200,
            Some("g1"),
            &[
                "Contact: <sip:gw@127.0.0.1:5080>",
                "Record-Route: <sip:127.0.0.1:5080;lr;x-gw=internal>",
                "Server: GatewayOS/9",
                "P-Asserted-Identity: <sip:+15551234@gw.example.com>",
            ],
            SDP_B,
        ),
    );
    sim.run_for(ms(10));
    // §13.2.2.4: the engine ACKs B's 2xx itself, to the remote target through the route set.
    let ack = sim.ua(1).expect_ack();
    let ack_text = String::from_utf8_lossy(ack.as_bytes()).into_owned();
    assert_eq!(
        ack_text,
        B_ACK.replace(
            "CSeq: 1 ACK\r\n",
            "CSeq: 1 ACK\r\nRoute: <sip:127.0.0.1:5080;lr;x-gw=internal>\r\n"
        )
    );
    let ok = sim.ua(0).expect_response(200);
    let ok_text = String::from_utf8_lossy(ok.as_bytes()).into_owned();
    let expected = A_200.replace(
        "Server: TestSBC/1.0\r\n",
        "Server: TestSBC/1.0\r\nP-Asserted-Identity: <sip:+15551234@gw.example.com>\r\n",
    );
    assert_eq!(ok_text, format!("{expected}{SDP_B}"));
    assert!(
        ok.to_tag() == ringing.to_tag(),
        "same A-side tag as the early dialog"
    );
    for hidden in ["x-gw", "gw@", "GatewayOS", "sbc0003", "tag=g1"] {
        assert!(!ok_text.contains(hidden), "{hidden} leaked to the A leg");
    }

    // The caller ACKs; our 2xx retransmissions stop.
    let mut a = UaDialog::uac(&inv_msg, &ok, ALICE);
    assert_eq!(a.target, "sip:127.0.0.1:5060");
    let ack = a.request("ACK", "ack1", &[], "");
    sim.ua(0).send_raw(ack, addr(SBC));
    sim.run_for(ms(10));
    assert_eq!(
        sim.dut.engine.call_phase(first_call(&sim)),
        Some(CallPhase::Confirmed)
    );
    let before = sim.wire.log().len();
    sim.run_for(ms(5000));
    assert_eq!(
        sim.wire.log().len(),
        before,
        "nothing retransmitted after the ACK"
    );

    // BYE from the caller: 200 locally, BYE on the B leg with its dialog identifiers.
    let bye = a.request(
        "BYE",
        "bye1",
        &["Reason: Q.850;cause=16;text=\"Normal\""],
        "",
    );
    sim.ua(0).send(&bye, addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(200);
    let (t, b_bye) = sim.ua(1).expect_request(Method::Bye);
    assert_eq!(b_bye.request_uri_raw().unwrap(), b"sip:gw@127.0.0.1:5080");
    assert_eq!(b_bye.call_id(), b_inv.call_id());
    assert_eq!(b_bye.to_tag().unwrap(), b"g1");
    assert_eq!(b_bye.cseq().unwrap().seq, 2);
    assert_eq!(
        header(&b_bye, HeaderName::Reason).unwrap(),
        "Q.850;cause=16;text=\"Normal\""
    );
    assert_eq!(
        header(&b_bye, HeaderName::Route).unwrap(),
        "<sip:127.0.0.1:5080;lr;x-gw=internal>"
    );
    sim.ua(1).respond(t, response(&b_bye, 200, None, &[], ""));
    sim.run_for(ms(10));

    let cdrs = sim.dut.cdrs();
    assert_eq!(cdrs.len(), 1);
    let c = &cdrs[0];
    assert_eq!(c.status, 200);
    assert_eq!(c.ended_by, EndedBy::Caller);
    assert_eq!(c.reason, EndReason::Normal);
    assert_eq!(c.q850, Some(16));
    assert_eq!(c.calling, b"+15550001");
    assert_eq!(c.called, b"+15551234");
    assert_eq!(c.trunk_in.as_deref(), Some("lab"));
    assert_eq!(c.trunk_out.as_deref(), Some("gw1"));
    assert_eq!(c.attempts, 1);
    assert_eq!(c.a_call_id, b"call-1");
    assert_eq!(c.invite_at, sbc_txn::Instant::from_millis(1));
    assert_eq!(c.ringing_at, Some(sbc_txn::Instant::from_millis(11)));
    assert_eq!(c.answered_at, Some(sbc_txn::Instant::from_millis(21)));
    assert!(c.ended_at > c.answered_at.unwrap());
    let phases: Vec<CallPhase> = sim
        .dut
        .events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::CallState { phase, .. } => Some(*phase),
            _ => None,
        })
        .collect();
    assert_eq!(
        phases,
        [
            CallPhase::Proceeding,
            CallPhase::Early,
            CallPhase::Answered,
            CallPhase::Confirmed,
            CallPhase::Ended
        ]
    );
    assert_drained(&mut sim);
}

pub fn first_call(sim: &sbc_testkit::Sim<SbcNode>) -> sbc_b2bua::CallKey {
    sim.dut
        .events
        .iter()
        .find_map(|e| match e {
            EngineEvent::CallState { call, .. } => Some(*call),
            _ => None,
        })
        .unwrap()
}

#[test]
fn bye_from_callee() {
    let mut sim = world(default_config());
    let (_a, mut b) = answered_call(&mut sim, "call-2");
    let bye = b.request("BYE", "gbye", &[], "");
    sim.ua(1).send(&bye, addr(SBC));
    sim.run_for(ms(10));
    sim.ua(1).expect_response(200);
    let (t, a_bye) = sim.ua(0).expect_request(Method::Bye);
    assert_eq!(a_bye.call_id().unwrap(), b"call-2");
    assert_eq!(
        a_bye.request_uri_raw().unwrap(),
        b"sip:alice@127.0.0.1:5070"
    );
    // The UAS route set is the caller's Record-Route, in order (§12.1.1).
    assert_eq!(
        header(&a_bye, HeaderName::Route).unwrap(),
        "<sip:127.0.0.1:5070;lr;x-topo=core17>"
    );
    assert_eq!(a_bye.from_tag(), sim_a_tag(&a_bye));
    assert_eq!(a_bye.to_tag().unwrap(), b"a-tag");
    assert_eq!(a_bye.cseq().unwrap().seq, 1);
    sim.ua(0).respond(t, response(&a_bye, 200, None, &[], ""));
    sim.run_for(ms(10));
    let c = &sim.dut.cdrs()[0];
    assert_eq!(c.ended_by, EndedBy::Callee);
    assert_eq!(c.reason, EndReason::Normal);
    assert_drained(&mut sim);
}

fn sim_a_tag(m: &sbc_sip::Message) -> Option<&[u8]> {
    m.from_tag()
}

#[test]
fn bye_for_unknown_dialog_gets_481_without_state() {
    let mut sim = world(default_config());
    let (mut a, _b) = answered_call(&mut sim, "call-3");
    a.remote_tag = "nope".into();
    let bye = a.request("BYE", "bye-x", &[], "");
    sim.ua(0).send(&bye, addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(481);
    assert_eq!(sim.dut.engine.calls(), 1);
}
