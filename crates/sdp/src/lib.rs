//! `sbc-sdp`: a zero-copy SDP view (RFC 8866, formerly RFC 4566) for an SBC that rewrites
//! SDP through an external edit list.
//!
//! [`Sdp::parse`] validates the structure in one bounded pass and stores only offsets; every
//! accessor borrows the body and returns [`Field`]s / [`Line`]s that carry their byte span
//! relative to the body, so the caller can replace a connection address, a port, the proto,
//! a format list, a crypto key, or delete a whole line (its span includes the line end),
//! and every other byte stays identical.
//!
//! * No allocation, no `unsafe`, no panics on any input; work is bounded by the body length,
//!   [`SdpConfig::max_lines`] and [`MAX_MEDIA`].
//! * Liberal where RFC 8866 §5 lets parsers be: CRLF or bare LF, an unterminated last line,
//!   stray blank lines, any order of session lines after `v=`, unknown line types and
//!   attributes kept.
//! * Strict where the SBC depends on the value: `o=` (numeric sess-id/version), `c=`, `t=`
//!   and `m=` (port fits `u16`) are validated at parse time, so their accessors cannot fail.
//!   Attributes are parsed lazily by typed views that report their own errors.

mod attr;
mod crypto;
mod error;
mod field;
mod line;
mod media;
mod session;

pub use attr::{
    is_ice_attribute, is_standard_attribute, Attribute, Attributes, Direction, Fmtp, FmtpParams,
    Fmtps, Rtcp, RtpMap, RtpMaps, ICE_ATTRIBUTES, STANDARD_ATTRIBUTES,
};
pub use crypto::{Crypto, Cryptos, KeyParam, KeyParams, Lifetime, Mki};
pub use error::{SdpError, SdpErrorKind};
pub use field::{Field, Split, Words};
pub use line::{Line, Lines};
pub use media::{Format, Formats, Media, MediaIter};
pub use session::{
    Bandwidth, Bandwidths, Connection, Connections, Origin, Sdp, SdpConfig, Timing, MAX_MEDIA,
};

#[cfg(test)]
mod tests;
