//! The procedure end to end against an in-memory zone: every branch of RFC 3263 §4 as
//! implemented in `lookup.rs`, with the cache and static entries.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::*;

fn n(s: &str) -> Name {
    Name::parse(s).unwrap()
}

fn q(name: &str, t: RecordType) -> Query {
    Query::new(n(name), t)
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// An in-memory DNS: unknown questions get NXDOMAIN.
#[derive(Default)]
struct Zone {
    map: HashMap<Query, Answer>,
}

impl Zone {
    fn new() -> Zone {
        Zone::default()
    }

    fn set(mut self, name: &str, t: RecordType, a: Answer) -> Zone {
        self.map.insert(q(name, t), a);
        self
    }

    fn a(self, name: &str, ips: &[&str]) -> Zone {
        let rs = ips
            .iter()
            .map(|s| Record::new(300, RData::A(s.parse().unwrap())))
            .collect();
        self.set(name, A, Answer::Records(rs))
    }

    fn aaaa(self, name: &str, ips: &[&str]) -> Zone {
        let rs = ips
            .iter()
            .map(|s| Record::new(300, RData::Aaaa(s.parse().unwrap())))
            .collect();
        self.set(name, Aaaa, Answer::Records(rs))
    }

    /// `(priority, weight, port, target)`.
    fn srv(self, owner: &str, recs: &[(u16, u16, u16, &str)]) -> Zone {
        let rs = recs
            .iter()
            .map(|&(p, w, port, t)| Record::new(600, RData::Srv(Srv::new(p, w, port, n(t)))))
            .collect();
        self.set(owner, RecordType::Srv, Answer::Records(rs))
    }

    /// `(order, preference, flags, service, replacement)`.
    fn naptr(self, name: &str, recs: &[(u16, u16, &str, &str, &str)]) -> Zone {
        let rs = recs
            .iter()
            .map(|&(order, preference, flags, services, repl)| {
                Record::new(
                    3600,
                    RData::Naptr(Naptr {
                        order,
                        preference,
                        flags: flags.into(),
                        services: services.into(),
                        regexp: String::new(),
                        replacement: n(repl),
                    }),
                )
            })
            .collect();
        self.set(name, RecordType::Naptr, Answer::Records(rs))
    }

    fn ask(&self, query: &Query) -> Answer {
        self.map
            .get(query)
            .cloned()
            .unwrap_or(Answer::NxDomain { negative_ttl: None })
    }
}

/// Everything a test needs around a lookup: zone, cache, statics, clock, and the log of
/// questions that reached "the network".
struct World {
    zone: Zone,
    cache: Cache,
    statics: StaticEntries,
    now: Instant,
    net: Vec<Query>,
}

impl World {
    fn new(zone: Zone) -> World {
        World {
            zone,
            cache: Cache::default(),
            statics: StaticEntries::new(),
            now: Instant::now(),
            net: Vec::new(),
        }
    }

    fn drive(&mut self, l: &mut Lookup) {
        self.drive_with(l, Duration::ZERO);
    }

    fn drive_with(&mut self, l: &mut Lookup, margin: Duration) {
        for _ in 0..10 {
            if l.is_done() {
                return;
            }
            let qs = l.advance_with(self.now, &self.cache, &self.statics, margin);
            for q in qs {
                self.net.push(q.clone());
                let a = self.cache.store(self.now, &q, self.zone.ask(&q));
                assert!(l.handle_answer(&q, &a));
            }
        }
        panic!("lookup did not finish");
    }

    fn resolve_with(&mut self, uri: &str, policy: &Policy) -> Result<Vec<Target>, ResolveError> {
        let mut l = Lookup::for_uri(uri.as_bytes(), policy).expect("valid target");
        self.drive(&mut l);
        l.targets(&mut |_| 0)
    }

    fn resolve(&mut self, uri: &str) -> Result<Vec<Target>, ResolveError> {
        self.resolve_with(uri, &Policy::default())
    }

    fn take_net(&mut self) -> Vec<(String, RecordType)> {
        std::mem::take(&mut self.net)
            .into_iter()
            .map(|q| (q.name.as_str().to_owned(), q.rtype))
            .collect()
    }
}

fn t(transport: Transport, addr: &str, server_name: &str) -> Target {
    Target {
        transport,
        addr: sa(addr),
        server_name: server_name.into(),
    }
}

fn net(v: &[(&str, RecordType)]) -> Vec<(String, RecordType)> {
    v.iter().map(|&(s, t)| (s.to_owned(), t)).collect()
}

use RecordType::{Aaaa, Naptr as NAPTR, Srv as SRV, A};
use Transport::{Tcp, Tls, Udp};

// ---- numeric hosts: no DNS ------------------------------------------------------------

#[test]
fn numeric_ipv4_needs_no_dns() {
    let mut w = World::new(Zone::new());
    assert_eq!(
        w.resolve("sip:alice@192.0.2.1").unwrap(),
        [t(Udp, "192.0.2.1:5060", "192.0.2.1")]
    );
    assert_eq!(
        w.resolve("sip:192.0.2.1:5080;transport=tcp").unwrap(),
        [t(Tcp, "192.0.2.1:5080", "192.0.2.1")]
    );
    assert_eq!(
        w.resolve("sips:192.0.2.1").unwrap(),
        [t(Tls, "192.0.2.1:5061", "192.0.2.1")]
    );
    assert_eq!(
        w.resolve("sip:192.0.2.1;transport=TLS").unwrap(),
        [t(Tls, "192.0.2.1:5061", "192.0.2.1")]
    );
    assert!(w.take_net().is_empty());
    let l = Lookup::for_uri(b"sip:192.0.2.1", &Policy::default()).unwrap();
    assert!(l.is_done() && l.asked().is_empty());
}

#[test]
fn numeric_ipv6() {
    let mut w = World::new(Zone::new());
    assert_eq!(
        w.resolve("sip:[2001:db8::1]:5070").unwrap(),
        [t(Udp, "[2001:db8::1]:5070", "2001:db8::1")]
    );
    assert_eq!(
        w.resolve("sips:[2001:DB8::1]").unwrap(),
        [t(Tls, "[2001:db8::1]:5061", "2001:db8::1")]
    );
    assert!(w.take_net().is_empty());
}

#[test]
fn numeric_host_uses_tcp_when_udp_is_disabled() {
    let p = Policy {
        transports: TransportPrefs::new(&[Tcp, Tls]),
        ..Policy::default()
    };
    let mut w = World::new(Zone::new());
    assert_eq!(
        w.resolve_with("sip:192.0.2.1", &p).unwrap(),
        [t(Tcp, "192.0.2.1:5060", "192.0.2.1")]
    );
}

// ---- explicit port: A/AAAA only ----------------------------------------------------------

#[test]
fn explicit_port_means_address_records_only() {
    let zone = Zone::new()
        .a("gw.example.net", &["192.0.2.10", "192.0.2.11"])
        .aaaa("gw.example.net", &["2001:db8::10"]);
    let mut w = World::new(zone);
    assert_eq!(
        w.resolve("sip:+15551234567@GW.example.net:5070;user=phone")
            .unwrap(),
        [
            t(Udp, "192.0.2.10:5070", "gw.example.net"),
            t(Udp, "192.0.2.11:5070", "gw.example.net"),
            t(Udp, "[2001:db8::10]:5070", "gw.example.net"),
        ]
    );
    assert_eq!(
        w.take_net(),
        net(&[("gw.example.net", A), ("gw.example.net", Aaaa)])
    );
}

#[test]
fn microsoft_direct_routing_target() {
    // TI-3: port 5061 and transport=tls given: no NAPTR, no SRV; SNI/verification name is
    // the name dialled.
    let zone = Zone::new().a(
        "sip.pstnhub.microsoft.com",
        &["52.114.148.0", "52.114.132.46"],
    );
    let mut w = World::new(zone);
    let got = w
        .resolve("sip:sip.pstnhub.microsoft.com:5061;transport=tls")
        .unwrap();
    assert_eq!(
        got,
        [
            t(Tls, "52.114.148.0:5061", "sip.pstnhub.microsoft.com"),
            t(Tls, "52.114.132.46:5061", "sip.pstnhub.microsoft.com"),
        ]
    );
    assert_eq!(
        w.take_net(),
        net(&[
            ("sip.pstnhub.microsoft.com", A),
            ("sip.pstnhub.microsoft.com", Aaaa)
        ])
    );
    // With an IPv4-only policy, exactly one A query.
    let p = Policy {
        ip: IpPolicy::V4Only,
        transports: TransportPrefs::new(&[Tls]),
        ..Policy::default()
    };
    let mut w = World::new(Zone::new().a("sip2.pstnhub.microsoft.com", &["52.114.16.74"]));
    let got = w
        .resolve_with("sip:sip2.pstnhub.microsoft.com:5061;transport=tls", &p)
        .unwrap();
    assert_eq!(
        got,
        [t(Tls, "52.114.16.74:5061", "sip2.pstnhub.microsoft.com")]
    );
    assert_eq!(w.take_net(), net(&[("sip2.pstnhub.microsoft.com", A)]));
}

#[test]
fn sips_with_port_is_tls() {
    let mut w = World::new(Zone::new().a("gw.example.net", &["192.0.2.10"]));
    assert_eq!(
        w.resolve("sips:gw.example.net:5071").unwrap(),
        [t(Tls, "192.0.2.10:5071", "gw.example.net")]
    );
    assert_eq!(
        w.resolve("sips:gw.example.net:5071;transport=tcp").unwrap(),
        [t(Tls, "192.0.2.10:5071", "gw.example.net")]
    );
}

// ---- transport parameter: SRV for that transport ---------------------------------------

#[test]
fn transport_param_skips_naptr() {
    let zone = Zone::new()
        .srv(
            "_sip._tcp.example.com",
            &[(10, 0, 5070, "pbx1.example.com")],
        )
        .a("pbx1.example.com", &["192.0.2.21"]);
    let mut w = World::new(zone);
    assert_eq!(
        w.resolve("sip:bob@example.com;transport=tcp").unwrap(),
        [t(Tcp, "192.0.2.21:5070", "example.com")]
    );
    assert_eq!(
        w.take_net(),
        net(&[
            ("_sip._tcp.example.com", SRV),
            ("pbx1.example.com", A),
            ("pbx1.example.com", Aaaa)
        ])
    );
}

#[test]
fn transport_param_without_srv_falls_back_to_default_port() {
    let zone = Zone::new().a("example.com", &["192.0.2.30"]);
    let mut w = World::new(zone);
    assert_eq!(
        w.resolve("sip:example.com;transport=tls").unwrap(),
        [t(Tls, "192.0.2.30:5061", "example.com")]
    );
    assert_eq!(
        w.take_net(),
        net(&[
            ("_sips._tcp.example.com", SRV),
            ("example.com", A),
            ("example.com", Aaaa)
        ])
    );
}

// ---- NAPTR ----------------------------------------------------------------------------

#[test]
fn naptr_then_srv_then_addresses() {
    let zone = Zone::new()
        .naptr(
            "example.com",
            &[
                (30, 10, "S", "SIP+D2U", "_sip._udp.example.com"),
                (10, 10, "s", "SIPS+D2T", "_sips._tcp.example.com"),
                (20, 10, "S", "SIP+D2T", "_sip._tcp.example.com"),
            ],
        )
        .srv("_sips._tcp.example.com", &[(0, 0, 5061, "tls.example.com")])
        .srv("_sip._tcp.example.com", &[(0, 0, 5060, "tcp.example.com")])
        .srv("_sip._udp.example.com", &[(0, 0, 5060, "udp.example.com")])
        .a("tls.example.com", &["192.0.2.1"])
        .a("tcp.example.com", &["192.0.2.2"])
        .a("udp.example.com", &["192.0.2.3"]);
    let mut w = World::new(zone);
    assert_eq!(
        w.resolve("sip:example.com").unwrap(),
        [
            t(Tls, "192.0.2.1:5061", "example.com"),
            t(Tcp, "192.0.2.2:5060", "example.com"),
            t(Udp, "192.0.2.3:5060", "example.com"),
        ]
    );
    assert_eq!(
        w.take_net(),
        net(&[
            ("example.com", NAPTR),
            ("_sips._tcp.example.com", SRV),
            ("_sip._tcp.example.com", SRV),
            ("_sip._udp.example.com", SRV),
            ("tls.example.com", A),
            ("tls.example.com", Aaaa),
            ("tcp.example.com", A),
            ("tcp.example.com", Aaaa),
            ("udp.example.com", A),
            ("udp.example.com", Aaaa),
        ])
    );
}

#[test]
fn naptr_preference_and_policy_break_ties() {
    let zone = Zone::new()
        .naptr(
            "example.com",
            &[
                // Same order: preference decides (UDP 5 before TCP 10).
                (10, 10, "S", "SIP+D2T", "_sip._tcp.example.com"),
                (10, 5, "S", "SIP+D2U", "_sip._udp.example.com"),
                // Same order and preference: the SBC's preference (default TLS first).
                (20, 1, "S", "SIP+D2T", "_sip._tcp.b.example.com"),
                (20, 1, "S", "SIPS+D2T", "_sips._tcp.b.example.com"),
            ],
        )
        .srv("_sip._udp.example.com", &[(0, 0, 5060, "h.example.com")])
        .srv("_sip._tcp.example.com", &[(0, 0, 5060, "h.example.com")])
        .srv("_sips._tcp.b.example.com", &[(0, 0, 5061, "h.example.com")])
        .srv("_sip._tcp.b.example.com", &[(0, 0, 5062, "h.example.com")])
        .a("h.example.com", &["192.0.2.9"]);
    let mut w = World::new(zone);
    let got = w.resolve("sip:example.com").unwrap();
    assert_eq!(
        got,
        [
            t(Udp, "192.0.2.9:5060", "example.com"),
            t(Tcp, "192.0.2.9:5060", "example.com"),
            t(Tls, "192.0.2.9:5061", "example.com"),
            t(Tcp, "192.0.2.9:5062", "example.com"),
        ]
    );
    // One host, asked once.
    let asked = w.take_net();
    assert_eq!(asked.iter().filter(|x| x.1 == A).count(), 1);
}

#[test]
fn naptr_records_that_do_not_apply_are_skipped() {
    let mut zone = Zone::new().naptr(
        "example.com",
        &[
            (1, 1, "U", "SIP+D2U", "_sip._udp.x.example.com"), // not an SRV pointer
            (2, 1, "S", "SIP+D2S", "_sip._sctp.example.com"),  // SCTP
            (3, 1, "S", "SIPS+D2W", "_sips._ws.example.com"),  // WebSocket
            (4, 1, "S", "E2U+sip", "_sip._udp.e.example.com"), // ENUM
            (5, 1, "S", "SIP+D2U", "."),                       // no replacement
            (9, 1, "S", "SIP+D2T", "_sip._tcp.example.com"),
        ],
    );
    // And one with a regexp, which SIP NAPTRs must not use.
    if let Some(Answer::Records(rs)) = zone.map.get_mut(&q("example.com", NAPTR)) {
        rs.push(Record::new(
            60,
            RData::Naptr(Naptr {
                order: 0,
                preference: 0,
                flags: "S".into(),
                services: "SIP+D2U".into(),
                regexp: "!^.*$!sip:x@example.com!".into(),
                replacement: n("_sip._udp.r.example.com"),
            }),
        ));
    }
    let zone = zone
        .srv("_sip._tcp.example.com", &[(0, 0, 5060, "h.example.com")])
        .a("h.example.com", &["192.0.2.9"]);
    let mut w = World::new(zone);
    assert_eq!(
        w.resolve("sip:example.com").unwrap(),
        [t(Tcp, "192.0.2.9:5060", "example.com")]
    );
    assert_eq!(
        w.take_net()
            .into_iter()
            .filter(|x| x.1 == SRV)
            .collect::<Vec<_>>(),
        net(&[("_sip._tcp.example.com", SRV)])
    );
}

#[test]
fn naptr_for_disabled_transport_is_skipped() {
    let zone = Zone::new()
        .naptr(
            "example.com",
            &[
                (1, 1, "S", "SIP+D2U", "_sip._udp.example.com"),
                (2, 1, "S", "SIP+D2T", "_sip._tcp.example.com"),
            ],
        )
        .srv("_sip._udp.example.com", &[(0, 0, 5060, "u.example.com")])
        .srv("_sip._tcp.example.com", &[(0, 0, 5060, "t.example.com")])
        .a("u.example.com", &["192.0.2.1"])
        .a("t.example.com", &["192.0.2.2"]);
    let p = Policy {
        transports: TransportPrefs::new(&[Tls, Tcp]),
        ..Policy::default()
    };
    let mut w = World::new(zone);
    assert_eq!(
        w.resolve_with("sip:example.com", &p).unwrap(),
        [t(Tcp, "192.0.2.2:5060", "example.com")]
    );
}

#[test]
fn sips_uses_only_sips_naptr_and_tls() {
    let zone = Zone::new()
        .naptr(
            "example.com",
            &[
                (1, 1, "S", "SIP+D2U", "_sip._udp.example.com"),
                (2, 1, "S", "SIP+D2T", "_sip._tcp.example.com"),
                (3, 1, "S", "SIPS+D2T", "_sips._tcp.example.com"),
            ],
        )
        .srv("_sip._udp.example.com", &[(0, 0, 5060, "u.example.com")])
        .srv("_sips._tcp.example.com", &[(0, 0, 5061, "s.example.com")])
        .a("u.example.com", &["192.0.2.1"])
        .a("s.example.com", &["192.0.2.2"]);
    let mut w = World::new(zone);
    assert_eq!(
        w.resolve("sips:example.com").unwrap(),
        [t(Tls, "192.0.2.2:5061", "example.com")]
    );
    let srvs: Vec<_> = w.take_net().into_iter().filter(|x| x.1 == SRV).collect();
    assert_eq!(srvs, net(&[("_sips._tcp.example.com", SRV)]));
}

#[test]
fn sips_without_naptr_asks_only_sips_srv() {
    let zone = Zone::new().a("example.com", &["192.0.2.5"]);
    let mut w = World::new(zone);
    assert_eq!(
        w.resolve("sips:example.com").unwrap(),
        [t(Tls, "192.0.2.5:5061", "example.com")]
    );
    assert_eq!(
        w.take_net(),
        net(&[
            ("example.com", NAPTR),
            ("_sips._tcp.example.com", SRV),
            ("example.com", A),
            ("example.com", Aaaa)
        ])
    );
}

#[test]
fn no_naptr_means_srv_for_every_supported_transport() {
    let zone = Zone::new()
        .srv("_sip._tcp.example.com", &[(0, 0, 5060, "t.example.com")])
        .srv("_sip._udp.example.com", &[(0, 0, 5060, "u.example.com")])
        .a("t.example.com", &["192.0.2.2"])
        .a("u.example.com", &["192.0.2.3"]);
    let mut w = World::new(zone);
    // Default preference TLS, TCP, UDP: _sips._tcp is empty, then TCP, then UDP.
    assert_eq!(
        w.resolve("sip:example.com").unwrap(),
        [
            t(Tcp, "192.0.2.2:5060", "example.com"),
            t(Udp, "192.0.2.3:5060", "example.com"),
        ]
    );
    let srvs: Vec<_> = w.take_net().into_iter().filter(|x| x.1 == SRV).collect();
    assert_eq!(
        srvs,
        net(&[
            ("_sips._tcp.example.com", SRV),
            ("_sip._tcp.example.com", SRV),
            ("_sip._udp.example.com", SRV)
        ])
    );
    // The SBC's own order decides.
    let p = Policy {
        transports: TransportPrefs::new(&[Udp, Tcp]),
        ..Policy::default()
    };
    let mut w = World::new(
        Zone::new()
            .srv("_sip._tcp.example.com", &[(0, 0, 5060, "t.example.com")])
            .srv("_sip._udp.example.com", &[(0, 0, 5060, "u.example.com")])
            .a("t.example.com", &["192.0.2.2"])
            .a("u.example.com", &["192.0.2.3"]),
    );
    assert_eq!(
        w.resolve_with("sip:example.com", &p).unwrap(),
        [
            t(Udp, "192.0.2.3:5060", "example.com"),
            t(Tcp, "192.0.2.2:5060", "example.com"),
        ]
    );
}

#[test]
fn no_naptr_no_srv_falls_back_to_addresses() {
    let zone = Zone::new()
        .a("example.com", &["192.0.2.7"])
        .aaaa("example.com", &["2001:db8::7"]);
    let mut w = World::new(zone);
    assert_eq!(
        w.resolve("sip:example.com").unwrap(),
        [
            t(Udp, "192.0.2.7:5060", "example.com"),
            t(Udp, "[2001:db8::7]:5060", "example.com"),
        ]
    );
    assert_eq!(
        w.take_net(),
        net(&[
            ("example.com", NAPTR),
            ("_sips._tcp.example.com", SRV),
            ("_sip._tcp.example.com", SRV),
            ("_sip._udp.example.com", SRV),
            ("example.com", A),
            ("example.com", Aaaa)
        ])
    );
}

#[test]
fn tls_only_policy_falls_back_to_tls_port() {
    let p = Policy {
        transports: TransportPrefs::new(&[Tls]),
        ..Policy::default()
    };
    let mut w = World::new(Zone::new().a("example.com", &["192.0.2.7"]));
    assert_eq!(
        w.resolve_with("sip:example.com", &p).unwrap(),
        [t(Tls, "192.0.2.7:5061", "example.com")]
    );
}

#[test]
fn naptr_without_srv_falls_back_with_the_naptr_transport() {
    let zone = Zone::new()
        .naptr(
            "example.com",
            &[(1, 1, "S", "SIP+D2T", "_sip._tcp.example.com")],
        )
        .a("example.com", &["192.0.2.7"]);
    let mut w = World::new(zone);
    assert_eq!(
        w.resolve("sip:example.com").unwrap(),
        [t(Tcp, "192.0.2.7:5060", "example.com")]
    );
}

// ---- SRV ordering ---------------------------------------------------------------------

fn weighted_zone() -> Zone {
    Zone::new()
        .srv(
            "_sips._tcp.example.com",
            &[
                (20, 0, 5061, "backup.example.com"),
                (10, 10, 5061, "a.example.com"),
                (10, 20, 5061, "b.example.com"),
                (10, 70, 5061, "c.example.com"),
            ],
        )
        .a("a.example.com", &["192.0.2.1"])
        .a("b.example.com", &["192.0.2.2"])
        .a("c.example.com", &["192.0.2.3"])
        .a("backup.example.com", &["192.0.2.4"])
}

fn ports_hosts(v: &[Target]) -> Vec<String> {
    v.iter().map(|t| t.addr.ip().to_string()).collect()
}

#[test]
fn srv_priority_then_weighted_random() {
    let mut w = World::new(weighted_zone());
    let mut l = Lookup::for_uri(b"sips:example.com", &Policy::default()).unwrap();
    w.drive(&mut l);
    // Smallest random number every round: running-sum order.
    assert_eq!(
        ports_hosts(&l.targets(&mut |_| 0).unwrap()),
        ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]
    );
    // Largest: heaviest last-in-list first; priority 20 always last.
    assert_eq!(
        ports_hosts(&l.targets(&mut |b| b - 1).unwrap()),
        ["192.0.2.3", "192.0.2.2", "192.0.2.1", "192.0.2.4"]
    );
    // A scripted sequence: 11 of 0..=100 picks b (running sums 10, 30, 100); then of a, c
    // (sums 10, 80) 50 picks c.
    let mut seq = [11u32, 50, 0, 0].into_iter();
    assert_eq!(
        ports_hosts(&l.targets(&mut |_| seq.next().unwrap_or(0)).unwrap()),
        ["192.0.2.2", "192.0.2.3", "192.0.2.1", "192.0.2.4"]
    );
    // Every target of the list is TLS with the URI domain as server name.
    assert!(l
        .targets(&mut |_| 0)
        .unwrap()
        .iter()
        .all(|x| x.transport == Tls && x.server_name == "example.com" && x.addr.port() == 5061));
}

