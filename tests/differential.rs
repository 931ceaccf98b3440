//! Differential check of `sbc_sip::Message::parse` against rsip 0.4 (`rsip::SipMessage`).
//!
//! Every valid vector (RFC 4475 `parse_ok` and `parse_ok_then_reject`, plus every own vector)
//! is parsed by both parsers and a fixed set of fields is compared after light normalisation
//! (schemes lower-cased, transports upper-cased, IP literals compared by value without IPv6
//! brackets).
//! Every `parse_error` vector is also fed to rsip to record which ones it accepts.
//!
//! Each disagreement must be listed in [`ALLOWED`] (with both rendered values, which side is
//! right and why: the same rows as the table in `docs/conformance.md`, section "Differential
//! check against rsip 0.4"). The test fails on any disagreement that is not listed, on a listed
//! row whose values changed, and on a listed row that no longer disagrees, so a change of
//! behaviour on either side shows up.

use std::collections::BTreeMap;
use std::net::IpAddr;

use rsip::headers::{ToTypedHeader, UntypedHeader};
use rsip::{Header as RHeader, SipMessage};
use sbc_sip::check::check_headers;
use sbc_sip::uri::Uri;
use sbc_sip::Message;
use sbc_tests::{own_vectors, rfc4475_expectations, vector};

/// The compared fields, in report order.
const FIELDS: &[&str] = &[
    "kind",
    "method",
    "ruri.scheme",
    "ruri.user",
    "ruri.host",
    "ruri.port",
    "status",
    "call_id",
    "cseq.seq",
    "cseq.method",
    "from.tag",
    "to.tag",
    "via.count",
    "via.branch",
    "via.transport",
    "via.host",
    "max_forwards",
    "content_length",
    "body_len",
    "header_count",
];

/// Rendering of an absent value.
const NONE: &str = "-";
/// Rendering of a value rsip holds but cannot convert to its typed form.
const TYPED_ERR: &str = "!typed-error";
/// Rendering of a message a parser rejects (field `parse`).
const REJECTED: &str = "rejected";
/// Rendering of a message a parser accepts (field `parse`).
const ACCEPTED: &str = "accepted";
/// Longest rendered value; longer ones are cut and suffixed with their length.
const MAX_RENDER: usize = 48;

/// Which parser the RFCs side with for one disagreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Right {
    /// `sbc_sip` is right, rsip is wrong.
    Ours,
    /// rsip is right, `sbc_sip` is wrong.
    Rsip,
    /// Both are acceptable readings (the RFC allows either).
    Either,
}

/// One documented disagreement: `(file, field, ours, rsip, right, reason)`.
struct Allowed {
    file: &'static str,
    field: &'static str,
    ours: &'static str,
    rsip: &'static str,
    right: Right,
    reason: &'static str,
}

const fn allow(
    file: &'static str,
    field: &'static str,
    ours: &'static str,
    rsip: &'static str,
    right: Right,
    reason: &'static str,
) -> Allowed {
    Allowed {
        file,
        field,
        ours,
        rsip,
        right,
        reason,
    }
}

const COMPACT: &str = "rsip 0.4 does not know compact header names (l, i, f, v, ...) and keeps \
     them as Header::Other; RFC 3261 §7.3.3 and §20 make them equivalent to the long names, and \
     §7.3.1 makes header names case-insensitive";

use Right::{Either, Ours};

