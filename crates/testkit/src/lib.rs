//! `sbc-testkit` (dev-only): a simulated SIP network on a virtual clock.
//!
//! * [`Wire`]: packets in flight with a fixed latency, a log of everything sent, and loss
//!   rules (drop the next packet matching a predicate).
//! * [`Node`]: anything that takes bytes and time and emits transmits — the device under
//!   test implements it around its endpoint and engine; [`Ua`] implements it around its own
//!   [`sbc_txn::Endpoint`], so scripted peers retransmit, absorb duplicates and time out
//!   like real ones.
//! * [`Sim`]: one device under test plus scripted UAs; [`Sim::run_for`] advances the clock,
//!   delivering packets and firing every node's timers in time order. No sockets, no
//!   sleeps, fully deterministic.
//! * [`Ua`]: a scripted UA with an inbox ([`Rx`]) and message helpers ([`UaDialog`],
//!   [`response`], [`request`]).

use core::time::Duration;
use std::collections::VecDeque;
use std::net::SocketAddr;

use bytes::Bytes;
use sbc_sip::build;
use sbc_sip::{Framing, HeaderName, Message, Method, ParserConfig};
use sbc_txn::{Config, Dispatch, Endpoint, Event, Instant, Peer, Transmit, Transport, TxnId};

/// One packet on the wire.
#[derive(Debug, Clone)]
pub struct Packet {
    /// When it was sent.
    pub sent_at: Instant,
    /// When it arrives.
    pub at: Instant,
    /// Sender (transport of the hop, sender's address).
    pub from: Peer,
    /// Destination.
    pub to: Peer,
    /// The datagram.
    pub bytes: Bytes,
}

impl Packet {
    /// The first line, e.g. `INVITE sip:... SIP/2.0` or `SIP/2.0 200 OK`.
    pub fn first_line(&self) -> String {
        first_line(&self.bytes)
    }

    /// The bytes as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// The first line of a message.
pub fn first_line(b: &[u8]) -> String {
    let end = b.windows(2).position(|w| w == b"\r\n").unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// `INVITE`, `ACK`, `200`, `180`...: the method of a request, the status of a response.
pub fn label(b: &[u8]) -> String {
    let line = first_line(b);
    match line.strip_prefix("SIP/2.0 ") {
        Some(rest) => rest.split(' ').next().unwrap_or_default().to_string(),
        None => line.split(' ').next().unwrap_or_default().to_string(),
    }
}

type DropRule = Box<dyn FnMut(&Packet) -> bool>;

/// Packets in flight, their log, and loss rules.
pub struct Wire {
    latency: Duration,
    in_flight: Vec<Packet>,
    log: Vec<Packet>,
    drops: Vec<DropRule>,
    dropped: Vec<Packet>,
}

impl core::fmt::Debug for Wire {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Wire")
            .field("in_flight", &self.in_flight.len())
            .field("log", &self.log.len())
            .finish()
    }
}

impl Wire {
    /// A wire with this one-way latency.
    pub fn new(latency: Duration) -> Wire {
        Wire {
            latency,
            in_flight: Vec::new(),
            log: Vec::new(),
            drops: Vec::new(),
            dropped: Vec::new(),
        }
    }

    fn send(&mut self, now: Instant, from: Peer, to: Peer, bytes: Bytes) {
        let p = Packet {
            sent_at: now,
            at: now + self.latency,
            from,
            to,
            bytes,
        };
        self.log.push(p.clone());
        let mut drop = false;
        for r in &mut self.drops {
            if r(&p) {
                drop = true;
                break;
            }
        }
        if drop {
            self.dropped.push(p);
        } else {
            self.in_flight.push(p);
        }
    }

    fn next_at(&self) -> Option<Instant> {
        self.in_flight.iter().map(|p| p.at).min()
    }

    fn take_due(&mut self, now: Instant) -> Vec<Packet> {
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.in_flight.len() {
            if self.in_flight[i].at <= now {
                due.push(self.in_flight.remove(i));
            } else {
                i += 1;
            }
        }
        due
    }

    /// Every packet sent so far, in order.
    pub fn log(&self) -> &[Packet] {
        &self.log
    }

    /// Packets the loss rules dropped.
    pub fn dropped(&self) -> &[Packet] {
        &self.dropped
    }

