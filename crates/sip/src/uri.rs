//! URIs as they appear in SIP: `sip:`/`sips:` (RFC 3261 §19.1, grammar §25.1), `tel:`
//! (RFC 3966) and any other `absoluteURI`, kept opaque (RFC 3261 §19.1, RFC 4475 unkscm,
//! novelsc, unksm2).
//!
//! One forward pass over the borrowed bytes, no allocation. Every component is validated
//! against the RFC character classes, so a parsed URI never holds SP, CR, LF, `<`, `>` or `"`
//! and every `%` starts a valid `%HH` escape.

use core::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Syntax, SyntaxError};
use crate::lex::{hex_val, is_alpha, is_digit, is_hex, percent_decode_into, Params};

// URI character classes (RFC 3261 §25.1), one bit each, looked up in a 256-entry table.
/// `unreserved` = alphanum / mark.
const C_UNRES: u8 = 1;
/// `user-unreserved` = `& = + $ , ; ? /`.
const C_USER: u8 = 2;
/// The extra `password` characters: `& = + $ ,`.
const C_PASS: u8 = 4;
/// `param-unreserved` = `[ ] / : & + $`.
const C_PARAM: u8 = 8;
/// `hnv-unreserved` = `[ ] / ? : + $`.
const C_HNV: u8 = 16;
/// `reserved` = `; / ? : @ & = + $ ,` (RFC 2396 §2.2; matters for §19.1.4 comparisons).
const C_RESERVED: u8 = 32;
/// Beyond `uric`, what an opaque absolute URI may hold: `[ ]` (RFC 3986 IP-literal) and `#`.
const C_ABS: u8 = 64;
/// Beyond `paramchar`, what an RFC 3966 `isdn-subaddress` (`1*uric`) may hold: `? @ = ,`.
const C_TELV: u8 = 128;

const USER_M: u8 = C_UNRES | C_USER;
const PASS_M: u8 = C_UNRES | C_PASS;
const PARAM_M: u8 = C_UNRES | C_PARAM;
const HNV_M: u8 = C_UNRES | C_HNV;
const ABS_M: u8 = C_UNRES | C_RESERVED | C_ABS;
const TELV_M: u8 = C_UNRES | C_PARAM | C_TELV;

const fn build_class() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut v = 0;
        if c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            )
        {
            v |= C_UNRES;
        }
        if matches!(c, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/') {
            v |= C_USER;
        }
        if matches!(c, b'&' | b'=' | b'+' | b'$' | b',') {
            v |= C_PASS;
        }
        if matches!(c, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
            v |= C_PARAM;
        }
        if matches!(c, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$') {
            v |= C_HNV;
        }
        if matches!(
            c,
            b';' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b','
        ) {
            v |= C_RESERVED;
        }
        if matches!(c, b'[' | b']' | b'#') {
            v |= C_ABS;
        }
        if matches!(c, b'?' | b'@' | b'=' | b',') {
            v |= C_TELV;
        }
        t[i] = v;
        i += 1;
    }
    t
}

static CLASS: [u8; 256] = build_class();

#[inline]
fn in_class(b: u8, mask: u8) -> bool {
    CLASS[b as usize] & mask != 0
}

/// Advances over bytes of class `mask` and `%HH` escapes. A `%` not followed by two hex
/// digits is an error wherever it appears (RFC 3261 §25.1 `escaped`).
#[inline]
fn scan(s: &[u8], mut i: usize, mask: u8) -> Result<usize, SyntaxError> {
    loop {
        // Runs of class bytes in a tight loop; escapes (rare) are checked between runs.
        while i < s.len() && in_class(s[i], mask) {
            i += 1;
        }
        if s.get(i) != Some(&b'%') {
            return Ok(i);
        }
        match (s.get(i + 1), s.get(i + 2)) {
            (Some(&h), Some(&l)) if is_hex(h) && is_hex(l) => i += 3,
            _ => return Err(SyntaxError::new(Syntax::BadEscape, i)),
        }
    }
}

/// Any URI (RFC 3261 §19.1, §25.1 `Request-URI = SIP-URI / SIPS-URI / absoluteURI`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:` (RFC 3966).
    Tel(TelUri<'a>),
    /// Any other scheme, kept opaque.
    Absolute(AbsoluteUri<'a>),
}

impl<'a> Uri<'a> {
    /// The whole URI as received.
    pub fn raw(&self) -> &'a [u8] {
        match self {
            Uri::Sip(u) => u.raw,
            Uri::Tel(u) => u.raw,
            Uri::Absolute(u) => u.raw,
        }
    }

    /// The scheme as received (case kept), without the colon.
    pub fn scheme(&self) -> &'a [u8] {
        match self {
            Uri::Sip(u) => u.scheme(),
            Uri::Tel(u) => u.raw.get(..3).unwrap_or_default(),
            Uri::Absolute(u) => u.scheme,
        }
    }

    /// The SIP/SIPS URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The tel URI, if this is one.
    pub fn as_tel(&self) -> Option<&TelUri<'a>> {
        match self {
            Uri::Tel(u) => Some(u),
            _ => None,
        }
    }
}

/// The host part of a SIP URI (RFC 3261 §25.1 `host = hostname / IPv4address / IPv6reference`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A hostname as received (case kept, a trailing dot kept).
    Domain(&'a [u8]),
    /// A dotted-quad IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 reference (`[...]` in the URI).
    V6(Ipv6Addr),
}

impl Host<'_> {
    /// True for an IPv4 or IPv6 literal.
    pub fn is_ip(&self) -> bool {
        !matches!(self, Host::Domain(_))
    }

    /// Host comparison of RFC 3261 §19.1.4: hostnames case-insensitively, addresses by value
    /// (so `[::1]` equals `[0::1]`); a name never equals an address, even one it resolves to.
    pub fn equivalent(&self, other: &Host<'_>) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            (Host::V4(a), Host::V4(b)) => a == b,
            (Host::V6(a), Host::V6(b)) => a == b,
            _ => false,
        }
    }
}

