//! `/api/v1/tenants/{tenant}/users[/{name}]`: a tenant's users with their
//! role and console password. They are the users the IAM API manages (same
//! records); a role is the role policy attached to the user.

use serde_json::{json, Value};

use super::{
    json_body, rfc3339, string_field, AdminError, AdminRequest, AdminResponse, AdminResult, Caller,
};
use crate::auth::password;
use crate::control::tenants::{role_of, set_role, ROLES};
use crate::control::ControlPlane;
use crate::directory::{AccessKeyRecord, AccountRecord, RecordChange, UserRecord};

/// IAM's UsersPerAccount quota.
const USERS_PER_ACCOUNT_MAX: usize = 5000;

/// IAM's user name rule: 1-64 of letters, digits and `+=,.@_-`.
fn valid_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

pub(crate) fn user_json(account: &AccountRecord, user: &UserRecord) -> Value {
    json!({
        "name": user.name,
        "tenant": account.name,
        "role": role_of(user),
        "arn": format!("arn:aws:iam::{}:user{}{}", account.id, user.path, user.name),
        "created_at": rfc3339(user.created_ms),
        "has_password": user.login.password_hash.is_some(),
        "totp_enabled": user.login.totp_sealed.is_some(),
    })
}

impl ControlPlane {
    fn admin_is_system(&self, caller: &Caller) -> bool {
        self.admin_allowed(caller, "admin:CreateTenant", None)
    }

    /// Checks a role the caller wants to give: known, and system-admin only
    /// from a system admin, in the default tenant.
    fn admin_check_role(
        &self,
        caller: &Caller,
        account: &AccountRecord,
        role: &str,
    ) -> Result<(), AdminError> {
        if !ROLES.iter().any(|(name, _)| *name == role) {
            return Err(AdminError::bad_request(
                "role is one of system-admin, tenant-admin, user, read-only.",
            ));
        }
        if role == "system-admin" {
            if account.id != self.default_account {
                return Err(AdminError::bad_request(
                    "System admins belong to the default tenant.",
                ));
            }
            // As through IAM: only the root makes system admins.
            if !caller.is_root() {
                return Err(AdminError::denied());
            }
        }
        Ok(())
    }

    pub(super) fn admin_user(
        &self,
        account: &AccountRecord,
        name: &str,
    ) -> Result<UserRecord, AdminError> {
        self.catalog
            .record::<UserRecord>(&account.id, name)?
            .ok_or_else(|| {
                AdminError::not_found(format!("No user {name} in tenant {}.", account.name))
            })
    }

