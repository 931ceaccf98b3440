//! Interop with libsrtp, an implementation we did not write: packets libsrtp protected
//! (tests/vectors/libsrtp_*.txt, made by tests/vectors/gen_libsrtp.py) must unprotect to
//! the plain packets, and our protect must produce the same bytes libsrtp did.

use sbc_srtp::{Config, Context, Error, KeyParams, Mki, Suite};

struct Vectors {
    suite: Suite,
    key: KeyParams,
    packets: Vec<(bool, Vec<u8>, Vec<u8>)>, // (is_rtcp, plain, protected)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn load(text: &str) -> Vectors {
    let mut suite = None;
    let mut key = None;
    let mut packets = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut f = line.split(' ');
        match f.next().unwrap() {
            "suite" => suite = Some(Suite::from_name(f.next().unwrap()).unwrap()),
            "key" => key = Some(KeyParams::parse(f.next().unwrap()).unwrap()),
            kind @ ("rtp" | "rtcp") => packets.push((
                kind == "rtcp",
                unhex(f.next().unwrap()),
                unhex(f.next().unwrap()),
            )),
            other => panic!("unknown line {other}"),
        }
    }
    Vectors {
        suite: suite.unwrap(),
        key: key.unwrap(),
        packets,
    }
}

/// RFC 3711 §3.4 starts the SRTCP index at 0; libsrtp increments before use, so its first
/// SRTCP packet of an SSRC carries index 1. Both are valid for any receiver. To compare
/// bytes, spend index 0 of each SSRC on a throwaway packet first.
fn burn_first_srtcp_index(tx: &mut Context, plain: &[u8], seen: &mut Vec<[u8; 4]>) {
    let ssrc: [u8; 4] = plain[4..8].try_into().unwrap();
    if !seen.contains(&ssrc) {
        seen.push(ssrc);
        let mut dummy = plain.to_vec();
        tx.protect_rtcp_vec(&mut dummy).unwrap();
        let at = dummy.len() - tx.rtcp_trailer_len();
        assert_eq!(dummy[at..at + 4], [0x80, 0, 0, 0], "E=1, index 0");
    }
}

const V80: &str = include_str!("vectors/libsrtp_aes_cm_128_hmac_sha1_80.txt");
const V32: &str = include_str!("vectors/libsrtp_aes_cm_128_hmac_sha1_32.txt");

fn check_suite(text: &str, expect: Suite) {
    let v = load(text);
    assert_eq!(v.suite, expect);
    assert!(v.packets.len() >= 20);
    let mut rx = Context::new(v.suite, std::slice::from_ref(&v.key), Config::default()).unwrap();
    let mut tx = Context::new(v.suite, std::slice::from_ref(&v.key), Config::default()).unwrap();
    let mut rtcp_seen = Vec::new();
    for (i, (rtcp, plain, prot)) in v.packets.iter().enumerate() {
        if *rtcp {
            burn_first_srtcp_index(&mut tx, plain, &mut rtcp_seen);
        }
        let mut buf = prot.clone();
        let res = if *rtcp {
            rx.unprotect_rtcp_vec(&mut buf)
        } else {
            rx.unprotect_rtp_vec(&mut buf)
        };
        assert_eq!(res, Ok(()), "packet {i}: libsrtp -> us");
        assert_eq!(&buf, plain, "packet {i}: decrypted bytes");
        let mut buf = plain.clone();
        if *rtcp {
            tx.protect_rtcp_vec(&mut buf)
        } else {
            tx.protect_rtp_vec(&mut buf)
        }
        .unwrap();
        assert_eq!(&buf, prot, "packet {i}: us -> libsrtp, bytes differ");
    }
    // The stream crossed the sequence wrap: ROC advanced on both sides.
    assert_eq!(rx.roc(0x1234ABCD), Some(1));
    assert_eq!(tx.roc(0x1234ABCD), Some(1));
    // Replaying any libsrtp packet is refused.
    for (rtcp, _, prot) in &v.packets {
        let mut buf = prot.clone();
        let res = if *rtcp {
            rx.unprotect_rtcp_vec(&mut buf)
        } else {
            rx.unprotect_rtp_vec(&mut buf)
        };
        assert_eq!(res, Err(Error::Replayed));
    }
}

#[test]
fn libsrtp_sha1_80_both_directions() {
    check_suite(V80, Suite::AesCm128HmacSha1_80);
}

#[test]
fn libsrtp_sha1_32_both_directions() {
    check_suite(V32, Suite::AesCm128HmacSha1_32);
}

/// libsrtp packets with an MKI spliced in (RFC 3711 §3.1: the MKI lies between the
/// authenticated portion and the tag and is not authenticated), as Teams sends with
/// `|2^31|1:1`. pylibsrtp has no MKI API, so this is derived rather than generated.
#[test]
fn libsrtp_packets_with_mki_inserted() {
    let v = load(V80);
    let mut key = v.key.clone();
    key.lifetime = Some(1 << 31);
    key.mki = Some(Mki::new(1, 1).unwrap());
    let mut other = KeyParams::from_key_salt(&[9; 30], None, Some(Mki::new(2, 1).unwrap()));
    other.lifetime = None;
    let mut rx = Context::new(v.suite, &[other, key.clone()], Config::default()).unwrap();
    let mut tx = Context::new(v.suite, &[key], Config::default()).unwrap();
    let mut rtcp_seen = Vec::new();
    for (rtcp, plain, prot) in &v.packets {
        if *rtcp {
            burn_first_srtcp_index(&mut tx, plain, &mut rtcp_seen);
        }
        let tag = 10;
        let mut with_mki = prot.clone();
        with_mki.insert(prot.len() - tag, 1);
        let mut buf = with_mki.clone();
        let res = if *rtcp {
            rx.unprotect_rtcp_vec(&mut buf)
        } else {
            rx.unprotect_rtp_vec(&mut buf)
        };
        assert_eq!(res, Ok(()));
        assert_eq!(&buf, plain);
        let mut buf = plain.clone();
        if *rtcp {
            tx.protect_rtcp_vec(&mut buf)
        } else {
            tx.protect_rtp_vec(&mut buf)
        }
        .unwrap();
        assert_eq!(buf, with_mki);
        // An unknown MKI is refused before any crypto.
        let mut bad = with_mki.clone();
        let at = bad.len() - tag - 1;
        bad[at] = 7;
        let res = if *rtcp {
            rx.unprotect_rtcp_vec(&mut bad)
        } else {
            rx.unprotect_rtp_vec(&mut bad)
        };
        assert_eq!(res, Err(Error::BadMki));
    }
}
