//! The Teams trunk, gateway groups and tenants (issue 5, spec `teams-interop.md`).
//!
//! Parsing stays pure: a tenant's large number inventory lives in a CSV file whose *contents*
//! are handed to [`parse_numbers_csv`] / [`crate::Config::load_number_files`] by the caller.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use crate::{Config, ConfigError};

/// Microsoft's Direct Routing proxies, in order of preference (TI-3).
pub const DEFAULT_EDGES: [&str; 3] = [
    "sip.pstnhub.microsoft.com",
    "sip2.pstnhub.microsoft.com",
    "sip3.pstnhub.microsoft.com",
];

/// Microsoft's SIP signalling ranges (TI-4 defaults).
pub const DEFAULT_MICROSOFT_RANGES: [&str; 2] = ["52.112.0.0/14", "52.120.0.0/14"];

/// Most members in one gateway group (bounds the per-call target list, no allocation).
pub const MAX_GROUP_MEMBERS: usize = 16;

/// Longest E.164 number: 15 digits (ITU-T E.164 §6).
const E164_MAX_DIGITS: usize = 15;

/// The Teams Direct Routing / Operator Connect trunk (`[teams]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Teams {
    /// The carrier base FQDN (`sbc.carrier.example`); tenants are `<label>.<base>` (TI-6).
    pub base_fqdn: Spanned<String>,
    /// Microsoft edge targets in order of preference (TI-3). Default: sip, sip2, sip3
    /// `.pstnhub.microsoft.com` on port 5061, resolved by DNS.
    #[serde(default = "default_edges")]
    pub edges: Vec<Edge>,
    /// TLS profile (SBC identity + Microsoft trust bundle) used both ways (TI-5).
    pub tls: Spanned<String>,
    /// Sources accepted on the Teams listener (TI-4).
    #[serde(default = "default_ranges")]
    pub source_ranges: Vec<IpNet>,
    /// `X-MS-SBC` value (TI-17); default: `node.product`.
    #[serde(default)]
    pub x_ms_sbc: Option<String>,
    /// OPTIONS interval toward each edge, seconds (TI-9: 60).
    #[serde(default = "default_options_interval")]
    pub options_interval_s: u32,
    /// The SBC's port in Contact and OPTIONS (TI-9, TI-14).
    #[serde(default = "default_tls_port")]
    pub sbc_port: u16,
    /// Who performs transfers (TI-26).
    #[serde(default)]
    pub refer: ReferMode,
    /// Send the OPTIONS keep-alives to the edges (TI-9). Only a lab whose "edge" is a test
    /// tool that cannot answer them turns this off: Microsoft demotes a silent trunk.
    #[serde(default = "yes")]
    pub send_options: bool,
}

impl Teams {
    /// The `X-MS-SBC` value: the configured one or `node.product`.
    pub fn x_ms_sbc<'a>(&'a self, cfg: &'a Config) -> &'a str {
        self.x_ms_sbc.as_deref().unwrap_or(&cfg.node.product)
    }
}

fn default_edges() -> Vec<Edge> {
    DEFAULT_EDGES
        .iter()
        .map(|h| Edge {
            host: Spanned::new(0..0, (*h).to_owned()),
            port: default_tls_port(),
            address: None,
        })
        .collect()
}

fn default_ranges() -> Vec<IpNet> {
    DEFAULT_MICROSOFT_RANGES
        .iter()
        .filter_map(|r| r.parse().ok())
        .collect()
}

fn default_options_interval() -> u32 {
    60
}

fn default_tls_port() -> u16 {
    5061
}

/// One Microsoft edge target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// The proxy's name: SNI, OPTIONS Request-URI host (TI-6, TI-9).
    pub host: Spanned<String>,
    /// Port (TI-3: 5061).
    #[serde(default = "default_tls_port")]
    pub port: u16,
    /// A static address instead of DNS (labs: SIPp behind stunnel on loopback). Production
    /// leaves it out: TI-3 forbids pinning Microsoft's addresses.
    #[serde(default)]
    pub address: Option<SocketAddr>,
}

/// Who performs call transfers (TI-26).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReferMode {
    /// List REFER in Allow (TI-16); the SBC answers 202, sends NOTIFY and places the new
    /// INVITE toward Microsoft (TI-26).
    #[default]
    Handle,
    /// Leave REFER out of Allow: Microsoft performs the transfer itself.
    Microsoft,
}

/// OPTIONS probing of a gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptionsProbe {
    /// Seconds between probes.
    pub interval_s: u32,
    /// Consecutive answered probes that bring a down gateway up.
    pub up_threshold: u32,
    /// Consecutive failed probes that take an up gateway down.
    pub down_threshold: u32,
}

impl Default for OptionsProbe {
    fn default() -> Self {
        OptionsProbe {
            interval_s: 30,
            up_threshold: 2,
            down_threshold: 3,
        }
    }
}

/// How a gateway writes numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NumberStyle {
    /// `+<cc><nsn>` (what Teams needs, TI-12).
    #[default]
    E164,
    /// `<cc><nsn>` without `+`.
    E164NoPlus,
    /// Domestic numbers as `<national_prefix><nsn>`, others as `<international_prefix><cc><nsn>`.
    National,
}

