//! Emergency classification (TI-38): per tenant / per country dial strings, dial masks and
//! `urn:service:sos*` (RFC 5031). Evaluated before any other policy (routing, screening,
//! limits), so it needs nothing but the Request-URI and To.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use sbc_sip::uri::Uri;

use crate::config::{CountryPlanConfig, EmergencyConfig, TenantEmergencyConfig};
use crate::number::{normalize_number, uri_number};

/// One country of the built-in plan: ISO 3166-1 alpha-2, E.164 country code, dial strings with
/// their RFC 5031 service (`""` = plain `sos`), and test strings.
struct Builtin {
    code: &'static str,
    cc: &'static str,
    dial: &'static [(&'static str, &'static str)],
    test: &'static [&'static str],
}

/// Built-in defaults (documented in docs/emergency.md). A configured `[[countries]]` entry with
/// the same code replaces the built-in one entirely; `builtin_countries = false` drops them.
const BUILTIN: &[Builtin] = &[
    Builtin {
        code: "US",
        cc: "1",
        dial: &[("911", "")],
        test: &["933"],
    },
    Builtin {
        code: "CA",
        cc: "1",
        dial: &[("911", "")],
        test: &[],
    },
    Builtin {
        code: "MX",
        cc: "52",
        dial: &[("911", "")],
        test: &[],
    },
    Builtin {
        code: "GB",
        cc: "44",
        dial: &[("999", ""), ("112", "")],
        test: &[],
    },
    Builtin {
        code: "IE",
        cc: "353",
        dial: &[("112", ""), ("999", "")],
        test: &[],
    },
    Builtin {
        code: "DE",
        cc: "49",
        dial: &[("112", ""), ("110", "police")],
        test: &[],
    },
    Builtin {
        code: "FR",
        cc: "33",
        dial: &[
            ("112", ""),
            ("15", "ambulance"),
            ("17", "police"),
            ("18", "fire"),
        ],
        test: &[],
    },
    Builtin {
        code: "IT",
        cc: "39",
        dial: &[
            ("112", ""),
            ("113", "police"),
            ("115", "fire"),
            ("118", "ambulance"),
        ],
        test: &[],
    },
    Builtin {
        code: "ES",
        cc: "34",
        dial: &[("112", ""), ("091", "police")],
        test: &[],
    },
    Builtin {
        code: "NL",
        cc: "31",
        dial: &[("112", "")],
        test: &[],
    },
    Builtin {
        code: "BE",
        cc: "32",
        dial: &[("112", ""), ("100", ""), ("101", "police")],
        test: &[],
    },
    Builtin {
        code: "CH",
        cc: "41",
        dial: &[
            ("112", ""),
            ("117", "police"),
            ("118", "fire"),
            ("144", "ambulance"),
        ],
        test: &[],
    },
    Builtin {
        code: "AT",
        cc: "43",
        dial: &[
            ("112", ""),
            ("122", "fire"),
            ("133", "police"),
            ("144", "ambulance"),
        ],
        test: &[],
    },
    Builtin {
        code: "SE",
        cc: "46",
        dial: &[("112", "")],
        test: &[],
    },
    Builtin {
        code: "NO",
        cc: "47",
        dial: &[("112", ""), ("110", "fire"), ("113", "ambulance")],
        test: &[],
    },
    Builtin {
        code: "DK",
        cc: "45",
        dial: &[("112", "")],
        test: &[],
    },
    Builtin {
        code: "FI",
        cc: "358",
        dial: &[("112", "")],
        test: &[],
    },
    Builtin {
        code: "PL",
        cc: "48",
        dial: &[
            ("112", ""),
            ("997", "police"),
            ("998", "fire"),
            ("999", "ambulance"),
        ],
        test: &[],
    },
    Builtin {
        code: "AU",
        cc: "61",
        dial: &[("000", ""), ("112", ""), ("106", "")],
        test: &[],
    },
    Builtin {
        code: "NZ",
        cc: "64",
        dial: &[("111", "")],
        test: &[],
    },
    Builtin {
        code: "JP",
        cc: "81",
        dial: &[("110", "police"), ("119", ""), ("118", "marine")],
        test: &[],
    },
    Builtin {
        code: "IN",
        cc: "91",
        dial: &[
            ("112", ""),
            ("100", "police"),
            ("101", "fire"),
            ("102", "ambulance"),
        ],
        test: &[],
    },
    Builtin {
        code: "BR",
        cc: "55",
        dial: &[("190", "police"), ("192", "ambulance"), ("193", "fire")],
        test: &[],
    },
    Builtin {
        code: "ZA",
        cc: "27",
        dial: &[("10111", "police"), ("10177", "ambulance"), ("112", "")],
        test: &[],
    },
    Builtin {
        code: "SG",
        cc: "65",
        dial: &[("999", "police"), ("995", "")],
        test: &[],
    },
    Builtin {
        code: "HK",
        cc: "852",
        dial: &[("999", "")],
        test: &[],
    },
    Builtin {
        code: "CN",
        cc: "86",
        dial: &[("110", "police"), ("119", "fire"), ("120", "ambulance")],
        test: &[],
    },
];

