//! The compactor of one shard: returns the space of dead records to the
//! filesystem. Runs on the owner shard's reactor, beside the writer.
//!
//! A pass picks the sealed segment with the fewest live bytes, provided they
//! are below the configured share of a segment. Each referenced record in it
//! is read, verified, and appended verbatim to the active segment (a record
//! names its object and chunk, not its place, so its checksum and tag stay
//! valid), then an [`IndexOp::Relocate`] points every owner at the copy,
//! group-committed like any write. When nothing in the segment is referenced
//! any more, [`IndexOp::RetireSegment`] marks it retired; the file is removed
//! once every reader pinned before that commit is done (see [`crate::pins`]).
//!
//! Foreground latency: relocation is paced to `rate_bytes_per_s`, moves at
//! most a few MiB between commits, and shares the group commit with client
//! writes instead of adding fsyncs of its own.

use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{EngineError, EngineResult};
use crate::format::{record_len_bytes, verify_chunk};
use crate::index::IndexOp;
use crate::io::{AlignedBuf, Disk, DiskFile};
use crate::limits::{
    COMPACT_BATCH_BYTES_MAX, COMPACT_YIELD_MS_MAX, DISK_BLOCK_BYTES, INFLIGHT_WRITE_IDLE_MS_MAX,
};
use crate::pins::ReadPins;
use crate::space::ExtentRefs;
use crate::store::{segment_path, ShardStore, WriteFor};

#[derive(Clone, Debug)]
pub struct CompactionConfig {
    /// Sealed segments whose live bytes are at most this share of a segment
    /// are compacted (0.5: at least half of the segment comes back).
    pub live_ratio_max: f64,
    /// Record bytes relocated per second at most; 0 disables compaction.
    pub rate_bytes_per_s: u64,
    /// Pause between passes when there was nothing to do.
    pub idle_interval: Duration,
    /// An active segment with no client write for this long and nothing live
    /// in it is sealed so its file can be removed (else deleting everything
    /// would leave each shard's last segment allocated forever). Only when
    /// nothing is live: sealing one that holds data would make the compactor
    /// move that data into a new active segment, then seal that, forever.
    pub seal_idle_after: Duration,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        CompactionConfig {
            live_ratio_max: 0.5,
            rate_bytes_per_s: 64 << 20,
            idle_interval: Duration::from_secs(10),
            seal_idle_after: Duration::from_secs(60),
        }
    }
}

/// Progress counters, readable from any thread (metrics hooks).
#[derive(Debug, Default)]
pub struct CompactionStats {
    pub passes: AtomicU64,
    pub segments_retired: AtomicU64,
    pub segments_removed: AtomicU64,
    pub records_relocated: AtomicU64,
    pub bytes_relocated: AtomicU64,
    /// Segment file bytes returned to the filesystem.
    pub bytes_reclaimed: AtomicU64,
    /// Records that failed verification while being moved (moved anyway:
    /// they stay exactly as damaged as they were, and keep failing reads).
    pub corrupt_records_seen: AtomicU64,
}

/// Compaction logs its progress at most this often.
const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// The compactor's own state in the store.
#[derive(Debug, Default)]
pub(crate) struct CompactorState {
    /// Retired segments whose files wait for readers pinned before `mark`.
    removals: Vec<(u32, u64)>,
}

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassOutcome {
    pub segment: Option<u32>,
    pub records_relocated: u64,
    pub segments_removed: u64,
}

impl<D: Disk> ShardStore<D> {
    /// Starts the compaction loop on the current reactor; it ends with the
    /// commit loop (at shutdown).
    pub fn start_compactor(self: &Rc<Self>, config: CompactionConfig, pins: Arc<ReadPins>) {
        if config.rate_bytes_per_s == 0 {
            return;
        }
        let store = self.clone();
        monoio::spawn(async move {
            // Progress is logged at most once a minute, and only after work.
            let mut logged_at = Instant::now();
            let mut reclaimed_logged = 0u64;
            loop {
                if store.is_shut_down() {
                    break;
                }
                let reclaimed = store
                    .compaction_stats
                    .bytes_reclaimed
                    .load(Ordering::Relaxed);
                if reclaimed > reclaimed_logged && logged_at.elapsed() >= PROGRESS_LOG_INTERVAL {
                    tracing::info!(
                        shard = store.shard(),
                        reclaimed_bytes = reclaimed - reclaimed_logged,
                        relocated_bytes_total = store
                            .compaction_stats
                            .bytes_relocated
                            .load(Ordering::Relaxed),
                        segments_removed_total = store
                            .compaction_stats
                            .segments_removed
                            .load(Ordering::Relaxed),
                        "compaction progress since the last report"
                    );
                    logged_at = Instant::now();
                    reclaimed_logged = reclaimed;
                }
                let worked = match store.compact_pass(&config, &pins).await {
                    Ok(outcome) => outcome.segment.is_some() || outcome.segments_removed > 0,
                    Err(EngineError::ShuttingDown) => break,
                    Err(err) => {
                        tracing::warn!(shard = store.shard(), %err, "compaction pass failed");
                        false
                    }
                };
                let pause = if worked {
                    Duration::from_millis(10)
                } else {
                    config.idle_interval
                };
                store.sleep_unless_shut_down(pause).await;
            }
        });
    }

