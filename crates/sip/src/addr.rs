//! `name-addr / addr-spec` header values (RFC 3261 §20.10, §20.20, §20.39, §25.1) and the typed
//! headers built on them: From, To, Contact, Route, Record-Route, Refer-To (RFC 3515),
//! Referred-By (RFC 3892), P-Asserted/Preferred-Identity (RFC 3325), History-Info (RFC 7044),
//! Diversion (RFC 5806), Path (RFC 3327), Service-Route (RFC 3608), Reply-To and Geolocation
//! (RFC 6442).
//!
//! One forward pass, borrowing from the input, no allocation. The rules the RFC 4475 torture
//! tests pin down are noted where they are enforced.

use core::ops::Deref;

use crate::error::{Syntax, SyntaxError};
use crate::lex::{
    is_digit, is_token, parse_u32, scan_quoted, skip_lws, unquote, validate_params_find,
    CommaSplit, Params,
};
use crate::name::HeaderName;
use crate::typed::TypedHeader;
use crate::uri::{check_uri_shape, parse_uri, Uri};

/// Bytes allowed in a header parameter value beyond token characters: `gen-value = token /
/// host / quoted-string` (RFC 3261 §25.1), and a host may be an IPv6 reference.
const GEN_VALUE_EXTRA: &[u8] = b"[]:";

/// A `( name-addr / addr-spec ) *( SEMI generic-param )` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The whole element.
    pub raw: &'a [u8],
    /// The display name as received: a quoted-string with its quotes, or the token sequence
    /// (inner LWS kept, ends trimmed). `None` when absent.
    pub display: Option<&'a [u8]>,
    /// The URI was inside `<...>` (name-addr form).
    pub angle: bool,
    /// The URI.
    pub uri: Uri<'a>,
    /// Header parameters, raw from the first `;` (empty when none).
    pub params: Params<'a>,
}

impl<'a> NameAddr<'a> {
    /// The `tag` parameter (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&'a [u8]> {
        self.params.get("tag").flatten()
    }

    /// First header parameter with this name (case-insensitive). `Some(None)` for a flag.
    pub fn param(&self, name: &str) -> Option<Option<&'a [u8]>> {
        self.params.get(name)
    }

    /// Appends the display name to `out`: quotes stripped and quoted-pairs unescaped (RFC 3261
    /// §25.1), folding line ends dropped (the folded white space stays). Token display names
    /// are copied as received.
    pub fn decode_display(&self, out: &mut Vec<u8>) {
        let Some(d) = self.display else { return };
        if d.first() != Some(&b'"') {
            out.extend_from_slice(d);
            return;
        }
        let mut it = unquote(d).iter();
        while let Some(&b) = it.next() {
            match b {
                b'\\' => out.extend(it.next()),
                b'\r' | b'\n' => {}
                _ => out.push(b),
            }
        }
    }
}

/// Parses `( name-addr / addr-spec ) *( SEMI generic-param )`. Surrounding LWS is tolerated.
pub fn parse_name_addr(s: &[u8]) -> Result<NameAddr<'_>, SyntaxError> {
    let p = name_addr_with(s, b"", parse_uri)?;
    Ok(NameAddr {
        raw: s,
        display: p.display,
        angle: p.angle,
        uri: p.uri,
        params: p.params,
    })
}

/// The parse path's From/To check: validates the name-addr structure exactly as
/// [`parse_name_addr`] does (display name, quotes, `<...>`, addr-spec form, header
/// parameters) but the URI only by its shape ([`check_uri_shape`]): the full URI grammar is
/// left to the first typed access. Returns the value of the first `want` header parameter
/// (as `NameAddr::param(want).flatten()` would), found while the parameters are validated.
/// Every value [`parse_name_addr`] accepts passes, with the same parameter.
pub(crate) fn name_addr_param<'a>(
    s: &'a [u8],
    want: &[u8],
) -> Result<Option<&'a [u8]>, SyntaxError> {
    name_addr_with(s, want, check_uri_shape).map(|p| p.found)
}

/// The pieces of a name-addr, with the URI as produced by the caller's URI parser.
struct Parts<'a, U> {
    display: Option<&'a [u8]>,
    angle: bool,
    uri: U,
    params: Params<'a>,
    found: Option<&'a [u8]>,
}

/// The name-addr grammar, generic over what is done with the URI (parsed into a [`Uri`], or
/// only checked), so both users share one definition.
#[inline(always)]
fn name_addr_with<'a, U>(
    s: &'a [u8],
    want: &[u8],
    uri_fn: impl FnOnce(&'a [u8]) -> Result<U, SyntaxError>,
) -> Result<Parts<'a, U>, SyntaxError> {
    let start = skip_lws(s, 0);
    let first = *s.get(start).ok_or(SyntaxError::new(Syntax::Empty, start))?;
    let (display, lt) = match first {
        b'"' => {
            // An unterminated quote is an error (RFC 4475 quotbal); quoted-pairs of any byte
            // but CR/LF are fine, NUL, BEL and DEL included (intmeth).
            let q = scan_quoted(s, start)?;
            let lt = skip_lws(s, q);
            if s.get(lt) != Some(&b'<') {
                return Err(SyntaxError::new(Syntax::BadDisplayName, lt));
            }
            (Some(&s[start..q]), lt)
        }
        b'<' => (None, start),
        _ => {
            let mut end = scan_token(s, start);
            if end == start {
                return Err(SyntaxError::new(Syntax::Unexpected, start));
            }
            if s.get(end) == Some(&b':') {
                // A token glued to `:` is a URI scheme: the addr-spec form.
                return addr_spec_with(s, start, want, uri_fn);
            }
            // display-name = *(token LWS): tokens separated by LWS, then `<`, which may follow
            // the last token without LWS (RFC 4475 lwsdisp). Anything else, such as the `,` of
            // `Bell, Alexander <...>`, is an error (baddn).
            loop {
                let j = skip_lws(s, end);
                match s.get(j) {
                    Some(b'<') => break (Some(&s[start..end]), j),
                    Some(&b) if is_token(b) => end = scan_token(s, j),
                    _ => return Err(SyntaxError::new(Syntax::BadDisplayName, j)),
                }
            }
        }
    };
    // LAQUOT addr-spec RAQUOT: no LWS inside the brackets (RFC 4475 badaspec); `>` cannot occur
    // inside a URI, so the first one closes it.
    let inner = lt + 1;
    let gt = memchr::memchr(b'>', s.get(inner..).unwrap_or_default())
        .map(|p| inner + p)
        .ok_or(SyntaxError::new(Syntax::UnterminatedAngle, lt))?;
    let uri = uri_fn(&s[inner..gt]).map_err(|e| e.rebase(inner))?;
    let (params, found) = parse_header_params(s, gt + 1, want)?;
    Ok(Parts {
        display,
        angle: true,
        uri,
        params,
        found,
    })
}

