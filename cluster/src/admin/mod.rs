//! The JSON admin API (`/api/v1`) on the console port, executed by the
//! control plane.
//!
//! Owns: the request and answer types that cross from the console listener
//! (`server`) to the control-plane loop, the routing of paths to resources
//! (one module per resource), JSON errors (`{"error": {"code", "message"}}`),
//! sessions (bearer token, or cookie plus CSRF header) and the authorisation
//! of every call through the one policy engine: an admin action is allowed by
//! the caller's identity policies on `arn:aws:admin:::system` (owned by the
//! default account: system admins) or on `arn:aws:admin:::tenant/<account id>`
//! (owned by that tenant: its tenant admins). See docs/admin-api.md.

pub mod alerts;
pub mod audit;
pub mod buckets;
pub mod identity_providers;
pub mod keys;
pub mod kms_keys;
pub mod login;
pub mod maintenance;
pub mod metrics;
pub mod notification_targets;
pub mod s3_credentials;
pub mod s3_proxy;
pub mod server;
pub mod static_files;
pub mod tenants;
pub mod usage;
pub mod users;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use futures_channel::oneshot;
use serde_json::{json, Value};

use crate::auth::lockout::{LoginLimiter, SourceThrottle};
use crate::auth::token::TokenKey;
use crate::control::ControlPlane;

/// A request body larger than this is refused (413): admin calls are small
/// (the largest, a tenant with its quotas, is well under 1 KiB).
pub const BODY_BYTES_MAX: usize = 64 * 1024;
/// A request must arrive whole within this long (head and body), so slow
/// clients cannot hold the console's connections.
pub const REQUEST_READ_MS_MAX: u64 = 10_000;
/// How long a login lasts.
pub const SESSION_TTL_MS: u64 = 8 * 3600 * 1000;
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "maxiofs_session";
/// Logged-out sessions remembered until they expire; beyond this many the
/// oldest are dropped (their tokens expire within the TTL anyway).
const REVOKED_SESSIONS_MAX: usize = 100_000;
const SYSTEM_RESOURCE: &str = "arn:aws:admin:::system";

/// One admin API request, as the listener hands it to the control plane.
#[derive(Debug)]
pub struct AdminRequest {
    pub method: String,
    /// Percent-decoded path segments after `/api/v1/`.
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub source: IpAddr,
    pub request_id: String,
    /// The listener speaks TLS (cookies are then `Secure`).
    pub tls: bool,
    /// The `Host` the browser sent (the console's S3 endpoint is on that host).
    pub host: Option<String>,
}

impl AdminRequest {
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The answer.
#[derive(Debug)]
pub struct AdminResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub set_cookie: Option<String>,
    /// A redirect's target (the single sign-on flow's 302s).
    pub location: Option<String>,
}

impl AdminResponse {
    pub fn json(status: u16, value: &Value) -> Self {
        AdminResponse {
            status,
            content_type: "application/json",
            body: serde_json::to_vec(value).unwrap_or_default(),
            set_cookie: None,
            location: None,
        }
    }

    pub fn empty(status: u16) -> Self {
        AdminResponse {
            status,
            content_type: "application/json",
            body: Vec::new(),
            set_cookie: None,
            location: None,
        }
    }

    /// A 302 to `location` (a path on this console, or the provider's
    /// authorization endpoint).
    pub fn redirect(location: String) -> Self {
        AdminResponse {
            status: 302,
            content_type: "text/plain; charset=utf-8",
            body: Vec::new(),
            set_cookie: None,
            location: Some(location),
        }
    }
}

