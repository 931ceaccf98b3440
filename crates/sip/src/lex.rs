//! Byte-level scanners shared by every SIP grammar in this crate (RFC 3261 §25.1).
//!
//! Everything here works on borrowed `&[u8]` and never allocates. Positions are indices into
//! the slice passed in; callers add their own base offset when they report errors.

use crate::error::{Syntax, SyntaxError};

/// Character classes, one bit each, looked up in a 256-entry table.
const TOKEN: u8 = 1; // RFC 3261 `token` characters
const WS: u8 = 2; // SP / HTAB
const DIGIT: u8 = 4;
const ALPHA: u8 = 8;
const HEX: u8 = 16;
const UNRESERVED_MARK: u8 = 32; // RFC 3261 `mark`: - _ . ! ~ * ' ( )

const fn build_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut v = 0;
        if c.is_ascii_alphanumeric() {
            v |= TOKEN;
        }
        if matches!(
            c,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        ) {
            v |= TOKEN;
        }
        if c == b' ' || c == b'\t' {
            v |= WS;
        }
        if c.is_ascii_digit() {
            v |= DIGIT;
        }
        if c.is_ascii_alphabetic() {
            v |= ALPHA;
        }
        if c.is_ascii_hexdigit() {
            v |= HEX;
        }
        if matches!(
            c,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        ) {
            v |= UNRESERVED_MARK;
        }
        t[i] = v;
        i += 1;
    }
    t
}

static CLASS: [u8; 256] = build_table();

/// RFC 3261 `token` character.
#[inline]
pub fn is_token(b: u8) -> bool {
    CLASS[b as usize] & TOKEN != 0
}

/// SP or HTAB.
#[inline]
pub fn is_ws(b: u8) -> bool {
    CLASS[b as usize] & WS != 0
}

/// ASCII digit.
#[inline]
pub fn is_digit(b: u8) -> bool {
    CLASS[b as usize] & DIGIT != 0
}

/// ASCII letter.
#[inline]
pub fn is_alpha(b: u8) -> bool {
    CLASS[b as usize] & ALPHA != 0
}

/// ASCII hex digit.
#[inline]
pub fn is_hex(b: u8) -> bool {
    CLASS[b as usize] & HEX != 0
}

/// RFC 3261 `unreserved` = alphanum / mark.
#[inline]
pub fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || CLASS[b as usize] & UNRESERVED_MARK != 0
}

