//! Metrics: the exposition carries the expected names, labels and values.

use sbc_server::metrics::Metrics;
use sbc_transport::StatsSnapshot;

fn has(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "missing line {line:?} in:\n{text}"
    );
}

#[test]
fn encode_after_updates() {
    let m = Metrics::new();
    let teams = m.trunk("teams");
    for _ in 0..4 {
        teams.attempts.inc();
    }
    teams.active.inc();
    teams.active.inc();
    teams.final_status(200);
    teams.final_status(486);
    teams.final_status(503);
    m.trunk("pstn").attempts.inc();
    m.response(200);
    m.response(200);
    m.response(503);
    m.transactions.set(17);
    m.retransmissions.inc_by(3);
    m.parse_error("bad_header");
    m.admission_rejected("cps");
    m.admission_rejected("cps");
    m.shard_queue_depth(2).set(9);
    m.emergency_attempts.inc();
    m.emergency_answers.inc();
    m.cdr.write_errors.inc();
    m.cdr.written.inc_by(5);

    let text = m.encode(None);
    has(&text, "# TYPE sbc_calls_active gauge");
    has(&text, "sbc_calls_active{trunk=\"teams\"} 2");
    has(&text, "# TYPE sbc_call_attempts counter");
    has(&text, "sbc_call_attempts_total{trunk=\"teams\"} 4");
    has(&text, "sbc_call_attempts_total{trunk=\"pstn\"} 1");
    has(&text, "sbc_call_answers_total{trunk=\"teams\"} 1");
    has(&text, "sbc_call_user_failures_total{trunk=\"teams\"} 1");
    has(&text, "sbc_responses_total{code=\"200\"} 2");
    has(&text, "sbc_responses_total{code=\"503\"} 1");
    has(&text, "sbc_transactions 17");
    has(&text, "sbc_retransmissions_total 3");
    has(&text, "sbc_parse_errors_total{kind=\"bad_header\"} 1");
    has(&text, "sbc_admission_rejections_total{reason=\"cps\"} 2");
    has(&text, "sbc_shard_queue_depth{shard=\"2\"} 9");
    has(&text, "sbc_emergency_attempts_total 1");
    has(&text, "sbc_emergency_answers_total 1");
    has(&text, "sbc_emergency_failures_total 0");
    has(&text, "sbc_cdr_write_errors_total 1");
    has(&text, "sbc_cdr_records_total 5");
    assert!(text.ends_with("# EOF\n"));
    assert!(!text.contains("transport"));
    assert_eq!(text.matches("# EOF").count(), 1);
}

#[test]
fn transport_counters_at_scrape_time() {
    let m = Metrics::new();
    let s = StatsSnapshot {
        connections_open: 3,
        handshakes_ok: 10,
        handshakes_failed: 2,
        handshake_timeouts: 1,
        messages_in: 1234,
        datagrams_dropped_queue_full: 5,
        parse_errors: 6,
        ..StatsSnapshot::default()
    };
    let text = m.encode(Some(&s));
    has(&text, "# TYPE sbc_tls_handshakes counter");
    has(&text, "sbc_tls_handshakes_total{result=\"ok\"} 10");
    has(&text, "sbc_tls_handshakes_total{result=\"failed\"} 2");
    has(&text, "sbc_tls_handshake_timeouts_total 1");
    has(&text, "# TYPE sbc_transport_connections_open gauge");
    has(&text, "sbc_transport_connections_open 3");
    has(&text, "sbc_transport_messages_in_total 1234");
    has(&text, "sbc_transport_datagrams_dropped_queue_full_total 5");
    has(&text, "sbc_transport_parse_errors_total 6");
    has(&text, "sbc_transport_send_errors_total 0");
    assert!(text.ends_with("# EOF\n"));
    assert_eq!(text.matches("# EOF").count(), 1);
    // Each metric family is described once.
    let mut types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE ")).collect();
    let n = types.len();
    types.sort_unstable();
    types.dedup();
    assert_eq!(types.len(), n);
}

#[test]
fn shared_across_threads() {
    let m = std::sync::Arc::new(Metrics::new());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                let t = m.trunk("teams");
                for _ in 0..1000 {
                    t.attempts.inc();
                    m.response(180);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let text = m.encode(None);
    has(&text, "sbc_call_attempts_total{trunk=\"teams\"} 4000");
    has(&text, "sbc_responses_total{code=\"180\"} 4000");
}
