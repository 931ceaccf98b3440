//! Zero-copy view of a `multipart/*` body (RFC 2046 §5.1) as carried by SIP (RFC 5621).
//!
//! The case that matters for an SBC is RFC 6442 location conveyance: an emergency INVITE with
//! a `multipart/mixed` body holding the `application/sdp` offer and an
//! `application/pidf+xml` part referenced by `Content-ID`. The SBC must rewrite the SDP part
//! and pass every other byte through untouched, so every part exposes byte ranges relative to
//! the body: the whole part, its header block and its body.
//!
//! Grammar (RFC 2046 §5.1.1), with the liberal additions noted:
//!
//! ```text
//! multipart-body := [preamble CRLF] dash-boundary transport-padding CRLF body-part
//!                   *encapsulation close-delimiter transport-padding [CRLF epilogue]
//! encapsulation  := delimiter transport-padding CRLF body-part
//! delimiter      := CRLF dash-boundary          ; the CRLF belongs to the delimiter
//! dash-boundary  := "--" boundary
//! close-delimiter := delimiter "--"
//! ```
//!
//! * a bare LF is accepted wherever CRLF is required (a CR right before the LF that precedes
//!   a delimiter is always taken as part of the delimiter's CRLF, the canonical form);
//! * per the §5.1.1 implementors' note, a line *starting* with `--boundary` is a delimiter;
//!   whatever follows on that line (transport padding or junk) is skipped;
//! * a missing close delimiter is not an error: the last part runs to the end of the body and
//!   [`Multipart::closed`] is false ([`Multipart::check_closed`] turns that into an error);
//! * parts of type `multipart/*` are opaque (no nested parsing).
//!
//! Nothing allocates; work is bounded by the body length and the part limit.

use core::fmt;
use core::ops::Range;

use memchr::memmem;

use crate::lex::{is_token, is_ws, skip_lws, trim_lws, Params};

/// Default maximum number of parts (and the capacity of [`Multipart`]'s part table). RFC 6442
/// needs two; 16 leaves room for anything legitimate.
pub const DEFAULT_MAX_PARTS: usize = 16;

/// Longest boundary accepted. RFC 2046 §5.1.1 caps it at 70; a few more are tolerated from
/// sloppy peers, but not so many that a hostile one makes each delimiter probe expensive.
pub const MAX_BOUNDARY_LEN: usize = 256;

/// What is wrong with a multipart body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MultipartErrorKind {
    /// The boundary is empty, too long, or contains CR/LF.
    BadBoundary,
    /// No line starts with `--boundary`.
    MissingFirstDelimiter,
    /// No close delimiter (only from [`Multipart::check_closed`]; parsing itself is liberal).
    MissingCloseDelimiter,
    /// More parts than the limit.
    TooManyParts,
    /// A part header line that is neither `name: value` nor a folded continuation.
    BadPartHeader,
}

impl MultipartErrorKind {
    /// A short stable name for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            MultipartErrorKind::BadBoundary => "bad_boundary",
            MultipartErrorKind::MissingFirstDelimiter => "missing_first_delimiter",
            MultipartErrorKind::MissingCloseDelimiter => "missing_close_delimiter",
            MultipartErrorKind::TooManyParts => "too_many_parts",
            MultipartErrorKind::BadPartHeader => "bad_part_header",
        }
    }
}

/// A multipart error at a byte offset into the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MultipartError {
    /// What went wrong.
    pub kind: MultipartErrorKind,
    /// Where (byte offset into the multipart body).
    pub offset: usize,
}

impl MultipartError {
    /// New error.
    pub const fn new(kind: MultipartErrorKind, offset: usize) -> Self {
        MultipartError { kind, offset }
    }

    /// The status a request carrying this error should be answered with: 400 (RFC 3261
    /// §21.4.1; RFC 5621 §8 has no more specific code for a broken body).
    pub fn status(&self) -> u16 {
        400
    }
}

impl fmt::Display for MultipartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "multipart {} at byte {}",
            self.kind.as_str(),
            self.offset
        )
    }
}

impl std::error::Error for MultipartError {}

/// Offsets of one part: `start <= headers_end <= body_start <= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct PartSpan {
    start: usize,
    headers_end: usize,
    body_start: usize,
    end: usize,
}

/// A parsed multipart body: preamble, up to `N` parts, epilogue.
#[derive(Debug, Clone)]
pub struct Multipart<'a, const N: usize = DEFAULT_MAX_PARTS> {
    body: &'a [u8],
    parts: [PartSpan; N],
    len: usize,
    preamble_end: usize,
    epilogue_start: usize,
    closed: bool,
}

