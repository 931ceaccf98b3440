//! Prometheus metrics (architecture principle 14), with the maintained `prometheus-client`.
//!
//! [`Metrics`] is built once, shared as `Arc<Metrics>`, and updated from the shards through
//! atomics (`Counter`, `Gauge`) — labelled families take a read lock to find the series, so
//! hot paths should keep the handle: [`Metrics::trunk`] returns the per-trunk series once
//! and they can be cached per trunk.
//!
//! Exported (all prefixed `sbc_`):
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `calls_active` | gauge | `trunk` |
//! | `call_attempts_total`, `call_answers_total`, `call_user_failures_total` | counter | `trunk` |
//! | `responses_total` | counter | `code` |
//! | `transactions` | gauge | |
//! | `retransmissions_total` | counter | |
//! | `engine_panics_total` | counter | |
//! | `parse_errors_total` | counter | `kind` |
//! | `admission_rejections_total` | counter | `reason` |
//! | `shard_queue_depth` | gauge | `shard` |
//! | `gateway_up` | gauge (1 up, 0 down) | `gateway` (gateways with OPTIONS probing) |
//! | `teams_edge_up` | gauge (1 up, 0 down) | `edge` (Microsoft proxies, TI-9) |
//! | `options_probes_total`, `options_probe_failures_total` | counter | `target` |
//! | `emergency_attempts_total`, `emergency_answers_total`, `emergency_failures_total` | counter | |
//! | `cdr_records_total`, `cdr_write_errors_total`, `cdr_spilled_total`, `cdr_rotations_total` | counter | |
//! | `tls_handshakes_total` | counter | `result` = `ok` \| `failed` (from the transport) |
//! | `tls_handshake_timeouts_total` | counter | (from the transport; also counted as failed) |
//! | `transport_*` | counter / gauge | every other transport counter, read at scrape time |
//!
//! ASR = `call_answers / call_attempts`; NER = `(call_answers + call_user_failures) /
//! call_attempts`, where a user failure is a final status that means the network did its job
//! (busy, no answer, declined, cancelled: see [`is_user_failure`]).
//!
//! The text is OpenMetrics (what `prometheus-client` writes, ending in `# EOF`); Prometheus
//! reads it both as `application/openmetrics-text` and as classic `text/plain`.

use std::borrow::Cow;
use std::fmt;

use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use sbc_transport::StatsSnapshot;

use crate::cdr::CdrCounters;

