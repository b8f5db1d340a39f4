//! A shard's index: one LMDB environment with three databases.
//!
//! - `objects`: `bucket id (u64 BE) | object key bytes | 0x00 | inverted version
//!   (u64 BE)` → [`ObjectRecord`]. Object keys never contain NUL (the S3 layer
//!   refuses it), so the 0x00 terminator keeps byte order: "a" < "a/" < "a//b",
//!   and a prefix/delimiter listing is a range scan that can seek past a whole
//!   common prefix. The inverted version sorts the newest version first.
//! - `buckets`: `bucket id (u64 BE)` → [`BucketState`] for buckets this shard owns.
//! - `segments`: `segment number (u32 BE)` → [`SegmentState`]: how far the
//!   segment is referenced by committed records (recovery resumes there).
//!
//! Every value starts with a format version byte, then postcard. A reader that
//! meets an older version upgrades it in `decode_*`; an unknown one is corrupt.

use std::ops::Bound;

use heed::types::Bytes;
use heed::Database;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, EngineResult};
use crate::io::lmdb::{open_index_env, IndexEnv};
use crate::space::{body_extents, ExtentOwner, SpaceDeltas};
use crate::space::{DB_EXTENT_REFS, DB_SEGMENT_SPACE, DB_SPACE_META};
use crate::usage::{bucket_of_index_key, UsageChange, UsageDeltas, DB_BUCKET_USAGE};

const VALUE_FORMAT_VERSION: u8 = 1;
const DB_OBJECTS: &str = "objects";
const DB_BUCKETS: &str = "buckets";
const DB_SEGMENTS: &str = "segments";
const DB_UPLOADS: &str = "uploads";
const DB_PARTS: &str = "parts";
const DB_COMPLETED: &str = "completed";
const BUCKET_ID_BYTES: usize = 8;
const VERSION_SUFFIX_BYTES: usize = 9;

/// The version slot used by objects in buckets without versioning. Such an
/// object is the key's "null" version if versioning is enabled later; the
/// first versioned write to the key moves it to a slot of its own age.
pub const VERSION_INV_UNVERSIONED: u64 = 0;

/// Engine-known metadata flags of versioned records. The S3 layer hides
/// every `x-maxiofs-` entry from clients.
/// A delete marker: no data; the key reads as absent while it is latest.
pub const META_DELETE_MARKER: &str = "x-maxiofs-delete-marker";
/// The key's "null" version written in a versioning-suspended bucket (or
/// moved out of the unversioned slot): at most one per key.
pub const META_NULL_VERSION: &str = "x-maxiofs-null-version";
/// Object Lock retention of a version: `GOVERNANCE:<until ms>` or
/// `COMPLIANCE:<until ms>`. The engine refuses to delete a version whose
/// retention has not expired (GOVERNANCE only with the bypass), so no path
/// (DELETE, DeleteObjects, lifecycle) can remove it.
pub const META_RETENTION: &str = "x-maxiofs-retention";
/// Object Lock legal hold of a version (`ON`): no deletion while present.
pub const META_LEGAL_HOLD: &str = "x-maxiofs-legal-hold";

/// Which version a write creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionWrite {
    /// A bucket that never had versioning: the key's one object is replaced.
    Unversioned,
    /// A new version with id `seq` (from [`next_version_seq`]); `null` in a
    /// suspended bucket, where it replaces the key's null version.
    New { seq: u64, null: bool },
}

/// One version of a key, as a client names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionSel {
    Null,
    Seq(u64),
}

impl VersionSel {
    /// `null`, or the 16 hex digits [`version_id_of`] writes.
    pub fn parse(version_id: &str) -> Option<VersionSel> {
        if version_id == "null" {
            return Some(VersionSel::Null);
        }
        if version_id.len() != 16 || !version_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(version_id, 16)
            .ok()
            .map(VersionSel::Seq)
    }
}

/// A fresh version sequence number: microseconds since the epoch times 1024
/// plus a counter, strictly increasing within the process (so later writes
/// sort as newer) and across restarts as long as the clock does not go back.
pub fn next_version_seq() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let candidate = now_us << 10;
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = candidate.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// The sequence a version written at `last_modified_ms` would have had: the
/// slot an unversioned object moves to when its key gets versions.
fn seq_of_time(last_modified_ms: u64) -> u64 {
    last_modified_ms.saturating_mul(1000) << 10
}

fn version_inv(seq: u64) -> u64 {
    u64::MAX - seq
}

/// The version id clients see for the record at `index_key`.
pub fn version_id_of(index_key: &[u8], record: &ObjectRecord) -> String {
    let inv = u64::from_be_bytes(
        index_key[index_key.len() - 8..]
            .try_into()
            .expect("8-byte version suffix"),
    );
    if inv == VERSION_INV_UNVERSIONED || record.is_null_version() {
        "null".to_owned()
    } else {
        format!("{:016x}", u64::MAX - inv)
    }
}

impl ObjectRecord {
    pub fn is_delete_marker(&self) -> bool {
        self.meta.iter().any(|(name, _)| name == META_DELETE_MARKER)
    }