/// Number conversion rules of a gateway (E.164 <-> the gateway's format).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NumberFormat {
    /// The gateway's style.
    pub style: NumberStyle,
    /// The country code of "national" numbers (digits, no `+`); needed for `national`.
    pub country_code: Option<String>,
    /// Trunk prefix of national numbers (`0` in most of Europe, empty in NANP).
    pub national_prefix: String,
    /// International access prefix (`00`, `011`).
    pub international_prefix: String,
    /// Removed from numbers arriving from the gateway when present (technical prefixes).
    pub strip_prefix: String,
    /// Added in front of numbers sent to the gateway.
    pub add_prefix: String,
}

impl Default for NumberFormat {
    fn default() -> Self {
        NumberFormat {
            style: NumberStyle::E164,
            country_code: None,
            national_prefix: String::new(),
            international_prefix: "00".into(),
            strip_prefix: String::new(),
            add_prefix: String::new(),
        }
    }
}

/// Reliable provisional responses (RFC 3262) toward a gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rel100 {
    /// `Supported: 100rel`.
    #[default]
    Supported,
    /// `Require: 100rel`.
    Required,
    /// Neither (strip 100rel).
    Disabled,
}

/// How forwarding information is passed to a gateway (TI-28).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Forwarding {
    /// Pass History-Info (RFC 7044) as Microsoft sent it.
    #[default]
    HistoryInfo,
    /// Turn History-Info into Diversion (RFC 5806).
    Diversion,
}

/// A gateway group: targets chosen by priority, then by weight within a priority.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayGroup {
    /// Name (unique).
    pub name: Spanned<String>,
    /// Members.
    pub members: Vec<GroupMember>,
    /// Most gateways tried per call (default: all members).
    #[serde(default)]
    pub max_attempts: Option<usize>,
}

/// One member of a gateway group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupMember {
    /// A `[[gateway]]` name.
    pub gateway: Spanned<String>,
    /// Lower is tried first.
    #[serde(default = "one")]
    pub priority: u32,
    /// Share of calls among members of the same priority (> 0).
    #[serde(default = "hundred")]
    pub weight: u32,
}

fn one() -> u32 {
    1
}
fn hundred() -> u32 {
    100
}

/// A Microsoft 365 tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// Identifier (unique; CDRs, metrics).
    pub id: Spanned<String>,
    /// DNS labels under the base FQDN (`contoso` -> `contoso.<base>`, TI-19).
    #[serde(default)]
    pub subdomains: Vec<Spanned<String>>,
    /// Operator Connect tenant GUID (`X-MS-TenantID`, TI-19).
    #[serde(default)]
    pub operator_connect_guid: Option<Spanned<String>>,
    /// Numbers (`+14255550100`) and ranges (`+14255550200-+14255550299`).
    #[serde(default)]
    pub numbers: Vec<Spanned<String>>,
    /// A CSV file with more numbers (see [`parse_numbers_csv`]); read by the caller.
    #[serde(default)]
    pub numbers_file: Option<PathBuf>,
    /// Reject calls from Teams whose calling number the tenant does not hold (TI-20, 403).
    #[serde(default = "yes")]
    pub screen_calling: bool,
    /// Concurrent calls of this tenant.
    #[serde(default)]
    pub max_calls: Option<u32>,
    /// New calls per second of this tenant.
    #[serde(default)]
    pub max_cps: Option<u32>,
    /// Prefix routes toward the PSTN (longest prefix wins).
    #[serde(default)]
    pub routes: Vec<TenantRoute>,
    /// Group used when no prefix matches.
    #[serde(default)]
    pub default_group: Option<Spanned<String>>,
    /// Emergency policy name (TI-38..TI-42).
    #[serde(default)]
    pub emergency_policy: Option<String>,
    /// The gateway group emergency calls of this tenant go to (the emergency routing
    /// service provider or PSAP gateways, TI-40), tried in its own failover order. Without
    /// one, emergency calls take the tenant's ordinary routes.
    #[serde(default)]
    pub emergency_group: Option<Spanned<String>>,
    /// Overrides `teams.refer`.
    #[serde(default)]
    pub refer: Option<ReferMode>,
    /// Overrides `teams.tls` (a tenant with its own certificate).
    #[serde(default)]
    pub tls: Option<Spanned<String>>,
    /// The parsed inventory: inline `numbers`, then the file's (after
    /// [`Config::load_number_files`]).
    #[serde(skip)]
    pub inventory: Vec<NumberRange>,
    /// True once `numbers_file` was read.
    #[serde(skip)]
    pub numbers_file_loaded: bool,
}

fn yes() -> bool {
    true
}

/// One route of a tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantRoute {
    /// `+` and 1..15 digits.
    pub prefix: Spanned<String>,
    /// A `[[gateway_group]]` name.
    pub group: Spanned<String>,
    /// Among routes with the same prefix, lower is tried first.
    #[serde(default = "one")]
    pub priority: u32,
    /// Among routes with the same prefix and priority, share of calls.
    #[serde(default = "hundred")]
    pub weight: u32,
}

/// A number or a range of numbers of the same length, E.164 digits without `+`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberRange {
    /// Digit count (1..=15).
    pub digits: u8,
    /// First number, as an integer.
    pub first: u64,
    /// Last number (inclusive).
    pub last: u64,
    /// 1-based line where it was written.
    pub line: usize,
    /// True when it came from the tenant's `numbers_file` (else from the config file).
    pub in_file: bool,
}