#[inline]
fn scan_token(s: &[u8], mut i: usize) -> usize {
    while s.get(i).is_some_and(|&b| is_token(b)) {
        i += 1;
    }
    i
}

/// The addr-spec form at `start`. RFC 3261 §20.10: without `<>` every `;` parameter is a
/// header parameter (RFC 4475 cparam01), so the URI ends at the first `;` or LWS; and the
/// name-addr form is required when the URI holds a comma, semicolon or question mark
/// (regbadct: `sip:user@example.com?Route=...`).
#[inline(always)]
fn addr_spec_with<'a, U>(
    s: &'a [u8],
    start: usize,
    want: &[u8],
    uri_fn: impl FnOnce(&'a [u8]) -> Result<U, SyntaxError>,
) -> Result<Parts<'a, U>, SyntaxError> {
    let mut i = start;
    while let Some(&b) = s.get(i) {
        match b {
            b';' | b' ' | b'\t' | b'\r' | b'\n' => break,
            b'?' | b',' => return Err(SyntaxError::new(Syntax::NeedsAngleBrackets, i)),
            _ => i += 1,
        }
    }
    let uri = uri_fn(&s[start..i]).map_err(|e| e.rebase(start))?;
    let (params, found) = parse_header_params(s, i, want)?;
    Ok(Parts {
        display: None,
        angle: false,
        uri,
        params,
        found,
    })
}

/// `*( SEMI generic-param )` from `i` to the end, LWS allowed around `;` and `=` (RFC 4475
/// wsinv); empty parameters (`;;`) are errors (badinv01). Also returns the first `want`
/// parameter's value.
fn parse_header_params<'a>(
    s: &'a [u8],
    i: usize,
    want: &[u8],
) -> Result<(Params<'a>, Option<&'a [u8]>), SyntaxError> {
    let p = skip_lws(s, i);
    match s.get(p) {
        None => Ok((Params::default(), None)),
        Some(b';') => {
            let raw = &s[p..];
            let found =
                validate_params_find(raw, GEN_VALUE_EXTRA, want).map_err(|e| e.rebase(p))?;
            Ok((Params::new(raw), found))
        }
        Some(_) => Err(SyntaxError::new(Syntax::Trailing, p)),
    }
}

/// Offset of `sub` inside `outer` (both borrowed from the same input), for error positions.
fn offset_in(outer: &[u8], sub: &[u8]) -> usize {
    (sub.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

/// Reads an unsigned parameter value: `BadNumber` for non-digits, `Overflow` beyond `u32`
/// (RFC 4475 scalar02 has a Contact `expires` of 2^32).
fn param_u32(na: &NameAddr<'_>, name: &str) -> Option<Result<u32, SyntaxError>> {
    let v = na.params.get(name)?;
    let at = v.map_or(0, |v| offset_in(na.raw, v));
    let v = v.unwrap_or_default();
    Some(parse_u32(v).ok_or_else(|| {
        let kind = if !v.is_empty() && v.iter().all(|&b| is_digit(b)) {
            Syntax::Overflow
        } else {
            Syntax::BadNumber
        };
        SyntaxError::new(kind, at)
    }))
}

/// The forms a header allows.
#[derive(Clone, Copy)]
enum Form {
    /// `name-addr / addr-spec`.
    Any,
    /// `name-addr` only.
    Angle,
    /// `LAQUOT URI RAQUOT` without a display name (RFC 6442 §4.1 locationValue).
    AngleOnly,
}

fn check_form(na: &NameAddr<'_>, form: Form) -> Result<(), SyntaxError> {
    match form {
        Form::Any => Ok(()),
        _ if !na.angle => Err(SyntaxError::new(Syntax::NeedsAngleBrackets, 0)),
        Form::AngleOnly if na.display.is_some() => Err(SyntaxError::new(Syntax::BadDisplayName, 0)),
        _ => Ok(()),
    }
}

fn no_extra_check(_: &NameAddr<'_>) -> Result<(), SyntaxError> {
    Ok(())
}

macro_rules! name_addr_header {
    ($(#[$m:meta])* $ty:ident, $name:ident, $form:expr, $check:path) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $ty<'a>(pub NameAddr<'a>);

        impl<'a> Deref for $ty<'a> {
            type Target = NameAddr<'a>;
            fn deref(&self) -> &NameAddr<'a> {
                &self.0
            }
        }

        impl<'a> TypedHeader<'a> for $ty<'a> {
            const NAME: HeaderName = HeaderName::$name;
            fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
                let na = parse_name_addr(value)?;
                check_form(&na, $form)?;
                $check(&na)?;
                Ok($ty(na))
            }
        }
    };
}

