//! Deterministic simulation of one shard's engine against a `BTreeMap` model.
//!
//! A `ShardStore<SimDisk>` (4 MiB segments, so objects roll over segments
//! often) with a real LMDB index in a temporary directory, and an
//! `ObjectReader` on the same `SimDisk`, run random operation sequences drawn
//! from a seed: bucket create/drop, inline and chunked puts, overwrites,
//! deletes, gets, listings, groups of concurrent puts and deletes, clean
//! restarts, crashes at each step of a put, and injected faults (write EIO,
//! fdatasync EIO, ENOSPC, a flipped byte). After every operation the engine's
//! answer is compared with the model's, and after every restart every
//! committed object is read back byte for byte.
//!
//! The crash model: LMDB is a real file whose commits are durable, so a crash
//! only loses segment writes that were not fdatasync'ed; `SimDisk::crash`
//! keeps a random, block-torn subset of them.
//!
//! A failing run names its seed; `SIM_SEED=<n> cargo test -p engine --test
//! sim_model` replays exactly that seed. `SIM_SEEDS=<n>` runs more seeds.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use engine::compact::CompactionConfig;
use engine::format::{record_len_bytes, seal_chunk, RECORD_HEADER_BYTES};
use engine::index::{Extent, Index, IndexOp, ObjectBody, ObjectRecord, WriteCondition};
use engine::io::sim::{SimDisk, SimFaults, SimFile};
use engine::io::{AlignedBuf, Disk, DiskFile};
use engine::limits::{CHUNK_PAYLOAD_BYTES_MAX, INLINE_OBJECT_BYTES_MAX, LIST_ENTRIES_MAX};
use engine::list::{ListItem, ListQuery};
use engine::pins::ReadPins;
use engine::reader::ObjectReader;
use engine::store::{segment_path, ShardStore, StoreConfig};
use engine::{EngineError, EngineResult};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

const SEEDS_DEFAULT: u64 = 1200;
const STEPS_PER_SEED: usize = 60;
const SEGMENT_BYTES: u64 = 4 << 20;
const SHARD: u16 = 0;
const BUCKETS: [u64; 3] = [1, 2, 3];
/// Every chunk buffer is one full record: 1 MiB.
const CHUNK_BUF_BYTES: usize = 1 << 20;
const OBJECT_BYTES_MAX: usize = 3 << 20;
const KEY_PIECES: &[&str] = &["a", "b", "/", "//", "é", "日", "+", "%2F", " ", "x"];
const DELIMITERS: &[Option<&[u8]>] = &[
    None,
    Some(b"/"),
    Some(b"//"),
    Some("é".as_bytes()),
    Some(b"a"),
];

type Runtime = monoio::Runtime<monoio::LegacyDriver>;

fn runtime() -> Runtime {
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .build()
        .expect("monoio runtime")
}

/// LMDB's fsyncs are free on tmpfs; the model does not depend on them.
fn temp_dir() -> tempfile::TempDir {
    let mut builder = tempfile::Builder::new();
    builder.prefix("maxiofs-sim");
    match Path::new("/dev/shm").is_dir() {
        true => builder.tempdir_in("/dev/shm"),
        false => builder.tempdir(),
    }
    .expect("tempdir")
}

/// What the harness knows about the disk that the engine does not report.
#[derive(Default)]
struct Tally {
    /// Bytes the simulated disk accepted, the base of an ENOSPC limit.
    written_bytes: Cell<u64>,
    /// The highest segment an append landed in since the last (re)open.
    segment_max: Cell<Option<u32>>,
}

fn etag_of(data: &[u8]) -> String {
    format!("{:08x}-{}", crc32c::crc32c(data), data.len())
}

fn record_of(data: &[u8], body: ObjectBody, stamp: u64) -> ObjectRecord {
    ObjectRecord {
        size_bytes: data.len() as u64,
        etag: etag_of(data),
        last_modified_ms: stamp,
        meta: vec![("x-amz-meta-stamp".into(), stamp.to_string())],
        body,
    }
}

/// Step 1 of a put: seals and appends up to `chunks_max` chunks of `data`.
async fn append_chunks<D: Disk>(
    store: &ShardStore<D>,
    tally: &Tally,
    data: &[u8],
    object_id: u128,
    chunks_max: usize,
) -> EngineResult<Vec<Extent>> {
    append_chunks_from(store, tally, data, object_id, 0, chunks_max).await
}

/// Appends up to `chunks_max` chunks of `data` from chunk `first` on.
async fn append_chunks_from<D: Disk>(
    store: &ShardStore<D>,
    tally: &Tally,
    data: &[u8],
    object_id: u128,
    first: usize,
    chunks_max: usize,
) -> EngineResult<Vec<Extent>> {
    let mut extents = Vec::new();
    for (chunk_index, payload) in data
        .chunks(CHUNK_PAYLOAD_BYTES_MAX)
        .enumerate()
        .skip(first)
        .take(chunks_max)
    {
        let mut buf = AlignedBuf::new(CHUNK_BUF_BYTES);
        let payload_end = RECORD_HEADER_BYTES + payload.len();
        buf.as_full_mut()[RECORD_HEADER_BYTES..payload_end].copy_from_slice(payload);
        seal_chunk(&mut buf, object_id, chunk_index as u32, payload.len());
        let (result, buf) = store
            .append_chunk(buf, object_id, chunk_index as u32, payload.len() as u32)
            .await;
        assert_eq!(buf.capacity(), CHUNK_BUF_BYTES, "the buffer comes back");
        let extent = result?;
        assert_eq!(extent.offset_bytes % 4096, 0, "records start on a block");
        tally
            .written_bytes
            .set(tally.written_bytes.get() + record_len_bytes(payload.len()) as u64);
        tally
            .segment_max
            .set(tally.segment_max.get().max(Some(extent.segment)));
        extents.push(extent);
    }
    Ok(extents)
}

/// A whole put: inline up to 4096 bytes, else chunks then the index commit.
/// Returns the extents the committed object references.
async fn put_object<D: Disk>(
    store: &ShardStore<D>,
    tally: &Tally,
    bucket_id: u64,
    key: &[u8],
    data: &[u8],
    stamp: u64,
) -> EngineResult<Vec<Extent>> {
    let object_id = u128::from(stamp) << 64 | u128::from(crc32c::crc32c(key));
    let (body, extents) = if data.len() <= INLINE_OBJECT_BYTES_MAX {
        (ObjectBody::Inline(data.to_vec()), Vec::new())
    } else {
        // A failed append ends the write, as the S3 layer's hold guard does.
        let extents = append_chunks(store, tally, data, object_id, usize::MAX)
            .await
            .inspect_err(|_| store.abandon_write(object_id))?;
        (ObjectBody::Extents(extents.clone()), extents)
    };
    let record = record_of(data, body, stamp);
    store
        .commit(IndexOp::PutObject {
            bucket_id,
            key: key.to_vec(),
            record,
            condition: WriteCondition::None,
            version: engine::index::VersionWrite::Unversioned,
            md5_at_commit: None,
        })
        .await?;
    Ok(extents)
}

