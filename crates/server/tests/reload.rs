//! Hot reload (issue 5 part 6) on real sockets: a new configuration sends new calls to a new
//! gateway; a broken file is refused with its file and line and the running configuration
//! stays; calls admitted before keep going where they went.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;

fn config(gw: SocketAddr, max_calls: u32) -> String {
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
[admin]
listen = "127.0.0.1:0"
[calls]
max_calls = {max_calls}
"#
    )
}

fn invite(call_id: &str, local: SocketAddr, sbc: SocketAddr) -> Vec<u8> {
    format!(
        "INVITE sip:+15551234@{sbc} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{call_id}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{call_id}@{local}>;tag=a\r\nTo: <sip:+15551234@{sbc}>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:a@{local}>\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The first message on `sock` within 5 s (the test fails rather than hangs).
async fn recv(sock: &UdpSocket) -> String {
    let mut buf = vec![0u8; 65536];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
        .await
        .expect("a message within 5 s")
        .expect("recv");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// The first line of the first message on `sock` that mentions `needle` (the caller's
/// Call-ID, or its From user, which the B leg keeps).
async fn first_line_for(sock: &UdpSocket, needle: &str) -> String {
    loop {
        let m = recv(sock).await;
        if m.contains(needle) {
            return m.lines().next().unwrap_or_default().to_owned();
        }
    }
}

#[tokio::test]
async fn reload_swaps_routes_and_limits_and_refuses_a_broken_file() {
    let gw1 = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let gw2 = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let caller = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dir = std::env::temp_dir().join(format!("sbc-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sbcd.toml");
    std::fs::write(&path, config(gw1.local_addr().unwrap(), 10)).unwrap();
    let cfg = sbc_config::Config::load(&path).unwrap();
    let server = sbc_server::start_with(cfg, Some(path.clone()))
        .await
        .unwrap();
    let sbc = server.listeners()[0].2;
    let local = caller.local_addr().unwrap();

    caller
        .send_to(&invite("r-1", local, sbc), sbc)
        .await
        .unwrap();
    assert!(first_line_for(&gw1, "sip:r-1@")
        .await
        .starts_with("INVITE "));

    // A new file: gw2, and a limit of 1 call (r-1 is still up: the next normal call is
    // refused until it ends).
    std::fs::write(&path, config(gw2.local_addr().unwrap(), 1)).unwrap();
    let msg = server.reload_from_source().await.expect("reload");
    assert!(msg.starts_with("reloaded:"), "{msg}");
    caller
        .send_to(&invite("r-2", local, sbc), sbc)
        .await
        .unwrap();
    assert_eq!(
        first_line_for(&caller, "r-2").await,
        "SIP/2.0 503 Service Unavailable"
    );
    // Raise the limit again through the API: new calls now reach gw2.
    let cfg = sbc_config::Config::parse(&config(gw2.local_addr().unwrap(), 10), "api").unwrap();
    server.reload(cfg).await.expect("reload");
    caller
        .send_to(&invite("r-3", local, sbc), sbc)
        .await
        .unwrap();
    assert!(first_line_for(&gw2, "sip:r-3@")
        .await
        .starts_with("INVITE "));

    // A broken file is refused with file and line; nothing changes.
    std::fs::write(
        &path,
        config(gw1.local_addr().unwrap(), 10)
            .replace("gateways = [\"gw\"]", "gateways = [\"nope\"]"),
    )
    .unwrap();
    let err = server.reload_from_source().await.expect_err("refused");
    assert!(err.contains("sbcd.toml") && err.contains("nope"), "{err}");
    caller
        .send_to(&invite("r-4", local, sbc), sbc)
        .await
        .unwrap();
    assert!(first_line_for(&gw2, "sip:r-4@")
        .await
        .starts_with("INVITE "));
    assert_eq!(
        server.config().gateways[0].address,
        gw2.local_addr().unwrap().to_string()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
