use super::*;

const CFG: &str = r#"
version = 1
[[tls]]
name = "teams"
cert_chain = "c.pem"
key = "k.pem"
trust_bundle = "ca.pem"
[[tls]]
name = "own"
cert_chain = "c2.pem"
key = "k2.pem"
[[listener]]
name = "l"
zone = "z"
transport = "udp"
bind = "127.0.0.1:5060"
[teams]
base_fqdn = "SBC.Example.net"
tls = "teams"
[[gateway]]
name = "a1"
address = "127.0.0.1:5081"
number_format = { style = "national", country_code = "49", national_prefix = "0" }
[[gateway]]
name = "a2"
address = "127.0.0.1:5082"
[[gateway]]
name = "b"
address = "127.0.0.1:5083"
[[gateway]]
name = "c"
address = "127.0.0.1:5084"
[[gateway_group]]
name = "ga"
members = [{ gateway = "a1", weight = 75 }, { gateway = "a2", weight = 25 }, { gateway = "b", priority = 2 }]
[[gateway_group]]
name = "gc"
members = [{ gateway = "c" }, { gateway = "b" }]
max_attempts = 1
[[tenant]]
id = "contoso"
subdomains = ["contoso", "Contoso-EU"]
numbers = ["+14255550100", "+14255550101", "+14255550200-+14255550299", "+4969000"]
routes = [
  { prefix = "+1", group = "ga" },
  { prefix = "+1425", group = "gc" },
  { prefix = "+14255", group = "ga", priority = 1 },
  { prefix = "+14255", group = "gc", priority = 2 },
]
refer = "microsoft"
tls = "own"
[[tenant]]
id = "fabrikam"
operator_connect_guid = "0B6F5E3A-7C1D-4F2E-9A8B-123456789ABC"
numbers = ["+4969000000-+4969000099"]
screen_calling = false
routes = [{ prefix = "+49", group = "gc" }]
default_group = "ga"
"#;

fn tables() -> (Tables, HealthMap) {
    let cfg = Config::parse(CFG, "t").expect("config");
    let h = HealthMap::new();
    let t = Tables::build(&cfg, &h).expect("build");
    (t, h)
}

fn names(t: &Tables, ts: Targets) -> Vec<&str> {
    ts.as_slice()
        .iter()
        .map(|g| t.gateway(*g).map_or("?", |g| g.name.as_str()))
        .collect()
}

#[test]
fn tenant_by_host_is_case_insensitive_and_exact() {
    let (t, _) = tables();
    let c = t.tenant_id("contoso");
    assert!(c.is_some());
    assert_eq!(t.tenant_by_host("contoso.sbc.example.net"), c);
    assert_eq!(t.tenant_by_host("CONTOSO.SBC.EXAMPLE.NET."), c);
    assert_eq!(t.tenant_by_host("contoso-eu.sbc.example.net"), c);
    for miss in [
        "sbc.example.net",
        ".sbc.example.net",
        "x.contoso.sbc.example.net",
        "contoso.sbc.example.org",
        "contososbc.example.net",
        "fabrikam.sbc.example.net",
        "",
    ] {
        assert_eq!(t.tenant_by_host(miss), None, "{miss}");
    }
    let long = format!("{}.sbc.example.net", "a".repeat(64));
    assert_eq!(t.tenant_by_host(&long), None);
    assert_eq!(t.base_fqdn(), "sbc.example.net");
    let info = t.tenant(c.unwrap()).unwrap();
    assert_eq!(
        info.fqdns,
        ["contoso.sbc.example.net", "contoso-eu.sbc.example.net"]
    );
    assert_eq!(
        (info.refer, info.tls.as_str()),
        (ReferMode::Microsoft, "own")
    );
}

