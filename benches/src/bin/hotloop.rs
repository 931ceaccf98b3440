//! `hotloop WORKLOAD FILE ITERATIONS`: runs one workload in a plain loop, for profilers
//! (`valgrind --tool=callgrind`, `perf record`) whose instruction counts do not depend on
//! what else the machine is doing. WORKLOAD is `parse`, `lazy`, `serialize` or
//! `line-scan`; FILE is an own vector (`invite-900.sip`). Prints nothing; exits 2 on bad
//! arguments.

use std::hint::black_box;

use sbc_benches::{b2bua_edits, lazy_view, line_scan, load};
use sbc_sip::{Edits, Message};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(work), Some(file), Some(n)) = (
        args.get(1),
        args.get(2),
        args.get(3).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        std::process::exit(2);
    };
    let bytes = load(file);
    match work.as_str() {
        "parse" => {
            for _ in 0..n {
                let _ = black_box(Message::parse(black_box(bytes.clone())));
            }
        }
        "lazy" => {
            for _ in 0..n {
                if let Ok(m) = Message::parse(black_box(bytes.clone())) {
                    black_box(lazy_view(&m));
                }
            }
        }
        "serialize" => {
            let Ok(m) = Message::parse(bytes) else {
                std::process::exit(1)
            };
            let mut e = Edits::new();
            let mut out = Vec::new();
            for _ in 0..n {
                e.clear();
                out.clear();
                b2bua_edits(black_box(&m), &mut e);
                let _ = black_box(e.write(&m, &mut out));
            }
        }
        "line-scan" => {
            for _ in 0..n {
                black_box(line_scan(black_box(&bytes)));
            }
        }
        _ => std::process::exit(2),
    }
}
