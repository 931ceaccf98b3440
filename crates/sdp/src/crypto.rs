//! SDES `a=crypto` (RFC 4568):
//!
//! ```text
//! a=crypto:<tag> 1*WSP <crypto-suite> 1*WSP <key-params> *(1*WSP <session-param>)   (§9.1)
//! key-params = key-param *(";" key-param)                                           (§9.1)
//! key-param  = key-method ":" key-info
//! srtp key-info ("inline") = key-salt ["|" lifetime] ["|" mki]                       (§9.2)
//! lifetime   = ["2^"] 1*DIGIT
//! mki        = mki-value ":" mki-length          ; mki-length 1..=128 (bytes)
//! ```
//!
//! Microsoft Teams sends e.g. `a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:<b64>|2^31|1:1`.
//! The key is exposed as its raw base64 slice; decoding is the SRTP layer's job.

use crate::attr::{Attribute, Attributes};
use crate::error::{SdpError, SdpErrorKind};
use crate::field::{parse_u32, parse_u64, parse_u8, Field, Split};

fn bad(at: usize) -> SdpError {
    SdpError::new(SdpErrorKind::BadAttribute, at)
}

/// The SRTP master key lifetime (RFC 4568 §9.2), in packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lifetime {
    /// `2^<n>`.
    PowerOfTwo(u8),
    /// A plain decimal count.
    Packets(u64),
}

impl Lifetime {
    /// The number of packets, `None` when `2^n` does not fit `u64`.
    pub fn packets(self) -> Option<u64> {
        match self {
            Lifetime::PowerOfTwo(n) => 1u64.checked_shl(u32::from(n)),
            Lifetime::Packets(p) => Some(p),
        }
    }
}

/// The MKI part of an SRTP key-info: `<mki-value>:<mki-length>` (RFC 4568 §9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mki<'a> {
    field: Field<'a>,
    value_field: Field<'a>,
    value: u64,
    length_field: Field<'a>,
    length: u8,
}

impl<'a> Mki<'a> {
    /// The whole `value:length` text and span.
    pub fn field(&self) -> Field<'a> {
        self.field
    }
    /// The MKI value (decimal in SDP, sent as a `length`-byte big-endian field in SRTP).
    pub fn value(&self) -> u64 {
        self.value
    }
    /// MKI value text and span.
    pub fn value_field(&self) -> Field<'a> {
        self.value_field
    }
    /// The MKI length in bytes (1..=128).
    pub fn length(&self) -> u8 {
        self.length
    }
    /// MKI length text and span.
    pub fn length_field(&self) -> Field<'a> {
        self.length_field
    }
}

/// One `key-method ":" key-info` entry of the key-params.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyParam<'a> {
    field: Field<'a>,
    method: Field<'a>,
    info: Field<'a>,
    key: Option<Field<'a>>,
    lifetime_field: Option<Field<'a>>,
    lifetime: Option<Lifetime>,
    mki: Option<Mki<'a>>,
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

fn is_suite_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> KeyParam<'a> {
    /// Parses one key-param (no `;`).
    pub fn parse(field: Field<'a>) -> Result<Self, SdpError> {
        let (method, info) = field.split_once(b':').ok_or(bad(field.start()))?;
        if method.is_empty() || !method.as_bytes().iter().all(|&b| is_suite_char(b)) {
            return Err(bad(method.start()));
        }
        // key-info = 1*(%x21-3A / %x3C-7E): visible characters except ';'.
        if info.is_empty()
            || !info
                .as_bytes()
                .iter()
                .all(|&b| (0x21..=0x7e).contains(&b) && b != b';')
        {
            return Err(bad(info.start()));
        }
        let mut kp = KeyParam {
            field,
            method,
            info,
            key: None,
            lifetime_field: None,
            lifetime: None,
            mki: None,
        };
        if !method.eq_ignore_ascii_case(b"inline") {
            // Other key methods are opaque here (none is defined for SRTP besides inline).
            return Ok(kp);
        }
        let mut parts = info.split(b'|');
        let key = parts.next().unwrap_or(info);
        if key.is_empty() || !key.as_bytes().iter().all(|&b| is_b64(b)) {
            return Err(bad(key.start()));
        }
        kp.key = Some(key);
        // At most two more parts; a part with ':' is the MKI and must be last, otherwise it
        // is the lifetime, which must precede the MKI (§9.2 grammar order).
        for part in parts {
            if kp.mki.is_some() {
                return Err(bad(part.start()));
            }
            if let Some((v, l)) = part.split_once(b':') {
                let value = parse_u64(v.as_bytes()).ok_or(bad(v.start()))?;
                let length = parse_u8(l.as_bytes())
                    .filter(|n| (1..=128).contains(n) && l.len() <= 3)
                    .ok_or(bad(l.start()))?;
                kp.mki = Some(Mki {
                    field: part,
                    value_field: v,
                    value,
                    length_field: l,
                    length,
                });
            } else {
                if kp.lifetime.is_some() {
                    return Err(bad(part.start()));
                }
                let lt = match part.as_bytes().strip_prefix(b"2^") {
                    Some(exp) => Lifetime::PowerOfTwo(parse_u8(exp).ok_or(bad(part.start()))?),
                    None => Lifetime::Packets(parse_u64(part.as_bytes()).ok_or(bad(part.start()))?),
                };
                kp.lifetime = Some(lt);
                kp.lifetime_field = Some(part);
            }
        }
        Ok(kp)
    }

    /// The whole key-param text and span.
    pub fn field(&self) -> Field<'a> {
        self.field
    }
    /// `key-method` (`inline`).
    pub fn method(&self) -> Field<'a> {
        self.method
    }
    /// `key-info` raw (everything after `method:`).
    pub fn info(&self) -> Field<'a> {
        self.info
    }
    /// For `inline`: the base64 `key||salt` (replace it to re-key).
    pub fn key(&self) -> Option<Field<'a>> {
        self.key
    }
    /// For `inline`: the lifetime, if present.
    pub fn lifetime(&self) -> Option<Lifetime> {
        self.lifetime
    }
    /// For `inline`: the lifetime text and span, if present.
    pub fn lifetime_field(&self) -> Option<Field<'a>> {
        self.lifetime_field
    }
    /// For `inline`: the MKI, if present.
    pub fn mki(&self) -> Option<Mki<'a>> {
        self.mki
    }
}

