//! The OPTIONS prober: keep-alives toward the Microsoft edges (TI-9, TI-11) and health checks
//! of PSTN gateways, as a pure core (no tokio, no clock, no randomness: time and the seed are
//! injected). [`crate::probe_task`] is the thin tokio shell around it.
//!
//! * Every target is probed on a fixed cadence: the first OPTIONS at the instant the prober is
//!   created, then every `interval` (deadlines do not drift with response times). At most one
//!   probe per target is in flight: a deadline that arrives while one is outstanding (a silent
//!   peer, Timer F not yet fired) sends the next probe as soon as the outstanding one ends.
//! * Each probe is a non-INVITE client transaction of the prober's own [`sbc_txn::Endpoint`]:
//!   retransmitted by Timer E on UDP, given up by Timer F (64*T1, RFC 3261 §17.1.2.2).
//! * Outcome: a final response means the peer answered — any status, because a 4xx/5xx proves
//!   the peer's SIP stack is alive (RFC 3261 §11.2: OPTIONS may be answered by any final) —
//!   **except 503**: RFC 3261 §21.5.4 says the server is "temporarily unable to process the
//!   request due to a temporary overloading or maintenance", RFC 3263 §4.3 treats a 503 like
//!   a failure to reach the element, and TI-18 fails calls over on it; a peer answering 503
//!   must not get new calls, so it counts as failed. Timer F and transport errors count as
//!   failed. Provisional responses are ignored (the transaction goes on).
//! * Gateways record into their shared [`GatewayHealth`] cell (hysteresis by the gateway's
//!   `up_threshold`/`down_threshold`), which routing consults; Microsoft edges record into
//!   their own cells with [`EDGE_UP_THRESHOLD`]/[`EDGE_DOWN_THRESHOLD`].
//! * Draining (TI-9: "draining a node means stopping these OPTIONS"): no new OPTIONS toward
//!   Microsoft, so Microsoft demotes the trunk; gateway probes go on (the calls still up need
//!   to know about their gateways). Tenant subdomains are never probed (TI-11): targets are
//!   the carrier trunk's edges and the gateways only.
//!
//! Responses reach the prober because its Call-IDs carry a per-node prefix
//! ([`Prober::call_id_prefix`]); the dispatcher hands responses carrying it here
//! ([`claims`]) instead of to a shard.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sbc_config::OptionsProbe;
use sbc_routing::GatewayHealth;
use sbc_sip::build::MessageWriter;
use sbc_sip::Message;
use sbc_txn::{Dispatch, Endpoint, Event, Instant, Peer, Transport, TxnId};

/// Answered probes in a row that bring a down Microsoft edge up.
pub const EDGE_UP_THRESHOLD: u32 = 1;
/// Failed probes in a row that take a Microsoft edge down (one lost probe is not an outage;
/// calls fail over per TI-18 meanwhile).
pub const EDGE_DOWN_THRESHOLD: u32 = 2;

/// The start of every prober Call-ID; the full prefix adds the node seed.
const PREFIX_TAG: &str = "probe-";

/// What is probed.
#[derive(Debug, Clone)]
pub enum TargetKind {
    /// A Microsoft Direct Routing edge (TI-3): `host` is both the Request-URI host and SNI.
    Edge {
        /// The proxy's name, e.g. `sip.pstnhub.microsoft.com`.
        host: String,
        /// Its port (TI-3: 5061).
        port: u16,
        /// The edge's health cell (hysteresis [`EDGE_UP_THRESHOLD`]/[`EDGE_DOWN_THRESHOLD`]),
        /// for the Teams side to order sip/sip2/sip3 (TI-18).
        health: Arc<GatewayHealth>,
    },
    /// A PSTN gateway with `[gateway.options]`.
    Gateway {
        /// The gateway's address as configured (`host[:port]`): the Request-URI host part.
        address: String,
        /// Interval and thresholds.
        probe: OptionsProbe,
        /// The gateway's health cell, shared with the routing tables.
        health: Arc<GatewayHealth>,
    },
}

