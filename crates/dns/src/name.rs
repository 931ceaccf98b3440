//! Domain names as the resolver keys them, and the SIP transports that RFC 3263 selects.

use std::fmt;

/// A domain name in canonical form: ASCII lowercase, no trailing dot. The root (`.`) is the
/// empty name; it appears only as an SRV target or NAPTR replacement meaning "none".
///
/// Two spellings of one name (`Sip.Example.COM.` and `sip.example.com`) give equal `Name`s, so
/// the cache and the static table match them (DNS names compare case-insensitively, RFC 4343).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

/// Why a string is not a usable domain name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// The input was empty.
    Empty,
    /// Longer than 253 octets (RFC 1035 §2.3.4, in text form without the trailing dot).
    TooLong,
    /// Two dots in a row, or a leading dot.
    EmptyLabel,
    /// A label longer than 63 octets.
    LabelTooLong,
    /// A byte other than a letter, digit, `-` or `_` (`_` for SRV owner labels).
    BadChar(u8),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => f.write_str("empty domain name"),
            NameError::TooLong => f.write_str("domain name longer than 253 octets"),
            NameError::EmptyLabel => f.write_str("empty label in domain name"),
            NameError::LabelTooLong => f.write_str("label longer than 63 octets"),
            NameError::BadChar(b) => write!(f, "byte 0x{b:02x} not allowed in a domain name"),
        }
    }
}

impl std::error::Error for NameError {}

impl Name {
    /// Longest name in text form, without the trailing dot.
    pub const MAX_LEN: usize = 253;
    /// Longest label.
    pub const MAX_LABEL: usize = 63;

    /// The root name (`.`).
    pub fn root() -> Name {
        Name(String::new())
    }

    /// Parses a name from text; see [`Name::from_bytes`].
    pub fn parse(s: &str) -> Result<Name, NameError> {
        Name::from_bytes(s.as_bytes())
    }

    /// Parses a name: letters, digits, `-` and `_`, labels of 1 to 63 octets, at most 253 in
    /// all; one trailing dot is accepted and dropped; `.` alone is the root. Letters are folded
    /// to lowercase.
    pub fn from_bytes(b: &[u8]) -> Result<Name, NameError> {
        if b.is_empty() {
            return Err(NameError::Empty);
        }
        if b == b"." {
            return Ok(Name::root());
        }
        let b = b.strip_suffix(b".").unwrap_or(b);
        if b.len() > Name::MAX_LEN {
            return Err(NameError::TooLong);
        }
        for label in b.split(|&c| c == b'.') {
            if label.is_empty() {
                return Err(NameError::EmptyLabel);
            }
            if label.len() > Name::MAX_LABEL {
                return Err(NameError::LabelTooLong);
            }
            if let Some(&c) = label
                .iter()
                .find(|&&c| !(c.is_ascii_alphanumeric() || c == b'-' || c == b'_'))
            {
                return Err(NameError::BadChar(c));
            }
        }
        // Every byte is ASCII (checked above), so this cannot fail.
        let s = String::from_utf8_lossy(b).to_ascii_lowercase();
        Ok(Name(s))
    }

    /// The name in text form without the trailing dot (empty for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for the root name (`.`).
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The fully qualified text form, with the trailing dot (`.` for the root): what a stub
    /// resolver should be asked, so no search domain is appended.
    pub fn to_fqdn(&self) -> String {
        let mut s = String::with_capacity(self.0.len() + 1);
        s.push_str(&self.0);
        s.push('.');
        s
    }

    /// The SRV owner name for SIP over `transport` at this domain (RFC 3263 §4.2:
    /// `_sip._udp`, `_sip._tcp`, `_sips._tcp`).
    pub fn srv_owner(&self, transport: Transport) -> Name {
        Name(format!("{}.{}", transport.srv_prefix(), self.0))
    }

    /// For an SRV owner name (`_service._proto.domain`), the domain; `None` otherwise.
    pub fn srv_domain(&self) -> Option<Name> {
        let mut it = self.0.splitn(3, '.');
        let service = it.next()?;
        let proto = it.next()?;
        let domain = it.next()?;
        (service.starts_with('_') && proto.starts_with('_') && !domain.is_empty())
            .then(|| Name(domain.to_owned()))
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            f.write_str(".")
        } else {
            f.write_str(&self.0)
        }
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

impl std::str::FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Name, NameError> {
        Name::parse(s)
    }
}

