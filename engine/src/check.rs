//! Offline integrity check of one shard (`maxiofs check`): every object and
//! every multipart part in the shard's index is read back from its segment
//! records and verified (header, identity, crc32c, and the HMAC tag of
//! encrypted chunks when the master key is given) exactly as a GET would,
//! sizes are checked against the manifests, and the segment files against
//! the index's high-water marks. Nothing is changed unless the caller asks
//! for [`Index::repair`], which drops the index entries whose bytes are gone.
//!
//! Reads go through plain positional `read_at` on std files, not the io_uring
//! `Disk`: the check runs with the server stopped (the data directory lock),
//! on no reactor, and its speed is the disk's either way.
//!
//! Also checked: the space accounting (live bytes per segment, extent owners)
//! against what the objects and parts imply. Not here: reclaiming segment
//! space that no index entry references; that is the compactor's work.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::crypto::{is_last_of_its_write, DataKey, MasterKey, CHUNK_TAG_BYTES, META_WRAPPED_KEY};
use crate::error::EngineResult;
use crate::format::{record_len_bytes, verify_chunk, RecordHeader, RECORD_HEADER_BYTES};
use crate::index::{decode_value, object_key_of, Extent, Index, IndexOp, ObjectBody, ObjectRecord};
use crate::index::{PartRecord, UploadKey, UploadRecord};
use crate::store::segment_path;

/// What a problem is about, so that a repair knows what to drop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// One version of an object (its `objects` index key names which).
    Object {
        bucket_id: u64,
        key: Vec<u8>,
        index_key: Vec<u8>,
    },
    /// A part of a multipart upload in progress.
    Upload {
        upload_id: UploadKey,
    },
    Segment {
        shard: u16,
        segment: u32,
    },
    /// The space accounting (live bytes, extent owners) disagrees with the
    /// objects and parts; `--repair` recomputes it.
    Accounting,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub subject: Subject,
    pub detail: String,
}

/// The result of checking one shard.
#[derive(Debug, Default)]
pub struct ShardCheck {
    pub objects: u64,
    pub parts: u64,
    pub extents: u64,
    pub payload_bytes_verified: u64,
    /// Encrypted chunks whose HMAC tag was verified.
    pub tags_verified: u64,
    /// Encrypted chunks checked by crc32c only: SSE-C (the key is the
    /// client's) or no master key given.
    pub tags_unverifiable: u64,
    pub problems: Vec<Problem>,
}

/// The data key to verify chunk tags with, from an object's (or upload's)
/// metadata: None for data in clear, SSE-C data, or without a master key.
pub(crate) fn tag_key(
    meta: &[(String, String)],
    master: Option<&MasterKey>,
) -> Result<(Option<DataKey>, bool), String> {
    let Some((_, wrapped)) = meta.iter().find(|(name, _)| name == META_WRAPPED_KEY) else {
        return Ok((None, false));
    };
    match master {
        // Wrapped by a master key (not SSE-C's or a KMS key's form).
        Some(master) if crate::crypto::wrapped_key_id(wrapped).is_ok() => master
            .unwrap_data_key(wrapped)
            .map(|key| (Some(key), false))
            .map_err(|err| format!("the data key cannot be opened: {err}")),
        // SSE-C (or no key at hand): encrypted, but only crc32c is checkable.
        _ => Ok((None, true)),
    }
}

/// Reads extents back from the segment files and verifies them; keeps the
/// files it opened (`None` when missing). Shared with the scrubber.
pub(crate) struct Segments<'a> {
    pub(crate) data_dir: &'a Path,
    pub(crate) files: HashMap<(u16, u32), Option<File>>,
    pub(crate) record: Vec<u8>,
}

