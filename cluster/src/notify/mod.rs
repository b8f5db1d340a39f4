//! Bucket event notifications, the delivering half: a durable queue per
//! notification target in `<data>/notify/<target id>/` (the log shipper's
//! spool format, `crate::ship::spool`), filled by one intake thread and
//! emptied by one delivery thread per target, which POSTs each event to the
//! target's webhook in order and acknowledges it once the target answered
//! 2xx. The shards raise the events (`s3::notify`).
//!
//! Owns: the queue directories, the intake and delivery threads, and the
//! counters `/metrics` shows. Must not block a shard: [`Notifier::enqueue`]
//! only sends on a channel; the shard awaits the reply, which the intake
//! thread sends after the fdatasync of every queue the events went to.
//!
//! Guarantees: an event whose request got its 2xx is on disk and is
//! delivered at least once, in the order events were queued (so in order
//! per key), however long its target is down and across restarts; a
//! redelivery happens only after a failed or unacknowledged attempt (counted
//! as a retry) or a crash between a delivery and its acknowledgement. A
//! target's queue holds at most `queue_bytes_max`: writes to buckets that
//! send to a full queue are refused with 503 SlowDown by the shards
//! ([`s3::notify::refuse_when_full`]) rather than losing events. Deleting a
//! target drops what its queue held.
//!
//! Main types: [`Notifier`], [`TargetStats`]; the records are in [`targets`].

pub mod targets;

use std::collections::{HashMap, HashSet};
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use futures_channel::oneshot;
use s3::notify::{EventQueue, QueuedEvent};

use crate::outbound::http_post;
use crate::ship::spool::{Position, Spool};
use crate::ship::{LogRecord, LogStream};
use targets::TargetSpec;

/// Events one delivery round reads from a queue: each is its own POST, and
/// the round acknowledges them with one cursor write.
const DELIVERY_ROUND_EVENTS_MAX: usize = 64;
const DELIVERY_ROUND_BYTES_MAX: u64 = 1024 * 1024;
/// One POST, connect to last byte of the answer head.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// The first wait after a failed delivery, doubled up to the longest: how
/// late, at worst, delivery resumes after a target comes back.
const BACKOFF_MS_MIN: u64 = 500;
const BACKOFF_MS_MAX: u64 = 10_000;
/// Batches of the shards the intake thread writes with one fdatasync per queue.
const INTAKE_GROUP_BATCHES_MAX: usize = 256;
/// Above `queue_bytes_max` (where writes are refused), a queue still takes
/// the events of writes already past that check: this many bytes, or as
/// many again as the limit, whichever is more.
const QUEUE_HEADROOM_BYTES: u64 = 64 * 1024 * 1024;
/// The queue directories hold event records naming keys: the server's only.
const DIR_MODE: u32 = 0o700;

/// One target's counters.
#[derive(Default, Debug)]
pub struct TargetStats {
    /// Events waiting in the queue.
    pub queued_events: AtomicU64,
    pub queued_bytes: AtomicU64,
    /// Events the target acknowledged.
    pub delivered: AtomicU64,
    /// POSTs that failed (no answer, or not 2xx).
    pub failures: AtomicU64,
    /// Events delivered after a failed attempt at them: a target may have
    /// received an attempt it did not acknowledge, so each is a possible
    /// duplicate.
    pub retried: AtomicU64,
    /// Events not queued: the queue was past its headroom or its disk failed.
    pub dropped: AtomicU64,
}

/// A target as the threads share it.
struct Target {
    key: String,
    id: String,
    spec: Mutex<TargetSpec>,
    queue: Mutex<TargetQueue>,
    /// Signalled on appends and when the target stops.
    wake: Condvar,
    /// The queue holds `queue_bytes_max` or more.
    full: AtomicBool,
    stats: Arc<TargetStats>,
}

struct TargetQueue {
    spool: Spool,
    stopping: bool,
    /// Deleted: the delivery thread removes the directory when it ends.
    removed: bool,
}

struct Shared {
    dir: PathBuf,
    queue_bytes_max: u64,
    targets: RwLock<HashMap<String, Arc<Target>>>,
    /// Events for a target that does not exist (deleted since the shard's
    /// snapshot named it).
    unrouted: AtomicU64,
}

/// A batch from one request and where its answer goes.
struct Intake {
    events: Vec<QueuedEvent>,
    done: oneshot::Sender<bool>,
}

/// See the module documentation.
pub struct Notifier {
    shared: Arc<Shared>,
    sender: Mutex<Option<Sender<Intake>>>,
    intake: Mutex<Option<JoinHandle<()>>>,
    deliveries: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks is a bug in the spool: its
    // state cannot be trusted.
    mutex.lock().expect("notification queue lock poisoned")
}

