//! Prefix/delimiter listing over a shard's `objects` index as a range scan.
//!
//! When a key falls under a common prefix, the scan emits the prefix once and
//! seeks past every key that shares it, so a bucket with a million keys under
//! one "directory" lists that directory in one seek, not a million steps.

use std::ops::Bound;

use crate::error::EngineResult;
use crate::index::{decode_value, object_index_key, object_key_of, prefix_successor, Index};
use crate::index::{ObjectRecord, VersionSel, VERSION_INV_UNVERSIONED};

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
        // The key whose latest version was taken (listed or a delete marker).
        let mut skipping: Option<Vec<u8>> = None;
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
                    let common = common.to_vec();
                    // A prefix whose every key is deleted (delete markers
                    // latest) is not listed, as on S3.
                    if self.prefix_has_live_key(&rtxn, query.bucket_id, &common, index_key)? {
                        if page.items.len() == query.entries_max {
                            page.truncated = true;
                            break 'seek;
                        }
                        page.items.push(ListItem::CommonPrefix(common.clone()));
                    }
                    start = past_prefix(query.bucket_id, &common);
                    continue 'seek;
                }
                if skipping.as_deref() == Some(key) {
                    continue; // an older version of a key already seen
                }
                skipping = Some(key.to_vec());
                let record: ObjectRecord = decode_value(value)?;
                if record.is_delete_marker() {
                    continue; // deleted: its older versions stay hidden too
                }
                if page.items.len() == query.entries_max {
                    page.truncated = true;
                    break 'seek;
                }
                page.items.push(ListItem::Object {
                    key: key.to_vec(),
                    record,
                });
            }
            break;
        }
        Ok(page)
    }

    /// Whether some key under `prefix`, from `first` (an index key under it)
    /// on, has a latest version that is not a delete marker.
    fn prefix_has_live_key(
        &self,
        txn: &heed::RoTxn<'_>,
        bucket_id: u64,
        prefix: &[u8],
        first: &[u8],
    ) -> EngineResult<bool> {
        let end = past_prefix(bucket_id, prefix);
        let range = (Bound::Included(first), Bound::Excluded(end.as_slice()));
        let mut previous: Option<Vec<u8>> = None;
        for entry in self.objects_db().range(txn, &range)? {
            let (index_key, value) = entry?;
            let key = object_key_of(index_key);
            if previous.as_deref() == Some(key) {
                continue;
            }
            if !decode_value::<ObjectRecord>(value)?.is_delete_marker() {
                return Ok(true);
            }
            previous = Some(key.to_vec());
        }
        Ok(false)
    }

    /// True when a listing of the bucket would show nothing (older versions
    /// and delete markers may remain: DeleteBucket checks for those).
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

/// A ListObjectVersions page request.
#[derive(Clone, Copy, Debug)]
pub struct VersionListQuery<'a> {
    pub bucket_id: u64,
    pub prefix: &'a [u8],
    /// Resume after this key: after all its versions, or, with
    /// `version_marker`, after that version of it.
    pub key_marker: Option<&'a [u8]>,
    pub version_marker: Option<VersionSel>,
    pub delimiter: Option<&'a [u8]>,
    pub entries_max: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionItem {
    /// An object version or a delete marker (`record.is_delete_marker()`).
    Version {
        key: Vec<u8>,
        version_id: String,
        is_latest: bool,
        record: ObjectRecord,
    },
    CommonPrefix(Vec<u8>),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionPage {
    pub items: Vec<VersionItem>,
    pub truncated: bool,
}

impl Index {
    /// One page of every version (newest first within a key) and delete
    /// marker under a prefix, keys in byte order.
    pub fn list_versions(&self, query: &VersionListQuery<'_>) -> EngineResult<VersionPage> {
        let mut page = VersionPage::default();
        if query.entries_max == 0 {
            return Ok(page);
        }
        let rtxn = self.read_txn()?;
        let bucket = query.bucket_id;
        let bucket_end = object_index_key_prefix(bucket + 1, b"");
        // The key whose versions the scan is inside (its first is the latest).
        let mut previous_key: Option<Vec<u8>> = None;
        let mut start: Bound<Vec<u8>> =
            Bound::Included(object_index_key_prefix(bucket, query.prefix));
        if let Some(marker) = query.key_marker.filter(|m| *m >= query.prefix) {
            start = match (
                common_prefix_of(marker, query.prefix, query.delimiter),
                query.version_marker,
            ) {
                (Some(common), _) => Bound::Included(past_prefix(bucket, common)),
                (None, Some(version)) => {
                    match self.version_entry_in(&rtxn, bucket, marker, version)? {
                        Some(index_key) => {
                            previous_key = Some(marker.to_vec());
                            Bound::Excluded(index_key)
                        }
                        None => Bound::Included(after_all_versions(bucket, marker)),
                    }
                }
                (None, None) => Bound::Included(after_all_versions(bucket, marker)),
            };
        }
        'seek: loop {
            let range = (
                start.as_ref().map(Vec::as_slice),
                Bound::Excluded(bucket_end.as_slice()),
            );
            for entry in self.objects_db().range(&rtxn, &range)? {
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
                    page.items.push(VersionItem::CommonPrefix(common.to_vec()));
                    start = Bound::Included(past_prefix(bucket, common));
                    continue 'seek;
                }
                if page.items.len() == query.entries_max {
                    page.truncated = true;
                    break 'seek;
                }
                let record: ObjectRecord = decode_value(value)?;
                let is_latest = previous_key.as_deref() != Some(key);
                previous_key = Some(key.to_vec());
                page.items.push(VersionItem::Version {
                    key: key.to_vec(),
                    version_id: crate::index::version_id_of(index_key, &record),
                    is_latest,
                    record,
                });
            }
            break;
        }
        Ok(page)
    }

    fn version_entry_in(
        &self,
        txn: &heed::RoTxn<'_>,
        bucket_id: u64,
        key: &[u8],
        version: VersionSel,
    ) -> EngineResult<Option<Vec<u8>>> {
        Ok(self
            .version_entry(txn, bucket_id, key, version)?
            .map(|(index_key, _)| index_key))
    }
}

/// The first index key after every version of `key`.
fn after_all_versions(bucket_id: u64, key: &[u8]) -> Vec<u8> {
    // Index keys of `key` continue with 0x00; longer keys with a byte >= 1.
    let mut out = object_index_key_prefix(bucket_id, key);
    out.push(1);
    out
}

/// The index key of the unversioned object `key` (exported for tests).
pub fn unversioned_key(bucket_id: u64, key: &[u8]) -> Vec<u8> {
    object_index_key(bucket_id, key, VERSION_INV_UNVERSIONED)
}
