//! Shared test fixtures: principals, a map of request facts, and a one-call authorize.
#![allow(dead_code)]

use iam::{
    authorize, parse_policy, ConditionValues, Decision, NamedPolicy, Policy, PolicyKind, Principal,
    PrincipalKind, Request,
};
use std::collections::HashMap;
use std::sync::Arc;

pub const ACCOUNT: &str = "123456789012";
pub const OTHER_ACCOUNT: &str = "210987654321";
pub const CANONICAL: &str = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be";
/// 2024-05-01T12:00:00Z
pub const NOW_MS: u64 = 1_714_564_800_000;

/// Request facts served from a map keyed by lower-case condition key.
#[derive(Default)]
pub struct Facts(pub HashMap<String, Vec<String>>);

impl Facts {
    pub fn new(pairs: &[(&str, &[&str])]) -> Facts {
        Facts(
            pairs
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_ascii_lowercase(),
                        v.iter().map(|s| s.to_string()).collect(),
                    )
                })
                .collect(),
        )
    }
}

impl ConditionValues for Facts {
    fn values(&self, key_lower: &str) -> Option<Vec<String>> {
        self.0.get(key_lower).cloned()
    }
}

pub fn policy(kind: PolicyKind, document: &str) -> Policy {
    parse_policy(document, kind).unwrap_or_else(|e| panic!("{}: {document}", e.message))
}

pub fn named(name: &str, document: &str) -> NamedPolicy {
    NamedPolicy {
        name: name.to_owned(),
        policy: Arc::new(policy(PolicyKind::Identity, document)),
    }
}

pub fn user(account: &str, name: &str, policies: Vec<NamedPolicy>) -> Principal {
    Principal {
        kind: PrincipalKind::User,
        account_id: account.to_owned(),
        canonical_id: CANONICAL.to_owned(),
        arn: iam::arn::user_arn(account, "/", name),
        user_id: format!("AIDA{}", name.to_ascii_uppercase()),
        name: name.to_owned(),
        role_arn: None,
        policies,
        session_policies: Vec::new(),
    }
}

pub fn role_session(
    account: &str,
    role: &str,
    session: &str,
    policies: Vec<NamedPolicy>,
    session_policy: Option<&str>,
) -> Principal {
    Principal {
        kind: PrincipalKind::AssumedRole,
        account_id: account.to_owned(),
        canonical_id: CANONICAL.to_owned(),
        arn: iam::arn::assumed_role_arn(account, role, session),
        user_id: format!("AROAROLEID:{session}"),
        name: String::new(),
        role_arn: Some(iam::arn::role_arn(account, "/", role)),
        policies,
        session_policies: session_policy
            .map(|doc| NamedPolicy {
                name: "session".to_owned(),
                policy: Arc::new(policy(PolicyKind::Session, doc)),
            })
            .into_iter()
            .collect(),
    }
}

pub fn system_root() -> Principal {
    Principal {
        kind: PrincipalKind::SystemRoot,
        account_id: ACCOUNT.to_owned(),
        canonical_id: CANONICAL.to_owned(),
        arn: iam::arn::account_root_arn(ACCOUNT),
        user_id: ACCOUNT.to_owned(),
        name: String::new(),
        role_arn: None,
        policies: Vec::new(),
        session_policies: Vec::new(),
    }
}

/// Authorizes with the principal's identity policies and an optional resource policy.
pub fn decide(
    principal: Option<&Principal>,
    action: &str,
    resource: &str,
    resource_account: Option<&str>,
    resource_policy: Option<&Policy>,
    facts: &Facts,
) -> Decision {
    authorize(&Request {
        principal,
        action,
        resource,
        resource_account,
        resource_policy,
        restrict_resource_policy_to_account: false,
        acl: None,
        now_ms: NOW_MS,
        facts,
    })
}

/// Whether a one-statement identity policy with this Condition block allows s3:GetObject.
pub fn condition_allows(condition: &str, facts: &Facts) -> bool {
    let document = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{condition}}}}}"#
    );
    let alice = user(ACCOUNT, "alice", vec![named("p", &document)]);
    decide(
        Some(&alice),
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        None,
        None,
        facts,
    )
    .allowed
}
