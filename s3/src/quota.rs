//! Exact storage quotas, enforced on the shard that owns the bucket.
//!
//! Owns: each shard's [`QuotaLedger`] (usage of the buckets it owns, summed
//! per tenant, plus the reservations of writes in flight and the tenant
//! allotments the control plane leased to it), and the protocol around it:
//! a write reserves its declared length on the owner before reading its body
//! ([`QuotaHold`]), settles with the commit (the engine's usage counters then
//! already hold the real change, see `engine::usage`) and gives the
//! reservation back on failure. Small bodies, which are stored only by the
//! commit itself, reserve inside the commit instead: no extra round trip.
//!
//! A bucket's quota is checked against the owner's exact counters. A tenant's
//! buckets live on several shards, so each shard holds an allotment: it may
//! reserve while its usage and reservations stay within it, and asks the
//! control plane for more (`ControlRequest::QuotaLease`) only when they would
//! not. The control plane keeps the allotments' sum within the quota and
//! reclaims unused allotment from every shard before refusing, so concurrent
//! uploads can never overshoot and a write is refused only when the bytes
//! really do not fit. A request never waits on the control plane while its
//! shard holds enough allotment.

use std::collections::HashMap;
use std::rc::Rc;

use engine::usage::{BucketUsage, UsageDeltas};
use futures_channel::oneshot;

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::shard::{BucketInfo, CatalogSnapshot, ControlRequest, Shard, ShardRequest};

/// Times a reservation asks for more allotment (every grant covers what it
/// asked, so a second round is needed only when the shard's view was older
/// than the grant's; the bound only stops a bug from looping).
const LEASE_ATTEMPTS_MAX: usize = 16;

/// A storage quota (`None`: unlimited).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StorageQuota {
    pub bytes: Option<u64>,
    pub objects: Option<u64>,
}

impl StorageQuota {
    pub fn is_unlimited(&self) -> bool {
        self.bytes.is_none() && self.objects.is_none()
    }
}

/// A tenant (account) as the shards enforce it.
#[derive(Debug, Default)]
pub struct TenantLimits {
    /// Its keys are refused (AccessDenied); its data stays.
    pub suspended: bool,
    pub quota: StorageQuota,
    /// Shared by every shard: the tenant's bandwidth limits, when set.
    pub throttle: Option<std::sync::Arc<crate::throttle::TenantThrottle>>,
}

/// What one write reserves: bytes and objects in a bucket of an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub bucket_id: u64,
    pub bucket: String,
    pub account: String,
    pub bytes: u64,
    pub objects: u64,
}

/// What a commit does with the quota.
#[derive(Debug)]
pub enum QuotaCharge {
    /// Nothing to check (no quota applies, or the op cannot grow usage).
    None,
    /// Reserve on the owner now, then commit, then release: small bodies.
    Reserve(Ticket),
    /// Reserved before the body was read: release with the commit.
    Settle(Ticket),
}

/// A tenant's allotment on one shard: how much usage plus reservations may
/// reach here. `generation` orders the control plane's assignments, which
/// reach the shard over two channels (answers and sync requests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Allotment {
    pub bytes: u64,
    pub objects: u64,
    pub generation: u64,
}

/// Usage and reservations of one bucket or of one tenant on one shard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    usage_bytes: u64,
    usage_objects: u64,
    reserved_bytes: u64,
    reserved_objects: u64,
}

impl Tally {
    fn floor_bytes(&self) -> u64 {
        self.usage_bytes.saturating_add(self.reserved_bytes)
    }

    fn floor_objects(&self) -> u64 {
        self.usage_objects.saturating_add(self.reserved_objects)
    }

    fn change(&mut self, bytes: i64, objects: i64) {
        self.usage_bytes = self.usage_bytes.saturating_add_signed(bytes);
        self.usage_objects = self.usage_objects.saturating_add_signed(objects);
    }
}

/// Allotment a shard gives back after space was freed (a delete, an
/// overwrite with a smaller object, a write that failed), so a write on
/// another shard finds it in the control plane's pool at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaReturn {
    pub account: String,
    pub bytes: u64,
    pub objects: u64,
    /// The allotment's generation: the control plane ignores a return made
    /// under an allotment it has since replaced.
    pub generation: u64,
}

/// Why a reservation was not made.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A quota does not leave room: the message names it.
    Exceeded(String),
    /// The tenant's allotment here is too small: ask for this much in all.
    NeedAllotment { bytes: u64, objects: u64 },
}

