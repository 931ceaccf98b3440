//! Per-direction SRTP/SRTCP context (RFC 3711 §3.2): master keys selected by MKI, per-SSRC
//! rollover counters and replay windows.

use hmac::Mac;

use crate::crypto::{aes_cm_apply, SessionKeys};
use crate::error::{Error, KeyError};
use crate::keys::{KeyParams, Suite, MAX_MKI_LEN, MAX_SRTCP_LIFETIME, MAX_SRTP_LIFETIME};
use crate::replay::ReplayWindow;

/// Largest trailer `protect_rtp` appends: MKI (up to 4) + 80-bit tag.
pub const MAX_RTP_TRAILER: usize = MAX_MKI_LEN + 10;
/// Largest trailer `protect_rtcp` appends: E||index (4) + MKI (up to 4) + 80-bit tag.
pub const MAX_RTCP_TRAILER: usize = 4 + MAX_MKI_LEN + 10;
/// Largest replay window accepted by [`Config`].
pub const MAX_REPLAY_WINDOW: u16 = crate::replay::MAX_WINDOW;

/// Limits of one context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Replay window in packets, 64..=1024 (RFC 3711 §3.3.2 requires at least 64).
    pub replay_window: u16,
    /// SSRCs tracked per direction (RTP and RTCP counted separately); more are refused
    /// with [`Error::TooManyStreams`] so a peer cannot grow the context without bound.
    pub max_streams: usize,
    /// Let `protect_*` reuse an index already sent (a retransmitted identical packet).
    /// Off by default: a repeated index with different plaintext reuses keystream.
    pub allow_repeat_tx: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            replay_window: 128,
            max_streams: 16,
            allow_repeat_tx: false,
        }
    }
}

struct MasterKey {
    mki: [u8; MAX_MKI_LEN],
    rtp: SessionKeys,
    rtcp: SessionKeys,
    /// RFC 4568 §6.1: SRTP and SRTCP packets each must stay below the lifetime.
    rtp_lifetime: u64,
    rtcp_lifetime: u64,
    rtp_used: u64,
    rtcp_used: u64,
}

struct RtpStream {
    ssrc: u32,
    /// Highest index seen (ROC << 16 | s_l), §3.3.1.
    max_index: u64,
    window: ReplayWindow,
}

struct RtcpStream {
    ssrc: u32,
    /// Sender: next SRTCP index. Receiver: highest index seen.
    index: u32,
    started: bool,
    window: ReplayWindow,
}

/// One direction of one SRTP session: use one for protecting (outbound) and a separate one
/// for unprotecting (inbound), as RFC 3711 §3.2.1 keeps state per direction.
pub struct Context {
    suite: Suite,
    keys: Vec<MasterKey>,
    mki_len: usize,
    cfg: Config,
    rtp: Vec<RtpStream>,
    rtcp: Vec<RtcpStream>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("suite", &self.suite)
            .field("keys", &self.keys.len())
            .field("mki_len", &self.mki_len)
            .field("rtp_streams", &self.rtp.len())
            .field("rtcp_streams", &self.rtcp.len())
            .finish()
    }
}

/// Parsed fixed RTP header: header length, sequence number, SSRC.
fn rtp_header(pkt: &[u8]) -> Result<(usize, u16, u32), Error> {
    if pkt.len() < 12 {
        return Err(Error::TooShort);
    }
    if pkt[0] >> 6 != 2 {
        return Err(Error::BadHeader);
    }
    let cc = usize::from(pkt[0] & 0x0f);
    let mut len = 12 + 4 * cc;
    if pkt[0] & 0x10 != 0 {
        // RFC 3550 §5.3.1: 4-byte extension header, then `length` 32-bit words.
        if pkt.len() < len + 4 {
            return Err(Error::BadHeader);
        }
        let words = usize::from(u16::from_be_bytes([pkt[len + 2], pkt[len + 3]]));
        len += 4 + 4 * words;
    }
    if pkt.len() < len {
        return Err(Error::BadHeader);
    }
    let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
    let ssrc = u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]);
    Ok((len, seq, ssrc))
}

/// RFC 3711 Appendix A: guess the index of `seq` against the highest index seen. A guess of
/// ROC - 1 at ROC 0 stays at 0 (such a packet cannot precede the stream's first); ROC + 1
/// past 2^32 - 1 is not wrapped but yields an index >= 2^48, which the callers refuse as an
/// exhausted key (§9.2) instead of reusing index 0.
fn estimate_index(max_index: u64, seq: u16) -> u64 {
    let roc = max_index >> 16;
    let s_l = max_index as u16;
    let v = if s_l < 0x8000 {
        if i32::from(seq) - i32::from(s_l) > 0x8000 {
            roc.saturating_sub(1)
        } else {
            roc
        }
    } else if i32::from(s_l) - 0x8000 > i32::from(seq) {
        roc + 1
    } else {
        roc
    };
    (v << 16) | u64::from(seq)
}

