//! Parse arbitrary bytes as a UDP datagram and as a TCP/TLS stream (cut by the
//! `StreamFramer`); force every lazy accessor of every message that parses.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sbc_sip::{Frame, Framing, Message, ParserConfig, StreamFramer};

fuzz_target!(|data: &[u8]| {
    let cfg = ParserConfig::default();
    let buf = Bytes::copy_from_slice(data);

    // Datagram.
    if let Ok(msg) = Message::parse_with(buf.clone(), &cfg, Framing::Datagram) {
        sbc_fuzz::exercise_message(&msg);
    }

    // Stream: frame, then parse each complete frame with Framing::Stream.
    let mut framer = StreamFramer::new(cfg);
    let mut pos = 0;
    while pos < buf.len() {
        match framer.poll(&buf[pos..]) {
            Frame::Complete(n) => {
                assert!(
                    n > 0 && n <= buf.len() - pos,
                    "Complete({n}) with {} bytes",
                    buf.len() - pos
                );
                let frame = buf.slice(pos..pos + n);
                if let Ok(msg) = Message::parse_with(frame.clone(), &cfg, Framing::Stream) {
                    // Stream framing: the message is exactly the frame.
                    assert_eq!(
                        msg.as_bytes(),
                        &frame[..],
                        "stream message is not the whole frame"
                    );
                    sbc_fuzz::exercise_message(&msg);
                }
                pos += n;
            }
            Frame::KeepAlive { len, ping } => {
                assert!(len == if ping { 4 } else { 2 });
                assert!(len <= buf.len() - pos);
                pos += len;
            }
            Frame::NeedMore | Frame::Invalid(_) => break,
        }
    }

    // The whole input as one stream message (exercises the Stream Content-Length checks even
    // when the framer would have cut elsewhere).
    if let Ok(msg) = Message::parse_with(buf, &cfg, Framing::Stream) {
        sbc_fuzz::exercise_message(&msg);
    }
});
