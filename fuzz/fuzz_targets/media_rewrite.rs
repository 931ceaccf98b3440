//! `MediaSession` (sbc-media) on arbitrary offer/answer bodies: never panics, every SDP it
//! returns parses and keeps the offer's m= line count (RFC 3264 §6/§8: streams match by
//! index), every port it reports is leased, and release returns every port.
//!
//! Input layout: `[flags] [offer_len_hi] [offer_len_lo] offer answer`. Flags: bit 0 offer
//! from leg B (else A), bit 1 provisional answer, bit 2 leg A is a gateway (else Microsoft),
//! bit 3 leg B is SRTP-optional with rtcp-mux and SHA1_32 offers (else a plain gateway).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sbc_media::{
    AnswerKind, Leg, LegConfig, MediaPolicy, MediaSession, PortPool, PortRange, SessionConfig,
    SrtpPolicy,
};
use sbc_sdp::Sdp;

fuzz_target!(|data: &[u8]| {
    let [flags, hi, lo, rest @ ..] = data else {
        return;
    };
    let split = (usize::from(*hi) << 8 | usize::from(*lo)).min(rest.len());
    let (offer, answer) = rest.split_at(split);
    let a = if flags & 4 != 0 {
        MediaPolicy::gateway()
    } else {
        MediaPolicy::microsoft()
    };
    let mut b = MediaPolicy::gateway();
    if flags & 8 != 0 {
        b.srtp = SrtpPolicy::Optional;
        b.rtcp_mux_offer = true;
        b.offer_sha1_32 = true;
    }
    let cfg = SessionConfig::new(
        LegConfig {
            policy: a,
            local_ip: [198, 51, 100, 1].into(),
        },
        LegConfig {
            policy: b,
            local_ip: "2001:db8::1".parse().unwrap(),
        },
    );
    let mut pool = PortPool::new(PortRange {
        min: 40000,
        max: 40063,
    })
    .unwrap();
    let mut n = 0u8;
    let mut rng = |buf: &mut [u8]| {
        for x in buf {
            n = n.wrapping_add(1);
            *x = n;
        }
    };
    let mut s = MediaSession::new(cfg);
    let from = if flags & 1 != 0 { Leg::B } else { Leg::A };
    if let Ok(out) = s.on_offer(from, offer, &mut pool, &mut rng) {
        let m_in = Sdp::parse(offer).expect("accepted offer parses").media_count();
        let out = Sdp::parse(&out).expect("rewritten offer parses");
        assert_eq!(out.media_count(), m_in);
        let kind = if flags & 2 != 0 {
            AnswerKind::Provisional
        } else {
            AnswerKind::Final
        };
        match s.on_answer(from.other(), answer, kind, &mut pool, &mut rng) {
            Ok(ans) => {
                let ans = Sdp::parse(&ans).expect("rewritten answer parses");
                assert_eq!(ans.media_count(), m_in);
            }
            Err(e) => {
                std::hint::black_box(e.to_string());
                s.offer_failed(&mut pool);
            }
        }
        for p in s.leased_ports() {
            assert!(pool.is_leased(p));
        }
        std::hint::black_box(s.relay_plan());
    }
    s.release(&mut pool);
    assert_eq!(pool.in_use(), 0);
});