/// The documented disagreements (mirrors the first table of the section "Differential check
/// against rsip 0.4" in `docs/conformance.md`; `docs_mirror_the_allow_lists` keeps them equal).
const ALLOWED: &[Allowed] = &[
    // --- whole messages rsip rejects -----------------------------------------------------
    allow(
        "wsinv.dat",
        "parse",
        ACCEPTED,
        REJECTED,
        Ours,
        "rsip cannot read folded header lines nor LWS before the colon (`TO :`); RFC 3261 \
         §7.3.1 (folding, HCOLON) and RFC 4475 §3.1.1.1 require both",
    ),
    allow(
        "intmeth.dat",
        "parse",
        ACCEPTED,
        REJECTED,
        Ours,
        "rsip's Request-URI tokenizer fails on the legal userinfo (password with \
         `:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)`) and its closed Method enum rejects the \
         extension method; RFC 3261 §25.1 (user, password, extension-method = token), \
         RFC 4475 §3.1.1.2",
    ),
    allow(
        "esc01.dat",
        "parse",
        ACCEPTED,
        REJECTED,
        Ours,
        "the Contact value sits on a folded continuation line, which rsip cannot read; \
         RFC 3261 §7.3.1, RFC 4475 §3.1.1.3",
    ),
    allow(
        "esc02.dat",
        "parse",
        ACCEPTED,
        REJECTED,
        Ours,
        "`RE%47IST%45R` is a legal extension method (a token) that rsip's closed Method enum \
         rejects; RFC 3261 §25.1, RFC 4475 §3.1.1.5 (answer 501)",
    ),
    allow(
        "longreq.dat",
        "parse",
        ACCEPTED,
        REJECTED,
        Ours,
        "LWS between header name and colon (`V :`, `Via  :`); RFC 3261 §7.3.1 and §25.1 \
         HCOLON, RFC 4475 §3.1.1.7",
    ),
    allow(
        "semiuri.dat",
        "parse",
        ACCEPTED,
        REJECTED,
        Ours,
        "`;` is user-unreserved in a SIP-URI user part (`user;par=u%40example.net`); rsip's \
         userinfo tokenizer stops at it; RFC 3261 §25.1, RFC 4475 §3.1.1.9",
    ),
    allow(
        "badvers.dat",
        "parse",
        ACCEPTED,
        REJECTED,
        Ours,
        "`SIP/7.0` is a grammatical SIP-Version (RFC 3261 §25.1); RFC 4475 §3.1.2.16 asks \
         for a 505 Version Not Supported (RFC 3261 §21.5.6), which needs the message parsed; \
         rsip fails the whole message",
    ),
    allow(
        "mismatch02.dat",
        "parse",
        ACCEPTED,
        REJECTED,
        Ours,
        "extension method `NEWMETHOD` rejected by rsip's closed Method enum; RFC 3261 §25.1 \
         extension-method, RFC 4475 §3.1.2.18 (answer 501)",
    ),
    allow(
        "unkscm.dat",
        "parse",
        ACCEPTED,
        REJECTED,
        Ours,
        "`nobodyKnowsThisScheme:totallyopaquecontent` is an absoluteURI, a legal \
         Request-URI (RFC 3261 §25.1); rsip reads it as host:port and fails on the port; \
         RFC 4475 §3.3.2 expects a 416 (RFC 3261 §8.2.2.1)",
    ),
    // --- fields ----------------------------------------------------------------------------
    allow("escnull.dat", "content_length", "0", NONE, Ours, COMPACT),
    allow("lwsdisp.dat", "content_length", "0", NONE, Ours, COMPACT),
    allow(
        "dblreq.dat",
        "call_id",
        "dblreq.0ha0isndaksdj99sdfafnl3lk233412",
        NONE,
        Ours,
        COMPACT,
    ),
    allow(
        "dblreq.dat",
        "body_len",
        "0",
        "450",
        Ours,
        "over a datagram the body is Content-Length octets and the rest is discarded \
         (RFC 3261 §18.3, RFC 4475 §3.1.1.8); rsip ignores Content-Length and takes \
         everything after the blank line as the body",
    ),
    allow("transports.dat", "content_length", "0", NONE, Ours, COMPACT),
    allow("mismatch01.dat", "content_length", "0", NONE, Ours, COMPACT),
    allow("badbranch.dat", "content_length", "0", NONE, Ours, COMPACT),
    allow("insuf.dat", "content_length", "152", NONE, Ours, COMPACT),
    allow(
        "novelsc.dat",
        "ruri.host",
        NONE,
        "192.0.2.103",
        Either,
        "`soap.beep://192.0.2.103:3002` is an absoluteURI: RFC 3261 §19.1 and §25.1 give \
         host and port a SIP meaning only for sip/sips, and RFC 4475 §3.3.3 expects 416 or \
         404 without routing on it; we keep non-SIP URIs opaque (scheme + rest), rsip reads \
         the generic authority; both readings are defensible",
    ),
    allow(
        "novelsc.dat",
        "ruri.port",
        NONE,
        "3002",
        Either,
        "same as novelsc.dat ruri.host",
    ),
    allow(
        "unksm2.dat",
        "to.tag",
        NONE,
        TYPED_ERR,
        Ours,
        "`To: isbn:2983792873` is a legal addr-spec with an absoluteURI (RFC 3261 §20.39, \
         §25.1) and has no tag; rsip's typed To fails; RFC 4475 §3.3.4: parsers must accept it",
    ),
    allow("unksm2.dat", "content_length", "0", NONE, Ours, COMPACT),
    allow("multi01.dat", "content_length", "154", NONE, Ours, COMPACT),
    allow("cparam01.dat", "content_length", "0", NONE, Ours, COMPACT),
    allow("cparam02.dat", "content_length", "0", NONE, Ours, COMPACT),
    allow("regescrt.dat", "content_length", "0", NONE, Ours, COMPACT),
    allow(
        "comma-via-route.sip",
        "via.count",
        "3",
        "1",
        Ours,
        "`Via: a, b` plus `v: c`: a comma list equals several header lines (RFC 3261 §7.3.1, \
         §20.42) and `v` is Via (§7.3.3); rsip counts Via lines and knows no compact names",
    ),
    allow(
        "compact.sip",
        "call_id",
        "compact-only-1@192.0.2.4",
        NONE,
        Ours,
        COMPACT,
    ),
    allow("compact.sip", "from.tag", "88sja8x", NONE, Ours, COMPACT),
    allow("compact.sip", "via.count", "1", "0", Ours, COMPACT),
    allow(
        "compact.sip",
        "via.branch",
        "z9hG4bKcompact1",
        NONE,
        Ours,
        COMPACT,
    ),
    allow("compact.sip", "via.transport", "UDP", NONE, Ours, COMPACT),
    allow("compact.sip", "via.host", "192.0.2.4", NONE, Ours, COMPACT),
    allow("compact.sip", "content_length", "223", NONE, Ours, COMPACT),
];

