//! TLS against a real handshake: an HTTPS server on loopback with certificates of a private CA
//! (tests/tls, made by tests/tls/make.sh). The CA bundle is the only knob: with it the private
//! endpoint works; without it, with another CA's bundle, or for a certificate naming another
//! host, the call fails before any request is sent, as `TlsVerificationFailed`, and is not
//! retried (a certificate does not fix itself between attempts).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hostrisk_hss::{ClientConfig, Credentials, HssClient, HssError, Scope};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;
use url::Url;

const PRIVATE_CA: &[u8] = include_bytes!("tls/private-ca.pem");
const OTHER_CA: &[u8] = include_bytes!("tls/other-ca.pem");
const SECRET_KEY: &str = "tls-test-secret-key-0000000000000000000000";
const PROJECT: &str = "0a1b2c3d4e5f40718293a4b5c6d7e8f9";

const ANSWER: &str = r#"{"total_num":1,"data_list":[{"host_id":"h-1","agent_status":"online","protect_status":"opened","detect_result":"clean","asset":3,"vulnerability":1,"baseline":0,"intrusion":0}]}"#;

/// What the server saw: TCP connections, completed handshakes, HTTP requests.
#[derive(Default)]
struct Seen {
    connections: AtomicU64,
    handshakes: AtomicU64,
    requests: AtomicU64,
}

impl Seen {
    fn get(&self) -> (u64, u64, u64) {
        (
            self.connections.load(Ordering::SeqCst),
            self.handshakes.load(Ordering::SeqCst),
            self.requests.load(Ordering::SeqCst),
        )
    }
}

/// Serves `ANSWER` over TLS with the certificate `name` (tests/tls/<name>.pem and .key); one
/// request per connection, like a gateway answering `Connection: close`.
async fn https_server(name: &str) -> (Url, Arc<Seen>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls");
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join(format!("{name}.pem")))
            .expect("cert file")
            .collect::<Result<_, _>>()
            .expect("cert pem");
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("{name}.key"))).expect("key pem");
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Seen::default());
    let counters = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counters.connections.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let counters = Arc::clone(&counters);
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                counters.handshakes.fetch_add(1, Ordering::SeqCst);
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                counters.requests.fetch_add(1, Ordering::SeqCst);
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: tls-req-1\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{ANSWER}",
                    ANSWER.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    let url = Url::parse(&format!("https://127.0.0.1:{port}/")).expect("url");
    (url, seen)
}

fn client(ca: Option<&[u8]>) -> HssClient {
    HssClient::new(ClientConfig {
        extra_ca_pem: ca.map(<[u8]>::to_vec),
        calls_per_minute: 1000,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        ..ClientConfig::default()
    })
    .expect("client")
}

async fn query(client: &HssClient, endpoint: &Url) -> Result<usize, HssError> {
    let scope = Scope::for_endpoint(endpoint.clone(), PROJECT, None).expect("scope");
    let credentials = Credentials::ak_sk("TLSTESTACCESSKEY0001", SECRET_KEY);
    client
        .list_hosts_risk(&scope, &credentials, &["h-1".to_string()])
        .await
        .map(|result| result.hosts.len())
}

/// Asserts a refused certificate: the documented reason, a message naming the fix and no
/// secret, one handshake attempt and no request.
async fn assert_refused(ca: Option<&[u8]>, certificate: &str, why: &str) {
    let (endpoint, seen) = https_server(certificate).await;
    let error = query(&client(ca), &endpoint)
        .await
        .expect_err("the certificate must be refused");
    assert_eq!(error.reason(), "TlsVerificationFailed", "{why}: {error}");
    assert!(!error.is_retryable(), "{why}");
    let message = error.to_string();
    assert!(message.contains("--ca-bundle"), "{why}: {message}");
    assert!(!message.contains(SECRET_KEY), "{why}: {message}");
    // The server may not have finished counting the refused handshake yet.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (connections, handshakes, requests) = seen.get();
    assert_eq!(connections, 1, "{why}: one attempt, no retry loop");
    assert_eq!(handshakes, 0, "{why}: the handshake never completed");
    assert_eq!(requests, 0, "{why}: no signed request left the client");
}

#[tokio::test]
async fn the_private_ca_bundle_makes_a_private_endpoint_work() {
    let (endpoint, seen) = https_server("server").await;
    let hosts = query(&client(Some(PRIVATE_CA)), &endpoint)
        .await
        .expect("trusted through the bundle");
    assert_eq!(hosts, 1);
    assert_eq!(seen.get(), (1, 1, 1));
}

#[tokio::test]
async fn without_the_bundle_the_private_certificate_is_refused() {
    assert_refused(None, "server", "built-in roots only").await;
}

#[tokio::test]
async fn another_cas_bundle_does_not_help() {
    assert_refused(Some(OTHER_CA), "server", "unrelated CA").await;
}

#[tokio::test]
async fn a_trusted_certificate_for_another_host_name_is_refused() {
    assert_refused(Some(PRIVATE_CA), "wrong-host", "host name checked").await;
}
