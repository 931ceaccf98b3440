//! AES-CM (RFC 3711 §4.1.1), the key derivation function (§4.3) and the keyed HMAC-SHA1
//! (§4.2.1), on RustCrypto primitives.

use aes::cipher::{InnerIvInit, KeyInit, StreamCipher, StreamCipherCoreWrapper};
use aes::Aes128Enc;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::keys::{KeyParams, MASTER_SALT_LEN};

pub(crate) type HmacSha1 = Hmac<Sha1>;
type CtrCore = ctr::CtrCore<Aes128Enc, ctr::flavors::Ctr128BE>;

/// XOR the AES-CM keystream that starts at counter block `iv` into `data`. AES-CM increments
/// the whole 128-bit block as an integer (§4.1.1), which is what `Ctr128BE` does.
pub(crate) fn aes_cm_apply(cipher: &Aes128Enc, iv: &[u8; 16], data: &mut [u8]) {
    // `inner_iv_init` takes the expanded key by value: a copy of the round keys, cheaper
    // than re-running the key schedule per packet.
    let mut c =
        StreamCipherCoreWrapper::from_core(CtrCore::inner_iv_init(cipher.clone(), iv.into()));
    c.apply_keystream(data);
}

/// Session key labels (§4.3.2 and §4.3.1 table).
#[derive(Clone, Copy)]
pub(crate) enum Label {
    RtpEnc = 0,
    RtpAuth = 1,
    RtpSalt = 2,
    RtcpEnc = 3,
    RtcpAuth = 4,
    RtcpSalt = 5,
}

/// The AES-CM PRF of §4.3.1 with key_derivation_rate 0 (r = 0): x = (label << 48) XOR
/// master_salt, keystream from IV x * 2^16, first `out.len()` bytes.
pub(crate) fn derive(
    master: &Aes128Enc,
    salt: &[u8; MASTER_SALT_LEN],
    label: Label,
    out: &mut [u8],
) {
    let mut iv = [0u8; 16];
    iv[..MASTER_SALT_LEN].copy_from_slice(salt);
    // key_id = label || r (7 bytes), right-aligned against the 14-byte salt: the label lands
    // on salt byte 7.
    iv[7] ^= label as u8;
    out.fill(0);
    aes_cm_apply(master, &iv, out);
}

/// Session keys of one of SRTP or SRTCP.
#[derive(Clone)]
pub(crate) struct SessionKeys {
    pub(crate) cipher: Aes128Enc,
    pub(crate) salt: [u8; 14],
    /// HMAC with the session auth key already absorbed; cloned per packet.
    pub(crate) mac: HmacSha1,
}

impl SessionKeys {
    pub(crate) fn derive(params: &KeyParams, rtcp: bool) -> SessionKeys {
        let master = Aes128Enc::new(&params.key.into());
        let (le, la, ls) = if rtcp {
            (Label::RtcpEnc, Label::RtcpAuth, Label::RtcpSalt)
        } else {
            (Label::RtpEnc, Label::RtpAuth, Label::RtpSalt)
        };
        let mut k = [0u8; 16];
        derive(&master, &params.salt, le, &mut k);
        let mut a = [0u8; 20];
        derive(&master, &params.salt, la, &mut a);
        let mut salt = [0u8; 14];
        derive(&master, &params.salt, ls, &mut salt);
        let cipher = Aes128Enc::new(&k.into());
        let mac = <HmacSha1 as Mac>::new_from_slice(&a).expect("HMAC accepts any key length");
        k.fill(0);
        a.fill(0);
        SessionKeys { cipher, salt, mac }
    }

    /// Packet IV (§4.1.1): (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16).
    pub(crate) fn iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt);
        for (d, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *d ^= s;
        }
        // 48-bit index into bytes 8..14.
        for (d, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *d ^= s;
        }
        iv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 3711 Appendix B.2: AES-CM keystream.
    #[test]
    fn b2_aes_cm_keystream() {
        let key: [u8; 16] = hex("2B7E151628AED2A6ABF7158809CF4F3C").try_into().unwrap();
        let iv: [u8; 16] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000").try_into().unwrap();
        let cipher = Aes128Enc::new(&key.into());
        let mut ks = vec![0u8; 0xff02 * 16];
        aes_cm_apply(&cipher, &iv, &mut ks);
        assert_eq!(ks[0..16], hex("E03EAD0935C95E80E166B16DD92B4EB4")[..]);
        assert_eq!(ks[16..32], hex("D23513162B02D0F72A43A2FE4A5F97AB")[..]);
        assert_eq!(ks[32..48], hex("41E95B3BB0A2E8DD477901E4FCA894C0")[..]);
        let b = |n: usize| &ks[n * 16..n * 16 + 16];
        assert_eq!(b(0xfeff), &hex("EC8CDF7398607CB0F2D21675EA9EA1E4")[..]);
        assert_eq!(b(0xff00), &hex("362B7C3C6773516318A077D7FC5073AE")[..]);
        assert_eq!(b(0xff01), &hex("6A2CC3787889374FBEB4C81B17BA6C44")[..]);
    }

    /// RFC 3711 Appendix B.3: key derivation.
    #[test]
    fn b3_key_derivation() {
        let key: [u8; 16] = hex("E1F97A0D3E018BE0D64FA32C06DE4139").try_into().unwrap();
        let salt: [u8; 14] = hex("0EC675AD498AFEEBB6960B3AABE6").try_into().unwrap();
        let master = Aes128Enc::new(&key.into());
        let mut k = [0u8; 16];
        derive(&master, &salt, Label::RtpEnc, &mut k);
        assert_eq!(k[..], hex("C61E7A93744F39EE10734AFE3FF7A087")[..]);
        let mut s = [0u8; 14];
        derive(&master, &salt, Label::RtpSalt, &mut s);
        assert_eq!(s[..], hex("30CBBC08863D8C85D49DB34A9AE1")[..]);
        let mut a = [0u8; 94];
        derive(&master, &salt, Label::RtpAuth, &mut a);
        assert_eq!(
            a[..],
            hex(
                "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE\
                 E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25\
                 6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2"
            )[..]
        );
    }
}