    /// Drops every packet the rule returns true for (until removed with
    /// [`Wire::clear_drops`]).
    pub fn drop_when(&mut self, rule: impl FnMut(&Packet) -> bool + 'static) {
        self.drops.push(Box::new(rule));
    }

    /// Drops the next `n` packets matching `pred`.
    pub fn drop_next(&mut self, mut n: usize, pred: impl Fn(&Packet) -> bool + 'static) {
        self.drops.push(Box::new(move |p| {
            if n > 0 && pred(p) {
                n -= 1;
                true
            } else {
                false
            }
        }));
    }

    /// Removes every loss rule.
    pub fn clear_drops(&mut self) {
        self.drops.clear();
    }

    /// Packets still in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

/// A simulated host.
pub trait Node {
    /// Its address.
    fn addr(&self) -> SocketAddr;
    /// A datagram arrived.
    fn receive(&mut self, now: Instant, bytes: Bytes, from: Peer);
    /// What it wants to send.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// Its next deadline.
    fn poll_timeout(&mut self) -> Option<Instant>;
    /// Fires its due timers.
    fn handle_timeout(&mut self, now: Instant);
    /// Told the current time before a script acts on it (optional).
    fn set_now(&mut self, _now: Instant) {}
}

/// One device under test and scripted UAs on one wire.
#[derive(Debug)]
pub struct Sim<D: Node> {
    /// The device under test.
    pub dut: D,
    /// Scripted peers, by index.
    pub uas: Vec<Ua>,
    /// The network.
    pub wire: Wire,
    now: Instant,
}

impl<D: Node> Sim<D> {
    /// A simulation starting at [`Instant::ZERO`] with 1 ms one-way latency.
    pub fn new(dut: D, uas: Vec<Ua>) -> Sim<D> {
        Sim {
            dut,
            uas,
            wire: Wire::new(Duration::from_millis(1)),
            now: Instant::ZERO,
        }
    }

    /// The virtual clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// A scripted UA.
    pub fn ua(&mut self, i: usize) -> &mut Ua {
        &mut self.uas[i]
    }

    fn collect(&mut self) {
        let now = self.now;
        let a = self.dut.addr();
        while let Some(t) = self.dut.poll_transmit() {
            self.wire
                .send(now, Peer::new(t.to.transport, a), t.to, t.bytes);
        }
        for ua in &mut self.uas {
            let a = ua.addr();
            while let Some(t) = ua.poll_transmit() {
                self.wire
                    .send(now, Peer::new(t.to.transport, a), t.to, t.bytes);
            }
        }
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        let mut next = self.wire.next_at();
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        consider(self.dut.poll_timeout());
        for ua in &mut self.uas {
            consider(ua.poll_timeout());
        }
        next
    }

    fn set_now(&mut self, now: Instant) {
        self.now = now;
        self.dut.set_now(now);
        for ua in &mut self.uas {
            ua.set_now(now);
        }
    }

    /// Runs until `until`: collects transmits, delivers due packets and fires due timers in
    /// time order; then sets the clock to `until`.
    pub fn run_until(&mut self, until: Instant) {
        let mut steps = 0u32;
        loop {
            self.collect();
            let Some(next) = self.next_deadline() else {
                break;
            };
            if next > until {
                break;
            }
            steps += 1;
            assert!(steps < 1_000_000, "simulation does not settle");
            let at = next.max(self.now);
            self.set_now(at);
            for p in self.wire.take_due(at) {
                let dut = self.dut.addr();
                if p.to.addr == dut {
                    self.dut.receive(at, p.bytes, p.from);
                } else if let Some(ua) = self.uas.iter_mut().find(|u| u.addr() == p.to.addr) {
                    ua.receive(at, p.bytes, p.from);
                }
            }
            if self.dut.poll_timeout().is_some_and(|t| t <= at) {
                self.dut.handle_timeout(at);
            }
            for ua in &mut self.uas {
                if ua.poll_timeout().is_some_and(|t| t <= at) {
                    ua.handle_timeout(at);
                }
            }
        }
        self.set_now(until.max(self.now));
        self.collect();
    }

