//! Authorization: which of a request's applicable policies decide, following AWS's
//! "Policy evaluation logic" (explicit deny wins; same-account requests need an allow
//! from an identity or the resource policy, cross-account ones from both; session
//! policies limit identity grants), with the request facts supplied lazily.

use crate::acl::{Acl, AclGrant, AclTarget};
use crate::condition::ConditionContext;
use crate::pattern::VariableSource;
use crate::policy::{Effect, Policy, PrincipalMatcher, PrincipalName, Statement};
use crate::principal::{Principal, PrincipalKind};
use crate::values::format_iso8601;

/// The policy name decisions report for the request's resource policy.
pub const RESOURCE_POLICY_NAME: &str = "resource-policy";

/// Request facts the caller supplies lazily. `key_lower` is the condition key in lower
/// case (e.g. "aws:sourceip", "s3:prefix", "s3:existingobjecttag/project"). None = the
/// key is absent.
///
/// The engine itself supplies (and never asks for) aws:username, aws:userid,
/// aws:principaltype, aws:principalarn, aws:principalaccount, aws:currenttime and
/// aws:epochtime, so a caller cannot be tricked into overriding them.
pub trait ConditionValues {
    fn values(&self, key_lower: &str) -> Option<Vec<String>>;
}

/// No facts at all: every key the engine does not supply is absent.
pub struct NoConditionValues;

impl ConditionValues for NoConditionValues {
    fn values(&self, _key_lower: &str) -> Option<Vec<String>> {
        None
    }
}

pub struct Request<'a> {
    /// None: anonymous.
    pub principal: Option<&'a Principal>,
    /// "s3:GetObject", "iam:CreateUser", "sts:AssumeRole".
    pub action: &'a str,
    /// "arn:aws:s3:::bucket", "arn:aws:s3:::bucket/key", "arn:aws:iam::123456789012:user/alice".
    pub resource: &'a str,
    /// The account owning the resource (bucket owner); None = unknown or not applicable.
    pub resource_account: Option<&'a str>,
    /// The bucket policy, or a role's trust policy.
    pub resource_policy: Option<&'a Policy>,
    /// RestrictPublicBuckets on a resource whose policy is public: the
    /// policy's grants count only for principals of the resource's account
    /// (its denials still count for everyone).
    pub restrict_resource_policy_to_account: bool,
    /// The resource's ACL, when ACLs affect access (they are disabled by the
    /// bucket's BucketOwnerEnforced ownership).
    pub acl: Option<ResourceAcl<'a>>,
    pub now_ms: u64,
    pub facts: &'a dyn ConditionValues,
}

/// An ACL as a request meets it: which ACL (a bucket's or an object's) and
/// whether IgnorePublicAcls drops its public grants.
#[derive(Debug, Clone, Copy)]
pub struct ResourceAcl<'a> {
    pub acl: &'a Acl,
    pub target: AclTarget,
    pub ignore_public: bool,
}

/// A statement of a policy: the policy's name ([`RESOURCE_POLICY_NAME`] for the resource
/// policy), the statement's Sid, and its index in the document's Statement list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    pub policy: String,
    pub sid: Option<String>,
    pub index: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The statement that denied explicitly or allowed; None for an implicit deny and for
    /// the system root.
    pub decided_by: Option<StatementRef>,
}

/// A statement found to decide, borrowed until the decision is built.
#[derive(Clone, Copy)]
struct Found<'p> {
    policy: &'p str,
    statement: &'p Statement,
    index: usize,
}

impl Found<'_> {
    fn to_ref(self) -> StatementRef {
        StatementRef {
            policy: self.policy.to_owned(),
            sid: self.statement.sid.clone(),
            index: self.index,
        }
    }
}

fn decision(allowed: bool, found: Option<Found<'_>>) -> Decision {
    Decision {
        allowed,
        decided_by: found.map(Found::to_ref),
    }
}

