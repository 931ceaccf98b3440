//! The call table and what one call holds: the caller's leg (A, the engine is its UAS), the
//! called party's leg (B, the engine is its UAC), the attempt in progress while the B leg
//! is being set up, and the exchanges in flight between the two.

use core::time::Duration;

use bytes::Bytes;
use sbc_sip::{Message, Method};
use sbc_txn::{Instant, Peer, TxnId};

use crate::event::{CallKey, CallPhase, EndReason, EndedBy, Side};
use crate::router::Target;
use crate::wire::Dialog;

/// The engine's timers per call (architecture principle 4: deadlines are data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum TimerKind {
    /// Ringing too long (TU-level timer, the INVITE client transaction never gives up once a
    /// provisional arrived).
    NoAnswer = 0,
    /// Retransmit our 2xx on the A leg until the ACK (RFC 3261 §13.3.1.4, RFC 6026).
    RetxA = 1,
    /// The same on the B leg (a re-INVITE from B).
    RetxB = 2,
    /// Session refresh or expiry on the A leg (RFC 4028 §10).
    SessionA = 3,
    /// The same on the B leg.
    SessionB = 4,
    /// The B-leg attempt got no final response in its trunk's `invite_timeout`: cancel it
    /// and treat it as a timeout (failover).
    Attempt = 5,
}

pub(crate) const N_TIMERS: usize = 6;

impl TimerKind {
    pub(crate) fn retx(side: Side) -> TimerKind {
        match side {
            Side::A => TimerKind::RetxA,
            Side::B => TimerKind::RetxB,
        }
    }

    pub(crate) fn session(side: Side) -> TimerKind {
        match side {
            Side::A => TimerKind::SessionA,
            Side::B => TimerKind::SessionB,
        }
    }

    pub(crate) fn from_index(i: u8) -> Option<TimerKind> {
        Some(match i {
            0 => TimerKind::NoAnswer,
            1 => TimerKind::RetxA,
            2 => TimerKind::RetxB,
            3 => TimerKind::SessionA,
            4 => TimerKind::SessionB,
            5 => TimerKind::Attempt,
            _ => return None,
        })
    }
}

/// Our 2xx to an INVITE on this leg, retransmitted until its ACK (we are the UAS).
#[derive(Debug, Clone)]
pub(crate) struct Pending2xx {
    pub(crate) txn: TxnId,
    pub(crate) msg: Message,
    pub(crate) cseq: u32,
    pub(crate) interval: Duration,
    pub(crate) give_up: Instant,
    pub(crate) peer: Peer,
}

/// RFC 4028 state of one leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Session {
    /// Session interval (seconds).
    pub(crate) interval: u32,
    /// We send the refreshes on this leg.
    pub(crate) we_refresh: bool,
    /// Without a refresh by then, the session is over.
    pub(crate) expires: Instant,
}

/// One confirmed dialog and what the engine does on it.
#[derive(Debug, Clone)]
pub(crate) struct Leg {
    pub(crate) dlg: Dialog,
    /// Index of the leg policy.
    pub(crate) policy: usize,
    /// Our 2xx awaiting its ACK (we are UAS of an INVITE on this leg).
    pub(crate) uas_2xx: Option<Pending2xx>,
    /// The ACK we sent for this leg's last 2xx (CSeq, bytes): re-sent on 2xx retransmissions.
    pub(crate) last_ack: Option<(u32, Bytes)>,
    /// A 2xx received on this leg whose ACK waits for the other leg's ACK (delayed offer:
    /// the answer comes from the other side's ACK).
    pub(crate) ack_owed: Option<u32>,
    pub(crate) session: Option<Session>,
    /// The last offer/answer body we sent on this leg (Content-Type, body): what a session
    /// refresh re-offers.
    pub(crate) last_body: Option<(Bytes, Bytes)>,
    /// The peer listed UPDATE in Allow.
    pub(crate) allows_update: bool,
}

/// A B-side early dialog (To tag) seen in an 18x.
#[derive(Debug, Clone)]
pub(crate) struct Early {
    pub(crate) tag: Bytes,
    /// Highest RSeq PRACKed (RFC 3262).
    pub(crate) rseq: Option<u32>,
}

