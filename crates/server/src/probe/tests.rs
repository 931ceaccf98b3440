//! Deterministic tests of the prober core with a virtual clock (no sleeps, no sockets).

use super::*;

const EDGE: &str = "sip.pstnhub.microsoft.com";

fn ms(v: u64) -> Instant {
    Instant::from_millis(v)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn config(teams: bool) -> ProberConfig {
    ProberConfig {
        txn: sbc_txn::Config::default(),
        seed: 0xabcd,
        sent_by: "192.0.2.1:5060".into(),
        user_agent: "sbc/sbcd/1.0".into(),
        teams: teams.then(|| TeamsIdentity {
            base_fqdn: "sbc.carrier.example".into(),
            sbc_port: 5061,
            x_ms_sbc: "Carrier/SBC/1.0".into(),
            interval: Duration::from_secs(60),
        }),
    }
}

fn edge(host: &str, a: &str) -> Target {
    Target {
        name: host.into(),
        kind: TargetKind::Edge {
            host: host.into(),
            port: 5061,
            health: Arc::new(GatewayHealth::default()),
        },
        transport: Transport::Tls,
        addr: Some(addr(a)),
        server_name: Some(host.into()),
    }
}

fn gateway(name: &str, t: Transport, probe: OptionsProbe) -> (Target, Arc<GatewayHealth>) {
    let health = Arc::new(GatewayHealth::default());
    let target = Target {
        name: name.into(),
        kind: TargetKind::Gateway {
            address: "198.51.100.7:5060".into(),
            probe,
            health: health.clone(),
        },
        transport: t,
        addr: Some(addr("198.51.100.7:5060")),
        server_name: None,
    };
    (target, health)
}

fn probe(interval_s: u32, up: u32, down: u32) -> OptionsProbe {
    OptionsProbe {
        interval_s,
        up_threshold: up,
        down_threshold: down,
    }
}

fn transmits(p: &mut Prober) -> Vec<ProbeTransmit> {
    std::iter::from_fn(|| p.poll_transmit()).collect()
}

fn parse(t: &ProbeTransmit) -> Message {
    Message::parse(t.bytes.clone()).expect("the prober sends valid SIP")
}

/// The peer's answer to `req`.
fn answer(req: &Message, status: u16) -> Message {
    let mut out = Vec::new();
    sbc_sip::build::response(req, status, None, Some(b"peer"), &mut out).finish(None, b"");
    Message::parse(out).unwrap()
}

/// Runs the prober to `until` on virtual time; `reply(now, request)` decides the peer's
/// answer to every OPTIONS it receives (`None` = silence). Returns the send instants of new
/// probes and retransmissions (by CSeq).
fn run(
    p: &mut Prober,
    from: Instant,
    until: Instant,
    mut reply: impl FnMut(Instant, &Message) -> Option<u16>,
) -> Vec<(Instant, u32)> {
    let mut log = Vec::new();
    let mut now = from;
    loop {
        for t in transmits(p) {
            let req = parse(&t);
            log.push((now, req.cseq().unwrap().seq));
            if let Some(status) = reply(now, &req) {
                p.handle_message(now, answer(&req, status), t.to);
            }
        }
        match p.poll_timeout() {
            Some(t) if t <= until => {
                now = t.max(now);
                p.handle_timeout(now);
            }
            _ => return log,
        }
    }
}

#[test]
fn edge_options_follow_ti9_and_ti17_byte_for_byte() {
    let mut p = Prober::new(config(true), vec![edge(EDGE, "52.114.1.1:5061")], ms(0)).unwrap();
    assert_eq!(p.poll_timeout(), Some(ms(0)), "first probe at creation");
    p.handle_timeout(ms(0));
    let t = transmits(&mut p);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].to, Peer::new(Transport::Tls, addr("52.114.1.1:5061")));
    // TI-6: SNI is the Microsoft name dialled.
    assert_eq!(t[0].server_name.as_deref(), Some(EDGE));
    let text = std::str::from_utf8(&t[0].bytes).unwrap();
    let expected = "OPTIONS sip:sip.pstnhub.microsoft.com:5061;transport=tls SIP/2.0\r\n\
         Via: SIP/2.0/TLS sbc.carrier.example:5061;branch=z9hG4bKprobe000000000000abcd1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:sbc.carrier.example>;tag=1579a00000\r\n\
         To: <sip:sip.pstnhub.microsoft.com>\r\n\
         Call-ID: probe-000000000000abcd-0\r\n\
         CSeq: 1 OPTIONS\r\n\
         Contact: <sip:sbc.carrier.example:5061;transport=tls>\r\n\
         X-MS-SBC: Carrier/SBC/1.0\r\n\
         User-Agent: sbc/sbcd/1.0\r\n\
         Content-Length: 0\r\n\r\n";
    assert_eq!(text, expected);
    let m = parse(&t[0]);
    assert!(m.call_id().unwrap().starts_with(p.call_id_prefix()));
    // The next one is due a full interval later (TI-9: 60 s), with CSeq 2 and a new branch.
    p.handle_message(ms(40), answer(&m, 200), t[0].to);
    assert_eq!(p.poll_timeout(), Some(ms(60_000)));
    p.handle_timeout(ms(60_000));
    let t2 = transmits(&mut p);
    let m2 = parse(&t2[0]);
    assert_eq!(m2.cseq().unwrap().seq, 2);
    assert_eq!(m2.call_id(), m.call_id(), "one Call-ID per target");
    assert_ne!(
        m2.top_via().unwrap().branch(),
        m.top_via().unwrap().branch()
    );
}

