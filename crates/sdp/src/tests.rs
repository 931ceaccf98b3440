//! Unit tests with realistic SDPs, malformed inputs and property tests.

use proptest::prelude::*;

use crate::*;

/// A Microsoft Teams Direct Routing offer (media bypass off): SDES-SRTP with two crypto lines,
/// ICE, RTCP port, rtcp-mux, Microsoft `x-` and `label` attributes. Keys are made up.
const TEAMS: &[u8] = b"v=0\r\n\
o=- 0 1 IN IP4 52.114.148.0\r\n\
s=session\r\n\
c=IN IP4 52.114.148.0\r\n\
b=CT:10000000\r\n\
t=0 0\r\n\
m=audio 52294 RTP/SAVP 104 9 103 111 18 0 8 97 101 13 118\r\n\
c=IN IP4 52.114.148.0\r\n\
a=rtcp:52295\r\n\
a=ice-ufrag:Pe9p\r\n\
a=ice-pwd:1ZVJfR5eqtCMQ0lQkS2Czh+Z\r\n\
a=candidate:1 1 UDP 2130706431 52.114.148.0 52294 typ host\r\n\
a=candidate:1 2 UDP 2130705918 52.114.148.0 52295 typ host\r\n\
a=x-candidate-ipv6:1 1 UDP 2130706431 2603:1063::1 52294 typ host\r\n\
a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:ZyuVXr4YxHZKoBq6hnxUhIvPMBIJxRDZw48gXiBN|2^31|1:1\r\n\
a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:HtQyU7eyh8kwDkUI0W8rT5YtBqGd2E0Rj/xhgzx9|2^31\r\n\
a=label:main-audio\r\n\
a=mid:1\r\n\
a=rtcp-mux\r\n\
a=rtpmap:104 SILK/16000\r\n\
a=fmtp:104 useinbandfec=1; usedtx=0\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:103 SILK/8000\r\n\
a=fmtp:103 useinbandfec=1; usedtx=0\r\n\
a=rtpmap:111 SIREN/16000\r\n\
a=fmtp:111 bitrate=16000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:97 RED/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=rtpmap:13 CN/8000\r\n\
a=rtpmap:118 CN/16000\r\n\
a=ptime:20\r\n\
a=x-ssrc-range:2181152768-2181152768\r\n\
a=x-source-streamid:1\r\n\
a=sendrecv\r\n";

/// A plain G.711 offer from a PSTN gateway (LF-less last line on purpose).
const GATEWAY: &[u8] = b"v=0\r\n\
o=AudiocodesGW 1702298344 1702297999 IN IP4 192.0.2.10\r\n\
s=Phone-Call\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 6010 RTP/AVP 8 0 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=maxptime:40\r\n\
a=sendrecv";

/// Hold re-INVITE: RFC 2543-style 0.0.0.0 plus session-level sendonly (RFC 3264 §8.4).
const HOLD: &[u8] = b"v=0\n\
o=gw 2890844526 2890844527 IN IP4 198.51.100.7\n\
s=-\n\
c=IN IP4 0.0.0.0\n\
t=0 0\n\
a=sendonly\n\
m=audio 49170 RTP/AVP 0 101\n\
a=rtpmap:0 PCMU/8000\n\
m=audio 49180 RTP/AVP 0\n\
a=inactive\n";

/// IPv6 everywhere, RFC 3605 with address, multicast-style suffix on a second c=.
const IPV6: &[u8] = b"v=0\r\n\
o=alice 2890844526 2890844527 IN IP6 2001:db8::1\r\n\
s= \r\n\
t=0 0\r\n\
m=audio 49170/2 RTP/AVP 0 97\r\n\
c=IN IP6 2001:db8::2\r\n\
a=rtcp:53020 IN IP6 2001:db8::3\r\n\
a=rtpmap:97 opus/48000/2\r\n\
m=video 0 RTP/AVP 31\r\n\
c=IN IP4 224.2.1.1/127/3\r\n";

