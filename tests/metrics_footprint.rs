//! What the metrics cost in memory, printed as figures (`--nocapture` shows them): heap bytes
//! per watch for 1,000 watches with every per-watch series, and the heap a scrape over real
//! HTTP adds at its peak. The bounds are loose (an order of magnitude above the figures): they
//! catch a return to per-series storage or to a scrape held in one string, not noise.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hostrisk_operator::crd::HostRiskWatchStatus;
use hostrisk_operator::metrics::{
    metrics_router, Metrics, MetricsOptions, RiskTotals, WatchSnapshot,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to `System` unchanged; the counters are atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const WATCHES: usize = 1_000;

fn status() -> HostRiskWatchStatus {
    let condition = |type_: &str| Condition {
        type_: type_.into(),
        status: "True".into(),
        reason: "Polled".into(),
        message: String::new(),
        observed_generation: Some(1),
        last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
    };
    HostRiskWatchStatus {
        conditions: ["Ready", "CredentialsValid", "ApiReachable"]
            .map(condition)
            .to_vec(),
        ..HostRiskWatchStatus::default()
    }
}

/// A watch of 100 hosts with every category present, as `watch_snapshot` makes them.
fn snapshot() -> WatchSnapshot {
    let by = |pairs: &[(&str, u64)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    WatchSnapshot {
        hosts_by_agent_status: by(&[
            ("online", 97),
            ("offline", 1),
            ("not_installed", 1),
            ("other", 1),
        ]),
        hosts_by_protect_status: by(&[("opened", 99), ("closed", 1)]),
        hosts_by_detect_result: by(&[
            ("risk", 40),
            ("clean", 58),
            ("scanning", 1),
            ("undetected", 1),
        ]),
        risks: RiskTotals {
            asset: 12_000,
            vulnerability: 700,
            baseline: 400,
            intrusion: 3,
        },
        hosts_requested: 100,
        hosts_found: 100,
        hosts_not_found: 0,
        hosts: Vec::new(),
    }
}

fn fill(metrics: &Metrics) {
    let (status, snapshot) = (status(), snapshot());
    let synced = "2026-01-02T03:04:05Z".parse().unwrap_or_default();
    for i in 0..WATCHES {
        let (namespace, name) = (format!("team-{:03}", i % 100), format!("watch-{i:05}"));
        metrics.set_watch_status(&namespace, &name, &status, Duration::from_secs(600));
        metrics.set_watch_gauges(&namespace, &name, &snapshot);
        metrics.set_watch_schedule(&namespace, &name, Duration::from_secs(600), Duration::ZERO);
        metrics.set_watch_last_success(&namespace, &name, synced);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_memory_per_watch_and_per_scrape() {
    let metrics = Metrics::new(MetricsOptions::default());
    let empty = LIVE.load(Ordering::Relaxed);
    fill(&metrics);
    let held = LIVE.load(Ordering::Relaxed).saturating_sub(empty);
    let per_watch = held / WATCHES;
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let text = metrics.encode().expect("encode");
    // For comparison: the text in one string, as `/metrics` once answered.
    let one_string_peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let series = text.lines().filter(|l| !l.starts_with('#')).count();
    let text_bytes = text.len();
    drop(text);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = metrics_router(metrics.clone());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::new();
    // One scrape to warm up the connection, then the one measured.
    let mut scraped = 0;
    for _ in 0..2 {
        // Let the server drop the previous answer before the baseline is taken.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let mut response = client
            .get(format!("http://{addr}/metrics"))
            .header("accept", "application/openmetrics-text")
            .send()
            .await
            .expect("scrape");
        // Read as a scraper that parses as it goes: chunk by chunk, nothing kept.
        scraped = 0;
        while let Some(chunk) = response.chunk().await.expect("body") {
            scraped += chunk.len();
        }
        let _ = PEAK.fetch_sub(base, Ordering::Relaxed);
    }
    let scrape_peak = PEAK.load(Ordering::Relaxed);
    server.abort();

    println!(
        "metrics_heap_per_watch_bytes={per_watch} watches={WATCHES} series={series} \
         text_bytes={text_bytes} one_string_peak_heap_bytes={one_string_peak} \
         scraped_bytes={scraped} scrape_peak_heap_bytes={scrape_peak}"
    );
    assert_eq!(scraped, text_bytes);
    assert!(per_watch < 1_000, "{per_watch} bytes per watch");
    assert!(
        scrape_peak < 1 << 20,
        "a scrape peaked at {scrape_peak} bytes"
    );
}