/// Parses `body` with the (already unquoted) `boundary` parameter of its Content-Type, at
/// most [`DEFAULT_MAX_PARTS`] parts.
pub fn parse_multipart<'a>(
    body: &'a [u8],
    boundary: &[u8],
) -> Result<Multipart<'a>, MultipartError> {
    parse_multipart_with::<DEFAULT_MAX_PARTS>(body, boundary, DEFAULT_MAX_PARTS)
}

/// Like [`parse_multipart`] with a part table of capacity `N` and a runtime limit
/// `max_parts` (the effective limit is the smaller of the two).
pub fn parse_multipart_with<'a, const N: usize>(
    body: &'a [u8],
    boundary: &[u8],
    max_parts: usize,
) -> Result<Multipart<'a, N>, MultipartError> {
    use MultipartErrorKind as K;
    if boundary.is_empty()
        || boundary.len() > MAX_BOUNDARY_LEN
        || boundary.iter().any(|&b| b == b'\r' || b == b'\n')
    {
        return Err(MultipartError::new(K::BadBoundary, 0));
    }
    let limit = max_parts.min(N);
    let finder = memmem::Finder::new(boundary);
    let blen = boundary.len();

    let first =
        find_delimiter(body, &finder, 0).ok_or(MultipartError::new(K::MissingFirstDelimiter, 0))?;
    let mut mp = Multipart {
        body,
        parts: [PartSpan::default(); N],
        len: 0,
        // The line end before the first delimiter belongs to it, not to the preamble.
        preamble_end: line_end_before(body, first, 0),
        epilogue_start: body.len(),
        closed: false,
    };

    // Each iteration moves `delim` strictly forward (next > part_start > delim), so the loop
    // runs at most once per byte and in practice once per part.
    let mut delim = first;
    loop {
        let after = delim + 2 + blen;
        if body.get(after..after + 2) == Some(b"--") {
            // Close delimiter; then transport padding and an optional line end (§5.1.1).
            mp.closed = true;
            let mut e = after + 2;
            while e < body.len() && is_ws(body[e]) {
                e += 1;
            }
            if body.get(e) == Some(&b'\r') && body.get(e + 1) == Some(&b'\n') {
                e += 2;
            } else if body.get(e) == Some(&b'\n') {
                e += 1;
            }
            mp.epilogue_start = e;
            break;
        }
        // Skip transport padding (and, liberally, anything else) to the end of the
        // delimiter line: the part starts on the next line.
        let part_start = match body
            .get(after..)
            .and_then(|r| r.iter().position(|&b| b == b'\n'))
        {
            Some(i) => after + i + 1,
            None => body.len(),
        };
        match find_delimiter(body, &finder, part_start) {
            Some(next) => {
                let end = line_end_before(body, next, part_start);
                mp.push(part_start, end, limit)?;
                delim = next;
            }
            None => {
                // Unclosed: the last part runs to the end of the body (nothing to take if the
                // body ends right after a delimiter line).
                if part_start < body.len() {
                    mp.push(part_start, body.len(), limit)?;
                }
                mp.epilogue_start = body.len();
                break;
            }
        }
    }
    Ok(mp)
}

/// Position of the first `--boundary` at or after `from` that starts a line (at offset 0 or
/// right after an LF).
fn find_delimiter(body: &[u8], finder: &memmem::Finder<'_>, from: usize) -> Option<usize> {
    let mut pos = from.checked_add(2)?;
    while pos <= body.len() {
        let j = pos + finder.find(&body[pos..])?;
        let d = j - 2; // j >= pos >= from + 2
        if &body[d..j] == b"--" && (d == 0 || body[d - 1] == b'\n') {
            return Some(d);
        }
        pos = j + 1;
    }
    None
}

/// Start of the CRLF (or bare LF) that precedes the delimiter at `d`, not before `floor`
/// (a delimiter right at a part start has had its line end consumed by the previous
/// delimiter line: the part is empty).
fn line_end_before(body: &[u8], d: usize, floor: usize) -> usize {
    let e = if d >= 2 && &body[d - 2..d] == b"\r\n" {
        d - 2
    } else if d >= 1 && body[d - 1] == b'\n' {
        d - 1
    } else {
        d
    };
    e.max(floor)
}

/// One physical line in `[pos, end)`: (content end without CR/LF, start of next line).
fn line_at(body: &[u8], pos: usize, end: usize) -> (usize, usize) {
    let region = body.get(pos..end).unwrap_or(&[]);
    match region.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let ce = if i > 0 && region[i - 1] == b'\r' {
                pos + i - 1
            } else {
                pos + i
            };
            (ce, pos + i + 1)
        }
        None => {
            let ce = if region.last() == Some(&b'\r') {
                end - 1
            } else {
                end
            };
            (ce, end)
        }
    }
}

