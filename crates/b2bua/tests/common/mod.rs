//! The device under test for the engine's tests: one shard's endpoint and engine behind a
//! socket address, as the shell will run them, plus the standard topology (caller, two
//! gateways) and message templates.

#![allow(dead_code)] // each test file uses a different part

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sbc_b2bua::{Engine, EngineConfig, EngineEvent, Router, StaticRouter};
use sbc_sip::{Framing, Message, ParserConfig};
use sbc_testkit::{Node, Sim, Ua};
use sbc_txn::{Config, Endpoint, Instant, Peer, Transmit, Transport};

pub const SBC: &str = "127.0.0.1:5060";
pub const ALICE: &str = "127.0.0.1:5070";
pub const GW1: &str = "127.0.0.1:5080";
pub const GW2: &str = "127.0.0.1:5090";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Endpoint + engine, driven exactly as the shell drives a shard.
#[derive(Debug)]
pub struct SbcNode {
    pub ep: Endpoint,
    pub engine: Engine,
    pub events: Vec<EngineEvent>,
    addr: SocketAddr,
    /// Transmits to this address fail (the shell reports a transport error).
    pub unreachable: Option<SocketAddr>,
    /// Panics contained (as the shell does: the call concerned is ended, the rest goes on).
    pub panics: u32,
    /// TCP connections are refused (transmits over TCP fail).
    pub refuse_tcp: bool,
    now: Instant,
}

impl SbcNode {
    pub fn new(cfg: EngineConfig, router: Arc<dyn Router>) -> SbcNode {
        let ep = Endpoint::new(Config {
            tag_seed: 42,
            ..Config::default()
        })
        .unwrap();
        let engine = Engine::with_seed(cfg, 3, router, 1).unwrap();
        SbcNode {
            ep,
            engine,
            events: Vec::new(),
            addr: addr(SBC),
            unreachable: None,
            panics: 0,
            refuse_tcp: false,
            now: Instant::ZERO,
        }
    }

    /// What the shell's shard does: contain a panic, then let the engine end the call the
    /// input concerned (itself contained).
    fn guarded(&mut self, now: Instant, f: impl FnOnce(&mut Engine, &mut Endpoint)) {
        use std::panic::{catch_unwind, AssertUnwindSafe};
        let (engine, ep) = (&mut self.engine, &mut self.ep);
        if catch_unwind(AssertUnwindSafe(|| f(engine, ep))).is_err() {
            self.panics += 1;
            let _ = catch_unwind(AssertUnwindSafe(|| engine.recover_after_panic(now, ep)));
        }
    }

    fn pump(&mut self, now: Instant) {
        self.guarded(now, |engine, ep| engine.drain_endpoint_events(now, ep));
        while let Some(e) = self.engine.poll_event() {
            self.events.push(e);
        }
    }

    /// CDRs emitted so far.
    pub fn cdrs(&self) -> Vec<sbc_b2bua::Cdr> {
        self.events
            .iter()
            .filter_map(|e| match e {
                EngineEvent::Cdr(c) => Some((**c).clone()),
                _ => None,
            })
            .collect()
    }
}

impl Node for SbcNode {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn receive(&mut self, now: Instant, bytes: Bytes, from: Peer) {
        let Ok(msg) = Message::parse_with(bytes, &ParserConfig::default(), Framing::Datagram)
        else {
            return;
        };
        let d = self.ep.handle_message(now, msg, from);
        self.guarded(now, |engine, ep| engine.handle_dispatch(now, ep, d));
        self.pump(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        loop {
            let t = self.ep.poll_transmit()?;
            if self.refuse_tcp && t.to.transport == Transport::Tcp {
                if let Some(txn) = t.txn {
                    let now = self.now;
                    let _ = self.ep.handle_transport_error(now, txn);
                    self.pump(now);
                }
                continue;
            }
            match (self.unreachable, t.txn) {
                (Some(a), Some(txn)) if t.to.addr == a => {
                    // What the shell does when a send fails.
                    let now = self.now;
                    let _ = self.ep.handle_transport_error(now, txn);
                    self.pump(now);
                }
                (Some(a), None) if t.to.addr == a => {}
                _ => return Some(t),
            }
        }
    }

