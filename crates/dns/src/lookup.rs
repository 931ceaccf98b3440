//! The RFC 3263 §4 client procedure as a sans-IO state machine.
//!
//! ```text
//!            ┌─ numeric IP host (or maddr) ────────────────────────────────────► Done
//!            ├─ explicit port ───────────────────────────────► Addr (A/AAAA) ──► Done
//!   new ─────┼─ transport parameter ────────────► Srv ──┐
//!            └─ otherwise ──► Naptr ─► Srv ─────────────┼─ SRV records ───► Addr ──► Done
//!                  (no usable NAPTR: one SRV            ├─ none found ─► Addr (domain,
//!                   query per supported transport)      │                default port) ► Done
//!                                                       └─ only "." or a failure ──► Done
//! ```
//!
//! * §4.1 transport: the URI `transport` parameter; else UDP (`sip`) / TLS (`sips`) for a
//!   numeric host or an explicit port; else the NAPTR records (`SIP+D2U`, `SIP+D2T`,
//!   `SIPS+D2T`; a `sips` URI uses only `SIPS+D2T`; `SIP+D2S` (SCTP) and WebSocket services
//!   are not transports of this SBC and are skipped), sorted by order, preference and then
//!   the SBC's own transport preference; else SRV queries for every supported transport.
//! * §4.2 port and address: the explicit port with A/AAAA of the host; else SRV records
//!   (RFC 2782 ordering in [`crate::srv::order_srv`]); else A/AAAA of the domain at the
//!   transport's default port.
//! * The failover list is every address in that order, de-duplicated and cut at
//!   [`Policy::max_targets`] (§4.3: try the next on failure, serially).
//!
//! Queries of one phase are emitted together so the shell can run them concurrently; the
//! next phase starts when every one is answered.

use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use sbc_sip::uri::{parse_uri, Host, SipUri, Uri};

use crate::cache::Cache;
use crate::name::{Name, NameError, Transport};
use crate::policy::{IpPolicy, Policy};
use crate::record::{Answer, Query, RData, RecordType, Srv};
use crate::srv::{order_srv, RandomSource};
use crate::statics::StaticEntries;

/// Where a URI points before any DNS: a numeric address or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostSpec {
    /// A numeric IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A domain name.
    Domain(Name),
}

/// The parts of a SIP/SIPS URI that RFC 3263 looks at, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    /// The `maddr` parameter if present, else the URI host (RFC 3263 §4).
    pub host: HostSpec,
    /// The explicit port.
    pub port: Option<u16>,
    /// The transport the `transport` parameter names (for `sips`, `tcp` and `tls` both mean
    /// TLS).
    pub transport: Option<Transport>,
    /// `sips:`.
    pub secure: bool,
    /// The name to verify in the server's certificate and send as SNI: the URI host
    /// (RFC 5922 §4: the domain of the URI, not an SRV target or maddr); an address in text
    /// form when the URI host is numeric.
    pub server_name: String,
}

/// Why a URI cannot be resolved at all (a configuration or request error, not a DNS one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetError {
    /// Not a well-formed URI.
    BadUri,
    /// Not a `sip:`/`sips:` URI (`tel:` and others need routing first).
    NotSip,
    /// The host is not a usable domain name.
    BadHost(NameError),
    /// The `maddr` parameter is neither an address nor a domain name.
    BadMaddr,
    /// The `transport` parameter names something this SBC cannot speak (SCTP, WebSocket...).
    UnsupportedTransport,
    /// `sips:` with `transport=udp` (a SIPS URI needs TLS, RFC 3261 §26.2.2).
    SecureOverUdp,
    /// The transport required is disabled by policy.
    TransportNotAllowed(Transport),
    /// The policy enables no transport.
    NoTransport,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::BadUri => f.write_str("malformed URI"),
            TargetError::NotSip => f.write_str("not a sip or sips URI"),
            TargetError::BadHost(e) => write!(f, "bad host: {e}"),
            TargetError::BadMaddr => f.write_str("bad maddr parameter"),
            TargetError::UnsupportedTransport => f.write_str("unsupported transport parameter"),
            TargetError::SecureOverUdp => f.write_str("sips URI with transport=udp"),
            TargetError::TransportNotAllowed(t) => write!(f, "transport {t} disabled by policy"),
            TargetError::NoTransport => f.write_str("no transport enabled"),
        }
    }
}

