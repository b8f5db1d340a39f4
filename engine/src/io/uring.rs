//! The production disk: segment files opened with O_DIRECT, written and read
//! with io_uring through monoio, preallocated with fallocate.
//!
//! Filesystems that refuse O_DIRECT (tmpfs) fall back to buffered I/O with a
//! warning; durability then still comes from fdatasync.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use monoio::buf::IoBufMut;

use super::{AlignedBuf, Disk, DiskFile};

#[derive(Clone, Copy, Debug, Default)]
pub struct UringDisk;

pub struct UringFile {
    file: monoio::fs::File,
}

fn open_std(path: &Path, writable: bool, create: bool) -> io::Result<std::fs::File> {
    let mut options = OpenOptions::new();
    options.read(true).write(writable).create(create);
    let direct = options.clone().custom_flags(libc::O_DIRECT).open(path);
    match direct {
        Ok(file) => Ok(file),
        Err(err) if err.raw_os_error() == Some(libc::EINVAL) => {
            tracing::warn!(path = %path.display(), "O_DIRECT refused; using buffered I/O");
            options.open(path)
        }
        Err(err) => Err(err),
    }
}

fn preallocate(file: &std::fs::File, len_bytes: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(len_bytes).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: plain syscall on a valid, owned file descriptor.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EOPNOTSUPP) {
        // Filesystems without fallocate: a sparse file still works, only
        // without the guarantee that the space is reserved.
        return file.set_len(len_bytes);
    }
    Err(err)
}

impl Disk for UringDisk {
    type File = UringFile;

    fn create_segment(&self, path: &Path, len_bytes: u64) -> io::Result<UringFile> {
        let file = open_std(path, true, true)?;
        if let Err(err) = preallocate(&file, len_bytes) {
            // A full disk must not leave a half-made file behind.
            let _ = std::fs::remove_file(path);
            return Err(err);
        }
        // The new directory entry must survive a crash before anything in the
        // file is acknowledged.
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(UringFile {
            file: monoio::fs::File::from_std(file)?,
        })
    }

    fn open_segment(&self, path: &Path, writable: bool) -> io::Result<UringFile> {
        let file = open_std(path, writable, false)?;
        Ok(UringFile {
            file: monoio::fs::File::from_std(file)?,
        })
    }

    fn remove_segment(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)?;
        // Durable like the creation: a crash must not bring the file back.
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    fn list_files(&self, dir: &Path) -> io::Result<Vec<std::path::PathBuf>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                out.push(entry.path());
            }
        }
        Ok(out)
    }

    fn free_bytes(&self, dir: &Path) -> io::Result<u64> {
        free_bytes_of(dir)
    }
}

/// Space available to unprivileged writers in the filesystem holding `dir`.
pub fn free_bytes_of(dir: &Path) -> io::Result<u64> {
    Ok(filesystem_bytes(dir)?.available_bytes)
}

/// The sizes of the filesystem holding a directory, as `statvfs` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilesystemBytes {
    /// Everything the filesystem holds for data (`f_blocks`).
    pub total_bytes: u64,
    /// Free for root (`f_bfree`): includes the blocks reserved for root.
    pub free_bytes: u64,
    /// Free for unprivileged writers such as this server (`f_bavail`).
    pub available_bytes: u64,
}

/// Total, free and available bytes of the filesystem holding `dir`.
pub fn filesystem_bytes(dir: &Path) -> io::Result<FilesystemBytes> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: statvfs is plain data; zeroed is a valid value to overwrite.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid NUL-terminated string and `stat` a valid
    // out-pointer for the duration of the call.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut stat) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // Block counts are in units of the fragment size (`f_frsize`), not `f_bsize`.
    let fragment_bytes = stat.f_frsize as u64;
    Ok(FilesystemBytes {
        total_bytes: (stat.f_blocks as u64).saturating_mul(fragment_bytes),
        free_bytes: (stat.f_bfree as u64).saturating_mul(fragment_bytes),
        available_bytes: (stat.f_bavail as u64).saturating_mul(fragment_bytes),
    })
}

impl DiskFile for UringFile {
    async fn write_at(&self, buf: AlignedBuf, offset_bytes: u64) -> (io::Result<()>, AlignedBuf) {
        self.file.write_all_at(buf, offset_bytes).await
    }

    async fn read_at(
        &self,
        buf: AlignedBuf,
        offset_bytes: u64,
        len_bytes: usize,
    ) -> (io::Result<()>, AlignedBuf) {
        assert!(len_bytes <= buf.capacity(), "read larger than buffer");
        let window = buf.slice_mut(0..len_bytes);
        let (result, window) = self.file.read_exact_at(window, offset_bytes).await;
        let mut buf = window.into_inner();
        buf.set_len(if result.is_ok() { len_bytes } else { 0 });
        (result, buf)
    }

    async fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filesystem_bytes_are_ordered() {
        let sizes = filesystem_bytes(&std::env::temp_dir()).expect("statvfs of the temp dir");
        assert!(sizes.total_bytes > 0);
        assert!(sizes.free_bytes <= sizes.total_bytes);
        assert!(sizes.available_bytes <= sizes.free_bytes);
        assert!(filesystem_bytes(Path::new("/no/such/dir/at/all")).is_err());
    }
}
