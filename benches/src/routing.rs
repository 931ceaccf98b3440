//! A deterministic carrier-scale routing workload for `benches/routing.rs` and the
//! `routing-report` binary: `TENANTS` tenants, `NUMBERS` numbers (per tenant 900 single
//! numbers spread over its own block plus one range of 100) and `PREFIXES` route prefixes
//! (100 per tenant, 1 to 8 digits after a country code), 20 gateway groups over 50 gateways.

use sbc_config::Config;
use sbc_routing::{HealthMap, Tables, TenantId};

/// Tenants.
pub const TENANTS: usize = 1_000;
/// Numbers held in all (900 singles + a 100-number range per tenant).
pub const NUMBERS: usize = TENANTS * 1_000;
/// Route prefixes in all.
pub const PREFIXES: usize = TENANTS * 100;
const GATEWAYS: usize = 50;
const GROUPS: usize = 20;
const COUNTRY_CODES: [&str; 10] = ["1", "44", "49", "33", "61", "81", "86", "91", "55", "27"];

/// SplitMix64: deterministic, no dependency.
fn next(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The first number of tenant `i`'s block (11 digits, NANP-like).
fn block(i: usize) -> u64 {
    12_000_000_000 + (i as u64) * 1_000_000
}

/// The generated configuration text and each tenant's CSV inventory.
pub fn generate() -> (String, Vec<String>) {
    let mut s = 0x00C0_FFEE_u64;
    let mut toml = String::with_capacity(8 << 20);
    toml.push_str(
        "version = 1\n[[tls]]\nname = \"teams\"\ncert_chain = \"c.pem\"\nkey = \"k.pem\"\n\
         trust_bundle = \"ca.pem\"\n[[listener]]\nname = \"l\"\nzone = \"z\"\ntransport = \"udp\"\n\
         bind = \"127.0.0.1:5060\"\n[teams]\nbase_fqdn = \"sbc.carrier.example\"\ntls = \"teams\"\n",
    );
    for g in 0..GATEWAYS {
        toml.push_str(&format!(
            "[[gateway]]\nname = \"gw{g}\"\naddress = \"10.0.{}.{}:5060\"\n",
            g / 200,
            g % 200 + 1
        ));
    }
    for grp in 0..GROUPS {
        let a = (grp * 5) % GATEWAYS;
        toml.push_str(&format!(
            "[[gateway_group]]\nname = \"grp{grp}\"\nmembers = [{{ gateway = \"gw{a}\", weight = 60 }}, \
             {{ gateway = \"gw{}\", weight = 40 }}, {{ gateway = \"gw{}\", priority = 2 }}]\n",
            (a + 1) % GATEWAYS,
            (a + 2) % GATEWAYS
        ));
    }
    let mut csvs = Vec::with_capacity(TENANTS);
    for i in 0..TENANTS {
        toml.push_str(&format!(
            "[[tenant]]\nid = \"t{i}\"\nsubdomains = [\"tenant{i}\"]\n\
             operator_connect_guid = \"{:08x}-0000-4000-8000-{:012x}\"\nnumbers_file = \"t{i}.csv\"\n\
             default_group = \"grp{}\"\nroutes = [\n",
            i,
            next(&mut s) & 0xFFFF_FFFF_FFFF,
            i % GROUPS
        ));
        let mut seen = std::collections::HashSet::new();
        while seen.len() < PREFIXES / TENANTS {
            let cc = COUNTRY_CODES[(next(&mut s) % 10) as usize];
            let extra = (next(&mut s) % 8) as usize;
            let mut p = format!("+{cc}");
            for _ in 0..extra {
                p.push(char::from(b'0' + (next(&mut s) % 10) as u8));
            }
            if seen.insert(p.clone()) {
                toml.push_str(&format!(
                    "{{ prefix = \"{p}\", group = \"grp{}\" }},\n",
                    next(&mut s) % GROUPS as u64
                ));
            }
        }
        toml.push_str("]\n");
        let mut csv = String::with_capacity(14 * 901);
        let b = block(i);
        for k in 0..900u64 {
            // Spaced so no two singles are adjacent (no merging): 1 000 apart, random offset.
            csv.push_str(&format!("+{}\n", b + k * 1_000 + next(&mut s) % 999));
        }
        csv.push_str(&format!("+{},+{}\n", b + 950_000, b + 950_099));
        csvs.push(csv);
    }
    (toml, csvs)
}

/// Parses the generated text and loads the CSVs (the way `Config::load` would).
pub fn config(toml: &str, csvs: &[String]) -> Config {
    let mut cfg = Config::parse(toml, "generated").unwrap_or_else(|e| panic!("{e}"));
    cfg.load_number_files("generated", |p| {
        let name = p.to_string_lossy();
        let i: usize = name
            .trim_start_matches('t')
            .trim_end_matches(".csv")
            .parse()
            .map_err(|_| name.to_string())?;
        csvs.get(i).cloned().ok_or_else(|| name.to_string())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    cfg
}

/// Builds the tables.
pub fn tables(cfg: &Config) -> Tables {
    Tables::build(cfg, &HealthMap::new()).unwrap_or_else(|e| panic!("{e}"))
}

/// `n` query triples (Request-URI host, a held number, a called destination), deterministic.
pub fn queries(n: usize) -> Vec<(String, String, String)> {
    let mut s = 0xBEEF_u64;
    (0..n)
        .map(|_| {
            let i = (next(&mut s) % TENANTS as u64) as usize;
            let held = if next(&mut s) % 10 == 0 {
                block(i) + 950_000 + next(&mut s) % 100
            } else {
                // A single of the block, or a near miss (still a binary search).
                block(i) + (next(&mut s) % 900) * 1_000 + next(&mut s) % 999
            };
            let cc = COUNTRY_CODES[(next(&mut s) % 10) as usize];
            let mut called = format!("+{cc}");
            while called.len() < 12 {
                called.push(char::from(b'0' + (next(&mut s) % 10) as u8));
            }
            (
                format!("tenant{i}.sbc.carrier.example"),
                format!("+{held}"),
                called,
            )
        })
        .collect()
}

/// A tenant id for `queries`' host (used to bench LPM alone).
pub fn tenant_of(t: &Tables, host: &str) -> TenantId {
    t.tenant_by_host(host).unwrap_or(TenantId(0))
}
