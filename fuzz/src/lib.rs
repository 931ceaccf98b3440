//! Shared walkers for the fuzz targets in `fuzz_targets/`.
//!
//! Every walker forces the lazy views of `sbc-sip` / `sbc-sdp` and asserts the properties the
//! crates document (ranges in bounds, spans slicing to the bytes they report, "validated at
//! parse time, so this cannot fail" accessors really not failing, reflexive URI equivalence).
//! A panic here is therefore either a crash inside a crate or a violated property: both are
//! findings.

#![allow(clippy::missing_panics_doc)]

use std::hint::black_box;
use std::ops::Range;

use sbc_sdp::{Attribute, Connection, Field, Line, Media, Sdp};
use sbc_sip::addr::{
    ContactHdr, DiversionHdr, FromHdr, GeolocationHdr, HistoryInfoHdr, NameAddr,
    PAssertedIdentityHdr, PPreferredIdentityHdr, PathHdr, RecordRouteHdr, ReferToHdr,
    ReferredByHdr, ReplyToHdr, RouteHdr, ServiceRouteHdr, ToHdr,
};
use sbc_sip::hdr;
use sbc_sip::lex::Params;
use sbc_sip::multipart::{parse_multipart, Multipart};
use sbc_sip::uri::{SipUri, Uri};
use sbc_sip::{
    check, check_request, check_response, Edits, HeaderName, Message, RequestPolicy, Span,
    TypedHeader, Via,
};

// ----- small helpers ----------------------------------------------------------------------

fn in_bounds(r: &Range<usize>, len: usize) -> bool {
    r.start <= r.end && r.end <= len
}

fn span_ok(s: Span, len: usize) -> bool {
    s.start <= s.end && (s.end as usize) <= len
}

fn walk_params(p: Params<'_>) {
    black_box(p.raw());
    black_box(p.is_empty());
    for (n, v) in p.iter() {
        black_box((n, v));
    }
    black_box(p.get("tag"));
    black_box(p.contains("lr"));
    black_box(p.validate().is_ok());
}

// ----- URIs and name-addr -------------------------------------------------------------------

/// Walks a parsed SIP URI; asserts reflexive equivalence and a sane decode.
pub fn walk_sip_uri(u: &SipUri<'_>) {
    black_box(u.scheme());
    for (n, v) in u.params_iter() {
        black_box((n, v));
    }
    for (n, v) in u.headers_iter() {
        black_box((n, v));
    }
    black_box((
        u.transport(),
        u.user_param(),
        u.is_phone(),
        u.lr(),
        u.maddr(),
        u.method(),
        u.port_or_default(),
        u.header("Replaces"),
        u.param("user"),
    ));
    let wh = u.without_headers();
    assert!(wh.len() <= u.raw.len() && u.raw.starts_with(wh));
    black_box(u.host.is_ip());
    assert!(
        u.host.equivalent(&u.host),
        "Host::equivalent not reflexive: {:?}",
        u.host
    );
    walk_params(u.params);
    let mut out = Vec::new();
    u.decode_user(&mut out);
    // Decoding only removes bytes (%HH -> one byte).
    assert!(out.len() <= u.user.map_or(0, <[u8]>::len));
    assert!(
        u.equivalent(u),
        "SipUri::equivalent not reflexive for {:?}",
        String::from_utf8_lossy(u.raw)
    );
}

/// Walks any URI.
pub fn walk_uri(u: &Uri<'_>) {
    black_box(u.raw());
    black_box(u.scheme());
    match u {
        Uri::Sip(s) => walk_sip_uri(s),
        Uri::Tel(t) => {
            black_box((t.number, t.global, t.phone_context(), t.param("isub")));
            for (n, v) in t.params_iter() {
                black_box((n, v));
            }
            walk_params(t.params);
        }
        Uri::Absolute(a) => {
            black_box((a.scheme, a.rest));
        }
    }
    black_box(u.as_sip());
    black_box(u.as_tel());
}

