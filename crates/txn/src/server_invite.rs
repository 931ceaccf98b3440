//! The INVITE server transaction: RFC 3261 §17.2.1 as corrected by RFC 6026 §7.1 and §8.7
//! (Figure 7 of RFC 6026: a 2xx from the TU leads to "Accepted", not "Terminated").
//!
//! ```text
//!                                     |INVITE
//!                                     |pass INV to TU (accept)
//!                  INVITE             V send 100 (SBC: at once)
//!                  send response+------------+
//!                      +--------|            |--------+ 101-199 from TU
//!                      |        |            |        | send response
//!                      +------->|            |<-------+
//!                               | Proceeding |
//!                               |            |--------+ Transport Err.
//!                               |            |        | Inform TU
//!                               |            |<-------+
//!                               +------------+
//!                  300-699 from TU |    |2xx from TU
//!                  send response   |    |send response
//!                   +--------------+    +------------+
//!                   |                                |
//!  INVITE           V          Timer G fires         |
//!  send response +-----------+ send response         |
//!       +--------|           |--------+              |
//!       |        |           |        |              |
//!       +------->| Completed |<-------+      INVITE  |  Transport Err.
//!                |           |               -       |  Inform TU
//!       +--------|           |----+          +-----+ |  +---+
//!       |        +-----------+    | ACK      |     v v  |   v
//!       |          ^   |          | -        |  +------------+
//!       |          |   |          |          |  |            |---+ ACK
//!       +----------+   |          |          +->|  Accepted  |   | to TU
//!       Transport Err. |          |             |            |<--+
//!       Inform TU      |          V             +------------+
//!                      |      +-----------+        |  ^     |
//!                      |      |           |        |  |     |
//!                      |      | Confirmed |        |  +-----+
//!                      |      |           |        |  2xx from TU
//!        Timer H fires |      +-----------+        |  send response
//!        -             |          |                |
//!                      |          | Timer I fires  |
//!                      |          | -              | Timer L fires
//!                      |          V                | -
//!                      |        +------------+     |
//!                      |        |            |<----+
//!                      +------->| Terminated |
//!                               |            |
//!                               +------------+
//! ```
//!
//! Timers: G = T1 doubling up to T2, unreliable only; H = 64*T1 (the TU hears
//! [`crate::Event::Timeout`]: the ACK never came); I = T4 on unreliable, 0 on reliable;
//! L = 64*T1. The TU retransmits its 2xx itself (§13.3.1.4) through
//! [`crate::Endpoint::respond`]; "Accepted" passes those to the wire and absorbs INVITE
//! retransmissions without answering them.

use bytes::Bytes;
use sbc_sip::{build, Message};

use crate::endpoint::Event;
use crate::key::to_tag;
use crate::machine::{class, Class, Core, Cx, Flow, Input, Refused};
use crate::timer::Timer;

/// States of the INVITE server transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerInviteState {
    /// Waiting for the TU's final response; INVITE retransmissions get the last
    /// provisional again.
    Proceeding,
    /// A 300–699 was sent; Timer G retransmits it until the ACK (or H).
    Completed,
    /// The ACK arrived; ACK retransmissions are absorbed until I.
    Confirmed,
    /// A 2xx was sent (RFC 6026); INVITE retransmissions are absorbed, ACKs and further
    /// 2xx from the TU pass through, until L.
    Accepted,
}

/// The machine.
#[derive(Debug)]
pub(crate) struct ServerInvite {
    pub(crate) state: ServerInviteState,
    /// The most recent response sent (re-sent on INVITE retransmissions).
    last: Option<Bytes>,
    /// The To tag of the final response, which an RFC 2543 ACK must carry (§17.2.3).
    pub(crate) final_to_tag: Option<Bytes>,
}

impl ServerInvite {
    /// The TU accepted the INVITE: enter Proceeding and (by default) send 100 at once.
    /// `headers` are added to the 100 (e.g. `X-MS-SBC` toward Microsoft, TI-17).
    pub(crate) fn start(
        core: &mut Core,
        cx: &mut Cx<'_>,
        headers: &[(&[u8], &[u8])],
    ) -> ServerInvite {
        let mut last = None;
        if cx.cfg.trying_on_accept {
            let mut out = Vec::with_capacity(core.request.as_bytes().len().min(2048));
            let mut w = build::response_from(
                &core.request,
                Some(core.peer.addr),
                100,
                None,
                None,
                &mut out,
            );
            for (name, value) in headers {
                w.header(name, value);
            }
            w.finish(None, b"");
            let trying = Bytes::from(out);
            cx.send(core, trying.clone());
            last = Some(trying);
        }
        ServerInvite {
            state: ServerInviteState::Proceeding,
            last,
            final_to_tag: None,
        }
    }