/// Work the console listener hands to the control plane.
pub enum AdminCall {
    /// An admin API request.
    Api {
        request: Box<AdminRequest>,
        reply: oneshot::Sender<AdminResponse>,
    },
    /// A Prometheus scrape, already let in by the listener (`metrics`).
    Metrics { reply: oneshot::Sender<String> },
    /// Time to check the alert conditions (`crate::alerts`).
    AlertTick,
    /// A federation worker finished a directory or provider exchange
    /// (`crate::control::federated`).
    Federation(Box<crate::federation::Done>),
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl AdminError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        AdminError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidRequest", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NotFound", message)
    }

    pub fn denied() -> Self {
        Self::new(403, "AccessDenied", "You may not do this.")
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "Unauthorized", message)
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(%err, "admin API call failed");
        Self::new(500, "InternalError", "The server failed; see its log.")
    }

    pub(crate) fn response(&self) -> AdminResponse {
        AdminResponse::json(
            self.status,
            &json!({"error": {"code": self.code, "message": self.message}}),
        )
    }
}

impl From<crate::catalog::CatalogError> for AdminError {
    fn from(err: crate::catalog::CatalogError) -> Self {
        AdminError::internal(err)
    }
}

pub type AdminResult = Result<AdminResponse, AdminError>;

/// Sessions and login throttles, held by the control plane.
pub struct AdminState {
    pub token_key: TokenKey,
    pub limiter: LoginLimiter,
    pub sources: SourceThrottle,
    /// Session id → expiry, for sessions logged out before expiring.
    pub revoked: HashMap<String, u64>,
    /// Console session id → its S3 credentials (`s3_credentials`).
    pub console_s3: HashMap<String, s3_credentials::ConsoleS3Credentials>,
}

impl Default for AdminState {
    fn default() -> Self {
        Self::new()
    }
}

impl AdminState {
    /// A fresh key per start: sessions do not outlive the process.
    pub fn new() -> Self {
        let seed: [u8; 32] = rand::random();
        AdminState {
            token_key: TokenKey::derive(&seed),
            limiter: LoginLimiter::new(5, 15 * 60 * 1000, 15 * 60 * 1000, 100_000),
            sources: SourceThrottle::new(20, 60 * 1000, 100_000),
            revoked: HashMap::new(),
            console_s3: HashMap::new(),
        }
    }

    pub fn revoke(&mut self, session_id: &str, expires_ms: u64, now_ms: u64) {
        if self.revoked.len() >= REVOKED_SESSIONS_MAX {
            self.revoked.retain(|_, expires| *expires > now_ms);
            if self.revoked.len() >= REVOKED_SESSIONS_MAX {
                if let Some(oldest) = self
                    .revoked
                    .iter()
                    .min_by_key(|(_, expires)| **expires)
                    .map(|(id, _)| id.clone())
                {
                    self.revoked.remove(&oldest);
                }
            }
        }
        self.revoked.insert(session_id.to_owned(), expires_ms);
    }
}

/// Who is calling, from a valid session.
#[derive(Clone, Debug)]
pub struct Caller {
    /// `root`, or `<tenant>/<name>`.
    pub display: String,
    pub principal: Arc<iam::Principal>,
    pub session_id: String,
    pub expires_ms: u64,
    /// The user's name when the caller is a user (not the root).
    pub user: Option<String>,
    /// The root, or a user of the default tenant with the system-admin role:
    /// only they act system-wide (other tenants, tenant lifecycle). Identity
    /// policies alone never make a system admin, so a default-tenant admin
    /// cannot promote itself by attaching AdministratorAccess through IAM.
    pub system: bool,
}

impl Caller {
    pub fn account(&self) -> &str {
        &self.principal.account_id
    }

    pub fn is_root(&self) -> bool {
        self.principal.kind == iam::PrincipalKind::SystemRoot
    }
}

/// The session subject of a user: its account, name and id (a user deleted
/// and created again under the same name is another user).
pub fn user_subject(account_id: &str, name: &str, user_id: &str) -> String {
    format!("user:{account_id}/{name}/{user_id}")
}

pub const ROOT_SUBJECT: &str = "root";

