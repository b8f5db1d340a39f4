//! Multipart uploads in a shard's index: the `uploads`, `parts` and
//! `completed` databases, and the reads that list them.
//!
//! - `uploads`: `upload id (16 bytes)` → [`UploadRecord`] (bucket, key, meta).
//! - `parts`: `upload id | part number (u16 BE)` → [`PartRecord`].
//! - `completed`: `upload id` → [`CompletedUpload`], so a retried Complete
//!   answers like the first one.
//!
//! Completion moves no bytes: the object's extents are the parts' extents,
//! concatenated in part order.

use std::ops::Bound;

use crate::error::{EngineError, EngineResult};
use crate::index::{decode_value, encode_value, CompletedUpload, Index, ObjectRecord};
use crate::index::{PartRecord, UploadKey, UploadRecord};
use crate::space::{ExtentOwner, SpaceDeltas};
use crate::usage::UsageChange;

pub(crate) fn part_key(upload_id: &UploadKey, part_number: u16) -> [u8; 18] {
    let mut out = [0u8; 18];
    out[..16].copy_from_slice(upload_id);
    out[16..].copy_from_slice(&part_number.to_be_bytes());
    out
}

impl Index {
    pub(crate) fn upload_create(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        upload_id: &UploadKey,
        record: &UploadRecord,
    ) -> EngineResult<()> {
        self.uploads.put(wtxn, upload_id, &encode_value(record))?;
        Ok(())
    }

    pub(crate) fn part_put(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        upload_id: &UploadKey,
        part_number: u16,
        record: &PartRecord,
        deltas: &mut SpaceDeltas,
    ) -> EngineResult<()> {
        let Some(bucket_id) = self.upload_bucket(wtxn, upload_id)? else {
            return Err(EngineError::NoSuchUpload);
        };
        let key = part_key(upload_id, part_number);
        let owner = ExtentOwner::Part {
            upload_id: *upload_id,
            part_number,
        };
        if let Some(old) = self.parts.get(wtxn, &key)? {
            let old: PartRecord = decode_value(old)?;
            self.space_release(wtxn, &old.extents, &owner, deltas)?;
            deltas.usage.add(bucket_id, UsageChange::of_part(&old, -1));
        }
        self.space_acquire(wtxn, &record.extents, &owner, deltas)?;
        deltas.usage.add(bucket_id, UsageChange::of_part(record, 1));
        self.parts.put(wtxn, &key, &encode_value(record))?;
        Ok(())
    }

    /// Checks the listed parts, then removes the upload and every part and
    /// records the completion. The caller then writes the object itself in
    /// the same transaction: the listed parts' extents lose their part owners
    /// here and gain the object as owner there, so only unlisted parts die.
    pub(crate) fn upload_complete(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        upload_id: &UploadKey,
        parts: &[(u16, String)],
        record: &ObjectRecord,
        deltas: &mut SpaceDeltas,
    ) -> EngineResult<()> {
        let upload: UploadRecord = match self.uploads.get(wtxn, upload_id)? {
            Some(value) => decode_value(value)?,
            None => return Err(EngineError::NoSuchUpload),
        };
        for (part_number, etag) in parts {
            let stored = self.parts.get(wtxn, &part_key(upload_id, *part_number))?;
            let stored: PartRecord = match stored {
                Some(value) => decode_value(value)?,
                None => {
                    return Err(EngineError::InvalidPart {
                        part_number: *part_number,
                    })
                }
            };
            if &stored.etag != etag {
                return Err(EngineError::InvalidPart {
                    part_number: *part_number,
                });
            }
        }
        self.upload_drop(wtxn, upload_id, deltas)?;
        let completed = CompletedUpload {
            bucket_id: upload.bucket_id,
            key: upload.key,
            parts: parts.to_vec(),
            etag: record.etag.clone(),
            size_bytes: record.size_bytes,
        };
        self.completed
            .put(wtxn, upload_id, &encode_value(&completed))?;
        Ok(())
    }

    pub(crate) fn upload_abort(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        upload_id: &UploadKey,
        deltas: &mut SpaceDeltas,
    ) -> EngineResult<()> {
        if self.uploads.get(wtxn, upload_id)?.is_none() {
            return Err(EngineError::NoSuchUpload);
        }
        self.upload_drop(wtxn, upload_id, deltas)
    }

