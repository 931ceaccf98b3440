//! CANCEL (RFC 3261 §9): the client side builds and holds it, both sides race it against
//! a 200.

mod common;

use common::*;
use sbc_sip::{Message, Method};
use sbc_txn::{
    CancelError, ClientInviteState, ClientNonInviteState, Dispatch, RespondError,
    ServerInviteState, Timer, TxnId, TxnState,
};

fn cancel_state(h: &H, id: TxnId) -> Option<ClientNonInviteState> {
    match h.ep.state(id) {
        Some(TxnState::ClientNonInvite(s)) => Some(s),
        None => None,
        other => panic!("not a CANCEL: {other:?}"),
    }
}

/// A route set on the INVITE, to check the CANCEL copies it.
fn invite_with_route(branch: &str) -> Message {
    msg(&[
        "INVITE sip:bob@example.com SIP/2.0",
        &format!("Via: SIP/2.0/UDP 203.0.113.5:5060;branch={branch}"),
        "Route: <sip:edge.example.net;lr>",
        "Max-Forwards: 70",
        "From: <sip:alice@example.com>;tag=a1",
        "To: <sip:bob@example.com>",
        "Call-ID: call-9@example.com",
        "CSeq: 7 INVITE",
    ])
}

#[test]
fn cancel_in_proceeding_goes_out_at_once_on_the_invite_branch() {
    let mut h = H::new();
    let inv = invite_with_route("z9hG4bKx1");
    let inv_id = h.send(inv.clone(), udp());
    h.at(300);
    h.recv(response(&inv, 180, Some("b1")), udp());
    h.take_sent();
    let c_id = h.ep.cancel(h.now, inv_id).unwrap();
    h.collect();
    assert_eq!(cancel_state(&h, c_id), Some(ClientNonInviteState::Trying));
    let tx = h.take_transmits();
    assert_eq!(tx.len(), 1);
    assert_eq!((tx[0].1.to, tx[0].1.txn), (udp(), Some(c_id)));
    let c = Message::parse(tx[0].1.bytes.clone()).unwrap();
    // §9.1: same Request-URI, Call-ID, From, To (no tag), CSeq number, top Via, Route.
    assert_eq!(c.method(), Some(Method::Cancel));
    assert_eq!(c.request_uri_raw(), inv.request_uri_raw());
    assert_eq!(c.top_via_raw(), inv.top_via_raw());
    assert_eq!(c.call_id(), inv.call_id());
    assert_eq!(c.from_raw(), inv.from_raw());
    assert_eq!(c.to_raw(), inv.to_raw());
    assert_eq!(
        c.cseq().map(|s| (s.seq, s.method)),
        Some((7, Method::Cancel))
    );
    assert_eq!(
        c.get(sbc_sip::HeaderName::Route),
        Some(&b"<sip:edge.example.net;lr>"[..])
    );
    // The CANCEL retransmits as a non-INVITE (E from 0.3 s).
    h.at(800);
    assert_eq!(h.take_sent(), sent(&[(800, "CANCEL")]));
    // Its 200 reaches the CANCEL, the 487 reaches the INVITE (which ACKs it).
    let ok = response(&c, 200, Some("b1"));
    assert!(matches!(h.recv(ok, udp()), Dispatch::Matched(t) if t == c_id));
    let term = response(&inv, 487, Some("b1"));
    assert!(matches!(h.recv(term, udp()), Dispatch::Matched(t) if t == inv_id));
    assert_eq!(h.take_sent(), sent(&[(800, "ACK")]));
    let ev: Vec<(TxnId, E)> = h
        .take_events()
        .into_iter()
        .map(|(_, i, e)| (i, e))
        .collect();
    assert_eq!(
        ev,
        vec![
            (inv_id, E::Resp(180)),
            (c_id, E::Resp(200)),
            (inv_id, E::Resp(487))
        ]
    );
    assert_eq!(
        h.ep.cancel(h.now, inv_id),
        Err(CancelError::AlreadyCancelled(c_id))
    );
}

#[test]
fn cancel_before_any_provisional_is_held_until_one_arrives() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKx2"));
    let inv_id = h.send(inv.clone(), udp());
    h.at(200);
    let c_id = h.ep.cancel(h.now, inv_id).unwrap();
    h.collect();
    assert_eq!(cancel_state(&h, c_id), Some(ClientNonInviteState::Held));
    // §9.1: not sent yet; the INVITE keeps retransmitting.
    h.at(700);
    assert_eq!(h.take_sent(), sent(&[(0, "INVITE"), (500, "INVITE")]));
    h.recv(response(&inv, 100, None), udp());
    assert_eq!(cancel_state(&h, c_id), Some(ClientNonInviteState::Trying));
    // Sent with the 100, then retransmitted by its own Timer E from that instant.
    h.at(1_300);
    assert_eq!(h.take_sent(), sent(&[(700, "CANCEL"), (1_200, "CANCEL")]));
}

