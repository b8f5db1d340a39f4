//! `/api/v1/tenants[/{name}]`: tenants (accounts) with their display name,
//! status, quotas, bandwidth limits and usage.

use std::collections::HashMap;

use engine::usage::BucketUsage;
use serde_json::{json, Value};

use super::{
    json_body, optional_u64, rfc3339, string_field, AdminError, AdminRequest, AdminResponse,
    AdminResult, Caller,
};
use crate::control::tenants::{account_by_name, new_account, valid_tenant_name};
use crate::control::ControlPlane;
use crate::directory::{AccessKeyRecord, AccountRecord, GroupRecord, ManagedPolicyRecord};
use crate::directory::{Record, RecordChange, RoleRecord, SessionRecord, UserRecord};

impl ControlPlane {
    /// The tenant named `name`, or 404 (403 first if the caller may not see
    /// it, so names of other tenants do not leak).
    pub(crate) fn admin_tenant(
        &self,
        caller: &Caller,
        name: &str,
        action: &str,
    ) -> Result<AccountRecord, AdminError> {
        let account = account_by_name(&self.catalog, name)?;
        let account_id = account.as_ref().map(|a| a.id.as_str()).unwrap_or("unknown");
        self.admin_require(caller, action, Some(account_id))?;
        account.ok_or_else(|| AdminError::not_found(format!("No tenant named {name}.")))
    }

    pub(crate) fn tenant_json(
        &self,
        account: &AccountRecord,
        usages: &HashMap<u64, BucketUsage>,
    ) -> Result<Value, AdminError> {
        let buckets: Vec<u64> = self
            .snapshot
            .buckets
            .values()
            .filter(|bucket| bucket.owner_account == account.id)
            .map(|bucket| bucket.id)
            .collect();
        let (mut bytes, mut objects) = (0u64, 0u64);
        for id in &buckets {
            if let Some(usage) = usages.get(id) {
                bytes += usage.quota_bytes();
                objects += usage.objects;
            }
        }
        let keys = self.catalog.records::<AccessKeyRecord>(&account.id)?.len();
        Ok(json!({
            "name": account.name,
            "display_name": if account.display_name.is_empty() { &account.name } else { &account.display_name },
            "status": if account.suspended { "suspended" } else { "active" },
            "account_id": account.id,
            "canonical_id": account.canonical_id,
            "created_at": rfc3339(account.created_ms),
            "quota": {
                "storage_bytes": account.quota.storage_bytes,
                "objects": account.quota.objects,
                "buckets": account.quota.buckets,
                "access_keys": account.quota.access_keys,
            },
            "bandwidth": {
                "in_bytes_per_second": account.bandwidth.in_bytes_per_second,
                "out_bytes_per_second": account.bandwidth.out_bytes_per_second,
            },
            "usage": {
                "storage_bytes": bytes,
                "objects": objects,
                "buckets": buckets.len(),
                "access_keys": keys,
            },
        }))
    }

    pub(super) async fn admin_list_tenants(&self, caller: &Caller) -> AdminResult {
        let system = self.admin_allowed(caller, "admin:ListTenants", None);
        // Refused before any work: the usages cost a round over the shards.
        if !system && !self.admin_allowed(caller, "admin:GetTenant", Some(caller.account())) {
            return Err(AdminError::denied());
        }
        let usages = self.bucket_usages().await;
        let mut tenants = Vec::new();
        for (_, account) in self.catalog.all_records::<AccountRecord>()? {
            // A tenant admin sees its own tenant.
            if system || self.admin_allowed(caller, "admin:GetTenant", Some(&account.id)) {
                tenants.push(self.tenant_json(&account, &usages)?);
            }
        }
        if tenants.is_empty() && !system {
            return Err(AdminError::denied());
        }
        Ok(AdminResponse::json(200, &json!({"tenants": tenants})))
    }