/// A `sip:` or `sips:` URI (RFC 3261 §19.1.1). Every slice borrows from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipUri<'a> {
    /// The whole URI.
    pub raw: &'a [u8],
    /// `sips:`.
    pub secure: bool,
    /// The user part, escapes kept (it may hold `;`, RFC 4475 semiuri).
    pub user: Option<&'a [u8]>,
    /// The password, escapes kept.
    pub password: Option<&'a [u8]>,
    /// The parsed host.
    pub host: Host<'a>,
    /// The host as received (IPv6 with its brackets).
    pub host_raw: &'a [u8],
    /// The explicit port, if any.
    pub port: Option<u16>,
    /// URI parameters, raw from the first `;` (empty when none).
    pub params: Params<'a>,
    /// The raw text after `?`, if any.
    pub headers: Option<&'a [u8]>,
}

/// Parses a complete URI. The whole input must be the URI; scheme matched case-insensitively.
pub fn parse_uri(s: &[u8]) -> Result<Uri<'_>, SyntaxError> {
    parse_uri_inline(s)
}

/// Checks a URI exactly as [`parse_uri`] does without handing the parsed value back (the
/// parse path only needs the verdict; inlining lets the unused fields go unbuilt). Returns
/// whether it is a SIP/SIPS URI with `?headers`.
pub(crate) fn check_uri(s: &[u8]) -> Result<bool, SyntaxError> {
    match parse_uri_inline(s)? {
        Uri::Sip(u) => Ok(u.headers.is_some()),
        Uri::Tel(_) | Uri::Absolute(_) => Ok(false),
    }
}

/// The parse path's cheap check of a From/To URI (the full grammar is applied on first
/// typed access, by the strict check and by `check_request`): the scheme is well-formed
/// (`scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` then `:`, RFC 3261 §25.1) and the
/// rest holds only the visible ASCII a URI can be made of, so white space (RFC 4475
/// badaspec), control bytes, non-ASCII, `<` and `"` are still rejected while parsing. Every
/// URI [`parse_uri`] accepts passes.
pub(crate) fn check_uri_shape(s: &[u8]) -> Result<(), SyntaxError> {
    let first = *s.first().ok_or(SyntaxError::new(Syntax::Empty, 0))?;
    if !is_alpha(first) {
        return Err(SyntaxError::new(Syntax::BadScheme, 0));
    }
    let mut i = 1;
    while s
        .get(i)
        .is_some_and(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        i += 1;
    }
    if s.get(i) != Some(&b':') {
        return Err(SyntaxError::new(Syntax::BadScheme, i));
    }
    let rest = &s[i + 1..];
    // A fold without early exit, so it runs as a vector loop; the position is found only
    // when there is an error.
    let bad = |b: u8| (b.wrapping_sub(0x21) > 0x7e - 0x21) | (b == b'<') | (b == b'"');
    if rest.iter().fold(false, |acc, &b| acc | bad(b)) {
        let at = rest.iter().position(|&b| bad(b)).unwrap_or(0);
        return Err(SyntaxError::new(Syntax::BadUri, i + 1 + at));
    }
    Ok(())
}

#[inline(always)]
fn parse_uri_inline(s: &[u8]) -> Result<Uri<'_>, SyntaxError> {
    let first = *s.first().ok_or(SyntaxError::new(Syntax::Empty, 0))?;
    // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3261 §25.1).
    if !is_alpha(first) {
        return Err(SyntaxError::new(Syntax::BadScheme, 0));
    }
    let mut i = 1;
    while s
        .get(i)
        .is_some_and(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        i += 1;
    }
    if s.get(i) != Some(&b':') {
        return Err(SyntaxError::new(Syntax::BadScheme, i));
    }
    let scheme = &s[..i];
    let body = i + 1;
    if scheme.eq_ignore_ascii_case(b"sip") {
        parse_sip(s, body, false).map(Uri::Sip)
    } else if scheme.eq_ignore_ascii_case(b"sips") {
        parse_sip(s, body, true).map(Uri::Sip)
    } else if scheme.eq_ignore_ascii_case(b"tel") {
        parse_tel(s, body).map(Uri::Tel)
    } else {
        // absoluteURI: only the character set is checked; an empty rest is tolerated as RFC
        // 3986 §3 allows an empty path.
        let end = scan(s, body, ABS_M)?;
        if end != s.len() {
            return Err(SyntaxError::new(Syntax::Unexpected, end));
        }
        Ok(Uri::Absolute(AbsoluteUri {
            raw: s,
            scheme,
            rest: &s[body..],
        }))
    }
}

/// Parses the part of a SIP URI after `sip:`/`sips:` (at `body`).
#[inline(always)]
fn parse_sip(s: &[u8], body: usize, secure: bool) -> Result<SipUri<'_>, SyntaxError> {
    // userinfo = ( user / telephone-subscriber ) [ ":" password ] "@". `@` is in neither the
    // user nor the password set, so the userinfo (if any) ends at the first `@` reached while
    // the bytes still fit those sets. Hostport bytes fit them too, so a URI without userinfo
    // runs off the sets without an `@` and is rescanned from `body` as the host.
    let mut user = None;
    let mut password = None;
    let mut host_start = body;
    let j = scan(s, body, USER_M)?;
    match s.get(j) {
        Some(b'@') => {
            user = Some(&s[body..j]);
            host_start = j + 1;
        }
        Some(b':') => {
            let k = scan(s, j + 1, PASS_M)?;
            if s.get(k) == Some(&b'@') {
                user = Some(&s[body..j]);
                password = Some(&s[j + 1..k]);
                host_start = k + 1;
            }
        }
        _ => {}
    }
    // user = 1*( unreserved / escaped / user-unreserved ).
    if user.is_some_and(<[u8]>::is_empty) {
        return Err(SyntaxError::new(Syntax::BadUri, body));
    }

    let (host, host_end) = parse_host(s, host_start)?;
    let host_raw = &s[host_start..host_end];
    let mut i = host_end;

    // port = 1*DIGIT; bounded to 5 digits so the accumulator cannot overflow.
    let mut port = None;
    if s.get(i) == Some(&b':') {
        let ps = i + 1;
        let mut v: u32 = 0;
        i = ps;
        while let Some(&d) = s.get(i) {
            if !is_digit(d) {
                break;
            }
            if i - ps == 5 {
                return Err(SyntaxError::new(Syntax::BadPort, ps));
            }
            v = v * 10 + u32::from(d - b'0');
            i += 1;
        }
        if i == ps || v > u32::from(u16::MAX) {
            return Err(SyntaxError::new(Syntax::BadPort, ps));
        }
        port = Some(v as u16);
    }

    // uri-parameters = *( ";" pname [ "=" pvalue ] ), pname/pvalue = 1*paramchar.
    let params_start = i;
    i = scan_params(s, i, PARAM_M, PARAM_M)?;
    let params = Params::new(&s[params_start..i]);

    // headers = "?" header *( "&" header ); header = hname "=" hvalue (hname non-empty).
    let mut headers = None;
    if s.get(i) == Some(&b'?') {
        let hs = i + 1;
        loop {
            let ns = i + 1;
            let ne = scan(s, ns, HNV_M)?;
            if ne == ns || s.get(ne) != Some(&b'=') {
                return Err(SyntaxError::new(Syntax::BadUri, ne));
            }
            i = scan(s, ne + 1, HNV_M)?;
            if s.get(i) != Some(&b'&') {
                break;
            }
        }
        headers = Some(&s[hs..i]);
    }

    if i != s.len() {
        return Err(SyntaxError::new(Syntax::Unexpected, i));
    }
    Ok(SipUri {
        raw: s,
        secure,
        user,
        password,
        host,
        host_raw,
        port,
        params,
        headers,
    })
}