name_addr_header!(
    /// `From` (RFC 3261 §20.20): `( name-addr / addr-spec ) *( SEMI from-param )`.
    FromHdr, From, Form::Any, no_extra_check
);
name_addr_header!(
    /// `To` (RFC 3261 §20.39): `( name-addr / addr-spec ) *( SEMI to-param )`.
    ToHdr, To, Form::Any, no_extra_check
);
name_addr_header!(
    /// One `Route` value (RFC 3261 §20.34): `name-addr *( SEMI rr-param )`.
    RouteHdr, Route, Form::Angle, no_extra_check
);
name_addr_header!(
    /// One `Record-Route` value (RFC 3261 §20.30): `name-addr *( SEMI rr-param )`.
    RecordRouteHdr, RecordRoute, Form::Angle, no_extra_check
);
name_addr_header!(
    /// One `Path` value (RFC 3327 §4): `name-addr *( SEMI rr-param )`.
    PathHdr, Path, Form::Angle, no_extra_check
);
name_addr_header!(
    /// One `Service-Route` value (RFC 3608 §5): `name-addr *( SEMI rr-param )`.
    ServiceRouteHdr, ServiceRoute, Form::Angle, no_extra_check
);
name_addr_header!(
    /// `Reply-To` (RFC 3261 §20.31): `( name-addr / addr-spec ) *( SEMI rplyto-param )`.
    ReplyToHdr, ReplyTo, Form::Any, no_extra_check
);
name_addr_header!(
    /// One `P-Asserted-Identity` value (RFC 3325 §9.1: `name-addr / addr-spec`). Trailing
    /// parameters, which the grammar lacks, are tolerated as header parameters: senders put
    /// `;user=phone` after bare addr-specs.
    PAssertedIdentityHdr, PAssertedIdentity, Form::Any, no_extra_check
);
name_addr_header!(
    /// One `P-Preferred-Identity` value (RFC 3325 §9.2), same tolerance as
    /// [`PAssertedIdentityHdr`].
    PPreferredIdentityHdr, PPreferredIdentity, Form::Any, no_extra_check
);
name_addr_header!(
    /// `Refer-To` (RFC 3515 §2.1): `( name-addr / addr-spec ) *( SEMI generic-param )`. A URI
    /// with `?headers` (e.g. an embedded Replaces) needs the name-addr form.
    ReferToHdr, ReferTo, Form::Any, no_extra_check
);
name_addr_header!(
    /// `Referred-By` (RFC 3892 §3): `referrer-uri *( SEMI ( referredby-id-param /
    /// generic-param ) )`.
    ReferredByHdr, ReferredBy, Form::Any, no_extra_check
);
name_addr_header!(
    /// One `History-Info` entry (RFC 7044 §9): `name-addr *( SEMI hi-param )`, with an
    /// `index` of `1*DIGIT *( "." 1*DIGIT )`.
    HistoryInfoHdr, HistoryInfo, Form::Angle, check_hi_index
);
name_addr_header!(
    /// One `Diversion` value (RFC 5806 §3): `name-addr *( SEMI diversion-params )`.
    DiversionHdr, Diversion, Form::Angle, no_extra_check
);
name_addr_header!(
    /// One `Geolocation` value (RFC 6442 §4.1): `LAQUOT locationURI RAQUOT *( SEMI
    /// geoloc-param )`, any URI scheme (`cid:`, `sips:`, `https:`...), no display name.
    GeolocationHdr, Geolocation, Form::AngleOnly, no_extra_check
);

impl<'a> ReferToHdr<'a> {
    /// The target URI without its `?headers` part: what the referee sends the new request to
    /// (RFC 3515 §2.4.2 / RFC 3261 §19.1.5). Non-SIP URIs are returned whole.
    pub fn uri_without_headers(&self) -> &'a [u8] {
        match &self.0.uri {
            Uri::Sip(u) => u.without_headers(),
            u => u.raw(),
        }
    }

    /// The embedded `Replaces` header value (RFC 3891 §6.1), raw (still %-escaped).
    pub fn replaces(&self) -> Option<&'a [u8]> {
        self.0.uri.as_sip()?.header("Replaces")
    }

    /// Appends the percent-decoded `Replaces` value to `out`; false when there is none.
    pub fn decode_replaces(&self, out: &mut Vec<u8>) -> bool {
        match self.replaces() {
            // Escapes were validated when the URI was parsed, so this cannot fail.
            Some(v) => crate::lex::percent_decode_into(v, out).is_ok(),
            None => false,
        }
    }
}

impl<'a> ReferredByHdr<'a> {
    /// The `cid` parameter (RFC 3892 §3), quotes removed: the Content-ID of the Referred-By
    /// token body.
    pub fn cid(&self) -> Option<&'a [u8]> {
        self.0.params.get("cid").flatten().map(unquote)
    }
}

impl<'a> HistoryInfoHdr<'a> {
    /// The `index` parameter (RFC 7044 §9), e.g. `1.1.2`.
    pub fn index(&self) -> Option<&'a [u8]> {
        self.0.params.get("index").flatten()
    }
}

/// hi-index = 1*DIGIT *( "." 1*DIGIT ) (RFC 7044 §9), when present.
fn check_hi_index(na: &NameAddr<'_>) -> Result<(), SyntaxError> {
    let Some(v) = na.params.get("index") else {
        return Ok(());
    };
    let v = v.unwrap_or_default();
    let ok = !v.is_empty()
        && v.split(|&b| b == b'.')
            .all(|d| !d.is_empty() && d.iter().all(|&b| is_digit(b)));
    if ok {
        Ok(())
    } else {
        Err(SyntaxError::new(Syntax::BadParam, offset_in(na.raw, v)))
    }
}

