//! INVITE client transaction: RFC 3261 §17.1.1 with RFC 6026 "Accepted" (Timer M).

mod common;

use common::*;
use sbc_sip::Method;
use sbc_txn::{ClientInviteState as S, Dispatch, Timer, TxnState, UnknownTxn};

fn state(h: &H, id: sbc_txn::TxnId) -> Option<S> {
    match h.ep.state(id) {
        Some(TxnState::ClientInvite(s)) => Some(s),
        None => None,
        other => panic!("not an INVITE client: {other:?}"),
    }
}

#[test]
fn timer_a_doubles_without_cap_then_timer_b_at_64_t1() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKc1"));
    let id = h.send(inv, udp());
    assert_eq!(state(&h, id), Some(S::Calling));
    h.at(40_000);
    // Intervals 0.5, 1, 2, 4, 8, 16 s: A is not capped by T2 for INVITE.
    assert_eq!(
        h.take_sent(),
        sent(&[
            (0, "INVITE"),
            (500, "INVITE"),
            (1_500, "INVITE"),
            (3_500, "INVITE"),
            (7_500, "INVITE"),
            (15_500, "INVITE"),
            (31_500, "INVITE"),
        ])
    );
    assert_eq!(
        h.take_events(),
        vec![
            (32_000, id, E::Timeout(Timer::B)),
            (32_000, id, E::Terminated)
        ]
    );
    assert!(h.ep.is_empty());
    assert_eq!(h.ep.poll_timeout(), None);
    assert_eq!(state(&h, id), None);
}

#[test]
fn reliable_transport_has_no_retransmissions_but_timer_b() {
    let mut h = H::new();
    let id = h.send(request("INVITE", Some("z9hG4bKc2")), tcp());
    assert_eq!(h.ep.poll_timeout(), Some(ms(32_000)));
    h.at(40_000);
    assert_eq!(h.take_sent(), sent(&[(0, "INVITE")]));
    assert_eq!(
        h.take_events(),
        vec![
            (32_000, id, E::Timeout(Timer::B)),
            (32_000, id, E::Terminated)
        ]
    );
}

#[test]
fn provisional_moves_to_proceeding_and_stops_a_and_b() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKc3"));
    let id = h.send(inv.clone(), udp());
    h.at(1_000);
    let d = h.recv(response(&inv, 100, None), udp());
    assert!(matches!(d, Dispatch::Matched(t) if t == id));
    assert_eq!(state(&h, id), Some(S::Proceeding));
    // Every provisional goes up, in order, also a 100 after a 180 (reordering).
    h.recv(response(&inv, 180, Some("b1")), udp());
    h.recv(response(&inv, 100, None), udp());
    assert_eq!(h.ep.poll_timeout(), None, "no timer in Proceeding");
    h.at(120_000);
    assert_eq!(h.take_sent(), sent(&[(0, "INVITE"), (500, "INVITE")]));
    assert_eq!(
        h.take_events(),
        vec![
            (1_000, id, E::Resp(100)),
            (1_000, id, E::Resp(180)),
            (1_000, id, E::Resp(100)),
        ]
    );
    assert_eq!(
        state(&h, id),
        Some(S::Proceeding),
        "the TU cancels, not Timer B"
    );
}

#[test]
fn non_2xx_final_is_acked_and_timer_d_waits_32s_on_udp() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKc4"));
    let id = h.send(inv.clone(), udp());
    h.take_sent();
    h.at(200);
    h.recv(response(&inv, 180, Some("b1")), udp());
    h.at(1_000);
    let busy = response(&inv, 486, Some("b1"));
    h.recv(busy.clone(), udp());
    assert_eq!(state(&h, id), Some(S::Completed));
    let tx = h.take_transmits();
    assert_eq!(tx.len(), 1);
    let (t, ack) = &tx[0];
    assert_eq!(*t, 1_000);
    assert_eq!(ack.txn, Some(id));
    // §17.1.1.3: Request-URI and top Via of the INVITE, To of the response, CSeq ACK.
    let ack = sbc_sip::Message::parse(ack.bytes.clone()).unwrap();
    assert_eq!(ack.method(), Some(Method::Ack));
    assert_eq!(ack.request_uri_raw(), inv.request_uri_raw());
    assert_eq!(ack.branch(), Some(&b"z9hG4bKc4"[..]));
    assert_eq!(ack.to_tag(), Some(&b"b1"[..]));
    assert_eq!(
        ack.cseq().map(|c| (c.seq, c.method)),
        Some((1, Method::Ack))
    );

    // A retransmitted 486 is ACKed again and not passed up.
    h.at(5_000);
    h.recv(busy.clone(), udp());
    assert_eq!(h.take_sent(), sent(&[(5_000, "ACK")]));
    // Late 1xx and 2xx are absorbed in Completed.
    h.recv(response(&inv, 180, Some("b1")), udp());
    h.recv(response(&inv, 200, Some("b1")), udp());
    assert!(h.take_sent().is_empty());
    assert_eq!(h.ep.poll_timeout(), Some(ms(33_000)), "Timer D = 32 s");
    h.at(40_000);
    assert_eq!(
        h.take_events(),
        vec![
            (200, id, E::Resp(180)),
            (1_000, id, E::Resp(486)),
            (33_000, id, E::Terminated),
        ]
    );
    assert!(h.ep.is_empty());
    // After D the retransmission is a stray.
    assert!(matches!(
        h.recv(busy, udp()),
        Dispatch::StrayResponse { .. }
    ));
}