impl Notifier {
    /// Starts the intake thread; targets come with [`Notifier::configure`].
    /// `queue_bytes_max` is each target's queue size where writes start
    /// being refused.
    pub fn start(dir: &Path, queue_bytes_max: u64) -> Result<Notifier, String> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .map_err(|err| format!("{}: {err}", dir.display()))?;
        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            queue_bytes_max,
            targets: RwLock::default(),
            unrouted: AtomicU64::new(0),
        });
        // Unbounded: every batch is a request waiting for its answer, so the
        // connection limits bound what waits here.
        let (sender, receiver) = mpsc::channel();
        let intake_shared = Arc::clone(&shared);
        let intake = thread::Builder::new()
            .name("notify-intake".into())
            .spawn(move || intake_run(receiver, intake_shared))
            .map_err(|err| format!("notification thread: {err}"))?;
        Ok(Notifier {
            shared,
            sender: Mutex::new(Some(sender)),
            intake: Mutex::new(Some(intake)),
            deliveries: Mutex::default(),
        })
    }

    /// Makes the running targets those of `specs`: new ones open their
    /// queue (recovering what an earlier run left) and start delivering,
    /// changed ones deliver with their new settings from the next POST, and
    /// missing ones stop and drop their queue. `initial` also removes queue
    /// directories of targets deleted while the server was down.
    pub fn configure(&self, specs: Vec<TargetSpec>, initial: bool) -> Result<(), String> {
        let mut targets = self.shared.targets.write().expect("targets lock poisoned");
        let wanted: HashSet<&str> = specs.iter().map(|spec| spec.id.as_str()).collect();
        let gone: Vec<String> = targets
            .iter()
            .filter(|(_, target)| !wanted.contains(target.id.as_str()))
            .map(|(key, _)| key.clone())
            .collect();
        for key in gone {
            let target = targets.remove(&key).expect("listed above");
            let mut queue = lock(&target.queue);
            queue.stopping = true;
            queue.removed = true;
            drop(queue);
            target.wake.notify_all();
            tracing::info!(target_key = %key, "notification target removed; its queue is dropped");
        }
        if initial {
            self.remove_stale_dirs(&wanted);
        }
        for spec in specs {
            if let Some(target) = targets.get(&spec.key) {
                if target.id == spec.id {
                    *lock(&target.spec) = spec;
                    continue;
                }
            }
            let target = self.target_open(spec)?;
            targets.insert(target.key.clone(), target);
        }
        Ok(())
    }

    fn remove_stale_dirs(&self, wanted: &HashSet<&str>) {
        let Ok(entries) = fs::read_dir(&self.shared.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !wanted.contains(name.as_ref()) {
                tracing::info!(queue = %name, "removing the queue of a deleted notification target");
                if let Err(err) = fs::remove_dir_all(entry.path()) {
                    tracing::warn!(queue = %name, %err, "cannot remove the queue");
                }
            }
        }
    }

    fn target_open(&self, spec: TargetSpec) -> Result<Arc<Target>, String> {
        let dir = self.shared.dir.join(&spec.id);
        let hard_max = self
            .shared
            .queue_bytes_max
            .saturating_mul(2)
            .max(self.shared.queue_bytes_max + QUEUE_HEADROOM_BYTES);
        let spool = Spool::open(&dir, hard_max)
            .map_err(|err| format!("notification queue {}: {err}", dir.display()))?;
        let stats = Arc::new(TargetStats::default());
        stats
            .queued_events
            .store(spool.pending_records(), Ordering::Relaxed);
        stats
            .queued_bytes
            .store(spool.pending_bytes(), Ordering::Relaxed);
        if spool.pending_records() > 0 {
            tracing::info!(
                target_key = %spec.key, waiting_events = spool.pending_records(),
                "notification target has events waiting from an earlier run"
            );
        }
        let full = spool.pending_bytes() >= self.shared.queue_bytes_max;
        let target = Arc::new(Target {
            key: spec.key.clone(),
            id: spec.id.clone(),
            spec: Mutex::new(spec),
            queue: Mutex::new(TargetQueue {
                spool,
                stopping: false,
                removed: false,
            }),
            wake: Condvar::new(),
            full: AtomicBool::new(full),
            stats,
        });
        let delivering = Arc::clone(&target);
        let queue_bytes_max = self.shared.queue_bytes_max;
        let handle = thread::Builder::new()
            .name(format!("notify-{}", &target.id[..8.min(target.id.len())]))
            .spawn(move || delivery_run(delivering, queue_bytes_max))
            .map_err(|err| format!("notification thread: {err}"))?;
        let mut deliveries = lock(&self.deliveries);
        deliveries.retain(|handle| !handle.is_finished());
        deliveries.push(handle);
        Ok(target)
    }

    /// Every target's counters, by `<account id>/<name>`.
    pub fn stats(&self) -> Vec<(String, Arc<TargetStats>)> {
        let targets = self.shared.targets.read().expect("targets lock poisoned");
        let mut all: Vec<_> = targets
            .values()
            .map(|target| (target.key.clone(), Arc::clone(&target.stats)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// One target's counters, by `<account id>/<name>`.
    pub fn target_stats(&self, key: &str) -> Option<Arc<TargetStats>> {
        let targets = self.shared.targets.read().expect("targets lock poisoned");
        targets.get(key).map(|target| Arc::clone(&target.stats))
    }

    /// Events dropped because their target no longer existed.
    pub fn unrouted(&self) -> u64 {
        self.shared.unrouted.load(Ordering::Relaxed)
    }

    /// Writes what was handed over, then stops every thread. Events not yet
    /// delivered stay in their queues for the next start.
    pub fn stop(&self) {
        drop(lock(&self.sender).take());
        if let Some(intake) = lock(&self.intake).take() {
            let _ = intake.join();
        }
        let targets: Vec<Arc<Target>> = self
            .shared
            .targets
            .write()
            .expect("targets lock poisoned")
            .drain()
            .map(|(_, target)| target)
            .collect();
        for target in &targets {
            lock(&target.queue).stopping = true;
            target.wake.notify_all();
        }
        for handle in lock(&self.deliveries).drain(..) {
            let _ = handle.join();
        }
    }
}

impl EventQueue for Notifier {
    fn enqueue(&self, events: Vec<QueuedEvent>, done: oneshot::Sender<bool>) {
        let sender = lock(&self.sender);
        match sender.as_ref() {
            Some(sender) => {
                if let Err(mpsc::SendError(intake)) = sender.send(Intake { events, done }) {
                    let _ = intake.done.send(false);
                }
            }
            None => {
                let _ = done.send(false);
            }
        }
    }

    fn is_full(&self, target: &str) -> bool {
        let targets = self.shared.targets.read().expect("targets lock poisoned");
        targets
            .get(target)
            .is_some_and(|target| target.full.load(Ordering::Relaxed))
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Brings a target's gauges and its `full` flag in line with its queue.
fn gauges_update(target: &Target, spool: &Spool, queue_bytes_max: u64) {
    let bytes = spool.pending_bytes();
    target
        .stats
        .queued_events
        .store(spool.pending_records(), Ordering::Relaxed);
    target.stats.queued_bytes.store(bytes, Ordering::Relaxed);
    target
        .full
        .store(bytes >= queue_bytes_max, Ordering::Relaxed);
}

fn intake_run(receiver: Receiver<Intake>, shared: Arc<Shared>) {
    while let Ok(first) = receiver.recv() {
        let mut batches = vec![first];
        while batches.len() < INTAKE_GROUP_BATCHES_MAX {
            match receiver.try_recv() {
                Ok(more) => batches.push(more),
                Err(_) => break,
            }
        }
        // Each batch keeps the targets it wrote to (to answer it); its event
        // bodies move into the records, uncopied.
        let mut by_target: HashMap<String, Vec<LogRecord>> = HashMap::new();
        let mut answers = Vec::with_capacity(batches.len());
        for batch in batches {
            let mut keys = Vec::with_capacity(batch.events.len());
            for event in batch.events {
                by_target
                    .entry(event.target.clone())
                    .or_default()
                    .push(LogRecord {
                        stream: LogStream::Event,
                        time_ms: event.time_ms,
                        message: event.body,
                    });
                keys.push(event.target);
            }
            answers.push((keys, batch.done));
        }
        let mut failed: HashSet<String> = HashSet::new();
        {
            let targets = shared.targets.read().expect("targets lock poisoned");
            for (key, records) in by_target {
                let Some(target) = targets.get(&key) else {
                    shared
                        .unrouted
                        .fetch_add(records.len() as u64, Ordering::Relaxed);
                    continue;
                };
                let mut queue = lock(&target.queue);
                let appended = queue.spool.append(&records);
                gauges_update(target, &queue.spool, shared.queue_bytes_max);
                drop(queue);
                target.wake.notify_all();
                let accepted = *appended.as_ref().unwrap_or(&0);
                if accepted < records.len() {
                    let lost = (records.len() - accepted) as u64;
                    target.stats.dropped.fetch_add(lost, Ordering::Relaxed);
                    match appended {
                        Ok(_) => tracing::error!(
                            target_key = %key, lost_events = lost,
                            "notification queue past its headroom: events dropped"
                        ),
                        Err(err) => tracing::error!(
                            target_key = %key, lost_events = lost, %err,
                            "notification queue cannot be written: events dropped"
                        ),
                    }
                    failed.insert(key);
                }
            }
        }
        for (keys, done) in answers {
            let _ = done.send(!keys.iter().any(|key| failed.contains(key)));
        }
    }
}

/// Waits for events (or the stop); `None` when the target stops.
fn delivery_wait(target: &Target) -> Option<(Vec<LogRecord>, Vec<Position>)> {
    let mut queue = lock(&target.queue);
    loop {
        if queue.stopping {
            return None;
        }
        match queue
            .spool
            .peek_with_ends(DELIVERY_ROUND_EVENTS_MAX, DELIVERY_ROUND_BYTES_MAX)
        {
            Ok((records, ends, _)) if !records.is_empty() => return Some((records, ends)),
            Ok((_, _, skipped_to)) => {
                // Damaged bytes were skipped: nothing to deliver there.
                if skipped_to != queue.spool.cursor() {
                    let _ = queue.spool.ack(skipped_to);
                }
            }
            Err(err) => {
                tracing::warn!(target_key = %target.key, %err, "notification queue unreadable")
            }
        }
        queue = target
            .wake
            .wait_timeout(queue, Duration::from_secs(1))
            .expect("notification queue lock poisoned")
            .0;
    }
}

/// Sleeps `ms` unless the target stops first; false if it did.
fn delivery_pause(target: &Target, ms: u64) -> bool {
    let queue = lock(&target.queue);
    if queue.stopping {
        return false;
    }
    let (queue, _) = target
        .wake
        .wait_timeout_while(queue, Duration::from_millis(ms), |queue| !queue.stopping)
        .expect("notification queue lock poisoned");
    !queue.stopping
}

fn delivery_run(target: Arc<Target>, queue_bytes_max: u64) {
    let mut backoff_ms = BACKOFF_MS_MIN;
    // Whether the head of the queue has failed at least once.
    let mut head_failed = false;
    let mut down = false;
    while let Some((records, ends)) = delivery_wait(&target) {
        let spec = lock(&target.spec).clone();
        let mut delivered_to: Option<Position> = None;
        let mut failure = None;
        for (record, end) in records.iter().zip(&ends) {
            let posted = http_post::post(
                &spec.http,
                spec.tls.as_ref(),
                "application/json",
                record.message.as_bytes(),
                DELIVERY_TIMEOUT,
            );
            match posted {
                Ok(status) if (200..300).contains(&status) => {
                    delivered_to = Some(*end);
                    target.stats.delivered.fetch_add(1, Ordering::Relaxed);
                    if head_failed {
                        target.stats.retried.fetch_add(1, Ordering::Relaxed);
                        head_failed = false;
                    }
                }
                Ok(status) => {
                    failure = Some(format!("POST {}: status {status}", spec.http));
                    break;
                }
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }
        if let Some(upto) = delivered_to {
            let mut queue = lock(&target.queue);
            if let Err(err) = queue.spool.ack(upto) {
                tracing::warn!(target_key = %target.key, %err, "notification queue cursor not saved");
            }
            gauges_update(&target, &queue.spool, queue_bytes_max);
        }
        match failure {
            None => {
                if down {
                    tracing::warn!(target_key = %target.key, "notification target is back");
                    down = false;
                }
                backoff_ms = BACKOFF_MS_MIN;
            }
            Some(err) => {
                target.stats.failures.fetch_add(1, Ordering::Relaxed);
                head_failed = true;
                if !down {
                    tracing::warn!(
                        target_key = %target.key, %err,
                        waiting_events = target.stats.queued_events.load(Ordering::Relaxed),
                        "notification target is down: events wait in its queue"
                    );
                    down = true;
                }
                if !delivery_pause(&target, backoff_ms) {
                    break;
                }
                backoff_ms = (backoff_ms * 2).min(BACKOFF_MS_MAX);
            }
        }
    }
    let queue = lock(&target.queue);
    if queue.removed {
        let dir = queue.spool.dir().to_owned();
        drop(queue);
        if let Err(err) = fs::remove_dir_all(&dir) {
            tracing::warn!(queue = %dir.display(), %err, "cannot remove a deleted target's queue");
        }
    }
}

#[cfg(test)]
mod tests;
