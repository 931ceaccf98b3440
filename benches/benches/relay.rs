//! Relay throughput and latency on loopback (issue 7, part 4b). Not criterion: the figure
//! that matters is packets forwarded per CPU-second of the relay thread, measured with
//! `getrusage(RUSAGE_THREAD)` (user + system, so the recvmmsg/sendmmsg kernel work is
//! included), which stays meaningful on a machine shared with other jobs.
//!
//! ```text
//! cargo bench -p sbc-benches --bench relay -- [MODE] [STREAMS] [SECONDS] [RATE]
//! MODE    rtp-rtp | rtp-srtp | srtp-rtp | all        (default all)
//! STREAMS concurrent calls, one stream each         (default 200)
//! SECONDS measured time per mode, after 1 s warm-up  (default 5)
//! RATE    0: unpaced, the generator sends as fast as it can (throughput);
//!         N: N packets/s in total, paced per millisecond; the sink then reads every
//!         packet and reports the one-way latency generator -> relay -> sink (p50/p99)
//!         and, for reference, the same path without the relay (`direct`).
//! ```
//!
//! One relay thread (tokio current_thread runtime) runs all calls. One generator thread
//! sends 172-byte G.711 packets with `sendmmsg` from one socket to every call's leg-A
//! socket in turn; every call's leg B sends to one sink socket. In throughput mode the sink
//! is not read (its queue overflows in the kernel; the relay's sends still cost their
//! full system call). The send time (µs) travels in the RTP timestamp field, which SRTP
//! leaves in clear.

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::socket::{recvmmsg, sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
use sbc_relay::shell::{spawn_call, LegSockets, ShellConfig};
use sbc_relay::{Call, CallLimits, LegConfig, LegId, SourcePolicy, SrtpLeg};
use sbc_srtp::{Config, Context, KeyParams, Mki, Suite};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    RtpRtp,
    RtpSrtp,
    SrtpRtp,
    Direct,
    /// Another relay (e.g. rtpengine) set up by a script: see `external_setup`.
    External,
}

/// For `external`: env RELAY_BENCH_TARGETS (file, one `ip:port` per stream: where the
/// generator sends), RELAY_BENCH_PID (the relay process, whose CPU time is measured),
/// RELAY_BENCH_GEN_PORT and RELAY_BENCH_SINK_PORT (fixed local ports the script signalled).
fn env_port(name: &str) -> u16 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU time (user + system) of a whole process, from /proc/PID/stat (clock ticks of
/// 1/100 s, the x86-64 Linux USER_HZ).
fn process_cpu(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    // After the command: state, ppid, pgrp, session, tty_nr, tpgid (may be -1), flags,
    // minflt, cminflt, majflt, cmajflt, utime, stime (fields 3..=15 of proc(5)).
    let f: Vec<&str> = after.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    let ticks = num(11) + num(12);
    Duration::from_millis(ticks * 10)
}

fn key() -> KeyParams {
    KeyParams::from_key_salt(&[0x5a; 30], Some(1 << 31), Some(Mki::new(1, 1).unwrap()))
}

fn ctx() -> Context {
    Context::new(Suite::AesCm128HmacSha1_80, &[key()], Config::default()).unwrap()
}

fn thread_cpu() -> Duration {
    let u = getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage");
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(u.user_time()) + tv(u.system_time())
}

struct Outcome {
    forwarded: u64,
    dropped: u64,
    cpu: Duration,
    wall: Duration,
    latencies_us: Vec<u32>,
    generated: u64,
    /// Datagrams the kernel dropped at the sink (queue full) while measuring: the relay
    /// sent them, so they count as forwarded.
    sink_drops: u64,
}

/// The `drops` column of /proc/net/udp for the local port.
fn udp_drops(port: u16) -> u64 {
    let text = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
    let want = format!(":{port:04X} ");
    text.lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| format!("{a} ").ends_with(&want))
        })
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}

