//! Usage of each bucket a shard owns: logical and stored bytes, objects,
//! delete markers and multipart parts in progress, kept in the index and
//! changed in the same transaction as the objects themselves, so no crash can
//! make the counters disagree with what is stored. Quotas and billing read
//! them; `maxiofs check` recounts them from the objects and compares.
//!
//! - `bucket_usage`: `bucket id (u64 BE)` → [`BucketUsage`].
//! - `space_meta` holds [`USAGE_MARKER`] once the counters are complete; an
//!   index written before they existed is counted once at open.
//!
//! Every version that is not a delete marker counts as an object (noncurrent
//! versions take space as current ones do); a multipart upload's parts count
//! in `upload_bytes` until Complete turns the listed ones into the object.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, EngineResult};
use crate::index::{decode_value, encode_value, Index, ObjectBody, ObjectRecord};
use crate::index::{PartRecord, UploadKey, UploadRecord};

pub(crate) const DB_BUCKET_USAGE: &str = "bucket_usage";
const USAGE_MARKER: &[u8] = b"usage-v1";

/// One bucket's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketUsage {
    /// Object bytes as clients see them, every version counted.
    pub bytes: u64,
    /// Bytes the versions take in segment records (headers, padding and
    /// encryption included) or inline in the index.
    pub stored_bytes: u64,
    /// Versions that are not delete markers.
    pub objects: u64,
    pub delete_markers: u64,
    /// Parts of multipart uploads in progress.
    pub upload_bytes: u64,
    pub upload_parts: u64,
}

impl BucketUsage {
    /// Bytes that count against a storage quota: objects and parts in flight.
    pub fn quota_bytes(&self) -> u64 {
        self.bytes.saturating_add(self.upload_bytes)
    }

    /// Applies `change`, clamping at zero; false if any counter would have
    /// gone below it.
    fn apply(&mut self, change: &UsageChange) -> bool {
        let mut exact = true;
        let mut add = |value: &mut u64, delta: i64| match value.checked_add_signed(delta) {
            Some(sum) => *value = sum,
            None => {
                exact = false;
                *value = value.saturating_add_signed(delta);
            }
        };
        add(&mut self.bytes, change.bytes);
        add(&mut self.stored_bytes, change.stored_bytes);
        add(&mut self.objects, change.objects);
        add(&mut self.delete_markers, change.delete_markers);
        add(&mut self.upload_bytes, change.upload_bytes);
        add(&mut self.upload_parts, change.upload_parts);
        exact
    }
}

/// A change of one bucket's counters by one index op.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsageChange {
    pub bytes: i64,
    pub stored_bytes: i64,
    pub objects: i64,
    pub delete_markers: i64,
    pub upload_bytes: i64,
    pub upload_parts: i64,
}

impl UsageChange {
    /// What storing (`sign` 1) or removing (`sign` -1) one version changes.
    pub(crate) fn of_version(record: &ObjectRecord, sign: i64) -> UsageChange {
        let stored = match &record.body {
            ObjectBody::Inline(bytes) => bytes.len() as i64,
            ObjectBody::Extents(extents) => extents
                .iter()
                .map(|e| crate::format::record_len_bytes(e.payload_len_bytes as usize) as i64)
                .sum(),
        };
        let marker = record.is_delete_marker();
        UsageChange {
            bytes: sign * record.size_bytes as i64,
            stored_bytes: sign * stored,
            objects: if marker { 0 } else { sign },
            delete_markers: if marker { sign } else { 0 },
            upload_bytes: 0,
            upload_parts: 0,
        }
    }

    /// What storing (`sign` 1) or dropping (`sign` -1) one part changes.
    pub(crate) fn of_part(part: &PartRecord, sign: i64) -> UsageChange {
        UsageChange {
            upload_bytes: sign * part.size_bytes as i64,
            upload_parts: sign,
            ..UsageChange::default()
        }
    }

    fn add(&mut self, other: &UsageChange) {
        self.bytes += other.bytes;
        self.stored_bytes += other.stored_bytes;
        self.objects += other.objects;
        self.delete_markers += other.delete_markers;
        self.upload_bytes += other.upload_bytes;
        self.upload_parts += other.upload_parts;
    }

