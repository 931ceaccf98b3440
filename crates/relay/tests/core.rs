//! The pure packet path, without sockets: translation, latching, source checking, drops,
//! payload-type remapping, RTCP statistics, inactivity.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sbc_relay::{
    Call, CallLimits, DropReason, Event, LegConfig, LegId, Port, SourcePolicy, SrtpLeg, Verdict,
    TAIL_ROOM,
};
use sbc_srtp::{Config, Context, KeyParams, Mki, Suite};

const S80: Suite = Suite::AesCm128HmacSha1_80;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Keys of the Teams side: what Teams offered (it sends with) and what we answered.
fn teams_keys() -> (KeyParams, KeyParams) {
    let theirs =
        KeyParams::from_key_salt(&[0x11; 30], Some(1 << 31), Some(Mki::new(1, 1).unwrap()));
    let ours = KeyParams::from_key_salt(&[0x22; 30], Some(1 << 31), Some(Mki::new(1, 1).unwrap()));
    (theirs, ours)
}

fn ctx(k: &KeyParams) -> Context {
    Context::new(S80, std::slice::from_ref(k), Config::default()).unwrap()
}

struct Fixture {
    call: Call,
    t0: Instant,
    /// What the Teams peer would use to send to us / read from us.
    teams_tx: Context,
    teams_rx: Context,
}

const GW: &str = "192.0.2.10:40000";
const TEAMS: &str = "198.51.100.7:50000";

/// Leg A: Teams (SRTP, strict source, rtcp-mux). Leg B: gateway (plain RTP, latching).
fn fixture(b_source: SourcePolicy) -> Fixture {
    let (theirs, ours) = teams_keys();
    let t0 = Instant::now();
    let a = LegConfig {
        remote_rtp: Some(addr(TEAMS)),
        remote_rtcp: None,
        rtcp_mux: true,
        srtp: Some(SrtpLeg {
            inbound: ctx(&theirs),
            outbound: ctx(&ours),
        }),
        source: SourcePolicy {
            learn_window: Duration::ZERO,
            strict: true,
        },
        // The gateway numbers telephone-event 100, Teams 101 (TI: DTMF per RFC 4733).
        pt_map: vec![(100, 101)],
    };
    let mut b = LegConfig::plain(Some(addr(GW)));
    b.source = b_source;
    b.pt_map = vec![(101, 100)];
    let call = Call::new(
        a,
        b,
        CallLimits {
            inactivity_timeout: Duration::from_secs(30),
        },
        t0,
    );
    Fixture {
        call,
        t0,
        teams_tx: ctx(&theirs),
        teams_rx: ctx(&ours),
    }
}

fn rtp(pt: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt, 0, 0, 0, 0, 0, 160, 0xca, 0xfe, 0xba, 0xbe];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// A receive buffer as the shell has it: packet then tail room.
fn rx_buf(pkt: &[u8]) -> (Vec<u8>, usize) {
    let mut b = pkt.to_vec();
    b.resize(pkt.len() + TAIL_ROOM, 0);
    (b, pkt.len())
}

fn rr(ssrc: u32, fraction: u8, cum: i32, jitter: u32) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0, 7];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.push(fraction);
    p.extend_from_slice(&cum.to_be_bytes()[1..]);
    p.extend_from_slice(&[0, 0, 1, 0]);
    p.extend_from_slice(&jitter.to_be_bytes());
    p.extend_from_slice(&[0; 8]);
    p
}

