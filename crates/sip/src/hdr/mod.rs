//! Typed views of the SIP headers that are not transaction-critical (RFC 3261 §20 and the
//! extensions an SBC meets on the wire).
//!
//! Each view borrows from the message buffer and implements [`TypedHeader`]: `parse` checks the
//! whole grammar once, so the getters afterwards are infallible and never allocate. For list
//! headers (`HeaderName::is_list`) a view covers ONE comma-separated element; the others see
//! the whole value (commas included: Date, Authorization, ...). Parameter lists are kept raw as
//! [`Params`] and looked up on demand.
//!
//! [`TypedHeader`]: crate::TypedHeader

mod auth;
mod dialog;
mod list;
mod mime;
mod text;
mod timer;

#[cfg(test)]
mod proptests;

pub use auth::{
    Auth, AuthParams, Authorization, ProxyAuthenticate, ProxyAuthorization, WwwAuthenticate,
};
pub use dialog::{
    AllowEvents, Event, EventType, GeolocationError, GeolocationRouting, Priority, PrivValues,
    Privacy, Reason, Replaces, SubState, SubscriptionState,
};
pub use list::{
    Allow, ContentEncoding, ContentLanguage, ProxyRequire, Require, Supported, Unsupported,
};
pub use mime::{
    Accept, AcceptEncoding, AcceptLanguage, ContentDisposition, ContentId, ContentType, Handling,
    MimeVersion,
};
pub use text::{Date, Server, Subject, UserAgent, Warning};
pub use timer::{
    Expires, MinExpires, MinSe, RAck, RSeq, Refresher, RetryAfter, SessionExpires, Timestamp,
};

use crate::error::{Syntax, SyntaxError};
use crate::lex::{self, Params};
use crate::name::HeaderName;

/// True for the list headers whose grammar allows an empty value (`Supported:` with nothing
/// after the colon, RFC 3261 §20.37; likewise Allow §20.5, Accept §20.1, Accept-Encoding §20.2,
/// Accept-Language §20.3). For these an empty element is "no items", not a syntax error, so the
/// message layer should skip it instead of handing it to `parse` (which rejects it).
pub fn empty_list_allowed(name: HeaderName) -> bool {
    matches!(
        name,
        HeaderName::Supported
            | HeaderName::Allow
            | HeaderName::Accept
            | HeaderName::AcceptEncoding
            | HeaderName::AcceptLanguage
    )
}

/// Extra value bytes for `generic-param`: `gen-value = token / host / quoted-string`
/// (RFC 3261 §25.1), where `host` adds `[`, `]` and `:` for IPv6 references.
const GEN_VALUE_EXTRA: &[u8] = b"[]:";

#[inline]
fn err<T>(kind: Syntax, at: usize) -> Result<T, SyntaxError> {
    Err(SyntaxError::new(kind, at))
}

/// Index just past the run of bytes from `pos` that satisfy `pred`.
#[inline]
fn scan_while(s: &[u8], pos: usize, pred: impl Fn(u8) -> bool) -> usize {
    let mut i = pos;
    while s.get(i).is_some_and(|&b| pred(b)) {
        i += 1;
    }
    i
}

/// `1*token-char` at `pos`: the token and the index after it.
fn token_at(s: &[u8], pos: usize) -> Result<(&[u8], usize), SyntaxError> {
    let end = scan_while(s, pos, lex::is_token);
    if end == pos {
        return err(
            if pos >= s.len() {
                Syntax::Empty
            } else {
                Syntax::Unexpected
            },
            pos,
        );
    }
    Ok((&s[pos..end], end))
}

/// A non-empty run of digits, already isolated, as `u32` (RFC 4475 §3.1.2.4/§3.1.2.5: values
/// beyond 2^32-1 are errors, never wrapped).
fn digits_u32(d: &[u8], at: usize) -> Result<u32, SyntaxError> {
    if d.is_empty() || !d.iter().all(|&b| lex::is_digit(b)) {
        return err(Syntax::BadNumber, at);
    }
    lex::parse_u32(d).ok_or(SyntaxError::new(Syntax::Overflow, at))
}

/// `delta-seconds = 1*DIGIT` at `pos` (RFC 3261 §25.1): the value and the index after it.
fn delta_at(s: &[u8], pos: usize) -> Result<(u32, usize), SyntaxError> {
    let end = scan_while(s, pos, lex::is_digit);
    if end == pos {
        return err(
            if pos >= s.len() {
                Syntax::Empty
            } else {
                Syntax::BadNumber
            },
            pos,
        );
    }
    Ok((digits_u32(&s[pos..end], pos)?, end))
}

