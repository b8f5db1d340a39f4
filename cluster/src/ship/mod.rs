//! Log shipping: forwards the access log and the audit log to remote targets (syslog, an HTTP
//! endpoint: the clients in [`sinks`]) through a durable queue per target ([`spool`]), so that an
//! outage of a target loses nothing.
//!
//! Owns: the spool directories under [`ShipperConfig::spool_dir`] (one per target, named after
//! it) and the shipper's threads: one intake thread, which appends what [`Shipper::submit`]
//! hands over to the spool of every target subscribed to its stream (one fdatasync per spool per
//! group of batches), and one delivery thread per target, which sends batches from its spool to
//! its [`Sink`] and acknowledges them, backing off while the target is down. Must not touch the
//! request path: `submit` never blocks, and the spool's mutex is shared only by these threads.
//!
//! Delivery is at least once: a record reaches its target once, or twice after a failure or a
//! crash, never zero times, unless dropped for lack of room (counted in [`ShipperStats`]).
//!
//! Main types: [`Shipper`], [`LogRecord`], the [`Sink`] trait, [`TargetConfig`].

pub mod sinks;
pub mod spool;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use spool::{Position, Spool};

/// Batches waiting between `submit` and the intake thread. A batch is what one caller hands over
/// at once; this absorbs a burst while the intake thread syncs the spools (a few ms each), and
/// beyond it records are dropped rather than blocking a request.
pub const SUBMIT_BATCHES_MAX: usize = 1024;
/// Batches the intake thread writes with one fdatasync per spool: grouping is what keeps the
/// sync count down under load; the bound keeps one group's memory and latency small.
pub const INTAKE_GROUP_BATCHES_MAX: usize = 256;
/// Records per delivery: large enough to amortise an HTTP request, small enough that a retry
/// after a failure resends little.
pub const DELIVERY_BATCH_RECORDS_MAX: usize = 500;
/// Frame bytes per delivery (at least one record is always sent): one HTTP body stays small.
pub const DELIVERY_BATCH_BYTES_MAX: u64 = 1024 * 1024;
/// The first wait after a failed delivery: a restarting collector is often back within it.
pub const BACKOFF_MS_MIN: u64 = 1_000;
/// The longest wait between attempts: how late, at worst, shipping resumes after an outage.
pub const BACKOFF_MS_MAX: u64 = 30_000;
/// Warnings about dropped records and disk errors repeat at most this often: they can happen
/// on every batch, and the log must not flood itself.
pub const WARNING_INTERVAL_MS: u64 = 60_000;
/// A target's name is a directory name: short, and only characters safe in a path.
pub const TARGET_NAME_BYTES_MAX: usize = 64;

/// Which log a record belongs to; a target subscribes to one or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogStream {
    Access,
    Audit,
    /// A bucket event notification (`crate::notify` keeps its own queues in
    /// the same format; log targets never subscribe to it).
    Event,
}

/// One line of a log, formatted by its producer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub stream: LogStream,
    pub time_ms: u64,
    pub message: String,
}

/// Delivers a batch to one target: Ok = every record delivered; Err = none counted as delivered
/// (the batch is retried, so targets may see a record twice after a failure, never zero times).
pub trait Sink: Send {
    fn deliver(&mut self, records: &[LogRecord]) -> Result<(), String>;
    fn describe(&self) -> String;
}

/// One target: where its records go and which logs it wants.
pub struct TargetConfig {
    /// Stable, filesystem-safe id of the target; names its spool directory.
    pub name: String,
    pub streams: Vec<LogStream>,
    pub sink: Box<dyn Sink>,
}

pub struct ShipperConfig {
    /// Holds one spool directory per target (created 0700).
    pub spool_dir: PathBuf,
    /// Per target: when its spool holds this many bytes, new records for it are dropped.
    pub queue_bytes_max: u64,
}

/// Counters for metrics, shared with the shipper's threads.
#[derive(Default, Debug)]
pub struct ShipperStats {
    /// Bytes waiting in all spools.
    pub queued_bytes: AtomicU64,
    /// Records acknowledged by a target (a record sent to two targets counts twice).
    pub delivered_records: AtomicU64,
    /// Records dropped: the intake channel was full, a spool was full, or its disk failed.
    pub dropped_records: AtomicU64,
    /// Failed delivery attempts.
    pub delivery_failures: AtomicU64,
}

