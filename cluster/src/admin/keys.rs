//! `/api/v1/tenants/{tenant}/users/{name}/keys[/{id}]`: a user's access
//! keys. Creating one is the only answer that ever carries a secret.

use serde_json::{json, Value};

use super::{rfc3339, AdminError, AdminRequest, AdminResponse, AdminResult, Caller};
use crate::control::tenants::check_access_key_quota;
use crate::control::ControlPlane;
use crate::directory::{AccessKeyRecord, RecordChange};

/// IAM's limit of keys per user, kept here too.
const ACCESS_KEYS_PER_USER_MAX: usize = 2;

fn key_json(key: &AccessKeyRecord) -> Value {
    json!({
        "access_key_id": key.id,
        "status": if key.active { "Active" } else { "Inactive" },
        "created_at": rfc3339(key.created_ms),
    })
}

impl ControlPlane {
    fn admin_user_keys(
        &self,
        account_id: &str,
        user: &str,
    ) -> Result<Vec<AccessKeyRecord>, AdminError> {
        Ok(self
            .catalog
            .records::<AccessKeyRecord>(account_id)?
            .into_iter()
            .filter(|key| key.user.eq_ignore_ascii_case(user))
            .collect())
    }

    pub(super) fn admin_list_keys(&self, caller: &Caller, tenant: &str, name: &str) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:ListKeys")?;
        let user = self.admin_user(&account, name)?;
        let keys: Vec<Value> = self
            .admin_user_keys(&account.id, &user.name)?
            .iter()
            .map(key_json)
            .collect();
        Ok(AdminResponse::json(200, &json!({"keys": keys})))
    }

    pub(super) async fn admin_create_key(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        tenant: &str,
        name: &str,
        now_ms: u64,
    ) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:CreateKey")?;
        let user = self.admin_user(&account, name)?;
        if self.admin_user_keys(&account.id, &user.name)?.len() >= ACCESS_KEYS_PER_USER_MAX {
            return Err(AdminError::new(
                409,
                "LimitExceeded",
                format!("A user has at most {ACCESS_KEYS_PER_USER_MAX} access keys."),
            ));
        }
        check_access_key_quota(&self.catalog, &account.id)
            .map_err(|message| AdminError::new(403, "QuotaExceeded", message))?;
        let secret = crate::credentials::random_secret();
        let key = AccessKeyRecord {
            id: crate::credentials::random_id("AKIA"),
            user: user.name.clone(),
            secret_sealed: self.master.seal_text(secret.as_bytes()),
            active: true,
            created_ms: now_ms,
        };
        self.catalog
            .write_records(&[RecordChange::put(&account.id, &key)])?;
        self.admin_publish().await?;
        let target = format!("{tenant}/{} key {}", user.name, key.id);
        self.admin_audit_entry(
            request,
            &account.id,
            &caller.display,
            "admin:CreateKey",
            &target,
            "success",
            "",
        );
        let mut answer = key_json(&key);
        answer["secret_access_key"] = json!(secret);
        Ok(AdminResponse::json(201, &answer))
    }

    pub(super) async fn admin_delete_key(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        tenant: &str,
        name: &str,
        id: &str,
    ) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:DeleteKey")?;
        let key = self
            .catalog
            .record::<AccessKeyRecord>(&account.id, id)?
            .filter(|key| key.user.eq_ignore_ascii_case(name))
            .ok_or_else(|| AdminError::not_found(format!("No key {id} for user {name}.")))?;
        self.catalog
            .write_records(&[RecordChange::delete::<AccessKeyRecord>(
                &account.id,
                &key.id,
            )])?;
        self.admin_publish().await?;
        let target = format!("{tenant}/{name} key {id}");
        self.admin_audit_entry(
            request,
            &account.id,
            &caller.display,
            "admin:DeleteKey",
            &target,
            "success",
            "",
        );
        Ok(AdminResponse::empty(204))
    }
}
