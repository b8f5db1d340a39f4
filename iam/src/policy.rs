//! The policy grammar: parsing and validating identity, bucket, trust and session policy
//! documents into a [`Policy`] whose patterns are ready to evaluate, with AWS's error texts.
//!
//! Follows AWS's "IAM JSON policy elements" reference and the checks S3's PutBucketPolicy
//! and IAM's policy APIs make, each failing with the wording the service uses.

use crate::actions::{known_actions, S3Scope, S3_ACTIONS, TRUST_POLICY_ACTIONS};
use crate::arn::{is_account_id, Arn};
use crate::condition::{is_operator, Condition};
use crate::pattern::{Pattern, Syntax};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::fmt;

/// Which document a policy is: it decides which elements are required or refused and
/// which service's error texts are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// IAM user, group and role policies, inline or managed.
    Identity,
    /// An S3 bucket policy.
    Bucket,
    /// A role's trust (assume-role) policy.
    Trust,
    /// A session policy passed to AssumeRole or GetFederationToken.
    Session,
}

/// The only error of this crate: a refused policy document, with AWS's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

/// A principal named in a Principal or NotPrincipal element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrincipalName {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous included.
    Any,
    /// Every principal of an account: `"123456789012"` or `arn:aws:iam::123456789012:root`.
    Account(String),
    /// A user, role or assumed-role session ARN.
    Arn(String),
    CanonicalUser(String),
    Service(String),
    Federated(String),
}

/// The policy language version; variables exist only in 2012-10-17.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyVersion {
    V2008_10_17,
    V2012_10_17,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// Action or NotAction, lower-cased, without variables.
#[derive(Debug, Clone)]
pub(crate) struct ActionMatcher {
    negated: bool,
    patterns: Vec<Pattern>,
}

impl ActionMatcher {
    /// `action_lower`: the request's action in ASCII lower case, as the patterns are.
    pub(crate) fn matches(&self, action_lower: &str) -> bool {
        self.patterns
            .iter()
            .any(|p| p.matches_plain(action_lower, false))
            != self.negated
    }
}

/// Resource or NotResource.
#[derive(Debug, Clone)]
pub(crate) struct ResourceMatcher {
    negated: bool,
    patterns: Vec<Pattern>,
}

impl ResourceMatcher {
    /// A pattern whose variable has no value matches nothing; for NotResource that
    /// makes the statement not apply at all (None), as AWS does.
    pub(crate) fn matches(
        &self,
        resource: &str,
        source: &dyn crate::pattern::VariableSource,
    ) -> bool {
        let mut any = false;
        for pattern in &self.patterns {
            match pattern.matches(resource, source) {
                Some(true) => {
                    any = true;
                    break;
                }
                Some(false) => {}
                None if self.negated => return false,
                None => {}
            }
        }
        any != self.negated
    }
}

#[derive(Debug, Clone)]
pub(crate) enum PrincipalMatcher {
    Principal(Vec<PrincipalName>),
    NotPrincipal(Vec<PrincipalName>),
}

#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principals: Option<PrincipalMatcher>,
    pub actions: ActionMatcher,
    /// None in trust policies, which have no Resource: the statement covers the role.
    pub resources: Option<ResourceMatcher>,
    pub conditions: Vec<Condition>,
}

/// A parsed, validated policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    kind: PolicyKind,
    version: PolicyVersion,
    id: Option<String>,
    pub(crate) statements: Vec<Statement>,
    /// Every condition key and variable key the policy uses (lower case).
    referenced_keys: Vec<Box<str>>,
}

/// The condition keys that, pinned to fixed values, make a grant to `*` non-public
/// (S3's "The meaning of public").
const NON_PUBLIC_KEYS: &[&str] = &[
    "aws:sourceip",
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:principalaccount",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalarn",
    "aws:userid",
    "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
];

impl Policy {
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    pub fn version(&self) -> PolicyVersion {
        self.version
    }

    /// The top-level Id, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// Principals the policy names (for the caller to check they exist), in document
    /// order without repetition.
    pub fn named_principals(&self) -> Vec<PrincipalName> {
        let mut seen = HashSet::new();
        let mut names = Vec::new();
        for statement in &self.statements {
            let list = match &statement.principals {
                Some(PrincipalMatcher::Principal(list))
                | Some(PrincipalMatcher::NotPrincipal(list)) => list,
                None => continue,
            };
            for name in list {
                if seen.insert(name.clone()) {
                    names.push(name.clone());
                }
            }
        }
        names
    }

