//! Which object a write addresses, and what a write needs to know of its request.

use serde_json::Value;

use super::fields::{self, managed};
use super::resources::ResourceType;
use super::status::{ApiError, Subject};
use super::store::ObjKey;
use super::validation::field::{self, FieldError};

/// Which object a write addresses.
pub struct Target<'a> {
    /// Resource type.
    pub rt: &'a ResourceType,
    /// Namespace from the URL ("" for cluster-scoped).
    pub namespace: &'a str,
    /// `fieldValidation=Strict`: unknown fields are an error instead of being pruned.
    pub strict_fields: bool,
    /// The version of the request (the URL's), which the body is read and validated in.
    pub version: &'a str,
    /// Stores without value validation (metadata checks stay): an object "written before its
    /// CRD's current rules" (see `StandinApiServer::create_unvalidated`).
    pub unvalidated: bool,
    /// The field manager of an update (create, PUT, non-apply patch); None when the managed
    /// fields were already computed (server-side apply).
    pub manager: Option<&'a str>,
}

impl Target<'_> {
    /// Storage key of `name`.
    pub fn key(&self, name: &str) -> ObjKey {
        ObjKey {
            group: self.rt.group.clone(),
            plural: self.rt.plural.clone(),
            namespace: self.namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// Error subject for `name`.
    pub fn subject<'b>(&'b self, name: &'b str) -> Subject<'b> {
        Subject {
            group: &self.rt.group,
            plural: &self.rt.plural,
            name,
        }
    }

    /// The 422 answer for `errors`.
    pub fn invalid(&self, name: &str, errors: &[FieldError]) -> ApiError {
        field::invalid(&self.rt.group, &self.rt.kind, name, errors)
    }

    /// What the field manager needs to know of a write by `manager`.
    pub fn field_request<'b>(&'b self, manager: &'b str, via_status: bool) -> managed::Request<'b> {
        managed::Request {
            manager,
            subresource: if via_status { "status" } else { "" },
            api_version: self.rt.api_version(self.version),
            root: fields::root(self.rt, self.version),
            reset: managed::reset_fields(self.rt.status_subresource, via_status),
        }
    }

    /// The stored object as the request's version sees it.
    pub fn at_request_version(&self, stored: &Value) -> Value {
        self.rt.convert(stored, self.version)
    }
}