#[test]
fn plain_to_srtp_and_back() {
    let mut f = fixture(SourcePolicy::default());
    let g711 = [0xd5u8; 160];
    // Gateway -> Teams: RTP in, SRTP (with MKI) out on A's RTP port to the signalled address.
    let (mut buf, len) = rx_buf(&rtp(0, 1, &g711));
    let v = f
        .call
        .process(LegId::B, Port::Rtp, addr(GW), &mut buf, len, f.t0);
    let Verdict::Forward {
        leg,
        port,
        dst,
        len,
    } = v
    else {
        panic!("{v:?}")
    };
    assert_eq!(
        (leg, port, dst, len),
        (LegId::A, Port::Rtp, addr(TEAMS), 172 + 11)
    );
    let mut out = buf[..len].to_vec();
    f.teams_rx.unprotect_rtp_vec(&mut out).unwrap();
    assert_eq!(out, rtp(0, 1, &g711));

    // Teams -> gateway: SRTP in, RTP out.
    let mut s = rtp(0, 7, &g711);
    f.teams_tx.protect_rtp_vec(&mut s).unwrap();
    let (mut buf, len) = rx_buf(&s);
    let v = f
        .call
        .process(LegId::A, Port::Rtp, addr(TEAMS), &mut buf, len, f.t0);
    assert_eq!(
        v,
        Verdict::Forward {
            leg: LegId::B,
            port: Port::Rtp,
            dst: addr(GW),
            len: 172
        }
    );
    assert_eq!(buf[..172], rtp(0, 7, &g711)[..]);

    // SRTCP (muxed on A) -> RTCP on B's RTCP port (port + 1), with RR statistics kept.
    let mut c = rr(0xcafebabe, 64, 12, 80);
    f.teams_tx.protect_rtcp_vec(&mut c).unwrap();
    let (mut buf, len) = rx_buf(&c);
    let v = f
        .call
        .process(LegId::A, Port::Rtp, addr(TEAMS), &mut buf, len, f.t0);
    let Verdict::Forward {
        leg,
        port,
        dst,
        len,
    } = v
    else {
        panic!("{v:?}")
    };
    assert_eq!(
        (leg, port, dst),
        (LegId::B, Port::Rtcp, addr("192.0.2.10:40001"))
    );
    assert_eq!(buf[..len], rr(0xcafebabe, 64, 12, 80)[..]);
    let r = f.call.stats(LegId::A).rtcp;
    assert_eq!(
        (r.reports, r.fraction_lost, r.cumulative_lost, r.jitter),
        (1, 64, 12, 80)
    );

    // RTCP from the gateway -> SRTCP muxed on A's RTP port.
    let (mut buf, len) = rx_buf(&rr(0x1, 0, -1, 5));
    let v = f.call.process(
        LegId::B,
        Port::Rtcp,
        addr("192.0.2.10:40001"),
        &mut buf,
        len,
        f.t0,
    );
    let Verdict::Forward {
        leg,
        port,
        dst,
        len,
    } = v
    else {
        panic!("{v:?}")
    };
    assert_eq!((leg, port, dst), (LegId::A, Port::Rtp, addr(TEAMS)));
    let mut out = buf[..len].to_vec();
    f.teams_rx.unprotect_rtcp_vec(&mut out).unwrap();
    assert_eq!(out, rr(0x1, 0, -1, 5));
    assert_eq!(f.call.stats(LegId::B).rtcp.cumulative_lost, -1);

    let a = f.call.stats(LegId::A);
    assert_eq!((a.rx_packets, a.tx_packets, a.drops.total()), (2, 2, 0));
    assert_eq!(a.tx_bytes, 183 + (32 + 4 + 1 + 10));
}

