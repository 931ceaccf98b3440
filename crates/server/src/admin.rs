//! The admin HTTP listener: metrics, health and reload, on a small bounded HTTP/1.1 server.
//!
//! No framework, and deliberately little HTTP: one request per connection, answered with
//! `Connection: close`. The request line and headers must arrive within [`READ_TIMEOUT`] and
//! fit in [`MAX_HEAD`] bytes; a body (only `POST` may have one, and it is ignored) is limited
//! to [`MAX_BODY`] bytes and must use `Content-Length`. At most [`MAX_CONNECTIONS`]
//! connections are served at once; further ones wait in the kernel's accept queue.
//!
//! | request | answer |
//! |---|---|
//! | `GET /metrics` | 200, the metrics hook's text |
//! | `GET /health` | 200 `ok`, or 503 `draining` while the draining flag is set |
//! | `POST /reload` | 200 with the hook's message, or 500 with its error |
//! | another method on these paths | 405 with `Allow` |
//! | a method other than `GET`/`POST` | 405 |
//! | any other path | 404 |
//! | malformed, too large, too slow | 400, 431/413, 408 |
//!
//! `/metrics` is served as `text/plain; version=0.0.4` unless the scraper's `Accept` asks for
//! `application/openmetrics-text` (as Prometheus does), which the body also is: the
//! `prometheus-client` text format parses under both.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// Largest request line plus headers.
pub const MAX_HEAD: usize = 8 * 1024;
/// Largest request body (read and discarded).
pub const MAX_BODY: usize = 8 * 1024;
/// Time allowed to receive the whole request, and separately to send the answer.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 32;

/// The classic Prometheus text content type.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The OpenMetrics text content type.
pub const CONTENT_TYPE_OPENMETRICS: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Produces the metrics text for a scrape.
pub type MetricsHook = Arc<dyn Fn() -> String + Send + Sync>;
/// Reloads the configuration: a message for the operator, or the error.
pub type ReloadHook = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

/// What the admin listener calls into.
#[derive(Clone)]
pub struct AdminHooks {
    /// `GET /metrics`.
    pub metrics: MetricsHook,
    /// `POST /reload` (run on the blocking pool: it may read files).
    pub reload: ReloadHook,
    /// `GET /health` answers 503 while this is set.
    pub draining: Arc<AtomicBool>,
}

impl AdminHooks {
    /// Bundles the hooks.
    pub fn new(
        metrics: impl Fn() -> String + Send + Sync + 'static,
        reload: impl Fn() -> Result<String, String> + Send + Sync + 'static,
        draining: Arc<AtomicBool>,
    ) -> AdminHooks {
        AdminHooks {
            metrics: Arc::new(metrics),
            reload: Arc::new(reload),
            draining,
        }
    }
}

impl fmt::Debug for AdminHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminHooks")
            .field("draining", &self.draining.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The admin listener.
#[derive(Debug)]
pub struct AdminServer;

impl AdminServer {
    /// Binds `addr` and serves until the returned task is aborted. Returns the bound address
    /// (the port is resolved when 0 was asked).
    pub async fn start(
        addr: SocketAddr,
        hooks: AdminHooks,
    ) -> io::Result<(SocketAddr, JoinHandle<()>)> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let task = tokio::spawn(serve(listener, hooks));
        Ok((local, task))
    }
}

