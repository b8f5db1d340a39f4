//! The control-plane thread: owns the SQLite catalog, creates and deletes
//! buckets (telling the owner shard's index first), sets their default
//! encryption and policy, executes the IAM and STS query APIs (`iam`), and
//! publishes catalog snapshots to every shard.

pub mod counters;
pub mod federated;
pub mod iam;
pub mod identities;
pub mod kms;
pub mod quota;
pub mod tenants;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::catalog::{BucketEncryptionRow, BucketRow, Catalog, CatalogError};
use crate::directory::{AccountRecord, UserRecord, DEFAULT_ACCOUNT_NAME, SETTING_DEFAULT_ACCOUNT};
use engine::crypto::MasterKey;
use engine::index::IndexOp;
use futures_channel::oneshot;
use identities::IdentityCache;
use s3::error::{S3Error, S3ErrorCode, S3Result};
use s3::ops::acl::SETTING_ACL;
use s3::ops::cors::{CorsConfiguration, SETTING_CORS};
use s3::ops::engine_error;
use s3::ops::lifecycle::SETTING_LIFECYCLE;
use s3::ops::object_lock::{DefaultRetention, SETTING_OBJECT_LOCK_RULE};
use s3::ops::ownership::{ObjectOwnership, SETTING_OWNERSHIP};
use s3::ops::public_access::{PublicAccessBlock, SETTING_PUBLIC_ACCESS_BLOCK};
use s3::ops::versioning::{BucketVersioning, SETTING_OBJECT_LOCK};
use s3::query::{QueryAnswer, QueryCaller, QueryError, QueryRequest, RequestFacts};
use s3::shard::{BucketInfo, CatalogSnapshot, ControlRequest, ShardRequest};
use s3::sse::BucketEncryption;

pub struct ControlPlane {
    pub catalog: Catalog,
    /// Opens the access keys' sealed secrets for each snapshot.
    pub master: MasterKey,
    pub shards: Vec<async_channel::Sender<ShardRequest>>,
    pub snapshot: Arc<CatalogSnapshot>,
    /// The root's account, owner of buckets made before accounts existed.
    pub default_account: String,
    /// Opened secrets and parsed policies, kept between snapshots.
    pub identity_cache: IdentityCache,
    /// The server's region (`--region`).
    pub region: String,
    /// How much of each tenant's quota every shard holds.
    pub quota_leases: quota::QuotaLeases,
    /// Admin API sessions and login throttles.
    pub admin: crate::admin::AdminState,
    /// Audit entries older than this many days are deleted.
    pub audit_retention_days: u64,
    /// When the audit log was last pruned.
    pub audit_pruned_ms: u64,
    /// The data directory (the metrics report its filesystem's space).
    pub data_dir: std::path::PathBuf,
    /// The scrubbers' counters, once they started.
    pub scrub_stats: Arc<std::sync::OnceLock<Vec<Arc<engine::scrub::ScrubStats>>>>,
    /// The control plane's own metrics counters.
    pub metrics: counters::ControlMetrics,
    pub metrics_settings: counters::MetricsSettings,
    /// Log forwarding, when a target wants the audit log.
    pub log_forward: Option<Arc<crate::ship::Shipper>>,
    /// Alert checks, state and notifier.
    pub alerts: crate::alerts::Alerts,
    /// Where the console's browser side reaches S3 (its share links).
    pub console_s3: ConsoleS3Endpoint,
    /// LDAP and OpenID Connect sign-ins waiting for their provider.
    pub federated: federated::FederatedState,
    /// Bucket event notification queues and their delivery.
    pub notifier: Arc<crate::notify::Notifier>,
}

/// The S3 port as the console's share links name it.
#[derive(Clone, Copy, Debug)]
pub struct ConsoleS3Endpoint {
    pub s3_port: u16,
    pub s3_tls: bool,
}

/// How often the audit log is pruned (checked as requests arrive).
const AUDIT_PRUNE_INTERVAL_MS: u64 = 3600 * 1000;

/// The catalog setting present while maintenance mode is on (the admin
/// API's `/maintenance` switches it).
pub const SETTING_MAINTENANCE: &str = "maintenance";

/// The name of the bucket setting holding a bucket's policy document.
pub const SETTING_POLICY: &str = "policy";
/// The bucket setting holding a bucket's quota (`{"storage_bytes", "objects"}`).
pub const SETTING_QUOTA: &str = "quota";