fn run(mode: Mode, streams: usize, secs: u64, rate: u64) -> Outcome {
    let gen = UdpSocket::bind(("127.0.0.1", env_port("RELAY_BENCH_GEN_PORT"))).unwrap();
    let sink = UdpSocket::bind(("127.0.0.1", env_port("RELAY_BENCH_SINK_PORT"))).unwrap();
    let ext_pid = std::env::var("RELAY_BENCH_PID").unwrap_or_default();
    let gen_addr = gen.local_addr().unwrap();
    let sink_addr = sink.local_addr().unwrap();
    let base = Instant::now();

    // Relay thread.
    let (targets_tx, targets_rx) = std::sync::mpsc::channel::<Vec<SocketAddr>>();
    let (ctl_tx, mut ctl_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (res_tx, res_rx) = std::sync::mpsc::channel::<(u64, u64, Duration, Duration)>();
    let relay = (mode != Mode::Direct && mode != Mode::External).then(|| {
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let (ev_tx, _ev_rx) = tokio::sync::mpsc::unbounded_channel();
                let mut handles = Vec::new();
                let mut targets = Vec::new();
                for i in 0..streams {
                    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
                    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
                    targets.push(a.local_addr().unwrap());
                    let policy = SourcePolicy {
                        learn_window: Duration::ZERO,
                        strict: true,
                    };
                    let mut la = LegConfig::plain(Some(gen_addr));
                    la.source = policy;
                    let mut lb = LegConfig::plain(Some(sink_addr));
                    lb.source = policy;
                    match mode {
                        Mode::SrtpRtp => {
                            la.srtp = Some(SrtpLeg {
                                inbound: ctx(),
                                outbound: ctx(),
                            })
                        }
                        Mode::RtpSrtp => {
                            lb.srtp = Some(SrtpLeg {
                                inbound: ctx(),
                                outbound: ctx(),
                            })
                        }
                        _ => {}
                    }
                    let call = Call::new(
                        la,
                        lb,
                        CallLimits {
                            inactivity_timeout: Duration::from_secs(3600),
                        },
                        Instant::now(),
                    );
                    let h = spawn_call(
                        i as u64,
                        call,
                        LegSockets { rtp: a, rtcp: None },
                        LegSockets { rtp: b, rtcp: None },
                        ShellConfig::default(),
                        ev_tx.clone(),
                    )
                    .unwrap();
                    handles.push(h);
                }
                targets_tx.send(targets).unwrap();
                // Relay statistics are published once per tick: only the drop count is
                // read from them (indicative); forwarded packets are counted at the sink.
                let totals = |hs: &[sbc_relay::shell::CallHandle]| {
                    hs.iter().fold((0, 0), |(f, d), h| {
                        let [a, b] = h.stats();
                        (f + b.tx_packets, d + a.drops.total())
                    })
                };
                // Warm-up, then measure between two control messages.
                for phase in 0..2 {
                    ctl_rx.recv().await;
                    if phase == 0 {
                        let (f, d) = totals(&handles);
                        res_tx.send((f, d, thread_cpu(), base.elapsed())).unwrap();
                    }
                }
                let (f, d) = totals(&handles);
                res_tx.send((f, d, thread_cpu(), base.elapsed())).unwrap();
                for h in handles {
                    h.stop().await;
                }
            });
        })
    });
    let targets = match mode {
        Mode::Direct => vec![sink_addr; streams],
        Mode::External => {
            let file = std::env::var("RELAY_BENCH_TARGETS").expect("RELAY_BENCH_TARGETS");
            let text = std::fs::read_to_string(file).expect("targets file");
            text.lines().filter_map(|l| l.trim().parse().ok()).collect()
        }
        _ => targets_rx.recv().unwrap(),
    };
    let streams = targets.len();

    // Sink: counts every packet that arrives while measuring (the forwarded figure) with
    // `recvmmsg`, and in paced mode records the one-way latency of each.
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let sink_thread = {
        let stop = stop.clone();
        let measuring = measuring.clone();
        let sink = sink.try_clone().unwrap();
        sink.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        std::thread::spawn(move || {
            let mut lat = Vec::with_capacity(if rate > 0 { 1 << 20 } else { 0 });
            let mut count = 0u64;
            let mut bufs = vec![[0u8; 256]; 64];
            let mut hdrs = MultiHeaders::<SockaddrStorage>::preallocate(64, None);
            let fd = sink.as_raw_fd();
            while !stop.load(Ordering::Relaxed) {
                let got: Vec<usize> = {
                    let mut iovs: Vec<[IoSliceMut<'_>; 1]> = bufs
                        .iter_mut()
                        .map(|b| [IoSliceMut::new(&mut b[..])])
                        .collect();
                    match recvmmsg(
                        fd,
                        &mut hdrs,
                        iovs.iter_mut(),
                        MsgFlags::MSG_WAITFORONE,
                        None,
                    ) {
                        Ok(res) => res.map(|m| m.bytes).collect(),
                        Err(_) => continue,
                    }
                };
                if !measuring.load(Ordering::Relaxed) {
                    continue;
                }
                let now = base.elapsed().as_micros() as u32;
                count += got.len() as u64;
                if rate > 0 {
                    for (k, n) in got.into_iter().enumerate() {
                        if n >= 12 {
                            let b = &bufs[k];
                            let sent = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                            lat.push(now.wrapping_sub(sent));
                        }
                    }
                }
            }
            (count, lat)
        })
    };

    // Generator (this thread).
    let mut txs: Vec<Context> = if mode == Mode::SrtpRtp {
        (0..streams).map(|_| ctx()).collect()
    } else {
        vec![]
    };
    let mut seqs = vec![0u16; streams];
    let mut hdrs = MultiHeaders::<SockaddrStorage>::preallocate(32, None);
    let dsts: Vec<SockaddrStorage> = targets.iter().map(|a| SockaddrStorage::from(*a)).collect();
    let mut bufs = vec![[0u8; 200]; 32];
    let mut lens = [0usize; 32];
    let fd = gen.as_raw_fd();
    let mut next = 0usize;
    let mut generated = 0u64;
    let warm = Duration::from_secs(1);
    let total = warm + Duration::from_secs(secs);
    let start = Instant::now();
    let mut phase = 0;
    let per_ms = rate / 1000;
    let mut tick = start;
    let mut in_tick = 0u64;
    let mut m0 = None;
    while start.elapsed() < total {
        if phase == 0 && start.elapsed() >= warm {
            phase = 1;
            measuring.store(true, Ordering::Relaxed);
            if relay.is_some() {
                ctl_tx.send(()).unwrap();
            }
            m0 = Some((
                generated,
                Instant::now(),
                udp_drops(sink_addr.port()),
                process_cpu(&ext_pid),
            ));
        }
        let batch = if rate > 0 {
            per_ms.saturating_sub(in_tick).clamp(1, 32) as usize
        } else {
            32
        };
        let mut addrs: [Option<SockaddrStorage>; 32] = [None; 32];
        for k in 0..batch {
            let i = next;
            next = (next + 1) % streams;
            let p = &mut bufs[k];
            p[..12].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            p[2..4].copy_from_slice(&seqs[i].to_be_bytes());
            seqs[i] = seqs[i].wrapping_add(1);
            p[4..8].copy_from_slice(&(base.elapsed().as_micros() as u32).to_be_bytes());
            p[8..12].copy_from_slice(&(i as u32).to_be_bytes());
            p[12..172].fill(0xd5);
            lens[k] = 172;
            if mode == Mode::SrtpRtp {
                lens[k] = txs[i].protect_rtp(&mut p[..], 172).unwrap();
            }
            addrs[k] = Some(dsts[i]);
        }
        let iovs: Vec<[IoSlice<'_>; 1]> = (0..batch)
            .map(|k| [IoSlice::new(&bufs[k][..lens[k]])])
            .collect();
        if let Ok(r) = sendmmsg(fd, &mut hdrs, &iovs, &addrs[..batch], [], MsgFlags::empty()) {
            generated += r.count() as u64;
        }
        if rate > 0 {
            // Pace: `per_ms` packets per millisecond (benchmark only; tests never sleep).
            in_tick += batch as u64;
            if in_tick >= per_ms.max(1) {
                in_tick = 0;
                tick += Duration::from_millis(1);
                let now = Instant::now();
                if tick > now {
                    std::thread::sleep(tick - now);
                }
            }
        }
    }
    measuring.store(false, Ordering::Relaxed);
    let (g0, t0, sd0, pc0) = m0.unwrap();
    let ext_cpu = process_cpu(&ext_pid) - pc0;
    let sink_drops = udp_drops(sink_addr.port()) - sd0;
    let gen_wall = t0.elapsed();
    let generated = generated - g0;
    let (_stale, dropped, cpu, wall) = if let Some(relay) = relay {
        ctl_tx.send(()).unwrap();
        let (f0, d0, c0, w0) = res_rx.recv().unwrap();
        let (f1, d1, c1, w1) = res_rx.recv().unwrap();
        relay.join().unwrap();
        (f1 - f0, d1 - d0, c1 - c0, w1 - w0)
    } else {
        (generated, 0, ext_cpu, gen_wall)
    };
    stop.store(true, Ordering::Relaxed);
    let (sunk, latencies_us) = sink_thread.join().unwrap();
    drop(sink);
    Outcome {
        forwarded: sunk + sink_drops,
        sink_drops,
        dropped,
        cpu,
        wall,
        latencies_us,
        generated,
    }
}

fn pct(v: &mut [u32], p: f64) -> u32 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p) as usize]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let mode = args.first().map(String::as_str).unwrap_or("all");
    let streams: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let rate: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
    let modes: Vec<Mode> = match mode {
        "rtp-rtp" => vec![Mode::RtpRtp],
        "rtp-srtp" => vec![Mode::RtpSrtp],
        "srtp-rtp" => vec![Mode::SrtpRtp],
        "direct" => vec![Mode::Direct],
        "external" => vec![Mode::External],
        _ => vec![Mode::RtpRtp, Mode::RtpSrtp, Mode::SrtpRtp],
    };
    let mut modes = modes;
    if rate > 0 && !modes.contains(&Mode::Direct) && !modes.contains(&Mode::External) {
        modes.push(Mode::Direct);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!(
        "streams={streams} seconds={secs} rate={rate} loadavg={}",
        load.trim()
    );
    for m in modes {
        let mut o = run(m, streams, secs, rate);
        let per_cpu = if o.cpu.is_zero() {
            0.0
        } else {
            o.forwarded as f64 / o.cpu.as_secs_f64()
        };
        let wall = o.forwarded as f64 / o.wall.as_secs_f64();
        let p50 = pct(&mut o.latencies_us, 0.50);
        let p99 = pct(&mut o.latencies_us, 0.99);
        let p999 = pct(&mut o.latencies_us, 0.999);
        eprintln!(
            "{m:?}: generated={} forwarded={} sink_drops={} relay_drops={} relay_cpu={:.3}s wall={:.3}s \
             => {per_cpu:.0} pkt/s per relay CPU-second, {wall:.0} pkt/s wall; \
             latency samples={} p50={p50}us p99={p99}us p99.9={p999}us",
            o.generated,
            o.forwarded,
            o.sink_drops,
            o.dropped,
            o.cpu.as_secs_f64(),
            o.wall.as_secs_f64(),
            o.latencies_us.len(),
        );
    }
    let _ = LegId::A;
}