impl Context {
    /// A context for `suite` with one or more master keys. The first key protects; on
    /// unprotect the MKI in the packet selects the key (RFC 3711 §3.2.1). Without MKI only
    /// one key is allowed.
    pub fn new(suite: Suite, keys: &[KeyParams], cfg: Config) -> Result<Context, KeyError> {
        let first = keys.first().ok_or(KeyError::NoKeys)?;
        if !(64..=MAX_REPLAY_WINDOW).contains(&cfg.replay_window) {
            return Err(KeyError::BadConfig("replay_window"));
        }
        if cfg.max_streams == 0 || cfg.max_streams > 1024 {
            return Err(KeyError::BadConfig("max_streams"));
        }
        let mki_len = first.mki.map_or(0, |m| usize::from(m.len));
        if keys.len() > 1 && mki_len == 0 {
            return Err(KeyError::MixedMki);
        }
        let mut out: Vec<MasterKey> = Vec::with_capacity(keys.len());
        for k in keys {
            if k.mki.map_or(0, |m| usize::from(m.len)) != mki_len {
                return Err(KeyError::MixedMki);
            }
            let mki = k.mki.map_or([0; MAX_MKI_LEN], |m| m.wire());
            if out.iter().any(|o| o.mki[..mki_len] == mki[..mki_len]) {
                return Err(KeyError::DuplicateMki);
            }
            let life = k.lifetime.unwrap_or(MAX_SRTP_LIFETIME);
            out.push(MasterKey {
                mki,
                rtp: SessionKeys::derive(k, false),
                rtcp: SessionKeys::derive(k, true),
                rtp_lifetime: life.min(MAX_SRTP_LIFETIME),
                rtcp_lifetime: life.min(MAX_SRTCP_LIFETIME),
                rtp_used: 0,
                rtcp_used: 0,
            });
        }
        Ok(Context {
            suite,
            keys: out,
            mki_len,
            cfg,
            rtp: Vec::new(),
            rtcp: Vec::new(),
        })
    }

    /// The suite of this context.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// Bytes `protect_rtp` appends (MKI + tag).
    pub fn rtp_trailer_len(&self) -> usize {
        self.mki_len + self.suite.rtp_tag_len()
    }

    /// Bytes `protect_rtcp` appends (E||index + MKI + tag).
    pub fn rtcp_trailer_len(&self) -> usize {
        4 + self.mki_len + self.suite.rtcp_tag_len()
    }

    /// The rollover counter of `ssrc` (§3.3.1), if the stream is known.
    pub fn roc(&self, ssrc: u32) -> Option<u32> {
        self.rtp
            .iter()
            .find(|s| s.ssrc == ssrc)
            .map(|s| (s.max_index >> 16) as u32)
    }

    fn key_by_mki(&self, mki: &[u8]) -> Result<usize, Error> {
        if self.mki_len == 0 {
            return Ok(0);
        }
        self.keys
            .iter()
            .position(|k| &k.mki[..self.mki_len] == mki)
            .ok_or(Error::BadMki)
    }

    fn rtp_stream(&self, ssrc: u32) -> Result<Option<usize>, Error> {
        match self.rtp.iter().position(|s| s.ssrc == ssrc) {
            Some(i) => Ok(Some(i)),
            None if self.rtp.len() >= self.cfg.max_streams => Err(Error::TooManyStreams),
            None => Ok(None),
        }
    }

    fn rtcp_stream(&self, ssrc: u32) -> Result<Option<usize>, Error> {
        match self.rtcp.iter().position(|s| s.ssrc == ssrc) {
            Some(i) => Ok(Some(i)),
            None if self.rtcp.len() >= self.cfg.max_streams => Err(Error::TooManyStreams),
            None => Ok(None),
        }
    }

    /// Record `index` as used for the stream at `slot` (or a new stream for `ssrc`).
    fn commit_rtp(&mut self, slot: Option<usize>, ssrc: u32, index: u64) {
        match slot {
            Some(i) => {
                let s = &mut self.rtp[i];
                s.window.mark(s.max_index, index);
                s.max_index = s.max_index.max(index);
            }
            None => {
                let mut window = ReplayWindow::new(self.cfg.replay_window);
                window.mark(index, index);
                self.rtp.push(RtpStream {
                    ssrc,
                    max_index: index,
                    window,
                });
            }
        }
    }