impl std::error::Error for TargetError {}

fn parse_transport(secure: bool, v: &[u8]) -> Result<Transport, TargetError> {
    let t = if v.eq_ignore_ascii_case(b"udp") {
        Transport::Udp
    } else if v.eq_ignore_ascii_case(b"tcp") {
        Transport::Tcp
    } else if v.eq_ignore_ascii_case(b"tls") {
        Transport::Tls
    } else {
        return Err(TargetError::UnsupportedTransport);
    };
    match (secure, t) {
        (true, Transport::Udp) => Err(TargetError::SecureOverUdp),
        (true, _) => Ok(Transport::Tls),
        (false, t) => Ok(t),
    }
}

fn parse_maddr(v: &[u8]) -> Result<HostSpec, TargetError> {
    let s = std::str::from_utf8(v).map_err(|_| TargetError::BadMaddr)?;
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner
            .parse::<Ipv6Addr>()
            .map(|a| HostSpec::Ip(IpAddr::V6(a)))
            .map_err(|_| TargetError::BadMaddr);
    }
    if let Ok(a) = s.parse::<IpAddr>() {
        return Ok(HostSpec::Ip(a));
    }
    Name::from_bytes(v)
        .ok()
        .filter(|n| !n.is_root())
        .map(HostSpec::Domain)
        .ok_or(TargetError::BadMaddr)
}

fn domain(b: &[u8]) -> Result<Name, TargetError> {
    match Name::from_bytes(b) {
        Ok(n) if n.is_root() => Err(TargetError::BadHost(NameError::Empty)),
        Ok(n) => Ok(n),
        Err(e) => Err(TargetError::BadHost(e)),
    }
}

impl TargetSpec {
    /// From a parsed SIP/SIPS URI.
    pub fn from_uri(uri: &SipUri<'_>) -> Result<TargetSpec, TargetError> {
        let transport = uri
            .transport()
            .map(|v| parse_transport(uri.secure, v))
            .transpose()?;
        let uri_host = match uri.host {
            Host::Domain(d) => HostSpec::Domain(domain(d)?),
            Host::V4(a) => HostSpec::Ip(IpAddr::V4(a)),
            Host::V6(a) => HostSpec::Ip(IpAddr::V6(a)),
        };
        let host = match uri.maddr() {
            Some(m) => parse_maddr(m)?,
            None => uri_host.clone(),
        };
        let server_name = match (&uri_host, &host) {
            (HostSpec::Domain(n), _) | (HostSpec::Ip(_), HostSpec::Domain(n)) => {
                n.as_str().to_owned()
            }
            (HostSpec::Ip(a), HostSpec::Ip(_)) => a.to_string(),
        };
        Ok(TargetSpec {
            host,
            port: uri.port,
            transport,
            secure: uri.secure,
            server_name,
        })
    }

    /// From URI text (`sip:`/`sips:` only).
    pub fn parse(uri: &[u8]) -> Result<TargetSpec, TargetError> {
        match parse_uri(uri).map_err(|_| TargetError::BadUri)? {
            Uri::Sip(u) => TargetSpec::from_uri(&u),
            Uri::Tel(_) | Uri::Absolute(_) => Err(TargetError::NotSip),
        }
    }
}

/// One place to send to, in failover order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The transport to use.
    pub transport: Transport,
    /// Address and port.
    pub addr: SocketAddr,
    /// The name to verify in TLS and send as SNI (see [`TargetSpec::server_name`]).
    pub server_name: String,
}

