//! Clients of the stand-in: the admin's, and clients with identities for RBAC tests.

use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

use super::{StandinApiServer, StandinError};

impl StandinApiServer {
    /// A kubeconfig with one cluster (this server, plain HTTP), one user with the admin
    /// bearer token (user `standin-admin` in `system:masters`: allowed everything, also under
    /// RBAC), one context (namespace `default`), selected as current.
    pub fn kubeconfig(&self) -> Kubeconfig {
        self.kubeconfig_for_token(self.shared.auth.admin_token())
    }

    /// A kubeconfig like [`Self::kubeconfig`] authenticating with `token` instead.
    pub fn kubeconfig_for_token(&self, token: &str) -> Kubeconfig {
        let doc = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "standin", "cluster": {"server": self.url()}}],
            "users": [{"name": "standin", "user": {"token": token}}],
            "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "standin", "namespace": "default"}}],
            "current-context": "standin",
        });
        serde_json::from_value(doc).unwrap_or_default()
    }

    /// A real `kube::Client` for this server (the admin), built with
    /// `Config::from_custom_kubeconfig`.
    pub async fn client(&self) -> Result<kube::Client, StandinError> {
        kube::Client::try_from(self.config().await?).map_err(StandinError::Client)
    }

    /// The client configuration of this server (the admin), as `Config::from_custom_kubeconfig`
    /// makes it.
    pub async fn config(&self) -> Result<kube::Config, StandinError> {
        Self::config_of(self.kubeconfig()).await
    }

    async fn config_of(kubeconfig: Kubeconfig) -> Result<kube::Config, StandinError> {
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| StandinError::Kubeconfig(e.to_string()))
    }

    /// A client authenticating with `token` (a ServiceAccount token of this server's
    /// TokenRequest, or one registered with [`Self::token_for_user`]).
    pub async fn client_for_token(&self, token: &str) -> Result<kube::Client, StandinError> {
        let config = Self::config_of(self.kubeconfig_for_token(token)).await?;
        kube::Client::try_from(config).map_err(StandinError::Client)
    }

    /// The client configuration for `token` (for code that builds its own client).
    pub async fn config_for_token(&self, token: &str) -> Result<kube::Config, StandinError> {
        Self::config_of(self.kubeconfig_for_token(token)).await
    }

    /// A token for `user` in `groups` (and `system:authenticated`), like a static token file.
    pub fn token_for_user(&self, user: &str, groups: &[&str]) -> String {
        let token = format!("standin-user-{:032x}", rand::random::<u128>());
        self.shared.auth.add_token(&token, user, groups);
        token
    }

    /// A ServiceAccount token (TokenRequest through the admin client, the API server's own
    /// audience, 1 hour) for `namespace/name`, which must exist.
    pub async fn service_account_token(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<String, StandinError> {
        use k8s_openapi::api::authentication::v1::TokenRequest;
        use k8s_openapi::api::core::v1::ServiceAccount;
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client().await?, namespace);
        let answer = accounts
            .create_token_request(
                name,
                &kube::api::PostParams::default(),
                &TokenRequest::default(),
            )
            .await?;
        Ok(answer.status.map(|s| s.token).unwrap_or_default())
    }

    /// A client acting as ServiceAccount `namespace/name` (see
    /// [`Self::service_account_token`]): under [`Self::enable_rbac`], it may do what the
    /// stored Roles, ClusterRoles and bindings let it.
    pub async fn service_account_client(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<kube::Client, StandinError> {
        let token = self.service_account_token(namespace, name).await?;
        self.client_for_token(&token).await
    }

    /// Authorizes every request (but the admin's and discovery) with the RBAC objects stored
    /// in the stand-in from now on, as kube-apiserver's RBAC authorizer does: create the
    /// Roles / ClusterRoles and bindings a test runs with (e.g. a rendered chart through
    /// [`Self::apply_yaml_documents`]), then act through [`Self::service_account_client`].
    pub fn enable_rbac(&self) {
        self.shared.auth.enable_rbac();
    }
}