#[test]
fn srv_weights_hold_over_many_draws() {
    let mut w = World::new(weighted_zone());
    let mut l = Lookup::for_uri(b"sips:example.com", &Policy::default()).unwrap();
    w.drive(&mut l);
    let mut state: u64 = 42;
    let mut rng = move |bound: u32| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (((state >> 33) * u64::from(bound)) >> 31) as u32
    };
    let mut first_c = 0;
    for _ in 0..2_000 {
        let v = l.targets(&mut rng).unwrap();
        if v[0].addr.ip() == IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3)) {
            first_c += 1;
        }
        assert_eq!(v[3].addr.ip(), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 4)));
    }
    assert!((1_300..1_500).contains(&first_c), "{first_c}");
}

#[test]
fn srv_dot_target_declines_the_service() {
    let zone = Zone::new()
        .srv("_sips._tcp.example.com", &[(0, 0, 0, ".")])
        .a("example.com", &["192.0.2.7"]);
    let mut w = World::new(zone);
    assert_eq!(w.resolve("sips:example.com"), Err(ResolveError::Declined));
    // No A fallback was attempted.
    assert!(w.take_net().iter().all(|x| x.1 != A));
    // A "." among real records is just ignored.
    let zone = Zone::new()
        .srv(
            "_sips._tcp.example.com",
            &[(0, 0, 0, "."), (1, 0, 5061, "h.example.com")],
        )
        .a("h.example.com", &["192.0.2.8"]);
    let mut w = World::new(zone);
    assert_eq!(
        w.resolve("sips:example.com").unwrap(),
        [t(Tls, "192.0.2.8:5061", "example.com")]
    );
}

