//! Injected randomness (architecture principle 4) and the formats of the identifiers the
//! engine generates: Call-IDs, tags and Via branches. Every one embeds the shard index so the
//! shell can send traffic for our dialogs to the shard that owns them without a shared map.
//!
//! | identifier | format                                        | recognised by   |
//! |------------|-----------------------------------------------|-----------------|
//! | Call-ID    | `sbc` SSSS `.` 32 hex [`@` suffix]            | [`shard_of`]     |
//! | tag        | SSSS 16 hex                                   | [`shard_of_tag`] |
//! | branch     | `z9hG4bK` token SSSS 16 hex                   | loop detection  |
//!
//! `SSSS` is the shard index as four lower-case hex digits.

use core::fmt;

/// A source of 64-bit random values. The shell seeds it (per shard, from the OS); tests
/// and fuzzers use a fixed seed so every generated identifier is reproducible.
pub trait IdSource: fmt::Debug + Send {
    /// The next value.
    fn next_u64(&mut self) -> u64;
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, passes BigCrush, and fully determined
/// by its seed. Not cryptographic: tags and Call-IDs need uniqueness, not secrecy (RFC 3261
/// §19.3 asks for 32 bits of randomness in tags; we use 64).
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator with this seed.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }
}

impl IdSource for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `v` as exactly `digits` lower-case hex digits (the low ones).
pub(crate) fn push_hex(out: &mut Vec<u8>, v: u64, digits: u32) {
    for i in (0..digits).rev() {
        out.push(HEX[((v >> (4 * i)) & 0xf) as usize]);
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

fn parse_hex16(s: &[u8]) -> Option<u16> {
    if s.len() != 4 {
        return None;
    }
    let mut v = 0u16;
    for &b in s {
        v = (v << 4) | u16::from(hex_val(b)?);
    }
    Some(v)
}

fn all_hex(s: &[u8]) -> bool {
    s.iter().all(|&b| hex_val(b).is_some())
}

/// The prefix of every Call-ID the engine generates.
pub const CALL_ID_PREFIX: &[u8] = b"sbc";

/// The Via branch prefix every request we originate carries: the RFC 3261 magic cookie and
/// the node's loop token (seeing it again on an incoming request means a loop, §16.3 item 4
/// in spirit: a B2BUA has no proxy Via to compare, so it recognises its own branches).
pub(crate) fn branch_prefix(token: &str) -> Vec<u8> {
    let mut v = b"z9hG4bK".to_vec();
    v.extend_from_slice(token.as_bytes());
    v
}

/// Generates identifiers for one shard.
#[derive(Debug)]
pub(crate) struct IdGen {
    src: Box<dyn IdSource>,
    shard: u16,
    branch_prefix: Vec<u8>,
    call_id_suffix: Option<Vec<u8>>,
}

impl IdGen {
    pub(crate) fn new(
        src: Box<dyn IdSource>,
        shard: u16,
        token: &str,
        suffix: Option<&str>,
    ) -> IdGen {
        IdGen {
            src,
            shard,
            branch_prefix: branch_prefix(token),
            call_id_suffix: suffix.map(|s| s.as_bytes().to_vec()),
        }
    }

    pub(crate) fn u64(&mut self) -> u64 {
        self.src.next_u64()
    }

    /// `sbc` SSSS `.` 32 hex [`@` suffix].
    pub(crate) fn call_id(&mut self) -> Vec<u8> {
        let mut v = Vec::with_capacity(48);
        v.extend_from_slice(CALL_ID_PREFIX);
        push_hex(&mut v, u64::from(self.shard), 4);
        v.push(b'.');
        let (a, b) = (self.u64(), self.u64());
        push_hex(&mut v, a, 16);
        push_hex(&mut v, b, 16);
        if let Some(s) = &self.call_id_suffix {
            v.push(b'@');
            v.extend_from_slice(s);
        }
        v
    }

    /// SSSS 16 hex.
    pub(crate) fn tag(&mut self) -> Vec<u8> {
        let mut v = Vec::with_capacity(20);
        push_hex(&mut v, u64::from(self.shard), 4);
        let r = self.u64();
        push_hex(&mut v, r, 16);
        v
    }

    /// `z9hG4bK` token SSSS 16 hex.
    pub(crate) fn branch(&mut self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.branch_prefix.len() + 20);
        v.extend_from_slice(&self.branch_prefix);
        push_hex(&mut v, u64::from(self.shard), 4);
        let r = self.u64();
        push_hex(&mut v, r, 16);
        v
    }

    pub(crate) fn is_own_branch(&self, branch: &[u8]) -> bool {
        branch.len() > self.branch_prefix.len() && branch.starts_with(&self.branch_prefix)
    }
}

/// The shard that owns a Call-ID the engine generated (`sbc` SSSS `.` 32 hex, optionally
/// followed by `@` and anything). `None` for every other Call-ID: the shell hashes those.
pub fn shard_of(call_id: &[u8]) -> Option<u16> {
    let rest = call_id.strip_prefix(CALL_ID_PREFIX)?;
    let shard = parse_hex16(rest.get(..4)?)?;
    let rest = rest.get(4..)?.strip_prefix(b".")?;
    let (rand, tail) = match rest.iter().position(|&b| b == b'@') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, &b""[..]),
    };
    if rand.len() != 32 || !all_hex(rand) || tail.len() == 1 {
        return None;
    }
    Some(shard)
}

/// The shard embedded in a tag the engine generated (SSSS followed by 16 hex digits).
pub fn shard_of_tag(tag: &[u8]) -> Option<u16> {
    if tag.len() != 20 || !all_hex(tag) {
        return None;
    }
    parse_hex16(&tag[..4])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip() {
        let mut g = IdGen::new(Box::new(SplitMix64::new(7)), 0x2a, "Sb2b", None);
        let cid = g.call_id();
        assert_eq!(cid.len(), 3 + 4 + 1 + 32);
        assert_eq!(shard_of(&cid), Some(0x2a));
        let tag = g.tag();
        assert_eq!(shard_of_tag(&tag), Some(0x2a));
        let br = g.branch();
        assert!(br.starts_with(b"z9hG4bKSb2b002a"));
        assert!(g.is_own_branch(&br));
        assert!(!g.is_own_branch(b"z9hG4bKSb2b"));
        assert!(!g.is_own_branch(b"z9hG4bKother"));

        let mut g = IdGen::new(Box::new(SplitMix64::new(7)), 3, "x", Some("sbc.example"));
        let cid = g.call_id();
        assert!(cid.ends_with(b"@sbc.example"));
        assert_eq!(shard_of(&cid), Some(3));
    }

    #[test]
    fn foreign_ids_are_not_ours() {
        for c in [
            &b"a84b4c76e66710@pc33.atlanta.com"[..],
            b"sbc",
            b"sbc0001",
            b"sbc0001.",
            b"sbcXYZW.00000000000000000000000000000000",
            b"sbc0001.0000000000000000000000000000000",
            b"sbc0001.00000000000000000000000000000000@",
            b"sbc0001-00000000000000000000000000000000",
        ] {
            assert_eq!(shard_of(c), None, "{}", String::from_utf8_lossy(c));
        }
        assert_eq!(
            shard_of(b"sbc0001.00000000000000000000000000000000@h"),
            Some(1)
        );
        assert_eq!(shard_of_tag(b"1918181833n"), None);
    }

    #[test]
    fn splitmix_is_deterministic() {
        let mut a = SplitMix64::new(1);
        let mut b = SplitMix64::new(1);
        for _ in 0..10 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(SplitMix64::new(2).next_u64(), SplitMix64::new(1).next_u64());
    }
}
