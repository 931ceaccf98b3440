//! Dialog, call-control, event and policy headers: Replaces, Reason, Privacy, Event,
//! Allow-Events, Subscription-State, Priority, Geolocation-Routing, Geolocation-Error.

use super::{
    digits_u32, eq_ci, err, expect_end, offset_of, param_once, param_quoted, param_token,
    param_u32, params_at, scan_while, token_at, GEN_VALUE_EXTRA,
};
use crate::error::{Syntax, SyntaxError};
use crate::lex::{self, Params};
use crate::name::HeaderName;
use crate::typed::TypedHeader;

/// RFC 3261 §25.1 `word` characters (Call-ID material): token characters plus
/// `( ) < > : \ " / [ ] ? { }`.
fn is_word(b: u8) -> bool {
    lex::is_token(b) || b"()<>:\\\"/[]?{}".contains(&b)
}

/// `Replaces: callid *(;replaces-param)` (RFC 3891 §6.1), e.g.
/// `425928@bobster.example.org;to-tag=7743;from-tag=6472`. Exactly one `to-tag` and one
/// `from-tag` are required (§6.1), so parsing fails without them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replaces<'a> {
    call_id: &'a [u8],
    to_tag: &'a [u8],
    from_tag: &'a [u8],
    params: Params<'a>,
}

impl<'a> Replaces<'a> {
    /// The Call-ID of the dialog to replace (`word ["@" word]`, compared byte-exact).
    pub fn call_id(&self) -> &'a [u8] {
        self.call_id
    }

    /// The `to-tag`: the replaced dialog's tag at the recipient of this Replaces.
    pub fn to_tag(&self) -> &'a [u8] {
        self.to_tag
    }

    /// The `from-tag`.
    pub fn from_tag(&self) -> &'a [u8] {
        self.from_tag
    }

    /// True with the `early-only` flag: only an early dialog may be replaced (§3).
    pub fn early_only(&self) -> bool {
        self.params.contains("early-only")
    }

    /// All parameters, raw.
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for Replaces<'a> {
    const NAME: HeaderName = HeaderName::Replaces;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let first = scan_while(value, 0, is_word);
        if first == 0 {
            return err(
                if value.is_empty() {
                    Syntax::Empty
                } else {
                    Syntax::Unexpected
                },
                0,
            );
        }
        let mut end = first;
        if value.get(first) == Some(&b'@') {
            end = scan_while(value, first + 1, is_word);
            if end == first + 1 {
                return err(Syntax::Unexpected, end);
            }
        }
        let call_id = &value[..end];
        let params = params_at(value, end, GEN_VALUE_EXTRA)?;
        let to_tag = param_token(value, &params, "to-tag")?;
        let from_tag = param_token(value, &params, "from-tag")?;
        if let Some((n, Some(_))) = param_once(value, &params, "early-only")? {
            // `early-flag = "early-only"` takes no value.
            return err(Syntax::BadParam, offset_of(value, n));
        }
        match (to_tag, from_tag) {
            (Some(to_tag), Some(from_tag)) => Ok(Replaces {
                call_id,
                to_tag,
                from_tag,
                params,
            }),
            _ => err(Syntax::BadParam, value.len()),
        }
    }
}

/// One `Reason` value (RFC 3326 §2): `protocol *(;reason-params)`, e.g.
/// `SIP ;cause=200 ;text="Call completed elsewhere"` or `Q.850 ;cause=16 ;text="Terminated"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason<'a> {
    protocol: &'a [u8],
    cause: Option<u16>,
    text: Option<&'a [u8]>,
    params: Params<'a>,
}

