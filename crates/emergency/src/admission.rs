//! Admission for emergency calls and PSAP callbacks (TI-40, TI-42): which of the usual checks
//! they skip, and a share of the SBC's call capacity only they may use.
//!
//! Pure: the engine passes the current counts and flags and acts on the verdict.

use crate::config::AdmissionConfig;

/// What kind of call asks for admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallClass {
    /// Any other call.
    Normal,
    /// An emergency call (classified per TI-38).
    Emergency,
    /// A PSAP callback (TI-42, [`crate::ElinStore::is_callback`]).
    Callback,
}

/// The capacity split: `total_capacity` call slots, of which `reserved` only emergency calls
/// (and, if configured, callbacks) may use; emergency calls may go `overflow` beyond the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmergencyReserve {
    /// All call slots of the SBC (or of the instance).
    pub total_capacity: u32,
    /// Slots kept for emergency calls (clamped to the total).
    pub reserved: u32,
    /// Emergency calls admitted beyond the total.
    pub overflow: u32,
}

impl EmergencyReserve {
    /// Normal calls are admitted while fewer than this many calls are active.
    pub fn normal_limit(&self) -> u32 {
        self.total_capacity - self.reserved.min(self.total_capacity)
    }

    /// Emergency calls are admitted while fewer than this many calls are active.
    pub fn emergency_limit(&self) -> u32 {
        self.total_capacity.saturating_add(self.overflow)
    }
}

/// The current load, as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Load {
    /// Active non-emergency calls (callbacks included unless they use the reserve).
    pub active_normal: u32,
    /// Active emergency calls (and callbacks when they use the reserve).
    pub active_emergency: u32,
    /// The SBC is draining (no new calls except what this policy lets through).
    pub draining: bool,
    /// The overload controller would shed this call.
    pub shedding: bool,
}

/// Checks the call skips (all `false` for a normal call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bypass {
    /// Tenant concurrent-call limits.
    pub tenant_limits: bool,
    /// Trunk / gateway concurrent-call limits.
    pub trunk_limits: bool,
    /// Calls-per-second limits.
    pub cps_limits: bool,
    /// Number screening (calling/called number policies).
    pub screening: bool,
    /// Fraud blocks (destination blacklists, velocity rules).
    pub fraud_blocks: bool,
    /// Load shedding.
    pub load_shedding: bool,
    /// Draining.
    pub draining: bool,
}

impl Bypass {
    /// Nothing bypassed.
    pub const NONE: Bypass = Bypass {
        tenant_limits: false,
        trunk_limits: false,
        cps_limits: false,
        screening: false,
        fraud_blocks: false,
        load_shedding: false,
        draining: false,
    };
}

/// Why a call was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Capacity (for a normal call: the free share is used up; the rest is reserved).
    Capacity,
    /// Draining.
    Draining,
    /// Shed by the overload controller.
    Shedding,
}

impl Reject {
    /// The SIP status to answer with: 503 (RFC 3261 §21.5.4), with Retry-After left to the
    /// engine.
    pub fn status(self) -> u16 {
        503
    }
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Admit; skip the listed checks (the engine still applies every check not bypassed).
    Admit(Bypass),
    /// Reject.
    Reject(Reject),
}

/// The admission policy (immutable, from config plus the capacity the engine runs with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionPolicy {
    /// The capacity split.
    pub reserve: EmergencyReserve,
    /// Callbacks may use the reserve (and overflow) like emergency calls.
    pub callbacks_use_reserve: bool,
    /// Emergency calls and callbacks pass while draining.
    pub admit_while_draining: bool,
}

impl AdmissionPolicy {
    /// From the `[emergency.admission]` config and the engine's total call capacity.
    pub fn new(cfg: &AdmissionConfig, total_capacity: u32) -> AdmissionPolicy {
        AdmissionPolicy {
            reserve: EmergencyReserve {
                total_capacity,
                reserved: cfg.reserved_calls.min(total_capacity),
                overflow: cfg.overflow_calls,
            },
            callbacks_use_reserve: cfg.callbacks_use_reserve,
            admit_while_draining: cfg.admit_while_draining,
        }
    }

