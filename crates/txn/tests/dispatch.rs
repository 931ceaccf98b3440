//! Dispatch and matching: §17.1.3, §17.2.3 (with the RFC 2543 fallback), Incoming
//! accept/reject/ignore before any state exists, strays, drops, handles and limits.

mod common;

use common::*;
use sbc_sip::Message;
use sbc_txn::{
    AcceptError, Config, Dispatch, DropReason, Endpoint, RespondError, SendError,
    ServerInviteState, TxnState,
};

fn incoming(d: Dispatch) -> sbc_txn::Incoming {
    match d {
        Dispatch::Incoming(i) => i,
        other => panic!("expected Incoming, got {other:?}"),
    }
}

#[test]
fn reject_answers_statelessly_and_creates_no_state() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKd1"));
    let inc = incoming(h.recv(inv.clone(), udp()));
    assert_eq!(inc.method(), sbc_sip::Method::Invite);
    assert_eq!(inc.from(), udp());
    assert_eq!(inc.message(), &inv);
    assert!(!inc.is_rfc2543());
    h.ep.reject(inc, 403);
    h.collect();
    assert!(h.ep.is_empty(), "no table slot");
    assert_eq!(h.ep.poll_timeout(), None, "no timer");
    let tx = h.take_transmits();
    assert_eq!(tx.len(), 1);
    let x = &tx[0].1;
    assert_eq!((x.to, x.txn), (udp(), None));
    let r = Message::parse(x.bytes.clone()).unwrap();
    assert_eq!(r.status(), Some(403));
    assert_eq!(r.branch(), Some(&b"z9hG4bKd1"[..]));
    let tag = r.to_tag().unwrap().to_vec();
    assert_eq!(tag.len(), 16);

    // The retransmission is new again (nothing remembered it), and gets the same tag.
    let inc = incoming(h.recv(inv.clone(), udp()));
    h.ep.reject(inc, 403);
    let again = h.ep.poll_transmit().unwrap();
    assert_eq!(again.bytes, x.bytes, "byte-identical stateless answer");
    // Another request gets another tag.
    let inc = incoming(h.recv(request("INVITE", Some("z9hG4bKd1x")), udp()));
    h.ep.reject(inc, 403);
    let other = Message::parse(h.ep.poll_transmit().unwrap().bytes).unwrap();
    assert_ne!(other.to_tag().unwrap(), &tag[..]);
    // The ACK for the stateless 4xx finds no transaction: stray, for the TU to drop.
    let ack = request_full("ACK", Some("z9hG4bKd1"), "192.0.2.1:5060", Some("x"), "ACK");
    assert!(matches!(
        h.recv(ack, udp()),
        Dispatch::StrayAck { invite: None, .. }
    ));
    assert!(h.ep.is_empty());
}

#[test]
fn reject_with_reason_and_headers() {
    let mut h = H::new();
    let inc = incoming(h.recv(request("INVITE", Some("z9hG4bKd2")), udp()));
    h.ep.reject_with(inc, 503, Some(b"Overloaded"), &[(b"Retry-After", b"30")]);
    let r = Message::parse(h.ep.poll_transmit().unwrap().bytes).unwrap();
    assert_eq!(r.status(), Some(503));
    assert_eq!(r.reason(), Some(&b"Overloaded"[..]));
    assert_eq!(r.get_raw(b"Retry-After"), Some(&b"30"[..]));
    // Out-of-range statuses become 500; a 200 (OPTIONS keep-alive) is allowed.
    let inc = incoming(h.recv(request("OPTIONS", Some("z9hG4bKd3")), udp()));
    h.ep.reject(inc, 100);
    let r = Message::parse(h.ep.poll_transmit().unwrap().bytes).unwrap();
    assert_eq!(r.status(), Some(500));
    let inc = incoming(h.recv(request("OPTIONS", Some("z9hG4bKd4")), udp()));
    h.ep.reject(inc, 200);
    let r = Message::parse(h.ep.poll_transmit().unwrap().bytes).unwrap();
    assert_eq!(r.status(), Some(200));
    assert!(h.ep.is_empty());
}

#[test]
fn ignore_creates_no_state_and_sends_nothing() {
    let mut h = H::new();
    let inc = incoming(h.recv(request("INVITE", Some("z9hG4bKd5")), udp()));
    h.ep.ignore(inc);
    h.collect();
    assert!(h.ep.is_empty());
    assert!(h.take_sent().is_empty());
    let (m, p) = incoming(h.recv(request("INVITE", Some("z9hG4bKd5")), udp())).into_parts();
    assert_eq!((m.method(), p), (Some(sbc_sip::Method::Invite), udp()));
}

