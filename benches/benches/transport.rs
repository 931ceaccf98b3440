//! Transport shell (`sbc-transport`) on loopback (issue 3).
//!
//! * `transport-throughput/{udp,tcp,tls}-1000-*`: a client `TransportHandle` sends 1 000
//!   OPTIONS (pre-serialized, 276-280 bytes) to a server `TransportHandle`; an iteration ends
//!   when the server's event channel delivered all 1 000 as parsed `Inbound` messages.
//!   `-w64`: at most 64 sent and not yet delivered (UDP needs a bound, see [`WINDOW`]);
//!   `-unpaced`: no bound but TCP's. TLS and TCP use one connection opened before the
//!   measurement (mutual TLS: the listener requires a client certificate and the client
//!   presents the SBC identity); UDP is one datagram per message. TCP is the reference
//!   that shows what TLS adds.
//! * `transport-tls-handshake/{seq,par8}/*`: new connections from a raw tokio-rustls
//!   client to the server's TLS listener, each a TCP connect, a handshake, one OPTIONS
//!   written; a round ends when the server delivered every OPTIONS (so the server finished
//!   its side of each handshake, client-certificate check included). `seq`: one
//!   connection per round, so ops/s is 1 / latency; `par8`: 8 connections at once, the
//!   capacity of the two cores, which also run the client side. `no-client-cert`:
//!   listener `ClientAuth::None`, client resumption disabled (full handshakes);
//!   `client-cert`: listener `ClientAuth::Required`, the client sends its chain (full
//!   handshakes); `resumed-no-client-cert`: the reference with TLS 1.3 session resumption
//!   on (the bench prints how many handshakes really were resumed).
//!
//! Certificates: ECDSA P-256 (rcgen defaults), leaf ← intermediate ← root, full chain
//! sent. Runtime: tokio multi-thread, 2 workers; the benchmark itself drives the sends
//! from `block_on`.

use std::future::{poll_fn, Future};
use std::hint::black_box;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::client::Resumption;
use sbc_transport::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use sbc_transport::{
    ClientAuth, Event, ListenerConfig, TlsIdentity, TlsServerConfig, TlsStore, Transmit, Transport,
    TransportConfig, TransportHandle, TrustBundle,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

/// Messages per throughput iteration.
const BATCH: usize = 1_000;

/// Most messages sent and not yet delivered in the `-w64` benches. Without a bound, a burst
/// of 1 000 datagrams overflows the server socket's default receive buffer (208 KiB here)
/// and the kernel drops most of it (`RcvbufErrors`). TCP and TLS run with the same bound
/// (like for like) and unpaced (`-unpaced`: window = `BATCH`, TCP flow control only).
const WINDOW: usize = 64;

/// The server certificate's name (SNI and verified name).
const SERVER_NAME: &str = "sbc.example.com";

/// Longest wait for one expected event before the bench gives up.
const WAIT: Duration = Duration::from_secs(5);

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(10)
        .noise_threshold(0.05)
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

// ----- PKI (as crates/transport/tests/common) --------------------------------------------

struct Pki {
    root: Certificate,
    inter: Certificate,
    inter_key: KeyPair,
}

struct Issued {
    chain_pem: String,
    key_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key_der: Vec<u8>,
}

impl Issued {
    fn identity(&self) -> TlsIdentity {
        TlsIdentity::from_pem(self.chain_pem.as_bytes(), self.key_pem.as_bytes()).expect("identity")
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
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
    fn new() -> Pki {
        let root_key = KeyPair::generate().expect("key");
        let root = ca_params("Bench Root")
            .self_signed(&root_key)
            .expect("root");
        let inter_key = KeyPair::generate().expect("key");
        let inter = ca_params("Bench Intermediate")
            .signed_by(&inter_key, &root, &root_key)
            .expect("intermediate");
        Pki {
            root,
            inter,
            inter_key,
        }
    }

    fn bundle(&self) -> TrustBundle {
        TrustBundle::from_pem(self.root.pem().as_bytes()).expect("bundle")
    }

    /// A leaf usable as server and client certificate.
    fn issue(&self, name: &str) -> Issued {
        let mut p = CertificateParams::new(vec![name.to_owned()]).expect("params");
        p.distinguished_name.push(DnType::CommonName, name);
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("key");
        let leaf = p
            .signed_by(&key, &self.inter, &self.inter_key)
            .expect("leaf");
        Issued {
            chain_pem: format!("{}{}", leaf.pem(), self.inter.pem()),
            key_pem: key.serialize_pem(),
            chain: vec![leaf.der().clone(), self.inter.der().clone()],
            key_der: key.serialize_der(),
        }
    }

    fn store(&self, leaf: &Issued) -> TlsStore {
        TlsStore::new(leaf.identity(), self.bundle()).expect("store")
    }

    /// A raw rustls client trusting this root, with an optional client certificate.
    fn raw_client(&self, client: Option<&Issued>, resume: bool) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.root.der().clone()).expect("root");
        let b = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("versions")
        .with_root_certificates(roots);
        let mut cfg = match client {
            Some(c) => b
                .with_client_auth_cert(c.chain.clone(), c.key())
                .expect("client cert"),
            None => b.with_no_client_auth(),
        };
        if !resume {
            cfg.resumption = Resumption::disabled();
        }
        Arc::new(cfg)
    }
}

