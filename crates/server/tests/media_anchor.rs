//! Media anchoring in the call path (issue 7; TI-29, TI-32, TI-33) on real sockets: a
//! Teams-like caller offers RTP/SAVP with SDES, the gateway answers plain RTP/AVP; the SBC
//! rewrites both SDPs toward its relay and the relay turns SRTP into RTP and back.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;

/// The caller's SDES master key || salt (30 bytes, fixed: a test vector, not a secret).
const CALLER_KEY: [u8; 30] = [
    0xE1, 0xF9, 0x7A, 0x0D, 0x3E, 0x01, 0x8B, 0xE0, 0xD6, 0x4F, 0xA3, 0x2C, 0x06, 0xDE, 0x41, 0x39,
    0x0E, 0xC6, 0x75, 0xAD, 0x49, 0x8A, 0xFE, 0xEB, 0xB6, 0x96, 0x0B, 0x3A, 0xAB, 0xE6,
];

fn config(gw: SocketAddr, port_min: u16) -> String {
    format!(
        r#"
version = 1
[[listener]]
name = "udp"
zone = "lab"
transport = "udp"
bind = "127.0.0.1:0"
[[gateway]]
name = "gw"
address = "{gw}"
[[route]]
name = "lab"
from = ["127.0.0.0/8"]
gateways = ["gw"]
[media]
enabled = true
address = "127.0.0.1"
port_min = {port_min}
port_max = {}
microsoft_trunks = ["lab"]
"#,
        port_min + 19
    )
}

fn sdp_body(m_line: &str, extra: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n{m_line}\r\n\
         a=rtpmap:0 PCMU/8000\r\n{extra}"
    )
}

/// The first message on `sock` starting with `start` within 5 s (others are skipped).
async fn recv_starting(sock: &UdpSocket, start: &str) -> String {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("a {start} within 5 s"))
            .expect("recv");
        let m = String::from_utf8_lossy(&buf[..n]).into_owned();
        if m.starts_with(start) {
            return m;
        }
    }
}

fn header<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    let head = msg.split("\r\n\r\n").next().unwrap_or_default();
    head.lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .collect()
}