/// The forwarder: an intake thread and one delivery thread per target. See the module
/// documentation.
pub struct Shipper {
    sender: Option<SyncSender<Vec<LogRecord>>>,
    intake: Option<JoinHandle<()>>,
    deliveries: Vec<JoinHandle<()>>,
    targets: Vec<Arc<Target>>,
    stats: Arc<ShipperStats>,
    submit_warning: WarningLimiter,
}

/// The waits of delivery threads; tests shorten them.
#[derive(Clone, Copy, Debug)]
struct Timing {
    backoff_ms_min: u64,
    backoff_ms_max: u64,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            backoff_ms_min: BACKOFF_MS_MIN,
            backoff_ms_max: BACKOFF_MS_MAX,
        }
    }
}

/// A target as its threads share it.
struct Target {
    name: String,
    streams: Vec<LogStream>,
    queue: Mutex<Queue>,
    /// Signalled when records are appended and when the shipper stops.
    wake: Condvar,
    full_warning: WarningLimiter,
    disk_warning: WarningLimiter,
}

struct Queue {
    spool: Spool,
    /// The spool's pending bytes as last added to `ShipperStats::queued_bytes`.
    bytes_reported: u64,
    stopping: bool,
}

impl Shipper {
    /// Opens (and recovers) every target's spool and starts the threads. Records left in the
    /// spools by an earlier run are delivered first.
    pub fn start(config: ShipperConfig, targets: Vec<TargetConfig>) -> Result<Shipper, String> {
        Shipper::start_timed(config, targets, Timing::default())
    }

    fn start_timed(
        config: ShipperConfig,
        targets: Vec<TargetConfig>,
        timing: Timing,
    ) -> Result<Shipper, String> {
        shipper_start_check(&config, &targets)?;
        let stats = Arc::new(ShipperStats::default());
        let mut shared = Vec::with_capacity(targets.len());
        let mut sinks = Vec::with_capacity(targets.len());
        for target in targets {
            let dir = config.spool_dir.join(&target.name);
            let spool = Spool::open(&dir, config.queue_bytes_max)
                .map_err(|err| format!("log spool {}: {err}", dir.display()))?;
            let bytes = spool.pending_bytes();
            stats.queued_bytes.fetch_add(bytes, Ordering::Relaxed);
            tracing::info!(
                target_name = %target.name, sink = %target.sink.describe(),
                waiting_records = spool.pending_records(), waiting_bytes = bytes,
                "log shipping target started"
            );
            shared.push(Arc::new(Target {
                name: target.name,
                streams: target.streams,
                queue: Mutex::new(Queue {
                    spool,
                    bytes_reported: bytes,
                    stopping: false,
                }),
                wake: Condvar::new(),
                full_warning: WarningLimiter::new(),
                disk_warning: WarningLimiter::new(),
            }));
            sinks.push(target.sink);
        }
        let (sender, receiver) = mpsc::sync_channel(SUBMIT_BATCHES_MAX);
        // Built before the threads so that, if one fails to spawn, dropping it stops the others.
        let mut shipper = Shipper {
            sender: Some(sender),
            intake: None,
            deliveries: Vec::with_capacity(shared.len()),
            targets: shared.clone(),
            stats: Arc::clone(&stats),
            submit_warning: WarningLimiter::new(),
        };
        for (target, sink) in shared.iter().zip(sinks) {
            let (target, stats) = (Arc::clone(target), Arc::clone(&stats));
            let handle = thread::Builder::new()
                .name(format!("ship-{}", target.name))
                .spawn(move || delivery_run(target, sink, stats, timing))
                .map_err(|err| format!("log shipping thread: {err}"))?;
            shipper.deliveries.push(handle);
        }
        let handle = thread::Builder::new()
            .name("ship-intake".to_owned())
            .spawn(move || intake_run(receiver, shared, stats))
            .map_err(|err| format!("log shipping thread: {err}"))?;
        shipper.intake = Some(handle);
        Ok(shipper)
    }

    /// Never blocks: hands records to the intake thread through a bounded channel; when that is
    /// full the records are dropped and counted (stats), with a warning at most once a minute.
    pub fn submit(&self, records: Vec<LogRecord>) {
        if records.is_empty() {
            return;
        }
        let sender = self.sender.as_ref().expect("the sender lives until stop");
        let records = match sender.try_send(records) {
            Ok(()) => return,
            Err(TrySendError::Full(records)) => records,
            // The intake thread died (a bug, already in the log): count what is lost.
            Err(TrySendError::Disconnected(records)) => records,
        };
        let dropped = records.len() as u64;
        let total = self
            .stats
            .dropped_records
            .fetch_add(dropped, Ordering::Relaxed)
            + dropped;
        if self.submit_warning.due() {
            tracing::warn!(
                dropped_records_total = total,
                "log shipping intake is full: dropping records"
            );
        }
    }