    /// One input (§17.2.1; RFC 6026 §7.1, §8.7).
    pub(crate) fn handle(
        &mut self,
        core: &mut Core,
        cx: &mut Cx<'_>,
        input: Input,
    ) -> Result<Flow, Refused> {
        use ServerInviteState::*;
        let id = cx.id;
        Ok(match (self.state, input) {
            // "If a request retransmission is received while in the Proceeding state, the
            // most recent provisional response that was received from the TU MUST be passed
            // to the transport layer for retransmission."
            (Proceeding | Completed, Input::Retransmission) => {
                if let Some(last) = &self.last {
                    cx.resend(core, last.clone());
                }
                Flow::Stay
            }
            (Proceeding, Input::Respond(msg)) => match class(&msg) {
                Class::Provisional => {
                    self.send(core, cx, &msg);
                    Flow::Stay
                }
                // RFC 6026 §7.1: 2xx → Accepted, Timer L.
                Class::Success => {
                    self.send(core, cx, &msg);
                    self.final_to_tag = to_tag(&msg);
                    // Accepted never re-sends from here (2xx retransmissions are the TU's,
                    // RFC 6026 §7.1): do not keep the 2xx for the 32 s of Timer L.
                    self.last = None;
                    self.state = Accepted;
                    cx.arm(core, Timer::L, cx.t1x64());
                    Flow::Stay
                }
                Class::Failure => {
                    self.send(core, cx, &msg);
                    self.final_to_tag = to_tag(&msg);
                    self.state = Completed;
                    if !core.reliable() {
                        cx.arm(core, Timer::G, cx.cfg.t1);
                    }
                    cx.arm(core, Timer::H, cx.t1x64());
                    Flow::Stay
                }
            },
            // RFC 6026 Figure 7: Proceeding and Accepted inform the TU and carry on (the
            // client retransmits, the TU may retry its 2xx); Completed gives up.
            (Proceeding | Accepted, Input::TransportError) => {
                cx.event(Event::TransportError { txn: id });
                Flow::Stay
            }
            (Completed, Input::TransportError) => {
                cx.event(Event::TransportError { txn: id });
                Flow::Terminate
            }
            (Completed, Input::Timer(Timer::G)) => {
                if let Some(last) = &self.last {
                    cx.resend(core, last.clone());
                }
                let next = core.timers.interval.saturating_mul(2).min(cx.cfg.t2);
                cx.arm(core, Timer::G, next);
                Flow::Stay
            }
            (Completed, Input::Timer(Timer::H)) => {
                cx.event(Event::Timeout {
                    txn: id,
                    timer: Timer::H,
                });
                Flow::Terminate
            }
            (Completed, Input::Ack(_)) => {
                core.timers.clear();
                // Confirmed only absorbs (§17.2.1): the failure response is not needed.
                self.last = None;
                self.state = Confirmed;
                cx.wait_or_terminate(core, Timer::I)
            }
            // "The purpose of the Confirmed state is to absorb any additional ACK messages".
            (Confirmed, Input::Ack(_) | Input::Retransmission) => Flow::Stay,
            (Confirmed, Input::Timer(Timer::I)) => Flow::Terminate,
            // RFC 6026 §8.7: INVITE retransmissions are absorbed, ACKs go to the TU, 2xx
            // from the TU go to the wire.
            (Accepted, Input::Retransmission) => Flow::Stay,
            (Accepted, Input::Ack(ack)) => Flow::AckToTu(ack),
            (Accepted, Input::Respond(msg)) if class(&msg) == Class::Success => {
                cx.send(core, msg.bytes().clone());
                Flow::Stay
            }
            (Accepted, Input::Timer(Timer::L)) => Flow::Terminate,
            // §17.2.1 / RFC 6026: no other response is allowed after a final one.
            (Completed | Confirmed | Accepted, Input::Respond(_)) => return Err(Refused),
            // An ACK before any final response acknowledges nothing.
            (Proceeding, Input::Ack(_)) => Flow::Stay,
            // No effect in this state, or never delivered to this machine.
            (
                _,
                Input::Timer(_)
                | Input::TransportError
                | Input::Response(_)
                | Input::Release
                | Input::Abandon
                | Input::CancelSent,
            ) => Flow::Stay,
        })
    }

    fn send(&mut self, core: &Core, cx: &mut Cx<'_>, msg: &Message) {
        let bytes = msg.bytes().clone();
        cx.send(core, bytes.clone());
        self.last = Some(bytes);
    }
}