impl<'a> DiversionHdr<'a> {
    /// The `reason` parameter (`unconditional`, `user-busy`...), quotes removed.
    pub fn reason(&self) -> Option<&'a [u8]> {
        self.0.params.get("reason").flatten().map(unquote)
    }

    /// The `counter` parameter (`1*2DIGIT`).
    pub fn counter(&self) -> Option<Result<u32, SyntaxError>> {
        param_u32(&self.0, "counter")
    }

    /// The `privacy` parameter (`full`, `name`, `uri`, `off`), quotes removed.
    pub fn privacy(&self) -> Option<&'a [u8]> {
        self.0.params.get("privacy").flatten().map(unquote)
    }

    /// The `screen` parameter (`yes`, `no`), quotes removed.
    pub fn screen(&self) -> Option<&'a [u8]> {
        self.0.params.get("screen").flatten().map(unquote)
    }
}

/// One `Contact` value (RFC 3261 §20.10): `STAR` or `( name-addr / addr-spec ) *( SEMI
/// contact-params )`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactHdr<'a> {
    /// `*` (REGISTER removal of all bindings, RFC 3261 §10.2.2).
    Star,
    /// An address.
    Addr(NameAddr<'a>),
}

impl<'a> ContactHdr<'a> {
    /// True for `*`.
    pub fn is_star(&self) -> bool {
        matches!(self, ContactHdr::Star)
    }

    /// The address, unless this is `*`.
    pub fn addr(&self) -> Option<&NameAddr<'a>> {
        match self {
            ContactHdr::Star => None,
            ContactHdr::Addr(na) => Some(na),
        }
    }

    /// The `expires` parameter: `Err` for non-digits or a value beyond `u32` (scalar02).
    pub fn expires(&self) -> Option<Result<u32, SyntaxError>> {
        param_u32(self.addr()?, "expires")
    }

    /// The `q` parameter in thousandths (`qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "."
    /// 0*3("0") ] )`, RFC 3261 §25.1).
    pub fn q(&self) -> Option<Result<u16, SyntaxError>> {
        let na = self.addr()?;
        let v = na.params.get("q")?;
        let at = v.map_or(0, |v| offset_in(na.raw, v));
        Some(parse_qvalue(v.unwrap_or_default()).ok_or(SyntaxError::new(Syntax::BadParam, at)))
    }

    /// Parses a whole Contact header value (all comma elements) and checks that `*` stands
    /// alone (RFC 3261 §20.10: `STAR / ( contact-param *( COMMA contact-param ) )`) and that
    /// no element is empty. Returns the number of elements.
    pub fn validate_list(value: &[u8]) -> Result<usize, SyntaxError> {
        let mut n = 0usize;
        let mut star = false;
        for elem in CommaSplit::new(value) {
            let (at, e) = elem?;
            if e.is_empty() {
                return Err(SyntaxError::new(Syntax::Empty, at));
            }
            let c = ContactHdr::parse(e).map_err(|err| err.rebase(at))?;
            star |= c.is_star();
            n += 1;
            if star && n > 1 {
                return Err(SyntaxError::new(Syntax::Unexpected, at));
            }
        }
        Ok(n)
    }
}

