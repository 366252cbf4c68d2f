//! One line per control plane in `$HOSTRISK_ENVTEST_REPORT/<pid>.tsv`.
//!
//! Why: a skipped real-API-server test passes, so the test runner's own summary cannot tell a
//! CI run that proved the operator against kube-apiserver from one that skipped every such
//! test. `.ci/run` reads these lines to say how many tests ran against which version, and fails
//! when the assets were there but nothing ran.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Appends `<test>\t<version>\t<seconds lived>\t<unix time at stop>` (one `write` of one short
/// line to an O_APPEND file, so lines from parallel tests do not interleave); the last column
/// lets `.ci/run` say how long the real-API-server part took from first start to last stop.
/// Failures are printed, never fatal: the report is evidence for CI, not part of the test.
pub(crate) fn append(dir: &Path, test_name: &str, version: &str, lived: Duration) {
    let file = dir.join(format!("envtest-{}.tsv", std::process::id()));
    let clean = |s: &str| s.replace(['\t', '\n'], " ");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let line = format!(
        "{}\t{}\t{:.1}\t{:.1}\n",
        clean(test_name),
        clean(version),
        lived.as_secs_f64(),
        now
    );
    let written = std::fs::create_dir_all(dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)?
            .write_all(line.as_bytes())
    });
    if let Err(error) = written {
        eprintln!("envtest: cannot append to {}: {error}", file.display());
    }
}
