//! The endpoint: the transaction table, the key index, the deadline queue and the output
//! queues, driven by `handle_*` inputs and drained by `poll_*` (architecture principle 1).

use core::cmp::Reverse;
use core::fmt;
use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use sbc_sip::build::{self, MessageWriter};
use sbc_sip::{Framing, HeaderName, Message, Method, ParserConfig};

use crate::client_invite::{ClientInvite, ClientInviteState};
use crate::client_non_invite::{ClientNonInvite, ClientNonInviteState};
use crate::config::{Config, ConfigError};
use crate::error::{AcceptError, CancelError, DropReason, RespondError, SendError, UnknownTxn};
use crate::key::{to_tag, Key, MethodKey};
use crate::machine::{Core, Cx, Flow, Input, Refused};
use crate::peer::{Peer, Transmit};
use crate::server_invite::{ServerInvite, ServerInviteState};
use crate::server_non_invite::{ServerNonInvite, ServerNonInviteState};
use crate::time::Instant;
use crate::timer::{Entry, Queue, Timer, TimerSet};

/// A transaction handle: a slot index plus the slot's generation, so a handle kept after its
/// transaction terminated never reaches the slot's next occupant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxnId {
    pub(crate) index: u32,
    pub(crate) gen: u32,
}

impl TxnId {
    /// The slot index (dense, reused): usable to index the TU's own per-transaction arrays
    /// together with [`TxnId::generation`].
    #[inline]
    pub fn index(self) -> u32 {
        self.index
    }

    /// The slot generation.
    #[inline]
    pub fn generation(self) -> u32 {
        self.gen
    }
}

impl fmt::Display for TxnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "txn#{}.{}", self.index, self.gen)
    }
}

/// The state of a live transaction, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    /// INVITE client (§17.1.1, RFC 6026).
    ClientInvite(ClientInviteState),
    /// Non-INVITE client (§17.1.2).
    ClientNonInvite(ClientNonInviteState),
    /// INVITE server (§17.2.1, RFC 6026).
    ServerInvite(ServerInviteState),
    /// Non-INVITE server (§17.2.2).
    ServerNonInvite(ServerNonInviteState),
}

impl TxnState {
    /// "kind/state", for logs.
    pub fn name(self) -> &'static str {
        use TxnState::*;
        match self {
            ClientInvite(s) => match s {
                ClientInviteState::Calling => "ict/calling",
                ClientInviteState::Proceeding => "ict/proceeding",
                ClientInviteState::Completed => "ict/completed",
                ClientInviteState::Accepted => "ict/accepted",
            },
            ClientNonInvite(s) => match s {
                ClientNonInviteState::Held => "nict/held",
                ClientNonInviteState::Trying => "nict/trying",
                ClientNonInviteState::Proceeding => "nict/proceeding",
                ClientNonInviteState::Completed => "nict/completed",
            },
            ServerInvite(s) => match s {
                ServerInviteState::Proceeding => "ist/proceeding",
                ServerInviteState::Completed => "ist/completed",
                ServerInviteState::Confirmed => "ist/confirmed",
                ServerInviteState::Accepted => "ist/accepted",
            },
            ServerNonInvite(s) => match s {
                ServerNonInviteState::Trying => "nist/trying",
                ServerNonInviteState::Proceeding => "nist/proceeding",
                ServerNonInviteState::Completed => "nist/completed",
            },
        }
    }

    /// True for client transactions.
    pub fn is_client(self) -> bool {
        matches!(
            self,
            TxnState::ClientInvite(_) | TxnState::ClientNonInvite(_)
        )
    }
}