#[test]
fn stray_responses_go_to_the_tu() {
    let mut h = H::new();
    let req = request("INVITE", Some("z9hG4bKnobody"));
    match h.recv(response(&req, 200, Some("b1")), udp()) {
        Dispatch::StrayResponse { msg, from } => {
            assert_eq!(msg.status(), Some(200));
            assert_eq!(from, udp());
        }
        other => panic!("{other:?}"),
    }
    // A response without a branch cannot be ours either.
    let branchless = request("OPTIONS", None);
    assert!(matches!(
        h.recv(response(&branchless, 200, None), udp()),
        Dispatch::StrayResponse { .. }
    ));
}

#[test]
fn messages_without_via_or_cseq_are_dropped_with_a_reason() {
    let mut h = H::new();
    let no_via = msg(&[
        "OPTIONS sip:bob@example.com SIP/2.0",
        "From: <sip:alice@example.com>;tag=a1",
        "To: <sip:bob@example.com>",
        "Call-ID: x",
        "CSeq: 1 OPTIONS",
    ]);
    assert!(matches!(
        h.recv(no_via, udp()),
        Dispatch::Dropped(DropReason::NoVia)
    ));
    let resp_no_via = msg(&["SIP/2.0 200 OK", "Call-ID: x", "CSeq: 1 OPTIONS"]);
    assert!(matches!(
        h.recv(resp_no_via, udp()),
        Dispatch::Dropped(DropReason::NoVia)
    ));
    let resp_no_cseq = msg(&[
        "SIP/2.0 200 OK",
        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx",
        "Call-ID: x",
    ]);
    assert!(matches!(
        h.recv(resp_no_cseq, udp()),
        Dispatch::Dropped(DropReason::NoCSeq)
    ));
    assert_eq!(DropReason::NoCSeq.to_string(), "response without CSeq");
    assert!(h.ep.is_empty());
}

#[test]
fn responses_match_on_branch_and_cseq_method() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKd6"));
    let id = h.send(inv.clone(), udp());
    // Same branch, CSeq CANCEL: not the INVITE's (§17.1.3 rule 2).
    let cancel = request_full(
        "CANCEL",
        Some("z9hG4bKd6"),
        "192.0.2.1:5060",
        None,
        "CANCEL",
    );
    assert!(matches!(
        h.recv(response(&cancel, 200, Some("b1")), udp()),
        Dispatch::StrayResponse { .. }
    ));
    // Other branch: not ours.
    let other = request("INVITE", Some("z9hG4bKd6-other"));
    assert!(matches!(
        h.recv(response(&other, 180, Some("b1")), udp()),
        Dispatch::StrayResponse { .. }
    ));
    assert!(matches!(
        h.recv(response(&inv, 180, Some("b1")), udp()),
        Dispatch::Matched(t) if t == id
    ));
}

#[test]
fn server_keys_include_sent_by_and_method() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKd7"));
    let id = h.accept(inv, udp());
    // Same branch from another sent-by: a different transaction (§17.2.3).
    let elsewhere = request_full(
        "INVITE",
        Some("z9hG4bKd7"),
        "192.0.2.99:5060",
        None,
        "INVITE",
    );
    assert!(matches!(h.recv(elsewhere, udp()), Dispatch::Incoming(_)));
    // Same branch and sent-by, another method: a different transaction.
    let info = request_full("INFO", Some("z9hG4bKd7"), "192.0.2.1:5060", None, "INFO");
    assert!(matches!(h.recv(info, udp()), Dispatch::Incoming(_)));
    // Port written differently (absent vs 5060) is a different sent-by, byte for byte.
    let noport = request_full("INVITE", Some("z9hG4bKd7"), "192.0.2.1", None, "INVITE");
    assert!(matches!(h.recv(noport, udp()), Dispatch::Incoming(_)));
    assert_eq!(h.ep.len(), 1);
    assert!(h.ep.state(id).is_some());
}

