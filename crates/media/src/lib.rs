//! `sbc-media`: the pure media-session core of the SBC (no I/O, no clock, no randomness of
//! its own).
//!
//! * [`PortPool`]: even RTP ports with RTCP on RTP+1, O(1) lease/release, typed exhaustion.
//! * [`MediaSession`]: one call's two legs (A = Microsoft/caller, B = gateway/callee) and
//!   RFC 3264 offer/answer across INVITE, 183, 2xx, ACK (delayed offer), re-INVITE and
//!   UPDATE. Each SDP in yields the SDP to send on, rewritten for the relay (`c=`, `m=`
//!   port and profile, `a=rtcp`, `a=rtcp-mux`, `a=crypto`, direction, attribute policy,
//!   `o=` versioning), under a per-trunk [`MediaPolicy`] (TI-29, TI-32..TI-37).
//! * [`RelayPlan`]: plain data the packet relay consumes: ports, remote addresses, mux,
//!   SRTP keys per direction, payload types, direction.
//!
//! Keys come from the caller's CSPRNG through [`KeySource`] (any `FnMut(&mut [u8])`).

mod error;
mod keys;
mod plan;
mod policy;
mod pool;
mod rewrite;
mod session;

pub use error::MediaError;
pub use keys::{
    b64_decode, b64_encode, KeySource, MkiSpec, SrtpKey, SrtpSuite, MASTER_LEN, MAX_MKI_LEN,
};
pub use plan::{LegPlan, PayloadType, RelayPlan, SrtpKeys, StreamPlan};
pub use policy::{LegConfig, MediaMode, MediaPolicy, SessionConfig, SrtpPolicy};
pub use pool::{PoolError, PortPair, PortPool, PortRange};
pub use sbc_sdp::{Direction, Lifetime, SdpConfig};
pub use session::{AnswerKind, Leg, MediaSession};

#[cfg(test)]
mod tests;
