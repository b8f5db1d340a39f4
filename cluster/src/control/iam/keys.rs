//! Access keys: Create/List/Update/DeleteAccessKey and GetAccessKeyLastUsed.
//! The secret is generated here, sealed with the master key before it is
//! stored, and shown once, in the CreateAccessKey answer.

use s3::query::{QueryError, XmlNode};

use super::{
    limit_exceeded, no_such_entity, page, service_failure, timestamp, Call, CallResult, Outcome,
};
use crate::directory::{AccessKeyRecord, RecordChange};

/// IAM's limit on keys per user.
const ACCESS_KEYS_PER_USER_MAX: usize = 2;

pub(super) fn execute(call: &Call<'_>, action: &str) -> Option<CallResult> {
    let outcome = match action {
        "CreateAccessKey" => create_access_key(call),
        "ListAccessKeys" => list_access_keys(call),
        "UpdateAccessKey" => update_access_key(call),
        "DeleteAccessKey" => delete_access_key(call),
        "GetAccessKeyLastUsed" => get_access_key_last_used(call),
        _ => return None,
    };
    Some(outcome)
}

fn keys_of(call: &Call<'_>, user: &str) -> Result<Vec<AccessKeyRecord>, QueryError> {
    Ok(call
        .catalog
        .records::<AccessKeyRecord>(&call.account)
        .map_err(service_failure)?
        .into_iter()
        .filter(|key| key.user.eq_ignore_ascii_case(user))
        .collect())
}

fn status(key: &AccessKeyRecord) -> &'static str {
    if key.active {
        "Active"
    } else {
        "Inactive"
    }
}

fn create_access_key(call: &Call<'_>) -> CallResult {
    let name = call.target_user_name()?;
    let user = call.load_user(&name)?;
    let arn = call.user_arn(&user.path, &user.name);
    call.authorize("iam:CreateAccessKey", &arn)?;
    if keys_of(call, &user.name)?.len() >= ACCESS_KEYS_PER_USER_MAX {
        return Err(limit_exceeded(format!(
            "Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER_MAX}"
        )));
    }
    crate::control::tenants::check_access_key_quota(call.catalog, &call.account)
        .map_err(limit_exceeded)?;
    let secret = crate::credentials::random_secret();
    let key = AccessKeyRecord {
        id: crate::credentials::random_id("AKIA"),
        user: user.name.clone(),
        secret_sealed: call.master.seal_text(secret.as_bytes()),
        active: true,
        created_ms: call.now_ms,
    };
    call.write(&[RecordChange::put(&call.account, &key)])?;
    call.audit("iam:CreateAccessKey", &format!("{arn} key {}", key.id));
    Ok(Outcome::changed(vec![XmlNode::parent(
        "AccessKey",
        vec![
            XmlNode::text("UserName", &user.name),
            XmlNode::text("AccessKeyId", &key.id),
            XmlNode::text("Status", status(&key)),
            XmlNode::text("SecretAccessKey", secret),
            XmlNode::text("CreateDate", timestamp(key.created_ms)),
        ],
    )]))
}

fn list_access_keys(call: &Call<'_>) -> CallResult {
    let name = call.target_user_name()?;
    let user = call.load_user(&name)?;
    call.authorize("iam:ListAccessKeys", &call.user_arn(&user.path, &user.name))?;
    let keys = keys_of(call, &user.name)?;
    let (keys, trailer) = page(call.request, keys, |key| &key.id)?;
    let members = keys
        .iter()
        .map(|key| {
            vec![
                XmlNode::text("UserName", &user.name),
                XmlNode::text("AccessKeyId", &key.id),
                XmlNode::text("Status", status(key)),
                XmlNode::text("CreateDate", timestamp(key.created_ms)),
            ]
        })
        .collect();
    let mut result = vec![XmlNode::members("AccessKeyMetadata", members)];
    result.extend(trailer);
    Ok(Outcome::read(result))
}

/// The key `AccessKeyId` names, which must belong to the call's user.
fn target_key(call: &Call<'_>) -> Result<(AccessKeyRecord, String), QueryError> {
    let id = call.request.required("AccessKeyId")?;
    if !(16..=128).contains(&id.len()) || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(QueryError::validation(format!(
            "1 validation error detected: Value '{id}' at 'accessKeyId' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\w]+"
        )));
    }
    let name = call.target_user_name()?;
    let user = call.load_user(&name)?;
    let key = call
        .catalog
        .record::<AccessKeyRecord>(&call.account, id)
        .map_err(service_failure)?
        .filter(|key| key.user.eq_ignore_ascii_case(&user.name))
        .ok_or_else(|| no_such_entity(format!("The Access Key with id {id} cannot be found")))?;
    Ok((key, call.user_arn(&user.path, &user.name)))
}

fn update_access_key(call: &Call<'_>) -> CallResult {
    let status = call.request.required("Status")?;
    let active = match status {
        "Active" => true,
        "Inactive" => false,
        other => {
            return Err(QueryError::validation(format!(
                "1 validation error detected: Value '{other}' at 'status' failed to satisfy \
                 constraint: Member must satisfy enum value set: [Active, Inactive]"
            )))
        }
    };
    let (mut key, arn) = target_key(call)?;
    call.authorize("iam:UpdateAccessKey", &arn)?;
    key.active = active;
    call.write(&[RecordChange::put(&call.account, &key)])?;
    call.audit(
        "iam:UpdateAccessKey",
        &format!("{arn} key {} {status}", key.id),
    );
    Ok(Outcome::changed(Vec::new()))
}

fn delete_access_key(call: &Call<'_>) -> CallResult {
    let (key, arn) = target_key(call)?;
    call.authorize("iam:DeleteAccessKey", &arn)?;
    call.write(&[RecordChange::delete::<AccessKeyRecord>(
        &call.account,
        &key.id,
    )])?;
    call.audit("iam:DeleteAccessKey", &format!("{arn} key {}", key.id));
    Ok(Outcome::changed(Vec::new()))
}

/// When and for which service the key last authenticated a request, as the
/// shards remember it since the server started; `N/A` (IAM's answer for a
/// key never used) otherwise.
fn get_access_key_last_used(call: &Call<'_>) -> CallResult {
    let id = call.request.required("AccessKeyId")?;
    let key = call
        .catalog
        .record::<AccessKeyRecord>(&call.account, id)
        .map_err(service_failure)?
        .ok_or_else(|| no_such_entity(format!("The Access Key with id {id} cannot be found")))?;
    let user = call.load_user(&key.user)?;
    call.authorize(
        "iam:GetAccessKeyLastUsed",
        &call.user_arn(&user.path, &user.name),
    )?;
    let last_used = match call.key_last_used {
        Some(used) => vec![
            XmlNode::text("LastUsedDate", super::timestamp_seconds(used.last_used_ms)),
            XmlNode::text("ServiceName", used.service),
            XmlNode::text("Region", call.region.clone()),
        ],
        None => vec![
            XmlNode::text("ServiceName", "N/A"),
            XmlNode::text("Region", "N/A"),
        ],
    };
    Ok(Outcome::read(vec![
        XmlNode::text("UserName", &user.name),
        XmlNode::parent("AccessKeyLastUsed", last_used),
    ]))
}
