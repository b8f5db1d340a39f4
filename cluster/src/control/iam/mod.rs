//! The IAM and STS query APIs, executed on the control plane: each call is
//! authorised (the root may do anything; anyone else needs an `iam:` or
//! `sts:` Allow from the policy engine), validated with IAM's limits and
//! errors, applied to the catalog in one transaction, and, when it changed
//! identities, published to every shard before it is answered.
//!
//! One file per resource: `users`, `keys`, `groups`, `policies`, `roles`,
//! `sts`. This file holds what they share: the call context, validation,
//! paging, ARNs and the audit line.

mod groups;
mod keys;
pub(crate) mod policies;
mod roles;
pub(crate) mod sts;
mod users;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use s3::query::{QueryCaller, QueryError, QueryRequest, QueryService, RequestFacts, XmlNode};

use crate::catalog::{Catalog, CatalogError};
use crate::directory::{RecordChange, UserRecord};
use engine::crypto::MasterKey;

pub(crate) use policies::aws_managed_policy;

/// Items one list call returns at most (IAM's MaxItems range is 1..=1000).
const LIST_ITEMS_MAX: usize = 1000;
const LIST_ITEMS_DEFAULT: usize = 100;
/// Records of each kind an account may hold: bounds the snapshot every
/// shard keeps (IAM's own quotas are of this order).
pub(crate) const USERS_PER_ACCOUNT_MAX: usize = 5000;
pub(crate) const GROUPS_PER_ACCOUNT_MAX: usize = 300;
pub(crate) const ROLES_PER_ACCOUNT_MAX: usize = 1000;
pub(crate) const POLICIES_PER_ACCOUNT_MAX: usize = 1500;

/// What RFC 3986 leaves unreserved: IAM answers policy documents URL-encoded.
const DOCUMENT_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One call being executed.
pub(crate) struct Call<'a> {
    pub catalog: &'a Catalog,
    /// Log forwarding, when a target wants the audit log.
    pub audit_forward: Option<&'a crate::ship::Shipper>,
    pub master: &'a MasterKey,
    /// The caller's account: every name in the call is looked up there.
    pub account: String,
    pub caller: &'a QueryCaller,
    pub request: &'a QueryRequest,
    pub facts: &'a RequestFacts,
    pub now_ms: u64,
    /// The caller's key is the console's session of a signed-in user (`admin::s3_credentials`),
    /// not a GetSessionToken one.
    pub console_session: bool,
    /// For GetAccessKeyLastUsed: the key's latest use any shard saw.
    pub key_last_used: Option<s3::shard::KeyUse>,
    /// The server's region, as answers name it.
    pub region: String,
}

/// A call's result: the answer's elements, and whether identities changed
/// (then the control plane publishes a snapshot before answering).
pub(crate) struct Outcome {
    pub result: Vec<XmlNode>,
    pub changed: bool,
}

impl Outcome {
    pub fn read(result: Vec<XmlNode>) -> Self {
        Outcome {
            result,
            changed: false,
        }
    }

    pub fn changed(result: Vec<XmlNode>) -> Self {
        Outcome {
            result,
            changed: true,
        }
    }
}

pub(crate) type CallResult = Result<Outcome, QueryError>;

/// Executes one call.
pub(crate) fn execute(call: &Call<'_>) -> CallResult {
    let action = call.request.action.as_str();
    // A user's GetSessionToken credentials may not manage identities: AWS
    // asks them for MFA, which this server does not have, so never.
    let user_session = call.caller.temporary
        && call.caller.principal.kind == iam::PrincipalKind::User
        && !call.console_session;
    if user_session && call.request.service == QueryService::Iam {
        return Err(QueryError::access_denied(format!(
            "User: {} is not authorized to perform: iam:{action} with session credentials \
             from GetSessionToken",
            call.caller.principal.arn
        )));
    }
    if call.request.service == QueryService::Iam && !IAM_ACTIONS_SERVED.contains(&action) {
        return Err(unknown_action(action));
    }
    match call.request.service {
        QueryService::Sts => sts::execute(call, action),
        QueryService::Iam => users::execute(call, action)
            .or_else(|| keys::execute(call, action))
            .or_else(|| groups::execute(call, action))
            .or_else(|| policies::execute(call, action))
            .or_else(|| roles::execute(call, action))
            .unwrap_or_else(|| Err(unknown_action(action))),
    }
}

