//! The production disk, [`engine::io::uring::UringDisk`], on real files.
//!
//! Files live under Cargo's per-target temporary directory (on the build
//! disk, which accepts O_DIRECT), and where a tmpfs is mounted at /dev/shm the
//! same checks run there too (older kernels refuse O_DIRECT on tmpfs and the
//! engine falls back to buffered I/O; newer ones accept it, and each run prints
//! which mode it exercised). Everything runs on monoio's io_uring driver; where
//! io_uring is unavailable (seccomp, old kernel) the tests print a note and
//! pass without checking anything.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use engine::format::{seal_chunk, RECORD_HEADER_BYTES, RECORD_MAGIC};
use engine::index::{Index, IndexOp, ObjectBody, ObjectRecord, WriteCondition};
use engine::io::uring::{UringDisk, UringFile};
use engine::io::{AlignedBuf, Disk, DiskFile};
use engine::limits::{CHUNK_PAYLOAD_BYTES_MAX, DISK_BLOCK_BYTES, INLINE_OBJECT_BYTES_MAX};
use engine::reader::ObjectReader;
use engine::store::{index_dir, segment_path, ShardStore, StoreConfig};
use engine::EngineError;

const SEGMENT_BYTES: u64 = 4 << 20;
const BUCKET: u64 = 1;

type UringRuntime = monoio::Runtime<monoio::IoUringDriver>;

fn uring_runtime() -> Option<UringRuntime> {
    match monoio::RuntimeBuilder::<monoio::IoUringDriver>::new().build() {
        Ok(runtime) => Some(runtime),
        Err(err) => {
            eprintln!("note: io_uring unavailable ({err}); UringDisk test skipped");
            None
        }
    }
}

/// The directories to run in: the build disk always, tmpfs when present.
fn test_dirs(name: &str) -> Vec<tempfile::TempDir> {
    let mut roots = vec![PathBuf::from(env!("CARGO_TARGET_TMPDIR"))];
    if Path::new("/dev/shm").is_dir() {
        roots.push(PathBuf::from("/dev/shm"));
    }
    roots
        .into_iter()
        .map(|root| {
            std::fs::create_dir_all(&root).expect("temp root");
            tempfile::Builder::new()
                .prefix(name)
                .tempdir_in(&root)
                .expect("tempdir")
        })
        .collect()
}

/// Says whether files in `dir` get O_DIRECT or the buffered fallback.
fn report_mode(dir: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let probe = dir.join("o_direct_probe");
    let direct = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(&probe);
    let mode = match direct {
        Ok(_) => "O_DIRECT".to_string(),
        Err(err) => format!("buffered fallback ({err})"),
    };
    let _ = std::fs::remove_file(&probe);
    eprintln!("{}: {mode}", dir.display());
}

/// Deterministic bytes for record `index`, different in every block.
fn pattern(index: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i / 7) as u8) ^ ((index as u8).wrapping_mul(31)) ^ (i as u8))
        .collect()
}

fn filled(bytes: &[u8], capacity: usize) -> AlignedBuf {
    let mut buf = AlignedBuf::new(capacity);
    buf.as_full_mut()[..bytes.len()].copy_from_slice(bytes);
    buf.set_len(bytes.len());
    buf
}

async fn read_back(file: &UringFile, offset_bytes: u64, len_bytes: usize) -> Vec<u8> {
    let (result, buf) = file
        .read_at(AlignedBuf::new(len_bytes), offset_bytes, len_bytes)
        .await;
    result.unwrap_or_else(|err| panic!("read {len_bytes} at {offset_bytes}: {err}"));
    assert_eq!(buf.len(), len_bytes);
    buf.as_slice().to_vec()
}