/// `parse_error` vectors rsip 0.4 accepts, with what it makes of them (we reject all of
/// them: `Message::parse` or the strict header check). Mirrors the second table of the doc.
const RSIP_ACCEPTS_PARSE_ERROR: &[(&str, &str)] = &[
    (
        "badinv01.dat",
        "empty Via/Contact params kept as untyped text",
    ),
    (
        "clerr.dat",
        "Content-Length 9999 ignored; body = the 154 octets present",
    ),
    (
        "ncl.dat",
        "Content-Length -999 kept as text; body = rest of buffer",
    ),
    (
        "scalarlg.dat",
        "CSeq > 2^32-1 kept as text (typed CSeq fails later)",
    ),
    ("quotbal.dat", "unterminated quote kept as untyped To text"),
    (
        "ltgtruri.dat",
        "Request-URI `<sip:user@example.com>` accepted with the brackets",
    ),
    (
        "baddate.dat",
        "Date is untyped (acceptable per RFC 4475 §3.1.2.12)",
    ),
    (
        "regbadct.dat",
        "bad Contact kept as untyped text (typed Contact fails later)",
    ),
    (
        "badaspec.dat",
        "spaces inside <...> kept as untyped To text (typed To fails later)",
    ),
    (
        "baddn.dat",
        "no blank line: rsip keeps the first header and turns the rest into body",
    ),
    (
        "mcl01.dat",
        "conflicting Content-Length 13 and 5 both kept; body = rest of buffer",
    ),
];

