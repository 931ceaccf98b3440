//! Configuration (serde, `deny_unknown_fields`), to be embedded by the main config as an
//! `[emergency]` table. Everything has a default, so an empty table is valid: US plan, the
//! built-in country table, no ELIN, a one-hour callback window.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The `[emergency]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyConfig {
    /// The country plan for tenants without one and for unknown tenants (ISO alpha-2).
    #[serde(default = "default_country")]
    pub default_country: String,
    /// Load the built-in country table (docs/emergency.md) under the configured countries.
    #[serde(default = "yes")]
    pub builtin_countries: bool,
    /// Country plans; one with a built-in code replaces the built-in entry.
    #[serde(default)]
    pub countries: Vec<CountryPlanConfig>,
    /// Per-tenant settings.
    #[serde(default)]
    pub tenants: Vec<TenantEmergencyConfig>,
    /// Location (PIDF-LO) scan limits.
    #[serde(default)]
    pub location: LocationConfig,
    /// Callback window and store size (TI-41, TI-42).
    #[serde(default)]
    pub callback: CallbackConfig,
    /// Reserved capacity and bypasses (TI-40).
    #[serde(default)]
    pub admission: AdmissionConfig,
}

impl Default for EmergencyConfig {
    fn default() -> Self {
        EmergencyConfig {
            default_country: default_country(),
            builtin_countries: true,
            countries: Vec::new(),
            tenants: Vec::new(),
            location: LocationConfig::default(),
            callback: CallbackConfig::default(),
            admission: AdmissionConfig::default(),
        }
    }
}

fn default_country() -> String {
    "US".to_owned()
}

fn yes() -> bool {
    true
}

/// One country's dial plan.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryPlanConfig {
    /// ISO 3166-1 alpha-2 (`US`).
    pub code: String,
    /// E.164 country code without `+` (`1`); needed by `country_prefix_form`.
    #[serde(default)]
    pub country_code: Option<String>,
    /// Emergency dial strings, digits only, without `+` (TI-38).
    pub dial_strings: Vec<String>,
    /// Test lines (US `933`): classified as emergency with `test = true`.
    #[serde(default)]
    pub test_dial_strings: Vec<String>,
    /// Dial string -> RFC 5031 service (`sos.police`); absent = `sos`.
    #[serde(default)]
    pub services: BTreeMap<String, String>,
    /// Dial masks: `from` is treated as the dial string `to`.
    #[serde(default)]
    pub masks: Vec<DialMask>,
    /// Also accept `+<dial string>` (some tenant normalisation rules add a `+`).
    #[serde(default)]
    pub plus_form: bool,
    /// Also accept `+<country code><dial string>`.
    #[serde(default)]
    pub country_prefix_form: bool,
}

/// A dial mask (Teams "emergency dial mask"): `from` is treated as `to`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialMask {
    /// What the user dials (digits).
    pub from: String,
    /// The emergency dial string it stands for (must be one of the plan's).
    pub to: String,
}

/// Per-tenant emergency settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantEmergencyConfig {
    /// Tenant id, as the call engine names tenants.
    pub id: String,
    /// Country plan (default: `default_country`).
    #[serde(default)]
    pub country: Option<String>,
    /// Extra dial strings on top of the country's.
    #[serde(default)]
    pub dial_strings: Vec<String>,
    /// Extra test lines.
    #[serde(default)]
    pub test_dial_strings: Vec<String>,
    /// Extra masks (override the country's for the same `from`).
    #[serde(default)]
    pub masks: Vec<DialMask>,
    /// ELIN mode (TI-41); absent = off (the caller's own number is presented).
    #[serde(default)]
    pub elin: Option<ElinConfig>,
}

/// ELIN mode for one tenant (TI-41).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElinConfig {
    /// The PIDF-LO element (local name, namespace prefix ignored) whose text is the location
    /// key looked up in `locations`. Default `LOC` (RFC 5139 civic "additional location
    /// information", where LIS entries typically name the building/floor/room).
    #[serde(default = "default_location_element")]
    pub location_element: String,
    /// A PIDF-LO element (local name) that carries the ELIN itself ("carried in the location",
    /// TI-41), used before the configured map. Absent = not looked for.
    #[serde(default)]
    pub carried_element: Option<String>,
    /// The ELIN pool used when the location is unknown or not configured. May be empty (then
    /// the caller's own number is kept).
    #[serde(default)]
    pub default_elins: Vec<String>,
    /// Location key -> ELIN pool.
    #[serde(default)]
    pub locations: Vec<ElinLocationConfig>,
}

fn default_location_element() -> String {
    "LOC".to_owned()
}

/// One configured location and its ELIN pool.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElinLocationConfig {
    /// The text of `location_element` (compared after trimming, case-sensitive).
    pub key: String,
    /// ELINs (E.164 with `+`, or national digits); several let concurrent callers from one
    /// location get distinct callback numbers (least recently used first).
    pub elins: Vec<String>,
}

/// PIDF-LO scan limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationConfig {
    /// Larger PIDF-LO parts are not scanned (reported "present, unknown") but still relayed.
    #[serde(default = "default_max_pidf_bytes")]
    pub max_pidf_bytes: usize,
    /// Most body parts parsed (1..=64).
    #[serde(default = "default_max_parts")]
    pub max_parts: usize,
}

impl Default for LocationConfig {
    fn default() -> Self {
        LocationConfig {
            max_pidf_bytes: default_max_pidf_bytes(),
            max_parts: default_max_parts(),
        }
    }
}

fn default_max_pidf_bytes() -> usize {
    64 * 1024
}

fn default_max_parts() -> usize {
    16
}

/// Callback window and store bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackConfig {
    /// How long after an emergency call a callback is recognised (seconds, 1..=86400).
    #[serde(default = "default_window_secs")]
    pub window_secs: u64,
    /// Most remembered callers (and ELIN bindings); the oldest is evicted beyond it.
    #[serde(default = "default_max_entries")]
    pub max_entries: usize,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        CallbackConfig {
            window_secs: default_window_secs(),
            max_entries: default_max_entries(),
        }
    }
}

fn default_window_secs() -> u64 {
    3600
}

fn default_max_entries() -> usize {
    10_000
}

/// Emergency admission (TI-40, TI-42).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmissionConfig {
    /// Call slots of the SBC's total capacity that only emergency calls may use.
    #[serde(default)]
    pub reserved_calls: u32,
    /// Emergency calls admitted beyond the total capacity (0 = none beyond).
    #[serde(default = "default_overflow")]
    pub overflow_calls: u32,
    /// PSAP callbacks may use the reserved share too (TI-42).
    #[serde(default = "yes")]
    pub callbacks_use_reserve: bool,
    /// Emergency calls and callbacks are admitted while the SBC drains.
    #[serde(default = "yes")]
    pub admit_while_draining: bool,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        AdmissionConfig {
            reserved_calls: 0,
            overflow_calls: default_overflow(),
            callbacks_use_reserve: true,
            admit_while_draining: true,
        }
    }
}

fn default_overflow() -> u32 {
    0
}