/// What the endpoint tells the TU, drained with [`Endpoint::poll_event`].
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // drained at once; boxing would allocate per response
pub enum Event {
    /// A response for a client transaction: provisional, final, and (RFC 6026 "Accepted")
    /// every further 2xx, retransmitted or forked. Absorbed retransmissions never appear.
    Response {
        /// The client transaction.
        txn: TxnId,
        /// The response as received.
        msg: Message,
    },
    /// Timer B or F (no final response: the TU answers 408 upstream or fails over), or
    /// Timer H (our non-2xx final was never ACKed).
    Timeout {
        /// The transaction (terminated right after this event).
        txn: TxnId,
        /// Which timer.
        timer: Timer,
    },
    /// The transport could not deliver what the transaction sent (§17.1.4, §17.2.4). A
    /// client transaction terminates; a server INVITE in Proceeding or Accepted lives on
    /// (RFC 6026 Figure 7).
    TransportError {
        /// The transaction.
        txn: TxnId,
    },
    /// The transaction was destroyed; its handle is dead from now on.
    Terminated {
        /// The transaction.
        txn: TxnId,
    },
}

/// A new request, not yet state (principle 2): until [`Endpoint::accept`] it occupies no
/// table slot, and [`Endpoint::reject`] or [`Endpoint::ignore`] never create one.
#[derive(Debug)]
pub struct Incoming {
    msg: Message,
    from: Peer,
    key: Key,
    cancels: Option<TxnId>,
}

impl Incoming {
    /// The request.
    #[inline]
    pub fn message(&self) -> &Message {
        &self.msg
    }

    /// Where it came from (responses go back there).
    #[inline]
    pub fn from(&self) -> Peer {
        self.from
    }

    /// The request method.
    #[inline]
    pub fn method(&self) -> Method {
        self.msg.method().unwrap_or(Method::Other)
    }

    /// For a CANCEL: the INVITE server transaction it targets (§9.2), if one is live. The TU
    /// accepts the CANCEL, answers it 200, and answers that INVITE 487 if it is still in
    /// Proceeding; with `None` it rejects the CANCEL with 481.
    #[inline]
    pub fn cancels(&self) -> Option<TxnId> {
        self.cancels
    }

    /// True when the request has no RFC 3261 branch and was keyed by the RFC 2543 rules.
    #[inline]
    pub fn is_rfc2543(&self) -> bool {
        self.key.is_legacy()
    }

    /// The request and its source, for a TU that drops the `Incoming` but keeps the message.
    pub fn into_parts(self) -> (Message, Peer) {
        (self.msg, self.from)
    }
}

/// What became of a received message ([`Endpoint::handle_message`]).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // consumed at once; boxing would allocate per message
pub enum Dispatch {
    /// It belonged to this transaction: a response for a client transaction, or a
    /// retransmitted request or non-2xx ACK for a server transaction (absorbed, perhaps
    /// answered by re-sending the last response). Drain the polls.
    Matched(TxnId),
    /// A new request: [`Endpoint::accept`], [`Endpoint::reject`] or [`Endpoint::ignore`].
    Incoming(Incoming),
    /// An ACK no transaction absorbs: the ACK for a 2xx, a transaction of its own
    /// (§13.2.2.4, §17.1.1.3). `invite` is the server INVITE transaction it matched in
    /// "Accepted" (RFC 6026 §8.7: passed to the TU), if any.
    StrayAck {
        /// The ACK.
        msg: Message,
        /// Its source.
        from: Peer,
        /// The INVITE server transaction in Accepted it matched.
        invite: Option<TxnId>,
    },
    /// A response no client transaction matches (RFC 6026's §18.1.2 would drop it; the
    /// B2BUA wants late 2xx of forks and retransmissions after Timer M to re-ACK them).
    StrayResponse {
        /// The response.
        msg: Message,
        /// Its source.
        from: Peer,
    },
    /// Discarded.
    Dropped(DropReason),
}

/// One transaction: its key, its core, and its state machine.
#[derive(Debug)]
struct Txn {
    key: Key,
    core: Core,
    machine: Machine,
}

#[derive(Debug)]
#[allow(clippy::enum_variant_names)] // the four RFC 3261 §17 machines, named as the RFC does
enum Machine {
    ClientInvite(ClientInvite),
    ClientNonInvite(ClientNonInvite),
    ServerInvite(ServerInvite),
    ServerNonInvite(ServerNonInvite),
}