/// The IAM actions this server serves (the `iam:` action of each is the
/// one a policy names); a test holds them against the policy engine's table.
pub(crate) const IAM_ACTIONS_SERVED: &[&str] = &[
    "CreateUser",
    "GetUser",
    "ListUsers",
    "UpdateUser",
    "DeleteUser",
    "PutUserPolicy",
    "GetUserPolicy",
    "ListUserPolicies",
    "DeleteUserPolicy",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "ListAttachedUserPolicies",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "GetAccessKeyLastUsed",
    "CreateGroup",
    "GetGroup",
    "ListGroups",
    "DeleteGroup",
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "ListGroupsForUser",
    "PutGroupPolicy",
    "GetGroupPolicy",
    "ListGroupPolicies",
    "DeleteGroupPolicy",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
    "ListAttachedGroupPolicies",
    "CreatePolicy",
    "GetPolicy",
    "ListPolicies",
    "DeletePolicy",
    "CreatePolicyVersion",
    "GetPolicyVersion",
    "ListPolicyVersions",
    "DeletePolicyVersion",
    "SetDefaultPolicyVersion",
    "CreateRole",
    "GetRole",
    "ListRoles",
    "DeleteRole",
    "UpdateAssumeRolePolicy",
    "PutRolePolicy",
    "GetRolePolicy",
    "ListRolePolicies",
    "DeleteRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListAttachedRolePolicies",
];

fn unknown_action(action: &str) -> QueryError {
    QueryError::new(
        "InvalidAction",
        400,
        format!("Could not find operation {action} for version 2010-05-08"),
    )
}

impl Call<'_> {
    pub fn is_root(&self) -> bool {
        self.caller.principal.kind == iam::PrincipalKind::SystemRoot
    }

    /// Whether the caller may do `action` (`iam:CreateUser`) on `resource`;
    /// a refusal is logged for the audit trail and answered as IAM does.
    pub fn authorize(&self, action: &str, resource: &str) -> Result<(), QueryError> {
        if self.is_root() {
            return Ok(());
        }
        let principal = &*self.caller.principal;
        let request = iam::Request {
            principal: Some(principal),
            action,
            resource,
            resource_account: Some(&self.account),
            resource_policy: None,
            restrict_resource_policy_to_account: false,
            acl: None,
            now_ms: self.now_ms,
            facts: &FactsView(self.facts),
        };
        let decision = iam::authorize(&request);
        if decision.allowed {
            return Ok(());
        }
        tracing::info!(
            target: "audit",
            principal = principal.arn.as_str(),
            action,
            resource,
            decided_by = decision
                .decided_by
                .as_ref()
                .map(|s| format!("{} statement {}", s.policy, s.index))
                .unwrap_or_else(|| "no statement allows it".into())
                .as_str(),
            "request denied"
        );
        let why = match decision.decided_by {
            Some(_) => "with an explicit deny",
            None => "because no identity-based policy allows the action",
        };
        Err(QueryError::access_denied(format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} {why}",
            principal.arn
        )))
    }

    /// Records an identity change for the audit trail (never a secret).
    pub fn audit(&self, action: &str, resource: &str) {
        tracing::info!(
            target: "audit",
            principal = self.caller.principal.arn.as_str(),
            action,
            resource,
            "identity changed"
        );
        let entry = crate::audit::AuditEvent {
            time_ms: self.now_ms,
            account: self.account.clone(),
            actor: self.caller.principal.arn.clone(),
            source: self
                .facts
                .get("aws:sourceip")
                .and_then(|ips| ips.first().cloned())
                .unwrap_or_default(),
            action: action.to_owned(),
            target: resource.to_owned(),
            outcome: "success".to_owned(),
            ..Default::default()
        };
        crate::audit::record(self.catalog, self.audit_forward, &entry);
    }

    pub fn write(&self, changes: &[RecordChange]) -> Result<(), QueryError> {
        self.catalog.write_records(changes).map_err(service_failure)
    }

    pub fn user_arn(&self, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:user{path}{name}", self.account)
    }

    pub fn group_arn(&self, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:group{path}{name}", self.account)
    }

    pub fn role_arn(&self, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:role{path}{name}", self.account)
    }

    pub fn policy_arn(&self, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:policy{path}{name}", self.account)
    }

    /// The user a call is about: `UserName` when given, else the caller
    /// (IAM's rule for GetUser, CreateAccessKey, ListAccessKeys, ...).
    pub fn target_user_name(&self) -> Result<String, QueryError> {
        match self.request.param("UserName") {
            Some(name) => {
                validate_name("userName", name, 64)?;
                Ok(name.to_owned())
            }
            None if self.caller.principal.kind == iam::PrincipalKind::User => {
                Ok(self.caller.principal.name.clone())
            }
            None => Err(QueryError::validation(
                "Must specify userName when calling with non-User credentials",
            )),
        }
    }

    pub fn load_user(&self, name: &str) -> Result<UserRecord, QueryError> {
        self.catalog
            .record::<UserRecord>(&self.account, name)
            .map_err(service_failure)?
            .ok_or_else(|| no_such_entity(format!("The user with name {name} cannot be found.")))
    }
}