    /// Whether any Condition key (or variable) starts with this lower-case prefix
    /// (e.g. "s3:existingobjecttag/"), so the caller computes expensive facts only
    /// when a policy needs them.
    pub fn references_condition_key_prefix(&self, prefix_lower: &str) -> bool {
        self.referenced_keys
            .iter()
            .any(|k| k.starts_with(prefix_lower))
    }

    /// S3's "The meaning of public": some Allow statement grants to a wildcard principal
    /// (`*`, `{"AWS":"*"}`, or any NotPrincipal) without a condition pinning one of the
    /// caller-identifying keys (aws:SourceIp, aws:SourceArn, aws:SourceVpc(e),
    /// aws:SourceAccount, aws:SourceOwner, aws:PrincipalAccount, aws:PrincipalOrgID,
    /// aws:PrincipalArn, aws:userid, s3:DataAccessPointArn, ...) to fixed values.
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|statement| {
            let wildcard = match &statement.principals {
                Some(PrincipalMatcher::Principal(list)) => list.contains(&PrincipalName::Any),
                Some(PrincipalMatcher::NotPrincipal(_)) => true,
                None => false,
            };
            statement.effect == Effect::Allow
                && wildcard
                && !statement.conditions.iter().any(|c| {
                    NON_PUBLIC_KEYS.contains(&c.key_lower()) && c.pins_key_to_fixed_values()
                })
        })
    }

    /// S3 refuses a bucket policy whose resources lie outside the bucket it is put on
    /// ("Policy has invalid resource"); the bucket name is not part of the document, so
    /// the caller runs this check after [`parse_policy`].
    pub fn check_bucket_resources(&self, bucket: &str) -> Result<(), PolicyError> {
        let syntax = Syntax {
            wildcards: true,
            variables: false,
        };
        for statement in &self.statements {
            let Some(resources) = &statement.resources else {
                continue;
            };
            for pattern in &resources.patterns {
                let in_bucket = Arn::parse(pattern.source()).is_some_and(|arn| {
                    let bucket_part = arn.resource.split('/').next().unwrap_or("");
                    Pattern::parse(bucket_part, syntax).matches_plain(bucket, false)
                });
                if !in_bucket {
                    return Err(
                        Problem::InvalidResource(pattern.source()).into_error(PolicyKind::Bucket)
                    );
                }
            }
        }
        Ok(())
    }
}