/// Scans `*( ";" name [ "=" value ] )` with non-empty names and values; returns the end.
fn scan_params(s: &[u8], mut i: usize, name_m: u8, value_m: u8) -> Result<usize, SyntaxError> {
    while s.get(i) == Some(&b';') {
        let ns = i + 1;
        i = scan(s, ns, name_m)?;
        if i == ns {
            return Err(SyntaxError::new(Syntax::BadParam, ns));
        }
        if s.get(i) == Some(&b'=') {
            let vs = i + 1;
            i = scan(s, vs, value_m)?;
            if i == vs {
                return Err(SyntaxError::new(Syntax::BadParam, vs));
            }
        }
    }
    Ok(i)
}

/// Parses `host` at `i`; returns it and the index just past it.
fn parse_host(s: &[u8], i: usize) -> Result<(Host<'_>, usize), SyntaxError> {
    let bad = || SyntaxError::new(Syntax::BadHost, i);
    if s.get(i) == Some(&b'[') {
        // IPv6reference = "[" IPv6address "]"; the longest textual form is 45 bytes.
        let rest = s.get(i + 1..).unwrap_or_default();
        let window = rest.get(..46).unwrap_or(rest);
        let close = memchr::memchr(b']', window).ok_or_else(bad)?;
        let text = core::str::from_utf8(&rest[..close]).map_err(|_| bad())?;
        let addr: Ipv6Addr = text.parse().map_err(|_| bad())?;
        return Ok((Host::V6(addr), i + close + 2));
    }
    // The common IPv4 literal in one pass. When the dotted quad is followed by anything that
    // could continue a hostname, the general scan below decides (and reaches the same
    // verdict for a plain dotted quad: all-digit labels, the last one starting with a digit).
    if s.get(i).is_some_and(|&b| is_digit(b)) {
        if let Some((a, end)) = ipv4_at(s, i) {
            if !s
                .get(end)
                .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            {
                return Ok((Host::V4(a), end));
            }
        }
    }
    // hostname = *( domainlabel "." ) toplabel [ "." ], labels start and end alphanumeric;
    // toplabel starts with ALPHA, which is what tells a hostname from an IPv4address.
    let mut j = i;
    let mut prev = b'.';
    let mut label_first = 0u8;
    while let Some(&b) = s.get(j) {
        if b.is_ascii_alphanumeric() {
            if prev == b'.' {
                label_first = b;
            }
        } else if b == b'-' {
            if prev == b'.' {
                return Err(SyntaxError::new(Syntax::BadHost, j));
            }
        } else if b == b'.' {
            if prev == b'.' || prev == b'-' {
                return Err(SyntaxError::new(Syntax::BadHost, j));
            }
        } else {
            break;
        }
        prev = b;
        j += 1;
    }
    if j == i || prev == b'-' {
        return Err(bad());
    }
    let raw = &s[i..j];
    if is_digit(label_first) {
        return parse_ipv4(raw).map(|a| (Host::V4(a), j)).ok_or_else(bad);
    }
    Ok((Host::Domain(raw), j))
}

