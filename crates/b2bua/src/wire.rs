//! Wire helpers: header copy policy, name-addr surgery, route sets, next hops, and the
//! builder of in-dialog requests (RFC 3261 §12.2.1.1).

use bytes::Bytes;
use sbc_sip::addr::{parse_name_addr, ContactHdr, RouteHdr};
use sbc_sip::build::MessageWriter;
use sbc_sip::hdr::{Reason, Require, Supported};
use sbc_sip::uri::{parse_uri, Host, Uri};
use sbc_sip::{Header, HeaderName, Message, TypedHeader};
use sbc_txn::{Peer, Transport};

use crate::config::HeaderPolicy;

/// The compiled copy policy: known names in a small sorted list, extra names lower-cased.
#[derive(Debug, Clone)]
pub(crate) struct HeaderFilter {
    known: Vec<HeaderName>,
    extra: Vec<Vec<u8>>,
    remove_known: Vec<HeaderName>,
    remove_extra: Vec<Vec<u8>>,
    /// History-Info becomes Diversion on this leg (TI-28).
    history_to_diversion: bool,
    /// Q.850 cause 34 becomes 17 in Reason headers on this leg (TI-22).
    q850_34_as_17: bool,
}

impl HeaderFilter {
    pub(crate) fn new(p: &HeaderPolicy, leg: &crate::LegPolicy) -> HeaderFilter {
        let mut f = HeaderFilter {
            known: p.copy.clone(),
            extra: Vec::new(),
            remove_known: Vec::new(),
            remove_extra: Vec::new(),
            history_to_diversion: leg.history_to_diversion,
            q850_34_as_17: leg.q850_34_as_17,
        };
        for n in &p.copy_extra {
            match HeaderName::from_bytes(n.as_bytes()) {
                HeaderName::Other => f.extra.push(n.to_ascii_lowercase().into_bytes()),
                k => f.known.push(k),
            }
        }
        for n in &p.remove {
            match HeaderName::from_bytes(n.as_bytes()) {
                HeaderName::Other => f.remove_extra.push(n.to_ascii_lowercase().into_bytes()),
                k => f.remove_known.push(k),
            }
        }
        f
    }

    fn matches(known: &[HeaderName], extra: &[Vec<u8>], msg: &Message, h: &Header) -> bool {
        if h.name == HeaderName::Other {
            let raw = msg.raw_name(h);
            extra.iter().any(|e| raw.eq_ignore_ascii_case(e))
        } else {
            known.contains(&h.name)
        }
    }

    /// True when this header line crosses to the other leg.
    pub(crate) fn copies(&self, msg: &Message, h: &Header) -> bool {
        Self::matches(&self.known, &self.extra, msg, h)
            && !Self::matches(&self.remove_known, &self.remove_extra, msg, h)
    }

    /// Copies every allowed header line of `msg` as received (byte for byte, principle 6),
    /// plus the lines named in `also`. Content-Type and Content-Length are never copied here
    /// (the writer's `finish` emits them for the body actually sent); Content-Disposition
    /// only when a body is sent.
    pub(crate) fn copy(
        &self,
        w: &mut MessageWriter<'_>,
        msg: &Message,
        also: &[HeaderName],
        has_body: bool,
    ) {
        for h in msg.headers() {
            match h.name {
                HeaderName::ContentType | HeaderName::ContentLength => continue,
                HeaderName::ContentDisposition if !has_body => continue,
                _ => {}
            }
            let removed = Self::matches(&self.remove_known, &self.remove_extra, msg, h);
            if removed || !(also.contains(&h.name) || self.copies(msg, h)) {
                continue;
            }
            match h.name {
                HeaderName::HistoryInfo if self.history_to_diversion => {}
                HeaderName::Reason if self.q850_34_as_17 => match busy_as_17(msg.slice(h.value)) {
                    Some(nv) => {
                        w.header(b"Reason", &nv);
                    }
                    None => {
                        w.raw_line(msg, h);
                    }
                },
                _ => {
                    w.raw_line(msg, h);
                }
            }
        }
        if self.history_to_diversion && msg.get(HeaderName::Diversion).is_none() {
            for d in diversion_from_history(msg) {
                w.header(b"Diversion", &d);
            }
        }
    }

    /// Like [`HeaderFilter::copy`] for extension headers named in `also_raw`.
    pub(crate) fn copy_raw(&self, w: &mut MessageWriter<'_>, msg: &Message, also_raw: &[&[u8]]) {
        for h in msg.headers().iter().filter(|h| h.name == HeaderName::Other) {
            let raw = msg.raw_name(h);
            if also_raw.iter().any(|n| raw.eq_ignore_ascii_case(n))
                && !Self::matches(&self.remove_known, &self.remove_extra, msg, h)
                && !self.copies(msg, h)
            {
                w.raw_line(msg, h);
            }
        }
    }
}