    pub fn stats(&self) -> Arc<ShipperStats> {
        Arc::clone(&self.stats)
    }

    /// Stops intake after writing what was submitted into the spools (durably); delivery threads
    /// stop after their current attempt. Records not yet delivered stay in the spool for the
    /// next start.
    pub fn stop(self) {
        // `Drop` does the work, so that a shipper dropped without `stop` also shuts down.
        drop(self);
    }

    fn shutdown(&mut self) {
        // The intake thread receives every batch already sent before it sees the channel
        // closed, so closing it is how intake is told to finish.
        drop(self.sender.take());
        if let Some(intake) = self.intake.take() {
            if intake.join().is_err() {
                tracing::error!("log shipping intake thread panicked");
            }
        }
        for target in &self.targets {
            queue_lock(target).stopping = true;
            target.wake.notify_all();
        }
        for delivery in self.deliveries.drain(..) {
            if delivery.join().is_err() {
                tracing::error!("log shipping delivery thread panicked");
            }
        }
    }
}

impl Drop for Shipper {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn shipper_start_check(config: &ShipperConfig, targets: &[TargetConfig]) -> Result<(), String> {
    if config.queue_bytes_max < spool::FRAME_BYTES_MAX as u64 {
        return Err(format!(
            "log shipping queue of {} bytes cannot hold one record ({} bytes)",
            config.queue_bytes_max,
            spool::FRAME_BYTES_MAX
        ));
    }
    for (i, target) in targets.iter().enumerate() {
        let name = &target.name;
        let safe = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if name.is_empty() || name.len() > TARGET_NAME_BYTES_MAX || !safe || name.starts_with('.') {
            return Err(format!(
                "log shipping target name {name:?}: use 1 to {TARGET_NAME_BYTES_MAX} of \
                 A-Z a-z 0-9 - _ . (not first)"
            ));
        }
        if targets[..i].iter().any(|other| other.name == *name) {
            return Err(format!("log shipping target name {name:?} is used twice"));
        }
        if target.streams.is_empty() {
            return Err(format!("log shipping target {name:?} subscribes to no log"));
        }
    }
    Ok(())
}

fn queue_lock(target: &Target) -> MutexGuard<'_, Queue> {
    // A panic while holding the lock is a bug in the spool: its state cannot be trusted.
    target.queue.lock().expect("log spool lock poisoned")
}

/// Brings `ShipperStats::queued_bytes` in line with the spool after a change.
fn queue_bytes_report(queue: &mut Queue, stats: &ShipperStats) {
    let bytes = queue.spool.pending_bytes();
    if bytes >= queue.bytes_reported {
        let grown = bytes - queue.bytes_reported;
        stats.queued_bytes.fetch_add(grown, Ordering::Relaxed);
    } else {
        let shrunk = queue.bytes_reported - bytes;
        stats.queued_bytes.fetch_sub(shrunk, Ordering::Relaxed);
    }
    queue.bytes_reported = bytes;
}

/// The intake thread: groups the batches waiting in the channel and appends them to the spools.
/// Returns once the channel is closed and drained.
fn intake_run(
    receiver: Receiver<Vec<LogRecord>>,
    targets: Vec<Arc<Target>>,
    stats: Arc<ShipperStats>,
) {
    while let Ok(mut records) = receiver.recv() {
        for _ in 1..INTAKE_GROUP_BATCHES_MAX {
            match receiver.try_recv() {
                Ok(more) => records.extend(more),
                Err(_) => break,
            }
        }
        for target in &targets {
            intake_append(target, &records, &stats);
        }
    }
}