// ----- SIP ------------------------------------------------------------------------------

fn options(transport: Transport, n: usize) -> Bytes {
    Bytes::from(format!(
        "OPTIONS sip:sbc.example.com SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 192.0.2.1:5060;branch=z9hG4bK{n:08x}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@example.com>;tag=f{n:x}\r\n\
         To: <sip:sbc.example.com>\r\n\
         Call-ID: {n:08x}@bench.example.com\r\n\
         CSeq: 1 OPTIONS\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

/// Sends `msgs` with at most `window` of them sent but not yet delivered by the server;
/// returns how many were delivered and the time it took.
async fn batch(
    client: &TransportHandle,
    rx: &mut Receiver<Event>,
    msgs: &[Transmit],
    window: usize,
) -> (usize, Duration) {
    let start = Instant::now();
    let (mut sent, mut got) = (0, 0);
    while got < msgs.len() {
        if sent < msgs.len() && sent - got < window {
            client.send(msgs[sent].clone()).await.expect("send");
            sent += 1;
            while let Ok(ev) = rx.try_recv() {
                delivered(ev);
                got += 1;
            }
        } else {
            match timeout(WAIT, rx.recv()).await {
                Ok(Some(ev)) => delivered(ev),
                Ok(None) => panic!("event channel closed"),
                Err(_) => return (got, start.elapsed()),
            }
            got += 1;
        }
    }
    (got, start.elapsed())
}

fn delivered(ev: Event) {
    match ev {
        Event::Message(m) => {
            black_box(m);
        }
        Event::Error(e) => panic!("inbound error: {e:?}"),
    }
}

/// Waits for `n` parsed messages; returns how many came before a `WAIT` of silence.
async fn receive(rx: &mut Receiver<Event>, n: usize) -> usize {
    let mut got = 0;
    while got < n {
        match timeout(WAIT, rx.recv()).await {
            Ok(Some(Event::Message(_))) => got += 1,
            Ok(Some(Event::Error(e))) => panic!("inbound error: {e:?}"),
            Ok(None) => panic!("event channel closed"),
            Err(_) => break,
        }
    }
    got
}

fn listener(name: &str, transport: Transport, tls: Option<TlsServerConfig>) -> ListenerConfig {
    let mut l = ListenerConfig::new(name, transport, "127.0.0.1:0".parse().unwrap());
    l.tls = tls;
    // One source opens thousands of short connections in the handshake bench.
    l.max_connections_per_source = 0;
    l
}

struct Setup {
    server: TransportHandle,
    rx: Receiver<Event>,
    client: TransportHandle,
    pki: Pki,
    client_leaf: Issued,
}

fn start(rt: &Runtime) -> Setup {
    let pki = Pki::new();
    let server_leaf = pki.issue(SERVER_NAME);
    let client_leaf = pki.issue("client.example.com");
    let server_store = pki.store(&server_leaf);
    let tls = |client_auth| {
        Some(TlsServerConfig {
            store: server_store.clone(),
            client_auth,
        })
    };
    let server_cfg = TransportConfig {
        listeners: vec![
            listener("udp", Transport::Udp, None),
            listener("tcp", Transport::Tcp, None),
            listener("tls", Transport::Tls, tls(ClientAuth::Required)),
            listener("tls-noauth", Transport::Tls, tls(ClientAuth::None)),
        ],
        ..TransportConfig::default()
    };
    let mut client_cfg = TransportConfig {
        listeners: vec![listener("udp", Transport::Udp, None)],
        ..TransportConfig::default()
    };
    client_cfg.outbound.tls = Some(pki.store(&client_leaf));
    rt.block_on(async {
        let (server, rx) = TransportHandle::start(server_cfg)
            .await
            .expect("server start");
        let (client, _client_rx) = TransportHandle::start(client_cfg)
            .await
            .expect("client start");
        Setup {
            server,
            rx,
            client,
            pki,
            client_leaf,
        }
    })
}

fn throughput(c: &mut Criterion) {
    let rt = runtime();
    let Setup {
        server,
        mut rx,
        client,
        ..
    } = start(&rt);
    let mut g = c.benchmark_group("transport-throughput");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (name, transport, listener_name, window) in [
        ("udp-1000-w64", Transport::Udp, "udp", WINDOW),
        ("tcp-1000-w64", Transport::Tcp, "tcp", WINDOW),
        ("tls-1000-w64", Transport::Tls, "tls", WINDOW),
        ("tcp-1000-unpaced", Transport::Tcp, "tcp", BATCH),
        ("tls-1000-unpaced", Transport::Tls, "tls", BATCH),
    ] {
        let to: SocketAddr = server.local_addr(listener_name).expect("listener");
        let msgs: Vec<Transmit> = (0..BATCH)
            .map(|n| {
                let t = Transmit::new(transport, to, options(transport, n));
                match transport {
                    Transport::Tls => t.with_server_name(SERVER_NAME),
                    _ => t,
                }
            })
            .collect();
        // Open the stream connection (and do the handshake) before measuring.
        rt.block_on(async {
            client.send(msgs[0].clone()).await.expect("first send");
            assert_eq!(receive(&mut rx, 1).await, 1);
        });
        let mut lost = 0usize;
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (got, took) = rt.block_on(batch(&client, &mut rx, &msgs, window));
                    total += took;
                    lost += BATCH - got;
                }
                total
            })
        });
        assert_eq!(lost, 0, "{name}: messages lost");
    }
    g.finish();
    let stats = server.stats();
    assert_eq!(stats.datagrams_dropped_queue_full, 0);
    assert_eq!(
        server.connection_count(),
        2,
        "one TCP and one TLS connection"
    );
    server.shutdown();
    client.shutdown();
}

