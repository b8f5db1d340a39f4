//! The owner shard's writer: appends sealed chunk records to the shard's
//! segment files and commits index changes in groups.
//!
//! A write is acknowledged in three steps, and a crash at each leaves:
//! 1. chunk records written (`append_chunk`): unreferenced bytes after the
//!    segment's committed end; recovery writes over them.
//! 2. the segments written since the last sync are fdatasync'ed (group commit):
//!    same as 1, the bytes are durable but unreferenced.
//! 3. one LMDB transaction records the objects and the segments' new referenced
//!    ends: the objects exist. Only now does any request get its 2xx.
//!
//! Everything here runs on the owner shard's reactor; state is in `RefCell`s
//! that are never borrowed across an await.

use std::cell::RefCell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use futures_channel::oneshot;

use crate::committer::Committer;
use crate::error::{EngineError, EngineResult};
use crate::format::record_len_bytes;
use crate::index::{Extent, Index, IndexOp, ObjectBody};
use crate::inflight::InflightWrites;
use crate::io::{AlignedBuf, Disk, DiskFile};
use crate::limits::COMMIT_BATCH_OPS_MAX;
use crate::usage::UsageDeltas;

/// Told every committed op's bucket usage changes, on the shard's thread.
pub type UsageObserver = Box<dyn Fn(&UsageDeltas)>;

/// Where a shard keeps its files, and how big its segments are.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    pub shard: u16,
    pub segment_bytes: u64,
    /// Free space new segments for client writes must leave on the disk, so
    /// deletes (index pages) and compaction (a fresh segment) always work on
    /// a full disk. Compaction itself may dig into it. See
    /// [`reserve_bytes_for`] for the figure the server uses.
    pub reserve_bytes: u64,
}

/// The reserve for a filesystem of `filesystem_bytes`: the configured figure,
/// but no more than [`crate::limits::DISK_RESERVE_FILESYSTEM_PERCENT`] of the
/// filesystem or one segment, whichever is larger. A fixed reserve sized for
/// large disks kept a small one refusing writes with most of its space free
/// (1.2 GB with two shards needed 320 MiB free per new segment); one segment
/// is the floor because the compactor must always be able to open one to
/// move live records out of the dead ones (an operator may still configure
/// less, as tests do).
pub fn reserve_bytes_for(configured_bytes: u64, segment_bytes: u64, filesystem_bytes: u64) -> u64 {
    let proportional = filesystem_bytes / 100 * crate::limits::DISK_RESERVE_FILESYSTEM_PERCENT;
    configured_bytes.min(proportional.max(segment_bytes))
}

pub fn shard_dir(data_dir: &Path, shard: u16) -> PathBuf {
    data_dir.join(format!("shard-{shard}"))
}

pub fn index_dir(data_dir: &Path, shard: u16) -> PathBuf {
    shard_dir(data_dir, shard).join("index")
}

pub fn segment_path(data_dir: &Path, shard: u16, segment: u32) -> PathBuf {
    shard_dir(data_dir, shard).join(format!("seg-{segment:08}"))
}

pub(crate) struct OpenSegment<F> {
    pub(crate) number: u32,
    file: Rc<F>,
}

pub(crate) struct WriterState<F> {
    pub(crate) active: Option<Rc<OpenSegment<F>>>,
    pub(crate) append_at_bytes: u64,
    next_segment: u32,
    /// Segments with completed writes not yet covered by an fdatasync.
    pub(crate) unsynced: Vec<Rc<OpenSegment<F>>>,
    /// Segments whose write or sync failed: never written again, and no
    /// commit may reference them (their bytes may not be durable).
    poisoned: HashSet<u32>,
    /// Segments the compactor retired or is retiring: no commit may
    /// reference them (their files are or will be gone).
    pub(crate) retired: HashSet<u32>,
    /// When a client write last went to the active segment (the compactor
    /// seals an idle, mostly dead active segment so it can be reclaimed).
    pub(crate) last_append_at: std::time::Instant,
    /// Client writes appended but not yet committed or abandoned: their
    /// segments are live for the compactor.
    pub(crate) inflight: InflightWrites,
    /// Whether the last new segment for client writes was refused for lack
    /// of space: the state changes are logged, not every refusal.
    disk_full: bool,
    /// The active segment was opened by the compactor, which may dig into the
    /// reserve: client writes into it check the free space first.
    active_opened_in_reserve: bool,
}

