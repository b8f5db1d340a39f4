//! Reading objects from any shard: index lookups and listings on any shard's
//! index (LMDB readers are lock-free), and verified reads of chunk records
//! from any shard's segment files. GET and HEAD never hop shards.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use crate::error::{EngineError, EngineResult};
use crate::format::{record_len_bytes, verify_chunk};
use crate::index::{Extent, Index};
use crate::io::{AlignedBuf, Disk, DiskFile};
use crate::limits::READER_OPEN_SEGMENTS_MAX;
use crate::store::segment_path;

/// Open segment files by (shard, segment number).
type OpenFiles<F> = HashMap<(u16, u32), Rc<F>>;

pub struct ObjectReader<D: Disk> {
    disk: D,
    data_dir: PathBuf,
    indexes: Vec<Index>,
    files: RefCell<OpenFiles<D::File>>,
}

impl<D: Disk> ObjectReader<D> {
    /// `indexes[i]` is shard i's index.
    pub fn new(disk: D, data_dir: PathBuf, indexes: Vec<Index>) -> Self {
        ObjectReader {
            disk,
            data_dir,
            indexes,
            files: RefCell::new(HashMap::new()),
        }
    }

    pub fn shard_index(&self, shard: usize) -> &Index {
        &self.indexes[shard]
    }

    fn file(&self, shard: u16, segment: u32) -> EngineResult<Rc<D::File>> {
        let mut files = self.files.borrow_mut();
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
