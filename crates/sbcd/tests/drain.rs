//! SIGTERM drain against a real sbcd with SIPp on both sides: calls in progress finish, new
//! calls get 503 + Retry-After, every call has exactly one CDR flushed to disk, and sbcd exits
//! 0 (resilience.md #8, architecture principle 14). The gateway is configured by name with a
//! static DNS entry, so RFC 3263 resolution (A/AAAA for an explicit port) is on the path.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("port")
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn metrics(admin: SocketAddr) -> String {
    let Ok(mut s) = TcpStream::connect(admin) else {
        return String::new();
    };
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn active_calls(admin: SocketAddr) -> u64 {
    metrics(admin)
        .lines()
        .find(|l| l.starts_with("sbc_calls_active") && l.contains("trunk=\"all\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn sipp(args: &[&str]) -> Command {
    let mut c = Command::new("sipp");
    c.args(args)
        .args(["-nostdin", "-i", "127.0.0.1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

#[test]
fn sigterm_drains_calls_and_flushes_cdrs() {
    let dir = std::env::temp_dir().join(format!("sbcd-drain-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (sbc, gw) = (free_port(), free_port());
    let cdr = dir.join("cdr.jsonl");
    let cfg = dir.join("sbcd.toml");
    std::fs::write(
        &cfg,
        format!(
            "version = 1\n[[listener]]\nname = \"udp\"\nzone = \"lab\"\ntransport = \"udp\"\nbind = \"127.0.0.1:{sbc}\"\n\
             [[gateway]]\nname = \"gw\"\naddress = \"gw.lab.test:{gw}\"\n\
             [dns]\nhosts = [{{ name = \"gw.lab.test\", addresses = [\"127.0.0.1\"] }}]\n\
             [[route]]\nname = \"lab\"\nfrom = [\"127.0.0.0/8\"]\ngateways = [\"gw\"]\n\
             [calls]\ndrain_timeout_s = 30\n[cdr]\npath = \"{}\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
            cdr.display()
        ),
    )
    .expect("config");
    let _uas = Kill(
        sipp(&["-sn", "uas", "-p", &gw.to_string()])
            .spawn()
            .expect("sipp uas"),
    );
    let mut sbcd = Command::new(env!("CARGO_BIN_EXE_sbcd"))
        .args(["run", "--config"])
        .arg(&cfg)
        .env("SBCD_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("sbcd");
    let out = sbcd.stdout.take().expect("stdout");
    let mut admin = None;
    for line in BufReader::new(out).lines().map_while(Result::ok) {
        if let Some(a) = line.strip_prefix("admin ") {
            admin = a.parse::<SocketAddr>().ok();
        }
        if line == "ready" {
            break;
        }
    }
    let admin = admin.expect("admin address");
    // Four calls that each last 3 s.
    let target = format!("127.0.0.1:{sbc}");
    let mut uac = sipp(&[
        "-sn", "uac", "-d", "3000", "-m", "4", "-r", "20", "-timeout", "30s", &target,
    ])
    .spawn()
    .expect("sipp uac");
    let until = Instant::now() + Duration::from_secs(10);
    while active_calls(admin) < 4 {
        assert!(Instant::now() < until, "calls never came up");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGTERM: calls in progress must still complete.
    let ok = Command::new("kill")
        .args(["-TERM", &sbcd.id().to_string()])
        .status()
        .expect("kill");
    assert!(ok.success());
    // While draining, a new call is refused with 503.
    let probe = sipp(&[
        "-sn",
        "uac",
        "-m",
        "1",
        "-timeout",
        "10s",
        "-p",
        &free_port().to_string(),
        &target,
    ])
    .status()
    .expect("probe");
    assert_ne!(
        probe.code(),
        Some(0),
        "a new call during drain must fail (503)"
    );
    let uac_status = uac.wait().expect("uac");
    assert_eq!(
        uac_status.code(),
        Some(0),
        "calls in progress finished normally"
    );
    let status = sbcd.wait().expect("sbcd exit");
    assert_eq!(status.code(), Some(0), "sbcd exits 0 after draining");
    let cdrs = std::fs::read_to_string(&cdr).expect("cdr file");
    let lines: Vec<&str> = cdrs.lines().collect();
    let answered = lines
        .iter()
        .filter(|l| l.contains("\"final_status\":200"))
        .count();
    assert_eq!(answered, 4, "one CDR per completed call: {cdrs}");
    // The call refused while draining is an attempt too: one record, status 503.
    let refused = lines
        .iter()
        .filter(|l| l.contains("\"final_status\":503"))
        .count();
    assert_eq!(refused, 1, "one CDR for the refused attempt: {cdrs}");
    assert_eq!(lines.len(), 5, "{cdrs}");
    let _ = std::fs::remove_dir_all(PathBuf::from(&dir));
}
