//! Crypto suites and SDES key parameters (RFC 4568 §6.1, §6.2).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::fmt;

use crate::error::KeyError;

/// Master key length of the AES_CM_128 suites (RFC 4568 §6.2.1).
pub const MASTER_KEY_LEN: usize = 16;
/// Master salt length of the AES_CM_128 suites.
pub const MASTER_SALT_LEN: usize = 14;
/// Largest MKI this implementation carries, in bytes. RFC 4568 allows up to 128, but every
/// deployed peer (Microsoft Teams uses 1) stays far below 4.
pub const MAX_MKI_LEN: usize = 4;
/// Maximum SRTP packets per master key (RFC 3711 §9.2: 2^48).
pub const MAX_SRTP_LIFETIME: u64 = 1 << 48;
/// Maximum SRTCP packets per master key (RFC 3711 §9.2: 2^31).
pub const MAX_SRTCP_LIFETIME: u64 = 1 << 31;

/// The SDES crypto suites supported (RFC 4568 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suite {
    /// AES-128 counter mode, HMAC-SHA1 tag truncated to 80 bits.
    AesCm128HmacSha1_80,
    /// AES-128 counter mode, HMAC-SHA1 tag truncated to 32 bits on SRTP; SRTCP keeps the
    /// 80-bit tag (RFC 4568 §6.2.2).
    AesCm128HmacSha1_32,
}

impl Suite {
    /// The name used in `a=crypto`.
    pub fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// Parse an `a=crypto` suite name (case-sensitive, as RFC 4568 §9.2 registers them).
    pub fn from_name(name: &str) -> Result<Suite, KeyError> {
        match name {
            "AES_CM_128_HMAC_SHA1_80" => Ok(Suite::AesCm128HmacSha1_80),
            "AES_CM_128_HMAC_SHA1_32" => Ok(Suite::AesCm128HmacSha1_32),
            _ => Err(KeyError::UnknownSuite),
        }
    }