/// One target to probe.
#[derive(Debug, Clone)]
pub struct Target {
    /// Name for metrics and logs (gateway name, or the edge host).
    pub name: String,
    /// Edge or gateway.
    pub kind: TargetKind,
    /// Transport (edges: TLS, TI-1).
    pub transport: Transport,
    /// The resolved address; `None` while the name does not resolve (each due probe then
    /// counts as failed: the peer cannot be reached).
    pub addr: Option<SocketAddr>,
    /// TLS: the name sent as SNI and verified in the peer's certificate (TI-6).
    pub server_name: Option<String>,
}

/// Settings of the prober.
#[derive(Debug, Clone)]
pub struct ProberConfig {
    /// Transaction timers (T1/T2/T4 from `[sip]`).
    pub txn: sbc_txn::Config,
    /// Seed for Call-IDs, tags and branches (per node and restart; injected).
    pub seed: u64,
    /// `Via`/`Contact`/`From` host:port toward gateways (the signalling address).
    pub sent_by: String,
    /// `User-Agent` (node product).
    pub user_agent: String,
    /// The Teams trunk identity, when Microsoft edges are probed.
    pub teams: Option<TeamsIdentity>,
}

/// What the SBC calls itself toward Microsoft.
#[derive(Debug, Clone)]
pub struct TeamsIdentity {
    /// Carrier base FQDN (TI-6, TI-9 Contact host).
    pub base_fqdn: String,
    /// The SBC's TLS signalling port (TI-9 Contact port).
    pub sbc_port: u16,
    /// `X-MS-SBC` value (TI-17).
    pub x_ms_sbc: String,
    /// Seconds between OPTIONS to each edge (TI-9: 60).
    pub interval: Duration,
}

/// Why a prober could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProberError {
    /// The transaction timers are unusable.
    Txn(sbc_txn::ConfigError),
    /// An edge target without the `[teams]` identity its OPTIONS need.
    EdgeWithoutTeams(String),
    /// A zero interval would probe in a busy loop.
    ZeroInterval(String),
}

impl fmt::Display for ProberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProberError::Txn(e) => write!(f, "prober timers: {e}"),
            ProberError::EdgeWithoutTeams(n) => write!(f, "edge {n}: no [teams] identity"),
            ProberError::ZeroInterval(n) => write!(f, "target {n}: zero probe interval"),
        }
    }
}

impl std::error::Error for ProberError {}

/// Bytes to send, with the TLS name to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTransmit {
    /// Destination.
    pub to: Peer,
    /// The OPTIONS (or its retransmission).
    pub bytes: Bytes,
    /// Its transaction: hand it back to [`Prober::handle_transport_error`] when sending fails.
    pub txn: Option<TxnId>,
    /// TLS SNI (TI-6).
    pub server_name: Option<String>,
}

/// Edge or gateway, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A Microsoft edge.
    Edge,
    /// A PSTN gateway.
    Gateway,
}

/// One target's state, for metrics and the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetStatus {
    /// Target name.
    pub name: String,
    /// Edge or gateway.
    pub role: Role,
    /// Up (gateways: the shared health cell).
    pub up: bool,
    /// OPTIONS put on the wire (new probes; retransmissions not counted).
    pub sent: u64,
    /// Probes that failed (Timer F, transport error, 503; also a due probe that could not
    /// be sent because the address does not resolve).
    pub failed: u64,
    /// Probes answered with a final response other than 503.
    pub answered: u64,
}

#[derive(Debug)]
struct State {
    target: Target,
    interval: Duration,
    /// Thresholds for this target (edges: the EDGE_* constants).
    probe: OptionsProbe,
    /// Health cell (gateways: shared; edges: the prober's own).
    health: Arc<GatewayHealth>,
    call_id: String,
    from_tag: String,
    cseq: u32,
    next_at: Instant,
    in_flight: Option<TxnId>,
    /// A deadline passed while a probe was in flight.
    due: bool,
    sent: u64,
    failed: u64,
    answered: u64,
}