    /// [`Sim::run_until`] `now + d`.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Packets logged since index `from`, as (sender, receiver, first line).
    pub fn trace_since(&self, from: usize) -> Vec<(SocketAddr, SocketAddr, String)> {
        self.wire.log()[from..]
            .iter()
            .map(|p| (p.from.addr, p.to.addr, p.first_line()))
            .collect()
    }
}

/// What a scripted UA received.
#[derive(Debug, Clone)]
pub enum Rx {
    /// A new request (its server transaction accepted at once).
    Request {
        /// The server transaction.
        txn: TxnId,
        /// The request.
        msg: Message,
        /// Its source.
        from: Peer,
    },
    /// An ACK for a 2xx.
    Ack(Message),
    /// A response to one of our client transactions (`txn`), or a stray one (`None`).
    Response {
        /// The client transaction.
        txn: Option<TxnId>,
        /// The response.
        msg: Message,
    },
    /// A client transaction timed out.
    Timeout(TxnId),
}

impl Rx {
    /// Short description for assertion messages.
    pub fn describe(&self) -> String {
        match self {
            Rx::Request { msg, .. } => format!("request {}", first_line(msg.as_bytes())),
            Rx::Ack(m) => format!("ack {}", first_line(m.as_bytes())),
            Rx::Response { msg, .. } => format!("response {}", first_line(msg.as_bytes())),
            Rx::Timeout(t) => format!("timeout {t}"),
        }
    }
}

/// A scripted user agent on its own transaction endpoint (UDP).
#[derive(Debug)]
pub struct Ua {
    /// A name for messages.
    pub name: &'static str,
    addr: SocketAddr,
    ep: Endpoint,
    inbox: VecDeque<Rx>,
    now: Instant,
    /// Answer CANCELs by itself (200 to the CANCEL, 487 to the INVITE).
    pub auto_cancel: bool,
    seq: u64,
}

impl Ua {
    /// A UA at `addr`.
    pub fn new(name: &'static str, addr: &str) -> Ua {
        let ep = Endpoint::new(Config {
            tag_seed: 7,
            ..Config::default()
        })
        .expect("default config");
        Ua {
            name,
            addr: addr.parse().expect("address"),
            ep,
            inbox: VecDeque::new(),
            now: Instant::ZERO,
            auto_cancel: true,
            seq: 0,
        }
    }

    /// Its endpoint (for table-size assertions).
    pub fn endpoint(&self) -> &Endpoint {
        &self.ep
    }

    /// A fresh token (tags, branches) unique within this UA.
    pub fn token(&mut self) -> String {
        self.seq += 1;
        format!("{}{}", self.name, self.seq)
    }

    /// Its own address as `ip:port`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    fn drain_events(&mut self) {
        while let Some(ev) = self.ep.poll_event() {
            match ev {
                Event::Response { txn, msg } => self.inbox.push_back(Rx::Response {
                    txn: Some(txn),
                    msg,
                }),
                Event::Timeout { txn, .. } => self.inbox.push_back(Rx::Timeout(txn)),
                Event::TransportError { .. } | Event::Terminated { .. } => {}
            }
        }
    }

    /// Sends a request in a client transaction to `to` (UDP).
    pub fn send(&mut self, text: &str, to: SocketAddr) -> TxnId {
        let msg = Message::parse(Bytes::from(text.to_string())).expect("scripted request parses");
        let t = self
            .ep
            .send_request(self.now, msg, Peer::new(Transport::Udp, to))
            .expect("send_request");
        self.drain_events();
        t
    }

    /// Sends bytes outside any transaction (ACK for a 2xx, raw junk).
    pub fn send_raw(&mut self, bytes: impl Into<Bytes>, to: SocketAddr) {
        self.ep
            .send_stateless(Peer::new(Transport::Udp, to), bytes.into());
    }

    /// Answers a server transaction.
    pub fn respond(&mut self, txn: TxnId, bytes: Vec<u8>) {
        self.ep
            .respond_bytes(self.now, txn, bytes)
            .expect("scripted response accepted");
        self.drain_events();
    }

    /// Cancels one of our INVITEs.
    pub fn cancel(&mut self, invite: TxnId) -> TxnId {
        let t = self.ep.cancel(self.now, invite).expect("cancel");
        self.drain_events();
        t
    }

    /// Everything received and not yet taken.
    pub fn inbox(&self) -> &VecDeque<Rx> {
        &self.inbox
    }

    /// Takes the oldest item.
    pub fn take(&mut self) -> Option<Rx> {
        self.inbox.pop_front()
    }

    /// Drops everything received so far.
    pub fn clear(&mut self) {
        self.inbox.clear();
    }

