//! The body hook: every body crossing from one leg to the other goes through a
//! [`BodyPolicy`]. The default passes it byte for byte; the media layer will rewrite SDP
//! here (anchoring: `c=`/`m=`, crypto, codecs), leaving other multipart parts such as a
//! PIDF-LO untouched (TI-39).

use core::fmt;

use crate::event::{CallKey, Side};

/// Where a body is in the offer/answer exchange (RFC 3264), as far as the engine knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyRole {
    /// In a request that starts an exchange (INVITE, re-INVITE, UPDATE).
    Offer,
    /// In the response or ACK that completes one.
    Answer,
    /// In a provisional response (early media).
    Early,
    /// Not part of offer/answer (INFO, MESSAGE, NOTIFY...).
    Other,
}

/// One body on its way across.
#[derive(Debug, Clone, Copy)]
pub struct BodyContext<'a> {
    /// The call.
    pub call: CallKey,
    /// The leg it came from.
    pub from: Side,
    /// Its role.
    pub role: BodyRole,
    /// The Content-Type value as received.
    pub content_type: Option<&'a [u8]>,
    /// The body as received.
    pub body: &'a [u8],
}

/// What to send instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyAction {
    /// Send it as received.
    Pass,
    /// Send this body (and Content-Type) instead.
    Replace {
        /// The new Content-Type value.
        content_type: Vec<u8>,
        /// The new body.
        body: Vec<u8>,
    },
}

/// Rewrites bodies crossing the B2BUA. Must not block (it runs on the shard's path).
pub trait BodyPolicy: fmt::Debug + Send + Sync {
    /// Decides what to send for this body.
    fn rewrite(&self, ctx: &BodyContext<'_>) -> BodyAction;

    /// The call ended: release whatever was kept for it.
    fn call_ended(&self, _call: CallKey) {}
}

/// Bodies pass byte for byte.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassThrough;

impl BodyPolicy for PassThrough {
    fn rewrite(&self, _ctx: &BodyContext<'_>) -> BodyAction {
        BodyAction::Pass
    }
}