#[test]
fn cancel_is_its_own_transaction_and_names_its_invite() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKd8"));
    let inv_id = h.accept(inv.clone(), udp());
    h.respond(inv_id, response(&inv, 180, Some("s1")));
    h.at(2_000);
    let cancel = request_full(
        "CANCEL",
        Some("z9hG4bKd8"),
        "192.0.2.1:5060",
        None,
        "CANCEL",
    );
    let inc = incoming(h.recv(cancel.clone(), udp()));
    assert_eq!(inc.method(), sbc_sip::Method::Cancel);
    assert_eq!(inc.cancels(), Some(inv_id));
    let c_id = h.ep.accept(h.now, inc).unwrap();
    assert_ne!(c_id, inv_id);
    assert!(matches!(
        h.ep.state(c_id),
        Some(TxnState::ServerNonInvite(_))
    ));
    // The TU: 200 to the CANCEL, 487 to the INVITE (§9.2).
    h.respond(c_id, response(&cancel, 200, Some("s1")));
    h.respond(inv_id, response(&inv, 487, Some("s1")));
    // A retransmitted CANCEL gets its 200 again, not a new Incoming.
    assert!(matches!(h.recv(cancel, udp()), Dispatch::Matched(t) if t == c_id));
    let ack = request_full(
        "ACK",
        Some("z9hG4bKd8"),
        "192.0.2.1:5060",
        Some("s1"),
        "ACK",
    );
    assert!(matches!(h.recv(ack, udp()), Dispatch::Matched(t) if t == inv_id));
    assert_eq!(
        h.take_sent(),
        sent(&[
            (0, "100"),
            (0, "180"),
            (2_000, "200"),
            (2_000, "487"),
            (2_000, "200"),
        ])
    );
    assert_eq!(
        h.ep.state(inv_id),
        Some(TxnState::ServerInvite(ServerInviteState::Confirmed))
    );
}

#[test]
fn cancel_without_its_invite_has_no_target() {
    let mut h = H::new();
    let cancel = request_full(
        "CANCEL",
        Some("z9hG4bKd9"),
        "192.0.2.1:5060",
        None,
        "CANCEL",
    );
    let inc = incoming(h.recv(cancel, udp()));
    assert_eq!(inc.cancels(), None);
    h.ep.reject(inc, 481);
    let r = Message::parse(h.ep.poll_transmit().unwrap().bytes).unwrap();
    assert_eq!(r.status(), Some(481));
    // A CANCEL names only INVITE server transactions.
    let opt = request_full(
        "OPTIONS",
        Some("z9hG4bKda"),
        "192.0.2.1:5060",
        None,
        "OPTIONS",
    );
    h.accept(opt, udp());
    let cancel = request_full(
        "CANCEL",
        Some("z9hG4bKda"),
        "192.0.2.1:5060",
        None,
        "CANCEL",
    );
    assert_eq!(incoming(h.recv(cancel, udp())).cancels(), None);
}

#[test]
fn rfc2543_requests_are_matched_without_a_branch() {
    let mut h = H::new();
    // No branch at all.
    let inv = request("INVITE", None);
    let inc = incoming(h.recv(inv.clone(), udp()));
    assert!(inc.is_rfc2543());
    let id = h.ep.accept(h.now, inc).unwrap();
    // The retransmission matches on Request-URI, tags, Call-ID, CSeq and top Via.
    assert!(matches!(h.recv(inv.clone(), udp()), Dispatch::Matched(t) if t == id));
    // Another From tag, Call-ID or CSeq is another request.
    let other = Message::parse(inv.as_bytes().to_vec().replace_all(b"tag=a1", b"tag=a2")).unwrap();
    assert!(matches!(h.recv(other, udp()), Dispatch::Incoming(_)));
    let other =
        Message::parse(inv.as_bytes().to_vec().replace_all(b"CSeq: 1", b"CSeq: 2")).unwrap();
    assert!(matches!(h.recv(other, udp()), Dispatch::Incoming(_)));
    // A To tag the INVITE did not have: not a retransmission.
    let tagged = request_full("INVITE", None, "192.0.2.1:5060", Some("zz"), "INVITE");
    assert!(matches!(h.recv(tagged, udp()), Dispatch::Incoming(_)));

    // A CANCEL finds its INVITE by the same fields (§9.2).
    let cancel = request_full("CANCEL", None, "192.0.2.1:5060", None, "CANCEL");
    assert_eq!(incoming(h.recv(cancel, udp())).cancels(), Some(id));

    // The ACK matches only with the To tag of our final response.
    h.respond(id, response(&inv, 486, Some("s1")));
    let wrong = request_full("ACK", None, "192.0.2.1:5060", Some("nope"), "ACK");
    assert!(matches!(
        h.recv(wrong, udp()),
        Dispatch::StrayAck { invite: None, .. }
    ));
    let ack = request_full("ACK", None, "192.0.2.1:5060", Some("s1"), "ACK");
    assert!(matches!(h.recv(ack, udp()), Dispatch::Matched(t) if t == id));
    assert_eq!(
        h.ep.state(id),
        Some(TxnState::ServerInvite(ServerInviteState::Confirmed))
    );
}