/// Only LWS may follow `pos`.
fn expect_end(s: &[u8], pos: usize) -> Result<(), SyntaxError> {
    let p = lex::skip_lws(s, pos);
    if p < s.len() {
        return err(Syntax::Trailing, p);
    }
    Ok(())
}

/// `*(SEMI param)` from `pos` to the end of `s`, validated; anything else is `Trailing`.
fn params_at<'a>(s: &'a [u8], pos: usize, extra: &[u8]) -> Result<Params<'a>, SyntaxError> {
    let p = lex::skip_lws(s, pos);
    let Some(&b) = s.get(p) else {
        return Ok(Params::new(&s[s.len()..]));
    };
    if b != b';' {
        return err(Syntax::Trailing, p);
    }
    let raw = &s[p..];
    lex::validate_params(raw, extra).map_err(|e| e.rebase(p))?;
    Ok(Params::new(raw))
}

/// Offset of `child` inside `parent` (both borrow the same buffer), for error positions found
/// after a [`Params`] lookup. Clamped, so a foreign slice cannot produce a wild offset.
fn offset_of(parent: &[u8], child: &[u8]) -> usize {
    (child.as_ptr() as usize)
        .saturating_sub(parent.as_ptr() as usize)
        .min(parent.len())
}

/// One parameter occurrence: its name and its raw value (`None` for a flag).
type ParamHit<'a> = (&'a [u8], Option<&'a [u8]>);

/// A parameter that may appear at most once: `(name, value)` of its occurrence, if any.
/// A repeat is `BadParam` at the repeat (RFC 3891 §6.1 "exactly one to-tag"; for the others
/// two different values would be ambiguous).
fn param_once<'a>(
    s: &'a [u8],
    params: &Params<'a>,
    name: &str,
) -> Result<Option<ParamHit<'a>>, SyntaxError> {
    let mut found = None;
    for (n, v) in params.iter() {
        if n.eq_ignore_ascii_case(name.as_bytes()) {
            if found.is_some() {
                return err(Syntax::BadParam, offset_of(s, n));
            }
            found = Some((n, v));
        }
    }
    Ok(found)
}

/// A `name=delta-seconds` parameter (RFC 3261 `duration`, RFC 6665 `expires`/`retry-after`).
fn param_u32(s: &[u8], params: &Params<'_>, name: &str) -> Result<Option<u32>, SyntaxError> {
    match param_once(s, params, name)? {
        None => Ok(None),
        Some((n, None)) => err(Syntax::BadParam, offset_of(s, n)),
        Some((_, Some(v))) => digits_u32(v, offset_of(s, v)).map(Some),
    }
}

/// A `name=token` parameter (RFC 3891 tags, RFC 6665 `id`/`reason`, RFC 4028 `refresher`).
fn param_token<'a>(
    s: &'a [u8],
    params: &Params<'a>,
    name: &str,
) -> Result<Option<&'a [u8]>, SyntaxError> {
    match param_once(s, params, name)? {
        None => Ok(None),
        Some((n, None)) => err(Syntax::BadParam, offset_of(s, n)),
        Some((_, Some(v))) if lex::is_token_str(v) => Ok(Some(v)),
        Some((_, Some(v))) => err(Syntax::BadParam, offset_of(s, v)),
    }
}

/// A `name=quoted-string` parameter (RFC 3326 `text`, RFC 6442 `code`); returned without
/// the quotes, quoted-pairs still escaped.
fn param_quoted<'a>(
    s: &'a [u8],
    params: &Params<'a>,
    name: &str,
) -> Result<Option<&'a [u8]>, SyntaxError> {
    match param_once(s, params, name)? {
        None => Ok(None),
        Some((n, None)) => err(Syntax::BadParam, offset_of(s, n)),
        Some((_, Some(v))) if v.first() == Some(&b'"') => Ok(Some(lex::unquote(v))),
        Some((_, Some(v))) => err(Syntax::BadParam, offset_of(s, v)),
    }
}

/// The `q` accept-param (RFC 3261 §20.1 `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "."
/// 0*3("0") ] )`) in thousandths, so no floating point is needed: `0.8` is 800.
fn param_q(s: &[u8], params: &Params<'_>) -> Result<Option<u16>, SyntaxError> {
    match param_once(s, params, "q")? {
        None => Ok(None),
        Some((n, None)) => err(Syntax::BadParam, offset_of(s, n)),
        Some((_, Some(v))) => qvalue(v)
            .map(Some)
            .ok_or(SyntaxError::new(Syntax::BadNumber, offset_of(s, v))),
    }
}

