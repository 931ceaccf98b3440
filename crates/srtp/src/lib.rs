//! `sbc-srtp`: SRTP and SRTCP (RFC 3711) for SDES-keyed calls (RFC 4568), as Microsoft
//! Teams Direct Routing requires on its media leg (TI-32: SDES, `AES_CM_128_HMAC_SHA1_80`
//! mandatory, `_32`, lifetime `2^31` and MKI `1:1` in Microsoft offers).
//!
//! * Suites `AES_CM_128_HMAC_SHA1_80` and `AES_CM_128_HMAC_SHA1_32` (SRTCP always carries
//!   the 80-bit tag, RFC 4568 §6.2.2), key derivation rate 0 (§4.3).
//! * MKI of 1..=4 bytes between payload and tag; several master keys per context,
//!   selected by MKI on receive (Teams offers `inline:KEY|2^31|1:1`).
//! * Master key lifetime enforced per packet count (RFC 4568 §6.1), index space limits
//!   (2^48 SRTP, 2^31 SRTCP, RFC 3711 §9.2): [`Error::KeyExpired`] beyond.
//! * Rollover counter and index estimation (§3.3.1, Appendix A), replay window
//!   (§3.3.2, 64..=1024 packets) on both SRTP and SRTCP, per SSRC.
//! * In place on the caller's buffer, no allocation per packet; every input gets a typed
//!   [`Error`] and never a panic. Nothing is decrypted before the tag verifies.
//!
//! Pure: no I/O, no clock, no randomness (new keys come from the caller as bytes).

mod context;
mod crypto;
mod error;
mod keys;
mod replay;

pub use context::{Config, Context, MAX_REPLAY_WINDOW, MAX_RTCP_TRAILER, MAX_RTP_TRAILER};
pub use error::{Error, KeyError};
pub use keys::{
    KeyParams, Mki, Suite, MASTER_KEY_LEN, MASTER_SALT_LEN, MAX_MKI_LEN, MAX_SRTCP_LIFETIME,
    MAX_SRTP_LIFETIME,
};
