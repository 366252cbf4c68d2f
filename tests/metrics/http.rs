//! `GET /metrics` over real HTTP on loopback, as Prometheus and curl would fetch it.

use std::time::Duration;

use hostrisk_operator::metrics::{
    metrics_router, HssOutcome, Metrics, MetricsOptions, OPENMETRICS_CONTENT_TYPE,
    PROMETHEUS_TEXT_CONTENT_TYPE,
};
use reqwest::header::{ACCEPT, CONTENT_TYPE};

use super::support::sample;

/// The `Accept` header Prometheus 2.x/3.x sends when scraping.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,\
    application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

async fn serve(metrics: Metrics) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        axum::serve(listener, metrics_router(metrics))
            .await
            .expect("serve");
    });
    (format!("http://{addr}"), task)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

#[tokio::test]
async fn prometheus_scrape_gets_openmetrics_with_live_values() {
    let metrics = Metrics::new(MetricsOptions::default());
    let (base, server) = serve(metrics.clone()).await;
    let client = client();
    let scrape = || async {
        let response = client
            .get(format!("{base}/metrics"))
            .header(ACCEPT, PROMETHEUS_ACCEPT)
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(response.status(), 200);
        let content_type = response.headers()[CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .to_owned();
        (content_type, response.text().await.expect("body"))
    };

    let (content_type, first) = scrape().await;
    assert_eq!(content_type, OPENMETRICS_CONTENT_TYPE);
    assert!(first.ends_with("# EOF\n"));
    assert_eq!(
        sample(&first, "hostrisk_reconciles_total{result=\"ok\"}"),
        Some(0.0)
    );

    metrics.record_hss_request(
        hostrisk_operator::hss::Operation::ListHostsRisk,
        HssOutcome::ServerError,
        Some(503),
        Duration::from_millis(5),
    );
    let (_, second) = scrape().await;
    assert_eq!(
        sample(
            &second,
            "hostrisk_hss_requests_total{operation=\"list_hosts_risk\",outcome=\"server_error\",code=\"503\"}"
        ),
        Some(1.0)
    );
    server.abort();
}

#[tokio::test]
async fn plain_scrapers_get_prometheus_text() {
    let metrics = Metrics::new(MetricsOptions::default());
    metrics.set_leader(true);
    let (base, server) = serve(metrics).await;
    let client = client();
    for accept in [None, Some("*/*"), Some("text/plain;version=0.0.4")] {
        let mut request = client.get(format!("{base}/metrics"));
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        let response = request.send().await.expect("GET /metrics");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            PROMETHEUS_TEXT_CONTENT_TYPE
        );
        let body = response.text().await.expect("body");
        assert!(!body.contains("# EOF"), "{accept:?}");
        assert_eq!(sample(&body, "hostrisk_leader"), Some(1.0));
    }
    let missing = client
        .get(format!("{base}/metric"))
        .send()
        .await
        .expect("GET /metric");
    assert_eq!(missing.status(), 404);
    let post = client
        .post(format!("{base}/metrics"))
        .send()
        .await
        .expect("POST /metrics");
    assert_eq!(post.status(), 405);
    server.abort();
}
