//! `sbc_srtp::Context::unprotect_rtp` / `unprotect_rtcp` on arbitrary bytes. The first byte
//! picks the suite, MKI and RTP vs RTCP; the rest is the packet. Arbitrary bytes must never
//! panic, a failure must leave the buffer untouched, and a success returns a prefix length.
//! Then the same bytes as plaintext must protect and unprotect back to themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sbc_srtp::{Config, Context, KeyParams, Mki, Suite};

// The key of the seed corpus (tests/vectors/libsrtp_*.txt), so seeds authenticate.
const KEY: [u8; 30] = [
    0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e,
    0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, pkt)) = data.split_first() else { return };
    let suite = if sel & 1 == 0 { Suite::AesCm128HmacSha1_80 } else { Suite::AesCm128HmacSha1_32 };
    let mki = (sel & 2 != 0).then(|| Mki::new(1, 1).unwrap());
    let rtcp = sel & 4 != 0;
    let key = KeyParams::from_key_salt(&KEY, None, mki);
    let mut rx = Context::new(suite, &[key.clone()], Config::default()).unwrap();
    let mut buf = pkt.to_vec();
    let res = if rtcp { rx.unprotect_rtcp(&mut buf) } else { rx.unprotect_rtp(&mut buf) };
    match res {
        Ok(n) => assert!(n <= pkt.len()),
        Err(e) => {
            assert_eq!(buf, pkt, "failed unprotect changed the buffer");
            std::hint::black_box(e.to_string());
        }
    }
    let mut tx = Context::new(suite, &[key.clone()], Config::default()).unwrap();
    let mut rx = Context::new(suite, &[key], Config::default()).unwrap();
    let mut p = pkt.to_vec();
    let ok = if rtcp { tx.protect_rtcp_vec(&mut p) } else { tx.protect_rtp_vec(&mut p) };
    if ok.is_ok() {
        let back = if rtcp { rx.unprotect_rtcp_vec(&mut p) } else { rx.unprotect_rtp_vec(&mut p) };
        assert!(back.is_ok(), "own packet refused: {back:?}");
        assert_eq!(p, pkt);
    }
});
