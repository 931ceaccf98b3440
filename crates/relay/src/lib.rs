//! `sbc-relay`: the media relay of the SBC. Each call has two legs (e.g. Microsoft Teams
//! with SRTP/SDES, and a PSTN gateway with plain RTP); packets received on one leg are
//! checked, translated and sent out of the other (TI-33: SRTP <-> RTP interworking,
//! rtcp-mux or not; TI-34: CN and RFC 4733 telephone-event are forwarded).
//!
//! * [`Call`] (module `core`) is the pure packet path: source check and latching,
//!   SRTP/SRTCP unprotect, payload-type remapping, SRTP/SRTCP protect, statistics,
//!   inactivity. Unit-tested without sockets.
//! * [`shell`] runs a [`Call`] on tokio with batched system calls (`recvmmsg` /
//!   `sendmmsg` through `nix`, no `unsafe`), a per-socket packet budget per wakeup, and
//!   reports [`Event`]s.

mod core;
pub mod shell;
mod stats;

pub use crate::core::{
    Call, CallLimits, Event, Kind, LegConfig, LegId, Port, SourcePolicy, SrtpLeg, Verdict,
    TAIL_ROOM,
};
pub use crate::stats::{DropReason, Drops, LegStats, RtcpReport};
