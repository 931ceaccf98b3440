//! Serialize with the typical B2BUA edit set (`sbc_benches::b2bua_edits`): one reused
//! `Edits` and one reused output `Vec`, both cleared every iteration, the message parsed
//! once outside the loop. Throughput is the output size.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sbc_benches::{b2bua_edits, load, SERIALIZE};
use sbc_sip::{Edits, Message};

mod common;

fn serialize(c: &mut Criterion) {
    for (name, file) in SERIALIZE {
        let m = Message::parse(load(file)).expect(name);
        let mut edits = Edits::new();
        let mut out = Vec::new();
        b2bua_edits(&m, &mut edits);
        let n = edits.write(&m, &mut out).expect(name);
        let mut g = c.benchmark_group(format!("serialize/{name}"));
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_function("b2bua-edits", |b| {
            b.iter(|| {
                edits.clear();
                out.clear();
                b2bua_edits(black_box(&m), &mut edits);
                edits.write(&m, &mut out).ok()
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = serialize
}
criterion_main!(benches);