/// One B-leg INVITE (a target, a redirect, or a 422 retry).
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub(crate) no: u8,
    pub(crate) target: Target,
    /// The leg policy this attempt presents (the trunk's, with routing's Contact).
    pub(crate) policy: usize,
    pub(crate) txn: TxnId,
    pub(crate) call_id: Bytes,
    pub(crate) tag: Bytes,
    pub(crate) from_uri: Bytes,
    pub(crate) to_uri: Bytes,
    pub(crate) cseq: u32,
    /// Next CSeq for PRACKs in early dialogs, then the confirmed dialog.
    pub(crate) next_cseq: u32,
    pub(crate) early: Vec<Early>,
    /// The body we sent (an offer), if any.
    pub(crate) body: Option<(Bytes, Bytes)>,
    /// The Session-Expires we asked for.
    pub(crate) session_asked: Option<u32>,
    pub(crate) se_retried: bool,
    /// Sent over TCP instead of the target's UDP because it is too large for UDP (RFC 3261
    /// §18.1.1); a TCP connection failure then retries over UDP.
    pub(crate) upgraded: bool,
}

/// The offer/answer exchange in flight (one per call at a time: RFC 3261 §14.2, RFC 3311
/// §5.2 glare rules make serialising them correct).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Oa {
    /// The side that sent the request to us (`None`: our own session refresh).
    pub(crate) origin: Option<Side>,
    /// The side we sent our request to.
    pub(crate) target: Side,
    /// Our client transaction on `target`.
    pub(crate) client: TxnId,
}

/// An in-dialog request relayed end to end.
#[derive(Debug, Clone)]
pub(crate) struct Relay {
    pub(crate) server: TxnId,
    pub(crate) client: TxnId,
    pub(crate) from: Side,
    pub(crate) method: Method,
    pub(crate) request: Message,
    pub(crate) client_cseq: u32,
    /// Our request carried a body.
    pub(crate) offer: bool,
}

/// The A side before and after its dialog exists.
#[derive(Debug, Clone)]
pub(crate) struct ASide {
    pub(crate) invite: Message,
    pub(crate) peer: Peer,
    /// The INVITE server transaction, until its final response is sent.
    pub(crate) txn: Option<TxnId>,
    pub(crate) policy: usize,
    /// Our To tag for responses outside any early dialog (failures, the CANCEL's 200).
    pub(crate) fail_tag: Bytes,
    /// B early dialog tag → our A-side tag for it (forking maps one to one).
    pub(crate) tags: Vec<(Bytes, Bytes)>,
    pub(crate) leg: Option<Leg>,
}

/// The B side: targets, the attempt in progress, and the dialog once answered.
#[derive(Debug, Clone)]
pub(crate) struct BSide {
    pub(crate) targets: Vec<Target>,
    pub(crate) next: usize,
    pub(crate) attempts: u8,
    pub(crate) redirects: u8,
    pub(crate) cur: Option<Attempt>,
    pub(crate) leg: Option<Leg>,
    /// Call-IDs of every attempt (index keys to remove at the end).
    pub(crate) call_ids: Vec<(Bytes, Bytes)>,
    /// The body policy refused the B-leg offer with this status: no target is tried
    /// further and the caller gets it.
    pub(crate) refused: Option<u16>,
}

/// The CDR being filled in.
#[derive(Debug, Clone)]
pub(crate) struct CdrDraft {
    pub(crate) invite_at: Instant,
    pub(crate) ringing_at: Option<Instant>,
    pub(crate) answered_at: Option<Instant>,
    pub(crate) status: u16,
    pub(crate) q850: Option<u16>,
    pub(crate) trunk_in: Option<String>,
    pub(crate) trunk_out: Option<String>,
    pub(crate) tenant: Option<String>,
    pub(crate) emergency: bool,
    pub(crate) ended: Option<(EndedBy, EndReason)>,
}

