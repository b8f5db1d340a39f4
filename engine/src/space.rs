//! Space accounting of a shard: which chunk records in its segment files are
//! referenced, by whom, and how many live bytes each segment holds. The
//! compactor reads it to choose segments and to find what to move out of
//! them; every index change keeps it exact in the same transaction.
//!
//! - `extent_refs`: `segment (u32 BE) | offset (u64 BE)` → [`ExtentRefs`]: the
//!   extent and every owner whose body lists it (an object version or a
//!   multipart part). CopyObject shares extents, so a record may have several
//!   owners; a record with no row is dead (deleted, overwritten, aborted, or
//!   written by a request that never committed).
//! - `segment_space`: `segment (u32 BE)` → [`SegmentSpace`]: live record bytes,
//!   and whether the compactor retired the segment (its file is gone, and no
//!   commit may reference it again).
//! - `space_meta`: holds [`ACCOUNTING_MARKER`] once the accounting is complete;
//!   an index written before it existed is accounted once at open.
//!
//! Owners are kept as a list with repeats allowed, so releasing then
//! acquiring the same extent for the same owner (a copy onto itself) nets
//! out exactly. An acquire of an extent with no row starts a fresh row.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, EngineResult};
use crate::index::{decode_value, encode_value, Extent, Index, ObjectBody, ObjectRecord};
use crate::index::{PartRecord, UploadKey};

pub(crate) const DB_EXTENT_REFS: &str = "extent_refs";
pub(crate) const DB_SEGMENT_SPACE: &str = "segment_space";
pub(crate) const DB_SPACE_META: &str = "space_meta";
const ACCOUNTING_MARKER: &[u8] = b"accounting-v1";

