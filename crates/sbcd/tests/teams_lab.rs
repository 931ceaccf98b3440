//! The Teams lab: a real `sbcd` with a `[teams]` trunk, two tenants and a gateway group,
//! between SIPp playing the Microsoft edge and SIPp playing PSTN gateways (spec
//! `teams-interop.md`, rules cited as TI-n).
//!
//! Debian's SIPp 3.6 has no TLS, so `stunnel4` carries the Microsoft side:
//!
//! * **Microsoft -> SBC**: stunnel in *client* mode accepts TCP from a SIPp UAC and speaks
//!   mutual TLS to sbcd's Teams listener, presenting the edge's certificate (TI-5) and
//!   checking that sbcd's certificate covers the tenant FQDN (TI-6: `*.<base>`).
//! * **SBC -> Microsoft**: each Teams edge of the config (`sip`, `sip2`, `sip3`
//!   `.pstnhub.microsoft.com`) has a static loopback address that is a stunnel *server*
//!   port; stunnel presents the edge's certificate, requires and verifies sbcd's client
//!   certificate (TI-5), and forwards TCP to a SIPp UAS only when the SNI names that edge
//!   (TI-6); any other SNI lands on a dead port.
//! * Gateways are SIPp over UDP.
//!
//! The certificates come from a CA made at run time (rcgen). Microsoft's source ranges are
//! `127.0.0.0/8` (TI-4). Every run is bounded by SIPp's `-timeout` and `-m`, readiness is
//! polled (see `common`), and each test uses its own free ports.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use common::{b_side_markers, free_ports, leaks, loopback, require, Sbcd, Sipp, SippRun, TempDir};

const BASE: &str = "sbc.lab.example";
const CONTOSO: &str = "contoso.sbc.lab.example";
const EDGES: [&str; 3] = [
    "sip.pstnhub.microsoft.com",
    "sip2.pstnhub.microsoft.com",
    "sip3.pstnhub.microsoft.com",
];
/// The lab's listeners.
const TEAMS: &str = "teams-tls";
const PSTN: &str = "pstn-udp";
/// Contoso's Microsoft 365 tenant GUID: Microsoft sends it in `X-MS-TenantID`, but the
/// carrier model configures contoso by subdomain only (TI-19).
const CONTOSO_GUID: &str = "9d3f1c2b-5a6e-4b7c-8d9e-0f1a2b3c4d5e";
/// Fabrikam: Operator Connect, named by its GUID (TI-19).
const FABRIKAM_GUID: &str = "0b6f5e3a-7c1d-4f2e-9a8b-123456789abc";
const CONTOSO_T: (&str, &str) = (CONTOSO, CONTOSO_GUID);
/// A contoso number (TI-20 screening passes) and a PSTN number in the US.
const CONTOSO_USER: &str = "+14255550150";
const PSTN_NUMBER: &str = "+12065550123";

// -------------------------------------------------------------------------------------------
// Certificates, stunnel, the sbcd configuration.
// -------------------------------------------------------------------------------------------

/// The lab PKI written to files: a root CA, the SBC's certificate (`<base>` and `*.<base>`,
/// TI-6) and the Microsoft edges' certificate (used as server and client, TI-5).
struct Pki {
    ca: PathBuf,
    sbc_cert: PathBuf,
    sbc_key: PathBuf,
    edge_cert: PathBuf,
    edge_key: PathBuf,
}

fn pki(dir: &TempDir) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name
        .push(DnType::CommonName, "teams lab root");
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
    let wildcard = format!("*.{BASE}");
    let sbc = issue(&[BASE, &wildcard]);
    let edge = issue(&EDGES);
    Pki {
        ca: dir.file("ca.pem", ca.pem().as_bytes()),
        sbc_cert: dir.file("sbc.pem", sbc.0.as_bytes()),
        sbc_key: dir.file("sbc.key", sbc.1.as_bytes()),
        edge_cert: dir.file("edge.pem", edge.0.as_bytes()),
        edge_key: dir.file("edge.key", edge.1.as_bytes()),
    }
}

/// A gateway of the lab group: its address and priority (lower first).
#[derive(Clone, Copy)]
struct Gw {
    addr: SocketAddr,
    priority: u32,
}

/// Ports of one lab.
struct Ports {
    /// sbcd's Teams TLS listener (also `teams.sbc_port`).
    tls: u16,
    /// sbcd's PSTN UDP listener.
    udp: u16,
    /// The static addresses of sip, sip2, sip3 (stunnel server ports, or dead ports).
    edges: [u16; 3],
}

