//! Routing is injected: the engine asks a [`Router`] where a new INVITE goes and gets either
//! a rejection or an ordered list of targets for serial failover. The router is pure and
//! immutable (principle 13): reload builds a new one and swaps it into the engine
//! ([`crate::Engine::set_router`]); calls in progress keep the targets they were given.

use core::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use sbc_sip::uri::Uri;
use sbc_sip::Message;
use sbc_txn::Peer;

/// One place to send the B-leg INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Where the INVITE goes (transport and address; the shell owns the connection).
    pub peer: Peer,
    /// The B-leg Request-URI.
    pub request_uri: Vec<u8>,
    /// The outbound trunk name (admission limits, header/leg policy, CDRs).
    pub trunk: String,
    /// How the call presents itself on each leg when a copy of the caller's identities is
    /// not enough (Teams: tenant FQDNs in From and Contact, TI-13/TI-14).
    pub presentation: Presentation,
}

impl Target {
    /// A target that copies the caller's From and To and uses the trunk's Contact.
    pub fn new(peer: Peer, request_uri: Vec<u8>, trunk: impl Into<String>) -> Target {
        Target {
            peer,
            request_uri,
            trunk: trunk.into(),
            presentation: Presentation::default(),
        }
    }
}

/// Per-call presentation decided by routing. Every field defaults to "as the leg's policy
/// or the caller's request says".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Presentation {
    /// The B leg's From, a name-addr without tag (TI-13:
    /// `<sip:+15550001@tenant.carrier.example;user=phone>`); `None` copies the caller's.
    pub from: Option<Vec<u8>>,
    /// The B leg's To, a name-addr without tag; `None` copies the caller's.
    pub to: Option<Vec<u8>>,
    /// Our Contact URI on the B leg (TI-14: the tenant subdomain FQDN, never an IP);
    /// `None` uses the trunk's.
    pub contact: Option<String>,
    /// Our Contact URI on the A leg (our answers to Microsoft name the tenant FQDN too);
    /// `None` uses the inbound trunk's. Read from the first target.
    pub a_contact: Option<String>,
    /// The tenant the call belongs to (CDRs, logs). Read from the first target.
    pub tenant: Option<String>,
    /// The tenant's transfer mode on the leg(s) whose Contact routing sets (TI-26); `None`:
    /// the trunk's.
    pub refer: Option<crate::ReferMode>,
}

/// What the router decided for a new INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteDecision {
    /// Refuse the call before any state exists (404 unknown number, 403 screening...).
    Reject {
        /// Final status for the caller.
        status: u16,
        /// Reason phrase (`None`: the standard one).
        reason: Option<String>,
    },
    /// Try these in order; the next one only on 408, 503, 504, Timer B or a transport error
    /// before any 18x went upstream (TI-18).
    Targets(Vec<Target>),
}

/// What kind of call a new INVITE is, decided before any other policy (TI-38).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CallClass {
    /// Subject to every limit.
    #[default]
    Normal,
    /// An emergency call (TI-38..TI-40): admitted while draining, past the call and CPS
    /// limits (global and per trunk) and into the reserved share of the call table.
    Emergency,
    /// A PSAP callback to a recent emergency caller (TI-42): the same admission as an
    /// emergency call.
    Callback,
}

impl CallClass {
    /// Emergency or callback: never refused for capacity.
    pub fn is_priority(self) -> bool {
        self != CallClass::Normal
    }
}

/// Decides where new calls go. Must be cheap and must not block: it runs on the shard's
/// message path (slow lookups belong in the shell, principle 12).
pub trait Router: fmt::Debug + Send + Sync {
    /// Classifies a validated, out-of-dialog INVITE before admission (TI-38: emergency
    /// dial strings and `urn:service:sos*` are matched before any other rule).
    fn classify(&self, _req: &Message, _from: Peer) -> CallClass {
        CallClass::Normal
    }

    /// Routes a validated, out-of-dialog INVITE that arrived from `from`.
    fn route(&self, req: &Message, from: Peer) -> RouteDecision;

    /// The inbound trunk a source belongs to, for per-trunk admission and CDRs.
    fn source_trunk(&self, _req: &Message, _from: Peer) -> Option<String> {
        None
    }
}

/// An IPv4 or IPv6 network in CIDR notation (`127.0.0.0/8`, `::1/128`); a bare address is a
/// host route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// A CIDR string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrError(pub String);

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid CIDR {:?}", self.0)
    }
}

impl std::error::Error for CidrError {}

impl Cidr {
    /// A network; the prefix is clamped to the address family's width.
    pub fn new(addr: IpAddr, prefix: u8) -> Cidr {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        Cidr {
            addr,
            prefix: prefix.min(max),
        }
    }

    /// True when `ip` is inside (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let bad = || CidrError(s.to_string());
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { addr, prefix })
    }
}

/// One gateway of a [`StaticRoute`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    /// Where to send.
    pub peer: Peer,
    /// Outbound trunk name.
    pub trunk: String,
}

/// "Requests from these sources go to these gateways, in this order."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticRoute {
    /// The inbound trunk name (CDRs, admission).
    pub name: String,
    /// Source networks this route applies to.
    pub sources: Vec<Cidr>,
    /// Gateways in failover order.
    pub gateways: Vec<Gateway>,
}

