//! Helpers for the loopback tests: a test PKI made with rcgen at run time, SIP text
//! builders, endpoint starters and bounded waits (every wait fails the test after a few
//! seconds instead of hanging it).

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use sbc_sip::Message;
use sbc_transport::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use sbc_transport::{
    Event, Inbound, InboundError, ListenerConfig, TlsIdentity, TlsStore, TlsStoreOptions,
    Transport, TransportConfig, TransportHandle, TrustBundle,
};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

/// How long any single expected event may take.
pub const WAIT: Duration = Duration::from_secs(5);

/// Awaits `f`, failing the test after [`WAIT`].
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    match timeout(WAIT, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Polls `cond` until it holds (for counters, which have no event to await).
pub async fn eventually(what: &str, cond: impl Fn() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

// ----- PKI ------------------------------------------------------------------------------

/// A root CA and an intermediate CA; leaves are issued by the intermediate, so a
/// handshake only verifies when the full chain is sent.
pub struct Pki {
    root: Certificate,
    inter: Certificate,
    inter_key: KeyPair,
}

/// A leaf certificate with its chain and key.
pub struct Issued {
    pub chain_pem: String,
    pub key_pem: String,
    pub chain: Vec<CertificateDer<'static>>,
    pub key_der: Vec<u8>,
}

impl Issued {
    pub fn identity(&self) -> TlsIdentity {
        TlsIdentity::from_pem(self.chain_pem.as_bytes(), self.key_pem.as_bytes()).unwrap()
    }

    pub fn leaf(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }

    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let root_key = KeyPair::generate().unwrap();
        let root = ca_params(&format!("{name} Root"))
            .self_signed(&root_key)
            .unwrap();
        let inter_key = KeyPair::generate().unwrap();
        let inter = ca_params(&format!("{name} Intermediate"))
            .signed_by(&inter_key, &root, &root_key)
            .unwrap();
        Pki {
            root,
            inter,
            inter_key,
        }
    }

    pub fn root_pem(&self) -> String {
        self.root.pem()
    }

    pub fn bundle(&self) -> TrustBundle {
        TrustBundle::from_pem(self.root_pem().as_bytes()).unwrap()
    }

    /// A leaf for `names`, usable as server and client certificate (TI-5).
    pub fn issue(&self, names: &[&str]) -> Issued {
        let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        p.distinguished_name.push(DnType::CommonName, names[0]);
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().unwrap();
        let leaf = p.signed_by(&key, &self.inter, &self.inter_key).unwrap();
        Issued {
            chain_pem: format!("{}{}", leaf.pem(), self.inter.pem()),
            key_pem: key.serialize_pem(),
            chain: vec![leaf.der().clone(), self.inter.der().clone()],
            key_der: key.serialize_der(),
        }
    }

    /// A store for `leaf`, trusting this PKI's root.
    pub fn store(&self, leaf: &Issued, stale_idle: Duration) -> TlsStore {
        TlsStore::with_options(
            leaf.identity(),
            self.bundle(),
            TlsStoreOptions {
                stale_idle_timeout: stale_idle,
            },
        )
        .unwrap()
    }
}

/// A raw rustls client (not our transport) trusting `roots`, with an optional client
/// certificate.
pub fn raw_client_config(roots: &Pki, client: Option<&Issued>) -> Arc<rustls::ClientConfig> {
    let mut store = rustls::RootCertStore::empty();
    store.add(roots.root.der().clone()).unwrap();
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
    .unwrap()
    .with_root_certificates(store);
    let cfg = match client {
        Some(c) => b.with_client_auth_cert(c.chain.clone(), c.key()).unwrap(),
        None => b.with_no_client_auth(),
    };
    Arc::new(cfg)
}

/// Connects a raw TLS client to `addr` with SNI `name`.
pub async fn raw_tls_connect(
    cfg: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    name: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(cfg)
        .connect(ServerName::try_from(name.to_owned()).unwrap(), tcp)
        .await
}

// ----- SIP text -------------------------------------------------------------------------

/// An OPTIONS whose Call-ID is `<id>@test`.
pub fn options(transport: Transport, id: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:sbc.example.com SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 192.0.2.1:5060;branch=z9hG4bK{id}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@example.com>;tag=f{id}\r\n\
         To: <sip:sbc.example.com>\r\n\
         Call-ID: {id}@test\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// A 200 OK to `req`.
pub fn ok_for(req: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    sbc_sip::build::response(req, 200, None, Some(b"srv"), &mut out).finish(None, b"");
    out
}

pub fn call_id(msg: &Message) -> String {
    String::from_utf8_lossy(msg.call_id().unwrap()).into_owned()
}

// ----- endpoints ------------------------------------------------------------------------

/// A listener on `bind` (port 0) with test-friendly timeouts.
pub fn listener(name: &str, transport: Transport, bind: &str) -> ListenerConfig {
    ListenerConfig::new(name, transport, bind.parse().unwrap())
}

pub async fn start(
    listeners: Vec<ListenerConfig>,
    outbound_tls: Option<TlsStore>,
) -> (TransportHandle, Receiver<Event>) {
    let mut cfg = TransportConfig {
        listeners,
        ..TransportConfig::default()
    };
    cfg.outbound.tls = outbound_tls;
    TransportHandle::start(cfg).await.unwrap()
}

pub async fn next_event(rx: &mut Receiver<Event>) -> Event {
    within("an inbound event", rx.recv())
        .await
        .expect("event channel closed")
}

pub async fn next_msg(rx: &mut Receiver<Event>) -> Inbound {
    match next_event(rx).await {
        Event::Message(m) => m,
        Event::Error(e) => panic!("expected a message, got {e:?}"),
    }
}

pub async fn next_error(rx: &mut Receiver<Event>) -> InboundError {
    match next_event(rx).await {
        Event::Error(e) => e,
        Event::Message(m) => panic!("expected an error, got {m:?}"),
    }
}

/// A TCP connection from a chosen loopback source address.
pub async fn connect_from(src: &str, to: SocketAddr) -> TcpStream {
    let s = if to.is_ipv4() {
        TcpSocket::new_v4().unwrap()
    } else {
        TcpSocket::new_v6().unwrap()
    };
    s.bind(format!("{src}:0").parse().unwrap()).unwrap();
    s.connect(to).await.unwrap()
}

/// Reads until the peer closes (EOF or reset); returns what was read before.
pub async fn read_until_closed(s: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
    within("the connection to close", async {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
}
