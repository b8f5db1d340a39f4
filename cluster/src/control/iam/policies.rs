//! Managed policies (Create/Get/List/DeletePolicy, versions) and the inline
//! and attached policies every user, group and role holds (`holder_call`,
//! shared by `users`, `groups` and `roles`). A handful of AWS-managed
//! policies exist in every account, read-only, under `arn:aws:iam::aws:`.

use std::collections::HashMap;

use s3::query::{QueryError, XmlNode};

use super::{
    already_exists, delete_conflict, encode_document, limit_exceeded, no_such_entity, page,
    path_param, service_failure, timestamp, validate_document, validate_name, Call, CallResult,
    Outcome, POLICIES_PER_ACCOUNT_MAX,
};
use crate::directory::{
    GroupRecord, ManagedPolicyRecord, PolicyHolder, PolicyVersionRecord, Record, RecordChange,
    RoleRecord, UserRecord,
};

/// IAM's limits.
const MANAGED_POLICY_CHARS_MAX: usize = 6144;
const POLICY_VERSIONS_MAX: usize = 5;
const ATTACHED_POLICIES_MAX: usize = 10;
const POLICY_NAME_CHARS_MAX: usize = 128;

/// AWS-managed policies every account can attach: name and document.
pub(crate) const AWS_MANAGED_POLICIES: &[(&str, &str)] = &[
    (
        "AdministratorAccess",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "AmazonS3FullAccess",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","s3-object-lambda:*"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonS3ReadOnlyAccess",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*","s3:Describe*","s3-object-lambda:Get*","s3-object-lambda:List*"],"Resource":"*"}]}"#,
    ),
    (
        "IAMFullAccess",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy","organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "IAMReadOnlyAccess",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:GenerateServiceLastAccessedDetails","iam:Get*","iam:List*","iam:SimulateCustomPolicy","iam:SimulatePrincipalPolicy"],"Resource":"*"}]}"#,
    ),
    // The admin API's roles (see `crate::control::tenants`): built-in
    // managed policies, evaluated by the same engine as every other policy.
    (
        crate::control::tenants::ROLE_SYSTEM_ADMIN_POLICY,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        crate::control::tenants::ROLE_TENANT_ADMIN_POLICY,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","iam:*","sts:*"],"Resource":"*"},{"Effect":"Allow","Action":["admin:GetTenant","admin:ListUsers","admin:GetUser","admin:CreateUser","admin:UpdateUser","admin:DeleteUser","admin:ListKeys","admin:CreateKey","admin:DeleteKey","admin:ListBuckets","admin:GetBucket","admin:PutBucketQuota","admin:GetUsage","admin:GetAudit","admin:ListIdentityProviders","admin:GetIdentityProvider","admin:CreateIdentityProvider","admin:UpdateIdentityProvider","admin:DeleteIdentityProvider","admin:ListKmsKeys","admin:GetKmsKey","admin:CreateKmsKey","admin:UpdateKmsKey","admin:RotateKmsKey","admin:ListNotificationTargets","admin:GetNotificationTarget"],"Resource":"arn:aws:admin:::tenant/${aws:PrincipalAccount}"}]}"#,
    ),
    (
        crate::control::tenants::ROLE_USER_POLICY,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    ),
    (
        crate::control::tenants::ROLE_READ_ONLY_POLICY,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"},{"Effect":"Allow","Action":["admin:GetTenant","admin:ListBuckets","admin:GetBucket","admin:GetUsage"],"Resource":"arn:aws:admin:::tenant/${aws:PrincipalAccount}"}]}"#,
    ),
];

pub(crate) const AWS_MANAGED_PREFIX: &str = "arn:aws:iam::aws:policy/";

/// The document of an AWS-managed policy, by ARN.
pub(crate) fn aws_managed_policy(arn: &str) -> Option<&'static str> {
    let name = arn.strip_prefix(AWS_MANAGED_PREFIX)?;
    AWS_MANAGED_POLICIES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, document)| *document)
}

