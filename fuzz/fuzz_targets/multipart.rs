//! `parse_multipart` on arbitrary bodies. Input layout: `[n] boundary(n bytes) body...`;
//! the parts are walked, every range in bounds, parts ordered and non-overlapping.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sbc_sip::multipart::{parse_multipart, parse_multipart_with};

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n);
    if rest.len() < n {
        return;
    }
    let (boundary, body) = rest.split_at(n);
    match parse_multipart(body, boundary) {
        Ok(mp) => {
            assert_eq!(mp.body(), body);
            sbc_fuzz::walk_multipart(&mp);
        }
        Err(e) => {
            assert!(
                e.offset <= body.len(),
                "error offset {} past the body ({})",
                e.offset,
                body.len()
            );
            std::hint::black_box(e.to_string());
        }
    }
    // A tiny part table: the TooManyParts path.
    if let Ok(mp) = parse_multipart_with::<2>(body, boundary, 2) {
        sbc_fuzz::walk_multipart(&mp);
    }
});
