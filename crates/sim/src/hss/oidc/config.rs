//! An OpenID Connect identity provider as the simulated IAM knows it: what IAM's console
//! asks for when you register a cluster's ServiceAccount issuer (identity provider id,
//! enabled, client id, issuer, signing keys) and identity conversion rules reduced to what
//! workload identity needs: `sub` (exact or glob) to a user group.

use serde::{Deserialize, Serialize};

/// One identity provider (`X-Idp-Id` names it).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProviderConfig {
    pub id: String,
    /// A disabled provider refuses every exchange (403).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// The client id: the audience (`aud`) the id tokens must carry.
    pub client_id: String,
    /// The issuer (`iss`) the id tokens must carry: for a cluster, its
    /// `--service-account-issuer`.
    pub issuer: String,
    /// Where the signing keys come from.
    pub jwks: JwksSource,
    /// Tried in order; the first whose `subject` matches the token's `sub` maps it.
    #[serde(default)]
    pub rules: Vec<ConversionRule>,
}

fn enabled_by_default() -> bool {
    true
}

impl std::fmt::Debug for IdentityProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProviderConfig")
            .field("id", &self.id)
            .field("enabled", &self.enabled)
            .field("client_id", &self.client_id)
            .field("issuer", &self.issuer)
            .field("jwks", &self.jwks)
            .field("rules", &self.rules)
            .finish()
    }
}

impl IdentityProviderConfig {
    /// An enabled provider with inline keys and no rules.
    pub fn new(
        id: impl Into<String>,
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        jwks: serde_json::Value,
    ) -> Self {
        Self {
            id: id.into(),
            enabled: true,
            client_id: client_id.into(),
            issuer: issuer.into(),
            jwks: JwksSource::Inline(jwks),
            rules: Vec::new(),
        }
    }

    /// Adds a rule mapping `subject` (exact, or a glob with `*`) to `group`.
    pub fn with_rule(mut self, subject: impl Into<String>, group: impl Into<String>) -> Self {
        self.rules.push(ConversionRule {
            subject: subject.into(),
            group: group.into(),
            user: None,
        });
        self
    }

    /// Checks what can be checked without fetching keys.
    pub fn validate(&self) -> Result<(), String> {
        if self.id.trim().is_empty() || self.id.chars().any(char::is_control) {
            return Err("the identity provider id must be a non-empty header value".into());
        }
        if self.client_id.trim().is_empty() {
            return Err(format!("identity provider {}: client_id is empty", self.id));
        }
        if self.issuer.trim().is_empty() {
            return Err(format!("identity provider {}: issuer is empty", self.id));
        }
        for rule in &self.rules {
            if rule.subject.is_empty() || rule.group.trim().is_empty() {
                return Err(format!(
                    "identity provider {}: every rule needs a subject and a group",
                    self.id
                ));
            }
        }
        Ok(())
    }

    /// The rule mapping `subject`, if any.
    pub fn rule_for(&self, subject: &str) -> Option<&ConversionRule> {
        self.rules.iter().find(|r| glob_match(&r.subject, subject))
    }

    /// The same configuration with the JWKS bearer token replaced by `***`, for the admin
    /// API's answers.
    pub fn redacted(&self) -> Self {
        let mut copy = self.clone();
        if let JwksSource::Url(url) = &mut copy.jwks {
            if url.bearer_token.is_some() {
                url.bearer_token = Some("***".into());
            }
        }
        copy
    }
}

/// The signing keys of a provider.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JwksSource {
    /// A JWKS document (`{"keys": [...]}`), e.g. the output of
    /// `kubectl get --raw /openid/v1/jwks`.
    Inline(serde_json::Value),
    /// Fetched once when the provider is configured (at start, or by the admin API), e.g. a
    /// kube-apiserver's `https://<apiserver>/openid/v1/jwks`.
    Url(JwksUrl),
}

impl std::fmt::Debug for JwksSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Inline(_) => f.write_str("Inline(..)"),
            Self::Url(url) => url.fmt(f),
        }
    }
}

/// Where and how to fetch a JWKS. A kube-apiserver serves `/openid/v1/jwks` to any
/// authenticated user that RBAC lets read it (the default ClusterRoleBinding
/// `system:service-account-issuer-discovery` grants it to every ServiceAccount), so a
/// ServiceAccount token (`kubectl create token ...`) is enough as bearer token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwksUrl {
    pub url: String,
    /// PEM bundle trusted in addition to the built-in roots (the cluster's CA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// A file holding such a bundle (e.g. `/var/run/secrets/kubernetes.io/serviceaccount/ca.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Sent as `Authorization: Bearer ...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<String>,
    /// A file holding the bearer token (e.g. a projected ServiceAccount token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
}

impl JwksUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ca_pem: None,
            ca_file: None,
            bearer_token: None,
            bearer_token_file: None,
        }
    }
}

impl std::fmt::Debug for JwksUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksUrl")
            .field("url", &self.url)
            .field("ca", &(self.ca_pem.is_some() || self.ca_file.is_some()))
            .field(
                "bearer",
                &(self.bearer_token.is_some() || self.bearer_token_file.is_some()),
            )
            .finish()
    }
}

/// Maps a token's `sub` to the user group (and federated user name) it acts as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversionRule {
    /// Exact `sub`, or a glob where `*` matches any run of characters
    /// (`system:serviceaccount:team-a:*`).
    pub subject: String,
    pub group: String,
    /// The federated user's name; the `sub` itself when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// `*` matches any run of characters (including none); everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Greedy match with backtracking to the last star: linear enough for short subjects.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_service_account_subjects() {
        let sa = "system:serviceaccount:team-a:reader";
        assert!(glob_match(sa, sa));
        assert!(glob_match("system:serviceaccount:team-a:*", sa));
        assert!(glob_match("*:team-a:*", sa));
        assert!(glob_match("*", sa));
        assert!(!glob_match("system:serviceaccount:team-b:*", sa));
        assert!(!glob_match("system:serviceaccount:team-a:read", sa));
        assert!(!glob_match("system:serviceaccount:team-a", sa));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
    }

    #[test]
    fn first_matching_rule_wins_and_bearer_tokens_stay_hidden() {
        let mut idp =
            IdentityProviderConfig::new("idp", "https://iss", "aud", serde_json::json!({}))
                .with_rule("system:serviceaccount:team-a:reader", "exact")
                .with_rule("system:serviceaccount:team-a:*", "team-a");
        assert_eq!(
            idp.rule_for("system:serviceaccount:team-a:reader")
                .map(|r| r.group.as_str()),
            Some("exact")
        );
        assert_eq!(
            idp.rule_for("system:serviceaccount:team-a:other")
                .map(|r| r.group.as_str()),
            Some("team-a")
        );
        assert!(idp.rule_for("system:serviceaccount:team-b:x").is_none());
        idp.jwks = JwksSource::Url(JwksUrl {
            bearer_token: Some("sa-token-secret".into()),
            ..JwksUrl::new("https://k8s/openid/v1/jwks")
        });
        let shown = format!(
            "{idp:?} {}",
            serde_json::to_string(&idp.redacted()).expect("json")
        );
        assert!(!shown.contains("sa-token-secret"), "{shown}");
    }
}
