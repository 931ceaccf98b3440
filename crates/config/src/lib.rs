//! `sbc-config`: the typed, strict, versioned configuration of `sbcd`
//! (architecture principle 13).
//!
//! * Every table is `deny_unknown_fields`: a typo is an error, never silently ignored.
//! * `version = 1` is required, so a future format change is detected rather than misread.
//! * [`Config::parse`] reports TOML and type errors with the file, line and column;
//!   [`Config::validate`] checks what TOML cannot (unique names, references that resolve,
//!   sane limits) and reports the offending entry by name and line.
//! * The crate is pure: it reads no files itself ([`Config::load`] is the one convenience that
//!   does, for the CLI) and starts nothing.

mod teams;

pub use teams::{
    parse_numbers_csv, Edge, Forwarding, GatewayGroup, GroupMember, NumberFormat, NumberRange,
    NumberStyle, OptionsProbe, ReferMode, Rel100, Teams, Tenant, TenantRoute, DEFAULT_EDGES,
    DEFAULT_MICROSOFT_RANGES, MAX_GROUP_MEMBERS,
};

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

/// The embedded default configuration: a lab on loopback (see `configs/default.toml`).
pub const DEFAULT_TOML: &str = include_str!("../../../configs/default.toml");

/// The configuration format version this build understands.
pub const VERSION: u32 = 1;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version; must be [`VERSION`].
    pub version: u32,
    /// This node.
    #[serde(default)]
    pub node: Node,
    /// SIP protocol settings (timers, parser limits).
    #[serde(default)]
    pub sip: SipSettings,
    /// TLS profiles referenced by listeners and trunks.
    #[serde(default, rename = "tls")]
    pub tls_profiles: Vec<TlsProfile>,
    /// Signalling listeners.
    #[serde(rename = "listener")]
    pub listeners: Vec<Listener>,
    /// The admin/metrics HTTP listener.
    #[serde(default)]
    pub admin: Admin,
    /// Gateways (PSTN side) calls can be sent to.
    #[serde(default, rename = "gateway")]
    pub gateways: Vec<Gateway>,
    /// Source-based routes: calls from these sources go to these gateways, in order.
    #[serde(default, rename = "route")]
    pub routes: Vec<Route>,
    /// Call handling: limits and timers.
    #[serde(default)]
    pub calls: Calls,
    /// Call detail records.
    #[serde(default)]
    pub cdr: Cdr,
    /// DNS resolution.
    #[serde(default)]
    pub dns: Dns,
    /// The Teams Direct Routing / Operator Connect trunk (`[teams]`).
    #[serde(default)]
    pub teams: Option<Teams>,
    /// Gateway groups (`[[gateway_group]]`): the targets tenant routes point at.
    #[serde(default, rename = "gateway_group")]
    pub gateway_groups: Vec<GatewayGroup>,
    /// Microsoft 365 tenants served by this carrier trunk (`[[tenant]]`).
    #[serde(default, rename = "tenant")]
    pub tenants: Vec<Tenant>,
    /// Header policies gateways name (`[[header_policy]]`): which headers of the other leg
    /// cross into theirs, which are removed, which are added (a remove plus an add is a
    /// replace).
    #[serde(default, rename = "header_policy")]
    pub header_policies: Vec<HeaderPolicy>,
    /// Emergency calls: dial strings per country and tenant, ELIN, callbacks, reserved
    /// capacity (`[emergency]`, TI-38..TI-42; see docs/emergency.md).
    #[serde(default)]
    pub emergency: sbc_emergency::EmergencyConfig,
    /// Media anchoring (`[media]`, TI-29, TI-32..TI-37; see docs/media.md). Off by default:
    /// bodies then cross byte for byte.
    #[serde(default)]
    pub media: Media,
}

/// Media anchoring: SDP rewritten toward the SBC's relay, SRTP on the Teams trunk, plain RTP
/// (or as the gateway offers) elsewhere.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Media {
    /// Anchor media. `false`: bodies pass unchanged.
    pub enabled: bool,
    /// The relay's advertised IP (`c=`/`o=` of rewritten SDP, and the sockets' bind
    /// address). Required when `enabled`.
    pub address: Option<std::net::IpAddr>,
    /// First relay port (RTP even, RTCP = RTP + 1).
    pub port_min: u16,
    /// Last relay port (inclusive).
    pub port_max: u16,
    /// Trunks (gateway or route names) given the Microsoft media policy (SRTP required,
    /// TI-32) besides the Teams trunk itself: Teams-like peers in labs and tests.
    pub microsoft_trunks: Vec<String>,
}