/// Why a lookup produced no target. Every variant is a reason to fail over to the next
/// route (for a request we originate: 503, RFC 3263 §4.3 / RFC 3261 §8.1.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolveError {
    /// Every answer was NXDOMAIN / NODATA.
    NotFound,
    /// Nothing was found and at least one query failed (SERVFAIL, timeout): may succeed later.
    Unavailable,
    /// The SRV records say the service is decidedly not available (target `.`, RFC 2782).
    Declined,
    /// Asked before every query was answered.
    Incomplete,
}

impl ResolveError {
    /// Whether retrying later may help.
    pub fn is_temporary(self) -> bool {
        matches!(self, ResolveError::Unavailable | ResolveError::Incomplete)
    }

    /// The status a request we could not send gets locally.
    pub fn status(self) -> u16 {
        503
    }
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResolveError::NotFound => "no address found",
            ResolveError::Unavailable => "DNS unavailable",
            ResolveError::Declined => "service declined by SRV",
            ResolveError::Incomplete => "lookup not finished",
        })
    }
}

impl std::error::Error for ResolveError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Naptr,
    Srv,
    Addr,
    Done,
}

#[derive(Debug, Clone)]
struct SrvGroup {
    transport: Transport,
    owner: Name,
    records: Vec<Srv>,
    declined: bool,
}

#[derive(Debug, Clone)]
struct HostAddrs {
    name: Name,
    v4: Vec<Ipv4Addr>,
    v6: Vec<Ipv6Addr>,
}

/// Transport and port for the addresses of the URI host itself (numeric host, explicit port,
/// or the no-SRV fallback).
#[derive(Debug, Clone, Copy)]
struct Direct {
    transport: Transport,
    port: u16,
}

/// One resolution in progress.
///
/// Drive it with [`Lookup::poll_query`] / [`Lookup::handle_answer`] (or [`Lookup::advance`]
/// to answer from static entries and the cache first) until [`Lookup::is_done`], then take
/// [`Lookup::targets`].
#[derive(Debug, Clone)]
pub struct Lookup {
    spec: TargetSpec,
    policy: Policy,
    state: State,
    queue: VecDeque<Query>,
    pending: Vec<Query>,
    asked: Vec<Query>,
    groups: Vec<SrvGroup>,
    naptr_transport: Option<Transport>,
    direct: Option<Direct>,
    hosts: Vec<HostAddrs>,
    failures: u32,
    srv_failed: bool,
    declined: bool,
}

impl Lookup {
    /// Starts resolving `spec` under `policy`. Fails only for targets no DNS answer could
    /// make usable (transport disabled or unknown).
    pub fn new(spec: TargetSpec, policy: &Policy) -> Result<Lookup, TargetError> {
        let policy = *policy;
        if policy.transports.iter().next().is_none() {
            return Err(TargetError::NoTransport);
        }
        if let Some(t) = spec.transport {
            if !policy.transports.supports(t) {
                return Err(TargetError::TransportNotAllowed(t));
            }
        }
        if spec.secure && !policy.transports.supports(Transport::Tls) {
            return Err(TargetError::TransportNotAllowed(Transport::Tls));
        }
        let default = spec
            .transport
            .or_else(|| policy.default_transport(spec.secure))
            .ok_or(TargetError::NoTransport)?;
        let mut l = Lookup {
            spec,
            policy,
            state: State::Done,
            queue: VecDeque::new(),
            pending: Vec::new(),
            asked: Vec::new(),
            groups: Vec::new(),
            naptr_transport: None,
            direct: None,
            hosts: Vec::new(),
            failures: 0,
            srv_failed: false,
            declined: false,
        };
        let name = match &l.spec.host {
            HostSpec::Ip(_) => {
                // §4.1/§4.2: a numeric address needs no DNS.
                l.direct = Some(Direct {
                    transport: default,
                    port: l.spec.port.unwrap_or(default.default_port()),
                });
                return Ok(l);
            }
            HostSpec::Domain(n) => n.clone(),
        };
        if let Some(port) = l.spec.port {
            // §4.2: an explicit port means A/AAAA only.
            l.direct = Some(Direct {
                transport: default,
                port,
            });
            l.start_addr(vec![name]);
        } else if l.spec.transport.is_some() {
            // §4.1: the transport is known; §4.2: SRV for that transport.
            l.groups = l.default_groups(&name);
            l.start_srv();
        } else {
            l.state = State::Naptr;
            l.ask(Query::new(name, RecordType::Naptr));
        }
        Ok(l)
    }

