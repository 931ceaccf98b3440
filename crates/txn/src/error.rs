//! Small typed errors (architecture principle 9): each says what went wrong and, where the
//! TU has a request to answer because of it, the status that implies.

use core::fmt;

use sbc_sip::ParseError;

use crate::endpoint::{Incoming, TxnState};
use crate::TxnId;

/// Why [`crate::Endpoint::handle_message`] discarded a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// No top Via: a request cannot be keyed (§17.2.3) nor answered (§18.2.2), a response
    /// cannot be matched (§17.1.3).
    NoVia,
    /// A response without CSeq: its method, half of the §17.1.3 key, is unknown.
    NoCSeq,
}

impl DropReason {
    /// A short stable name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::NoVia => "no top Via",
            DropReason::NoCSeq => "response without CSeq",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A handle that names no live transaction (never issued, or already terminated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnknownTxn(pub TxnId);

impl fmt::Display for UnknownTxn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no live transaction {}", self.0)
    }
}

impl std::error::Error for UnknownTxn {}

/// [`crate::Endpoint::accept`] refused to create the server transaction.
#[derive(Debug)]
pub enum AcceptError {
    /// A transaction with this key exists already (the TU held an [`Incoming`] while a
    /// retransmission of it was accepted); that transaction answers, so drop this one.
    Duplicate(TxnId),
    /// The table is at `max_transactions`. The request comes back so the TU can answer it
    /// statelessly ([`crate::Endpoint::reject`] with [`AcceptError::status`]).
    TableFull(Box<Incoming>),
}

impl AcceptError {
    /// The status the request should get: 503 when the table is full; `None` for a
    /// duplicate (its twin answers).
    pub fn status(&self) -> Option<u16> {
        match self {
            AcceptError::Duplicate(_) => None,
            AcceptError::TableFull(_) => Some(503),
        }
    }
}

impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcceptError::Duplicate(t) => write!(f, "transaction {t} already has this key"),
            AcceptError::TableFull(_) => f.write_str("transaction table full"),
        }
    }
}

impl std::error::Error for AcceptError {}

/// [`crate::Endpoint::send_request`] refused to create the client transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The message is a response.
    NotARequest,
    /// ACK is no transaction (§17.1.1.3 builds the non-2xx one, the TU sends the 2xx one
    /// with [`crate::Endpoint::send_stateless`]).
    Ack,
    /// No top Via.
    NoVia,
    /// The top Via has no RFC 3261 branch (magic cookie plus something); we only originate
    /// those (§8.1.1.7).
    NoBranch,
    /// No CSeq.
    NoCSeq,
    /// A live client transaction already has this branch and method.
    Duplicate(TxnId),
    /// The table is at `max_transactions`.
    TableFull,
    /// [`crate::Endpoint::send_request_bytes`] could not parse the request.
    Parse(ParseError),
}

impl SendError {
    /// The status the TU should answer the upstream request with, if this request was sent
    /// on its behalf: 503 when full (overload), 500 otherwise (our bug).
    pub fn status(&self) -> u16 {
        match self {
            SendError::TableFull => 503,
            _ => 500,
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NotARequest => f.write_str("not a request"),
            SendError::Ack => f.write_str("ACK is not a transaction; send it statelessly"),
            SendError::NoVia => f.write_str("request without a top Via"),
            SendError::NoBranch => f.write_str("top Via without an RFC 3261 branch"),
            SendError::NoCSeq => f.write_str("request without CSeq"),
            SendError::Duplicate(t) => write!(f, "transaction {t} already has this branch"),
            SendError::TableFull => f.write_str("transaction table full"),
            SendError::Parse(e) => write!(f, "unparsable request: {e}"),
        }
    }
}

impl std::error::Error for SendError {}

/// [`crate::Endpoint::respond`] refused the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespondError {
    /// No such transaction (it may have terminated: Timer H, J, L, or a transport error).
    UnknownTxn(TxnId),
    /// The handle names a client transaction.
    NotServer(TxnId),
    /// The message is a request.
    NotAResponse,
    /// The state does not take this response (a second final, §17.2.2; anything but a 2xx
    /// in Accepted, RFC 6026 §8.7). Nothing was sent.
    InvalidState {
        /// The state the transaction is in.
        state: TxnState,
        /// The refused status.
        status: u16,
    },
    /// [`crate::Endpoint::respond_bytes`] could not parse the response.
    Parse(ParseError),
}

impl fmt::Display for RespondError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RespondError::UnknownTxn(t) => write!(f, "no live transaction {t}"),
            RespondError::NotServer(t) => write!(f, "{t} is a client transaction"),
            RespondError::NotAResponse => f.write_str("not a response"),
            RespondError::InvalidState { state, status } => {
                write!(f, "{status} not allowed in {}", state.name())
            }
            RespondError::Parse(e) => write!(f, "unparsable response: {e}"),
        }
    }
}

impl std::error::Error for RespondError {}

/// [`crate::Endpoint::cancel`] could not cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelError {
    /// No such transaction.
    UnknownTxn(TxnId),
    /// Only INVITE client transactions can be cancelled (§9.1: CANCEL for non-INVITE
    /// "SHOULD NOT" be sent).
    NotInviteClient(TxnId),
    /// A final response arrived already: the CANCEL would have no effect (§9.1).
    AlreadyFinal(TxnId),
    /// A CANCEL exists already (the handle of that CANCEL).
    AlreadyCancelled(TxnId),
    /// The table is at `max_transactions`.
    TableFull,
}

impl fmt::Display for CancelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelError::UnknownTxn(t) => write!(f, "no live transaction {t}"),
            CancelError::NotInviteClient(t) => write!(f, "{t} is not an INVITE client"),
            CancelError::AlreadyFinal(t) => write!(f, "{t} has its final response"),
            CancelError::AlreadyCancelled(t) => write!(f, "already cancelled by {t}"),
            CancelError::TableFull => f.write_str("transaction table full"),
        }
    }
}

impl std::error::Error for CancelError {}