/// Reads an object the way GET does: index lookup, then verified chunks.
async fn read_object<D: Disk>(
    reader: &ObjectReader<D>,
    bucket_id: u64,
    key: &[u8],
) -> EngineResult<Option<Vec<u8>>> {
    let Some(record) = reader
        .shard_index(SHARD as usize)
        .get_object(bucket_id, key)?
    else {
        return Ok(None);
    };
    let data = match &record.body {
        ObjectBody::Inline(bytes) => bytes.clone(),
        ObjectBody::Extents(extents) => {
            let mut out = Vec::with_capacity(record.size_bytes as usize);
            let mut buf = AlignedBuf::new(CHUNK_BUF_BYTES);
            for (position, extent) in extents.iter().enumerate() {
                assert_eq!(
                    extent.chunk_index as usize, position,
                    "extents in object order"
                );
                let (result, back) = reader.read_chunk(extent, buf).await;
                buf = back;
                result?;
                let payload_end = RECORD_HEADER_BYTES + extent.payload_len_bytes as usize;
                out.extend_from_slice(&buf.as_slice()[RECORD_HEADER_BYTES..payload_end]);
            }
            out
        }
    };
    assert_eq!(record.size_bytes, data.len() as u64, "size of {key:?}");
    assert_eq!(record.etag, etag_of(&data), "etag of {key:?}");
    let stamp = record.last_modified_ms.to_string();
    assert_eq!(
        record.meta,
        vec![("x-amz-meta-stamp".to_string(), stamp)],
        "meta of {key:?}"
    );
    Ok(Some(data))
}

/// Stops a store: the commit loop finishes what is queued and ends, and
/// then this is the last handle, so dropping it joins the committer thread.
async fn stop<D: Disk>(store: Rc<ShardStore<D>>) {
    store.shutdown();
    store.drained().await;
    let store = Rc::try_unwrap(store)
        .unwrap_or_else(|_| panic!("the commit loop still holds the store after drained()"));
    drop(store);
}

/// How many of `retired` still have a file on `disk`.
fn retired_files(disk: &SimDisk, dir: &Path, retired: &[u32]) -> usize {
    let paths = disk.file_paths();
    retired
        .iter()
        .filter(|segment| paths.contains(&segment_path(dir, SHARD, **segment)))
        .count()
}

fn overlaps(a: &Extent, b: &Extent) -> bool {
    a.shard == b.shard
        && a.segment == b.segment
        && a.offset_bytes < b.end_bytes()
        && b.offset_bytes < a.end_bytes()
}

#[derive(Default)]
struct Model {
    live: BTreeSet<u64>,
    objects: BTreeMap<(u64, Vec<u8>), Vec<u8>>,
}

impl Model {
    fn keys_of(&self, bucket_id: u64) -> Vec<Vec<u8>> {
        let start = (bucket_id, Vec::new());
        let end = (bucket_id + 1, Vec::new());
        self.objects
            .range(start..end)
            .map(|((_, key), _)| key.clone())
            .collect()
    }

    /// Every entry of a full listing, as (position, is common prefix).
    fn list_entries(
        &self,
        bucket_id: u64,
        prefix: &[u8],
        delimiter: Option<&[u8]>,
    ) -> Vec<(Vec<u8>, bool)> {
        let mut out: Vec<(Vec<u8>, bool)> = Vec::new();
        for key in self
            .keys_of(bucket_id)
            .into_iter()
            .filter(|key| key.starts_with(prefix))
        {
            let rest = &key[prefix.len()..];
            let at = delimiter.and_then(|d| (0..rest.len()).find(|&i| rest[i..].starts_with(d)));
            match (at, delimiter) {
                (Some(at), Some(d)) => {
                    let common = key[..prefix.len() + at + d.len()].to_vec();
                    if out.last() != Some(&(common.clone(), true)) {
                        out.push((common, true));
                    }
                }
                _ => out.push((key, false)),
            }
        }
        out
    }
}

/// How often each kind of step ran, summed over seeds, so the test can show
/// that every path it claims to cover actually ran.
type Coverage = BTreeMap<&'static str, usize>;