/// The pure OPTIONS prober. Drive it like an endpoint: after any input (`handle_message`,
/// `handle_timeout`, `handle_transport_error`, `set_draining`), drain
/// [`Prober::poll_transmit`] and sleep until [`Prober::poll_timeout`].
#[derive(Debug)]
pub struct Prober {
    ep: Endpoint,
    cfg: ProberConfig,
    prefix: String,
    states: Vec<State>,
    by_txn: HashMap<TxnId, usize>,
    transmits: VecDeque<ProbeTransmit>,
    draining: bool,
    branches: u64,
    strays: u64,
    changes: VecDeque<(usize, bool)>,
}

/// The Call-ID prefix of a prober seeded with `seed` (what [`Prober::call_id_prefix`] returns).
pub fn call_id_prefix(seed: u64) -> String {
    format!("{PREFIX_TAG}{seed:016x}-")
}

/// True when `msg` is a response to one of the prober's OPTIONS (Call-ID starts with
/// `prefix`); requests never are, whatever their Call-ID, so a peer cannot divert calls.
pub fn claims(prefix: &[u8], msg: &Message) -> bool {
    !msg.is_request() && msg.call_id().is_some_and(|c| c.starts_with(prefix))
}

impl Prober {
    /// A prober for `targets`; every target's first OPTIONS is due at `now`.
    pub fn new(
        cfg: ProberConfig,
        targets: Vec<Target>,
        now: Instant,
    ) -> Result<Prober, ProberError> {
        let txn = sbc_txn::Config {
            // Completed transactions linger for Timer K; two per target is plenty.
            max_transactions: targets.len().saturating_mul(4).max(16),
            ..cfg.txn.clone()
        };
        let ep = Endpoint::new(txn).map_err(ProberError::Txn)?;
        let prefix = call_id_prefix(cfg.seed);
        let mut states = Vec::with_capacity(targets.len());
        for (i, t) in targets.into_iter().enumerate() {
            let (interval, probe, health) = match &t.kind {
                TargetKind::Edge { health, .. } => {
                    let teams = cfg
                        .teams
                        .as_ref()
                        .ok_or_else(|| ProberError::EdgeWithoutTeams(t.name.clone()))?;
                    let probe = OptionsProbe {
                        interval_s: u32::try_from(teams.interval.as_secs()).unwrap_or(u32::MAX),
                        up_threshold: EDGE_UP_THRESHOLD,
                        down_threshold: EDGE_DOWN_THRESHOLD,
                    };
                    (teams.interval, probe, health.clone())
                }
                TargetKind::Gateway { probe, health, .. } => (
                    Duration::from_secs(u64::from(probe.interval_s)),
                    *probe,
                    health.clone(),
                ),
            };
            if interval.is_zero() {
                return Err(ProberError::ZeroInterval(t.name));
            }
            states.push(State {
                call_id: format!("{prefix}{i}"),
                from_tag: format!("{:x}{i}", cfg.seed.rotate_left(17)),
                target: t,
                interval,
                probe,
                health,
                cseq: 0,
                next_at: now,
                in_flight: None,
                due: false,
                sent: 0,
                failed: 0,
                answered: 0,
            });
        }
        Ok(Prober {
            ep,
            cfg,
            prefix,
            states,
            by_txn: HashMap::new(),
            transmits: VecDeque::new(),
            draining: false,
            branches: 0,
            strays: 0,
            changes: VecDeque::new(),
        })
    }

    /// The Call-ID prefix of every probe (for the dispatcher, see [`claims`]).
    pub fn call_id_prefix(&self) -> &[u8] {
        self.prefix.as_bytes()
    }

    /// Updates a target's resolved address (DNS refresh, TI-3: never pin Microsoft's
    /// addresses). Unknown names are ignored.
    pub fn set_addr(&mut self, name: &str, addr: Option<SocketAddr>) {
        if let Some(s) = self.states.iter_mut().find(|s| s.target.name == name) {
            s.target.addr = addr;
        }
    }

