//! Helpers for the SIPp call tests (`sipp_calls.rs`): temporary directories, free ports, a
//! running `sbcd`, and SIPp runs in the foreground (callers) or the background (gateways),
//! each leaving its statistics, message log, error log and per-message counts behind.
//!
//! Every wait is bounded: SIPp runs with `-timeout` and `-timeout_error`, a background SIPp
//! is waited for with a deadline and stopped with SIGTERM (which still writes its final
//! statistics and flushes its logs), and readiness is polled, never slept for blindly.

#![allow(dead_code)] // each test binary uses its own subset

use std::fmt;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A scenario file under `tests/sipp/`.
pub fn scenario(name: &str) -> PathBuf {
    let p = repo().join("tests/sipp").join(name);
    assert!(p.is_file(), "no scenario {}", p.display());
    p
}

/// A directory removed on drop; kept when the test panics, or always with
/// `SIPP_CALLS_KEEP=1`, for the SIPp logs (one `<scenario>-<port>/` subdirectory per run:
/// `messages.log`, `errors.log`, `stat.csv`, `*_counts.csv`).
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("sbcd-sippcalls-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, content).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() && std::env::var_os("SIPP_CALLS_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// `N` distinct UDP ports on 127.0.0.1 that were free a moment ago (all bound at once, so
/// they differ, then released).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let socks: Vec<UdpSocket> = (0..N)
        .map(|_| UdpSocket::bind("127.0.0.1:0").expect("bind a free UDP port"))
        .collect();
    let mut out = [0u16; N];
    for (o, s) in out.iter_mut().zip(&socks) {
        *o = s.local_addr().expect("local addr").port();
    }
    out
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

pub fn require(bin: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {bin}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{bin} is not installed: run scripts/test-all.sh (it apt-get installs sip-tester)"
    );
}

/// A running sbcd, killed on drop. Its stdout is drained after `ready` so it never blocks.
#[derive(Debug)]
pub struct Sbcd {
    child: Child,
    listeners: Vec<(String, String, SocketAddr)>,
}

impl Sbcd {
    pub fn start(config: &Path) -> Sbcd {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sbcd"))
            .args(["run", "--config"])
            .arg(config)
            .env("SBCD_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sbcd");
        let out = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(out).lines();
        let mut listeners = Vec::new();
        let mut ready = false;
        for line in lines.by_ref() {
            let line = line.expect("sbcd stdout");
            if line == "ready" {
                ready = true;
                break;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            if let ["listening", name, t, addr] = parts[..] {
                listeners.push((name.to_owned(), t.to_owned(), addr.parse().expect("addr")));
            }
        }
        if !ready {
            let _ = child.wait();
            panic!(
                "sbcd exited before it was ready (config: {})",
                config.display()
            );
        }
        std::thread::spawn(move || lines.map_while(Result::ok).count());
        Sbcd { child, listeners }
    }

    pub fn addr(&self, name: &str) -> SocketAddr {
        self.listeners
            .iter()
            .find(|l| l.0 == name)
            .map(|l| l.2)
            .unwrap_or_else(|| panic!("no listener {name}: {:?}", self.listeners))
    }
}

impl Drop for Sbcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One SIPp instance to run: a caller (`uac`, with a target) or a gateway (`uas`).
#[derive(Debug, Clone)]
pub struct Sipp {
    scenario: PathBuf,
    name: String,
    dir: PathBuf,
    target: Option<SocketAddr>,
    port: u16,
    calls: Option<u32>,
    rate: Option<u32>,
    pause_ms: Option<u64>,
    timeout_s: u64,
    tcp: bool,
    extra: Vec<String>,
}

impl Sipp {
    /// A caller sending to `target`.
    pub fn uac(dir: &TempDir, scenario_name: &str, target: SocketAddr) -> Sipp {
        Sipp::new(dir, scenario_name, Some(target))
    }

    /// A gateway (answers on its port; set it with [`Sipp::port`]).
    pub fn uas(dir: &TempDir, scenario_name: &str) -> Sipp {
        Sipp::new(dir, scenario_name, None)
    }

    fn new(dir: &TempDir, scenario_name: &str, target: Option<SocketAddr>) -> Sipp {
        Sipp {
            scenario: scenario(scenario_name),
            name: scenario_name.trim_end_matches(".xml").to_owned(),
            dir: dir.path().to_owned(),
            target,
            port: free_ports::<1>()[0],
            calls: None,
            rate: None,
            pause_ms: None,
            timeout_s: 30,
            tcp: false,
            extra: Vec::new(),
        }
    }

