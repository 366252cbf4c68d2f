//! `HssClient`: chunking, pacing, retries and authentication around one `ListHostsRisk` call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use super::chunk::{decode, dedup_ids};
use super::config::ClientConfig;
use super::credentials::{Credentials, Secret};
use super::error::{is_gateway_code, AuthKind, HssError};
use super::iam::{IamLogin, IamTokenCache};
use super::idtoken::Exchange;
use super::model::HostsRiskResult;
use super::observe::{AttemptOutcome, HssObserver, Operation};
use super::ratelimit::RateLimiter;
use super::retry::Backoff;
use super::scope::Scope;
use super::transport::{
    build_http_client, prepare_hosts_risk_request, send_get, RawAnswer, RequestAuth,
};

/// Counters of one client since it was built, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent to HSS (retries included).
    pub http_attempts: u64,
    /// Of those, retries after a retryable failure.
    pub retries: u64,
    /// 429 answers received.
    pub throttled: u64,
    /// IAM password logins attempted.
    pub iam_logins: u64,
    /// Id-token exchanges attempted (refused ones included).
    pub id_token_exchanges: u64,
    /// Total time spent waiting for the rate limiter.
    pub rate_limit_wait: Duration,
}

#[derive(Debug, Default)]
struct Counters {
    http_attempts: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    rate_wait_micros: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    limiter: RateLimiter,
    iam: IamTokenCache,
    counters: Counters,
    observer: OnceLock<Observer>,
}

/// Where the client reports each HTTP attempt.
#[derive(Debug)]
struct Observer {
    sink: Arc<dyn HssObserver>,
    /// Also report the waits of the client's own rate limiter (when no planner above the
    /// client, such as the batched poller, reports them already).
    quota_waits: bool,
}

impl Observer {
    fn hosts_risk(&self, outcome: AttemptOutcome, code: Option<u16>, elapsed: Duration) {
        self.sink
            .attempt(Operation::ListHostsRisk, outcome, code, elapsed);
    }
}

/// One attempt at `ListHostsRisk`: its result, the IAM token it was sent with (so an expiry can
/// refresh it), and how long the GET took when one was sent (not when getting the token failed).
struct Attempt {
    result: Result<RawAnswer, HssError>,
    used_token: Option<Secret>,
    sent: Option<Duration>,
}

/// The class and HTTP code of a failed `ListHostsRisk` attempt; `None` when that GET did not
/// leave this process (a local validation error) or the failure is an IAM request's, which
/// reports itself as its own operation.
fn attempt_labels(error: &HssError) -> Option<(AttemptOutcome, Option<u16>)> {
    let labels = match error {
        HssError::Authentication { .. } => (AttemptOutcome::Auth, Some(401)),
        HssError::Forbidden(_) => (AttemptOutcome::Auth, Some(403)),
        HssError::Throttled { .. } => (AttemptOutcome::Throttled, Some(429)),
        HssError::BadRequest(_) => (AttemptOutcome::ClientError, Some(400)),
        HssError::NotFound(_) => (AttemptOutcome::ClientError, Some(404)),
        HssError::Server { status, .. } | HssError::UnexpectedStatus { status, .. } => {
            (AttemptOutcome::for_status(*status), Some(*status))
        }
        HssError::Transport { .. }
        | HssError::Timeout { .. }
        | HssError::TlsVerification { .. } => (AttemptOutcome::Transport, None),
        HssError::Decode { .. } => (AttemptOutcome::Decode, None),
        HssError::Iam { .. }
        | HssError::IdentityExchangeRefused(_)
        | HssError::IdTokenSource { .. }
        | HssError::InvalidScope { .. }
        | HssError::InvalidCredentials { .. }
        | HssError::InvalidConfig { .. } => return None,
    };
    Some(labels)
}

/// The HSS client. Cheap to clone; clones share the HTTP pool, the rate limiter and the IAM
/// token cache, so every caller using one credential is paced together.
#[derive(Debug, Clone)]
pub struct HssClient {
    inner: Arc<Inner>,
}