    /// Whether Object Lock forbids deleting this version at `now_ms`.
    pub fn is_locked(&self, now_ms: u64, bypass_governance: bool) -> bool {
        let meta = |name: &str| {
            self.meta
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        if meta(META_LEGAL_HOLD) == Some("ON") {
            return true;
        }
        let Some((mode, until)) = meta(META_RETENTION).and_then(|v| v.split_once(':')) else {
            return false;
        };
        // An unreadable date locks: refusing a delete is recoverable, a
        // wrongly allowed one is not.
        let until_ms = until.parse::<u64>().unwrap_or(u64::MAX);
        until_ms > now_ms && !(mode == "GOVERNANCE" && bypass_governance)
    }

    pub fn is_null_version(&self) -> bool {
        self.meta.iter().any(|(name, _)| name == META_NULL_VERSION)
    }

    /// A delete marker record written at `last_modified_ms`.
    pub fn delete_marker(last_modified_ms: u64, null: bool) -> ObjectRecord {
        let mut meta = vec![(META_DELETE_MARKER.to_owned(), "1".to_owned())];
        if null {
            meta.push((META_NULL_VERSION.to_owned(), "1".to_owned()));
        }
        ObjectRecord {
            size_bytes: 0,
            etag: String::new(),
            last_modified_ms,
            meta,
            body: ObjectBody::Inline(Vec::new()),
        }
    }
}

/// Where one chunk of an object lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extent {
    pub shard: u16,
    pub segment: u32,
    /// Start of the record (its header) in the segment file.
    pub offset_bytes: u64,
    pub payload_len_bytes: u32,
    pub object_id: u128,
    pub chunk_index: u32,
}

