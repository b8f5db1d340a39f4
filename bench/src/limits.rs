//! Every bound, timeout and buffer size of the load generator, with the reason for its value.

use std::time::Duration;

/// Pause after a transport error before the next request, so a dead server does not
/// turn the workers into a busy loop of refused connects that steals the server's CPU.
pub const IO_ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// Highest latency the histograms track, in microseconds. A request slower than a
/// minute is reported as a minute: by then the run is broken anyway.
pub const LATENCY_US_MAX: u64 = 60_000_000;

/// Significant decimal digits kept by the latency histograms: 0.1% error, which
/// is below the run-to-run noise of any latency we report.
pub const LATENCY_SIGNIFICANT_DIGITS: u8 = 3;

/// Longest a connect (with its TLS handshake), or any one read or write, may take. Each
/// read or write moves at most a buffer, so this is long enough on a slow link, and
/// short enough that a hung server ends the run instead of hanging it.
pub const SOCKET_TIMEOUT: Duration = Duration::from_secs(60);

/// Largest response head (status line and headers) we accept. S3 heads are a few
/// hundred bytes; anything near this means we are not talking to an S3 server.
pub const RESPONSE_HEAD_BYTES_MAX: usize = 64 * 1024;

/// Bytes of a response body kept (error XML for printing, list pages, upload ids).
/// A 1000-key list page with long keys stays well below this.
pub const CAPTURED_BODY_BYTES_MAX: usize = 4 << 20;

/// Payload bytes per `aws-chunked` chunk: the SDKs' default of 64 KiB.
pub const AWS_CHUNK_BYTES: usize = 64 * 1024;

/// Entries per LIST page: S3's maximum, what a full listing asks for.
pub const LIST_PAGE_KEYS: usize = 1000;

/// Keys per DeleteObjects request: S3's maximum.
pub const DELETE_BATCH_KEYS_MAX: usize = 1000;

/// Parts of one multipart upload: S3's maximum.
pub const MULTIPART_PARTS_MAX: u64 = 10_000;

/// Receive buffer per connection: response heads are parsed in it and GET bodies read
/// into it and dropped. Large enough that a 1 MiB body takes few `read` calls.
pub const READ_BUFFER_BYTES: usize = 256 * 1024;
// A response head being parsed must leave room in the buffer to read the rest into.
const _: () = assert!(RESPONSE_HEAD_BYTES_MAX < READ_BUFFER_BYTES);

/// Bytes at the start of every PUT body overwritten with (worker, sequence), so that
/// no two bodies of a run are equal even though each worker reuses one random buffer.
pub const BODY_PREFIX_BYTES: usize = 16;

/// Most load workers one run starts, each with its connection (a multipart worker has
/// `--part-parallel`) and a body buffer of `--size`: this bounds sockets and memory.
pub const CONCURRENCY_MAX: usize = 4096;

/// Largest object size accepted; bodies are held in memory once per worker.
pub const OBJECT_BYTES_MAX: u64 = 5 << 30;

/// Buffer size `ceiling` hashes in: the chunk size the engine writes.
pub const CEILING_BUFFER_BYTES: usize = 1 << 20;

/// Size of each `ceiling` disk write and read: the chunk size the engine writes, and
/// large enough that per-call overhead does not lower the bandwidth measured.
pub const CEILING_DISK_IO_BYTES: usize = 1 << 20;

/// Alignment of O_DIRECT buffers, offsets and lengths: the largest logical block size
/// of the disks we run on (4Kn), which every 512-byte-sector disk accepts too.
pub const DIRECT_IO_ALIGNMENT_BYTES: usize = 4096;

/// Size of each `ceiling` loopback TCP write and of the receiver's reads: large enough
/// that the copy through the kernel, not the syscall count, sets the pace.
pub const CEILING_TCP_IO_BYTES: usize = 1 << 20;

/// Pages of the file `ceiling`'s commit probe writes into (64 MiB): larger than one
/// commit's pages by far, so random runs rarely share a page, as in a grown index.
pub const COMMIT_FLOOR_FILE_PAGES: u64 = 16_384;

/// Runs of pages one probed B-tree commit writes, and pages per run: what the server's
/// LMDB committer wrote per group commit of about 27 4 KiB PUTs (about 50 `pwrite` calls,
/// mostly of a two-page overflow value, about 400 KiB in all).
pub const COMMIT_FLOOR_RUNS: u64 = 50;
pub const COMMIT_FLOOR_RUN_PAGES: u64 = 2;
