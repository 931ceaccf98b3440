//! `sbc-routing`: the immutable tables behind tenant resolution and PSTN routing
//! (issue 5; rules TI-12, TI-19, TI-20 of `teams-interop.md`).
//!
//! [`Tables::build`] turns a validated [`sbc_config::Config`] into read-only tables; a reload
//! builds new ones and swaps them (e.g. behind an `ArcSwap`). Lookups allocate nothing:
//!
//! * tenant by Request-URI host `<label>.<base fqdn>` (case-insensitive) or by Operator
//!   Connect GUID (`X-MS-TenantID`) — one hash probe (TI-19);
//! * tenant by number — binary search over sorted, merged, non-overlapping ranges
//!   (exact numbers are ranges of one) keyed by (digit count, value);
//! * per-tenant longest-prefix match — each tenant's prefixes are flattened into disjoint key
//!   intervals (digits base 11, see `number::lpm_key`), so the longest match is one binary
//!   search over that tenant's boundaries;
//! * target selection — route choices and group members by priority, weighted random within a
//!   priority (the caller supplies the random seed), skipping gateways marked down in the
//!   [`HealthMap`] that outlives table generations.
//!
//! The crate is pure: no I/O, no clock, no global randomness.

mod health;
mod number;

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use sbc_config::{
    Config, Forwarding, OptionsProbe, ReferMode, Rel100, TransportKind, MAX_GROUP_MEMBERS,
};

pub use health::{GatewayHealth, HealthMap};
pub use number::{Number, NumberError, NumberRules, E164_MAX_DIGITS, NUMBER_CAPACITY};

/// Most gateways one selection returns (fixed capacity: no allocation per call).
pub const MAX_TARGETS: usize = MAX_GROUP_MEMBERS;

/// Most alternative groups behind one prefix (same bound, same reason).
pub const MAX_CHOICES: usize = MAX_GROUP_MEMBERS;

/// Index of a tenant in [`Tables`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(pub u32);

/// Index of a gateway in [`Tables`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GatewayId(pub u32);

/// Index of a gateway group in [`Tables`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub u32);

/// A table build failure (the config validation catches these first; the build re-checks what
/// the tables rely on, so a hand-made `Config` cannot produce inconsistent tables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// Tenants exist but there is no `[teams]` trunk.
    NoTeamsTrunk,
    /// A group names a gateway that does not exist.
    UnknownGateway {
        /// The group.
        group: String,
        /// The missing gateway.
        gateway: String,
    },
    /// A tenant route or default names a group that does not exist.
    UnknownGroup {
        /// The tenant.
        tenant: String,
        /// The missing group.
        group: String,
    },
    /// A group with no members or more than [`MAX_TARGETS`].
    BadGroup {
        /// The group.
        group: String,
    },
    /// Two tenants claim one subdomain label.
    DuplicateSubdomain {
        /// The label (lowercase).
        label: String,
    },
    /// Two tenants claim one Operator Connect GUID, or a GUID does not parse.
    BadGuid {
        /// The tenant.
        tenant: String,
        /// The GUID text.
        guid: String,
    },
    /// A route prefix that is not `+` and 1..15 digits.
    BadPrefix {
        /// The tenant.
        tenant: String,
        /// The prefix.
        prefix: String,
    },
    /// More than [`MAX_CHOICES`] groups behind one prefix.
    TooManyChoices {
        /// The tenant.
        tenant: String,
        /// The prefix.
        prefix: String,
    },
    /// The tenant has a `numbers_file` that was not loaded (`Config::load_number_files`).
    NumbersNotLoaded {
        /// The tenant.
        tenant: String,
    },
    /// Two inventory entries share a number.
    OverlappingNumbers {
        /// First tenant.
        a: String,
        /// Second tenant (may equal `a`).
        b: String,
    },
    /// More than `u32::MAX` entries of some kind.
    TooLarge,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NoTeamsTrunk => write!(f, "tenants need a [teams] trunk"),
            BuildError::UnknownGateway { group, gateway } => {
                write!(f, "gateway group '{group}': unknown gateway '{gateway}'")
            }
            BuildError::UnknownGroup { tenant, group } => {
                write!(f, "tenant '{tenant}': unknown gateway group '{group}'")
            }
            BuildError::BadGroup { group } => {
                write!(f, "gateway group '{group}': 1 to {MAX_TARGETS} members")
            }
            BuildError::DuplicateSubdomain { label } => write!(f, "subdomain '{label}' used twice"),
            BuildError::BadGuid { tenant, guid } => {
                write!(f, "tenant '{tenant}': bad or duplicate GUID '{guid}'")
            }
            BuildError::BadPrefix { tenant, prefix } => {
                write!(f, "tenant '{tenant}': bad route prefix '{prefix}'")
            }
            BuildError::TooManyChoices { tenant, prefix } => write!(
                f,
                "tenant '{tenant}': more than {MAX_CHOICES} groups behind '{prefix}'"
            ),
            BuildError::NumbersNotLoaded { tenant } => {
                write!(f, "tenant '{tenant}': numbers_file not loaded")
            }
            BuildError::OverlappingNumbers { a, b } => {
                write!(f, "numbers of tenants '{a}' and '{b}' overlap")
            }
            BuildError::TooLarge => write!(f, "routing tables too large"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Why a called number has no target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    /// The called number is not a number.
    BadNumber(NumberError),
    /// No prefix matches and the tenant has no default group (-> 404).
    NoRoute,
    /// Every gateway of every matching group is down (-> 503, TI-22).
    AllDown,
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::BadNumber(e) => write!(f, "called number: {e}"),
            RouteError::NoRoute => f.write_str("no route"),
            RouteError::AllDown => f.write_str("all gateways down"),
        }
    }
}

