//! `sbc-transport`: the SIP transport shell. It owns the UDP, TCP and TLS sockets, the
//! connection table and nothing else. It knows no SIP semantics beyond framing: every
//! decision about what a message means is the server's.
//!
//! # Shape
//!
//! [`TransportHandle::start`] binds the listeners of a [`TransportConfig`] and returns a
//! cloneable [`TransportHandle`] (sends, aliases, closes, [`stats`](TransportHandle::stats))
//! plus the receiving end of one **bounded** channel of [`Event`]s: a parsed
//! [`Inbound`] message with its [`Peer`] (and [`TlsInfo`] on TLS), or an [`InboundError`]
//! with the bytes that failed. When that channel is full, UDP datagrams are dropped and
//! counted (`datagrams_dropped_queue_full`), and stream connections stop reading until there
//! is room, so TCP flow control pushes back on the sender.
//!
//! # What is checked before parsing
//!
//! * **UDP:** the source address against the listener's [`Acl`] (deny wins; an empty allow
//!   list allows all; IPv4-mapped IPv6 sources are matched as IPv4). Refused datagrams are
//!   counted (`acl_drops`) and never answered. Bare CRLF keep-alives are ignored. Then
//!   [`sbc_sip::Message::parse_with`] with [`sbc_sip::Framing::Datagram`] and the listener's
//!   [`sbc_sip::ParserConfig`] (size, header count, line length, Via count).
//! * **TCP/TLS**, for each accepted socket, before a byte is read: the ACL (refused sockets are
//!   closed at once), the listener-wide cap (`max_connections`), the per-source-IP cap
//!   (`max_connections_per_source`); then for TLS a handshake slot
//!   (`max_concurrent_handshakes`) and the handshake, both within `handshake_timeout`.
//!   Each connection then reads through [`sbc_sip::StreamFramer`] bounded by the parser's
//!   `max_message_size`: a frame that cannot be cut (too large, no or bad Content-Length)
//!   closes the connection (reported as an [`InboundError`] with `closed: true`); a frame
//!   that is cut but does not parse is reported and the connection stays open (the server
//!   may answer 400 on it). CRLFCRLF pings are answered with CRLF, CRLF pongs ignored
//!   (RFC 5626 §4.4.1).
//!
//! # Timers on a stream connection
//!
//! * `header_read_timeout`: a message must be complete within this time after its first
//!   byte (slow-sender defence; a lone CRLF that never becomes a ping is simply dropped).
//! * `idle_timeout`: nothing read or written for this long closes the connection.
//! * After a TLS reload, `stale_idle_timeout` (see below) for old-generation connections.
//! * Writes (including waiting for a concurrent writer) are bounded by `write_timeout`; a
//!   failed or late write closes the connection (it may hold half a message).
//!
//! # Sending
//!
//! [`TransportHandle::send`] takes a [`Transmit`]. UDP leaves from the listener socket of
//! the matching address family (or the one named by `Transmit::local`). Streams use
//! `Transmit::conn` while it is open (responses go back on the connection the request came
//! on, RFC 3261 §18.2.2, TI-7); otherwise the connection table, keyed by
//! (transport, remote address) and holding inbound and outbound connections plus aliases
//! ([`TransportHandle::alias`], RFC 5923-style from the Via sent-by); otherwise a new
//! connection. TLS connections we open present the same certificate as the servers
//! (TI-5), send SNI = `Transmit::server_name` (TI-6) and verify the server certificate
//! against the trust bundle and that name. Failures come back as a typed [`SendError`].
//!
//! # TLS and reload
//!
//! TLS 1.3 and 1.2 only, rustls with the *ring* provider (its default suites cover the GCM
//! suites of TI-1; rustls does not implement the CBC ones). A [`TlsStore`] holds the
//! identity (full chain sent) and the trust bundle; each TLS listener picks a
//! [`ClientAuth`] mode (none, optional, required: rustls' WebPKI client verifier).
//! [`TlsStore::reload`] builds a complete new generation of configs and swaps it
//! atomically (a broken certificate or bundle is refused and the old generation stays).
//! New handshakes, inbound and outbound, use the new generation at once. Connections
//! opened under an old generation are no longer picked from the table for new requests
//! (responses pinned to them still go out on them), and are closed as soon as they have
//! been idle for [`TlsStoreOptions::stale_idle_timeout`] (TI-5), never in the middle of
//! traffic.
//!
//! # DNS
//!
//! [`resolve`] is the async adapter that carries the questions of the pure RFC 3263
//! procedure (`sbc-dns`) to a real resolver; the transport itself only ever sees socket
//! addresses.
//!
//! # Not here
//!
//! SIP semantics (which responses to send for [`InboundError`]s, Via `received`/`rport`,
//! which certificate names to accept from whom), rate limiting per source, WebSocket and
//! SCTP.

mod acl;
mod config;
mod conn;
mod error;
mod handle;
mod listener;
pub mod resolve;
mod shared;
mod stats;
mod tls;
mod types;
mod udp;

pub use acl::{Acl, Cidr, CidrError};
pub use config::{ListenerConfig, OutboundConfig, TransportConfig};
pub use error::{SendError, StartError};
pub use handle::{ConnInfo, TransportHandle};
pub use shared::{ListenerInfo, Picker};
pub use stats::StatsSnapshot;
pub use tls::{
    ClientAuth, TlsError, TlsIdentity, TlsServerConfig, TlsStore, TlsStoreOptions, TrustBundle,
};
pub use types::{ConnId, Event, Inbound, InboundError, Peer, Sent, TlsInfo, Transmit, Transport};

/// Re-exported so configuration code can build DER certificates and keys.
pub use rustls_pki_types as pki_types;