    pub(super) async fn admin_get_tenant(&self, caller: &Caller, name: &str) -> AdminResult {
        let account = self.admin_tenant(caller, name, "admin:GetTenant")?;
        let usages = self.bucket_usages().await;
        Ok(AdminResponse::json(
            200,
            &self.tenant_json(&account, &usages)?,
        ))
    }

    pub(super) async fn admin_create_tenant(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        now_ms: u64,
    ) -> AdminResult {
        self.admin_require(caller, "admin:CreateTenant", None)?;
        let body = json_body(request)?;
        let name = string_field(&body, "name")?
            .ok_or_else(|| AdminError::bad_request("name is required."))?;
        if !valid_tenant_name(name) {
            return Err(AdminError::bad_request(
                "A tenant name is 1-64 characters: lower-case letters, digits, '-' and '_', \
                 starting with a letter or digit.",
            ));
        }
        if account_by_name(&self.catalog, name)?.is_some() {
            return Err(AdminError::new(
                409,
                "AlreadyExists",
                format!("Tenant {name} exists."),
            ));
        }
        let mut account = new_account(&self.catalog, name, now_ms)?;
        apply_tenant_fields(&mut account, &body)?;
        self.catalog
            .write_records(&[RecordChange::put(&account.id, &account)])?;
        crate::control::kms::ensure_default_key(
            &self.catalog,
            &self.master,
            &self.region,
            &account.id,
            now_ms,
        )?;
        self.admin_publish().await?;
        self.admin_audit_entry(
            request,
            &account.id,
            &caller.display,
            "admin:CreateTenant",
            name,
            "success",
            "",
        );
        let usages = HashMap::new();
        Ok(AdminResponse::json(
            201,
            &self.tenant_json(&account, &usages)?,
        ))
    }

    pub(super) async fn admin_update_tenant(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        name: &str,
    ) -> AdminResult {
        self.admin_require(caller, "admin:UpdateTenant", None)?;
        let mut account = account_by_name(&self.catalog, name)?
            .ok_or_else(|| AdminError::not_found(format!("No tenant named {name}.")))?;
        let body = json_body(request)?;
        let before = account.clone();
        apply_tenant_fields(&mut account, &body)?;
        if account.suspended && account.id == self.default_account {
            return Err(AdminError::bad_request(
                "The default tenant holds the root and cannot be suspended.",
            ));
        }
        if before.quota != account.quota {
            self.quota_changing(&account.id).await;
        }
        self.catalog
            .write_records(&[RecordChange::put(&account.id, &account)])?;
        self.admin_publish().await?;
        let detail = serde_json::to_string(&body).unwrap_or_default();
        self.admin_audit_entry(
            request,
            &account.id,
            &caller.display,
            "admin:UpdateTenant",
            name,
            "success",
            &detail,
        );
        let usages = self.bucket_usages().await;
        Ok(AdminResponse::json(
            200,
            &self.tenant_json(&account, &usages)?,
        ))
    }

    pub(super) async fn admin_delete_tenant(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        name: &str,
    ) -> AdminResult {
        self.admin_require(caller, "admin:DeleteTenant", None)?;
        let account = account_by_name(&self.catalog, name)?
            .ok_or_else(|| AdminError::not_found(format!("No tenant named {name}.")))?;
        if account.id == self.default_account {
            return Err(AdminError::bad_request(
                "The default tenant cannot be deleted.",
            ));
        }
        let owns_buckets = self
            .snapshot
            .buckets
            .values()
            .any(|bucket| bucket.owner_account == account.id);
        if owns_buckets {
            return Err(AdminError::new(
                409,
                "NotEmpty",
                "The tenant still owns buckets; delete them first.",
            ));
        }
        let mut changes = vec![RecordChange::delete::<AccountRecord>(
            &account.id,
            &account.id,
        )];
        let catalog = &self.catalog;
        let id = &account.id;
        delete_all::<UserRecord>(catalog, id, &mut changes)?;
        delete_all::<AccessKeyRecord>(catalog, id, &mut changes)?;
        delete_all::<GroupRecord>(catalog, id, &mut changes)?;
        delete_all::<RoleRecord>(catalog, id, &mut changes)?;
        delete_all::<ManagedPolicyRecord>(catalog, id, &mut changes)?;
        delete_all::<SessionRecord>(catalog, id, &mut changes)?;
        delete_all::<crate::federation::providers::IdentityProviderRecord>(
            catalog,
            id,
            &mut changes,
        )?;
        delete_all::<crate::control::kms::KmsKeyRecord>(catalog, id, &mut changes)?;
        delete_all::<crate::notify::targets::NotificationTargetRecord>(catalog, id, &mut changes)?;
        self.catalog.write_records(&changes)?;
        // Its targets stop, and their queues go with them.
        self.notification_targets_apply(false)
            .map_err(|err| AdminError::new(500, "InternalError", err))?;
        self.admin_publish().await?;
        self.admin_audit_entry(
            request,
            &account.id,
            &caller.display,
            "admin:DeleteTenant",
            name,
            "success",
            "",
        );
        Ok(AdminResponse::empty(204))
    }

