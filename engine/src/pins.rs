//! Read pins: how the compactor knows that no request still reads a segment
//! it has just retired, before it removes the file.
//!
//! Every request (and every scrubber batch) holds a [`PinGuard`] from before
//! its first index lookup until its last segment read. Guards carry tickets
//! from one counter shared by every thread. After the compactor commits a
//! segment's retirement it takes [`ReadPins::mark`]; a reader with a ticket
//! below the mark may still hold the old locations, one with a ticket at or
//! above it looked the index up after the commit. The file is removed once no
//! slot reports a ticket below the mark.
//!
//! Each reading thread owns one [`PinSlot`]; its mutex is only ever taken by
//! that thread, so it is uncontended. Other threads read the slot's oldest
//! ticket from an atomic.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A slot's `oldest` when it holds no pin.
const IDLE: u64 = u64::MAX;

#[derive(Default)]
pub struct ReadPins {
    next_ticket: AtomicU64,
    slots: Mutex<Vec<Arc<PinSlot>>>,
    /// Bumped after every segment file removal, so readers drop cached
    /// handles (an open handle keeps a removed file's space allocated).
    removed_generation: AtomicU64,
}

pub struct PinSlot {
    oldest: AtomicU64,
    active: Mutex<BTreeMap<u64, u32>>,
}

/// Held while a request may read segment files; dropping it unpins.
pub struct PinGuard {
    slot: Arc<PinSlot>,
    ticket: u64,
}

impl ReadPins {
    pub fn new() -> Arc<ReadPins> {
        Arc::new(ReadPins::default())
    }

    /// A slot for one reading thread.
    pub fn register(&self) -> Arc<PinSlot> {
        let slot = Arc::new(PinSlot {
            oldest: AtomicU64::new(IDLE),
            active: Mutex::new(BTreeMap::new()),
        });
        self.slots
            .lock()
            .expect("pin slots lock")
            .push(slot.clone());
        slot
    }

    /// Pins on `slot` until the guard drops.
    pub fn pin(&self, slot: &Arc<PinSlot>) -> PinGuard {
        let ticket = self.next_ticket.fetch_add(1, Ordering::SeqCst);
        let mut active = slot.active.lock().expect("pin slot lock");
        *active.entry(ticket).or_default() += 1;
        let oldest = *active.keys().next().expect("just inserted");
        slot.oldest.store(oldest, Ordering::SeqCst);
        PinGuard {
            slot: slot.clone(),
            ticket,
        }
    }

    /// Taken after a retirement commit: readers pinned before it may still
    /// use the retired locations.
    pub fn mark(&self) -> u64 {
        self.next_ticket.load(Ordering::SeqCst)
    }

    /// True while some reader pinned before `mark` is still pinned.
    pub fn pinned_before(&self, mark: u64) -> bool {
        let slots = self.slots.lock().expect("pin slots lock");
        slots
            .iter()
            .any(|slot| slot.oldest.load(Ordering::SeqCst) < mark)
    }

    pub fn removed_generation(&self) -> u64 {
        self.removed_generation.load(Ordering::Acquire)
    }

    pub fn segment_removed(&self) {
        self.removed_generation.fetch_add(1, Ordering::AcqRel);
    }
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        let mut active = self.slot.active.lock().expect("pin slot lock");
        if let Some(count) = active.get_mut(&self.ticket) {
            *count -= 1;
            if *count == 0 {
                active.remove(&self.ticket);
            }
        }
        let oldest = active.keys().next().copied().unwrap_or(IDLE);
        self.slot.oldest.store(oldest, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_waits_for_earlier_pins_only() {
        let pins = ReadPins::new();
        let a = pins.register();
        let b = pins.register();
        let early = pins.pin(&a);
        let mark = pins.mark();
        let late = pins.pin(&b);
        assert!(pins.pinned_before(mark));
        drop(early);
        assert!(
            !pins.pinned_before(mark),
            "a later pin does not hold the mark"
        );
        let again = pins.pin(&a);
        assert!(!pins.pinned_before(mark));
        drop((late, again));
        assert!(!pins.pinned_before(pins.mark()));
    }

    #[test]
    fn nested_pins_on_one_slot_report_the_oldest() {
        let pins = ReadPins::new();
        let slot = pins.register();
        let first = pins.pin(&slot);
        let second = pins.pin(&slot);
        let mark = pins.mark();
        drop(second);
        assert!(pins.pinned_before(mark), "the first pin is still held");
        drop(first);
        assert!(!pins.pinned_before(mark));
    }
}
