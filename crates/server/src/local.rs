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
    /// `vendor/product/version` for X-MS-SBC (TI-17) and Server.
    pub product: Vec<u8>,
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
            (b"X-MS-SBC", &policy.product),
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
