//! A minimal, tolerant PIDF-LO scan (RFC 4119, RFC 5491): well-formedness of the element
//! structure, the `<method>` values, whether a civic and/or geodetic location is present, and
//! the text of two configurable elements (the ELIN location key and a carried ELIN).
//!
//! Not an XML parser: no namespace resolution (elements are matched by local name), no DTD,
//! entities limited to the five predefined ones and character references. It never fails the
//! call: what it cannot understand is reported as [`PidfError`] and the part is still relayed
//! byte for byte (TI-39). Work is one forward pass, bounded by the input length; the element
//! depth and every captured text are bounded too.

use std::fmt;

/// Deepest element nesting followed (RFC 5491 documents are about 8 deep).
pub const MAX_DEPTH: usize = 64;
/// Most `<method>` values kept.
pub const MAX_METHODS: usize = 8;
/// Longest captured element text (method, location key, ELIN); longer text is truncated at a
/// character boundary.
pub const MAX_TEXT: usize = 256;

/// A value that must not be logged: Debug and Display print `<redacted>`. Civic and geodetic
/// location facts (and the location key derived from them) are personal data; only code that
/// needs the value (the ELIN lookup) calls [`Redacted::expose`].
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wraps a sensitive value.
    pub fn new(v: T) -> Self {
        Redacted(v)
    }

    /// The value (do not log it).
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why a PIDF-LO was not understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PidfError {
    /// Larger than the configured scan limit.
    TooLarge,
    /// Not UTF-8 (XML 1.0 documents here are UTF-8, RFC 4119 §4).
    NotUtf8,
    /// A `<`, comment, CDATA or processing instruction without its end.
    Unterminated,
    /// An end tag that does not match the open element.
    MismatchedTag,
    /// Elements still open at the end.
    Unclosed,
    /// No root element, or content after it.
    BadRoot,
    /// The root element is not `presence` (RFC 3863 §4).
    NotPresence,
    /// A DOCTYPE (never in PIDF; refused rather than processed).
    Doctype,
    /// Deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A tag without a name.
    BadTag,
}

impl PidfError {
    /// A short stable name for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            PidfError::TooLarge => "too_large",
            PidfError::NotUtf8 => "not_utf8",
            PidfError::Unterminated => "unterminated",
            PidfError::MismatchedTag => "mismatched_tag",
            PidfError::Unclosed => "unclosed",
            PidfError::BadRoot => "bad_root",
            PidfError::NotPresence => "not_presence",
            PidfError::Doctype => "doctype",
            PidfError::TooDeep => "too_deep",
            PidfError::BadTag => "bad_tag",
        }
    }
}

impl fmt::Display for PidfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pidf-lo {}", self.as_str())
    }
}

impl std::error::Error for PidfError {}

/// What the scan found. On error the other fields hold what was seen before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidfSummary {
    /// `Ok` when the element structure is well formed and the root is `presence`.
    pub status: Result<(), PidfError>,
    /// Every `<method>` value in document order (RFC 4119 §2.2.3, e.g. `GPS`, `DHCP`,
    /// `Manual`, `LIS`), trimmed.
    pub methods: Vec<String>,
    /// A `civicAddress` element is present (RFC 5139). Its content is never exposed.
    pub has_civic: bool,
    /// A GML shape is present (RFC 5491 §5.2: Point, Polygon, Circle, Ellipse, ArcBand,
    /// Prism, Sphere, Ellipsoid). Its coordinates are never exposed.
    pub has_geo: bool,
    /// Text of the configured location-key element (first occurrence).
    pub location_key: Option<Redacted<String>>,
    /// Text of the configured carried-ELIN element (first occurrence).
    pub carried_elin: Option<String>,
}

/// Which elements to capture.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanOptions<'a> {
    /// Local name of the location-key element (`LOC`).
    pub key_element: Option<&'a str>,
    /// Local name of the carried-ELIN element.
    pub elin_element: Option<&'a str>,
    /// Scan limit in bytes (0 = no limit).
    pub max_bytes: usize,
}

