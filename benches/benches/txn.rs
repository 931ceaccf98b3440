//! Transaction layer (`sbc-txn`) costs, sans-IO with a virtual clock (issue 3).
//!
//! * `txn-new-invite/accept-100-200`: a new INVITE server transaction per iteration:
//!   `handle_message` (→ `Incoming`) → `accept` (sends 100 Trying) → `respond` 200 (→
//!   Accepted, Timer L) → drain transmits and events. The virtual clock advances 1 ms per
//!   INVITE and `handle_timeout` runs every iteration, so Timer L (32 s) destroys each
//!   transaction again: the table settles at ~32 000 live transactions and the figure is
//!   the whole lifecycle of one transaction.
//! * `txn-new-invite/reject-stateless`: the reference lower cost, `handle_message` +
//!   stateless `reject` (503, no table slot) + drain.
//! * `txn-retransmit/*`: with `TABLE` = 10 000 live INVITE server transactions, a
//!   retransmitted INVITE matched in Proceeding (absorbed, the 100 re-sent) or in Accepted
//!   (absorbed silently), against a miss (an unknown branch → `Incoming`, then `ignore`).
//!
//! Messages are `tests/vectors/own/invite-900.sip` with a unique branch, Call-ID and From
//! tag, parsed outside the timed loop (`iter_batched`), each retransmission from a copy of
//! the original's bytes (a buffer of its own, as off the wire); the 200 OKs are built and
//! parsed outside it too, so the figures are the transaction layer alone. Throughput is one
//! element per INVITE: criterion prints ns/op and ops/s.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sbc_sip::{build, Message};
use sbc_txn::{Config, Dispatch, Endpoint, Instant, Peer, Transport};

/// Live server transactions during the retransmission benches.
const TABLE: usize = 10_000;

/// Virtual time between two new INVITEs.
const STEP: Duration = Duration::from_millis(1);

const BRANCH: &[u8] = b"z9hG4bK776asdhds";
const CALL_ID: &[u8] = b"a84b4c76e66710@pc33.atlanta.example.com";
const FROM_TAG: &[u8] = b"tag=1928301774";

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(15)
        .noise_threshold(0.03)
}

/// Replaces the first occurrence of `from` in `src` by `to`.
fn replace(src: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = src
        .windows(from.len())
        .position(|w| w == from)
        .expect("template field");
    let mut out = Vec::with_capacity(src.len() + to.len());
    out.extend_from_slice(&src[..at]);
    out.extend_from_slice(to);
    out.extend_from_slice(&src[at + from.len()..]);
    out
}

/// Builds unique INVITEs from the vector.
struct Invites {
    template: Vec<u8>,
    next: u64,
}

impl Invites {
    fn new() -> Invites {
        Invites {
            template: sbc_benches::load("invite-900.sip").to_vec(),
            next: 0,
        }
    }

    /// The next INVITE (a new branch, Call-ID and From tag: a new transaction and call).
    fn next(&mut self) -> Message {
        let n = self.next;
        self.next += 1;
        let branch = format!("z9hG4bK{n:016x}");
        let call_id = format!("{n:016x}@pc33.atlanta.example.com");
        let tag = format!("tag={n:x}");
        let raw = replace(&self.template, BRANCH, branch.as_bytes());
        let raw = replace(&raw, CALL_ID, call_id.as_bytes());
        let raw = replace(&raw, FROM_TAG, tag.as_bytes());
        Message::parse(raw).expect("INVITE parses")
    }
}

/// A 200 OK (with a To tag) for `invite`.
fn ok200(invite: &Message) -> Message {
    let mut out = Vec::with_capacity(1024);
    let contact: &[u8] = b"<sip:sbc@192.0.2.50:5060>";
    let mut w = build::response(invite, 200, None, Some(b"sbc-1"), &mut out);
    w.header(b"Contact", contact);
    w.finish(None, b"");
    Message::parse(out).expect("200 parses")
}

fn peer() -> Peer {
    Peer::new(Transport::Udp, "198.51.100.10:5060".parse().unwrap())
}

fn endpoint() -> Endpoint {
    Endpoint::new(Config::default()).expect("default config")
}

/// Drains both output queues; returns how many items there were.
fn drain(ep: &mut Endpoint) -> usize {
    let mut n = 0;
    while let Some(t) = ep.poll_transmit() {
        black_box(&t);
        n += 1;
    }
    while let Some(e) = ep.poll_event() {
        black_box(&e);
        n += 1;
    }
    n
}

