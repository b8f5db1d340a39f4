//! Opening a shard's LMDB environment (the only `unsafe` heed asks of us).

use std::path::Path;

use crate::limits::{INDEX_MAP_BYTES, INDEX_READERS_MAX};

/// The environment type every shard uses: read transactions without
/// thread-local slots, so a reader may be used on whichever thread runs it.
pub type IndexEnv = heed::Env<heed::WithoutTls>;

/// Opens (creating the directory) the LMDB environment at `dir`.
pub fn open_index_env(dir: &Path, dbs_max: u32) -> heed::Result<IndexEnv> {
    std::fs::create_dir_all(dir)?;
    let mut options = heed::EnvOpenOptions::new().read_txn_without_tls();
    options
        .map_size(INDEX_MAP_BYTES)
        .max_dbs(dbs_max)
        .max_readers(INDEX_READERS_MAX);
    // SAFETY: heed requires that the same environment is not opened twice in
    // one process and that the files are not modified by other programs. The
    // engine opens each shard's index exactly once at start (the data
    // directory is locked by the binary) and shares the handle.
    unsafe { options.open(dir) }
}
