//! MIME-related headers: Content-Type, Accept*, Content-Disposition, Content-ID, MIME-Version.

use super::list::language_end;
use super::{
    digits_u32, eq_ci, err, expect_end, offset_of, param_once, param_q, params_at, scan_while,
    token_at, GEN_VALUE_EXTRA,
};
use crate::error::{Syntax, SyntaxError};
use crate::lex::{self, Params};
use crate::name::HeaderName;
use crate::typed::TypedHeader;

/// Extra bytes allowed in unquoted media-type parameter values. SIP's grammar says `token`
/// (RFC 3261 §25.1 `m-value`), but media types come from RFC 2045 §5.1 whose `token` also
/// admits these, and real boundaries use them.
const MIME_VALUE_EXTRA: &[u8] = b"#$&^{}|[]:";

/// `m-type SLASH m-subtype` with `SLASH = SWS "/" SWS` (RFC 3261 §25.1).
fn media_type(value: &[u8]) -> Result<(&[u8], &[u8], usize), SyntaxError> {
    let (ty, end) = token_at(value, 0)?;
    let p = lex::skip_lws(value, end);
    if value.get(p) != Some(&b'/') {
        return err(
            if p >= value.len() {
                Syntax::Empty
            } else {
                Syntax::Unexpected
            },
            p,
        );
    }
    let p = lex::skip_lws(value, p + 1);
    let (sub, end) = token_at(value, p)?;
    Ok((ty, sub, end))
}

/// Every media-type parameter needs a value (`m-parameter = m-attribute EQUAL m-value`).
fn require_values(value: &[u8], params: &Params<'_>) -> Result<(), SyntaxError> {
    match params.iter().find(|(_, v)| v.is_none()) {
        Some((n, _)) => err(Syntax::BadParam, offset_of(value, n)),
        None => Ok(()),
    }
}

/// `Content-Type: type/subtype *(;m-parameter)` (RFC 3261 §20.15, RFC 2045 §5.1), e.g.
/// `application/sdp`, `multipart/mixed;boundary="abc"`, `message/sipfrag;version=2.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentType<'a> {
    mtype: &'a [u8],
    subtype: &'a [u8],
    params: Params<'a>,
}

impl<'a> ContentType<'a> {
    /// The top-level type (`application`).
    pub fn mtype(&self) -> &'a [u8] {
        self.mtype
    }

    /// The subtype (`pidf+xml`).
    pub fn subtype(&self) -> &'a [u8] {
        self.subtype
    }

    /// All parameters, raw.
    pub fn params(&self) -> Params<'a> {
        self.params
    }

    /// A parameter value with surrounding quotes removed (RFC 2045 §5.1: quoted and unquoted
    /// values are equivalent); quoted-pairs stay escaped.
    pub fn param(&self, name: &str) -> Option<&'a [u8]> {
        self.params.get(name).flatten().map(lex::unquote)
    }

    /// The multipart `boundary` (RFC 2046 §5.1.1), unquoted.
    pub fn boundary(&self) -> Option<&'a [u8]> {
        self.param("boundary")
    }

    /// Type and subtype compared case-insensitively (RFC 2045 §5.1).
    pub fn is(&self, mtype: &str, subtype: &str) -> bool {
        eq_ci(self.mtype, mtype) && eq_ci(self.subtype, subtype)
    }
}

impl<'a> TypedHeader<'a> for ContentType<'a> {
    const NAME: HeaderName = HeaderName::ContentType;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let (mtype, subtype, end) = media_type(value)?;
        let params = params_at(value, end, MIME_VALUE_EXTRA)?;
        require_values(value, &params)?;
        Ok(ContentType {
            mtype,
            subtype,
            params,
        })
    }
}

/// One `Accept` media-range (RFC 3261 §20.1): `*/*`, `type/*` or `type/subtype`, with
/// media parameters and accept-params (`q`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accept<'a> {
    mtype: &'a [u8],
    subtype: &'a [u8],
    q: Option<u16>,
    params: Params<'a>,
}

