//! `sbc-policy`: the call policy of a Teams carrier SBC, as the call engine's
//! [`sbc_b2bua::Router`] (issue 5; rules TI-12..TI-25, TI-38..TI-40 of `teams-interop.md`).
//!
//! It answers, for every new INVITE and without I/O:
//!
//! * **which side it came from**: the Microsoft edge (over TLS, from the Microsoft source
//!   ranges, TI-4/TI-20) or a PSTN gateway (its source address is one of a configured
//!   gateway's resolved addresses);
//! * **whose it is**: Teams → PSTN, the tenant from `X-MS-TenantID` (Operator Connect) or the
//!   Request-URI host `<label>.<base>` (carrier model, TI-19); PSTN → Teams, the tenant holding
//!   the called number (the number inventory);
//! * **what kind it is**: emergency (tenant/country dial strings, `urn:service:sos*`, TI-38)
//!   before anything else;
//! * **where it goes**: Teams → PSTN by the tenant's longest-prefix route and weighted gateway
//!   groups (emergency calls by the tenant's emergency group), numbers in each gateway's format;
//!   PSTN → Teams to the Microsoft edges in order (sip, sip2, sip3, TI-3/TI-18) with
//!   `sip:+E164@sip.pstnhub.microsoft.com;user=phone` (TI-12), From and Contact on the tenant's
//!   FQDN (TI-13, TI-14);
//! * **what to refuse, before any state**: unknown tenant → 404 (TI-19), a calling number the
//!   tenant does not hold → 403 (TI-20), a number that cannot be normalised → 484, no route →
//!   404, every gateway down → 503 (TI-22), an unknown source → 403.
//!
//! A [`CallPolicy`] is immutable; a reload builds a new one (new tables, same gateway health)
//! and the shell swaps it into the engines. Calls in progress keep the targets they were given.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use ipnet::IpNet;
use sbc_b2bua::{CallClass, Presentation, RouteDecision, Router, StaticRouter, Target};
use sbc_config::{Config, TransportKind};
use sbc_emergency::{extract_location, ElinStore, EmergencyPolicy};
use sbc_routing::{GatewayId, GroupId, RouteChoice, RouteError, Tables, TenantId};
use sbc_sip::uri::Uri;
use sbc_sip::{HeaderName, Message};
use sbc_txn::{Peer, Transport};

/// The trunk name of the Microsoft side (leg policy, limits, CDRs).
pub const TEAMS_TRUNK: &str = "teams";

/// The Request-URI host of every INVITE to Microsoft, whichever proxy it goes to (TI-12).
pub const TEAMS_RURI_HOST: &str = "sip.pstnhub.microsoft.com";

/// One Microsoft edge target (TI-3), resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeTarget {
    /// The proxy's name (SNI, TI-6).
    pub host: String,
    /// Its addresses, in the order to try them.
    pub peers: Vec<Peer>,
}

/// Milliseconds on the shell's clock (wall clock: the callback window spans reloads).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The emergency side of the policy (TI-38..TI-42): the compiled rules, and the ELIN /
/// callback memory, which the shell keeps across reloads (one store per node).
#[derive(Clone)]
pub struct EmergencyContext {
    /// Dial strings, ELIN plans, location options.
    pub policy: Arc<EmergencyPolicy>,
    /// ELIN bindings and recent emergency callers.
    pub store: Arc<Mutex<ElinStore>>,
    /// Now, in milliseconds.
    pub clock: Clock,
}

impl std::fmt::Debug for EmergencyContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmergencyContext").finish_non_exhaustive()
    }
}

impl EmergencyContext {
    fn store(&self) -> std::sync::MutexGuard<'_, ElinStore> {
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What [`CallPolicy::new`] needs besides the configuration: what the shell resolved.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// Each gateway's addresses by name (RFC 3263 order).
    pub gateways: HashMap<String, Vec<Peer>>,
    /// The Microsoft edges in order of preference.
    pub edges: Vec<EdgeTarget>,
}

#[derive(Debug)]
struct TeamsSide {
    base: String,
    port: u16,
    ranges: Vec<IpNet>,
}

