// Shared by the example and the bench (included with `#[path]`): one Teams → gateway call's
// media negotiation on real-looking SDP.

use sbc_media::{
    AnswerKind, Leg, LegConfig, MediaPolicy, MediaSession, PortPool, PortRange, SessionConfig,
};

pub const TEAMS_OFFER: &[u8] = b"v=0\r\n\
o=- 0 0 IN IP4 52.114.14.70\r\n\
s=session\r\n\
c=IN IP4 52.114.14.70\r\n\
b=CT:10000000\r\n\
t=0 0\r\n\
m=audio 52884 RTP/SAVP 104 9 103 111 18 0 8 97 101 13 118\r\n\
c=IN IP4 52.114.14.70\r\n\
a=rtcp:52885\r\n\
a=ice-ufrag:lU7T\r\n\
a=ice-pwd:IhyzQ3L9eDCAxVMbwHrJ5wMx\r\n\
a=rtcp-mux\r\n\
a=candidate:1 1 UDP 2130706431 52.114.14.70 52884 typ host\r\n\
a=candidate:1 2 UDP 2130705918 52.114.14.70 52885 typ host\r\n\
a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM|2^31|1:1\r\n\
a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:ZWxzeoGIj5adpKuyucDHztXc4+rx+P8GDRQbIikw|2^31\r\n\
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
a=label:main-audio\r\n";

pub const GW_ANSWER: &[u8] = b"v=0\r\n\
o=GW 777 1 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 30000 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

pub fn config() -> SessionConfig {
    SessionConfig::new(
        LegConfig {
            policy: MediaPolicy::microsoft(),
            local_ip: [198, 51, 100, 1].into(),
        },
        LegConfig {
            policy: MediaPolicy::gateway(),
            local_ip: [10, 0, 0, 1].into(),
        },
    )
}

pub fn pool() -> PortPool {
    PortPool::new(PortRange {
        min: 40000,
        max: 49999,
    })
    .expect("valid range")
}

/// One call: Teams offer → gateway, gateway answer → Teams, relay plan, release.
/// Returns the bytes produced (so the work cannot be optimised away).
pub fn one_call(cfg: &SessionConfig, pool: &mut PortPool, seed: &mut u8) -> usize {
    let mut rng = |buf: &mut [u8]| {
        for b in buf {
            *seed = seed.wrapping_add(1);
            *b = *seed;
        }
    };
    let mut s = MediaSession::new(cfg.clone());
    let offer = s
        .on_offer(Leg::A, TEAMS_OFFER, pool, &mut rng)
        .expect("offer");
    let answer = s
        .on_answer(Leg::B, GW_ANSWER, AnswerKind::Final, pool, &mut rng)
        .expect("answer");
    let plan = s.relay_plan();
    s.release(pool);
    offer.len() + answer.len() + plan.streams.len()
}