impl Extent {
    pub fn end_bytes(&self) -> u64 {
        self.offset_bytes + crate::format::record_len_bytes(self.payload_len_bytes as usize) as u64
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectBody {
    /// Small objects are stored in the index value itself.
    Inline(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Larger objects: chunks in segment files, in object order.
    Extents(Vec<Extent>),
}

/// One object (version) as committed. `meta` is opaque to the engine: the S3
/// layer stores content headers, user metadata and checksums there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub size_bytes: u64,
    pub etag: String,
    pub last_modified_ms: u64,
    pub meta: Vec<(String, String)>,
    pub body: ObjectBody,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketState {
    pub name: String,
    pub dropped: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentState {
    /// Every committed record of this segment ends at or before this offset.
    pub referenced_end_bytes: u64,
}

/// One change applied by the committer in a group-commit transaction.
#[derive(Debug)]
pub enum IndexOp {
    CreateBucket {
        bucket_id: u64,
        name: String,
    },
    /// Refused with `BucketNotEmpty` while any object remains.
    DropBucket {
        bucket_id: u64,
    },
    PutObject {
        bucket_id: u64,
        key: Vec<u8>,
        record: ObjectRecord,
        condition: WriteCondition,
        version: VersionWrite,
        /// The record's ETag, left to the owner's commit loop (see
        /// [`Md5AtCommit`]); none when the writer computed it.
        md5_at_commit: Option<Md5AtCommit>,
    },
    /// Succeeds whether or not the object existed (S3 semantics), unless
    /// `condition` does not hold (conditional deletes).
    DeleteObject {
        bucket_id: u64,
        key: Vec<u8>,
        condition: WriteCondition,
    },
    /// DELETE without a version in a versioned bucket: a delete marker
    /// becomes the latest version (in a suspended bucket, as the null
    /// version, replacing the old one).
    PutDeleteMarker {
        bucket_id: u64,
        key: Vec<u8>,
        seq: u64,
        null: bool,
        last_modified_ms: u64,
        /// Checked against the current version (conditional deletes).
        condition: WriteCondition,
    },
    /// Removes one version for good (object or delete marker); succeeds
    /// whether or not it existed. Refused with `ObjectLocked` while the
    /// version is under a legal hold or an unexpired retention at `now_ms`
    /// (GOVERNANCE retention yields to `bypass_governance`).
    DeleteVersion {
        bucket_id: u64,
        key: Vec<u8>,
        version: VersionSel,
        now_ms: u64,
        bypass_governance: bool,
    },
    /// Sets (`Some`) or removes (`None`) one `meta` entry of the latest version
    /// of an object in place, bytes and ETag untouched (object tagging).
    /// `NoSuchObject` if the key has no object.
    SetObjectMeta {
        bucket_id: u64,
        key: Vec<u8>,
        /// None: the latest version (a delete marker there: `NoSuchObject`).
        version: Option<VersionSel>,
        name: String,
        value: Option<String>,
    },
    /// Replaces one `meta` entry of the latest version of an object, only if
    /// it still holds `old_value` (`PreconditionFailed` otherwise, so a
    /// concurrent overwrite is never given the old object's entry;
    /// `NoSuchObject` if the key has no object). The re-wrap of data keys
    /// after a master key rotation.
    ReplaceObjectMeta {
        /// The version's `objects` index key.
        index_key: Vec<u8>,
        name: String,
        old_value: String,
        new_value: String,
    },
    /// The same for a multipart upload's metadata (`NoSuchUpload` if gone).
    ReplaceUploadMeta {
        upload_id: UploadKey,
        name: String,
        old_value: String,
        new_value: String,
    },
    /// Starts a multipart upload.
    CreateUpload {
        bucket_id: u64,
        upload_id: UploadKey,
        record: UploadRecord,
    },
    /// Adds or replaces one part (`NoSuchUpload` if the upload is gone).
    PutPart {
        upload_id: UploadKey,
        part_number: u16,
        record: PartRecord,
    },
    /// Turns the upload into the object `record`, provided every listed part
    /// still has the listed ETag (a part re-uploaded since the caller read it
    /// fails with `InvalidPart`). Unlisted parts are dropped.
    CompleteUpload {
        bucket_id: u64,
        key: Vec<u8>,
        upload_id: UploadKey,
        parts: Vec<(u16, String)>,
        record: ObjectRecord,
        condition: WriteCondition,
        version: VersionWrite,
    },
    /// Drops the upload and its parts (`NoSuchUpload` if it is gone).
    AbortUpload {
        upload_id: UploadKey,
    },
    /// `maxiofs check --repair` only: removes the version at `index_key`
    /// whose data is damaged or missing, whatever its Object Lock state
    /// (what it protected is already lost). A no-op if it is gone.
    DropDamagedVersion {
        index_key: Vec<u8>,
    },
    /// The compactor copied the record at `from` verbatim to `to`: every
    /// owner now points there. A no-op if the record died meanwhile.
    Relocate {
        from_segment: u32,
        from_offset_bytes: u64,
        to: Extent,
    },
    /// The compactor is done with `segment`: refused with `SegmentInUse` if
    /// anything in it is still referenced, else it is marked retired.
    RetireSegment {
        segment: u32,
    },
}

/// A small object's ETag (the MD5 of its bytes) left to its owner shard's
/// commit loop: small PUTs reach the owner one by one, but wait there for the
/// group commit together, so that is where their MD5s can share SIMD lanes
/// ([`hash_md5_at_commit`]). The writer keeps the [`Md5Digest`] and reads the
/// digest once the commit succeeded.
pub struct Md5AtCommit {
    data: Vec<u8>,
    digest: std::sync::Arc<std::sync::OnceLock<[u8; 16]>>,
}

/// Where a writer reads the digest its [`Md5AtCommit`] produced.
pub struct Md5Digest(std::sync::Arc<std::sync::OnceLock<[u8; 16]>>);

impl Md5AtCommit {
    /// The job for `data` (the object's plaintext) and the writer's handle.
    pub fn new(data: Vec<u8>) -> (Md5AtCommit, Md5Digest) {
        let digest = std::sync::Arc::new(std::sync::OnceLock::new());
        let job = Md5AtCommit {
            data,
            digest: digest.clone(),
        };
        (job, Md5Digest(digest))
    }
}

impl std::fmt::Debug for Md5AtCommit {
    // Object bytes never go to a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Md5AtCommit({} bytes)", self.data.len())
    }
}

impl Md5Digest {
    /// The digest, once the op's batch was hashed (always so after its
    /// commit succeeded).
    pub fn get(&self) -> Option<[u8; 16]> {
        self.0.get().copied()
    }
}

/// Computes every ETag of `ops` left to the commit, all together in SIMD
/// lanes, and writes each into its record (lowercase hex, as a single PUT's
/// ETag is stored). Returns how many it computed.
pub fn hash_md5_at_commit(ops: &mut [IndexOp]) -> usize {
    let mut jobs: Vec<(&mut ObjectRecord, Md5AtCommit)> = ops
        .iter_mut()
        .filter_map(|op| match op {
            IndexOp::PutObject {
                record,
                md5_at_commit,
                ..
            } => md5_at_commit.take().map(|job| (record, job)),
            _ => None,
        })
        .collect();
    if jobs.is_empty() {
        return 0;
    }
    let mut streams = vec![crate::md5_lanes::Md5Stream::new(); jobs.len()];
    let mut work: Vec<(&mut crate::md5_lanes::Md5Stream, &[u8])> = streams
        .iter_mut()
        .zip(&jobs)
        .map(|(stream, (_, job))| (stream, job.data.as_slice()))
        .collect();
    crate::md5_lanes::update_many(&mut work);
    drop(work);
    for (stream, (record, job)) in streams.into_iter().zip(jobs.iter_mut()) {
        let digest = stream.finalize();
        record.etag = hex::encode(digest);
        let _ = job.digest.set(digest);
    }
    jobs.len()
}

/// A precondition checked inside the commit transaction, so no concurrent
/// write can slip between the check and the write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteCondition {
    None,
    /// `If-None-Match: *`: only if no object exists under the key.
    Absent,
    /// `If-Match: "etag"`: only if the current object has this ETag.
    EtagMatches(String),
    /// `If-None-Match: "etag"` on a write: unless the current object has this
    /// ETag (no current object: the write goes ahead).
    EtagDiffers(String),
    /// A conditional delete's `If-Match` (an ETag, or `*` for any),
    /// `x-amz-if-match-size` and `x-amz-if-match-last-modified-time`
    /// (seconds): every one given must hold for the current object. With no
    /// current object, an ETag condition fails with `ConditionTargetMissing`;
    /// size and time alone hold (the delete is a no-op, as on AWS).
    Matches {
        etag: Option<String>,
        size_bytes: Option<u64>,
        last_modified_s: Option<u64>,
    },
}

/// A multipart upload id as stored: 16 random bytes.
pub type UploadKey = [u8; 16];

/// A multipart upload in progress. `meta` is what the object will carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub bucket_id: u64,
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    pub initiated_ms: u64,
    pub meta: Vec<(String, String)>,
}

/// One uploaded part. Parts are always in segments (never inline) so a
/// completed object is one list of extents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub size_bytes: u64,
    /// Hex MD5 of the part.
    pub etag: String,
    pub last_modified_ms: u64,
    pub meta: Vec<(String, String)>,
    pub extents: Vec<Extent>,
}

