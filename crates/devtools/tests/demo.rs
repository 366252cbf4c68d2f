//! `hostrisk-dev demo`, run in-process for a short duration: the simulator, the stand-in
//! API server and the real controller, with the table and Events read back over HTTP.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hostrisk_devtools::demo::manifests::names;
use hostrisk_devtools::demo::{run_demo, DemoOptions};

/// Collects what the demo prints.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_demo_shows_ready_watches_transitions_and_a_fixed_secret() {
    let duration = Duration::from_secs(18);
    let captured = Captured::default();
    let started = Instant::now();
    let report = run_demo(
        DemoOptions {
            duration,
            color: false,
        },
        Box::new(captured.clone()),
    )
    .await
    .expect("the demo runs to its end");
    let took = started.elapsed();
    let text = captured.text();

    // Exits on time.
    assert!(took >= duration, "ended early after {took:?}");
    assert!(
        took < duration + Duration::from_secs(8),
        "took {took:?}\n{text}"
    );

    // The table uses the CRD's printer columns, without colours.
    let headers: Vec<&str> = text
        .lines()
        .find(|l| l.contains("NAMESPACE"))
        .expect("a header")
        .split_whitespace()
        .collect();
    assert_eq!(
        headers,
        [
            "NAMESPACE",
            "NAME",
            "READY",
            "HOSTS",
            "AT-RISK",
            "UNPROTECTED",
            "OFFLINE",
            "LAST-SYNC",
            "AGE"
        ]
    );
    assert!(!text.contains('\x1b'), "colour codes with color off");

    // The good watches became Ready and stayed Ready (a stale cache once rewrote the first
    // Pending status over real data; the table would show True -> Unknown).
    for name in [names::WEB, names::DATA] {
        let history = report.ready_history(name);
        let first_true = history
            .iter()
            .position(|r| *r == Some("True"))
            .unwrap_or_else(|| panic!("{name} never showed Ready=True:\n{text}"));
        assert!(
            history[first_true..].iter().all(|r| *r == Some("True")),
            "{name} left Ready=True: {history:?}\n{text}"
        );
    }

    // The bad-secret watch was False, then True after the fix.
    let batch = report.ready_history(names::BATCH);
    let first_false = batch
        .iter()
        .position(|r| *r == Some("False"))
        .unwrap_or_else(|| panic!("batch-jobs never showed Ready=False:\n{text}"));
    assert!(
        batch[first_false..].contains(&Some("True")),
        "batch-jobs did not recover: {batch:?}\n{text}"
    );
    assert!(text.contains("SecretKeyMissing"), "{text}");

    // Every transition reached the status (and the idle refresh polled HSS without a status
    // write), and the operator said so in Events.
    assert_eq!(report.steps.len(), 7, "{text}");
    for step in &report.steps {
        assert!(step.seen_after.is_some(), "not seen: {step:?}\n{text}");
    }
    let reasons: Vec<&str> = report.events.iter().map(|e| e.reason.as_str()).collect();
    for reason in [
        "HostNotFound",
        "BecameAtRisk",
        "ProtectionClosed",
        "AgentOffline",
        "PollRecovered",
        "AgentOnline",
        "BecameClean",
        "ProtectionOpened",
    ] {
        assert!(
            reasons.contains(&reason),
            "no {reason} Event in {reasons:?}"
        );
    }
    assert!(report
        .events
        .iter()
        .all(|e| e.reporter == "hostrisk-operator"));

    // An at-risk count moved in the table itself: web-tier's AT RISK went up then down.
    let at_risk: Vec<Option<&str>> = report
        .rows
        .iter()
        .filter(|r| r.name == names::WEB)
        .map(|r| r.value(&report.columns, "At Risk"))
        .collect();
    assert!(
        at_risk
            .windows(2)
            .any(|w| w[0] == Some("2") && w[1] == Some("3")),
        "web-tier AT RISK history {at_risk:?}"
    );
    assert!(
        text.contains("HSS polled, nothing changed: no status write"),
        "{text}"
    );
    assert!(text.contains("demo finished after"), "{text}");
    assert!(report.hss_calls >= 7, "{} HSS calls", report.hss_calls);
}
