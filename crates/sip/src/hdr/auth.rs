//! Authorization, Proxy-Authorization, WWW-Authenticate and Proxy-Authenticate
//! (RFC 3261 §20.7, §20.27, §20.28, §20.44; §25.1 `credentials` / `challenge`).
//!
//! These are not list headers: the message layer hands over the whole value, and the commas
//! between Digest parameters are split here.

use core::ops::Deref;

use super::{check_text, eq_ci, err, expect_end, scan_while, token_at};
use crate::error::{Syntax, SyntaxError};
use crate::lex::{self, CommaSplit};
use crate::name::HeaderName;
use crate::typed::TypedHeader;

/// Unquoted auth-param value bytes beyond token characters. The grammar says `token /
/// quoted-string`; deployed UAs also send unquoted URIs (`uri=sip:a@b`), which an SBC must
/// pass rather than reject. `=` stays out so an RFC 7235 token68 (`abc==`) is not mistaken
/// for a parameter.
const AUTH_VALUE_EXTRA: &[u8] = b"/:@[]?&+";

fn is_auth_value(b: u8) -> bool {
    lex::is_token(b) || AUTH_VALUE_EXTRA.contains(&b)
}

/// `auth-param-name EQUAL ( token / quoted-string )` within one comma element; returns name
/// and raw value, with offsets relative to `elem`.
fn split_param(elem: &[u8]) -> Result<(&[u8], &[u8]), SyntaxError> {
    let (name, end) = token_at(elem, 0).map_err(|e| SyntaxError::new(Syntax::BadParam, e.at))?;
    let i = lex::skip_lws(elem, end);
    if elem.get(i) != Some(&b'=') {
        return err(Syntax::BadParam, i);
    }
    let vs = lex::skip_lws(elem, i + 1);
    let ve = match elem.get(vs) {
        Some(b'"') => lex::scan_quoted(elem, vs)?,
        _ => scan_while(elem, vs, is_auth_value),
    };
    if ve == vs {
        return err(Syntax::BadParam, vs);
    }
    expect_end(elem, ve)?;
    Ok((name, &elem[vs..ve]))
}

/// The common shape of credentials and challenges: `auth-scheme LWS rest`. For `Digest` the
/// rest is a validated comma-separated `name=value` list; any other scheme (RFC 4475
/// §3.3.7 regaut01 `NoOneKnowsThisScheme opaque-data=here`) is accepted with its rest kept
/// opaque, so it can be relayed untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Auth<'a> {
    scheme: &'a [u8],
    rest: &'a [u8],
    digest: bool,
}

impl<'a> Auth<'a> {
    /// The auth-scheme token as received.
    pub fn scheme(&self) -> &'a [u8] {
        self.scheme
    }

    /// True for the `Digest` scheme (ASCII case-insensitive).
    pub fn is_digest(&self) -> bool {
        self.digest
    }

    /// Everything after the scheme and its LWS, raw.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// The `name=value` parameters; values raw (quotes kept). Checked at parse time for
    /// Digest; for other schemes iteration is best effort and stops at the first element that
    /// is not `name=value`.
    pub fn params(&self) -> AuthParams<'a> {
        AuthParams {
            inner: CommaSplit::new(self.rest),
            done: false,
        }
    }

    /// First parameter with this name (ASCII case-insensitive), quotes removed and
    /// quoted-pairs left escaped.
    pub fn param(&self, name: &str) -> Option<&'a [u8]> {
        self.params()
            .find(|(n, _)| eq_ci(n, name))
            .map(|(_, v)| lex::unquote(v))
    }

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let (scheme, end) = token_at(value, 0)?;
        let p = lex::skip_lws(value, end);
        if p == end && end < value.len() {
            return err(Syntax::Unexpected, end);
        }
        let rest = &value[p..];
        let digest = eq_ci(scheme, "Digest");
        if digest {
            if rest.is_empty() {
                return err(Syntax::Empty, p);
            }
            for item in CommaSplit::new(rest) {
                let (off, elem) = item.map_err(|e| e.rebase(p))?;
                if elem.is_empty() {
                    return err(Syntax::BadParam, p + off);
                }
                split_param(elem).map_err(|e| e.rebase(p + off))?;
            }
        } else {
            check_text(rest).map_err(|e| e.rebase(p))?;
        }
        Ok(Auth {
            scheme,
            rest,
            digest,
        })
    }
}

