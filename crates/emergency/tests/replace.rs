//! TI-39: only the SDP part of an emergency INVITE's multipart body changes; every other byte
//! (boundary, preamble, epilogue, padding, other parts with their headers) is kept.

mod common;

use common::*;
use proptest::prelude::*;
use sbc_emergency::{locate_sdp, replace_sdp, Unchanged};
use sbc_sip::multipart::{parse_multipart, MultipartErrorKind};
use sbc_sip::Edits;

const NEW_SDP: &[u8] = b"v=0\r\no=sbc 1 2 IN IP4 203.0.113.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";

/// Asserts that `new` is `old` with part `k`'s body replaced by `sdp` and nothing else.
fn assert_only_sdp_changed(old: &[u8], new: &[u8], boundary: &[u8], k: usize, sdp: &[u8]) {
    let a = parse_multipart(old, boundary).unwrap();
    let b = parse_multipart(new, boundary).unwrap();
    assert_eq!(a.len(), b.len());
    assert_eq!(a.preamble(), b.preamble());
    assert_eq!(a.epilogue(), b.epilogue());
    for i in 0..a.len() {
        let (p, q) = (a.get(i).unwrap(), b.get(i).unwrap());
        if i == k {
            assert_eq!(p.header_block(), q.header_block());
            assert_eq!(q.body(), sdp);
        } else {
            assert_eq!(p.raw(), q.raw(), "part {i} changed");
            assert_eq!(p.content_id(), q.content_id());
        }
    }
    let r = a.get(k).unwrap().body_range();
    assert_eq!(&new[..r.start], &old[..r.start]);
    assert_eq!(&new[r.start + sdp.len()..], &old[r.end..]);
}

#[test]
fn rfc6442_body_sdp_first_and_pidf_first() {
    for (sdp_first, k) in [(true, 0), (false, 1)] {
        let body = rfc6442_body(sdp_first);
        let out = replace_sdp(b"multipart/mixed; boundary=boundary1", &body, NEW_SDP).unwrap();
        assert_only_sdp_changed(&body, &out, b"boundary1", k, NEW_SDP);
        let loc = locate_sdp(b"multipart/mixed; boundary=boundary1", &body).unwrap();
        assert_eq!(loc.part, Some(k));
        assert_eq!(&body[loc.range], SDP);
    }
}

#[test]
fn quoted_boundary_padding_preamble_epilogue() {
    let body = b"This is the preamble.\r\n\
--=_x y  \t\r\n\
Content-Type: application/pidf+xml\r\n\
Content-ID: <a@b>\r\n\
\r\n\
<presence/>\r\n\
--=_x y\r\n\
content-type : Application/SDP ; charset=utf-8\r\n\
\r\n\
v=0\r\n\
\r\n\
--=_x y--   \r\n\
epilogue bytes\r\n"
        .to_vec();
    let out = replace_sdp(b"multipart/mixed;boundary=\"=_x y\"", &body, NEW_SDP).unwrap();
    assert_only_sdp_changed(&body, &out, b"=_x y", 1, NEW_SDP);
    assert!(out.starts_with(b"This is the preamble.\r\n--=_x y  \t\r\n"));
    assert!(out.ends_with(b"\r\n--=_x y--   \r\nepilogue bytes\r\n"));
}

#[test]
fn bare_lf_framing() {
    let body = b"--b\nContent-Type: application/sdp\n\nv=0\n--b\nContent-Type: application/pidf+xml\nContent-ID: <a@b>\n\n<presence/>\n--b--\n".to_vec();
    let sdp = b"v=0\no=x 1 1 IN IP4 192.0.2.1\n";
    let out = replace_sdp(b"multipart/mixed;boundary=b", &body, sdp).unwrap();
    assert_only_sdp_changed(&body, &out, b"b", 0, sdp);
    // A trailing CR would merge with the bare-LF delimiter into CRLF: refused, not mangled.
    assert_eq!(
        replace_sdp(b"multipart/mixed;boundary=b", &body, b"v=0\r"),
        Err(Unchanged::NewSdpBreaksFraming)
    );
}

