//! `sbc-txn`: SIP transactions (RFC 3261 §17, corrected by RFC 6026), sans-IO.
//!
//! # Shape
//!
//! One [`Endpoint`] per shard owns every transaction of that shard. It never reads a clock,
//! opens a socket or draws a random number (architecture principles 1 and 4); it is driven
//! by inputs and drained by polls, in the style of `quinn-proto`:
//!
//! * inputs: [`Endpoint::handle_message`]`(now, msg, from)`, [`Endpoint::handle_timeout`]`(now)`,
//!   [`Endpoint::handle_transport_error`]`(now, txn)`, and the TU's commands
//!   [`Endpoint::accept`], [`Endpoint::reject`], [`Endpoint::ignore`], [`Endpoint::respond`],
//!   [`Endpoint::send_request`], [`Endpoint::cancel`], [`Endpoint::send_stateless`];
//! * outputs: [`Endpoint::poll_transmit`] → [`Transmit`] `{ to, bytes, txn }`,
//!   [`Endpoint::poll_event`] → [`Event`], [`Endpoint::poll_timeout`] → [`Instant`].
//!
//! The rule for the shell: after any input, drain `poll_transmit` and `poll_event`, then
//! sleep until `poll_timeout`. [`Instant`] is a nanosecond count from an epoch the shell
//! picks; tests run a virtual clock from [`Instant::ZERO`].
//!
//! # Dispatch: decide before allocating
//!
//! `handle_message` returns a [`Dispatch`] for every message:
//!
//! * [`Dispatch::Matched`]: a response for a client transaction (§17.1.3: top Via branch
//!   plus CSeq method, so a CANCEL's responses reach the CANCEL), or a retransmitted
//!   request or non-2xx ACK for a server transaction (§17.2.3: branch, sent-by and method,
//!   ACK counting as INVITE). Retransmissions are absorbed, re-sending the last response
//!   where the state says so; the TU sees nothing new.
//! * [`Dispatch::Incoming`]: a new request. It costs no table slot (principle 2) until the
//!   TU calls [`Endpoint::accept`]; [`Endpoint::reject`] answers it statelessly (the To tag
//!   is a hash of the request and a seed, so a retransmission gets the same answer) and
//!   [`Endpoint::ignore`] forgets it. A CANCEL is its own non-INVITE server transaction;
//!   [`Incoming::cancels`] names the INVITE server transaction it targets (§9.2).
//! * [`Dispatch::StrayAck`]: an ACK nothing absorbs, i.e. the ACK for a 2xx (its own
//!   transaction, §17.1.1.3), including one matched to an INVITE server transaction in
//!   RFC 6026 "Accepted" (which passes ACKs to the TU).
//! * [`Dispatch::StrayResponse`]: a response no client transaction matches. RFC 6026 (its
//!   change to §18.1.2) has stateful elements discard it; the B2BUA wants the late 2xx of
//!   forks and the 2xx retransmitted after Timer M, to ACK them from dialog state.
//! * [`Dispatch::Dropped`]: no top Via, or a response without CSeq ([`DropReason`]).
//!
//! Requests without an RFC 3261 branch (no magic cookie, or a bare cookie) are matched by
//! the RFC 2543 rules of §17.2.3: Request-URI, From tag, Call-ID, CSeq, top Via, and the
//! To tag, which for an ACK must be the one of our final response.
//!
//! # The four machines
//!
//! Each lives in its own module with the RFC figure in its doc comment and one
//! `match (state, input)` that reads like the figure: [`client_invite`] (§17.1.1 + RFC 6026
//! "Accepted", Timer M), [`client_non_invite`] (§17.1.2, plus a "Held" state in which a
//! CANCEL waits for its INVITE's first provisional response, §9.1), [`server_invite`]
//! (§17.2.1 + RFC 6026 "Accepted", Timer L), [`server_non_invite`] (§17.2.2). A machine sees
//! one input at a time through a context that lends it the endpoint's output queues; it
//! answers "stay", "terminate" (the endpoint destroys it at once and emits
//! [`Event::Terminated`]) or, for an ACK in "Accepted", "pass this ACK to the TU".
//!
//! Deviations and choices, all deliberate:
//!
//! * `100 Trying` goes out as soon as an INVITE is accepted ([`Config::trying_on_accept`]),
//!   not after 200 ms: the SBC always forwards, so it never answers that fast.
//! * A transport error in server INVITE Proceeding or Accepted informs the TU and keeps the
//!   transaction (RFC 6026 Figure 7); everywhere else it terminates (§17.1.4, §17.2.4).
//! * Responses go back to the request's source ([`Peer`]), i.e. symmetric response routing
//!   (RFC 3581 behaviour for everyone), which is what NATed and TLS peers need.
//! * A CANCEL asked for before any provisional response is held, then sent with the first
//!   1xx, or silently terminated if a final response (or Timer B) comes first (§9.1).
//! * Timer B is armed in Calling only (Figure 5): once a provisional arrived the INVITE
//!   client transaction never times out by itself; the TU's own no-answer timer cancels it.
//!
//! # Timers as data
//!
//! A transaction holds at most one retransmission timer (A, E or G) and one timeout timer
//! (B, D, F, H, I, J, K, L or M), each an absolute [`Instant`]. The endpoint keeps one
//! binary heap of `(deadline, slot, handle)` entries; an entry is checked against the
//! transaction when it pops, so disarming is free and stale entries of dead transactions
//! just fall out. At one instant a timeout fires before a retransmission. A retransmit timer
//! is re-armed from its own deadline (the schedule does not drift when the shell wakes
//! late) unless that is already past. Values follow Table 4 ([`Config`]: T1 500 ms, T2 4 s,
//! T4 5 s): A doubles from T1 without cap, E and G double from T1 up to T2 (E is T2 flat in
//! Proceeding); B, F, H, L, M are 64*T1; on unreliable transports D = 32 s, I = K = T4,
//! J = 64*T1; on reliable ones A, E, G are never armed and D, I, J, K are zero, so the
//! transaction terminates on the spot.
//!
//! # Handles
//!
//! [`TxnId`] is a slot index plus generation in a `Vec` with a free list; a key index
//! (`HashMap` of [`bytes::Bytes`] slices of the messages, so lookups copy nothing) finds
//! transactions by their §17.1.3 / §17.2.3 keys. A handle outlives its transaction safely:
//! every call with a dead handle is a typed error or a no-op.
//!
//! # Example
//!
//! ```
//! use sbc_sip::{build, Message};
//! use sbc_txn::{Config, Dispatch, Endpoint, Instant, Peer, Transport};
//!
//! let mut ep = Endpoint::new(Config::default()).unwrap();
//! let from = Peer::new(Transport::Udp, "192.0.2.1:5060".parse().unwrap());
//! let invite = Message::parse(
//!     &b"INVITE sip:bob@example.com SIP/2.0\r\n\
//!        Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n\
//!        From: <sip:alice@example.com>;tag=a\r\n\
//!        To: <sip:bob@example.com>\r\n\
//!        Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"[..],
//! )
//! .unwrap();
//! let now = Instant::ZERO;
//! let Dispatch::Incoming(incoming) = ep.handle_message(now, invite.clone(), from) else {
//!     unreachable!()
//! };
//! let txn = ep.accept(now, incoming).unwrap();
//! assert!(ep.poll_transmit().is_some()); // 100 Trying
//!
//! let mut out = Vec::new();
//! build::response(&invite, 486, None, Some(b"b"), &mut out).finish(None, b"");
//! ep.respond(now, txn, Message::parse(out).unwrap()).unwrap();
//! assert!(ep.poll_transmit().is_some()); // 486, retransmitted by Timer G until the ACK
//! assert_eq!(ep.poll_timeout(), Some(Instant::from_millis(500)));
//! ```

pub mod client_invite;
pub mod client_non_invite;
mod config;
mod endpoint;
mod error;
mod key;
mod machine;
mod peer;
pub mod server_invite;
pub mod server_non_invite;
mod time;
mod timer;

pub use client_invite::ClientInviteState;
pub use client_non_invite::ClientNonInviteState;
pub use config::{Config, ConfigError};
pub use endpoint::{Dispatch, Endpoint, Event, Incoming, TxnId, TxnState};
pub use error::{AcceptError, CancelError, DropReason, RespondError, SendError, UnknownTxn};
pub use peer::{Peer, Transmit, Transport};
pub use server_invite::ServerInviteState;
pub use server_non_invite::ServerNonInviteState;
pub use time::Instant;
pub use timer::Timer;
