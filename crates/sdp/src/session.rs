//! The session description: parse-time validation of the structure (RFC 8866 §5) and the
//! session-level accessors.

use core::ops::Range;

use crate::attr::{Attribute, Attributes, Direction};
use crate::error::{SdpError, SdpErrorKind};
use crate::field::Field;
use crate::line::{classify, scan_line, Line, LineShape, Lines};
use crate::media::{parse_mline, Media, MediaIter};

/// Hard cap on media sections. Teams offers one audio (plus video/app-sharing for clients);
/// 64 leaves room for anything legitimate while bounding per-message work and storage.
pub const MAX_MEDIA: usize = 64;

/// Parser limits. Enforced before work is spent; exceeding one is an error, never a
/// truncation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdpConfig {
    /// Maximum number of lines (blank lines included). Default 1024.
    pub max_lines: usize,
}

impl Default for SdpConfig {
    fn default() -> Self {
        SdpConfig { max_lines: 1024 }
    }
}

/// The `o=` line (RFC 8866 §5.2):
/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    line: Line<'a>,
    username: Field<'a>,
    sess_id: Field<'a>,
    sess_version: Field<'a>,
    nettype: Field<'a>,
    addrtype: Field<'a>,
    address: Field<'a>,
    id: u64,
    version: u64,
}

impl<'a> Origin<'a> {
    fn parse(line: Line<'a>) -> Result<Self, SdpError> {
        let bad = |f: Field<'_>| SdpError::new(SdpErrorKind::BadOrigin, f.start());
        let v = line.value();
        let mut w = v.words();
        let mut next = || w.next().ok_or(bad(v.tail_at(v.end())));
        let username = next()?;
        let sess_id = next()?;
        let sess_version = next()?;
        let nettype = next()?;
        let addrtype = next()?;
        let address = next()?;
        if let Some(extra) = w.next() {
            return Err(bad(extra));
        }
        // §5.2: sess-id and sess-version are numeric; the SBC bumps sess-version on every
        // re-offer it generates (RFC 3264 §8), so it must be a usable integer.
        let id = sess_id.to_u64().ok_or(bad(sess_id))?;
        let version = sess_version.to_u64().ok_or(bad(sess_version))?;
        Ok(Origin {
            line,
            username,
            sess_id,
            sess_version,
            nettype,
            addrtype,
            address,
            id,
            version,
        })
    }

    /// The whole line.
    pub fn line(&self) -> Line<'a> {
        self.line
    }
    /// `<username>` (`-` when the host has no user ids).
    pub fn username(&self) -> Field<'a> {
        self.username
    }
    /// `<sess-id>` as a number.
    pub fn session_id(&self) -> u64 {
        self.id
    }
    /// `<sess-id>` text and span.
    pub fn session_id_field(&self) -> Field<'a> {
        self.sess_id
    }
    /// `<sess-version>` as a number.
    pub fn session_version(&self) -> u64 {
        self.version
    }
    /// `<sess-version>` text and span.
    pub fn session_version_field(&self) -> Field<'a> {
        self.sess_version
    }
    /// `<nettype>` (`IN`).
    pub fn nettype(&self) -> Field<'a> {
        self.nettype
    }
    /// `<addrtype>` (`IP4` / `IP6`).
    pub fn addrtype(&self) -> Field<'a> {
        self.addrtype
    }
    /// `<unicast-address>` (topology-hiding SBCs rewrite it).
    pub fn address(&self) -> Field<'a> {
        self.address
    }
}

/// A `c=` line (RFC 8866 §5.7): `c=<nettype> <addrtype> <connection-address>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection<'a> {
    line: Line<'a>,
    nettype: Field<'a>,
    addrtype: Field<'a>,
    address: Field<'a>,
}

impl<'a> Connection<'a> {
    pub(crate) fn parse(line: Line<'a>) -> Result<Self, SdpError> {
        let v = line.value();
        let bad = |at: usize| SdpError::new(SdpErrorKind::BadConnection, at);
        let mut w = v.words();
        let nettype = w.next().ok_or(bad(v.start()))?;
        let addrtype = w.next().ok_or(bad(v.end()))?;
        let address = w.next().ok_or(bad(v.end()))?;
        if let Some(extra) = w.next() {
            return Err(bad(extra.start()));
        }
        Ok(Connection {
            line,
            nettype,
            addrtype,
            address,
        })
    }

