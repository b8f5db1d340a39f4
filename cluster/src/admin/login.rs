//! `/api/v1/auth/*`: login (the root with its access key id and secret,
//! users as `<tenant>/<name>` with their argon2-hashed password and, once
//! enrolled, a TOTP code or a backup code), logout, the current session, and
//! TOTP enrolment. Failed logins count per login name (5 in 15 minutes lock
//! it for 15 minutes, audited) and per source address.

use serde_json::json;
use subtle::ConstantTimeEq;

use super::{
    json_body, rfc3339, string_field, user_subject, AdminError, AdminRequest, AdminResponse,
    AdminResult, Caller, ROOT_SUBJECT, SESSION_COOKIE, SESSION_TTL_MS,
};
use crate::auth::lockout::FailureOutcome;
use crate::auth::{password, token, totp};
use crate::control::tenants::{account_by_name, role_of};
use crate::control::ControlPlane;
use crate::directory::{RecordChange, UserRecord};

/// Backup codes handed out at enrolment.
const BACKUP_CODES: usize = 10;

/// An argon2 hash of a random password nobody knows, computed once.
fn stand_in_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let random = hex::encode(rand::random::<[u8; 16]>());
        password::hash_password(&random).unwrap_or_default()
    })
}

/// The console's session cookie: HttpOnly, SameSite=Strict, Secure over TLS.
pub(crate) fn session_cookie(session_token: &str, tls: bool) -> String {
    format!(
        "{SESSION_COOKIE}={session_token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_TTL_MS / 1000,
        if tls { "; Secure" } else { "" }
    )
}

pub(crate) fn invalid_credentials() -> AdminError {
    AdminError::new(
        401,
        "InvalidCredentials",
        "The user name or password is wrong.",
    )
}

/// A login request that passed its checks: well-formed, from an address
/// not throttled, for a name not locked.
pub(crate) struct LoginForm {
    pub username: String,
    pub secret: String,
    pub code: Option<String>,
    /// The lower-cased name failures are counted under.
    lock_key: String,
    /// Whether failures lock the name (users; not the root).
    lockable: bool,
    /// The tenant the attempt concerns (its admins see it in their audit view).
    pub login_account: String,
}

impl LoginForm {
    /// The same sign-in with its failures counted against the name (the
    /// TOTP step of a single sign-on).
    pub(crate) fn lockable(mut self) -> Self {
        self.lockable = true;
        self
    }

    /// A single sign-on through the browser: no password here, and the
    /// provider counts its own failures.
    pub(crate) fn federated(username: &str, account_id: &str) -> Self {
        LoginForm {
            username: username.to_owned(),
            secret: String::new(),
            code: None,
            lock_key: username.to_ascii_lowercase(),
            lockable: false,
            login_account: account_id.to_owned(),
        }
    }
}

impl ControlPlane {
    pub(super) fn admin_login(&mut self, request: &AdminRequest, now_ms: u64) -> AdminResult {
        let form = self.admin_login_form(request, now_ms)?;
        let verdict = self.admin_check_credentials(
            &form.username,
            &form.secret,
            form.code.as_deref(),
            now_ms,
        );
        match verdict {
            Ok((subject, user)) => {
                Ok(self.admin_login_succeeded(request, &form, &subject, user, ""))
            }
            Err(error) if error.code == "TotpRequired" => Err(error),
            Err(error) => {
                self.admin_login_failed(request, &form, now_ms, "");
                Err(error)
            }
        }
    }

    /// Checks a login request before any password is looked at.
    pub(crate) fn admin_login_form(
        &mut self,
        request: &AdminRequest,
        now_ms: u64,
    ) -> Result<LoginForm, AdminError> {
        // JSON only: a browser form cannot post it cross-site without a
        // CORS preflight, which this port never grants.
        let json = request.content_type.as_deref().is_some_and(|value| {
            let essence = value.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("application/json")
        });
        if !json {
            return Err(AdminError::new(
                415,
                "UnsupportedMediaType",
                "Send the login as application/json.",
            ));
        }
        let body = json_body(request)?;
        let username = string_field(&body, "username")?.unwrap_or("").to_owned();
        let secret = string_field(&body, "password")?.unwrap_or("").to_owned();
        let code = string_field(&body, "totp")?.map(str::to_owned);
        if username.is_empty() || username.len() > 256 || secret.len() > 1024 {
            return Err(AdminError::bad_request(
                "username and password are required.",
            ));
        }
        if self
            .admin
            .sources
            .check_source(request.source, now_ms)
            .is_err()
        {
            return Err(AdminError::new(
                429,
                "TooManyRequests",
                "Too many failed logins from this address; wait a minute.",
            ));
        }
        // Names are looked up ignoring case, so failures are counted that way
        // too. The root is not locked by name (anyone may know its key id, and
        // its 40-character secret is beyond guessing): the address throttle
        // still holds whoever tries.
        let lock_key = username.to_ascii_lowercase();
        let login_account = username
            .split_once('/')
            .map(|(tenant, _)| account_by_name(&self.catalog, tenant))
            .transpose()?
            .flatten()
            .map(|account| account.id)
            .unwrap_or_default();
        let lockable = username.contains('/');
        let checked = if lockable {
            self.admin.limiter.check(&lock_key, now_ms)
        } else {
            Ok(())
        };
        if let Err(locked) = checked {
            // Not audited one by one (the lockout itself was): a client
            // hammering a locked name must not fill the audit log.
            return Err(AdminError::new(
                403,
                "AccountLocked",
                format!(
                    "Too many failed logins: locked until {}.",
                    rfc3339(locked.until_ms)
                ),
            ));
        }
        Ok(LoginForm {
            username,
            secret,
            code,
            lock_key,
            lockable,
            login_account,
        })
    }