/// Walks every accessor and checks that every span lies in the body and slices to exactly
/// the text the accessor reports. Used by unit tests and the property tests.
fn check_all(body: &[u8], sdp: &Sdp<'_>) {
    let ok = |f: Field<'_>| {
        assert!(f.end() <= body.len(), "{f:?} out of bounds");
        assert_eq!(&body[f.range()], f.as_bytes());
    };
    let ok_line = |l: Line<'_>| {
        ok(l.raw());
        ok(l.value());
        assert_eq!(l.range(), l.raw().range());
        assert!(l.content_range().end <= l.range().end);
        assert_eq!(body[l.start()], l.kind());
        assert_eq!(body[l.start() + 1], b'=');
        assert!(l.raw().as_bytes().ends_with(b"\n") || l.range().end == body.len());
    };
    let o = sdp.origin();
    ok_line(o.line());
    for f in [
        o.username(),
        o.session_id_field(),
        o.session_version_field(),
        o.nettype(),
        o.addrtype(),
        o.address(),
    ] {
        ok(f);
        assert!(!f.is_empty());
    }
    assert_eq!(o.session_id_field().to_u64(), Some(o.session_id()));
    ok(sdp.session_name());
    ok_line(sdp.version_line());
    ok(sdp.timing().start());
    ok(sdp.timing().stop());
    if let Some(c) = sdp.connection() {
        for f in [c.nettype(), c.addrtype(), c.address(), c.host()] {
            ok(f);
        }
    }
    assert!(sdp.session_range().end <= body.len());
    for b in sdp.bandwidths() {
        ok(b.bwtype());
        ok(b.value());
    }
    let mut prev_end = 0;
    for l in sdp.lines() {
        ok_line(l);
        assert!(l.start() >= prev_end, "lines overlap");
        prev_end = l.range().end;
        assert_eq!(sdp.offset_of(l.value().as_bytes()), Some(l.value().start()));
    }
    let mut attrs = sdp.attributes().count();
    let mut prev = sdp.session_range().end;
    for (i, m) in sdp.media_iter().enumerate() {
        assert_eq!(m.index(), i);
        assert_eq!(m.range().start, prev, "sections must tile the body");
        prev = m.range().end;
        ok_line(m.line());
        assert_eq!(m.line().kind(), b'm');
        ok(m.media_type());
        ok(m.port_field());
        assert_eq!(m.port_field().to_u64(), Some(u64::from(m.port())));
        if let Some(c) = m.port_count_field() {
            ok(c);
        }
        ok(m.proto());
        ok(m.formats_field());
        for f in m.formats() {
            ok(f.field());
        }
        for c in m.connections() {
            ok(c.address());
        }
        for a in m.attributes() {
            attrs += 1;
            ok_line(a.line());
            ok(a.name());
            if let Some(v) = a.value() {
                ok(v);
            }
        }
        for r in m.rtpmaps().flatten() {
            ok(r.encoding());
            ok(r.payload_type_field());
            ok(r.clock_rate_field());
        }
        for f in m.fmtps().flatten() {
            ok(f.format());
            ok(f.params());
            for (n, v) in f.param_iter() {
                ok(n);
                if let Some(v) = v {
                    ok(v);
                }
            }
        }
        for c in m.crypto().flatten() {
            ok(c.tag_field());
            ok(c.suite());
            ok(c.key_params_field());
            for k in c.key_params() {
                ok(k.field());
                ok(k.method());
                ok(k.info());
                if let Some(key) = k.key() {
                    ok(key);
                }
                if let Some(m) = k.mki() {
                    ok(m.value_field());
                    ok(m.length_field());
                }
            }
        }
        if let Some(r) = m.rtcp() {
            ok(r.port_field());
        }
        let _ = (
            m.direction(),
            m.ptime(),
            m.maxptime(),
            m.mid(),
            m.rtcp_mux(),
            m.ice_lite(),
        );
    }
    assert_eq!(
        prev,
        if sdp.media_count() == 0 {
            sdp.session_range().end
        } else {
            body.len()
        }
    );
    assert_eq!(attrs, sdp.lines().filter(|l| l.kind() == b'a').count());
}

