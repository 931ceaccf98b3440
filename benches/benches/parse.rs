//! Parse throughput, one criterion group per realistic message, three functions side by
//! side: `sbc` (`Message::parse`: start line, header index, critical headers validated),
//! `rsip` (`rsip::SipMessage::try_from(&[u8])`, rsip 0.4, the reference) and `line-scan`
//! (the memchr ceiling, see `sbc_benches::line_scan`). Throughput is the message size, so
//! criterion prints MB/s; `bench-report` adds messages/s.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sbc_benches::{line_scan, load, REALISTIC};
use sbc_sip::Message;

mod common;

fn parse(c: &mut Criterion) {
    for (name, file) in REALISTIC {
        let bytes = load(file);
        assert!(Message::parse(bytes.clone()).is_ok(), "{name}");
        assert!(
            rsip::SipMessage::try_from(&bytes[..]).is_ok(),
            "{name}: rsip rejects it"
        );
        let mut g = c.benchmark_group(format!("parse/{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("sbc", |b| {
            b.iter(|| Message::parse(black_box(bytes.clone())))
        });
        g.bench_function("rsip", |b| {
            b.iter(|| rsip::SipMessage::try_from(black_box(&bytes[..])))
        });
        g.bench_function("line-scan", |b| b.iter(|| line_scan(black_box(&bytes[..]))));
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = parse
}
criterion_main!(benches);