pub(super) fn execute(call: &Call<'_>, action: &str) -> Option<CallResult> {
    let outcome = match action {
        "CreatePolicy" => create_policy(call),
        "GetPolicy" => get_policy(call),
        "ListPolicies" => list_policies(call),
        "DeletePolicy" => delete_policy(call),
        "CreatePolicyVersion" => create_policy_version(call),
        "GetPolicyVersion" => get_policy_version(call),
        "ListPolicyVersions" => list_policy_versions(call),
        "DeletePolicyVersion" => delete_policy_version(call),
        "SetDefaultPolicyVersion" => set_default_policy_version(call),
        _ => return None,
    };
    Some(outcome)
}

/// A managed policy the caller's account can name: its own, or AWS's.
enum Resolved {
    Own(ManagedPolicyRecord),
    Aws(&'static str, &'static str),
}

/// Only the system's root makes (or unmakes) system admins: a tenant admin
/// may manage its own users, never lift one above its tenant, nor demote
/// one of the system's.
fn guard_system_admin_policy(call: &Call<'_>, arn: &str) -> Result<(), QueryError> {
    let system_admin = format!(
        "{AWS_MANAGED_PREFIX}{}",
        crate::control::tenants::ROLE_SYSTEM_ADMIN_POLICY
    );
    if arn == system_admin && call.caller.principal.kind != iam::PrincipalKind::SystemRoot {
        return Err(QueryError::new(
            "AccessDenied",
            403,
            format!("Only the root may attach or detach {arn}."),
        ));
    }
    Ok(())
}

/// Finds the policy an ARN names in the caller's account.
fn resolve(call: &Call<'_>, arn: &str) -> Result<Resolved, QueryError> {
    let missing = || no_such_entity(format!("Policy {arn} does not exist or is not attachable."));
    if let Some(name) = arn.strip_prefix(AWS_MANAGED_PREFIX) {
        return AWS_MANAGED_POLICIES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(name, document)| Resolved::Aws(name, document))
            .ok_or_else(missing);
    }
    let own_prefix = format!("arn:aws:iam::{}:policy/", call.account);
    let rest = arn.strip_prefix(&own_prefix).ok_or_else(|| {
        if arn.starts_with("arn:") {
            missing()
        } else {
            QueryError::new("InvalidInput", 400, format!("ARN {arn} is not valid."))
        }
    })?;
    let name = rest.rsplit('/').next().unwrap_or(rest);
    let policy = call
        .catalog
        .record::<ManagedPolicyRecord>(&call.account, name)
        .map_err(service_failure)?
        .ok_or_else(missing)?;
    if call.policy_arn(&policy.path, &policy.name) != arn {
        return Err(missing());
    }
    Ok(Resolved::Own(policy))
}

fn own(call: &Call<'_>, arn: &str) -> Result<ManagedPolicyRecord, QueryError> {
    match resolve(call, arn)? {
        Resolved::Own(policy) => Ok(policy),
        Resolved::Aws(..) => Err(QueryError::access_denied(
            "AWS-managed policies cannot be changed.",
        )),
    }
}

/// How many users, groups and roles have each managed policy attached, by
/// ARN: one pass over the account's records, however many policies a list
/// shows.
fn attachment_counts(call: &Call<'_>) -> Result<HashMap<String, usize>, QueryError> {
    let users = call
        .catalog
        .records::<UserRecord>(&call.account)
        .map_err(service_failure)?;
    let groups = call
        .catalog
        .records::<GroupRecord>(&call.account)
        .map_err(service_failure)?;
    let roles = call
        .catalog
        .records::<RoleRecord>(&call.account)
        .map_err(service_failure)?;
    let holders = users
        .iter()
        .map(|u| &u.policies)
        .chain(groups.iter().map(|g| &g.policies))
        .chain(roles.iter().map(|r| &r.policies));
    let mut counts = HashMap::new();
    for holder in holders {
        for arn in &holder.attached {
            *counts.entry(arn.clone()).or_insert(0) += 1;
        }
    }
    Ok(counts)
}

