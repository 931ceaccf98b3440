//! Edits and the serializer (architecture principle 7, Kamailio's "lumps").
//!
//! A received message is never mutated. Policy code records edits — replace, insert, remove
//! a span — against the original bytes; [`Edits::write`] copies every untouched byte as-is
//! into a reusable output buffer and applies the edits in order, recomputing
//! Content-Length when the body changed. That is what keeps a PIDF-LO part byte-exact while
//! the SDP part next to it is rewritten.

use core::fmt;
use core::ops::Range;

use crate::message::{Header, Message, Span};
use crate::name::HeaderName;

/// One recorded edit: replace `span` of the original with `data` (an insert is an empty
/// span; a removal has empty data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Op {
    span: Span,
    data: (u32, u32),
    seq: u32,
}

/// Two edits touch the same original bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverlapError {
    /// Offset where the later edit starts.
    pub at: u32,
}

impl fmt::Display for OverlapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "overlapping edits at byte {}", self.at)
    }
}

impl std::error::Error for OverlapError {}

/// A reusable edit list. `clear()` keeps its allocations, so a shard that serializes every
/// message through one `Edits` and one output `Vec` allocates nothing in steady state.
#[derive(Debug, Clone, Default)]
pub struct Edits {
    ops: Vec<Op>,
    arena: Vec<u8>,
}

impl Edits {
    /// An empty edit list.
    pub fn new() -> Self {
        Edits::default()
    }

    /// Forgets every edit, keeping capacity.
    pub fn clear(&mut self) {
        self.ops.clear();
        self.arena.clear();
    }