async fn serve(listener: TcpListener, hooks: AdminHooks) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return; // the semaphore is never closed
        };
        match listener.accept().await {
            Ok((stream, peer)) => {
                let hooks = hooks.clone();
                tokio::spawn(async move {
                    if let Err(e) = connection(stream, &hooks).await {
                        tracing::debug!(%peer, error = %e, "admin connection");
                    }
                    drop(permit);
                });
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "admin accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A parsed request: what routing needs.
#[derive(Debug)]
struct Request {
    method: String,
    path: String,
    openmetrics: bool,
}

/// An answer.
struct Response {
    status: u16,
    content_type: &'static str,
    body: String,
    allow: Option<&'static str>,
}

impl Response {
    fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
            allow: None,
        }
    }

    fn method_not_allowed(allow: &'static str) -> Response {
        Response {
            allow: Some(allow),
            ..Response::text(405, "method not allowed\n")
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
             Cache-Control: no-store\r\nConnection: close\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        if let Some(a) = self.allow {
            head.push_str("Allow: ");
            head.push_str(a);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(self.body.as_bytes());
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

async fn connection(mut stream: TcpStream, hooks: &AdminHooks) -> io::Result<()> {
    let response = match tokio::time::timeout(READ_TIMEOUT, read_request(&mut stream)).await {
        Err(_) => Response::text(408, "request timeout\n"),
        Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(Err(refusal))) => refusal,
        Ok(Ok(Ok(req))) => route(req, hooks).await,
    };
    let bytes = response.to_bytes();
    tokio::time::timeout(READ_TIMEOUT, async {
        stream.write_all(&bytes).await?;
        stream.shutdown().await
    })
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "admin write timed out"))?
}

async fn route(req: Request, hooks: &AdminHooks) -> Response {
    tracing::debug!(method = %req.method, path = %req.path, "admin request");
    let (get, post) = (req.method == "GET", req.method == "POST");
    if !get && !post {
        return Response::method_not_allowed("GET, POST");
    }
    match req.path.as_str() {
        "/metrics" if get => Response {
            content_type: if req.openmetrics {
                CONTENT_TYPE_OPENMETRICS
            } else {
                CONTENT_TYPE_TEXT
            },
            ..Response::text(200, (hooks.metrics)())
        },
        "/health" if get => {
            if hooks.draining.load(Ordering::Relaxed) {
                Response::text(503, "draining\n")
            } else {
                Response::text(200, "ok\n")
            }
        }
        "/reload" if post => {
            let reload = hooks.reload.clone();
            match tokio::task::spawn_blocking(move || reload()).await {
                Ok(Ok(msg)) => Response::text(200, with_newline(msg)),
                Ok(Err(e)) => Response::text(500, with_newline(e)),
                Err(e) => Response::text(500, format!("reload failed: {e}\n")),
            }
        }
        "/metrics" | "/health" => Response::method_not_allowed("GET"),
        "/reload" => Response::method_not_allowed("POST"),
        _ => Response::text(404, "not found\n"),
    }
}

fn with_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// Reads one request. The outer `Err` is an I/O failure (the connection is dropped); the
/// inner `Err` is an answer to send instead of routing (malformed or too large).
async fn read_request(stream: &mut TcpStream) -> io::Result<Result<Request, Response>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let head_end = loop {
        if let Some(end) = find_head_end(&buf) {
            break end;
        }
        if buf.len() >= MAX_HEAD {
            return Ok(Err(Response::text(431, "request head too large\n")));
        }
        let want = chunk.len().min(MAX_HEAD + 4 - buf.len());
        let n = stream.read(&mut chunk[..want]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    if head_end > MAX_HEAD {
        return Ok(Err(Response::text(431, "request head too large\n")));
    }
    let (req, content_length) = match parse_head(&buf[..head_end]) {
        Ok(r) => r,
        Err(resp) => return Ok(Err(resp)),
    };
    // Drain the body so that closing does not reset the connection before the answer.
    if content_length > MAX_BODY {
        return Ok(Err(Response::text(413, "request body too large\n")));
    }
    let mut have = buf.len() - head_end;
    while have < content_length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        have += n;
    }
    Ok(Ok(req))
}

/// The index just past the blank line ending the head.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn parse_head(head: &[u8]) -> Result<(Request, usize), Response> {
    let bad = |why: &str| Response::text(400, format!("bad request: {why}\n"));
    let text = std::str::from_utf8(head).map_err(|_| bad("not UTF-8"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let line = lines.next().ok_or_else(|| bad("empty"))?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("request line"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad("method"));
    }
    if !target.starts_with('/') {
        return Err(bad("target"));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        if version.starts_with("HTTP/") {
            return Err(Response::text(505, "HTTP/1.x only\n"));
        }
        return Err(bad("version"));
    }
    let mut content_length = 0usize;
    let mut openmetrics = false;
    for l in lines.filter(|l| !l.is_empty()) {
        let (name, value) = l.split_once(':').ok_or_else(|| bad("header"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse().map_err(|_| bad("Content-Length"))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(bad("Transfer-Encoding is not supported"));
        } else if name.eq_ignore_ascii_case("accept") {
            openmetrics |= value
                .to_ascii_lowercase()
                .contains("application/openmetrics-text");
        }
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    Ok((
        Request {
            method: method.to_owned(),
            path: path.to_owned(),
            openmetrics,
        },
        content_length,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_parsing() {
        let (r, cl) = parse_head(b"POST /reload?x=1 HTTP/1.1\r\nContent-Length: 3\r\n\r\n")
            .map_err(|r| r.status)
            .unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), cl),
            ("POST", "/reload", 3)
        );
        let status = |h: &[u8]| parse_head(h).err().map(|r| r.status);
        assert_eq!(status(b"GET /x HTTP/2.0\r\n\r\n"), Some(505));
        assert_eq!(status(b"GET x HTTP/1.1\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET /x HTTP/1.1\r\nbroken\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET  /x HTTP/1.1\r\n\r\n"), Some(400));
    }
}