    /// Counts and audits a failed login (`detail` says why, when known).
    pub(crate) fn admin_login_failed(
        &mut self,
        request: &AdminRequest,
        form: &LoginForm,
        now_ms: u64,
        detail: &str,
    ) {
        self.admin
            .sources
            .record_source_failure(request.source, now_ms);
        self.admin_audit_entry(
            request,
            &form.login_account,
            &form.username,
            "login",
            &form.username,
            "failure",
            detail,
        );
        let outcome = form
            .lockable
            .then(|| self.admin.limiter.record_failure(&form.lock_key, now_ms));
        if let Some(FailureOutcome::LockedNow { until_ms }) = outcome {
            self.admin_audit_entry(
                request,
                &form.login_account,
                &form.username,
                "lockout",
                &form.username,
                "locked",
                &format!("until {}", rfc3339(until_ms)),
            );
        }
    }

    /// Audits a successful login and opens its session: the answer carries
    /// the token, and the cookie for the console.
    pub(crate) fn admin_login_succeeded(
        &mut self,
        request: &AdminRequest,
        form: &LoginForm,
        subject: &str,
        user: serde_json::Value,
        detail: &str,
    ) -> AdminResponse {
        let now_ms = crate::control::now_ms();
        self.admin.limiter.record_success(&form.lock_key);
        self.admin_audit_entry(
            request,
            &form.login_account,
            &form.username,
            "login",
            &form.username,
            "success",
            detail,
        );
        let claims = token::SessionClaims::new(subject, now_ms, SESSION_TTL_MS);
        let session_token = token::mint(&self.admin.token_key, &claims);
        let csrf = token::csrf_token_for(&self.admin.token_key, &claims.session_id);
        let mut response = AdminResponse::json(
            200,
            &json!({
                "token": session_token,
                "expires_at": rfc3339(claims.expires_ms),
                "csrf_token": csrf,
                "user": user,
            }),
        );
        response.set_cookie = Some(session_cookie(&session_token, request.tls));
        response
    }

    /// The session subject and the user's description, or why not.
    fn admin_check_credentials(
        &mut self,
        username: &str,
        secret: &str,
        code: Option<&str>,
        now_ms: u64,
    ) -> Result<(String, serde_json::Value), AdminError> {
        let Some((tenant, name)) = username.split_once('/') else {
            // The root: its access key id and secret.
            let root = self.snapshot.keys.get(username).filter(|key| {
                key.principal.kind == iam::PrincipalKind::SystemRoot && key.session.is_none()
            });
            let Some(root) = root else {
                return Err(invalid_credentials());
            };
            let equal: bool = root.secret.as_bytes().ct_eq(secret.as_bytes()).into();
            if !equal {
                return Err(invalid_credentials());
            }
            return Ok((
                ROOT_SUBJECT.to_owned(),
                json!({"tenant": crate::directory::DEFAULT_ACCOUNT_NAME, "name": "root", "role": "system-admin", "source": "local"}),
            ));
        };
        let account = account_by_name(&self.catalog, tenant)?;
        let user = match &account {
            Some(account) => self.catalog.record::<UserRecord>(&account.id, name)?,
            None => None,
        };
        // A hash is always verified, a stand-in one for a missing tenant,
        // user or password, so the answer's timing says nothing of which.
        let hash = user
            .as_ref()
            .and_then(|user| user.login.password_hash.clone())
            .unwrap_or_else(|| stand_in_hash().to_owned());
        let verified = password::verify_password(secret, &hash);
        let (Some(account), Some(mut user)) = (account, user) else {
            return Err(invalid_credentials());
        };
        if !verified || user.login.password_hash.is_none() {
            return Err(invalid_credentials());
        }
        if account.suspended {
            return Err(AdminError::new(
                403,
                "AccessDenied",
                "The tenant is suspended.",
            ));
        }
        self.admin_check_totp(&account.id, &mut user, code, now_ms)?;
        Ok((
            user_subject(&account.id, &user.name, &user.id),
            json!({"tenant": account.name, "name": user.name, "role": role_of(&user), "source": "local"}),
        ))
    }