/// One call.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) phase: CallPhase,
    pub(crate) a: ASide,
    pub(crate) b: BSide,
    /// An 18x went upstream: no more failover (TI-18, TI-22).
    pub(crate) sent_18x: bool,
    pub(crate) oa: Option<Oa>,
    pub(crate) relays: Vec<Relay>,
    pub(crate) timers: [Option<Instant>; N_TIMERS],
    pub(crate) cdr: CdrDraft,
    /// Trunks counted by admission (released at the end).
    pub(crate) counted: Vec<String>,
    /// Reason header value to put on the CANCEL we send (relayed from the caller's CANCEL).
    pub(crate) cancel_reason: Option<Bytes>,
    /// The call's log span (info level, numbers redacted): every log line about the call
    /// names it as parent.
    pub(crate) span: tracing::Span,
    /// A transfer under way (REFER terminated here, TI-26).
    pub(crate) transfer: Option<Box<Transfer>>,
    /// Call-IDs of dialogs added after setup (a transfer's new dialog), for the index.
    pub(crate) more_call_ids: Vec<Bytes>,
    /// A Replaces INVITE under way (TI-27).
    pub(crate) replacing: Option<Box<crate::replaces::Replacing>>,
}

/// A blind transfer the engine carries out (see `transfer.rs`).
#[derive(Debug, Clone)]
pub(crate) struct Transfer {
    /// The side whose peer referred (the new INVITE goes to that peer).
    pub(crate) side: Side,
    /// The new INVITE (client transaction).
    pub(crate) txn: TxnId,
    pub(crate) call_id: Bytes,
    pub(crate) tag: Bytes,
    pub(crate) from_uri: Bytes,
    pub(crate) to_uri: Bytes,
    pub(crate) request_uri: Bytes,
    pub(crate) peer: Peer,
    pub(crate) policy: usize,
    /// The offer sent (Content-Type, body).
    pub(crate) body: Option<(Bytes, Bytes)>,
    /// The transferor's dialog once the new one took its slot, until its BYE.
    pub(crate) old: Option<Leg>,
    /// The transferor sent BYE before the new call answered.
    pub(crate) transferor_gone: bool,
}

impl Call {
    pub(crate) fn leg(&self, side: Side) -> Option<&Leg> {
        match side {
            Side::A => self.a.leg.as_ref(),
            Side::B => self.b.leg.as_ref(),
        }
    }

    pub(crate) fn leg_mut(&mut self, side: Side) -> Option<&mut Leg> {
        match side {
            Side::A => self.a.leg.as_mut(),
            Side::B => self.b.leg.as_mut(),
        }
    }

    /// Something of an offer/answer exchange is unfinished: a request in flight, or a 2xx
    /// not yet ACKed either way.
    pub(crate) fn oa_busy(&self) -> bool {
        self.oa.is_some()
            || [Side::A, Side::B].into_iter().any(|s| {
                self.leg(s)
                    .is_some_and(|l| l.uas_2xx.is_some() || l.ack_owed.is_some())
            })
    }
}

#[derive(Debug, Default)]
struct Slot {
    gen: u32,
    call: Option<Box<Call>>,
}

/// The call table: slots with generations and a free list (handles, not pointers:
/// principle 3).
#[derive(Debug, Default)]
pub(crate) struct Slab {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
}

impl Slab {
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    pub(crate) fn insert(&mut self, call: Call) -> CallKey {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot::default());
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.call = Some(Box::new(call));
        self.live += 1;
        CallKey {
            index,
            gen: slot.gen,
        }
    }

    pub(crate) fn get(&self, key: CallKey) -> Option<&Call> {
        let s = self.slots.get(key.index as usize)?;
        if s.gen != key.gen {
            return None;
        }
        s.call.as_deref()
    }

    pub(crate) fn get_mut(&mut self, key: CallKey) -> Option<&mut Call> {
        let s = self.slots.get_mut(key.index as usize)?;
        if s.gen != key.gen {
            return None;
        }
        s.call.as_deref_mut()
    }

    pub(crate) fn remove(&mut self, key: CallKey) -> Option<Box<Call>> {
        let s = self.slots.get_mut(key.index as usize)?;
        if s.gen != key.gen {
            return None;
        }
        let c = s.call.take()?;
        s.gen = s.gen.wrapping_add(1);
        self.free.push(key.index);
        self.live -= 1;
        Some(c)
    }
}
