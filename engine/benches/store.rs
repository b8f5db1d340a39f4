//! Segment append through `ShardStore::append_chunk` on a monoio runtime,
//! without a real disk, to see what the engine itself costs per chunk.
//!
//! - `append_chunk/sim_disk/*`: on `SimDisk`, the in-memory simulated disk the
//!   deterministic tests use. Its write copies the record twice (the volatile
//!   image and the unsynced log) into memory touched for the first time, so
//!   this is mostly memory bandwidth and page faults, not engine logic.
//! - `append_chunk/null_disk/*`: on a disk defined here whose writes complete
//!   at once without touching the bytes. What remains is the engine's own
//!   work per append: reserving space, the write future, the unsynced-segment
//!   bookkeeping and building the `Extent`.
//!
//! Records are 1 MiB (a full chunk) and 4 KiB (the smallest record). Each
//! store appends into one segment only and is then replaced outside the timed
//! region, so simulated memory stays bounded and neither segment rollover nor
//! growing bookkeeping skews later samples.

use std::io;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Bencher, Criterion, Throughput};
use engine::format::{record_len_bytes, seal_chunk, RecordHeader, RECORD_HEADER_BYTES};
use engine::index::Index;
use engine::io::sim::SimDisk;
use engine::io::{AlignedBuf, Disk, DiskFile};
use engine::limits::CHUNK_PAYLOAD_BYTES_MAX;
use engine::store::{ShardStore, StoreConfig};

/// Segment size on `SimDisk`, which keeps about three copies of it in memory.
const SIM_SEGMENT_BYTES: u64 = 64 << 20;
/// Appends per store on `NullDisk`: many, since opening a store spawns its
/// committer thread, which lengthens the (untimed) run.
const NULL_APPENDS_PER_STORE: u64 = 4096;
const OBJECT_ID: u128 = 0x5eed;

/// A disk whose files accept every write and read instantly and keep nothing.
#[derive(Clone)]
struct NullDisk;

struct NullFile;

impl Disk for NullDisk {
    type File = NullFile;

    fn create_segment(&self, _path: &Path, _len_bytes: u64) -> io::Result<NullFile> {
        Ok(NullFile)
    }

    fn open_segment(&self, _path: &Path, _writable: bool) -> io::Result<NullFile> {
        Ok(NullFile)
    }

    fn remove_segment(&self, _path: &Path) -> io::Result<()> {
        Ok(())
    }

    fn list_files(&self, _dir: &Path) -> io::Result<Vec<std::path::PathBuf>> {
        Ok(Vec::new())
    }

    fn free_bytes(&self, _dir: &Path) -> io::Result<u64> {
        Ok(u64::MAX)
    }
}

impl DiskFile for NullFile {
    async fn write_at(&self, buf: AlignedBuf, _offset_bytes: u64) -> (io::Result<()>, AlignedBuf) {
        (Ok(()), buf)
    }

    async fn read_at(
        &self,
        buf: AlignedBuf,
        _offset_bytes: u64,
        _len_bytes: usize,
    ) -> (io::Result<()>, AlignedBuf) {
        (Ok(()), buf)
    }

    async fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }
}

/// What every store in the run shares: runtime, data directory and index.
struct Bench {
    runtime: monoio::Runtime<monoio::LegacyDriver>,
    dir: tempfile::TempDir,
    index: Index,
}

impl Bench {
    fn new() -> Self {
        let runtime = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .expect("monoio runtime");
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
        let index = Index::open(&dir.path().join("index")).expect("index opens");
        Bench {
            runtime,
            dir,
            index,
        }
    }

    /// Times `iters` appends of the sealed record `buf`, on fresh stores
    /// taking `appends_per_store` each.
    fn appends<D: Disk>(
        &mut self,
        new_disk: impl Fn() -> D,
        appends_per_store: u64,
        mut buf: AlignedBuf,
        iters: u64,
    ) -> (Duration, AlignedBuf) {
        let payload_len_bytes = payload_len_of(&buf);
        let config = StoreConfig {
            data_dir: self.dir.path().to_path_buf(),
            shard: 0,
            segment_bytes: appends_per_store * buf.len() as u64,
            reserve_bytes: 0,
        };
        let mut elapsed = Duration::ZERO;
        let mut remaining = iters;
        while remaining > 0 {
            let count = remaining.min(appends_per_store);
            remaining -= count;
            let store = ShardStore::open(config.clone(), new_disk(), self.index.clone())
                .expect("store opens");
            let started = Instant::now();
            buf = self
                .runtime
                .block_on(append_n(&store, buf, payload_len_bytes, count));
            elapsed += started.elapsed();
        }
        (elapsed, buf)
    }
}

async fn append_n<D: Disk>(
    store: &Rc<ShardStore<D>>,
    mut buf: AlignedBuf,
    payload_len_bytes: u32,
    count: u64,
) -> AlignedBuf {
    for chunk_index in 0..count as u32 {
        let (extent, returned) = store
            .append_chunk(buf, OBJECT_ID, chunk_index, payload_len_bytes)
            .await;
        extent.expect("append succeeds");
        buf = returned;
    }
    buf
}

/// The payload length a sealed record's header declares.
fn payload_len_of(record: &AlignedBuf) -> u32 {
    RecordHeader::decode(record.as_slice())
        .expect("sealed record")
        .payload_len_bytes
}

/// A sealed record with `payload_len_bytes` of payload.
fn sealed(payload_len_bytes: usize) -> AlignedBuf {
    let mut buf = AlignedBuf::new(record_len_bytes(payload_len_bytes));
    buf.as_full_mut()[RECORD_HEADER_BYTES..][..payload_len_bytes].fill(0xa5);
    seal_chunk(&mut buf, OBJECT_ID, 0, payload_len_bytes);
    buf
}

fn bench_append(c: &mut Criterion) {
    let mut bench = Bench::new();
    let sizes = [
        ("1MiB", CHUNK_PAYLOAD_BYTES_MAX),
        ("4KiB", 4096 - RECORD_HEADER_BYTES),
    ];
    let mut group = c.benchmark_group("append_chunk");
    for (size_name, payload_len) in sizes {
        let record_len = record_len_bytes(payload_len) as u64;
        let mut buf = Some(sealed(payload_len));
        let mut run = |b: &mut Bencher<'_>, disk_is_sim: bool| {
            b.iter_custom(|iters| {
                let taken = buf.take().expect("buffer returned");
                let (elapsed, returned) = if disk_is_sim {
                    let per_store = SIM_SEGMENT_BYTES / record_len;
                    bench.appends(|| SimDisk::new(1), per_store, taken, iters)
                } else {
                    bench.appends(|| NullDisk, NULL_APPENDS_PER_STORE, taken, iters)
                };
                buf = Some(returned);
                elapsed
            });
        };
        // Bytes per second for the simulated copy; appends per second where
        // no byte is touched.
        group.throughput(Throughput::Bytes(record_len));
        group.bench_function(format!("sim_disk/{size_name}"), |b| run(b, true));
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("null_disk/{size_name}"), |b| run(b, false));
    }
    group.finish();
}

criterion_group!(benches, bench_append);
criterion_main!(benches);