impl HssClient {
    pub fn new(config: ClientConfig) -> Result<Self, HssError> {
        config
            .validate()
            .map_err(|message| HssError::InvalidConfig { message })?;
        let http = build_http_client(&config)?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                limiter: RateLimiter::new(config.calls_per_minute, config.rate_window),
                iam: IamTokenCache::new(config.iam_refresh_margin),
                counters: Counters::default(),
                observer: OnceLock::new(),
                config,
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Reports every HTTP attempt of this client and its clones to `sink` (and with
    /// `quota_waits` the client's own limiter waits). Only the first call has an effect;
    /// returns whether it was this one.
    pub fn attach_observer(&self, sink: Arc<dyn HssObserver>, quota_waits: bool) -> bool {
        self.inner
            .observer
            .set(Observer { sink, quota_waits })
            .is_ok()
    }

    /// The limiter shared by every call of this client (the poller may reserve ahead with it).
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.counters;
        ClientStats {
            http_attempts: c.http_attempts.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
            iam_logins: self.inner.iam.logins(),
            id_token_exchanges: self.inner.iam.exchanges(),
            rate_limit_wait: Duration::from_micros(c.rate_wait_micros.load(Ordering::Relaxed)),
        }
    }

    /// Risk status of `ids` (any number; duplicates collapsed), in chunks of `chunk_size`.
    /// Fails as a whole if any chunk fails after its retries: callers keep their old data.
    pub async fn list_hosts_risk<S: AsRef<str>>(
        &self,
        scope: &Scope,
        credentials: &Credentials,
        ids: &[S],
    ) -> Result<HostsRiskResult, HssError> {
        check_inputs(scope, credentials)?;
        let ids = dedup_ids(ids);
        let mut result = HostsRiskResult::default();
        for chunk in ids.chunks(self.inner.config.chunk_size) {
            let part = self.call_with_retries(scope, credentials, chunk).await?;
            result.hosts.extend(part.hosts);
            result.not_found.extend(part.not_found);
            result.request_ids.extend(part.request_ids);
        }
        Ok(result)
    }

    /// One request's worth of ids (at most `chunk_size` after removing duplicates), with
    /// pacing and retries: the building block of a poller that batches ids across resources.
    pub async fn list_hosts_risk_chunk(
        &self,
        scope: &Scope,
        credentials: &Credentials,
        ids: &[String],
    ) -> Result<HostsRiskResult, HssError> {
        check_inputs(scope, credentials)?;
        let ids = dedup_ids(ids);
        if ids.len() > self.inner.config.chunk_size {
            return Err(HssError::InvalidScope {
                message: format!(
                    "{} ids in one request, at most {} are allowed",
                    ids.len(),
                    self.inner.config.chunk_size
                ),
            });
        }
        self.call_with_retries(scope, credentials, &ids).await
    }

    async fn call_with_retries(
        &self,
        scope: &Scope,
        credentials: &Credentials,
        ids: &[String],
    ) -> Result<HostsRiskResult, HssError> {
        if ids.is_empty() {
            // The service rejects an empty host_id_list; nothing to ask.
            return Ok(HostsRiskResult::default());
        }
        let config = &self.inner.config;
        let backoff = Backoff {
            base: config.backoff_base,
            max: config.backoff_max,
            floor: Duration::ZERO,
        };
        let identity = credentials.identity();
        let started = Instant::now();
        let mut paced = Duration::ZERO;
        let mut attempt: u32 = 0;
        let mut token_refreshed = false;
        let mut rejected_token: Option<Secret> = None;
        loop {
            attempt += 1;
            let wait = self.inner.limiter.acquire(&identity).await;
            paced += wait;
            let observer = self.inner.observer.get();
            if let Some(observer) = observer.filter(|o| o.quota_waits) {
                observer.sink.quota_wait(wait);
            }
            self.inner
                .counters
                .rate_wait_micros
                .fetch_add(wait.as_micros() as u64, Ordering::Relaxed);
            let Attempt {
                result,
                used_token,
                sent,
            } = self
                .attempt(scope, credentials, ids, rejected_token.take())
                .await;
            let reported = observer.zip(sent);
            let err = match result {
                Ok(answer) => {
                    tracing::debug!(
                        identity = %identity,
                        request_id = answer.request_id.as_deref().unwrap_or(""),
                        status = answer.status,
                        hosts = ids.len(),
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "ListHostsRisk answered"
                    );
                    let status = answer.status;
                    let decoded = decode(answer, ids);
                    if let Some((observer, elapsed)) = reported {
                        let outcome = match &decoded {
                            Ok(_) => AttemptOutcome::for_status(status),
                            Err(_) => AttemptOutcome::Decode,
                        };
                        observer.hosts_risk(outcome, Some(status), elapsed);
                    }
                    return decoded;
                }
                Err(err) => err,
            };
            if let Some((observer, elapsed)) = reported {
                if let Some((outcome, code)) = attempt_labels(&err) {
                    observer.hosts_risk(outcome, code, elapsed);
                }
            }
            if matches!(err, HssError::Throttled { .. }) {
                self.inner
                    .counters
                    .throttled
                    .fetch_add(1, Ordering::Relaxed);
            }
            tracing::debug!(
                identity = %identity,
                request_id = err.request_id().unwrap_or(""),
                reason = err.reason(),
                hosts = ids.len(),
                attempt,
                wait_ms = wait.as_millis() as u64,
                "ListHostsRisk failed"
            );
            if !token_refreshed && used_token.is_some() && is_token_expiry(&err, credentials) {
                // The IAM token expired early or was revoked: log in again once and retry once.
                token_refreshed = true;
                rejected_token = used_token;
                attempt -= 1;
                continue;
            }
            if !err.is_retryable() || attempt >= config.max_attempts {
                return Err(err);
            }
            let retry_after = match &err {
                HssError::Throttled { retry_after, .. } => *retry_after,
                _ => None,
            };
            let delay = backoff.delay(attempt, retry_after);
            let active = started.elapsed().saturating_sub(paced);
            if active + delay > config.max_retry_elapsed {
                return Err(err);
            }
            tracing::info!(
                identity = %identity,
                request_id = err.request_id().unwrap_or(""),
                reason = err.reason(),
                attempt,
                delay_ms = delay.as_millis() as u64,
                "retrying ListHostsRisk"
            );
            self.inner.counters.retries.fetch_add(1, Ordering::Relaxed);
            if let Some(observer) = observer {
                observer.sink.retry();
            }
            tokio::time::sleep(delay).await;
        }
    }

    /// One HTTP attempt, after getting an IAM token for it when the credentials need one.
    async fn attempt(
        &self,
        scope: &Scope,
        credentials: &Credentials,
        ids: &[String],
        rejected_token: Option<Secret>,
    ) -> Attempt {
        let config = &self.inner.config;
        let observer = self.inner.observer.get().map(|o| o.sink.as_ref());
        let unsent = |error| Attempt {
            result: Err(error),
            used_token: None,
            sent: None,
        };
        // Declared here so the request can borrow it; set only for IAM and id-token credentials.
        let iam_token: Secret;
        let (auth, auth_kind, used_token) = match credentials {
            Credentials::AkSk {
                access_key,
                secret_key,
                security_token,
            } => (
                RequestAuth::Sign {
                    access_key,
                    secret_key,
                    security_token: security_token.as_ref(),
                },
                AuthKind::AkSk,
                None,
            ),
            Credentials::Token(token) => (RequestAuth::Token(token), AuthKind::Token, None),
            Credentials::Iam {
                username,
                password,
                domain_name,
                iam_endpoint,
            } => {
                let login = IamLogin {
                    username,
                    password,
                    domain_name,
                    iam_endpoint,
                    project_id: &scope.project_id,
                };
                iam_token = match self
                    .inner
                    .iam
                    .token(
                        &self.inner.http,
                        &config.user_agent,
                        &login,
                        rejected_token.as_ref(),
                        observer,
                    )
                    .await
                {
                    Ok(token) => token,
                    Err(err) => return unsent(err),
                };
                (
                    RequestAuth::Token(&iam_token),
                    AuthKind::Iam,
                    Some(iam_token.clone()),
                )
            }
            Credentials::IdToken {
                source,
                identity_provider_id,
                subject,
                iam_endpoint,
            } => {
                let exchange = Exchange {
                    source: source.as_ref(),
                    identity_provider_id,
                    subject,
                    iam_endpoint,
                    project_id: &scope.project_id,
                };
                iam_token = match self
                    .inner
                    .iam
                    .exchanged_token(
                        &self.inner.http,
                        &config.user_agent,
                        &exchange,
                        rejected_token.as_ref(),
                        observer,
                    )
                    .await
                {
                    Ok(token) => token,
                    Err(err) => return unsent(err),
                };
                (
                    RequestAuth::Token(&iam_token),
                    AuthKind::IdToken,
                    Some(iam_token.clone()),
                )
            }
        };
        let prepared = prepare_hosts_risk_request(
            scope,
            ids,
            &auth,
            &config.user_agent,
            jiff::Timestamp::now(),
        );
        self.inner
            .counters
            .http_attempts
            .fetch_add(1, Ordering::Relaxed);
        let target = format!("{}://{}", scope.endpoint.scheme(), scope.authority());
        let started = Instant::now();
        let result = send_get(&self.inner.http, &prepared, &target, auth_kind).await;
        Attempt {
            result,
            used_token,
            sent: Some(started.elapsed()),
        }
    }
}

fn check_inputs(scope: &Scope, credentials: &Credentials) -> Result<(), HssError> {
    scope.validate()?;
    credentials
        .validate()
        .map_err(|message| HssError::InvalidCredentials { message })
}

/// `APIGW.0307` (token expired), or `APIGW.0301` while using an IAM token we obtained
/// (password login or id-token exchange).
fn is_token_expiry(err: &HssError, credentials: &Credentials) -> bool {
    match err {
        HssError::Authentication { body, .. } => {
            let code = body.code.as_deref();
            let obtained = matches!(
                credentials,
                Credentials::Iam { .. } | Credentials::IdToken { .. }
            );
            is_gateway_code(code, "0307") || (obtained && is_gateway_code(code, "0301"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_expiry_detection() {
        let auth = |code: &str| HssError::Authentication {
            auth: AuthKind::Iam,
            body: crate::error::ErrorBody {
                code: Some(code.into()),
                ..Default::default()
            },
        };
        let iam = Credentials::Iam {
            username: "u".into(),
            password: "p".into(),
            domain_name: "d".into(),
            iam_endpoint: url::Url::parse("https://iam.example").expect("url"),
        };
        let aksk = Credentials::ak_sk("a", "s");
        assert!(is_token_expiry(&auth("APIG.0307"), &iam));
        assert!(is_token_expiry(&auth("APIGW.0301"), &iam));
        assert!(!is_token_expiry(&auth("APIGW.0301"), &aksk));
    }
}