#[test]
fn timer_d_is_zero_on_reliable_transports() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKc5"));
    let id = h.send(inv.clone(), tcp());
    h.recv(response(&inv, 503, Some("b1")), tcp());
    assert_eq!(h.take_sent(), sent(&[(0, "INVITE"), (0, "ACK")]));
    assert_eq!(
        h.take_events(),
        vec![(0, id, E::Resp(503)), (0, id, E::Terminated)]
    );
    assert!(h.ep.is_empty());
}

#[test]
fn final_from_calling_without_provisional() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKc6"));
    let id = h.send(inv.clone(), udp());
    h.at(700);
    h.recv(response(&inv, 404, Some("b1")), udp());
    assert_eq!(state(&h, id), Some(S::Completed));
    h.at(10_000);
    // A was disarmed by the final: the 1.5 s retransmission never happened.
    assert_eq!(
        h.take_sent(),
        sent(&[(0, "INVITE"), (500, "INVITE"), (700, "ACK")])
    );
}

#[test]
fn accepted_passes_every_2xx_until_timer_m() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKc7"));
    let id = h.send(inv.clone(), udp());
    h.at(100);
    h.recv(response(&inv, 180, Some("b1")), udp());
    h.at(2_000);
    let ok = response(&inv, 200, Some("b1"));
    h.recv(ok.clone(), udp());
    assert_eq!(state(&h, id), Some(S::Accepted));
    assert_eq!(h.ep.poll_timeout(), Some(ms(34_000)), "Timer M = 64*T1");
    // Duplicate 200s (retransmissions) and a forked 200 go up; no ACK from the transaction.
    h.at(2_500);
    h.recv(ok.clone(), udp());
    h.recv(response(&inv, 200, Some("b2-fork")), udp());
    // A 180 after the 200 (reordered) and a non-2xx final are absorbed.
    h.recv(response(&inv, 180, Some("b1")), udp());
    h.recv(response(&inv, 486, Some("b3")), udp());
    h.at(40_000);
    assert_eq!(h.take_sent(), sent(&[(0, "INVITE")]), "the 180 stopped A");
    assert_eq!(
        h.take_events(),
        vec![
            (100, id, E::Resp(180)),
            (2_000, id, E::Resp(200)),
            (2_500, id, E::Resp(200)),
            (2_500, id, E::Resp(200)),
            (34_000, id, E::Terminated),
        ]
    );
    let tags: Vec<_> = h.responses[1..]
        .iter()
        .map(|r| r.to_tag().unwrap().to_vec())
        .collect();
    assert_eq!(
        tags,
        vec![b"b1".to_vec(), b"b1".to_vec(), b"b2-fork".to_vec()]
    );
    // After M, a 200 is a stray for the TU (it re-ACKs from dialog state).
    assert!(matches!(h.recv(ok, udp()), Dispatch::StrayResponse { .. }));
}

#[test]
fn timer_m_also_runs_on_reliable_transports() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKc8"));
    let id = h.send(inv.clone(), tcp());
    h.recv(response(&inv, 200, Some("b1")), tcp());
    assert_eq!(state(&h, id), Some(S::Accepted));
    assert_eq!(h.ep.poll_timeout(), Some(ms(32_000)));
    h.at(32_000);
    assert_eq!(state(&h, id), None);
}

#[test]
fn transport_error_in_calling_is_reported_and_terminates() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKc9"));
    let id = h.send(inv, udp());
    h.at(100);
    h.ep.handle_transport_error(h.now, id).unwrap();
    h.collect();
    assert_eq!(
        h.take_events(),
        vec![(100, id, E::TransportError), (100, id, E::Terminated)]
    );
    assert_eq!(
        h.ep.handle_transport_error(h.now, id),
        Err(UnknownTxn(id)),
        "the handle is dead"
    );
    h.at(40_000);
    assert_eq!(h.take_sent(), sent(&[(0, "INVITE")]));
}

#[test]
fn transport_error_in_completed_terminates_but_not_in_proceeding() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKca"));
    let id = h.send(inv.clone(), udp());
    h.recv(response(&inv, 183, Some("b1")), udp());
    h.ep.handle_transport_error(h.now, id).unwrap();
    h.collect();
    assert_eq!(state(&h, id), Some(S::Proceeding), "nothing was being sent");
    h.recv(response(&inv, 480, Some("b1")), udp());
    h.ep.handle_transport_error(h.now, id).unwrap();
    h.collect();
    let ev: Vec<E> = h.take_events().into_iter().map(|(_, _, e)| e).collect();
    assert_eq!(
        ev,
        vec![E::Resp(183), E::Resp(480), E::TransportError, E::Terminated]
    );
}

#[test]
fn a_stalled_shell_gets_one_retransmission_not_a_burst() {
    let mut h = H::new();
    let id = h.send(request("INVITE", Some("z9hG4bKcb")), udp());
    // The shell oversleeps: it wakes at 10 s instead of 0.5 s.
    h.now = ms(10_000);
    h.ep.handle_timeout(h.now);
    h.collect();
    assert_eq!(h.take_sent(), sent(&[(0, "INVITE"), (10_000, "INVITE")]));
    // The next A is measured from the late firing: 10 s + 1 s.
    assert_eq!(h.ep.poll_timeout(), Some(ms(11_000)));
    assert_eq!(state(&h, id), Some(S::Calling));
}

#[test]
fn schedule_follows_deadlines_not_wakeups() {
    // A shell that wakes 30 ms late each time still sends at the deadlines' schedule.
    let mut h = H::new();
    h.send(request("INVITE", Some("z9hG4bKcc")), udp());
    for wake in [530, 1_530, 3_530] {
        h.now = ms(wake);
        h.ep.handle_timeout(h.now);
        h.collect();
    }
    assert_eq!(h.ep.poll_timeout(), Some(ms(7_500)));
}