/// Records of 1..=4 blocks, written by concurrent tasks (all in flight at
/// once), synced, then read back through the same and a fresh handle.
async fn segment_writes_in_flight(dir: &Path) {
    let path = dir.join("seg-00000000");
    let file = Rc::new(
        UringDisk
            .create_segment(&path, SEGMENT_BYTES)
            .expect("create"),
    );
    assert_eq!(
        std::fs::metadata(&path).expect("metadata").len(),
        SEGMENT_BYTES,
        "preallocated"
    );
    let mut layout = Vec::new();
    let mut offset_bytes = 0u64;
    for index in 0..12usize {
        let len = DISK_BLOCK_BYTES * (1 + index % 4);
        layout.push((index, offset_bytes, len));
        // Leave a one-block hole every third record: holes read back as zero.
        offset_bytes += (len + if index % 3 == 2 { DISK_BLOCK_BYTES } else { 0 }) as u64;
    }
    let tasks: Vec<_> = layout
        .iter()
        .map(|&(index, offset_bytes, len)| {
            let file = file.clone();
            monoio::spawn(async move {
                let (result, buf) = file
                    .write_at(filled(&pattern(index, len), len), offset_bytes)
                    .await;
                result.map(|()| buf.len())
            })
        })
        .collect();
    for (task, &(index, _, len)) in tasks.into_iter().zip(&layout) {
        assert_eq!(
            task.await
                .unwrap_or_else(|err| panic!("write {index}: {err}")),
            len
        );
    }
    file.sync_data().await.expect("fdatasync");
    for &(index, offset_bytes, len) in &layout {
        assert!(
            read_back(&file, offset_bytes, len).await == pattern(index, len),
            "record {index}"
        );
    }
    let reopened = UringDisk
        .open_segment(&path, false)
        .expect("open read-only");
    let everything = read_back(&reopened, 0, offset_bytes as usize).await;
    let mut expected = vec![0u8; offset_bytes as usize];
    for &(index, at, len) in &layout {
        expected[at as usize..at as usize + len].copy_from_slice(&pattern(index, len));
    }
    assert!(everything == expected, "whole-file image differs");
    // Through the kernel's own view of the file, bypassing io_uring.
    let on_disk = std::fs::read(&path).expect("std read");
    assert!(
        on_disk[..expected.len()] == expected[..],
        "std::fs image differs"
    );
    // A read past the end of the file fails and hands the buffer back empty.
    let (result, buf) = reopened
        .read_at(AlignedBuf::new(8192), SEGMENT_BYTES - 4096, 8192)
        .await;
    assert!(result.is_err(), "read past end succeeded");
    assert_eq!(buf.len(), 0);
    assert!(UringDisk.open_segment(&dir.join("missing"), false).is_err());
}

#[test]
fn uring_segment_writes_in_flight_read_back() {
    for dir in test_dirs("uring-segment") {
        report_mode(dir.path());
        let Some(mut runtime) = uring_runtime() else {
            return;
        };
        runtime.block_on(segment_writes_in_flight(dir.path()));
    }
}

fn object_bytes(seed: usize, len: usize) -> Vec<u8> {
    pattern(seed, len)
}

/// Where one record sits: segment, start and end offsets.
type Placement = (u32, u64, u64);

fn overlaps(a: &Placement, b: &Placement) -> bool {
    a.0 == b.0 && a.1 < b.2 && b.1 < a.2
}