impl NumberRange {
    /// A key that orders numbers by length, then value: same-length ranges are contiguous.
    pub fn key_first(&self) -> u64 {
        number_key(self.digits, self.first)
    }
    /// See [`NumberRange::key_first`].
    pub fn key_last(&self) -> u64 {
        number_key(self.digits, self.last)
    }
    /// How many numbers.
    pub fn count(&self) -> u64 {
        self.last - self.first + 1
    }
}

/// `digits` in the top bits, the value below (10^15 < 2^50).
pub(crate) fn number_key(digits: u8, value: u64) -> u64 {
    (u64::from(digits) << 50) | value
}

fn e164_str(n: u64, digits: u8) -> String {
    format!("+{n:0width$}", width = usize::from(digits))
}

impl std::fmt::Display for NumberRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "{}", e164_str(self.first, self.digits))
        } else {
            write!(
                f,
                "{}-{}",
                e164_str(self.first, self.digits),
                e164_str(self.last, self.digits)
            )
        }
    }
}

/// `+` then 1..=15 digits, the first not 0 (no country code starts with 0).
fn parse_e164(s: &str) -> Result<(u8, u64), String> {
    let d = s
        .strip_prefix('+')
        .ok_or_else(|| format!("'{s}' is not E.164: it must start with '+'"))?;
    if d.is_empty() || d.len() > E164_MAX_DIGITS {
        return Err(format!("'{s}' is not E.164: 1 to 15 digits after '+'"));
    }
    if !d.bytes().all(|b| b.is_ascii_digit()) || d.starts_with('0') {
        return Err(format!(
            "'{s}' is not E.164: digits only, and a country code never starts with 0"
        ));
    }
    // At most 15 digits always fit in a u64.
    let v = d.parse::<u64>().map_err(|e| format!("'{s}': {e}"))?;
    Ok((d.len() as u8, v))
}

/// Parses `+N` or `+A-+B` (same length, A <= B).
fn parse_range(s: &str, line: usize, in_file: bool) -> Result<NumberRange, String> {
    let s = s.trim();
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (s, s),
    };
    let (da, fa) = parse_e164(a)?;
    let (db, fb) = parse_e164(b)?;
    if da != db {
        return Err(format!(
            "range '{s}': both ends need the same number of digits"
        ));
    }
    if fa > fb {
        return Err(format!("range '{s}': the first number is after the last"));
    }
    Ok(NumberRange {
        digits: da,
        first: fa,
        last: fb,
        line,
        in_file,
    })
}

/// Parses a number inventory CSV: one entry per line, either `+number` or `+first,+last`
/// (an inclusive range of same-length numbers). Blank lines and lines starting with `#` are
/// skipped, as is a first line of column names (`number` / `first,last`). `file` names the
/// source in errors.
pub fn parse_numbers_csv(contents: &str, file: &str) -> Result<Vec<NumberRange>, ConfigError> {
    let mut out = Vec::new();
    let mut seen_data = false;
    for (i, raw) in contents.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let err = |reason: String| ConfigError {
            file: file.into(),
            line: Some(line),
            column: None,
            reason,
        };
        if !seen_data && l.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()) {
            seen_data = true; // a header line
            continue;
        }
        seen_data = true;
        let mut fields = l.split(',').map(str::trim);
        let a = fields.next().unwrap_or("");
        let b = fields.next().filter(|b| !b.is_empty()).unwrap_or(a);
        if fields.next().is_some() {
            return Err(err(format!("'{l}': expected 'number' or 'first,last'")));
        }
        let r = if a == b {
            parse_range(a, line, true)
        } else {
            parse_range(&format!("{a}-{b}"), line, true)
        };
        out.push(r.map_err(err)?);
    }
    Ok(out)
}

/// A valid host name of at least two labels: letters, digits and inner hyphens, labels of
/// 1..63 characters, at most 253 in all (RFC 1035 §2.3.1, RFC 1123 §2.1); not an address.
pub(crate) fn valid_fqdn(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').count() >= 2
        && s.split('.').all(valid_label)
        && !s
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
}

/// One DNS label (RFC 1123 §2.1).
pub(crate) fn valid_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (RFC 9562 §4 string form), hex in any case.
pub(crate) fn valid_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn valid_prefix_chars(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || b == b'#' || b == b'*')
}

type At<'a> = &'a dyn Fn(Range<usize>, String) -> ConfigError;