#[test]
fn gateway_options_carry_rport_and_no_teams_headers() {
    let (g, _) = gateway("gw1", Transport::Udp, probe(30, 1, 1));
    let mut p = Prober::new(config(false), vec![g], ms(0)).unwrap();
    p.handle_timeout(ms(0));
    let t = transmits(&mut p);
    let text = std::str::from_utf8(&t[0].bytes).unwrap();
    assert!(
        text.starts_with("OPTIONS sip:198.51.100.7:5060 SIP/2.0\r\n"),
        "{text}"
    );
    assert!(text.contains("Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKprobe"));
    assert!(text.contains(";rport\r\n"));
    assert!(text.contains("Contact: <sip:192.0.2.1:5060>\r\n"));
    assert!(
        !text.contains("X-MS-SBC"),
        "TI-17 applies toward Microsoft only"
    );
    assert_eq!(t[0].server_name, None);
}

#[test]
fn edge_without_teams_identity_is_refused() {
    let e = Prober::new(config(false), vec![edge(EDGE, "52.114.1.1:5061")], ms(0)).unwrap_err();
    assert_eq!(e, ProberError::EdgeWithoutTeams(EDGE.into()));
}

#[test]
fn probes_follow_the_interval_at_exact_instants() {
    let (g, health) = gateway("gw1", Transport::Udp, probe(30, 1, 1));
    let mut p = Prober::new(config(false), vec![g], ms(5)).unwrap();
    // Answered 10 ms after each send: the cadence does not drift with the response time.
    let log = run(&mut p, ms(5), ms(95_000), |_, _| Some(200));
    assert_eq!(
        log,
        [
            (ms(5), 1),
            (ms(30_005), 2),
            (ms(60_005), 3),
            (ms(90_005), 4)
        ]
    );
    let st: Vec<_> = p.status().collect();
    assert_eq!((st[0].sent, st[0].answered, st[0].failed), (4, 4, 0));
    assert!(st[0].up && health.is_up());
}

