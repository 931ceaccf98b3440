//! TI-41 (ELIN) and TI-42 (PSAP callbacks): window, LRU choice over a location's pool, most
//! recent caller on a shared ELIN, reload, expiry, bounded size. Virtual clock in ms.

mod common;

use common::*;
use sbc_emergency::{
    extract_location, Callback, ElinSource, ElinStore, EmergencyConfig, EmergencyPolicy,
    LocationInfo,
};

const CFG: &str = r#"
[callback]
window_secs = 600
max_entries = 100
[[tenants]]
id = "contoso"
[tenants.elin]
carried_element = "ELIN"
default_elins = ["+1 425 555 0100"]
[[tenants.elin.locations]]
key = "Bldg 7 Floor 2"
elins = ["+14255550101", "+14255550102"]
[[tenants.elin.locations]]
key = "Lobby"
elins = ["+14255550103"]
[[tenants]]
id = "plain"
"#;

const MIN: u64 = 60_000;

fn policy(text: &str) -> EmergencyPolicy {
    EmergencyPolicy::new(&toml::from_str::<EmergencyConfig>(text).unwrap()).unwrap()
}

fn location(p: &EmergencyPolicy, tenant: &str, pidf: &[u8]) -> LocationInfo {
    let body = multipart(
        "boundary1",
        &[
            part(&["Content-Type: application/sdp"], SDP),
            part(
                &["Content-Type: application/pidf+xml", "Content-ID: <l@x>"],
                pidf,
            ),
        ],
    );
    let msg = invite(
        &["Geolocation: <cid:l@x>"],
        Some("multipart/mixed;boundary=boundary1"),
        &body,
    );
    extract_location(&msg, &p.location_options(tenant))
}

#[test]
fn elin_replaces_caller_and_callback_maps_back_within_the_window() {
    let p = policy(CFG);
    let mut s = ElinStore::new(p.callback_config());
    let loc = location(&p, "contoso", &pidf_civic("Bldg 7 Floor 2", "LIS"));
    let out = s.on_emergency_call(p.elin(), "contoso", "+1 (425) 555-0123", Some(&loc), 1000);
    assert_eq!(out.number, "+14255550101");
    assert_eq!(out.elin.as_deref(), Some("+14255550101"));
    assert_eq!(out.source, ElinSource::Location);
    // Callback to the ELIN within the window -> the original caller.
    let cb = s
        .callback("contoso", "+14255550101", 1000 + 9 * MIN)
        .unwrap();
    assert_eq!(
        cb,
        Callback {
            route_to: "+14255550123".into(),
            via_elin: Some("+14255550101".into())
        }
    );
    assert!(s.is_callback("contoso", "+1-425-555-0101", 1000 + 9 * MIN));
    // Window is [t, t + 600 s): the last ms is in, the next is out.
    assert!(s.is_callback("contoso", "+14255550101", 1000 + 10 * MIN - 1));
    assert!(!s.is_callback("contoso", "+14255550101", 1000 + 10 * MIN));
    // Other tenants never see it.
    assert!(!s.is_callback("plain", "+14255550101", 2000));
    // The caller's own number is also a recent emergency caller (TI-42).
    assert_eq!(
        s.callback("contoso", "+14255550123", 2000)
            .unwrap()
            .via_elin,
        None
    );
    assert_eq!(s.expire(1000 + 10 * MIN), 2);
    assert_eq!(s.stats().callers + s.stats().bindings, 0);
    assert_eq!(s.stats().expired, 2);
}

#[test]
fn lru_elin_of_the_pool_and_most_recent_caller_on_reuse() {
    let p = policy(CFG);
    let mut s = ElinStore::new(p.callback_config());
    let loc = location(&p, "contoso", &pidf_civic("Bldg 7 Floor 2", "LIS"));
    let a = s.on_emergency_call(p.elin(), "contoso", "+100", Some(&loc), 0);
    let b = s.on_emergency_call(p.elin(), "contoso", "+200", Some(&loc), MIN);
    // Distinct ELINs for concurrent callers: the least recently used one is taken.
    assert_eq!(a.number, "+14255550101");
    assert_eq!(b.number, "+14255550102");
    // Pool exhausted: the least recently used ELIN (a's) is reused; a callback to it now
    // reaches the most recent caller on it (TI-41: the call the PSAP is returning).
    let c = s.on_emergency_call(p.elin(), "contoso", "+300", Some(&loc), 2 * MIN);
    assert_eq!(c.number, "+14255550101");
    assert_eq!(
        s.callback("contoso", "+14255550101", 3 * MIN)
            .unwrap()
            .route_to,
        "+300"
    );
    assert_eq!(
        s.callback("contoso", "+14255550102", 3 * MIN)
            .unwrap()
            .route_to,
        "+200"
    );
    assert_eq!(s.stats().reused, 1);
    // a is still a recent emergency caller: a callback to a's own number bypasses screening.
    assert!(s.is_callback("contoso", "+100", 3 * MIN));
    // After the window every ELIN is free again and the configured order applies (0101,
    // although 0102 was used less recently).
    let mut later = s.clone();
    let e = later.on_emergency_call(p.elin(), "contoso", "+500", Some(&loc), 60 * MIN);
    assert_eq!(e.number, "+14255550101");
    // Within the window, the next call takes b's ELIN (now least recently used).
    let d = s.on_emergency_call(p.elin(), "contoso", "+400", Some(&loc), 4 * MIN);
    assert_eq!(d.number, "+14255550102");
}

