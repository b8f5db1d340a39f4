//! STS: GetCallerIdentity, GetSessionToken and AssumeRole, and the sessions
//! of the federated calls (AssumeRoleWithLDAPIdentity and
//! AssumeRoleWithWebIdentity, checked by `crate::control::federated`). Temporary
//! credentials are an `ASIA...` key, a secret and a session token, stored
//! (secret sealed) as a session record and published like any key; shards
//! refuse them without their token and after they expire. A role session
//! gets the role's policies, narrowed by the session policy if one is given.

use s3::query::{QueryError, XmlNode};

use super::{
    limit_exceeded, no_such_entity, service_failure, timestamp_seconds, validate_document, Call,
    CallResult, Outcome,
};
use crate::directory::{ManagedPolicyRecord, RecordChange, RoleRecord, SessionRecord};

/// STS's DurationSeconds ranges (seconds).
const SESSION_S_MIN: u64 = 900;
const SESSION_TOKEN_S_DEFAULT: u64 = 43_200;
const SESSION_TOKEN_S_MAX: u64 = 129_600;
const ASSUME_ROLE_S_DEFAULT: u64 = 3600;
/// A session policy's limit (characters without whitespace), as AWS's packed size allows.
const SESSION_POLICY_CHARS_MAX: usize = 2048;
/// Live sessions one account may hold: every one is in every shard's snapshot.
const SESSIONS_PER_ACCOUNT_MAX: usize = 10_000;
/// Managed session policies one AssumeRole may name (AWS's limit).
const SESSION_POLICY_ARNS_MAX: usize = 10;
/// Live sessions of one user or role: no single identity can fill the
/// account's share.
const SESSIONS_PER_IDENTITY_MAX: usize = 100;

pub(super) fn execute(call: &Call<'_>, action: &str) -> CallResult {
    match action {
        "GetCallerIdentity" => get_caller_identity(call),
        "GetSessionToken" => get_session_token(call),
        "AssumeRole" => assume_role(call),
        other => Err(QueryError::new(
            "InvalidAction",
            400,
            format!("Could not find operation {other} for version 2011-06-15"),
        )),
    }
}

/// Anyone authenticated may ask who they are; no policy can deny it (AWS).
fn get_caller_identity(call: &Call<'_>) -> CallResult {
    let principal = &call.caller.principal;
    Ok(Outcome::read(vec![
        XmlNode::text("Arn", &principal.arn),
        XmlNode::text("UserId", &principal.user_id),
        XmlNode::text("Account", &principal.account_id),
    ]))
}

fn duration_param(
    request: &s3::query::QueryRequest,
    default_s: u64,
    max_s: u64,
) -> Result<u64, QueryError> {
    match request.param("DurationSeconds") {
        None => Ok(default_s.min(max_s)),
        Some(text) => match text.parse::<u64>() {
            Ok(s) if s >= SESSION_S_MIN && s <= max_s => Ok(s),
            Ok(s) if s > max_s && s <= SESSION_TOKEN_S_MAX => Err(QueryError::validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            )),
            _ => Err(QueryError::validation(format!(
                "1 validation error detected: Value '{text}' at 'durationSeconds' failed to \
                 satisfy constraint: Member must have value between {SESSION_S_MIN} and {max_s}"
            ))),
        },
    }
}

/// A session about to be issued: `issue` fills in its key, secret, token
/// and times.
fn pending_session(
    role: Option<String>,
    user_id: Option<String>,
    session_name: String,
    policy: Option<String>,
) -> SessionRecord {
    SessionRecord {
        id: String::new(),
        secret_sealed: String::new(),
        token: String::new(),
        created_ms: 0,
        expires_ms: 0,
        role,
        user_id,
        session_name,
        policy,
        policy_arns: Vec::new(),
    }
}

/// What issuing a session needs of the control plane.
pub(crate) struct Issuer<'a> {
    pub catalog: &'a crate::catalog::Catalog,
    pub master: &'a engine::crypto::MasterKey,
    pub now_ms: u64,
}

impl<'a> Issuer<'a> {
    fn of(call: &'a Call<'_>) -> Self {
        Issuer {
            catalog: call.catalog,
            master: call.master,
            now_ms: call.now_ms,
        }
    }
}