/// Decides a request.
pub fn authorize(request: &Request<'_>) -> Decision {
    let principal = request.principal;
    if principal.is_some_and(|p| p.kind == PrincipalKind::SystemRoot) {
        return decision(true, None);
    }
    // Action patterns are lower-cased at parse time; lower-casing the action once here
    // lets every comparison be a plain byte comparison.
    let mut buffer = [0u8; 128];
    let action_lower = lower_case(request.action, &mut buffer);
    let context = Context {
        request,
        action_lower: &action_lower,
    };

    let mut identity_allow = None;
    let mut session_allow = None;
    if let Some(principal) = principal {
        for named in &principal.policies {
            match scan(
                &named.name,
                &named.policy,
                &context,
                identity_allow.is_some(),
                None,
            ) {
                Scan::Denied(found) => return decision(false, Some(found)),
                Scan::Allowed { found, .. } => identity_allow = identity_allow.or(Some(found)),
                Scan::NotApplicable => {}
            }
        }
        for named in &principal.session_policies {
            match scan(
                &named.name,
                &named.policy,
                &context,
                session_allow.is_some(),
                None,
            ) {
                Scan::Denied(found) => return decision(false, Some(found)),
                Scan::Allowed { found, .. } => session_allow = session_allow.or(Some(found)),
                Scan::NotApplicable => {}
            }
        }
    }

    let mut resource_allow = None;
    let mut resource_allow_names_session = false;
    let mut resource_allow_direct = false;
    if let Some(policy) = request.resource_policy {
        // A resource-policy grant naming the exact role session is not limited by the
        // session policy; one naming the role or the account is.
        let exact_session = principal
            .filter(|p| p.kind == PrincipalKind::AssumedRole && !p.session_policies.is_empty())
            .map(|p| p.arn.as_str());
        match scan(
            RESOURCE_POLICY_NAME,
            policy,
            &context,
            false,
            Some(exact_session),
        ) {
            Scan::Denied(found) => return decision(false, Some(found)),
            Scan::Allowed {
                found,
                names_session,
                direct,
            } => {
                resource_allow = Some(found);
                resource_allow_names_session = names_session;
                resource_allow_direct = direct;
            }
            Scan::NotApplicable => {}
        }
    }

    if request.restrict_resource_policy_to_account {
        let own_account = principal.is_some_and(|p| {
            request
                .resource_account
                .is_none_or(|account| account == p.account_id)
        });
        if !own_account {
            resource_allow = None;
        }
    }
    // ACLs cannot deny; a grant counts like a resource-policy Allow (one to
    // an account delegates to that account's policies).
    let acl_grant = request.acl.map_or(AclGrant::None, |resource| {
        resource.acl.grant_for(
            resource.target,
            principal,
            &action_lower,
            resource.ignore_public,
        )
    });

    let Some(principal) = principal else {
        return match (resource_allow, acl_grant) {
            (Some(found), _) => decision(true, Some(found)),
            (None, AclGrant::Direct) => decision(true, None),
            _ => decision(false, None),
        };
    };
    let session_permits = principal.session_policies.is_empty() || session_allow.is_some();
    let identity_grant = identity_allow.filter(|_| session_permits);
    let resource_grant = resource_allow.filter(|_| resource_allow_names_session || session_permits);
    let same_account = request
        .resource_account
        .is_none_or(|a| a == principal.account_id);
    let acl_permits = session_permits && acl_grant != AclGrant::None;
    // `Some(None)`: allowed by an ACL grant, which has no statement to name.
    let grant = if same_account {
        // A grant naming only the account delegates to the account's own
        // policies (AWS): within the account it allows nothing by itself.
        identity_grant
            .or(resource_grant.filter(|_| resource_allow_direct))
            .map(Some)
            .or((acl_permits && acl_grant == AclGrant::Direct).then_some(None))
    } else {
        // Decided by the resource's side, which the caller's account alone lacks.
        identity_grant.and(resource_grant.map(Some).or(acl_permits.then_some(None)))
    };
    match grant {
        Some(found) => decision(true, found),
        None => decision(false, None),
    }
}

enum Scan<'p> {
    Denied(Found<'p>),
    Allowed {
        found: Found<'p>,
        /// The allowing statement names the exact session ARN asked about.
        names_session: bool,
        /// The allowing statement names the caller by more than its account
        /// (`*`, its ARN, its role, a NotPrincipal that leaves it out).
        direct: bool,
    },
    NotApplicable,
}

