//! Prefix/delimiter listing over a shard's `objects` index as a range scan.
//!
//! When a key falls under a common prefix, the scan emits the prefix once and
//! seeks past every key that shares it, so a bucket with a million keys under
//! one "directory" lists that directory in one seek, not a million steps.

use std::ops::Bound;

use crate::error::EngineResult;
use crate::index::{decode_value, object_index_key, object_key_of, prefix_successor, Index};
use crate::index::{ObjectRecord, VERSION_INV_UNVERSIONED};

/// What to list. Keys and prefixes are raw object-key bytes.
#[derive(Clone, Copy, Debug)]
pub struct ListQuery<'a> {
    pub bucket_id: u64,
    pub prefix: &'a [u8],
    /// Only entries strictly after this key (S3 marker / start-after /
    /// continuation token).
    pub after: Option<&'a [u8]>,
    pub delimiter: Option<&'a [u8]>,
    pub entries_max: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListItem {
    Object { key: Vec<u8>, record: ObjectRecord },
    CommonPrefix(Vec<u8>),
}

impl ListItem {
    /// The key or prefix, which is what a continuation resumes after.
    pub fn position(&self) -> &[u8] {
        match self {
            ListItem::Object { key, .. } => key,
            ListItem::CommonPrefix(prefix) => prefix,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    pub items: Vec<ListItem>,
    pub truncated: bool,
}

/// The common prefix `key` rolls up into, if any.
fn common_prefix_of<'k>(
    key: &'k [u8],
    prefix: &[u8],
    delimiter: Option<&[u8]>,
) -> Option<&'k [u8]> {
    let delimiter = delimiter.filter(|d| !d.is_empty())?;
    let rest = key.get(prefix.len()..)?;
    let at = rest
        .windows(delimiter.len())
        .position(|window| window == delimiter)?;
    Some(&key[..prefix.len() + at + delimiter.len()])
}

/// First index key the scan starts at.
fn list_start(query: &ListQuery<'_>) -> Vec<u8> {
    let bucket = query.bucket_id;
    let Some(after) = query.after.filter(|after| *after >= query.prefix) else {
        return object_index_key_prefix(bucket, query.prefix);
    };
    // A marker inside a common prefix means that prefix was already returned.
    if let Some(common) = common_prefix_of(after, query.prefix, query.delimiter) {
        return past_prefix(bucket, common);
    }
    // Keys strictly greater than `after`: the next possible key byte is 0x01.
    let mut start = object_index_key_prefix(bucket, after);
    start.push(1);
    start
}

fn object_index_key_prefix(bucket_id: u64, key_prefix: &[u8]) -> Vec<u8> {
    let mut out = bucket_id.to_be_bytes().to_vec();
    out.extend_from_slice(key_prefix);
    out
}

/// First index key after every key starting with `key_prefix`.
fn past_prefix(bucket_id: u64, key_prefix: &[u8]) -> Vec<u8> {
    let full = object_index_key_prefix(bucket_id, key_prefix);
    prefix_successor(&full).unwrap_or(full)
}

impl Index {
    /// One page of a listing, newest version of each key only.
    pub fn list(&self, query: &ListQuery<'_>) -> EngineResult<ListPage> {
        let mut page = ListPage::default();
        if query.entries_max == 0 {
            return Ok(page);
        }
        let rtxn = self.read_txn()?;
        let bucket_end = object_index_key_prefix(query.bucket_id + 1, b"");
        let mut start = list_start(query);
        'seek: loop {
            let range = (
                Bound::Included(start.as_slice()),
                Bound::Excluded(bucket_end.as_slice()),
            );
            let iter = self.objects_db().range(&rtxn, &range)?;
            for entry in iter {
                let (index_key, value) = entry?;
                let key = object_key_of(index_key);
                if !key.starts_with(query.prefix) {
                    break 'seek;
                }
                if let Some(common) = common_prefix_of(key, query.prefix, query.delimiter) {
                    if page.items.len() == query.entries_max {
                        page.truncated = true;
                        break 'seek;
                    }
                    page.items.push(ListItem::CommonPrefix(common.to_vec()));
                    start = past_prefix(query.bucket_id, common);
                    continue 'seek;
                }
                if page.items.last().is_some_and(|last| last.position() == key) {
                    continue; // an older version of a key already listed
                }
                if page.items.len() == query.entries_max {
                    page.truncated = true;
                    break 'seek;
                }
                let record = decode_value(value)?;
                page.items.push(ListItem::Object {
                    key: key.to_vec(),
                    record,
                });
            }
            break;
        }
        Ok(page)
    }

    /// True when the bucket holds no object at all.
    pub fn bucket_is_empty(&self, bucket_id: u64) -> EngineResult<bool> {
        let query = ListQuery {
            bucket_id,
            prefix: b"",
            after: None,
            delimiter: None,
            entries_max: 1,
        };
        Ok(self.list(&query)?.items.is_empty())
    }
}

/// The index key of the unversioned object `key` (exported for tests).
pub fn unversioned_key(bucket_id: u64, key: &[u8]) -> Vec<u8> {
    object_index_key(bucket_id, key, VERSION_INV_UNVERSIONED)
}