/// A bucket's quota as its setting stores it; unreadable means unlimited
/// (and is logged): the setting is only ever written by the admin API.
pub fn bucket_quota_from_setting(value: &str) -> s3::quota::StorageQuota {
    #[derive(serde::Deserialize)]
    struct Stored {
        storage_bytes: Option<u64>,
        objects: Option<u64>,
    }
    match serde_json::from_str::<Stored>(value) {
        Ok(stored) => s3::quota::StorageQuota {
            bytes: stored.storage_bytes,
            objects: stored.objects,
        },
        Err(err) => {
            tracing::error!(%err, "a bucket quota setting does not parse; treated as unlimited");
            s3::quota::StorageQuota::default()
        }
    }
}

/// The default account's id, creating the account at first start: twelve
/// random digits and a random canonical id, as AWS's look.
pub fn ensure_default_account(catalog: &Catalog) -> Result<String, CatalogError> {
    if let Some(id) = catalog.setting(SETTING_DEFAULT_ACCOUNT)? {
        return Ok(id);
    }
    let id = crate::credentials::random_from(b"0123456789", 12);
    let account = AccountRecord {
        id: id.clone(),
        name: DEFAULT_ACCOUNT_NAME.to_owned(),
        canonical_id: crate::credentials::random_from(b"0123456789abcdef", 64),
        created_ms: now_ms(),
        display_name: String::new(),
        suspended: false,
        quota: Default::default(),
        bandwidth: Default::default(),
    };
    catalog.write_records(&[crate::directory::RecordChange::put(&id, &account)])?;
    catalog.set_setting(SETTING_DEFAULT_ACCOUNT, &id)?;
    Ok(id)
}

