//! Typed errors of starting the transport and of sending.

use core::fmt;
use std::io;
use std::net::SocketAddr;

use crate::types::ConnId;

/// A send failed. Every variant is a transport error in the RFC 3261 §8.1.3.1 / §17 sense
/// (the transaction layer treats it like a 503 / Timer B for failover, TI-18), except the
/// configuration ones ([`SendError::is_config`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SendError {
    /// No UDP listener of the destination's IP family (or none bound to the requested
    /// local address).
    NoUdpSocket {
        /// The destination.
        to: SocketAddr,
    },
    /// A TLS send was asked for but no outbound TLS store is configured.
    NoTlsConfig,
    /// The server name is not a valid DNS name or IP address.
    InvalidServerName(String),
    /// The datagram is larger than UDP can carry.
    TooLarge {
        /// Its size.
        len: usize,
    },
    /// TCP connect failed.
    Connect(io::ErrorKind),
    /// TCP connect did not complete in time.
    ConnectTimeout,
    /// The TLS handshake failed (certificate not trusted, wrong name, protocol...).
    Tls(rustls::Error),
    /// The TLS handshake failed below TLS (connection reset...).
    HandshakeIo(io::ErrorKind),
    /// The TLS handshake did not complete in time.
    HandshakeTimeout,
    /// The connection closed (or was closed) before or while writing.
    Closed(ConnId),
    /// Writing did not complete within `write_timeout`; the connection was closed.
    WriteTimeout(ConnId),
    /// A socket write failed.
    Io(io::ErrorKind),
    /// The transport is shutting down.
    ShuttingDown,
}

impl SendError {
    /// True for errors of configuration or of the request itself rather than of the
    /// network: retrying another target with the same settings will fail the same way.
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            SendError::NoUdpSocket { .. }
                | SendError::NoTlsConfig
                | SendError::InvalidServerName(_)
                | SendError::TooLarge { .. }
                | SendError::ShuttingDown
        )
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NoUdpSocket { to } => write!(f, "no UDP socket to send to {to}"),
            SendError::NoTlsConfig => f.write_str("no outbound TLS configuration"),
            SendError::InvalidServerName(n) => write!(f, "invalid TLS server name {n:?}"),
            SendError::TooLarge { len } => write!(f, "datagram of {len} bytes is too large"),
            SendError::Connect(k) => write!(f, "connect failed: {k}"),
            SendError::ConnectTimeout => f.write_str("connect timed out"),
            SendError::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            SendError::HandshakeIo(k) => write!(f, "TLS handshake failed: {k}"),
            SendError::HandshakeTimeout => f.write_str("TLS handshake timed out"),
            SendError::Closed(c) => write!(f, "connection {c} closed"),
            SendError::WriteTimeout(c) => write!(f, "write on {c} timed out"),
            SendError::Io(k) => write!(f, "send failed: {k}"),
            SendError::ShuttingDown => f.write_str("transport shutting down"),
        }
    }
}

impl std::error::Error for SendError {}

/// The transport could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// A listener could not bind.
    Bind {
        /// Listener name.
        name: String,
        /// Address.
        addr: SocketAddr,
        /// Why.
        error: io::Error,
    },
    /// A TLS listener has no TLS settings.
    MissingTls {
        /// Listener name.
        name: String,
    },
    /// A setting is out of range.
    Invalid {
        /// Listener name (empty for endpoint settings).
        name: String,
        /// What.
        what: &'static str,
    },
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Bind { name, addr, error } => {
                write!(f, "listener {name}: cannot bind {addr}: {error}")
            }
            StartError::MissingTls { name } => write!(f, "listener {name}: TLS settings missing"),
            StartError::Invalid { name, what } => write!(f, "listener {name}: {what}"),
        }
    }
}

impl std::error::Error for StartError {}
