//! Tenants: an account with a name, a display name, a status, quotas and
//! bandwidth limits; and the four roles of the admin API, which are
//! built-in managed policies attached to users (no second permission system
//! beside IAM).
//!
//! Owns: reading accounts by id and by name, creating an account with fresh
//! ids, the checks of the bucket and access-key quotas, and which role a
//! user holds.

use crate::catalog::{Catalog, CatalogError};
use crate::directory::{AccessKeyRecord, AccountRecord, UserRecord};

pub const ROLE_SYSTEM_ADMIN_POLICY: &str = "maxiofs-system-admin";
pub const ROLE_TENANT_ADMIN_POLICY: &str = "maxiofs-tenant-admin";
pub const ROLE_USER_POLICY: &str = "maxiofs-user";
pub const ROLE_READ_ONLY_POLICY: &str = "maxiofs-read-only";

/// The roles, as the admin API names them, with their policies.
pub const ROLES: [(&str, &str); 4] = [
    ("system-admin", ROLE_SYSTEM_ADMIN_POLICY),
    ("tenant-admin", ROLE_TENANT_ADMIN_POLICY),
    ("user", ROLE_USER_POLICY),
    ("read-only", ROLE_READ_ONLY_POLICY),
];

/// A tenant name: what `<tenant>/<name>` logins and URLs carry.
pub fn valid_tenant_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric()
}

pub fn role_policy_arn(role: &str) -> Option<String> {
    ROLES
        .iter()
        .find(|(name, _)| *name == role)
        .map(|(_, policy)| format!("{}{policy}", super::iam::policies::AWS_MANAGED_PREFIX))
}

/// The role a user holds: the first role policy attached to it.
pub fn role_of(user: &UserRecord) -> Option<&'static str> {
    ROLES.iter().find_map(|(role, policy)| {
        let arn = format!("{}{policy}", super::iam::policies::AWS_MANAGED_PREFIX);
        user.policies.attached.contains(&arn).then_some(*role)
    })
}

/// Attaches `role`'s policy to `user` in place of any other role's.
pub fn set_role(user: &mut UserRecord, role: &str) -> bool {
    let Some(arn) = role_policy_arn(role) else {
        return false;
    };
    clear_role(user);
    user.policies.attached.push(arn);
    true
}

/// Detaches every role policy from `user` (a directory user no longer in a
/// mapped group).
pub fn clear_role(user: &mut UserRecord) {
    let role_arns: Vec<String> = ROLES
        .iter()
        .filter_map(|(name, _)| role_policy_arn(name))
        .collect();
    user.policies
        .attached
        .retain(|attached| !role_arns.contains(attached));
}

pub fn account_record(
    catalog: &Catalog,
    account_id: &str,
) -> Result<Option<AccountRecord>, CatalogError> {
    catalog.record::<AccountRecord>(account_id, account_id)
}

pub fn account_by_name(
    catalog: &Catalog,
    name: &str,
) -> Result<Option<AccountRecord>, CatalogError> {
    Ok(catalog
        .all_records::<AccountRecord>()?
        .into_iter()
        .map(|(_, account)| account)
        .find(|account| account.name == name))
}

/// Refuses a new access key beyond the account's quota.
pub fn check_access_key_quota(catalog: &Catalog, account_id: &str) -> Result<(), String> {
    let limit = account_record(catalog, account_id)
        .map_err(|err| err.to_string())?
        .and_then(|account| account.quota.access_keys);
    let Some(limit) = limit else {
        return Ok(());
    };
    let held = catalog
        .records::<AccessKeyRecord>(account_id)
        .map_err(|err| err.to_string())?
        .len() as u64;
    if held >= limit {
        return Err(format!(
            "The tenant's access key quota ({limit} keys) would be exceeded."
        ));
    }
    Ok(())
}

