//! Counters of the group commit for metrics: how many operations each
//! batch carries, and how long making a batch durable takes (the segments'
//! fdatasync, then the index transaction). Written by the shard's commit
//! loop, read by any thread (the control plane's metrics endpoint), so the
//! cells are relaxed atomics: one writer, no ordering needed between them.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the batch-size buckets, in operations.
pub const BATCH_OPS_BOUNDS: [u64; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];
/// Upper bounds of the duration buckets, in microseconds (100 us to 10 s).
pub const DURATION_US_BOUNDS: [u64; 14] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
    2_500_000, 10_000_000,
];

/// A cumulative-bucket histogram (Prometheus's shape) of `N` bounds; values
/// above the last bound count only in `count` (the `+Inf` bucket).
#[derive(Debug)]
pub struct BucketCounts<const N: usize> {
    bounds: &'static [u64; N],
    /// `buckets[i]`: values at most `bounds[i]` (not cumulative here; the
    /// snapshot accumulates).
    buckets: [AtomicU64; N],
    count: AtomicU64,
    sum: AtomicU64,
}

/// A consistent-enough copy for exposition: cumulative buckets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BucketSnapshot {
    pub bounds: Vec<u64>,
    /// Cumulative: values at most `bounds[i]`.
    pub cumulative: Vec<u64>,
    pub count: u64,
    pub sum: u64,
}

impl<const N: usize> BucketCounts<N> {
    pub fn new(bounds: &'static [u64; N]) -> Self {
        BucketCounts {
            bounds,
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }
    }

    pub fn record(&self, value: u64) {
        if let Some(slot) = self.bounds.iter().position(|bound| value <= *bound) {
            self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// The count is read last, so a reader racing the writer never sees
    /// buckets that add up to more than the count.
    pub fn snapshot(&self) -> BucketSnapshot {
        let mut running = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|bucket| {
                running += bucket.load(Ordering::Relaxed);
                running
            })
            .collect();
        let sum = self.sum.load(Ordering::Relaxed);
        let count = self.count.load(Ordering::Relaxed).max(running);
        BucketSnapshot {
            bounds: self.bounds.to_vec(),
            cumulative,
            count,
            sum,
        }
    }
}

/// The group commit's counters of one shard.
#[derive(Debug)]
pub struct CommitStats {
    /// Operations per batch.
    pub batch_ops: BucketCounts<9>,
    /// Each segment fdatasync, in microseconds.
    pub fdatasync_us: BucketCounts<14>,
    /// A whole batch made durable (syncs and the index transaction), in
    /// microseconds.
    pub commit_us: BucketCounts<14>,
    /// Small bodies whose ETag MD5 the commit loop computed, a batch's
    /// together in SIMD lanes (`index::Md5AtCommit`).
    pub md5_at_commit: std::sync::atomic::AtomicU64,
}

impl Default for CommitStats {
    fn default() -> Self {
        CommitStats {
            batch_ops: BucketCounts::new(&BATCH_OPS_BOUNDS),
            fdatasync_us: BucketCounts::new(&DURATION_US_BOUNDS),
            commit_us: BucketCounts::new(&DURATION_US_BOUNDS),
            md5_at_commit: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_accumulate_and_add_up_to_the_count() {
        let counts = BucketCounts::new(&BATCH_OPS_BOUNDS);
        for value in [1, 1, 3, 200, 1000] {
            counts.record(value);
        }
        let snapshot = counts.snapshot();
        assert_eq!(snapshot.cumulative[0], 2, "le 1");
        assert_eq!(snapshot.cumulative[2], 3, "le 4");
        assert_eq!(*snapshot.cumulative.last().unwrap(), 4, "le 256");
        assert_eq!(snapshot.count, 5, "1000 only in +Inf");
        assert_eq!(snapshot.sum, 1205);
        assert!(snapshot.cumulative.windows(2).all(|w| w[0] <= w[1]));
    }
}