/// The sbcd configuration: the Teams trunk with static edges on loopback (TI-3 names kept
/// for SNI and the Request-URI), Microsoft ranges = loopback (TI-4), two tenants (contoso:
/// carrier model by subdomain, screening on; fabrikam: Operator Connect GUID), the gateways
/// in one group. The first gateway writes numbers nationally (NANP), so the tests see the
/// number normalisation both ways (TI-12).
fn lab_config(pki: &Pki, p: &Ports, gws: &[Gw]) -> String {
    let mut s = format!(
        r#"version = 1

[node]
name = "teams-lab-test"
product = "sbc/sbcd/test"

[[tls]]
name = "teams"
cert_chain = "{}"
key = "{}"
trust_bundle = "{}"

[[listener]]
name = "{TEAMS}"
zone = "teams"
transport = "tls"
bind = "127.0.0.1:{}"
tls = "teams"
client_auth = "required"
allow = ["127.0.0.0/8"]

[[listener]]
name = "{PSTN}"
zone = "pstn"
transport = "udp"
bind = "127.0.0.1:{}"
allow = ["127.0.0.0/8"]

[admin]
listen = "127.0.0.1:0"

[teams]
base_fqdn = "{BASE}"
tls = "teams"
source_ranges = ["127.0.0.0/8"]
sbc_port = {}
refer = "handle"
# SIPp playing the edge cannot answer our keep-alives inside its call scenarios (TI-9 is
# covered by the prober's own tests).
send_options = false
edges = [
"#,
        pki.sbc_cert.display(),
        pki.sbc_key.display(),
        pki.ca.display(),
        p.tls,
        p.udp,
        p.tls,
    );
    for (host, port) in EDGES.iter().zip(p.edges) {
        s += &format!("  {{ host = \"{host}\", port = 5061, address = \"127.0.0.1:{port}\" }},\n");
    }
    s += "]\n\n";
    let mut members = Vec::new();
    for (i, g) in gws.iter().enumerate() {
        let name = format!("gw{}", i + 1);
        let format = if i == 0 {
            "number_format = { style = \"national\", country_code = \"1\", national_prefix = \"\", international_prefix = \"011\" }\n"
        } else {
            ""
        };
        s += &format!(
            "[[gateway]]\nname = \"{name}\"\naddress = \"{}\"\ntransport = \"udp\"\nfailover_codes = [408, 503, 504]\n{format}\n",
            g.addr
        );
        members.push(format!(
            "{{ gateway = \"{name}\", priority = {}, weight = 100 }}",
            g.priority
        ));
    }
    s += &format!(
        "[[gateway_group]]\nname = \"lab-pstn\"\nmembers = [{}]\n\n",
        members.join(", ")
    );
    s += r#"[[tenant]]
id = "contoso"
subdomains = ["contoso"]
numbers = ["+14255550100", "+14255550150", "+14255550200-+14255550299"]
screen_calling = true
routes = [{ prefix = "+1", group = "lab-pstn" }]
default_group = "lab-pstn"

[[tenant]]
id = "fabrikam"
subdomains = ["fabrikam"]
operator_connect_guid = "0b6f5e3a-7c1d-4f2e-9a8b-123456789abc"
numbers = ["+442071230000-+442071230099"]
screen_calling = false
routes = [{ prefix = "+44", group = "lab-pstn" }]
refer = "microsoft"
"#;
    s
}

/// `N` distinct TCP ports on 127.0.0.1 that were free a moment ago (UDP-free ports from
/// `free_ports` may be some TCP connection's).
fn free_tcp_ports<const N: usize>() -> [u16; N] {
    let socks: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free TCP port"))
        .collect();
    let mut out = [0u16; N];
    for (o, s) in out.iter_mut().zip(&socks) {
        *o = s.local_addr().expect("local addr").port();
    }
    out
}

/// One stunnel service.
enum Tunnel {
    /// Microsoft -> SBC: TCP on `accept`, mutual TLS to sbcd at `connect`.
    MsClient { accept: u16, connect: u16 },
    /// SBC -> Microsoft edge `host`: TLS on `accept` (the edge's static address), TCP to
    /// SIPp at `sipp` when the SNI is `host`, else to a dead port.
    Edge {
        host: &'static str,
        accept: u16,
        sipp: u16,
    },
}

/// A running stunnel, killed on drop.
struct Stunnel {
    child: Child,
    log: std::thread::JoinHandle<Vec<String>>,
}

impl Stunnel {
    fn start(dir: &TempDir, pki: &Pki, tunnels: &[Tunnel]) -> Stunnel {
        let ok = Command::new("sh")
            .args(["-c", "command -v stunnel4"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "stunnel4 is not installed: the Teams lab needs it for TLS (SIPp 3.6 has none); \
             run scripts/test-all.sh or `apt-get install stunnel4`"
        );
        let [dead] = free_tcp_ports::<1>();
        let (ca, cert, key) = (
            pki.ca.display(),
            pki.edge_cert.display(),
            pki.edge_key.display(),
        );
        let mut conf = "foreground = yes\npid =\ndebug = 5\n".to_owned();
        for (i, t) in tunnels.iter().enumerate() {
            match t {
                Tunnel::MsClient { accept, connect } => {
                    // Microsoft connects to the tenant FQDN: the SBC's certificate must cover
                    // it (TI-6) and chain to the trusted root.
                    conf += &format!(
                        "[ms{i}]\nclient = yes\naccept = 127.0.0.1:{accept}\nconnect = 127.0.0.1:{connect}\n\
                         cert = {cert}\nkey = {key}\nCAfile = {ca}\nverifyChain = yes\n\
                         checkHost = {CONTOSO}\nsni = {CONTOSO}\n"
                    );
                }
                Tunnel::Edge { host, accept, sipp } => {
                    // verifyChain implies requireCert: sbcd must present its certificate as
                    // a client (TI-5). Only the SNI naming this edge reaches SIPp (TI-6).
                    conf += &format!(
                        "[edge{i}]\naccept = 127.0.0.1:{accept}\nconnect = 127.0.0.1:{dead}\n\
                         cert = {cert}\nkey = {key}\nCAfile = {ca}\nverifyChain = yes\n\
                         [edge{i}-sni]\nsni = edge{i}:{host}\nconnect = 127.0.0.1:{sipp}\n\
                         cert = {cert}\nkey = {key}\nCAfile = {ca}\nverifyChain = yes\n"
                    );
                }
            }
        }
        let path = dir.file("stunnel.conf", conf.as_bytes());
        let mut child = Command::new("stunnel4")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start stunnel4");
        let err = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(err).lines();
        let mut log = Vec::new();
        let ready = lines.by_ref().map_while(Result::ok).any(|l| {
            let done = l.contains("Configuration successful");
            log.push(l);
            done
        });
        assert!(ready, "stunnel did not start: {log:#?}\n{conf}");
        // Keep draining its log (never blocks on a full pipe); shown when a test fails.
        let log = std::thread::spawn(move || {
            log.extend(lines.map_while(Result::ok));
            log
        });
        Stunnel { child, log }
    }

    /// Stops it and returns its log.
    fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.log, std::thread::spawn(Vec::new))
            .join()
            .unwrap_or_default()
    }
}

