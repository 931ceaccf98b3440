//! Loopback tests of the transport shell: real sockets on 127.0.0.0/8 and ::1, a test PKI
//! generated at run time. Ordering comes from awaited events; the only timers are the
//! short idle / handshake / slow-sender timeouts under test.

mod common;

use std::time::Duration;

use common::*;
use sbc_sip::ParseErrorKind;
use sbc_transport::{
    Acl, ClientAuth, Event, SendError, TlsServerConfig, Transmit, Transport, TransportConfig,
    TransportHandle,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

const SBC_NAMES: &[&str] = &["sbc.example.com", "*.sbc.example.com"];
const MS_NAMES: &[&str] = &["sip.pstnhub.example.net"];

// ----- request / response ---------------------------------------------------------------

async fn udp_round_trip(bind: &str) {
    let (a, mut arx) = start(vec![listener("a", Transport::Udp, bind)], None).await;
    let (b, mut brx) = start(vec![listener("b", Transport::Udp, bind)], None).await;
    let a_addr = a.local_addr("a").unwrap();
    let b_addr = b.local_addr("b").unwrap();

    let sent = a
        .send(Transmit::new(
            Transport::Udp,
            b_addr,
            options(Transport::Udp, "u1"),
        ))
        .await
        .unwrap();
    assert_eq!(sent.local, a_addr);
    assert_eq!(sent.conn, None);

    let req = next_msg(&mut brx).await;
    assert_eq!(call_id(&req.msg), "u1@test");
    assert_eq!(req.peer.transport, Transport::Udp);
    assert_eq!(req.peer.remote, a_addr);
    assert_eq!(req.peer.local, b_addr);
    assert!(req.peer.conn.is_none() && req.tls.is_none());

    b.send(Transmit::reply(&req.peer, ok_for(&req.msg)))
        .await
        .unwrap();
    let resp = next_msg(&mut arx).await;
    assert_eq!(resp.msg.status(), Some(200));
    assert_eq!(resp.peer.remote, b_addr);
    assert_eq!(a.stats().messages_out, 1);
    assert_eq!(b.stats().messages_in, 1);
}

#[tokio::test]
async fn udp_request_response_ipv4() {
    udp_round_trip("127.0.0.1:0").await;
}

#[tokio::test]
async fn udp_request_response_ipv6() {
    udp_round_trip("[::1]:0").await;
}

#[tokio::test]
async fn udp_send_picks_socket_of_matching_family() {
    let (a, _arx) = start(
        vec![
            listener("v4", Transport::Udp, "127.0.0.1:0"),
            listener("v6", Transport::Udp, "[::1]:0"),
        ],
        None,
    )
    .await;
    let peer6 = UdpSocket::bind("[::1]:0").await.unwrap();
    let sent = a
        .send(Transmit::new(
            Transport::Udp,
            peer6.local_addr().unwrap(),
            options(Transport::Udp, "fam"),
        ))
        .await
        .unwrap();
    assert_eq!(sent.local, a.local_addr("v6").unwrap());
    let mut buf = [0u8; 2048];
    let (n, from) = within("the datagram", peer6.recv_from(&mut buf))
        .await
        .unwrap();
    assert_eq!(from, a.local_addr("v6").unwrap());
    assert!(buf[..n].starts_with(b"OPTIONS"));

    // No IPv4 listener on an IPv6-only endpoint: a typed error.
    let (c, _crx) = start(vec![listener("v6", Transport::Udp, "[::1]:0")], None).await;
    let err = c
        .send(Transmit::new(
            Transport::Udp,
            "127.0.0.1:5060".parse().unwrap(),
            options(Transport::Udp, "x"),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::NoUdpSocket { .. }), "{err:?}");
    assert_eq!(c.stats().send_errors, 1);
}

#[tokio::test]
async fn udp_unparseable_datagram_is_reported_then_traffic_continues() {
    let (a, mut arx) = start(vec![listener("a", Transport::Udp, "127.0.0.1:0")], None).await;
    let a_addr = a.local_addr("a").unwrap();
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.send_to(b"\r\n\r\n", a_addr).await.unwrap(); // keep-alive: ignored
    s.send_to(b"HELLO WORLD\r\n\r\n", a_addr).await.unwrap();
    s.send_to(&options(Transport::Udp, "after"), a_addr)
        .await
        .unwrap();
    let err = next_error(&mut arx).await;
    assert_eq!(err.error.kind, ParseErrorKind::BadStartLine);
    assert_eq!(err.peer.remote, s.local_addr().unwrap());
    assert_eq!(&err.bytes[..], b"HELLO WORLD\r\n\r\n");
    assert!(!err.closed);
    let ok = next_msg(&mut arx).await;
    assert_eq!(call_id(&ok.msg), "after@test");
    assert_eq!(a.stats().parse_errors, 1);
}

#[tokio::test]
async fn tcp_request_response_on_same_connection_and_reuse() {
    let (a, mut arx) = start(vec![listener("a", Transport::Tcp, "127.0.0.1:0")], None).await;
    let (b, mut brx) = start(vec![], None).await;
    let a_addr = a.local_addr("a").unwrap();

    let s1 = b
        .send(Transmit::new(
            Transport::Tcp,
            a_addr,
            options(Transport::Tcp, "t1"),
        ))
        .await
        .unwrap();
    assert!(s1.opened);
    let req = next_msg(&mut arx).await;
    assert_eq!(req.peer.transport, Transport::Tcp);
    assert_eq!(req.peer.remote, s1.local);
    assert_eq!(req.peer.local, a_addr);
    let a_conn = req.peer.conn.expect("stream peer has a connection");

    // Response on the connection the request came in on (RFC 3261 §18.2.2).
    let r = a
        .send(Transmit::reply(&req.peer, ok_for(&req.msg)))
        .await
        .unwrap();
    assert_eq!(r.conn, Some(a_conn));
    assert!(!r.opened);
    let resp = next_msg(&mut brx).await;
    assert_eq!(resp.msg.status(), Some(200));
    assert_eq!(resp.peer.conn, s1.conn);

    // A second request reuses the open connection.
    let s2 = b
        .send(Transmit::new(
            Transport::Tcp,
            a_addr,
            options(Transport::Tcp, "t2"),
        ))
        .await
        .unwrap();
    assert_eq!(s2.conn, s1.conn);
    assert!(!s2.opened);
    let req2 = next_msg(&mut arx).await;
    assert_eq!(req2.peer.conn, Some(a_conn));
    assert_eq!(b.stats().connections_opened, 1);
    assert_eq!(a.stats().connections_accepted, 1);
    assert_eq!(a.connection_count(), 1);
    let info = a.connection(a_conn).unwrap();
    assert!(!info.outbound);
    assert!(b.connection(s1.conn.unwrap()).unwrap().outbound);
}

#[tokio::test]
async fn tcp_ipv6_request() {
    let (a, mut arx) = start(vec![listener("a", Transport::Tcp, "[::1]:0")], None).await;
    let (b, _brx) = start(vec![], None).await;
    let a_addr = a.local_addr("a").unwrap();
    b.send(Transmit::new(
        Transport::Tcp,
        a_addr,
        options(Transport::Tcp, "v6"),
    ))
    .await
    .unwrap();
    let req = next_msg(&mut arx).await;
    assert!(req.peer.remote.is_ipv6());
}

#[tokio::test]
async fn tcp_reconnects_after_peer_closes() {
    let (a, mut arx) = start(vec![listener("a", Transport::Tcp, "127.0.0.1:0")], None).await;
    let (b, _brx) = start(vec![], None).await;
    let a_addr = a.local_addr("a").unwrap();

    let s1 = b
        .send(Transmit::new(
            Transport::Tcp,
            a_addr,
            options(Transport::Tcp, "r1"),
        ))
        .await
        .unwrap();
    let req = next_msg(&mut arx).await;
    // The peer (a) closes the connection; b notices and forgets it.
    assert!(a.close(req.peer.conn.unwrap()));
    within("b to see the close", b.closed(s1.conn.unwrap())).await;
    assert_eq!(b.lookup(Transport::Tcp, a_addr), None);

    let s2 = b
        .send(Transmit::new(
            Transport::Tcp,
            a_addr,
            options(Transport::Tcp, "r2"),
        ))
        .await
        .unwrap();
    assert!(s2.opened);
    assert_ne!(s2.conn, s1.conn);
    let req2 = next_msg(&mut arx).await;
    assert_eq!(call_id(&req2.msg), "r2@test");
    assert_ne!(req2.peer.conn, req.peer.conn);
    assert_eq!(b.stats().connections_opened, 2);
}

#[tokio::test]
async fn response_falls_back_to_table_when_pinned_connection_is_gone() {
    let (a, mut arx) = start(vec![listener("a", Transport::Tcp, "127.0.0.1:0")], None).await;
    let (b, mut brx) = start(vec![listener("b", Transport::Tcp, "127.0.0.1:0")], None).await;
    let b_addr = b.local_addr("b").unwrap();
    a.send(Transmit::new(
        Transport::Tcp,
        b_addr,
        options(Transport::Tcp, "p1"),
    ))
    .await
    .unwrap();
    let req = next_msg(&mut brx).await;
    let conn = req.peer.conn.unwrap();
    b.close(conn);
    within("the close", b.closed(conn)).await;
    // The pinned connection is gone: b falls back to (TCP, a's source address), which no
    // longer accepts (it was an ephemeral client port), so the error is typed.
    let err = b
        .send(Transmit::reply(&req.peer, ok_for(&req.msg)))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Connect(_)), "{err:?}");
    assert!(!err.is_config());
    assert!(arx.try_recv().is_err());
}

