//! Who a request is and whether it may do what it asks.
//!
//! copies (kube-apiserver authentication + the RBAC authorizer):
//! - a bearer token is one of: the stand-in's admin token (user `standin-admin`, group
//!   `system:masters`: every request allowed, as the envtest admin certificate), a static
//!   token registered by a test, or a ServiceAccount token of the stand-in's TokenRequest
//!   (RS256, `iss` the stand-in, `aud` the API server's own audience, not expired, its
//!   ServiceAccount still existing with the same uid) for user
//!   `system:serviceaccount:<ns>:<name>` in `system:serviceaccounts`,
//!   `system:serviceaccounts:<ns>` and `system:authenticated`; no token is `system:anonymous`
//!   (`system:unauthenticated`); any other token answers 401 `Unauthorized`;
//! - authorization: every request is allowed until `StandinApiServer::enable_rbac`; then the
//!   RBAC objects stored in the stand-in decide (rbac.rs), `system:masters` always allowed,
//!   discovery (`/api`, `/apis`, `/version`, the OIDC documents) allowed to authenticated users
//!   as the bootstrap `system:discovery`, `system:public-info-viewer` and
//!   `system:service-account-issuer-discovery` bindings allow.
//! - `StandinApiServer::forbid` refuses verbs on a resource or `resource/subresource` to
//!   everyone (a fault switch, checked first).

pub mod rbac;

use std::collections::HashMap;
use std::sync::Mutex;

use super::status::ApiError;
use super::store::{ObjKey, State};
use super::tokens::Signer;
use axum::http::HeaderMap;

/// The user a request authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// User name.
    pub user: String,
    /// Groups.
    pub groups: Vec<String>,
}

impl Identity {
    fn anonymous() -> Self {
        Self {
            user: "system:anonymous".into(),
            groups: vec!["system:unauthenticated".into()],
        }
    }

    /// Whether RBAC is bypassed (`system:masters`).
    pub fn is_master(&self) -> bool {
        self.groups.iter().any(|g| g == "system:masters")
    }

    fn authenticated(&self) -> bool {
        self.groups.iter().any(|g| g == "system:authenticated")
    }
}

/// The user name of the stand-in's admin token.
pub const ADMIN_USER: &str = "standin-admin";

/// Authentication state and the authorization switch.
pub struct Auth {
    admin_token: String,
    static_tokens: Mutex<HashMap<String, Identity>>,
    rbac: Mutex<bool>,
}

impl Default for Auth {
    fn default() -> Self {
        Self {
            admin_token: format!("standin-admin-{:032x}", rand::random::<u128>()),
            static_tokens: Mutex::default(),
            rbac: Mutex::new(false),
        }
    }
}

/// copies: the 401 answer.
pub fn unauthorized() -> ApiError {
    ApiError::new(401, "Unauthorized", "Unauthorized")
}

impl Auth {
    /// The admin token (in the stand-in's kubeconfig).
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// Registers `token` for `user` in `groups` (plus `system:authenticated`).
    pub fn add_token(&self, token: &str, user: &str, groups: &[&str]) {
        let mut groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        groups.push("system:authenticated".into());
        if let Ok(mut t) = self.static_tokens.lock() {
            t.insert(
                token.to_string(),
                Identity {
                    user: user.to_string(),
                    groups,
                },
            );
        }
    }

    /// Turns RBAC authorization on.
    pub fn enable_rbac(&self) {
        if let Ok(mut r) = self.rbac.lock() {
            *r = true;
        }
    }

    fn rbac_on(&self) -> bool {
        self.rbac.lock().map(|r| *r).unwrap_or(true)
    }

    /// Authenticates a request.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        state: &State,
        signer: &Signer,
    ) -> Result<Identity, ApiError> {
        let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
            return Ok(Identity::anonymous());
        };
        let token = value
            .strip_prefix("Bearer ")
            .ok_or_else(unauthorized)?
            .trim();
        if token == self.admin_token {
            return Ok(Identity {
                user: ADMIN_USER.into(),
                groups: vec!["system:masters".into(), "system:authenticated".into()],
            });
        }
        if let Some(id) = self
            .static_tokens
            .lock()
            .ok()
            .and_then(|t| t.get(token).cloned())
        {
            return Ok(id);
        }
        let claims = signer.verify(token).ok_or_else(unauthorized)?;
        let sa = &claims["kubernetes.io"]["serviceaccount"];
        let namespace = claims["kubernetes.io"]["namespace"]
            .as_str()
            .ok_or_else(unauthorized)?;
        let name = sa["name"].as_str().ok_or_else(unauthorized)?;
        let key = ObjKey {
            group: String::new(),
            plural: "serviceaccounts".into(),
            namespace: namespace.into(),
            name: name.into(),
        };
        let account = state.objects.get(&key).ok_or_else(unauthorized)?;
        if sa
            .get("uid")
            .is_some_and(|uid| account.pointer("/metadata/uid") != Some(uid))
        {
            return Err(unauthorized());
        }
        Ok(Identity {
            user: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
        })
    }

    /// Authorizes a non-resource request (discovery, version, OIDC documents): `Err` is 403.
    pub fn authorize_path(&self, who: &Identity, path: &str) -> Result<(), ApiError> {
        let public = path == "/version" || path.starts_with("/version/");
        if !self.rbac_on() || who.is_master() || public || who.authenticated() {
            return Ok(());
        }
        Err(ApiError::new(
            403,
            "Forbidden",
            format!(
                "forbidden: User \"{}\" cannot get path \"{path}\"",
                who.user
            ),
        ))
    }

    /// Authorizes a resource request (RBAC when on): `Err` is the 403 answer.
    pub fn authorize(
        &self,
        who: &Identity,
        request: &rbac::Attributes<'_>,
        state: &State,
    ) -> Result<(), ApiError> {
        if !self.rbac_on() || who.is_master() {
            return Ok(());
        }
        rbac::authorize(who, request, state)
    }
}

/// The `metadata.name` a list or watch selects exactly, as the API server's request info
/// takes it for authorization (`resourceNames` rules then apply).
pub fn selected_name(field_selector: Option<&str>) -> Option<String> {
    let s = field_selector?;
    if s.contains(',') {
        return None;
    }
    let (k, v) = s.split_once("==").or_else(|| s.split_once('='))?;
    (k.trim() == "metadata.name" && !v.trim().is_empty()).then(|| v.trim().to_string())
}