struct Sim {
    seed: u64,
    step: usize,
    rng: StdRng,
    dir: tempfile::TempDir,
    disk: SimDisk,
    index: Index,
    store: Option<Rc<ShardStore<SimDisk>>>,
    reader: ObjectReader<SimDisk>,
    /// Shared by the reader and the compactor, as in the server.
    pins: Arc<ReadPins>,
    tally: Rc<Tally>,
    model: Model,
    keys: Vec<Vec<u8>>,
    stamp: u64,
    coverage: Coverage,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let dir = temp_dir();
        let disk = SimDisk::new(seed);
        let index = Index::open(&dir.path().join("index")).expect("index opens");
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_0f5e_ed00_0000);
        let mut keys = BTreeSet::new();
        while keys.len() < 14 {
            let pieces = rng.gen_range(1..=4);
            let key: String = (0..pieces)
                .map(|_| KEY_PIECES[rng.gen_range(0..KEY_PIECES.len())])
                .collect();
            keys.insert(key.into_bytes());
        }
        let pins = ReadPins::new();
        let reader = ObjectReader::new(
            disk.clone(),
            dir.path().to_path_buf(),
            vec![index.clone()],
            pins.clone(),
        );
        let mut sim = Sim {
            pins,
            seed,
            step: 0,
            rng,
            dir,
            disk,
            index,
            store: None,
            reader,
            tally: Rc::new(Tally::default()),
            model: Model::default(),
            keys: keys.into_iter().collect(),
            stamp: 0,
            coverage: Coverage::new(),
        };
        sim.open_store();
        sim
    }

    fn config(&self) -> StoreConfig {
        StoreConfig {
            data_dir: self.dir.path().to_path_buf(),
            shard: SHARD,
            segment_bytes: SEGMENT_BYTES,
            reserve_bytes: 0,
        }
    }

    fn open_store(&mut self) {
        let store = ShardStore::open(self.config(), self.disk.clone(), self.index.clone())
            .unwrap_or_else(|err| panic!("{}: open: {err}", self.ctx()));
        store.start();
        self.store = Some(store);
        self.pins = ReadPins::new();
        self.reader = ObjectReader::new(
            self.disk.clone(),
            self.dir.path().to_path_buf(),
            vec![self.index.clone()],
            self.pins.clone(),
        );
        let referenced_max = self
            .index
            .segment_states()
            .expect("segment states")
            .iter()
            .map(|(number, _)| *number)
            .max();
        self.tally.segment_max.set(referenced_max);
    }

    fn store(&self) -> &ShardStore<SimDisk> {
        self.store.as_ref().expect("store open")
    }

    fn ctx(&self) -> String {
        format!("seed {} step {}", self.seed, self.step)
    }

    fn covered(&mut self, what: &'static str) {
        *self.coverage.entry(what).or_default() += 1;
    }

    fn next_stamp(&mut self) -> u64 {
        self.stamp += 1;
        self.stamp
    }

    fn data(&mut self, len: usize) -> Vec<u8> {
        let mut data = vec![0u8; len];
        self.rng.fill_bytes(&mut data);
        data
    }

    /// Sizes that hit the interesting boundaries: empty, the inline limit,
    /// one chunk exactly, one byte either side of a chunk, several chunks.
    fn object_len(&mut self) -> usize {
        match self.rng.gen_range(0..10) {
            0 => 0,
            1..=3 => self.rng.gen_range(1..=INLINE_OBJECT_BYTES_MAX),
            4 => INLINE_OBJECT_BYTES_MAX + self.rng.gen_range(0..=1),
            5 | 6 => self.chunked_len(),
            7 => CHUNK_PAYLOAD_BYTES_MAX - 1 + self.rng.gen_range(0..=2),
            _ => self
                .rng
                .gen_range(CHUNK_PAYLOAD_BYTES_MAX + 1..=OBJECT_BYTES_MAX),
        }
    }

    fn chunked_len(&mut self) -> usize {
        match self.rng.gen_bool(0.7) {
            true => self.rng.gen_range(INLINE_OBJECT_BYTES_MAX + 1..=700_000),
            false => self.rng.gen_range(700_000..=OBJECT_BYTES_MAX),
        }
    }

    fn key(&mut self) -> Vec<u8> {
        self.keys[self.rng.gen_range(0..self.keys.len())].clone()
    }

    /// Mostly a live bucket; sometimes any bucket, live or not.
    fn bucket(&mut self) -> u64 {
        let live: Vec<u64> = self.model.live.iter().copied().collect();
        if !live.is_empty() && self.rng.gen_bool(0.85) {
            return live[self.rng.gen_range(0..live.len())];
        }
        BUCKETS[self.rng.gen_range(0..BUCKETS.len())]
    }

    fn live_bucket(&mut self) -> Option<u64> {
        let live: Vec<u64> = self.model.live.iter().copied().collect();
        (!live.is_empty()).then(|| live[self.rng.gen_range(0..live.len())])
    }

    /// A key of `bucket` that holds an object, if any.
    fn stored_key(&mut self, bucket_id: u64) -> Option<Vec<u8>> {
        let keys = self.model.keys_of(bucket_id);
        (!keys.is_empty()).then(|| keys[self.rng.gen_range(0..keys.len())].clone())
    }

    /// Checks an outcome that depends only on whether the bucket is live.
    fn check_live_outcome<T: std::fmt::Debug>(
        &self,
        what: &str,
        live: bool,
        result: &EngineResult<T>,
    ) {
        match (live, result) {
            (true, Ok(_)) | (false, Err(EngineError::NoSuchBucket)) => {}
            _ => panic!(
                "{}: {what} (bucket live: {live}) returned {result:?}",
                self.ctx()
            ),
        }
    }

    async fn check_object(&self, bucket_id: u64, key: &[u8], when: &str) {
        let expected = self.model.objects.get(&(bucket_id, key.to_vec()));
        let actual = read_object(&self.reader, bucket_id, key)
            .await
            .unwrap_or_else(|err| {
                panic!("{}: {when}: read {bucket_id}/{key:?}: {err}", self.ctx())
            });
        assert!(
            actual.as_ref() == expected,
            "{}: {when}: {bucket_id}/{key:?} holds {:?} bytes, model {:?}",
            self.ctx(),
            actual.as_ref().map(Vec::len),
            expected.map(Vec::len)
        );
    }

    /// Every bucket lists exactly the model's keys and every object reads
    /// back byte for byte.
    async fn verify_all(&mut self, when: &str) {
        let accounting = self
            .index
            .space_verify()
            .expect("space accounting readable");
        assert!(
            accounting.is_empty(),
            "{}: {when}: space accounting is off: {accounting:?}",
            self.ctx()
        );
        for bucket_id in BUCKETS {
            let state = self.index.bucket_state(bucket_id).expect("bucket state");
            let live = state.is_some_and(|state| !state.dropped);
            assert_eq!(
                live,
                self.model.live.contains(&bucket_id),
                "{}: {when}: live",
                self.ctx()
            );
            let entries = self.model.list_entries(bucket_id, b"", None);
            self.check_pagination(bucket_id, b"", None, LIST_ENTRIES_MAX, &entries, when);
        }
        let keys: Vec<(u64, Vec<u8>)> = self.model.objects.keys().cloned().collect();
        for (bucket_id, key) in keys {
            self.check_object(bucket_id, &key, when).await;
        }
        self.covered("verify all");
    }

    fn list_page(&self, query: &ListQuery<'_>) -> (Vec<(Vec<u8>, bool)>, bool) {
        let page = self
            .index
            .list(query)
            .unwrap_or_else(|err| panic!("{}: list: {err}", self.ctx()));
        let items = page.items.iter().map(|item| match item {
            ListItem::Object { key, record } => {
                if let Some(data) = self.model.objects.get(&(query.bucket_id, key.clone())) {
                    assert_eq!(
                        record.etag,
                        etag_of(data),
                        "{}: record of {key:?}",
                        self.ctx()
                    );
                }
                (key.clone(), false)
            }
            ListItem::CommonPrefix(prefix) => (prefix.clone(), true),
        });
        (items.collect(), page.truncated)
    }

    fn check_pagination(
        &self,
        bucket_id: u64,
        prefix: &[u8],
        delimiter: Option<&[u8]>,
        entries_max: usize,
        expected: &[(Vec<u8>, bool)],
        when: &str,
    ) {
        let mut seen = Vec::new();
        let mut after: Option<Vec<u8>> = None;
        for _page in 0..=expected.len() {
            let query = ListQuery {
                bucket_id,
                prefix,
                after: after.as_deref(),
                delimiter,
                entries_max,
            };
            let (items, truncated) = self.list_page(&query);
            seen.extend(items.iter().cloned());
            assert_eq!(
                truncated,
                seen.len() < expected.len(),
                "{}: {when}: {query:?}",
                self.ctx()
            );
            match items.last() {
                Some((position, _)) if truncated => after = Some(position.clone()),
                _ => break,
            }
        }
        assert_eq!(
            seen,
            expected,
            "{}: {when}: listing {bucket_id} {prefix:?} {delimiter:?}",
            self.ctx()
        );
    }

    async fn op_create_bucket(&mut self) {
        let bucket_id = BUCKETS[self.rng.gen_range(0..BUCKETS.len())];
        let op = IndexOp::CreateBucket {
            bucket_id,
            name: format!("bucket-{bucket_id}"),
        };
        let result = self.store().commit(op).await;
        assert!(result.is_ok(), "{}: create bucket: {result:?}", self.ctx());
        self.model.live.insert(bucket_id);
        self.covered("create bucket");
    }

    async fn op_put(&mut self) {
        let (bucket_id, key) = (self.bucket(), self.key());
        let len = self.object_len();
        let data = self.data(len);
        let stamp = self.next_stamp();
        let result = put_object(self.store(), &self.tally, bucket_id, &key, &data, stamp).await;
        let live = self.model.live.contains(&bucket_id);
        self.check_live_outcome("put", live, &result);
        self.covered(if live {
            "put"
        } else {
            "put into missing bucket"
        });
        if result.is_ok() {
            let old = self.model.objects.insert((bucket_id, key.clone()), data);
            self.covered(if old.is_some() {
                "overwrite"
            } else {
                "new object"
            });
        }
        self.check_object(bucket_id, &key, "after put").await;
    }

    /// Puts and deletes of distinct keys in spawned tasks, all in flight
    /// together, so the group commit gathers them.
    async fn op_concurrent(&mut self) {
        let count = self.rng.gen_range(2..=6);
        let mut planned: Vec<(u64, Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        for _ in 0..count {
            let (bucket_id, key) = (self.bucket(), self.key());
            if planned.iter().any(|(b, k, _)| (*b, k) == (bucket_id, &key)) {
                continue;
            }
            let data = match self.rng.gen_bool(0.8) {
                true => {
                    let len = match self.rng.gen_bool(0.5) {
                        true => self.rng.gen_range(0..=INLINE_OBJECT_BYTES_MAX),
                        false => self.rng.gen_range(INLINE_OBJECT_BYTES_MAX + 1..=1_500_000),
                    };
                    Some(self.data(len))
                }
                false => None,
            };
            planned.push((bucket_id, key, data));
        }
        let mut tasks = Vec::new();
        for (bucket_id, key, data) in &planned {
            let store = self.store.clone().expect("store open");
            let tally = self.tally.clone();
            let (bucket_id, key, data, stamp) =
                (*bucket_id, key.clone(), data.clone(), self.next_stamp());
            tasks.push(monoio::spawn(async move {
                match data {
                    Some(data) => put_object(&store, &tally, bucket_id, &key, &data, stamp)
                        .await
                        .map(drop),
                    None => {
                        store
                            .commit(IndexOp::DeleteObject {
                                bucket_id,
                                key,
                                condition: WriteCondition::None,
                            })
                            .await
                    }
                }
            }));
        }
        for (task, (bucket_id, key, data)) in tasks.into_iter().zip(planned) {
            let result = task.await;
            let live = self.model.live.contains(&bucket_id);
            self.check_live_outcome("concurrent put/delete", live, &result);
            if result.is_ok() {
                match data {
                    Some(data) => self.model.objects.insert((bucket_id, key.clone()), data),
                    None => self.model.objects.remove(&(bucket_id, key.clone())),
                };
            }
            self.check_object(bucket_id, &key, "after concurrent put/delete")
                .await;
        }
        self.covered("concurrent group");
    }

    async fn op_delete(&mut self) {
        let bucket_id = self.bucket();
        let key = match self.stored_key(bucket_id) {
            Some(key) if self.rng.gen_bool(0.7) => key,
            _ => self.key(),
        };
        let op = IndexOp::DeleteObject {
            bucket_id,
            key: key.clone(),
            condition: WriteCondition::None,
        };
        let result = self.store().commit(op).await;
        let live = self.model.live.contains(&bucket_id);
        self.check_live_outcome("delete", live, &result);
        if result.is_ok() {
            let old = self.model.objects.remove(&(bucket_id, key.clone()));
            self.covered(if old.is_some() {
                "delete"
            } else {
                "delete missing key"
            });
        }
        self.check_object(bucket_id, &key, "after delete").await;
    }

    async fn op_get(&mut self) {
        let bucket_id = self.bucket();
        let key = match self.stored_key(bucket_id) {
            Some(key) if self.rng.gen_bool(0.7) => key,
            _ => self.key(),
        };
        self.check_object(bucket_id, &key, "get").await;
        self.covered("get");
    }

    fn op_list(&mut self) {
        let bucket_id = self.bucket();
        let key = self.key();
        let prefix = match self.rng.gen_range(0..3) {
            0 => Vec::new(),
            _ => key[..self.rng.gen_range(0..=key.len())].to_vec(),
        };
        let delimiter = DELIMITERS[self.rng.gen_range(0..DELIMITERS.len())];
        let marker_key = self.key();
        let after = match self.rng.gen_range(0..3) {
            0 => None,
            1 => Some(marker_key.clone()),
            _ => Some(marker_key[..self.rng.gen_range(0..=marker_key.len())].to_vec()),
        };
        let entries_max = match self.rng.gen_range(0..8) {
            0 => LIST_ENTRIES_MAX,
            n => n,
        };
        let entries = self.model.list_entries(bucket_id, &prefix, delimiter);
        let rest: Vec<_> = entries
            .iter()
            .filter(|(position, _)| after.as_ref().is_none_or(|after| position > after))
            .cloned()
            .collect();
        let query = ListQuery {
            bucket_id,
            prefix: &prefix,
            after: after.as_deref(),
            delimiter,
            entries_max,
        };
        let (items, truncated) = self.list_page(&query);
        let expected = rest.iter().take(entries_max).cloned().collect::<Vec<_>>();
        assert_eq!(items, expected, "{}: {query:?}", self.ctx());
        assert_eq!(
            truncated,
            rest.len() > entries_max,
            "{}: {query:?} truncated",
            self.ctx()
        );
        if self.rng.gen_bool(0.3) {
            self.check_pagination(
                bucket_id,
                &prefix,
                delimiter,
                entries_max,
                &entries,
                "paging",
            );
        }
        self.covered("list");
    }

    async fn op_drop_bucket(&mut self) {
        let bucket_id = self.bucket();
        // Half the time empty it first (concurrently), so drops also succeed.
        if self.model.live.contains(&bucket_id) && self.rng.gen_bool(0.5) {
            let keys = self.model.keys_of(bucket_id);
            let tasks: Vec<_> = keys
                .iter()
                .map(|key| {
                    let store = self.store.clone().expect("store open");
                    let op = IndexOp::DeleteObject {
                        bucket_id,
                        key: key.clone(),
                        condition: WriteCondition::None,
                    };
                    monoio::spawn(async move { store.commit(op).await })
                })
                .collect();
            for (task, key) in tasks.into_iter().zip(keys) {
                let result = task.await;
                assert!(
                    result.is_ok(),
                    "{}: emptying delete: {result:?}",
                    self.ctx()
                );
                self.model.objects.remove(&(bucket_id, key));
            }
        }
        let result = self.store().commit(IndexOp::DropBucket { bucket_id }).await;
        let live = self.model.live.contains(&bucket_id);
        let empty = self.model.keys_of(bucket_id).is_empty();
        match (live, empty, &result) {
            (false, _, Err(EngineError::NoSuchBucket)) => self.covered("drop missing bucket"),
            (true, false, Err(EngineError::BucketNotEmpty)) => {
                self.covered("drop non-empty bucket")
            }
            (true, true, Ok(())) => {
                self.model.live.remove(&bucket_id);
                self.covered("drop bucket");
            }
            _ => panic!(
                "{}: drop {bucket_id} (live {live}, empty {empty}): {result:?}",
                self.ctx()
            ),
        }
        // Objects survive a refused drop; a dropped bucket refuses puts.
        if let Some(key) = self.stored_key(bucket_id) {
            self.check_object(bucket_id, &key, "after drop").await;
        }
    }

    /// Shutdown (and optionally power loss), reopen on the same index and
    /// disk, check everything, then write again and check nothing committed
    /// was overwritten: the append position must come from the index.
    async fn restart(&mut self, crash: bool) {
        stop(self.store.take().expect("store open")).await;
        if crash {
            self.disk.crash();
        }
        self.open_store();
        self.verify_all(if crash {
            "after crash"
        } else {
            "after restart"
        })
        .await;
        let Some(bucket_id) = self.live_bucket() else {
            return;
        };
        let committed: Vec<Extent> = self.committed_extents();
        let key = self.key();
        let len = self.chunked_len();
        let data = self.data(len);
        let stamp = self.next_stamp();
        let new = put_object(self.store(), &self.tally, bucket_id, &key, &data, stamp)
            .await
            .unwrap_or_else(|err| panic!("{}: first put after reopen: {err}", self.ctx()));
        for extent in &new {
            let clash = committed.iter().find(|old| overlaps(extent, old));
            assert!(
                clash.is_none(),
                "{}: new {extent:?} overwrites committed {clash:?}",
                self.ctx()
            );
        }
        self.model.objects.insert((bucket_id, key), data);
        self.verify_all("after first write after reopen").await;
    }

    fn committed_extents(&self) -> Vec<Extent> {
        let mut out = Vec::new();
        for (bucket_id, key) in self.model.objects.keys() {
            let record = self
                .index
                .get_object(*bucket_id, key)
                .expect("index")
                .expect("committed");
            if let ObjectBody::Extents(extents) = record.body {
                out.extend(extents);
            }
        }
        out
    }

    async fn op_restart(&mut self) {
        let crash = self.rng.gen_bool(0.6);
        self.covered(if crash {
            "crash when idle"
        } else {
            "clean restart"
        });
        self.restart(crash).await;
    }

    /// Power loss in the middle of a put: after step 1 (some or all chunks
    /// written, unsynced), or after step 2 (another commit's fdatasync made
    /// them durable but nothing references them). The key keeps its old
    /// value, or stays absent.
    async fn op_crash_mid_put(&mut self) {
        let Some(bucket_id) = self.live_bucket() else {
            return;
        };
        let key = self.key();
        let len = self.chunked_len();
        let data = self.data(len);
        let chunks = data.len().div_ceil(CHUNK_PAYLOAD_BYTES_MAX);
        let written = self.rng.gen_range(1..=chunks);
        let object_id = u128::from(self.next_stamp());
        let appended = append_chunks(self.store(), &self.tally, &data, object_id, written).await;
        assert!(
            appended.is_ok(),
            "{}: abandoned append: {appended:?}",
            self.ctx()
        );
        if self.rng.gen_bool(0.5) {
            let other = self.key();
            let small = self.data(100);
            let stamp = self.next_stamp();
            let result =
                put_object(self.store(), &self.tally, bucket_id, &other, &small, stamp).await;
            assert!(result.is_ok(), "{}: syncing put: {result:?}", self.ctx());
            self.model.objects.insert((bucket_id, other), small);
            self.covered("crash after sync, before commit");
        } else {
            self.covered("crash before sync");
        }
        self.restart(true).await;
        self.check_object(bucket_id, &key, "abandoned put after crash")
            .await;
    }

    /// A failed segment write fails that put only; the segment is poisoned
    /// and the next put lands in a new segment.
    async fn op_write_eio(&mut self) {
        let Some(bucket_id) = self.live_bucket() else {
            return;
        };
        let key = self.key();
        let len = self.chunked_len();
        let data = self.data(len);
        let segment_max = self.tally.segment_max.get();
        self.disk.set_faults(SimFaults {
            write_eio_next: true,
            ..SimFaults::default()
        });
        let stamp = self.next_stamp();
        let result = put_object(self.store(), &self.tally, bucket_id, &key, &data, stamp).await;
        self.disk.set_faults(SimFaults::default());
        match &result {
            Err(EngineError::Io(err)) if err.raw_os_error() == Some(libc::EIO) => {}
            _ => panic!("{}: put with write EIO returned {result:?}", self.ctx()),
        }
        self.check_object(bucket_id, &key, "after write EIO").await;
        self.put_lands_in_new_segment(bucket_id, segment_max, true, "write EIO")
            .await;
        self.covered("write EIO");
    }

    /// A failed fdatasync fails the put whose bytes it covered; the put
    /// stays invisible, before and after a restart or crash, and no later put
    /// is placed in the poisoned segment.
    async fn op_sync_eio(&mut self) {
        let Some(bucket_id) = self.live_bucket() else {
            return;
        };
        let key = self.key();
        let len = self.chunked_len();
        let data = self.data(len);
        let stamp = self.next_stamp();
        let object_id = u128::from(stamp);
        let extents = append_chunks(self.store(), &self.tally, &data, object_id, usize::MAX)
            .await
            .unwrap_or_else(|err| panic!("{}: append before fdatasync EIO: {err}", self.ctx()));
        // Every write since the last sync is this put's, so the first
        // segment synced, the one that fails, is where its first chunk is.
        let poisoned = extents[0].segment;
        let record = record_of(&data, ObjectBody::Extents(extents), stamp);
        let op = IndexOp::PutObject {
            bucket_id,
            key: key.clone(),
            record,
            condition: WriteCondition::None,
            version: engine::index::VersionWrite::Unversioned,
            md5_at_commit: None,
        };
        self.disk.set_faults(SimFaults {
            sync_eio_next: true,
            ..SimFaults::default()
        });
        let result = self.store().commit(op).await;
        self.disk.set_faults(SimFaults::default());
        assert!(
            matches!(result, Err(EngineError::SegmentPoisoned)),
            "{}: put with fdatasync EIO returned {result:?}",
            self.ctx()
        );
        self.check_object(bucket_id, &key, "after fdatasync EIO")
            .await;
        self.put_lands_in_new_segment(bucket_id, Some(poisoned), false, "fdatasync EIO")
            .await;
        self.covered("fdatasync EIO");
        if self.rng.gen_bool(0.5) {
            let crash = self.rng.gen_bool(0.5);
            self.restart(crash).await;
            self.check_object(bucket_id, &key, "failed put after restart")
                .await;
        }
    }

    /// The put after a fault lands above the poisoned segment (at its start
    /// when `fresh`: a segment opened for it).
    async fn put_lands_in_new_segment(
        &mut self,
        bucket_id: u64,
        above: Option<u32>,
        fresh: bool,
        after: &str,
    ) {
        let key = self.key();
        let len = self.chunked_len();
        let data = self.data(len);
        let stamp = self.next_stamp();
        let extents = put_object(self.store(), &self.tally, bucket_id, &key, &data, stamp)
            .await
            .unwrap_or_else(|err| panic!("{}: put after {after}: {err}", self.ctx()));
        let first = extents[0].segment;
        assert!(
            above.is_none_or(|above| first > above),
            "{}: put after {after} wrote segment {first}, not above {above:?}",
            self.ctx()
        );
        assert!(
            !fresh || extents[0].offset_bytes == 0,
            "{}: {extents:?}",
            self.ctx()
        );
        self.model.objects.insert((bucket_id, key.clone()), data);
        self.check_object(bucket_id, &key, "put after fault").await;
    }

    /// A full disk fails the put with DiskFull, possibly after some of its
    /// chunks were written, and leaves everything stored intact.
    async fn op_enospc(&mut self) {
        let Some(bucket_id) = self.live_bucket() else {
            return;
        };
        let key = self.key();
        let len = self.chunked_len();
        let data = self.data(len);
        let needed: u64 = data
            .chunks(CHUNK_PAYLOAD_BYTES_MAX)
            .map(|chunk| record_len_bytes(chunk.len()) as u64)
            .sum();
        let room = self.rng.gen_range(0..needed);
        let space_bytes_max = Some(self.tally.written_bytes.get() + room);
        self.disk.set_faults(SimFaults {
            space_bytes_max,
            ..SimFaults::default()
        });
        let stamp = self.next_stamp();
        let result = put_object(self.store(), &self.tally, bucket_id, &key, &data, stamp).await;
        self.disk.set_faults(SimFaults::default());
        assert!(
            matches!(result, Err(EngineError::DiskFull)),
            "{}: put with {room} of {needed} bytes free returned {result:?}",
            self.ctx()
        );
        self.check_object(bucket_id, &key, "after ENOSPC").await;
        if self.rng.gen_bool(0.3) {
            self.verify_all("after ENOSPC").await;
        }
        let segment_max = self.tally.segment_max.get();
        self.put_lands_in_new_segment(bucket_id, segment_max, true, "ENOSPC")
            .await;
        self.covered("ENOSPC");
    }

    /// A flipped byte anywhere in a record's header or payload is reported
    /// as Corrupt, never served; flipping it back heals it.
    async fn op_corrupt(&mut self) {
        let chunked: Vec<(u64, Vec<u8>)> = self
            .model
            .objects
            .iter()
            .filter(|(_, data)| data.len() > INLINE_OBJECT_BYTES_MAX)
            .map(|(key, _)| key.clone())
            .collect();
        if chunked.is_empty() {
            return;
        }
        let (bucket_id, key) = chunked[self.rng.gen_range(0..chunked.len())].clone();
        let record = self
            .index
            .get_object(bucket_id, &key)
            .expect("index")
            .expect("committed");
        let ObjectBody::Extents(extents) = record.body else {
            panic!("chunked object inline")
        };
        let extent = extents[self.rng.gen_range(0..extents.len())];
        let framed = RECORD_HEADER_BYTES + extent.payload_len_bytes as usize;
        let offset_bytes = extent.offset_bytes + self.rng.gen_range(0..framed) as u64;
        let path = segment_path(self.dir.path(), SHARD, extent.segment);
        self.disk.corrupt(&path, offset_bytes);
        let (result, _buf) = self
            .reader
            .read_chunk(&extent, AlignedBuf::new(CHUNK_BUF_BYTES))
            .await;
        assert!(
            matches!(result, Err(EngineError::Corrupt { .. })),
            "{}: flipped byte at {offset_bytes} of {extent:?}: {result:?}",
            self.ctx()
        );
        let whole = read_object(&self.reader, bucket_id, &key).await;
        assert!(
            matches!(whole, Err(EngineError::Corrupt { .. })),
            "{}: {whole:?}",
            self.ctx()
        );
        self.disk.corrupt(&path, offset_bytes);
        self.check_object(bucket_id, &key, "after repair").await;
        self.covered("corrupt byte");
    }

    /// A slow write beside churn and compaction: its first chunks are
    /// appended, then other puts fill more than a segment and are deleted
    /// (so the segments holding those first chunks are dead but for them),
    /// and the compactor runs until it finds nothing to do. The write's
    /// segments must survive that. Then the write finishes (it commits and
    /// reads back), is abandoned (its segments are reclaimed at once), or the
    /// power fails (the key keeps its old value).
    async fn op_slow_write(&mut self) {
        let Some(bucket_id) = self.live_bucket() else {
            return;
        };
        let key = self.key();
        let len = self
            .rng
            .gen_range(CHUNK_PAYLOAD_BYTES_MAX + 1..=OBJECT_BYTES_MAX);
        let data = self.data(len);
        let chunks = data.len().div_ceil(CHUNK_PAYLOAD_BYTES_MAX);
        let first = self.rng.gen_range(1..chunks);
        let stamp = self.next_stamp();
        let object_id = u128::from(stamp) << 64 | 0x5107;
        let head = append_chunks(self.store(), &self.tally, &data, object_id, first)
            .await
            .unwrap_or_else(|err| panic!("{}: slow write's first chunks: {err}", self.ctx()));
        self.churn_a_segment(bucket_id).await;
        self.compact_until_idle().await;
        let held: BTreeSet<u32> = head.iter().map(|extent| extent.segment).collect();
        let retired = self.index.space_report().expect("space").retired_segments;
        assert!(
            retired.iter().all(|segment| !held.contains(segment)),
            "{}: a segment holding a write in flight was retired: {held:?} {retired:?}",
            self.ctx()
        );
        match self.rng.gen_range(0..3) {
            0 => {
                self.slow_write_finish(bucket_id, &key, data, head, object_id, stamp)
                    .await
            }
            1 => {
                self.store().abandon_write(object_id);
                assert_eq!(self.store().writes_in_flight(), 0, "{}", self.ctx());
                self.compact_until_idle().await;
                let retired = self.index.space_report().expect("space").retired_segments;
                assert!(
                    held.iter().all(|segment| retired.contains(segment)),
                    "{}: abandoned write's segments {held:?} not reclaimed: {retired:?}",
                    self.ctx()
                );
                self.covered("slow write abandoned, then reclaimed");
            }
            _ => {
                self.restart(true).await;
                self.covered("crash during a slow write");
            }
        }
        self.check_object(bucket_id, &key, "after a slow write")
            .await;
    }

    async fn slow_write_finish(
        &mut self,
        bucket_id: u64,
        key: &[u8],
        data: Vec<u8>,
        mut extents: Vec<Extent>,
        object_id: u128,
        stamp: u64,
    ) {
        let first = extents.len();
        let tail = append_chunks_from(
            self.store(),
            &self.tally,
            &data,
            object_id,
            first,
            usize::MAX,
        )
        .await
        .unwrap_or_else(|err| panic!("{}: slow write's last chunks: {err}", self.ctx()));
        extents.extend(tail);
        let op = IndexOp::PutObject {
            bucket_id,
            key: key.to_vec(),
            record: record_of(&data, ObjectBody::Extents(extents), stamp),
            condition: WriteCondition::None,
            version: engine::index::VersionWrite::Unversioned,
            md5_at_commit: None,
        };
        let result = self.store().commit(op).await;
        assert!(
            result.is_ok(),
            "{}: slow write commit: {result:?}",
            self.ctx()
        );
        assert_eq!(self.store().writes_in_flight(), 0, "{}", self.ctx());
        self.model.objects.insert((bucket_id, key.to_vec()), data);
        self.covered("slow write finished across compaction");
    }

    /// Puts more than a segment of objects under keys the model never uses,
    /// then deletes them: the active segment rolls over, and what it held
    /// is dead.
    async fn churn_a_segment(&mut self, bucket_id: u64) {
        let mut written = 0;
        let mut churned = Vec::new();
        while written <= SEGMENT_BYTES as usize {
            let key = format!("churn-{}", churned.len()).into_bytes();
            let len = self
                .rng
                .gen_range(INLINE_OBJECT_BYTES_MAX + 1..=CHUNK_PAYLOAD_BYTES_MAX);
            let data = self.data(len);
            let stamp = self.next_stamp();
            put_object(self.store(), &self.tally, bucket_id, &key, &data, stamp)
                .await
                .unwrap_or_else(|err| panic!("{}: churn put: {err}", self.ctx()));
            written += record_len_bytes(len);
            churned.push(key);
        }
        for key in churned {
            let result = self
                .store()
                .commit(IndexOp::DeleteObject {
                    bucket_id,
                    key,
                    condition: WriteCondition::None,
                })
                .await;
            assert!(result.is_ok(), "{}: churn delete: {result:?}", self.ctx());
        }
    }

    /// Compaction passes that take any sealed segment (emptiest first),
    /// until none is left or 64 passes ran (moved records fill new segments
    /// that qualify again, so it may never run dry).
    async fn compact_until_idle(&mut self) {
        let config = CompactionConfig {
            live_ratio_max: 1.0,
            rate_bytes_per_s: 0,
            idle_interval: std::time::Duration::ZERO,
            seal_idle_after: std::time::Duration::ZERO,
        };
        for _ in 0..64 {
            let outcome = self
                .store()
                .compact_pass(&config, &self.pins)
                .await
                .unwrap_or_else(|err| panic!("{}: compaction: {err}", self.ctx()));
            if outcome.segment.is_none() {
                return;
            }
        }
    }

    /// A few compaction passes (sometimes while a reader is pinned, which
    /// must keep every retired file in place until it unpins), then every
    /// object reads back and the accounting is exact. Retired segments'
    /// files are gone once nothing is pinned.
    async fn op_compact(&mut self) {
        let live_ratio_max = [0.3, 0.6, 1.0][self.rng.gen_range(0..3)];
        let config = CompactionConfig {
            live_ratio_max,
            rate_bytes_per_s: 0,
            idle_interval: std::time::Duration::ZERO,
            seal_idle_after: std::time::Duration::ZERO,
        };
        let reader_pinned = self.rng.gen_bool(0.3);
        let pin = reader_pinned.then(|| self.reader.pin());
        let before = self.index.space_report().expect("space report");
        let mut compacted = 0;
        for _ in 0..3 {
            let outcome = self
                .store()
                .compact_pass(&config, &self.pins)
                .await
                .unwrap_or_else(|err| panic!("{}: compaction: {err}", self.ctx()));
            compacted += usize::from(outcome.segment.is_some());
        }
        let after = self.index.space_report().expect("space report");
        assert_eq!(
            before.live_bytes(),
            after.live_bytes(),
            "{}: compaction changed the live bytes",
            self.ctx()
        );
        if reader_pinned && compacted > 0 {
            assert!(
                retired_files(&self.disk, self.dir.path(), &after.retired_segments) > 0,
                "{}: a retired file was removed under a pinned reader",
                self.ctx()
            );
            self.covered("compaction waits for a pinned reader");
        }
        self.verify_all("after compaction").await;
        drop(pin);
        self.store()
            .compact_pass(&config, &self.pins)
            .await
            .unwrap_or_else(|err| panic!("{}: compaction: {err}", self.ctx()));
        let retired = self
            .index
            .space_report()
            .expect("space report")
            .retired_segments;
        assert_eq!(
            retired_files(&self.disk, self.dir.path(), &retired),
            0,
            "{}: retired files outlived every pin",
            self.ctx()
        );
        if compacted > 0 {
            self.covered("compaction");
        }
    }

    async fn run(mut self) -> Coverage {
        self.op_create_bucket().await;
        for step in 1..=STEPS_PER_SEED {
            self.step = step;
            match self.rng.gen_range(0..100) {
                0..=4 => self.op_create_bucket().await,
                5..=29 => self.op_put().await,
                30..=37 => self.op_concurrent().await,
                38..=45 => self.op_delete().await,
                46..=52 => self.op_get().await,
                53..=62 => self.op_list(),
                63..=66 => self.op_drop_bucket().await,
                67..=71 => self.op_restart().await,
                72..=76 => self.op_crash_mid_put().await,
                77..=80 => self.op_write_eio().await,
                81..=84 => self.op_sync_eio().await,
                85..=88 => self.op_enospc().await,
                89..=93 => self.op_corrupt().await,
                94..=96 => self.op_compact().await,
                97 | 98 => self.op_slow_write().await,
                _ => self.verify_all("periodic check").await,
            }
        }
        self.step = STEPS_PER_SEED + 1;
        self.restart(true).await;
        stop(self.store.take().expect("store open")).await;
        self.coverage
    }
}