/// A dotted quad starting at `i` (four 1–3 digit octets of at most 255); returns it and the
/// index just past it, without looking at what follows.
#[inline]
fn ipv4_at(s: &[u8], mut i: usize) -> Option<(Ipv4Addr, usize)> {
    let mut octets = [0u8; 4];
    for (k, o) in octets.iter_mut().enumerate() {
        if k > 0 {
            if s.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let st = i;
        let mut v: u16 = 0;
        while i - st < 3 {
            match s.get(i) {
                Some(&d) if is_digit(d) => {
                    v = v * 10 + u16::from(d - b'0');
                    i += 1;
                }
                _ => break,
            }
        }
        if i == st || v > 255 {
            return None;
        }
        *o = v as u8;
    }
    Some((Ipv4Addr::from(octets), i))
}

/// IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT, each at most 255.
fn parse_ipv4(raw: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut n = 0usize;
    let mut val: u16 = 0;
    let mut digits = 0;
    for &b in raw {
        if b == b'.' {
            if digits == 0 {
                return None;
            }
            *octets.get_mut(n)? = val as u8;
            n += 1;
            val = 0;
            digits = 0;
        } else if is_digit(b) {
            digits += 1;
            val = val * 10 + u16::from(b - b'0');
            if digits > 3 || val > 255 {
                return None;
            }
        } else {
            return None;
        }
    }
    if n != 3 || digits == 0 {
        return None;
    }
    octets[3] = val as u8;
    Some(Ipv4Addr::from(octets))
}

/// The parameter names whose presence in only one URI makes two URIs differ (RFC 3261
/// §19.1.4: user, ttl, method, maddr, and transport as a component with a default value).
const SIGNIFICANT_PARAMS: [&str; 5] = ["user", "ttl", "method", "maddr", "transport"];

impl<'a> SipUri<'a> {
    /// `sip` or `sips` as received.
    pub fn scheme(&self) -> &'a [u8] {
        self.raw
            .get(..if self.secure { 4 } else { 3 })
            .unwrap_or_default()
    }

    /// Iterates the URI parameters as `(name, value)`, both raw (escapes kept).
    pub fn params_iter(&self) -> UriParamIter<'a> {
        UriParamIter {
            s: self.params.raw(),
        }
    }

    /// First URI parameter with this name (case-insensitive, escapes in the received name
    /// decoded, RFC 4475 esc01). `Some(None)` for a flag such as `lr`.
    pub fn param(&self, name: &str) -> Option<Option<&'a [u8]>> {
        self.params_iter()
            .find(|(n, _)| unescaped_eq(n, name.as_bytes(), true))
            .map(|(_, v)| v)
    }

    /// The `transport` parameter value.
    pub fn transport(&self) -> Option<&'a [u8]> {
        self.param("transport").flatten()
    }

    /// The `user` parameter value (`phone`, `ip`, `dialstring`...).
    pub fn user_param(&self) -> Option<&'a [u8]> {
        self.param("user").flatten()
    }

    /// True for `user=phone` (RFC 3261 §19.1.1: the user part is a telephone-subscriber).
    pub fn is_phone(&self) -> bool {
        self.user_param()
            .is_some_and(|v| v.eq_ignore_ascii_case(b"phone"))
    }

    /// True when the `lr` parameter is present (RFC 3261 §16.12.1 loose routing).
    pub fn lr(&self) -> bool {
        self.param("lr").is_some()
    }

    /// The `maddr` parameter value.
    pub fn maddr(&self) -> Option<&'a [u8]> {
        self.param("maddr").flatten()
    }

    /// The `method` parameter value.
    pub fn method(&self) -> Option<&'a [u8]> {
        self.param("method").flatten()
    }

    /// The explicit port, else 5061 for `sips` and 5060 for `sip` (RFC 3261 §19.1.2).
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(if self.secure { 5061 } else { 5060 })
    }

    /// Iterates the URI headers as `(hname, hvalue)`, both raw (escapes kept).
    pub fn headers_iter(&self) -> UriHeaderIter<'a> {
        UriHeaderIter { s: self.headers }
    }

    /// First URI header with this name (case-insensitive), value raw.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers_iter()
            .find(|(n, _)| unescaped_eq(n, name.as_bytes(), true))
            .map(|(_, v)| v)
    }

    /// The URI without its `?headers` part (RFC 3261 §19.1.5: headers are not part of the
    /// target; e.g. a Refer-To URI used as a Request-URI).
    pub fn without_headers(&self) -> &'a [u8] {
        match self.headers {
            Some(h) => self
                .raw
                .len()
                .checked_sub(h.len() + 1)
                .and_then(|n| self.raw.get(..n))
                .unwrap_or(self.raw),
            None => self.raw,
        }
    }

    /// Appends the percent-decoded user part to `out` (nothing when there is none). `%00`
    /// becomes a NUL byte and does not terminate anything (RFC 4475 escnull).
    pub fn decode_user(&self, out: &mut Vec<u8>) {
        if let Some(u) = self.user {
            // Escapes were validated by the parser, so this cannot fail.
            let r = percent_decode_into(u, out);
            debug_assert!(r.is_ok());
        }
    }

    /// URI equivalence of RFC 3261 §19.1.4.
    ///
    /// Scheme, user, password (case-sensitive), host (case-insensitive), port (presence too)
    /// must match; a parameter present in both must match (case-insensitive); `user`, `ttl`,
    /// `method`, `maddr` and `transport` present in only one make the URIs differ, others in
    /// only one are ignored; headers must match both ways. Escaped characters equal their
    /// literal form except for `reserved` ones. No allocation; the parameter and header
    /// matching is quadratic in their count, which the message size bounds.
    pub fn equivalent(&self, other: &SipUri<'_>) -> bool {
        self.secure == other.secure
            && opt_eq(self.user, other.user, false)
            && opt_eq(self.password, other.password, false)
            && self.host.equivalent(&other.host)
            && self.port == other.port
            && params_cover(self.params.raw(), other.params.raw())
            && params_cover(other.params.raw(), self.params.raw())
            && headers_cover(self.headers, other.headers)
            && headers_cover(other.headers, self.headers)
    }
}

fn opt_eq(a: Option<&[u8]>, b: Option<&[u8]>, fold: bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => unescaped_eq(a, b, fold),
        _ => false,
    }
}

/// Every parameter of `a` matches `b`: a same-named parameter of `b` has an equal value, or
/// `b` has none of that name and the name is not one of [`SIGNIFICANT_PARAMS`]. With repeated
/// names any equal one matches, which keeps the relation reflexive.
fn params_cover(a: &[u8], b: &[u8]) -> bool {
    UriParamIter { s: a }.all(|(name, value)| {
        let mut seen = false;
        for (n2, v2) in (UriParamIter { s: b }) {
            if unescaped_eq(name, n2, true) {
                if opt_eq(value, v2, true) {
                    return true;
                }
                seen = true;
            }
        }
        !seen
            && !SIGNIFICANT_PARAMS
                .iter()
                .any(|p| unescaped_eq(name, p.as_bytes(), true))
    })
}

/// Every header of `a` is in `b` with an equal value (names case-insensitive, values
/// case-sensitive: header-specific rules of §20 are not applied, which errs toward "differ").
fn headers_cover(a: Option<&[u8]>, b: Option<&[u8]>) -> bool {
    UriHeaderIter { s: a }.all(|(n, v)| {
        UriHeaderIter { s: b }
            .any(|(n2, v2)| unescaped_eq(n, n2, true) && unescaped_eq(v, v2, false))
    })
}

/// Compares two validated URI components as RFC 3261 §19.1.4 says: escapes of unreserved
/// characters equal the characters, escapes of `reserved` ones do not. `fold` compares
/// case-insensitively.
fn unescaped_eq(a: &[u8], b: &[u8], fold: bool) -> bool {
    // Equal raw bytes (modulo case when folding, which also covers `%3b` vs `%3B`) decode
    // equal: the fast path for the common case without escapes.
    if a == b || (fold && a.eq_ignore_ascii_case(b)) {
        return true;
    }
    Unescaped { s: a, i: 0, fold }.eq(Unescaped { s: b, i: 0, fold })
}