#[test]
fn tenant_by_guid_and_request() {
    let (t, _) = tables();
    let f = t.tenant_id("fabrikam");
    assert_eq!(t.tenant_by_guid("0b6f5e3a-7c1d-4f2e-9a8b-123456789abc"), f);
    assert_eq!(
        t.tenant_by_guid(" 0B6F5E3A-7C1D-4F2E-9A8B-123456789ABC "),
        f
    );
    assert_eq!(
        t.tenant_by_guid("0b6f5e3a-7c1d-4f2e-9a8b-123456789abd"),
        None
    );
    assert_eq!(t.tenant_by_guid("0b6f5e3a7c1d4f2e9a8b123456789abc"), None);
    assert_eq!(
        t.tenant_by_guid("0b6f5e3a-7c1d-4f2e-9a8b-123456789abg"),
        None
    );
    // The header wins over the host (Operator Connect), TI-19.
    assert_eq!(
        t.tenant_of_request(
            "contoso.sbc.example.net",
            Some("0b6f5e3a-7c1d-4f2e-9a8b-123456789abc")
        ),
        f
    );
    assert_eq!(
        t.tenant_of_request("contoso.sbc.example.net", None),
        t.tenant_id("contoso")
    );
    // A GUID no tenant holds (a carrier-model tenant configured by subdomain only): the
    // host still names the tenant.
    assert_eq!(
        t.tenant_of_request(
            "contoso.sbc.example.net",
            Some("11111111-2222-3333-4444-555555555555")
        ),
        t.tenant_id("contoso")
    );
    // Neither known: no tenant (404).
    assert_eq!(
        t.tenant_of_request(
            "northwind.sbc.example.net",
            Some("11111111-2222-3333-4444-555555555555")
        ),
        None
    );
    assert_eq!(t.tenant(f.unwrap()).unwrap().refer, ReferMode::Handle);
}

#[test]
fn numbers_map_to_tenants_exactly() {
    let (t, _) = tables();
    let (c, f) = (t.tenant_id("contoso"), t.tenant_id("fabrikam"));
    assert_eq!(t.tenant_by_number("+14255550100"), c);
    assert_eq!(t.tenant_by_number("+1 425-555-0101"), c);
    assert_eq!(t.tenant_by_number("+14255550102"), None);
    assert_eq!(t.tenant_by_number("+14255550200"), c);
    assert_eq!(t.tenant_by_number("+14255550299"), c);
    assert_eq!(t.tenant_by_number("+14255550300"), None);
    assert_eq!(
        t.tenant_by_number("+142555502000"),
        None,
        "longer numbers are not in a range"
    );
    assert_eq!(t.tenant_by_number("14255550100"), None, "not E.164");
    assert_eq!(t.tenant_by_number("+4969000"), c);
    assert_eq!(t.tenant_by_number("+4969000050"), f);
    assert_eq!(t.tenant_by_number("+"), None);
    assert_eq!(t.tenant_by_number("+1425x"), None);
    // +14255550100 and +14255550101 merged into one range.
    assert_eq!(t.inventory_ranges(), 4);
    // Screening (TI-20).
    let ci = c.unwrap();
    assert!(t.calling_allowed(ci, "+14255550250"));
    assert!(!t.calling_allowed(ci, "+4969000050"));
    assert!(
        t.calling_allowed(f.unwrap(), "+19999999"),
        "fabrikam does not screen"
    );
    assert!(!t.calling_allowed(TenantId(99), "+14255550250"));
}

#[test]
fn longest_prefix_wins_then_default() {
    let (t, _) = tables();
    let c = t.tenant_id("contoso").unwrap();
    let group_names = |r: Result<&[RouteChoice], RouteError>| -> Vec<String> {
        r.expect("route")
            .iter()
            .map(|x| t.group(x.group).unwrap().name.clone())
            .collect()
    };
    assert_eq!(group_names(t.route(c, "+12125550100")), ["ga"]);
    assert_eq!(group_names(t.route(c, "+14245550100")), ["ga"]);
    assert_eq!(group_names(t.route(c, "+14250000000")), ["gc"]);
    assert_eq!(group_names(t.route(c, "+14255")), ["ga", "gc"]);
    assert_eq!(group_names(t.route(c, "+1425")), ["gc"]);
    assert_eq!(group_names(t.route(c, "+142")), ["ga"]);
    assert_eq!(t.route(c, "+4930123"), Err(RouteError::NoRoute));
    assert_eq!(
        t.route(c, "+"),
        Err(RouteError::BadNumber(NumberError::Empty))
    );
    assert_eq!(
        t.route(c, "sip"),
        Err(RouteError::BadNumber(NumberError::BadChar))
    );
    let f = t.tenant_id("fabrikam").unwrap();
    assert_eq!(group_names(t.route(f, "+4930123")), ["gc"]);
    assert_eq!(
        group_names(t.route(f, "+4")),
        ["ga"],
        "shorter than the prefix: default"
    );
    assert_eq!(group_names(t.route(f, "+14255550100")), ["ga"]);
}

