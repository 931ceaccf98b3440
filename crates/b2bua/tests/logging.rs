//! Issue 4: structured logs with one span per call, numbers redacted at info level and in
//! full only at debug.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use sbc_sip::Method;
use sbc_testkit::response;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs a call from +15550001 to +15551234 (answered, then ended by Alice) with a log
/// subscriber at `level`, returns what was logged.
fn logged_call(level: tracing::Level) -> String {
    let buf = Buf::default();
    let w = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(move || w.clone())
        .finish();
    tracing::subscriber::with_default(sub, || {
        let mut sim = world(default_config());
        let (mut a, _b, _, _) = answered_with(&mut sim, "log-1", &[], &[]);
        sim.ua(1).clear();
        sim.ua(0).send(&a.request("BYE", "bye", &[], ""), addr(SBC));
        sim.run_for(ms(10));
        let (t, bye) = sim.ua(1).expect_request(Method::Bye);
        sim.ua(1).respond(t, response(&bye, 200, None, &[], ""));
        sim.run_for(ms(10));
        assert_eq!(sim.dut.engine.calls(), 0);
    });
    let v = buf.0.lock().unwrap().clone();
    String::from_utf8(v).unwrap()
}

#[test]
fn info_logs_name_the_call_span_and_never_a_full_number() {
    let out = logged_call(tracing::Level::INFO);
    let lines: Vec<&str> = out.lines().collect();
    for what in ["call accepted", "call phase", "call ended"] {
        let l = lines
            .iter()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} in {out}"));
        // Every line about the call carries its span with identifiers and redacted numbers.
        assert!(l.contains("call{"), "{l}");
        assert!(l.contains("call_id=log-1"), "{l}");
        assert!(l.contains("from=+15****01"), "{l}");
        assert!(l.contains("to=+15****34"), "{l}");
    }
    assert!(out.contains("status=200"), "{out}");
    assert!(
        !out.contains("+15550001") && !out.contains("+15551234"),
        "{out}"
    );
}

#[test]
fn debug_logs_carry_the_numbers_in_full() {
    let out = logged_call(tracing::Level::DEBUG);
    assert!(out.contains("from=+15550001"), "{out}");
    assert!(out.contains("to=+15551234"), "{out}");
}