/// Finds a Deny that applies (which ends the scan) or the first Allow that applies.
/// `deny_only` skips Allow statements (an allow was already found elsewhere).
/// `principal_check` is Some for resource policies; its inner value is the session ARN
/// whose exact naming matters (then the scan goes on looking for such an Allow).
fn scan<'p>(
    name: &'p str,
    policy: &'p Policy,
    context: &Context<'_, '_>,
    deny_only: bool,
    principal_check: Option<Option<&str>>,
) -> Scan<'p> {
    // The best Allow so far, ranked by (names the exact session, names the
    // caller directly); a resource policy's scan goes on until both hold.
    let mut best: Option<(Found<'p>, bool, bool)> = None;
    let session = principal_check.flatten();
    let resource = principal_check.is_some();
    for (index, statement) in policy.statements.iter().enumerate() {
        let is_allow = statement.effect == Effect::Allow;
        if is_allow {
            if deny_only {
                continue;
            }
            if let Some((_, exact, direct)) = best {
                if (exact || session.is_none()) && (direct || !resource) {
                    continue;
                }
            }
        }
        if !statement_applies(statement, context, resource) {
            continue;
        }
        let found = Found {
            policy: name,
            statement,
            index,
        };
        if !is_allow {
            return Scan::Denied(found);
        }
        let exact = session.is_some_and(|arn| names_exactly(statement, arn));
        let direct = !resource || names_directly(statement, context.request.principal);
        if best.is_none_or(|(_, e, d)| (exact, direct) > (e, d)) {
            best = Some((found, exact, direct));
        }
    }
    match best {
        Some((found, names_session, direct)) => Scan::Allowed {
            found,
            names_session,
            direct,
        },
        None => Scan::NotApplicable,
    }
}

/// Whether a resource policy allows the request by itself (any matching
/// Allow, even one naming only the account, and no matching Deny): what a
/// role's trust policy must do for AssumeRole, whatever else allows it.
pub fn resource_policy_allows(request: &Request<'_>) -> bool {
    let Some(policy) = request.resource_policy else {
        return false;
    };
    let mut buffer = [0u8; 128];
    let action_lower = lower_case(request.action, &mut buffer);
    let context = Context {
        request,
        action_lower: &action_lower,
    };
    matches!(
        scan(RESOURCE_POLICY_NAME, policy, &context, false, Some(None)),
        Scan::Allowed { .. }
    )
}

/// Whether a statement that applied names the caller by more than its
/// account: an account id, root ARN or canonical id only delegates.
fn names_directly(statement: &Statement, principal: Option<&Principal>) -> bool {
    match &statement.principals {
        Some(PrincipalMatcher::Principal(names)) => names.iter().any(|n| {
            !matches!(
                n,
                PrincipalName::Account(_) | PrincipalName::CanonicalUser(_)
            ) && names_principal(n, principal)
        }),
        Some(PrincipalMatcher::NotPrincipal(_)) => true,
        None => false,
    }
}

/// Cheapest tests first: action, resource, principal, then conditions.
fn statement_applies(
    statement: &Statement,
    context: &Context<'_, '_>,
    check_principal: bool,
) -> bool {
    let request = context.request;
    if !statement.actions.matches(context.action_lower) {
        return false;
    }
    if let Some(resources) = &statement.resources {
        if !resources.matches(request.resource, context) {
            return false;
        }
    }
    if check_principal {
        let applies = match &statement.principals {
            Some(PrincipalMatcher::Principal(names)) => {
                names.iter().any(|n| names_principal(n, request.principal))
            }
            Some(PrincipalMatcher::NotPrincipal(names)) => {
                !names.iter().any(|n| names_principal(n, request.principal))
            }
            None => false,
        };
        if !applies {
            return false;
        }
    }
    statement.conditions.iter().all(|c| c.holds(context))
}