    /// Takes the oldest item, which must be a request with this method.
    pub fn expect_request(&mut self, method: Method) -> (TxnId, Message) {
        match self.take() {
            Some(Rx::Request { txn, msg, .. }) if msg.method() == Some(method) => (txn, msg),
            other => panic!(
                "{}: expected {} request, got {:?}",
                self.name,
                method.as_str(),
                other.map(|r| r.describe())
            ),
        }
    }

    /// Takes the oldest item, which must be a response with this status.
    pub fn expect_response(&mut self, status: u16) -> Message {
        match self.take() {
            Some(Rx::Response { msg, .. }) if msg.status() == Some(status) => msg,
            other => panic!(
                "{}: expected {status} response, got {:?}",
                self.name,
                other.map(|r| r.describe())
            ),
        }
    }

    /// Takes the oldest item, which must be an ACK.
    pub fn expect_ack(&mut self) -> Message {
        match self.take() {
            Some(Rx::Ack(m)) => m,
            other => panic!(
                "{}: expected ACK, got {:?}",
                self.name,
                other.map(|r| r.describe())
            ),
        }
    }

    /// Asserts nothing was received.
    pub fn expect_nothing(&mut self) {
        if let Some(r) = self.inbox.front() {
            panic!("{}: expected nothing, got {}", self.name, r.describe());
        }
    }
}

impl Node for Ua {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn receive(&mut self, now: Instant, bytes: Bytes, from: Peer) {
        self.now = now;
        let Ok(msg) = Message::parse_with(bytes, &ParserConfig::default(), Framing::Datagram)
        else {
            return;
        };
        match self.ep.handle_message(now, msg, from) {
            Dispatch::Incoming(inc) => {
                let is_cancel = inc.method() == Method::Cancel;
                let cancels = inc.cancels();
                let msg = inc.message().clone();
                let from = inc.from();
                match self.ep.accept(now, inc) {
                    Ok(txn) if is_cancel && self.auto_cancel => {
                        let mut out = Vec::new();
                        build::response(&msg, 200, None, Some(b"cx"), &mut out).finish(None, b"");
                        let _ = self.ep.respond_bytes(now, txn, out);
                        if let Some(inv) = cancels {
                            if let Some(req) = self.ep.request(inv).cloned() {
                                let mut out = Vec::new();
                                let tag = self.token();
                                build::response(&req, 487, None, Some(tag.as_bytes()), &mut out)
                                    .finish(None, b"");
                                let _ = self.ep.respond_bytes(now, inv, out);
                            }
                        }
                        self.inbox.push_back(Rx::Request { txn, msg, from });
                    }
                    Ok(txn) => self.inbox.push_back(Rx::Request { txn, msg, from }),
                    Err(_) => {}
                }
            }
            Dispatch::StrayAck { msg, .. } => self.inbox.push_back(Rx::Ack(msg)),
            Dispatch::StrayResponse { msg, .. } => {
                self.inbox.push_back(Rx::Response { txn: None, msg })
            }
            Dispatch::Matched(_) | Dispatch::Dropped(_) => {}
        }
        self.drain_events();
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.ep.poll_transmit()
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.ep.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.ep.handle_timeout(now);
        self.drain_events();
    }