    /// [`TargetSpec::parse`] then [`Lookup::new`].
    pub fn for_uri(uri: &[u8], policy: &Policy) -> Result<Lookup, TargetError> {
        Lookup::new(TargetSpec::parse(uri)?, policy)
    }

    /// The target being resolved.
    pub fn spec(&self) -> &TargetSpec {
        &self.spec
    }

    /// The next question to ask, if any. Each is returned once; it stays pending until
    /// answered.
    pub fn poll_query(&mut self) -> Option<Query> {
        let q = self.queue.pop_front()?;
        self.pending.push(q.clone());
        Some(q)
    }

    /// Questions returned by [`Lookup::poll_query`] and not answered yet.
    pub fn pending(&self) -> &[Query] {
        &self.pending
    }

    /// Every question this lookup has asked (or will, once polled), in order: what a
    /// refresher re-resolves.
    pub fn asked(&self) -> &[Query] {
        &self.asked
    }

    /// True when every question is answered and [`Lookup::targets`] is final.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds the answer to a pending question. Returns `false` (and changes nothing) when
    /// `query` is not pending. Records of other types in the answer are ignored.
    pub fn handle_answer(&mut self, query: &Query, answer: &Answer) -> bool {
        let Some(i) = self.pending.iter().position(|q| q == query) else {
            return false;
        };
        self.pending.swap_remove(i);
        if matches!(answer, Answer::Failed) {
            self.failures += 1;
        }
        match (self.state, query.rtype) {
            (State::Naptr, RecordType::Naptr) => self.on_naptr(answer),
            (State::Srv, RecordType::Srv) => self.on_srv(&query.name, answer),
            (State::Addr, RecordType::A | RecordType::Aaaa) => self.on_addr(query, answer),
            _ => {}
        }
        self.next_phase();
        true
    }

    /// Answers what static entries and the cache can, and returns the questions that must go
    /// to DNS (each now pending). Call again after feeding their answers (stored through
    /// [`Cache::store`]) until [`Lookup::is_done`].
    pub fn advance(&mut self, now: Instant, cache: &Cache, statics: &StaticEntries) -> Vec<Query> {
        self.advance_with(now, cache, statics, Duration::ZERO)
    }

    /// [`Lookup::advance`], treating cache entries that expire within `min_remaining` as
    /// missing (refresh ahead of expiry).
    pub fn advance_with(
        &mut self,
        now: Instant,
        cache: &Cache,
        statics: &StaticEntries,
        min_remaining: Duration,
    ) -> Vec<Query> {
        let mut out = Vec::new();
        while let Some(q) = self.poll_query() {
            let local = statics
                .answer(&q)
                .or_else(|| cache.get_fresh(now, &q, min_remaining));
            match local {
                Some(a) => {
                    self.handle_answer(&q, &a);
                }
                None => out.push(q),
            }
        }
        out
    }

    /// The failover list, best first. SRV weights are drawn from `rng` (RFC 2782), so two
    /// calls may order equal-priority records differently.
    pub fn targets(&self, rng: &mut dyn RandomSource) -> Result<Vec<Target>, ResolveError> {
        if self.state != State::Done {
            return Err(ResolveError::Incomplete);
        }
        let mut out = Vec::new();
        if let Some(d) = self.direct {
            match &self.spec.host {
                HostSpec::Ip(ip) => self.push(&mut out, d.transport, SocketAddr::new(*ip, d.port)),
                HostSpec::Domain(n) => self.push_host(&mut out, n, d.transport, d.port),
            }
        } else {
            for g in &self.groups {
                let mut recs = g.records.clone();
                order_srv(&mut recs, rng);
                for r in &recs {
                    self.push_host(&mut out, &r.target, g.transport, r.port);
                }
            }
        }
        if !out.is_empty() {
            Ok(out)
        } else if self.declined {
            Err(ResolveError::Declined)
        } else if self.failures > 0 {
            Err(ResolveError::Unavailable)
        } else {
            Err(ResolveError::NotFound)
        }
    }

