//! State shared by every task of one transport endpoint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::net::UdpSocket;
use tokio::sync::mpsc::error::{SendError, TrySendError};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::config::OutboundConfig;
use crate::conn::{ConnTable, Key};
use crate::stats::Stats;
use crate::types::{Event, Transport};

/// A bound UDP listener socket (also used for UDP sends).
#[derive(Debug)]
pub(crate) struct UdpEntry {
    pub(crate) local: SocketAddr,
    pub(crate) socket: Arc<UdpSocket>,
}

/// A listener as reported by [`crate::TransportHandle::listeners`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerInfo {
    /// Its configured name.
    pub name: String,
    /// Its transport.
    pub transport: Transport,
    /// The address it is bound to (the real port when 0 was configured).
    pub local: SocketAddr,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) table: ConnTable,
    pub(crate) stats: Stats,
    pub(crate) events: Sink,
    pub(crate) udp: Vec<UdpEntry>,
    pub(crate) listeners: Vec<ListenerInfo>,
    pub(crate) outbound: OutboundConfig,
    pub(crate) write_timeout: Duration,
    pub(crate) shutdown_tx: watch::Sender<bool>,
    pub(crate) epoch: Instant,
    /// One connect attempt per destination at a time.
    pub(crate) connecting: DashMap<Key, Arc<tokio::sync::Mutex<()>>>,
}

impl Shared {
    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn shutdown_rx(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        *self.shutdown_tx.borrow()
    }
}

/// Picks the inbound queue of an event (its index modulo the number of queues); see
/// [`crate::TransportHandle::start_sharded`].
pub type Picker = Arc<dyn Fn(&Event) -> usize + Send + Sync>;

/// Where inbound events go: one queue, or one of several picked per event. Delivering to
/// the consumer's own queue from the receiving task saves a task (and a thread wake-up) per
/// message compared with a dispatcher reading one queue and forwarding.
pub(crate) struct Sink {
    queues: Vec<mpsc::Sender<Event>>,
    pick: Option<Picker>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("queues", &self.queues.len())
            .finish_non_exhaustive()
    }
}

impl Sink {
    /// `queues` is never empty (the constructors make at least one).
    pub(crate) fn new(queues: Vec<mpsc::Sender<Event>>, pick: Option<Picker>) -> Sink {
        debug_assert!(!queues.is_empty());
        Sink { queues, pick }
    }

    fn queue(&self, ev: &Event) -> &mpsc::Sender<Event> {
        let i = match &self.pick {
            Some(pick) if self.queues.len() > 1 => pick(ev) % self.queues.len(),
            _ => 0,
        };
        &self.queues[i]
    }

    /// Non-blocking hand-off (datagrams: a full queue drops).
    #[allow(clippy::result_large_err)] // mpsc's own error, returned at once and matched
    pub(crate) fn try_send(&self, ev: Event) -> Result<(), TrySendError<Event>> {
        self.queue(&ev).try_send(ev)
    }

    /// Waits for room in the event's queue (streams: back-pressure).
    pub(crate) async fn send(&self, ev: Event) -> Result<(), SendError<Event>> {
        self.queue(&ev).send(ev).await
    }

    /// Resolves when the consumer is gone (its first queue closed: the consumer drops all
    /// of them when it stops).
    pub(crate) async fn closed(&self) {
        self.queues[0].closed().await;
    }
}
