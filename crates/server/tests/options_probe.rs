//! Gateway OPTIONS probing through real UDP sockets: a fake gateway answers the first probe
//! with 200 and then goes silent. The answer must reach the prober through the dispatcher
//! (not a shard), and the silence must take the gateway down after `down_threshold` probes
//! timed out by Timer F. States are polled with a bounded deadline, never timed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sbc_server::probe::{Role, TargetStatus};
use sbc_sip::Message;
use tokio::net::UdpSocket;

fn config(gateway: std::net::SocketAddr) -> String {
    format!(
        r#"
version = 1
[sip]
t1_ms = 20
t2_ms = 80
[[listener]]
name = "udp"
zone = "pstn"
transport = "udp"
bind = "127.0.0.1:0"
[[gateway]]
name = "gw"
address = "{gateway}"
options = {{ interval_s = 1, up_threshold = 1, down_threshold = 2 }}
[[route]]
name = "lab"
from = ["127.0.0.1/32"]
gateways = ["gw"]
"#
    )
}

/// Polls `f` until it returns `Some`, for at most `limit`.
async fn eventually<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let until = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if tokio::time::Instant::now() >= until {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The gateway's state, once the prober has published it.
fn gw(status: &[TargetStatus]) -> Option<TargetStatus> {
    status.iter().find(|s| s.name == "gw").cloned()
}

#[tokio::test]
async fn silent_gateway_goes_down() {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let gw_addr = sock.local_addr().expect("addr");
    let received = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let (r, a) = (received.clone(), answered.clone());
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let Ok(req) = Message::parse(buf[..n].to_vec()) else {
                continue;
            };
            // Only probes: a call routed here would be an INVITE (counted as a failure).
            if req.method() != Some(sbc_sip::Method::Options) {
                r.fetch_add(1_000_000, Ordering::SeqCst);
                continue;
            }
            r.fetch_add(1, Ordering::SeqCst);
            // Answer the first probe only, then play dead.
            if a.load(Ordering::SeqCst) == 0 {
                let mut out = Vec::new();
                sbc_sip::build::response(&req, 200, None, Some(b"gw"), &mut out).finish(None, b"");
                sock.send_to(&out, from).await.expect("send");
                a.fetch_add(1, Ordering::SeqCst);
            }
        }
    });

    let cfg = sbc_config::Config::parse(&config(gw_addr), "test").expect("config");
    let server = sbc_server::start(cfg).await.expect("server starts");
    let probe = server.probe().clone();

    // The 200 reached the prober (routed by its Call-ID prefix, not to a shard).
    let first = eventually(Duration::from_secs(10), || {
        gw(&probe.status()).filter(|st| st.answered >= 1)
    })
    .await
    .expect("the answered probe is recorded");
    assert_eq!(first.role, Role::Gateway);
    assert!(first.up, "one answer keeps it up");
    assert_eq!(answered.load(Ordering::SeqCst), 1);

    // Silence: two probes end by Timer F (64*T1 = 1.28 s) and the gateway goes down.
    let down = eventually(Duration::from_secs(20), || {
        gw(&probe.status()).filter(|st| !st.up)
    })
    .await
    .expect("the silent gateway goes down");
    assert!(down.failed >= 2, "{down:?}");
    assert_eq!(down.answered, 1);
    let cell = probe.gateway_health().get("gw").expect("health cell");
    assert!(!cell.is_up(), "routing sees the same cell");
    // Timer E retransmitted the unanswered probes over UDP.
    assert!(received.load(Ordering::SeqCst) as u64 > down.sent);

    // A call toward the down gateway is refused at once instead of waiting Timer B.
    let caller = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let me = caller.local_addr().expect("addr");
    let sbc = server.listeners()[0].2;
    let invite = format!(
        "INVITE sip:+15551234567@{sbc} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKcall1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:+15550001111@{me}>;tag=c1\r\nTo: <sip:+15551234567@{sbc}>\r\n\
         Call-ID: call-1@{me}\r\nCSeq: 1 INVITE\r\nContact: <sip:c@{me}>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    caller.send_to(invite.as_bytes(), sbc).await.expect("send");
    let mut buf = vec![0u8; 65536];
    let status = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let (n, _) = caller.recv_from(&mut buf).await.expect("recv");
            let m = Message::parse(buf[..n].to_vec()).expect("response");
            match m.status() {
                Some(s) if s >= 200 => return s,
                _ => {}
            }
        }
    })
    .await
    .expect("a final response");
    assert_eq!(status, 503);
    assert!(
        received.load(Ordering::SeqCst) < 1_000_000,
        "no INVITE reached the gateway"
    );

    let text = server.metrics().encode(None);
    assert!(text.contains("sbc_gateway_up{gateway=\"gw\"} 0"), "{text}");
    assert!(text.contains("sbc_options_probe_failures_total{target=\"gw\"}"));
    assert!(text.contains("sbc_options_probes_total{target=\"gw\"}"));
    server.abort();
}