    pub fn is_zero(&self) -> bool {
        *self == UsageChange::default()
    }
}

/// The usage changes of one op (or a batch), by bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsageDeltas {
    pub by_bucket: BTreeMap<u64, UsageChange>,
}

impl UsageDeltas {
    pub(crate) fn add(&mut self, bucket_id: u64, change: UsageChange) {
        self.by_bucket.entry(bucket_id).or_default().add(&change);
    }

    pub(crate) fn merge(&mut self, other: &UsageDeltas) {
        for (bucket_id, change) in &other.by_bucket {
            self.add(*bucket_id, *change);
        }
    }
}

/// The bucket id an `objects` index key starts with.
pub(crate) fn bucket_of_index_key(index_key: &[u8]) -> u64 {
    u64::from_be_bytes(index_key[..8].try_into().expect("8-byte bucket prefix"))
}

impl Index {
    /// The counters of one bucket (zero for a bucket with nothing stored).
    pub fn bucket_usage(&self, bucket_id: u64) -> EngineResult<BucketUsage> {
        let rtxn = self.read_txn()?;
        match self.bucket_usage_db.get(&rtxn, &bucket_id.to_be_bytes())? {
            Some(value) => decode_value(value),
            None => Ok(BucketUsage::default()),
        }
    }

    /// Every bucket's counters.
    pub fn bucket_usages(&self) -> EngineResult<Vec<(u64, BucketUsage)>> {
        let rtxn = self.read_txn()?;
        let mut out = Vec::new();
        for entry in self.bucket_usage_db.iter(&rtxn)? {
            let (key, value) = entry?;
            out.push((key_bucket(key)?, decode_value(value)?));
        }
        Ok(out)
    }

    /// Writes a batch's usage changes.
    pub(crate) fn usage_apply_deltas(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        deltas: &UsageDeltas,
    ) -> EngineResult<()> {
        for (bucket_id, change) in &deltas.by_bucket {
            if change.is_zero() {
                continue;
            }
            let key = bucket_id.to_be_bytes();
            let mut usage: BucketUsage = match self.bucket_usage_db.get(wtxn, &key)? {
                Some(value) => decode_value(value)?,
                None => BucketUsage::default(),
            };
            if !usage.apply(change) {
                // A counter below zero is a bug, but failing the commit would
                // fail every op of the batch with it: clamp, say so, and
                // leave the difference for `maxiofs check` to find and repair.
                tracing::error!(
                    bucket_id,
                    ?change,
                    "bucket usage would go negative; clamped"
                );
            }
            if usage == BucketUsage::default() {
                self.bucket_usage_db.delete(wtxn, &key)?;
            } else {
                self.bucket_usage_db
                    .put(wtxn, &key, &encode_value(&usage))?;
            }
        }
        Ok(())
    }

    /// The upload's bucket, read inside the op's transaction.
    pub(crate) fn upload_bucket(
        &self,
        txn: &heed::RoTxn<'_>,
        upload_id: &UploadKey,
    ) -> EngineResult<Option<u64>> {
        match self.uploads.get(txn, upload_id)? {
            Some(value) => Ok(Some(decode_value::<UploadRecord>(value)?.bucket_id)),
            None => Ok(None),
        }
    }

    /// Counts every bucket's usage from the objects and parts themselves.
    pub fn usage_recount(&self) -> EngineResult<BTreeMap<u64, BucketUsage>> {
        let rtxn = self.read_txn()?;
        self.usage_recount_in(&rtxn)
    }