#[test]
fn a_bare_magic_cookie_is_not_an_rfc3261_branch() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bK"));
    let inc = incoming(h.recv(inv.clone(), udp()));
    assert!(inc.is_rfc2543(), "RFC 4475 badbranch");
    let id = h.ep.accept(h.now, inc).unwrap();
    assert!(matches!(h.recv(inv, udp()), Dispatch::Matched(t) if t == id));
    // A non-cookie branch is RFC 2543 too; the branch is part of the top Via compared.
    let old = request("OPTIONS", Some("1234"));
    let id2 = h.accept(old.clone(), udp());
    assert!(matches!(h.recv(old, udp()), Dispatch::Matched(t) if t == id2));
    let other = request("OPTIONS", Some("5678"));
    assert!(matches!(h.recv(other, udp()), Dispatch::Incoming(_)));
}

#[test]
fn rfc2543_ack_for_2xx_reaches_the_tu_through_accepted() {
    let mut h = H::new();
    let inv = request("INVITE", None);
    let id = h.accept(inv.clone(), udp());
    h.respond(id, response(&inv, 200, Some("s1")));
    let ack = request_full("ACK", None, "192.0.2.1:5060", Some("s1"), "ACK");
    assert!(matches!(
        h.recv(ack, udp()),
        Dispatch::StrayAck { invite: Some(t), .. } if t == id
    ));
}

#[test]
fn accepting_a_second_copy_is_a_duplicate() {
    let mut h = H::new();
    let inv = request("INVITE", Some("z9hG4bKdb"));
    // The TU holds the Incoming (waiting for a routing answer) while a retransmission comes.
    let first = incoming(h.recv(inv.clone(), udp()));
    let second = incoming(h.recv(inv, udp()));
    let id = h.ep.accept(h.now, first).unwrap();
    let err = h.ep.accept(h.now, second).unwrap_err();
    assert!(matches!(err, AcceptError::Duplicate(t) if t == id));
    assert_eq!(err.status(), None);
    assert_eq!(h.ep.len(), 1);
}

#[test]
fn a_full_table_refuses_and_gives_the_request_back() {
    let mut h = H::with(Config {
        max_transactions: 1,
        ..Config::default()
    });
    h.accept(request("OPTIONS", Some("z9hG4bKdc")), udp());
    let inc = incoming(h.recv(request("INVITE", Some("z9hG4bKdd")), udp()));
    let err = h.ep.accept(h.now, inc).unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.to_string(), "transaction table full");
    let AcceptError::TableFull(inc) = err else {
        panic!("expected TableFull");
    };
    h.ep.reject(*inc, 503);
    let r = Message::parse(h.ep.poll_transmit().unwrap().bytes).unwrap();
    assert_eq!(r.status(), Some(503));
    let e =
        h.ep.send_request(h.now, request("OPTIONS", Some("z9hG4bKde")), udp())
            .unwrap_err();
    assert_eq!((e, e.status()), (SendError::TableFull, 503));
    assert_eq!(h.ep.len(), 1);
}

#[test]
fn handles_outlive_their_transactions_safely() {
    let mut h = H::new();
    let req = request("OPTIONS", Some("z9hG4bKdf"));
    let old = h.accept(req.clone(), tcp());
    h.respond(old, response(&req, 200, None)); // J = 0 on TCP: gone at once
    assert!(h.ep.state(old).is_none());
    let new = h.accept(request("OPTIONS", Some("z9hG4bKdg")), tcp());
    assert_eq!(new.index(), old.index(), "the slot is reused");
    assert_ne!(new.generation(), old.generation());
    assert_ne!(new, old);
    assert_eq!(
        h.ep.respond(h.now, old, response(&req, 200, None)),
        Err(RespondError::UnknownTxn(old))
    );
    assert!(h.ep.request(old).is_none() && h.ep.peer(old).is_none());
    assert!(h.ep.state(new).is_some());
    assert!(!old.to_string().is_empty());
}

