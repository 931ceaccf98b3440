//! What the engine tells the shell: call state changes (metrics, logs), CDRs, rejections
//! made before any state existed, and gateways marked unavailable.

use core::fmt;

use sbc_txn::{Instant, Peer};

/// A call's handle: a slot index plus generation in the engine's call table, so a handle
/// kept after its call ended never names the slot's next occupant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallKey {
    pub(crate) index: u32,
    pub(crate) gen: u32,
}

impl CallKey {
    /// The slot index.
    pub fn index(self) -> u32 {
        self.index
    }

    /// The slot generation.
    pub fn generation(self) -> u32 {
        self.gen
    }
}

impl fmt::Display for CallKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call#{}.{}", self.index, self.gen)
    }
}

/// The two legs of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The caller's leg: the new INVITE arrived on it (the engine is its UAS).
    A,
    /// The called party's leg: the engine built its INVITE (and is its UAC).
    B,
}

impl Side {
    /// The other leg.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// The phases of a call, as reported in [`EngineEvent::CallState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallPhase {
    /// The B-leg INVITE is out (no 18x relayed yet).
    Proceeding,
    /// An 18x was relayed to the caller.
    Early,
    /// A 2xx was sent to the caller; waiting for its ACK.
    Answered,
    /// Both legs confirmed.
    Confirmed,
    /// The caller cancelled (or no-answer fired); waiting for the B leg's final response.
    Cancelling,
    /// Gone from the table; the CDR follows.
    Ended,
}

/// Who ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndedBy {
    /// The A party (BYE, CANCEL).
    Caller,
    /// The B party (BYE, a final error).
    Callee,
    /// The SBC (timers, policy, errors).
    Sbc,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// BYE after an answer.
    Normal,
    /// CANCEL (or BYE in the early dialog) from the caller.
    Cancelled,
    /// The called side answered with an error (relayed).
    Rejected,
    /// Every target failed with a retryable error, timed out, or was unavailable.
    NoTarget,
    /// The no-answer timer fired.
    NoAnswer,
    /// The caller never ACKed our 2xx (64*T1).
    AckTimeout,
    /// RFC 4028: nobody refreshed the session in time.
    SessionExpired,
    /// A session refresh we sent failed.
    RefreshFailed,
    /// An in-dialog request got 408/481 or timed out: the dialog is gone (§12.2.1.2).
    DialogLost,
    /// A 3xx the policy did not follow.
    Redirected,
    /// The transaction layer refused something (table full, internal error).
    Internal,
    /// The transferor left and the transfer's new call failed (TI-26).
    TransferFailed,
}

/// The identifiers of an INVITE refused before any state ([`EngineEvent::Rejected`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedAttempt {
    /// Its Call-ID.
    pub call_id: Vec<u8>,
    /// Its CSeq number (with the Call-ID, tells a retransmission from a new attempt).
    pub cseq: u32,
    /// The user part of its From.
    pub calling: Vec<u8>,
    /// The user part of its To.
    pub called: Vec<u8>,
    /// The inbound trunk, when the router knows the source.
    pub trunk_in: Option<String>,
}

/// One call detail record: one per accepted INVITE (an attempt that reached the engine's
/// table), whatever its outcome. Times are [`Instant`]s; the shell converts to UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cdr {
    /// The call.
    pub call: CallKey,
    /// The A leg's Call-ID (received).
    pub a_call_id: Vec<u8>,
    /// The B leg's Call-ID of the last attempt (ours), if one was sent.
    pub b_call_id: Option<Vec<u8>>,
    /// The user part of the caller's From.
    pub calling: Vec<u8>,
    /// The user part of the caller's To.
    pub called: Vec<u8>,
    /// The inbound trunk, if the router named one.
    pub trunk_in: Option<String>,
    /// The tenant, if routing named one.
    pub tenant: Option<String>,
    /// Routing classified it as an emergency call (TI-38).
    pub emergency: bool,
    /// The trunk of the last B-leg attempt.
    pub trunk_out: Option<String>,
    /// How many B-leg INVITEs were sent (failover, redirects).
    pub attempts: u8,
    /// The INVITE arrived.
    pub invite_at: Instant,
    /// The first 18x was relayed.
    pub ringing_at: Option<Instant>,
    /// The 2xx was relayed.
    pub answered_at: Option<Instant>,
    /// The call left the table.
    pub ended_at: Instant,
    /// The final status the caller got (200 when answered).
    pub status: u16,
    /// Who ended it.
    pub ended_by: EndedBy,
    /// Why.
    pub reason: EndReason,
    /// A Q.850 cause carried in a Reason header (BYE, CANCEL, or final response).
    pub q850: Option<u16>,
}

/// What the engine reports, drained with [`crate::Engine::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineEvent {
    /// A call changed phase.
    CallState {
        /// The call.
        call: CallKey,
        /// The new phase.
        phase: CallPhase,
        /// When.
        at: Instant,
    },
    /// A call ended: its record.
    Cdr(Box<Cdr>),
    /// A new request was refused before any state was created (validation, routing,
    /// admission, overload).
    Rejected {
        /// The status sent.
        status: u16,
        /// Why (stable text for metrics).
        why: &'static str,
        /// The source.
        from: Peer,
        /// When.
        at: Instant,
        /// For a refused INVITE, what its call record needs (an attempt refused before
        /// any state is still a call attempt: CDRs and ASR count it).
        attempt: Option<Box<RefusedAttempt>>,
    },
    /// A target reached over a stream (TCP/TLS) answered 503: the shell drops that
    /// connection so the next request opens a fresh one (TI-18: Microsoft's 503 means that
    /// proxy instance should not be used again).
    DropConnection {
        /// The target.
        peer: Peer,
    },
    /// A target answered 503 with Retry-After: skipped by failover until `until`.
    TargetUnavailable {
        /// The target.
        peer: Peer,
        /// Available again from this instant.
        until: Instant,
    },
}
