//! Non-INVITE client transaction: RFC 3261 §17.1.2.

mod common;

use core::time::Duration;

use common::*;
use sbc_txn::{ClientNonInviteState as S, Config, Dispatch, Timer, TxnId, TxnState};

fn state(h: &H, id: TxnId) -> Option<S> {
    match h.ep.state(id) {
        Some(TxnState::ClientNonInvite(s)) => Some(s),
        None => None,
        other => panic!("not a non-INVITE client: {other:?}"),
    }
}

/// The instants of every transmission up to `until` for a request never answered.
fn schedule(h: &mut H, until: u64) -> Vec<u64> {
    h.at(until);
    h.take_sent().into_iter().map(|(t, _)| t).collect()
}

#[test]
fn timer_e_doubles_up_to_t2_then_timer_f_at_64_t1() {
    let mut h = H::new();
    let id = h.send(request("OPTIONS", Some("z9hG4bKn1")), udp());
    assert_eq!(state(&h, id), Some(S::Trying));
    // Intervals 0.5, 1, 2, 4, 4, 4, ... s until F at 32 s.
    assert_eq!(
        schedule(&mut h, 40_000),
        vec![0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
    );
    assert_eq!(
        h.take_events(),
        vec![
            (32_000, id, E::Timeout(Timer::F)),
            (32_000, id, E::Terminated)
        ]
    );
    assert!(h.ep.is_empty());
    // Ten of the eleven transmissions were retransmissions (the metric's source).
    assert_eq!(h.ep.retransmissions(), 10);
}

#[test]
fn configured_t1_and_t2_shape_the_schedule() {
    let mut h = H::with(Config {
        t1: Duration::from_millis(100),
        t2: Duration::from_millis(400),
        ..Config::default()
    });
    let id = h.send(request("BYE", Some("z9hG4bKn2")), udp());
    // 0.1, 0.2, 0.4, 0.4, ... and F = 64 * 100 ms.
    assert_eq!(
        schedule(&mut h, 1_900),
        vec![0, 100, 300, 700, 1_100, 1_500, 1_900]
    );
    h.at(7_000);
    assert_eq!(h.take_events().last(), Some(&(6_400, id, E::Terminated)));
}

#[test]
fn proceeding_retransmits_every_t2() {
    let mut h = H::new();
    let req = request("INFO", Some("z9hG4bKn3"));
    let id = h.send(req.clone(), udp());
    h.at(600);
    h.recv(response(&req, 100, None), udp());
    assert_eq!(state(&h, id), Some(S::Proceeding));
    // E armed in Trying for 1.5 s fires in Proceeding and is reset to T2 every time.
    assert_eq!(
        schedule(&mut h, 16_000),
        vec![0, 500, 1_500, 5_500, 9_500, 13_500]
    );
    // Further provisionals go up.
    h.recv(response(&req, 180, None), udp());
    let ev: Vec<E> = h.take_events().into_iter().map(|(_, _, e)| e).collect();
    assert_eq!(ev, vec![E::Resp(100), E::Resp(180)]);
    h.at(40_000);
    assert_eq!(
        h.take_events(),
        vec![
            (32_000, id, E::Timeout(Timer::F)),
            (32_000, id, E::Terminated)
        ]
    );
}

#[test]
fn final_response_completes_and_timer_k_absorbs_retransmissions_for_t4() {
    let mut h = H::new();
    let req = request("OPTIONS", Some("z9hG4bKn4"));
    let id = h.send(req.clone(), udp());
    h.at(1_000);
    let ok = response(&req, 200, Some("b1"));
    assert!(matches!(h.recv(ok.clone(), udp()), Dispatch::Matched(t) if t == id));
    assert_eq!(state(&h, id), Some(S::Completed));
    assert_eq!(h.ep.poll_timeout(), Some(ms(6_000)), "Timer K = T4");
    h.at(3_000);
    assert!(matches!(h.recv(ok.clone(), udp()), Dispatch::Matched(t) if t == id));
    h.recv(response(&req, 100, None), udp());
    h.at(10_000);
    assert_eq!(h.take_sent(), sent(&[(0, "OPTIONS"), (500, "OPTIONS")]));
    assert_eq!(
        h.take_events(),
        vec![(1_000, id, E::Resp(200)), (6_000, id, E::Terminated)]
    );
    assert!(matches!(h.recv(ok, udp()), Dispatch::StrayResponse { .. }));
}

#[test]
fn final_in_proceeding() {
    let mut h = H::new();
    let req = request("REFER", Some("z9hG4bKn5"));
    let id = h.send(req.clone(), udp());
    h.recv(response(&req, 100, None), udp());
    h.at(1_000);
    h.recv(response(&req, 603, Some("b1")), udp());
    assert_eq!(state(&h, id), Some(S::Completed));
    h.at(6_000);
    assert_eq!(state(&h, id), None);
    assert_eq!(h.take_sent(), sent(&[(0, "REFER"), (500, "REFER")]));
}

#[test]
fn reliable_transport_has_no_retransmissions_and_k_is_zero() {
    let mut h = H::new();
    let req = request("OPTIONS", Some("z9hG4bKn6"));
    let id = h.send(req.clone(), tcp());
    assert_eq!(h.ep.poll_timeout(), Some(ms(32_000)), "only Timer F");
    h.at(2_000);
    h.recv(response(&req, 200, Some("b1")), tcp());
    assert_eq!(h.take_sent(), sent(&[(0, "OPTIONS")]));
    assert_eq!(
        h.take_events(),
        vec![(2_000, id, E::Resp(200)), (2_000, id, E::Terminated)]
    );
    assert!(h.ep.is_empty());
}

#[test]
fn timer_f_on_reliable_transport() {
    let mut h = H::new();
    let id = h.send(request("MESSAGE", Some("z9hG4bKn7")), tcp());
    h.at(40_000);
    assert_eq!(h.take_sent(), sent(&[(0, "MESSAGE")]));
    assert_eq!(
        h.take_events(),
        vec![
            (32_000, id, E::Timeout(Timer::F)),
            (32_000, id, E::Terminated)
        ]
    );
}

#[test]
fn transport_error_in_trying_and_proceeding_terminates() {
    for provisional in [false, true] {
        let mut h = H::new();
        let req = request("OPTIONS", Some("z9hG4bKn8"));
        let id = h.send(req.clone(), udp());
        if provisional {
            h.recv(response(&req, 100, None), udp());
        }
        h.at(200);
        h.ep.handle_transport_error(h.now, id).unwrap();
        h.collect();
        let ev: Vec<E> = h
            .take_events()
            .into_iter()
            .filter(|(_, _, e)| *e != E::Resp(100))
            .map(|(_, _, e)| e)
            .collect();
        assert_eq!(ev, vec![E::TransportError, E::Terminated]);
        assert!(h.ep.is_empty());
    }
}

#[test]
fn transport_error_in_completed_is_ignored() {
    let mut h = H::new();
    let req = request("OPTIONS", Some("z9hG4bKn9"));
    let id = h.send(req.clone(), udp());
    h.recv(response(&req, 200, None), udp());
    h.ep.handle_transport_error(h.now, id).unwrap();
    assert_eq!(state(&h, id), Some(S::Completed));
}

#[test]
fn extension_methods_are_matched_by_their_token() {
    let mut h = H::new();
    let req = request("FOO", Some("z9hG4bKna"));
    let id = h.send(req.clone(), udp());
    assert!(matches!(
        h.recv(response(&req, 200, None), udp()),
        Dispatch::Matched(t) if t == id
    ));
    // Same branch, another extension method in CSeq: not this transaction.
    let other = request_full("BAR", Some("z9hG4bKna"), "192.0.2.1:5060", None, "BAR");
    assert!(matches!(
        h.recv(response(&other, 200, None), udp()),
        Dispatch::StrayResponse { .. }
    ));
}
