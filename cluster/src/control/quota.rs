//! The control plane's half of exact tenant quotas: how much of each
//! tenant's quota every shard holds as its allotment (see `s3::quota`).
//!
//! Owns: the allotments (never more in sum than the quota), granting more to
//! a shard that asks, and reclaiming the unused part from every shard
//! (`ShardRequest::QuotaSync`) before a request is refused or after a quota
//! changes. Nothing here is stored: after a restart the first request for a
//! tenant reclaims from every shard, whose usage comes from the engine's
//! counters, so the allotments start again from what is really stored.

use std::collections::HashMap;

use futures_channel::oneshot;
use s3::quota::{Allotment, LeaseAnswer, StorageQuota};
use s3::shard::ShardRequest;

use super::ControlPlane;

/// A grant adds at most this share of the quota beyond what was asked
/// (divided among the shards), so most writes find room locally while the
/// rest of the quota stays free for the other shards.
const GRANT_EXTRA_DIVISOR: u64 = 8;

/// One tenant's allotments, by shard.
#[derive(Debug, Default)]
pub struct TenantLeases {
    /// The allotments are known (every shard answered a sync since start or
    /// since the quota changed).
    synced: bool,
    generation: u64,
    allotments: Vec<Allotment>,
}

/// Every tenant's allotments.
#[derive(Debug, Default)]
pub struct QuotaLeases {
    tenants: HashMap<String, TenantLeases>,
}

fn short(limit: Option<u64>, allotted: u64, held_here: u64, wanted_here: u64) -> Option<u64> {
    let need = wanted_here.saturating_sub(held_here);
    match limit {
        None => Some(need),
        Some(limit) => {
            let pool = limit.saturating_sub(allotted);
            (pool >= need).then_some(need)
        }
    }
}

impl ControlPlane {
    fn tenant_storage_quota(&self, account: &str) -> StorageQuota {
        s3::quota::tenant_quota(&self.snapshot, account)
    }

    /// A shard needs `bytes` and `objects` of the tenant's quota in all.
    pub(crate) async fn quota_lease(
        &mut self,
        shard: u16,
        account: &str,
        bytes: u64,
        objects: u64,
    ) -> LeaseAnswer {
        let quota = self.tenant_storage_quota(account);
        if quota.is_unlimited() {
            return LeaseAnswer::Unlimited;
        }
        let synced = self
            .quota_leases
            .tenants
            .get(account)
            .is_some_and(|tenant| tenant.synced);
        if !synced {
            self.quota_sync(account).await;
        }
        for attempt in 0..2 {
            let shard_count = self.shards.len() as u64;
            let tenant = self
                .quota_leases
                .tenants
                .entry(account.to_owned())
                .or_default();
            tenant
                .allotments
                .resize(shard_count as usize, Allotment::default());
            let here = tenant.allotments[shard as usize];
            let allotted_bytes: u64 = tenant.allotments.iter().map(|a| a.bytes).sum();
            let allotted_objects: u64 = tenant.allotments.iter().map(|a| a.objects).sum();
            let need_bytes = short(quota.bytes, allotted_bytes, here.bytes, bytes);
            let need_objects = short(quota.objects, allotted_objects, here.objects, objects);
            if let (Some(need_bytes), Some(need_objects)) = (need_bytes, need_objects) {
                let extra = |limit: Option<u64>, allotted: u64, need: u64| {
                    limit.map_or(0, |limit| {
                        let pool = limit.saturating_sub(allotted).saturating_sub(need);
                        pool.min(limit / (GRANT_EXTRA_DIVISOR * shard_count.max(1)))
                    })
                };
                tenant.generation += 1;
                let granted = Allotment {
                    bytes: here.bytes + need_bytes + extra(quota.bytes, allotted_bytes, need_bytes),
                    objects: here.objects
                        + need_objects
                        + extra(quota.objects, allotted_objects, need_objects),
                    generation: tenant.generation,
                };
                tenant.allotments[shard as usize] = granted;
                return LeaseAnswer::Allotment(granted);
            }
            if attempt == 0 {
                // Other shards may hold allotment they do not use.
                self.quota_sync(account).await;
            }
        }
        let here = self
            .quota_leases
            .tenants
            .get(account)
            .and_then(|tenant| tenant.allotments.get(shard as usize).copied())
            .unwrap_or_default();
        LeaseAnswer::Allotment(here)
    }

    /// Takes back every shard's unused allotment of the tenant: each keeps
    /// its usage plus reservations.
    pub(crate) async fn quota_sync(&mut self, account: &str) {
        let shard_count = self.shards.len();
        let generation = {
            let tenant = self
                .quota_leases
                .tenants
                .entry(account.to_owned())
                .or_default();
            tenant.generation += 1;
            tenant.generation
        };
        let mut allotments = Vec::with_capacity(shard_count);
        let mut complete = true;
        for shard in &self.shards {
            let (reply, answer) = oneshot::channel();
            let request = ShardRequest::QuotaSync {
                account: account.to_owned(),
                generation,
                reply,
            };
            let answered = match shard.send(request).await {
                Ok(()) => answer.await.ok(),
                Err(_) => None,
            };
            // A shard that does not answer (shutting down) keeps what it
            // had; counting it as everything would be safe but unusable, so
            // the tenant stays unsynced and the next request tries again.
            complete &= answered.is_some();
            allotments.push(answered.unwrap_or_default());
        }
        let tenant = self
            .quota_leases
            .tenants
            .entry(account.to_owned())
            .or_default();
        tenant.allotments = allotments;
        tenant.synced = complete;
    }

    /// After a tenant's quota changed: allotments made under the old one
    /// are taken back now, so a lowered quota holds at once.
    pub(crate) async fn quota_changed(&mut self, account: &str) {
        if self.tenant_storage_quota(account).is_unlimited() {
            self.quota_leases.tenants.remove(account);
            return;
        }
        self.quota_sync(account).await;
    }
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn a_grant_fits_in_what_the_other_shards_do_not_hold() {
        // Quota 100, 70 allotted in all of which 20 here; this shard wants 50.
        assert_eq!(short(Some(100), 70, 20, 50), Some(30));
        assert_eq!(short(Some(100), 70, 20, 51), None);
        // Already enough here.
        assert_eq!(short(Some(100), 70, 20, 10), Some(0));
        assert_eq!(short(None, 70, 20, 500), Some(480));
    }
}