/// `Q.850;cause=34` (no circuit available) as `Q.850;cause=17` (user busy), the rest of
/// the value unchanged (TI-22: "busy" toward the PSTN). `None` when there is nothing to map.
fn busy_as_17(v: &[u8]) -> Option<Vec<u8>> {
    let lower = v.to_ascii_lowercase();
    if !lower.starts_with(b"q.850") {
        return None;
    }
    let at = lower.windows(8).position(|w| w == b"cause=34")?;
    // Exactly 34, not 340.
    if lower.get(at + 8).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let mut out = v[..at].to_vec();
    out.extend_from_slice(b"cause=17");
    out.extend_from_slice(&v[at + 8..]);
    Some(out)
}

/// Diversion values (RFC 5806) for the History-Info of `msg` (RFC 7044; mapping after
/// RFC 6044 §9): every entry whose URI carries a `cause` (RFC 4458) was retargeted away from
/// the entry before it, which is the diverting party. Most recent diversion first, as
/// Diversion lists them.
fn diversion_from_history(msg: &Message) -> Vec<Vec<u8>> {
    use sbc_sip::addr::HistoryInfoHdr;
    use sbc_sip::TypedHeader;
    let entries: Vec<HistoryInfoHdr<'_>> = msg
        .values(HeaderName::HistoryInfo)
        .filter_map(|(_, v)| HistoryInfoHdr::parse(v).ok())
        .collect();
    let mut out = Vec::new();
    for pair in entries.windows(2) {
        let (from, to) = (&pair[0], &pair[1]);
        let Some(to_sip) = to.uri.as_sip() else {
            continue;
        };
        let Some(Some(cause)) = to_sip.param("cause") else {
            continue;
        };
        let reason: &[u8] = match cause {
            b"302" => b"unconditional",
            b"486" => b"user-busy",
            b"408" => b"no-answer",
            b"480" => b"unavailable",
            b"487" => b"deflection",
            b"503" => b"out-of-service",
            b"404" => b"unknown",
            _ => b"unknown",
        };
        let uri = match from.uri.as_sip() {
            Some(u) => u.without_headers(),
            None => from.uri.raw(),
        };
        let mut d = Vec::with_capacity(uri.len() + 32);
        d.push(b'<');
        d.extend_from_slice(uri);
        d.extend_from_slice(b">;reason=");
        d.extend_from_slice(reason);
        d.extend_from_slice(b";counter=1");
        out.push(d);
    }
    out.reverse();
    out
}

/// A From/To value without its `tag` parameter, always in name-addr form (`[display]
/// <uri>;params`), so URI parameters and header parameters can never be confused.
pub(crate) fn strip_tag(value: &[u8]) -> Vec<u8> {
    let Ok(na) = parse_name_addr(value) else {
        return value.to_vec();
    };
    let mut out = Vec::with_capacity(value.len());
    if let Some(d) = na.display {
        out.extend_from_slice(d);
        out.push(b' ');
    }
    out.push(b'<');
    out.extend_from_slice(na.uri.raw());
    out.push(b'>');
    for (n, v) in na.params.iter() {
        if n.eq_ignore_ascii_case(b"tag") {
            continue;
        }
        out.push(b';');
        out.extend_from_slice(n);
        if let Some(v) = v {
            out.push(b'=');
            out.extend_from_slice(v);
        }
    }
    out
}

/// The user part of a From/To value's URI (the number of a tel: URI).
pub(crate) fn user_part(value: Option<&[u8]>) -> Vec<u8> {
    let Some(na) = value.and_then(|v| parse_name_addr(v).ok()) else {
        return Vec::new();
    };
    match na.uri {
        Uri::Sip(u) => u.user.unwrap_or_default().to_vec(),
        Uri::Tel(t) => t.number.to_vec(),
        Uri::Absolute(_) => Vec::new(),
    }
}

/// A telephone number for logs at info level (issue 4: numbers redacted): short codes (six
/// characters or fewer: service and emergency numbers) as they are, longer numbers with only
/// their first three and last two characters, so routing can still be followed.
pub struct Redacted<'a>(pub &'a [u8]);

