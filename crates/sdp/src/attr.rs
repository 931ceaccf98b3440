//! Attributes (RFC 8866 §5.13, §6): `a=<attribute-name>[:<attribute-value>]`, plus typed
//! views of the ones an SBC inspects.

use core::ops::Range;

use crate::error::{SdpError, SdpErrorKind};
use crate::field::{parse_u16, parse_u32, parse_u8, Field, Split};
use crate::line::{Line, Lines};

/// Attribute names this crate treats as standard for the Teams policy (strip everything
/// else towards the PSTN side):
///
/// * RFC 8866 §6: `cat`, `keywds`, `tool`, `ptime`, `maxptime`, `rtpmap`, `recvonly`,
///   `sendrecv`, `sendonly`, `inactive`, `orient`, `type`, `charset`, `sdplang`, `lang`,
///   `framerate`, `quality`, `fmtp`;
/// * RFC 4568 §9.1 `crypto` (SDES-SRTP), RFC 3605 §2.1 `rtcp`, RFC 5761 §5.1.1 `rtcp-mux`.
///
/// ICE attributes are deliberately not in the list (the SBC terminates ICE itself; use
/// [`is_ice_attribute`]), nor are `mid`/`group`, `label` (RFC 4574) or vendor `x-` ones.
pub const STANDARD_ATTRIBUTES: &[&str] = &[
    "cat",
    "keywds",
    "tool",
    "ptime",
    "maxptime",
    "rtpmap",
    "recvonly",
    "sendrecv",
    "sendonly",
    "inactive",
    "orient",
    "type",
    "charset",
    "sdplang",
    "lang",
    "framerate",
    "quality",
    "fmtp",
    "crypto",
    "rtcp",
    "rtcp-mux",
];

/// ICE attribute names (RFC 8839 §5, plus `ice-mismatch`, `remote-candidates` and
/// `end-of-candidates` from RFC 8839/8840 and Microsoft's `x-candidate-ipv6`).
pub const ICE_ATTRIBUTES: &[&str] = &[
    "candidate",
    "remote-candidates",
    "ice-lite",
    "ice-mismatch",
    "ice-ufrag",
    "ice-pwd",
    "ice-pacing",
    "ice-options",
    "end-of-candidates",
    "x-candidate-ipv6",
];

/// True when `name` is in [`STANDARD_ATTRIBUTES`] (ASCII case-insensitive).
pub fn is_standard_attribute(name: &[u8]) -> bool {
    STANDARD_ATTRIBUTES
        .iter()
        .any(|s| s.as_bytes().eq_ignore_ascii_case(name))
}

/// True when `name` is in [`ICE_ATTRIBUTES`] (ASCII case-insensitive).
pub fn is_ice_attribute(name: &[u8]) -> bool {
    ICE_ATTRIBUTES
        .iter()
        .any(|s| s.as_bytes().eq_ignore_ascii_case(name))
}

/// One `a=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    line: Line<'a>,
    name: Field<'a>,
    value: Option<Field<'a>>,
}

impl<'a> Attribute<'a> {
    /// Splits an `a=` line at the first `:`. Property attributes (`a=rtcp-mux`) have no
    /// value; value attributes keep their value raw (not trimmed: it is replaced as is).
    pub(crate) fn from_line(line: Line<'a>) -> Self {
        let v = line.value();
        match v.split_once(b':') {
            Some((name, value)) => Attribute {
                line,
                name,
                value: Some(value),
            },
            None => Attribute {
                line,
                name: v,
                value: None,
            },
        }
    }

    /// The line (its [`Line::range`] deletes the attribute, line end included).
    pub fn line(&self) -> Line<'a> {
        self.line
    }
    /// The span to delete to remove the attribute: the whole line with its line end.
    pub fn range(&self) -> Range<usize> {
        self.line.range()
    }
    /// `<attribute-name>`.
    pub fn name(&self) -> Field<'a> {
        self.name
    }
    /// `<attribute-value>` after the `:`, if any.
    pub fn value(&self) -> Option<Field<'a>> {
        self.value
    }
    /// Name comparison, ASCII case-insensitive (liberal; registered names are lower case).
    pub fn is_named(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }
    /// See [`is_standard_attribute`].
    pub fn is_standard(&self) -> bool {
        is_standard_attribute(self.name.as_bytes())
    }
    /// See [`is_ice_attribute`].
    pub fn is_ice(&self) -> bool {
        is_ice_attribute(self.name.as_bytes())
    }
}

/// Iterator over the attributes of one section, optionally only those with one name.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    lines: Lines<'a>,
    only: Option<&'static str>,
}

