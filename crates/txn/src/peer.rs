//! Where messages come from and go to. The transaction layer never touches a socket: it
//! names the far end, and the shell's connection table turns the name into I/O.

use core::fmt;
use std::net::SocketAddr;

use bytes::Bytes;

use crate::TxnId;

/// The transport a message travelled on (RFC 3261 §18; RFC 7118 for WebSocket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: unreliable, so the retransmission timers A, E and G run.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// SCTP.
    Sctp,
    /// WebSocket.
    Ws,
    /// Secure WebSocket.
    Wss,
}

impl Transport {
    /// True for transports with reliable delivery: retransmission timers off, the
    /// wait timers D, I, J and K zero (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2).
    #[inline]
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// From a Via transport token (case-insensitive); `None` for unknown transports.
    pub fn from_via(token: &[u8]) -> Option<Transport> {
        const NAMES: [(&[u8], Transport); 6] = [
            (b"UDP", Transport::Udp),
            (b"TCP", Transport::Tcp),
            (b"TLS", Transport::Tls),
            (b"SCTP", Transport::Sctp),
            (b"WS", Transport::Ws),
            (b"WSS", Transport::Wss),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(token))
            .map(|&(_, t)| t)
    }

    /// The Via token.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }
}

/// The far end of a hop: transport plus socket address. On a connection-oriented transport
/// the pair names the connection (the remote address of an accepted connection is unique),
/// so a response goes back over the connection its request came in on (RFC 3261 §18.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Transport.
    pub transport: Transport,
    /// Remote address.
    pub addr: SocketAddr,
}

impl Peer {
    /// A peer.
    #[inline]
    pub fn new(transport: Transport, addr: SocketAddr) -> Peer {
        Peer { transport, addr }
    }

    /// See [`Transport::is_reliable`].
    #[inline]
    pub fn is_reliable(&self) -> bool {
        self.transport.is_reliable()
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport.as_str(), self.addr)
    }
}

/// Bytes to put on the wire, drained with [`crate::Endpoint::poll_transmit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub to: Peer,
    /// One complete SIP message.
    pub bytes: Bytes,
    /// The transaction that sent it (`None` for stateless responses and
    /// [`crate::Endpoint::send_stateless`]). When sending fails, hand it back through
    /// [`crate::Endpoint::handle_transport_error`].
    pub txn: Option<TxnId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports() {
        assert_eq!(Transport::from_via(b"udp"), Some(Transport::Udp));
        assert_eq!(Transport::from_via(b"WSS"), Some(Transport::Wss));
        assert_eq!(Transport::from_via(b"QUIC"), None);
        assert!(!Transport::Udp.is_reliable());
        assert!(Transport::Tls.is_reliable() && Transport::Sctp.is_reliable());
        let p = Peer::new(Transport::Tcp, "192.0.2.9:5060".parse().unwrap());
        assert!(p.is_reliable());
        assert_eq!(p.to_string(), "TCP:192.0.2.9:5060");
        for t in [
            Transport::Udp,
            Transport::Tcp,
            Transport::Tls,
            Transport::Sctp,
            Transport::Ws,
            Transport::Wss,
        ] {
            assert_eq!(Transport::from_via(t.as_str().as_bytes()), Some(t));
        }
    }
}
