//! `/api/v1/buckets[/{name}[/quota]]`: buckets with their owner tenant,
//! quota and usage; a tenant admin sees its own tenant's.

use std::collections::HashMap;

use engine::usage::BucketUsage;
use serde_json::{json, Value};

use super::{
    json_body, optional_u64, rfc3339, AdminError, AdminRequest, AdminResponse, AdminResult, Caller,
};
use crate::control::{ControlPlane, SETTING_QUOTA};
use s3::shard::BucketInfo;

impl ControlPlane {
    fn bucket_json(&self, bucket: &BucketInfo, usage: BucketUsage) -> Value {
        let tenant = self
            .snapshot
            .accounts
            .get(&bucket.owner_account)
            .map(|account| account.name.clone())
            .unwrap_or_default();
        json!({
            "name": bucket.name,
            "tenant": tenant,
            "created_at": rfc3339(bucket.created_ms),
            "quota": {"storage_bytes": bucket.quota.bytes, "objects": bucket.quota.objects},
            "usage": {
                "storage_bytes": usage.quota_bytes(),
                "stored_bytes": usage.stored_bytes,
                "objects": usage.objects,
                "versions": usage.objects + usage.delete_markers,
                "multipart_bytes": usage.upload_bytes,
            },
        })
    }

    fn admin_bucket(
        &self,
        caller: &Caller,
        name: &str,
        action: &str,
    ) -> Result<BucketInfo, AdminError> {
        let bucket = self.snapshot.buckets.get(name).cloned();
        let owner = bucket
            .as_ref()
            .map(|b| b.owner_account.as_str())
            .unwrap_or("unknown");
        self.admin_require(caller, action, Some(owner))?;
        bucket.ok_or_else(|| AdminError::not_found(format!("No bucket named {name}.")))
    }

    pub(super) async fn admin_list_buckets(
        &self,
        request: &AdminRequest,
        caller: &Caller,
    ) -> AdminResult {
        let tenant = request.query_param("tenant");
        let tenant_id = match tenant {
            Some(name) => Some(self.admin_tenant(caller, name, "admin:ListBuckets")?.id),
            None => None,
        };
        let system = self.admin_allowed(caller, "admin:ListBuckets", None);
        if !system && !self.admin_allowed(caller, "admin:ListBuckets", Some(caller.account())) {
            return Err(AdminError::denied());
        }
        let usages = self.bucket_usages().await;
        let buckets: Vec<Value> = self
            .snapshot
            .buckets
            .values()
            .filter(|bucket| {
                tenant_id
                    .as_ref()
                    .is_none_or(|id| *id == bucket.owner_account)
            })
            .filter(|bucket| {
                self.admin_allowed(caller, "admin:ListBuckets", Some(&bucket.owner_account))
            })
            .map(|bucket| {
                self.bucket_json(bucket, usages.get(&bucket.id).copied().unwrap_or_default())
            })
            .collect();
        Ok(AdminResponse::json(200, &json!({"buckets": buckets})))
    }

    pub(super) async fn admin_get_bucket(&self, caller: &Caller, name: &str) -> AdminResult {
        let bucket = self.admin_bucket(caller, name, "admin:GetBucket")?;
        let usages = self.bucket_usages().await;
        let usage = usages.get(&bucket.id).copied().unwrap_or_default();
        Ok(AdminResponse::json(200, &self.bucket_json(&bucket, usage)))
    }

    pub(super) async fn admin_put_bucket_quota(
        &mut self,
        request: &AdminRequest,
        caller: &Caller,
        name: &str,
    ) -> AdminResult {
        let bucket = self.admin_bucket(caller, name, "admin:PutBucketQuota")?;
        let body = json_body(request)?;
        let storage_bytes = optional_u64(&body, "storage_bytes")?.flatten();
        let objects = optional_u64(&body, "objects")?.flatten();
        let value = (storage_bytes.is_some() || objects.is_some())
            .then(|| json!({"storage_bytes": storage_bytes, "objects": objects}).to_string());
        self.catalog
            .set_bucket_setting(bucket.id, SETTING_QUOTA, value.as_deref())?;
        self.admin_publish().await?;
        self.admin_audit_entry(
            request,
            &bucket.owner_account,
            &caller.display,
            "admin:PutBucketQuota",
            name,
            "success",
            &body.to_string(),
        );
        let bucket = self
            .snapshot
            .buckets
            .get(name)
            .cloned()
            .ok_or_else(|| AdminError::not_found(format!("No bucket named {name}.")))?;
        let usages = self.bucket_usages().await;
        let usage = usages.get(&bucket.id).copied().unwrap_or_default();
        Ok(AdminResponse::json(200, &self.bucket_json(&bucket, usage)))
    }

    /// Every bucket's usage counters, from the shards that own them.
    pub(crate) async fn bucket_usages(&self) -> HashMap<u64, BucketUsage> {
        let mut out = HashMap::new();
        for shard in &self.shards {
            let (reply, answer) = futures_channel::oneshot::channel();
            if shard
                .send(s3::shard::ShardRequest::BucketUsages { reply })
                .await
                .is_ok()
            {
                if let Ok(usages) = answer.await {
                    out.extend(usages);
                }
            }
        }
        out
    }
}