    fn usage_recount_in(&self, txn: &heed::RoTxn<'_>) -> EngineResult<BTreeMap<u64, BucketUsage>> {
        let mut deltas = UsageDeltas::default();
        for entry in self.objects.iter(txn)? {
            let (key, value) = entry?;
            let record: ObjectRecord = decode_value(value)?;
            deltas.add(
                bucket_of_index_key(key),
                UsageChange::of_version(&record, 1),
            );
        }
        let mut upload_buckets: BTreeMap<UploadKey, u64> = BTreeMap::new();
        for entry in self.uploads.iter(txn)? {
            let (key, value) = entry?;
            let upload_id: UploadKey = key.try_into().map_err(|_| EngineError::Corrupt {
                detail: "upload key length".into(),
            })?;
            upload_buckets.insert(upload_id, decode_value::<UploadRecord>(value)?.bucket_id);
        }
        for entry in self.parts.iter(txn)? {
            let (key, value) = entry?;
            let Some(bucket_id) = key
                .get(..16)
                .and_then(|id| <UploadKey>::try_from(id).ok())
                .and_then(|id| upload_buckets.get(&id))
            else {
                continue;
            };
            let part: PartRecord = decode_value(value)?;
            deltas.add(*bucket_id, UsageChange::of_part(&part, 1));
        }
        let mut out = BTreeMap::new();
        for (bucket_id, change) in deltas.by_bucket {
            let mut usage = BucketUsage::default();
            if !usage.apply(&change) {
                return Err(EngineError::Corrupt {
                    detail: format!("bucket {bucket_id} counts below zero"),
                });
            }
            if usage != BucketUsage::default() {
                out.insert(bucket_id, usage);
            }
        }
        Ok(out)
    }

    /// Differences between the stored counters and a recount (`maxiofs check`).
    pub fn usage_verify(&self) -> EngineResult<Vec<String>> {
        let counted = self.usage_recount()?;
        let stored: BTreeMap<u64, BucketUsage> = self.bucket_usages()?.into_iter().collect();
        let buckets: std::collections::BTreeSet<&u64> =
            counted.keys().chain(stored.keys()).collect();
        let mut problems = Vec::new();
        for bucket_id in buckets {
            let want = counted.get(bucket_id).copied().unwrap_or_default();
            let have = stored.get(bucket_id).copied().unwrap_or_default();
            if want != have {
                problems.push(format!(
                    "bucket {bucket_id} usage counters {have:?} differ from a recount {want:?}"
                ));
            }
        }
        Ok(problems)
    }

    /// Rewrites every bucket's counters from a recount (`check --repair`, and
    /// once at open for an index written before the counters existed).
    pub fn usage_rebuild(&self) -> EngineResult<()> {
        let mut wtxn = self.env.write_txn()?;
        let counted = self.usage_recount_in(&wtxn)?;
        self.bucket_usage_db.clear(&mut wtxn)?;
        for (bucket_id, usage) in counted {
            self.bucket_usage_db
                .put(&mut wtxn, &bucket_id.to_be_bytes(), &encode_value(&usage))?;
        }
        self.space_meta.put(&mut wtxn, USAGE_MARKER, &[1])?;
        wtxn.commit()?;
        Ok(())
    }

    pub(crate) fn usage_ensure_counted(&self) -> EngineResult<()> {
        let rtxn = self.read_txn()?;
        if self.space_meta.get(&rtxn, USAGE_MARKER)?.is_some() {
            return Ok(());
        }
        drop(rtxn);
        self.usage_rebuild()
    }
}

