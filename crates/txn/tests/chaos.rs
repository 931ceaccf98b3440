//! Deterministic random walks over every input (principle 10: input never panics). A tiny
//! LCG picks messages, TU commands and clock steps from small pools so that matches,
//! duplicates, reorderings and races are frequent; the bookkeeping must stay exact.

mod common;

use std::collections::{HashMap, HashSet};

use common::*;
use sbc_sip::Message;
use sbc_txn::{Config, Dispatch, Endpoint, Event, Instant, Peer, TxnId};

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }
}

const METHODS: [&str; 6] = ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "FOO"];
const BRANCHES: [Option<&str>; 6] = [
    Some("z9hG4bKr1"),
    Some("z9hG4bKr2"),
    Some("z9hG4bKr3"),
    Some("1234"),
    Some("z9hG4bK"),
    None,
];
const STATUSES: [u16; 9] = [100, 180, 183, 200, 202, 404, 486, 487, 503];
const TAGS: [Option<&str>; 3] = [None, Some("t1"), Some("t2")];

fn walk(seed: u64, steps: usize) {
    let mut rng = Lcg(seed);
    let cfg = Config {
        max_transactions: 12,
        tag_seed: seed,
        ..Config::default()
    };
    let mut ep = Endpoint::new(cfg).unwrap();
    let mut now = Instant::ZERO;
    let mut created: HashSet<TxnId> = HashSet::new();
    let mut terminated: HashMap<TxnId, usize> = HashMap::new();
    let mut handles: Vec<TxnId> = Vec::new();
    let mut held: Vec<sbc_txn::Incoming> = Vec::new();
    let peers = [udp(), tcp()];

    for _ in 0..steps {
        let peer: Peer = *rng.pick(&peers);
        let method = *rng.pick(&METHODS);
        let branch = *rng.pick(&BRANCHES);
        let tag = *rng.pick(&TAGS);
        let req = || -> Message {
            let cseq = if method == "ACK" { "ACK" } else { method };
            request_full(method, branch, "192.0.2.1:5060", tag, cseq)
        };
        match rng.next() % 10 {
            0 | 1 => {
                // A request from the wire.
                match ep.handle_message(now, req(), peer) {
                    Dispatch::Incoming(inc) => match rng.next() % 4 {
                        0 => ep.reject(inc, *rng.pick(&STATUSES)),
                        1 => ep.ignore(inc),
                        2 => held.push(inc),
                        _ => {
                            if let Ok(id) = ep.accept(now, inc) {
                                assert!(created.insert(id), "fresh handle");
                                handles.push(id);
                            }
                        }
                    },
                    Dispatch::Matched(id) => assert!(created.contains(&id)),
                    Dispatch::StrayAck { invite, .. } => {
                        if let Some(id) = invite {
                            assert!(created.contains(&id));
                        }
                    }
                    Dispatch::StrayResponse { .. } => panic!("a request is not a response"),
                    Dispatch::Dropped(_) => {}
                }
            }
            2 => {
                // A held Incoming is finally accepted (perhaps after its twin).
                if !held.is_empty() {
                    let i = (rng.next() as usize) % held.len();
                    let inc = held.swap_remove(i);
                    if let Ok(id) = ep.accept(now, inc) {
                        assert!(created.insert(id));
                        handles.push(id);
                    }
                }
            }
            3 => {
                // A response from the wire (to one of ours, or a stray).
                let r = response(&req(), *rng.pick(&STATUSES), tag);
                if let Dispatch::Matched(id) = ep.handle_message(now, r, peer) {
                    assert!(created.contains(&id));
                }
            }
            4 => {
                // The TU sends a request.
                if let Ok(id) = ep.send_request(now, req(), peer) {
                    assert!(created.insert(id));
                    handles.push(id);
                }
            }
            5 | 6 => {
                // The TU answers, cancels or hears of a transport error on some handle.
                if let Some(&id) = handles.get((rng.next() as usize) % handles.len().max(1)) {
                    match rng.next() % 4 {
                        0 | 1 => {
                            if let Some(r) = ep.request(id).cloned() {
                                let _ =
                                    ep.respond(now, id, response(&r, *rng.pick(&STATUSES), tag));
                            }
                        }
                        2 => {
                            if let Ok(c) = ep.cancel(now, id) {
                                assert!(created.insert(c));
                                handles.push(c);
                            }
                        }
                        _ => {
                            let _ = ep.handle_transport_error(now, id);
                        }
                    }
                }
            }
            _ => {
                // Time passes: sometimes a little, sometimes past every timer.
                let step = *rng.pick(&[1u64, 100, 499, 500, 4_000, 33_000]);
                now = now + core::time::Duration::from_millis(step);
                ep.handle_timeout(now);
            }
        }
        while ep.poll_transmit().is_some() {}
        while let Some(e) = ep.poll_event() {
            let id = match e {
                Event::Response { txn, .. }
                | Event::Timeout { txn, .. }
                | Event::TransportError { txn } => txn,
                Event::Terminated { txn } => {
                    *terminated.entry(txn).or_default() += 1;
                    txn
                }
            };
            assert!(created.contains(&id), "events name issued handles");
            assert!(
                !terminated.contains_key(&id) || ep.state(id).is_none(),
                "nothing lives after Terminated"
            );
        }
        if let Some(d) = ep.poll_timeout() {
            assert!(d > now, "due timers were handled");
        }
        let live = created.iter().filter(|&&id| ep.state(id).is_some()).count();
        assert_eq!(ep.len(), live);
        assert!(ep.len() <= 12);
        assert!(terminated.values().all(|&n| n == 1), "terminated once");
        assert_eq!(created.len(), live + terminated.len());
    }
}

#[test]
fn random_walks_keep_the_books_straight() {
    for seed in 1..=40 {
        walk(seed, 3_000);
    }
}
