//! Location passthrough checks (TI-39, RFC 6442): what location an emergency INVITE carries.
//!
//! The SBC relays the Geolocation headers and the location body part byte for byte; this
//! module only *looks*: which `Geolocation` values there are (by value `cid:`, by reference
//! `sips:`/`https:`...), `Geolocation-Routing`, whether every `cid:` resolves to a body part
//! (RFC 6442 §4.1, RFC 2392), and a tolerant summary of each PIDF-LO (method, civic/geo
//! presence, the ELIN key). Nothing here fails the call: a broken body or PIDF-LO is reported
//! as "location present, unknown" ([`LocationStatus::PresentUnknown`]) and the call proceeds.

use std::fmt;

use sbc_sip::addr::GeolocationHdr;
use sbc_sip::hdr::ContentType;
use sbc_sip::lex::trim_lws;
use sbc_sip::multipart::{parse_multipart_with, MultipartErrorKind};
use sbc_sip::uri::Uri;
use sbc_sip::{HeaderName, Message};

use crate::pidf::{scan_pidf, PidfError, PidfSummary, Redacted, ScanOptions};

/// Capacity of the part table (the configurable `max_parts` is capped by it).
pub const PART_TABLE: usize = 64;
/// Most Geolocation values examined (RFC 6442 allows several; more than this is abuse).
pub const MAX_VALUES: usize = 16;

/// Scan options, normally from [`crate::EmergencyPolicy::location_options`].
#[derive(Debug, Clone, Copy)]
pub struct LocationOptions<'a> {
    /// PIDF-LO parts larger than this are not scanned.
    pub max_pidf_bytes: usize,
    /// Most body parts parsed (capped at [`PART_TABLE`]).
    pub max_parts: usize,
    /// Local name of the ELIN location-key element.
    pub key_element: Option<&'a str>,
    /// Local name of the carried-ELIN element.
    pub elin_element: Option<&'a str>,
}

impl Default for LocationOptions<'_> {
    fn default() -> Self {
        LocationOptions {
            max_pidf_bytes: 64 * 1024,
            max_parts: 16,
            key_element: None,
            elin_element: None,
        }
    }
}

/// `Geolocation-Routing` (RFC 6442 §4.2). Absent is interpreted as `no` by the RFC; the
/// distinction is kept so the engine can relay exactly what came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// No header.
    Absent,
    /// `yes`: intermediaries may route on the location.
    Yes,
    /// `no`.
    No,
    /// Another value (a future extension), as received.
    Other(String),
}

/// Where a `cid:` reference leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPart {
    /// Index of the multipart part; `None` when the whole (non-multipart) body has the
    /// Content-ID (RFC 8262 §4).
    pub index: Option<usize>,
    /// The part's media type, lower case (`application/pidf+xml`).
    pub media_type: String,
    /// The PIDF-LO summary when the part is `application/pidf+xml`.
    pub pidf: Option<PidfSummary>,
}

/// One Geolocation value's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationRef {
    /// By value: `cid:` (RFC 6442 §4.1), and the part it resolved to, if any.
    ByValue {
        /// The Content-ID without `cid:` (as written, %-escapes kept).
        cid: String,
        /// The matching body part; `None` when no part has that Content-ID.
        part: Option<ResolvedPart>,
    },
    /// By reference: `sip:`, `sips:`, `pres:`, `http:`, `https:` (or another scheme).
    ByReference {
        /// The scheme, lower case.
        scheme: String,
        /// The whole URI: a dereference key, so kept out of logs.
        uri: Redacted<String>,
    },
    /// A value that does not parse as `<URI> *(;param)`.
    Malformed,
}

/// One `Geolocation` value in header order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationValue {
    /// Its target.
    pub target: LocationRef,
    /// The `loc-src` parameter (RFC 8787), if present.
    pub loc_src: Option<String>,
}

/// Something about the location that was not understood (the call proceeds regardless).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocationProblem {
    /// Geolocation value `index` is malformed.
    MalformedHeader {
        /// Position among the values.
        index: usize,
    },
    /// More than [`MAX_VALUES`] values; the rest were not examined.
    TooManyValues,
    /// A `cid:` with no body part of that Content-ID.
    MissingCidPart {
        /// Position among the values.
        index: usize,
    },
    /// A `cid:` resolving to a part that is not `application/pidf+xml`.
    NotPidf {
        /// Position among the values.
        index: usize,
    },
    /// A PIDF-LO the scan did not understand.
    BadPidf {
        /// Position among the values.
        index: usize,
        /// Why.
        error: PidfError,
    },
    /// The multipart body did not parse.
    Multipart(MultipartErrorKind),
    /// A multipart Content-Type without a boundary, or a Content-Type that does not parse.
    BadContentType,
}

