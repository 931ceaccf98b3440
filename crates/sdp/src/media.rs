//! Media sections (RFC 8866 §5.14): an `m=` line and everything up to the next `m=`.

use core::ops::Range;

use crate::attr::{Attribute, Attributes, Direction, Fmtp, Fmtps, Rtcp, RtpMap, RtpMaps};
use crate::crypto::Cryptos;
use crate::error::{SdpError, SdpErrorKind};
use crate::field::{parse_u16, parse_u32, parse_u8, Field, Words};
use crate::line::{classify, scan_line, Line, LineShape, Lines};
use crate::session::{Bandwidths, Connection, Connections, Sdp};

/// The fields of an `m=` line:
/// `m=<media> <port>[/<number of ports>] <proto> <fmt> ...`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MLine<'a> {
    media: Field<'a>,
    port_field: Field<'a>,
    port: u16,
    count_field: Option<Field<'a>>,
    count: Option<u16>,
    proto: Field<'a>,
    formats: Field<'a>,
}

pub(crate) fn parse_mline(line: Line<'_>) -> Result<MLine<'_>, SdpError> {
    let v = line.value();
    let bad = |at: usize| SdpError::new(SdpErrorKind::BadMedia, at);
    let mut w = v.words();
    let media = w.next().ok_or(bad(v.start()))?;
    let port_tok = w.next().ok_or(bad(v.end()))?;
    let proto = w.next().ok_or(bad(v.end()))?;
    // §5.14: the port is a transport port (u16); `/<count>` is the number of consecutive
    // port pairs, also bounded by the port space.
    let (port_field, count_field) = match port_tok.split_once(b'/') {
        Some((p, c)) => (p, Some(c)),
        None => (port_tok, None),
    };
    let port = parse_u16(port_field.as_bytes()).ok_or(bad(port_field.start()))?;
    let count = match count_field {
        Some(c) => Some(parse_u16(c.as_bytes()).ok_or(bad(c.start()))?),
        None => None,
    };
    // §5.14 requires at least one <fmt>; liberal: an empty list is kept (empty field at the
    // end of the line, usable as an insertion point).
    let formats = w.rest();
    let formats = if formats.is_empty() {
        v.tail_at(v.end())
    } else {
        formats
    };
    Ok(MLine {
        media,
        port_field,
        port,
        count_field,
        count,
        proto,
        formats,
    })
}

/// One entry of the `m=` format list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format<'a> {
    field: Field<'a>,
}

impl<'a> Format<'a> {
    /// The raw format token and its span (remove it to drop a codec from the offer).
    pub fn field(&self) -> Field<'a> {
        self.field
    }
    /// The RTP payload type when the format is a decimal that fits `u8` (RFC 3551 §6 uses
    /// 0..=127; the range check is left to the caller, non-RTP protos use other tokens).
    pub fn payload_type(&self) -> Option<u8> {
        parse_u8(self.field.as_bytes())
    }
}

/// Iterator over the `m=` format list.
#[derive(Debug, Clone)]
pub struct Formats<'a> {
    words: Words<'a>,
}

impl<'a> Iterator for Formats<'a> {
    type Item = Format<'a>;
    fn next(&mut self) -> Option<Format<'a>> {
        self.words.next().map(|field| Format { field })
    }
}

/// One media section.
#[derive(Debug, Clone, Copy)]
pub struct Media<'a> {
    body: &'a [u8],
    index: usize,
    start: usize,
    end: usize,
    session_end: usize,
    session_direction: Option<Direction>,
    session_connection: Option<Connection<'a>>,
    line: Line<'a>,
    m: MLine<'a>,
}

