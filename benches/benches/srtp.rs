//! SRTP packet cost (issue 7, part 4a) and the pure relay packet path.
//!
//! * `srtp-crypto/raw-aes128ctr-hmacsha1-80`: the crypto limit. AES-128-CTR over the
//!   160-byte payload and HMAC-SHA1 over the 172-byte packet + ROC, truncated to 80 bits,
//!   on the RustCrypto primitives with pre-expanded keys (what any SRTP stack must do).
//! * `srtp-crypto/protect-80`, `protect-32`, `protect-80-mki`: `sbc_srtp::Context::protect_rtp`
//!   on a 172-byte G.711 packet (12-byte header + 160 bytes), in place with tail room.
//! * `srtp-crypto/unprotect-80`: `unprotect_rtp` of a fresh packet each iteration (replay
//!   check, HMAC verify, decrypt).
//! * `relay-core/{rtp-to-srtp,srtp-to-rtp,rtp-to-rtp}`: `sbc_relay::Call::process` for one
//!   packet: source check, translation, statistics; no sockets.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aes::cipher::{InnerIvInit, KeyInit, StreamCipher, StreamCipherCoreWrapper};
use aes::Aes128Enc;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use hmac::{Hmac, Mac};
use sbc_relay::{Call, CallLimits, LegConfig, LegId, Port, SourcePolicy, SrtpLeg, TAIL_ROOM};
use sbc_srtp::{Config, Context, KeyParams, Mki, Suite};
use sha1::Sha1;

fn g711(seq: u16) -> Vec<u8> {
    let mut p = Vec::with_capacity(172 + 32);
    p.extend_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 160, 0x12, 0x34, 0x56, 0x78]);
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0xd5; 160]);
    p
}

fn key(mki: bool) -> KeyParams {
    KeyParams::from_key_salt(&[0x5a; 30], None, mki.then(|| Mki::new(1, 1).unwrap()))
}

fn ctx(suite: Suite, mki: bool) -> Context {
    // Repeat allowed: the bench protects the same sequence numbers again and again.
    let cfg = Config {
        allow_repeat_tx: true,
        ..Config::default()
    };
    Context::new(suite, &[key(mki)], cfg).unwrap()
}

fn crypto(c: &mut Criterion) {
    let mut g = c.benchmark_group("srtp-crypto");
    g.throughput(Throughput::Elements(1));
    g.warm_up_time(Duration::from_millis(800));
    g.measurement_time(Duration::from_secs(2));
    g.sample_size(25);

    let cipher = Aes128Enc::new(&[7u8; 16].into());
    let mac = <Hmac<Sha1> as Mac>::new_from_slice(&[9u8; 20]).unwrap();
    let mut pkt = g711(1);
    pkt.resize(182, 0);
    g.bench_function("raw-aes128ctr-hmacsha1-80", |b| {
        b.iter(|| {
            let iv = [3u8; 16];
            let mut c = StreamCipherCoreWrapper::from_core(ctr::CtrCore::<
                Aes128Enc,
                ctr::flavors::Ctr128BE,
            >::inner_iv_init(
                cipher.clone(), &iv.into()
            ));
            c.apply_keystream(&mut pkt[12..172]);
            let mut m = mac.clone();
            m.update(&pkt[..172]);
            m.update(&[0, 0, 0, 0]);
            let tag = m.finalize().into_bytes();
            pkt[172..182].copy_from_slice(&tag[..10]);
            black_box(&pkt);
        })
    });

    for (name, suite, mki) in [
        ("protect-80", Suite::AesCm128HmacSha1_80, false),
        ("protect-32", Suite::AesCm128HmacSha1_32, false),
        ("protect-80-mki", Suite::AesCm128HmacSha1_80, true),
    ] {
        let mut tx = ctx(suite, mki);
        let mut buf = [0u8; 172 + 32];
        let plain = g711(1);
        g.bench_function(name, |b| {
            b.iter(|| {
                buf[..172].copy_from_slice(&plain);
                black_box(tx.protect_rtp(&mut buf, 172).unwrap());
            })
        });
    }

    let mut tx = ctx(Suite::AesCm128HmacSha1_80, false);
    let mut rx = ctx(Suite::AesCm128HmacSha1_80, false);
    let mut seq = 0u16;
    g.bench_function("unprotect-80", |b| {
        b.iter_batched_ref(
            || {
                seq = seq.wrapping_add(1);
                let mut p = g711(seq);
                tx.protect_rtp_vec(&mut p).unwrap();
                p
            },
            |p| black_box(rx.unprotect_rtp(p).unwrap()),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn relay_core(c: &mut Criterion) {
    let mut g = c.benchmark_group("relay-core");
    g.throughput(Throughput::Elements(1));
    g.warm_up_time(Duration::from_millis(800));
    g.measurement_time(Duration::from_secs(2));
    g.sample_size(25);
    let gw: SocketAddr = "192.0.2.1:4000".parse().unwrap();
    let teams: SocketAddr = "198.51.100.1:5000".parse().unwrap();
    let srtp_leg = || LegConfig {
        remote_rtp: Some(teams),
        remote_rtcp: None,
        rtcp_mux: true,
        srtp: Some(SrtpLeg {
            inbound: ctx(Suite::AesCm128HmacSha1_80, true),
            outbound: ctx(Suite::AesCm128HmacSha1_80, true),
        }),
        source: SourcePolicy {
            learn_window: Duration::ZERO,
            strict: true,
        },
        pt_map: vec![],
    };
    let now = Instant::now();
    let mut buf = [0u8; 172 + TAIL_ROOM];
    let plain = g711(1);

    let mut call = Call::new(
        srtp_leg(),
        LegConfig::plain(Some(gw)),
        CallLimits::default(),
        now,
    );
    g.bench_function("rtp-to-srtp", |b| {
        b.iter(|| {
            buf[..172].copy_from_slice(&plain);
            black_box(call.process(LegId::B, Port::Rtp, gw, &mut buf, 172, now));
        })
    });

    let mut call = Call::new(
        LegConfig::plain(Some(teams)),
        LegConfig::plain(Some(gw)),
        CallLimits::default(),
        now,
    );
    g.bench_function("rtp-to-rtp", |b| {
        b.iter(|| {
            buf[..172].copy_from_slice(&plain);
            black_box(call.process(LegId::B, Port::Rtp, gw, &mut buf, 172, now));
        })
    });

    let mut call = Call::new(
        srtp_leg(),
        LegConfig::plain(Some(gw)),
        CallLimits::default(),
        now,
    );
    let mut tx = ctx(Suite::AesCm128HmacSha1_80, true);
    let mut seq = 0u16;
    g.bench_function("srtp-to-rtp", |b| {
        b.iter_batched_ref(
            || {
                seq = seq.wrapping_add(1);
                let mut p = g711(seq);
                tx.protect_rtp_vec(&mut p).unwrap();
                let n = p.len();
                p.resize(n + TAIL_ROOM, 0);
                (p, n)
            },
            |(p, n)| black_box(call.process(LegId::A, Port::Rtp, teams, p, *n, now)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, crypto, relay_core);
criterion_main!(benches);
