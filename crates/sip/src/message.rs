//! The parsed message: one frozen [`Bytes`] plus `u32` spans (architecture principle 5).
//!
//! Parsing is one pass over the lines: the start line is parsed, every header line is
//! indexed (name resolved through [`HeaderName`], value span, folding merged), and only the
//! transaction-critical headers are validated (top Via, CSeq, Call-ID, From/To with tags,
//! Max-Forwards, Content-Length). Every other header stays bytes until somebody asks for it
//! through [`Message::typed`]; a malformed optional header never fails the message
//! (principle 6). The only heap allocation is the header index.

use core::ops::Range;

use bytes::Bytes;

use crate::addr::name_addr_param;
use crate::error::{ParseError, ParseErrorKind as K, Syntax, SyntaxError};
use crate::lex::{self, CommaSplit};
use crate::name::HeaderName;
use crate::typed::TypedHeader;
use crate::uri::{check_uri, parse_uri, Uri};
use crate::via::Via;

/// A byte range inside a message, stored as `u32` to keep the index small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// From `usize` bounds (callers guarantee `end <= u32::MAX`: messages are size-limited).
    #[inline]
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// As a `usize` range.
    #[inline]
    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// Length in bytes.
    #[inline]
    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// True when empty.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// SIP methods (RFC 3261 §7.1 plus the extensions the SBC handles). Method names are
/// case-sensitive; anything else is [`Method::Other`] (its bytes stay in the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Register,
    Prack,
    Update,
    Info,
    Message,
    Refer,
    Notify,
    Subscribe,
    Publish,
    Other,
}

impl Method {
    /// Classifies a method token (case-sensitive, RFC 3261 §7.1; RFC 4475 esc02 shows that
    /// `RE%47IST%45R` is not REGISTER).
    #[inline]
    pub fn from_bytes(b: &[u8]) -> Method {
        match b {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"OPTIONS" => Method::Options,
            b"REGISTER" => Method::Register,
            b"PRACK" => Method::Prack,
            b"UPDATE" => Method::Update,
            b"INFO" => Method::Info,
            b"MESSAGE" => Method::Message,
            b"REFER" => Method::Refer,
            b"NOTIFY" => Method::Notify,
            b"SUBSCRIBE" => Method::Subscribe,
            b"PUBLISH" => Method::Publish,
            _ => Method::Other,
        }
    }

    /// The method name (`"(other)"` for extension methods: read the bytes instead).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Prack => "PRACK",
            Method::Update => "UPDATE",
            Method::Info => "INFO",
            Method::Message => "MESSAGE",
            Method::Refer => "REFER",
            Method::Notify => "NOTIFY",
            Method::Subscribe => "SUBSCRIBE",
            Method::Publish => "PUBLISH",
            Method::Other => "(other)",
        }
    }
}

/// Limits enforced before work is spent (architecture principle 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserConfig {
    /// Largest message accepted (start line + headers + body). Default 64 KiB (TI-8 asks
    /// for at least 10 KiB).
    pub max_message_size: usize,
    /// Most header lines (folded continuations count with their header). Default 256.
    pub max_headers: usize,
    /// Most Via values in one message. Default 64.
    pub max_vias: usize,
    /// Longest physical line. Default 8 KiB.
    pub max_line_len: usize,
}

impl Default for ParserConfig {
    fn default() -> Self {
        ParserConfig {
            max_message_size: 64 * 1024,
            max_headers: 256,
            max_vias: 64,
            max_line_len: 8 * 1024,
        }
    }
}

/// How the message was delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One UDP datagram: bytes past Content-Length are ignored (RFC 4475 dblreq); without
    /// Content-Length the body is the rest of the datagram (RFC 3261 §18.3, inv2543).
    Datagram,
    /// Exactly one message cut from a stream by [`crate::frame::StreamFramer`]:
    /// Content-Length is mandatory and must match.
    Stream,
}

/// One indexed header line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Resolved name.
    pub name: HeaderName,
    /// The name as written (compact or long, any case).
    pub name_span: Span,
    /// The value, LWS-trimmed, folding included (one span even over several lines).
    pub value: Span,
    /// The whole header from the first name byte to the end of its last line's CRLF.
    pub line: Span,
}