/// Stores a new session and answers its credentials.
fn issue(
    call: &Issuer<'_>,
    account: &str,
    mut session: SessionRecord,
    duration_s: u64,
) -> Result<(Vec<XmlNode>, SessionRecord), QueryError> {
    let sessions = call
        .catalog
        .records::<SessionRecord>(account)
        .map_err(service_failure)?;
    // Expired sessions go with the next one made: they can do nothing.
    let mut changes: Vec<RecordChange> = sessions
        .iter()
        .filter(|s| s.expires_ms <= call.now_ms)
        .map(|s| RecordChange::delete::<SessionRecord>(account, &s.id))
        .collect();
    if sessions.len() - changes.len() >= SESSIONS_PER_ACCOUNT_MAX {
        return Err(limit_exceeded(format!(
            "Cannot exceed quota for live sessions per account: {SESSIONS_PER_ACCOUNT_MAX}"
        )));
    }
    let same_identity = sessions
        .iter()
        .filter(|s| s.expires_ms > call.now_ms)
        .filter(|s| {
            // A role's sessions count per session name: one caller (a CI job
            // with its token) cannot take every session the role may have.
            let same_role = s.role.is_some()
                && s.role == session.role
                && s.session_name == session.session_name;
            let same_user = s.user_id.is_some() && s.user_id == session.user_id;
            let both_root = s.role.is_none()
                && s.user_id.is_none()
                && session.role.is_none()
                && session.user_id.is_none();
            same_role || same_user || both_root
        })
        .count();
    if same_identity >= SESSIONS_PER_IDENTITY_MAX {
        return Err(limit_exceeded(format!(
            "Cannot exceed quota for live sessions per user or role: {SESSIONS_PER_IDENTITY_MAX}"
        )));
    }
    let secret = crate::credentials::random_secret();
    session.id = crate::credentials::random_id("ASIA");
    session.secret_sealed = call.master.seal_text(secret.as_bytes());
    session.token = crate::credentials::random_from(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        160,
    );
    session.created_ms = call.now_ms;
    session.expires_ms = call.now_ms + duration_s * 1000;
    changes.push(RecordChange::put(account, &session));
    call.catalog
        .write_records(&changes)
        .map_err(service_failure)?;
    let credentials = XmlNode::parent(
        "Credentials",
        vec![
            XmlNode::text("AccessKeyId", &session.id),
            XmlNode::text("SecretAccessKey", secret),
            XmlNode::text("SessionToken", &session.token),
            XmlNode::text("Expiration", timestamp_seconds(session.expires_ms)),
        ],
    );
    Ok((vec![credentials], session))
}

fn get_session_token(call: &Call<'_>) -> CallResult {
    if call.caller.temporary {
        return Err(QueryError::access_denied(
            "Cannot call GetSessionToken with session credentials",
        ));
    }
    let duration_s = duration_param(call.request, SESSION_TOKEN_S_DEFAULT, SESSION_TOKEN_S_MAX)?;
    let principal = &call.caller.principal;
    let user_id = match principal.kind {
        iam::PrincipalKind::User => Some(principal.user_id.clone()),
        _ => None,
    };
    let session = pending_session(None, user_id, String::new(), None);
    let (result, session) = issue(&Issuer::of(call), &call.account, session, duration_s)?;
    call.audit(
        "sts:GetSessionToken",
        &format!("{} key {}", principal.arn, session.id),
    );
    Ok(Outcome::changed(result))
}

