//! Parse plus the lazy work a policy may ask for: every header typed
//! (`check::check_headers`) and the SDP viewed (`sbc_sdp::Sdp::parse` on the body, or on
//! the SDP part of a multipart body).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sbc_benches::{lazy_view, load, REALISTIC};
use sbc_sip::Message;

mod common;

fn parse_lazy(c: &mut Criterion) {
    for (name, file) in REALISTIC {
        let bytes = load(file);
        let m = Message::parse(bytes.clone()).expect(name);
        assert_ne!(lazy_view(&m), usize::MAX, "{name}");
        let mut g = c.benchmark_group(format!("parse_lazy/{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("sbc", |b| {
            b.iter(|| {
                let m = Message::parse(black_box(bytes.clone())).ok()?;
                Some(lazy_view(&m))
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = parse_lazy
}
criterion_main!(benches);
