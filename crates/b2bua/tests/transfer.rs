//! Blind transfer terminated by the SBC (RFC 3515, TI-26). The called side (gw1 here plays
//! the Microsoft edge) refers the call to a third party; the SBC answers 202, reports the
//! progress by NOTIFY, sends the new INVITE back to the transferor's peer with the Refer-To
//! URI and Referred-By untouched, and re-bridges the caller to the new dialog.

mod common;

use common::*;
use sbc_b2bua::{EngineConfig, ReferMode};
use sbc_sip::{HeaderName, Message, Method};
use sbc_testkit::{header, response, Sim};

const SDP_C: &str = "v=0\r\no=carol 5 5 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 52000 RTP/AVP 0\r\n";
const REFER_TO: &str =
    "<sip:+15559999@sip.pstnhub.microsoft.com;user=phone?X-Header=1>;x-ms-param=7";
const REFERRED_BY: &str = "<sip:bob@t1.example.com;x-ms-tenant=\"a,b\">;x-ms-thing=ABC%20def";

fn teams_b_side() -> EngineConfig {
    let mut cfg = default_config();
    cfg.b_side.refer = ReferMode::Terminate;
    cfg.b_side.allow = "INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY, REFER".into();
    cfg
}

fn sipfrag(m: &Message) -> String {
    String::from_utf8_lossy(m.body()).into_owned()
}

/// REFER from gw1 on the answered call; returns the new INVITE (and its server txn at gw1)
/// after checking the 202 and the first NOTIFY.
fn refer(
    sim: &mut Sim<SbcNode>,
    b: &mut sbc_testkit::UaDialog,
    b_inv: &Message,
) -> (sbc_txn::TxnId, Message) {
    sim.ua(0).clear();
    sim.ua(1).clear();
    let r = b.request(
        "REFER",
        "refer-1",
        &[
            &format!("Refer-To: {REFER_TO}"),
            &format!("Referred-By: {REFERRED_BY}"),
        ],
        "",
    );
    sim.ua(1).send(&r, addr(SBC));
    sim.run_for(ms(10));
    sim.ua(1).expect_response(202);
    let (t, n) = sim.ua(1).expect_request(Method::Notify);
    assert_eq!(header(&n, HeaderName::Event).unwrap(), "refer");
    assert_eq!(
        header(&n, HeaderName::SubscriptionState).unwrap(),
        "active;expires=60"
    );
    assert_eq!(sipfrag(&n), "SIP/2.0 100 Trying\r\n");
    assert_eq!(n.call_id(), b_inv.call_id(), "on the transferor's dialog");
    sim.ua(1).respond(t, response(&n, 200, None, &[], ""));
    // TI-26: the new INVITE goes to the transferor's peer, never straight to the PSTN.
    let (t, inv) = sim.ua(1).expect_request(Method::Invite);
    assert_eq!(
        inv.request_uri_raw(),
        Some(&b"sip:+15559999@sip.pstnhub.microsoft.com;user=phone"[..]),
        "the Refer-To URI without its ?headers"
    );
    assert_eq!(
        header(&inv, HeaderName::ReferredBy).unwrap(),
        REFERRED_BY,
        "byte for byte"
    );
    assert_ne!(inv.call_id(), b_inv.call_id(), "a new dialog");
    assert_eq!(
        inv.body(),
        SDP_A.as_bytes(),
        "the SDP last sent to the transferor"
    );
    assert_eq!(
        header(&inv, HeaderName::Contact).unwrap(),
        header(b_inv, HeaderName::Contact).unwrap()
    );
    assert!(sim.ua(0).inbox().is_empty(), "the caller sees nothing yet");
    (t, inv)
}

