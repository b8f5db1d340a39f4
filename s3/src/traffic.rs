//! Requests and body bytes in and out per bucket, counted by the shard that
//! served them and handed to the control plane every few seconds, which adds
//! them to the catalog's per-day rows (the figures a provider bills from).
//!
//! Owns: each shard's [`TrafficCounter`] (bounded: at most
//! [`TRAFFIC_BUCKETS_MAX`] buckets between two flushes; beyond that the
//! requests are still served and counted under the tenant with an empty
//! bucket name) and the flush loop.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use crate::shard::{ControlRequest, Shard};

/// Distinct buckets one shard counts between two flushes.
pub const TRAFFIC_BUCKETS_MAX: usize = 10_000;
/// How often a shard hands its counts over.
const FLUSH_INTERVAL: Duration = Duration::from_secs(5);

/// Requests, bytes in and bytes out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Account id → bucket name → counts since the last flush.
pub type TrafficCounts = HashMap<String, HashMap<String, Traffic>>;

#[derive(Debug, Default)]
pub struct TrafficCounter {
    counts: RefCell<TrafficCounts>,
}

impl TrafficCounter {
    /// Counts one request. Allocates only for a bucket not yet seen since
    /// the last flush: this runs on every request.
    pub fn note(&self, account: &str, bucket: &str, bytes_in: u64, bytes_out: u64) {
        let mut counts = self.counts.borrow_mut();
        let known = counts
            .get_mut(account)
            .and_then(|buckets| buckets.get_mut(bucket));
        let entry = match known {
            Some(entry) => entry,
            None => {
                let full = counts.values().map(HashMap::len).sum::<usize>() >= TRAFFIC_BUCKETS_MAX;
                let bucket = if full { "" } else { bucket };
                counts
                    .entry(account.to_owned())
                    .or_default()
                    .entry(bucket.to_owned())
                    .or_default()
            }
        };
        entry.requests += 1;
        entry.bytes_in += bytes_in;
        entry.bytes_out += bytes_out;
    }

    pub fn take(&self) -> TrafficCounts {
        std::mem::take(&mut *self.counts.borrow_mut())
    }

    /// Counts that could not be handed over go back for the next flush.
    pub fn give_back(&self, counts: TrafficCounts) {
        let mut current = self.counts.borrow_mut();
        for (account, buckets) in counts {
            let into = current.entry(account).or_default();
            for (bucket, traffic) in buckets {
                let entry = into.entry(bucket).or_default();
                entry.requests += traffic.requests;
                entry.bytes_in += traffic.bytes_in;
                entry.bytes_out += traffic.bytes_out;
            }
        }
    }
}

/// Hands the shard's counts to the control plane every few seconds.
pub async fn flush_periodically(shard: Rc<Shard>) {
    loop {
        monoio::time::sleep(FLUSH_INTERVAL).await;
        let counts = shard.traffic.take();
        if counts.is_empty() {
            continue;
        }
        // Never waits: a busy control plane gets the counts at the next flush.
        if let Err(err) = shard.control.try_send(ControlRequest::Traffic {
            counts,
            now_ms: crate::service::now_ms(),
        }) {
            if let ControlRequest::Traffic { counts, .. } = err.into_inner() {
                shard.traffic.give_back(counts);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_stay_bounded() {
        let counter = TrafficCounter::default();
        counter.note("a", "b", 10, 0);
        counter.note("a", "b", 0, 5);
        for i in 0..TRAFFIC_BUCKETS_MAX + 10 {
            counter.note("a", &format!("x{i}"), 1, 1);
        }
        let counts = counter.take();
        // "b" and the first buckets up to the bound; the rest under "".
        assert_eq!(counts["a"].len(), TRAFFIC_BUCKETS_MAX + 1);
        let first = counts["a"]["b"];
        assert_eq!(
            (first.requests, first.bytes_in, first.bytes_out),
            (2, 10, 5)
        );
        assert_eq!(counts["a"][""].requests, 11);
        assert!(counter.take().is_empty());
    }
}