/// A one-label set, e.g. `[("trunk", "teams".into())]`.
pub type Label<V> = [(&'static str, V); 1];

type StrLabel = Label<Cow<'static, str>>;

/// The series of one trunk; clone and keep them to avoid the family lookup per call.
#[derive(Debug, Clone)]
pub struct TrunkMetrics {
    /// Calls up now (incremented at INVITE, decremented when the call ends).
    pub active: Gauge,
    /// INVITEs that started a call attempt.
    pub attempts: Counter,
    /// Attempts answered (2xx).
    pub answers: Counter,
    /// Attempts that ended with a user-side final status ([`is_user_failure`]).
    pub user_failures: Counter,
}

impl TrunkMetrics {
    /// Counts the final status of an attempt (answer or user failure).
    pub fn final_status(&self, status: u16) {
        if (200..300).contains(&status) {
            self.answers.inc();
        } else if is_user_failure(status) {
            self.user_failures.inc();
        }
    }
}

/// Final statuses that count as network-effective for NER (ITU-T E.425: answered, user
/// busy, ring no answer, terminal rejection): 480, 486, 487, 600, 603.
pub fn is_user_failure(status: u16) -> bool {
    matches!(status, 480 | 486 | 487 | 600 | 603)
}

/// Every metric of the node.
pub struct Metrics {
    registry: Registry,
    calls_active: Family<StrLabel, Gauge>,
    call_attempts: Family<StrLabel, Counter>,
    call_answers: Family<StrLabel, Counter>,
    call_user_failures: Family<StrLabel, Counter>,
    responses: Family<Label<u16>, Counter>,
    parse_errors: Family<StrLabel, Counter>,
    admission_rejections: Family<StrLabel, Counter>,
    shard_queue_depth: Family<Label<u32>, Gauge>,
    gateway_up: Family<StrLabel, Gauge>,
    teams_edge_up: Family<StrLabel, Gauge>,
    options_probes: Family<StrLabel, Counter>,
    options_probe_failures: Family<StrLabel, Counter>,
    /// SIP transactions alive now.
    pub transactions: Gauge,
    /// Retransmissions sent (requests and responses).
    pub retransmissions: Counter,
    /// Panics caught in a shard's call processing (each costs the input that caused it).
    pub panics: Counter,
    /// Emergency call attempts.
    pub emergency_attempts: Counter,
    /// Emergency calls answered.
    pub emergency_answers: Counter,
    /// Emergency calls that failed (any non-2xx final status).
    pub emergency_failures: Counter,
    /// The CDR writer's counters: clone into [`crate::cdr::CdrConfig::counters`].
    pub cdr: CdrCounters,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Builds and registers every metric.
    pub fn new() -> Metrics {
        let mut r = Registry::with_prefix("sbc");
        let m = Metrics {
            registry: Registry::default(),
            calls_active: Family::default(),
            call_attempts: Family::default(),
            call_answers: Family::default(),
            call_user_failures: Family::default(),
            responses: Family::default(),
            parse_errors: Family::default(),
            admission_rejections: Family::default(),
            shard_queue_depth: Family::default(),
            gateway_up: Family::default(),
            teams_edge_up: Family::default(),
            options_probes: Family::default(),
            options_probe_failures: Family::default(),
            transactions: Gauge::default(),
            retransmissions: Counter::default(),
            panics: Counter::default(),
            emergency_attempts: Counter::default(),
            emergency_answers: Counter::default(),
            emergency_failures: Counter::default(),
            cdr: CdrCounters::default(),
        };
        r.register(
            "calls_active",
            "Calls up now, by inbound trunk",
            m.calls_active.clone(),
        );
        r.register(
            "call_attempts",
            "Call attempts (INVITEs that started a call), by trunk",
            m.call_attempts.clone(),
        );
        r.register(
            "call_answers",
            "Call attempts answered with 2xx, by trunk",
            m.call_answers.clone(),
        );
        r.register(
            "call_user_failures",
            "Call attempts ended by the user (480, 486, 487, 600, 603), by trunk",
            m.call_user_failures.clone(),
        );
        r.register(
            "responses",
            "SIP responses sent, by status code",
            m.responses.clone(),
        );
        r.register(
            "transactions",
            "SIP transactions alive",
            m.transactions.clone(),
        );
        r.register(
            "engine_panics",
            "Panics caught in call processing; the shard keeps running",
            m.panics.clone(),
        );
        r.register(
            "retransmissions",
            "SIP retransmissions sent",
            m.retransmissions.clone(),
        );
        r.register(
            "parse_errors",
            "SIP messages that failed to parse, by kind",
            m.parse_errors.clone(),
        );
        r.register(
            "admission_rejections",
            "Calls refused by admission control, by reason",
            m.admission_rejections.clone(),
        );
        r.register(
            "shard_queue_depth",
            "Events waiting in a shard's queue",
            m.shard_queue_depth.clone(),
        );
        r.register(
            "gateway_up",
            "1 when OPTIONS probing finds the gateway up, 0 when down",
            m.gateway_up.clone(),
        );
        r.register(
            "teams_edge_up",
            "1 when OPTIONS probing finds the Microsoft edge up, 0 when down",
            m.teams_edge_up.clone(),
        );
        r.register(
            "options_probes",
            "OPTIONS probes sent, by target (retransmissions not counted)",
            m.options_probes.clone(),
        );
        r.register(
            "options_probe_failures",
            "OPTIONS probes that failed (timeout, transport error, 503, unresolved), by target",
            m.options_probe_failures.clone(),
        );
        r.register(
            "emergency_attempts",
            "Emergency call attempts",
            m.emergency_attempts.clone(),
        );
        r.register(
            "emergency_answers",
            "Emergency calls answered",
            m.emergency_answers.clone(),
        );
        r.register(
            "emergency_failures",
            "Emergency calls that failed",
            m.emergency_failures.clone(),
        );
        r.register(
            "cdr_records",
            "CDRs written to the file",
            m.cdr.written.clone(),
        );
        r.register(
            "cdr_write_errors",
            "CDR write, sync or rotation errors (retried)",
            m.cdr.write_errors.clone(),
        );
        r.register(
            "cdr_spilled",
            "CDRs that found the writer queue full (kept in memory, not lost)",
            m.cdr.spilled.clone(),
        );
        r.register(
            "cdr_rotations",
            "CDR files rotated",
            m.cdr.rotations.clone(),
        );
        Metrics { registry: r, ..m }
    }

    /// The series of `trunk`.
    pub fn trunk(&self, trunk: &str) -> TrunkMetrics {
        let l = label(trunk);
        TrunkMetrics {
            active: self.calls_active.get_or_create_owned(&l),
            attempts: self.call_attempts.get_or_create_owned(&l),
            answers: self.call_answers.get_or_create_owned(&l),
            user_failures: self.call_user_failures.get_or_create_owned(&l),
        }
    }

    /// Counts a response sent with `code`.
    pub fn response(&self, code: u16) {
        self.responses.get_or_create(&[("code", code)]).inc();
    }

    /// Counts a parse error of `kind` (a short static name, e.g. `"bad_header"`).
    pub fn parse_error(&self, kind: impl Into<Cow<'static, str>>) {
        self.parse_errors
            .get_or_create(&[("kind", kind.into())])
            .inc();
    }

    /// Counts an admission rejection for `reason` (e.g. `"tenant_limit"`, `"cps"`,
    /// `"draining"`).
    pub fn admission_rejected(&self, reason: impl Into<Cow<'static, str>>) {
        self.admission_rejections
            .get_or_create(&[("reason", reason.into())])
            .inc();
    }

    /// The queue-depth gauge of shard `id` (keep it; set it from the dispatcher or shard).
    pub fn shard_queue_depth(&self, id: u32) -> Gauge {
        self.shard_queue_depth.get_or_create_owned(&[("shard", id)])
    }

    /// The `gateway_up` gauge of `gateway` (keep it; the prober sets it).
    pub fn gateway_up(&self, gateway: &str) -> Gauge {
        self.gateway_up
            .get_or_create_owned(&[("gateway", Cow::Owned(gateway.to_owned()))])
    }

    /// The `teams_edge_up` gauge of `edge`.
    pub fn teams_edge_up(&self, edge: &str) -> Gauge {
        self.teams_edge_up
            .get_or_create_owned(&[("edge", Cow::Owned(edge.to_owned()))])
    }

    /// The `options_probes` counter of `target`.
    pub fn options_probes(&self, target: &str) -> Counter {
        self.options_probes
            .get_or_create_owned(&[("target", Cow::Owned(target.to_owned()))])
    }

    /// The `options_probe_failures` counter of `target`.
    pub fn options_probe_failures(&self, target: &str) -> Counter {
        self.options_probe_failures
            .get_or_create_owned(&[("target", Cow::Owned(target.to_owned()))])
    }

    /// The Prometheus text exposition; `transport` counters are added when given.
    pub fn encode(&self, transport: Option<&StatsSnapshot>) -> String {
        let mut out = String::with_capacity(8192);
        // Writing into a String cannot fail; the encoders only propagate fmt::Error.
        let _ = encode_registry(&mut out, &self.registry);
        if let Some(s) = transport {
            let _ = encode_registry(&mut out, &transport_registry(s));
        }
        let _ = encode_eof(&mut out);
        out
    }
}

fn label(v: &str) -> StrLabel {
    [("trunk", Cow::Owned(v.to_owned()))]
}

#[derive(Debug)]
struct HandshakeFamily {
    ok: u64,
    failed: u64,
}

impl EncodeMetric for HandshakeFamily {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        for (result, v) in [("ok", self.ok), ("failed", self.failed)] {
            let labels = [("result", result)];
            ConstCounter::new(v).encode(encoder.encode_family(&labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// The transport counters as constant metrics for one scrape.
fn transport_registry(s: &StatsSnapshot) -> Registry {
    // No `..`: a counter added to the transport must be added here (compile error otherwise).
    let StatsSnapshot {
        connections_open,
        connections_accepted,
        connections_opened,
        connect_failures,
        handshakes_ok,
        handshakes_failed,
        handshake_timeouts,
        acl_drops,
        connection_limit_drops,
        oversize_closes,
        invalid_frame_closes,
        slow_sender_closes,
        idle_closes,
        stale_closes,
        datagrams_received,
        datagrams_dropped_queue_full,
        messages_in,
        parse_errors,
        keepalive_pings,
        messages_out,
        send_errors,
    } = *s;
    let mut r = Registry::with_prefix("sbc");
    r.register(
        "tls_handshakes",
        "TLS handshakes, by result",
        HandshakeFamily {
            ok: handshakes_ok,
            failed: handshakes_failed,
        },
    );
    r.register(
        "tls_handshake_timeouts",
        "Inbound TLS handshakes that timed out (also counted as failed)",
        ConstCounter::new(handshake_timeouts),
    );
    let t = r.sub_registry_with_prefix("transport");
    t.register(
        "connections_open",
        "Stream connections open",
        ConstGauge::new(i64::try_from(connections_open).unwrap_or(i64::MAX)),
    );
    let counters = [
        (
            "connections_accepted",
            "Stream connections accepted",
            connections_accepted,
        ),
        (
            "connections_opened",
            "Stream connections opened by the SBC",
            connections_opened,
        ),
        (
            "connect_failures",
            "Outbound connect or handshake failures",
            connect_failures,
        ),
        (
            "acl_drops",
            "Datagrams and connections refused by an ACL",
            acl_drops,
        ),
        (
            "connection_limit_drops",
            "Connections refused by a per-source or per-listener cap",
            connection_limit_drops,
        ),
        (
            "oversize_closes",
            "Streams closed for an oversize message",
            oversize_closes,
        ),
        (
            "invalid_frame_closes",
            "Streams closed for an unframeable message",
            invalid_frame_closes,
        ),
        (
            "slow_sender_closes",
            "Streams closed for a message that did not complete in time",
            slow_sender_closes,
        ),
        ("idle_closes", "Streams closed when idle", idle_closes),
        (
            "stale_closes",
            "TLS connections of an old generation closed after a reload",
            stale_closes,
        ),
        (
            "datagrams_received",
            "Datagrams received (after the ACL)",
            datagrams_received,
        ),
        (
            "datagrams_dropped_queue_full",
            "Datagrams dropped because the inbound queue was full",
            datagrams_dropped_queue_full,
        ),
        ("messages_in", "SIP messages received", messages_in),
        (
            "parse_errors",
            "SIP messages that failed to parse in the transport",
            parse_errors,
        ),
        (
            "keepalive_pings",
            "CRLFCRLF keep-alive pings answered",
            keepalive_pings,
        ),
        ("messages_out", "SIP messages sent", messages_out),
        ("send_errors", "Sends that failed", send_errors),
    ];
    for (name, help, v) in counters {
        t.register(name, help, ConstCounter::new(v));
    }
    r
}