type Fields = BTreeMap<&'static str, String>;

fn render(b: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(b).escape_debug().collect();
    if s.chars().count() > MAX_RENDER {
        let cut: String = s.chars().take(MAX_RENDER).collect();
        format!("{cut}...({} bytes)", b.len())
    } else {
        s
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| NONE.to_owned(), |v| v.to_string())
}

fn opt_bytes(v: Option<&[u8]>) -> String {
    v.map_or_else(|| NONE.to_owned(), render)
}

/// Canonical host: IP literals by value without brackets, names as written.
fn host(h: &str) -> String {
    let bare = h
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(h);
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => render(h.as_bytes()),
    }
}

fn ours_fields(m: &Message) -> Fields {
    let mut f = Fields::new();
    f.insert(
        "kind",
        if m.is_request() {
            "request"
        } else {
            "response"
        }
        .to_owned(),
    );
    f.insert(
        "method",
        if m.is_request() {
            render(m.method_bytes())
        } else {
            NONE.to_owned()
        },
    );
    let (scheme, user, rhost, port) = match m.request_uri() {
        None => (NONE.into(), NONE.into(), NONE.into(), NONE.into()),
        Some(Uri::Sip(u)) => (
            render(u.scheme()).to_ascii_lowercase(),
            opt_bytes(u.user),
            host(&String::from_utf8_lossy(u.host_raw)),
            opt(u.port),
        ),
        Some(other) => (
            render(other.scheme()).to_ascii_lowercase(),
            NONE.into(),
            NONE.into(),
            NONE.into(),
        ),
    };
    f.insert("ruri.scheme", scheme);
    f.insert("ruri.user", user);
    f.insert("ruri.host", rhost);
    f.insert("ruri.port", port);
    f.insert("status", opt(m.status()));
    f.insert("call_id", opt_bytes(m.call_id()));
    let cseq = m.cseq();
    f.insert("cseq.seq", opt(cseq.map(|c| c.seq)));
    f.insert(
        "cseq.method",
        opt_bytes(cseq.map(|c| m.slice(c.method_span))),
    );
    f.insert("from.tag", opt_bytes(m.from_tag()));
    f.insert("to.tag", opt_bytes(m.to_tag()));
    f.insert("via.count", m.via_count().to_string());
    let via = m.top_via();
    f.insert(
        "via.branch",
        opt_bytes(via.as_ref().and_then(|v| v.branch())),
    );
    f.insert(
        "via.transport",
        opt(via
            .as_ref()
            .map(|v| render(v.transport).to_ascii_uppercase())),
    );
    f.insert(
        "via.host",
        opt(via.as_ref().map(|v| host(&String::from_utf8_lossy(v.host)))),
    );
    f.insert("max_forwards", opt(m.max_forwards()));
    f.insert("content_length", opt(m.content_length()));
    f.insert("body_len", m.body().len().to_string());
    f.insert("header_count", m.headers().len().to_string());
    f
}

fn typed_or_err<T, E>(r: Result<T, E>, f: impl FnOnce(T) -> String) -> String {
    r.map_or_else(|_| TYPED_ERR.to_owned(), f)
}