/// Walks a parsed name-addr.
pub fn walk_name_addr(na: &NameAddr<'_>) {
    black_box((na.raw, na.display, na.angle, na.tag(), na.param("expires")));
    let mut out = Vec::new();
    na.decode_display(&mut out);
    black_box(&out);
    walk_params(na.params);
    walk_uri(&na.uri);
}

// ----- messages -----------------------------------------------------------------------------

fn typed_errors_in_bounds<'a, T: TypedHeader<'a>>(msg: &'a Message, f: impl Fn(&T)) {
    let len = msg.as_bytes().len();
    for r in msg.typed_all::<T>() {
        match r {
            Ok(v) => f(&v),
            Err(e) => {
                assert_eq!(e.name, T::NAME);
                assert!(
                    e.error.at <= len,
                    "typed error offset {} past {}",
                    e.error.at,
                    len
                );
                black_box(e.to_string());
            }
        }
    }
    black_box(msg.typed::<T>().map(|r| r.is_ok()));
}

fn walk_typed_headers(msg: &Message) {
    typed_errors_in_bounds::<Via>(msg, |v| {
        black_box((v.raw, v.protocol, v.version, v.transport, v.host, v.port));
        black_box((
            v.branch(),
            v.has_rfc3261_branch(),
            v.received(),
            v.rport(),
            v.maddr(),
            v.ttl(),
            v.is_reliable(),
        ));
        walk_params(v.params);
    });
    typed_errors_in_bounds::<ContactHdr>(msg, |c| {
        black_box((c.is_star(), c.expires(), c.q()));
        if let Some(na) = c.addr() {
            walk_name_addr(na);
        }
    });
    typed_errors_in_bounds::<FromHdr>(msg, |h| walk_name_addr(h));
    typed_errors_in_bounds::<ToHdr>(msg, |h| walk_name_addr(h));
    typed_errors_in_bounds::<RouteHdr>(msg, |h| walk_name_addr(h));
    typed_errors_in_bounds::<RecordRouteHdr>(msg, |h| walk_name_addr(h));
    typed_errors_in_bounds::<PathHdr>(msg, |h| walk_name_addr(h));
    typed_errors_in_bounds::<ServiceRouteHdr>(msg, |h| walk_name_addr(h));
    typed_errors_in_bounds::<ReplyToHdr>(msg, |h| walk_name_addr(h));
    typed_errors_in_bounds::<PAssertedIdentityHdr>(msg, |h| walk_name_addr(h));
    typed_errors_in_bounds::<PPreferredIdentityHdr>(msg, |h| walk_name_addr(h));
    typed_errors_in_bounds::<GeolocationHdr>(msg, |h| walk_name_addr(h));
    typed_errors_in_bounds::<ReferToHdr>(msg, |h| {
        walk_name_addr(h);
        black_box((h.uri_without_headers(), h.replaces()));
        let mut out = Vec::new();
        black_box(h.decode_replaces(&mut out));
    });
    typed_errors_in_bounds::<ReferredByHdr>(msg, |h| {
        walk_name_addr(h);
        black_box(h.cid());
    });
    typed_errors_in_bounds::<HistoryInfoHdr>(msg, |h| {
        walk_name_addr(h);
        black_box(h.index());
    });
    typed_errors_in_bounds::<DiversionHdr>(msg, |h| {
        walk_name_addr(h);
        black_box((h.reason(), h.counter(), h.privacy(), h.screen()));
    });

    macro_rules! list_tokens {
        ($($t:ty),*) => {$(
            typed_errors_in_bounds::<$t>(msg, |v| {
                // "always ASCII once parsed"
                assert_eq!(v.as_str().as_bytes(), v.as_bytes());
                black_box(v.is("timer"));
            });
        )*};
    }
    list_tokens!(
        hdr::Require,
        hdr::Supported,
        hdr::Unsupported,
        hdr::ProxyRequire,
        hdr::Allow,
        hdr::ContentEncoding,
        hdr::ContentLanguage
    );
    macro_rules! text {
        ($($t:ty),*) => {$(
            typed_errors_in_bounds::<$t>(msg, |v| {
                // "checked to be UTF-8 at parse time"
                assert_eq!(v.as_str().as_bytes(), v.as_bytes());
            });
        )*};
    }
    text!(hdr::Subject, hdr::Server, hdr::UserAgent);

    typed_errors_in_bounds::<hdr::ContentType>(msg, |c| {
        black_box((c.mtype(), c.subtype(), c.boundary(), c.param("charset")));
        black_box(c.is("application", "sdp"));
        walk_params(c.params());
    });
    typed_errors_in_bounds::<hdr::Accept>(msg, |c| {
        black_box((
            c.mtype(),
            c.subtype(),
            c.q(),
            c.matches("application", "sdp"),
        ));
        walk_params(c.params());
    });
    typed_errors_in_bounds::<hdr::AcceptEncoding>(msg, |c| {
        black_box((c.coding(), c.q()));
        walk_params(c.params());
    });
    typed_errors_in_bounds::<hdr::AcceptLanguage>(msg, |c| {
        black_box((c.range(), c.q()));
        walk_params(c.params());
    });
    typed_errors_in_bounds::<hdr::ContentDisposition>(msg, |c| {
        black_box((c.disp_type(), c.handling(), c.is_required()));
        walk_params(c.params());
    });
    typed_errors_in_bounds::<hdr::ContentId>(msg, |c| {
        black_box((c.id(), c.left(), c.right()));
    });
    typed_errors_in_bounds::<hdr::MimeVersion>(msg, |c| {
        black_box((c.major(), c.minor()));
    });
    typed_errors_in_bounds::<hdr::Replaces>(msg, |c| {
        black_box((c.call_id(), c.to_tag(), c.from_tag(), c.early_only()));
        walk_params(c.params());
    });
    typed_errors_in_bounds::<hdr::Reason>(msg, |c| {
        black_box((c.protocol(), c.is_sip(), c.is_q850(), c.cause(), c.text()));
        walk_params(c.params());
    });
    typed_errors_in_bounds::<hdr::Privacy>(msg, |c| {
        black_box((c.as_bytes(), c.contains("id")));
        for v in c.values() {
            black_box(v);
        }
    });
    typed_errors_in_bounds::<hdr::Event>(msg, |c| {
        let t = c.event_type();
        black_box((
            t.as_bytes(),
            t.package(),
            t.templates(),
            t.is("refer"),
            c.id(),
        ));
        walk_params(c.params());
    });
    typed_errors_in_bounds::<hdr::AllowEvents>(msg, |c| {
        let t = c.event_type();
        black_box((t.as_bytes(), t.package(), t.templates(), c.is("refer")));
    });
    typed_errors_in_bounds::<hdr::SubscriptionState>(msg, |c| {
        black_box((c.state(), c.expires(), c.retry_after(), c.reason()));
        walk_params(c.params());
    });
    typed_errors_in_bounds::<hdr::Priority>(msg, |c| {
        black_box(c);
    });
    typed_errors_in_bounds::<hdr::GeolocationRouting>(msg, |c| {
        black_box(c);
    });
    typed_errors_in_bounds::<hdr::GeolocationError>(msg, |c| {
        black_box((c.code(), c.text()));
        walk_params(c.params());
    });
    typed_errors_in_bounds::<hdr::Expires>(msg, |c| {
        black_box(c.seconds());
    });
    typed_errors_in_bounds::<hdr::MinExpires>(msg, |c| {
        black_box(c.seconds());
    });
    typed_errors_in_bounds::<hdr::SessionExpires>(msg, |c| {
        black_box((c.seconds(), c.refresher()));
        walk_params(c.params());
    });
    typed_errors_in_bounds::<hdr::MinSe>(msg, |c| {
        black_box(c.seconds());
        walk_params(c.params());
    });
    typed_errors_in_bounds::<hdr::RetryAfter>(msg, |c| {
        black_box((c.seconds(), c.comment(), c.duration()));
        walk_params(c.params());
    });
    typed_errors_in_bounds::<hdr::RSeq>(msg, |c| {
        black_box(c.value());
    });
    typed_errors_in_bounds::<hdr::RAck>(msg, |c| {
        black_box((c.rseq(), c.cseq(), c.method()));
    });
    typed_errors_in_bounds::<hdr::Timestamp>(msg, |c| {
        black_box((c.value(), c.delay()));
    });
    typed_errors_in_bounds::<hdr::Date>(msg, |d| {
        black_box((
            d.weekday(),
            d.day(),
            d.month(),
            d.year(),
            d.hour(),
            d.minute(),
            d.second(),
            d.unix_time(),
        ));
    });
    typed_errors_in_bounds::<hdr::Warning>(msg, |w| {
        black_box((w.code(), w.agent(), w.text()));
    });
    macro_rules! auth {
        ($($t:ty),*) => {$(
            typed_errors_in_bounds::<$t>(msg, |a| {
                black_box((a.scheme(), a.is_digest(), a.rest(), a.param("realm")));
                for p in a.params() {
                    black_box(p);
                }
            });
        )*};
    }
    auth!(
        hdr::Authorization,
        hdr::ProxyAuthorization,
        hdr::WwwAuthenticate,
        hdr::ProxyAuthenticate
    );
}

