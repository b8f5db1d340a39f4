//! The one door to the disk. Everything the engine writes or reads goes through
//! [`Disk`] and [`DiskFile`], with two implementations: [`uring::UringDisk`]
//! (io_uring, O_DIRECT, several writes in flight) and [`sim::SimDisk`] (memory,
//! seeded faults and crashes, for deterministic tests).
//!
//! This is the only module where `unsafe` is allowed (buffer alignment, raw
//! syscalls, opening LMDB), each block with a `// SAFETY:` comment.
#![allow(unsafe_code)]

pub mod aligned;
pub mod lmdb;
pub mod modes;
pub mod process;
pub mod sim;
pub mod uring;

use std::io;
use std::path::Path;

pub use aligned::{AlignedBuf, BufPool};

/// A store of segment files. Opening and preallocating are synchronous: they
/// happen once per segment (rarely) and must not interleave with appends.
pub trait Disk: Clone + 'static {
    type File: DiskFile;

    /// Creates (or truncates) a segment file preallocated to `len_bytes`.
    fn create_segment(&self, path: &Path, len_bytes: u64) -> io::Result<Self::File>;

    /// Opens an existing segment file for reading, and writing if `writable`.
    fn open_segment(&self, path: &Path, writable: bool) -> io::Result<Self::File>;

    /// Removes a segment file (its space returns once no handle is open).
    fn remove_segment(&self, path: &Path) -> io::Result<()>;

    /// The files directly in `dir` (a shard directory), for cleanup at open.
    fn list_files(&self, dir: &Path) -> io::Result<Vec<std::path::PathBuf>>;

    /// Bytes still free for new segments in the filesystem holding `dir`.
    fn free_bytes(&self, dir: &Path) -> io::Result<u64>;
}

/// One open segment file. Offsets and lengths are multiples of
/// [`crate::limits::DISK_BLOCK_BYTES`]; buffers move in and come back.
#[allow(async_fn_in_trait)]
pub trait DiskFile: 'static {
    /// Writes all of `buf` (its initialized length) at `offset_bytes`.
    async fn write_at(&self, buf: AlignedBuf, offset_bytes: u64) -> (io::Result<()>, AlignedBuf);

    /// Reads exactly `len_bytes` at `offset_bytes` into the start of `buf`.
    async fn read_at(
        &self,
        buf: AlignedBuf,
        offset_bytes: u64,
        len_bytes: usize,
    ) -> (io::Result<()>, AlignedBuf);

    /// Makes every completed write durable (fdatasync).
    async fn sync_data(&self) -> io::Result<()>;
}

/// Pins the calling thread to one CPU core, so a shard's reactor, its caches
/// and its io_uring rings stay on the core they were built on.
pub fn pin_current_thread_to_core(core: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; zeroed is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes inside `set`; core is bounds-checked below.
    if core >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    unsafe { libc::CPU_SET(core, &mut set) };
    // SAFETY: pid 0 means the calling thread; set is a valid cpu_set_t.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