/// The call policy (see the crate documentation).
#[derive(Debug)]
pub struct CallPolicy {
    tables: Arc<Tables>,
    teams: Option<TeamsSide>,
    /// Resolved addresses per gateway, by [`GatewayId`].
    gw_peers: Vec<Vec<Peer>>,
    /// Source address → gateway, for calls from the PSTN: the exact address first, else
    /// the IP (gateways may send from another port).
    gw_by_addr: HashMap<SocketAddr, GatewayId>,
    gw_by_ip: HashMap<IpAddr, GatewayId>,
    edges: Vec<EdgeTarget>,
    emergency_group: HashMap<TenantId, GroupId>,
    emergency: Option<EmergencyContext>,
    /// The `[[route]]` source routes (labs, plain trunks) for everything else.
    fallback: StaticRouter,
}

/// Why a policy could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

fn reject(status: u16, reason: &str) -> RouteDecision {
    RouteDecision::Reject {
        status,
        reason: Some(reason.to_owned()),
    }
}

/// A cheap, stable spread of calls over weighted gateways: FNV-1a of the Call-ID.
fn seed_of(req: &Message) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in req.call_id().unwrap_or_default() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The user part of a SIP URI or the number of a tel URI, without visual separators'
/// trouble (the routing crate ignores them) and without `;params` in the user part.
fn user_of<'a>(uri: &Uri<'a>) -> Option<&'a str> {
    let raw = match uri {
        Uri::Sip(u) => u.user?,
        Uri::Tel(t) => t.number,
        Uri::Absolute(_) => return None,
    };
    let raw = raw.split(|&b| b == b';').next().unwrap_or(raw);
    std::str::from_utf8(raw).ok()
}

fn host_of<'a>(uri: &Uri<'a>) -> Option<&'a str> {
    match uri {
        Uri::Sip(u) => std::str::from_utf8(u.host_raw).ok(),
        _ => None,
    }
}

/// The caller from one parse of From (and PAI): the number from P-Asserted-Identity when
/// present (the network-asserted identity, TI-13), else From's; the display name From's.
fn caller_of(req: &Message) -> (Option<&str>, Option<&[u8]>) {
    let from = req
        .from_raw()
        .and_then(|v| sbc_sip::addr::parse_name_addr(v).ok());
    let pai = req
        .get(HeaderName::PAssertedIdentity)
        .and_then(|v| sbc_sip::addr::parse_name_addr(v).ok())
        .and_then(|na| user_of(&na.uri));
    let number = pai.or_else(|| from.as_ref().and_then(|na| user_of(&na.uri)));
    (number, from.and_then(|na| na.display))
}

fn name_addr(display: Option<&[u8]>, uri: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(uri.len() + 40);
    if let Some(d) = display {
        v.extend_from_slice(d);
        v.push(b' ');
    }
    v.push(b'<');
    v.extend_from_slice(uri.as_bytes());
    v.push(b'>');
    v
}

/// The tenant's transfer mode as the engine's (TI-26).
fn refer_mode(m: sbc_config::ReferMode) -> sbc_b2bua::ReferMode {
    match m {
        sbc_config::ReferMode::Handle => sbc_b2bua::ReferMode::Terminate,
        sbc_config::ReferMode::Microsoft => sbc_b2bua::ReferMode::Reject,
    }
}

fn txn_transport(t: TransportKind) -> Transport {
    match t {
        TransportKind::Udp => Transport::Udp,
        TransportKind::Tcp => Transport::Tcp,
        TransportKind::Tls => Transport::Tls,
    }
}

fn transport_param(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "",
        Transport::Tcp => ";transport=tcp",
        Transport::Tls => ";transport=tls",
        _ => "",
    }
}

