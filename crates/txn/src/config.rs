//! Timer values (RFC 3261 §17.1.1.1, Table 4 in Appendix A; RFC 6026 §8.4, §8.7) and
//! endpoint limits.

use core::fmt;
use core::time::Duration;

/// Transaction-layer configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// T1, the RTT estimate (default 500 ms). A, E and G start at T1; B, F, H, J, L and M
    /// are 64*T1.
    pub t1: Duration,
    /// T2, the cap on non-INVITE request and INVITE response retransmit intervals
    /// (default 4 s).
    pub t2: Duration,
    /// T4, the longest a message stays in the network (default 5 s): timers I and K on
    /// unreliable transports.
    pub t4: Duration,
    /// Timer D on unreliable transports ("at least 32 seconds", §17.1.1.2; default 32 s).
    pub timer_d: Duration,
    /// Most live transactions; [`crate::Endpoint::accept`] and
    /// [`crate::Endpoint::send_request`] fail beyond it (overload is answered with 503,
    /// never with memory). Default 1 048 576.
    pub max_transactions: usize,
    /// Send `100 Trying` as soon as an INVITE server transaction is accepted. RFC 3261
    /// §17.2.1 asks for it only when the TU will not answer within 200 ms; an SBC that
    /// forwards the INVITE never answers that fast, so the default is `true`.
    pub trying_on_accept: bool,
    /// Seed mixed into the To tags of stateless responses ([`crate::Endpoint::reject`]).
    /// Injected like every other source of variation (principle 4); per-node random in
    /// production, fixed in tests.
    pub tag_seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_d: Duration::from_secs(32),
            max_transactions: 1 << 20,
            trying_on_accept: true,
            tag_seed: 0,
        }
    }
}

impl Config {
    /// Checks the values can drive the state machines (no zero retransmit interval).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.t1.is_zero() {
            return Err(ConfigError::ZeroT1);
        }
        if self.t2 < self.t1 {
            return Err(ConfigError::T2BelowT1);
        }
        if self.t4.is_zero() {
            return Err(ConfigError::ZeroT4);
        }
        if self.max_transactions == 0 || self.max_transactions > u32::MAX as usize {
            return Err(ConfigError::BadCapacity);
        }
        Ok(())
    }

    /// 64*T1: timers B, F, H, J (unreliable), L and M.
    #[inline]
    pub fn t1x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}

/// A configuration the endpoint refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    /// T1 is zero (retransmissions would spin).
    ZeroT1,
    /// T2 is below T1.
    T2BelowT1,
    /// T4 is zero.
    ZeroT4,
    /// `max_transactions` is zero or does not fit a 32-bit handle.
    BadCapacity,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigError::ZeroT1 => "T1 must be greater than zero",
            ConfigError::T2BelowT1 => "T2 must not be below T1",
            ConfigError::ZeroT4 => "T4 must be greater than zero",
            ConfigError::BadCapacity => "max_transactions must be within 1..=u32::MAX",
        })
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert_eq!(Config::default().validate(), Ok(()));
        assert_eq!(Config::default().t1x64(), Duration::from_secs(32));
        let bad = |f: fn(&mut Config)| {
            let mut c = Config::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert_eq!(bad(|c| c.t1 = Duration::ZERO), ConfigError::ZeroT1);
        assert_eq!(
            bad(|c| c.t2 = Duration::from_millis(100)),
            ConfigError::T2BelowT1
        );
        assert_eq!(bad(|c| c.t4 = Duration::ZERO), ConfigError::ZeroT4);
        assert_eq!(bad(|c| c.max_transactions = 0), ConfigError::BadCapacity);
        assert!(!ConfigError::ZeroT1.to_string().is_empty());
    }
}