/// Condition facts the shard captured, in the engine's terms.
pub(crate) struct FactsView<'a>(pub &'a RequestFacts);

impl iam::ConditionValues for FactsView<'_> {
    fn values(&self, key_lower: &str) -> Option<Vec<String>> {
        self.0.get(key_lower).map(<[String]>::to_vec)
    }
}

pub(crate) fn service_failure(err: CatalogError) -> QueryError {
    tracing::error!(%err, "catalog failure in an IAM call");
    QueryError::new(
        "ServiceFailure",
        500,
        "The request processing has failed because of an unknown error, exception or failure.",
    )
}

pub(crate) fn no_such_entity(message: impl Into<String>) -> QueryError {
    QueryError::new("NoSuchEntity", 404, message)
}

pub(crate) fn already_exists(message: impl Into<String>) -> QueryError {
    QueryError::new("EntityAlreadyExists", 409, message)
}

pub(crate) fn delete_conflict(message: impl Into<String>) -> QueryError {
    QueryError::new("DeleteConflict", 409, message)
}

pub(crate) fn limit_exceeded(message: impl Into<String>) -> QueryError {
    QueryError::new("LimitExceeded", 409, message)
}

pub(crate) fn malformed_policy(message: impl Into<String>) -> QueryError {
    QueryError::new("MalformedPolicyDocument", 400, message)
}

fn constraint(field: &str, value: &str, rule: &str) -> QueryError {
    QueryError::validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy \
         constraint: {rule}"
    ))
}