/// How many users, groups and roles have `arn` attached.
fn attachment_count(call: &Call<'_>, arn: &str) -> Result<usize, QueryError> {
    Ok(attachment_counts(call)?.get(arn).copied().unwrap_or(0))
}

fn policy_node(call: &Call<'_>, policy: &Resolved, attachments: usize) -> Vec<XmlNode> {
    match policy {
        Resolved::Own(policy) => {
            let mut nodes = vec![
                XmlNode::text("PolicyName", &policy.name),
                XmlNode::text("PolicyId", &policy.id),
                XmlNode::text("Arn", call.policy_arn(&policy.path, &policy.name)),
                XmlNode::text("Path", &policy.path),
                XmlNode::text("DefaultVersionId", &policy.default_version),
                XmlNode::text("AttachmentCount", attachments.to_string()),
                XmlNode::text("PermissionsBoundaryUsageCount", "0"),
                XmlNode::boolean("IsAttachable", true),
            ];
            if !policy.description.is_empty() {
                nodes.push(XmlNode::text("Description", &policy.description));
            }
            nodes.push(XmlNode::text("CreateDate", timestamp(policy.created_ms)));
            nodes.push(XmlNode::text("UpdateDate", timestamp(policy.updated_ms)));
            nodes
        }
        Resolved::Aws(name, _) => vec![
            XmlNode::text("PolicyName", *name),
            XmlNode::text("PolicyId", format!("ANPAAWS{}", name.len())),
            XmlNode::text("Arn", format!("{AWS_MANAGED_PREFIX}{name}")),
            XmlNode::text("Path", "/"),
            XmlNode::text("DefaultVersionId", "v1"),
            XmlNode::text("AttachmentCount", attachments.to_string()),
            XmlNode::text("PermissionsBoundaryUsageCount", "0"),
            XmlNode::boolean("IsAttachable", true),
            XmlNode::text("CreateDate", timestamp(0)),
            XmlNode::text("UpdateDate", timestamp(0)),
        ],
    }
}

fn create_policy(call: &Call<'_>) -> CallResult {
    let name = call.request.required("PolicyName")?;
    validate_name("policyName", name, POLICY_NAME_CHARS_MAX)?;
    let document = call.request.required("PolicyDocument")?;
    let path = path_param(call.request)?;
    let arn = call.policy_arn(&path, name);
    call.authorize("iam:CreatePolicy", &arn)?;
    let description = call.request.param("Description").unwrap_or("");
    if description.chars().count() > 1000 {
        return Err(QueryError::validation(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: \
             Member must have length less than or equal to 1000",
        ));
    }
    validate_document(
        document,
        iam::PolicyKind::Identity,
        MANAGED_POLICY_CHARS_MAX,
        &format!("policy {name}"),
    )?;
    let existing = call
        .catalog
        .records::<ManagedPolicyRecord>(&call.account)
        .map_err(service_failure)?;
    if existing.iter().any(|p| p.name.eq_ignore_ascii_case(name)) {
        return Err(already_exists(format!(
            "A policy called {name} already exists. Duplicate names are not allowed."
        )));
    }
    if existing.len() >= POLICIES_PER_ACCOUNT_MAX {
        return Err(limit_exceeded(format!(
            "Cannot exceed quota for PoliciesPerAccount: {POLICIES_PER_ACCOUNT_MAX}"
        )));
    }
    let policy = ManagedPolicyRecord {
        name: name.to_owned(),
        path,
        id: crate::credentials::random_id("ANPA"),
        description: description.to_owned(),
        created_ms: call.now_ms,
        updated_ms: call.now_ms,
        default_version: "v1".into(),
        next_version: 2,
        versions: vec![PolicyVersionRecord {
            id: "v1".into(),
            document: document.to_owned(),
            created_ms: call.now_ms,
        }],
    };
    call.write(&[RecordChange::put(&call.account, &policy)])?;
    call.audit("iam:CreatePolicy", &arn);
    let node = policy_node(call, &Resolved::Own(policy), 0);
    Ok(Outcome::changed(vec![XmlNode::parent("Policy", node)]))
}