impl std::error::Error for RouteError {}

/// One tenant, resolved.
#[derive(Debug, Clone)]
pub struct TenantInfo {
    /// Configured id.
    pub id: String,
    /// Full FQDNs `<label>.<base>` in configuration order (Contact host, TI-14).
    pub fqdns: Vec<String>,
    /// Operator Connect GUID.
    pub guid: Option<u128>,
    /// Screen calling numbers against the inventory (TI-20).
    pub screen_calling: bool,
    /// Concurrent call limit.
    pub max_calls: Option<u32>,
    /// New calls per second limit.
    pub max_cps: Option<u32>,
    /// Emergency policy name.
    pub emergency_policy: Option<String>,
    /// Transfer mode (tenant override, else the trunk's).
    pub refer: ReferMode,
    /// TLS profile (tenant override, else the trunk's).
    pub tls: String,
    /// Route choices when no prefix matches.
    default: Option<u32>,
    /// This tenant's slice of `lpm_start` / `lpm_set`.
    lpm: (u32, u32),
}

/// One gateway, resolved.
#[derive(Debug, Clone)]
pub struct GatewayInfo {
    /// Name.
    pub name: String,
    /// `ip:port` or `host[:port]` as configured.
    pub address: String,
    /// Transport.
    pub transport: TransportKind,
    /// Failover responses.
    pub failover_codes: Vec<u16>,
    /// Fail over on no answer.
    pub failover_on_timeout: bool,
    /// Fail over on a transport error.
    pub failover_on_transport_error: bool,
    /// Per-attempt INVITE timeout (None = Timer B).
    pub invite_timeout_ms: Option<u64>,
    /// Number conversion.
    pub numbers: NumberRules,
    /// 100rel policy.
    pub rel100: Rel100,
    /// Header policy name.
    pub header_policy: Option<String>,
    /// History-Info or Diversion (TI-28).
    pub forwarding: Forwarding,
    /// 183-with-SDP -> 180 (TI-24).
    pub early_media_as_ringing: bool,
    /// Concurrent calls.
    pub max_calls: Option<u32>,
    /// Calls per second.
    pub max_cps: Option<u32>,
    /// OPTIONS probing.
    pub options: Option<OptionsProbe>,
    /// Shared health cell (from the [`HealthMap`]).
    pub health: Arc<GatewayHealth>,
}

impl GatewayInfo {
    /// True when a final response `code` should move the call to the next target.
    pub fn fails_over_on(&self, code: u16) -> bool {
        self.failover_codes.contains(&code)
    }
}

/// One group member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// The gateway.
    pub gateway: GatewayId,
    /// Lower first.
    pub priority: u32,
    /// Share within the priority.
    pub weight: u32,
}

