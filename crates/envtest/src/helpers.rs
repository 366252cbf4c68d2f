//! What nearly every test against a fresh control plane does first: install the repository's
//! CRDs the way users are told to (`kubectl apply --server-side -f crds/`), and get a namespace
//! of its own (this control plane has no namespace controller, so namespaces never finish
//! deleting: fresh names instead of re-use).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::Api;

use crate::EnvtestError;

/// Field manager of [`apply_crds`].
const CRD_MANAGER: &str = "hostrisk-envtest";
const ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(30);

/// Applies every CRD in `dir/*.yaml` (sorted; several documents per file allowed) with
/// server-side apply, then waits until each is `Established`. Returns the CRD names.
pub async fn apply_crds(client: &kube::Client, dir: &Path) -> Result<Vec<String>, EnvtestError> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| EnvtestError::io(format!("reading {}", dir.display()), e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    files.sort();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut names = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| EnvtestError::io(format!("reading {}", file.display()), e))?;
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value: serde_json::Value = serde::Deserialize::deserialize(document)
                .map_err(|e| EnvtestError::Manifest(format!("{}: {e}", file.display())))?;
            if value.is_null() {
                continue;
            }
            let crd: CustomResourceDefinition = serde_json::from_value(value).map_err(|e| {
                EnvtestError::Manifest(format!(
                    "{}: not a CustomResourceDefinition: {e}",
                    file.display()
                ))
            })?;
            let name = crd.metadata.name.clone().ok_or_else(|| {
                EnvtestError::Manifest(format!("{}: a CRD without a name", file.display()))
            })?;
            crds.patch(
                &name,
                &PatchParams::apply(CRD_MANAGER).force(),
                &Patch::Apply(&crd),
            )
            .await
            .map_err(|e| EnvtestError::kube(format!("applying CRD {name}"), e))?;
            names.push(name);
        }
    }
    if names.is_empty() {
        return Err(EnvtestError::Manifest(format!(
            "no CRD in {}/*.yaml",
            dir.display()
        )));
    }
    for name in &names {
        wait_established(&crds, name).await?;
    }
    Ok(names)
}

async fn wait_established(
    crds: &Api<CustomResourceDefinition>,
    name: &str,
) -> Result<(), EnvtestError> {
    let deadline = Instant::now() + ESTABLISHED_TIMEOUT;
    loop {
        let crd = crds
            .get(name)
            .await
            .map_err(|e| EnvtestError::kube(format!("reading CRD {name}"), e))?;
        let conditions = crd
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        if conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(EnvtestError::Timeout(format!(
                "CRD {name} not Established after {} s: {conditions:?}",
                ESTABLISHED_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates a namespace named `<prefix>-<random suffix>` (the API server's `generateName`)
/// and returns its name.
pub async fn create_namespace(client: &kube::Client, prefix: &str) -> Result<String, EnvtestError> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let prefix = sanitize(prefix, 40);
    let namespace = Namespace {
        metadata: ObjectMeta {
            generate_name: Some(format!("{prefix}-")),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    let created = namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .map_err(|e| EnvtestError::kube(format!("creating a namespace {prefix}-*"), e))?;
    created
        .metadata
        .name
        .ok_or_else(|| EnvtestError::Manifest("the created namespace has no name".into()))
}

/// `<prefix>-<suffix>`, a DNS label unique within this machine for a while (pid, a counter
/// and the clock): for objects whose name the test must know before creating them.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let suffix = format!(
        "{}{}{}",
        base36(u64::from(std::process::id())),
        base36(count),
        base36(u64::from(nanos))
    );
    format!("{}-{suffix}", sanitize(prefix, 40))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

/// Lower-case alphanumerics and `-`, at most `max` characters, starting and ending with an
/// alphanumeric (`x` when nothing is left).
fn sanitize(prefix: &str, max: usize) -> String {
    let cleaned: String = prefix
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(max)
        .collect();
    let trimmed = cleaned.trim_matches('-');
    if trimmed.is_empty() {
        "x".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels_and_unique() {
        let a = unique_name("My_Test::Name");
        let b = unique_name("My_Test::Name");
        assert_ne!(a, b);
        assert!(a.len() <= 63, "{a}");
        assert!(a.starts_with("my-test--name-"), "{a}");
        assert!(a
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        assert_eq!(sanitize("--", 40), "x");
        assert_eq!(sanitize(&"a".repeat(80), 40).len(), 40);
    }
}
