//! TI-39 / RFC 6442: location extraction from emergency INVITEs. Nothing here may fail the
//! call; the civic/geo content never shows in Debug output.

mod common;

use common::*;
use sbc_emergency::{
    extract_location, LocationOptions, LocationProblem, LocationRef, LocationStatus, PidfError,
    Routing,
};
use sbc_sip::multipart::MultipartErrorKind;

const MP: &str = "multipart/mixed; boundary=boundary1";

fn opts() -> LocationOptions<'static> {
    LocationOptions {
        key_element: Some("LOC"),
        elin_element: Some("ELIN"),
        ..LocationOptions::default()
    }
}

#[test]
fn rfc6442_location_by_value() {
    let msg = invite(
        &[
            "Geolocation: <cid:target123@atlanta.example.com>",
            "Geolocation-Routing: no",
            "Accept: application/sdp, application/pidf+xml",
        ],
        Some(MP),
        &rfc6442_body(true),
    );
    let info = extract_location(&msg, &opts());
    assert_eq!(info.status(), LocationStatus::Present);
    assert_eq!(info.routing, Routing::No);
    assert_eq!(info.pidf_parts, 1);
    assert_eq!(info.values.len(), 1);
    let LocationRef::ByValue { cid, part } = &info.values[0].target else {
        panic!("{:?}", info.values[0]);
    };
    assert_eq!(cid, "target123@atlanta.example.com");
    let part = part.as_ref().unwrap();
    assert_eq!(part.index, Some(1));
    assert_eq!(part.media_type, "application/pidf+xml");
    let pidf = part.pidf.as_ref().unwrap();
    assert_eq!(pidf.status, Ok(()));
    assert!(pidf.has_geo && !pidf.has_civic);
    assert_eq!(info.methods().collect::<Vec<_>>(), ["802.11"]);
    // Redaction: the coordinates are not in the Debug output (they are never copied out).
    let dbg = format!("{info:?}");
    assert!(
        !dbg.contains("32.86726") && !dbg.contains("-97.16054"),
        "{dbg}"
    );
}

#[test]
fn rfc6442_location_by_reference() {
    let msg = invite(
        &[
            "Geolocation: <sips:3sdefrhy2jj7@lis.atlanta.example.com>",
            "Geolocation-Routing: yes",
        ],
        Some("application/sdp"),
        SDP,
    );
    let info = extract_location(&msg, &opts());
    assert_eq!(info.status(), LocationStatus::Present);
    assert_eq!(info.routing, Routing::Yes);
    assert_eq!(info.pidf_parts, 0);
    let LocationRef::ByReference { scheme, uri } = &info.values[0].target else {
        panic!()
    };
    assert_eq!(scheme, "sips");
    assert_eq!(uri.expose(), "sips:3sdefrhy2jj7@lis.atlanta.example.com");
    assert!(!format!("{info:?}").contains("3sdefrhy2jj7"));
}

#[test]
fn two_locations_in_order_across_lines_and_in_one_line() {
    for extra in [
        &[
            "Geolocation: <cid:target123@atlanta.example.com>",
            "Geolocation: <https://lis.example.com:8222/y/z?a=b>;loc-src=lis.example.com",
        ][..],
        &["Geolocation: <cid:target123@atlanta.example.com>, <https://lis.example.com:8222/y/z?a=b>;loc-src=lis.example.com"][..],
    ] {
        let msg = invite(extra, Some(MP), &rfc6442_body(false));
        let info = extract_location(&msg, &opts());
        assert_eq!(info.status(), LocationStatus::Present, "{info:?}");
        assert_eq!(info.routing, Routing::Absent);
        assert_eq!(info.values.len(), 2);
        assert!(matches!(
            &info.values[0].target,
            LocationRef::ByValue { part: Some(p), .. } if p.index == Some(0)
        ));
        assert!(matches!(&info.values[1].target, LocationRef::ByReference { scheme, .. } if scheme == "https"));
        assert_eq!(info.values[1].loc_src.as_deref(), Some("lis.example.com"));
    }
}

