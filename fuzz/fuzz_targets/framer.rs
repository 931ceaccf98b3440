//! Chunking must not change what the stream framer finds: feeding the input in the chunks
//! chosen by the first bytes yields exactly the frames (Complete lengths, keep-alives, the
//! first Invalid) that feeding it all at once does.
//!
//! Input layout: `[k] [c_1 .. c_k] stream...` with `k = data[0] % 16`; chunk `i` is
//! `c_i` bytes of the stream (0 allowed: a read that returned nothing new); whatever is left
//! after the last chunk arrives in one final read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sbc_sip::{Frame, ParserConfig, StreamFramer};

#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Complete(usize),
    KeepAlive(usize, bool),
    Invalid,
}

fn cfg() -> ParserConfig {
    // A small size limit so MessageTooLarge paths are reachable with short inputs.
    ParserConfig {
        max_message_size: 2048,
        ..ParserConfig::default()
    }
}

/// Polls `buf[*pos..avail]` until the framer wants more; returns false once it is Invalid.
fn drain(
    f: &mut StreamFramer,
    buf: &[u8],
    pos: &mut usize,
    avail: usize,
    ev: &mut Vec<Ev>,
) -> bool {
    loop {
        if *pos >= avail {
            return true;
        }
        match f.poll(&buf[*pos..avail]) {
            Frame::Complete(n) => {
                assert!(n > 0 && *pos + n <= avail, "Complete({n}) past the buffer");
                ev.push(Ev::Complete(n));
                *pos += n;
            }
            Frame::KeepAlive { len, ping } => {
                assert!(*pos + len <= avail);
                ev.push(Ev::KeepAlive(len, ping));
                *pos += len;
            }
            Frame::NeedMore => return true,
            Frame::Invalid(_) => {
                ev.push(Ev::Invalid);
                return false;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&k, rest)) = data.split_first() else {
        return;
    };
    let k = usize::from(k % 16).min(rest.len());
    let (sizes, stream) = rest.split_at(k);

    // All at once.
    let mut whole = Vec::new();
    let mut f = StreamFramer::new(cfg());
    let mut pos = 0;
    drain(&mut f, stream, &mut pos, stream.len(), &mut whole);

    // In chunks.
    let mut chunked = Vec::new();
    let mut f = StreamFramer::new(cfg());
    let mut pos = 0;
    let mut avail = 0;
    let mut alive = true;
    for &s in sizes {
        avail = (avail + usize::from(s)).min(stream.len());
        alive = drain(&mut f, stream, &mut pos, avail, &mut chunked);
        if !alive {
            break;
        }
    }
    if alive {
        drain(&mut f, stream, &mut pos, stream.len(), &mut chunked);
    }

    assert_eq!(
        whole,
        chunked,
        "chunking changed the frames; chunk sizes {sizes:?}, stream {:?}",
        String::from_utf8_lossy(&stream[..stream.len().min(200)])
    );
});