impl Segments<'_> {
    /// Reads and verifies one extent (and its tag with `key`, `last` saying
    /// whether it ends its write); the error says what is wrong.
    fn verify(&mut self, extent: &Extent, key: Option<&DataKey>, last: bool) -> Result<(), String> {
        let path: PathBuf = segment_path(self.data_dir, extent.shard, extent.segment);
        let file = self
            .files
            .entry((extent.shard, extent.segment))
            .or_insert_with(|| File::open(&path).ok());
        let Some(file) = file else {
            return Err(format!("segment file {} is missing", path.display()));
        };
        let len = record_len_bytes(extent.payload_len_bytes as usize);
        self.record.resize(len, 0);
        file.read_exact_at(&mut self.record, extent.offset_bytes)
            .map_err(|err| {
                format!(
                    "segment {} offset {}: {err}",
                    extent.segment, extent.offset_bytes
                )
            })?;
        verify_chunk(
            &self.record,
            extent.object_id,
            extent.chunk_index,
            extent.payload_len_bytes,
        )
        .map_err(|why| {
            format!(
                "chunk {} (segment {} offset {}): {why}",
                extent.chunk_index, extent.segment, extent.offset_bytes
            )
        })?;
        let Some(key) = key else {
            return Ok(());
        };
        let header = RecordHeader::decode(&self.record).map_err(|why| why.to_string())?;
        let ciphertext = &self.record[RECORD_HEADER_BYTES..][..extent.payload_len_bytes as usize];
        key.verify_chunk_tag(
            extent.object_id,
            extent.chunk_index,
            last,
            ciphertext,
            &header.auth_tag,
        )
        .map_err(|_| {
            format!(
                "chunk {} (segment {} offset {}) fails its authentication tag: tampered with",
                extent.chunk_index, extent.segment, extent.offset_bytes
            )
        })
    }

    /// Verifies every extent and that they add up to `size_bytes`.
    pub(crate) fn verify_all(
        &mut self,
        extents: &[Extent],
        size_bytes: u64,
        check: &mut ShardCheck,
        tags: (Option<DataKey>, bool),
    ) -> Option<String> {
        let (key, unverifiable) = tags;
        let total: u64 = extents.iter().map(|e| u64::from(e.payload_len_bytes)).sum();
        if total != size_bytes {
            return Some(format!(
                "manifest holds {total} bytes, the record says {size_bytes}"
            ));
        }
        for (i, extent) in extents.iter().enumerate() {
            check.extents += 1;
            let last = is_last_of_its_write(extents, i);
            if let Err(why) = self.verify(extent, key.as_ref(), last) {
                return Some(why);
            }
            check.payload_bytes_verified += u64::from(extent.payload_len_bytes);
            if key.is_some() {
                check.tags_verified += 1;
            } else if unverifiable {
                check.tags_unverifiable += 1;
            }
        }
        None
    }
}

impl Index {
    /// Checks every record of this shard's index against the segment files
    /// under `data_dir`. Index read failures are errors; damaged data is a
    /// reported problem.
    pub fn check(
        &self,
        data_dir: &Path,
        shard: u16,
        master: Option<&MasterKey>,
    ) -> EngineResult<ShardCheck> {
        self.check_with_progress(data_dir, shard, master, &mut |_| {})
    }

