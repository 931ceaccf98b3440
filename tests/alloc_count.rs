//! Heap allocations on the hot paths, counted (never timed) with the `allocation-counter`
//! crate, whose `#[global_allocator]` wraps the system allocator and counts per thread
//! (this workspace forbids `unsafe`, which implementing `GlobalAlloc` needs).
//!
//! * Parsing any own vector performs exactly one allocation: the header index `Vec`.
//! * Typing every header and viewing the SDP afterwards allocates nothing.
//! * Recording the typical B2BUA edit set into a warmed-up `Edits` and serializing it into a
//!   warmed-up output `Vec` allocates nothing.
//! * Framing a TCP stream allocates nothing.
//!
//! Buffers are cloned outside the measured closures: turning a `Vec`-backed `Bytes` into a
//! shared one on its first clone is the `bytes` crate's business, not the parser's.

use allocation_counter::measure;
use bytes::Bytes;
use sbc_sip::check::check_headers;
use sbc_sip::frame::{Frame, StreamFramer};
use sbc_sip::hdr::ContentType;
use sbc_sip::multipart::parse_multipart;
use sbc_sip::{Edits, Framing, HeaderName, Message, ParserConfig};
use sbc_tests::{own_vectors, vector};

/// The parse of `bytes`, its allocation count, and the message (dropped outside the count).
fn counted_parse(bytes: &Bytes) -> (u64, Message) {
    let input = bytes.clone();
    let mut out = None;
    let info = measure(|| {
        out = Some(Message::parse(input));
    });
    let m = out
        .expect("the closure ran")
        .unwrap_or_else(|e| panic!("parse failed: {e}"));
    (info.count_total, m)
}

#[test]
fn the_counter_counts() {
    let info = measure(|| {
        let v = std::hint::black_box(vec![1u8; 64]);
        drop(v);
    });
    assert_eq!(info.count_total, 1, "the counting allocator is installed");
}

#[test]
fn parsing_the_900_byte_invite_allocates_only_the_header_index() {
    let bytes = Bytes::from(vector("own", "invite-900.sip"));
    let _ = bytes.clone(); // promote to a shared buffer outside the count
    assert!((800..1000).contains(&bytes.len()));
    let (n, m) = counted_parse(&bytes);
    assert_eq!(n, 1, "one allocation: the header index");
    assert_eq!(m.headers().len(), 13);
}

#[test]
fn parsing_every_own_vector_allocates_only_the_header_index() {
    let vs = own_vectors();
    assert!(vs.len() >= 12);
    for (name, raw) in vs {
        let bytes = Bytes::from(raw);
        let _ = bytes.clone();
        // Twice: the count must not depend on anything warmed up by a first parse.
        for round in 0..2 {
            let (n, m) = counted_parse(&bytes);
            assert_eq!(n, 1, "{name} (round {round}): {n} allocations");
            assert!(m.headers().len() <= 24, "{name}: fits the index capacity");
        }
    }
}

#[test]
fn stream_framing_and_stream_parse_allocate_only_the_header_index() {
    let mut stream = Vec::new();
    let names = ["invite-900.sip", "ok200-sdp.sip", "ack.sip", "bye.sip"];
    for name in names {
        stream.extend_from_slice(&vector("own", name));
    }
    let stream = Bytes::from(stream);
    let _ = stream.clone();
    let cfg = ParserConfig::default();
    let mut framer = StreamFramer::new(cfg);
    let mut off = 0;
    let mut parsed = 0;
    while off < stream.len() {
        let mut frame = Frame::NeedMore;
        let info = measure(|| frame = framer.poll(&stream[off..]));
        assert_eq!(info.count_total, 0, "StreamFramer::poll allocates nothing");
        let Frame::Complete(len) = frame else {
            panic!("unexpected {frame:?} at {off}");
        };
        let slice = stream.slice(off..off + len);
        let mut out = None;
        let info = measure(|| out = Some(Message::parse_with(slice, &cfg, Framing::Stream)));
        assert_eq!(info.count_total, 1, "stream parse at {off}");
        assert!(out.is_some_and(|r| r.is_ok()));
        off += len;
        parsed += 1;
    }
    assert_eq!(parsed, names.len());
}

#[test]
fn typing_every_header_and_viewing_the_sdp_allocate_nothing() {
    for name in ["invite-900.sip", "teams-invite.sip", "ok200-sdp.sip"] {
        let m = Message::parse(vector("own", name)).unwrap();
        let info = measure(|| {
            check_headers(&m).unwrap();
            let sdp = sbc_sdp::Sdp::parse(m.body()).unwrap();
            assert!(sdp.media_count() >= 1);
        });
        assert_eq!(info.count_total, 0, "{name}");
    }
    let m = Message::parse(vector("own", "emergency-pidf.sip")).unwrap();
    let info = measure(|| {
        check_headers(&m).unwrap();
        let ct = m.typed::<ContentType>().unwrap().unwrap();
        let mp = parse_multipart(m.body(), ct.boundary().unwrap()).unwrap();
        let part = mp.find_by_type("application/sdp").unwrap();
        sbc_sdp::Sdp::parse(part.body()).unwrap();
    });
    assert_eq!(info.count_total, 0, "emergency-pidf.sip");
}

/// The typical B2BUA edit set (as in `own_vectors.rs` `typical_b2bua_edit_set`).
fn b2bua_edits(m: &Message, e: &mut Edits) {
    e.set_request_uri(m, b"sip:+14255550100@192.0.2.50:5060;user=phone");
    e.remove_all(m, HeaderName::Via);
    e.prepend_header(
        m,
        b"Via",
        b"SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bKsbc0001;rport",
    );
    e.remove_all(m, HeaderName::RecordRoute);
    e.replace_value(
        m.header(HeaderName::Contact).unwrap(),
        b"<sip:sbc@203.0.113.9:5060>",
    );
    e.replace_value(m.header(HeaderName::CallId).unwrap(), b"b-leg-0001");
    e.replace(m.from_tag_span().unwrap(), b"sbctag1");
    e.append_header(m, b"X-MS-SBC", b"Example/TeamsSBC/0.1");
}

#[test]
fn serializing_with_warm_edits_and_output_allocates_nothing() {
    for name in ["invite-900.sip", "teams-invite.sip", "emergency-pidf.sip"] {
        let m = Message::parse(vector("own", name)).unwrap();
        let mut edits = Edits::new();
        let mut out = Vec::new();
        // Warm-up: the first message grows both buffers.
        b2bua_edits(&m, &mut edits);
        let first = edits.write(&m, &mut out).unwrap();
        let expected = out.clone();
        for round in 0..3 {
            let mut written = 0;
            let info = measure(|| {
                edits.clear();
                out.clear();
                b2bua_edits(&m, &mut edits);
                written = edits.write(&m, &mut out).unwrap();
            });
            assert_eq!(info.count_total, 0, "{name} (round {round})");
            assert_eq!(written, first);
            assert_eq!(out, expected);
        }
        // Writing again without clearing the edits (Content-Length edits are forgotten
        // after each write) allocates nothing either.
        let info = measure(|| {
            out.clear();
            edits.write(&m, &mut out).unwrap();
        });
        assert_eq!(info.count_total, 0, "{name}: second write");
        assert_eq!(out, expected);
    }
}