/// Checks of the Teams trunk, gateway details, groups and tenants; parses inline numbers.
pub(crate) fn validate(
    cfg: &mut Config,
    file: &str,
    at: At<'_>,
    plain: &dyn Fn(String) -> ConfigError,
) -> Result<(), ConfigError> {
    let tls_profile = |name: &str| cfg.tls_profiles.iter().find(|t| t.name.get_ref() == name);
    for g in &cfg.gateways {
        let name = g.name.get_ref();
        let bad = |reason: String| Err(at(g.name.span(), format!("gateway '{name}': {reason}")));
        if let Some(c) = g.failover_codes.iter().find(|c| !(400..=699).contains(*c)) {
            return bad(format!("failover code {c} is not a 4xx-6xx final response"));
        }
        if let Some(o) = &g.options {
            if o.interval_s == 0 || o.up_threshold == 0 || o.down_threshold == 0 {
                return bad(
                    "options: interval_s, up_threshold and down_threshold must be > 0".into(),
                );
            }
        }
        if g.invite_timeout_ms == Some(0) {
            return bad("invite_timeout_ms must be > 0".into());
        }
        if g.max_calls == Some(0) || g.max_cps == Some(0) {
            return bad("max_calls and max_cps must be > 0 when set".into());
        }
        let n = &g.number_format;
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        match (&n.style, &n.country_code) {
            (NumberStyle::National, None) => {
                return bad("number_format.style = \"national\" needs country_code".into())
            }
            (_, Some(cc))
                if cc.is_empty() || cc.len() > 3 || !digits(cc) || cc.starts_with('0') =>
            {
                return bad(format!(
                    "number_format.country_code '{cc}' must be 1-3 digits"
                ))
            }
            _ => {}
        }
        if !digits(&n.national_prefix)
            || !digits(&n.international_prefix)
            || n.international_prefix.is_empty()
            || !valid_prefix_chars(&n.strip_prefix)
            || !valid_prefix_chars(&n.add_prefix)
        {
            return bad("number_format prefixes: digits (and # * for strip/add); international_prefix not empty".into());
        }
        if g.header_policy.as_deref() == Some("") {
            return bad("header_policy must not be empty".into());
        }
    }

    if let Some(t) = &cfg.teams {
        let base = t.base_fqdn.get_ref();
        if !valid_fqdn(base) {
            return Err(at(
                t.base_fqdn.span(),
                format!("teams.base_fqdn '{base}' is not a valid FQDN"),
            ));
        }
        match tls_profile(t.tls.get_ref()) {
            None => {
                return Err(at(
                    t.tls.span(),
                    format!("teams: unknown tls profile '{}'", t.tls.get_ref()),
                ))
            }
            Some(p) if p.trust_bundle.is_none() => {
                return Err(at(
                    t.tls.span(),
                    format!(
                        "teams: tls profile '{}' needs a trust_bundle (mutual TLS, TI-5)",
                        t.tls.get_ref()
                    ),
                ))
            }
            Some(_) => {}
        }
        if t.edges.is_empty() {
            return Err(at(t.base_fqdn.span(), "teams.edges is empty (TI-3)".into()));
        }
        for e in &t.edges {
            if !valid_fqdn(e.host.get_ref()) || e.port == 0 {
                return Err(at(
                    e.host.span(),
                    format!(
                        "teams.edges: '{}' is not a valid FQDN and port",
                        e.host.get_ref()
                    ),
                ));
            }
        }
        if t.source_ranges.is_empty() {
            return Err(at(
                t.base_fqdn.span(),
                "teams.source_ranges is empty (TI-4)".into(),
            ));
        }
        // TI-9: Microsoft demotes a trunk silent for 5 minutes.
        if t.options_interval_s == 0 || t.options_interval_s >= 300 {
            return Err(plain(
                "teams.options_interval_s must be within 1..=299 (TI-9: silent 5 minutes = demoted)".into(),
            ));
        }
        if t.sbc_port == 0 {
            return Err(plain("teams.sbc_port must be > 0".into()));
        }
        if let Some(x) = &t.x_ms_sbc {
            if x.is_empty() || !x.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
                return Err(plain(
                    "teams.x_ms_sbc must be printable ASCII (vendor/product/version, TI-17)".into(),
                ));
            }
        }
    } else if let Some(t) = cfg.tenants.first() {
        return Err(at(
            t.id.span(),
            "tenants need a [teams] trunk (base_fqdn, tls)".into(),
        ));
    }

    let gateways: BTreeSet<&str> = cfg
        .gateways
        .iter()
        .map(|g| g.name.get_ref().as_str())
        .collect();
    let mut groups = BTreeSet::new();
    for g in &cfg.gateway_groups {
        let name = g.name.get_ref();
        if !groups.insert(name.as_str()) {
            return Err(at(
                g.name.span(),
                format!("duplicate gateway group '{name}'"),
            ));
        }
        if g.members.is_empty() || g.members.len() > MAX_GROUP_MEMBERS {
            return Err(at(
                g.name.span(),
                format!("gateway group '{name}': 1 to {MAX_GROUP_MEMBERS} members"),
            ));
        }
        let mut seen = BTreeSet::new();
        for m in &g.members {
            let gw = m.gateway.get_ref();
            if !gateways.contains(gw.as_str()) {
                return Err(at(
                    m.gateway.span(),
                    format!("gateway group '{name}': unknown gateway '{gw}'"),
                ));
            }
            if !seen.insert(gw.as_str()) {
                return Err(at(
                    m.gateway.span(),
                    format!("gateway group '{name}': gateway '{gw}' listed twice"),
                ));
            }
            if m.weight == 0 {
                return Err(at(
                    m.gateway.span(),
                    format!("gateway group '{name}': weight of '{gw}' must be > 0"),
                ));
            }
        }
        if g.max_attempts
            .is_some_and(|n| n == 0 || n > g.members.len())
        {
            return Err(at(
                g.name.span(),
                format!("gateway group '{name}': max_attempts must be within 1..=members"),
            ));
        }
    }

    let base_len = cfg
        .teams
        .as_ref()
        .map_or(0, |t| t.base_fqdn.get_ref().len());
    let mut ids = BTreeSet::new();
    let mut labels = BTreeMap::new();
    let mut guids = BTreeMap::new();
    for t in &cfg.tenants {
        let id = t.id.get_ref();
        let bad =
            |span: Range<usize>, reason: String| Err(at(span, format!("tenant '{id}': {reason}")));
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return bad(t.id.span(), "id must be non-empty printable ASCII".into());
        }
        if !ids.insert(id.as_str()) {
            return Err(at(t.id.span(), format!("duplicate tenant '{id}'")));
        }
        if t.subdomains.is_empty() && t.operator_connect_guid.is_none() {
            return bad(
                t.id.span(),
                "needs subdomains or operator_connect_guid, or Teams can never name it (TI-19)"
                    .into(),
            );
        }
        for s in &t.subdomains {
            let l = s.get_ref();
            // The certificate's `*.<base>` covers exactly one label (TI-6).
            if !valid_label(l) || l.len() + 1 + base_len > 253 {
                return bad(
                    s.span(),
                    format!("subdomain '{l}' is not one valid DNS label (TI-6)"),
                );
            }
            if let Some(other) = labels.insert(l.to_ascii_lowercase(), id.as_str()) {
                return bad(
                    s.span(),
                    format!("subdomain '{l}' is already used by tenant '{other}'"),
                );
            }
        }
        if let Some(g) = &t.operator_connect_guid {
            if !valid_guid(g.get_ref()) {
                return bad(
                    g.span(),
                    format!("operator_connect_guid '{}' is not a GUID", g.get_ref()),
                );
            }
            if let Some(other) = guids.insert(g.get_ref().to_ascii_lowercase(), id.as_str()) {
                return bad(
                    g.span(),
                    format!(
                        "operator_connect_guid '{}' is already used by tenant '{other}'",
                        g.get_ref()
                    ),
                );
            }
        }
        if t.max_calls == Some(0) || t.max_cps == Some(0) {
            return bad(
                t.id.span(),
                "max_calls and max_cps must be > 0 when set".into(),
            );
        }
        if let Some(p) = &t.tls {
            if tls_profile(p.get_ref()).is_none() {
                return bad(p.span(), format!("unknown tls profile '{}'", p.get_ref()));
            }
        }
        let mut seen = BTreeSet::new();
        for r in &t.routes {
            let p = r.prefix.get_ref();
            if parse_e164(p).is_err() {
                return bad(
                    r.prefix.span(),
                    format!("route prefix '{p}' must be '+' and 1 to 15 digits"),
                );
            }
            if !groups.contains(r.group.get_ref().as_str()) {
                return bad(
                    r.group.span(),
                    format!("route '{p}': unknown gateway group '{}'", r.group.get_ref()),
                );
            }
            if !seen.insert((p.as_str(), r.group.get_ref().as_str())) {
                return bad(
                    r.prefix.span(),
                    format!("route '{p}' -> '{}' is listed twice", r.group.get_ref()),
                );
            }
            if r.weight == 0 {
                return bad(r.prefix.span(), format!("route '{p}': weight must be > 0"));
            }
        }
        if let Some(d) = &t.default_group {
            if !groups.contains(d.get_ref().as_str()) {
                return bad(
                    d.span(),
                    format!("default_group: unknown gateway group '{}'", d.get_ref()),
                );
            }
        }
        if let Some(d) = &t.emergency_group {
            if !groups.contains(d.get_ref().as_str()) {
                return bad(
                    d.span(),
                    format!("emergency_group: unknown gateway group '{}'", d.get_ref()),
                );
            }
        }
        if t.emergency_policy.as_deref() == Some("") {
            return bad(t.id.span(), "emergency_policy must not be empty".into());
        }
    }

    // Inline inventories: parsed here so a typo points at its line.
    let mut parsed = Vec::with_capacity(cfg.tenants.len());
    for t in &cfg.tenants {
        let mut inv = Vec::with_capacity(t.numbers.len());
        for n in &t.numbers {
            let line = at(n.span(), String::new()).line.unwrap_or(0);
            match parse_range(n.get_ref(), line, false) {
                Ok(r) => inv.push(r),
                Err(e) => return Err(at(n.span(), format!("tenant '{}': {e}", t.id.get_ref()))),
            }
        }
        parsed.push(inv);
    }
    for (t, inv) in cfg.tenants.iter_mut().zip(parsed) {
        t.inventory = inv;
        t.numbers_file_loaded = t.numbers_file.is_none();
    }
    check_overlaps(cfg, file)
}

