//! Number handling without allocation: digit parsing for lookups, and a gateway's
//! E.164 <-> national conversion (TI-12: Teams needs `+` E.164).

use std::fmt;

use sbc_config::{NumberFormat, NumberStyle};

/// Longest E.164 number (ITU-T E.164 §6).
pub const E164_MAX_DIGITS: usize = 15;

/// Longest number this crate writes (technical prefixes + international prefix + 15 digits).
pub const NUMBER_CAPACITY: usize = 32;

/// A number on the stack (`+` optional, digits, `#`, `*`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Number {
    buf: [u8; NUMBER_CAPACITY],
    len: u8,
}

impl Number {
    fn new() -> Number {
        Number {
            buf: [0; NUMBER_CAPACITY],
            len: 0,
        }
    }

    fn push(&mut self, s: &[u8]) -> Result<(), NumberError> {
        let at = usize::from(self.len);
        let end = at + s.len();
        if end > NUMBER_CAPACITY {
            return Err(NumberError::TooLong);
        }
        self.buf[at..end].copy_from_slice(s);
        self.len = end as u8;
        Ok(())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever pushed.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({:?})", self.as_str())
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a number cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    /// No digits.
    Empty,
    /// A character other than digits and visual separators.
    BadChar,
    /// More than 15 digits, or longer than [`NUMBER_CAPACITY`] once prefixed.
    TooLong,
    /// Not `+` E.164 where one is required (or a country code starting with 0).
    NotE164,
    /// A national-format number without trunk or international prefix: its area is unknown.
    Ambiguous,
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumberError::Empty => "no digits",
            NumberError::BadChar => "not a telephone number",
            NumberError::TooLong => "number too long",
            NumberError::NotE164 => "not an E.164 number",
            NumberError::Ambiguous => "national number without prefix",
        })
    }
}

impl std::error::Error for NumberError {}

/// RFC 3966 §5.1.1 visual separators, ignored in lookups.
fn is_separator(b: u8) -> bool {
    matches!(b, b'-' | b'.' | b'(' | b')' | b' ')
}

/// Digits of `s` (optional leading `+`, separators skipped) as (count, value, had_plus).
pub(crate) fn digits_of(s: &str) -> Result<(u8, u64, bool), NumberError> {
    let b = s.as_bytes();
    let (plus, rest) = match b.first() {
        Some(b'+') => (true, &b[1..]),
        _ => (false, b),
    };
    let mut n: u8 = 0;
    let mut v: u64 = 0;
    for &c in rest {
        if c.is_ascii_digit() {
            if usize::from(n) == E164_MAX_DIGITS {
                return Err(NumberError::TooLong);
            }
            n += 1;
            v = v * 10 + u64::from(c - b'0');
        } else if !is_separator(c) {
            return Err(NumberError::BadChar);
        }
    }
    if n == 0 {
        return Err(NumberError::Empty);
    }
    Ok((n, v, plus))
}

/// The number-inventory key of a `+` E.164 number (length in the top bits, like
/// `sbc_config::NumberRange::key_first`).
pub(crate) fn e164_key(s: &str) -> Result<u64, NumberError> {
    let (n, v, plus) = digits_of(s)?;
    if !plus {
        return Err(NumberError::NotE164);
    }
    Ok((u64::from(n) << 50) | v)
}

/// Prefix-match encoding: each digit d becomes d+1 in base 11, padded with 0 to 15 places,
/// so a prefix is one contiguous key interval and a number shorter than a prefix falls
/// outside it.
pub(crate) const LPM_PLACES: u32 = E164_MAX_DIGITS as u32;

/// 11^k.
pub(crate) const fn pow11(k: u32) -> u64 {
    let mut r = 1u64;
    let mut i = 0;
    while i < k {
        r *= 11;
        i += 1;
    }
    r
}

