//! RFC 4028 session timers per leg: we refresh where we are refresher, tear down both legs
//! when the other side does not; 422 for intervals below Min-SE.

mod common;

use common::*;
use sbc_b2bua::EndReason;
use sbc_sip::{HeaderName, Method};
use sbc_testkit::{header, response};
use std::time::Duration;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn b_leg_refreshed_by_us_at_half_the_interval() {
    let mut sim = world(default_config());
    let (_a, _b, b_inv, a_ok) = answered_with(
        &mut sim,
        "s-1",
        &[],
        &["Session-Expires: 90;refresher=uac", "Require: timer"],
    );
    assert_eq!(header(&b_inv, HeaderName::SessionExpires).unwrap(), "1800");
    assert_eq!(header(&b_inv, HeaderName::MinSe).unwrap(), "90");
    // The A leg negotiates on its own: Alice supports timer and asked nothing: we refresh.
    assert_eq!(
        header(&a_ok, HeaderName::SessionExpires).unwrap(),
        "1800;refresher=uas"
    );
    let answered_at = 11;
    sim.run_until(sbc_txn::Instant::from_millis(answered_at + 44_990));
    sim.ua(1).expect_nothing();
    sim.run_for(ms(20));
    let (t, r) = sim.ua(1).expect_request(Method::Invite);
    let sent = sim
        .wire
        .log()
        .iter()
        .rev()
        .find(|p| p.first_line().starts_with("INVITE"))
        .unwrap()
        .sent_at;
    assert_eq!(sent, sbc_txn::Instant::from_millis(answered_at + 45_000));
    assert_eq!(r.cseq().unwrap().seq, 2);
    assert_eq!(
        header(&r, HeaderName::SessionExpires).unwrap(),
        "90;refresher=uac"
    );
    assert_eq!(
        r.body(),
        SDP_A.as_bytes(),
        "a refresh re-offers the last SDP sent on the leg"
    );
    sim.ua(1).respond(
        t,
        response(
            &r,
            200,
            None,
            &[
                "Session-Expires: 90;refresher=uac",
                "Contact: <sip:gw@127.0.0.1:5080>",
            ],
            SDP_B,
        ),
    );
    sim.run_for(ms(10));
    let ack = sim.ua(1).expect_ack();
    assert_eq!(ack.cseq().unwrap().seq, 2);
    // The refresh is leg-local: Alice sees nothing.
    sim.ua(0).expect_nothing();
    // And the next one comes 45 s after this one.
    sim.run_for(secs(44));
    sim.ua(1).expect_nothing();
    sim.run_for(secs(1));
    let (t, r) = sim.ua(1).expect_request(Method::Invite);
    assert_eq!(r.cseq().unwrap().seq, 3);
    // A 481 to a refresh ends the call on both legs (RFC 4028 §10, RFC 3261 §12.2.1.2).
    sim.ua(1).respond(t, response(&r, 481, None, &[], ""));
    sim.run_for(ms(10));
    let (t, bye) = sim.ua(0).expect_request(Method::Bye);
    sim.ua(0).respond(t, response(&bye, 200, None, &[], ""));
    assert_eq!(sim.dut.cdrs()[0].reason, EndReason::RefreshFailed);
    assert_drained(&mut sim);
}

#[test]
fn refresh_glare_491_is_retried_after_a_random_2_to_4_seconds() {
    let mut sim = world(default_config());
    answered_with(&mut sim, "s-2", &[], &["Session-Expires: 90;refresher=uac"]);
    sim.run_for(secs(46));
    let (t, r) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1).respond(t, response(&r, 491, None, &[], ""));
    sim.run_for(ms(2000));
    sim.ua(1).expect_nothing();
    sim.run_for(ms(2100));
    let (t, r2) = sim.ua(1).expect_request(Method::Invite);
    assert_eq!(r2.cseq().unwrap().seq, 3);
    sim.ua(1).respond(
        t,
        response(
            &r2,
            200,
            None,
            &["Session-Expires: 90;refresher=uac"],
            SDP_B,
        ),
    );
    sim.run_for(ms(10));
    sim.ua(1).expect_ack();
    assert_eq!(sim.dut.engine.calls(), 1);
}

#[test]
fn a_leg_not_refreshed_expires_and_both_legs_get_bye() {
    let mut sim = world(default_config());
    let (_a, _b, b_inv, a_ok) = answered_with(
        &mut sim,
        "s-3",
        &["Session-Expires: 120;refresher=uac"],
        &[],
    );
    // Alice asked to refresh herself; the answer confirms it and requires timer.
    assert_eq!(
        header(&a_ok, HeaderName::SessionExpires).unwrap(),
        "120;refresher=uac"
    );
    assert_eq!(header(&a_ok, HeaderName::Require).unwrap(), "timer");
    // gw1 did not answer with Session-Expires: no timer on the B leg; the B INVITE asked
    // for our own interval, not Alice's.
    assert_eq!(header(&b_inv, HeaderName::SessionExpires).unwrap(), "1800");
    let start = sim.wire.log().len();
    sim.run_for(secs(100));
    // §10: the expiry is the interval minus min(32, interval/3) = 88 s after the answer.
    let byes: Vec<_> = sim.wire.log()[start..]
        .iter()
        .filter(|p| p.first_line().starts_with("BYE"))
        .map(|p| (p.to.addr, p.sent_at))
        .collect();
    let at = sbc_txn::Instant::from_millis(11 + 88_000);
    assert!(
        byes.contains(&(addr(ALICE), at)) && byes.contains(&(addr(GW1), at)),
        "{byes:?}"
    );
    assert_eq!(sim.dut.cdrs()[0].reason, EndReason::SessionExpired);
    sim.ua(0).clear();
    sim.ua(1).clear();
    assert_drained(&mut sim);
}