/// The managed session policies AssumeRole names (`PolicyArns.member.N.arn`):
/// at most 10, each an existing managed policy of the role's account or an
/// AWS-managed one.
fn session_policy_arns(
    catalog: &crate::catalog::Catalog,
    request: &s3::query::QueryRequest,
    account: &str,
) -> Result<Vec<String>, QueryError> {
    let arns: Vec<String> = request
        .list("PolicyArns.member", ".arn")
        .into_iter()
        .map(str::to_owned)
        .collect();
    if arns.len() > SESSION_POLICY_ARNS_MAX {
        return Err(QueryError::validation(format!(
            "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: \
             Member must have length less than or equal to {SESSION_POLICY_ARNS_MAX}"
        )));
    }
    for arn in &arns {
        let own = arn
            .strip_prefix(&format!("arn:aws:iam::{account}:policy/"))
            .map(|rest| rest.rsplit('/').next().unwrap_or(rest))
            .map(|name| {
                catalog
                    .record::<ManagedPolicyRecord>(account, name)
                    .map_err(super::service_failure)
                    .map(|found| {
                        found.is_some_and(|policy| {
                            format!(
                                "arn:aws:iam::{account}:policy{}{}",
                                policy.path, policy.name
                            ) == *arn
                        })
                    })
            })
            .transpose()?
            .unwrap_or(false);
        if !own && super::aws_managed_policy(arn).is_none() {
            return Err(QueryError::validation(format!(
                "Policy {arn} does not exist or is not attachable."
            )));
        }
    }
    Ok(arns)
}

/// `arn:aws:iam::<account>:role/<path/>name` → (account, name).
pub(crate) fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path_and_name = resource.strip_prefix("role/")?;
    let name = path_and_name.rsplit('/').next()?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty())
        .then_some((account, name))
}

fn assumed_role_user(account: &str, role: &RoleRecord, session_name: &str) -> XmlNode {
    XmlNode::parent(
        "AssumedRoleUser",
        vec![
            XmlNode::text("AssumedRoleId", format!("{}:{session_name}", role.id)),
            XmlNode::text(
                "Arn",
                format!(
                    "arn:aws:sts::{account}:assumed-role/{}/{session_name}",
                    role.name
                ),
            ),
        ],
    )
}

/// The inline session policy (`Policy`), checked, if one is given.
fn session_policy_param(request: &s3::query::QueryRequest) -> Result<Option<&str>, QueryError> {
    let session_policy = request.param("Policy");
    if let Some(document) = session_policy {
        if iam::limits::policy_size_chars(document) > SESSION_POLICY_CHARS_MAX {
            return Err(QueryError::new(
                "PackedPolicyTooLarge",
                400,
                "Packed policy consumes more than 100 percent of the allotted space.",
            ));
        }
        validate_document(
            document,
            iam::PolicyKind::Session,
            SESSION_POLICY_CHARS_MAX,
            "the session",
        )?;
    }
    Ok(session_policy)
}