#[test]
fn teams_offer() {
    let sdp = Sdp::parse(TEAMS).unwrap();
    check_all(TEAMS, &sdp);
    let o = sdp.origin();
    assert_eq!(o.username(), "-");
    assert_eq!((o.session_id(), o.session_version()), (0, 1));
    assert_eq!(&TEAMS[o.address().range()], b"52.114.148.0");
    assert_eq!(sdp.session_name(), "session");
    assert_eq!(sdp.connection().unwrap().address(), "52.114.148.0");
    let bw = sdp.bandwidths().next().unwrap();
    assert_eq!(
        (bw.bwtype().as_bytes(), bw.bandwidth()),
        (&b"CT"[..], Some(10_000_000))
    );
    assert_eq!(sdp.timing().start_time(), Some(0));
    assert_eq!(sdp.media_count(), 1);

    let m = sdp.media(0).unwrap();
    assert_eq!(m.media_type(), "audio");
    assert_eq!(m.port(), 52294);
    assert_eq!(&TEAMS[m.port_field().range()], b"52294");
    assert_eq!(m.proto(), "RTP/SAVP");
    assert!(m.is_secure());
    let pts: Vec<u8> = m.payload_types().collect();
    assert_eq!(pts, [104, 9, 103, 111, 18, 0, 8, 97, 101, 13, 118]);
    assert_eq!(m.range(), sdp.session_range().end..TEAMS.len());
    assert_eq!(m.connection().unwrap().host(), "52.114.148.0");

    let silk = m.rtpmap(104).unwrap();
    assert_eq!(
        (
            silk.encoding().as_bytes(),
            silk.clock_rate(),
            silk.channels()
        ),
        (&b"SILK"[..], 16000, None)
    );
    assert_eq!(m.rtpmap(101).unwrap().encoding(), "telephone-event");
    assert_eq!(m.rtpmap(118).unwrap().clock_rate(), 16000);
    assert!(m.rtpmap(55).is_none());
    assert_eq!(m.fmtp(101).unwrap().params(), "0-16");
    let f104 = m.fmtp(104).unwrap();
    let dtx = f104.param("usedtx").unwrap().unwrap();
    assert_eq!(dtx, "0");
    assert_eq!(dtx.start(), f104.params().end() - 1);
    assert_eq!(m.fmtp(18).unwrap().param("annexb").unwrap().unwrap(), "no");

    let cryptos: Vec<Crypto<'_>> = m.crypto().map(Result::unwrap).collect();
    assert_eq!(cryptos.len(), 2);
    let c = cryptos[0];
    assert_eq!(c.tag(), 2);
    assert_eq!(c.suite(), "AES_CM_128_HMAC_SHA1_80");
    let k = c.first_key().unwrap();
    assert_eq!(k.method(), "inline");
    assert_eq!(k.key().unwrap(), "ZyuVXr4YxHZKoBq6hnxUhIvPMBIJxRDZw48gXiBN");
    assert_eq!(k.lifetime(), Some(Lifetime::PowerOfTwo(31)));
    assert_eq!(k.lifetime().unwrap().packets(), Some(1 << 31));
    let mki = k.mki().unwrap();
    assert_eq!((mki.value(), mki.length()), (1, 1));
    assert_eq!(&TEAMS[mki.field().range()], b"1:1");
    assert!(c.session_params().is_none());
    let c3 = cryptos[1].first_key().unwrap();
    assert_eq!(cryptos[1].tag(), 3);
    assert_eq!(c3.lifetime_field().unwrap(), "2^31");
    assert!(c3.mki().is_none());

    let rtcp = m.rtcp().unwrap();
    assert_eq!((rtcp.port(), rtcp.address()), (52295, None));
    assert!(m.rtcp_mux());
    assert_eq!(m.direction(), Direction::SendRecv);
    assert_eq!(m.direction_attribute().unwrap().1.range().end, TEAMS.len());
    assert_eq!(m.ptime(), Some(20));
    assert_eq!(m.ice_ufrag().unwrap().value().unwrap(), "Pe9p");
    assert_eq!(
        m.ice_pwd().unwrap().value().unwrap(),
        "1ZVJfR5eqtCMQ0lQkS2Czh+Z"
    );
    assert!(!m.ice_lite() && !sdp.ice_lite());
    assert_eq!(m.candidates().count(), 2);
    assert_eq!(m.mid().unwrap(), "1");

    // The Teams policy: what would be stripped towards a gateway.
    let stripped: Vec<&[u8]> = m
        .attributes()
        .filter(|a| !a.is_standard())
        .map(|a| a.name().as_bytes())
        .collect();
    assert_eq!(
        stripped,
        [
            &b"ice-ufrag"[..],
            b"ice-pwd",
            b"candidate",
            b"candidate",
            b"x-candidate-ipv6",
            b"label",
            b"mid",
            b"x-ssrc-range",
            b"x-source-streamid"
        ]
    );
    assert_eq!(m.attributes().filter(|a| a.is_ice()).count(), 5);
    // Deleting a line: the range covers the line end, so removal leaves valid SDP.
    let label = m.attribute("label").unwrap();
    assert_eq!(&TEAMS[label.range()], b"a=label:main-audio\r\n");
    let mut edited = TEAMS[..label.range().start].to_vec();
    edited.extend_from_slice(&TEAMS[label.range().end..]);
    let e = Sdp::parse(&edited).unwrap();
    assert!(e.media(0).unwrap().attribute("label").is_none());
    assert_eq!(e.media(0).unwrap().crypto().count(), 2);
}

