//! The control plane's side of federated sign-in: LDAP logins on the admin
//! API, the OpenID Connect browser flow (start and callback), and the
//! unsigned STS calls AssumeRoleWithLDAPIdentity and
//! AssumeRoleWithWebIdentity that arrive from the S3 port.
//!
//! Owns: deciding which calls need a provider, handing the exchange to the
//! federation workers (`crate::federation`) and remembering who waits for
//! it, then, with the answer, provisioning the user in its tenant with the
//! mapped role, opening the session or issuing the credentials, and
//! auditing every outcome with its reason. The control plane never waits
//! on a provider: it goes on serving other calls while a job runs. Also the
//! OpenID Connect sign-ins in flight (state, nonce, PKCE verifier), each
//! good once and for ten minutes.

use std::collections::HashMap;
use std::net::IpAddr;

use futures_channel::oneshot;
use serde_json::json;

use super::tenants::{account_by_name, clear_role, role_of, set_role};
use super::ControlPlane;
use crate::admin::login::{invalid_credentials, LoginForm};
use crate::admin::{user_subject, AdminError, AdminRequest, AdminResponse};
use crate::directory::{AccountRecord, RecordChange, RoleRecord, UserRecord};
use crate::federation::providers::{self, IdentityProviderRecord};
use crate::federation::{oidc, Answer, Done, Federation, FederationError, SubmitError, Work};
use s3::query::{QueryAnswer, QueryError, QueryRequest, RequestFacts, XmlNode};

/// How long a started OpenID Connect sign-in may take to come back.
const SIGN_IN_MS_MAX: u64 = 10 * 60 * 1000;
/// The cookie binding a sign-in's state to the browser that started it.
const SIGN_IN_COOKIE: &str = "maxiofs_sso";
/// How long a signed-in OIDC user has to enter its TOTP code.
const TOTP_STEP_MS_MAX: u64 = 5 * 60 * 1000;
/// OIDC sign-ins waiting for their TOTP code, in all.
const TOTP_STEPS_MAX: usize = 10_000;
/// Sign-ins in flight, in all; the oldest expired ones go first.
const SIGN_INS_MAX: usize = 10_000;
/// Sign-ins in flight started from one address.
const SIGN_INS_PER_SOURCE_MAX: usize = 20;
/// Users one tenant may hold (IAM's quota, as the admin API enforces it).
const USERS_PER_ACCOUNT_MAX: usize = 5000;

/// Federated work in flight.
#[derive(Default)]
pub struct FederatedState {
    pub federation: Federation,
    waiting: HashMap<u64, Waiting>,
    sign_ins: HashMap<String, SignIn>,
    /// OIDC sign-ins of users who enrolled TOTP, waiting for the code.
    totp_steps: HashMap<String, TotpStep>,
}

/// A user the provider signed in, not yet through its second factor.
struct TotpStep {
    account_id: String,
    user_name: String,
    provider_source: String,
    started_ms: u64,
}

/// An OpenID Connect sign-in sent to its provider, keyed by its `state`.
struct SignIn {
    account_id: String,
    provider_id: String,
    nonce: String,
    code_verifier: String,
    redirect_uri: String,
    started_ms: u64,
    source: IpAddr,
}

/// Who waits for a job, with what it needs to finish.
enum Waiting {
    Login {
        request: Box<AdminRequest>,
        reply: oneshot::Sender<AdminResponse>,
        form: LoginForm,
        account: AccountRecord,
        provider: IdentityProviderRecord,
    },
    OidcStart {
        request: Box<AdminRequest>,
        reply: oneshot::Sender<AdminResponse>,
        state: String,
        sign_in: SignIn,
        scopes: Vec<String>,
        client_id: String,
    },
    OidcCallback {
        request: Box<AdminRequest>,
        reply: oneshot::Sender<AdminResponse>,
        account: AccountRecord,
        provider: IdentityProviderRecord,
    },
    StsLdap {
        request: QueryRequest,
        facts: RequestFacts,
        reply: oneshot::Sender<QueryAnswer>,
        account: AccountRecord,
        provider: IdentityProviderRecord,
        login: String,
    },
    StsWebIdentity {
        request: QueryRequest,
        facts: RequestFacts,
        reply: oneshot::Sender<QueryAnswer>,
        account: AccountRecord,
        provider: IdentityProviderRecord,
        role: RoleRecord,
    },
}

/// Why provisioning a directory user failed.
enum Provisioning {
    /// In no mapped group: its role (if it had one) is taken away.
    NotMapped,
    /// A local user of that name exists, or one of another provider.
    NameTaken,
    InvalidName,
    TooManyUsers,
    Failed(String),
}

impl Provisioning {
    fn reason(&self) -> String {
        match self {
            Provisioning::NotMapped => "not in any group mapped to a role".into(),
            Provisioning::NameTaken => {
                "a user of that name exists that this provider did not create".into()
            }
            Provisioning::InvalidName => "the login is not a valid user name".into(),
            Provisioning::TooManyUsers => "the tenant has too many users".into(),
            Provisioning::Failed(why) => why.clone(),
        }
    }
}

fn redirect_with_error(message: &str) -> AdminResponse {
    let encoded =
        percent_encoding::utf8_percent_encode(message, percent_encoding::NON_ALPHANUMERIC);
    AdminResponse::redirect(format!("/?login_error={encoded}"))
}

fn unavailable_error(why: &str) -> AdminError {
    AdminError::new(
        503,
        "IdentityProviderUnavailable",
        format!("The identity provider cannot be reached ({why}); local sign-in still works."),
    )
}

fn sts_access_denied() -> QueryError {
    QueryError::access_denied("Authentication failed: the directory refused the credentials.")
}

fn invalid_identity_token(message: impl Into<String>) -> QueryError {
    QueryError::new("InvalidIdentityToken", 400, message)
}

/// The caller's address as the S3 port saw it (empty when unknown).
fn source_ip(facts: &RequestFacts) -> String {
    facts
        .get("aws:sourceip")
        .and_then(|ips| ips.first().cloned())
        .unwrap_or_default()
}

/// A sign-in's `redirect_uri`: this console, as the browser reached it.
fn callback_uri(request: &AdminRequest) -> Option<String> {
    let host = request.host.as_deref()?;
    let host_ok = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    host_ok.then(|| {
        format!(
            "{}://{host}/api/v1/auth/oidc/callback",
            if request.tls { "https" } else { "http" }
        )
    })
}