/// One shard's view of the quotas of the buckets it owns.
#[derive(Debug, Default)]
pub struct QuotaLedger {
    /// Bucket id → owning account, for the buckets this shard owns.
    bucket_accounts: HashMap<u64, String>,
    buckets: HashMap<u64, Tally>,
    tenants: HashMap<String, Tally>,
    allotments: HashMap<String, Allotment>,
}

impl QuotaLedger {
    /// A ledger for `shard` from its index's usage counters.
    pub fn new(usages: &[(u64, BucketUsage)], snapshot: &CatalogSnapshot, shard: u16) -> Self {
        let mut ledger = QuotaLedger::default();
        ledger.refresh_accounts(snapshot, shard);
        for (bucket_id, usage) in usages {
            let deltas = UsageDeltas {
                by_bucket: [(
                    *bucket_id,
                    engine::usage::UsageChange {
                        bytes: usage.bytes as i64,
                        objects: usage.objects as i64,
                        upload_bytes: usage.upload_bytes as i64,
                        ..Default::default()
                    },
                )]
                .into(),
            };
            ledger.observe(&deltas);
        }
        ledger
    }

    /// Learns which account owns each bucket this shard owns (new buckets
    /// appear in snapshots before any write can reach them).
    pub fn refresh_accounts(&mut self, snapshot: &CatalogSnapshot, shard: u16) {
        for bucket in snapshot.buckets.values() {
            if bucket.owner_shard == shard && !self.bucket_accounts.contains_key(&bucket.id) {
                self.bucket_accounts
                    .insert(bucket.id, bucket.owner_account.clone());
            }
        }
    }

    /// Applies committed usage changes (the engine's usage observer); returns
    /// the allotment that space freed by them gives back.
    pub fn observe(&mut self, deltas: &UsageDeltas) -> Vec<QuotaReturn> {
        let mut returns = Vec::new();
        for (bucket_id, change) in &deltas.by_bucket {
            let bytes = change.bytes.saturating_add(change.upload_bytes);
            self.buckets
                .entry(*bucket_id)
                .or_default()
                .change(bytes, change.objects);
            let Some(account) = self.bucket_accounts.get(bucket_id) else {
                continue;
            };
            // Looked up before inserting: the common case allocates nothing.
            match self.tenants.get_mut(account) {
                Some(tally) => tally.change(bytes, change.objects),
                None => {
                    let mut tally = Tally::default();
                    tally.change(bytes, change.objects);
                    self.tenants.insert(account.clone(), tally);
                }
            }
            if bytes < 0 || change.objects < 0 {
                let account = account.clone();
                returns.extend(self.give_back(&account));
            }
        }
        returns
    }

    /// After space was freed here, the tenant's allotment shrinks to its
    /// usage plus reservations and the rest goes back to the control plane:
    /// spare allotment left on a shard that frees space would otherwise
    /// keep another shard's write from fitting.
    fn give_back(&mut self, account: &str) -> Option<QuotaReturn> {
        let tally = self.tenants.get(account).copied().unwrap_or_default();
        let allotment = self.allotments.get_mut(account)?;
        let bytes = allotment.bytes.saturating_sub(tally.floor_bytes());
        let objects = allotment.objects.saturating_sub(tally.floor_objects());
        if bytes == 0 && objects == 0 {
            return None;
        }
        allotment.bytes -= bytes;
        allotment.objects -= objects;
        Some(QuotaReturn {
            account: account.to_owned(),
            bytes,
            objects,
            generation: allotment.generation,
        })
    }

