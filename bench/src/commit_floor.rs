//! `maxiofs-bench ceiling`'s index-commit probe: what the kernel charges the committing
//! thread for the write pattern of one durable index commit, so the small-PUT floor can be
//! read off a machine before anyone argues about code.
//!
//! Three patterns, each `commits` times on one temporary file in the data directory:
//! - `btree`: the shape of one LMDB group commit of about 27 small PUTs as the server's
//!   committer makes it (measured with `perf` and `/proc/PID/io`: about 50 `pwrite` calls
//!   of mostly two pages, 100 pages in all): `COMMIT_FLOOR_RUNS` buffered writes of
//!   `COMMIT_FLOOR_RUN_PAGES` pages at random page offsets, `fdatasync`, then one page
//!   written through an `O_DSYNC` descriptor, as LMDB writes its meta page;
//! - `log`: the same number of bytes as one sequential O_DIRECT write and `fdatasync`, what
//!   an append-only index log would pay per batch (buffered where O_DIRECT is refused);
//! - `sync floor`: one page and `fdatasync`, the least any durable commit costs.
//!
//! Figures are CPU microseconds of this thread per commit (user and kernel: the kernel's
//! page-cache and writeback work is charged to the thread that syncs), and wall-clock
//! microseconds per commit.
//!
//! Must not touch: any file but its own temporary one (removed even when the run fails).
//!
//! Main types: `CommitFloorReport`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use rand::{Rng, RngCore};

use crate::cpu::thread_cpu_and_wall_s;
use crate::limits::{
    COMMIT_FLOOR_FILE_PAGES, COMMIT_FLOOR_RUNS, COMMIT_FLOOR_RUN_PAGES, DIRECT_IO_ALIGNMENT_BYTES,
};
use crate::scratch::{direct_io_aligned_mut, RemoveFileOnDrop};

const PAGE_BYTES: usize = 4096;

/// One write pattern's cost per commit.
#[derive(Debug, Clone, Copy)]
pub struct PatternCost {
    pub cpu_us: f64,
    pub wall_us: f64,
}

/// The three patterns' costs; `log_direct` is false where the filesystem refused O_DIRECT.
pub struct CommitFloorReport {
    pub commits: u64,
    pub btree: PatternCost,
    pub log: PatternCost,
    pub log_direct: bool,
    pub sync_floor: PatternCost,
}

/// Runs the three patterns `commits` times each (at least once) on a temporary file in
/// `data_dir`.
pub fn measure_commit_floor(data_dir: &Path, commits: u64) -> Result<CommitFloorReport, String> {
    let commits = commits.max(1);
    let path = data_dir.join(format!(
        ".maxiofs-bench-commit-floor-{}.tmp",
        std::process::id()
    ));
    let in_file = |e: io::Error| format!("ceiling commit test on {}: {e}", path.display());
    // Armed before the file is created: an error or a panic below still removes it.
    let _remove = RemoveFileOnDrop(&path);
    let file = create_page_file(&path).map_err(in_file)?;
    let meta = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DSYNC)
        .open(&path)
        .map_err(in_file)?;
    let run = vec![0x5a_u8; COMMIT_FLOOR_RUN_PAGES as usize * PAGE_BYTES];
    let btree = cost_per_commit(commits, |_| btree_commit(&file, &meta, &run)).map_err(in_file)?;
    let page = &run[..PAGE_BYTES];
    let sync_floor = cost_per_commit(commits, |commit| {
        file.write_all_at(page, (commit % COMMIT_FLOOR_FILE_PAGES) * PAGE_BYTES as u64)?;
        file.sync_data()
    })
    .map_err(in_file)?;
    let (log, log_direct) = match log_cost(&path, commits, true) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            (log_cost(&path, commits, false).map_err(in_file)?, false)
        }
        measured => (measured.map_err(in_file)?, true),
    };
    Ok(CommitFloorReport {
        commits,
        btree,
        log,
        log_direct,
        sync_floor,
    })
}

