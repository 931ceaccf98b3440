//! Deterministic unit tests with real-looking Teams and gateway SDP. TI-n cite
//! /work/shared/spec/teams-interop.md rules.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use proptest::prelude::*;
use sbc_sdp::Sdp;

use crate::*;

const MS_IP: &str = "52.114.14.70";
const GW_IP: &str = "192.0.2.10";

fn key_b64(seed: u8) -> String {
    let k: Vec<u8> = (0..30u8)
        .map(|i| i.wrapping_mul(7).wrapping_add(seed))
        .collect();
    b64_encode(&k)
}

fn key_bytes(seed: u8) -> [u8; 30] {
    let mut k = [0u8; 30];
    for (i, b) in k.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(7).wrapping_add(seed);
    }
    k
}

/// A Teams (Direct Routing, non-bypass) offer: SAVP, two crypto lines with `|2^31|1:1`
/// (TI-32), rtcp-mux plus a=rtcp (TI-33), ICE candidates (TI-37), vendor attributes.
fn teams_offer(seed: u8, dir: &str) -> String {
    format!(
        "v=0\r\n\
o=- 0 0 IN IP4 {MS_IP}\r\n\
s=session\r\n\
c=IN IP4 {MS_IP}\r\n\
b=CT:10000000\r\n\
t=0 0\r\n\
m=audio 52884 RTP/SAVP 104 9 103 111 18 0 8 97 101 13 118\r\n\
c=IN IP4 {MS_IP}\r\n\
a=rtcp:52885\r\n\
a=ice-ufrag:lU7T\r\n\
a=ice-pwd:IhyzQ3L9eDCAxVMbwHrJ5wMx\r\n\
a=rtcp-mux\r\n\
a=candidate:1 1 UDP 2130706431 {MS_IP} 52884 typ host\r\n\
a=candidate:1 2 UDP 2130705918 {MS_IP} 52885 typ host\r\n\
a=x-candidate-ipv6:1 1 UDP 33553919 2603:1063::1 52884 typ host\r\n\
a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{}|2^31|1:1\r\n\
a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{}|2^31\r\n\
a=maxptime:200\r\n\
a=rtpmap:104 SILK/16000\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:103 SILK/8000\r\n\
a=rtpmap:111 SIREN/16000\r\n\
a=fmtp:111 bitrate=16000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:97 RED/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=rtpmap:13 CN/8000\r\n\
a=rtpmap:118 CN/16000\r\n\
a=ptime:20\r\n\
a=label:main-audio\r\n\
a=x-ssrc-range:2028064768-2028064768\r\n\
{dir}",
        key_b64(seed),
        key_b64(seed.wrapping_add(100))
    )
}

/// A PSTN gateway offer: G.711 + G.729 + AMR + telephone-event, plain RTP (TI-33).
fn gw_offer(port: u16, dir: &str, conn: &str) -> String {
    format!(
        "v=0\r\n\
o=GW 12345 1 IN IP4 {GW_IP}\r\n\
s=-\r\n\
c=IN IP4 {conn}\r\n\
t=0 0\r\n\
m=audio {port} RTP/AVP 8 0 18 96 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=rtpmap:96 AMR/8000\r\n\
a=fmtp:96 mode-set=7\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=x-vendor:foo\r\n\
a={dir}\r\n"
    )
}

/// The gateway's answer to an offer of ours.
fn gw_answer(port: u16, dir: &str) -> String {
    format!(
        "v=0\r\n\
o=GW 777 1 IN IP4 {GW_IP}\r\n\
s=-\r\n\
c=IN IP4 {GW_IP}\r\n\
t=0 0\r\n\
m=audio {port} RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a={dir}\r\n"
    )
}

/// Teams' answer to an offer of ours: one crypto line with our tag (RFC 4568 §7.1.2).
fn teams_answer(tag: u32, suite: &str, seed: u8, extra: &str) -> String {
    format!(
        "v=0\r\n\
o=- 0 1 IN IP4 {MS_IP}\r\n\
s=session\r\n\
c=IN IP4 {MS_IP}\r\n\
t=0 0\r\n\
m=audio 49160 RTP/SAVP 0 101\r\n\
a=rtcp:49161\r\n\
a=rtcp-mux\r\n\
a=crypto:{tag} {suite} inline:{}|2^31|1:1\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
{extra}",
        key_b64(seed)
    )
}

fn a_ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1))
}
fn b_ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))
}

fn cfg(a: MediaPolicy, b: MediaPolicy) -> SessionConfig {
    SessionConfig::new(
        LegConfig {
            policy: a,
            local_ip: a_ip(),
        },
        LegConfig {
            policy: b,
            local_ip: b_ip(),
        },
    )
}

fn teams_gw() -> MediaSession {
    MediaSession::new(cfg(MediaPolicy::microsoft(), MediaPolicy::gateway()))
}

fn new_pool() -> PortPool {
    PortPool::new(PortRange {
        min: 40000,
        max: 40099,
    })
    .unwrap()
}

/// Deterministic "CSPRNG": a counter, so keys are distinct and reproducible.
fn rng() -> impl FnMut(&mut [u8]) {
    let mut n = 0u8;
    move |buf: &mut [u8]| {
        for b in buf {
            n = n.wrapping_add(1);
            *b = n;
        }
    }
}