    /// Draining stops the OPTIONS toward Microsoft (TI-9); gateway probes go on. Probes
    /// already in flight finish. Leaving drain resumes on the targets' cadence.
    pub fn set_draining(&mut self, on: bool) {
        self.draining = on;
    }

    /// True while draining.
    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// Responses no probe matched (late, or for a transaction already ended).
    pub fn strays(&self) -> u64 {
        self.strays
    }

    /// Every target's state.
    pub fn status(&self) -> impl Iterator<Item = TargetStatus> + '_ {
        self.states.iter().map(|s| TargetStatus {
            name: s.target.name.clone(),
            role: match s.target.kind {
                TargetKind::Edge { .. } => Role::Edge,
                TargetKind::Gateway { .. } => Role::Gateway,
            },
            up: s.health.is_up(),
            sent: s.sent,
            failed: s.failed,
            answered: s.answered,
        })
    }

    /// The next health change (target name, now up), oldest first: for logs.
    pub fn poll_change(&mut self) -> Option<(String, bool)> {
        let (i, up) = self.changes.pop_front()?;
        Some((self.states[i].target.name.clone(), up))
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<ProbeTransmit> {
        self.transmits.pop_front()
    }

    /// When to call [`Prober::handle_timeout`] next.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let next = self
            .states
            .iter()
            .filter(|s| s.in_flight.is_none())
            .map(|s| s.next_at)
            .min();
        match (self.ep.poll_timeout(), next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires transaction timers and sends every probe due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.ep.handle_timeout(now);
        self.pump(now);
        for i in 0..self.states.len() {
            let s = &mut self.states[i];
            if s.next_at > now {
                continue;
            }
            // Next deadline on the fixed cadence, skipping ticks missed while asleep (one
            // probe, not a burst).
            while s.next_at <= now {
                s.next_at = s.next_at + s.interval;
            }
            if s.in_flight.is_some() {
                s.due = true;
                continue;
            }
            self.probe(now, i);
        }
        self.collect();
    }

    /// A response from the wire (the dispatcher hands over what [`claims`] accepts).
    pub fn handle_message(&mut self, now: Instant, msg: Message, from: Peer) {
        match self.ep.handle_message(now, msg, from) {
            Dispatch::Matched(_) => {}
            Dispatch::Incoming(inc) => self.ep.ignore(inc),
            Dispatch::StrayResponse { .. } | Dispatch::StrayAck { .. } | Dispatch::Dropped(_) => {
                self.strays += 1;
            }
        }
        self.pump(now);
        self.collect();
    }

    /// The transport could not deliver a transmit of `txn`.
    pub fn handle_transport_error(&mut self, now: Instant, txn: TxnId) {
        let _ = self.ep.handle_transport_error(now, txn);
        self.pump(now);
        self.collect();
    }

    fn is_paused(&self, i: usize) -> bool {
        self.draining && matches!(self.states[i].target.kind, TargetKind::Edge { .. })
    }

    /// Starts a probe of target `i` (unless draining pauses it).
    fn probe(&mut self, now: Instant, i: usize) {
        if self.is_paused(i) {
            return;
        }
        let Some(addr) = self.states[i].target.addr else {
            // Unresolvable: the peer cannot be reached, which is what a probe measures.
            self.record(i, false);
            return;
        };
        self.branches += 1;
        let branch = format!("z9hG4bKprobe{:016x}{:x}", self.cfg.seed, self.branches);
        let s = &mut self.states[i];
        s.cseq = s.cseq.wrapping_add(1).max(1);
        let bytes = build_options(&self.cfg, s, &branch);
        let peer = Peer::new(s.target.transport, addr);
        // Our own bytes always parse; only a full table can refuse the probe. Either way it
        // counts as failed, so a stuck prober shows in the metrics rather than hiding.
        let sent = Message::parse(bytes)
            .ok()
            .and_then(|m| self.ep.send_request(now, m, peer).ok());
        match sent {
            Some(txn) => {
                self.states[i].sent += 1;
                self.states[i].in_flight = Some(txn);
                self.by_txn.insert(txn, i);
            }
            None => self.record(i, false),
        }
    }

    /// Handles the endpoint's events: outcomes of probes.
    fn pump(&mut self, now: Instant) {
        while let Some(ev) = self.ep.poll_event() {
            let (txn, answered) = match ev {
                Event::Response { txn, msg } => match msg.status() {
                    Some(s) if s >= 200 => (txn, s != 503),
                    _ => continue,
                },
                Event::Timeout { txn, .. } | Event::TransportError { txn } => (txn, false),
                Event::Terminated { txn } => {
                    self.by_txn.remove(&txn);
                    continue;
                }
            };
            let Some(i) = self.by_txn.remove(&txn) else {
                continue;
            };
            let s = &mut self.states[i];
            if s.in_flight != Some(txn) {
                continue;
            }
            s.in_flight = None;
            self.record(i, answered);
            if std::mem::take(&mut self.states[i].due) {
                self.probe(now, i);
            }
        }
    }

    fn record(&mut self, i: usize, answered: bool) {
        let s = &mut self.states[i];
        if answered {
            s.answered += 1;
        } else {
            s.failed += 1;
        }
        if let Some(up) = s.health.record_probe(answered, &s.probe) {
            self.changes.push_back((i, up));
        }
    }

    /// Moves the endpoint's transmits out, tagged with the target's TLS name.
    fn collect(&mut self) {
        while let Some(t) = self.ep.poll_transmit() {
            let server_name = t
                .txn
                .and_then(|id| self.by_txn.get(&id))
                .and_then(|&i| self.states[i].target.server_name.clone());
            self.transmits.push_back(ProbeTransmit {
                to: t.to,
                bytes: t.bytes,
                txn: t.txn,
                server_name,
            });
        }
    }
}

