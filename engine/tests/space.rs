//! Space reclamation on the simulated disk: churn (puts, overwrites,
//! deletes) followed by compaction brings the disk back to a bounded factor
//! of the live data; a full disk refuses client writes with DiskFull, keeps
//! what it stores, and takes writes again once deletes and compaction have
//! returned space.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use engine::compact::CompactionConfig;
use engine::format::{seal_chunk, RECORD_HEADER_BYTES};
use engine::index::{Extent, Index, IndexOp, ObjectBody, ObjectRecord, WriteCondition};
use engine::io::sim::SimDisk;
use engine::io::AlignedBuf;
use engine::limits::CHUNK_PAYLOAD_BYTES_MAX;
use engine::pins::ReadPins;
use engine::reader::ObjectReader;
use engine::store::{ShardStore, StoreConfig};
use engine::{EngineError, EngineResult};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

const SEGMENT_BYTES: u64 = 4 << 20;
const BUCKET: u64 = 7;

type Runtime = monoio::Runtime<monoio::LegacyDriver>;

fn runtime() -> Runtime {
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .build()
        .expect("monoio runtime")
}

fn temp_dir() -> tempfile::TempDir {
    let mut builder = tempfile::Builder::new();
    builder.prefix("maxiofs-space");
    match std::path::Path::new("/dev/shm").is_dir() {
        true => builder.tempdir_in("/dev/shm"),
        false => builder.tempdir(),
    }
    .expect("tempdir")
}

struct Rig {
    _dir: tempfile::TempDir,
    disk: SimDisk,
    index: Index,
    store: Rc<ShardStore<SimDisk>>,
    reader: ObjectReader<SimDisk>,
    pins: std::sync::Arc<ReadPins>,
    next_object_id: u128,
}

impl Rig {
    fn new(seed: u64, capacity_bytes: Option<u64>, reserve_bytes: u64) -> Rig {
        let dir = temp_dir();
        let disk = SimDisk::new(seed);
        disk.set_capacity(capacity_bytes);
        let index = Index::open(&dir.path().join("index")).expect("index");
        let config = StoreConfig {
            data_dir: dir.path().to_path_buf(),
            shard: 0,
            segment_bytes: SEGMENT_BYTES,
            reserve_bytes,
        };
        let store = ShardStore::open(config, disk.clone(), index.clone()).expect("store");
        store.start();
        let pins = ReadPins::new();
        let reader = ObjectReader::new(
            disk.clone(),
            dir.path().to_path_buf(),
            vec![index.clone()],
            pins.clone(),
        );
        Rig {
            _dir: dir,
            disk,
            index,
            store,
            reader,
            pins,
            next_object_id: 1,
        }
    }

    async fn create_bucket(&self) {
        self.store
            .commit(IndexOp::CreateBucket {
                bucket_id: BUCKET,
                name: "b".into(),
            })
            .await
            .expect("create bucket");
    }

    /// Writes `data` in chunk records and commits it under `key`.
    async fn put(&mut self, key: &[u8], data: &[u8]) -> EngineResult<()> {
        let object_id = self.next_object_id;
        self.next_object_id += 1;
        let mut extents: Vec<Extent> = Vec::new();
        for (chunk_index, payload) in data.chunks(CHUNK_PAYLOAD_BYTES_MAX).enumerate() {
            let mut buf = AlignedBuf::new(1 << 20);
            let end = RECORD_HEADER_BYTES + payload.len();
            buf.as_full_mut()[RECORD_HEADER_BYTES..end].copy_from_slice(payload);
            seal_chunk(&mut buf, object_id, chunk_index as u32, payload.len());
            let (extent, _buf) = self
                .store
                .append_chunk(buf, object_id, chunk_index as u32, payload.len() as u32)
                .await;
            extents.push(extent?);
        }
        let record = ObjectRecord {
            size_bytes: data.len() as u64,
            etag: format!("{:08x}", crc32c::crc32c(data)),
            last_modified_ms: 0,
            meta: Vec::new(),
            body: ObjectBody::Extents(extents),
        };
        self.store
            .commit(IndexOp::PutObject {
                bucket_id: BUCKET,
                key: key.to_vec(),
                record,
                condition: WriteCondition::None,
                version: engine::index::VersionWrite::Unversioned,
                md5_at_commit: None,
            })
            .await
    }

    async fn delete(&self, key: &[u8]) {
        self.store
            .commit(IndexOp::DeleteObject {
                bucket_id: BUCKET,
                key: key.to_vec(),
                condition: WriteCondition::None,
            })
            .await
            .expect("delete");
    }

    async fn read(&self, key: &[u8]) -> Option<Vec<u8>> {
        let record = self.index.get_object(BUCKET, key).expect("index")?;
        let ObjectBody::Extents(extents) = record.body else {
            panic!("test objects are never inline");
        };
        let mut out = Vec::new();
        for extent in &extents {
            let (result, buf) = self
                .reader
                .read_chunk(extent, AlignedBuf::new(1 << 20))
                .await;
            result.unwrap_or_else(|err| panic!("read {key:?} {extent:?}: {err}"));
            let start = RECORD_HEADER_BYTES;
            out.extend_from_slice(
                &buf.as_slice()[start..start + extent.payload_len_bytes as usize],
            );
        }
        Some(out)
    }

    /// Compaction passes until one finds nothing to do.
    async fn compact_fully(&self) -> usize {
        let config = CompactionConfig {
            live_ratio_max: 0.5,
            rate_bytes_per_s: 0,
            idle_interval: Duration::ZERO,
            seal_idle_after: Duration::ZERO,
        };
        for compacted in 0..10_000 {
            let outcome = self
                .store
                .compact_pass(&config, &self.pins)
                .await
                .expect("compaction pass");
            if outcome.segment.is_none() {
                return compacted;
            }
        }
        panic!("compaction never settles");
    }