    async fn sleep_unless_shut_down(&self, pause: Duration) {
        let step = Duration::from_millis(100);
        let until = Instant::now() + pause;
        while !self.is_shut_down() {
            let now = Instant::now();
            if now >= until {
                break;
            }
            monoio::time::sleep(step.min(until - now)).await;
        }
    }

    /// One compaction step: removes files whose grace has passed, seals an
    /// idle and mostly dead active segment, and compacts the emptiest sealed
    /// segment below the threshold.
    pub async fn compact_pass(
        &self,
        config: &CompactionConfig,
        pins: &ReadPins,
    ) -> EngineResult<PassOutcome> {
        let mut outcome = PassOutcome {
            segments_removed: self.remove_retired_files(pins)?,
            ..PassOutcome::default()
        };
        self.compaction_stats.passes.fetch_add(1, Ordering::Relaxed);
        let report = self.index().space_report()?;
        let live_max_bytes = (self.config.segment_bytes as f64 * config.live_ratio_max) as u64;
        let live_of = |segment: u32| {
            report
                .segments
                .iter()
                .find(|(number, _)| *number == segment)
                .map_or(0, |(_, space)| space.live_bytes)
        };
        self.seal_idle_active(config, live_of);
        self.expire_idle_writes();
        let candidate = {
            let writer = self.writer.borrow();
            // Bytes of writes in flight are live even though no committed
            // entry references them yet (see `crate::inflight`).
            let busy = |segment: u32| {
                writer.active.as_ref().is_some_and(|a| a.number == segment)
                    || writer.unsynced.iter().any(|s| s.number == segment)
                    || writer.retired.contains(&segment)
                    || writer.inflight.holds(segment)
            };
            self.index()
                .segment_states()?
                .into_iter()
                .map(|(segment, _)| (segment, live_of(segment)))
                .filter(|(segment, live)| *live <= live_max_bytes && !busy(*segment))
                .min_by_key(|(segment, live)| (*live, *segment))
        };
        let Some((segment, _)) = candidate else {
            return Ok(outcome);
        };
        outcome.segment = Some(segment);
        outcome.records_relocated = self.relocate_all(segment, config).await?;
        self.retire(segment, pins).await?;
        outcome.segments_removed += self.remove_retired_files(pins)?;
        Ok(outcome)
    }

    /// Drops the holds of writers that vanished without abandoning their
    /// write (see [`INFLIGHT_WRITE_IDLE_MS_MAX`]).
    fn expire_idle_writes(&self) {
        let idle_max = Duration::from_millis(INFLIGHT_WRITE_IDLE_MS_MAX);
        let expired = self
            .writer
            .borrow_mut()
            .inflight
            .expire_idle(Instant::now(), idle_max);
        if expired > 0 {
            tracing::warn!(
                shard = self.shard(),
                expired,
                "writes in flight idle for an hour lost their hold on their segments"
            );
        }
    }

    fn seal_idle_active(&self, config: &CompactionConfig, live_of: impl Fn(u32) -> u64) {
        let mut writer = self.writer.borrow_mut();
        let Some(active) = writer.active.clone() else {
            return;
        };
        if writer.last_append_at.elapsed() >= config.seal_idle_after
            && live_of(active.number) == 0
            && writer.append_at_bytes > 0
        {
            tracing::debug!(
                shard = self.shard(),
                segment = active.number,
                "sealing the idle active segment"
            );
            writer.active = None;
        }
    }

    /// Moves every referenced record out of `segment`; returns how many.
    async fn relocate_all(&self, segment: u32, config: &CompactionConfig) -> EngineResult<u64> {
        let refs = self.index().segment_extent_refs(segment)?;
        let path = segment_path(&self.config.data_dir, self.config.shard, segment);
        let file = self.disk.open_segment(&path, false)?;
        let started = Instant::now();
        let mut moved_bytes = 0u64;
        let mut moved_records = 0u64;
        for batch in batches(&refs) {
            let mut commits = Vec::with_capacity(batch.len());
            for refs in batch {
                if self.is_shut_down() {
                    return Err(EngineError::ShuttingDown);
                }
                let op = self.copy_record(&file, segment, refs).await?;
                moved_bytes += record_len_bytes(refs.extent.payload_len_bytes as usize) as u64;
                commits.push(self.commit(op));
            }
            // One group commit (one fdatasync) for the whole batch.
            for result in futures_util::future::join_all(commits).await {
                result?;
            }
            moved_records += batch.len() as u64;
            self.compaction_stats
                .records_relocated
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            pace(started, moved_bytes, config.rate_bytes_per_s).await;
            self.yield_to_clients().await;
        }
        self.compaction_stats
            .bytes_relocated
            .fetch_add(moved_bytes, Ordering::Relaxed);
        Ok(moved_records)
    }

