//! Typed errors: one for building a context or reading SDES key parameters, one for packets.

use std::fmt;

/// Why a packet was refused. The buffer content is unspecified after an error of
/// `protect_*`, and untouched after an error of `unprotect_*` (nothing is decrypted before
/// the tag verifies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// Shorter than the fixed header plus the SRTP/SRTCP trailer.
    TooShort,
    /// Not version 2, or the CSRC list / header extension runs past the packet.
    BadHeader,
    /// The buffer has no tail room for the MKI and the authentication tag.
    NoRoom,
    /// The MKI in the packet names no key of this context.
    BadMki,
    /// The authentication tag does not verify (RFC 3711 §3.3 step 5).
    AuthFailed,
    /// The index was already seen, or is older than the replay window (§3.3.2).
    Replayed,
    /// The master key reached its lifetime, or the index space is exhausted (§9.2, RFC 4568
    /// §6.1): the caller must re-key.
    KeyExpired,
    /// More SSRCs than `Config::max_streams` in this direction.
    TooManyStreams,
}

impl Error {
    /// Stable short name, for counters and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Error::TooShort => "too_short",
            Error::BadHeader => "bad_header",
            Error::NoRoom => "no_room",
            Error::BadMki => "bad_mki",
            Error::AuthFailed => "auth_failed",
            Error::Replayed => "replayed",
            Error::KeyExpired => "key_expired",
            Error::TooManyStreams => "too_many_streams",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for Error {}

/// Why SDES key parameters (RFC 4568 §6.1 `key-params`) or a context configuration were
/// refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The key method is not `inline:` (the only one RFC 4568 defines).
    NotInline,
    /// The key-salt is not valid base64.
    BadBase64,
    /// The key-salt does not decode to 30 bytes (16-byte key, 14-byte salt, §6.2.1).
    BadKeyLength(usize),
    /// The lifetime is neither a decimal nor `2^n`, is zero, or exceeds the suite maximum.
    BadLifetime,
    /// The MKI is not `value:length` with length 1..=4 bytes and a value that fits.
    BadMki,
    /// Unknown crypto-suite name.
    UnknownSuite,
    /// No key given to the context.
    NoKeys,
    /// Keys of one context must all have an MKI of the same length, or none (RFC 4568 §6.1).
    MixedMki,
    /// Two keys carry the same MKI value.
    DuplicateMki,
    /// A configuration value is out of range (the field is named).
    BadConfig(&'static str),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::NotInline => f.write_str("key method is not inline:"),
            KeyError::BadBase64 => f.write_str("key-salt is not valid base64"),
            KeyError::BadKeyLength(n) => write!(f, "key-salt is {n} bytes, expected 30"),
            KeyError::BadLifetime => f.write_str("bad key lifetime"),
            KeyError::BadMki => f.write_str("bad MKI (value:length, length 1..=4)"),
            KeyError::UnknownSuite => f.write_str("unknown crypto-suite"),
            KeyError::NoKeys => f.write_str("no master key"),
            KeyError::MixedMki => f.write_str("keys disagree on MKI presence or length"),
            KeyError::DuplicateMki => f.write_str("duplicate MKI value"),
            KeyError::BadConfig(field) => write!(f, "configuration value out of range: {field}"),
        }
    }
}

impl std::error::Error for KeyError {}