/// A bucket ACL as stored; a damaged one is logged and shows as the owner's
/// FULL_CONTROL alone (it grants no one else anything until replaced).
fn stored_bucket_acl(bucket: &str, text: &str) -> Option<Arc<::iam::acl::Acl>> {
    let acl = ::iam::acl::Acl::from_stored(text);
    if acl.is_none() {
        tracing::error!(
            bucket,
            "stored bucket ACL does not parse; it grants nothing until replaced"
        );
    }
    acl.map(Arc::new)
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Builds a snapshot from the catalog's current contents; `master` opens the
/// stored secrets (the shards need them in clear to check signatures).
pub fn load_snapshot(
    catalog: &Catalog,
    version: u64,
    master: &MasterKey,
    cache: &mut IdentityCache,
    default_account: &str,
) -> Result<CatalogSnapshot, CatalogError> {
    let owners: HashMap<u64, String> = catalog.bucket_owners()?.into_iter().collect();
    let mut encryptions = load_snapshot_encryptions(catalog)?;
    let mut settings: HashMap<u64, Vec<(String, String)>> = HashMap::new();
    for (bucket_id, name, value) in catalog.bucket_settings()? {
        settings.entry(bucket_id).or_default().push((name, value));
    }
    let setting = |bucket_id: &u64, wanted: &str| -> Option<&str> {
        settings
            .get(bucket_id)?
            .iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, value)| value.as_str())
    };
    let buckets: BTreeMap<String, BucketInfo> = catalog
        .buckets()?
        .into_iter()
        .map(|row| {
            let info = BucketInfo {
                id: row.id,
                name: row.name.clone(),
                owner_shard: row.owner_shard,
                created_ms: row.created_ms,
                encryption: encryptions.remove(&row.id),
                versioning: BucketVersioning::from_settings(
                    settings.get(&row.id).map(Vec::as_slice).unwrap_or_default(),
                ),
                object_lock_enabled: setting(&row.id, SETTING_OBJECT_LOCK) == Some("Enabled"),
                object_lock_default: setting(&row.id, SETTING_OBJECT_LOCK_RULE)
                    .and_then(DefaultRetention::from_setting),
                lifecycle: setting(&row.id, SETTING_LIFECYCLE).map(Arc::from),
                // Validated when put; a stored text that no longer parses
                // (a corrupt catalog) leaves the bucket without CORS.
                cors: setting(&row.id, SETTING_CORS)
                    .and_then(|text| CorsConfiguration::parse(text.as_bytes()).ok())
                    .map(Arc::new),
                tagging: setting(&row.id, s3::ops::tagging::SETTING_BUCKET_TAGGING).map(Arc::from),
                setting_request_payment: setting(
                    &row.id,
                    s3::ops::bucket_options::SETTING_REQUEST_PAYMENT,
                )
                .map(Arc::from),
                setting_accelerate: setting(&row.id, s3::ops::bucket_options::SETTING_ACCELERATE)
                    .map(Arc::from),
                owner_account: owners
                    .get(&row.id)
                    .cloned()
                    .unwrap_or_else(|| default_account.to_owned()),
                policy: setting(&row.id, SETTING_POLICY)
                    .map(|document| cache.bucket_policy(&row.name, document)),
                quota: setting(&row.id, SETTING_QUOTA)
                    .map(bucket_quota_from_setting)
                    .unwrap_or_default(),
                acl: setting(&row.id, SETTING_ACL)
                    .and_then(|text| stored_bucket_acl(&row.name, text)),
                ownership: setting(&row.id, SETTING_OWNERSHIP).and_then(ObjectOwnership::parse),
                public_access_block: setting(&row.id, SETTING_PUBLIC_ACCESS_BLOCK)
                    .and_then(PublicAccessBlock::from_setting),
                notification: setting(&row.id, s3::notify::SETTING_NOTIFICATION)
                    .and_then(s3::notify::NotificationConfig::from_setting)
                    .map(Arc::new),
            };
            (row.name, info)
        })
        .collect();
    let live: std::collections::HashSet<&str> = buckets
        .values()
        .filter_map(|bucket| bucket.policy.as_deref())
        .map(|policy| policy.document.as_str())
        .collect();
    cache.retain_bucket_policies(&live);
    let identities =
        identities::load_identities(catalog, master, cache, default_account, now_ms())?;
    let mut tenants = HashMap::new();
    for (_, account) in catalog.all_records::<AccountRecord>()? {
        let bandwidth = account.bandwidth;
        let limited =
            bandwidth.in_bytes_per_second.is_some() || bandwidth.out_bytes_per_second.is_some();
        let quota = s3::quota::StorageQuota {
            bytes: account.quota.storage_bytes,
            objects: account.quota.objects,
        };
        if !limited {
            cache.lift_throttle(&account.id);
        }
        if !account.suspended && quota.is_unlimited() && !limited {
            continue;
        }
        let throttle = limited.then(|| {
            cache.throttle(
                &account.id,
                bandwidth.in_bytes_per_second,
                bandwidth.out_bytes_per_second,
            )
        });
        let limits = s3::quota::TenantLimits {
            suspended: account.suspended,
            quota,
            throttle,
        };
        tenants.insert(account.id.clone(), Arc::new(limits));
    }
    Ok(CatalogSnapshot {
        version,
        buckets,
        keys: identities.keys,
        accounts: identities.accounts,
        tenants,
        users: identities.users,
        maintenance: catalog.setting(SETTING_MAINTENANCE)?.is_some(),
        kms: Arc::new(kms::load_keys(catalog, master)?),
        notification_targets: Arc::new(
            catalog
                .all_records::<crate::notify::targets::NotificationTargetRecord>()?
                .into_iter()
                .map(|(account, target)| format!("{account}/{}", target.name))
                .collect(),
        ),
    })
}

/// An access key's secret as the catalog stores it, sealed by the master key.
pub fn open_secret(master: &MasterKey, access_key: &str, sealed: &str) -> Result<String, String> {
    let plain = master
        .open_text(sealed)
        .map_err(|err| format!("the secret of access key {access_key} does not open: {err}"))?;
    String::from_utf8(plain)
        .map_err(|_| format!("the secret of access key {access_key} is not UTF-8"))
}

/// Every bucket's default encryption, by bucket id. An algorithm this binary
/// does not know (a newer one wrote it) stops the load: serving the bucket
/// without it would store in clear what its owner asked to be encrypted.
fn load_snapshot_encryptions(
    catalog: &Catalog,
) -> Result<HashMap<u64, BucketEncryption>, CatalogError> {
    catalog
        .bucket_encryptions()?
        .into_iter()
        .map(|(bucket_id, row)| {
            BucketEncryption::from_stored(&row.sse_algorithm, row.bucket_key_enabled)
                .map(|encryption| (bucket_id, encryption))
                .ok_or_else(|| {
                    CatalogError::Unreadable(format!(
                        "bucket {bucket_id} has default encryption {:?}, which this version \
                         does not know",
                        row.sse_algorithm
                    ))
                })
        })
        .collect()
}