#[test]
fn selection_orders_by_priority_and_weight_and_skips_down() {
    let (t, h) = tables();
    let c = t.tenant_id("contoso").unwrap();
    // +1 -> ga: a1 (75) / a2 (25) at priority 1, then b.
    let mut first_a1 = 0;
    for seed in 0..4000u64 {
        let ts = t.targets(c, "+12125550100", seed).expect("targets");
        let n = names(&t, ts);
        assert_eq!(n.len(), 3);
        assert_eq!(n[2], "b");
        assert!(n[..2].contains(&"a1") && n[..2].contains(&"a2"));
        first_a1 += usize::from(n[0] == "a1");
    }
    // 75 % expected; a broken weighting (uniform or fixed) lands far outside.
    assert!((2800..3200).contains(&first_a1), "{first_a1}");
    // Same seed, same order (deterministic).
    assert_eq!(
        t.targets(c, "+12125550100", 7),
        t.targets(c, "+12125550100", 7)
    );

    // gc has max_attempts = 1: one of c/b, both over enough seeds.
    let f = t.tenant_id("fabrikam").unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..64 {
        let n = names(&t, t.targets(f, "+4930123", seed).unwrap());
        assert_eq!(n.len(), 1, "{n:?}");
        seen.insert(n[0]);
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["b", "c"]);

    h.cell("a1").set_up(false);
    for seed in 0..50 {
        assert_eq!(
            names(&t, t.targets(c, "+12125550100", seed).unwrap()),
            ["a2", "b"]
        );
    }
    // +14255: ga then gc (max_attempts 1: only c, b already present).
    assert_eq!(
        names(&t, t.targets(c, "+14255000000", 1).unwrap()),
        ["a2", "b", "c"]
    );
    h.cell("a2").set_up(false);
    h.cell("b").set_up(false);
    assert_eq!(names(&t, t.targets(c, "+14255000000", 1).unwrap()), ["c"]);
    h.cell("c").set_up(false);
    assert_eq!(t.targets(c, "+14255000000", 1), Err(RouteError::AllDown));
}

#[test]
fn health_survives_a_table_swap() {
    let (t, h) = tables();
    let b = t.gateway_id("b").unwrap();
    t.gateway(b).unwrap().health.set_up(false);
    let cfg = Config::parse(CFG, "t").expect("config");
    let t2 = Tables::build(&cfg, &h).expect("rebuild");
    let b2 = t2.gateway_id("b").unwrap();
    assert!(!t2.gateway(b2).unwrap().health.is_up());
    let p = t2.gateway(b2).unwrap().options.unwrap_or_default();
    for _ in 0..p.up_threshold {
        h.cell("b").record_probe(true, &p);
    }
    assert!(
        t.gateway(b).unwrap().health.is_up(),
        "old generation sees it too"
    );
}

#[test]
fn gateway_number_rules_are_reachable() {
    let (t, _) = tables();
    let a1 = t.gateway(t.gateway_id("a1").unwrap()).unwrap();
    assert_eq!(
        a1.numbers.from_e164("+496912345").unwrap().as_str(),
        "06912345"
    );
    assert_eq!(
        a1.numbers.to_e164("06912345").unwrap().as_str(),
        "+496912345"
    );
    assert!(a1.fails_over_on(503) && !a1.fails_over_on(486));
}

