//! Input never panics (architecture principle 10): messages of real call flows, mutated
//! deterministically (bytes flipped, lines dropped or duplicated, truncated, headers
//! swapped between dialogs), are fed to the SBC between real calls; afterwards every table
//! drains.

mod common;

use common::*;
use sbc_b2bua::IdSource;
use sbc_b2bua::SplitMix64;
use sbc_sip::Method;
use sbc_testkit::{response, Node};
use std::time::Duration;

fn mutate(rng: &mut SplitMix64, src: &[u8]) -> Vec<u8> {
    let mut v = src.to_vec();
    match rng.next_u64() % 6 {
        0 => {
            for _ in 0..1 + rng.next_u64() % 4 {
                if v.is_empty() {
                    break;
                }
                let i = (rng.next_u64() as usize) % v.len();
                v[i] = (rng.next_u64() & 0xff) as u8;
            }
        }
        1 => {
            let n = (rng.next_u64() as usize) % (v.len() + 1);
            v.truncate(n);
        }
        2 | 3 => {
            // Drop or duplicate a header line.
            let text = String::from_utf8_lossy(&v).into_owned();
            let mut lines: Vec<&str> = text.split("\r\n").collect();
            if lines.len() > 2 {
                let i = 1 + (rng.next_u64() as usize) % (lines.len() - 2);
                if rng.next_u64() % 2 == 0 {
                    lines.remove(i);
                } else {
                    let l = lines[i];
                    lines.insert(i, l);
                }
            }
            v = lines.join("\r\n").into_bytes();
        }
        4 => {
            // Change the method / status.
            for (a, b) in [
                ("INVITE", "BYE"),
                ("200", "183"),
                ("ACK", "PRACK"),
                ("BYE", "UPDATE"),
            ] {
                let t = String::from_utf8_lossy(&v).into_owned();
                if t.contains(a) && rng.next_u64() % 2 == 0 {
                    v = t.replacen(a, b, 1).into_bytes();
                }
            }
        }
        _ => {
            // Swap the To tag for another value.
            let t = String::from_utf8_lossy(&v).into_owned();
            v = t.replacen(";tag=", ";tag=x", 1).into_bytes();
        }
    }
    v
}

#[test]
fn mutated_traffic_never_panics_and_tables_drain() {
    let mut sim = world(default_config());
    let mut rng = SplitMix64::new(99);
    for round in 0..30 {
        let id = format!("rb-{round}");
        let log_start = sim.wire.log().len();
        let (mut a, mut b, _, _) = answered_with(&mut sim, &id, &[], &[]);
        if round % 2 == 0 {
            sim.ua(0)
                .send(&a.request("INFO", &format!("i-{id}"), &[], ""), addr(SBC));
        } else {
            sim.ua(1).send(
                &b.request("UPDATE", &format!("u-{id}"), &[], SDP_B),
                addr(SBC),
            );
        }
        sim.run_for(ms(10));
        for ua in 0..3 {
            while let Some(r) = sim.ua(ua).take() {
                if let sbc_testkit::Rx::Request { txn, msg, .. } = r {
                    sim.ua(ua).respond(txn, response(&msg, 200, None, &[], ""));
                }
            }
        }
        sim.run_for(ms(10));
        // Replay mutated copies of everything this call put on the wire, from both sides.
        let packets: Vec<_> = sim.wire.log()[log_start..].to_vec();
        for p in &packets {
            for _ in 0..3 {
                let bytes = mutate(&mut rng, &p.bytes);
                let from = if p.from.addr == addr(SBC) {
                    p.to
                } else {
                    p.from
                };
                let now = sim.now();
                sim.dut.receive(now, bytes.into(), from);
            }
        }
        sim.run_for(ms(10));
        for ua in 0..3 {
            sim.ua(ua).clear();
        }
        // End the call if it is still up.
        if sim.dut.engine.calls() > 0 {
            sim.ua(0)
                .send(&a.request("BYE", &format!("b-{id}"), &[], ""), addr(SBC));
            sim.run_for(ms(10));
            while let Some(r) = sim.ua(1).take() {
                if let sbc_testkit::Rx::Request { txn, msg, .. } = r {
                    if msg.method() != Some(Method::Ack) {
                        sim.ua(1).respond(txn, response(&msg, 200, None, &[], ""));
                    }
                }
            }
        }
        sim.run_for(Duration::from_secs(1));
        sim.ua(0).clear();
        sim.ua(1).clear();
    }
    // The mutations reached the engine: extra calls and stateless rejections happened.
    let cdrs = sim.dut.cdrs().len();
    let rejects = sim
        .dut
        .events
        .iter()
        .filter(|e| matches!(e, sbc_b2bua::EngineEvent::Rejected { .. }))
        .count();
    assert!(cdrs >= 30, "{cdrs}");
    assert!(rejects > 20, "{rejects}");
    // Whatever state the mutations created is bounded by timers.
    sim.run_for(Duration::from_secs(400));
    for ua in 0..3 {
        sim.ua(ua).clear();
    }
    assert_drained(&mut sim);
}