impl<'a> Media<'a> {
    pub(crate) fn new(
        body: &'a [u8],
        index: usize,
        start: usize,
        end: usize,
        session_end: usize,
        session_direction: Option<Direction>,
        session_connection: Option<Connection<'a>>,
    ) -> Option<Media<'a>> {
        let line = match classify(body, scan_line(body, start, end)) {
            LineShape::Ok(l) if l.kind() == b'm' => l,
            _ => return None,
        };
        let m = parse_mline(line).ok()?;
        Some(Media {
            body,
            index,
            start,
            end,
            session_end,
            session_direction,
            session_connection,
            line,
            m,
        })
    }

    /// Position among the media sections (0-based); RFC 3264 §6 matches answer to offer by it.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The section: from the start of the `m=` line to the next `m=` line or the end of the
    /// body (delete it, or set the port to 0 to reject the stream per RFC 3264 §6).
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// The `m=` line.
    pub fn line(&self) -> Line<'a> {
        self.line
    }

    /// `<media>`: `audio`, `video`, `application`, `image` (T.38), ...
    pub fn media_type(&self) -> Field<'a> {
        self.m.media
    }

    /// `<port>`. 0 means the stream is rejected or disabled (RFC 3264 §5.1).
    pub fn port(&self) -> u16 {
        self.m.port
    }

    /// `<port>` text and span (without any `/count`).
    pub fn port_field(&self) -> Field<'a> {
        self.m.port_field
    }

    /// The `/<number of ports>` value, if present.
    pub fn port_count(&self) -> Option<u16> {
        self.m.count
    }

    /// The `<number of ports>` text and span (after the `/`), if present.
    pub fn port_count_field(&self) -> Option<Field<'a>> {
        self.m.count_field
    }

    /// `<proto>`: `RTP/AVP`, `RTP/SAVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF`, `udptl`, ...
    pub fn proto(&self) -> Field<'a> {
        self.m.proto
    }

    /// True for a profile that carries SRTP (`SAVP`/`SAVPF`, RFC 3711 §12, RFC 5124).
    pub fn is_secure(&self) -> bool {
        let p = self.m.proto.as_bytes();
        p.len() >= 4 && p.windows(4).any(|w| w.eq_ignore_ascii_case(b"SAVP"))
    }

    /// The whole format list as one span (replace it to reorder or filter codecs). Empty (and
    /// positioned at the end of the line) when there is no format.
    pub fn formats_field(&self) -> Field<'a> {
        self.m.formats
    }

    /// The format list entries.
    pub fn formats(&self) -> Formats<'a> {
        Formats {
            words: self.m.formats.words(),
        }
    }

    /// The numeric formats (RTP payload types).
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + 'a {
        self.formats().filter_map(|f| f.payload_type())
    }

    /// Every line of the section, `m=` first.
    pub fn lines(&self) -> Lines<'a> {
        Lines::new(self.body, self.start, self.end)
    }

    /// The section's own `c=` line, if any (the first when several).
    pub fn connection(&self) -> Option<Connection<'a>> {
        self.connections().next()
    }

    /// All of the section's `c=` lines.
    pub fn connections(&self) -> Connections<'a> {
        Connections {
            lines: self.lines(),
        }
    }

    /// The `c=` that applies: the section's own, else the session-level one (§5.7).
    pub fn effective_connection(&self) -> Option<Connection<'a>> {
        self.connection().or(self.session_connection)
    }

    /// The section's `b=` lines.
    pub fn bandwidths(&self) -> Bandwidths<'a> {
        Bandwidths {
            lines: self.lines(),
        }
    }

    /// The section's attributes.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes::new(self.lines(), None)
    }

    /// First media-level attribute with this name (ASCII case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<Attribute<'a>> {
        self.attributes().find(|a| a.is_named(name))
    }

    /// Media-level attribute, else the session-level one: for attributes RFC 8866 / RFC 8839
    /// allow at both levels with media overriding session (ice-ufrag, ice-pwd, ...).
    fn attribute_or_session(&self, name: &str) -> Option<Attribute<'a>> {
        self.attribute(name)
            .or_else(|| Sdp::session_attribute(self.body, self.session_end, name))
    }

    /// Every `a=rtpmap` of the section, parsed (RFC 8866 §6.6).
    pub fn rtpmaps(&self) -> RtpMaps<'a> {
        RtpMaps {
            attrs: Attributes::new(self.lines(), Some("rtpmap")),
        }
    }

    /// The well-formed `a=rtpmap` for payload type `pt`, if any. Static payload types
    /// (RFC 3551 §6) often have none.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap<'a>> {
        self.rtpmaps()
            .filter_map(Result::ok)
            .find(|r| r.payload_type() == pt)
    }

    /// Every `a=fmtp` of the section, parsed (RFC 8866 §6.15).
    pub fn fmtps(&self) -> Fmtps<'a> {
        Fmtps {
            attrs: Attributes::new(self.lines(), Some("fmtp")),
        }
    }

    /// The well-formed `a=fmtp` for payload type `pt`, if any.
    pub fn fmtp(&self, pt: u8) -> Option<Fmtp<'a>> {
        self.fmtps()
            .filter_map(Result::ok)
            .find(|f| f.payload_type() == Some(pt))
    }

    /// Every `a=crypto` of the section, parsed (RFC 4568 §9.1); malformed ones come out as
    /// errors so SRTP policy can reject rather than silently skip them.
    pub fn crypto(&self) -> Cryptos<'a> {
        Cryptos {
            attrs: Attributes::new(self.lines(), Some("crypto")),
        }
    }

    /// The first well-formed `a=rtcp` (RFC 3605 §2.1); use [`Rtcp::parse`] on
    /// `attribute("rtcp")` to see why a malformed one was skipped.
    pub fn rtcp(&self) -> Option<Rtcp<'a>> {
        Attributes::new(self.lines(), Some("rtcp")).find_map(|a| Rtcp::parse(a).ok())
    }

    /// `a=rtcp-mux` present (RFC 5761 §5.1.1).
    pub fn rtcp_mux(&self) -> bool {
        self.attribute("rtcp-mux").is_some()
    }

    /// The section's own direction attribute and its line, if any.
    pub fn direction_attribute(&self) -> Option<(Direction, Attribute<'a>)> {
        self.attributes()
            .find_map(|a| Direction::from_name(a.name()).map(|d| (d, a)))
    }

    /// Effective direction: the section's own, else the session-level one, else `sendrecv`
    /// (RFC 8866 §6.7; RFC 3264 §5.1).
    pub fn direction(&self) -> Direction {
        self.direction_attribute()
            .map(|(d, _)| d)
            .or(self.session_direction)
            .unwrap_or(Direction::SendRecv)
    }

    /// `a=ptime` in milliseconds (RFC 8866 §6.4). Only integral values are returned; a
    /// fractional one stays reachable raw through `attribute("ptime")`.
    pub fn ptime(&self) -> Option<u32> {
        self.attribute("ptime")
            .and_then(|a| parse_u32(a.value()?.trim().as_bytes()))
    }

    /// `a=maxptime` in milliseconds (RFC 8866 §6.5), integral values only.
    pub fn maxptime(&self) -> Option<u32> {
        self.attribute("maxptime")
            .and_then(|a| parse_u32(a.value()?.trim().as_bytes()))
    }

    /// `a=ice-ufrag` of the section, else of the session (RFC 8839 §5.4).
    pub fn ice_ufrag(&self) -> Option<Attribute<'a>> {
        self.attribute_or_session("ice-ufrag")
    }

    /// `a=ice-pwd` of the section, else of the session (RFC 8839 §5.4).
    pub fn ice_pwd(&self) -> Option<Attribute<'a>> {
        self.attribute_or_session("ice-pwd")
    }

    /// `a=ice-lite` at media level or session level (RFC 8839 §5.3 puts it at session level;
    /// liberal about peers that repeat it per media).
    pub fn ice_lite(&self) -> bool {
        self.attribute_or_session("ice-lite").is_some()
    }

    /// The `a=candidate` lines, raw (RFC 8839 §5.1).
    pub fn candidates(&self) -> Attributes<'a> {
        Attributes::new(self.lines(), Some("candidate"))
    }

    /// `a=mid` value (RFC 5888 §4; BUNDLE, RFC 9143, relies on it), if present.
    pub fn mid(&self) -> Option<Field<'a>> {
        self.attribute("mid")
            .and_then(|a| a.value())
            .map(|v| v.trim())
    }
}

/// Iterator over the media sections of an [`Sdp`].
#[derive(Debug, Clone)]
pub struct MediaIter<'a, 's> {
    pub(crate) sdp: &'s Sdp<'a>,
    pub(crate) next: usize,
}

impl<'a> Iterator for MediaIter<'a, '_> {
    type Item = Media<'a>;
    fn next(&mut self) -> Option<Media<'a>> {
        while self.next < self.sdp.media_count() {
            let i = self.next;
            self.next += 1;
            if let Some(m) = self.sdp.media(i) {
                return Some(m);
            }
        }
        None
    }
}
