//! What the client tells its observer, against the HSS simulator over HTTP on loopback: each HTTP
//! exchange once, under its own operation (the IAM login that buys a token is not counted as, or
//! timed inside, the `ListHostsRisk` call it serves), with its outcome and code; retries and
//! limiter waits on their own.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hostrisk_hss::{
    AttemptOutcome, ClientConfig, Credentials, HostsRiskResult, HssClient, HssError, HssObserver,
    IdTokenFuture, IdTokenSource, Operation, Scope, Secret,
};
use hostrisk_sim::hss::{
    Faults, HssSimulator, IdentityProviderConfig, SimConfig, TestIssuer, DEMO_ACCESS_KEY,
    DEMO_IAM_DOMAIN, DEMO_IAM_PASSWORD, DEMO_IAM_USER, DEMO_PROJECT_ID, DEMO_SECRET_KEY,
};

const IDS: [&str; 2] = ["demo-web-01", "demo-db-01"];

/// Every report, in order.
#[derive(Debug, Default)]
struct Recorder {
    attempts: Mutex<Vec<(Operation, AttemptOutcome, Option<u16>)>>,
    retries: Mutex<u32>,
}

impl Recorder {
    fn take(&self) -> Vec<(Operation, AttemptOutcome, Option<u16>)> {
        std::mem::take(&mut *self.attempts.lock().expect("lock"))
    }
}

impl HssObserver for Recorder {
    fn attempt(
        &self,
        operation: Operation,
        outcome: AttemptOutcome,
        status: Option<u16>,
        _elapsed: Duration,
    ) {
        self.attempts
            .lock()
            .expect("lock")
            .push((operation, outcome, status));
    }

    fn retry(&self) {
        *self.retries.lock().expect("lock") += 1;
    }

    fn quota_wait(&self, _waited: Duration) {}
}

async fn simulator(faults: Faults) -> HssSimulator {
    HssSimulator::start(SimConfig {
        faults,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn observed_client() -> (HssClient, Arc<Recorder>) {
    let client = HssClient::new(ClientConfig {
        calls_per_minute: 1000,
        max_attempts: 3,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(50),
        ..ClientConfig::default()
    })
    .expect("client");
    let recorder = Arc::new(Recorder::default());
    assert!(client.attach_observer(recorder.clone(), true));
    (client, recorder)
}

/// One `ListHostsRisk` of [`IDS`] on the simulator.
async fn poll(
    client: &HssClient,
    sim: &HssSimulator,
    creds: &Credentials,
) -> Result<HostsRiskResult, HssError> {
    let scope = Scope::for_endpoint(sim.base_url(), DEMO_PROJECT_ID, None).expect("scope");
    client.list_hosts_risk(&scope, creds, &IDS).await
}

fn iam(sim: &HssSimulator, password: &str) -> Credentials {
    Credentials::Iam {
        username: DEMO_IAM_USER.into(),
        password: Secret::new(password),
        domain_name: DEMO_IAM_DOMAIN.into(),
        iam_endpoint: sim.iam_url(),
    }
}

#[tokio::test]
async fn an_iam_login_is_an_attempt_of_its_own_and_a_cached_token_costs_none() {
    use AttemptOutcome::{Auth, Ok};
    use Operation::{IamToken, ListHostsRisk};
    let sim = simulator(Faults::none()).await;
    let (client, recorder) = observed_client();
    let creds = iam(&sim, DEMO_IAM_PASSWORD);
    poll(&client, &sim, &creds).await.expect("query");
    assert_eq!(
        recorder.take(),
        [(IamToken, Ok, Some(201)), (ListHostsRisk, Ok, Some(200))]
    );
    poll(&client, &sim, &creds).await.expect("query");
    assert_eq!(recorder.take(), [(ListHostsRisk, Ok, Some(200))]);

    // IAM refuses the password: an iam_token failure, and no HSS call was made.
    poll(&client, &sim, &iam(&sim, "wrong"))
        .await
        .expect_err("wrong password");
    assert_eq!(recorder.take(), [(IamToken, Auth, Some(401))]);
}

#[tokio::test]
async fn throttled_and_failed_hss_calls_keep_their_outcome_and_code() {
    use AttemptOutcome::{Ok, ServerError, Throttled};
    use Operation::ListHostsRisk;
    let sim = simulator(Faults {
        quota_per_minute: 1,
        ..Faults::none()
    })
    .await;
    let (client, recorder) = observed_client();
    let creds = Credentials::ak_sk(DEMO_ACCESS_KEY, DEMO_SECRET_KEY);
    poll(&client, &sim, &creds).await.expect("within quota");
    poll(&client, &sim, &creds).await.expect_err("over quota");
    assert_eq!(
        recorder.take(),
        [
            (ListHostsRisk, Ok, Some(200)),
            (ListHostsRisk, Throttled, Some(429)),
            (ListHostsRisk, Throttled, Some(429)),
            (ListHostsRisk, Throttled, Some(429)),
        ]
    );
    assert_eq!(*recorder.retries.lock().expect("lock"), 2);

    sim.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::none()
    })
    .expect("faults");
    poll(&client, &sim, &creds).await.expect_err("5xx");
    let attempts = recorder.take();
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    for (operation, outcome, code) in attempts {
        assert_eq!((operation, outcome), (ListHostsRisk, ServerError));
        assert!(matches!(code, Some(500 | 503)), "{code:?}");
    }
}

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const AUDIENCE: &str = "hss-simulator";
const IDP: &str = "cce-cluster-1";

/// ServiceAccount tokens of `team-a/reader`, signed by the simulator's test issuer.
struct ServiceAccountTokens(TestIssuer);

impl IdTokenSource for ServiceAccountTokens {
    fn id_token(&self) -> IdTokenFuture<'_> {
        Box::pin(async move {
            let claims = self.0.service_account_claims(
                "team-a",
                "reader",
                AUDIENCE,
                Duration::from_secs(600),
            );
            Ok(Secret::new(self.0.sign(&claims).expect("signed")))
        })
    }

    fn describe(&self) -> String {
        "test tokens of team-a/reader".into()
    }
}

#[tokio::test]
async fn an_id_token_exchange_is_an_attempt_of_its_own() {
    use AttemptOutcome::Ok;
    use Operation::{IdTokenExchange, ListHostsRisk};
    let issuer = TestIssuer::generate(ISSUER).expect("key");
    let idp = IdentityProviderConfig::new(IDP, ISSUER, AUDIENCE, issuer.jwks())
        .with_rule("system:serviceaccount:team-a:*", "hss-readers");
    let sim = HssSimulator::start(SimConfig {
        identity_providers: vec![idp],
        faults: Faults::none(),
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts");
    let (client, recorder) = observed_client();
    let creds = Credentials::IdToken {
        source: Arc::new(ServiceAccountTokens(issuer)),
        identity_provider_id: IDP.into(),
        subject: "system:serviceaccount:team-a:reader".into(),
        iam_endpoint: sim.iam_url(),
    };
    for _ in 0..2 {
        poll(&client, &sim, &creds).await.expect("query");
    }
    assert_eq!(
        recorder.take(),
        [
            (IdTokenExchange, Ok, Some(201)),
            (ListHostsRisk, Ok, Some(200)),
            (ListHostsRisk, Ok, Some(200)),
        ]
    );
}