/// Why a document is refused; turned into the wording of the service that parses it.
#[derive(Debug)]
pub(crate) enum Problem<'a> {
    NotAnObject,
    InvalidJson,
    UnknownField(&'a str),
    InvalidVersion,
    MissingStatement,
    InvalidStatement,
    InvalidSid,
    DuplicateSid,
    MissingEffect,
    InvalidEffect(&'a str),
    PrincipalNotAllowed,
    MissingPrincipal,
    InvalidPrincipal(String),
    MissingAction,
    ActionAndNotAction,
    ActionWithoutVendor,
    InvalidAction(&'a str),
    TrustActionNotAllowed,
    MissingResource,
    ResourceAndNotResource,
    InvalidResource(&'a str),
    ResourceNotAllowed,
    LegacyParsing,
    ActionDoesNotApply,
    InvalidConditionType(&'a str),
    InvalidConditionKey,
    InvalidConditionValue { operator: &'a str, value: String },
    InvalidCondition,
}

const IAM_SYNTAX_ERROR: &str = "Syntax errors in policy.";

impl Problem<'_> {
    pub(crate) fn into_error(self, kind: PolicyKind) -> PolicyError {
        let s3 = kind == PolicyKind::Bucket;
        let pick = |s3_text: &str, iam_text: &str| {
            if s3 {
                s3_text.to_owned()
            } else {
                iam_text.to_owned()
            }
        };
        let message = match self {
            Problem::NotAnObject => pick("Policies must be valid JSON and the first byte must be '{'", IAM_SYNTAX_ERROR),
            Problem::InvalidJson => pick("This policy contains invalid Json", IAM_SYNTAX_ERROR),
            Problem::UnknownField(field) if s3 => format!("Unknown field {field}"),
            Problem::UnknownField(field) => format!("{IAM_SYNTAX_ERROR} Unknown field {field}"),
            Problem::InvalidVersion => "The policy must contain a valid version string".to_owned(),
            Problem::MissingStatement => pick("Missing required field Statement", IAM_SYNTAX_ERROR),
            Problem::InvalidStatement => pick("This policy contains invalid Json", IAM_SYNTAX_ERROR),
            Problem::InvalidSid => pick(
                "This policy contains invalid Json",
                "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
            ),
            Problem::DuplicateSid => "Statement IDs (SID) in a single policy must be unique.".to_owned(),
            Problem::MissingEffect => pick("Missing required field Effect", IAM_SYNTAX_ERROR),
            Problem::InvalidEffect(effect) if s3 => format!("Invalid effect: {effect}"),
            Problem::InvalidEffect(_) => IAM_SYNTAX_ERROR.to_owned(),
            Problem::PrincipalNotAllowed => "Policy document should not specify a principal.".to_owned(),
            Problem::MissingPrincipal => "Missing required field Principal".to_owned(),
            Problem::InvalidPrincipal(_) if s3 => "Invalid principal in policy".to_owned(),
            Problem::InvalidPrincipal(principal) => format!("Invalid principal in policy: {principal}"),
            Problem::MissingAction => pick("Missing required field Action", "Policy statement must contain actions."),
            Problem::ActionAndNotAction => pick("Policy has invalid action", IAM_SYNTAX_ERROR),
            Problem::ActionWithoutVendor => pick(
                "Policy has invalid action",
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
            ),
            Problem::InvalidAction(_) if s3 => "Policy has invalid action".to_owned(),
            Problem::InvalidAction(action) => format!("Invalid Action: {action}"),
            Problem::TrustActionNotAllowed => "AssumeRole policy may only specify STS AssumeRole actions.".to_owned(),
            Problem::MissingResource => pick("Missing required field Resource", "Policy statement must contain resources."),
            Problem::ResourceAndNotResource => pick("Policy has invalid resource", IAM_SYNTAX_ERROR),
            Problem::InvalidResource(_) if s3 => "Policy has invalid resource".to_owned(),
            Problem::InvalidResource(resource) => format!("Resource {resource} must be in ARN format or \"*\"."),
            Problem::ResourceNotAllowed => "Has prohibited field Resource".to_owned(),
            Problem::LegacyParsing => pick("Policy has invalid resource", "The policy failed legacy parsing"),
            Problem::ActionDoesNotApply => "Action does not apply to any resource(s) in statement".to_owned(),
            Problem::InvalidConditionType(operator) => format!("Invalid Condition type : {operator}"),
            Problem::InvalidConditionKey => pick(
                "Policy has an invalid condition key",
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
            ),
            Problem::InvalidConditionValue { operator, value } => {
                format!("Invalid Condition value for {operator}: {value}")
            }
            Problem::InvalidCondition => pick("Policy has an invalid condition", IAM_SYNTAX_ERROR),
        };
        PolicyError { message }
    }
}

/// Parses and validates a policy document of the given kind.
pub fn parse_policy(document: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
    let value = read_json(document).map_err(|p| p.into_error(kind))?;
    let Value::Object(top) = &value else {
        return Err(Problem::NotAnObject.into_error(kind));
    };
    parse_document(top, kind).map_err(|p| p.into_error(kind))
}

fn read_json(document: &str) -> Result<Value, Problem<'static>> {
    // Leading whitespace (a newline from a file) is tolerated; anything else before the
    // object is not.
    if !document.trim_start().starts_with('{') {
        return Err(Problem::NotAnObject);
    }
    serde_json::from_str(document).map_err(|_| Problem::InvalidJson)
}

fn parse_document(top: &Map<String, Value>, kind: PolicyKind) -> Result<Policy, Problem<'_>> {
    if let Some(field) = top
        .keys()
        .find(|k| !matches!(k.as_str(), "Version" | "Id" | "Statement"))
    {
        return Err(Problem::UnknownField(field));
    }
    let version = match top.get("Version") {
        None => PolicyVersion::V2008_10_17,
        Some(Value::String(v)) if v == "2012-10-17" => PolicyVersion::V2012_10_17,
        Some(Value::String(v)) if v == "2008-10-17" => PolicyVersion::V2008_10_17,
        Some(_) => return Err(Problem::InvalidVersion),
    };
    let id = match top.get("Id") {
        None => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(Problem::InvalidStatement),
    };
    let statement_values: Vec<&Value> = match top.get("Statement") {
        None => return Err(Problem::MissingStatement),
        Some(Value::Array(items)) if items.is_empty() => return Err(Problem::MissingStatement),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        Some(_) => return Err(Problem::InvalidStatement),
    };
    let mut statements = Vec::with_capacity(statement_values.len());
    let mut sids = HashSet::new();
    for value in statement_values {
        let Value::Object(fields) = value else {
            return Err(Problem::InvalidStatement);
        };
        let statement = parse_statement(fields, kind, version)?;
        if let Some(sid) = &statement.sid {
            let unique_required = matches!(kind, PolicyKind::Identity | PolicyKind::Bucket);
            if unique_required && !sid.is_empty() && !sids.insert(sid.clone()) {
                return Err(Problem::DuplicateSid);
            }
        }
        statements.push(statement);
    }
    let mut referenced_keys: Vec<Box<str>> = Vec::new();
    for statement in &statements {
        let condition_keys = statement
            .conditions
            .iter()
            .flat_map(|c| std::iter::once(c.key_lower()).chain(c.variable_keys()));
        let variable_keys = statement
            .resources
            .iter()
            .flat_map(|r| r.patterns.iter().flat_map(|p| p.variable_keys()));
        for key in condition_keys.chain(variable_keys) {
            if !referenced_keys.iter().any(|k| &**k == key) {
                referenced_keys.push(key.into());
            }
        }
    }
    Ok(Policy {
        kind,
        version,
        id,
        statements,
        referenced_keys,
    })
}

const STATEMENT_FIELDS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

fn parse_statement<'a>(
    fields: &'a Map<String, Value>,
    kind: PolicyKind,
    version: PolicyVersion,
) -> Result<Statement, Problem<'a>> {
    if let Some(field) = fields
        .keys()
        .find(|k| !STATEMENT_FIELDS.contains(&k.as_str()))
    {
        return Err(Problem::UnknownField(field));
    }
    let sid = match fields.get("Sid") {
        None => None,
        Some(Value::String(sid)) => {
            // IAM documents allow only letters and digits; S3 allows any text.
            if kind != PolicyKind::Bucket && !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(Problem::InvalidSid);
            }
            Some(sid.clone())
        }
        Some(_) => return Err(Problem::InvalidSid),
    };
    let effect = match fields.get("Effect") {
        None => return Err(Problem::MissingEffect),
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(Value::String(e)) => return Err(Problem::InvalidEffect(e)),
        Some(_) => return Err(Problem::InvalidEffect("")),
    };
    let principals = parse_principals(fields, kind)?;
    let actions = parse_actions(fields, kind)?;
    let variables = version == PolicyVersion::V2012_10_17;
    let resources = parse_resources(fields, kind, variables)?;
    if kind == PolicyKind::Bucket {
        check_actions_apply(&actions, resources.as_ref())?;
    }
    let conditions = parse_conditions(fields.get("Condition"), variables)?;
    Ok(Statement {
        sid,
        effect,
        principals,
        actions,
        resources,
        conditions,
    })
}