impl<'a> Accept<'a> {
    /// The type, possibly `*`.
    pub fn mtype(&self) -> &'a [u8] {
        self.mtype
    }

    /// The subtype, possibly `*`.
    pub fn subtype(&self) -> &'a [u8] {
        self.subtype
    }

    /// The `q` preference in thousandths (`q=0.8` is 800), when present.
    pub fn q(&self) -> Option<u16> {
        self.q
    }

    /// All parameters, raw.
    pub fn params(&self) -> Params<'a> {
        self.params
    }

    /// True when this range covers `mtype/subtype`, honouring `*` wildcards.
    pub fn matches(&self, mtype: &str, subtype: &str) -> bool {
        (self.mtype == b"*" || eq_ci(self.mtype, mtype))
            && (self.subtype == b"*" || eq_ci(self.subtype, subtype))
    }
}

impl<'a> TypedHeader<'a> for Accept<'a> {
    const NAME: HeaderName = HeaderName::Accept;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let (mtype, subtype, end) = media_type(value)?;
        // `"*/*" / (m-type SLASH "*") / (m-type SLASH m-subtype)`: no `*/subtype`.
        if mtype == b"*" && subtype != b"*" {
            return err(Syntax::Unexpected, offset_of(value, subtype));
        }
        let params = params_at(value, end, MIME_VALUE_EXTRA)?;
        let q = param_q(value, &params)?;
        Ok(Accept {
            mtype,
            subtype,
            q,
            params,
        })
    }
}

/// One `Accept-Encoding` element (RFC 3261 §20.2): a content-coding or `*`, with `q`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptEncoding<'a> {
    coding: &'a [u8],
    q: Option<u16>,
    params: Params<'a>,
}

impl<'a> AcceptEncoding<'a> {
    /// The content-coding (`gzip`) or `*`.
    pub fn coding(&self) -> &'a [u8] {
        self.coding
    }

    /// The `q` preference in thousandths, when present.
    pub fn q(&self) -> Option<u16> {
        self.q
    }

    /// All parameters, raw.
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for AcceptEncoding<'a> {
    const NAME: HeaderName = HeaderName::AcceptEncoding;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        // `*` is a token character, so `codings = content-coding / "*"` is just a token.
        let (coding, end) = token_at(value, 0)?;
        let params = params_at(value, end, GEN_VALUE_EXTRA)?;
        let q = param_q(value, &params)?;
        Ok(AcceptEncoding { coding, q, params })
    }
}

/// One `Accept-Language` element (RFC 3261 §20.3): a language-range or `*`, with `q`, e.g.
/// `da`, `en-gb;q=0.8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptLanguage<'a> {
    range: &'a [u8],
    q: Option<u16>,
    params: Params<'a>,
}

impl<'a> AcceptLanguage<'a> {
    /// The language range (`en-gb`) or `*`.
    pub fn range(&self) -> &'a [u8] {
        self.range
    }

    /// The `q` preference in thousandths, when present.
    pub fn q(&self) -> Option<u16> {
        self.q
    }

    /// All parameters, raw.
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for AcceptLanguage<'a> {
    const NAME: HeaderName = HeaderName::AcceptLanguage;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let end = language_end(value, 0, true)?;
        let params = params_at(value, end, GEN_VALUE_EXTRA)?;
        let q = param_q(value, &params)?;
        Ok(AcceptLanguage {
            range: &value[..end],
            q,
            params,
        })
    }
}

/// The `handling` disposition parameter (RFC 3261 §20.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Handling<'a> {
    /// `handling=optional`: the body may be ignored if not understood.
    Optional,
    /// `handling=required`
    Required,
    /// `other-handling` token.
    Other(&'a [u8]),
}

/// `Content-Disposition: disp-type *(;disp-param)` (RFC 3261 §20.11), e.g.
/// `session;handling=optional`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentDisposition<'a> {
    disp_type: &'a [u8],
    handling: Option<Handling<'a>>,
    params: Params<'a>,
}

impl<'a> ContentDisposition<'a> {
    /// `render`, `session`, `icon`, `alert` or an extension token.
    pub fn disp_type(&self) -> &'a [u8] {
        self.disp_type
    }

    /// The `handling` parameter, when present.
    pub fn handling(&self) -> Option<Handling<'a>> {
        self.handling
    }

    /// Whether a UA that does not understand the body must fail the request: true unless
    /// `handling=optional`, since a missing value means `required` (RFC 3261 §20.11) and an
    /// unknown one is safest treated the same way.
    pub fn is_required(&self) -> bool {
        !matches!(self.handling, Some(Handling::Optional))
    }

    /// All parameters, raw.
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for ContentDisposition<'a> {
    const NAME: HeaderName = HeaderName::ContentDisposition;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let (disp_type, end) = token_at(value, 0)?;
        // RFC 2183 parameters (filename="...") are quoted; MIME tokens are allowed unquoted.
        let params = params_at(value, end, MIME_VALUE_EXTRA)?;
        let handling = match param_once(value, &params, "handling")? {
            None => None,
            Some((_, Some(v))) if eq_ci(v, "optional") => Some(Handling::Optional),
            Some((_, Some(v))) if eq_ci(v, "required") => Some(Handling::Required),
            Some((_, Some(v))) if lex::is_token_str(v) => Some(Handling::Other(v)),
            Some((n, v)) => return err(Syntax::BadParam, offset_of(value, v.unwrap_or(n))),
        };
        Ok(ContentDisposition {
            disp_type,
            handling,
            params,
        })
    }
}