/// CSeq (RFC 3261 §20.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number (must fit in 32 bits, RFC 4475 scalar02).
    pub seq: u32,
    /// Method.
    pub method: Method,
    /// Where the method token is (for extension methods).
    pub method_span: Span,
}

/// The start line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine {
    /// `Method SP Request-URI SP SIP-Version`.
    Request {
        /// Classified method.
        method: Method,
        /// The method token.
        method_span: Span,
        /// The Request-URI.
        uri: Span,
        /// The SIP-Version token.
        version: Span,
    },
    /// `SIP-Version SP Status-Code SP Reason-Phrase`.
    Response {
        /// The SIP-Version token.
        version: Span,
        /// 100–699.
        status: u16,
        /// The reason phrase (may be empty, RFC 4475 noreason).
        reason: Span,
    },
}

/// What the parse pass validated and remembered about the transaction-critical headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Critical {
    call_id: Option<Span>,
    cseq: Option<CSeq>,
    top_via: Option<Span>,
    branch: Option<Span>,
    from: Option<Span>,
    from_tag: Option<Span>,
    to: Option<Span>,
    to_tag: Option<Span>,
    max_forwards: Option<u8>,
    content_length: Option<u32>,
    via_count: u16,
    n_call_id: u8,
    n_from: u8,
    n_to: u8,
    n_cseq: u8,
    n_max_forwards: u8,
}

/// A parsed SIP message. Cheap to clone: the bytes are reference-counted; the index is a
/// small vector of spans.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    buf: Bytes,
    start: StartLine,
    start_line: Span,
    headers: Vec<Header>,
    crit: Critical,
    /// First byte after the empty line that ends the header section.
    header_end: u32,
    body: Span,
}

impl core::fmt::Debug for Message {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Message")
            .field(
                "start",
                &String::from_utf8_lossy(&self.buf[self.start_line.range()]),
            )
            .field("headers", &self.headers.len())
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A typed header that failed to parse: which header and where (absolute offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderError {
    /// The header.
    pub name: HeaderName,
    /// The syntax error, offset from the start of the message.
    pub error: SyntaxError,
}

impl core::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} header: {}", self.name.as_str(), self.error)
    }
}

impl std::error::Error for HeaderError {}

const INDEX_CAPACITY: usize = 24;

impl Message {
    /// Parses one UDP datagram with the default limits.
    pub fn parse(buf: impl Into<Bytes>) -> Result<Message, ParseError> {
        Message::parse_with(buf.into(), &ParserConfig::default(), Framing::Datagram)
    }