/// Forces every lazy accessor of a parsed message and checks the invariants of the index.
pub fn exercise_message(msg: &Message) {
    let bytes = msg.as_bytes();
    let len = bytes.len();

    // Start line.
    let sl = msg.start_line_span();
    assert!(span_ok(sl, len));
    black_box((
        msg.start_line(),
        msg.is_request(),
        msg.method(),
        msg.method_bytes(),
    ));
    black_box((msg.version(), msg.status(), msg.reason()));
    if let Some(s) = msg.status() {
        assert!((100..=699).contains(&s));
        assert!(msg.request_uri_raw().is_none());
    }
    if msg.is_request() {
        // "validated at parse time, so this does not fail for requests"
        let raw = msg.request_uri_raw().expect("request without Request-URI");
        let u = msg.request_uri().unwrap_or_else(|| {
            panic!(
                "Request-URI {:?} validated at parse time but request_uri() is None",
                String::from_utf8_lossy(raw)
            )
        });
        assert_eq!(u.raw(), raw);
        walk_uri(&u);
    }

    // Critical headers.
    black_box((msg.call_id(), msg.cseq(), msg.branch(), msg.via_count()));
    black_box((msg.from_raw(), msg.to_raw(), msg.from_tag(), msg.to_tag()));
    black_box((msg.max_forwards(), msg.content_length()));
    for s in [msg.from_tag_span(), msg.to_tag_span(), msg.top_via_span()]
        .into_iter()
        .flatten()
    {
        assert!(span_ok(s, len));
    }
    if let Some(raw) = msg.top_via_raw() {
        // "The top Via, typed (validated at parse time)."
        let v = msg.top_via().unwrap_or_else(|| {
            panic!(
                "top Via {:?} validated at parse time but top_via() is None",
                String::from_utf8_lossy(raw)
            )
        });
        assert_eq!(v.branch(), msg.branch());
    }
    if let Some(cs) = msg.cseq() {
        assert!(span_ok(cs.method_span, len));
    }
    if let Some(cl) = msg.content_length() {
        assert_eq!(
            cl as usize,
            msg.body().len(),
            "body length differs from Content-Length"
        );
    }

    // Header index.
    let body_span = msg.body_span();
    assert!(span_ok(body_span, len));
    assert_eq!(
        body_span.end as usize, len,
        "message bytes go past the body"
    );
    assert_eq!(msg.header_end(), body_span.start as usize);
    assert_eq!(msg.body(), &bytes[body_span.range()]);
    assert_eq!(&msg.body_bytes()[..], msg.body());
    let mut prev_end = sl.end as usize;
    for h in msg.headers() {
        assert!(span_ok(h.line, len) && span_ok(h.value, len) && span_ok(h.name_span, len));
        assert!(
            h.line.start as usize >= prev_end,
            "header lines overlap or go backwards"
        );
        assert!(h.name_span.start == h.line.start && h.name_span.end <= h.line.end);
        assert!(h.value.start >= h.name_span.end && h.value.end <= h.line.end);
        assert!(h.line.end as usize <= msg.header_end());
        prev_end = h.line.end as usize;
        let name = msg.raw_name(h);
        assert_eq!(HeaderName::from_bytes(name), h.name);
        black_box(msg.value(h));
        assert!(msg.count(h.name) >= 1);
        assert!(msg.header(h.name).is_some());
        assert!(msg.get(h.name).is_some());
        assert!(
            msg.get_raw(name).is_some(),
            "get_raw misses a header that is present"
        );
        for (off, v) in msg.values(h.name) {
            assert!(off + v.len() <= len);
            assert_eq!(
                &bytes[off..off + v.len()],
                v,
                "values() offset does not match bytes"
            );
            assert_eq!(msg.offset_of(v), Some(off));
        }
        black_box(check::check_header(msg, h).is_ok());
        black_box(check::check_value(h.name, msg.value(h)).is_ok());
    }
    black_box(check::check_headers(msg).is_ok());
    for (i, e) in check::malformed_headers(msg) {
        assert!(i < msg.headers().len());
        assert!(e.error.at <= len);
    }

    walk_typed_headers(msg);

    // Validation.
    let policy = RequestPolicy::default();
    black_box(check_request(msg, &policy));
    black_box(check_response(msg));
    for t in sbc_sip::validate::unsupported_extensions(msg, &policy) {
        black_box(t);
    }

    // Builders (responses, CANCEL, ACK) must not panic on anything that parsed.
    if msg.is_request() {
        let mut out = Vec::new();
        let w = sbc_sip::build::response(msg, 486, None, Some(b"fz1"), &mut out);
        w.finish(None, b"");
        black_box(&out);
        let mut out = Vec::new();
        sbc_sip::build::cancel(msg, &mut out);
        black_box(&out);
    }

    // Bodies.
    walk_body(msg);

    // A message that carries Content-Length serializes byte for byte with no edits.
    if msg.content_length().is_some() {
        let mut out = Vec::new();
        let n = Edits::new()
            .write(msg, &mut out)
            .expect("no edits cannot overlap");
        assert_eq!(n, out.len());
        assert!(
            out == bytes,
            "no-edit serialization differs from the received bytes"
        );
    }
}

