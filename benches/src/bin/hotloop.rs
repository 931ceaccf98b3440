//! `hotloop WORKLOAD FILE ITERATIONS`: runs one workload in a plain loop, for profilers
//! (`valgrind --tool=callgrind`, `perf record`) whose instruction counts do not depend on
//! what else the machine is doing. WORKLOAD is `parse`, `lazy`, `serialize` or
//! `line-scan`; FILE is an own vector (`invite-900.sip`). `srtp-protect` and
//! `srtp-unprotect` (FILE ignored, give `-`) protect / unprotect a 172-byte G.711 packet
//! with `AES_CM_128_HMAC_SHA1_80` and a 1-byte MKI (the unprotect loop also protects, so
//! subtract the protect count). Prints nothing; exits 2 on bad arguments.

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
    if let Some(op) = work.strip_prefix("srtp-") {
        srtp(op, n);
        return;
    }
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

fn srtp(op: &str, n: usize) {
    use sbc_srtp::{Config, Context, KeyParams, Mki, Suite};
    let key = KeyParams::from_key_salt(&[0x5a; 30], None, Some(Mki { value: 1, len: 1 }));
    let cfg = Config {
        allow_repeat_tx: true,
        ..Config::default()
    };
    let Ok(mut tx) = Context::new(Suite::AesCm128HmacSha1_80, std::slice::from_ref(&key), cfg)
    else {
        std::process::exit(1)
    };
    let Ok(mut rx) = Context::new(Suite::AesCm128HmacSha1_80, &[key], Config::default()) else {
        std::process::exit(1)
    };
    let mut buf = [0u8; 172 + 32];
    for i in 0..n {
        buf[..12].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 160, 0x12, 0x34, 0x56, 0x78]);
        buf[2..4].copy_from_slice(&(i as u16).to_be_bytes());
        buf[12..172].fill(0xd5);
        let Ok(len) = tx.protect_rtp(&mut buf, 172) else {
            std::process::exit(1)
        };
        if op == "unprotect" {
            // Fresh index each time up to 65 536 iterations; beyond, the ROC advances.
            let _ = black_box(rx.unprotect_rtp(&mut buf[..len]));
        }
        black_box(&buf);
    }
}
