//! TLS material and its reloadable store (TI-1, TI-5, TI-6).
//!
//! A [`TlsStore`] holds one *generation*: the SBC identity (certificate chain + key, the same
//! one presented as server and as client, TI-5), the trust bundle, and the rustls configs
//! built from them (one server config per client-auth mode, one client config). A reload
//! builds a complete new generation first and swaps it in atomically only if every config
//! built; a broken certificate or bundle leaves the running generation untouched.
//!
//! New handshakes always use the current generation. Connections remember the generation
//! they were opened under; when it is superseded they are closed as soon as they have been
//! idle for [`TlsStoreOptions::stale_idle_timeout`] (short, so busy connections are not cut
//! mid-transaction and idle ones do not linger with an old certificate).

use core::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::watch;

/// How a TLS listener treats client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ClientAuth {
    /// Do not ask for one.
    None,
    /// Ask; accept connections without one, but a certificate that is presented must
    /// verify against the trust bundle.
    Optional,
    /// Require one that verifies against the trust bundle (TI-5, TI-20).
    #[default]
    Required,
}

impl ClientAuth {
    fn index(self) -> usize {
        match self {
            ClientAuth::None => 0,
            ClientAuth::Optional => 1,
            ClientAuth::Required => 2,
        }
    }
}

/// Per-listener TLS settings.
#[derive(Debug, Clone)]
pub struct TlsServerConfig {
    /// The identity and trust bundle (shared with the outbound side and other listeners).
    pub store: TlsStore,
    /// Client certificate policy.
    pub client_auth: ClientAuth,
}

/// Why TLS material was refused.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM section could not be decoded.
    Pem(String),
    /// No certificate in the chain.
    NoCertificate,
    /// No private key found.
    NoPrivateKey,
    /// The trust bundle holds no usable certificate.
    EmptyTrustBundle,
    /// A trust bundle certificate was rejected.
    BadTrustAnchor(String),
    /// rustls refused the material (key does not match the certificate, unsupported key...).
    Rustls(rustls::Error),
    /// The certificate verifier could not be built.
    Verifier(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Pem(e) => write!(f, "PEM: {e}"),
            TlsError::NoCertificate => f.write_str("no certificate in the chain"),
            TlsError::NoPrivateKey => f.write_str("no private key"),
            TlsError::EmptyTrustBundle => f.write_str("trust bundle holds no certificate"),
            TlsError::BadTrustAnchor(e) => write!(f, "trust anchor refused: {e}"),
            TlsError::Rustls(e) => write!(f, "TLS: {e}"),
            TlsError::Verifier(e) => write!(f, "verifier: {e}"),
        }
    }
}

impl std::error::Error for TlsError {}

impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> Self {
        TlsError::Rustls(e)
    }
}

/// The crypto provider every config uses (ring).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS 1.3 and 1.2 only (TI-1).
const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The SBC certificate chain (leaf first, then intermediates: the full chain is sent, TI-5)
/// and its private key, checked to match.
#[derive(Clone)]
pub struct TlsIdentity {
    key: Arc<CertifiedKey>,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("names", &self.names())
            .field("chain_len", &self.key.cert.len())
            .finish()
    }
}

impl TlsIdentity {
    /// From DER: the chain (leaf first) and the key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<TlsIdentity, TlsError> {
        if chain.is_empty() {
            return Err(TlsError::NoCertificate);
        }
        let key = CertifiedKey::from_der(chain, key, &provider())?;
        Ok(TlsIdentity { key: Arc::new(key) })
    }

    /// From PEM: every `CERTIFICATE` block of `chain_pem` (leaf first) and the first
    /// private key block of `key_pem`.
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<TlsIdentity, TlsError> {
        let chain = CertificateDer::pem_slice_iter(chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Pem(e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
            rustls_pki_types::pem::Error::NoItemsFound => TlsError::NoPrivateKey,
            e => TlsError::Pem(e.to_string()),
        })?;
        TlsIdentity::from_der(chain, key)
    }

    /// The DNS names of the leaf certificate's subjectAltName.
    pub fn names(&self) -> Vec<String> {
        self.key
            .cert
            .first()
            .map(cert_dns_names)
            .unwrap_or_default()
    }

    /// The chain, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.key.cert
    }
}

/// The certificates peers are verified against (TI-5: DigiCert Global Root G2 and
/// Baltimore CyberTrust Root toward Microsoft, configured by the operator).
#[derive(Clone)]
pub struct TrustBundle {
    roots: Arc<RootCertStore>,
}

impl fmt::Debug for TrustBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustBundle")
            .field("anchors", &self.roots.len())
            .finish()
    }
}

impl TrustBundle {
    /// From DER certificates; every one must be a usable trust anchor.
    pub fn from_der(
        certs: impl IntoIterator<Item = CertificateDer<'static>>,
    ) -> Result<TrustBundle, TlsError> {
        let mut roots = RootCertStore::empty();
        for c in certs {
            roots
                .add(c)
                .map_err(|e| TlsError::BadTrustAnchor(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(TlsError::EmptyTrustBundle);
        }
        Ok(TrustBundle {
            roots: Arc::new(roots),
        })
    }

    /// From every `CERTIFICATE` block of a PEM bundle.
    pub fn from_pem(pem: &[u8]) -> Result<TrustBundle, TlsError> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Pem(e.to_string()))?;
        TrustBundle::from_der(certs)
    }

    /// Number of trust anchors.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// True when there is no anchor (never, for a bundle built by this crate).
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }
}

/// Knobs of a [`TlsStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsStoreOptions {
    /// After a reload, a connection opened under an older generation is closed once it has
    /// been idle (nothing read or written) for this long. Default 5 s.
    pub stale_idle_timeout: Duration,
}