impl<'a> Reason<'a> {
    /// `SIP`, `Q.850` or another protocol token.
    pub fn protocol(&self) -> &'a [u8] {
        self.protocol
    }

    /// True for `SIP` (ASCII case-insensitive, RFC 3261 §7.3.1 tokens).
    pub fn is_sip(&self) -> bool {
        eq_ci(self.protocol, "SIP")
    }

    /// True for `Q.850`.
    pub fn is_q850(&self) -> bool {
        eq_ci(self.protocol, "Q.850")
    }

    /// The `cause` parameter (a SIP status code or a Q.850 cause value).
    pub fn cause(&self) -> Option<u16> {
        self.cause
    }

    /// The `text` parameter without its quotes (quoted-pairs still escaped).
    pub fn text(&self) -> Option<&'a [u8]> {
        self.text
    }

    /// All parameters, raw.
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for Reason<'a> {
    const NAME: HeaderName = HeaderName::Reason;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let (protocol, end) = token_at(value, 0)?;
        let params = params_at(value, end, GEN_VALUE_EXTRA)?;
        let cause = match param_u32(value, &params, "cause")? {
            None => None,
            Some(c) => match u16::try_from(c) {
                Ok(c) => Some(c),
                Err(_) => {
                    let at = param_once(value, &params, "cause")?
                        .and_then(|(_, v)| v)
                        .map_or(0, |v| offset_of(value, v));
                    return err(Syntax::Overflow, at);
                }
            },
        };
        // `reason-text = "text" EQUAL quoted-string`.
        let text = param_quoted(value, &params, "text")?;
        Ok(Reason {
            protocol,
            cause,
            text,
            params,
        })
    }
}

/// `Privacy: priv-value *(";" priv-value)` (RFC 3323 §4.2; `id` from RFC 3325 §9.3), e.g.
/// `id` or `header;user`. The whole `;`-separated list is one element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Privacy<'a> {
    value: &'a [u8],
}

impl<'a> Privacy<'a> {
    /// The priv-values in order.
    pub fn values(&self) -> PrivValues<'a> {
        PrivValues {
            s: self.value,
            pos: 0,
        }
    }

    /// True when `name` is one of the priv-values (ASCII case-insensitive).
    pub fn contains(&self, name: &str) -> bool {
        self.values().any(|v| eq_ci(v, name))
    }

    /// The raw value.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.value
    }
}

/// Iterator behind [`Privacy::values`].
#[derive(Debug, Clone)]
pub struct PrivValues<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PrivValues<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let start = lex::skip_lws(self.s, self.pos);
        let end = scan_while(self.s, start, lex::is_token);
        if end == start {
            self.pos = self.s.len();
            return None;
        }
        let next = lex::skip_lws(self.s, end);
        // Validated at parse time: a `;` or the end follows.
        self.pos = if self.s.get(next) == Some(&b';') {
            next + 1
        } else {
            self.s.len()
        };
        self.s.get(start..end)
    }
}

impl<'a> TypedHeader<'a> for Privacy<'a> {
    const NAME: HeaderName = HeaderName::Privacy;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let mut pos = 0;
        loop {
            let start = lex::skip_lws(value, pos);
            let (_, end) = token_at(value, start)?;
            let next = lex::skip_lws(value, end);
            match value.get(next) {
                None => return Ok(Privacy { value }),
                Some(b';') => pos = next + 1,
                Some(_) => return err(Syntax::Trailing, next),
            }
        }
    }
}

/// `event-type = event-package *("." event-template)` (RFC 6665 §8.2.1), e.g. `presence`,
/// `presence.winfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventType<'a> {
    value: &'a [u8],
}

impl<'a> EventType<'a> {
    /// The full event type as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.value
    }

    /// The package: everything before the first `.`.
    pub fn package(&self) -> &'a [u8] {
        self.value.split(|&b| b == b'.').next().unwrap_or_default()
    }

    /// The template part after the first `.` (e.g. `winfo`), if any.
    pub fn templates(&self) -> Option<&'a [u8]> {
        let dot = self.value.iter().position(|&b| b == b'.')?;
        self.value.get(dot + 1..)
    }

    /// Byte-exact comparison: RFC 6665 matches event types as identical strings and
    /// registers package names in their exact case.
    pub fn is(&self, other: &str) -> bool {
        self.value == other.as_bytes()
    }
}