/// Who a new record is for: client writes must leave the reserve free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteFor {
    Client,
    Compaction,
}

struct PendingCommit {
    op: IndexOp,
    reply: oneshot::Sender<EngineResult<()>>,
    settle: Option<Settle>,
}

/// Run once the op's outcome is known (true: committed), right after the
/// usage observer saw its changes and before any other task runs: the
/// layer above settles what it reserved for the op in the same step as the
/// usage appears, so no one ever sees both (or neither) counted.
pub type Settle = Box<dyn FnOnce(bool)>;

pub struct ShardStore<D: Disk> {
    pub(crate) config: StoreConfig,
    pub(crate) disk: D,
    index: Index,
    committer: Committer,
    pub(crate) writer: RefCell<WriterState<D::File>>,
    pub(crate) compaction: RefCell<crate::compact::CompactorState>,
    /// Progress counters for metrics (any thread may read them).
    pub compaction_stats: std::sync::Arc<crate::compact::CompactionStats>,
    /// Group-commit batch sizes and durations, for metrics.
    pub commit_stats: std::sync::Arc<crate::stats::CommitStats>,
    pending_tx: async_channel::Sender<PendingCommit>,
    pending_rx: async_channel::Receiver<PendingCommit>,
    /// Dropped by the commit loop when it ends; `drained` waits for that.
    loop_alive_tx: RefCell<Option<async_channel::Sender<()>>>,
    loop_alive_rx: async_channel::Receiver<()>,
    /// The quota ledger of the layer above, when it set one.
    usage_observer: RefCell<Option<UsageObserver>>,
}

impl<D: Disk> ShardStore<D> {
    /// Opens the shard's store and recovers the append position: the index is
    /// the truth, and segment space after the last referenced record is reused.
    pub fn open(config: StoreConfig, disk: D, index: Index) -> EngineResult<Rc<Self>> {
        std::fs::create_dir_all(shard_dir(&config.data_dir, config.shard))?;
        let states = index.segment_states()?;
        let space = index.space_report()?;
        let retired: HashSet<u32> = space.retired_segments.iter().copied().collect();
        let mut writer = WriterState {
            active: None,
            append_at_bytes: 0,
            next_segment: 0,
            unsynced: Vec::new(),
            poisoned: HashSet::new(),
            retired: retired.clone(),
            last_append_at: std::time::Instant::now(),
            inflight: InflightWrites::default(),
            disk_full: false,
            active_opened_in_reserve: false,
        };
        // Segment numbers are never reused: a reader may still hold a handle
        // to a retired one.
        let highest = states
            .iter()
            .map(|(number, _)| *number)
            .chain(retired.iter().copied())
            .chain(space.segments.iter().map(|(number, _)| *number))
            .max();
        if let Some(highest) = highest {
            writer.next_segment = highest + 1;
        }
        remove_unreferenced_files(&config, &disk, &states, &retired)?;
        let newest = states
            .iter()
            .filter(|(number, _)| !retired.contains(number))
            .max_by_key(|(number, _)| *number);
        if let Some((number, state)) = newest {
            if *number + 1 == writer.next_segment
                && state.referenced_end_bytes < config.segment_bytes
            {
                let path = segment_path(&config.data_dir, config.shard, *number);
                let file = disk.open_segment(&path, true)?;
                writer.active = Some(Rc::new(OpenSegment {
                    number: *number,
                    file: Rc::new(file),
                }));
                writer.append_at_bytes = state.referenced_end_bytes;
            }
        }
        let committer = Committer::spawn(index.clone(), config.shard)?;
        let (pending_tx, pending_rx) = async_channel::unbounded();
        let (loop_alive_tx, loop_alive_rx) = async_channel::bounded(1);
        Ok(Rc::new(ShardStore {
            compaction: RefCell::new(crate::compact::CompactorState::default()),
            compaction_stats: Default::default(),
            commit_stats: Default::default(),
            loop_alive_tx: RefCell::new(Some(loop_alive_tx)),
            loop_alive_rx,
            config,
            disk,
            index,
            committer,
            writer: RefCell::new(writer),
            pending_tx,
            pending_rx,
            usage_observer: RefCell::new(None),
        }))
    }