impl CallPolicy {
    /// Builds the policy from a validated configuration, its routing tables, what the shell
    /// resolved, and the emergency policy (if any).
    pub fn new(
        cfg: &Config,
        tables: Arc<Tables>,
        resolved: &Resolved,
        emergency: Option<EmergencyContext>,
        fallback: StaticRouter,
    ) -> Result<CallPolicy, PolicyError> {
        let teams = cfg.teams.as_ref().map(|t| TeamsSide {
            base: t.base_fqdn.get_ref().to_ascii_lowercase(),
            port: t.sbc_port,
            ranges: t.source_ranges.clone(),
        });
        let mut gw_peers = Vec::with_capacity(tables.gateways().len());
        let mut gw_by_ip = HashMap::new();
        let mut gw_by_addr = HashMap::new();
        for (i, g) in tables.gateways().iter().enumerate() {
            let mut peers = resolved.gateways.get(&g.name).cloned().unwrap_or_default();
            // A literal address needs no resolver.
            if peers.is_empty() {
                if let Ok(a) = g.address.parse() {
                    peers.push(Peer::new(txn_transport(g.transport), a));
                }
            }
            for p in &peers {
                gw_by_addr.entry(p.addr).or_insert(GatewayId(i as u32));
                gw_by_ip.entry(p.addr.ip()).or_insert(GatewayId(i as u32));
            }
            gw_peers.push(peers);
        }
        let mut group_by_name = HashMap::new();
        let mut gi = 0u32;
        while let Some(g) = tables.group(GroupId(gi)) {
            group_by_name.insert(g.name.clone(), GroupId(gi));
            gi += 1;
        }
        let mut emergency_group = HashMap::new();
        for t in &cfg.tenants {
            if let Some(g) = &t.emergency_group {
                let tid = tables.tenant_id(t.id.get_ref()).ok_or_else(|| {
                    PolicyError(format!("tenant {} not in tables", t.id.get_ref()))
                })?;
                let gid = group_by_name.get(g.get_ref()).ok_or_else(|| {
                    PolicyError(format!("emergency_group {} not in tables", g.get_ref()))
                })?;
                emergency_group.insert(tid, *gid);
            }
        }
        Ok(CallPolicy {
            tables,
            teams,
            gw_peers,
            gw_by_addr,
            gw_by_ip,
            edges: resolved.edges.clone(),
            emergency_group,
            emergency,
            fallback,
        })
    }

    /// The tables (admin, metrics, tests).
    pub fn tables(&self) -> &Arc<Tables> {
        &self.tables
    }

    /// The SNI name for an outbound TLS connection to `peer`: the Microsoft edge host it
    /// resolves (TI-6), if it is one.
    pub fn server_name(&self, peer: Peer) -> Option<&str> {
        self.edges
            .iter()
            .find(|e| e.peers.contains(&peer))
            .map(|e| e.host.as_str())
    }

    fn gateway_of(&self, from: Peer) -> Option<GatewayId> {
        self.gw_by_addr
            .get(&from.addr)
            .or_else(|| self.gw_by_ip.get(&from.addr.ip()))
            .copied()
    }

    /// True for a request from the Microsoft edge: over TLS from the Microsoft ranges (TI-4;
    /// the listener verified its client certificate, TI-5/TI-20).
    pub fn from_teams(&self, from: Peer) -> bool {
        self.teams.as_ref().is_some_and(|t| {
            from.transport == Transport::Tls && t.ranges.iter().any(|n| n.contains(&from.addr.ip()))
        })
    }

