//! One data shard's state and the messages shards and the control plane
//! exchange.
//!
//! A [`Shard`] is built on its own thread and owned by that thread's reactor:
//! its store (the writer for the buckets it owns), a reader for every shard's
//! data, senders to its peers, and the catalog snapshot it was last given.
//! Cross-shard work is a [`ShardRequest`] with a reply channel; never a
//! closure, never a shared lock.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use engine::index::{Extent, IndexOp};
use engine::io::uring::UringDisk;
use engine::io::{AlignedBuf, BufPool};
use engine::reader::ObjectReader;
use engine::store::ShardStore;
use engine::{EngineError, EngineResult};
use futures_channel::oneshot;

use crate::auth::sigv4::SigningKeyCache;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::limits::{CHUNK_BUFS_POOLED_MAX, CHUNK_BUF_BYTES};

/// The disk every production shard uses.
pub type ShardDisk = UringDisk;

/// A bucket as the control plane published it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketInfo {
    pub id: u64,
    pub name: String,
    pub owner_shard: u16,
    pub created_ms: u64,
    /// The bucket's default encryption, when PutBucketEncryption set one.
    pub encryption: Option<crate::sse::BucketEncryption>,
    /// Never enabled, Enabled or Suspended (PutBucketVersioning).
    pub versioning: crate::ops::versioning::BucketVersioning,
    /// Created with `x-amz-bucket-object-lock-enabled: true` (or enabled by
    /// PutObjectLockConfiguration on a versioned bucket).
    pub object_lock_enabled: bool,
    /// The default retention new versions get, if configured.
    pub object_lock_default: Option<crate::ops::object_lock::DefaultRetention>,
    /// The lifecycle configuration as the client sent it (validated).
    pub lifecycle: Option<Arc<str>>,
    /// The CORS configuration (PutBucketCors), as sent and as parsed.
    pub cors: Option<Arc<crate::ops::cors::CorsConfiguration>>,
    /// The bucket's tag set (PutBucketTagging), in its stored form.
    pub tagging: Option<Arc<str>>,
    /// `Requester` when requesters pay (PutBucketRequestPayment).
    pub setting_request_payment: Option<Arc<str>>,
    /// `Enabled` or `Suspended` once set (PutBucketAccelerateConfiguration).
    pub setting_accelerate: Option<Arc<str>>,
    /// The id of the account that owns the bucket.
    pub owner_account: String,
    /// The bucket policy (PutBucketPolicy), as sent and as parsed.
    pub policy: Option<Arc<BucketPolicy>>,
    /// The bucket's quota (admin API), enforced by its owner shard.
    pub quota: crate::quota::StorageQuota,
    /// The bucket's ACL (PutBucketAcl, CreateBucket's ACL headers); `None`:
    /// the owner's FULL_CONTROL alone.
    pub acl: Option<Arc<iam::acl::Acl>>,
    /// PutBucketOwnershipControls' setting; `None`: no controls, which acts
    /// as ObjectWriter (AWS's buckets from before 2023).
    pub ownership: Option<crate::ops::ownership::ObjectOwnership>,
    /// PutPublicAccessBlock's settings; `None`: none configured.
    pub public_access_block: Option<crate::ops::public_access::PublicAccessBlock>,
    /// PutBucketNotificationConfiguration's rules; `None`: none configured.
    pub notification: Option<Arc<crate::notify::NotificationConfig>>,
}

/// A bucket policy: the document as the client sent it (GetBucketPolicy
/// answers it unchanged) and parsed once for every request to evaluate.
#[derive(Debug)]
pub struct BucketPolicy {
    pub document: String,
    pub parsed: iam::Policy,
    /// AWS's meaning of a public policy, computed once (RestrictPublicBuckets
    /// asks on every request).
    pub is_public: bool,
}

impl PartialEq for BucketPolicy {
    fn eq(&self, other: &Self) -> bool {
        self.document == other.document
    }
}

impl Eq for BucketPolicy {}

impl BucketInfo {
    pub fn object_lock_enabled(&self) -> bool {
        self.object_lock_enabled
    }
}

