//! The non-INVITE server transaction: RFC 3261 §17.2.2 (Figure 8).
//!
//! ```text
//!                                   |Request received
//!                                   |pass to TU (accept)
//!                                   V
//!                             +-----------+
//!                             |           |
//!                             | Trying    |-------------+
//!                             |           |             |
//!                             +-----------+             |200-699 from TU
//!                                   |                   |send response
//!                                   |1xx from TU        |
//!                                   |send response      |
//!                                   |                   |
//!                Request            V      1xx from TU  |
//!                send response+-----------+send response|
//!                    +--------|           |--------+    |
//!                    |        | Proceeding|        |    |
//!                    +------->|           |<-------+    |
//!             +<--------------|           |             |
//!             |Trnsprt Err    +-----------+             |
//!             |Inform TU            |                   |
//!             |                     |                   |
//!             |                     |200-699 from TU    |
//!             |                     |send response      |
//!             |  Request            V                   |
//!             |  send response+-----------+             |
//!             |      +--------|           |             |
//!             |      |        | Completed |<------------+
//!             |      +------->|           |
//!             +<--------------|           |
//!             |Trnsprt Err    +-----------+
//!             |Inform TU            |
//!             |                     |Timer J fires
//!             |                     |-
//!             |                     |
//!             |                     V
//!             |               +-----------+
//!             |               |           |
//!             +-------------->| Terminated|
//!                             |           |
//!                             +-----------+
//! ```
//!
//! Timer J = 64*T1 on unreliable transports, 0 on reliable. Retransmissions in Trying are
//! absorbed silently (no response exists yet; RFC 4320 advises against a 100 here).

use bytes::Bytes;

use crate::endpoint::Event;
use crate::machine::{class, Class, Core, Cx, Flow, Input, Refused};
use crate::timer::Timer;

/// States of the non-INVITE server transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerNonInviteState {
    /// Waiting for the TU; retransmissions are absorbed.
    Trying,
    /// A provisional was sent; retransmissions get it again.
    Proceeding,
    /// The final was sent; retransmissions get it again until J.
    Completed,
}

/// The machine.
#[derive(Debug)]
pub(crate) struct ServerNonInvite {
    pub(crate) state: ServerNonInviteState,
    last: Option<Bytes>,
}

impl ServerNonInvite {
    /// The TU accepted the request: enter Trying.
    pub(crate) fn start() -> ServerNonInvite {
        ServerNonInvite {
            state: ServerNonInviteState::Trying,
            last: None,
        }
    }

    /// One input (§17.2.2).
    pub(crate) fn handle(
        &mut self,
        core: &mut Core,
        cx: &mut Cx<'_>,
        input: Input,
    ) -> Result<Flow, Refused> {
        use ServerNonInviteState::*;
        Ok(match (self.state, input) {
            // "Once in the Trying state, any further request retransmissions are discarded."
            (Trying, Input::Retransmission) => Flow::Stay,
            (Proceeding | Completed, Input::Retransmission) => {
                if let Some(last) = &self.last {
                    cx.resend(core, last.clone());
                }
                Flow::Stay
            }
            (Trying | Proceeding, Input::Respond(msg)) => {
                let bytes = msg.bytes().clone();
                cx.send(core, bytes.clone());
                self.last = Some(bytes);
                if class(&msg) == Class::Provisional {
                    self.state = Proceeding;
                    return Ok(Flow::Stay);
                }
                self.state = Completed;
                cx.wait_or_terminate(core, Timer::J)
            }
            // "Any other final responses passed by the TU to the server transaction MUST be
            // discarded while in the Completed state."
            (Completed, Input::Respond(_)) => return Err(Refused),
            (Proceeding | Completed, Input::TransportError) => {
                cx.event(Event::TransportError { txn: cx.id });
                Flow::Terminate
            }
            (Completed, Input::Timer(Timer::J)) => Flow::Terminate,
            // No effect in this state (nothing sent yet in Trying), or never delivered to
            // this machine (ACK only matches INVITE transactions).
            (
                _,
                Input::Timer(_)
                | Input::TransportError
                | Input::Ack(_)
                | Input::Response(_)
                | Input::Release
                | Input::Abandon
                | Input::CancelSent,
            ) => Flow::Stay,
        })
    }
}
