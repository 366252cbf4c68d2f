//! Query parameters of list / watch / write requests.

use std::borrow::Cow;

use std::collections::HashMap;

use serde_json::{json, Value};

use super::resources::ResourceType;
use super::selectors::{FieldSelector, LabelSelector, Selectors};
use super::status::ApiError;

/// The query parameters the stand-in understands (others are ignored, like unknown
/// parameters on the real server).
#[derive(Debug, Clone, Default)]
pub struct Query {
    raw: HashMap<String, String>,
}

impl Query {
    /// Parses a raw query string.
    pub fn parse(q: Option<&str>) -> Self {
        let raw = url::form_urlencoded::parse(q.unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        Self { raw }
    }

    /// A parameter, None if absent or empty.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.raw
            .get(k)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// A boolean parameter (`true`/`1`).
    pub fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true") | Some("1"))
    }

    /// `watch=true`.
    pub fn is_watch(&self) -> bool {
        self.flag("watch")
    }

    /// Both selectors.
    pub fn selectors(&self, rt: &ResourceType) -> Result<Selectors, ApiError> {
        Ok(Selectors {
            labels: LabelSelector::parse(self.get("labelSelector").unwrap_or(""))?,
            fields: FieldSelector::parse(self.get("fieldSelector").unwrap_or(""), &rt.plural)?,
        })
    }

    /// `limit` (0 or absent: unlimited).
    pub fn limit(&self) -> Result<Option<usize>, ApiError> {
        match self.get("limit") {
            None => Ok(None),
            Some(l) => l
                .parse::<usize>()
                .map(|n| if n == 0 { None } else { Some(n) })
                .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}"))),
        }
    }
}

/// How objects are rendered in answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Whole objects.
    Full,
    /// copies: `Accept: application/json;as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1`
    /// answers `meta.k8s.io/v1` `PartialObjectMetadata` (list: `PartialObjectMetadataList`).
    Metadata,
}

impl Shape {
    /// From the Accept header. copies: content negotiation over the comma-separated media
    /// ranges, first servable one wins (so `application/json;as=Table;...,application/json`
    /// gets plain JSON); protobuf and Table are not served; nothing servable answers 406.
    pub fn from_accept(accept: Option<&str>) -> Result<Self, ApiError> {
        let Some(a) = accept.filter(|a| !a.trim().is_empty()) else {
            return Ok(Self::Full);
        };
        for range in a.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let base = parts.next().unwrap_or("");
            if !matches!(base, "application/json" | "application/*" | "*/*") {
                continue;
            }
            let conversion = parts.find_map(|p| p.strip_prefix("as="));
            match conversion {
                None => return Ok(Self::Full),
                Some("PartialObjectMetadata") | Some("PartialObjectMetadataList") => {
                    return Ok(Self::Metadata)
                }
                Some(_) => continue,
            }
        }
        Err(ApiError::new(
            406,
            "NotAcceptable",
            format!("only the following media types are accepted: application/json, application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1 (got {a})"),
        ))
    }

    /// Renders one stored object at the requested version.
    /// copies: CRD conversion strategy `None` (see `ResourceType::convert`): the `apiVersion`
    /// of the version read, pruned by that version's schema.
    pub fn render(self, obj: &Value, rt: &ResourceType, version: &str) -> Value {
        self.render_cow(obj, rt, version).into_owned()
    }

    /// [`Shape::render`], borrowing `obj` when it is served as stored.
    pub fn render_cow<'a>(
        self,
        obj: &'a Value,
        rt: &ResourceType,
        version: &str,
    ) -> Cow<'a, Value> {
        match self {
            Self::Full => rt.convert_cow(obj, version),
            Self::Metadata => Cow::Owned(json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
            })),
        }
    }

    /// `kind` / `apiVersion` of a list answer.
    pub fn list_type(self, rt: &ResourceType, version: &str) -> (String, String) {
        match self {
            Self::Full => (format!("{}List", rt.kind), rt.api_version(version)),
            Self::Metadata => ("PartialObjectMetadataList".into(), "meta.k8s.io/v1".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        let shape = |a: &str| Shape::from_accept(Some(a)).map_err(|e| e.code);
        assert_eq!(
            shape("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"),
            Ok(Shape::Full)
        );
        assert_eq!(
            shape("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"),
            Ok(Shape::Metadata)
        );
        assert_eq!(
            shape("application/vnd.kubernetes.protobuf,application/json"),
            Ok(Shape::Full)
        );
        assert_eq!(shape("application/vnd.kubernetes.protobuf"), Err(406));
        assert_eq!(shape("*/*"), Ok(Shape::Full));
    }
}