/// Iterator behind [`Auth::params`]: `(name, raw value)`.
#[derive(Debug, Clone)]
pub struct AuthParams<'a> {
    inner: CommaSplit<'a>,
    done: bool,
}

impl<'a> Iterator for AuthParams<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.inner.next() {
            Some(Ok((_, elem))) => match split_param(elem) {
                Ok(pair) => Some(pair),
                Err(_) => {
                    self.done = true;
                    None
                }
            },
            _ => {
                self.done = true;
                None
            }
        }
    }
}

macro_rules! auth_header {
    ($(#[$doc:meta])* $ty:ident => $name:ident) => {
        $(#[$doc])*
        ///
        /// Dereferences to [`Auth`] for the scheme and parameters.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $ty<'a>(Auth<'a>);

        impl<'a> Deref for $ty<'a> {
            type Target = Auth<'a>;

            fn deref(&self) -> &Auth<'a> {
                &self.0
            }
        }

        impl<'a> TypedHeader<'a> for $ty<'a> {
            const NAME: HeaderName = HeaderName::$name;

            fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
                Auth::parse(value).map($ty)
            }
        }
    };
}

auth_header! {
    /// `Authorization: credentials` (RFC 3261 §20.7).
    Authorization => Authorization
}

auth_header! {
    /// `Proxy-Authorization: credentials` (RFC 3261 §20.28).
    ProxyAuthorization => ProxyAuthorization
}

auth_header! {
    /// `WWW-Authenticate: challenge` (RFC 3261 §20.44).
    WwwAuthenticate => WwwAuthenticate
}