/// The multipart view when Content-Type is multipart with a boundary; the SDP view when the
/// body is application/sdp (also for SDP parts of a multipart body).
pub fn walk_body(msg: &Message) {
    let Some(Ok(ct)) = msg.typed::<hdr::ContentType>() else {
        return;
    };
    let body = msg.body();
    if ct.mtype().eq_ignore_ascii_case(b"multipart") {
        if let Some(b) = ct.boundary() {
            if let Ok(mp) = parse_multipart(body, b) {
                walk_multipart(&mp);
                for p in mp.iter() {
                    if p.is_type("application/sdp") {
                        if let Ok(sdp) = Sdp::parse(p.body()) {
                            walk_sdp(&sdp);
                        }
                    }
                }
            }
        }
    } else if ct.is("application", "sdp") {
        if let Ok(sdp) = Sdp::parse(body) {
            walk_sdp(&sdp);
        }
    }
}

// ----- multipart ----------------------------------------------------------------------------

/// Walks a multipart view; every range in bounds, parts ordered and non-overlapping.
pub fn walk_multipart<const N: usize>(mp: &Multipart<'_, N>) {
    let body = mp.body();
    let blen = body.len();
    assert!(mp.len() <= N);
    assert_eq!(mp.is_empty(), mp.iter().next().is_none());
    assert_eq!(mp.check_closed().is_ok(), mp.closed());
    let pre = mp.preamble_range();
    let epi = mp.epilogue_range();
    assert!(in_bounds(&pre, blen), "preamble {pre:?} out of {blen}");
    assert!(in_bounds(&epi, blen), "epilogue {epi:?} out of {blen}");
    assert_eq!(mp.preamble(), &body[pre.clone()]);
    assert_eq!(mp.epilogue(), &body[epi.clone()]);
    if !mp.closed() {
        assert!(epi.is_empty(), "epilogue present without close delimiter");
    }
    let mut prev_end = pre.end;
    let mut n = 0;
    for (i, p) in mp.iter().enumerate() {
        n += 1;
        let r = p.range();
        let hr = p.headers_range();
        let br = p.body_range();
        assert!(in_bounds(&r, blen), "part {i} range {r:?} out of {blen}");
        assert!(
            r.start >= prev_end,
            "part {i} {r:?} overlaps the previous one (ends {prev_end})"
        );
        assert!(
            hr.start == r.start && hr.end <= br.start && br.end == r.end,
            "part {i}: {r:?} {hr:?} {br:?}"
        );
        assert!(br.start <= br.end);
        prev_end = r.end;
        assert_eq!(p.raw(), &body[r.clone()]);
        assert_eq!(p.header_block(), &body[hr.clone()]);
        assert_eq!(p.body(), &body[br.clone()]);
        let got = mp.get(i).expect("get(i) for an iterated part");
        assert_eq!(got.range(), r);
        let mut hprev = hr.start;
        for h in p.headers() {
            let hrange = h.range();
            let vr = h.value_range();
            assert!(
                hrange.start >= hprev && hrange.end <= hr.end,
                "part header {hrange:?} outside {hr:?}"
            );
            assert!(
                vr.start >= hrange.start && vr.end <= hrange.end,
                "value {vr:?} outside {hrange:?}"
            );
            assert_eq!(&body[vr.clone()], h.value());
            assert!(body[hrange.clone()].starts_with(h.name()));
            hprev = hrange.end;
        }
        black_box((p.content_type(), p.content_disposition(), p.media_type()));
        walk_params(p.content_type_params());
        if let Some(t) = p.media_type() {
            if let Ok(t) = std::str::from_utf8(t) {
                assert!(mp.find_by_type(t).is_some());
            }
        }
        if let Some(id) = p.content_id() {
            assert!(
                mp.find_by_content_id(id).is_some(),
                "find_by_content_id misses {id:?}"
            );
        }
    }
    assert_eq!(n, mp.len());
    assert!(mp.get(mp.len()).is_none());
    if mp.closed() {
        assert!(epi.start >= prev_end, "epilogue starts inside a part");
    }
}