#[test]
fn gateway_g711_and_rewrite_by_spans() {
    let sdp = Sdp::parse(GATEWAY).unwrap();
    check_all(GATEWAY, &sdp);
    assert_eq!(sdp.origin().session_version(), 1702297999);
    let m = sdp.media(0).unwrap();
    assert_eq!(m.proto(), "RTP/AVP");
    assert!(!m.is_secure());
    assert_eq!(m.payload_types().collect::<Vec<_>>(), [8, 0, 101]);
    assert_eq!(m.rtpmap(8).unwrap().encoding(), "PCMA");
    assert_eq!((m.ptime(), m.maxptime()), (Some(20), Some(40)));
    assert!(m.connection().is_none());
    assert_eq!(m.effective_connection().unwrap().address(), "192.0.2.10");
    assert!(m.crypto().next().is_none());
    assert_eq!(m.direction(), Direction::SendRecv);
    // Last line without a line end: its range ends at the body end.
    let last = sdp.lines().last().unwrap();
    assert_eq!(&GATEWAY[last.range()], b"a=sendrecv");

    // Apply an edit list: session c= address, m= port and proto, in descending order.
    let c = sdp.connection().unwrap().address().range();
    let port = m.port_field().range();
    let proto = m.proto().range();
    let mut out = GATEWAY.to_vec();
    for (r, new) in [
        (proto, &b"RTP/SAVP"[..]),
        (port, b"40000"),
        (c, b"203.0.113.5"),
    ] {
        out.splice(r, new.iter().copied());
    }
    let e = Sdp::parse(&out).unwrap();
    assert_eq!(e.connection().unwrap().address(), "203.0.113.5");
    let em = e.media(0).unwrap();
    assert_eq!(
        (em.port(), em.proto().as_bytes()),
        (40000, &b"RTP/SAVP"[..])
    );
    assert_eq!(em.rtpmaps().count(), 3);
}

#[test]
fn hold_sdp_bare_lf() {
    let sdp = Sdp::parse(HOLD).unwrap();
    check_all(HOLD, &sdp);
    let c = sdp.connection().unwrap();
    assert!(c.is_unspecified() && c.is_ip4());
    assert_eq!(sdp.direction(), Some(Direction::SendOnly));
    assert_eq!(sdp.media_count(), 2);
    let m0 = sdp.media(0).unwrap();
    assert_eq!(
        m0.direction(),
        Direction::SendOnly,
        "inherits the session-level attribute"
    );
    assert!(m0.direction_attribute().is_none());
    assert_eq!(Direction::SendOnly.reversed(), Direction::RecvOnly);
    let m1 = sdp.media(1).unwrap();
    assert_eq!(m1.direction(), Direction::Inactive);
    assert_eq!(&HOLD[m1.range()], b"m=audio 49180 RTP/AVP 0\na=inactive\n");
    assert_eq!(
        &HOLD[sdp.attribute("sendonly").unwrap().range()],
        b"a=sendonly\n"
    );
    assert!(sdp.media(2).is_none());
}