fn s(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

fn lines(b: &[u8]) -> Vec<String> {
    s(b).split("\r\n")
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn has(b: &[u8], line: &str) -> bool {
    lines(b).iter().any(|l| l == line)
}

fn count_prefix(b: &[u8], p: &str) -> usize {
    lines(b).iter().filter(|l| l.starts_with(p)).count()
}

fn origin_version(b: &[u8]) -> (u64, u64) {
    let sdp = Sdp::parse(b).unwrap();
    (sdp.origin().session_id(), sdp.origin().session_version())
}

fn m_line(b: &[u8], i: usize) -> String {
    lines(b)
        .into_iter()
        .filter(|l| l.starts_with("m="))
        .nth(i)
        .unwrap()
}

fn m_port(b: &[u8], i: usize) -> u16 {
    Sdp::parse(b).unwrap().media(i).unwrap().port()
}

fn crypto_key(b: &[u8], i: usize, tag: u32) -> SrtpKey {
    let sdp = Sdp::parse(b).unwrap();
    let m = sdp.media(i).unwrap();
    let c = m
        .crypto()
        .filter_map(Result::ok)
        .find(|c| c.tag() == tag)
        .unwrap();
    SrtpKey::from_crypto(&c).unwrap()
}

/// Teams calls out through the SBC: offer from A, final answer from B.
fn established_teams_to_gw(
    sess: &mut MediaSession,
    pool: &mut PortPool,
    r: &mut dyn KeySource,
) -> (Vec<u8>, Vec<u8>) {
    let to_b = sess
        .on_offer(Leg::A, teams_offer(1, "").as_bytes(), pool, r)
        .unwrap();
    let to_a = sess
        .on_answer(
            Leg::B,
            gw_answer(30000, "sendrecv").as_bytes(),
            AnswerKind::Final,
            pool,
            r,
        )
        .unwrap();
    (to_b, to_a)
}

// ---------------------------------------------------------------- port pool

#[test]
fn pool_hands_out_even_rtp_with_rtcp_next() {
    let mut p = PortPool::new(PortRange {
        min: 10001,
        max: 10010,
    })
    .unwrap();
    // 10002..=10009 in pairs: (10002,10003) .. (10008,10009); 10010 has no partner.
    assert_eq!(p.capacity(), 4);
    let mut got = Vec::new();
    while let Ok(pair) = p.allocate() {
        assert_eq!(pair.rtp() % 2, 0);
        assert_eq!(pair.rtcp(), pair.rtp() + 1);
        assert!(pair.rtcp() <= 10010);
        got.push(pair.rtp());
    }
    assert_eq!(got, vec![10002, 10004, 10006, 10008]);
}

#[test]
fn pool_exhaustion_is_a_typed_error_mapped_to_503() {
    let mut p = PortPool::new(PortRange {
        min: 2000,
        max: 2003,
    })
    .unwrap();
    p.allocate().unwrap();
    p.allocate().unwrap();
    assert_eq!(p.allocate(), Err(PoolError::Exhausted));
    assert_eq!(MediaError::from(PoolError::Exhausted).sip_status(), 503);
}

#[test]
fn pool_rejects_ranges_without_a_pair() {
    for (min, max) in [
        (5000, 5000),
        (5001, 5001),
        (6000, 5000),
        (0, 1),
        (65535, 65535),
    ] {
        assert_eq!(
            PortPool::new(PortRange { min, max }).err(),
            Some(PoolError::InvalidRange),
            "{min}..{max}"
        );
    }
    // Port 0 is never handed out: it means "rejected" in SDP.
    let mut p = PortPool::new(PortRange { min: 0, max: 3 }).unwrap();
    assert_eq!(p.allocate().unwrap().rtp(), 2);
    // The top of the port space works without overflow.
    let mut p = PortPool::new(PortRange {
        min: 65534,
        max: 65535,
    })
    .unwrap();
    assert_eq!(p.allocate().unwrap().rtcp(), 65535);
}

#[test]
fn pool_double_or_foreign_release_is_harmless() {
    let mut p = new_pool();
    let mut other = PortPool::new(PortRange {
        min: 50000,
        max: 50009,
    })
    .unwrap();
    let a = p.allocate().unwrap();
    let foreign = other.allocate().unwrap();
    assert!(p.is_leased(a));
    assert!(p.release(a));
    assert!(!p.release(a));
    assert!(!p.release(foreign));
    assert!(!p.is_leased(a));
    assert_eq!(p.in_use(), 0);
    assert_eq!(p.available(), p.capacity());
}

#[test]
fn pool_reuses_the_longest_free_pair_first() {
    let mut p = PortPool::new(PortRange { min: 100, max: 107 }).unwrap();
    let a = p.allocate().unwrap();
    let b = p.allocate().unwrap();
    p.release(a);
    // FIFO: the never-used pairs come before the just-released one.
    assert_eq!(p.allocate().unwrap().rtp(), 104);
    assert_eq!(p.allocate().unwrap().rtp(), 106);
    assert_eq!(p.allocate().unwrap(), a);
    assert_ne!(a, b);
}

#[test]
fn pool_allocate_release_cycles_do_not_leak() {
    let mut p = PortPool::new(PortRange {
        min: 20000,
        max: 20199,
    })
    .unwrap();
    let cap = p.capacity();
    for round in 0..50 {
        let held: Vec<_> = (0..cap).map(|_| p.allocate().unwrap()).collect();
        assert_eq!(p.allocate(), Err(PoolError::Exhausted), "round {round}");
        for (i, pair) in held.iter().enumerate() {
            assert!(p.release(*pair));
            if i % 3 == 0 {
                assert!(!p.release(*pair));
            }
        }
        assert_eq!(p.in_use(), 0);
    }
}

// ---------------------------------------------------------------- keys

#[test]
fn base64_rfc4648_vectors() {
    // RFC 4648 §10.
    for (plain, enc) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(b64_encode(plain.as_bytes()), enc);
        assert_eq!(b64_decode(enc.as_bytes()).unwrap(), plain.as_bytes());
    }
    for bad in ["Z", "Zh==", "Zm9v!", "Zg=", "Z===", "Zm8=Zm8="] {
        assert_eq!(b64_decode(bad.as_bytes()), None, "{bad}");
    }
    assert_eq!(b64_decode(b"Zm8").unwrap(), b"fo");
}

fn crypto_of(line: &str) -> Option<SrtpKey> {
    let body = format!(
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/SAVP 0\r\n{line}\r\n"
    );
    let sdp = Sdp::parse(body.as_bytes()).unwrap();
    let c = sdp.media(0)?.crypto().next()?.ok()?;
    SrtpKey::from_crypto(&c)
}

#[test]
fn microsoft_crypto_with_lifetime_and_mki_is_usable() {
    // TI-32: `inline:<key>|2^31|1:1`.
    let k = crypto_of(&format!(
        "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{}|2^31|1:1",
        key_b64(9)
    ))
    .unwrap();
    assert_eq!(k.suite, SrtpSuite::AesCm128HmacSha1_80);
    assert_eq!(k.master, key_bytes(9));
    assert_eq!(k.lifetime, Some(Lifetime::PowerOfTwo(31)));
    assert_eq!(
        k.mki,
        Some(MkiSpec {
            value: 1,
            length: 1
        })
    );
    assert!(k.inline().ends_with("|2^31|1:1"));
    let k32 = crypto_of(&format!(
        "a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:{}",
        key_b64(1)
    ))
    .unwrap();
    assert_eq!(k32.suite.srtp_tag_len(), 4);
}

#[test]
fn unusable_crypto_lines_are_refused() {
    let k = key_b64(3);
    for line in [
        format!("a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:{k}"),
        format!("a=crypto:1 F8_128_HMAC_SHA1_80 inline:{k}"),
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA".to_string(),
        format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{k} UNENCRYPTED_SRTP"),
        format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{k}|1:1;inline:{k}|2:1"),
        format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{k}|2^31|1:5"),
        format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{k}|2^31|256:1"),
        format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{k}|0"),
    ] {
        assert!(crypto_of(&line).is_none(), "{line}");
    }
}

#[test]
fn key_debug_never_prints_the_key() {
    let k = SrtpKey::generate(SrtpSuite::AesCm128HmacSha1_80, None, None, &mut rng());
    let dbg = format!("{k:?}");
    assert!(dbg.contains("redacted"));
    assert!(!dbg.contains(&format!("{:?}", k.master[0..4].to_vec())));
    assert!(!dbg.contains(&b64_encode(&k.master)));
}

// ---------------------------------------------------------------- Teams -> gateway

#[test]
fn teams_offer_toward_gateway_is_plain_rtp_on_the_relay() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    let out = sess
        .on_offer(Leg::A, teams_offer(1, "").as_bytes(), &mut pool, &mut r)
        .unwrap();
    Sdp::parse(&out).unwrap();
    // TI-33: plain RTP toward the gateway, relay address and port.
    assert!(has(&out, "c=IN IP4 10.0.0.1"));
    assert_eq!(count_prefix(&out, "c="), 1);
    let port = m_port(&out, 0);
    assert_eq!(port % 2, 0);
    assert_eq!(
        m_line(&out, 0),
        format!("m=audio {port} RTP/AVP 104 9 103 111 18 0 8 97 101 13 118")
    );
    assert!(has(&out, &format!("a=rtcp:{}", port + 1)));
    // No crypto toward a plain leg, no ICE (TI-37), no rtcp-mux offer (gateway policy).
    for p in [
        "a=crypto",
        "a=ice-",
        "a=candidate",
        "a=x-candidate",
        "a=rtcp-mux",
    ] {
        assert_eq!(count_prefix(&out, p), 0, "{p}");
    }
    assert!(has(&out, "a=rtpmap:101 telephone-event/8000"));
    assert!(has(&out, "a=fmtp:101 0-16"));
    assert!(has(&out, "a=sendrecv"));
    assert!(has(&out, "o=- ") || lines(&out)[1].starts_with("o=- "));
    assert!(lines(&out)[1].ends_with("IN IP4 10.0.0.1"));
    assert_eq!(pool.in_use(), 2, "one pair per leg");
    assert_eq!(sess.offer_pending(), Some(Leg::A));
}