impl core::fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let n = self.0.len();
        for (i, &b) in self.0.iter().enumerate() {
            let shown = n <= 6 || i < 3 || i + 2 >= n;
            let c = if shown && b.is_ascii_graphic() {
                b as char
            } else {
                '*'
            };
            core::fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

/// The URI of the first Contact, as a slice of the message's buffer.
pub(crate) fn contact_uri(msg: &Message) -> Option<Bytes> {
    let (_, v) = msg.values(HeaderName::Contact).next()?;
    let c = ContactHdr::parse(v).ok()?;
    let raw = c.addr()?.uri.raw();
    let span = msg.span_of(raw)?;
    Some(msg.bytes().slice(span.range()))
}

/// Every Record-Route element, in message order, as slices of the message's buffer.
pub(crate) fn record_route(msg: &Message) -> Vec<Bytes> {
    msg.values(HeaderName::RecordRoute)
        .map(|(off, v)| msg.bytes().slice(off..off + v.len()))
        .collect()
}

/// True when a list header (Require, Supported) carries this option tag.
pub(crate) fn has_option(msg: &Message, name: HeaderName, tag: &str) -> bool {
    match name {
        HeaderName::Require => msg
            .typed_all::<Require<'_>>()
            .any(|r| r.is_ok_and(|t| t.is(tag))),
        HeaderName::Supported => msg
            .typed_all::<Supported<'_>>()
            .any(|r| r.is_ok_and(|t| t.is(tag))),
        _ => msg
            .values(name)
            .any(|(_, v)| v.eq_ignore_ascii_case(tag.as_bytes())),
    }
}

/// True when the Allow header lists this method.
pub(crate) fn allows(msg: &Message, method: &str) -> bool {
    msg.values(HeaderName::Allow)
        .any(|(_, v)| v.eq_ignore_ascii_case(method.as_bytes()))
}

/// The first Q.850 cause of a Reason header (RFC 3326).
pub(crate) fn q850(msg: &Message) -> Option<u16> {
    msg.typed_all::<Reason<'_>>()
        .filter_map(Result::ok)
        .find(|r| r.is_q850())
        .and_then(|r| r.cause())
}

/// An IP-literal URI as a socket address (`None` for host names: those need DNS, which the
/// engine does not do).
fn literal_peer(uri: &[u8], fallback: Peer) -> Option<Peer> {
    let Ok(Uri::Sip(u)) = parse_uri(uri) else {
        return None;
    };
    let ip: std::net::IpAddr = match u.host {
        Host::V4(a) => a.into(),
        Host::V6(a) => a.into(),
        Host::Domain(_) => return None,
    };
    let transport = match u.transport() {
        Some(t) => Transport::from_via(t)?,
        None if u.secure => Transport::Tls,
        None => fallback.transport,
    };
    let port = u.port.unwrap_or(if transport == Transport::Tls {
        5061
    } else {
        5060
    });
    Some(Peer::new(transport, std::net::SocketAddr::new(ip, port)))
}

/// Where an in-dialog request goes. On a connection-oriented leg: the connection the dialog
/// was learned on (TI-7: reuse the open connection; responses and our requests share it).
/// On UDP: the first route's (else the remote target's) address when it is an IP literal
/// with a UDP transport, else the peer the dialog was learned from (names need DNS, which is
/// the shell's; the learned peer is what NATed UAs need anyway).
pub(crate) fn next_hop(route_set: &[Bytes], remote_target: &[u8], learned: Peer) -> Peer {
    if learned.is_reliable() {
        return learned;
    }
    let uri = match route_set.first() {
        Some(r) => match RouteHdr::parse(r) {
            Ok(rh) => rh.uri.raw(),
            Err(_) => return learned,
        },
        None => remote_target,
    };
    match literal_peer(uri, learned) {
        Some(p) if p.transport == learned.transport => p,
        _ => learned,
    }
}

/// The dialog state of one leg (RFC 3261 §12): identifiers, sequence numbers, remote target
/// and route set, and the peer it was learned from.
#[derive(Debug, Clone)]
pub(crate) struct Dialog {
    pub(crate) call_id: Bytes,
    pub(crate) local_tag: Bytes,
    pub(crate) remote_tag: Bytes,
    /// Our From (UAC) or To (UAS) value without tag.
    pub(crate) local_uri: Bytes,
    /// The other party's, without tag.
    pub(crate) remote_uri: Bytes,
    pub(crate) local_cseq: u32,
    /// Highest CSeq seen in requests from the other party (0: none yet).
    pub(crate) remote_cseq: u32,
    pub(crate) remote_target: Bytes,
    /// Route headers for our requests, in the order they are written.
    pub(crate) route_set: Vec<Bytes>,
    pub(crate) peer: Peer,
}

impl Dialog {
    pub(crate) fn next_hop(&self) -> Peer {
        next_hop(&self.route_set, &self.remote_target, self.peer)
    }
}

/// What a built request needs besides the dialog.
pub(crate) struct ReqLine<'a> {
    pub(crate) method: &'a [u8],
    pub(crate) cseq: u32,
    pub(crate) branch: &'a [u8],
    pub(crate) transport: Transport,
    pub(crate) sent_by: &'a str,
    pub(crate) max_forwards: u8,
}