    /// Reserves `ticket` if the bucket's and the tenant's quotas leave room.
    pub fn try_reserve(
        &mut self,
        ticket: &Ticket,
        bucket_quota: StorageQuota,
        tenant_quota: StorageQuota,
    ) -> Result<(), Refusal> {
        let bucket = self
            .buckets
            .get(&ticket.bucket_id)
            .copied()
            .unwrap_or_default();
        if let Some(limit) = bucket_quota.bytes {
            if bucket.floor_bytes().saturating_add(ticket.bytes) > limit {
                return Err(Refusal::Exceeded(format!(
                    "The bucket's storage quota ({limit} bytes) would be exceeded."
                )));
            }
        }
        if let Some(limit) = bucket_quota.objects {
            if bucket.floor_objects().saturating_add(ticket.objects) > limit {
                return Err(Refusal::Exceeded(format!(
                    "The bucket's object quota ({limit} objects) would be exceeded."
                )));
            }
        }
        if !tenant_quota.is_unlimited() {
            let tenant = self
                .tenants
                .get(&ticket.account)
                .copied()
                .unwrap_or_default();
            let allotment = self
                .allotments
                .get(&ticket.account)
                .copied()
                .unwrap_or_default();
            let want_bytes = tenant.floor_bytes().saturating_add(ticket.bytes);
            let want_objects = tenant.floor_objects().saturating_add(ticket.objects);
            let bytes_short = tenant_quota.bytes.is_some() && want_bytes > allotment.bytes;
            let objects_short = tenant_quota.objects.is_some() && want_objects > allotment.objects;
            if bytes_short || objects_short {
                return Err(Refusal::NeedAllotment {
                    bytes: want_bytes,
                    objects: want_objects,
                });
            }
        }
        self.add_reserved(ticket, 1);
        Ok(())
    }

    /// Gives a reservation back after its write committed (the usage
    /// counters now hold what it reserved for).
    pub fn release(&mut self, ticket: &Ticket) {
        self.add_reserved(ticket, -1);
    }

    /// Gives a reservation back after its write failed; the allotment it
    /// held goes back to the control plane.
    pub fn release_unused(&mut self, ticket: &Ticket) -> Option<QuotaReturn> {
        self.add_reserved(ticket, -1);
        self.give_back(&ticket.account)
    }

    fn add_reserved(&mut self, ticket: &Ticket, sign: i64) {
        let apply = |tally: &mut Tally| {
            if sign > 0 {
                tally.reserved_bytes = tally.reserved_bytes.saturating_add(ticket.bytes);
                tally.reserved_objects = tally.reserved_objects.saturating_add(ticket.objects);
            } else {
                tally.reserved_bytes = tally.reserved_bytes.saturating_sub(ticket.bytes);
                tally.reserved_objects = tally.reserved_objects.saturating_sub(ticket.objects);
            }
        };
        apply(self.buckets.entry(ticket.bucket_id).or_default());
        match self.tenants.get_mut(&ticket.account) {
            Some(tally) => apply(tally),
            None => apply(self.tenants.entry(ticket.account.clone()).or_default()),
        }
    }

    /// The tenant's allotment on this shard.
    pub fn allotment(&self, account: &str) -> Allotment {
        self.allotments.get(account).copied().unwrap_or_default()
    }

    /// Installs an allotment unless a newer one is already here.
    pub fn set_allotment(&mut self, account: &str, allotment: Allotment) {
        // Strictly newer only: every assignment of the control plane has a
        // generation of its own, and one seen again (or late) would undo a
        // give-back made under it.
        let current = self.allotments.entry(account.to_owned()).or_default();
        if allotment.generation > current.generation {
            *current = allotment;
        }
    }

    /// The control plane reclaims what this shard does not use: the
    /// allotment shrinks to the usage plus reservations, which it returns.
    pub fn sync(&mut self, account: &str, generation: u64) -> Allotment {
        let tenant = self.tenants.get(account).copied().unwrap_or_default();
        let allotment = Allotment {
            bytes: tenant.floor_bytes(),
            objects: tenant.floor_objects(),
            generation,
        };
        self.set_allotment(account, allotment);
        allotment
    }

    /// Usage of a tenant's buckets on this shard (bytes, objects).
    pub fn tenant_usage(&self, account: &str) -> (u64, u64) {
        let tenant = self.tenants.get(account).copied().unwrap_or_default();
        (tenant.usage_bytes, tenant.usage_objects)
    }
}

/// The tenant limits that apply to a bucket's owner, if any.
pub fn tenant_quota(snapshot: &CatalogSnapshot, account: &str) -> StorageQuota {
    snapshot
        .tenants
        .get(account)
        .map(|tenant| tenant.quota)
        .unwrap_or_default()
}

/// The control plane's answer to a lease request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseAnswer {
    /// The shard's new allotment, larger by at least what it asked for.
    Granted(Allotment),
    /// The quota has no room for it (a reclaim before the refusal reached
    /// the shard as its own message: a refusal assigns nothing).
    Refused,
    /// The tenant has no quota any more.
    Unlimited,
}

