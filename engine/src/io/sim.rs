//! A simulated disk for deterministic tests: files live in memory, completed
//! writes stay volatile until `sync_data`, and a seeded crash keeps a random,
//! block-torn subset of the unsynced writes. Faults (EIO, ENOSPC, failed
//! fsync) are injected on request.
//!
//! Single-threaded by design (`Rc<RefCell<_>>`): one simulation runs on one
//! reactor thread.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{AlignedBuf, Disk, DiskFile};
use crate::limits::DISK_BLOCK_BYTES;

/// What the next operations should fail with.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimFaults {
    /// The next write fails with EIO.
    pub write_eio_next: bool,
    /// The next sync fails with EIO (and its writes stay volatile).
    pub sync_eio_next: bool,
    /// Writes past this many total bytes fail with ENOSPC.
    pub space_bytes_max: Option<u64>,
}

#[derive(Default)]
struct SimFileData {
    durable: Vec<u8>,
    volatile: Vec<u8>,
    unsynced: Vec<(u64, Vec<u8>)>,
}

struct SimState {
    files: HashMap<PathBuf, SimFileData>,
    rng: StdRng,
    faults: SimFaults,
    written_bytes: u64,
    /// Bytes of files (as created) the disk holds at most; None: unbounded.
    capacity_bytes: Option<u64>,
}

#[derive(Clone)]
pub struct SimDisk {
    state: Rc<RefCell<SimState>>,
}

pub struct SimFile {
    path: PathBuf,
    state: Rc<RefCell<SimState>>,
}

impl SimDisk {
    pub fn new(seed: u64) -> Self {
        let state = SimState {
            files: HashMap::new(),
            rng: StdRng::seed_from_u64(seed),
            faults: SimFaults::default(),
            written_bytes: 0,
            capacity_bytes: None,
        };
        SimDisk {
            state: Rc::new(RefCell::new(state)),
        }
    }

    /// Bounds the bytes all files may occupy: creating a segment past it
    /// fails with ENOSPC, removing one frees its bytes.
    pub fn set_capacity(&self, capacity_bytes: Option<u64>) {
        self.state.borrow_mut().capacity_bytes = capacity_bytes;
    }

    /// Bytes the files occupy (their preallocated lengths).
    pub fn allocated_bytes(&self) -> u64 {
        let state = self.state.borrow();
        state.files.values().map(|f| f.durable.len() as u64).sum()
    }

    /// Paths of the files on the disk, sorted.
    pub fn file_paths(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self.state.borrow().files.keys().cloned().collect();
        out.sort();
        out
    }

    pub fn set_faults(&self, faults: SimFaults) {
        self.state.borrow_mut().faults = faults;
    }

    /// Power loss: every file keeps its durable bytes plus a random subset of
    /// the unsynced writes, each possibly torn at a block boundary.
    pub fn crash(&self) {
        let mut state = self.state.borrow_mut();
        let SimState { files, rng, .. } = &mut *state;
        for data in files.values_mut() {
            let mut image = data.durable.clone();
            for (offset, bytes) in data.unsynced.drain(..) {
                let blocks = bytes.len().div_ceil(DISK_BLOCK_BYTES);
                for block in 0..blocks {
                    if rng.gen_bool(0.5) {
                        let start = block * DISK_BLOCK_BYTES;
                        let end = (start + DISK_BLOCK_BYTES).min(bytes.len());
                        apply(&mut image, offset + start as u64, &bytes[start..end]);
                    }
                }
            }
            data.volatile = image.clone();
            data.durable = image;
        }
    }

    /// Flips one byte of a file's stored image (durable and volatile).
    pub fn corrupt(&self, path: &Path, offset_bytes: u64) {
        let mut state = self.state.borrow_mut();
        let data = state
            .files
            .get_mut(path)
            .expect("corrupting a missing file");
        for image in [&mut data.durable, &mut data.volatile] {
            if let Some(byte) = image.get_mut(offset_bytes as usize) {
                *byte ^= 0x5a;
            }
        }
    }
}

fn apply(image: &mut Vec<u8>, offset_bytes: u64, bytes: &[u8]) {
    let start = offset_bytes as usize;
    let end = start + bytes.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[start..end].copy_from_slice(bytes);
}

