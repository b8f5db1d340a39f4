//! The lifecycle worker of one shard: for every bucket this shard owns that
//! has a lifecycle configuration, it walks every version and multipart
//! upload and applies the rules (`ops::lifecycle`), committing through the
//! shard's own group commit.
//!
//! - Expiration (Days, Date): the current version of a matching object
//!   expires: a delete marker in a versioned bucket, a delete otherwise.
//! - ExpiredObjectDeleteMarker: a delete marker that is a key's only
//!   version is removed.
//! - NoncurrentVersionExpiration: a version noncurrent for NoncurrentDays
//!   (counted from when the next newer version was written), beyond the
//!   NewerNoncurrentVersions newest noncurrent ones, is removed.
//! - AbortIncompleteMultipartUpload: uploads older than DaysAfterInitiation.
//!
//! Locked versions are never removed: the engine refuses it inside the
//! commit (`EngineError::ObjectLocked`), and the worker moves on. A "day"
//! is `LifecycleSettings::day_ms` (a setting, so tests run in seconds).

use std::rc::Rc;
use std::time::Duration;

use engine::index::{IndexOp, ObjectRecord, VersionSel, VersionWrite, WriteCondition};
use engine::list::{VersionItem, VersionListQuery};
use engine::EngineError;

use crate::ops::lifecycle::{parse_configuration, LifecycleRule};
use crate::shard::{BucketInfo, Shard};

/// Versions examined per index read (one listing page).
const WALK_PAGE_ENTRIES: usize = 1000;

