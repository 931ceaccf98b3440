//! Stream framing for TCP/TLS (RFC 3261 §18.3): a message ends Content-Length bytes after
//! the empty line that ends its headers, so Content-Length is mandatory on streams. Also
//! recognises the RFC 5626 §4.4.1 keep-alives: a CRLFCRLF "ping" (answer with a CRLF "pong")
//! and a lone CRLF "pong".
//!
//! The framer is incremental: it remembers how far it searched so a slow sender that
//! dribbles bytes costs O(n) in total, not O(n²), and it gives up at `max_message_size`.

use crate::error::{ParseError, ParseErrorKind as K};
use crate::lex;
use crate::message::ParserConfig;

/// What the framer found at the start of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A complete message occupies the first `len` bytes.
    Complete(usize),
    /// More bytes are needed.
    NeedMore,
    /// A keep-alive of `len` bytes (2 or 4) is at the front; consume it. `ping` is true for
    /// CRLFCRLF, which the receiver answers with a single CRLF.
    KeepAlive {
        /// Bytes to consume.
        len: usize,
        /// True for a ping (CRLFCRLF) that needs a pong.
        ping: bool,
    },
    /// The stream is unrecoverable (no or bad Content-Length, too large...): close it.
    Invalid(ParseError),
}

/// Incremental stream framer. Feed it the connection's receive buffer (from the first
/// unconsumed byte) after every read; after `Complete`/`KeepAlive` the caller consumes the
/// bytes and the framer starts afresh.
#[derive(Debug, Clone, Default)]
pub struct StreamFramer {
    cfg: ParserConfig,
    /// Where the next search for CRLFCRLF starts.
    searched: usize,
    /// Once the header section is complete: total message length.
    total: Option<usize>,
}

impl StreamFramer {
    /// A framer with these limits.
    pub fn new(cfg: ParserConfig) -> Self {
        StreamFramer {
            cfg,
            searched: 0,
            total: None,
        }
    }

    /// Forgets any partial progress (call after consuming a frame).
    pub fn reset(&mut self) {
        self.searched = 0;
        self.total = None;
    }

    /// Examines `buf` (the unconsumed bytes, starting where the previous frame ended).
    pub fn poll(&mut self, buf: &[u8]) -> Frame {
        let r = self.poll_inner(buf);
        if !matches!(r, Frame::NeedMore) {
            self.reset();
        }
        r
    }

    fn poll_inner(&mut self, buf: &[u8]) -> Frame {
        if let Some(total) = self.total {
            return if buf.len() >= total {
                Frame::Complete(total)
            } else {
                Frame::NeedMore
            };
        }
        // Keep-alives are recognised whatever the earlier reads looked like: a lone CR or
        // CRLF read first must not change the answer (framer fuzz target).
        if buf.first() == Some(&b'\r') && buf.get(1).is_none_or(|&b| b == b'\n') {
            if buf.len() < 2 {
                return Frame::NeedMore;
            }
            if buf.starts_with(b"\r\n\r\n") {
                return Frame::KeepAlive { len: 4, ping: true };
            }
            if buf.starts_with(b"\r\n") {
                // "\r\n" alone may be the start of a ping: wait for one more byte.
                return match buf.get(2) {
                    None => Frame::NeedMore,
                    Some(b'\r') if buf.len() < 4 => Frame::NeedMore,
                    Some(_) => Frame::KeepAlive {
                        len: 2,
                        ping: false,
                    },
                };
            }
        }
        // Resume the CRLFCRLF search three bytes back so a terminator split across reads is
        // found.
        let from = self.searched.saturating_sub(3);
        let limit = buf.len().min(self.cfg.max_message_size);
        let Some(i) = memchr::memmem::find(&buf[from..limit], b"\r\n\r\n") else {
            if buf.len() >= self.cfg.max_message_size {
                return Frame::Invalid(ParseError::new(
                    K::MessageTooLarge,
                    self.cfg.max_message_size,
                ));
            }
            self.searched = limit;
            return Frame::NeedMore;
        };
        let header_end = from + i + 4;
        let cl = match content_length(&buf[..header_end]) {
            Ok(cl) => cl,
            Err(e) => return Frame::Invalid(e),
        };
        let total = header_end + cl;
        if total > self.cfg.max_message_size {
            return Frame::Invalid(ParseError::new(K::MessageTooLarge, header_end));
        }
        self.total = Some(total);
        if buf.len() >= total {
            Frame::Complete(total)
        } else {
            Frame::NeedMore
        }
    }
}