#[test]
fn build_errors_are_typed() {
    let h = HealthMap::new();
    let file = CFG.replace(
        "screen_calling = false",
        "screen_calling = false\nnumbers_file = \"f.csv\"",
    );
    let cfg = Config::parse(&file, "t").expect("config");
    assert_eq!(
        Tables::build(&cfg, &h).unwrap_err(),
        BuildError::NumbersNotLoaded {
            tenant: "fabrikam".into()
        }
    );
    // Hand-edited configs that bypass validation.
    let mut cfg = Config::parse(CFG, "t").expect("config");
    let r = cfg.tenants[0].inventory[0];
    cfg.tenants[1].inventory.push(r);
    assert!(matches!(
        Tables::build(&cfg, &h),
        Err(BuildError::OverlappingNumbers { .. })
    ));
    let mut cfg = Config::parse(CFG, "t").expect("config");
    cfg.gateway_groups[0].members[0].gateway = toml::Spanned::new(0..0, "zz".to_owned());
    assert_eq!(
        Tables::build(&cfg, &h).unwrap_err(),
        BuildError::UnknownGateway {
            group: "ga".into(),
            gateway: "zz".into()
        }
    );
    let mut cfg = Config::parse(CFG, "t").expect("config");
    cfg.tenants[0].routes[0].group = toml::Spanned::new(0..0, "zz".to_owned());
    assert!(matches!(
        Tables::build(&cfg, &h),
        Err(BuildError::UnknownGroup { .. })
    ));
    let mut cfg = Config::parse(CFG, "t").expect("config");
    cfg.tenants[1].subdomains = cfg.tenants[0].subdomains.clone();
    assert!(matches!(
        Tables::build(&cfg, &h),
        Err(BuildError::DuplicateSubdomain { .. })
    ));
    let mut cfg = Config::parse(CFG, "t").expect("config");
    cfg.tenants[0].routes[0].prefix = toml::Spanned::new(0..0, "1".to_owned());
    assert!(matches!(
        Tables::build(&cfg, &h),
        Err(BuildError::BadPrefix { .. })
    ));
    let mut cfg = Config::parse(CFG, "t").expect("config");
    cfg.teams = None;
    assert_eq!(
        Tables::build(&cfg, &h).unwrap_err(),
        BuildError::NoTeamsTrunk
    );
}

/// The flattened LPM agrees with a naive longest-prefix scan on generated tables.
#[test]
fn lpm_matches_a_naive_scan() {
    let mut rng = 0x5eed_u64;
    let digits = |n: usize, rng: &mut u64| -> String {
        (0..n)
            .map(|_| char::from(b'0' + (next_rand(rng) % 10) as u8))
            .collect()
    };
    let mut routes = String::new();
    let mut prefixes = Vec::new();
    for i in 0..300 {
        // Short alphabets so prefixes nest often.
        let len = 1 + (next_rand(&mut rng) % 6) as usize;
        let p = format!(
            "+{}",
            digits(len, &mut rng).replace(['5', '6', '7', '8', '9'], "1")
        );
        if p[1..].starts_with('0') || prefixes.iter().any(|(q, _)| *q == p) {
            continue;
        }
        let g = if i % 2 == 0 { "ga" } else { "gc" };
        routes.push_str(&format!("{{ prefix = \"{p}\", group = \"{g}\" }},\n"));
        prefixes.push((p, g));
    }
    let src = CFG.replace(
        "routes = [{ prefix = \"+49\", group = \"gc\" }]",
        &format!("routes = [\n{routes}]"),
    );
    let cfg = Config::parse(&src, "t").expect("config");
    let t = Tables::build(&cfg, &HealthMap::new()).expect("build");
    let f = t.tenant_id("fabrikam").unwrap();
    for _ in 0..5000 {
        let len = 1 + (next_rand(&mut rng) % 15) as usize;
        let n = format!(
            "+{}",
            digits(len, &mut rng).replace(['5', '6', '7', '8', '9'], "1")
        );
        let naive = prefixes
            .iter()
            .filter(|(p, _)| n.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len())
            .map_or("ga", |(_, g)| *g);
        let got = t.route(f, &n).expect("route or default");
        assert_eq!(t.group(got[0].group).unwrap().name, naive, "{n}");
    }
}