/// A SIP transport the SBC can open (RFC 3261 §18). SCTP and WebSocket are recognised in
/// URIs and NAPTR services but are not transports of this SBC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl Transport {
    /// All transports, in declaration order.
    pub const ALL: [Transport; 3] = [Transport::Udp, Transport::Tcp, Transport::Tls];

    /// The default port (RFC 3261 §19.1.2, RFC 3263 §4.2): 5061 for TLS, 5060 otherwise.
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Tls => 5061,
            Transport::Udp | Transport::Tcp => 5060,
        }
    }

    /// The SRV service and protocol labels (RFC 3263 §4.2).
    pub fn srv_prefix(self) -> &'static str {
        match self {
            Transport::Udp => "_sip._udp",
            Transport::Tcp => "_sip._tcp",
            Transport::Tls => "_sips._tcp",
        }
    }

    /// The `transport` URI parameter value (lowercase) and Via token (uppercase) stem.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }

    /// Whether this is a stream transport (TCP or TLS).
    pub fn is_stream(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The transport a NAPTR service field names (RFC 3263 §4.1, RFC 3403), and whether the
    /// service is a SIPS one. `None` for services this SBC cannot use (`SIP+D2S` for SCTP,
    /// `SIP+D2W`/`SIPS+D2W` for WebSocket, anything else).
    pub fn from_naptr_service(service: &str) -> Option<(Transport, bool)> {
        let s = service.as_bytes();
        if s.eq_ignore_ascii_case(b"SIP+D2U") {
            Some((Transport::Udp, false))
        } else if s.eq_ignore_ascii_case(b"SIP+D2T") {
            Some((Transport::Tcp, false))
        } else if s.eq_ignore_ascii_case(b"SIPS+D2T") {
            Some((Transport::Tls, true))
        } else {
            None
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_canonical() {
        let a = Name::parse("Sip.PSTNHub.Microsoft.COM.").unwrap();
        let b = Name::parse("sip.pstnhub.microsoft.com").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "sip.pstnhub.microsoft.com");
        assert_eq!(a.to_fqdn(), "sip.pstnhub.microsoft.com.");
        assert_eq!(a.to_string(), "sip.pstnhub.microsoft.com");
    }

    #[test]
    fn root_and_errors() {
        assert!(Name::parse(".").unwrap().is_root());
        assert_eq!(Name::root().to_string(), ".");
        assert_eq!(Name::root().to_fqdn(), ".");
        assert_eq!(Name::parse(""), Err(NameError::Empty));
        assert_eq!(Name::parse("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(Name::parse(".a"), Err(NameError::EmptyLabel));
        assert_eq!(Name::parse("a.b.."), Err(NameError::EmptyLabel));
        assert_eq!(Name::parse("a b"), Err(NameError::BadChar(b' ')));
        assert_eq!(Name::parse("a\u{e9}"), Err(NameError::BadChar(0xc3)));
        assert_eq!(Name::parse(&"a".repeat(64)), Err(NameError::LabelTooLong));
        assert!(Name::parse(&"a".repeat(63)).is_ok());
        let long = vec!["abcdefghi"; 26].join(".");
        assert_eq!(long.len(), 259);
        assert_eq!(Name::parse(&long), Err(NameError::TooLong));
        assert!(Name::parse("_sips._tcp.example.com").is_ok());
        assert_eq!("x.example".parse::<Name>().unwrap().as_str(), "x.example");
        assert!(!NameError::BadChar(b' ').to_string().is_empty());
    }

    #[test]
    fn srv_owner_round_trip() {
        let d = Name::parse("example.com").unwrap();
        let o = d.srv_owner(Transport::Tls);
        assert_eq!(o.as_str(), "_sips._tcp.example.com");
        assert_eq!(o.srv_domain(), Some(d.clone()));
        assert_eq!(
            d.srv_owner(Transport::Udp).as_str(),
            "_sip._udp.example.com"
        );
        assert_eq!(
            d.srv_owner(Transport::Tcp).as_str(),
            "_sip._tcp.example.com"
        );
        assert_eq!(d.srv_domain(), None);
        assert_eq!(Name::parse("_a.b.c").unwrap().srv_domain(), None);
        assert_eq!(Name::parse("_a._b").unwrap().srv_domain(), None);
    }

    #[test]
    fn transports() {
        assert_eq!(Transport::Tls.default_port(), 5061);
        assert_eq!(Transport::Udp.default_port(), 5060);
        assert_eq!(Transport::Tcp.default_port(), 5060);
        assert!(Transport::Tcp.is_stream() && !Transport::Udp.is_stream());
        assert_eq!(
            Transport::from_naptr_service("sip+d2u"),
            Some((Transport::Udp, false))
        );
        assert_eq!(
            Transport::from_naptr_service("SIP+D2T"),
            Some((Transport::Tcp, false))
        );
        assert_eq!(
            Transport::from_naptr_service("SIPS+D2T"),
            Some((Transport::Tls, true))
        );
        assert_eq!(Transport::from_naptr_service("SIP+D2S"), None);
        assert_eq!(Transport::from_naptr_service("SIPS+D2W"), None);
        assert_eq!(Transport::from_naptr_service("E2U+sip"), None);
        assert_eq!(Transport::Tls.to_string(), "tls");
    }
}