    /// Number of recorded edits.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    fn push(&mut self, span: Span, parts: &[&[u8]]) {
        let start = self.arena.len() as u32;
        for p in parts {
            self.arena.extend_from_slice(p);
        }
        let seq = self.ops.len() as u32;
        self.ops.push(Op {
            span,
            data: (start, self.arena.len() as u32),
            seq,
        });
    }

    /// Replaces the original bytes in `span` with `with`.
    pub fn replace(&mut self, span: Span, with: &[u8]) {
        self.push(span, &[with]);
    }

    /// Replaces `span` with the concatenation of `parts` (no temporary buffer needed).
    pub fn replace_parts(&mut self, span: Span, parts: &[&[u8]]) {
        self.push(span, parts);
    }

    /// Inserts `data` before original offset `at`. Several inserts at one offset keep their
    /// order.
    pub fn insert(&mut self, at: usize, data: &[u8]) {
        self.push(Span::new(at, at), &[data]);
    }

    /// Removes the original bytes in `span`.
    pub fn remove(&mut self, span: Span) {
        self.push(span, &[]);
    }

    // ----- message-level helpers ----------------------------------------------------------

    /// Rewrites the Request-URI.
    pub fn set_request_uri(&mut self, msg: &Message, uri: &[u8]) {
        if let crate::message::StartLine::Request { uri: span, .. } = *msg.start_line() {
            self.replace(span, uri);
        }
    }

    /// Rewrites the whole start line (without its CRLF), e.g. to turn a request into another.
    pub fn set_start_line(&mut self, msg: &Message, line: &[u8]) {
        self.replace(msg.start_line_span(), line);
    }

    /// Removes one header line (with its folded continuations and CRLF).
    pub fn remove_header(&mut self, h: &Header) {
        self.remove(h.line);
    }

    /// Removes every header line with this name.
    pub fn remove_all(&mut self, msg: &Message, name: HeaderName) {
        for h in msg.headers().iter().filter(|h| h.name == name) {
            self.remove(h.line);
        }
    }

    /// Removes every header line whose raw name matches (case-insensitive), for names
    /// outside the table.
    pub fn remove_all_raw(&mut self, msg: &Message, name: &[u8]) {
        let kind = HeaderName::from_bytes(name);
        for h in msg.headers() {
            if h.name == kind
                && (kind != HeaderName::Other || msg.raw_name(h).eq_ignore_ascii_case(name))
            {
                self.remove(h.line);
            }
        }
    }

    /// Replaces a header line's value, keeping its name as written.
    pub fn replace_value(&mut self, h: &Header, value: &[u8]) {
        self.replace(h.value, value);
    }

    /// Replaces one comma-separated element (a span inside a header's value).
    pub fn replace_element(&mut self, elem: Span, value: &[u8]) {
        self.replace(elem, value);
    }

    /// Removes one element of a comma-separated header value, with its separating comma
    /// and LWS; removes the whole line when it is the only element.
    pub fn remove_element(&mut self, msg: &Message, h: &Header, elem: Span) {
        let bytes = msg.as_bytes();
        let (vs, ve) = (h.value.start as usize, h.value.end as usize);
        let (mut s, mut e) = (elem.start as usize, elem.end as usize);
        // Extend forward over ", " when another element follows; else backward.
        let mut j = e;
        while j < ve && matches!(bytes[j], b' ' | b'\t' | b'\r' | b'\n') {
            j += 1;
        }
        if j < ve && bytes[j] == b',' {
            j += 1;
            while j < ve && matches!(bytes[j], b' ' | b'\t' | b'\r' | b'\n') {
                j += 1;
            }
            e = j;
        } else {
            let mut k = s;
            while k > vs && matches!(bytes[k - 1], b' ' | b'\t' | b'\r' | b'\n') {
                k -= 1;
            }
            if k > vs && bytes[k - 1] == b',' {
                s = k - 1;
            } else {
                // The only element: drop the line.
                self.remove(h.line);
                return;
            }
        }
        self.remove(Span::new(s, e));
    }

    /// Inserts a header line before the first header.
    pub fn prepend_header(&mut self, msg: &Message, name: &[u8], value: &[u8]) {
        let at = msg
            .headers()
            .first()
            .map_or(msg.header_end() - 2, |h| h.line.start as usize);
        self.push(Span::new(at, at), &[name, b": ", value, b"\r\n"]);
    }

    /// Inserts a header line before `before`.
    pub fn insert_header_before(&mut self, before: &Header, name: &[u8], value: &[u8]) {
        let at = before.line.start as usize;
        self.push(Span::new(at, at), &[name, b": ", value, b"\r\n"]);
    }

    /// Appends a header line after the last header.
    pub fn append_header(&mut self, msg: &Message, name: &[u8], value: &[u8]) {
        let at = msg.header_end() - 2;
        self.push(Span::new(at, at), &[name, b": ", value, b"\r\n"]);
    }

    /// Replaces the whole body.
    pub fn replace_body(&mut self, msg: &Message, body: &[u8]) {
        self.replace(msg.body_span(), body);
    }

    /// Replaces a range of the body (offsets relative to the body start), e.g. one part of a
    /// multipart body, or one `c=` address of an SDP.
    pub fn replace_in_body(&mut self, msg: &Message, range: Range<usize>, with: &[u8]) {
        let base = msg.body_span().start as usize;
        self.replace(Span::new(base + range.start, base + range.end), with);
    }

    // ----- serializer -------------------------------------------------------------------

    /// Writes `msg` with the edits applied into `out` (appending) and returns the number of
    /// bytes written. Content-Length is rewritten whenever the body's length changes, unless an
    /// edit already replaced it, and inserted when absent (RFC 4475 inv2543 arrives without
    /// one; what we send always carries it). A message that has one and no edits is copied
    /// byte for byte. Edits are applied in offset
    /// order; overlapping edits are an error and nothing is written.
    pub fn write(&mut self, msg: &Message, out: &mut Vec<u8>) -> Result<usize, OverlapError> {
        let (n_ops, n_arena) = (self.ops.len(), self.arena.len());
        let body = msg.body_span();
        let mut body_len = body.len() as i64;
        for o in &self.ops {
            if o.span.start >= body.start && o.span.end <= body.end {
                body_len += i64::from(o.data.1 - o.data.0) - o.span.len() as i64;
            }
        }
        if body_len != body.len() as i64 || msg.content_length().is_none() {
            let mut buf = [0u8; 20];
            let text = fmt_u64(body_len.max(0) as u64, &mut buf);
            let mut any = false;
            for h in msg
                .headers()
                .iter()
                .filter(|h| h.name == HeaderName::ContentLength)
            {
                any = true;
                let touched = self.ops[..n_ops]
                    .iter()
                    .any(|o| o.span.start < h.line.end && o.span.end > h.line.start);
                if !touched {
                    self.push(h.value, &[text]);
                }
            }
            if !any {
                let at = msg.header_end() - 2;
                self.push(Span::new(at, at), &[b"Content-Length: ", text, b"\r\n"]);
            }
        }
        let r = self.write_ops(msg, out);
        // Forget the Content-Length edits so `write` can be called again.
        self.ops.retain(|o| (o.seq as usize) < n_ops);
        self.arena.truncate(n_arena);
        r
    }

    fn write_ops(&mut self, msg: &Message, out: &mut Vec<u8>) -> Result<usize, OverlapError> {
        // Inserts at an offset go before a replacement starting there; equal keys keep the
        // order they were recorded in.
        self.ops
            .sort_unstable_by_key(|o| (o.span.start, !o.span.is_empty(), o.seq));
        let mut prev_end = 0u32;
        for o in &self.ops {
            if o.span.start < prev_end || o.span.end as usize > msg.as_bytes().len() {
                return Err(OverlapError { at: o.span.start });
            }
            prev_end = o.span.end;
        }
        let src = msg.as_bytes();
        let start_len = out.len();
        out.reserve(src.len() + self.arena.len());
        let mut pos = 0usize;
        for o in &self.ops {
            out.extend_from_slice(&src[pos..o.span.start as usize]);
            out.extend_from_slice(&self.arena[o.data.0 as usize..o.data.1 as usize]);
            pos = o.span.end as usize;
        }
        out.extend_from_slice(&src[pos..]);
        Ok(out.len() - start_len)
    }
}

/// Formats an integer into a stack buffer.
pub(crate) fn fmt_u64(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}
