//! What the SBC answers itself, statelessly, before any call state exists (architecture
//! principle 2): requests that fail validation, and OPTIONS addressed to the SBC (TI-10:
//! "answer 200 OK with X-MS-SBC without creating any call state").

use sbc_sip::uri::Uri;
use sbc_sip::{check_request, validate, HeaderName, Method, RequestPolicy, Verdict};
use sbc_txn::{Endpoint, Incoming};

/// The Allow list the SBC advertises (TI-16).
pub const ALLOW: &[u8] =
    b"INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY, REFER, PRACK, UPDATE, INFO, MESSAGE";
/// The option tags the SBC supports.
pub const SUPPORTED: &[u8] = b"100rel, timer, replaces";

/// Per-shard settings for local answers.
#[derive(Debug, Clone)]
pub struct LocalPolicy {
    /// Request validation policy.
    pub requests: RequestPolicy,
    /// `vendor/product/version` for Server.
    pub product: Vec<u8>,
    /// `X-MS-SBC` value (TI-17): `teams.x_ms_sbc`, else the product.
    pub x_ms_sbc: Vec<u8>,
}

impl LocalPolicy {
    /// The policy `cfg` asks for.
    pub fn from_config(cfg: &sbc_config::Config) -> LocalPolicy {
        let product = cfg.node.product.as_str();
        LocalPolicy {
            requests: RequestPolicy::default(),
            product: product.as_bytes().to_vec(),
            x_ms_sbc: cfg
                .teams
                .as_ref()
                .map_or(product, |t| t.x_ms_sbc(cfg))
                .as_bytes()
                .to_vec(),
        }
    }
}

/// Validates a new request and answers what the SBC answers itself; returns the request
/// when it is for the call engine.
pub fn handle(ep: &mut Endpoint, incoming: Incoming, policy: &LocalPolicy) -> Option<Incoming> {
    let msg = incoming.message();
    match check_request(msg, &policy.requests) {
        Verdict::Accept => {}
        Verdict::Drop { why } => {
            tracing::debug!(why, "request dropped");
            ep.ignore(incoming);
            return None;
        }
        Verdict::Reject { status, why } => {
            tracing::debug!(status, why, "request rejected");
            let unsupported: Vec<u8> = if status == 420 {
                let mut v = Vec::new();
                for t in validate::unsupported_extensions(msg, &policy.requests) {
                    if !v.is_empty() {
                        v.extend_from_slice(b", ");
                    }
                    v.extend_from_slice(t);
                }
                v
            } else {
                Vec::new()
            };
            let mut headers: Vec<(&[u8], &[u8])> = vec![(b"Server", &policy.product)];
            match status {
                405 => headers.push((b"Allow", ALLOW)),
                420 => headers.push((b"Unsupported", &unsupported)),
                406 => headers.push((b"Accept", b"application/sdp")),
                415 => headers.push((b"Accept", b"application/sdp, multipart/mixed")),
                _ => {}
            }
            ep.reject_with(incoming, status, None, &headers);
            return None;
        }
    }
    if msg.method() == Some(Method::Options) && is_for_us(msg) {
        let headers: [(&[u8], &[u8]); 5] = [
            (b"Allow", ALLOW),
            (b"Accept", b"application/sdp"),
            (b"Supported", SUPPORTED),
            (b"X-MS-SBC", &policy.x_ms_sbc),
            (b"Server", &policy.product),
        ];
        ep.reject_with(incoming, 200, None, &headers);
        return None;
    }
    Some(incoming)
}

/// An OPTIONS is for the SBC itself when it is out of dialog and its Request-URI has no user
/// part (the keep-alive form Microsoft uses, TI-9/TI-10).
fn is_for_us(msg: &sbc_sip::Message) -> bool {
    msg.to_tag().is_none()
        && match msg.request_uri() {
            Some(Uri::Sip(u)) => u.user.is_none(),
            _ => false,
        }
        && msg.header(HeaderName::Route).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sbc_txn::{Dispatch, Instant, Peer, Transport};

    const CONFIG: &str = r#"
version = 1
[[listener]]
name = "udp"
zone = "teams"
transport = "udp"
bind = "127.0.0.1:5060"
[[tls]]
name = "t"
cert_chain = "c.pem"
key = "k.pem"
trust_bundle = "ca.pem"
[teams]
base_fqdn = "sbc.carrier.example"
tls = "t"
x_ms_sbc = "Carrier/SBC/2.1"
"#;

    /// TI-10: Microsoft's keep-alive OPTIONS gets 200 with the configured X-MS-SBC (TI-17),
    /// and no transaction or call state.
    #[test]
    fn microsoft_options_get_200_with_x_ms_sbc_and_no_state() {
        let cfg = sbc_config::Config::parse(CONFIG, "t.toml").expect("config");
        let policy = LocalPolicy::from_config(&cfg);
        assert_eq!(policy.x_ms_sbc, b"Carrier/SBC/2.1");
        assert_eq!(policy.product, cfg.node.product.as_bytes());
        let mut ep = Endpoint::new(sbc_txn::Config::default()).unwrap();
        let req = sbc_sip::Message::parse(
            &b"OPTIONS sip:sbc.carrier.example:5061;transport=tls SIP/2.0\r\n\
               Via: SIP/2.0/TLS 52.114.1.1:5061;branch=z9hG4bKms1\r\nMax-Forwards: 70\r\n\
               From: <sip:sip.pstnhub.microsoft.com>;tag=ms\r\n\
               To: <sip:sbc.carrier.example>\r\nCall-ID: ms-1\r\nCSeq: 1 OPTIONS\r\n\
               Content-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        let from = Peer::new(Transport::Tls, "52.114.1.1:5061".parse().unwrap());
        let Dispatch::Incoming(inc) = ep.handle_message(Instant::ZERO, req, from) else {
            panic!("a new request");
        };
        assert!(handle(&mut ep, inc, &policy).is_none(), "answered locally");
        let t = ep.poll_transmit().expect("the 200");
        let text = std::str::from_utf8(&t.bytes).unwrap();
        assert!(text.starts_with("SIP/2.0 200 "), "{text}");
        assert!(text.contains("\r\nX-MS-SBC: Carrier/SBC/2.1\r\n"), "{text}");
        assert!(ep.is_empty(), "stateless");
    }
}
