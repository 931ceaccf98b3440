//! What the four state machines share: their inputs, their verdict, the per-transaction
//! core (request, peer, timers) and the context through which they act on the endpoint's
//! output queues. A machine never sees the endpoint; it reads one input, changes its state,
//! queues transmits and events through [`Cx`], arms timers, and says whether it lives on.

use core::cmp::Reverse;
use core::time::Duration;
use std::collections::VecDeque;

use bytes::Bytes;
use sbc_sip::Message;

use crate::config::Config;
use crate::endpoint::Event;
use crate::peer::{Peer, Transmit};
use crate::time::Instant;
use crate::timer::{Armed, Entry, Queue, Slot, Timer, TimerSet};
use crate::TxnId;

/// One input to a state machine. Each machine's `handle` is one `match (state, input)`;
/// inputs a machine never receives fall into its final "no effect" arm.
#[derive(Debug)]
pub(crate) enum Input {
    /// A response from the wire (client machines).
    Response(Message),
    /// A retransmission of the request that created the transaction (server machines).
    Retransmission,
    /// An ACK matched to the transaction (server INVITE).
    Ack(Message),
    /// A response from the TU (server machines).
    Respond(Message),
    /// A timer fired.
    Timer(Timer),
    /// The transport could not deliver what the transaction sent.
    TransportError,
    /// The INVITE a held CANCEL waits for got a provisional response: send (§9.1).
    Release,
    /// The INVITE a held CANCEL waits for ended without one: never send (§9.1).
    Abandon,
    /// To an INVITE client transaction: its CANCEL went out (§9.1: give up after 64*T1).
    CancelSent,
}

/// A machine's verdict after one input.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // returned and matched at once, never stored
pub(crate) enum Flow {
    /// The transaction lives on.
    Stay,
    /// The transaction entered "Terminated" and must be destroyed at once (§17.1.1.2).
    Terminate,
    /// Server INVITE in "Accepted": the ACK goes to the TU (RFC 6026 §8.7).
    AckToTu(Message),
}

/// The TU asked for something the current state does not allow (e.g. a second final
/// response, §17.2.2 "MUST be discarded").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused;

/// What every transaction keeps besides its state.
#[derive(Debug)]
pub(crate) struct Core {
    /// Where requests (client) or responses (server) go.
    pub(crate) peer: Peer,
    /// The request that created the transaction.
    pub(crate) request: Message,
    /// Armed timers.
    pub(crate) timers: TimerSet,
}

impl Core {
    #[inline]
    pub(crate) fn reliable(&self) -> bool {
        self.peer.is_reliable()
    }
}

/// The endpoint's output side, lent to a machine for one input.
#[derive(Debug)]
pub(crate) struct Cx<'a> {
    /// The transaction.
    pub(crate) id: TxnId,
    /// When the input arrived.
    pub(crate) now: Instant,
    /// The instant new timers are measured from: the deadline of the firing timer (so a
    /// late wake-up does not shift the schedule), else `now`.
    pub(crate) base: Instant,
    pub(crate) cfg: &'a Config,
    pub(crate) queue: &'a mut Queue,
    pub(crate) transmits: &'a mut VecDeque<Transmit>,
    pub(crate) events: &'a mut VecDeque<Event>,
    /// Retransmissions sent by every transaction (for the retransmissions metric).
    pub(crate) retransmits: &'a mut u64,
}

impl Cx<'_> {
    /// Queues bytes for the transaction's peer.
    pub(crate) fn send(&mut self, core: &Core, bytes: Bytes) {
        self.transmits.push_back(Transmit {
            to: core.peer,
            bytes,
            txn: Some(self.id),
        });
    }

    /// Queues a copy of something already sent (timer-driven or prompted by a retransmitted
    /// request or response), counted.
    pub(crate) fn resend(&mut self, core: &Core, bytes: Bytes) {
        *self.retransmits += 1;
        self.send(core, bytes);
    }

    /// Queues an event for the TU.
    pub(crate) fn event(&mut self, e: Event) {
        self.events.push_back(e);
    }

    /// Arms `timer` to fire `after` from the base instant (from `now` if that is already
    /// past, so a stalled shell gets one retransmission, not a burst). Retransmission timers
    /// remember `after` as the doubling base. `after` is never zero: zero-length waits (D,
    /// I, J, K on reliable transports) terminate in place instead.
    pub(crate) fn arm(&mut self, core: &mut Core, timer: Timer, after: Duration) {
        let mut at = self.base + after;
        if at <= self.now {
            at = self.now + after;
        }
        let armed = Some(Armed { timer, at });
        let slot = if timer.is_retransmit() {
            core.timers.retransmit = armed;
            core.timers.interval = after;
            Slot::Retransmit
        } else {
            core.timers.timeout = armed;
            Slot::Timeout
        };
        self.queue.push(Reverse(Entry {
            at,
            slot,
            index: self.id.index,
            gen: self.id.gen,
        }));
    }

    /// Arms a wait timer, or terminates now when the wait is zero (reliable transports,
    /// §17.1.1.2 Timer D, §17.1.2.2 Timer K, §17.2.1 Timer I, §17.2.2 Timer J).
    pub(crate) fn wait_or_terminate(&mut self, core: &mut Core, timer: Timer) -> Flow {
        let wait = if core.reliable() {
            Duration::ZERO
        } else {
            match timer {
                Timer::D => self.cfg.timer_d,
                Timer::I | Timer::K => self.cfg.t4,
                _ => self.cfg.t1x64(),
            }
        };
        if wait.is_zero() {
            return Flow::Terminate;
        }
        self.arm(core, timer, wait);
        Flow::Stay
    }

    /// 64*T1.
    #[inline]
    pub(crate) fn t1x64(&self) -> Duration {
        self.cfg.t1x64()
    }
}

/// Response classes as the state machines see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// 1xx.
    Provisional,
    /// 2xx.
    Success,
    /// 3xx–6xx.
    Failure,
}

/// The class of a response (a request would be a bug upstream; it reads as a failure and
/// so can never create a dialog).
pub(crate) fn class(msg: &Message) -> Class {
    match msg.status() {
        Some(100..=199) => Class::Provisional,
        Some(200..=299) => Class::Success,
        _ => Class::Failure,
    }
}