impl ControlPlane {
    /// Starts the federation workers; their answers come back as admin calls.
    pub fn start_federation(&mut self, calls: async_channel::Sender<crate::admin::AdminCall>) {
        self.federated
            .federation
            .start(std::sync::Arc::new(move |done: Done| {
                // Blocking is right here: this runs on a worker thread, and
                // a full inbox only slows the workers down.
                let _ = calls.send_blocking(crate::admin::AdminCall::Federation(Box::new(done)));
            }));
    }

    /// Takes the admin calls that need an identity provider; any other call
    /// is handed back to be served as usual.
    pub(crate) fn federated_admin_call(
        &mut self,
        request: Box<AdminRequest>,
        reply: oneshot::Sender<AdminResponse>,
    ) -> Option<(Box<AdminRequest>, oneshot::Sender<AdminResponse>)> {
        let segments: Vec<&str> = request.segments.iter().map(String::as_str).collect();
        match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["auth", "login"]) => {
                let directory = self.directory_for_login(&request);
                match directory {
                    Some((account, provider)) => {
                        self.ldap_login(request, reply, account, provider);
                        None
                    }
                    None => Some((request, reply)),
                }
            }
            ("GET", ["auth", "oidc", "callback"]) => {
                self.oidc_callback(request, reply);
                None
            }
            ("POST", ["auth", "oidc", "totp"]) => {
                let _ = reply.send(self.oidc_totp(&request));
                None
            }
            ("GET", ["auth", "oidc", tenant, name, "start"]) => {
                let (tenant, name) = (tenant.to_string(), name.to_string());
                self.oidc_start(request, reply, &tenant, &name);
                None
            }
            _ => Some((request, reply)),
        }
    }

    /// The tenant and directory a `<tenant>/<login>` login goes to: only
    /// when the tenant has an LDAP provider and no local user of that name
    /// with a password (local users sign in locally first).
    fn directory_for_login(
        &self,
        request: &AdminRequest,
    ) -> Option<(AccountRecord, IdentityProviderRecord)> {
        let body: serde_json::Value = serde_json::from_slice(&request.body).ok()?;
        let username = body.get("username")?.as_str()?;
        let (tenant, login) = username.split_once('/')?;
        let account = account_by_name(&self.catalog, tenant).ok()??;
        let local = self
            .catalog
            .record::<UserRecord>(&account.id, login)
            .ok()
            .flatten()
            .is_some_and(|user| user.login.password_hash.is_some());
        if local {
            return None;
        }
        let provider = self
            .tenant_providers(&account.id)
            .ok()?
            .into_iter()
            .find(|provider| !provider.is_oidc())?;
        Some((account, provider))
    }

    fn ldap_login(
        &mut self,
        request: Box<AdminRequest>,
        reply: oneshot::Sender<AdminResponse>,
        account: AccountRecord,
        provider: IdentityProviderRecord,
    ) {
        let now_ms = super::now_ms();
        let form = match self.admin_login_form(&request, now_ms) {
            Ok(form) => form,
            Err(error) => {
                let _ = reply.send(error.response());
                return;
            }
        };
        let login = form
            .username
            .split_once('/')
            .map(|(_, login)| login.to_owned())
            .unwrap_or_default();
        if account.suspended {
            let _ = reply
                .send(AdminError::new(403, "AccessDenied", "The tenant is suspended.").response());
            return;
        }
        // Filter metacharacters never reach the directory: refused, counted
        // and audited like a wrong password.
        if !crate::federation::ldap::login_is_searchable(&login) || form.secret.is_empty() {
            self.admin_login_failed(&request, &form, now_ms, "ldap: the login name was refused");
            let _ = reply.send(invalid_credentials().response());
            return;
        }
        let work = match providers::open_ldap(&provider, &self.master) {
            Ok(opened) => Work::Ldap {
                provider: opened,
                login,
                password: form.secret.clone(),
            },
            Err(why) => {
                self.admin_login_failed(&request, &form, now_ms, &format!("ldap: {why}"));
                let _ = reply.send(unavailable_error(&why).response());
                return;
            }
        };
        match self.federated.federation.submit(&account.id, work) {
            Ok(job) => {
                self.federated.waiting.insert(
                    job,
                    Waiting::Login {
                        request,
                        reply,
                        form,
                        account,
                        provider,
                    },
                );
            }
            Err(refused) => {
                let why = submit_refusal(&refused);
                self.admin_audit_entry(
                    &request,
                    &account.id,
                    &form.username,
                    "login",
                    &form.username,
                    "failure",
                    &format!("ldap: {why}"),
                );
                let _ = reply.send(unavailable_error(why).response());
            }
        }
    }

    fn oidc_start(
        &mut self,
        request: Box<AdminRequest>,
        reply: oneshot::Sender<AdminResponse>,
        tenant: &str,
        name: &str,
    ) {
        let now_ms = super::now_ms();
        let found = account_by_name(&self.catalog, tenant)
            .ok()
            .flatten()
            .filter(|account| !account.suspended)
            .and_then(|account| {
                let provider = self
                    .tenant_providers(&account.id)
                    .ok()?
                    .into_iter()
                    .find(|provider| provider.is_oidc() && provider.name == name)?;
                Some((account, provider))
            });
        let Some((account, provider)) = found else {
            let _ = reply.send(redirect_with_error("No such single sign-on provider."));
            return;
        };
        let configured = match &provider.kind {
            providers::ProviderKind::Oidc { redirect_uri, .. } => redirect_uri.clone(),
            providers::ProviderKind::Ldap { .. } => None,
        };
        let Some(redirect_uri) = configured.or_else(|| callback_uri(&request)) else {
            let _ = reply.send(redirect_with_error(
                "The request has no usable Host header.",
            ));
            return;
        };
        // Expired sign-ins go first; then the bounds, overall and per address.
        self.federated
            .sign_ins
            .retain(|_, sign_in| now_ms.saturating_sub(sign_in.started_ms) < SIGN_IN_MS_MAX);
        let from_source = self
            .federated
            .sign_ins
            .values()
            .filter(|sign_in| sign_in.source == request.source)
            .count();
        if self.federated.sign_ins.len() >= SIGN_INS_MAX || from_source >= SIGN_INS_PER_SOURCE_MAX {
            let _ = reply.send(redirect_with_error(
                "Too many sign-ins in progress; try again in a few minutes.",
            ));
            return;
        }
        let opened = match providers::open_oidc(&provider, &self.master) {
            Ok(opened) => opened,
            Err(why) => {
                let _ = reply.send(redirect_with_error(&why));
                return;
            }
        };
        let providers::ProviderKind::Oidc { scopes, .. } = &provider.kind else {
            return;
        };
        let waiting = Waiting::OidcStart {
            state: crate::credentials::random_from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                43,
            ),
            sign_in: SignIn {
                account_id: account.id.clone(),
                provider_id: provider.id.clone(),
                nonce: crate::credentials::random_from(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                    32,
                ),
                code_verifier: oidc::new_code_verifier(),
                redirect_uri,
                started_ms: now_ms,
                source: request.source,
            },
            scopes: scopes.clone(),
            client_id: opened.client_id.clone(),
            request,
            reply,
        };
        match self
            .federated
            .federation
            .submit(&account.id, Work::OidcDiscover { provider: opened })
        {
            Ok(job) => {
                self.federated.waiting.insert(job, waiting);
            }
            Err(refused) => {
                if let Waiting::OidcStart { reply, .. } = waiting {
                    let _ = reply.send(redirect_with_error(&format!(
                        "The identity provider cannot be reached ({}).",
                        submit_refusal(&refused)
                    )));
                }
            }
        }
    }

    fn oidc_callback(&mut self, request: Box<AdminRequest>, reply: oneshot::Sender<AdminResponse>) {
        let now_ms = super::now_ms();
        let state = request.query_param("state").unwrap_or("").to_owned();
        // Taken out at once: a state (and so a code) is good once.
        let sign_in = self
            .federated
            .sign_ins
            .remove(&state)
            .filter(|sign_in| now_ms.saturating_sub(sign_in.started_ms) < SIGN_IN_MS_MAX);
        let Some(sign_in) = sign_in else {
            let _ = reply.send(redirect_with_error(
                "This sign-in has expired or was already used; start again.",
            ));
            return;
        };
        let bound = request.cookie.as_deref().is_some_and(|cookies| {
            cookies
                .split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .any(|(name, value)| {
                    name == SIGN_IN_COOKIE
                        && subtle::ConstantTimeEq::ct_eq(
                            value.as_bytes(),
                            state_binding(&state).as_bytes(),
                        )
                        .into()
                })
        });
        if !bound {
            self.federated_audit(
                &sign_in.account_id,
                &request.source.to_string(),
                "anonymous",
                "login",
                "failure",
                "oidc: the callback came from a browser that did not start this sign-in",
            );
            let _ = reply.send(redirect_with_error(
                "This sign-in was started in another browser; start again.",
            ));
            return;
        }
        let account = super::tenants::account_record(&self.catalog, &sign_in.account_id)
            .ok()
            .flatten();
        let provider = self
            .catalog
            .record::<IdentityProviderRecord>(&sign_in.account_id, &sign_in.provider_id)
            .ok()
            .flatten();
        let (Some(account), Some(provider)) = (account, provider) else {
            let _ = reply.send(redirect_with_error("The provider no longer exists."));
            return;
        };
        if let Some(error) = request.query_param("error") {
            let error: String = error
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(64)
                .collect();
            self.federated_audit(
                &account.id,
                &request.source.to_string(),
                &provider.source(),
                "login",
                "failure",
                &format!("oidc: the provider answered {error}"),
            );
            let _ = reply.send(redirect_with_error(&format!(
                "The identity provider answered: {error}"
            )));
            return;
        }
        let code = request.query_param("code").unwrap_or("").to_owned();
        let opened = match providers::open_oidc(&provider, &self.master) {
            Ok(opened) => opened,
            Err(why) => {
                let _ = reply.send(redirect_with_error(&why));
                return;
            }
        };
        if code.is_empty() || code.len() > 2048 {
            let _ = reply.send(redirect_with_error("The provider sent no code."));
            return;
        }
        let work = Work::OidcCode {
            provider: opened,
            code,
            code_verifier: sign_in.code_verifier,
            redirect_uri: sign_in.redirect_uri,
            nonce: sign_in.nonce,
        };
        match self.federated.federation.submit(&account.id, work) {
            Ok(job) => {
                self.federated.waiting.insert(
                    job,
                    Waiting::OidcCallback {
                        request,
                        reply,
                        account,
                        provider,
                    },
                );
            }
            Err(refused) => {
                let _ = reply.send(redirect_with_error(&format!(
                    "The identity provider cannot be reached ({}).",
                    submit_refusal(&refused)
                )));
            }
        }
    }

    /// An unsigned STS call from the S3 port.
    pub(crate) fn federated_query(
        &mut self,
        request: QueryRequest,
        facts: RequestFacts,
        reply: oneshot::Sender<QueryAnswer>,
    ) {
        let started = match request.action.as_str() {
            "AssumeRoleWithLDAPIdentity" => self.sts_ldap(request, facts, reply),
            "AssumeRoleWithWebIdentity" => self.sts_web_identity(request, facts, reply),
            _ => Err((
                reply,
                QueryError::new(
                    "MissingAuthenticationToken",
                    403,
                    "Request is missing Authentication Token",
                ),
            )),
        };
        if let Err((reply, error)) = started {
            let _ = reply.send(Err(error));
        }
    }

    #[allow(clippy::result_large_err)]
    fn sts_ldap(
        &mut self,
        request: QueryRequest,
        facts: RequestFacts,
        reply: oneshot::Sender<QueryAnswer>,
    ) -> Result<(), (oneshot::Sender<QueryAnswer>, QueryError)> {
        let now_ms = super::now_ms();
        let (username, password) = match (
            request.required("LDAPUsername"),
            request.required("LDAPPassword"),
        ) {
            (Ok(username), Ok(password)) => (username.to_owned(), password.to_owned()),
            (Err(error), _) | (_, Err(error)) => return Err((reply, error)),
        };
        let source = source_ip(&facts)
            .parse::<IpAddr>()
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        // The same throttles as the console's login: per address, and per name.
        if self.admin.sources.check_source(source, now_ms).is_err() {
            return Err((
                reply,
                QueryError::new(
                    "Throttling",
                    400,
                    "Too many failed sign-ins from this address; wait a minute.",
                ),
            ));
        }
        let lock_key = username.to_ascii_lowercase();
        if self.admin.limiter.check(&lock_key, now_ms).is_err() {
            return Err((reply, sts_access_denied()));
        }
        let found = username.split_once('/').and_then(|(tenant, login)| {
            let account = account_by_name(&self.catalog, tenant).ok()??;
            let provider = self
                .tenant_providers(&account.id)
                .ok()?
                .into_iter()
                .find(|provider| !provider.is_oidc())?;
            Some((account, provider, login.to_owned()))
        });
        let Some((account, provider, login)) = found else {
            self.admin.sources.record_source_failure(source, now_ms);
            return Err((reply, sts_access_denied()));
        };
        if account.suspended
            || password.is_empty()
            || !crate::federation::ldap::login_is_searchable(&login)
        {
            self.admin.sources.record_source_failure(source, now_ms);
            self.federated_audit(
                &account.id,
                &source.to_string(),
                &username,
                "sts:AssumeRoleWithLDAPIdentity",
                "failure",
                "ldap: the login name was refused",
            );
            return Err((reply, sts_access_denied()));
        }
        let opened = match providers::open_ldap(&provider, &self.master) {
            Ok(opened) => opened,
            Err(why) => return Err((reply, QueryError::new("ServiceUnavailable", 503, why))),
        };
        let work = Work::Ldap {
            provider: opened,
            login: login.clone(),
            password,
        };
        match self.federated.federation.submit(&account.id, work) {
            Ok(job) => {
                self.federated.waiting.insert(
                    job,
                    Waiting::StsLdap {
                        request,
                        facts,
                        reply,
                        account,
                        provider,
                        login,
                    },
                );
                Ok(())
            }
            Err(refused) => {
                self.federated_audit(
                    &account.id,
                    &source.to_string(),
                    &username,
                    "sts:AssumeRoleWithLDAPIdentity",
                    "failure",
                    &format!("ldap: {}", submit_refusal(&refused)),
                );
                Err((
                    reply,
                    QueryError::new(
                        "ServiceUnavailable",
                        503,
                        format!(
                            "The directory cannot be reached ({}).",
                            submit_refusal(&refused)
                        ),
                    ),
                ))
            }
        }
    }

    #[allow(clippy::result_large_err)]
    fn sts_web_identity(
        &mut self,
        request: QueryRequest,
        facts: RequestFacts,
        reply: oneshot::Sender<QueryAnswer>,
    ) -> Result<(), (oneshot::Sender<QueryAnswer>, QueryError)> {
        let checked = (|| {
            let (role_arn, _) = super::iam::sts::role_arn_and_session_name(&request)?;
            let token = request.required("WebIdentityToken")?;
            if token.len() < 4 || token.len() > oidc::TOKEN_BYTES_MAX {
                return Err(QueryError::validation(
                    "1 validation error detected: Value at 'webIdentityToken' failed to satisfy \
                     constraint: Member must have length between 4 and 16384",
                ));
            }
            let denied = || {
                QueryError::access_denied("Not authorized to perform sts:AssumeRoleWithWebIdentity")
            };
            let (account_id, role_name) =
                super::iam::sts::parse_role_arn(role_arn).ok_or_else(denied)?;
            let account = super::tenants::account_record(&self.catalog, account_id)
                .ok()
                .flatten()
                .filter(|account| !account.suspended)
                .ok_or_else(denied)?;
            let role = self
                .catalog
                .record::<RoleRecord>(&account.id, role_name)
                .ok()
                .flatten()
                .filter(|role| {
                    format!("arn:aws:iam::{account_id}:role{}{}", role.path, role.name) == role_arn
                })
                .ok_or_else(denied)?;
            let issuer = oidc::peek_issuer(token)
                .ok_or_else(|| invalid_identity_token("The token is not a JWT."))?;
            let provider = self
                .tenant_providers(&account.id)
                .map_err(|_| denied())?
                .into_iter()
                .find(|provider| {
                    provider.issuer().map(|own| own.trim_end_matches('/'))
                        == Some(issuer.trim_end_matches('/'))
                })
                .ok_or_else(|| {
                    invalid_identity_token(format!(
                        "No OpenIDConnect provider found in your account for {issuer}"
                    ))
                })?;
            let opened = providers::open_oidc(&provider, &self.master)
                .map_err(|why| QueryError::new("IDPCommunicationError", 400, why))?;
            Ok((account, role, provider, opened, token.to_owned()))
        })();
        let (account, role, provider, opened, token) = match checked {
            Ok(found) => found,
            Err(error) => {
                // Refused before any provider was asked (a malformed or
                // unknown token, a role that is not there): audited in the
                // role's tenant when it exists.
                let account = request
                    .param("RoleArn")
                    .and_then(super::iam::sts::parse_role_arn)
                    .and_then(|(account, _)| {
                        super::tenants::account_record(&self.catalog, account)
                            .ok()
                            .flatten()
                    });
                if let Some(account) = account {
                    let source = source_ip(&facts);
                    let issuer = request
                        .param("WebIdentityToken")
                        .and_then(oidc::peek_issuer)
                        .unwrap_or_else(|| "unknown issuer".to_owned());
                    // The issuer is the caller's unverified claim: it goes
                    // in the detail, cut and printable, never as the actor.
                    let issuer: String = issuer
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(200)
                        .collect();
                    self.federated_audit(
                        &account.id,
                        &source,
                        "anonymous",
                        "sts:AssumeRoleWithWebIdentity",
                        "failure",
                        &format!("oidc: {} (token issuer {issuer:?})", error.message),
                    );
                }
                return Err((reply, error));
            }
        };
        let work = Work::OidcToken {
            provider: opened,
            token,
        };
        match self.federated.federation.submit(&account.id, work) {
            Ok(job) => {
                self.federated.waiting.insert(
                    job,
                    Waiting::StsWebIdentity {
                        request,
                        facts,
                        reply,
                        account,
                        provider,
                        role,
                    },
                );
                Ok(())
            }
            Err(refused) => {
                let source = source_ip(&facts);
                self.federated_audit(
                    &account.id,
                    &source,
                    "anonymous",
                    "sts:AssumeRoleWithWebIdentity",
                    "failure",
                    &format!("oidc: {}", submit_refusal(&refused)),
                );
                Err((
                    reply,
                    QueryError::new(
                        "IDPCommunicationError",
                        400,
                        format!(
                            "The identity provider cannot be reached ({}).",
                            submit_refusal(&refused)
                        ),
                    ),
                ))
            }
        }
    }

    /// Finishes what waited for a worker's answer.
    pub(crate) async fn federation_done(&mut self, done: Done) {
        self.federated.federation.finished(done.job);
        let Some(waiting) = self.federated.waiting.remove(&done.job) else {
            return;
        };
        // A job that failed before answering fails in its waiter's kind.
        let answer = match (done.answer, &waiting) {
            (Answer::Failed(error), Waiting::Login { .. } | Waiting::StsLdap { .. }) => {
                Answer::Ldap(Err(error))
            }
            (Answer::Failed(error), Waiting::OidcStart { .. }) => Answer::Discovered(Err(error)),
            (Answer::Failed(error), _) => Answer::Claims(Err(error)),
            (answer, _) => answer,
        };
        match (waiting, answer) {
            (
                Waiting::Login {
                    request,
                    reply,
                    form,
                    account,
                    provider,
                },
                Answer::Ldap(outcome),
            ) => {
                let answer = self
                    .finish_ldap_login(&request, &form, &account, &provider, outcome)
                    .await;
                let _ = reply.send(answer.unwrap_or_else(|error| error.response()));
            }
            (
                Waiting::OidcStart {
                    request,
                    reply,
                    state,
                    sign_in,
                    scopes,
                    client_id,
                },
                Answer::Discovered(outcome),
            ) => {
                let answer = match outcome {
                    Ok(discovery) => {
                        let encode = |value: &str| {
                            percent_encoding::utf8_percent_encode(
                                value,
                                percent_encoding::NON_ALPHANUMERIC,
                            )
                            .to_string()
                        };
                        let separator = if discovery.authorization_endpoint.contains('?') {
                            '&'
                        } else {
                            '?'
                        };
                        let location = format!(
                            "{}{separator}response_type=code&client_id={}&redirect_uri={}&\
                             scope={}&state={}&nonce={}&code_challenge={}&\
                             code_challenge_method=S256",
                            discovery.authorization_endpoint,
                            encode(&client_id),
                            encode(&sign_in.redirect_uri),
                            encode(&scopes.join(" ")),
                            encode(&state),
                            encode(&sign_in.nonce),
                            encode(&oidc::code_challenge(&sign_in.code_verifier)),
                        );
                        // The state is bound to this browser: the callback needs
                        // this cookie too, so a victim cannot be made to finish
                        // a sign-in someone else started (login CSRF).
                        let cookie = format!(
                            "{SIGN_IN_COOKIE}={}; Path=/api/v1/auth/oidc; HttpOnly; \
                             SameSite=Lax; Max-Age={}{}",
                            state_binding(&state),
                            SIGN_IN_MS_MAX / 1000,
                            if request.tls { "; Secure" } else { "" }
                        );
                        self.federated.sign_ins.insert(state, sign_in);
                        let mut answer = AdminResponse::redirect(location);
                        answer.set_cookie = Some(cookie);
                        answer
                    }
                    Err(error) => {
                        self.federated_audit(
                            &sign_in.account_id,
                            &request.source.to_string(),
                            &sign_in.provider_id,
                            "login",
                            "failure",
                            &format!("oidc: {error}"),
                        );
                        redirect_with_error(&format!("Single sign-on failed: {error}"))
                    }
                };
                let _ = reply.send(answer);
            }
            (
                Waiting::OidcCallback {
                    request,
                    reply,
                    account,
                    provider,
                },
                Answer::Claims(outcome),
            ) => {
                let answer = self
                    .finish_oidc_login(&request, &account, &provider, outcome)
                    .await;
                let _ = reply.send(answer);
            }
            (
                Waiting::StsLdap {
                    request,
                    facts,
                    reply,
                    account,
                    provider,
                    login,
                },
                Answer::Ldap(outcome),
            ) => {
                let answer = self
                    .finish_sts_ldap(&request, &facts, &account, &provider, &login, outcome)
                    .await;
                let _ = reply.send(answer);
            }
            (
                Waiting::StsWebIdentity {
                    request,
                    facts,
                    reply,
                    account,
                    provider,
                    role,
                },
                Answer::Claims(outcome),
            ) => {
                let answer = self
                    .finish_sts_web_identity(&request, &facts, &account, &provider, &role, outcome)
                    .await;
                let _ = reply.send(answer);
            }
            // A job answers in the kind it was asked: nothing else arrives.
            _ => tracing::error!("a federation job answered in another kind than asked"),
        }
    }

    async fn finish_ldap_login(
        &mut self,
        request: &AdminRequest,
        form: &LoginForm,
        account: &AccountRecord,
        provider: &IdentityProviderRecord,
        outcome: Result<crate::federation::ldap::LdapIdentity, FederationError>,
    ) -> Result<AdminResponse, AdminError> {
        let now_ms = super::now_ms();
        let identity = match outcome {
            Ok(identity) => identity,
            Err(FederationError::InvalidCredentials) => {
                self.admin_login_failed(request, form, now_ms, "ldap: invalid credentials");
                return Err(invalid_credentials());
            }
            Err(FederationError::Unavailable(why)) => {
                self.admin_audit_entry(
                    request,
                    &account.id,
                    &form.username,
                    "login",
                    &form.username,
                    "failure",
                    &format!("ldap: provider unavailable: {why}"),
                );
                return Err(unavailable_error(&why));
            }
            Err(other) => {
                self.admin_login_failed(request, form, now_ms, &format!("ldap: {other}"));
                return Err(AdminError::new(
                    401,
                    "InvalidCredentials",
                    format!("The directory refused the sign-in: {other}"),
                ));
            }
        };
        let login = form
            .username
            .split_once('/')
            .map(|(_, login)| login)
            .unwrap_or_default();
        let role = providers::mapped_role(provider, &identity.groups, None);
        let subject = crate::federation::ldap::normalize_dn(&identity.dn);
        let mut user = match self
            .provision(account, provider, (login, &subject), role)
            .await
        {
            Ok(user) => user,
            Err(refused) => {
                let reason = refused.reason();
                self.admin_login_failed(request, form, now_ms, &format!("ldap: {reason}"));
                return Err(AdminError::new(
                    403,
                    "AccessDenied",
                    format!("{}: {reason}.", form.username),
                ));
            }
        };
        self.admin_check_totp(&account.id, &mut user, form.code.as_deref(), now_ms)
            .inspect_err(|error| {
                if error.code != "TotpRequired" {
                    self.admin_login_failed(request, form, now_ms, "ldap: wrong TOTP code");
                }
            })?;
        let subject = user_subject(&account.id, &user.name, &user.id);
        let shown = json!({"tenant": account.name, "name": user.name, "role": role_of(&user), "source": provider.source()});
        let detail = format!("{} {}", provider.source(), identity.dn);
        Ok(self.admin_login_succeeded(request, form, &subject, shown, &detail))
    }

    async fn finish_oidc_login(
        &mut self,
        request: &AdminRequest,
        account: &AccountRecord,
        provider: &IdentityProviderRecord,
        outcome: Result<oidc::Claims, FederationError>,
    ) -> AdminResponse {
        let source = request.source.to_string();
        let claims = match outcome {
            Ok(claims) => claims,
            Err(error) => {
                self.federated_audit(
                    &account.id,
                    &source,
                    &provider.source(),
                    "login",
                    "failure",
                    &format!("oidc: {error}"),
                );
                return redirect_with_error(&format!("Single sign-on failed: {error}"));
            }
        };
        let login = login_from_claims(&claims);
        let who = format!("{}/{login}", account.name);
        let role = providers::mapped_role(
            provider,
            &groups_of(provider, &claims),
            verified_email(&claims),
        );
        let user = match self
            .provision(account, provider, (&login, &claims.subject), role)
            .await
        {
            Ok(user) => user,
            Err(refused) => {
                let reason = refused.reason();
                self.federated_audit(
                    &account.id,
                    &source,
                    &who,
                    "login",
                    "failure",
                    &format!("oidc: {reason}"),
                );
                return redirect_with_error(&format!("{who}: {reason}."));
            }
        };
        // TOTP still applies: the console asks for the code and finishes
        // the sign-in with POST /api/v1/auth/oidc/totp.
        if user.login.totp_sealed.is_some() {
            let now_ms = super::now_ms();
            let steps = &mut self.federated.totp_steps;
            steps.retain(|_, step| now_ms.saturating_sub(step.started_ms) < TOTP_STEP_MS_MAX);
            if steps.len() >= TOTP_STEPS_MAX {
                return redirect_with_error("Too many sign-ins in progress; try again shortly.");
            }
            let pending = crate::credentials::random_from(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                43,
            );
            steps.insert(
                pending.clone(),
                TotpStep {
                    account_id: account.id.clone(),
                    user_name: user.name.clone(),
                    provider_source: provider.source(),
                    started_ms: now_ms,
                },
            );
            return AdminResponse::redirect(format!("/#/login?sso_totp={pending}"));
        }
        let form = LoginForm::federated(&who, &account.id);
        let subject = user_subject(&account.id, &user.name, &user.id);
        let shown = json!({"tenant": account.name, "name": user.name, "role": role_of(&user), "source": provider.source()});
        let detail = format!("{} sub {}", provider.source(), claims.subject);
        let signed_in = self.admin_login_succeeded(request, &form, &subject, shown, &detail);
        sso_landing(signed_in)
    }

    /// `POST /api/v1/auth/oidc/totp {"pending", "totp"}`: the second factor
    /// of an OIDC sign-in whose user enrolled TOTP. Wrong codes count like
    /// failed logins (and lock the name).
    fn oidc_totp(&mut self, request: &AdminRequest) -> AdminResponse {
        let now_ms = super::now_ms();
        let body = match crate::admin::json_body(request) {
            Ok(body) => body,
            Err(error) => return error.response(),
        };
        let field = |name: &str| body.get(name).and_then(serde_json::Value::as_str);
        let (Some(pending), Some(code)) = (field("pending"), field("totp")) else {
            return AdminError::bad_request("pending and totp are required.").response();
        };
        let step = self
            .federated
            .totp_steps
            .get(pending)
            .filter(|step| now_ms.saturating_sub(step.started_ms) < TOTP_STEP_MS_MAX);
        let Some(step) = step else {
            return AdminError::new(
                401,
                "InvalidCredentials",
                "This sign-in has expired; sign in again.",
            )
            .response();
        };
        let (account_id, user_name, source) = (
            step.account_id.clone(),
            step.user_name.clone(),
            step.provider_source.clone(),
        );
        let tenant = super::tenants::account_record(&self.catalog, &account_id)
            .ok()
            .flatten()
            .map(|account| account.name)
            .unwrap_or_default();
        let who = format!("{tenant}/{user_name}");
        let form = LoginForm::federated(&who, &account_id).lockable();
        if self
            .admin
            .limiter
            .check(&who.to_ascii_lowercase(), now_ms)
            .is_err()
        {
            return AdminError::new(403, "AccountLocked", "Too many wrong codes; wait.").response();
        }
        let user = self.catalog.record::<UserRecord>(&account_id, &user_name);
        let Ok(Some(mut user)) = user else {
            self.federated.totp_steps.remove(pending);
            return AdminError::unauthorized("The user no longer exists.").response();
        };
        if let Err(error) = self.admin_check_totp(&account_id, &mut user, Some(code), now_ms) {
            self.admin_login_failed(request, &form, now_ms, "oidc: wrong TOTP code");
            return error.response();
        }
        self.federated.totp_steps.remove(pending);
        let subject = user_subject(&account_id, &user.name, &user.id);
        let shown =
            json!({"tenant": tenant, "name": user.name, "role": role_of(&user), "source": source});
        self.admin_login_succeeded(
            request,
            &form,
            &subject,
            shown,
            &format!("{source} with TOTP"),
        )
    }

    async fn finish_sts_ldap(
        &mut self,
        request: &QueryRequest,
        facts: &RequestFacts,
        account: &AccountRecord,
        provider: &IdentityProviderRecord,
        login: &str,
        outcome: Result<crate::federation::ldap::LdapIdentity, FederationError>,
    ) -> QueryAnswer {
        let now_ms = super::now_ms();
        let source_text = source_ip(facts);
        let source = source_text
            .parse::<IpAddr>()
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let who = format!("{}/{login}", account.name);
        let action = "sts:AssumeRoleWithLDAPIdentity";
        let lock_key = who.to_ascii_lowercase();
        let identity = match outcome {
            Ok(identity) => identity,
            Err(FederationError::Unavailable(why)) => {
                self.federated_audit(
                    &account.id,
                    &source_text,
                    &who,
                    action,
                    "failure",
                    &format!("ldap: provider unavailable: {why}"),
                );
                return Err(QueryError::new(
                    "ServiceUnavailable",
                    503,
                    format!("The directory cannot be reached ({why})."),
                ));
            }
            Err(error) => {
                self.admin.sources.record_source_failure(source, now_ms);
                self.federated_audit(
                    &account.id,
                    &source_text,
                    &who,
                    action,
                    "failure",
                    &format!("ldap: {error}"),
                );
                if let crate::auth::lockout::FailureOutcome::LockedNow { until_ms } =
                    self.admin.limiter.record_failure(&lock_key, now_ms)
                {
                    self.federated_audit(
                        &account.id,
                        &source_text,
                        &who,
                        "lockout",
                        "locked",
                        &format!("until {}", crate::admin::rfc3339(until_ms)),
                    );
                }
                return Err(sts_access_denied());
            }
        };
        let role = providers::mapped_role(provider, &identity.groups, None);
        let subject = crate::federation::ldap::normalize_dn(&identity.dn);
        let user = match self
            .provision(account, provider, (login, &subject), role)
            .await
        {
            Ok(user) => user,
            Err(refused) => {
                let reason = refused.reason();
                self.federated_audit(
                    &account.id,
                    &source_text,
                    &who,
                    action,
                    "failure",
                    &format!("ldap: {reason}"),
                );
                return Err(QueryError::access_denied(format!("{who}: {reason}.")));
            }
        };
        self.admin.limiter.record_success(&lock_key);
        let issuer = super::iam::sts::Issuer {
            catalog: &self.catalog,
            master: &self.master,
            now_ms,
        };
        let result = super::iam::sts::ldap_identity_session(&issuer, request, &account.id, &user)?;
        self.publish_sessions().await?;
        let key = credentials_key(&result);
        self.federated_audit(
            &account.id,
            &source_text,
            &who,
            action,
            "success",
            &format!("{} {} key {key}", provider.source(), identity.dn),
        );
        Ok(result)
    }

    #[allow(clippy::too_many_arguments)]
    async fn finish_sts_web_identity(
        &mut self,
        request: &QueryRequest,
        facts: &RequestFacts,
        account: &AccountRecord,
        provider: &IdentityProviderRecord,
        role: &RoleRecord,
        outcome: Result<oidc::Claims, FederationError>,
    ) -> QueryAnswer {
        let source_text = source_ip(facts);
        let action = "sts:AssumeRoleWithWebIdentity";
        let issuer_url = provider.issuer().unwrap_or_default().to_owned();
        let claims = match outcome {
            Ok(claims) => claims,
            Err(error) => {
                self.federated_audit(
                    &account.id,
                    &source_text,
                    &issuer_url,
                    action,
                    "failure",
                    &format!("oidc: {error}"),
                );
                return Err(match error {
                    FederationError::ExpiredToken => QueryError::new(
                        "ExpiredTokenException",
                        400,
                        "Token expired: current date/time is after the token's expiry.",
                    ),
                    FederationError::Unavailable(why) => QueryError::new(
                        "IDPCommunicationError",
                        400,
                        format!("The identity provider could not be reached: {why}"),
                    ),
                    other => invalid_identity_token(other.to_string()),
                });
            }
        };
        let who = format!("{issuer_url} sub {}", claims.subject);
        let role_arn = format!("arn:aws:iam::{}:role{}{}", account.id, role.path, role.name);
        if !self.trust_allows_web_identity(facts, account, role, &role_arn, &claims) {
            self.federated_audit(
                &account.id,
                &source_text,
                &who,
                action,
                "failure",
                &format!("the trust policy of {role_arn} does not allow this token"),
            );
            return Err(QueryError::access_denied(
                "Not authorized to perform sts:AssumeRoleWithWebIdentity",
            ));
        }
        let issuer = super::iam::sts::Issuer {
            catalog: &self.catalog,
            master: &self.master,
            now_ms: super::now_ms(),
        };
        let provider_name = issuer_url
            .split_once("://")
            .map(|(_, bare)| bare)
            .unwrap_or(&issuer_url);
        let audience = claims
            .audience
            .iter()
            .find(|aud| {
                matches!(&provider.kind, providers::ProviderKind::Oidc { client_id, .. } if client_id == *aud)
            })
            .cloned()
            .unwrap_or_default();
        let result = super::iam::sts::web_identity_session(
            &issuer,
            request,
            &account.id,
            role,
            &claims.subject,
            provider_name,
            &audience,
        )?;
        self.publish_sessions().await?;
        let key = credentials_key(&result);
        self.federated_audit(
            &account.id,
            &source_text,
            &who,
            action,
            "success",
            &format!("{role_arn} key {key}"),
        );
        Ok(result)
    }

    /// The role's trust policy must allow `sts:AssumeRoleWithWebIdentity` to
    /// the token's provider (`Federated`), with its conditions evaluated on
    /// the token's claims (`<issuer without scheme>:aud`, `:sub`, ...).
    fn trust_allows_web_identity(
        &self,
        facts: &RequestFacts,
        account: &AccountRecord,
        role: &RoleRecord,
        role_arn: &str,
        claims: &oidc::Claims,
    ) -> bool {
        let Ok(trust) = iam::parse_policy(&role.trust_policy, iam::PolicyKind::Trust) else {
            return false;
        };
        let bare = claims
            .issuer
            .split_once("://")
            .map(|(_, bare)| bare)
            .unwrap_or(&claims.issuer)
            .trim_end_matches('/')
            .to_owned();
        let mut facts = facts.clone();
        let mut fact = |name: &str, values: Vec<String>| {
            if !values.is_empty() {
                facts
                    .values
                    .push((format!("{bare}:{name}").to_ascii_lowercase(), values));
            }
        };
        fact("aud", claims.audience.clone());
        fact("sub", vec![claims.subject.clone()]);
        if let Some(email) = claims.string("email") {
            fact("email", vec![email.to_owned()]);
        }
        if let Some(azp) = claims.string("azp") {
            fact("oaud", vec![azp.to_owned()]);
        }
        facts.values.push((
            "aws:federatedprovider".into(),
            vec![format!("arn:aws:iam::{}:oidc-provider/{bare}", account.id)],
        ));
        let principal = iam::Principal {
            kind: iam::PrincipalKind::WebIdentity,
            account_id: account.id.clone(),
            canonical_id: account.canonical_id.clone(),
            arn: format!("arn:aws:iam::{}:oidc-provider/{bare}", account.id),
            user_id: claims.subject.clone(),
            name: claims.issuer.clone(),
            role_arn: None,
            policies: Vec::new(),
            session_policies: Vec::new(),
        };
        let view = super::iam::FactsView(&facts);
        let request = iam::Request {
            principal: Some(&principal),
            action: "sts:AssumeRoleWithWebIdentity",
            resource: role_arn,
            resource_account: Some(&account.id),
            resource_policy: Some(&trust),
            restrict_resource_policy_to_account: false,
            acl: None,
            now_ms: super::now_ms(),
            facts: &view,
        };
        iam::resource_policy_allows(&request)
    }

    /// Creates or updates the directory user `login` of `account` with the
    /// mapped role. Without one, a user it made before loses its role.
    async fn provision(
        &mut self,
        account: &AccountRecord,
        provider: &IdentityProviderRecord,
        (login, subject): (&str, &str),
        role: Option<&'static str>,
    ) -> Result<UserRecord, Provisioning> {
        let name_ok = (1..=64).contains(&login.len())
            && login
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        if !name_ok {
            return Err(Provisioning::InvalidName);
        }
        let failed = |err: crate::catalog::CatalogError| Provisioning::Failed(err.to_string());
        // The tenant may have been suspended while the provider answered.
        let suspended = super::tenants::account_record(&self.catalog, &account.id)
            .map_err(failed)?
            .is_none_or(|current| current.suspended);
        if suspended {
            return Err(Provisioning::Failed("the tenant is suspended".into()));
        }
        let existing = self
            .catalog
            .record::<UserRecord>(&account.id, login)
            .map_err(failed)?;
        let mut user = match existing {
            // The same name must be the same identity of the same provider.
            Some(user)
                if user.login.federated_by.as_deref() == Some(provider.id.as_str())
                    && user
                        .login
                        .federated_subject
                        .as_deref()
                        .is_none_or(|known| known == subject) =>
            {
                user
            }
            Some(_) => return Err(Provisioning::NameTaken),
            None if role.is_none() => return Err(Provisioning::NotMapped),
            None => {
                let count = self
                    .catalog
                    .records::<UserRecord>(&account.id)
                    .map_err(failed)?
                    .len();
                if count >= USERS_PER_ACCOUNT_MAX {
                    return Err(Provisioning::TooManyUsers);
                }
                UserRecord {
                    name: login.to_owned(),
                    path: "/".to_owned(),
                    id: crate::credentials::random_id("AIDA"),
                    created_ms: super::now_ms(),
                    groups: Vec::new(),
                    policies: Default::default(),
                    login: crate::directory::UserLogin {
                        federated_by: Some(provider.id.clone()),
                        federated_subject: Some(subject.to_owned()),
                        ..Default::default()
                    },
                }
            }
        };
        let before = user.clone();
        user.login.federated_subject = Some(subject.to_owned());
        match role {
            Some(role) => {
                set_role(&mut user, role);
            }
            None => clear_role(&mut user),
        }
        if user != before {
            self.catalog
                .write_records(&[RecordChange::put(&account.id, &user)])
                .map_err(failed)?;
            self.publish()
                .await
                .map_err(|err| Provisioning::Failed(err.message))?;
        }
        match role {
            Some(_) => Ok(user),
            None => Err(Provisioning::NotMapped),
        }
    }

    async fn publish_sessions(&mut self) -> Result<(), QueryError> {
        self.publish().await.map(|_| ()).map_err(|_| {
            QueryError::new(
                "ServiceFailure",
                500,
                "The credentials were stored but could not be published; retry.",
            )
        })
    }

    fn federated_audit(
        &self,
        account_id: &str,
        source: &str,
        actor: &str,
        action: &str,
        outcome: &str,
        detail: &str,
    ) {
        tracing::info!(target: "audit", actor, action, outcome, detail, "federated sign-in");
        self.audit(&crate::audit::AuditEvent {
            time_ms: super::now_ms(),
            account: account_id.to_owned(),
            actor: actor.to_owned(),
            source: source.to_owned(),
            action: action.to_owned(),
            target: actor.to_owned(),
            outcome: outcome.to_owned(),
            detail: detail.to_owned(),
            ..Default::default()
        });
    }
}

