//! The media port pool: even RTP ports with RTCP on RTP+1 (RFC 3550 §11), handed out as
//! pairs so a leg can fall back from rtcp-mux (RFC 5761) to separate RTCP without a second
//! allocation.
//!
//! Allocation and release are O(1): a FIFO of free pair indices plus an in-use bitmap.
//! FIFO rather than LIFO on purpose: a just-released pair goes to the back of the queue, so
//! late packets of an ended call are unlikely to reach the next call on the same ports.

use core::fmt;
use std::collections::VecDeque;

use serde::Deserialize;

/// An inclusive port range from configuration (TI-36: at least two ports per concurrent
/// call, so size it for twice the call limit per leg).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortRange {
    /// First port (rounded up to even).
    pub min: u16,
    /// Last port (inclusive).
    pub max: u16,
}

/// A leased RTP/RTCP port pair: `rtp` is even, `rtcp == rtp + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortPair {
    rtp: u16,
}

impl PortPair {
    /// The RTP port (even).
    pub fn rtp(self) -> u16 {
        self.rtp
    }
    /// The RTCP port when rtcp-mux is not in use (RTP + 1).
    pub fn rtcp(self) -> u16 {
        self.rtp + 1
    }
}

/// Pool errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolError {
    /// The range holds no even/odd pair (`min > max`, or fewer than two ports, or port 0).
    InvalidRange,
    /// Every pair is leased.
    Exhausted,
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PoolError::InvalidRange => "port range holds no RTP/RTCP pair",
            PoolError::Exhausted => "media port pool exhausted",
        })
    }
}

impl std::error::Error for PoolError {}

/// The pool. One per relay address; the call engine owns it and passes it to sessions.
#[derive(Debug, Clone)]
pub struct PortPool {
    base: u16,
    free: VecDeque<u16>,
    in_use: Vec<u64>,
    capacity: usize,
}

impl PortPool {
    /// A pool over `range`: pairs `(e, e+1)` for every even `e` with `min <= e` and
    /// `e + 1 <= max`. Port 0 is never handed out (it means "stream rejected" in SDP).
    pub fn new(range: PortRange) -> Result<Self, PoolError> {
        let first = u32::from(range.min.max(2));
        let first = first + (first & 1);
        let last = u32::from(range.max);
        if first + 1 > last {
            return Err(PoolError::InvalidRange);
        }
        // Pairs (e, e+1) with first <= e, e+1 <= last: floor((last-first+1)/2).
        let capacity = (last - first).div_ceil(2) as usize;
        let base = u16::try_from(first).map_err(|_| PoolError::InvalidRange)?;
        let count = u16::try_from(capacity).map_err(|_| PoolError::InvalidRange)?;
        Ok(PortPool {
            base,
            free: (0..count).collect(),
            in_use: vec![0; capacity.div_ceil(64)],
            capacity,
        })
    }

    /// Leases the pair that has been free longest.
    pub fn allocate(&mut self) -> Result<PortPair, PoolError> {
        let idx = self.free.pop_front().ok_or(PoolError::Exhausted)?;
        let (w, b) = (usize::from(idx) / 64, usize::from(idx) % 64);
        if let Some(word) = self.in_use.get_mut(w) {
            *word |= 1 << b;
        }
        Ok(PortPair {
            rtp: self.base + idx * 2,
        })
    }

    /// Returns a pair. Releasing a pair that is not leased (twice, or from another pool) is
    /// harmless and returns `false`, so every end path may release without bookkeeping.
    pub fn release(&mut self, pair: PortPair) -> bool {
        let Some(off) = pair.rtp.checked_sub(self.base) else {
            return false;
        };
        if off % 2 != 0 {
            return false;
        }
        let idx = off / 2;
        let (w, b) = (usize::from(idx) / 64, usize::from(idx) % 64);
        match self.in_use.get_mut(w) {
            Some(word) if usize::from(idx) < self.capacity && *word & (1 << b) != 0 => {
                *word &= !(1 << b);
                self.free.push_back(idx);
                true
            }
            _ => false,
        }
    }

    /// True when `pair` is currently leased from this pool.
    pub fn is_leased(&self, pair: PortPair) -> bool {
        let Some(off) = pair.rtp.checked_sub(self.base) else {
            return false;
        };
        let idx = usize::from(off / 2);
        off % 2 == 0
            && idx < self.capacity
            && self
                .in_use
                .get(idx / 64)
                .is_some_and(|w| w & (1 << (idx % 64)) != 0)
    }

    /// Total pairs.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Pairs free.
    pub fn available(&self) -> usize {
        self.free.len()
    }

    /// Pairs leased.
    pub fn in_use(&self) -> usize {
        self.capacity - self.free.len()
    }
}
