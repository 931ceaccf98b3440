//! DNS target resolution for outbound SIP: the async shell around the pure RFC 3263
//! procedure of `sbc-dns`.
//!
//! `sbc_dns::Lookup` decides which questions to ask (NAPTR, SRV, A/AAAA) and orders the
//! answers into a failover list; this module only carries questions to a real resolver
//! (`hickory-resolver` on tokio: the system `resolv.conf`, or configured name servers) and
//! the answers back, through one shared [`Cache`] (15-minute cap, negative caching,
//! serve-stale on failure; see `sbc_dns::cache`). Static entries from the configuration are
//! consulted first and never reach DNS.
//!
//! * [`DnsResolver::resolve_uri`] / [`DnsResolver::resolve`]: one target URI to an ordered
//!   `Vec<Target>` for serial failover.
//! * [`DnsResolver::refresh`] / [`DnsResolver::spawn_refresher`]: keep configured names (the
//!   Teams `sip`/`sip2`/`sip3.pstnhub.microsoft.com`, trunk gateways) resolved ahead of
//!   expiry, so calls never wait for DNS and addresses are never pinned (TI-3).
//!
//! hickory's own cache is switched off: one cache, one set of TTL rules. Names are asked
//! fully qualified (no search domains). The cache lock is never held across an await.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hickory_resolver::config::{
    NameServerConfig, NameServerConfigGroup, ResolverConfig, ResolverOpts,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData as HRData, RecordType as HRecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{ResolveError as HResolveError, TokioResolver};
use sbc_dns::{
    Answer, Cache, CachePolicy, Lookup, Name, Naptr, Policy, Query, RData, RandomSource, Record,
    RecordType, ResolveError, Srv, StaticEntries, Target, TargetError, TargetSpec,
};
use tokio::task::JoinSet;

/// Resolver configuration (the server builds it from the typed config).
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// Transports, address families and limits of the procedure.
    pub policy: Policy,
    /// TTL rules of the cache.
    pub cache: CachePolicy,
    /// Static host and SRV entries; they override DNS.
    pub statics: StaticEntries,
    /// Name servers to ask (UDP, with TCP for truncated answers). Empty: the system
    /// configuration (`/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
    /// Time for one attempt at one name server.
    pub timeout: Duration,
    /// Attempts per query.
    pub attempts: usize,
    /// Hard bound on one query, whatever the resolver does; past it the answer is a failure.
    pub query_deadline: Duration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            policy: Policy::default(),
            cache: CachePolicy::default(),
            statics: StaticEntries::new(),
            nameservers: Vec::new(),
            timeout: Duration::from_secs(2),
            attempts: 2,
            query_deadline: Duration::from_secs(10),
        }
    }
}

/// Why a resolver could not be built.
#[derive(Debug)]
pub struct DnsSetupError(HResolveError);

impl fmt::Display for DnsSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read the system DNS configuration: {}", self.0)
    }
}

impl std::error::Error for DnsSetupError {}

/// Why a target URI gave no destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupError {
    /// The URI itself is unusable (not sip/sips, transport disabled...).
    Target(TargetError),
    /// DNS gave nothing usable.
    Resolve(ResolveError),
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::Target(e) => write!(f, "target: {e}"),
            LookupError::Resolve(e) => write!(f, "resolve: {e}"),
        }
    }
}

impl std::error::Error for LookupError {}

impl From<TargetError> for LookupError {
    fn from(e: TargetError) -> Self {
        LookupError::Target(e)
    }
}

impl From<ResolveError> for LookupError {
    fn from(e: ResolveError) -> Self {
        LookupError::Resolve(e)
    }
}

/// SplitMix64 seeded from the process's random hash keys: SRV weighting needs fair
/// spreading, not secrecy.
#[derive(Debug)]
struct SplitMix(u64);