/// `RoleArn` and `RoleSessionName`, checked as AWS checks them.
pub(crate) fn role_arn_and_session_name(
    request: &s3::query::QueryRequest,
) -> Result<(&str, &str), QueryError> {
    let role_arn = request.required("RoleArn")?;
    let session_name = request.required("RoleSessionName")?;
    let name_ok = (2..=64).contains(&session_name.len())
        && session_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !name_ok {
        return Err(QueryError::validation(format!(
            "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to \
             satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    if role_arn.len() < 20 || role_arn.len() > 2048 {
        return Err(QueryError::validation(
            "1 validation error detected: Value at 'roleArn' failed to satisfy constraint: \
             Member must have length between 20 and 2048",
        ));
    }
    Ok((role_arn, session_name))
}

/// AssumeRoleWithLDAPIdentity's session: the signed-in directory user's
/// own (its role's policies), narrowed by the session policy if one is given.
pub(crate) fn ldap_identity_session(
    issuer: &Issuer<'_>,
    request: &s3::query::QueryRequest,
    account: &str,
    user: &crate::directory::UserRecord,
) -> Result<Vec<XmlNode>, QueryError> {
    let duration_s = duration_param(request, ASSUME_ROLE_S_DEFAULT, SESSION_TOKEN_S_DEFAULT)?;
    // MinIO's form narrows with an inline policy only; managed ones are not
    // taken rather than silently ignored.
    if !request.list("PolicyArns.member", ".arn").is_empty() {
        return Err(QueryError::validation(
            "PolicyArns is not supported by AssumeRoleWithLDAPIdentity; pass an inline Policy.",
        ));
    }
    let policy = session_policy_param(request)?.map(str::to_owned);
    let session = pending_session(None, Some(user.id.clone()), user.name.clone(), policy);
    let (result, _) = issue(issuer, account, session, duration_s)?;
    Ok(result)
}

/// AssumeRoleWithWebIdentity's session, once the token and the role's trust
/// were checked: a role session as AssumeRole gives, and the token's facts.
pub(crate) fn web_identity_session(
    issuer: &Issuer<'_>,
    request: &s3::query::QueryRequest,
    account: &str,
    role: &RoleRecord,
    subject: &str,
    provider: &str,
    audience: &str,
) -> Result<Vec<XmlNode>, QueryError> {
    let (_, session_name) = role_arn_and_session_name(request)?;
    let duration_s = duration_param(
        request,
        ASSUME_ROLE_S_DEFAULT,
        role.max_session_duration_s as u64,
    )?;
    let policy = session_policy_param(request)?.map(str::to_owned);
    let mut session = pending_session(
        Some(role.name.clone()),
        None,
        session_name.to_owned(),
        policy,
    );
    session.policy_arns = session_policy_arns(issuer.catalog, request, account)?;
    let (mut result, _) = issue(issuer, account, session, duration_s)?;
    result.insert(0, XmlNode::text("SubjectFromWebIdentityToken", subject));
    result.push(assumed_role_user(account, role, session_name));
    result.push(XmlNode::text("Provider", provider));
    result.push(XmlNode::text("Audience", audience));
    Ok(result)
}

fn assume_role(call: &Call<'_>) -> CallResult {
    let (role_arn, session_name) = role_arn_and_session_name(call.request)?;
    let denied = || {
        QueryError::access_denied(format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            call.caller.principal.arn
        ))
    };
    let (account, role_name) = parse_role_arn(role_arn)
        .ok_or_else(|| QueryError::validation(format!("{role_arn} is invalid")))?;
    let role = call
        .catalog
        .record::<RoleRecord>(account, role_name)
        .map_err(service_failure)?;
    // An unknown role is as refused as a forbidden one: the caller learns
    // nothing about another account's roles.
    let role = match role {
        Some(role)
            if format!("arn:aws:iam::{account}:role{}{}", role.path, role.name) == role_arn =>
        {
            role
        }
        _ if call.is_root() => {
            return Err(no_such_entity(format!(
                "The role with name {role_name} cannot be found."
            )))
        }
        _ => return Err(denied()),
    };
    // Who may assume it is decided before anything about the role shows
    // (its duration limit, ...): a caller it does not trust learns nothing.
    if !call.is_root() {
        trust_allows(call, &role, role_arn, account).map_err(|()| denied())?;
    }
    let duration_s = duration_param(
        call.request,
        ASSUME_ROLE_S_DEFAULT,
        role.max_session_duration_s as u64,
    )?;
    let session_policy = session_policy_param(call.request)?;
    let policy_arns = session_policy_arns(call.catalog, call.request, account)?;
    let mut session = pending_session(
        Some(role.name.clone()),
        None,
        session_name.to_owned(),
        session_policy.map(str::to_owned),
    );
    session.policy_arns = policy_arns;
    let (mut result, session) = issue(&Issuer::of(call), account, session, duration_s)?;
    result.push(assumed_role_user(account, &role, session_name));
    call.audit(
        "sts:AssumeRole",
        &format!("{role_arn} session {session_name} key {}", session.id),
    );
    Ok(Outcome::changed(result))
}

/// The role's trust policy must allow the caller `sts:AssumeRole` (naming
/// its account is enough for that), and the caller's own policies decide the
/// rest as for any resource: their Denies and session policy apply, a trust
/// naming only the account needs the caller's own Allow too, and a caller of
/// another account always needs it.
fn trust_allows(
    call: &Call<'_>,
    role: &RoleRecord,
    role_arn: &str,
    account: &str,
) -> Result<(), ()> {
    let trust = iam::parse_policy(&role.trust_policy, iam::PolicyKind::Trust).map_err(|_| ())?;
    let facts = super::FactsView(call.facts);
    let request = iam::Request {
        principal: Some(&call.caller.principal),
        action: "sts:AssumeRole",
        resource: role_arn,
        resource_account: Some(account),
        resource_policy: Some(&trust),
        restrict_resource_policy_to_account: false,
        acl: None,
        now_ms: call.now_ms,
        facts: &facts,
    };
    if iam::resource_policy_allows(&request) && iam::authorize(&request).allowed {
        Ok(())
    } else {
        Err(())
    }
}