    fn set_now(&mut self, now: Instant) {
        self.now = now;
    }
}

/// A request from text lines (joined with CRLF) and a body; Content-Length is added.
pub fn request(lines: &[&str], body: &str) -> String {
    let mut s = lines.join("\r\n");
    s.push_str(&format!("\r\nContent-Length: {}\r\n\r\n{body}", body.len()));
    s
}

/// A response to `req` with a To tag, extra header lines and a body.
pub fn response(
    req: &Message,
    status: u16,
    to_tag: Option<&str>,
    extra: &[&str],
    body: &str,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = build::response(req, status, None, to_tag.map(str::as_bytes), &mut out);
    for line in extra {
        let (n, v) = line.split_once(": ").expect("header line");
        w.header(n.as_bytes(), v.as_bytes());
    }
    let ct = (!body.is_empty()).then_some(&b"application/sdp"[..]);
    w.finish(ct, body.as_bytes());
    out
}

/// The value of a header, as text.
pub fn header(msg: &Message, name: HeaderName) -> Option<String> {
    msg.get(name)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Every value of a raw header name, as text.
pub fn headers_named(msg: &Message, name: &str) -> Vec<String> {
    msg.headers()
        .iter()
        .filter(|h| msg.raw_name(h).eq_ignore_ascii_case(name.as_bytes()))
        .map(|h| String::from_utf8_lossy(msg.value(h)).into_owned())
        .collect()
}

/// A UA's view of one dialog, to script in-dialog requests.
#[derive(Debug, Clone)]
pub struct UaDialog {
    /// Call-ID.
    pub call_id: String,
    /// Our From/To value without tag.
    pub local: String,
    /// Our tag.
    pub local_tag: String,
    /// Theirs without tag.
    pub remote: String,
    /// Their tag.
    pub remote_tag: String,
    /// Where requests go (their Contact).
    pub target: String,
    /// Our next CSeq.
    pub cseq: u32,
    /// The CSeq of our last INVITE (what an ACK carries).
    pub invite_cseq: u32,
    /// Our address for Via/Contact.
    pub me: String,
}

fn strip_tag(v: &str) -> String {
    match v.to_ascii_lowercase().find(";tag=") {
        Some(i) => {
            let rest = &v[i + 5..];
            let end = rest.find(';').map_or(v.len(), |e| i + 5 + e);
            format!("{}{}", &v[..i], &v[end..])
        }
        None => v.to_string(),
    }
}

fn contact_uri(m: &Message) -> String {
    let c = header(m, HeaderName::Contact).unwrap_or_default();
    match (c.find('<'), c.find('>')) {
        (Some(a), Some(b)) if a < b => c[a + 1..b].to_string(),
        _ => c,
    }
}

impl UaDialog {
    /// The caller's dialog from its INVITE and the 2xx it got.
    pub fn uac(invite: &Message, ok: &Message, me: &str) -> UaDialog {
        let s = |v: Option<&[u8]>| String::from_utf8_lossy(v.unwrap_or_default()).into_owned();
        UaDialog {
            call_id: s(ok.call_id()),
            local: strip_tag(&s(invite.from_raw())),
            local_tag: s(ok.from_tag()),
            remote: strip_tag(&s(ok.to_raw())),
            remote_tag: s(ok.to_tag()),
            target: contact_uri(ok),
            cseq: invite.cseq().map_or(1, |c| c.seq) + 1,
            invite_cseq: invite.cseq().map_or(1, |c| c.seq),
            me: me.to_string(),
        }
    }

    /// The callee's dialog from the INVITE it got and the tag it answered with.
    pub fn uas(invite: &Message, my_tag: &str, me: &str) -> UaDialog {
        let s = |v: Option<&[u8]>| String::from_utf8_lossy(v.unwrap_or_default()).into_owned();
        UaDialog {
            call_id: s(invite.call_id()),
            local: strip_tag(&s(invite.to_raw())),
            local_tag: my_tag.to_string(),
            remote: strip_tag(&s(invite.from_raw())),
            remote_tag: s(invite.from_tag()),
            target: contact_uri(invite),
            cseq: 100,
            invite_cseq: 0,
            me: me.to_string(),
        }
    }

    /// An in-dialog request with a new CSeq (an ACK carries the last INVITE's).
    pub fn request(&mut self, method: &str, branch: &str, extra: &[&str], body: &str) -> String {
        let cseq = if method == "ACK" {
            self.invite_cseq
        } else {
            let c = self.cseq;
            self.cseq += 1;
            if method == "INVITE" {
                self.invite_cseq = c;
            }
            c
        };
        self.request_cseq(method, cseq, branch, extra, body)
    }

    /// An in-dialog request with an explicit CSeq.
    pub fn request_cseq(
        &self,
        method: &str,
        cseq: u32,
        branch: &str,
        extra: &[&str],
        body: &str,
    ) -> String {
        let mut lines = vec![
            format!("{method} {} SIP/2.0", self.target),
            format!("Via: SIP/2.0/UDP {};branch=z9hG4bK{branch}", self.me),
            "Max-Forwards: 70".to_string(),
            format!("From: {};tag={}", self.local, self.local_tag),
            format!("To: {};tag={}", self.remote, self.remote_tag),
            format!("Call-ID: {}", self.call_id),
            format!("CSeq: {cseq} {method}"),
        ];
        if !extra
            .iter()
            .any(|l| l.to_ascii_lowercase().starts_with("contact:"))
        {
            lines.push(format!("Contact: <sip:{}>", self.me));
        }
        lines.extend(extra.iter().map(|s| s.to_string()));
        if !body.is_empty() {
            lines.push("Content-Type: application/sdp".into());
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        request(&refs, body)
    }
}