fn qvalue(v: &[u8]) -> Option<u16> {
    let (&int, rest) = v.split_first()?;
    let frac = match rest.split_first() {
        None => &rest[..0],
        Some((&b'.', f)) if f.len() <= 3 => f,
        Some(_) => return None,
    };
    let mut thousandths: u16 = 0;
    let mut scale: u16 = 100;
    for &d in frac {
        if !lex::is_digit(d) {
            return None;
        }
        thousandths += u16::from(d - b'0') * scale;
        scale /= 10;
    }
    match int {
        b'0' => Some(thousandths),
        b'1' if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Free text (RFC 3261 `TEXT-UTF8-TRIM`, `server-val`, ...): valid UTF-8, no control bytes
/// except HTAB and header folding.
fn check_text(s: &[u8]) -> Result<(), SyntaxError> {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'\r' || b == b'\n' {
            let next = lex::skip_lws(s, i);
            if next == i {
                return err(Syntax::Unexpected, i);
            }
            i = next;
            continue;
        }
        if (b < 0x20 && b != b'\t') || b == 0x7f {
            return err(Syntax::Unexpected, i);
        }
        i += 1;
    }
    std::str::from_utf8(s)
        .map(|_| ())
        .map_err(|e| SyntaxError::new(Syntax::Unexpected, e.valid_up_to()))
}

/// Given `s[pos] == b'('`, the index just past the matching `)` of an RFC 3261 §25.1
/// `comment` (nesting, quoted-pairs and folding allowed; other control bytes are not).
/// An unclosed comment is `Unexpected` at its opening parenthesis.
fn scan_comment(s: &[u8], pos: usize) -> Result<usize, SyntaxError> {
    let mut depth: usize = 0;
    let mut i = pos;
    while let Some(&b) = s.get(i) {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            b'\\' => match s.get(i + 1) {
                Some(b'\r' | b'\n') | None => break,
                Some(_) => i += 1,
            },
            b'\r' | b'\n' => {
                let next = lex::skip_lws(s, i);
                if next == i {
                    return err(Syntax::Unexpected, i);
                }
                i = next;
                continue;
            }
            b if (b < 0x20 && b != b'\t') || b == 0x7f => return err(Syntax::Unexpected, i),
            _ => {}
        }
        i += 1;
    }
    err(Syntax::Unexpected, pos)
}

/// ASCII case-insensitive comparison with a `&str` (RFC 3261 §7.3.1: tokens are
/// case-insensitive).
#[inline]
fn eq_ci(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// A validated ASCII slice as `&str` (never fails for the token-class slices it is used on).
#[inline]
fn ascii_str(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qvalues() {
        assert_eq!(qvalue(b"0"), Some(0));
        assert_eq!(qvalue(b"0.8"), Some(800));
        assert_eq!(qvalue(b"0.333"), Some(333));
        assert_eq!(qvalue(b"0.05"), Some(50));
        assert_eq!(qvalue(b"1"), Some(1000));
        assert_eq!(qvalue(b"1.000"), Some(1000));
        assert_eq!(qvalue(b"1.0001"), None);
        assert_eq!(qvalue(b"1.5"), None);
        assert_eq!(qvalue(b"0.1234"), None);
        assert_eq!(qvalue(b"2"), None);
        assert_eq!(qvalue(b""), None);
        assert_eq!(qvalue(b"0,5"), None);
    }

    #[test]
    fn comments_nest_and_must_close() {
        assert_eq!(scan_comment(b"(a (b) c) x", 0), Ok(9));
        assert_eq!(scan_comment(br"(a \) b)", 0), Ok(8));
        assert_eq!(scan_comment(b"(a\r\n b)", 0), Ok(7));
        assert!(scan_comment(b"(a (b) c", 0).is_err());
        assert!(scan_comment(b"(a\r\nb)", 0).is_err());
        assert!(scan_comment(b"(\\", 0).is_err());
    }

    #[test]
    fn text_rules() {
        assert!(check_text("caf\u{e9} \t ok".as_bytes()).is_ok());
        assert!(check_text(b"a\r\n b").is_ok());
        assert_eq!(check_text(b"a\x00b"), err(Syntax::Unexpected, 1));
        assert_eq!(check_text(b"a\r\nb"), err(Syntax::Unexpected, 1));
        assert_eq!(check_text(b"ab\xff"), err(Syntax::Unexpected, 2));
    }

    #[test]
    fn numbers_overflow_not_wrap() {
        assert_eq!(delta_at(b"4294967295", 0), Ok((u32::MAX, 10)));
        assert_eq!(delta_at(b"4294967296", 0), err(Syntax::Overflow, 0));
        assert_eq!(delta_at(b"x", 0), err(Syntax::BadNumber, 0));
        assert_eq!(delta_at(b"", 0), err(Syntax::Empty, 0));
    }

    #[test]
    fn empty_lists() {
        assert!(empty_list_allowed(HeaderName::Supported));
        assert!(empty_list_allowed(HeaderName::Allow));
        assert!(!empty_list_allowed(HeaderName::Require));
    }
}
