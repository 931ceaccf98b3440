//! The non-INVITE client transaction: RFC 3261 §17.1.2 (Figure 6), plus the "Held" state
//! in which a CANCEL waits for its INVITE's first provisional response (§9.1: "If no
//! provisional response has been received, the CANCEL request MUST NOT be sent").
//!
//! ```text
//!      (CANCEL only, §9.1)    |cancel() before any 1xx
//!                             V
//!                       +-----------+  INVITE ended without 1xx
//!                       |   Held    |---------------------------------+
//!                       +-----------+  -                              |
//!                             |INVITE got 1xx                         |
//!                             |send request     |Request from TU      |
//!                             |                 |send request         |
//!          Timer E            V                 V                     |
//!          send request +-----------+<----------+                     |
//!              +--------|           |                                 |
//!              |        |  Trying   |-------------+                   |
//!              +------->|           |             |Timer F fires      |
//!                       +-----------+             |or Transport Err.  |
//!          200-699         |  |                   |inform TU          |
//!          resp. to TU     |  |1xx                |                   |
//!          +---------------+  |resp. to TU        |                   |
//!          |                  |                   |                   |
//!          |   Timer E        V                   |                   |
//!          |   send req +-----------+             |                   |
//!          |  +---------|           |------------>|                   |
//!          |  |         |Proceeding |             |                   |
//!          |  +-------->|           |-----+       |                   |
//!          |            +-----------+     |1xx    |                   |
//!          |              |      ^        |resp. to TU                |
//!          | 200-699      |      +--------+       |                   |
//!          | resp. to TU  |                       |                   |
//!          |              V                       |                   |
//!          |            +-----------+             |                   |
//!          +----------->|           |             |                   |
//!                       | Completed |             |                   |
//!                       |           |             |                   |
//!                       +-----------+             |                   |
//!                             |Timer K            |                   |
//!                             |-                  |                   |
//!                             V                   |                   |
//!                       +-----------+             |                   |
//!                       |           |             |                   |
//!                       | Terminated|<------------+-------------------+
//!                       |           |
//!                       +-----------+
//! ```
//!
//! Timers: E = T1 doubling up to T2 in Trying, T2 in Proceeding, unreliable only; F = 64*T1;
//! K = T4 on unreliable, 0 on reliable.

use crate::endpoint::Event;
use crate::machine::{class, Class, Core, Cx, Flow, Input};
use crate::timer::Timer;

/// States of the non-INVITE client transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientNonInviteState {
    /// A CANCEL waiting for its INVITE's first provisional response; nothing sent yet
    /// (§9.1). Only [`crate::Endpoint::cancel`] creates transactions in this state.
    Held,
    /// Request sent; Timer E retransmits (T1 doubling to T2), Timer F gives up.
    Trying,
    /// A provisional response arrived; Timer E retransmits every T2.
    Proceeding,
    /// A final response arrived; its retransmissions are absorbed until K.
    Completed,
}

/// The machine.
#[derive(Debug)]
pub(crate) struct ClientNonInvite {
    pub(crate) state: ClientNonInviteState,
}

impl ClientNonInvite {
    /// "Request from TU, send request": enter Trying with E (unreliable) and F armed.
    pub(crate) fn start(core: &mut Core, cx: &mut Cx<'_>) -> ClientNonInvite {
        transmit_first(core, cx);
        ClientNonInvite {
            state: ClientNonInviteState::Trying,
        }
    }

    /// A CANCEL that must wait (§9.1).
    pub(crate) fn held() -> ClientNonInvite {
        ClientNonInvite {
            state: ClientNonInviteState::Held,
        }
    }

    /// One input (§17.1.2.2).
    pub(crate) fn handle(&mut self, core: &mut Core, cx: &mut Cx<'_>, input: Input) -> Flow {
        use ClientNonInviteState::*;
        let id = cx.id;
        match (self.state, input) {
            (Held, Input::Release) => {
                transmit_first(core, cx);
                self.state = Trying;
                Flow::Stay
            }
            (Held, Input::Abandon) => Flow::Terminate,
            // §17.1.2.2: "the timer is reset with a value of MIN(2*T1, T2)" and so on.
            (Trying, Input::Timer(Timer::E)) => {
                cx.resend(core, core.request.bytes().clone());
                let next = core.timers.interval.saturating_mul(2).min(cx.cfg.t2);
                cx.arm(core, Timer::E, next);
                Flow::Stay
            }
            // "If Timer E fires while in the Proceeding state, the request MUST be passed to
            // the transport layer for retransmission, and Timer E MUST be reset with a value
            // of T2 seconds."
            (Proceeding, Input::Timer(Timer::E)) => {
                cx.resend(core, core.request.bytes().clone());
                cx.arm(core, Timer::E, cx.cfg.t2);
                Flow::Stay
            }
            (Trying | Proceeding, Input::Timer(Timer::F)) => {
                cx.event(Event::Timeout {
                    txn: id,
                    timer: Timer::F,
                });
                Flow::Terminate
            }
            (Trying | Proceeding, Input::TransportError) => {
                cx.event(Event::TransportError { txn: id });
                Flow::Terminate
            }
            (Trying | Proceeding, Input::Response(msg)) => {
                if class(&msg) == Class::Provisional {
                    self.state = Proceeding;
                    cx.event(Event::Response { txn: id, msg });
                    return Flow::Stay;
                }
                core.timers.clear();
                self.state = Completed;
                cx.event(Event::Response { txn: id, msg });
                cx.wait_or_terminate(core, Timer::K)
            }
            // Retransmitted finals (and stray provisionals) are absorbed.
            (Completed, Input::Response(_)) => Flow::Stay,
            (Completed, Input::Timer(Timer::K)) => Flow::Terminate,
            // No effect in this state, or never delivered to this machine.
            (
                _,
                Input::Timer(_)
                | Input::TransportError
                | Input::Response(_)
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

/// Sends the request and arms E (unreliable only) and F.
fn transmit_first(core: &mut Core, cx: &mut Cx<'_>) {
    cx.send(core, core.request.bytes().clone());
    if !core.reliable() {
        cx.arm(core, Timer::E, cx.cfg.t1);
    }
    cx.arm(core, Timer::F, cx.t1x64());
}