#[test]
fn ipv6_and_multicast() {
    let sdp = Sdp::parse(IPV6).unwrap();
    check_all(IPV6, &sdp);
    assert!(sdp.connection().is_none());
    assert_eq!(sdp.origin().address(), "2001:db8::1");
    assert_eq!(sdp.origin().addrtype(), "IP6");
    assert_eq!(sdp.session_name(), " ");
    let m = sdp.media(0).unwrap();
    assert_eq!((m.port(), m.port_count()), (49170, Some(2)));
    let c = m.connection().unwrap();
    assert!(c.is_ip6());
    assert_eq!(c.address(), "2001:db8::2");
    let r = m.rtcp().unwrap();
    assert_eq!(r.port(), 53020);
    assert_eq!(r.address().unwrap(), "2001:db8::3");
    assert_eq!(r.addrtype().unwrap(), "IP6");
    assert_eq!(m.rtpmap(97).unwrap().channels(), Some(2));
    let v = sdp.media(1).unwrap();
    assert_eq!(v.port(), 0);
    let vc = v.connection().unwrap();
    assert_eq!(vc.address(), "224.2.1.1/127/3");
    assert_eq!(vc.host(), "224.2.1.1");
    assert_eq!(vc.suffix().unwrap(), "127/3");
    assert_eq!(&IPV6[vc.address().range()], b"224.2.1.1/127/3");
}

#[test]
fn liberal_inputs() {
    // Session lines in another order, an unknown line type, a trailing blank line.
    let body = b"v=0\r\ns=x\r\nt=0 0\r\nX=whatever\r\no=- 1 1 IN IP4 10.0.0.1\r\nm=audio 1 RTP/AVP\r\n\r\n";
    let sdp = Sdp::parse(body).unwrap();
    check_all(body, &sdp);
    assert!(sdp.lines().any(|l| l.kind() == b'X'));
    let m = sdp.media(0).unwrap();
    assert_eq!(m.formats().count(), 0);
    assert!(m.formats_field().is_empty());
    // Session-only SDP (no media) is structurally valid.
    let s = Sdp::parse(b"v=0\no=- 1 1 IN IP4 h\ns=-\nt=0 0").unwrap();
    assert_eq!(s.media_count(), 0);
    assert!(s.media_iter().next().is_none());
}

#[test]
fn crypto_variants() {
    let body = b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/SAVP 0\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|1048576|7:4;inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MTIz KDR=1 UNENCRYPTED_SRTCP\r\n\
a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:ZyuVXr4YxHZKoBq6hnxUhIvPMBIJxRDZw48gXiBN|2^31|1:1|2^20\r\n\
a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:abc\r\n\
a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:abc|1:200\r\n\
a=crypto:5 AES_CM_128_HMAC_SHA1_80\r\n";
    let sdp = Sdp::parse(body).unwrap();
    check_all(body, &sdp);
    let m = sdp.media(0).unwrap();
    let all: Vec<_> = m.crypto().collect();
    assert_eq!(all.len(), 5);
    let c = all[0].unwrap();
    let keys: Vec<KeyParam<'_>> = c.key_params().collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].lifetime(), Some(Lifetime::Packets(1_048_576)));
    assert_eq!(
        (
            keys[0].mki().unwrap().value(),
            keys[0].mki().unwrap().length()
        ),
        (7, 4)
    );
    assert_eq!(
        keys[1].key().unwrap(),
        "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MTIz"
    );
    assert!(keys[1].lifetime().is_none());
    assert_eq!(c.session_params().unwrap(), "KDR=1 UNENCRYPTED_SRTCP");
    assert_eq!(c.session_param_iter().count(), 2);
    // Lifetime after MKI, non-numeric tag, MKI length over 128, no key-params.
    for (i, r) in all.iter().enumerate().skip(1) {
        let e = r.unwrap_err();
        assert_eq!(e.kind, SdpErrorKind::BadAttribute, "crypto #{i}");
        assert!(e.offset < body.len());
    }
    assert_eq!(
        all[1].unwrap_err().offset,
        body.windows(5).position(|w| w == b"2^20\r").unwrap()
    );
}

fn err(body: &[u8]) -> SdpError {
    Sdp::parse(body).unwrap_err()
}

