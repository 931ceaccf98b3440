//! TI-38: emergency classification tables, masks, forms and service URNs; strict config.

use sbc_emergency::classify::{builtin_country, builtin_country_codes};
use sbc_emergency::{
    Classifier, ConfigError, Emergency, EmergencyConfig, EmergencyPolicy, MatchKind, MatchSource,
};
use sbc_sip::uri::parse_uri;

fn cfg(toml_text: &str) -> EmergencyConfig {
    toml::from_str(toml_text).unwrap()
}

fn classify(c: &Classifier, tenant: &str, ruri: &str, to: Option<&str>) -> Option<Emergency> {
    let r = parse_uri(ruri.as_bytes()).unwrap();
    let t = to.map(|t| parse_uri(t.as_bytes()).unwrap());
    c.classify(tenant, &r, t.as_ref())
}

const TENANTS: &str = r#"
default_country = "US"
[[tenants]]
id = "contoso-uk"
country = "GB"
masks = [{ from = "08", to = "112" }]
[[tenants]]
id = "fabrikam-de"
country = "de"
dial_strings = ["19222"]
[[countries]]
code = "FR"
country_code = "33"
dial_strings = ["112", "15", "17", "18"]
services = { "15" = "sos.ambulance", "17" = "SOS.Police", "18" = "sos.fire" }
plus_form = true
country_prefix_form = true
masks = [{ from = "114", to = "112" }]
[[tenants]]
id = "paris"
country = "FR"
"#;

#[test]
fn default_us_plan() {
    let c = Classifier::new(&EmergencyConfig::default()).unwrap();
    let e = classify(&c, "any", "sip:911@sbc.example.com;user=phone", None).unwrap();
    assert_eq!(e.dial_string.as_deref(), Some("911"));
    assert_eq!(e.service_urn, "urn:service:sos");
    assert_eq!(e.country, "US");
    assert_eq!(
        (e.kind, e.source, e.test),
        (MatchKind::DialString, MatchSource::RequestUri, false)
    );
    let t = classify(&c, "any", "tel:933", None).unwrap();
    assert!(t.test);
    // Not emergency: other numbers, prefixes and extensions of dial strings, plus forms when
    // the plan does not allow them.
    for n in [
        "sip:9110@sbc.example.com",
        "sip:+14255550100@sbc.example.com",
        "sip:91@sbc.example.com",
        "sip:+911@sbc.example.com",
        "sip:+1911@sbc.example.com",
        "sip:112@sbc.example.com",
        "sip:alice@example.com",
        "urn:service:counseling",
    ] {
        assert!(classify(&c, "any", n, None).is_none(), "{n}");
    }
}

#[test]
fn service_urns_rfc5031() {
    let c = Classifier::new(&EmergencyConfig::default()).unwrap();
    for (u, want) in [
        ("urn:service:sos", "urn:service:sos"),
        ("URN:Service:SOS.Fire", "urn:service:sos.fire"),
        ("urn:service:sos.police", "urn:service:sos.police"),
        (
            "urn:service:sos.animal-control",
            "urn:service:sos.animal-control",
        ),
    ] {
        let e = classify(&c, "t", u, None).unwrap();
        assert_eq!(e.service_urn, want);
        assert_eq!(e.kind, MatchKind::ServiceUrn);
        assert_eq!(e.dial_string, None);
    }
    for u in [
        "urn:service:sos.",
        "urn:service:sosx",
        "urn:service:sos..x",
        "urn:x:sos",
        "urn:service:sos.-x",
    ] {
        assert!(classify(&c, "t", u, None).is_none(), "{u}");
    }
}

#[test]
fn to_is_checked_after_the_request_uri() {
    let c = Classifier::new(&EmergencyConfig::default()).unwrap();
    let e = classify(
        &c,
        "t",
        "sip:gw.example.com",
        Some("sip:911@sbc.example.com"),
    )
    .unwrap();
    assert_eq!(e.source, MatchSource::To);
    let e = classify(&c, "t", "sip:911@x", Some("urn:service:sos.fire")).unwrap();
    assert_eq!(
        (e.source, e.kind),
        (MatchSource::RequestUri, MatchKind::DialString)
    );
}

#[test]
fn tenants_countries_masks_and_forms() {
    let c = Classifier::new(&cfg(TENANTS)).unwrap();
    // GB tenant: 999 and 112, mask 08 -> 112; 911 is not a GB number.
    let e = classify(&c, "contoso-uk", "sip:08@sbc.example.com", None).unwrap();
    assert_eq!(
        (e.dial_string.as_deref(), e.kind, e.dialed.as_str()),
        (Some("112"), MatchKind::Mask, "08")
    );
    assert_eq!(e.country, "GB");
    assert!(classify(&c, "contoso-uk", "sip:999@x", None).is_some());
    assert!(classify(&c, "contoso-uk", "sip:911@x", None).is_none());
    // DE tenant with an extra dial string and the built-in police number.
    let e = classify(&c, "fabrikam-de", "sip:110@x", None).unwrap();
    assert_eq!(e.service_urn, "urn:service:sos.police");
    assert!(classify(&c, "fabrikam-de", "sip:19222@x", None).is_some());
    // Configured FR replaces the built-in; plus and country-prefix forms; services lower-cased.
    for n in ["17", "+17", "+3317"] {
        let e = classify(&c, "paris", &format!("sip:{n}@x"), None).unwrap();
        assert_eq!(e.service_urn, "urn:service:sos.police", "{n}");
        assert_eq!(e.dialed, n);
    }
    let e = classify(&c, "paris", "tel:+33-114", None).unwrap();
    assert_eq!(
        (e.dial_string.as_deref(), e.kind),
        (Some("112"), MatchKind::Mask)
    );
    assert!(classify(&c, "paris", "sip:3317@x", None).is_none());
    // Unknown tenant: default plan.
    assert_eq!(c.country("nobody"), "US");
    assert!(classify(&c, "nobody", "sip:911@x", None).is_some());
    assert_eq!(
        c.classify_number("paris", b"+33 17")
            .unwrap()
            .dial_string
            .as_deref(),
        Some("17")
    );
}

