//! `/api/v1/tenants/{tenant}/notification-targets[/{name}]`: the webhooks a
//! tenant's buckets may send event notifications to (`crate::notify`).
//! System admins create, change and delete them (the server POSTs to the
//! URL, which a tenant must not be able to point anywhere); the tenant's
//! admins list them to learn their ARNs. `auth_header` is write-only.

use serde_json::{json, Value};

use super::{
    json_body, rfc3339, string_field, AdminError, AdminRequest, AdminResponse, AdminResult, Caller,
};
use crate::control::tenants::account_by_name;
use crate::control::ControlPlane;
use crate::directory::{AccountRecord, RecordChange};
use crate::notify::targets::{self, NotificationTargetRecord, TARGETS_PER_TENANT_MAX};

const FIELDS: &[&str] = &["name", "url", "auth_header", "ca_pem"];

impl ControlPlane {
    fn target_json(&self, account: &AccountRecord, record: &NotificationTargetRecord) -> Value {
        let stats = self
            .notifier
            .target_stats(&format!("{}/{}", account.id, record.name));
        let load = |counter: fn(&crate::notify::TargetStats) -> &std::sync::atomic::AtomicU64| {
            stats
                .as_deref()
                .map(|stats| counter(stats).load(std::sync::atomic::Ordering::Relaxed))
                .unwrap_or(0)
        };
        json!({
            "name": record.name,
            "tenant": account.name,
            "type": "webhook",
            "arn": s3::notify::target_arn(&self.region, &account.id, &record.name),
            "url": record.url,
            "auth_header_set": record.auth_header_sealed.is_some(),
            "ca_pem": record.ca_pem,
            "created_at": rfc3339(record.created_ms),
            "queue": {
                "events": load(|s| &s.queued_events),
                "bytes": load(|s| &s.queued_bytes),
                "delivered": load(|s| &s.delivered),
                "failures": load(|s| &s.failures),
                "retried": load(|s| &s.retried),
                "dropped": load(|s| &s.dropped),
            },
        })
    }

    /// Hands every target, secrets opened, to the notifier (at start and
    /// after each change).
    pub fn notification_targets_apply(&self, initial: bool) -> Result<(), String> {
        let specs = self
            .catalog
            .all_records::<NotificationTargetRecord>()
            .map_err(|err| err.to_string())?
            .iter()
            .map(|(account, record)| targets::spec(account, record, &self.master))
            .collect();
        self.notifier.configure(specs, initial)
    }

    /// The tenant a system admin's change is about (only system admins
    /// change targets).
    fn target_tenant_for_change(
        &self,
        caller: &Caller,
        tenant: &str,
        action: &str,
    ) -> Result<AccountRecord, AdminError> {
        self.admin_require(caller, action, None)?;
        account_by_name(&self.catalog, tenant)?
            .ok_or_else(|| AdminError::not_found(format!("No tenant named {tenant}.")))
    }

    fn admin_target(
        &self,
        account: &AccountRecord,
        name: &str,
    ) -> Result<NotificationTargetRecord, AdminError> {
        self.catalog
            .record::<NotificationTargetRecord>(&account.id, name)?
            .ok_or_else(|| {
                AdminError::not_found(format!(
                    "No notification target {name} in tenant {}.",
                    account.name
                ))
            })
    }

