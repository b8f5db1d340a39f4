//! Identity federation: LDAP / Active Directory and OpenID Connect providers
//! configured per tenant, and the worker threads that talk to them.
//!
//! Owns: the provider records and their validation (`providers`), the
//! directory and token checks (`ldap`, `oidc`), and the bounded pool of
//! blocking worker threads that runs them off the control-plane reactor, so a
//! directory that is down or slow never holds local logins, the S3 path or
//! another tenant: every job has the provider's timeout, each tenant may have
//! only a few jobs waiting at once, and a provider failing again and again is
//! skipped for a while (circuit breaker). Must not: touch the catalog or mint
//! sessions; the control plane does that with a job's answer. Main items:
//! `Federation`, `Work`, `Answer`, `Done`, `FederationError`.

pub mod ldap;
pub mod oidc;
pub mod providers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Worker threads: each holds one directory or provider exchange at a time.
const WORKERS: usize = 8;
/// Jobs queued for the workers beyond those running; more are refused (503).
const QUEUED_JOBS_MAX: usize = 64;
/// Jobs one tenant may have queued or running: a tenant whose directory
/// hangs cannot take every worker.
const JOBS_PER_TENANT_MAX: usize = 4;
/// Consecutive unavailability failures that open a provider's circuit.
const BREAKER_FAILURES: u32 = 3;
/// How long an open circuit refuses jobs before one is let through again.
const BREAKER_OPEN_MS: u64 = 30_000;

/// Why a federated sign-in failed; the message is safe to audit and show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FederationError {
    /// Unknown user or wrong password (never says which).
    InvalidCredentials,
    /// The provider could not be reached, timed out, or its circuit is open.
    Unavailable(String),
    /// A token that is malformed, badly signed, for another audience or issuer.
    InvalidToken(String),
    /// A token past its `exp`.
    ExpiredToken,
    /// Anything else the provider answered that ends the attempt.
    Refused(String),
}

impl std::fmt::Display for FederationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FederationError::InvalidCredentials => f.write_str("invalid credentials"),
            FederationError::Unavailable(why) => write!(f, "provider unavailable: {why}"),
            FederationError::InvalidToken(why) => write!(f, "invalid token: {why}"),
            FederationError::ExpiredToken => f.write_str("the token has expired"),
            FederationError::Refused(why) => f.write_str(why),
        }
    }
}

/// One exchange with a provider, with its secrets already opened.
pub enum Work {
    /// Search the user, bind as it, collect its groups.
    Ldap {
        provider: ldap::LdapProvider,
        login: String,
        password: String,
    },
    /// Read the provider's discovery document (to start a browser sign-in).
    OidcDiscover { provider: oidc::OidcProvider },
    /// Redeem an authorization code and check the ID token it gives.
    OidcCode {
        provider: oidc::OidcProvider,
        code: String,
        code_verifier: String,
        redirect_uri: String,
        nonce: String,
    },
    /// Check a token presented to AssumeRoleWithWebIdentity.
    OidcToken {
        provider: oidc::OidcProvider,
        token: String,
    },
}

impl Work {
    fn provider_id(&self) -> &str {
        match self {
            Work::Ldap { provider, .. } => &provider.id,
            Work::OidcDiscover { provider }
            | Work::OidcCode { provider, .. }
            | Work::OidcToken { provider, .. } => &provider.id,
        }
    }
}

/// A job's result.
pub enum Answer {
    Ldap(Result<ldap::LdapIdentity, FederationError>),
    Discovered(Result<oidc::Discovery, FederationError>),
    Claims(Result<oidc::Claims, FederationError>),
    /// The job failed before it could answer in its kind.
    Failed(FederationError),
}

/// A finished job, handed back to the control plane.
pub struct Done {
    pub job: u64,
    pub answer: Answer,
}

struct Job {
    id: u64,
    work: Work,
}

/// What the workers share: circuit breakers, the OIDC discovery and key
/// caches, idle LDAP connections.
#[derive(Default)]
pub struct Shared {
    breakers: Mutex<HashMap<String, Breaker>>,
    pub oidc: oidc::Cache,
    pub ldap: ldap::Pool,
}

