//! `sbc-sip`: the SIP wire layer.
//!
//! * [`frame`]: finds message boundaries on streams (RFC 3261 §18.3) and datagrams.
//! * [`Message`]: one frozen [`bytes::Bytes`] plus `u32` spans: start line, a header index
//!   (one entry per header line, name resolved through [`HeaderName`]), the
//!   transaction-critical headers validated at parse time, everything else typed lazily
//!   through [`TypedHeader`].
//! * [`edit`]: an edit list applied while serializing (never mutate what was received).
//! * [`build`]: responses, CANCEL and ACK built from requests (RFC 3261 §8.2.6, §9.1,
//!   §17.1.1.3).
//! * [`validate`]: the request checks the SBC applies before it spends state.
//!
//! No input can panic these parsers; limits live in [`ParserConfig`] and are enforced before
//! work is spent.

pub mod addr;
pub mod error;
pub mod hdr;
pub mod lex;
pub mod multipart;
pub mod name;
pub mod typed;
pub mod uri;

pub use error::{ParseError, ParseErrorKind, Syntax, SyntaxError};
pub use name::HeaderName;
pub use typed::TypedHeader;
pub mod edit;
pub mod frame;
pub mod message;
pub mod via;

pub use edit::Edits;
pub use frame::{Frame, StreamFramer};
pub use message::{
    CSeq, Framing, Header, HeaderError, Message, Method, ParserConfig, Span, StartLine,
};
pub use via::Via;
pub mod build;
pub mod check;
pub mod validate;

pub use validate::{check_request, check_response, RequestPolicy, Verdict};