/// The configuration of the built-in plan for `code` (ISO alpha-2, case-insensitive).
pub fn builtin_country(code: &str) -> Option<CountryPlanConfig> {
    let b = BUILTIN.iter().find(|b| b.code.eq_ignore_ascii_case(code))?;
    Some(CountryPlanConfig {
        code: b.code.to_owned(),
        country_code: Some(b.cc.to_owned()),
        dial_strings: b.dial.iter().map(|(d, _)| (*d).to_owned()).collect(),
        test_dial_strings: b.test.iter().map(|d| (*d).to_owned()).collect(),
        services: b
            .dial
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(d, s)| ((*d).to_owned(), format!("sos.{s}")))
            .collect(),
        masks: Vec::new(),
        plus_form: false,
        country_prefix_form: false,
    })
}

/// Codes of every built-in country, in table order.
pub fn builtin_country_codes() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|b| b.code)
}

/// A configuration error (classification part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A dial string or mask that is not 1..=15 digits.
    BadDialString(String),
    /// A service that is not `sos` or `sos.<label>` (RFC 5031 §4.1).
    BadService(String),
    /// A country code that is not 1..=3 digits (E.164).
    BadCountryCode(String),
    /// A country referenced (default or tenant) that is neither configured nor built in.
    UnknownCountry(String),
    /// A mask whose target is not a dial string of the plan it belongs to.
    MaskTargetNotEmergency {
        /// The mask source.
        from: String,
        /// The mask target.
        to: String,
    },
    /// The same tenant id twice.
    DuplicateTenant(String),
    /// The same country code twice in `countries`.
    DuplicateCountry(String),
    /// A bad ELIN configuration (number, empty pool, duplicate key, element name).
    BadElin(String),
    /// A limit out of its allowed range.
    BadLimit(&'static str),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::BadDialString(s) => write!(f, "emergency: bad dial string {s:?}"),
            ConfigError::BadService(s) => {
                write!(f, "emergency: bad service {s:?} (sos or sos.<label>)")
            }
            ConfigError::BadCountryCode(s) => write!(f, "emergency: bad E.164 country code {s:?}"),
            ConfigError::UnknownCountry(s) => write!(f, "emergency: unknown country {s:?}"),
            ConfigError::MaskTargetNotEmergency { from, to } => {
                write!(
                    f,
                    "emergency: dial mask {from:?} -> {to:?}: target is not a dial string"
                )
            }
            ConfigError::DuplicateTenant(s) => {
                write!(f, "emergency: tenant {s:?} configured twice")
            }
            ConfigError::DuplicateCountry(s) => {
                write!(f, "emergency: country {s:?} configured twice")
            }
            ConfigError::BadElin(s) => write!(f, "emergency: ELIN: {s}"),
            ConfigError::BadLimit(s) => write!(f, "emergency: limit out of range: {s}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// How the call was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// A configured dial string (in one of its allowed forms).
    DialString,
    /// A dial mask: the dialed string is treated as the mask's target.
    Mask,
    /// An `urn:service:sos*` URI (RFC 5031).
    ServiceUrn,
}

/// Which input carried the emergency identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchSource {
    /// The Request-URI.
    RequestUri,
    /// The To URI.
    To,
}

/// An emergency call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emergency {
    /// The emergency dial string the call is for (`911`, `112`...): after masking. `None`
    /// for a service URN.
    pub dial_string: Option<String>,
    /// What was dialed, normalised (`+911`, `999`, `urn:service:sos.fire`).
    pub dialed: String,
    /// The RFC 5031 service URN (`urn:service:sos`, `urn:service:sos.police`), lower case.
    pub service_urn: String,
    /// The ISO country of the plan that matched (`US`); for a service URN, the tenant's.
    pub country: String,
    /// A test line (e.g. US `933`): routed like an emergency call, reported as a test.
    pub test: bool,
    /// Dial string, mask or URN.
    pub kind: MatchKind,
    /// Request-URI or To.
    pub source: MatchSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    dial_string: String,
    service_urn: String,
    test: bool,
    kind: MatchKind,
}

