//! Builders for what the SBC originates: responses to a request (RFC 3261 §8.2.6), CANCEL
//! (§9.1), the ACK for a non-2xx final response (§17.1.1.3), and new requests. Everything is
//! written into a caller-supplied `Vec<u8>` (reused by the shard); headers copied from the
//! request are copied as the bytes they were received with.

use crate::edit::fmt_u64;
use std::net::SocketAddr;

use crate::message::{Message, Span};
use crate::name::HeaderName;
use crate::via::Via;

/// Writes a message header by header into a buffer. `finish` adds Content-Length and the
/// body, so a built message always carries a correct Content-Length (mandatory on streams,
/// RFC 3261 §20.14).
#[derive(Debug)]
pub struct MessageWriter<'o> {
    out: &'o mut Vec<u8>,
}

impl<'o> MessageWriter<'o> {
    /// Starts a request: `METHOD SP uri SP SIP/2.0`.
    pub fn request(out: &'o mut Vec<u8>, method: &[u8], uri: &[u8]) -> Self {
        out.extend_from_slice(method);
        out.push(b' ');
        out.extend_from_slice(uri);
        out.extend_from_slice(b" SIP/2.0\r\n");
        MessageWriter { out }
    }

    /// Starts a response: `SIP/2.0 SP code SP reason`.
    pub fn response(out: &'o mut Vec<u8>, status: u16, reason: &[u8]) -> Self {
        out.extend_from_slice(b"SIP/2.0 ");
        let mut b = [0u8; 20];
        out.extend_from_slice(fmt_u64(u64::from(status), &mut b));
        out.push(b' ');
        out.extend_from_slice(reason);
        out.extend_from_slice(b"\r\n");
        MessageWriter { out }
    }

    /// Adds `name: value`.
    pub fn header(&mut self, name: &[u8], value: &[u8]) -> &mut Self {
        self.header_parts(name, &[value])
    }

    /// Adds `name: ` followed by the concatenated parts.
    pub fn header_parts(&mut self, name: &[u8], parts: &[&[u8]]) -> &mut Self {
        self.out.extend_from_slice(name);
        self.out.extend_from_slice(b": ");
        for p in parts {
            self.out.extend_from_slice(p);
        }
        self.out.extend_from_slice(b"\r\n");
        self
    }

    /// Adds a header with a decimal value.
    pub fn header_u64(&mut self, name: &[u8], v: u64) -> &mut Self {
        let mut b = [0u8; 20];
        let text = fmt_u64(v, &mut b);
        self.header_parts(name, &[text])
    }

    /// Copies a received header line as-is (name as written, folding kept).
    pub fn raw_line(&mut self, msg: &Message, h: &crate::message::Header) -> &mut Self {
        self.out.extend_from_slice(&msg.as_bytes()[h.line.range()]);
        self
    }

    /// Copies every line of a header from `msg`, in order.
    pub fn copy_all(&mut self, msg: &Message, name: HeaderName) -> &mut Self {
        for h in msg.headers().iter().filter(|h| h.name == name) {
            self.out.extend_from_slice(&msg.as_bytes()[h.line.range()]);
        }
        self
    }

    /// Ends the header section with Content-Length (and Content-Type when a body is given)
    /// and appends the body.
    pub fn finish(self, content_type: Option<&[u8]>, body: &[u8]) {
        let mut w = self;
        if let Some(ct) = content_type {
            w.header(b"Content-Type", ct);
        }
        w.header_u64(b"Content-Length", body.len() as u64);
        w.out.extend_from_slice(b"\r\n");
        w.out.extend_from_slice(body);
    }
}

/// Starts a response to `req` (RFC 3261 §8.2.6.2): copies every Via (in order), From,
/// Call-ID, CSeq and To; adds `;tag=<to_tag>` to To when the request had no To tag and the
/// status is not 100; copies Timestamp into a 100 (§8.2.6.1). The caller adds more headers
/// and calls [`MessageWriter::finish`].
pub fn response<'o>(
    req: &Message,
    status: u16,
    reason: Option<&[u8]>,
    to_tag: Option<&[u8]>,
    out: &'o mut Vec<u8>,
) -> MessageWriter<'o> {
    response_from(req, None, status, reason, to_tag, out)
}