    /// Sets the function told of every committed op's usage changes (before
    /// the op's waiter is answered).
    pub fn set_usage_observer(&self, observer: UsageObserver) {
        *self.usage_observer.borrow_mut() = Some(observer);
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    pub fn shard(&self) -> u16 {
        self.config.shard
    }

    /// Starts the group-commit loop on the current reactor.
    pub fn start(self: &Rc<Self>) {
        let store = self.clone();
        monoio::spawn(async move { store.commit_loop().await });
    }

    /// Stops the commit loop after the commits already queued.
    pub fn shutdown(&self) {
        self.pending_tx.close();
    }

    /// Commits waiting for the group-commit loop (the compactor yields to them).
    pub(crate) fn commits_queued(&self) -> usize {
        self.pending_rx.len()
    }

    /// True once `shutdown` was called: background work should stop.
    pub fn is_shut_down(&self) -> bool {
        self.pending_tx.is_closed()
    }

    /// Reserves room for a record of `record_len` bytes, rolling to a new
    /// segment when the active one is full or poisoned. A client write's
    /// segment is held for it from here until it commits or is abandoned.
    fn reserve(
        &self,
        record_len: u64,
        write_for: WriteFor,
        object_id: u128,
    ) -> EngineResult<(Rc<OpenSegment<D::File>>, u64)> {
        let mut writer = self.writer.borrow_mut();
        let fits = writer.append_at_bytes + record_len <= self.config.segment_bytes;
        let active = writer.active.clone().filter(|seg| {
            fits && !writer.poisoned.contains(&seg.number) && !writer.retired.contains(&seg.number)
        });
        let now = std::time::Instant::now();
        if write_for == WriteFor::Client {
            writer.last_append_at = now;
        }
        if write_for == WriteFor::Client {
            // A new segment for a client must leave the reserve free, and so
            // must client writes into a segment the compactor opened inside
            // the reserve (else they would eat the compactor's room).
            let needed_bytes = match &active {
                None => Some(self.config.segment_bytes + self.config.reserve_bytes),
                Some(_) if writer.active_opened_in_reserve => Some(self.config.reserve_bytes),
                Some(_) => None,
            };
            if let Some(needed_bytes) = needed_bytes {
                self.reserve_check_client_space(&mut writer, needed_bytes)?;
                writer.active_opened_in_reserve = false;
            }
        }
        let segment = match active {
            Some(segment) => segment,
            None => {
                let number = writer.next_segment;
                let path = segment_path(&self.config.data_dir, self.config.shard, number);
                let file = self.disk.create_segment(&path, self.config.segment_bytes)?;
                let segment = Rc::new(OpenSegment {
                    number,
                    file: Rc::new(file),
                });
                writer.next_segment = number + 1;
                writer.active = Some(segment.clone());
                writer.append_at_bytes = 0;
                writer.active_opened_in_reserve = write_for == WriteFor::Compaction;
                segment
            }
        };
        let offset = writer.append_at_bytes;
        writer.append_at_bytes += record_len;
        if write_for == WriteFor::Client {
            writer.inflight.note_append(object_id, segment.number, now);
        }
        Ok((segment, offset))
    }

    /// Refuses a client write unless `needed_bytes` are free. Checked on every
    /// new segment, so space the compactor returns is taken back by the next
    /// write that needs it; the full and writable-again states are logged
    /// once each, not per refusal.
    fn reserve_check_client_space(
        &self,
        writer: &mut WriterState<D::File>,
        needed_bytes: u64,
    ) -> EngineResult<()> {
        let shard_dir = shard_dir(&self.config.data_dir, self.config.shard);
        let free_bytes = self.disk.free_bytes(&shard_dir)?;
        if free_bytes < needed_bytes {
            if !writer.disk_full {
                writer.disk_full = true;
                tracing::warn!(
                    shard = self.config.shard,
                    free_bytes,
                    needed_bytes,
                    "data disk full: client writes refused until space returns"
                );
            }
            return Err(EngineError::DiskFull);
        }
        if writer.disk_full {
            writer.disk_full = false;
            tracing::info!(
                shard = self.config.shard,
                free_bytes,
                "data disk writable again: client writes accepted"
            );
        }
        Ok(())
    }

    /// Appends one sealed chunk record (see [`crate::format::seal_chunk`]).
    /// The buffer always comes back, for reuse.
    pub async fn append_chunk(
        &self,
        buf: AlignedBuf,
        object_id: u128,
        chunk_index: u32,
        payload_len_bytes: u32,
    ) -> (EngineResult<Extent>, AlignedBuf) {
        self.append_record(
            buf,
            object_id,
            chunk_index,
            payload_len_bytes,
            WriteFor::Client,
        )
        .await
    }

    pub(crate) async fn append_record(
        &self,
        buf: AlignedBuf,
        object_id: u128,
        chunk_index: u32,
        payload_len_bytes: u32,
        write_for: WriteFor,
    ) -> (EngineResult<Extent>, AlignedBuf) {
        let record_len = record_len_bytes(payload_len_bytes as usize) as u64;
        debug_assert_eq!(buf.len() as u64, record_len, "chunk not sealed");
        let (segment, offset_bytes) = match self.reserve(record_len, write_for, object_id) {
            Ok(reserved) => reserved,
            Err(err) => return (Err(err), buf),
        };
        let (result, buf) = segment.file.write_at(buf, offset_bytes).await;
        let mut writer = self.writer.borrow_mut();
        if let Err(err) = result {
            tracing::error!(shard = self.config.shard, segment = segment.number, %err,
                "segment write failed; segment poisoned");
            writer.poisoned.insert(segment.number);
            return (Err(err.into()), buf);
        }
        if !writer
            .unsynced
            .iter()
            .any(|seg| seg.number == segment.number)
        {
            writer.unsynced.push(segment.clone());
        }
        let extent = Extent {
            shard: self.config.shard,
            segment: segment.number,
            offset_bytes,
            payload_len_bytes,
            object_id,
            chunk_index,
        };
        (Ok(extent), buf)
    }

    /// Commits one index change durably, batched with whatever else is
    /// pending on this shard. Resolves after the LMDB commit.
    pub async fn commit(&self, op: IndexOp) -> EngineResult<()> {
        let (reply, outcome) = oneshot::channel();
        self.pending_tx
            .send(PendingCommit {
                op,
                reply,
                settle: None,
            })
            .await
            .map_err(|_| EngineError::ShuttingDown)?;
        outcome.await.map_err(|_| EngineError::ShuttingDown)?
    }

    /// Commits like [`Self::commit`], calling `settle` with the outcome in
    /// the same step as the usage observer (see [`Settle`]).
    pub async fn commit_settled(&self, op: IndexOp, settle: Settle) -> EngineResult<()> {
        let (reply, outcome) = oneshot::channel();
        let pending = PendingCommit {
            op,
            reply,
            settle: Some(settle),
        };
        if let Err(err) = self.pending_tx.send(pending).await {
            if let Some(settle) = err.into_inner().settle {
                settle(false);
            }
            return Err(EngineError::ShuttingDown);
        }
        outcome.await.map_err(|_| EngineError::ShuttingDown)?
    }

    /// The writer of `object_id` gives up before committing (client gone, a
    /// 4xx, a timeout): its records are dead and its segments no longer held.
    /// A no-op once the write committed.
    pub fn abandon_write(&self, object_id: u128) {
        self.writer.borrow_mut().inflight.release(object_id);
    }

    /// Client writes appended and not yet committed or abandoned.
    pub fn writes_in_flight(&self) -> usize {
        self.writer.borrow().inflight.len()
    }

    /// Resolves when the commit loop has committed everything queued before
    /// `shutdown` and ended.
    pub async fn drained(&self) {
        let _ = self.loop_alive_rx.recv().await;
    }

    /// Whether client writes are being refused for lack of disk space (the
    /// readiness probe).
    pub fn disk_full(&self) -> bool {
        self.writer.borrow().disk_full
    }

    /// Segments set aside after a failed write or sync (the alerts: a disk
    /// failing).
    pub fn segments_poisoned(&self) -> usize {
        self.writer.borrow().poisoned.len()
    }

    /// Commits waiting for the next group commit (a metrics gauge).
    pub fn commit_queue_len(&self) -> usize {
        self.pending_rx.len()
    }

    async fn commit_loop(self: Rc<Self>) {
        let _alive = self.loop_alive_tx.borrow_mut().take();
        while let Ok(first) = self.pending_rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < COMMIT_BATCH_OPS_MAX {
                match self.pending_rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            self.commit_batch(batch).await;
        }
    }

    async fn commit_batch(&self, batch: Vec<PendingCommit>) {
        let mut ops = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        for pending in batch {
            ops.push(pending.op);
            replies.push((pending.reply, pending.settle));
        }
        let hashed = crate::index::hash_md5_at_commit(&mut ops);
        self.commit_stats
            .md5_at_commit
            .fetch_add(hashed as u64, std::sync::atomic::Ordering::Relaxed);
        let writes: Vec<u128> = ops.iter().flat_map(op_client_writes).collect();
        self.commit_stats.batch_ops.record(ops.len() as u64);
        let started = std::time::Instant::now();
        let outcome = self.commit_batch_durably(ops).await;
        self.commit_stats
            .commit_us
            .record(started.elapsed().as_micros() as u64);
        // Committed (now live in the index) or refused (dead): either way the
        // writes' records no longer need a hold.
        let mut writer = self.writer.borrow_mut();
        for object_id in writes {
            writer.inflight.release(object_id);
        }
        drop(writer);
        match outcome {
            Ok(per_op) => {
                let observer = self.usage_observer.borrow();
                for ((reply, settle), result) in replies.into_iter().zip(per_op) {
                    // The observer (quota ledger) sees the change before the
                    // waiting request does, so its reservation is settled
                    // against counters that already include its write.
                    let result = result.map(|usage| {
                        if let Some(observer) = observer.as_ref() {
                            observer(&usage);
                        }
                    });
                    if let Some(settle) = settle {
                        settle(result.is_ok());
                    }
                    let _ = reply.send(result);
                }
            }
            Err(err) => {
                tracing::error!(shard = self.config.shard, %err, "group commit failed");
                for (reply, settle) in replies {
                    if let Some(settle) = settle {
                        settle(false);
                    }
                    let _ = reply.send(Err(clone_error(&err)));
                }
            }
        }
    }

    async fn commit_batch_durably(
        &self,
        ops: Vec<IndexOp>,
    ) -> EngineResult<Vec<EngineResult<UsageDeltas>>> {
        // Step 2: every segment written since the last sync is made durable.
        let unsynced = std::mem::take(&mut self.writer.borrow_mut().unsynced);
        for segment in &unsynced {
            let started = std::time::Instant::now();
            let synced = segment.file.sync_data().await;
            self.commit_stats
                .fdatasync_us
                .record(started.elapsed().as_micros() as u64);
            if let Err(err) = synced {
                // A failed fsync may have dropped dirty pages: nothing in this
                // segment is trusted to be durable, now or after a retry.
                self.writer.borrow_mut().poisoned.insert(segment.number);
                tracing::error!(shard = self.config.shard, segment = segment.number, %err,
                    "segment fdatasync failed; segment poisoned");
            }
        }
        let (ops, refused) = self.commit_refuse_unusable(ops);
        let segment_ends = self.commit_segment_ends(&ops);
        // Step 3: one LMDB transaction for the whole batch.
        let mut outcomes = self.committer.commit(ops, segment_ends).await?.into_iter();
        Ok(refused
            .into_iter()
            .map(|refused| match refused {
                Some(err) => Err(err),
                None => outcomes.next().expect("one outcome per committed op"),
            })
            .collect())
    }

    /// Splits off ops whose bytes sit in a poisoned segment (their bytes may
    /// not be durable) or a retired one (its file is or will be gone). A
    /// client write reaches a retired segment only when its hold expired (see
    /// [`crate::inflight`]); a compaction copy only when its source segment
    /// was retired under it, which the compactor never does.
    fn commit_refuse_unusable(
        &self,
        ops: Vec<IndexOp>,
    ) -> (Vec<IndexOp>, Vec<Option<EngineError>>) {
        let writer = self.writer.borrow();
        let mut kept = Vec::with_capacity(ops.len());
        let mut refused = Vec::with_capacity(ops.len());
        for op in ops {
            let own = || {
                op_extents(&op)
                    .iter()
                    .filter(|extent| extent.shard == self.config.shard)
            };
            let verdict = if own().any(|extent| writer.poisoned.contains(&extent.segment)) {
                Some(EngineError::SegmentPoisoned)
            } else if own().any(|extent| writer.retired.contains(&extent.segment)) {
                Some(EngineError::WriteExpired)
            } else {
                None
            };
            if verdict.is_none() {
                kept.push(op);
            }
            refused.push(verdict);
        }
        (kept, refused)
    }

    fn commit_segment_ends(&self, ops: &[IndexOp]) -> Vec<(u32, u64)> {
        let mut ends: Vec<(u32, u64)> = Vec::new();
        for extent in ops.iter().flat_map(|op| op_extents(op).iter()) {
            if extent.shard != self.config.shard {
                continue;
            }
            match ends
                .iter_mut()
                .find(|(segment, _)| *segment == extent.segment)
            {
                Some((_, end)) => *end = (*end).max(extent.end_bytes()),
                None => ends.push((extent.segment, extent.end_bytes())),
            }
        }
        ends
    }
}

/// Removes segment files nothing can reference: never committed (a crash
/// before the first commit into them) or retired (a crash between the
/// retirement commit and the removal). No reader exists yet at open.
fn remove_unreferenced_files<D: Disk>(
    config: &StoreConfig,
    disk: &D,
    states: &[(u32, crate::index::SegmentState)],
    retired: &HashSet<u32>,
) -> EngineResult<()> {
    let dir = shard_dir(&config.data_dir, config.shard);
    for path in disk.list_files(&dir)? {
        let Some(number) = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_prefix("seg-"))
            .and_then(|digits| digits.parse::<u32>().ok())
        else {
            continue;
        };
        let referenced = states.iter().any(|(n, _)| *n == number) && !retired.contains(&number);
        if !referenced {
            tracing::info!(
                shard = config.shard,
                segment = number,
                "removing a segment file nothing references"
            );
            disk.remove_segment(&path)?;
        }
    }
    Ok(())
}