/// Handshakes in flight at once in the `par8` benches: enough to keep both cores busy, and
/// no more than the TLS 1.3 tickets the rustls client keeps per server (8), so that every
/// handshake of the resumption reference can resume.
const PAR: usize = 8;

type ClientTls = tokio_rustls::client::TlsStream<TcpStream>;

/// The client side of one new connection: TCP connect, handshake, one OPTIONS written.
async fn connect_once(
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
    to: SocketAddr,
    msg: Bytes,
) -> ClientTls {
    let tcp = TcpStream::connect(to).await.expect("connect");
    let _ = tcp.set_nodelay(true);
    // Close with a reset: tens of thousands of client sockets in TIME_WAIT would make the
    // kernel's search for a free ephemeral port slower run after run.
    let _ = tcp.set_zero_linger();
    let mut tls = connector.connect(name, tcp).await.expect("handshake");
    tls.write_all(&msg).await.expect("write");
    tls.flush().await.expect("flush");
    tls
}

/// After the server delivered the OPTIONS: takes in the session tickets the server sent
/// (TLS 1.3 sends them after the handshake, and only a read processes them) without
/// waiting, as there is no application data; then the connection is dropped.
async fn finish(mut tls: ClientTls) -> Option<rustls::HandshakeKind> {
    let mut buf = [0u8; 64];
    {
        // Poll the read once. (Not `timeout(Duration::ZERO, ..)`: tokio's timer has a 1 ms
        // resolution, and waiting for it would be most of what is measured.)
        let mut read = pin!(tls.read(&mut buf));
        let _ = poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await;
    }
    tls.get_ref().1.handshake_kind()
}

fn handshakes(c: &mut Criterion) {
    let rt = runtime();
    let Setup {
        server,
        mut rx,
        pki,
        client_leaf,
        ..
    } = start(&rt);
    let name = ServerName::try_from(SERVER_NAME).expect("name");
    let msg = options(Transport::Tls, 0);
    let mut g = c.benchmark_group("transport-tls-handshake");
    for (bench, listener_name, cert, resume, par) in [
        ("seq/no-client-cert", "tls-noauth", false, false, 1),
        ("seq/client-cert", "tls", true, false, 1),
        ("par8/no-client-cert", "tls-noauth", false, false, PAR),
        ("par8/client-cert", "tls", true, false, PAR),
        (
            "par8/resumed-no-client-cert",
            "tls-noauth",
            false,
            true,
            PAR,
        ),
    ] {
        let to = server.local_addr(listener_name).expect("listener");
        let cfg = pki.raw_client(cert.then_some(&client_leaf), resume);
        let connector = tokio_rustls::TlsConnector::from(cfg);
        let want = if resume {
            rustls::HandshakeKind::Resumed
        } else {
            rustls::HandshakeKind::Full
        };
        // `par` connections at once; the server delivers one OPTIONS per connection.
        let mut round = || {
            rt.block_on(async {
                let start = Instant::now();
                let tasks: Vec<_> = (0..par)
                    .map(|_| {
                        let c = connect_once(connector.clone(), name.clone(), to, msg.clone());
                        tokio::spawn(c)
                    })
                    .collect();
                assert_eq!(receive(&mut rx, par).await, par, "OPTIONS not delivered");
                let mut matching = 0;
                for t in tasks {
                    let tls = t.await.expect("client task");
                    matching += usize::from(finish(tls).await == Some(want));
                }
                (start.elapsed(), matching)
            })
        };
        // Prime the session cache, then check the handshake kind this variant measures.
        round();
        assert!(round().1 > 0, "{bench}: no {want:?} handshake");
        let (mut total, mut matching) = (0usize, 0usize);
        g.throughput(Throughput::Elements(par as u64));
        g.bench_function(bench, |b| {
            b.iter_custom(|iters| {
                let mut took = Duration::ZERO;
                for _ in 0..iters {
                    let (t, m) = round();
                    took += t;
                    total += par;
                    matching += m;
                }
                took
            })
        });
        eprintln!("{bench}: {matching} of {total} handshakes were {want:?}");
    }
    g.finish();
    server.shutdown();
}

criterion_group! {
    name = benches;
    config = config();
    targets = throughput, handshakes
}
criterion_main!(benches);
