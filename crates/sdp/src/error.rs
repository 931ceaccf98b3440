//! The one error type of this crate: small, `Copy`, and carrying the byte offset (relative to
//! the SDP body) where the problem was detected, so that an SBC can log it and answer
//! `488 Not Acceptable Here` / `400` without allocating.

use core::fmt;

/// What is wrong with an SDP body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SdpErrorKind {
    /// The body is empty.
    Empty,
    /// A line whose second byte is not `=` (RFC 8866 §5: `<type>=<value>`).
    MissingEquals,
    /// A `<type>` that is not an ASCII letter (RFC 8866 §5, §9 grammar).
    BadLineType,
    /// The first line is not `v=` (RFC 8866 §5: "v=" MUST come first).
    VersionNotFirst,
    /// `v=` other than `0` (RFC 8866 §5.1: the only defined version).
    BadVersion,
    /// A second `v=`, `o=` or `s=` line (RFC 8866 §5: exactly one each).
    DuplicateLine,
    /// No `o=` line in the session section (RFC 8866 §5.2).
    MissingOrigin,
    /// No `s=` line in the session section (RFC 8866 §5.3).
    MissingSessionName,
    /// No `t=` line in the session section (RFC 8866 §5.9).
    MissingTiming,
    /// A malformed `o=` line (six fields; numeric sess-id and sess-version that fit `u64`).
    BadOrigin,
    /// A malformed `c=` line (three fields).
    BadConnection,
    /// A malformed `t=` line (two fields).
    BadTiming,
    /// A malformed `m=` line (media, port[/count] within `u16`, proto).
    BadMedia,
    /// A malformed attribute value, reported by the typed attribute parsers (rtpmap, fmtp,
    /// rtcp, crypto). Never returned by [`crate::Sdp::parse`]: unknown or odd attributes are
    /// kept raw there.
    BadAttribute,
    /// More lines than [`crate::SdpConfig::max_lines`].
    TooManyLines,
    /// More than [`crate::MAX_MEDIA`] media sections.
    TooManyMedia,
}

impl SdpErrorKind {
    /// A short stable name for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            SdpErrorKind::Empty => "empty",
            SdpErrorKind::MissingEquals => "missing_equals",
            SdpErrorKind::BadLineType => "bad_line_type",
            SdpErrorKind::VersionNotFirst => "version_not_first",
            SdpErrorKind::BadVersion => "bad_version",
            SdpErrorKind::DuplicateLine => "duplicate_line",
            SdpErrorKind::MissingOrigin => "missing_origin",
            SdpErrorKind::MissingSessionName => "missing_session_name",
            SdpErrorKind::MissingTiming => "missing_timing",
            SdpErrorKind::BadOrigin => "bad_origin",
            SdpErrorKind::BadConnection => "bad_connection",
            SdpErrorKind::BadTiming => "bad_timing",
            SdpErrorKind::BadMedia => "bad_media",
            SdpErrorKind::BadAttribute => "bad_attribute",
            SdpErrorKind::TooManyLines => "too_many_lines",
            SdpErrorKind::TooManyMedia => "too_many_media",
        }
    }
}

/// An SDP error at a byte offset into the body given to the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SdpError {
    /// What went wrong.
    pub kind: SdpErrorKind,
    /// Where: byte offset into the SDP body.
    pub offset: usize,
}

impl SdpError {
    /// New error.
    pub const fn new(kind: SdpErrorKind, offset: usize) -> Self {
        SdpError { kind, offset }
    }
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SDP {} at byte {}", self.kind.as_str(), self.offset)
    }
}

impl std::error::Error for SdpError {}