    /// Decides. Emergency calls (TI-40) and callbacks (TI-42) skip tenant/trunk/CPS limits,
    /// screening and fraud blocks and are never shed; they are admitted while draining when
    /// configured (the default), up to the total capacity plus the overflow. Normal calls use
    /// only the unreserved share and every check applies.
    pub fn admit(&self, class: CallClass, load: Load) -> Admission {
        let active = load.active_normal.saturating_add(load.active_emergency);
        let privileged = match class {
            CallClass::Normal => false,
            CallClass::Emergency => true,
            CallClass::Callback => self.callbacks_use_reserve,
        };
        if class == CallClass::Normal {
            if load.draining {
                return Admission::Reject(Reject::Draining);
            }
            if load.shedding {
                return Admission::Reject(Reject::Shedding);
            }
        } else if load.draining && !self.admit_while_draining {
            return Admission::Reject(Reject::Draining);
        }
        let limit = if privileged {
            self.reserve.emergency_limit()
        } else {
            self.reserve.normal_limit()
        };
        // Emergency calls occupy slots too: a normal call needs the total below the normal
        // limit, so the reserve is really free when an emergency call comes.
        if active >= limit {
            return Admission::Reject(Reject::Capacity);
        }
        if class == CallClass::Normal {
            return Admission::Admit(Bypass::NONE);
        }
        Admission::Admit(Bypass {
            tenant_limits: true,
            trunk_limits: true,
            cps_limits: true,
            screening: true,
            fraud_blocks: true,
            load_shedding: true,
            draining: load.draining,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(total: u32, reserved: u32, overflow: u32) -> AdmissionPolicy {
        AdmissionPolicy::new(
            &AdmissionConfig {
                reserved_calls: reserved,
                overflow_calls: overflow,
                ..AdmissionConfig::default()
            },
            total,
        )
    }

    fn load(n: u32, e: u32) -> Load {
        Load {
            active_normal: n,
            active_emergency: e,
            ..Load::default()
        }
    }

    #[test]
    fn reserve_is_for_emergency_only() {
        let p = policy(10, 2, 0);
        assert_eq!(
            p.admit(CallClass::Normal, load(7, 0)),
            Admission::Admit(Bypass::NONE)
        );
        assert_eq!(
            p.admit(CallClass::Normal, load(8, 0)),
            Admission::Reject(Reject::Capacity)
        );
        // Emergency calls occupying the free share count against normal calls as well.
        assert_eq!(
            p.admit(CallClass::Normal, load(6, 2)),
            Admission::Reject(Reject::Capacity)
        );
        assert!(
            matches!(p.admit(CallClass::Emergency, load(8, 0)), Admission::Admit(b) if b.screening && b.fraud_blocks && b.cps_limits && b.tenant_limits && b.trunk_limits)
        );
        assert!(matches!(
            p.admit(CallClass::Emergency, load(8, 1)),
            Admission::Admit(_)
        ));
        assert_eq!(
            p.admit(CallClass::Emergency, load(8, 2)),
            Admission::Reject(Reject::Capacity)
        );
        assert!(matches!(
            p.admit(CallClass::Callback, load(9, 0)),
            Admission::Admit(_)
        ));
    }

    #[test]
    fn overflow_and_clamping() {
        let p = policy(4, 10, 2);
        assert_eq!(p.reserve.reserved, 4);
        assert_eq!(p.reserve.normal_limit(), 0);
        assert_eq!(
            p.admit(CallClass::Normal, load(0, 0)),
            Admission::Reject(Reject::Capacity)
        );
        assert!(matches!(
            p.admit(CallClass::Emergency, load(0, 5)),
            Admission::Admit(_)
        ));
        assert_eq!(
            p.admit(CallClass::Emergency, load(0, 6)),
            Admission::Reject(Reject::Capacity)
        );
        let big = policy(u32::MAX, 0, u32::MAX);
        assert_eq!(big.reserve.emergency_limit(), u32::MAX);
        assert_eq!(
            big.admit(CallClass::Normal, load(u32::MAX, 5)),
            Admission::Reject(Reject::Capacity)
        );
    }

    #[test]
    fn draining_and_shedding() {
        let p = policy(10, 2, 0);
        let draining = Load {
            draining: true,
            ..Load::default()
        };
        let shedding = Load {
            shedding: true,
            ..Load::default()
        };
        assert_eq!(
            p.admit(CallClass::Normal, draining),
            Admission::Reject(Reject::Draining)
        );
        assert_eq!(
            p.admit(CallClass::Normal, shedding),
            Admission::Reject(Reject::Shedding)
        );
        assert!(
            matches!(p.admit(CallClass::Emergency, draining), Admission::Admit(b) if b.draining)
        );
        assert!(
            matches!(p.admit(CallClass::Emergency, shedding), Admission::Admit(b) if b.load_shedding && !b.draining)
        );
        assert!(matches!(
            p.admit(CallClass::Callback, shedding),
            Admission::Admit(_)
        ));
        let strict = AdmissionPolicy {
            admit_while_draining: false,
            ..p
        };
        assert_eq!(
            strict.admit(CallClass::Emergency, draining),
            Admission::Reject(Reject::Draining)
        );
        assert_eq!(Reject::Capacity.status(), 503);
    }

    #[test]
    fn callbacks_without_reserve_use_the_normal_share_but_bypass_checks() {
        let p = AdmissionPolicy {
            callbacks_use_reserve: false,
            ..policy(10, 2, 0)
        };
        assert_eq!(
            p.admit(CallClass::Callback, load(8, 0)),
            Admission::Reject(Reject::Capacity)
        );
        assert!(
            matches!(p.admit(CallClass::Callback, load(7, 0)), Admission::Admit(b) if b.screening && b.tenant_limits)
        );
    }
}