/// Index after an event-type at `pos`: `token-nodot` parts (token characters except `.`)
/// joined by single dots.
fn event_type_end(s: &[u8], pos: usize) -> Result<usize, SyntaxError> {
    let mut i = pos;
    loop {
        let start = i;
        i = scan_while(s, i, |b| b != b'.' && lex::is_token(b));
        if i == start {
            return err(
                if start >= s.len() {
                    Syntax::Empty
                } else {
                    Syntax::Unexpected
                },
                start,
            );
        }
        if s.get(i) != Some(&b'.') {
            return Ok(i);
        }
        i += 1;
    }
}

/// `Event: event-type *(;event-param)` (RFC 6665 §8.2.1), e.g. `refer`, `foo; id=1234`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    event_type: EventType<'a>,
    id: Option<&'a [u8]>,
    params: Params<'a>,
}

impl<'a> Event<'a> {
    /// The event type.
    pub fn event_type(&self) -> EventType<'a> {
        self.event_type
    }

    /// The `id` parameter distinguishing subscriptions in one dialog (§8.2.1).
    pub fn id(&self) -> Option<&'a [u8]> {
        self.id
    }

    /// All parameters, raw.
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for Event<'a> {
    const NAME: HeaderName = HeaderName::Event;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let end = event_type_end(value, 0)?;
        let params = params_at(value, end, GEN_VALUE_EXTRA)?;
        // `"id" EQUAL token`.
        let id = param_token(value, &params, "id")?;
        Ok(Event {
            event_type: EventType {
                value: &value[..end],
            },
            id,
            params,
        })
    }
}

/// One `Allow-Events` event-type (RFC 6665 §8.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AllowEvents<'a> {
    event_type: EventType<'a>,
}

impl<'a> AllowEvents<'a> {
    /// The event type.
    pub fn event_type(&self) -> EventType<'a> {
        self.event_type
    }

    /// Byte-exact comparison, as [`EventType::is`].
    pub fn is(&self, other: &str) -> bool {
        self.event_type.is(other)
    }
}

impl<'a> TypedHeader<'a> for AllowEvents<'a> {
    const NAME: HeaderName = HeaderName::AllowEvents;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let end = event_type_end(value, 0)?;
        expect_end(value, end)?;
        Ok(AllowEvents {
            event_type: EventType {
                value: &value[..end],
            },
        })
    }
}

/// The `substate-value` of a subscription (RFC 6665 §8.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubState<'a> {
    /// `active`
    Active,
    /// `pending`
    Pending,
    /// `terminated`
    Terminated,
    /// `extension-substate` token.
    Other(&'a [u8]),
}

/// `Subscription-State: substate-value *(;subexp-params)` (RFC 6665 §8.2.3), e.g.
/// `active;expires=60`, `terminated;reason=timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionState<'a> {
    state: SubState<'a>,
    expires: Option<u32>,
    retry_after: Option<u32>,
    reason: Option<&'a [u8]>,
    params: Params<'a>,
}

impl<'a> SubscriptionState<'a> {
    /// The subscription state.
    pub fn state(&self) -> SubState<'a> {
        self.state
    }

    /// The `expires` parameter in seconds.
    pub fn expires(&self) -> Option<u32> {
        self.expires
    }

    /// The `retry-after` parameter in seconds.
    pub fn retry_after(&self) -> Option<u32> {
        self.retry_after
    }

    /// The `reason` parameter (`deactivated`, `probation`, `rejected`, `timeout`, `giveup`,
    /// `noresource`, `invariant` or an extension token).
    pub fn reason(&self) -> Option<&'a [u8]> {
        self.reason
    }

    /// All parameters, raw.
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for SubscriptionState<'a> {
    const NAME: HeaderName = HeaderName::SubscriptionState;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let (tok, end) = token_at(value, 0)?;
        let state = if eq_ci(tok, "active") {
            SubState::Active
        } else if eq_ci(tok, "pending") {
            SubState::Pending
        } else if eq_ci(tok, "terminated") {
            SubState::Terminated
        } else {
            SubState::Other(tok)
        };
        let params = params_at(value, end, GEN_VALUE_EXTRA)?;
        let expires = param_u32(value, &params, "expires")?;
        let retry_after = param_u32(value, &params, "retry-after")?;
        let reason = param_token(value, &params, "reason")?;
        Ok(SubscriptionState {
            state,
            expires,
            retry_after,
            reason,
            params,
        })
    }
}

