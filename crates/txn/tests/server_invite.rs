//! INVITE server transaction: RFC 3261 §17.2.1 with RFC 6026 "Accepted" (Timer L).

mod common;

use common::*;
use sbc_txn::{Config, Dispatch, RespondError, ServerInviteState as S, Timer, TxnId, TxnState};

fn state(h: &H, id: TxnId) -> Option<S> {
    match h.ep.state(id) {
        Some(TxnState::ServerInvite(s)) => Some(s),
        None => None,
        other => panic!("not an INVITE server: {other:?}"),
    }
}

/// The ACK for a non-2xx final: same branch as the INVITE (§17.1.1.3), our To tag.
fn ack_non2xx(branch: &str, to_tag: &str) -> sbc_sip::Message {
    request_full("ACK", Some(branch), "192.0.2.1:5060", Some(to_tag), "ACK")
}

#[test]
fn accept_sends_100_at_once_and_retransmissions_get_the_last_provisional() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKs1"));
    let id = h.accept(inv.clone(), udp());
    assert_eq!(state(&h, id), Some(S::Proceeding));
    let tx = h.take_transmits();
    assert_eq!(tx.len(), 1);
    assert_eq!(label(&tx[0].1.bytes), "100");
    assert_eq!(tx[0].1.to, udp());
    assert_eq!(tx[0].1.txn, Some(id));
    let trying = sbc_sip::Message::parse(tx[0].1.bytes.clone()).unwrap();
    assert_eq!(trying.to_tag(), None, "100 carries no To tag");
    assert_eq!(trying.branch(), Some(&b"z9hG4bKs1"[..]));

    h.at(500);
    assert!(matches!(h.recv(inv.clone(), udp()), Dispatch::Matched(t) if t == id));
    h.at(800);
    h.respond(id, response(&inv, 180, Some("s1")));
    h.at(1_500);
    assert!(matches!(h.recv(inv.clone(), udp()), Dispatch::Matched(t) if t == id));
    assert_eq!(
        h.take_sent(),
        sent(&[(500, "100"), (800, "180"), (1_500, "180")])
    );
    assert!(h.take_events().is_empty(), "retransmissions are not events");
    assert_eq!(h.ep.poll_timeout(), None, "no timer in Proceeding");
    // The 100 at 500 and the 180 at 1 500 were re-sent; the first 100 and 180 were not.
    assert_eq!(h.ep.retransmissions(), 2);
}

#[test]
fn accept_with_adds_headers_to_the_100() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKs1h"));
    let Dispatch::Incoming(inc) = h.ep.handle_message(h.now, inv, udp()) else {
        panic!("new INVITE")
    };
    let now = h.now;
    h.ep.accept_with(now, inc, &[(b"X-MS-SBC", b"Vendor/SBC/1.0")])
        .unwrap();
    h.collect();
    let tx = h.take_transmits();
    let trying = sbc_sip::Message::parse(tx[0].1.bytes.clone()).unwrap();
    assert_eq!(
        trying.get_raw(b"X-MS-SBC"),
        Some(&b"Vendor/SBC/1.0"[..]),
        "TI-17: X-MS-SBC on every response toward Microsoft, the 100 included"
    );
}

#[test]
fn trying_on_accept_can_be_turned_off() {
    let mut h = H::with(Config {
        trying_on_accept: false,
        ..Config::default()
    });
    let inv = request("INVITE", Some("z9hG4bKs2"));
    let id = h.accept(inv.clone(), udp());
    h.recv(inv, udp());
    assert!(h.take_sent().is_empty());
    assert_eq!(state(&h, id), Some(S::Proceeding));
}

#[test]
fn non_2xx_final_timer_g_doubles_to_t2_until_timer_h() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKs3"));
    let id = h.accept(inv.clone(), udp());
    h.take_sent();
    h.respond(id, response(&inv, 486, Some("s1")));
    assert_eq!(state(&h, id), Some(S::Completed));
    h.at(40_000);
    let times: Vec<u64> = h.take_sent().into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        times,
        vec![0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
    );
    assert_eq!(
        h.take_events(),
        vec![
            (32_000, id, E::Timeout(Timer::H)),
            (32_000, id, E::Terminated)
        ]
    );
    assert!(h.ep.is_empty());
}

#[test]
fn invite_retransmission_in_completed_resends_the_final() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKs4"));
    let id = h.accept(inv.clone(), udp());
    h.respond(id, response(&inv, 404, Some("s1")));
    h.at(200);
    h.recv(inv, udp());
    assert_eq!(h.take_sent(), sent(&[(0, "100"), (0, "404"), (200, "404")]));
}