#[test]
fn a_held_cancel_is_never_sent_if_a_final_comes_first() {
    for status in [200, 486] {
        let mut h = H::new();
        let inv = request("INVITE", Some("z9hG4bKx3"));
        let inv_id = h.send(inv.clone(), udp());
        let c_id = h.ep.cancel(h.now, inv_id).unwrap();
        h.at(100);
        h.recv(response(&inv, status, Some("b1")), udp());
        h.at(60_000);
        let labels: Vec<String> = h.take_sent().into_iter().map(|(_, l)| l).collect();
        assert!(!labels.contains(&"CANCEL".to_string()), "{labels:?}");
        let ev: Vec<(TxnId, E)> = h
            .take_events()
            .into_iter()
            .map(|(_, i, e)| (i, e))
            .collect();
        assert_eq!(ev[0], (inv_id, E::Resp(status)));
        assert_eq!(ev[1], (c_id, E::Terminated), "the CANCEL just ends");
        assert!(h.ep.is_empty());
    }
}

#[test]
fn a_held_cancel_ends_with_its_invite_on_timer_b() {
    let mut h = H::new();
    let inv_id = h.send(request("INVITE", Some("z9hG4bKx4")), udp());
    let c_id = h.ep.cancel(h.now, inv_id).unwrap();
    h.at(40_000);
    let labels: Vec<String> = h.take_sent().into_iter().map(|(_, l)| l).collect();
    assert!(labels.iter().all(|l| l == "INVITE"));
    assert_eq!(
        h.take_events(),
        vec![
            (32_000, inv_id, E::Timeout(Timer::B)),
            (32_000, inv_id, E::Terminated),
            (32_000, c_id, E::Terminated),
        ]
    );
    assert!(h.ep.is_empty());
}

#[test]
fn a_held_cancel_ends_with_its_invite_on_a_transport_error() {
    let mut h = H::new();
    let inv_id = h.send(request("INVITE", Some("z9hG4bKx5")), udp());
    let c_id = h.ep.cancel(h.now, inv_id).unwrap();
    h.ep.handle_transport_error(h.now, inv_id).unwrap();
    h.collect();
    let ev: Vec<(TxnId, E)> = h
        .take_events()
        .into_iter()
        .map(|(_, i, e)| (i, e))
        .collect();
    assert_eq!(
        ev,
        vec![
            (inv_id, E::TransportError),
            (inv_id, E::Terminated),
            (c_id, E::Terminated)
        ]
    );
}

#[test]
fn client_side_cancel_racing_a_200() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKx6"));
    let inv_id = h.send(inv.clone(), udp());
    h.recv(response(&inv, 180, Some("b1")), udp());
    h.at(1_000);
    let c_id = h.ep.cancel(h.now, inv_id).unwrap();
    h.collect();
    // The 200 for the INVITE crossed the CANCEL: the call is up; the TU ACKs and BYEs.
    h.at(1_050);
    h.recv(response(&inv, 200, Some("b1")), udp());
    assert_eq!(
        h.ep.state(inv_id),
        Some(TxnState::ClientInvite(ClientInviteState::Accepted))
    );
    // The UAS answers the CANCEL 200 anyway (§9.2: no effect on the transaction).
    let cancel = Message::parse(h.ep.request(c_id).unwrap().bytes().clone()).unwrap();
    h.recv(response(&cancel, 200, Some("b1")), udp());
    let ev: Vec<(TxnId, E)> = h
        .take_events()
        .into_iter()
        .map(|(_, i, e)| (i, e))
        .collect();
    assert_eq!(
        ev,
        vec![
            (inv_id, E::Resp(180)),
            (inv_id, E::Resp(200)),
            (c_id, E::Resp(200))
        ]
    );
    assert_eq!(
        h.ep.cancel(h.now, inv_id),
        Err(CancelError::AlreadyCancelled(c_id))
    );
}

#[test]
fn server_side_cancel_racing_a_200() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKx7"));
    let inv_id = h.accept(inv.clone(), udp());
    h.respond(inv_id, response(&inv, 200, Some("s1")));
    // The CANCEL arrives after our 200: it still names the INVITE, now in Accepted.
    let cancel = request_full(
        "CANCEL",
        Some("z9hG4bKx7"),
        "192.0.2.1:5060",
        None,
        "CANCEL",
    );
    let Dispatch::Incoming(inc) = h.recv(cancel.clone(), udp()) else {
        panic!("expected Incoming");
    };
    assert_eq!(inc.cancels(), Some(inv_id));
    assert_eq!(
        h.ep.state(inv_id),
        Some(TxnState::ServerInvite(ServerInviteState::Accepted))
    );
    let c_id = h.ep.accept(h.now, inc).unwrap();
    h.respond(c_id, response(&cancel, 200, Some("s1")));
    // A 487 is no longer possible: the final is out.
    assert!(matches!(
        h.ep.respond(h.now, inv_id, response(&inv, 487, Some("s1"))),
        Err(RespondError::InvalidState { status: 487, .. })
    ));
    assert_eq!(h.take_sent(), sent(&[(0, "100"), (0, "200"), (0, "200")]));
}