    /// SRTP authentication tag length in bytes.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 => 10,
            Suite::AesCm128HmacSha1_32 => 4,
        }
    }

    /// SRTCP authentication tag length in bytes: 80 bits for both suites.
    pub fn rtcp_tag_len(self) -> usize {
        10
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Master Key Identifier: `value` sent big-endian in `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mki {
    /// The identifier value.
    pub value: u32,
    /// Bytes on the wire, 1..=[`MAX_MKI_LEN`].
    pub len: u8,
}

impl Mki {
    /// Build an MKI, refusing a length outside 1..=4 or a value that does not fit.
    pub fn new(value: u32, len: u8) -> Result<Mki, KeyError> {
        if len == 0 || usize::from(len) > MAX_MKI_LEN {
            return Err(KeyError::BadMki);
        }
        if len < 4 && value >> (8 * u32::from(len)) != 0 {
            return Err(KeyError::BadMki);
        }
        Ok(Mki { value, len })
    }

    /// The wire bytes, left-aligned in a 4-byte array (only `len` of them are meaningful).
    pub(crate) fn wire(self) -> [u8; MAX_MKI_LEN] {
        let be = self.value.to_be_bytes();
        let mut out = [0u8; MAX_MKI_LEN];
        let n = usize::from(self.len);
        out[..n].copy_from_slice(&be[4 - n..]);
        out
    }
}

/// One SDES `key-params` (RFC 4568 §6.1): `inline:<key||salt base64>[|lifetime][|MKI:len]`.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyParams {
    /// The 128-bit master key.
    pub key: [u8; MASTER_KEY_LEN],
    /// The 112-bit master salt.
    pub salt: [u8; MASTER_SALT_LEN],
    /// Packets allowed under this key; `None` means the suite maximum (RFC 4568 §6.1).
    pub lifetime: Option<u64>,
    /// The MKI carried in each packet, if any.
    pub mki: Option<Mki>,
}

impl fmt::Debug for KeyParams {
    // Never print key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyParams")
            .field("key", &"<redacted>")
            .field("lifetime", &self.lifetime)
            .field("mki", &self.mki)
            .finish()
    }
}

impl KeyParams {
    /// Key parameters from 30 random bytes (key || salt), e.g. for an SBC-generated offer.
    /// Randomness comes from the caller (the shell), so this crate stays deterministic.
    pub fn from_key_salt(key_salt: &[u8; 30], lifetime: Option<u64>, mki: Option<Mki>) -> Self {
        let mut key = [0u8; MASTER_KEY_LEN];
        let mut salt = [0u8; MASTER_SALT_LEN];
        key.copy_from_slice(&key_salt[..MASTER_KEY_LEN]);
        salt.copy_from_slice(&key_salt[MASTER_KEY_LEN..]);
        KeyParams {
            key,
            salt,
            lifetime,
            mki,
        }
    }

    /// Parse one `key-params` element. `2^n` lifetimes are accepted as RFC 4568 §9.2 writes
    /// them; the lifetime is capped at the SRTP maximum 2^48 (§6.2.1).
    pub fn parse(s: &str) -> Result<KeyParams, KeyError> {
        let info = s.strip_prefix("inline:").ok_or(KeyError::NotInline)?;
        let mut parts = info.split('|');
        let b64 = parts.next().unwrap_or("");
        // Decode into a fixed buffer: a 30-byte key-salt is 40 base64 chars; anything longer
        // is refused before decoding.
        if b64.len() > 44 {
            return Err(KeyError::BadKeyLength(b64.len() * 3 / 4));
        }
        let mut raw = [0u8; 33];
        let n = STANDARD
            .decode_slice(b64.as_bytes(), &mut raw)
            .map_err(|_| KeyError::BadBase64)?;
        if n != 30 {
            return Err(KeyError::BadKeyLength(n));
        }
        let mut key_salt = [0u8; 30];
        key_salt.copy_from_slice(&raw[..30]);

        let mut lifetime = None;
        let mut mki = None;
        for (i, p) in parts.enumerate() {
            // RFC 4568 §6.1: lifetime (if present) comes before the MKI; an element with a
            // ':' is the MKI.
            if p.contains(':') {
                if mki.is_some() {
                    return Err(KeyError::BadMki);
                }
                mki = Some(parse_mki(p)?);
            } else if i == 0 && mki.is_none() {
                lifetime = Some(parse_lifetime(p)?);
            } else {
                return Err(KeyError::BadLifetime);
            }
        }
        Ok(KeyParams::from_key_salt(&key_salt, lifetime, mki))
    }

    /// The `inline:` form, as it goes into an `a=crypto` line.
    pub fn to_sdes(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for KeyParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key_salt = [0u8; 30];
        key_salt[..16].copy_from_slice(&self.key);
        key_salt[16..].copy_from_slice(&self.salt);
        write!(f, "inline:{}", STANDARD.encode(key_salt))?;
        if let Some(l) = self.lifetime {
            if l.is_power_of_two() {
                write!(f, "|2^{}", l.trailing_zeros())?;
            } else {
                write!(f, "|{l}")?;
            }
        }
        if let Some(m) = self.mki {
            write!(f, "|{}:{}", m.value, m.len)?;
        }
        Ok(())
    }
}

fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_lifetime(s: &str) -> Result<u64, KeyError> {
    let v = if let Some(exp) = s.strip_prefix("2^") {
        let e = parse_decimal(exp).ok_or(KeyError::BadLifetime)?;
        if e > 48 {
            return Err(KeyError::BadLifetime);
        }
        1u64 << e
    } else {
        parse_decimal(s).ok_or(KeyError::BadLifetime)?
    };
    if v == 0 || v > MAX_SRTP_LIFETIME {
        return Err(KeyError::BadLifetime);
    }
    Ok(v)
}

fn parse_mki(s: &str) -> Result<Mki, KeyError> {
    let (v, l) = s.split_once(':').ok_or(KeyError::BadMki)?;
    let value = parse_decimal(v).ok_or(KeyError::BadMki)?;
    let len = parse_decimal(l).ok_or(KeyError::BadMki)?;
    let len = u8::try_from(len).map_err(|_| KeyError::BadMki)?;
    let value = u32::try_from(value).map_err(|_| KeyError::BadMki)?;
    Mki::new(value, len)
}