fn transport_param(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "",
        Transport::Tcp => ";transport=tcp",
        Transport::Tls => ";transport=tls",
        Transport::Sctp => ";transport=sctp",
        Transport::Ws => ";transport=ws",
        Transport::Wss => ";transport=wss",
    }
}

/// The OPTIONS of one probe.
fn build_options(cfg: &ProberConfig, s: &State, branch: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let t = &s.target;
    let via_t = t.transport.as_str();
    match (&t.kind, &cfg.teams) {
        (TargetKind::Edge { host, port, .. }, Some(teams)) => {
            // TI-9 / TI-2: `sip:` with `;transport=tls`, never `sips:`.
            let ruri = format!("sip:{host}:{port};transport=tls");
            let me = format!("{}:{}", teams.base_fqdn, teams.sbc_port);
            let mut w = MessageWriter::request(&mut out, b"OPTIONS", ruri.as_bytes());
            w.header_parts(
                b"Via",
                &[
                    b"SIP/2.0/",
                    via_t.as_bytes(),
                    b" ",
                    me.as_bytes(),
                    b";branch=",
                    branch.as_bytes(),
                ],
            );
            w.header(b"Max-Forwards", b"70");
            w.header_parts(
                b"From",
                &[
                    b"<sip:",
                    teams.base_fqdn.as_bytes(),
                    b">;tag=",
                    s.from_tag.as_bytes(),
                ],
            );
            w.header_parts(b"To", &[b"<sip:", host.as_bytes(), b">"]);
            w.header(b"Call-ID", s.call_id.as_bytes());
            w.header_parts(b"CSeq", &[s.cseq.to_string().as_bytes(), b" OPTIONS"]);
            // TI-9: Contact carries only the carrier base FQDN, no user part.
            w.header_parts(b"Contact", &[b"<sip:", me.as_bytes(), b";transport=tls>"]);
            // TI-17.
            w.header(b"X-MS-SBC", teams.x_ms_sbc.as_bytes());
            w.header(b"User-Agent", cfg.user_agent.as_bytes());
            w.finish(None, b"");
        }
        (TargetKind::Gateway { address, .. }, _)
        | (TargetKind::Edge { host: address, .. }, None) => {
            let tp = transport_param(t.transport);
            let ruri = format!("sip:{address}{tp}");
            let me = &cfg.sent_by;
            let mut w = MessageWriter::request(&mut out, b"OPTIONS", ruri.as_bytes());
            // RFC 3581 rport: the answer comes back to the source port whatever NAT did.
            w.header_parts(
                b"Via",
                &[
                    b"SIP/2.0/",
                    via_t.as_bytes(),
                    b" ",
                    me.as_bytes(),
                    b";branch=",
                    branch.as_bytes(),
                    b";rport",
                ],
            );
            w.header(b"Max-Forwards", b"70");
            w.header_parts(
                b"From",
                &[b"<sip:", me.as_bytes(), b">;tag=", s.from_tag.as_bytes()],
            );
            w.header_parts(b"To", &[b"<sip:", address.as_bytes(), b">"]);
            w.header(b"Call-ID", s.call_id.as_bytes());
            w.header_parts(b"CSeq", &[s.cseq.to_string().as_bytes(), b" OPTIONS"]);
            w.header_parts(b"Contact", &[b"<sip:", me.as_bytes(), tp.as_bytes(), b">"]);
            w.header(b"User-Agent", cfg.user_agent.as_bytes());
            w.finish(None, b"");
        }
    }
    out
}

