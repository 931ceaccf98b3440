//! Round trips, tampering, replay, key lifetime, limits, SDES key-params parsing, and
//! arbitrary input (proptest): every input gets a typed result, never a panic.

use proptest::prelude::*;
use sbc_srtp::{
    Config, Context, Error, KeyError, KeyParams, Mki, Suite, MAX_RTCP_TRAILER, MAX_RTP_TRAILER,
};

const TEAMS_KEY: &str = "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31|1:1";

fn rtp(seq: u16, ssrc: u32, payload_len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload_len + MAX_RTP_TRAILER);
    p.extend_from_slice(&[0x80, 0, 0, 0, 0, 0, 0x12, 0x34]);
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..payload_len).map(|i| i as u8));
    p
}

fn rtcp(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 201, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    p
}

fn pair(suite: Suite, key: &KeyParams) -> (Context, Context) {
    (
        Context::new(suite, std::slice::from_ref(key), Config::default()).unwrap(),
        Context::new(suite, std::slice::from_ref(key), Config::default()).unwrap(),
    )
}

#[test]
fn teams_key_params_parse_and_print() {
    let k = KeyParams::parse(TEAMS_KEY).unwrap();
    assert_eq!(k.lifetime, Some(1 << 31));
    assert_eq!(k.mki, Some(Mki { value: 1, len: 1 }));
    assert_eq!(k.to_sdes(), TEAMS_KEY);
    assert!(
        !format!("{k:?}").contains("WVNf"),
        "Debug must not leak key material"
    );
    let plain = KeyParams::parse("inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz").unwrap();
    assert_eq!((plain.lifetime, plain.mki), (None, None));
    let dec = KeyParams::parse("inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|1048576").unwrap();
    assert_eq!(dec.lifetime, Some(1 << 20));
    let mki_only =
        KeyParams::parse("inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|258:2").unwrap();
    assert_eq!(mki_only.mki, Some(Mki { value: 258, len: 2 }));
}

#[test]
fn key_params_errors_are_typed() {
    let b = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
    let cases: &[(&str, KeyError)] = &[
        ("uri:x", KeyError::NotInline),
        ("inline:!!!!", KeyError::BadBase64),
        ("inline:AAAA", KeyError::BadKeyLength(3)),
        (&format!("inline:{b}|2^49"), KeyError::BadLifetime),
        (&format!("inline:{b}|0"), KeyError::BadLifetime),
        (&format!("inline:{b}|x"), KeyError::BadLifetime),
        (&format!("inline:{b}|2^31|1:5"), KeyError::BadMki),
        (&format!("inline:{b}|2^31|256:1"), KeyError::BadMki),
        (&format!("inline:{b}|2^31|1:0"), KeyError::BadMki),
        (&format!("inline:{b}|1:1|2^31"), KeyError::BadLifetime),
        (&format!("inline:{b}|1:1|2:1"), KeyError::BadMki),
    ];
    for (s, e) in cases {
        assert_eq!(
            KeyParams::parse(s).as_ref().map_err(Clone::clone).err(),
            Some(e.clone()),
            "{s}"
        );
    }
    assert_eq!(
        Suite::from_name("AES_CM_128_HMAC_SHA1_80"),
        Ok(Suite::AesCm128HmacSha1_80)
    );
    assert_eq!(
        Suite::from_name("F8_128_HMAC_SHA1_80"),
        Err(KeyError::UnknownSuite)
    );
}

#[test]
fn context_config_is_validated() {
    let k = KeyParams::parse(TEAMS_KEY).unwrap();
    let s = Suite::AesCm128HmacSha1_80;
    assert_eq!(
        Context::new(s, &[], Config::default()).err(),
        Some(KeyError::NoKeys)
    );
    let small = Config {
        replay_window: 32,
        ..Config::default()
    };
    assert_eq!(
        Context::new(s, std::slice::from_ref(&k), small).err(),
        Some(KeyError::BadConfig("replay_window"))
    );
    let mut nomki = k.clone();
    nomki.mki = None;
    assert_eq!(
        Context::new(s, &[k.clone(), nomki.clone()], Config::default()).err(),
        Some(KeyError::MixedMki)
    );
    assert_eq!(
        Context::new(s, &[nomki.clone(), nomki], Config::default()).err(),
        Some(KeyError::MixedMki)
    );
    assert_eq!(
        Context::new(s, &[k.clone(), k], Config::default()).err(),
        Some(KeyError::DuplicateMki)
    );
}

