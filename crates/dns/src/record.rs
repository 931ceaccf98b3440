//! The vocabulary between the procedure and whatever answers its questions: [`Query`] out,
//! [`Answer`] in.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::name::Name;

/// The record types RFC 3263 needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    /// IPv4 address (RFC 1035).
    A,
    /// IPv6 address (RFC 3596).
    Aaaa,
    /// Service location (RFC 2782).
    Srv,
    /// Naming authority pointer (RFC 3403).
    Naptr,
}

impl RecordType {
    /// The mnemonic (`A`, `AAAA`, `SRV`, `NAPTR`).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Srv => "SRV",
            RecordType::Naptr => "NAPTR",
        }
    }
}

/// One DNS question the procedure needs answered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Query {
    /// The owner name asked for.
    pub name: Name,
    /// The record type asked for.
    pub rtype: RecordType,
}

impl Query {
    /// A question.
    pub fn new(name: Name, rtype: RecordType) -> Query {
        Query { name, rtype }
    }
}

/// An SRV record's data (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Srv {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative share among records of one priority.
    pub weight: u16,
    /// The port to connect to.
    pub port: u16,
    /// The host; the root (`.`) means the service is decidedly not available.
    pub target: Name,
}

impl Srv {
    /// An SRV record's data.
    pub fn new(priority: u16, weight: u16, port: u16, target: Name) -> Srv {
        Srv {
            priority,
            weight,
            port,
            target,
        }
    }
}

/// A NAPTR record's data (RFC 3403 §4.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Naptr {
    /// Lower is used first.
    pub order: u16,
    /// Lower is preferred among records of one order.
    pub preference: u16,
    /// `S` (the replacement names an SRV record) is the only flag RFC 3263 uses.
    pub flags: String,
    /// `SIP+D2U`, `SIP+D2T`, `SIPS+D2T`, ...
    pub services: String,
    /// Must be empty for SIP (RFC 3263 §4.1 uses the replacement).
    pub regexp: String,
    /// The SRV owner name to look up next.
    pub replacement: Name,
}

/// Record data of one of the [`RecordType`]s.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A service location.
    Srv(Srv),
    /// A naming authority pointer.
    Naptr(Naptr),
}

/// One answer record: its data and its TTL in seconds. The owner name is not kept: records
/// answer the [`Query`] they came with (a CNAME chain followed by the resolver included).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Record {
    /// Time to live, seconds.
    pub ttl: u32,
    /// The data.
    pub data: RData,
}

impl Record {
    /// A record.
    pub fn new(ttl: u32, data: RData) -> Record {
        Record { ttl, data }
    }
}

/// The outcome of one [`Query`], fed back into the procedure and the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// NOERROR with records (an empty list is treated as [`Answer::NoData`]).
    Records(Vec<Record>),
    /// NOERROR without records of that type (NODATA). `negative_ttl` is the SOA minimum when
    /// the server sent one (RFC 2308 §5).
    NoData {
        /// Negative TTL from the SOA, seconds.
        negative_ttl: Option<u32>,
    },
    /// NXDOMAIN: the name does not exist.
    NxDomain {
        /// Negative TTL from the SOA, seconds.
        negative_ttl: Option<u32>,
    },
    /// SERVFAIL, REFUSED, timeout, or any other failure to get an answer. Never proof that a
    /// name is absent: the procedure reports [`crate::ResolveError::Unavailable`] when it ends
    /// with no target and some query failed.
    Failed,
}

impl Answer {
    /// The records, empty for the negative and failed outcomes.
    pub fn records(&self) -> &[Record] {
        match self {
            Answer::Records(r) => r,
            _ => &[],
        }
    }

    /// True for [`Answer::Records`] with at least one record.
    pub fn is_positive(&self) -> bool {
        !self.records().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_helpers() {
        let a = Answer::Records(vec![Record::new(5, RData::A(Ipv4Addr::LOCALHOST))]);
        assert!(a.is_positive());
        assert_eq!(a.records().len(), 1);
        assert!(!Answer::Records(vec![]).is_positive());
        assert!(!Answer::Failed.is_positive());
        assert!(Answer::NoData { negative_ttl: None }.records().is_empty());
        assert_eq!(RecordType::Aaaa.as_str(), "AAAA");
        assert_eq!(RecordType::Naptr.as_str(), "NAPTR");
        assert_eq!(RecordType::Srv.as_str(), "SRV");
        assert_eq!(RecordType::A.as_str(), "A");
    }
}