impl Drop for Stunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A lab: sbcd plus stunnel, with the port of the Microsoft-side client tunnel.
struct Lab {
    sbcd: Sbcd,
    stunnel: Stunnel,
    /// Where a SIPp "Microsoft edge" UAC sends (TCP; stunnel makes it TLS to sbcd).
    ms: SocketAddr,
}

impl Lab {
    /// Starts sbcd and stunnel. `edge_sipp[i]` is the SIPp UAS port behind edge `i` (sip,
    /// sip2, sip3); `None` leaves that edge's address a dead port (connection refused).
    fn start(dir: &TempDir, gws: &[Gw], edge_sipp: [Option<u16>; 3]) -> Lab {
        require("sipp");
        let pki = pki(dir);
        let [tls, ms, e1, e2, e3] = free_tcp_ports::<5>();
        let [udp] = free_ports::<1>();
        let ports = Ports {
            tls,
            udp,
            edges: [e1, e2, e3],
        };
        let cfg = dir.file("sbcd.toml", lab_config(&pki, &ports, gws).as_bytes());
        let mut tunnels = vec![Tunnel::MsClient {
            accept: ms,
            connect: tls,
        }];
        for ((host, accept), sipp) in EDGES.iter().zip(ports.edges).zip(edge_sipp) {
            if let Some(sipp) = sipp {
                tunnels.push(Tunnel::Edge { host, accept, sipp });
            }
        }
        let stunnel = Stunnel::start(dir, &pki, &tunnels);
        let sbcd = Sbcd::start(&cfg);
        assert_eq!(sbcd.addr(TEAMS).port(), tls);
        Lab {
            sbcd,
            stunnel,
            ms: loopback(ms),
        }
    }

    /// A Microsoft edge UAC (TCP through the client tunnel) running `scenario` toward
    /// `tenant_host` from `calling`, dialling `called`.
    fn ms_uac(
        &self,
        dir: &TempDir,
        scenario: &str,
        (tenant_host, tenant_id): (&str, &str),
        calling: &str,
        called: &str,
    ) -> Sipp {
        Sipp::uac(dir, scenario, self.ms)
            .tcp()
            .key("tenant_host", tenant_host)
            .key("tenant_id", tenant_id)
            .key("sbc_port", &self.sbcd.addr(TEAMS).port().to_string())
            .key("calling", calling)
            .arg("-s")
            .arg(called)
            .calls(1)
    }

    /// A gateway UAC (UDP, straight to sbcd's PSTN listener).
    fn gw_uac(&self, dir: &TempDir, scenario: &str, calling: &str, called: &str) -> Sipp {
        Sipp::uac(dir, scenario, self.sbcd.addr(PSTN))
            .key("calling", calling)
            .arg("-s")
            .arg(called)
            .calls(1)
    }
}

/// Microsoft-side markers of `teams_ms_uac_*.xml` a gateway must never see.
fn ms_markers(ms: &SippRun) -> Vec<String> {
    vec![
        "callid-MS-".into(),
        "x-ms-side".into(),
        "api-du-b-uswe".into(),
        "sip-du-a-us".into(),
        "xmstag".into(),
        "pstnhub.microsoft.com".into(),
        format!("z9hG4bK-{}-", ms.pid),
    ]
}

/// Gateway-side markers of `teams_gw_uac_call.xml` the Microsoft edge must never see.
fn gw_uac_markers(gw: &SippRun) -> Vec<String> {
    vec![
        "callid-GW-".into(),
        "x-gw-side".into(),
        "xgwtag".into(),
        format!("z9hG4bK-{}-", gw.pid),
        format!("127.0.0.1:{}", gw.port),
    ]
}