#[test]
fn duplicates_and_limits() {
    let zone = Zone::new()
        .srv(
            "_sip._udp.example.com",
            &[
                (1, 0, 5060, "h1.example.com"),
                (2, 0, 5060, "h1.example.com"),
                (3, 0, 5060, "h2.example.com"),
                (4, 0, 5060, "h3.example.com"),
            ],
        )
        .a("h1.example.com", &["192.0.2.1", "192.0.2.1", "192.0.2.11"])
        .a("h2.example.com", &["192.0.2.2"])
        .a("h3.example.com", &["192.0.2.3"]);
    let mut w = World::new(zone);
    assert_eq!(
        ports_hosts(&w.resolve("sip:example.com;transport=udp").unwrap()),
        ["192.0.2.1", "192.0.2.11", "192.0.2.2", "192.0.2.3"]
    );
    let p = Policy {
        max_hosts: 2,
        max_targets: 2,
        ..Policy::default()
    };
    w.cache.clear();
    w.take_net();
    assert_eq!(
        ports_hosts(&w.resolve_with("sip:example.com;transport=udp", &p).unwrap()),
        ["192.0.2.1", "192.0.2.11"]
    );
    assert!(
        !w.take_net().iter().any(|x| x.0 == "h3.example.com"),
        "hosts past max_hosts are not resolved"
    );
}