/// A write's hold on the quota, from before its body is read to its commit.
pub(crate) enum QuotaHold {
    /// No quota applies.
    Unlimited,
    /// Reserved by the commit itself (small bodies, stored only then).
    AtCommit(Ticket),
    /// Reserved on the owner; given back if dropped before the commit.
    Reserved(ReservedGuard),
}

impl QuotaHold {
    /// What the commit does with it.
    pub(crate) fn into_charge(self) -> QuotaCharge {
        match self {
            QuotaHold::Unlimited => QuotaCharge::None,
            QuotaHold::AtCommit(ticket) => QuotaCharge::Reserve(ticket),
            QuotaHold::Reserved(mut guard) => match guard.ticket.take() {
                Some(ticket) => QuotaCharge::Settle(ticket),
                None => QuotaCharge::None,
            },
        }
    }
}

/// A reservation on the owner that is released if the write never commits.
pub(crate) struct ReservedGuard {
    shard: Rc<Shard>,
    owner: u16,
    ticket: Option<Ticket>,
}

impl Drop for ReservedGuard {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.shard.quota_release(self.owner, ticket);
        }
    }
}

fn exceeded(message: String) -> S3Error {
    S3Error::new(S3ErrorCode::QuotaExceeded, message)
}

impl Shard {
    /// Holds room for a write of `bytes` (declared before the body is read)
    /// and `objects` into `bucket`. `at_commit` says the write stores nothing
    /// before its commit (small inline bodies, CompleteMultipartUpload), so
    /// the commit can reserve for it.
    pub(crate) async fn quota_hold(
        self: &Rc<Self>,
        bucket: &BucketInfo,
        bytes: Option<u64>,
        objects: u64,
        at_commit: bool,
    ) -> S3Result<QuotaHold> {
        let snapshot = self.catalog();
        let tenant = tenant_quota(&snapshot, &bucket.owner_account);
        if bucket.quota.is_unlimited() && tenant.is_unlimited() {
            return Ok(QuotaHold::Unlimited);
        }
        let Some(bytes) = bytes else {
            return Err(S3Error::new(
                S3ErrorCode::MissingContentLength,
                "A write into a bucket with a quota must declare its length.",
            ));
        };
        let ticket = Ticket {
            bucket_id: bucket.id,
            bucket: bucket.name.clone(),
            account: bucket.owner_account.clone(),
            bytes,
            objects,
        };
        if at_commit {
            return Ok(QuotaHold::AtCommit(ticket));
        }
        let owner = bucket.owner_shard;
        if owner == self.id {
            self.quota_reserve_here(&ticket).await?;
        } else {
            let (reply, answer) = oneshot::channel();
            let request = ShardRequest::QuotaReserve {
                ticket: ticket.clone(),
                reply,
            };
            self.peers[owner as usize]
                .send(request)
                .await
                .map_err(|_| S3Error::new(S3ErrorCode::SlowDown, "shard unavailable"))?;
            answer
                .await
                .map_err(|_| S3Error::new(S3ErrorCode::SlowDown, "shard unavailable"))??;
        }
        Ok(QuotaHold::Reserved(ReservedGuard {
            shard: self.clone(),
            owner,
            ticket: Some(ticket),
        }))
    }