/// Edge-side markers of `teams_edge_uas_call.xml` a gateway must never see.
fn edge_markers(edge: &SippRun) -> Vec<String> {
    vec![
        "x-edge-side".into(),
        "api-du-a-usea".into(),
        "xedgetag".into(),
        format!("z9hG4bK-{}-", edge.pid),
    ]
}

/// The value of header `name` (case-insensitive, compact forms not used by sbcd) in one
/// message's header lines.
fn header<'a>(headers: &[&'a str], name: &str) -> Option<&'a str> {
    headers.iter().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The host of the first URI in a header value (`<sip:user@host:port;...>` or `sip:host`).
fn uri_host(value: &str) -> &str {
    let v = value.split_once("sip:").map_or(value, |(_, r)| r);
    let v = v.split_once('@').map_or(v, |(_, r)| r);
    let end = v.find([':', ';', '>']).unwrap_or(v.len());
    &v[..end]
}

fn assert_no_leaks(log: &str, markers: &[String], what: &str) {
    let l = leaks(log, markers);
    assert!(l.is_empty(), "{what}: {l:#?}");
}

/// What Microsoft received for its INVITE: 100 Trying first (TI-21); X-MS-SBC on every 18x
/// and 200 (TI-17); the 200's Contact on `fqdn` with `transport=tls` (TI-2, TI-14), and
/// REFER in its Allow exactly when the tenant has the SBC handle transfers (TI-16).
fn assert_answer_to_teams(ms: &SippRun, fqdn: &str, refer: bool) {
    let got = ms.received();
    assert!(
        got.first().is_some_and(|l| l.starts_with("SIP/2.0 100")),
        "{got:?}"
    );
    let mut checked = 0;
    for (start, h) in ms.received_messages() {
        if !(start.starts_with("SIP/2.0 18") || start.starts_with("SIP/2.0 200")) {
            continue;
        }
        assert!(
            header(&h, "X-MS-SBC").is_some(),
            "no X-MS-SBC on {start}: {h:#?}"
        );
        if start.starts_with("SIP/2.0 200")
            && header(&h, "CSeq").is_some_and(|c| c.ends_with("INVITE"))
        {
            let contact = header(&h, "Contact").unwrap_or_else(|| panic!("no Contact: {h:#?}"));
            assert_eq!(uri_host(contact), fqdn, "Contact {contact}");
            assert!(
                contact.contains("transport=tls") && !contact.contains("sips:"),
                "TI-2: {contact}"
            );
            let allow = header(&h, "Allow").unwrap_or_default();
            assert_eq!(allow.contains("REFER"), refer, "TI-16 Allow: {allow:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, 1, "one 200 to the INVITE: {got:?}");
}

// -------------------------------------------------------------------------------------------
// 1. Teams -> PSTN.
// -------------------------------------------------------------------------------------------

/// TI-19..TI-21, TI-14, TI-17: a contoso user calls a US number; the call completes at the
/// first gateway in its national format; Microsoft gets 100 first, then 18x/200 with the
/// tenant FQDN in Contact and X-MS-SBC; nothing of Microsoft's dialog reaches the gateway.
#[test]
fn teams_to_pstn_call() {
    let dir = TempDir::new("teams-out");
    let gw = Sipp::uas(&dir, "uas_basic.xml").calls(1).spawn();
    let [spare] = free_ports::<1>();
    let gws = [
        Gw {
            addr: gw.addr(),
            priority: 1,
        },
        Gw {
            addr: loopback(spare),
            priority: 2,
        },
    ];
    let lab = Lab::start(&dir, &gws, [None; 3]);
    let ms = lab
        .ms_uac(
            &dir,
            "teams_ms_uac_call.xml",
            CONTOSO_T,
            CONTOSO_USER,
            PSTN_NUMBER,
        )
        .pause_ms(200)
        .run();
    let gw = gw.finish();
    let tunnel_log = lab.stunnel.stop();
    assert!(ms.code == 0, "{ms}\nstunnel: {tunnel_log:#?}");
    ms.assert_all_ok(1);
    gw.assert_all_ok(1);

    assert_answer_to_teams(&ms, CONTOSO, true);

    // The gateway got the number in its own format (national, NANP) and nothing of
    // Microsoft's dialog (topology hiding; the B2BUA gives it a fresh one).
    let inv = gw
        .received()
        .into_iter()
        .find(|l| l.starts_with("INVITE "))
        .expect("INVITE");
    assert!(inv.starts_with("INVITE sip:2065550123@"), "{inv}");
    assert_no_leaks(
        &gw.messages,
        &ms_markers(&ms),
        "Microsoft details reached the gateway",
    );
    assert_no_leaks(
        &ms.messages,
        &b_side_markers(&gw),
        "gateway details reached Microsoft",
    );
}

/// Operator Connect (TI-19): fabrikam is named by its GUID in `X-MS-TenantID` while the
/// Request-URI host is the base FQDN; it does not screen (TI-20 is per tenant), routes +44
/// to the group, and its answer carries its own FQDN (TI-14) and, since it leaves
/// transfers to Microsoft, no REFER in Allow (TI-16, the tenant's `refer` override).
#[test]
fn operator_connect_tenant_by_guid() {
    let dir = TempDir::new("teams-oc");
    let gw = Sipp::uas(&dir, "uas_basic.xml").calls(1).spawn();
    let [spare] = free_ports::<1>();
    let gws = [
        Gw {
            addr: gw.addr(),
            priority: 1,
        },
        Gw {
            addr: loopback(spare),
            priority: 2,
        },
    ];
    let lab = Lab::start(&dir, &gws, [None; 3]);
    let ms = lab
        .ms_uac(
            &dir,
            "teams_ms_uac_call.xml",
            (BASE, FABRIKAM_GUID),
            "+442079460999",
            "+442071230005",
        )
        .run();
    let gw = gw.finish();
    let tunnel_log = lab.stunnel.stop();
    assert!(ms.code == 0, "{ms}\nstunnel: {tunnel_log:#?}");
    ms.assert_all_ok(1);
    gw.assert_all_ok(1);
    assert_answer_to_teams(&ms, &format!("fabrikam.{BASE}"), false);
    // The first gateway writes numbers nationally for +1: others get its international
    // prefix.
    let inv = gw
        .received()
        .into_iter()
        .find(|l| l.starts_with("INVITE "))
        .expect("INVITE");
    assert!(inv.starts_with("INVITE sip:011442071230005@"), "{inv}");
}

// -------------------------------------------------------------------------------------------
// 2. PSTN -> Teams.
// -------------------------------------------------------------------------------------------

/// Checks one INVITE sbcd sent to a Microsoft edge (TI-2, TI-12..TI-17) and returns it.
fn assert_teams_invite(edge: &SippRun, called: &str) {
    let msgs = edge.received_messages();
    let (start, h) = msgs
        .iter()
        .find(|(s, _)| s.starts_with("INVITE "))
        .unwrap_or_else(|| panic!("the edge got no INVITE: {edge}"));
    // TI-12: the host stays sip.pstnhub.microsoft.com whichever edge it went to.
    assert_eq!(
        *start,
        format!("INVITE sip:{called}@sip.pstnhub.microsoft.com;user=phone SIP/2.0"),
    );
    // TI-13 / TI-14: From and Contact on the tenant FQDN, never an IP.
    let from = header(h, "From").expect("From");
    assert_eq!(uri_host(from), CONTOSO, "From {from}");
    assert!(
        from.contains(&format!("sip:{PSTN_NUMBER}@")),
        "TI-13 E.164 caller: {from}"
    );
    let contact = header(h, "Contact").expect("Contact");
    assert_eq!(uri_host(contact), CONTOSO, "Contact {contact}");
    assert!(
        contact.contains("transport=tls") && !contact.contains("sips:"),
        "TI-2: {contact}"
    );
    // TI-17, TI-16.
    assert!(header(h, "X-MS-SBC").is_some(), "no X-MS-SBC: {h:#?}");
    let allow = header(h, "Allow").unwrap_or_default();
    assert!(allow.contains("REFER"), "TI-16 Allow: {allow:?}");
    // TI-15: an SDP offer, no 100rel required.
    assert!(
        header(h, "Content-Type").is_some_and(|c| c.eq_ignore_ascii_case("application/sdp")),
        "no SDP offer: {h:#?}"
    );
    assert!(
        header(h, "Content-Length")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(0)
            > 0,
        "empty offer: {h:#?}"
    );
    let require = header(h, "Require").unwrap_or_default();
    assert!(!require.contains("100rel"), "TI-15 Require: {require}");
    assert!(
        !h.iter()
            .any(|l| l.to_ascii_lowercase().starts_with("record-route")),
        "TI-14 no Record-Route toward Microsoft: {h:#?}"
    );
}

/// A gateway calls a contoso number in national format; the first edge gets the INVITE
/// shaped for Microsoft (TI-12..TI-17) and the call completes both ways.
#[test]
fn pstn_to_teams_call() {
    let dir = TempDir::new("teams-in");
    let edge = Sipp::uas(&dir, "teams_edge_uas_call.xml")
        .tcp()
        .calls(1)
        .spawn();
    let [gw1, gw2] = free_ports::<2>();
    let gws = [
        Gw {
            addr: loopback(gw1),
            priority: 1,
        },
        Gw {
            addr: loopback(gw2),
            priority: 2,
        },
    ];
    let lab = Lab::start(&dir, &gws, [Some(edge.addr().port()), None, None]);
    let gw = lab
        .gw_uac(&dir, "teams_gw_uac_call.xml", "2065550123", "4255550150")
        .pause_ms(200)
        .run();
    let edge = edge.finish();
    let tunnel_log = lab.stunnel.stop();
    assert!(
        gw.code == 0 && edge.code == 0,
        "{gw}\n{edge}\nstunnel: {tunnel_log:#?}"
    );
    gw.assert_all_ok(1);
    edge.assert_all_ok(1);
    assert_teams_invite(&edge, CONTOSO_USER);
    // Every request sbcd sent to Microsoft carries X-MS-SBC (TI-17): the ACK and BYE too.
    for (start, h) in edge.received_messages() {
        assert!(header(&h, "X-MS-SBC").is_some(), "no X-MS-SBC on {start}");
    }
    assert_no_leaks(
        &edge.messages,
        &gw_uac_markers(&gw),
        "gateway details reached Microsoft",
    );
    assert_no_leaks(
        &gw.messages,
        &edge_markers(&edge),
        "Microsoft details reached the gateway",
    );
}

// -------------------------------------------------------------------------------------------
// 3. Refusals before any state.
// -------------------------------------------------------------------------------------------

/// TI-19: an unknown tenant subdomain gets 404; TI-20: a calling number contoso does not
/// hold gets 403. Neither reaches a gateway; a good call afterwards still completes.
#[test]
fn unknown_tenant_404_and_screening_403() {
    let dir = TempDir::new("teams-refused");
    let gw = Sipp::uas(&dir, "uas_basic.xml").calls(1).spawn();
    let [spare] = free_ports::<1>();
    let gws = [
        Gw {
            addr: gw.addr(),
            priority: 1,
        },
        Gw {
            addr: loopback(spare),
            priority: 2,
        },
    ];
    let lab = Lab::start(&dir, &gws, [None; 3]);
    let unknown = lab
        .ms_uac(
            &dir,
            "teams_ms_uac_rejected.xml",
            (
                &format!("northwind.{BASE}"),
                "11111111-2222-3333-4444-555555555555",
            ),
            CONTOSO_USER,
            PSTN_NUMBER,
        )
        .run();
    unknown.assert_all_ok(1);
    assert_eq!(
        unknown.received_count("SIP/2.0 404"),
        1,
        "{:?}",
        unknown.received()
    );
    let screened = lab
        .ms_uac(
            &dir,
            "teams_ms_uac_rejected.xml",
            CONTOSO_T,
            "+14255559999",
            PSTN_NUMBER,
        )
        .run();
    screened.assert_all_ok(1);
    assert_eq!(
        screened.received_count("SIP/2.0 403"),
        1,
        "{:?}",
        screened.received()
    );
    // The refused calls left nothing behind: the gateway's only call is this one.
    let ok = lab
        .ms_uac(
            &dir,
            "teams_ms_uac_call.xml",
            CONTOSO_T,
            CONTOSO_USER,
            PSTN_NUMBER,
        )
        .run();
    ok.assert_all_ok(1);
    let gw = gw.finish();
    gw.assert_all_ok(1);
    assert_eq!(gw.received_count("INVITE "), 1, "{:?}", gw.received());
}

// -------------------------------------------------------------------------------------------
// 4. Failover.
// -------------------------------------------------------------------------------------------

/// Teams -> PSTN: the first gateway answers 503, the call completes at the second; Microsoft
/// sees none of the 503 (TI-22: it only gets what the PSTN finally said).
#[test]
fn gateway_failover_on_503() {
    let dir = TempDir::new("teams-gw-failover");
    let bad = Sipp::uas(&dir, "uas_503.xml").calls(1).spawn();
    let good = Sipp::uas(&dir, "uas_basic.xml").calls(1).spawn();
    let gws = [
        Gw {
            addr: bad.addr(),
            priority: 1,
        },
        Gw {
            addr: good.addr(),
            priority: 2,
        },
    ];
    let lab = Lab::start(&dir, &gws, [None; 3]);
    let ms = lab
        .ms_uac(
            &dir,
            "teams_ms_uac_call.xml",
            CONTOSO_T,
            CONTOSO_USER,
            PSTN_NUMBER,
        )
        .run();
    let bad = bad.finish();
    let good = good.finish();
    ms.assert_all_ok(1);
    bad.assert_all_ok(1);
    good.assert_all_ok(1);
    assert_eq!(ms.received_count("SIP/2.0 503"), 0, "{:?}", ms.received());
    // The second gateway is not national: E.164 as Teams sent it.
    let inv = good
        .received()
        .into_iter()
        .find(|l| l.starts_with("INVITE "))
        .expect("INVITE");
    assert!(
        inv.starts_with(&format!("INVITE sip:{PSTN_NUMBER}@")),
        "{inv}"
    );
}

/// PSTN -> Teams: the first edge's address refuses connections; the INVITE goes to sip2
/// (TI-3, TI-18: retry on transport failure), with SNI = sip2's name (stunnel only forwards
/// that SNI, TI-6) and the Request-URI host still sip.pstnhub.microsoft.com (TI-12).
#[test]
fn edge_failover_on_refused_connection() {
    let dir = TempDir::new("teams-edge-failover");
    let edge = Sipp::uas(&dir, "teams_edge_uas_call.xml")
        .tcp()
        .calls(1)
        .spawn();
    let [gw1, gw2] = free_ports::<2>();
    let gws = [
        Gw {
            addr: loopback(gw1),
            priority: 1,
        },
        Gw {
            addr: loopback(gw2),
            priority: 2,
        },
    ];
    let lab = Lab::start(&dir, &gws, [None, Some(edge.addr().port()), None]);
    let gw = lab
        .gw_uac(&dir, "teams_gw_uac_call.xml", "2065550123", "4255550150")
        .run();
    let edge = edge.finish();
    let tunnel_log = lab.stunnel.stop();
    assert!(
        gw.code == 0 && edge.code == 0,
        "{gw}\n{edge}\nstunnel: {tunnel_log:#?}"
    );
    gw.assert_all_ok(1);
    edge.assert_all_ok(1);
    assert_teams_invite(&edge, CONTOSO_USER);
}

// -------------------------------------------------------------------------------------------
// 5. Transfer (REFER from Teams, TI-26).
// -------------------------------------------------------------------------------------------

/// The Refer-To and Referred-By of `teams_edge_uas_refer.xml`.
const REFER_TARGET: &str =
    "sip:+12065550199@sip.pstnhub.microsoft.com:5061;user=phone;transport=tls;x-m=8:orgid:5c6b1a9e;x-t=7f3e2d1c";
const REFERRED_BY: &str = "<sip:+14255550150@sip.pstnhub.microsoft.com;user=phone;x-m=8:orgid:5c6b1a9e-2f4d-4a8b-9c1e-0123456789ab;x-t=7f3e2d1c-4b5a-4c6d-8e9f-abcdef012345;x-ti=0b6f5e3a-7c1d-4f2e-9a8b-123456789abc;x-tt=88.contoso.sbc.lab.example;x-ms-transfer-context=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA>;x-referred-by-tail=byte-for-byte";

/// A PSTN caller reaches a contoso user, who transfers the call to a PSTN number by REFER.
/// The SBC (REFER in its Allow, TI-16) answers 202, reports progress by NOTIFY (`Event:
/// refer`, `message/sipfrag`, the last one terminating the subscription), and sends the new
/// INVITE back to Microsoft - never straight to a gateway - with the Refer-To URI as
/// Request-URI (header part removed, `x-` parameters untouched, TI-23) and Referred-By byte
/// for byte; the gateway's leg is re-bridged by re-INVITE; Microsoft's BYE after the final
/// NOTIFY ends only the old dialog; the PSTN party's BYE ends the new one.
#[test]
fn refer_from_teams_to_pstn_number() {
    let dir = TempDir::new("teams-refer");
    let edge = Sipp::uas(&dir, "teams_edge_uas_refer.xml")
        .tcp()
        .calls(2)
        .spawn();
    let [gw1, gw2] = free_ports::<2>();
    let gws = [
        Gw {
            addr: loopback(gw1),
            priority: 1,
        },
        Gw {
            addr: loopback(gw2),
            priority: 2,
        },
    ];
    let lab = Lab::start(&dir, &gws, [Some(edge.addr().port()), None, None]);
    let gw = lab
        .gw_uac(
            &dir,
            "teams_gw_uac_transferred.xml",
            "2065550123",
            "4255550150",
        )
        .pause_ms(500)
        .run();
    let edge = edge.finish();
    let tunnel_log = lab.stunnel.stop();
    assert!(
        gw.code == 0 && edge.code == 0,
        "{gw}\n{edge}\nstunnel: {tunnel_log:#?}"
    );
    gw.assert_all_ok(1);
    edge.assert_all_ok(2);

    let msgs = edge.received_messages();
    assert_eq!(
        edge.received_count("SIP/2.0 202"),
        1,
        "{:?}",
        edge.received()
    );
    // NOTIFYs on the transferor's dialog: at least 100 Trying and the final one.
    let notifies: Vec<_> = msgs
        .iter()
        .filter(|(s, _)| s.starts_with("NOTIFY "))
        .collect();
    assert!(notifies.len() >= 2, "{:?}", edge.received());
    for (_, h) in &notifies {
        assert_eq!(
            header(h, "Event").map(|e| e.split(';').next().unwrap_or("")),
            Some("refer")
        );
        assert!(
            header(h, "Content-Type").is_some_and(|c| c.starts_with("message/sipfrag")),
            "{h:#?}"
        );
        assert!(header(h, "X-MS-SBC").is_some(), "TI-17: {h:#?}");
    }
    let last = &notifies.last().expect("NOTIFY").1;
    assert!(
        header(last, "Subscription-State").is_some_and(|s| s.starts_with("terminated")),
        "{last:#?}"
    );
    // The new INVITE came back to Microsoft (this edge), not to a gateway.
    let invites: Vec<_> = msgs
        .iter()
        .filter(|(s, _)| s.starts_with("INVITE "))
        .collect();
    assert_eq!(invites.len(), 2, "{:?}", edge.received());
    let (start, h) = invites[1];
    assert_eq!(*start, format!("INVITE {REFER_TARGET} SIP/2.0"));
    assert_eq!(header(h, "Referred-By"), Some(REFERRED_BY));
    assert!(header(h, "X-MS-SBC").is_some(), "TI-17: {h:#?}");
    let contact = header(h, "Contact").expect("Contact");
    assert_eq!(uri_host(contact), CONTOSO, "TI-14 Contact {contact}");
    assert!(
        header(h, "Content-Length")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(0)
            > 0,
        "TI-15: the transfer INVITE carries an offer: {h:#?}"
    );
    // The PSTN party was re-bridged, and saw nothing of Microsoft's dialogs.
    assert_eq!(gw.received_count("INVITE "), 1, "{:?}", gw.received());
    assert_eq!(gw.received_count("BYE "), 0, "{:?}", gw.received());
    assert_no_leaks(
        &gw.messages,
        &edge_markers(&edge),
        "Microsoft details reached the gateway",
    );
    assert_no_leaks(
        &gw.messages,
        &["Referred-By".to_owned(), "+12065550199".to_owned()],
        "transfer details reached the gateway",
    );
}

// -------------------------------------------------------------------------------------------
// OPTIONS from Microsoft.
// -------------------------------------------------------------------------------------------

/// TI-10: Microsoft's OPTIONS over the mutual-TLS Teams listener get 200 OK with X-MS-SBC
/// and an Allow listing REFER (`options_uac.xml` checks both), without call state: nothing
/// reaches a gateway.
#[test]
fn options_from_microsoft_answered() {
    let dir = TempDir::new("teams-options");
    let gw = Sipp::uas(&dir, "uas_basic.xml").spawn();
    let [spare] = free_ports::<1>();
    let gws = [
        Gw {
            addr: gw.addr(),
            priority: 1,
        },
        Gw {
            addr: loopback(spare),
            priority: 2,
        },
    ];
    let lab = Lab::start(&dir, &gws, [None; 3]);
    let ms = Sipp::uac(&dir, "options_uac.xml", lab.ms)
        .tcp()
        .calls(5)
        .rate(50)
        .run();
    let gw = gw.stop();
    let tunnel_log = lab.stunnel.stop();
    assert!(ms.code == 0, "{ms}\nstunnel: {tunnel_log:#?}");
    ms.assert_all_ok(5);
    assert!(gw.received().is_empty(), "{:?}", gw.received());
}

/// A contoso user on a Teams -> PSTN call transfers the PSTN party to another PSTN number
/// (TI-26). The SBC answers 202, reports by NOTIFY, and sends the new INVITE to Microsoft:
/// to the transferor's peer, i.e. back over the connection this dialog came on (TI-7),
/// never to a gateway; SIPp's out-of-call scenario plays that call's Microsoft side. The
/// gateway's leg is re-bridged by re-INVITE with the new SDP and released when the
/// transfer target hangs up.
#[test]
fn refer_on_a_teams_to_pstn_call() {
    let dir = TempDir::new("teams-refer-out");
    let gw = Sipp::uas(&dir, "teams_gw_uas_transferred.xml")
        .calls(1)
        .spawn();
    let [spare] = free_ports::<1>();
    let gws = [
        Gw {
            addr: gw.addr(),
            priority: 1,
        },
        Gw {
            addr: loopback(spare),
            priority: 2,
        },
    ];
    let lab = Lab::start(&dir, &gws, [None; 3]);
    let ooc = common::scenario("teams_ms_ooc_transferee.xml");
    let ms = lab
        .ms_uac(
            &dir,
            "teams_ms_uac_refer.xml",
            CONTOSO_T,
            CONTOSO_USER,
            PSTN_NUMBER,
        )
        .arg("-oocsf")
        .arg(&ooc.to_string_lossy())
        .run();
    let gw = gw.finish();
    let tunnel_log = lab.stunnel.stop();
    assert!(
        ms.code == 0 && gw.code == 0,
        "{ms}\n{gw}\nstunnel: {tunnel_log:#?}"
    );
    ms.assert_all_ok(1);
    gw.assert_all_ok(1);
    let msgs = ms.received_messages();
    assert_eq!(ms.received_count("SIP/2.0 202"), 1, "{:?}", ms.received());
    // The transfer INVITE reached Microsoft with the Refer-To URI and Referred-By.
    let (start, h) = msgs
        .iter()
        .find(|(s, _)| s.starts_with("INVITE "))
        .unwrap_or_else(|| panic!("no transfer INVITE at Microsoft: {:?}", ms.received()));
    assert_eq!(
        *start,
        "INVITE sip:+12065550199@sip.pstnhub.microsoft.com;user=phone;x-m=8:orgid:5c6b1a9e SIP/2.0"
    );
    assert_eq!(
        header(h, "Referred-By"),
        Some("<sip:+14255550150@sip.pstnhub.microsoft.com;user=phone;x-t=7f3e2d1c>")
    );
    assert!(header(h, "X-MS-SBC").is_some(), "TI-17: {h:#?}");
    assert_eq!(
        uri_host(header(h, "Contact").expect("Contact")),
        CONTOSO,
        "TI-14"
    );
    let notifies = msgs
        .iter()
        .filter(|(s, _)| s.starts_with("NOTIFY "))
        .count();
    assert!(notifies >= 2, "{:?}", ms.received());
    // The gateway: one INVITE, the re-INVITE, the SBC's BYE; nothing of Microsoft's.
    assert_eq!(gw.received_count("INVITE "), 2, "{:?}", gw.received());
    assert_eq!(gw.received_count("BYE "), 1, "{:?}", gw.received());
    assert_no_leaks(
        &gw.messages,
        &ms_markers(&ms),
        "Microsoft details reached the gateway",
    );
}