    /// The whole line.
    pub fn line(&self) -> Line<'a> {
        self.line
    }
    /// `<nettype>` (`IN`).
    pub fn nettype(&self) -> Field<'a> {
        self.nettype
    }
    /// `<addrtype>` (`IP4` / `IP6`).
    pub fn addrtype(&self) -> Field<'a> {
        self.addrtype
    }
    /// `<connection-address>` raw, multicast `/<ttl>[/<number of addresses>]` suffix
    /// included (§5.7), so replacing it replaces everything.
    pub fn address(&self) -> Field<'a> {
        self.address
    }
    /// The address without any `/ttl` or `/count` suffix.
    pub fn host(&self) -> Field<'a> {
        match self.address.split_once(b'/') {
            Some((h, _)) => h,
            None => self.address,
        }
    }
    /// The raw suffix after the first `/` (multicast TTL and/or address count), if any.
    pub fn suffix(&self) -> Option<Field<'a>> {
        self.address.split_once(b'/').map(|(_, s)| s)
    }
    /// `addrtype` is `IP4`.
    pub fn is_ip4(&self) -> bool {
        self.addrtype.eq_ignore_ascii_case(b"IP4")
    }
    /// `addrtype` is `IP6`.
    pub fn is_ip6(&self) -> bool {
        self.addrtype.eq_ignore_ascii_case(b"IP6")
    }
    /// `0.0.0.0` (or `::`): the RFC 2543 way of putting a call on hold, still sent by
    /// gateways; RFC 3264 §8.4 asks answerers to understand it.
    pub fn is_unspecified(&self) -> bool {
        let h = self.host();
        h == "0.0.0.0" || h == "::"
    }
}

/// A `t=` line (RFC 8866 §5.9): `t=<start-time> <stop-time>` (NTP seconds, `0 0` for SIP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing<'a> {
    line: Line<'a>,
    start: Field<'a>,
    stop: Field<'a>,
}

impl<'a> Timing<'a> {
    fn parse(line: Line<'a>) -> Result<Self, SdpError> {
        let v = line.value();
        let bad = |at: usize| SdpError::new(SdpErrorKind::BadTiming, at);
        let mut w = v.words();
        let start = w.next().ok_or(bad(v.start()))?;
        let stop = w.next().ok_or(bad(v.end()))?;
        if let Some(extra) = w.next() {
            return Err(bad(extra.start()));
        }
        Ok(Timing { line, start, stop })
    }

    /// The whole line.
    pub fn line(&self) -> Line<'a> {
        self.line
    }
    /// `<start-time>` text and span.
    pub fn start(&self) -> Field<'a> {
        self.start
    }
    /// `<stop-time>` text and span.
    pub fn stop(&self) -> Field<'a> {
        self.stop
    }
    /// `<start-time>` as a number, if it is one.
    pub fn start_time(&self) -> Option<u64> {
        self.start.to_u64()
    }
    /// `<stop-time>` as a number, if it is one.
    pub fn stop_time(&self) -> Option<u64> {
        self.stop.to_u64()
    }
}

/// A `b=` line (RFC 8866 §5.8): `b=<bwtype>:<bandwidth>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bandwidth<'a> {
    line: Line<'a>,
    bwtype: Field<'a>,
    value: Field<'a>,
}

impl<'a> Bandwidth<'a> {
    pub(crate) fn from_line(line: Line<'a>) -> Self {
        let v = line.value();
        match v.split_once(b':') {
            Some((t, b)) => Bandwidth {
                line,
                bwtype: t.trim(),
                value: b.trim(),
            },
            // Liberal: keep a value without ':' as a type with an empty bandwidth.
            None => Bandwidth {
                line,
                bwtype: v.trim(),
                value: v.tail_at(v.end()),
            },
        }
    }
    /// The whole line.
    pub fn line(&self) -> Line<'a> {
        self.line
    }
    /// `<bwtype>` (`CT`, `AS`, `TIAS` (RFC 3890), ...).
    pub fn bwtype(&self) -> Field<'a> {
        self.bwtype
    }
    /// `<bandwidth>` text and span.
    pub fn value(&self) -> Field<'a> {
        self.value
    }
    /// `<bandwidth>` as a number (kbit/s for CT/AS, bit/s for TIAS), if it is one.
    pub fn bandwidth(&self) -> Option<u64> {
        self.value.to_u64()
    }
}

/// Iterator over `b=` lines of one section.
#[derive(Debug, Clone)]
pub struct Bandwidths<'a> {
    pub(crate) lines: Lines<'a>,
}

impl<'a> Iterator for Bandwidths<'a> {
    type Item = Bandwidth<'a>;
    fn next(&mut self) -> Option<Bandwidth<'a>> {
        self.lines
            .by_ref()
            .find(|l| l.kind() == b'b')
            .map(Bandwidth::from_line)
    }
}

/// Iterator over `c=` lines of one section (several are legal at media level for layered
/// multicast, RFC 8866 §5.7).
#[derive(Debug, Clone)]
pub struct Connections<'a> {
    pub(crate) lines: Lines<'a>,
}

