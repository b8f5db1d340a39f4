//! Versions in the index: the unversioned slot becoming the null version,
//! suspended writes replacing only the null version, delete markers hiding a
//! key from listings, and ListObjectVersions paging through thousands of
//! versions with key and version markers, nothing lost or repeated.

use std::collections::BTreeMap;

use engine::index::{next_version_seq, Index, IndexOp, ObjectBody, ObjectRecord};
use engine::index::{VersionSel, VersionWrite, WriteCondition};
use engine::list::{ListQuery, VersionItem, VersionListQuery};

const BUCKET: u64 = 9;

fn open() -> (tempfile::TempDir, Index) {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = Index::open(&dir.path().join("index")).expect("index");
    apply(
        &index,
        IndexOp::CreateBucket {
            bucket_id: BUCKET,
            name: "v".into(),
        },
    );
    (dir, index)
}

fn apply(index: &Index, op: IndexOp) {
    let outcome = index.apply_batch(&[op], &[]).expect("batch");
    outcome.into_iter().next().unwrap().expect("op");
}

fn record(body: &str, stamp: u64) -> ObjectRecord {
    ObjectRecord {
        size_bytes: body.len() as u64,
        etag: format!("etag-{body}"),
        last_modified_ms: stamp,
        meta: Vec::new(),
        body: ObjectBody::Inline(body.as_bytes().to_vec()),
    }
}

fn put(index: &Index, key: &str, body: &str, version: VersionWrite) {
    apply(
        index,
        IndexOp::PutObject {
            bucket_id: BUCKET,
            key: key.as_bytes().to_vec(),
            record: record(body, 1_000),
            condition: WriteCondition::None,
            version,
            md5_at_commit: None,
        },
    );
}

fn enabled() -> VersionWrite {
    VersionWrite::New {
        seq: next_version_seq(),
        null: false,
    }
}

fn suspended() -> VersionWrite {
    VersionWrite::New {
        seq: next_version_seq(),
        null: true,
    }
}

fn latest_body(index: &Index, key: &str) -> Option<String> {
    index
        .get_object(BUCKET, key.as_bytes())
        .unwrap()
        .map(|r| match r.body {
            ObjectBody::Inline(bytes) => String::from_utf8(bytes).unwrap(),
            ObjectBody::Extents(_) => unreachable!(),
        })
}