    /// Protect the RTP packet in `buf[..len]` in place (RFC 3711 §3.3), appending the MKI
    /// and tag into the tail room `buf[len..]`. Returns the SRTP length.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let pkt = buf.get(..len).ok_or(Error::NoRoom)?;
        let (hdr, seq, ssrc) = rtp_header(pkt)?;
        let tag_len = self.suite.rtp_tag_len();
        let total = len + self.mki_len + tag_len;
        if buf.len() < total {
            return Err(Error::NoRoom);
        }
        let slot = self.rtp_stream(ssrc)?;
        let index = match slot {
            Some(i) => {
                let s = &self.rtp[i];
                let index = estimate_index(s.max_index, seq);
                if !self.cfg.allow_repeat_tx && !s.window.check(s.max_index, index) {
                    return Err(Error::Replayed);
                }
                index
            }
            // The sender's first packet: ROC 0 (§3.3.1).
            None => u64::from(seq),
        };
        let key = &self.keys[0];
        if index >= MAX_SRTP_LIFETIME || key.rtp_used >= key.rtp_lifetime {
            return Err(Error::KeyExpired);
        }
        let iv = key.rtp.iv(ssrc, index);
        aes_cm_apply(&key.rtp.cipher, &iv, &mut buf[hdr..len]);
        let mut mac = key.rtp.mac.clone();
        mac.update(&buf[..len]);
        mac.update(&((index >> 16) as u32).to_be_bytes());
        let tag = mac.finalize().into_bytes();
        buf[len..len + self.mki_len].copy_from_slice(&key.mki[..self.mki_len]);
        buf[len + self.mki_len..total].copy_from_slice(&tag[..tag_len]);
        self.keys[0].rtp_used += 1;
        self.commit_rtp(slot, ssrc, index);
        Ok(total)
    }

    /// Verify and decrypt the SRTP packet `buf` in place (RFC 3711 §3.3). Returns the RTP
    /// length (`buf[..n]`). Nothing is decrypted and no state changes unless the tag
    /// verifies and the index is fresh.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let tag_len = self.suite.rtp_tag_len();
        let trailer = self.mki_len + tag_len;
        if buf.len() < 12 + trailer {
            return Err(Error::TooShort);
        }
        let auth_len = buf.len() - trailer;
        let (hdr, seq, ssrc) = rtp_header(&buf[..auth_len])?;
        let k = self.key_by_mki(&buf[auth_len..auth_len + self.mki_len])?;
        let slot = self.rtp_stream(ssrc)?;
        let index = match slot {
            Some(i) => {
                let s = &self.rtp[i];
                let index = estimate_index(s.max_index, seq);
                if !s.window.check(s.max_index, index) {
                    return Err(Error::Replayed);
                }
                index
            }
            None => u64::from(seq),
        };
        let key = &self.keys[k];
        if index >= MAX_SRTP_LIFETIME || key.rtp_used >= key.rtp_lifetime {
            return Err(Error::KeyExpired);
        }
        let mut mac = key.rtp.mac.clone();
        mac.update(&buf[..auth_len]);
        mac.update(&((index >> 16) as u32).to_be_bytes());
        mac.verify_truncated_left(&buf[auth_len + self.mki_len..])
            .map_err(|_| Error::AuthFailed)?;
        let iv = key.rtp.iv(ssrc, index);
        aes_cm_apply(&key.rtp.cipher, &iv, &mut buf[hdr..auth_len]);
        self.keys[k].rtp_used += 1;
        self.commit_rtp(slot, ssrc, index);
        Ok(auth_len)
    }

    /// Protect the compound RTCP packet `buf[..len]` in place (RFC 3711 §3.4): the first 8
    /// bytes stay clear, the rest is encrypted, then E=1||SRTCP index, MKI and the 80-bit
    /// tag are appended. Returns the SRTCP length.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let pkt = buf.get(..len).ok_or(Error::NoRoom)?;
        let ssrc = rtcp_header(pkt)?;
        let tag_len = self.suite.rtcp_tag_len();
        let total = len + 4 + self.mki_len + tag_len;
        if buf.len() < total {
            return Err(Error::NoRoom);
        }
        let slot = self.rtcp_stream(ssrc)?;
        let index = slot.map_or(0, |i| self.rtcp[i].index);
        let key = &self.keys[0];
        if u64::from(index) >= MAX_SRTCP_LIFETIME || key.rtcp_used >= key.rtcp_lifetime {
            return Err(Error::KeyExpired);
        }
        let iv = key.rtcp.iv(ssrc, u64::from(index));
        aes_cm_apply(&key.rtcp.cipher, &iv, &mut buf[8..len]);
        buf[len..len + 4].copy_from_slice(&(index | 0x8000_0000).to_be_bytes());
        let mut mac = key.rtcp.mac.clone();
        mac.update(&buf[..len + 4]);
        let tag = mac.finalize().into_bytes();
        let m = len + 4;
        buf[m..m + self.mki_len].copy_from_slice(&key.mki[..self.mki_len]);
        buf[m + self.mki_len..total].copy_from_slice(&tag[..tag_len]);
        self.keys[0].rtcp_used += 1;
        match slot {
            Some(i) => self.rtcp[i].index = index + 1,
            None => self.rtcp.push(RtcpStream {
                ssrc,
                index: 1,
                started: true,
                window: ReplayWindow::new(self.cfg.replay_window),
            }),
        }
        Ok(total)
    }

    /// Verify and (if the E bit is set) decrypt the SRTCP packet `buf` in place (RFC 3711
    /// §3.4). Returns the RTCP length.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let tag_len = self.suite.rtcp_tag_len();
        let trailer = 4 + self.mki_len + tag_len;
        if buf.len() < 8 + trailer {
            return Err(Error::TooShort);
        }
        let auth_len = buf.len() - self.mki_len - tag_len;
        let len = auth_len - 4;
        let ssrc = rtcp_header(&buf[..len])?;
        let e_index = u32::from_be_bytes([buf[len], buf[len + 1], buf[len + 2], buf[len + 3]]);
        let encrypted = e_index & 0x8000_0000 != 0;
        let index = e_index & 0x7fff_ffff;
        let k = self.key_by_mki(&buf[auth_len..auth_len + self.mki_len])?;
        let slot = self.rtcp_stream(ssrc)?;
        if let Some(i) = slot {
            let s = &self.rtcp[i];
            if s.started && !s.window.check(u64::from(s.index), u64::from(index)) {
                return Err(Error::Replayed);
            }
        }
        let key = &self.keys[k];
        if key.rtcp_used >= key.rtcp_lifetime {
            return Err(Error::KeyExpired);
        }
        let mut mac = key.rtcp.mac.clone();
        mac.update(&buf[..auth_len]);
        mac.verify_truncated_left(&buf[auth_len + self.mki_len..])
            .map_err(|_| Error::AuthFailed)?;
        if encrypted {
            let iv = key.rtcp.iv(ssrc, u64::from(index));
            aes_cm_apply(&key.rtcp.cipher, &iv, &mut buf[8..len]);
        }
        self.keys[k].rtcp_used += 1;
        match slot {
            Some(i) => {
                let s = &mut self.rtcp[i];
                s.window.mark(u64::from(s.index), u64::from(index));
                s.index = s.index.max(index);
            }
            None => {
                let mut window = ReplayWindow::new(self.cfg.replay_window);
                window.mark(u64::from(index), u64::from(index));
                self.rtcp.push(RtcpStream {
                    ssrc,
                    index,
                    started: true,
                    window,
                });
            }
        }
        Ok(len)
    }

    /// [`Context::protect_rtp`] on a `Vec`: grows it by the trailer (no allocation when the
    /// capacity has [`MAX_RTP_TRAILER`] spare bytes).
    pub fn protect_rtp_vec(&mut self, pkt: &mut Vec<u8>) -> Result<(), Error> {
        let len = pkt.len();
        pkt.resize(len + self.rtp_trailer_len(), 0);
        match self.protect_rtp(pkt, len) {
            Ok(n) => {
                pkt.truncate(n);
                Ok(())
            }
            Err(e) => {
                pkt.truncate(len);
                Err(e)
            }
        }
    }

    /// [`Context::unprotect_rtp`] on a `Vec`: truncates it to the RTP packet.
    pub fn unprotect_rtp_vec(&mut self, pkt: &mut Vec<u8>) -> Result<(), Error> {
        let n = self.unprotect_rtp(pkt)?;
        pkt.truncate(n);
        Ok(())
    }

    /// [`Context::protect_rtcp`] on a `Vec` (see [`Context::protect_rtp_vec`]).
    pub fn protect_rtcp_vec(&mut self, pkt: &mut Vec<u8>) -> Result<(), Error> {
        let len = pkt.len();
        pkt.resize(len + self.rtcp_trailer_len(), 0);
        match self.protect_rtcp(pkt, len) {
            Ok(n) => {
                pkt.truncate(n);
                Ok(())
            }
            Err(e) => {
                pkt.truncate(len);
                Err(e)
            }
        }
    }

    /// [`Context::unprotect_rtcp`] on a `Vec`.
    pub fn unprotect_rtcp_vec(&mut self, pkt: &mut Vec<u8>) -> Result<(), Error> {
        let n = self.unprotect_rtcp(pkt)?;
        pkt.truncate(n);
        Ok(())
    }
}