#[test]
fn pidf_part_first_and_quoted_boundary() {
    let sdp = part(&["Content-Type: application/sdp"], SDP);
    let pidf = part(
        &[
            "Content-ID: <loc@contoso.example.com>",
            "Content-Type: application/pidf+xml",
            "Content-Disposition: by-reference;handling=optional",
        ],
        &pidf_civic("Bldg 7 Floor 2", "LIS"),
    );
    let body = multipart("=_a b:c", &[pidf, sdp]);
    let msg = invite(
        &["Geolocation: <cid:loc@contoso.example.com>"],
        Some("multipart/mixed;boundary=\"=_a b:c\""),
        &body,
    );
    let info = extract_location(&msg, &opts());
    assert_eq!(info.status(), LocationStatus::Present, "{info:?}");
    assert_eq!(info.methods().collect::<Vec<_>>(), ["LIS"]);
    assert_eq!(info.location_key().unwrap().expose(), "Bldg 7 Floor 2");
    let dbg = format!("{info:?}");
    assert!(
        !dbg.contains("Secret Street") && !dbg.contains("Bldg 7"),
        "{dbg}"
    );
}

#[test]
fn missing_cid_part_is_unknown_not_fatal() {
    let msg = invite(
        &["Geolocation: <cid:nothere@atlanta.example.com>"],
        Some(MP),
        &rfc6442_body(true),
    );
    let info = extract_location(&msg, &opts());
    assert_eq!(info.status(), LocationStatus::PresentUnknown);
    assert_eq!(
        info.problems,
        [LocationProblem::MissingCidPart { index: 0 }]
    );
    assert!(matches!(
        &info.values[0].target,
        LocationRef::ByValue { part: None, .. }
    ));
    // The unreferenced PIDF part is still counted.
    assert_eq!(info.pidf_parts, 1);
}

#[test]
fn cid_without_body_and_pidf_without_header() {
    let msg = invite(&["Geolocation: <cid:x@y>"], None, b"");
    let info = extract_location(&msg, &opts());
    assert_eq!(info.status(), LocationStatus::PresentUnknown);
    let msg = invite(&[], Some(MP), &rfc6442_body(true));
    let info = extract_location(&msg, &opts());
    assert!(info.values.is_empty());
    assert_eq!(info.status(), LocationStatus::PresentUnknown);
    let msg = invite(&[], Some("application/sdp"), SDP);
    assert_eq!(
        extract_location(&msg, &opts()).status(),
        LocationStatus::Absent
    );
}

#[test]
fn malformed_pidf_is_unknown_not_fatal() {
    let bad = b"<presence><tuple><method>GPS</method></presence>";
    let sdp = part(&["Content-Type: application/sdp"], SDP);
    let pidf = part(
        &["Content-Type: application/pidf+xml", "Content-ID: <a@b>"],
        bad,
    );
    let msg = invite(
        &["Geolocation: <cid:a@b>"],
        Some(MP),
        &multipart("boundary1", &[sdp, pidf]),
    );
    let info = extract_location(&msg, &opts());
    assert_eq!(info.status(), LocationStatus::PresentUnknown);
    assert_eq!(
        info.problems,
        [LocationProblem::BadPidf {
            index: 0,
            error: PidfError::MismatchedTag
        }]
    );
    // What was seen before the error is still reported, but keys from a broken document are
    // not used for ELIN lookups.
    assert_eq!(info.methods().collect::<Vec<_>>(), ["GPS"]);
    assert!(info.location_key().is_none());
}

#[test]
fn cid_to_a_non_pidf_part() {
    let sdp = part(
        &["Content-Type: application/sdp", "Content-ID: <sdp@b>"],
        SDP,
    );
    let msg = invite(
        &["Geolocation: <cid:sdp@b>"],
        Some(MP),
        &multipart("boundary1", &[sdp]),
    );
    let info = extract_location(&msg, &opts());
    assert_eq!(info.problems, [LocationProblem::NotPidf { index: 0 }]);
}

#[test]
fn broken_multipart_and_content_type() {
    let msg = invite(
        &["Geolocation: <cid:target123@atlanta.example.com>"],
        Some("multipart/mixed;boundary=other"),
        &rfc6442_body(true),
    );
    let info = extract_location(&msg, &opts());
    assert_eq!(info.status(), LocationStatus::PresentUnknown);
    assert_eq!(
        info.problems,
        [
            LocationProblem::Multipart(MultipartErrorKind::MissingFirstDelimiter),
            LocationProblem::MissingCidPart { index: 0 }
        ]
    );
    let msg = invite(
        &["Geolocation: <cid:target123@atlanta.example.com>"],
        Some("multipart/mixed"),
        &rfc6442_body(true),
    );
    let info = extract_location(&msg, &opts());
    assert_eq!(info.problems[0], LocationProblem::BadContentType);
    // Too many parts for the configured limit.
    let parts: Vec<Vec<u8>> = (0..5)
        .map(|_| part(&["Content-Type: text/plain"], b"x"))
        .collect();
    let msg = invite(&[], Some(MP), &multipart("boundary1", &parts));
    let info = extract_location(
        &msg,
        &LocationOptions {
            max_parts: 4,
            ..opts()
        },
    );
    assert_eq!(
        info.problems,
        [LocationProblem::Multipart(MultipartErrorKind::TooManyParts)]
    );
}