    /// Parses with explicit limits and framing. The returned message's bytes end where the
    /// message ends: trailing datagram octets are cut off and can never be forwarded.
    pub fn parse_with(
        buf: Bytes,
        cfg: &ParserConfig,
        framing: Framing,
    ) -> Result<Message, ParseError> {
        if buf.len() > cfg.max_message_size || buf.len() > u32::MAX as usize {
            return Err(ParseError::new(K::MessageTooLarge, cfg.max_message_size));
        }
        let s: &[u8] = &buf;
        // RFC 3261 §7.5: ignore CRLFs before the start line.
        let mut pos = 0;
        while s.len() >= pos + 2 && s[pos] == b'\r' && s[pos + 1] == b'\n' {
            pos += 2;
        }
        let (line_end, next) = line_at(s, pos, cfg)?;
        let start_line = Span::new(pos, line_end);
        let start = parse_start_line(s, pos, line_end)?;
        pos = next;

        let mut headers: Vec<Header> = Vec::with_capacity(INDEX_CAPACITY);
        let header_end;
        loop {
            if pos >= s.len() {
                // The header section never ended with an empty line (RFC 4475 baddn).
                return Err(ParseError::new(K::Incomplete, pos));
            }
            // Fast path for an ordinary header line: one search finds the colon (the name is
            // read once), a second the LF after it. Anything else (the empty line, a folded
            // continuation, a line without a colon) takes the general path below, which
            // reaches the same results and errors.
            let limit = (pos + cfg.max_line_len + 2).min(s.len());
            if s[pos] != b'\r' && !lex::is_ws(s[pos]) {
                if let Some(c) = lex::find_colon_or_lf(&s[pos..limit]) {
                    let colon = pos + c;
                    if s[colon] == b':' {
                        // The first LF after the colon is the line's first LF.
                        let (le, nx) = line_end_after(s, pos, colon + 1, limit)?;
                        if headers.len() >= cfg.max_headers {
                            return Err(ParseError::new(K::TooManyHeaders, pos));
                        }
                        headers.push(header_at(s, pos, colon, le, nx)?);
                        pos = nx;
                        continue;
                    }
                }
            }
            let (le, nx) = line_at(s, pos, cfg)?;
            if le == pos {
                header_end = nx;
                break;
            }
            if lex::is_ws(s[pos]) {
                // Folded continuation (RFC 3261 §7.3.1): extend the previous header.
                let Some(h) = headers.last_mut() else {
                    return Err(ParseError::new(K::BadHeaderLine, pos));
                };
                // Only a continuation line with content extends the value; a line of
                // white space alone adds nothing (and must not move the start past the end).
                let mut cs = pos;
                while cs < le && lex::is_ws(s[cs]) {
                    cs += 1;
                }
                let mut ve = le;
                while ve > cs && lex::is_ws(s[ve - 1]) {
                    ve -= 1;
                }
                if ve > cs {
                    if h.value.is_empty() {
                        h.value.start = cs as u32;
                    }
                    h.value.end = ve as u32;
                }
                h.line.end = nx as u32;
            } else {
                if headers.len() >= cfg.max_headers {
                    return Err(ParseError::new(K::TooManyHeaders, pos));
                }
                headers.push(parse_header_line(s, pos, le, nx)?);
            }
            pos = nx;
        }

        let mut crit = Critical::default();
        for h in &headers {
            check_critical(s, h, cfg, &mut crit)?;
        }

        let avail = s.len() - header_end;
        let body_len = match (crit.content_length, framing) {
            (Some(cl), _) if cl as usize > avail => {
                return Err(ParseError::new(K::BodyTruncated, header_end))
            }
            (Some(cl), Framing::Stream) if cl as usize != avail => {
                return Err(ParseError::new(K::BadContentLength, header_end))
            }
            (Some(cl), _) => cl as usize,
            (None, Framing::Datagram) => avail,
            (None, Framing::Stream) => {
                return Err(ParseError::new(K::BadContentLength, header_end))
            }
        };
        let end = header_end + body_len;
        let buf = if end == buf.len() {
            buf
        } else {
            buf.slice(..end)
        };
        Ok(Message {
            buf,
            start,
            start_line,
            headers,
            crit,
            header_end: header_end as u32,
            body: Span::new(header_end, end),
        })
    }

    // ----- raw access -------------------------------------------------------------------

    /// The message bytes (exactly the message, nothing after it).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The frozen buffer (cheap clone).
    #[inline]
    pub fn bytes(&self) -> &Bytes {
        &self.buf
    }

    /// Bytes of a span.
    #[inline]
    pub fn slice(&self, span: Span) -> &[u8] {
        &self.buf[span.range()]
    }

    /// Offset of a sub-slice of this message's bytes (for edits built from typed views).
    pub fn offset_of(&self, part: &[u8]) -> Option<usize> {
        let base = self.buf.as_ptr() as usize;
        let p = part.as_ptr() as usize;
        (p >= base && p + part.len() <= base + self.buf.len()).then(|| p - base)
    }

    /// Span of a sub-slice of this message's bytes.
    pub fn span_of(&self, part: &[u8]) -> Option<Span> {
        self.offset_of(part).map(|o| Span::new(o, o + part.len()))
    }

    /// The start line as parsed.
    #[inline]
    pub fn start_line(&self) -> &StartLine {
        &self.start
    }

    /// The start line's span (without CRLF).
    #[inline]
    pub fn start_line_span(&self) -> Span {
        self.start_line
    }