    pub(super) fn admin_list_users(&self, caller: &Caller, tenant: &str) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:ListUsers")?;
        let users: Vec<Value> = self
            .catalog
            .records::<UserRecord>(&account.id)?
            .iter()
            .map(|user| user_json(&account, user))
            .collect();
        Ok(AdminResponse::json(200, &json!({"users": users})))
    }

    pub(super) fn admin_get_user(&self, caller: &Caller, tenant: &str, name: &str) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:GetUser")?;
        let user = self.admin_user(&account, name)?;
        Ok(AdminResponse::json(200, &user_json(&account, &user)))
    }

    pub(super) async fn admin_create_user(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        tenant: &str,
        now_ms: u64,
    ) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:CreateUser")?;
        let body = json_body(request)?;
        let name = string_field(&body, "name")?
            .ok_or_else(|| AdminError::bad_request("name is required."))?;
        if !valid_user_name(name) {
            return Err(AdminError::bad_request(
                "A user name is 1-64 letters, digits and +=,.@_- characters.",
            ));
        }
        let role = string_field(&body, "role")?.unwrap_or("user");
        self.admin_check_role(caller, &account, role)?;
        // IAM's limit holds here too: every user is in every shard's snapshot.
        if self.catalog.records::<UserRecord>(&account.id)?.len() >= USERS_PER_ACCOUNT_MAX {
            return Err(AdminError::new(
                409,
                "LimitExceeded",
                format!("A tenant has at most {USERS_PER_ACCOUNT_MAX} users."),
            ));
        }
        if self
            .catalog
            .record::<UserRecord>(&account.id, name)?
            .is_some()
        {
            return Err(AdminError::new(
                409,
                "AlreadyExists",
                format!("User {name} exists."),
            ));
        }
        let mut user = UserRecord {
            name: name.to_owned(),
            path: "/".to_owned(),
            id: crate::credentials::random_id("AIDA"),
            created_ms: now_ms,
            groups: Vec::new(),
            policies: Default::default(),
            login: Default::default(),
        };
        set_role(&mut user, role);
        if let Some(secret) = string_field(&body, "password")? {
            password::check_password_strength(secret)
                .map_err(|err| AdminError::bad_request(err.to_string()))?;
            user.login.password_hash =
                Some(password::hash_password(secret).map_err(AdminError::internal)?);
        }
        self.catalog
            .write_records(&[RecordChange::put(&account.id, &user)])?;
        self.admin_publish().await?;
        let target = format!("{tenant}/{name}");
        self.admin_audit_entry(
            request,
            &account.id,
            &caller.display,
            "admin:CreateUser",
            &target,
            "success",
            &format!("role {role}"),
        );
        Ok(AdminResponse::json(201, &user_json(&account, &user)))
    }

    pub(super) async fn admin_update_user(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        tenant: &str,
        name: &str,
        now_ms: u64,
    ) -> AdminResult {
        let body = json_body(request)?;
        // Anyone may change their own password, proving the current one
        // (a stolen session alone cannot take the account over).
        let own_account = crate::control::tenants::account_by_name(&self.catalog, tenant)?
            .filter(|account| account.id == caller.account());
        let is_self = own_account.is_some()
            && caller
                .user
                .as_deref()
                .is_some_and(|own| own.eq_ignore_ascii_case(name));
        let only_password = body.as_object().is_some_and(|fields| {
            fields
                .keys()
                .all(|k| k == "password" || k == "current_password")
        });
        let account = match own_account {
            Some(account) if is_self && only_password => account,
            _ => self.admin_tenant(caller, tenant, "admin:UpdateUser")?,
        };
        let mut user = self.admin_user(&account, name)?;
        if role_of(&user) == Some("system-admin")
            && !caller.is_root()
            && !self.admin_is_system(caller)
        {
            return Err(AdminError::denied());
        }
        if let Some(field) = body.as_object().and_then(|fields| {
            fields
                .keys()
                .find(|k| !["role", "password", "current_password"].contains(&k.as_str()))
        }) {
            return Err(AdminError::bad_request(format!(
                "{field} cannot be changed here (role and password can)."
            )));
        }
        if is_self && body.get("password").is_some() {
            let current = string_field(&body, "current_password")?.unwrap_or("");
            let proven = user
                .login
                .password_hash
                .as_deref()
                .is_some_and(|hash| password::verify_password(current, hash));
            if !proven {
                return Err(AdminError::new(
                    403,
                    "InvalidCredentials",
                    "Changing your own password needs the current one (current_password).",
                ));
            }
        }
        let mut changed = Vec::new();
        if let Some(role) = string_field(&body, "role")? {
            self.admin_check_role(caller, &account, role)?;
            set_role(&mut user, role);
            changed.push(format!("role {role}"));
        }
        if let Some(secret) = string_field(&body, "password")? {
            password::check_password_strength(secret)
                .map_err(|err| AdminError::bad_request(err.to_string()))?;
            user.login.password_hash =
                Some(password::hash_password(secret).map_err(AdminError::internal)?);
            user.login.sessions_after_ms = now_ms;
            changed.push("password".to_owned());
        }
        self.catalog
            .write_records(&[RecordChange::put(&account.id, &user)])?;
        self.admin_publish().await?;
        let target = format!("{tenant}/{}", user.name);
        self.admin_audit_entry(
            request,
            &account.id,
            &caller.display,
            "admin:UpdateUser",
            &target,
            "success",
            &changed.join(", "),
        );
        Ok(AdminResponse::json(200, &user_json(&account, &user)))
    }

    pub(super) async fn admin_delete_user(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        tenant: &str,
        name: &str,
    ) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:DeleteUser")?;
        let user = self.admin_user(&account, name)?;
        if role_of(&user) == Some("system-admin")
            && !caller.is_root()
            && !self.admin_is_system(caller)
        {
            return Err(AdminError::denied());
        }
        // Unlike IAM's DeleteUser, the admin API removes the user's keys
        // with it: a console "delete user" means the person is gone.
        let mut changes = vec![RecordChange::delete::<UserRecord>(&account.id, &user.name)];
        for key in self.catalog.records::<AccessKeyRecord>(&account.id)? {
            if key.user.eq_ignore_ascii_case(&user.name) {
                changes.push(RecordChange::delete::<AccessKeyRecord>(
                    &account.id,
                    &key.id,
                ));
            }
        }
        self.catalog.write_records(&changes)?;
        self.admin_publish().await?;
        let target = format!("{tenant}/{}", user.name);
        self.admin_audit_entry(
            request,
            &account.id,
            &caller.display,
            "admin:DeleteUser",
            &target,
            "success",
            "",
        );
        Ok(AdminResponse::empty(204))
    }
}