    fn push(&self, out: &mut Vec<Target>, transport: Transport, addr: SocketAddr) {
        if out.len() >= self.policy.max_targets
            || out
                .iter()
                .any(|t| t.transport == transport && t.addr == addr)
        {
            return;
        }
        out.push(Target {
            transport,
            addr,
            server_name: self.spec.server_name.clone(),
        });
    }

    fn push_host(&self, out: &mut Vec<Target>, name: &Name, transport: Transport, port: u16) {
        let Some(h) = self.hosts.iter().find(|h| &h.name == name) else {
            return;
        };
        let v4 = h.v4.iter().map(|a| IpAddr::V4(*a));
        let v6 = h.v6.iter().map(|a| IpAddr::V6(*a));
        let ips: Vec<IpAddr> = match self.policy.ip {
            IpPolicy::V4Only => v4.collect(),
            IpPolicy::V6Only => v6.collect(),
            IpPolicy::PreferV4 => v4.chain(v6).collect(),
            IpPolicy::PreferV6 => v6.chain(v4).collect(),
        };
        for ip in ips {
            self.push(out, transport, SocketAddr::new(ip, port));
        }
    }

    fn ask(&mut self, q: Query) {
        if !self.asked.contains(&q) {
            self.asked.push(q.clone());
            self.queue.push_back(q);
        }
    }

    /// One SRV group per supported transport, in preference order (§4.1 without NAPTR);
    /// only TLS for `sips`, only the named one with a transport parameter.
    fn default_groups(&self, domain: &Name) -> Vec<SrvGroup> {
        let group = |t: Transport| SrvGroup {
            transport: t,
            owner: domain.srv_owner(t),
            records: Vec::new(),
            declined: false,
        };
        if let Some(t) = self.spec.transport {
            return vec![group(t)];
        }
        self.policy
            .transports
            .iter()
            .filter(|&t| !self.spec.secure || t == Transport::Tls)
            .map(group)
            .collect()
    }

    fn domain(&self) -> Option<Name> {
        match &self.spec.host {
            HostSpec::Domain(n) => Some(n.clone()),
            HostSpec::Ip(_) => None,
        }
    }

    fn start_srv(&mut self) {
        self.state = State::Srv;
        let owners: Vec<Name> = self.groups.iter().map(|g| g.owner.clone()).collect();
        for o in owners {
            self.ask(Query::new(o, RecordType::Srv));
        }
    }

    fn start_addr(&mut self, names: Vec<Name>) {
        self.state = State::Addr;
        let ip = self.policy.ip;
        let types: &[RecordType] = match ip {
            IpPolicy::V4Only => &[RecordType::A],
            IpPolicy::V6Only => &[RecordType::Aaaa],
            IpPolicy::PreferV4 => &[RecordType::A, RecordType::Aaaa],
            IpPolicy::PreferV6 => &[RecordType::Aaaa, RecordType::A],
        };
        for n in names {
            for &t in types {
                self.ask(Query::new(n.clone(), t));
            }
            self.hosts.push(HostAddrs {
                name: n,
                v4: Vec::new(),
                v6: Vec::new(),
            });
        }
    }