/// One gateway group, resolved; members sorted by priority.
#[derive(Debug, Clone)]
pub struct GroupInfo {
    /// Name.
    pub name: String,
    /// Members by priority.
    pub members: Vec<Member>,
    /// Most gateways tried per call from this group.
    pub max_attempts: usize,
}

/// One group a prefix routes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteChoice {
    /// The group.
    pub group: GroupId,
    /// Lower first.
    pub priority: u32,
    /// Share within the priority.
    pub weight: u32,
}

/// The ordered gateways for one call (fixed capacity, on the stack).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    ids: [GatewayId; MAX_TARGETS],
    len: u8,
}

impl Targets {
    fn new() -> Targets {
        Targets {
            ids: [GatewayId(0); MAX_TARGETS],
            len: 0,
        }
    }

    /// Gateways in the order to try them.
    pub fn as_slice(&self) -> &[GatewayId] {
        &self.ids[..usize::from(self.len)]
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `g` unless present. `None` when full, else whether it was added.
    fn push_unique(&mut self, g: GatewayId) -> Option<bool> {
        if usize::from(self.len) == MAX_TARGETS {
            return None;
        }
        if self.as_slice().contains(&g) {
            return Some(false);
        }
        self.ids[usize::from(self.len)] = g;
        self.len += 1;
        Some(true)
    }
}

impl fmt::Debug for Targets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

const NO_SET: u32 = u32::MAX;

/// FNV-1a (Fowler/Noll/Vo, 64-bit parameters) for the label and GUID maps: their keys come
/// from the configuration, lookups only probe, so flooding is not a concern, and SipHash was
/// half the cost of `tenant_by_host` (callgrind).
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// The immutable routing tables.
#[derive(Debug)]
pub struct Tables {
    base: String,
    tenants: Vec<TenantInfo>,
    by_label: FnvMap<Box<[u8]>, TenantId>,
    by_guid: FnvMap<u128, TenantId>,
    /// Number inventory: sorted, merged, disjoint ranges of keys (see `number::e164_key`).
    num_first: Vec<u64>,
    num_last: Vec<u64>,
    num_tenant: Vec<u32>,
    /// LPM: per tenant, sorted interval starts and the route set each interval maps to.
    lpm_start: Vec<u64>,
    lpm_set: Vec<u32>,
    /// Route sets: slices of `choices`, sorted by priority.
    sets: Vec<(u32, u32)>,
    choices: Vec<RouteChoice>,
    groups: Vec<GroupInfo>,
    gateways: Vec<GatewayInfo>,
}

/// Parses a GUID (`8-4-4-4-12` hex, any case) without allocating.
pub fn parse_guid(s: &str) -> Option<u128> {
    let b = s.trim().as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut v: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let d = (c as char).to_digit(16)?;
        v = (v << 4) | u128::from(d);
    }
    Some(v)
}

/// Lowercase copy of a DNS label into `buf` (labels are at most 63 bytes, RFC 1035 §2.3.4).
fn lower_label<'a>(label: &[u8], buf: &'a mut [u8; 63]) -> Option<&'a [u8]> {
    if label.is_empty() || label.len() > 63 {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(label) {
        *d = s.to_ascii_lowercase();
    }
    Some(&buf[..label.len()])
}

fn u32_of(n: usize) -> Result<u32, BuildError> {
    u32::try_from(n).map_err(|_| BuildError::TooLarge)
}