/// The LPM key of a digit string (optional `+`, separators skipped).
pub(crate) fn lpm_key(s: &str) -> Result<u64, NumberError> {
    let b = s.as_bytes();
    let rest = b.strip_prefix(b"+").unwrap_or(b);
    let mut key = 0u64;
    let mut n = 0u32;
    for &c in rest {
        if c.is_ascii_digit() {
            if n == LPM_PLACES {
                return Err(NumberError::TooLong);
            }
            key = key * 11 + u64::from(c - b'0' + 1);
            n += 1;
        } else if !is_separator(c) {
            return Err(NumberError::BadChar);
        }
    }
    if n == 0 {
        return Err(NumberError::Empty);
    }
    Ok(key * pow11(LPM_PLACES - n))
}

/// The key interval `[low, high]` a prefix covers (its digits must be valid).
pub(crate) fn lpm_interval(prefix: &str) -> Result<(u64, u64), NumberError> {
    let low = lpm_key(prefix)?;
    let n = prefix.bytes().filter(u8::is_ascii_digit).count() as u32;
    Ok((low, low + pow11(LPM_PLACES - n) - 1))
}

/// A gateway's number conversion rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberRules {
    format: NumberFormat,
}

impl NumberRules {
    /// Rules from the gateway's `number_format`.
    pub fn new(format: NumberFormat) -> NumberRules {
        NumberRules { format }
    }

    /// The configured format.
    pub fn format(&self) -> &NumberFormat {
        &self.format
    }

    /// A number as the gateway sent it -> `+` E.164 (for Teams, TI-12/TI-13).
    pub fn to_e164(&self, s: &str) -> Result<Number, NumberError> {
        let f = &self.format;
        let s = s.strip_prefix(f.strip_prefix.as_str()).unwrap_or(s);
        let (_, _, plus) = digits_of(s)?;
        let digits = clean_digits(s)?;
        let digits = &digits.buf[..usize::from(digits.len)];
        let mut out = Number::new();
        out.push(b"+")?;
        if plus {
            out.push(digits)?;
        } else {
            match f.style {
                NumberStyle::E164 | NumberStyle::E164NoPlus => out.push(digits)?,
                NumberStyle::National => {
                    let cc = f.country_code.as_deref().unwrap_or("").as_bytes();
                    let intl = f.international_prefix.as_bytes();
                    let nat = f.national_prefix.as_bytes();
                    if !intl.is_empty() && digits.starts_with(intl) {
                        out.push(&digits[intl.len()..])?;
                    } else if !nat.is_empty() && digits.starts_with(nat) {
                        out.push(cc)?;
                        out.push(&digits[nat.len()..])?;
                    } else if nat.is_empty() {
                        out.push(cc)?;
                        out.push(digits)?;
                    } else {
                        return Err(NumberError::Ambiguous);
                    }
                }
            }
        }
        check_e164(&out)?;
        Ok(out)
    }

    /// A `+` E.164 number (from Teams) -> the gateway's format, with `add_prefix`.
    pub fn from_e164(&self, s: &str) -> Result<Number, NumberError> {
        let f = &self.format;
        let (_, _, plus) = digits_of(s)?;
        if !plus {
            return Err(NumberError::NotE164);
        }
        let d = clean_digits(s)?;
        let digits = &d.buf[..usize::from(d.len)];
        let mut out = Number::new();
        out.push(f.add_prefix.as_bytes())?;
        match f.style {
            NumberStyle::E164 => {
                out.push(b"+")?;
                out.push(digits)?;
            }
            NumberStyle::E164NoPlus => out.push(digits)?,
            NumberStyle::National => {
                let cc = f.country_code.as_deref().unwrap_or("").as_bytes();
                if !cc.is_empty() && digits.starts_with(cc) {
                    out.push(f.national_prefix.as_bytes())?;
                    out.push(&digits[cc.len()..])?;
                } else {
                    out.push(f.international_prefix.as_bytes())?;
                    out.push(digits)?;
                }
            }
        }
        Ok(out)
    }
}

/// The digits of `s` without `+` and separators.
fn clean_digits(s: &str) -> Result<Number, NumberError> {
    let mut d = Number::new();
    for &c in s.as_bytes() {
        if c.is_ascii_digit() {
            d.push(&[c])?;
        }
    }
    Ok(d)
}