/// Name of a `name: value` line (`Some((name_end, colon))`), liberal about white space
/// before the colon as RFC 3261 `HCOLON` is.
fn header_name(line: &[u8]) -> Option<(usize, usize)> {
    let colon = line.iter().position(|&b| b == b':')?;
    let mut ne = colon;
    while ne > 0 && is_ws(line[ne - 1]) {
        ne -= 1;
    }
    (ne > 0 && line[..ne].iter().all(|&b| is_token(b))).then_some((ne, colon))
}

impl<'a, const N: usize> Multipart<'a, N> {
    /// Validates the header block of `[start, end)` and records the part.
    fn push(&mut self, start: usize, end: usize, limit: usize) -> Result<(), MultipartError> {
        if self.len >= limit || self.len >= N {
            return Err(MultipartError::new(MultipartErrorKind::TooManyParts, start));
        }
        let span = scan_part(self.body, start, end)?;
        self.parts[self.len] = span;
        self.len += 1;
        Ok(())
    }

    /// The body this view borrows.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Number of parts.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there is no part.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Part `i`.
    pub fn get(&self, i: usize) -> Option<Part<'a>> {
        let span = *self.parts.get(..self.len)?.get(i)?;
        Some(Part {
            body: self.body,
            span,
        })
    }

    /// The parts in order.
    pub fn iter(&self) -> Parts<'a, '_> {
        Parts {
            body: self.body,
            spans: self.parts.get(..self.len).unwrap_or(&[]).iter(),
        }
    }

    /// True when the close delimiter `--boundary--` was found.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// Strict mode: an error at the end of the body when the close delimiter is missing.
    pub fn check_closed(&self) -> Result<(), MultipartError> {
        if self.closed {
            Ok(())
        } else {
            Err(MultipartError::new(
                MultipartErrorKind::MissingCloseDelimiter,
                self.body.len(),
            ))
        }
    }

    /// The preamble span (before the first delimiter and its preceding line end; to be
    /// ignored, RFC 2046 §5.1.1).
    pub fn preamble_range(&self) -> Range<usize> {
        0..self.preamble_end
    }

    /// The preamble bytes.
    pub fn preamble(&self) -> &'a [u8] {
        self.body.get(self.preamble_range()).unwrap_or(&[])
    }

    /// The epilogue span (after the close delimiter line; empty when not closed).
    pub fn epilogue_range(&self) -> Range<usize> {
        self.epilogue_start..self.body.len()
    }

    /// The epilogue bytes.
    pub fn epilogue(&self) -> &'a [u8] {
        self.body.get(self.epilogue_range()).unwrap_or(&[])
    }

    /// The first part whose media type (Content-Type without parameters) is `media_type`,
    /// ASCII case-insensitive (RFC 2045 §5.1), e.g. `"application/sdp"`.
    pub fn find_by_type(&self, media_type: &str) -> Option<Part<'a>> {
        self.iter().find(|p| p.is_type(media_type))
    }

    /// The part whose Content-ID matches `cid`, which may be given as the `cid:` URL of a
    /// Geolocation header (RFC 6442 §4.1, RFC 2392) or as `<id>` or bare `id`. Compared
    /// byte-for-byte after removing `cid:` and angle brackets (no %-decoding).
    pub fn find_by_content_id(&self, cid: &[u8]) -> Option<Part<'a>> {
        let want = bare_content_id(cid);
        self.iter()
            .find(|p| p.content_id().is_some_and(|id| bare_content_id(id) == want))
    }
}

impl<'a, 's, const N: usize> IntoIterator for &'s Multipart<'a, N> {
    type Item = Part<'a>;
    type IntoIter = Parts<'a, 's>;
    fn into_iter(self) -> Parts<'a, 's> {
        self.iter()
    }
}

/// Strips an optional `cid:` scheme and `<...>`.
fn bare_content_id(id: &[u8]) -> &[u8] {
    let id = trim_lws(id);
    let id = match id.get(..4) {
        Some(s) if s.eq_ignore_ascii_case(b"cid:") => &id[4..],
        _ => id,
    };
    match id {
        [b'<', inner @ .., b'>'] => inner,
        _ => id,
    }
}

/// Validates the header block of a part and finds where its body starts.
fn scan_part(body: &[u8], start: usize, end: usize) -> Result<PartSpan, MultipartError> {
    let bad = |at| MultipartError::new(MultipartErrorKind::BadPartHeader, at);
    let mut pos = start;
    let mut headers_end = start;
    while pos < end {
        let (ce, next) = line_at(body, pos, end);
        let line = body.get(pos..ce).unwrap_or(&[]);
        if line.is_empty() {
            // The blank line ends the headers (RFC 2046 §5.1.1: a part without headers
            // starts with it); it belongs to neither the headers nor the body.
            return Ok(PartSpan {
                start,
                headers_end,
                body_start: next,
                end,
            });
        }
        if is_ws(line[0]) {
            // Folded continuation (RFC 5322 §2.2.3); never the first line.
            if headers_end == start {
                return Err(bad(pos));
            }
        } else if header_name(line).is_none() {
            return Err(bad(pos));
        }
        headers_end = next;
        pos = next;
    }
    // No blank line: the part is all headers and has an empty body (RFC 2046 body-part :=
    // MIME-part-headers [CRLF *OCTET]).
    Ok(PartSpan {
        start,
        headers_end,
        body_start: end,
        end,
    })
}