auth_header! {
    /// `Proxy-Authenticate: challenge` (RFC 3261 §20.27).
    ProxyAuthenticate => ProxyAuthenticate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3261_digest_credentials() {
        // RFC 3261 §20.7.
        let a = Authorization::parse(
            b"Digest username=\"Alice\", realm=\"atlanta.com\",\r\n nonce=\"84a4cc6f3082121f32b42a2187831a9e\",\r\n response=\"7587245234b3434cc3412213e5f113a5432\"",
        )
        .unwrap();
        assert!(a.is_digest());
        assert_eq!(a.scheme(), b"Digest");
        assert_eq!(a.param("USERNAME"), Some(&b"Alice"[..]));
        assert_eq!(
            a.param("nonce"),
            Some(&b"84a4cc6f3082121f32b42a2187831a9e"[..])
        );
        assert_eq!(
            a.param("response"),
            Some(&b"7587245234b3434cc3412213e5f113a5432"[..])
        );
        assert_eq!(a.param("opaque"), None);
        let names: Vec<&[u8]> = a.params().map(|(n, _)| n).collect();
        assert_eq!(names, [&b"username"[..], b"realm", b"nonce", b"response"]);
        assert_eq!(
            a.params().next(),
            Some((&b"username"[..], &b"\"Alice\""[..]))
        );
    }

    #[test]
    fn rfc3665_digest_challenges() {
        // RFC 3665 §3.2 / RFC 3261 §20.44.
        let w = WwwAuthenticate::parse(
            b"Digest realm=\"atlanta.com\", domain=\"sip:boxesbybob.com\", qop=\"auth\", nonce=\"f84f1cec41e6cbe5aea9c8e88d359\", opaque=\"\", stale=FALSE, algorithm=MD5",
        )
        .unwrap();
        assert_eq!(w.param("domain"), Some(&b"sip:boxesbybob.com"[..]));
        assert_eq!(w.param("opaque"), Some(&b""[..]));
        assert_eq!(w.param("stale"), Some(&b"FALSE"[..]));
        assert_eq!(w.param("algorithm"), Some(&b"MD5"[..]));
        assert_eq!(w.params().count(), 7);
        let p = ProxyAuthenticate::parse(
            b"Digest realm=\"atlanta.example.com\", qop=\"auth\",\r\n nonce=\"f84f1cec41e6cbe5aea9c8e88d359\",\r\n opaque=\"\", stale=FALSE, algorithm=MD5",
        )
        .unwrap();
        assert_eq!(p.param("realm"), Some(&b"atlanta.example.com"[..]));
        let p = ProxyAuthorization::parse(
            b"Digest username=\"alice\",\r\n realm=\"atlanta.example.com\",\r\n nonce=\"wf84f1ceczx41ae6cbe5aea9c8e88d359\", opaque=\"\",\r\n uri=\"sip:bob@biloxi.example.com\",\r\n response=\"42ce3cef44b22f50c6a6071bc8\"",
        )
        .unwrap();
        assert_eq!(p.param("uri"), Some(&b"sip:bob@biloxi.example.com"[..]));
        assert_eq!(ProxyAuthorization::NAME, HeaderName::ProxyAuthorization);
        assert_eq!(WwwAuthenticate::NAME, HeaderName::WwwAuthenticate);
    }

    #[test]
    fn digest_tolerances() {
        let a = Authorization::parse(
            b"digest nc=00000001 , qop=auth,uri=sip:bob@b.example.com;transport=tcp",
        )
        .err();
        // `;` is not an auth-param value byte, so the unquoted URI with params is rejected.
        assert_eq!(a, Some(SyntaxError::new(Syntax::Trailing, 55)));
        let a = Authorization::parse(b"digest nc=00000001 , qop=auth,uri=sip:bob@b.example.com")
            .unwrap();
        assert!(a.is_digest());
        assert_eq!(a.param("uri"), Some(&b"sip:bob@b.example.com"[..]));
        assert_eq!(a.param("nc"), Some(&b"00000001"[..]));
        let a = Authorization::parse(b"Digest realm=\"a,b\", nonce=\"x\"").unwrap();
        assert_eq!(a.param("realm"), Some(&b"a,b"[..]));
    }

    #[test]
    fn digest_errors() {
        assert_eq!(Authorization::parse(b""), err(Syntax::Empty, 0));
        assert_eq!(Authorization::parse(b"Digest"), err(Syntax::Empty, 6));
        assert_eq!(Authorization::parse(b"Digest "), err(Syntax::Empty, 7));
        assert_eq!(
            Authorization::parse(b"Digest realm"),
            err(Syntax::BadParam, 12)
        );
        assert_eq!(
            Authorization::parse(b"Digest realm="),
            err(Syntax::BadParam, 13)
        );
        assert_eq!(
            Authorization::parse(b"Digest realm=\"x"),
            err(Syntax::UnterminatedQuote, 13)
        );
        assert_eq!(
            Authorization::parse(b"Digest a=1,,b=2"),
            err(Syntax::BadParam, 11)
        );
        assert_eq!(
            Authorization::parse(b"Digest a=1, =2"),
            err(Syntax::BadParam, 12)
        );
        assert_eq!(
            Authorization::parse(b"Digest a=1 b=2"),
            err(Syntax::Trailing, 11)
        );
        assert_eq!(
            Authorization::parse(b"Digest=a"),
            err(Syntax::Unexpected, 6)
        );
        assert_eq!(
            Authorization::parse(b"Digest a=<x"),
            err(Syntax::UnterminatedAngle, 7)
        );
    }

    #[test]
    fn unknown_schemes_rfc4475_regaut01() {
        // RFC 4475 §3.3.7 regaut01 must be accepted.
        let a = Authorization::parse(b"NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert!(!a.is_digest());
        assert_eq!(a.scheme(), b"NoOneKnowsThisScheme");
        assert_eq!(a.rest(), b"opaque-data=here");
        assert_eq!(a.param("opaque-data"), Some(&b"here"[..]));
        let b = Authorization::parse(b"Bearer mF_9.B5f-4.1JqM==").unwrap();
        assert_eq!(b.rest(), b"mF_9.B5f-4.1JqM==");
        assert_eq!(b.params().count(), 0);
        let n = WwwAuthenticate::parse(b"Negotiate").unwrap();
        assert_eq!((n.scheme(), n.rest()), (&b"Negotiate"[..], &b""[..]));
        assert_eq!(
            Authorization::parse(b"Basic \x00"),
            err(Syntax::Unexpected, 6)
        );
    }
}
