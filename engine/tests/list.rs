//! Listing semantics of [`engine::index::Index::list`] against a model, on a
//! real LMDB index in a temporary directory.
//!
//! The model is deliberately naive: it walks every key of the bucket in byte
//! order, rolls keys up into common prefixes with a plain search for the first
//! delimiter after the prefix, and keeps the entries whose position (key or
//! common prefix) sorts strictly after the marker. Since a common prefix sorts
//! before every key it covers, a marker inside a common prefix excludes that
//! prefix: a continuation never repeats it.
//!
//! Owns no engine code; only calls the public index API.

use std::collections::BTreeSet;

use engine::index::{Index, IndexOp, ObjectBody, ObjectRecord, WriteCondition};
use engine::limits::LIST_ENTRIES_MAX;
use engine::list::{ListItem, ListQuery};

/// Keys chosen to sit next to the byte-order traps of a delimiter listing:
/// "a" < "a/" < "a//b" (the 0x00 terminator), "a0" right after every "a/..."
/// key (the successor of "a/"), S3-special characters, multi-byte UTF-8, and
/// non-UTF-8 bytes (0xff) that make the prefix successor carry.
const KEYS: &[&[u8]] = &[
    b"a",
    b"a/",
    b"a//b",
    b"a///",
    b"a/b",
    b"a/b/",
    b"a/b/c",
    b"a/b/c/d",
    b"a/c",
    b"a.b",
    b"a0",
    b"ab",
    b"b",
    b"b/",
    b"b+c",
    b"b%2Fc",
    b"b%2Fc/d",
    b"b c/d",
    b"b c/e",
    b"b c",
    b"c",
    "é".as_bytes(),
    "é/ü".as_bytes(),
    "é/ü/x".as_bytes(),
    "日本/語/x".as_bytes(),
    "日本/語/y".as_bytes(),
    "日本語".as_bytes(),
    "日本語/".as_bytes(),
    b"x//y//z",
    b"x//y/z",
    b"x/y//z",
    b"\xff",
    b"\xff\xff",
    b"\xff\xff/x",
    b"\xff\xffz",
];

const BUCKET: u64 = 7;
/// A neighbour bucket on each side whose keys must never leak into BUCKET.
const BUCKET_BEFORE: u64 = 6;
const BUCKET_AFTER: u64 = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Object(Vec<u8>),
    Prefix(Vec<u8>),
}

impl Entry {
    fn position(&self) -> &[u8] {
        match self {
            Entry::Object(key) | Entry::Prefix(key) => key,
        }
    }

    fn of(item: &ListItem) -> Entry {
        match item {
            ListItem::Object { key, record } => {
                assert_eq!(
                    record.body,
                    ObjectBody::Inline(value_of(key)),
                    "record of {key:?}"
                );
                Entry::Object(key.clone())
            }
            ListItem::CommonPrefix(prefix) => Entry::Prefix(prefix.clone()),
        }
    }
}

/// Naive first-occurrence search, written independently of the engine's.
fn find_first(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    (0..haystack.len()).find(|&start| haystack[start..].starts_with(needle))
}

/// Every entry of a full listing of `keys` under `prefix`, in order.
fn model_entries(keys: &BTreeSet<Vec<u8>>, prefix: &[u8], delimiter: Option<&[u8]>) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for key in keys.iter().filter(|key| key.starts_with(prefix)) {
        let rest = &key[prefix.len()..];
        let rolled = match delimiter {
            Some(delimiter) if !delimiter.is_empty() => find_first(rest, delimiter)
                .map(|at| key[..prefix.len() + at + delimiter.len()].to_vec()),
            _ => None,
        };
        match rolled {
            Some(common) => {
                if out.last() != Some(&Entry::Prefix(common.clone())) {
                    out.push(Entry::Prefix(common));
                }
            }
            None => out.push(Entry::Object(key.clone())),
        }
    }
    // The model itself must be in strictly increasing byte order.
    for pair in out.windows(2) {
        assert!(
            pair[0].position() < pair[1].position(),
            "model out of order: {pair:?}"
        );
    }
    out
}

