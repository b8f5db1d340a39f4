//! Reading objects from any shard: index lookups and listings on any shard's
//! index (LMDB readers are lock-free), and verified reads of chunk records
//! from any shard's segment files. GET and HEAD never hop shards.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use crate::error::{EngineError, EngineResult};
use crate::format::{record_len_bytes, verify_chunk};
use crate::index::{Extent, Index};
use crate::io::{AlignedBuf, Disk, DiskFile};
use crate::limits::READER_OPEN_SEGMENTS_MAX;
use crate::pins::{PinGuard, PinSlot, ReadPins};
use crate::store::segment_path;

/// Open segment files by (shard, segment number).
type OpenFiles<F> = HashMap<(u16, u32), Rc<F>>;

pub struct ObjectReader<D: Disk> {
    disk: D,
    data_dir: PathBuf,
    indexes: Vec<Index>,
    files: RefCell<OpenFiles<D::File>>,
    pins: Arc<ReadPins>,
    pin_slot: Arc<PinSlot>,
    /// `pins.removed_generation()` when `files` was last cleared.
    files_generation: Cell<u64>,
}

impl<D: Disk> ObjectReader<D> {
    /// `indexes[i]` is shard i's index. The reader registers its own pin
    /// slot: one reader per thread.
    pub fn new(disk: D, data_dir: PathBuf, indexes: Vec<Index>, pins: Arc<ReadPins>) -> Self {
        ObjectReader {
            disk,
            data_dir,
            indexes,
            files: RefCell::new(HashMap::new()),
            pin_slot: pins.register(),
            files_generation: Cell::new(pins.removed_generation()),
            pins,
        }
    }

    /// Pins the segments this request may read: the compactor removes no
    /// file while a pin older than its retirement is held. Take it before
    /// the first index lookup, keep it until the last chunk is read.
    pub fn pin(&self) -> PinGuard {
        self.pins.pin(&self.pin_slot)
    }

    pub fn shard_index(&self, shard: usize) -> &Index {
        &self.indexes[shard]
    }

    fn file(&self, shard: u16, segment: u32) -> EngineResult<Rc<D::File>> {
        let mut files = self.files.borrow_mut();
        let generation = self.pins.removed_generation();
        if generation != self.files_generation.get() {
            // A removed segment's space returns only when its last handle
            // closes; numbers are never reused, so the rest is just reopened.
            files.clear();
            self.files_generation.set(generation);
        }
        if let Some(file) = files.get(&(shard, segment)) {
            return Ok(file.clone());
        }
        if files.len() >= READER_OPEN_SEGMENTS_MAX {
            files.clear();
        }
        let path = segment_path(&self.data_dir, shard, segment);
        let file = Rc::new(self.disk.open_segment(&path, false)?);
        files.insert((shard, segment), file.clone());
        Ok(file)
    }

    /// Reads and verifies one chunk record into `buf`. On success the payload
    /// is `buf.as_slice()[64..64 + extent.payload_len_bytes]`. A record that
    /// fails verification is an error, logged with its location, never data.
    pub async fn read_chunk(
        &self,
        extent: &Extent,
        buf: AlignedBuf,
    ) -> (EngineResult<()>, AlignedBuf) {
        let file = match self.file(extent.shard, extent.segment) {
            Ok(file) => file,
            Err(err) => return (Err(err), buf),
        };
        let record_len = record_len_bytes(extent.payload_len_bytes as usize);
        let (result, buf) = file.read_at(buf, extent.offset_bytes, record_len).await;
        if let Err(err) = result {
            return (Err(err.into()), buf);
        }
        let checked = verify_chunk(
            buf.as_slice(),
            extent.object_id,
            extent.chunk_index,
            extent.payload_len_bytes,
        );
        match checked {
            Ok(()) => (Ok(()), buf),
            Err(detail) => {
                tracing::error!(shard = extent.shard, segment = extent.segment,
                    offset = extent.offset_bytes, %detail, "corrupt chunk record");
                (Err(EngineError::Corrupt { detail }), buf)
            }
        }
    }
}