// ---- failures and negatives -----------------------------------------------------------

#[test]
fn nothing_anywhere_is_not_found() {
    let mut w = World::new(Zone::new());
    assert_eq!(
        w.resolve("sip:nowhere.example"),
        Err(ResolveError::NotFound)
    );
    assert_eq!(
        w.resolve("sip:nowhere.example:5060"),
        Err(ResolveError::NotFound)
    );
    assert!(!ResolveError::NotFound.is_temporary());
    assert_eq!(ResolveError::NotFound.status(), 503);
}

#[test]
fn failed_srv_does_not_fall_back_to_a() {
    let zone = Zone::new()
        .set("_sips._tcp.example.com", SRV, Answer::Failed)
        .a("example.com", &["192.0.2.7"]);
    let mut w = World::new(zone);
    let r = w.resolve("sips:example.com");
    assert_eq!(r, Err(ResolveError::Unavailable));
    assert!(ResolveError::Unavailable.is_temporary());
    assert!(w.take_net().iter().all(|x| x.1 != A));
}

#[test]
fn failed_naptr_still_tries_srv() {
    let zone = Zone::new()
        .set("example.com", NAPTR, Answer::Failed)
        .srv("_sips._tcp.example.com", &[(0, 0, 5061, "h.example.com")])
        .a("h.example.com", &["192.0.2.8"]);
    let mut w = World::new(zone);
    assert_eq!(
        w.resolve("sips:example.com").unwrap(),
        [t(Tls, "192.0.2.8:5061", "example.com")]
    );
}

