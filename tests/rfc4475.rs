//! RFC 4475 torture messages against `expected.tsv` (copied byte-exact from the shared
//! conformance folder; `SHA256SUMS` is checked first so a normalised checkout fails loudly).
//!
//! * `parse_ok`: `Message::parse` succeeds, the strict header check finds nothing, and the
//!   key fields named for each message are asserted.
//! * `parse_error`: a typed error: either `Message::parse` fails (framing, start line or a
//!   transaction-critical header) or the strict check of the other headers reports the
//!   malformed one (baddate's Date, regbadct's Contact) with its offset.
//! * `parse_ok_then_reject`: parses; `check_request`/`check_response` give the RFC's answer.

use sbc_sip::addr::ContactHdr;
use sbc_sip::check::check_headers;
use sbc_sip::uri::Uri;
use sbc_sip::{check_request, HeaderName, Message, Method, RequestPolicy, Verdict};
use sbc_tests::{rfc4475_expectations, vector};
use sha2::{Digest, Sha256};

fn load(name: &str) -> Vec<u8> {
    vector("rfc4475", name)
}

fn parse(name: &str) -> Message {
    Message::parse(load(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn vectors_are_byte_exact() {
    let sums = String::from_utf8(load("SHA256SUMS")).unwrap();
    let mut n = 0;
    for line in sums.lines() {
        let (hex, file) = line.split_once("  ").expect("sha256sum format");
        let digest = Sha256::digest(load(file));
        let got: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, hex, "{file} differs from the RFC 4475 archive");
        n += 1;
    }
    assert_eq!(n, 50, "49 messages plus the archive");
}

#[test]
fn every_vector_meets_its_expectation() {
    let rows = rfc4475_expectations();
    assert_eq!(rows.len(), 49);
    let policy = RequestPolicy::default();
    for (file, expect, note) in rows {
        let bytes = load(&file);
        let parsed = Message::parse(bytes.clone());
        match expect.as_str() {
            "parse_ok" => {
                let m = parsed.unwrap_or_else(|e| panic!("{file}: {e} ({note})"));
                if let Err(e) = check_headers(&m) {
                    panic!("{file}: strict check: {e}");
                }
            }
            "parse_error" => match parsed {
                Err(e) => assert!(matches!(e.status(), 400 | 505 | 513), "{file}: {e}"),
                Ok(m) => {
                    let e = check_headers(&m)
                        .err()
                        .unwrap_or_else(|| panic!("{file}: no error found"));
                    assert!((e.error.at as usize) < bytes.len());
                }
            },
            "parse_ok_then_reject" => {
                let m = parsed.unwrap_or_else(|e| panic!("{file}: {e}"));
                let v = check_request(&m, &policy);
                assert!(!matches!(v, Verdict::Accept), "{file}: accepted ({note})");
            }
            other => panic!("unknown expectation {other}"),
        }
    }
}

fn reject_status(name: &str) -> Verdict {
    check_request(&parse(name), &RequestPolicy::default())
}

#[test]
fn rejections_carry_the_rfc_status() {
    for (file, status) in [
        ("badvers.dat", 505),
        ("mismatch01.dat", 400),
        ("mismatch02.dat", 501),
        ("insuf.dat", 400),
        ("unkscm.dat", 416),
        ("novelsc.dat", 416),
        ("unksm2.dat", 400),
        ("bext01.dat", 420),
        ("invut.dat", 415),
        ("multi01.dat", 400),
        ("zeromf.dat", 483),
        ("sdp01.dat", 406),
    ] {
        match reject_status(file) {
            Verdict::Reject { status: s, .. } => assert_eq!(s, status, "{file}"),
            v => panic!("{file}: {v:?}"),
        }
    }
    assert!(matches!(reject_status("bcast.dat"), Verdict::Drop { .. }));
}

#[test]
fn bext01_unsupported_lists_both_headers() {
    let m = parse("bext01.dat");
    let p = RequestPolicy::default();
    let tags: Vec<&[u8]> = sbc_sip::validate::unsupported_extensions(&m, &p).collect();
    assert_eq!(
        tags,
        vec![
            &b"nothingSupportsThis"[..],
            b"nothingSupportsThisEither",
            b"noProxiesSupportThis",
            b"norDoAnyProxiesSupportThis"
        ]
    );
}

#[test]
fn parse_errors_are_typed_with_offsets() {
    use sbc_sip::ParseErrorKind as K;
    let kind = |f: &str| Message::parse(load(f)).map(|_| ()).unwrap_err().kind;
    assert!(matches!(
        kind("badinv01.dat"),
        K::BadCriticalHeader(HeaderName::Via, _)
    ));
    assert_eq!(kind("clerr.dat"), K::BodyTruncated);
    assert_eq!(kind("ncl.dat"), K::BadContentLength);
    assert!(matches!(
        kind("scalar02.dat"),
        K::BadCriticalHeader(HeaderName::CSeq | HeaderName::MaxForwards, _)
    ));
    assert!(matches!(
        kind("scalarlg.dat"),
        K::BadCriticalHeader(HeaderName::CSeq, _)
    ));
    assert!(matches!(
        kind("quotbal.dat"),
        K::BadCriticalHeader(HeaderName::To, _)
    ));
    assert_eq!(kind("ltgtruri.dat"), K::BadRequestUri);
    assert!(matches!(
        kind("lwsruri.dat"),
        K::BadStartLine | K::BadVersion
    ));
    assert!(matches!(
        kind("lwsstart.dat"),
        K::BadRequestUri | K::BadStartLine
    ));
    assert!(matches!(kind("trws.dat"), K::BadStartLine | K::BadVersion));
    assert_eq!(kind("escruri.dat"), K::BadRequestUri);
    assert!(matches!(
        kind("badaspec.dat"),
        K::BadCriticalHeader(HeaderName::To, _)
    ));
    assert!(matches!(
        kind("baddn.dat"),
        K::BadCriticalHeader(HeaderName::From | HeaderName::To, _) | K::Incomplete
    ));
    assert_eq!(kind("bigcode.dat"), K::BadStatusCode);
    assert_eq!(kind("mcl01.dat"), K::BadContentLength);
    // The two whose malformed header is not transaction-critical: found by the strict check.
    let e = check_headers(&parse("baddate.dat")).unwrap_err();
    assert_eq!(e.name, HeaderName::Date);
    let e = check_headers(&parse("regbadct.dat")).unwrap_err();
    assert_eq!(e.name, HeaderName::Contact);
}

#[test]
fn wsinv_fields() {
    let m = parse("wsinv.dat");
    assert_eq!(m.method(), Some(Method::Invite));
    assert_eq!(m.max_forwards(), Some(68));
    let c = m.cseq().unwrap();
    assert_eq!((c.seq, c.method), (9, Method::Invite));
    let vias: Vec<_> = m.values(HeaderName::Via).map(|(_, v)| v).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(m.via_count(), 3);
    assert_eq!(m.branch(), Some(&b"390skdjuw"[..]));
    let all: Vec<_> = m.typed_all::<sbc_sip::Via>().map(|v| v.unwrap()).collect();
    assert_eq!(all[1].transport, b"TCP");
    assert_eq!(all[1].host, b"spindle.example.com");
    assert_eq!(all[2].branch(), Some(&b"z9hG4bK30239"[..]));
    assert_eq!(m.to_tag(), Some(&b"1918181833n"[..]));
    assert_eq!(m.from_tag(), Some(&b"98asjd8"[..]));
    assert_eq!(m.get(HeaderName::Subject), Some(&b""[..]));
    assert_eq!(
        m.get_raw(b"UnknownHeaderWithUnusualValue"),
        Some(&b";;,,;;,;"[..])
    );
    assert_eq!(
        m.get_raw(b"newfangledheader"),
        Some(&b"newfangled value\r\n continued newfangled value"[..])
    );
    assert_eq!(m.body().len(), 150);
    assert_eq!(m.content_length(), Some(150));
}

#[test]
fn intmeth_and_esc02_methods_stay_unknown() {
    let m = parse("intmeth.dat");
    assert_eq!(m.method(), Some(Method::Other));
    assert_eq!(
        m.method_bytes(),
        b"!interesting-Method0123456789_*+`.%indeed'~"
    );
    let to = m.to_raw().unwrap();
    assert!(
        to.contains(&0u8),
        "quoted-pair NUL kept in the To display name"
    );
    let m = parse("esc02.dat");
    assert_eq!(m.method_bytes(), b"RE%47IST%45R");
    assert_eq!(m.method(), Some(Method::Other));
    assert_eq!(
        m.values(HeaderName::Contact).count(),
        2,
        "C%6Fntact is not Contact"
    );
    assert_eq!(
        m.get_raw(b"C%6Fntact"),
        Some(&b"<sip:alias2@host2.example.com>"[..])
    );
}

#[test]
fn esc01_and_escnull_decode() {
    let m = parse("esc01.dat");
    let Some(Uri::Sip(u)) = m.request_uri() else {
        panic!("sip uri")
    };
    let mut out = Vec::new();
    u.decode_user(&mut out);
    assert_eq!(out, b"sips:user@example.com");
    let to = sbc_sip::addr::parse_name_addr(m.to_raw().unwrap()).unwrap();
    let Uri::Sip(to_uri) = to.uri else { panic!() };
    let plain = sbc_sip::uri::parse_uri(b"sip:user@example.com").unwrap();
    let Uri::Sip(plain) = plain else { panic!() };
    assert!(to_uri.equivalent(&plain), "%75se%72 == user");

    let m = parse("escnull.dat");
    assert_eq!(m.content_length(), Some(0));
    let to = sbc_sip::addr::parse_name_addr(m.to_raw().unwrap()).unwrap();
    let Uri::Sip(u) = to.uri else { panic!() };
    let mut out = Vec::new();
    u.decode_user(&mut out);
    assert!(out.contains(&0), "%00 decodes to NUL without truncation");
    assert!(out.len() > 1 && *out.last().unwrap() != 0 || out.len() > 2);
}

#[test]
fn dblreq_stops_at_content_length() {
    let raw = load("dblreq.dat");
    let m = Message::parse(raw.clone()).unwrap();
    assert_eq!(m.method(), Some(Method::Register));
    assert_eq!(m.body().len(), 0);
    assert_eq!(
        raw.len() - m.as_bytes().len(),
        450,
        "450 trailing octets cut off"
    );
    assert!(!m.as_bytes().windows(6).any(|w| w == b"INVITE"));
}

#[test]
fn semiuri_user_part() {
    let m = parse("semiuri.dat");
    let Some(Uri::Sip(u)) = m.request_uri() else {
        panic!()
    };
    assert_eq!(u.user, Some(&b"user;par=u%40example.net"[..]));
    assert_eq!(u.host_raw, b"example.com");
    assert!(u.params.is_empty());
}

#[test]
fn transports_and_longreq() {
    let m = parse("transports.dat");
    let t: Vec<Vec<u8>> = m
        .typed_all::<sbc_sip::Via>()
        .map(|v| v.unwrap().transport.to_vec())
        .collect();
    assert_eq!(
        t,
        vec![
            b"UDP".to_vec(),
            b"SCTP".to_vec(),
            b"TLS".to_vec(),
            b"UNKNOWN".to_vec(),
            b"TCP".to_vec()
        ]
    );
    let m = parse("longreq.dat");
    assert_eq!(m.via_count(), 34);
    assert_eq!(m.body().len(), 150);
    assert_eq!(m.as_bytes().len(), 3515);
}

#[test]
fn mpart01_has_two_parts() {
    let m = parse("mpart01.dat");
    assert_eq!(m.body().len(), 553);
    let ct = m.typed::<sbc_sip::hdr::ContentType>().unwrap().unwrap();
    let boundary = ct.boundary().unwrap();
    let mp = sbc_sip::multipart::parse_multipart(m.body(), boundary).unwrap();
    let types: Vec<&[u8]> = mp.iter().map(|p| p.content_type().unwrap_or(b"")).collect();
    assert_eq!(types, vec![&b"text/plain"[..], b"application/octet-stream"]);
    let bin = mp.iter().nth(1).unwrap();
    assert!(bin.body().contains(&0) && bin.body().contains(&b'\n'));
}

#[test]
fn responses_with_odd_reasons() {
    let m = parse("unreason.dat");
    assert_eq!(m.status(), Some(200));
    assert!(std::str::from_utf8(m.reason().unwrap()).is_ok());
    assert!(m.reason().unwrap().len() > 20);
    let m = parse("noreason.dat");
    assert_eq!(m.status(), Some(100));
    assert_eq!(m.reason(), Some(&b""[..]));
}

#[test]
fn badbranch_and_inv2543() {
    let m = parse("badbranch.dat");
    assert_eq!(m.branch(), Some(&b"z9hG4bK"[..]));
    assert!(!m.top_via().unwrap().has_rfc3261_branch());
    let raw = load("inv2543.dat");
    let m = Message::parse(raw).unwrap();
    assert_eq!(m.content_length(), None);
    assert_eq!(m.body().len(), 105);
    assert_eq!(m.branch(), None);
    assert_eq!(m.from_tag(), None);
    assert_eq!(m.max_forwards(), None);
    assert_eq!(
        check_request(&m, &RequestPolicy::default()),
        Verdict::Accept
    );
}

#[test]
fn contact_params_cparam_and_regescrt() {
    let m = parse("cparam01.dat");
    let c = m.typed::<ContactHdr>().unwrap().unwrap();
    let na = c.addr().unwrap();
    assert!(
        na.params.contains("unknownparam"),
        "header param in addr-spec form"
    );
    let Uri::Sip(u) = &na.uri else { panic!() };
    assert!(u.params.is_empty());
    let m = parse("cparam02.dat");
    let c = m.typed::<ContactHdr>().unwrap().unwrap();
    let na = c.addr().unwrap();
    let Uri::Sip(u) = &na.uri else { panic!() };
    assert!(u.params.contains("unknownparam"), "URI param inside <>");
    let m = parse("regescrt.dat");
    let c = m.typed::<ContactHdr>().unwrap().unwrap();
    let Uri::Sip(u) = &c.addr().unwrap().uri else {
        panic!()
    };
    assert!(u.headers.is_some_and(|h| h.starts_with(b"Route=%3C")));
}

#[test]
fn lwsdisp_and_regaut01() {
    let m = parse("lwsdisp.dat");
    let from = sbc_sip::addr::parse_name_addr(m.from_raw().unwrap()).unwrap();
    assert_eq!(from.display, Some(&b"caller"[..]));
    let m = parse("regaut01.dat");
    assert!(m
        .get(HeaderName::Authorization)
        .unwrap()
        .starts_with(b"NoOneKnowsThisScheme"));
}