impl SplitMix {
    fn seeded() -> SplitMix {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(0x5b5_d15);
        SplitMix(h.finish())
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl RandomSource for SplitMix {
    fn below(&mut self, bound: u32) -> u32 {
        // Multiply-shift: uniform enough for weights (bias below 2^-32 per draw).
        (((self.next_u64() >> 32) * u64::from(bound)) >> 32) as u32
    }
}

struct Inner {
    /// `None`: offline (static entries and cache only).
    dns: Option<TokioResolver>,
    policy: Policy,
    query_deadline: Duration,
    statics: Mutex<Arc<StaticEntries>>,
    cache: Mutex<Cache>,
    rng: Mutex<SplitMix>,
}

/// The shared resolver: cheap to clone, one cache for every clone.
#[derive(Clone)]
pub struct DnsResolver {
    inner: Arc<Inner>,
}

impl fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsResolver")
            .field("offline", &self.inner.dns.is_none())
            .field("policy", &self.inner.policy)
            .field("cache_entries", &lock(&self.inner.cache).len())
            .finish_non_exhaustive()
    }
}

/// Locks, recovering from poison: the guarded values stay consistent at every await-free
/// step, so a panic elsewhere never makes them unusable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DnsResolver {
    /// A resolver asking `config.nameservers`, or the system's when that is empty. Call from
    /// within a tokio runtime.
    pub fn new(config: DnsConfig) -> Result<DnsResolver, DnsSetupError> {
        let (rc, mut opts) = if config.nameservers.is_empty() {
            hickory_resolver::system_conf::read_system_conf().map_err(DnsSetupError)?
        } else {
            let mut group = Vec::with_capacity(config.nameservers.len() * 2);
            for &addr in &config.nameservers {
                group.push(NameServerConfig::new(addr, Protocol::Udp));
                group.push(NameServerConfig::new(addr, Protocol::Tcp));
            }
            (
                ResolverConfig::from_parts(None, vec![], NameServerConfigGroup::from(group)),
                ResolverOpts::default(),
            )
        };
        opts.timeout = config.timeout;
        opts.attempts = config.attempts.max(1);
        // One cache (ours). Should a cached answer slip through anyway, it is never older
        // than our cap.
        opts.cache_size = 0;
        opts.positive_max_ttl = Some(config.cache.max_ttl);
        opts.negative_max_ttl = Some(config.cache.negative_ttl);
        let mut builder =
            TokioResolver::builder_with_config(rc, TokioConnectionProvider::default());
        *builder.options_mut() = opts;
        Ok(DnsResolver::with_backend(Some(builder.build()), config))
    }

    /// A resolver that never sends a DNS query: static entries and the cache only (labs,
    /// tests). Anything else resolves to [`ResolveError::Unavailable`].
    pub fn offline(config: DnsConfig) -> DnsResolver {
        DnsResolver::with_backend(None, config)
    }

    fn with_backend(dns: Option<TokioResolver>, config: DnsConfig) -> DnsResolver {
        DnsResolver {
            inner: Arc::new(Inner {
                dns,
                policy: config.policy,
                query_deadline: config.query_deadline,
                statics: Mutex::new(Arc::new(config.statics)),
                cache: Mutex::new(Cache::new(config.cache)),
                rng: Mutex::new(SplitMix::seeded()),
            }),
        }
    }

    /// The policy lookups run under.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Replaces the static entries (configuration reload). Lookups in flight keep the old
    /// table.
    pub fn set_statics(&self, statics: StaticEntries) {
        *lock(&self.inner.statics) = Arc::new(statics);
    }

    /// Runs `f` on the cache (inspection, flushing, seeding in tests). Keep it short: every
    /// lookup waits on this lock.
    pub fn with_cache<R>(&self, f: impl FnOnce(&mut Cache) -> R) -> R {
        f(&mut lock(&self.inner.cache))
    }

    /// Resolves a `sip:`/`sips:` URI to its failover list.
    pub async fn resolve_uri(&self, uri: &[u8]) -> Result<Vec<Target>, LookupError> {
        self.resolve(TargetSpec::parse(uri)?).await
    }

    /// Resolves a target to its failover list.
    pub async fn resolve(&self, spec: TargetSpec) -> Result<Vec<Target>, LookupError> {
        let mut lookup = Lookup::new(spec, &self.inner.policy)?;
        self.drive(&mut lookup, Duration::ZERO).await;
        Ok(self.targets(&lookup)?)
    }

    /// Runs `lookup` to completion: static entries, then the cache (entries expiring within
    /// `refresh_margin` count as missing), then DNS, phase by phase, each phase's queries
    /// concurrently. Answers are stored in the cache as they arrive.
    pub async fn drive(&self, lookup: &mut Lookup, refresh_margin: Duration) {
        // Each pass either finishes the lookup or answers every pending query; the
        // procedure has at most three phases, so this bound is never reached.
        for _ in 0..8 {
            if lookup.is_done() {
                return;
            }
            let queries = {
                let statics = Arc::clone(&lock(&self.inner.statics));
                let cache = lock(&self.inner.cache);
                lookup.advance_with(Instant::now(), &cache, &statics, refresh_margin)
            };
            if queries.is_empty() {
                continue;
            }
            let answers = self.ask_all(queries).await;
            let mut cache = lock(&self.inner.cache);
            let now = Instant::now();
            for (q, a) in answers {
                let a = cache.store(now, &q, a);
                lookup.handle_answer(&q, &a);
            }
        }
    }

    /// The finished lookup's failover list, SRV weights drawn from the shared generator.
    pub fn targets(&self, lookup: &Lookup) -> Result<Vec<Target>, ResolveError> {
        lookup.targets(&mut *lock(&self.inner.rng))
    }

    async fn ask_all(&self, queries: Vec<Query>) -> Vec<(Query, Answer)> {
        let Some(resolver) = &self.inner.dns else {
            return queries.into_iter().map(|q| (q, Answer::Failed)).collect();
        };
        let deadline = self.inner.query_deadline;
        let mut set = JoinSet::new();
        for q in queries.iter().cloned() {
            let r = resolver.clone();
            set.spawn(async move {
                let a = match tokio::time::timeout(deadline, ask(&r, &q)).await {
                    Ok(a) => a,
                    Err(_) => {
                        tracing::debug!(
                            name = %q.name,
                            rtype = q.rtype.as_str(),
                            "DNS query deadline passed"
                        );
                        Answer::Failed
                    }
                };
                (q, a)
            });
        }
        let mut out = Vec::with_capacity(queries.len());
        while let Some(r) = set.join_next().await {
            // A panicking or cancelled task leaves its query unanswered here; it is
            // answered as failed below.
            if let Ok(pair) = r {
                out.push(pair);
            }
        }
        for q in queries {
            if !out.iter().any(|(a, _)| *a == q) {
                out.push((q, Answer::Failed));
            }
        }
        out
    }

    /// Re-resolves `targets`, asking DNS again for every answer that expires within
    /// `margin`, and returns when the next refresh is due: `margin` before the earliest
    /// positive cache entry they use expires (`None` when none has one, e.g. all static or
    /// all failed).
    pub async fn refresh(&self, targets: &[TargetSpec], margin: Duration) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        for spec in targets {
            let Ok(mut lookup) = Lookup::new(spec.clone(), &self.inner.policy) else {
                continue;
            };
            self.drive(&mut lookup, margin).await;
            if let Err(e) = self.targets(&lookup) {
                tracing::warn!(
                    target_name = %spec.server_name,
                    error = %e,
                    "DNS refresh found no target"
                );
            }
            let due = lock(&self.inner.cache).next_refresh(lookup.asked(), margin);
            next = match (next, due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        next
    }

    /// Spawns a task that keeps `targets` resolved: [`DnsResolver::refresh`], then sleep
    /// until the next refresh is due (never less than `opts.min_interval`, never more than
    /// `opts.max_interval`; `opts.retry_interval` when nothing is cached positively).
    /// Dropping the handle stops the task.
    pub fn spawn_refresher(&self, targets: Vec<TargetSpec>, opts: RefreshOptions) -> Refresher {
        let this = self.clone();
        let task = tokio::spawn(async move {
            loop {
                let now = Instant::now();
                let due = this.refresh(&targets, opts.margin).await;
                let wait = due
                    .map_or(opts.retry_interval, |d| d.saturating_duration_since(now))
                    .clamp(opts.min_interval, opts.max_interval.max(opts.min_interval));
                tokio::time::sleep(wait).await;
            }
        });
        Refresher { task }
    }
}