    fn set_now(&mut self, now: Instant) {
        self.now = now;
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        match (self.ep.poll_timeout(), self.engine.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.ep.handle_timeout(now);
        self.pump(now);
        self.guarded(now, |engine, ep| engine.handle_timeout(now, ep));
        self.pump(now);
    }
}

pub fn default_config() -> EngineConfig {
    EngineConfig {
        product: "TestSBC/1.0".into(),
        ..EngineConfig::default()
    }
}

/// Alice (index 0) calling through the SBC to gw1 (index 1), failover gw2 (index 2).
pub fn world(cfg: EngineConfig) -> Sim<SbcNode> {
    let router = StaticRouter::lab_default(Some(Peer::new(Transport::Udp, addr(GW2))));
    world_with(cfg, Arc::new(router))
}

pub fn world_with(cfg: EngineConfig, router: Arc<dyn Router>) -> Sim<SbcNode> {
    Sim::new(
        SbcNode::new(cfg, router),
        vec![
            Ua::new("alice", ALICE),
            Ua::new("gw1", GW1),
            Ua::new("gw2", GW2),
        ],
    )
}

pub const SDP_A: &str = "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";
pub const SDP_B: &str = "v=0\r\no=gw 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 50000 RTP/AVP 0\r\n";

/// Alice's INVITE to +15551234 through the SBC.
pub fn invite(call_id: &str, extra: &[&str], body: &str) -> String {
    let mut lines = vec![
        "INVITE sip:+15551234@127.0.0.1:5060;user=phone SIP/2.0".to_string(),
        format!("Via: SIP/2.0/UDP {ALICE};branch=z9hG4bKa-{call_id}"),
        "Via: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bKhidden".to_string(),
        "Max-Forwards: 70".to_string(),
        "From: \"Alice\" <sip:+15550001@alice.example.com;user=phone>;tag=a-tag".to_string(),
        "To: <sip:+15551234@sbc.example.com;user=phone>".to_string(),
        format!("Call-ID: {call_id}"),
        "CSeq: 10 INVITE".to_string(),
        format!("Contact: <sip:alice@{ALICE}>"),
        "Record-Route: <sip:127.0.0.1:5070;lr;x-topo=core17>".to_string(),
        "User-Agent: AliceUA/2".to_string(),
        "P-Asserted-Identity: <sip:+15550001@alice.example.com;user=phone>".to_string(),
        "X-Secret-Topology: internal-host-17".to_string(),
        "Supported: timer".to_string(),
    ];
    lines.extend(extra.iter().map(|s| s.to_string()));
    if !body.is_empty() {
        lines.push("Content-Type: application/sdp".into());
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    sbc_testkit::request(&refs, body)
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs long enough for every transaction and timer of ended calls to finish (Timer D
/// is 32 s, L/M 64*T1), then asserts every table is empty.
pub fn assert_drained(sim: &mut Sim<SbcNode>) {
    sim.run_for(Duration::from_secs(40));
    assert_eq!(sim.dut.engine.calls(), 0, "calls left");
    assert_eq!(sim.dut.engine.index_len(), 0, "index entries left");
    assert_eq!(sim.dut.engine.admitted(), 0, "admission counters left");
    assert_eq!(sim.dut.ep.len(), 0, "SBC transactions left");
    assert_eq!(
        sim.dut.engine.tracked_transactions(),
        0,
        "tracked transactions left"
    );
    assert_eq!(sim.dut.engine.poll_timeout(), None, "engine timers left");
}

/// Sets up a confirmed call with extra headers on Alice's INVITE and on gw1's 200; returns
/// Alice's dialog, gw1's dialog (targeting the SBC), gw1's INVITE and Alice's 200.
pub fn answered_with(
    sim: &mut Sim<SbcNode>,
    call_id: &str,
    inv_extra: &[&str],
    ok_extra: &[&str],
) -> (
    sbc_testkit::UaDialog,
    sbc_testkit::UaDialog,
    Message,
    Message,
) {
    use sbc_sip::Method;
    let inv = invite(call_id, inv_extra, SDP_A);
    sim.ua(0).send(&inv, addr(SBC));
    sim.run_for(ms(10));
    let (t, b_inv) = sim.ua(1).expect_request(Method::Invite);
    let mut hdrs = vec!["Contact: <sip:gw@127.0.0.1:5080>"];
    hdrs.extend_from_slice(ok_extra);
    sim.ua(1).respond(
        t,
        sbc_testkit::response(&b_inv, 200, Some("g1"), &hdrs, SDP_B),
    );
    sim.run_for(ms(10));
    sim.ua(1).expect_ack();
    sim.ua(0).expect_response(100);
    let ok = sim.ua(0).expect_response(200);
    let inv_msg = Message::parse(Bytes::from(inv)).unwrap();
    let mut a = sbc_testkit::UaDialog::uac(&inv_msg, &ok, ALICE);
    let ack = a.request("ACK", &format!("ack-{call_id}"), &[], "");
    sim.ua(0).send_raw(ack, addr(SBC));
    sim.run_for(ms(10));
    let mut b = sbc_testkit::UaDialog::uas(&b_inv, "g1", GW1);
    b.target = format!("sip:{SBC}");
    (a, b, b_inv, ok)
}