impl Default for TlsStoreOptions {
    fn default() -> Self {
        TlsStoreOptions {
            stale_idle_timeout: Duration::from_secs(5),
        }
    }
}

/// One immutable set of TLS configs.
pub(crate) struct Generation {
    pub(crate) id: u64,
    identity: TlsIdentity,
    trust: TrustBundle,
    server: [Arc<ServerConfig>; 3],
    pub(crate) client: Arc<ClientConfig>,
}

impl Generation {
    fn build(id: u64, identity: TlsIdentity, trust: TrustBundle) -> Result<Generation, TlsError> {
        let p = provider();
        let server_with = |verifier: Option<
            Arc<dyn rustls::server::danger::ClientCertVerifier>,
        >| {
            let b =
                ServerConfig::builder_with_provider(p.clone()).with_protocol_versions(VERSIONS)?;
            let b = match verifier {
                Some(v) => b.with_client_cert_verifier(v),
                None => b.with_no_client_auth(),
            };
            let cfg = b.with_cert_resolver(Arc::new(SingleCertAndKey::from(identity.key.clone())));
            Ok::<_, TlsError>(Arc::new(cfg))
        };
        let optional = WebPkiClientVerifier::builder_with_provider(trust.roots.clone(), p.clone())
            .allow_unauthenticated()
            .build()
            .map_err(|e| TlsError::Verifier(e.to_string()))?;
        let required = WebPkiClientVerifier::builder_with_provider(trust.roots.clone(), p.clone())
            .build()
            .map_err(|e| TlsError::Verifier(e.to_string()))?;
        let server = [
            server_with(None)?,
            server_with(Some(optional))?,
            server_with(Some(required))?,
        ];
        let server_verifier =
            WebPkiServerVerifier::builder_with_provider(trust.roots.clone(), p.clone())
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
        let client = ClientConfig::builder_with_provider(p)
            .with_protocol_versions(VERSIONS)?
            .with_webpki_verifier(server_verifier)
            .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(identity.key.clone())));
        Ok(Generation {
            id,
            identity,
            trust,
            server,
            client: Arc::new(client),
        })
    }

    pub(crate) fn server(&self, auth: ClientAuth) -> Arc<ServerConfig> {
        self.server[auth.index()].clone()
    }
}

struct StoreInner {
    current: ArcSwap<Generation>,
    generation_tx: watch::Sender<u64>,
    reload_lock: Mutex<()>,
    options: TlsStoreOptions,
}

/// The reloadable TLS identity + trust bundle, shared by TLS listeners and outbound
/// connections. Cheap to clone.
#[derive(Clone)]
pub struct TlsStore {
    inner: Arc<StoreInner>,
}

impl fmt::Debug for TlsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = self.inner.current.load();
        f.debug_struct("TlsStore")
            .field("generation", &g.id)
            .field("identity", &g.identity)
            .field("trust", &g.trust)
            .finish()
    }
}

impl TlsStore {
    /// A store with default options.
    pub fn new(identity: TlsIdentity, trust: TrustBundle) -> Result<TlsStore, TlsError> {
        TlsStore::with_options(identity, trust, TlsStoreOptions::default())
    }

    /// A store with explicit options.
    pub fn with_options(
        identity: TlsIdentity,
        trust: TrustBundle,
        options: TlsStoreOptions,
    ) -> Result<TlsStore, TlsError> {
        let g = Generation::build(1, identity, trust)?;
        let (generation_tx, _) = watch::channel(1);
        Ok(TlsStore {
            inner: Arc::new(StoreInner {
                current: ArcSwap::from_pointee(g),
                generation_tx,
                reload_lock: Mutex::new(()),
                options,
            }),
        })
    }

    /// Replaces the identity and/or the trust bundle (`None` keeps the current one). The
    /// new generation is built completely before it is swapped in; on error nothing
    /// changes. Returns the new generation number.
    pub fn reload(
        &self,
        identity: Option<TlsIdentity>,
        trust: Option<TrustBundle>,
    ) -> Result<u64, TlsError> {
        // One reload at a time so generation numbers stay monotonic. A poisoned lock only
        // means another reload panicked; the store itself is still consistent.
        let _guard = self
            .inner
            .reload_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let cur = self.inner.current.load_full();
        let id = cur.id + 1;
        let g = Generation::build(
            id,
            identity.unwrap_or_else(|| cur.identity.clone()),
            trust.unwrap_or_else(|| cur.trust.clone()),
        )?;
        self.inner.current.store(Arc::new(g));
        self.inner.generation_tx.send_replace(id);
        tracing::info!(generation = id, "TLS material reloaded");
        Ok(id)
    }

    /// The current generation number (1 at creation, +1 per successful reload).
    pub fn generation(&self) -> u64 {
        self.inner.current.load().id
    }

    /// The current identity.
    pub fn identity(&self) -> TlsIdentity {
        self.inner.current.load().identity.clone()
    }

    /// The options.
    pub fn options(&self) -> TlsStoreOptions {
        self.inner.options
    }

    pub(crate) fn current(&self) -> Arc<Generation> {
        self.inner.current.load_full()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.generation_tx.subscribe()
    }
}

/// DNS names in a certificate's subjectAltName (empty when it does not parse).
pub(crate) fn cert_dns_names(cert: &CertificateDer<'_>) -> Vec<String> {
    match webpki::EndEntityCert::try_from(cert) {
        Ok(ee) => ee.valid_dns_names().map(str::to_owned).collect(),
        Err(_) => Vec::new(),
    }
}