#[test]
fn malformed_geolocation_values_and_routing_extensions() {
    let msg = invite(
        &[
            "Geolocation: \"name\" <cid:a@b>, <cid:target123@atlanta.example.com>",
            "Geolocation-Routing: maybe;x=1",
        ],
        Some(MP),
        &rfc6442_body(true),
    );
    let info = extract_location(&msg, &opts());
    assert_eq!(info.routing, Routing::Other("maybe".into()));
    assert_eq!(info.values.len(), 2);
    assert_eq!(info.values[0].target, LocationRef::Malformed);
    assert_eq!(
        info.problems,
        [LocationProblem::MalformedHeader { index: 0 }]
    );
    assert!(matches!(
        &info.values[1].target,
        LocationRef::ByValue { part: Some(_), .. }
    ));
}

#[test]
fn too_many_values_are_bounded() {
    let many = vec!["<cid:target123@atlanta.example.com>"; 20].join(", ");
    let line = format!("Geolocation: {many}");
    let msg = invite(&[&line], Some(MP), &rfc6442_body(true));
    let info = extract_location(&msg, &opts());
    assert_eq!(info.values.len(), sbc_emergency::location::MAX_VALUES);
    assert_eq!(info.problems, [LocationProblem::TooManyValues]);
}

#[test]
fn large_pidf_over_the_limit_is_unknown() {
    let mut big = b"<presence><tuple><!--".to_vec();
    for _ in 0..500 {
        big.extend_from_slice(&[b'x'; 79]);
        big.push(b'\n');
    }
    big.extend_from_slice(b"--><method>GPS</method></tuple></presence>");
    let sdp = part(&["Content-Type: application/sdp"], SDP);
    let pidf = part(
        &["Content-Type: application/pidf+xml", "Content-ID: <a@b>"],
        &big,
    );
    let body = multipart("boundary1", &[sdp, pidf]);
    let msg = invite(&["Geolocation: <cid:a@b>"], Some(MP), &body);
    let info = extract_location(
        &msg,
        &LocationOptions {
            max_pidf_bytes: 16 * 1024,
            ..opts()
        },
    );
    assert_eq!(
        info.problems,
        [LocationProblem::BadPidf {
            index: 0,
            error: PidfError::TooLarge
        }]
    );
    let info = extract_location(&msg, &opts());
    assert_eq!(info.status(), LocationStatus::Present);
    assert_eq!(info.methods().collect::<Vec<_>>(), ["GPS"]);
}

#[test]
fn whole_body_pidf_with_content_id() {
    // RFC 8262 §4: a cid: URL may reference the whole body.
    let msg = invite(
        &["Geolocation: <cid:whole@b>", "Content-ID: <whole@b>"],
        Some("application/pidf+xml"),
        &pidf_civic("Lobby", "Manual"),
    );
    let info = extract_location(&msg, &opts());
    assert_eq!(info.status(), LocationStatus::Present, "{info:?}");
    assert!(
        matches!(&info.values[0].target, LocationRef::ByValue { part: Some(p), .. } if p.index.is_none())
    );
    assert_eq!(info.methods().collect::<Vec<_>>(), ["Manual"]);
}

#[test]
fn carried_elin_is_captured() {
    let pidf = b"<presence><tuple><status><civicAddress><LOC>R1</LOC><ELIN>+1 425 555 0199</ELIN></civicAddress></status></tuple></presence>";
    let body = multipart(
        "boundary1",
        &[
            part(&["Content-Type: application/sdp"], SDP),
            part(
                &["Content-Type: application/pidf+xml", "Content-ID: <a@b>"],
                pidf,
            ),
        ],
    );
    let msg = invite(&["Geolocation: <cid:a@b>"], Some(MP), &body);
    let info = extract_location(&msg, &opts());
    assert_eq!(info.carried_elin(), Some("+1 425 555 0199"));
    assert_eq!(info.location_key().unwrap().expose(), "R1");
    assert_eq!(
        LocationStatus::PresentUnknown.to_string(),
        "present_unknown"
    );
}