fn rsip_fields(msg: &SipMessage) -> Fields {
    use rsip::message::HasHeaders;

    let mut f = Fields::new();
    let headers: Vec<&RHeader> = msg.headers().iter().collect();
    match msg {
        SipMessage::Request(r) => {
            f.insert("kind", "request".to_owned());
            f.insert("method", r.method.to_string());
            let u = &r.uri;
            f.insert(
                "ruri.scheme",
                opt(u
                    .scheme
                    .as_ref()
                    .map(|s| s.to_string().to_ascii_lowercase())),
            );
            f.insert(
                "ruri.user",
                opt(u.auth.as_ref().map(|a| render(a.user.as_bytes()))),
            );
            f.insert("ruri.host", host(&u.host_with_port.host.to_string()));
            f.insert("ruri.port", opt(u.host_with_port.port.map(|p| *p.value())));
            f.insert("status", NONE.to_owned());
        }
        SipMessage::Response(r) => {
            f.insert("kind", "response".to_owned());
            for k in [
                "method",
                "ruri.scheme",
                "ruri.user",
                "ruri.host",
                "ruri.port",
            ] {
                f.insert(k, NONE.to_owned());
            }
            f.insert("status", r.status_code.code().to_string());
        }
    }
    let call_id = headers.iter().find_map(|h| match h {
        RHeader::CallId(c) => Some(render(c.value().as_bytes())),
        _ => None,
    });
    f.insert("call_id", opt(call_id));
    let cseq = headers.iter().find_map(|h| match h {
        RHeader::CSeq(c) => Some(c.typed()),
        _ => None,
    });
    match cseq {
        None => {
            f.insert("cseq.seq", NONE.to_owned());
            f.insert("cseq.method", NONE.to_owned());
        }
        Some(Err(_)) => {
            f.insert("cseq.seq", TYPED_ERR.to_owned());
            f.insert("cseq.method", TYPED_ERR.to_owned());
        }
        Some(Ok(c)) => {
            f.insert("cseq.seq", c.seq.to_string());
            f.insert("cseq.method", c.method.to_string());
        }
    }
    let from_tag = headers.iter().find_map(|h| match h {
        RHeader::From(x) => Some(typed_or_err(x.typed(), |t| {
            opt(t.tag().map(|t| render(t.value().as_bytes())))
        })),
        _ => None,
    });
    f.insert("from.tag", from_tag.unwrap_or_else(|| NONE.to_owned()));
    let to_tag = headers.iter().find_map(|h| match h {
        RHeader::To(x) => Some(typed_or_err(x.typed(), |t| {
            opt(t.tag().map(|t| render(t.value().as_bytes())))
        })),
        _ => None,
    });
    f.insert("to.tag", to_tag.unwrap_or_else(|| NONE.to_owned()));
    // rsip keeps one `Header::Via` per header line and does not split comma lists.
    let vias: Vec<_> = headers
        .iter()
        .filter_map(|h| match h {
            RHeader::Via(v) => Some(v),
            _ => None,
        })
        .collect();
    f.insert("via.count", vias.len().to_string());
    match vias.first().map(|v| v.typed()) {
        None => {
            for k in ["via.branch", "via.transport", "via.host"] {
                f.insert(k, NONE.to_owned());
            }
        }
        Some(Err(_)) => {
            for k in ["via.branch", "via.transport", "via.host"] {
                f.insert(k, TYPED_ERR.to_owned());
            }
        }
        Some(Ok(v)) => {
            f.insert(
                "via.branch",
                opt(v.branch().map(|b| render(b.value().as_bytes()))),
            );
            f.insert("via.transport", v.transport.to_string());
            f.insert("via.host", host(&v.uri.host_with_port.host.to_string()));
        }
    }
    let mf = headers.iter().find_map(|h| match h {
        RHeader::MaxForwards(x) => Some(typed_or_err(x.num(), |n| n.to_string())),
        _ => None,
    });
    f.insert("max_forwards", mf.unwrap_or_else(|| NONE.to_owned()));
    let cl = headers.iter().find_map(|h| match h {
        RHeader::ContentLength(x) => Some(typed_or_err(x.length(), |n| n.to_string())),
        _ => None,
    });
    f.insert("content_length", cl.unwrap_or_else(|| NONE.to_owned()));
    f.insert("body_len", msg.body().len().to_string());
    f.insert("header_count", headers.len().to_string());
    f
}