#[test]
fn new_sdp_with_a_delimiter_line_is_refused() {
    let body = rfc6442_body(true);
    let evil = b"v=0\r\n--boundary1\r\nContent-Type: text/plain\r\n\r\nx";
    assert_eq!(
        replace_sdp(b"multipart/mixed;boundary=boundary1", &body, evil),
        Err(Unchanged::NewSdpBreaksFraming)
    );
    let evil_close = b"v=0\r\n--boundary1--\r\n";
    assert_eq!(
        replace_sdp(b"multipart/mixed;boundary=boundary1", &body, evil_close),
        Err(Unchanged::NewSdpBreaksFraming)
    );
}

#[test]
fn not_understood_bodies_are_left_unchanged_with_a_reason() {
    let body = rfc6442_body(true);
    let cases: &[(&[u8], &[u8], Unchanged)] = &[
        (b"multipart/mixed", &body, Unchanged::MissingBoundary),
        (
            b"multipart/alternative;boundary=boundary1",
            &body,
            Unchanged::UnsupportedType,
        ),
        (b"text/plain", &body, Unchanged::UnsupportedType),
        (b"not a content type", &body, Unchanged::BadContentType),
        (
            b"multipart/mixed;boundary=zzz",
            &body,
            Unchanged::Multipart(MultipartErrorKind::MissingFirstDelimiter),
        ),
    ];
    for (ct, b, why) in cases {
        assert_eq!(
            replace_sdp(ct, b, NEW_SDP),
            Err(*why),
            "{}",
            String::from_utf8_lossy(ct)
        );
    }
    let only_pidf = multipart(
        "b",
        &[part(&["Content-Type: application/pidf+xml"], PIDF_GEO)],
    );
    assert_eq!(
        replace_sdp(b"multipart/mixed;boundary=b", &only_pidf, NEW_SDP),
        Err(Unchanged::NoSdpPart)
    );
    let two = multipart(
        "b",
        &[
            part(&["Content-Type: application/sdp"], SDP),
            part(&["Content-Type: application/sdp"], SDP),
        ],
    );
    assert_eq!(
        replace_sdp(b"multipart/mixed;boundary=b", &two, NEW_SDP),
        Err(Unchanged::SeveralSdpParts)
    );
    let b64 = multipart(
        "b",
        &[part(
            &[
                "Content-Type: application/sdp",
                "Content-Transfer-Encoding: base64",
            ],
            b"dj0w",
        )],
    );
    assert_eq!(
        replace_sdp(b"multipart/mixed;boundary=b", &b64, NEW_SDP),
        Err(Unchanged::EncodedSdpPart)
    );
    let bin = multipart(
        "b",
        &[part(
            &[
                "Content-Type: application/sdp",
                "Content-Transfer-Encoding: binary",
            ],
            SDP,
        )],
    );
    assert!(replace_sdp(b"multipart/mixed;boundary=b", &bin, NEW_SDP).is_ok());
    assert_eq!(
        Unchanged::NoSdpPart.to_string(),
        "body left unchanged: no_sdp_part"
    );
}

#[test]
fn plain_sdp_body_is_replaced_whole() {
    assert_eq!(
        replace_sdp(b"application/sdp", SDP, NEW_SDP).unwrap(),
        NEW_SDP
    );
    assert_eq!(locate_sdp(b"Application/SDP", SDP).unwrap().part, None);
}

#[test]
fn large_body_keeps_every_other_part() {
    let mut parts = vec![part(&["Content-Type: application/sdp"], SDP)];
    for i in 0..10 {
        let content: Vec<u8> = (0..5000u32)
            .map(|j| (j * 31 + i) as u8)
            .filter(|&b| b != b'-')
            .collect();
        parts.push(part(
            &[
                "Content-Type: application/octet-stream",
                &format!("Content-ID: <p{i}@x>"),
            ],
            &content,
        ));
    }
    let body = multipart("big-boundary", &parts);
    let out = replace_sdp(b"multipart/mixed;boundary=big-boundary", &body, NEW_SDP).unwrap();
    assert_only_sdp_changed(&body, &out, b"big-boundary", 0, NEW_SDP);
}