    fn on_naptr(&mut self, answer: &Answer) {
        let mut cands: Vec<(u16, u16, usize, Transport, Name)> = Vec::new();
        for r in answer.records() {
            let RData::Naptr(n) = &r.data else { continue };
            // RFC 3263 §4.1: "S" records with an empty regexp pointing at an SRV name.
            if !n.flags.eq_ignore_ascii_case("s") || !n.regexp.is_empty() || n.replacement.is_root()
            {
                continue;
            }
            let Some((t, sips)) = Transport::from_naptr_service(&n.services) else {
                continue;
            };
            if self.spec.secure && !sips {
                continue;
            }
            let Some(rank) = self.policy.transports.rank(t) else {
                continue;
            };
            if !cands.iter().any(|c| c.3 == t && c.4 == n.replacement) {
                cands.push((n.order, n.preference, rank, t, n.replacement.clone()));
            }
        }
        cands.sort_by_key(|c| (c.0, c.1, c.2));
        cands.truncate(self.policy.max_naptr);
        self.naptr_transport = cands.first().map(|c| c.3);
        self.groups = cands
            .into_iter()
            .map(|(_, _, _, t, owner)| SrvGroup {
                transport: t,
                owner,
                records: Vec::new(),
                declined: false,
            })
            .collect();
    }

    fn on_srv(&mut self, owner: &Name, answer: &Answer) {
        let max = self.policy.max_srv_records;
        let mut recs: Vec<Srv> = answer
            .records()
            .iter()
            .filter_map(|r| match &r.data {
                RData::Srv(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        let declined = !recs.is_empty() && recs.iter().all(|s| s.target.is_root());
        recs.retain(|s| !s.target.is_root());
        recs.sort_by_key(|s| s.priority);
        recs.truncate(max);
        if matches!(answer, Answer::Failed) {
            self.srv_failed = true;
        }
        for g in self.groups.iter_mut().filter(|g| &g.owner == owner) {
            g.records.clone_from(&recs);
            g.declined = declined;
        }
    }

    fn on_addr(&mut self, query: &Query, answer: &Answer) {
        let max = self.policy.max_addrs_per_host;
        let Some(h) = self.hosts.iter_mut().find(|h| h.name == query.name) else {
            return;
        };
        for r in answer.records() {
            match (&r.data, query.rtype) {
                (RData::A(a), RecordType::A) if h.v4.len() < max && !h.v4.contains(a) => {
                    h.v4.push(*a);
                }
                (RData::Aaaa(a), RecordType::Aaaa) if h.v6.len() < max && !h.v6.contains(a) => {
                    h.v6.push(*a);
                }
                _ => {}
            }
        }
    }

    /// Moves to the next phase once every question of this one is answered.
    fn next_phase(&mut self) {
        while self.pending.is_empty() && self.queue.is_empty() && self.state != State::Done {
            match self.state {
                State::Naptr => {
                    if self.groups.is_empty() {
                        // No usable NAPTR: SRV for every supported transport.
                        if let Some(d) = self.domain() {
                            self.groups = self.default_groups(&d);
                        }
                    }
                    self.start_srv();
                }
                State::Srv => {
                    let mut names: Vec<Name> = Vec::new();
                    for g in &self.groups {
                        for r in &g.records {
                            if names.len() < self.policy.max_hosts && !names.contains(&r.target) {
                                names.push(r.target.clone());
                            }
                        }
                    }
                    if !names.is_empty() {
                        self.start_addr(names);
                    } else if self.groups.iter().any(|g| g.declined) {
                        self.declined = true;
                        self.state = State::Done;
                    } else if self.srv_failed {
                        // A failed SRV query is not "no SRV records": falling back to the
                        // domain's A records could reach the wrong host.
                        self.state = State::Done;
                    } else if let Some(d) = self.domain() {
                        // §4.2: no SRV: the domain's addresses at the default port of the
                        // transport chosen so far.
                        let t = self
                            .spec
                            .transport
                            .or(self.naptr_transport)
                            .or_else(|| self.policy.default_transport(self.spec.secure))
                            .unwrap_or(Transport::Udp);
                        self.direct = Some(Direct {
                            transport: t,
                            port: t.default_port(),
                        });
                        self.start_addr(vec![d]);
                    } else {
                        self.state = State::Done;
                    }
                }
                State::Addr | State::Done => self.state = State::Done,
            }
        }
    }
}