/// What a completed upload produced, kept so a retried Complete with the
/// same part list gets the same answer instead of NoSuchUpload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedUpload {
    pub bucket_id: u64,
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    pub parts: Vec<(u16, String)>,
    pub etag: String,
    pub size_bytes: u64,
}

/// A shard's index handles. Cheap to clone; shareable across threads.
#[derive(Clone)]
pub struct Index {
    pub(crate) env: IndexEnv,
    pub(crate) objects: Database<Bytes, Bytes>,
    buckets: Database<Bytes, Bytes>,
    segments: Database<Bytes, Bytes>,
    pub(crate) uploads: Database<Bytes, Bytes>,
    pub(crate) parts: Database<Bytes, Bytes>,
    pub(crate) completed: Database<Bytes, Bytes>,
    pub(crate) extent_refs: Database<Bytes, Bytes>,
    pub(crate) segment_space: Database<Bytes, Bytes>,
    pub(crate) space_meta: Database<Bytes, Bytes>,
    pub(crate) bucket_usage_db: Database<Bytes, Bytes>,
    /// The shard this index belongs to, when known: space accounting counts
    /// only its own segments' records (an object copied by an older build may
    /// reference another shard's; that shard's accounting cannot see it).
    pub(crate) shard: Option<u16>,
}

pub fn encode_value<T: Serialize>(value: &T) -> Vec<u8> {
    // Sized first: an inline body would otherwise be copied at every
    // doubling of the buffer, then once more behind the version byte.
    let len_bytes =
        postcard::experimental::serialized_size(value).expect("index values always serialize");
    let mut out = Vec::with_capacity(1 + len_bytes);
    out.push(VALUE_FORMAT_VERSION);
    postcard::to_extend(value, out).expect("index values always serialize")
}

pub fn decode_value<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> EngineResult<T> {
    match bytes.split_first() {
        Some((&VALUE_FORMAT_VERSION, rest)) => {
            postcard::from_bytes(rest).map_err(|err| EngineError::Corrupt {
                detail: format!("index value: {err}"),
            })
        }
        Some((version, _)) => Err(EngineError::Corrupt {
            detail: format!("unknown index value version {version}"),
        }),
        None => Err(EngineError::Corrupt {
            detail: "empty index value".into(),
        }),
    }
}

/// `bucket id | key | 0x00 | inverted version`.
pub fn object_index_key(bucket_id: u64, key: &[u8], version_inv: u64) -> Vec<u8> {
    debug_assert!(!key.contains(&0), "object keys never contain NUL");
    let mut out = Vec::with_capacity(BUCKET_ID_BYTES + key.len() + VERSION_SUFFIX_BYTES);
    out.extend_from_slice(&bucket_id.to_be_bytes());
    out.extend_from_slice(key);
    out.push(0);
    out.extend_from_slice(&version_inv.to_be_bytes());
    out
}

/// True when two index keys name the same object key (any version).
fn same_key_any_version(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a[..a.len() - 8] == b[..b.len() - 8]
}

/// The object key inside an `objects` index key.
pub fn object_key_of(index_key: &[u8]) -> &[u8] {
    &index_key[BUCKET_ID_BYTES..index_key.len() - VERSION_SUFFIX_BYTES]
}

