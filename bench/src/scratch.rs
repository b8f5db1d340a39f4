//! Scratch files and buffers of the machine probes (`ceiling`, `commit_floor`): a file
//! removed however the probe ends, and an O_DIRECT-aligned window of an ordinary buffer.
//!
//! Must not touch: any file but the one it is given.

use std::path::Path;

use crate::limits::DIRECT_IO_ALIGNMENT_BYTES;

/// The `len_bytes` of `storage` that start on a `DIRECT_IO_ALIGNMENT_BYTES` boundary, as
/// O_DIRECT requires of its buffers. Found by address arithmetic on an ordinary `Vec`
/// instead of an aligned allocation, which would need `unsafe`.
///
/// Panics if `storage` is shorter than `len_bytes + DIRECT_IO_ALIGNMENT_BYTES - 1`: the
/// caller sized it wrong.
pub fn direct_io_aligned_mut(storage: &mut [u8], len_bytes: usize) -> &mut [u8] {
    let misalignment_bytes = storage.as_ptr() as usize % DIRECT_IO_ALIGNMENT_BYTES;
    let start = (DIRECT_IO_ALIGNMENT_BYTES - misalignment_bytes) % DIRECT_IO_ALIGNMENT_BYTES;
    assert!(
        start + len_bytes <= storage.len(),
        "direct I/O storage of {} bytes cannot hold {len_bytes} aligned bytes",
        storage.len()
    );
    &mut storage[start..start + len_bytes]
}

/// Removes the file when dropped; a file that was never created is not an error.
pub struct RemoveFileOnDrop<'a>(pub &'a Path);

impl Drop for RemoveFileOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_subslice_starts_on_a_boundary_at_every_offset() {
        let len_bytes = 3 * DIRECT_IO_ALIGNMENT_BYTES;
        let mut storage = vec![0u8; len_bytes + 2 * DIRECT_IO_ALIGNMENT_BYTES];
        // Sub-slices at every offset of one alignment period cover every misalignment,
        // including none.
        for offset in 0..DIRECT_IO_ALIGNMENT_BYTES {
            let end = offset + len_bytes + DIRECT_IO_ALIGNMENT_BYTES - 1;
            let aligned = direct_io_aligned_mut(&mut storage[offset..end], len_bytes);
            assert_eq!(aligned.len(), len_bytes);
            assert_eq!(aligned.as_ptr() as usize % DIRECT_IO_ALIGNMENT_BYTES, 0);
        }
    }

    #[test]
    #[should_panic(expected = "cannot hold")]
    fn aligned_subslice_of_too_small_storage_is_a_bug() {
        let mut storage = vec![0u8; DIRECT_IO_ALIGNMENT_BYTES + 1];
        // A window that does not start on a boundary has too few bytes after it.
        let misalignment = storage.as_ptr() as usize % DIRECT_IO_ALIGNMENT_BYTES;
        let offset = if misalignment == 0 { 1 } else { 0 };
        let window = &mut storage[offset..offset + DIRECT_IO_ALIGNMENT_BYTES];
        direct_io_aligned_mut(window, DIRECT_IO_ALIGNMENT_BYTES);
    }
}