impl<'a> Iterator for Connections<'a> {
    type Item = Connection<'a>;
    fn next(&mut self) -> Option<Connection<'a>> {
        // Validated by `Sdp::parse`; a failure here cannot happen and is skipped.
        self.lines
            .by_ref()
            .filter(|l| l.kind() == b'c')
            .find_map(|l| Connection::parse(l).ok())
    }
}

/// A validated SDP body: the session section plus up to [`MAX_MEDIA`] media sections.
///
/// Nothing is copied; everything returned borrows the body and carries its byte span, so an
/// SBC can express its rewrite as an edit list and leave every other byte untouched.
#[derive(Debug, Clone)]
pub struct Sdp<'a> {
    body: &'a [u8],
    version: Line<'a>,
    origin: Origin<'a>,
    session_name: Line<'a>,
    timing: Timing<'a>,
    connection: Option<Connection<'a>>,
    session_direction: Option<Direction>,
    session_end: usize,
    media_starts: [usize; MAX_MEDIA],
    media_count: usize,
}

impl<'a> Sdp<'a> {
    /// Parses with the default [`SdpConfig`].
    pub fn parse(body: &'a [u8]) -> Result<Sdp<'a>, SdpError> {
        Self::parse_with(body, &SdpConfig::default())
    }

    /// Parses and validates the structure in one bounded pass over the body:
    /// `v=0` first; exactly one `o=` and `s=` and at least one `t=` in the session section
    /// (any order after `v=`, RFC 8866 §5 fixes one but peers differ); well-formed `o=`, `c=`,
    /// `t=` and `m=` lines; unknown line types and attributes kept as they are.
    pub fn parse_with(body: &'a [u8], cfg: &SdpConfig) -> Result<Sdp<'a>, SdpError> {
        use SdpErrorKind as K;
        let err = |k, at| Err(SdpError::new(k, at));
        if body.is_empty() {
            return err(K::Empty, 0);
        }
        let mut version = None;
        let mut origin = None;
        let mut session_name = None;
        let mut timing = None;
        let mut connection = None;
        let mut session_direction = None;
        let mut media_starts = [0usize; MAX_MEDIA];
        let mut media_count = 0usize;
        let mut session_end = body.len();

        let mut pos = 0;
        let mut n_lines = 0usize;
        while pos < body.len() {
            if n_lines >= cfg.max_lines {
                return err(K::TooManyLines, pos);
            }
            n_lines += 1;
            let raw = scan_line(body, pos, body.len());
            pos = raw.next;
            let line = match classify(body, raw) {
                LineShape::Ok(l) => l,
                // A stray empty line is harmless; but `v=` must still be the first line.
                LineShape::Blank if version.is_some() => continue,
                LineShape::Blank => return err(K::VersionNotFirst, raw.start),
                LineShape::NoEquals => return err(K::MissingEquals, raw.start),
                LineShape::BadType => return err(K::BadLineType, raw.start),
            };
            let in_session = media_count == 0;
            match line.kind() {
                b'v' => {
                    if version.is_some() {
                        return err(K::DuplicateLine, line.start());
                    }
                    if line.value().trim() != "0" {
                        return err(K::BadVersion, line.value().start());
                    }
                    version = Some(line);
                    continue;
                }
                _ if version.is_none() => return err(K::VersionNotFirst, line.start()),
                b'o' if in_session => {
                    if origin.is_some() {
                        return err(K::DuplicateLine, line.start());
                    }
                    origin = Some(Origin::parse(line)?);
                }
                b's' if in_session => {
                    if session_name.is_some() {
                        return err(K::DuplicateLine, line.start());
                    }
                    session_name = Some(line);
                }
                b't' if in_session => {
                    let t = Timing::parse(line)?;
                    // Several t= (with r=/z=) are legal (§5.9); the first one is reported.
                    if timing.is_none() {
                        timing = Some(t);
                    }
                }
                b'c' => {
                    let c = Connection::parse(line)?;
                    // §5.7 allows one session-level c=; liberal: the first one wins.
                    if in_session && connection.is_none() {
                        connection = Some(c);
                    }
                }
                b'a' if in_session && session_direction.is_none() => {
                    session_direction = Direction::from_name(Attribute::from_line(line).name());
                }
                b'm' => {
                    if in_session {
                        // The session section ends here: check what it must contain.
                        check_session(
                            origin.is_some(),
                            session_name.is_some(),
                            timing.is_some(),
                            line.start(),
                        )?;
                        session_end = line.start();
                    }
                    if media_count == MAX_MEDIA {
                        return err(K::TooManyMedia, line.start());
                    }
                    parse_mline(line)?;
                    media_starts[media_count] = line.start();
                    media_count += 1;
                }
                _ => {}
            }
        }
        let Some(version) = version else {
            return err(K::VersionNotFirst, 0);
        };
        check_session(
            origin.is_some(),
            session_name.is_some(),
            timing.is_some(),
            session_end,
        )?;
        match (origin, session_name, timing) {
            (Some(origin), Some(session_name), Some(timing)) => Ok(Sdp {
                body,
                version,
                origin,
                session_name,
                timing,
                connection,
                session_direction,
                session_end,
                media_starts,
                media_count,
            }),
            _ => err(K::MissingOrigin, session_end),
        }
    }

    /// The body this view borrows.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Offset of `sub` in the body when `sub` is a sub-slice of it (e.g. the bytes of a
    /// [`Field`] obtained elsewhere), `None` otherwise. Pointer arithmetic only, no `unsafe`.
    pub fn offset_of(&self, sub: &[u8]) -> Option<usize> {
        let base = self.body.as_ptr() as usize;
        let p = sub.as_ptr() as usize;
        let off = p.checked_sub(base)?;
        (off <= self.body.len() && sub.len() <= self.body.len() - off).then_some(off)
    }

    /// The `v=` line.
    pub fn version_line(&self) -> Line<'a> {
        self.version
    }

    /// The `o=` line, parsed.
    pub fn origin(&self) -> &Origin<'a> {
        &self.origin
    }

