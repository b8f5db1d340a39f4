//! The re-wrap after a master key rotation: every data key still wrapped by
//! an earlier master key (objects and multipart uploads of this shard) is
//! wrapped again by the current one, so the earlier key can eventually be
//! retired. Object bytes are not touched: only the wrapped key in the
//! metadata changes, by a conditional index change that loses (harmlessly)
//! to any concurrent overwrite.
//!
//! Runs on the owner shard's reactor: it reads the index in short
//! transactions and commits through the shard's group commit.

use std::ops::Bound;

use heed::types::Bytes;
use heed::Database;

use crate::crypto::{wrapped_key_id, MasterKey, META_WRAPPED_KEY};
use crate::error::{EngineError, EngineResult};
use crate::index::{decode_value, IndexOp, ObjectRecord, UploadRecord};
use crate::io::Disk;
use crate::store::ShardStore;

/// Index entries examined per read transaction (and committed per group).
const REWRAP_BATCH_ENTRIES: usize = 256;

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RewrapOutcome {
    /// Data keys moved to the current master key.
    pub rewrapped: u64,
    /// Entries still under an earlier key after the pass: changed while the
    /// pass ran (the next pass retries), or naming a key the ring lacks.
    pub remaining: u64,
}

impl<D: Disk> ShardStore<D> {
    /// One pass over the shard's objects and uploads.
    pub async fn rewrap_pass(&self, master: &MasterKey) -> EngineResult<RewrapOutcome> {
        let mut outcome = RewrapOutcome::default();
        for walked in [Walked::Objects, Walked::Uploads] {
            let mut after: Option<Vec<u8>> = None;
            loop {
                let batch = self.rewrap_candidates(walked, after.as_deref(), master)?;
                let Some(last) = batch.scanned_last else {
                    break;
                };
                after = Some(last);
                let mut commits = Vec::new();
                for (index_key, old_value) in batch.candidates {
                    let new_value = match master.rewrap_data_key(&old_value) {
                        Ok(Some(new_value)) => new_value,
                        Ok(None) => continue,
                        Err(err) => {
                            tracing::error!(shard = self.shard(), %err,
                                "a data key cannot be re-wrapped");
                            outcome.remaining += 1;
                            continue;
                        }
                    };
                    let name = META_WRAPPED_KEY.to_owned();
                    let op = if walked == Walked::Objects {
                        IndexOp::ReplaceObjectMeta {
                            index_key,
                            name,
                            old_value,
                            new_value,
                        }
                    } else {
                        IndexOp::ReplaceUploadMeta {
                            upload_id: index_key[..].try_into().map_err(|_| {
                                EngineError::Corrupt {
                                    detail: "upload id length".into(),
                                }
                            })?,
                            name,
                            old_value,
                            new_value,
                        }
                    };
                    commits.push(self.commit(op));
                }
                for result in futures_util::future::join_all(commits).await {
                    match result {
                        Ok(()) => outcome.rewrapped += 1,
                        Err(
                            EngineError::PreconditionFailed
                            | EngineError::NoSuchObject
                            | EngineError::NoSuchUpload
                            | EngineError::NoSuchBucket,
                        ) => {
                            // Overwritten, deleted or completed meanwhile: whatever
                            // replaced it was written under the current key, except
                            // an old upload's completion, which the next pass finds.
                        }
                        Err(other) => return Err(other),
                    }
                }
            }
        }
        // Entries that changed under the pass are counted by looking again.
        outcome.remaining += self.count_under_earlier_keys(master)?;
        Ok(outcome)
    }

    fn rewrap_candidates(
        &self,
        walked: Walked,
        after: Option<&[u8]>,
        master: &MasterKey,
    ) -> EngineResult<RewrapBatch> {
        let db: Database<Bytes, Bytes> = match walked {
            Walked::Objects => self.index().objects_db(),
            Walked::Uploads => self.index().uploads,
        };
        let rtxn = self.index().read_txn()?;
        let range = match after {
            Some(after) => (Bound::Excluded(after), Bound::Unbounded),
            None => (Bound::Unbounded, Bound::Unbounded),
        };
        let mut batch = RewrapBatch::default();
        for entry in db.range(&rtxn, &range)?.take(REWRAP_BATCH_ENTRIES) {
            let (key, value) = entry?;
            batch.scanned_last = Some(key.to_vec());
            let meta = if walked == Walked::Objects {
                decode_value::<ObjectRecord>(value)?.meta
            } else {
                decode_value::<UploadRecord>(value)?.meta
            };
            if let Some(wrapped) = wrapped_under_earlier_key(&meta, master) {
                batch.candidates.push((key.to_vec(), wrapped));
            }
        }
        Ok(batch)
    }

    /// Objects and uploads whose data key an earlier master key wraps.
    pub fn count_under_earlier_keys(&self, master: &MasterKey) -> EngineResult<u64> {
        let rtxn = self.index().read_txn()?;
        let mut count = 0;
        for entry in self.index().objects_db().iter(&rtxn)? {
            let (_, value) = entry?;
            let meta = decode_value::<ObjectRecord>(value)?.meta;
            count += u64::from(wrapped_under_earlier_key(&meta, master).is_some());
        }
        for entry in self.index().uploads.iter(&rtxn)? {
            let (_, value) = entry?;
            let meta = decode_value::<UploadRecord>(value)?.meta;
            count += u64::from(wrapped_under_earlier_key(&meta, master).is_some());
        }
        Ok(count)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Walked {
    Objects,
    Uploads,
}

#[derive(Default)]
struct RewrapBatch {
    /// The last key examined (None: the database is done).
    scanned_last: Option<Vec<u8>>,
    /// (index key, wrapped data key under an earlier master key).
    candidates: Vec<(Vec<u8>, String)>,
}

/// The wrapped data key in `meta` if a master key other than the current
/// one wraps it (SSE-C keys are the client's and never re-wrapped).
fn wrapped_under_earlier_key(meta: &[(String, String)], master: &MasterKey) -> Option<String> {
    let (_, wrapped) = meta.iter().find(|(name, _)| name == META_WRAPPED_KEY)?;
    match wrapped_key_id(wrapped) {
        Ok(id) if id != master.id() => Some(wrapped.clone()),
        _ => None,
    }
}
