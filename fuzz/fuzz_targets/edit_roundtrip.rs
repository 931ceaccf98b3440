//! Edits survive serialization: parse a message, apply a few edits chosen by the fuzz bytes,
//! write, re-parse, and check that the edits are there, every other header is unchanged and
//! Content-Length equals the new body length.
//!
//! Input layout: `[flags] [sel_replace] [sel_remove] [seed] [body_len] new_body(body_len)
//! message...`. Flags: bit 0 replace the value of one unknown (`HeaderName::Other`) header
//! with a token, bit 1 remove one header line, bit 2 append `X-Fuzz: <token>`, bit 3 replace
//! the body with `new_body`.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sbc_sip::{Edits, Framing, HeaderName, Message, ParserConfig};

const TOKEN_CHARS: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~";

fn token(seed: u8, salt: u32) -> Vec<u8> {
    let mut x = u32::from(seed)
        .wrapping_mul(2_654_435_761)
        .wrapping_add(salt)
        | 1;
    let len = 1 + (seed as usize % 24);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            TOKEN_CHARS[x as usize % TOKEN_CHARS.len()]
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let (flags, sel_replace, sel_remove, seed, body_len) =
        (data[0], data[1], data[2], data[3], usize::from(data[4]));
    let rest = &data[5..];
    if rest.len() < body_len {
        return;
    }
    let (new_body, raw) = rest.split_at(body_len);
    let cfg = ParserConfig::default();
    let Ok(msg) = Message::parse_with(Bytes::copy_from_slice(raw), &cfg, Framing::Datagram) else {
        return;
    };
    let headers = msg.headers();

    let mut edits = Edits::new();
    let replace_tok = token(seed, 0x5157);
    let append_tok = token(seed.wrapping_add(77), 0x9e37);

    // 1. Replace the value of one unknown header.
    let mut replaced: Option<usize> = None;
    if flags & 1 != 0 {
        let others: Vec<usize> = (0..headers.len())
            .filter(|&i| headers[i].name == HeaderName::Other)
            .collect();
        if !others.is_empty() {
            let i = others[usize::from(sel_replace) % others.len()];
            edits.replace_value(&headers[i], &replace_tok);
            replaced = Some(i);
        }
    }
    // 2. Remove one header line. Not Content-Length (framing), and not Via/From/To: only the
    //    first of those is validated at parse time, so removing it can legitimately expose a
    //    malformed second one.
    let mut removed: Option<usize> = None;
    if flags & 2 != 0 {
        let cands: Vec<usize> = (0..headers.len())
            .filter(|&i| Some(i) != replaced)
            .filter(|&i| {
                !matches!(
                    headers[i].name,
                    HeaderName::ContentLength | HeaderName::Via | HeaderName::From | HeaderName::To
                )
            })
            .collect();
        if !cands.is_empty() {
            let i = cands[usize::from(sel_remove) % cands.len()];
            edits.remove_header(&headers[i]);
            removed = Some(i);
        }
    }
    // 3. Append X-Fuzz.
    let appended = flags & 4 != 0;
    if appended {
        edits.append_header(&msg, b"X-Fuzz", &append_tok);
    }
    // 4. Replace the body.
    let body_replaced = flags & 8 != 0;
    if body_replaced {
        edits.replace_body(&msg, new_body);
    }
    let expect_body: &[u8] = if body_replaced { new_body } else { msg.body() };

    let mut out = Vec::new();
    let n = edits.write(&msg, &mut out).expect("non-overlapping edits");
    assert_eq!(n, out.len());
    // Writing twice gives the same bytes (the Content-Length fix-up is not sticky).
    let mut out2 = Vec::new();
    edits.write(&msg, &mut out2).expect("second write");
    assert!(out == out2, "second write differs");

    // Room for the appended X-Fuzz and an inserted Content-Length.
    let cfg2 = ParserConfig {
        max_message_size: cfg.max_message_size + 4096,
        max_headers: cfg.max_headers + 2,
        ..cfg
    };
    let msg2 = match Message::parse_with(Bytes::from(out.clone()), &cfg2, Framing::Datagram) {
        Ok(m) => m,
        Err(e) => panic!(
            "edited message does not re-parse ({e:?}): {:?}",
            String::from_utf8_lossy(&out)
        ),
    };
    assert_eq!(msg2.as_bytes().len(), out.len(), "re-parse cut the output");
    assert_eq!(msg2.body(), expect_body, "body differs after the edit");
    assert_eq!(
        msg2.content_length().map(|c| c as usize),
        Some(expect_body.len()),
        "Content-Length does not match the new body"
    );
    assert_eq!(
        msg.slice(msg.start_line_span()),
        msg2.slice(msg2.start_line_span()),
        "start line changed"
    );

    // Expected header list: (raw name, value); None value = Content-Length (checked numerically).
    let mut expect: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        if Some(i) == removed {
            continue;
        }
        let v = if h.name == HeaderName::ContentLength {
            None
        } else if Some(i) == replaced {
            Some(replace_tok.clone())
        } else {
            Some(msg.value(h).to_vec())
        };
        expect.push((msg.raw_name(h).to_vec(), v));
    }
    if appended {
        expect.push((b"X-Fuzz".to_vec(), Some(append_tok.clone())));
    }
    if msg.content_length().is_none() {
        expect.push((b"Content-Length".to_vec(), None));
    }
    let got = msg2.headers();
    assert_eq!(got.len(), expect.len(), "header count after the edit");
    for (h, (name, value)) in got.iter().zip(&expect) {
        assert_eq!(msg2.raw_name(h), &name[..], "header name changed");
        match value {
            Some(v) => assert_eq!(
                msg2.value(h),
                &v[..],
                "value of {:?} changed",
                String::from_utf8_lossy(name)
            ),
            None => {
                assert_eq!(h.name, HeaderName::ContentLength);
                assert_eq!(
                    sbc_sip::lex::parse_u32(msg2.value(h)).map(|c| c as usize),
                    Some(expect_body.len()),
                    "a Content-Length header does not match the new body"
                );
            }
        }
    }
});
