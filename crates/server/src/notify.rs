//! systemd readiness notification (`sd_notify(3)`) without a crate.
//!
//! When `NOTIFY_SOCKET` is set (systemd does so for `Type=notify` units), state strings are
//! sent as one datagram over a Unix datagram socket. An address starting with `@` is in the
//! Linux abstract namespace. Without `NOTIFY_SOCKET` every call is a no-op returning
//! `Ok(false)`, so the daemon behaves the same outside systemd.
//!
//! Lifecycle for `sbcd run`: [`ready`] once the listeners are bound; [`status`] for
//! human-readable progress (`systemctl status`); on SIGHUP [`reloading`], then [`ready`]
//! again when the new configuration is in place; on SIGTERM [`stopping`] before the drain.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::time::Duration;

/// The environment variable systemd sets.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// A resolved notification socket address.
#[derive(Clone, PartialEq, Eq)]
pub struct Notifier {
    addr: OsString,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Notifier {
    /// The notifier for `NOTIFY_SOCKET`, if set and non-empty.
    pub fn from_env() -> Option<Notifier> {
        std::env::var_os(NOTIFY_SOCKET)
            .filter(|a| !a.is_empty())
            .map(|addr| Notifier { addr })
    }

    /// A notifier for an explicit address (a path, or `@name` for the abstract namespace).
    pub fn new(addr: impl Into<OsString>) -> Notifier {
        Notifier { addr: addr.into() }
    }

    /// Sends `state` (newline-separated `KEY=VALUE` assignments) as one datagram.
    pub fn send(&self, state: &str) -> io::Result<()> {
        send_to(&self.addr, state.as_bytes())
    }
}

#[cfg(unix)]
fn send_to(addr: &std::ffi::OsStr, msg: &[u8]) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::UnixDatagram;

    let sock = UnixDatagram::unbound()?;
    let bytes = addr.as_bytes();
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            let sa = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            sock.send_to_addr(msg, &sa)?
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = name;
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "abstract socket addresses need Linux",
            ));
        }
    } else if bytes.first() == Some(&b'/') {
        sock.send_to(msg, std::path::Path::new(addr))?
    } else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "NOTIFY_SOCKET must be an absolute path or start with '@'",
        ));
    };
    if sent != msg.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "short notification datagram",
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn send_to(_addr: &std::ffi::OsStr, _msg: &[u8]) -> io::Result<()> {
    Ok(())
}

/// Sends `state` to `NOTIFY_SOCKET`. `Ok(false)` when not running under systemd.
pub fn notify(state: &str) -> io::Result<bool> {
    match Notifier::from_env() {
        Some(n) => n.send(state).map(|()| true),
        None => Ok(false),
    }
}

/// `READY=1`: startup (or a reload) finished.
pub fn ready() -> io::Result<bool> {
    notify("READY=1")
}

/// `STOPPING=1`: shutdown (the drain) started.
pub fn stopping() -> io::Result<bool> {
    notify("STOPPING=1")
}

/// `RELOADING=1`: a configuration reload started; send [`ready`] when it is done.
pub fn reloading() -> io::Result<bool> {
    notify("RELOADING=1")
}

/// `STATUS=…`: a one-line status for `systemctl status` (newlines are replaced).
pub fn status(text: &str) -> io::Result<bool> {
    notify(&status_line(text))
}

/// `WATCHDOG=1`: the keep-alive for `WatchdogSec=`.
pub fn watchdog() -> io::Result<bool> {
    notify("WATCHDOG=1")
}

/// The watchdog period systemd asks for (`WATCHDOG_USEC`, honouring `WATCHDOG_PID`); ping
/// at half of it.
pub fn watchdog_interval() -> Option<Duration> {
    if let Some(pid) = std::env::var_os("WATCHDOG_PID") {
        if pid.to_str()?.parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// `STATUS=<text>` with line breaks flattened (a newline would start a new assignment).
pub fn status_line(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 7);
    s.push_str("STATUS=");
    s.extend(
        text.chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c }),
    );
    s
}
