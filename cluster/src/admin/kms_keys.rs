//! `/api/v1/tenants/{tenant}/kms-keys[/{id}[/rotate]]`: a tenant's SSE-KMS
//! keys in the built-in key store (`crate::control::kms`), managed by system
//! admins and the tenant's admins. Key material is never answered. Keys are
//! disabled, not deleted: every object a key protects would be lost with it.

use serde_json::{json, Value};

use super::{
    json_body, rfc3339, string_field, AdminError, AdminRequest, AdminResponse, AdminResult, Caller,
};
use crate::control::kms::{self, KmsKeyRecord, KEYS_PER_ACCOUNT_MAX};
use crate::control::ControlPlane;
use crate::directory::{AccountRecord, RecordChange};

fn key_json(account: &AccountRecord, key: &KmsKeyRecord) -> Value {
    json!({
        "id": key.id,
        "arn": key.arn,
        "tenant": account.name,
        "alias": key.alias.as_ref().map(|alias| format!("alias/{alias}")),
        "description": key.description,
        "enabled": key.enabled,
        "created_at": rfc3339(key.created_ms),
        "versions": key.versions.len(),
        "rotated_at": key.versions.first().map(|version| rfc3339(version.created_ms)),
    })
}

impl ControlPlane {
    fn admin_kms_key(&self, account: &AccountRecord, id: &str) -> Result<KmsKeyRecord, AdminError> {
        self.catalog
            .record::<KmsKeyRecord>(&account.id, id)?
            .ok_or_else(|| {
                AdminError::not_found(format!("No KMS key {id} in tenant {}.", account.name))
            })
    }

    pub(super) fn admin_list_kms_keys(&self, caller: &Caller, tenant: &str) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:ListKmsKeys")?;
        let mut keys = self.catalog.records::<KmsKeyRecord>(&account.id)?;
        keys.sort_by_key(|key| key.created_ms);
        let shown: Vec<Value> = keys.iter().map(|key| key_json(&account, key)).collect();
        Ok(AdminResponse::json(200, &json!({"kms_keys": shown})))
    }

    pub(super) fn admin_get_kms_key(&self, caller: &Caller, tenant: &str, id: &str) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:GetKmsKey")?;
        let key = self.admin_kms_key(&account, id)?;
        Ok(AdminResponse::json(200, &key_json(&account, &key)))
    }

    pub(super) async fn admin_create_kms_key(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        tenant: &str,
        now_ms: u64,
    ) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:CreateKmsKey")?;
        let body = json_body(request)?;
        let alias = string_field(&body, "alias")?
            .map(|alias| alias.strip_prefix("alias/").unwrap_or(alias).to_owned());
        if let Some(alias) = &alias {
            if !kms::valid_alias(alias) {
                return Err(AdminError::bad_request(
                    "alias is 1-256 letters, digits, '/', '_' and '-', and may not start with aws/.",
                ));
            }
        }
        let description = string_field(&body, "description")?.unwrap_or("").to_owned();
        if description.chars().count() > 8192 {
            return Err(AdminError::bad_request(
                "description is at most 8192 characters.",
            ));
        }
        let existing = self.catalog.records::<KmsKeyRecord>(&account.id)?;
        if existing.len() >= KEYS_PER_ACCOUNT_MAX {
            return Err(AdminError::new(
                409,
                "LimitExceeded",
                format!("A tenant has at most {KEYS_PER_ACCOUNT_MAX} KMS keys."),
            ));
        }
        if alias.is_some() && existing.iter().any(|key| key.alias == alias) {
            return Err(AdminError::new(
                409,
                "AlreadyExists",
                "Another key of this tenant has that alias.",
            ));
        }
        let key = kms::new_key(
            &self.master,
            &self.region,
            &account.id,
            alias,
            description,
            now_ms,
        );
        self.catalog
            .write_records(&[RecordChange::put(&account.id, &key)])?;
        self.admin_publish().await?;
        self.admin_audit_entry(
            request,
            &account.id,
            &caller.display,
            "admin:CreateKmsKey",
            &key.arn,
            "success",
            "",
        );
        Ok(AdminResponse::json(201, &key_json(&account, &key)))
    }

    pub(super) async fn admin_update_kms_key(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        tenant: &str,
        id: &str,
    ) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:UpdateKmsKey")?;
        let mut key = self.admin_kms_key(&account, id)?;
        let body = json_body(request)?;
        if let Some(unknown) = body.as_object().and_then(|fields| {
            fields
                .keys()
                .find(|k| *k != "enabled" && *k != "description")
        }) {
            return Err(AdminError::bad_request(format!(
                "Unknown field {unknown:?}: a key's enabled and description can change."
            )));
        }
        match body.get("enabled") {
            None | Some(Value::Null) => {}
            Some(Value::Bool(enabled)) => key.enabled = *enabled,
            Some(_) => return Err(AdminError::bad_request("enabled must be true or false.")),
        }
        if let Some(description) = string_field(&body, "description")? {
            if description.chars().count() > 8192 {
                return Err(AdminError::bad_request(
                    "description is at most 8192 characters.",
                ));
            }
            key.description = description.to_owned();
        }
        self.catalog
            .write_records(&[RecordChange::put(&account.id, &key)])?;
        self.admin_publish().await?;
        self.admin_audit_entry(
            request,
            &account.id,
            &caller.display,
            "admin:UpdateKmsKey",
            &key.arn,
            "success",
            if key.enabled { "enabled" } else { "disabled" },
        );
        Ok(AdminResponse::json(200, &key_json(&account, &key)))
    }

    pub(super) async fn admin_rotate_kms_key(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        tenant: &str,
        id: &str,
        now_ms: u64,
    ) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:RotateKmsKey")?;
        let mut key = self.admin_kms_key(&account, id)?;
        if !kms::rotate(&mut key, &self.master, now_ms) {
            return Err(AdminError::new(
                409,
                "LimitExceeded",
                format!("A key keeps at most {} versions.", kms::VERSIONS_MAX),
            ));
        }
        self.catalog
            .write_records(&[RecordChange::put(&account.id, &key)])?;
        self.admin_publish().await?;
        self.admin_audit_entry(
            request,
            &account.id,
            &caller.display,
            "admin:RotateKmsKey",
            &key.arn,
            "success",
            &format!("version {}", key.versions.len()),
        );
        Ok(AdminResponse::json(200, &key_json(&account, &key)))
    }
}
