//! `/api/v1/usage[?tenant=]`: per tenant the figures a provider bills from:
//! bytes (logical and stored), objects, versions, multipart bytes in flight,
//! buckets, access keys, and requests and bytes in and out per day.

use serde_json::{json, Value};

use super::{AdminError, AdminRequest, AdminResponse, AdminResult, Caller};
use crate::control::ControlPlane;
use crate::directory::{AccessKeyRecord, AccountRecord};

/// Days of traffic a usage answer lists.
const USAGE_DAYS_MAX: usize = 90;

impl ControlPlane {
    pub(super) async fn admin_usage(&self, request: &AdminRequest, caller: &Caller) -> AdminResult {
        let wanted = request.query_param("tenant");
        if let Some(name) = wanted {
            // 403 before 404, so names of other tenants do not leak.
            self.admin_tenant(caller, name, "admin:GetUsage")?;
        } else if !self.admin_allowed(caller, "admin:GetUsage", None)
            && !self.admin_allowed(caller, "admin:GetUsage", Some(caller.account()))
        {
            return Err(AdminError::denied());
        }
        let usages = self.bucket_usages().await;
        let mut tenants = Vec::new();
        let mut found = false;
        for (_, account) in self.catalog.all_records::<AccountRecord>()? {
            if wanted.is_some_and(|name| name != account.name) {
                continue;
            }
            found = true;
            if !self.admin_allowed(caller, "admin:GetUsage", Some(&account.id)) {
                if wanted.is_some() {
                    return Err(AdminError::denied());
                }
                continue;
            }
            let mut totals = engine::usage::BucketUsage::default();
            let mut buckets = 0u64;
            for bucket in self
                .snapshot
                .buckets
                .values()
                .filter(|b| b.owner_account == account.id)
            {
                buckets += 1;
                if let Some(usage) = usages.get(&bucket.id) {
                    totals.bytes += usage.bytes;
                    totals.stored_bytes += usage.stored_bytes;
                    totals.objects += usage.objects;
                    totals.delete_markers += usage.delete_markers;
                    totals.upload_bytes += usage.upload_bytes;
                }
            }
            let days: Vec<Value> = self
                .catalog
                .traffic_days(&account.id, USAGE_DAYS_MAX)?
                .into_iter()
                .map(|(date, requests, bytes_in, bytes_out)| {
                    json!({"date": date, "requests": requests, "bytes_in": bytes_in, "bytes_out": bytes_out})
                })
                .collect();
            tenants.push(json!({
                "tenant": account.name,
                "storage_bytes": totals.quota_bytes(),
                "stored_bytes": totals.stored_bytes,
                "objects": totals.objects,
                "versions": totals.objects + totals.delete_markers,
                "multipart_bytes": totals.upload_bytes,
                "buckets": buckets,
                "access_keys": self.catalog.records::<AccessKeyRecord>(&account.id)?.len(),
                "days": days,
            }));
        }
        if let Some(name) = wanted {
            if !found {
                return Err(AdminError::not_found(format!("No tenant named {name}.")));
            }
        }
        if tenants.is_empty() && wanted.is_none() {
            return Err(AdminError::denied());
        }
        Ok(AdminResponse::json(200, &json!({"tenants": tenants})))
    }
}