    /// The second factor of a user who enrolled one: a current code or a
    /// backup code (used once), stored as used.
    pub(crate) fn admin_check_totp(
        &mut self,
        account_id: &str,
        user: &mut UserRecord,
        code: Option<&str>,
        now_ms: u64,
    ) -> Result<(), AdminError> {
        let Some(sealed) = user.login.totp_sealed.clone() else {
            return Ok(());
        };
        let Some(code) = code else {
            return Err(AdminError::new(
                401,
                "TotpRequired",
                "Enter the code from your authenticator app.",
            ));
        };
        let secret = self.admin_open_totp(&sealed)?;
        let step = totp::verify_code(&secret, code, now_ms / 1000, user.login.totp_last_step);
        match step {
            Some(step) => user.login.totp_last_step = Some(step),
            None if totp::consume_backup_code(&mut user.login.backup_code_hashes, code) => {}
            None => return Err(AdminError::new(401, "InvalidTotp", "The code is wrong.")),
        }
        self.catalog
            .write_records(&[RecordChange::put(account_id, &*user)])?;
        Ok(())
    }

    fn admin_open_totp(&self, sealed: &str) -> Result<totp::TotpSecret, AdminError> {
        let plain = self
            .master
            .open_text(sealed)
            .map_err(AdminError::internal)?;
        let text = String::from_utf8(plain).map_err(AdminError::internal)?;
        totp::TotpSecret::from_base32(&text).map_err(AdminError::internal)
    }

