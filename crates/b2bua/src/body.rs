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
    /// The A leg's source trunk, when the router named one (the Teams trunk is
    /// `sbc_policy::TEAMS_TRUNK`): lets the policy pick media rules per trunk.
    pub trunk_a: Option<&'a str>,
    /// The B leg's target trunk, once a B-leg INVITE was built (the current attempt's).
    pub trunk_b: Option<&'a str>,
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
    /// Refuse the body (no media resources, no acceptable stream...). What the engine does
    /// depends on the role:
    /// - [`BodyRole::Offer`] in the B-leg INVITE: no INVITE is sent and the call fails
    ///   toward the caller with `status` (no further targets are tried: the offer is the
    ///   same for every target).
    /// - [`BodyRole::Offer`] in a relayed re-INVITE/UPDATE: the requester gets `status`
    ///   and nothing is relayed (the other leg's session is unchanged).
    /// - [`BodyRole::Answer`] in the B leg's 2xx to the initial INVITE: the 2xx is ACKed,
    ///   that dialog gets a BYE (RFC 3261 §13.2.2.4) and the caller gets 488.
    /// - Any other role (other answers, early answers, other bodies): the message is sent
    ///   without a body, so nothing the policy refused reaches the other leg. For an
    ///   answer in a re-INVITE/UPDATE 2xx or an ACK this leaves that exchange unanswered
    ///   (the peer usually ends the call); an early answer dropped is just no early media.
    Reject {
        /// The status for the refused request (488 Not Acceptable Here, 503...).
        status: u16,
    },
}

/// Rewrites bodies crossing the B2BUA. Must not block (it runs on the shard's path).
pub trait BodyPolicy: fmt::Debug + Send + Sync {
    /// Decides what to send for this body.
    fn rewrite(&self, ctx: &BodyContext<'_>) -> BodyAction;

    /// The call ended: release whatever was kept for it.
    fn call_ended(&self, _call: CallKey) {}

    /// An offer from `from` that went through [`BodyPolicy::rewrite`] (role
    /// [`BodyRole::Offer`]) will not be answered: its request got a non-2xx final (491
    /// included), timed out, or could not be sent. The policy rolls back what it
    /// prepared for that exchange (RFC 3264 §8: the session stays as it was).
    fn exchange_failed(&self, _call: CallKey, _from: Side) {}
}

/// Bodies pass byte for byte.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassThrough;

impl BodyPolicy for PassThrough {
    fn rewrite(&self, _ctx: &BodyContext<'_>) -> BodyAction {
        BodyAction::Pass
    }
}
