//! Shared pieces of the SIP wire-layer benchmarks (`cargo bench -p sbc-benches`): the
//! realistic messages, the line-scan ceiling, the lazy-typing workload, the typical B2BUA
//! edit set and the TCP stream used by the framer bench. The benches live in `benches/`;
//! `bench-report` turns criterion's JSON into the tables of `docs/performance.md`.

pub mod routing;

use std::path::PathBuf;

use bytes::Bytes;
use sbc_sip::frame::{Frame, StreamFramer};
use sbc_sip::hdr::ContentType;
use sbc_sip::multipart::parse_multipart;
use sbc_sip::{Edits, Framing, HeaderName, Message, ParserConfig};

/// The realistic messages every parse bench runs, as `(criterion group, file under
/// tests/vectors/own)`. The group names sort in this order in reports.
pub const REALISTIC: &[(&str, &str)] = &[
    ("invite-900", "invite-900.sip"),
    ("teams-invite", "teams-invite.sip"),
    ("ok200-sdp", "ok200-sdp.sip"),
    ("ack", "ack.sip"),
    ("bye", "bye.sip"),
    ("options", "options.sip"),
    ("emergency-pidf", "emergency-pidf.sip"),
];

/// The INVITEs the serialize bench rewrites with [`b2bua_edits`].
pub const SERIALIZE: &[(&str, &str)] = &[
    ("invite-900", "invite-900.sip"),
    ("teams-invite", "teams-invite.sip"),
    ("emergency-pidf", "emergency-pidf.sip"),
];

/// Messages in the framer bench's TCP stream.
pub const FRAMER_MESSAGES: usize = 1_000;

/// `tests/vectors/own/<file>`.
pub fn vector_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors/own")
        .join(file)
}

/// Reads one own vector.
pub fn load(file: &str) -> Bytes {
    let p = vector_path(file);
    match std::fs::read(&p) {
        Ok(v) => Bytes::from(v),
        Err(e) => panic!("reading {}: {e}", p.display()),
    }
}

/// The "line scan" ceiling: the least work any parser that indexes SIP headers must do.
///
/// It walks the header section once with `memchr::memchr_iter(b'\n', ..)` and, on every
/// header line, finds the first `:` with `memchr::memchr`; it stops at the empty line that
/// ends the header section. It does not look at the body, because `Message::parse` does not
/// either (the body is located through Content-Length without reading it); scanning the
/// body too would make the ceiling slower and flatter our parser. It validates nothing,
/// resolves no name, stores nothing: returns `(lines, sum of colon offsets)` only so the
/// optimizer cannot drop the work.
pub fn line_scan(s: &[u8]) -> (usize, usize) {
    let mut lines = 0usize;
    let mut colons = 0usize;
    let mut start = 0usize;
    for lf in memchr::memchr_iter(b'\n', s) {
        let line = &s[start..lf];
        start = lf + 1;
        lines += 1;
        if line.len() <= 1 {
            // "\r": the empty line that ends the header section.
            break;
        }
        colons += memchr::memchr(b':', line).unwrap_or(0);
    }
    (lines, colons)
}

/// The lazy workload on top of a parse: type every header (`check_headers`) and view the
/// SDP (a plain `application/sdp` body, or the SDP part of a multipart body). Returns the
/// number of media sections seen, or `usize::MAX` on a failure (never on our vectors).
pub fn lazy_view(m: &Message) -> usize {
    if sbc_sip::check::check_headers(m).is_err() {
        return usize::MAX;
    }
    sdp_media_count(m)
}

