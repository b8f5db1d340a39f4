//! IAM groups: Create/Get/List/DeleteGroup, membership (AddUserToGroup,
//! RemoveUserFromGroup, ListGroupsForUser) and the group's inline and
//! attached policies, which every member gets.

use s3::query::XmlNode;

use super::{
    already_exists, delete_conflict, limit_exceeded, no_such_entity, page, path_param,
    service_failure, timestamp, validate_name, Call, CallResult, Outcome, GROUPS_PER_ACCOUNT_MAX,
};
use crate::directory::{GroupRecord, PolicyHolder, RecordChange, UserRecord};

const GROUP_NAME_CHARS_MAX: usize = 128;
/// IAM's limit on the groups one user is in.
const GROUPS_PER_USER_MAX: usize = 10;

pub(super) fn execute(call: &Call<'_>, action: &str) -> Option<CallResult> {
    let outcome = match action {
        "CreateGroup" => create_group(call),
        "GetGroup" => get_group(call),
        "ListGroups" => list_groups(call),
        "DeleteGroup" => delete_group(call),
        "AddUserToGroup" => membership(call, true),
        "RemoveUserFromGroup" => membership(call, false),
        "ListGroupsForUser" => list_groups_for_user(call),
        "PutGroupPolicy"
        | "GetGroupPolicy"
        | "ListGroupPolicies"
        | "DeleteGroupPolicy"
        | "AttachGroupPolicy"
        | "DetachGroupPolicy"
        | "ListAttachedGroupPolicies" => group_policies(call, action),
        _ => return None,
    };
    Some(outcome)
}

fn group_node(call: &Call<'_>, group: &GroupRecord) -> Vec<XmlNode> {
    vec![
        XmlNode::text("Path", &group.path),
        XmlNode::text("GroupName", &group.name),
        XmlNode::text("GroupId", &group.id),
        XmlNode::text("Arn", call.group_arn(&group.path, &group.name)),
        XmlNode::text("CreateDate", timestamp(group.created_ms)),
    ]
}

/// A page of groups as ListGroups and ListGroupsForUser answer it.
fn groups_page(call: &Call<'_>, groups: Vec<GroupRecord>) -> CallResult {
    let (groups, trailer) = page(call.request, groups, |group| &group.name)?;
    let mut result = vec![XmlNode::members(
        "Groups",
        groups.iter().map(|group| group_node(call, group)).collect(),
    )];
    result.extend(trailer);
    Ok(Outcome::read(result))
}

fn load_group(call: &Call<'_>) -> Result<GroupRecord, s3::query::QueryError> {
    let name = call.request.required("GroupName")?;
    validate_name("groupName", name, GROUP_NAME_CHARS_MAX)?;
    call.catalog
        .record::<GroupRecord>(&call.account, name)
        .map_err(service_failure)?
        .ok_or_else(|| no_such_entity(format!("The group with name {name} cannot be found.")))
}

fn create_group(call: &Call<'_>) -> CallResult {
    let name = call.request.required("GroupName")?;
    validate_name("groupName", name, GROUP_NAME_CHARS_MAX)?;
    let path = path_param(call.request)?;
    let arn = call.group_arn(&path, name);
    call.authorize("iam:CreateGroup", &arn)?;
    let groups = call
        .catalog
        .records::<GroupRecord>(&call.account)
        .map_err(service_failure)?;
    if groups.iter().any(|g| g.name.eq_ignore_ascii_case(name)) {
        return Err(already_exists(format!(
            "Group with name {name} already exists."
        )));
    }
    if groups.len() >= GROUPS_PER_ACCOUNT_MAX {
        return Err(limit_exceeded(format!(
            "Cannot exceed quota for GroupsPerAccount: {GROUPS_PER_ACCOUNT_MAX}"
        )));
    }
    let group = GroupRecord {
        name: name.to_owned(),
        path,
        id: crate::credentials::random_id("AGPA"),
        created_ms: call.now_ms,
        policies: PolicyHolder::default(),
    };
    call.write(&[RecordChange::put(&call.account, &group)])?;
    call.audit("iam:CreateGroup", &arn);
    Ok(Outcome::changed(vec![XmlNode::parent(
        "Group",
        group_node(call, &group),
    )]))
}

