//! Per-trunk media policy (strict config: unknown fields are errors).

use std::net::IpAddr;

use sbc_sdp::SdpConfig;
use serde::Deserialize;

/// Whether the SBC relays the media of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaMode {
    /// Media goes through the relay; SDP carries the relay's address (TI-33).
    Anchor,
    /// SDP passes unchanged and media flows end to end. Only honoured when both legs say so
    /// (any anchoring leg anchors the call, since interworking needs the relay).
    PassThrough,
}

/// SRTP on a leg (RFC 4568 SDES).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SrtpPolicy {
    /// Our offers are `RTP/SAVP` with `a=crypto`; plain-RTP streams offered by the peer are
    /// rejected (TI-32: plain RTP from Microsoft gets 488).
    Required,
    /// Our offers mirror the profile the other leg offered; either profile is accepted.
    Optional,
    /// Our offers are `RTP/AVP` without crypto; SRTP streams offered by the peer are rejected.
    Off,
}

/// The media policy of one trunk.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaPolicy {
    /// Anchor or pass through.
    pub mode: MediaMode,
    /// SRTP requirement.
    pub srtp: SrtpPolicy,
    /// Offer `a=rtcp-mux` (RFC 5761 §5.1.1) in our offers to this leg (TI-33: on toward
    /// Microsoft). Answers always accept a mux offer: the relay handles both.
    pub rtcp_mux_offer: bool,
    /// Also offer `AES_CM_128_HMAC_SHA1_32` (after `_80`, which is always offered, TI-32).
    pub offer_sha1_32: bool,
    /// Hold toward this leg is `a=inactive` only (TI-29): `sendonly`/`recvonly` and
    /// `c=0.0.0.0` from the other side become `a=inactive`.
    pub hold_as_inactive: bool,
    /// Only standard attributes toward this leg (TI-35, `sbc_sdp::STANDARD_ATTRIBUTES`);
    /// otherwise unknown attributes pass, and only ICE and what the SBC rewrites is dropped.
    pub standard_attributes_only: bool,
    /// Our offers toward this leg carry lifetime `2^31` and MKI `1:1` (the shape of
    /// Microsoft's own lines, TI-32) instead of a bare key.
    pub offer_mki: bool,
    /// Answer with an MKI of the offer's length (value 1) and the offer's lifetime when the
    /// offer carries an MKI (TI-32: Microsoft offers `|2^31|1:1`).
    pub symmetric_mki: bool,
    /// Codec names allowed in offers toward this leg (RFC 4855 names, case-insensitive;
    /// TI-34 for Microsoft). `None` allows every codec.
    pub codecs: Option<Vec<String>>,
}

impl Default for MediaPolicy {
    fn default() -> Self {
        MediaPolicy::gateway()
    }
}

impl MediaPolicy {
    /// The Microsoft edge (TI-29, TI-32..TI-35): anchor, SRTP required, rtcp-mux offered,
    /// hold as inactive, standard attributes only, symmetric MKI, the TI-34 codec list.
    pub fn microsoft() -> Self {
        MediaPolicy {
            mode: MediaMode::Anchor,
            srtp: SrtpPolicy::Required,
            rtcp_mux_offer: true,
            offer_sha1_32: false,
            offer_mki: false,
            hold_as_inactive: true,
            standard_attributes_only: true,
            symmetric_mki: true,
            codecs: Some(
                [
                    "SILK",
                    "PCMU",
                    "PCMA",
                    "G722",
                    "G729",
                    "CN",
                    "telephone-event",
                ]
                .into_iter()
                .map(String::from)
                .collect(),
            ),
        }
    }

    /// A PSTN gateway (TI-33): anchor, plain RTP, no rtcp-mux offer, any codec.
    pub fn gateway() -> Self {
        MediaPolicy {
            mode: MediaMode::Anchor,
            srtp: SrtpPolicy::Off,
            rtcp_mux_offer: false,
            offer_sha1_32: false,
            offer_mki: false,
            hold_as_inactive: false,
            standard_attributes_only: false,
            symmetric_mki: false,
            codecs: None,
        }
    }

    pub(crate) fn allows_codec(&self, name: &[u8]) -> bool {
        self.codecs
            .as_ref()
            .is_none_or(|list| list.iter().any(|c| c.as_bytes().eq_ignore_ascii_case(name)))
    }
}

/// One leg of a session: its policy and the relay address facing its network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegConfig {
    /// Policy of the trunk this leg belongs to.
    pub policy: MediaPolicy,
    /// The relay's media address on this leg's side (goes into `c=` and `o=`).
    pub local_ip: IpAddr,
}

/// Per-session settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Leg A: the Microsoft/Teams side or the caller.
    pub a: LegConfig,
    /// Leg B: the gateway side or the callee.
    pub b: LegConfig,
    /// Most media sections anchored per call (port pairs per leg); further streams are
    /// rejected with port 0. Bounds pool use per call before any work is spent.
    pub max_streams: usize,
    /// `<username>` of the `o=` lines the SBC writes (RFC 8866 §5.2: `-` when none).
    pub origin_user: String,
    /// Parser limits for every body the session reads.
    pub sdp_limits: SdpConfig,
}

impl SessionConfig {
    /// Defaults: 4 streams, `o=-`, `sbc-sdp`'s default limits.
    pub fn new(a: LegConfig, b: LegConfig) -> Self {
        SessionConfig {
            a,
            b,
            max_streams: 4,
            origin_user: "-".into(),
            sdp_limits: SdpConfig::default(),
        }
    }
}