/// (version id, body or "<marker>", is latest) of every version of `key`.
fn versions(index: &Index, key: &str) -> Vec<(String, String, bool)> {
    let page = index
        .list_versions(&VersionListQuery {
            bucket_id: BUCKET,
            prefix: key.as_bytes(),
            key_marker: None,
            version_marker: None,
            delimiter: None,
            entries_max: 1000,
        })
        .unwrap();
    page.items
        .into_iter()
        .filter_map(|item| match item {
            VersionItem::Version {
                key: k,
                version_id,
                is_latest,
                record,
            } if k == key.as_bytes() => {
                let body = match (&record.body, record.is_delete_marker()) {
                    (_, true) => "<marker>".to_owned(),
                    (ObjectBody::Inline(b), false) => String::from_utf8(b.clone()).unwrap(),
                    _ => unreachable!(),
                };
                Some((version_id, body, is_latest))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn an_unversioned_object_becomes_the_null_version() {
    let (_dir, index) = open();
    put(&index, "k", "old", VersionWrite::Unversioned);
    put(&index, "k", "v1", enabled());
    assert_eq!(latest_body(&index, "k").as_deref(), Some("v1"));
    let all = versions(&index, "k");
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].1.as_str(), all[0].2), ("v1", true));
    assert_ne!(all[0].0, "null");
    assert_eq!(all[1], ("null".to_owned(), "old".to_owned(), false));
    let (_, null) = index
        .get_version(BUCKET, b"k", VersionSel::Null)
        .unwrap()
        .expect("null version");
    assert_eq!(null.etag, "etag-old");
    let seq = VersionSel::parse(&all[0].0).expect("hex id");
    let (_, v1) = index.get_version(BUCKET, b"k", seq).unwrap().unwrap();
    assert_eq!(v1.etag, "etag-v1");
    assert_eq!(VersionSel::parse("nonsense"), None);
}

#[test]
fn suspended_writes_replace_only_the_null_version() {
    let (_dir, index) = open();
    put(&index, "k", "old", VersionWrite::Unversioned);
    put(&index, "k", "v1", enabled());
    put(&index, "k", "s1", suspended());
    let all = versions(&index, "k");
    let bodies: Vec<&str> = all.iter().map(|v| v.1.as_str()).collect();
    assert_eq!(bodies, ["s1", "v1"], "the old null version is gone");
    assert_eq!(all[0].0, "null");
    put(&index, "k", "s2", suspended());
    let bodies: Vec<String> = versions(&index, "k").into_iter().map(|v| v.1).collect();
    assert_eq!(bodies, ["s2", "v1"]);
    // Re-enabled: new versions pile up above the null one.
    put(&index, "k", "v2", enabled());
    let ids: Vec<(String, String)> = versions(&index, "k")
        .into_iter()
        .map(|v| (v.0, v.1))
        .collect();
    assert_eq!(ids[0].1, "v2");
    assert_eq!(ids[1], ("null".to_owned(), "s2".to_owned()));
    assert_eq!(ids[2].1, "v1");
}

#[test]
fn delete_markers_hide_keys_until_removed() {
    let (_dir, index) = open();
    put(&index, "dir/a", "a1", enabled());
    put(&index, "dir/b", "b1", enabled());
    put(&index, "x", "x1", enabled());
    for key in ["dir/a", "dir/b"] {
        apply(
            &index,
            IndexOp::PutDeleteMarker {
                bucket_id: BUCKET,
                key: key.as_bytes().to_vec(),
                seq: next_version_seq(),
                null: false,
                last_modified_ms: 2_000,
                condition: WriteCondition::None,
            },
        );
    }
    assert_eq!(latest_body(&index, "dir/a"), None);
    let (_, latest) = index.get_latest(BUCKET, b"dir/a").unwrap().unwrap();
    assert!(latest.is_delete_marker());
    let listed = |delimiter: Option<&[u8]>| -> Vec<Vec<u8>> {
        let page = index
            .list(&ListQuery {
                bucket_id: BUCKET,
                prefix: b"",
                after: None,
                delimiter,
                entries_max: 100,
            })
            .unwrap();
        page.items
            .iter()
            .map(|item| item.position().to_vec())
            .collect()
    };
    assert_eq!(listed(None), vec![b"x".to_vec()]);
    assert_eq!(
        listed(Some(b"/")),
        vec![b"x".to_vec()],
        "a prefix with only deleted keys is not listed"
    );
    // The versions listing shows the markers and the versions under them.
    assert_eq!(versions(&index, "dir/a").len(), 2);
    let marker_id = versions(&index, "dir/a")[0].0.clone();
    apply(
        &index,
        IndexOp::DeleteVersion {
            bucket_id: BUCKET,
            key: b"dir/a".to_vec(),
            version: VersionSel::parse(&marker_id).unwrap(),
            now_ms: 0,
            bypass_governance: false,
        },
    );
    assert_eq!(latest_body(&index, "dir/a").as_deref(), Some("a1"));
    let mut expected = vec![b"dir/".to_vec()];
    expected.push(b"x".to_vec());
    assert_eq!(listed(Some(b"/")), expected);
    // DeleteBucket must see the remaining versions and markers.
    let outcome = index
        .apply_batch(&[IndexOp::DropBucket { bucket_id: BUCKET }], &[])
        .unwrap();
    assert!(outcome[0].is_err());
}

#[test]
fn five_thousand_versions_page_without_loss_or_repeat() {
    let (_dir, index) = open();
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for round in 0..100 {
        for k in 0..50 {
            let key = format!("keys/{k:02}");
            put(&index, &key, &format!("{key}@{round}"), enabled());
            expected
                .entry(key)
                .or_default()
                .insert(0, format!("@{round}"));
        }
    }
    for page_size in [1, 37, 1000] {
        let mut seen: Vec<(String, String, bool)> = Vec::new();
        let mut key_marker: Option<Vec<u8>> = None;
        let mut version_marker: Option<VersionSel> = None;
        loop {
            let page = index
                .list_versions(&VersionListQuery {
                    bucket_id: BUCKET,
                    prefix: b"keys/",
                    key_marker: key_marker.as_deref(),
                    version_marker,
                    delimiter: None,
                    entries_max: page_size,
                })
                .unwrap();
            let mut last = None;
            for item in &page.items {
                let VersionItem::Version {
                    key,
                    version_id,
                    is_latest,
                    record,
                } = item
                else {
                    panic!("no delimiter, no prefixes");
                };
                let body = match &record.body {
                    ObjectBody::Inline(b) => String::from_utf8(b.clone()).unwrap(),
                    _ => unreachable!(),
                };
                let key = String::from_utf8(key.clone()).unwrap();
                seen.push((key.clone(), body, *is_latest));
                last = Some((key, version_id.clone()));
            }
            if !page.truncated {
                break;
            }
            let (key, version_id) = last.expect("a truncated page has items");
            key_marker = Some(key.into_bytes());
            version_marker = VersionSel::parse(&version_id);
        }
        assert_eq!(seen.len(), 5000, "page size {page_size}");
        let mut at = 0;
        for (key, bodies) in &expected {
            for (n, body) in bodies.iter().enumerate() {
                let (seen_key, seen_body, latest) = &seen[at];
                assert_eq!(seen_key, key, "page size {page_size}, entry {at}");
                assert_eq!(seen_body, &format!("{key}{body}"));
                assert_eq!(*latest, n == 0, "{key} {body}");
                at += 1;
            }
        }
    }
    // With a delimiter at the top, one prefix and nothing else.
    let page = index
        .list_versions(&VersionListQuery {
            bucket_id: BUCKET,
            prefix: b"",
            key_marker: None,
            version_marker: None,
            delimiter: Some(b"/"),
            entries_max: 10,
        })
        .unwrap();
    assert_eq!(
        page.items,
        vec![VersionItem::CommonPrefix(b"keys/".to_vec())]
    );
    assert!(!page.truncated);
}