    /// [`Index::check`], telling `progress` how far it got after each object
    /// and part (a command line shows it).
    pub fn check_with_progress(
        &self,
        data_dir: &Path,
        shard: u16,
        master: Option<&MasterKey>,
        progress: &mut dyn FnMut(&ShardCheck),
    ) -> EngineResult<ShardCheck> {
        let mut check = ShardCheck::default();
        let mut segments = Segments {
            data_dir,
            files: HashMap::new(),
            record: Vec::new(),
        };
        let rtxn = self.read_txn()?;
        for entry in self.objects_db().iter(&rtxn)? {
            let (index_key, value) = entry?;
            check.objects += 1;
            let subject = Subject::Object {
                bucket_id: u64::from_be_bytes(index_key[..8].try_into().expect("8-byte prefix")),
                key: object_key_of(index_key).to_vec(),
                index_key: index_key.to_vec(),
            };
            let problem = match decode_value::<ObjectRecord>(value) {
                Err(err) => Some(format!("unreadable index record: {err}")),
                Ok(record) => match &record.body {
                    ObjectBody::Inline(bytes) if bytes.len() as u64 != inline_len(&record) => {
                        Some(format!(
                            "inline body of {} bytes, the record says {}",
                            bytes.len(),
                            inline_len(&record)
                        ))
                    }
                    ObjectBody::Inline(_) => None,
                    ObjectBody::Extents(extents) => match tag_key(&record.meta, master) {
                        Ok(tags) => {
                            segments.verify_all(extents, record.size_bytes, &mut check, tags)
                        }
                        Err(why) => Some(why),
                    },
                },
            };
            if let Some(detail) = problem {
                check.problems.push(Problem { subject, detail });
            }
            progress(&check);
        }
        for entry in self.parts.iter(&rtxn)? {
            let (part_key, value) = entry?;
            check.parts += 1;
            let upload_id: UploadKey = part_key[..16].try_into().expect("16-byte upload id");
            let problem = match decode_value::<PartRecord>(value) {
                Err(err) => Some(format!("unreadable part record: {err}")),
                Ok(part) => {
                    let upload: Option<UploadRecord> = self
                        .uploads
                        .get(&rtxn, &upload_id)?
                        .map(decode_value)
                        .transpose()?;
                    let meta = upload.map(|u| u.meta).unwrap_or_default();
                    match tag_key(&meta, master) {
                        Ok(tags) => {
                            segments.verify_all(&part.extents, part.size_bytes, &mut check, tags)
                        }
                        Err(why) => Some(why),
                    }
                }
            };
            if let Some(detail) = problem {
                let subject = Subject::Upload { upload_id };
                if !check.problems.iter().any(|p| p.subject == subject) {
                    check.problems.push(Problem { subject, detail });
                }
            }
            progress(&check);
        }
        let retired = self.space_report()?.retired_segments;
        for (segment, state) in self.segment_states()? {
            if retired.contains(&segment) {
                continue;
            }
            let path = segment_path(data_dir, shard, segment);
            let len_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if len_bytes < state.referenced_end_bytes {
                check.problems.push(Problem {
                    subject: Subject::Segment { shard, segment },
                    detail: format!(
                        "{} holds {len_bytes} bytes, the index references {}",
                        path.display(),
                        state.referenced_end_bytes
                    ),
                });
            }
        }
        for detail in self.space_verify()? {
            check.problems.push(Problem {
                subject: Subject::Accounting,
                detail,
            });
        }
        for detail in self.usage_verify()? {
            check.problems.push(Problem {
                subject: Subject::Accounting,
                detail,
            });
        }
        Ok(check)
    }

    /// Drops what `problems` found damaged: objects are deleted, uploads
    /// aborted (a segment problem is repaired through the objects it
    /// damaged). Returns one line per dropped entry, saying what was lost.
    pub fn repair(&self, problems: &[Problem]) -> EngineResult<Vec<String>> {
        let mut ops = Vec::new();
        let mut lost = Vec::new();
        if problems.iter().any(|p| p.subject == Subject::Accounting) {
            // First, so the drops below account against the truth.
            self.space_rebuild()?;
            self.usage_rebuild()?;
        }
        for problem in problems {
            match &problem.subject {
                Subject::Object {
                    bucket_id,
                    key,
                    index_key,
                } => {
                    // That exact version, lock or no lock: its data is gone.
                    ops.push(IndexOp::DropDamagedVersion {
                        index_key: index_key.clone(),
                    });
                    lost.push(format!(
                        "object {:?} of bucket id {bucket_id}",
                        String::from_utf8_lossy(key)
                    ));
                }
                Subject::Upload { upload_id } => {
                    let upload: Option<UploadRecord> = {
                        let rtxn = self.read_txn()?;
                        self.uploads
                            .get(&rtxn, upload_id)?
                            .map(decode_value)
                            .transpose()?
                    };
                    ops.push(IndexOp::AbortUpload {
                        upload_id: *upload_id,
                    });
                    let key = upload.map(|u| String::from_utf8_lossy(&u.key).into_owned());
                    lost.push(format!(
                        "multipart upload {} (key {key:?})",
                        hex_id(upload_id)
                    ));
                }
                Subject::Segment { .. } | Subject::Accounting => {}
            }
        }
        if ops.is_empty() {
            return Ok(lost);
        }
        let outcomes = self.apply_batch(&ops, &[])?;
        for (line, outcome) in lost.iter_mut().zip(outcomes) {
            if let Err(err) = outcome {
                line.push_str(&format!(" (not dropped: {err})"));
            }
        }
        Ok(lost)
    }
}

/// Bytes an inline body takes: the object, plus the tag when it is encrypted.
fn inline_len(record: &ObjectRecord) -> u64 {
    let encrypted = record.meta.iter().any(|(name, _)| name == META_WRAPPED_KEY);
    record.size_bytes + if encrypted { CHUNK_TAG_BYTES as u64 } else { 0 }
}

fn hex_id(id: &UploadKey) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}
