//! Small, typed, `Copy` errors that know their byte offset and the SIP status they imply
//! (architecture principle 9). No allocation, no `Box<dyn Error>`.

use core::fmt;

use crate::name::HeaderName;

/// What is wrong inside one grammar element (a URI, a header value, a parameter...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Syntax {
    /// Nothing where something was required.
    Empty,
    /// A byte that the grammar does not allow here.
    Unexpected,
    /// A quoted string without its closing quote.
    UnterminatedQuote,
    /// `<` without `>` (or the reverse).
    UnterminatedAngle,
    /// A malformed `;name=value` parameter (including empty ones such as `;;`).
    BadParam,
    /// A malformed `%HH` escape.
    BadEscape,
    /// A URI scheme that is not `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
    BadScheme,
    /// A malformed host (hostname, IPv4 or IPv6 reference).
    BadHost,
    /// A port that is not 1–5 digits within 0–65535.
    BadPort,
    /// A malformed SIP/SIPS/tel URI component.
    BadUri,
    /// A number that is not digits.
    BadNumber,
    /// A number too large for its field (RFC 4475 scalar02/scalarlg).
    Overflow,
    /// A method token that is not a token.
    BadMethod,
    /// A display name that is neither a quoted string nor tokens.
    BadDisplayName,
    /// An `addr-spec` carrying what only a `name-addr` may carry (RFC 3261 §20, regbadct).
    NeedsAngleBrackets,
    /// Trailing bytes after a complete element.
    Trailing,
    /// A malformed date (RFC 3261 §25.1 `SIP-date`, only GMT).
    BadDate,
}

impl Syntax {
    /// A short, stable, human-readable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Syntax::Empty => "empty",
            Syntax::Unexpected => "unexpected byte",
            Syntax::UnterminatedQuote => "unterminated quoted string",
            Syntax::UnterminatedAngle => "unterminated angle bracket",
            Syntax::BadParam => "malformed parameter",
            Syntax::BadEscape => "malformed escape",
            Syntax::BadScheme => "malformed URI scheme",
            Syntax::BadHost => "malformed host",
            Syntax::BadPort => "malformed port",
            Syntax::BadUri => "malformed URI",
            Syntax::BadNumber => "malformed number",
            Syntax::Overflow => "number too large",
            Syntax::BadMethod => "malformed method",
            Syntax::BadDisplayName => "malformed display name",
            Syntax::NeedsAngleBrackets => "addr-spec needs <> here",
            Syntax::Trailing => "trailing bytes",
            Syntax::BadDate => "malformed date",
        }
    }
}

/// A grammar error at a byte offset. The offset is relative to the slice the parser was given;
/// accessors on [`crate::Message`] rebase it to the message start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SyntaxError {
    /// What went wrong.
    pub kind: Syntax,
    /// Where (byte offset).
    pub at: usize,
}

impl SyntaxError {
    /// New error at `at`.
    pub const fn new(kind: Syntax, at: usize) -> Self {
        SyntaxError { kind, at }
    }

    /// The same error shifted by `base` bytes.
    pub const fn rebase(self, base: usize) -> Self {
        SyntaxError {
            kind: self.kind,
            at: self.at + base,
        }
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind.as_str(), self.at)
    }
}

impl std::error::Error for SyntaxError {}

/// Why a message could not be framed or parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The message exceeds `max_message_size`.
    MessageTooLarge,
    /// More header lines than `max_headers`.
    TooManyHeaders,
    /// A line longer than `max_line_len`.
    LineTooLong,
    /// More Via values than `max_vias`.
    TooManyVias,
    /// The header section never ends with an empty line.
    Incomplete,
    /// The start line is neither a Request-Line nor a Status-Line.
    BadStartLine,
    /// The Request-URI is malformed or not allowed in a Request-URI.
    BadRequestUri,
    /// The SIP-Version token is malformed (a well-formed but unsupported one parses).
    BadVersion,
    /// The status code is not three digits (RFC 4475 bigcode).
    BadStatusCode,
    /// A header line without a colon or with a bad name.
    BadHeaderLine,
    /// A transaction-critical header is malformed.
    BadCriticalHeader(HeaderName, Syntax),
    /// Content-Length is malformed, negative, repeated with different values (mcl01) or
    /// missing on a stream.
    BadContentLength,
    /// Content-Length announces more bytes than the datagram holds (clerr).
    BodyTruncated,
    /// A bare LF or CR where CRLF is required, or a NUL in the header section.
    BadLineEnding,
}

impl ParseErrorKind {
    /// The SIP response a request with this error should get (RFC 3261 §21). Responses with
    /// parse errors are dropped, never answered (§18.1.2).
    pub fn status(self) -> u16 {
        match self {
            ParseErrorKind::MessageTooLarge
            | ParseErrorKind::TooManyHeaders
            | ParseErrorKind::LineTooLong => 513,
            ParseErrorKind::BadVersion => 505,
            _ => 400,
        }
    }

    /// Short stable name for logs, metrics labels and `sbcd inspect`.
    pub fn as_str(self) -> &'static str {
        match self {
            ParseErrorKind::MessageTooLarge => "message_too_large",
            ParseErrorKind::TooManyHeaders => "too_many_headers",
            ParseErrorKind::LineTooLong => "line_too_long",
            ParseErrorKind::TooManyVias => "too_many_vias",
            ParseErrorKind::Incomplete => "incomplete",
            ParseErrorKind::BadStartLine => "bad_start_line",
            ParseErrorKind::BadRequestUri => "bad_request_uri",
            ParseErrorKind::BadVersion => "bad_version",
            ParseErrorKind::BadStatusCode => "bad_status_code",
            ParseErrorKind::BadHeaderLine => "bad_header_line",
            ParseErrorKind::BadCriticalHeader(..) => "bad_critical_header",
            ParseErrorKind::BadContentLength => "bad_content_length",
            ParseErrorKind::BodyTruncated => "body_truncated",
            ParseErrorKind::BadLineEnding => "bad_line_ending",
        }
    }
}

/// A framing or parse failure with the byte offset where it was detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// Byte offset into the message (or stream buffer).
    pub offset: u32,
}

impl ParseError {
    /// New error.
    pub fn new(kind: ParseErrorKind, offset: usize) -> Self {
        ParseError {
            kind,
            offset: offset.min(u32::MAX as usize) as u32,
        }
    }

    /// The status a request carrying this error should be answered with.
    pub fn status(&self) -> u16 {
        self.kind.status()
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ParseErrorKind::BadCriticalHeader(h, s) => {
                write!(
                    f,
                    "malformed {} header ({}) at byte {}",
                    h.as_str(),
                    s.as_str(),
                    self.offset
                )
            }
            k => write!(f, "{} at byte {}", k.as_str(), self.offset),
        }
    }
}

impl std::error::Error for ParseError {}