const GEO_SHAPES: &[&str] = &[
    "Point",
    "Polygon",
    "Circle",
    "Ellipse",
    "ArcBand",
    "Prism",
    "Sphere",
    "Ellipsoid",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Capture {
    Method,
    Key,
    Elin,
}

/// Scans a PIDF-LO document.
pub fn scan_pidf(xml: &[u8], opts: &ScanOptions<'_>) -> PidfSummary {
    let mut s = PidfSummary {
        status: Ok(()),
        methods: Vec::new(),
        has_civic: false,
        has_geo: false,
        location_key: None,
        carried_elin: None,
    };
    let status = if opts.max_bytes != 0 && xml.len() > opts.max_bytes {
        Err(PidfError::TooLarge)
    } else {
        match std::str::from_utf8(xml) {
            Ok(text) => scan(text, opts, &mut s),
            Err(_) => Err(PidfError::NotUtf8),
        }
    };
    s.status = status;
    s
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn scan(x: &str, opts: &ScanOptions<'_>, s: &mut PidfSummary) -> Result<(), PidfError> {
    let b = x.as_bytes();
    let mut stack: Vec<&str> = Vec::new();
    let mut root: Option<&str> = None;
    let mut root_closed = false;
    // (what, depth of the element being captured, raw text collected)
    let mut cap: Option<(Capture, usize, String)> = None;
    let mut pos = 0;
    // A UTF-8 BOM is allowed before the XML declaration.
    if x.starts_with('\u{feff}') {
        pos = 3;
    }
    while pos < b.len() {
        let lt = match x[pos..].find('<') {
            Some(i) => pos + i,
            None => b.len(),
        };
        let text = &x[pos..lt];
        if let Some((_, _, buf)) = cap.as_mut() {
            push_text(buf, text);
        } else if stack.is_empty() && !text.trim().is_empty() {
            // Character data outside the root element.
            return Err(PidfError::BadRoot);
        }
        if lt >= b.len() {
            break;
        }
        let rest = &x[lt..];
        if let Some(pi) = rest.strip_prefix("<?") {
            pos = lt + 2 + pi.find("?>").ok_or(PidfError::Unterminated)? + 2;
        } else if let Some(comment) = rest.strip_prefix("<!--") {
            pos = lt + 4 + comment.find("-->").ok_or(PidfError::Unterminated)? + 3;
        } else if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>").ok_or(PidfError::Unterminated)?;
            if let Some((_, _, buf)) = cap.as_mut() {
                // CDATA is literal: escape what decode() would otherwise interpret.
                push_text(buf, &cdata[..end].replace('&', "&amp;"));
            }
            pos = lt + 9 + end + 3;
        } else if rest.starts_with("<!") {
            return Err(PidfError::Doctype);
        } else if let Some(end_tag) = rest.strip_prefix("</") {
            let gt = end_tag.find('>').ok_or(PidfError::Unterminated)?;
            let name = end_tag[..gt].trim_end();
            if name.is_empty() {
                return Err(PidfError::BadTag);
            }
            if stack.pop() != Some(name) {
                return Err(PidfError::MismatchedTag);
            }
            if let Some((what, depth, buf)) = cap.take() {
                if depth == stack.len() + 1 {
                    finish(s, what, &buf);
                } else {
                    cap = Some((what, depth, buf));
                }
            }
            if stack.is_empty() {
                root_closed = true;
            }
            pos = lt + 2 + gt + 1;
        } else {
            // Start tag: name, then attributes whose quoted values may hold '>'.
            let tb = &b[lt + 1..];
            let name_len = tb
                .iter()
                .position(|&c| c.is_ascii_whitespace() || c == b'>' || c == b'/')
                .unwrap_or(tb.len());
            if name_len == 0 {
                return Err(PidfError::BadTag);
            }
            let name = &x[lt + 1..lt + 1 + name_len];
            let mut i = lt + 1 + name_len;
            let mut quote: Option<u8> = None;
            loop {
                let c = *b.get(i).ok_or(PidfError::Unterminated)?;
                match quote {
                    Some(q) if c == q => quote = None,
                    Some(_) => {}
                    None if c == b'"' || c == b'\'' => quote = Some(c),
                    None if c == b'>' => break,
                    None => {}
                }
                i += 1;
            }
            let self_closing = b[i - 1] == b'/';
            pos = i + 1;
            if stack.is_empty() {
                if root.is_some() || root_closed {
                    return Err(PidfError::BadRoot);
                }
                root = Some(name);
            }
            let ln = local(name);
            if ln == "civicAddress" {
                s.has_civic = true;
            } else if GEO_SHAPES.contains(&ln) {
                s.has_geo = true;
            }
            if self_closing {
                if stack.is_empty() {
                    root_closed = true;
                }
                continue;
            }
            if stack.len() >= MAX_DEPTH {
                return Err(PidfError::TooDeep);
            }
            stack.push(name);
            if cap.is_none() {
                let what = if ln == "method" && s.methods.len() < MAX_METHODS {
                    Some(Capture::Method)
                } else if opts.key_element == Some(ln) && s.location_key.is_none() {
                    Some(Capture::Key)
                } else if opts.elin_element == Some(ln) && s.carried_elin.is_none() {
                    Some(Capture::Elin)
                } else {
                    None
                };
                if let Some(w) = what {
                    cap = Some((w, stack.len(), String::new()));
                }
            }
        }
    }
    if !stack.is_empty() {
        return Err(PidfError::Unclosed);
    }
    match root {
        None => Err(PidfError::BadRoot),
        Some(r) if local(r) != "presence" => Err(PidfError::NotPresence),
        Some(_) => Ok(()),
    }
}

/// Appends raw text, bounded (a little slack for an entity cut at the limit).
fn push_text(buf: &mut String, text: &str) {
    let room = (MAX_TEXT * 2).saturating_sub(buf.len());
    let mut end = text.len().min(room);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    buf.push_str(&text[..end]);
}

fn finish(s: &mut PidfSummary, what: Capture, raw: &str) {
    let mut v = decode(raw.trim());
    if v.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !v.is_char_boundary(end) {
            end -= 1;
        }
        v.truncate(end);
    }
    match what {
        Capture::Method => {
            if !v.is_empty() {
                s.methods.push(v);
            }
        }
        Capture::Key => s.location_key = Some(Redacted::new(v)),
        Capture::Elin => s.carried_elin = Some(v),
    }
}