#[test]
fn telephone_event_and_cn_pass_with_pt_remap() {
    let mut f = fixture(SourcePolicy::default());
    // RFC 4733 event (gateway PT 100 -> Teams PT 101), marker bit kept.
    let ev = [5u8, 0x8a, 0x03, 0x20];
    let (mut buf, len) = rx_buf(&rtp(0x80 | 100, 3, &ev));
    let Verdict::Forward { len, .. } =
        f.call
            .process(LegId::B, Port::Rtp, addr(GW), &mut buf, len, f.t0)
    else {
        panic!()
    };
    let mut out = buf[..len].to_vec();
    f.teams_rx.unprotect_rtp_vec(&mut out).unwrap();
    assert_eq!(out, rtp(0x80 | 101, 3, &ev));
    // CN (RFC 3389, PT 13) is not in the map: unchanged.
    let (mut buf, len) = rx_buf(&rtp(13, 4, &[42]));
    let Verdict::Forward { len, .. } =
        f.call
            .process(LegId::B, Port::Rtp, addr(GW), &mut buf, len, f.t0)
    else {
        panic!()
    };
    let mut out = buf[..len].to_vec();
    f.teams_rx.unprotect_rtp_vec(&mut out).unwrap();
    assert_eq!(out, rtp(13, 4, &[42]));
    // Teams -> gateway: 101 -> 100.
    let mut s = rtp(101, 9, &ev);
    f.teams_tx.protect_rtp_vec(&mut s).unwrap();
    let (mut buf, len) = rx_buf(&s);
    let Verdict::Forward { len, .. } =
        f.call
            .process(LegId::A, Port::Rtp, addr(TEAMS), &mut buf, len, f.t0)
    else {
        panic!()
    };
    assert_eq!(buf[..len], rtp(100, 9, &ev)[..]);
}

#[test]
fn srtp_side_drops_forged_replayed_garbage_and_wrong_source() {
    let mut f = fixture(SourcePolicy::default());
    let mut good = rtp(0, 1, &[1; 160]);
    f.teams_tx.protect_rtp_vec(&mut good).unwrap();
    // Wrong source (strict, signalled address): dropped before any crypto.
    let (mut buf, len) = rx_buf(&good);
    let v = f.call.process(
        LegId::A,
        Port::Rtp,
        addr("203.0.113.9:50000"),
        &mut buf,
        len,
        f.t0,
    );
    assert_eq!(v, Verdict::Drop(DropReason::WrongSource));
    // Forged tag.
    let mut forged = good.clone();
    forged[20] ^= 1;
    let (mut buf, len) = rx_buf(&forged);
    let v = f
        .call
        .process(LegId::A, Port::Rtp, addr(TEAMS), &mut buf, len, f.t0);
    assert_eq!(v, Verdict::Drop(DropReason::AuthFailed));
    // Plain RTP where SRTP is expected: fails authentication.
    let (mut buf, len) = rx_buf(&rtp(0, 2, &[1; 160]));
    let v = f
        .call
        .process(LegId::A, Port::Rtp, addr(TEAMS), &mut buf, len, f.t0);
    assert_eq!(v, Verdict::Drop(DropReason::AuthFailed));
    // Good, then the same again.
    let (mut buf, len) = rx_buf(&good);
    assert!(matches!(
        f.call
            .process(LegId::A, Port::Rtp, addr(TEAMS), &mut buf, len, f.t0),
        Verdict::Forward { .. }
    ));
    let (mut buf, len) = rx_buf(&good);
    let v = f
        .call
        .process(LegId::A, Port::Rtp, addr(TEAMS), &mut buf, len, f.t0);
    assert_eq!(v, Verdict::Drop(DropReason::Replayed));
    // Wrong MKI.
    let mut bad_mki = good.clone();
    let at = bad_mki.len() - 11;
    bad_mki[at] = 9;
    let (mut buf, len) = rx_buf(&bad_mki);
    let v = f
        .call
        .process(LegId::A, Port::Rtp, addr(TEAMS), &mut buf, len, f.t0);
    assert_eq!(v, Verdict::Drop(DropReason::BadMki));
    // Garbage and truncation.
    for junk in [&[][..], &[0x80][..], &[0x00; 40][..], &good[..15]] {
        let (mut buf, len) = rx_buf(junk);
        let v = f
            .call
            .process(LegId::A, Port::Rtp, addr(TEAMS), &mut buf, len, f.t0);
        assert!(
            matches!(
                v,
                Verdict::Drop(DropReason::Malformed | DropReason::AuthFailed)
            ),
            "{v:?}"
        );
    }
    let d = f.call.stats(LegId::A).drops;
    assert_eq!(d.get(DropReason::WrongSource), 1);
    assert_eq!(d.get(DropReason::Replayed), 1);
    assert_eq!(d.get(DropReason::BadMki), 1);
    assert_eq!(d.total(), 9);
    assert_eq!(
        f.call.stats(LegId::B).tx_packets,
        1,
        "only the one good packet went out"
    );
}

