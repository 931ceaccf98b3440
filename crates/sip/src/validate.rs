//! The checks the SBC applies to a parsed message before it spends any state on it
//! (architecture principle 2). Order follows RFC 3261 §8.2 (method, then headers, then
//! extensions, then content) with the framing-level problems first; each rejection carries
//! the status the RFC (and RFC 4475 §3) prescribes.

use crate::lex;
use crate::message::{Message, Method};
use crate::name::HeaderName;
use crate::uri::Uri;

/// What the SBC supports, as far as request validation is concerned.
#[derive(Debug, Clone)]
pub struct RequestPolicy {
    /// Methods the SBC handles; a known method outside this list gets 405.
    pub allowed_methods: &'static [Method],
    /// Option tags the SBC understands in Require / Proxy-Require (RFC 3261 §8.2.2.3).
    pub supported_extensions: &'static [&'static str],
    /// Body types accepted on offer/answer requests (INVITE, UPDATE, PRACK, ACK).
    pub offer_content_types: &'static [&'static str],
}

/// The methods a Teams SBC handles (TI-16 plus PRACK/UPDATE/INFO/MESSAGE toward gateways).
pub const SBC_METHODS: &[Method] = &[
    Method::Invite,
    Method::Ack,
    Method::Bye,
    Method::Cancel,
    Method::Options,
    Method::Prack,
    Method::Update,
    Method::Info,
    Method::Message,
    Method::Refer,
    Method::Notify,
];

impl Default for RequestPolicy {
    fn default() -> Self {
        RequestPolicy {
            allowed_methods: SBC_METHODS,
            supported_extensions: &[
                "100rel",
                "timer",
                "replaces",
                "norefersub",
                "geolocation",
                "histinfo",
                "path",
            ],
            offer_content_types: &[
                "application/sdp",
                "multipart/mixed",
                "multipart/alternative",
            ],
        }
    }
}

/// The outcome of [`check_request`] / [`check_response`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Process it.
    Accept,
    /// Answer with this status (statelessly) and spend nothing else.
    Reject {
        /// Status code.
        status: u16,
        /// A short reason for logs (the wire reason phrase comes from the status).
        why: &'static str,
    },
    /// Discard silently (responses, or ACKs that cannot be answered).
    Drop {
        /// A short reason for logs and metrics.
        why: &'static str,
    },
}

const fn reject(status: u16, why: &'static str) -> Verdict {
    Verdict::Reject { status, why }
}

/// Validates a request. An ACK is never answered (RFC 3261 §17): where a request would be
/// rejected, an ACK is dropped instead.
pub fn check_request(msg: &Message, policy: &RequestPolicy) -> Verdict {
    let Some(method) = msg.method() else {
        return check_response(msg);
    };
    let v = request_verdict(msg, method, policy);
    match (method, v) {
        (Method::Ack, Verdict::Reject { why, .. }) => Verdict::Drop { why },
        _ => v,
    }
}