    /// Drops every upload in progress in the bucket (its deletion).
    pub(crate) fn uploads_drop_of_bucket(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        bucket_id: u64,
        deltas: &mut SpaceDeltas,
    ) -> EngineResult<()> {
        let mut doomed = Vec::new();
        for entry in self.uploads.iter(wtxn)? {
            let (key, value) = entry?;
            if decode_value::<UploadRecord>(value)?.bucket_id == bucket_id {
                let upload_id: UploadKey = key.try_into().map_err(|_| EngineError::Corrupt {
                    detail: "upload key length".into(),
                })?;
                doomed.push(upload_id);
            }
        }
        for upload_id in doomed {
            self.upload_drop(wtxn, &upload_id, deltas)?;
        }
        Ok(())
    }

    /// Removes the upload and its parts; the parts' extents lose their owners.
    fn upload_drop(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        upload_id: &UploadKey,
        deltas: &mut SpaceDeltas,
    ) -> EngineResult<()> {
        let bucket_id = self.upload_bucket(wtxn, upload_id)?;
        self.uploads.delete(wtxn, upload_id)?;
        let first = part_key(upload_id, 0);
        let last = part_key(upload_id, u16::MAX);
        let range = (Bound::Included(&first[..]), Bound::Included(&last[..]));
        let mut dropped = Vec::new();
        for entry in self.parts.range(wtxn, &range)? {
            let (key, value) = entry?;
            let part_number = u16::from_be_bytes([key[16], key[17]]);
            let record: PartRecord = decode_value(value)?;
            if let Some(bucket_id) = bucket_id {
                deltas
                    .usage
                    .add(bucket_id, UsageChange::of_part(&record, -1));
            }
            dropped.push((part_number, record.extents));
        }
        for (part_number, extents) in dropped {
            let owner = ExtentOwner::Part {
                upload_id: *upload_id,
                part_number,
            };
            self.space_release(wtxn, &extents, &owner, deltas)?;
        }
        self.parts.delete_range(wtxn, &range)?;
        Ok(())
    }

    pub fn upload(&self, upload_id: &UploadKey) -> EngineResult<Option<UploadRecord>> {
        let rtxn = self.read_txn()?;
        self.uploads
            .get(&rtxn, upload_id)?
            .map(decode_value)
            .transpose()
    }

    pub fn completed_upload(&self, upload_id: &UploadKey) -> EngineResult<Option<CompletedUpload>> {
        let rtxn = self.read_txn()?;
        self.completed
            .get(&rtxn, upload_id)?
            .map(decode_value)
            .transpose()
    }

    /// Parts with numbers greater than `after`, at most `parts_max` of them,
    /// and whether more follow.
    pub fn upload_parts(
        &self,
        upload_id: &UploadKey,
        after: u16,
        parts_max: usize,
    ) -> EngineResult<(Vec<(u16, PartRecord)>, bool)> {
        let rtxn = self.read_txn()?;
        let first = part_key(upload_id, after.saturating_add(1));
        let last = part_key(upload_id, u16::MAX);
        if after == u16::MAX {
            return Ok((Vec::new(), false));
        }
        let range = (Bound::Included(&first[..]), Bound::Included(&last[..]));
        let mut out = Vec::new();
        for entry in self.parts.range(&rtxn, &range)? {
            let (key, value) = entry?;
            if out.len() == parts_max {
                return Ok((out, true));
            }
            let number = u16::from_be_bytes([key[16], key[17]]);
            out.push((number, decode_value(value)?));
        }
        Ok((out, false))
    }

    /// Every upload in progress in `bucket_id` (listing sorts them by key
    /// then initiation, as S3 does).
    pub fn bucket_uploads(&self, bucket_id: u64) -> EngineResult<Vec<(UploadKey, UploadRecord)>> {
        let rtxn = self.read_txn()?;
        let mut out = Vec::new();
        for entry in self.uploads.iter(&rtxn)? {
            let (key, value) = entry?;
            let record: UploadRecord = decode_value(value)?;
            if record.bucket_id == bucket_id {
                let id: UploadKey = key.try_into().map_err(|_| EngineError::Corrupt {
                    detail: "upload id length".into(),
                })?;
                out.push((id, record));
            }
        }
        // Key, then start time; the id breaks ties so the order is total and
        // a listing resumes at the same place every time.
        out.sort_by(|a, b| {
            (&a.1.key, a.1.initiated_ms, a.0).cmp(&(&b.1.key, b.1.initiated_ms, b.0))
        });
        Ok(out)
    }
}