/// `+`, 1..=15 digits, no leading 0.
fn check_e164(n: &Number) -> Result<(), NumberError> {
    let d = &n.buf[1..usize::from(n.len)];
    if d.is_empty() {
        return Err(NumberError::Empty);
    }
    if d.len() > E164_MAX_DIGITS {
        return Err(NumberError::TooLong);
    }
    if d[0] == b'0' {
        return Err(NumberError::NotE164);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(style: NumberStyle, cc: Option<&str>, nat: &str, intl: &str) -> NumberRules {
        NumberRules::new(NumberFormat {
            style,
            country_code: cc.map(str::to_owned),
            national_prefix: nat.into(),
            international_prefix: intl.into(),
            strip_prefix: String::new(),
            add_prefix: String::new(),
        })
    }

    #[test]
    fn national_germany_both_ways() {
        let r = rules(NumberStyle::National, Some("49"), "0", "00");
        assert_eq!(r.to_e164("06912345").unwrap().as_str(), "+496912345");
        assert_eq!(r.to_e164("0044207123").unwrap().as_str(), "+44207123");
        assert_eq!(r.to_e164("+331234").unwrap().as_str(), "+331234");
        assert_eq!(r.to_e164("6912345"), Err(NumberError::Ambiguous));
        assert_eq!(r.from_e164("+496912345").unwrap().as_str(), "06912345");
        assert_eq!(r.from_e164("+44207123").unwrap().as_str(), "0044207123");
        assert_eq!(r.from_e164("496912345"), Err(NumberError::NotE164));
    }

    #[test]
    fn nanp_without_trunk_prefix_and_tech_prefixes() {
        let mut f = rules(NumberStyle::National, Some("1"), "", "011").format;
        f.strip_prefix = "99#".into();
        f.add_prefix = "1234#".into();
        let r = NumberRules::new(f);
        assert_eq!(r.to_e164("99#4255550100").unwrap().as_str(), "+14255550100");
        assert_eq!(r.to_e164("01144207123").unwrap().as_str(), "+44207123");
        assert_eq!(
            r.from_e164("+14255550100").unwrap().as_str(),
            "1234#4255550100"
        );
        assert_eq!(
            r.from_e164("+44207123").unwrap().as_str(),
            "1234#01144207123"
        );
    }

    #[test]
    fn e164_styles_and_errors() {
        let r = rules(NumberStyle::E164NoPlus, None, "", "00");
        assert_eq!(r.to_e164("14255550100").unwrap().as_str(), "+14255550100");
        assert_eq!(
            r.from_e164("+1 (425) 555-0100").unwrap().as_str(),
            "14255550100"
        );
        let r = rules(NumberStyle::E164, None, "", "00");
        assert_eq!(
            r.from_e164("+14255550100").unwrap().as_str(),
            "+14255550100"
        );
        assert_eq!(r.to_e164("04255"), Err(NumberError::NotE164));
        assert_eq!(r.to_e164("+1234567890123456"), Err(NumberError::TooLong));
        assert_eq!(r.to_e164("+12a"), Err(NumberError::BadChar));
        assert_eq!(r.to_e164("+"), Err(NumberError::Empty));
    }

    #[test]
    fn lpm_keys_nest() {
        let (lo, hi) = lpm_interval("+1").unwrap();
        let (lo2, hi2) = lpm_interval("+120").unwrap();
        assert!(lo <= lo2 && hi2 <= hi);
        let n12 = lpm_key("+12").unwrap();
        assert!(
            !(lo2..=hi2).contains(&n12),
            "shorter number outside a longer prefix"
        );
        assert!((lo2..=hi2).contains(&lpm_key("+1205").unwrap()));
        assert!((lo2..=hi2).contains(&lpm_key("+120").unwrap()));
        assert!(!(lo2..=hi2).contains(&lpm_key("+121").unwrap()));
        let max = "+".to_owned() + &"9".repeat(15);
        assert!(lpm_key(&max).unwrap() < pow11(15));
        assert_eq!(e164_key("+1-425"), Ok((4 << 50) | 1425));
        assert_eq!(e164_key("1425"), Err(NumberError::NotE164));
    }
}