#[tokio::test]
async fn alias_routes_requests_over_the_inbound_connection() {
    let (a, mut arx) = start(vec![listener("a", Transport::Tcp, "127.0.0.1:0")], None).await;
    let (b, mut brx) = start(vec![listener("b", Transport::Tcp, "127.0.0.1:0")], None).await;
    let a_addr = a.local_addr("a").unwrap();
    let b_addr = b.local_addr("b").unwrap();

    let sb = b
        .send(Transmit::new(
            Transport::Tcp,
            a_addr,
            options(Transport::Tcp, "al1"),
        ))
        .await
        .unwrap();
    let req = next_msg(&mut arx).await;
    let ca = req.peer.conn.unwrap();
    // The server read b's Via sent-by (b's listener) and aliases it (RFC 5923-style).
    assert!(a.alias(ca, Transport::Tcp, b_addr));
    assert_eq!(a.lookup(Transport::Tcp, b_addr), Some(ca));

    let sa = a
        .send(Transmit::new(
            Transport::Tcp,
            b_addr,
            options(Transport::Tcp, "al2"),
        ))
        .await
        .unwrap();
    assert_eq!(sa.conn, Some(ca));
    assert!(!sa.opened);
    let back = next_msg(&mut brx).await;
    assert_eq!(call_id(&back.msg), "al2@test");
    assert_eq!(
        back.peer.conn, sb.conn,
        "arrived on b's outbound connection"
    );
    assert_eq!(b.stats().connections_accepted, 0);

    // The alias dies with the connection.
    a.close(ca);
    within("the close", a.closed(ca)).await;
    assert_eq!(a.lookup(Transport::Tcp, b_addr), None);
    assert!(!a.alias(ca, Transport::Tcp, b_addr));
}