/// Orders `items` (priority, weight, eligible) into `out`: eligible ones only, ascending
/// priority, weighted random without replacement within a priority. Returns the count.
fn order(items: &[(u32, u32, bool)], rng: &mut u64, out: &mut [u8; MAX_TARGETS]) -> usize {
    let mut n = 0;
    for (i, it) in items.iter().enumerate().take(MAX_TARGETS) {
        if it.2 {
            out[n] = i as u8;
            n += 1;
        }
    }
    // Insertion sort by priority: at most 16 items, stable.
    for i in 1..n {
        let mut j = i;
        while j > 0 && items[usize::from(out[j - 1])].0 > items[usize::from(out[j])].0 {
            out.swap(j - 1, j);
            j -= 1;
        }
    }
    let mut a = 0;
    while a < n {
        let prio = items[usize::from(out[a])].0;
        let mut b = a;
        while b < n && items[usize::from(out[b])].0 == prio {
            b += 1;
        }
        // Weighted draw without replacement over out[a..b].
        // The last item of a tier needs no draw (a tier of one needs none at all).
        for k in a..b.saturating_sub(1) {
            let total: u64 = out[k..b]
                .iter()
                .map(|&i| u64::from(items[usize::from(i)].1.max(1)))
                .sum();
            // Multiply-shift maps the draw onto 0..total without a division (Lemire 2019).
            let mut r = ((u128::from(next_rand(rng)) * u128::from(total)) >> 64) as u64;
            let mut pick = k;
            for (off, &i) in out[k..b].iter().enumerate() {
                let w = u64::from(items[usize::from(i)].1.max(1));
                if r < w {
                    pick = k + off;
                    break;
                }
                r -= w;
            }
            out.swap(k, pick);
        }
        a = b;
    }
    n
}