impl Default for Media {
    fn default() -> Self {
        Media {
            enabled: false,
            address: None,
            port_min: 40000,
            port_max: 49999,
            microsoft_trunks: Vec::new(),
        }
    }
}

/// One header policy (`[[header_policy]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderPolicy {
    /// Name gateways refer to.
    pub name: Spanned<String>,
    /// Headers copied from the other leg on top of the default end-to-end list.
    #[serde(default)]
    pub copy: Vec<String>,
    /// Headers never copied (even from the default list).
    #[serde(default)]
    pub remove: Vec<String>,
    /// Headers added to every message toward this trunk.
    #[serde(default)]
    pub add: Vec<HeaderAdd>,
}

/// A header a policy adds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderAdd {
    /// Header name (a token).
    pub name: String,
    /// Its value (no CR or LF).
    pub value: String,
}

/// DNS resolution of gateway names (RFC 3263).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dns {
    /// Name servers (`ip:port`); empty = the system's /etc/resolv.conf.
    pub nameservers: Vec<SocketAddr>,
    /// Static host entries that override DNS (labs, tests, pinned peers).
    pub hosts: Vec<StaticHost>,
    /// Re-resolve names at least this often, seconds (TI-3 asks for 15 minutes at most).
    pub refresh_s: u64,
}

impl Default for Dns {
    fn default() -> Self {
        Dns {
            nameservers: Vec::new(),
            hosts: Vec::new(),
            refresh_s: 300,
        }
    }
}

/// One static host entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticHost {
    /// The host name.
    pub name: String,
    /// Its addresses, in preference order.
    pub addresses: Vec<std::net::IpAddr>,
}

/// A gateway (a PSTN-side trunk).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// Name (unique; used in routes, CDRs and metrics).
    pub name: Spanned<String>,
    /// `ip:port`, `[ipv6]:port`, or a host name with an optional port: names are resolved
    /// by RFC 3263 (NAPTR/SRV/A/AAAA; A/AAAA only when a port is given) and re-resolved while
    /// running (TI-3).
    pub address: String,
    /// Transport.
    #[serde(default = "default_gw_transport")]
    pub transport: TransportKind,
    /// Concurrent calls through this gateway (none = unlimited).
    #[serde(default)]
    pub max_calls: Option<u32>,
    /// New calls per second through this gateway (none = unlimited).
    #[serde(default)]
    pub max_cps: Option<u32>,
    /// SIP OPTIONS probing; absent = no probing (the gateway is always considered up).
    #[serde(default)]
    pub options: Option<OptionsProbe>,
    /// Final responses that move the call to the next target (TI-18 style failover).
    #[serde(default = "default_failover_codes")]
    pub failover_codes: Vec<u16>,
    /// Fail over when the INVITE gets no answer in time (Timer B or `invite_timeout_ms`).
    #[serde(default = "yes")]
    pub failover_on_timeout: bool,
    /// Fail over on a transport error (connection refused, ICMP, TLS failure).
    #[serde(default = "yes")]
    pub failover_on_transport_error: bool,
    /// Give up on this gateway when no response (not even 100) arrives within this many
    /// milliseconds; `None` = RFC 3261 Timer B (64*T1).
    #[serde(default)]
    pub invite_timeout_ms: Option<u64>,
    /// How this gateway writes numbers (E.164 <-> national conversion).
    #[serde(default)]
    pub number_format: NumberFormat,
    /// Reliable provisional responses (RFC 3262) toward this gateway.
    #[serde(default)]
    pub rel100: Rel100,
    /// Name of the `[[header_policy]]` applied toward this trunk.
    #[serde(default)]
    pub header_policy: Option<String>,
    /// How call forwarding is signalled toward this gateway (TI-28).
    #[serde(default)]
    pub forwarding: Forwarding,
    /// Turn Microsoft's 183-with-SDP into 180 toward this gateway (TI-24).
    #[serde(default)]
    pub early_media_as_ringing: bool,
}

