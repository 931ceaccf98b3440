//! Decide before allocating: validation, loops, admission (concurrency, CPS, per trunk),
//! drain, routing rejections; header and body policy; orphans; silent peers.

mod common;

use common::*;
use sbc_b2bua::{
    BodyAction, BodyContext, BodyPolicy, EngineConfig, EngineEvent, Limits, RouteDecision, Router,
};
use sbc_sip::{HeaderName, Message, Method};
use sbc_testkit::{header, headers_named, response};
use sbc_txn::Peer;
use std::sync::Arc;
use std::time::Duration;

fn raw_invite(lines: &[&str]) -> String {
    sbc_testkit::request(lines, "")
}

fn rejected(sim: &sbc_testkit::Sim<SbcNode>) -> Vec<(u16, &'static str)> {
    sim.dut
        .events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Rejected { status, why, .. } => Some((*status, *why)),
            _ => None,
        })
        .collect()
}

#[test]
fn max_forwards_zero_is_483_and_one_is_decremented() {
    let mut sim = world(default_config());
    let inv = invite("p-1", &[], SDP_A).replace("Max-Forwards: 70", "Max-Forwards: 0");
    sim.ua(0).send(&inv, addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(483);
    sim.ua(1).expect_nothing();
    let inv = invite("p-1b", &[], SDP_A).replace("Max-Forwards: 70", "Max-Forwards: 1");
    sim.ua(0).send(&inv, addr(SBC));
    sim.run_for(ms(10));
    let (_, b) = sim.ua(1).expect_request(Method::Invite);
    assert_eq!(b.max_forwards(), Some(0));
}

#[test]
fn our_own_branch_coming_back_is_a_loop() {
    let mut sim = world(default_config());
    let inv = invite(
        "p-2",
        &["Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKSb2b0003deadbeefdeadbeef;rport"],
        SDP_A,
    );
    // The extra Via goes after the headers the template starts with; move it up.
    let inv = inv.replace("Via: SIP/2.0/UDP 10.9.9.9", "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKSb2b0003deadbeefdeadbeef\r\nVia: SIP/2.0/UDP 10.9.9.9");
    sim.ua(0).send(&inv, addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(482);
    assert_eq!(rejected(&sim), [(482, "loop detected")]);
    assert_eq!(sim.dut.engine.calls(), 0);
}

#[test]
fn merged_request_is_482() {
    let mut sim = world(default_config());
    sim.ua(0).send(&invite("p-3", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    let again = invite("p-3", &[], SDP_A).replace("branch=z9hG4bKa-p-3", "branch=z9hG4bKother");
    sim.ua(0).send(&again, addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(100);
    sim.ua(0).expect_response(482);
    assert_eq!(sim.dut.engine.calls(), 1);
}

#[test]
fn malformed_and_unsupported_requests_get_the_right_final_response() {
    let mut sim = world(default_config());
    let base = |method: &str, extra: &str| {
        let mut l = vec![
            format!("{method} sip:+1555@127.0.0.1:5060 SIP/2.0"),
            format!(
                "Via: SIP/2.0/UDP {ALICE};branch=z9hG4bK-{method}-{}",
                extra.len()
            ),
            "Max-Forwards: 70".into(),
            "From: <sip:a@example.com>;tag=x".into(),
            "To: <sip:b@example.com>".into(),
            "Call-ID: bad-1".into(),
            format!("CSeq: 1 {method}"),
        ];
        if !extra.is_empty() {
            l.push(extra.to_string());
        }
        let refs: Vec<&str> = l.iter().map(String::as_str).collect();
        raw_invite(&refs)
    };
    let cases: Vec<(String, u16)> = vec![
        (base("INVITE", "Require: foo"), 420),
        (base("FOO", ""), 501),
        (base("REGISTER", ""), 405),
        (base("INFO", ""), 403),
        (base("BYE", ""), 481),
        (base("PRACK", ""), 481),
        (
            base("INVITE", "Content-Type: text/plain")
                .replace("Content-Length: 0\r\n\r\n", "Content-Length: 2\r\n\r\nhi"),
            415,
        ),
        (
            base("INVITE", "").replace(
                "From: <sip:a@example.com>;tag=x",
                "From: <sip:a@example.com>",
            ),
            400,
        ),
    ];
    for (req, status) in cases {
        sim.ua(0).send(&req, addr(SBC));
        sim.run_for(ms(10));
        let r = sim.ua(0).expect_response(status);
        match status {
            420 => assert_eq!(header(&r, HeaderName::Unsupported).unwrap(), "foo"),
            405 => assert!(r.get(HeaderName::Allow).is_some()),
            _ => {}
        }
        assert_eq!(header(&r, HeaderName::Server).unwrap(), "TestSBC/1.0");
    }
    // Out-of-dialog OPTIONS is answered locally (TI-10), without state.
    sim.ua(0).send(&base("OPTIONS", ""), addr(SBC));
    sim.run_for(ms(10));
    let r = sim.ua(0).expect_response(200);
    assert_eq!(header(&r, HeaderName::Accept).unwrap(), "application/sdp");
    assert_eq!(sim.dut.engine.calls(), 0);
    sim.ua(1).expect_nothing();
    assert_drained(&mut sim);
}

#[test]
fn concurrent_call_limit_answers_503_before_any_state() {
    let cfg = EngineConfig {
        limits: Limits {
            max_calls: Some(1),
            ..Limits::default()
        },
        retry_after: 7,
        ..default_config()
    };
    let mut sim = world(cfg);
    sim.ua(0).send(&invite("l-1", &[], SDP_A), addr(SBC));
    sim.ua(0).send(&invite("l-2", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(100);
    let r = sim.ua(0).expect_response(503);
    assert_eq!(header(&r, HeaderName::RetryAfter).unwrap(), "7");
    assert_eq!(r.call_id().unwrap(), b"l-2");
    assert_eq!(sim.dut.engine.calls(), 1);
    assert_eq!(rejected(&sim), [(503, "concurrent call limit")]);
    // The first call ends; the next one is admitted.
    let (t, inv) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1)
        .respond(t, response(&inv, 486, Some("g"), &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(486);
    sim.ua(0).send(&invite("l-3", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(100);
    sim.ua(1).expect_request(Method::Invite);
}

#[test]
fn calls_per_second_is_a_token_bucket_on_the_virtual_clock() {
    let cfg = EngineConfig {
        limits: Limits {
            cps: Some(2),
            burst: Some(2),
            ..Limits::default()
        },
        ..default_config()
    };
    let mut sim = world(cfg);
    for i in 0..3 {
        sim.ua(0)
            .send(&invite(&format!("cps-{i}"), &[], SDP_A), addr(SBC));
    }
    sim.run_for(ms(10));
    let statuses: Vec<u16> = sim
        .ua(0)
        .inbox()
        .iter()
        .map(|r| match r {
            sbc_testkit::Rx::Response { msg, .. } => msg.status().unwrap(),
            _ => 0,
        })
        .collect();
    assert_eq!(statuses, [100, 100, 503]);
    sim.ua(0).clear();
    sim.run_for(ms(490)); // half a second after the burst: one token back
    sim.ua(0).send(&invite("cps-3", &[], SDP_A), addr(SBC));
    sim.ua(0).send(&invite("cps-4", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(100);
    let r = sim.ua(0).expect_response(503);
    assert_eq!(header(&r, HeaderName::RetryAfter).unwrap(), "1");
}

#[test]
fn per_trunk_limit() {
    let mut cfg = default_config();
    cfg.trunk_limits.insert(
        "gw1".into(),
        Limits {
            max_calls: Some(1),
            ..Limits::default()
        },
    );
    let mut sim = world(cfg);
    sim.ua(0).send(&invite("t-1", &[], SDP_A), addr(SBC));
    sim.ua(0).send(&invite("t-2", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(100);
    sim.ua(0).expect_response(503);
    assert_eq!(rejected(&sim), [(503, "trunk concurrent call limit")]);
}

#[test]
fn draining_refuses_new_calls_only() {
    let mut sim = world(default_config());
    let (mut a, _, _, _) = answered_with(&mut sim, "dr-1", &[], &[]);
    sim.dut.engine.set_draining(true);
    sim.ua(0).send(&invite("dr-2", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(503);
    sim.ua(0)
        .send(&a.request("BYE", "bye-dr", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(200);
    sim.ua(1).expect_request(Method::Bye);
}

#[derive(Debug)]
struct Reject404;

impl Router for Reject404 {
    fn route(&self, _req: &Message, _from: Peer) -> RouteDecision {
        RouteDecision::Reject {
            status: 404,
            reason: Some("Unknown Number".into()),
        }
    }
}

#[test]
fn routing_rejection_costs_no_state() {
    let mut sim = world_with(default_config(), Arc::new(Reject404));
    sim.ua(0).send(&invite("rt-1", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    let r = sim.ua(0).expect_response(404);
    assert_eq!(r.reason().unwrap(), b"Unknown Number");
    assert_eq!(sim.dut.engine.calls(), 0);
    assert_eq!(sim.dut.ep.len(), 0, "rejected statelessly");
}

#[derive(Debug)]
struct Anchor;

impl BodyPolicy for Anchor {
    fn rewrite(&self, ctx: &BodyContext<'_>) -> BodyAction {
        let text = String::from_utf8_lossy(ctx.body).replace("127.0.0.1", "192.0.2.99");
        BodyAction::Replace {
            content_type: b"application/sdp".to_vec(),
            body: text.into_bytes(),
        }
    }
}

#[test]
fn header_policy_and_body_hook() {
    let mut cfg = default_config();
    cfg.headers.copy_extra.push("X-Carrier-Info".into());
    cfg.headers.remove.push("P-Asserted-Identity".into());
    cfg.b_side
        .add_headers
        .push(("X-MS-SBC".into(), "Vendor/SBC/1.0".into()));
    let mut sim = world(cfg);
    sim.dut.engine.set_body_policy(Arc::new(Anchor));
    let inv = invite(
        "h-1",
        &["X-Carrier-Info: abc", "Subject: hello", "Priority: urgent"],
        SDP_A,
    );
    sim.ua(0).send(&inv, addr(SBC));
    sim.run_for(ms(10));
    let (_, b) = sim.ua(1).expect_request(Method::Invite);
    assert_eq!(headers_named(&b, "X-Carrier-Info"), ["abc"]);
    assert_eq!(headers_named(&b, "X-MS-SBC"), ["Vendor/SBC/1.0"]);
    assert!(b.get(HeaderName::PAssertedIdentity).is_none());
    assert_eq!(header(&b, HeaderName::Subject).unwrap(), "hello");
    assert_eq!(header(&b, HeaderName::Priority).unwrap(), "urgent");
    assert_eq!(header(&b, HeaderName::UserAgent).unwrap(), "TestSBC/1.0");
    let body = String::from_utf8_lossy(b.body()).into_owned();
    assert!(body.contains("c=IN IP4 192.0.2.99"));
    assert_eq!(b.content_length(), Some(body.len() as u32));
}

#[test]
fn unknown_2xx_with_our_identifiers_is_acked_and_byed_others_ignored() {
    let mut sim = world(default_config());
    let ours = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKSb2b0003aaaaaaaaaaaaaaaa\r\n\
From: <sip:a@x>;tag=0003aaaaaaaaaaaaaaaa\r\n\
To: <sip:b@y>;tag=zz\r\n\
Call-ID: sbc0003.0123456789abcdef0123456789abcdef\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:late@127.0.0.1:5080>\r\n\
Content-Length: 0\r\n\r\n";
    sim.ua(1).send_raw(ours, addr(SBC));
    sim.run_for(ms(10));
    let ack = sim.ua(1).expect_ack();
    assert_eq!(ack.request_uri_raw().unwrap(), b"sip:late@127.0.0.1:5080");
    let (t, bye) = sim.ua(1).expect_request(Method::Bye);
    assert_eq!(bye.cseq().unwrap().seq, 2);
    sim.ua(1).respond(t, response(&bye, 481, None, &[], ""));
    let foreign = ours
        .replace("sbc0003.0123456789abcdef0123456789abcdef", "foreign-call")
        .replace("tag=0003aaaaaaaaaaaaaaaa", "tag=theirs");
    sim.ua(1).send_raw(foreign, addr(SBC));
    sim.run_for(ms(10));
    sim.ua(1).expect_nothing();
    assert_drained(&mut sim);
}

#[test]
fn a_peer_that_stops_answering_costs_timers_not_memory() {
    let mut sim = world(default_config());
    let (mut a, _, _, _) = answered_with(&mut sim, "z-1", &[], &[]);
    // gw1 vanishes.
    sim.wire
        .drop_when(|p| p.to.addr == addr(GW1) || p.from.addr == addr(GW1));
    // An INFO to it times out: 408 upstream, and the dialog is torn down.
    sim.ua(0)
        .send(&a.request("INFO", "info-z", &[], ""), addr(SBC));
    sim.run_for(Duration::from_secs(33));
    // Alice's own Timer F fires 2 ms before our 408 reaches her (same 64*T1, one hop
    // later): the 408 arrives as a stray response.
    assert!(sim
        .wire
        .log()
        .iter()
        .any(|p| p.to.addr == addr(ALICE) && p.first_line() == "SIP/2.0 408 Request Timeout"));
    let bye = loop {
        match sim.ua(0).take() {
            Some(sbc_testkit::Rx::Request { txn, msg, .. })
                if msg.method() == Some(Method::Bye) =>
            {
                break (txn, msg)
            }
            Some(_) => continue,
            None => panic!("no BYE"),
        }
    };
    let (t, bye) = bye;
    sim.ua(0).respond(t, response(&bye, 200, None, &[], ""));
    assert_eq!(sim.dut.engine.calls(), 0);
    assert_drained(&mut sim);
}

#[test]
fn many_calls_leave_nothing_behind() {
    let mut sim = world(default_config());
    for i in 0..50 {
        let id = format!("m-{i}");
        let (mut a, _, _, _) = answered_with(&mut sim, &id, &[], &[]);
        sim.ua(0)
            .send(&a.request("BYE", &format!("bye-{id}"), &[], ""), addr(SBC));
        sim.run_for(ms(10));
        sim.ua(0).expect_response(200);
        let (t, bye) = sim.ua(1).expect_request(Method::Bye);
        sim.ua(1).respond(t, response(&bye, 200, None, &[], ""));
    }
    assert_eq!(sim.dut.cdrs().len(), 50);
    assert_drained(&mut sim);
}

#[test]
fn engine_is_send() {
    fn is_send<T: Send>() {}
    is_send::<sbc_b2bua::Engine>();
}

#[test]
fn every_message_we_build_toward_a_leg_carries_its_added_headers() {
    let mut cfg = default_config();
    cfg.a_side
        .add_headers
        .push(("X-MS-SBC".into(), "Vendor/SBC/1.0".into()));
    let mut sim = world(cfg);
    let (mut a, mut b, _, _) = answered_with(&mut sim, "x-1", &[], &[]);
    // A request toward A (relayed re-INVITE), its ACK, an INFO answered 200, then BYE.
    sim.ua(1)
        .send(&b.request("INVITE", "rb", &[], SDP_B), addr(SBC));
    sim.run_for(ms(10));
    let (t, r) = sim.ua(0).expect_request(Method::Invite);
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
    sim.ua(1)
        .send_raw(b.request_cseq("ACK", 100, "rb-ack", &[], ""), addr(SBC));
    sim.ua(0)
        .send(&a.request("OPTIONS", "opt", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(1).clear();
    sim.ua(0).send(&a.request("BYE", "bye", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    let mut checked = 0;
    for p in sim.wire.log() {
        // The 100 Trying of the INVITE and of the relayed re-INVITE are included (TI-17:
        // every response sent to Microsoft).
        if p.from.addr != addr(SBC) || p.to.addr != addr(ALICE) {
            continue;
        }
        checked += 1;
        assert!(
            p.text().contains("\r\nX-MS-SBC: Vendor/SBC/1.0\r\n"),
            "{}",
            p.first_line()
        );
    }
    assert!(checked >= 5, "{checked}");
    // And none toward the B leg.
    assert!(sim
        .wire
        .log()
        .iter()
        .filter(|p| p.to.addr == addr(GW1))
        .all(|p| !p.text().contains("X-MS-SBC")));
}

/// A Teams-like route: the B leg presents tenant identities (TI-12..TI-14).
#[derive(Debug)]
struct TenantRoute;

impl Router for TenantRoute {
    fn route(&self, _req: &Message, _from: Peer) -> RouteDecision {
        let mut t = sbc_b2bua::Target::new(
            Peer::new(sbc_txn::Transport::Udp, addr(GW1)),
            b"sip:+15551234@sip.pstnhub.microsoft.com;user=phone".to_vec(),
            "teams",
        );
        t.presentation = sbc_b2bua::Presentation {
            from: Some(b"\"Alice\" <sip:+15550001@t1.sbc.example.com;user=phone>".to_vec()),
            to: Some(b"<sip:+15551234@sip.pstnhub.microsoft.com;user=phone>".to_vec()),
            contact: Some("sip:t1.sbc.example.com:5061;transport=tls".into()),
            a_contact: Some("sip:gw-side.sbc.example.net:5060".into()),
            tenant: Some("tenant-1".into()),
            refer: Some(sbc_b2bua::ReferMode::Terminate),
        };
        RouteDecision::Targets(vec![t])
    }
}

/// TI-13/TI-14: the B-leg INVITE carries the From, To and Contact routing chose (tenant FQDN,
/// never an IP), in-dialog requests on that leg keep that Contact, the caller sees our
/// A-side Contact, and the CDR names the tenant.
#[test]
fn routing_presentation_shapes_from_to_and_contact_per_leg() {
    let mut sim = world_with(default_config(), Arc::new(TenantRoute));
    let (mut a, mut b, b_inv, ok) = answered_with(&mut sim, "pres-1", &[], &[]);
    assert_eq!(
        header(&b_inv, HeaderName::From).unwrap(),
        format!(
            "\"Alice\" <sip:+15550001@t1.sbc.example.com;user=phone>;tag={}",
            String::from_utf8_lossy(b_inv.from_tag().unwrap())
        )
    );
    assert_eq!(
        header(&b_inv, HeaderName::To).unwrap(),
        "<sip:+15551234@sip.pstnhub.microsoft.com;user=phone>"
    );
    assert_eq!(
        header(&b_inv, HeaderName::Contact).unwrap(),
        "<sip:t1.sbc.example.com:5061;transport=tls>"
    );
    assert_eq!(
        header(&ok, HeaderName::Contact).unwrap(),
        "<sip:gw-side.sbc.example.net:5060>"
    );
    // The tenant handles transfers here: REFER is offered on the legs routing presented
    // (TI-16), on top of the trunk's Allow.
    assert!(header(&ok, HeaderName::Allow).unwrap().ends_with(", REFER"));
    assert!(header(&b_inv, HeaderName::Allow)
        .unwrap()
        .ends_with(", REFER"));
    // A re-INVITE relayed toward the B leg keeps the tenant Contact.
    sim.ua(1).clear();
    sim.ua(0)
        .send(&a.request("INVITE", "re-1", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    let (t, re) = sim.ua(1).expect_request(Method::Invite);
    assert_eq!(
        header(&re, HeaderName::Contact).unwrap(),
        "<sip:t1.sbc.example.com:5061;transport=tls>"
    );
    sim.ua(1).respond(
        t,
        response(&re, 200, None, &["Contact: <sip:gw@127.0.0.1:5080>"], SDP_B),
    );
    sim.run_for(ms(10));
    // End from the B side.
    sim.ua(0).clear();
    sim.ua(1)
        .send(&b.request("BYE", "bye-p", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    let (t, bye) = sim.ua(0).expect_request(Method::Bye);
    assert_eq!(bye.call_id(), Some(&b"pres-1"[..]));
    sim.ua(0).respond(t, response(&bye, 200, None, &[], ""));
    sim.run_for(ms(10));
    let cdrs = sim.dut.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].tenant.as_deref(), Some("tenant-1"));
    assert_eq!(cdrs[0].trunk_out.as_deref(), Some("teams"));
}

/// Issue 4: header policy per trunk. The gateway trunk drops P-Asserted-Identity, admits
/// X-Carrier-Info, and replaces Priority (remove + add); the caller's leg keeps the
/// engine-wide policy.
#[test]
fn per_trunk_header_policy_with_a_replace_rule() {
    let mut cfg = default_config();
    let mut gw = cfg.b_side.clone();
    gw.headers = Some(sbc_b2bua::HeaderPolicy {
        copy_extra: vec!["X-Carrier-Info".into()],
        remove: vec!["P-Asserted-Identity".into(), "Priority".into()],
        ..sbc_b2bua::HeaderPolicy::default()
    });
    gw.add_headers.push(("Priority".into(), "normal".into()));
    cfg.trunks.insert("gw1".into(), gw);
    let mut sim = world(cfg);
    let inv = invite("tp-1", &["X-Carrier-Info: abc", "Priority: urgent"], SDP_A);
    sim.ua(0).send(&inv, addr(SBC));
    sim.run_for(ms(10));
    let (t, b) = sim.ua(1).expect_request(Method::Invite);
    assert_eq!(headers_named(&b, "X-Carrier-Info"), ["abc"]);
    assert_eq!(headers_named(&b, "Priority"), ["normal"]);
    assert!(b.get(HeaderName::PAssertedIdentity).is_none());
    // Toward the caller the engine-wide list applies: the gateway's PAI crosses back,
    // its X-Carrier-Info does not.
    sim.ua(1).respond(
        t,
        response(
            &b,
            180,
            Some("g1"),
            &[
                "Contact: <sip:gw@127.0.0.1:5080>",
                "P-Asserted-Identity: <sip:+15551234@gw.example.com>",
                "X-Carrier-Info: back",
            ],
            "",
        ),
    );
    sim.run_for(ms(10));
    sim.ua(0).expect_response(100);
    let r = sim.ua(0).expect_response(180);
    assert_eq!(
        header(&r, HeaderName::PAssertedIdentity).unwrap(),
        "<sip:+15551234@gw.example.com>"
    );
    assert!(headers_named(&r, "X-Carrier-Info").is_empty());
}

/// Classifies calls to 911 as emergency calls (what the shell's router does with the
/// emergency crate), and routes like the lab.
#[derive(Debug)]
struct Lab911(sbc_b2bua::StaticRouter);

impl Router for Lab911 {
    fn classify(&self, req: &Message, _from: Peer) -> sbc_b2bua::CallClass {
        if req
            .request_uri_raw()
            .is_some_and(|u| u.starts_with(b"sip:911@"))
        {
            sbc_b2bua::CallClass::Emergency
        } else {
            sbc_b2bua::CallClass::Normal
        }
    }
    fn route(&self, req: &Message, from: Peer) -> RouteDecision {
        self.0.route(req, from)
    }
    fn source_trunk(&self, req: &Message, from: Peer) -> Option<String> {
        self.0.source_trunk(req, from)
    }
}

fn emergency_invite(call_id: &str) -> String {
    invite(call_id, &["Priority: emergency"], SDP_A).replacen(
        "INVITE sip:+15551234@127.0.0.1:5060;user=phone",
        "INVITE sip:911@127.0.0.1:5060",
        1,
    )
}

/// TI-40: an emergency call is admitted past the node's call limit (into the reserved
/// share), past a trunk limit and the CPS bucket, and while draining; normal calls are
/// refused meanwhile. Its CDR says so.
#[test]
fn emergency_calls_pass_every_capacity_refusal() {
    let mut cfg = default_config();
    cfg.limits = Limits {
        max_calls: Some(2),
        cps: Some(1),
        burst: Some(1),
        reserved: 1,
    };
    cfg.trunk_limits.insert(
        "gw1".into(),
        Limits {
            max_calls: Some(1),
            ..Limits::default()
        },
    );
    let router = sbc_b2bua::StaticRouter::lab_default(None);
    let mut sim = world_with(cfg, Arc::new(Lab911(router)));
    let (mut a, _b, _, _) = answered_with(&mut sim, "n-1", &[], &[]);
    // The normal share (2 - 1 reserved) is used and the bucket is empty: refused.
    sim.ua(0).clear();
    sim.ua(0).send(&invite("n-2", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(503);
    // An emergency call goes through all the same, even while draining.
    sim.dut.engine.set_draining(true);
    sim.ua(0).send(&emergency_invite("e-1"), addr(SBC));
    sim.run_for(ms(10));
    let (t, e) = sim.ua(1).expect_request(Method::Invite);
    assert_eq!(header(&e, HeaderName::Priority).unwrap(), "emergency");
    sim.ua(1).respond(
        t,
        response(
            &e,
            200,
            Some("e1"),
            &["Contact: <sip:psap@127.0.0.1:5080>"],
            SDP_B,
        ),
    );
    sim.run_for(ms(10));
    sim.ua(0).expect_response(100);
    let ok = sim.ua(0).expect_response(200);
    assert_eq!(sim.dut.engine.calls(), 2);
    assert_eq!(sim.dut.engine.admitted(), 2);
    // And a second one beyond the node's limit altogether.
    sim.ua(1).expect_ack();
    sim.ua(0).send(&emergency_invite("e-2"), addr(SBC));
    sim.run_for(ms(10));
    sim.ua(1).expect_request(Method::Invite);
    assert_eq!(sim.dut.engine.calls(), 3);
    // End the first emergency call from the caller; its CDR is flagged.
    let inv = Message::parse(bytes::Bytes::from(emergency_invite("e-1"))).unwrap();
    let mut d = sbc_testkit::UaDialog::uac(&inv, &ok, ALICE);
    sim.ua(0)
        .send_raw(d.request("ACK", "ack-e1", &[], ""), addr(SBC));
    sim.ua(0)
        .send(&d.request("BYE", "bye-e1", &[], ""), addr(SBC));
    sim.ua(0)
        .send(&a.request("BYE", "bye-n1", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    let cdrs = sim.dut.cdrs();
    assert!(cdrs.iter().any(|c| c.a_call_id == b"e-1" && c.emergency));
    assert!(cdrs.iter().any(|c| c.a_call_id == b"n-1" && !c.emergency));
}

/// TI-28: toward a gateway that wants Diversion, History-Info becomes Diversion (the
/// diverting party, with the reason of the retargeting), and History-Info itself stays back.
#[test]
fn history_info_becomes_diversion_for_gateways_that_need_it() {
    let mut cfg = default_config();
    let mut gw = cfg.b_side.clone();
    gw.history_to_diversion = true;
    cfg.trunks.insert("gw1".into(), gw);
    let mut sim = world(cfg);
    let inv = invite(
        "hi-1",
        &["History-Info: <sip:+15551000@teams.example.com;user=phone>;index=1, <sip:+15551234@teams.example.com;user=phone;cause=486>;index=1.1"],
        SDP_A,
    );
    sim.ua(0).send(&inv, addr(SBC));
    sim.run_for(ms(10));
    let (_, b) = sim.ua(1).expect_request(Method::Invite);
    assert!(headers_named(&b, "History-Info").is_empty());
    assert_eq!(
        headers_named(&b, "Diversion"),
        ["<sip:+15551000@teams.example.com;user=phone>;reason=user-busy;counter=1"]
    );
}

/// TI-22: Q.850 cause 34 is presented as 17 ("busy") toward the PSTN; other causes and
/// other legs are untouched.
#[test]
fn q850_cause_34_becomes_17_toward_the_pstn() {
    let mut cfg = default_config();
    let mut gw = cfg.b_side.clone();
    gw.q850_34_as_17 = true;
    cfg.trunks.insert("gw1".into(), gw);
    let mut sim = world(cfg);
    let (mut a, _b, _, _) = answered_with(&mut sim, "q-1", &[], &[]);
    sim.ua(1).clear();
    sim.ua(0).send(
        &a.request(
            "BYE",
            "bye-q",
            &["Reason: Q.850;cause=34;text=\"No circuit\""],
            "",
        ),
        addr(SBC),
    );
    sim.run_for(ms(10));
    let (_, bye) = sim.ua(1).expect_request(Method::Bye);
    assert_eq!(
        header(&bye, HeaderName::Reason).unwrap(),
        "Q.850;cause=17;text=\"No circuit\""
    );
}

/// TI-24: for a caller's trunk that stops ringback on 183, a 183 with SDP arrives as a 180
/// without a body; the answer still carries the SDP.
#[test]
fn early_media_as_ringing_per_trunk() {
    let mut cfg = default_config();
    cfg.a_side.early_media_as_ringing = true;
    let mut sim = world(cfg);
    sim.ua(0).send(&invite("em-1", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    let (t, b) = sim.ua(1).expect_request(Method::Invite);
    sim.ua(1).respond(
        t,
        response(
            &b,
            183,
            Some("g1"),
            &["Contact: <sip:gw@127.0.0.1:5080>"],
            SDP_B,
        ),
    );
    sim.run_for(ms(10));
    sim.ua(0).expect_response(100);
    let r = sim.ua(0).expect_response(180);
    assert!(r.body().is_empty());
    sim.ua(1).respond(
        t,
        response(
            &b,
            200,
            Some("g1"),
            &["Contact: <sip:gw@127.0.0.1:5080>"],
            SDP_B,
        ),
    );
    sim.run_for(ms(10));
    let ok = sim.ua(0).expect_response(200);
    assert_eq!(ok.body(), SDP_B.as_bytes());
}

/// A body of `n` bytes that is still SDP.
fn big_sdp(n: usize) -> String {
    let mut s = SDP_A.to_owned();
    while s.len() < n {
        s.push_str("a=x-padding:0123456789012345678901234567890123456789\r\n");
    }
    s
}

/// RFC 3261 §18.1.1 (TI-8, TI-40): a request over 1300 bytes to a UDP target goes over TCP
/// (top Via says TCP); small ones stay on UDP.
#[test]
fn a_large_invite_to_a_udp_gateway_goes_over_tcp() {
    let mut sim = world(default_config());
    sim.ua(0)
        .send(&invite("big-1", &[], &big_sdp(1500)), addr(SBC));
    sim.run_for(ms(10));
    let sent: Vec<_> = sim
        .wire
        .log()
        .iter()
        .filter(|p| p.to.addr == addr(GW1) && p.first_line().starts_with("INVITE "))
        .cloned()
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to.transport, sbc_txn::Transport::Tcp);
    assert!(
        sent[0].text().contains("\r\nVia: SIP/2.0/TCP "),
        "{}",
        sent[0].text()
    );
    sim.ua(0).send(&invite("small-1", &[], SDP_A), addr(SBC));
    sim.run_for(ms(10));
    let small = sim
        .wire
        .log()
        .iter()
        .filter(|p| p.to.addr == addr(GW1) && p.first_line().starts_with("INVITE "))
        .last()
        .cloned()
        .unwrap();
    assert_eq!(small.to.transport, sbc_txn::Transport::Udp);
}

/// §18.1.1: when the TCP connection for an upgraded request is refused, the same target is
/// tried over UDP.
#[test]
fn an_upgraded_request_falls_back_to_udp_when_tcp_is_refused() {
    let mut sim = world(default_config());
    sim.dut.refuse_tcp = true;
    sim.ua(0)
        .send(&invite("big-2", &[], &big_sdp(1500)), addr(SBC));
    sim.run_for(ms(10));
    let (_, b) = sim.ua(1).expect_request(Method::Invite);
    assert!(b.top_via_raw().unwrap().starts_with(b"SIP/2.0/UDP "));
    assert_eq!(sim.dut.engine.calls(), 1);
}