async fn put<D: Disk>(
    store: &ShardStore<D>,
    key: &str,
    data: &[u8],
    object_id: u128,
) -> Vec<Placement> {
    let mut extents = Vec::new();
    let body = if data.len() <= INLINE_OBJECT_BYTES_MAX {
        ObjectBody::Inline(data.to_vec())
    } else {
        for (chunk_index, payload) in data.chunks(CHUNK_PAYLOAD_BYTES_MAX).enumerate() {
            let mut buf = AlignedBuf::new(1 << 20);
            let end = RECORD_HEADER_BYTES + payload.len();
            buf.as_full_mut()[RECORD_HEADER_BYTES..end].copy_from_slice(payload);
            seal_chunk(&mut buf, object_id, chunk_index as u32, payload.len());
            let (result, _buf) = store
                .append_chunk(buf, object_id, chunk_index as u32, payload.len() as u32)
                .await;
            extents.push(result.unwrap_or_else(|err| panic!("append {key}: {err}")));
        }
        ObjectBody::Extents(extents.clone())
    };
    let record = ObjectRecord {
        size_bytes: data.len() as u64,
        etag: format!("{:08x}", crc32c::crc32c(data)),
        last_modified_ms: 0,
        meta: vec![("content-type".into(), "application/octet-stream".into())],
        body,
    };
    let op = IndexOp::PutObject {
        bucket_id: BUCKET,
        key: key.as_bytes().to_vec(),
        record,
        condition: WriteCondition::None,
        version: engine::index::VersionWrite::Unversioned,
        md5_at_commit: None,
    };
    store
        .commit(op)
        .await
        .unwrap_or_else(|err| panic!("commit {key}: {err}"));
    extents
        .iter()
        .map(|extent| (extent.segment, extent.offset_bytes, extent.end_bytes()))
        .collect()
}