fn request_verdict(msg: &Message, method: Method, policy: &RequestPolicy) -> Verdict {
    // RFC 3261 §8.2 preamble / RFC 4475 badvers.
    if msg.version() != b"SIP/2.0" {
        return reject(505, "unsupported SIP version");
    }
    // RFC 3261 §8.1.1: To, From, CSeq, Call-ID, Max-Forwards, Via are mandatory; a missing
    // Max-Forwards is tolerated for RFC 2543 peers (RFC 4475 inv2543).
    if msg.call_id().is_none() || msg.from_raw().is_none() || msg.to_raw().is_none() {
        return reject(400, "missing Call-ID, From or To");
    }
    if msg.cseq().is_none() || msg.top_via_raw().is_none() {
        return reject(400, "missing CSeq or Via");
    }
    // RFC 4475 multi01: single-valued headers repeated.
    for h in [
        HeaderName::CallId,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CSeq,
        HeaderName::MaxForwards,
    ] {
        if msg.count(h) > 1 {
            return reject(400, "single-valued header repeated");
        }
    }
    // The parse checked From/To's structure and tags but their URIs only by shape; the full
    // URI grammar is applied here (RFC 3261 §8.2.2 / §21.4.1: 400 for a malformed request).
    // The B2BUA builds the other leg's From/To from these: they must be SIP, SIPS or tel
    // (RFC 4475 unksm2).
    for raw in [msg.from_raw(), msg.to_raw()].into_iter().flatten() {
        match crate::addr::parse_name_addr(raw) {
            Err(_) => return reject(400, "malformed From or To URI"),
            Ok(na) if matches!(na.uri, Uri::Absolute(_)) => {
                return reject(400, "From/To URI scheme not sip, sips or tel");
            }
            Ok(_) => {}
        }
    }
    // RFC 3261 §8.2.1: method inspection (RFC 4475 mismatch02 prefers 501).
    if method == Method::Other {
        return reject(501, "unknown method");
    }
    if !policy.allowed_methods.contains(&method) {
        return reject(405, "method not allowed");
    }
    // RFC 3261 §8.1.1.5: CSeq method matches the request method (RFC 4475 mismatch01).
    if msg
        .cseq()
        .is_some_and(|c| msg.slice(c.method_span) != msg.method_bytes())
    {
        return reject(400, "CSeq method does not match the request method");
    }
    // RFC 3261 §8.2.2.1: Request-URI scheme (RFC 4475 unkscm, novelsc).
    if matches!(msg.request_uri(), Some(Uri::Absolute(_)) | None) {
        return reject(416, "unsupported Request-URI scheme");
    }
    // RFC 3261 §16.3 step 3: a forwarding element answers Max-Forwards 0 with 483 (zeromf),
    // but may answer an OPTIONS addressed to itself: a Request-URI without a user part is
    // the SBC's own address (the TI-9/TI-10 keep-alive form), answered locally.
    let to_self = method == Method::Options
        && matches!(msg.request_uri(), Some(Uri::Sip(ref u)) if u.user.is_none());
    if msg.max_forwards() == Some(0) && !to_self {
        return reject(483, "Max-Forwards is zero");
    }
    // RFC 3261 §8.2.2.3 / §16.3 step 6: unknown option tags (RFC 4475 bext01).
    if unsupported_extensions(msg, policy).next().is_some() {
        return reject(420, "unsupported extension required");
    }
    if matches!(
        method,
        Method::Invite | Method::Update | Method::Prack | Method::Ack
    ) {
        // RFC 3261 §8.2.3: body type we cannot process (RFC 4475 invut).
        if !msg.body().is_empty() {
            let ct = msg
                .get(HeaderName::ContentType)
                .map(media_type)
                .unwrap_or(b"application/sdp");
            if !policy
                .offer_content_types
                .iter()
                .any(|t| ct.eq_ignore_ascii_case(t.as_bytes()))
            {
                return reject(415, "unsupported body type");
            }
        }
        // RFC 3261 §21.4.7 / RFC 4475 sdp01: the answer we would send is not acceptable.
        if method == Method::Invite && !accepts_sdp(msg) {
            return reject(406, "Accept does not include application/sdp");
        }
    }
    Verdict::Accept
}