    async fn verify(&self, model: &BTreeMap<Vec<u8>, Vec<u8>>, when: &str) {
        for (key, data) in model {
            let stored = self.read(key).await;
            assert!(
                stored.as_deref() == Some(data.as_slice()),
                "{when}: {key:?} reads back wrong"
            );
        }
        let accounting = self.index.space_verify().expect("accounting");
        assert!(accounting.is_empty(), "{when}: {accounting:?}");
    }

    fn live_bytes(&self) -> u64 {
        self.index.space_report().expect("report").live_bytes()
    }

    async fn stop(self) {
        self.store.shutdown();
        self.store.drained().await;
    }
}

fn random_data(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    rng.fill_bytes(&mut data);
    data
}

/// 10,000 puts, overwrites and deletes over 64 keys, compacting every 1,000
/// operations: the disk never holds more than twice the live data plus two
/// segments (the active one and the one compaction writes into), every object reads
/// back, and deleting everything returns the disk to nothing.
#[test]
fn churn_then_compaction_keeps_the_disk_near_the_live_data() {
    runtime().block_on(async {
        let mut rng = StdRng::seed_from_u64(11);
        let mut rig = Rig::new(11, None, 0);
        rig.create_bucket().await;
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut peak_allocated = 0u64;
        for cycle in 0..10_000u32 {
            let key = format!("k{:02}", rng.gen_range(0..64)).into_bytes();
            if rng.gen_bool(0.3) {
                rig.delete(&key).await;
                model.remove(&key);
            } else {
                let len = rng.gen_range(5_000..200_000);
                let data = random_data(&mut rng, len);
                rig.put(&key, &data).await.expect("put");
                model.insert(key, data);
            }
            peak_allocated = peak_allocated.max(rig.disk.allocated_bytes());
            if cycle % 1_000 == 999 {
                rig.compact_fully().await;
                let live = rig.live_bytes();
                let allocated = rig.disk.allocated_bytes();
                assert!(
                    allocated <= 2 * live + 2 * SEGMENT_BYTES,
                    "after {cycle} cycles: {allocated} bytes allocated for {live} live"
                );
                rig.verify(&model, "after compaction").await;
            }
        }
        eprintln!(
            "peak allocated {} MiB, live at end {} MiB",
            peak_allocated >> 20,
            rig.live_bytes() >> 20
        );
        for key in model.keys().cloned().collect::<Vec<_>>() {
            rig.delete(&key).await;
        }
        model.clear();
        rig.compact_fully().await;
        // The pass that seals the active segment compacts it on the next one.
        rig.compact_fully().await;
        assert_eq!(rig.live_bytes(), 0);
        assert_eq!(
            rig.disk.allocated_bytes(),
            0,
            "every segment file is removed once nothing is stored"
        );
        rig.verify(&model, "after deleting everything").await;
        rig.put(
            b"again",
            b"written after everything was reclaimed, and read back",
        )
        .await
        .expect("put after reclaiming");
        model.insert(
            b"again".to_vec(),
            b"written after everything was reclaimed, and read back".to_vec(),
        );
        rig.verify(&model, "after writing again").await;
        rig.stop().await;
    });
}

/// Fills a disk of 12 segments with a one-segment reserve: client writes
/// fail with DiskFull while compaction can still work; deletes plus
/// compaction bring the space back and writes succeed again.
#[test]
fn a_full_disk_refuses_writes_and_recovers_after_deletes() {
    runtime().block_on(async {
        let mut rng = StdRng::seed_from_u64(12);
        let capacity_bytes = 12 * SEGMENT_BYTES;
        let mut rig = Rig::new(12, Some(capacity_bytes), SEGMENT_BYTES);
        rig.create_bucket().await;
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut refused = None;
        for n in 0..1_000u32 {
            let key = format!("fill-{n:04}").into_bytes();
            let data = random_data(&mut rng, 700_000);
            match rig.put(&key, &data).await {
                Ok(()) => {
                    model.insert(key, data);
                }
                Err(err) => {
                    refused = Some(err);
                    break;
                }
            }
        }
        assert!(
            matches!(refused, Some(EngineError::DiskFull)),
            "filling the disk ends with DiskFull, got {refused:?}"
        );
        assert!(
            rig.disk.allocated_bytes() <= capacity_bytes - SEGMENT_BYTES,
            "client writes left the reserve free"
        );
        rig.verify(&model, "on a full disk").await;
        // Still full: a second write fails the same way, and harms nothing.
        let again = rig.put(b"one-more", &random_data(&mut rng, 700_000)).await;
        assert!(matches!(again, Err(EngineError::DiskFull)), "{again:?}");
        // Delete two objects in three: deletes work on a full disk.
        let keys: Vec<Vec<u8>> = model.keys().cloned().collect();
        for (at, key) in keys.iter().enumerate() {
            if at % 3 != 0 {
                rig.delete(key).await;
                model.remove(key);
            }
        }
        let compacted = rig.compact_fully().await;
        assert!(compacted > 0, "compaction ran on the full disk");
        rig.verify(&model, "after deletes and compaction").await;
        for n in 0..8u32 {
            let key = format!("after-{n}").into_bytes();
            let data = random_data(&mut rng, 700_000);
            rig.put(&key, &data)
                .await
                .expect("writes succeed once space is back");
            model.insert(key, data);
        }
        rig.verify(&model, "after writing again").await;
        rig.stop().await;
    });
}