#[test]
fn failed_address_lookup_is_unavailable() {
    let zone = Zone::new().set("gw.example.net", A, Answer::Failed).set(
        "gw.example.net",
        Aaaa,
        Answer::Failed,
    );
    let mut w = World::new(zone);
    assert_eq!(
        w.resolve("sip:gw.example.net:5060"),
        Err(ResolveError::Unavailable)
    );
    // One family failing while the other answers still gives targets.
    let zone =
        Zone::new()
            .a("gw.example.net", &["192.0.2.1"])
            .set("gw.example.net", Aaaa, Answer::Failed);
    let mut w = World::new(zone);
    assert_eq!(w.resolve("sip:gw.example.net:5060").unwrap().len(), 1);
}

// ---- cache ----------------------------------------------------------------------------

#[test]
fn second_lookup_comes_from_the_cache_until_the_cap() {
    let zone = Zone::new().a("sip.pstnhub.microsoft.com", &["52.114.148.0"]);
    let mut w = World::new(zone);
    // A records with a one-day TTL.
    if let Some(Answer::Records(rs)) = w.zone.map.get_mut(&q("sip.pstnhub.microsoft.com", A)) {
        rs[0].ttl = 86_400;
    }
    let uri = "sip:sip.pstnhub.microsoft.com:5061;transport=tls";
    let first = w.resolve(uri).unwrap();
    assert_eq!(w.take_net().len(), 2);
    // Within 15 minutes: no DNS at all (AAAA NODATA is cached negatively for 30 s, so ask
    // within that).
    w.now += Duration::from_secs(20);
    assert_eq!(w.resolve(uri).unwrap(), first);
    assert!(w.take_net().is_empty());
    // After 30 s the negative AAAA entry is gone, the positive A entry is not.
    w.now += Duration::from_secs(20);
    w.resolve(uri).unwrap();
    assert_eq!(w.take_net(), net(&[("sip.pstnhub.microsoft.com", Aaaa)]));
    // At 900 s the A entry expires despite its one-day TTL (TI-3).
    w.now += Duration::from_secs(900 - 40 - 1);
    w.resolve(uri).unwrap();
    assert!(!w
        .take_net()
        .contains(&("sip.pstnhub.microsoft.com".into(), A)));
    w.now += Duration::from_secs(1);
    w.resolve(uri).unwrap();
    assert!(w
        .take_net()
        .contains(&("sip.pstnhub.microsoft.com".into(), A)));
}

