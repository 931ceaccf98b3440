//! SIPp against a real `sbcd`: the scenarios in `tests/sipp/` run by Debian's SIPp
//! (`sip-tester`, installed by `scripts/test-all.sh`). SIPp 3.6 in Debian has no TLS, so
//! the TLS case goes through `stunnel4` in client mode presenting a client certificate from
//! a test CA made at run time (mutual TLS, TI-5).
//!
//! Every wait is bounded: a scenario that hangs fails on SIPp's own `-timeout`, and waiting
//! for readiness reads the processes' output lines instead of sleeping.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

mod common;

use common::{last_stats, require, scenario, Sbcd, TempDir};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

struct SippRun {
    code: i32,
    successful: u64,
    failed: u64,
}

/// Runs SIPp to completion (bounded by `-timeout`) and reads its final statistics.
fn sipp(
    dir: &TempDir,
    scenario_file: &Path,
    target: SocketAddr,
    transport: &str,
    calls: u32,
    timeout: &str,
) -> SippRun {
    require("sipp");
    let stat = dir.0.join(format!("stat-{}.csv", free_port()));
    let status = Command::new("sipp")
        .arg("-sf")
        .arg(scenario_file)
        .args([
            "-t",
            transport,
            "-i",
            "127.0.0.1",
            "-p",
            &free_port().to_string(),
        ])
        .args([
            "-m",
            &calls.to_string(),
            "-r",
            "100",
            "-timeout",
            timeout,
            "-timeout_error",
            "-nostdin",
        ])
        .args(["-trace_stat", "-stf"])
        .arg(&stat)
        .arg(target.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run sipp");
    let csv = std::fs::read_to_string(&stat).unwrap_or_default();
    let (successful, failed) = last_stats(&csv);
    SippRun {
        code: status.code().unwrap_or(-1),
        successful,
        failed,
    }
}

fn config(extra_listeners: &str, tls: &str) -> String {
    let udp = free_port();
    format!(
        "version = 1\n[node]\nname = \"sipp-test\"\nproduct = \"sbc/sbcd/test\"\n{tls}\n\
         [[listener]]\nname = \"udp\"\nzone = \"lab\"\ntransport = \"udp\"\nbind = \"127.0.0.1:{udp}\"\n\
         [[listener]]\nname = \"tcp\"\nzone = \"lab\"\ntransport = \"tcp\"\nbind = \"127.0.0.1:{udp}\"\n\
         {extra_listeners}\n[admin]\nlisten = \"127.0.0.1:0\"\n"
    )
}

#[test]
fn options_over_udp_and_tcp() {
    let dir = TempDir::new("opt");
    let cfg = dir.file("sbcd.toml", config("", "").as_bytes());
    let sbcd = Sbcd::start(&cfg);
    for (listener, t) in [("udp", "u1"), ("tcp", "t1")] {
        let r = sipp(
            &dir,
            &scenario("options_uac.xml"),
            sbcd.addr(listener),
            t,
            50,
            "30s",
        );
        assert_eq!(r.code, 0, "sipp over {listener} exited {}", r.code);
        assert_eq!((r.successful, r.failed), (50, 0), "over {listener}");
    }
}

/// A test PKI: a root CA, the SBC's certificate and a "Microsoft edge" client certificate.
struct Pki {
    ca_pem: String,
    sbc: (String, String),
    edge: (String, String),
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name
        .push(DnType::CommonName, "sbcd test root");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = p.self_signed(&ca_key).expect("ca");
    let issue = |names: &[&str]| {
        let key = KeyPair::generate().expect("key");
        let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("params");
        p.distinguished_name.push(DnType::CommonName, names[0]);
        let cert = p.signed_by(&key, &ca, &ca_key).expect("leaf");
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        ca_pem: ca.pem(),
        sbc: issue(&["sbc.example.com", "*.sbc.example.com"]),
        edge: issue(&["sip.pstnhub.microsoft.com"]),
    }
}

#[test]
fn options_over_mutual_tls_through_stunnel() {
    require("stunnel4");
    let dir = TempDir::new("tls");
    let pki = pki();
    let ca = dir.file("ca.pem", pki.ca_pem.as_bytes());
    let sbc_cert = dir.file("sbc.pem", pki.sbc.0.as_bytes());
    let sbc_key = dir.file("sbc.key", pki.sbc.1.as_bytes());
    let edge_cert = dir.file("edge.pem", pki.edge.0.as_bytes());
    let edge_key = dir.file("edge.key", pki.edge.1.as_bytes());
    let tls_port = free_port();
    let tls = format!(
        "[[tls]]\nname = \"sbc\"\ncert_chain = \"{}\"\nkey = \"{}\"\ntrust_bundle = \"{}\"\n",
        sbc_cert.display(),
        sbc_key.display(),
        ca.display()
    );
    let listener = format!(
        "[[listener]]\nname = \"tls\"\nzone = \"teams\"\ntransport = \"tls\"\nbind = \"127.0.0.1:{tls_port}\"\ntls = \"sbc\"\nclient_auth = \"required\"\n"
    );
    let cfg = dir.file("sbcd.toml", config(&listener, &tls).as_bytes());
    let sbcd = Sbcd::start(&cfg);

    // With the edge's client certificate: every OPTIONS is answered over mutual TLS.
    let r = options_through_stunnel(
        &dir,
        sbcd.addr("tls"),
        Some((&edge_cert, &edge_key)),
        &ca,
        20,
    );
    assert_eq!(r.code, 0, "sipp over TLS exited {}", r.code);
    assert_eq!((r.successful, r.failed), (20, 0));
    // Without a client certificate the handshake is refused (TI-5, TI-20): nothing answered.
    let r = options_through_stunnel(&dir, sbcd.addr("tls"), None, &ca, 3);
    assert_ne!(r.code, 0);
    assert_eq!(r.successful, 0);
}

/// Runs the OPTIONS scenario through stunnel in client mode: SIPp speaks TCP to stunnel,
/// stunnel speaks TLS to sbcd (presenting `client` when given) and verifies sbcd's
/// certificate chain and name.
fn options_through_stunnel(
    dir: &TempDir,
    sbcd_tls: SocketAddr,
    client: Option<(&Path, &Path)>,
    ca: &Path,
    calls: u32,
) -> SippRun {
    let accept = free_port();
    let identity = client
        .map(|(c, k)| format!("cert = {}\nkey = {}\n", c.display(), k.display()))
        .unwrap_or_default();
    let conf = dir.file(
        &format!("stunnel-{accept}.conf"),
        format!(
            "foreground = yes\npid =\n[sip]\nclient = yes\naccept = 127.0.0.1:{accept}\nconnect = {sbcd_tls}\n\
             {identity}CAfile = {}\nverifyChain = yes\ncheckHost = sbc.example.com\nsni = sbc.example.com\n",
            ca.display()
        )
        .as_bytes(),
    );
    let mut stunnel = Command::new("stunnel4")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start stunnel4");
    let err = stunnel.stderr.take().expect("stderr");
    let mut lines = BufReader::new(err).lines();
    let mut log = Vec::new();
    let ready = lines.by_ref().map_while(Result::ok).any(|l| {
        let done = l.contains("Configuration successful");
        log.push(l);
        done
    });
    assert!(ready, "stunnel did not start: {log:?}");
    // Keep draining stunnel's log so it never blocks on a full pipe.
    let drain = std::thread::spawn(move || lines.map_while(Result::ok).count());
    let target: SocketAddr = format!("127.0.0.1:{accept}").parse().expect("addr");
    let timeout = if client.is_some() { "30s" } else { "5s" };
    let r = sipp(
        dir,
        &scenario("options_uac.xml"),
        target,
        "t1",
        calls,
        timeout,
    );
    let _ = stunnel.kill();
    let _ = stunnel.wait();
    let _ = drain.join();
    r
}
