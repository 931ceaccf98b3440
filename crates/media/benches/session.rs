//! Wall-clock of one Teams → gateway media negotiation (criterion).

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "../examples/support/call.rs"]
mod common;

fn bench(c: &mut Criterion) {
    let cfg = common::config();
    let mut pool = common::pool();
    let mut seed = 0u8;
    c.bench_function("media/teams_offer_gw_answer_release", |b| {
        b.iter(|| common::one_call(&cfg, &mut pool, &mut seed))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