/// Finds Content-Length (long or compact `l`) in a complete header section. Missing,
/// malformed, negative or conflicting values make the stream unrecoverable (RFC 4475 ncl,
/// mcl01).
fn content_length(head: &[u8]) -> Result<usize, ParseError> {
    let mut found: Option<u32> = None;
    let mut pos = 0;
    while pos < head.len() {
        let end = memchr::memchr(b'\n', &head[pos..]).map_or(head.len(), |i| pos + i + 1);
        let line = &head[pos..end];
        let colon = memchr::memchr(b':', line);
        if let Some(c) = colon {
            let name = lex::trim_lws(&line[..c]);
            if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
                // Include folded continuation lines in the value.
                let mut vend = end;
                while vend < head.len() && lex::is_ws(head[vend]) {
                    vend =
                        memchr::memchr(b'\n', &head[vend..]).map_or(head.len(), |i| vend + i + 1);
                }
                let value = lex::trim_lws(&head[pos + c + 1..vend]);
                let n = lex::parse_u32(value).ok_or(ParseError::new(K::BadContentLength, pos))?;
                if found.is_some_and(|f| f != n) {
                    return Err(ParseError::new(K::BadContentLength, pos));
                }
                found = Some(n);
            }
        }
        pos = end;
    }
    found
        .map(|n| n as usize)
        .ok_or(ParseError::new(K::BadContentLength, head.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nl: 5\r\n\r\nhello";

    #[test]
    fn complete_and_partial() {
        let mut f = StreamFramer::default();
        assert_eq!(f.poll(&MSG[..10]), Frame::NeedMore);
        assert_eq!(f.poll(&MSG[..MSG.len() - 1]), Frame::NeedMore);
        assert_eq!(f.poll(MSG), Frame::Complete(MSG.len()));
        let mut two = MSG.to_vec();
        two.extend_from_slice(MSG);
        assert_eq!(f.poll(&two), Frame::Complete(MSG.len()));
    }

    #[test]
    fn byte_by_byte_equals_whole() {
        let mut f = StreamFramer::default();
        for n in 0..MSG.len() {
            assert_eq!(f.poll(&MSG[..n]), Frame::NeedMore, "at {n}");
        }
        assert_eq!(f.poll(MSG), Frame::Complete(MSG.len()));
    }

    #[test]
    fn keepalives() {
        let mut f = StreamFramer::default();
        assert_eq!(f.poll(b"\r\n\r\n"), Frame::KeepAlive { len: 4, ping: true });
        assert_eq!(
            f.poll(b"\r\nINV"),
            Frame::KeepAlive {
                len: 2,
                ping: false
            }
        );
        assert_eq!(f.poll(b"\r\n"), Frame::NeedMore);
        assert_eq!(f.poll(b"\r\n\r"), Frame::NeedMore);
    }

    #[test]
    fn split_keepalives_give_the_same_answer() {
        // Found by the framer fuzz target: a lone CR read first used to disable keep-alive
        // detection.
        let mut f = StreamFramer::default();
        assert_eq!(f.poll(b"\r"), Frame::NeedMore);
        assert_eq!(
            f.poll(b"\r\nI"),
            Frame::KeepAlive {
                len: 2,
                ping: false
            }
        );
        let mut f = StreamFramer::default();
        assert_eq!(f.poll(b"\r"), Frame::NeedMore);
        assert_eq!(f.poll(b"\r\n\r\n"), Frame::KeepAlive { len: 4, ping: true });
    }

    #[test]
    fn content_length_errors() {
        let mut f = StreamFramer::default();
        assert!(matches!(
            f.poll(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n"),
            Frame::Invalid(_)
        ));
        assert!(matches!(
            f.poll(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -999\r\n\r\n"),
            Frame::Invalid(_)
        ));
        assert!(matches!(
            f.poll(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 13\r\nl: 5\r\n\r\n"),
            Frame::Invalid(_)
        ));
        assert_eq!(
            f.poll(b"X sip:a@b SIP/2.0\r\nContent-Length:\r\n 0\r\n\r\n"),
            Frame::Complete(42)
        );
    }

    #[test]
    fn size_limit() {
        let cfg = ParserConfig {
            max_message_size: 64,
            ..ParserConfig::default()
        };
        let mut f = StreamFramer::new(cfg);
        assert!(matches!(f.poll(&[b'a'; 100]), Frame::Invalid(_)));
        assert!(matches!(
            f.poll(b"X sip:a@b SIP/2.0\r\nl: 1000\r\n\r\n"),
            Frame::Invalid(_)
        ));
    }
}