/// An immutable, versioned view of the catalog. Shards swap in new ones; a
/// request uses the one that was current when it started.
#[derive(Clone, Debug, Default)]
pub struct CatalogSnapshot {
    pub version: u64,
    pub buckets: BTreeMap<String, BucketInfo>,
    /// Access key id → what it authenticates as.
    pub keys: HashMap<String, Arc<iam::snapshot::KeyIdentity>>,
    /// Account id → account.
    pub accounts: HashMap<String, iam::snapshot::AccountInfo>,
    /// Account id → what shards enforce of the tenant (only tenants that are
    /// suspended or have quotas or bandwidth limits are listed).
    pub tenants: HashMap<String, Arc<crate::quota::TenantLimits>>,
    /// `<account id>/<user name, lower case>` → the user as a principal
    /// (the admin API authorises its logged-in users with it).
    pub users: HashMap<String, Arc<iam::Principal>>,
    /// Maintenance mode: S3 writes answer 503 ServiceUnavailable, reads
    /// are served.
    pub maintenance: bool,
    /// The built-in key store's SSE-KMS keys, their material opened.
    pub kms: Arc<crate::kms::KmsKeys>,
    /// The event notification targets, as `<account id>/<name>`: what a
    /// bucket's notification rules may name.
    pub notification_targets: Arc<std::collections::HashSet<String>>,
}

impl CatalogSnapshot {
    /// The account with this id; an unknown id (never in a published
    /// snapshot) shows as itself.
    pub fn account(&self, id: &str) -> Option<&iam::snapshot::AccountInfo> {
        self.accounts.get(id)
    }
}

/// Work one shard asks of another (or the control plane of a shard).
pub enum ShardRequest {
    /// Append a sealed chunk record to the owner's segments.
    AppendChunk {
        buf: AlignedBuf,
        object_id: u128,
        chunk_index: u32,
        payload_len_bytes: u32,
        reply: oneshot::Sender<(EngineResult<Extent>, AlignedBuf)>,
    },
    /// The write of `object_id` ends without a commit: release its hold on
    /// the owner's segments (see `engine::inflight`).
    AbandonWrite { object_id: u128 },
    /// Commit an index change on the owner (group-committed there), then
    /// queue its event notifications (see `crate::notify`).
    Commit {
        op: IndexOp,
        events: Option<crate::notify::CommitEvents>,
        reply: oneshot::Sender<EngineResult<()>>,
    },
    /// When this shard last authenticated a request with the access key,
    /// and for which service (GetAccessKeyLastUsed asks every shard).
    KeyLastUsed {
        access_key_id: String,
        reply: oneshot::Sender<Option<KeyUse>>,
    },
    /// Commit an index change on the owner, reserving or settling quota
    /// with it (see `crate::quota`).
    CommitCharged {
        op: IndexOp,
        charge: crate::quota::QuotaCharge,
        events: Option<crate::notify::CommitEvents>,
        reply: oneshot::Sender<S3Result<()>>,
    },
    /// Reserve room for a write before its body is read (the owner's ledger).
    QuotaReserve {
        ticket: crate::quota::Ticket,
        reply: oneshot::Sender<S3Result<()>>,
    },
    /// Give back a reservation whose write will not commit.
    QuotaRelease { ticket: crate::quota::Ticket },
    /// The control plane takes back the unused part of a tenant's
    /// allotment: the shard keeps its usage plus reservations and answers it.
    QuotaSync {
        account: String,
        generation: u64,
        reply: oneshot::Sender<crate::quota::Allotment>,
    },
    /// The usage counters of every bucket this shard owns.
    /// This shard's metrics (the Prometheus endpoint asks every shard).
    Metrics {
        reply: oneshot::Sender<crate::metrics::ShardMetrics>,
    },
    BucketUsages {
        reply: oneshot::Sender<Vec<(u64, engine::usage::BucketUsage)>>,
    },
    /// Swap in a newer catalog snapshot; replies once installed.
    InstallCatalog {
        snapshot: Arc<CatalogSnapshot>,
        reply: oneshot::Sender<()>,
    },
}

