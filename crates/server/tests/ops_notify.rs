//! sd_notify: datagrams reach a Unix datagram socket by path and by abstract name.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use sbc_server::notify::{status_line, Notifier};

fn recv(sock: &UnixDatagram) -> String {
    sock.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).expect("datagram");
    String::from_utf8(buf[..n].to_vec()).expect("utf8")
}

#[test]
fn notifies_a_path_socket() {
    let dir = std::env::temp_dir().join(format!("sbc-ops-notify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).expect("bind");
    let n = Notifier::new(&path);
    n.send("READY=1").expect("send");
    assert_eq!(recv(&sock), "READY=1");
    n.send("STOPPING=1").expect("send");
    assert_eq!(recv(&sock), "STOPPING=1");
    n.send(&status_line("draining: 12 calls\nleft"))
        .expect("send");
    assert_eq!(recv(&sock), "STATUS=draining: 12 calls left");
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(target_os = "linux")]
#[test]
fn notifies_an_abstract_socket() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;

    let name = format!("sbc-ops-notify-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
    let sock = UnixDatagram::bind_addr(&addr).expect("bind");
    Notifier::new(format!("@{name}"))
        .send("READY=1")
        .expect("send");
    assert_eq!(recv(&sock), "READY=1");
}

#[test]
fn rejects_relative_addresses_and_missing_sockets() {
    assert!(Notifier::new("relative.sock").send("READY=1").is_err());
    let missing = std::env::temp_dir().join("sbc-ops-notify-does-not-exist.sock");
    assert!(Notifier::new(missing).send("READY=1").is_err());
}