#[test]
fn transfer_completes_then_the_transferor_hangs_up() {
    let mut sim = world(teams_b_side());
    let (mut a, mut b, b_inv, _) = answered_with(&mut sim, "xfer-1", &[], &[]);
    let (t, inv) = refer(&mut sim, &mut b, &b_inv);
    sim.ua(1).respond(
        t,
        response(
            &inv,
            180,
            Some("c1"),
            &["Contact: <sip:carol@127.0.0.1:5080>"],
            "",
        ),
    );
    sim.run_for(ms(10));
    let (tn, n) = sim.ua(1).expect_request(Method::Notify);
    assert_eq!(sipfrag(&n), "SIP/2.0 180 Ringing\r\n");
    sim.ua(1).respond(tn, response(&n, 200, None, &[], ""));
    sim.ua(1).respond(
        t,
        response(
            &inv,
            200,
            Some("c1"),
            &["Contact: <sip:carol@127.0.0.1:5080>"],
            SDP_C,
        ),
    );
    sim.run_for(ms(10));
    let ack = sim.ua(1).expect_ack();
    assert_eq!(ack.call_id(), inv.call_id());
    let (tn, n) = sim.ua(1).expect_request(Method::Notify);
    assert_eq!(sipfrag(&n), "SIP/2.0 200 OK\r\n");
    assert_eq!(
        header(&n, HeaderName::SubscriptionState).unwrap(),
        "terminated;reason=noresource"
    );
    sim.ua(1).respond(tn, response(&n, 200, None, &[], ""));
    // The caller is re-bridged to the new party's media.
    let (tr, re) = sim.ua(0).expect_request(Method::Invite);
    assert_eq!(re.call_id(), Some(&b"xfer-1"[..]));
    assert_eq!(re.body(), SDP_C.as_bytes());
    sim.ua(0).respond(
        tr,
        response(
            &re,
            200,
            None,
            &["Contact: <sip:alice@127.0.0.1:5070>"],
            SDP_A,
        ),
    );
    sim.run_for(ms(10));
    sim.ua(0).expect_ack();
    // Microsoft ends the old dialog after the final NOTIFY: only that dialog ends.
    sim.ua(1)
        .send(&b.request("BYE", "bye-old", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(1).expect_response(200);
    assert_eq!(sim.dut.engine.calls(), 1);
    assert!(sim.ua(0).inbox().is_empty(), "{:?}", sim.ua(0).inbox());
    // The caller hangs up: the BYE goes on the new dialog.
    sim.ua(0)
        .send(&a.request("BYE", "bye-a", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    let (tb, bye) = sim.ua(1).expect_request(Method::Bye);
    assert_eq!(bye.call_id(), inv.call_id());
    sim.ua(1).respond(tb, response(&bye, 200, None, &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(200);
    assert_eq!(sim.dut.cdrs().len(), 1);
    assert_drained(&mut sim);
}

#[test]
fn a_bye_from_the_transferor_right_after_the_202_ends_only_its_dialog() {
    let mut sim = world(teams_b_side());
    let (mut a, mut b, b_inv, _) = answered_with(&mut sim, "xfer-2", &[], &[]);
    let (t, inv) = refer(&mut sim, &mut b, &b_inv);
    sim.ua(1)
        .send(&b.request("BYE", "bye-early", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(1).expect_response(200);
    assert_eq!(sim.dut.engine.calls(), 1, "the caller's leg stays");
    assert!(sim.ua(0).inbox().is_empty(), "no BYE to the caller");
    sim.ua(1).respond(
        t,
        response(
            &inv,
            200,
            Some("c2"),
            &["Contact: <sip:carol@127.0.0.1:5080>"],
            SDP_C,
        ),
    );
    sim.run_for(ms(10));
    sim.ua(1).expect_ack();
    // No NOTIFY to a dialog that is gone.
    assert!(sim
        .ua(1)
        .inbox()
        .iter()
        .all(|m| !format!("{m:?}").contains("NOTIFY")));
    let (tr, re) = sim.ua(0).expect_request(Method::Invite);
    assert_eq!(re.body(), SDP_C.as_bytes());
    sim.ua(0).respond(
        tr,
        response(
            &re,
            200,
            None,
            &["Contact: <sip:alice@127.0.0.1:5070>"],
            SDP_A,
        ),
    );
    sim.run_for(ms(10));
    sim.ua(0).expect_ack();
    sim.ua(0)
        .send(&a.request("BYE", "bye-a2", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    let (tb, bye) = sim.ua(1).expect_request(Method::Bye);
    assert_eq!(bye.call_id(), inv.call_id());
    sim.ua(1).respond(tb, response(&bye, 200, None, &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(200);
    assert_drained(&mut sim);
}

#[test]
fn a_failed_transfer_is_reported_and_the_call_goes_on() {
    let mut sim = world(teams_b_side());
    let (mut a, mut b, b_inv, _) = answered_with(&mut sim, "xfer-3", &[], &[]);
    let (t, inv) = refer(&mut sim, &mut b, &b_inv);
    sim.ua(1)
        .respond(t, response(&inv, 486, Some("c3"), &[], ""));
    sim.run_for(ms(10));
    let (tn, n) = sim.ua(1).expect_request(Method::Notify);
    assert_eq!(sipfrag(&n), "SIP/2.0 486 Busy Here\r\n");
    assert_eq!(
        header(&n, HeaderName::SubscriptionState).unwrap(),
        "terminated;reason=noresource"
    );
    sim.ua(1).respond(tn, response(&n, 200, None, &[], ""));
    sim.run_for(ms(10));
    assert!(sim.ua(0).inbox().is_empty());
    // Still bridged to the transferor: a BYE from the caller reaches the original dialog.
    sim.ua(0)
        .send(&a.request("BYE", "bye-a3", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    let (tb, bye) = sim.ua(1).expect_request(Method::Bye);
    assert_eq!(bye.call_id(), b_inv.call_id());
    sim.ua(1).respond(tb, response(&bye, 200, None, &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(200);
    assert_drained(&mut sim);
}

#[test]
fn the_transferor_gone_and_the_new_call_failing_releases_the_caller() {
    let mut sim = world(teams_b_side());
    let (_a, mut b, b_inv, _) = answered_with(&mut sim, "xfer-4", &[], &[]);
    let (t, inv) = refer(&mut sim, &mut b, &b_inv);
    sim.ua(1)
        .send(&b.request("BYE", "bye-4", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(1).expect_response(200);
    sim.ua(1)
        .respond(t, response(&inv, 480, Some("c4"), &[], ""));
    sim.run_for(ms(10));
    let (tb, bye) = sim.ua(0).expect_request(Method::Bye);
    assert_eq!(bye.call_id(), Some(&b"xfer-4"[..]));
    sim.ua(0).respond(tb, response(&bye, 200, None, &[], ""));
    sim.run_for(ms(10));
    let cdrs = sim.dut.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].reason, sbc_b2bua::EndReason::TransferFailed);
    assert_drained(&mut sim);
}

#[test]
fn refer_on_a_leg_that_does_not_terminate_them_gets_501() {
    let mut sim = world(default_config());
    let (_a, mut b, _, _) = answered_with(&mut sim, "xfer-5", &[], &[]);
    sim.ua(1).clear();
    let r = b.request("REFER", "refer-5", &[&format!("Refer-To: {REFER_TO}")], "");
    sim.ua(1).send(&r, addr(SBC));
    sim.run_for(ms(10));
    let resp = sim.ua(1).expect_response(501);
    assert!(!header(&resp, HeaderName::Allow).unwrap().contains("REFER"));
}

#[test]
fn a_second_refer_while_one_is_under_way_gets_491() {
    let mut sim = world(teams_b_side());
    let (_a, mut b, b_inv, _) = answered_with(&mut sim, "xfer-6", &[], &[]);
    let _ = refer(&mut sim, &mut b, &b_inv);
    let r = b.request("REFER", "refer-6b", &[&format!("Refer-To: {REFER_TO}")], "");
    sim.ua(1).send(&r, addr(SBC));
    sim.run_for(ms(10));
    sim.ua(1).expect_response(491);
}

/// TI-27 / RFC 3891: Microsoft replaces its dialog with a new INVITE carrying Replaces. The
/// new offer reaches the caller as a re-INVITE, the caller's answer goes back in our 200,
/// the new dialog takes the old one's place, and the old dialog gets a BYE.
#[test]
fn an_invite_with_replaces_takes_the_place_of_the_named_dialog() {
    let mut sim = world(teams_b_side());
    let (mut a, _b, b_inv, _) = answered_with(&mut sim, "rep-1", &[], &[]);
    sim.ua(0).clear();
    sim.ua(1).clear();
    let b_cid = String::from_utf8(b_inv.call_id().unwrap().to_vec()).unwrap();
    let our_tag = String::from_utf8(b_inv.from_tag().unwrap().to_vec()).unwrap();
    let z = sbc_testkit::request(
        &[
            "INVITE sip:+15550001@127.0.0.1:5060 SIP/2.0",
            "Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKz1",
            "Max-Forwards: 70",
            "From: <sip:+15551234@teams.example.com>;tag=z-tag",
            "To: <sip:+15550001@sbc.example.com>",
            "Call-ID: z-1",
            "CSeq: 1 INVITE",
            "Contact: <sip:z@127.0.0.1:5080>",
            &format!("Replaces: {b_cid};to-tag={our_tag};from-tag=g1"),
            "Content-Type: application/sdp",
        ],
        SDP_C,
    );
    sim.ua(1).send(&z, addr(SBC));
    sim.run_for(ms(10));
    // The caller gets the new party's offer on its own dialog.
    let (tr, re) = sim.ua(0).expect_request(Method::Invite);
    assert_eq!(re.call_id(), Some(&b"rep-1"[..]));
    assert_eq!(re.body(), SDP_C.as_bytes());
    const SDP_A2: &str = "v=0\r\no=alice 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\n";
    sim.ua(0).respond(
        tr,
        response(
            &re,
            200,
            None,
            &["Contact: <sip:alice@127.0.0.1:5070>"],
            SDP_A2,
        ),
    );
    sim.run_for(ms(10));
    sim.ua(0).expect_ack();
    sim.ua(1).expect_response(100);
    let ok = sim.ua(1).expect_response(200);
    assert_eq!(ok.call_id(), Some(&b"z-1"[..]));
    assert_eq!(ok.body(), SDP_A2.as_bytes());
    assert!(ok.to_tag().is_some());
    // The replaced dialog is ended.
    let (tb, bye) = sim.ua(1).expect_request(Method::Bye);
    assert_eq!(bye.call_id(), b_inv.call_id());
    sim.ua(1).respond(tb, response(&bye, 200, None, &[], ""));
    let z_msg = Message::parse(bytes::Bytes::from(z)).unwrap();
    let mut zd = sbc_testkit::UaDialog::uac(&z_msg, &ok, GW1);
    sim.ua(1)
        .send_raw(zd.request("ACK", "z-ack", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    assert_eq!(sim.dut.engine.calls(), 1);
    // The caller hangs up: the BYE goes on the new dialog.
    sim.ua(0)
        .send(&a.request("BYE", "bye-rep", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    let (tb, bye) = sim.ua(1).expect_request(Method::Bye);
    assert_eq!(bye.call_id(), Some(&b"z-1"[..]));
    sim.ua(1).respond(tb, response(&bye, 200, None, &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(200);
    assert_eq!(sim.dut.cdrs().len(), 1);
    assert_drained(&mut sim);
}

/// RFC 3891 §3: a Replaces naming no dialog of ours gets 481 and creates nothing.
#[test]
fn replaces_naming_no_dialog_gets_481() {
    let mut sim = world(teams_b_side());
    let z = sbc_testkit::request(
        &[
            "INVITE sip:+15550001@127.0.0.1:5060 SIP/2.0",
            "Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKz2",
            "Max-Forwards: 70",
            "From: <sip:+15551234@teams.example.com>;tag=z-tag",
            "To: <sip:+15550001@sbc.example.com>",
            "Call-ID: z-2",
            "CSeq: 1 INVITE",
            "Contact: <sip:z@127.0.0.1:5080>",
            "Replaces: nothing-here;to-tag=a;from-tag=b",
            "Content-Type: application/sdp",
        ],
        SDP_C,
    );
    sim.ua(1).send(&z, addr(SBC));
    sim.run_for(ms(10));
    sim.ua(1).expect_response(481);
    assert_eq!(sim.dut.engine.calls(), 0);
    assert_eq!(sim.dut.ep.len(), 0);
}
