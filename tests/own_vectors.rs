//! Our own vectors (Teams INVITE, emergency PIDF-LO INVITE, 200 OK, re-INVITE, REFER with a
//! 400-character Referred-By, a 10 KiB message, compact forms, comma-joined Via/Route) plus
//! the edit/serialize properties and the builders.

use bytes::Bytes;
use proptest::prelude::*;
use sbc_sip::addr::{GeolocationHdr, ReferredByHdr};
use sbc_sip::build;
use sbc_sip::check::check_headers;
use sbc_sip::frame::{Frame, StreamFramer};
use sbc_sip::hdr::ContentType;
use sbc_sip::multipart::parse_multipart;
use sbc_sip::{
    check_request, Edits, Framing, HeaderName, Message, Method, ParseErrorKind, ParserConfig,
    RequestPolicy, Verdict,
};
use sbc_tests::{own_vectors, vector};

fn own(name: &str) -> Message {
    Message::parse(vector("own", name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn serialize(m: &Message, e: &mut Edits) -> Vec<u8> {
    let mut out = Vec::new();
    e.write(m, &mut out).expect("no overlapping edits");
    out
}

#[test]
fn every_own_vector_parses_checks_and_round_trips() {
    let vs = own_vectors();
    assert!(vs.len() >= 12);
    for (name, bytes) in vs {
        let m = Message::parse(bytes.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_headers(&m).unwrap_or_else(|e| panic!("{name}: {e}"));
        if m.is_request() {
            assert_eq!(
                check_request(&m, &RequestPolicy::default()),
                Verdict::Accept,
                "{name}"
            );
        }
        let out = serialize(&m, &mut Edits::new());
        if m.content_length().is_some() {
            assert_eq!(
                out, bytes,
                "{name}: serialize without edits is byte-identical"
            );
        }
    }
}

#[test]
fn teams_invite_fields_and_sdes() {
    let m = own("teams-invite.sip");
    assert_eq!(
        m.get_raw(b"x-ms-tenantid"),
        Some(&b"4e1f2a3b-5c6d-4e7f-8a9b-0c1d2e3f4a5b"[..])
    );
    let uri = m.request_uri().unwrap();
    let u = uri.as_sip().unwrap();
    assert_eq!(u.host_raw, b"tenant1.sbc.example.com");
    assert_eq!(u.port, Some(5061));
    assert!(u.is_phone());
    let sdp = sbc_sdp::Sdp::parse(m.body()).unwrap();
    let audio = sdp.media(0).unwrap();
    let cryptos: Vec<_> = audio.crypto().collect();
    assert_eq!(cryptos.len(), 2);
    let first = cryptos[0].as_ref().unwrap();
    assert_eq!(first.suite().as_bytes(), b"AES_CM_128_HMAC_SHA1_80");
    let kp = first.key_params().next().unwrap();
    assert!(kp.mki().is_some(), "Microsoft's |2^31|1:1 carries an MKI");
}

#[test]
fn emergency_invite_location_survives_an_sdp_rewrite_byte_for_byte() {
    let raw = vector("own", "emergency-pidf.sip");
    let m = Message::parse(raw.clone()).unwrap();
    let geo: Vec<_> = m
        .typed_all::<GeolocationHdr>()
        .map(|g| g.unwrap())
        .collect();
    assert_eq!(geo.len(), 1);
    assert_eq!(geo[0].uri.raw(), b"cid:target123@atlanta.example.com");
    let ct = m.typed::<ContentType>().unwrap().unwrap();
    let boundary = ct.boundary().unwrap().to_vec();
    let mp = parse_multipart(m.body(), &boundary).unwrap();
    let parts: Vec<_> = mp.iter().collect();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].content_type(), Some(&b"application/sdp"[..]));
    assert_eq!(parts[1].content_type(), Some(&b"application/pidf+xml"[..]));
    assert_eq!(
        parts[1].content_id(),
        Some(&b"<target123@atlanta.example.com>"[..])
    );
    let pidf = parts[1].body().to_vec();

    // Anchor media: rewrite only the SDP part's body (longer than before).
    let new_sdp = b"v=0\r\no=sbc 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";
    let mut e = Edits::new();
    e.replace_in_body(&m, parts[0].body_range(), new_sdp);
    let out = serialize(&m, &mut e);
    let m2 = Message::parse(out).unwrap();
    assert_eq!(m2.content_length().unwrap() as usize, m2.body().len());
    let mp2 = parse_multipart(m2.body(), &boundary).unwrap();
    let parts2: Vec<_> = mp2.iter().collect();
    assert_eq!(parts2[0].body(), new_sdp);
    assert_eq!(parts2[1].body(), &pidf[..], "PIDF-LO byte-identical");
    // Every header, Geolocation included, is untouched.
    for (a, b) in m.headers().iter().zip(m2.headers()) {
        if a.name != HeaderName::ContentLength {
            assert_eq!(m.value(a), m2.value(b));
        }
    }
}

#[test]
fn refer_with_400_character_referred_by() {
    let m = own("refer-long-referred-by.sip");
    assert_eq!(m.method(), Some(Method::Refer));
    let rb = m.get(HeaderName::ReferredBy).unwrap();
    assert_eq!(rb.len(), 400);
    let typed = m.typed::<ReferredByHdr>().unwrap().unwrap();
    assert_eq!(typed.cid(), Some(&b"2UWQFN309shb3@atlanta.example.com"[..]));
}

#[test]
fn ten_kib_message_and_size_limit() {
    let raw = vector("own", "big-10k.sip");
    assert!(raw.len() > 10 * 1024);
    assert!(Message::parse(raw.clone()).is_ok());
    let cfg = ParserConfig {
        max_message_size: 8 * 1024,
        ..ParserConfig::default()
    };
    let e = Message::parse_with(Bytes::from(raw), &cfg, Framing::Datagram).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::MessageTooLarge);
    assert_eq!(e.status(), 513);
}

#[test]
fn compact_forms_resolve() {
    let m = own("compact.sip");
    for h in [
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::Contact,
        HeaderName::Supported,
        HeaderName::SessionExpires,
        HeaderName::Subject,
        HeaderName::ContentType,
        HeaderName::ContentLength,
    ] {
        assert!(m.header(h).is_some(), "{h:?}");
    }
    assert_eq!(m.from_tag(), Some(&b"88sja8x"[..]));
    assert_eq!(m.call_id(), Some(&b"compact-only-1@192.0.2.4"[..]));
    let sup: Vec<_> = m.values(HeaderName::Supported).map(|(_, v)| v).collect();
    assert_eq!(sup, vec![&b"timer"[..], b"100rel"]);
}

#[test]
fn comma_joined_via_and_route() {
    let m = own("comma-via-route.sip");
    assert_eq!(m.via_count(), 3);
    let routes: Vec<_> = m.values(HeaderName::Route).map(|(_, v)| v).collect();
    assert_eq!(routes.len(), 3);
    assert_eq!(routes[2], b"<sip:[2001:db8::30];lr>");
    // Pop our own Via (the first element of a comma-joined line), as a proxy would.
    let h = *m.header(HeaderName::Via).unwrap();
    let mut e = Edits::new();
    e.remove_element(&m, &h, m.top_via_span().unwrap());
    let m2 = Message::parse(serialize(&m, &mut e)).unwrap();
    assert_eq!(m2.via_count(), 2);
    assert_eq!(m2.top_via().unwrap().transport, b"TCP");
    assert_eq!(m2.branch(), Some(&b"z9hG4bKbye000"[..]));
}

/// The B2BUA's typical edit set: new Via, Contact, Call-ID and From tag; Record-Route
/// removed; X-MS-SBC added; Request-URI rewritten.
#[test]
fn typical_b2bua_edit_set() {
    let m = own("teams-invite.sip");
    let mut e = Edits::new();
    e.set_request_uri(&m, b"sip:+14255550100@192.0.2.50:5060;user=phone");
    e.remove_all(&m, HeaderName::Via);
    e.prepend_header(
        &m,
        b"Via",
        b"SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bKsbc0001;rport",
    );
    e.remove_all(&m, HeaderName::RecordRoute);
    e.replace_value(
        m.header(HeaderName::Contact).unwrap(),
        b"<sip:sbc@203.0.113.9:5060>",
    );
    e.replace_value(m.header(HeaderName::CallId).unwrap(), b"b-leg-0001");
    e.replace(m.from_tag_span().unwrap(), b"sbctag1");
    e.append_header(&m, b"X-MS-SBC", b"Example/TeamsSBC/0.1");
    let out = serialize(&m, &mut e);
    let m2 = Message::parse(out).unwrap();
    assert_eq!(
        m2.request_uri_raw(),
        Some(&b"sip:+14255550100@192.0.2.50:5060;user=phone"[..])
    );
    assert_eq!(m2.via_count(), 1);
    assert_eq!(m2.branch(), Some(&b"z9hG4bKsbc0001"[..]));
    assert!(m2.header(HeaderName::RecordRoute).is_none());
    assert_eq!(m2.call_id(), Some(&b"b-leg-0001"[..]));
    assert_eq!(m2.from_tag(), Some(&b"sbctag1"[..]));
    assert_eq!(
        m2.get(HeaderName::Contact),
        Some(&b"<sip:sbc@203.0.113.9:5060>"[..])
    );
    assert_eq!(
        m2.get(HeaderName::XMsSbc),
        Some(&b"Example/TeamsSBC/0.1"[..])
    );
    assert_eq!(m2.body(), m.body(), "SDP untouched");
    // Nothing of the A side's Via, Record-Route or Call-ID survives.
    let text = m2.as_bytes();
    for leak in [
        &b"52.114.132.46"[..],
        b"pstnhub.microsoft.com:5061;transport=tls;lr",
        b"5c9e2f0a7b1d",
    ] {
        assert!(
            !text.windows(leak.len()).any(|w| w == leak),
            "{}",
            String::from_utf8_lossy(leak)
        );
    }
}

#[test]
fn content_length_follows_the_body() {
    let m = own("invite-900.sip");
    let mut e = Edits::new();
    e.replace_body(&m, b"v=0\r\n");
    let m2 = Message::parse(serialize(&m, &mut e)).unwrap();
    assert_eq!(m2.content_length(), Some(5));
    assert_eq!(m2.body(), b"v=0\r\n");
    // A message that arrived without Content-Length gets one.
    let raw = b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\nbody";
    let m = Message::parse(&raw[..]).unwrap();
    let m2 = Message::parse(serialize(&m, &mut Edits::new())).unwrap();
    assert_eq!(m2.content_length(), Some(4));
}

#[test]
fn overlapping_edits_are_refused() {
    let m = own("bye.sip");
    let h = *m.header(HeaderName::CallId).unwrap();
    let mut e = Edits::new();
    e.remove_header(&h);
    e.replace_value(&h, b"x");
    assert!(e.write(&m, &mut Vec::new()).is_err());
}

#[test]
fn builders_follow_rfc3261() {
    let inv = own("invite-900.sip");
    let mut out = Vec::new();
    build::response(&inv, 180, None, Some(b"totag9"), &mut out).finish(None, b"");
    let r = Message::parse(out).unwrap();
    assert_eq!(r.status(), Some(180));
    assert_eq!(r.reason(), Some(&b"Ringing"[..]));
    assert_eq!(r.to_tag(), Some(&b"totag9"[..]));
    assert_eq!(r.from_tag(), inv.from_tag());
    assert_eq!(r.call_id(), inv.call_id());
    assert_eq!(
        r.cseq().map(|c| (c.seq, c.method)),
        inv.cseq().map(|c| (c.seq, c.method))
    );
    assert_eq!(r.branch(), inv.branch());

    let mut out = Vec::new();
    build::response(&inv, 100, None, Some(b"ignored"), &mut out).finish(None, b"");
    assert_eq!(
        Message::parse(out).unwrap().to_tag(),
        None,
        "no To tag on 100"
    );

    let mut out = Vec::new();
    build::cancel(&inv, &mut out);
    let c = Message::parse(out).unwrap();
    assert_eq!(c.method(), Some(Method::Cancel));
    assert_eq!(c.request_uri_raw(), inv.request_uri_raw());
    assert_eq!(c.branch(), inv.branch());
    assert_eq!(c.via_count(), 1);
    assert_eq!(c.cseq().unwrap().seq, inv.cseq().unwrap().seq);
    assert_eq!(c.cseq().unwrap().method, Method::Cancel);

    let mut out = Vec::new();
    build::response(&inv, 486, None, Some(b"busy1"), &mut out).finish(None, b"");
    let busy = Message::parse(out).unwrap();
    let mut out = Vec::new();
    build::ack_non2xx(&inv, &busy, &mut out);
    let a = Message::parse(out).unwrap();
    assert_eq!(a.method(), Some(Method::Ack));
    assert_eq!(a.to_tag(), Some(&b"busy1"[..]));
    assert_eq!(a.branch(), inv.branch());
    assert_eq!(a.cseq().unwrap().method, Method::Ack);
}

#[test]
fn limits_are_enforced_before_work() {
    let mut raw = b"OPTIONS sip:a@b SIP/2.0\r\n".to_vec();
    for i in 0..300 {
        raw.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    assert_eq!(
        Message::parse(raw).unwrap_err().kind,
        ParseErrorKind::TooManyHeaders
    );

    let mut raw = b"OPTIONS sip:a@b SIP/2.0\r\nSubject: ".to_vec();
    raw.extend(std::iter::repeat_n(b'a', 9000));
    raw.extend_from_slice(b"\r\n\r\n");
    assert_eq!(
        Message::parse(raw).unwrap_err().kind,
        ParseErrorKind::LineTooLong
    );

    let mut raw = b"OPTIONS sip:a@b SIP/2.0\r\n".to_vec();
    for i in 0..65 {
        raw.extend_from_slice(format!("Via: SIP/2.0/UDP h{i};branch=z9hG4bK{i}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    assert_eq!(
        Message::parse(raw).unwrap_err().kind,
        ParseErrorKind::TooManyVias
    );
}

#[test]
fn malformed_optional_header_is_carried_not_fatal() {
    let raw = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nSession-Expires: soon\r\nContent-Length: 0\r\n\r\n";
    let m = Message::parse(&raw[..]).unwrap();
    let e = check_headers(&m).unwrap_err();
    assert_eq!(e.name, HeaderName::SessionExpires);
    assert_eq!(
        serialize(&m, &mut Edits::new()),
        raw.to_vec(),
        "carried byte for byte"
    );
}

fn stream_of_vectors() -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut all = Vec::new();
    let mut msgs = Vec::new();
    for (_, b) in own_vectors() {
        let m = Message::parse(b).unwrap();
        if m.content_length().is_some() {
            all.extend_from_slice(m.as_bytes());
            msgs.push(m.as_bytes().to_vec());
        }
    }
    (all, msgs)
}

fn frame_in_chunks(all: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut framer = StreamFramer::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut got = Vec::new();
    let mut fed = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (all.len() + 1)).collect();
    points.push(all.len());
    points.sort_unstable();
    for p in points {
        if p < fed {
            continue;
        }
        buf.extend_from_slice(&all[fed..p]);
        fed = p;
        loop {
            match framer.poll(&buf) {
                Frame::Complete(n) => {
                    let m = Message::parse_with(
                        Bytes::copy_from_slice(&buf[..n]),
                        &ParserConfig::default(),
                        Framing::Stream,
                    )
                    .expect("framed message parses");
                    got.push(m.as_bytes().to_vec());
                    buf.drain(..n);
                }
                Frame::KeepAlive { len, .. } => {
                    buf.drain(..len);
                }
                Frame::NeedMore => break,
                Frame::Invalid(e) => panic!("{e}"),
            }
        }
    }
    got
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any chunking of a stream yields the same messages as the whole.
    #[test]
    fn framer_is_chunking_invariant(cuts in proptest::collection::vec(any::<usize>(), 0..40)) {
        let (all, msgs) = stream_of_vectors();
        prop_assert_eq!(frame_in_chunks(&all, &cuts), msgs);
    }

    /// parse → edit one header value → serialize → parse: the edited value is there and
    /// every other header and the body are untouched.
    #[test]
    fn edit_round_trip(pick in any::<prop::sample::Index>(), hpick in any::<prop::sample::Index>(),
                       value in "[A-Za-z0-9][A-Za-z0-9.=;@-]{0,40}") {
        let vs = own_vectors();
        let (_, bytes) = &vs[pick.index(vs.len())];
        let m = Message::parse(bytes.clone()).unwrap();
        // Only headers whose replacement cannot change how the message parses.
        let candidates: Vec<usize> = m.headers().iter().enumerate()
            .filter(|(_, h)| matches!(h.name, HeaderName::Other | HeaderName::Subject | HeaderName::UserAgent | HeaderName::Server | HeaderName::Allow | HeaderName::Supported))
            .map(|(i, _)| i).collect();
        prop_assume!(!candidates.is_empty());
        let i = candidates[hpick.index(candidates.len())];
        let mut e = Edits::new();
        e.replace_value(&m.headers()[i], value.as_bytes());
        let mut out = Vec::new();
        e.write(&m, &mut out).unwrap();
        let m2 = Message::parse(out).unwrap();
        prop_assert_eq!(m2.headers().len(), m.headers().len());
        for (j, (a, b)) in m.headers().iter().zip(m2.headers()).enumerate() {
            if j == i {
                prop_assert_eq!(m2.value(b), value.as_bytes());
            } else {
                prop_assert_eq!(m.value(a), m2.value(b));
                prop_assert_eq!(m.raw_name(a), m2.raw_name(b));
            }
        }
        prop_assert_eq!(m.body(), m2.body());
        prop_assert_eq!(m.start_line_span().len(), m2.start_line_span().len());
    }

    /// Parsing never panics, and whatever parses serializes back to itself.
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(m) = Message::parse(data) {
            let _ = check_headers(&m);
            let _ = check_request(&m, &RequestPolicy::default());
            if m.content_length().is_some() {
                let mut out = Vec::new();
                Edits::new().write(&m, &mut out).unwrap();
                prop_assert_eq!(&out[..], m.as_bytes());
            }
        }
    }
}

#[test]
fn empty_via_elements_are_critical_errors() {
    for v in [
        "SIP/2.0/UDP h1;branch=z9hG4bK1,,SIP/2.0/UDP h2;branch=z9hG4bK2",
        "SIP/2.0/UDP h1;branch=z9hG4bK1,",
    ] {
        let raw = format!("OPTIONS sip:a@b SIP/2.0\r\nVia: {v}\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
        let e = Message::parse(raw.into_bytes()).unwrap_err();
        assert!(
            matches!(
                e.kind,
                ParseErrorKind::BadCriticalHeader(HeaderName::Via, _)
            ),
            "{v}: {e}"
        );
    }
}

/// Found by the edit_roundtrip fuzz target: an empty header value followed by a
/// continuation line of white space only used to leave an inverted span and panic.
#[test]
fn whitespace_only_continuation_does_not_panic() {
    let m = Message::parse(&b"N p: SIP/1.0\r\nO:\r\n \r\n\r\n"[..]).unwrap();
    assert_eq!(m.get_raw(b"O"), Some(&b""[..]));
    let m = Message::parse(
        &b"OPTIONS sip:a@b SIP/2.0\r\nX-A:\r\n \r\n\t\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n"[..],
    )
    .unwrap();
    assert_eq!(m.get_raw(b"X-A"), Some(&b""[..]));
}

/// RFC 3261 §18.2.1 / RFC 3581 §4: the top Via of a response records the real source.
#[test]
fn responses_stamp_received_and_rport() {
    let inv = own("invite-900.sip"); // top Via: 198.51.100.10:5060 with a bare rport
    let mut out = Vec::new();
    let src: std::net::SocketAddr = "203.0.113.7:40123".parse().unwrap();
    build::response_from(&inv, Some(src), 180, None, Some(b"t"), &mut out).finish(None, b"");
    let r = Message::parse(out).unwrap();
    let via = r.top_via().unwrap();
    assert_eq!(via.received(), Some(&b"203.0.113.7"[..]));
    assert_eq!(via.rport(), Some(Some(40123)));
    assert_eq!(via.branch(), inv.branch());
    // sent-by equal to the source and no rport: nothing added.
    let mut out = Vec::new();
    let bye = own("ack.sip");
    let same: std::net::SocketAddr = "198.51.100.10:5060".parse().unwrap();
    let req = Message::parse(
        String::from_utf8_lossy(bye.as_bytes())
            .replace(";rport", "")
            .into_bytes(),
    )
    .unwrap();
    build::response_from(&req, Some(same), 200, None, None, &mut out).finish(None, b"");
    let r = Message::parse(out).unwrap();
    assert_eq!(r.top_via().unwrap().received(), None);
    assert_eq!(r.top_via_raw(), req.top_via_raw());
}