#[test]
fn same_caller_twice_is_not_a_reuse() {
    let p = policy(CFG);
    let mut s = ElinStore::new(p.callback_config());
    let loc = location(&p, "contoso", &pidf_civic("Lobby", "Manual"));
    s.on_emergency_call(p.elin(), "contoso", "+100", Some(&loc), 0);
    s.on_emergency_call(p.elin(), "contoso", "+100", Some(&loc), 1);
    assert_eq!(s.stats().reused, 0);
    assert_eq!((s.stats().callers, s.stats().bindings), (1, 1));
}

#[test]
fn fallbacks_carried_default_and_none() {
    let p = policy(CFG);
    let mut s = ElinStore::new(p.callback_config());
    // ELIN carried in the location wins over the map.
    let carried = b"<presence><tuple><civicAddress><LOC>Lobby</LOC><ELIN>+1 425 555 0199</ELIN></civicAddress></tuple></presence>";
    let loc = location(&p, "contoso", carried);
    let out = s.on_emergency_call(p.elin(), "contoso", "+100", Some(&loc), 0);
    assert_eq!(
        (out.number.as_str(), out.source),
        ("+14255550199", ElinSource::Carried)
    );
    // Unknown key -> default pool.
    let loc = location(&p, "contoso", &pidf_civic("Somewhere else", "LIS"));
    let out = s.on_emergency_call(p.elin(), "contoso", "+101", Some(&loc), 0);
    assert_eq!(
        (out.number.as_str(), out.source),
        ("+14255550100", ElinSource::Default)
    );
    // Malformed PIDF-LO -> default pool (a key from a broken document is not trusted).
    let loc = location(&p, "contoso", b"<presence><LOC>Lobby</LOC>");
    let out = s.on_emergency_call(p.elin(), "contoso", "+102", Some(&loc), 0);
    assert_eq!(out.source, ElinSource::Default);
    // No location at all -> default pool.
    let out = s.on_emergency_call(p.elin(), "contoso", "+103", None, 0);
    assert_eq!(out.source, ElinSource::Default);
    // Tenant without ELIN mode: the caller is kept, and still remembered for callbacks.
    let out = s.on_emergency_call(p.elin(), "plain", "+1 425 555 0123", None, 0);
    assert_eq!(
        (out.number.as_str(), out.elin, out.source),
        ("+14255550123", None, ElinSource::None)
    );
    assert!(s.is_callback("plain", "+14255550123", 1));
    assert!(!s.is_callback("plain", "+14255550100", 1));
}

#[test]
fn store_survives_reload_and_follows_new_mappings() {
    let p = policy(CFG);
    let mut s = ElinStore::new(p.callback_config());
    let loc = location(&p, "contoso", &pidf_civic("Lobby", "LIS"));
    s.on_emergency_call(p.elin(), "contoso", "+100", Some(&loc), 0);
    // Reload: Lobby now maps to another ELIN and the window is longer.
    let reloaded = policy(
        &CFG.replace("+14255550103", "+14255550177")
            .replace("window_secs = 600", "window_secs = 1200"),
    );
    s.reconfigure(reloaded.callback_config());
    assert_eq!(
        s.callback("contoso", "+14255550103", 15 * MIN)
            .unwrap()
            .route_to,
        "+100"
    );
    let loc = location(&reloaded, "contoso", &pidf_civic("Lobby", "LIS"));
    let out = s.on_emergency_call(reloaded.elin(), "contoso", "+200", Some(&loc), 16 * MIN);
    assert_eq!(out.number, "+14255550177");
    assert_eq!(
        s.callback("contoso", "+14255550103", 16 * MIN)
            .unwrap()
            .route_to,
        "+100"
    );
}

#[test]
fn refresh_restarts_the_window_at_call_end() {
    let p = policy(CFG);
    let mut s = ElinStore::new(p.callback_config());
    let loc = location(&p, "contoso", &pidf_civic("Lobby", "LIS"));
    s.on_emergency_call(p.elin(), "contoso", "+100", Some(&loc), 0);
    s.refresh("contoso", "+100", 8 * MIN);
    assert!(s.is_callback("contoso", "+14255550103", 17 * MIN));
    assert!(s.is_callback("contoso", "+100", 17 * MIN));
    assert!(!s.is_callback("contoso", "+14255550103", 18 * MIN));
    // Refreshing an unknown caller does nothing.
    s.refresh("contoso", "+999", 8 * MIN);
    assert!(!s.is_callback("contoso", "+999", 8 * MIN));
}

