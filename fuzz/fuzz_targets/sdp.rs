//! `Sdp::parse` on arbitrary bytes; every accessor walked; every returned range lies in
//! the body and slices to the bytes the field reports.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sbc_sdp::Sdp;

fuzz_target!(|data: &[u8]| {
    match Sdp::parse(data) {
        Ok(sdp) => {
            assert_eq!(sdp.body(), data);
            sbc_fuzz::walk_sdp(&sdp);
        }
        Err(e) => {
            assert!(
                e.offset <= data.len(),
                "error offset {} past the body ({})",
                e.offset,
                data.len()
            );
            std::hint::black_box(e.to_string());
        }
    }
});