/// The client writes an op commits: the object ids of its new records.
/// (A copy that shares another object's records names that object's id,
/// which has no hold: releasing it is a no-op.)
fn op_client_writes(op: &IndexOp) -> impl Iterator<Item = u128> + '_ {
    let extents = match op {
        IndexOp::PutObject { .. } | IndexOp::PutPart { .. } => op_extents(op),
        _ => &[],
    };
    let mut last = None;
    extents.iter().filter_map(move |extent| {
        let new = last != Some(extent.object_id);
        last = Some(extent.object_id);
        new.then_some(extent.object_id)
    })
}

fn op_extents(op: &IndexOp) -> &[Extent] {
    match op {
        IndexOp::PutObject { record, .. } => match &record.body {
            ObjectBody::Extents(extents) => extents,
            ObjectBody::Inline(_) => &[],
        },
        IndexOp::PutPart { record, .. } => &record.extents,
        IndexOp::Relocate { to, .. } => std::slice::from_ref(to),
        IndexOp::RetireSegment { .. }
        | IndexOp::CompleteUpload { .. }
        | IndexOp::CreateUpload { .. }
        | IndexOp::AbortUpload { .. }
        | IndexOp::CreateBucket { .. }
        | IndexOp::DropBucket { .. }
        | IndexOp::DeleteObject { .. }
        | IndexOp::PutDeleteMarker { .. }
        | IndexOp::DeleteVersion { .. }
        | IndexOp::DropDamagedVersion { .. }
        | IndexOp::SetObjectMeta { .. }
        | IndexOp::ReplaceObjectMeta { .. }
        | IndexOp::ReplaceUploadMeta { .. } => &[],
    }
}