fn yes() -> bool {
    true
}

fn default_failover_codes() -> Vec<u16> {
    vec![408, 503, 504]
}

fn default_gw_transport() -> TransportKind {
    TransportKind::Udp
}

/// A source-based route.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Name.
    pub name: Spanned<String>,
    /// Source networks this route applies to.
    pub from: Vec<IpNet>,
    /// Gateways in failover order (RFC 3261 serial forking on 408/503/504/timeout).
    pub gateways: Vec<Spanned<String>>,
}

/// Call handling settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Calls {
    /// Most concurrent calls on this node (admission answers 503 + Retry-After beyond).
    pub max_calls: Option<u32>,
    /// Most new calls per second on this node.
    pub max_cps: Option<u32>,
    /// Retry-After seconds on admission rejections and drain.
    pub retry_after_s: u32,
    /// A call not answered within this many seconds is cancelled (480 to the caller).
    pub no_answer_timeout_s: u64,
    /// RFC 4028 Session-Expires the SBC asks for (0 disables session timers).
    pub session_expires_s: u32,
    /// RFC 4028 Min-SE (at least 90).
    pub min_se_s: u32,
    /// How long a drain (SIGTERM) waits for calls to finish, seconds.
    pub drain_timeout_s: u64,
}

impl Default for Calls {
    fn default() -> Self {
        Calls {
            max_calls: None,
            max_cps: None,
            retry_after_s: 5,
            no_answer_timeout_s: 180,
            session_expires_s: 1800,
            min_se_s: 90,
            drain_timeout_s: 60,
        }
    }
}

/// Call detail records.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cdr {
    /// JSON-lines file; `None` disables CDRs.
    pub path: Option<PathBuf>,
    /// Rotate when the file reaches this size.
    pub rotate_bytes: u64,
    /// Rotate at least this often, seconds.
    pub rotate_interval_s: u64,
    /// fsync at least this often, milliseconds.
    pub fsync_interval_ms: u64,
}

impl Default for Cdr {
    fn default() -> Self {
        Cdr {
            path: None,
            rotate_bytes: 64 * 1024 * 1024,
            rotate_interval_s: 3600,
            fsync_interval_ms: 200,
        }
    }
}

/// Node identity and behaviour.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Node {
    /// A name for logs and CDRs.
    pub name: String,
    /// `vendor/product/version` for `X-MS-SBC` (TI-17), `Server` and `User-Agent`.
    pub product: String,
}

impl Default for Node {
    fn default() -> Self {
        Node {
            name: "sbc".into(),
            product: concat!("sbc/sbcd/", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

/// SIP protocol settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipSettings {
    /// RFC 3261 T1 in milliseconds (RTT estimate; default 500).
    pub t1_ms: u64,
    /// RFC 3261 T2 in milliseconds (max non-INVITE retransmit interval; default 4000).
    pub t2_ms: u64,
    /// RFC 3261 T4 in milliseconds (max time a message stays in the network; default 5000).
    pub t4_ms: u64,
    /// Largest message accepted, bytes (default 65536; TI-8 needs at least 10 KiB).
    pub max_message_size: usize,
    /// Most header lines per message (default 256).
    pub max_headers: usize,
    /// Most Via values per message (default 64).
    pub max_vias: usize,
    /// Longest line, bytes (default 8192).
    pub max_line_len: usize,
}

impl Default for SipSettings {
    fn default() -> Self {
        SipSettings {
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
            max_message_size: 64 * 1024,
            max_headers: 256,
            max_vias: 64,
            max_line_len: 8 * 1024,
        }
    }
}

/// Signalling transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

/// Client-certificate policy of a TLS listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// Do not ask for a client certificate.
    #[default]
    None,
    /// Ask; verify when presented.
    Optional,
    /// Require a certificate that chains to the trust bundle (TI-5, TI-20).
    Required,
}

/// A TLS identity and trust bundle, referenced by name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsProfile {
    /// Profile name.
    pub name: Spanned<String>,
    /// PEM file with the certificate and its full chain (TI-5).
    pub cert_chain: PathBuf,
    /// PEM file with the private key.
    pub key: PathBuf,
    /// PEM bundle of trusted roots for verifying peers (TI-5 defaults: DigiCert Global Root
    /// G2 and Baltimore CyberTrust Root for Microsoft).
    #[serde(default)]
    pub trust_bundle: Option<PathBuf>,
}

/// A signalling listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    /// Listener name (unique).
    pub name: Spanned<String>,
    /// The zone or trunk this listener belongs to (e.g. `teams`, `pstn`, `lab`).
    pub zone: String,
    /// Transport.
    pub transport: TransportKind,
    /// Address and port to bind (IPv4 or IPv6).
    pub bind: SocketAddr,
    /// TLS profile name (required for `tls`).
    #[serde(default)]
    pub tls: Option<String>,
    /// Client-certificate policy (TLS only).
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// Sources allowed to reach this listener; empty = everyone (TI-4: the Teams listener
    /// lists Microsoft's ranges). Checked before any byte is parsed.
    #[serde(default)]
    pub allow: Vec<IpNet>,
    /// Sources refused even when allowed.
    #[serde(default)]
    pub deny: Vec<IpNet>,
    /// Concurrent TCP/TLS connections per source address.
    #[serde(default = "default_conns_per_source")]
    pub max_connections_per_source: usize,
    /// Concurrent TLS handshakes on this listener.
    #[serde(default = "default_handshakes")]
    pub max_concurrent_handshakes: usize,
    /// Handshake deadline, milliseconds.
    #[serde(default = "default_handshake_ms")]
    pub handshake_timeout_ms: u64,
    /// Idle stream connections are closed after this many seconds.
    #[serde(default = "default_idle_s")]
    pub idle_timeout_s: u64,
    /// A message must be complete this many milliseconds after its first byte (slow senders).
    #[serde(default = "default_header_read_ms")]
    pub message_timeout_ms: u64,
}

