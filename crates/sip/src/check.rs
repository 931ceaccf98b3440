//! The strict check: types every known header of a message and reports the first malformed
//! one. The parse path does not do this (principle 6: a malformed optional header is carried
//! and never fails a call); `sbcd inspect`, the conformance tests and policies that strip
//! malformed headers do.

use crate::addr::{
    ContactHdr, DiversionHdr, FromHdr, GeolocationHdr, HistoryInfoHdr, PAssertedIdentityHdr,
    PPreferredIdentityHdr, PathHdr, RecordRouteHdr, ReferToHdr, ReferredByHdr, ReplyToHdr,
    RouteHdr, ServiceRouteHdr, ToHdr,
};
use crate::error::{Syntax, SyntaxError};
use crate::hdr;
use crate::lex::CommaSplit;
use crate::message::{Header, HeaderError, Message};
use crate::name::HeaderName;
use crate::typed::TypedHeader;
use crate::via::Via;

fn p<'a, T: TypedHeader<'a>>(v: &'a [u8]) -> Result<(), SyntaxError> {
    T::parse(v).map(|_| ())
}

/// Checks one value element of a known header. Headers without a typed view pass.
pub fn check_value(name: HeaderName, v: &[u8]) -> Result<(), SyntaxError> {
    use HeaderName as H;
    match name {
        H::Via => p::<Via>(v),
        H::From => p::<FromHdr>(v),
        H::To => p::<ToHdr>(v),
        H::Contact => p::<ContactHdr>(v),
        H::Route => p::<RouteHdr>(v),
        H::RecordRoute => p::<RecordRouteHdr>(v),
        H::Path => p::<PathHdr>(v),
        H::ServiceRoute => p::<ServiceRouteHdr>(v),
        H::ReferTo => p::<ReferToHdr>(v),
        H::ReferredBy => p::<ReferredByHdr>(v),
        H::PAssertedIdentity => p::<PAssertedIdentityHdr>(v),
        H::PPreferredIdentity => p::<PPreferredIdentityHdr>(v),
        H::HistoryInfo => p::<HistoryInfoHdr>(v),
        H::Diversion => p::<DiversionHdr>(v),
        H::ReplyTo => p::<ReplyToHdr>(v),
        H::Geolocation => p::<GeolocationHdr>(v),
        H::Require => p::<hdr::Require>(v),
        H::Supported => p::<hdr::Supported>(v),
        H::Unsupported => p::<hdr::Unsupported>(v),
        H::ProxyRequire => p::<hdr::ProxyRequire>(v),
        H::Allow => p::<hdr::Allow>(v),
        H::AllowEvents => p::<hdr::AllowEvents>(v),
        H::SessionExpires => p::<hdr::SessionExpires>(v),
        H::MinSe => p::<hdr::MinSe>(v),
        H::Replaces => p::<hdr::Replaces>(v),
        H::Reason => p::<hdr::Reason>(v),
        H::Privacy => p::<hdr::Privacy>(v),
        H::RetryAfter => p::<hdr::RetryAfter>(v),
        H::ContentType => p::<hdr::ContentType>(v),
        H::ContentId => p::<hdr::ContentId>(v),
        H::ContentDisposition => p::<hdr::ContentDisposition>(v),
        H::ContentEncoding => p::<hdr::ContentEncoding>(v),
        H::ContentLanguage => p::<hdr::ContentLanguage>(v),
        H::Accept => p::<hdr::Accept>(v),
        H::AcceptEncoding => p::<hdr::AcceptEncoding>(v),
        H::AcceptLanguage => p::<hdr::AcceptLanguage>(v),
        H::RSeq => p::<hdr::RSeq>(v),
        H::RAck => p::<hdr::RAck>(v),
        H::Event => p::<hdr::Event>(v),
        H::SubscriptionState => p::<hdr::SubscriptionState>(v),
        H::Priority => p::<hdr::Priority>(v),
        H::GeolocationRouting => p::<hdr::GeolocationRouting>(v),
        H::GeolocationError => p::<hdr::GeolocationError>(v),
        H::Expires => p::<hdr::Expires>(v),
        H::MinExpires => p::<hdr::MinExpires>(v),
        H::Date => p::<hdr::Date>(v),
        H::Warning => p::<hdr::Warning>(v),
        H::Timestamp => p::<hdr::Timestamp>(v),
        H::MimeVersion => p::<hdr::MimeVersion>(v),
        H::Authorization => p::<hdr::Authorization>(v),
        H::ProxyAuthorization => p::<hdr::ProxyAuthorization>(v),
        H::WwwAuthenticate => p::<hdr::WwwAuthenticate>(v),
        H::ProxyAuthenticate => p::<hdr::ProxyAuthenticate>(v),
        _ => Ok(()),
    }
}

/// Checks every element of one header line.
pub fn check_header(msg: &Message, h: &Header) -> Result<(), HeaderError> {
    let v = msg.value(h);
    let base = h.value.start as usize;
    let err = |e: SyntaxError| HeaderError {
        name: h.name,
        error: e.rebase(base),
    };
    if h.name == HeaderName::Other {
        return Ok(());
    }
    if !h.name.is_list() {
        return check_value(h.name, v).map_err(err);
    }
    if v.is_empty() && hdr::empty_list_allowed(h.name) {
        return Ok(());
    }
    for r in CommaSplit::new(v) {
        let (off, elem) = r.map_err(err)?;
        if elem.is_empty() {
            return Err(err(SyntaxError::new(Syntax::Empty, off)));
        }
        check_value(h.name, elem).map_err(|e| err(e.rebase(off)))?;
    }
    Ok(())
}

/// Checks every known header; the first malformed one is returned.
pub fn check_headers(msg: &Message) -> Result<(), HeaderError> {
    msg.headers().iter().try_for_each(|h| check_header(msg, h))
}

/// Every malformed header line (for stripping by policy or reporting).
pub fn malformed_headers(msg: &Message) -> impl Iterator<Item = (usize, HeaderError)> + '_ {
    msg.headers()
        .iter()
        .enumerate()
        .filter_map(|(i, h)| check_header(msg, h).err().map(|e| (i, e)))
}
