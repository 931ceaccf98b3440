//! Date, Warning and the free-text headers (Subject, User-Agent, Server).

use super::{check_text, err, expect_end, scan_while};
use crate::error::{Syntax, SyntaxError};
use crate::lex;
use crate::name::HeaderName;
use crate::typed::TypedHeader;

const WKDAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// `Date: SIP-date` (RFC 3261 §20.17, §25.1): `rfc1123-date = wkday "," SP date1 SP time SP
/// "GMT"`, e.g. `Sat, 13 Nov 2010 23:29:00 GMT`. Only GMT is legal (RFC 4475 §3.1.2.12
/// baddate). Names are matched case-insensitively as ABNF literals are; any LWS stands for
/// the grammar's SP. The weekday is not cross-checked against the date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Date {
    weekday: u8,
    day: u8,
    month: u8,
    year: u16,
    hour: u8,
    minute: u8,
    second: u8,
}

impl Date {
    /// Day of the week as sent, 0 = Monday ... 6 = Sunday.
    pub fn weekday(&self) -> u8 {
        self.weekday
    }

    /// Day of the month, 1-31.
    pub fn day(&self) -> u8 {
        self.day
    }

    /// Month, 1-12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// Four-digit year.
    pub fn year(&self) -> u16 {
        self.year
    }

    /// Hour, 0-23.
    pub fn hour(&self) -> u8 {
        self.hour
    }

    /// Minute, 0-59.
    pub fn minute(&self) -> u8 {
        self.minute
    }

    /// Second, 0-59.
    pub fn second(&self) -> u8 {
        self.second
    }

    /// Seconds since 1970-01-01T00:00:00Z (negative before), proleptic Gregorian calendar.
    pub fn unix_time(&self) -> i64 {
        // Days from civil date, shifting the year to start in March so leap days come last.
        let m = i64::from(self.month);
        let y = i64::from(self.year) - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }
}

fn is_leap(y: u16) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(month: u8, year: u16) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Exactly `n` decimal digits at `pos` (and not more): the value and the index after them.
fn fixed_digits(s: &[u8], pos: usize, n: usize) -> Result<(u16, usize), SyntaxError> {
    let end = pos + n;
    let d = s
        .get(pos..end)
        .ok_or(SyntaxError::new(Syntax::BadDate, pos))?;
    if s.get(end).is_some_and(|&b| lex::is_digit(b)) {
        return err(Syntax::BadDate, pos);
    }
    let v = d.iter().try_fold(0u16, |acc, &b| {
        if lex::is_digit(b) {
            Ok(acc * 10 + u16::from(b - b'0'))
        } else {
            err(Syntax::BadDate, pos)
        }
    })?;
    Ok((v, end))
}

/// A 3-letter name from `table` at `pos`: its index and the index after it.
fn name_at(s: &[u8], pos: usize, table: &[&[u8; 3]]) -> Result<(u8, usize), SyntaxError> {
    let n = s
        .get(pos..pos + 3)
        .ok_or(SyntaxError::new(Syntax::BadDate, pos))?;
    if s.get(pos + 3).is_some_and(|&b| lex::is_alpha(b)) {
        return err(Syntax::BadDate, pos);
    }
    table
        .iter()
        .position(|t| t.eq_ignore_ascii_case(n))
        .and_then(|i| u8::try_from(i).ok())
        .map(|i| (i, pos + 3))
        .ok_or(SyntaxError::new(Syntax::BadDate, pos))
}

/// The grammar's `SP` separator. Any LWS is accepted, since RFC 3261 §7.3.1 makes folding
/// and runs of white space equivalent to one SP.
fn sp(s: &[u8], pos: usize) -> Result<usize, SyntaxError> {
    let p = lex::skip_lws(s, pos);
    if p == pos {
        return err(Syntax::BadDate, pos);
    }
    Ok(p)
}

/// One literal byte at `pos`.
fn byte(s: &[u8], pos: usize, b: u8) -> Result<usize, SyntaxError> {
    if s.get(pos) != Some(&b) {
        return err(Syntax::BadDate, pos);
    }
    Ok(pos + 1)
}