// ----- SDP ----------------------------------------------------------------------------------

/// A field must lie in the body and slice to the bytes it reports.
fn check_field(body: &[u8], sdp: &Sdp<'_>, f: Field<'_>) {
    let r = f.range();
    assert!(
        in_bounds(&r, body.len()),
        "field {f:?} out of body ({})",
        body.len()
    );
    assert_eq!(
        &body[r],
        f.as_bytes(),
        "field {f:?} does not slice to its bytes"
    );
    assert_eq!(f.len(), f.as_bytes().len());
    if !f.is_empty() {
        assert_eq!(sdp.offset_of(f.as_bytes()), Some(f.start()));
    }
    black_box((f.as_str(), f.to_u64(), f.trim()));
}

fn check_opt(body: &[u8], sdp: &Sdp<'_>, f: Option<Field<'_>>) {
    if let Some(f) = f {
        check_field(body, sdp, f);
    }
}

fn check_line(body: &[u8], sdp: &Sdp<'_>, l: Line<'_>) {
    check_field(body, sdp, l.raw());
    check_field(body, sdp, l.value());
    let r = l.range();
    let cr = l.content_range();
    assert!(in_bounds(&r, body.len()) && in_bounds(&cr, body.len()));
    assert!(
        cr.start == r.start && cr.end <= r.end,
        "content_range {cr:?} outside {r:?}"
    );
    assert_eq!(l.start(), r.start);
    assert_eq!(body[r.start], l.kind());
    assert!(l.value().start() >= r.start && l.value().end() <= r.end);
}