#[test]
fn bounded_size_evicts_oldest_and_counts() {
    let p = policy(&CFG.replace("max_entries = 100", "max_entries = 4"));
    let mut s = ElinStore::new(p.callback_config());
    for i in 0..5u64 {
        s.on_emergency_call(p.elin(), "plain", &format!("+10{i}"), None, i);
    }
    let st = s.stats();
    assert_eq!((st.callers, st.evicted), (4, 1));
    assert!(!s.is_callback("plain", "+100", 10));
    assert!(s.is_callback("plain", "+104", 10));
    // Shrinking the bound on reload evicts more, oldest first.
    let mut small = *p.callback_config();
    small.max_entries = 2;
    s.reconfigure(&small);
    assert_eq!((s.stats().callers, s.stats().evicted), (2, 3));
    assert!(s.is_callback("plain", "+103", 10) && !s.is_callback("plain", "+102", 10));
}

#[test]
fn elin_config_errors() {
    for text in [
        "[[tenants]]\nid = \"a\"\n[tenants.elin]\ndefault_elins = [\"abc\"]",
        "[[tenants]]\nid = \"a\"\n[tenants.elin]\ndefault_elins = [\"*99\"]",
        "[[tenants]]\nid = \"a\"\n[tenants.elin]\nlocation_element = \"a b\"",
        "[[tenants]]\nid = \"a\"\n[tenants.elin]\ncarried_element = \"\"",
        "[[tenants]]\nid = \"a\"\n[[tenants.elin.locations]]\nkey = \"x\"\nelins = []",
        "[[tenants]]\nid = \"a\"\n[[tenants.elin.locations]]\nkey = \" \"\nelins = [\"+1\"]",
        "[[tenants]]\nid = \"a\"\n[[tenants.elin.locations]]\nkey = \"x\"\nelins = [\"+1\", \"+1\"]",
        "[[tenants]]\nid = \"a\"\n[[tenants.elin.locations]]\nkey = \"x\"\nelins = [\"+1\"]\n[[tenants.elin.locations]]\nkey = \"x \"\nelins = [\"+2\"]",
    ] {
        let cfg: EmergencyConfig = toml::from_str(text).unwrap();
        assert!(
            matches!(EmergencyPolicy::new(&cfg), Err(sbc_emergency::ConfigError::BadElin(_))),
            "{text}"
        );
    }
    let p = policy(CFG);
    assert!(p.elin().enabled("contoso") && !p.elin().enabled("plain"));
    assert_eq!(p.location_options("contoso").key_element, Some("LOC"));
    assert_eq!(p.location_options("plain").key_element, None);
    assert_eq!(p.admission(100).reserve.total_capacity, 100);
}

mod model {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Random call sequences against a simple model: size bound, every callback target is
        /// a caller that really called within the window, the last caller on an ELIN wins, a
        /// caller is a callback right after calling.
        #[test]
        fn store_matches_model(
            ops in proptest::collection::vec((0u8..6, 0u64..200_000, any::<bool>()), 1..60),
            max in 1usize..8,
        ) {
            let p = policy(&CFG.replace("max_entries = 100", &format!("max_entries = {max}")));
            let window = 600_000u64;
            let mut s = ElinStore::new(p.callback_config());
            let loc = location(&p, "contoso", &pidf_civic("Bldg 7 Floor 2", "LIS"));
            let mut now = 0u64;
            let mut last_call: HashMap<String, u64> = HashMap::new();
            let mut elin_owner: HashMap<String, String> = HashMap::new();
            for (who, dt, with_loc) in ops {
                now += dt;
                let caller = format!("+1555000{who}");
                let out = s.on_emergency_call(p.elin(), "contoso", &caller, with_loc.then_some(&loc), now);
                last_call.insert(caller.clone(), now);
                let elin = out.elin.clone().unwrap();
                elin_owner.insert(elin.clone(), caller.clone());
                let st = s.stats();
                prop_assert!(st.callers + st.bindings <= max);
                if max >= 2 {
                    // The newest caller and binding are never the ones evicted.
                    prop_assert!(s.is_callback("contoso", &caller, now));
                    prop_assert_eq!(s.callback("contoso", &elin, now).unwrap().route_to, caller.clone());
                }
                for e in ["+14255550100", "+14255550101", "+14255550102"] {
                    if let Some(cb) = s.callback("contoso", e, now) {
                        prop_assert_eq!(elin_owner.get(e), Some(&cb.route_to));
                        let t = last_call[&cb.route_to];
                        prop_assert!(now < t + window);
                    }
                }
            }
            let before = s.stats();
            prop_assert_eq!(s.expire(now + window), before.callers + before.bindings);
            prop_assert_eq!(s.stats().callers + s.stats().bindings, 0);
        }
    }
}
