//! UDP retransmission through real sockets with injected loss: a client transaction (the
//! same `sbc-txn` endpoint the SBC uses) talks to a running server through a lossy shim that
//! drops the first requests and the first response. RFC 3261 §17.1.2.2 Timer E must carry
//! the request through, and the stateless answer to each retransmission must be identical.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use sbc_sip::Message;
use sbc_txn::{Endpoint, Event, Instant, Peer, Transport};
use tokio::net::UdpSocket;

const CONFIG: &str = r#"
version = 1
[[listener]]
name = "udp"
zone = "lab"
transport = "udp"
bind = "127.0.0.1:0"
[admin]
listen = "127.0.0.1:0"
"#;

fn options(local: SocketAddr, target: SocketAddr) -> Message {
    let text = format!(
        "OPTIONS sip:{target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKlossy1;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@{local}>;tag=lossy\r\nTo: <sip:{target}>\r\n\
         Call-ID: lossy-1@{local}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    Message::parse(text.into_bytes()).expect("valid OPTIONS")
}

#[tokio::test]
async fn non_invite_survives_lost_requests_and_a_lost_response() {
    let cfg = sbc_config::Config::parse(CONFIG, "test").expect("config");
    let server = sbc_server::start(cfg).await.expect("server starts");
    let target = server.listeners()[0].2;

    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let local = sock.local_addr().expect("addr");
    let tcfg = sbc_txn::Config {
        t1: Duration::from_millis(20),
        t2: Duration::from_millis(80),
        ..Default::default()
    };
    let mut ep = Endpoint::new(tcfg).expect("endpoint");
    let epoch = tokio::time::Instant::now();
    let now = || Instant::from_duration(epoch.elapsed());
    let txn = ep
        .send_request(
            now(),
            options(local, target),
            Peer::new(Transport::Udp, target),
        )
        .expect("send");

    let (mut sent, mut dropped_out, mut dropped_in) = (0, 0, 0);
    let mut answers: Vec<Bytes> = Vec::new();
    let mut buf = vec![0u8; 65536];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let status = 'run: loop {
        while let Some(t) = ep.poll_transmit() {
            sent += 1;
            // The shim: the first two transmissions never reach the server.
            if dropped_out < 2 {
                dropped_out += 1;
                continue;
            }
            sock.send_to(&t.bytes, t.to.addr).await.expect("send_to");
        }
        while let Some(ev) = ep.poll_event() {
            match ev {
                Event::Response { txn: id, msg } if id == txn => break 'run msg.status(),
                Event::Timeout { .. } => panic!("transaction timed out despite retransmissions"),
                _ => {}
            }
        }
        let wake = ep
            .poll_timeout()
            .map_or(deadline, |t| epoch + t.as_duration())
            .min(deadline);
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer within 10 s"
        );
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                let (n, from) = r.expect("recv");
                let bytes = Bytes::copy_from_slice(&buf[..n]);
                answers.push(bytes.clone());
                // ...and the first answer is lost on the way back.
                if dropped_in == 0 {
                    dropped_in += 1;
                    continue;
                }
                let msg = Message::parse(bytes).expect("server response parses");
                let _ = ep.handle_message(now(), msg, Peer::new(Transport::Udp, from));
            }
            () = tokio::time::sleep_until(wake) => ep.handle_timeout(now()),
        }
    };
    assert_eq!(status, Some(200));
    assert!(
        sent >= 4,
        "two lost requests, one lost response: at least four sends ({sent})"
    );
    assert_eq!(dropped_in, 1);
    // Stateless answers to retransmissions are byte-identical (same To tag), so whichever
    // copy arrives completes the same transaction.
    assert!(answers.len() >= 2);
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "retransmissions got different answers"
    );
    // Received/rport stamped from the real source (RFC 3581).
    let last = Message::parse(answers[0].clone()).expect("parse");
    assert_eq!(
        last.top_via().expect("via").rport(),
        Some(Some(local.port()))
    );
    server.abort();
}