#[test]
fn malformed_inputs() {
    use SdpErrorKind as K;
    let base = b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n";
    assert_eq!(err(b""), SdpError::new(K::Empty, 0));
    assert_eq!(
        err(b"o=- 1 1 IN IP4 h\r\nv=0\r\n"),
        SdpError::new(K::VersionNotFirst, 0)
    );
    assert_eq!(err(b"\r\nv=0\r\n"), SdpError::new(K::VersionNotFirst, 0));
    assert_eq!(err(b"v=1\r\n"), SdpError::new(K::BadVersion, 2));
    let mut b = base.to_vec();
    b.extend_from_slice(b"this is not sdp\r\n");
    assert_eq!(err(&b), SdpError::new(K::MissingEquals, base.len()));
    let mut b = base.to_vec();
    b.extend_from_slice(b"1=x\r\n");
    assert_eq!(err(&b), SdpError::new(K::BadLineType, base.len()));
    let mut b = base.to_vec();
    b.extend_from_slice(b"a\n");
    assert_eq!(err(&b), SdpError::new(K::MissingEquals, base.len()));
    assert_eq!(
        err(b"v=0\ns=-\nt=0 0\nm=audio 1 RTP/AVP 0\n"),
        SdpError::new(K::MissingOrigin, 14)
    );
    assert_eq!(
        err(b"v=0\no=- 1 1 IN IP4 h\nt=0 0\n").kind,
        K::MissingSessionName
    );
    assert_eq!(
        err(b"v=0\no=- 1 1 IN IP4 h\ns=-\n"),
        SdpError::new(K::MissingTiming, 25)
    );
    assert_eq!(
        err(b"v=0\no=- 1 1 IN IP4 h\no=- 1 1 IN IP4 h\n"),
        SdpError::new(K::DuplicateLine, 21)
    );
    assert_eq!(err(b"v=0\nv=0\n").kind, K::DuplicateLine);
    // o= with a non-numeric sess-version, too few fields, a u64 overflow.
    assert_eq!(
        err(b"v=0\no=- 1 x IN IP4 h\n"),
        SdpError::new(K::BadOrigin, 10)
    );
    assert_eq!(err(b"v=0\no=- 1 1 IN IP4\n").kind, K::BadOrigin);
    assert_eq!(
        err(b"v=0\no=- 18446744073709551616 1 IN IP4 h\n"),
        SdpError::new(K::BadOrigin, 8)
    );
    assert_eq!(
        err(b"v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4\n").kind,
        K::BadConnection
    );
    assert_eq!(err(b"v=0\no=- 1 1 IN IP4 h\ns=-\nt=0\n").kind, K::BadTiming);
    let mut b = base.to_vec();
    b.extend_from_slice(b"m=audio 70000 RTP/AVP 0\r\n");
    assert_eq!(err(&b), SdpError::new(K::BadMedia, base.len() + 8));
    let mut b = base.to_vec();
    b.extend_from_slice(b"m=audio 7/x RTP/AVP 0\r\n");
    assert_eq!(err(&b), SdpError::new(K::BadMedia, base.len() + 10));
    let mut b = base.to_vec();
    b.extend_from_slice(b"m=audio 7\r\n");
    assert_eq!(err(&b).kind, K::BadMedia);
    // Media-level c= is validated too.
    let mut b = base.to_vec();
    b.extend_from_slice(b"m=audio 7 RTP/AVP 0\r\nc=IN\r\n");
    assert_eq!(err(&b).kind, K::BadConnection);
}

#[test]
fn limits() {
    let mut b = b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n".to_vec();
    for _ in 0..MAX_MEDIA {
        b.extend_from_slice(b"m=audio 9 RTP/AVP 0\r\n");
    }
    let sdp = Sdp::parse(&b).unwrap();
    assert_eq!(sdp.media_count(), MAX_MEDIA);
    assert_eq!(sdp.media_iter().count(), MAX_MEDIA);
    check_all(&b, &sdp);
    let at = b.len();
    b.extend_from_slice(b"m=audio 9 RTP/AVP 0\r\n");
    assert_eq!(err(&b), SdpError::new(SdpErrorKind::TooManyMedia, at));

    let cfg = SdpConfig { max_lines: 4 };
    let body = b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n";
    assert!(Sdp::parse_with(body, &cfg).is_ok());
    let mut more = body.to_vec();
    more.extend_from_slice(b"a=x\r\n");
    assert_eq!(
        Sdp::parse_with(&more, &cfg).unwrap_err(),
        SdpError::new(SdpErrorKind::TooManyLines, body.len())
    );
    assert_eq!(SdpConfig::default().max_lines, 1024);
}