#[test]
fn negative_answers_are_cached() {
    let zone = Zone::new().a("example.com", &["192.0.2.7"]);
    let mut w = World::new(zone);
    w.resolve("sips:example.com").unwrap();
    assert_eq!(w.take_net().len(), 4);
    w.now += Duration::from_secs(10);
    w.resolve("sips:example.com").unwrap();
    assert!(w.take_net().is_empty(), "NXDOMAIN NAPTR/SRV cached");
    w.now += Duration::from_secs(25);
    w.resolve("sips:example.com").unwrap();
    assert_eq!(
        w.take_net(),
        net(&[
            ("example.com", NAPTR),
            ("_sips._tcp.example.com", SRV),
            ("example.com", Aaaa)
        ])
    );
}

#[test]
fn refresh_margin_re_asks_entries_near_expiry() {
    let mut w = World::new(Zone::new().a("gw.example.net", &["192.0.2.1"]));
    let uri = b"sip:gw.example.net:5060";
    let p = Policy {
        ip: IpPolicy::V4Only,
        ..Policy::default()
    };
    let mut l = Lookup::for_uri(uri, &p).unwrap();
    w.drive(&mut l);
    assert_eq!(w.take_net().len(), 1);
    // 250 s later the entry (TTL 300) has 50 s left.
    w.now += Duration::from_secs(250);
    let mut l = Lookup::for_uri(uri, &p).unwrap();
    w.drive_with(&mut l, Duration::from_secs(30));
    assert!(w.take_net().is_empty());
    let mut l = Lookup::for_uri(uri, &p).unwrap();
    w.drive_with(&mut l, Duration::from_secs(60));
    assert_eq!(w.take_net(), net(&[("gw.example.net", A)]));
    assert_eq!(
        w.cache.next_refresh(l.asked(), Duration::from_secs(60)),
        Some(w.now + Duration::from_secs(240))
    );
}