impl<'a> TypedHeader<'a> for Date {
    const NAME: HeaderName = HeaderName::Date;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        // wkday "," SP 2DIGIT SP month SP 4DIGIT SP 2DIGIT ":" 2DIGIT ":" 2DIGIT SP "GMT"
        if value.is_empty() {
            return err(Syntax::Empty, 0);
        }
        let (weekday, p) = name_at(value, 0, &WKDAYS)?;
        let p = sp(value, byte(value, p, b',')?)?;
        let (day, p) = fixed_digits(value, p, 2)?;
        let day_at = p - 2;
        let (month, p) = name_at(value, sp(value, p)?, &MONTHS)?;
        let month = month + 1;
        let (year, p) = fixed_digits(value, sp(value, p)?, 4)?;
        let p = sp(value, p)?;
        let hour_at = p;
        let (hour, p) = fixed_digits(value, p, 2)?;
        let minute_at = p + 1;
        let (minute, p) = fixed_digits(value, byte(value, p, b':')?, 2)?;
        let second_at = p + 1;
        let (second, p) = fixed_digits(value, byte(value, p, b':')?, 2)?;
        let zone_at = sp(value, p)?;
        match value.get(zone_at..zone_at + 3) {
            Some(z) if z.eq_ignore_ascii_case(b"GMT") => {}
            _ => return err(Syntax::BadDate, zone_at),
        }
        expect_end(value, zone_at + 3)?;
        // Two digits are at most 99, so these narrowings are lossless.
        let (day, hour, minute, second) = (day as u8, hour as u8, minute as u8, second as u8);
        if day == 0 || day > days_in_month(month, year) {
            return err(Syntax::BadDate, day_at);
        }
        // §25.1: "00:00:00 - 23:59:59".
        if hour > 23 {
            return err(Syntax::BadDate, hour_at);
        }
        if minute > 59 {
            return err(Syntax::BadDate, minute_at);
        }
        if second > 59 {
            return err(Syntax::BadDate, second_at);
        }
        Ok(Date {
            weekday,
            day,
            month,
            year,
            hour,
            minute,
            second,
        })
    }
}

/// One `Warning` value (RFC 3261 §20.43): `warn-code SP warn-agent SP warn-text`, e.g.
/// `307 isi.edu "Session parameter 'foo' not understood"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Warning<'a> {
    code: u16,
    agent: &'a [u8],
    text: &'a [u8],
}

impl<'a> Warning<'a> {
    /// The three-digit warn-code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The warn-agent: `hostport` or a pseudonym token.
    pub fn agent(&self) -> &'a [u8] {
        self.agent
    }

    /// The warn-text without its quotes (quoted-pairs still escaped).
    pub fn text(&self) -> &'a [u8] {
        self.text
    }
}

impl<'a> TypedHeader<'a> for Warning<'a> {
    const NAME: HeaderName = HeaderName::Warning;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        // `warn-code = 3DIGIT`: four digits are an error (RFC 4475 §3.1.2.5 scalarlg).
        let end = scan_while(value, 0, lex::is_digit);
        if end != 3 {
            return err(
                if value.is_empty() {
                    Syntax::Empty
                } else {
                    Syntax::BadNumber
                },
                0,
            );
        }
        let code = value
            .iter()
            .take(3)
            .fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0'));
        // The grammar has single SPs; LWS is tolerated as everywhere else in SIP headers.
        let p = lex::skip_lws(value, end);
        if p == end {
            return err(Syntax::Unexpected, end);
        }
        // hostport (token characters plus `:` and IPv6 brackets) or pseudonym (token).
        let aend = scan_while(value, p, |b| lex::is_token(b) || b"[]:".contains(&b));
        if aend == p {
            return err(
                if p >= value.len() {
                    Syntax::Empty
                } else {
                    Syntax::Unexpected
                },
                p,
            );
        }
        let q = lex::skip_lws(value, aend);
        if q == aend {
            return err(
                if q >= value.len() {
                    Syntax::Empty
                } else {
                    Syntax::Unexpected
                },
                q,
            );
        }
        if value.get(q) != Some(&b'"') {
            return err(
                if q >= value.len() {
                    Syntax::Empty
                } else {
                    Syntax::Unexpected
                },
                q,
            );
        }
        let tend = lex::scan_quoted(value, q)?;
        expect_end(value, tend)?;
        Ok(Warning {
            code,
            agent: &value[p..aend],
            text: lex::unquote(&value[q..tend]),
        })
    }
}

macro_rules! text_header {
    ($(#[$doc:meta])* $ty:ident => $name:ident, allow_empty = $empty:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $ty<'a> {
            value: &'a [u8],
        }

        impl<'a> $ty<'a> {
            /// The value as received (folding included).
            pub fn as_bytes(&self) -> &'a [u8] {
                self.value
            }

            /// The value as text (checked to be UTF-8 at parse time).
            pub fn as_str(&self) -> &'a str {
                std::str::from_utf8(self.value).unwrap_or("")
            }
        }

        impl<'a> TypedHeader<'a> for $ty<'a> {
            const NAME: HeaderName = HeaderName::$name;

            fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
                if !$empty && value.is_empty() {
                    return err(Syntax::Empty, 0);
                }
                check_text(value)?;
                Ok($ty { value })
            }
        }
    };
}