#[tokio::test]
async fn stream_backpressure_delivers_everything_in_order() {
    let cfg = TransportConfig {
        listeners: vec![listener("a", Transport::Tcp, "127.0.0.1:0")],
        queue_capacity: 1,
        ..TransportConfig::default()
    };
    let (a, mut arx) = TransportHandle::start(cfg).await.unwrap();
    let mut s = TcpStream::connect(a.local_addr("a").unwrap())
        .await
        .unwrap();
    let mut burst = Vec::new();
    for i in 0..20 {
        burst.extend_from_slice(&options(Transport::Tcp, &format!("bp{i}")));
    }
    s.write_all(&burst).await.unwrap();
    for i in 0..20 {
        let m = next_msg(&mut arx).await;
        assert_eq!(call_id(&m.msg), format!("bp{i}@test"));
    }
}

/// `start_sharded`: each event lands in the queue its picker names (modulo the count),
/// from UDP and from a stream, in order within a queue; zero queues is refused.
#[tokio::test]
async fn sharded_queues_receive_what_the_picker_names() {
    let cfg = || TransportConfig {
        listeners: vec![
            listener("u", Transport::Udp, "127.0.0.1:0"),
            listener("t", Transport::Tcp, "127.0.0.1:0"),
        ],
        ..TransportConfig::default()
    };
    // Call-IDs "s<k>-..." go to queue k (k = 5 wraps to 5 % 3 = 2).
    let pick: sbc_transport::Picker = std::sync::Arc::new(|ev: &Event| match ev {
        Event::Message(m) => usize::from(m.msg.call_id().unwrap_or(b"s0")[1] - b'0'),
        Event::Error(_) => 0,
    });
    assert!(TransportHandle::start_sharded(cfg(), 0, pick.clone())
        .await
        .is_err());
    let (a, mut rx) = TransportHandle::start_sharded(cfg(), 3, pick)
        .await
        .unwrap();
    assert_eq!(rx.len(), 3);
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for id in ["s1-a", "s2-a", "s5-a", "s0-a", "s1-b"] {
        s.send_to(&options(Transport::Udp, id), a.local_addr("u").unwrap())
            .await
            .unwrap();
    }
    let mut t = TcpStream::connect(a.local_addr("t").unwrap())
        .await
        .unwrap();
    t.write_all(&options(Transport::Tcp, "s2-tcp"))
        .await
        .unwrap();
    for (q, ids) in [
        (0, &["s0-a"][..]),
        (1, &["s1-a", "s1-b"][..]),
        (2, &["s2-a", "s5-a", "s2-tcp"][..]),
    ] {
        for id in ids {
            let m = next_msg(&mut rx[q]).await;
            assert_eq!(call_id(&m.msg), format!("{id}@test"), "queue {q}");
        }
    }
}

#[tokio::test]
async fn udp_full_queue_drops_and_counts() {
    let cfg = TransportConfig {
        listeners: vec![listener("a", Transport::Udp, "127.0.0.1:0")],
        queue_capacity: 2,
        ..TransportConfig::default()
    };
    let (a, mut arx) = TransportHandle::start(cfg).await.unwrap();
    let a_addr = a.local_addr("a").unwrap();
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for i in 0..10 {
        s.send_to(&options(Transport::Udp, &format!("q{i}")), a_addr)
            .await
            .unwrap();
    }
    eventually("10 datagrams processed", || {
        let st = a.stats();
        st.datagrams_received == 10
    })
    .await;
    let st = a.stats();
    assert_eq!(st.datagrams_dropped_queue_full, 8);
    assert_eq!(st.messages_in, 2);
    assert_eq!(call_id(&next_msg(&mut arx).await.msg), "q0@test");
    assert_eq!(call_id(&next_msg(&mut arx).await.msg), "q1@test");
}

// ----- keep-alive, limits, timeouts -----------------------------------------------------