/// What the sign-in cookie holds for a state: its SHA-256, so the cookie
/// alone does not give the state away.
fn state_binding(state: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(state.as_bytes()))
}

/// Where a browser lands after a single sign-on: the console, with the
/// session's CSRF token in the fragment (never sent to a server), beside
/// the HttpOnly session cookie.
fn sso_landing(signed_in: AdminResponse) -> AdminResponse {
    let csrf = serde_json::from_slice::<serde_json::Value>(&signed_in.body)
        .ok()
        .and_then(|answer| answer.get("csrf_token")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut answer = AdminResponse::redirect(format!("/#/?sso_csrf={csrf}"));
    answer.set_cookie = signed_in.set_cookie;
    answer
}

fn submit_refusal(refused: &SubmitError) -> &'static str {
    match refused {
        SubmitError::NotRunning => "federation is not running",
        SubmitError::Busy => "too many sign-ins are waiting for this tenant's provider",
    }
}

/// The access key id in an answer's `Credentials`, for the audit log.
fn credentials_key(result: &[XmlNode]) -> String {
    result
        .iter()
        .find_map(|node| match node {
            XmlNode::Parent("Credentials", children) => {
                children.iter().find_map(|child| match child {
                    XmlNode::Text("AccessKeyId", id) => Some(id.clone()),
                    _ => None,
                })
            }
            _ => None,
        })
        .unwrap_or_default()
}

/// The user name a token signs in as: `preferred_username`, else the
/// e-mail address, else the subject.
fn login_from_claims(claims: &oidc::Claims) -> String {
    claims
        .string("preferred_username")
        .or_else(|| verified_email(claims))
        .unwrap_or(&claims.subject)
        .to_owned()
}

/// The e-mail a domain mapping or a user name may use: only one the
/// provider says it verified (`email_verified: true`).
fn verified_email(claims: &oidc::Claims) -> Option<&str> {
    let verified = claims
        .all
        .get("email_verified")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    claims.string("email").filter(|_| verified)
}

fn groups_of(provider: &IdentityProviderRecord, claims: &oidc::Claims) -> Vec<String> {
    match &provider.kind {
        providers::ProviderKind::Oidc { groups_claim, .. } => claims.strings(groups_claim),
        providers::ProviderKind::Ldap { .. } => Vec::new(),
    }
}