text_header! {
    /// `Subject: [TEXT-UTF8-TRIM]` (RFC 3261 §20.36); may be empty (RFC 4475 §3.1.1.1 wsinv).
    Subject => Subject, allow_empty = true
}

text_header! {
    /// `User-Agent: server-val *(LWS server-val)` (RFC 3261 §20.41), kept opaque: products
    /// and comments are only logged or relayed.
    UserAgent => UserAgent, allow_empty = false
}

text_header! {
    /// `Server: server-val *(LWS server-val)` (RFC 3261 §20.35), kept opaque.
    Server => Server, allow_empty = false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_examples() {
        // RFC 3261 §20.17.
        let d = Date::parse(b"Sat, 13 Nov 2010 23:29:00 GMT").unwrap();
        assert_eq!(
            (d.weekday(), d.day(), d.month(), d.year()),
            (5, 13, 11, 2010)
        );
        assert_eq!((d.hour(), d.minute(), d.second()), (23, 29, 0));
        assert_eq!(d.unix_time(), 1_289_690_940);
        // RFC 3665 "Date: Thu, 21 Feb 2002 13:02:03 GMT".
        let d = Date::parse(b"Thu, 21 Feb 2002 13:02:03 GMT").unwrap();
        assert_eq!(d.unix_time(), 1_014_296_523);
        // RFC 4475 §3.1.1.11 mpart01.
        let d = Date::parse(b"Sat, 15 Oct 2005 04:44:56 GMT").unwrap();
        assert_eq!(d.unix_time(), 1_129_351_496);
        assert_eq!(
            Date::parse(b"Thu, 01 Jan 1970 00:00:00 GMT")
                .unwrap()
                .unix_time(),
            0
        );
        assert_eq!(
            Date::parse(b"Wed, 31 Dec 1969 23:59:59 GMT")
                .unwrap()
                .unix_time(),
            -1
        );
        assert_eq!(
            Date::parse(b"Tue, 29 Feb 2000 00:00:00 GMT")
                .unwrap()
                .unix_time(),
            951_782_400
        );
        assert!(Date::parse(b"sat, 13 nov 2010 23:29:00 gmt").is_ok());
        // LWS, folding included, stands for SP (RFC 3261 §7.3.1).
        let d = Date::parse(b"Sat,  13 Nov\r\n 2010 23:29:00\tGMT").unwrap();
        assert_eq!(d.unix_time(), 1_289_690_940);
    }

    #[test]
    fn date_errors() {
        // RFC 4475 §3.1.2.12 baddate.
        assert_eq!(
            Date::parse(b"Fri, 01 Jan 2010 16:00:00 EST"),
            err(Syntax::BadDate, 26)
        );
        assert_eq!(Date::parse(b""), err(Syntax::Empty, 0));
        assert_eq!(Date::parse(b"Sat"), err(Syntax::BadDate, 3));
        assert_eq!(
            Date::parse(b"Xyz, 13 Nov 2010 23:29:00 GMT"),
            err(Syntax::BadDate, 0)
        );
        assert_eq!(
            Date::parse(b"Sat,13 Nov 2010 23:29:00 GMT"),
            err(Syntax::BadDate, 4)
        );
        assert_eq!(
            Date::parse(b"Sat, 3 Nov 2010 23:29:00 GMT"),
            err(Syntax::BadDate, 5)
        );
        assert_eq!(
            Date::parse(b"Sat, 13 Foo 2010 23:29:00 GMT"),
            err(Syntax::BadDate, 8)
        );
        assert_eq!(
            Date::parse(b"Sat, 13 Nov 10 23:29:00 GMT"),
            err(Syntax::BadDate, 12)
        );
        assert_eq!(
            Date::parse(b"Sat, 13 Nov 2010 24:00:00 GMT"),
            err(Syntax::BadDate, 17)
        );
        assert_eq!(
            Date::parse(b"Sat, 13 Nov 2010 23:60:00 GMT"),
            err(Syntax::BadDate, 20)
        );
        assert_eq!(
            Date::parse(b"Sat, 13 Nov 2010 23:29:60 GMT"),
            err(Syntax::BadDate, 23)
        );
        assert_eq!(
            Date::parse(b"Sat, 00 Nov 2010 23:29:00 GMT"),
            err(Syntax::BadDate, 5)
        );
        assert_eq!(
            Date::parse(b"Sat, 31 Nov 2010 23:29:00 GMT"),
            err(Syntax::BadDate, 5)
        );
        assert_eq!(
            Date::parse(b"Sat, 29 Feb 1900 23:29:00 GMT"),
            err(Syntax::BadDate, 5)
        );
        assert_eq!(
            Date::parse(b"Sat, 13 Nov 2010 23:29:00 GMT x"),
            err(Syntax::Trailing, 30)
        );
        assert_eq!(
            Date::parse(b"Sat, 13 Nov 2010 23:29:00 GMTx"),
            err(Syntax::Trailing, 29)
        );
        assert_eq!(
            Date::parse(b"Sat, 13 Nov 2010 23:29:00 +0000"),
            err(Syntax::BadDate, 26)
        );
    }

    #[test]
    fn warning_examples() {
        // RFC 3261 §20.43.
        let w = Warning::parse(b"307 isi.edu \"Session parameter 'foo' not understood\"").unwrap();
        assert_eq!(w.code(), 307);
        assert_eq!(w.agent(), b"isi.edu");
        assert_eq!(w.text(), b"Session parameter 'foo' not understood");
        let w =
            Warning::parse(b"301 isi.edu \"Incompatible network address type 'E.164'\"").unwrap();
        assert_eq!(w.code(), 301);
        let w = Warning::parse(b"399 [2001:db8::1]:5060 \"x\"").unwrap();
        assert_eq!(w.agent(), b"[2001:db8::1]:5060");
        assert_eq!(Warning::parse(b"399 host \"\"").unwrap().text(), b"");
    }

    #[test]
    fn warning_errors() {
        // RFC 4475 §3.1.2.5 scalarlg: "Warning: 1812 overture \"In Progress\"".
        assert_eq!(
            Warning::parse(b"1812 overture \"In Progress\""),
            err(Syntax::BadNumber, 0)
        );
        assert_eq!(Warning::parse(b""), err(Syntax::Empty, 0));
        assert_eq!(Warning::parse(b"30 x \"y\""), err(Syntax::BadNumber, 0));
        assert_eq!(
            Warning::parse(b"307isi.edu \"x\""),
            err(Syntax::Unexpected, 3)
        );
        assert_eq!(Warning::parse(b"307 isi.edu"), err(Syntax::Empty, 11));
        assert_eq!(
            Warning::parse(b"307 isi.edu x"),
            err(Syntax::Unexpected, 12)
        );
        assert_eq!(
            Warning::parse(b"307 isi.edu\"x\""),
            err(Syntax::Unexpected, 11)
        );
        assert_eq!(
            Warning::parse(b"307 isi.edu \"x"),
            err(Syntax::UnterminatedQuote, 12)
        );
        assert_eq!(
            Warning::parse(b"307 isi.edu \"x\" y"),
            err(Syntax::Trailing, 16)
        );
        assert_eq!(Warning::parse(b"307 \"x\""), err(Syntax::Unexpected, 4));
    }

    #[test]
    fn free_text() {
        // RFC 3261 §20.36 "Subject: Need more boxes"; wsinv empty Subject.
        assert_eq!(
            Subject::parse(b"Need more boxes").unwrap().as_str(),
            "Need more boxes"
        );
        assert_eq!(Subject::parse(b"").unwrap().as_bytes(), b"");
        assert!(Subject::parse("A tornado is heading our way! \u{1f32a}".as_bytes()).is_ok());
        assert_eq!(Subject::parse(b"bell\x07"), err(Syntax::Unexpected, 4));
        // RFC 3261 §20.41, §20.35; RFC 4475 mpart01.
        assert_eq!(
            UserAgent::parse(b"Softphone Beta1.5").unwrap().as_str(),
            "Softphone Beta1.5"
        );
        assert!(UserAgent::parse(b"SIPimp.org/0.2.5 (curses)").is_ok());
        assert_eq!(
            Server::parse(b"HomeServer v2").unwrap().as_bytes(),
            b"HomeServer v2"
        );
        assert_eq!(Server::parse(b""), err(Syntax::Empty, 0));
        assert_eq!(UserAgent::parse(b"a\xc3"), err(Syntax::Unexpected, 1));
        assert_eq!(UserAgent::parse(b"a\r\nb"), err(Syntax::Unexpected, 1));
        assert!(UserAgent::parse(b"a\r\n b").is_ok());
        assert_eq!(Subject::NAME, HeaderName::Subject);
        assert_eq!(Server::NAME, HeaderName::Server);
    }
}