fn seeds() -> Vec<u64> {
    if let Ok(seed) = std::env::var("SIM_SEED") {
        return vec![seed.parse().expect("SIM_SEED is a number")];
    }
    let count = std::env::var("SIM_SEEDS").map_or(SEEDS_DEFAULT, |n| n.parse().expect("SIM_SEEDS"));
    (0..count).collect()
}

#[test]
fn engine_matches_model_across_crashes_and_faults() {
    let mut coverage = Coverage::new();
    for seed in seeds() {
        let run = std::panic::catch_unwind(|| {
            runtime().block_on(async move { Sim::new(seed).run().await })
        });
        match run {
            Ok(seed_coverage) => {
                for (what, count) in seed_coverage {
                    *coverage.entry(what).or_default() += count;
                }
            }
            Err(panic) => {
                eprintln!("simulation failed at seed {seed}; replay with SIM_SEED={seed}");
                std::panic::resume_unwind(panic);
            }
        }
    }
    eprintln!("coverage: {coverage:?}");
    if std::env::var("SIM_SEED").is_ok() {
        return;
    }
    for what in [
        "create bucket",
        "put",
        "put into missing bucket",
        "overwrite",
        "new object",
        "concurrent group",
        "delete",
        "delete missing key",
        "get",
        "list",
        "drop bucket",
        "drop non-empty bucket",
        "drop missing bucket",
        "clean restart",
        "crash when idle",
        "crash before sync",
        "crash after sync, before commit",
        "write EIO",
        "fdatasync EIO",
        "ENOSPC",
        "corrupt byte",
        "compaction",
        "compaction waits for a pinned reader",
        "slow write finished across compaction",
        "slow write abandoned, then reclaimed",
        "crash during a slow write",
        "verify all",
    ] {
        assert!(
            coverage.get(what).copied().unwrap_or(0) > 0,
            "never exercised: {what}"
        );
    }
}