fn check_connection(body: &[u8], sdp: &Sdp<'_>, c: &Connection<'_>) {
    check_line(body, sdp, c.line());
    for f in [c.nettype(), c.addrtype(), c.address(), c.host()] {
        check_field(body, sdp, f);
    }
    check_opt(body, sdp, c.suffix());
    black_box((c.is_ip4(), c.is_ip6(), c.is_unspecified()));
}

fn check_attr(body: &[u8], sdp: &Sdp<'_>, a: &Attribute<'_>) {
    check_line(body, sdp, a.line());
    assert_eq!(a.range(), a.line().range());
    check_field(body, sdp, a.name());
    check_opt(body, sdp, a.value());
    black_box((a.is_standard(), a.is_ice(), a.is_named("rtpmap")));
    if let Some(d) = sbc_sdp::Direction::from_name(a.name()) {
        black_box((d.as_str(), d.reversed(), d.sends(), d.receives()));
    }
}

fn check_media(body: &[u8], sdp: &Sdp<'_>, m: &Media<'_>) {
    let r = m.range();
    assert!(in_bounds(&r, body.len()), "media range {r:?} out of body");
    assert!(r.start >= sdp.session_range().end);
    check_line(body, sdp, m.line());
    assert_eq!(m.line().kind(), b'm');
    assert_eq!(m.line().start(), r.start);
    for f in [m.media_type(), m.port_field(), m.proto(), m.formats_field()] {
        check_field(body, sdp, f);
    }
    check_opt(body, sdp, m.port_count_field());
    black_box((m.index(), m.port(), m.port_count(), m.is_secure()));
    for f in m.formats() {
        check_field(body, sdp, f.field());
        black_box(f.payload_type());
    }
    // Lookups by payload type rescan the section: a few are enough (keeps exec/s up).
    for pt in m.payload_types().take(8) {
        black_box((m.rtpmap(pt), m.fmtp(pt)));
    }
    for l in m.lines() {
        check_line(body, sdp, l);
        assert!(
            l.range().start >= r.start && l.range().end <= r.end,
            "media line outside its section"
        );
    }
    for c in m.connections() {
        check_connection(body, sdp, &c);
    }
    if let Some(c) = m.effective_connection() {
        check_connection(body, sdp, &c);
    }
    for b in m.bandwidths() {
        check_line(body, sdp, b.line());
        check_field(body, sdp, b.bwtype());
        check_field(body, sdp, b.value());
        black_box(b.bandwidth());
    }
    for a in m.attributes() {
        check_attr(body, sdp, &a);
    }
    for rm in m.rtpmaps().flatten() {
        check_attr(body, sdp, &rm.attribute());
        check_field(body, sdp, rm.payload_type_field());
        check_field(body, sdp, rm.encoding());
        check_field(body, sdp, rm.clock_rate_field());
        check_opt(body, sdp, rm.encoding_params());
        black_box((rm.payload_type(), rm.clock_rate(), rm.channels()));
    }
    for fm in m.fmtps().flatten() {
        check_attr(body, sdp, &fm.attribute());
        check_field(body, sdp, fm.format());
        check_field(body, sdp, fm.params());
        black_box(fm.payload_type());
        for (n, v) in fm.param_iter() {
            check_field(body, sdp, n);
            check_opt(body, sdp, v);
        }
        black_box(fm.param("profile-level-id"));
    }
    for c in m.crypto().flatten() {
        check_attr(body, sdp, &c.attribute());
        check_field(body, sdp, c.tag_field());
        check_field(body, sdp, c.suite());
        check_field(body, sdp, c.key_params_field());
        check_opt(body, sdp, c.session_params());
        black_box(c.tag());
        for sp in c.session_param_iter() {
            check_field(body, sdp, sp);
        }
        black_box(c.first_key());
        for kp in c.key_params() {
            check_field(body, sdp, kp.field());
            check_field(body, sdp, kp.method());
            check_field(body, sdp, kp.info());
            check_opt(body, sdp, kp.key());
            check_opt(body, sdp, kp.lifetime_field());
            black_box(kp.lifetime().map(|l| l.packets()));
            if let Some(mki) = kp.mki() {
                check_field(body, sdp, mki.field());
                check_field(body, sdp, mki.value_field());
                check_field(body, sdp, mki.length_field());
                black_box((mki.value(), mki.length()));
            }
        }
    }
    if let Some(rtcp) = m.rtcp() {
        check_attr(body, sdp, &rtcp.attribute());
        check_field(body, sdp, rtcp.port_field());
        check_opt(body, sdp, rtcp.nettype());
        check_opt(body, sdp, rtcp.addrtype());
        check_opt(body, sdp, rtcp.address());
        black_box(rtcp.port());
    }
    if let Some((d, a)) = m.direction_attribute() {
        check_attr(body, sdp, &a);
        black_box(d);
    }
    black_box((
        m.rtcp_mux(),
        m.direction(),
        m.ptime(),
        m.maxptime(),
        m.ice_lite(),
    ));
    for a in [m.ice_ufrag(), m.ice_pwd(), m.attribute("candidate")]
        .into_iter()
        .flatten()
    {
        check_attr(body, sdp, &a);
    }
    for a in m.candidates() {
        check_attr(body, sdp, &a);
    }
    check_opt(body, sdp, m.mid());
}