#[test]
fn ack_confirms_stops_g_and_timer_i_absorbs_acks_for_t4() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKs5"));
    let id = h.accept(inv.clone(), udp());
    h.respond(id, response(&inv, 486, Some("s1")));
    h.at(700);
    let ack = ack_non2xx("z9hG4bKs5", "s1");
    assert!(matches!(h.recv(ack.clone(), udp()), Dispatch::Matched(t) if t == id));
    assert_eq!(state(&h, id), Some(S::Confirmed));
    assert_eq!(h.ep.poll_timeout(), Some(ms(5_700)), "Timer I = T4");
    h.at(1_000);
    assert!(matches!(h.recv(ack, udp()), Dispatch::Matched(t) if t == id));
    assert!(matches!(h.recv(inv, udp()), Dispatch::Matched(t) if t == id));
    h.at(10_000);
    assert_eq!(
        h.take_sent(),
        sent(&[(0, "100"), (0, "486"), (500, "486")]),
        "G stopped at the ACK; nothing answers in Confirmed"
    );
    assert_eq!(h.take_events(), vec![(5_700, id, E::Terminated)]);
}

#[test]
fn reliable_transport_no_timer_g_and_timer_i_is_zero() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKs6"));
    let id = h.accept(inv.clone(), tcp());
    h.respond(id, response(&inv, 603, Some("s1")));
    assert_eq!(h.ep.poll_timeout(), Some(ms(32_000)), "only Timer H");
    h.at(2_000);
    assert!(matches!(
        h.recv(ack_non2xx("z9hG4bKs6", "s1"), tcp()),
        Dispatch::Matched(t) if t == id
    ));
    assert_eq!(h.take_sent(), sent(&[(0, "100"), (0, "603")]));
    assert_eq!(h.take_events(), vec![(2_000, id, E::Terminated)]);
    assert!(h.ep.is_empty());
}

#[test]
fn timer_h_on_reliable_transport() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKs7"));
    let id = h.accept(inv.clone(), tcp());
    h.respond(id, response(&inv, 480, Some("s1")));
    h.at(40_000);
    assert_eq!(
        h.take_events(),
        vec![
            (32_000, id, E::Timeout(Timer::H)),
            (32_000, id, E::Terminated)
        ]
    );
}

#[test]
fn accepted_absorbs_invites_passes_acks_and_2xx_until_timer_l() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKs8"));
    let id = h.accept(inv.clone(), udp());
    h.at(1_000);
    let ok = response(&inv, 200, Some("s1"));
    h.respond(id, ok.clone());
    assert_eq!(state(&h, id), Some(S::Accepted));
    assert_eq!(h.ep.poll_timeout(), Some(ms(33_000)), "Timer L = 64*T1");
    // INVITE retransmissions are absorbed without an answer (the TU retransmits its 2xx).
    h.at(1_500);
    assert!(matches!(h.recv(inv.clone(), udp()), Dispatch::Matched(t) if t == id));
    h.respond(id, ok.clone());
    // The ACK for the 2xx has a branch of its own: a stray ACK for the TU.
    let ack2xx = request_full(
        "ACK",
        Some("z9hG4bKack"),
        "192.0.2.1:5060",
        Some("s1"),
        "ACK",
    );
    assert!(matches!(
        h.recv(ack2xx, udp()),
        Dispatch::StrayAck { invite: None, .. }
    ));
    // An ACK that reuses the INVITE's branch matches, and Accepted passes it to the TU.
    match h.recv(ack_non2xx("z9hG4bKs8", "s1"), udp()) {
        Dispatch::StrayAck {
            invite: Some(t),
            msg,
            from,
        } => {
            assert_eq!(t, id);
            assert_eq!(from, udp());
            assert_eq!(msg.method(), Some(sbc_sip::Method::Ack));
        }
        other => panic!("expected the ACK for the TU, got {other:?}"),
    }
    assert_eq!(
        state(&h, id),
        Some(S::Accepted),
        "an ACK does not end Accepted"
    );
    h.at(40_000);
    assert_eq!(
        h.take_sent(),
        sent(&[(0, "100"), (1_000, "200"), (1_500, "200")])
    );
    assert_eq!(h.take_events(), vec![(33_000, id, E::Terminated)]);
    // After L a retransmitted INVITE would be new: that is what L guards against.
    assert!(matches!(h.recv(inv, udp()), Dispatch::Incoming(_)));
}

#[test]
fn timer_l_also_runs_on_reliable_transports() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKs9"));
    let id = h.accept(inv.clone(), tcp());
    h.respond(id, response(&inv, 200, Some("s1")));
    assert_eq!(h.ep.poll_timeout(), Some(ms(32_000)));
}