/// Appends the records of the target's streams to its spool (one fdatasync) and wakes its
/// delivery thread.
fn intake_append(target: &Target, records: &[LogRecord], stats: &ShipperStats) {
    let subscribed = |record: &LogRecord| target.streams.contains(&record.stream);
    let filtered: Vec<LogRecord>;
    let records = if records.iter().all(subscribed) {
        records
    } else {
        filtered = records.iter().filter(|r| subscribed(r)).cloned().collect();
        &filtered
    };
    if records.is_empty() {
        return;
    }
    let mut queue = queue_lock(target);
    let appended = queue.spool.append(records);
    queue_bytes_report(&mut queue, stats);
    drop(queue);
    // Even a failed append may have made some records readable.
    target.wake.notify_one();
    let accepted = *appended.as_ref().unwrap_or(&0);
    let dropped = (records.len() - accepted) as u64;
    if dropped == 0 {
        return;
    }
    let total = stats.dropped_records.fetch_add(dropped, Ordering::Relaxed) + dropped;
    match appended {
        Ok(_) if target.full_warning.due() => tracing::warn!(
            target_name = %target.name, dropped_records_total = total,
            "log shipping queue is full: dropping new records until the target catches up"
        ),
        Err(err) if target.disk_warning.due() => tracing::warn!(
            target_name = %target.name, dropped_records_total = total, %err,
            "log shipping queue cannot be written: dropping records"
        ),
        _ => {}
    }
}

/// A delivery thread: sends batches from the target's spool until the shipper stops.
fn delivery_run(
    target: Arc<Target>,
    mut sink: Box<dyn Sink>,
    stats: Arc<ShipperStats>,
    timing: Timing,
) {
    let mut backoff_ms = timing.backoff_ms_min;
    let mut down = false;
    while let Some((records, upto)) = delivery_next(&target, &stats, timing) {
        match sink.deliver(&records) {
            Ok(()) => {
                let waiting = delivery_ack(&target, upto, &stats);
                // Counted after the ack, so that a reader who sees the count sees the queue
                // without these records.
                stats
                    .delivered_records
                    .fetch_add(records.len() as u64, Ordering::Relaxed);
                if down {
                    tracing::warn!(
                        target_name = %target.name, sink = %sink.describe(),
                        waiting_records = waiting, "log shipping target is back"
                    );
                    down = false;
                }
                backoff_ms = timing.backoff_ms_min;
            }
            Err(err) => {
                stats.delivery_failures.fetch_add(1, Ordering::Relaxed);
                if !down {
                    let waiting = queue_lock(&target).spool.pending_records();
                    tracing::warn!(
                        target_name = %target.name, sink = %sink.describe(), %err,
                        waiting_records = waiting,
                        "log shipping target is down: records wait in its queue"
                    );
                    down = true;
                }
                if !delivery_wait(&target, Duration::from_millis(backoff_ms)) {
                    return;
                }
                backoff_ms = (backoff_ms * 2).min(timing.backoff_ms_max);
            }
        }
    }
}

/// Waits for records and returns the next batch and the position after it; `None` once the
/// shipper stops.
fn delivery_next(
    target: &Target,
    stats: &ShipperStats,
    timing: Timing,
) -> Option<(Vec<LogRecord>, Position)> {
    let mut queue = queue_lock(target);
    loop {
        if queue.stopping {
            return None;
        }
        match queue
            .spool
            .peek(DELIVERY_BATCH_RECORDS_MAX, DELIVERY_BATCH_BYTES_MAX)
        {
            Ok((records, upto)) if !records.is_empty() => return Some((records, upto)),
            Ok((_, upto)) => {
                // Damaged bytes were skipped: move past them for good.
                if upto != queue.spool.cursor() {
                    if let Err(err) = queue.spool.ack(upto) {
                        delivery_disk_warn(target, &err);
                    }
                    queue_bytes_report(&mut queue, stats);
                }
                queue = target.wake.wait(queue).expect("log spool lock poisoned");
            }
            Err(err) => {
                delivery_disk_warn(target, &err);
                drop(queue);
                if !delivery_wait(target, Duration::from_millis(timing.backoff_ms_max)) {
                    return None;
                }
                queue = queue_lock(target);
            }
        }
    }
}

/// Acknowledges a delivered batch; returns the records still waiting.
fn delivery_ack(target: &Target, upto: Position, stats: &ShipperStats) -> u64 {
    let mut queue = queue_lock(target);
    if let Err(err) = queue.spool.ack(upto) {
        delivery_disk_warn(target, &err);
    }
    queue_bytes_report(&mut queue, stats);
    queue.spool.pending_records()
}

fn delivery_disk_warn(target: &Target, err: &std::io::Error) {
    if target.disk_warning.due() {
        tracing::warn!(
            target_name = %target.name, %err,
            "log shipping queue cannot be read or its cursor saved"
        );
    }
}