/// What a shard asks of the control plane. Only changes to buckets (creation,
/// deletion, default encryption) wait on it; each replies with the snapshot
/// that includes the change, already installed on every shard.
pub enum ControlRequest {
    CreateBucket {
        name: String,
        /// The account that will own it (the caller's).
        owner_account: String,
        /// Settings the bucket is born with (`bucket_settings` rows).
        settings: Vec<(String, String)>,
        reply: oneshot::Sender<S3Result<Arc<CatalogSnapshot>>>,
    },
    DeleteBucket {
        name: String,
        reply: oneshot::Sender<S3Result<Arc<CatalogSnapshot>>>,
    },
    /// Sets (`Some`) or clears (`None`) the default encryption of the bucket
    /// with id `bucket_id`. By id, not name: a bucket deleted and created
    /// again meanwhile is another bucket, and the answer is `NoSuchBucket`.
    SetBucketEncryption {
        bucket_id: u64,
        encryption: Option<crate::sse::BucketEncryption>,
        reply: oneshot::Sender<S3Result<Arc<CatalogSnapshot>>>,
    },
    /// Sets (`Some`, already parsed by the shard) or removes (`None`) the
    /// policy of the bucket with id `bucket_id`; the control plane checks
    /// that the principals it names exist.
    SetBucketPolicy {
        bucket_id: u64,
        document: Option<String>,
        reply: oneshot::Sender<S3Result<Arc<CatalogSnapshot>>>,
    },
    /// An IAM or STS query-API call, executed and authorised by the control
    /// plane (it holds every identity record the call may touch).
    Query {
        /// The verified access key id of the caller.
        access_key_id: String,
        request: crate::query::QueryRequest,
        facts: crate::query::RequestFacts,
        reply: oneshot::Sender<crate::query::QueryAnswer>,
    },
    /// An unsigned STS call that authenticates by what it carries
    /// (AssumeRoleWithWebIdentity's token, AssumeRoleWithLDAPIdentity's
    /// directory password): checked and answered by the control plane.
    FederatedQuery {
        request: crate::query::QueryRequest,
        facts: crate::query::RequestFacts,
        reply: oneshot::Sender<crate::query::QueryAnswer>,
    },
    /// A shard needs a larger allotment of a tenant's quota: `bytes` and
    /// `objects` are the totals it needs there (see `crate::quota`).
    QuotaLease {
        shard: u16,
        account: String,
        bytes: u64,
        objects: u64,
        reply: oneshot::Sender<crate::quota::LeaseAnswer>,
    },
    /// A shard gives back allotment that freed space made spare.
    QuotaReturn {
        shard: u16,
        returned: crate::quota::QuotaReturn,
    },
    /// Requests and bytes per bucket counted by a shard since its last
    /// flush (added to the per-day usage rows).
    Traffic {
        counts: crate::traffic::TrafficCounts,
        now_ms: u64,
    },
    /// A security-relevant event for the audit log (never waited on).
    Audit(crate::audit::AuditEvent),
    /// The newest published snapshot.
    CurrentSnapshot {
        reply: oneshot::Sender<Arc<CatalogSnapshot>>,
    },
    /// Sets (`Some`) or removes (`None`) one named setting of the bucket with
    /// id `bucket_id` (by id, for the same reason as above).
    SetBucketSetting {
        bucket_id: u64,
        name: String,
        value: Option<String>,
        reply: oneshot::Sender<S3Result<Arc<CatalogSnapshot>>>,
    },
}

/// The last authenticated use of an access key on one shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyUse {
    pub last_used_ms: u64,
    /// `s3`, `iam` or `sts`.
    pub service: &'static str,
}

/// Keys whose last use a shard remembers: more than any snapshot holds
/// (entries of keys deleted since are dropped when it fills).
const KEY_USES_MAX: usize = 100_000;

