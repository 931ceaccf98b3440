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

/// The refused INVITEs recently recorded, so a UDP retransmission of one (answered again,
/// statelessly, by the engine) is not a second attempt. Bounded: the oldest is forgotten.
#[derive(Debug, Default)]
struct RecentRefusals {
    order: std::collections::VecDeque<(Vec<u8>, u32)>,
    set: std::collections::HashSet<(Vec<u8>, u32)>,
}

impl RecentRefusals {
    /// Retransmissions arrive within 64*T1 (32 s); at the highest refusal rates this holds
    /// a few seconds' worth, which covers the usual 0.5–4 s retransmission gaps.
    const CAP: usize = 16_384;

    /// True the first time this (Call-ID, CSeq) is seen.
    fn first(&mut self, call_id: &[u8], cseq: u32) -> bool {
        let k = (call_id.to_vec(), cseq);
        if self.set.contains(&k) {
            return false;
        }
        if self.order.len() >= Self::CAP {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.order.push_back(k.clone());
        self.set.insert(k);
        true
    }
}

/// Completes a record's durations and hands it to the CDR writer, when CDRs are on. The
/// writer never drops a record (it spills to memory when its queue is full), so this cannot
/// stall the engines.
fn write(sinks: &Sinks, mut rec: CdrRecord) {
    let Some(sink) = &sinks.cdr else {
        return;
    };
    rec.fill_durations();
    if sink.record(rec).is_err() {
        tracing::error!("CDR writer closed: record lost");
    }
}

/// Runs until every shard has dropped its sender.
pub async fn consume(mut rx: mpsc::Receiver<EngineEvent>, sinks: Sinks) {
    let mut recent = RecentRefusals::default();
    while let Some(ev) = rx.recv().await {
        match ev {
            EngineEvent::Cdr(c) => {
                let c = *c;
                let trunk_in = c.trunk_in.unwrap_or_default();
                let m = sinks.metrics.trunk(&trunk_in);
                m.attempts.inc();
                if c.answered_at.is_some() {
                    m.answers.inc();
                }
                m.final_status(c.status);
                sinks.metrics.response(c.status);
                // TI-38..TI-42 records: emergency attempts, answers and failures.
                if c.emergency {
                    sinks.metrics.emergency_attempts.inc();
                    if c.answered_at.is_some() {
                        sinks.metrics.emergency_answers.inc();
                    } else {
                        sinks.metrics.emergency_failures.inc();
                    }
                }
                let ended_by = match (c.ended_by, c.reason) {
                    (
                        _,
                        EndReason::NoAnswer | EndReason::AckTimeout | EndReason::SessionExpired,
                    ) => EndedBy::Timeout,
                    (sbc_b2bua::EndedBy::Caller, _) => EndedBy::Caller,
                    (sbc_b2bua::EndedBy::Callee, _) => EndedBy::Callee,
                    (sbc_b2bua::EndedBy::Sbc, _) => EndedBy::Sbc,
                };
                let clock = sinks.clock;
                // The record is built only when CDRs are on.
                if sinks.cdr.is_some() {
                    write(
                        &sinks,
                        CdrRecord {
                            node: sinks.node.clone(),
                            call_id: text(&c.a_call_id),
                            tenant: c.tenant,
                            trunk_in,
                            trunk_out: c.trunk_out,
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
                            emergency: c.emergency,
                        },
                    );
                }
            }
            EngineEvent::Rejected {
                status,
                why,
                at,
                attempt,
                ..
            } => {
                sinks.metrics.response(status);
                sinks.metrics.admission_rejected(why);
                // A refused INVITE is a call attempt too: counted for ASR and recorded.
                if let Some(a) = attempt.filter(|a| recent.first(&a.call_id, a.cseq)) {
                    let trunk_in = a.trunk_in.unwrap_or_default();
                    let m = sinks.metrics.trunk(&trunk_in);
                    m.attempts.inc();
                    m.final_status(status);
                    let t = sinks.clock.utc(at);
                    if sinks.cdr.is_some() {
                        write(
                            &sinks,
                            CdrRecord {
                                node: sinks.node.clone(),
                                call_id: text(&a.call_id),
                                tenant: None,
                                trunk_in,
                                trunk_out: None,
                                calling: text(&a.calling),
                                called: text(&a.called),
                                invite_at: t,
                                first_18x_at: None,
                                answer_at: None,
                                end_at: t,
                                duration_ms: 0,
                                setup_delay_ms: None,
                                final_status: status,
                                q850_cause: None,
                                ended_by: EndedBy::Sbc,
                                emergency: false,
                            },
                        );
                    }
                }
            }
            EngineEvent::CallState { .. }
            | EngineEvent::TargetUnavailable { .. }
            | EngineEvent::DropConnection { .. } => {}
        }
    }
}

/// Shortest wait between drain progress checks.
pub const DRAIN_POLL: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::RecentRefusals;

    #[test]
    fn a_retransmitted_refusal_is_one_attempt_and_memory_is_bounded() {
        let mut r = RecentRefusals::default();
        assert!(r.first(b"c1", 1));
        assert!(!r.first(b"c1", 1), "retransmission");
        assert!(r.first(b"c1", 2), "a new attempt with the same Call-ID");
        for i in 0..RecentRefusals::CAP as u32 {
            r.first(b"flood", i);
        }
        assert_eq!(r.order.len(), RecentRefusals::CAP);
        assert_eq!(r.set.len(), RecentRefusals::CAP);
        assert!(r.first(b"c1", 1), "forgotten once out of the window");
    }
}