/// `Priority: priority-value` (RFC 3261 §20.26).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority<'a> {
    /// `emergency`
    Emergency,
    /// `urgent`
    Urgent,
    /// `normal`
    Normal,
    /// `non-urgent`
    NonUrgent,
    /// `other-priority` token (e.g. RFC 7090 `psap-callback`).
    Other(&'a [u8]),
}

impl<'a> TypedHeader<'a> for Priority<'a> {
    const NAME: HeaderName = HeaderName::Priority;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let (tok, end) = token_at(value, 0)?;
        expect_end(value, end)?;
        Ok(if eq_ci(tok, "emergency") {
            Priority::Emergency
        } else if eq_ci(tok, "urgent") {
            Priority::Urgent
        } else if eq_ci(tok, "normal") {
            Priority::Normal
        } else if eq_ci(tok, "non-urgent") {
            Priority::NonUrgent
        } else {
            Priority::Other(tok)
        })
    }
}

/// `Geolocation-Routing: "yes" / "no" / generic-value` (RFC 6442 §4.2): whether location may
/// be used for routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GeolocationRouting<'a> {
    /// `yes`
    Yes,
    /// `no`
    No,
    /// A future value (token, host or quoted-string), raw.
    Other(&'a [u8]),
}

impl<'a> TypedHeader<'a> for GeolocationRouting<'a> {
    const NAME: HeaderName = HeaderName::GeolocationRouting;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let end = match value.first() {
            None => return err(Syntax::Empty, 0),
            Some(b'"') => lex::scan_quoted(value, 0)?,
            Some(_) => scan_while(value, 0, |b| {
                lex::is_token(b) || GEN_VALUE_EXTRA.contains(&b)
            }),
        };
        if end == 0 {
            return err(Syntax::Unexpected, 0);
        }
        expect_end(value, end)?;
        let v = &value[..end];
        Ok(if eq_ci(v, "yes") {
            GeolocationRouting::Yes
        } else if eq_ci(v, "no") {
            GeolocationRouting::No
        } else {
            GeolocationRouting::Other(v)
        })
    }
}

/// `Geolocation-Error: location-error-code *(;location-error-params)` (RFC 6442 §4.4), e.g.
/// `100 ; code="Cannot Process Location"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeolocationError<'a> {
    code: u16,
    text: Option<&'a [u8]>,
    params: Params<'a>,
}