/// The smallest byte string greater than every string starting with `bytes`,
/// or None if there is none (all 0xff).
pub fn prefix_successor(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = bytes.to_vec();
    while let Some(last) = out.pop() {
        if last != 0xff {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

impl Index {
    /// Opens (creating) the index of shard `shard` in `dir`.
    pub fn open_shard(dir: &std::path::Path, shard: u16) -> EngineResult<Index> {
        Self::open_inner(dir, Some(shard))
    }

    /// Opens (creating) an index in `dir` whose records are all its own
    /// (tests and tools with one shard).
    pub fn open(dir: &std::path::Path) -> EngineResult<Index> {
        Self::open_inner(dir, None)
    }

    fn open_inner(dir: &std::path::Path, shard: Option<u16>) -> EngineResult<Index> {
        let env = open_index_env(dir, 16)?;
        let mut wtxn = env.write_txn()?;
        let objects = env.create_database(&mut wtxn, Some(DB_OBJECTS))?;
        let buckets = env.create_database(&mut wtxn, Some(DB_BUCKETS))?;
        let segments = env.create_database(&mut wtxn, Some(DB_SEGMENTS))?;
        let uploads = env.create_database(&mut wtxn, Some(DB_UPLOADS))?;
        let parts = env.create_database(&mut wtxn, Some(DB_PARTS))?;
        let completed = env.create_database(&mut wtxn, Some(DB_COMPLETED))?;
        let extent_refs = env.create_database(&mut wtxn, Some(DB_EXTENT_REFS))?;
        let segment_space = env.create_database(&mut wtxn, Some(DB_SEGMENT_SPACE))?;
        let space_meta = env.create_database(&mut wtxn, Some(DB_SPACE_META))?;
        let bucket_usage_db = env.create_database(&mut wtxn, Some(DB_BUCKET_USAGE))?;
        wtxn.commit()?;
        let index = Index {
            shard,
            extent_refs,
            segment_space,
            space_meta,
            bucket_usage_db,
            uploads,
            parts,
            completed,
            env,
            objects,
            buckets,
            segments,
        };
        index.space_ensure_accounted()?;
        index.usage_ensure_counted()?;
        Ok(index)
    }

    pub(crate) fn objects_db(&self) -> Database<Bytes, Bytes> {
        self.objects
    }

    pub fn read_txn(&self) -> EngineResult<heed::RoTxn<'_, heed::WithoutTls>> {
        Ok(self.env.read_txn()?)
    }

    /// The latest version of `key`, if any and not a delete marker.
    pub fn get_object(&self, bucket_id: u64, key: &[u8]) -> EngineResult<Option<ObjectRecord>> {
        Ok(self
            .get_latest(bucket_id, key)?
            .map(|(_, record)| record)
            .filter(|record| !record.is_delete_marker()))
    }

    /// The latest version of `key` (possibly a delete marker) and its index key.
    pub fn get_latest(
        &self,
        bucket_id: u64,
        key: &[u8],
    ) -> EngineResult<Option<(Vec<u8>, ObjectRecord)>> {
        let rtxn = self.read_txn()?;
        self.latest_entry(&rtxn, bucket_id, key)
    }

    /// One version of `key` (possibly a delete marker) and its index key.
    pub fn get_version(
        &self,
        bucket_id: u64,
        key: &[u8],
        version: VersionSel,
    ) -> EngineResult<Option<(Vec<u8>, ObjectRecord)>> {
        let rtxn = self.read_txn()?;
        self.version_entry(&rtxn, bucket_id, key, version)
    }

    fn latest_entry(
        &self,
        txn: &heed::RoTxn<'_>,
        bucket_id: u64,
        key: &[u8],
    ) -> EngineResult<Option<(Vec<u8>, ObjectRecord)>> {
        let start = object_index_key(bucket_id, key, 0);
        let range = (Bound::Included(start.as_slice()), Bound::Unbounded);
        let mut iter = self.objects.range(txn, &range)?;
        match iter.next().transpose()? {
            Some((found, value)) if same_key_any_version(found, &start) => {
                Ok(Some((found.to_vec(), decode_value(value)?)))
            }
            _ => Ok(None),
        }
    }

    pub(crate) fn version_entry(
        &self,
        txn: &heed::RoTxn<'_>,
        bucket_id: u64,
        key: &[u8],
        version: VersionSel,
    ) -> EngineResult<Option<(Vec<u8>, ObjectRecord)>> {
        match version {
            VersionSel::Seq(seq) => {
                let index_key = object_index_key(bucket_id, key, version_inv(seq));
                let record: Option<ObjectRecord> = self
                    .objects
                    .get(txn, &index_key)?
                    .map(decode_value)
                    .transpose()?;
                Ok(record
                    .filter(|r| !r.is_null_version())
                    .map(|r| (index_key, r)))
            }
            VersionSel::Null => {
                // The unversioned slot, or the one version flagged null.
                let start = object_index_key(bucket_id, key, 0);
                let range = (Bound::Included(start.as_slice()), Bound::Unbounded);
                for entry in self.objects.range(txn, &range)? {
                    let (found, value) = entry?;
                    if !same_key_any_version(found, &start) {
                        break;
                    }
                    let record: ObjectRecord = decode_value(value)?;
                    if found == start.as_slice() || record.is_null_version() {
                        return Ok(Some((found.to_vec(), record)));
                    }
                }
                Ok(None)
            }
        }
    }

    pub fn bucket_state(&self, bucket_id: u64) -> EngineResult<Option<BucketState>> {
        let rtxn = self.read_txn()?;
        let value = self.buckets.get(&rtxn, &bucket_id.to_be_bytes())?;
        value.map(decode_value).transpose()
    }

    /// Every segment this shard has referenced, with its state.
    pub fn segment_states(&self) -> EngineResult<Vec<(u32, SegmentState)>> {
        let rtxn = self.read_txn()?;
        let mut out = Vec::new();
        for entry in self.segments.iter(&rtxn)? {
            let (key, value) = entry?;
            let number = u32::from_be_bytes(key.try_into().map_err(|_| EngineError::Corrupt {
                detail: "segment key length".into(),
            })?);
            out.push((number, decode_value(value)?));
        }
        Ok(out)
    }

    fn bucket_has_objects(&self, txn: &heed::RoTxn<'_>, bucket_id: u64) -> EngineResult<bool> {
        let prefix = bucket_id.to_be_bytes();
        let mut iter = self.objects.prefix_iter(txn, &prefix)?;
        Ok(iter.next().transpose()?.is_some())
    }

    /// Applies `ops` and the segment high-water marks in one durable
    /// transaction. Each op gets its own outcome; the commit is all or nothing.
    pub fn apply_batch(
        &self,
        ops: &[IndexOp],
        segment_ends: &[(u32, u64)],
    ) -> EngineResult<Vec<EngineResult<UsageDeltas>>> {
        let mut wtxn = self.env.write_txn()?;
        let mut outcomes = Vec::with_capacity(ops.len());
        let mut deltas = SpaceDeltas::default();
        for op in ops {
            // Ops check their preconditions before writing anything, so a
            // refused op leaves the transaction (and the accounting) as it was.
            let mut op_deltas = SpaceDeltas::default();
            let outcome = self.apply_op(&mut wtxn, op, &mut op_deltas);
            outcomes.push(outcome.map(|()| {
                let usage = op_deltas.usage.clone();
                deltas.merge(op_deltas);
                usage
            }));
        }
        self.space_apply_deltas(&mut wtxn, &deltas)?;
        self.usage_apply_deltas(&mut wtxn, &deltas.usage)?;
        for (segment, end_bytes) in segment_ends {
            let key = segment.to_be_bytes();
            let old: SegmentState = match self.segments.get(&wtxn, &key)? {
                Some(value) => decode_value(value)?,
                None => SegmentState::default(),
            };
            let new = SegmentState {
                referenced_end_bytes: old.referenced_end_bytes.max(*end_bytes),
            };
            self.segments.put(&mut wtxn, &key, &encode_value(&new))?;
        }
        wtxn.commit()?;
        Ok(outcomes)
    }

    /// Writes `record` as the version `version` says.
    fn put_version(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        bucket_id: u64,
        key: &[u8],
        record: &ObjectRecord,
        version: VersionWrite,
        deltas: &mut SpaceDeltas,
    ) -> EngineResult<()> {
        let VersionWrite::New { seq, null } = version else {
            let index_key = object_index_key(bucket_id, key, VERSION_INV_UNVERSIONED);
            return self.object_replace(wtxn, &index_key, Some(record), deltas);
        };
        if null {
            // Suspended: the new null version replaces the old one.
            if let Some((old, _)) = self.version_entry(wtxn, bucket_id, key, VersionSel::Null)? {
                self.object_replace(wtxn, &old, None, deltas)?;
            }
        } else {
            self.move_unversioned_slot(wtxn, bucket_id, key, deltas)?;
        }
        let mut record = record.clone();
        record.meta.retain(|(name, _)| name != META_NULL_VERSION);
        if null {
            record
                .meta
                .push((META_NULL_VERSION.to_owned(), "1".to_owned()));
        }
        let index_key = object_index_key(bucket_id, key, version_inv(seq));
        self.object_replace(wtxn, &index_key, Some(&record), deltas)
    }

    /// The object in the unversioned slot becomes the key's null version, in
    /// the slot its age gives it, so versions written after it sort first.
    fn move_unversioned_slot(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        bucket_id: u64,
        key: &[u8],
        deltas: &mut SpaceDeltas,
    ) -> EngineResult<()> {
        let slot = object_index_key(bucket_id, key, VERSION_INV_UNVERSIONED);
        let Some(value) = self.objects.get(wtxn, &slot)? else {
            return Ok(());
        };
        let mut record: ObjectRecord = decode_value(value)?;
        let mut seq = seq_of_time(record.last_modified_ms).max(1);
        while self
            .objects
            .get(wtxn, &object_index_key(bucket_id, key, version_inv(seq)))?
            .is_some()
        {
            seq -= 1;
        }
        self.object_replace(wtxn, &slot, None, deltas)?;
        record
            .meta
            .push((META_NULL_VERSION.to_owned(), "1".to_owned()));
        let moved = object_index_key(bucket_id, key, version_inv(seq));
        self.object_replace(wtxn, &moved, Some(&record), deltas)
    }

    /// Replaces (or with `None` deletes) the object at `index_key`, moving
    /// the space accounting from the old body's extents to the new one's.
    fn object_replace(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        index_key: &[u8],
        record: Option<&ObjectRecord>,
        deltas: &mut SpaceDeltas,
    ) -> EngineResult<()> {
        let owner = ExtentOwner::Object(index_key.to_vec());
        let bucket_id = bucket_of_index_key(index_key);
        if let Some(old) = self.objects.get(wtxn, index_key)? {
            let old: ObjectRecord = decode_value(old)?;
            self.space_release(wtxn, body_extents(&old), &owner, deltas)?;
            deltas
                .usage
                .add(bucket_id, UsageChange::of_version(&old, -1));
        }
        match record {
            Some(record) => {
                self.space_acquire(wtxn, body_extents(record), &owner, deltas)?;
                deltas
                    .usage
                    .add(bucket_id, UsageChange::of_version(record, 1));
                self.objects.put(wtxn, index_key, &encode_value(record))?;
            }
            None => {
                self.objects.delete(wtxn, index_key)?;
            }
        }
        Ok(())
    }

    fn check_condition(
        &self,
        txn: &heed::RoTxn<'_>,
        index_key: &[u8],
        condition: &WriteCondition,
    ) -> EngineResult<()> {
        if *condition == WriteCondition::None {
            return Ok(());
        }
        let bucket_id = u64::from_be_bytes(index_key[..8].try_into().expect("8-byte prefix"));
        let current = self
            .latest_entry(txn, bucket_id, object_key_of(index_key))?
            .map(|(_, record)| record)
            .filter(|record| !record.is_delete_marker());
        let holds = match (condition, current) {
            (WriteCondition::None, _) => true,
            (WriteCondition::Absent, current) => current.is_none(),
            (WriteCondition::EtagMatches(etag), Some(current)) => &current.etag == etag,
            (WriteCondition::EtagMatches(_), None) => {
                return Err(EngineError::ConditionTargetMissing)
            }
            (WriteCondition::EtagDiffers(etag), Some(current)) => &current.etag != etag,
            (WriteCondition::EtagDiffers(_), None) => true,
            (WriteCondition::Matches { etag: Some(_), .. }, None) => {
                return Err(EngineError::ConditionTargetMissing)
            }
            (WriteCondition::Matches { .. }, None) => true,
            (
                WriteCondition::Matches {
                    etag,
                    size_bytes,
                    last_modified_s,
                },
                Some(current),
            ) => {
                etag.as_ref()
                    .is_none_or(|etag| etag == "*" || &current.etag == etag)
                    && size_bytes.is_none_or(|size| current.size_bytes == size)
                    && last_modified_s.is_none_or(|secs| current.last_modified_ms / 1000 == secs)
            }
        };
        if holds {
            Ok(())
        } else {
            Err(EngineError::PreconditionFailed)
        }
    }

    pub(crate) fn live_bucket(&self, txn: &heed::RoTxn<'_>, bucket_id: u64) -> EngineResult<()> {
        match self.buckets.get(txn, &bucket_id.to_be_bytes())? {
            Some(value) if !decode_value::<BucketState>(value)?.dropped => Ok(()),
            _ => Err(EngineError::NoSuchBucket),
        }
    }

    fn apply_op(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        op: &IndexOp,
        deltas: &mut SpaceDeltas,
    ) -> EngineResult<()> {
        match op {
            IndexOp::CreateBucket { bucket_id, name } => {
                let state = BucketState {
                    name: name.clone(),
                    dropped: false,
                };
                self.buckets
                    .put(wtxn, &bucket_id.to_be_bytes(), &encode_value(&state))?;
            }
            IndexOp::DropBucket { bucket_id } => {
                self.live_bucket(wtxn, *bucket_id)?;
                if self.bucket_has_objects(wtxn, *bucket_id)? {
                    return Err(EngineError::BucketNotEmpty);
                }
                // Uploads still in progress go with the bucket (nothing could
                // complete or abort them after), and their parts' space and
                // usage with them.
                self.uploads_drop_of_bucket(wtxn, *bucket_id, deltas)?;
                let key = bucket_id.to_be_bytes();
                let mut state: BucketState =
                    decode_value(self.buckets.get(wtxn, &key)?.expect("live bucket"))?;
                state.dropped = true;
                self.buckets.put(wtxn, &key, &encode_value(&state))?;
            }
            IndexOp::PutObject {
                bucket_id,
                key,
                record,
                condition,
                version,
                md5_at_commit,
            } => {
                // Only the store's commit loop fills ETags left to the
                // commit; an op applied any other way must not store none.
                if md5_at_commit.is_some() {
                    return Err(EngineError::Index(
                        "an object's ETag was left to a commit that did not compute it".into(),
                    ));
                }
                self.live_bucket(wtxn, *bucket_id)?;
                let index_key = object_index_key(*bucket_id, key, VERSION_INV_UNVERSIONED);
                self.check_condition(wtxn, &index_key, condition)?;
                self.put_version(wtxn, *bucket_id, key, record, *version, deltas)?;
            }
            IndexOp::PutDeleteMarker {
                bucket_id,
                key,
                seq,
                null,
                last_modified_ms,
                condition,
            } => {
                self.live_bucket(wtxn, *bucket_id)?;
                let index_key = object_index_key(*bucket_id, key, VERSION_INV_UNVERSIONED);
                self.check_condition(wtxn, &index_key, condition)?;
                let marker = ObjectRecord::delete_marker(*last_modified_ms, *null);
                let version = VersionWrite::New {
                    seq: *seq,
                    null: *null,
                };
                self.put_version(wtxn, *bucket_id, key, &marker, version, deltas)?;
            }
            IndexOp::DeleteVersion {
                bucket_id,
                key,
                version,
                now_ms,
                bypass_governance,
            } => {
                self.live_bucket(wtxn, *bucket_id)?;
                if let Some((index_key, record)) =
                    self.version_entry(wtxn, *bucket_id, key, *version)?
                {
                    if record.is_locked(*now_ms, *bypass_governance) {
                        return Err(EngineError::ObjectLocked);
                    }
                    self.object_replace(wtxn, &index_key, None, deltas)?;
                }
            }
            IndexOp::DeleteObject {
                bucket_id,
                key,
                condition,
            } => {
                self.live_bucket(wtxn, *bucket_id)?;
                let index_key = object_index_key(*bucket_id, key, VERSION_INV_UNVERSIONED);
                self.check_condition(wtxn, &index_key, condition)?;
                self.object_replace(wtxn, &index_key, None, deltas)?;
            }
            IndexOp::SetObjectMeta {
                bucket_id,
                key,
                version,
                name,
                value,
            } => {
                self.live_bucket(wtxn, *bucket_id)?;
                let found = match version {
                    None => self.latest_entry(wtxn, *bucket_id, key)?,
                    Some(version) => self.version_entry(wtxn, *bucket_id, key, *version)?,
                };
                let (index_key, mut record) = match found {
                    Some((_, record)) if record.is_delete_marker() => {
                        return Err(EngineError::NoSuchObject)
                    }
                    Some(found) => found,
                    None => return Err(EngineError::NoSuchObject),
                };
                record.meta.retain(|(existing, _)| existing != name);
                if let Some(value) = value {
                    record.meta.push((name.clone(), value.clone()));
                }
                self.objects.put(wtxn, &index_key, &encode_value(&record))?;
            }
            IndexOp::ReplaceObjectMeta {
                index_key,
                name,
                old_value,
                new_value,
            } => {
                let mut record: ObjectRecord = match self.objects.get(wtxn, index_key)? {
                    Some(stored) => decode_value(stored)?,
                    None => return Err(EngineError::NoSuchObject),
                };
                replace_meta(&mut record.meta, name, old_value, new_value)?;
                self.objects.put(wtxn, index_key, &encode_value(&record))?;
            }
            IndexOp::ReplaceUploadMeta {
                upload_id,
                name,
                old_value,
                new_value,
            } => {
                let mut record: UploadRecord = match self.uploads.get(wtxn, upload_id)? {
                    Some(stored) => decode_value(stored)?,
                    None => return Err(EngineError::NoSuchUpload),
                };
                replace_meta(&mut record.meta, name, old_value, new_value)?;
                self.uploads.put(wtxn, upload_id, &encode_value(&record))?;
            }
            IndexOp::CreateUpload {
                bucket_id,
                upload_id,
                record,
            } => {
                self.live_bucket(wtxn, *bucket_id)?;
                self.upload_create(wtxn, upload_id, record)?;
            }
            IndexOp::PutPart {
                upload_id,
                part_number,
                record,
            } => {
                self.part_put(wtxn, upload_id, *part_number, record, deltas)?;
            }
            IndexOp::CompleteUpload {
                bucket_id,
                key,
                upload_id,
                parts,
                record,
                condition,
                version,
            } => {
                self.live_bucket(wtxn, *bucket_id)?;
                let index_key = object_index_key(*bucket_id, key, VERSION_INV_UNVERSIONED);
                self.check_condition(wtxn, &index_key, condition)?;
                self.upload_complete(wtxn, upload_id, parts, record, deltas)?;
                self.put_version(wtxn, *bucket_id, key, record, *version, deltas)?;
            }
            IndexOp::AbortUpload { upload_id } => {
                self.upload_abort(wtxn, upload_id, deltas)?;
            }
            IndexOp::DropDamagedVersion { index_key } => {
                if self.objects.get(wtxn, index_key)?.is_some() {
                    self.object_replace(wtxn, index_key, None, deltas)?;
                }
            }
            IndexOp::Relocate {
                from_segment,
                from_offset_bytes,
                to,
            } => {
                self.space_relocate(wtxn, *from_segment, *from_offset_bytes, to, deltas)?;
            }
            IndexOp::RetireSegment { segment } => {
                self.space_retire(wtxn, *segment)?;
            }
        }
        Ok(())
    }
}

/// Sets `name` to `new_value` if it holds `old_value` now.
fn replace_meta(
    meta: &mut [(String, String)],
    name: &str,
    old_value: &str,
    new_value: &str,
) -> EngineResult<()> {
    match meta.iter_mut().find(|(existing, _)| existing == name) {
        Some((_, value)) if value == old_value => {
            *value = new_value.to_owned();
            Ok(())
        }
        _ => Err(EngineError::PreconditionFailed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `serde_bytes` must not change the stored form: values written before it
    /// (as a postcard sequence of u8) still decode, and new ones are identical.
    #[test]
    fn inline_bodies_keep_the_sequence_wire_form() {
        #[derive(Serialize)]
        enum PlainBody {
            #[allow(dead_code)]
            Inline(Vec<u8>),
        }
        let bytes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        let plain = postcard::to_stdvec(&PlainBody::Inline(bytes.clone())).unwrap();
        let blob = postcard::to_stdvec(&ObjectBody::Inline(bytes.clone())).unwrap();
        assert_eq!(plain, blob);
        let decoded: ObjectBody = postcard::from_bytes(&plain).unwrap();
        assert_eq!(decoded, ObjectBody::Inline(bytes));
    }
}