impl Machine {
    fn state(&self) -> TxnState {
        match self {
            Machine::ClientInvite(m) => TxnState::ClientInvite(m.state),
            Machine::ClientNonInvite(m) => TxnState::ClientNonInvite(m.state),
            Machine::ServerInvite(m) => TxnState::ServerInvite(m.state),
            Machine::ServerNonInvite(m) => TxnState::ServerNonInvite(m.state),
        }
    }
}

#[derive(Debug, Default)]
struct Slot {
    gen: u32,
    txn: Option<Txn>,
}

/// Why [`Endpoint::drive`] did not run a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DriveError {
    Unknown,
    Refused,
}

/// The sans-IO transaction layer of one shard.
///
/// After every input (`handle_message`, `handle_timeout`, `handle_transport_error`, or a
/// TU command), drain [`Endpoint::poll_transmit`] and [`Endpoint::poll_event`], then sleep
/// until [`Endpoint::poll_timeout`].
#[derive(Debug)]
pub struct Endpoint {
    cfg: Config,
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    index: HashMap<Key, TxnId>,
    queue: Queue,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    retransmits: u64,
}

impl Endpoint {
    /// An empty endpoint.
    pub fn new(cfg: Config) -> Result<Endpoint, ConfigError> {
        cfg.validate()?;
        Ok(Endpoint {
            cfg,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            index: HashMap::new(),
            queue: Queue::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            retransmits: 0,
        })
    }