#[test]
fn gateway_answer_toward_teams_has_one_crypto_line_with_symmetric_mki() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    let (to_b, to_a) = established_teams_to_gw(&mut sess, &mut pool, &mut r);
    Sdp::parse(&to_a).unwrap();
    let port_a = m_port(&to_a, 0);
    assert_eq!(m_line(&to_a, 0), format!("m=audio {port_a} RTP/SAVP 0 101"));
    assert!(has(&to_a, "c=IN IP4 198.51.100.1"));
    // TI-32: exactly one crypto line, the tag and suite of the first acceptable offer
    // line, and the MKI/lifetime shape of Microsoft's line.
    assert_eq!(count_prefix(&to_a, "a=crypto:"), 1);
    let ours = crypto_key(&to_a, 0, 2);
    assert_eq!(ours.suite, SrtpSuite::AesCm128HmacSha1_80);
    assert_eq!(
        ours.mki,
        Some(MkiSpec {
            value: 1,
            length: 1
        })
    );
    assert_eq!(ours.lifetime, Some(Lifetime::PowerOfTwo(31)));
    // TI-33: Teams offered rtcp-mux; accepted.
    assert!(has(&to_a, "a=rtcp-mux"));
    // TI-35: only standard attributes toward Microsoft.
    let sdp = Sdp::parse(&to_a).unwrap();
    for m in sdp.media_iter() {
        for a in m.attributes() {
            assert!(a.is_standard(), "{:?}", a.name().as_str());
        }
    }
    let plan = sess.relay_plan();
    assert!(!plan.early);
    assert_eq!(plan.streams.len(), 1);
    let st = &plan.streams[0];
    assert_eq!(st.index, 0);
    assert_eq!(st.a.local_rtp, port_a);
    assert_eq!(st.a.local_rtcp, port_a, "muxed");
    assert!(st.a.rtcp_mux);
    let ms: SocketAddr = format!("{MS_IP}:52884").parse().unwrap();
    assert_eq!(st.a.remote_rtp, Some(ms));
    assert_eq!(st.a.remote_rtcp, Some(ms));
    let keys = st.a.srtp.as_ref().unwrap();
    assert_eq!(
        keys.inbound.master,
        key_bytes(1),
        "Teams' tag-2 key decrypts its media"
    );
    assert_eq!(
        keys.inbound.mki,
        Some(MkiSpec {
            value: 1,
            length: 1
        })
    );
    assert_eq!(keys.outbound, ours);
    assert_eq!(st.b.local_rtp, m_port(&to_b, 0));
    assert_eq!(st.b.local_rtcp, st.b.local_rtp + 1);
    assert!(st.b.srtp.is_none());
    assert_eq!(
        st.b.remote_rtp,
        Some(format!("{GW_IP}:30000").parse().unwrap())
    );
    assert_eq!(
        st.b.remote_rtcp,
        Some(format!("{GW_IP}:30001").parse().unwrap())
    );
    assert_eq!(
        st.payload_types
            .iter()
            .map(|p| (p.pt, p.encoding.as_str()))
            .collect::<Vec<_>>(),
        vec![(0, "PCMU"), (101, "telephone-event")]
    );
}

#[test]
fn teams_plain_rtp_offer_gets_488_and_leaks_nothing() {
    // TI-32: plain RTP from Microsoft gets 488.
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    let plain = teams_offer(1, "").replace("RTP/SAVP", "RTP/AVP");
    let e = sess
        .on_offer(Leg::A, plain.as_bytes(), &mut pool, &mut r)
        .unwrap_err();
    assert_eq!(e, MediaError::SrtpRequired);
    assert_eq!(e.sip_status(), 488);
    assert_eq!(pool.in_use(), 0);
    assert_eq!(sess.offer_pending(), None);
    // Only unusable suites: same answer.
    let k = key_b64(1);
    let bad = teams_offer(1, "")
        .replace(
            &format!("AES_CM_128_HMAC_SHA1_80 inline:{k}"),
            "AES_256_CM_HMAC_SHA1_80 inline:x",
        )
        .replace("a=crypto:3", "a=x-crypto:3");
    let e = sess
        .on_offer(Leg::A, bad.as_bytes(), &mut pool, &mut r)
        .unwrap_err();
    assert_eq!(e, MediaError::SrtpRequired);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn teams_offer_listing_sha1_32_first_is_answered_with_32() {
    // TI-32: Microsoft's offers may list AES_CM_128_HMAC_SHA1_32; the answer takes the
    // first acceptable line (RFC 4568 §7.1.1, offerer's preference).
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    let offer = teams_offer(1, "").replace(
        "a=crypto:2 AES_CM_128_HMAC_SHA1_80",
        "a=crypto:2 AES_CM_128_HMAC_SHA1_32",
    );
    sess.on_offer(Leg::A, offer.as_bytes(), &mut pool, &mut r)
        .unwrap();
    let to_a = sess
        .on_answer(
            Leg::B,
            gw_answer(30000, "sendrecv").as_bytes(),
            AnswerKind::Final,
            &mut pool,
            &mut r,
        )
        .unwrap();
    assert!(lines(&to_a)
        .iter()
        .any(|l| l.starts_with("a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:")));
    let plan = sess.relay_plan();
    let keys = plan.streams[0].a.srtp.as_ref().unwrap();
    assert_eq!(keys.inbound.suite, SrtpSuite::AesCm128HmacSha1_32);
    assert_eq!(keys.outbound.suite, SrtpSuite::AesCm128HmacSha1_32);
}

#[test]
fn without_symmetric_mki_the_answer_key_has_no_mki() {
    let mut ms = MediaPolicy::microsoft();
    ms.symmetric_mki = false;
    let (mut sess, mut pool, mut r) = (
        MediaSession::new(cfg(ms, MediaPolicy::gateway())),
        new_pool(),
        rng(),
    );
    let (_, to_a) = established_teams_to_gw(&mut sess, &mut pool, &mut r);
    let k = crypto_key(&to_a, 0, 2);
    assert_eq!((k.mki, k.lifetime), (None, None));
}

// ---------------------------------------------------------------- gateway -> Teams

fn gw_to_teams(sess: &mut MediaSession, pool: &mut PortPool, r: &mut dyn KeySource) -> Vec<u8> {
    sess.on_offer(
        Leg::B,
        gw_offer(20000, "sendrecv", GW_IP).as_bytes(),
        pool,
        r,
    )
    .unwrap()
}

#[test]
fn gateway_offer_toward_teams_is_savp_with_fresh_key_and_ti34_codecs() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    let out = gw_to_teams(&mut sess, &mut pool, &mut r);
    Sdp::parse(&out).unwrap();
    let port = m_port(&out, 0);
    // TI-34: AMR (96) is not a Microsoft codec; its rtpmap/fmtp go with it.
    assert_eq!(
        m_line(&out, 0),
        format!("m=audio {port} RTP/SAVP 8 0 18 101")
    );
    assert_eq!(count_prefix(&out, "a=rtpmap:96"), 0);
    assert_eq!(count_prefix(&out, "a=fmtp:96"), 0);
    assert!(has(&out, "a=fmtp:18 annexb=no"));
    // TI-32: _80 offered with a fresh 30-byte key, no MKI in our offers.
    assert_eq!(count_prefix(&out, "a=crypto:"), 1);
    let k = crypto_key(&out, 0, 1);
    assert_eq!(k.suite, SrtpSuite::AesCm128HmacSha1_80);
    assert_eq!(k.mki, None);
    // TI-33: rtcp-mux offered, with a=rtcp for the fallback.
    assert!(has(&out, "a=rtcp-mux"));
    assert!(has(&out, &format!("a=rtcp:{}", port + 1)));
    // TI-35: the vendor attribute is gone.
    assert_eq!(count_prefix(&out, "a=x-vendor"), 0);
    assert!(has(&out, "c=IN IP4 198.51.100.1"));
}

