//! Engine configuration: what the SBC says about itself on each leg, which headers cross,
//! limits, and timer values. Built once by the shell from the typed config file; the engine
//! compiles it into lookup-friendly form at construction.

use core::fmt;
use core::time::Duration;
use std::collections::HashMap;

use sbc_sip::{HeaderName, RequestPolicy};

/// What the SBC presents on one leg (a side, or a trunk that overrides its side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegPolicy {
    /// Our Contact URI on this leg, without angle brackets (`sip:sbc.example.com:5061;transport=tls`).
    pub contact: String,
    /// Our Via sent-by (`host[:port]`).
    pub sent_by: String,
    /// The `Allow` value we send on this leg.
    pub allow: String,
    /// Whether we handle reliable provisional responses (RFC 3262) on this leg: when true,
    /// requests we send advertise `Supported: 100rel` and we PRACK reliable 18x ourselves.
    /// Never true toward Microsoft (TI-15).
    pub prack: bool,
    /// Session refreshes we send on this leg use UPDATE when the peer allows it (else
    /// re-INVITE; TI-15/TI-30 want re-INVITE toward Microsoft).
    pub refresh_with_update: bool,
    /// Headers added to every message we send on this leg (`X-MS-SBC`, TI-17). With
    /// `headers.remove` naming the same header this is a replace rule.
    pub add_headers: Vec<(String, String)>,
    /// Which headers of the other leg may cross into this one; `None`: the engine-wide
    /// [`EngineConfig::headers`].
    pub headers: Option<HeaderPolicy>,
    /// What a REFER from this leg's peer gets (TI-26: the Teams trunk terminates them; list
    /// REFER in `allow` then, TI-16).
    pub refer: crate::ReferMode,
    /// Toward this leg, History-Info is turned into Diversion (TI-28, gateways that need
    /// it).
    pub history_to_diversion: bool,
    /// Toward this leg, `Reason: Q.850;cause=34` becomes cause 17 (TI-22).
    pub q850_34_as_17: bool,
    /// Toward this leg, a 183 with SDP is relayed as a 180 without it (TI-24, gateways that
    /// stop local ringback on 183).
    pub early_media_as_ringing: bool,
    /// Final statuses of this leg's INVITE after which the next target is tried (before any
    /// 18x went upstream; default 408, 503, 504, TI-18/TI-22).
    pub failover_codes: Vec<u16>,
    /// Try the next target when this leg's INVITE times out (Timer B).
    pub failover_on_timeout: bool,
    /// Try the next target on a transport error toward this leg.
    pub failover_on_transport_error: bool,
    /// Give up an INVITE toward this leg without a final response after this long (CANCEL,
    /// then like a timeout); `None`: the transaction's Timer B, or, once ringing, the
    /// no-answer timer.
    pub invite_timeout: Option<Duration>,
}

impl LegPolicy {
    /// A policy whose Contact and Via point at `host_port` over UDP.
    pub fn udp(host_port: &str) -> LegPolicy {
        LegPolicy {
            contact: format!("sip:{host_port}"),
            sent_by: host_port.to_string(),
            allow: DEFAULT_ALLOW.to_string(),
            prack: true,
            refresh_with_update: false,
            add_headers: Vec::new(),
            headers: None,
            refer: crate::ReferMode::Reject,
            history_to_diversion: false,
            q850_34_as_17: false,
            early_media_as_ringing: false,
            failover_codes: vec![408, 503, 504],
            failover_on_timeout: true,
            failover_on_transport_error: true,
            invite_timeout: None,
        }
    }
}

/// The methods we accept in dialogs, as an `Allow` value.
pub const DEFAULT_ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, MESSAGE, NOTIFY";