/// How the background refresher paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshOptions {
    /// Re-resolve this long before expiry.
    pub margin: Duration,
    /// Shortest sleep between rounds.
    pub min_interval: Duration,
    /// Longest sleep between rounds (the cache cap makes 900 s the natural maximum).
    pub max_interval: Duration,
    /// Sleep when no positive answer is cached (everything failed, static, or negative).
    pub retry_interval: Duration,
}

impl Default for RefreshOptions {
    fn default() -> Self {
        RefreshOptions {
            margin: Duration::from_secs(30),
            min_interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(900),
            retry_interval: Duration::from_secs(30),
        }
    }
}

/// The background refresher; dropping it (or [`Refresher::stop`]) ends the task.
#[derive(Debug)]
pub struct Refresher {
    task: tokio::task::JoinHandle<()>,
}

impl Refresher {
    /// Stops the task.
    pub fn stop(self) {}

    /// Whether the task has ended (only after a panic, or once stopped).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn to_hickory(t: RecordType) -> HRecordType {
    match t {
        RecordType::A => HRecordType::A,
        RecordType::Aaaa => HRecordType::AAAA,
        RecordType::Srv => HRecordType::SRV,
        RecordType::Naptr => HRecordType::NAPTR,
    }
}

fn name_from(n: &hickory_resolver::Name) -> Option<Name> {
    Name::parse(&n.to_ascii()).ok()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One record from hickory, if it is of a type the procedure uses and well-formed.
fn convert(r: &hickory_resolver::proto::rr::Record) -> Option<Record> {
    let data = match r.data() {
        HRData::A(a) => RData::A(a.0),
        HRData::AAAA(a) => RData::Aaaa(a.0),
        HRData::SRV(s) => RData::Srv(Srv::new(
            s.priority(),
            s.weight(),
            s.port(),
            name_from(s.target())?,
        )),
        HRData::NAPTR(n) => RData::Naptr(Naptr {
            order: n.order(),
            preference: n.preference(),
            flags: text(n.flags()),
            services: text(n.services()),
            regexp: text(n.regexp()),
            replacement: name_from(n.replacement())?,
        }),
        _ => return None,
    };
    Some(Record::new(r.ttl(), data))
}

/// Maps a resolver error to the procedure's vocabulary: NXDOMAIN and NODATA are answers
/// (with their SOA negative TTL); everything else is a failure.
fn negative(e: &HResolveError) -> Answer {
    if let Some(p) = e.proto() {
        if let ProtoErrorKind::NoRecordsFound {
            negative_ttl,
            response_code,
            ..
        } = p.kind()
        {
            return if *response_code == ResponseCode::NXDomain {
                Answer::NxDomain {
                    negative_ttl: *negative_ttl,
                }
            } else {
                Answer::NoData {
                    negative_ttl: *negative_ttl,
                }
            };
        }
    }
    Answer::Failed
}

async fn ask(resolver: &TokioResolver, q: &Query) -> Answer {
    let Ok(name) = hickory_resolver::Name::from_ascii(q.name.to_fqdn()) else {
        return Answer::Failed;
    };
    match resolver.lookup(name, to_hickory(q.rtype)).await {
        Ok(l) => {
            let want = to_hickory(q.rtype);
            let rs: Vec<Record> = l
                .record_iter()
                .filter(|r| r.record_type() == want)
                .filter_map(convert)
                .collect();
            if rs.is_empty() {
                Answer::NoData { negative_ttl: None }
            } else {
                Answer::Records(rs)
            }
        }
        Err(e) => {
            let a = negative(&e);
            if a == Answer::Failed {
                tracing::debug!(
                    name = %q.name,
                    rtype = q.rtype.as_str(),
                    error = %e,
                    "DNS query failed"
                );
            }
            a
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sbc_dns::{RecordType, Transport};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    fn n(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    fn lab() -> StaticEntries {
        let mut st = StaticEntries::new();
        st.add_host(
            n("pbx.lab"),
            [
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ],
        );
        st.add_srv(
            &n("trunk.lab"),
            Transport::Tls,
            vec![
                Srv::new(10, 0, 5061, n("pbx.lab")),
                Srv::new(20, 0, 5062, n("backup.lab")),
            ],
        );
        st.add_host(n("backup.lab"), [IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))]);
        st
    }

    fn config() -> DnsConfig {
        DnsConfig {
            statics: lab(),
            // A loopback port nobody listens on: if anything did reach "DNS", it would fail
            // fast and locally.
            nameservers: vec!["127.0.0.1:9".parse().unwrap()],
            timeout: Duration::from_millis(200),
            attempts: 1,
            query_deadline: Duration::from_secs(2),
            ..DnsConfig::default()
        }
    }

    fn addrs(v: &[Target]) -> Vec<(Transport, String)> {
        v.iter()
            .map(|t| (t.transport, t.addr.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn static_host_via_hickory_backend() {
        let r = DnsResolver::new(config()).unwrap();
        let got = r.resolve_uri(b"sip:pbx.lab").await.unwrap();
        assert_eq!(
            addrs(&got),
            [
                (Transport::Udp, "127.0.0.1:5060".to_owned()),
                (Transport::Udp, "[::1]:5060".to_owned())
            ]
        );
        assert!(got.iter().all(|t| t.server_name == "pbx.lab"));
        // Nothing went to DNS, so nothing was cached.
        assert_eq!(r.with_cache(|c| c.len()), 0);
    }

    #[tokio::test]
    async fn static_srv_gives_ordered_failover() {
        let r = DnsResolver::offline(config());
        let got = r.resolve_uri(b"sips:trunk.lab").await.unwrap();
        assert_eq!(
            addrs(&got),
            [
                (Transport::Tls, "127.0.0.1:5061".to_owned()),
                (Transport::Tls, "[::1]:5061".to_owned()),
                (Transport::Tls, "127.0.0.2:5062".to_owned())
            ]
        );
        assert!(got.iter().all(|t| t.server_name == "trunk.lab"));
    }

    #[tokio::test]
    async fn numeric_and_errors() {
        let r = DnsResolver::offline(config());
        let got = r
            .resolve_uri(b"sip:192.0.2.1:5080;transport=tcp")
            .await
            .unwrap();
        assert_eq!(addrs(&got), [(Transport::Tcp, "192.0.2.1:5080".to_owned())]);
        assert_eq!(
            r.resolve_uri(b"tel:+15551234567").await,
            Err(LookupError::Target(TargetError::NotSip))
        );
        // Offline and not static: unavailable, not "not found".
        assert_eq!(
            r.resolve_uri(b"sip:gw.example.net:5060").await,
            Err(LookupError::Resolve(ResolveError::Unavailable))
        );
        assert!(!LookupError::Resolve(ResolveError::Unavailable)
            .to_string()
            .is_empty());
    }

    #[tokio::test]
    async fn dead_nameserver_is_unavailable() {
        // The configured server is a closed loopback port: the query fails, no network.
        let r = DnsResolver::new(DnsConfig {
            policy: Policy {
                ip: sbc_dns::IpPolicy::V4Only,
                ..Policy::default()
            },
            ..config()
        })
        .unwrap();
        assert_eq!(
            r.resolve_uri(b"sip:gw.example.net:5060").await,
            Err(LookupError::Resolve(ResolveError::Unavailable))
        );
    }

    #[tokio::test]
    async fn cache_answers_without_dns_and_drives_refresh() {
        let r = DnsResolver::offline(config());
        let q = Query::new(n("sip.pstnhub.microsoft.com"), RecordType::A);
        let q6 = Query::new(n("sip.pstnhub.microsoft.com"), RecordType::Aaaa);
        let t0 = Instant::now();
        r.with_cache(|c| {
            c.store(
                t0,
                &q,
                Answer::Records(vec![Record::new(
                    86_400,
                    RData::A(Ipv4Addr::new(52, 114, 148, 0)),
                )]),
            );
            c.store(t0, &q6, Answer::NoData { negative_ttl: None });
        });
        let uri = b"sip:sip.pstnhub.microsoft.com:5061;transport=tls";
        let got = r.resolve_uri(uri).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].transport, Transport::Tls);
        assert_eq!(got[0].addr, "52.114.148.0:5061".parse().unwrap());
        assert_eq!(got[0].server_name, "sip.pstnhub.microsoft.com");
        // The refresher is due `margin` before the capped (900 s) expiry.
        let spec = TargetSpec::parse(uri).unwrap();
        let due = r.refresh(&[spec], Duration::from_secs(30)).await.unwrap();
        let expected = t0 + Duration::from_secs(870);
        assert!(due <= expected && due + Duration::from_secs(1) >= expected);
        // A refresh whose margin covers the whole life asks again; offline, that fails and
        // the still-fresh answer is kept (serve-stale never drops a live entry).
        let spec = TargetSpec::parse(uri).unwrap();
        r.refresh(&[spec], Duration::from_secs(1000)).await;
        assert!(r.resolve_uri(uri).await.is_ok());
    }

    #[tokio::test]
    async fn refresher_runs_and_stops() {
        let r = DnsResolver::offline(config());
        let specs = vec![TargetSpec::parse(b"sips:trunk.lab").unwrap()];
        // Everything static: nothing positive in the cache, refresh says "no deadline".
        assert_eq!(r.refresh(&specs, Duration::from_secs(30)).await, None);
        let h = r.spawn_refresher(specs, RefreshOptions::default());
        tokio::task::yield_now().await;
        assert!(!h.is_finished());
        h.stop();
        r.set_statics(StaticEntries::new());
        assert!(r.resolve_uri(b"sips:trunk.lab").await.is_err());
        assert!(format!("{r:?}").contains("offline: true"));
    }

    #[test]
    fn random_source_stays_in_range() {
        let mut g = SplitMix::seeded();
        for b in [1u32, 2, 7, 101, u32::MAX] {
            for _ in 0..1000 {
                assert!(g.below(b) < b);
            }
        }
    }

    #[test]
    fn hickory_error_mapping() {
        use hickory_resolver::proto::op::Query as HQuery;
        use hickory_resolver::proto::ProtoError;
        let mk = |code| {
            let p = ProtoError::from(ProtoErrorKind::NoRecordsFound {
                query: Box::new(HQuery::new()),
                soa: None,
                ns: None,
                negative_ttl: Some(42),
                response_code: code,
                trusted: true,
                authorities: None,
            });
            HResolveError::from(p)
        };
        assert_eq!(
            negative(&mk(ResponseCode::NXDomain)),
            Answer::NxDomain {
                negative_ttl: Some(42)
            }
        );
        assert_eq!(
            negative(&mk(ResponseCode::NoError)),
            Answer::NoData {
                negative_ttl: Some(42)
            }
        );
        let other = HResolveError::from(ProtoError::from(ProtoErrorKind::Busy));
        assert_eq!(negative(&other), Answer::Failed);
    }

    #[test]
    fn record_conversion() {
        use hickory_resolver::proto::rr::rdata::{A as HA, NAPTR as HNAPTR, SRV as HSRV};
        use hickory_resolver::proto::rr::Record as HRecord;
        let hn = |s: &str| hickory_resolver::Name::from_ascii(s).unwrap();
        let a = HRecord::from_rdata(hn("x.example."), 60, HRData::A(HA(Ipv4Addr::LOCALHOST)));
        assert_eq!(
            convert(&a),
            Some(Record::new(60, RData::A(Ipv4Addr::LOCALHOST)))
        );
        let srv = HRecord::from_rdata(
            hn("_sips._tcp.x.example."),
            30,
            HRData::SRV(HSRV::new(1, 2, 5061, hn("Host.X.Example."))),
        );
        assert_eq!(
            convert(&srv),
            Some(Record::new(
                30,
                RData::Srv(Srv::new(1, 2, 5061, n("host.x.example")))
            ))
        );
        let dot = HRecord::from_rdata(
            hn("_sips._tcp.x.example."),
            30,
            HRData::SRV(HSRV::new(0, 0, 0, hickory_resolver::Name::root())),
        );
        assert_eq!(
            convert(&dot),
            Some(Record::new(30, RData::Srv(Srv::new(0, 0, 0, Name::root()))))
        );
        let naptr = HRecord::from_rdata(
            hn("x.example."),
            300,
            HRData::NAPTR(HNAPTR::new(
                10,
                20,
                b"S".to_vec().into_boxed_slice(),
                b"SIPS+D2T".to_vec().into_boxed_slice(),
                Vec::new().into_boxed_slice(),
                hn("_sips._tcp.x.example."),
            )),
        );
        assert_eq!(
            convert(&naptr),
            Some(Record::new(
                300,
                RData::Naptr(Naptr {
                    order: 10,
                    preference: 20,
                    flags: "S".into(),
                    services: "SIPS+D2T".into(),
                    regexp: String::new(),
                    replacement: n("_sips._tcp.x.example"),
                })
            ))
        );
    }
}