#[test]
fn builtin_table_is_complete_and_valid() {
    let codes: Vec<_> = builtin_country_codes().collect();
    assert!(codes.len() >= 25);
    for code in &codes {
        let c = builtin_country(code).unwrap();
        assert!(!c.dial_strings.is_empty(), "{code}");
        let single = EmergencyConfig {
            default_country: (*code).to_owned(),
            ..EmergencyConfig::default()
        };
        let cl = Classifier::new(&single).unwrap();
        for d in &c.dial_strings {
            assert!(
                cl.classify_number("x", d.as_bytes()).is_some(),
                "{code} {d}"
            );
        }
    }
    // Spot checks of well-known numbers.
    let table = [
        ("US", "911"),
        ("GB", "999"),
        ("GB", "112"),
        ("AU", "000"),
        ("NZ", "111"),
        ("JP", "119"),
        ("IN", "112"),
    ];
    for (code, n) in table {
        assert!(
            builtin_country(code)
                .unwrap()
                .dial_strings
                .iter()
                .any(|d| d == n),
            "{code} {n}"
        );
    }
    assert!(builtin_country("XX").is_none());
    let no_builtin =
        cfg("builtin_countries = false\n[[countries]]\ncode = \"US\"\ndial_strings = [\"911\"]");
    assert!(Classifier::new(&no_builtin).is_ok());
    let no_builtin_gb = cfg("builtin_countries = false\ndefault_country = \"GB\"");
    assert_eq!(
        Classifier::new(&no_builtin_gb).unwrap_err(),
        ConfigError::UnknownCountry("GB".into())
    );
}

#[test]
fn config_errors() {
    let bad = [
        ("[[countries]]\ncode = \"ZZ\"\ndial_strings = [\"+911\"]", ConfigError::BadDialString("+911".into())),
        ("[[countries]]\ncode = \"ZZ\"\ndial_strings = [\"\"]", ConfigError::BadDialString("".into())),
        ("[[countries]]\ncode = \"ZZ\"\ndial_strings = [\"1\"]\nservices = { \"1\" = \"police\" }", ConfigError::BadService("police".into())),
        ("[[countries]]\ncode = \"ZZ\"\ndial_strings = [\"1\"]\nservices = { \"2\" = \"sos\" }", ConfigError::BadDialString("2".into())),
        ("[[countries]]\ncode = \"ZZ\"\ncountry_code = \"1234\"\ndial_strings = [\"1\"]", ConfigError::BadCountryCode("1234".into())),
        ("[[countries]]\ncode = \"ZZ\"\ncountry_prefix_form = true\ndial_strings = [\"1\"]", ConfigError::BadCountryCode("".into())),
        ("[[countries]]\ncode = \"ZZ\"\ndial_strings = [\"1\"]\nmasks = [{ from = \"2\", to = \"3\" }]", ConfigError::MaskTargetNotEmergency { from: "2".into(), to: "3".into() }),
        ("[[countries]]\ncode = \"ZZ\"\ndial_strings = [\"1\"]\n[[countries]]\ncode = \"zz\"\ndial_strings = [\"1\"]", ConfigError::DuplicateCountry("ZZ".into())),
        ("[[tenants]]\nid = \"a\"\n[[tenants]]\nid = \"a\"", ConfigError::DuplicateTenant("a".into())),
        ("[[tenants]]\nid = \"a\"\ncountry = \"QQ\"", ConfigError::UnknownCountry("QQ".into())),
        ("[callback]\nwindow_secs = 0", ConfigError::BadLimit("callback.window_secs (1..=86400)")),
        ("[location]\nmax_parts = 65", ConfigError::BadLimit("location.max_parts (1..=64)")),
    ];
    for (text, want) in bad {
        let got = EmergencyPolicy::new(&cfg(text)).unwrap_err();
        assert_eq!(got, want, "{text}");
        assert!(!got.to_string().is_empty());
    }
    // deny_unknown_fields at every level.
    for text in [
        "unknown = 1",
        "[[tenants]]\nid = \"a\"\nbogus = 1",
        "[[tenants]]\nid = \"a\"\n[tenants.elin]\nlocation_elemnt = \"LOC\"",
        "[[countries]]\ncode = \"ZZ\"\ndial_strings = [\"1\"]\nmasks = [{ from = \"2\", to = \"1\", x = 1 }]",
        "[callback]\nwindow = 5",
        "[admission]\nreserved = 5",
        "[location]\nmax = 5",
    ] {
        assert!(toml::from_str::<EmergencyConfig>(text).is_err(), "{text}");
    }
    assert_eq!(cfg(""), EmergencyConfig::default());
}