    /// The header index, in order of appearance.
    #[inline]
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// A header's value bytes.
    #[inline]
    pub fn value(&self, h: &Header) -> &[u8] {
        &self.buf[h.value.range()]
    }

    /// A header's name as written.
    #[inline]
    pub fn raw_name(&self, h: &Header) -> &[u8] {
        &self.buf[h.name_span.range()]
    }

    /// Offset of the first body byte (just after the empty line).
    #[inline]
    pub fn header_end(&self) -> usize {
        self.header_end as usize
    }

    /// The body span.
    #[inline]
    pub fn body_span(&self) -> Span {
        self.body
    }

    /// The body bytes.
    #[inline]
    pub fn body(&self) -> &[u8] {
        &self.buf[self.body.range()]
    }

    /// The body as a shared [`Bytes`] (no copy).
    pub fn body_bytes(&self) -> Bytes {
        self.buf.slice(self.body.range())
    }

    // ----- start line -------------------------------------------------------------------

    /// True for requests.
    #[inline]
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method (`None` for responses).
    #[inline]
    pub fn method(&self) -> Option<Method> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The method token of a request, or the CSeq method token of a response.
    pub fn method_bytes(&self) -> &[u8] {
        match self.start {
            StartLine::Request { method_span, .. } => self.slice(method_span),
            StartLine::Response { .. } => self
                .crit
                .cseq
                .map(|c| self.slice(c.method_span))
                .unwrap_or(b""),
        }
    }

    /// The Request-URI bytes.
    pub fn request_uri_raw(&self) -> Option<&[u8]> {
        match self.start {
            StartLine::Request { uri, .. } => Some(self.slice(uri)),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI, typed (validated at parse time, so this does not fail for requests).
    pub fn request_uri(&self) -> Option<Uri<'_>> {
        self.request_uri_raw().and_then(|u| parse_uri(u).ok())
    }

    /// The SIP-Version token.
    pub fn version(&self) -> &[u8] {
        match self.start {
            StartLine::Request { version, .. } | StartLine::Response { version, .. } => {
                self.slice(version)
            }
        }
    }

    /// The status code of a response.
    #[inline]
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { status, .. } => Some(status),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a response.
    pub fn reason(&self) -> Option<&[u8]> {
        match self.start {
            StartLine::Response { reason, .. } => Some(self.slice(reason)),
            StartLine::Request { .. } => None,
        }
    }

    // ----- critical headers (validated at parse time) -----------------------------------

    /// Call-ID value.
    #[inline]
    pub fn call_id(&self) -> Option<&[u8]> {
        self.crit.call_id.map(|s| self.slice(s))
    }

    /// CSeq.
    #[inline]
    pub fn cseq(&self) -> Option<CSeq> {
        self.crit.cseq
    }

    /// The top Via element's bytes.
    #[inline]
    pub fn top_via_raw(&self) -> Option<&[u8]> {
        self.crit.top_via.map(|s| self.slice(s))
    }

    /// The top Via element's span.
    #[inline]
    pub fn top_via_span(&self) -> Option<Span> {
        self.crit.top_via
    }

    /// The top Via, typed (validated at parse time).
    pub fn top_via(&self) -> Option<Via<'_>> {
        self.top_via_raw().and_then(|v| Via::parse(v).ok())
    }

    /// The top Via's branch parameter.
    #[inline]
    pub fn branch(&self) -> Option<&[u8]> {
        self.crit.branch.map(|s| self.slice(s))
    }

    /// Number of Via values in the message.
    #[inline]
    pub fn via_count(&self) -> usize {
        self.crit.via_count as usize
    }

    /// The From header value (first one).
    pub fn from_raw(&self) -> Option<&[u8]> {
        self.crit.from.map(|s| self.slice(s))
    }

    /// The To header value (first one).
    pub fn to_raw(&self) -> Option<&[u8]> {
        self.crit.to.map(|s| self.slice(s))
    }

    /// The From tag.
    #[inline]
    pub fn from_tag(&self) -> Option<&[u8]> {
        self.crit.from_tag.map(|s| self.slice(s))
    }