/// Batch failures fan out to every waiter; io::Error is not Clone.
fn clone_error(err: &EngineError) -> EngineError {
    match err {
        EngineError::Io(io) => EngineError::Io(std::io::Error::new(io.kind(), io.to_string())),
        EngineError::DiskFull => EngineError::DiskFull,
        EngineError::Corrupt { detail } => EngineError::Corrupt {
            detail: detail.clone(),
        },
        EngineError::Index(detail) => EngineError::Index(detail.clone()),
        EngineError::NoSuchBucket => EngineError::NoSuchBucket,
        EngineError::BucketNotEmpty => EngineError::BucketNotEmpty,
        EngineError::SegmentPoisoned => EngineError::SegmentPoisoned,
        EngineError::WriteExpired => EngineError::WriteExpired,
        EngineError::ShuttingDown => EngineError::ShuttingDown,
        EngineError::NoSuchUpload => EngineError::NoSuchUpload,
        EngineError::PreconditionFailed => EngineError::PreconditionFailed,
        EngineError::ConditionTargetMissing => EngineError::ConditionTargetMissing,
        EngineError::NoSuchObject => EngineError::NoSuchObject,
        EngineError::SegmentInUse { segment } => EngineError::SegmentInUse { segment: *segment },
        EngineError::ObjectLocked => EngineError::ObjectLocked,
        EngineError::InvalidPart { part_number } => EngineError::InvalidPart {
            part_number: *part_number,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::reserve_bytes_for;
    use crate::limits::{DISK_RESERVE_BYTES, SEGMENT_BYTES};

    #[test]
    fn the_reserve_shrinks_with_small_filesystems_only() {
        const GIB: u64 = 1 << 30;
        // A 1.2 GB disk keeps one segment back (its 5% is less), not 192 MiB.
        let small = reserve_bytes_for(DISK_RESERVE_BYTES, SEGMENT_BYTES, 1_200_000_000);
        assert_eq!(small, SEGMENT_BYTES);
        // A 3 GB disk: 5% (150 MB) is more than a segment.
        let middle = reserve_bytes_for(DISK_RESERVE_BYTES, SEGMENT_BYTES, 3_000_000_000);
        assert_eq!(middle, 150_000_000);
        // Large disks keep the configured figure; an operator's smaller one wins.
        let large = reserve_bytes_for(DISK_RESERVE_BYTES, SEGMENT_BYTES, 1000 * GIB);
        assert_eq!(large, DISK_RESERVE_BYTES);
        assert_eq!(reserve_bytes_for(0, SEGMENT_BYTES, 1000 * GIB), 0);
    }
}
