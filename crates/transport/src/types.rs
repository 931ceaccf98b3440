//! The vocabulary shared by the listeners, the connection table and the server: transports,
//! connection handles, peers, inbound events and outbound transmits.

use core::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use sbc_sip::{Message, ParseError};

/// A SIP transport (RFC 3261 §18). WebSockets and SCTP are not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Datagrams; one message per datagram.
    Udp,
    /// A plain TCP stream.
    Tcp,
    /// TLS over TCP (TLS 1.2 and 1.3 only).
    Tls,
}

impl Transport {
    /// True for the stream transports (TCP, TLS).
    pub fn is_stream(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The Via `transport` token (RFC 3261 §20.42): `UDP`, `TCP` or `TLS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// Parses a Via transport token (case-insensitive).
    pub fn from_token(token: &[u8]) -> Option<Transport> {
        if token.eq_ignore_ascii_case(b"udp") {
            Some(Transport::Udp)
        } else if token.eq_ignore_ascii_case(b"tcp") {
            Some(Transport::Tcp)
        } else if token.eq_ignore_ascii_case(b"tls") {
            Some(Transport::Tls)
        } else {
            None
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stream connection handle: unique for the lifetime of one transport endpoint, never
/// reused. Dialogs are never bound to it (TI-7); responses are (RFC 3261 §18.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// Where a message came from (or, for a stream, which connection carries it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The transport it arrived on.
    pub transport: Transport,
    /// The remote address (IPv4-mapped IPv6 addresses are reported as IPv4).
    pub remote: SocketAddr,
    /// Our local address (the listener's for UDP and inbound streams).
    pub local: SocketAddr,
    /// The stream connection, `None` for UDP.
    pub conn: Option<ConnId>,
}

/// What TLS established about a connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsInfo {
    /// DNS names from the subjectAltName of the peer's end-entity certificate, which the
    /// handshake verified against the trust bundle (inbound: the client certificate, empty
    /// when the listener does not ask for one or it was optional and absent; outbound: the
    /// server certificate, also verified against the name dialled). Wildcards are reported
    /// as written (`*.example.com`).
    pub peer_cert_names: Vec<String>,
    /// Inbound: the SNI the client sent. Outbound: the name we dialled.
    pub sni: Option<String>,
}

/// A message that parsed.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// The message (frozen bytes plus spans).
    pub msg: Message,
    /// Where it came from.
    pub peer: Peer,
    /// TLS facts of the connection it arrived on (shared by every message of the
    /// connection).
    pub tls: Option<Arc<TlsInfo>>,
}

/// Bytes that did not parse (or, on a stream, could not be framed).
///
/// UDP: the server may answer 400/513 if enough of the message is readable (never for
/// responses, RFC 3261 §18.1.2). Streams: a framing error (no or bad Content-Length, too
/// large) has already closed the connection; a message that was framed but does not parse
/// leaves the connection open, so the server may answer on `peer.conn`.
#[derive(Debug, Clone)]
pub struct InboundError {
    /// Where it came from.
    pub peer: Peer,
    /// What was wrong.
    pub error: ParseError,
    /// The offending bytes (for a framing error on a stream: what was buffered).
    pub bytes: Bytes,
    /// True when the transport closed the connection because of this error.
    pub closed: bool,
}

/// What the transport delivers to the server, through one bounded channel.
#[derive(Debug, Clone)]
pub enum Event {
    /// A parsed message.
    Message(Inbound),
    /// Bytes that failed to frame or parse.
    Error(InboundError),
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The transport to use.
    pub transport: Transport,
    /// The destination (for a stream: the connection's remote address, used to find or
    /// open one when `conn` is absent or closed).
    pub to: SocketAddr,
    /// Send on this connection if it is still open (responses: RFC 3261 §18.2.2).
    pub conn: Option<ConnId>,
    /// TLS: the SNI to send and the name the server certificate must carry (TI-6). Without
    /// it the IP address of `to` is verified instead.
    pub server_name: Option<String>,
    /// UDP: the local (listener) address to send from; pass [`Peer::local`] for a response.
    /// Without it the first UDP listener of the destination's IP family is used.
    pub local: Option<SocketAddr>,
    /// The serialized message.
    pub bytes: Bytes,
}

impl Transmit {
    /// A message to `to` over `transport`, on whatever connection the table finds or opens.
    pub fn new(transport: Transport, to: SocketAddr, bytes: impl Into<Bytes>) -> Transmit {
        Transmit {
            transport,
            to,
            conn: None,
            server_name: None,
            local: None,
            bytes: bytes.into(),
        }
    }

    /// A response to a message that arrived from `peer`: same connection for streams, same
    /// local socket for UDP. (The server applies RFC 3261 §18.2.2 / RFC 3581 to pick `to`
    /// for UDP; this uses the source address.)
    pub fn reply(peer: &Peer, bytes: impl Into<Bytes>) -> Transmit {
        Transmit {
            transport: peer.transport,
            to: peer.remote,
            conn: peer.conn,
            server_name: None,
            local: Some(peer.local),
            bytes: bytes.into(),
        }
    }

    /// Sets the TLS server name (SNI and verified name).
    pub fn with_server_name(mut self, name: impl Into<String>) -> Transmit {
        self.server_name = Some(name.into());
        self
    }

    /// Sets the connection to prefer.
    pub fn with_conn(mut self, conn: ConnId) -> Transmit {
        self.conn = Some(conn);
        self
    }
}

/// What [`crate::TransportHandle::send`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// The connection used (streams).
    pub conn: Option<ConnId>,
    /// The local address the message left from.
    pub local: SocketAddr,
    /// True when a new connection was opened for this message.
    pub opened: bool,
}

/// Reports IPv4-mapped IPv6 addresses as IPv4 so tables and ACLs see one form.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}
