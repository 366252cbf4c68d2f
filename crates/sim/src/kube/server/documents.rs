//! Objects written from Rust: YAML documents applied over HTTP, and objects stored as if
//! written before their CRD's current rules.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::ApiResource;
use serde_json::Value;

use super::super::write::Target;
use super::{StandinApiServer, StandinError};

impl StandinApiServer {
    /// Creates or updates each YAML document (separated by `---`) over HTTP with the real
    /// kube client, by server-side apply with field manager `standin-apply` and force.
    /// CRDs must come before their custom resources. Returns the objects as stored.
    pub async fn apply_yaml_documents(
        &self,
        yaml: &str,
    ) -> Result<Vec<DynamicObject>, StandinError> {
        let client = self.client().await?;
        let mut out = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(yaml) {
            let value: Value = serde::Deserialize::deserialize(doc)?;
            if value.is_null() {
                continue;
            }
            let obj: DynamicObject =
                serde_json::from_value(value.clone()).map_err(StandinError::NotAnObject)?;
            let api_version = value
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let kind = value
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let (ar, namespaced) = self.api_resource(&api_version, &kind)?;
            let name = obj.metadata.name.clone().unwrap_or_default();
            let api: Api<DynamicObject> = if namespaced {
                let ns = obj
                    .metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".into());
                Api::namespaced_with(client.clone(), &ns, &ar)
            } else {
                Api::all_with(client.clone(), &ar)
            };
            let applied = api
                .patch(
                    &name,
                    &PatchParams::apply("standin-apply").force(),
                    &Patch::Apply(&value),
                )
                .await?;
            out.push(applied);
        }
        Ok(out)
    }

    /// Stores `object` (with `apiVersion`, `kind`, `metadata.name` and, when namespaced,
    /// `metadata.namespace`) the way an API server holds an object written before its CRD's
    /// current rules: created as usual (pruned, defaulted, metadata checked, a watch event) but
    /// its values not validated. Later writes go through full validation, where the real
    /// server's ratcheting lets such unchanged invalid values stay. For tests of code that must
    /// not trust the schema alone.
    pub fn create_unvalidated(&self, object: Value) -> Result<Value, StandinError> {
        let text = |p: &str| {
            object
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let api_version = text("/apiVersion");
        let (ar, namespaced) = self.api_resource(&api_version, &text("/kind"))?;
        let mut state = self
            .shared
            .state
            .lock()
            .map_err(|_| StandinError::Poisoned)?;
        let rt = state
            .find_type(&ar.group, &ar.version, &ar.plural)
            .ok_or_else(|| StandinError::UnknownKind {
                api_version: api_version.clone(),
                kind: ar.kind.clone(),
            })?;
        let namespace = if namespaced {
            text("/metadata/namespace")
        } else {
            String::new()
        };
        let target = Target {
            rt: &rt,
            namespace: &namespace,
            strict_fields: false,
            version: &ar.version,
            unvalidated: true,
            manager: Some("hostrisk-sim"),
        };
        super::super::write::create(&mut state, &target, object)
            .map(|stored| rt.convert(&stored, &ar.version))
            .map_err(|e| StandinError::Refused(e.message))
    }

    fn api_resource(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<(ApiResource, bool), StandinError> {
        let unknown = || StandinError::UnknownKind {
            api_version: api_version.into(),
            kind: kind.into(),
        };
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let state = self
            .shared
            .state
            .lock()
            .map_err(|_| StandinError::Poisoned)?;
        let types = state.resource_types();
        let rt = types
            .iter()
            .find(|t| t.group == group && t.kind == kind && t.versions.iter().any(|v| v == version))
            .ok_or_else(unknown)?;
        let ar = ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: api_version.into(),
            kind: kind.into(),
            plural: rt.plural.clone(),
        };
        Ok((ar, rt.namespaced))
    }
}