/// One compiled dial plan: every accepted form of every dial string and mask.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    country: String,
    forms: HashMap<String, Entry>,
}

fn check_digits(s: &str) -> Result<(), ConfigError> {
    if (1..=15).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ConfigError::BadDialString(s.to_owned()))
    }
}

/// `sos` or `sos.<label>[.<label>]` with RFC 5031 §4.1 `let-dig-hyp` labels; returns the URN.
fn service_urn(service: &str) -> Result<String, ConfigError> {
    let lower = service.to_ascii_lowercase();
    if is_sos_service(&lower) {
        Ok(format!("urn:service:{lower}"))
    } else {
        Err(ConfigError::BadService(service.to_owned()))
    }
}

/// True for `sos` and `sos.<sub>(.<sub>)*` (already lower-cased). RFC 5031 §4.1: labels of
/// letters, digits and hyphens, starting with a letter or digit.
fn is_sos_service(s: &str) -> bool {
    let mut labels = s.split('.');
    if labels.next() != Some("sos") {
        return false;
    }
    labels.all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && l.as_bytes()[0] != b'-'
    })
}

impl Plan {
    /// Compiles a country plan, with a tenant's additions on top (tenant masks override).
    fn compile(
        c: &CountryPlanConfig,
        tenant: Option<&TenantEmergencyConfig>,
    ) -> Result<Plan, ConfigError> {
        let cc = match &c.country_code {
            Some(cc) if (1..=3).contains(&cc.len()) && cc.bytes().all(|b| b.is_ascii_digit()) => {
                Some(cc.as_str())
            }
            Some(cc) => return Err(ConfigError::BadCountryCode(cc.clone())),
            None if c.country_prefix_form => {
                return Err(ConfigError::BadCountryCode(String::new()))
            }
            None => None,
        };
        let mut plan = Plan {
            country: c.code.to_ascii_uppercase(),
            forms: HashMap::new(),
        };
        let mut base: BTreeMap<String, Entry> = BTreeMap::new();
        let tenant_dial = tenant.map(|t| t.dial_strings.as_slice()).unwrap_or(&[]);
        let tenant_test = tenant
            .map(|t| t.test_dial_strings.as_slice())
            .unwrap_or(&[]);
        for (list, test) in [
            (c.dial_strings.as_slice(), false),
            (tenant_dial, false),
            (c.test_dial_strings.as_slice(), true),
            (tenant_test, true),
        ] {
            for d in list {
                check_digits(d)?;
                let service = match c.services.get(d) {
                    Some(s) => service_urn(s)?,
                    None => "urn:service:sos".to_owned(),
                };
                base.insert(
                    d.clone(),
                    Entry {
                        dial_string: d.clone(),
                        service_urn: service,
                        test,
                        kind: MatchKind::DialString,
                    },
                );
            }
        }
        for d in c.services.keys() {
            if !base.contains_key(d) {
                return Err(ConfigError::BadDialString(d.clone()));
            }
        }
        let mut all = base.clone();
        let tenant_masks = tenant.map(|t| t.masks.as_slice()).unwrap_or(&[]);
        for m in c.masks.iter().chain(tenant_masks) {
            check_digits(&m.from)?;
            let target = base
                .get(&m.to)
                .ok_or_else(|| ConfigError::MaskTargetNotEmergency {
                    from: m.from.clone(),
                    to: m.to.clone(),
                })?;
            let mut e = target.clone();
            e.kind = MatchKind::Mask;
            // Later masks (tenant after country) override: the tenant knows its own plan.
            all.insert(m.from.clone(), e);
        }
        for (digits, entry) in all {
            if c.country_prefix_form {
                if let Some(cc) = cc {
                    plan.forms.insert(format!("+{cc}{digits}"), entry.clone());
                }
            }
            if c.plus_form {
                plan.forms.insert(format!("+{digits}"), entry.clone());
            }
            plan.forms.insert(digits, entry);
        }
        Ok(plan)
    }

    fn lookup(&self, number: &str) -> Option<&Entry> {
        self.forms.get(number)
    }
}

/// The compiled, immutable classification policy (rebuilt on every config reload).
#[derive(Debug, Clone)]
pub struct Classifier {
    default: Plan,
    tenants: HashMap<String, Plan>,
}