/// A string or a non-empty array of strings; None when the shape is wrong.
fn string_list(value: &Value) -> Option<Vec<&str>> {
    match value {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(items) if !items.is_empty() => items.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

fn parse_principals(
    fields: &Map<String, Value>,
    kind: PolicyKind,
) -> Result<Option<PrincipalMatcher>, Problem<'_>> {
    let principal = fields.get("Principal");
    let not_principal = fields.get("NotPrincipal");
    match kind {
        PolicyKind::Identity | PolicyKind::Session => {
            if principal.is_some() || not_principal.is_some() {
                return Err(Problem::PrincipalNotAllowed);
            }
            Ok(None)
        }
        PolicyKind::Bucket | PolicyKind::Trust => match (principal, not_principal) {
            (None, None) => Err(Problem::MissingPrincipal),
            (Some(_), Some(_)) => Err(Problem::InvalidPrincipal(
                "Principal and NotPrincipal".into(),
            )),
            (Some(value), None) => Ok(Some(PrincipalMatcher::Principal(principal_names(value)?))),
            (None, Some(value)) => Ok(Some(PrincipalMatcher::NotPrincipal(principal_names(
                value,
            )?))),
        },
    }
}

fn principal_names(value: &Value) -> Result<Vec<PrincipalName>, Problem<'_>> {
    let invalid = |text: String| Problem::InvalidPrincipal(text);
    let entries = match value {
        Value::String(s) if s == "*" => return Ok(vec![PrincipalName::Any]),
        Value::Object(entries) if !entries.is_empty() => entries,
        other => return Err(invalid(other.to_string())),
    };
    let mut names = Vec::new();
    for (principal_type, ids) in entries {
        let ids = string_list(ids).ok_or_else(|| invalid(format!("\"{principal_type}\":{ids}")))?;
        for id in ids {
            let name = match principal_type.as_str() {
                "AWS" => aws_principal(id),
                "CanonicalUser" => (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| PrincipalName::CanonicalUser(id.to_owned())),
                "Service" => (!id.is_empty() && !id.contains('*'))
                    .then(|| PrincipalName::Service(id.to_owned())),
                "Federated" => (!id.is_empty() && !id.contains('*'))
                    .then(|| PrincipalName::Federated(id.to_owned())),
                _ => None,
            };
            names.push(name.ok_or_else(|| invalid(format!("\"{principal_type}\":\"{id}\"")))?);
        }
    }
    Ok(names)
}

