//! Stand-in authentication: tokens, anonymous requests, 401s (RBAC decisions themselves are the
//! conformance rows, shared with the real server).

use k8s_openapi::api::core::v1::{Secret as CoreSecret, ServiceAccount};

use crate::support::*;

async fn code_of<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> u16 {
    match r {
        Err(kube::Error::Api(s)) => s.code,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn tokens_identify_users_and_unknown_ones_are_unauthorized() {
    let (server, admin) = server().await;
    server.enable_rbac();
    let token = server.token_for_user("jane", &["auditors"]);
    let jane = server.client_for_token(&token).await.unwrap();
    let secrets: Api<CoreSecret> = Api::namespaced(jane.clone(), "default");
    let refused = secrets.list(&ListParams::default()).await.unwrap_err();
    let kube::Error::Api(status) = refused else {
        panic!()
    };
    assert!(
        status.message.contains("User \"jane\" cannot list"),
        "{}",
        status.message
    );
    // A binding to her group lets her.
    server
        .apply_yaml_documents(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: read-secrets}\nrules:\n- {apiGroups: [\"\"], resources: [secrets], verbs: [list]}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: auditors}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: read-secrets}\nsubjects:\n- {kind: Group, name: auditors}\n",
        )
        .await
        .unwrap();
    secrets.list(&ListParams::default()).await.unwrap();
    // Unknown token: 401, as is any request of it.
    let stranger = server.client_for_token("nobody-issued-this").await.unwrap();
    let raw: Api<CoreSecret> = Api::namespaced(stranger, "default");
    assert_eq!(code_of(raw.list(&ListParams::default()).await).await, 401);
    // Anonymous (no token) under RBAC: 403 naming system:anonymous.
    let anonymous = reqwest::get(format!(
        "{}/api/v1/namespaces/default/secrets",
        server.url()
    ))
    .await
    .unwrap();
    assert_eq!(anonymous.status().as_u16(), 403);
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("User \"system:anonymous\""),
        "{body}"
    );
    // The admin is not subject to RBAC.
    Api::<CoreSecret>::namespaced(admin, "default")
        .list(&ListParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn service_account_tokens_stop_working_with_their_account() {
    let (server, admin) = server().await;
    server.enable_rbac();
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), "default");
    let sa: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "app"}})).unwrap();
    accounts.create(&PostParams::default(), &sa).await.unwrap();
    let token = server
        .service_account_token("default", "app")
        .await
        .unwrap();
    let app = server.client_for_token(&token).await.unwrap();
    // Discovery is open to authenticated users.
    kube::Discovery::new(app.clone()).run().await.unwrap();
    accounts
        .delete("app", &DeleteParams::default())
        .await
        .unwrap();
    let secrets: Api<CoreSecret> = Api::namespaced(app, "default");
    assert_eq!(
        code_of(secrets.list(&ListParams::default()).await).await,
        401
    );
    // A token minted for another audience does not authenticate to the API server.
    accounts.create(&PostParams::default(), &sa).await.unwrap();
    let request = serde_json::from_value(json!({"spec": {"audiences": ["hss"]}})).unwrap();
    let other = accounts
        .create_token_request("app", &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token;
    let client = server.client_for_token(&other).await.unwrap();
    let secrets: Api<CoreSecret> = Api::namespaced(client, "default");
    assert_eq!(
        code_of(secrets.list(&ListParams::default()).await).await,
        401
    );
}