    /// The From tag's span.
    #[inline]
    pub fn from_tag_span(&self) -> Option<Span> {
        self.crit.from_tag
    }

    /// The To tag.
    #[inline]
    pub fn to_tag(&self) -> Option<&[u8]> {
        self.crit.to_tag.map(|s| self.slice(s))
    }

    /// The To tag's span.
    #[inline]
    pub fn to_tag_span(&self) -> Option<Span> {
        self.crit.to_tag
    }

    /// Max-Forwards (0–255).
    #[inline]
    pub fn max_forwards(&self) -> Option<u8> {
        self.crit.max_forwards
    }

    /// Content-Length as received.
    #[inline]
    pub fn content_length(&self) -> Option<u32> {
        self.crit.content_length
    }

    /// How many times a single-valued critical header appears (RFC 4475 multi01): Call-ID,
    /// From, To, CSeq, Max-Forwards. Other names return the index count.
    pub fn count(&self, name: HeaderName) -> usize {
        match name {
            HeaderName::CallId => self.crit.n_call_id as usize,
            HeaderName::From => self.crit.n_from as usize,
            HeaderName::To => self.crit.n_to as usize,
            HeaderName::CSeq => self.crit.n_cseq as usize,
            HeaderName::MaxForwards => self.crit.n_max_forwards as usize,
            _ => self.headers.iter().filter(|h| h.name == name).count(),
        }
    }

    // ----- lazy access to every other header --------------------------------------------

    /// The first header line with this name.
    pub fn header(&self, name: HeaderName) -> Option<&Header> {
        self.headers.iter().find(|h| h.name == name)
    }

    /// The first value of a header (the whole line's value; not split at commas).
    pub fn get(&self, name: HeaderName) -> Option<&[u8]> {
        self.header(name).map(|h| self.value(h))
    }

    /// The first value of a header looked up by its raw name (case-insensitive), for
    /// headers outside the table such as `X-Custom`.
    pub fn get_raw(&self, name: &[u8]) -> Option<&[u8]> {
        let kind = HeaderName::from_bytes(name);
        self.headers
            .iter()
            .find(|h| {
                h.name == kind
                    && (kind != HeaderName::Other || self.raw_name(h).eq_ignore_ascii_case(name))
            })
            .map(|h| self.value(h))
    }

    /// Every value element of a header, across lines, split at top-level commas when the
    /// header is a list header (RFC 3261 §7.3.1). Yields `(absolute offset, element)`;
    /// a split error (unbalanced quote) yields the whole value once.
    pub fn values(&self, name: HeaderName) -> Values<'_> {
        Values {
            msg: self,
            name,
            idx: 0,
            split: None,
        }
    }

    /// The first element of a header, typed. `None` when absent.
    pub fn typed<'a, T: TypedHeader<'a>>(&'a self) -> Option<Result<T, HeaderError>> {
        self.values(T::NAME).next().map(|(off, v)| {
            T::parse(v).map_err(|e| HeaderError {
                name: T::NAME,
                error: e.rebase(off),
            })
        })
    }

    /// Every element of a header, typed.
    pub fn typed_all<'a, T: TypedHeader<'a>>(
        &'a self,
    ) -> impl Iterator<Item = Result<T, HeaderError>> + 'a {
        self.values(T::NAME).map(|(off, v)| {
            T::parse(v).map_err(|e| HeaderError {
                name: T::NAME,
                error: e.rebase(off),
            })
        })
    }
}

/// Iterator behind [`Message::values`].
#[derive(Debug)]
pub struct Values<'a> {
    msg: &'a Message,
    name: HeaderName,
    idx: usize,
    split: Option<(usize, CommaSplit<'a>)>,
}