/// The page a listing must return: entries strictly after `after`, at most
/// `entries_max`, truncated when any entry is left.
fn model_page(entries: &[Entry], after: Option<&[u8]>, entries_max: usize) -> (Vec<Entry>, bool) {
    let rest: Vec<Entry> = entries
        .iter()
        .filter(|entry| after.is_none_or(|after| entry.position() > after))
        .cloned()
        .collect();
    let truncated = rest.len() > entries_max;
    (rest.into_iter().take(entries_max).collect(), truncated)
}

fn value_of(key: &[u8]) -> Vec<u8> {
    let mut value = b"v:".to_vec();
    value.extend_from_slice(key);
    value
}

fn put(key: &[u8], bucket_id: u64) -> IndexOp {
    let value = value_of(key);
    let record = ObjectRecord {
        size_bytes: value.len() as u64,
        etag: format!("{:08x}", crc32c::crc32c(&value)),
        last_modified_ms: 1,
        meta: Vec::new(),
        body: ObjectBody::Inline(value),
    };
    IndexOp::PutObject {
        bucket_id,
        key: key.to_vec(),
        record,
        condition: WriteCondition::None,
        version: engine::index::VersionWrite::Unversioned,
        md5_at_commit: None,
    }
}

fn apply(index: &Index, ops: &[IndexOp]) {
    let outcomes = index.apply_batch(ops, &[]).expect("batch commits");
    for (op, outcome) in ops.iter().zip(outcomes) {
        outcome.unwrap_or_else(|err| panic!("{op:?} failed: {err}"));
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    index: Index,
    keys: BTreeSet<Vec<u8>>,
}

/// An index holding KEYS in BUCKET, written in shuffled batches (with an
/// overwrite, and a deleted key), plus decoys in the neighbour buckets.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = Index::open(dir.path()).expect("index opens");
    let mut ops = vec![
        IndexOp::CreateBucket {
            bucket_id: BUCKET_BEFORE,
            name: "before".into(),
        },
        IndexOp::CreateBucket {
            bucket_id: BUCKET,
            name: "listed".into(),
        },
        IndexOp::CreateBucket {
            bucket_id: BUCKET_AFTER,
            name: "after".into(),
        },
    ];
    for decoy in [&b""[..], b"a", b"a/z", b"\xff\xff\xff", "日".as_bytes()] {
        if !decoy.is_empty() {
            ops.push(put(decoy, BUCKET_BEFORE));
        }
        ops.push(put(&[decoy, b"~decoy"].concat(), BUCKET_AFTER));
    }
    apply(&index, &ops);
    // Reverse order across two transactions, so byte order owes nothing to
    // insertion order.
    let (late, early) = KEYS.split_at(KEYS.len() / 2);
    apply(
        &index,
        &early
            .iter()
            .rev()
            .map(|key| put(key, BUCKET))
            .collect::<Vec<_>>(),
    );
    apply(
        &index,
        &late
            .iter()
            .rev()
            .map(|key| put(key, BUCKET))
            .collect::<Vec<_>>(),
    );
    // An overwrite must still list once; a deleted key must not list.
    apply(
        &index,
        &[
            put(b"a/b", BUCKET),
            put(b"deleted/key", BUCKET),
            IndexOp::DeleteObject {
                bucket_id: BUCKET,
                key: b"deleted/key".to_vec(),
                condition: WriteCondition::None,
            },
        ],
    );
    let keys = KEYS.iter().map(|key| key.to_vec()).collect();
    Fixture {
        _dir: dir,
        index,
        keys,
    }
}

fn list(
    index: &Index,
    prefix: &[u8],
    delimiter: Option<&[u8]>,
    after: Option<&[u8]>,
    max: usize,
) -> (Vec<Entry>, bool) {
    let query = ListQuery {
        bucket_id: BUCKET,
        prefix,
        after,
        delimiter,
        entries_max: max,
    };
    let page = index
        .list(&query)
        .unwrap_or_else(|err| panic!("{query:?}: {err}"));
    (page.items.iter().map(Entry::of).collect(), page.truncated)
}

