//! The background scrubber of one shard: walks the shard's index (objects,
//! then multipart parts) in key order and reads every extent back from its
//! segment record, verifying it exactly as `maxiofs check` does (crc32c, and
//! the HMAC tag of SSE-S3 encrypted chunks), at a bounded
//! rate so foreground requests keep the disk. What it finds damaged is logged
//! with the bucket and key and counted; GETs of such data already fail their
//! own checksum, so nothing wrong is ever served either way.
//!
//! Runs on its own low-priority thread, not on the shard's reactor: its reads
//! are plain blocking `read_at` (a reactor must never block), and the index
//! is read in short transactions of a few entries, so an LMDB reader never
//! pins old pages for long.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use heed::types::Bytes;
use heed::Database;

use crate::check::{tag_key, Segments, ShardCheck};
use crate::crypto::MasterKey;
use crate::index::{decode_value, object_key_of, Index, ObjectBody, ObjectRecord, PartRecord};
use crate::pins::{PinSlot, ReadPins};

/// Index entries read per short read transaction.
const SCRUB_BATCH_ENTRIES: usize = 64;
/// How often a sleeping scrubber looks at its stop flag.
/// A scrub pass logs how far it got at most this often.
const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(60);
const SCRUB_STOP_POLL: Duration = Duration::from_millis(100);

#[derive(Clone, Debug)]
pub struct ScrubConfig {
    /// Payload bytes verified per second at most; 0 disables the scrubber.
    pub rate_bytes_per_s: u64,
    /// Time from the start of one full pass to the start of the next.
    pub pass_interval: Duration,
}

/// Progress counters, readable from any thread (metrics hooks).
#[derive(Debug, Default)]
pub struct ScrubStats {
    pub passes_completed: AtomicU64,
    pub entries_verified: AtomicU64,
    pub payload_bytes_verified: AtomicU64,
    pub problems_found: AtomicU64,
}

/// A running scrubber; dropping it stops the thread (after the extent it is
/// reading).
pub struct Scrubber {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pub stats: Arc<ScrubStats>,
}

