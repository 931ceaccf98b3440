//! Listener and endpoint configuration (typed; the server maps its config file onto these).

use std::net::SocketAddr;
use std::time::Duration;

use sbc_sip::ParserConfig;

use crate::acl::Acl;
use crate::tls::{TlsServerConfig, TlsStore};
use crate::types::Transport;

/// One listening socket.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// A name for logs and [`crate::TransportHandle::local_addr`].
    pub name: String,
    /// UDP, TCP or TLS.
    pub transport: Transport,
    /// Address to bind (port 0 picks one). IPv6 sockets are bound IPv6-only, so
    /// `0.0.0.0:5061` and `[::]:5061` can both be configured.
    pub bind: SocketAddr,
    /// Required for [`Transport::Tls`], ignored otherwise.
    pub tls: Option<TlsServerConfig>,
    /// Source filter, applied before parsing (UDP) or before any read / handshake (streams).
    pub acl: Acl,
    /// Streams: most simultaneous connections from one source IP (0 = unlimited).
    pub max_connections_per_source: usize,
    /// Streams: most simultaneous connections on this listener (0 = unlimited).
    pub max_connections: usize,
    /// TLS: most handshakes in progress at once; further connections wait for a slot
    /// within their `handshake_timeout`.
    pub max_concurrent_handshakes: usize,
    /// TLS: from accept to a completed handshake (including the wait for a slot).
    pub handshake_timeout: Duration,
    /// Streams: a connection on which nothing was read or written for this long is closed.
    pub idle_timeout: Duration,
    /// Streams: a message must be complete within this time after its first byte arrived
    /// (slow-sender defence).
    pub header_read_timeout: Duration,
    /// Message limits (also bound the stream framer).
    pub parser: ParserConfig,
}

impl ListenerConfig {
    /// A listener with the defaults: allow all, 100 connections per source, 10 000 per
    /// listener, 64 concurrent handshakes, 5 s handshake, 180 s idle, 10 s per message,
    /// default parser limits.
    pub fn new(name: impl Into<String>, transport: Transport, bind: SocketAddr) -> Self {
        ListenerConfig {
            name: name.into(),
            transport,
            bind,
            tls: None,
            acl: Acl::allow_all(),
            max_connections_per_source: 100,
            max_connections: 10_000,
            max_concurrent_handshakes: 64,
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(180),
            header_read_timeout: Duration::from_secs(10),
            parser: ParserConfig::default(),
        }
    }

    /// Sets the TLS settings.
    pub fn with_tls(mut self, tls: TlsServerConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Sets the ACL.
    pub fn with_acl(mut self, acl: Acl) -> Self {
        self.acl = acl;
        self
    }
}

/// Connections the SBC opens itself.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// Identity presented as TLS client (TI-5: the same store as the TLS listeners) and
    /// the bundle server certificates are verified against. Without it TLS sends fail.
    pub tls: Option<TlsStore>,
    /// TCP connect.
    pub connect_timeout: Duration,
    /// TLS handshake after connect.
    pub handshake_timeout: Duration,
    /// Idle connections are closed after this long.
    pub idle_timeout: Duration,
    /// A message read on an outbound connection must complete within this time.
    pub header_read_timeout: Duration,
    /// Limits for messages read on outbound connections.
    pub parser: ParserConfig,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            tls: None,
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(180),
            header_read_timeout: Duration::from_secs(10),
            parser: ParserConfig::default(),
        }
    }
}

/// Everything [`crate::TransportHandle::start`] needs.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Sockets to listen on.
    pub listeners: Vec<ListenerConfig>,
    /// Capacity of the inbound event channel. When it is full, UDP datagrams are dropped
    /// (and counted) and stream connections stop reading until there is room.
    pub queue_capacity: usize,
    /// Any write (including waiting for a concurrent writer) must finish within this time;
    /// otherwise the connection is closed and the send fails.
    pub write_timeout: Duration,
    /// Outbound connections.
    pub outbound: OutboundConfig,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            listeners: Vec::new(),
            queue_capacity: 4096,
            write_timeout: Duration::from_secs(5),
            outbound: OutboundConfig::default(),
        }
    }
}
