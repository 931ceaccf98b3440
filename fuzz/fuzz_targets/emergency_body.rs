//! Emergency INVITE bodies (sbc-emergency): SDP-part replacement and location extraction on
//! arbitrary multipart bodies. Input layout: `[n] boundary(n bytes) [m] new_sdp(m bytes)
//! body...`. Never panics; when the replacement succeeds, every non-SDP part, the preamble
//! and the epilogue are byte-identical and the SDP part reads back as the new SDP (checked
//! here independently of the crate's own verification).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sbc_emergency::{
    extract_location, locate_sdp, replace_sdp, scan_pidf, LocationOptions, ScanOptions,
};
use sbc_sip::multipart::parse_multipart_with;
use sbc_sip::Message;

fn take(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&n, rest) = data.split_first()?;
    let n = usize::from(n);
    (rest.len() >= n).then(|| rest.split_at(n))
}

fuzz_target!(|data: &[u8]| {
    let Some((boundary, rest)) = take(data) else {
        return;
    };
    let Some((new_sdp, body)) = take(rest) else {
        return;
    };
    let mut ct = b"multipart/mixed;boundary=\"".to_vec();
    ct.extend_from_slice(boundary);
    ct.push(b'"');

    match replace_sdp(&ct, body, new_sdp) {
        Ok(out) => {
            let loc = locate_sdp(&ct, body).expect("replace_sdp succeeded, so locate_sdp does");
            let k = loc.part.expect("multipart content type");
            let a = parse_multipart_with::<64>(body, boundary, 64).expect("old body parses");
            let b = parse_multipart_with::<64>(&out, boundary, 64).expect("new body parses");
            assert_eq!(a.len(), b.len());
            assert_eq!(a.preamble(), b.preamble());
            assert_eq!(a.epilogue(), b.epilogue());
            for (i, (p, q)) in a.iter().zip(b.iter()).enumerate() {
                if i == k {
                    assert_eq!(p.header_block(), q.header_block());
                    assert_eq!(q.body(), new_sdp);
                } else {
                    assert_eq!(p.raw(), q.raw(), "non-SDP part {i} changed");
                }
            }
            assert_eq!(&out[..loc.range.start], &body[..loc.range.start]);
            assert_eq!(
                &out[loc.range.start + new_sdp.len()..],
                &body[loc.range.end..]
            );
        }
        Err(why) => {
            std::hint::black_box(why.to_string());
        }
    }

    // The body as a PIDF-LO on its own.
    let s = scan_pidf(
        body,
        &ScanOptions {
            key_element: Some("LOC"),
            elin_element: Some("ELIN"),
            max_bytes: 0,
        },
    );
    std::hint::black_box(format!("{s:?}"));

    // The body in an INVITE with Geolocation references to it.
    let mut msg = Vec::with_capacity(body.len() + 400);
    msg.extend_from_slice(
        b"INVITE sip:911@sbc.example.com SIP/2.0\r\n\
Via: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bKfuzz\r\n\
Max-Forwards: 70\r\n\
To: <sip:911@sbc.example.com>\r\n\
From: <sip:+14255550123@example.com>;tag=f\r\n\
Call-ID: fuzz@example.com\r\n\
CSeq: 1 INVITE\r\n\
Geolocation: <cid:a@b>, <https://lis.example.com/x>\r\n\
Geolocation-Routing: no\r\n\
Content-Type: ",
    );
    msg.extend_from_slice(&ct);
    msg.extend_from_slice(format!("\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
    msg.extend_from_slice(body);
    if let Ok(m) = Message::parse(msg) {
        let info = extract_location(
            &m,
            &LocationOptions {
                key_element: Some("LOC"),
                elin_element: Some("ELIN"),
                ..LocationOptions::default()
            },
        );
        assert!(info.values.len() <= 2);
        std::hint::black_box((info.status(), format!("{info:?}")));
        std::hint::black_box(info.methods().count());
    }
});
