//! Emergency calls for a Teams Direct Routing carrier SBC (TI-38..TI-42), the pure parts:
//!
//! * [`Classifier`]: is this INVITE an emergency call (dial strings, masks, `urn:service:sos*`)?
//!   Evaluated before any other policy (TI-38).
//! * [`extract_location`]: what location the INVITE carries (Geolocation values, cid
//!   resolution, PIDF-LO method), never failing the call and never logging an address (TI-39).
//! * [`replace_sdp`] / [`locate_sdp`]: rewrite only the SDP part of a `multipart/mixed` body,
//!   every other byte kept (TI-39).
//! * [`ElinPlan`] + [`ElinStore`]: ELIN substitution and PSAP callbacks (TI-41, TI-42).
//! * [`AdmissionPolicy`]: bypasses and the reserved capacity share (TI-40, TI-42).
//!
//! [`EmergencyPolicy`] bundles the immutable parts compiled from [`EmergencyConfig`]; the
//! [`ElinStore`] is separate mutable state that outlives reloads. No I/O, no clock, no RNG:
//! time comes in as `now_ms`. docs/emergency.md describes the integration.

pub mod admission;
pub mod classify;
pub mod config;
pub mod elin;
pub mod location;
pub mod number;
pub mod pidf;
pub mod replace;

pub use admission::{
    Admission, AdmissionPolicy, Bypass, CallClass, EmergencyReserve, Load, Reject,
};
pub use classify::{sos_urn, Classifier, ConfigError, Emergency, MatchKind, MatchSource};
pub use config::{
    AdmissionConfig, CallbackConfig, CountryPlanConfig, DialMask, ElinConfig, ElinLocationConfig,
    EmergencyConfig, LocationConfig, TenantEmergencyConfig,
};
pub use elin::{Callback, ElinPlan, ElinSource, ElinStore, PresentedCaller, StoreStats};
pub use location::{
    extract_location, LocationInfo, LocationOptions, LocationProblem, LocationRef, LocationStatus,
    LocationValue, ResolvedPart, Routing,
};
pub use pidf::{scan_pidf, PidfError, PidfSummary, Redacted, ScanOptions};
pub use replace::{locate_sdp, replace_sdp, SdpLocation, Unchanged};

use sbc_sip::uri::Uri;

/// Everything immutable the engine needs, compiled and validated from [`EmergencyConfig`].
/// Rebuild it on reload and swap it in; keep the [`ElinStore`].
#[derive(Debug, Clone)]
pub struct EmergencyPolicy {
    classifier: Classifier,
    elin: ElinPlan,
    location: LocationConfig,
    callback: CallbackConfig,
    admission: AdmissionConfig,
}

impl EmergencyPolicy {
    /// Validates and compiles the configuration.
    pub fn new(cfg: &EmergencyConfig) -> Result<EmergencyPolicy, ConfigError> {
        if !(1..=86_400).contains(&cfg.callback.window_secs) {
            return Err(ConfigError::BadLimit("callback.window_secs (1..=86400)"));
        }
        if !(1..=1_000_000).contains(&cfg.callback.max_entries) {
            return Err(ConfigError::BadLimit("callback.max_entries (1..=1000000)"));
        }
        if !(1..=location::PART_TABLE).contains(&cfg.location.max_parts) {
            return Err(ConfigError::BadLimit("location.max_parts (1..=64)"));
        }
        if !(256..=1 << 20).contains(&cfg.location.max_pidf_bytes) {
            return Err(ConfigError::BadLimit(
                "location.max_pidf_bytes (256..=1048576)",
            ));
        }
        Ok(EmergencyPolicy {
            classifier: Classifier::new(cfg)?,
            elin: ElinPlan::new(cfg)?,
            location: cfg.location,
            callback: cfg.callback,
            admission: cfg.admission,
        })
    }

    /// TI-38: classifies by Request-URI, then To.
    pub fn classify(
        &self,
        tenant: &str,
        request_uri: &Uri<'_>,
        to: Option<&Uri<'_>>,
    ) -> Option<Emergency> {
        self.classifier.classify(tenant, request_uri, to)
    }

    /// The classifier.
    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// The ELIN plan.
    pub fn elin(&self) -> &ElinPlan {
        &self.elin
    }

    /// Location scan options for `tenant` (its ELIN elements, the configured limits).
    pub fn location_options(&self, tenant: &str) -> LocationOptions<'_> {
        let (key_element, elin_element) = self.elin.elements(tenant);
        LocationOptions {
            max_pidf_bytes: self.location.max_pidf_bytes,
            max_parts: self.location.max_parts,
            key_element,
            elin_element,
        }
    }

    /// Callback window and store bound (for [`ElinStore::new`] / [`ElinStore::reconfigure`]).
    pub fn callback_config(&self) -> &CallbackConfig {
        &self.callback
    }

    /// The admission policy for an engine with `total_capacity` call slots.
    pub fn admission(&self, total_capacity: u32) -> AdmissionPolicy {
        AdmissionPolicy::new(&self.admission, total_capacity)
    }
}