/// A new account: twelve random digits (not yet taken) and a random
/// canonical id, as AWS's look.
pub fn new_account(
    catalog: &Catalog,
    name: &str,
    now_ms: u64,
) -> Result<AccountRecord, CatalogError> {
    let taken: std::collections::HashSet<String> = catalog
        .all_records::<AccountRecord>()?
        .into_iter()
        .map(|(_, account)| account.id)
        .collect();
    let id = loop {
        let id = crate::credentials::random_from(b"0123456789", 12);
        if !taken.contains(&id) && !id.starts_with('0') {
            break id;
        }
    };
    Ok(AccountRecord {
        id,
        name: name.to_owned(),
        canonical_id: crate::credentials::random_from(b"0123456789abcdef", 64),
        created_ms: now_ms,
        display_name: String::new(),
        suspended: false,
        quota: Default::default(),
        bandwidth: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_are_url_and_login_safe() {
        assert!(valid_tenant_name("acme-01"));
        assert!(!valid_tenant_name("Acme"));
        assert!(!valid_tenant_name("a/b"));
        assert!(!valid_tenant_name("-a"));
        assert!(!valid_tenant_name(""));
        assert!(!valid_tenant_name(&"a".repeat(65)));
    }

    /// A role document that failed to parse would deny everything (stored
    /// policies fail closed): each must parse, and decide as meant.
    #[test]
    fn role_policies_parse_and_keep_tenant_admins_in_their_tenant() {
        use crate::control::iam::policies::aws_managed_policy;
        let arn = role_policy_arn("tenant-admin").unwrap();
        let document = aws_managed_policy(&arn).unwrap();
        let policy = iam::parse_policy(document, iam::PolicyKind::Identity).unwrap();
        for (_, name) in ROLES {
            let arn = format!("arn:aws:iam::aws:policy/{name}");
            let document = aws_managed_policy(&arn).unwrap();
            iam::parse_policy(document, iam::PolicyKind::Identity).unwrap();
        }
        let principal = iam::Principal {
            kind: iam::PrincipalKind::User,
            account_id: "111111111111".into(),
            canonical_id: "c".into(),
            arn: "arn:aws:iam::111111111111:user/a".into(),
            user_id: "AIDA".into(),
            name: "a".into(),
            role_arn: None,
            policies: vec![iam::NamedPolicy {
                name: "role".into(),
                policy: std::sync::Arc::new(policy),
            }],
            session_policies: Vec::new(),
        };
        let decide = |action: &str, resource: &str, account: &str| {
            iam::authorize(&iam::Request {
                principal: Some(&principal),
                action,
                resource,
                resource_account: Some(account),
                resource_policy: None,
                restrict_resource_policy_to_account: false,
                acl: None,
                now_ms: 0,
                facts: &iam::NoConditionValues,
            })
            .allowed
        };
        let own = "arn:aws:admin:::tenant/111111111111";
        let other = "arn:aws:admin:::tenant/222222222222";
        assert!(decide("admin:CreateUser", own, "111111111111"));
        assert!(!decide("admin:CreateUser", other, "222222222222"));
        assert!(!decide("admin:CreateUser", other, "111111111111"));
        assert!(!decide(
            "admin:CreateTenant",
            "arn:aws:admin:::system",
            "111111111111"
        ));
    }

    #[test]
    fn a_role_replaces_the_previous_one() {
        let mut user = UserRecord {
            name: "u".into(),
            path: "/".into(),
            id: "AIDA".into(),
            created_ms: 0,
            groups: vec![],
            policies: Default::default(),
            login: Default::default(),
        };
        assert!(set_role(&mut user, "tenant-admin"));
        assert_eq!(role_of(&user), Some("tenant-admin"));
        assert!(set_role(&mut user, "read-only"));
        assert_eq!(role_of(&user), Some("read-only"));
        assert_eq!(user.policies.attached.len(), 1);
        assert!(!set_role(&mut user, "owner"));
    }
}