impl<'a> Attributes<'a> {
    pub(crate) fn new(lines: Lines<'a>, only: Option<&'static str>) -> Self {
        Attributes { lines, only }
    }
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Attribute<'a>;
    fn next(&mut self) -> Option<Attribute<'a>> {
        let only = self.only;
        self.lines
            .by_ref()
            .filter(|l| l.kind() == b'a')
            .map(Attribute::from_line)
            .find(|a| only.is_none_or(|n| a.is_named(n)))
    }
}

/// Media direction (RFC 8866 §6.7, RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    SendRecv,
    /// `a=sendonly` (what a holding party offers, RFC 3264 §8.4).
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Parses an attribute name.
    pub fn from_name(name: Field<'_>) -> Option<Direction> {
        let n = name.as_bytes();
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| d.as_str().as_bytes().eq_ignore_ascii_case(n))
    }

    /// The direction an answerer mirrors (RFC 3264 §6.1): sendonly <-> recvonly.
    pub fn reversed(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    /// True when this side sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// True when this side receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

fn bad(at: usize) -> SdpError {
    SdpError::new(SdpErrorKind::BadAttribute, at)
}

/// The value of an attribute, or an error at the end of its name when it has none.
fn value_of<'a>(attr: &Attribute<'a>) -> Result<Field<'a>, SdpError> {
    attr.value().ok_or(bad(attr.name().end()))
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]`
/// (RFC 8866 §6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpMap<'a> {
    attr: Attribute<'a>,
    pt_field: Field<'a>,
    pt: u8,
    encoding: Field<'a>,
    clock_field: Field<'a>,
    clock: u32,
    params: Option<Field<'a>>,
}

impl<'a> RtpMap<'a> {
    /// Parses an `a=rtpmap` attribute.
    pub fn parse(attr: Attribute<'a>) -> Result<Self, SdpError> {
        let v = value_of(&attr)?;
        let mut w = v.words();
        let pt_field = w.next().ok_or(bad(v.start()))?;
        let pt = parse_u8(pt_field.as_bytes()).ok_or(bad(pt_field.start()))?;
        let enc = w.next().ok_or(bad(v.end()))?;
        if let Some(extra) = w.next() {
            return Err(bad(extra.start()));
        }
        let mut parts = enc.split(b'/');
        let encoding = parts
            .next()
            .filter(|e| !e.is_empty())
            .ok_or(bad(enc.start()))?;
        let clock_field = parts.next().ok_or(bad(enc.end()))?;
        let clock = parse_u32(clock_field.as_bytes()).ok_or(bad(clock_field.start()))?;
        // For audio the encoding parameter is the channel count (§6.6); other media may use
        // it differently, so it is kept raw with a numeric helper.
        let params = parts.next();
        if let Some(p) = params {
            if p.is_empty() {
                return Err(bad(p.start()));
            }
        }
        if let Some(extra) = parts.next() {
            return Err(bad(extra.start()));
        }
        Ok(RtpMap {
            attr,
            pt_field,
            pt,
            encoding,
            clock_field,
            clock,
            params,
        })
    }

    /// The attribute (its range deletes the line).
    pub fn attribute(&self) -> Attribute<'a> {
        self.attr
    }
    /// Payload type.
    pub fn payload_type(&self) -> u8 {
        self.pt
    }
    /// Payload type text and span.
    pub fn payload_type_field(&self) -> Field<'a> {
        self.pt_field
    }
    /// Encoding name (`PCMU`, `SILK`, `telephone-event`; compare case-insensitively,
    /// RFC 4855 §3).
    pub fn encoding(&self) -> Field<'a> {
        self.encoding
    }
    /// Clock rate in Hz.
    pub fn clock_rate(&self) -> u32 {
        self.clock
    }
    /// Clock rate text and span.
    pub fn clock_rate_field(&self) -> Field<'a> {
        self.clock_field
    }
    /// The encoding parameters raw, if present.
    pub fn encoding_params(&self) -> Option<Field<'a>> {
        self.params
    }
    /// The audio channel count, if present and numeric.
    pub fn channels(&self) -> Option<u16> {
        self.params.and_then(|p| parse_u16(p.as_bytes()))
    }
}

/// Iterator over the `a=rtpmap` attributes of a section.
#[derive(Debug, Clone)]
pub struct RtpMaps<'a> {
    pub(crate) attrs: Attributes<'a>,
}

impl<'a> Iterator for RtpMaps<'a> {
    type Item = Result<RtpMap<'a>, SdpError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.attrs.next().map(RtpMap::parse)
    }
}

/// `a=fmtp:<format> <format specific parameters>` (RFC 8866 §6.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fmtp<'a> {
    attr: Attribute<'a>,
    format: Field<'a>,
    params: Field<'a>,
}

impl<'a> Fmtp<'a> {
    /// Parses an `a=fmtp` attribute.
    pub fn parse(attr: Attribute<'a>) -> Result<Self, SdpError> {
        let v = value_of(&attr)?;
        let mut w = v.words();
        let format = w.next().ok_or(bad(v.start()))?;
        // The parameters are format-specific and may contain spaces (e.g. H.264 is `;`
        // separated, telephone-event is `0-16`): everything after the format, trimmed.
        let params = w.rest();
        let params = if params.is_empty() {
            v.tail_at(v.end())
        } else {
            params
        };
        Ok(Fmtp {
            attr,
            format,
            params,
        })
    }

    /// The attribute (its range deletes the line).
    pub fn attribute(&self) -> Attribute<'a> {
        self.attr
    }
    /// The format token.
    pub fn format(&self) -> Field<'a> {
        self.format
    }
    /// The format as a payload type, when numeric and within `u8`.
    pub fn payload_type(&self) -> Option<u8> {
        parse_u8(self.format.as_bytes())
    }
    /// The parameter string, raw (replace it to change parameters).
    pub fn params(&self) -> Field<'a> {
        self.params
    }
    /// The `;`-separated parameters as `(name, value)`; a parameter without `=` (e.g.
    /// telephone-event's `0-16`) comes out with `None`. Empty entries are skipped.
    pub fn param_iter(&self) -> FmtpParams<'a> {
        FmtpParams {
            split: self.params.split(b';'),
        }
    }
    /// The first parameter named `name` (ASCII case-insensitive), `Some(None)` when present
    /// without a value.
    pub fn param(&self, name: &str) -> Option<Option<Field<'a>>> {
        self.param_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }
}

/// Iterator behind [`Fmtp::param_iter`].
#[derive(Debug, Clone)]
pub struct FmtpParams<'a> {
    split: Split<'a>,
}

impl<'a> Iterator for FmtpParams<'a> {
    type Item = (Field<'a>, Option<Field<'a>>);
    fn next(&mut self) -> Option<Self::Item> {
        self.split
            .by_ref()
            .map(|p| p.trim())
            .find(|p| !p.is_empty())
            .map(|p| match p.split_once(b'=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (p, None),
            })
    }
}

/// Iterator over the `a=fmtp` attributes of a section.
#[derive(Debug, Clone)]
pub struct Fmtps<'a> {
    pub(crate) attrs: Attributes<'a>,
}

impl<'a> Iterator for Fmtps<'a> {
    type Item = Result<Fmtp<'a>, SdpError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.attrs.next().map(Fmtp::parse)
    }
}

/// `a=rtcp:<port> [<nettype> <addrtype> <connection-address>]` (RFC 3605 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rtcp<'a> {
    attr: Attribute<'a>,
    port_field: Field<'a>,
    port: u16,
    address: Option<(Field<'a>, Field<'a>, Field<'a>)>,
}

impl<'a> Rtcp<'a> {
    /// Parses an `a=rtcp` attribute.
    pub fn parse(attr: Attribute<'a>) -> Result<Self, SdpError> {
        let v = value_of(&attr)?;
        let mut w = v.words();
        let port_field = w.next().ok_or(bad(v.start()))?;
        let port = parse_u16(port_field.as_bytes()).ok_or(bad(port_field.start()))?;
        // The address part is all three fields or nothing (RFC 3605 §2.1 grammar).
        let address = match w.next() {
            None => None,
            Some(nettype) => {
                let addrtype = w.next().ok_or(bad(v.end()))?;
                let addr = w.next().ok_or(bad(v.end()))?;
                Some((nettype, addrtype, addr))
            }
        };
        if let Some(extra) = w.next() {
            return Err(bad(extra.start()));
        }
        Ok(Rtcp {
            attr,
            port_field,
            port,
            address,
        })
    }

    /// The attribute (its range deletes the line).
    pub fn attribute(&self) -> Attribute<'a> {
        self.attr
    }
    /// RTCP port.
    pub fn port(&self) -> u16 {
        self.port
    }
    /// RTCP port text and span.
    pub fn port_field(&self) -> Field<'a> {
        self.port_field
    }
    /// `<nettype>`, if the address part is present.
    pub fn nettype(&self) -> Option<Field<'a>> {
        self.address.map(|a| a.0)
    }
    /// `<addrtype>`, if the address part is present.
    pub fn addrtype(&self) -> Option<Field<'a>> {
        self.address.map(|a| a.1)
    }
    /// `<connection-address>`, if the address part is present.
    pub fn address(&self) -> Option<Field<'a>> {
        self.address.map(|a| a.2)
    }
}
