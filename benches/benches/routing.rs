//! Routing table costs (issue 5, part 8) with `sbc_benches::routing`'s deterministic
//! carrier-scale workload: 1 000 tenants, 1 000 000 numbers, 100 000 prefixes.
//!
//! * `routing-lookup/number-to-tenant`: `Tables::tenant_by_number` on a held number or a
//!   near miss (PSTN -> Teams: which tenant owns the called number).
//! * `routing-lookup/host-to-tenant`: `Tables::tenant_by_host` (TI-19).
//! * `routing-lookup/tenant-lpm`: `Tables::route` for a 11-digit destination.
//! * `routing-lookup/full`: host -> tenant -> longest prefix -> weighted target selection
//!   (`tenant_by_host` + `targets`), the whole per-call routing cost toward the PSTN.
//! * `routing-build/tables-1m`: `Tables::build` from the parsed config (what a reload does
//!   after parsing).
//!
//! 4 096 query strings are generated up front and cycled; one element = one lookup.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sbc_benches::routing::{config, generate, queries, tables, tenant_of};
use sbc_routing::{HealthMap, Tables};

fn bench(c: &mut Criterion) {
    let (text, csvs) = generate();
    let cfg = config(&text, &csvs);
    drop((text, csvs));
    let t = tables(&cfg);
    let q = queries(4096);
    let tids: Vec<_> = q.iter().map(|x| tenant_of(&t, &x.0)).collect();

    let mut g = c.benchmark_group("routing-lookup");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("number-to-tenant", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(t.tenant_by_number(black_box(&q[i].1)))
        })
    });
    g.bench_function("host-to-tenant", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(t.tenant_by_host(black_box(&q[i].0)))
        })
    });
    g.bench_function("tenant-lpm", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(t.route(tids[i], black_box(&q[i].2)).map(<[_]>::len))
        })
    });
    g.bench_function("full", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            let tid = t.tenant_by_host(black_box(&q[i].0));
            black_box(tid.map(|tid| t.targets(tid, black_box(&q[i].2), i as u64)))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("routing-build");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    let h = HealthMap::new();
    g.bench_function("tables-1m", |b| {
        b.iter(|| black_box(Tables::build(black_box(&cfg), &h).map(|t| t.lpm_intervals())))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