    pub(super) async fn admin_logout(&mut self, caller: &Caller, now_ms: u64) -> AdminResult {
        self.admin
            .revoke(&caller.session_id, caller.expires_ms, now_ms);
        // The console's S3 credentials end with the session.
        if let Some(s3) = self.admin.console_s3.remove(&caller.session_id) {
            let change = crate::directory::RecordChange::delete::<crate::directory::SessionRecord>(
                caller.account(),
                &s3.access_key_id,
            );
            self.catalog.write_records(&[change])?;
            self.admin_publish().await?;
        }
        let mut response = AdminResponse::empty(204);
        response.set_cookie = Some(format!(
            "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        ));
        Ok(response)
    }

    pub(super) fn admin_session(&self, caller: &Caller) -> AdminResult {
        let (tenant, role, totp_enabled) = self.admin_caller_details(caller)?;
        let source = match &caller.user {
            None => "local".to_owned(),
            Some(_) => self.user_source(caller.account(), &self.admin_caller_record(caller)?)?,
        };
        Ok(AdminResponse::json(
            200,
            &json!({
                "user": {"tenant": tenant, "name": caller.user.clone().unwrap_or_else(|| "root".into()), "role": role, "source": source},
                "expires_at": rfc3339(caller.expires_ms),
                "csrf_token": token::csrf_token_for(&self.admin.token_key, &caller.session_id),
                "totp_enabled": totp_enabled,
            }),
        ))
    }

    /// Where a user came from: `local`, or `ldap:<provider>` / `oidc:<provider>`.
    fn user_source(&self, account_id: &str, user: &UserRecord) -> Result<String, AdminError> {
        let Some(provider_id) = &user.login.federated_by else {
            return Ok("local".to_owned());
        };
        Ok(self
            .catalog
            .record::<crate::federation::providers::IdentityProviderRecord>(
                account_id,
                provider_id,
            )?
            .map(|provider| provider.source())
            .unwrap_or_else(|| "federated".to_owned()))
    }

    fn admin_caller_details(
        &self,
        caller: &Caller,
    ) -> Result<(String, Option<&'static str>, bool), AdminError> {
        let tenant = self
            .snapshot
            .accounts
            .get(caller.account())
            .map(|account| account.name.clone())
            .unwrap_or_default();
        if caller.is_root() {
            return Ok((tenant, Some("system-admin"), false));
        }
        let user = self.admin_caller_record(caller)?;
        Ok((tenant, role_of(&user), user.login.totp_sealed.is_some()))
    }

    fn admin_caller_record(&self, caller: &Caller) -> Result<UserRecord, AdminError> {
        let name = caller.user.as_deref().ok_or_else(|| {
            AdminError::bad_request("The root has no TOTP; it signs in with its key.")
        })?;
        self.catalog
            .record::<UserRecord>(caller.account(), name)?
            .ok_or_else(|| AdminError::unauthorized("The user no longer exists."))
    }

    pub(super) fn admin_totp_enrol(&mut self, caller: &Caller) -> AdminResult {
        let mut user = self.admin_caller_record(caller)?;
        // Replacing a secret in use would let a stolen session lock the
        // owner out: it is turned off first, which needs a code.
        if user.login.totp_sealed.is_some() {
            return Err(AdminError::new(
                409,
                "TotpAlreadyEnabled",
                "TOTP is on; turn it off (with a code) before enrolling again.",
            ));
        }
        let secret = totp::TotpSecret::generate();
        let text = secret.to_base32();
        user.login.totp_pending_sealed = Some(self.master.seal_text(text.as_bytes()));
        self.catalog
            .write_records(&[RecordChange::put(caller.account(), &user)])?;
        Ok(AdminResponse::json(
            200,
            &json!({"secret": text, "otpauth_url": totp::otpauth_url("maxiofs", &caller.display, &secret)}),
        ))
    }

    pub(super) fn admin_totp_confirm(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        now_ms: u64,
    ) -> AdminResult {
        let body = json_body(request)?;
        let code = string_field(&body, "code")?.unwrap_or("");
        let mut user = self.admin_caller_record(caller)?;
        let pending = user.login.totp_pending_sealed.clone().ok_or_else(|| {
            AdminError::bad_request("Start the enrolment first (POST /api/v1/auth/totp).")
        })?;
        let secret = self.admin_open_totp(&pending)?;
        let step = totp::verify_code(&secret, code, now_ms / 1000, None)
            .ok_or_else(|| AdminError::new(400, "InvalidTotp", "The code is wrong."))?;
        let codes = totp::generate_backup_codes(BACKUP_CODES);
        user.login.totp_sealed = Some(pending);
        user.login.totp_pending_sealed = None;
        user.login.totp_last_step = Some(step);
        user.login.backup_code_hashes = codes.iter().map(|c| totp::hash_backup_code(c)).collect();
        self.catalog
            .write_records(&[RecordChange::put(caller.account(), &user)])?;
        self.admin_audit_entry(
            request,
            caller.account(),
            &caller.display,
            "totp:Enable",
            &caller.display,
            "success",
            "",
        );
        Ok(AdminResponse::json(200, &json!({"backup_codes": codes})))
    }

    /// Turns TOTP off: the caller proves it still holds the second factor
    /// (a current code or a backup code), so a stolen session cannot.
    pub(super) fn admin_totp_remove(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        now_ms: u64,
    ) -> AdminResult {
        let body = json_body(request)?;
        let code = string_field(&body, "code")?.unwrap_or("");
        let mut user = self.admin_caller_record(caller)?;
        // Wrong codes here count like failed logins: a stolen session must
        // not be able to guess its way past the second factor.
        let lock_key = caller.display.to_ascii_lowercase();
        if self.admin.limiter.check(&lock_key, now_ms).is_err() {
            return Err(AdminError::new(
                403,
                "AccountLocked",
                "Too many wrong codes; wait.",
            ));
        }
        if let Some(sealed) = user.login.totp_sealed.clone() {
            let secret = self.admin_open_totp(&sealed)?;
            let valid = totp::verify_code(&secret, code, now_ms / 1000, user.login.totp_last_step)
                .is_some()
                || totp::consume_backup_code(&mut user.login.backup_code_hashes, code);
            if !valid {
                let account = caller.account().to_owned();
                let who = caller.display.clone();
                self.admin_audit_entry(
                    request,
                    &account,
                    &who,
                    "totp:Disable",
                    &who,
                    "failure",
                    "wrong code",
                );
                if let FailureOutcome::LockedNow { until_ms } =
                    self.admin.limiter.record_failure(&lock_key, now_ms)
                {
                    let until = format!("until {}", rfc3339(until_ms));
                    self.admin_audit_entry(
                        request, &account, &who, "lockout", &who, "locked", &until,
                    );
                }
                return Err(AdminError::new(
                    400,
                    "InvalidTotp",
                    "Turning TOTP off needs a current code or a backup code (\"code\").",
                ));
            }
        }
        user.login.totp_sealed = None;
        user.login.totp_pending_sealed = None;
        user.login.backup_code_hashes.clear();
        user.login.sessions_after_ms = now_ms;
        self.catalog
            .write_records(&[RecordChange::put(caller.account(), &user)])?;
        self.admin_audit_entry(
            request,
            caller.account(),
            &caller.display,
            "totp:Disable",
            &caller.display,
            "success",
            "",
        );
        Ok(AdminResponse::empty(204))
    }
}
