//! The Via header (RFC 3261 §20.42, §18.2.1; RFC 3581 `rport`).
//!
//! ```text
//! via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
//! sent-protocol = protocol-name SLASH protocol-version SLASH transport
//! sent-by       = host [ COLON port ]
//! ```
//!
//! LWS is allowed around every `/`, `:`, `;` and `=` (RFC 4475 wsinv folds a Via over three
//! lines), so the scanner skips LWS (folding included) between every token.

use crate::error::{Syntax, SyntaxError};
use crate::lex::{self, is_token, skip_lws, Params};
use crate::name::HeaderName;
use crate::typed::TypedHeader;

/// The RFC 3261 branch magic cookie (§8.1.1.7).
pub const MAGIC_COOKIE: &[u8] = b"z9hG4bK";

/// One Via value (one comma-separated element of a Via header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// The whole element.
    pub raw: &'a [u8],
    /// `SIP` (case-insensitive in the grammar).
    pub protocol: &'a [u8],
    /// `2.0`.
    pub version: &'a [u8],
    /// `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS` or any other token (RFC 4475 transports).
    pub transport: &'a [u8],
    /// The host of sent-by as written (an IPv6 reference keeps its brackets).
    pub host: &'a [u8],
    /// The port of sent-by.
    pub port: Option<u16>,
    /// The parameters, raw from the first `;`.
    pub params: Params<'a>,
}

impl<'a> Via<'a> {
    /// Parses one Via element.
    pub fn parse(s: &'a [u8]) -> Result<Via<'a>, SyntaxError> {
        Via::parse_find(s, b"").map(|(v, _)| v)
    }

    /// Validates one Via element exactly as [`Via::parse`] does and returns its `branch`
    /// (found while the parameters are validated; no `Via` is handed back).
    pub(crate) fn check_branch(s: &'a [u8]) -> Result<Option<&'a [u8]>, SyntaxError> {
        Via::parse_find(s, b"branch").map(|(_, b)| b)
    }

    /// Parses one Via element and returns the value of its first `want` parameter
    /// (as [`Params::get`] then `flatten` would), found while the parameters are validated.
    #[inline(always)]
    fn parse_find(s: &'a [u8], want: &[u8]) -> Result<(Via<'a>, Option<&'a [u8]>), SyntaxError> {
        let (protocol, version, mut i);
        if s.starts_with(b"SIP/2.0/") {
            // The usual spelling, with no LWS to skip: the general steps below reach the
            // same three positions.
            (protocol, version, i) = (&s[..3], &s[4..7], 8);
        } else {
            i = skip_lws(s, 0);
            let (p, n) = token_at(s, i)?;
            i = expect(s, skip_lws(s, n), b'/')?;
            let (v, n) = version_at(s, skip_lws(s, i))?;
            i = expect(s, skip_lws(s, n), b'/')?;
            (protocol, version) = (p, v);
        }
        let (transport, n) = token_at(s, skip_lws(s, i))?;
        // sent-protocol and sent-by are separated by mandatory LWS.
        let j = skip_lws(s, n);
        if j == n {
            return Err(SyntaxError::new(Syntax::Unexpected, n));
        }
        let (host, n) = host_at(s, j)?;
        i = skip_lws(s, n);
        let mut port = None;
        if s.get(i) == Some(&b':') {
            let ps = skip_lws(s, i + 1);
            let mut pe = ps;
            while pe < s.len() && lex::is_digit(s[pe]) {
                pe += 1;
            }
            port = Some(parse_port(&s[ps..pe]).ok_or(SyntaxError::new(Syntax::BadPort, ps))?);
            i = skip_lws(s, pe);
        }
        let rest = &s[i..];
        let found = lex::validate_params_find(rest, b":[]", want).map_err(|e| e.rebase(i))?;
        Ok((
            Via {
                raw: s,
                protocol,
                version,
                transport,
                host,
                port,
                params: Params::new(rest),
            },
            found,
        ))
    }

    /// The `branch` parameter value.
    pub fn branch(&self) -> Option<&'a [u8]> {
        self.params.get("branch").flatten()
    }

    /// True when the branch starts with the RFC 3261 magic cookie and has more after it
    /// (RFC 4475 badbranch: a bare cookie is not an RFC 3261 transaction id).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE))
    }

    /// `received` (RFC 3261 §18.2.1).
    pub fn received(&self) -> Option<&'a [u8]> {
        self.params.get("received").flatten()
    }

    /// `rport` (RFC 3581): `None` when absent, `Some(None)` when present without a value.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params.get("rport").map(|v| v.and_then(parse_port))
    }

    /// `maddr`.
    pub fn maddr(&self) -> Option<&'a [u8]> {
        self.params.get("maddr").flatten()
    }

    /// `ttl`.
    pub fn ttl(&self) -> Option<u8> {
        self.params
            .get("ttl")
            .flatten()
            .and_then(lex::parse_u32)
            .and_then(|v| u8::try_from(v).ok())
    }

    /// True for transports with reliable delivery (retransmission timers off, RFC 3261 §17).
    pub fn is_reliable(&self) -> bool {
        !self.transport.eq_ignore_ascii_case(b"UDP")
    }
}

impl<'a> TypedHeader<'a> for Via<'a> {
    const NAME: HeaderName = HeaderName::Via;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        Via::parse(value)
    }
}