async fn get(reader: &ObjectReader<UringDisk>, key: &str) -> Option<Vec<u8>> {
    let record = reader
        .shard_index(0)
        .get_object(BUCKET, key.as_bytes())
        .expect("index read")?;
    let data = match &record.body {
        ObjectBody::Inline(bytes) => bytes.clone(),
        ObjectBody::Extents(extents) => {
            let mut out = Vec::new();
            let mut buf = AlignedBuf::new(1 << 20);
            for extent in extents {
                let (result, back) = reader.read_chunk(extent, buf).await;
                buf = back;
                result.unwrap_or_else(|err| panic!("read {key}: {err}"));
                let end = RECORD_HEADER_BYTES + extent.payload_len_bytes as usize;
                out.extend_from_slice(&buf.as_slice()[RECORD_HEADER_BYTES..end]);
            }
            out
        }
    };
    assert_eq!(record.size_bytes, data.len() as u64, "{key}: size");
    assert_eq!(
        record.etag,
        format!("{:08x}", crc32c::crc32c(&data)),
        "{key}: etag"
    );
    Some(data)
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

/// Objects of every shape through a store on UringDisk: inline, one chunk,
/// several chunks across a segment rollover; read back, restart, read back,
/// write more after the restart, and check the bytes on disk are framed.
async fn store_round_trip(data_dir: &Path) {
    let index = Index::open(&index_dir(data_dir, 0)).expect("index");
    let config = StoreConfig {
        data_dir: data_dir.to_path_buf(),
        shard: 0,
        segment_bytes: SEGMENT_BYTES,
        reserve_bytes: 0,
    };
    let store = ShardStore::open(config.clone(), UringDisk, index.clone()).expect("open");
    store.start();
    let create = IndexOp::CreateBucket {
        bucket_id: BUCKET,
        name: "uring".into(),
    };
    store.commit(create).await.expect("create bucket");
    let sizes = [
        0,
        1,
        INLINE_OBJECT_BYTES_MAX,
        INLINE_OBJECT_BYTES_MAX + 1,
        300_000,
        CHUNK_PAYLOAD_BYTES_MAX,
        CHUNK_PAYLOAD_BYTES_MAX + 1,
        3 << 20,
        2 << 20,
    ];
    let mut objects: Vec<(String, Vec<u8>)> = Vec::new();
    let mut placements = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let key = format!("obj/{i}");
        let data = object_bytes(i, *size);
        placements.extend(put(&store, &key, &data, 0xabc0 + i as u128).await);
        objects.push((key, data));
    }
    // Concurrent multi-chunk puts: their chunk writes interleave in flight.
    let tasks: Vec<_> = (0..4usize)
        .map(|i| {
            let store = store.clone();
            let key = format!("concurrent/{i}");
            let data = object_bytes(50 + i, 2 * CHUNK_PAYLOAD_BYTES_MAX + 1000 * i);
            monoio::spawn(async move {
                let placed = put(&store, &key, &data, 0xc0c0 + i as u128).await;
                (key, data, placed)
            })
        })
        .collect();
    for task in tasks {
        let (key, data, placed) = task.await;
        placements.extend(placed);
        objects.push((key, data));
    }
    for (i, a) in placements.iter().enumerate() {
        let clash = placements[i + 1..].iter().find(|b| overlaps(a, b));
        assert!(clash.is_none(), "records {a:?} and {clash:?} overlap");
    }
    let segments: std::collections::BTreeSet<u32> = placements.iter().map(|p| p.0).collect();
    assert!(segments.len() >= 2, "no segment rollover: {segments:?}");
    let reader = ObjectReader::new(
        UringDisk,
        data_dir.to_path_buf(),
        vec![index.clone()],
        engine::pins::ReadPins::new(),
    );
    for (key, data) in &objects {
        assert!(
            get(&reader, key).await.as_deref() == Some(&data[..]),
            "{key} before restart"
        );
    }
    stop(store).await;
    drop(reader);

    let store = ShardStore::open(config.clone(), UringDisk, index.clone()).expect("reopen");
    store.start();
    let reader = ObjectReader::new(
        UringDisk,
        data_dir.to_path_buf(),
        vec![index.clone()],
        engine::pins::ReadPins::new(),
    );
    for (key, data) in &objects {
        assert!(
            get(&reader, key).await.as_deref() == Some(&data[..]),
            "{key} after restart"
        );
    }
    // New writes resume after the last committed record, never over it.
    for i in 0..3 {
        let key = format!("after-restart/{i}");
        let data = object_bytes(100 + i, 700_000 + i * 4096);
        let new = put(&store, &key, &data, 0xdef0 + i as u128).await;
        let clash = new
            .iter()
            .find(|n| placements.iter().any(|old| overlaps(n, old)));
        assert!(clash.is_none(), "record placed over a live one: {clash:?}");
        placements.extend(new);
        objects.push((key, data));
    }
    let deleted = IndexOp::DeleteObject {
        bucket_id: BUCKET,
        key: b"obj/4".to_vec(),
        condition: WriteCondition::None,
    };
    store.commit(deleted).await.expect("delete");
    objects.retain(|(key, _)| key != "obj/4");
    for (key, data) in &objects {
        assert!(
            get(&reader, key).await.as_deref() == Some(&data[..]),
            "{key} after new writes"
        );
    }
    assert_eq!(get(&reader, "obj/4").await, None);
    let drop_bucket = IndexOp::DropBucket { bucket_id: BUCKET };
    assert!(matches!(
        store.commit(drop_bucket).await,
        Err(EngineError::BucketNotEmpty)
    ));
    stop(store).await;
    // The on-disk framing, read without the engine: every placement starts
    // with the record magic and format version 1.
    for placement in &placements {
        let path = segment_path(data_dir, 0, placement.0);
        let bytes = std::fs::read(&path).expect("segment file");
        let at = placement.1 as usize;
        assert_eq!(bytes[at..at + 4], RECORD_MAGIC, "{} @ {at}", path.display());
        assert_eq!(bytes[at + 4], 1);
    }
}

#[test]
fn uring_store_put_get_reopen_round_trip() {
    for dir in test_dirs("uring-store") {
        report_mode(dir.path());
        let Some(mut runtime) = uring_runtime() else {
            return;
        };
        runtime.block_on(store_round_trip(dir.path()));
    }
}

/// The same round trip on monoio's legacy (epoll) driver, which a
/// `FusionDriver` runtime falls back to where io_uring is unavailable.
#[test]
fn legacy_driver_store_round_trip() {
    for dir in test_dirs("legacy-store") {
        let mut runtime = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .expect("legacy runtime");
        runtime.block_on(store_round_trip(dir.path()));
    }
}
