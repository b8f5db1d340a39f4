//! Every size, count and batch limit of the engine, with the reason for its value.

/// Alignment of every O_DIRECT offset, length and buffer address. 4 KiB is the
/// logical block size of every disk we target; 512-byte disks accept it too.
pub const DISK_BLOCK_BYTES: usize = 4096;

/// Payload bytes per chunk record. 1 MiB minus the record header keeps a full
/// record at exactly 1 MiB on disk: large enough for sequential bandwidth, small
/// enough that a range GET reads little it does not need.
pub const CHUNK_PAYLOAD_BYTES_MAX: usize = (1 << 20) - crate::format::RECORD_HEADER_BYTES;

/// Objects up to this size live inline in the index value: one LMDB write
/// instead of a segment write plus a segment sync.
pub const INLINE_OBJECT_BYTES_MAX: usize = 4096;

/// Size a segment file is preallocated to. Big enough that rollover is rare,
/// small enough that compacting one segment is a short job.
pub const SEGMENT_BYTES: u64 = 128 << 20;

/// Commits gathered into one fdatasync + LMDB transaction at most. Bounded so a
/// burst of small PUTs cannot make a single transaction (and its latency) huge.
pub const COMMIT_BATCH_OPS_MAX: usize = 1024;

/// Queue depth between a shard's reactor and its LMDB committer thread.
pub const COMMITTER_QUEUE_BATCHES_MAX: usize = 64;

/// LMDB map size per shard. Virtual address space only; pages are allocated as
/// used. 1 TiB of index is ~ billions of objects.
pub const INDEX_MAP_BYTES: usize = 1 << 40;

/// Readers per LMDB environment: every request on every shard may hold one.
pub const INDEX_READERS_MAX: u32 = 4096;

/// Segment files a reader keeps open per shard before closing the oldest.
pub const READER_OPEN_SEGMENTS_MAX: usize = 256;

/// Entries one listing call may return (S3's max-keys ceiling).
pub const LIST_ENTRIES_MAX: usize = 1000;

/// Record bytes the compactor moves between two commits: small enough that a
/// relocation batch never holds the group commit (and client writes) for
/// long, large enough that small records do not cost an fsync each.
pub const COMPACT_BATCH_BYTES_MAX: u64 = 1 << 20;

/// Longest the compactor waits for queued client commits to drain before
/// its next batch (see `compact::yield_to_clients`).
pub const COMPACT_YIELD_MS_MAX: u64 = 20;

/// Free space client writes leave on the data disk by default (see
/// `StoreConfig::reserve_bytes`): one segment for compaction plus room for
/// index pages.
pub const DISK_RESERVE_BYTES: u64 = SEGMENT_BYTES + (64 << 20);

/// The reserve is at most this share of the filesystem, or one segment if
/// that is more (see `store::reserve_bytes_for`): 5% of a 4 GB disk is about
/// the default fixed figure; smaller disks keep proportionally less back.
pub const DISK_RESERVE_FILESYSTEM_PERCENT: u64 = 5;

/// A write in flight that appended nothing for this long loses its hold on
/// its segments (see `inflight`): its writer vanished without abandoning it.
/// Far above any live writer's gap: the HTTP layer times out a body read
/// after 30 s, and a chunk is 1 MiB, so only a client slower than 300 B/s
/// could go an hour between appends.
pub const INFLIGHT_WRITE_IDLE_MS_MAX: u64 = 60 * 60 * 1000;