/// An `AWS` principal: `*`, an account id, an account's root ARN, or a user, role or
/// assumed-role ARN (no wildcards: AWS allows `*` only on its own).
fn aws_principal(id: &str) -> Option<PrincipalName> {
    if id == "*" {
        return Some(PrincipalName::Any);
    }
    if is_account_id(id) {
        return Some(PrincipalName::Account(id.to_owned()));
    }
    let arn = Arn::parse(id)?;
    if id.contains(['*', '?']) || !arn.region.is_empty() || !is_account_id(arn.account) {
        return None;
    }
    let (resource_type, name) = arn.resource.split_once('/').unwrap_or((arn.resource, ""));
    let valid = match (arn.service, resource_type) {
        ("iam", "root") if name.is_empty() => {
            return Some(PrincipalName::Account(arn.account.to_owned()))
        }
        ("iam", "user" | "role") => !name.is_empty() && !name.ends_with('/'),
        ("sts", "assumed-role") => name
            .split_once('/')
            .is_some_and(|(r, s)| !r.is_empty() && !s.is_empty()),
        _ => false,
    };
    valid.then(|| PrincipalName::Arn(id.to_owned()))
}

fn parse_actions(
    fields: &Map<String, Value>,
    kind: PolicyKind,
) -> Result<ActionMatcher, Problem<'_>> {
    let (negated, value) = match (fields.get("Action"), fields.get("NotAction")) {
        (Some(_), Some(_)) => return Err(Problem::ActionAndNotAction),
        (None, None) => return Err(Problem::MissingAction),
        (Some(value), None) => (false, value),
        (None, Some(value)) => (true, value),
    };
    let invalid_shape = || match kind {
        PolicyKind::Bucket => Problem::InvalidAction(""),
        _ => Problem::MissingAction,
    };
    let texts = string_list(value).ok_or_else(invalid_shape)?;
    let syntax = Syntax {
        wildcards: true,
        variables: false,
    };
    let mut patterns = Vec::with_capacity(texts.len());
    for text in texts {
        let pattern = Pattern::parse(&text.to_ascii_lowercase(), syntax);
        validate_action(text, &pattern, kind)?;
        patterns.push(pattern);
    }
    Ok(ActionMatcher { negated, patterns })
}

fn validate_action<'a>(
    text: &'a str,
    pattern: &Pattern,
    kind: PolicyKind,
) -> Result<(), Problem<'a>> {
    if kind == PolicyKind::Trust {
        let any = TRUST_POLICY_ACTIONS
            .iter()
            .any(|name| pattern.matches_plain(&format!("sts:{name}"), true));
        return if any {
            Ok(())
        } else {
            Err(Problem::TrustActionNotAllowed)
        };
    }
    if text == "*" {
        return Ok(());
    }
    let Some((vendor, name)) = text.split_once(':') else {
        return Err(Problem::ActionWithoutVendor);
    };
    let vendor_valid = !vendor.is_empty()
        && vendor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !vendor_valid || name.is_empty() {
        return Err(Problem::ActionWithoutVendor);
    }
    let vendor = vendor.to_ascii_lowercase();
    if kind == PolicyKind::Bucket && vendor != "s3" {
        return Err(Problem::InvalidAction(text));
    }
    if let Some(mut known) = known_actions(&vendor) {
        let name_pattern = Pattern::parse(
            &name.to_ascii_lowercase(),
            Syntax {
                wildcards: true,
                variables: false,
            },
        );
        if !known.any(|k| name_pattern.matches_plain(k, true)) {
            return Err(Problem::InvalidAction(text));
        }
    }
    Ok(())
}

