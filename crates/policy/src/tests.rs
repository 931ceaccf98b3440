//! The policy on a two-tenant lab configuration (TI rules cited per test).

use super::*;
use sbc_routing::HealthMap;

const CFG: &str = r#"
version = 1
[[tls]]
name = "teams"
cert_chain = "c.pem"
key = "k.pem"
trust_bundle = "ca.pem"

[[listener]]
name = "teams-tls"
zone = "teams"
transport = "tls"
bind = "127.0.0.1:5061"
tls = "teams"

[[listener]]
name = "pstn"
zone = "pstn"
transport = "udp"
bind = "127.0.0.1:5060"

[teams]
base_fqdn = "sbc.lab.example"
tls = "teams"
source_ranges = ["192.0.2.0/24"]

[[gateway]]
name = "gw-a"
address = "198.51.100.1:5060"
number_format = { style = "national", country_code = "1", national_prefix = "", international_prefix = "011" }

[[gateway]]
name = "gw-b"
address = "198.51.100.2:5060"

[[gateway]]
name = "psap"
address = "198.51.100.9:5060"
transport = "tcp"

[[gateway_group]]
name = "pstn"
members = [{ gateway = "gw-a", priority = 1 }, { gateway = "gw-b", priority = 2 }]

[[gateway_group]]
name = "emergency"
members = [{ gateway = "psap" }]

[[tenant]]
id = "contoso"
subdomains = ["contoso"]
numbers = ["+14255550100", "+14255550200-+14255550299"]
routes = [{ prefix = "+1", group = "pstn" }]
emergency_group = "emergency"

[[tenant]]
id = "fabrikam"
subdomains = ["fabrikam"]
operator_connect_guid = "0b6f5e3a-7c1d-4f2e-9a8b-123456789abc"
numbers = ["+442071230000-+442071230099"]
screen_calling = false
routes = [{ prefix = "+44", group = "pstn" }]
refer = "microsoft"
"#;

fn policy() -> CallPolicy {
    let cfg = Config::parse(CFG, "test.toml").expect("config");
    let tables = Arc::new(Tables::build(&cfg, &HealthMap::new()).expect("tables"));
    let edge = |h: &str, a: &str| EdgeTarget {
        host: h.into(),
        peers: vec![Peer::new(Transport::Tls, a.parse().unwrap())],
    };
    let resolved = Resolved {
        gateways: HashMap::new(),
        edges: vec![
            edge("sip.pstnhub.microsoft.com", "192.0.2.10:5061"),
            edge("sip2.pstnhub.microsoft.com", "192.0.2.20:5061"),
            edge("sip3.pstnhub.microsoft.com", "192.0.2.30:5061"),
        ],
    };
    let em = EmergencyPolicy::new(&Default::default()).expect("emergency");
    CallPolicy::new(
        &cfg,
        tables,
        &resolved,
        Some(Arc::new(em)),
        StaticRouter::new(Vec::new()),
    )
    .expect("policy")
}

fn teams() -> Peer {
    Peer::new(Transport::Tls, "192.0.2.10:40001".parse().unwrap())
}

fn gw_a() -> Peer {
    Peer::new(Transport::Udp, "198.51.100.1:5060".parse().unwrap())
}

fn invite(ruri: &str, from: &str, extra: &str) -> Message {
    let text = format!(
        "INVITE {ruri} SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK1\r\n\
         Max-Forwards: 70\r\nFrom: {from};tag=f1\r\nTo: <{ruri}>\r\nCall-ID: c1\r\n\
         CSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
    );
    Message::parse(text.into_bytes()).expect("invite")
}

fn targets(d: RouteDecision) -> Vec<Target> {
    match d {
        RouteDecision::Targets(t) => t,
        other => panic!("{other:?}"),
    }
}

fn status(d: RouteDecision) -> u16 {
    match d {
        RouteDecision::Reject { status, .. } => status,
        other => panic!("{other:?}"),
    }
}

