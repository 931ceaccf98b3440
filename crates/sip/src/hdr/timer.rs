//! Numeric headers: timers, delays and reliable-provisional sequence numbers.

use super::{
    delta_at, eq_ci, err, expect_end, offset_of, param_once, param_u32, params_at, scan_comment,
    scan_while, token_at, GEN_VALUE_EXTRA,
};
use crate::error::{Syntax, SyntaxError};
use crate::lex::{self, Params};
use crate::name::HeaderName;
use crate::typed::TypedHeader;

/// A value that is exactly `delta-seconds` (`u32`; larger is `Overflow`, RFC 4475 scalar02).
fn only_delta(value: &[u8]) -> Result<u32, SyntaxError> {
    let (v, end) = delta_at(value, 0)?;
    expect_end(value, end)?;
    Ok(v)
}

/// `Expires: delta-seconds` (RFC 3261 §20.19: 0 to 2^32-1 seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Expires {
    seconds: u32,
}

impl Expires {
    /// The delay in seconds.
    pub fn seconds(&self) -> u32 {
        self.seconds
    }
}

impl<'a> TypedHeader<'a> for Expires {
    const NAME: HeaderName = HeaderName::Expires;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        Ok(Expires {
            seconds: only_delta(value)?,
        })
    }
}

/// `Min-Expires: delta-seconds` (RFC 3261 §20.23).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MinExpires {
    seconds: u32,
}

impl MinExpires {
    /// The minimum registration/subscription interval in seconds.
    pub fn seconds(&self) -> u32 {
        self.seconds
    }
}

impl<'a> TypedHeader<'a> for MinExpires {
    const NAME: HeaderName = HeaderName::MinExpires;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        Ok(MinExpires {
            seconds: only_delta(value)?,
        })
    }
}

/// Who refreshes the session (RFC 4028 §4 `refresher-param`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refresher {
    /// `refresher=uac`
    Uac,
    /// `refresher=uas`
    Uas,
}

/// `Session-Expires: delta-seconds *(;se-params)` (RFC 4028 §4), e.g. `4000;refresher=uac`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires<'a> {
    seconds: u32,
    refresher: Option<Refresher>,
    params: Params<'a>,
}

impl<'a> SessionExpires<'a> {
    /// The session interval in seconds.
    pub fn seconds(&self) -> u32 {
        self.seconds
    }

    /// The `refresher` parameter, when present.
    pub fn refresher(&self) -> Option<Refresher> {
        self.refresher
    }

    /// All parameters, raw.
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for SessionExpires<'a> {
    const NAME: HeaderName = HeaderName::SessionExpires;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let (seconds, end) = delta_at(value, 0)?;
        let params = params_at(value, end, GEN_VALUE_EXTRA)?;
        // `refresher-param = "refresher" EQUAL ("uas" / "uac")`: any other value is malformed,
        // not a generic-param, since the name is reserved.
        let refresher = match param_once(value, &params, "refresher")? {
            None => None,
            Some((_, Some(v))) if eq_ci(v, "uac") => Some(Refresher::Uac),
            Some((_, Some(v))) if eq_ci(v, "uas") => Some(Refresher::Uas),
            Some((n, v)) => return err(Syntax::BadParam, offset_of(value, v.unwrap_or(n))),
        };
        Ok(SessionExpires {
            seconds,
            refresher,
            params,
        })
    }
}

/// `Min-SE: delta-seconds *(;generic-param)` (RFC 4028 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinSe<'a> {
    seconds: u32,
    params: Params<'a>,
}

impl<'a> MinSe<'a> {
    /// The minimum session interval in seconds.
    pub fn seconds(&self) -> u32 {
        self.seconds
    }

    /// All parameters, raw.
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for MinSe<'a> {
    const NAME: HeaderName = HeaderName::MinSe;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let (seconds, end) = delta_at(value, 0)?;
        let params = params_at(value, end, GEN_VALUE_EXTRA)?;
        Ok(MinSe { seconds, params })
    }
}