/// Starts a request within `d` (RFC 3261 §12.2.1.1): Request-URI and Route from the route
/// set (loose routing; a strict first route becomes the Request-URI and the remote target
/// the last Route), one Via of ours, From/To/Call-ID of the dialog, CSeq. The caller adds
/// the rest and finishes.
pub(crate) fn dialog_request<'o>(
    out: &'o mut Vec<u8>,
    d: &Dialog,
    l: &ReqLine<'_>,
) -> MessageWriter<'o> {
    let strict = d.route_set.first().and_then(|r| {
        let rh = RouteHdr::parse(r).ok()?;
        let u = rh.uri.as_sip()?;
        (!u.lr()).then(|| rh.uri.raw())
    });
    let ruri: &[u8] = strict.unwrap_or(&d.remote_target);
    let mut w = MessageWriter::request(out, l.method, ruri);
    via(&mut w, l.transport, l.sent_by, l.branch);
    w.header_u64(b"Max-Forwards", u64::from(l.max_forwards));
    w.header_parts(b"From", &[&d.local_uri, b";tag=", &d.local_tag]);
    if d.remote_tag.is_empty() {
        w.header(b"To", &d.remote_uri);
    } else {
        w.header_parts(b"To", &[&d.remote_uri, b";tag=", &d.remote_tag]);
    }
    w.header(b"Call-ID", &d.call_id);
    cseq(&mut w, l.cseq, l.method);
    let routes = if strict.is_some() {
        &d.route_set[1..]
    } else {
        &d.route_set[..]
    };
    for r in routes {
        w.header(b"Route", r);
    }
    if strict.is_some() {
        w.header_parts(b"Route", &[b"<", &d.remote_target, b">"]);
    }
    w
}

pub(crate) fn via(w: &mut MessageWriter<'_>, t: Transport, sent_by: &str, branch: &[u8]) {
    w.header_parts(
        b"Via",
        &[
            b"SIP/2.0/",
            t.as_str().as_bytes(),
            b" ",
            sent_by.as_bytes(),
            b";branch=",
            branch,
            b";rport",
        ],
    );
}

pub(crate) fn cseq(w: &mut MessageWriter<'_>, n: u32, method: &[u8]) {
    let mut b = itoa(u64::from(n));
    b.push(b' ');
    b.extend_from_slice(method);
    w.header(b"CSeq", &b);
}

pub(crate) fn itoa(v: u64) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// The Content-Type value as received (parameters included).
pub(crate) fn content_type(msg: &Message) -> Option<&[u8]> {
    msg.get(HeaderName::ContentType)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_tag_rebuilds_name_addr() {
        assert_eq!(
            strip_tag(b"\"Alice\" <sip:alice@atlanta.com>;tag=1928301774"),
            b"\"Alice\" <sip:alice@atlanta.com>"
        );
        assert_eq!(
            strip_tag(b"sip:+1555@gw;user=phone;tag=x;foo=bar"),
            b"<sip:+1555@gw>;user=phone;foo=bar"
        );
        assert_eq!(strip_tag(b"<tel:+1555>"), b"<tel:+1555>");
    }

    #[test]
    fn user_parts() {
        assert_eq!(
            user_part(Some(b"<sip:+1555@gw;user=phone>;tag=1")),
            b"+1555"
        );
        assert_eq!(user_part(Some(b"<tel:+1666;phone-context=x>")), b"+1666");
        assert_eq!(user_part(Some(b"<sip:gw.example.com>")), b"");
        assert_eq!(user_part(None), b"");
    }

    #[test]
    fn next_hops() {
        let learned = Peer::new(Transport::Udp, "192.0.2.1:5060".parse().unwrap());
        assert_eq!(
            next_hop(&[], b"sip:bob@198.51.100.7:5070", learned).addr,
            "198.51.100.7:5070".parse().unwrap()
        );
        assert_eq!(next_hop(&[], b"sip:bob@example.com", learned), learned);
        let rr = [Bytes::from_static(b"<sip:203.0.113.9;lr>")];
        assert_eq!(
            next_hop(&rr, b"sip:bob@198.51.100.7:5070", learned).addr,
            "203.0.113.9:5060".parse().unwrap()
        );
        // A different transport in the URI: stay on the learned peer.
        assert_eq!(
            next_hop(&[], b"sip:bob@198.51.100.7;transport=tcp", learned),
            learned
        );
        let tcp = Peer::new(Transport::Tcp, "192.0.2.1:40000".parse().unwrap());
        assert_eq!(next_hop(&[], b"sip:bob@198.51.100.7:5070", tcp), tcp);
    }
}