/// The overall verdict, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationStatus {
    /// No Geolocation header and no PIDF-LO part.
    Absent,
    /// Location present and every reference understood.
    Present,
    /// Location present but something is malformed or missing: relayed as is, unknown.
    PresentUnknown,
}

impl LocationStatus {
    /// A short stable name for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            LocationStatus::Absent => "absent",
            LocationStatus::Present => "present",
            LocationStatus::PresentUnknown => "present_unknown",
        }
    }
}

impl fmt::Display for LocationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the INVITE carries about location. Debug output holds no address (civic and
/// geodetic content is never copied out; the ELIN key and reference URIs are [`Redacted`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationInfo {
    /// Every Geolocation value, across header lines, in order (RFC 6442 §4.1).
    pub values: Vec<LocationValue>,
    /// Geolocation-Routing.
    pub routing: Routing,
    /// `application/pidf+xml` parts in the body (referenced or not).
    pub pidf_parts: usize,
    /// What was not understood.
    pub problems: Vec<LocationProblem>,
}

impl LocationInfo {
    /// Absent / present / present but unknown.
    pub fn status(&self) -> LocationStatus {
        if self.values.is_empty() && self.pidf_parts == 0 && self.problems.is_empty() {
            LocationStatus::Absent
        } else if self.problems.is_empty() && !self.values.is_empty() {
            LocationStatus::Present
        } else {
            LocationStatus::PresentUnknown
        }
    }

    /// The PIDF-LO summaries of the resolved by-value locations, in header order.
    pub fn pidfs(&self) -> impl Iterator<Item = &PidfSummary> {
        self.values.iter().filter_map(|v| match &v.target {
            LocationRef::ByValue {
                part: Some(ResolvedPart { pidf: Some(p), .. }),
                ..
            } => Some(p),
            _ => None,
        })
    }

    /// Every `<method>` of every resolved PIDF-LO (`LIS`, `Manual`, `GPS`, `DHCP`...).
    pub fn methods(&self) -> impl Iterator<Item = &str> {
        self.pidfs()
            .flat_map(|p| p.methods.iter().map(String::as_str))
    }

    /// The first ELIN location key found (well-formed PIDF-LOs only).
    pub fn location_key(&self) -> Option<&Redacted<String>> {
        self.pidfs()
            .filter(|p| p.status.is_ok())
            .find_map(|p| p.location_key.as_ref())
    }

    /// The first ELIN carried in a (well-formed) PIDF-LO.
    pub fn carried_elin(&self) -> Option<&str> {
        self.pidfs()
            .filter(|p| p.status.is_ok())
            .find_map(|p| p.carried_elin.as_deref())
    }
}

fn lower(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_lowercase()
}

/// Extracts the location facts of an INVITE. Never fails.
pub fn extract_location(msg: &Message, opts: &LocationOptions<'_>) -> LocationInfo {
    let mut info = LocationInfo {
        values: Vec::new(),
        routing: Routing::Absent,
        pidf_parts: 0,
        problems: Vec::new(),
    };
    if let Some((_, v)) = msg.values(HeaderName::GeolocationRouting).next() {
        let v = trim_lws(v);
        let end = v.iter().position(|&b| b == b';').unwrap_or(v.len());
        let token = trim_lws(&v[..end]);
        info.routing = if token.eq_ignore_ascii_case(b"yes") {
            Routing::Yes
        } else if token.eq_ignore_ascii_case(b"no") {
            Routing::No
        } else {
            Routing::Other(String::from_utf8_lossy(token).into_owned())
        };
    }

    let scan_opts = ScanOptions {
        key_element: opts.key_element,
        elin_element: opts.elin_element,
        max_bytes: opts.max_pidf_bytes,
    };
    let body = Body::new(msg, opts, &mut info);

    for (index, (_, raw)) in msg.values(HeaderName::Geolocation).enumerate() {
        if index >= MAX_VALUES {
            info.problems.push(LocationProblem::TooManyValues);
            break;
        }
        let value = match sbc_sip::TypedHeader::parse(raw) {
            Ok(GeolocationHdr(na)) => na,
            Err(_) => {
                info.problems
                    .push(LocationProblem::MalformedHeader { index });
                info.values.push(LocationValue {
                    target: LocationRef::Malformed,
                    loc_src: None,
                });
                continue;
            }
        };
        let loc_src = value
            .param("loc-src")
            .flatten()
            .map(|v| String::from_utf8_lossy(v).into_owned());
        let target = match value.uri {
            Uri::Absolute(a) if a.scheme.eq_ignore_ascii_case(b"cid") => {
                let part = body.resolve(a.raw, &scan_opts);
                match &part {
                    None => info
                        .problems
                        .push(LocationProblem::MissingCidPart { index }),
                    Some(ResolvedPart { pidf: None, .. }) => {
                        info.problems.push(LocationProblem::NotPidf { index })
                    }
                    Some(ResolvedPart { pidf: Some(p), .. }) => {
                        if let Err(error) = p.status {
                            info.problems
                                .push(LocationProblem::BadPidf { index, error });
                        }
                    }
                }
                LocationRef::ByValue {
                    cid: String::from_utf8_lossy(a.rest).into_owned(),
                    part,
                }
            }
            uri => LocationRef::ByReference {
                scheme: lower(uri.scheme()),
                uri: Redacted::new(String::from_utf8_lossy(uri.raw()).into_owned()),
            },
        };
        info.values.push(LocationValue { target, loc_src });
    }
    info
}

