//! The tokio shell on real loopback sockets: translation both ways, drops counted and never
//! forwarded, a flooded call does not stop another, inactivity reported. No sleeps: every
//! wait is on a received packet or event, bounded by a timeout that only guards against
//! hanging.

use std::net::{SocketAddr, UdpSocket as StdUdp};
use std::time::{Duration, Instant};

use sbc_relay::shell::{spawn_call, CallHandle, LegSockets, ShellConfig};
use sbc_relay::{Call, CallLimits, DropReason, Event, LegConfig, LegId, SourcePolicy, SrtpLeg};
use sbc_srtp::{Config, Context, KeyParams, Mki, Suite};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::timeout;

const GUARD: Duration = Duration::from_secs(10);
const S80: Suite = Suite::AesCm128HmacSha1_80;

fn bind() -> StdUdp {
    StdUdp::bind("127.0.0.1:0").unwrap()
}

async fn peer() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

fn keys() -> (KeyParams, KeyParams) {
    let mki = Some(Mki::new(1, 1).unwrap());
    (
        KeyParams::from_key_salt(&[0x31; 30], Some(1 << 31), mki),
        KeyParams::from_key_salt(&[0x42; 30], Some(1 << 31), mki),
    )
}

fn ctx(k: &KeyParams) -> Context {
    Context::new(S80, std::slice::from_ref(k), Config::default()).unwrap()
}

fn rtp(seq: u16, pt: u8) -> Vec<u8> {
    let mut p = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0xd5; 160]);
    p
}

struct Setup {
    handle: CallHandle,
    teams: UdpSocket,
    gw: UdpSocket,
    gw_rtcp: UdpSocket,
    relay_a: SocketAddr,
    relay_b: SocketAddr,
    relay_b_rtcp: SocketAddr,
    teams_tx: Context,
    teams_rx: Context,
}

async fn setup(id: u64, events: mpsc::UnboundedSender<(u64, Event)>, idle: Duration) -> Setup {
    let (theirs, ours) = keys();
    let (teams, gw, gw_rtcp) = (peer().await, peer().await, peer().await);
    let (a_rtp, b_rtp, b_rtcp) = (bind(), bind(), bind());
    let (relay_a, relay_b, relay_b_rtcp) = (
        a_rtp.local_addr().unwrap(),
        b_rtp.local_addr().unwrap(),
        b_rtcp.local_addr().unwrap(),
    );
    let a = LegConfig {
        remote_rtp: Some(teams.local_addr().unwrap()),
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
        pt_map: vec![],
    };
    let mut b = LegConfig::plain(Some(gw.local_addr().unwrap()));
    b.remote_rtcp = Some(gw_rtcp.local_addr().unwrap());
    let call = Call::new(
        a,
        b,
        CallLimits {
            inactivity_timeout: idle,
        },
        Instant::now(),
    );
    let handle = spawn_call(
        id,
        call,
        LegSockets {
            rtp: a_rtp,
            rtcp: None,
        },
        LegSockets {
            rtp: b_rtp,
            rtcp: Some(b_rtcp),
        },
        ShellConfig {
            tick: idle.min(Duration::from_secs(1)) / 2,
            ..ShellConfig::default()
        },
        events,
    )
    .unwrap();
    Setup {
        handle,
        teams,
        gw,
        gw_rtcp,
        relay_a,
        relay_b,
        relay_b_rtcp,
        teams_tx: ctx(&theirs),
        teams_rx: ctx(&ours),
    }
}

async fn recv(s: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 2048];
    let (n, _) = timeout(GUARD, s.recv_from(&mut buf))
        .await
        .expect("packet expected")
        .unwrap();
    buf.truncate(n);
    buf
}