fn key_bucket(key: &[u8]) -> EngineResult<u64> {
    Ok(u64::from_be_bytes(key.try_into().map_err(|_| {
        EngineError::Corrupt {
            detail: "bucket usage key length".into(),
        }
    })?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{IndexOp, VersionSel, VersionWrite, WriteCondition};

    fn record(size_bytes: u64) -> ObjectRecord {
        ObjectRecord {
            size_bytes,
            etag: "e".into(),
            last_modified_ms: 1,
            meta: Vec::new(),
            body: ObjectBody::Inline(vec![7; size_bytes as usize]),
        }
    }

    fn put(key: &str, size_bytes: u64, version: VersionWrite) -> IndexOp {
        IndexOp::PutObject {
            bucket_id: 1,
            key: key.as_bytes().to_vec(),
            record: record(size_bytes),
            condition: WriteCondition::None,
            version,
            md5_at_commit: None,
        }
    }

    /// An index in a fresh directory (kept alive by the first value) with
    /// bucket 1 created.
    fn index_with_bucket() -> (tempfile::TempDir, Index) {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open(dir.path()).unwrap();
        apply(
            &index,
            IndexOp::CreateBucket {
                bucket_id: 1,
                name: "b".into(),
            },
        );
        (dir, index)
    }

    fn apply(index: &Index, op: IndexOp) -> UsageDeltas {
        let mut outcomes = index.apply_batch(&[op], &[]).unwrap();
        outcomes.remove(0).unwrap()
    }

    /// Every op's change is what the stored counters moved by, and the
    /// counters always equal a recount: overwrite, versions, delete markers,
    /// version deletes, parts and abort.
    #[test]
    fn counters_follow_every_op_and_match_a_recount() {
        let (_dir, index) = index_with_bucket();
        let steps: Vec<(IndexOp, i64, i64)> = vec![
            (put("a", 100, VersionWrite::Unversioned), 100, 1),
            (put("a", 30, VersionWrite::Unversioned), -70, 0),
            (
                put(
                    "a",
                    50,
                    VersionWrite::New {
                        seq: 5,
                        null: false,
                    },
                ),
                50,
                1,
            ),
            (
                IndexOp::PutDeleteMarker {
                    bucket_id: 1,
                    key: b"a".to_vec(),
                    seq: 6,
                    null: false,
                    last_modified_ms: 2,
                    condition: WriteCondition::None,
                },
                0,
                0,
            ),
            (
                IndexOp::DeleteVersion {
                    bucket_id: 1,
                    key: b"a".to_vec(),
                    version: VersionSel::Null,
                    now_ms: 3,
                    bypass_governance: false,
                },
                -30,
                -1,
            ),
        ];
        let mut expected_bytes = 0i64;
        let mut expected_objects = 0i64;
        for (op, bytes, objects) in steps {
            let change = apply(&index, op);
            let got = change.by_bucket.get(&1).copied().unwrap_or_default();
            assert_eq!((got.bytes, got.objects), (bytes, objects));
            expected_bytes += bytes;
            expected_objects += objects;
            let usage = index.bucket_usage(1).unwrap();
            assert_eq!(usage.bytes as i64, expected_bytes);
            assert_eq!(usage.objects as i64, expected_objects);
            assert!(index.usage_verify().unwrap().is_empty());
        }
        assert_eq!(index.bucket_usage(1).unwrap().delete_markers, 1);
    }

    /// Parts count while their upload is in progress, and a bucket deleted
    /// with uploads in it takes them (and their usage) along.
    #[test]
    fn parts_count_until_their_bucket_is_dropped() {
        let (_dir, index) = index_with_bucket();
        let upload_id = [9u8; 16];
        apply(
            &index,
            IndexOp::CreateUpload {
                bucket_id: 1,
                upload_id,
                record: UploadRecord {
                    bucket_id: 1,
                    key: b"k".to_vec(),
                    initiated_ms: 1,
                    meta: Vec::new(),
                },
            },
        );
        let part = PartRecord {
            size_bytes: 5000,
            etag: "e".into(),
            last_modified_ms: 1,
            meta: Vec::new(),
            extents: Vec::new(),
        };
        let change = apply(
            &index,
            IndexOp::PutPart {
                upload_id,
                part_number: 1,
                record: part,
            },
        );
        assert_eq!(change.by_bucket[&1].upload_bytes, 5000);
        assert_eq!(index.bucket_usage(1).unwrap().upload_parts, 1);
        let change = apply(&index, IndexOp::DropBucket { bucket_id: 1 });
        assert_eq!(change.by_bucket[&1].upload_bytes, -5000);
        assert_eq!(index.bucket_usage(1).unwrap(), BucketUsage::default());
        assert!(index.upload(&upload_id).unwrap().is_none());
        assert!(index.usage_verify().unwrap().is_empty());
    }

    #[test]
    fn a_missing_marker_recounts_at_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let index = Index::open(dir.path()).unwrap();
            apply(
                &index,
                IndexOp::CreateBucket {
                    bucket_id: 1,
                    name: "b".into(),
                },
            );
            apply(&index, put("x", 10, VersionWrite::Unversioned));
            let mut wtxn = index.env.write_txn().unwrap();
            index.bucket_usage_db.clear(&mut wtxn).unwrap();
            index.space_meta.delete(&mut wtxn, USAGE_MARKER).unwrap();
            wtxn.commit().unwrap();
            assert_eq!(index.bucket_usage(1).unwrap(), BucketUsage::default());
        }
        let index = Index::open(dir.path()).unwrap();
        assert_eq!(index.bucket_usage(1).unwrap().bytes, 10);
        assert_eq!(index.bucket_usage(1).unwrap().objects, 1);
    }
}
