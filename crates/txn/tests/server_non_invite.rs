//! Non-INVITE server transaction: RFC 3261 §17.2.2.

mod common;

use common::*;
use sbc_txn::{Dispatch, RespondError, ServerNonInviteState as S, TxnId, TxnState};

fn state(h: &H, id: TxnId) -> Option<S> {
    match h.ep.state(id) {
        Some(TxnState::ServerNonInvite(s)) => Some(s),
        None => None,
        other => panic!("not a non-INVITE server: {other:?}"),
    }
}

#[test]
fn trying_absorbs_retransmissions_silently() {
    let mut h = H::new();
    let req = request("OPTIONS", Some("z9hG4bKm1"));
    let id = h.accept(req.clone(), udp());
    assert_eq!(state(&h, id), Some(S::Trying));
    h.at(500);
    assert!(matches!(h.recv(req, udp()), Dispatch::Matched(t) if t == id));
    assert!(
        h.take_sent().is_empty(),
        "no 100 for non-INVITE, nothing to resend"
    );
    assert!(h.take_events().is_empty());
    assert_eq!(h.ep.poll_timeout(), None);
}

#[test]
fn proceeding_resends_the_last_provisional() {
    let mut h = H::new();
    let req = request("REFER", Some("z9hG4bKm2"));
    let id = h.accept(req.clone(), udp());
    h.respond(id, response(&req, 100, None));
    assert_eq!(state(&h, id), Some(S::Proceeding));
    h.at(500);
    h.recv(req.clone(), udp());
    h.respond(id, response(&req, 183, Some("s1")));
    h.recv(req, udp());
    assert_eq!(
        h.take_sent(),
        sent(&[(0, "100"), (500, "100"), (500, "183"), (500, "183")])
    );
}

#[test]
fn completed_resends_the_final_until_timer_j() {
    let mut h = H::new();
    let req = request("BYE", Some("z9hG4bKm3"));
    let id = h.accept(req.clone(), udp());
    h.at(1_000);
    h.respond(id, response(&req, 200, Some("s1")));
    assert_eq!(state(&h, id), Some(S::Completed));
    assert_eq!(h.ep.poll_timeout(), Some(ms(33_000)), "Timer J = 64*T1");
    h.at(4_000);
    assert!(matches!(h.recv(req.clone(), udp()), Dispatch::Matched(t) if t == id));
    h.at(40_000);
    assert_eq!(h.take_sent(), sent(&[(1_000, "200"), (4_000, "200")]));
    assert_eq!(h.take_events(), vec![(33_000, id, E::Terminated)]);
    assert!(h.ep.is_empty());
    assert!(matches!(h.recv(req, udp()), Dispatch::Incoming(_)));
}

#[test]
fn final_from_proceeding() {
    let mut h = H::new();
    let req = request("INFO", Some("z9hG4bKm4"));
    let id = h.accept(req.clone(), udp());
    h.respond(id, response(&req, 100, None));
    h.respond(id, response(&req, 415, Some("s1")));
    assert_eq!(state(&h, id), Some(S::Completed));
    h.recv(req, udp());
    assert_eq!(h.take_sent(), sent(&[(0, "100"), (0, "415"), (0, "415")]));
}

#[test]
fn timer_j_is_zero_on_reliable_transports() {
    let mut h = H::new();
    let req = request("OPTIONS", Some("z9hG4bKm5"));
    let id = h.accept(req.clone(), tcp());
    h.respond(id, response(&req, 200, Some("s1")));
    assert_eq!(h.take_events(), vec![(0, id, E::Terminated)]);
    assert!(h.ep.is_empty());
    assert_eq!(h.ep.poll_timeout(), None);
}

#[test]
fn a_second_final_is_refused() {
    let mut h = H::new();
    let req = request("MESSAGE", Some("z9hG4bKm6"));
    let id = h.accept(req.clone(), udp());
    h.respond(id, response(&req, 202, Some("s1")));
    assert_eq!(
        h.ep.respond(h.now, id, response(&req, 500, Some("s1"))),
        Err(RespondError::InvalidState {
            state: TxnState::ServerNonInvite(S::Completed),
            status: 500
        })
    );
    h.collect();
    assert_eq!(h.take_sent(), sent(&[(0, "202")]));
}

#[test]
fn transport_errors() {
    // Trying: nothing sent, no effect.
    let mut h = H::new();
    let req = request("OPTIONS", Some("z9hG4bKm7"));
    let id = h.accept(req.clone(), udp());
    h.ep.handle_transport_error(h.now, id).unwrap();
    h.collect();
    assert_eq!(state(&h, id), Some(S::Trying));
    assert!(h.take_events().is_empty());
    // Proceeding and Completed: inform the TU and terminate.
    for final_first in [false, true] {
        let b = if final_first {
            "z9hG4bKm8"
        } else {
            "z9hG4bKm9"
        };
        let req = request("OPTIONS", Some(b));
        let id = h.accept(req.clone(), udp());
        let status = if final_first { 200 } else { 100 };
        h.respond(id, response(&req, status, None));
        h.ep.handle_transport_error(h.now, id).unwrap();
        h.collect();
        assert_eq!(
            h.take_events(),
            vec![(0, id, E::TransportError), (0, id, E::Terminated)]
        );
    }
}