/// `Content-ID: <id-left@id-right>` (RFC 2045 §7, RFC 2392 §2), the target of `cid:` URLs
/// such as RFC 6442 Geolocation references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentId<'a> {
    id: &'a [u8],
    at: usize,
}

impl<'a> ContentId<'a> {
    /// Everything between `<` and `>`, e.g. `target123@atlanta.example.com`.
    pub fn id(&self) -> &'a [u8] {
        self.id
    }

    /// The part before the last `@`.
    pub fn left(&self) -> &'a [u8] {
        self.id.get(..self.at).unwrap_or_default()
    }

    /// The part after the last `@`.
    pub fn right(&self) -> &'a [u8] {
        self.id.get(self.at + 1..).unwrap_or_default()
    }
}

impl<'a> TypedHeader<'a> for ContentId<'a> {
    const NAME: HeaderName = HeaderName::ContentId;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        match value.first() {
            None => return err(Syntax::Empty, 0),
            Some(b'<') => {}
            Some(_) => return err(Syntax::Unexpected, 0),
        }
        // msg-id characters: printable ASCII other than the brackets (RFC 5322 §3.6.4).
        let end = scan_while(value, 1, |b| {
            (0x21..=0x7e).contains(&b) && b != b'<' && b != b'>'
        });
        if value.get(end) != Some(&b'>') {
            return err(
                if end >= value.len() {
                    Syntax::UnterminatedAngle
                } else {
                    Syntax::Unexpected
                },
                end,
            );
        }
        let id = &value[1..end];
        let at = match id.iter().rposition(|&b| b == b'@') {
            Some(at) if at > 0 && at + 1 < id.len() => at,
            _ => return err(Syntax::Unexpected, 1),
        };
        expect_end(value, end + 1)?;
        Ok(ContentId { id, at })
    }
}

/// `MIME-Version: 1*DIGIT "." 1*DIGIT` (RFC 3261 §20.24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MimeVersion {
    major: u32,
    minor: u32,
}

impl MimeVersion {
    /// The major version (1).
    pub fn major(&self) -> u32 {
        self.major
    }

    /// The minor version (0).
    pub fn minor(&self) -> u32 {
        self.minor
    }
}