/// A disagreement as observed: `(file, field, ours, rsip)`.
type Diff = (String, &'static str, String, String);

fn rsip_parse(bytes: &[u8]) -> Result<SipMessage, rsip::Error> {
    SipMessage::try_from(bytes)
}

/// Every valid vector: (file, bytes).
fn valid_vectors() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = rfc4475_expectations()
        .into_iter()
        .filter(|(_, e, _)| e == "parse_ok" || e == "parse_ok_then_reject")
        .map(|(f, _, _)| {
            let b = vector("rfc4475", &f);
            (f, b)
        })
        .collect();
    v.extend(own_vectors());
    v
}

fn observe() -> Vec<Diff> {
    let mut diffs = Vec::new();
    for (file, bytes) in valid_vectors() {
        let ours = Message::parse(bytes.clone())
            .unwrap_or_else(|e| panic!("{file}: our parser rejects a valid vector: {e}"));
        match rsip_parse(&bytes) {
            Err(_) => diffs.push((file, "parse", ACCEPTED.to_owned(), REJECTED.to_owned())),
            Ok(theirs) => {
                let a = ours_fields(&ours);
                let b = rsip_fields(&theirs);
                for &k in FIELDS {
                    if a[k] != b[k] {
                        diffs.push((file.clone(), k, a[k].clone(), b[k].clone()));
                    }
                }
            }
        }
    }
    diffs
}

#[test]
fn field_disagreements_match_the_documented_allow_list() {
    let observed = observe();
    let mut problems = Vec::new();
    for (file, field, ours, theirs) in &observed {
        match ALLOWED.iter().find(|a| a.file == file && a.field == *field) {
            None => problems.push(format!(
                "UNDOCUMENTED  {file}  {field}: ours={ours:?} rsip={theirs:?}"
            )),
            Some(a) if a.ours != ours || a.rsip != theirs => problems.push(format!(
                "CHANGED       {file}  {field}: ours={ours:?} rsip={theirs:?} \
                 (documented ours={:?} rsip={:?})",
                a.ours, a.rsip
            )),
            Some(_) => {}
        }
    }
    for a in ALLOWED {
        if !observed
            .iter()
            .any(|(f, k, _, _)| f == a.file && *k == a.field)
        {
            problems.push(format!(
                "GONE          {}  {}: documented disagreement no longer observed \
                 (right={:?}: {}); update ALLOWED and docs/conformance.md",
                a.file, a.field, a.right, a.reason
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn rsip_verdicts_on_parse_error_vectors_match_the_documented_list() {
    let mut accepted = Vec::new();
    for (file, expect, _) in rfc4475_expectations() {
        if expect != "parse_error" {
            continue;
        }
        let bytes = vector("rfc4475", &file);
        // Ours: rejected by the parse or by the strict header check (see rfc4475.rs).
        let ours_rejects = match Message::parse(bytes.clone()) {
            Err(_) => true,
            Ok(m) => check_headers(&m).is_err(),
        };
        assert!(
            ours_rejects,
            "{file}: our parser accepts a parse_error vector"
        );
        if rsip_parse(&bytes).is_ok() {
            accepted.push(file);
        }
    }
    let documented: Vec<String> = RSIP_ACCEPTS_PARSE_ERROR
        .iter()
        .map(|(f, _)| (*f).to_owned())
        .collect();
    assert_eq!(
        accepted, documented,
        "rsip's verdicts on the parse_error vectors changed; update \
         RSIP_ACCEPTS_PARSE_ERROR and docs/conformance.md"
    );
}

/// The allow-list itself is well-formed: known fields, no duplicates, a reason on each row.
#[test]
fn allow_list_is_well_formed() {
    let mut seen = std::collections::BTreeSet::new();
    for a in ALLOWED {
        assert!(
            a.field == "parse" || FIELDS.contains(&a.field),
            "unknown field {}",
            a.field
        );
        assert!(
            seen.insert((a.file, a.field)),
            "duplicate {} {}",
            a.file,
            a.field
        );
        assert!(!a.reason.is_empty(), "{} {}: no reason", a.file, a.field);
        assert_ne!(a.ours, a.rsip, "{} {}: not a disagreement", a.file, a.field);
    }
}

impl Right {
    fn label(self) -> &'static str {
        match self {
            Self::Ours => "ours",
            Self::Rsip => "rsip",
            Self::Either => "either",
        }
    }

    fn from_label(s: &str) -> Option<Right> {
        match s {
            "ours" => Some(Self::Ours),
            "rsip" => Some(Self::Rsip),
            "either" => Some(Self::Either),
            _ => None,
        }
    }
}

/// Heading of the doc section this test mirrors.
const DOC_SECTION: &str = "## Differential check against rsip 0.4";

/// The cells of the markdown table rows of the doc section, backticks stripped.
fn doc_rows() -> Vec<Vec<String>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/conformance.md");
    let doc = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let start = doc
        .find(DOC_SECTION)
        .unwrap_or_else(|| panic!("docs/conformance.md has no section {DOC_SECTION:?}"));
    let body = &doc[start + DOC_SECTION.len()..];
    let section = body.find("\n## ").map_or(body, |end| &body[..end]);
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().trim_matches('`').to_owned())
                .collect()
        })
        .collect()
}