/// The headers copied from one leg to the other by default: identity, privacy, diversion and
/// location information, and the end-to-end content description. Everything else (Via,
/// Record-Route, Route, Contact, Call-ID, tags, CSeq, User-Agent, Server, Allow, Supported,
/// Require, session-timer headers, vendor headers...) is either rebuilt per leg or dropped.
pub const DEFAULT_COPY: &[HeaderName] = &[
    HeaderName::PAssertedIdentity,
    HeaderName::Privacy,
    HeaderName::HistoryInfo,
    HeaderName::Diversion,
    HeaderName::ReferredBy,
    HeaderName::Geolocation,
    HeaderName::GeolocationRouting,
    HeaderName::Priority,
    HeaderName::Reason,
    HeaderName::Subject,
    HeaderName::Accept,
    HeaderName::ContentType,
    HeaderName::ContentDisposition,
];

/// Which headers cross from one leg to the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderPolicy {
    /// Known header names copied (default [`DEFAULT_COPY`]).
    pub copy: Vec<HeaderName>,
    /// Extra names copied (any header, matched case-insensitively, e.g. `X-Carrier-Info`).
    pub copy_extra: Vec<String>,
    /// Names never copied even when listed above.
    pub remove: Vec<String>,
}

impl Default for HeaderPolicy {
    fn default() -> Self {
        HeaderPolicy {
            copy: DEFAULT_COPY.to_vec(),
            copy_extra: Vec::new(),
            remove: Vec::new(),
        }
    }
}

/// Admission limits (per engine, i.e. per shard: the shell divides node-wide limits by the
/// shard count, or later consults the shared counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Most concurrent calls.
    pub max_calls: Option<u32>,
    /// Calls per second (token bucket refill rate).
    pub cps: Option<u32>,
    /// Bucket size (default: the CPS value, at least 1).
    pub burst: Option<u32>,
    /// Of `max_calls`, this many only emergency calls and callbacks may use (TI-40): normal
    /// calls are refused from `max_calls - reserved` on.
    pub reserved: u32,
}

/// RFC 4028 session timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimers {
    /// The Session-Expires we ask for on legs we originate (default 1800 s).
    pub interval: u32,
    /// Our Min-SE (default 90 s, the RFC 4028 floor). Smaller requests get 422.
    pub min_se: u32,
}

impl Default for SessionTimers {
    fn default() -> Self {
        SessionTimers {
            interval: 1800,
            min_se: 90,
        }
    }
}

/// Everything the engine needs to know.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Product string for `User-Agent` (requests) and `Server` (responses).
    pub product: String,
    /// Our presentation toward callers (the leg a new INVITE arrives on).
    pub a_side: LegPolicy,
    /// Our presentation toward called parties.
    pub b_side: LegPolicy,
    /// Per-trunk overrides: the B leg uses its target's trunk, the A leg its source trunk.
    pub trunks: HashMap<String, LegPolicy>,
    /// Header copy rules.
    pub headers: HeaderPolicy,
    /// Request validation (methods, extensions, body types).
    pub request_policy: RequestPolicy,
    /// Limits over all calls of this engine.
    pub limits: Limits,
    /// Limits per trunk (inbound and outbound trunk names).
    pub trunk_limits: HashMap<String, Limits>,
    /// Most calls in the table whatever the limits (memory bound).
    pub max_calls: usize,
    /// Of `max_calls`, table slots only emergency calls and callbacks may take (TI-40).
    pub emergency_slots: usize,
    /// Retry-After (seconds) on 503s the engine sends for admission.
    pub retry_after: u32,
    /// Ring without answer for this long: CANCEL the B leg, answer `no_answer_status`.
    pub no_answer: Duration,
    /// Status for the caller on no-answer (408 or 480).
    pub no_answer_status: u16,
    /// Session timers, `None` to neither ask for nor honour them.
    pub session_timers: Option<SessionTimers>,
    /// Follow at most this many 3xx per call (TI-31); 0 maps every 3xx to `redirect_status`.
    pub max_redirects: u8,
    /// Status for the caller when a 3xx is not followed.
    pub redirect_status: u16,
    /// Token in our Via branches (loop detection): unique per node.
    pub loop_token: String,
    /// Suffix appended to generated Call-IDs as `@suffix`.
    pub call_id_suffix: Option<String>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            product: "sbc".into(),
            a_side: LegPolicy::udp("127.0.0.1:5060"),
            b_side: LegPolicy::udp("127.0.0.1:5060"),
            trunks: HashMap::new(),
            headers: HeaderPolicy::default(),
            request_policy: RequestPolicy::default(),
            limits: Limits::default(),
            trunk_limits: HashMap::new(),
            max_calls: 100_000,
            emergency_slots: 1_000,
            retry_after: 5,
            no_answer: Duration::from_secs(180),
            no_answer_status: 480,
            session_timers: Some(SessionTimers::default()),
            max_redirects: 3,
            redirect_status: 480,
            loop_token: "Sb2b".into(),
            call_id_suffix: None,
        }
    }
}

