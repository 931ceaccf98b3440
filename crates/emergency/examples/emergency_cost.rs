//! Runs one emergency-path operation N times on an RFC 6442 §5-style INVITE, for instruction
//! counts under callgrind (wall-clock is meaningless on the shared build machine):
//!
//! ```text
//! cargo build --release -p sbc-emergency --example emergency_cost
//! valgrind --tool=callgrind target/release/examples/emergency_cost <op> 1000
//! ```
//!
//! `op` is `none` (setup only), `classify`, `location`, `replace` or `elin`. Divide the
//! difference to `none` by N.

use std::hint::black_box;

use sbc_emergency::{extract_location, replace_sdp, ElinStore, EmergencyConfig, EmergencyPolicy};
use sbc_sip::{HeaderName, Message};

const SDP: &str = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\ns=-\r\nc=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
const PIDF: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" xmlns:gp=\"urn:ietf:params:xml:ns:pidf:geopriv10\" xmlns:ca=\"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr\" entity=\"pres:alice@atlanta.example.com\">\r\n<tuple id=\"t1\"><status><gp:geopriv><gp:location-info><ca:civicAddress><ca:country>US</ca:country><ca:A1>GA</ca:A1><ca:A3>Atlanta</ca:A3><ca:RD>Peachtree</ca:RD><ca:HNO>1</ca:HNO><ca:LOC>Floor 2</ca:LOC></ca:civicAddress></gp:location-info><gp:usage-rules/><gp:method>LIS</gp:method></gp:geopriv></status></tuple>\r\n</presence>\r\n";
const CFG: &str = "[[tenants]]\nid = \"t\"\n[tenants.elin]\ndefault_elins = [\"+14045550100\"]\n[[tenants.elin.locations]]\nkey = \"Floor 2\"\nelins = [\"+14045550101\", \"+14045550102\"]\n";

fn main() {
    let mut args = std::env::args().skip(1);
    let op = args.next().unwrap_or_else(|| "none".into());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);

    let body = format!(
        "--boundary1\r\nContent-Type: application/sdp\r\n\r\n{SDP}\r\n--boundary1\r\nContent-Type: application/pidf+xml\r\nContent-ID: <target123@atlanta.example.com>\r\n\r\n{PIDF}\r\n--boundary1--\r\n"
    );
    let msg = format!(
        "INVITE sip:911@sbc.example.com;user=phone SIP/2.0\r\nVia: SIP/2.0/TLS 52.114.1.1;branch=z9hG4bK74bf9\r\nMax-Forwards: 70\r\nTo: <sip:911@sbc.example.com;user=phone>\r\nFrom: <sip:+14045550123@sbc.example.com>;tag=9fxced76sl\r\nCall-ID: 3848276298220188511@atlanta.example.com\r\nCSeq: 31862 INVITE\r\nGeolocation: <cid:target123@atlanta.example.com>\r\nGeolocation-Routing: no\r\nContent-Type: multipart/mixed; boundary=boundary1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let msg = Message::parse(msg.into_bytes()).expect("parses");
    let cfg: EmergencyConfig = toml::from_str(CFG).expect("config");
    let policy = EmergencyPolicy::new(&cfg).expect("policy");
    let ruri = msg.request_uri().expect("request");
    let ct = msg.get(HeaderName::ContentType).expect("content type");
    let opts = policy.location_options("t");
    let info = extract_location(&msg, &opts);
    let new_sdp = b"v=0\r\no=sbc 1 2 IN IP4 203.0.113.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";
    let mut store = ElinStore::new(policy.callback_config());

    for i in 0..n {
        match op.as_str() {
            "classify" => {
                black_box(policy.classify(black_box("t"), &ruri, None));
            }
            "location" => {
                black_box(extract_location(black_box(&msg), &opts));
            }
            "replace" => {
                black_box(
                    replace_sdp(ct, black_box(msg.body()), new_sdp)
                        .map(|v| v.len())
                        .ok(),
                );
            }
            "elin" => {
                black_box(store.on_emergency_call(
                    policy.elin(),
                    "t",
                    "+14045550123",
                    Some(&info),
                    i,
                ));
            }
            _ => {}
        }
    }
}