impl<'a> TypedHeader<'a> for MimeVersion {
    const NAME: HeaderName = HeaderName::MimeVersion;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let dot = scan_while(value, 0, lex::is_digit);
        if value.get(dot) != Some(&b'.') {
            return err(
                if value.is_empty() {
                    Syntax::Empty
                } else {
                    Syntax::BadNumber
                },
                dot,
            );
        }
        let major = digits_u32(&value[..dot], 0)?;
        let end = scan_while(value, dot + 1, lex::is_digit);
        let minor = digits_u32(&value[dot + 1..end], dot + 1)?;
        expect_end(value, end)?;
        Ok(MimeVersion { major, minor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_examples() {
        // RFC 3261 §20.15 "Content-Type: application/sdp".
        let c = ContentType::parse(b"application/sdp").unwrap();
        assert!(c.is("Application", "SDP"));
        assert!(c.params().is_empty());
        // RFC 3261 §20.15 "c: text/html; charset=ISO-8859-4".
        let c = ContentType::parse(b"text/html; charset=ISO-8859-4").unwrap();
        assert_eq!(c.param("CHARSET"), Some(&b"ISO-8859-4"[..]));
        let c = ContentType::parse(b"multipart/mixed;boundary=\"abc\"").unwrap();
        assert_eq!((c.mtype(), c.subtype()), (&b"multipart"[..], &b"mixed"[..]));
        assert_eq!(c.boundary(), Some(&b"abc"[..]));
        assert_eq!(c.params().get("boundary"), Some(Some(&b"\"abc\""[..])));
        // RFC 4475 §3.1.1.11 mpart01.
        let c = ContentType::parse(b"multipart/mixed;boundary=7a9cbec02ceef655").unwrap();
        assert_eq!(c.boundary(), Some(&b"7a9cbec02ceef655"[..]));
        let c = ContentType::parse(b"application/pidf+xml").unwrap();
        assert_eq!(c.subtype(), b"pidf+xml");
        let c = ContentType::parse(b"message/sipfrag;version=2.0").unwrap();
        assert!(c.is("message", "sipfrag"));
        assert_eq!(c.param("version"), Some(&b"2.0"[..]));
        assert!(ContentType::parse(b"multipart/signed; gzip=true").is_ok());
        let c =
            ContentType::parse(b"multipart/related ;\r\n type=\"application/sdp\" ;boundary={x|y}")
                .unwrap();
        assert_eq!(c.param("type"), Some(&b"application/sdp"[..]));
        assert_eq!(c.boundary(), Some(&b"{x|y}"[..]));
        assert!(ContentType::parse(b"text / plain").is_ok());
        // RFC 4475 §3.3.6 invut: an unknown type parses; rejecting it is the UA's business.
        assert!(ContentType::parse(b"application/unknownformat").is_ok());
    }

    #[test]
    fn content_type_errors() {
        assert_eq!(ContentType::parse(b""), err(Syntax::Empty, 0));
        assert_eq!(ContentType::parse(b"application"), err(Syntax::Empty, 11));
        assert_eq!(ContentType::parse(b"application/"), err(Syntax::Empty, 12));
        assert_eq!(
            ContentType::parse(b"application sdp"),
            err(Syntax::Unexpected, 12)
        );
        assert_eq!(
            ContentType::parse(b"text/plain;charset"),
            err(Syntax::BadParam, 11)
        );
        assert_eq!(
            ContentType::parse(b"text/plain;charset="),
            err(Syntax::BadParam, 19)
        );
        assert_eq!(
            ContentType::parse(b"text/plain;b=\"x"),
            err(Syntax::UnterminatedQuote, 13)
        );
        assert_eq!(
            ContentType::parse(b"text/plain x"),
            err(Syntax::Trailing, 11)
        );
        assert_eq!(
            ContentType::parse(b"text/plain/x"),
            err(Syntax::Trailing, 10)
        );
    }

    #[test]
    fn accept_examples() {
        // RFC 3261 §20.1 "Accept: application/sdp;level=1, application/x-private, text/html".
        let a = Accept::parse(b"application/sdp;level=1").unwrap();
        assert!(a.matches("application", "sdp"));
        assert_eq!(a.params().get("level"), Some(Some(&b"1"[..])));
        assert!(Accept::parse(b"application/x-private").is_ok());
        assert!(Accept::parse(b"text/html").is_ok());
        let a = Accept::parse(b"*/*").unwrap();
        assert!(a.matches("text", "plain"));
        let a = Accept::parse(b"text/*;q=0.5").unwrap();
        assert!(a.matches("TEXT", "html"));
        assert!(!a.matches("application", "sdp"));
        assert_eq!(a.q(), Some(500));
        // RFC 4475 §3.3.15 sdp01 and §3.1.1.9 semiuri values.
        assert!(Accept::parse(b"text/nobodyKnowsThis").is_ok());
        assert!(Accept::parse(b"message/sipfrag").is_ok());
        assert_eq!(Accept::parse(b"*/sdp"), err(Syntax::Unexpected, 2));
        assert_eq!(Accept::parse(b"text/*;q=2"), err(Syntax::BadNumber, 9));
        assert_eq!(Accept::parse(b"text/*;q"), err(Syntax::BadParam, 7));
    }

    #[test]
    fn accept_encoding_and_language() {
        // RFC 3261 §20.2 "Accept-Encoding: gzip".
        let e = AcceptEncoding::parse(b"gzip").unwrap();
        assert_eq!((e.coding(), e.q()), (&b"gzip"[..], None));
        assert_eq!(AcceptEncoding::parse(b"*;q=0").unwrap().q(), Some(0));
        assert_eq!(
            AcceptEncoding::parse(b"gzip;q=1.1"),
            err(Syntax::BadNumber, 7)
        );
        // RFC 3261 §20.3 "Accept-Language: da, en-gb;q=0.8, en;q=0.7".
        assert_eq!(AcceptLanguage::parse(b"da").unwrap().range(), b"da");
        let l = AcceptLanguage::parse(b"en-gb;q=0.8").unwrap();
        assert_eq!((l.range(), l.q()), (&b"en-gb"[..], Some(800)));
        assert_eq!(AcceptLanguage::parse(b"en;q=0.7").unwrap().q(), Some(700));
        assert_eq!(AcceptLanguage::parse(b"*").unwrap().range(), b"*");
        assert_eq!(AcceptLanguage::parse(b"en gb"), err(Syntax::Trailing, 3));
        assert_eq!(
            AcceptLanguage::parse(b"abcdefghi"),
            err(Syntax::Unexpected, 0)
        );
    }

    #[test]
    fn content_disposition_examples() {
        // RFC 3261 §20.11 / RFC 3665 "Content-Disposition: session;handling=optional".
        let d = ContentDisposition::parse(b"session;handling=optional").unwrap();
        assert_eq!(d.disp_type(), b"session");
        assert_eq!(d.handling(), Some(Handling::Optional));
        assert!(!d.is_required());
        let d = ContentDisposition::parse(b"render").unwrap();
        assert_eq!(d.handling(), None);
        assert!(d.is_required());
        let d = ContentDisposition::parse(b"icon ; handling=Required").unwrap();
        assert_eq!(d.handling(), Some(Handling::Required));
        let d = ContentDisposition::parse(b"alert;handling=maybe").unwrap();
        assert_eq!(d.handling(), Some(Handling::Other(b"maybe")));
        assert!(d.is_required());
        let d = ContentDisposition::parse(b"attachment;filename=\"a b.txt\"").unwrap();
        assert_eq!(d.params().get("filename"), Some(Some(&b"\"a b.txt\""[..])));
        assert_eq!(
            ContentDisposition::parse(b"session;handling"),
            err(Syntax::BadParam, 8)
        );
        assert_eq!(
            ContentDisposition::parse(b"session;handling=\"x\""),
            err(Syntax::BadParam, 17)
        );
        assert_eq!(
            ContentDisposition::parse(b";handling=optional"),
            err(Syntax::Unexpected, 0)
        );
    }

    #[test]
    fn content_id() {
        // RFC 6442 §4.1 Geolocation example target "cid:target123@atlanta.example.com".
        let c = ContentId::parse(b"<target123@atlanta.example.com>").unwrap();
        assert_eq!(c.id(), b"target123@atlanta.example.com");
        assert_eq!(
            (c.left(), c.right()),
            (&b"target123"[..], &b"atlanta.example.com"[..])
        );
        assert_eq!(ContentId::parse(b""), err(Syntax::Empty, 0));
        assert_eq!(ContentId::parse(b"target@x"), err(Syntax::Unexpected, 0));
        assert_eq!(
            ContentId::parse(b"<target@x"),
            err(Syntax::UnterminatedAngle, 9)
        );
        assert_eq!(ContentId::parse(b"<tar get@x>"), err(Syntax::Unexpected, 4));
        assert_eq!(ContentId::parse(b"<target>"), err(Syntax::Unexpected, 1));
        assert_eq!(ContentId::parse(b"<@x>"), err(Syntax::Unexpected, 1));
        assert_eq!(ContentId::parse(b"<a@>"), err(Syntax::Unexpected, 1));
        assert_eq!(ContentId::parse(b"<a@b> c"), err(Syntax::Trailing, 6));
    }

    #[test]
    fn mime_version() {
        // RFC 3261 §20.24 "MIME-Version: 1.0".
        let v = MimeVersion::parse(b"1.0").unwrap();
        assert_eq!((v.major(), v.minor()), (1, 0));
        assert_eq!(MimeVersion::parse(b""), err(Syntax::Empty, 0));
        assert_eq!(MimeVersion::parse(b"1"), err(Syntax::BadNumber, 1));
        assert_eq!(MimeVersion::parse(b".0"), err(Syntax::BadNumber, 0));
        assert_eq!(MimeVersion::parse(b"1."), err(Syntax::BadNumber, 2));
        assert_eq!(MimeVersion::parse(b"1.0 (x)"), err(Syntax::Trailing, 4));
        assert_eq!(
            MimeVersion::parse(b"99999999999.0"),
            err(Syntax::Overflow, 0)
        );
    }
}