/// The doc tables and the allow-lists of this test say the same thing.
#[test]
fn docs_mirror_the_allow_lists() {
    let rows = doc_rows();
    // Field table: file | field | ours | rsip | right | why.
    let mut doc_fields: Vec<(String, String, String, String, Right)> = rows
        .iter()
        .filter(|r| r.len() == 6)
        .map(|r| {
            let right = Right::from_label(&r[4])
                .unwrap_or_else(|| panic!("doc row {r:?}: right must be ours/rsip/either"));
            (
                r[0].clone(),
                r[1].clone(),
                r[2].clone(),
                r[3].clone(),
                right,
            )
        })
        .collect();
    let mut ours: Vec<(String, String, String, String, Right)> = ALLOWED
        .iter()
        .map(|a| {
            (
                a.file.to_owned(),
                a.field.to_owned(),
                a.ours.to_owned(),
                a.rsip.to_owned(),
                a.right,
            )
        })
        .collect();
    doc_fields.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    ours.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(
        doc_fields
            .iter()
            .map(|r| format!("{} {} {} {} {}", r.0, r.1, r.2, r.3, r.4.label()))
            .collect::<Vec<_>>(),
        ours.iter()
            .map(|r| format!("{} {} {} {} {}", r.0, r.1, r.2, r.3, r.4.label()))
            .collect::<Vec<_>>(),
        "the disagreement table in docs/conformance.md differs from ALLOWED"
    );
    // parse_error table: file | ours | rsip | what rsip makes of it.
    let mut doc_accepts: Vec<String> = rows
        .iter()
        .filter(|r| r.len() == 4 && r[2] == ACCEPTED)
        .map(|r| r[0].clone())
        .collect();
    let mut listed: Vec<String> = RSIP_ACCEPTS_PARSE_ERROR
        .iter()
        .map(|(f, _)| (*f).to_owned())
        .collect();
    doc_accepts.sort();
    listed.sort();
    assert_eq!(
        doc_accepts, listed,
        "the parse_error table in docs/conformance.md differs from RSIP_ACCEPTS_PARSE_ERROR"
    );
    let n_parse_error = rfc4475_expectations()
        .iter()
        .filter(|(_, e, _)| e == "parse_error")
        .count();
    assert_eq!(
        rows.iter().filter(|r| r.len() == 4).count(),
        n_parse_error,
        "the parse_error table must have one row per parse_error vector"
    );
}