/// SplitMix64 step (Steele, Lea, Flood 2014): spreads the caller's seed over each draw.
fn next_rand(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Tables {
    /// Builds the tables from a validated configuration (number files loaded). Gateways get
    /// their health cell from `health`, so cells survive table swaps.
    pub fn build(cfg: &Config, health: &HealthMap) -> Result<Tables, BuildError> {
        if !cfg.tenants.is_empty() && cfg.teams.is_none() {
            return Err(BuildError::NoTeamsTrunk);
        }
        let base = cfg
            .teams
            .as_ref()
            .map(|t| t.base_fqdn.get_ref().to_ascii_lowercase())
            .unwrap_or_default();

        let gateways: Vec<GatewayInfo> = cfg
            .gateways
            .iter()
            .map(|g| GatewayInfo {
                name: g.name.get_ref().clone(),
                address: g.address.clone(),
                transport: g.transport,
                failover_codes: g.failover_codes.clone(),
                failover_on_timeout: g.failover_on_timeout,
                failover_on_transport_error: g.failover_on_transport_error,
                invite_timeout_ms: g.invite_timeout_ms,
                numbers: NumberRules::new(g.number_format.clone()),
                rel100: g.rel100,
                header_policy: g.header_policy.clone(),
                forwarding: g.forwarding,
                early_media_as_ringing: g.early_media_as_ringing,
                max_calls: g.max_calls,
                max_cps: g.max_cps,
                options: g.options,
                health: health.cell(g.name.get_ref()),
            })
            .collect();
        let gw_index: HashMap<&str, GatewayId> = cfg
            .gateways
            .iter()
            .enumerate()
            .map(|(i, g)| Ok((g.name.get_ref().as_str(), GatewayId(u32_of(i)?))))
            .collect::<Result<_, _>>()?;

        let mut groups = Vec::with_capacity(cfg.gateway_groups.len());
        let mut group_index: HashMap<&str, GroupId> = HashMap::new();
        for (i, g) in cfg.gateway_groups.iter().enumerate() {
            let name = g.name.get_ref();
            if g.members.is_empty() || g.members.len() > MAX_TARGETS {
                return Err(BuildError::BadGroup {
                    group: name.clone(),
                });
            }
            let mut members = Vec::with_capacity(g.members.len());
            for m in &g.members {
                let gateway = *gw_index.get(m.gateway.get_ref().as_str()).ok_or_else(|| {
                    BuildError::UnknownGateway {
                        group: name.clone(),
                        gateway: m.gateway.get_ref().clone(),
                    }
                })?;
                members.push(Member {
                    gateway,
                    priority: m.priority,
                    weight: m.weight,
                });
            }
            members.sort_by_key(|m| m.priority);
            groups.push(GroupInfo {
                name: name.clone(),
                max_attempts: g.max_attempts.unwrap_or(members.len()).min(MAX_TARGETS),
                members,
            });
            group_index.insert(name.as_str(), GroupId(u32_of(i)?));
        }

        let mut t = Tables {
            base,
            tenants: Vec::with_capacity(cfg.tenants.len()),
            by_label: FnvMap::default(),
            by_guid: FnvMap::default(),
            num_first: Vec::new(),
            num_last: Vec::new(),
            num_tenant: Vec::new(),
            lpm_start: Vec::new(),
            lpm_set: Vec::new(),
            sets: Vec::new(),
            choices: Vec::new(),
            groups,
            gateways,
        };
        let (trunk_refer, trunk_tls) = cfg.teams.as_ref().map_or((ReferMode::Handle, ""), |tr| {
            (tr.refer, tr.tls.get_ref().as_str())
        });

        let mut inventory: Vec<(u64, u64, u32)> =
            Vec::with_capacity(cfg.tenants.iter().map(|t| t.inventory.len()).sum::<usize>());
        // Reused per tenant: (low, high, set) of each distinct prefix.
        let mut intervals: Vec<(u64, u64, u32)> = Vec::new();
        let mut stack: Vec<(u64, u32)> = Vec::new();
        let mut by_prefix: Vec<(&str, RouteChoice)> = Vec::new();
        for (ti, tc) in cfg.tenants.iter().enumerate() {
            let id = TenantId(u32_of(ti)?);
            let tname = tc.id.get_ref();
            if !tc.numbers_file_loaded {
                return Err(BuildError::NumbersNotLoaded {
                    tenant: tname.clone(),
                });
            }
            let mut fqdns = Vec::with_capacity(tc.subdomains.len());
            for s in &tc.subdomains {
                let label = s.get_ref().to_ascii_lowercase();
                fqdns.push(format!("{label}.{}", t.base));
                if t.by_label
                    .insert(label.clone().into_bytes().into_boxed_slice(), id)
                    .is_some()
                {
                    return Err(BuildError::DuplicateSubdomain { label });
                }
            }
            let guid = match &tc.operator_connect_guid {
                None => None,
                Some(g) => {
                    let bad = || BuildError::BadGuid {
                        tenant: tname.clone(),
                        guid: g.get_ref().clone(),
                    };
                    let v = parse_guid(g.get_ref()).ok_or_else(bad)?;
                    if t.by_guid.insert(v, id).is_some() {
                        return Err(bad());
                    }
                    Some(v)
                }
            };
            for r in &tc.inventory {
                inventory.push((r.key_first(), r.key_last(), id.0));
            }

            // Route sets: one per distinct prefix, choices by priority.
            by_prefix.clear();
            for r in &tc.routes {
                let group = *group_index.get(r.group.get_ref().as_str()).ok_or_else(|| {
                    BuildError::UnknownGroup {
                        tenant: tname.clone(),
                        group: r.group.get_ref().clone(),
                    }
                })?;
                by_prefix.push((
                    r.prefix.get_ref().as_str(),
                    RouteChoice {
                        group,
                        priority: r.priority,
                        weight: r.weight,
                    },
                ));
            }
            by_prefix.sort_by(|a, b| a.0.cmp(b.0).then(a.1.priority.cmp(&b.1.priority)));
            intervals.clear();
            let mut i = 0;
            while i < by_prefix.len() {
                let p = by_prefix[i].0;
                let mut j = i;
                while j < by_prefix.len() && by_prefix[j].0 == p {
                    j += 1;
                }
                if j - i > MAX_CHOICES {
                    return Err(BuildError::TooManyChoices {
                        tenant: tname.clone(),
                        prefix: p.to_owned(),
                    });
                }
                let bad = || BuildError::BadPrefix {
                    tenant: tname.clone(),
                    prefix: p.to_owned(),
                };
                if !p.starts_with('+') {
                    return Err(bad());
                }
                let (low, high) = number::lpm_interval(p).map_err(|_| bad())?;
                let set = t.push_set(by_prefix[i..j].iter().map(|x| x.1))?;
                intervals.push((low, high, set));
                i = j;
            }
            let default = match &tc.default_group {
                None => None,
                Some(g) => {
                    let group = *group_index.get(g.get_ref().as_str()).ok_or_else(|| {
                        BuildError::UnknownGroup {
                            tenant: tname.clone(),
                            group: g.get_ref().clone(),
                        }
                    })?;
                    Some(t.push_set(std::iter::once(RouteChoice {
                        group,
                        priority: 1,
                        weight: 1,
                    }))?)
                }
            };
            let lpm = t.flatten(&mut intervals, &mut stack)?;

            t.tenants.push(TenantInfo {
                id: tname.clone(),
                fqdns,
                guid,
                screen_calling: tc.screen_calling,
                max_calls: tc.max_calls,
                max_cps: tc.max_cps,
                emergency_policy: tc.emergency_policy.clone(),
                refer: tc.refer.unwrap_or(trunk_refer),
                tls: tc
                    .tls
                    .as_ref()
                    .map_or(trunk_tls, |p| p.get_ref().as_str())
                    .to_owned(),
                default,
                lpm,
            });
        }

        // Inventory: sort, reject overlaps, merge adjacent ranges of one tenant.
        inventory.sort_unstable();
        t.num_first.reserve(inventory.len());
        t.num_last.reserve(inventory.len());
        t.num_tenant.reserve(inventory.len());
        for (first, last, tenant) in inventory {
            if let (Some(&plast), Some(&pt)) = (t.num_last.last(), t.num_tenant.last()) {
                if first <= plast {
                    return Err(BuildError::OverlappingNumbers {
                        a: t.tenants[pt as usize].id.clone(),
                        b: t.tenants[tenant as usize].id.clone(),
                    });
                }
                // Same digit count and contiguous: one range (keys are length-tagged).
                if pt == tenant && first == plast + 1 && first >> 50 == plast >> 50 {
                    if let Some(l) = t.num_last.last_mut() {
                        *l = last;
                    }
                    continue;
                }
            }
            t.num_first.push(first);
            t.num_last.push(last);
            t.num_tenant.push(tenant);
        }
        t.num_first.shrink_to_fit();
        t.num_last.shrink_to_fit();
        t.num_tenant.shrink_to_fit();
        t.lpm_start.shrink_to_fit();
        t.lpm_set.shrink_to_fit();
        Ok(t)
    }

    fn push_set(&mut self, it: impl Iterator<Item = RouteChoice>) -> Result<u32, BuildError> {
        let start = u32_of(self.choices.len())?;
        self.choices.extend(it);
        let len = u32_of(self.choices.len())? - start;
        self.sets.push((start, len));
        u32_of(self.sets.len() - 1)
    }

    /// Turns nested prefix intervals into disjoint ones, each mapped to its longest prefix,
    /// appended to `lpm_start`/`lpm_set`. Returns the tenant's slice.
    fn flatten(
        &mut self,
        iv: &mut [(u64, u64, u32)],
        stack: &mut Vec<(u64, u32)>,
    ) -> Result<(u32, u32), BuildError> {
        let from = self.lpm_start.len();
        // Outer (longer) intervals before the ones they contain.
        iv.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        stack.clear();
        let emit = |starts: &mut Vec<u64>, sets: &mut Vec<u32>, s: u64, v: u32| {
            if starts.len() > from && starts.last() == Some(&s) {
                if let Some(x) = sets.last_mut() {
                    *x = v;
                }
            } else if !(starts.len() > from && sets.last() == Some(&v)) {
                starts.push(s);
                sets.push(v);
            }
        };
        emit(&mut self.lpm_start, &mut self.lpm_set, 0, NO_SET);
        for &(low, high, set) in iv.iter() {
            while let Some(&(top_high, _)) = stack.last() {
                if top_high >= low {
                    break;
                }
                stack.pop();
                let parent = stack.last().map_or(NO_SET, |x| x.1);
                emit(&mut self.lpm_start, &mut self.lpm_set, top_high + 1, parent);
            }
            emit(&mut self.lpm_start, &mut self.lpm_set, low, set);
            stack.push((high, set));
        }
        while let Some((top_high, _)) = stack.pop() {
            let parent = stack.last().map_or(NO_SET, |x| x.1);
            emit(&mut self.lpm_start, &mut self.lpm_set, top_high + 1, parent);
        }
        Ok((u32_of(from)?, u32_of(self.lpm_start.len())?))
    }

    /// The carrier base FQDN (lowercase).
    pub fn base_fqdn(&self) -> &str {
        &self.base
    }

    /// Tenant by Request-URI host `<label>.<base>` (TI-19), case-insensitive, trailing dot
    /// allowed. The base itself and deeper names are no tenant.
    pub fn tenant_by_host(&self, host: &str) -> Option<TenantId> {
        let h = host.strip_suffix('.').unwrap_or(host).as_bytes();
        let base = self.base.as_bytes();
        if base.is_empty() || h.len() < base.len() + 2 {
            return None;
        }
        let (label, rest) = h.split_at(h.len() - base.len() - 1);
        if rest[0] != b'.' || !rest[1..].eq_ignore_ascii_case(base) || label.contains(&b'.') {
            return None;
        }
        let mut buf = [0u8; 63];
        let key = lower_label(label, &mut buf)?;
        self.by_label.get(key).copied()
    }

    /// Tenant by Operator Connect GUID (`X-MS-TenantID`, TI-19).
    pub fn tenant_by_guid(&self, guid: &str) -> Option<TenantId> {
        self.by_guid.get(&parse_guid(guid)?).copied()
    }

    /// Tenant of a call from Teams: the tenant whose GUID the header names (Operator
    /// Connect), else the Request-URI host (Direct Routing carrier model). A GUID no tenant
    /// is configured with does not hide the host: Microsoft may send `X-MS-TenantID` on
    /// carrier-model calls too, and those tenants are configured by subdomain only.
    /// None -> 404/403 without state (TI-19).
    pub fn tenant_of_request(&self, host: &str, x_ms_tenant_id: Option<&str>) -> Option<TenantId> {
        x_ms_tenant_id
            .and_then(|g| self.tenant_by_guid(g))
            .or_else(|| self.tenant_by_host(host))
    }

    /// Tenant holding a `+` E.164 number (visual separators ignored); PSTN -> Teams.
    pub fn tenant_by_number(&self, e164: &str) -> Option<TenantId> {
        let key = number::e164_key(e164).ok()?;
        let i = self
            .num_first
            .partition_point(|&f| f <= key)
            .checked_sub(1)?;
        (key <= self.num_last[i]).then(|| TenantId(self.num_tenant[i]))
    }

    /// Calling-number screening (TI-20): true when the tenant does not screen or holds the
    /// number. A false answer means 403.
    pub fn calling_allowed(&self, tenant: TenantId, calling: &str) -> bool {
        match self.tenants.get(tenant.0 as usize) {
            Some(t) if t.screen_calling => self.tenant_by_number(calling) == Some(tenant),
            Some(_) => true,
            None => false,
        }
    }

    /// The route choices of the tenant's longest matching prefix, else its default group.
    /// `+` is optional in `called`; separators are ignored.
    pub fn route(&self, tenant: TenantId, called: &str) -> Result<&[RouteChoice], RouteError> {
        let t = self
            .tenants
            .get(tenant.0 as usize)
            .ok_or(RouteError::NoRoute)?;
        let key = number::lpm_key(called).map_err(RouteError::BadNumber)?;
        let (a, b) = (t.lpm.0 as usize, t.lpm.1 as usize);
        let starts = &self.lpm_start[a..b];
        // starts[0] == 0, so the partition point is at least 1.
        let i = starts.partition_point(|&s| s <= key).saturating_sub(1);
        let set = match self.lpm_set.get(a + i) {
            Some(&s) if s != NO_SET => s,
            _ => t.default.ok_or(RouteError::NoRoute)?,
        };
        let (s, n) = self.sets[set as usize];
        Ok(&self.choices[s as usize..(s + n) as usize])
    }

    /// Orders the gateways for one call: choices by priority (weighted within one), each
    /// group's members by priority (weighted within one), skipping gateways that are down,
    /// without duplicates, at most `max_attempts` new gateways per group and [`MAX_TARGETS`]
    /// in all.
    /// `seed` drives the weighted draws (the caller's RNG or a hash of the Call-ID).
    pub fn select(&self, choices: &[RouteChoice], seed: u64) -> Targets {
        let mut rng = seed;
        let mut out = Targets::new();
        let mut items = [(0u32, 0u32, false); MAX_TARGETS];
        let n = choices.len().min(MAX_TARGETS);
        for (d, c) in items.iter_mut().zip(&choices[..n]) {
            *d = (c.priority, c.weight, true);
        }
        let mut corder = [0u8; MAX_TARGETS];
        let nc = order(&items[..n], &mut rng, &mut corder);
        for &ci in &corder[..nc] {
            let Some(g) = self.groups.get(choices[usize::from(ci)].group.0 as usize) else {
                continue;
            };
            let m = g.members.len().min(MAX_TARGETS);
            for (d, mb) in items.iter_mut().zip(&g.members[..m]) {
                let up = self
                    .gateways
                    .get(mb.gateway.0 as usize)
                    .is_some_and(|gw| gw.health.is_up());
                *d = (mb.priority, mb.weight, up);
            }
            let mut morder = [0u8; MAX_TARGETS];
            let nm = order(&items[..m], &mut rng, &mut morder);
            // max_attempts counts gateways this group adds, not ones an earlier group added.
            let mut added = 0;
            for &mi in &morder[..nm] {
                if added == g.max_attempts {
                    break;
                }
                match out.push_unique(g.members[usize::from(mi)].gateway) {
                    None => return out,
                    Some(true) => added += 1,
                    Some(false) => {}
                }
            }
        }
        out
    }

    /// Route and select in one: tenant + called number -> ordered gateways.
    pub fn targets(
        &self,
        tenant: TenantId,
        called: &str,
        seed: u64,
    ) -> Result<Targets, RouteError> {
        let choices = self.route(tenant, called)?;
        let t = self.select(choices, seed);
        if t.is_empty() {
            return Err(RouteError::AllDown);
        }
        Ok(t)
    }

    /// A tenant.
    pub fn tenant(&self, id: TenantId) -> Option<&TenantInfo> {
        self.tenants.get(id.0 as usize)
    }

    /// A tenant by its configured id (admin, tests; linear).
    pub fn tenant_id(&self, name: &str) -> Option<TenantId> {
        self.tenants
            .iter()
            .position(|t| t.id == name)
            .map(|i| TenantId(i as u32))
    }

    /// A gateway.
    pub fn gateway(&self, id: GatewayId) -> Option<&GatewayInfo> {
        self.gateways.get(id.0 as usize)
    }

    /// A gateway by name (linear).
    pub fn gateway_id(&self, name: &str) -> Option<GatewayId> {
        self.gateways
            .iter()
            .position(|g| g.name == name)
            .map(|i| GatewayId(i as u32))
    }

    /// A group.
    pub fn group(&self, id: GroupId) -> Option<&GroupInfo> {
        self.groups.get(id.0 as usize)
    }

    /// All gateways (for the OPTIONS prober: probe those with `options`).
    pub fn gateways(&self) -> &[GatewayInfo] {
        &self.gateways
    }

    /// All tenants.
    pub fn tenants(&self) -> &[TenantInfo] {
        &self.tenants
    }

    /// Inventory entries after merging adjacent ranges.
    pub fn inventory_ranges(&self) -> usize {
        self.num_first.len()
    }

    /// LPM intervals across all tenants.
    pub fn lpm_intervals(&self) -> usize {
        self.lpm_start.len()
    }

    /// Bytes held by the lookup arrays and maps (approximate for the hash maps: entries plus
    /// one control byte each; strings and per-tenant vectors included).
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        let v = |cap: usize, sz: usize| cap * sz;
        let mut n = size_of::<Tables>();
        n += v(self.num_first.capacity(), 8) + v(self.num_last.capacity(), 8);
        n += v(self.num_tenant.capacity(), 4);
        n += v(self.lpm_start.capacity(), 8) + v(self.lpm_set.capacity(), 4);
        n += v(self.sets.capacity(), size_of::<(u32, u32)>());
        n += v(self.choices.capacity(), size_of::<RouteChoice>());
        n += self.by_label.capacity() * (size_of::<(Box<[u8]>, TenantId)>() + 1);
        n += self.by_label.keys().map(|k| k.len()).sum::<usize>();
        n += self.by_guid.capacity() * (size_of::<(u128, TenantId)>() + 1);
        n += v(self.tenants.capacity(), size_of::<TenantInfo>());
        for t in &self.tenants {
            n += t.id.capacity() + t.tls.capacity();
            n += t
                .fqdns
                .iter()
                .map(|f| f.capacity() + size_of::<String>())
                .sum::<usize>();
        }
        n += v(self.groups.capacity(), size_of::<GroupInfo>());
        n += self
            .groups
            .iter()
            .map(|g| g.members.capacity() * size_of::<Member>())
            .sum::<usize>();
        n += v(self.gateways.capacity(), size_of::<GatewayInfo>());
        n
    }
}

#[cfg(test)]
mod tests;