impl<'a> GeolocationError<'a> {
    /// The location error code (`1*3DIGIT`: 100, 200, 201, 202, 300, ...).
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The `code` parameter's text without its quotes.
    pub fn text(&self) -> Option<&'a [u8]> {
        self.text
    }

    /// All parameters, raw.
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> TypedHeader<'a> for GeolocationError<'a> {
    const NAME: HeaderName = HeaderName::GeolocationError;

    fn parse(value: &'a [u8]) -> Result<Self, SyntaxError> {
        let end = scan_while(value, 0, lex::is_digit);
        if end == 0 {
            return err(
                if value.is_empty() {
                    Syntax::Empty
                } else {
                    Syntax::BadNumber
                },
                0,
            );
        }
        if end > 3 {
            return err(Syntax::BadNumber, 0);
        }
        // At most three digits, so this always fits.
        let code = u16::try_from(digits_u32(&value[..end], 0)?).unwrap_or(u16::MAX);
        let params = params_at(value, end, GEN_VALUE_EXTRA)?;
        // `location-error-code-text = "code" EQUAL quoted-string`.
        let text = param_quoted(value, &params, "code")?;
        Ok(GeolocationError { code, text, params })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_rfc3891() {
        // RFC 3891 §6.1 and §7 examples.
        let r = Replaces::parse(b"425928@bobster.example.org;to-tag=7743;from-tag=6472").unwrap();
        assert_eq!(r.call_id(), b"425928@bobster.example.org");
        assert_eq!(
            (r.to_tag(), r.from_tag(), r.early_only()),
            (&b"7743"[..], &b"6472"[..], false)
        );
        let r = Replaces::parse(
            b"98732@sip.example.com\r\n          ;from-tag=r33th4x0r\r\n          ;to-tag=ff87ff",
        )
        .unwrap();
        assert_eq!(
            (r.call_id(), r.to_tag(), r.from_tag()),
            (
                &b"98732@sip.example.com"[..],
                &b"ff87ff"[..],
                &b"r33th4x0r"[..]
            )
        );
        let r = Replaces::parse(b"12adf2f34456gs5;to-tag=12345;from-tag=54321;early-only").unwrap();
        assert_eq!(r.call_id(), b"12adf2f34456gs5");
        assert!(r.early_only());
        // Call-IDs may hold word characters such as `<`, `"`, `:` (RFC 4475 §3.1.1.2 intmeth).
        let r = Replaces::parse(b"a<b>\"c\":d@[x]?{y};to-tag=1;from-tag=2").unwrap();
        assert_eq!(r.call_id(), b"a<b>\"c\":d@[x]?{y}");
    }

    #[test]
    fn replaces_errors() {
        assert_eq!(Replaces::parse(b""), err(Syntax::Empty, 0));
        assert_eq!(Replaces::parse(b"abc;to-tag=1"), err(Syntax::BadParam, 12));
        assert_eq!(
            Replaces::parse(b"abc;from-tag=1"),
            err(Syntax::BadParam, 14)
        );
        assert_eq!(
            Replaces::parse(b"abc;to-tag=1;from-tag=2;to-tag=3"),
            err(Syntax::BadParam, 24)
        );
        assert_eq!(
            Replaces::parse(b"abc;to-tag;from-tag=2"),
            err(Syntax::BadParam, 4)
        );
        assert_eq!(
            Replaces::parse(b"abc;to-tag=\"1\";from-tag=2"),
            err(Syntax::BadParam, 11)
        );
        assert_eq!(
            Replaces::parse(b"abc;to-tag=1;from-tag=2;early-only=yes"),
            err(Syntax::BadParam, 24)
        );
        assert_eq!(
            Replaces::parse(b"a@b@c;to-tag=1;from-tag=2"),
            err(Syntax::Trailing, 3)
        );
        assert_eq!(
            Replaces::parse(b"a@;to-tag=1;from-tag=2"),
            err(Syntax::Unexpected, 2)
        );
        assert_eq!(
            Replaces::parse(b";to-tag=1;from-tag=2"),
            err(Syntax::Unexpected, 0)
        );
    }

    #[test]
    fn reason_rfc3326() {
        // RFC 3326 §2 examples.
        let r = Reason::parse(b"SIP ;cause=200 ;text=\"Call completed elsewhere\"").unwrap();
        assert!(r.is_sip() && !r.is_q850());
        assert_eq!(r.protocol(), b"SIP");
        assert_eq!(r.cause(), Some(200));
        assert_eq!(r.text(), Some(&b"Call completed elsewhere"[..]));
        let r = Reason::parse(b"Q.850 ;cause=16 ;text=\"Terminated\"").unwrap();
        assert!(r.is_q850());
        assert_eq!((r.cause(), r.text()), (Some(16), Some(&b"Terminated"[..])));
        let r = Reason::parse(b"SIP ;cause=600 ;text=\"Busy Everywhere\"").unwrap();
        assert_eq!(r.cause(), Some(600));
        let r = Reason::parse(b"preemption ;cause=1 ;text=\"UA Preemption\"").unwrap();
        assert_eq!(r.protocol(), b"preemption");
        let r = Reason::parse(b"Q.850;cause=31;location=LN").unwrap();
        assert_eq!(r.params().get("location"), Some(Some(&b"LN"[..])));
        assert_eq!(Reason::parse(b"SIP").unwrap().cause(), None);
        assert_eq!(
            Reason::parse(b"SIP;text=\"a \\\" b\"").unwrap().text(),
            Some(&b"a \\\" b"[..])
        );
    }

    #[test]
    fn reason_errors() {
        assert_eq!(Reason::parse(b""), err(Syntax::Empty, 0));
        assert_eq!(Reason::parse(b"SIP;cause=abc"), err(Syntax::BadNumber, 10));
        assert_eq!(Reason::parse(b"SIP;cause=65536"), err(Syntax::Overflow, 10));
        assert_eq!(
            Reason::parse(b"SIP;cause=99999999999"),
            err(Syntax::Overflow, 10)
        );
        assert_eq!(Reason::parse(b"SIP;cause"), err(Syntax::BadParam, 4));
        assert_eq!(
            Reason::parse(b"SIP;text=unquoted"),
            err(Syntax::BadParam, 9)
        );
        assert_eq!(
            Reason::parse(b"SIP;text=\"open"),
            err(Syntax::UnterminatedQuote, 9)
        );
        assert_eq!(Reason::parse(b"SIP cause=1"), err(Syntax::Trailing, 4));
    }

    #[test]
    fn privacy_rfc3323() {
        let p = Privacy::parse(b"id").unwrap();
        assert!(p.contains("ID"));
        assert!(!p.contains("user"));
        let p = Privacy::parse(b"header ; session;user;critical").unwrap();
        let v: Vec<&[u8]> = p.values().collect();
        assert_eq!(v, [&b"header"[..], b"session", b"user", b"critical"]);
        assert!(p.contains("critical"));
        assert_eq!(p.as_bytes(), b"header ; session;user;critical");
        assert_eq!(Privacy::parse(b"none").unwrap().values().count(), 1);
        assert_eq!(Privacy::parse(b""), err(Syntax::Empty, 0));
        assert_eq!(Privacy::parse(b"id;"), err(Syntax::Empty, 3));
        assert_eq!(Privacy::parse(b"id;;user"), err(Syntax::Unexpected, 3));
        assert_eq!(Privacy::parse(b"id user"), err(Syntax::Trailing, 3));
        assert_eq!(Privacy::parse(b"id=1"), err(Syntax::Trailing, 2));
        assert_eq!(Privacy::NAME, HeaderName::Privacy);
    }

    #[test]
    fn event_rfc6665() {
        // RFC 6665 §8.2.1 / §7.2 style examples.
        let e = Event::parse(b"refer").unwrap();
        assert!(e.event_type().is("refer"));
        assert_eq!(e.id(), None);
        let e = Event::parse(b"foo; id=1234").unwrap();
        assert_eq!(e.id(), Some(&b"1234"[..]));
        let e = Event::parse(b"presence.winfo;x=y").unwrap();
        let t = e.event_type();
        assert_eq!(
            (t.package(), t.templates()),
            (&b"presence"[..], Some(&b"winfo"[..]))
        );
        assert_eq!(t.as_bytes(), b"presence.winfo");
        assert_eq!(e.params().get("x"), Some(Some(&b"y"[..])));
        assert_eq!(
            Event::parse(b"a.b.c").unwrap().event_type().templates(),
            Some(&b"b.c"[..])
        );
        assert_eq!(
            Event::parse(b"dialog").unwrap().event_type().templates(),
            None
        );
        assert_eq!(Event::parse(b""), err(Syntax::Empty, 0));
        assert_eq!(Event::parse(b".foo"), err(Syntax::Unexpected, 0));
        assert_eq!(Event::parse(b"foo."), err(Syntax::Empty, 4));
        assert_eq!(Event::parse(b"foo..bar"), err(Syntax::Unexpected, 4));
        assert_eq!(Event::parse(b"foo;id"), err(Syntax::BadParam, 4));
        assert_eq!(Event::parse(b"foo bar"), err(Syntax::Trailing, 4));
    }

    #[test]
    fn allow_events() {
        // RFC 3910 "Allow-Events: spirits-INDPs"; RFC 3265/6665 packages.
        let a = AllowEvents::parse(b"spirits-INDPs").unwrap();
        assert!(a.is("spirits-INDPs"));
        assert!(!a.is("spirits-indps"));
        assert_eq!(a.event_type().package(), b"spirits-INDPs");
        assert!(AllowEvents::parse(b"presence.winfo").is_ok());
        assert_eq!(AllowEvents::parse(b"refer;x"), err(Syntax::Trailing, 5));
        assert_eq!(AllowEvents::NAME, HeaderName::AllowEvents);
    }

    #[test]
    fn subscription_state() {
        let s = SubscriptionState::parse(b"active;expires=60").unwrap();
        assert_eq!((s.state(), s.expires()), (SubState::Active, Some(60)));
        let s = SubscriptionState::parse(b"terminated;reason=timeout").unwrap();
        assert_eq!(
            (s.state(), s.reason()),
            (SubState::Terminated, Some(&b"timeout"[..]))
        );
        let s = SubscriptionState::parse(b"terminated;reason=probation;retry-after=3600").unwrap();
        assert_eq!(s.retry_after(), Some(3600));
        assert_eq!(
            SubscriptionState::parse(b"PENDING").unwrap().state(),
            SubState::Pending
        );
        assert_eq!(
            SubscriptionState::parse(b"waiting").unwrap().state(),
            SubState::Other(b"waiting")
        );
        assert_eq!(
            SubscriptionState::parse(b"active;expires=x"),
            err(Syntax::BadNumber, 15)
        );
        assert_eq!(
            SubscriptionState::parse(b"active;expires=4294967296"),
            err(Syntax::Overflow, 15)
        );
        assert_eq!(
            SubscriptionState::parse(b"active;expires=1;expires=2"),
            err(Syntax::BadParam, 17)
        );
        assert_eq!(
            SubscriptionState::parse(b"terminated;reason=\"x\""),
            err(Syntax::BadParam, 18)
        );
    }

    #[test]
    fn priority_rfc3261() {
        // RFC 3261 §20.26 "Priority: emergency", "Priority: non-urgent".
        assert_eq!(Priority::parse(b"emergency"), Ok(Priority::Emergency));
        assert_eq!(Priority::parse(b"non-urgent"), Ok(Priority::NonUrgent));
        assert_eq!(Priority::parse(b"Urgent"), Ok(Priority::Urgent));
        assert_eq!(Priority::parse(b"normal"), Ok(Priority::Normal));
        assert_eq!(
            Priority::parse(b"psap-callback"),
            Ok(Priority::Other(b"psap-callback"))
        );
        assert_eq!(Priority::parse(b""), err(Syntax::Empty, 0));
        assert_eq!(Priority::parse(b"urgent;x"), err(Syntax::Trailing, 6));
    }

    #[test]
    fn geolocation_rfc6442() {
        assert_eq!(
            GeolocationRouting::parse(b"yes"),
            Ok(GeolocationRouting::Yes)
        );
        assert_eq!(GeolocationRouting::parse(b"NO"), Ok(GeolocationRouting::No));
        assert_eq!(
            GeolocationRouting::parse(b"maybe"),
            Ok(GeolocationRouting::Other(b"maybe"))
        );
        assert_eq!(
            GeolocationRouting::parse(b"\"x y\""),
            Ok(GeolocationRouting::Other(b"\"x y\""))
        );
        assert_eq!(GeolocationRouting::parse(b""), err(Syntax::Empty, 0));
        assert_eq!(GeolocationRouting::parse(b";"), err(Syntax::Unexpected, 0));
        assert_eq!(
            GeolocationRouting::parse(b"yes no"),
            err(Syntax::Trailing, 4)
        );
        // RFC 6442 §4.4 example.
        let g = GeolocationError::parse(b"100 ; code=\"Cannot Process Location\"").unwrap();
        assert_eq!(
            (g.code(), g.text()),
            (100, Some(&b"Cannot Process Location"[..]))
        );
        assert_eq!(GeolocationError::parse(b"300").unwrap().code(), 300);
        assert_eq!(GeolocationError::parse(b"1000"), err(Syntax::BadNumber, 0));
        assert_eq!(GeolocationError::parse(b"x"), err(Syntax::BadNumber, 0));
        assert_eq!(
            GeolocationError::parse(b"100;code=abc"),
            err(Syntax::BadParam, 9)
        );
    }
}