fn parse_qvalue(v: &[u8]) -> Option<u16> {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(dot) => (&v[..dot], &v[dot + 1..]),
        None => (v, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(|&b| is_digit(b)) {
        return None;
    }
    let mut thousandths = 0u16;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |&d| u16::from(d - b'0'));
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

impl<'a> TypedHeader<'a> for ContactHdr<'a> {
    const NAME: HeaderName = HeaderName::Contact;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        // STAR carries no parameters; `*;expires=0` falls through and fails as a display name.
        if value == b"*" {
            return Ok(ContactHdr::Star);
        }
        parse_name_addr(value).map(ContactHdr::Addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::Host;
    use proptest::prelude::*;

    fn na(s: &[u8]) -> NameAddr<'_> {
        parse_name_addr(s).unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(s)))
    }

    fn err(s: &[u8]) -> Syntax {
        match parse_name_addr(s) {
            Err(e) => e.kind,
            Ok(v) => panic!("{:?} parsed: {v:?}", String::from_utf8_lossy(s)),
        }
    }

    fn sip_user<'a>(n: &NameAddr<'a>) -> Option<&'a [u8]> {
        n.uri.as_sip().and_then(|u| u.user)
    }

    #[test]
    fn rfc3261_examples() {
        // RFC 3261 §20.20 / §20.39 / §20.10.
        let n = na(b"\"A. G. Bell\" <sip:agb@bell-telephone.com> ;tag=a48s");
        assert_eq!(n.display, Some(&b"\"A. G. Bell\""[..]));
        assert!(n.angle);
        assert_eq!(n.tag(), Some(&b"a48s"[..]));
        assert_eq!(n.uri.raw(), b"sip:agb@bell-telephone.com");
        let mut out = Vec::new();
        n.decode_display(&mut out);
        assert_eq!(out, b"A. G. Bell");

        let n = na(b"sip:+12125551212@server.phone2net.com;tag=887s");
        assert_eq!(n.display, None);
        assert!(!n.angle);
        assert_eq!(n.tag(), Some(&b"887s"[..]));
        assert_eq!(n.uri.raw(), b"sip:+12125551212@server.phone2net.com");

        let n = na(b"Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8");
        assert_eq!(n.display, Some(&b"Anonymous"[..]));

        let n = na(b"The Operator <sip:operator@cs.columbia.edu>;tag=287447");
        assert_eq!(n.display, Some(&b"The Operator"[..]));
        out.clear();
        n.decode_display(&mut out);
        assert_eq!(out, b"The Operator");

        let n = na(b"\"Mr. Watson\" <sip:watson@worcester.bell-telephone.com>;q=0.7; expires=3600");
        assert_eq!(n.param("expires"), Some(Some(&b"3600"[..])));
        assert_eq!(n.param("Q"), Some(Some(&b"0.7"[..])));
        assert_eq!(n.param("nope"), None);

        let n = na(b"<mailto:watson@bell-telephone.com> ;q=0.1");
        assert!(matches!(n.uri, Uri::Absolute(_)));
        assert_eq!(n.display, None);
    }

    #[test]
    fn rfc4475_wsinv() {
        let to = na(b"sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n");
        assert_eq!(to.tag(), Some(&b"1918181833n"[..]));
        assert_eq!(to.uri.raw(), b"sip:vivekg@chair-dnrc.example.com");

        let from = na(
            b"\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        );
        assert_eq!(from.display, Some(&b"\"J Rosenberg \\\\\\\"\""[..]));
        assert_eq!(from.tag(), Some(&b"98asjd8"[..]));
        let mut out = Vec::new();
        from.decode_display(&mut out);
        assert_eq!(out, b"J Rosenberg \\\"");

        let m = na(b"\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33");
        assert_eq!(m.param("newparam"), Some(Some(&b"newvalue"[..])));
        assert_eq!(m.param("secondparam"), Some(None));
        let c = ContactHdr::Addr(m);
        assert_eq!(c.q(), Some(Ok(330)));

        let r =
            RouteHdr::parse(b"<sip:services.example.com;lr;unknownwith=value;unknown-no-value>")
                .unwrap();
        let u = r.uri.as_sip().unwrap();
        assert!(u.lr());
        assert_eq!(u.param("unknown-no-value"), Some(None));
        assert!(r.params.is_empty());
    }

    #[test]
    fn rfc4475_display_names() {
        // lwsdisp: token glued to `<`.
        let n = na(b"caller<sip:caller@example.com>;tag=323");
        assert_eq!(n.display, Some(&b"caller"[..]));
        assert_eq!(n.tag(), Some(&b"323"[..]));
        // intmeth: quoted-pairs of BEL, NUL, DEL; user part full of odd characters.
        let n = na(b"\"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>");
        assert_eq!(
            sip_user(&n),
            Some(&b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"[..])
        );
        let mut out = Vec::new();
        n.decode_display(&mut out);
        assert_eq!(out, b"BEL:\x07 NUL:\x00 DEL:\x7f");
        // intmeth From: several tokens, UTF-8 quoted param value.
        let n = na("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"\u{440}\u{430}\u{431}\u{43e}\u{442}\u{430}\u{44e}\u{449}\u{438}\u{439}\";tag=_token~1'+`*%!-.".as_bytes());
        assert_eq!(n.display, Some(&b"token1~` token2'+_ token3*%!.-"[..]));
        assert_eq!(n.tag(), Some(&b"_token~1'+`*%!-."[..]));
        // quotbal: unterminated quote.
        assert_eq!(
            err(b"\"Mr. J. User <sip:j.user@example.com>"),
            Syntax::UnterminatedQuote
        );
        // baddn: non-token characters in an unquoted display name.
        assert_eq!(
            err(b"Bell, Alexander <sip:a.g.bell@example.com>;tag=43"),
            Syntax::BadDisplayName
        );
        assert_eq!(
            err(b"Watson, Thomas <sip:t.watson@example.org>"),
            Syntax::BadDisplayName
        );
        // The quoted forms (badaspec From) are fine.
        let n = na(b"\"Bell, Alexander\" <sip:a.g.bell@example.com>;tag=433423");
        assert_eq!(n.tag(), Some(&b"433423"[..]));
        // A quoted display name must be followed by `<`.
        assert_eq!(err(b"\"x\" sip:a@b"), Syntax::BadDisplayName);
        assert_eq!(err(b"Joe sip:a@b"), Syntax::BadDisplayName);
        assert_eq!(err(b"Joe"), Syntax::BadDisplayName);
        assert_eq!(err(b"*"), Syntax::BadDisplayName);
        assert_eq!(err(b""), Syntax::Empty);
        assert_eq!(err(b"  "), Syntax::Empty);
        assert_eq!(err(b"@x"), Syntax::Unexpected);
        let n = na(b"\"\" <sip:a@b>");
        assert_eq!(n.display, Some(&b"\"\""[..]));
        let n = na(b"Joe\r\n Bloggs\r\n <sip:a@b>");
        assert_eq!(n.display, Some(&b"Joe\r\n Bloggs"[..]));
    }

    #[test]
    fn rfc4475_angle_and_addr_spec_rules() {
        // badaspec: spaces inside the brackets.
        assert!(parse_name_addr(b"\"Watson, Thomas\" < sip:t.watson@example.org >").is_err());
        assert!(parse_name_addr(b"<sip:t.watson@example.org >").is_err());
        assert_eq!(err(b"<sip:a@b"), Syntax::UnterminatedAngle);
        assert_eq!(err(b"<>"), Syntax::Empty);
        assert_eq!(err(b"<sip:a@b> x"), Syntax::Trailing);
        assert_eq!(err(b"<sip:a@b>>"), Syntax::Trailing);
        // LWS around `<`, `>` and `;`.
        let n = na(b"Joe \r\n <sip:a@b> \r\n ; tag = 1 ");
        assert_eq!(n.tag(), Some(&b"1"[..]));
        // cparam01 / cparam02.
        let n = na(b"sip:+19725552222@gw1.example.net;unknownparam");
        assert!(n.uri.as_sip().unwrap().params.is_empty());
        assert_eq!(n.param("unknownparam"), Some(None));
        let n = na(b"<sip:+19725552222@gw1.example.net;unknownparam>");
        assert_eq!(n.uri.as_sip().unwrap().param("unknownparam"), Some(None));
        assert!(n.params.is_empty());
        // semiuri's user part without brackets becomes a (bad) header parameter.
        assert!(parse_name_addr(b"sip:user;par=u%40example.net@example.com").is_err());
        // regbadct vs regescrt.
        assert_eq!(
            err(b"sip:user@example.com?Route=%3Csip:sip.example.com%3E"),
            Syntax::NeedsAngleBrackets
        );
        assert_eq!(err(b"sip:a,b@example.com"), Syntax::NeedsAngleBrackets);
        let n = na(b"<sip:user@example.com?Route=%3Csip:sip.example.com%3E>");
        assert_eq!(
            n.uri.as_sip().unwrap().header("Route"),
            Some(&b"%3Csip:sip.example.com%3E"[..])
        );
        // badinv01: empty parameters.
        assert_eq!(err(b"\"Joe\" <sip:joe@example.org>;;;;"), Syntax::BadParam);
        assert_eq!(err(b"<sip:joe@example.org>;"), Syntax::BadParam);
        assert_eq!(err(b"<sip:joe@example.org>;a="), Syntax::BadParam);
        assert_eq!(err(b"sip:joe@example.org;;a"), Syntax::BadParam);
        let n = na(b"<sip:a@b>;received=[2001:db8::1];x=\"q;v\"");
        assert_eq!(n.param("received"), Some(Some(&b"[2001:db8::1]"[..])));
        // Error offsets point into the element.
        let e = parse_name_addr(b"\"x\" <sip:a@b c>").unwrap_err();
        assert_eq!(e.at, 12);
    }

    #[test]
    fn rfc4475_escapes_and_schemes() {
        // esc01.
        let to = ToHdr::parse(b"sip:%75se%72@example.com").unwrap();
        let plain = parse_uri(b"sip:user@example.com").unwrap();
        assert!(to.uri.as_sip().unwrap().equivalent(plain.as_sip().unwrap()));
        let from = FromHdr::parse(b"<sip:I%20have%20spaces@example.net>;tag=938").unwrap();
        let mut out = Vec::new();
        from.uri.as_sip().unwrap().decode_user(&mut out);
        assert_eq!(out, b"I have spaces");
        assert_eq!(from.tag(), Some(&b"938"[..]));
        let c =
            ContactHdr::parse(b"<sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>")
                .unwrap();
        assert!(c.addr().unwrap().uri.as_sip().unwrap().lr());
        // escnull.
        let from = FromHdr::parse(b"sip:null-%00-null@example.com;tag=839923423").unwrap();
        out.clear();
        from.uri.as_sip().unwrap().decode_user(&mut out);
        assert_eq!(out, b"null-\0-null");
        assert!(ContactHdr::parse(b"<sip:%00%00@host5.example.com>").is_ok());
        // esc02: `%` inside a quoted display name is not an escape.
        let n = na(b"\"%Z%45\" <sip:resource@example.com>");
        out.clear();
        n.decode_display(&mut out);
        assert_eq!(out, b"%Z%45");
        // unksm2: unknown schemes.
        assert!(matches!(
            ToHdr::parse(b"isbn:2983792873").unwrap().uri,
            Uri::Absolute(_)
        ));
        let f = FromHdr::parse(b"<http://www.example.com>;tag=3234233").unwrap();
        assert_eq!(f.uri.scheme(), b"http");
        assert_eq!(f.tag(), Some(&b"3234233"[..]));
        assert!(ContactHdr::parse(b"<name:John_Smith>").is_ok());
        assert!(matches!(na(b"tel:+1-212-555-0101;tag=x").uri, Uri::Tel(_)));
    }

    #[test]
    fn contact() {
        assert_eq!(ContactHdr::parse(b"*"), Ok(ContactHdr::Star));
        assert!(ContactHdr::Star.is_star());
        assert_eq!(ContactHdr::Star.expires(), None);
        assert!(ContactHdr::parse(b"*;expires=0").is_err());
        assert_eq!(ContactHdr::validate_list(b"*"), Ok(1));
        assert_eq!(
            ContactHdr::validate_list(b"<sip:a@b>, \"x,y\" <sip:c,d@e;p=1>;q=1"),
            Ok(2)
        );
        assert!(ContactHdr::validate_list(b"*, <sip:a@b>").is_err());
        assert!(ContactHdr::validate_list(b"<sip:a@b>, *").is_err());
        assert_eq!(
            ContactHdr::validate_list(b"<sip:a@b>,,<sip:c@d>")
                .unwrap_err()
                .kind,
            Syntax::Empty
        );
        assert_eq!(
            ContactHdr::validate_list(b"<sip:a@b>, x y").unwrap_err().at,
            14
        );

        let c = ContactHdr::parse(b"<sip:a@b>;expires=3600;q=1.0").unwrap();
        assert_eq!(c.expires(), Some(Ok(3600)));
        assert_eq!(c.q(), Some(Ok(1000)));
        // scalar02.
        let c =
            ContactHdr::parse(b"<sip:user@host129.example.com>;expires=280297596632815").unwrap();
        assert_eq!(c.expires().unwrap().unwrap_err().kind, Syntax::Overflow);
        let c = ContactHdr::parse(b"<sip:a@b>;expires=x1;q=1.5").unwrap();
        assert_eq!(c.expires().unwrap().unwrap_err().kind, Syntax::BadNumber);
        assert!(c.q().unwrap().is_err());
        let c = ContactHdr::parse(b"<sip:a@b>;expires").unwrap();
        assert!(c.expires().unwrap().is_err());
        for (q, v) in [
            ("0", Some(0)),
            ("0.", Some(0)),
            ("0.5", Some(500)),
            ("0.001", Some(1)),
            ("1", Some(1000)),
            ("1.000", Some(1000)),
            ("1.001", None),
            ("0.1234", None),
            ("2", None),
            ("", None),
            (".5", None),
            ("0.a", None),
        ] {
            assert_eq!(parse_qvalue(q.as_bytes()), v, "{q}");
        }
        let c = ContactHdr::parse(b"sip:a@b;expires=60").unwrap();
        assert_eq!(c.expires(), Some(Ok(60)));
    }

    #[test]
    fn angle_required_headers() {
        for parse in [
            |v| RouteHdr::parse(v).map(|_| ()),
            |v| RecordRouteHdr::parse(v).map(|_| ()),
            |v| PathHdr::parse(v).map(|_| ()),
            |v| ServiceRouteHdr::parse(v).map(|_| ()),
            |v| HistoryInfoHdr::parse(v).map(|_| ()),
            |v| DiversionHdr::parse(v).map(|_| ()),
            |v| GeolocationHdr::parse(v).map(|_| ()),
        ] as [fn(&[u8]) -> Result<(), SyntaxError>; 7]
        {
            assert_eq!(
                parse(b"sip:p1.example.com;lr").unwrap_err().kind,
                Syntax::NeedsAngleBrackets
            );
            assert!(parse(b"<sip:p1.example.com;lr>").is_ok());
        }
        let rr = RecordRouteHdr::parse(b"<sip:server10.biloxi.com;lr>").unwrap();
        assert_eq!(
            rr.uri.as_sip().unwrap().host,
            Host::Domain(b"server10.biloxi.com")
        );
        assert!(PathHdr::parse(b"<sip:P3.EXAMPLEHOME.COM;lr>").is_ok());
        assert!(ServiceRouteHdr::parse(b"<sip:orig@scscf.example.com;lr>").is_ok());
        assert!(RouteHdr::parse(b"\"proxy\" <sip:p1.example.com;lr>").is_ok());
        assert_eq!(RouteHdr::NAME, HeaderName::Route);
        assert_eq!(ContactHdr::NAME, HeaderName::Contact);
    }

    #[test]
    fn geolocation() {
        // RFC 6442 §4.1 examples.
        let g = GeolocationHdr::parse(b"<cid:target123@atlanta.example.com>").unwrap();
        assert_eq!(g.uri.scheme(), b"cid");
        let g = GeolocationHdr::parse(
            b"<sips:3sdefrhy2jj7@lis.atlanta.example.com>;inserted-by=\"lis.example.com\"",
        )
        .unwrap();
        assert!(g.uri.as_sip().unwrap().secure);
        assert!(g.param("inserted-by").is_some());
        let g = GeolocationHdr::parse(b"<https://lis.example.com:8222/y/z?a=b>").unwrap();
        assert_eq!(g.uri.scheme(), b"https");
        assert_eq!(
            GeolocationHdr::parse(b"\"x\" <cid:a@b>").unwrap_err().kind,
            Syntax::BadDisplayName
        );
        assert_eq!(GeolocationHdr::NAME, HeaderName::Geolocation);
    }

    #[test]
    fn refer_to_and_referred_by() {
        // RFC 3891 §6.1 / RFC 3515 examples.
        let r = ReferToHdr::parse(b"<sip:bob@bob.example.com?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>").unwrap();
        assert_eq!(r.uri_without_headers(), b"sip:bob@bob.example.com");
        assert_eq!(
            r.replaces(),
            Some(&b"12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994"[..])
        );
        let mut out = Vec::new();
        assert!(r.decode_replaces(&mut out));
        assert_eq!(out, b"12345@192.168.118.3;to-tag=12345;from-tag=5FFE-3994");
        let r = ReferToHdr::parse(b"sip:carol@cleveland.example.org").unwrap();
        assert_eq!(r.uri_without_headers(), b"sip:carol@cleveland.example.org");
        assert_eq!(r.replaces(), None);
        assert!(!r.decode_replaces(&mut out));
        let r = ReferToHdr::parse(b"<http://www.example.com/~carol>;method=GET").unwrap();
        assert_eq!(r.uri_without_headers(), b"http://www.example.com/~carol");
        assert_eq!(
            ReferToHdr::parse(b"sip:bob@b?Replaces=x").unwrap_err().kind,
            Syntax::NeedsAngleBrackets
        );
        // RFC 3892 §3.
        let b = ReferredByHdr::parse(
            b"<sip:referrer@referrer.example>;cid=\"20398823.2UWQFN309shb3@referrer.example\"",
        )
        .unwrap();
        assert_eq!(
            b.cid(),
            Some(&b"20398823.2UWQFN309shb3@referrer.example"[..])
        );
        let b = ReferredByHdr::parse(b"sip:referrer@referrer.example").unwrap();
        assert_eq!(b.cid(), None);
        assert_eq!(ReferToHdr::NAME, HeaderName::ReferTo);
        assert_eq!(ReferredByHdr::NAME, HeaderName::ReferredBy);
    }

    #[test]
    fn identity_history_diversion_reply_to() {
        // RFC 3325 §10.
        let p = PAssertedIdentityHdr::parse(b"\"Cullen Jennings\" <sip:fluffy@cisco.com>").unwrap();
        assert_eq!(p.display, Some(&b"\"Cullen Jennings\""[..]));
        assert!(PAssertedIdentityHdr::parse(b"tel:+14085264000").is_ok());
        assert!(PAssertedIdentityHdr::parse(b"sip:+14085264000@gw.example.com;user=phone").is_ok());
        assert!(
            PPreferredIdentityHdr::parse(b"\"Cullen Jennings\" <sip:fluffy@cisco.com>").is_ok()
        );
        // RFC 7044 §10.
        let h = HistoryInfoHdr::parse(
            b"<sip:UserA@ims.example.com?Reason=SIP%3Bcause%3D302>;index=1.1;mp=1",
        )
        .unwrap();
        assert_eq!(h.index(), Some(&b"1.1"[..]));
        assert_eq!(
            h.uri.as_sip().unwrap().header("reason"),
            Some(&b"SIP%3Bcause%3D302"[..])
        );
        assert!(HistoryInfoHdr::parse(b"<sip:a@b>").is_ok());
        for bad in [
            &b"<sip:a@b>;index=1..1"[..],
            b"<sip:a@b>;index=a",
            b"<sip:a@b>;index=1.",
            b"<sip:a@b>;index",
        ] {
            assert_eq!(
                HistoryInfoHdr::parse(bad).unwrap_err().kind,
                Syntax::BadParam
            );
        }
        // RFC 5806 §3.
        let d = DiversionHdr::parse(
            b"<sip:5551212@example.com>;reason=\"user-busy\";counter=1;privacy=full;screen=no",
        )
        .unwrap();
        assert_eq!(d.reason(), Some(&b"user-busy"[..]));
        assert_eq!(d.counter(), Some(Ok(1)));
        assert_eq!(d.privacy(), Some(&b"full"[..]));
        assert_eq!(d.screen(), Some(&b"no"[..]));
        let d = DiversionHdr::parse(b"\"Alice\" <tel:+15551212>;reason=unconditional").unwrap();
        assert_eq!(d.reason(), Some(&b"unconditional"[..]));
        assert_eq!(d.counter(), None);
        // RFC 3261 §20.31.
        let r = ReplyToHdr::parse(b"Bob <sip:bob@biloxi.com>").unwrap();
        assert_eq!(r.display, Some(&b"Bob"[..]));
        assert_eq!(ReplyToHdr::NAME, HeaderName::ReplyTo);
        assert_eq!(FromHdr::NAME, HeaderName::From);
        assert_eq!(ToHdr::NAME, HeaderName::To);
        assert_eq!(DiversionHdr::NAME, HeaderName::Diversion);
        assert_eq!(HistoryInfoHdr::NAME, HeaderName::HistoryInfo);
    }

    /// The parse path checks the URI inside `<>` by its shape only: a malformed but
    /// well-shaped URI passes there and fails the full grammar (typed access); white space,
    /// quotes, control bytes and a bad scheme still fail both.
    #[test]
    fn parse_path_uri_shape() {
        for v in [
            &b"<sip:alice@host:99999>;tag=1"[..],
            b"<sip:alice@[::1>;tag=1",
            b"\"A\" <sip:%zz@host>;tag=1",
            b"<sip:a@host;;x>;tag=1",
        ] {
            assert_eq!(name_addr_param(v, b"tag"), Ok(Some(&b"1"[..])), "{v:?}");
            assert!(parse_name_addr(v).is_err(), "{v:?}");
            assert!(FromHdr::parse(v).is_err() && ToHdr::parse(v).is_err());
        }
        for v in [
            &b"< sip:alice@host >;tag=1"[..],
            b"<sip:alice@ho st>",
            b"<sip:alice@h\"ost>",
            b"<sip:alice@h\x01ost>",
            b"<sip:alice@h\xc3\xa9>",
            b"<1sip:alice@host>",
            b"<sip>",
            b"<>",
            b"<sip:a@b;tag=1",
            b"\"A <sip:a@b>",
            b"A, B <sip:a@b>",
            b"<sip:a@b>;;tag=1",
            b"sip:a@b?x=y",
        ] {
            assert!(name_addr_param(v, b"tag").is_err(), "{v:?}");
            assert!(parse_name_addr(v).is_err(), "{v:?}");
        }
    }

    const ALPHABET: &[u8] = b"sip:<>\";,=?@ \t\r\n\\abc%41*tag.[]:";

    proptest! {
        #[test]
        fn parse_name_addr_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(n) = parse_name_addr(&bytes) {
                let mut out = Vec::new();
                n.decode_display(&mut out);
                let _ = n.tag();
            }
            let _ = ContactHdr::validate_list(&bytes);
        }

        /// The parse path's From/To check accepts every value the full grammar accepts, with
        /// the same tag, and the full grammar rejects every value whose structure it rejects.
        #[test]
        fn parse_path_check_is_a_superset(
            bytes in proptest::collection::vec(proptest::sample::select(ALPHABET.to_vec()), 0..80)
        ) {
            let full = parse_name_addr(&bytes);
            let quick = name_addr_param(&bytes, b"tag");
            match (&full, &quick) {
                (Ok(n), Ok(tag)) => prop_assert_eq!(n.tag(), *tag),
                (Ok(_), Err(e)) => prop_assert!(false, "parse path rejects a valid value: {e:?}"),
                (Err(_), _) => {}
            }
        }

        #[test]
        fn structured_name_addrs(
            bytes in proptest::collection::vec(proptest::sample::select(ALPHABET.to_vec()), 0..80)
        ) {
            if let Ok(n) = parse_name_addr(&bytes) {
                if let Some(u) = n.uri.as_sip() {
                    prop_assert!(u.equivalent(u));
                }
                let c = ContactHdr::Addr(n);
                let _ = (c.q(), c.expires());
            }
        }
    }
}