#[test]
fn typed_attribute_errors() {
    let body = b"v=0\no=- 1 1 IN IP4 h\ns=-\nt=0 0\nm=audio 1 RTP/AVP 0 8\n\
a=rtpmap:0 PCMU\na=rtpmap:300 X/8000\na=rtpmap:8 PCMA/8000/1/2\na=rtpmap\na=rtcp:99999\n\
a=rtcp:5 IN IP4\na=fmtp\na=ptime:0.5\n";
    let sdp = Sdp::parse(body).unwrap();
    check_all(body, &sdp);
    let m = sdp.media(0).unwrap();
    assert!(m.rtpmaps().all(|r| r.is_err()));
    assert!(m.rtpmap(0).is_none());
    assert!(m.rtcp().is_none());
    assert_eq!(
        Rtcp::parse(m.attribute("rtcp").unwrap()).unwrap_err().kind,
        SdpErrorKind::BadAttribute
    );
    assert!(m.fmtps().all(|r| r.is_err()));
    assert_eq!(m.ptime(), None);
    assert_eq!(m.attribute("ptime").unwrap().value().unwrap(), "0.5");
}

#[test]
fn standard_attribute_list() {
    for n in [
        "rtpmap", "fmtp", "ptime", "maxptime", "crypto", "rtcp", "rtcp-mux", "sendrecv",
        "sendonly", "recvonly", "inactive", "RTPMAP",
    ] {
        assert!(is_standard_attribute(n.as_bytes()), "{n}");
    }
    for n in [
        "label",
        "x-ssrc-range",
        "candidate",
        "ice-ufrag",
        "mid",
        "rtcp-fb",
        "",
    ] {
        assert!(!is_standard_attribute(n.as_bytes()), "{n}");
    }
    assert!(is_ice_attribute(b"ice-pwd"));
    assert!(!is_ice_attribute(b"crypto"));
}

/// SDP-ish lines for structured fuzzing: mostly valid, sometimes broken.
fn sdp_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"o=- 1 2 IN IP4 10.0.0.1".to_vec()),
        Just(b"s=-".to_vec()),
        Just(b"t=0 0".to_vec()),
        Just(b"c=IN IP4 0.0.0.0".to_vec()),
        Just(b"c=IN IP4 224.2.1.1/127/3".to_vec()),
        Just(b"b=AS:64".to_vec()),
        Just(b"m=audio 49170 RTP/SAVP 0 8 101".to_vec()),
        Just(b"m=video 0/2 RTP/AVP".to_vec()),
        Just(b"a=rtpmap:101 telephone-event/8000".to_vec()),
        Just(b"a=rtpmap:97 opus/48000/2".to_vec()),
        Just(b"a=fmtp:101 0-16".to_vec()),
        Just(b"a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:ZyuVXr4YxHZKoBq6hnxUhIvPMBIJxRDZw48gXiBN|2^31|1:1".to_vec()),
        Just(b"a=rtcp:9 IN IP6 ::1".to_vec()),
        Just(b"a=sendonly".to_vec()),
        Just(b"a=rtcp-mux".to_vec()),
        Just(b"a=ptime:20".to_vec()),
        Just(b"a=mid:0".to_vec()),
        Just(b"".to_vec()),
        "[a-z]=[ -~]{0,30}".prop_map(|s| s.into_bytes()),
        "a=(rtpmap|fmtp|crypto|rtcp|ptime):[ -~|:;^/]{0,40}".prop_map(|s| s.into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..12),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(sdp) = Sdp::parse(&body) {
            check_all(&body, &sdp);
        } else if let Err(e) = Sdp::parse(&body) {
            prop_assert!(e.offset <= body.len());
        }
    }

    #[test]
    fn spans_slice_to_reported_text(
        lines in proptest::collection::vec(sdp_line(), 0..40),
        lf_only in any::<bool>(),
        terminate_last in any::<bool>(),
        with_session in any::<bool>(),
    ) {
        let eol: &[u8] = if lf_only { b"\n" } else { b"\r\n" };
        let mut body = b"v=0".to_vec();
        body.extend_from_slice(eol);
        if with_session {
            // A valid session header so that most cases get past validation.
            for l in [&b"o=- 1 1 IN IP4 h"[..], b"s=-", b"t=0 0"] {
                body.extend_from_slice(l);
                body.extend_from_slice(eol);
            }
        }
        for l in &lines {
            body.extend_from_slice(l);
            body.extend_from_slice(eol);
        }
        if !terminate_last {
            body.truncate(body.len() - eol.len());
        }
        match Sdp::parse(&body) {
            Ok(sdp) => check_all(&body, &sdp),
            Err(e) => prop_assert!(e.offset <= body.len()),
        }
    }
}