#[test]
fn serve_stale_keeps_calls_flowing_when_dns_fails() {
    let mut w = World::new(Zone::new().a("gw.example.net", &["192.0.2.1"]));
    let p = Policy {
        ip: IpPolicy::V4Only,
        ..Policy::default()
    };
    w.resolve_with("sip:gw.example.net:5060", &p).unwrap();
    w.zone = Zone::new().set("gw.example.net", A, Answer::Failed);
    w.now += Duration::from_secs(400);
    assert_eq!(
        w.resolve_with("sip:gw.example.net:5060", &p).unwrap(),
        [t(Udp, "192.0.2.1:5060", "gw.example.net")]
    );
    assert_eq!(w.take_net().len(), 2);
}

// ---- static entries -------------------------------------------------------------------

#[test]
fn static_host_overrides_dns() {
    // DNS would say otherwise; the static entry wins and DNS is never asked.
    let zone = Zone::new()
        .naptr("pbx.lab", &[(1, 1, "S", "SIP+D2U", "_sip._udp.pbx.lab")])
        .a("pbx.lab", &["203.0.113.1"]);
    let mut w = World::new(zone);
    w.statics.add_host(
        n("pbx.lab"),
        [
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ],
    );
    assert_eq!(
        w.resolve("sip:pbx.lab").unwrap(),
        [
            t(Udp, "127.0.0.1:5060", "pbx.lab"),
            t(Udp, "[::1]:5060", "pbx.lab")
        ]
    );
    assert_eq!(
        w.resolve("sip:PBX.lab:5070;transport=tcp").unwrap(),
        [
            t(Tcp, "127.0.0.1:5070", "pbx.lab"),
            t(Tcp, "[::1]:5070", "pbx.lab")
        ]
    );
    assert!(w.take_net().is_empty());
    // Static answers are not cached (configuration reload replaces them).
    assert!(w.cache.is_empty());
}