    fn teams_tenant(&self, req: &Message) -> Option<TenantId> {
        let ruri = req.request_uri()?;
        let host = host_of(&ruri).unwrap_or("");
        let guid = req
            .get_raw(b"X-MS-TenantID")
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::trim);
        self.tables.tenant_of_request(host, guid)
    }

    /// A PSAP callback to `called` (an ELIN bound to a recent caller, or a recent emergency
    /// caller's own number) within the window (TI-41, TI-42).
    fn callback(&self, tenant: TenantId, called: &str) -> Option<sbc_emergency::Callback> {
        let e = self.emergency.as_ref()?;
        let info = self.tables.tenant(tenant)?;
        let now = (e.clock)();
        e.store().callback(&info.id, called, now)
    }

    /// The called number of a call from a gateway, as E.164, and its tenant.
    fn pstn_called(&self, req: &Message, from: Peer) -> Option<(TenantId, String)> {
        let gw = self.tables.gateway(self.gateway_of(from)?)?;
        let ruri = req.request_uri()?;
        let called = gw.numbers.to_e164(user_of(&ruri)?).ok()?;
        let t = self.tables.tenant_by_number(called.as_str())?;
        Some((t, called.as_str().to_owned()))
    }

    fn is_emergency(&self, tenant: Option<TenantId>, req: &Message) -> bool {
        let Some(e) = &self.emergency else {
            return false;
        };
        let Some(ruri) = req.request_uri() else {
            return false;
        };
        let to = req
            .to_raw()
            .and_then(|v| sbc_sip::addr::parse_name_addr(v).ok());
        let tenant = tenant
            .and_then(|t| self.tables.tenant(t))
            .map_or("", |t| t.id.as_str());
        e.policy
            .classify(tenant, &ruri, to.as_ref().map(|na| &na.uri))
            .is_some()
    }

    /// Teams → PSTN (TI-19..TI-22).
    fn teams_to_pstn(&self, req: &Message) -> RouteDecision {
        let Some(tenant) = self.teams_tenant(req) else {
            return reject(404, "Unknown Tenant");
        };
        let Some(info) = self.tables.tenant(tenant) else {
            return reject(404, "Unknown Tenant");
        };
        let Some(ruri) = req.request_uri() else {
            return reject(404, "Not Found");
        };
        let Some(called) = user_of(&ruri) else {
            return reject(404, "Not Found");
        };
        let emergency = self.is_emergency(Some(tenant), req);
        let (calling, display) = caller_of(req);
        let calling = calling.unwrap_or_default().to_owned();
        // TI-20 screening; emergency calls are never screened (TI-40).
        if !emergency && !self.tables.calling_allowed(tenant, &calling) {
            return reject(403, "Calling Number Not Allowed");
        }
        let seed = seed_of(req);
        let targets = match (emergency, self.emergency_group.get(&tenant)) {
            (true, Some(&g)) => {
                let t = self.tables.select(
                    &[RouteChoice {
                        group: g,
                        priority: 1,
                        weight: 1,
                    }],
                    seed,
                );
                if t.is_empty() {
                    Err(RouteError::AllDown)
                } else {
                    Ok(t)
                }
            }
            _ => self.tables.targets(tenant, called, seed),
        };
        let targets = match targets {
            Ok(t) => t,
            Err(RouteError::BadNumber(_)) => return reject(484, "Address Incomplete"),
            Err(RouteError::NoRoute) => return reject(404, "No Route"),
            Err(RouteError::AllDown) => return reject(503, "Service Unavailable"),
        };
        // TI-41: in ELIN mode the PSAP sees the ELIN of the caller's location, and the
        // binding ELIN -> caller is remembered for callbacks (TI-42). Logged at warn, the
        // location itself never (TI-39; only whether it came and by which method).
        let mut calling = calling;
        if emergency {
            if let Some(e) = &self.emergency {
                let loc = extract_location(req, &e.policy.location_options(&info.id));
                let now = (e.clock)();
                let presented = e.store().on_emergency_call(
                    e.policy.elin(),
                    &info.id,
                    &calling,
                    Some(&loc),
                    now,
                );
                let methods: Vec<&str> = loc.methods().collect();
                let route: Vec<&str> = targets
                    .as_slice()
                    .iter()
                    .filter_map(|g| self.tables.gateway(*g).map(|g| g.name.as_str()))
                    .collect();
                tracing::warn!(
                    tenant = %info.id,
                    ?route,
                    location = ?loc.status(),
                    ?methods,
                    elin = presented.elin.is_some(),
                    "emergency call"
                );
                calling = presented.number;
            }
        }
        let fqdn = info.fqdns.first().cloned();
        let a_contact = self.teams.as_ref().map(|t| {
            let host = fqdn.clone().unwrap_or_else(|| t.base.clone());
            format!("sip:{host}:{};transport=tls", t.port)
        });
        let mut out = Vec::new();
        for &gid in targets.as_slice() {
            let Some(gw) = self.tables.gateway(gid) else {
                continue;
            };
            // Numbers in the gateway's format; emergency dial strings as dialled.
            let called_fmt = if emergency {
                called.to_owned()
            } else {
                match gw.numbers.from_e164(called) {
                    Ok(n) => n.as_str().to_owned(),
                    Err(_) => called.to_owned(),
                }
            };
            let calling_fmt = match gw.numbers.from_e164(&calling) {
                Ok(n) => n.as_str().to_owned(),
                Err(_) => calling.clone(),
            };
            for &peer in self.gw_peers.get(gid.0 as usize).into_iter().flatten() {
                let host = peer.addr.to_string();
                let tp = transport_param(peer.transport);
                let ruri = format!("sip:{called_fmt}@{host}{tp};user=phone");
                let mut t = Target::new(peer, ruri.clone().into_bytes(), gw.name.clone());
                t.presentation = Presentation {
                    from: (!calling_fmt.is_empty()).then(|| {
                        name_addr(display, &format!("sip:{calling_fmt}@{host};user=phone"))
                    }),
                    to: Some(name_addr(
                        None,
                        &format!("sip:{called_fmt}@{host};user=phone"),
                    )),
                    contact: None,
                    a_contact: a_contact.clone(),
                    tenant: Some(info.id.clone()),
                    refer: Some(refer_mode(info.refer)),
                };
                out.push(t);
            }
        }
        if out.is_empty() {
            return reject(503, "Service Unavailable");
        }
        RouteDecision::Targets(out)
    }

    /// PSTN → Teams (TI-12..TI-14, TI-18), when the called number belongs to a tenant.
    fn pstn_to_teams(&self, req: &Message, gw: GatewayId) -> Option<RouteDecision> {
        let teams = self.teams.as_ref()?;
        let gw = self.tables.gateway(gw)?;
        let ruri = req.request_uri()?;
        let called_raw = user_of(&ruri)?;
        let Ok(called) = gw.numbers.to_e164(called_raw) else {
            return Some(reject(484, "Address Incomplete"));
        };
        let tenant = self.tables.tenant_by_number(called.as_str())?;
        let info = self.tables.tenant(tenant)?;
        // TI-41: a PSAP calling an ELIN back reaches the caller it stood for.
        let called: String = match self.callback(tenant, called.as_str()) {
            Some(cb) if cb.via_elin.is_some() => {
                tracing::warn!(tenant = %info.id, "emergency callback to an ELIN");
                cb.route_to
            }
            _ => called.as_str().to_owned(),
        };
        // TI-25: an INVITE marked by Microsoft's FMC must not be routed back to Teams.
        if req.get_raw(b"X-MS-FMC").is_some() {
            return Some(reject(403, "Not Routed Back To Teams"));
        }
        let fqdn = info
            .fqdns
            .first()
            .cloned()
            .unwrap_or_else(|| teams.base.clone());
        let (calling, display) = caller_of(req);
        let calling = calling
            .and_then(|c| gw.numbers.to_e164(c).ok().map(|n| n.as_str().to_owned()))
            .unwrap_or_else(|| "anonymous".to_owned());
        let ruri = format!("sip:{}@{TEAMS_RURI_HOST};user=phone", called.as_str());
        let contact = format!("sip:{fqdn}:{};transport=tls", teams.port);
        let from = name_addr(display, &format!("sip:{calling}@{fqdn};user=phone"));
        let mut out = Vec::new();
        for e in &self.edges {
            for &peer in &e.peers {
                let mut t = Target::new(peer, ruri.clone().into_bytes(), TEAMS_TRUNK);
                t.presentation = Presentation {
                    from: Some(from.clone()),
                    to: Some(name_addr(None, &ruri)),
                    contact: Some(contact.clone()),
                    a_contact: None,
                    tenant: Some(info.id.clone()),
                    refer: Some(refer_mode(info.refer)),
                };
                out.push(t);
            }
        }
        if out.is_empty() {
            return Some(reject(503, "Service Unavailable"));
        }
        Some(RouteDecision::Targets(out))
    }
}