#[test]
fn teams_answer_gives_the_relay_both_keys() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    let offer = gw_to_teams(&mut sess, &mut pool, &mut r);
    let offered = crypto_key(&offer, 0, 1);
    let to_b = sess
        .on_answer(
            Leg::A,
            teams_answer(1, "AES_CM_128_HMAC_SHA1_80", 5, "").as_bytes(),
            AnswerKind::Final,
            &mut pool,
            &mut r,
        )
        .unwrap();
    // Toward the gateway: its own profile, no crypto, a=rtcp (it did not offer mux).
    let port_b = m_port(&to_b, 0);
    assert_eq!(m_line(&to_b, 0), format!("m=audio {port_b} RTP/AVP 0 101"));
    assert_eq!(count_prefix(&to_b, "a=crypto"), 0);
    assert_eq!(count_prefix(&to_b, "a=rtcp-mux"), 0);
    assert!(has(&to_b, &format!("a=rtcp:{}", port_b + 1)));
    let plan = sess.relay_plan();
    let a = &plan.streams[0].a;
    let keys = a.srtp.as_ref().unwrap();
    assert_eq!(keys.outbound, offered);
    assert_eq!(keys.inbound.master, key_bytes(5));
    assert!(a.rtcp_mux, "we offered mux and Teams accepted");
    assert_eq!(a.local_rtcp, a.local_rtp);
    assert_eq!(
        plan.streams[0].b.remote_rtp,
        Some(format!("{GW_IP}:20000").parse().unwrap())
    );
}

#[test]
fn sha1_32_offer_when_configured_and_chosen_by_tag() {
    let mut ms = MediaPolicy::microsoft();
    ms.offer_sha1_32 = true;
    let (mut sess, mut pool, mut r) = (
        MediaSession::new(cfg(ms, MediaPolicy::gateway())),
        new_pool(),
        rng(),
    );
    let offer = gw_to_teams(&mut sess, &mut pool, &mut r);
    assert!(lines(&offer)
        .iter()
        .any(|l| l.starts_with("a=crypto:1 AES_CM_128_HMAC_SHA1_80 ")));
    assert!(lines(&offer)
        .iter()
        .any(|l| l.starts_with("a=crypto:2 AES_CM_128_HMAC_SHA1_32 ")));
    assert_ne!(
        crypto_key(&offer, 0, 1).master,
        crypto_key(&offer, 0, 2).master
    );
    let k2 = crypto_key(&offer, 0, 2);
    sess.on_answer(
        Leg::A,
        teams_answer(2, "AES_CM_128_HMAC_SHA1_32", 5, "").as_bytes(),
        AnswerKind::Final,
        &mut pool,
        &mut r,
    )
    .unwrap();
    assert_eq!(
        sess.relay_plan().streams[0]
            .a
            .srtp
            .as_ref()
            .unwrap()
            .outbound,
        k2
    );
}

#[test]
fn answer_with_unknown_tag_or_wrong_suite_is_a_mismatch() {
    for (tag, suite) in [
        (7, "AES_CM_128_HMAC_SHA1_80"),
        (1, "AES_CM_128_HMAC_SHA1_32"),
    ] {
        let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
        gw_to_teams(&mut sess, &mut pool, &mut r);
        let e = sess
            .on_answer(
                Leg::A,
                teams_answer(tag, suite, 5, "").as_bytes(),
                AnswerKind::Final,
                &mut pool,
                &mut r,
            )
            .unwrap_err();
        assert_eq!(e, MediaError::AnswerMismatch { stream: 0 });
        assert_eq!(e.sip_status(), 488);
        // The offer stays outstanding; failing it returns the ports.
        assert_eq!(sess.offer_pending(), Some(Leg::B));
        sess.offer_failed(&mut pool);
        assert_eq!(pool.in_use(), 0);
    }
}

#[test]
fn plain_answer_from_srtp_required_leg_is_refused() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    gw_to_teams(&mut sess, &mut pool, &mut r);
    let e = sess
        .on_answer(
            Leg::A,
            gw_answer(49160, "sendrecv").as_bytes(),
            AnswerKind::Final,
            &mut pool,
            &mut r,
        )
        .unwrap_err();
    assert_eq!(e, MediaError::SrtpRequired);
}

// ---------------------------------------------------------------- hold / resume

#[test]
fn gateway_hold_is_inactive_toward_teams_and_resume_restores() {
    // TI-29: sendonly and c=0.0.0.0 from the PSTN side become a=inactive toward Microsoft.
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    gw_to_teams(&mut sess, &mut pool, &mut r);
    sess.on_answer(
        Leg::A,
        teams_answer(1, "AES_CM_128_HMAC_SHA1_80", 5, "").as_bytes(),
        AnswerKind::Final,
        &mut pool,
        &mut r,
    )
    .unwrap();
    let ports_before = sess.leased_ports();
    for (dir, conn) in [
        ("sendonly", GW_IP),
        ("sendrecv", "0.0.0.0"),
        ("recvonly", GW_IP),
    ] {
        let hold = sess
            .on_offer(
                Leg::B,
                gw_offer(20000, dir, conn).as_bytes(),
                &mut pool,
                &mut r,
            )
            .unwrap();
        assert!(has(&hold, "a=inactive"), "{dir} {conn}");
        assert_eq!(
            count_prefix(&hold, "a=sendonly") + count_prefix(&hold, "a=recvonly"),
            0
        );
        assert!(
            has(&hold, "c=IN IP4 198.51.100.1"),
            "never 0.0.0.0 toward Teams"
        );
        let ans = teams_answer(1, "AES_CM_128_HMAC_SHA1_80", 5, "a=inactive\r\n");
        let to_b = sess
            .on_answer(Leg::A, ans.as_bytes(), AnswerKind::Final, &mut pool, &mut r)
            .unwrap();
        assert!(has(&to_b, "a=inactive"));
        let plan = sess.relay_plan();
        if conn == "0.0.0.0" {
            assert_eq!(plan.streams[0].b.remote_rtp, None);
            assert_eq!(plan.streams[0].b.direction, Direction::SendOnly);
        }
        assert_eq!(sess.leased_ports(), ports_before, "hold keeps the ports");
    }
    let resume = sess
        .on_offer(
            Leg::B,
            gw_offer(20000, "sendrecv", GW_IP).as_bytes(),
            &mut pool,
            &mut r,
        )
        .unwrap();
    assert!(has(&resume, "a=sendrecv"));
    assert_eq!(pool.in_use(), 2);
}

#[test]
fn teams_hold_passes_to_the_gateway_unchanged() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    established_teams_to_gw(&mut sess, &mut pool, &mut r);
    let to_b = sess
        .on_offer(
            Leg::A,
            teams_offer(1, "a=sendonly\r\n").as_bytes(),
            &mut pool,
            &mut r,
        )
        .unwrap();
    assert!(has(&to_b, "a=sendonly"));
    let to_a = sess
        .on_answer(
            Leg::B,
            gw_answer(30000, "recvonly").as_bytes(),
            AnswerKind::Final,
            &mut pool,
            &mut r,
        )
        .unwrap();
    // TI-29 also applies to answers toward Microsoft.
    assert!(has(&to_a, "a=inactive"));
    assert_eq!(
        sess.relay_plan().streams[0].a.direction,
        Direction::SendOnly
    );
}

// ---------------------------------------------------------------- o= versions, re-key

#[test]
fn unchanged_reoffer_keeps_origin_version_and_change_bumps_it() {
    // RFC 3264 §8: same description → same version; any change → version + 1.
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    let (to_b1, to_a1) = established_teams_to_gw(&mut sess, &mut pool, &mut r);
    let (id_b, v_b) = origin_version(&to_b1);
    let (id_a, v_a) = origin_version(&to_a1);
    // Session refresh (TI-30): identical re-INVITE.
    let (to_b2, to_a2) = established_teams_to_gw(&mut sess, &mut pool, &mut r);
    assert_eq!(to_b2, to_b1);
    assert_eq!(to_a2, to_a1, "same keys, same bytes");
    // Hold changes the description on both legs.
    let to_b3 = sess
        .on_offer(
            Leg::A,
            teams_offer(1, "a=inactive\r\n").as_bytes(),
            &mut pool,
            &mut r,
        )
        .unwrap();
    assert_eq!(origin_version(&to_b3), (id_b, v_b + 1));
    let to_a3 = sess
        .on_answer(
            Leg::B,
            gw_answer(30000, "inactive").as_bytes(),
            AnswerKind::Final,
            &mut pool,
            &mut r,
        )
        .unwrap();
    assert_eq!(origin_version(&to_a3), (id_a, v_a + 1));
    // A codec change from the gateway side (offer B → A) continues A's numbering.
    let to_a4 = sess
        .on_offer(
            Leg::B,
            gw_answer(30000, "sendrecv").as_bytes(),
            &mut pool,
            &mut r,
        )
        .unwrap();
    assert_eq!(origin_version(&to_a4), (id_a, v_a + 2));
    assert_eq!(
        m_line(&to_a4, 0),
        format!("m=audio {} RTP/SAVP 0 101", m_port(&to_a4, 0))
    );
}