/// Every country plan the configuration defines: built-ins (unless disabled) replaced by
/// configured countries with the same code.
pub(crate) fn country_table(
    cfg: &EmergencyConfig,
) -> Result<BTreeMap<String, CountryPlanConfig>, ConfigError> {
    let mut countries = BTreeMap::new();
    if cfg.builtin_countries {
        for code in builtin_country_codes() {
            if let Some(c) = builtin_country(code) {
                countries.insert(code.to_owned(), c);
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for c in &cfg.countries {
        let code = c.code.to_ascii_uppercase();
        if !seen.insert(code.clone()) {
            return Err(ConfigError::DuplicateCountry(code));
        }
        countries.insert(code, c.clone());
    }
    Ok(countries)
}

impl Classifier {
    /// Compiles the configuration.
    pub fn new(cfg: &EmergencyConfig) -> Result<Classifier, ConfigError> {
        let countries = country_table(cfg)?;
        let get = |code: &str| {
            countries
                .get(&code.to_ascii_uppercase())
                .ok_or_else(|| ConfigError::UnknownCountry(code.to_owned()))
        };
        // Every configured country must compile even when no tenant uses it (fail at load).
        for c in countries.values() {
            Plan::compile(c, None)?;
        }
        let default = Plan::compile(get(&cfg.default_country)?, None)?;
        let mut tenants = HashMap::new();
        for t in &cfg.tenants {
            let country = t.country.as_deref().unwrap_or(&cfg.default_country);
            let plan = Plan::compile(get(country)?, Some(t))?;
            if tenants.insert(t.id.clone(), plan).is_some() {
                return Err(ConfigError::DuplicateTenant(t.id.clone()));
            }
        }
        Ok(Classifier { default, tenants })
    }

    /// The plan's country for `tenant` (the default country for an unknown tenant).
    pub fn country(&self, tenant: &str) -> &str {
        &self.plan(tenant).country
    }

    fn plan(&self, tenant: &str) -> &Plan {
        // An unknown tenant still gets the default plan: an emergency call is never missed
        // because the tenant is not (yet) configured (TI-38).
        self.tenants.get(tenant).unwrap_or(&self.default)
    }

    /// Classifies a request: the Request-URI first, then To. `None` when not an emergency
    /// call. `tenant` is the tenant the call came from (unknown tenants use the default plan).
    pub fn classify(
        &self,
        tenant: &str,
        request_uri: &Uri<'_>,
        to: Option<&Uri<'_>>,
    ) -> Option<Emergency> {
        let plan = self.plan(tenant);
        self.classify_one(plan, request_uri, MatchSource::RequestUri)
            .or_else(|| to.and_then(|u| self.classify_one(plan, u, MatchSource::To)))
    }

    fn classify_one(&self, plan: &Plan, uri: &Uri<'_>, source: MatchSource) -> Option<Emergency> {
        if let Some(urn) = sos_urn(uri) {
            return Some(Emergency {
                dial_string: None,
                dialed: urn.clone(),
                service_urn: urn,
                country: plan.country.clone(),
                test: false,
                kind: MatchKind::ServiceUrn,
                source,
            });
        }
        let number = uri_number(uri)?;
        let e = plan.lookup(&number)?;
        Some(Emergency {
            dial_string: Some(e.dial_string.clone()),
            dialed: number,
            service_urn: e.service_urn.clone(),
            country: plan.country.clone(),
            test: e.test,
            kind: e.kind,
            source,
        })
    }

    /// Classifies a bare number (e.g. from a header the engine already decoded).
    pub fn classify_number(&self, tenant: &str, number: &[u8]) -> Option<Emergency> {
        let plan = self.plan(tenant);
        let number = normalize_number(number)?;
        let e = plan.lookup(&number)?;
        Some(Emergency {
            dial_string: Some(e.dial_string.clone()),
            dialed: number,
            service_urn: e.service_urn.clone(),
            country: plan.country.clone(),
            test: e.test,
            kind: e.kind,
            source: MatchSource::RequestUri,
        })
    }
}

/// `urn:service:sos` or `urn:service:sos.<sub>` (RFC 5031 §3/§4.1; compared case-insensitively,
/// URN NID and service labels are case-insensitive), lower-cased. Other service URNs (e.g.
/// `urn:service:counseling`) are not emergency calls.
pub fn sos_urn(uri: &Uri<'_>) -> Option<String> {
    let Uri::Absolute(a) = uri else { return None };
    if !a.scheme.eq_ignore_ascii_case(b"urn") {
        return None;
    }
    let rest = std::str::from_utf8(a.rest).ok()?.to_ascii_lowercase();
    let service = rest.strip_prefix("service:")?;
    is_sos_service(service).then(|| format!("urn:service:{service}"))
}