/// Yields decoded bytes; a decoded `reserved` byte is tagged with bit 8 so it never equals its
/// literal form.
#[derive(Debug, Clone)]
struct Unescaped<'a> {
    s: &'a [u8],
    i: usize,
    fold: bool,
}

impl Iterator for Unescaped<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        let mut b = *self.s.get(self.i)?;
        self.i += 1;
        if b == b'%' {
            if let (Some(&h), Some(&l)) = (self.s.get(self.i), self.s.get(self.i + 1)) {
                if is_hex(h) && is_hex(l) {
                    self.i += 2;
                    b = hex_val(h) << 4 | hex_val(l);
                    if in_class(b, C_RESERVED) {
                        return Some(0x100 | u16::from(b));
                    }
                }
            }
        }
        Some(u16::from(if self.fold {
            b.to_ascii_lowercase()
        } else {
            b
        }))
    }
}

/// Iterator over validated `;name[=value]` URI parameters (no LWS or quoting in URIs, so a
/// plain split is exact). Yields raw `(name, value)`.
#[derive(Debug, Clone)]
pub struct UriParamIter<'a> {
    s: &'a [u8],
}

impl<'a> Iterator for UriParamIter<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        let body = self.s.strip_prefix(b";")?;
        let end = memchr::memchr(b';', body).unwrap_or(body.len());
        let (item, rest) = body.split_at(end);
        self.s = rest;
        Some(match memchr::memchr(b'=', item) {
            Some(eq) => (&item[..eq], Some(&item[eq + 1..])),
            None => (item, None),
        })
    }
}

/// Iterator over validated URI headers `hname=hvalue&...`. Yields raw `(hname, hvalue)`.
#[derive(Debug, Clone)]
pub struct UriHeaderIter<'a> {
    s: Option<&'a [u8]>,
}

impl<'a> Iterator for UriHeaderIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.s?;
        let (item, rest) = match memchr::memchr(b'&', s) {
            Some(amp) => (&s[..amp], Some(&s[amp + 1..])),
            None => (s, None),
        };
        self.s = rest;
        let eq = memchr::memchr(b'=', item).unwrap_or(item.len());
        Some((&item[..eq], item.get(eq + 1..).unwrap_or_default()))
    }
}

/// A `tel:` URI (RFC 3966 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelUri<'a> {
    /// The whole URI.
    pub raw: &'a [u8],
    /// The number as received, visual separators kept (`+1-212-555-0101`, `7042;...`).
    pub number: &'a [u8],
    /// A global number (`+` followed by digits).
    pub global: bool,
    /// Parameters, raw from the first `;` (empty when none).
    pub params: Params<'a>,
}

impl<'a> TelUri<'a> {
    /// Iterates the parameters as raw `(name, value)`.
    pub fn params_iter(&self) -> UriParamIter<'a> {
        UriParamIter {
            s: self.params.raw(),
        }
    }

    /// First parameter with this name (case-insensitive, RFC 3966 §3).
    pub fn param(&self, name: &str) -> Option<Option<&'a [u8]>> {
        self.params_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The `phone-context` of a local number (RFC 3966 §5.1.5).
    pub fn phone_context(&self) -> Option<&'a [u8]> {
        self.param("phone-context").flatten()
    }
}

/// Parses the part of a tel URI after `tel:` (at `body`).
fn parse_tel(s: &[u8], body: usize) -> Result<TelUri<'_>, SyntaxError> {
    // global-number-digits = "+" *phonedigit DIGIT *phonedigit;
    // local-number-digits = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex;
    // visual-separator = "-" / "." / "(" / ")".
    let global = s.get(body) == Some(&b'+');
    let mut i = if global { body + 1 } else { body };
    let mut has_digit = false;
    while let Some(&b) = s.get(i) {
        if is_digit(b) || (!global && (is_hex(b) || b == b'*' || b == b'#')) {
            has_digit = true;
        } else if !matches!(b, b'-' | b'.' | b'(' | b')') {
            break;
        }
        i += 1;
    }
    if !has_digit {
        return Err(SyntaxError::new(Syntax::BadNumber, body));
    }
    let number = &s[body..i];
    // parameter = ";" pname ["=" pvalue]; pname = 1*( alphanum / "-" ). Values also admit the
    // `uric` of isdn-subaddress. A local number without phone-context is tolerated (RFC 3966
    // §5.1.5 requires it; rejecting is left to policy).
    let ps = i;
    while s.get(i) == Some(&b';') {
        let ns = i + 1;
        i = ns;
        while s
            .get(i)
            .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'-')
        {
            i += 1;
        }
        if i == ns {
            return Err(SyntaxError::new(Syntax::BadParam, ns));
        }
        if s.get(i) == Some(&b'=') {
            let vs = i + 1;
            i = scan(s, vs, TELV_M)?;
            if i == vs {
                return Err(SyntaxError::new(Syntax::BadParam, vs));
            }
        }
    }
    if i != s.len() {
        return Err(SyntaxError::new(Syntax::Unexpected, i));
    }
    Ok(TelUri {
        raw: s,
        number,
        global,
        params: Params::new(&s[ps..]),
    })
}