/// Index of the first `needle` in `s`: the first 64 bytes eight at a time (SWAR), the rest
/// with `memchr`. For the short spans of the parse path (a header line, a name up to its
/// colon), where `memchr`'s dispatch and setup cost more than the search itself, without
/// giving up its vector loop on long lines.
#[inline]
pub fn find_byte(s: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const SWAR_SPAN: usize = 64;
    let pat = LO * u64::from(needle);
    let mut i = 0;
    while i + 8 <= s.len() {
        if i == SWAR_SPAN {
            return memchr::memchr(needle, &s[i..]).map(|p| i + p);
        }
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        let x = u64::from_le_bytes(w) ^ pat;
        // The lowest set bit marks the first zero byte exactly (borrows only run upwards).
        let t = x.wrapping_sub(LO) & !x & HI;
        if t != 0 {
            return Some(i + (t.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..].iter().position(|&b| b == needle).map(|p| i + p)
}

/// Index of the first `:` or LF in `s`: the header loop's first search on a line, which
/// tells in one pass over the name where the name ends or that the line has no colon. The
/// first 32 bytes eight at a time (SWAR, as [`find_byte`]), the rest with `memchr2`.
#[inline]
pub fn find_colon_or_lf(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const SWAR_SPAN: usize = 32;
    let mut i = 0;
    while i + 8 <= s.len() {
        if i == SWAR_SPAN {
            return memchr::memchr2(b':', b'\n', &s[i..]).map(|p| i + p);
        }
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        let w = u64::from_le_bytes(w);
        let x = w ^ (LO * u64::from(b':'));
        let y = w ^ (LO * u64::from(b'\n'));
        // Each term's lowest set bit marks its first zero byte exactly, so the lowest bit of
        // the union marks the first byte that is either needle.
        let t = ((x.wrapping_sub(LO) & !x) | (y.wrapping_sub(LO) & !y)) & HI;
        if t != 0 {
            return Some(i + (t.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..]
        .iter()
        .position(|&b| b == b':' || b == b'\n')
        .map(|p| i + p)
}

/// True when every byte is a token character and the slice is not empty.
pub fn is_token_str(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token(b))
}

/// Skips linear white space from `pos`: SP, HTAB and header folding (CRLF followed by
/// SP/HTAB, RFC 3261 §7.3.1). A CRLF not followed by white space is not skipped.
#[inline]
pub fn skip_lws(s: &[u8], mut pos: usize) -> usize {
    loop {
        match s.get(pos) {
            Some(b' ' | b'\t') => pos += 1,
            Some(b'\r')
                if s.get(pos + 1) == Some(&b'\n') && s.get(pos + 2).is_some_and(|&b| is_ws(b)) =>
            {
                pos += 3
            }
            Some(b'\n') if s.get(pos + 1).is_some_and(|&b| is_ws(b)) => pos += 2,
            _ => return pos,
        }
    }
}

/// Trims LWS (including folding) from both ends.
pub fn trim_lws(s: &[u8]) -> &[u8] {
    let start = skip_lws(s, 0);
    let mut end = s.len();
    while end > start && matches!(s[end - 1], b' ' | b'\t' | b'\r' | b'\n') {
        end -= 1;
    }
    &s[start..end]
}

/// Given `s[pos] == b'"'`, returns the index just past the closing quote. Quoted-pairs
/// (`\` + any byte except CR/LF, RFC 3261 §25.1) are honoured.
pub fn scan_quoted(s: &[u8], pos: usize) -> Result<usize, SyntaxError> {
    debug_assert_eq!(s.get(pos), Some(&b'"'));
    let mut i = pos + 1;
    while i < s.len() {
        match s[i] {
            b'"' => return Ok(i + 1),
            b'\\' => match s.get(i + 1) {
                Some(b'\r' | b'\n') | None => {
                    return Err(SyntaxError::new(Syntax::UnterminatedQuote, pos))
                }
                Some(_) => i += 2,
            },
            // Folding inside a quoted string is legal LWS; a bare line end is not.
            b'\r' | b'\n' => {
                let next = skip_lws(s, i);
                if next == i {
                    return Err(SyntaxError::new(Syntax::UnterminatedQuote, pos));
                }
                i = next;
            }
            _ => i += 1,
        }
    }
    Err(SyntaxError::new(Syntax::UnterminatedQuote, pos))
}

/// Finds the first `sep` at nesting level zero: outside quoted strings and `<...>`.
/// Returns `Ok(None)` when there is none.
///
/// Outside brackets only `sep`, `"` and `<` matter and inside them only `>`, so the scan
/// jumps between those bytes with `memchr` instead of looking at every byte.
pub fn find_top_level(s: &[u8], from: usize, sep: u8) -> Result<Option<usize>, SyntaxError> {
    if sep == b'>' {
        // `>` only ever closes a bracket here; it is never found as a separator.
        return find_top_level_bytewise(s, from, sep);
    }
    let mut i = from;
    while i < s.len() {
        let Some(k) = memchr::memchr3(sep, b'"', b'<', &s[i..]) else {
            return Ok(None);
        };
        let j = i + k;
        match s[j] {
            b'"' => i = scan_quoted(s, j)?,
            b'<' => match memchr::memchr(b'>', &s[j + 1..]) {
                Some(g) => i = j + 1 + g + 1,
                None => return Err(SyntaxError::new(Syntax::UnterminatedAngle, from)),
            },
            _ => return Ok(Some(j)),
        }
    }
    Ok(None)
}

/// The byte-at-a-time definition of [`find_top_level`] (kept for `sep == b'>'` and as the
/// reference the fast scan is tested against).
fn find_top_level_bytewise(s: &[u8], from: usize, sep: u8) -> Result<Option<usize>, SyntaxError> {
    let mut i = from;
    let mut angle = false;
    while i < s.len() {
        let b = s[i];
        if b == b'"' && !angle {
            i = scan_quoted(s, i)?;
            continue;
        }
        if b == b'<' {
            angle = true;
        } else if b == b'>' {
            angle = false;
        } else if b == sep && !angle {
            return Ok(Some(i));
        }
        i += 1;
    }
    if angle {
        return Err(SyntaxError::new(Syntax::UnterminatedAngle, from));
    }
    Ok(None)
}

/// Iterator over the elements of a comma-separated header value (RFC 3261 §7.3.1), splitting
/// only at top-level commas. Elements are LWS-trimmed; empty elements are yielded as empty
/// slices so the caller can decide whether they are errors. Yields `(offset, element)`.
#[derive(Debug, Clone)]
pub struct CommaSplit<'a> {
    s: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> CommaSplit<'a> {
    /// Splits `s`.
    pub fn new(s: &'a [u8]) -> Self {
        CommaSplit {
            s,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = Result<(usize, &'a [u8]), SyntaxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let start = self.pos;
        let end = match find_top_level(self.s, start, b',') {
            Ok(Some(i)) => i,
            Ok(None) => {
                self.done = true;
                self.s.len()
            }
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        self.pos = end + 1;
        let raw = &self.s[start..end];
        let lead = skip_lws(raw, 0);
        let elem = trim_lws(raw);
        Some(Ok((start + lead, elem)))
    }
}

/// A `;name[=value]` parameter list as it appears after a URI, a Via or a name-addr.
/// Holds the raw bytes starting at the first `;` (or empty). Lookups are case-insensitive
/// on the name; values are returned raw (quotes kept), use [`unquote`] when needed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Params<'a> {
    raw: &'a [u8],
}

impl<'a> Params<'a> {
    /// Wraps raw parameter bytes (starting with `;`, or empty). Call [`Params::validate`] to
    /// check the grammar; iteration on unvalidated input stops at the first malformed entry.
    pub fn new(raw: &'a [u8]) -> Self {
        Params { raw }
    }

    /// The raw bytes, including the leading `;`.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Iterates `(name, value)` pairs; `value` is `None` for a flag parameter.
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter {
            s: self.raw,
            pos: 0,
        }
    }

    /// First parameter with this name (ASCII case-insensitive). `Some(None)` for a flag.
    pub fn get(&self, name: &str) -> Option<Option<&'a [u8]>> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// True when a parameter with this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Checks the whole list: every entry is `;` LWS token [LWS `=` LWS (token / host /
    /// quoted-string)]. Empty entries (`;;`) are errors (RFC 4475 badinv01).
    pub fn validate(&self) -> Result<(), SyntaxError> {
        validate_params(self.raw, b"")
    }
}

/// Validates a parameter list; `extra` lists bytes allowed in values beyond token characters
/// (e.g. `:[]` for IPv6 `received`/`maddr` values, `/` and `@` for URI params).
pub fn validate_params(s: &[u8], extra: &[u8]) -> Result<(), SyntaxError> {
    validate_params_find(s, extra, b"").map(|_| ())
}

/// [`validate_params`] that also returns what `Params::new(s).get(want).flatten()` would
/// return on the validated list (the first `want` parameter's value, `None` for a flag or
/// when absent), in the same walk: the parse path's Via `branch` and From/To `tag` cost no
/// second pass.
pub fn validate_params_find<'a>(
    s: &'a [u8],
    extra: &[u8],
    want: &[u8],
) -> Result<Option<&'a [u8]>, SyntaxError> {
    let mut found: Option<Option<&'a [u8]>> = None;
    let mut i = 0;
    while i < s.len() {
        i = skip_lws(s, i);
        if i >= s.len() {
            break;
        }
        if s[i] != b';' {
            return Err(SyntaxError::new(Syntax::BadParam, i));
        }
        i = skip_lws(s, i + 1);
        let name_start = i;
        while i < s.len() && is_token(s[i]) {
            i += 1;
        }
        if i == name_start {
            return Err(SyntaxError::new(Syntax::BadParam, name_start));
        }
        let name = &s[name_start..i];
        i = skip_lws(s, i);
        let mut value = None;
        if s.get(i) == Some(&b'=') {
            i = skip_lws(s, i + 1);
            let vstart = i;
            if s.get(i) == Some(&b'"') {
                i = scan_quoted(s, i)?;
            } else {
                // Token runs, each continued past a byte of `extra` (rare: IPv6 values).
                loop {
                    while i < s.len() && is_token(s[i]) {
                        i += 1;
                    }
                    match s.get(i) {
                        Some(b) if extra.contains(b) => i += 1,
                        _ => break,
                    }
                }
                if i == vstart {
                    return Err(SyntaxError::new(Syntax::BadParam, vstart));
                }
            }
            value = Some(&s[vstart..i]);
        }
        if found.is_none() && name.len() == want.len() && name.eq_ignore_ascii_case(want) {
            found = Some(value);
        }
    }
    Ok(found.flatten())
}

/// Iterator behind [`Params::iter`].
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.s;
        loop {
            let mut i = skip_lws(s, self.pos);
            if i >= s.len() {
                return None;
            }
            if s[i] != b';' {
                self.pos = s.len();
                return None;
            }
            i = skip_lws(s, i + 1);
            let ns = i;
            while i < s.len() && is_token(s[i]) {
                i += 1;
            }
            let name = &s[ns..i];
            i = skip_lws(s, i);
            let mut value = None;
            if s.get(i) == Some(&b'=') {
                i = skip_lws(s, i + 1);
                let vs = i;
                if s.get(i) == Some(&b'"') {
                    i = scan_quoted(s, i).unwrap_or(s.len());
                } else {
                    while i < s.len()
                        && s[i] != b';'
                        && !matches!(s[i], b' ' | b'\t' | b'\r' | b'\n')
                    {
                        i += 1;
                    }
                }
                value = Some(&s[vs..i]);
            }
            self.pos = i;
            if name.is_empty() {
                // Tolerated by the iterator (validate() reports it); skip the empty entry.
                if i >= s.len() {
                    return None;
                }
                continue;
            }
            return Some((name, value));
        }
    }
}

/// Removes surrounding quotes from a quoted-string, leaving quoted-pairs escaped.
pub fn unquote(v: &[u8]) -> &[u8] {
    if v.len() >= 2 && v[0] == b'"' && v[v.len() - 1] == b'"' {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// Parses an unsigned decimal that must fit in `u32` (leading zeros allowed, RFC 4475
/// wsinv "0068"). `None` for empty, non-digit or overflowing input; never wraps.
pub fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !is_digit(b) {
            return None;
        }
        v = v * 10 + u64::from(b - b'0');
        if v > u64::from(u32::MAX) {
            return None;
        }
    }
    Some(v as u32)
}

/// Percent-decodes into `out` (RFC 3261 §19.1.2). Invalid escapes are errors; `%00` decodes
/// to a NUL byte and does not terminate anything (RFC 4475 escnull).
pub fn percent_decode_into(s: &[u8], out: &mut Vec<u8>) -> Result<(), SyntaxError> {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            match (s.get(i + 1), s.get(i + 2)) {
                (Some(&h), Some(&l)) if is_hex(h) && is_hex(l) => {
                    out.push(hex_val(h) << 4 | hex_val(l));
                    i += 3;
                }
                _ => return Err(SyntaxError::new(Syntax::BadEscape, i)),
            }
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Ok(())
}

/// Value of one hex digit (callers check `is_hex` first).
#[inline]
pub fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b.wrapping_sub(b'A').wrapping_add(10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lws_and_folding() {
        assert_eq!(skip_lws(b" \t\r\n  x", 0), 6);
        assert_eq!(skip_lws(b"\r\nx", 0), 0);
        assert_eq!(trim_lws(b"  a b \r\n"), b"a b");
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(scan_quoted(br#""a\"b" x"#, 0).unwrap(), 6);
        assert!(scan_quoted(br#""abc"#, 0).is_err());
        assert!(scan_quoted(b"\"a\\", 0).is_err());
    }

    #[test]
    fn comma_split_respects_quotes_and_angles() {
        let v = br#""a,b" <sip:x@y;p=1,2>;q=1 , <sip:z>"#;
        let parts: Vec<_> = CommaSplit::new(v).map(|r| r.unwrap().1).collect();
        assert_eq!(
            parts,
            vec![&br#""a,b" <sip:x@y;p=1,2>;q=1"#[..], b"<sip:z>"]
        );
    }

    #[test]
    fn find_top_level_matches_the_bytewise_definition() {
        let alphabet = b",;<>\"\\ a\r\n\t";
        // Every string of up to 5 bytes over the interesting alphabet, every separator.
        let mut stack: Vec<Vec<u8>> = vec![Vec::new()];
        while let Some(v) = stack.pop() {
            for sep in [b',', b';', b'>', b'"', b'<'] {
                for from in 0..=v.len() {
                    assert_eq!(
                        find_top_level(&v, from, sep),
                        find_top_level_bytewise(&v, from, sep),
                        "{v:?} from {from} sep {sep}"
                    );
                }
            }
            if v.len() < 5 {
                for &b in alphabet {
                    let mut w = v.clone();
                    w.push(b);
                    stack.push(w);
                }
            }
        }
    }

    #[test]
    fn find_byte_matches_position() {
        let mut v: Vec<u8> = (0..90u8).map(|i| i.wrapping_mul(37)).collect();
        for needle in [0u8, 1, b':', 0x80, 0xff, 37] {
            for len in 0..v.len() {
                for at in 0..len {
                    let orig = v[at];
                    v[at] = needle;
                    let s = &v[..len];
                    assert_eq!(find_byte(s, needle), s.iter().position(|&b| b == needle));
                    v[at] = orig;
                }
                let s = &v[..len];
                assert_eq!(find_byte(s, needle), s.iter().position(|&b| b == needle));
            }
        }
    }

    #[test]
    fn find_colon_or_lf_matches_position() {
        let mut v: Vec<u8> = (0..90u8).map(|i| i.wrapping_mul(37) | 0x80).collect();
        let want = |s: &[u8]| s.iter().position(|&b| b == b':' || b == b'\n');
        for len in 0..v.len() {
            for at in 0..len {
                for first in [b':', b'\n'] {
                    let orig = v[at];
                    v[at] = first;
                    // A later needle of the other kind must not win.
                    let later = (at + 1..len).step_by(7).collect::<Vec<_>>();
                    let saved: Vec<u8> = later.iter().map(|&j| v[j]).collect();
                    for &j in &later {
                        v[j] = if first == b':' { b'\n' } else { b':' };
                    }
                    let s = &v[..len];
                    assert_eq!(find_colon_or_lf(s), want(s), "{len} {at}");
                    assert_eq!(find_colon_or_lf(s), Some(at));
                    for (&j, &b) in later.iter().zip(&saved) {
                        v[j] = b;
                    }
                    v[at] = orig;
                }
            }
            let s = &v[..len];
            assert_eq!(find_colon_or_lf(s), None);
        }
    }

    #[test]
    fn params() {
        let p = Params::new(b";branch=z9hG4bK1 ; rport;received=1.2.3.4;x=\"a;b\"");
        assert!(p.validate().is_ok());
        assert_eq!(p.get("BRANCH"), Some(Some(&b"z9hG4bK1"[..])));
        assert_eq!(p.get("rport"), Some(None));
        assert_eq!(p.get("x"), Some(Some(&b"\"a;b\""[..])));
        assert!(Params::new(b";;a").validate().is_err());
        let raw = b";branch=z9hG4bK1 ; rport;received=1.2.3.4;x=\"a;b\";BRANCH=2;tag";
        for want in ["branch", "rport", "received", "x", "tag", "nope"] {
            assert_eq!(
                validate_params_find(raw, b"", want.as_bytes()),
                Ok(Params::new(raw).get(want).flatten()),
                "{want}"
            );
        }
        assert!(Params::new(b";a=").validate().is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u32(b"0068"), Some(68));
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b"-1"), None);
        assert_eq!(parse_u32(b""), None);
    }

    #[test]
    fn percent() {
        let mut out = Vec::new();
        percent_decode_into(b"%75se%72%00x", &mut out).unwrap();
        assert_eq!(out, b"user\0x");
        assert!(percent_decode_into(b"%Z1", &mut Vec::new()).is_err());
    }
}
