//! Source address filters, checked before any byte of a message is parsed (UDP) and before
//! the TLS handshake (streams): TI-4, resilience #3.

use core::fmt;
use core::str::FromStr;
use std::net::IpAddr;

/// An IPv4 or IPv6 network in CIDR form (`52.112.0.0/14`, `2603:1063::/40`, or a bare
/// address for a single host). Host bits are cleared on construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

/// Why a CIDR string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrError(pub String);

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid CIDR {:?}", self.0)
    }
}

impl std::error::Error for CidrError {}

impl Cidr {
    /// A network from an address and a prefix length (at most 32 for IPv4, 128 for IPv6).
    /// IPv4-mapped IPv6 addresses are stored as IPv4 (with the prefix shortened by 96).
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) if prefix >= 96 => (IpAddr::V4(v4), prefix - 96),
                _ => (addr, prefix),
            },
            IpAddr::V4(_) => (addr, prefix),
        };
        let net = match addr {
            IpAddr::V4(v4) if prefix <= 32 => IpAddr::V4((u32::from(v4) & mask32(prefix)).into()),
            IpAddr::V6(v6) if prefix <= 128 => {
                IpAddr::V6((u128::from(v6) & mask128(prefix)).into())
            }
            _ => return None,
        };
        Some(Cidr { net, prefix })
    }

    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.net
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// True when `ip` is inside this network (IPv4-mapped IPv6 addresses match IPv4
    /// networks).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => u32::from(a) & mask32(self.prefix) == u32::from(n),
            (IpAddr::V6(n), IpAddr::V6(a)) => u128::from(a) & mask128(self.prefix) == u128::from(n),
            _ => false,
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

fn mask128(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let err = || CidrError(s.to_owned());
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => {
                let addr: IpAddr = a.trim().parse().map_err(|_| err())?;
                let p = p.trim();
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err());
                }
                (addr, p.parse::<u8>().map_err(|_| err())?)
            }
            None => {
                let addr: IpAddr = s.trim().parse().map_err(|_| err())?;
                let full = if addr.is_ipv4() { 32 } else { 128 };
                (addr, full)
            }
        };
        Cidr::new(addr, prefix).ok_or_else(err)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// Allow and deny lists. A source is admitted when no deny entry matches and either the
/// allow list is empty or an allow entry matches (deny wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl {
    /// Networks admitted; empty admits every source not denied.
    pub allow: Vec<Cidr>,
    /// Networks refused, whatever `allow` says.
    pub deny: Vec<Cidr>,
}

impl Acl {
    /// Admits everything.
    pub fn allow_all() -> Acl {
        Acl::default()
    }

    /// Admits only these networks.
    pub fn allow_only(allow: impl IntoIterator<Item = Cidr>) -> Acl {
        Acl {
            allow: allow.into_iter().collect(),
            deny: Vec::new(),
        }
    }

    /// Parses allow and deny lists of CIDR strings.
    pub fn parse<'a>(
        allow: impl IntoIterator<Item = &'a str>,
        deny: impl IntoIterator<Item = &'a str>,
    ) -> Result<Acl, CidrError> {
        Ok(Acl {
            allow: allow
                .into_iter()
                .map(str::parse)
                .collect::<Result<_, _>>()?,
            deny: deny.into_iter().map(str::parse).collect::<Result<_, _>>()?,
        })
    }

    /// True when `ip` may talk to the listener.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        if self.deny.iter().any(|c| c.contains(ip)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|c| c.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_contains() {
        let c: Cidr = "52.112.0.0/14".parse().unwrap();
        assert!(c.contains(ip("52.112.0.1")));
        assert!(c.contains(ip("52.115.255.255")));
        assert!(!c.contains(ip("52.116.0.0")));
        assert!(c.contains(ip("::ffff:52.113.1.1")));
        assert!(!c.contains(ip("2001:db8::1")));

        let c: Cidr = "2603:1063::/40".parse().unwrap();
        assert!(c.contains(ip("2603:1063:00ff::1")));
        assert!(!c.contains(ip("2603:1063:0100::1")));
        assert!(!c.contains(ip("52.112.0.1")));

        let host: Cidr = "10.1.2.3".parse().unwrap();
        assert_eq!(host.prefix(), 32);
        assert!(host.contains(ip("10.1.2.3")));
        assert!(!host.contains(ip("10.1.2.4")));

        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("1.2.3.4")));
        let all6: Cidr = "::/0".parse().unwrap();
        assert!(all6.contains(ip("2001:db8::1")));

        // Host bits are cleared.
        let c: Cidr = "192.168.1.77/24".parse().unwrap();
        assert_eq!(c.to_string(), "192.168.1.0/24");
        // Mapped networks become IPv4.
        let c: Cidr = "::ffff:10.0.0.0/104".parse().unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/8");
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "",
            "1.2.3.4/33",
            "::/129",
            "1.2.3/8",
            "1.2.3.4/",
            "1.2.3.4/+1",
            "x/8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn acl_rules() {
        assert!(Acl::allow_all().allows(ip("203.0.113.9")));
        let acl = Acl::parse(["52.112.0.0/14", "52.120.0.0/14", "::1"], ["52.113.0.0/16"]).unwrap();
        assert!(acl.allows(ip("52.112.9.9")));
        assert!(acl.allows(ip("52.121.0.1")));
        assert!(!acl.allows(ip("52.113.0.1")), "deny wins");
        assert!(!acl.allows(ip("198.51.100.1")));
        assert!(acl.allows(ip("::1")));
        assert!(acl.allows(ip("::ffff:52.112.0.1")));
        let deny_only = Acl::parse([], ["127.0.0.1/32"]).unwrap();
        assert!(!deny_only.allows(ip("127.0.0.1")));
        assert!(deny_only.allows(ip("127.0.0.2")));
    }
}