    /// Local port (`-p`).
    pub fn port(mut self, port: u16) -> Sipp {
        self.port = port;
        self
    }

    /// Stop after this many calls (`-m`).
    pub fn calls(mut self, n: u32) -> Sipp {
        self.calls = Some(n);
        self
    }

    /// New calls per second (`-r`).
    pub fn rate(mut self, r: u32) -> Sipp {
        self.rate = Some(r);
        self
    }

    /// Length of every `<pause/>` without its own duration (`-d`, milliseconds).
    pub fn pause_ms(mut self, ms: u64) -> Sipp {
        self.pause_ms = Some(ms);
        self
    }

    /// Global bound (`-timeout` with `-timeout_error`), seconds.
    pub fn timeout_s(mut self, s: u64) -> Sipp {
        self.timeout_s = s;
        self
    }

    /// TCP (`-t t1`, one connection) instead of UDP: behind stunnel for the TLS tests.
    /// Its port is re-picked free for TCP: a UDP-free port may be a TCP connection's.
    pub fn tcp(mut self) -> Sipp {
        self.tcp = true;
        self.port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free TCP port");
        self
    }

    /// Sets `[name]` in the scenario to `value` (`-key`).
    pub fn key(mut self, name: &str, value: &str) -> Sipp {
        self.extra
            .extend(["-key".to_owned(), name.to_owned(), value.to_owned()]);
        self
    }

    /// Any other SIPp argument.
    pub fn arg(mut self, a: &str) -> Sipp {
        self.extra.push(a.to_owned());
        self
    }

    pub fn addr(&self) -> SocketAddr {
        loopback(self.port)
    }

    fn workdir(&self) -> PathBuf {
        self.dir.join(format!("{}-{}", self.name, self.port))
    }

