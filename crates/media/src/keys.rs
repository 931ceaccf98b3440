//! SDES key material (RFC 4568) for the SRTP suites the relay implements, the injected
//! randomness, and the base64 the `inline:` key-params use (RFC 4568 §6.1 refers to
//! RFC 4648 §4, standard alphabet with padding).

use core::fmt;

use sbc_sdp::{Crypto, Lifetime};

/// Master key (16 bytes) plus master salt (14 bytes) of the AES_CM_128 suites
/// (RFC 4568 §6.2.1, RFC 3711 §8.2).
pub const MASTER_LEN: usize = 30;

/// Largest MKI the relay is asked to handle, in bytes. Microsoft sends 1 (TI-32); RFC 4568
/// allows up to 128 but nothing in this deployment needs more than a `u32`.
pub const MAX_MKI_LEN: u8 = 4;

/// Where key bytes come from: the caller's CSPRNG. A closure `FnMut(&mut [u8])` is one.
pub trait KeySource {
    /// Fills `buf` with cryptographically random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

impl<F: FnMut(&mut [u8])> KeySource for F {
    fn fill(&mut self, buf: &mut [u8]) {
        self(buf)
    }
}

/// The SRTP crypto suites (RFC 4568 §6.2). Both are mandatory to accept from Microsoft
/// (TI-32); `_80` is the one always offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpSuite {
    /// `AES_CM_128_HMAC_SHA1_80`: 80-bit SRTP auth tag.
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32`: 32-bit SRTP auth tag (SRTCP keeps 80, RFC 4568 §6.2.2).
    AesCm128HmacSha1_32,
}

impl SrtpSuite {
    /// The SDP name.
    pub fn as_str(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// Parses an SDP suite name (RFC 4568 names are case-sensitive upper case; accepted
    /// case-insensitively to be liberal).
    pub fn from_name(name: &[u8]) -> Option<SrtpSuite> {
        [
            SrtpSuite::AesCm128HmacSha1_80,
            SrtpSuite::AesCm128HmacSha1_32,
        ]
        .into_iter()
        .find(|s| s.as_str().as_bytes().eq_ignore_ascii_case(name))
    }

    /// SRTP authentication tag length in bytes.
    pub fn srtp_tag_len(self) -> usize {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => 10,
            SrtpSuite::AesCm128HmacSha1_32 => 4,
        }
    }
}

/// An MKI as negotiated: the value sent in every packet as a `length`-byte big-endian field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MkiSpec {
    /// The value.
    pub value: u32,
    /// Bytes on the wire (1..=[`MAX_MKI_LEN`]).
    pub length: u8,
}

/// One direction's SRTP key: suite, `key||salt`, optional lifetime and MKI.
/// `Debug` never prints the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKey {
    /// Crypto suite.
    pub suite: SrtpSuite,
    /// Master key (16 bytes) followed by master salt (14 bytes).
    pub master: [u8; MASTER_LEN],
    /// Master key lifetime in packets, as signalled (`None`: the suite default, RFC 3711).
    pub lifetime: Option<Lifetime>,
    /// MKI, when signalled.
    pub mki: Option<MkiSpec>,
}

impl fmt::Debug for SrtpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKey")
            .field("suite", &self.suite)
            .field("master", &"<redacted>")
            .field("lifetime", &self.lifetime)
            .field("mki", &self.mki)
            .finish()
    }
}

impl SrtpKey {
    /// A fresh key from `rng`.
    pub fn generate(
        suite: SrtpSuite,
        lifetime: Option<Lifetime>,
        mki: Option<MkiSpec>,
        rng: &mut dyn KeySource,
    ) -> SrtpKey {
        let mut master = [0u8; MASTER_LEN];
        rng.fill(&mut master);
        SrtpKey {
            suite,
            master,
            lifetime,
            mki,
        }
    }

    /// The key from a parsed `a=crypto`, when the relay can use it: a known suite, exactly
    /// one `inline` key-param (several keys need MKI-based switching the relay does not do),
    /// `key||salt` of exactly 30 bytes, a non-zero lifetime, an MKI of at most
    /// [`MAX_MKI_LEN`] bytes whose value fits, and no session parameters (RFC 4568 §6.3:
    /// an answerer that does not understand one must not accept the line).
    pub fn from_crypto(c: &Crypto<'_>) -> Option<SrtpKey> {
        let suite = SrtpSuite::from_name(c.suite().as_bytes())?;
        if c.session_params().is_some() {
            return None;
        }
        let mut kps = c.key_params();
        let kp = kps.next()?;
        if kps.next().is_some() || !kp.method().eq_ignore_ascii_case(b"inline") {
            return None;
        }
        let decoded = b64_decode(kp.key()?.as_bytes())?;
        let master: [u8; MASTER_LEN] = decoded.as_slice().try_into().ok()?;
        let lifetime = match kp.lifetime() {
            Some(l) if l.packets().is_none_or(|n| n == 0) => return None,
            l => l,
        };
        let mki = match kp.mki() {
            None => None,
            Some(m) => {
                let length = m.length();
                let value = u32::try_from(m.value()).ok()?;
                let fits = length >= 4 || u64::from(value) < 1u64 << (8 * u32::from(length));
                if length > MAX_MKI_LEN || !fits {
                    return None;
                }
                Some(MkiSpec { value, length })
            }
        };
        Some(SrtpKey {
            suite,
            master,
            lifetime,
            mki,
        })
    }

    /// The `inline:` key-param: `inline:<base64 key||salt>[|<lifetime>][|<mki>:<len>]`
    /// (RFC 4568 §9.2).
    pub fn inline(&self) -> String {
        let mut s = String::with_capacity(64);
        s.push_str("inline:");
        s.push_str(&b64_encode(&self.master));
        match self.lifetime {
            Some(Lifetime::PowerOfTwo(n)) => s.push_str(&format!("|2^{n}")),
            Some(Lifetime::Packets(n)) => s.push_str(&format!("|{n}")),
            None => {}
        }
        if let Some(m) = self.mki {
            s.push_str(&format!("|{}:{}", m.value, m.length));
        }
        s
    }

    /// The full attribute value after `a=crypto:` for tag `tag`.
    pub fn attribute_value(&self, tag: u32) -> String {
        format!("{tag} {} {}", self.suite.as_str(), self.inline())
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4).
pub fn b64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64_value(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// Decodes standard base64; padding optional (some peers omit it), anything else malformed
/// (including non-zero trailing bits) is `None`.
pub fn b64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let trimmed = match text {
        [rest @ .., b'=', b'='] => rest,
        [rest @ .., b'='] => rest,
        t => t,
    };
    if trimmed.len() % 4 == 1 || (text.len() != trimmed.len() && text.len() % 4 != 0) {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    for chunk in trimmed.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= b64_value(c)? << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = chunk.len() - 1;
        // Canonical encoding only: the bits past the last full byte must be zero.
        if bytes.get(keep).is_some_and(|&b| b != 0) && keep < 3 {
            return None;
        }
        out.extend_from_slice(&bytes[..keep]);
    }
    Some(out)
}