    /// The `s=` value (may be a single space or `-`, RFC 8866 §5.3).
    pub fn session_name(&self) -> Field<'a> {
        self.session_name.value()
    }

    /// The `s=` line.
    pub fn session_name_line(&self) -> Line<'a> {
        self.session_name
    }

    /// The first `t=` line.
    pub fn timing(&self) -> &Timing<'a> {
        &self.timing
    }

    /// The session-level `c=` line, if any.
    pub fn connection(&self) -> Option<&Connection<'a>> {
        self.connection.as_ref()
    }

    /// Session-level `b=` lines.
    pub fn bandwidths(&self) -> Bandwidths<'a> {
        Bandwidths {
            lines: self.session_lines(),
        }
    }

    /// Session-level attributes (`a=` lines before the first `m=`).
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes::new(self.session_lines(), None)
    }

    /// First session-level attribute with this name (ASCII case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<Attribute<'a>> {
        self.attributes().find(|a| a.is_named(name))
    }

    /// The session-level direction attribute, if any (RFC 8866 §6.7: it is the default
    /// for media sections that carry none).
    pub fn direction(&self) -> Option<Direction> {
        self.session_direction
    }

    /// `a=ice-lite` at session level (RFC 8839 §5.3 defines it only there).
    pub fn ice_lite(&self) -> bool {
        self.attribute("ice-lite").is_some()
    }

    /// Every line of the body.
    pub fn lines(&self) -> Lines<'a> {
        Lines::new(self.body, 0, self.body.len())
    }

    /// The lines of the session section.
    pub fn session_lines(&self) -> Lines<'a> {
        Lines::new(self.body, 0, self.session_end)
    }

    /// Span of the session section: from the start to the first `m=` line (or the end).
    pub fn session_range(&self) -> Range<usize> {
        0..self.session_end
    }

    /// Number of media sections.
    pub fn media_count(&self) -> usize {
        self.media_count
    }

    /// Media section `index` (0-based, in body order).
    pub fn media(&self, index: usize) -> Option<Media<'a>> {
        if index >= self.media_count {
            return None;
        }
        let start = *self.media_starts.get(index)?;
        let end = match self.media_starts.get(index + 1) {
            Some(&s) if index + 1 < self.media_count => s,
            _ => self.body.len(),
        };
        Media::new(
            self.body,
            index,
            start,
            end,
            self.session_end,
            self.session_direction,
            self.connection,
        )
    }

    /// All media sections in order.
    pub fn media_iter(&self) -> MediaIter<'a, '_> {
        MediaIter { sdp: self, next: 0 }
    }

    /// Session-level lookup helper for media: first attribute with this name in the session
    /// section.
    pub(crate) fn session_attribute(
        body: &'a [u8],
        session_end: usize,
        name: &str,
    ) -> Option<Attribute<'a>> {
        Attributes::new(Lines::new(body, 0, session_end), None).find(|a| a.is_named(name))
    }
}

fn check_session(origin: bool, name: bool, timing: bool, at: usize) -> Result<(), SdpError> {
    let kind = if !origin {
        SdpErrorKind::MissingOrigin
    } else if !name {
        SdpErrorKind::MissingSessionName
    } else if !timing {
        SdpErrorKind::MissingTiming
    } else {
        return Ok(());
    };
    Err(SdpError::new(kind, at))
}