/// The file the patterns write into, filled in single-page writes: the kernel then caches
/// it in single-page folios, as it caches most of an index file that grows by small
/// commits. (A file written in large writes is cached in large folios, and a random page
/// write into one costs several times more to write back on Linux 6.16 and later.)
fn create_page_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    let mut page = vec![0u8; PAGE_BYTES];
    rand::thread_rng().fill_bytes(&mut page);
    for page_index in 0..COMMIT_FLOOR_FILE_PAGES {
        file.write_all_at(&page, page_index * PAGE_BYTES as u64)?;
    }
    file.sync_data()?;
    Ok(file)
}

/// One B-tree commit's writes: `run` at random pages, a sync, then the meta page.
fn btree_commit(file: &File, meta: &File, run: &[u8]) -> io::Result<()> {
    let mut rng = rand::thread_rng();
    for _ in 0..COMMIT_FLOOR_RUNS {
        // Pages 0 and 1 are the meta pages, as in LMDB.
        let first_page = rng.gen_range(2..COMMIT_FLOOR_FILE_PAGES - COMMIT_FLOOR_RUN_PAGES);
        file.write_all_at(run, first_page * PAGE_BYTES as u64)?;
    }
    file.sync_data()?;
    meta.write_all_at(&run[..PAGE_BYTES], 0)
}

/// The log pattern: each commit's bytes as one write after the previous one's, wrapping
/// at the file's end, then a sync.
fn log_cost(path: &Path, commits: u64, direct: bool) -> io::Result<PatternCost> {
    let mut options = OpenOptions::new();
    options.write(true);
    if direct {
        options.custom_flags(libc::O_DIRECT);
    }
    let log = options.open(path)?;
    let commit_bytes = (COMMIT_FLOOR_RUNS * COMMIT_FLOOR_RUN_PAGES) as usize * PAGE_BYTES;
    let mut storage = vec![0x5a_u8; commit_bytes + DIRECT_IO_ALIGNMENT_BYTES];
    let buffer = direct_io_aligned_mut(&mut storage, commit_bytes);
    let commits_per_lap = COMMIT_FLOOR_FILE_PAGES * PAGE_BYTES as u64 / commit_bytes as u64;
    cost_per_commit(commits, |commit| {
        let offset = (commit % commits_per_lap) * commit_bytes as u64;
        log.write_all_at(buffer, offset)?;
        log.sync_data()
    })
}

/// Runs `commit` for 0..commits and divides this thread's CPU time and the wall-clock
/// time by their number.
fn cost_per_commit(
    commits: u64,
    mut commit: impl FnMut(u64) -> io::Result<()>,
) -> io::Result<PatternCost> {
    let (done, cpu_s, wall_s) = thread_cpu_and_wall_s(|| (0..commits).try_for_each(&mut commit));
    done?;
    let per_commit_us = |seconds: f64| seconds * 1e6 / commits as f64;
    Ok(PatternCost {
        cpu_us: per_commit_us(cpu_s),
        wall_us: per_commit_us(wall_s),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_is_measured_and_the_file_is_removed() {
        let data_dir =
            std::env::temp_dir().join(format!("maxiofs-bench-commit-floor-{}", std::process::id()));
        std::fs::create_dir_all(&data_dir).expect("temp dir");
        let report = measure_commit_floor(&data_dir, 0).expect("commit floor runs");
        let leftovers = std::fs::read_dir(&data_dir).expect("list").count();
        std::fs::remove_dir_all(&data_dir).expect("remove temp dir");
        assert_eq!(leftovers, 0, "the temporary file is removed");
        assert_eq!(report.commits, 1, "zero commits still measures one");
        for cost in [report.btree, report.log, report.sync_floor] {
            assert!(cost.cpu_us.is_finite() && cost.cpu_us >= 0.0, "{cost:?}");
            assert!(cost.wall_us.is_finite() && cost.wall_us > 0.0, "{cost:?}");
        }
    }

    #[test]
    fn missing_data_dir_is_an_error_not_a_panic() {
        let data_dir = std::env::temp_dir().join("maxiofs-bench-no-such-dir/commit");
        let error = measure_commit_floor(&data_dir, 1)
            .err()
            .expect("no directory, no test");
        assert!(error.contains("maxiofs-bench-no-such-dir"), "{error}");
    }
}