/// Who lists an extent in its body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExtentOwner {
    /// An object version, by its `objects` index key.
    Object(#[serde(with = "serde_bytes")] Vec<u8>),
    /// A part of a multipart upload in progress.
    Part {
        upload_id: UploadKey,
        part_number: u16,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtentRefs {
    pub extent: Extent,
    pub owners: Vec<ExtentOwner>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentSpace {
    /// Bytes of records (header, payload, padding) some owner references.
    pub live_bytes: u64,
    /// Compacted away: the file is (being) removed, the number never reused.
    pub retired: bool,
}

/// Live-byte changes of one op, per segment, applied when the op succeeds;
/// and beside them the op's bucket usage changes (see `crate::usage`), which
/// follow the same owners being added and dropped.
#[derive(Debug, Default)]
pub(crate) struct SpaceDeltas {
    by_segment: HashMap<u32, i64>,
    pub(crate) usage: crate::usage::UsageDeltas,
}

impl SpaceDeltas {
    fn add(&mut self, segment: u32, delta: i64) {
        *self.by_segment.entry(segment).or_default() += delta;
    }

    pub(crate) fn merge(&mut self, other: SpaceDeltas) {
        for (segment, delta) in other.by_segment {
            self.add(segment, delta);
        }
        self.usage.merge(&other.usage);
    }
}

pub(crate) fn extent_ref_key(segment: u32, offset_bytes: u64) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[..4].copy_from_slice(&segment.to_be_bytes());
    out[4..].copy_from_slice(&offset_bytes.to_be_bytes());
    out
}

fn record_bytes(extent: &Extent) -> i64 {
    crate::format::record_len_bytes(extent.payload_len_bytes as usize) as i64
}

/// The extents an object body lists (none for inline bodies).
pub(crate) fn body_extents(record: &ObjectRecord) -> &[Extent] {
    match &record.body {
        ObjectBody::Extents(extents) => extents,
        ObjectBody::Inline(_) => &[],
    }
}

/// A whole shard's accounting, as the compactor and metrics see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpaceReport {
    /// Segments not retired: (number, state).
    pub segments: Vec<(u32, SegmentSpace)>,
    pub retired_segments: Vec<u32>,
}

impl SpaceReport {
    pub fn live_bytes(&self) -> u64 {
        self.segments.iter().map(|(_, s)| s.live_bytes).sum()
    }
}

impl Index {
    /// Whether `extent` lives in another shard's segments.
    fn foreign(&self, extent: &Extent) -> bool {
        self.shard.is_some_and(|own| own != extent.shard)
    }

    /// Adds `owner` to each extent (a fresh row counts its bytes live).
    pub(crate) fn space_acquire(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        extents: &[Extent],
        owner: &ExtentOwner,
        deltas: &mut SpaceDeltas,
    ) -> EngineResult<()> {
        for extent in extents.iter().filter(|e| !self.foreign(e)) {
            let key = extent_ref_key(extent.segment, extent.offset_bytes);
            let refs = match self.extent_refs.get(wtxn, &key)? {
                Some(value) => {
                    let mut refs: ExtentRefs = decode_value(value)?;
                    refs.owners.push(owner.clone());
                    refs
                }
                None => {
                    deltas.add(extent.segment, record_bytes(extent));
                    ExtentRefs {
                        extent: *extent,
                        owners: vec![owner.clone()],
                    }
                }
            };
            self.extent_refs.put(wtxn, &key, &encode_value(&refs))?;
        }
        Ok(())
    }

    /// Removes one occurrence of `owner` from each extent; an extent left
    /// without owners is dead and its bytes leave the segment's live count.
    pub(crate) fn space_release(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        extents: &[Extent],
        owner: &ExtentOwner,
        deltas: &mut SpaceDeltas,
    ) -> EngineResult<()> {
        for extent in extents.iter().filter(|e| !self.foreign(e)) {
            let key = extent_ref_key(extent.segment, extent.offset_bytes);
            let Some(value) = self.extent_refs.get(wtxn, &key)? else {
                // Already dead: accounting predates this record (repair).
                continue;
            };
            let mut refs: ExtentRefs = decode_value(value)?;
            if let Some(at) = refs.owners.iter().position(|o| o == owner) {
                refs.owners.swap_remove(at);
            }
            if refs.owners.is_empty() {
                self.extent_refs.delete(wtxn, &key)?;
                deltas.add(extent.segment, -record_bytes(extent));
            } else {
                self.extent_refs.put(wtxn, &key, &encode_value(&refs))?;
            }
        }
        Ok(())
    }

    /// Writes the batch's live-byte changes.
    pub(crate) fn space_apply_deltas(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        deltas: &SpaceDeltas,
    ) -> EngineResult<()> {
        for (segment, delta) in &deltas.by_segment {
            if *delta == 0 {
                continue;
            }
            let key = segment.to_be_bytes();
            let mut space: SegmentSpace = match self.segment_space.get(wtxn, &key)? {
                Some(value) => decode_value(value)?,
                None => SegmentSpace::default(),
            };
            space.live_bytes = space.live_bytes.checked_add_signed(*delta).ok_or_else(|| {
                EngineError::Corrupt {
                    detail: format!("segment {segment} live bytes would go negative"),
                }
            })?;
            self.segment_space.put(wtxn, &key, &encode_value(&space))?;
        }
        Ok(())
    }

    /// Points every owner of the record at `from` to `to` (same record, moved
    /// by the compactor). If the record died meanwhile, nothing changes and
    /// the copy at `to` is simply dead.
    pub(crate) fn space_relocate(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        from_segment: u32,
        from_offset_bytes: u64,
        to: &Extent,
        deltas: &mut SpaceDeltas,
    ) -> EngineResult<()> {
        let from_key = extent_ref_key(from_segment, from_offset_bytes);
        let Some(value) = self.extent_refs.get(wtxn, &from_key)? else {
            return Ok(());
        };
        let mut refs: ExtentRefs = decode_value(value)?;
        let moved = |extents: &mut Vec<Extent>| {
            for extent in extents.iter_mut() {
                if extent.segment == from_segment && extent.offset_bytes == from_offset_bytes {
                    *extent = *to;
                }
            }
        };
        let mut owners = refs.owners.clone();
        owners.dedup();
        for owner in &owners {
            match owner {
                ExtentOwner::Object(index_key) => {
                    let Some(value) = self.objects.get(wtxn, index_key)? else {
                        continue;
                    };
                    let mut record: ObjectRecord = decode_value(value)?;
                    if let ObjectBody::Extents(extents) = &mut record.body {
                        moved(extents);
                    }
                    self.objects.put(wtxn, index_key, &encode_value(&record))?;
                }
                ExtentOwner::Part {
                    upload_id,
                    part_number,
                } => {
                    let key = crate::multipart::part_key(upload_id, *part_number);
                    let Some(value) = self.parts.get(wtxn, &key)? else {
                        continue;
                    };
                    let mut record: PartRecord = decode_value(value)?;
                    moved(&mut record.extents);
                    self.parts.put(wtxn, &key, &encode_value(&record))?;
                }
            }
        }
        self.extent_refs.delete(wtxn, &from_key)?;
        deltas.add(from_segment, -record_bytes(&refs.extent));
        refs.extent = *to;
        let to_key = extent_ref_key(to.segment, to.offset_bytes);
        self.extent_refs.put(wtxn, &to_key, &encode_value(&refs))?;
        deltas.add(to.segment, record_bytes(to));
        Ok(())
    }

    /// Marks `segment` retired, provided no record in it is referenced.
    pub(crate) fn space_retire(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        segment: u32,
    ) -> EngineResult<()> {
        if self.segment_has_refs(wtxn, segment)? {
            return Err(EngineError::SegmentInUse { segment });
        }
        let space = SegmentSpace {
            live_bytes: 0,
            retired: true,
        };
        self.segment_space
            .put(wtxn, &segment.to_be_bytes(), &encode_value(&space))?;
        Ok(())
    }

    fn segment_has_refs(&self, txn: &heed::RoTxn<'_>, segment: u32) -> EngineResult<bool> {
        let mut iter = self.extent_refs.prefix_iter(txn, &segment.to_be_bytes())?;
        Ok(iter.next().transpose()?.is_some())
    }

    /// Every referenced record in `segment`, in offset order.
    pub fn segment_extent_refs(&self, segment: u32) -> EngineResult<Vec<ExtentRefs>> {
        let rtxn = self.read_txn()?;
        let mut out = Vec::new();
        for entry in self
            .extent_refs
            .prefix_iter(&rtxn, &segment.to_be_bytes())?
        {
            let (_, value) = entry?;
            out.push(decode_value(value)?);
        }
        Ok(out)
    }

    /// The shard's per-segment accounting.
    pub fn space_report(&self) -> EngineResult<SpaceReport> {
        let rtxn = self.read_txn()?;
        let mut report = SpaceReport::default();
        for entry in self.segment_space.iter(&rtxn)? {
            let (key, value) = entry?;
            let segment = u32::from_be_bytes(key.try_into().map_err(|_| EngineError::Corrupt {
                detail: "segment space key length".into(),
            })?);
            let space: SegmentSpace = decode_value(value)?;
            if space.retired {
                report.retired_segments.push(segment);
            } else {
                report.segments.push((segment, space));
            }
        }
        Ok(report)
    }

    /// The other shards whose records this shard's objects or parts list
    /// (copies made across shards by builds before accounting existed).
    /// Those shards must not compact: they cannot see these references.
    pub fn foreign_shards_referenced(&self) -> EngineResult<std::collections::BTreeSet<u16>> {
        let mut out = std::collections::BTreeSet::new();
        let Some(own) = self.shard else {
            return Ok(out);
        };
        let rtxn = self.read_txn()?;
        for entry in self.objects.iter(&rtxn)? {
            let (_, value) = entry?;
            let record: ObjectRecord = decode_value(value)?;
            out.extend(
                body_extents(&record)
                    .iter()
                    .map(|e| e.shard)
                    .filter(|s| *s != own),
            );
        }
        for entry in self.parts.iter(&rtxn)? {
            let (_, value) = entry?;
            let record: PartRecord = decode_value(value)?;
            out.extend(record.extents.iter().map(|e| e.shard).filter(|s| *s != own));
        }
        Ok(out)
    }

    /// Accounts an index that has none yet (written before accounting
    /// existed); a no-op once the marker is present.
    pub(crate) fn space_ensure_accounted(&self) -> EngineResult<()> {
        let rtxn = self.read_txn()?;
        if self.space_meta.get(&rtxn, ACCOUNTING_MARKER)?.is_some() {
            return Ok(());
        }
        drop(rtxn);
        self.space_rebuild()
    }

    /// Recomputes the accounting from the objects and parts (keeping which
    /// segments are retired) and writes it in `wtxn`.
    fn space_rebuild_in(&self, wtxn: &mut heed::RwTxn<'_>) -> EngineResult<()> {
        let (refs, live) = self.space_recompute(wtxn)?;
        let retired: Vec<u32> = {
            let mut out = Vec::new();
            for entry in self.segment_space.iter(wtxn)? {
                let (key, value) = entry?;
                if decode_value::<SegmentSpace>(value)?.retired {
                    out.push(u32::from_be_bytes(key.try_into().unwrap_or_default()));
                }
            }
            out
        };
        self.extent_refs.clear(wtxn)?;
        self.segment_space.clear(wtxn)?;
        for (key, value) in &refs {
            self.extent_refs.put(wtxn, key, &encode_value(value))?;
        }
        for (segment, live_bytes) in &live {
            let space = SegmentSpace {
                live_bytes: *live_bytes,
                retired: false,
            };
            self.segment_space
                .put(wtxn, &segment.to_be_bytes(), &encode_value(&space))?;
        }
        for segment in retired {
            let space = SegmentSpace {
                live_bytes: 0,
                retired: true,
            };
            self.segment_space
                .put(wtxn, &segment.to_be_bytes(), &encode_value(&space))?;
        }
        Ok(())
    }

    /// The accounting as the objects and parts imply it.
    #[allow(clippy::type_complexity)]
    fn space_recompute(
        &self,
        txn: &heed::RoTxn<'_>,
    ) -> EngineResult<(Vec<([u8; 12], ExtentRefs)>, Vec<(u32, u64)>)> {
        let mut refs: std::collections::BTreeMap<[u8; 12], ExtentRefs> = Default::default();
        let own = self.shard;
        let mut add = |extent: &Extent, owner: ExtentOwner| {
            if own.is_some_and(|own| own != extent.shard) {
                return;
            }
            refs.entry(extent_ref_key(extent.segment, extent.offset_bytes))
                .or_insert_with(|| ExtentRefs {
                    extent: *extent,
                    owners: Vec::new(),
                })
                .owners
                .push(owner);
        };
        for entry in self.objects.iter(txn)? {
            let (index_key, value) = entry?;
            let record: ObjectRecord = decode_value(value)?;
            for extent in body_extents(&record) {
                add(extent, ExtentOwner::Object(index_key.to_vec()));
            }
        }
        for entry in self.parts.iter(txn)? {
            let (part_key, value) = entry?;
            let record: PartRecord = decode_value(value)?;
            let upload_id: UploadKey = part_key[..16].try_into().expect("16-byte upload id");
            let part_number = u16::from_be_bytes([part_key[16], part_key[17]]);
            for extent in &record.extents {
                add(
                    extent,
                    ExtentOwner::Part {
                        upload_id,
                        part_number,
                    },
                );
            }
        }
        let mut live: std::collections::BTreeMap<u32, u64> = Default::default();
        for value in refs.values() {
            *live.entry(value.extent.segment).or_default() += record_bytes(&value.extent) as u64;
        }
        Ok((refs.into_iter().collect(), live.into_iter().collect()))
    }

    /// Where the stored accounting differs from what the objects and parts
    /// imply (`maxiofs check`); empty when it is exact.
    pub fn space_verify(&self) -> EngineResult<Vec<String>> {
        let rtxn = self.read_txn()?;
        let (refs, live) = self.space_recompute(&rtxn)?;
        let mut problems = Vec::new();
        let mut stored_refs = 0usize;
        for entry in self.extent_refs.iter(&rtxn)? {
            let _ = entry?;
            stored_refs += 1;
        }
        if stored_refs != refs.len() {
            problems.push(format!(
                "{stored_refs} referenced records accounted, the index lists {}",
                refs.len()
            ));
        }
        for (key, expected) in &refs {
            let stored: Option<ExtentRefs> = self
                .extent_refs
                .get(&rtxn, key)?
                .map(decode_value)
                .transpose()?;
            let same = stored.as_ref().is_some_and(|stored| {
                let mut a = stored.owners.clone();
                let mut b = expected.owners.clone();
                a.sort_by(|x, y| format!("{x:?}").cmp(&format!("{y:?}")));
                b.sort_by(|x, y| format!("{x:?}").cmp(&format!("{y:?}")));
                a == b && stored.extent == expected.extent
            });
            if !same {
                problems.push(format!(
                    "record at segment {} offset {} accounted as {stored:?}, the index implies {expected:?}",
                    expected.extent.segment, expected.extent.offset_bytes
                ));
                break;
            }
        }
        let live_map: HashMap<u32, u64> = live.into_iter().collect();
        for entry in self.segment_space.iter(&rtxn)? {
            let (key, value) = entry?;
            let segment = u32::from_be_bytes(key.try_into().unwrap_or_default());
            let space: SegmentSpace = decode_value(value)?;
            let expected = live_map.get(&segment).copied().unwrap_or(0);
            if space.retired && expected > 0 {
                problems.push(format!(
                    "segment {segment} is retired but {expected} bytes in it are referenced"
                ));
            } else if space.live_bytes != expected {
                problems.push(format!(
                    "segment {segment} accounted {} live bytes, the index implies {expected}",
                    space.live_bytes
                ));
            }
        }
        for (segment, expected) in &live_map {
            let key = segment.to_be_bytes();
            if self.segment_space.get(&rtxn, &key)?.is_none() && *expected > 0 {
                problems.push(format!(
                    "segment {segment} holds {expected} referenced bytes but has no accounting"
                ));
            }
        }
        Ok(problems)
    }

    /// Rewrites the accounting from the objects and parts (`check --repair`).
    pub fn space_rebuild(&self) -> EngineResult<()> {
        let mut wtxn = self.env.write_txn()?;
        self.space_rebuild_in(&mut wtxn)?;
        self.space_meta.put(&mut wtxn, ACCOUNTING_MARKER, &[1])?;
        wtxn.commit()?;
        Ok(())
    }
}