fn get_policy(call: &Call<'_>) -> CallResult {
    let arn = call.request.required("PolicyArn")?;
    call.authorize("iam:GetPolicy", arn)?;
    let policy = resolve(call, arn)?;
    let count = attachment_count(call, arn)?;
    Ok(Outcome::read(vec![XmlNode::parent(
        "Policy",
        policy_node(call, &policy, count),
    )]))
}

fn list_policies(call: &Call<'_>) -> CallResult {
    call.authorize("iam:ListPolicies", &call.policy_arn("/", "*"))?;
    let scope = call.request.param("Scope").unwrap_or("All");
    if !["All", "AWS", "Local"].contains(&scope) {
        return Err(QueryError::validation(format!(
            "1 validation error detected: Value '{scope}' at 'scope' failed to satisfy \
             constraint: Member must satisfy enum value set: [All, AWS, Local]"
        )));
    }
    let only_attached = call.request.param("OnlyAttached") == Some("true");
    let prefix = call.request.param("PathPrefix").unwrap_or("/");
    let mut listed: Vec<(String, Resolved)> = Vec::new();
    if scope != "Local" {
        for (name, document) in AWS_MANAGED_POLICIES {
            listed.push((name.to_string(), Resolved::Aws(name, document)));
        }
    }
    if scope != "AWS" {
        for policy in call
            .catalog
            .records::<ManagedPolicyRecord>(&call.account)
            .map_err(service_failure)?
        {
            if policy.path.starts_with(prefix) {
                listed.push((policy.name.clone(), Resolved::Own(policy)));
            }
        }
    }
    let counts = attachment_counts(call)?;
    let mut with_counts = Vec::new();
    for (name, policy) in listed {
        let arn = match &policy {
            Resolved::Own(p) => call.policy_arn(&p.path, &p.name),
            Resolved::Aws(name, _) => format!("{AWS_MANAGED_PREFIX}{name}"),
        };
        let count = counts.get(&arn).copied().unwrap_or(0);
        if !only_attached || count > 0 {
            with_counts.push((name, policy, count));
        }
    }
    with_counts.sort_by_key(|entry| entry.0.to_ascii_lowercase());
    let (shown, trailer) = page(call.request, with_counts, |(name, _, _)| name)?;
    let mut result = vec![XmlNode::members(
        "Policies",
        shown
            .iter()
            .map(|(_, policy, count)| policy_node(call, policy, *count))
            .collect(),
    )];
    result.extend(trailer);
    Ok(Outcome::read(result))
}

fn delete_policy(call: &Call<'_>) -> CallResult {
    let arn = call.request.required("PolicyArn")?;
    call.authorize("iam:DeletePolicy", arn)?;
    let policy = own(call, arn)?;
    if attachment_count(call, arn)? > 0 {
        return Err(delete_conflict(
            "Cannot delete a policy attached to entities.",
        ));
    }
    if policy.versions.len() > 1 {
        return Err(delete_conflict(
            "This policy has more than one version. Before you delete a policy, you must delete \
             the policy's versions. The default version is deleted with the policy.",
        ));
    }
    call.write(&[RecordChange::delete::<ManagedPolicyRecord>(
        &call.account,
        &policy.name,
    )])?;
    call.audit("iam:DeletePolicy", arn);
    Ok(Outcome::changed(Vec::new()))
}

fn version_node(version: &PolicyVersionRecord, default: &str, with_document: bool) -> Vec<XmlNode> {
    let mut nodes = Vec::new();
    if with_document {
        nodes.push(XmlNode::text(
            "Document",
            encode_document(&version.document),
        ));
    }
    nodes.push(XmlNode::text("VersionId", &version.id));
    nodes.push(XmlNode::boolean("IsDefaultVersion", version.id == default));
    nodes.push(XmlNode::text("CreateDate", timestamp(version.created_ms)));
    nodes
}