/// Sleeps for `duration` unless the shipper stops first (then returns false). New records do
/// not end the wait: a target that is down is retried at the backoff's pace, not the intake's.
fn delivery_wait(target: &Target, duration: Duration) -> bool {
    let deadline = Instant::now() + duration;
    let mut queue = queue_lock(target);
    loop {
        if queue.stopping {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        queue = target
            .wake
            .wait_timeout(queue, deadline - now)
            .expect("log spool lock poisoned")
            .0;
    }
}

/// Lets a warning through at most once per [`WARNING_INTERVAL_MS`], without a lock: `submit`
/// uses it on the request path.
struct WarningLimiter {
    epoch: Instant,
    /// Milliseconds since `epoch` of the last warning, or `NEVER`.
    last_ms: AtomicU64,
}

impl WarningLimiter {
    const NEVER: u64 = u64::MAX;

    fn new() -> WarningLimiter {
        WarningLimiter {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(WarningLimiter::NEVER),
        }
    }

    fn due(&self) -> bool {
        let now_ms = self.epoch.elapsed().as_millis() as u64;
        let last_ms = self.last_ms.load(Ordering::Relaxed);
        if last_ms != WarningLimiter::NEVER && now_ms.saturating_sub(last_ms) < WARNING_INTERVAL_MS
        {
            return false;
        }
        // Of racing callers, one wins the warning.
        self.last_ms
            .compare_exchange(last_ms, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::spool::tests::TempDir;
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::AtomicUsize;

    const FAST: Timing = Timing {
        backoff_ms_min: 5,
        backoff_ms_max: 20,
    };

    /// Fails its first `failures` deliveries (all of them if `failures` is `usize::MAX`), then
    /// records what it is given.
    struct FakeSink {
        failures: Arc<AtomicUsize>,
        delivered: Arc<Mutex<Vec<LogRecord>>>,
    }

    impl Sink for FakeSink {
        fn deliver(&mut self, records: &[LogRecord]) -> Result<(), String> {
            let left = self.failures.load(Ordering::Relaxed);
            if left > 0 {
                if left != usize::MAX {
                    self.failures.store(left - 1, Ordering::Relaxed);
                }
                return Err("connection refused".to_owned());
            }
            self.delivered.lock().unwrap().extend_from_slice(records);
            Ok(())
        }

        fn describe(&self) -> String {
            "fake".to_owned()
        }
    }

    fn fake(failures: usize) -> (Box<dyn Sink>, Arc<Mutex<Vec<LogRecord>>>) {
        let delivered = Arc::new(Mutex::new(Vec::new()));
        let sink = FakeSink {
            failures: Arc::new(AtomicUsize::new(failures)),
            delivered: Arc::clone(&delivered),
        };
        (Box::new(sink), delivered)
    }

    fn target(name: &str, streams: &[LogStream], sink: Box<dyn Sink>) -> TargetConfig {
        TargetConfig {
            name: name.to_owned(),
            streams: streams.to_vec(),
            sink,
        }
    }

    fn config(dir: &TempDir) -> ShipperConfig {
        ShipperConfig {
            spool_dir: dir.0.join("spool"),
            queue_bytes_max: 1 << 20,
        }
    }

    fn records_make(count: usize, stream: LogStream) -> Vec<LogRecord> {
        (0..count)
            .map(|i| LogRecord {
                stream,
                time_ms: i as u64,
                message: format!("{stream:?} line {i}"),
            })
            .collect()
    }

    fn wait_for(what: &str, condition: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !condition() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(2));
        }
    }

    const BOTH: [LogStream; 2] = [LogStream::Access, LogStream::Audit];

    #[test]
    fn ship_shipper_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Shipper>();
        assert_send_sync::<ShipperStats>();
    }

    #[test]
    fn ship_delivers_in_order_after_failures() {
        let dir = TempDir::new("shipper-retry");
        let (sink, delivered) = fake(3);
        let targets = vec![target("collector", &BOTH, sink)];
        let shipper = Shipper::start_timed(config(&dir), targets, FAST).unwrap();
        let stats = shipper.stats();
        let records = records_make(100, LogStream::Audit);
        for batch in records.chunks(10) {
            shipper.submit(batch.to_vec());
        }
        wait_for("delivery", || {
            stats.delivered_records.load(Ordering::Relaxed) == 100
        });
        shipper.stop();
        assert_eq!(*delivered.lock().unwrap(), records);
        assert_eq!(stats.delivery_failures.load(Ordering::Relaxed), 3);
        assert_eq!(stats.dropped_records.load(Ordering::Relaxed), 0);
        assert_eq!(stats.queued_bytes.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn ship_undelivered_records_survive_a_restart() {
        let dir = TempDir::new("shipper-restart");
        let records = records_make(30, LogStream::Access);
        let (sink, delivered) = fake(usize::MAX);
        let shipper =
            Shipper::start_timed(config(&dir), vec![target("t", &BOTH, sink)], FAST).unwrap();
        let stats = shipper.stats();
        shipper.submit(records[..20].to_vec());
        shipper.submit(records[20..].to_vec());
        shipper.stop();
        let queued: u64 = records.iter().map(spool::frame_bytes).sum();
        assert_eq!(
            stats.queued_bytes.load(Ordering::Relaxed),
            queued,
            "durable at stop"
        );
        assert_eq!(stats.delivered_records.load(Ordering::Relaxed), 0);
        assert!(delivered.lock().unwrap().is_empty());

        let (sink, delivered) = fake(0);
        let shipper =
            Shipper::start_timed(config(&dir), vec![target("t", &BOTH, sink)], FAST).unwrap();
        let stats = shipper.stats();
        wait_for("delivery", || {
            stats.delivered_records.load(Ordering::Relaxed) == 30
        });
        shipper.stop();
        assert_eq!(*delivered.lock().unwrap(), records);
        assert_eq!(stats.queued_bytes.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn ship_failing_target_does_not_block_another() {
        let dir = TempDir::new("shipper-two");
        let (down, down_delivered) = fake(usize::MAX);
        let (up, up_delivered) = fake(0);
        let targets = vec![
            target("down", &BOTH, down),
            target("audit-only", &[LogStream::Audit], up),
        ];
        let shipper = Shipper::start_timed(config(&dir), targets, FAST).unwrap();
        let stats = shipper.stats();
        let audit = records_make(50, LogStream::Audit);
        let access = records_make(50, LogStream::Access);
        for (a, b) in audit.chunks(5).zip(access.chunks(5)) {
            shipper.submit([a, b].concat());
        }
        wait_for("delivery", || {
            stats.delivered_records.load(Ordering::Relaxed) == 50
        });
        wait_for("a failure", || {
            stats.delivery_failures.load(Ordering::Relaxed) > 0
        });
        shipper.stop();
        assert_eq!(
            *up_delivered.lock().unwrap(),
            audit,
            "only the subscribed stream"
        );
        assert!(down_delivered.lock().unwrap().is_empty());
        let waiting: u64 = audit.iter().chain(&access).map(spool::frame_bytes).sum();
        assert_eq!(stats.queued_bytes.load(Ordering::Relaxed), waiting);
    }

    #[test]
    fn ship_full_queue_drops_new_records() {
        let dir = TempDir::new("shipper-full");
        let (sink, _) = fake(usize::MAX);
        let mut config = config(&dir);
        config.queue_bytes_max = spool::FRAME_BYTES_MAX as u64;
        let shipper = Shipper::start_timed(config, vec![target("t", &BOTH, sink)], FAST).unwrap();
        let stats = shipper.stats();
        let record = LogRecord {
            stream: LogStream::Access,
            time_ms: 1,
            message: "m".repeat(1000),
        };
        let frame = spool::frame_bytes(&record);
        let fit = spool::FRAME_BYTES_MAX as u64 / frame;
        shipper.submit(vec![record; 100]);
        shipper.stop();
        assert_eq!(stats.dropped_records.load(Ordering::Relaxed), 100 - fit);
        assert_eq!(stats.queued_bytes.load(Ordering::Relaxed), fit * frame);
    }

    #[test]
    fn ship_start_rejects_bad_configs_and_creates_private_dirs() {
        let dir = TempDir::new("shipper-config");
        for name in ["", "../up", "a/b", ".hidden", &"n".repeat(65)] {
            let (sink, _) = fake(0);
            let result = Shipper::start(config(&dir), vec![target(name, &BOTH, sink)]);
            assert!(result.is_err(), "{name:?} accepted");
        }
        let twice = vec![target("a", &BOTH, fake(0).0), target("a", &BOTH, fake(0).0)];
        assert!(Shipper::start(config(&dir), twice).is_err());
        let mut small = config(&dir);
        small.queue_bytes_max = 100;
        assert!(Shipper::start(small, vec![target("a", &BOTH, fake(0).0)]).is_err());

        let shipper = Shipper::start(config(&dir), vec![target("a", &BOTH, fake(0).0)]).unwrap();
        shipper.stop();
        let mode = |path: PathBuf| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.0.join("spool")), 0o700);
        assert_eq!(mode(dir.0.join("spool").join("a")), 0o700);
    }
}