/// IAM's names (users, groups, roles, policies): `[\w+=,.@-]+`, 1..=max.
pub(crate) fn validate_name(field: &str, name: &str, max_chars: usize) -> Result<(), QueryError> {
    if name.is_empty() {
        return Err(constraint(
            field,
            name,
            "Member must have length greater than or equal to 1",
        ));
    }
    if name.chars().count() > max_chars {
        return Err(constraint(
            field,
            name,
            &format!("Member must have length less than or equal to {max_chars}"),
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if !name.chars().all(allowed) {
        return Err(constraint(
            field,
            name,
            "Member must satisfy regular expression pattern: [\\w+=,.@-]+",
        ));
    }
    Ok(())
}

/// A path: `/` alone or `/segments/`, printable ASCII, at most 512.
pub(crate) fn validate_path(path: &str) -> Result<(), QueryError> {
    let printable = path.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c));
    let framed = path == "/" || (path.len() > 1 && path.starts_with('/') && path.ends_with('/'));
    if path.len() > 512 || !printable || !framed {
        return Err(constraint(
            "path",
            path,
            "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        ));
    }
    Ok(())
}

/// The `Path` parameter, `/` when absent.
pub(crate) fn path_param(request: &QueryRequest) -> Result<String, QueryError> {
    let path = request.param("Path").unwrap_or("/");
    validate_path(path)?;
    Ok(path.to_owned())
}

/// Checks a policy document's size (IAM counts characters without
/// whitespace) and grammar; `holder` names what it is for in the message.
pub(crate) fn validate_document(
    document: &str,
    kind: iam::PolicyKind,
    max_chars: usize,
    holder: &str,
) -> Result<(), QueryError> {
    if iam::limits::policy_size_chars(document) > max_chars {
        return Err(limit_exceeded(format!(
            "Maximum policy size of {max_chars} bytes exceeded for {holder}"
        )));
    }
    iam::parse_policy(document, kind)
        .map(|_| ())
        .map_err(|err| malformed_policy(err.message))
}

/// A document as IAM answers it: URL-encoded JSON.
pub(crate) fn encode_document(document: &str) -> String {
    utf8_percent_encode(document, DOCUMENT_ENCODE).to_string()
}

pub(crate) fn timestamp(ms: u64) -> String {
    s3::xml::format_timestamp(ms)
}

/// One page of a list: `items` sorted by name; `Marker` is the name of the
/// first item of the next page, as this server hands it out.
pub(crate) fn page<T>(
    request: &QueryRequest,
    items: Vec<T>,
    name_of: impl Fn(&T) -> &str,
) -> Result<(Vec<T>, Vec<XmlNode>), QueryError> {
    let max_items = match request.param("MaxItems") {
        None => LIST_ITEMS_DEFAULT,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=LIST_ITEMS_MAX).contains(&n) => n,
            _ => {
                return Err(constraint(
                    "maxItems",
                    text,
                    "Member must have value between 1 and 1000",
                ))
            }
        },
    };
    let marker = request.param("Marker").map(str::to_ascii_lowercase);
    let mut remaining: Vec<T> = items
        .into_iter()
        .filter(|item| match &marker {
            Some(marker) => name_of(item).to_ascii_lowercase() >= *marker,
            None => true,
        })
        .collect();
    let truncated = remaining.len() > max_items;
    let mut trailer = vec![XmlNode::boolean("IsTruncated", truncated)];
    if truncated {
        let rest = remaining.split_off(max_items);
        trailer.push(XmlNode::text("Marker", name_of(&rest[0]).to_owned()));
    }
    Ok((remaining, trailer))
}

/// AWS ISO-8601 for `Expiration` and friends, without milliseconds.
pub(crate) fn timestamp_seconds(ms: u64) -> String {
    let text = s3::xml::format_timestamp(ms);
    format!("{}Z", &text[..19])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A policy can name every action served (a missing name would make
    /// `iam:UpdateUser` a malformed policy), and every served action is one
    /// the executor dispatches.
    #[test]
    fn every_served_action_is_known_to_the_policy_engine() {
        for action in IAM_ACTIONS_SERVED {
            assert!(
                ::iam::actions::IAM_ACTIONS.contains(action),
                "iam:{action} is not in the policy engine's table"
            );
            let document = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iam:{action}","Resource":"*"}}]}}"#
            );
            assert!(
                ::iam::parse_policy(&document, ::iam::PolicyKind::Identity).is_ok(),
                "{action}"
            );
        }
        for action in ["GetCallerIdentity", "GetSessionToken", "AssumeRole"] {
            assert!(
                ::iam::actions::STS_ACTIONS.contains(&action),
                "sts:{action}"
            );
        }
    }
}
