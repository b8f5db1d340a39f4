//! `Index::check` (and so the scrubber, which shares its verification) checks
//! the HMAC tag of SSE-S3 encrypted chunks when it has the master key: a
//! chunk whose bytes were rewritten with a valid crc32c but without the data
//! key is found; without the key only the crc32c is checked, and counted so.

use std::os::unix::fs::FileExt;
use std::path::Path;

use engine::crypto::{MasterKey, META_WRAPPED_KEY};
use engine::format::{record_len_bytes, seal_chunk_tagged, RECORD_HEADER_BYTES};
use engine::index::{Extent, Index, IndexOp, ObjectBody, ObjectRecord, WriteCondition};
use engine::io::uring::UringDisk;
use engine::io::AlignedBuf;
use engine::store::{index_dir, segment_path, ShardStore, StoreConfig};

const BUCKET: u64 = 3;
const OBJECT_ID: u128 = 0x1234_5678_9abc_def0_1111_2222_3333_4444;
const CHUNK_BYTES: usize = 100_000;
const CHUNKS: u32 = 3;

type UringRuntime = monoio::Runtime<monoio::IoUringDriver>;

fn uring_runtime() -> Option<UringRuntime> {
    match monoio::RuntimeBuilder::<monoio::IoUringDriver>::new().build() {
        Ok(runtime) => Some(runtime),
        Err(err) => {
            eprintln!("note: io_uring unavailable ({err}); test skipped");
            None
        }
    }
}

/// Stores one encrypted object of three chunks; returns its extents.
async fn store_encrypted(data_dir: &Path, master: &MasterKey) -> (Index, Vec<Extent>) {
    let index = Index::open(&index_dir(data_dir, 0)).expect("index");
    let config = StoreConfig {
        data_dir: data_dir.to_path_buf(),
        shard: 0,
        segment_bytes: 8 << 20,
        reserve_bytes: 0,
    };
    let store = ShardStore::open(config, UringDisk, index.clone()).expect("open");
    store.start();
    store
        .commit(IndexOp::CreateBucket {
            bucket_id: BUCKET,
            name: "tags".into(),
        })
        .await
        .expect("bucket");
    let (key, wrapped) = master.new_data_key();
    let mut extents = Vec::new();
    for chunk_index in 0..CHUNKS {
        let mut buf = AlignedBuf::new(1 << 20);
        let payload = &mut buf.as_full_mut()[RECORD_HEADER_BYTES..][..CHUNK_BYTES];
        payload.fill(chunk_index as u8 + 1);
        let tag = key.seal_chunk(OBJECT_ID, chunk_index, chunk_index + 1 == CHUNKS, payload);
        seal_chunk_tagged(&mut buf, OBJECT_ID, chunk_index, CHUNK_BYTES, &tag);
        let (extent, _) = store
            .append_chunk(buf, OBJECT_ID, chunk_index, CHUNK_BYTES as u32)
            .await;
        extents.push(extent.expect("append"));
    }
    let record = ObjectRecord {
        size_bytes: u64::from(CHUNKS) * CHUNK_BYTES as u64,
        etag: "e".into(),
        last_modified_ms: 0,
        meta: vec![(META_WRAPPED_KEY.into(), wrapped)],
        body: ObjectBody::Extents(extents.clone()),
    };
    store
        .commit(IndexOp::PutObject {
            bucket_id: BUCKET,
            key: b"secret".to_vec(),
            record,
            condition: WriteCondition::None,
            version: engine::index::VersionWrite::Unversioned,
            md5_at_commit: None,
        })
        .await
        .expect("put");
    store.shutdown();
    store.drained().await;
    (index, extents)
}

#[test]
fn check_verifies_chunk_tags_with_the_master_key() {
    let Some(mut runtime) = uring_runtime() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let master = MasterKey::generate();
    let (index, extents) = runtime.block_on(store_encrypted(dir.path(), &master));

    let clean = index.check(dir.path(), 0, Some(&master)).expect("check");
    assert!(clean.problems.is_empty(), "{:?}", clean.problems);
    assert_eq!(clean.tags_verified, u64::from(CHUNKS));

    // Rewrite the middle chunk as someone without the data key would: other
    // ciphertext, a fresh valid crc32c, the old tag.
    let victim = extents[1];
    let path = segment_path(dir.path(), 0, victim.segment);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .expect("segment");
    let record_len = record_len_bytes(CHUNK_BYTES);
    let mut record = vec![0u8; record_len];
    file.read_exact_at(&mut record, victim.offset_bytes)
        .expect("read");
    let old_tag: [u8; 24] = record[40..64].try_into().expect("tag field");
    let mut buf = AlignedBuf::new(1 << 20);
    buf.as_full_mut()[..record_len].copy_from_slice(&record);
    buf.as_full_mut()[RECORD_HEADER_BYTES + 10] ^= 0xff;
    seal_chunk_tagged(&mut buf, OBJECT_ID, 1, CHUNK_BYTES, &old_tag);
    file.write_all_at(&buf.as_slice()[..record_len], victim.offset_bytes)
        .expect("write");
    file.sync_all().expect("sync");

    let tampered = index.check(dir.path(), 0, Some(&master)).expect("check");
    assert_eq!(tampered.problems.len(), 1, "{:?}", tampered.problems);
    assert!(
        tampered.problems[0]
            .detail
            .contains("fails its authentication tag"),
        "{}",
        tampered.problems[0].detail
    );

    // Without the key the crc32c is all there is, and it is valid.
    let keyless = index.check(dir.path(), 0, None).expect("check");
    assert!(keyless.problems.is_empty(), "{:?}", keyless.problems);
    assert_eq!(keyless.tags_unverifiable, u64::from(CHUNKS));

    // A data key wrapped by another master key cannot be opened: reported.
    let other = MasterKey::generate();
    let wrong = index.check(dir.path(), 0, Some(&other)).expect("check");
    assert!(
        wrong.problems[0]
            .detail
            .contains("data key cannot be opened"),
        "{:?}",
        wrong.problems
    );
}
