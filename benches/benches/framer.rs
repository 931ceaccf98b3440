//! A TCP stream of `FRAMER_MESSAGES` concatenated messages (the realistic vectors in turn)
//! framed with one `StreamFramer` and every frame parsed with `Framing::Stream`.
//! Throughput is the stream size; `bench-report` adds messages/s.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sbc_benches::{frame_and_parse, tcp_stream, FRAMER_MESSAGES};
use sbc_sip::{ParserConfig, StreamFramer};

mod common;

fn framer(c: &mut Criterion) {
    let stream = tcp_stream(FRAMER_MESSAGES);
    let cfg = ParserConfig::default();
    let mut framer = StreamFramer::new(cfg);
    assert_eq!(frame_and_parse(&stream, &mut framer, &cfg), FRAMER_MESSAGES);
    let mut g = c.benchmark_group("framer");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("stream-1000", |b| {
        b.iter(|| frame_and_parse(black_box(&stream), &mut framer, &cfg))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = framer
}
criterion_main!(benches);
