//! `sbc-b2bua`: the call engine of the SBC — a pure, sans-IO back-to-back user agent
//! (RFC 3261 §6 "B2BUA": a UAS toward the caller and a UAC toward the called party, with
//! everything in between decided by policy).
//!
//! # Shape
//!
//! One [`Engine`] per shard owns every call of that shard; it acts on the shard's
//! [`sbc_txn::Endpoint`], which the shard also owns, and never reads a clock, touches a
//! socket or draws a random number (architecture principles 1–4):
//!
//! * inputs: [`Engine::handle_dispatch`] for every [`sbc_txn::Dispatch`] of a received
//!   message, [`Engine::handle_txn_event`] for every [`sbc_txn::Event`] the endpoint emits
//!   (including those caused by the engine's own commands), and [`Engine::handle_timeout`];
//! * outputs: the endpoint's transmits (the engine accepts, responds and sends through it),
//!   [`Engine::poll_event`] → [`EngineEvent`] (phase changes, [`Cdr`]s, stateless
//!   rejections, targets marked unavailable), [`Engine::poll_timeout`].
//!
//! The shell's loop for one shard:
//!
//! ```text
//! on datagram/frame:  d = ep.handle_message(now, msg, from); engine.handle_dispatch(now, &mut ep, d)
//! on send failure:    ep.handle_transport_error(now, txn)
//! on wake-up:         ep.handle_timeout(now); drain; engine.handle_timeout(now, &mut ep)
//! after each input:   while let Some(ev) = ep.poll_event() { engine.handle_txn_event(now, &mut ep, ev) }
//!                     (or engine.drain_endpoint_events(now, &mut ep)),
//!                     send every ep.poll_transmit(), consume engine.poll_event(),
//!                     sleep until min(ep.poll_timeout(), engine.poll_timeout())
//! ```
//!
//! Time is [`sbc_txn::Instant`]; identifiers come from an [`IdSource`] (default
//! [`SplitMix64`], seeded by the shell); routing is a [`Router`] (default [`StaticRouter`]);
//! bodies pass through a [`BodyPolicy`] (default [`PassThrough`]; the media layer plugs in
//! here). The whole engine is therefore deterministic: the tests run complete calls on a
//! simulated network with a virtual clock (`sbc-testkit`) and compare exact messages.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use sbc_b2bua::{Engine, EngineConfig, StaticRouter};
//! use sbc_sip::Message;
//! use sbc_txn::{Config, Endpoint, Instant, Peer, Transport};
//!
//! let mut ep = Endpoint::new(Config::default()).unwrap();
//! let router = Arc::new(StaticRouter::lab_default(None)); // 127.0.0.0/8 → 127.0.0.1:5080
//! let mut engine = Engine::with_seed(EngineConfig::default(), 0, router, 42).unwrap();
//!
//! let caller = Peer::new(Transport::Udp, "127.0.0.1:5070".parse().unwrap());
//! let invite = Message::parse(
//!     &b"INVITE sip:+15551234@127.0.0.1 SIP/2.0\r\n\
//!        Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
//!        Max-Forwards: 70\r\n\
//!        From: <sip:+15550001@example.com>;tag=a\r\n\
//!        To: <sip:+15551234@example.com>\r\n\
//!        Call-ID: c1\r\nCSeq: 1 INVITE\r\n\
//!        Content-Length: 0\r\n\r\n"[..],
//! )
//! .unwrap();
//! let now = Instant::ZERO;
//! let d = ep.handle_message(now, invite, caller);
//! engine.handle_dispatch(now, &mut ep, d);
//! engine.drain_endpoint_events(now, &mut ep);
//!
//! let trying = ep.poll_transmit().unwrap(); // 100 Trying to the caller
//! assert_eq!(trying.to, caller);
//! let b_invite = ep.poll_transmit().unwrap(); // the B-leg INVITE to the gateway
//! assert_eq!(b_invite.to.addr, "127.0.0.1:5080".parse().unwrap());
//! let b = Message::parse(b_invite.bytes).unwrap();
//! assert_eq!(sbc_b2bua::shard_of(b.call_id().unwrap()), Some(0));
//! assert_eq!(engine.calls(), 1);
//! ```
//!
//! # Decide before allocating
//!
//! A new INVITE becomes a call only after, in this order: request validation
//! ([`sbc_sip::check_request`]: 400/405/415/416/420/483/501/505…), merged-request and loop
//! checks (482), drain and table capacity (503), the global admission gate (concurrent
//! calls, calls per second as a token bucket on `now`: 503 + Retry-After), the RFC 4028
//! Min-SE check (422), routing ([`RouteDecision::Reject`] or targets, all unavailable →
//! 503 + Retry-After), and the per-trunk gate (inbound trunk from
//! [`Router::source_trunk`], outbound trunk of the first target). Every refusal goes out
//! through [`sbc_txn::Endpoint::reject_with`] — no transaction, no call, only an
//! [`EngineEvent::Rejected`]. Only then is the server transaction accepted (100 Trying goes
//! out) and the call allocated.
//!
//! # The call table and its indices
//!
//! Calls live in a slab addressed by [`CallKey`] (slot index + generation, so a stale
//! handle never reaches the slot's next occupant). Three indices find a call:
//!
//! * **by transaction**: every transaction the engine cares about is mapped to its call and
//!   role (the caller's INVITE, a B-leg INVITE attempt, a relayed request's server or
//!   client side, our session refresh). Responses and timeouts arrive as endpoint events
//!   carrying the [`sbc_txn::TxnId`]; the entry goes when the endpoint reports the
//!   transaction terminated.
//! * **by Call-ID and tag** for requests and stray responses. The two legs have different
//!   Call-IDs, so one map serves both: an A-side entry holds the caller's tag (their From
//!   tag in requests, To tag in responses), a B-side entry our own tag (To in requests,
//!   From in responses).
//! * **by shard**: B-leg Call-IDs (`sbc` SSSS `.` 32 hex) and tags (SSSS 16 hex) embed the
//!   shard index; [`shard_of`] recognises them so the shell routes B-side traffic to the
//!   owning shard, and hashes every other Call-ID (A-side traffic keeps the caller's
//!   Call-ID, so its hash is stable).
//!
//! After a call ends nothing of it remains: the tests run every scenario to the end and
//! assert the call table, the indices, the admission counters, the engine timers, the
//! tracked transactions and the endpoint's transaction table are all back to zero.
//!
//! # Legs, dialogs, attempts
//!
//! * **A leg** — the caller's dialog; the engine is its UAS. Before the answer it is the
//!   pending INVITE server transaction plus a map *B early-dialog tag → A To tag*: every B
//!   early dialog (forking, RFC 3261 §13.2.2.4) gets its own tag upstream, so the caller
//!   sees the same early-dialog structure; the 2xx carries the A tag of its early dialog.
//!   Its route set is the INVITE's Record-Route in order (§12.1.1), its remote target the
//!   INVITE's Contact.
//! * **B leg** — built, never edited: every attempt (a target, the next target after a
//!   failure, a followed redirect, a 422 retry) is a new INVITE with our own Call-ID, From
//!   tag, CSeq, Via branch and Contact. Its route set is the 2xx's Record-Route reversed
//!   (§12.1.2), its remote target the 2xx's Contact.
//! * A confirmed leg ([`Side`] A or B) keeps its dialog state (§12), the 2xx we are
//!   retransmitting on it, the ACK we sent for its last 2xx, an ACK still owed (delayed
//!   offer), its session timer, and the last offer/answer body we sent on it.
//!
//! In-dialog requests are relayed as new requests of the other leg's dialog (new CSeq,
//! Via, route set, Request-URI = remote target; loose and strict routing, §12.2.1.1), and
//! their responses go back on the original server transaction. Target refreshes (Contact
//! of re-INVITE/UPDATE and their 2xx) update the remote target of the leg they came from.
//!
//! # What crosses from one leg to the other
//!
//! Nothing of Via, Record-Route, Route, Contact, Call-ID, tags or CSeq — topology hiding
//! by construction. From and To keep their display name and URI (the identities), tags
//! replaced. Max-Forwards is decremented (483 at zero). Headers are copied byte for byte
//! only when on the allow-list ([`DEFAULT_COPY`]: P-Asserted-Identity, Privacy,
//! History-Info, Diversion, Referred-By, Geolocation, Geolocation-Routing, Priority,
//! Reason, Subject, Accept, Content-Type, Content-Disposition, plus
//! [`HeaderPolicy::copy_extra`], minus [`HeaderPolicy::remove`]); Event and
//! Subscription-State ride with NOTIFY, Info-Package with INFO. User-Agent / Server carry
//! [`EngineConfig::product`]; Allow and Supported say what the SBC supports on that leg
//! ([`LegPolicy`]); each leg adds its own headers ([`LegPolicy::add_headers`], e.g.
//! `X-MS-SBC`, TI-17). Bodies go through the [`BodyPolicy`] and are otherwise byte-exact,
//! with Content-Length recomputed.
//!
//! # Offer/answer
//!
//! One offer/answer exchange per call at a time. A re-INVITE or UPDATE arriving from the
//! side we have an exchange pending toward is glare: 491 (RFC 3261 §14.2, RFC 3311 §5.2);
//! a second one from the side whose first is pending: 500 + Retry-After (§14.2); anything
//! while a 2xx is unacknowledged: 491. A 2xx from the leg we sent the request to is ACKed
//! at once when our request carried the offer; otherwise (delayed offer: INVITE without
//! SDP, the offer in the 2xx) the ACK waits for the other side's ACK and carries its
//! answer (§13.2.1, RFC 3264). 100rel is terminated per leg (RFC 3262): reliable 18x from
//! the B leg are PRACKed by the engine and relayed unreliably (Require/RSeq never cross);
//! 100rel is only offered on legs whose policy allows it (never toward Microsoft, TI-15).
//!
//! # Failover, redirects, failures
//!
//! The next target is tried only on 408, 503, 504, Timer B or a transport error, and only
//! before any 18x went upstream (TI-18, TI-22); a 503 with Retry-After marks the target
//! unavailable for that long ([`Engine::is_available`], [`EngineEvent::TargetUnavailable`]).
//! A 3xx is followed (first Contact, same gateway and trunk, at most
//! [`EngineConfig::max_redirects`] times) or mapped to [`EngineConfig::redirect_status`]:
//! a 3xx is never relayed (TI-31). Other failures are relayed with their reason phrase,
//! Reason header (RFC 3326) and allowed headers. A 2xx nobody wants (a second fork, a B leg
//! answering after CANCEL or failover, a retransmission for an ended call) is ACKed and
//! BYEd (§13.2.2.4), if it carries our identifiers.
//!
//! # Timer model
//!
//! The transaction layer runs Timers A–M. The engine adds TU timers, kept as absolute
//! deadlines in the call (one slot per kind) plus one binary heap of `(deadline, call,
//! kind)` entries validated when they pop, so disarming costs nothing:
//!
//! * **no answer** ([`EngineConfig::no_answer`]): CANCEL the B leg, answer
//!   [`EngineConfig::no_answer_status`] (the INVITE client transaction never times out once
//!   a provisional arrived);
//! * **2xx retransmission** per leg (RFC 3261 §13.3.1.4 as amended by RFC 6026: the TU
//!   retransmits its 2xx): T1, 2T1, … capped at T2 until the ACK; at 64*T1 without one,
//!   BYE on both legs;
//! * **session timer** per leg (RFC 4028 §10): where we are refresher, a refresh
//!   (re-INVITE with the last SDP we sent on that leg, or UPDATE where the leg's policy
//!   prefers it and the peer allows it) at half the interval; where the peer is, expiry at
//!   `interval - min(32, interval/3)`; expiry without a refresh, a refresh answered 408/481
//!   or failing otherwise, tears down both legs with BYE. 491 on our refresh retries after
//!   2.1–4 s (B leg, where we own the Call-ID) or 0–2 s (A leg), §14.1.
//!
//! # A call's life
//!
//! ```text
//!                 INVITE accepted (all checks passed; 100 sent by the transaction)
//!                        |
//!                        v            18x relayed (early dialogs mapped,
//!                 +-------------+     reliable ones PRACKed)       +---------+
//!                 | Proceeding  |--------------------------------->|  Early  |
//!                 +-------------+                                  +---------+
//!     408/503/504/ |  |   |  3xx: follow (≤N) | 2xx from B               | 2xx from B
//!     Timer B/     |  |   |  or map to 480    |   ACK B (or owe it)      |
//!     transport    |  |   |                   |   2xx to A, retransmit   |
//!     error: next  |  |   v                   v                          v
//!     target ------+  |  final error    +-------------+  ACK from A  +-----------+
//!                     |  relayed ------>|  Answered   |------------->| Confirmed |
//!    CANCEL / BYE on  |  (CDR, gone)    +-------------+ (B's owed    +-----------+
//!    early dialog /   |                        |         ACK sent)     |  re-INVITE/UPDATE
//!    no-answer timer: |                        | no ACK in 64*T1       |  relayed (glare:
//!    487/480 to A,    v                        v                       |  491/500), INFO,
//!    CANCEL to B   (CDR, gone)          BYE both legs                  |  NOTIFY, MESSAGE,
//!                                              |                       |  OPTIONS relayed
//!                                              v                       v
//!                                        +-----------------------------------+
//!                                        | Ended: BYE from either side (200  |
//!                                        | here, BYE on the other), session  |
//!                                        | expiry, 408/481 in dialog; CDR    |
//!                                        +-----------------------------------+
//! ```
//!
//! [`CallPhase`] names these states in [`EngineEvent::CallState`]; every call that entered
//! the table leaves exactly one [`Cdr`] (INVITE, first 18x, answer and end instants, final
//! status toward the caller, who ended it and why, trunks in/out, calling and called user
//! parts, Q.850 cause from a Reason header).
//!
//! # Transfers
//!
//! A REFER from a leg whose policy says [`ReferMode::Terminate`] is carried out here
//! (TI-26, `transfer.rs`): 202 and NOTIFYs (`message/sipfrag`) on the transferor's dialog,
//! a new INVITE to the transferor's peer with the Refer-To URI and Referred-By untouched and
//! the SDP last sent to it, the new dialog taking the transferor's place on answer, and the
//! remaining party re-offered the new party's SDP. A BYE from the transferor during or after
//! the transfer ends only its dialog. Other legs answer REFER with 501.
//!
//! An INVITE with Replaces (RFC 3891, TI-27) naming one of our established dialogs is
//! answered by the engine (`replaces.rs`): its offer goes to the remaining party as a
//! re-INVITE, that party's answer comes back in our 200, the new dialog takes the named one's
//! slot, and the named dialog gets a BYE; a failure is answered as received, never retried.
//! A Replaces naming no dialog of ours gets 481.
//!
//! # Not done yet
//!
//! Requests inside early
//! dialogs other than the caller's BYE (481; UPDATE/INFO before the answer are refused), an
//! answer in PRACK for an offer received in a reliable 18x (delayed offer + 100rel),
//! reliable provisionals toward the caller, relaying 18x with SDP of a re-INVITE
//! reliably, per-tenant routing, media. (An INVITE client transaction whose CANCEL is
//! never followed by a final response is destroyed by the transaction layer 64*T1 after the
//! CANCEL, RFC 3261 §9.1, so a silent peer costs a timer, not a slot.)

