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

/// After a refusal, requests that do not fit are refused without reclaiming
/// again for this long: a tenant at its quota flooding writes costs one
/// round over the shards per interval, not one per request. (Space freed
/// meanwhile comes back through the shards' returns, not a reclaim.)
const RECLAIM_INTERVAL_MS: u64 = 250;

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
    /// When a request was last refused (after a reclaim, or within the
    /// interval after one).
    refused_ms: u64,
}

/// Every tenant's allotments.
#[derive(Debug, Default)]
pub struct QuotaLeases {
    tenants: HashMap<String, TenantLeases>,
}

/// `need` when the quota's unallotted part holds it.
fn fits(limit: Option<u64>, allotted: u64, need: u64) -> Option<u64> {
    match limit {
        None => Some(0),
        Some(limit) => (limit.saturating_sub(allotted) >= need).then_some(need),
    }
}

impl ControlPlane {
    fn tenant_storage_quota(&self, account: &str) -> StorageQuota {
        s3::quota::tenant_quota(&self.snapshot, account)
    }

    /// A shard needs `bytes` and `objects` more of the tenant's quota.
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
            let allotted_bytes = tenant
                .allotments
                .iter()
                .fold(0u64, |sum, a| sum.saturating_add(a.bytes));
            let allotted_objects = tenant
                .allotments
                .iter()
                .fold(0u64, |sum, a| sum.saturating_add(a.objects));
            let need_bytes = fits(quota.bytes, allotted_bytes, bytes);
            let need_objects = fits(quota.objects, allotted_objects, objects);
            if let (Some(need_bytes), Some(need_objects)) = (need_bytes, need_objects) {
                // Headroom beyond the need only while the quota is far from
                // full: near it, grants are exact, so no shard sits on spare
                // allotment another one needs.
                let extra = |limit: Option<u64>, allotted: u64, need: u64| {
                    limit.map_or(0, |limit| {
                        let pool = limit.saturating_sub(allotted).saturating_sub(need);
                        let chunk = limit / (GRANT_EXTRA_DIVISOR * shard_count.max(1));
                        if pool >= chunk.saturating_mul(shard_count.max(1) * 2) {
                            chunk
                        } else {
                            0
                        }
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
                return LeaseAnswer::Granted(granted);
            }
            let refused_lately = self
                .quota_leases
                .tenants
                .get(account)
                .is_some_and(|tenant| {
                    super::now_ms().saturating_sub(tenant.refused_ms) < RECLAIM_INTERVAL_MS
                });
            if attempt == 0 && !refused_lately {
                // Other shards may hold allotment they do not use.
                self.quota_sync(account).await;
            } else {
                break;
            }
        }
        self.quota_leases
            .tenants
            .entry(account.to_owned())
            .or_default()
            .refused_ms = super::now_ms();
        LeaseAnswer::Refused
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

    /// A shard gave back allotment (see `s3::quota::QuotaReturn`).
    pub(crate) fn quota_returned(&mut self, shard: u16, returned: &s3::quota::QuotaReturn) {
        let Some(tenant) = self.quota_leases.tenants.get_mut(&returned.account) else {
            return;
        };
        // Compared with this shard's own allotment: grants to other shards
        // since do not make its return stale, a newer one to it does.
        if let Some(allotment) = tenant.allotments.get_mut(shard as usize) {
            if allotment.generation == returned.generation {
                allotment.bytes = allotment.bytes.saturating_sub(returned.bytes);
                allotment.objects = allotment.objects.saturating_sub(returned.objects);
            }
        }
    }

    /// Before a tenant's new quota is published: every shard's allotment
    /// shrinks to what it uses, so no shard can go on reserving under the
    /// old quota once the new one applies; each asks again, and is answered
    /// under the new one. The tenant's entry (and its generation, which
    /// shards compare) is kept even while the quota is lifted, so a quota
    /// set again later is never outranked by an older allotment.
    pub(crate) async fn quota_changing(&mut self, account: &str) {
        self.quota_sync(account).await;
    }
}

#[cfg(test)]
mod tests {
    use super::fits;

    #[test]
    fn a_grant_fits_in_what_no_shard_holds() {
        // Quota 100, 70 allotted in all.
        assert_eq!(fits(Some(100), 70, 30), Some(30));
        assert_eq!(fits(Some(100), 70, 31), None);
        assert_eq!(fits(Some(100), 70, 0), Some(0));
        // No limit on this dimension: nothing to grant.
        assert_eq!(fits(None, 70, 500), Some(0));
    }
}