#[test]
fn plain_side_latching_learn_window_and_strict_mode() {
    for strict in [true, false] {
        let policy = SourcePolicy {
            learn_window: Duration::from_secs(2),
            strict,
        };
        let mut f = fixture(policy);
        let nat = addr("192.0.2.99:6000"); // the gateway behind NAT: not the SDP address
        let other = addr("192.0.2.50:7000");
        let (mut buf, len) = rx_buf(&rtp(0, 1, &[0; 20]));
        assert!(matches!(
            f.call
                .process(LegId::B, Port::Rtp, nat, &mut buf, len, f.t0),
            Verdict::Forward { .. }
        ));
        // Teams -> gateway now goes to the latched source, not the SDP address.
        let mut s = rtp(0, 1, &[0; 20]);
        f.teams_tx.protect_rtp_vec(&mut s).unwrap();
        let (mut buf, len) = rx_buf(&s);
        let v = f
            .call
            .process(LegId::A, Port::Rtp, addr(TEAMS), &mut buf, len, f.t0);
        assert!(
            matches!(v, Verdict::Forward { dst, .. } if dst == nat),
            "{v:?}"
        );
        // Within the learning window another source re-latches.
        let t1 = f.t0 + Duration::from_secs(1);
        let (mut buf, len) = rx_buf(&rtp(0, 2, &[0; 20]));
        assert!(matches!(
            f.call
                .process(LegId::B, Port::Rtp, other, &mut buf, len, t1),
            Verdict::Forward { .. }
        ));
        let mut s = rtp(0, 2, &[0; 20]);
        f.teams_tx.protect_rtp_vec(&mut s).unwrap();
        let (mut buf, len) = rx_buf(&s);
        let v = f
            .call
            .process(LegId::A, Port::Rtp, addr(TEAMS), &mut buf, len, t1);
        assert!(
            matches!(v, Verdict::Forward { dst, .. } if dst == other),
            "{v:?}"
        );
        // After the window: strict drops the old source, non-strict forwards without relatching.
        let t3 = f.t0 + Duration::from_secs(3);
        let (mut buf, len) = rx_buf(&rtp(0, 3, &[0; 20]));
        let v = f.call.process(LegId::B, Port::Rtp, nat, &mut buf, len, t3);
        if strict {
            assert_eq!(v, Verdict::Drop(DropReason::WrongSource));
        } else {
            assert!(matches!(v, Verdict::Forward { .. }));
        }
        let mut s = rtp(0, 3, &[0; 20]);
        f.teams_tx.protect_rtp_vec(&mut s).unwrap();
        let (mut buf, len) = rx_buf(&s);
        let v = f
            .call
            .process(LegId::A, Port::Rtp, addr(TEAMS), &mut buf, len, t3);
        assert!(
            matches!(v, Verdict::Forward { dst, .. } if dst == other),
            "latch stays: {v:?}"
        );
    }
}

