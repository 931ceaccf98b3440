//! Timers as data (architecture principle 4): each transaction holds at most one
//! retransmission timer (A, E or G) and one timeout timer (B, D, F, H, I, J, K, L or M) as
//! absolute deadlines; the endpoint keeps a min-heap of `(deadline, slot, handle)` entries
//! and validates an entry against the transaction when it pops (stale entries are skipped,
//! so disarming costs nothing).

use core::cmp::Reverse;
use core::fmt;
use core::time::Duration;
use std::collections::BinaryHeap;

use crate::time::Instant;

/// The RFC 3261 §17 timers (Table 4) and the RFC 6026 additions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE request retransmit, unreliable only; starts at T1 and doubles (§17.1.1.2).
    A,
    /// INVITE transaction timeout, 64*T1 (§17.1.1.2).
    B,
    /// Wait for response retransmits after a non-2xx final: 32 s on UDP, 0 on reliable
    /// (§17.1.1.2).
    D,
    /// Non-INVITE request retransmit, unreliable only; T1 doubling to T2 (§17.1.2.2).
    E,
    /// Non-INVITE transaction timeout, 64*T1 (§17.1.2.2).
    F,
    /// INVITE non-2xx final response retransmit, unreliable only; T1 doubling to T2
    /// (§17.2.1).
    G,
    /// Wait for the ACK of a non-2xx final, 64*T1 (§17.2.1).
    H,
    /// Wait for ACK retransmits: T4 on UDP, 0 on reliable (§17.2.1).
    I,
    /// Wait for non-INVITE request retransmits: 64*T1 on UDP, 0 on reliable (§17.2.2).
    J,
    /// Wait for non-INVITE response retransmits: T4 on UDP, 0 on reliable (§17.1.2.2).
    K,
    /// Server INVITE "Accepted": absorb INVITE retransmits and pass 2xx from the TU,
    /// 64*T1 (RFC 6026 §8.7).
    L,
    /// Client INVITE "Accepted": pass 2xx retransmits and forks to the TU, 64*T1
    /// (RFC 6026 §8.4).
    M,
}

impl Timer {
    /// True for the retransmission timers (A, E, G).
    #[inline]
    pub fn is_retransmit(self) -> bool {
        matches!(self, Timer::A | Timer::E | Timer::G)
    }
}

impl fmt::Display for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timer {self:?}")
    }
}

/// Which of a transaction's two timer slots an entry belongs to. Timeouts order before
/// retransmissions so that when both are due at one instant the transaction ends first and
/// sends nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Slot {
    Timeout = 0,
    Retransmit = 1,
}

/// An armed timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Armed {
    pub(crate) timer: Timer,
    pub(crate) at: Instant,
}

/// A transaction's timers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TimerSet {
    pub(crate) timeout: Option<Armed>,
    pub(crate) retransmit: Option<Armed>,
    /// The interval the retransmit timer was last armed with (the doubling base).
    pub(crate) interval: Duration,
}

impl TimerSet {
    pub(crate) fn slot(&self, slot: Slot) -> Option<Armed> {
        match slot {
            Slot::Timeout => self.timeout,
            Slot::Retransmit => self.retransmit,
        }
    }

    /// Removes and returns the timer in `slot` if it is the one armed for `at`.
    pub(crate) fn take_due(&mut self, slot: Slot, at: Instant) -> Option<Timer> {
        let s = match slot {
            Slot::Timeout => &mut self.timeout,
            Slot::Retransmit => &mut self.retransmit,
        };
        match *s {
            Some(a) if a.at == at => {
                *s = None;
                Some(a.timer)
            }
            _ => None,
        }
    }

    /// Disarms both timers.
    pub(crate) fn clear(&mut self) {
        self.timeout = None;
        self.retransmit = None;
    }
}

/// One heap entry. Field order is the ordering: deadline, then slot, then handle, which
/// makes firing order deterministic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub(crate) at: Instant,
    pub(crate) slot: Slot,
    pub(crate) index: u32,
    pub(crate) gen: u32,
}

/// The endpoint's deadline queue.
pub(crate) type Queue = BinaryHeap<Reverse<Entry>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_due_checks_the_deadline() {
        let mut t = TimerSet::default();
        let at = Instant::from_millis(500);
        t.retransmit = Some(Armed {
            timer: Timer::A,
            at,
        });
        t.timeout = Some(Armed {
            timer: Timer::B,
            at: Instant::from_millis(32_000),
        });
        assert_eq!(t.slot(Slot::Timeout).map(|a| a.timer), Some(Timer::B));
        assert_eq!(
            t.take_due(Slot::Retransmit, Instant::from_millis(400)),
            None
        );
        assert_eq!(t.take_due(Slot::Retransmit, at), Some(Timer::A));
        assert_eq!(t.take_due(Slot::Retransmit, at), None);
        t.clear();
        assert_eq!(t.slot(Slot::Timeout), None);
        assert!(Timer::G.is_retransmit() && !Timer::H.is_retransmit());
        assert_eq!(Timer::L.to_string(), "Timer L");
    }

    #[test]
    fn timeouts_sort_before_retransmits() {
        let at = Instant::from_millis(1);
        let a = Entry {
            at,
            slot: Slot::Retransmit,
            index: 0,
            gen: 0,
        };
        let b = Entry {
            at,
            slot: Slot::Timeout,
            index: 9,
            gen: 0,
        };
        let mut q = Queue::new();
        q.push(Reverse(a));
        q.push(Reverse(b));
        assert_eq!(q.pop().map(|Reverse(e)| e.slot), Some(Slot::Timeout));
    }
}