    /// Low priority: waits while client commits are queued, for at most
    /// `COMPACT_YIELD_MS_MAX`, so a relocation batch rarely lands in the same
    /// group commit (and fdatasync) as client writes. Bounded, so a shard
    /// under constant load still reclaims space.
    async fn yield_to_clients(&self) {
        let deadline = Instant::now() + Duration::from_millis(COMPACT_YIELD_MS_MAX);
        while self.commits_queued() > 0 && Instant::now() < deadline {
            monoio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Reads one record and appends it unchanged; returns the index change
    /// that points its owners at the copy.
    async fn copy_record(
        &self,
        file: &D::File,
        segment: u32,
        refs: &ExtentRefs,
    ) -> EngineResult<IndexOp> {
        let extent = refs.extent;
        let record_len = record_len_bytes(extent.payload_len_bytes as usize);
        let buf = AlignedBuf::new(record_len.next_multiple_of(DISK_BLOCK_BYTES));
        let (read, buf) = file.read_at(buf, extent.offset_bytes, record_len).await;
        read?;
        if let Err(detail) = verify_chunk(
            buf.as_slice(),
            extent.object_id,
            extent.chunk_index,
            extent.payload_len_bytes,
        ) {
            self.compaction_stats
                .corrupt_records_seen
                .fetch_add(1, Ordering::Relaxed);
            tracing::error!(shard = self.shard(), segment, offset = extent.offset_bytes,
                %detail, "compaction moved a damaged record as it was");
        }
        let (appended, _buf) = self
            .append_record(
                buf,
                extent.object_id,
                extent.chunk_index,
                extent.payload_len_bytes,
                WriteFor::Compaction,
            )
            .await;
        Ok(IndexOp::Relocate {
            from_segment: segment,
            from_offset_bytes: extent.offset_bytes,
            to: appended?,
        })
    }

    /// Commits the retirement; from the moment it is decided, no commit may
    /// reference the segment (the store refuses them like poisoned ones).
    /// A sealed segment gains no new writes, so one not held when the pass
    /// chose it stays unheld; checked again all the same, since retiring a
    /// held segment would fail a client's upload.
    async fn retire(&self, segment: u32, pins: &ReadPins) -> EngineResult<()> {
        {
            let mut writer = self.writer.borrow_mut();
            if writer.inflight.holds(segment) {
                return Ok(());
            }
            writer.retired.insert(segment);
        }
        if let Err(err) = self.commit(IndexOp::RetireSegment { segment }).await {
            // Something referenced it after all (a copy of a moved record
            // committed meanwhile): keep it, a later pass moves that too.
            self.writer.borrow_mut().retired.remove(&segment);
            return match err {
                EngineError::SegmentInUse { .. } => Ok(()),
                other => Err(other),
            };
        }
        self.compaction_stats
            .segments_retired
            .fetch_add(1, Ordering::Relaxed);
        self.compaction
            .borrow_mut()
            .removals
            .push((segment, pins.mark()));
        Ok(())
    }

    /// Removes the files of retired segments no pinned reader may still use.
    fn remove_retired_files(&self, pins: &ReadPins) -> EngineResult<u64> {
        let mut state = self.compaction.borrow_mut();
        let mut removed = 0;
        let mut kept = Vec::new();
        for (segment, mark) in state.removals.drain(..) {
            if pins.pinned_before(mark) {
                kept.push((segment, mark));
                continue;
            }
            let path = segment_path(&self.config.data_dir, self.config.shard, segment);
            match self.disk.remove_segment(&path) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => {
                    kept.push((segment, mark));
                    tracing::warn!(shard = self.shard(), segment, %err,
                        "removing a retired segment failed; will retry");
                    continue;
                }
            }
            removed += 1;
            pins.segment_removed();
            self.compaction_stats
                .segments_removed
                .fetch_add(1, Ordering::Relaxed);
            self.compaction_stats
                .bytes_reclaimed
                .fetch_add(self.config.segment_bytes, Ordering::Relaxed);
            tracing::debug!(shard = self.shard(), segment, "segment file removed");
        }
        state.removals = kept;
        Ok(removed)
    }
}

/// Splits the records into runs of at most `COMPACT_BATCH_BYTES_MAX`
/// (always at least one record).
fn batches(refs: &[ExtentRefs]) -> Vec<&[ExtentRefs]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (at, item) in refs.iter().enumerate() {
        let len = record_len_bytes(item.extent.payload_len_bytes as usize) as u64;
        if at > start && bytes + len > COMPACT_BATCH_BYTES_MAX {
            out.push(&refs[start..at]);
            start = at;
            bytes = 0;
        }
        bytes += len;
    }
    if start < refs.len() {
        out.push(&refs[start..]);
    }
    out
}

/// Sleeps as long as needed to keep `moved_bytes` since `started` at or
/// under `rate_bytes_per_s`.
async fn pace(started: Instant, moved_bytes: u64, rate_bytes_per_s: u64) {
    if rate_bytes_per_s == 0 {
        return;
    }
    let due = Duration::from_secs_f64(moved_bytes as f64 / rate_bytes_per_s as f64);
    let elapsed = started.elapsed();
    if due > elapsed {
        monoio::time::sleep(due - elapsed).await;
    }
}