/// Parses 1–5 digits within 0–65535.
pub fn parse_port(s: &[u8]) -> Option<u16> {
    if s.is_empty() || s.len() > 5 {
        return None;
    }
    lex::parse_u32(s).and_then(|v| u16::try_from(v).ok())
}

fn token_at(s: &[u8], i: usize) -> Result<(&[u8], usize), SyntaxError> {
    let mut e = i;
    while e < s.len() && is_token(s[e]) {
        e += 1;
    }
    if e == i {
        return Err(SyntaxError::new(Syntax::Unexpected, i));
    }
    Ok((&s[i..e], e))
}

fn version_at(s: &[u8], i: usize) -> Result<(&[u8], usize), SyntaxError> {
    // protocol-version is a token; "2.0" in practice.
    token_at(s, i)
}

fn expect(s: &[u8], i: usize, b: u8) -> Result<usize, SyntaxError> {
    if s.get(i) == Some(&b) {
        Ok(i + 1)
    } else {
        Err(SyntaxError::new(Syntax::Unexpected, i))
    }
}

/// Delimits and checks a host: `[IPv6]`, IPv4, or a hostname.
fn host_at(s: &[u8], i: usize) -> Result<(&[u8], usize), SyntaxError> {
    if s.get(i) == Some(&b'[') {
        let close = memchr::memchr(b']', &s[i..]).ok_or(SyntaxError::new(Syntax::BadHost, i))?;
        let inner = &s[i + 1..i + close];
        core::str::from_utf8(inner)
            .ok()
            .and_then(|t| t.parse::<std::net::Ipv6Addr>().ok())
            .ok_or(SyntaxError::new(Syntax::BadHost, i))?;
        return Ok((&s[i..i + close + 1], i + close + 1));
    }
    let mut e = i;
    while e < s.len() && (s[e].is_ascii_alphanumeric() || s[e] == b'-' || s[e] == b'.') {
        e += 1;
    }
    let host = &s[i..e];
    if host.is_empty() || host.starts_with(b".") || host.starts_with(b"-") {
        return Err(SyntaxError::new(Syntax::BadHost, i));
    }
    Ok((host, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `SIP/2.0/` shortcut gives what the general path gives for the same Via spelled
    /// with LWS around the slashes (which takes the general path), and leaves errors alone.
    #[test]
    fn sip_2_0_prefix_shortcut() {
        for tail in [
            "UDP 198.51.100.10:5060;branch=z9hG4bK776asdhds;rport",
            "TCP [2001:db8::1];branch=z9hG4bK1",
            "TLS host.example.com:5061",
            "UNKNOWN h;received=1.2.3.4",
        ] {
            let fast = format!("SIP/2.0/{tail}");
            let slow = format!("SIP / 2.0 / {tail}");
            let (a, ba) = Via::parse_find(fast.as_bytes(), b"branch").unwrap();
            let (b, bb) = Via::parse_find(slow.as_bytes(), b"branch").unwrap();
            assert_eq!(
                (
                    a.protocol,
                    a.version,
                    a.transport,
                    a.host,
                    a.port,
                    a.params,
                    ba
                ),
                (
                    b.protocol,
                    b.version,
                    b.transport,
                    b.host,
                    b.port,
                    b.params,
                    bb
                )
            );
        }
        for bad in ["SIP/2.0/", "SIP/2.0/ h", "SIP/2.0/UDP", "SIP/2.0/UDP h;;x"] {
            assert!(Via::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn simple() {
        let v = Via::parse(b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport").unwrap();
        assert_eq!(v.transport, b"UDP");
        assert_eq!(v.host, b"192.0.2.1");
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch(), Some(&b"z9hG4bK776asdhds"[..]));
        assert_eq!(v.rport(), Some(None));
        assert!(v.has_rfc3261_branch());
        assert!(!v.is_reliable());
    }

    #[test]
    fn folded_rfc4475_wsinv() {
        let v = Via::parse(b"SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.transport, b"UDP");
        assert_eq!(v.host, b"192.0.2.2");
        assert_eq!(v.branch(), Some(&b"390skdjuw"[..]));
        assert!(!v.has_rfc3261_branch());
        let v = Via::parse(b"SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239")
            .unwrap();
        assert_eq!(v.branch(), Some(&b"z9hG4bK30239"[..]));
    }

    #[test]
    fn ipv6_and_params() {
        let v = Via::parse(
            b"SIP/2.0/TLS [2001:db8::9:1]:5061;received=[2001:db8::9:255];branch=z9hG4bKas3",
        )
        .unwrap();
        assert_eq!(v.host, b"[2001:db8::9:1]");
        assert_eq!(v.port, Some(5061));
        assert_eq!(v.received(), Some(&b"[2001:db8::9:255]"[..]));
        assert!(v.is_reliable());
    }

    #[test]
    fn errors() {
        assert!(Via::parse(b"SIP/2.0/UDP 192.0.2.15;;").is_err()); // RFC 4475 badinv01
        assert!(Via::parse(b"SIP/2.0/UDP").is_err());
        assert!(Via::parse(b"SIP/2.0/UDP host:99999").is_err());
        assert!(Via::parse(b"SIP/2.0 host").is_err());
        assert!(Via::parse(b"SIP/2.0/UDP [::1").is_err());
        assert!(Via::parse(b"SIP/2.0/UDP host;branch=z9hG4bK").is_ok());
        assert!(!Via::parse(b"SIP/2.0/UDP host;branch=z9hG4bK")
            .unwrap()
            .has_rfc3261_branch());
    }
}