/// The simplest router: the first route whose sources contain the request's source address
/// gives the gateways; the Request-URI keeps the called user part and points at the
/// gateway (`sip:<user>@<gateway ip:port>[;user=phone]`). No route: 403.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticRouter {
    /// Routes, first match wins.
    pub routes: Vec<StaticRoute>,
}

impl StaticRouter {
    /// A router with these routes.
    pub fn new(routes: Vec<StaticRoute>) -> StaticRouter {
        StaticRouter { routes }
    }

    /// The embedded default: calls from loopback go to a gateway at `127.0.0.1:5080` over
    /// UDP, then to `second` if given.
    pub fn lab_default(second: Option<Peer>) -> StaticRouter {
        let mut gateways = vec![Gateway {
            peer: Peer::new(
                sbc_txn::Transport::Udp,
                std::net::SocketAddr::from(([127, 0, 0, 1], 5080)),
            ),
            trunk: "gw1".into(),
        }];
        if let Some(p) = second {
            gateways.push(Gateway {
                peer: p,
                trunk: "gw2".into(),
            });
        }
        StaticRouter::new(vec![StaticRoute {
            name: "lab".into(),
            sources: vec![Cidr::new(IpAddr::from([127, 0, 0, 0]), 8)],
            gateways,
        }])
    }

    fn find(&self, from: Peer) -> Option<&StaticRoute> {
        let ip = from.addr.ip();
        self.routes
            .iter()
            .find(|r| r.sources.iter().any(|c| c.contains(ip)))
    }
}

/// `sip:<user>@<addr>[;user=phone]` from the incoming Request-URI's user part (a tel: URI's
/// number) and the gateway address.
pub fn gateway_uri(req: &Message, gw: Peer) -> Vec<u8> {
    let mut out = b"sip:".to_vec();
    let mut phone = false;
    match req.request_uri() {
        Some(Uri::Sip(u)) => {
            if let Some(user) = u.user {
                out.extend_from_slice(user);
                out.push(b'@');
            }
            phone = u.is_phone();
        }
        Some(Uri::Tel(t)) => {
            out.extend_from_slice(t.number);
            out.push(b'@');
            phone = true;
        }
        _ => {}
    }
    out.extend_from_slice(gw.addr.to_string().as_bytes());
    if gw.transport != sbc_txn::Transport::Udp {
        out.extend_from_slice(b";transport=");
        out.extend_from_slice(gw.transport.as_str().to_ascii_lowercase().as_bytes());
    }
    if phone {
        out.extend_from_slice(b";user=phone");
    }
    out
}

impl Router for StaticRouter {
    fn route(&self, req: &Message, from: Peer) -> RouteDecision {
        match self.find(from) {
            Some(r) if !r.gateways.is_empty() => RouteDecision::Targets(
                r.gateways
                    .iter()
                    .map(|g| Target::new(g.peer, gateway_uri(req, g.peer), g.trunk.clone()))
                    .collect(),
            ),
            Some(_) => RouteDecision::Reject {
                status: 404,
                reason: None,
            },
            None => RouteDecision::Reject {
                status: 403,
                reason: None,
            },
        }
    }

    fn source_trunk(&self, _req: &Message, from: Peer) -> Option<String> {
        self.find(from).map(|r| r.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sbc_txn::Transport;

    #[test]
    fn cidr() {
        let c: Cidr = "127.0.0.0/8".parse().unwrap();
        assert!(c.contains("127.1.2.3".parse().unwrap()));
        assert!(!c.contains("128.0.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:127.0.0.1".parse().unwrap()));
        let h: Cidr = "10.0.0.1".parse().unwrap();
        assert!(h.contains("10.0.0.1".parse().unwrap()));
        assert!(!h.contains("10.0.0.2".parse().unwrap()));
        let any: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(any.contains("8.8.8.8".parse().unwrap()));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        assert!("1.2.3.4/33".parse::<Cidr>().is_err());
        assert!("nope".parse::<Cidr>().is_err());
    }

    #[test]
    fn static_router() {
        let r = StaticRouter::lab_default(Some(Peer::new(
            Transport::Tcp,
            "127.0.0.1:5090".parse().unwrap(),
        )));
        let req = Message::parse(
            &b"INVITE sip:+15551234@sbc.example.com;user=phone SIP/2.0\r\n\
               Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
               From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
               Content-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        let from = Peer::new(Transport::Udp, "127.0.0.1:5070".parse().unwrap());
        let RouteDecision::Targets(t) = r.route(&req, from) else {
            panic!()
        };
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].request_uri, b"sip:+15551234@127.0.0.1:5080;user=phone");
        assert_eq!(t[0].trunk, "gw1");
        assert_eq!(
            t[1].request_uri,
            b"sip:+15551234@127.0.0.1:5090;transport=tcp;user=phone"
        );
        assert_eq!(r.source_trunk(&req, from).as_deref(), Some("lab"));
        let other = Peer::new(Transport::Udp, "192.0.2.1:5060".parse().unwrap());
        assert_eq!(
            r.route(&req, other),
            RouteDecision::Reject {
                status: 403,
                reason: None
            }
        );
    }
}