    /// Publishes a snapshot after an admin change (every shard installs it
    /// before the caller hears back).
    pub(crate) async fn admin_publish(&mut self) -> Result<(), AdminError> {
        self.publish()
            .await
            .map(|_| ())
            .map_err(|err| AdminError::internal(err.message))
    }
}

/// Adds the deletion of every record of kind `T` in `account` to `changes`.
fn delete_all<T: Record>(
    catalog: &crate::catalog::Catalog,
    account: &str,
    changes: &mut Vec<RecordChange>,
) -> Result<(), AdminError> {
    for record in catalog.records::<T>(account)? {
        changes.push(RecordChange::delete::<T>(account, record.record_name()));
    }
    Ok(())
}

/// Applies the optional fields of a tenant body.
fn apply_tenant_fields(account: &mut AccountRecord, body: &Value) -> Result<(), AdminError> {
    if let Some(display) = string_field(body, "display_name")? {
        if display.chars().count() > 256 {
            return Err(AdminError::bad_request(
                "display_name is at most 256 characters.",
            ));
        }
        account.display_name = display.to_owned();
    }
    if let Some(status) = string_field(body, "status")? {
        account.suspended = match status {
            "active" => false,
            "suspended" => true,
            _ => return Err(AdminError::bad_request("status is active or suspended.")),
        };
    }
    if let Some(quota) = body.get("quota") {
        if !quota.is_null() && !quota.is_object() {
            return Err(AdminError::bad_request("quota must be an object."));
        }
        let quota_fields = [
            ("storage_bytes", &mut account.quota.storage_bytes),
            ("objects", &mut account.quota.objects),
            ("buckets", &mut account.quota.buckets),
            ("access_keys", &mut account.quota.access_keys),
        ];
        for (field, slot) in quota_fields {
            if quota.is_null() {
                *slot = None;
            } else if let Some(value) = optional_u64(quota, field)? {
                *slot = value;
            }
        }
    }
    if let Some(bandwidth) = body.get("bandwidth") {
        if !bandwidth.is_null() && !bandwidth.is_object() {
            return Err(AdminError::bad_request("bandwidth must be an object."));
        }
        let fields = [
            (
                "in_bytes_per_second",
                &mut account.bandwidth.in_bytes_per_second,
            ),
            (
                "out_bytes_per_second",
                &mut account.bandwidth.out_bytes_per_second,
            ),
        ];
        for (field, slot) in fields {
            if bandwidth.is_null() {
                *slot = None;
            } else if let Some(value) = optional_u64(bandwidth, field)? {
                let floor = s3::throttle::RATE_BYTES_PER_SECOND_MIN;
                if value.is_some_and(|rate| rate < floor) {
                    return Err(AdminError::bad_request(format!(
                        "bandwidth.{field} is at least {floor} bytes per second (null: unlimited)."
                    )));
                }
                *slot = value;
            }
        }
    }
    Ok(())
}