fn eio() -> io::Error {
    io::Error::from_raw_os_error(libc::EIO)
}

impl Disk for SimDisk {
    type File = SimFile;

    fn create_segment(&self, path: &Path, len_bytes: u64) -> io::Result<SimFile> {
        let allocated: u64 = self.allocated_bytes();
        let mut state = self.state.borrow_mut();
        if let Some(capacity) = state.capacity_bytes {
            let replaced = state.files.get(path).map_or(0, |f| f.durable.len() as u64);
            if allocated - replaced + len_bytes > capacity {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
        }
        let data = SimFileData {
            durable: vec![0; len_bytes as usize],
            volatile: vec![0; len_bytes as usize],
            unsynced: Vec::new(),
        };
        state.files.insert(path.to_path_buf(), data);
        Ok(SimFile {
            path: path.to_path_buf(),
            state: self.state.clone(),
        })
    }

    fn remove_segment(&self, path: &Path) -> io::Result<()> {
        match self.state.borrow_mut().files.remove(path) {
            Some(_) => Ok(()),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }

    fn list_files(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let state = self.state.borrow();
        Ok(state
            .files
            .keys()
            .filter(|path| path.parent() == Some(dir))
            .cloned()
            .collect())
    }

    fn free_bytes(&self, _dir: &Path) -> io::Result<u64> {
        let allocated = self.allocated_bytes();
        let state = self.state.borrow();
        Ok(state
            .capacity_bytes
            .map_or(u64::MAX, |capacity| capacity.saturating_sub(allocated)))
    }

    fn open_segment(&self, path: &Path, _writable: bool) -> io::Result<SimFile> {
        if !self.state.borrow().files.contains_key(path) {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        Ok(SimFile {
            path: path.to_path_buf(),
            state: self.state.clone(),
        })
    }
}

impl DiskFile for SimFile {
    async fn write_at(&self, buf: AlignedBuf, offset_bytes: u64) -> (io::Result<()>, AlignedBuf) {
        assert!(
            offset_bytes.is_multiple_of(DISK_BLOCK_BYTES as u64),
            "unaligned write offset"
        );
        assert!(
            buf.len().is_multiple_of(DISK_BLOCK_BYTES),
            "unaligned write length"
        );
        let mut state = self.state.borrow_mut();
        if std::mem::take(&mut state.faults.write_eio_next) {
            return (Err(eio()), buf);
        }
        let total = state.written_bytes + buf.len() as u64;
        if state.faults.space_bytes_max.is_some_and(|max| total > max) {
            return (Err(io::Error::from_raw_os_error(libc::ENOSPC)), buf);
        }
        state.written_bytes = total;
        let data = state.files.get_mut(&self.path).expect("sim file exists");
        apply(&mut data.volatile, offset_bytes, buf.as_slice());
        data.unsynced.push((offset_bytes, buf.as_slice().to_vec()));
        (Ok(()), buf)
    }

    async fn read_at(
        &self,
        mut buf: AlignedBuf,
        offset_bytes: u64,
        len_bytes: usize,
    ) -> (io::Result<()>, AlignedBuf) {
        assert!(
            offset_bytes.is_multiple_of(DISK_BLOCK_BYTES as u64),
            "unaligned read offset"
        );
        let state = self.state.borrow();
        let data = state.files.get(&self.path).expect("sim file exists");
        let start = offset_bytes as usize;
        if start + len_bytes > data.volatile.len() {
            return (Err(io::Error::from(io::ErrorKind::UnexpectedEof)), buf);
        }
        buf.as_full_mut()[..len_bytes].copy_from_slice(&data.volatile[start..start + len_bytes]);
        buf.set_len(len_bytes);
        (Ok(()), buf)
    }

    async fn sync_data(&self) -> io::Result<()> {
        let mut state = self.state.borrow_mut();
        if std::mem::take(&mut state.faults.sync_eio_next) {
            return Err(eio());
        }
        let data = state.files.get_mut(&self.path).expect("sim file exists");
        for (offset, bytes) in std::mem::take(&mut data.unsynced) {
            apply(&mut data.durable, offset, &bytes);
        }
        Ok(())
    }
}