/// Iterator over the key-params of a crypto attribute.
#[derive(Debug, Clone)]
pub struct KeyParams<'a> {
    split: Split<'a>,
}

impl<'a> Iterator for KeyParams<'a> {
    type Item = KeyParam<'a>;
    fn next(&mut self) -> Option<KeyParam<'a>> {
        // Validated in `Crypto::parse`; an (impossible) failure ends the iteration.
        let f = self.split.next()?;
        KeyParam::parse(f).ok()
    }
}

/// A parsed `a=crypto` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crypto<'a> {
    attr: Attribute<'a>,
    tag_field: Field<'a>,
    tag: u32,
    suite: Field<'a>,
    key_params: Field<'a>,
    session_params: Option<Field<'a>>,
}

impl<'a> Crypto<'a> {
    /// Parses an `a=crypto` attribute, validating every key-param.
    pub fn parse(attr: Attribute<'a>) -> Result<Self, SdpError> {
        let v = attr.value().ok_or(bad(attr.name().end()))?;
        let mut w = v.words();
        let tag_field = w.next().ok_or(bad(v.start()))?;
        // tag = 1*9DIGIT (§9.1), so it always fits u32.
        let tag = parse_u32(tag_field.as_bytes())
            .filter(|_| tag_field.len() <= 9)
            .ok_or(bad(tag_field.start()))?;
        let suite = w.next().ok_or(bad(v.end()))?;
        if !suite.as_bytes().iter().all(|&b| is_suite_char(b)) {
            return Err(bad(suite.start()));
        }
        let key_params = w.next().ok_or(bad(v.end()))?;
        for kp in key_params.split(b';') {
            KeyParam::parse(kp)?;
        }
        let rest = w.rest();
        let session_params = (!rest.is_empty()).then_some(rest);
        Ok(Crypto {
            attr,
            tag_field,
            tag,
            suite,
            key_params,
            session_params,
        })
    }

    /// The attribute (its range deletes the line).
    pub fn attribute(&self) -> Attribute<'a> {
        self.attr
    }
    /// `<tag>`: the answer echoes the tag of the offer line it accepts (§6.1).
    pub fn tag(&self) -> u32 {
        self.tag
    }
    /// `<tag>` text and span.
    pub fn tag_field(&self) -> Field<'a> {
        self.tag_field
    }
    /// `<crypto-suite>` (`AES_CM_128_HMAC_SHA1_80`, `AES_256_CM_HMAC_SHA1_80`, ...).
    pub fn suite(&self) -> Field<'a> {
        self.suite
    }
    /// `<key-params>` raw and span (all of them, `;`-separated).
    pub fn key_params_field(&self) -> Field<'a> {
        self.key_params
    }
    /// The individual key-params.
    pub fn key_params(&self) -> KeyParams<'a> {
        KeyParams {
            split: self.key_params.split(b';'),
        }
    }
    /// The first key-param (there is always at least one).
    pub fn first_key(&self) -> Option<KeyParam<'a>> {
        self.key_params().next()
    }
    /// The session parameters raw (`UNENCRYPTED_SRTCP`, `KDR=`, `WSH=`, ...), if any.
    pub fn session_params(&self) -> Option<Field<'a>> {
        self.session_params
    }
    /// The session parameters one by one.
    pub fn session_param_iter(&self) -> impl Iterator<Item = Field<'a>> + 'a {
        self.session_params.into_iter().flat_map(|f| f.words())
    }
}

/// Iterator over the `a=crypto` attributes of a section.
#[derive(Debug, Clone)]
pub struct Cryptos<'a> {
    pub(crate) attrs: Attributes<'a>,
}

impl<'a> Iterator for Cryptos<'a> {
    type Item = Result<Crypto<'a>, SdpError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.attrs.next().map(Crypto::parse)
    }
}