fn default_conns_per_source() -> usize {
    64
}
fn default_handshakes() -> usize {
    256
}
fn default_handshake_ms() -> u64 {
    5000
}
fn default_idle_s() -> u64 {
    600
}
fn default_header_read_ms() -> u64 {
    10_000
}

/// The admin HTTP listener (metrics, reload, health).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    /// Bind address; `None` disables it.
    pub listen: Option<SocketAddr>,
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 9090))),
        }
    }
}

/// A configuration error with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or `<embedded>`).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{}:{}: {}", self.file, l, c, self.reason),
            (Some(l), None) => write!(f, "{}:{}: {}", self.file, l, self.reason),
            _ => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

impl std::error::Error for ConfigError {}

/// `ip:port`, `[v6]:port`, or `host[:port]` with a plausible host name.
fn valid_host_port(s: &str) -> bool {
    if s.parse::<SocketAddr>().is_ok() {
        return true;
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    if port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0)) {
        return false;
    }
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// 1-based (line, column) of a byte offset.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src.as_bytes()[..offset.min(src.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, col)
}

impl Config {
    /// Parses and validates TOML text. `file` names the source in errors.
    pub fn parse(src: &str, file: &str) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(src).map_err(|e| {
            let (line, column) = match e.span() {
                Some(s) => {
                    let (l, c) = line_col(src, s.start);
                    (Some(l), Some(c))
                }
                None => (None, None),
            };
            ConfigError {
                file: file.into(),
                line,
                column,
                reason: e.message().trim().to_owned(),
            }
        })?;
        cfg.validate(src, file)?;
        Ok(cfg)
    }

    /// The embedded default (a lab on loopback).
    pub fn embedded_default() -> Config {
        // The embedded text is validated by this crate's tests; a failure here is a build bug.
        Config::parse(DEFAULT_TOML, "<embedded default>").unwrap_or_else(|e| panic!("{e}"))
    }

    /// Reads and parses a file, then reads the tenants' `numbers_file`s (relative paths are
    /// relative to the configuration file's directory).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: None,
            column: None,
            reason: e.to_string(),
        })?;
        let mut cfg = Config::parse(&src, &file)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        cfg.load_number_files(&file, |p| {
            std::fs::read_to_string(dir.join(p)).map_err(|e| e.to_string())
        })?;
        Ok(cfg)
    }

    /// Semantic checks TOML cannot express.
    fn validate(&mut self, src: &str, file: &str) -> Result<(), ConfigError> {
        let at = |span: std::ops::Range<usize>, reason: String| {
            let (l, c) = line_col(src, span.start);
            ConfigError {
                file: file.into(),
                line: Some(l),
                column: Some(c),
                reason,
            }
        };
        let plain = |reason: String| ConfigError {
            file: file.into(),
            line: None,
            column: None,
            reason,
        };
        if self.version != VERSION {
            return Err(plain(format!(
                "unsupported config version {} (this sbcd reads {VERSION})",
                self.version
            )));
        }
        let s = &self.sip;
        if s.t1_ms == 0 || s.t2_ms < s.t1_ms || s.t4_ms == 0 {
            return Err(plain(
                "sip timers: need t1_ms > 0, t2_ms >= t1_ms, t4_ms > 0".into(),
            ));
        }
        if s.max_message_size < 10 * 1024 {
            return Err(plain(
                "sip.max_message_size must be at least 10240 (TI-8)".into(),
            ));
        }
        if s.max_headers == 0 || s.max_vias == 0 || s.max_line_len < 256 {
            return Err(plain(
                "sip limits: max_headers and max_vias > 0, max_line_len >= 256".into(),
            ));
        }
        let m = &self.media;
        if m.enabled && m.address.is_none() {
            return Err(plain("media.address is required when media.enabled".into()));
        }
        // At least one even/odd pair above port 0 (RTP even, RTCP odd: RFC 3550 §11).
        if m.port_min.max(2).saturating_add(1) > m.port_max {
            return Err(plain(
                "media ports: need port_min < port_max, room for one RTP/RTCP pair".into(),
            ));
        }
        let mut tls_names = BTreeSet::new();
        for p in &self.tls_profiles {
            if !tls_names.insert(p.name.get_ref().as_str()) {
                return Err(at(
                    p.name.span(),
                    format!("duplicate tls profile '{}'", p.name.get_ref()),
                ));
            }
        }
        if self.listeners.is_empty() {
            return Err(plain("at least one [[listener]] is required".into()));
        }
        let mut names = BTreeSet::new();
        let mut binds = BTreeSet::new();
        for l in &self.listeners {
            let name = l.name.get_ref();
            if !names.insert(name.as_str()) {
                return Err(at(l.name.span(), format!("duplicate listener '{name}'")));
            }
            if !binds.insert((l.transport as u8, l.bind)) {
                return Err(at(
                    l.name.span(),
                    format!(
                        "listener '{name}': {} {:?} is bound twice",
                        l.bind, l.transport
                    ),
                ));
            }
            match (&l.transport, &l.tls) {
                (TransportKind::Tls, None) => {
                    return Err(at(
                        l.name.span(),
                        format!("listener '{name}': transport tls needs a tls profile"),
                    ))
                }
                (TransportKind::Tls, Some(p)) if !tls_names.contains(p.as_str()) => {
                    return Err(at(
                        l.name.span(),
                        format!("listener '{name}': unknown tls profile '{p}'"),
                    ))
                }
                (TransportKind::Udp | TransportKind::Tcp, Some(_)) => {
                    return Err(at(
                        l.name.span(),
                        format!("listener '{name}': tls profile on a non-TLS listener"),
                    ))
                }
                _ => {}
            }
            if l.transport != TransportKind::Tls && l.client_auth != ClientAuth::None {
                return Err(at(
                    l.name.span(),
                    format!("listener '{name}': client_auth needs transport tls"),
                ));
            }
            if l.client_auth != ClientAuth::None {
                let has_bundle = l
                    .tls
                    .as_ref()
                    .and_then(|p| self.tls_profiles.iter().find(|t| t.name.get_ref() == p))
                    .is_some_and(|t| t.trust_bundle.is_some());
                if !has_bundle {
                    return Err(at(l.name.span(), format!("listener '{name}': client_auth needs a trust_bundle in its tls profile")));
                }
            }
            if l.max_connections_per_source == 0
                || l.max_concurrent_handshakes == 0
                || l.handshake_timeout_ms == 0
            {
                return Err(at(
                    l.name.span(),
                    format!("listener '{name}': connection limits must be > 0"),
                ));
            }
        }
        let mut gws = BTreeSet::new();
        for g in &self.gateways {
            if !gws.insert(g.name.get_ref().as_str()) {
                return Err(at(
                    g.name.span(),
                    format!("duplicate gateway '{}'", g.name.get_ref()),
                ));
            }
            if !valid_host_port(&g.address) {
                return Err(at(
                    g.name.span(),
                    format!(
                        "gateway '{}': address '{}' is not ip:port or host[:port]",
                        g.name.get_ref(),
                        g.address
                    ),
                ));
            }
            if g.transport == TransportKind::Tls {
                return Err(at(
                    g.name.span(),
                    format!(
                        "gateway '{}': tls gateways need a tls profile (not supported yet)",
                        g.name.get_ref()
                    ),
                ));
            }
        }
        let mut routes = BTreeSet::new();
        for r in &self.routes {
            if !routes.insert(r.name.get_ref().as_str()) {
                return Err(at(
                    r.name.span(),
                    format!("duplicate route '{}'", r.name.get_ref()),
                ));
            }
            if r.gateways.is_empty() {
                return Err(at(
                    r.name.span(),
                    format!("route '{}' has no gateways", r.name.get_ref()),
                ));
            }
            for g in &r.gateways {
                if !gws.contains(g.get_ref().as_str()) {
                    return Err(at(
                        g.span(),
                        format!(
                            "route '{}': unknown gateway '{}'",
                            r.name.get_ref(),
                            g.get_ref()
                        ),
                    ));
                }
            }
        }
        if self.dns.refresh_s == 0 || self.dns.refresh_s > 900 {
            return Err(plain(
                "dns.refresh_s must be within 1..=900 (TI-3: re-resolve at least every 15 minutes)"
                    .into(),
            ));
        }
        for h in &self.dns.hosts {
            if h.addresses.is_empty() || !valid_host_port(&h.name) || h.name.contains(':') {
                return Err(plain(format!(
                    "dns.hosts: entry '{}' needs a host name and at least one address",
                    h.name
                )));
            }
        }
        let c = &self.calls;
        if c.session_expires_s != 0 && (c.min_se_s < 90 || c.session_expires_s < c.min_se_s) {
            return Err(plain(
                "calls: need min_se_s >= 90 and session_expires_s >= min_se_s (RFC 4028)".into(),
            ));
        }
        if c.no_answer_timeout_s == 0 {
            return Err(plain("calls.no_answer_timeout_s must be > 0".into()));
        }
        // Header policies: unique names, token header names, single-line values; gateways
        // name existing ones.
        let mut hp_names = BTreeSet::new();
        for hp in &self.header_policies {
            if !hp_names.insert(hp.name.get_ref().clone()) {
                return Err(at(
                    hp.name.span(),
                    format!("duplicate header_policy '{}'", hp.name.get_ref()),
                ));
            }
            let bad_name = hp
                .copy
                .iter()
                .chain(&hp.remove)
                .chain(hp.add.iter().map(|a| &a.name))
                .find(|n| !sbc_sip::lex::is_token_str(n.as_bytes()));
            if let Some(n) = bad_name {
                return Err(at(
                    hp.name.span(),
                    format!(
                        "header_policy '{}': '{n}' is not a header name",
                        hp.name.get_ref()
                    ),
                ));
            }
            if hp
                .add
                .iter()
                .any(|a| a.value.bytes().any(|b| b == b'\r' || b == b'\n'))
            {
                return Err(at(
                    hp.name.span(),
                    format!("header_policy '{}': a value spans lines", hp.name.get_ref()),
                ));
            }
        }
        for g in &self.gateways {
            if let Some(hp) = &g.header_policy {
                if !hp.is_empty() && !hp_names.contains(hp) {
                    return Err(at(
                        g.name.span(),
                        format!(
                            "gateway '{}': unknown header_policy '{hp}'",
                            g.name.get_ref()
                        ),
                    ));
                }
            }
        }
        // The emergency tables compile here so a bad dial string or ELIN map is refused
        // with the configuration, not at the first emergency call.
        sbc_emergency::EmergencyPolicy::new(&self.emergency)
            .map_err(|e| plain(format!("emergency: {e}")))?;
        teams::validate(self, file, &at, &plain)
    }

    /// The gateway by name.
    pub fn gateway(&self, name: &str) -> Option<&Gateway> {
        self.gateways.iter().find(|g| g.name.get_ref() == name)
    }

    /// The listener by name.
    pub fn listener(&self, name: &str) -> Option<&Listener> {
        self.listeners.iter().find(|l| l.name.get_ref() == name)
    }

    /// The TLS profile by name.
    pub fn tls_profile(&self, name: &str) -> Option<&TlsProfile> {
        self.tls_profiles.iter().find(|t| t.name.get_ref() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let c = Config::embedded_default();
        assert_eq!(c.version, 1);
        assert!(c
            .listeners
            .iter()
            .any(|l| l.transport == TransportKind::Udp && l.bind.port() == 5060));
        assert!(c
            .listeners
            .iter()
            .any(|l| l.transport == TransportKind::Tcp && l.bind.port() == 5060));
    }

    #[test]
    fn unknown_fields_are_errors_with_line() {
        let src = "version = 1\n[[listener]]\nname = \"a\"\nzone = \"lab\"\ntransport = \"udp\"\nbind = \"127.0.0.1:5060\"\nbindd = 1\n";
        let e = Config::parse(src, "x.toml").unwrap_err();
        assert_eq!(e.line, Some(7), "{e}");
        assert!(e.reason.contains("bindd"), "{e}");
    }

    #[test]
    fn routes_must_reference_gateways() {
        let base = "version = 1\n[[listener]]\nname = \"a\"\nzone = \"z\"\ntransport = \"udp\"\nbind = \"127.0.0.1:5060\"\n\
                    [[gateway]]\nname = \"gw\"\naddress = \"127.0.0.1:5080\"\n";
        let ok = format!(
            "{base}[[route]]\nname = \"r\"\nfrom = [\"127.0.0.0/8\"]\ngateways = [\"gw\"]\n"
        );
        assert!(Config::parse(&ok, "x").is_ok());
        let bad = format!("{base}[[route]]\nname = \"r\"\nfrom = [\"127.0.0.0/8\"]\ngateways = [\"gw\", \"nope\"]\n");
        let e = Config::parse(&bad, "x").unwrap_err();
        assert!(
            e.reason.contains("unknown gateway 'nope'") && e.line == Some(13),
            "{e}"
        );
    }

    #[test]
    fn semantic_errors_name_the_entry() {
        let l = |n: &str, t: &str, b: &str, extra: &str| {
            format!("[[listener]]\nname = \"{n}\"\nzone = \"z\"\ntransport = \"{t}\"\nbind = \"{b}\"\n{extra}\n")
        };
        let dup = format!(
            "version = 1\n{}{}",
            l("a", "udp", "127.0.0.1:5060", ""),
            l("a", "tcp", "127.0.0.1:5060", "")
        );
        let e = Config::parse(&dup, "x.toml").unwrap_err();
        assert!(
            e.reason.contains("duplicate listener 'a'") && e.line == Some(9),
            "{e}"
        );
        let tls = format!(
            "version = 1\n{}",
            l("t", "tls", "127.0.0.1:5061", "tls = \"nope\"")
        );
        assert!(Config::parse(&tls, "x")
            .unwrap_err()
            .reason
            .contains("unknown tls profile"));
        let tls = format!("version = 1\n{}", l("t", "tls", "127.0.0.1:5061", ""));
        assert!(Config::parse(&tls, "x")
            .unwrap_err()
            .reason
            .contains("needs a tls profile"));
        let v2 = format!("version = 2\n{}", l("a", "udp", "127.0.0.1:5060", ""));
        assert!(Config::parse(&v2, "x")
            .unwrap_err()
            .reason
            .contains("version"));
        let small = format!(
            "version = 1\n[sip]\nmax_message_size = 1000\n{}",
            l("a", "udp", "127.0.0.1:5060", "")
        );
        assert!(Config::parse(&small, "x")
            .unwrap_err()
            .reason
            .contains("TI-8"));
        let auth = format!(
            "version = 1\n[[tls]]\nname = \"p\"\ncert_chain = \"c.pem\"\nkey = \"k.pem\"\n{}",
            l(
                "t",
                "tls",
                "127.0.0.1:5061",
                "tls = \"p\"\nclient_auth = \"required\""
            )
        );
        assert!(Config::parse(&auth, "x")
            .unwrap_err()
            .reason
            .contains("trust_bundle"));
    }
}
