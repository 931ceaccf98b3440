//! Static entries from configuration: they answer before the cache and DNS (labs, tests,
//! pinned gateways).
//!
//! A name with a static host entry, and a domain with a static SRV entry, is answered here for
//! every record type: types with no entry get NODATA. So `sip:pbx.lab` with a host entry never
//! asks DNS for NAPTR or SRV; it falls straight through to the configured addresses.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::name::{Name, Transport};
use crate::record::{Answer, Query, RData, Record, RecordType, Srv};

/// The static table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticEntries {
    hosts: HashMap<Name, Vec<IpAddr>>,
    srv: HashMap<Name, Vec<Srv>>,
    srv_domains: HashSet<Name>,
}

fn no_data() -> Answer {
    Answer::NoData { negative_ttl: None }
}

impl StaticEntries {
    /// An empty table.
    pub fn new() -> StaticEntries {
        StaticEntries::default()
    }

    /// True when there is no entry.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.srv.is_empty()
    }

    /// Adds addresses for `name` (appended to any already there, duplicates dropped).
    pub fn add_host(&mut self, name: Name, addrs: impl IntoIterator<Item = IpAddr>) {
        let v = self.hosts.entry(name).or_default();
        for a in addrs {
            if !v.contains(&a) {
                v.push(a);
            }
        }
    }

    /// Adds SRV records for SIP over `transport` at `domain` (owner `_sip._udp.domain` etc.).
    pub fn add_srv(&mut self, domain: &Name, transport: Transport, records: Vec<Srv>) {
        self.srv_domains.insert(domain.clone());
        self.srv
            .entry(domain.srv_owner(transport))
            .or_default()
            .extend(records);
    }

    /// The configured addresses of `name`, if it has a host entry.
    pub fn host(&self, name: &Name) -> Option<&[IpAddr]> {
        self.hosts.get(name).map(Vec::as_slice)
    }

    fn is_static_domain(&self, name: &Name) -> bool {
        self.hosts.contains_key(name) || self.srv_domains.contains(name)
    }

    /// The static answer to `query`, or `None` when DNS must be asked.
    pub fn answer(&self, query: &Query) -> Option<Answer> {
        let name = &query.name;
        match query.rtype {
            RecordType::A | RecordType::Aaaa => {
                let Some(addrs) = self.hosts.get(name) else {
                    return self.is_static_domain(name).then(no_data);
                };
                let rs: Vec<Record> = addrs
                    .iter()
                    .filter_map(|a| match (a, query.rtype) {
                        (IpAddr::V4(v4), RecordType::A) => Some(RData::A(*v4)),
                        (IpAddr::V6(v6), RecordType::Aaaa) => Some(RData::Aaaa(*v6)),
                        _ => None,
                    })
                    .map(|d| Record::new(0, d))
                    .collect();
                Some(if rs.is_empty() {
                    no_data()
                } else {
                    Answer::Records(rs)
                })
            }
            RecordType::Srv => {
                if let Some(rs) = self.srv.get(name) {
                    return Some(Answer::Records(
                        rs.iter()
                            .map(|s| Record::new(0, RData::Srv(s.clone())))
                            .collect(),
                    ));
                }
                let domain = name.srv_domain()?;
                self.is_static_domain(&domain).then(no_data)
            }
            RecordType::Naptr => self.is_static_domain(name).then(no_data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn n(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    #[test]
    fn host_entries_answer_every_type() {
        let mut st = StaticEntries::new();
        assert!(st.is_empty());
        let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let v6 = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
        st.add_host(n("PBX.lab."), [v4, v6, v4]);
        assert!(!st.is_empty());
        assert_eq!(st.host(&n("pbx.lab")), Some(&[v4, v6][..]));
        let ask = |name: &str, t| st.answer(&Query::new(n(name), t));
        assert_eq!(
            ask("pbx.lab", RecordType::A),
            Some(Answer::Records(vec![Record::new(
                0,
                RData::A(Ipv4Addr::new(10, 0, 0, 1))
            )]))
        );
        assert_eq!(
            ask("pbx.lab", RecordType::Aaaa),
            Some(Answer::Records(vec![Record::new(
                0,
                RData::Aaaa(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1))
            )]))
        );
        assert_eq!(ask("pbx.lab", RecordType::Naptr), Some(no_data()));
        assert_eq!(ask("_sip._udp.pbx.lab", RecordType::Srv), Some(no_data()));
        assert_eq!(ask("other.lab", RecordType::A), None);
        assert_eq!(ask("other.lab", RecordType::Naptr), None);
        assert_eq!(ask("_sip._udp.other.lab", RecordType::Srv), None);
        assert_eq!(ask("x.pbx.lab", RecordType::Srv), None);

        let mut only4 = StaticEntries::new();
        only4.add_host(n("gw"), [v4]);
        assert_eq!(
            only4.answer(&Query::new(n("gw"), RecordType::Aaaa)),
            Some(no_data())
        );
    }

    #[test]
    fn srv_entries() {
        let mut st = StaticEntries::new();
        let d = n("lab.example");
        st.add_srv(
            &d,
            Transport::Tls,
            vec![Srv::new(10, 1, 5061, n("a.lab.example"))],
        );
        st.add_srv(
            &d,
            Transport::Tls,
            vec![Srv::new(20, 1, 5061, n("b.lab.example"))],
        );
        let ask = |name: &str, t| st.answer(&Query::new(n(name), t));
        let Some(Answer::Records(rs)) = ask("_sips._tcp.lab.example", RecordType::Srv) else {
            panic!("static SRV expected");
        };
        assert_eq!(rs.len(), 2);
        assert_eq!(
            ask("_sip._udp.lab.example", RecordType::Srv),
            Some(no_data())
        );
        assert_eq!(ask("lab.example", RecordType::Naptr), Some(no_data()));
        assert_eq!(ask("lab.example", RecordType::A), Some(no_data()));
        // The SRV targets themselves are not static unless given host entries.
        assert_eq!(ask("a.lab.example", RecordType::A), None);
    }
}