/// The message body as far as location is concerned.
enum Body<'a> {
    None,
    Multipart {
        body: &'a [u8],
        boundary: &'a [u8],
        max_parts: usize,
    },
    Single {
        body: &'a [u8],
        media_type: String,
        content_id: Option<&'a [u8]>,
    },
}

impl<'a> Body<'a> {
    fn new(msg: &'a Message, opts: &LocationOptions<'_>, info: &mut LocationInfo) -> Body<'a> {
        let body = msg.body();
        let Some(ct) = msg.typed::<ContentType<'_>>() else {
            return Body::None;
        };
        let Ok(ct) = ct else {
            if !body.is_empty() {
                info.problems.push(LocationProblem::BadContentType);
            }
            return Body::None;
        };
        if ct.mtype().eq_ignore_ascii_case(b"multipart") {
            let Some(boundary) = ct.boundary() else {
                info.problems.push(LocationProblem::BadContentType);
                return Body::None;
            };
            let max_parts = opts.max_parts.clamp(1, PART_TABLE);
            match parse_multipart_with::<PART_TABLE>(body, boundary, max_parts) {
                Ok(mp) => {
                    info.pidf_parts = mp
                        .iter()
                        .filter(|p| p.is_type("application/pidf+xml"))
                        .count();
                }
                Err(e) => info.problems.push(LocationProblem::Multipart(e.kind)),
            }
            Body::Multipart {
                body,
                boundary,
                max_parts,
            }
        } else {
            let media_type = format!("{}/{}", lower(ct.mtype()), lower(ct.subtype()));
            if media_type == "application/pidf+xml" {
                info.pidf_parts = 1;
            }
            Body::Single {
                body,
                media_type,
                content_id: msg.get(HeaderName::ContentId),
            }
        }
    }

    fn resolve(&self, cid: &[u8], opts: &ScanOptions<'_>) -> Option<ResolvedPart> {
        let summarize = |media_type: String, bytes: &[u8]| {
            let pidf = (media_type == "application/pidf+xml").then(|| scan_pidf(bytes, opts));
            (media_type, pidf)
        };
        match *self {
            Body::None => None,
            Body::Multipart {
                body,
                boundary,
                max_parts,
            } => {
                // Re-parsing is cheap (no allocation) and keeps the view's borrow local.
                let mp = parse_multipart_with::<PART_TABLE>(body, boundary, max_parts).ok()?;
                let part = mp.find_by_content_id(cid)?;
                let index = mp.iter().position(|p| p.range() == part.range())?;
                let media_type = part
                    .media_type()
                    .map(lower)
                    .unwrap_or_else(|| "text/plain".into());
                let (media_type, pidf) = summarize(media_type, part.body());
                Some(ResolvedPart {
                    index: Some(index),
                    media_type,
                    pidf,
                })
            }
            Body::Single {
                body,
                ref media_type,
                content_id,
            } => {
                // RFC 8262 §4: a Content-ID URL may reference the whole message body.
                let id = content_id?;
                if bare(id) != bare(cid) {
                    return None;
                }
                let (media_type, pidf) = summarize(media_type.clone(), body);
                Some(ResolvedPart {
                    index: None,
                    media_type,
                    pidf,
                })
            }
        }
    }
}

/// Strips `cid:` and `<...>` (the forms RFC 2392 and RFC 2045 §7 use).
fn bare(id: &[u8]) -> &[u8] {
    let id = trim_lws(id);
    let id = match id.get(..4) {
        Some(s) if s.eq_ignore_ascii_case(b"cid:") => &id[4..],
        _ => id,
    };
    match id {
        [b'<', inner @ .., b'>'] => inner,
        _ => id,
    }
}