impl<'a> Iterator for Values<'a> {
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((base, it)) = &mut self.split {
                match it.next() {
                    Some(Ok((off, v))) => {
                        if v.is_empty() {
                            continue;
                        }
                        return Some((*base + off, v));
                    }
                    Some(Err(_)) | None => self.split = None,
                }
                continue;
            }
            let msg = self.msg;
            let h = msg.headers.get(self.idx)?;
            self.idx += 1;
            if h.name != self.name {
                continue;
            }
            let v = msg.value(h);
            let base = h.value.start as usize;
            if self.name.is_list() && self.name != HeaderName::Other {
                // Validate the split first: an unbalanced quote makes the whole value one
                // element so nothing is silently lost.
                if CommaSplit::new(v).all(|r| r.is_ok()) {
                    self.split = Some((base, CommaSplit::new(v)));
                    continue;
                }
            }
            return Some((base, v));
        }
    }
}

// ----- parse helpers ------------------------------------------------------------------

/// Finds the end of the line starting at `pos`: returns (index of CR, index after LF).
/// CRLF is required; a bare LF or CR is an error; the line limit is enforced.
#[inline]
fn line_at(s: &[u8], pos: usize, cfg: &ParserConfig) -> Result<(usize, usize), ParseError> {
    let limit = (pos + cfg.max_line_len + 2).min(s.len());
    line_end_after(s, pos, pos, limit)
}

/// [`line_at`] for the line starting at `pos` when `s[pos..from]` is known to hold no LF:
/// the search for the line end starts at `from`; `limit` is the line limit's end.
#[inline]
fn line_end_after(
    s: &[u8],
    pos: usize,
    from: usize,
    limit: usize,
) -> Result<(usize, usize), ParseError> {
    match lex::find_byte(&s[from..limit], b'\n') {
        Some(i) => {
            let lf = from + i;
            if lf == pos || s[lf - 1] != b'\r' {
                return Err(ParseError::new(K::BadLineEnding, lf));
            }
            Ok((lf - 1, lf + 1))
        }
        None if limit < s.len() => Err(ParseError::new(K::LineTooLong, pos)),
        None => Err(ParseError::new(K::Incomplete, s.len())),
    }
}