#[test]
fn static_srv_overrides_dns() {
    let mut w = World::new(Zone::new().a("real.example", &["192.0.2.50"]));
    let d = n("lab.example");
    w.statics.add_srv(
        &d,
        Tls,
        vec![
            Srv::new(10, 0, 5061, n("gw1.lab.example")),
            Srv::new(20, 0, 5061, n("real.example")),
        ],
    );
    w.statics
        .add_host(n("gw1.lab.example"), [IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    assert_eq!(
        w.resolve("sip:lab.example").unwrap(),
        [
            t(Tls, "127.0.0.1:5061", "lab.example"),
            t(Tls, "192.0.2.50:5061", "lab.example")
        ]
    );
    // Only the SRV target without a static entry went to DNS.
    assert_eq!(
        w.take_net(),
        net(&[("real.example", A), ("real.example", Aaaa)])
    );
}

// ---- IPv6 policy ----------------------------------------------------------------------

#[test]
fn ip_family_policy() {
    let zone = || {
        Zone::new()
            .a("gw.example.net", &["192.0.2.1"])
            .aaaa("gw.example.net", &["2001:db8::1"])
    };
    let uri = "sip:gw.example.net:5060";
    let with = |ip| Policy {
        ip,
        ..Policy::default()
    };

    let mut w = World::new(zone());
    assert_eq!(
        ports_hosts(&w.resolve_with(uri, &with(IpPolicy::PreferV6)).unwrap()),
        ["2001:db8::1", "192.0.2.1"]
    );
    assert_eq!(
        w.take_net(),
        net(&[("gw.example.net", Aaaa), ("gw.example.net", A)])
    );

    let mut w = World::new(zone());
    assert_eq!(
        ports_hosts(&w.resolve_with(uri, &with(IpPolicy::V6Only)).unwrap()),
        ["2001:db8::1"]
    );
    assert_eq!(w.take_net(), net(&[("gw.example.net", Aaaa)]));

    let mut w = World::new(zone());
    assert_eq!(
        ports_hosts(&w.resolve_with(uri, &with(IpPolicy::V4Only)).unwrap()),
        ["192.0.2.1"]
    );

    // IPv6-only host under PreferV4.
    let mut w = World::new(Zone::new().aaaa("v6.example.net", &["2001:db8::6"]));
    assert_eq!(
        w.resolve("sips:v6.example.net:5061").unwrap(),
        [t(Tls, "[2001:db8::6]:5061", "v6.example.net")]
    );
}

// ---- maddr ----------------------------------------------------------------------------

#[test]
fn maddr_overrides_the_host() {
    let mut w = World::new(Zone::new().a("proxy.example.org", &["192.0.2.99"]));
    assert_eq!(
        w.resolve("sip:bob@example.com;maddr=192.0.2.9").unwrap(),
        [t(Udp, "192.0.2.9:5060", "example.com")]
    );
    assert_eq!(
        w.resolve("sip:bob@example.com:5070;maddr=[2001:db8::9];transport=tcp")
            .unwrap(),
        [t(Tcp, "[2001:db8::9]:5070", "example.com")]
    );
    assert_eq!(
        w.resolve("sip:bob@example.com:5060;maddr=proxy.example.org")
            .unwrap(),
        [t(Udp, "192.0.2.99:5060", "example.com")]
    );
    assert_eq!(
        w.resolve("sip:192.0.2.1:5060;maddr=proxy.example.org")
            .unwrap(),
        [t(Udp, "192.0.2.99:5060", "proxy.example.org")]
    );
    assert!(w.take_net().iter().all(|x| x.0 == "proxy.example.org"));
}

// ---- target errors and API edges -------------------------------------------------------

#[test]
fn target_errors() {
    let p = Policy::default();
    let err = |u: &str, p: &Policy| Lookup::for_uri(u.as_bytes(), p).unwrap_err();
    assert_eq!(err("tel:+15551234567", &p), TargetError::NotSip);
    assert_eq!(err("mailto:a@b", &p), TargetError::NotSip);
    assert_eq!(err("sip:", &p), TargetError::BadUri);
    assert_eq!(
        err("sip:example.com;transport=sctp", &p),
        TargetError::UnsupportedTransport
    );
    assert_eq!(
        err("sip:example.com;transport=ws", &p),
        TargetError::UnsupportedTransport
    );
    assert_eq!(
        err("sips:example.com;transport=udp", &p),
        TargetError::SecureOverUdp
    );
    assert_eq!(err("sip:example.com;maddr=a!b", &p), TargetError::BadMaddr);
    let no_udp = Policy {
        transports: TransportPrefs::new(&[Tcp, Tls]),
        ..Policy::default()
    };
    assert_eq!(
        err("sip:example.com;transport=udp", &no_udp),
        TargetError::TransportNotAllowed(Udp)
    );
    let plain = Policy {
        transports: TransportPrefs::new(&[Udp, Tcp]),
        ..Policy::default()
    };
    assert_eq!(
        err("sips:example.com", &plain),
        TargetError::TransportNotAllowed(Tls)
    );
    let none = Policy {
        transports: TransportPrefs::new(&[]),
        ..Policy::default()
    };
    assert_eq!(err("sip:192.0.2.1", &none), TargetError::NoTransport);
    for e in [
        TargetError::BadUri,
        TargetError::NotSip,
        TargetError::BadHost(NameError::Empty),
        TargetError::BadMaddr,
        TargetError::UnsupportedTransport,
        TargetError::SecureOverUdp,
        TargetError::TransportNotAllowed(Tls),
        TargetError::NoTransport,
    ] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn target_spec_from_uri() {
    let s = TargetSpec::parse(b"sips:Alice@Sip.Example.COM:5061;transport=TCP").unwrap();
    assert_eq!(s.host, HostSpec::Domain(n("sip.example.com")));
    assert_eq!(s.port, Some(5061));
    assert_eq!(s.transport, Some(Tls));
    assert!(s.secure);
    assert_eq!(s.server_name, "sip.example.com");
    // Trailing dot is canonicalised away.
    let s = TargetSpec::parse(b"sip:example.com.").unwrap();
    assert_eq!(s.server_name, "example.com");
}

#[test]
fn api_edges() {
    let p = Policy::default();
    let mut l = Lookup::for_uri(b"sip:example.com", &p).unwrap();
    assert_eq!(l.targets(&mut |_| 0), Err(ResolveError::Incomplete));
    assert_eq!(l.asked(), [q("example.com", NAPTR)]);
    assert!(l.pending().is_empty());
    let first = l.poll_query().unwrap();
    assert_eq!(l.pending(), std::slice::from_ref(&first));
    assert!(l.poll_query().is_none(), "one phase at a time");
    // An answer to a question not asked is refused.
    assert!(!l.handle_answer(&q("other.example", NAPTR), &Answer::Failed));
    assert!(l.handle_answer(&first, &Answer::NxDomain { negative_ttl: None }));
    assert!(!l.handle_answer(&first, &Answer::NxDomain { negative_ttl: None }));
    // Three SRV questions are out together.
    let srvs: Vec<_> = std::iter::from_fn(|| l.poll_query()).collect();
    assert_eq!(srvs.len(), 3);
    assert_eq!(l.spec().server_name, "example.com");
    // Records of the wrong type are ignored.
    for s in &srvs {
        let junk = Answer::Records(vec![Record::new(1, RData::A(Ipv4Addr::LOCALHOST))]);
        assert!(l.handle_answer(s, &junk));
    }
    let a = l.poll_query().unwrap();
    assert_eq!(a, q("example.com", A));
    assert!(!l.is_done());
    assert!(l.handle_answer(&a, &Answer::Records(vec![])));
    let aaaa = l.poll_query().unwrap();
    l.handle_answer(&aaaa, &Answer::NoData { negative_ttl: None });
    assert!(l.is_done());
    assert_eq!(l.targets(&mut |_| 0), Err(ResolveError::NotFound));
    assert!(!ResolveError::Incomplete.to_string().is_empty());
}
