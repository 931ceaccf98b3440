//! SIP target resolution (RFC 3263 §4, client side) as a pure, sans-IO procedure.
//!
//! Given a SIP/SIPS URI and a [`Policy`], a [`Lookup`] decides which DNS questions to ask
//! (NAPTR, then SRV, then A/AAAA, or fewer: a numeric host needs none, an explicit port only
//! A/AAAA) and turns the answers into an ordered failover list of [`Target`]s
//! `{ transport, addr, server_name }`. It never performs I/O, reads a clock or draws random
//! numbers itself (architecture principles 1, 4, 12): questions are outputs
//! ([`Lookup::poll_query`]), answers are inputs ([`Lookup::handle_answer`]), `now` is a
//! parameter of the [`Cache`], and SRV weighting takes an injected [`RandomSource`].
//!
//! [`StaticEntries`] from configuration override DNS; the [`Cache`] keeps answers until an
//! absolute expiry with a 15-minute cap (Teams TI-3), a floor, short negative caching and
//! serve-stale on failure. The shell (`transport::resolve`) runs the questions against a
//! real resolver.
//!
//! ```
//! use sbc_dns::{Answer, Cache, Lookup, Policy, RData, Record, StaticEntries, Transport};
//! use std::time::Instant;
//!
//! let now = Instant::now();
//! let mut cache = Cache::default();
//! let statics = StaticEntries::new();
//! let mut l = Lookup::for_uri(
//!     b"sip:sip.pstnhub.microsoft.com:5061;transport=tls",
//!     &Policy::default(),
//! )
//! .unwrap();
//! while !l.is_done() {
//!     for q in l.advance(now, &cache, &statics) {
//!         // The shell asks DNS here; this example answers A with one address, AAAA empty.
//!         let a = match q.rtype {
//!             sbc_dns::RecordType::A => Answer::Records(vec![Record::new(
//!                 300,
//!                 RData::A([52, 114, 14, 70].into()),
//!             )]),
//!             _ => Answer::NoData { negative_ttl: None },
//!         };
//!         let a = cache.store(now, &q, a);
//!         l.handle_answer(&q, &a);
//!     }
//! }
//! let targets = l.targets(&mut |_| 0).unwrap();
//! assert_eq!(targets[0].transport, Transport::Tls);
//! assert_eq!(targets[0].addr, "52.114.14.70:5061".parse().unwrap());
//! assert_eq!(targets[0].server_name, "sip.pstnhub.microsoft.com");
//! ```

pub mod cache;
pub mod lookup;
pub mod name;
pub mod policy;
pub mod record;
pub mod srv;
pub mod statics;

#[cfg(test)]
mod tests;

pub use cache::{Cache, CachePolicy};
pub use lookup::{HostSpec, Lookup, ResolveError, Target, TargetError, TargetSpec};
pub use name::{Name, NameError, Transport};
pub use policy::{IpPolicy, Policy, TransportPrefs};
pub use record::{Answer, Naptr, Query, RData, Record, RecordType, Srv};
pub use srv::{order_srv, RandomSource};
pub use statics::StaticEntries;