/// No number may belong to two tenants, nor be listed twice by one.
pub(crate) fn check_overlaps(cfg: &Config, file: &str) -> Result<(), ConfigError> {
    let total: usize = cfg.tenants.iter().map(|t| t.inventory.len()).sum();
    let mut all: Vec<(u64, u64, u32, u32)> = Vec::with_capacity(total);
    for (ti, t) in cfg.tenants.iter().enumerate() {
        for (ri, r) in t.inventory.iter().enumerate() {
            all.push((r.key_first(), r.key_last(), ti as u32, ri as u32));
        }
    }
    all.sort_unstable();
    let mut prev: Option<(u64, u32, u32)> = None; // (last key, tenant, range) reaching furthest
    for &(first, last, ti, ri) in &all {
        if let Some((plast, pti, pri)) = prev {
            if first <= plast {
                let (t, r) = (
                    &cfg.tenants[ti as usize],
                    cfg.tenants[ti as usize].inventory[ri as usize],
                );
                let (pt, pr) = (
                    &cfg.tenants[pti as usize],
                    cfg.tenants[pti as usize].inventory[pri as usize],
                );
                let where_of = |t: &Tenant, r: &NumberRange| {
                    if r.in_file {
                        t.numbers_file
                            .as_deref()
                            .unwrap_or(Path::new("?"))
                            .display()
                            .to_string()
                    } else {
                        file.to_owned()
                    }
                };
                return Err(ConfigError {
                    file: where_of(t, &r),
                    line: Some(r.line),
                    column: None,
                    reason: format!(
                        "tenant '{}': numbers {r} overlap {pr} of tenant '{}' ({}:{})",
                        t.id.get_ref(),
                        pt.id.get_ref(),
                        where_of(pt, &pr),
                        pr.line
                    ),
                });
            }
            if last <= plast {
                continue;
            }
        }
        prev = Some((last, ti, ri));
    }
    Ok(())
}