/// RTCP fixed header (RFC 3550 §6.4): version 2, sender SSRC at bytes 4..8.
fn rtcp_header(pkt: &[u8]) -> Result<u32, Error> {
    if pkt.len() < 8 {
        return Err(Error::TooShort);
    }
    if pkt[0] >> 6 != 2 {
        return Err(Error::BadHeader);
    }
    Ok(u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Mki;

    /// RFC 3711 §3.4: SRTCP with the E bit clear carries the RTCP in clear, still
    /// authenticated; the receiver must accept it without decrypting, and refuse it when the
    /// tag does not cover the E||index word.
    #[test]
    fn unencrypted_srtcp_e_bit_clear() {
        let key = KeyParams::from_key_salt(&[0x21; 30], None, Some(Mki::new(1, 1).unwrap()));
        let keys = SessionKeys::derive(&key, true);
        let rtcp = [0x80u8, 201, 0, 1, 0, 0, 0, 42];
        let mut pkt = rtcp.to_vec();
        pkt.extend_from_slice(&7u32.to_be_bytes()); // E = 0, index 7
        let mut mac = keys.mac.clone();
        mac.update(&pkt);
        let tag = mac.finalize().into_bytes();
        pkt.push(1); // MKI
        pkt.extend_from_slice(&tag[..10]);
        let mut rx = Context::new(Suite::AesCm128HmacSha1_32, &[key], Config::default()).unwrap();
        let mut buf = pkt.clone();
        assert_eq!(rx.unprotect_rtcp(&mut buf), Ok(8));
        assert_eq!(buf[..8], rtcp);
        assert_eq!(rx.unprotect_rtcp(&mut pkt.clone()), Err(Error::Replayed));
        // Setting the E bit without re-tagging fails authentication.
        let mut flipped = pkt.clone();
        flipped[8] |= 0x80;
        flipped[11] = 8;
        assert_eq!(rx.unprotect_rtcp(&mut flipped), Err(Error::AuthFailed));
    }

    /// RFC 3711 §9.2: the SRTCP index space is 2^31 and the SRTP index space 2^48 per
    /// master key; past either the key is expired whatever the SDES lifetime says.
    #[test]
    fn index_space_exhaustion_expires_the_key() {
        let key = KeyParams::from_key_salt(&[0x33; 30], None, None);
        let mut tx = Context::new(Suite::AesCm128HmacSha1_80, &[key], Config::default()).unwrap();
        let mut c = vec![0x80u8, 201, 0, 1, 0, 0, 0, 9];
        tx.protect_rtcp_vec(&mut c).unwrap();
        tx.rtcp[0].index = 0x7fff_ffff;
        let mut c = vec![0x80u8, 201, 0, 1, 0, 0, 0, 9];
        tx.protect_rtcp_vec(&mut c).unwrap();
        let mut c = vec![0x80u8, 201, 0, 1, 0, 0, 0, 9];
        assert_eq!(tx.protect_rtcp_vec(&mut c), Err(Error::KeyExpired));

        let rtp = |seq: u16| {
            let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3];
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            p
        };
        tx.protect_rtp_vec(&mut rtp(0)).unwrap();
        tx.rtp[0].max_index = (1 << 48) - 2;
        tx.protect_rtp_vec(&mut rtp(0xffff)).unwrap();
        assert_eq!(tx.protect_rtp_vec(&mut rtp(0)), Err(Error::KeyExpired));
    }

    #[test]
    fn index_estimation_follows_appendix_a() {
        // Same ROC, in order.
        assert_eq!(estimate_index(100, 101), 101);
        // Wrap forward: s_l high, seq low -> ROC + 1.
        assert_eq!(estimate_index(0xfff0, 0x0005), 0x1_0005);
        // Late packet from the previous ROC: s_l low, seq high -> ROC - 1.
        assert_eq!(estimate_index(0x2_0003, 0xfffe), 0x1_fffe);
        // ROC 0 never goes negative.
        assert_eq!(estimate_index(0x0003, 0xfffe), 0xfffe);
        // Old but same ROC.
        assert_eq!(estimate_index(0x1_9000, 0x8500), 0x1_8500);
    }
}