#[test]
fn round_trip_all_suites_with_and_without_mki() {
    for suite in [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32] {
        for key in [TEAMS_KEY, "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"] {
            let k = KeyParams::parse(key).unwrap();
            let (mut tx, mut rx) = pair(suite, &k);
            for seq in 0..50u16 {
                let plain = rtp(seq.wrapping_add(65520), 7, 160);
                let mut p = rtp(seq.wrapping_add(65520), 7, 160);
                let cap = p.capacity();
                tx.protect_rtp_vec(&mut p).unwrap();
                assert_eq!(p.capacity(), cap, "no reallocation with reserved tail room");
                assert_eq!(p.len(), plain.len() + tx.rtp_trailer_len());
                assert_ne!(p[12..172], plain[12..], "payload is encrypted");
                rx.unprotect_rtp_vec(&mut p).unwrap();
                assert_eq!(p, plain);
                let plain = rtcp(7);
                let mut p = plain.clone();
                tx.protect_rtcp_vec(&mut p).unwrap();
                assert_eq!(p.len(), plain.len() + tx.rtcp_trailer_len());
                assert!(p.len() <= plain.len() + MAX_RTCP_TRAILER);
                rx.unprotect_rtcp_vec(&mut p).unwrap();
                assert_eq!(p, plain);
            }
            assert_eq!(rx.roc(7), Some(1));
        }
    }
}

#[test]
fn tampering_is_refused_and_leaves_the_buffer_untouched() {
    let k = KeyParams::parse(TEAMS_KEY).unwrap();
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80, &k);
    let mut p = rtp(1, 9, 160);
    tx.protect_rtp_vec(&mut p).unwrap();
    for at in [0usize, 5, 20, p.len() - 1] {
        let mut bad = p.clone();
        bad[at] ^= 0x01;
        let before = bad.clone();
        let e = rx.unprotect_rtp_vec(&mut bad).unwrap_err();
        assert!(
            matches!(e, Error::AuthFailed | Error::BadHeader),
            "{at}: {e}"
        );
        assert_eq!(bad, before);
    }
    // A wrong key never authenticates.
    let other = KeyParams::from_key_salt(&[1; 30], None, Some(Mki::new(1, 1).unwrap()));
    let mut rx2 = Context::new(Suite::AesCm128HmacSha1_80, &[other], Config::default()).unwrap();
    assert_eq!(
        rx2.unprotect_rtp_vec(&mut p.clone()),
        Err(Error::AuthFailed)
    );
    // Wrong MKI.
    let mut bad = p.clone();
    let at = bad.len() - 11;
    bad[at] = 2;
    assert_eq!(rx.unprotect_rtp_vec(&mut bad), Err(Error::BadMki));
    // Still accepted afterwards: failures changed no state.
    rx.unprotect_rtp_vec(&mut p).unwrap();
    // SRTCP tampering.
    let mut c = rtcp(9);
    tx.protect_rtcp_vec(&mut c).unwrap();
    c[9] ^= 0x80;
    assert_eq!(rx.unprotect_rtcp_vec(&mut c), Err(Error::AuthFailed));
}

