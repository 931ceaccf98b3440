//! The UDP receive loop: ACL, then parse, then a non-blocking hand-off (a full queue drops
//! the datagram and counts it).

use std::sync::Arc;

use bytes::Bytes;
use sbc_sip::{Framing, Message, ParserConfig};
use tokio::sync::mpsc::error::TrySendError;

use crate::acl::Acl;
use crate::shared::Shared;
use crate::stats::Stats;
use crate::types::{canonical, Event, Inbound, InboundError, Peer, Transport};

/// Largest UDP payload (IPv4: 65 535 − 8 − 20).
pub(crate) const MAX_DATAGRAM: usize = 65_507;

pub(crate) async fn run_udp(shared: Arc<Shared>, index: usize, acl: Acl, parser: ParserConfig) {
    let entry = &shared.udp[index];
    let socket = entry.socket.clone();
    let local = entry.local;
    let mut shutdown = shared.shutdown_rx();
    // One receive buffer for the socket's life; each datagram is copied out at its exact
    // size, so a message held by the server never pins a 64 KiB buffer.
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, src) = tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // ICMP errors surface here on some systems; the socket stays usable.
                    tracing::debug!(%local, error = %e, "UDP receive error");
                    continue;
                }
            },
        };
        let src = canonical(src);
        if !acl.allows(src.ip()) {
            Stats::inc(&shared.stats.acl_drops);
            continue;
        }
        let data = &buf[..n];
        // Empty datagrams and bare CRLF keep-alives (common NAT keep-alives) carry nothing.
        if data.iter().all(|&b| b == b'\r' || b == b'\n') {
            continue;
        }
        Stats::inc(&shared.stats.datagrams_received);
        let peer = Peer {
            transport: Transport::Udp,
            remote: src,
            local,
            conn: None,
        };
        let bytes = Bytes::copy_from_slice(data);
        let ev = match Message::parse_with(bytes.clone(), &parser, Framing::Datagram) {
            Ok(msg) => Event::Message(Inbound {
                msg,
                peer,
                tls: None,
            }),
            Err(error) => Event::Error(InboundError {
                peer,
                error,
                bytes,
                closed: false,
            }),
        };
        let counter = match &ev {
            Event::Message(_) => &shared.stats.messages_in,
            Event::Error(_) => &shared.stats.parse_errors,
        };
        match shared.events.try_send(ev) {
            Ok(()) => Stats::inc(counter),
            Err(TrySendError::Full(_)) => Stats::inc(&shared.stats.datagrams_dropped_queue_full),
            Err(TrySendError::Closed(_)) => return,
        }
    }
}
