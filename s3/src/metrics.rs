//! Request metrics of one shard, for the Prometheus endpoint: requests by
//! operation and status class, latency per operation (an hdrhistogram,
//! exported as Prometheus buckets), bytes received and sent, errors by S3
//! code, and requests in flight.
//!
//! The shard owns them: plain counters behind a `RefCell`, touched once at
//! the start and once at the end of a request, no atomics and no locks on
//! the request path. The control plane asks every shard for a
//! [`ShardMetrics`] snapshot when it is scraped (`ShardRequest::Metrics`)
//! and merges them.

use std::collections::HashMap;

use hdrhistogram::Histogram;

/// Upper bounds of the exported latency buckets, in microseconds (250 us to
/// 60 s). The histogram itself keeps two significant digits up to an hour.
pub const LATENCY_BOUNDS_US: [u64; 16] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000, 60_000_000,
];
/// Longer requests are recorded as an hour.
const LATENCY_US_MAX: u64 = 3_600_000_000;

/// How one request ended, as the metrics see it.
#[derive(Clone, Copy, Debug)]
pub struct RequestOutcome {
    /// AWS's operation name (`Endpoint::name`).
    pub operation: &'static str,
    /// The response status; `None` when no response head went out (the
    /// client vanished first).
    pub status: Option<u16>,
    pub elapsed_us: u64,
    pub received_bytes: u64,
    pub sent_bytes: u64,
}

struct OperationCounters {
    /// 1xx to 5xx; index 5 counts requests that got no response at all.
    status_classes: [u64; 6],
    latency_us: Histogram<u64>,
    latency_sum_us: u64,
    received_bytes: u64,
    sent_bytes: u64,
}

impl OperationCounters {
    fn new() -> Self {
        OperationCounters {
            status_classes: [0; 6],
            latency_us: Histogram::new_with_bounds(1, LATENCY_US_MAX, 2)
                .expect("constant histogram bounds are valid"),
            latency_sum_us: 0,
            received_bytes: 0,
            sent_bytes: 0,
        }
    }
}

/// The shard's request counters.
#[derive(Default)]
pub struct RequestMetrics {
    operations: HashMap<&'static str, OperationCounters>,
    errors: HashMap<&'static str, u64>,
    in_flight: u64,
}

/// One operation's counters as exported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationSnapshot {
    pub operation: &'static str,
    /// Requests answered 1xx, 2xx, 3xx, 4xx, 5xx, and not answered.
    pub status_classes: [u64; 6],
    /// Requests that took at most `LATENCY_BOUNDS_US[i]` (cumulative).
    pub latency_cumulative: Vec<u64>,
    pub latency_count: u64,
    pub latency_sum_us: u64,
    pub received_bytes: u64,
    pub sent_bytes: u64,
}

/// The status class labels, in `status_classes` order.
pub const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"];

impl RequestMetrics {
    /// A request started (the in-flight gauge).
    pub fn begin(&mut self) {
        self.in_flight += 1;
    }

    /// A request ended.
    pub fn end(&mut self, outcome: RequestOutcome) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let counters = self
            .operations
            .entry(outcome.operation)
            .or_insert_with(OperationCounters::new);
        let class = match outcome.status {
            Some(status @ 100..=599) => (status / 100 - 1) as usize,
            _ => 5,
        };
        counters.status_classes[class] += 1;
        let elapsed_us = outcome.elapsed_us.clamp(1, LATENCY_US_MAX);
        counters.latency_us.saturating_record(elapsed_us);
        counters.latency_sum_us += elapsed_us;
        counters.received_bytes += outcome.received_bytes;
        counters.sent_bytes += outcome.sent_bytes;
    }

    /// An S3 error response went out with this code.
    pub fn note_error(&mut self, code: &'static str) {
        *self.errors.entry(code).or_default() += 1;
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    pub fn operations(&self) -> Vec<OperationSnapshot> {
        let mut out: Vec<OperationSnapshot> = self
            .operations
            .iter()
            .map(|(operation, counters)| OperationSnapshot {
                operation,
                status_classes: counters.status_classes,
                latency_cumulative: LATENCY_BOUNDS_US
                    .iter()
                    .map(|bound| counters.latency_us.count_between(1, *bound))
                    .collect(),
                latency_count: counters.latency_us.len(),
                latency_sum_us: counters.latency_sum_us,
                received_bytes: counters.received_bytes,
                sent_bytes: counters.sent_bytes,
            })
            .collect();
        out.sort_by_key(|snapshot| snapshot.operation);
        out
    }

    pub fn errors(&self) -> Vec<(&'static str, u64)> {
        let mut out: Vec<_> = self.errors.iter().map(|(c, n)| (*c, *n)).collect();
        out.sort();
        out
    }
}