#[test]
fn rekey_by_teams_updates_inbound_key_only() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    established_teams_to_gw(&mut sess, &mut pool, &mut r);
    let before = sess.relay_plan().streams[0].a.srtp.clone().unwrap();
    // RFC 4568 §7.1.4: a re-offer with a new key.
    sess.on_offer(Leg::A, teams_offer(42, "").as_bytes(), &mut pool, &mut r)
        .unwrap();
    sess.on_answer(
        Leg::B,
        gw_answer(30000, "sendrecv").as_bytes(),
        AnswerKind::Final,
        &mut pool,
        &mut r,
    )
    .unwrap();
    let after = sess.relay_plan().streams[0].a.srtp.clone().unwrap();
    assert_eq!(after.inbound.master, key_bytes(42));
    assert_ne!(after.inbound, before.inbound);
    assert_eq!(after.outbound, before.outbound);
}

#[test]
fn requested_rekey_puts_fresh_keys_in_both_directions_of_sdp() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    let (_, to_a1) = established_teams_to_gw(&mut sess, &mut pool, &mut r);
    let before = sess.relay_plan().streams[0].a.srtp.clone().unwrap();
    sess.request_rekey(Leg::A);
    let (_, to_a2) = established_teams_to_gw(&mut sess, &mut pool, &mut r);
    let after = sess.relay_plan().streams[0].a.srtp.clone().unwrap();
    assert_ne!(after.outbound, before.outbound);
    assert_eq!(origin_version(&to_a2).1, origin_version(&to_a1).1 + 1);
    // A re-offer toward Teams after a re-key request also carries a fresh key.
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    let o1 = gw_to_teams(&mut sess, &mut pool, &mut r);
    sess.on_answer(
        Leg::A,
        teams_answer(1, "AES_CM_128_HMAC_SHA1_80", 5, "").as_bytes(),
        AnswerKind::Final,
        &mut pool,
        &mut r,
    )
    .unwrap();
    let o2 = gw_to_teams(&mut sess, &mut pool, &mut r);
    assert_eq!(
        crypto_key(&o1, 0, 1),
        crypto_key(&o2, 0, 1),
        "unchanged re-offer"
    );
    sess.on_answer(
        Leg::A,
        teams_answer(1, "AES_CM_128_HMAC_SHA1_80", 5, "").as_bytes(),
        AnswerKind::Final,
        &mut pool,
        &mut r,
    )
    .unwrap();
    sess.request_rekey(Leg::A);
    let o3 = gw_to_teams(&mut sess, &mut pool, &mut r);
    assert_ne!(crypto_key(&o1, 0, 1), crypto_key(&o3, 0, 1));
}

// ---------------------------------------------------------------- delayed offer, early media

#[test]
fn delayed_offer_offer_in_2xx_answer_in_ack() {
    // Teams INVITE without SDP: the gateway's 2xx carries the offer, Teams' ACK the answer.
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    let offer_to_a = sess
        .on_offer(
            Leg::B,
            gw_offer(20000, "sendrecv", GW_IP).as_bytes(),
            &mut pool,
            &mut r,
        )
        .unwrap();
    assert!(m_line(&offer_to_a, 0).contains("RTP/SAVP"));
    let ack_to_b = sess
        .on_answer(
            Leg::A,
            teams_answer(1, "AES_CM_128_HMAC_SHA1_80", 5, "").as_bytes(),
            AnswerKind::Final,
            &mut pool,
            &mut r,
        )
        .unwrap();
    assert!(m_line(&ack_to_b, 0).contains("RTP/AVP"));
    assert_eq!(sess.offer_pending(), None);
    assert_eq!(sess.relay_plan().streams.len(), 1);
}

#[test]
fn early_media_183_then_2xx() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    sess.on_offer(Leg::A, teams_offer(1, "").as_bytes(), &mut pool, &mut r)
        .unwrap();
    let a183 = sess
        .on_answer(
            Leg::B,
            gw_answer(30000, "sendrecv").as_bytes(),
            AnswerKind::Provisional,
            &mut pool,
            &mut r,
        )
        .unwrap();
    let plan = sess.relay_plan();
    assert!(plan.early);
    assert_eq!(plan.streams.len(), 1);
    assert_eq!(sess.offer_pending(), Some(Leg::A));
    // The 2xx repeats the answer: the answer toward Teams is byte-identical (RFC 3262:
    // the 2xx answer must not differ from the reliable 183's).
    let a200 = sess
        .on_answer(
            Leg::B,
            gw_answer(30000, "sendrecv").as_bytes(),
            AnswerKind::Final,
            &mut pool,
            &mut r,
        )
        .unwrap();
    assert_eq!(a183, a200);
    assert!(!sess.relay_plan().early);
    assert_eq!(sess.offer_pending(), None);
    assert_eq!(pool.in_use(), 2);
}

#[test]
fn early_answer_confirmed_by_2xx_without_sdp() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    assert_eq!(
        sess.confirm_early_answer(&mut pool),
        Err(MediaError::NoOfferPending)
    );
    sess.on_offer(Leg::A, teams_offer(1, "").as_bytes(), &mut pool, &mut r)
        .unwrap();
    let a183 = sess
        .on_answer(
            Leg::B,
            gw_answer(30000, "sendrecv").as_bytes(),
            AnswerKind::Provisional,
            &mut pool,
            &mut r,
        )
        .unwrap();
    sess.confirm_early_answer(&mut pool).unwrap();
    assert!(!sess.relay_plan().early);
    assert_eq!(sess.relay_plan().streams.len(), 1);
    assert_eq!(sess.last_sent(Leg::A), Some(&a183[..]));
}

#[test]
fn failed_initial_offer_after_183_returns_every_port() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    sess.on_offer(Leg::A, teams_offer(1, "").as_bytes(), &mut pool, &mut r)
        .unwrap();
    sess.on_answer(
        Leg::B,
        gw_answer(30000, "sendrecv").as_bytes(),
        AnswerKind::Provisional,
        &mut pool,
        &mut r,
    )
    .unwrap();
    // 486 from the gateway.
    sess.offer_failed(&mut pool);
    assert_eq!(pool.in_use(), 0);
    assert!(sess.relay_plan().streams.is_empty());
    sess.offer_failed(&mut pool);
    sess.release(&mut pool);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn failed_reinvite_keeps_the_established_media() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    established_teams_to_gw(&mut sess, &mut pool, &mut r);
    let plan = sess.relay_plan();
    // A re-offer adding a video stream, then 488 from the gateway.
    let with_video = format!(
        "{}m=video 52886 RTP/SAVP 122\r\na=rtpmap:122 X-H264UC/90000\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
        teams_offer(1, ""),
        key_b64(7)
    );
    let out = sess
        .on_offer(Leg::A, with_video.as_bytes(), &mut pool, &mut r)
        .unwrap();
    assert_eq!(Sdp::parse(&out).unwrap().media_count(), 2);
    assert_eq!(pool.in_use(), 4);
    sess.offer_failed(&mut pool);
    assert_eq!(pool.in_use(), 2);
    assert_eq!(sess.relay_plan(), plan);
}

// ---------------------------------------------------------------- streams, limits, errors

