//! ETags left to the commit: a batch's small bodies hashed together give each
//! record the MD5 of its own bytes (lowercase hex) and each writer its digest;
//! an op that reaches the index with its ETag still uncomputed is refused,
//! so no record is ever stored without one.

use engine::index::{hash_md5_at_commit, Index, IndexOp, Md5AtCommit, Md5Digest};
use engine::index::{ObjectBody, ObjectRecord, VersionWrite, WriteCondition};
use md5::{Digest, Md5};
use rand::{Rng, SeedableRng};

const BUCKET: u64 = 3;

fn put_left_to_commit(key: &str, data: &[u8]) -> (IndexOp, Md5Digest) {
    let (job, digest) = Md5AtCommit::new(data.to_vec());
    let op = IndexOp::PutObject {
        bucket_id: BUCKET,
        key: key.as_bytes().to_vec(),
        record: ObjectRecord {
            size_bytes: data.len() as u64,
            etag: String::new(),
            last_modified_ms: 1,
            meta: Vec::new(),
            body: ObjectBody::Inline(data.to_vec()),
        },
        condition: WriteCondition::None,
        version: VersionWrite::Unversioned,
        md5_at_commit: Some(job),
    };
    (op, digest)
}

fn etag_of(op: &IndexOp) -> &str {
    match op {
        IndexOp::PutObject { record, .. } => &record.etag,
        _ => unreachable!("only puts here"),
    }
}

#[test]
fn a_batch_of_bodies_gets_each_its_own_md5() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(22);
    // More bodies than any CPU has lanes, of lengths around block and
    // padding edges, and an empty one; a delete in the middle is left alone.
    let mut lens: Vec<usize> = vec![0, 1, 55, 56, 63, 64, 65, 119, 120, 4095, 4096];
    lens.extend((0..25).map(|_| rng.gen_range(0..=4096)));
    let bodies: Vec<Vec<u8>> = lens
        .iter()
        .map(|len| (0..*len).map(|_| rng.gen::<u8>()).collect())
        .collect();
    let mut ops = Vec::new();
    let mut digests = Vec::new();
    for (index, body) in bodies.iter().enumerate() {
        let (op, digest) = put_left_to_commit(&format!("k{index}"), body);
        ops.push(op);
        digests.push(digest);
        if index == 5 {
            ops.push(IndexOp::DeleteObject {
                bucket_id: BUCKET,
                key: b"gone".to_vec(),
                condition: WriteCondition::None,
            });
        }
    }
    assert!(digests.iter().all(|digest| digest.get().is_none()));
    hash_md5_at_commit(&mut ops);
    let puts: Vec<&IndexOp> = ops
        .iter()
        .filter(|op| matches!(op, IndexOp::PutObject { .. }))
        .collect();
    for ((body, op), digest) in bodies.iter().zip(puts).zip(&digests) {
        let expected: [u8; 16] = Md5::digest(body).into();
        assert_eq!(etag_of(op), hex::encode(expected), "len {}", body.len());
        assert_eq!(digest.get(), Some(expected));
        assert!(matches!(
            op,
            IndexOp::PutObject {
                md5_at_commit: None,
                ..
            }
        ));
    }
}

#[test]
fn an_uncomputed_etag_is_refused_by_the_index_and_a_computed_one_is_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = Index::open(&dir.path().join("index")).expect("index");
    let create = IndexOp::CreateBucket {
        bucket_id: BUCKET,
        name: "b".into(),
    };
    index.apply_batch(&[create], &[]).expect("batch")[0]
        .as_ref()
        .expect("bucket");
    let (unhashed, _) = put_left_to_commit("raw", b"bytes");
    let outcomes = index.apply_batch(&[unhashed], &[]).expect("batch");
    assert!(outcomes[0].is_err(), "stored a record without its ETag");
    let (op, digest) = put_left_to_commit("hashed", b"bytes");
    let mut ops = vec![op];
    hash_md5_at_commit(&mut ops);
    let outcomes = index.apply_batch(&ops, &[]).expect("batch");
    assert!(outcomes[0].is_ok());
    let record = index
        .get_object(BUCKET, b"hashed")
        .expect("read")
        .expect("stored");
    assert_eq!(record.etag, hex::encode(digest.get().expect("digest")));
    assert_eq!(record.etag, "4b3a6218bb3e3a7303e8a171a60fcf92");
    assert!(index.get_object(BUCKET, b"raw").expect("read").is_none());
}
