//! State shared by every task of one transport endpoint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::net::UdpSocket;
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
    pub(crate) events: mpsc::Sender<Event>,
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