#[tokio::test]
async fn translates_both_ways_and_drops_bad_packets() {
    let (tx, _rx) = mpsc::unbounded_channel();
    let mut s = setup(1, tx, Duration::from_secs(3600)).await;
    // Teams -> gateway: garbage, a forged packet and a replay around good packets.
    let mut good = Vec::new();
    for seq in 0..40u16 {
        let mut p = rtp(seq, 0);
        s.teams_tx.protect_rtp_vec(&mut p).unwrap();
        good.push(p);
    }
    let mut forged = good[1].clone();
    forged[30] ^= 4;
    s.teams.send_to(&good[0], s.relay_a).await.unwrap();
    s.teams.send_to(b"\x80garbage", s.relay_a).await.unwrap();
    s.teams.send_to(&forged, s.relay_a).await.unwrap();
    s.teams.send_to(&good[0], s.relay_a).await.unwrap(); // replay
    for p in &good[1..] {
        s.teams.send_to(p, s.relay_a).await.unwrap();
    }
    for seq in 0..40u16 {
        assert_eq!(
            recv(&s.gw).await,
            rtp(seq, 0),
            "in order, nothing bad in between"
        );
    }
    // A wrong source on the SRTP leg (strict): dropped.
    let intruder = peer().await;
    let mut p = rtp(40, 0);
    s.teams_tx.protect_rtp_vec(&mut p).unwrap();
    intruder.send_to(&p, s.relay_a).await.unwrap();
    // Gateway -> Teams, RTP and RTCP.
    for seq in 0..10u16 {
        s.gw.send_to(&rtp(seq, 8), s.relay_b).await.unwrap();
    }
    for seq in 0..10u16 {
        let mut got = recv(&s.teams).await;
        s.teams_rx.unprotect_rtp_vec(&mut got).unwrap();
        assert_eq!(got, rtp(seq, 8));
    }
    let rr = [0x80, 201, 0, 1, 0, 0, 0, 9];
    s.gw_rtcp.send_to(&rr, s.relay_b_rtcp).await.unwrap();
    let mut got = recv(&s.teams).await;
    s.teams_rx.unprotect_rtcp_vec(&mut got).unwrap();
    assert_eq!(got, rr);
    // And SRTCP from Teams comes out as RTCP on the gateway's RTCP address.
    let mut c = rr.to_vec();
    s.teams_tx.protect_rtcp_vec(&mut c).unwrap();
    s.teams.send_to(&c, s.relay_a).await.unwrap();
    assert_eq!(recv(&s.gw_rtcp).await, rr);

    let [a, b] = s.handle.stop().await;
    assert_eq!(a.drops.get(DropReason::Malformed), 1);
    assert_eq!(a.drops.get(DropReason::AuthFailed), 1);
    assert_eq!(a.drops.get(DropReason::Replayed), 1);
    assert_eq!(a.drops.get(DropReason::WrongSource), 1);
    assert_eq!(a.rx_packets, 40 + 3 + 1 + 1); // good, bad three, intruder, SRTCP
    assert_eq!(b.tx_packets, 41);
    assert_eq!((b.rx_packets, a.tx_packets), (11, 11));
    let _ = s.relay_b;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooded_call_does_not_stop_another() {
    let (tx, _rx) = mpsc::unbounded_channel();
    let flooded = setup(1, tx.clone(), Duration::from_secs(3600)).await;
    let mut calm = setup(2, tx, Duration::from_secs(3600)).await;
    let flooder = peer().await;
    let junk = [0x80u8; 200];
    let target = flooded.relay_a;
    let flood = tokio::spawn(async move {
        for _ in 0..20_000 {
            let _ = flooder.send_to(&junk, target).await;
        }
    });
    for seq in 0..200u16 {
        let mut p = rtp(seq, 0);
        calm.teams_tx.protect_rtp_vec(&mut p).unwrap();
        calm.teams.send_to(&p, calm.relay_a).await.unwrap();
        assert_eq!(recv(&calm.gw).await, rtp(seq, 0));
    }
    flood.await.unwrap();
    let [a, _] = flooded.handle.stop().await;
    assert_eq!(a.drops.total(), a.rx_packets, "every flood packet dropped");
    assert!(a.rx_packets > 0);
    calm.handle.stop().await;
}

#[tokio::test]
async fn inactivity_is_reported() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let s = setup(7, tx, Duration::from_millis(50)).await;
    let (id, ev) = timeout(GUARD, rx.recv())
        .await
        .expect("event expected")
        .unwrap();
    assert_eq!(id, 7);
    assert!(matches!(ev, Event::Inactive { .. }));
    s.handle.stop().await;
    let _ = LegId::A;
}