fn parse_resources(
    fields: &Map<String, Value>,
    kind: PolicyKind,
    variables: bool,
) -> Result<Option<ResourceMatcher>, Problem<'_>> {
    let (negated, value) = match (fields.get("Resource"), fields.get("NotResource")) {
        (Some(_), Some(_)) => return Err(Problem::ResourceAndNotResource),
        (Some(_), None) | (None, Some(_)) if kind == PolicyKind::Trust => {
            return Err(Problem::ResourceNotAllowed)
        }
        (None, None) if kind == PolicyKind::Trust => return Ok(None),
        (None, None) => return Err(Problem::MissingResource),
        (Some(value), None) => (false, value),
        (None, Some(value)) => (true, value),
    };
    let texts = string_list(value).ok_or(match value {
        Value::String(_) | Value::Array(_) => Problem::InvalidResource(""),
        _ => Problem::MissingResource,
    })?;
    let syntax = Syntax {
        wildcards: true,
        variables,
    };
    let mut patterns = Vec::with_capacity(texts.len());
    for text in texts {
        match kind {
            PolicyKind::Bucket => {
                let valid = Arn::parse(text).is_some_and(|arn| {
                    arn.service == "s3"
                        && arn.region.is_empty()
                        && arn.account.is_empty()
                        && !arn.resource.is_empty()
                });
                if !valid {
                    return Err(Problem::InvalidResource(text));
                }
            }
            // IAM tells a text that is no ARN at all from an ARN missing parts, which
            // its older parser reports.
            _ if text == "*" || Arn::parse(text).is_some() => {}
            _ if text.starts_with("arn:") => return Err(Problem::LegacyParsing),
            _ => return Err(Problem::InvalidResource(text)),
        }
        patterns.push(Pattern::parse(text, syntax));
    }
    Ok(Some(ResourceMatcher { negated, patterns }))
}

/// S3 refuses a statement none of whose actions applies to any of its resources: object
/// actions need `bucket/key` ARNs, bucket actions need bucket ARNs.
fn check_actions_apply(
    actions: &ActionMatcher,
    resources: Option<&ResourceMatcher>,
) -> Result<(), Problem<'static>> {
    let Some(resources) = resources else {
        return Ok(());
    };
    if actions.negated || resources.negated {
        return Ok(());
    }
    let (mut object_actions, mut bucket_actions) = (false, false);
    for (name, scope) in S3_ACTIONS {
        if actions
            .patterns
            .iter()
            .any(|p| p.matches_plain(&format!("s3:{name}"), true))
        {
            match scope {
                S3Scope::Object => object_actions = true,
                S3Scope::Bucket => bucket_actions = true,
                S3Scope::Other => {}
            }
        }
    }
    let (mut object_resources, mut bucket_resources) = (false, false);
    for pattern in &resources.patterns {
        let resource = Arn::parse(pattern.source()).map_or("", |arn| arn.resource);
        if resource.contains('/') {
            object_resources = true;
        } else if pattern.has_wildcards() {
            // `arn:aws:s3:::bucket*` also covers `bucket-a/key`.
            object_resources = true;
            bucket_resources = true;
        } else {
            bucket_resources = true;
        }
    }
    if (object_actions && object_resources) || (bucket_actions && bucket_resources) {
        Ok(())
    } else {
        Err(Problem::ActionDoesNotApply)
    }
}

fn parse_conditions(block: Option<&Value>, variables: bool) -> Result<Vec<Condition>, Problem<'_>> {
    let Some(block) = block else {
        return Ok(Vec::new());
    };
    let Value::Object(operators) = block else {
        return Err(Problem::InvalidCondition);
    };
    let mut conditions = Vec::new();
    for (operator, keys) in operators {
        let Value::Object(keys) = keys else {
            // An unknown operator is reported before the shape of its block, as AWS does.
            if !is_operator(operator) {
                return Err(Problem::InvalidConditionType(operator));
            }
            return Err(Problem::InvalidCondition);
        };
        if keys.is_empty() {
            return Err(Problem::InvalidCondition);
        }
        for (key, values) in keys {
            conditions.push(Condition::parse(operator, key, values, variables)?);
        }
    }
    Ok(conditions)
}