#[test]
fn a_refresh_relayed_end_to_end_restarts_both_timers() {
    let mut sim = world(default_config());
    let (mut a, _b, _, _) = answered_with(
        &mut sim,
        "s-4",
        &["Session-Expires: 120;refresher=uac"],
        &[],
    );
    sim.run_for(secs(60));
    sim.ua(0).send(
        &a.request(
            "INVITE",
            "refresh-a",
            &["Session-Expires: 120;refresher=uac", "Supported: timer"],
            SDP_A,
        ),
        addr(SBC),
    );
    sim.run_for(ms(10));
    let (t, r) = sim.ua(1).expect_request(Method::Invite);
    // Toward gw1 the B leg's own session parameters, not Alice's (none on this leg).
    assert!(r.get(HeaderName::SessionExpires).is_none());
    sim.ua(1).respond(
        t,
        response(&r, 200, None, &["Contact: <sip:gw@127.0.0.1:5080>"], SDP_B),
    );
    sim.run_for(ms(10));
    sim.ua(0).expect_response(100);
    let ok = sim.ua(0).expect_response(200);
    assert_eq!(
        header(&ok, HeaderName::SessionExpires).unwrap(),
        "120;refresher=uac"
    );
    sim.ua(0)
        .send_raw(a.request("ACK", "ack-refresh-a", &[], ""), addr(SBC));
    // The old expiry (88 s) passes without a BYE; the new one is 88 s after the refresh.
    sim.run_for(secs(80));
    assert!(
        sim.ua(0).inbox().is_empty(),
        "{:?}",
        sim.ua(0).inbox().front().map(|r| r.describe())
    );
    assert_eq!(sim.dut.engine.calls(), 1);
    sim.run_for(secs(10));
    sim.ua(0).expect_request(Method::Bye);
}

#[test]
fn session_interval_below_min_se_gets_422_without_state() {
    let mut sim = world(default_config());
    sim.ua(0)
        .send(&invite("s-5", &["Session-Expires: 30"], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    let r = sim.ua(0).expect_response(422);
    assert_eq!(header(&r, HeaderName::MinSe).unwrap(), "90");
    assert_eq!(sim.dut.engine.calls(), 0);
    sim.ua(1).expect_nothing();
    assert_drained(&mut sim);
}

#[test]
fn b_side_422_is_retried_once_with_its_min_se() {
    let cfg = sbc_b2bua::EngineConfig {
        session_timers: Some(sbc_b2bua::SessionTimers {
            interval: 90,
            min_se: 90,
        }),
        ..default_config()
    };
    let mut sim = world(cfg);
    sim.ua(0).send(&invite("s-6", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    let (t, inv) = sim.ua(1).expect_request(Method::Invite);
    assert_eq!(header(&inv, HeaderName::SessionExpires).unwrap(), "90");
    sim.ua(1)
        .respond(t, response(&inv, 422, Some("g1"), &["Min-SE: 600"], ""));
    sim.run_for(ms(10));
    let (_, inv2) = sim.ua(1).expect_request(Method::Invite);
    assert_eq!(header(&inv2, HeaderName::SessionExpires).unwrap(), "600");
    sim.ua(0).expect_response(100);
    sim.ua(0).expect_nothing();
}

#[test]
fn session_timers_off_means_no_headers() {
    let cfg = sbc_b2bua::EngineConfig {
        session_timers: None,
        ..default_config()
    };
    let mut sim = world(cfg);
    let (_, _, b_inv, a_ok) = answered_with(&mut sim, "s-7", &["Session-Expires: 120"], &[]);
    assert!(b_inv.get(HeaderName::SessionExpires).is_none());
    assert!(b_inv
        .get(HeaderName::Supported)
        .is_none_or(|v| !String::from_utf8_lossy(v).contains("timer")));
    assert!(a_ok.get(HeaderName::SessionExpires).is_none());
    sim.run_for(secs(200));
    assert_eq!(sim.dut.engine.calls(), 1);
}

#[test]
fn refresh_by_update_where_the_policy_prefers_it_and_the_peer_allows_it() {
    let mut cfg = default_config();
    cfg.b_side.refresh_with_update = true;
    let mut sim = world(cfg);
    answered_with(
        &mut sim,
        "s-8",
        &[],
        &[
            "Session-Expires: 90;refresher=uac",
            "Allow: INVITE, ACK, BYE, CANCEL, UPDATE",
        ],
    );
    sim.run_for(secs(46));
    let (t, u) = sim.ua(1).expect_request(Method::Update);
    assert!(u.body().is_empty(), "an UPDATE refresh carries no offer");
    assert_eq!(
        header(&u, HeaderName::SessionExpires).unwrap(),
        "90;refresher=uac"
    );
    sim.ua(1).respond(
        t,
        response(&u, 200, None, &["Session-Expires: 90;refresher=uac"], ""),
    );
    sim.run_for(ms(10));
    sim.ua(1).expect_nothing(); // no ACK for UPDATE
    sim.run_for(secs(45));
    sim.ua(1).expect_request(Method::Update);
}