#[test]
fn udp_probe_is_retransmitted_by_timer_e_and_fails_by_timer_f() {
    let (g, health) = gateway("gw1", Transport::Udp, probe(60, 1, 1));
    let mut p = Prober::new(config(false), vec![g], ms(0)).unwrap();
    let log = run(&mut p, ms(0), ms(40_000), |_, _| None);
    // RFC 3261 §17.1.2.2: E doubles from T1 = 500 ms up to T2 = 4 s; F = 64*T1 = 32 s.
    let at: Vec<u64> = log.iter().map(|(t, _)| t.as_nanos() / 1_000_000).collect();
    assert_eq!(
        at,
        [0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
    );
    assert!(
        log.iter().all(|&(_, cseq)| cseq == 1),
        "retransmissions, not new probes"
    );
    let st = p.status().next().unwrap();
    assert_eq!((st.sent, st.failed, st.answered), (1, 1, 0));
    assert!(!health.is_up(), "down_threshold 1: Timer F took it down");
    assert_eq!(p.poll_change(), Some(("gw1".into(), false)));
    assert_eq!(p.poll_change(), None);
}

#[test]
fn tls_probe_is_not_retransmitted_but_times_out() {
    let mut p = Prober::new(config(true), vec![edge(EDGE, "52.114.1.1:5061")], ms(0)).unwrap();
    let log = run(&mut p, ms(0), ms(40_000), |_, _| None);
    assert_eq!(log, [(ms(0), 1)], "reliable transport: no Timer E");
    let st = p.status().next().unwrap();
    assert_eq!(
        (st.role, st.failed, st.up),
        (Role::Edge, 1, true),
        "edges need 2 failures"
    );
    let _ = run(&mut p, ms(40_000), ms(100_000), |_, _| None);
    let st = p.status().next().unwrap();
    assert_eq!((st.sent, st.failed, st.up), (2, 2, false));
    // One answered probe brings the edge back (EDGE_UP_THRESHOLD).
    let _ = run(&mut p, ms(100_000), ms(130_000), |_, _| Some(200));
    assert!(p.status().next().unwrap().up);
}

#[test]
fn hysteresis_down_after_n_failures_up_after_m_answers() {
    // TCP: no retransmissions, Timer F after 32 s; interval 60 s so probes do not overlap.
    let (g, health) = gateway("gw1", Transport::Tcp, probe(60, 2, 3));
    let mut p = Prober::new(config(false), vec![g], ms(0)).unwrap();
    // Silent for the probes at 0, 60, 120 s; answers from 180 s on.
    let silent_until = ms(150_000);
    let mut seen = Vec::new();
    let mut now = ms(0);
    while now <= ms(300_000) {
        let _ = run(&mut p, now, now + Duration::from_secs(59), |t, _| {
            (t > silent_until).then_some(200)
        });
        seen.push(health.is_up());
        now = now + Duration::from_secs(60);
    }
    // After each 60 s window: failures 1, 2 (still up), 3 (down), answer 1 (still down),
    // answer 2 (up).
    assert_eq!(seen, [true, true, false, false, true, true]);
    let st = p.status().next().unwrap();
    assert_eq!((st.failed, st.answered), (3, 3));
}

#[test]
fn any_final_but_503_counts_as_answered() {
    let (g, health) = gateway("gw1", Transport::Tcp, probe(10, 1, 1));
    let mut p = Prober::new(config(false), vec![g], ms(0)).unwrap();
    let mut codes = [404u16, 483, 500, 606, 200].into_iter();
    let _ = run(&mut p, ms(0), ms(45_000), |_, _| codes.next());
    let st = p.status().next().unwrap();
    assert_eq!((st.sent, st.answered, st.failed), (5, 5, 0));
    assert!(health.is_up());
}

#[test]
fn a_503_takes_the_gateway_down() {
    let (g, health) = gateway("gw1", Transport::Tcp, probe(10, 1, 1));
    let mut p = Prober::new(config(false), vec![g], ms(0)).unwrap();
    let _ = run(&mut p, ms(0), ms(5_000), |_, _| Some(503));
    assert!(
        !health.is_up(),
        "503 = overloaded or in maintenance (RFC 3261 §21.5.4)"
    );
    let _ = run(&mut p, ms(5_000), ms(15_000), |_, _| Some(500));
    assert!(health.is_up(), "a 500 proves the peer's stack answers");
}

#[test]
fn provisional_then_final_is_one_outcome() {
    let (g, _) = gateway("gw1", Transport::Tcp, probe(10, 1, 1));
    let mut p = Prober::new(config(false), vec![g], ms(0)).unwrap();
    p.handle_timeout(ms(0));
    let t = transmits(&mut p);
    let req = parse(&t[0]);
    p.handle_message(ms(1), answer(&req, 100), t[0].to);
    assert_eq!(p.status().next().unwrap().answered, 0);
    p.handle_message(ms(2), answer(&req, 200), t[0].to);
    p.handle_message(ms(3), answer(&req, 200), t[0].to);
    let st = p.status().next().unwrap();
    assert_eq!(
        (st.answered, st.failed),
        (1, 0),
        "the retransmitted 200 is absorbed"
    );
}

#[test]
fn draining_stops_microsoft_probes_only() {
    let (g, _) = gateway("gw1", Transport::Tcp, probe(60, 1, 1));
    let mut p = Prober::new(config(true), vec![edge(EDGE, "52.114.1.1:5061"), g], ms(0)).unwrap();
    let _ = run(&mut p, ms(0), ms(1), |_, _| Some(200));
    p.set_draining(true);
    assert!(p.is_draining());
    let log = run(&mut p, ms(1), ms(250_000), |_, _| Some(200));
    let sent: Vec<(String, u64)> = p.status().map(|s| (s.name, s.sent)).collect();
    assert_eq!(sent, [(EDGE.to_owned(), 1), ("gw1".to_owned(), 5)]);
    assert_eq!(
        log.len(),
        4,
        "only the gateway's probes at 60, 120, 180, 240 s"
    );
    let edge_state = p.status().next().unwrap();
    assert!(
        edge_state.up && edge_state.failed == 0,
        "not probed is not failed"
    );
    // Leaving drain resumes on the cadence (next tick at 300 s).
    p.set_draining(false);
    let _ = run(&mut p, ms(250_000), ms(300_000), |_, _| Some(200));
    assert_eq!(p.status().next().unwrap().sent, 2);
}

#[test]
fn responses_are_matched_by_branch_not_only_call_id() {
    let (g, health) = gateway("gw1", Transport::Tcp, probe(60, 1, 1));
    let mut p = Prober::new(config(false), vec![g], ms(0)).unwrap();
    p.handle_timeout(ms(0));
    let t = transmits(&mut p);
    let req = parse(&t[0]);
    // Same Call-ID, another branch: a forged or stale answer changes nothing.
    let text = std::str::from_utf8(&t[0].bytes)
        .unwrap()
        .replace("z9hG4bKprobe", "z9hG4bKother");
    let forged = Message::parse(text.into_bytes()).unwrap();
    p.handle_message(ms(1), answer(&forged, 200), t[0].to);
    assert_eq!(p.strays(), 1);
    assert_eq!(p.status().next().unwrap().answered, 0);
    // Nothing answered: Timer F decides.
    let _ = run(&mut p, ms(1), ms(40_000), |_, _| None);
    assert!(!health.is_up());
    // Late answer to the timed-out probe: stray too.
    p.handle_message(ms(40_001), answer(&req, 200), t[0].to);
    assert_eq!(p.strays(), 2);
    assert!(!health.is_up());
}

#[test]
fn claims_only_responses_with_the_prefix() {
    let (g, _) = gateway("gw1", Transport::Udp, probe(60, 1, 1));
    let mut p = Prober::new(config(false), vec![g], ms(0)).unwrap();
    p.handle_timeout(ms(0));
    let req = parse(&transmits(&mut p)[0]);
    let prefix = p.call_id_prefix().to_vec();
    assert_eq!(prefix, b"probe-000000000000abcd-");
    assert!(claims(&prefix, &answer(&req, 200)));
    assert!(!claims(&prefix, &req), "requests never go to the prober");
    let other = Message::parse(
        &b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n\
           To: <sip:b@h>;tag=2\r\nCall-ID: probe-0000000000000001-0\r\nCSeq: 1 OPTIONS\r\n\
           Content-Length: 0\r\n\r\n"[..],
    )
    .unwrap();
    assert!(!claims(&prefix, &other), "another node's seed");
}

#[test]
fn transport_error_is_a_failed_probe() {
    let (g, health) = gateway("gw1", Transport::Tcp, probe(60, 1, 1));
    let mut p = Prober::new(config(false), vec![g], ms(0)).unwrap();
    p.handle_timeout(ms(0));
    let t = transmits(&mut p);
    p.handle_transport_error(ms(1), t[0].txn.unwrap());
    assert!(!health.is_up());
    assert_eq!(p.status().next().unwrap().failed, 1);
    // The next probe keeps the cadence.
    assert_eq!(p.poll_timeout(), Some(ms(60_000)));
}

#[test]
fn unresolved_target_fails_without_sending_until_it_resolves() {
    let mut e = edge(EDGE, "52.114.1.1:5061");
    e.addr = None;
    let mut p = Prober::new(config(true), vec![e], ms(0)).unwrap();
    let log = run(&mut p, ms(0), ms(60_000), |_, _| Some(200));
    assert!(log.is_empty());
    let st = p.status().next().unwrap();
    assert_eq!((st.sent, st.failed, st.up), (0, 2, false));
    p.set_addr(EDGE, Some(addr("52.114.2.2:5061")));
    p.handle_timeout(ms(120_000));
    let t = transmits(&mut p);
    assert_eq!(t[0].to.addr, addr("52.114.2.2:5061"));
}

#[test]
fn a_deadline_during_an_outstanding_probe_waits_for_its_outcome() {
    // Interval 10 s < Timer F 32 s: one probe in flight at a time, the next right after F.
    let (g, _) = gateway("gw1", Transport::Tcp, probe(10, 1, 1));
    let mut p = Prober::new(config(false), vec![g], ms(0)).unwrap();
    let log = run(&mut p, ms(0), ms(70_000), |_, _| None);
    assert_eq!(log, [(ms(0), 1), (ms(32_000), 2), (ms(64_000), 3)]);
    assert_eq!(p.status().next().unwrap().failed, 2);
}

#[test]
fn targets_come_from_the_config() {
    let text = r#"
version = 1
[[listener]]
name = "udp"
zone = "pstn"
transport = "udp"
bind = "127.0.0.1:5060"
[[tls]]
name = "t"
cert_chain = "c.pem"
key = "k.pem"
trust_bundle = "ca.pem"
[teams]
base_fqdn = "sbc.carrier.example"
tls = "t"
edges = [{ host = "sip.pstnhub.microsoft.com" }, { host = "lab.edge", address = "127.0.0.1:5071" }]
[[gateway]]
name = "probed"
address = "gw.example:5060"
transport = "tcp"
options = { interval_s = 5 }
[[gateway]]
name = "plain"
address = "198.51.100.9:5060"
"#;
    let cfg = sbc_config::Config::parse(text, "t.toml").expect("config");
    let health = sbc_routing::HealthMap::new();
    let edges = sbc_routing::HealthMap::new();
    let t = targets(
        &cfg,
        &health,
        &edges,
        |h| (h == "sip.pstnhub.microsoft.com").then(|| addr("52.114.0.9:5061")),
        |_| None,
    );
    let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["sip.pstnhub.microsoft.com", "lab.edge", "probed"]);
    assert_eq!(t[0].addr, Some(addr("52.114.0.9:5061")));
    assert_eq!(t[1].addr, Some(addr("127.0.0.1:5071")), "static address");
    assert_eq!(
        (t[2].transport, t[2].server_name.as_deref()),
        (Transport::Tcp, None)
    );
    // A TLS gateway named by host verifies that name; an IP literal is verified by address.
    assert_eq!(host_of("gw.example:5061").as_deref(), Some("gw.example"));
    assert_eq!(host_of("gw.example").as_deref(), Some("gw.example"));
    assert_eq!(host_of("198.51.100.9:5061"), None);
    assert_eq!(host_of("[2001:db8::1]:5061"), None);
    assert!(health.get("probed").is_some() && health.get("plain").is_none());
    assert!(edges.get("lab.edge").is_some() && health.get("lab.edge").is_none());
}