fn catalog_error(err: CatalogError) -> S3Error {
    match err {
        CatalogError::BucketExists => S3Error::new(
            S3ErrorCode::BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it.",
        ),
        CatalogError::NoSuchBucket => S3Error::new(
            S3ErrorCode::NoSuchBucket,
            "The specified bucket does not exist",
        ),
        CatalogError::Sqlite(_) | CatalogError::Io(_) | CatalogError::Unreadable(_) => {
            tracing::error!(%err, "catalog failure");
            S3Error::internal("catalog failure")
        }
    }
}

impl ControlPlane {
    /// Serves the shards' requests and the admin API's calls, one at a time,
    /// until the shards' channel closes.
    pub async fn run(
        mut self,
        requests: async_channel::Receiver<ControlRequest>,
        admin_calls: async_channel::Receiver<crate::admin::AdminCall>,
    ) {
        use futures_util::future::{select, Either};
        let mut admin_open = true;
        loop {
            let request = if admin_open {
                let shard_next = std::pin::pin!(requests.recv());
                let admin_next = std::pin::pin!(admin_calls.recv());
                // Receiving is cancel-safe: the call not taken stays queued.
                match select(shard_next, admin_next).await {
                    Either::Left((Ok(request), _)) => request,
                    Either::Left((Err(_), _)) => break,
                    Either::Right((Ok(crate::admin::AdminCall::Api { request, reply }), _)) => {
                        self.prune_audit_when_due();
                        // Sign-ins through a provider answer later, when
                        // their worker is done; everything else now.
                        if let Some((request, reply)) = self.federated_admin_call(request, reply) {
                            let answer = self.admin_call(*request).await;
                            let _ = reply.send(answer);
                        }
                        continue;
                    }
                    Either::Right((Ok(crate::admin::AdminCall::Federation(done)), _)) => {
                        self.federation_done(*done).await;
                        continue;
                    }
                    Either::Right((Ok(crate::admin::AdminCall::Metrics { reply }), _)) => {
                        let _ = reply.send(self.metrics_text().await);
                        continue;
                    }
                    Either::Right((Ok(crate::admin::AdminCall::AlertTick), _)) => {
                        self.alerts_tick().await;
                        continue;
                    }
                    Either::Right((Err(_), _)) => {
                        admin_open = false;
                        continue;
                    }
                }
            } else {
                match requests.recv().await {
                    Ok(request) => request,
                    Err(_) => break,
                }
            };
            self.prune_audit_when_due();
            match request {
                ControlRequest::CreateBucket {
                    name,
                    owner_account,
                    settings,
                    reply,
                } => {
                    let outcome = self.create_bucket(&name, &owner_account, &settings).await;
                    let _ = reply.send(outcome);
                }
                ControlRequest::DeleteBucket { name, reply } => {
                    let outcome = self.delete_bucket(&name).await;
                    let _ = reply.send(outcome);
                }
                ControlRequest::SetBucketSetting {
                    bucket_id,
                    name,
                    value,
                    reply,
                } => {
                    let outcome = self
                        .catalog
                        .set_bucket_setting(bucket_id, &name, value.as_deref())
                        .map_err(catalog_error);
                    let outcome = match outcome {
                        Ok(()) => self.publish().await,
                        Err(err) => Err(err),
                    };
                    let _ = reply.send(outcome);
                }
                ControlRequest::SetBucketPolicy {
                    bucket_id,
                    document,
                    reply,
                } => {
                    let outcome = self.set_bucket_policy(bucket_id, document).await;
                    let _ = reply.send(outcome);
                }
                ControlRequest::Query {
                    access_key_id,
                    request,
                    facts,
                    reply,
                } => {
                    let outcome = self.query(&access_key_id, &request, &facts).await;
                    let _ = reply.send(outcome);
                }
                ControlRequest::FederatedQuery {
                    request,
                    facts,
                    reply,
                } => self.federated_query(request, facts, reply),
                ControlRequest::QuotaLease {
                    shard,
                    account,
                    bytes,
                    objects,
                    reply,
                } => {
                    let answer = self.quota_lease(shard, &account, bytes, objects).await;
                    let counter = match &answer {
                        s3::quota::LeaseAnswer::Granted(_) => {
                            &mut self.metrics.quota_leases_granted
                        }
                        s3::quota::LeaseAnswer::Refused => &mut self.metrics.quota_leases_refused,
                        s3::quota::LeaseAnswer::Unlimited => {
                            &mut self.metrics.quota_leases_unlimited
                        }
                    };
                    *counter += 1;
                    let _ = reply.send(answer);
                }
                ControlRequest::Traffic { counts, now_ms } => {
                    let day = crate::admin::day_of(now_ms);
                    let rows: Vec<(&str, &str, (u64, u64, u64))> = counts
                        .iter()
                        .flat_map(|(account, buckets)| {
                            buckets.iter().map(move |(bucket, t)| {
                                (
                                    account.as_str(),
                                    bucket.as_str(),
                                    (t.requests, t.bytes_in, t.bytes_out),
                                )
                            })
                        })
                        .collect();
                    if let Err(err) = self.catalog.traffic_add(&day, &rows) {
                        tracing::error!(%err, "traffic counts not written");
                    }
                }
                ControlRequest::Audit(event) => self.audit(&event),
                ControlRequest::QuotaReturn { shard, returned } => {
                    self.metrics.quota_returns += 1;
                    self.quota_returned(shard, &returned)
                }
                ControlRequest::CurrentSnapshot { reply } => {
                    let _ = reply.send(self.snapshot.clone());
                }
                ControlRequest::SetBucketEncryption {
                    bucket_id,
                    encryption,
                    reply,
                } => {
                    let outcome = self.set_bucket_encryption(bucket_id, encryption).await;
                    let _ = reply.send(outcome);
                }
            }
        }
    }