fn create_policy_version(call: &Call<'_>) -> CallResult {
    let arn = call.request.required("PolicyArn")?;
    let document = call.request.required("PolicyDocument")?;
    call.authorize("iam:CreatePolicyVersion", arn)?;
    let mut policy = own(call, arn)?;
    validate_document(
        document,
        iam::PolicyKind::Identity,
        MANAGED_POLICY_CHARS_MAX,
        &format!("policy {}", policy.name),
    )?;
    if policy.versions.len() >= POLICY_VERSIONS_MAX {
        return Err(limit_exceeded(
            "A managed policy can have up to 5 versions. Before you create a new version, you \
             must delete an existing version.",
        ));
    }
    let version = PolicyVersionRecord {
        id: format!("v{}", policy.next_version),
        document: document.to_owned(),
        created_ms: call.now_ms,
    };
    policy.next_version += 1;
    if call.request.param("SetAsDefault") == Some("true") {
        policy.default_version = version.id.clone();
    }
    policy.updated_ms = call.now_ms;
    policy.versions.push(version.clone());
    call.write(&[RecordChange::put(&call.account, &policy)])?;
    call.audit("iam:CreatePolicyVersion", arn);
    Ok(Outcome::changed(vec![XmlNode::parent(
        "PolicyVersion",
        version_node(&version, &policy.default_version, false),
    )]))
}

fn find_version<'p>(
    policy: &'p ManagedPolicyRecord,
    arn: &str,
    version_id: &str,
) -> Result<&'p PolicyVersionRecord, QueryError> {
    policy
        .versions
        .iter()
        .find(|version| version.id == version_id)
        .ok_or_else(|| {
            no_such_entity(format!(
                "Policy {arn} version {version_id} does not exist or is not attachable."
            ))
        })
}

fn get_policy_version(call: &Call<'_>) -> CallResult {
    let arn = call.request.required("PolicyArn")?;
    let version_id = call.request.required("VersionId")?;
    call.authorize("iam:GetPolicyVersion", arn)?;
    let node = match resolve(call, arn)? {
        Resolved::Own(policy) => {
            let version = find_version(&policy, arn, version_id)?;
            version_node(version, &policy.default_version, true)
        }
        Resolved::Aws(_, document) if version_id == "v1" => version_node(
            &PolicyVersionRecord {
                id: "v1".into(),
                document: document.to_owned(),
                created_ms: 0,
            },
            "v1",
            true,
        ),
        Resolved::Aws(..) => {
            return Err(no_such_entity(format!(
                "Policy {arn} version {version_id} does not exist or is not attachable."
            )))
        }
    };
    Ok(Outcome::read(vec![XmlNode::parent("PolicyVersion", node)]))
}

fn list_policy_versions(call: &Call<'_>) -> CallResult {
    let arn = call.request.required("PolicyArn")?;
    call.authorize("iam:ListPolicyVersions", arn)?;
    let (versions, default) = match resolve(call, arn)? {
        Resolved::Own(policy) => (policy.versions, policy.default_version),
        Resolved::Aws(_, document) => (
            vec![PolicyVersionRecord {
                id: "v1".into(),
                document: document.to_owned(),
                created_ms: 0,
            }],
            "v1".into(),
        ),
    };
    let (versions, trailer) = page(call.request, versions, |v| &v.id)?;
    let mut result = vec![XmlNode::members(
        "Versions",
        versions
            .iter()
            .map(|version| version_node(version, &default, false))
            .collect(),
    )];
    result.extend(trailer);
    Ok(Outcome::read(result))
}