#[test]
fn send_request_checks_what_it_is_given() {
    let mut h = H::new();
    let now = h.now;
    let ep = &mut h.ep;
    let ack = request("ACK", Some("z9hG4bKdh"));
    assert_eq!(ep.send_request(now, ack, udp()), Err(SendError::Ack));
    let resp = response(&request("OPTIONS", Some("z9hG4bKdh")), 200, None);
    assert_eq!(
        ep.send_request(now, resp, udp()),
        Err(SendError::NotARequest)
    );
    assert_eq!(
        ep.send_request(now, request("OPTIONS", None), udp()),
        Err(SendError::NoBranch)
    );
    assert_eq!(
        ep.send_request(now, request("OPTIONS", Some("1234")), udp()),
        Err(SendError::NoBranch)
    );
    let no_via = msg(&["OPTIONS sip:b@example.com SIP/2.0", "CSeq: 1 OPTIONS"]);
    assert_eq!(ep.send_request(now, no_via, udp()), Err(SendError::NoVia));
    let no_cseq = msg(&[
        "OPTIONS sip:b@example.com SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKdi",
    ]);
    assert_eq!(ep.send_request(now, no_cseq, udp()), Err(SendError::NoCSeq));
    let id = ep
        .send_request(now, request("OPTIONS", Some("z9hG4bKdj")), udp())
        .unwrap();
    assert_eq!(
        ep.send_request(now, request("OPTIONS", Some("z9hG4bKdj")), udp()),
        Err(SendError::Duplicate(id))
    );
    assert!(matches!(
        ep.send_request_bytes(now, &b"not sip"[..], udp()),
        Err(SendError::Parse(_))
    ));
    let bytes = request("INFO", Some("z9hG4bKdk")).bytes().clone();
    let id2 = ep.send_request_bytes(now, bytes, udp()).unwrap();
    assert_eq!(ep.len(), 2);
    assert_eq!(
        ep.respond(
            now,
            id2,
            response(&request("INFO", Some("z9hG4bKdk")), 200, None)
        ),
        Err(RespondError::NotServer(id2))
    );
}

#[test]
fn stateless_sends_bypass_the_table() {
    let mut ep = Endpoint::new(Config::default()).unwrap();
    let ack = request("ACK", Some("z9hG4bKdl"));
    ep.send_stateless(udp(), ack.bytes().clone());
    let x = ep.poll_transmit().unwrap();
    assert_eq!((x.to, x.txn, x.bytes), (udp(), None, ack.bytes().clone()));
    assert!(ep.is_empty());
    assert_eq!(ep.poll_event().map(|_| ()), None);
    assert_eq!(ep.config().t1, core::time::Duration::from_millis(500));
}

#[test]
fn bad_configuration_is_refused() {
    let cfg = Config {
        t1: core::time::Duration::ZERO,
        ..Config::default()
    };
    assert!(Endpoint::new(cfg).is_err());
}

#[test]
fn many_transactions_fire_in_deadline_order_deterministically() {
    let run = || {
        let mut h = H::new();
        for i in 0..50u64 {
            h.at(i * 37);
            let b = format!("z9hG4bKmany{i}");
            if i % 2 == 0 {
                h.send(request("OPTIONS", Some(&b)), udp());
            } else {
                h.send(request("INVITE", Some(&b)), udp());
            }
        }
        h.at(70_000);
        assert!(h.ep.is_empty());
        assert_eq!(h.ep.poll_timeout(), None);
        let sent: Vec<(u64, Option<u32>)> = h
            .take_transmits()
            .into_iter()
            .map(|(t, x)| (t, x.txn.map(|id| id.index())))
            .collect();
        (sent, h.take_events())
    };
    let (a, ea) = run();
    let (b, eb) = run();
    assert_eq!(a, b);
    assert_eq!(ea, eb);
    assert!(
        a.windows(2).all(|w| w[0].0 <= w[1].0),
        "time never goes back"
    );
    // 25 non-INVITE (11 sends each) and 25 INVITE (7 sends each).
    assert_eq!(a.len(), 25 * 11 + 25 * 7);
    assert_eq!(ea.len(), 100, "one timeout and one terminated each");
}

trait ReplaceAll {
    fn replace_all(self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplaceAll for Vec<u8> {
    fn replace_all(self, from: &[u8], to: &[u8]) -> Vec<u8> {
        let s = String::from_utf8(self).unwrap();
        s.replace(
            std::str::from_utf8(from).unwrap(),
            std::str::from_utf8(to).unwrap(),
        )
        .into_bytes()
    }
}
