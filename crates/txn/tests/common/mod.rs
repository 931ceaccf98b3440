//! Test harness: messages written as text with CRLF, a virtual clock, and an endpoint whose
//! outputs are collected with the instant they appeared at.

#![allow(dead_code)] // each test file uses a different part

use bytes::Bytes;
use sbc_sip::{build, Message};
use sbc_txn::{
    Config, Dispatch, Endpoint, Event, Instant, Peer, Timer, Transmit, Transport, TxnId,
};

/// Parses lines joined with CRLF plus `Content-Length: 0` and the empty line.
pub fn msg(lines: &[&str]) -> Message {
    let mut s = lines.join("\r\n");
    s.push_str("\r\nContent-Length: 0\r\n\r\n");
    Message::parse(Bytes::from(s)).expect("test message parses")
}

/// A request from Alice to Bob with the given top Via branch (`None`: no branch param).
pub fn request(method: &str, branch: Option<&str>) -> Message {
    request_full(method, branch, "192.0.2.1:5060", None, method)
}

/// A request with every matching-relevant field chosen.
pub fn request_full(
    method: &str,
    branch: Option<&str>,
    sent_by: &str,
    to_tag: Option<&str>,
    cseq_method: &str,
) -> Message {
    let via = match branch {
        Some(b) => format!("Via: SIP/2.0/UDP {sent_by};branch={b}"),
        None => format!("Via: SIP/2.0/UDP {sent_by}"),
    };
    let to = match to_tag {
        Some(t) => format!("To: <sip:bob@example.com>;tag={t}"),
        None => "To: <sip:bob@example.com>".to_string(),
    };
    msg(&[
        &format!("{method} sip:bob@example.com SIP/2.0"),
        &via,
        "Max-Forwards: 70",
        "From: <sip:alice@example.com>;tag=a1",
        &to,
        "Call-ID: call-1@example.com",
        &format!("CSeq: 1 {cseq_method}"),
    ])
}

/// A response to `req` (copies Via, From, To, Call-ID, CSeq; adds the To tag).
pub fn response(req: &Message, status: u16, to_tag: Option<&str>) -> Message {
    let mut out = Vec::new();
    build::response(req, status, None, to_tag.map(str::as_bytes), &mut out).finish(None, b"");
    Message::parse(Bytes::from(out)).expect("built response parses")
}

/// The UA peer.
pub fn peer(t: Transport) -> Peer {
    Peer::new(t, "192.0.2.1:5060".parse().unwrap())
}

pub fn udp() -> Peer {
    peer(Transport::Udp)
}

pub fn tcp() -> Peer {
    peer(Transport::Tcp)
}

pub fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

/// A short name for a transmitted message: the method of a request, the status of a
/// response.
pub fn label(bytes: &[u8]) -> String {
    let line = bytes.split(|&b| b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    match line.strip_prefix("SIP/2.0 ") {
        Some(rest) => rest[..3].to_string(),
        None => line.split(' ').next().unwrap_or_default().to_string(),
    }
}

/// Events, reduced to what the tests compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum E {
    /// A response with this status.
    Resp(u16),
    Timeout(Timer),
    TransportError,
    Terminated,
}

/// The endpoint plus a virtual clock and logs of everything it produced.
pub struct H {
    pub ep: Endpoint,
    pub now: Instant,
    /// (ms, transmit)
    pub sent: Vec<(u64, Transmit)>,
    /// (ms, txn, event)
    pub events: Vec<(u64, TxnId, E)>,
    /// Responses delivered in events, in order.
    pub responses: Vec<Message>,
}

impl H {
    pub fn new() -> H {
        H::with(Config::default())
    }

    pub fn with(cfg: Config) -> H {
        H {
            ep: Endpoint::new(cfg).unwrap(),
            now: Instant::ZERO,
            sent: Vec::new(),
            events: Vec::new(),
            responses: Vec::new(),
        }
    }

    fn ms_now(&self) -> u64 {
        self.now.as_nanos() / 1_000_000
    }

    /// Drains both output queues, stamping them with the current instant.
    pub fn collect(&mut self) {
        let t = self.ms_now();
        while let Some(x) = self.ep.poll_transmit() {
            self.sent.push((t, x));
        }
        while let Some(e) = self.ep.poll_event() {
            let (id, e) = match e {
                Event::Response { txn, msg } => {
                    let s = msg.status().unwrap();
                    self.responses.push(msg);
                    (txn, E::Resp(s))
                }
                Event::Timeout { txn, timer } => (txn, E::Timeout(timer)),
                Event::TransportError { txn } => (txn, E::TransportError),
                Event::Terminated { txn } => (txn, E::Terminated),
            };
            self.events.push((t, id, e));
        }
    }

    /// Advances the clock to `t` ms, firing every deadline on the way exactly when due (the
    /// shell's loop: sleep until poll_timeout, handle_timeout, drain).
    pub fn at(&mut self, t: u64) {
        let target = ms(t);
        assert!(target >= self.now, "the clock only moves forward");
        while let Some(d) = self.ep.poll_timeout() {
            if d > target {
                break;
            }
            self.now = d;
            self.ep.handle_timeout(d);
            self.collect();
        }
        self.now = target;
    }

    /// A message from the wire at the current instant.
    pub fn recv(&mut self, m: Message, from: Peer) -> Dispatch {
        let d = self.ep.handle_message(self.now, m, from);
        self.collect();
        d
    }

    /// A new request that must come out as `Incoming`, accepted at once.
    pub fn accept(&mut self, m: Message, from: Peer) -> TxnId {
        let Dispatch::Incoming(inc) = self.recv(m, from) else {
            panic!("expected Incoming");
        };
        let id = self.ep.accept(self.now, inc).unwrap();
        self.collect();
        id
    }

    pub fn send(&mut self, m: Message, to: Peer) -> TxnId {
        let id = self.ep.send_request(self.now, m, to).unwrap();
        self.collect();
        id
    }

    pub fn respond(&mut self, id: TxnId, m: Message) {
        self.ep.respond(self.now, id, m).unwrap();
        self.collect();
    }

    /// Takes the transmit log as (ms, label).
    pub fn take_sent(&mut self) -> Vec<(u64, String)> {
        self.sent
            .drain(..)
            .map(|(t, x)| (t, label(&x.bytes)))
            .collect()
    }

    /// Takes the raw transmit log.
    pub fn take_transmits(&mut self) -> Vec<(u64, Transmit)> {
        self.sent.drain(..).collect()
    }

    pub fn take_events(&mut self) -> Vec<(u64, TxnId, E)> {
        self.events.drain(..).collect()
    }
}

/// Expands `(ms, "label")` pairs for comparisons.
pub fn sent(list: &[(u64, &str)]) -> Vec<(u64, String)> {
    list.iter().map(|&(t, l)| (t, l.to_string())).collect()
}
