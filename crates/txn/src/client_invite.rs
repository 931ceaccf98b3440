//! The INVITE client transaction: RFC 3261 §17.1.1 as corrected by RFC 6026 §7.2 and §8.4
//! (Figure 5 of RFC 6026: a 2xx leads to "Accepted", not "Terminated").
//!
//! ```text
//!                                |INVITE from TU
//!              Timer A fires     |INVITE sent         Timer B fires
//!              Reset A,          V                    or Transport Err.
//!              INVITE sent +-----------+              inform TU
//!                +---------|           |------------------------------+
//!                |         |  Calling  |                              |
//!                +-------->|           |--------------+               |
//!   300-699                +-----------+ 2xx          |               |
//!   ACK sent                  |  |       2xx to TU    |               |
//!   resp. to TU               |  |1xx                 |               |
//!   +-------------------------+  |1xx to TU           |               |
//!   |                            |                    |               |
//!   |              1xx           V                    |               |
//!   |              1xx to TU +-----------+            |               |
//!   |              +---------|           |            |               |
//!   |              |         |Proceeding |            |               |
//!   |              +-------->|           |----------->|               |
//!   |                        +-----------+ 2xx        |               |
//!   |       300-699             |          2xx to TU  |               |
//!   |       ACK sent,           |                     V               |
//!   |       resp. to TU         |               +-----------+         |
//!   |  +------------------------+               |           |---+ 2xx |
//!   |  |                                        | Accepted  |   | 2xx |
//!   V  V                                        |           |<--+ to TU
//! +-----------+                                 +-----------+         |
//! |           |---+ 300-699                           |               |
//! | Completed |   | ACK sent                          | Timer M fires |
//! |           |<--+                                   | -             |
//! +-----------+                                       |               |
//!       |                                             |               |
//!       | Timer D fires                               |               |
//!       | or Transport Err. (inform TU)               |               |
//!       V                                             V               |
//! +-------------------------------------------------------------+     |
//! |                         Terminated                          |<----+
//! +-------------------------------------------------------------+
//! ```
//!
//! Timers: A = T1 doubling without cap, unreliable only; B = 64*T1 (Calling only); D = 32 s
//! on unreliable, 0 on reliable; M = 64*T1. The ACK for a 2xx is the TU's (§13.2.2.4), so
//! "Accepted" passes every 2xx up and sends nothing.

use bytes::Bytes;
use sbc_sip::build;

use crate::endpoint::Event;
use crate::machine::{class, Class, Core, Cx, Flow, Input};
use crate::timer::Timer;
use crate::TxnId;

/// States of the INVITE client transaction ("Terminated" is never stored: the transaction
/// is destroyed the instant it enters it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientInviteState {
    /// INVITE sent, no response yet; Timer A retransmits, Timer B gives up.
    Calling,
    /// A provisional response arrived; no more retransmissions, no timeout (the TU cancels).
    Proceeding,
    /// A 300–699 arrived and was ACKed; retransmissions of it are ACKed again until D.
    Completed,
    /// A 2xx arrived (RFC 6026); further 2xx (retransmissions, forks) go to the TU until M.
    Accepted,
}

/// The machine.
#[derive(Debug)]
pub(crate) struct ClientInvite {
    pub(crate) state: ClientInviteState,
    /// The ACK sent for the non-2xx final response, re-sent for its retransmissions.
    ack: Option<Bytes>,
    /// The CANCEL created for this INVITE by [`crate::Endpoint::cancel`].
    pub(crate) cancel: Option<TxnId>,
    /// The CANCEL waits for a provisional response (§9.1).
    pub(crate) cancel_held: bool,
}

impl ClientInvite {
    /// "INVITE from TU, INVITE sent": enter Calling with A (unreliable) and B armed.
    pub(crate) fn start(core: &mut Core, cx: &mut Cx<'_>) -> ClientInvite {
        cx.send(core, core.request.bytes().clone());
        if !core.reliable() {
            cx.arm(core, Timer::A, cx.cfg.t1);
        }
        cx.arm(core, Timer::B, cx.t1x64());
        ClientInvite {
            state: ClientInviteState::Calling,
            ack: None,
            cancel: None,
            cancel_held: false,
        }
    }

