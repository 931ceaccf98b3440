//! `routing-report`: builds the carrier-scale routing workload of `sbc_benches::routing`
//! once and reports what criterion cannot: memory (RSS before/after the build and the
//! tables' own byte count) and a one-shot wall-clock build time.
//!
//! `routing-report loop WORK N` instead runs N lookups of one kind in a plain loop after the
//! build, for instruction counts with `valgrind --tool=callgrind` or `perf stat` (subtract a
//! `loop none 0` run for the setup). WORK: `none`, `number`, `lpm`, `full`.

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use sbc_benches::routing::{
    config, generate, queries, tables, tenant_of, NUMBERS, PREFIXES, TENANTS,
};
use sbc_routing::Tables;

/// Resident set size in bytes (Linux `/proc/self/statm`, pages of 4 KiB); 0 elsewhere.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |p| p * 4096)
}

/// The measured loop, kept out of line so callgrind can count it alone
/// (`--toggle-collect='*run_loop*'`).
#[inline(never)]
fn run_loop(t: &Tables, work: &str, n: usize) {
    let q = queries(4096);
    let tids: Vec<_> = q.iter().map(|x| tenant_of(t, &x.0)).collect();
    for i in 0..n {
        let (host, held, called) = &q[i & 4095];
        match work {
            "number" => {
                black_box(t.tenant_by_number(black_box(held)));
            }
            "lpm" => {
                let _ = black_box(t.route(tids[i & 4095], black_box(called)));
            }
            "full" => {
                if let Some(tid) = t.tenant_by_host(black_box(host)) {
                    let _ = black_box(t.targets(tid, black_box(called), i as u64));
                }
            }
            _ => {}
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut out = std::io::stdout().lock();
    let t0 = Instant::now();
    let (text, csvs) = generate();
    let t1 = Instant::now();
    let cfg = config(&text, &csvs);
    let t2 = Instant::now();
    drop((text, csvs));
    let before = rss();
    let t3 = Instant::now();
    let t = tables(&cfg);
    let built = t3.elapsed();
    let after = rss();

    if args.get(1).map(String::as_str) == Some("loop") {
        let (Some(work), Some(n)) = (
            args.get(2),
            args.get(3).and_then(|n| n.parse::<usize>().ok()),
        ) else {
            std::process::exit(2);
        };
        run_loop(&t, work, n);
        return;
    }

    let _ = writeln!(
        out,
        "tenants {TENANTS}, numbers {NUMBERS}, prefixes {PREFIXES}\n\
         generate text: {:?}\nparse + validate config (TOML + CSV): {:?}\n\
         Tables::build: {built:?}\n\
         inventory ranges after merge: {}\nLPM intervals: {}\n\
         Tables::memory_bytes: {} ({:.1} MiB)\n\
         RSS before build: {:.1} MiB, after: {:.1} MiB, delta: {:.1} MiB",
        t1 - t0,
        t2 - t1,
        t.inventory_ranges(),
        t.lpm_intervals(),
        t.memory_bytes(),
        t.memory_bytes() as f64 / 1048576.0,
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        (after.saturating_sub(before)) as f64 / 1048576.0,
    );
    black_box(&cfg);
}