/// A `SimDisk` that counts fdatasyncs, to observe the group commit.
#[derive(Clone)]
struct CountingDisk {
    inner: SimDisk,
    syncs: Rc<Cell<usize>>,
}

struct CountingFile {
    inner: SimFile,
    syncs: Rc<Cell<usize>>,
}

impl Disk for CountingDisk {
    type File = CountingFile;

    fn create_segment(&self, path: &Path, len_bytes: u64) -> io::Result<CountingFile> {
        let inner = self.inner.create_segment(path, len_bytes)?;
        Ok(CountingFile {
            inner,
            syncs: self.syncs.clone(),
        })
    }

    fn open_segment(&self, path: &Path, writable: bool) -> io::Result<CountingFile> {
        let inner = self.inner.open_segment(path, writable)?;
        Ok(CountingFile {
            inner,
            syncs: self.syncs.clone(),
        })
    }

    fn remove_segment(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_segment(path)
    }

    fn list_files(&self, dir: &Path) -> io::Result<Vec<std::path::PathBuf>> {
        self.inner.list_files(dir)
    }

    fn free_bytes(&self, dir: &Path) -> io::Result<u64> {
        self.inner.free_bytes(dir)
    }
}

impl DiskFile for CountingFile {
    async fn write_at(&self, buf: AlignedBuf, offset_bytes: u64) -> (io::Result<()>, AlignedBuf) {
        self.inner.write_at(buf, offset_bytes).await
    }