/// Every byte prefix of every key, plus a few strings that prefix nothing.
fn prefixes(keys: &BTreeSet<Vec<u8>>) -> BTreeSet<Vec<u8>> {
    let mut out: BTreeSet<Vec<u8>> = keys
        .iter()
        .flat_map(|key| (0..=key.len()).map(move |len| key[..len].to_vec()))
        .collect();
    for extra in [&b"0"[..], b"a/b/c/d/e", b"zzz", b"\xff\xff\xff", b"a/\xff"] {
        out.insert(extra.to_vec());
    }
    out
}

const DELIMITERS: &[Option<&[u8]>] = &[
    None,
    Some(b""),
    Some(b"/"),
    Some(b"//"),
    Some(b"b"),
    Some(b"/b"),
    Some(b"%2F"),
    Some(b" "),
    Some("語".as_bytes()),
    Some("/ü".as_bytes()),
    Some(b"\xff"),
];

#[test]
fn every_prefix_delimiter_and_marker_matches_the_model() {
    let fixture = fixture();
    let prefixes = prefixes(&fixture.keys);
    let mut markers: Vec<Option<Vec<u8>>> = vec![None];
    markers.extend(prefixes.iter().cloned().map(Some));
    let mut checked = 0usize;
    for prefix in &prefixes {
        for delimiter in DELIMITERS {
            let entries = model_entries(&fixture.keys, prefix, *delimiter);
            for (i, marker) in markers.iter().enumerate() {
                // Cycle the page size so every marker meets several sizes.
                let entries_max = [1, 2, 3, 5, 7, LIST_ENTRIES_MAX][(i + checked) % 6];
                let expected = model_page(&entries, marker.as_deref(), entries_max);
                let actual = list(
                    &fixture.index,
                    prefix,
                    *delimiter,
                    marker.as_deref(),
                    entries_max,
                );
                assert_eq!(
                    actual, expected,
                    "prefix {prefix:?} delimiter {delimiter:?} after {marker:?} max {entries_max}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 10_000, "only {checked} queries");
}

#[test]
fn pagination_enumerates_exactly_the_model_sequence() {
    let fixture = fixture();
    for prefix in prefixes(&fixture.keys) {
        for delimiter in DELIMITERS {
            let expected = model_entries(&fixture.keys, &prefix, *delimiter);
            for entries_max in 1..=7 {
                let mut seen: Vec<Entry> = Vec::new();
                let mut after: Option<Vec<u8>> = None;
                let context =
                    format!("prefix {prefix:?} delimiter {delimiter:?} max {entries_max}");
                for _page in 0..=expected.len() + 1 {
                    let (items, truncated) = list(
                        &fixture.index,
                        &prefix,
                        *delimiter,
                        after.as_deref(),
                        entries_max,
                    );
                    assert!(items.len() <= entries_max, "{context}: page too long");
                    seen.extend(items.iter().cloned());
                    assert_eq!(
                        truncated,
                        seen.len() < expected.len(),
                        "{context}: truncated flag"
                    );
                    if !truncated {
                        break;
                    }
                    assert!(!items.is_empty(), "{context}: truncated empty page");
                    after = items.last().map(|item| item.position().to_vec());
                }
                assert_eq!(seen, expected, "{context}: skipped or repeated entries");
            }
        }
    }
}

fn objects(keys: &[&str]) -> Vec<Entry> {
    keys.iter()
        .map(|key| Entry::Object(key.as_bytes().to_vec()))
        .collect()
}

#[test]
fn named_cases_read_as_documented() {
    let fixture = fixture();
    let index = &fixture.index;
    let p = |prefix: &str| Entry::Prefix(prefix.as_bytes().to_vec());
    let o = |key: &str| Entry::Object(key.as_bytes().to_vec());

    // Top level with "/": each directory once; "a.b" sorts before "a/" and
    // "a0" right after everything under "a/", and neither is swallowed.
    let (items, truncated) = list(index, b"", Some(b"/"), None, 9);
    let expected = vec![
        o("a"),
        o("a.b"),
        p("a/"),
        o("a0"),
        o("ab"),
        o("b"),
        o("b c"),
        p("b c/"),
        o("b%2Fc"),
    ];
    assert_eq!(items, expected);
    assert!(truncated);

    // A marker inside a common prefix resumes after the whole prefix.
    let (items, _) = list(index, b"", Some(b"/"), Some(b"a/b/c"), 2);
    assert_eq!(items, vec![o("a0"), o("ab")]);
    let (items, _) = list(index, b"", Some(b"/"), Some(b"a/"), 1);
    assert_eq!(items, vec![o("a0")]);
    // The same marker without a delimiter is just a key position.
    let (items, _) = list(index, b"", None, Some(b"a/b/c"), 3);
    assert_eq!(items, objects(&["a/b/c/d", "a/c", "a0"]));

    // The prefix itself ends with the delimiter: "a/" is an object there.
    let (items, truncated) = list(index, b"a/", Some(b"/"), None, 10);
    assert_eq!(
        items,
        vec![o("a/"), p("a//"), o("a/b"), p("a/b/"), o("a/c")]
    );
    assert!(!truncated);

    // Multi-byte delimiter; the delimiter search starts after the prefix.
    let (items, _) = list(index, b"x/", Some(b"//"), None, 10);
    assert_eq!(items, vec![p("x//y//"), o("x//y/z"), p("x/y//")]);
    let (items, _) = list(index, "日本".as_bytes(), Some("語".as_bytes()), None, 10);
    assert_eq!(items, vec![p("日本/語"), p("日本語")]);

    // A page that exactly fits is not truncated; entries_max 0 is empty.
    let (items, truncated) = list(index, b"b c", None, None, 3);
    assert_eq!(items, objects(&["b c", "b c/d", "b c/e"]));
    assert!(!truncated);
    let (items, truncated) = list(index, b"", None, None, 0);
    assert!(items.is_empty() && !truncated);

    // Delimiter 0xff: the common prefix "\xff" has no successor inside the
    // bucket, so the scan must stop at the bucket boundary, not loop or leak.
    let (items, truncated) = list(index, b"", Some(b"\xff"), Some(b"c"), 10);
    let expected = vec![
        o("x//y//z"),
        o("x//y/z"),
        o("x/y//z"),
        o("é"),
        o("é/ü"),
        o("é/ü/x"),
        o("日本/語/x"),
        o("日本/語/y"),
        o("日本語"),
        o("日本語/"),
    ];
    assert_eq!(items, expected);
    assert!(truncated);
    let (items, truncated) = list(index, b"", Some(b"\xff"), Some("日本語/".as_bytes()), 10);
    assert_eq!(items, vec![Entry::Prefix(b"\xff".to_vec())]);
    assert!(!truncated);
    let (items, truncated) = list(index, b"", Some(b"\xff"), Some(b"\xff"), 10);
    assert!(items.is_empty() && !truncated);
}

#[test]
fn neighbour_buckets_do_not_leak_and_emptiness_is_reported() {
    let fixture = fixture();
    let index = &fixture.index;
    let all = |bucket_id: u64| {
        let query = ListQuery {
            bucket_id,
            prefix: b"",
            after: None,
            delimiter: None,
            entries_max: LIST_ENTRIES_MAX,
        };
        let page = index.list(&query).expect("list");
        assert!(!page.truncated);
        page.items
            .iter()
            .map(|item| item.position().to_vec())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        all(BUCKET),
        fixture.keys.iter().cloned().collect::<Vec<_>>()
    );
    assert_eq!(all(BUCKET_BEFORE).len(), 4);
    assert_eq!(all(BUCKET_AFTER).len(), 5);
    assert!(all(BUCKET_AFTER).iter().all(|key| key.ends_with(b"~decoy")));
    assert!(all(0).is_empty());
    assert!(index.bucket_is_empty(0).expect("empty check"));
    assert!(!index.bucket_is_empty(BUCKET).expect("empty check"));
}

/// A directory of many keys lists as one common prefix, with the keys around
/// it intact, and a marker anywhere inside it skips all of it.
#[test]
fn large_common_prefix_lists_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = Index::open(dir.path()).expect("index opens");
    let mut ops = vec![IndexOp::CreateBucket {
        bucket_id: BUCKET,
        name: "big".into(),
    }];
    let mut keys = BTreeSet::new();
    for i in 0..3000u32 {
        keys.insert(format!("d/{i:05}/part").into_bytes());
    }
    for key in [&b"d"[..], b"d.", b"d0", b"c/x", b"e"] {
        keys.insert(key.to_vec());
    }
    ops.extend(keys.iter().map(|key| put(key, BUCKET)));
    apply(&index, &ops);
    let (items, truncated) = list(&index, b"", Some(b"/"), None, 10);
    let expected = model_entries(&keys, b"", Some(b"/"));
    assert_eq!(expected.len(), 6);
    assert_eq!((items, truncated), (expected.clone(), false));
    let (items, _) = list(&index, b"", Some(b"/"), Some(b"d/01234/part"), 10);
    assert_eq!(items, expected[4..].to_vec());
    let (items, truncated) = list(&index, b"d/", Some(b"/"), Some(b"d/02997/"), 10);
    assert_eq!(
        items,
        vec![
            Entry::Prefix(b"d/02998/".to_vec()),
            Entry::Prefix(b"d/02999/".to_vec())
        ]
    );
    assert!(!truncated);
}

/// Keys up to S3's 1024-byte limit that differ only past LMDB's classic
/// 511-byte key cap: the index keeps them whole, in byte order, and lists and
/// paginates them like any other key.
#[test]
fn keys_up_to_1024_bytes_list_in_order() {
    let long = |fill: u8, tail: &[u8]| {
        let mut key = b"l/".to_vec();
        key.resize(1024 - tail.len(), fill);
        key.extend_from_slice(tail);
        key
    };
    let keys: BTreeSet<Vec<u8>> = [
        long(b'x', b""),
        long(b'x', b"y"),
        long(b'x', b"/z"),
        long(b'x', "é".as_bytes()),
        long(b'w', b"/"),
        long(b'w', b"//"),
        b"l/x".to_vec(),
        b"l/xx/".to_vec(),
    ]
    .into_iter()
    .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let index = Index::open(dir.path()).expect("index opens");
    let mut ops = vec![IndexOp::CreateBucket {
        bucket_id: BUCKET,
        name: "long".into(),
    }];
    ops.extend(keys.iter().rev().map(|key| put(key, BUCKET)));
    apply(&index, &ops);

    let mut prefixes: BTreeSet<Vec<u8>> = BTreeSet::new();
    for key in &keys {
        for len in [0, 2, 3, 4, 500, 511, 512, 1000, 1021, 1022, 1023, 1024] {
            prefixes.insert(key[..len.min(key.len())].to_vec());
        }
    }
    for prefix in &prefixes {
        for delimiter in [None, Some(&b"/"[..]), Some(b"//"), Some(b"y")] {
            let expected = model_entries(&keys, prefix, delimiter);
            for entries_max in [1, 3, LIST_ENTRIES_MAX] {
                let mut seen: Vec<Entry> = Vec::new();
                let mut after: Option<Vec<u8>> = None;
                loop {
                    let (items, truncated) =
                        list(&index, prefix, delimiter, after.as_deref(), entries_max);
                    seen.extend(items.iter().cloned());
                    if !truncated {
                        break;
                    }
                    after = items.last().map(|item| item.position().to_vec());
                }
                assert_eq!(
                    seen,
                    expected,
                    "prefix len {} delimiter {delimiter:?} max {entries_max}",
                    prefix.len()
                );
            }
        }
    }
    for key in &keys {
        let record = index.get_object(BUCKET, key).expect("get").expect("found");
        assert_eq!(record.body, ObjectBody::Inline(value_of(key)));
    }
}