#[test]
fn replay_window_rtp_and_rtcp() {
    let k = KeyParams::parse(TEAMS_KEY).unwrap();
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80, &k);
    let mut sent: Vec<Vec<u8>> = (0..300u16)
        .map(|s| {
            let mut p = rtp(s, 3, 20);
            tx.protect_rtp_vec(&mut p).unwrap();
            p
        })
        .collect();
    // Deliver 0..200 except 150; then 150 (late, in window), then a duplicate.
    for s in (0..200).filter(|&s| s != 150) {
        rx.unprotect_rtp_vec(&mut sent[s].clone()).unwrap();
    }
    rx.unprotect_rtp_vec(&mut sent[150].clone()).unwrap();
    assert_eq!(
        rx.unprotect_rtp_vec(&mut sent[150].clone()),
        Err(Error::Replayed)
    );
    assert_eq!(
        rx.unprotect_rtp_vec(&mut sent[199].clone()),
        Err(Error::Replayed)
    );
    // Jump ahead to 299 (window 128): 171 is too old, 172 is in the window but was seen,
    // 200 and 250 are in the window and new.
    rx.unprotect_rtp_vec(&mut sent[299].clone()).unwrap();
    rx.unprotect_rtp_vec(&mut sent[250].clone()).unwrap();
    assert_eq!(
        rx.unprotect_rtp_vec(&mut sent[171].clone()),
        Err(Error::Replayed)
    );
    assert_eq!(
        rx.unprotect_rtp_vec(&mut sent[172].clone()),
        Err(Error::Replayed)
    );
    rx.unprotect_rtp_vec(&mut sent[200].clone()).unwrap();
    // The sender refuses to reuse an index (keystream reuse) unless allowed.
    let mut again = rtp(299, 3, 20);
    assert_eq!(tx.protect_rtp_vec(&mut again), Err(Error::Replayed));
    let cfg = Config {
        allow_repeat_tx: true,
        ..Config::default()
    };
    let mut tx2 = Context::new(Suite::AesCm128HmacSha1_80, std::slice::from_ref(&k), cfg).unwrap();
    tx2.protect_rtp_vec(&mut rtp(1, 3, 20)).unwrap();
    tx2.protect_rtp_vec(&mut rtp(1, 3, 20)).unwrap();
    // SRTCP.
    let mut c = rtcp(3);
    tx.protect_rtcp_vec(&mut c).unwrap();
    rx.unprotect_rtcp_vec(&mut c.clone()).unwrap();
    assert_eq!(rx.unprotect_rtcp_vec(&mut c.clone()), Err(Error::Replayed));
    sent.clear();
}

#[test]
fn key_lifetime_is_enforced() {
    let mut k = KeyParams::parse(TEAMS_KEY).unwrap();
    k.lifetime = Some(3);
    let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_32, &k);
    let mut ps = Vec::new();
    for s in 0..3 {
        let mut p = rtp(s, 1, 10);
        tx.protect_rtp_vec(&mut p).unwrap();
        ps.push(p);
    }
    assert_eq!(
        tx.protect_rtp_vec(&mut rtp(3, 1, 10)),
        Err(Error::KeyExpired)
    );
    // SRTCP counts separately (RFC 4568 §6.1).
    let mut c = rtcp(1);
    tx.protect_rtcp_vec(&mut c).unwrap();
    for mut p in ps {
        rx.unprotect_rtp_vec(&mut p).unwrap();
    }
    // A fourth packet under this key (forged by a longer-lived sender) is refused.
    let mut k2 = k.clone();
    k2.lifetime = None;
    let mut tx2 = Context::new(Suite::AesCm128HmacSha1_32, &[k2], Config::default()).unwrap();
    let mut p = rtp(3, 1, 10);
    tx2.protect_rtp_vec(&mut rtp(0, 1, 10)).unwrap();
    tx2.protect_rtp_vec(&mut rtp(1, 1, 10)).unwrap();
    tx2.protect_rtp_vec(&mut rtp(2, 1, 10)).unwrap();
    tx2.protect_rtp_vec(&mut p).unwrap();
    assert_eq!(rx.unprotect_rtp_vec(&mut p), Err(Error::KeyExpired));
}

