//! What the relay must do: plain data, rebuilt from the negotiated state after every answer.

use std::net::SocketAddr;

use sbc_sdp::Direction;

use crate::keys::SrtpKey;

/// The relay's instructions for one call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RelayPlan {
    /// From a provisional (early-media, 183) answer: may still change with the final answer.
    pub early: bool,
    /// One entry per anchored media section with a non-zero port on both legs.
    pub streams: Vec<StreamPlan>,
}

/// One anchored media section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPlan {
    /// Media section index (same on both legs, RFC 3264 §6).
    pub index: usize,
    /// `audio`, `video`, ...
    pub media: String,
    /// Leg A (Microsoft / caller side).
    pub a: LegPlan,
    /// Leg B (gateway / callee side).
    pub b: LegPlan,
    /// The payload types of the answer (numbers are the same on both legs: the SBC does not
    /// renumber, RFC 3264 §6.1).
    pub payload_types: Vec<PayloadType>,
}

/// One leg of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegPlan {
    /// Relay socket for RTP (even port).
    pub local_rtp: u16,
    /// Relay socket for RTCP: `local_rtp` when muxed, else `local_rtp + 1`.
    pub local_rtcp: u16,
    /// Where this peer wants RTP (`None`: on hold with `c=0.0.0.0`, nothing to send to).
    pub remote_rtp: Option<SocketAddr>,
    /// Where this peer wants RTCP (`a=rtcp`, RFC 3605, else RTP port + 1; the RTP address
    /// when muxed).
    pub remote_rtcp: Option<SocketAddr>,
    /// RTP and RTCP share the port (RFC 5761).
    pub rtcp_mux: bool,
    /// SRTP keys on this leg, `None` for plain RTP.
    pub srtp: Option<SrtpKeys>,
    /// The direction this peer declared (from its own point of view).
    pub direction: Direction,
}

/// The two SDES keys of an SRTP leg. The relay must keep an existing SRTP context when a new
/// plan carries the same key (re-INVITE without re-key): a fresh context with an old key
/// would reuse keystream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    /// The peer's key (from its `a=crypto`): decrypts what this peer sends.
    pub inbound: SrtpKey,
    /// Our key (from the `a=crypto` we sent): encrypts what we send to this peer.
    pub outbound: SrtpKey,
}

/// One negotiated payload type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadType {
    /// RTP payload type number.
    pub pt: u8,
    /// Encoding name (`PCMU`, `telephone-event`, ...; empty when unknown).
    pub encoding: String,
    /// Clock rate in Hz (0 when unknown).
    pub clock_rate: u32,
    /// Channels, when signalled.
    pub channels: Option<u16>,
}
