//! Routing that skips gateways the OPTIONS prober found down.
//!
//! [`HealthRouter`] wraps any [`Router`] and drops the targets whose trunk has a health cell
//! in the shared [`HealthMap`] that is down (gateways without probing have no cell and are
//! always tried). When every target is down a normal call is refused at once with 503
//! (RFC 3261 §21.5.4: temporarily unable; the caller's network may try elsewhere) instead
//! of waiting Timer B on each dead gateway; an emergency call (TI-38..TI-40) is still tried
//! on every target, since a probe's verdict is no reason to refuse it.

use std::sync::Arc;

use sbc_b2bua::{CallClass, RouteDecision, Router};
use sbc_routing::HealthMap;
use sbc_sip::Message;
use sbc_txn::Peer;

/// A router whose target lists leave out the gateways that are down.
#[derive(Debug)]
pub struct HealthRouter<R> {
    inner: R,
    health: Arc<HealthMap>,
}

impl<R: Router> HealthRouter<R> {
    /// Wraps `inner`; `health` is the map the prober records into.
    pub fn new(inner: R, health: Arc<HealthMap>) -> HealthRouter<R> {
        HealthRouter { inner, health }
    }

    fn is_up(&self, trunk: &str) -> bool {
        self.health.get(trunk).is_none_or(|h| h.is_up())
    }
}

impl<R: Router> Router for HealthRouter<R> {
    fn classify(&self, req: &Message, from: Peer) -> CallClass {
        self.inner.classify(req, from)
    }

    fn route(&self, req: &Message, from: Peer) -> RouteDecision {
        match self.inner.route(req, from) {
            RouteDecision::Targets(all) => {
                if all.iter().all(|t| self.is_up(&t.trunk)) {
                    return RouteDecision::Targets(all);
                }
                let up: Vec<_> = all
                    .iter()
                    .filter(|t| self.is_up(&t.trunk))
                    .cloned()
                    .collect();
                if !up.is_empty() {
                    RouteDecision::Targets(up)
                } else if !self.inner.classify(req, from).is_priority() {
                    RouteDecision::Reject {
                        status: 503,
                        reason: Some("No gateway available".into()),
                    }
                } else {
                    RouteDecision::Targets(all)
                }
            }
            reject => reject,
        }
    }

    fn source_trunk(&self, req: &Message, from: Peer) -> Option<String> {
        self.inner.source_trunk(req, from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sbc_b2bua::Target;
    use sbc_txn::Transport;

    #[derive(Debug)]
    struct Fixed {
        trunks: Vec<&'static str>,
        class: CallClass,
    }

    impl Router for Fixed {
        fn classify(&self, _: &Message, _: Peer) -> CallClass {
            self.class
        }

        fn route(&self, _: &Message, _: Peer) -> RouteDecision {
            RouteDecision::Targets(
                self.trunks
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let addr = format!("192.0.2.{}:5060", i + 1).parse().unwrap();
                        Target::new(Peer::new(Transport::Udp, addr), b"sip:x".to_vec(), *t)
                    })
                    .collect(),
            )
        }
    }

    fn invite() -> (Message, Peer) {
        let m = Message::parse(
            &b"INVITE sip:+15551234567@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
               From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\
               Content-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        (
            m,
            Peer::new(Transport::Udp, "198.51.100.1:5060".parse().unwrap()),
        )
    }

    fn trunks(d: RouteDecision) -> Vec<String> {
        match d {
            RouteDecision::Targets(t) => t.into_iter().map(|t| t.trunk).collect(),
            RouteDecision::Reject { status, .. } => vec![status.to_string()],
        }
    }

    #[test]
    fn down_gateways_are_skipped_and_unprobed_ones_kept() {
        let health = Arc::new(HealthMap::new());
        health.cell("a").set_up(false);
        health.cell("b");
        let r = HealthRouter::new(
            Fixed {
                trunks: vec!["a", "b", "unprobed"],
                class: CallClass::Normal,
            },
            health.clone(),
        );
        let (m, from) = invite();
        assert_eq!(trunks(r.route(&m, from)), ["b", "unprobed"]);
        health.cell("a").set_up(true);
        assert_eq!(trunks(r.route(&m, from)), ["a", "b", "unprobed"]);
    }

    #[test]
    fn all_down_is_503_except_for_emergency_calls() {
        let health = Arc::new(HealthMap::new());
        health.cell("a").set_up(false);
        let normal = HealthRouter::new(
            Fixed {
                trunks: vec!["a"],
                class: CallClass::Normal,
            },
            health.clone(),
        );
        let (m, from) = invite();
        assert_eq!(trunks(normal.route(&m, from)), ["503"]);
        let emergency = HealthRouter::new(
            Fixed {
                trunks: vec!["a"],
                class: CallClass::Emergency,
            },
            health,
        );
        assert_eq!(trunks(emergency.route(&m, from)), ["a"]);
    }
}
