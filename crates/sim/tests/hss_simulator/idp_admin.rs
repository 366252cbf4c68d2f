//! Identity providers through the admin API, and JWKS fetched from a URL the way a
//! kube-apiserver serves it: HTTPS with the cluster's CA, readable with a bearer token.

use std::sync::Arc;

use hostrisk_sim::hss::{JwksSource, JwksUrl};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

use super::id_tokens::{exchange, idp_config, issuer, sim_with_idp, CLIENT_ID, IDP, ISSUER};
use super::support::*;
use super::*;

const READER_TOKEN: &str = "jwks-reader-bearer-token";

fn tls_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../hss/tests/tls")
}

/// An HTTPS server (certificate for 127.0.0.1 from the test CA of crates/hss/tests/tls) that
/// answers `GET /openid/v1/jwks` with `jwks` when the request carries `Bearer READER_TOKEN`,
/// and 401 with a Kubernetes Status otherwise, like a kube-apiserver.
async fn jwks_server(jwks: Value) -> String {
    let dir = tls_dir();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .expect("cert file")
        .collect::<Result<_, _>>()
        .expect("cert pem");
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("key pem");
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
    let jwks = jwks.to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let jwks = jwks.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                let authorized = text.starts_with("get /openid/v1/jwks ")
                    && text.contains(&format!("authorization: bearer {READER_TOKEN}"));
                let (status, body) = if authorized {
                    ("200 OK", jwks)
                } else {
                    (
                        "401 Unauthorized",
                        r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#
                            .to_string(),
                    )
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/jwk-set+json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    format!("https://127.0.0.1:{port}/openid/v1/jwks")
}

fn ca_pem() -> String {
    std::fs::read_to_string(tls_dir().join("private-ca.pem")).expect("CA")
}

fn fresh_jwt() -> String {
    issuer()
        .service_account_token("team-a", "reader", CLIENT_ID, Duration::from_secs(600))
        .expect("signed")
}

#[tokio::test]
async fn providers_are_managed_through_the_admin_api() {
    let sim = start(unlimited()).await;
    let path = format!("_sim/identity-providers/{IDP}");
    let mut body = serde_json::to_value(idp_config()).expect("json");
    body.as_object_mut().expect("object").remove("id");
    let created = admin(&sim, Method::PUT, &path, Some(body.clone())).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let shown: Value = created.json().await.expect("json");
    assert_eq!(shown["id"], IDP);
    assert_eq!(shown["kids"], json!([issuer().kid()]));
    let replaced = admin(&sim, Method::PUT, &path, Some(body)).await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let listed: Value = admin(&sim, Method::GET, "_sim/identity-providers", None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let jwt = fresh_jwt();
    let project = json!({"id": DEMO_PROJECT_ID});
    let ok = exchange(&sim, Some(IDP), &jwt, project.clone()).await;
    assert_eq!(ok.status(), StatusCode::CREATED);

    // Disable by merge patch: refused; enable: accepted again.
    let patched = admin(&sim, Method::PATCH, &path, Some(json!({"enabled": false}))).await;
    assert_eq!(patched.status(), StatusCode::OK);
    let refused = exchange(&sim, Some(IDP), &jwt, project.clone()).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    admin(&sim, Method::PATCH, &path, Some(json!({"enabled": true}))).await;
    // New rules: team-a is no longer mapped.
    let rules = json!({"rules": [{"subject": "system:serviceaccount:team-b:*", "group": "g"}]});
    admin(&sim, Method::PATCH, &path, Some(rules)).await;
    let unmapped = exchange(&sim, Some(IDP), &jwt, project.clone()).await;
    assert_eq!(unmapped.status(), StatusCode::FORBIDDEN);
    assert_eq!(sim.counters().refusals("unmapped_subject"), 1);

    // Bad configurations are refused with the reason and leave nothing behind.
    let no_keys = json!({"client_id": "c", "issuer": "i", "jwks": {"inline": {"keys": []}}});
    let bad = admin(
        &sim,
        Method::PUT,
        "_sim/identity-providers/other",
        Some(no_keys),
    )
    .await;
    let message = assert_error(bad, StatusCode::BAD_REQUEST, "SIM.0400").await;
    assert!(message.contains("RS256"), "{message}");
    let clash = json!({"id": "x", "client_id": "c", "issuer": "i", "jwks": {"inline": {}}});
    let clash = admin(
        &sim,
        Method::PUT,
        "_sim/identity-providers/other",
        Some(clash),
    )
    .await;
    assert_error(clash, StatusCode::BAD_REQUEST, "SIM.0400").await;

    let deleted = admin(&sim, Method::DELETE, &path, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = admin(&sim, Method::GET, &path, None).await;
    assert_error(gone, StatusCode::NOT_FOUND, "SIM.0404").await;
    let unknown = exchange(&sim, Some(IDP), &jwt, project).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn jwks_is_fetched_over_https_with_the_cluster_ca_and_a_bearer_token() {
    let url = jwks_server(issuer().jwks()).await;
    let source = JwksUrl {
        ca_pem: Some(ca_pem()),
        bearer_token: Some(READER_TOKEN.into()),
        ..JwksUrl::new(url.clone())
    };
    let mut config = idp_config();
    config.jwks = JwksSource::Url(source.clone());
    let sim = start(SimConfig {
        identity_providers: vec![config.clone()],
        ..unlimited()
    })
    .await;
    let jwt = fresh_jwt();
    let ok = exchange(&sim, Some(IDP), &jwt, json!({"id": DEMO_PROJECT_ID})).await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    // The admin API never shows the bearer token.
    let shown = admin(
        &sim,
        Method::GET,
        &format!("_sim/identity-providers/{IDP}"),
        None,
    )
    .await
    .text()
    .await
    .expect("body");
    assert!(!shown.contains(READER_TOKEN), "{shown}");
    assert!(shown.contains(ISSUER), "{shown}");

    // Without the token the fetch is refused, and the error says why.
    let anonymous = JwksUrl {
        ca_pem: Some(ca_pem()),
        ..JwksUrl::new(url.clone())
    };
    config.jwks = JwksSource::Url(anonymous);
    let err = sim
        .set_identity_provider(config.clone())
        .await
        .expect_err("401");
    assert!(err.to_string().contains("HTTP 401"), "{err}");
    // Without the CA the certificate does not verify.
    config.jwks = JwksSource::Url(JwksUrl {
        bearer_token: Some(READER_TOKEN.into()),
        ..JwksUrl::new(url.clone())
    });
    let err = HssSimulator::start(SimConfig {
        identity_providers: vec![config],
        ..unlimited()
    })
    .await
    .expect_err("untrusted certificate");
    assert!(!err.to_string().contains(READER_TOKEN), "{err}");

    // The same through the admin API, with the CA and the token read from files.
    let dir = tempfile::tempdir().expect("temp dir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{READER_TOKEN}\n")).expect("write");
    let by_files = json!({
        "client_id": CLIENT_ID,
        "issuer": ISSUER,
        "jwks": {"url": {
            "url": url,
            "ca_file": tls_dir().join("private-ca.pem"),
            "bearer_token_file": token_file,
        }},
        "rules": [{"subject": "system:serviceaccount:team-a:reader", "group": "g"}],
    });
    let created = admin(
        &sim,
        Method::PUT,
        "_sim/identity-providers/by-files",
        Some(by_files),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let ok = exchange(&sim, Some("by-files"), &jwt, json!({"id": DEMO_PROJECT_ID})).await;
    assert_eq!(ok.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn an_idp_configured_at_start_works_without_the_admin_api() {
    let sim = sim_with_idp().await;
    assert_eq!(sim.identity_providers().len(), 1);
    assert!(sim.remove_identity_provider(IDP).is_some());
    assert!(sim.identity_providers().is_empty());
}
