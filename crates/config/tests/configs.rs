//! Every shipped configuration parses and validates; broken variants of them are rejected
//! with the file, line and reason.

use std::path::{Path, PathBuf};

use sbc_config::{Config, ConfigError};

fn configs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs")
}

fn shipped() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(configs_dir())
        .expect("configs/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

/// Parses `src` as if it were the file `path` (numbers files relative to configs/).
fn parse_as(src: &str, path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let mut cfg = Config::parse(src, &file)?;
    let dir = configs_dir();
    cfg.load_number_files(&file, |p| {
        std::fs::read_to_string(dir.join(p)).map_err(|e| e.to_string())
    })?;
    Ok(cfg)
}

#[test]
fn every_shipped_config_is_valid() {
    let files = shipped();
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for want in ["default.toml", "teams-lab.toml", "carrier-example.toml"] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    for p in &files {
        let cfg = Config::load(p).unwrap_or_else(|e| panic!("{e}"));
        for t in &cfg.tenants {
            assert!(t.numbers_file_loaded, "{}: {}", p.display(), t.id.get_ref());
        }
    }
}

#[test]
fn teams_lab_has_two_tenants_and_a_two_gateway_group() {
    let cfg = Config::load(&configs_dir().join("teams-lab.toml")).expect("valid");
    assert_eq!(cfg.tenants.len(), 2);
    let t = cfg.teams.as_ref().expect("teams trunk");
    assert!(t
        .edges
        .iter()
        .all(|e| e.address.is_some_and(|a| a.ip().is_loopback())));
    assert_eq!(t.options_interval_s, 60);
    assert_eq!(cfg.gateway_groups[0].members.len(), 2);
}

#[test]
fn carrier_example_reads_its_numbers_file() {
    let cfg = Config::load(&configs_dir().join("carrier-example.toml")).expect("valid");
    let c = cfg.tenant("contoso").expect("contoso");
    // 1 inline range + 2 CSV entries.
    assert_eq!(c.inventory.len(), 3);
    assert_eq!(
        c.inventory.iter().map(|r| r.count()).sum::<u64>(),
        10_000 + 1_000 + 1
    );
    // Defaults documented in the spec (TI-3, TI-4, TI-9).
    let t = cfg.teams.as_ref().expect("teams");
    assert_eq!(t.edges.len(), 3);
    assert_eq!(t.edges[0].host.get_ref(), "sip.pstnhub.microsoft.com");
    assert_eq!(t.source_ranges.len(), 2);
}

/// Broken variants of the shipped files: (needle, replacement, expected reason fragment).
#[test]
fn broken_variants_are_rejected_with_line() {
    let lab = configs_dir().join("teams-lab.toml");
    let src = std::fs::read_to_string(&lab).expect("read");
    let cases = [
        (
            "tls = \"teams\"\n# In the lab",
            "tls = \"nope\"\n# In the lab",
            "unknown tls profile 'nope'",
        ),
        (
            "{ gateway = \"gw-b\",",
            "{ gateway = \"gw-c\",",
            "unknown gateway 'gw-c'",
        ),
        (
            "routes = [{ prefix = \"+44\", group = \"lab-pstn\" }]",
            "routes = [{ prefix = \"+44\", group = \"zz\" }]",
            "unknown gateway group 'zz'",
        ),
        (
            "subdomains = [\"fabrikam\"]",
            "subdomains = [\"Contoso\"]",
            "already used by tenant 'contoso'",
        ),
        (
            "\"+442071230000-+442071230099\"",
            "\"+14255550250-+14255550260\"",
            "overlap",
        ),
        (
            "base_fqdn = \"sbc.lab.example\"",
            "base_fqdn = \"sbc_lab\"",
            "not a valid FQDN",
        ),
        (
            "\"+14255550100\",",
            "\"14255550100\",",
            "must start with '+'",
        ),
        (
            "\"0b6f5e3a-7c1d-4f2e-9a8b-123456789abc\"",
            "\"0b6f5e3a-7c1d\"",
            "not a GUID",
        ),
        (
            "refer = \"microsoft\"",
            "refer = \"pstn\"",
            "unknown variant",
        ),
    ];
    for (needle, repl, want) in cases {
        assert!(src.contains(needle), "{needle}");
        let bad = src.replacen(needle, repl, 1);
        let e = parse_as(&bad, &lab).expect_err(want);
        assert!(e.reason.contains(want), "{want}: {e}");
        let line = e.line.expect("a line");
        let at = bad.lines().nth(line - 1).unwrap_or("");
        assert!(
            at.contains(repl.lines().next().unwrap_or(repl).trim_end_matches(','))
                || want == "overlap",
            "{want}: line {line} is {at:?}"
        );
        assert!(e.file.ends_with("teams-lab.toml"), "{e}");
    }
}

#[test]
fn a_missing_numbers_file_is_an_error_naming_it() {
    let p = configs_dir().join("carrier-example.toml");
    let src = std::fs::read_to_string(&p).expect("read");
    let bad = src.replace("numbers/example.csv", "numbers/absent.csv");
    let e = parse_as(&bad, &p).expect_err("missing file");
    assert!(
        e.file.contains("absent.csv") && e.reason.contains("contoso"),
        "{e}"
    );
}

#[test]
fn header_policies_are_checked_and_referenced() {
    let base = |extra: &str| {
        format!(
            "version = 1\n[[listener]]\nname = \"u\"\nzone = \"z\"\ntransport = \"udp\"\nbind = \"127.0.0.1:5060\"\n{extra}"
        )
    };
    let ok = base(
        "[[header_policy]]\nname = \"pstn\"\ncopy = [\"X-Carrier\"]\nremove = [\"Priority\"]\nadd = [{ name = \"Priority\", value = \"normal\" }]\n\
         [[gateway]]\nname = \"gw\"\naddress = \"192.0.2.1:5060\"\nheader_policy = \"pstn\"\n",
    );
    let c = Config::parse(&ok, "hp.toml").expect("valid");
    assert_eq!(c.header_policies[0].add[0].value, "normal");
    let dangling = base(
        "[[gateway]]\nname = \"gw\"\naddress = \"192.0.2.1:5060\"\nheader_policy = \"nope\"\n",
    );
    let e = Config::parse(&dangling, "hp.toml").unwrap_err().to_string();
    assert!(
        e.contains("unknown header_policy 'nope'") && e.contains("hp.toml"),
        "{e}"
    );
    let bad = base("[[header_policy]]\nname = \"p\"\nremove = [\"Bad Name\"]\n");
    let e = Config::parse(&bad, "hp.toml").unwrap_err().to_string();
    assert!(e.contains("is not a header name"), "{e}");
}
