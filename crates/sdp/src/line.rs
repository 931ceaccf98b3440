//! SDP lines (RFC 8866 §5): `<type>=<value>` terminated by CRLF. §5 also asks parsers to
//! accept a bare LF, and the last line of a SIP body often has no terminator at all, so all
//! three endings are accepted here.

use core::ops::Range;

use crate::field::Field;

/// One `<type>=<value>` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    kind: u8,
    value: Field<'a>,
    raw: Field<'a>,
}

impl<'a> Line<'a> {
    /// The type letter (`b'v'`, `b'o'`, `b'm'`, `b'a'`, ...). Unknown letters are kept.
    #[inline]
    pub fn kind(&self) -> u8 {
        self.kind
    }

    /// Everything after `=` up to (not including) the line end.
    #[inline]
    pub fn value(&self) -> Field<'a> {
        self.value
    }

    /// The whole line including its line end (CRLF, LF, or nothing on the last line).
    #[inline]
    pub fn raw(&self) -> Field<'a> {
        self.raw
    }

    /// First byte of the line (the type letter).
    #[inline]
    pub fn start(&self) -> usize {
        self.raw.start()
    }

    /// The span to delete to remove this line entirely, line end included.
    #[inline]
    pub fn range(&self) -> Range<usize> {
        self.raw.range()
    }

    /// The span of the line without its line end (replace this to rewrite the line and keep
    /// the peer's line-end style).
    #[inline]
    pub fn content_range(&self) -> Range<usize> {
        self.raw.start()..self.value.end()
    }
}

/// Where one physical line lies: `start..content_end` is the text, `next` is the start of the
/// following line. Always `next > start` when `start < end`, so loops over lines terminate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawLine {
    pub start: usize,
    pub content_end: usize,
    pub next: usize,
}

/// Finds the line beginning at `pos`, not looking at or beyond `end`.
pub(crate) fn scan_line(body: &[u8], pos: usize, end: usize) -> RawLine {
    let end = end.min(body.len());
    let pos = pos.min(end);
    let hay = &body[pos..end];
    match hay.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let lf = pos + i;
            let content_end = if i > 0 && hay[i - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            RawLine {
                start: pos,
                content_end,
                next: lf + 1,
            }
        }
        None => {
            // Unterminated last line; a lone trailing CR is still taken as its line end.
            let content_end = if hay.last() == Some(&b'\r') {
                end - 1
            } else {
                end
            };
            RawLine {
                start: pos,
                content_end,
                next: end,
            }
        }
    }
}

/// What a non-empty physical line is.
pub(crate) enum LineShape<'a> {
    Ok(Line<'a>),
    /// Zero-length line: tolerated and skipped (peers append a stray CRLF).
    Blank,
    /// No `=` at index 1.
    NoEquals,
    /// `=` is there but the type is not an ASCII letter.
    BadType,
}

pub(crate) fn classify<'a>(body: &'a [u8], raw: RawLine) -> LineShape<'a> {
    let text = body.get(raw.start..raw.content_end).unwrap_or(&[]);
    if text.is_empty() {
        return LineShape::Blank;
    }
    if text.len() < 2 || text[1] != b'=' {
        return LineShape::NoEquals;
    }
    if !text[0].is_ascii_alphabetic() {
        return LineShape::BadType;
    }
    LineShape::Ok(Line {
        kind: text[0],
        value: Field::of(body, raw.start + 2, raw.content_end),
        raw: Field::of(body, raw.start, raw.next),
    })
}

/// Iterator over the lines of a validated range of the body. Blank lines are skipped; on a
/// malformed line (impossible after [`crate::Sdp::parse`]) iteration stops.
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    body: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(body: &'a [u8], start: usize, end: usize) -> Self {
        let end = end.min(body.len());
        Lines {
            body,
            pos: start.min(end),
            end,
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        while self.pos < self.end {
            let raw = scan_line(self.body, self.pos, self.end);
            self.pos = raw.next;
            match classify(self.body, raw) {
                LineShape::Ok(l) => return Some(l),
                LineShape::Blank => continue,
                LineShape::NoEquals | LineShape::BadType => {
                    self.pos = self.end;
                    return None;
                }
            }
        }
        None
    }
}