#[test]
fn teams_to_pstn_by_subdomain_with_numbers_in_the_gateways_format() {
    // TI-19: the tenant from the Request-URI host; TI-20 screening passes for its number.
    let p = policy();
    let req = invite(
        "sip:+12065550123@contoso.sbc.lab.example:5061;user=phone",
        "\"Ann\" <sip:+14255550100@contoso.sbc.lab.example;user=phone>",
        "",
    );
    assert_eq!(p.source_trunk(&req, teams()).as_deref(), Some(TEAMS_TRUNK));
    assert_eq!(p.classify(&req, teams()), CallClass::Normal);
    let t = targets(p.route(&req, teams()));
    assert_eq!(t.len(), 2, "gw-a, then gw-b (priority 2)");
    assert_eq!(t[0].trunk, "gw-a");
    // gw-a is national-format NANP: +1 206... -> 206...
    assert_eq!(
        t[0].request_uri,
        b"sip:2065550123@198.51.100.1:5060;user=phone"
    );
    assert_eq!(
        t[0].presentation.from.as_deref(),
        Some(&b"\"Ann\" <sip:4255550100@198.51.100.1:5060;user=phone>"[..])
    );
    // gw-b speaks E.164.
    assert_eq!(
        t[1].request_uri,
        b"sip:+12065550123@198.51.100.2:5060;user=phone"
    );
    // Our answers to Microsoft carry the tenant FQDN (TI-14).
    assert_eq!(
        t[0].presentation.a_contact.as_deref(),
        Some("sip:contoso.sbc.lab.example:5061;transport=tls")
    );
    assert_eq!(t[0].presentation.tenant.as_deref(), Some("contoso"));
}

#[test]
fn operator_connect_tenant_by_guid() {
    // TI-19: X-MS-TenantID names the tenant; fabrikam does not screen.
    let p = policy();
    let req = invite(
        "sip:+442079460000@sbc.lab.example;user=phone",
        "<sip:+15550000000@sbc.lab.example;user=phone>",
        "X-MS-TenantID: 0B6F5E3A-7C1D-4F2E-9A8B-123456789ABC\r\n",
    );
    let t = targets(p.route(&req, teams()));
    assert_eq!(t[0].presentation.tenant.as_deref(), Some("fabrikam"));
}

#[test]
fn a_tenants_refer_override_picks_the_teams_trunk_both_ways() {
    // TI-16/TI-26: fabrikam leaves transfers to Microsoft (tenant `refer` override), contoso
    // takes the trunk's default (the SBC handles them): the Microsoft-side trunk name, and
    // with it the leg policy (REFER in Allow or not), follows the tenant.
    let p = policy();
    let from_fabrikam = invite(
        "sip:+442079460000@sbc.lab.example;user=phone",
        "<sip:+15550000000@sbc.lab.example;user=phone>",
        "X-MS-TenantID: 0b6f5e3a-7c1d-4f2e-9a8b-123456789abc\r\n",
    );
    assert_eq!(
        p.source_trunk(&from_fabrikam, teams()).as_deref(),
        Some(TEAMS_TRUNK_MS_REFER)
    );
    let from_contoso = invite(
        "sip:+12065550123@contoso.sbc.lab.example:5061;user=phone",
        "<sip:+14255550100@contoso.sbc.lab.example;user=phone>",
        "",
    );
    assert_eq!(
        p.source_trunk(&from_contoso, teams()).as_deref(),
        Some(TEAMS_TRUNK)
    );
    // Unknown tenant: the trunk's default.
    let unknown = invite(
        "sip:+12065550123@northwind.sbc.lab.example:5061;user=phone",
        "<sip:+14255550100@northwind.sbc.lab.example;user=phone>",
        "",
    );
    assert_eq!(
        p.source_trunk(&unknown, teams()).as_deref(),
        Some(TEAMS_TRUNK)
    );
    // PSTN -> fabrikam: the targets use the no-REFER trunk.
    let to_fabrikam = invite(
        "sip:+442071230005@198.51.100.100:5060",
        "<sip:+442079460000@198.51.100.2>",
        "",
    );
    let gw_b = Peer::new(Transport::Udp, "198.51.100.2:5060".parse().unwrap());
    let t = targets(p.route(&to_fabrikam, gw_b));
    assert!(t.iter().all(|x| x.trunk == TEAMS_TRUNK_MS_REFER), "{t:?}");
    assert_eq!(t[0].presentation.tenant.as_deref(), Some("fabrikam"));
}