impl Config {
    /// Reads every tenant's `numbers_file` through `read` (which returns the file's contents
    /// or an error text; the crate itself touches no files), appends the numbers to the
    /// tenant's inventory and re-checks overlaps across all tenants. `file` names the
    /// configuration file in errors about inline numbers. Idempotent per tenant.
    pub fn load_number_files<F>(&mut self, file: &str, mut read: F) -> Result<(), ConfigError>
    where
        F: FnMut(&Path) -> Result<String, String>,
    {
        for t in &mut self.tenants {
            let (Some(path), false) = (&t.numbers_file, t.numbers_file_loaded) else {
                continue;
            };
            let name = path.display().to_string();
            let text = read(path).map_err(|reason| ConfigError {
                file: name.clone(),
                line: None,
                column: None,
                reason: format!("tenant '{}': numbers_file: {reason}", t.id.get_ref()),
            })?;
            t.inventory.extend(parse_numbers_csv(&text, &name)?);
            t.numbers_file_loaded = true;
        }
        check_overlaps(self, file)
    }

    /// The gateway group by name.
    pub fn gateway_group(&self, name: &str) -> Option<&GatewayGroup> {
        self.gateway_groups
            .iter()
            .find(|g| g.name.get_ref() == name)
    }

    /// The tenant by id.
    pub fn tenant(&self, id: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id.get_ref() == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "version = 1\n\
        [[tls]]\nname = \"t\"\ncert_chain = \"c.pem\"\nkey = \"k.pem\"\ntrust_bundle = \"ca.pem\"\n\
        [[listener]]\nname = \"l\"\nzone = \"z\"\ntransport = \"udp\"\nbind = \"127.0.0.1:5060\"\n\
        [teams]\nbase_fqdn = \"sbc.example.net\"\ntls = \"t\"\n\
        [[gateway]]\nname = \"g1\"\naddress = \"127.0.0.1:5080\"\n\
        [[gateway]]\nname = \"g2\"\naddress = \"gw.example.net\"\n\
        [[gateway_group]]\nname = \"grp\"\nmembers = [{ gateway = \"g1\" }, { gateway = \"g2\", priority = 2 }]\n";

    fn tenant(id: &str, extra: &str) -> String {
        format!("[[tenant]]\nid = \"{id}\"\nsubdomains = [\"{id}\"]\n{extra}\n")
    }

    /// Parses HEAD + `rest`; on error returns (line text, reason).
    fn err(rest: &str) -> (String, String) {
        let src = format!("{HEAD}{rest}");
        let e = Config::parse(&src, "t.toml").expect_err("must fail");
        assert_eq!(e.file, "t.toml");
        let line = e.line.map_or(String::new(), |l| {
            src.lines().nth(l - 1).unwrap_or("").to_owned()
        });
        (line, e.reason)
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = Config::parse(&format!("{HEAD}{}", tenant("a", "")), "t").expect("valid");
        let t = c.teams.as_ref().expect("teams");
        let hosts: Vec<&str> = t.edges.iter().map(|e| e.host.get_ref().as_str()).collect();
        assert_eq!(hosts, DEFAULT_EDGES); // TI-3
        assert!(t
            .edges
            .iter()
            .all(|e| e.port == 5061 && e.address.is_none()));
        let r: Vec<String> = t.source_ranges.iter().map(|r| r.to_string()).collect();
        assert_eq!(r, DEFAULT_MICROSOFT_RANGES); // TI-4
        assert_eq!(t.options_interval_s, 60); // TI-9
        assert_eq!(t.refer, ReferMode::Handle); // TI-26
        assert_eq!(t.x_ms_sbc(&c), c.node.product); // TI-17
        let g = c.gateway("g1").expect("g1");
        assert_eq!(g.failover_codes, [408, 503, 504]);
        assert!(g.failover_on_timeout && g.failover_on_transport_error);
        assert_eq!(g.rel100, Rel100::Supported);
        assert_eq!(g.forwarding, Forwarding::HistoryInfo);
        assert!(c.tenants[0].screen_calling);
        assert_eq!(c.gateway_groups[0].members[0].weight, 100);
    }

    #[test]
    fn dangling_references_point_at_their_line() {
        let (l, r) = err("[[gateway_group]]\nname = \"x\"\nmembers = [{ gateway = \"nope\" }]\n");
        assert!(
            r.contains("unknown gateway 'nope'") && l.contains("nope"),
            "{l} {r}"
        );
        let (l, r) = err(&tenant(
            "a",
            "routes = [{ prefix = \"+1\", group = \"nope\" }]",
        ));
        assert!(
            r.contains("unknown gateway group 'nope'") && l.contains("nope"),
            "{l} {r}"
        );
        let (l, r) = err(&tenant("a", "default_group = \"nope\""));
        assert!(
            r.contains("unknown gateway group") && l.contains("nope"),
            "{l} {r}"
        );
        let (l, r) = err(&tenant("a", "emergency_group = \"nope\""));
        assert!(
            r.contains("emergency_group: unknown gateway group") && l.contains("nope"),
            "{l} {r}"
        );
        let (l, r) = err(&tenant("a", "tls = \"nope\""));
        assert!(
            r.contains("unknown tls profile 'nope'") && l.contains("nope"),
            "{l} {r}"
        );
        let src = HEAD.replace("tls = \"t\"\n[[gateway]]", "tls = \"x\"\n[[gateway]]");
        let e = Config::parse(&src, "t").expect_err("teams tls");
        assert!(e.reason.contains("unknown tls profile 'x'"), "{e}");
        let src = HEAD.replace("trust_bundle = \"ca.pem\"\n", "");
        let e = Config::parse(&src, "t").expect_err("no bundle");
        assert!(e.reason.contains("TI-5"), "{e}");
    }

    #[test]
    fn malformed_and_overlapping_numbers_are_rejected() {
        for (n, want) in [
            ("+1425555", ""),
            ("1425555", "must start with '+'"),
            ("+", "1 to 15 digits"),
            ("+1234567890123456", "1 to 15 digits"),
            ("+0123", "never starts with 0"),
            ("+14a5", "digits only"),
            ("+1200-+120", "same number of digits"),
            ("+1299-+1200", "after the last"),
        ] {
            let src = format!("{HEAD}{}", tenant("a", &format!("numbers = [\n\"{n}\"]")));
            match (Config::parse(&src, "t"), want) {
                (Ok(_), "") => {}
                (Err(e), w) if !w.is_empty() => {
                    assert!(e.reason.contains(w), "{n}: {e}");
                    assert_eq!(e.line, Some(HEAD.lines().count() + 5), "{n}: {e}");
                }
                (r, _) => panic!("{n}: {r:?}"),
            }
        }
        // Within one tenant.
        let (l, r) = err(&tenant("a", "numbers = [\"+1200-+1299\",\n\"+1250\"]"));
        assert!(
            r.contains("overlap +1200-+1299") && l.contains("+1250"),
            "{l} {r}"
        );
        // Across tenants, also when one range swallows a later one.
        let (l, r) = err(&format!(
            "{}{}",
            tenant("a", "numbers = [\"+1200-+1299\"]"),
            tenant("b", "numbers = [\"+1300\",\n\"+1210-+1211\"]")
        ));
        assert!(
            r.contains("tenant 'b'") && r.contains("tenant 'a'") && l.contains("+1210"),
            "{l} {r}"
        );
        // Same digits, different length: no overlap.
        let ok = format!(
            "{HEAD}{}{}",
            tenant("a", "numbers = [\"+1200-+1299\"]"),
            tenant("b", "numbers = [\"+12000-+12999\"]")
        );
        assert!(Config::parse(&ok, "t").is_ok());
    }

    #[test]
    fn duplicate_subdomain_guid_and_bad_fqdn() {
        let (l, r) = err(&format!(
            "{}{}",
            tenant("a", ""),
            "[[tenant]]\nid = \"b\"\nsubdomains = [\"x\",\n\"A\"]\n"
        ));
        assert!(
            r.contains("subdomain 'A' is already used by tenant 'a'") && l.contains("\"A\""),
            "{l} {r}"
        );
        let g = "operator_connect_guid = \"0B6F5E3A-7C1D-4F2E-9A8B-123456789ABC\"";
        let (l, r) = err(&format!(
            "{}{}",
            tenant("a", g),
            tenant("b", &g.to_lowercase())
        ));
        assert!(
            r.contains("already used by tenant 'a'") && l.contains("0b6f"),
            "{l} {r}"
        );
        let (_, r) = err(&tenant("a", "operator_connect_guid = \"not-a-guid\""));
        assert!(r.contains("not a GUID"), "{r}");
        let (_, r) = err(&tenant("a.b", ""));
        assert!(r.contains("not one valid DNS label"), "{r}");
        for bad in [
            "localhost",
            "10.0.0.1",
            "-a.example",
            "a..example",
            "a_b.example",
        ] {
            let src = HEAD.replace("sbc.example.net", bad);
            let e = Config::parse(&src, "t").expect_err(bad);
            assert!(e.reason.contains("not a valid FQDN"), "{bad}: {e}");
            assert_eq!(e.line, Some(13), "{bad}: {e}");
        }
        let (_, r) = err("[[tenant]]\nid = \"a\"\n");
        assert!(r.contains("TI-19"), "{r}");
        let src = format!("version = 1\n[[listener]]\nname = \"l\"\nzone = \"z\"\ntransport = \"udp\"\nbind = \"127.0.0.1:5060\"\n{}", tenant("a", ""));
        assert!(Config::parse(&src, "t")
            .unwrap_err()
            .reason
            .contains("[teams]"));
    }

    #[test]
    fn gateway_and_group_rules() {
        let (_, r) = err("[[gateway_group]]\nname = \"grp\"\nmembers = [{ gateway = \"g1\" }]\n");
        assert!(r.contains("duplicate gateway group"), "{r}");
        let (_, r) = err("[[gateway_group]]\nname = \"x\"\nmembers = [{ gateway = \"g1\" }, { gateway = \"g1\" }]\n");
        assert!(r.contains("listed twice"), "{r}");
        let (_, r) =
            err("[[gateway_group]]\nname = \"x\"\nmembers = [{ gateway = \"g1\", weight = 0 }]\n");
        assert!(r.contains("weight"), "{r}");
        let (_, r) = err("[[gateway_group]]\nname = \"x\"\nmembers = []\n");
        assert!(r.contains("members"), "{r}");
        let (_, r) = err(
            "[[gateway_group]]\nname = \"x\"\nmembers = [{ gateway = \"g1\" }]\nmax_attempts = 2\n",
        );
        assert!(r.contains("max_attempts"), "{r}");
        let gw = |extra: &str| {
            format!("[[gateway]]\nname = \"g3\"\naddress = \"127.0.0.1:5090\"\n{extra}\n")
        };
        assert!(err(&gw("failover_codes = [180]"))
            .1
            .contains("failover code 180"));
        assert!(err(&gw("options = { interval_s = 0 }"))
            .1
            .contains("options"));
        assert!(err(&gw("number_format = { style = \"national\" }"))
            .1
            .contains("country_code"));
        assert!(err(&gw(
            "number_format = { style = \"e164\", country_code = \"0\" }"
        ))
        .1
        .contains("country_code"));
        assert!(err(&gw("number_format = { add_prefix = \"12a\" }"))
            .1
            .contains("prefixes"));
        assert!(err(&gw("invite_timeout_ms = 0"))
            .1
            .contains("invite_timeout_ms"));
        assert!(err(&gw("rel100 = \"maybe\"")).1.contains("unknown variant"));
        let (_, r) = err(&tenant(
            "a",
            "routes = [{ prefix = \"+1\", group = \"grp\" }, { prefix = \"+1\", group = \"grp\" }]",
        ));
        assert!(r.contains("listed twice"), "{r}");
        let (_, r) = err(&tenant(
            "a",
            "routes = [{ prefix = \"1\", group = \"grp\" }]",
        ));
        assert!(r.contains("route prefix '1'"), "{r}");
        let src = HEAD.replace(
            "tls = \"t\"\n[[gateway]]",
            "tls = \"t\"\noptions_interval_s = 300\n[[gateway]]",
        );
        assert!(Config::parse(&src, "t")
            .unwrap_err()
            .reason
            .contains("TI-9"));
    }

    #[test]
    fn csv_inventory_loads_through_a_reader() {
        let csv = "# comment\nnumber\n+4930100\n\n+4930200,+4930299\n+4930300,\n";
        let v = parse_numbers_csv(csv, "n.csv").expect("csv");
        assert_eq!(v.len(), 3);
        assert_eq!(
            (v[1].first, v[1].last, v[1].line, v[1].in_file),
            (4930200, 4930299, 5, true)
        );
        let e = parse_numbers_csv("+1,+2,+3\n", "n.csv").expect_err("3 fields");
        assert_eq!((e.file.as_str(), e.line), ("n.csv", Some(1)));
        let e = parse_numbers_csv("+1\nfoo\n", "n.csv").expect_err("header only first");
        assert_eq!(e.line, Some(2), "{e}");

        let src = format!(
            "{HEAD}{}{}",
            tenant("a", "numbers_file = \"a.csv\""),
            tenant("b", "numbers = [\"+4930250\"]")
        );
        let mut c = Config::parse(&src, "t.toml").expect("valid before files");
        assert!(!c.tenants[0].numbers_file_loaded && c.tenants[1].numbers_file_loaded);
        let e = c
            .load_number_files("t.toml", |p| {
                assert_eq!(p, Path::new("a.csv"));
                Ok(csv.to_owned())
            })
            .expect_err("overlap with b");
        assert_eq!(e.file, "t.toml", "{e}");
        assert!(
            e.reason.contains("+4930250") && e.reason.contains("a.csv:5"),
            "{e}"
        );
        let mut c = Config::parse(&src.replace("+4930250", "+4930400"), "t.toml").expect("valid");
        c.load_number_files("t.toml", |_| Ok(csv.to_owned()))
            .expect("loads");
        assert_eq!(c.tenants[0].inventory.len(), 3);
        let e = Config::parse(&src, "t.toml")
            .expect("valid")
            .load_number_files("t.toml", |_| Err("no such file".into()))
            .expect_err("io");
        assert!(
            e.file == "a.csv" && e.reason.contains("no such file"),
            "{e}"
        );
    }
}