fn parse_start_line(s: &[u8], pos: usize, end: usize) -> Result<StartLine, ParseError> {
    let line = &s[pos..end];
    if line.starts_with(b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let sp = memchr::memchr(b' ', line).ok_or(ParseError::new(K::BadStartLine, pos))?;
        let version = &line[..sp];
        check_version(version).map_err(|_| ParseError::new(K::BadVersion, pos))?;
        let rest = &line[sp + 1..];
        let code_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if code_len != 3 || (rest.len() > 3 && rest[3] != b' ') {
            return Err(ParseError::new(K::BadStatusCode, pos + sp + 1));
        }
        let status = u16::from(rest[0] - b'0') * 100
            + u16::from(rest[1] - b'0') * 10
            + u16::from(rest[2] - b'0');
        if !(100..=699).contains(&status) {
            return Err(ParseError::new(K::BadStatusCode, pos + sp + 1));
        }
        let reason_start = (pos + sp + 5).min(end);
        if s[pos..end].iter().any(|&b| b == b'\r' || b == 0) {
            return Err(ParseError::new(K::BadStartLine, pos));
        }
        return Ok(StartLine::Response {
            version: Span::new(pos, pos + sp),
            status,
            reason: Span::new(reason_start, end),
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version CRLF, single SPs only
    // (RFC 4475 lwsstart, trws, lwsruri).
    let sp1 = memchr::memchr(b' ', line).ok_or(ParseError::new(K::BadStartLine, pos))?;
    let method = &line[..sp1];
    if !lex::is_token_str(method) {
        return Err(ParseError::new(K::BadStartLine, pos));
    }
    let rest = &line[sp1 + 1..];
    let sp2 = memchr::memchr(b' ', rest).ok_or(ParseError::new(K::BadStartLine, pos + sp1 + 1))?;
    let uri = &rest[..sp2];
    let version = &rest[sp2 + 1..];
    let uri_at = pos + sp1 + 1;
    let ver_at = uri_at + sp2 + 1;
    if uri.is_empty() {
        return Err(ParseError::new(K::BadRequestUri, uri_at));
    }
    if version.is_empty() || version.contains(&b' ') {
        return Err(ParseError::new(K::BadStartLine, ver_at));
    }
    check_version(version).map_err(|_| ParseError::new(K::BadVersion, ver_at))?;
    match check_uri(uri) {
        // RFC 3261 §19.1.1 table: headers are not allowed in a Request-URI (escruri).
        Ok(true) => {
            return Err(ParseError::new(K::BadRequestUri, uri_at));
        }
        Ok(false) => {}
        Err(_) => return Err(ParseError::new(K::BadRequestUri, uri_at)),
    }
    Ok(StartLine::Request {
        method: Method::from_bytes(method),
        method_span: Span::new(pos, pos + sp1),
        uri: Span::new(uri_at, uri_at + sp2),
        version: Span::new(ver_at, end),
    })
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT` (case-insensitive "SIP"). A well-formed
/// version other than 2.0 parses; the request check answers 505 (RFC 4475 badvers).
fn check_version(v: &[u8]) -> Result<(), ()> {
    if v.len() < 7 || !v[..4].eq_ignore_ascii_case(b"SIP/") {
        return Err(());
    }
    let num = &v[4..];
    let dot = memchr::memchr(b'.', num).ok_or(())?;
    let (a, b) = (&num[..dot], &num[dot + 1..]);
    if a.is_empty()
        || b.is_empty()
        || !a.iter().all(u8::is_ascii_digit)
        || !b.iter().all(u8::is_ascii_digit)
    {
        return Err(());
    }
    Ok(())
}

/// One header line `name *WS ":" *LWS value *WS` between `pos` and its CR at `le`.
///
/// The name is everything before the first `:` less trailing white space, and must be a
/// non-empty token. The table lookup runs first: a name it resolves equals a table name
/// ignoring case, so it is a token already, and only the rare names outside the table are
/// checked byte by byte.
#[inline]
fn parse_header_line(s: &[u8], pos: usize, le: usize, nx: usize) -> Result<Header, ParseError> {
    let colon =
        pos + lex::find_byte(&s[pos..le], b':').ok_or(ParseError::new(K::BadHeaderLine, pos))?;
    header_at(s, pos, colon, le, nx)
}

/// [`parse_header_line`] once the line's first colon is known.
#[inline(always)]
fn header_at(
    s: &[u8],
    pos: usize,
    colon: usize,
    le: usize,
    nx: usize,
) -> Result<Header, ParseError> {
    let bad = || ParseError::new(K::BadHeaderLine, pos);
    let mut name_end = colon;
    while name_end > pos && lex::is_ws(s[name_end - 1]) {
        name_end -= 1;
    }
    let raw = &s[pos..name_end];
    let name = HeaderName::from_bytes_at(s, pos, raw.len());
    if name == HeaderName::Other && !lex::is_token_str(raw) {
        return Err(bad());
    }
    let mut i = colon + 1;
    while i < le && lex::is_ws(s[i]) {
        i += 1;
    }
    let mut ve = le;
    while ve > i && lex::is_ws(s[ve - 1]) {
        ve -= 1;
    }
    Ok(Header {
        name,
        name_span: Span::new(pos, name_end),
        value: Span::new(i, ve),
        line: Span::new(pos, nx),
    })
}

fn crit_err(h: HeaderName, e: SyntaxError, base: usize) -> ParseError {
    ParseError::new(K::BadCriticalHeader(h, e.kind), base + e.at)
}

#[inline]
fn bump(n: &mut u8) {
    *n = n.saturating_add(1);
}

fn check_critical(
    s: &[u8],
    h: &Header,
    cfg: &ParserConfig,
    c: &mut Critical,
) -> Result<(), ParseError> {
    let base = h.value.start as usize;
    let v = &s[h.value.range()];
    match h.name {
        HeaderName::Via => {
            for r in CommaSplit::new(v) {
                let (off, elem) = r.map_err(|e| crit_err(HeaderName::Via, e, base))?;
                if elem.is_empty() {
                    // `Via: a,,b` or a trailing comma: RFC 3261 §25.1 has no empty via-parm,
                    // and counting it would make via_count disagree with values().
                    let e = SyntaxError::new(Syntax::Empty, off);
                    return Err(crit_err(HeaderName::Via, e, base));
                }
                c.via_count = c.via_count.saturating_add(1);
                if c.via_count as usize > cfg.max_vias {
                    return Err(ParseError::new(K::TooManyVias, base + off));
                }
                if c.top_via.is_none() {
                    let branch = Via::check_branch(elem)
                        .map_err(|e| crit_err(HeaderName::Via, e, base + off))?;
                    c.top_via = Some(Span::new(base + off, base + off + elem.len()));
                    c.branch = branch.map(|b| sub_span(s, b));
                }
            }
        }
        HeaderName::From | HeaderName::To => {
            let is_from = h.name == HeaderName::From;
            bump(if is_from { &mut c.n_from } else { &mut c.n_to });
            let slot = if is_from { &mut c.from } else { &mut c.to };
            if slot.is_none() {
                let tag = name_addr_param(v, b"tag").map_err(|e| crit_err(h.name, e, base))?;
                *slot = Some(h.value);
                let tag = tag.map(|t| sub_span(s, t));
                if is_from {
                    c.from_tag = tag;
                } else {
                    c.to_tag = tag;
                }
            }
        }
        HeaderName::CallId => {
            bump(&mut c.n_call_id);
            // callid = word [ "@" word ]: no LWS inside, not empty.
            // A fold instead of `any`: no early exit, so the check runs as a vector loop.
            if v.is_empty()
                || v.iter()
                    .fold(false, |bad, &b| bad | (b <= b' ') | (b == 0x7f))
            {
                return Err(crit_err(
                    HeaderName::CallId,
                    SyntaxError::new(Syntax::Unexpected, 0),
                    base,
                ));
            }
            if c.call_id.is_none() {
                c.call_id = Some(h.value);
            }
        }
        HeaderName::CSeq => {
            bump(&mut c.n_cseq);
            let cseq = parse_cseq(v, base).map_err(|e| crit_err(HeaderName::CSeq, e, base))?;
            if c.cseq.is_none() {
                c.cseq = Some(cseq);
            }
        }
        HeaderName::MaxForwards => {
            bump(&mut c.n_max_forwards);
            let n = lex::parse_u32(v)
                .ok_or(Syntax::BadNumber)
                .and_then(|n| u8::try_from(n).map_err(|_| Syntax::Overflow))
                .map_err(|k| crit_err(HeaderName::MaxForwards, SyntaxError::new(k, 0), base))?;
            if c.max_forwards.is_none() {
                c.max_forwards = Some(n);
            }
        }
        HeaderName::ContentLength => {
            let n = lex::parse_u32(v).ok_or(ParseError::new(K::BadContentLength, base))?;
            match c.content_length {
                Some(prev) if prev != n => return Err(ParseError::new(K::BadContentLength, base)),
                _ => c.content_length = Some(n),
            }
        }
        _ => {}
    }
    Ok(())
}

/// `CSeq = 1*DIGIT LWS Method` (RFC 3261 §20.16).
fn parse_cseq(v: &[u8], base: usize) -> Result<CSeq, SyntaxError> {
    let digits = v.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return Err(SyntaxError::new(Syntax::BadNumber, 0));
    }
    let seq = lex::parse_u32(&v[..digits]).ok_or(SyntaxError::new(Syntax::Overflow, 0))?;
    let m = lex::skip_lws(v, digits);
    if m == digits {
        return Err(SyntaxError::new(Syntax::Unexpected, digits));
    }
    let method = &v[m..];
    if !lex::is_token_str(method) {
        return Err(SyntaxError::new(Syntax::BadMethod, m));
    }
    Ok(CSeq {
        seq,
        method: Method::from_bytes(method),
        method_span: Span::new(base + m, base + v.len()),
    })
}

/// Span of a sub-slice of `s` (both come from the same buffer by construction).
#[inline]
fn sub_span(s: &[u8], part: &[u8]) -> Span {
    let off = (part.as_ptr() as usize).saturating_sub(s.as_ptr() as usize);
    Span::new(off, off + part.len())
}