/// Decodes the predefined entities and character references (XML 1.0 §4.6, §4.1); anything
/// else is kept as written.
fn decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let Some(semi) = tail[..tail.len().min(12)].find(';') else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let ent = &tail[1..semi];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => ent
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &tail[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: ScanOptions<'static> = ScanOptions {
        key_element: Some("LOC"),
        elin_element: Some("ELIN"),
        max_bytes: 0,
    };

    #[test]
    fn civic_pidf_with_method_key_and_elin() {
        let x = br#"<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"
  xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr" entity="pres:alice@example.com">
 <!-- a comment with <tags> -->
 <tuple id="t1"><status><gp:geopriv><gp:location-info>
  <ca:civicAddress xml:lang="en-US"><ca:country>US</ca:country><ca:A1>WA</ca:A1>
   <ca:LOC>Bldg 7 &amp; Floor 2</ca:LOC><ca:ELIN>+14255550101</ca:ELIN></ca:civicAddress>
 </gp:location-info><gp:usage-rules/><gp:method>Manual</gp:method></gp:geopriv></status></tuple>
</presence>"#;
        let s = scan_pidf(x, &OPTS);
        assert_eq!(s.status, Ok(()));
        assert_eq!(s.methods, vec!["Manual".to_owned()]);
        assert!(s.has_civic && !s.has_geo);
        assert_eq!(
            s.location_key.as_ref().unwrap().expose(),
            "Bldg 7 & Floor 2"
        );
        assert_eq!(s.carried_elin.as_deref(), Some("+14255550101"));
        // The address never shows in Debug.
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("Bldg") && dbg.contains("<redacted>"), "{dbg}");
    }

    #[test]
    fn geo_and_several_methods() {
        let x = b"<presence><tuple><gml:Point srsName='a>b'><gml:pos>1 2</gml:pos></gml:Point>\
<method>GPS</method></tuple><tuple><method> DHCP </method></tuple></presence>";
        let s = scan_pidf(x, &OPTS);
        assert_eq!(s.status, Ok(()));
        assert!(s.has_geo && !s.has_civic);
        assert_eq!(s.methods, vec!["GPS".to_owned(), "DHCP".to_owned()]);
    }

    #[test]
    fn malformed_documents_are_reported_not_fatal() {
        let cases: &[(&[u8], PidfError)] = &[
            (b"<presence><tuple></presence>", PidfError::MismatchedTag),
            (b"<presence><tuple>", PidfError::Unclosed),
            (b"<presence", PidfError::Unterminated),
            (b"<presence><!-- x </presence>", PidfError::Unterminated),
            (b"<?xml version='1.0'", PidfError::Unterminated),
            (b"<?><presence/>", PidfError::Unterminated),
            (b"", PidfError::BadRoot),
            (b"garbage", PidfError::BadRoot),
            (b"<presence/><presence/>", PidfError::BadRoot),
            (b"<presence></presence>trailing", PidfError::BadRoot),
            (b"<foo></foo>", PidfError::NotPresence),
            (
                b"<!DOCTYPE x [<!ENTITY a 'b'>]><presence/>",
                PidfError::Doctype,
            ),
            (b"<presence>\xff</presence>", PidfError::NotUtf8),
            (b"<presence><></presence>", PidfError::BadTag),
            (b"<presence></ ></presence>", PidfError::BadTag),
        ];
        for (x, e) in cases {
            assert_eq!(
                scan_pidf(x, &OPTS).status,
                Err(*e),
                "{:?}",
                String::from_utf8_lossy(x)
            );
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert_eq!(
            scan_pidf(deep.as_bytes(), &OPTS).status,
            Err(PidfError::TooDeep)
        );
        let big = ScanOptions {
            max_bytes: 10,
            ..OPTS
        };
        assert_eq!(
            scan_pidf(b"<presence></presence>", &big).status,
            Err(PidfError::TooLarge)
        );
    }

    #[test]
    fn entities_cdata_and_bounds() {
        let x = b"<presence><method>&#x4c;&#73;S&bogus;<![CDATA[&lt;]]></method></presence>";
        let s = scan_pidf(x, &OPTS);
        assert_eq!(s.methods, vec!["LIS&bogus;&lt;".to_owned()]);
        let long = format!("<presence><LOC>{}</LOC></presence>", "\u{e9}".repeat(1000));
        let s = scan_pidf(long.as_bytes(), &OPTS);
        assert_eq!(s.status, Ok(()));
        let k = s.location_key.unwrap();
        assert!(k.expose().len() <= MAX_TEXT && k.expose().starts_with('\u{e9}'));
        let many = format!("<presence>{}</presence>", "<method>M</method>".repeat(20));
        assert_eq!(scan_pidf(many.as_bytes(), &OPTS).methods.len(), MAX_METHODS);
        // BOM before the declaration.
        let bom = b"\xef\xbb\xbf<?xml version='1.0'?><presence/>";
        assert_eq!(scan_pidf(bom, &OPTS).status, Ok(()));
        assert_eq!(format!("{}", Redacted::new("x")), "<redacted>");
    }
}
