//! Admin HTTP listener over loopback with a raw TCP client.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sbc_server::admin::{AdminHooks, AdminServer, MAX_HEAD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Fixture {
    addr: SocketAddr,
    draining: Arc<AtomicBool>,
    reloads: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

async fn start() -> Fixture {
    let draining = Arc::new(AtomicBool::new(false));
    let reloads = Arc::new(AtomicUsize::new(0));
    let r = reloads.clone();
    let hooks = AdminHooks::new(
        || "# TYPE sbc_up gauge\nsbc_up 1\n# EOF\n".to_owned(),
        move || {
            let n = r.fetch_add(1, Ordering::SeqCst);
            if n == 0 {
                Ok("reloaded: 3 trunks".to_owned())
            } else {
                Err("line 4: unknown field `trunkz`".to_owned())
            }
        },
        draining.clone(),
    );
    let (addr, task) = AdminServer::start("127.0.0.1:0".parse().expect("addr"), hooks)
        .await
        .expect("start");
    Fixture {
        addr,
        draining,
        reloads,
        task,
    }
}

/// Sends raw bytes, reads to EOF, returns (status, headers, body).
async fn exchange(addr: SocketAddr, raw: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(raw).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("answer in time")
        .expect("read");
    let text = String::from_utf8(out).expect("utf8");
    let (head, body) = text.split_once("\r\n\r\n").expect("head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.parse().ok())
        .expect("content-length");
    assert_eq!(len, body.len());
    assert!(head.contains("\r\nConnection: close"));
    (status, head.to_owned(), body.to_owned())
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    )
    .await
}

#[tokio::test]
async fn routes() {
    let f = start().await;

    let (st, head, body) = get(f.addr, "/metrics").await;
    assert_eq!(st, 200);
    assert!(head.contains("Content-Type: text/plain; version=0.0.4"));
    assert!(body.contains("sbc_up 1"));

    let (st, head, _) = exchange(
        f.addr,
        b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n\r\n",
    )
    .await;
    assert_eq!(st, 200);
    assert!(head.contains("Content-Type: application/openmetrics-text; version=1.0.0"));

    assert_eq!(get(f.addr, "/health").await.0, 200);
    assert_eq!(get(f.addr, "/health").await.2, "ok\n");
    f.draining.store(true, Ordering::SeqCst);
    let (st, _, body) = get(f.addr, "/health").await;
    assert_eq!((st, body.as_str()), (503, "draining\n"));

    let (st, _, body) = exchange(
        f.addr,
        b"POST /reload HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert_eq!((st, body.as_str()), (200, "reloaded: 3 trunks\n"));
    let (st, _, body) = exchange(
        f.addr,
        b"POST /reload HTTP/1.1\r\nContent-Length: 4\r\n\r\n{}\r\n",
    )
    .await;
    assert_eq!(st, 500);
    assert!(body.contains("unknown field"));
    assert_eq!(f.reloads.load(Ordering::SeqCst), 2);

    assert_eq!(get(f.addr, "/nope").await.0, 404);
    assert_eq!(get(f.addr, "/metrics?name=x").await.0, 200);
    let (st, head, _) = get(f.addr, "/reload").await;
    assert_eq!(st, 405);
    assert!(head.contains("Allow: POST"));
    let (st, head, _) = exchange(f.addr, b"POST /metrics HTTP/1.1\r\n\r\n").await;
    assert_eq!(st, 405);
    assert!(head.contains("Allow: GET"));
    assert_eq!(
        exchange(f.addr, b"DELETE /health HTTP/1.1\r\n\r\n").await.0,
        405
    );
    assert_eq!(exchange(f.addr, b"PUT /nope HTTP/1.1\r\n\r\n").await.0, 405);
    assert_eq!(f.reloads.load(Ordering::SeqCst), 2);
    f.task.abort();
}

#[tokio::test]
async fn bounded_and_malformed_requests() {
    let f = start().await;
    assert_eq!(exchange(f.addr, b"garbage\r\n\r\n").await.0, 400);
    assert_eq!(
        exchange(f.addr, b"GET /health HTTP/2.0\r\n\r\n").await.0,
        505
    );
    assert_eq!(
        exchange(
            f.addr,
            b"POST /reload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .await
        .0,
        400
    );
    assert_eq!(
        exchange(
            f.addr,
            b"POST /reload HTTP/1.1\r\nContent-Length: 100000\r\n\r\n"
        )
        .await
        .0,
        413
    );
    let mut big = b"GET /health HTTP/1.1\r\n".to_vec();
    while big.len() <= MAX_HEAD {
        big.extend_from_slice(
            b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
        );
    }
    big.extend_from_slice(b"\r\n");
    assert_eq!(exchange(f.addr, &big).await.0, 431);
    assert_eq!(f.reloads.load(Ordering::SeqCst), 0);
    f.task.abort();
}

#[tokio::test]
async fn slow_clients_time_out() {
    let f = start().await;
    let started = std::time::Instant::now();
    // Half a request line, then silence.
    let (st, _, body) = exchange(f.addr, b"GET /hea").await;
    assert_eq!(st, 408);
    assert!(body.contains("timeout"));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1900), "{waited:?}");
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    // A silent client does not block others.
    let _idle = TcpStream::connect(f.addr).await.expect("connect");
    assert_eq!(get(f.addr, "/health").await.0, 200);
    f.task.abort();
}