/// [`response`] for a request received from `source`: the top Via is stamped as RFC 3261
/// §18.2.1 and RFC 3581 §4 require — `received=<source IP>` when sent-by is not that
/// address (always when `rport` is present), and `rport=<source port>` when the request
/// asked for it — so the response records where it was really sent.
pub fn response_from<'o>(
    req: &Message,
    source: Option<SocketAddr>,
    status: u16,
    reason: Option<&[u8]>,
    to_tag: Option<&[u8]>,
    out: &'o mut Vec<u8>,
) -> MessageWriter<'o> {
    let reason = reason.unwrap_or_else(|| reason_phrase(status).as_bytes());
    let mut w = MessageWriter::response(out, status, reason);
    match (source, req.top_via_span()) {
        (Some(src), Some(top)) => copy_vias_stamped(&mut w, req, top, src),
        _ => {
            w.copy_all(req, HeaderName::Via);
        }
    }
    if let Some(h) = req.header(HeaderName::From) {
        w.raw_line(req, h);
    }
    if let Some(h) = req.header(HeaderName::To) {
        match to_tag {
            Some(tag) if status != 100 && req.to_tag().is_none() => {
                w.header_parts(b"To", &[req.value(h), b";tag=", tag]);
            }
            _ => {
                w.raw_line(req, h);
            }
        }
    }
    if let Some(h) = req.header(HeaderName::CallId) {
        w.raw_line(req, h);
    }
    if let Some(h) = req.header(HeaderName::CSeq) {
        w.raw_line(req, h);
    }
    if status == 100 {
        w.copy_all(req, HeaderName::Timestamp);
    }
    w
}

/// Builds the CANCEL for a pending INVITE (RFC 3261 §9.1): same Request-URI, Call-ID, To,
/// From, CSeq number (method CANCEL), one Via equal to the INVITE's top Via, and the
/// INVITE's Route headers.
pub fn cancel(invite: &Message, out: &mut Vec<u8>) {
    let uri = invite.request_uri_raw().unwrap_or(b"");
    let mut w = MessageWriter::request(out, b"CANCEL", uri);
    if let Some(v) = invite.top_via_raw() {
        w.header(b"Via", v);
    }
    w.copy_all(invite, HeaderName::Route);
    copy_dialog_ids(&mut w, invite, invite);
    cseq_line(&mut w, invite, b"CANCEL");
    w.header(b"Max-Forwards", b"70");
    w.finish(None, b"");
}

/// Builds the ACK for a non-2xx final response to `invite` (RFC 3261 §17.1.1.3): the
/// INVITE's Request-URI, top Via, From, Call-ID and Route headers, the response's To (with
/// its tag), CSeq number with method ACK.
pub fn ack_non2xx(invite: &Message, response: &Message, out: &mut Vec<u8>) {
    let uri = invite.request_uri_raw().unwrap_or(b"");
    let mut w = MessageWriter::request(out, b"ACK", uri);
    if let Some(v) = invite.top_via_raw() {
        w.header(b"Via", v);
    }
    w.copy_all(invite, HeaderName::Route);
    copy_dialog_ids(&mut w, invite, response);
    cseq_line(&mut w, invite, b"ACK");
    w.header(b"Max-Forwards", b"70");
    w.finish(None, b"");
}

fn copy_dialog_ids(w: &mut MessageWriter<'_>, req: &Message, to_from: &Message) {
    if let Some(f) = req.from_raw() {
        w.header(b"From", f);
    }
    if let Some(t) = to_from.to_raw() {
        w.header(b"To", t);
    }
    if let Some(c) = req.call_id() {
        w.header(b"Call-ID", c);
    }
}