#[test]
fn refusals_before_any_state() {
    let p = policy();
    // TI-19: unknown tenant -> 404.
    let req = invite(
        "sip:+12065550123@nobody.sbc.lab.example;user=phone",
        "<sip:+14255550100@nobody.sbc.lab.example>",
        "",
    );
    assert_eq!(status(p.route(&req, teams())), 404);
    // TI-20: contoso screens; +14255550999 is not its number -> 403.
    let req = invite(
        "sip:+12065550123@contoso.sbc.lab.example;user=phone",
        "<sip:+14255550999@contoso.sbc.lab.example>",
        "",
    );
    assert_eq!(status(p.route(&req, teams())), 403);
    // No route for +33 at contoso -> 404.
    let req = invite(
        "sip:+33155550123@contoso.sbc.lab.example;user=phone",
        "<sip:+14255550100@contoso.sbc.lab.example>",
        "",
    );
    assert_eq!(status(p.route(&req, teams())), 404);
    // The same INVITE from outside the Microsoft ranges is not a Teams call at all, and no
    // fallback route serves it.
    let stranger = Peer::new(Transport::Tls, "203.0.113.5:5061".parse().unwrap());
    assert_eq!(status(p.route(&req, stranger)), 403);
}

#[test]
fn pstn_to_teams_goes_to_the_edges_with_tenant_identities() {
    // TI-12: Request-URI sip:+E164@sip.pstnhub.microsoft.com;user=phone on every edge;
    // TI-13/TI-14: From and Contact on the tenant FQDN; TI-3/TI-18: sip, sip2, sip3 in order.
    let p = policy();
    let req = invite(
        "sip:4255550250@198.51.100.100:5060",
        "\"Bob\" <sip:2065550123@198.51.100.1>",
        "",
    );
    assert_eq!(p.source_trunk(&req, gw_a()).as_deref(), Some("gw-a"));
    let t = targets(p.route(&req, gw_a()));
    assert_eq!(t.len(), 3);
    for (i, x) in t.iter().enumerate() {
        assert_eq!(
            x.request_uri,
            b"sip:+14255550250@sip.pstnhub.microsoft.com;user=phone"
        );
        assert_eq!(x.trunk, TEAMS_TRUNK);
        assert_eq!(x.peer, p.edges[i].peers[0]);
        assert_eq!(
            x.presentation.contact.as_deref(),
            Some("sip:contoso.sbc.lab.example:5061;transport=tls")
        );
        assert_eq!(
            x.presentation.from.as_deref(),
            Some(&b"\"Bob\" <sip:+12065550123@contoso.sbc.lab.example;user=phone>"[..])
        );
    }
    assert_eq!(p.server_name(t[1].peer), Some("sip2.pstnhub.microsoft.com"));
}

#[test]
fn tenant_isolation_a_number_of_one_tenant_never_takes_anothers_routes() {
    // A Teams call of fabrikam (GUID) to +1 has no route there even though contoso routes +1.
    let p = policy();
    let req = invite(
        "sip:+12065550123@sbc.lab.example;user=phone",
        "<sip:+442071230001@sbc.lab.example>",
        "X-MS-TenantID: 0b6f5e3a-7c1d-4f2e-9a8b-123456789abc\r\n",
    );
    assert_eq!(status(p.route(&req, teams())), 404);
}

#[test]
fn emergency_calls_are_classified_first_and_go_to_the_emergency_group_unscreened() {
    // TI-38: 911 from a contoso user whose number is not screened-in still goes (TI-40).
    let p = policy();
    let req = invite(
        "sip:911@contoso.sbc.lab.example;user=phone",
        "<sip:+14255550999@contoso.sbc.lab.example>",
        "",
    );
    assert_eq!(p.classify(&req, teams()), CallClass::Emergency);
    let t = targets(p.route(&req, teams()));
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].trunk, "psap");
    assert_eq!(t[0].peer.transport, Transport::Tcp, "a stream transport");
    assert_eq!(
        t[0].request_uri,
        b"sip:911@198.51.100.9:5060;transport=tcp;user=phone"
    );
}

#[test]
fn an_fmc_marked_invite_is_never_routed_back_to_teams() {
    // TI-25.
    let p = policy();
    let req = invite(
        "sip:4255550250@198.51.100.100:5060",
        "<sip:2065550123@198.51.100.1>",
        "X-MS-FMC: ON\r\n",
    );
    assert_eq!(status(p.route(&req, gw_a())), 403);
}