/// Media sections of the message's SDP (0 when there is none).
pub fn sdp_media_count(m: &Message) -> usize {
    let Some(Ok(ct)) = m.typed::<ContentType>() else {
        return 0;
    };
    let sdp_body = if ct.is("application", "sdp") {
        m.body()
    } else if ct.mtype().eq_ignore_ascii_case(b"multipart") {
        let Some(boundary) = ct.boundary() else {
            return usize::MAX;
        };
        let Ok(mp) = parse_multipart(m.body(), boundary) else {
            return usize::MAX;
        };
        match mp.find_by_type("application/sdp") {
            Some(p) => p.body(),
            None => return 0,
        }
    } else {
        return 0;
    };
    sbc_sdp::Sdp::parse(sdp_body).map_or(usize::MAX, |s| s.media_count())
}

/// The typical B2BUA edit set (the same as `tests/own_vectors.rs`
/// `typical_b2bua_edit_set`): new Request-URI, every Via replaced by ours, Record-Route
/// removed, Contact and Call-ID rewritten, the From tag replaced, X-MS-SBC appended.
pub fn b2bua_edits(m: &Message, e: &mut Edits) {
    e.set_request_uri(m, b"sip:+14255550100@192.0.2.50:5060;user=phone");
    e.remove_all(m, HeaderName::Via);
    e.prepend_header(
        m,
        b"Via",
        b"SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bKsbc0001;rport",
    );
    e.remove_all(m, HeaderName::RecordRoute);
    if let Some(h) = m.header(HeaderName::Contact) {
        e.replace_value(h, b"<sip:sbc@203.0.113.9:5060>");
    }
    if let Some(h) = m.header(HeaderName::CallId) {
        e.replace_value(h, b"b-leg-0001");
    }
    if let Some(t) = m.from_tag_span() {
        e.replace(t, b"sbctag1");
    }
    if let Some(t) = m.to_tag_span() {
        e.replace(t, b"sbctag2");
    }
    e.append_header(m, b"X-MS-SBC", b"Example/TeamsSBC/0.1");
}

/// A TCP byte stream of `n` messages cycling through [`REALISTIC`] (every one carries
/// Content-Length, as streams require).
pub fn tcp_stream(n: usize) -> Bytes {
    let msgs: Vec<Bytes> = REALISTIC.iter().map(|(_, f)| load(f)).collect();
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(&msgs[i % msgs.len()]);
    }
    Bytes::from(out)
}

/// Frames the whole stream with one [`StreamFramer`] and parses every frame with
/// `Framing::Stream`, as a TCP connection's reader does. Returns the messages parsed.
pub fn frame_and_parse(stream: &Bytes, framer: &mut StreamFramer, cfg: &ParserConfig) -> usize {
    let mut off = 0usize;
    let mut n = 0usize;
    while off < stream.len() {
        match framer.poll(&stream[off..]) {
            Frame::Complete(len) => {
                if Message::parse_with(stream.slice(off..off + len), cfg, Framing::Stream).is_ok() {
                    n += 1;
                }
                off += len;
            }
            Frame::KeepAlive { len, .. } => off += len,
            Frame::NeedMore | Frame::Invalid(_) => break,
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_is_valid() {
        for (name, file) in REALISTIC {
            let b = load(file);
            let m = Message::parse(b.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_ne!(lazy_view(&m), usize::MAX, "{name}");
            let (lines, _) = line_scan(&b);
            assert_eq!(
                lines,
                m.headers().len() + 2,
                "{name}: start + headers + empty"
            );
        }
        for (name, file) in SERIALIZE {
            let m = Message::parse(load(file)).unwrap();
            let mut e = Edits::new();
            b2bua_edits(&m, &mut e);
            let mut out = Vec::new();
            e.write(&m, &mut out)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let m2 = Message::parse(out).unwrap();
            assert_eq!(m2.via_count(), 1, "{name}");
            assert_eq!(m2.call_id(), Some(&b"b-leg-0001"[..]), "{name}");
        }
        let s = tcp_stream(FRAMER_MESSAGES);
        let n = frame_and_parse(&s, &mut StreamFramer::default(), &ParserConfig::default());
        assert_eq!(n, FRAMER_MESSAGES);
    }
}