    /// One input (§17.1.1.2; RFC 6026 §8.4).
    pub(crate) fn handle(&mut self, core: &mut Core, cx: &mut Cx<'_>, input: Input) -> Flow {
        use ClientInviteState::*;
        let id = cx.id;
        match (self.state, input) {
            // §17.1.1.2: retransmit and double A (no T2 cap for INVITE).
            (Calling, Input::Timer(Timer::A)) => {
                cx.resend(core, core.request.bytes().clone());
                let next = core.timers.interval.saturating_mul(2);
                cx.arm(core, Timer::A, next);
                Flow::Stay
            }
            (Calling, Input::Timer(Timer::B)) => {
                cx.event(Event::Timeout {
                    txn: id,
                    timer: Timer::B,
                });
                Flow::Terminate
            }
            // §9.1: "If there is no final response for the original request in 64*T1
            // seconds ... the client SHOULD then consider the original transaction
            // cancelled and SHOULD destroy the client transaction handling the original
            // request." Timer B is re-armed for that when the CANCEL goes out.
            (Proceeding, Input::CancelSent) => {
                cx.arm(core, Timer::B, cx.t1x64());
                Flow::Stay
            }
            (Proceeding, Input::Timer(Timer::B)) => {
                cx.event(Event::Timeout {
                    txn: id,
                    timer: Timer::B,
                });
                Flow::Terminate
            }
            (Calling | Completed, Input::TransportError) => {
                cx.event(Event::TransportError { txn: id });
                Flow::Terminate
            }
            (Calling | Proceeding, Input::Response(msg)) => match class(&msg) {
                // "In the Proceeding state, the client transaction SHOULD NOT retransmit
                // the request any longer": A and B are disarmed.
                Class::Provisional => {
                    // Only on entering Proceeding: later provisionals must not disarm the
                    // abandon timer a CANCEL armed (below).
                    if self.state == Calling {
                        core.timers.clear();
                    }
                    self.state = Proceeding;
                    cx.event(Event::Response { txn: id, msg });
                    Flow::Stay
                }
                // RFC 6026 §8.4: 2xx → Accepted, Timer M.
                Class::Success => {
                    core.timers.clear();
                    self.state = Accepted;
                    cx.arm(core, Timer::M, cx.t1x64());
                    cx.event(Event::Response { txn: id, msg });
                    Flow::Stay
                }
                // §17.1.1.3: ACK the failure from the transaction, then wait D.
                Class::Failure => {
                    core.timers.clear();
                    let mut out = Vec::with_capacity(core.request.as_bytes().len());
                    build::ack_non2xx(&core.request, &msg, &mut out);
                    let ack = Bytes::from(out);
                    cx.send(core, ack.clone());
                    self.ack = Some(ack);
                    self.state = Completed;
                    cx.event(Event::Response { txn: id, msg });
                    cx.wait_or_terminate(core, Timer::D)
                }
            },
            // §17.1.1.2: "Any retransmissions of the final response that are received while
            // in the Completed state MUST cause the ACK to be re-passed to the transport".
            (Completed, Input::Response(msg)) if class(&msg) == Class::Failure => {
                if let Some(ack) = &self.ack {
                    cx.resend(core, ack.clone());
                }
                Flow::Stay
            }
            // RFC 6026 §8.4: a 2xx in Accepted goes to the TU; no ACK from here.
            (Accepted, Input::Response(msg)) if class(&msg) == Class::Success => {
                cx.event(Event::Response { txn: id, msg });
                Flow::Stay
            }
            // Late provisionals, or a final of the other kind: absorbed.
            (Completed | Accepted, Input::Response(_)) => Flow::Stay,
            (Completed, Input::Timer(Timer::D)) | (Accepted, Input::Timer(Timer::M)) => {
                Flow::Terminate
            }
            // No effect in this state (nothing sent that could fail, stale timers) or never
            // delivered to this machine.
            (
                _,
                Input::Timer(_)
                | Input::TransportError
                | Input::Retransmission
                | Input::Ack(_)
                | Input::Respond(_)
                | Input::Release
                | Input::Abandon
                | Input::CancelSent,
            ) => Flow::Stay,
        }
    }
}