#[test]
fn cancel_errors() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKx8"));
    let inv_id = h.send(inv.clone(), udp());
    h.recv(response(&inv, 486, Some("b1")), udp());
    assert_eq!(
        h.ep.cancel(h.now, inv_id),
        Err(CancelError::AlreadyFinal(inv_id))
    );
    let opt = h.send(request("OPTIONS", Some("z9hG4bKx9")), udp());
    assert_eq!(
        h.ep.cancel(h.now, opt),
        Err(CancelError::NotInviteClient(opt))
    );
    let srv = h.accept(request("INVITE", Some("z9hG4bKxa")), udp());
    assert_eq!(
        h.ep.cancel(h.now, srv),
        Err(CancelError::NotInviteClient(srv))
    );
    h.at(40_000);
    assert_eq!(
        h.ep.cancel(h.now, inv_id),
        Err(CancelError::UnknownTxn(inv_id))
    );
    assert!(!CancelError::TableFull.to_string().is_empty());
}

#[test]
fn cancel_with_a_reason_header() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKxb"));
    let inv_id = h.send(inv.clone(), tcp());
    h.recv(response(&inv, 183, Some("b1")), tcp());
    h.take_sent();
    let c_id =
        h.ep.cancel_with(
            h.now,
            inv_id,
            &[(
                b"Reason",
                b"SIP;cause=200;text=\"Call completed elsewhere\"",
            )],
        )
        .unwrap();
    h.collect();
    let tx = h.take_transmits();
    let c = Message::parse(tx[0].1.bytes.clone()).unwrap();
    assert_eq!(
        c.get_raw(b"Reason"),
        Some(&b"SIP;cause=200;text=\"Call completed elsewhere\""[..])
    );
    // TCP: no CANCEL retransmission, only Timer F.
    h.at(40_000);
    assert!(h.take_sent().is_empty());
    assert!(h
        .take_events()
        .contains(&(32_000, c_id, E::Timeout(Timer::F))));
}

/// §9.1: an INVITE whose CANCEL got its 200 but which never receives a final response is
/// destroyed 64*T1 after the CANCEL went out (a peer that stops answering costs a timer, not
/// a transaction slot forever). A provisional after the CANCEL does not disarm that.
#[test]
fn an_invite_never_finished_after_its_cancel_is_abandoned_at_64_t1() {
    let mut h = H::new();
    let inv = invite_with_route("z9hG4bKab1");
    let inv_id = h.send(inv.clone(), udp());
    h.at(300);
    h.recv(response(&inv, 180, Some("b1")), udp());
    h.at(1_000);
    let c_id = h.ep.cancel(h.now, inv_id).unwrap();
    h.collect();
    h.take_transmits();
    h.at(1_050);
    let cancel = Message::parse(h.ep.request(c_id).unwrap().as_bytes().to_vec()).unwrap();
    h.recv(response(&cancel, 200, Some("b1")), udp());
    h.at(5_000);
    h.recv(response(&inv, 183, Some("b1")), udp());
    h.take_events();
    // Still there just before 1 000 + 64*500 ms, gone at it.
    h.at(32_999);
    assert!(h.ep.state(inv_id).is_some());
    h.at(33_000);
    assert_eq!(h.ep.state(inv_id), None);
    let ev = h.take_events();
    assert!(
        ev.contains(&(33_000, inv_id, E::Timeout(Timer::B))),
        "{ev:?}"
    );
    assert!(ev.contains(&(33_000, inv_id, E::Terminated)), "{ev:?}");
}

/// The same when the CANCEL was held until the first provisional (§9.1): the 64*T1 count
/// starts when it is released.
#[test]
fn a_held_cancel_starts_the_abandon_timer_when_released() {
    let mut h = H::new();
    let inv = invite_with_route("z9hG4bKab2");
    let inv_id = h.send(inv.clone(), udp());
    h.at(100);
    let _c_id = h.ep.cancel(h.now, inv_id).unwrap();
    h.at(2_000);
    h.recv(response(&inv, 100, None), udp());
    h.take_events();
    h.at(33_999);
    assert!(h.ep.state(inv_id).is_some());
    h.at(34_000);
    assert_eq!(h.ep.state(inv_id), None);
}
