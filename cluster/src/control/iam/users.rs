//! IAM users: Create/Get/List/Update/DeleteUser, the user's inline
//! policies (Put/Get/List/DeleteUserPolicy) and attached managed policies
//! (Attach/Detach/ListAttachedUserPolicies).

use s3::query::XmlNode;

use super::{
    already_exists, delete_conflict, limit_exceeded, page, path_param, timestamp, validate_name,
    Call, CallResult, Outcome, USERS_PER_ACCOUNT_MAX,
};
use crate::directory::{AccessKeyRecord, PolicyHolder, RecordChange, UserRecord};

pub(super) fn execute(call: &Call<'_>, action: &str) -> Option<CallResult> {
    let outcome = match action {
        "CreateUser" => create_user(call),
        "GetUser" => get_user(call),
        "ListUsers" => list_users(call),
        "UpdateUser" => update_user(call),
        "DeleteUser" => delete_user(call),
        "PutUserPolicy"
        | "GetUserPolicy"
        | "ListUserPolicies"
        | "DeleteUserPolicy"
        | "AttachUserPolicy"
        | "DetachUserPolicy"
        | "ListAttachedUserPolicies" => user_policies(call, action),
        _ => return None,
    };
    Some(outcome)
}

pub(super) fn user_node(call: &Call<'_>, user: &UserRecord) -> Vec<XmlNode> {
    vec![
        XmlNode::text("Path", &user.path),
        XmlNode::text("UserName", &user.name),
        XmlNode::text("UserId", &user.id),
        XmlNode::text("Arn", call.user_arn(&user.path, &user.name)),
        XmlNode::text("CreateDate", timestamp(user.created_ms)),
    ]
}

fn create_user(call: &Call<'_>) -> CallResult {
    let name = call.request.required("UserName")?;
    validate_name("userName", name, 64)?;
    let path = path_param(call.request)?;
    let arn = call.user_arn(&path, name);
    call.authorize("iam:CreateUser", &arn)?;
    if call
        .catalog
        .record::<UserRecord>(&call.account, name)
        .map_err(super::service_failure)?
        .is_some()
    {
        return Err(already_exists(format!(
            "User with name {name} already exists."
        )));
    }
    let count = call
        .catalog
        .records::<UserRecord>(&call.account)
        .map_err(super::service_failure)?
        .len();
    if count >= USERS_PER_ACCOUNT_MAX {
        return Err(limit_exceeded(format!(
            "Cannot exceed quota for UsersPerAccount: {USERS_PER_ACCOUNT_MAX}"
        )));
    }
    let user = UserRecord {
        name: name.to_owned(),
        path,
        id: crate::credentials::random_id("AIDA"),
        created_ms: call.now_ms,
        groups: Vec::new(),
        policies: PolicyHolder::default(),
        login: Default::default(),
    };
    call.write(&[RecordChange::put(&call.account, &user)])?;
    call.audit("iam:CreateUser", &arn);
    Ok(Outcome::changed(vec![XmlNode::parent(
        "User",
        user_node(call, &user),
    )]))
}

fn get_user(call: &Call<'_>) -> CallResult {
    let name = call.target_user_name()?;
    let user = call.load_user(&name)?;
    call.authorize("iam:GetUser", &call.user_arn(&user.path, &user.name))?;
    Ok(Outcome::read(vec![XmlNode::parent(
        "User",
        user_node(call, &user),
    )]))
}

fn list_users(call: &Call<'_>) -> CallResult {
    call.authorize("iam:ListUsers", &call.user_arn("/", "*"))?;
    let prefix = call.request.param("PathPrefix").unwrap_or("/");
    let users: Vec<UserRecord> = call
        .catalog
        .records::<UserRecord>(&call.account)
        .map_err(super::service_failure)?
        .into_iter()
        .filter(|user| user.path.starts_with(prefix))
        .collect();
    let (users, trailer) = page(call.request, users, |user| &user.name)?;
    let mut result = vec![XmlNode::members(
        "Users",
        users.iter().map(|user| user_node(call, user)).collect(),
    )];
    result.extend(trailer);
    Ok(Outcome::read(result))
}

fn update_user(call: &Call<'_>) -> CallResult {
    let name = call.request.required("UserName")?;
    validate_name("userName", name, 64)?;
    let mut user = call.load_user(name)?;
    call.authorize("iam:UpdateUser", &call.user_arn(&user.path, &user.name))?;
    let new_name = call.request.param("NewUserName");
    let new_path = call.request.param("NewPath");
    if let Some(path) = new_path {
        super::validate_path(path)?;
        user.path = path.to_owned();
    }
    let mut changes = Vec::new();
    if let Some(new_name) = new_name {
        validate_name("newUserName", new_name, 64)?;
        let renamed = !new_name.eq_ignore_ascii_case(&user.name);
        if renamed
            && call
                .catalog
                .record::<UserRecord>(&call.account, new_name)
                .map_err(super::service_failure)?
                .is_some()
        {
            return Err(already_exists(format!(
                "User with name {new_name} already exists."
            )));
        }
        changes.push(RecordChange::delete::<UserRecord>(
            &call.account,
            &user.name,
        ));
        // The user's keys name it: they follow.
        for mut key in call
            .catalog
            .records::<AccessKeyRecord>(&call.account)
            .map_err(super::service_failure)?
            .into_iter()
            .filter(|key| key.user.eq_ignore_ascii_case(&user.name))
        {
            key.user = new_name.to_owned();
            changes.push(RecordChange::put(&call.account, &key));
        }
        user.name = new_name.to_owned();
    }
    // The user's new name and path are a resource of their own: the caller
    // must be allowed to update a user there too (IAM asks for both).
    call.authorize("iam:UpdateUser", &call.user_arn(&user.path, &user.name))?;
    changes.push(RecordChange::put(&call.account, &user));
    call.write(&changes)?;
    call.audit("iam:UpdateUser", &call.user_arn(&user.path, &user.name));
    Ok(Outcome::changed(Vec::new()))
}

fn delete_user(call: &Call<'_>) -> CallResult {
    let name = call.request.required("UserName")?;
    validate_name("userName", name, 64)?;
    let user = call.load_user(name)?;
    let arn = call.user_arn(&user.path, &user.name);
    call.authorize("iam:DeleteUser", &arn)?;
    let has_keys = call
        .catalog
        .records::<AccessKeyRecord>(&call.account)
        .map_err(super::service_failure)?
        .iter()
        .any(|key| key.user.eq_ignore_ascii_case(&user.name));
    if has_keys
        || !user.groups.is_empty()
        || !user.policies.inline.is_empty()
        || !user.policies.attached.is_empty()
    {
        return Err(delete_conflict(
            "Cannot delete entity, must delete access keys, policies and group memberships first.",
        ));
    }
    call.write(&[RecordChange::delete::<UserRecord>(
        &call.account,
        &user.name,
    )])?;
    call.audit("iam:DeleteUser", &arn);
    Ok(Outcome::changed(Vec::new()))
}

fn user_policies(call: &Call<'_>, action: &str) -> CallResult {
    let name = call.request.required("UserName")?;
    validate_name("userName", name, 64)?;
    let user = call.load_user(name)?;
    let arn = call.user_arn(&user.path, &user.name);
    super::policies::entity_policies(call, action, user, &arn)
}