fn delete_policy_version(call: &Call<'_>) -> CallResult {
    let arn = call.request.required("PolicyArn")?;
    let version_id = call.request.required("VersionId")?;
    call.authorize("iam:DeletePolicyVersion", arn)?;
    let mut policy = own(call, arn)?;
    find_version(&policy, arn, version_id)?;
    if policy.default_version == version_id {
        return Err(delete_conflict(
            "Cannot delete the default version of a policy.",
        ));
    }
    policy.versions.retain(|version| version.id != version_id);
    call.write(&[RecordChange::put(&call.account, &policy)])?;
    call.audit("iam:DeletePolicyVersion", arn);
    Ok(Outcome::changed(Vec::new()))
}

fn set_default_policy_version(call: &Call<'_>) -> CallResult {
    let arn = call.request.required("PolicyArn")?;
    let version_id = call.request.required("VersionId")?;
    call.authorize("iam:SetDefaultPolicyVersion", arn)?;
    let mut policy = own(call, arn)?;
    find_version(&policy, arn, version_id)?;
    policy.default_version = version_id.to_owned();
    policy.updated_ms = call.now_ms;
    call.write(&[RecordChange::put(&call.account, &policy)])?;
    call.audit("iam:SetDefaultPolicyVersion", arn);
    Ok(Outcome::changed(Vec::new()))
}

/// A user, group or role: the records that hold inline and attached policies.
pub(super) trait HoldsPolicies: Record {
    /// The request parameter naming it (`UserName`, ...).
    const NAME_PARAM: &'static str;
    /// IAM's limit on its inline policies, all together (characters
    /// without whitespace).
    const INLINE_CHARS_MAX: usize;
    fn holder(&mut self) -> &mut PolicyHolder;
}

impl HoldsPolicies for UserRecord {
    const NAME_PARAM: &'static str = "UserName";
    const INLINE_CHARS_MAX: usize = 2048;
    fn holder(&mut self) -> &mut PolicyHolder {
        &mut self.policies
    }
}

impl HoldsPolicies for GroupRecord {
    const NAME_PARAM: &'static str = "GroupName";
    const INLINE_CHARS_MAX: usize = 5120;
    fn holder(&mut self) -> &mut PolicyHolder {
        &mut self.policies
    }
}

impl HoldsPolicies for RoleRecord {
    const NAME_PARAM: &'static str = "RoleName";
    const INLINE_CHARS_MAX: usize = 10240;
    fn holder(&mut self) -> &mut PolicyHolder {
        &mut self.policies
    }
}

/// The policy calls of one user, group or role (`arn`): authorised,
/// executed by `holder_call`, and the record stored when it changed.
pub(super) fn entity_policies<T: HoldsPolicies>(
    call: &Call<'_>,
    action: &str,
    mut record: T,
    arn: &str,
) -> CallResult {
    let iam_action = format!("iam:{action}");
    call.authorize(&iam_action, arn)?;
    let name = record.record_name().to_owned();
    let entity = T::NAME_PARAM.trim_end_matches("Name").to_ascii_lowercase();
    let outcome = holder_call(
        call,
        action,
        record.holder(),
        T::NAME_PARAM,
        &name,
        &format!("{entity} {name}"),
        T::INLINE_CHARS_MAX,
    )?;
    if let Some(result) = outcome.result_if_unchanged {
        return Ok(Outcome::read(result));
    }
    call.write(&[RecordChange::put(&call.account, &record)])?;
    call.audit(&iam_action, arn);
    Ok(Outcome::changed(Vec::new()))
}

/// What `holder_call` did: a read answers `Some(result)`; a change answers
/// `None` and the caller stores the holder.
pub(super) struct HolderOutcome {
    pub result_if_unchanged: Option<Vec<XmlNode>>,
}

