//! Consumes the engines' events: call records and refusals.

use std::sync::Arc;

use sbc_b2bua::EngineEvent;
use sbc_config::Config;
use tokio::sync::mpsc;

/// Runs until every shard has dropped its sender.
pub async fn consume(
    mut rx: mpsc::Receiver<(tokio::time::Instant, EngineEvent)>,
    _cfg: Arc<Config>,
) {
    while let Some((_at, ev)) = rx.recv().await {
        if let EngineEvent::Cdr(c) = ev {
            tracing::info!(
                status = c.status,
                trunk_in = c.trunk_in.as_deref().unwrap_or(""),
                trunk_out = c.trunk_out.as_deref().unwrap_or(""),
                "call ended"
            );
        }
    }
}