    /// Writes an audit entry; a failure to write is logged, never fatal.
    pub(crate) fn audit(&self, event: &crate::audit::AuditEvent) {
        crate::audit::record(&self.catalog, self.log_forward.as_deref(), event);
    }

    fn prune_audit_when_due(&mut self) {
        let now = now_ms();
        if now.saturating_sub(self.audit_pruned_ms) < AUDIT_PRUNE_INTERVAL_MS {
            return;
        }
        self.audit_pruned_ms = now;
        let before = now.saturating_sub(self.audit_retention_days.saturating_mul(86_400_000));
        match self.catalog.audit_prune(before) {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "audit entries past their retention deleted"),
            Err(err) => tracing::error!(%err, "audit log prune failed"),
        }
    }

    async fn commit_on(&self, shard: u16, op: IndexOp) -> S3Result<()> {
        let (reply, answer) = oneshot::channel();
        let sent = self.shards[shard as usize]
            .send(ShardRequest::Commit {
                op,
                events: None,
                reply,
            })
            .await;
        sent.map_err(|_| S3Error::new(S3ErrorCode::SlowDown, "shard unavailable"))?;
        let outcome = answer
            .await
            .map_err(|_| S3Error::new(S3ErrorCode::SlowDown, "shard gone"))?;
        outcome.map_err(engine_error)
    }

    /// Creating a bucket, and what a crash at each step leaves:
    /// 1. the owner shard's index records the bucket id: an unused index
    ///    entry, invisible (ids are never reused);
    /// 2. the catalog row: the bucket exists;
    /// 3. every shard installs the new snapshot before the client hears back.
    async fn create_bucket(
        &mut self,
        name: &str,
        owner_account: &str,
        settings: &[(String, String)],
    ) -> S3Result<Arc<CatalogSnapshot>> {
        if let Some(existing) = self.catalog.bucket(name).map_err(catalog_error)? {
            // Bucket names are global: another account's is taken.
            let owner = self
                .snapshot
                .buckets
                .get(name)
                .filter(|bucket| bucket.id == existing.id)
                .map(|bucket| bucket.owner_account.clone())
                .unwrap_or_else(|| self.default_account.clone());
            if owner != owner_account {
                return Err(S3Error::new(
                    S3ErrorCode::BucketAlreadyExists,
                    "The requested bucket name is not available. The bucket namespace is shared \
                     by all users of the system. Please select a different name and try again.",
                ));
            }
            return Err(catalog_error(CatalogError::BucketExists));
        }
        let bucket_quota = tenants::account_record(&self.catalog, owner_account)
            .map_err(catalog_error)?
            .and_then(|account| account.quota.buckets);
        if let Some(limit) = bucket_quota {
            let owned = self
                .snapshot
                .buckets
                .values()
                .filter(|bucket| bucket.owner_account == owner_account)
                .count() as u64;
            if owned >= limit {
                return Err(S3Error::new(
                    S3ErrorCode::QuotaExceeded,
                    format!("The tenant's bucket quota ({limit} buckets) would be exceeded."),
                ));
            }
        }
        let id = self.catalog.next_bucket_id().map_err(catalog_error)?;
        let owner_shard = engine::shard_for(name, self.shards.len()) as u16;
        self.commit_on(
            owner_shard,
            IndexOp::CreateBucket {
                bucket_id: id,
                name: name.into(),
            },
        )
        .await?;
        let row = BucketRow {
            id,
            name: name.into(),
            owner_shard,
            created_ms: now_ms(),
        };
        self.catalog
            .insert_bucket_with_settings(&row, settings)
            .map_err(catalog_error)?;
        if owner_account != self.default_account {
            self.catalog
                .set_bucket_owner(id, owner_account)
                .map_err(catalog_error)?;
        }
        self.publish().await
    }

    /// Deleting a bucket: 1. the owner's index marks it dropped (refused while
    /// it holds objects; later commits to it fail), 2. the catalog row goes,
    /// 3. every shard installs the snapshot. A crash after 1 is repaired at
    /// start: catalog rows whose index bucket is dropped are removed.
    async fn delete_bucket(&mut self, name: &str) -> S3Result<Arc<CatalogSnapshot>> {
        let row = self
            .catalog
            .bucket(name)
            .map_err(catalog_error)?
            .ok_or_else(|| catalog_error(CatalogError::NoSuchBucket))?;
        self.commit_on(row.owner_shard, IndexOp::DropBucket { bucket_id: row.id })
            .await?;
        self.catalog.delete_bucket(name).map_err(catalog_error)?;
        self.publish().await
    }

    /// Setting or clearing a bucket's default encryption: 1. one catalog
    /// commit, 2. every shard installs the snapshot before the client hears
    /// back. A crash after 1 leaves the change made, and the next start
    /// publishes it; the client, not told, sends it again, which is harmless.
    async fn set_bucket_encryption(
        &mut self,
        bucket_id: u64,
        encryption: Option<BucketEncryption>,
    ) -> S3Result<Arc<CatalogSnapshot>> {
        let row = encryption.map(|encryption| BucketEncryptionRow {
            sse_algorithm: encryption.to_stored(),
            bucket_key_enabled: encryption.bucket_key_enabled,
        });
        self.catalog
            .set_bucket_encryption(bucket_id, row.as_ref())
            .map_err(catalog_error)?;
        self.publish().await
    }

    /// Sets or removes a bucket policy. Its grammar was checked by the
    /// shard; here, that every principal it names exists, as AWS requires.
    async fn set_bucket_policy(
        &mut self,
        bucket_id: u64,
        document: Option<String>,
    ) -> S3Result<Arc<CatalogSnapshot>> {
        if let Some(document) = &document {
            let parsed = ::iam::parse_policy(document, ::iam::PolicyKind::Bucket)
                .map_err(|err| S3Error::new(S3ErrorCode::MalformedPolicy, err.message))?;
            for principal in parsed.named_principals() {
                if !self.principal_exists(&principal).map_err(catalog_error)? {
                    return Err(S3Error::new(
                        S3ErrorCode::MalformedPolicy,
                        "Invalid principal in policy",
                    ));
                }
            }
        }
        self.catalog
            .set_bucket_setting(bucket_id, SETTING_POLICY, document.as_deref())
            .map_err(catalog_error)?;
        self.publish().await
    }

    /// Whether a principal a resource policy names exists here.
    fn principal_exists(&self, principal: &::iam::PrincipalName) -> Result<bool, CatalogError> {
        use ::iam::PrincipalName as P;
        let accounts = &self.snapshot.accounts;
        Ok(match principal {
            P::Any => true,
            P::Account(id) => accounts.contains_key(id),
            P::CanonicalUser(id) => accounts.values().any(|a| &a.canonical_id == id),
            P::Service(_) | P::Federated(_) => false,
            P::Arn(arn) => {
                let Some(rest) = arn.strip_prefix("arn:aws:iam::") else {
                    return Ok(arn.starts_with("arn:aws:sts::")
                        && arn.contains(":assumed-role/")
                        && accounts
                            .keys()
                            .any(|id| arn.starts_with(&format!("arn:aws:sts::{id}:"))));
                };
                let Some((account, resource)) = rest.split_once(':') else {
                    return Ok(false);
                };
                if !accounts.contains_key(account) {
                    return Ok(false);
                }
                let name = resource.rsplit('/').next().unwrap_or("");
                if resource == "root" {
                    true
                } else if resource.starts_with("user/") {
                    self.catalog.record::<UserRecord>(account, name)?.is_some()
                } else if resource.starts_with("role/") {
                    self.catalog
                        .record::<crate::directory::RoleRecord>(account, name)?
                        .is_some()
                } else {
                    false
                }
            }
        })
    }

    /// Executes an IAM or STS call; one that changed identities answers
    /// after every shard installed the snapshot with the change.
    async fn query(
        &mut self,
        access_key_id: &str,
        request: &QueryRequest,
        facts: &RequestFacts,
    ) -> QueryAnswer {
        // Resolved from this snapshot, not the shard's: a change published
        // since the shard saw the request (the key disabled, a policy
        // detached) counts here.
        let identity = self.snapshot.keys.get(access_key_id).ok_or_else(|| {
            QueryError::new(
                "InvalidClientTokenId",
                403,
                "The security token included in the request is invalid.",
            )
        })?;
        let caller = &QueryCaller {
            access_key_id: access_key_id.to_owned(),
            principal: identity.principal.clone(),
            temporary: identity.session.is_some(),
        };
        let key_last_used = match request.param("AccessKeyId") {
            Some(key) if request.action == "GetAccessKeyLastUsed" => self.key_last_used(key).await,
            _ => None,
        };
        // The console's own session of a user signed in with its password (and TOTP when
        // enrolled) may manage identities, as a console sign-in on AWS may.
        let console_session = self
            .admin
            .console_s3
            .values()
            .any(|credentials| credentials.access_key_id == access_key_id);
        let call = iam::Call {
            console_session,
            key_last_used,
            region: self.region.clone(),
            catalog: &self.catalog,
            audit_forward: self.log_forward.as_deref(),
            master: &self.master,
            account: caller.principal.account_id.clone(),
            caller,
            request,
            facts,
            now_ms: now_ms(),
        };
        let outcome = iam::execute(&call)?;
        if outcome.changed {
            self.publish().await.map_err(|_| {
                QueryError::new(
                    "ServiceFailure",
                    500,
                    "The change was stored but could not be published; it takes effect at the \
                     next change or restart.",
                )
            })?;
        }
        Ok(outcome.result)
    }

    /// The latest use of an access key any shard saw (since it started).
    async fn key_last_used(&self, access_key_id: &str) -> Option<s3::shard::KeyUse> {
        let mut answers = Vec::with_capacity(self.shards.len());
        for shard in &self.shards {
            let (reply, answer) = oneshot::channel();
            let request = ShardRequest::KeyLastUsed {
                access_key_id: access_key_id.to_owned(),
                reply,
            };
            if shard.send(request).await.is_ok() {
                answers.push(answer);
            }
        }
        let mut latest: Option<s3::shard::KeyUse> = None;
        for answer in answers {
            if let Ok(Some(used)) = answer.await {
                if latest.is_none_or(|seen| used.last_used_ms > seen.last_used_ms) {
                    latest = Some(used);
                }
            }
        }
        latest
    }

    pub(crate) async fn publish(&mut self) -> S3Result<Arc<CatalogSnapshot>> {
        let next = load_snapshot(
            &self.catalog,
            self.snapshot.version + 1,
            &self.master,
            &mut self.identity_cache,
            &self.default_account,
        )
        .map_err(|err| {
            tracing::error!(%err, "catalog snapshot failed");
            S3Error::internal("We encountered an internal error. Please try again.")
        })?;
        self.snapshot = Arc::new(next);
        let mut acks = Vec::with_capacity(self.shards.len());
        for shard in &self.shards {
            let (reply, ack) = oneshot::channel();
            let request = ShardRequest::InstallCatalog {
                snapshot: self.snapshot.clone(),
                reply,
            };
            if shard.send(request).await.is_ok() {
                acks.push(ack);
            }
        }
        for ack in acks {
            // A shard that is shutting down drops the reply; nothing to wait for.
            let _ = ack.await;
        }
        Ok(self.snapshot.clone())
    }
}