pub fn rfc3339(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// `YYYY-MM-DD` (UTC) of a time.
pub fn day_of(ms: u64) -> String {
    rfc3339(ms)[..10].to_owned()
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Parses RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`) or a bare date
/// (midnight UTC) to milliseconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = bytes.get(range)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let (hh, mm, ss, millis, offset_s) = if bytes.len() == 10 {
        (0, 0, 0, 0, 0)
    } else {
        if !matches!(bytes.get(10), Some(b'T' | b't' | b' '))
            || bytes.get(13) != Some(&b':')
            || bytes.get(16) != Some(&b':')
        {
            return None;
        }
        let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut at = 19;
        let mut millis = 0;
        if bytes.get(at) == Some(&b'.') {
            let start = at + 1;
            at = start;
            while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            if at == start {
                return None;
            }
            let fraction = &text[start..at.min(start + 3)];
            millis = fraction.parse::<i64>().ok()? * 10_i64.pow(3 - fraction.len() as u32);
        }
        let offset_s = match bytes.get(at..) {
            Some(b"Z" | b"z") => 0,
            Some([sign @ (b'+' | b'-'), rest @ ..]) if rest.len() == 5 && rest[2] == b':' => {
                let oh = num(at + 1..at + 3)?;
                let om = num(at + 4..at + 6)?;
                let offset = oh * 3600 + om * 60;
                if *sign == b'+' {
                    offset
                } else {
                    -offset
                }
            }
            _ => return None,
        };
        (hh, mm, ss, millis, offset_s)
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let (yy, mm_) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy.rem_euclid(400);
    let doy = (153 * mm_ + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss - offset_s;
    u64::try_from(secs * 1000 + millis).ok()
}

/// The JSON body, or a 400 naming what is wrong.
pub fn json_body(request: &AdminRequest) -> Result<Value, AdminError> {
    if request.body.is_empty() {
        return Ok(json!({}));
    }
    let value: Value = serde_json::from_slice(&request.body)
        .map_err(|err| AdminError::bad_request(format!("The body is not JSON: {err}")))?;
    if !value.is_object() {
        return Err(AdminError::bad_request("The body must be a JSON object."));
    }
    Ok(value)
}

/// An optional non-negative integer field: absent → `Ok(None)` meaning "not
/// given"; `null` → `Some(None)` meaning "unlimited".
pub fn optional_u64(body: &Value, field: &str) -> Result<Option<Option<u64>>, AdminError> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(value) => value.as_u64().map(|n| Some(Some(n))).ok_or_else(|| {
            AdminError::bad_request(format!("{field} must be a non-negative integer or null."))
        }),
    }
}

pub fn string_field<'a>(body: &'a Value, field: &str) -> Result<Option<&'a str>, AdminError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(AdminError::bad_request(format!(
            "{field} must be a string."
        ))),
    }
}

impl ControlPlane {
    /// Executes one admin call; never panics on input.
    pub async fn admin_call(&mut self, request: AdminRequest) -> AdminResponse {
        let now_ms = crate::control::now_ms();
        let outcome = self.admin_route(&request, now_ms).await;
        match outcome {
            Ok(response) => response,
            Err(error) => error.response(),
        }
    }

    async fn admin_route(&mut self, request: &AdminRequest, now_ms: u64) -> AdminResult {
        let segments: Vec<&str> = request.segments.iter().map(String::as_str).collect();
        let method = request.method.as_str();
        match (method, segments.as_slice()) {
            ("GET", ["auth", "providers"]) => return self.admin_public_providers(request),
            (_, ["auth", "providers"]) | (_, ["auth", "oidc", ..]) => {
                return Err(method_not_allowed())
            }
            _ => {}
        }
        if let ["auth", "login"] = segments.as_slice() {
            return match method {
                "POST" => self.admin_login(request, now_ms),
                _ => Err(method_not_allowed()),
            };
        }
        let caller = self.admin_caller(request, now_ms)?;
        match (method, segments.as_slice()) {
            ("POST", ["auth", "logout"]) => self.admin_logout(&caller, now_ms).await,
            ("GET", ["auth", "session"]) => self.admin_session(&caller),
            ("POST", ["auth", "s3-credentials"]) => {
                self.admin_s3_credentials(request, &caller).await
            }
            ("POST", ["auth", "totp"]) => self.admin_totp_enrol(&caller),
            ("POST", ["auth", "totp", "confirm"]) => {
                self.admin_totp_confirm(request, &caller, now_ms)
            }
            ("DELETE", ["auth", "totp"]) => self.admin_totp_remove(request, &caller, now_ms),
            ("GET", ["tenants"]) => self.admin_list_tenants(&caller).await,
            ("POST", ["tenants"]) => self.admin_create_tenant(request, &caller, now_ms).await,
            ("GET", ["tenants", tenant]) => self.admin_get_tenant(&caller, tenant).await,
            ("PATCH", ["tenants", tenant]) => {
                self.admin_update_tenant(request, &caller, tenant).await
            }
            ("DELETE", ["tenants", tenant]) => {
                self.admin_delete_tenant(request, &caller, tenant).await
            }
            ("GET", ["tenants", tenant, "users"]) => self.admin_list_users(&caller, tenant),
            ("POST", ["tenants", tenant, "users"]) => {
                self.admin_create_user(request, &caller, tenant, now_ms)
                    .await
            }
            ("GET", ["tenants", tenant, "users", name]) => {
                self.admin_get_user(&caller, tenant, name)
            }
            ("PATCH", ["tenants", tenant, "users", name]) => {
                self.admin_update_user(request, &caller, tenant, name, now_ms)
                    .await
            }
            ("DELETE", ["tenants", tenant, "users", name]) => {
                self.admin_delete_user(request, &caller, tenant, name).await
            }
            ("GET", ["tenants", tenant, "users", name, "keys"]) => {
                self.admin_list_keys(&caller, tenant, name)
            }
            ("POST", ["tenants", tenant, "users", name, "keys"]) => {
                self.admin_create_key(request, &caller, tenant, name, now_ms)
                    .await
            }
            ("DELETE", ["tenants", tenant, "users", name, "keys", id]) => {
                self.admin_delete_key(request, &caller, tenant, name, id)
                    .await
            }
            ("GET", ["buckets"]) => self.admin_list_buckets(request, &caller).await,
            ("GET", ["buckets", bucket]) => self.admin_get_bucket(&caller, bucket).await,
            ("PUT", ["buckets", bucket, "quota"]) => {
                self.admin_put_bucket_quota(request, &caller, bucket).await
            }
            ("GET", ["tenants", tenant, "identity-providers"]) => {
                self.admin_list_providers(&caller, tenant)
            }
            ("POST", ["tenants", tenant, "identity-providers"]) => {
                self.admin_create_provider(request, &caller, tenant, now_ms)
            }
            ("GET", ["tenants", tenant, "identity-providers", id]) => {
                self.admin_get_provider(&caller, tenant, id)
            }
            ("PATCH", ["tenants", tenant, "identity-providers", id]) => {
                self.admin_update_provider(request, &caller, tenant, id)
            }
            ("DELETE", ["tenants", tenant, "identity-providers", id]) => {
                self.admin_delete_provider(request, &caller, tenant, id)
            }
            ("GET", ["tenants", tenant, "notification-targets"]) => {
                self.admin_list_targets(&caller, tenant)
            }
            ("POST", ["tenants", tenant, "notification-targets"]) => {
                self.admin_create_target(request, &caller, tenant, now_ms)
                    .await
            }
            ("GET", ["tenants", tenant, "notification-targets", name]) => {
                self.admin_get_target(&caller, tenant, name)
            }
            ("PATCH", ["tenants", tenant, "notification-targets", name]) => {
                self.admin_update_target(request, &caller, tenant, name)
                    .await
            }
            ("DELETE", ["tenants", tenant, "notification-targets", name]) => {
                self.admin_delete_target(request, &caller, tenant, name)
                    .await
            }
            ("GET", ["tenants", tenant, "kms-keys"]) => self.admin_list_kms_keys(&caller, tenant),
            ("POST", ["tenants", tenant, "kms-keys"]) => {
                self.admin_create_kms_key(request, &caller, tenant, now_ms)
                    .await
            }
            ("GET", ["tenants", tenant, "kms-keys", id]) => {
                self.admin_get_kms_key(&caller, tenant, id)
            }
            ("PATCH", ["tenants", tenant, "kms-keys", id]) => {
                self.admin_update_kms_key(request, &caller, tenant, id)
                    .await
            }
            ("POST", ["tenants", tenant, "kms-keys", id, "rotate"]) => {
                self.admin_rotate_kms_key(request, &caller, tenant, id, now_ms)
                    .await
            }
            ("GET", ["usage"]) => self.admin_usage(request, &caller).await,
            ("GET", ["audit"]) => self.admin_audit(request, &caller),
            ("GET", ["maintenance"]) => self.admin_get_maintenance(&caller),
            ("PUT", ["maintenance"]) => self.admin_put_maintenance(request, &caller).await,
            ("GET", ["alerts"]) => self.admin_get_alerts(&caller),
            ("GET", ["alerts", "settings"]) => self.admin_get_alert_settings(&caller),
            ("PUT", ["alerts", "settings"]) => self.admin_put_alert_settings(request, &caller),
            ("POST", ["alerts", "test"]) => self.admin_test_alerts(&caller).await,
            (_, ["auth", ..])
            | (_, ["tenants", ..])
            | (_, ["buckets", ..])
            | (_, ["usage"])
            | (_, ["audit"])
            | (_, ["maintenance"])
            | (_, ["alerts", ..]) => Err(method_not_allowed()),
            _ => Err(AdminError::not_found("No such API path.")),
        }
    }

    /// The caller of a request, from its bearer token or its cookie (which
    /// then needs the CSRF header).
    fn admin_caller(&self, request: &AdminRequest, now_ms: u64) -> Result<Caller, AdminError> {
        let bearer = request
            .authorization
            .as_deref()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim);
        let cookie = request.cookie.as_deref().and_then(|cookies| {
            cookies
                .split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(name, _)| *name == SESSION_COOKIE)
                .map(|(_, value)| value)
        });
        let (token, from_cookie) = match (bearer, cookie) {
            (Some(token), _) => (token, false),
            (None, Some(token)) => (token, true),
            (None, None) => return Err(AdminError::unauthorized("Sign in first.")),
        };
        let claims = crate::auth::token::verify(&self.admin.token_key, token, now_ms)
            .map_err(|_| AdminError::unauthorized("The session is invalid or has expired."))?;
        if self.admin.revoked.contains_key(&claims.session_id) {
            return Err(AdminError::unauthorized("The session has ended."));
        }
        if from_cookie {
            let presented = request.csrf.as_deref().unwrap_or("");
            if !crate::auth::token::csrf_matches(
                &self.admin.token_key,
                &claims.session_id,
                presented,
            ) {
                return Err(AdminError::new(
                    403,
                    "CsrfTokenMissing",
                    "A cookie session needs its X-CSRF-Token header.",
                ));
            }
        }
        let (principal, display, user) = if claims.subject == ROOT_SUBJECT {
            let principal = self
                .snapshot
                .keys
                .values()
                .find(|key| key.principal.kind == iam::PrincipalKind::SystemRoot)
                .map(|key| key.principal.clone())
                .ok_or_else(|| AdminError::unauthorized("The root's key is gone."))?;
            (principal, ROOT_SUBJECT.to_owned(), None)
        } else {
            let rest = claims
                .subject
                .strip_prefix("user:")
                .ok_or_else(|| AdminError::unauthorized("The session is invalid."))?;
            let mut parts = rest.splitn(3, '/');
            let (Some(account), Some(name), Some(user_id)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(AdminError::unauthorized("The session is invalid."));
            };
            let principal = self
                .snapshot
                .users
                .get(&format!("{account}/{}", name.to_ascii_lowercase()))
                .filter(|principal| principal.user_id == user_id)
                .cloned()
                .ok_or_else(|| AdminError::unauthorized("The user no longer exists."))?;
            if self
                .snapshot
                .tenants
                .get(account)
                .is_some_and(|tenant| tenant.suspended)
            {
                return Err(AdminError::new(
                    403,
                    "AccessDenied",
                    "The tenant is suspended.",
                ));
            }
            let tenant = self
                .snapshot
                .accounts
                .get(account)
                .map(|info| info.name.clone())
                .unwrap_or_default();
            (principal, format!("{tenant}/{name}"), Some(name.to_owned()))
        };
        let system = match &user {
            None => true,
            Some(name) => {
                let record = self
                    .catalog
                    .record::<crate::directory::UserRecord>(&principal.account_id, name)?
                    .ok_or_else(|| AdminError::unauthorized("The user no longer exists."))?;
                // A password change or TOTP removal ends the sessions opened before it.
                if claims.issued_ms < record.login.sessions_after_ms {
                    return Err(AdminError::unauthorized(
                        "The session has ended; sign in again.",
                    ));
                }
                principal.account_id == self.default_account
                    && crate::control::tenants::role_of(&record) == Some("system-admin")
            }
        };
        Ok(Caller {
            display,
            principal,
            session_id: claims.session_id,
            expires_ms: claims.expires_ms,
            user,
            system,
        })
    }

    /// Whether `caller` may do `action`, system-wide or, when `tenant_account`
    /// is given, in that tenant.
    pub(crate) fn admin_allowed(
        &self,
        caller: &Caller,
        action: &str,
        tenant_account: Option<&str>,
    ) -> bool {
        let decide = |resource: &str, owner: &str| {
            iam::authorize(&iam::Request {
                principal: Some(&caller.principal),
                action,
                resource,
                resource_account: Some(owner),
                resource_policy: None,
                restrict_resource_policy_to_account: false,
                acl: None,
                now_ms: crate::control::now_ms(),
                facts: &iam::NoConditionValues,
            })
            .allowed
        };
        if caller.system && decide(SYSTEM_RESOURCE, &self.default_account) {
            return true;
        }
        tenant_account
            .is_some_and(|account| decide(&format!("arn:aws:admin:::tenant/{account}"), account))
    }

    pub(crate) fn admin_require(
        &self,
        caller: &Caller,
        action: &str,
        tenant_account: Option<&str>,
    ) -> Result<(), AdminError> {
        if self.admin_allowed(caller, action, tenant_account) {
            Ok(())
        } else {
            Err(AdminError::denied())
        }
    }

    /// Writes an audit entry (failures to write are logged, never fatal).
    /// `account` is the tenant the entry concerns (whose admins see it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn admin_audit_entry(
        &self,
        request: &AdminRequest,
        account: &str,
        actor: &str,
        action: &str,
        target: &str,
        outcome: &str,
        detail: &str,
    ) {
        self.audit(&crate::audit::AuditEvent {
            time_ms: crate::control::now_ms(),
            account: account.to_owned(),
            actor: actor.to_owned(),
            source: request.source.to_string(),
            request_id: request.request_id.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            outcome: outcome.to_owned(),
            detail: detail.to_owned(),
        });
    }
}

fn method_not_allowed() -> AdminError {
    AdminError::new(
        405,
        "MethodNotAllowed",
        "This method is not allowed on this path.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        for ms in [0, 951_782_400_000, 1_796_000_000_000, 4_102_444_800_000] {
            assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms));
        }
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(
            parse_rfc3339("2026-12-06"),
            parse_rfc3339("2026-12-06T00:00:00Z")
        );
        assert_eq!(parse_rfc3339("2026-13-06"), None);
        assert_eq!(
            parse_rfc3339("2026-12-06T18:30:00+01:00"),
            parse_rfc3339("2026-12-06T17:30:00Z")
        );
        assert_eq!(
            parse_rfc3339("2026-12-06T17:30:00.250Z"),
            parse_rfc3339("2026-12-06T17:30:00Z").map(|ms| ms + 250)
        );
        assert_eq!(parse_rfc3339("2026-12-06T17:30:00"), None);
        assert_eq!(parse_rfc3339("2026-12-06T17:30:00+0100"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
    }
}
