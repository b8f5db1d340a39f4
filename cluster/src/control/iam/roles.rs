//! IAM roles: Create/Get/List/DeleteRole, UpdateAssumeRolePolicy (who may
//! assume it: the trust policy, checked by `sts::assume_role`), and the
//! role's inline and attached policies, which its sessions get.

use s3::query::{QueryError, XmlNode};

use super::{
    already_exists, delete_conflict, encode_document, limit_exceeded, no_such_entity, page,
    path_param, service_failure, timestamp, validate_document, validate_name, Call, CallResult,
    Outcome, ROLES_PER_ACCOUNT_MAX,
};
use crate::directory::{PolicyHolder, RecordChange, RoleRecord, SessionRecord};

const ROLE_NAME_CHARS_MAX: usize = 64;
const TRUST_POLICY_CHARS_MAX: usize = 2048;
/// MaxSessionDuration's range and default (seconds).
pub(super) const ROLE_SESSION_S_MIN: u32 = 3600;
pub(super) const ROLE_SESSION_S_MAX: u32 = 43200;

pub(super) fn execute(call: &Call<'_>, action: &str) -> Option<CallResult> {
    let outcome = match action {
        "CreateRole" => create_role(call),
        "GetRole" => get_role(call),
        "ListRoles" => list_roles(call),
        "DeleteRole" => delete_role(call),
        "UpdateAssumeRolePolicy" => update_assume_role_policy(call),
        "PutRolePolicy"
        | "GetRolePolicy"
        | "ListRolePolicies"
        | "DeleteRolePolicy"
        | "AttachRolePolicy"
        | "DetachRolePolicy"
        | "ListAttachedRolePolicies" => role_policies(call, action),
        _ => return None,
    };
    Some(outcome)
}

fn role_node(call: &Call<'_>, role: &RoleRecord) -> Vec<XmlNode> {
    let mut nodes = vec![
        XmlNode::text("Path", &role.path),
        XmlNode::text("RoleName", &role.name),
        XmlNode::text("RoleId", &role.id),
        XmlNode::text("Arn", call.role_arn(&role.path, &role.name)),
        XmlNode::text("CreateDate", timestamp(role.created_ms)),
        XmlNode::text(
            "AssumeRolePolicyDocument",
            encode_document(&role.trust_policy),
        ),
    ];
    if !role.description.is_empty() {
        nodes.push(XmlNode::text("Description", &role.description));
    }
    nodes.push(XmlNode::text(
        "MaxSessionDuration",
        role.max_session_duration_s.to_string(),
    ));
    nodes
}

pub(super) fn load_role(call: &Call<'_>, name: &str) -> Result<RoleRecord, QueryError> {
    validate_name("roleName", name, ROLE_NAME_CHARS_MAX)?;
    call.catalog
        .record::<RoleRecord>(&call.account, name)
        .map_err(service_failure)?
        .ok_or_else(|| no_such_entity(format!("The role with name {name} cannot be found.")))
}

fn validate_trust(document: &str, role: &str) -> Result<(), QueryError> {
    validate_document(
        document,
        iam::PolicyKind::Trust,
        TRUST_POLICY_CHARS_MAX,
        &format!("role {role}"),
    )
}