/// Validates a response received by the SBC. The SBC sends every request with exactly one
/// Via of its own, so a response with any other shape is not ours to process; a Via
/// pointing at a broadcast or multicast address is dropped outright (RFC 4475 bcast).
pub fn check_response(msg: &Message) -> Verdict {
    if msg.call_id().is_none() || msg.cseq().is_none() || msg.top_via_raw().is_none() {
        return Verdict::Drop {
            why: "response missing Call-ID, CSeq or Via",
        };
    }
    if msg.from_raw().is_none() || msg.to_raw().is_none() {
        return Verdict::Drop {
            why: "response missing From or To",
        };
    }
    // The parse checked From/To's URIs only by shape (see `check_request`).
    if [msg.from_raw(), msg.to_raw()]
        .into_iter()
        .flatten()
        .any(|raw| crate::addr::parse_name_addr(raw).is_err())
    {
        return Verdict::Drop {
            why: "response with a malformed From or To URI",
        };
    }
    for (_, v) in msg.values(HeaderName::Via) {
        if let Ok(via) = crate::via::Via::parse(v) {
            if is_broadcast_or_multicast(via.host) {
                return Verdict::Drop {
                    why: "Via sent-by is a broadcast or multicast address",
                };
            }
        }
    }
    if msg.via_count() != 1 {
        return Verdict::Drop {
            why: "response carries Vias that are not ours",
        };
    }
    Verdict::Accept
}

/// The option tags in Require and Proxy-Require that the policy does not support, for the
/// Unsupported header of a 420 (RFC 3261 §20.40).
pub fn unsupported_extensions<'m>(
    msg: &'m Message,
    policy: &'m RequestPolicy,
) -> impl Iterator<Item = &'m [u8]> + 'm {
    msg.values(HeaderName::Require)
        .chain(msg.values(HeaderName::ProxyRequire))
        .map(|(_, t)| t)
        .filter(|t| {
            !policy
                .supported_extensions
                .iter()
                .any(|s| t.eq_ignore_ascii_case(s.as_bytes()))
        })
}

/// `type/subtype` of a Content-Type value, without parameters.
fn media_type(v: &[u8]) -> &[u8] {
    let end = memchr::memchr(b';', v).unwrap_or(v.len());
    lex::trim_lws(&v[..end])
}

fn accepts_sdp(msg: &Message) -> bool {
    let mut any = false;
    for (_, v) in msg.values(HeaderName::Accept) {
        any = true;
        let t = media_type(v);
        if t.eq_ignore_ascii_case(b"application/sdp")
            || t == b"*/*"
            || t.eq_ignore_ascii_case(b"application/*")
        {
            return true;
        }
    }
    // An empty or absent Accept means application/sdp (RFC 3261 §20.1).
    !any
}

fn is_broadcast_or_multicast(host: &[u8]) -> bool {
    let Ok(t) = core::str::from_utf8(host) else {
        return false;
    };
    if let Ok(ip) = t.parse::<std::net::Ipv4Addr>() {
        return ip.is_broadcast() || ip.is_multicast();
    }
    let inner = t.trim_start_matches('[').trim_end_matches(']');
    inner
        .parse::<std::net::Ipv6Addr>()
        .is_ok_and(|ip| ip.is_multicast())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::FromHdr;

    /// The parse checks From/To URIs by shape only; a well-shaped but malformed URI parses,
    /// fails typed access with the full grammar's error, and the message is still refused:
    /// a request with 400, a response dropped.
    #[test]
    fn malformed_from_to_uri_is_refused_after_the_parse() {
        for (from, to) in [
            ("<sip:alice@host:99999>;tag=1", "<sip:bob@example.com>"),
            ("<sip:alice@example.com>;tag=1", "<sip:bob@[::1>"),
        ] {
            let req = format!(
                "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
                 Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: c\r\n\
                 CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
            );
            let m = Message::parse(req.into_bytes()).unwrap();
            assert_eq!(m.from_tag(), Some(&b"1"[..]));
            let typed_from_ok = m.typed::<FromHdr>().unwrap().is_ok();
            assert_eq!(typed_from_ok, from.contains("example.com"));
            assert!(crate::check::check_headers(&m).is_err());
            match check_request(&m, &RequestPolicy::default()) {
                Verdict::Reject { status, .. } => assert_eq!(status, 400),
                v => panic!("{v:?}"),
            }
            let resp = format!(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: {from}\r\n\
                 To: {to};tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
            );
            let m = Message::parse(resp.into_bytes()).unwrap();
            assert!(matches!(check_response(&m), Verdict::Drop { .. }));
        }
    }
}