/// A body policy with a bug: it panics on bodies containing "boom".
#[derive(Debug)]
struct Buggy;

impl sbc_b2bua::BodyPolicy for Buggy {
    fn rewrite(&self, ctx: &sbc_b2bua::BodyContext<'_>) -> sbc_b2bua::BodyAction {
        assert!(
            !ctx.body.windows(4).any(|w| w == b"boom"),
            "bug triggered by this body"
        );
        sbc_b2bua::BodyAction::Pass
    }
}

const SDP_BOOM: &str = "v=0\r\no=alice 1 2 IN IP4 127.0.0.1\r\ns=boom\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";

/// Architecture principle 10 / issue 4: a panic in one call's processing ends that call
/// (500 to the request that caused it, BYE to both legs, a CDR), is counted, and leaves
/// every other call alone.
#[test]
fn a_panic_in_one_call_ends_that_call_and_no_other() {
    let mut sim = world(default_config());
    sim.dut.engine.set_body_policy(std::sync::Arc::new(Buggy));
    let (mut a1, _b1, _, _) = answered_with(&mut sim, "calm-1", &[], &[]);
    let (mut a2, _b2, _, _) = answered_with(&mut sim, "doomed-2", &[], &[]);
    assert_eq!(sim.dut.engine.calls(), 2);
    sim.ua(0).clear();
    sim.ua(1).clear();
    // A re-INVITE on call 2 trips the bug while it is being relayed.
    sim.ua(0)
        .send(&a2.request("INVITE", "re-boom", &[], SDP_BOOM), addr(SBC));
    sim.run_for(ms(10));
    assert_eq!(sim.dut.panics, 1);
    assert_eq!(sim.dut.engine.calls(), 1, "only the doomed call ended");
    // The re-INVITE got its final answer (no hung transaction) and the caller a BYE ...
    sim.ua(0).expect_response(100);
    let r = sim.ua(0).expect_response(500);
    assert_eq!(r.call_id(), Some(&b"doomed-2"[..]));
    let (t, bye) = sim.ua(0).expect_request(Method::Bye);
    assert_eq!(bye.call_id(), Some(&b"doomed-2"[..]));
    sim.ua(0).respond(t, response(&bye, 200, None, &[], ""));
    // ... and so did the gateway, on call 2's B leg.
    let (t, bye_b) = sim.ua(1).expect_request(Method::Bye);
    sim.ua(1).respond(t, response(&bye_b, 200, None, &[], ""));
    sim.run_for(ms(10));
    let cdrs = sim.dut.cdrs();
    assert_eq!(cdrs.len(), 1);
    assert_eq!(cdrs[0].a_call_id, b"doomed-2");
    assert_eq!(cdrs[0].reason, sbc_b2bua::EndReason::Internal);
    // Call 1 is untouched: a BYE from Alice is relayed and answered as usual.
    sim.ua(0).clear();
    sim.ua(1).clear();
    sim.ua(0)
        .send(&a1.request("BYE", "bye-1", &[], ""), addr(SBC));
    sim.run_for(ms(10));
    let (t, bye1) = sim.ua(1).expect_request(Method::Bye);
    sim.ua(1).respond(t, response(&bye1, 200, None, &[], ""));
    sim.run_for(ms(10));
    sim.ua(0).expect_response(200);
    assert_eq!(sim.dut.cdrs().len(), 2);
    assert_drained(&mut sim);
}

/// A panic while a new INVITE is being set up: the caller gets 500, nothing is left.
#[test]
fn a_panic_during_setup_answers_500_and_leaves_nothing() {
    let mut sim = world(default_config());
    sim.dut.engine.set_body_policy(std::sync::Arc::new(Buggy));
    sim.ua(0)
        .send(&invite("boom-setup", &[], SDP_BOOM), addr(SBC));
    sim.run_for(ms(10));
    assert_eq!(sim.dut.panics, 1);
    sim.ua(0).expect_response(100);
    let r = sim.ua(0).expect_response(500);
    assert_eq!(r.call_id(), Some(&b"boom-setup"[..]));
    assert_eq!(sim.dut.cdrs().len(), 1);
    assert_drained(&mut sim);
}