#[derive(Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

impl Shared {
    /// `Err` while the provider's circuit is open.
    fn admit(&self, provider_id: &str) -> Result<(), FederationError> {
        let mut breakers = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        let Some(breaker) = breakers.get_mut(provider_id) else {
            return Ok(());
        };
        match breaker.open_until {
            Some(until) if Instant::now() < until => Err(FederationError::Unavailable(
                "it failed repeatedly; retrying it shortly".into(),
            )),
            Some(_) => {
                // Half open: this job is the trial; a failure reopens at once.
                breaker.open_until = None;
                breaker.failures = BREAKER_FAILURES - 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn record(&self, provider_id: &str, unavailable: bool) {
        let mut breakers = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        if !unavailable {
            breakers.remove(provider_id);
            return;
        }
        let breaker = breakers.entry(provider_id.to_owned()).or_default();
        breaker.failures += 1;
        if breaker.failures >= BREAKER_FAILURES {
            breaker.open_until = Some(Instant::now() + Duration::from_millis(BREAKER_OPEN_MS));
        }
    }

    /// Forgets what is cached for a provider that was changed or deleted.
    pub fn forget(&self, provider_id: &str) {
        self.breakers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(provider_id);
        self.ldap.forget(provider_id);
        self.oidc.forget(provider_id);
    }
}

/// The control plane's handle on the workers, and the accounting of the
/// jobs each tenant has out.
pub struct Federation {
    jobs: Option<async_channel::Sender<Job>>,
    next_job: u64,
    /// Job → the tenant it counts against.
    outstanding: HashMap<u64, String>,
    per_tenant: HashMap<String, usize>,
    pub shared: Arc<Shared>,
}

impl Default for Federation {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a job was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitError {
    /// The workers are not running (no console reactor, or shutting down).
    NotRunning,
    /// The queue or this tenant's share is full.
    Busy,
}

impl Federation {
    pub fn new() -> Self {
        Federation {
            jobs: None,
            next_job: 1,
            outstanding: HashMap::new(),
            per_tenant: HashMap::new(),
            shared: Arc::new(Shared::default()),
        }
    }

    /// Starts the worker threads; each finished job goes to `deliver`.
    pub fn start(&mut self, deliver: Arc<dyn Fn(Done) + Send + Sync>) {
        let (sender, receiver) = async_channel::bounded::<Job>(QUEUED_JOBS_MAX);
        for index in 0..WORKERS {
            let receiver = receiver.clone();
            let deliver = Arc::clone(&deliver);
            let shared = Arc::clone(&self.shared);
            let spawned = std::thread::Builder::new()
                .name(format!("federation-{index}"))
                .spawn(move || {
                    while let Ok(job) = receiver.recv_blocking() {
                        // A client library panicking on a provider's odd
                        // answer must still answer the job: nobody may
                        // wait forever for it.
                        let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            run(&shared, job.work)
                        }))
                        .unwrap_or_else(|_| {
                            Answer::Failed(FederationError::Refused(
                                "the provider's answer could not be read".into(),
                            ))
                        });
                        deliver(Done {
                            job: job.id,
                            answer,
                        });
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(%err, "cannot start a federation worker");
            }
        }
        self.jobs = Some(sender);
    }

    /// Queues `work` for `tenant`; the answer comes back as a `Done` with the
    /// returned job number.
    pub fn submit(&mut self, tenant: &str, work: Work) -> Result<u64, SubmitError> {
        let Some(jobs) = &self.jobs else {
            return Err(SubmitError::NotRunning);
        };
        let held = self.per_tenant.get(tenant).copied().unwrap_or(0);
        if held >= JOBS_PER_TENANT_MAX {
            return Err(SubmitError::Busy);
        }
        let id = self.next_job;
        match jobs.try_send(Job { id, work }) {
            Ok(()) => {}
            Err(async_channel::TrySendError::Full(_)) => return Err(SubmitError::Busy),
            Err(async_channel::TrySendError::Closed(_)) => return Err(SubmitError::NotRunning),
        }
        self.next_job += 1;
        self.outstanding.insert(id, tenant.to_owned());
        *self.per_tenant.entry(tenant.to_owned()).or_default() += 1;
        Ok(id)
    }

    /// Releases a finished job's place in its tenant's share.
    pub fn finished(&mut self, job: u64) {
        let Some(tenant) = self.outstanding.remove(&job) else {
            return;
        };
        if let Some(held) = self.per_tenant.get_mut(&tenant) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                self.per_tenant.remove(&tenant);
            }
        }
    }
}

/// Runs one job on a worker thread.
fn run(shared: &Shared, work: Work) -> Answer {
    let provider_id = work.provider_id().to_owned();
    if let Err(err) = shared.admit(&provider_id) {
        return match work {
            Work::Ldap { .. } => Answer::Ldap(Err(err)),
            Work::OidcDiscover { .. } => Answer::Discovered(Err(err)),
            Work::OidcCode { .. } | Work::OidcToken { .. } => Answer::Claims(Err(err)),
        };
    }
    let answer = match work {
        Work::Ldap {
            provider,
            login,
            password,
        } => Answer::Ldap(ldap::authenticate(
            &shared.ldap,
            &provider,
            &login,
            &password,
        )),
        Work::OidcDiscover { provider } => Answer::Discovered(
            shared
                .oidc
                .discovery(&provider)
                .map(|found| (*found).clone()),
        ),
        Work::OidcCode {
            provider,
            code,
            code_verifier,
            redirect_uri,
            nonce,
        } => Answer::Claims(oidc::redeem_code(
            &shared.oidc,
            &provider,
            &code,
            &code_verifier,
            &redirect_uri,
            &nonce,
        )),
        Work::OidcToken { provider, token } => {
            Answer::Claims(oidc::check_token(&shared.oidc, &provider, &token, None))
        }
    };
    let unavailable = matches!(
        &answer,
        Answer::Ldap(Err(FederationError::Unavailable(_)))
            | Answer::Discovered(Err(FederationError::Unavailable(_)))
            | Answer::Claims(Err(FederationError::Unavailable(_)))
    );
    shared.record(&provider_id, unavailable);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_after_repeated_unavailability_and_lets_a_trial_through() {
        let shared = Shared::default();
        for _ in 0..BREAKER_FAILURES - 1 {
            shared.record("p", true);
            assert!(shared.admit("p").is_ok());
        }
        shared.record("p", true);
        assert!(matches!(
            shared.admit("p"),
            Err(FederationError::Unavailable(_))
        ));
        // Once the open period is over, one trial goes through.
        shared
            .breakers
            .lock()
            .unwrap()
            .get_mut("p")
            .unwrap()
            .open_until = Some(Instant::now() - Duration::from_millis(1));
        assert!(shared.admit("p").is_ok());
        // A failing trial reopens at once; a success closes it.
        shared.record("p", true);
        assert!(shared.admit("p").is_err());
        shared
            .breakers
            .lock()
            .unwrap()
            .get_mut("p")
            .unwrap()
            .open_until = None;
        shared.record("p", false);
        assert!(shared.admit("p").is_ok());
        assert!(shared.breakers.lock().unwrap().get("p").is_none());
    }

    #[test]
    fn a_tenant_cannot_hold_more_than_its_share() {
        let mut federation = Federation::new();
        // Not running: refused.
        let work = || Work::OidcDiscover {
            provider: oidc::OidcProvider::for_tests("p", "http://127.0.0.1:9"),
        };
        assert_eq!(federation.submit("t", work()), Err(SubmitError::NotRunning));
        // A queue nobody reads stands in for busy workers.
        let (sender, _receiver) = async_channel::bounded::<Job>(QUEUED_JOBS_MAX);
        federation.jobs = Some(sender);
        let mut ids = Vec::new();
        for _ in 0..JOBS_PER_TENANT_MAX {
            ids.push(federation.submit("t", work()).expect("within the share"));
        }
        assert_eq!(federation.submit("t", work()), Err(SubmitError::Busy));
        assert!(federation.submit("other", work()).is_ok());
        federation.finished(ids[0]);
        assert!(federation.submit("t", work()).is_ok());
    }
}
