//! `bench-report [--best] [CRITERION_DIR]`: reads the JSON criterion left after
//! `cargo bench -p sbc-benches` and prints the markdown tables of `docs/performance.md`:
//! time per iteration, messages/s, MB/s (10^6 bytes/s) and the ratios against rsip and the
//! line-scan ceiling. CRITERION_DIR defaults to `$CARGO_TARGET_DIR/criterion`, else
//! `target/criterion`.
//!
//! The time used is criterion's headline estimate: the slope of the linear regression when
//! criterion computed one, else the mean. With `--best` it is the fastest sample's time per
//! iteration instead, the least disturbed figure on a machine shared with other work.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sbc_benches::{FRAMER_MESSAGES, REALISTIC, SERIALIZE};
use serde_json::Value;

/// One measured benchmark.
#[derive(Debug, Clone, Copy)]
struct Est {
    /// Nanoseconds per iteration.
    ns: f64,
    /// Bytes per iteration (criterion throughput).
    bytes: f64,
}

impl Est {
    fn per_s(&self, items: f64) -> f64 {
        items * 1e9 / self.ns
    }
    fn mb_s(&self) -> f64 {
        self.bytes * 1e3 / self.ns
    }
}

fn read_json(p: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

fn collect(dir: &Path, best: bool, out: &mut BTreeMap<(String, String), Est>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if !p.is_dir() {
            continue;
        }
        if p.file_name().is_some_and(|n| n == "new") {
            let (Some(b), Some(est)) = (
                read_json(&p.join("benchmark.json")),
                read_json(&p.join("estimates.json")),
            ) else {
                continue;
            };
            let group = b["group_id"].as_str().unwrap_or_default().to_owned();
            let func = b["function_id"].as_str().unwrap_or_default().to_owned();
            let bytes = b["throughput"]["Bytes"].as_f64().unwrap_or(0.0);
            let headline = est["slope"]["point_estimate"]
                .as_f64()
                .or_else(|| est["mean"]["point_estimate"].as_f64())
                .unwrap_or(f64::NAN);
            let ns = if best {
                read_json(&p.join("sample.json"))
                    .and_then(|smp| fastest_sample(&smp))
                    .unwrap_or(headline)
            } else {
                headline
            };
            out.insert((group, func), Est { ns, bytes });
        } else {
            collect(&p, best, out);
        }
    }
}

/// The fastest sample's nanoseconds per iteration (`times[i] / iters[i]`, minimum).
fn fastest_sample(smp: &Value) -> Option<f64> {
    let iters = smp["iters"].as_array()?;
    let times = smp["times"].as_array()?;
    iters
        .iter()
        .zip(times)
        .filter_map(|(n, t)| Some(t.as_f64()? / n.as_f64()?))
        .reduce(f64::min)
}

/// `1234567.8` → `1.23 M`, `45678` → `45.7 k`.
fn si(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn main() {
    let mut best = false;
    let mut dir = None;
    for a in std::env::args_os().skip(1) {
        if a == "--best" {
            best = true;
        } else {
            dir = Some(PathBuf::from(a));
        }
    }
    let dir = dir.unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| PathBuf::from("target"), PathBuf::from)
            .join("criterion")
    });
    let mut m = BTreeMap::new();
    collect(&dir, best, &mut m);
    let get = |g: &str, f: &str| m.get(&(g.to_owned(), f.to_owned())).copied();
    let mut s = String::new();

    let _ = writeln!(s, "### parse (`Message::parse` vs rsip 0.4 vs line scan)\n");
    let _ = writeln!(
        s,
        "| message | bytes | sbc ns | sbc msgs/s | sbc MB/s | rsip msgs/s | rsip MB/s | line-scan msgs/s | line-scan MB/s | sbc/rsip | sbc/line-scan |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, _) in REALISTIC {
        let g = format!("parse/{name}");
        let (Some(o), r, l) = (get(&g, "sbc"), get(&g, "rsip"), get(&g, "line-scan")) else {
            continue;
        };
        let cell = |e: Option<Est>| {
            e.map_or(("–".into(), "–".into()), |e| {
                (si(e.per_s(1.0)), format!("{:.0}", e.mb_s()))
            })
        };
        let (rm, rb) = cell(r);
        let (lm, lb) = cell(l);
        let ratio_r = r.map_or("–".into(), |r| format!("{:.1}×", r.ns / o.ns));
        let ratio_l = l.map_or("–".into(), |l| format!("{:.0} %", 100.0 * l.ns / o.ns));
        let _ = writeln!(
            s,
            "| {name} | {:.0} | {:.0} | {} | {:.0} | {rm} | {rb} | {lm} | {lb} | {ratio_r} | {ratio_l} |",
            o.bytes,
            o.ns,
            si(o.per_s(1.0)),
            o.mb_s()
        );
    }

    let _ = writeln!(s, "\n### parse_lazy (parse + `check_headers` + SDP view)\n");
    let _ = writeln!(
        s,
        "| message | bytes | ns | msgs/s | MB/s | parse-only share |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
    for (name, _) in REALISTIC {
        let Some(e) = get(&format!("parse_lazy/{name}"), "sbc") else {
            continue;
        };
        let share = get(&format!("parse/{name}"), "sbc")
            .map_or("–".into(), |p| format!("{:.0} %", 100.0 * p.ns / e.ns));
        let _ = writeln!(
            s,
            "| {name} | {:.0} | {:.0} | {} | {:.0} | {share} |",
            e.bytes,
            e.ns,
            si(e.per_s(1.0)),
            e.mb_s()
        );
    }

    let _ = writeln!(
        s,
        "\n### serialize (typical B2BUA edit set, reused `Edits` and output `Vec`)\n"
    );
    let _ = writeln!(s, "| message | output bytes | ns | msgs/s | GB/s |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    for (name, _) in SERIALIZE {
        let Some(e) = get(&format!("serialize/{name}"), "b2bua-edits") else {
            continue;
        };
        let _ = writeln!(
            s,
            "| {name} | {:.0} | {:.0} | {} | {:.2} |",
            e.bytes,
            e.ns,
            si(e.per_s(1.0)),
            e.mb_s() / 1e3
        );
    }

    let _ = writeln!(
        s,
        "\n### framer ({FRAMER_MESSAGES} messages on one TCP stream, framed and parsed)\n"
    );
    let _ = writeln!(s, "| stream bytes | µs per stream | msgs/s | MB/s |");
    let _ = writeln!(s, "|---:|---:|---:|---:|");
    if let Some(e) = get("framer", "stream-1000") {
        let _ = writeln!(
            s,
            "| {:.0} | {:.1} | {} | {:.0} |",
            e.bytes,
            e.ns / 1e3,
            si(e.per_s(FRAMER_MESSAGES as f64)),
            e.mb_s()
        );
    }
    if m.is_empty() {
        let _ = writeln!(s, "\n(no criterion results under {})", dir.display());
    }
    let _ = std::io::stdout().write_all(s.as_bytes());
}