/// Settings every shard shares.
#[derive(Clone, Debug)]
pub struct S3Settings {
    pub region: String,
    /// Whether SigV2 requests are accepted (`--sigv2`).
    pub sigv2_enabled: bool,
    /// Domains under which `bucket.domain` is virtual-host style.
    pub virtual_host_domains: Vec<String>,
    pub encryption: crate::sse::EncryptionSettings,
    /// The data directory: its filesystem is the capacity SOSAPI reports.
    pub data_dir: std::path::PathBuf,
    /// The recommendations Veeam reads from SOSAPI `system.xml`.
    pub sosapi: crate::ops::sosapi::SosapiSettings,
    /// Where the shards send their access log lines (`--access-log`); `None`
    /// when the access log is off.
    pub access_log: Option<crate::access_log::AccessLogSender>,
    /// Which connections count as secure (`--trusted-proxies`,
    /// `--sse-c-allow-plain-http`).
    pub transport: crate::transport::TransportSettings,
    /// The durable queue of bucket event notifications.
    pub events: Option<crate::notify::EventSender>,
}

pub struct Shard {
    pub id: u16,
    pub shard_count: u16,
    pub settings: S3Settings,
    pub store: Rc<ShardStore<ShardDisk>>,
    pub reader: ObjectReader<ShardDisk>,
    pub peers: Vec<async_channel::Sender<ShardRequest>>,
    pub control: async_channel::Sender<ControlRequest>,
    pub catalog: RefCell<Arc<CatalogSnapshot>>,
    pub signing_keys: RefCell<SigningKeyCache>,
    pub bufs: RefCell<BufPool>,
    /// Shards that are accepting connections (for the health endpoint).
    pub serving_shards: Arc<AtomicUsize>,
    /// Access key id → its last authenticated use here (since start).
    key_uses: RefCell<HashMap<String, KeyUse>>,
    /// Quotas of the buckets this shard owns (shared with the store's usage
    /// observer, on this thread).
    pub quota: Rc<RefCell<crate::quota::QuotaLedger>>,
    /// Requests and bytes per bucket since the last flush to the control plane.
    pub traffic: crate::traffic::TrafficCounter,
    /// Bounds the events this shard audits.
    pub audit_budget: crate::audit::AuditBudget,
    /// Requests by operation, status, latency and bytes (`crate::metrics`).
    pub metrics: RefCell<crate::metrics::RequestMetrics>,
    /// Open S3 connections on this shard (kept by the HTTP server).
    pub connections_open: Rc<std::cell::Cell<usize>>,
    /// This shard's access log lines, when the access log is on.
    pub access_log: Option<crate::access_log::AccessLog>,
    /// The last event sequencer this shard gave out (see [`Shard::event_sequence`]).
    event_sequencer: std::cell::Cell<u64>,
    /// The ETag MD5 of concurrent uploads, hashed together in SIMD lanes.
    pub md5_batch: crate::md5_batch::Md5Batch,
}

impl Shard {
    /// Whether the request came over TLS, here or at a trusted proxy.
    pub fn secure_transport(&self, ex: &http::Exchange<'_>) -> bool {
        self.settings
            .transport
            .is_secure(ex.head(), ex.is_tls(), ex.peer_addr().ip())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: u16,
        settings: S3Settings,
        store: Rc<ShardStore<ShardDisk>>,
        reader: ObjectReader<ShardDisk>,
        peers: Vec<async_channel::Sender<ShardRequest>>,
        control: async_channel::Sender<ControlRequest>,
        catalog: Arc<CatalogSnapshot>,
        serving_shards: Arc<AtomicUsize>,
    ) -> Shard {
        let usages = store.index().bucket_usages().unwrap_or_else(|err| {
            tracing::error!(shard = id, %err, "bucket usage counters unreadable; counting from zero");
            Vec::new()
        });
        let quota = Rc::new(RefCell::new(crate::quota::QuotaLedger::new(
            &usages, &catalog, id,
        )));
        let observer = quota.clone();
        let returns_to = control.clone();
        store.set_usage_observer(Box::new(move |deltas| {
            let returned = observer.borrow_mut().observe(deltas);
            crate::quota::send_quota_returns(&returns_to, id, returned);
        }));
        // The shard's one sender: `AccessLog::close` can then end it.
        let mut settings = settings;
        let access_log = settings
            .access_log
            .take()
            .map(crate::access_log::AccessLog::new);
        Shard {
            quota,
            access_log,
            traffic: Default::default(),
            audit_budget: Default::default(),
            metrics: Default::default(),
            connections_open: Default::default(),
            id,
            shard_count: peers.len() as u16,
            settings,
            store,
            reader,
            peers,
            control,
            catalog: RefCell::new(catalog),
            signing_keys: RefCell::new(SigningKeyCache::new()),
            bufs: RefCell::new(BufPool::new(CHUNK_BUF_BYTES, CHUNK_BUFS_POOLED_MAX)),
            serving_shards,
            key_uses: RefCell::new(HashMap::new()),
            event_sequencer: Default::default(),
            md5_batch: Default::default(),
        }
    }