    fn command(&self) -> Command {
        require("sipp");
        let wd = self.workdir();
        std::fs::create_dir_all(&wd).expect("sipp work dir");
        let mut c = Command::new("sipp");
        c.current_dir(&wd)
            .arg("-sf")
            .arg(&self.scenario)
            .args(["-t", if self.tcp { "t1" } else { "u1" }])
            .args(["-i", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-timeout",
                &format!("{}s", self.timeout_s),
                "-timeout_error",
            ])
            .args(["-nostdin", "-trace_stat", "-stf", "stat.csv"])
            .args(["-trace_msg", "-message_file", "messages.log"])
            .args(["-trace_err", "-error_file", "errors.log", "-trace_counts"]);
        if let Some(m) = self.calls {
            c.args(["-m", &m.to_string()]);
        }
        if let Some(r) = self.rate {
            c.args(["-r", &r.to_string()]);
        }
        if let Some(d) = self.pause_ms {
            c.args(["-d", &d.to_string()]);
        }
        c.args(&self.extra);
        if let Some(t) = self.target {
            c.arg(t.to_string());
        }
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// Runs to completion (bounded by `-timeout`).
    pub fn run(self) -> SippRun {
        let start = Instant::now();
        let mut child = self.command().spawn().expect("run sipp");
        let pid = child.id();
        let status = child.wait().expect("wait for sipp");
        self.result(status.code().unwrap_or(-1), pid, start.elapsed())
    }

    /// Starts in the background and returns once its port is bound (UDP, or TCP listening).
    pub fn spawn(self) -> SippProc {
        let start = Instant::now();
        let mut child = self.command().spawn().expect("start sipp");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !port_bound(self.port, self.tcp) {
            if let Ok(Some(st)) = child.try_wait() {
                let r = self.result(st.code().unwrap_or(-1), child.id(), start.elapsed());
                panic!("{} exited before listening: {r}", self.name);
            }
            assert!(
                Instant::now() < deadline,
                "{} never bound its port",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        SippProc {
            sipp: self,
            child: Some(child),
            start,
        }
    }

    fn result(&self, code: i32, pid: u32, elapsed: Duration) -> SippRun {
        let wd = self.workdir();
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        let (successful, failed) = last_stats(&read(wd.join("stat.csv")));
        let counts = std::fs::read_dir(&wd)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with("_counts.csv"))
            .map(read)
            .unwrap_or_default();
        SippRun {
            name: self.name.clone(),
            code,
            successful,
            failed,
            elapsed,
            pid,
            port: self.port,
            messages: read(wd.join("messages.log")),
            errors: read(wd.join("errors.log")),
            counts,
        }
    }
}

/// Whether something has 127.0.0.1:`port` (or the wildcard) bound for UDP, or listening
/// for TCP (Linux `/proc/net/{udp,tcp}`; elsewhere, assume so after a short grace period).
fn port_bound(port: u16, tcp: bool) -> bool {
    let table = if tcp {
        "/proc/net/tcp"
    } else {
        "/proc/net/udp"
    };
    let Ok(table) = std::fs::read_to_string(table) else {
        std::thread::sleep(Duration::from_millis(300));
        return true;
    };
    let want = [
        format!("0100007F:{port:04X}"),
        format!("00000000:{port:04X}"),
    ];
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        // TCP state 0A is LISTEN.
        .filter(|f| !tcp || f.get(3) == Some(&"0A"))
        .filter_map(|f| f.get(1).copied())
        .any(|local| want.iter().any(|w| w == local))
}

/// A SIPp running in the background; killed on drop if still running.
#[derive(Debug)]
pub struct SippProc {
    sipp: Sipp,
    child: Option<Child>,
    start: Instant,
}

impl SippProc {
    pub fn addr(&self) -> SocketAddr {
        self.sipp.addr()
    }

    /// Waits for it to finish on its own (its `-m` calls done, or its `-timeout`); past
    /// `-timeout` plus a margin it is stopped.
    pub fn finish(mut self) -> SippRun {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(self.sipp.timeout_s + 15);
        loop {
            if let Some(st) = child.try_wait().expect("wait for sipp") {
                return self
                    .sipp
                    .result(st.code().unwrap_or(-1), child.id(), self.start.elapsed());
            }
            if Instant::now() > deadline {
                return self.stop_child(child);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it now with SIGTERM (SIPp still writes its final statistics and logs) and
    /// collects the result: for gateways that run without `-m`.
    pub fn stop(mut self) -> SippRun {
        let child = self.child.take().expect("running");
        self.stop_child(child)
    }

    fn stop_child(&self, mut child: Child) -> SippRun {
        let pid = child.id();
        if child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let code = loop {
            if let Some(st) = child.try_wait().expect("wait for sipp") {
                break st.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break child.wait().ok().and_then(|s| s.code()).unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.sipp.result(code, pid, self.start.elapsed())
    }
}

impl Drop for SippProc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What a SIPp run left behind.
#[derive(Debug, Clone)]
pub struct SippRun {
    pub name: String,
    /// Exit status: 0 all calls succeeded, 1 some failed, 255/-1 fatal or timed out.
    pub code: i32,
    pub successful: u64,
    pub failed: u64,
    pub elapsed: Duration,
    pub pid: u32,
    pub port: u16,
    /// The `-trace_msg` log: every message sent and received.
    pub messages: String,
    /// The `-trace_err` log.
    pub errors: String,
    /// The `-trace_counts` CSV: per-step counters.
    pub counts: String,
}

impl fmt::Display for SippRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errs: String = self.errors.chars().take(4000).collect();
        write!(
            f,
            "{} (pid {}, port {}): exit {}, {} successful, {} failed, {:.1?}\n{errs}",
            self.name, self.pid, self.port, self.code, self.successful, self.failed, self.elapsed
        )
    }
}

impl SippRun {
    /// Exit status 0, exactly `calls` successful calls, none failed.
    pub fn assert_all_ok(&self, calls: u64) -> &SippRun {
        assert!(
            self.code == 0 && self.successful == calls && self.failed == 0,
            "expected {calls} successful calls: {self}"
        );
        self
    }

    /// The first lines (start lines) of the messages this run received.
    pub fn received(&self) -> Vec<&str> {
        self.start_lines("message received")
    }

    /// The first lines (start lines) of the messages this run sent.
    pub fn sent(&self) -> Vec<&str> {
        self.start_lines("message sent")
    }

    fn start_lines(&self, what: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut lines = self.messages.lines();
        while let Some(l) = lines.next() {
            if l.contains(what) {
                if let Some(first) = lines.by_ref().find(|l| !l.trim().is_empty()) {
                    out.push(first);
                }
            }
        }
        out
    }

    /// How many received messages start with `prefix` (`"INVITE "`, `"SIP/2.0 503"`).
    pub fn received_count(&self, prefix: &str) -> usize {
        self.received()
            .iter()
            .filter(|l| l.starts_with(prefix))
            .count()
    }

    /// How many sent messages start with `prefix`.
    pub fn sent_count(&self, prefix: &str) -> usize {
        self.sent().iter().filter(|l| l.starts_with(prefix)).count()
    }

    /// A cumulative per-step counter from `-trace_counts`, summed over the columns whose
    /// name ends with `suffix` (e.g. `"_503_Recv"`); `first_only` takes the first match.
    pub fn step_count(&self, suffix: &str, first_only: bool) -> u64 {
        let mut lines = self.counts.lines().filter(|l| !l.trim().is_empty());
        let (Some(header), Some(last)) = (lines.next(), lines.next_back()) else {
            return 0;
        };
        let vals: Vec<&str> = last.split(';').collect();
        let mut total = 0;
        for (i, _) in header
            .split(';')
            .enumerate()
            .filter(|(_, c)| c.ends_with(suffix))
        {
            total += vals
                .get(i)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
            if first_only {
                break;
            }
        }
        total
    }

    /// The most calls in progress at once as this gateway saw them: +1 per received initial
    /// INVITE (no To tag), -1 per received BYE, in log order.
    pub fn max_concurrent_calls(&self) -> usize {
        let mut cur: isize = 0;
        let mut max: isize = 0;
        for (start, headers) in self.received_messages() {
            let to_tagged = headers.iter().any(|l| {
                let l = l.to_ascii_lowercase();
                (l.starts_with("to:") || l.starts_with("t:")) && l.contains("tag=")
            });
            if start.starts_with("INVITE ") && !to_tagged {
                cur += 1;
                max = max.max(cur);
            } else if start.starts_with("BYE ") {
                cur -= 1;
            }
        }
        usize::try_from(max).unwrap_or(0)
    }

    /// Every received message as (start line, header lines), in log order.
    pub fn received_messages(&self) -> Vec<(&str, Vec<&str>)> {
        let mut out = Vec::new();
        let mut lines = self.messages.lines();
        while let Some(l) = lines.next() {
            if !l.contains("message received") {
                continue;
            }
            let Some(start) = lines.by_ref().find(|l| !l.trim().is_empty()) else {
                break;
            };
            let headers = lines
                .by_ref()
                .take_while(|l| !l.trim().is_empty())
                .collect();
            out.push((start, headers));
        }
        out
    }
}

/// The cumulative SuccessfulCall/FailedCall counters of the last line of SIPp's stat CSV.
pub fn last_stats(csv: &str) -> (u64, u64) {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return (0, 0);
    };
    let Some(last) = lines.next_back() else {
        return (0, 0);
    };
    let cols: Vec<&str> = header.split(';').collect();
    let vals: Vec<&str> = last.split(';').collect();
    let get = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .and_then(|i| vals.get(i))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (get("SuccessfulCall(C)"), get("FailedCall(C)"))
}

/// Runs `uas` in the background and `uac` against it, then collects both. The UAS is
/// waited for (it must stop on its own `-m`).
pub fn run_pair(uas: Sipp, uac: impl FnOnce(SocketAddr) -> Sipp) -> (SippRun, SippRun) {
    let gw = uas.spawn();
    let caller = uac(gw.addr()).run();
    let gateway = gw.finish();
    (caller, gateway)
}

/// Topology-hiding markers of a caller run: what its messages carry that must never reach
/// the other side of a B2BUA (see the conventions in `tests/sipp/uac_basic.xml`).
pub fn a_side_markers(uac: &SippRun) -> Vec<String> {
    vec![
        "callid-A-".into(),
        "x-a-side".into(),
        "xatag".into(),
        format!("z9hG4bK-{}-", uac.pid),
        format!("127.0.0.1:{}", uac.port),
    ]
}

/// Topology-hiding markers of a gateway run (see `tests/sipp/uas_basic.xml`).
pub fn b_side_markers(uas: &SippRun) -> Vec<String> {
    vec![
        "x-b-side".into(),
        "xbtag".into(),
        format!("z9hG4bK-{}-", uas.pid),
        format!("127.0.0.1:{}", uas.port),
    ]
}

/// The markers found in `log`, each with a line showing it. A marker ending in a digit
/// only matches when no further digit follows (port 5060 is not 50601).
pub fn leaks(log: &str, markers: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for m in markers {
        let digit_end = m.ends_with(|c: char| c.is_ascii_digit());
        let hit = log.match_indices(m.as_str()).find(|(i, _)| {
            !digit_end
                || !log[i + m.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit())
        });
        if let Some((i, _)) = hit {
            let start = log[..i].rfind('\n').map_or(0, |s| s + 1);
            let end = log[i..].find('\n').map_or(log.len(), |e| i + e);
            found.push(format!("{m:?} in {:?}", &log[start..end]));
        }
    }
    found
}