fn names_principal(name: &PrincipalName, principal: Option<&Principal>) -> bool {
    match (name, principal) {
        (PrincipalName::Any, _) => true,
        (_, None) => false,
        // A token holder is no one of an account: only `Federated` (or `*`) names it.
        (
            PrincipalName::Account(_) | PrincipalName::Arn(_) | PrincipalName::CanonicalUser(_),
            Some(p),
        ) if p.kind == PrincipalKind::WebIdentity => false,
        (PrincipalName::Account(account), Some(p)) => p.account_id == *account,
        // A role ARN names every session of the role.
        (PrincipalName::Arn(arn), Some(p)) => p.arn == *arn || p.role_arn.as_deref() == Some(arn),
        (PrincipalName::CanonicalUser(id), Some(p)) => p.canonical_id == *id,
        // A provider is named by its URL, its URL without the scheme, or its
        // oidc-provider ARN; nothing else names a web identity.
        (PrincipalName::Federated(provider), Some(p)) => {
            p.kind == PrincipalKind::WebIdentity
                && (*provider == p.arn
                    || *provider == p.name
                    || p.name.split_once("://").map(|(_, bare)| bare) == Some(provider.as_str()))
        }
        (PrincipalName::Service(_), Some(_)) => false,
    }
}

fn names_exactly(statement: &Statement, session_arn: &str) -> bool {
    match &statement.principals {
        Some(PrincipalMatcher::Principal(names)) => names
            .iter()
            .any(|n| matches!(n, PrincipalName::Arn(arn) if arn == session_arn)),
        _ => false,
    }
}

/// ASCII lower case of a name, in `buffer` when it fits (action names always do).
fn lower_case<'b>(name: &str, buffer: &'b mut [u8; 128]) -> std::borrow::Cow<'b, str> {
    let Some(target) = buffer.get_mut(..name.len()) else {
        return std::borrow::Cow::Owned(name.to_ascii_lowercase());
    };
    target.copy_from_slice(name.as_bytes());
    target.make_ascii_lowercase();
    // ASCII lower-casing keeps UTF-8 valid.
    match std::str::from_utf8(target) {
        Ok(lower) => std::borrow::Cow::Borrowed(lower),
        Err(_) => std::borrow::Cow::Owned(name.to_ascii_lowercase()),
    }
}

/// The request as policies see it: engine-owned keys, then the caller's facts.
struct Context<'r, 'a> {
    request: &'r Request<'a>,
    action_lower: &'r str,
}

impl Context<'_, '_> {
    /// Some(value) for the keys the engine owns (value None when absent for this
    /// principal); None for keys the caller supplies.
    fn engine_value(&self, key_lower: &str) -> Option<Option<String>> {
        let principal = self.request.principal;
        Some(match key_lower {
            "aws:username" => principal
                .filter(|p| p.kind == PrincipalKind::User && !p.name.is_empty())
                .map(|p| p.name.clone()),
            "aws:userid" => principal.map(|p| p.user_id.clone()),
            "aws:principaltype" => Some(
                match principal.map(|p| p.kind) {
                    None => "Anonymous",
                    Some(PrincipalKind::SystemRoot) => "Account",
                    Some(PrincipalKind::User) => "User",
                    Some(PrincipalKind::AssumedRole) => "AssumedRole",
                    Some(PrincipalKind::WebIdentity) => "WebIdentityUser",
                }
                .to_owned(),
            ),
            // AWS gives a role session's role ARN, not the session's.
            "aws:principalarn" => principal.map(|p| match (p.kind, &p.role_arn) {
                (PrincipalKind::AssumedRole, Some(role)) => role.clone(),
                _ => p.arn.clone(),
            }),
            "aws:principalaccount" => principal.map(|p| p.account_id.clone()),
            "aws:currenttime" => Some(format_iso8601(self.request.now_ms)),
            "aws:epochtime" => Some((self.request.now_ms / 1000).to_string()),
            _ => return None,
        })
    }
}

impl VariableSource for Context<'_, '_> {
    fn variable(&self, key_lower: &str) -> Option<String> {
        if let Some(value) = self.engine_value(key_lower) {
            return value;
        }
        // A multi-valued key has no single value to substitute.
        let mut values = self.request.facts.values(key_lower)?;
        if values.len() == 1 {
            values.pop()
        } else {
            None
        }
    }
}

impl ConditionContext for Context<'_, '_> {
    fn key_values(&self, key_lower: &str) -> Option<Vec<String>> {
        match self.engine_value(key_lower) {
            Some(value) => value.map(|v| vec![v]),
            None => self.request.facts.values(key_lower),
        }
    }
}