/// `Retry-After: delta-seconds [comment] *(;retry-param)` (RFC 3261 §20.33), e.g.
/// `18000;duration=3600` or `120 (I'm in a meeting)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter<'a> {
    seconds: u32,
    comment: Option<&'a [u8]>,
    duration: Option<u32>,
    params: Params<'a>,
}

impl<'a> RetryAfter<'a> {
    /// The delay in seconds.
    pub fn seconds(&self) -> u32 {
        self.seconds
    }

    /// The comment without its outer parentheses (nested comments and quoted-pairs raw).
    pub fn comment(&self) -> Option<&'a [u8]> {
        self.comment
    }

    /// The `duration` parameter: how long the callee will be reachable.
    pub fn duration(&self) -> Option<u32> {
        self.duration
    }

    /// All parameters, raw.
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for RetryAfter<'a> {
    const NAME: HeaderName = HeaderName::RetryAfter;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let (seconds, mut end) = delta_at(value, 0)?;
        let mut comment = None;
        let p = lex::skip_lws(value, end);
        if value.get(p) == Some(&b'(') {
            end = scan_comment(value, p)?;
            comment = value.get(p + 1..end - 1);
        }
        let params = params_at(value, end, GEN_VALUE_EXTRA)?;
        let duration = param_u32(value, &params, "duration")?;
        Ok(RetryAfter {
            seconds,
            comment,
            duration,
            params,
        })
    }
}

/// `RSeq: response-num` (RFC 3262 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RSeq {
    value: u32,
}

impl RSeq {
    /// The response sequence number.
    pub fn value(&self) -> u32 {
        self.value
    }
}

impl<'a> TypedHeader<'a> for RSeq {
    const NAME: HeaderName = HeaderName::RSeq;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        Ok(RSeq {
            value: only_delta(value)?,
        })
    }
}

/// `RAck: response-num LWS CSeq-num LWS Method` (RFC 3262 §7.2), e.g. `776656 1 INVITE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RAck<'a> {
    rseq: u32,
    cseq: u32,
    method: &'a [u8],
}

impl<'a> RAck<'a> {
    /// The RSeq of the provisional response being acknowledged.
    pub fn rseq(&self) -> u32 {
        self.rseq
    }

    /// The CSeq number of that response.
    pub fn cseq(&self) -> u32 {
        self.cseq
    }

    /// The CSeq method of that response (case-sensitive, RFC 3261 §7.1).
    pub fn method(&self) -> &'a [u8] {
        self.method
    }
}

impl<'a> TypedHeader<'a> for RAck<'a> {
    const NAME: HeaderName = HeaderName::RAck;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let (rseq, end) = delta_at(value, 0)?;
        let p = required_lws(value, end)?;
        let (cseq, end) = delta_at(value, p)?;
        let p = required_lws(value, end)?;
        let (method, end) =
            token_at(value, p).map_err(|e| SyntaxError::new(Syntax::BadMethod, e.at))?;
        expect_end(value, end)?;
        Ok(RAck { rseq, cseq, method })
    }
}

/// The grammar's `LWS` (at least one white space) at `pos`; the index after it.
fn required_lws(s: &[u8], pos: usize) -> Result<usize, SyntaxError> {
    let p = lex::skip_lws(s, pos);
    if p == pos {
        return err(
            if pos >= s.len() {
                Syntax::Empty
            } else {
                Syntax::Unexpected
            },
            pos,
        );
    }
    Ok(p)
}

/// `Timestamp: 1*DIGIT ["." *DIGIT] [LWS delay]` (RFC 3261 §20.38). Kept as raw decimal text,
/// because a UAS echoes it back (§8.2.6.1) and never needs its numeric value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp<'a> {
    value: &'a [u8],
    delay: Option<&'a [u8]>,
}

impl<'a> Timestamp<'a> {
    /// The timestamp as sent, e.g. `54` or `54.3`.
    pub fn value(&self) -> &'a [u8] {
        self.value
    }

    /// The delay, when present, e.g. `0.35`.
    pub fn delay(&self) -> Option<&'a [u8]> {
        self.delay
    }
}