impl Router for CallPolicy {
    fn classify(&self, req: &Message, from: Peer) -> CallClass {
        let tenant = if self.from_teams(from) {
            self.teams_tenant(req)
        } else {
            None
        };
        if self.is_emergency(tenant, req) {
            return CallClass::Emergency;
        }
        // TI-42: a PSAP calling back passes screening and limits.
        if !self.from_teams(from) {
            if let Some((t, called)) = self.pstn_called(req, from) {
                if self.callback(t, &called).is_some() {
                    return CallClass::Callback;
                }
            }
        }
        CallClass::Normal
    }

    fn route(&self, req: &Message, from: Peer) -> RouteDecision {
        if self.from_teams(from) {
            return self.teams_to_pstn(req);
        }
        if let Some(gw) = self.gateway_of(from) {
            if let Some(d) = self.pstn_to_teams(req, gw) {
                return d;
            }
        }
        self.fallback.route(req, from)
    }

    fn source_trunk(&self, req: &Message, from: Peer) -> Option<String> {
        if self.from_teams(from) {
            return Some(TEAMS_TRUNK.to_owned());
        }
        if let Some(g) = self.gateway_of(from).and_then(|g| self.tables.gateway(g)) {
            return Some(g.name.clone());
        }
        self.fallback.source_trunk(req, from)
    }
}

#[cfg(test)]
mod tests;