    /// Reserves `ticket` on this shard, which owns its bucket, asking the
    /// control plane for more of the tenant's allotment when needed.
    pub(crate) async fn quota_reserve_here(&self, ticket: &Ticket) -> S3Result<()> {
        for _ in 0..LEASE_ATTEMPTS_MAX {
            let snapshot = self.catalog();
            let bucket_quota = snapshot
                .buckets
                .get(&ticket.bucket)
                .filter(|bucket| bucket.id == ticket.bucket_id)
                .map(|bucket| bucket.quota)
                .unwrap_or_default();
            let tenant = tenant_quota(&snapshot, &ticket.account);
            let refusal = self
                .quota
                .borrow_mut()
                .try_reserve(ticket, bucket_quota, tenant);
            let (bytes, objects) = match refusal {
                Ok(()) => return Ok(()),
                Err(Refusal::Exceeded(message)) => return Err(exceeded(message)),
                Err(Refusal::NeedAllotment { bytes, objects }) => (bytes, objects),
            };
            // Asked as a shortfall, not a total: concurrent writes on this
            // shard each ask for their own, and every grant adds up.
            let held = self.quota.borrow().allotment(&ticket.account);
            let (reply, answer) = oneshot::channel();
            let request = ControlRequest::QuotaLease {
                shard: self.id,
                account: ticket.account.clone(),
                bytes: tenant.bytes.map_or(0, |_| bytes.saturating_sub(held.bytes)),
                objects: tenant
                    .objects
                    .map_or(0, |_| objects.saturating_sub(held.objects)),
                reply,
            };
            let unavailable = || S3Error::new(S3ErrorCode::SlowDown, "control plane unavailable");
            self.control
                .send(request)
                .await
                .map_err(|_| unavailable())?;
            match answer.await.map_err(|_| unavailable())? {
                LeaseAnswer::Unlimited => {
                    // The quota was lifted; the next snapshot says so, and
                    // until it is installed the old quota still applies.
                    self.install_catalog_from_control().await;
                }
                LeaseAnswer::Granted(allotment) => {
                    self.quota
                        .borrow_mut()
                        .set_allotment(&ticket.account, allotment);
                }
                LeaseAnswer::Refused => {
                    return Err(exceeded(tenant_message(tenant)));
                }
            }
        }
        let tenant = tenant_quota(&self.catalog(), &ticket.account);
        Err(exceeded(tenant_message(tenant)))
    }

    /// Gives back a reservation on the owner (synchronous: drop guards call it).
    pub(crate) fn quota_release(&self, owner: u16, ticket: Ticket) {
        if owner == self.id {
            self.quota_release_unused(&ticket);
            return;
        }
        let peer = &self.peers[owner as usize];
        if let Err(async_channel::TrySendError::Full(request)) =
            peer.try_send(ShardRequest::QuotaRelease { ticket })
        {
            let peer = peer.clone();
            monoio::spawn(async move {
                let _ = peer.send(request).await;
            });
        }
    }

    /// Releases the reservation of a write that failed, handing back the
    /// allotment it held.
    pub(crate) fn quota_release_unused(&self, ticket: &Ticket) {
        let returned = self.quota.borrow_mut().release_unused(ticket);
        send_quota_returns(&self.control, self.id, returned);
    }

    /// Waits until this shard has the control plane's newest snapshot.
    async fn install_catalog_from_control(&self) {
        let (reply, answer) = oneshot::channel();
        if self
            .control
            .send(ControlRequest::CurrentSnapshot { reply })
            .await
            .is_ok()
        {
            if let Ok(snapshot) = answer.await {
                self.install_catalog(snapshot);
            }
        }
    }
}

/// Hands returned allotment to the control plane without waiting. A return
/// that does not fit the queue is lost to the pool until the next reclaim:
/// the control plane then believes the shard holds more than it does, which
/// can only refuse a write early, never let one overshoot.
pub fn send_quota_returns(
    control: &async_channel::Sender<ControlRequest>,
    shard: u16,
    returns: impl IntoIterator<Item = QuotaReturn>,
) {
    for returned in returns {
        let _ = control.try_send(ControlRequest::QuotaReturn { shard, returned });
    }
}