#[test]
fn responses_the_state_forbids_are_refused_and_not_sent() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKsa"));
    let id = h.accept(inv.clone(), udp());
    h.respond(id, response(&inv, 486, Some("s1")));
    h.take_sent();
    let err =
        h.ep.respond(h.now, id, response(&inv, 200, Some("s1")))
            .unwrap_err();
    assert_eq!(
        err,
        RespondError::InvalidState {
            state: TxnState::ServerInvite(S::Completed),
            status: 200
        }
    );
    assert!(err.to_string().contains("ist/completed"));

    let inv2 = request("INVITE", Some("z9hG4bKsb"));
    let id2 = h.accept(inv2.clone(), udp());
    h.respond(id2, response(&inv2, 200, Some("s2")));
    for status in [180, 487] {
        assert!(matches!(
            h.ep.respond(h.now, id2, response(&inv2, status, Some("s2"))),
            Err(RespondError::InvalidState { status: s, .. }) if s == status
        ));
    }
    assert_eq!(
        h.ep.respond(h.now, id2, inv2.clone()),
        Err(RespondError::NotAResponse)
    );
    h.collect();
    assert_eq!(h.take_sent(), sent(&[(0, "100"), (0, "200")]));

    // ACK in Confirmed, then a late response: refused.
    h.recv(ack_non2xx("z9hG4bKsa", "s1"), udp());
    assert!(matches!(
        h.ep.respond(h.now, id, response(&inv, 500, None)),
        Err(RespondError::InvalidState {
            state: TxnState::ServerInvite(S::Confirmed),
            ..
        })
    ));
}

#[test]
fn respond_bytes_parses_once() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKsc"));
    let id = h.accept(inv.clone(), udp());
    let ok = response(&inv, 183, Some("s1"));
    h.ep.respond_bytes(h.now, id, ok.bytes().clone()).unwrap();
    assert!(matches!(
        h.ep.respond_bytes(h.now, id, &b"garbage"[..]),
        Err(RespondError::Parse(_))
    ));
    h.collect();
    assert_eq!(h.take_sent(), sent(&[(0, "100"), (0, "183")]));
}

#[test]
fn transport_errors_follow_rfc_6026_figure_7() {
    // Proceeding: inform the TU, carry on.
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKsd"));
    let id = h.accept(inv.clone(), udp());
    h.ep.handle_transport_error(h.now, id).unwrap();
    h.collect();
    assert_eq!(state(&h, id), Some(S::Proceeding));
    // Accepted: inform the TU, carry on.
    h.respond(id, response(&inv, 200, Some("s1")));
    h.ep.handle_transport_error(h.now, id).unwrap();
    h.collect();
    assert_eq!(state(&h, id), Some(S::Accepted));
    assert_eq!(
        h.take_events(),
        vec![(0, id, E::TransportError), (0, id, E::TransportError)]
    );
    // Completed: inform the TU, terminate.
    let inv2 = request("INVITE", Some("z9hG4bKse"));
    let id2 = h.accept(inv2.clone(), udp());
    h.respond(id2, response(&inv2, 486, Some("s2")));
    h.ep.handle_transport_error(h.now, id2).unwrap();
    h.collect();
    assert_eq!(
        h.take_events(),
        vec![(0, id2, E::TransportError), (0, id2, E::Terminated)]
    );
    // Confirmed: nothing is being sent; no effect.
    let inv3 = request("INVITE", Some("z9hG4bKsf"));
    let id3 = h.accept(inv3.clone(), udp());
    h.respond(id3, response(&inv3, 486, Some("s3")));
    h.recv(ack_non2xx("z9hG4bKsf", "s3"), udp());
    h.ep.handle_transport_error(h.now, id3).unwrap();
    assert_eq!(state(&h, id3), Some(S::Confirmed));
}

#[test]
fn an_ack_before_any_final_acknowledges_nothing() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKsg"));
    let id = h.accept(inv, udp());
    assert!(matches!(
        h.recv(ack_non2xx("z9hG4bKsg", "x"), udp()),
        Dispatch::Matched(t) if t == id
    ));
    assert_eq!(state(&h, id), Some(S::Proceeding));
}

#[test]
fn responses_go_back_to_the_source() {
    let mut h = H::new();
    let src = sbc_txn::Peer::new(
        sbc_txn::Transport::Tls,
        "198.51.100.7:40001".parse().unwrap(),
    );
    let inv = request("INVITE", Some("z9hG4bKsh"));
    let id = h.accept(inv.clone(), src);
    h.respond(id, response(&inv, 180, Some("s1")));
    assert!(h.take_transmits().iter().all(|(_, x)| x.to == src));
    assert_eq!(h.ep.peer(id), Some(src));
    assert_eq!(h.ep.request(id), Some(&inv));
}