#[test]
fn zero_port_and_unknown_streams_stay_rejected_in_both_directions() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    let offer = format!(
        "{}m=video 0 RTP/SAVP 122\r\na=rtpmap:122 X-H264UC/90000\r\nm=application 5000 TCP/BFCP *\r\na=setup:active\r\n",
        teams_offer(1, "")
    );
    let to_b = sess
        .on_offer(Leg::A, offer.as_bytes(), &mut pool, &mut r)
        .unwrap();
    assert_eq!(m_line(&to_b, 1), "m=video 0 RTP/SAVP 122");
    // RFC 3264 §8.2: a stream the relay cannot carry is disabled with port 0.
    assert_eq!(m_line(&to_b, 2), "m=application 0 TCP/BFCP *");
    assert_eq!(count_prefix(&to_b, "a=setup"), 0);
    assert_eq!(pool.in_use(), 2, "no ports for rejected streams");
    let ans = format!(
        "{}m=video 0 RTP/AVP 122\r\nm=application 0 TCP/BFCP *\r\n",
        gw_answer(30000, "sendrecv")
    );
    let to_a = sess
        .on_answer(Leg::B, ans.as_bytes(), AnswerKind::Final, &mut pool, &mut r)
        .unwrap();
    assert_eq!(m_line(&to_a, 1), "m=video 0 RTP/SAVP 122");
    assert_eq!(m_line(&to_a, 2), "m=application 0 TCP/BFCP *");
    // An answer with fewer m= lines: the missing ones count as rejected.
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    sess.on_offer(Leg::A, offer.as_bytes(), &mut pool, &mut r)
        .unwrap();
    let to_a = sess
        .on_answer(
            Leg::B,
            gw_answer(30000, "sendrecv").as_bytes(),
            AnswerKind::Final,
            &mut pool,
            &mut r,
        )
        .unwrap();
    assert_eq!(Sdp::parse(&to_a).unwrap().media_count(), 3);
}

#[test]
fn answer_with_more_streams_than_offer_is_a_mismatch() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    sess.on_offer(Leg::A, teams_offer(1, "").as_bytes(), &mut pool, &mut r)
        .unwrap();
    let ans = format!(
        "{}m=video 4000 RTP/AVP 96\r\n",
        gw_answer(30000, "sendrecv")
    );
    assert_eq!(
        sess.on_answer(Leg::B, ans.as_bytes(), AnswerKind::Final, &mut pool, &mut r),
        Err(MediaError::AnswerMismatch { stream: 1 })
    );
}

#[test]
fn streams_beyond_the_limit_are_rejected_not_leased() {
    let mut c = cfg(MediaPolicy::gateway(), MediaPolicy::gateway());
    c.max_streams = 1;
    let (mut sess, mut pool, mut r) = (MediaSession::new(c), new_pool(), rng());
    let offer = format!(
        "{}m=audio 20002 RTP/AVP 0\r\n",
        gw_offer(20000, "sendrecv", GW_IP)
    );
    let out = sess
        .on_offer(Leg::B, offer.as_bytes(), &mut pool, &mut r)
        .unwrap();
    assert_ne!(m_port(&out, 0), 0);
    assert_eq!(m_port(&out, 1), 0);
    assert_eq!(pool.in_use(), 2);
}

#[test]
fn codec_change_reuses_ports_and_updates_payload_types() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    let (to_b1, _) = established_teams_to_gw(&mut sess, &mut pool, &mut r);
    let only_g722 = teams_offer(1, "").replace(
        "m=audio 52884 RTP/SAVP 104 9 103 111 18 0 8 97 101 13 118",
        "m=audio 52884 RTP/SAVP 9 101",
    );
    let to_b2 = sess
        .on_offer(Leg::A, only_g722.as_bytes(), &mut pool, &mut r)
        .unwrap();
    assert_eq!(m_port(&to_b1, 0), m_port(&to_b2, 0));
    assert_eq!(
        count_prefix(&to_b2, "a=rtpmap:104"),
        0,
        "rtpmap of dropped codecs"
    );
    let ans = gw_answer(30000, "sendrecv")
        .replace("RTP/AVP 0 101", "RTP/AVP 9 101")
        .replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:9 G722/8000");
    sess.on_answer(Leg::B, ans.as_bytes(), AnswerKind::Final, &mut pool, &mut r)
        .unwrap();
    let plan = sess.relay_plan();
    assert_eq!(plan.streams[0].payload_types[0].encoding, "G722");
    assert_eq!(pool.in_use(), 2);
}

#[test]
fn glare_and_sequencing_errors() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    assert_eq!(
        sess.on_answer(
            Leg::B,
            gw_answer(1, "sendrecv").as_bytes(),
            AnswerKind::Final,
            &mut pool,
            &mut r
        ),
        Err(MediaError::NoOfferPending)
    );
    sess.on_offer(Leg::A, teams_offer(1, "").as_bytes(), &mut pool, &mut r)
        .unwrap();
    let e = sess
        .on_offer(
            Leg::B,
            gw_offer(20000, "sendrecv", GW_IP).as_bytes(),
            &mut pool,
            &mut r,
        )
        .unwrap_err();
    assert_eq!((e.clone(), e.sip_status()), (MediaError::OfferPending, 491));
    // The answer must come from the other leg.
    assert_eq!(
        sess.on_answer(
            Leg::A,
            teams_answer(1, "AES_CM_128_HMAC_SHA1_80", 1, "").as_bytes(),
            AnswerKind::Final,
            &mut pool,
            &mut r
        ),
        Err(MediaError::NoOfferPending)
    );
    assert_eq!(pool.in_use(), 2);
}

#[test]
fn malformed_sdp_is_an_error_and_changes_nothing() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    for bad in [
        "".to_string(),
        "hello".to_string(),
        "v=0\r\ns=-\r\nt=0 0\r\n".to_string(),
        teams_offer(1, "").replace("m=audio 52884", "m=audio 99999"),
        // A non-zero port with no usable c=.
        teams_offer(1, "").replace(&format!("c=IN IP4 {MS_IP}\r\n"), ""),
        teams_offer(1, "").replace(&format!("c=IN IP4 {MS_IP}"), "c=IN IP4 media.example.com"),
    ] {
        let e = sess
            .on_offer(Leg::A, bad.as_bytes(), &mut pool, &mut r)
            .unwrap_err();
        assert_eq!(e.sip_status(), 488, "{e}");
        assert_eq!(pool.in_use(), 0);
        assert_eq!(sess.offer_pending(), None);
    }
}