/// handle → accept (100) → respond 200 → drain.
fn new_invite(ep: &mut Endpoint, now: Instant, from: Peer, invite: Message, ok: Message) {
    let Dispatch::Incoming(inc) = ep.handle_message(now, invite, from) else {
        panic!("a new INVITE must be Incoming");
    };
    let txn = ep.accept(now, inc).expect("accept");
    ep.respond(now, txn, ok).expect("respond 200");
    drain(ep);
}

fn new_invites(c: &mut Criterion) {
    let from = peer();
    let mut g = c.benchmark_group("txn-new-invite");
    g.throughput(Throughput::Elements(1));

    {
        let mut ep = endpoint();
        let mut now = Instant::ZERO;
        let mut gen = Invites::new();
        g.bench_function("accept-100-200", |b| {
            b.iter_batched(
                || {
                    let inv = gen.next();
                    let ok = ok200(&inv);
                    (inv, ok)
                },
                |(inv, ok)| {
                    now = now + STEP;
                    ep.handle_timeout(now);
                    new_invite(&mut ep, now, from, inv, ok);
                },
                BatchSize::SmallInput,
            )
        });
        // Steady state: Timer L (64*T1 = 32 s) / 1 ms per INVITE.
        assert!(ep.len() <= 32_001, "table did not settle: {}", ep.len());
    }

    {
        let mut ep = endpoint();
        let mut gen = Invites::new();
        g.bench_function("reject-stateless", |b| {
            b.iter_batched(
                || gen.next(),
                |inv| {
                    let Dispatch::Incoming(inc) = ep.handle_message(Instant::ZERO, inv, from)
                    else {
                        panic!("a new INVITE must be Incoming");
                    };
                    ep.reject(inc, 503);
                    drain(&mut ep)
                },
                BatchSize::SmallInput,
            )
        });
        assert!(ep.is_empty());
    }
    g.finish();
}

/// An endpoint holding `TABLE` INVITE server transactions (in Proceeding, or in Accepted
/// when `answered`), and the bytes of their INVITEs.
fn table(answered: bool) -> (Endpoint, Vec<Vec<u8>>) {
    let from = peer();
    let mut ep = endpoint();
    let mut gen = Invites::new();
    let mut invites = Vec::with_capacity(TABLE);
    for _ in 0..TABLE {
        let inv = gen.next();
        invites.push(inv.as_bytes().to_vec());
        let ok = ok200(&inv);
        let Dispatch::Incoming(inc) = ep.handle_message(Instant::ZERO, inv, from) else {
            panic!("a new INVITE must be Incoming");
        };
        let txn = ep.accept(Instant::ZERO, inc).expect("accept");
        if answered {
            ep.respond(Instant::ZERO, txn, ok).expect("200");
        }
        drain(&mut ep);
    }
    assert_eq!(ep.len(), TABLE);
    (ep, invites)
}

fn retransmissions(c: &mut Criterion) {
    let from = peer();
    let now = Instant::from_millis(100);
    let mut g = c.benchmark_group("txn-retransmit");
    g.throughput(Throughput::Elements(1));

    for (name, answered, resends) in [
        ("match-proceeding-10k", false, 1),
        ("match-accepted-10k", true, 0),
    ] {
        let (mut ep, invites) = table(answered);
        let mut i = 0usize;
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    // A retransmission arrives in a buffer of its own.
                    i = (i + 1) % TABLE;
                    Message::parse(invites[i].clone()).expect("INVITE parses")
                },
                |inv| {
                    let Dispatch::Matched(id) = ep.handle_message(now, inv, from) else {
                        panic!("a retransmission must match");
                    };
                    black_box(id);
                    assert_eq!(drain(&mut ep), resends);
                },
                BatchSize::SmallInput,
            )
        });
        assert_eq!(ep.len(), TABLE);
    }

    {
        let (mut ep, _) = table(false);
        // New branches: the generator starts past the table's.
        let mut gen = Invites::new();
        gen.next = TABLE as u64;
        g.bench_function("miss-new-branch-10k", |b| {
            b.iter_batched(
                || gen.next(),
                |inv| {
                    let Dispatch::Incoming(inc) = ep.handle_message(now, inv, from) else {
                        panic!("an unknown branch must be Incoming");
                    };
                    ep.ignore(black_box(inc));
                },
                BatchSize::SmallInput,
            )
        });
        assert_eq!(ep.len(), TABLE);
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = new_invites, retransmissions
}
criterion_main!(benches);
