//! 4 KiB-aligned owned buffers for O_DIRECT, and a per-shard pool that reuses
//! them (first touch of fresh memory costs several times a memcpy here).
//!
//! All alignment arithmetic lives in this file.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

use crate::limits::DISK_BLOCK_BYTES;

/// Rounds `len` up to a multiple of the disk block size.
pub const fn round_up_to_block(len: usize) -> usize {
    len.div_ceil(DISK_BLOCK_BYTES) * DISK_BLOCK_BYTES
}

/// True when `value` is a multiple of the disk block size.
pub const fn is_block_aligned(value: u64) -> bool {
    value.is_multiple_of(DISK_BLOCK_BYTES as u64)
}

/// A zero-initialized heap buffer whose address and capacity are multiples of
/// 4 KiB. `len` is how many leading bytes are meaningful (what a write sends).
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    capacity: usize,
    len: usize,
}

// SAFETY: AlignedBuf uniquely owns its allocation (like Vec<u8>); moving it to
// another thread moves that ownership.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    /// Allocates a buffer of at least `capacity` bytes, rounded up to a block.
    pub fn new(capacity: usize) -> Self {
        let capacity = round_up_to_block(capacity.max(1));
        let layout = Self::layout(capacity);
        // SAFETY: layout has a non-zero size.
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).unwrap_or_else(|| alloc::handle_alloc_error(layout));
        AlignedBuf {
            ptr,
            capacity,
            len: 0,
        }
    }

    fn layout(capacity: usize) -> Layout {
        Layout::from_size_align(capacity, DISK_BLOCK_BYTES).expect("aligned layout")
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets the meaningful length. Panics past capacity (a bug, not input).
    pub fn set_len(&mut self, len: usize) {
        assert!(
            len <= self.capacity,
            "len {len} > capacity {}",
            self.capacity
        );
        self.len = len;
    }

    /// The whole capacity, for filling.
    pub fn as_full_mut(&mut self) -> &mut [u8] {
        // SAFETY: the allocation is `capacity` bytes, zero-initialized at
        // allocation and only ever written through safe slices since.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.capacity) }
    }

    /// The meaningful bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: len <= capacity and every byte is initialized.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

/// The whole capacity (as [`AlignedBuf::as_full_mut`]), so a reader that fills a range
/// of an owned buffer can copy into it.
impl AsMut<[u8]> for AlignedBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        self.as_full_mut()
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with exactly this layout.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), Self::layout(self.capacity)) }
    }
}

// SAFETY: read_ptr points at `len` initialized bytes that stay valid while the
// buffer is owned by the in-flight operation (the allocation never moves).
unsafe impl monoio::buf::IoBuf for AlignedBuf {
    fn read_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len
    }
}

// SAFETY: write_ptr points at `capacity` writable bytes; set_init only records
// how many the kernel filled, never beyond capacity.
unsafe impl monoio::buf::IoBufMut for AlignedBuf {
    fn write_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    fn bytes_total(&mut self) -> usize {
        self.capacity
    }

    unsafe fn set_init(&mut self, pos: usize) {
        self.len = pos;
    }
}

/// A shard-local free list of equally sized buffers. Not shared between
/// threads: a buffer sent to another shard comes back with the reply.
pub struct BufPool {
    buf_bytes: usize,
    free: Vec<AlignedBuf>,
    free_max: usize,
}

impl BufPool {
    pub fn new(buf_bytes: usize, free_max: usize) -> Self {
        BufPool {
            buf_bytes: round_up_to_block(buf_bytes),
            free: Vec::new(),
            free_max,
        }
    }

    /// A buffer with `len` 0 and at least the pool's size.
    pub fn take(&mut self) -> AlignedBuf {
        match self.free.pop() {
            Some(mut buf) => {
                buf.set_len(0);
                buf
            }
            None => AlignedBuf::new(self.buf_bytes),
        }
    }

    /// Returns a buffer; foreign sizes and overflow are dropped.
    pub fn give(&mut self, buf: AlignedBuf) {
        if buf.capacity() == self.buf_bytes && self.free.len() < self.free_max {
            self.free.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_aligned_and_rounded() {
        let mut buf = AlignedBuf::new(5000);
        assert_eq!(buf.capacity(), 8192);
        assert_eq!(buf.as_full_mut().as_ptr() as usize % DISK_BLOCK_BYTES, 0);
        buf.as_full_mut()[..3].copy_from_slice(b"abc");
        buf.set_len(3);
        assert_eq!(buf.as_slice(), b"abc");
        assert_eq!(round_up_to_block(0), 0);
        assert_eq!(round_up_to_block(4097), 8192);
        assert!(is_block_aligned(8192));
    }

    #[test]
    fn pool_reuses() {
        let mut pool = BufPool::new(4096, 2);
        let buf = pool.take();
        let addr = buf.as_slice().as_ptr();
        pool.give(buf);
        assert_eq!(pool.take().as_slice().as_ptr(), addr);
    }
}