/// The inline and attached policy calls of a user, group or role:
/// `Put/Get/List/Delete{Entity}Policy`, `Attach/Detach{Entity}Policy`,
/// `ListAttached{Entity}Policies`. `name_param` is `UserName`, `GroupName`
/// or `RoleName`; `entity_name` the entity's name as stored.
fn holder_call(
    call: &Call<'_>,
    action: &str,
    holder: &mut PolicyHolder,
    name_param: &'static str,
    entity_name: &str,
    holder_description: &str,
    inline_chars_max: usize,
) -> Result<HolderOutcome, QueryError> {
    let entity = name_param.trim_end_matches("Name");
    let generic = action.replacen(entity, "", 1);
    let read = |result| {
        Ok(HolderOutcome {
            result_if_unchanged: Some(result),
        })
    };
    let changed = || {
        Ok(HolderOutcome {
            result_if_unchanged: None,
        })
    };
    let policy_name = || -> Result<&str, QueryError> {
        let name = call.request.required("PolicyName")?;
        validate_name("policyName", name, POLICY_NAME_CHARS_MAX)?;
        Ok(name)
    };
    let missing_inline = |name: &str| {
        no_such_entity(format!(
            "The {} policy with name {name} cannot be found.",
            entity.to_ascii_lowercase()
        ))
    };
    match generic.as_str() {
        "PutPolicy" => {
            let name = policy_name()?.to_owned();
            let document = call.request.required("PolicyDocument")?;
            let others: usize = holder
                .inline
                .iter()
                .filter(|(existing, _)| **existing != name)
                .map(|(_, doc)| iam::limits::policy_size_chars(doc))
                .sum();
            validate_document(
                document,
                iam::PolicyKind::Identity,
                inline_chars_max.saturating_sub(others),
                holder_description,
            )
            .map_err(|err| match err.code {
                "LimitExceeded" => limit_exceeded(format!(
                    "Maximum policy size of {inline_chars_max} bytes exceeded for {holder_description}"
                )),
                _ => err,
            })?;
            holder.inline.insert(name, document.to_owned());
            changed()
        }
        "GetPolicy" => {
            let name = policy_name()?;
            let document = holder
                .inline
                .get(name)
                .ok_or_else(|| missing_inline(name))?;
            read(vec![
                XmlNode::text(name_param, entity_name),
                XmlNode::text("PolicyName", name),
                XmlNode::text("PolicyDocument", encode_document(document)),
            ])
        }
        "ListPolicies" => {
            let names: Vec<String> = holder.inline.keys().cloned().collect();
            let (names, trailer) = page(call.request, names, |name| name)?;
            let mut result = vec![XmlNode::text_members("PolicyNames", names)];
            result.extend(trailer);
            read(result)
        }
        "DeletePolicy" => {
            let name = policy_name()?;
            holder
                .inline
                .remove(name)
                .ok_or_else(|| missing_inline(name))?;
            changed()
        }
        "AttachPolicy" => {
            let arn = call.request.required("PolicyArn")?;
            guard_system_admin_policy(call, arn)?;
            resolve(call, arn)?;
            if holder.attached.iter().any(|a| a == arn) {
                return changed();
            }
            if holder.attached.len() >= ATTACHED_POLICIES_MAX {
                return Err(limit_exceeded(format!(
                    "Cannot exceed quota for PoliciesPer{entity}: {ATTACHED_POLICIES_MAX}"
                )));
            }
            holder.attached.push(arn.to_owned());
            changed()
        }
        "DetachPolicy" => {
            let arn = call.request.required("PolicyArn")?;
            guard_system_admin_policy(call, arn)?;
            let before = holder.attached.len();
            holder.attached.retain(|a| a != arn);
            if holder.attached.len() == before {
                return Err(no_such_entity(format!("Policy {arn} was not found.")));
            }
            changed()
        }
        "ListAttachedPolicies" => {
            let attached: Vec<String> = holder.attached.clone();
            let (attached, trailer) = page(call.request, attached, |arn| arn)?;
            let members = attached
                .iter()
                .map(|arn| {
                    let name = arn.rsplit('/').next().unwrap_or(arn).to_owned();
                    vec![
                        XmlNode::text("PolicyName", name),
                        XmlNode::text("PolicyArn", arn.clone()),
                    ]
                })
                .collect();
            let mut result = vec![XmlNode::members("AttachedPolicies", members)];
            result.extend(trailer);
            read(result)
        }
        _ => Err(super::unknown_action(action)),
    }
}
