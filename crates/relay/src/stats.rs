//! Per-leg counters: packets, bytes, drops by reason, and what the peer reports in RTCP.

/// Why a packet was not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Not RTP/RTCP version 2, truncated header, or RTCP on an RTP-only port.
    Malformed,
    /// From an address other than the latched / signalled one (strict source checking).
    WrongSource,
    /// SRTP/SRTCP authentication failed.
    AuthFailed,
    /// SRTP/SRTCP replay or too old.
    Replayed,
    /// Unknown MKI.
    BadMki,
    /// The master key reached its lifetime: the call needs a re-key.
    KeyExpired,
    /// More SSRCs than the SRTP context tracks.
    TooManyStreams,
    /// No remote address known yet for the other leg.
    NoDestination,
    /// Packet larger than the receive buffer allows after adding the SRTP trailer.
    TooLarge,
    /// The socket refused the send (buffer full).
    SendFailed,
}

impl DropReason {
    /// All reasons, in counter order.
    pub const ALL: [DropReason; 10] = [
        DropReason::Malformed,
        DropReason::WrongSource,
        DropReason::AuthFailed,
        DropReason::Replayed,
        DropReason::BadMki,
        DropReason::KeyExpired,
        DropReason::TooManyStreams,
        DropReason::NoDestination,
        DropReason::TooLarge,
        DropReason::SendFailed,
    ];

    /// Stable name for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::WrongSource => "wrong_source",
            DropReason::AuthFailed => "auth_failed",
            DropReason::Replayed => "replayed",
            DropReason::BadMki => "bad_mki",
            DropReason::KeyExpired => "key_expired",
            DropReason::TooManyStreams => "too_many_streams",
            DropReason::NoDestination => "no_destination",
            DropReason::TooLarge => "too_large",
            DropReason::SendFailed => "send_failed",
        }
    }

    fn idx(self) -> usize {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// Drop counters by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drops([u64; 10]);

impl Drops {
    pub(crate) fn count(&mut self, r: DropReason) {
        self.0[r.idx()] += 1;
    }

    /// Drops for one reason.
    pub fn get(&self, r: DropReason) -> u64 {
        self.0[r.idx()]
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

/// The last RTCP report block about the media this leg's peer receives (RFC 3550 §6.4.1),
/// from SR/RR packets the peer sends us.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtcpReport {
    /// Reports seen.
    pub reports: u64,
    /// Fraction lost of the last report, /256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (signed 24-bit).
    pub cumulative_lost: i32,
    /// Interarrival jitter, in RTP timestamp units.
    pub jitter: u32,
}

impl RtcpReport {
    /// Walk a compound RTCP packet (already decrypted) and keep the last report block.
    /// Malformed lengths just stop the walk: statistics never refuse a packet.
    pub(crate) fn observe(&mut self, mut pkt: &[u8]) {
        while pkt.len() >= 8 {
            let count = usize::from(pkt[0] & 0x1f);
            let pt = pkt[1];
            let words = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
            let Some(this) = pkt.get(..4 * (words + 1)) else {
                return;
            };
            // SR: 8-byte header + 20 bytes of sender info; RR: header only.
            let blocks_at = match pt {
                200 => 28,
                201 => 8,
                _ => {
                    pkt = &pkt[this.len()..];
                    continue;
                }
            };
            if count > 0 {
                let at = blocks_at + 24 * (count - 1);
                if let Some(b) = this.get(at..at + 24) {
                    let cum = i32::from_be_bytes([b[5], b[6], b[7], 0]) >> 8;
                    self.reports += 1;
                    self.fraction_lost = b[4];
                    self.cumulative_lost = cum;
                    self.jitter = u32::from_be_bytes([b[12], b[13], b[14], b[15]]);
                }
            }
            pkt = &pkt[this.len()..];
        }
    }
}

/// Counters of one leg.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegStats {
    /// Packets received on this leg's sockets.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets sent out of this leg.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Received packets not forwarded, by reason.
    pub drops: Drops,
    /// What the peer reports about the media it receives from us.
    pub rtcp: RtcpReport,
}