/// Iterator over the parts of a [`Multipart`].
#[derive(Debug, Clone)]
pub struct Parts<'a, 's> {
    body: &'a [u8],
    spans: core::slice::Iter<'s, PartSpan>,
}

impl<'a> Iterator for Parts<'a, '_> {
    type Item = Part<'a>;
    fn next(&mut self) -> Option<Part<'a>> {
        self.spans.next().map(|&span| Part {
            body: self.body,
            span,
        })
    }
}

/// One body part.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    body: &'a [u8],
    span: PartSpan,
}

impl<'a> Part<'a> {
    /// The whole part: from after the delimiter line to before the line end of the next
    /// delimiter (which belongs to the delimiter, RFC 2046 §5.1.1).
    pub fn range(&self) -> Range<usize> {
        self.span.start..self.span.end
    }

    /// The header lines, each with its line end; the blank separator line is excluded.
    pub fn headers_range(&self) -> Range<usize> {
        self.span.start..self.span.headers_end
    }

    /// The body: after the blank line up to the delimiter's line end. Replace exactly this
    /// span to swap the content (e.g. the rewritten SDP) and keep every other byte.
    pub fn body_range(&self) -> Range<usize> {
        self.span.body_start..self.span.end
    }

    /// The whole part's bytes.
    pub fn raw(&self) -> &'a [u8] {
        self.body.get(self.range()).unwrap_or(&[])
    }

    /// The header block's bytes.
    pub fn header_block(&self) -> &'a [u8] {
        self.body.get(self.headers_range()).unwrap_or(&[])
    }

    /// The body's bytes (binary-safe: NULs and bare LFs are just bytes).
    pub fn body(&self) -> &'a [u8] {
        self.body.get(self.body_range()).unwrap_or(&[])
    }

    /// The part's headers.
    pub fn headers(&self) -> PartHeaders<'a> {
        PartHeaders {
            body: self.body,
            pos: self.span.start,
            end: self.span.headers_end,
        }
    }

    /// The first header with this name (ASCII case-insensitive), its value LWS-trimmed and
    /// otherwise raw (folding kept).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers()
            .find(|h| h.name().eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| h.value())
    }

    /// Content-Type value, raw (defaults to `text/plain` when absent, RFC 2046 §5.1.1; that
    /// default is left to the caller).
    pub fn content_type(&self) -> Option<&'a [u8]> {
        self.header("Content-Type")
    }

    /// Content-ID value, raw (`<id@host>`, RFC 2045 §7).
    pub fn content_id(&self) -> Option<&'a [u8]> {
        self.header("Content-ID")
    }

    /// Content-Disposition value, raw (`render`, `session`, `by-reference`, ... RFC 3261
    /// §20.11, RFC 5621 §3.2).
    pub fn content_disposition(&self) -> Option<&'a [u8]> {
        self.header("Content-Disposition")
    }

    /// The `type/subtype` of Content-Type, without parameters.
    pub fn media_type(&self) -> Option<&'a [u8]> {
        let ct = self.content_type()?;
        let end = ct.iter().position(|&b| b == b';').unwrap_or(ct.len());
        Some(trim_lws(&ct[..end]))
    }

    /// The Content-Type parameters (raw, from the first `;`), e.g. `charset`.
    pub fn content_type_params(&self) -> Params<'a> {
        match self.content_type() {
            Some(ct) => match ct.iter().position(|&b| b == b';') {
                Some(i) => Params::new(&ct[i..]),
                None => Params::default(),
            },
            None => Params::default(),
        }
    }

    /// True when the media type is `media_type` (ASCII case-insensitive, RFC 2045 §5.1).
    pub fn is_type(&self, media_type: &str) -> bool {
        self.media_type()
            .is_some_and(|t| t.eq_ignore_ascii_case(media_type.as_bytes()))
    }
}

/// One part header (possibly folded over several lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartHeader<'a> {
    name: &'a [u8],
    value: &'a [u8],
    value_start: usize,
    start: usize,
    end: usize,
}

impl<'a> PartHeader<'a> {
    /// The name as received.
    pub fn name(&self) -> &'a [u8] {
        self.name
    }
    /// The value, LWS-trimmed, folding kept.
    pub fn value(&self) -> &'a [u8] {
        self.value
    }
    /// The value's span in the multipart body.
    pub fn value_range(&self) -> Range<usize> {
        self.value_start..self.value_start + self.value.len()
    }
    /// The header's lines including the final line end (delete this to drop the header).
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }
}