    /// The configuration.
    #[inline]
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Retransmissions the transactions have sent since the endpoint was created (requests
    /// on Timers A/E, final responses on Timer G or a retransmitted request, ACKs re-sent for
    /// a retransmitted final response): a cumulative counter for metrics.
    #[inline]
    pub fn retransmissions(&self) -> u64 {
        self.retransmits
    }

    /// Counts a retransmission the TU sent itself (a 2xx it retransmits, an ACK it re-sends
    /// for a retransmitted 2xx), so [`Endpoint::retransmissions`] covers both layers.
    #[inline]
    pub fn note_retransmission(&mut self) {
        self.retransmits += 1;
    }

    /// Live transactions.
    #[inline]
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no transaction is live.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The state of a live transaction.
    pub fn state(&self, txn: TxnId) -> Option<TxnState> {
        self.get(txn).map(|t| t.machine.state())
    }

    /// The request that created a live transaction.
    pub fn request(&self, txn: TxnId) -> Option<&Message> {
        self.get(txn).map(|t| &t.core.request)
    }

    /// The peer of a live transaction (where requests or responses go).
    pub fn peer(&self, txn: TxnId) -> Option<Peer> {
        self.get(txn).map(|t| t.core.peer)
    }

    // ----- inputs from the wire ----------------------------------------------------------

    /// A parsed message from `from`. Responses are matched to client transactions
    /// (§17.1.3), requests to server transactions (§17.2.3); see [`Dispatch`].
    pub fn handle_message(&mut self, now: Instant, msg: Message, from: Peer) -> Dispatch {
        if msg.is_request() {
            self.on_request(now, msg, from)
        } else {
            self.on_response(now, msg, from)
        }
    }

    fn on_response(&mut self, now: Instant, msg: Message, from: Peer) -> Dispatch {
        if msg.top_via_raw().is_none() {
            return Dispatch::Dropped(DropReason::NoVia);
        }
        if msg.cseq().is_none() {
            return Dispatch::Dropped(DropReason::NoCSeq);
        }
        // §17.1.3: top Via branch + CSeq method. No branch: nothing of ours.
        let found = Key::client(&msg).and_then(|k| self.index.get(&k).copied());
        let Some(id) = found else {
            return Dispatch::StrayResponse { msg, from };
        };
        let _ = self.drive(now, now, id, Input::Response(msg));
        Dispatch::Matched(id)
    }

    fn on_request(&mut self, now: Instant, msg: Message, from: Peer) -> Dispatch {
        let method = msg.method().unwrap_or(Method::Other);
        let own = match method {
            // §17.2.3: "except for ACK, where the method of the request that created the
            // transaction is INVITE".
            Method::Ack => Some(MethodKey::INVITE),
            _ => MethodKey::of(&msg),
        };
        let Some(key) = own.and_then(|m| Key::server(&msg, m)) else {
            return Dispatch::Dropped(DropReason::NoVia);
        };
        let is_ack = method == Method::Ack;
        let found = self.lookup_server(&key, &msg, is_ack);
        if is_ack {
            let Some(id) = found else {
                return Dispatch::StrayAck {
                    msg,
                    from,
                    invite: None,
                };
            };
            return match self.drive(now, now, id, Input::Ack(msg)) {
                Ok(Flow::AckToTu(msg)) => Dispatch::StrayAck {
                    msg,
                    from,
                    invite: Some(id),
                },
                _ => Dispatch::Matched(id),
            };
        }
        if let Some(id) = found {
            let _ = self.drive(now, now, id, Input::Retransmission);
            return Dispatch::Matched(id);
        }
        // §9.2: the CANCEL's target is found "assuming that the request method is anything
        // but CANCEL or ACK"; only INVITEs are worth cancelling.
        let cancels = match method {
            Method::Cancel => self
                .lookup_server(&key.with_method(MethodKey::INVITE), &msg, false)
                .filter(|&id| matches!(self.state(id), Some(TxnState::ServerInvite(_)))),
            _ => None,
        };
        Dispatch::Incoming(Incoming {
            msg,
            from,
            key,
            cancels,
        })
    }

    /// Looks a request up; RFC 2543 keys also compare the To tag (§17.2.3): the request's
    /// against the creating request's, or for an ACK against our final response's.
    fn lookup_server(&self, key: &Key, msg: &Message, is_ack: bool) -> Option<TxnId> {
        let id = *self.index.get(key)?;
        if !key.is_legacy() {
            return Some(id);
        }
        let txn = self.get(id)?;
        let want = match (&txn.machine, is_ack) {
            (Machine::ServerInvite(m), true) => m.final_to_tag.clone(),
            (_, true) => return None,
            (_, false) => to_tag(&txn.core.request),
        };
        (to_tag(msg) == want).then_some(id)
    }

    /// Fires every timer due at `now`, earliest first (a timeout before a retransmission
    /// due at the same instant).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse(e)) = self.queue.peek() {
            if e.at > now {
                break;
            }
            self.queue.pop();
            let id = TxnId {
                index: e.index,
                gen: e.gen,
            };
            let due = self
                .get_mut(id)
                .and_then(|t| t.core.timers.take_due(e.slot, e.at));
            if let Some(timer) = due {
                let _ = self.drive(now, e.at, id, Input::Timer(timer));
            }
        }
    }

    /// The transport failed to deliver a [`Transmit`] of this transaction.
    pub fn handle_transport_error(&mut self, now: Instant, txn: TxnId) -> Result<(), UnknownTxn> {
        match self.drive(now, now, txn, Input::TransportError) {
            Err(DriveError::Unknown) => Err(UnknownTxn(txn)),
            _ => Ok(()),
        }
    }

    // ----- commands from the TU: new requests --------------------------------------------

    /// Creates the server transaction for a new request. An INVITE enters Proceeding and,
    /// with [`Config::trying_on_accept`], is answered `100 Trying` at once.
    pub fn accept(&mut self, now: Instant, incoming: Incoming) -> Result<TxnId, AcceptError> {
        self.accept_with(now, incoming, &[])
    }

    /// [`Endpoint::accept`] with extra headers on the `100 Trying` of an INVITE (a leg's own
    /// headers such as `X-MS-SBC`, which Microsoft wants on every response, TI-17).
    pub fn accept_with(
        &mut self,
        now: Instant,
        incoming: Incoming,
        trying_headers: &[(&[u8], &[u8])],
    ) -> Result<TxnId, AcceptError> {
        if let Some(&id) = self.index.get(&incoming.key) {
            return Err(AcceptError::Duplicate(id));
        }
        if self.live >= self.cfg.max_transactions {
            return Err(AcceptError::TableFull(Box::new(incoming)));
        }
        let Incoming { msg, from, key, .. } = incoming;
        let is_invite = msg.method() == Some(Method::Invite);
        let id = self.reserve();
        let mut core = Core {
            peer: from,
            request: msg,
            timers: TimerSet::default(),
        };
        let machine = if is_invite {
            let mut cx = self.cx(id, now);
            Machine::ServerInvite(ServerInvite::start(&mut core, &mut cx, trying_headers))
        } else {
            Machine::ServerNonInvite(ServerNonInvite::start())
        };
        self.place(id, key, core, machine);
        Ok(id)
    }

    /// Answers a new request statelessly with `status` (any final: a 2xx for an OPTIONS
    /// keep-alive is fine; out-of-range values become 500) and forgets it. No state is
    /// created; the To tag is derived from the request and [`Config::tag_seed`], so
    /// retransmissions get the same answer.
    pub fn reject(&mut self, incoming: Incoming, status: u16) {
        self.reject_with(incoming, status, None, &[]);
    }

    /// [`Endpoint::reject`] with a reason phrase and extra headers (Retry-After, Allow,
    /// Unsupported, Warning...).
    pub fn reject_with(
        &mut self,
        incoming: Incoming,
        status: u16,
        reason: Option<&[u8]>,
        headers: &[(&[u8], &[u8])],
    ) {
        let status = if (200..=699).contains(&status) {
            status
        } else {
            500
        };
        let msg = &incoming.msg;
        let tag = stateless_tag(self.cfg.tag_seed, msg);
        let mut out = Vec::with_capacity(msg.as_bytes().len().min(2048) + 64);
        let mut w = build::response_from(
            msg,
            Some(incoming.from.addr),
            status,
            reason,
            Some(&tag),
            &mut out,
        );
        for (name, value) in headers {
            w.header(name, value);
        }
        w.finish(None, b"");
        self.transmits.push_back(Transmit {
            to: incoming.from,
            bytes: Bytes::from(out),
            txn: None,
        });
    }

    /// Drops a new request without an answer (policy says: silence).
    pub fn ignore(&mut self, incoming: Incoming) {
        drop(incoming);
    }

    // ----- commands from the TU: server side ---------------------------------------------

    /// Sends a response on a server transaction. Provisional and final responses move the
    /// machine as §17.2 says; a response its state does not allow is refused, not sent.
    pub fn respond(&mut self, now: Instant, txn: TxnId, msg: Message) -> Result<(), RespondError> {
        let Some(status) = msg.status() else {
            return Err(RespondError::NotAResponse);
        };
        let Some(state) = self.state(txn) else {
            return Err(RespondError::UnknownTxn(txn));
        };
        if state.is_client() {
            return Err(RespondError::NotServer(txn));
        }
        match self.drive(now, now, txn, Input::Respond(msg)) {
            Ok(_) => Ok(()),
            Err(DriveError::Unknown) => Err(RespondError::UnknownTxn(txn)),
            Err(DriveError::Refused) => Err(RespondError::InvalidState { state, status }),
        }
    }

    /// [`Endpoint::respond`] with serialized bytes (parsed once here).
    pub fn respond_bytes(
        &mut self,
        now: Instant,
        txn: TxnId,
        bytes: impl Into<Bytes>,
    ) -> Result<(), RespondError> {
        let msg = parse_own(bytes.into()).map_err(RespondError::Parse)?;
        self.respond(now, txn, msg)
    }

    // ----- commands from the TU: client side ---------------------------------------------

    /// Creates a client transaction for `msg` (which carries our RFC 3261 branch in its top
    /// Via) and sends it to `to`. Retransmission timers run only on unreliable transports.
    pub fn send_request(
        &mut self,
        now: Instant,
        msg: Message,
        to: Peer,
    ) -> Result<TxnId, SendError> {
        let Some(method) = msg.method() else {
            return Err(SendError::NotARequest);
        };
        if method == Method::Ack {
            return Err(SendError::Ack);
        }
        let Some(via) = msg.top_via() else {
            return Err(SendError::NoVia);
        };
        if !via.has_rfc3261_branch() {
            return Err(SendError::NoBranch);
        }
        if msg.cseq().is_none() {
            return Err(SendError::NoCSeq);
        }
        let Some(key) = Key::client(&msg) else {
            return Err(SendError::NoBranch);
        };
        if let Some(&id) = self.index.get(&key) {
            return Err(SendError::Duplicate(id));
        }
        if self.live >= self.cfg.max_transactions {
            return Err(SendError::TableFull);
        }
        let id = self.reserve();
        let mut core = Core {
            peer: to,
            request: msg,
            timers: TimerSet::default(),
        };
        let machine = {
            let mut cx = self.cx(id, now);
            if method == Method::Invite {
                Machine::ClientInvite(ClientInvite::start(&mut core, &mut cx))
            } else {
                Machine::ClientNonInvite(ClientNonInvite::start(&mut core, &mut cx))
            }
        };
        self.place(id, key, core, machine);
        Ok(id)
    }

    /// [`Endpoint::send_request`] with serialized bytes (parsed once here).
    pub fn send_request_bytes(
        &mut self,
        now: Instant,
        bytes: impl Into<Bytes>,
        to: Peer,
    ) -> Result<TxnId, SendError> {
        let msg = parse_own(bytes.into()).map_err(SendError::Parse)?;
        self.send_request(now, msg, to)
    }

    /// Cancels an INVITE client transaction (§9.1): builds the CANCEL (same Request-URI,
    /// Call-ID, From, To, CSeq number, top Via and Route as the INVITE) as a non-INVITE
    /// client transaction of its own to the same peer. Before any provisional response the
    /// CANCEL is held (state Held) and sent when one arrives; if the INVITE ends first it is
    /// never sent and just terminates.
    pub fn cancel(&mut self, now: Instant, invite: TxnId) -> Result<TxnId, CancelError> {
        self.cancel_with(now, invite, &[])
    }

    /// [`Endpoint::cancel`] with extra headers (e.g. `Reason`, RFC 3326).
    pub fn cancel_with(
        &mut self,
        now: Instant,
        invite: TxnId,
        headers: &[(&[u8], &[u8])],
    ) -> Result<TxnId, CancelError> {
        let Some(txn) = self.get(invite) else {
            return Err(CancelError::UnknownTxn(invite));
        };
        let Machine::ClientInvite(ci) = &txn.machine else {
            return Err(CancelError::NotInviteClient(invite));
        };
        if let Some(c) = ci.cancel {
            return Err(CancelError::AlreadyCancelled(c));
        }
        let held = match ci.state {
            ClientInviteState::Calling => true,
            ClientInviteState::Proceeding => false,
            ClientInviteState::Completed | ClientInviteState::Accepted => {
                return Err(CancelError::AlreadyFinal(invite))
            }
        };
        if self.live >= self.cfg.max_transactions {
            return Err(CancelError::TableFull);
        }
        let peer = txn.core.peer;
        let mut out = Vec::with_capacity(512);
        build_cancel(&txn.core.request, headers, &mut out);
        // We built it from a parsed INVITE; a failure here would be a builder bug.
        let msg = parse_own(Bytes::from(out)).map_err(|_| CancelError::NotInviteClient(invite))?;
        let Some(key) = Key::client(&msg) else {
            return Err(CancelError::NotInviteClient(invite));
        };
        if let Some(&other) = self.index.get(&key) {
            return Err(CancelError::AlreadyCancelled(other));
        }
        let id = self.reserve();
        let mut core = Core {
            peer,
            request: msg,
            timers: TimerSet::default(),
        };
        let machine = if held {
            ClientNonInvite::held()
        } else {
            let mut cx = self.cx(id, now);
            ClientNonInvite::start(&mut core, &mut cx)
        };
        self.place(id, key, core, Machine::ClientNonInvite(machine));
        if let Some(Machine::ClientInvite(ci)) = self.get_mut(invite).map(|t| &mut t.machine) {
            ci.cancel = Some(id);
            ci.cancel_held = held;
        }
        if !held {
            let _ = self.drive_one(now, None, invite, Input::CancelSent);
        }
        Ok(id)
    }

    /// Queues bytes outside any transaction: the ACK for a 2xx (§13.2.2.4), keep-alives.
    pub fn send_stateless(&mut self, to: Peer, bytes: Bytes) {
        self.transmits.push_back(Transmit {
            to,
            bytes,
            txn: None,
        });
    }

    // ----- outputs -----------------------------------------------------------------------

    /// The next message to send.
    #[inline]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the TU.
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest armed deadline: call [`Endpoint::handle_timeout`] then. Skips (and
    /// forgets) queue entries of disarmed timers and dead transactions.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(&Reverse(e)) = self.queue.peek() {
            if self.is_armed(e) {
                return Some(e.at);
            }
            self.queue.pop();
        }
        None
    }

    // ----- internals ---------------------------------------------------------------------

    fn is_armed(&self, e: Entry) -> bool {
        let id = TxnId {
            index: e.index,
            gen: e.gen,
        };
        self.get(id)
            .and_then(|t| t.core.timers.slot(e.slot))
            .is_some_and(|a| a.at == e.at)
    }

    fn get(&self, id: TxnId) -> Option<&Txn> {
        let slot = self.slots.get(id.index as usize)?;
        if slot.gen != id.gen {
            return None;
        }
        slot.txn.as_ref()
    }

    fn get_mut(&mut self, id: TxnId) -> Option<&mut Txn> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.gen != id.gen {
            return None;
        }
        slot.txn.as_mut()
    }

    /// A context for a transaction that is not in the table yet.
    fn cx(&mut self, id: TxnId, now: Instant) -> Cx<'_> {
        Cx {
            id,
            now,
            base: now,
            cfg: &self.cfg,
            queue: &mut self.queue,
            transmits: &mut self.transmits,
            events: &mut self.events,
            retransmits: &mut self.retransmits,
        }
    }

    /// Picks a free slot (the most recently freed first) without occupying it.
    fn reserve(&mut self) -> TxnId {
        while let Some(index) = self.free.pop() {
            if let Some(slot) = self.slots.get(index as usize) {
                return TxnId {
                    index,
                    gen: slot.gen,
                };
            }
        }
        self.slots.push(Slot::default());
        TxnId {
            // `max_transactions <= u32::MAX` (Config::validate) bounds the slot count.
            index: (self.slots.len() - 1) as u32,
            gen: 0,
        }
    }

    /// Occupies the reserved slot.
    fn place(&mut self, id: TxnId, key: Key, core: Core, machine: Machine) {
        if let Some(slot) = self.slots.get_mut(id.index as usize) {
            slot.txn = Some(Txn {
                key: key.clone(),
                core,
                machine,
            });
            self.index.insert(key, id);
            self.live += 1;
        }
    }

    /// Destroys a transaction (§17: "MUST be destroyed the instant it enters Terminated").
    fn remove(&mut self, now: Instant, id: TxnId) {
        let Some(slot) = self.slots.get_mut(id.index as usize) else {
            return;
        };
        if slot.gen != id.gen {
            return;
        }
        let Some(txn) = slot.txn.take() else {
            return;
        };
        slot.gen = slot.gen.wrapping_add(1);
        self.free.push(id.index);
        self.live -= 1;
        if self.index.get(&txn.key) == Some(&id) {
            self.index.remove(&txn.key);
        }
        self.events.push_back(Event::Terminated { txn: id });
        // An INVITE that dies with its CANCEL still held takes the CANCEL along (§9.1).
        if let Machine::ClientInvite(ci) = txn.machine {
            if let (Some(c), true) = (ci.cancel, ci.cancel_held) {
                let _ = self.drive_one(now, None, c, Input::Abandon);
            }
        }
    }

    /// Runs one input through a transaction's machine, destroys it if it terminated, and
    /// releases or abandons a held CANCEL once its INVITE left Calling.
    fn drive(
        &mut self,
        now: Instant,
        base: Instant,
        id: TxnId,
        input: Input,
    ) -> Result<Flow, DriveError> {
        let flow = self.drive_one(now, Some(base), id, input)?;
        // §9.1: the held CANCEL goes out with the first provisional; a final (or the end)
        // first means it never goes.
        let release = match self.get_mut(id).map(|t| &mut t.machine) {
            Some(Machine::ClientInvite(ci))
                if ci.cancel_held && ci.state != ClientInviteState::Calling =>
            {
                ci.cancel_held = false;
                let input = if ci.state == ClientInviteState::Proceeding {
                    Input::Release
                } else {
                    Input::Abandon
                };
                ci.cancel.map(|c| (c, input))
            }
            _ => None,
        };
        if let Some((c, input)) = release {
            let sent = matches!(input, Input::Release);
            let _ = self.drive_one(now, Some(now), c, input);
            if sent {
                let _ = self.drive_one(now, Some(now), id, Input::CancelSent);
            }
        }
        Ok(flow)
    }

    fn drive_one(
        &mut self,
        now: Instant,
        base: Option<Instant>,
        id: TxnId,
        input: Input,
    ) -> Result<Flow, DriveError> {
        let Endpoint {
            cfg,
            slots,
            queue,
            transmits,
            events,
            retransmits,
            ..
        } = self;
        let Some(txn) = slots
            .get_mut(id.index as usize)
            .filter(|s| s.gen == id.gen)
            .and_then(|s| s.txn.as_mut())
        else {
            return Err(DriveError::Unknown);
        };
        let mut cx = Cx {
            id,
            now,
            base: base.unwrap_or(now),
            cfg,
            queue,
            transmits,
            events,
            retransmits,
        };
        let core = &mut txn.core;
        let flow = match &mut txn.machine {
            Machine::ClientInvite(m) => Ok(m.handle(core, &mut cx, input)),
            Machine::ClientNonInvite(m) => Ok(m.handle(core, &mut cx, input)),
            Machine::ServerInvite(m) => m.handle(core, &mut cx, input),
            Machine::ServerNonInvite(m) => m.handle(core, &mut cx, input),
        };
        match flow {
            Ok(Flow::Terminate) => {
                self.remove(now, id);
                Ok(Flow::Terminate)
            }
            Ok(f) => Ok(f),
            Err(Refused) => Err(DriveError::Refused),
        }
    }
}