/// The refusal's message: the storage quota when the tenant has one (the
/// one writes usually meet), else the object quota.
fn tenant_message(quota: StorageQuota) -> String {
    match (quota.bytes, quota.objects) {
        (Some(limit), _) => {
            format!("The tenant's storage quota ({limit} bytes) would be exceeded.")
        }
        (None, Some(limit)) => {
            format!("The tenant's object quota ({limit} objects) would be exceeded.")
        }
        (None, None) => "The tenant's quota would be exceeded.".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::usage::UsageChange;

    fn ticket(bytes: u64) -> Ticket {
        Ticket {
            bucket_id: 1,
            bucket: "b".into(),
            account: "111122223333".into(),
            bytes,
            objects: 1,
        }
    }

    fn ledger() -> QuotaLedger {
        let mut ledger = QuotaLedger::default();
        ledger.bucket_accounts.insert(1, "111122223333".into());
        ledger
    }

    fn commit(ledger: &mut QuotaLedger, bytes: i64, objects: i64) {
        let change = UsageChange {
            bytes,
            objects,
            ..Default::default()
        };
        ledger.observe(&UsageDeltas {
            by_bucket: [(1, change)].into(),
        });
    }

    #[test]
    fn bucket_quota_counts_reservations_in_flight() {
        let mut ledger = ledger();
        let quota = StorageQuota {
            bytes: Some(10),
            objects: None,
        };
        let none = StorageQuota::default();
        assert!(ledger.try_reserve(&ticket(6), quota, none).is_ok());
        assert!(matches!(
            ledger.try_reserve(&ticket(6), quota, none),
            Err(Refusal::Exceeded(_))
        ));
        // The first commits (usage 6), then releases: 4 bytes remain.
        commit(&mut ledger, 6, 1);
        ledger.release(&ticket(6));
        assert!(ledger.try_reserve(&ticket(5), quota, none).is_err());
        assert!(ledger.try_reserve(&ticket(4), quota, none).is_ok());
        // A delete returns the space.
        commit(&mut ledger, -6, -1);
        ledger.release(&ticket(4));
        assert!(ledger.try_reserve(&ticket(10), quota, none).is_ok());
    }

    #[test]
    fn tenant_quota_needs_an_allotment_and_sync_returns_the_unused_part() {
        let mut ledger = ledger();
        let tenant = StorageQuota {
            bytes: Some(100),
            objects: Some(5),
        };
        let none = StorageQuota::default();
        assert_eq!(
            ledger.try_reserve(&ticket(30), none, tenant),
            Err(Refusal::NeedAllotment {
                bytes: 30,
                objects: 1
            })
        );
        ledger.set_allotment(
            "111122223333",
            Allotment {
                bytes: 50,
                objects: 5,
                generation: 1,
            },
        );
        assert!(ledger.try_reserve(&ticket(30), none, tenant).is_ok());
        assert!(matches!(
            ledger.try_reserve(&ticket(30), none, tenant),
            Err(Refusal::NeedAllotment { bytes: 60, .. })
        ));
        // An older assignment arriving late does not win.
        ledger.set_allotment(
            "111122223333",
            Allotment {
                bytes: 1000,
                objects: 1000,
                generation: 0,
            },
        );
        let synced = ledger.sync("111122223333", 2);
        assert_eq!((synced.bytes, synced.objects), (30, 1));
    }

    /// Freed space goes back to the control plane at the allotment's
    /// generation: deletes up to what they freed, failed writes what they held.
    #[test]
    fn frees_and_failed_writes_give_allotment_back() {
        let mut ledger = ledger();
        let tenant = StorageQuota {
            bytes: Some(100),
            objects: Some(10),
        };
        let allotment = Allotment {
            bytes: 60,
            objects: 5,
            generation: 3,
        };
        ledger.set_allotment("111122223333", allotment);
        ledger
            .try_reserve(&ticket(30), StorageQuota::default(), tenant)
            .unwrap();
        commit(&mut ledger, 30, 1);
        ledger.release(&ticket(30));
        // A failed write gives back everything beyond usage and reservations.
        ledger
            .try_reserve(&ticket(20), StorageQuota::default(), tenant)
            .unwrap();
        let back = ledger.release_unused(&ticket(20)).unwrap();
        assert_eq!((back.bytes, back.objects, back.generation), (30, 4, 3));
        assert_eq!(ledger.allotment("111122223333").bytes, 30);
        // So does a delete, never below usage plus reservations.
        let change = UsageChange {
            bytes: -30,
            objects: -1,
            ..Default::default()
        };
        let back = ledger.observe(&UsageDeltas {
            by_bucket: [(1, change)].into(),
        });
        assert_eq!(back.len(), 1);
        assert_eq!((back[0].bytes, back[0].objects), (30, 1));
        assert_eq!(ledger.allotment("111122223333").bytes, 0);
        // Nothing held beyond usage: nothing to give.
        assert!(ledger
            .release_unused(&Ticket {
                bytes: 0,
                objects: 0,
                ..ticket(0)
            })
            .is_none());
    }

    #[test]
    fn object_quota_refuses_the_object_that_does_not_fit() {
        let mut ledger = ledger();
        let quota = StorageQuota {
            bytes: None,
            objects: Some(1),
        };
        commit(&mut ledger, 1, 1);
        let refused = ledger.try_reserve(&ticket(0), quota, StorageQuota::default());
        assert!(matches!(refused, Err(Refusal::Exceeded(m)) if m.contains("object quota (1")));
        let part = Ticket {
            objects: 0,
            ..ticket(10)
        };
        assert!(ledger
            .try_reserve(&part, quota, StorageQuota::default())
            .is_ok());
    }
}