impl Scrubber {
    /// Starts scrubbing `index` (shard `shard` of `data_dir`); None when the
    /// configured rate is 0.
    pub fn spawn(
        index: Index,
        data_dir: PathBuf,
        shard: u16,
        config: ScrubConfig,
        pins: Arc<ReadPins>,
        master: Option<MasterKey>,
    ) -> std::io::Result<Option<Scrubber>> {
        if config.rate_bytes_per_s == 0 {
            return Ok(None);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(ScrubStats::default());
        let walker = Walker {
            index,
            data_dir,
            shard,
            config,
            stop: stop.clone(),
            stats: stats.clone(),
            pin_slot: pins.register(),
            pins,
            master,
        };
        let thread = std::thread::Builder::new()
            .name(format!("scrub-{shard}"))
            .spawn(move || walker.run())?;
        Ok(Some(Scrubber {
            stop,
            thread: Some(thread),
            stats,
        }))
    }
}

impl Drop for Scrubber {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Walker {
    index: Index,
    data_dir: PathBuf,
    shard: u16,
    config: ScrubConfig,
    stop: Arc<AtomicBool>,
    stats: Arc<ScrubStats>,
    pins: Arc<ReadPins>,
    pin_slot: Arc<PinSlot>,
    master: Option<MasterKey>,
}

/// What one pass verified (logged when it completes).
#[derive(Debug, Default)]
struct PassSummary {
    entries: u64,
    payload_bytes_verified: u64,
    problems: u64,
}

/// Which database a pass is walking.
#[derive(Clone, Copy)]
enum Walked {
    Objects,
    Parts,
}

impl Walker {
    fn run(self) {
        while !self.stopping() {
            let pass_started = Instant::now();
            match self.pass() {
                Err(err) => {
                    tracing::warn!(shard = self.shard, %err, "scrub pass stopped by an index error");
                }
                Ok(pass) if !self.stopping() => {
                    self.stats.passes_completed.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(
                        shard = self.shard,
                        entries = pass.entries,
                        payload_bytes = pass.payload_bytes_verified,
                        problems = pass.problems,
                        "scrub pass completed"
                    );
                }
                Ok(_) => {}
            }
            self.sleep_until(pass_started + self.config.pass_interval);
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Sleeps until `deadline` or until asked to stop.
    fn sleep_until(&self, deadline: Instant) {
        while !self.stopping() {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            std::thread::sleep((deadline - now).min(SCRUB_STOP_POLL));
        }
    }

    /// One pass over objects then parts; what it verified.
    fn pass(&self) -> crate::EngineResult<PassSummary> {
        let mut summary = PassSummary::default();
        let started = Instant::now();
        let mut progress_logged = started;
        let mut paced_bytes = 0u64;
        let mut segments = Segments {
            data_dir: &self.data_dir,
            files: Default::default(),
            record: Vec::new(),
        };
        for walked in [Walked::Objects, Walked::Parts] {
            let db: Database<Bytes, Bytes> = match walked {
                Walked::Objects => self.index.objects_db(),
                Walked::Parts => self.index.parts,
            };
            let mut after: Option<Vec<u8>> = None;
            loop {
                if self.stopping() {
                    return Ok(summary);
                }
                // Pinned from the lookup to the last read of the batch: the
                // compactor keeps every segment file the batch names.
                let _pin = self.pins.pin(&self.pin_slot);
                let batch = self.next_batch(db, after.as_deref())?;
                let Some((last, _)) = batch.last() else {
                    break;
                };
                after = Some(last.clone());
                for (key, value) in &batch {
                    let mut entry = ShardCheck::default();
                    let detail = self.verify_entry(walked, key, value, &mut segments, &mut entry);
                    let bytes = entry.payload_bytes_verified;
                    summary.entries += 1;
                    summary.payload_bytes_verified += bytes;
                    self.stats.entries_verified.fetch_add(1, Ordering::Relaxed);
                    self.stats
                        .payload_bytes_verified
                        .fetch_add(bytes, Ordering::Relaxed);
                    if let Some(detail) = detail {
                        summary.problems += 1;
                        self.report(walked, key, &detail);
                    }
                    paced_bytes += bytes;
                    if progress_logged.elapsed() >= PROGRESS_LOG_INTERVAL {
                        progress_logged = Instant::now();
                        tracing::info!(
                            shard = self.shard,
                            entries = summary.entries,
                            payload_bytes = summary.payload_bytes_verified,
                            problems = summary.problems,
                            elapsed_s = started.elapsed().as_secs(),
                            "scrub pass in progress"
                        );
                    }
                    let due_s = paced_bytes as f64 / self.config.rate_bytes_per_s as f64;
                    self.sleep_until(started + Duration::from_secs_f64(due_s));
                }
                // Segment files may be rewritten or removed later (compaction):
                // reopen them on the next batch rather than hold them.
                segments.files.clear();
            }
        }
        Ok(summary)
    }

    /// Up to SCRUB_BATCH_ENTRIES entries after `after`, copied out of a short
    /// read transaction.
    fn next_batch(
        &self,
        db: Database<Bytes, Bytes>,
        after: Option<&[u8]>,
    ) -> crate::EngineResult<Vec<(Vec<u8>, Vec<u8>)>> {
        use std::ops::Bound;
        let rtxn = self.index.read_txn()?;
        let range = match after {
            Some(after) => (Bound::Excluded(after), Bound::Unbounded),
            None => (Bound::Unbounded, Bound::Unbounded),
        };
        let mut out = Vec::with_capacity(SCRUB_BATCH_ENTRIES);
        for entry in db.range(&rtxn, &range)?.take(SCRUB_BATCH_ENTRIES) {
            let (key, value) = entry?;
            out.push((key.to_vec(), value.to_vec()));
        }
        Ok(out)
    }

    fn report(&self, walked: Walked, key: &[u8], detail: &str) {
        self.stats.problems_found.fetch_add(1, Ordering::Relaxed);
        match walked {
            Walked::Objects => {
                let bucket_id = u64::from_be_bytes(key[..8].try_into().expect("8-byte prefix"));
                let object_key = String::from_utf8_lossy(object_key_of(key));
                tracing::error!(shard = self.shard, bucket_id, key = %object_key, detail,
                    "scrub found damaged object data; run `maxiofs check`");
            }
            Walked::Parts => {
                let upload: String = key[..16].iter().map(|b| format!("{b:02x}")).collect();
                tracing::error!(shard = self.shard, upload = %upload, detail,
                    "scrub found a damaged multipart part; run `maxiofs check`");
            }
        }
    }
}

impl Walker {
    /// Verifies one index entry's data; the problem, if any.
    fn verify_entry(
        &self,
        walked: Walked,
        index_key: &[u8],
        value: &[u8],
        segments: &mut Segments<'_>,
        check: &mut ShardCheck,
    ) -> Option<String> {
        let master = self.master.as_ref();
        match walked {
            Walked::Objects => match decode_value::<ObjectRecord>(value) {
                Err(err) => Some(format!("unreadable index record: {err}")),
                Ok(ObjectRecord {
                    body: ObjectBody::Extents(extents),
                    size_bytes,
                    meta,
                    ..
                }) => match tag_key(&meta, master) {
                    Ok(tags) => segments.verify_all(&extents, size_bytes, check, tags),
                    Err(why) => Some(why),
                },
                Ok(_) => None,
            },
            Walked::Parts => match decode_value::<PartRecord>(value) {
                Err(err) => Some(format!("unreadable part record: {err}")),
                Ok(part) => {
                    let upload_id: [u8; 16] = index_key[..16].try_into().expect("16-byte id");
                    // An upload completed or aborted since the batch was read
                    // has no metadata any more: crc32c only for this one.
                    let meta = match self.index.upload(&upload_id) {
                        Ok(upload) => upload.map(|u| u.meta).unwrap_or_default(),
                        Err(err) => return Some(format!("upload record: {err}")),
                    };
                    match tag_key(&meta, master) {
                        Ok(tags) => {
                            segments.verify_all(&part.extents, part.size_bytes, check, tags)
                        }
                        Err(why) => Some(why),
                    }
                }
            },
        }
    }
}
