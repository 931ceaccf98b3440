//! Counters as plain atomics; the server reads a [`StatsSnapshot`] and exports it.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

macro_rules! stats {
    ($( $(#[$doc:meta])* $name:ident ),* $(,)?) => {
        /// Live counters (relaxed atomics).
        #[derive(Debug, Default)]
        pub(crate) struct Stats {
            $( pub(crate) $name: AtomicU64, )*
        }

        /// A point-in-time copy of the counters.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct StatsSnapshot {
            $( $(#[$doc])* pub $name: u64, )*
        }

        impl Stats {
            pub(crate) fn snapshot(&self) -> StatsSnapshot {
                StatsSnapshot {
                    $( $name: self.$name.load(Relaxed), )*
                }
            }
        }
    };
}

stats! {
    /// Stream connections open now (gauge).
    connections_open,
    /// Stream connections accepted (passed ACL and caps).
    connections_accepted,
    /// Stream connections opened by us.
    connections_opened,
    /// Outbound connect or handshake failures.
    connect_failures,
    /// TLS handshakes completed (both directions).
    handshakes_ok,
    /// TLS handshakes failed (both directions).
    handshakes_failed,
    /// TLS handshakes that did not finish in time (inbound; also counted as failed).
    handshake_timeouts,
    /// Datagrams and connections refused by an ACL.
    acl_drops,
    /// Connections refused by the per-source or per-listener cap.
    connection_limit_drops,
    /// Streams closed because a message exceeded `max_message_size`.
    oversize_closes,
    /// Streams closed because a message could not be framed (no or bad Content-Length).
    invalid_frame_closes,
    /// Streams closed because a message did not complete within `header_read_timeout`.
    slow_sender_closes,
    /// Streams closed after `idle_timeout`.
    idle_closes,
    /// TLS connections of an old generation closed once idle after a reload.
    stale_closes,
    /// Datagrams received (after the ACL).
    datagrams_received,
    /// Datagrams dropped because the inbound queue was full.
    datagrams_dropped_queue_full,
    /// Messages delivered to the server.
    messages_in,
    /// Messages that failed to parse (delivered as `Event::Error`).
    parse_errors,
    /// CRLFCRLF pings answered.
    keepalive_pings,
    /// Messages sent.
    messages_out,
    /// Sends that failed.
    send_errors,
}

impl Stats {
    pub(crate) fn inc(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }

    pub(crate) fn dec(c: &AtomicU64) {
        c.fetch_sub(1, Relaxed);
    }
}