/// The targets `cfg` asks for: the `[teams]` edges (TI-9; never per tenant, TI-11) and every
/// gateway with `options`. Health cells come from `gateways`, the map the routing tables
/// share; edge cells from `edges`. Addresses: an edge's static `address`, or `resolved(name)` (the shell's DNS); a
/// gateway's first resolved peer.
pub fn targets(
    cfg: &sbc_config::Config,
    gateways: &sbc_routing::HealthMap,
    edges: &sbc_routing::HealthMap,
    resolved_edge: impl Fn(&str) -> Option<SocketAddr>,
    resolved_gateway: impl Fn(&str) -> Option<Peer>,
) -> Vec<Target> {
    let mut out = Vec::new();
    if let Some(teams) = cfg.teams.as_ref().filter(|t| t.send_options) {
        for e in &teams.edges {
            let host = e.host.get_ref().clone();
            out.push(Target {
                name: host.clone(),
                addr: e.address.or_else(|| resolved_edge(&host)),
                server_name: Some(host.clone()),
                kind: TargetKind::Edge {
                    health: edges.cell(&host),
                    host,
                    port: e.port,
                },
                transport: Transport::Tls,
            });
        }
    }
    for g in &cfg.gateways {
        let Some(probe) = g.options else { continue };
        let name = g.name.get_ref().clone();
        let peer = resolved_gateway(&name);
        let transport = peer.map_or(to_txn(g.transport), |p| p.transport);
        let server_name = (transport == Transport::Tls)
            .then(|| host_of(&g.address))
            .flatten();
        out.push(Target {
            kind: TargetKind::Gateway {
                address: g.address.clone(),
                probe,
                health: gateways.cell(&name),
            },
            name,
            transport,
            addr: peer.map(|p| p.addr),
            server_name,
        });
    }
    out
}

fn to_txn(t: sbc_config::TransportKind) -> Transport {
    match t {
        sbc_config::TransportKind::Udp => Transport::Udp,
        sbc_config::TransportKind::Tcp => Transport::Tcp,
        sbc_config::TransportKind::Tls => Transport::Tls,
    }
}

/// The host name of a `host[:port]` address, `None` for an IP literal (verified by address).
fn host_of(address: &str) -> Option<String> {
    if address.parse::<SocketAddr>().is_ok() || address.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    if address.starts_with('[') {
        return None;
    }
    Some(
        address
            .rsplit_once(':')
            .map_or(address, |(h, _)| h)
            .to_owned(),
    )
}

#[cfg(test)]
mod tests;
