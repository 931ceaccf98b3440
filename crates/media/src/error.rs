//! The error type of the media core, with the SIP status the call engine answers with.

use core::fmt;

use sbc_sdp::SdpError;

use crate::pool::PoolError;

/// Why a media operation failed. Every variant maps to one SIP status ([`MediaError::sip_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaError {
    /// The SDP body does not parse (RFC 8866 structure).
    Sdp(SdpError),
    /// A stream with a non-zero port has no usable `c=` (none, or not an IP literal).
    BadConnection {
        /// Media section index.
        stream: usize,
    },
    /// No media port pair left in the pool.
    Pool(PoolError),
    /// SRTP is required on the leg (TI-32) but the peer offered plain RTP or no acceptable
    /// `a=crypto` (RFC 4568 §7.1.2: the offer is then rejected).
    SrtpRequired,
    /// Every offered stream was refused (codec policy, profile, SRTP off, limits).
    NoAcceptableMedia,
    /// The answer does not fit the offer (more streams, unknown crypto tag, bad key).
    AnswerMismatch {
        /// Media section index.
        stream: usize,
    },
    /// A new offer while one is outstanding (RFC 3264 §4 / RFC 3261 §14.1 glare).
    OfferPending,
    /// An answer (or confirmation) without an outstanding offer.
    NoOfferPending,
    /// The session was released; it takes no more SDP.
    Released,
}

impl MediaError {
    /// The SIP final response the call engine should send for this error: 503 for an
    /// exhausted port pool (resource shortage, retry elsewhere), 491 for glare (RFC 3261
    /// §14.2), 500 for call-engine sequencing errors, 488 for everything about the SDP
    /// (RFC 3261 §21.4.26 / RFC 4568 §7.1.2).
    pub fn sip_status(&self) -> u16 {
        match self {
            MediaError::Pool(_) => 503,
            MediaError::OfferPending => 491,
            MediaError::NoOfferPending | MediaError::Released => 500,
            _ => 488,
        }
    }

    /// A short stable name for logs and metric labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            MediaError::Sdp(_) => "bad_sdp",
            MediaError::BadConnection { .. } => "bad_connection",
            MediaError::Pool(_) => "ports_exhausted",
            MediaError::SrtpRequired => "srtp_required",
            MediaError::NoAcceptableMedia => "no_acceptable_media",
            MediaError::AnswerMismatch { .. } => "answer_mismatch",
            MediaError::OfferPending => "offer_pending",
            MediaError::NoOfferPending => "no_offer_pending",
            MediaError::Released => "released",
        }
    }
}

impl fmt::Display for MediaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaError::Sdp(e) => write!(f, "media: {e}"),
            MediaError::BadConnection { stream } | MediaError::AnswerMismatch { stream } => {
                write!(f, "media: {} in stream {stream}", self.as_str())
            }
            MediaError::Pool(e) => write!(f, "media: {e}"),
            _ => write!(f, "media: {}", self.as_str()),
        }
    }
}

impl std::error::Error for MediaError {}

impl From<SdpError> for MediaError {
    fn from(e: SdpError) -> Self {
        MediaError::Sdp(e)
    }
}

impl From<PoolError> for MediaError {
    fn from(e: PoolError) -> Self {
        MediaError::Pool(e)
    }
}