/// `*DIGIT ["." *DIGIT]` from `pos`: the index after it.
fn decimal_end(s: &[u8], pos: usize) -> usize {
    let i = scan_while(s, pos, lex::is_digit);
    if s.get(i) == Some(&b'.') {
        scan_while(s, i + 1, lex::is_digit)
    } else {
        i
    }
}

impl<'a> TypedHeader<'a> for Timestamp<'a> {
    const NAME: HeaderName = HeaderName::Timestamp;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let int_end = scan_while(value, 0, lex::is_digit);
        if int_end == 0 {
            return err(
                if value.is_empty() {
                    Syntax::Empty
                } else {
                    Syntax::BadNumber
                },
                0,
            );
        }
        let end = decimal_end(value, 0);
        let ts = &value[..end];
        let p = lex::skip_lws(value, end);
        if p == value.len() {
            return Ok(Timestamp {
                value: ts,
                delay: None,
            });
        }
        if p == end {
            return err(Syntax::BadNumber, end);
        }
        let dend = decimal_end(value, p);
        if dend == p {
            return err(Syntax::BadNumber, p);
        }
        expect_end(value, dend)?;
        Ok(Timestamp {
            value: ts,
            delay: Some(&value[p..dend]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_rfc3261_and_rfc4475_scalar02() {
        // RFC 3261 §20.19 "Expires: 5"; §20.23 "Min-Expires: 60".
        assert_eq!(Expires::parse(b"5").unwrap().seconds(), 5);
        assert_eq!(MinExpires::parse(b"60").unwrap().seconds(), 60);
        assert_eq!(Expires::parse(b"4294967295").unwrap().seconds(), u32::MAX);
        // RFC 4475 §3.1.2.4 scalar02: Expires far beyond 2^32-1.
        let big = b"10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
        assert_eq!(Expires::parse(big), err(Syntax::Overflow, 0));
        assert_eq!(Expires::parse(b"4294967296"), err(Syntax::Overflow, 0));
        assert_eq!(Expires::parse(b"-1"), err(Syntax::BadNumber, 0));
        assert_eq!(Expires::parse(b""), err(Syntax::Empty, 0));
        assert_eq!(Expires::parse(b"60;x"), err(Syntax::Trailing, 2));
        // RFC 2543 allowed a SIP-date here; RFC 3261 does not.
        assert_eq!(
            Expires::parse(b"Thu, 01 Dec 1994 16:00:00 GMT"),
            err(Syntax::BadNumber, 0)
        );
        assert_eq!(MinExpires::parse(b"0068").unwrap().seconds(), 68);
    }

    #[test]
    fn session_timers_rfc4028() {
        // RFC 4028 §4 / §5 examples.
        let se = SessionExpires::parse(b"4000;refresher=uac").unwrap();
        assert_eq!(se.seconds(), 4000);
        assert_eq!(se.refresher(), Some(Refresher::Uac));
        let se = SessionExpires::parse(b"1800 ; refresher = UAS ;x=y").unwrap();
        assert_eq!(se.refresher(), Some(Refresher::Uas));
        assert_eq!(se.params().get("x"), Some(Some(&b"y"[..])));
        assert_eq!(SessionExpires::parse(b"90").unwrap().refresher(), None);
        assert_eq!(
            SessionExpires::parse(b"90;refresher=proxy"),
            err(Syntax::BadParam, 13)
        );
        assert_eq!(
            SessionExpires::parse(b"90;refresher"),
            err(Syntax::BadParam, 3)
        );
        assert_eq!(
            SessionExpires::parse(b"90;refresher=uac;refresher=uas"),
            err(Syntax::BadParam, 17)
        );
        assert_eq!(SessionExpires::parse(b"90;;"), err(Syntax::BadParam, 3));
        assert_eq!(
            SessionExpires::parse(b"99999999999"),
            err(Syntax::Overflow, 0)
        );
        let m = MinSe::parse(b"3600").unwrap();
        assert_eq!(m.seconds(), 3600);
        assert!(m.params().is_empty());
        assert_eq!(
            MinSe::parse(b"3600;lr=true").unwrap().params().get("lr"),
            Some(Some(&b"true"[..]))
        );
        assert_eq!(MinSe::parse(b"abc"), err(Syntax::BadNumber, 0));
    }

    #[test]
    fn retry_after_rfc3261() {
        // RFC 3261 §20.33 examples.
        let r = RetryAfter::parse(b"18000;duration=3600").unwrap();
        assert_eq!(
            (r.seconds(), r.duration(), r.comment()),
            (18000, Some(3600), None)
        );
        let r = RetryAfter::parse(b"120 (I'm in a meeting)").unwrap();
        assert_eq!(r.seconds(), 120);
        assert_eq!(r.comment(), Some(&b"I'm in a meeting"[..]));
        let r = RetryAfter::parse(b"5 (a (nested) \\) one);duration=1;foo").unwrap();
        assert_eq!(r.comment(), Some(&b"a (nested) \\) one"[..]));
        assert_eq!(r.duration(), Some(1));
        assert!(r.params().contains("foo"));
        assert_eq!(RetryAfter::parse(b"5 (open"), err(Syntax::Unexpected, 2));
        assert_eq!(
            RetryAfter::parse(b"5;duration=x"),
            err(Syntax::BadNumber, 11)
        );
        assert_eq!(RetryAfter::parse(b"5;duration"), err(Syntax::BadParam, 2));
        assert_eq!(RetryAfter::parse(b"5 junk"), err(Syntax::Trailing, 2));
        // RFC 4475 §3.1.2.5 scalarlg.
        assert_eq!(
            RetryAfter::parse(b"949302838503028349304023988"),
            err(Syntax::Overflow, 0)
        );
    }

    #[test]
    fn rseq_rack_rfc3262() {
        // RFC 3262 §7.1 "RSeq: 988789", §7.2 "RAck: 776656 1 INVITE".
        assert_eq!(RSeq::parse(b"988789").unwrap().value(), 988789);
        assert_eq!(RSeq::parse(b"4294967296"), err(Syntax::Overflow, 0));
        let r = RAck::parse(b"776656 1 INVITE").unwrap();
        assert_eq!(
            (r.rseq(), r.cseq(), r.method()),
            (776656, 1, &b"INVITE"[..])
        );
        assert!(RAck::parse(b"776656\r\n 1\t INVITE").is_ok());
        assert_eq!(RAck::parse(b"776656 1"), err(Syntax::Empty, 8));
        assert_eq!(RAck::parse(b"776656 1 "), err(Syntax::BadMethod, 9));
        assert_eq!(RAck::parse(b"776656,1 INVITE"), err(Syntax::Unexpected, 6));
        assert_eq!(RAck::parse(b"776656 1 INVITE x"), err(Syntax::Trailing, 16));
        assert_eq!(
            RAck::parse(b"1 99999999999 INVITE"),
            err(Syntax::Overflow, 2)
        );
    }

    #[test]
    fn timestamp_rfc3261() {
        // RFC 3261 §20.38 "Timestamp: 54".
        let t = Timestamp::parse(b"54").unwrap();
        assert_eq!((t.value(), t.delay()), (&b"54"[..], None));
        let t = Timestamp::parse(b"54 0.35").unwrap();
        assert_eq!((t.value(), t.delay()), (&b"54"[..], Some(&b"0.35"[..])));
        let t = Timestamp::parse(b"54.3 .5").unwrap();
        assert_eq!((t.value(), t.delay()), (&b"54.3"[..], Some(&b".5"[..])));
        assert!(Timestamp::parse(b"54.").is_ok());
        assert_eq!(Timestamp::parse(b".5"), err(Syntax::BadNumber, 0));
        assert_eq!(Timestamp::parse(b"54x"), err(Syntax::BadNumber, 2));
        assert_eq!(Timestamp::parse(b"54 x"), err(Syntax::BadNumber, 3));
        assert_eq!(Timestamp::parse(b"54 1 2"), err(Syntax::Trailing, 5));
        assert_eq!(Timestamp::parse(b""), err(Syntax::Empty, 0));
    }
}