fn members_of(call: &Call<'_>, group: &str) -> Result<Vec<UserRecord>, s3::query::QueryError> {
    Ok(call
        .catalog
        .records::<UserRecord>(&call.account)
        .map_err(service_failure)?
        .into_iter()
        .filter(|user| user.groups.iter().any(|g| g.eq_ignore_ascii_case(group)))
        .collect())
}

fn get_group(call: &Call<'_>) -> CallResult {
    let group = load_group(call)?;
    call.authorize("iam:GetGroup", &call.group_arn(&group.path, &group.name))?;
    let users = members_of(call, &group.name)?;
    let (users, trailer) = page(call.request, users, |user| &user.name)?;
    let mut result = vec![
        XmlNode::parent("Group", group_node(call, &group)),
        XmlNode::members(
            "Users",
            users
                .iter()
                .map(|user| super::users::user_node(call, user))
                .collect(),
        ),
    ];
    result.extend(trailer);
    Ok(Outcome::read(result))
}

fn list_groups(call: &Call<'_>) -> CallResult {
    call.authorize("iam:ListGroups", &call.group_arn("/", "*"))?;
    let prefix = call.request.param("PathPrefix").unwrap_or("/");
    let groups: Vec<GroupRecord> = call
        .catalog
        .records::<GroupRecord>(&call.account)
        .map_err(service_failure)?
        .into_iter()
        .filter(|group| group.path.starts_with(prefix))
        .collect();
    groups_page(call, groups)
}

fn delete_group(call: &Call<'_>) -> CallResult {
    let group = load_group(call)?;
    let arn = call.group_arn(&group.path, &group.name);
    call.authorize("iam:DeleteGroup", &arn)?;
    if !members_of(call, &group.name)?.is_empty()
        || !group.policies.inline.is_empty()
        || !group.policies.attached.is_empty()
    {
        return Err(delete_conflict(
            "Cannot delete entity, must remove users and policies from group first.",
        ));
    }
    call.write(&[RecordChange::delete::<GroupRecord>(
        &call.account,
        &group.name,
    )])?;
    call.audit("iam:DeleteGroup", &arn);
    Ok(Outcome::changed(Vec::new()))
}

fn membership(call: &Call<'_>, add: bool) -> CallResult {
    let group = load_group(call)?;
    let user_name = call.request.required("UserName")?;
    validate_name("userName", user_name, 64)?;
    let mut user = call.load_user(user_name)?;
    let action = if add {
        "iam:AddUserToGroup"
    } else {
        "iam:RemoveUserFromGroup"
    };
    let arn = call.group_arn(&group.path, &group.name);
    call.authorize(action, &arn)?;
    let member = user
        .groups
        .iter()
        .any(|g| g.eq_ignore_ascii_case(&group.name));
    match (add, member) {
        (true, true) => return Ok(Outcome::read(Vec::new())),
        (true, false) => {
            if user.groups.len() >= GROUPS_PER_USER_MAX {
                return Err(limit_exceeded(format!(
                    "Cannot exceed quota for GroupsPerUser: {GROUPS_PER_USER_MAX}"
                )));
            }
            user.groups.push(group.name.clone());
        }
        (false, false) => {
            return Err(no_such_entity(format!(
                "The user with name {} cannot be found in group {}.",
                user.name, group.name
            )))
        }
        (false, true) => user.groups.retain(|g| !g.eq_ignore_ascii_case(&group.name)),
    }
    call.write(&[RecordChange::put(&call.account, &user)])?;
    call.audit(action, &format!("{arn} user {}", user.name));
    Ok(Outcome::changed(Vec::new()))
}

fn list_groups_for_user(call: &Call<'_>) -> CallResult {
    let name = call.request.required("UserName")?;
    validate_name("userName", name, 64)?;
    let user = call.load_user(name)?;
    call.authorize(
        "iam:ListGroupsForUser",
        &call.user_arn(&user.path, &user.name),
    )?;
    let mut groups = Vec::new();
    for group_name in &user.groups {
        if let Some(group) = call
            .catalog
            .record::<GroupRecord>(&call.account, group_name)
            .map_err(service_failure)?
        {
            groups.push(group);
        }
    }
    groups_page(call, groups)
}

fn group_policies(call: &Call<'_>, action: &str) -> CallResult {
    let group = load_group(call)?;
    let arn = call.group_arn(&group.path, &group.name);
    super::policies::entity_policies(call, action, group, &arn)
}