/// Walks every accessor of a parsed SDP; every field lies in the body and slices to its bytes.
pub fn walk_sdp(sdp: &Sdp<'_>) {
    let body = sdp.body();
    let sr = sdp.session_range();
    assert!(in_bounds(&sr, body.len()));
    check_line(body, sdp, sdp.version_line());
    let o = sdp.origin();
    check_line(body, sdp, o.line());
    for f in [
        o.username(),
        o.session_id_field(),
        o.session_version_field(),
        o.nettype(),
        o.addrtype(),
        o.address(),
    ] {
        check_field(body, sdp, f);
    }
    assert_eq!(o.session_id_field().to_u64(), Some(o.session_id()));
    assert_eq!(
        o.session_version_field().to_u64(),
        Some(o.session_version())
    );
    check_field(body, sdp, sdp.session_name());
    check_line(body, sdp, sdp.session_name_line());
    let t = sdp.timing();
    check_line(body, sdp, t.line());
    check_field(body, sdp, t.start());
    check_field(body, sdp, t.stop());
    black_box((t.start_time(), t.stop_time()));
    if let Some(c) = sdp.connection() {
        check_connection(body, sdp, c);
    }
    for b in sdp.bandwidths() {
        check_line(body, sdp, b.line());
        check_field(body, sdp, b.bwtype());
        check_field(body, sdp, b.value());
    }
    for a in sdp.attributes() {
        check_attr(body, sdp, &a);
        assert!(a.range().end <= sr.end);
    }
    black_box((sdp.direction(), sdp.ice_lite(), sdp.attribute("group")));
    for l in sdp.lines() {
        check_line(body, sdp, l);
    }
    for l in sdp.session_lines() {
        check_line(body, sdp, l);
        assert!(l.range().end <= sr.end);
    }
    let mut n = 0;
    let mut prev_end = sr.end;
    for m in sdp.media_iter() {
        assert_eq!(m.index(), n);
        assert!(m.range().start >= prev_end, "media sections overlap");
        prev_end = m.range().end;
        check_media(body, sdp, &m);
        n += 1;
    }
    assert_eq!(
        n,
        sdp.media_count(),
        "media_iter yields fewer sections than media_count"
    );
    assert!(sdp.media(sdp.media_count()).is_none());
}