#[test]
fn edits_integration_recomputes_content_length() {
    let body = rfc6442_body(true);
    let msg = invite(
        &["Geolocation: <cid:target123@atlanta.example.com>"],
        Some("multipart/mixed; boundary=boundary1"),
        &body,
    );
    let ct = msg.get(sbc_sip::HeaderName::ContentType).unwrap();
    let loc = locate_sdp(ct, msg.body()).unwrap();
    let mut edits = Edits::new();
    edits.replace_in_body(&msg, loc.range, NEW_SDP);
    let mut out = Vec::new();
    edits.write(&msg, &mut out).unwrap();
    let again = sbc_sip::Message::parse(out).unwrap();
    assert_eq!(again.content_length(), Some(again.body().len() as u32));
    assert_only_sdp_changed(&body, again.body(), b"boundary1", 0, NEW_SDP);
    assert_eq!(
        again.get(sbc_sip::HeaderName::Geolocation),
        msg.get(sbc_sip::HeaderName::Geolocation)
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Random multiparts with one SDP part at a random position, random other parts, CRLF or
    /// LF, padding: after a successful replacement every non-SDP part is byte-identical.
    #[test]
    fn non_sdp_parts_are_byte_identical(
        others in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 0..5),
        pos in any::<prop::sample::Index>(),
        lf_only in any::<bool>(),
        padding in "[ \t]{0,3}",
        preamble in "[a-z ]{0,12}",
        epilogue in "[a-z ]{0,12}",
        new_sdp in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let eol: &[u8] = if lf_only { b"\n" } else { b"\r\n" };
        let boundary = b"=_emerg_b";
        let k = pos.index(others.len() + 1);
        let mut contents: Vec<(bool, Vec<u8>)> = others.into_iter().map(|c| (false, c)).collect();
        contents.insert(k, (true, SDP.to_vec()));
        let mut body = Vec::new();
        if !preamble.is_empty() {
            body.extend_from_slice(preamble.as_bytes());
            body.extend_from_slice(eol);
        }
        for (i, (is_sdp, c)) in contents.iter().enumerate() {
            body.extend_from_slice(b"--=_emerg_b");
            body.extend_from_slice(padding.as_bytes());
            body.extend_from_slice(eol);
            let ct: &[u8] = if *is_sdp { b"Content-Type: application/sdp" } else { b"Content-Type: application/octet-stream" };
            body.extend_from_slice(ct);
            body.extend_from_slice(eol);
            body.extend_from_slice(format!("Content-ID: <p{i}@x>").as_bytes());
            body.extend_from_slice(eol);
            body.extend_from_slice(eol);
            body.extend_from_slice(c);
            body.extend_from_slice(eol);
        }
        body.extend_from_slice(b"--=_emerg_b--");
        body.extend_from_slice(eol);
        body.extend_from_slice(epilogue.as_bytes());
        let Ok(orig) = parse_multipart(&body, boundary) else { return Ok(()) };
        // Random "other" content may itself contain delimiters; only bodies that parse as
        // generated are meaningful.
        prop_assume!(orig.len() == contents.len());
        let Ok(sdp_index) = locate_sdp(b"multipart/mixed;boundary=\"=_emerg_b\"", &body).map(|l| l.part) else {
            return Ok(());
        };
        match replace_sdp(b"multipart/mixed;boundary=\"=_emerg_b\"", &body, &new_sdp) {
            Ok(out) => {
                let k = sdp_index.unwrap();
                let a = parse_multipart(&body, boundary).unwrap();
                let b = parse_multipart(&out, boundary).unwrap();
                prop_assert_eq!(a.len(), b.len());
                prop_assert_eq!(a.preamble(), b.preamble());
                prop_assert_eq!(a.epilogue(), b.epilogue());
                for i in 0..a.len() {
                    if i == k {
                        prop_assert_eq!(b.get(i).unwrap().body(), &new_sdp[..]);
                    } else {
                        prop_assert_eq!(a.get(i).unwrap().raw(), b.get(i).unwrap().raw());
                    }
                }
            }
            Err(why) => prop_assert_eq!(why, Unchanged::NewSdpBreaksFraming),
        }
    }

    /// Arbitrary bytes: never a panic; success implies the reparse property.
    #[test]
    fn arbitrary_bodies_never_panic(
        body in proptest::collection::vec(prop_oneof![Just(b'-'), Just(b'b'), Just(b'\r'), Just(b'\n'), Just(b':'), any::<u8>()], 0..300),
        new_sdp in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        if let Ok(out) = replace_sdp(b"multipart/mixed;boundary=b", &body, &new_sdp) {
            let a = parse_multipart(&body, b"b").unwrap();
            let b = parse_multipart(&out, b"b").unwrap();
            prop_assert_eq!(a.len(), b.len());
        }
    }
}