mod admission;
mod body;
mod call;
mod config;
mod engine;
mod event;
mod ids;
mod indialog;
mod replaces;
mod router;
mod setup;
mod transfer;
mod wire;

pub use admission::SharedAdmission;
pub use body::{BodyAction, BodyContext, BodyPolicy, BodyRole, PassThrough};
pub use config::{
    ConfigError, EngineConfig, HeaderPolicy, LegPolicy, Limits, SessionTimers, DEFAULT_ALLOW,
    DEFAULT_COPY,
};
pub use engine::Engine;
pub use event::{CallKey, CallPhase, Cdr, EndReason, EndedBy, EngineEvent, RefusedAttempt, Side};
pub use ids::{shard_of, shard_of_tag, IdSource, SplitMix64, CALL_ID_PREFIX};
pub use router::{
    gateway_uri, CallClass, Cidr, CidrError, Gateway, Presentation, RouteDecision, Router,
    StaticRoute, StaticRouter, Target,
};
pub use transfer::ReferMode;

/// The admission key of a tenant's limits in [`EngineConfig::trunk_limits`] /
/// [`SharedAdmission`] (`tenant:<id>`, so no trunk name can collide with it).
pub fn tenant_key(tenant: &str) -> String {
    format!("tenant:{tenant}")
}