#[test]
fn limits_and_short_input() {
    let k = KeyParams::parse(TEAMS_KEY).unwrap();
    let cfg = Config {
        max_streams: 2,
        ..Config::default()
    };
    let mut tx = Context::new(Suite::AesCm128HmacSha1_80, std::slice::from_ref(&k), cfg).unwrap();
    tx.protect_rtp_vec(&mut rtp(0, 1, 10)).unwrap();
    tx.protect_rtp_vec(&mut rtp(0, 2, 10)).unwrap();
    assert_eq!(
        tx.protect_rtp_vec(&mut rtp(0, 3, 10)),
        Err(Error::TooManyStreams)
    );
    // No tail room in a slice.
    let mut buf = rtp(1, 1, 10);
    let n = buf.len();
    assert_eq!(tx.protect_rtp(&mut buf, n), Err(Error::NoRoom));
    assert_eq!(tx.protect_rtp(&mut buf, n + 1), Err(Error::NoRoom));
    let mut rx = Context::new(Suite::AesCm128HmacSha1_80, &[k], Config::default()).unwrap();
    assert_eq!(rx.unprotect_rtp(&mut [0x80; 22]), Err(Error::TooShort));
    assert_eq!(rx.unprotect_rtcp(&mut [0x80; 22]), Err(Error::TooShort));
    let mut v1 = rtp(1, 1, 20);
    v1[0] = 0x40;
    assert_eq!(tx.protect_rtp_vec(&mut v1), Err(Error::BadHeader));
    // CSRC count claims more than the packet holds.
    let mut cc = vec![0x8f; 40];
    assert_eq!(rx.unprotect_rtp(&mut cc), Err(Error::BadHeader));
}

fn suite() -> impl Strategy<Value = Suite> {
    prop_oneof![
        Just(Suite::AesCm128HmacSha1_80),
        Just(Suite::AesCm128HmacSha1_32)
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_nor_authenticate(
        s in suite(), mki in any::<bool>(), data in proptest::collection::vec(any::<u8>(), 0..300)
    ) {
        let key = KeyParams::from_key_salt(&[7; 30], None, mki.then(|| Mki::new(1, 1).unwrap()));
        let mut rx = Context::new(s, &[key], Config::default()).unwrap();
        let mut a = data.clone();
        prop_assert!(rx.unprotect_rtp(&mut a).is_err());
        prop_assert_eq!(&a, &data);
        let mut b = data.clone();
        prop_assert!(rx.unprotect_rtcp(&mut b).is_err());
        let mut c = data.clone();
        let _ = rx.protect_rtp_vec(&mut c);
        let mut d = data.clone();
        let _ = rx.protect_rtcp_vec(&mut d);
    }

    #[test]
    fn protect_then_unprotect_is_identity(
        s in suite(), mki in any::<bool>(), seqs in proptest::collection::vec(any::<u16>(), 1..20),
        payload in proptest::collection::vec(any::<u8>(), 0..200), cc in 0u8..3,
    ) {
        let key = KeyParams::from_key_salt(&[3; 30], None, mki.then(|| Mki::new(300, 2).unwrap()));
        let cfg = Config { allow_repeat_tx: true, ..Config::default() };
        let mut tx = Context::new(s, std::slice::from_ref(&key), cfg).unwrap();
        let mut rx = Context::new(s, &[key], Config::default()).unwrap();
        for seq in seqs {
            let mut plain = rtp(seq, 5, 0);
            plain[0] |= cc;
            plain.extend(std::iter::repeat_n(0xcc, 4 * usize::from(cc)));
            plain.extend_from_slice(&payload);
            let mut p = plain.clone();
            tx.protect_rtp_vec(&mut p).unwrap();
            match rx.unprotect_rtp_vec(&mut p) {
                Ok(()) => prop_assert_eq!(&p, &plain),
                // A sequence far from the last one can land outside the window or
                // in another ROC: refused, never wrongly accepted.
                Err(e) => prop_assert!(matches!(e, Error::Replayed | Error::AuthFailed), "{}", e),
            }
        }
    }
}