#[test]
fn no_destination_until_a_peer_is_known() {
    let t0 = Instant::now();
    let mut call = Call::new(
        LegConfig::plain(None),
        LegConfig::plain(None),
        CallLimits::default(),
        t0,
    );
    let (mut buf, len) = rx_buf(&rtp(0, 1, &[0; 20]));
    let v = call.process(
        LegId::A,
        Port::Rtp,
        addr("10.0.0.1:4000"),
        &mut buf,
        len,
        t0,
    );
    assert_eq!(v, Verdict::Drop(DropReason::NoDestination));
    let (mut buf, len) = rx_buf(&rtp(0, 1, &[0; 20]));
    let v = call.process(
        LegId::B,
        Port::Rtp,
        addr("10.0.0.2:5000"),
        &mut buf,
        len,
        t0,
    );
    assert!(matches!(v, Verdict::Forward { dst, .. } if dst == addr("10.0.0.1:4000")));
    // RTCP on the RTP port without rtcp-mux is refused.
    let (mut buf, len) = rx_buf(&rr(1, 0, 0, 0));
    let v = call.process(
        LegId::B,
        Port::Rtp,
        addr("10.0.0.2:5000"),
        &mut buf,
        len,
        t0,
    );
    assert_eq!(v, Verdict::Drop(DropReason::Malformed));
    // Extension header claiming more than the packet: malformed on the plain side.
    let mut x = rtp(0, 2, &[0; 4]);
    x[0] |= 0x10;
    x[14..16].copy_from_slice(&[0, 9]);
    let (mut buf, len) = rx_buf(&x);
    let v = call.process(
        LegId::B,
        Port::Rtp,
        addr("10.0.0.2:5000"),
        &mut buf,
        len,
        t0,
    );
    assert_eq!(v, Verdict::Drop(DropReason::Malformed));
}

#[test]
fn inactivity_is_reported_once_and_activity_defers_it() {
    let mut f = fixture(SourcePolicy::default());
    let t0 = f.t0;
    assert_eq!(f.call.poll(t0 + Duration::from_secs(29)), None);
    let (mut buf, len) = rx_buf(&rtp(0, 1, &[0; 20]));
    f.call.process(
        LegId::B,
        Port::Rtp,
        addr(GW),
        &mut buf,
        len,
        t0 + Duration::from_secs(20),
    );
    assert_eq!(f.call.next_deadline(), t0 + Duration::from_secs(50));
    assert_eq!(f.call.poll(t0 + Duration::from_secs(49)), None);
    // Dropped packets are not activity.
    let (mut buf, len) = rx_buf(&[0u8; 30]);
    f.call.process(
        LegId::A,
        Port::Rtp,
        addr(TEAMS),
        &mut buf,
        len,
        t0 + Duration::from_secs(45),
    );
    assert_eq!(
        f.call.poll(t0 + Duration::from_secs(51)),
        Some(Event::Inactive {
            idle: Duration::from_secs(31)
        })
    );
    assert_eq!(f.call.poll(t0 + Duration::from_secs(90)), None);
}

#[test]
fn arbitrary_bytes_on_any_port_never_panic_nor_pass_srtp() {
    // A deterministic xorshift stream of junk, biased to look like RTP/RTCP.
    let mut f = fixture(SourcePolicy::default());
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..20_000 {
        let len = (next() % 300) as usize;
        let mut pkt: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if len > 1 && next() % 2 == 0 {
            pkt[0] = 0x80 | (pkt[0] & 0x3f);
        }
        let (mut buf, l) = rx_buf(&pkt);
        let port = if next() % 2 == 0 {
            Port::Rtp
        } else {
            Port::Rtcp
        };
        let v = f
            .call
            .process(LegId::A, port, addr(TEAMS), &mut buf, l, f.t0);
        assert!(
            matches!(v, Verdict::Drop(_)),
            "junk on the SRTP leg forwarded: {v:?}"
        );
        let (mut buf, l) = rx_buf(&pkt);
        let _ = f.call.process(LegId::B, port, addr(GW), &mut buf, l, f.t0);
        // A length beyond the buffer is a drop, not a panic.
        let _ = f
            .call
            .process(LegId::B, port, addr(GW), &mut buf, l + 10_000, f.t0);
    }
    assert_eq!(f.call.stats(LegId::A).rx_packets, 20_000);
}