    pub(super) fn admin_list_targets(&self, caller: &Caller, tenant: &str) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:ListNotificationTargets")?;
        let mut found = self
            .catalog
            .records::<NotificationTargetRecord>(&account.id)?;
        found.sort_by(|a, b| a.name.cmp(&b.name));
        let shown: Vec<Value> = found
            .iter()
            .map(|r| self.target_json(&account, r))
            .collect();
        Ok(AdminResponse::json(
            200,
            &json!({"notification_targets": shown}),
        ))
    }

    pub(super) fn admin_get_target(
        &self,
        caller: &Caller,
        tenant: &str,
        name: &str,
    ) -> AdminResult {
        let account = self.admin_tenant(caller, tenant, "admin:GetNotificationTarget")?;
        let record = self.admin_target(&account, name)?;
        Ok(AdminResponse::json(
            200,
            &self.target_json(&account, &record),
        ))
    }

    pub(super) async fn admin_create_target(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        tenant: &str,
        now_ms: u64,
    ) -> AdminResult {
        let account =
            self.target_tenant_for_change(caller, tenant, "admin:CreateNotificationTarget")?;
        let body = json_body(request)?;
        fields_check(&body)?;
        let name = string_field(&body, "name")?.unwrap_or("");
        if !targets::valid_name(name) {
            return Err(AdminError::bad_request(
                "name is 1-64 letters, digits, '-' and '_'.",
            ));
        }
        let url = string_field(&body, "url")?
            .ok_or_else(|| AdminError::bad_request("url is required."))?;
        let mut record = NotificationTargetRecord {
            id: targets::new_id(),
            name: name.to_owned(),
            url: String::new(),
            auth_header_sealed: None,
            ca_pem: None,
            created_ms: now_ms,
        };
        self.target_fields_apply(&mut record, &body, url)?;
        let existing = self
            .catalog
            .records::<NotificationTargetRecord>(&account.id)?;
        if existing.iter().any(|other| other.name == record.name) {
            return Err(AdminError::new(
                409,
                "AlreadyExists",
                format!("A notification target named {name} exists."),
            ));
        }
        if existing.len() >= TARGETS_PER_TENANT_MAX {
            return Err(AdminError::new(
                409,
                "LimitExceeded",
                format!("A tenant has at most {TARGETS_PER_TENANT_MAX} notification targets."),
            ));
        }
        let action = ("admin:CreateNotificationTarget", 201);
        self.target_save(request, caller, (&account, &record), action)
            .await
    }

    pub(super) async fn admin_update_target(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        tenant: &str,
        name: &str,
    ) -> AdminResult {
        let account =
            self.target_tenant_for_change(caller, tenant, "admin:UpdateNotificationTarget")?;
        let mut record = self.admin_target(&account, name)?;
        let body = json_body(request)?;
        fields_check(&body)?;
        if string_field(&body, "name")?.is_some_and(|new| new != record.name) {
            return Err(AdminError::bad_request(
                "A target's name is part of its ARN and cannot change.",
            ));
        }
        let url = string_field(&body, "url")?
            .map(str::to_owned)
            .unwrap_or_else(|| record.url.clone());
        self.target_fields_apply(&mut record, &body, &url)?;
        let action = ("admin:UpdateNotificationTarget", 200);
        self.target_save(request, caller, (&account, &record), action)
            .await
    }

    /// Stores a created or changed target and answers it with `status`.
    async fn target_save(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        (account, record): (&AccountRecord, &NotificationTargetRecord),
        (action, status): (&str, u16),
    ) -> AdminResult {
        self.catalog
            .write_records(&[RecordChange::put(&account.id, record)])?;
        self.target_changed(request, caller, account, record, action)
            .await?;
        Ok(AdminResponse::json(
            status,
            &self.target_json(account, record),
        ))
    }

    pub(super) async fn admin_delete_target(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        tenant: &str,
        name: &str,
    ) -> AdminResult {
        let account =
            self.target_tenant_for_change(caller, tenant, "admin:DeleteNotificationTarget")?;
        let record = self.admin_target(&account, name)?;
        self.catalog
            .write_records(&[RecordChange::delete::<NotificationTargetRecord>(
                &account.id,
                name,
            )])?;
        self.target_changed(
            request,
            caller,
            &account,
            &record,
            "admin:DeleteNotificationTarget",
        )
        .await?;
        Ok(AdminResponse::empty(204))
    }

    /// Sets the URL and, when the body has them, the secret and the CA
    /// (`null` removes either).
    fn target_fields_apply(
        &self,
        record: &mut NotificationTargetRecord,
        body: &Value,
        url: &str,
    ) -> Result<(), AdminError> {
        targets::url_check(url).map_err(AdminError::bad_request)?;
        record.url = url.to_owned();
        match body.get("auth_header") {
            None => {}
            Some(Value::Null) => record.auth_header_sealed = None,
            Some(Value::String(value)) => {
                targets::auth_header_check(value).map_err(AdminError::bad_request)?;
                record.auth_header_sealed = Some(self.master.seal_text(value.as_bytes()));
            }
            Some(_) => return Err(AdminError::bad_request("auth_header must be a string.")),
        }
        match body.get("ca_pem") {
            None => {}
            Some(Value::Null) => record.ca_pem = None,
            Some(Value::String(pem)) if pem.trim().is_empty() => record.ca_pem = None,
            Some(Value::String(pem)) => {
                targets::ca_check(pem)
                    .map_err(|err| AdminError::bad_request(format!("ca_pem: {err}")))?;
                record.ca_pem = Some(pem.clone());
            }
            Some(_) => return Err(AdminError::bad_request("ca_pem must be a string.")),
        }
        Ok(())
    }

    /// After a change: the notifier and the shards' snapshot follow, and the
    /// change is audited.
    async fn target_changed(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        account: &AccountRecord,
        record: &NotificationTargetRecord,
        action: &str,
    ) -> Result<(), AdminError> {
        self.notification_targets_apply(false)
            .map_err(|err| AdminError::new(500, "InternalError", err))?;
        self.admin_publish().await?;
        self.admin_audit_entry(
            request,
            &account.id,
            &caller.display,
            action,
            &s3::notify::target_arn(&self.region, &account.id, &record.name),
            "success",
            // Without the query, which may hold a collector's key.
            &targets::url_check(&record.url)
                .map(|url| url.to_string())
                .unwrap_or_default(),
        );
        Ok(())
    }
}

fn fields_check(body: &Value) -> Result<(), AdminError> {
    if let Some(unknown) = body
        .as_object()
        .and_then(|fields| fields.keys().find(|k| !FIELDS.contains(&k.as_str())))
    {
        return Err(AdminError::bad_request(format!(
            "Unknown field {unknown:?}: a target has name, url, auth_header and ca_pem."
        )));
    }
    Ok(())
}
