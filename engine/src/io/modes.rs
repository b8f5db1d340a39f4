//! File modes of everything under the data directory: directories 0700,
//! files 0600. Objects are readable by the server's user only, encrypted or
//! not (with `--encryption off` the segments hold them in clear).
//!
//! Two halves: new files get the right mode because the process's umask is
//! 077 from the start (SQLite's WAL, LMDB's files and segment files are all
//! created by libraries or calls that honour it), and a start tightens what
//! an older build (or a copy) left looser.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Directory mode: owner only.
pub const DIR_MODE: u32 = 0o700;
/// File mode: owner read and write only.
pub const FILE_MODE: u32 = 0o600;

/// Makes every file and directory this process creates from now on
/// owner-only, whatever mode the creating call asks for.
pub fn restrict_new_file_modes() {
    // SAFETY: umask only sets the process's file mode creation mask; it
    // cannot fail and touches no memory.
    unsafe {
        libc::umask(0o077);
    }
}

/// Sets `dir` and everything below it to [`DIR_MODE`] / [`FILE_MODE`] where
/// they allow more (group or other bits); returns how many were changed.
/// Symbolic links are left alone (their own mode means nothing).
pub fn tighten_modes(dir: &Path) -> io::Result<u64> {
    let mut changed = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let metadata = std::fs::symlink_metadata(&path)?;
        let wanted = if metadata.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
            DIR_MODE
        } else if metadata.is_file() {
            FILE_MODE
        } else {
            continue;
        };
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & wanted))?;
            changed += 1;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_modes_are_tightened_and_tight_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("shard-0");
        std::fs::create_dir(&sub).unwrap();
        let file = sub.join("seg-00000000");
        std::fs::write(&file, b"x").unwrap();
        let tight = sub.join("tight");
        std::fs::write(&tight, b"x").unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&tight, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(tighten_modes(dir.path()).unwrap(), 3);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&tight), 0o400, "never loosened");
        assert_eq!(tighten_modes(dir.path()).unwrap(), 0);
    }
}