/// A URI of any other scheme, kept opaque (RFC 3261 §25.1 `absoluteURI`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbsoluteUri<'a> {
    /// The whole URI.
    pub raw: &'a [u8],
    /// The scheme as received, without the colon.
    pub scheme: &'a [u8],
    /// Everything after the colon.
    pub rest: &'a [u8],
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sip(s: &[u8]) -> SipUri<'_> {
        match parse_uri(s) {
            Ok(Uri::Sip(u)) => u,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(s)),
        }
    }

    fn err(s: &[u8]) -> Syntax {
        match parse_uri(s) {
            Err(e) => e.kind,
            Ok(u) => panic!("{:?} parsed: {u:?}", String::from_utf8_lossy(s)),
        }
    }

    fn eqv(a: &[u8], b: &[u8]) -> bool {
        let (a, b) = (sip(a), sip(b));
        let r = a.equivalent(&b);
        assert_eq!(r, b.equivalent(&a), "symmetry");
        r
    }

    #[test]
    fn basic_components() {
        // RFC 3261 §19.1.3 examples.
        let u = sip(b"sip:alice:secretword@atlanta.com;transport=tcp");
        assert!(!u.secure);
        assert_eq!(u.user, Some(&b"alice"[..]));
        assert_eq!(u.password, Some(&b"secretword"[..]));
        assert_eq!(u.host, Host::Domain(b"atlanta.com"));
        assert_eq!(u.host_raw, b"atlanta.com");
        assert_eq!(u.port, None);
        assert_eq!(u.transport(), Some(&b"tcp"[..]));
        assert_eq!(u.params.raw(), b";transport=tcp");
        assert_eq!(u.scheme(), b"sip");

        let u = sip(b"sips:alice@atlanta.com?subject=project%20x&priority=urgent");
        assert!(u.secure);
        assert_eq!(u.scheme(), b"sips");
        assert_eq!(u.headers, Some(&b"subject=project%20x&priority=urgent"[..]));
        assert_eq!(u.header("Subject"), Some(&b"project%20x"[..]));
        assert_eq!(u.header("priority"), Some(&b"urgent"[..]));
        assert_eq!(u.without_headers(), b"sips:alice@atlanta.com");
        assert_eq!(u.port_or_default(), 5061);

        let u = sip(b"sip:+1-212-555-1212:1234@gateway.com;user=phone");
        assert_eq!(u.user, Some(&b"+1-212-555-1212"[..]));
        assert_eq!(u.password, Some(&b"1234"[..]));
        assert!(u.is_phone());
        assert_eq!(u.user_param(), Some(&b"phone"[..]));

        let u = sip(b"sip:alice@192.0.2.4");
        assert_eq!(u.host, Host::V4(Ipv4Addr::new(192, 0, 2, 4)));
        assert!(u.host.is_ip());

        let u = sip(b"sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com");
        assert_eq!(u.user, None);
        assert_eq!(u.host, Host::Domain(b"atlanta.com"));
        assert_eq!(u.method(), Some(&b"REGISTER"[..]));
        assert_eq!(u.header("to"), Some(&b"alice%40atlanta.com"[..]));

        let u = sip(b"sip:alice;day=tuesday@atlanta.com");
        assert_eq!(u.user, Some(&b"alice;day=tuesday"[..]));
        assert!(u.params.is_empty());

        let u = sip(b"SIP:user@Host.Example.COM.:5070;lr;maddr=[2001:db8::1]");
        assert_eq!(u.host, Host::Domain(b"Host.Example.COM."));
        assert_eq!(u.port, Some(5070));
        assert!(u.lr());
        assert_eq!(u.param("lr"), Some(None));
        assert_eq!(u.maddr(), Some(&b"[2001:db8::1]"[..]));
        assert_eq!(u.param("nope"), None);
    }

    #[test]
    fn ipv6_and_ports() {
        let u = sip(b"sip:[2001:db8::10]:5060");
        assert_eq!(u.host, Host::V6("2001:db8::10".parse().unwrap()));
        assert_eq!(u.host_raw, b"[2001:db8::10]");
        assert_eq!(u.port, Some(5060));
        let u = sip(b"sips:bob@[::ffff:192.0.2.1]");
        assert!(matches!(u.host, Host::V6(_)));
        assert_eq!(sip(b"sip:h:0").port, Some(0));
        assert_eq!(sip(b"sip:h:65535").port, Some(65535));
        assert_eq!(sip(b"sip:h:00080").port, Some(80));
        assert_eq!(err(b"sip:h:65536"), Syntax::BadPort);
        assert_eq!(err(b"sip:h:123456"), Syntax::BadPort);
        assert_eq!(err(b"sip:h:"), Syntax::BadPort);
        assert_eq!(err(b"sip:[2001:db8::1"), Syntax::BadHost);
        assert_eq!(err(b"sip:[2001:db8::g]"), Syntax::BadHost);
        assert_eq!(err(b"sip:[]"), Syntax::BadHost);
        assert_eq!(err(b"sip:[fe80::1%25eth0]"), Syntax::BadHost);
    }

    #[test]
    fn hosts() {
        assert_eq!(err(b"sip:user@"), Syntax::BadHost);
        assert_eq!(err(b"sip:"), Syntax::BadHost);
        assert_eq!(err(b"sip:a..b"), Syntax::BadHost);
        assert_eq!(err(b"sip:.a"), Syntax::BadHost);
        assert_eq!(err(b"sip:-a.com"), Syntax::BadHost);
        assert_eq!(err(b"sip:a-.com"), Syntax::BadHost);
        assert_eq!(err(b"sip:1.2.3.256"), Syntax::BadHost);
        assert_eq!(err(b"sip:1.2.3"), Syntax::BadHost);
        assert_eq!(err(b"sip:1.2.3.4.5"), Syntax::BadHost);
        assert_eq!(err(b"sip:1.2.3.4."), Syntax::BadHost);
        assert_eq!(err(b"sip:example.123"), Syntax::BadHost);
        assert_eq!(sip(b"sip:3com.com").host, Host::Domain(b"3com.com"));
        assert_eq!(sip(b"sip:a-b.c").host, Host::Domain(b"a-b.c"));
        assert_eq!(
            sip(b"sip:001.02.3.4").host,
            Host::V4(Ipv4Addr::new(1, 2, 3, 4))
        );
        assert_eq!(err(b"sip:user@host_name"), Syntax::Unexpected);
    }

    #[test]
    fn rejects_whitespace_quotes_angles_and_trailing() {
        for bad in [
            &b"sip:user@example.com; lr"[..],
            b"sip:user@example.com ",
            b" sip:user@example.com",
            b"<sip:user@example.com>",
            b"sip:user@example.com>",
            b"sip:us\"er@example.com",
            b"sip:user@exa mple.com",
            b"sip:user@example.com\r\n",
            b"sip:user@example.com\t",
            b"sip:a@b@c",
            b"tel:+1 234",
            b"http://x/<y>",
            b"http://x/\"",
            b"urn:a b",
        ] {
            assert!(
                parse_uri(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(err(b""), Syntax::Empty);
        assert_eq!(err(b"sip"), Syntax::BadScheme);
        assert_eq!(err(b"1sip:x"), Syntax::BadScheme);
        assert_eq!(err(b"si_p:x"), Syntax::BadScheme);
        assert_eq!(err(b"sip:@host"), Syntax::BadUri);
    }

    #[test]
    fn userinfo_and_escapes() {
        // RFC 4475 semiuri: `;` in the user part, escaped `@`, no URI parameters.
        let u = sip(b"sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user, Some(&b"user;par=u%40example.net"[..]));
        assert_eq!(u.host, Host::Domain(b"example.com"));
        assert!(u.params.is_empty());
        let mut out = Vec::new();
        u.decode_user(&mut out);
        assert_eq!(out, b"user;par=u@example.net");

        // RFC 4475 esc01 Request-URI.
        let u = sip(b"sip:sips%3Auser%40example.com@example.net");
        out.clear();
        u.decode_user(&mut out);
        assert_eq!(out, b"sips:user@example.com");
        assert_eq!(u.host, Host::Domain(b"example.net"));

        // RFC 4475 escnull: %00 stays a NUL byte.
        let u = sip(b"sip:null-%00-null@example.com");
        out.clear();
        u.decode_user(&mut out);
        assert_eq!(out, b"null-\0-null");

        // RFC 4475 intmeth Request-URI: odd but legal user and password.
        let u = sip(b"sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com");
        assert_eq!(
            u.user,
            Some(&b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"[..])
        );
        assert_eq!(
            u.password,
            Some(&b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"[..])
        );
        assert_eq!(u.host, Host::Domain(b"example.com"));

        // RFC 4475 esc01 Contact: escapes in URI parameter names and values.
        let u = sip(b"sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
        assert!(u.lr());
        assert_eq!(u.param("name"), Some(Some(&b"v%61lue%25%34%31"[..])));

        assert_eq!(err(b"sip:us%4@h"), Syntax::BadEscape);
        assert_eq!(err(b"sip:us%zz@h"), Syntax::BadEscape);
        assert_eq!(err(b"sip:u@h;a=%"), Syntax::BadEscape);
        assert_eq!(err(b"sip:u@h?a=%g0"), Syntax::BadEscape);
        // `:` is not a password character.
        assert!(parse_uri(b"sip:u:p:q@h").is_err());
        assert!(parse_uri(b"sip:u:p;x@h").is_err());
        assert!(parse_uri(b"sip:[u]@h").is_err());
    }

    #[test]
    fn params_and_headers_grammar() {
        assert_eq!(err(b"sip:h;"), Syntax::BadParam);
        assert_eq!(err(b"sip:h;;a"), Syntax::BadParam);
        assert_eq!(err(b"sip:h;a="), Syntax::BadParam);
        assert_eq!(err(b"sip:h;=a"), Syntax::BadParam);
        assert_eq!(err(b"sip:h;a=b=c"), Syntax::Unexpected);
        // `;` and `=` are user characters, so this is user `h;a=b` at host `c`.
        assert_eq!(sip(b"sip:h;a=b@c").user, Some(&b"h;a=b"[..]));
        assert_eq!(err(b"sip:h;a=b[@c"), Syntax::Unexpected);
        assert_eq!(err(b"sip:h?"), Syntax::BadUri);
        assert_eq!(err(b"sip:h?a"), Syntax::BadUri);
        assert_eq!(err(b"sip:h?=b"), Syntax::BadUri);
        assert_eq!(err(b"sip:h?a=b&"), Syntax::BadUri);
        assert_eq!(err(b"sip:h?a=b;c"), Syntax::Unexpected);
        let u = sip(b"sip:h;p=[x]/:&+$;f?a=&b=[?]/:+$");
        assert_eq!(u.param("p"), Some(Some(&b"[x]/:&+$"[..])));
        assert_eq!(u.param("f"), Some(None));
        let hs: Vec<_> = u.headers_iter().collect();
        assert_eq!(
            hs,
            vec![(&b"a"[..], &b""[..]), (&b"b"[..], &b"[?]/:+$"[..])]
        );
        // RFC 4475 escruri / regescrt: escaped Route header in the URI.
        let u = sip(b"sip:user@example.com?Route=%3Csip:example.com%3E");
        assert_eq!(u.header("route"), Some(&b"%3Csip:example.com%3E"[..]));
    }

    #[test]
    fn tel_uris() {
        let Ok(Uri::Tel(t)) = parse_uri(b"tel:+1-201-555-0123") else {
            panic!()
        };
        assert!(t.global);
        assert_eq!(t.number, b"+1-201-555-0123");
        let Ok(Uri::Tel(t)) = parse_uri(b"TEL:7042;phone-context=example.com") else {
            panic!()
        };
        assert!(!t.global);
        assert_eq!(t.number, b"7042");
        assert_eq!(t.phone_context(), Some(&b"example.com"[..]));
        let Ok(Uri::Tel(t)) = parse_uri(b"tel:863-1234;phone-context=+1-914-555") else {
            panic!()
        };
        assert_eq!(t.phone_context(), Some(&b"+1-914-555"[..]));
        let Ok(u @ Uri::Tel(t)) = parse_uri(b"tel:+1(800)555.0199;ext=22;isub=a@b?c") else {
            panic!()
        };
        assert_eq!(t.param("EXT"), Some(Some(&b"22"[..])));
        assert_eq!(u.scheme(), b"tel");
        assert!(parse_uri(b"tel:*21#").is_ok());
        assert_eq!(err(b"tel:+"), Syntax::BadNumber);
        assert_eq!(err(b"tel:+abc"), Syntax::BadNumber);
        assert_eq!(err(b"tel:--"), Syntax::BadNumber);
        assert_eq!(err(b"tel:+1;"), Syntax::BadParam);
        assert_eq!(err(b"tel:+1;a="), Syntax::BadParam);
        assert_eq!(err(b"tel:+1x"), Syntax::Unexpected);
    }

    #[test]
    fn absolute_uris() {
        for (s, scheme, rest) in [
            (
                &b"nobodyKnowsThisScheme:totallyopaquecontent"[..],
                &b"nobodyKnowsThisScheme"[..],
                &b"totallyopaquecontent"[..],
            ),
            (
                b"soap.beep://192.0.2.103:3002",
                b"soap.beep",
                b"//192.0.2.103:3002",
            ),
            (b"isbn:2983792873", b"isbn", b"2983792873"),
            (b"http://www.example.com", b"http", b"//www.example.com"),
            (b"name:John_Smith", b"name", b"John_Smith"),
            (
                b"cid:target123@atlanta.example.com",
                b"cid",
                b"target123@atlanta.example.com",
            ),
            (
                b"https://lis.example.com:8222/y/z?a=b#frag",
                b"https",
                b"//lis.example.com:8222/y/z?a=b#frag",
            ),
            (b"urn:service:sos", b"urn", b"service:sos"),
            (b"isbn:", b"isbn", b""),
        ] {
            let u = parse_uri(s).unwrap();
            let Uri::Absolute(a) = u else { panic!("{u:?}") };
            assert_eq!(
                (a.scheme, a.rest, u.raw(), u.scheme()),
                (scheme, rest, s, scheme)
            );
        }
        assert_eq!(err(b"http://x/%zz"), Syntax::BadEscape);
        assert_eq!(err(b"http://x/{y}"), Syntax::Unexpected);
        assert!(parse_uri(b"Sips:x.com").unwrap().as_sip().is_some());
        assert!(parse_uri(b"tel:+1").unwrap().as_tel().is_some());
        assert!(parse_uri(b"tel:+1").unwrap().as_sip().is_none());
    }

    #[test]
    fn rfc3261_equivalent_examples() {
        // RFC 3261 §19.1.4, equivalent pairs.
        assert!(eqv(
            b"sip:%61lice@atlanta.com;transport=TCP",
            b"sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(eqv(
            b"sip:carol@chicago.com",
            b"sip:carol@chicago.com;newparam=5"
        ));
        assert!(eqv(
            b"sip:carol@chicago.com",
            b"sip:carol@chicago.com;security=on"
        ));
        assert!(eqv(
            b"sip:carol@chicago.com;newparam=5",
            b"sip:carol@chicago.com;security=on"
        ));
        assert!(eqv(
            b"sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            b"sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        assert!(eqv(
            b"sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            b"sip:alice@atlanta.com?priority=urgent&subject=project%20x"
        ));
        // Non-equivalent pairs.
        assert!(!eqv(
            b"SIP:ALICE@AtLanTa.CoM;Transport=udp",
            b"sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
        assert!(!eqv(b"sip:bob@biloxi.com", b"sip:bob@biloxi.com:5060"));
        assert!(!eqv(
            b"sip:bob@biloxi.com",
            b"sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!eqv(
            b"sip:bob@biloxi.com",
            b"sip:bob@biloxi.com:6000;transport=tcp"
        ));
        assert!(!eqv(
            b"sip:carol@chicago.com",
            b"sip:carol@chicago.com?Subject=next%20meeting"
        ));
        assert!(!eqv(
            b"sip:bob@phone21.boxesbybob.com",
            b"sip:bob@192.0.2.4"
        ));
        // Not transitive.
        assert!(!eqv(
            b"sip:carol@chicago.com;security=on",
            b"sip:carol@chicago.com;security=off"
        ));
    }

    #[test]
    fn equivalence_details() {
        // RFC 4475 esc01: %75se%72 == user.
        assert!(eqv(b"sip:%75se%72@example.com", b"sip:user@example.com"));
        // User and password are case-sensitive.
        assert!(!eqv(b"sip:User@h", b"sip:user@h"));
        assert!(!eqv(b"sip:u:P@h", b"sip:u:p@h"));
        assert!(!eqv(b"sip:u:p@h", b"sip:u@h"));
        assert!(!eqv(b"sip:h", b"sip:u@h"));
        // Escaped reserved characters differ from their literal form.
        assert!(!eqv(b"sip:a%3Bb@h", b"sip:a;b@h"));
        assert!(eqv(b"sip:a%3bb@h", b"sip:a%3Bb@h"));
        assert!(!eqv(b"sip:a@h", b"sips:a@h"));
        // One-sided significant params.
        for p in [
            "user=phone",
            "ttl=1",
            "method=INVITE",
            "maddr=1.2.3.4",
            "transport=udp",
        ] {
            let a = format!("sip:a@h;{p}");
            assert!(!eqv(a.as_bytes(), b"sip:a@h"), "{p}");
            assert!(eqv(
                a.as_bytes(),
                a.to_ascii_uppercase()
                    .replace("SIP:A@H", "sip:a@h")
                    .as_bytes()
            ));
        }
        assert!(eqv(b"sip:a@h;lr", b"sip:a@h"));
        assert!(!eqv(b"sip:a@h;lr", b"sip:a@h;lr=on"));
        assert!(eqv(b"sip:a@h;%6C%72", b"sip:a@h;LR"));
        assert!(eqv(b"sip:a@h;x=%41", b"sip:a@h;x=a"));
        assert!(eqv(b"sip:a@[::1]", b"sip:a@[0:0::1]"));
        assert!(eqv(b"sip:a@h?A=1&b=2", b"sip:a@h?b=2&a=1"));
        assert!(!eqv(b"sip:a@h?a=X", b"sip:a@h?a=x"));
        assert!(!eqv(b"sip:a@h?a=1&b=2", b"sip:a@h?a=1"));
        // Repeated parameters stay reflexive.
        assert!(eqv(b"sip:a@h;x=1;x=2", b"sip:a@h;x=1;x=2"));
    }

    const ALPHABET: &[u8] = b"sip:tel+%0aF@;=?&.[]:/-_~ ,<>\"\\\r\n\t1259x";

    proptest! {
        #[test]
        fn parse_uri_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_uri(&bytes);
        }

        #[test]
        fn sip_uris_reflexive(
            tail in proptest::collection::vec(proptest::sample::select(ALPHABET.to_vec()), 0..64),
            tail2 in proptest::collection::vec(proptest::sample::select(ALPHABET.to_vec()), 0..64),
        ) {
            let mut a = b"sip:".to_vec();
            a.extend_from_slice(&tail);
            let mut b = b"sip:".to_vec();
            b.extend_from_slice(&tail2);
            let (pa, pb) = (parse_uri(&a), parse_uri(&b));
            if let Ok(Uri::Sip(u)) = pa {
                prop_assert!(u.equivalent(&u));
                let mut out = Vec::new();
                u.decode_user(&mut out);
                if let Ok(Uri::Sip(v)) = pb {
                    prop_assert_eq!(u.equivalent(&v), v.equivalent(&u));
                }
            }
        }
    }
}
