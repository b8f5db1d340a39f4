//! The shard index (LMDB) on the request path.
//!
//! - `index_commit/<n>_puts`: `Index::apply_batch` with 1, 16 and 256
//!   PutObject ops in one transaction, as the group committer issues them.
//!   Every commit fsyncs, so this is the real durability cost of a batch on
//!   this machine's disk, and the per-op cost shows what group commit buys.
//!   The index lives under Cargo's target directory (not `/tmp`, which may be
//!   tmpfs, where an fsync costs nothing).
//! - `index_list/*`: `Index::list` of one 1000-key page (S3's max-keys) from
//!   a 10 000-key bucket, from the start and continuing after a key.
//!
//! Records look like a 1 MiB object's: one extent, an ETag and three
//! metadata fields. Keys only grow, so commits append to the B-tree's right
//! edge; random keys would touch more pages per batch.

use std::cell::Cell;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use engine::index::{Extent, Index, IndexOp, ObjectBody, ObjectRecord, WriteCondition};
use engine::list::ListQuery;

const BUCKET_ID: u64 = 1;
const OBJECT_BYTES: u64 = 1 << 20;
const LIST_BUCKET_KEYS_COUNT: usize = 10_000;
const LIST_PAGE_KEYS_COUNT: usize = 1000;

/// A fresh index in a temporary directory on the target disk.
fn index_in_target_dir() -> (tempfile::TempDir, Index) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let index = Index::open(&dir.path().join("index")).expect("index opens");
    let create = IndexOp::CreateBucket {
        bucket_id: BUCKET_ID,
        name: "bench-bucket".to_owned(),
    };
    commit(&index, &[create]);
    (dir, index)
}

fn commit(index: &Index, ops: &[IndexOp]) {
    let outcomes = index.apply_batch(ops, &[(0, 1 << 30)]).expect("commit");
    assert!(outcomes.iter().all(Result::is_ok), "every op applies");
}

fn put_op(sequence: u64) -> IndexOp {
    let extent = Extent {
        shard: 0,
        segment: 0,
        offset_bytes: sequence * OBJECT_BYTES,
        payload_len_bytes: OBJECT_BYTES as u32 - 64,
        object_id: (u128::from(sequence) << 64) | 0x5eed,
        chunk_index: 0,
    };
    let record = ObjectRecord {
        size_bytes: OBJECT_BYTES,
        etag: format!(
            "{:032x}",
            u128::from(sequence).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ),
        last_modified_ms: 1_736_935_800_000 + sequence,
        meta: vec![
            ("content-type".to_owned(), "image/jpeg".to_owned()),
            ("x-amz-meta-camera".to_owned(), "camera-7".to_owned()),
            ("x-amz-checksum-crc32".to_owned(), "AAAAAA==".to_owned()),
        ],
        body: ObjectBody::Extents(vec![extent]),
    };
    IndexOp::PutObject {
        bucket_id: BUCKET_ID,
        key: format!("photos/2025/01/img_{sequence:010}.jpg").into_bytes(),
        record,
        condition: WriteCondition::None,
        version: engine::index::VersionWrite::Unversioned,
        md5_at_commit: None,
    }
}

fn bench_commit(c: &mut Criterion) {
    let (_dir, index) = index_in_target_dir();
    let sequence = Cell::new(0u64);
    let next_ops = |count: u64| -> Vec<IndexOp> {
        let first = sequence.get();
        sequence.set(first + count);
        (first..first + count).map(put_op).collect()
    };
    let mut group = c.benchmark_group("index_commit");
    // A commit is an fsync (milliseconds on some disks): fewer samples keep
    // a brief run brief.
    group.sample_size(20);
    for ops_count in [1u64, 16, 256] {
        group.throughput(Throughput::Elements(ops_count));
        group.bench_function(format!("{ops_count}_puts"), |b| {
            b.iter_batched(
                || next_ops(ops_count),
                |ops| commit(&index, &ops),
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

fn fill_for_listing(index: &Index) {
    let ops: Vec<IndexOp> = (0..LIST_BUCKET_KEYS_COUNT as u64).map(put_op).collect();
    for batch in ops.chunks(1000) {
        commit(index, batch);
    }
}

fn list_page(index: &Index, after: Option<&[u8]>) -> usize {
    let query = ListQuery {
        bucket_id: BUCKET_ID,
        prefix: b"photos/",
        after,
        delimiter: None,
        entries_max: LIST_PAGE_KEYS_COUNT,
    };
    let page = index.list(black_box(&query)).expect("list");
    assert_eq!(page.items.len(), LIST_PAGE_KEYS_COUNT);
    page.items.len()
}

fn bench_list(c: &mut Criterion) {
    let (_dir, index) = index_in_target_dir();
    fill_for_listing(&index);
    let middle_key = format!("photos/2025/01/img_{:010}.jpg", LIST_BUCKET_KEYS_COUNT / 2);
    let mut group = c.benchmark_group("index_list");
    group.throughput(Throughput::Elements(LIST_PAGE_KEYS_COUNT as u64));
    group.bench_function("1000_keys/first_page", |b| {
        b.iter(|| list_page(&index, None));
    });
    group.bench_function("1000_keys/after_key", |b| {
        b.iter(|| list_page(&index, Some(middle_key.as_bytes())));
    });
    group.finish();
}

criterion_group!(benches, bench_commit, bench_list);
criterion_main!(benches);
