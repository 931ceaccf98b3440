//! Transaction keys: what §17.1.3 and §17.2.3 compare, as [`Bytes`] slices of the message
//! (a lookup costs reference-count increments, never a copy).

use bytes::Bytes;
use sbc_sip::{Message, Method};

/// A method as a key component: the enum for the known methods, the token otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum MethodKey {
    Known(Method),
    Other(Bytes),
}

impl MethodKey {
    pub(crate) const INVITE: MethodKey = MethodKey::Known(Method::Invite);

    /// The request-line method of a request, the CSeq method of a response.
    pub(crate) fn of(msg: &Message) -> Option<MethodKey> {
        let method = match msg.method() {
            Some(m) => m,
            None => msg.cseq()?.method,
        };
        Some(match method {
            Method::Other => MethodKey::Other(sub(msg, msg.method_bytes())),
            m => MethodKey::Known(m),
        })
    }
}

/// One entry of the endpoint's key index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// §17.1.3: the top Via branch we put in the request, and the CSeq method (CANCEL
    /// shares its INVITE's branch).
    Client { branch: Bytes, method: MethodKey },
    /// §17.2.3, RFC 3261 requests (branch with the magic cookie): branch, sent-by, and the
    /// method, ACK counting as INVITE.
    Server {
        branch: Bytes,
        host: Bytes,
        port: Option<u16>,
        method: MethodKey,
    },
    /// §17.2.3, RFC 2543 requests: Request-URI, From tag, Call-ID, CSeq and top Via. The To
    /// tag is compared after the lookup, because the ACK's To tag is the one of our
    /// response rather than the one of the request.
    Legacy {
        ruri: Bytes,
        from_tag: Option<Bytes>,
        call_id: Option<Bytes>,
        cseq: Option<u32>,
        method: MethodKey,
        top_via: Bytes,
    },
}

impl Key {
    /// The client key of a request we send, or of a response we receive (`None` without a
    /// branch or CSeq method).
    pub(crate) fn client(msg: &Message) -> Option<Key> {
        let via = msg.top_via()?;
        let branch = via.branch()?;
        Some(Key::Client {
            branch: sub(msg, branch),
            method: MethodKey::of(msg)?,
        })
    }

    /// The server key of a received request, with `method` standing in for the request's
    /// own (INVITE for ACK and for the INVITE a CANCEL targets). `None` without a top Via.
    pub(crate) fn server(msg: &Message, method: MethodKey) -> Option<Key> {
        let via = msg.top_via()?;
        if via.has_rfc3261_branch() {
            let branch = via.branch().unwrap_or_default();
            return Some(Key::Server {
                branch: sub(msg, branch),
                host: sub(msg, via.host),
                port: via.port,
                method,
            });
        }
        Some(Key::Legacy {
            ruri: sub(msg, msg.request_uri_raw().unwrap_or_default()),
            from_tag: msg.from_tag().map(|t| sub(msg, t)),
            call_id: msg.call_id().map(|c| sub(msg, c)),
            cseq: msg.cseq().map(|c| c.seq),
            method,
            top_via: sub(msg, via.raw),
        })
    }

    /// The same key for another method.
    pub(crate) fn with_method(&self, m: MethodKey) -> Key {
        let mut k = self.clone();
        match &mut k {
            Key::Client { method, .. }
            | Key::Server { method, .. }
            | Key::Legacy { method, .. } => *method = m,
        }
        k
    }

    /// True for RFC 2543 keys (the To tag must be checked after the lookup).
    #[inline]
    pub(crate) fn is_legacy(&self) -> bool {
        matches!(self, Key::Legacy { .. })
    }
}

/// The To tag of a message, shared.
pub(crate) fn to_tag(msg: &Message) -> Option<Bytes> {
    msg.to_tag_span().map(|s| msg.bytes().slice(s.range()))
}

/// A sub-slice of the message as shared [`Bytes`]; copies only if `part` did not come from
/// the message (never, for the accessors used here), so it cannot panic.
pub(crate) fn sub(msg: &Message, part: &[u8]) -> Bytes {
    match msg.span_of(part) {
        Some(span) => msg.bytes().slice(span.range()),
        None => Bytes::copy_from_slice(part),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Message {
        Message::parse(Bytes::from(s.replace('\n', "\r\n"))).unwrap()
    }

    #[test]
    fn rfc3261_and_legacy_keys() {
        let m = parse(
            "INVITE sip:b@example.com SIP/2.0\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc\n\
             From: <sip:a@example.com>;tag=f1\n\
             To: <sip:b@example.com>\n\
             Call-ID: c1\n\
             CSeq: 1 INVITE\n\
             Content-Length: 0\n\n",
        );
        let k = Key::server(&m, MethodKey::of(&m).unwrap()).unwrap();
        assert!(!k.is_legacy());
        assert_eq!(
            k,
            Key::Server {
                branch: Bytes::from_static(b"z9hG4bKabc"),
                host: Bytes::from_static(b"192.0.2.1"),
                port: Some(5060),
                method: MethodKey::INVITE,
            }
        );
        let c = Key::client(&m).unwrap();
        assert_ne!(
            c,
            c.with_method(MethodKey::Known(Method::Cancel)),
            "CANCEL has its own client key"
        );

        let m = parse(
            "FOO sip:b@example.com SIP/2.0\n\
             Via: SIP/2.0/UDP 192.0.2.1;branch=1234\n\
             From: <sip:a@example.com>;tag=f1\n\
             To: <sip:b@example.com>\n\
             Call-ID: c1\n\
             CSeq: 1 FOO\n\
             Content-Length: 0\n\n",
        );
        let k = Key::server(&m, MethodKey::of(&m).unwrap()).unwrap();
        assert!(k.is_legacy());
        let Key::Legacy {
            method, top_via, ..
        } = k
        else {
            panic!("legacy key expected");
        };
        assert_eq!(method, MethodKey::Other(Bytes::from_static(b"FOO")));
        assert_eq!(&top_via[..], b"SIP/2.0/UDP 192.0.2.1;branch=1234");
        assert_eq!(sub(&m, b"not from m"), Bytes::from_static(b"not from m"));
    }
}