    async fn read_at(
        &self,
        buf: AlignedBuf,
        offset_bytes: u64,
        len_bytes: usize,
    ) -> (io::Result<()>, AlignedBuf) {
        self.inner.read_at(buf, offset_bytes, len_bytes).await
    }

    async fn sync_data(&self) -> io::Result<()> {
        self.syncs.set(self.syncs.get() + 1);
        self.inner.sync_data().await
    }
}

/// Concurrent chunked puts share one fdatasync. (How many ops one LMDB
/// transaction held is not observable through the engine's API, so this
/// checks the durable half of the group commit only.)
#[test]
fn concurrent_puts_share_one_fdatasync() {
    runtime().block_on(async {
        let dir = temp_dir();
        let syncs = Rc::new(Cell::new(0));
        let disk = CountingDisk {
            inner: SimDisk::new(1),
            syncs: syncs.clone(),
        };
        let index = Index::open(&dir.path().join("index")).expect("index");
        let config = StoreConfig {
            data_dir: dir.path().to_path_buf(),
            shard: SHARD,
            segment_bytes: SEGMENT_BYTES,
            reserve_bytes: 0,
        };
        let store = ShardStore::open(config, disk.clone(), index.clone()).expect("open");
        store.start();
        let create = IndexOp::CreateBucket {
            bucket_id: 1,
            name: "b".into(),
        };
        store.commit(create).await.expect("create");
        let tally = Rc::new(Tally::default());
        let tasks: Vec<_> = (0..8u8)
            .map(|i| {
                let (store, tally) = (store.clone(), tally.clone());
                monoio::spawn(async move {
                    let data = vec![i; 8192 + usize::from(i)];
                    put_object(
                        &store,
                        &tally,
                        1,
                        &[b'k', b'a' + i],
                        &data,
                        u64::from(i) + 1,
                    )
                    .await
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("concurrent put");
        }
        assert_eq!(
            syncs.get(),
            1,
            "8 concurrent puts into one segment took {} syncs",
            syncs.get()
        );
        let reader = ObjectReader::new(
            disk,
            dir.path().to_path_buf(),
            vec![index],
            engine::pins::ReadPins::new(),
        );
        for i in 0..8u8 {
            let data = read_object(&reader, 1, &[b'k', b'a' + i])
                .await
                .expect("read")
                .expect("present");
            assert!(data == vec![i; 8192 + usize::from(i)], "object {i}");
        }
        stop(store).await;
    });
}

/// Shutdown commits what is already queued, then refuses new commits.
#[test]
fn shutdown_drains_queued_commits_then_refuses() {
    runtime().block_on(async {
        let dir = temp_dir();
        let disk = SimDisk::new(2);
        let index = Index::open(&dir.path().join("index")).expect("index");
        let config = StoreConfig {
            data_dir: dir.path().to_path_buf(),
            shard: SHARD,
            segment_bytes: SEGMENT_BYTES,
            reserve_bytes: 0,
        };
        let store = ShardStore::open(config, disk, index.clone()).expect("open");
        store.start();
        let create = IndexOp::CreateBucket {
            bucket_id: 1,
            name: "b".into(),
        };
        store.commit(create).await.expect("create");
        let tasks: Vec<_> = (0..3u8)
            .map(|i| {
                let store = store.clone();
                monoio::spawn(async move {
                    let record = record_of(&[i], ObjectBody::Inline(vec![i]), 1);
                    store
                        .commit(IndexOp::PutObject {
                            bucket_id: 1,
                            key: vec![b'q', b'a' + i],
                            record,
                            condition: WriteCondition::None,
                            version: engine::index::VersionWrite::Unversioned,
                            md5_at_commit: None,
                        })
                        .await
                })
            })
            .collect();
        // Spawned after the three puts, so it runs once they have queued
        // their commits and before the commit loop has taken any of them.
        let closer = store.clone();
        monoio::spawn(async move { closer.shutdown() }).await;
        for task in tasks {
            task.await
                .expect("a commit queued before shutdown completes");
        }
        let late = store
            .commit(IndexOp::DeleteObject {
                bucket_id: 1,
                key: b"q".to_vec(),
                condition: WriteCondition::None,
            })
            .await;
        assert!(matches!(late, Err(EngineError::ShuttingDown)), "{late:?}");
        for i in 0..3u8 {
            let record = index
                .get_object(1, &[b'q', b'a' + i])
                .expect("index")
                .expect("committed");
            assert_eq!(record.body, ObjectBody::Inline(vec![i]));
        }
        stop(store).await;
    });
}

/// A segment filled to its last byte: the reopened store must not append to
/// it (its referenced end equals its size) and starts the next segment.
#[test]
fn exactly_full_segment_rolls_over_after_reopen() {
    runtime().block_on(async {
        let dir = temp_dir();
        let disk = SimDisk::new(3);
        let index = Index::open(&dir.path().join("index")).expect("index");
        let config = StoreConfig {
            data_dir: dir.path().to_path_buf(),
            shard: SHARD,
            segment_bytes: SEGMENT_BYTES,
            reserve_bytes: 0,
        };
        let reader = ObjectReader::new(
            disk.clone(),
            dir.path().to_path_buf(),
            vec![index.clone()],
            engine::pins::ReadPins::new(),
        );
        let tally = Tally::default();
        let store = ShardStore::open(config.clone(), disk.clone(), index.clone()).expect("open");
        store.start();
        let create = IndexOp::CreateBucket {
            bucket_id: 1,
            name: "b".into(),
        };
        store.commit(create).await.expect("create");
        // Four chunks of the largest payload are four 1 MiB records: 4 MiB.
        let full: Vec<u8> = (0..4 * CHUNK_PAYLOAD_BYTES_MAX)
            .map(|i| (i % 251) as u8)
            .collect();
        let extents = put_object(&store, &tally, 1, b"full", &full, 1)
            .await
            .expect("put");
        assert_eq!(extents.last().expect("chunks").end_bytes(), SEGMENT_BYTES);
        assert!(extents.iter().all(|extent| extent.segment == 0));
        stop(store).await;
        disk.crash();
        let store = ShardStore::open(config, disk.clone(), index.clone()).expect("reopen");
        store.start();
        let next = vec![7u8; 10_000];
        let extents = put_object(&store, &tally, 1, b"next", &next, 2)
            .await
            .expect("put");
        assert_eq!((extents[0].segment, extents[0].offset_bytes), (1, 0));
        let read = read_object(&reader, 1, b"full")
            .await
            .expect("read")
            .expect("present");
        assert!(read == full, "the full segment's object changed");
        let read = read_object(&reader, 1, b"next")
            .await
            .expect("read")
            .expect("present");
        assert!(read == next);
        stop(store).await;
    });
}