/// Iterator over the headers of one part (validated at parse time; an impossible malformed
/// line ends the iteration).
#[derive(Debug, Clone)]
pub struct PartHeaders<'a> {
    body: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Iterator for PartHeaders<'a> {
    type Item = PartHeader<'a>;

    fn next(&mut self) -> Option<PartHeader<'a>> {
        if self.pos >= self.end {
            return None;
        }
        let start = self.pos;
        let (ce, mut next) = line_at(self.body, start, self.end);
        let line = self.body.get(start..ce).unwrap_or(&[]);
        let Some((ne, colon)) = header_name(line) else {
            self.pos = self.end;
            return None;
        };
        // Absorb folded continuation lines.
        let mut value_end = ce;
        while next < self.end && self.body.get(next).is_some_and(|&b| is_ws(b)) {
            let (c2, n2) = line_at(self.body, next, self.end);
            value_end = c2;
            next = n2;
        }
        self.pos = next;
        let vs = start + colon + 1;
        let raw = self.body.get(vs..value_end.max(vs)).unwrap_or(&[]);
        let lead = skip_lws(raw, 0).min(raw.len());
        let value = trim_lws(raw);
        Some(PartHeader {
            name: &line[..ne],
            value,
            value_start: vs + lead,
            start,
            end: next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check_layout<const N: usize>(body: &[u8], mp: &Multipart<'_, N>) {
        let mut prev = mp.preamble_range().end;
        assert!(prev <= body.len());
        for p in mp.iter() {
            let (r, h, b) = (p.range(), p.headers_range(), p.body_range());
            assert!(r.start >= prev, "parts overlap or precede the preamble");
            assert!(
                r.start <= h.end && h.end <= b.start && b.start <= r.end && r.end <= body.len()
            );
            assert_eq!((h.start, b.end), (r.start, r.end));
            assert_eq!(&body[b.clone()], p.body());
            assert_eq!(&body[h], p.header_block());
            for hd in p.headers() {
                assert!(hd.range().start >= r.start && hd.range().end <= p.headers_range().end);
                assert_eq!(&body[hd.value_range()], hd.value());
            }
            prev = r.end;
        }
        let e = mp.epilogue_range();
        assert!(e.start >= prev && e.end == body.len());
        assert_eq!(mp.epilogue(), &body[e]);
    }

    /// RFC 4475 §3.1.1.11 (mpart01): the body of the message, byte for byte (553 octets,
    /// binary part with NUL and bare LF octets).
    const MPART01: &[u8] = b"--7a9cbec02ceef655\r\n\
        Content-Type: text/plain\r\n\
        Content-Transfer-Encoding: binary\r\n\
        \r\n\
        Hello\r\n\
        --7a9cbec02ceef655\r\n\
        Content-Type: application/octet-stream\r\n\
        Content-Transfer-Encoding: binary\r\n\
        \r\n\
        0\x82\x01R\x06\t*\x86H\x86\xf7\r\x01\x07\x02\xa0\x82\x01C0\x82\x01?\x02\x01\x011\t0\x07\
        \x06\x05+\x0e\x03\x02\x1a0\x0b\x06\t*\x86H\x86\xf7\r\x01\x07\x011\x82\x01 0\x82\x01\x1c\
        \x02\x01\x010|0p1\x0b0\t\x06\x03U\x04\x06\x13\x02US1\x130\x11\x06\x03U\x04\x08\x13\n\
        California1\x110\x0f\x06\x03U\x04\x07\x13\x08San Jose1\x0e0\x0c\x06\x03U\x04\n\
        \x13\x05sipit1)0'\x06\x03U\x04\x0b\x13 Sipit Test Certificate Authority\x02\x08\x01\x95\
        \x00q\x023\x01\x130\x07\x06\x05+\x0e\x03\x02\x1a0\r\x06\t*\x86H\x86\xf7\r\x01\x01\x01\
        \x05\x00\x04\x81\x80\x8e\xf4f\xf9H\xf0R-\xd2\xe5\x97\x8e\x9d\x95\xaa\xe9\xf2\xfe\x15\
        \xa0fYqb\x92\xe8\xda*\xa8\xd85\n\
        h\xce\xff\xae<\xbd+\xff\x16u\xdd\xd5d\x8eY=\xd6G(\xf2b \xf7\xe9At\x9e3\r\x9a\x15\xed\
        \xab\xdb\x93\xd1\x0cB\x10.{r\x89\xd2\x9c\xc0\xc9\xae.\xfb\xc7\xc0\xcf\xf9\x17/;\x02~\
        O\xc0'\xe1Tm\xe4\xb6\xaa:\xbb>f\xcc\xcb]\xd6\xc6K\x83\x83\x14\x9c\xb8\xe6\xff\x18-\x94\
        O\xe5{e\xbc\x99\xd0\x05\r\n\
        --7a9cbec02ceef655--\r\n";

    #[test]
    fn rfc4475_mpart01() {
        assert_eq!(MPART01.len(), 553);
        let mp = parse_multipart(MPART01, b"7a9cbec02ceef655").unwrap();
        check_layout(MPART01, &mp);
        assert!(mp.closed());
        assert_eq!(mp.len(), 2);
        assert!(mp.preamble().is_empty() && mp.epilogue().is_empty());
        let text = mp.get(0).unwrap();
        assert_eq!(text.content_type(), Some(&b"text/plain"[..]));
        assert_eq!(
            text.header("content-transfer-encoding"),
            Some(&b"binary"[..])
        );
        assert_eq!(text.body(), b"Hello");
        let bin = mp.get(1).unwrap();
        assert!(bin.is_type("APPLICATION/OCTET-STREAM"));
        let b = bin.body();
        assert_eq!(
            b.len(),
            553 - bin.body_range().start - "\r\n--7a9cbec02ceef655--\r\n".len()
        );
        assert!(b.contains(&0) && b.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
        assert_eq!(&b[..4], b"0\x82\x01R");
        assert_eq!(&b[b.len() - 2..], b"\xd0\x05");
        assert!(mp.get(2).is_none());
    }

    const SDP: &[u8] = b"v=0\r\n\
o=UserA 2890844526 2890844527 IN IP4 192.0.2.5\r\n\
s=-\r\n\
c=IN IP4 192.0.2.5\r\n\
t=0 0\r\n\
m=audio 49172 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

    const PIDF: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\
<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\r\n\
xmlns:gp=\"urn:ietf:params:xml:ns:pidf:geopriv10\"\r\n\
xmlns:gml=\"http://www.opengis.net/gml\"\r\n\
entity=\"pres:alice@atlanta.example.com\">\r\n\
<tuple id=\"loc1\">\r\n\
<status><gp:geopriv><gp:location-info>\r\n\
<gml:Point srsName=\"urn:ogc:def:crs:EPSG::4326\">\r\n\
<gml:pos>33.7490 -84.3880</gml:pos>\r\n\
</gml:Point>\r\n\
</gp:location-info></gp:geopriv></status>\r\n\
</tuple>\r\n\
</presence>\r\n";

    fn emergency(sdp_first: bool) -> Vec<u8> {
        let sdp_part = [&b"Content-Type: application/sdp\r\n\r\n"[..], SDP].concat();
        let pidf_part = [
            &b"Content-Type: application/pidf+xml\r\nContent-ID: <target123@atlanta.example.com>\r\n\r\n"[..],
            PIDF,
        ]
        .concat();
        let (a, b) = if sdp_first {
            (sdp_part, pidf_part)
        } else {
            (pidf_part, sdp_part)
        };
        [
            &b"--boundary1\r\n"[..],
            &a,
            b"\r\n--boundary1\r\n",
            &b,
            b"\r\n--boundary1--\r\n",
        ]
        .concat()
    }

    #[test]
    fn rfc6442_emergency_body_and_body_replacement() {
        let body = emergency(true);
        let mp = parse_multipart(&body, b"boundary1").unwrap();
        check_layout(&body, &mp);
        assert!(mp.closed() && mp.check_closed().is_ok());
        assert_eq!(mp.len(), 2);
        let sdp = mp.find_by_type("application/sdp").unwrap();
        assert_eq!(sdp.body(), SDP);
        assert!(sdp.content_id().is_none());
        let loc = mp
            .find_by_content_id(b"cid:target123@atlanta.example.com")
            .unwrap();
        assert_eq!(
            loc.content_id(),
            Some(&b"<target123@atlanta.example.com>"[..])
        );
        assert_eq!(loc.body(), PIDF);
        assert!(loc.is_type("application/pidf+xml"));
        assert_eq!(
            mp.find_by_content_id(b"<target123@atlanta.example.com>")
                .unwrap()
                .range(),
            loc.range()
        );
        assert!(mp.find_by_content_id(b"cid:other@example.com").is_none());

        // Replace the SDP part's body: every other byte is identical and the result parses.
        let new_sdp = b"v=0\r\no=sbc 1 2 IN IP4 203.0.113.1\r\ns=-\r\nt=0 0\r\n";
        let r = sdp.body_range();
        let mut out = body.clone();
        out.splice(r.clone(), new_sdp.iter().copied());
        assert_eq!(&out[..r.start], &body[..r.start]);
        assert_eq!(&out[r.start + new_sdp.len()..], &body[r.end..]);
        let mp2 = parse_multipart(&out, b"boundary1").unwrap();
        assert_eq!(mp2.get(0).unwrap().body(), new_sdp);
        assert_eq!(mp2.get(1).unwrap().raw(), loc.raw());
    }

    #[test]
    fn pidf_first() {
        let body = emergency(false);
        let mp = parse_multipart(&body, b"boundary1").unwrap();
        check_layout(&body, &mp);
        assert!(mp.get(0).unwrap().is_type("application/pidf+xml"));
        assert_eq!(mp.find_by_type("Application/SDP").unwrap().body(), SDP);
        assert_eq!(
            mp.find_by_content_id(b"target123@atlanta.example.com")
                .unwrap()
                .body(),
            PIDF
        );
    }

    #[test]
    fn quoted_boundary_padding_folding_and_headers() {
        // The boundary comes from Content-Type through lex::Params + unquote.
        let ct_params = Params::new(b";boundary=\"simple boundary\"");
        let boundary = crate::lex::unquote(ct_params.get("boundary").unwrap().unwrap());
        assert_eq!(boundary, b"simple boundary");
        let body = b"--simple boundary  \r\n\
content-type: text/plain;\r\n charset=us-ascii\r\n\
Content-Disposition : render;handling=optional\r\n\
\r\n\
line one\r\n\
--simple boundary\t\r\n\
\r\n\
no headers here\r\n\
--simple boundary--";
        let mp = parse_multipart(body, boundary).unwrap();
        check_layout(body, &mp);
        assert!(mp.closed());
        let p = mp.get(0).unwrap();
        assert_eq!(
            p.content_type(),
            Some(&b"text/plain;\r\n charset=us-ascii"[..])
        );
        assert_eq!(p.media_type(), Some(&b"text/plain"[..]));
        assert_eq!(
            p.content_type_params().get("charset"),
            Some(Some(&b"us-ascii"[..]))
        );
        assert_eq!(
            p.content_disposition(),
            Some(&b"render;handling=optional"[..])
        );
        assert_eq!(p.headers().count(), 2);
        let h0 = p.headers().next().unwrap();
        assert_eq!(
            &body[h0.range()],
            b"content-type: text/plain;\r\n charset=us-ascii\r\n"
        );
        assert_eq!(p.body(), b"line one");
        let q = mp.get(1).unwrap();
        assert!(q.headers_range().is_empty() && q.content_type().is_none());
        assert_eq!(q.body(), b"no headers here");
    }

    #[test]
    fn bare_lf_preamble_epilogue() {
        let body = b"This is the preamble.\nIt is to be ignored.\n\
--xyz\n\
Content-Type: application/sdp\n\
\n\
v=0\n\
--xyz\n\
Content-Type: text/plain\n\
\n\
bye\n\
--xyz--\n\
This is the epilogue.\n";
        let mp = parse_multipart(body, b"xyz").unwrap();
        check_layout(body, &mp);
        assert_eq!(
            mp.preamble(),
            b"This is the preamble.\nIt is to be ignored."
        );
        assert_eq!(mp.epilogue(), b"This is the epilogue.\n");
        assert_eq!(mp.get(0).unwrap().body(), b"v=0");
        assert_eq!(mp.get(1).unwrap().body(), b"bye");
        // The boundary must start a line: "x--xyz" inside a body is content.
        let body2 = b"--xyz\r\n\r\nab --xyz cd\r\n--xyzzy\r\n--xyz--";
        let mp2 = parse_multipart(body2, b"xyz").unwrap();
        // "--xyzzy" starts with the delimiter: a delimiter per the RFC 2046 §5.1.1 note.
        assert_eq!(mp2.len(), 2);
        assert_eq!(mp2.get(0).unwrap().body(), b"ab --xyz cd");
        assert_eq!(mp2.get(1).unwrap().range().len(), 0);
    }

    #[test]
    fn unclosed_and_errors() {
        use MultipartErrorKind as K;
        let body = b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n";
        let mp = parse_multipart(body, b"b").unwrap();
        check_layout(body, &mp);
        assert!(!mp.closed());
        assert_eq!(
            mp.check_closed(),
            Err(MultipartError::new(K::MissingCloseDelimiter, body.len()))
        );
        assert_eq!(mp.get(0).unwrap().body(), b"hello\r\n");
        // Ends right after a delimiter line: no extra empty part.
        let mp = parse_multipart(b"--b\r\n\r\nx\r\n--b\r\n", b"b").unwrap();
        assert_eq!((mp.len(), mp.closed()), (1, false));

        assert_eq!(
            parse_multipart(b"no delimiter here\r\n-- b\r\n", b"b").unwrap_err(),
            MultipartError::new(K::MissingFirstDelimiter, 0)
        );
        assert_eq!(
            parse_multipart(b"--b--", b"").unwrap_err().kind,
            K::BadBoundary
        );
        assert_eq!(
            parse_multipart(b"--b--", b"a\r\nb").unwrap_err().kind,
            K::BadBoundary
        );
        let bad = b"--b\r\nContent-Type: text/plain\r\nnot a header\r\n\r\nx\r\n--b--";
        assert_eq!(
            parse_multipart(bad, b"b").unwrap_err(),
            MultipartError::new(K::BadPartHeader, 31)
        );
        let fold_first = b"--b\r\n folded\r\n\r\nx\r\n--b--";
        assert_eq!(
            parse_multipart(fold_first, b"b").unwrap_err(),
            MultipartError::new(K::BadPartHeader, 5)
        );

        let mut many = Vec::new();
        for _ in 0..=DEFAULT_MAX_PARTS {
            many.extend_from_slice(b"--b\r\n\r\nx\r\n");
        }
        many.extend_from_slice(b"--b--\r\n");
        let e = parse_multipart(&many, b"b").unwrap_err();
        assert_eq!(
            e,
            MultipartError::new(K::TooManyParts, 10 * DEFAULT_MAX_PARTS + 5)
        );
        assert_eq!(e.status(), 400);
        let mp = parse_multipart_with::<32>(&many, b"b", 32).unwrap();
        assert_eq!(mp.len(), DEFAULT_MAX_PARTS + 1);
        assert_eq!(
            parse_multipart_with::<32>(&many, b"b", 2).unwrap_err().kind,
            K::TooManyParts
        );
        assert_eq!((&mp).into_iter().count(), mp.len());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn never_panics_and_layout_holds(
            body in proptest::collection::vec(
                prop_oneof![Just(b'-'), Just(b'b'), Just(b'\r'), Just(b'\n'), Just(b':'), Just(b' '), any::<u8>()],
                0..400,
            ),
            boundary in proptest::collection::vec(prop_oneof![Just(b'b'), Just(b'-'), any::<u8>()], 0..4),
        ) {
            if let Ok(mp) = parse_multipart(&body, &boundary) {
                check_layout(&body, &mp);
            }
        }

        #[test]
        fn generated_bodies_round_trip(
            parts in proptest::collection::vec(
                (proptest::option::of("[a-z]{1,10}/[a-z+]{1,10}"), proptest::collection::vec(any::<u8>(), 0..80)),
                1..6,
            ),
            lf_only in any::<bool>(),
            preamble in "[ -~]{0,20}",
            replace in any::<prop::sample::Index>(),
        ) {
            let eol: &[u8] = if lf_only { b"\n" } else { b"\r\n" };
            // With bare-LF line ends, content ending in CR is ambiguous (CR + LF reads as the
            // delimiter's CRLF, which RFC 2046 makes canonical): keep the generator clear of it.
            let mut parts = parts;
            for (_, content) in parts.iter_mut() {
                if lf_only && content.last() == Some(&b'\r') {
                    content.push(b'x');
                }
            }
            let boundary = b"=_sbc_7f3a9e";
            let mut body = Vec::new();
            if !preamble.is_empty() {
                body.extend_from_slice(preamble.as_bytes());
                body.extend_from_slice(eol);
            }
            for (ct, content) in &parts {
                body.extend_from_slice(b"--");
                body.extend_from_slice(boundary);
                body.extend_from_slice(eol);
                if let Some(ct) = ct {
                    body.extend_from_slice(b"Content-Type: ");
                    body.extend_from_slice(ct.as_bytes());
                    body.extend_from_slice(eol);
                }
                body.extend_from_slice(eol);
                body.extend_from_slice(content);
                body.extend_from_slice(eol);
            }
            body.extend_from_slice(b"--=_sbc_7f3a9e--");
            body.extend_from_slice(eol);
            let mp = parse_multipart(&body, boundary).unwrap();
            check_layout(&body, &mp);
            prop_assert!(mp.closed());
            prop_assert_eq!(mp.len(), parts.len());
            prop_assert_eq!(mp.preamble(), preamble.as_bytes());
            for (p, (ct, content)) in mp.iter().zip(&parts) {
                prop_assert_eq!(p.body(), &content[..]);
                prop_assert_eq!(p.content_type(), ct.as_ref().map(|c| c.as_bytes()));
            }
            // Replace one part's body: the others are byte-identical afterwards.
            let k = replace.index(parts.len());
            let r = mp.get(k).unwrap().body_range();
            let mut out = body.clone();
            out.splice(r, b"NEW".iter().copied());
            let mp2 = parse_multipart(&out, boundary).unwrap();
            prop_assert_eq!(mp2.len(), parts.len());
            for i in 0..parts.len() {
                let got = mp2.get(i).unwrap();
                if i == k {
                    prop_assert_eq!(got.body(), b"NEW");
                } else {
                    prop_assert_eq!(got.raw(), mp.get(i).unwrap().raw());
                }
            }
        }
    }
}
