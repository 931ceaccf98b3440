//! Consumes the engines' events: call records (to the CDR writer and the metrics) and
//! refusals (metrics). Engine instants are converted to UTC through the one epoch every shard
//! shares.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sbc_b2bua::{EndReason, EngineEvent};
use sbc_txn::Instant;
use tokio::sync::mpsc;

use crate::cdr::{CdrRecord, CdrSink, EndedBy, UtcMillis};
use crate::metrics::Metrics;

/// Maps core instants to wall-clock time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Wall-clock time at the cores' `Instant::ZERO`.
    pub wall_at_zero: SystemTime,
}

impl Clock {
    fn utc(&self, t: Instant) -> UtcMillis {
        UtcMillis::from_system_time(self.wall_at_zero + t.as_duration())
    }
}

/// What the consumer feeds.
#[derive(Debug, Clone)]
pub struct Sinks {
    /// Node name for CDRs.
    pub node: String,
    /// The CDR writer, when CDRs are on.
    pub cdr: Option<CdrSink>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Time conversion.
    pub clock: Clock,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs until every shard has dropped its sender.
pub async fn consume(mut rx: mpsc::Receiver<EngineEvent>, sinks: Sinks) {
    while let Some(ev) = rx.recv().await {
        match ev {
            EngineEvent::Cdr(c) => {
                let trunk_in = c.trunk_in.clone().unwrap_or_default();
                let m = sinks.metrics.trunk(&trunk_in);
                m.attempts.inc();
                if c.answered_at.is_some() {
                    m.answers.inc();
                }
                m.final_status(c.status);
                sinks.metrics.response(c.status);
                let ended_by = match (c.ended_by, c.reason) {
                    (
                        _,
                        EndReason::NoAnswer | EndReason::AckTimeout | EndReason::SessionExpired,
                    ) => EndedBy::Timeout,
                    (sbc_b2bua::EndedBy::Caller, _) => EndedBy::Caller,
                    (sbc_b2bua::EndedBy::Callee, _) => EndedBy::Callee,
                    (sbc_b2bua::EndedBy::Sbc, _) => EndedBy::Sbc,
                };
                tracing::info!(
                    status = c.status,
                    trunk_in = %trunk_in,
                    trunk_out = c.trunk_out.as_deref().unwrap_or(""),
                    reason = ?c.reason,
                    "call ended"
                );
                if let Some(sink) = &sinks.cdr {
                    let clock = sinks.clock;
                    let mut rec = CdrRecord {
                        node: sinks.node.clone(),
                        call_id: text(&c.a_call_id),
                        tenant: None,
                        trunk_in,
                        trunk_out: c.trunk_out.clone(),
                        calling: text(&c.calling),
                        called: text(&c.called),
                        invite_at: clock.utc(c.invite_at),
                        first_18x_at: c.ringing_at.map(|t| clock.utc(t)),
                        answer_at: c.answered_at.map(|t| clock.utc(t)),
                        end_at: clock.utc(c.ended_at),
                        duration_ms: 0,
                        setup_delay_ms: None,
                        final_status: c.status,
                        q850_cause: c.q850,
                        ended_by,
                        emergency: false,
                    };
                    rec.fill_durations();
                    // The writer never drops a record (it spills to memory when its queue is
                    // full), so this cannot stall the engines.
                    if sink.record(rec).is_err() {
                        tracing::error!("CDR writer closed: record lost");
                    }
                }
            }
            EngineEvent::Rejected { status, why, .. } => {
                sinks.metrics.response(status);
                sinks.metrics.admission_rejected(why);
            }
            EngineEvent::CallState { .. } | EngineEvent::TargetUnavailable { .. } => {}
        }
    }
}

/// Shortest wait between drain progress checks.
pub const DRAIN_POLL: Duration = Duration::from_millis(50);
