//! SDP replacement inside a `multipart/mixed` body, preserving the framing (TI-39).
//!
//! Only the SDP part's content changes: the boundary, preamble, epilogue, every delimiter line
//! (with its transport padding, RFC 2046 §5.1.1), every other part (headers, Content-ID, body)
//! and the SDP part's own headers stay byte-identical, in the same order. The result is
//! re-parsed and compared before it is returned, so a new SDP that would break the framing
//! (a line starting with `--boundary`, a trailing CR eaten by a bare-LF delimiter) is refused
//! rather than sent. When anything is not understood the body is left unchanged with a
//! reason: the location part is never dropped.
//!
//! The caller recomputes Content-Length (sbc-sip `Edits::write` does it).

use core::ops::Range;
use std::fmt;

use sbc_sip::hdr::ContentType;
use sbc_sip::lex::trim_lws;
use sbc_sip::multipart::{parse_multipart_with, Multipart, MultipartErrorKind};
use sbc_sip::TypedHeader;

use crate::location::PART_TABLE;

/// Why the body was left unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unchanged {
    /// The Content-Type does not parse.
    BadContentType,
    /// Neither `application/sdp` nor `multipart/mixed` (e.g. `multipart/alternative`, whose
    /// parts are alternatives and cannot be rewritten one by one).
    UnsupportedType,
    /// `multipart/mixed` without a boundary parameter.
    MissingBoundary,
    /// The multipart body does not parse.
    Multipart(MultipartErrorKind),
    /// No `application/sdp` part.
    NoSdpPart,
    /// More than one `application/sdp` part: which one to rewrite is ambiguous.
    SeveralSdpParts,
    /// The SDP part has a Content-Transfer-Encoding other than 7bit/8bit/binary; a new SDP
    /// would need encoding.
    EncodedSdpPart,
    /// The new SDP would change the framing (it contains a delimiter line, or its last byte
    /// would merge with the delimiter's line end).
    NewSdpBreaksFraming,
}

impl Unchanged {
    /// A short stable name for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Unchanged::BadContentType => "bad_content_type",
            Unchanged::UnsupportedType => "unsupported_type",
            Unchanged::MissingBoundary => "missing_boundary",
            Unchanged::Multipart(k) => k.as_str(),
            Unchanged::NoSdpPart => "no_sdp_part",
            Unchanged::SeveralSdpParts => "several_sdp_parts",
            Unchanged::EncodedSdpPart => "encoded_sdp_part",
            Unchanged::NewSdpBreaksFraming => "new_sdp_breaks_framing",
        }
    }
}

impl fmt::Display for Unchanged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "body left unchanged: {}", self.as_str())
    }
}

impl std::error::Error for Unchanged {}

/// Where the SDP is inside the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpLocation {
    /// Byte range of the SDP content, relative to the body (for `Edits::replace_in_body`).
    pub range: Range<usize>,
    /// Index of the SDP part; `None` when the whole body is the SDP (`application/sdp`).
    pub part: Option<usize>,
}

fn boundary_of<'a>(ct: &ContentType<'a>) -> Result<&'a [u8], Unchanged> {
    if !ct.is("multipart", "mixed") {
        return Err(Unchanged::UnsupportedType);
    }
    ct.boundary().ok_or(Unchanged::MissingBoundary)
}

fn parse<'a>(body: &'a [u8], boundary: &[u8]) -> Result<Multipart<'a, PART_TABLE>, Unchanged> {
    parse_multipart_with::<PART_TABLE>(body, boundary, PART_TABLE)
        .map_err(|e| Unchanged::Multipart(e.kind))
}

/// Finds the SDP in a body of Content-Type `content_type` (the header value).
pub fn locate_sdp(content_type: &[u8], body: &[u8]) -> Result<SdpLocation, Unchanged> {
    let ct = ContentType::parse(content_type).map_err(|_| Unchanged::BadContentType)?;
    if ct.is("application", "sdp") {
        return Ok(SdpLocation {
            range: 0..body.len(),
            part: None,
        });
    }
    let boundary = boundary_of(&ct)?;
    let mp = parse(body, boundary)?;
    let mut found = None;
    for (i, p) in mp.iter().enumerate() {
        if p.is_type("application/sdp") {
            if found.is_some() {
                return Err(Unchanged::SeveralSdpParts);
            }
            if let Some(cte) = p.header("Content-Transfer-Encoding") {
                let cte = trim_lws(cte);
                if !(cte.eq_ignore_ascii_case(b"7bit")
                    || cte.eq_ignore_ascii_case(b"8bit")
                    || cte.eq_ignore_ascii_case(b"binary"))
                {
                    return Err(Unchanged::EncodedSdpPart);
                }
            }
            found = Some(SdpLocation {
                range: p.body_range(),
                part: Some(i),
            });
        }
    }
    found.ok_or(Unchanged::NoSdpPart)
}

/// Returns the body with the SDP replaced by `new_sdp`, or the reason it was left unchanged
/// (then send `body` as it is).
pub fn replace_sdp(content_type: &[u8], body: &[u8], new_sdp: &[u8]) -> Result<Vec<u8>, Unchanged> {
    let loc = locate_sdp(content_type, body)?;
    let mut out = Vec::with_capacity(body.len() - loc.range.len() + new_sdp.len());
    out.extend_from_slice(&body[..loc.range.start]);
    out.extend_from_slice(new_sdp);
    out.extend_from_slice(&body[loc.range.end..]);
    if let Some(k) = loc.part {
        // ContentType parsed in locate_sdp already; a second parse cannot fail.
        let ct = ContentType::parse(content_type).map_err(|_| Unchanged::BadContentType)?;
        let boundary = boundary_of(&ct)?;
        verify(body, &out, boundary, k, new_sdp)?;
    }
    Ok(out)
}

/// Checks that `new` differs from `old` only in part `k`'s content and that this content
/// reads back as exactly `new_sdp`.
fn verify(
    old: &[u8],
    new: &[u8],
    boundary: &[u8],
    k: usize,
    new_sdp: &[u8],
) -> Result<(), Unchanged> {
    let a = parse(old, boundary)?;
    let b = parse(new, boundary).map_err(|_| Unchanged::NewSdpBreaksFraming)?;
    let same = a.len() == b.len()
        && a.closed() == b.closed()
        && a.preamble() == b.preamble()
        && a.epilogue() == b.epilogue()
        && a.iter().zip(b.iter()).enumerate().all(|(i, (p, q))| {
            if i == k {
                p.header_block() == q.header_block()
                    && q.body() == new_sdp
                    && old[p.headers_range().end..p.body_range().start]
                        == new[q.headers_range().end..q.body_range().start]
            } else {
                p.raw() == q.raw()
            }
        });
    if same {
        Ok(())
    } else {
        Err(Unchanged::NewSdpBreaksFraming)
    }
}