/// Parses a message we serialized ourselves (datagram framing: a missing Content-Length is
/// tolerated).
fn parse_own(bytes: Bytes) -> Result<Message, sbc_sip::ParseError> {
    Message::parse_with(bytes, &ParserConfig::default(), Framing::Datagram)
}

/// The CANCEL for `invite` (§9.1), as [`sbc_sip::build::cancel`] writes it, plus `headers`.
fn build_cancel(invite: &Message, headers: &[(&[u8], &[u8])], out: &mut Vec<u8>) {
    let uri = invite.request_uri_raw().unwrap_or_default();
    let mut w = MessageWriter::request(out, b"CANCEL", uri);
    if let Some(v) = invite.top_via_raw() {
        w.header(b"Via", v);
    }
    w.copy_all(invite, HeaderName::Route);
    if let Some(f) = invite.from_raw() {
        w.header(b"From", f);
    }
    if let Some(t) = invite.to_raw() {
        w.header(b"To", t);
    }
    if let Some(c) = invite.call_id() {
        w.header(b"Call-ID", c);
    }
    let seq = invite.cseq().map_or(0, |c| c.seq).to_string();
    w.header_parts(b"CSeq", &[seq.as_bytes(), b" CANCEL"]);
    w.header(b"Max-Forwards", b"70");
    for (name, value) in headers {
        w.header(name, value);
    }
    w.finish(None, b"");
}

/// A To tag for stateless responses: FNV-1a over the seed, Call-ID, From tag and top Via,
/// as 16 hex digits. The same request always gets the same tag (retransmissions see one
/// answer); different requests get different ones.
fn stateless_tag(seed: u64, msg: &Message) -> [u8; 16] {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let parts: [&[u8]; 4] = [
        &seed.to_le_bytes(),
        msg.call_id().unwrap_or_default(),
        msg.from_tag().unwrap_or_default(),
        msg.top_via_raw().unwrap_or_default(),
    ];
    for part in parts {
        for &b in part {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
        h ^= 0xff;
        h = h.wrapping_mul(PRIME);
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = HEX[((h >> (60 - 4 * i)) & 0xf) as usize];
    }
    out
}
