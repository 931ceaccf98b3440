//! Sliding replay window (RFC 3711 §3.3.2): a bitmap indexed by packet index modulo its
//! capacity, so advancing costs one cleared bit per skipped index (bounded by the capacity)
//! and no shifting.

pub(crate) const MAX_WINDOW: u16 = 1024;
const WORDS: usize = MAX_WINDOW as usize / 64;

#[derive(Clone)]
pub(crate) struct ReplayWindow {
    size: u64,
    bits: [u64; WORDS],
}

impl ReplayWindow {
    pub(crate) fn new(size: u16) -> ReplayWindow {
        ReplayWindow {
            size: u64::from(size.min(MAX_WINDOW)),
            bits: [0; WORDS],
        }
    }

    fn bit(index: u64) -> (usize, u64) {
        let pos = index % u64::from(MAX_WINDOW);
        ((pos / 64) as usize, 1u64 << (pos % 64))
    }

    /// Whether `index` may be accepted given the highest index `max` seen so far.
    pub(crate) fn check(&self, max: u64, index: u64) -> bool {
        if index > max {
            return true;
        }
        if max - index >= self.size {
            return false; // older than the window: treated as a replay (§3.3.2)
        }
        let (w, b) = Self::bit(index);
        self.bits[w] & b == 0
    }

    /// Record `index` as received (after it authenticated), `max` being the previous highest.
    pub(crate) fn mark(&mut self, max: u64, index: u64) {
        if index > max {
            let gap = index - max;
            if gap >= u64::from(MAX_WINDOW) {
                self.bits = [0; WORDS];
            } else {
                for i in max + 1..index {
                    let (w, b) = Self::bit(i);
                    self.bits[w] &= !b;
                }
            }
        }
        let (w, b) = Self::bit(index);
        self.bits[w] |= b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_semantics() {
        let mut w = ReplayWindow::new(64);
        w.mark(0, 0);
        assert!(!w.check(0, 0));
        assert!(w.check(0, 1));
        w.mark(0, 5);
        assert!(w.check(5, 3), "gap inside the window is still open");
        w.mark(5, 3);
        assert!(!w.check(5, 3));
        w.mark(5, 200);
        assert!(!w.check(200, 136), "exactly window-size old is too old");
        assert!(w.check(200, 137));
        assert!(!w.check(200, 200));
        // A jump larger than the bitmap clears stale bits.
        w.mark(200, 200 + 1024 + 3);
        assert!(w.check(1227, 1227 - 1024 + 1024 - 1));
    }
}