fn create_role(call: &Call<'_>) -> CallResult {
    let name = call.request.required("RoleName")?;
    validate_name("roleName", name, ROLE_NAME_CHARS_MAX)?;
    let trust = call.request.required("AssumeRolePolicyDocument")?;
    let path = path_param(call.request)?;
    let arn = call.role_arn(&path, name);
    call.authorize("iam:CreateRole", &arn)?;
    let max_session_duration_s = match call.request.param("MaxSessionDuration") {
        None => ROLE_SESSION_S_MIN,
        Some(text) => match text.parse::<u32>() {
            Ok(s) if (ROLE_SESSION_S_MIN..=ROLE_SESSION_S_MAX).contains(&s) => s,
            _ => {
                return Err(QueryError::validation(format!(
                    "1 validation error detected: Value '{text}' at 'maxSessionDuration' failed \
                     to satisfy constraint: Member must have value between 3600 and 43200"
                )))
            }
        },
    };
    let description = call.request.param("Description").unwrap_or("");
    if description.chars().count() > 1000 {
        return Err(QueryError::validation(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: \
             Member must have length less than or equal to 1000",
        ));
    }
    validate_trust(trust, name)?;
    let roles = call
        .catalog
        .records::<RoleRecord>(&call.account)
        .map_err(service_failure)?;
    if roles.iter().any(|r| r.name.eq_ignore_ascii_case(name)) {
        return Err(already_exists(format!(
            "Role with name {name} already exists."
        )));
    }
    if roles.len() >= ROLES_PER_ACCOUNT_MAX {
        return Err(limit_exceeded(format!(
            "Cannot exceed quota for RolesPerAccount: {ROLES_PER_ACCOUNT_MAX}"
        )));
    }
    let role = RoleRecord {
        name: name.to_owned(),
        path,
        id: crate::credentials::random_id("AROA"),
        created_ms: call.now_ms,
        trust_policy: trust.to_owned(),
        description: description.to_owned(),
        max_session_duration_s,
        policies: PolicyHolder::default(),
    };
    call.write(&[RecordChange::put(&call.account, &role)])?;
    call.audit("iam:CreateRole", &arn);
    Ok(Outcome::changed(vec![XmlNode::parent(
        "Role",
        role_node(call, &role),
    )]))
}

fn get_role(call: &Call<'_>) -> CallResult {
    let role = load_role(call, call.request.required("RoleName")?)?;
    call.authorize("iam:GetRole", &call.role_arn(&role.path, &role.name))?;
    Ok(Outcome::read(vec![XmlNode::parent(
        "Role",
        role_node(call, &role),
    )]))
}

fn list_roles(call: &Call<'_>) -> CallResult {
    call.authorize("iam:ListRoles", &call.role_arn("/", "*"))?;
    let prefix = call.request.param("PathPrefix").unwrap_or("/");
    let roles: Vec<RoleRecord> = call
        .catalog
        .records::<RoleRecord>(&call.account)
        .map_err(service_failure)?
        .into_iter()
        .filter(|role| role.path.starts_with(prefix))
        .collect();
    let (roles, trailer) = page(call.request, roles, |role| &role.name)?;
    let mut result = vec![XmlNode::members(
        "Roles",
        roles.iter().map(|role| role_node(call, role)).collect(),
    )];
    result.extend(trailer);
    Ok(Outcome::read(result))
}

fn delete_role(call: &Call<'_>) -> CallResult {
    let role = load_role(call, call.request.required("RoleName")?)?;
    let arn = call.role_arn(&role.path, &role.name);
    call.authorize("iam:DeleteRole", &arn)?;
    if !role.policies.inline.is_empty() || !role.policies.attached.is_empty() {
        return Err(delete_conflict(
            "Cannot delete entity, must detach all policies first.",
        ));
    }
    // Its sessions end with it.
    let mut changes = vec![RecordChange::delete::<RoleRecord>(
        &call.account,
        &role.name,
    )];
    for session in call
        .catalog
        .records::<SessionRecord>(&call.account)
        .map_err(service_failure)?
    {
        if session
            .role
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case(&role.name))
        {
            changes.push(RecordChange::delete::<SessionRecord>(
                &call.account,
                &session.id,
            ));
        }
    }
    call.write(&changes)?;
    call.audit("iam:DeleteRole", &arn);
    Ok(Outcome::changed(Vec::new()))
}

fn update_assume_role_policy(call: &Call<'_>) -> CallResult {
    let mut role = load_role(call, call.request.required("RoleName")?)?;
    let document = call.request.required("PolicyDocument")?;
    let arn = call.role_arn(&role.path, &role.name);
    call.authorize("iam:UpdateAssumeRolePolicy", &arn)?;
    validate_trust(document, &role.name)?;
    role.trust_policy = document.to_owned();
    call.write(&[RecordChange::put(&call.account, &role)])?;
    call.audit("iam:UpdateAssumeRolePolicy", &arn);
    Ok(Outcome::changed(Vec::new()))
}

fn role_policies(call: &Call<'_>, action: &str) -> CallResult {
    let role = load_role(call, call.request.required("RoleName")?)?;
    let arn = call.role_arn(&role.path, &role.name);
    super::policies::entity_policies(call, action, role, &arn)
}