/// A configuration the engine refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The loop token is empty or not made of token characters.
    BadLoopToken,
    /// A status that must be a final error (300–699) is not.
    BadStatus(u16),
    /// Session timer values below the RFC 4028 floor of 90 s, or interval < min_se.
    BadSessionTimers,
    /// A header name is not a token.
    BadHeaderName(String),
    /// `emergency_slots` must leave room for other calls (`< max_calls`).
    BadEmergencySlots,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::BadLoopToken => f.write_str("loop_token must be a non-empty token"),
            ConfigError::BadStatus(s) => write!(f, "status {s} is not a final error"),
            ConfigError::BadSessionTimers => {
                f.write_str("session timers: min_se >= 90 and interval >= min_se required")
            }
            ConfigError::BadHeaderName(n) => write!(f, "{n:?} is not a header name"),
            ConfigError::BadEmergencySlots => f.write_str("emergency_slots must be < max_calls"),
        }
    }
}

impl std::error::Error for ConfigError {}

fn is_token(s: &str) -> bool {
    !s.is_empty() && sbc_sip::lex::is_token_str(s.as_bytes())
}

impl EngineConfig {
    /// Checks what the engine relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !is_token(&self.loop_token) || self.loop_token.contains('.') {
            return Err(ConfigError::BadLoopToken);
        }
        for s in [self.no_answer_status, self.redirect_status] {
            if !(400..=699).contains(&s) {
                return Err(ConfigError::BadStatus(s));
            }
        }
        if let Some(st) = self.session_timers {
            if st.min_se < 90 || st.interval < st.min_se {
                return Err(ConfigError::BadSessionTimers);
            }
        }
        if self.emergency_slots >= self.max_calls {
            return Err(ConfigError::BadEmergencySlots);
        }
        let pol = [&self.a_side, &self.b_side];
        for p in pol.into_iter().chain(self.trunks.values()) {
            for (n, _) in &p.add_headers {
                if !is_token(n) {
                    return Err(ConfigError::BadHeaderName(n.clone()));
                }
            }
        }
        for n in self.headers.copy_extra.iter().chain(&self.headers.remove) {
            if !is_token(n) {
                return Err(ConfigError::BadHeaderName(n.clone()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_validates() {
        assert_eq!(EngineConfig::default().validate(), Ok(()));
        let c = EngineConfig {
            loop_token: String::new(),
            ..EngineConfig::default()
        };
        assert_eq!(c.validate(), Err(ConfigError::BadLoopToken));
        let c = EngineConfig {
            no_answer_status: 200,
            ..EngineConfig::default()
        };
        assert_eq!(c.validate(), Err(ConfigError::BadStatus(200)));
        let c = EngineConfig {
            session_timers: Some(SessionTimers {
                interval: 60,
                min_se: 60,
            }),
            ..EngineConfig::default()
        };
        assert_eq!(c.validate(), Err(ConfigError::BadSessionTimers));
        let mut c = EngineConfig::default();
        c.headers.copy_extra.push("bad name".into());
        assert!(matches!(c.validate(), Err(ConfigError::BadHeaderName(_))));
    }
}