/// Everything one shard reports when the control plane is scraped.
#[derive(Clone, Debug, Default)]
pub struct ShardMetrics {
    pub shard: u16,
    pub operations: Vec<OperationSnapshot>,
    pub errors: Vec<(&'static str, u64)>,
    pub in_flight: u64,
    pub connections_open: u64,
    /// Requests from other shards and the control plane waiting in this
    /// shard's inbox.
    pub inbox_depth: u64,
    /// Commits waiting for the next group commit.
    pub commit_queue: u64,
    pub commit_batch_ops: engine::stats::BucketSnapshot,
    pub fdatasync_us: engine::stats::BucketSnapshot,
    pub commit_us: engine::stats::BucketSnapshot,
    /// Bytes of live records in this shard's segments, and the rest of the
    /// space allocated to them (dead records, the active segment's unwritten
    /// tail); `None`: the accounting was unreadable.
    pub live_bytes: Option<u64>,
    pub dead_bytes: Option<u64>,
    pub compaction_passes: u64,
    pub compaction_bytes_relocated: u64,
    pub compaction_bytes_reclaimed: u64,
    pub compaction_segments_removed: u64,
    /// Segments set aside after a failed write or sync.
    pub segments_poisoned: u64,
    /// Client writes refused for lack of space.
    pub disk_full: bool,
    /// Access log lines dropped because the writer was behind.
    pub access_log_dropped_lines: u64,
    /// Upload chunks whose MD5 was computed in a batch of several, and alone.
    pub md5_chunks_batched: u64,
    pub md5_chunks_alone: u64,
    pub md5_bodies_at_commit: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(operation: &'static str, status: Option<u16>, elapsed_us: u64) -> RequestOutcome {
        RequestOutcome {
            operation,
            status,
            elapsed_us,
            received_bytes: 10,
            sent_bytes: 20,
        }
    }

    #[test]
    fn counts_by_class_latency_and_errors() {
        let mut metrics = RequestMetrics::default();
        for (status, elapsed) in [(Some(200), 300), (Some(404), 2_000), (None, 70_000_000)] {
            metrics.begin();
            if status == Some(404) {
                metrics.note_error("NoSuchKey");
            }
            metrics.end(outcome("GetObject", status, elapsed));
        }
        assert_eq!(metrics.in_flight(), 0);
        let ops = metrics.operations();
        assert_eq!(ops.len(), 1);
        let get = &ops[0];
        assert_eq!(get.status_classes, [0, 1, 0, 1, 0, 1]);
        assert_eq!(get.latency_count, 3);
        assert_eq!(get.latency_cumulative[0], 0, "le 250us");
        assert_eq!(get.latency_cumulative[1], 1, "le 500us");
        assert_eq!(get.latency_cumulative[3], 2, "le 2.5ms");
        assert_eq!(
            *get.latency_cumulative.last().unwrap(),
            2,
            "70 s is above 60 s"
        );
        assert!(get.latency_cumulative.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(get.received_bytes, 30);
        assert_eq!(metrics.errors(), vec![("NoSuchKey", 1)]);
    }
}