fn body(msg: &str) -> &str {
    msg.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// The audio port of an SDP.
fn audio_port(sdp: &str) -> u16 {
    let m = sdp.lines().find(|l| l.starts_with("m=audio ")).unwrap();
    m.split(' ').nth(1).unwrap().parse().unwrap()
}

/// The key||salt of the single `a=crypto` line.
fn crypto_key(sdp: &str) -> [u8; 30] {
    let c: Vec<&str> = sdp.lines().filter(|l| l.starts_with("a=crypto:")).collect();
    assert_eq!(c.len(), 1, "exactly one a=crypto in {sdp}");
    let inline = c[0].split("inline:").nth(1).unwrap();
    let b64 = inline.split(['|', ' ']).next().unwrap();
    sbc_media::b64_decode(b64.as_bytes())
        .unwrap()
        .try_into()
        .unwrap()
}

fn context(key: &[u8; 30]) -> sbc_srtp::Context {
    sbc_srtp::Context::new(
        sbc_srtp::Suite::AesCm128HmacSha1_80,
        &[sbc_srtp::KeyParams::from_key_salt(key, None, None)],
        sbc_srtp::Config::default(),
    )
    .unwrap()
}

fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Sends packets made by `make(seq)` from `from` to `to` until one arrives on `at` (the
/// relay may not have bound its sockets yet when the 2xx is seen); at most 50 tries of
/// 100 ms. Returns what arrived and the sequence number that got through.
async fn pump(
    from: &UdpSocket,
    to: SocketAddr,
    at: &UdpSocket,
    mut make: impl FnMut(u16) -> Vec<u8>,
) -> Vec<u8> {
    let mut buf = vec![0u8; 2048];
    for seq in 1..=50u16 {
        from.send_to(&make(seq), to).await.unwrap();
        if let Ok(r) =
            tokio::time::timeout(Duration::from_millis(100), at.recv_from(&mut buf)).await
        {
            let (n, _) = r.unwrap();
            return buf[..n].to_vec();
        }
    }
    panic!("nothing relayed to {:?}", at.local_addr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_srtp_offer_is_anchored_and_relayed_as_plain_rtp_to_the_gateway() {
    let gw = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let gw_media = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let caller = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let caller_media = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // A port range of this test's own, away from the other server tests.
    let port_min = 41000 + (std::process::id() % 500) as u16 * 40;
    let cfg = sbc_config::Config::parse(&config(gw.local_addr().unwrap(), port_min), "t").unwrap();
    let server = sbc_server::start_with(cfg, None).await.unwrap();
    let sbc = server.listeners()[0].2;
    let local = caller.local_addr().unwrap();
    let gwa = gw.local_addr().unwrap();

    // The Teams-like offer: SRTP with SDES (TI-32).
    let offer = sdp_body(
        &format!(
            "m=audio {} RTP/SAVP 0",
            caller_media.local_addr().unwrap().port()
        ),
        &format!(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
            sbc_media::b64_encode(&CALLER_KEY)
        ),
    );
    let invite = format!(
        "INVITE sip:+15551234@{sbc} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKmedia1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:+15550001@{local}>;tag=a\r\nTo: <sip:+15551234@{sbc}>\r\n\
         Call-ID: media-1\r\nCSeq: 1 INVITE\r\nContact: <sip:a@{local}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
        offer.len()
    );
    caller.send_to(invite.as_bytes(), sbc).await.unwrap();

    // The gateway is offered plain RTP toward the relay, without keys (TI-33).
    let b_inv = recv_starting(&gw, "INVITE ").await;
    let b_sdp = body(&b_inv);
    assert!(b_sdp.contains("c=IN IP4 127.0.0.1"), "{b_sdp}");
    assert!(b_sdp.contains(" RTP/AVP "), "{b_sdp}");
    assert!(!b_sdp.contains("SAVP"), "{b_sdp}");
    assert!(!b_sdp.contains("a=crypto"), "{b_sdp}");
    let relay_b = audio_port(b_sdp);
    assert!((port_min..port_min + 20).contains(&relay_b), "{relay_b}");

    // The gateway answers plain RTP.
    let answer = sdp_body(
        &format!(
            "m=audio {} RTP/AVP 0",
            gw_media.local_addr().unwrap().port()
        ),
        "",
    );
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=g\r\nCall-ID: {}\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:gw@{gwa}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{answer}",
        header(&b_inv, "Via")[0],
        header(&b_inv, "From")[0],
        header(&b_inv, "To")[0],
        header(&b_inv, "Call-ID")[0],
        answer.len()
    );
    gw.send_to(ok.as_bytes(), sbc).await.unwrap();

    // The caller gets SRTP with exactly one key of the SBC's own.
    let a_ok = recv_starting(&caller, "SIP/2.0 200").await;
    let a_sdp = body(&a_ok);
    assert!(a_sdp.contains(" RTP/SAVP "), "{a_sdp}");
    assert!(a_sdp.contains("c=IN IP4 127.0.0.1"), "{a_sdp}");
    let sbc_key = crypto_key(a_sdp);
    assert_ne!(sbc_key, CALLER_KEY, "the SBC keys its own direction");
    let relay_a = audio_port(a_sdp);
    assert!((port_min..port_min + 20).contains(&relay_a), "{relay_a}");
    assert_ne!(relay_a, relay_b);
    let to_tag = header(&a_ok, "To")[0].to_owned();
    let ack = format!(
        "ACK sip:+15551234@{sbc} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKmedia1ack\r\n\
         Max-Forwards: 70\r\nFrom: <sip:+15550001@{local}>;tag=a\r\nTo: {to_tag}\r\n\
         Call-ID: media-1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
    );
    caller.send_to(ack.as_bytes(), sbc).await.unwrap();

    // Caller -> gateway: SRTP under the caller's key in, plain RTP with the payload out.
    let payload = b"twenty bytes of PCMU".to_vec();
    let mut tx = context(&CALLER_KEY);
    let relay_a_addr = SocketAddr::new(sbc.ip(), relay_a);
    let got = pump(&caller_media, relay_a_addr, &gw_media, |seq| {
        let mut p = rtp(seq, 0x1234_5678, &payload);
        tx.protect_rtp_vec(&mut p).unwrap();
        p
    })
    .await;
    assert_eq!(&got[12..], &payload[..], "plain RTP payload at the gateway");
    assert_eq!(&got[8..12], &0x1234_5678u32.to_be_bytes());
    assert_eq!(
        got.len(),
        12 + payload.len(),
        "no SRTP trailer toward the gateway"
    );

    // Gateway -> caller: plain RTP in, SRTP under the SBC's key out.
    let back = b"the other direction!".to_vec();
    let relay_b_addr = SocketAddr::new(sbc.ip(), relay_b);
    let mut got = pump(&gw_media, relay_b_addr, &caller_media, |seq| {
        rtp(seq, 0x0BAD_CAFE, &back)
    })
    .await;
    assert_eq!(got.len(), 12 + back.len() + 10, "80-bit tag added");
    assert_ne!(
        &got[12..12 + back.len()],
        &back[..],
        "encrypted on the caller's leg"
    );
    let mut rx = context(&sbc_key);
    rx.unprotect_rtp_vec(&mut got).unwrap();
    assert_eq!(&got[12..], &back[..]);

    // A re-INVITE moving the caller's media to another port: the relay restarts on the
    // same relay ports, and the SBC's answer carries a fresh key (a restarted SRTP context
    // must not reuse an old key's packet indices, RFC 3711 §9.1).
    let moved = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let offer2 = sdp_body(
        &format!("m=audio {} RTP/SAVP 0", moved.local_addr().unwrap().port()),
        &format!(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
            sbc_media::b64_encode(&CALLER_KEY)
        ),
    )
    .replace("o=- 1 1 ", "o=- 1 2 ");
    let reinvite = format!(
        "INVITE sip:+15551234@{sbc} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKmedia1re\r\n\
         Max-Forwards: 70\r\nFrom: <sip:+15550001@{local}>;tag=a\r\nTo: {to_tag}\r\n\
         Call-ID: media-1\r\nCSeq: 2 INVITE\r\nContact: <sip:a@{local}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer2}",
        offer2.len()
    );
    caller.send_to(reinvite.as_bytes(), sbc).await.unwrap();
    let b_re = recv_starting(&gw, "INVITE ").await;
    assert_eq!(
        audio_port(body(&b_re)),
        relay_b,
        "same relay port toward the gateway"
    );
    let answer2 = answer.replace("o=- 1 1 ", "o=- 1 2 ");
    let ok2 = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\n\
         Contact: <sip:gw@{gwa}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{answer2}",
        header(&b_re, "Via")[0],
        header(&b_re, "From")[0],
        header(&b_re, "To")[0],
        header(&b_re, "Call-ID")[0],
        header(&b_re, "CSeq")[0],
        answer2.len()
    );
    gw.send_to(ok2.as_bytes(), sbc).await.unwrap();
    let a_ok2 = recv_starting(&caller, "SIP/2.0 200").await;
    assert_eq!(
        audio_port(body(&a_ok2)),
        relay_a,
        "same relay port toward the caller"
    );
    let sbc_key2 = crypto_key(body(&a_ok2));
    assert_ne!(sbc_key2, sbc_key, "fresh key after a relay restart");
    let ack2 = format!(
        "ACK sip:+15551234@{sbc} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKmedia1ack2\r\n\
         Max-Forwards: 70\r\nFrom: <sip:+15550001@{local}>;tag=a\r\nTo: {to_tag}\r\n\
         Call-ID: media-1\r\nCSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n"
    );
    caller.send_to(ack2.as_bytes(), sbc).await.unwrap();
    // Gateway -> caller now reaches the moved socket, under the new key.
    let mut got = pump(&gw_media, relay_b_addr, &moved, |seq| {
        rtp(seq + 100, 0x0BAD_CAFE, &back)
    })
    .await;
    let mut rx2 = context(&sbc_key2);
    rx2.unprotect_rtp_vec(&mut got).unwrap();
    assert_eq!(&got[12..], &back[..]);

    assert!(
        std::net::UdpSocket::bind(relay_a_addr).is_err(),
        "the relay holds its port while the call is up"
    );
    // The caller hangs up: the relay stops and its sockets close (the ports can be bound
    // again; bounded wait, the stop runs on the relay's task).
    let bye = format!(
        "BYE sip:+15551234@{sbc} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKmedia1bye\r\n\
         Max-Forwards: 70\r\nFrom: <sip:+15550001@{local}>;tag=a\r\nTo: {to_tag}\r\n\
         Call-ID: media-1\r\nCSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    caller.send_to(bye.as_bytes(), sbc).await.unwrap();
    let b_bye = recv_starting(&gw, "BYE ").await;
    let bye_ok = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\n\
         Content-Length: 0\r\n\r\n",
        header(&b_bye, "Via")[0],
        header(&b_bye, "From")[0],
        header(&b_bye, "To")[0],
        header(&b_bye, "Call-ID")[0],
        header(&b_bye, "CSeq")[0],
    );
    gw.send_to(bye_ok.as_bytes(), sbc).await.unwrap();
    recv_starting(&caller, "SIP/2.0 200").await;
    let mut freed = false;
    for _ in 0..50 {
        if std::net::UdpSocket::bind(relay_a_addr).is_ok()
            && std::net::UdpSocket::bind(relay_b_addr).is_ok()
        {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(freed, "relay sockets closed after BYE");

    server.shutdown().await.unwrap();
}