#[tokio::test]
async fn crlfcrlf_ping_is_answered_with_crlf() {
    let (a, mut arx) = start(vec![listener("a", Transport::Tcp, "127.0.0.1:0")], None).await;
    let mut s = TcpStream::connect(a.local_addr("a").unwrap())
        .await
        .unwrap();
    s.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    within("the pong", s.read_exact(&mut pong)).await.unwrap();
    assert_eq!(&pong, b"\r\n");
    // A CRLF pong from the peer is ignored; the next message is delivered.
    s.write_all(b"\r\n").await.unwrap();
    s.write_all(&options(Transport::Tcp, "ka")).await.unwrap();
    let m = next_msg(&mut arx).await;
    assert_eq!(call_id(&m.msg), "ka@test");
    assert_eq!(a.stats().keepalive_pings, 1);
}

#[tokio::test]
async fn oversize_message_closes_the_stream() {
    let mut l = listener("a", Transport::Tcp, "127.0.0.1:0");
    l.parser.max_message_size = 1024;
    let (a, mut arx) = start(vec![l], None).await;
    let addr = a.local_addr("a").unwrap();

    // Content-Length announces more than the limit: closed as soon as the header ends.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"INVITE sip:x@sbc.example.com SIP/2.0\r\nContent-Length: 100000\r\n\r\nv=0\r\n")
        .await
        .unwrap();
    let got = read_until_closed(&mut s).await;
    assert!(got.is_empty());
    let e = next_error(&mut arx).await;
    assert_eq!(e.error.kind, ParseErrorKind::MessageTooLarge);
    assert!(e.closed);

    // A header section that never ends within the limit.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut junk = b"OPTIONS sip:x SIP/2.0\r\n".to_vec();
    while junk.len() < 1500 {
        junk.extend_from_slice(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    // The server may close mid-write; the write result does not matter.
    let _ = s.write_all(&junk).await;
    read_until_closed(&mut s).await;
    assert_eq!(
        next_error(&mut arx).await.error.kind,
        ParseErrorKind::MessageTooLarge
    );
    assert_eq!(a.stats().oversize_closes, 2);
    eventually("connections torn down", || a.connection_count() == 0).await;
}

#[tokio::test]
async fn bad_framing_closes_but_bad_message_keeps_the_stream() {
    let (a, mut arx) = start(vec![listener("a", Transport::Tcp, "127.0.0.1:0")], None).await;
    let addr = a.local_addr("a").unwrap();

    // Framed (Content-Length present) but unparseable: reported, connection stays.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"OPTIONS sip:x@y SIP/2.0\r\nVia: garbage\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    let e = next_error(&mut arx).await;
    assert!(!e.closed);
    assert!(e.peer.conn.is_some());
    s.write_all(&options(Transport::Tcp, "still"))
        .await
        .unwrap();
    assert_eq!(call_id(&next_msg(&mut arx).await.msg), "still@test");

    // No Content-Length on a stream: cannot be framed, closed.
    s.write_all(b"OPTIONS sip:x@y SIP/2.0\r\nCall-ID: z\r\n\r\n")
        .await
        .unwrap();
    read_until_closed(&mut s).await;
    let e = next_error(&mut arx).await;
    assert_eq!(e.error.kind, ParseErrorKind::BadContentLength);
    assert!(e.closed);
    assert_eq!(a.stats().invalid_frame_closes, 1);
}

#[tokio::test]
async fn slow_sender_is_cut_off() {
    let mut l = listener("a", Transport::Tcp, "127.0.0.1:0");
    l.header_read_timeout = Duration::from_millis(400);
    l.idle_timeout = Duration::from_secs(30);
    let (a, mut arx) = start(vec![l], None).await;
    let s = TcpStream::connect(a.local_addr("a").unwrap())
        .await
        .unwrap();
    let (mut rd, mut wr) = s.into_split();
    let msg = options(Transport::Tcp, "slow");
    let started = Instant::now();
    // Dribble one byte every 20 ms: the whole message would take ~5 s.
    let dribbler = tokio::spawn(async move {
        for b in msg {
            if wr.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    read_until_closed(&mut rd).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(a.stats().slow_sender_closes, 1);
    assert_eq!(a.stats().idle_closes, 0);
    assert!(arx.try_recv().is_err(), "nothing delivered");
    dribbler.abort();
}

#[tokio::test]
async fn idle_connection_is_closed() {
    let mut l = listener("a", Transport::Tcp, "127.0.0.1:0");
    l.idle_timeout = Duration::from_millis(300);
    let (a, mut arx) = start(vec![l], None).await;
    let mut s = TcpStream::connect(a.local_addr("a").unwrap())
        .await
        .unwrap();
    s.write_all(&options(Transport::Tcp, "idle")).await.unwrap();
    next_msg(&mut arx).await;
    let t = Instant::now();
    read_until_closed(&mut s).await;
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(a.stats().idle_closes, 1);
    eventually("gauge back to 0", || a.stats().connections_open == 0).await;
}

#[tokio::test]
async fn per_source_connection_cap() {
    let mut l = listener("a", Transport::Tcp, "127.0.0.1:0");
    l.max_connections_per_source = 2;
    let (a, mut arx) = start(vec![l], None).await;
    let addr = a.local_addr("a").unwrap();

    let mut c1 = connect_from("127.0.0.1", addr).await;
    let mut c2 = connect_from("127.0.0.1", addr).await;
    let mut c3 = connect_from("127.0.0.1", addr).await;
    assert!(read_until_closed(&mut c3).await.is_empty());
    assert_eq!(a.stats().connection_limit_drops, 1);

    // The first two work; another source is not affected.
    c1.write_all(&options(Transport::Tcp, "c1")).await.unwrap();
    let m1 = next_msg(&mut arx).await;
    c2.write_all(&options(Transport::Tcp, "c2")).await.unwrap();
    next_msg(&mut arx).await;
    let mut other = connect_from("127.0.0.2", addr).await;
    other
        .write_all(&options(Transport::Tcp, "o"))
        .await
        .unwrap();
    assert_eq!(call_id(&next_msg(&mut arx).await.msg), "o@test");

    // Closing one frees a slot.
    drop(c1);
    within("c1 torn down", a.closed(m1.peer.conn.unwrap())).await;
    let mut c4 = connect_from("127.0.0.1", addr).await;
    c4.write_all(&options(Transport::Tcp, "c4")).await.unwrap();
    assert_eq!(call_id(&next_msg(&mut arx).await.msg), "c4@test");
    assert_eq!(a.stats().connection_limit_drops, 1);
}

// ----- ACL ------------------------------------------------------------------------------

#[tokio::test]
async fn udp_from_disallowed_source_is_dropped_before_parsing() {
    let l = listener("a", Transport::Udp, "127.0.0.1:0")
        .with_acl(Acl::parse(["127.0.0.2/32"], []).unwrap());
    let (a, mut arx) = start(vec![l], None).await;
    let addr = a.local_addr("a").unwrap();
    let denied = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let allowed = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    denied
        .send_to(&options(Transport::Udp, "denied"), addr)
        .await
        .unwrap();
    denied.send_to(b"garbage", addr).await.unwrap();
    allowed
        .send_to(&options(Transport::Udp, "allowed"), addr)
        .await
        .unwrap();
    let m = next_msg(&mut arx).await;
    assert_eq!(call_id(&m.msg), "allowed@test");
    let st = a.stats();
    assert_eq!(st.acl_drops, 2);
    assert_eq!(st.parse_errors, 0, "denied garbage was never parsed");
    assert_eq!(st.datagrams_received, 1);
    let mut buf = [0u8; 100];
    assert!(denied.try_recv_from(&mut buf).is_err(), "nothing sent back");
}

#[tokio::test]
async fn tcp_from_disallowed_source_is_closed_before_any_read() {
    let l = listener("a", Transport::Tcp, "127.0.0.1:0")
        .with_acl(Acl::parse([], ["127.0.0.1/32"]).unwrap());
    let (a, mut arx) = start(vec![l], None).await;
    let addr = a.local_addr("a").unwrap();
    let mut denied = connect_from("127.0.0.1", addr).await;
    let _ = denied.write_all(&options(Transport::Tcp, "denied")).await;
    assert!(read_until_closed(&mut denied).await.is_empty());
    let mut ok = connect_from("127.0.0.3", addr).await;
    ok.write_all(&options(Transport::Tcp, "ok")).await.unwrap();
    assert_eq!(call_id(&next_msg(&mut arx).await.msg), "ok@test");
    let st = a.stats();
    assert_eq!(st.acl_drops, 1);
    assert_eq!(st.connections_accepted, 1);
}

// ----- TLS ------------------------------------------------------------------------------

struct TlsPair {
    pki: Pki,
    sbc: TransportHandle,
    sbc_rx: tokio::sync::mpsc::Receiver<Event>,
    sbc_addr: std::net::SocketAddr,
    store: sbc_transport::TlsStore,
}

async fn tls_sbc(
    auth: ClientAuth,
    tweak: impl FnOnce(&mut sbc_transport::ListenerConfig),
) -> TlsPair {
    let pki = Pki::new("Test");
    let leaf = pki.issue(SBC_NAMES);
    let store = pki.store(&leaf, Duration::from_millis(300));
    let mut l = listener("tls", Transport::Tls, "127.0.0.1:0").with_tls(TlsServerConfig {
        store: store.clone(),
        client_auth: auth,
    });
    tweak(&mut l);
    let (sbc, sbc_rx) = start(vec![l], Some(store.clone())).await;
    let sbc_addr = sbc.local_addr("tls").unwrap();
    TlsPair {
        pki,
        sbc,
        sbc_rx,
        sbc_addr,
        store,
    }
}

#[tokio::test]
async fn tls_mutual_request_response() {
    let mut p = tls_sbc(ClientAuth::Required, |_| {}).await;
    // The "Microsoft" side: our transport too, with its own certificate from the same CA.
    let ms_leaf = p.pki.issue(MS_NAMES);
    let (ms, mut ms_rx) = start(vec![], Some(p.pki.store(&ms_leaf, Duration::from_secs(5)))).await;

    let sent = ms
        .send(
            Transmit::new(Transport::Tls, p.sbc_addr, options(Transport::Tls, "tls1"))
                .with_server_name("tenant1.sbc.example.com"),
        )
        .await
        .unwrap();
    assert!(sent.opened);
    let req = next_msg(&mut p.sbc_rx).await;
    assert_eq!(req.peer.transport, Transport::Tls);
    let tls = req.tls.clone().expect("TLS facts");
    assert_eq!(
        tls.peer_cert_names,
        vec!["sip.pstnhub.example.net".to_owned()]
    );
    assert_eq!(tls.sni.as_deref(), Some("tenant1.sbc.example.com"));

    p.sbc
        .send(Transmit::reply(&req.peer, ok_for(&req.msg)))
        .await
        .unwrap();
    let resp = next_msg(&mut ms_rx).await;
    assert_eq!(resp.msg.status(), Some(200));
    assert_eq!(resp.peer.conn, sent.conn);
    let server_tls = resp.tls.expect("TLS facts");
    assert_eq!(server_tls.peer_cert_names, SBC_NAMES);
    assert_eq!(server_tls.sni.as_deref(), Some("tenant1.sbc.example.com"));
    assert_eq!(p.sbc.stats().handshakes_ok, 1);
    assert_eq!(ms.stats().handshakes_ok, 1);
}

/// Sends a legitimate request from a trusted client and checks it is the first thing the
/// SBC delivers (so nothing from a refused client came before it).
async fn assert_next_is_legit(p: &mut TlsPair) {
    let good = p.pki.issue(MS_NAMES);
    let (ms, _rx) = start(vec![], Some(p.pki.store(&good, Duration::from_secs(5)))).await;
    ms.send(
        Transmit::new(Transport::Tls, p.sbc_addr, options(Transport::Tls, "legit"))
            .with_server_name("sbc.example.com"),
    )
    .await
    .unwrap();
    let m = next_msg(&mut p.sbc_rx).await;
    assert_eq!(call_id(&m.msg), "legit@test");
}

#[tokio::test]
async fn tls_client_without_certificate_is_refused() {
    let mut p = tls_sbc(ClientAuth::Required, |_| {}).await;
    let cfg = raw_client_config(&p.pki, None);
    // TLS 1.3: the client finishes before the server judges its (missing) certificate,
    // so the refusal shows as an alert / close on the first read.
    if let Ok(mut s) = raw_tls_connect(cfg, p.sbc_addr, "sbc.example.com").await {
        let _ = s.write_all(&options(Transport::Tls, "nocert")).await;
        let mut buf = [0u8; 64];
        let r = within("the refusal", s.read(&mut buf)).await;
        assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    }
    eventually("failure counted", || p.sbc.stats().handshakes_failed == 1).await;
    assert_next_is_legit(&mut p).await;
}

#[tokio::test]
async fn tls_client_with_untrusted_certificate_is_refused() {
    let mut p = tls_sbc(ClientAuth::Required, |_| {}).await;
    let rogue_pki = Pki::new("Rogue");
    let rogue_leaf = rogue_pki.issue(MS_NAMES);
    // The rogue trusts the SBC's CA (so it verifies the SBC) but its own certificate is
    // from another CA.
    let rogue_store = sbc_transport::TlsStore::new(rogue_leaf.identity(), p.pki.bundle()).unwrap();
    let (rogue, _rx) = start(vec![], Some(rogue_store)).await;
    match rogue
        .send(
            Transmit::new(Transport::Tls, p.sbc_addr, options(Transport::Tls, "rogue"))
                .with_server_name("sbc.example.com"),
        )
        .await
    {
        // TLS 1.3: the client side completes first; the server's alert closes it.
        Ok(sent) => {
            within(
                "the rogue connection to close",
                rogue.closed(sent.conn.unwrap()),
            )
            .await
        }
        Err(e) => assert!(
            matches!(e, SendError::Tls(_) | SendError::HandshakeIo(_)),
            "{e:?}"
        ),
    }
    eventually("failure counted", || p.sbc.stats().handshakes_failed == 1).await;
    assert_eq!(p.sbc.stats().handshakes_ok, 0);
    assert_next_is_legit(&mut p).await;
}

#[tokio::test]
async fn tls_optional_client_auth_accepts_without_certificate() {
    let mut p = tls_sbc(ClientAuth::Optional, |_| {}).await;
    let cfg = raw_client_config(&p.pki, None);
    let mut s = raw_tls_connect(cfg, p.sbc_addr, "sbc.example.com")
        .await
        .unwrap();
    s.write_all(&options(Transport::Tls, "anon")).await.unwrap();
    let m = next_msg(&mut p.sbc_rx).await;
    let tls = m.tls.unwrap();
    assert!(tls.peer_cert_names.is_empty());
    assert_eq!(tls.sni.as_deref(), Some("sbc.example.com"));
}

#[tokio::test]
async fn tls_outbound_refuses_wrong_server_name_and_untrusted_server() {
    let p = tls_sbc(ClientAuth::None, |_| {}).await;
    let me = p.pki.issue(MS_NAMES);
    let (c, _rx) = start(vec![], Some(p.pki.store(&me, Duration::from_secs(5)))).await;
    let err = c
        .send(
            Transmit::new(Transport::Tls, p.sbc_addr, options(Transport::Tls, "w"))
                .with_server_name("sip2.pstnhub.example.net"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::Tls(rustls::Error::InvalidCertificate(_))),
        "{err:?}"
    );
    // A wildcard covers exactly one label (TI-6).
    let err = c
        .send(
            Transmit::new(Transport::Tls, p.sbc_addr, options(Transport::Tls, "w2"))
                .with_server_name("a.b.sbc.example.com"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Tls(_)), "{err:?}");
    // Without a server name the IP is verified, which the certificate does not carry.
    let err = c
        .send(Transmit::new(
            Transport::Tls,
            p.sbc_addr,
            options(Transport::Tls, "w3"),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Tls(_)), "{err:?}");
    // A server whose CA we do not trust.
    let other = Pki::new("Other");
    let stranger = other.issue(MS_NAMES);
    let (c2, _rx2) = start(
        vec![],
        Some(sbc_transport::TlsStore::new(stranger.identity(), other.bundle()).unwrap()),
    )
    .await;
    let err = c2
        .send(
            Transmit::new(Transport::Tls, p.sbc_addr, options(Transport::Tls, "w4"))
                .with_server_name("sbc.example.com"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Tls(_)), "{err:?}");
    assert_eq!(c.stats().handshakes_failed, 3);
    assert_eq!(c.connection_count(), 0);
    // Invalid names and missing TLS config are configuration errors.
    let err = c
        .send(
            Transmit::new(Transport::Tls, p.sbc_addr, options(Transport::Tls, "w5"))
                .with_server_name("not a name"),
        )
        .await
        .unwrap_err();
    assert!(err.is_config(), "{err:?}");
    let (plain, _rx3) = start(vec![], None).await;
    let err = plain
        .send(Transmit::new(
            Transport::Tls,
            p.sbc_addr,
            options(Transport::Tls, "w6"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err, SendError::NoTlsConfig);
}

#[tokio::test]
async fn tls_from_disallowed_source_gets_no_handshake() {
    let p = tls_sbc(ClientAuth::None, |l| {
        l.acl = Acl::parse(["10.0.0.0/8", "::1/128"], []).unwrap();
    })
    .await;
    let cfg = raw_client_config(&p.pki, None);
    let r = raw_tls_connect(cfg, p.sbc_addr, "sbc.example.com").await;
    assert!(r.is_err(), "handshake must not complete");
    assert_eq!(p.sbc.stats().acl_drops, 1);
    assert_eq!(
        p.sbc.stats().handshakes_failed,
        0,
        "never got to a handshake"
    );
}

#[tokio::test]
async fn tls_handshake_timeout_and_slot_limit() {
    let p = tls_sbc(ClientAuth::None, |l| {
        l.max_concurrent_handshakes = 1;
        l.handshake_timeout = Duration::from_millis(400);
    })
    .await;
    // A client that connects and says nothing holds the only handshake slot...
    let mut silent = TcpStream::connect(p.sbc_addr).await.unwrap();
    // ...so a real client cannot complete meanwhile (its handshake waits for the slot).
    let cfg = raw_client_config(&p.pki, None);
    let blocked = tokio::time::timeout(
        Duration::from_millis(200),
        raw_tls_connect(cfg.clone(), p.sbc_addr, "sbc.example.com"),
    )
    .await;
    assert!(
        blocked.is_err(),
        "handshake completed despite the slot limit"
    );
    // The silent one is cut at the handshake timeout.
    let t = Instant::now();
    read_until_closed(&mut silent).await;
    assert!(t.elapsed() < Duration::from_secs(2));
    eventually("timeouts counted", || p.sbc.stats().handshake_timeouts >= 1).await;
    // Afterwards handshakes work again.
    let mut s = raw_tls_connect(cfg, p.sbc_addr, "sbc.example.com")
        .await
        .unwrap();
    s.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    within("pong over TLS", s.read_exact(&mut pong))
        .await
        .unwrap();
    assert_eq!(&pong, b"\r\n");
}

#[tokio::test]
async fn tls_reload_new_handshakes_see_new_cert_and_old_idle_connections_close() {
    let mut p = tls_sbc(ClientAuth::None, |_| {}).await;
    let cfg = raw_client_config(&p.pki, None);

    let mut old = raw_tls_connect(cfg.clone(), p.sbc_addr, "sbc.example.com")
        .await
        .unwrap();
    let old_leaf = old.get_ref().1.peer_certificates().unwrap()[0].clone();
    // Make the server register the connection before the reload.
    old.write_all(&options(Transport::Tls, "old"))
        .await
        .unwrap();
    let m = next_msg(&mut p.sbc_rx).await;
    let old_conn = m.peer.conn.unwrap();
    assert_eq!(p.sbc.connection(old_conn).unwrap().generation, Some(1));

    // A broken identity never reaches the store.
    let next = p.pki.issue(SBC_NAMES);
    let wrong_key = p.pki.issue(SBC_NAMES);
    let broken = sbc_transport::TlsIdentity::from_pem(
        next.chain_pem.as_bytes(),
        wrong_key.key_pem.as_bytes(),
    );
    assert!(broken.is_err(), "mismatched key accepted");
    assert!(sbc_transport::TrustBundle::from_pem(b"not pem").is_err());

    let gen = p.store.reload(Some(next.identity()), None).unwrap();
    assert_eq!(gen, 2);

    let fresh = raw_tls_connect(cfg, p.sbc_addr, "sbc.example.com")
        .await
        .unwrap();
    let fresh_leaf = fresh.get_ref().1.peer_certificates().unwrap()[0].clone();
    assert_ne!(fresh_leaf, old_leaf);
    assert_eq!(&fresh_leaf, next.leaf());

    // The old-generation connection is closed once idle (stale_idle_timeout = 300 ms)...
    read_until_closed(&mut old).await;
    within("old conn torn down", p.sbc.closed(old_conn)).await;
    assert_eq!(p.sbc.stats().stale_closes, 1);
    // ...while the new one keeps working.
    let (_, mut w) = tokio::io::split(fresh);
    w.write_all(&options(Transport::Tls, "new")).await.unwrap();
    let m = next_msg(&mut p.sbc_rx).await;
    assert_eq!(
        p.sbc.connection(m.peer.conn.unwrap()).unwrap().generation,
        Some(2)
    );
}

#[tokio::test]
async fn shutdown_stops_sends_and_closes_connections() {
    let (a, mut arx) = start(vec![listener("a", Transport::Tcp, "127.0.0.1:0")], None).await;
    let mut s = TcpStream::connect(a.local_addr("a").unwrap())
        .await
        .unwrap();
    s.write_all(&options(Transport::Tcp, "sd")).await.unwrap();
    next_msg(&mut arx).await;
    a.shutdown();
    read_until_closed(&mut s).await;
    let err = a
        .send(Transmit::new(
            Transport::Udp,
            "127.0.0.1:9".parse().unwrap(),
            options(Transport::Udp, "x"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err, SendError::ShuttingDown);
}

#[tokio::test]
async fn tls_reload_moves_new_outbound_requests_to_a_new_connection() {
    let mut p = tls_sbc(ClientAuth::Required, |_| {}).await;
    let first = p.pki.issue(MS_NAMES);
    let client_store = p.pki.store(&first, Duration::from_millis(300));
    let (c, _crx) = start(vec![], Some(client_store.clone())).await;
    let send = |id: &str| {
        Transmit::new(Transport::Tls, p.sbc_addr, options(Transport::Tls, id))
            .with_server_name("sbc.example.com")
    };
    let s1 = c.send(send("g1")).await.unwrap();
    next_msg(&mut p.sbc_rx).await;
    let second = p.pki.issue(MS_NAMES);
    client_store.reload(Some(second.identity()), None).unwrap();
    assert!(c.connection(s1.conn.unwrap()).unwrap().stale);

    // New requests no longer pick the old-generation connection...
    let s2 = c.send(send("g2")).await.unwrap();
    assert!(s2.opened);
    assert_ne!(s2.conn, s1.conn);
    let m = next_msg(&mut p.sbc_rx).await;
    assert_eq!(call_id(&m.msg), "g2@test");
    // ...and it closes once idle, while the new one stays.
    within("old connection closed", c.closed(s1.conn.unwrap())).await;
    assert_eq!(c.lookup(Transport::Tls, p.sbc_addr), s2.conn);
    assert_eq!(c.stats().stale_closes, 1);
}

#[tokio::test]
async fn ipv4_and_ipv6_wildcards_share_a_port() {
    // IPv6 sockets are bound IPv6-only, so the IPv4 wildcard can take the same port.
    let (a, _arx) = start(
        vec![
            listener("u6", Transport::Udp, "[::]:0"),
            listener("t6", Transport::Tcp, "[::]:0"),
        ],
        None,
    )
    .await;
    let u = a.local_addr("u6").unwrap().port();
    let t = a.local_addr("t6").unwrap().port();
    let (b, mut brx) = start(
        vec![
            listener("u4", Transport::Udp, &format!("0.0.0.0:{u}")),
            listener("t4", Transport::Tcp, &format!("0.0.0.0:{t}")),
        ],
        None,
    )
    .await;
    let mut s = TcpStream::connect(("127.0.0.1", t)).await.unwrap();
    s.write_all(&options(Transport::Tcp, "dual")).await.unwrap();
    let m = next_msg(&mut brx).await;
    assert_eq!(m.peer.local.port(), t);
    assert!(m.peer.local.is_ipv4());
    drop(b);
}

#[tokio::test]
async fn start_errors_are_typed() {
    let (a, _arx) = start(vec![listener("a", Transport::Tcp, "127.0.0.1:0")], None).await;
    let taken = a.local_addr("a").unwrap();
    let cfg = TransportConfig {
        listeners: vec![sbc_transport::ListenerConfig::new(
            "dup",
            Transport::Tcp,
            taken,
        )],
        ..TransportConfig::default()
    };
    let err = TransportHandle::start(cfg).await.unwrap_err();
    assert!(
        matches!(err, sbc_transport::StartError::Bind { .. }),
        "{err}"
    );

    let cfg = TransportConfig {
        listeners: vec![listener("notls", Transport::Tls, "127.0.0.1:0")],
        ..TransportConfig::default()
    };
    let err = TransportHandle::start(cfg).await.unwrap_err();
    assert!(
        matches!(err, sbc_transport::StartError::MissingTls { .. }),
        "{err}"
    );
}