    /// The sequencer of an event whose change this (owner) shard just
    /// committed: microseconds since the epoch, moved on by one when the
    /// clock did not move, so the sequencers of a bucket's changes grow in
    /// commit order and survive restarts (the clock moved on meanwhile).
    pub fn event_sequence(&self) -> u64 {
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        let next = now_us.max(self.event_sequencer.get() + 1);
        self.event_sequencer.set(next);
        next
    }

    /// Everything this shard reports to the metrics endpoint.
    pub fn metrics_snapshot(&self) -> crate::metrics::ShardMetrics {
        use std::sync::atomic::Ordering::Relaxed;
        let requests = self.metrics.borrow();
        let space = self.store.index().space_report();
        let segment_bytes = self.store.config().segment_bytes;
        let (live_bytes, dead_bytes) = match &space {
            Ok(report) => {
                let live = report.live_bytes();
                let allocated = report.segments.len() as u64 * segment_bytes;
                (Some(live), Some(allocated.saturating_sub(live)))
            }
            Err(_) => (None, None),
        };
        let compaction = &self.store.compaction_stats;
        let commits = &self.store.commit_stats;
        crate::metrics::ShardMetrics {
            shard: self.id,
            operations: requests.operations(),
            errors: requests.errors(),
            in_flight: requests.in_flight(),
            connections_open: self.connections_open.get() as u64,
            inbox_depth: self.peers[self.id as usize].len() as u64,
            commit_queue: self.store.commit_queue_len() as u64,
            commit_batch_ops: commits.batch_ops.snapshot(),
            fdatasync_us: commits.fdatasync_us.snapshot(),
            commit_us: commits.commit_us.snapshot(),
            live_bytes,
            dead_bytes,
            compaction_passes: compaction.passes.load(Relaxed),
            compaction_bytes_relocated: compaction.bytes_relocated.load(Relaxed),
            compaction_bytes_reclaimed: compaction.bytes_reclaimed.load(Relaxed),
            compaction_segments_removed: compaction.segments_removed.load(Relaxed),
            segments_poisoned: self.store.segments_poisoned() as u64,
            disk_full: self.store.disk_full(),
            access_log_dropped_lines: self
                .access_log
                .as_ref()
                .map_or(0, |log| log.lines_dropped_total()),
            md5_chunks_batched: self.md5_batch.chunks_batched.get(),
            md5_chunks_alone: self.md5_batch.chunks_alone.get(),
            md5_bodies_at_commit: self
                .store
                .commit_stats
                .md5_at_commit
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Notes a request authenticated with `access_key_id` (after its
    /// signature checked out). One map lookup; a key's first use allocates.
    pub fn note_key_use(&self, access_key_id: &str, service: &'static str, now_ms: u64) {
        let mut uses = self.key_uses.borrow_mut();
        let used = KeyUse {
            last_used_ms: now_ms,
            service,
        };
        if let Some(entry) = uses.get_mut(access_key_id) {
            *entry = used;
            return;
        }
        if uses.len() >= KEY_USES_MAX {
            let catalog = self.catalog();
            uses.retain(|key, _| catalog.keys.contains_key(key));
            if uses.len() >= KEY_USES_MAX {
                return;
            }
        }
        uses.insert(access_key_id.to_owned(), used);
    }

    pub fn catalog(&self) -> Arc<CatalogSnapshot> {
        self.catalog.borrow().clone()
    }

    /// Installs `snapshot` unless this shard already has a newer one.
    pub fn install_catalog(&self, snapshot: Arc<CatalogSnapshot>) {
        let mut current = self.catalog.borrow_mut();
        if snapshot.version > current.version {
            self.quota.borrow_mut().refresh_accounts(&snapshot, self.id);
            *current = snapshot;
        }
    }

    pub fn all_serving(&self) -> bool {
        self.serving_shards.load(Ordering::Acquire) == self.shard_count as usize
    }

    pub fn take_buf(&self) -> AlignedBuf {
        self.bufs.borrow_mut().take()
    }

    pub fn give_buf(&self, buf: AlignedBuf) {
        self.bufs.borrow_mut().give(buf)
    }

    /// Appends a sealed chunk on the bucket's owner shard.
    pub async fn append_chunk(
        &self,
        owner: u16,
        buf: AlignedBuf,
        object_id: u128,
        chunk_index: u32,
        payload_len_bytes: u32,
    ) -> (EngineResult<Extent>, AlignedBuf) {
        if owner == self.id {
            return self
                .store
                .append_chunk(buf, object_id, chunk_index, payload_len_bytes)
                .await;
        }
        let (reply, answer) = oneshot::channel();
        let request = ShardRequest::AppendChunk {
            buf,
            object_id,
            chunk_index,
            payload_len_bytes,
            reply,
        };
        if let Err(err) = self.peers[owner as usize].send(request).await {
            let ShardRequest::AppendChunk { buf, .. } = err.into_inner() else {
                unreachable!("the request sent is the one returned")
            };
            return (Err(EngineError::ShuttingDown), buf);
        }
        match answer.await {
            Ok(answer) => answer,
            // The owner dropped the reply: it is shutting down and the buffer is gone.
            Err(_) => (Err(EngineError::ShuttingDown), self.take_buf()),
        }
    }

    /// Commits an index change on the bucket's owner shard.
    pub async fn commit(&self, owner: u16, op: IndexOp) -> EngineResult<()> {
        self.commit_notified(owner, op, None).await
    }

    /// [`Shard::commit`] of a change raising `events`, which the owner
    /// queues once the change is committed.
    pub async fn commit_notified(
        &self,
        owner: u16,
        op: IndexOp,
        events: Option<crate::notify::CommitEvents>,
    ) -> EngineResult<()> {
        if owner == self.id {
            return self.commit_here(op, events).await;
        }
        let (reply, answer) = oneshot::channel();
        self.peers[owner as usize]
            .send(ShardRequest::Commit { op, events, reply })
            .await
            .map_err(|_| EngineError::ShuttingDown)?;
        answer.await.map_err(|_| EngineError::ShuttingDown)?
    }

    async fn commit_here(
        &self,
        op: IndexOp,
        events: Option<crate::notify::CommitEvents>,
    ) -> EngineResult<()> {
        let result = self.store.commit(op).await;
        if result.is_ok() {
            self.events_committed(events);
        }
        result
    }

    /// Queues the events of a change this (owner) shard just committed. Run
    /// as the commit's continuation on the owner, so the events of a bucket
    /// are queued in the order its changes were committed, each with a
    /// larger sequencer than the one before.
    fn events_committed(&self, events: Option<crate::notify::CommitEvents>) {
        if let Some(events) = events {
            events.enqueue(self.event_sequence());
        }
    }

    /// Commits the index change that completes a write holding `hold`. The
    /// owner releases the hold with the commit, whatever its outcome.
    /// `events`: the change's event notifications (see [`Shard::commit_notified`]).
    pub(crate) async fn commit_write(
        &self,
        owner: u16,
        (op, events): (IndexOp, Option<crate::notify::CommitEvents>),
        hold: Option<WriteHold>,
        quota: crate::quota::QuotaHold,
    ) -> S3Result<()> {
        let charge = quota.into_charge();
        let result = match charge {
            crate::quota::QuotaCharge::None => self
                .commit_notified(owner, op, events)
                .await
                .map_err(crate::ops::engine_error),
            charge => self.commit_charged(owner, op, charge, events).await,
        };
        // A quota refusal comes before the owner saw the op: the write's
        // records are dead, so the hold is dropped (abandoning them now
        // rather than when the hold would expire).
        let refused = matches!(&result, Err(err) if err.code == S3ErrorCode::QuotaExceeded);
        if let Some(hold) = hold {
            if !refused {
                hold.committed();
            }
        }
        result
    }

    /// Commits `op` on the owner with its quota charge (reserve and commit,
    /// or commit and settle); the reservation is released whatever happens.
    pub(crate) async fn commit_charged(
        &self,
        owner: u16,
        op: IndexOp,
        charge: crate::quota::QuotaCharge,
        events: Option<crate::notify::CommitEvents>,
    ) -> S3Result<()> {
        if owner == self.id {
            return self.commit_charged_here(op, charge, events).await;
        }
        let (reply, answer) = oneshot::channel();
        let unavailable = || S3Error::new(S3ErrorCode::SlowDown, "shard unavailable");
        let request = ShardRequest::CommitCharged {
            op,
            charge,
            events,
            reply,
        };
        self.peers[owner as usize]
            .send(request)
            .await
            .map_err(|_| unavailable())?;
        answer.await.map_err(|_| unavailable())?
    }

    async fn commit_charged_here(
        &self,
        op: IndexOp,
        charge: crate::quota::QuotaCharge,
        events: Option<crate::notify::CommitEvents>,
    ) -> S3Result<()> {
        let result = self.commit_charged_ticket(op, charge).await;
        if result.is_ok() {
            self.events_committed(events);
        }
        result
    }

    async fn commit_charged_ticket(
        &self,
        op: IndexOp,
        charge: crate::quota::QuotaCharge,
    ) -> S3Result<()> {
        use crate::quota::QuotaCharge;
        let ticket = match charge {
            QuotaCharge::None => None,
            QuotaCharge::Settle(ticket) => Some(ticket),
            QuotaCharge::Reserve(ticket) => {
                self.quota_reserve_here(&ticket).await?;
                Some(ticket)
            }
        };
        let Some(ticket) = ticket else {
            return self
                .store
                .commit(op)
                .await
                .map_err(crate::ops::engine_error);
        };
        // Settled in the same step as the commit's usage appears in the
        // ledger: a reclaim in between would otherwise count the write twice
        // and hand the shard allotment it must not have.
        let quota = self.quota.clone();
        let control = self.control.clone();
        let shard = self.id;
        let settle = Box::new(move |committed: bool| {
            if committed {
                quota.borrow_mut().release(&ticket);
            } else {
                let returned = quota.borrow_mut().release_unused(&ticket);
                crate::quota::send_quota_returns(&control, shard, returned);
            }
        });
        self.store
            .commit_settled(op, settle)
            .await
            .map_err(crate::ops::engine_error)
    }

    /// Tells the owner that the write of `object_id` ends without a commit.
    /// Synchronous (it runs from drop guards): a full queue to the owner
    /// defers the message to a task instead of waiting.
    fn abandon_write(&self, owner: u16, object_id: u128) {
        if owner == self.id {
            self.store.abandon_write(object_id);
            return;
        }
        let peer = &self.peers[owner as usize];
        if let Err(async_channel::TrySendError::Full(request)) =
            peer.try_send(ShardRequest::AbandonWrite { object_id })
        {
            let peer = peer.clone();
            monoio::spawn(async move {
                let _ = peer.send(request).await;
            });
        }
    }

    /// Asks the control plane to change a bucket (create, delete, set its
    /// default encryption) and installs the snapshot it answers with.
    pub async fn control(
        &self,
        make: impl FnOnce(oneshot::Sender<S3Result<Arc<CatalogSnapshot>>>) -> ControlRequest,
    ) -> S3Result<()> {
        let (reply, answer) = oneshot::channel();
        self.control
            .send(make(reply))
            .await
            .map_err(|_| S3Error::new(S3ErrorCode::SlowDown, "control plane unavailable"))?;
        let snapshot = answer
            .await
            .map_err(|_| S3Error::new(S3ErrorCode::SlowDown, "control plane unavailable"))??;
        self.install_catalog(snapshot);
        Ok(())
    }

    /// Hands an IAM or STS call to the control plane. A call that changed
    /// identities answers after every shard installed the new snapshot.
    pub async fn query(
        &self,
        make: impl FnOnce(oneshot::Sender<crate::query::QueryAnswer>) -> ControlRequest,
    ) -> crate::query::QueryAnswer {
        let unavailable = || {
            crate::query::QueryError::new("ServiceUnavailable", 503, "control plane unavailable")
        };
        let (reply, answer) = oneshot::channel();
        self.control
            .send(make(reply))
            .await
            .map_err(|_| unavailable())?;
        answer.await.map_err(|_| unavailable())?
    }
}

/// A write that appended records on its owner shard and has not committed:
/// dropped before [`WriteHold::committed`] (an error, the client gone), it
/// tells the owner the records are dead, so their segments can be compacted.
/// Drop it only after every append of the write has finished, or a late
/// append would take the hold again (until it expires).
pub(crate) struct WriteHold {
    shard: Rc<Shard>,
    owner: u16,
    object_id: u128,
    armed: bool,
}

impl WriteHold {
    pub(crate) fn new(shard: &Rc<Shard>, owner: u16, object_id: u128) -> WriteHold {
        WriteHold {
            shard: shard.clone(),
            owner,
            object_id,
            armed: true,
        }
    }

    /// The commit was handed to the owner, which releases the hold itself.
    fn committed(mut self) {
        self.armed = false;
    }
}

impl Drop for WriteHold {
    fn drop(&mut self) {
        if self.armed {
            self.shard.abandon_write(self.owner, self.object_id);
        }
    }
}

/// Serves the requests other shards and the control plane send this shard.
/// Each request runs as its own task so appends from many uploads overlap.
pub async fn serve_shard_requests(
    shard: Rc<Shard>,
    requests: async_channel::Receiver<ShardRequest>,
) {
    while let Ok(request) = requests.recv().await {
        let shard = shard.clone();
        monoio::spawn(async move { handle_shard_request(&shard, request).await });
    }
}

async fn handle_shard_request(shard: &Shard, request: ShardRequest) {
    match request {
        ShardRequest::AppendChunk {
            buf,
            object_id,
            chunk_index,
            payload_len_bytes,
            reply,
        } => {
            let answer = shard
                .store
                .append_chunk(buf, object_id, chunk_index, payload_len_bytes)
                .await;
            let _ = reply.send(answer);
        }
        ShardRequest::Commit { op, events, reply } => {
            let _ = reply.send(shard.commit_here(op, events).await);
        }
        ShardRequest::AbandonWrite { object_id } => shard.store.abandon_write(object_id),
        ShardRequest::KeyLastUsed {
            access_key_id,
            reply,
        } => {
            let used = shard.key_uses.borrow().get(&access_key_id).copied();
            let _ = reply.send(used);
        }
        ShardRequest::CommitCharged {
            op,
            charge,
            events,
            reply,
        } => {
            let _ = reply.send(shard.commit_charged_here(op, charge, events).await);
        }
        ShardRequest::QuotaReserve { ticket, reply } => {
            let _ = reply.send(shard.quota_reserve_here(&ticket).await);
        }
        ShardRequest::QuotaRelease { ticket } => shard.quota_release_unused(&ticket),
        ShardRequest::QuotaSync {
            account,
            generation,
            reply,
        } => {
            let _ = reply.send(shard.quota.borrow_mut().sync(&account, generation));
        }
        ShardRequest::Metrics { reply } => {
            let _ = reply.send(shard.metrics_snapshot());
        }
        ShardRequest::BucketUsages { reply } => {
            let usages = shard.store.index().bucket_usages().unwrap_or_else(|err| {
                tracing::error!(shard = shard.id, %err, "bucket usage counters unreadable");
                Vec::new()
            });
            let _ = reply.send(usages);
        }
        ShardRequest::InstallCatalog { snapshot, reply } => {
            shard.install_catalog(snapshot);
            let _ = reply.send(());
        }
    }
}
