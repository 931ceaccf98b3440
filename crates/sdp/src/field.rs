//! [`Field`]: a borrowed sub-slice of the SDP body that remembers where it starts, so every
//! value handed out can be turned into an edit span.

use core::fmt;
use core::ops::Range;

/// A piece of the SDP body: the bytes plus their offset from the start of the body.
///
/// `&body[f.range()] == f.as_bytes()` always holds for fields produced by this crate.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Field<'a> {
    bytes: &'a [u8],
    start: usize,
}

impl<'a> Field<'a> {
    /// `body[start..end]` as a field; an out-of-range request yields an empty field (never a
    /// panic; internal callers only pass ranges they have checked).
    pub(crate) fn of(body: &'a [u8], start: usize, end: usize) -> Field<'a> {
        match body.get(start..end) {
            Some(bytes) => Field { bytes, start },
            None => Field {
                bytes: &[],
                start: start.min(body.len()),
            },
        }
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The bytes as UTF-8 text, when they are.
    pub fn as_str(&self) -> Option<&'a str> {
        core::str::from_utf8(self.bytes).ok()
    }

    /// Offset of the first byte in the body.
    #[inline]
    pub fn start(&self) -> usize {
        self.start
    }

    /// Offset just past the last byte.
    #[inline]
    pub fn end(&self) -> usize {
        self.start + self.bytes.len()
    }

    /// The edit span: `start()..end()`.
    #[inline]
    pub fn range(&self) -> Range<usize> {
        self.start..self.end()
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when empty (an empty field still has a position, usable as an insertion point).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// ASCII case-insensitive comparison.
    pub fn eq_ignore_ascii_case(&self, other: &[u8]) -> bool {
        self.bytes.eq_ignore_ascii_case(other)
    }

    /// The field as an unsigned decimal (`None` for empty, non-digit or overflowing text).
    pub fn to_u64(&self) -> Option<u64> {
        parse_u64(self.bytes)
    }

    /// A sub-field by offsets relative to this field (clamped, never panics).
    pub(crate) fn slice(&self, from: usize, to: usize) -> Field<'a> {
        let to = to.min(self.bytes.len());
        let from = from.min(to);
        Field {
            bytes: &self.bytes[from..to],
            start: self.start + from,
        }
    }

    /// The part of this field from body offset `at` to its end (clamped).
    pub(crate) fn tail_at(&self, at: usize) -> Field<'a> {
        self.slice(at.saturating_sub(self.start), self.bytes.len())
    }

    /// Trims SP and HTAB on both ends (RFC 8866 uses single SPs, but peers pad; be liberal).
    pub fn trim(&self) -> Field<'a> {
        let b = self.bytes;
        let mut s = 0;
        while s < b.len() && is_wsp(b[s]) {
            s += 1;
        }
        let mut e = b.len();
        while e > s && is_wsp(b[e - 1]) {
            e -= 1;
        }
        self.slice(s, e)
    }

    /// Splits at the first `sep`: the part before and the part after (both without `sep`).
    pub fn split_once(&self, sep: u8) -> Option<(Field<'a>, Field<'a>)> {
        let i = self.bytes.iter().position(|&b| b == sep)?;
        Some((self.slice(0, i), self.slice(i + 1, self.bytes.len())))
    }

    /// The SP/HTAB-separated words of this field, each a field of its own.
    pub fn words(&self) -> Words<'a> {
        Words {
            field: *self,
            pos: 0,
        }
    }

    /// Splits at every `sep`, yielding the (untrimmed, possibly empty) pieces.
    pub fn split(&self, sep: u8) -> Split<'a> {
        Split {
            field: *self,
            pos: 0,
            done: false,
            sep,
        }
    }
}

impl fmt::Debug for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"@{}", self.bytes.escape_ascii(), self.start)
    }
}

impl PartialEq<[u8]> for Field<'_> {
    fn eq(&self, other: &[u8]) -> bool {
        self.bytes == other
    }
}

impl PartialEq<&[u8]> for Field<'_> {
    fn eq(&self, other: &&[u8]) -> bool {
        self.bytes == *other
    }
}

impl PartialEq<str> for Field<'_> {
    fn eq(&self, other: &str) -> bool {
        self.bytes == other.as_bytes()
    }
}

impl PartialEq<&str> for Field<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.bytes == other.as_bytes()
    }
}

/// Iterator behind [`Field::words`]. Each step advances by at least one byte.
#[derive(Debug, Clone)]
pub struct Words<'a> {
    field: Field<'a>,
    pos: usize,
}

impl<'a> Words<'a> {
    /// What has not been consumed yet, trimmed (e.g. the format list after the proto).
    pub fn rest(&self) -> Field<'a> {
        self.field.slice(self.pos, self.field.len()).trim()
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        let b = self.field.bytes;
        let mut i = self.pos;
        while i < b.len() && is_wsp(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            self.pos = b.len();
            return None;
        }
        let s = i;
        while i < b.len() && !is_wsp(b[i]) {
            i += 1;
        }
        self.pos = i;
        Some(self.field.slice(s, i))
    }
}

/// Iterator behind [`Field::split`].
#[derive(Debug, Clone)]
pub struct Split<'a> {
    field: Field<'a>,
    pos: usize,
    done: bool,
    sep: u8,
}

impl<'a> Iterator for Split<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        if self.done {
            return None;
        }
        let b = self.field.bytes;
        let s = self.pos.min(b.len());
        match b[s..].iter().position(|&c| c == self.sep) {
            Some(i) => {
                self.pos = s + i + 1;
                Some(self.field.slice(s, s + i))
            }
            None => {
                self.done = true;
                Some(self.field.slice(s, b.len()))
            }
        }
    }
}

/// SP or HTAB.
#[inline]
pub(crate) fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Unsigned decimal, digits only, no sign, must fit `u64`.
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

pub(crate) fn parse_u32(s: &[u8]) -> Option<u32> {
    parse_u64(s).and_then(|v| u32::try_from(v).ok())
}

pub(crate) fn parse_u16(s: &[u8]) -> Option<u16> {
    parse_u64(s).and_then(|v| u16::try_from(v).ok())
}

pub(crate) fn parse_u8(s: &[u8]) -> Option<u8> {
    parse_u64(s).and_then(|v| u8::try_from(v).ok())
}
