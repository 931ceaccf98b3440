//! `sbcd inspect`: what the SBC makes of a captured message, as JSON, for people debugging
//! traces. The verdict is the same code path the server uses (`check_request` /
//! `check_response`), so "exit 1" means the SBC would really reject it.

use bytes::Bytes;
use sbc_sip::check::check_headers;
use sbc_sip::frame::{Frame, StreamFramer};
use sbc_sip::uri::{Host, Uri};
use sbc_sip::{
    check_request, check_response, Framing, HeaderName, Message, ParseError, ParserConfig,
    RequestPolicy, Verdict,
};
use serde_json::{json, Map, Value};

fn text(b: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(b).into_owned())
}

fn opt_text(b: Option<&[u8]>) -> Value {
    b.map_or(Value::Null, text)
}

/// One datagram: exit 0 / 1 / 2.
pub fn inspect_datagram(data: Vec<u8>) -> (Vec<Value>, u8) {
    let (v, code) = report(Message::parse_with(
        Bytes::from(data),
        &ParserConfig::default(),
        Framing::Datagram,
    ));
    (vec![v], code)
}

/// A TCP/TLS byte stream: one report per framed message; the exit status is the worst.
pub fn inspect_stream(data: Vec<u8>) -> (Vec<Value>, u8) {
    let cfg = ParserConfig::default();
    let mut framer = StreamFramer::new(cfg);
    let buf = Bytes::from(data);
    let mut pos = 0;
    let mut out = Vec::new();
    let mut worst = 0;
    while pos < buf.len() {
        match framer.poll(&buf[pos..]) {
            Frame::Complete(n) => {
                let (v, c) = report(Message::parse_with(
                    buf.slice(pos..pos + n),
                    &cfg,
                    Framing::Stream,
                ));
                out.push(v);
                worst = worst.max(c);
                pos += n;
            }
            Frame::KeepAlive { len, .. } => pos += len,
            Frame::NeedMore => {
                out.push(
                    json!({"verdict": {"action": "parse_error", "kind": "incomplete",
                    "offset": buf.len(), "status": 400, "detail": "stream ends inside a message"}}),
                );
                worst = 2;
                break;
            }
            Frame::Invalid(e) => {
                out.push(parse_error_json(&e));
                worst = 2;
                break;
            }
        }
    }
    (out, worst)
}

fn parse_error_json(e: &ParseError) -> Value {
    json!({"verdict": {"action": "parse_error", "kind": e.kind.as_str(), "offset": e.offset,
        "status": e.status(), "detail": e.to_string()}})
}

fn report(parsed: Result<Message, ParseError>) -> (Value, u8) {
    let m = match parsed {
        Ok(m) => m,
        Err(e) => return (parse_error_json(&e), 2),
    };
    let mut o = Map::new();
    if m.is_request() {
        o.insert("kind".into(), "request".into());
        o.insert("method".into(), text(m.method_bytes()));
        o.insert(
            "request_uri".into(),
            uri_json(m.request_uri_raw().unwrap_or(b""), m.request_uri()),
        );
    } else {
        o.insert("kind".into(), "response".into());
        o.insert("status".into(), m.status().into());
        o.insert("reason".into(), opt_text(m.reason()));
    }
    o.insert("version".into(), text(m.version()));
    o.insert("call_id".into(), opt_text(m.call_id()));
    o.insert(
        "cseq".into(),
        m.cseq().map_or(
            Value::Null,
            |c| json!({"seq": c.seq, "method": text(m.slice(c.method_span))}),
        ),
    );
    o.insert("via_count".into(), m.via_count().into());
    o.insert("top_via_branch".into(), opt_text(m.branch()));
    o.insert(
        "from".into(),
        json!({"value": opt_text(m.from_raw()), "tag": opt_text(m.from_tag())}),
    );
    o.insert(
        "to".into(),
        json!({"value": opt_text(m.to_raw()), "tag": opt_text(m.to_tag())}),
    );
    o.insert(
        "max_forwards".into(),
        m.max_forwards().map_or(Value::Null, Value::from),
    );
    let headers: Vec<Value> = m
        .headers()
        .iter()
        .map(|h| {
            let known = (h.name != HeaderName::Other).then(|| h.name.as_str());
            json!({"name": text(m.raw_name(h)), "canonical": known, "value": text(m.value(h))})
        })
        .collect();
    o.insert("headers".into(), headers.into());
    o.insert("body".into(), body_json(&m));
    let malformed: Vec<Value> = check_headers(&m)
        .err()
        .map(|e| json!({"header": e.name.as_str(), "offset": e.error.at, "error": e.error.kind.as_str()}))
        .into_iter()
        .collect();
    o.insert("malformed_headers".into(), malformed.into());
    let verdict = if m.is_request() {
        check_request(&m, &RequestPolicy::default())
    } else {
        check_response(&m)
    };
    let (v, code) = match verdict {
        Verdict::Accept => (json!({"action": "accept"}), 0),
        Verdict::Reject { status, why } => (
            json!({"action": "reject", "status": status,
                "reason": sbc_sip::build::reason_phrase(status), "detail": why}),
            1,
        ),
        Verdict::Drop { why } => (json!({"action": "drop", "detail": why}), 1),
    };
    o.insert("verdict".into(), v);
    (Value::Object(o), code)
}

fn uri_json(raw: &[u8], uri: Option<Uri<'_>>) -> Value {
    let mut o = Map::new();
    o.insert("raw".into(), text(raw));
    match uri {
        Some(Uri::Sip(u)) => {
            o.insert(
                "scheme".into(),
                if u.secure { "sips" } else { "sip" }.into(),
            );
            o.insert("user".into(), opt_text(u.user));
            let host = match u.host {
                Host::Domain(d) => text(d),
                _ => text(u.host_raw),
            };
            o.insert("host".into(), host);
            o.insert("port".into(), u.port.map_or(Value::Null, Value::from));
            let params: Vec<Value> = u
                .params
                .iter()
                .map(|(n, v)| json!({"name": text(n), "value": opt_text(v)}))
                .collect();
            o.insert("params".into(), params.into());
        }
        Some(Uri::Tel(t)) => {
            o.insert("scheme".into(), "tel".into());
            o.insert("number".into(), text(t.number));
        }
        Some(Uri::Absolute(a)) => {
            o.insert("scheme".into(), text(a.scheme));
        }
        None => {}
    }
    Value::Object(o)
}

fn body_json(m: &Message) -> Value {
    let ct = m.typed::<sbc_sip::hdr::ContentType>().and_then(Result::ok);
    let mut o = Map::new();
    o.insert("length".into(), m.body().len().into());
    o.insert(
        "content_type".into(),
        opt_text(m.get(HeaderName::ContentType)),
    );
    let mut parts = Vec::new();
    if let Some(ct) = ct.filter(|c| c.mtype().eq_ignore_ascii_case(b"multipart")) {
        if let Some(b) = ct.boundary() {
            if let Ok(mp) = sbc_sip::multipart::parse_multipart(m.body(), b) {
                for p in mp.iter() {
                    parts.push(json!({
                        "content_type": opt_text(p.content_type()),
                        "content_id": opt_text(p.content_id()),
                        "length": p.body().len(),
                    }));
                }
            }
        }
    }
    if !parts.is_empty() {
        o.insert("parts".into(), parts.into());
    }
    Value::Object(o)
}