fn cseq_line(w: &mut MessageWriter<'_>, req: &Message, method: &[u8]) {
    let mut b = [0u8; 20];
    let seq = fmt_u64(u64::from(req.cseq().map_or(0, |c| c.seq)), &mut b);
    w.header_parts(b"CSeq", &[seq, b" ", method]);
}

/// The RFC 3261 §21 (and extension RFCs') reason phrase for a status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        199 => "Early Dialog Terminated",
        200 => "OK",
        202 => "Accepted",
        204 => "No Notification",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        412 => "Conditional Request Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        417 => "Unknown Resource-Priority",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        423 => "Interval Too Brief",
        424 => "Bad Location Information",
        428 => "Use Identity Header",
        429 => "Provide Referrer Identity",
        433 => "Anonymity Disallowed",
        436 => "Bad Identity-Info",
        437 => "Unsupported Certificate",
        438 => "Invalid Identity Header",
        439 => "First Hop Lacks Outbound Support",
        440 => "Max-Breadth Exceeded",
        469 => "Bad Info Package",
        470 => "Consent Needed",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        493 => "Undecipherable",
        494 => "Security Agreement Required",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        555 => "Push Notification Service Not Supported",
        580 => "Precondition Failure",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        607 => "Unwanted",
        608 => "Rejected",
        s if s < 200 => "Session Progress",
        s if s < 300 => "OK",
        s if s < 400 => "Redirection",
        s if s < 500 => "Client Error",
        s if s < 600 => "Server Error",
        _ => "Global Failure",
    }
}

/// Copies every Via line, rewriting the top Via element with `received`/`rport` stamps.
fn copy_vias_stamped(w: &mut MessageWriter<'_>, req: &Message, top: Span, src: SocketAddr) {
    let bytes = req.as_bytes();
    for h in req.headers().iter().filter(|h| h.name == HeaderName::Via) {
        let line = h.line.range();
        if !(h.value.start <= top.start && top.end <= h.value.end) {
            w.out.extend_from_slice(&bytes[line]);
            continue;
        }
        w.out
            .extend_from_slice(&bytes[line.start..top.start as usize]);
        stamp_via(req.slice(top), src, w.out);
        w.out.extend_from_slice(&bytes[top.end as usize..line.end]);
    }
}

/// Writes one Via element with `received` and `rport` set for a request from `src`
/// (RFC 3261 §18.2.1, RFC 3581 §4). Existing `received`/`rport` parameters are replaced.
pub fn stamp_via(via: &[u8], src: SocketAddr, out: &mut Vec<u8>) {
    let Ok(v) = Via::parse(via) else {
        out.extend_from_slice(via);
        return;
    };
    let ip = src.ip().to_canonical();
    let wants_rport = v.rport().is_some();
    let host = v
        .host
        .strip_prefix(b"[")
        .and_then(|h| h.strip_suffix(b"]"))
        .unwrap_or(v.host);
    let sent_by_is_src = core::str::from_utf8(host)
        .ok()
        .and_then(|h| h.parse::<std::net::IpAddr>().ok())
        .is_some_and(|h| h.to_canonical() == ip);
    // Everything before the parameters, then the parameters minus received/rport.
    let params_at = via.len() - v.params.raw().len();
    out.extend_from_slice(&via[..params_at]);
    for (name, value) in v.params.iter() {
        if name.eq_ignore_ascii_case(b"received") || name.eq_ignore_ascii_case(b"rport") {
            continue;
        }
        out.push(b';');
        out.extend_from_slice(name);
        if let Some(val) = value {
            out.push(b'=');
            out.extend_from_slice(val);
        }
    }
    if !sent_by_is_src || wants_rport {
        out.extend_from_slice(b";received=");
        out.extend_from_slice(ip.to_string().as_bytes());
    }
    if wants_rport {
        let mut b = [0u8; 20];
        out.extend_from_slice(b";rport=");
        out.extend_from_slice(fmt_u64(u64::from(src.port()), &mut b));
    }
}