#[derive(Clone, Debug)]
pub struct LifecycleSettings {
    /// The length of a lifecycle "day" (86,400,000 outside tests).
    pub day_ms: u64,
    /// Seconds between passes; shared by every shard and changed by a
    /// configuration reload (SIGHUP), read before each wait step.
    pub interval_s: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl LifecycleSettings {
    fn interval(&self) -> Duration {
        Duration::from_secs(
            self.interval_s
                .load(std::sync::atomic::Ordering::Relaxed)
                .max(1),
        )
    }
}

/// Runs passes until the shard's store shuts down.
pub async fn run(shard: Rc<Shard>, settings: LifecycleSettings) {
    loop {
        let mut waited = Duration::ZERO;
        loop {
            // Read at each step: a reload shortens or lengthens this wait.
            let interval = settings.interval();
            if waited >= interval {
                break;
            }
            if shard.store.is_shut_down() {
                return;
            }
            let step = Duration::from_millis(100).min(interval - waited);
            monoio::time::sleep(step).await;
            waited += step;
        }
        let buckets: Vec<BucketInfo> = shard
            .catalog()
            .buckets
            .values()
            .filter(|b| b.owner_shard == shard.id && b.lifecycle.is_some())
            .cloned()
            .collect();
        for bucket in buckets {
            let Some(text) = bucket.lifecycle.as_deref() else {
                continue;
            };
            let Ok(rules) = parse_configuration(text.as_bytes()) else {
                tracing::warn!(bucket = %bucket.name, "stored lifecycle configuration unreadable");
                continue;
            };
            let rules: Vec<LifecycleRule> = rules.into_iter().filter(|r| r.enabled).collect();
            if let Err(err) = apply(&shard, &bucket, &rules, now_ms(), settings.day_ms).await {
                tracing::warn!(bucket = %bucket.name, %err, "lifecycle pass failed");
            }
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What the walk knows about the key whose versions it is in.
#[derive(Default)]
struct KeyWalk {
    key: Vec<u8>,
    /// When the next newer version was written: older ones are noncurrent
    /// since then.
    newer_written_ms: u64,
    noncurrent_seen: u32,
    /// The latest version is a delete marker and no older version has been
    /// seen yet: (version id).
    lone_marker: Option<String>,
}

/// One pass over one bucket.
async fn apply(
    shard: &Rc<Shard>,
    bucket: &BucketInfo,
    rules: &[LifecycleRule],
    now_ms: u64,
    day_ms: u64,
) -> Result<(), EngineError> {
    let index = shard.reader.shard_index(bucket.owner_shard as usize);
    let mut key_marker: Option<Vec<u8>> = None;
    let mut version_marker: Option<VersionSel> = None;
    let mut walk = KeyWalk::default();
    loop {
        let page = index.list_versions(&VersionListQuery {
            bucket_id: bucket.id,
            prefix: b"",
            key_marker: key_marker.as_deref(),
            version_marker,
            delimiter: None,
            entries_max: WALK_PAGE_ENTRIES,
        })?;
        let mut ops = Vec::new();
        for item in &page.items {
            let VersionItem::Version {
                key,
                version_id,
                is_latest,
                record,
            } = item
            else {
                continue;
            };
            if *is_latest {
                ops.extend(lone_marker_op(bucket, rules, &walk));
                walk = KeyWalk {
                    key: key.clone(),
                    newer_written_ms: record.last_modified_ms,
                    noncurrent_seen: 0,
                    lone_marker: record.is_delete_marker().then(|| version_id.clone()),
                };
                ops.extend(current_op(bucket, rules, key, record, now_ms, day_ms));
            } else {
                walk.lone_marker = None;
                walk.noncurrent_seen += 1;
                ops.extend(noncurrent_op(
                    bucket, rules, &walk, version_id, record, now_ms, day_ms,
                ));
                walk.newer_written_ms = record.last_modified_ms;
            }
            key_marker = Some(key.clone());
            version_marker = VersionSel::parse(version_id);
        }
        commit_all(shard, bucket, ops).await?;
        if !page.truncated {
            break;
        }
    }
    let last = lone_marker_op(bucket, rules, &walk);
    commit_all(shard, bucket, last.into_iter().collect()).await?;
    let uploads = abort_ops(shard, bucket, rules, now_ms, day_ms)?;
    commit_all(shard, bucket, uploads).await
}

fn matching<'a>(
    rules: &'a [LifecycleRule],
    key: &'a [u8],
    record: &'a ObjectRecord,
) -> impl Iterator<Item = &'a LifecycleRule> {
    rules
        .iter()
        .filter(move |rule| rule.filter.matches(key, record.size_bytes, &record.meta))
}

/// Expiration of the current version.
fn current_op(
    bucket: &BucketInfo,
    rules: &[LifecycleRule],
    key: &[u8],
    record: &ObjectRecord,
    now_ms: u64,
    day_ms: u64,
) -> Option<IndexOp> {
    if record.is_delete_marker() {
        return None;
    }
    let expired = matching(rules, key, record).any(|rule| {
        let by_age = rule
            .expiration_days
            .is_some_and(|days| now_ms >= record.last_modified_ms + u64::from(days) * day_ms);
        let by_date = rule.expiration_date_ms.is_some_and(|date| now_ms >= date);
        by_age || by_date
    });
    if !expired {
        return None;
    }
    Some(match bucket.versioning.version_write() {
        VersionWrite::Unversioned => IndexOp::DeleteObject {
            bucket_id: bucket.id,
            key: key.to_vec(),
            condition: WriteCondition::None,
        },
        VersionWrite::New { seq, null } => IndexOp::PutDeleteMarker {
            bucket_id: bucket.id,
            key: key.to_vec(),
            seq,
            null,
            last_modified_ms: now_ms,
            condition: WriteCondition::None,
        },
    })
}

fn noncurrent_op(
    bucket: &BucketInfo,
    rules: &[LifecycleRule],
    walk: &KeyWalk,
    version_id: &str,
    record: &ObjectRecord,
    now_ms: u64,
    day_ms: u64,
) -> Option<IndexOp> {
    let due = matching(rules, &walk.key, record).any(|rule| {
        rule.noncurrent_days.is_some_and(|days| {
            now_ms >= walk.newer_written_ms + u64::from(days) * day_ms
                && walk.noncurrent_seen > rule.newer_noncurrent_versions.unwrap_or(0)
        })
    });
    due.then(|| delete_version(bucket, &walk.key, version_id, now_ms))
        .flatten()
}

/// A delete marker left alone (no older version) is removed.
fn lone_marker_op(bucket: &BucketInfo, rules: &[LifecycleRule], walk: &KeyWalk) -> Option<IndexOp> {
    let version_id = walk.lone_marker.as_deref()?;
    let wanted = rules.iter().any(|rule| {
        rule.expired_object_delete_marker && walk.key.starts_with(rule.filter.prefix.as_bytes())
    });
    wanted
        .then(|| delete_version(bucket, &walk.key, version_id, 0))
        .flatten()
}

fn delete_version(
    bucket: &BucketInfo,
    key: &[u8],
    version_id: &str,
    now_ms: u64,
) -> Option<IndexOp> {
    Some(IndexOp::DeleteVersion {
        bucket_id: bucket.id,
        key: key.to_vec(),
        version: VersionSel::parse(version_id)?,
        now_ms,
        bypass_governance: false,
    })
}

fn abort_ops(
    shard: &Shard,
    bucket: &BucketInfo,
    rules: &[LifecycleRule],
    now_ms: u64,
    day_ms: u64,
) -> Result<Vec<IndexOp>, EngineError> {
    let index = shard.reader.shard_index(bucket.owner_shard as usize);
    let uploads = index.bucket_uploads(bucket.id)?;
    Ok(uploads
        .into_iter()
        .filter(|(_, upload)| {
            rules.iter().any(|rule| {
                upload.key.starts_with(rule.filter.prefix.as_bytes())
                    && rule.abort_incomplete_days.is_some_and(|days| {
                        now_ms >= upload.initiated_ms + u64::from(days) * day_ms
                    })
            })
        })
        .map(|(upload_id, _)| IndexOp::AbortUpload { upload_id })
        .collect())
}

/// Commits concurrently (one group commit); locked versions and things
/// changed meanwhile are skipped, anything else stops the pass.
/// Expirations raise their event notifications (`s3:LifecycleExpiration:*`),
/// queued with the commits and awaited before the pass goes on.
async fn commit_all(
    shard: &Rc<Shard>,
    bucket: &BucketInfo,
    ops: Vec<IndexOp>,
) -> Result<(), EngineError> {
    let mut durable = Vec::new();
    let commits = ops.into_iter().map(|op| {
        let events = expiration_events(shard, bucket, &op).map(|(events, done)| {
            durable.push(done);
            events
        });
        shard.commit_notified(bucket.owner_shard, op, events)
    });
    let results = futures_util::future::join_all(commits.collect::<Vec<_>>()).await;
    for done in durable {
        crate::notify::events_durable(done).await;
    }
    for result in results {
        match result {
            Ok(())
            | Err(EngineError::ObjectLocked)
            | Err(EngineError::NoSuchUpload)
            | Err(EngineError::NoSuchObject) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// The event notifications of an expiration, when the bucket has rules for
/// them: AWS names the requester `AmazonS3` and no source address.
fn expiration_events(
    shard: &Shard,
    bucket: &BucketInfo,
    op: &IndexOp,
) -> Option<(
    crate::notify::CommitEvents,
    futures_channel::oneshot::Receiver<bool>,
)> {
    use crate::notify::EventName;
    bucket.notification.as_ref()?;
    let (name, key, version_id) = match op {
        IndexOp::DeleteObject { key, .. } => (EventName::LifecycleExpirationDelete, key, None),
        IndexOp::PutDeleteMarker { key, seq, null, .. } => {
            let id = if *null {
                "null".to_owned()
            } else {
                format!("{seq:016x}")
            };
            (
                EventName::LifecycleExpirationDeleteMarkerCreated,
                key,
                Some(id),
            )
        }
        IndexOp::DeleteVersion { key, version, .. } => {
            let id = match version {
                VersionSel::Null => "null".to_owned(),
                VersionSel::Seq(seq) => format!("{seq:016x}"),
            };
            (EventName::LifecycleExpirationDelete, key, Some(id))
        }
        _ => return None,
    };
    let key = String::from_utf8_lossy(key);
    let request_id = format!("{:016X}", rand::random::<u64>());
    let source = crate::notify::EventSource {
        region: &shard.settings.region,
        time_ms: now_ms(),
        principal_id: "AmazonS3",
        source_ip: String::new(),
        request_id: &request_id,
    };
    let event = crate::notify::ObjectEvent {
        name,
        key: &key,
        size_bytes: 0,
        etag: "",
        version_id: version_id.as_deref(),
    };
    crate::notify::record(shard.settings.events.as_ref(), bucket, &source, &event)
}