#[test]
fn exhausted_pool_fails_the_offer_with_503_and_undoes_partial_leases() {
    let mut pool = PortPool::new(PortRange {
        min: 3000,
        max: 3001,
    })
    .unwrap();
    let (mut sess, mut r) = (teams_gw(), rng());
    let e = sess
        .on_offer(Leg::A, teams_offer(1, "").as_bytes(), &mut pool, &mut r)
        .unwrap_err();
    assert_eq!(e, MediaError::Pool(PoolError::Exhausted));
    assert_eq!(e.sip_status(), 503);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn release_is_idempotent_and_final() {
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    established_teams_to_gw(&mut sess, &mut pool, &mut r);
    sess.on_offer(Leg::A, teams_offer(2, "").as_bytes(), &mut pool, &mut r)
        .unwrap();
    sess.release(&mut pool);
    assert_eq!(pool.in_use(), 0);
    sess.release(&mut pool);
    assert_eq!(pool.in_use(), 0);
    assert_eq!(
        sess.on_offer(Leg::A, teams_offer(1, "").as_bytes(), &mut pool, &mut r),
        Err(MediaError::Released)
    );
    assert!(sess.relay_plan().streams.is_empty());
}

#[test]
fn many_calls_leave_no_port_behind() {
    let mut pool = PortPool::new(PortRange {
        min: 30000,
        max: 30015,
    })
    .unwrap();
    let mut r = rng();
    for i in 0..200u32 {
        let mut sess = teams_gw();
        match i % 4 {
            0 => {
                established_teams_to_gw(&mut sess, &mut pool, &mut r);
            }
            1 => {
                sess.on_offer(Leg::A, teams_offer(1, "").as_bytes(), &mut pool, &mut r)
                    .unwrap();
                sess.offer_failed(&mut pool);
            }
            2 => {
                gw_to_teams(&mut sess, &mut pool, &mut r);
            }
            _ => {
                let _ = sess.on_offer(Leg::A, b"v=0\r\n", &mut pool, &mut r);
            }
        }
        sess.release(&mut pool);
        assert_eq!(pool.in_use(), 0, "call {i}");
    }
}

#[test]
fn optional_and_off_srtp_policies() {
    let mut opt = MediaPolicy::gateway();
    opt.srtp = SrtpPolicy::Optional;
    // Optional toward B mirrors A's profile: SAVP from Teams stays SAVP.
    let (mut sess, mut pool, mut r) = (
        MediaSession::new(cfg(MediaPolicy::microsoft(), opt.clone())),
        new_pool(),
        rng(),
    );
    let out = sess
        .on_offer(Leg::A, teams_offer(1, "").as_bytes(), &mut pool, &mut r)
        .unwrap();
    assert!(m_line(&out, 0).contains("RTP/SAVP"));
    assert_eq!(count_prefix(&out, "a=crypto:1 AES_CM_128_HMAC_SHA1_80"), 1);
    // An Optional leg answering plain RTP is accepted.
    sess.on_answer(
        Leg::B,
        gw_answer(30000, "sendrecv").as_bytes(),
        AnswerKind::Final,
        &mut pool,
        &mut r,
    )
    .unwrap();
    assert!(sess.relay_plan().streams[0].b.srtp.is_none());
    // An Off leg offering SAVP is refused (no stream left → 488).
    let (mut sess, mut pool, mut r) = (
        MediaSession::new(cfg(MediaPolicy::microsoft(), MediaPolicy::gateway())),
        new_pool(),
        rng(),
    );
    let e = sess
        .on_offer(Leg::B, teams_offer(1, "").as_bytes(), &mut pool, &mut r)
        .unwrap_err();
    assert_eq!(e, MediaError::NoAcceptableMedia);
}

#[test]
fn pass_through_calls_forward_sdp_untouched() {
    let mut pt = MediaPolicy::gateway();
    pt.mode = MediaMode::PassThrough;
    let (mut sess, mut pool, mut r) = (MediaSession::new(cfg(pt.clone(), pt)), new_pool(), rng());
    assert!(!sess.is_anchored());
    let offer = gw_offer(20000, "sendrecv", GW_IP);
    assert_eq!(
        sess.on_offer(Leg::B, offer.as_bytes(), &mut pool, &mut r)
            .unwrap(),
        offer.as_bytes()
    );
    let ans = gw_answer(30000, "sendrecv");
    assert_eq!(
        sess.on_answer(Leg::A, ans.as_bytes(), AnswerKind::Final, &mut pool, &mut r)
            .unwrap(),
        ans.as_bytes()
    );
    assert_eq!(pool.in_use(), 0);
    assert!(sess.relay_plan().streams.is_empty());
    assert!(sess.on_offer(Leg::B, b"junk", &mut pool, &mut r).is_err());
    // Early answer, then an UPDATE offer in the early dialog, then its answer.
    sess.on_offer(Leg::B, offer.as_bytes(), &mut pool, &mut r)
        .unwrap();
    sess.on_answer(
        Leg::A,
        ans.as_bytes(),
        AnswerKind::Provisional,
        &mut pool,
        &mut r,
    )
    .unwrap();
    assert_eq!(sess.offer_pending(), Some(Leg::B));
    sess.on_offer(Leg::A, ans.as_bytes(), &mut pool, &mut r)
        .unwrap();
    assert_eq!(sess.offer_pending(), Some(Leg::A));
    assert_eq!(
        sess.confirm_early_answer(&mut pool),
        Err(MediaError::NoOfferPending)
    );
    sess.on_answer(
        Leg::B,
        offer.as_bytes(),
        AnswerKind::Final,
        &mut pool,
        &mut r,
    )
    .unwrap();
    assert_eq!(sess.offer_pending(), None);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn gateway_ice_is_stripped_even_when_unknown_attributes_pass() {
    // TI-37: ICE attributes never survive anchoring.
    let (mut sess, mut pool, mut r) = (
        MediaSession::new(cfg(MediaPolicy::gateway(), MediaPolicy::gateway())),
        new_pool(),
        rng(),
    );
    let offer = gw_offer(20000, "sendrecv", GW_IP).replace(
        "a=ptime:20\r\n",
        "a=ptime:20\r\na=ice-ufrag:abcd\r\na=candidate:1 1 UDP 1 192.0.2.10 20000 typ host\r\n",
    );
    let out = sess
        .on_offer(Leg::B, offer.as_bytes(), &mut pool, &mut r)
        .unwrap();
    assert_eq!(count_prefix(&out, "a=ice"), 0);
    assert_eq!(count_prefix(&out, "a=candidate"), 0);
    assert!(
        has(&out, "a=x-vendor:foo"),
        "gateway policy keeps unknown attributes"
    );
}

#[test]
fn ipv6_relay_address_and_rtcp_attribute_with_address() {
    let mut c = cfg(MediaPolicy::microsoft(), MediaPolicy::gateway());
    c.b.local_ip = "2001:db8::1".parse().unwrap();
    let (mut sess, mut pool, mut r) = (MediaSession::new(c), new_pool(), rng());
    let offer = teams_offer(1, "")
        .replace("a=rtcp-mux\r\n", "")
        .replace("a=rtcp:52885", "a=rtcp:53000 IN IP4 52.114.14.71");
    let out = sess
        .on_offer(Leg::A, offer.as_bytes(), &mut pool, &mut r)
        .unwrap();
    assert!(has(&out, "c=IN IP6 2001:db8::1"));
    assert!(lines(&out)[1].ends_with("IN IP6 2001:db8::1"));
    sess.on_answer(
        Leg::B,
        gw_answer(30000, "sendrecv").as_bytes(),
        AnswerKind::Final,
        &mut pool,
        &mut r,
    )
    .unwrap();
    let a = &sess.relay_plan().streams[0].a;
    assert!(!a.rtcp_mux);
    assert_eq!(a.remote_rtcp, Some("52.114.14.71:53000".parse().unwrap()));
    assert_eq!(a.local_rtcp, a.local_rtp + 1);
}

#[test]
fn dropping_a_stream_in_a_reoffer_returns_its_ports() {
    let (mut sess, mut pool, mut r) = (
        MediaSession::new(cfg(MediaPolicy::gateway(), MediaPolicy::gateway())),
        new_pool(),
        rng(),
    );
    let two = format!(
        "{}m=audio 20002 RTP/AVP 0\r\n",
        gw_offer(20000, "sendrecv", GW_IP)
    );
    sess.on_offer(Leg::B, two.as_bytes(), &mut pool, &mut r)
        .unwrap();
    let two_ans = format!(
        "{}m=audio 30002 RTP/AVP 0\r\n",
        gw_answer(30000, "sendrecv")
    );
    sess.on_answer(
        Leg::A,
        two_ans.as_bytes(),
        AnswerKind::Final,
        &mut pool,
        &mut r,
    )
    .unwrap();
    assert_eq!(pool.in_use(), 4);
    let one = format!(
        "{}m=audio 0 RTP/AVP 0\r\n",
        gw_offer(20000, "sendrecv", GW_IP)
    );
    let out = sess
        .on_offer(Leg::B, one.as_bytes(), &mut pool, &mut r)
        .unwrap();
    assert_eq!(m_port(&out, 1), 0);
    let one_ans = format!("{}m=audio 0 RTP/AVP 0\r\n", gw_answer(30000, "sendrecv"));
    sess.on_answer(
        Leg::A,
        one_ans.as_bytes(),
        AnswerKind::Final,
        &mut pool,
        &mut r,
    )
    .unwrap();
    assert_eq!(pool.in_use(), 2);
    assert_eq!(sess.relay_plan().streams.len(), 1);
}

#[test]
fn policy_config_is_strict() {
    let p: MediaPolicy =
        serde_json::from_str(r#"{"srtp":"required","rtcp_mux_offer":true}"#).unwrap();
    assert_eq!(p.srtp, SrtpPolicy::Required);
    assert_eq!(p.mode, MediaMode::Anchor);
    assert!(serde_json::from_str::<MediaPolicy>(r#"{"srtp":"maybe"}"#).is_err());
    assert!(serde_json::from_str::<MediaPolicy>(r#"{"srpt":"off"}"#).is_err());
    let r: PortRange = serde_json::from_str(r#"{"min":40000,"max":49999}"#).unwrap();
    assert_eq!(PortPool::new(r).unwrap().capacity(), 5000);
    assert!(serde_json::from_str::<PortRange>(r#"{"min":1,"max":2,"x":3}"#).is_err());
}

// ---------------------------------------------------------------- never panic

fn mutate(base: &[u8], edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
    let mut v = base.to_vec();
    for &(i, b) in edits {
        if !v.is_empty() {
            let n = v.len();
            v[i % n] = b;
        }
    }
    v.truncate(cut.min(v.len()));
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_or_leak(
        offer in proptest::collection::vec(any::<u8>(), 0..600),
        answer in proptest::collection::vec(any::<u8>(), 0..600),
        from_a in any::<bool>(),
    ) {
        let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
        let from = if from_a { Leg::A } else { Leg::B };
        if sess.on_offer(from, &offer, &mut pool, &mut r).is_ok() {
            let _ = sess.on_answer(from.other(), &answer, AnswerKind::Final, &mut pool, &mut r);
        }
        let _ = sess.relay_plan();
        sess.release(&mut pool);
        prop_assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn mutated_real_sdp_never_panics_and_output_reparses(
        oe in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        ae in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        ocut in any::<usize>(),
        acut in any::<usize>(),
        teams_first in any::<bool>(),
        provisional in any::<bool>(),
    ) {
        let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
        let (from, offer, answer) = if teams_first {
            (Leg::A, teams_offer(1, ""), gw_answer(30000, "sendrecv"))
        } else {
            (Leg::B, gw_offer(20000, "sendonly", GW_IP), teams_answer(1, "AES_CM_128_HMAC_SHA1_80", 3, ""))
        };
        let offer = mutate(offer.as_bytes(), &oe, ocut);
        let answer = mutate(answer.as_bytes(), &ae, acut);
        if let Ok(out) = sess.on_offer(from, &offer, &mut pool, &mut r) {
            prop_assert!(Sdp::parse(&out).is_ok());
            let kind = if provisional { AnswerKind::Provisional } else { AnswerKind::Final };
            match sess.on_answer(from.other(), &answer, kind, &mut pool, &mut r) {
                Ok(out) => prop_assert!(Sdp::parse(&out).is_ok()),
                Err(_) => sess.offer_failed(&mut pool),
            }
            let _ = sess.relay_plan();
        }
        sess.release(&mut pool);
        prop_assert_eq!(pool.in_use(), 0);
    }
}

#[test]
fn update_in_early_dialog_commits_the_reliable_183_answer() {
    // RFC 3262 §5, RFC 3311 §5.1: after a reliable 183 answer, an UPDATE may carry a new offer.
    let (mut sess, mut pool, mut r) = (teams_gw(), new_pool(), rng());
    sess.on_offer(Leg::A, teams_offer(1, "").as_bytes(), &mut pool, &mut r)
        .unwrap();
    sess.on_answer(
        Leg::B,
        gw_answer(30000, "sendrecv").as_bytes(),
        AnswerKind::Provisional,
        &mut pool,
        &mut r,
    )
    .unwrap();
    let to_a = sess
        .on_offer(
            Leg::B,
            gw_offer(30000, "sendrecv", GW_IP).as_bytes(),
            &mut pool,
            &mut r,
        )
        .unwrap();
    assert_eq!(sess.offer_pending(), Some(Leg::B));
    assert!(!sess.relay_plan().early, "the early answer is committed");
    assert_eq!(sess.relay_plan().streams.len(), 1);
    assert_eq!(pool.in_use(), 2, "the UPDATE reuses the committed ports");
    assert!(m_line(&to_a, 0).contains("RTP/SAVP"));
    // The 2xx to the INVITE then has nothing left to confirm.
    assert_eq!(
        sess.confirm_early_answer(&mut pool),
        Err(MediaError::NoOfferPending)
    );
}

#[test]
fn offer_mki_gives_microsoft_shaped_crypto_lines() {
    let mut ms = MediaPolicy::microsoft();
    ms.offer_mki = true;
    let (mut sess, mut pool, mut r) = (
        MediaSession::new(cfg(ms, MediaPolicy::gateway())),
        new_pool(),
        rng(),
    );
    let o1 = gw_to_teams(&mut sess, &mut pool, &mut r);
    let k = crypto_key(&o1, 0, 1);
    assert_eq!(
        k.mki,
        Some(MkiSpec {
            value: 1,
            length: 1
        })
    );
    assert_eq!(k.lifetime, Some(Lifetime::PowerOfTwo(31)));
    assert!(lines(&o1).iter().any(
        |l| l.starts_with("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:") && l.ends_with("|2^31|1:1")
    ));
    sess.on_answer(
        Leg::A,
        teams_answer(1, "AES_CM_128_HMAC_SHA1_80", 5, "").as_bytes(),
        AnswerKind::Final,
        &mut pool,
        &mut r,
    )
    .unwrap();
    // Re-offer keeps the same key (same shape).
    let o2 = gw_to_teams(&mut sess, &mut pool, &mut r);
    assert_eq!(crypto_key(&o2, 0, 1), k);
}

#[test]
fn sdp_limits_are_enforced_before_any_port_is_leased() {
    let mut c = cfg(MediaPolicy::microsoft(), MediaPolicy::gateway());
    c.sdp_limits.max_lines = 10;
    let (mut sess, mut pool, mut r) = (MediaSession::new(c), new_pool(), rng());
    let e = sess
        .on_offer(Leg::A, teams_offer(1, "").as_bytes(), &mut pool, &mut r)
        .unwrap_err();
    assert!(matches!(e, MediaError::Sdp(ref s) if s.kind == sbc_sdp::SdpErrorKind::TooManyLines));
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn srtp_on_both_legs_gets_independent_keys_per_leg() {
    // An SRTP gateway (required): the relay decrypts and re-encrypts, so each leg has its own
    // pair of keys and no key crosses from one leg to the other.
    let mut gw = MediaPolicy::gateway();
    gw.srtp = SrtpPolicy::Required;
    let (mut sess, mut pool, mut r) = (
        MediaSession::new(cfg(MediaPolicy::microsoft(), gw)),
        new_pool(),
        rng(),
    );
    let to_b = sess
        .on_offer(Leg::A, teams_offer(1, "").as_bytes(), &mut pool, &mut r)
        .unwrap();
    assert!(m_line(&to_b, 0).contains("RTP/SAVP"));
    let offered_b = crypto_key(&to_b, 0, 1);
    assert_ne!(
        offered_b.master,
        key_bytes(1),
        "Teams' key is not forwarded"
    );
    let ans = teams_answer(1, "AES_CM_128_HMAC_SHA1_80", 77, "").replace(MS_IP, GW_IP);
    sess.on_answer(Leg::B, ans.as_bytes(), AnswerKind::Final, &mut pool, &mut r)
        .unwrap();
    let st = &sess.relay_plan().streams[0];
    let (a, b) = (st.a.srtp.clone().unwrap(), st.b.srtp.clone().unwrap());
    assert_eq!(a.inbound.master, key_bytes(1));
    assert_eq!(b.inbound.master, key_bytes(77));
    assert_eq!(b.outbound, offered_b);
    let all = [&a.inbound, &a.outbound, &b.inbound, &b.outbound];
    for (i, x) in all.iter().enumerate() {
        for y in &all[i + 1..] {
            assert_ne!(x.master, y.master);
        }
    }
}
