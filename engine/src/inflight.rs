//! Writes in flight: chunk records appended for a write that has not
//! committed (or been abandoned) yet, and the segments they pin.
//!
//! The index alone says which bytes are live once committed; a slow upload's
//! first chunks sit in a segment for seconds (minutes, over a slow link)
//! before its commit references them. The compactor must treat them as live:
//! a segment any in-flight write appended to is never compacted or retired.
//!
//! A write is named by the object id its records carry. Its hold begins with
//! its first client append ([`InflightWrites::note_append`]) and ends when a
//! commit naming that object id finishes (whatever its outcome), when the
//! writer abandons it, or, as a last resort for a writer that vanished
//! without saying so, after [`crate::limits::INFLIGHT_WRITE_IDLE_MS_MAX`]
//! without an append.
//!
//! Owned by the shard's writer state; only the owner shard's reactor touches it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One write's appended segments (usually one or two) and its last append.
#[derive(Debug)]
struct InflightWrite {
    segments: Vec<u32>,
    last_append_at: Instant,
}

#[derive(Debug, Default)]
pub struct InflightWrites {
    writes: HashMap<u128, InflightWrite>,
    /// Segment → number of in-flight writes with records in it.
    held: HashMap<u32, u32>,
}

impl InflightWrites {
    /// Records that the write `object_id` appended to `segment`.
    pub fn note_append(&mut self, object_id: u128, segment: u32, now: Instant) {
        let write = self
            .writes
            .entry(object_id)
            .or_insert_with(|| InflightWrite {
                segments: Vec::new(),
                last_append_at: now,
            });
        write.last_append_at = now;
        if !write.segments.contains(&segment) {
            write.segments.push(segment);
            *self.held.entry(segment).or_default() += 1;
        }
    }

    /// Ends the hold of `object_id` (committed or abandoned); a no-op for an
    /// id with no hold. Returns whether there was one.
    pub fn release(&mut self, object_id: u128) -> bool {
        let Some(write) = self.writes.remove(&object_id) else {
            return false;
        };
        for segment in write.segments {
            let count = self
                .held
                .get_mut(&segment)
                .expect("a held segment has a count");
            *count -= 1;
            if *count == 0 {
                self.held.remove(&segment);
            }
        }
        true
    }

    /// True while some write in flight has records in `segment`.
    pub fn holds(&self, segment: u32) -> bool {
        self.held.contains_key(&segment)
    }

    /// Releases the holds of writes with no append for `idle_max`; returns
    /// how many. Such a writer is gone (its client's reads time out long
    /// before), and its hold would keep the segment from compaction forever.
    pub fn expire_idle(&mut self, now: Instant, idle_max: Duration) -> usize {
        let expired: Vec<u128> = self
            .writes
            .iter()
            .filter(|(_, write)| now.saturating_duration_since(write.last_append_at) >= idle_max)
            .map(|(object_id, _)| *object_id)
            .collect();
        for object_id in &expired {
            self.release(*object_id);
        }
        expired.len()
    }

    /// Writes in flight now.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_is_held_until_every_writer_in_it_is_done() {
        let now = Instant::now();
        let mut inflight = InflightWrites::default();
        inflight.note_append(1, 7, now);
        inflight.note_append(1, 7, now);
        inflight.note_append(1, 8, now);
        inflight.note_append(2, 8, now);
        assert!(inflight.holds(7) && inflight.holds(8));
        assert!(inflight.release(1));
        assert!(!inflight.holds(7), "only write 1 was in segment 7");
        assert!(inflight.holds(8), "write 2 is still in segment 8");
        assert!(!inflight.release(1), "a second release is a no-op");
        assert!(inflight.release(2));
        assert!(!inflight.holds(8));
        assert!(inflight.is_empty());
    }

    #[test]
    fn only_idle_writes_expire() {
        let start = Instant::now();
        let mut inflight = InflightWrites::default();
        inflight.note_append(1, 3, start);
        inflight.note_append(2, 3, start);
        let later = start + Duration::from_secs(10);
        inflight.note_append(2, 4, later);
        assert_eq!(inflight.expire_idle(later, Duration::from_secs(5)), 1);
        assert_eq!(inflight.len(), 1);
        assert!(inflight.holds(3) && inflight.holds(4), "write 2 holds both");
        assert_eq!(inflight.expire_idle(later, Duration::from_secs(5)), 0);
    }
}
