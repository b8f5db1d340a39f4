//! Every limit of the S3 layer, with the reason for its value.

use engine::format::RECORD_HEADER_BYTES;
use engine::limits::CHUNK_PAYLOAD_BYTES_MAX;

/// One chunk record: header plus the largest payload. Bodies are read
/// straight into buffers of this size, hashed, sealed and written.
pub const CHUNK_BUF_BYTES: usize = RECORD_HEADER_BYTES + CHUNK_PAYLOAD_BYTES_MAX;

/// Chunk buffers a shard keeps for reuse. 64 MiB per shard covers the chunks
/// in flight of dozens of concurrent uploads without touching fresh memory.
pub const CHUNK_BUFS_POOLED_MAX: usize = 64;

/// Chunk appends one upload keeps in flight: enough to overlap hashing of the
/// next chunk with the disk write of the previous ones, few enough that one
/// upload cannot hog the owner's queue.
pub const PUT_CHUNKS_IN_FLIGHT_MAX: usize = 4;

/// Largest single PUT, as AWS.
pub const PUT_OBJECT_BYTES_MAX: u64 = 5 << 30;

/// Largest XML request body we parse (DeleteObjects of 1000 keys of 1 KiB
/// each, escaped, fits).
pub const XML_BODY_BYTES_MAX: usize = 2 << 20;

/// Keys per DeleteObjects request (AWS's limit).
pub const DELETE_OBJECTS_KEYS_MAX: usize = 1000;

/// Keys per listing page (AWS's ceiling for max-keys).
pub const LIST_KEYS_MAX: usize = 1000;

/// Largest clock skew accepted on signed requests (AWS: 15 minutes).
pub const CLOCK_SKEW_SECS_MAX: u64 = 15 * 60;

/// Smallest part that may be followed by another (AWS: 5 MiB).
pub const PART_SIZE_BYTES_MIN: u64 = 5 << 20;

/// Bytes of a browser form (PostObject) before its file's content: fields,
/// part headers and boundaries. AWS's own limit (its error names 20480), so a
/// form AWS accepts is accepted here, and an anonymous client can make the
/// server hold no more than this before it authenticates.
pub const POST_FORM_FIELDS_BYTES_MAX: usize = 20 * 1024;

/// Fields of a browser form before its file. Browsers and SDKs send about a
/// dozen; the bound keeps the policy's coverage check (fields x conditions)
/// small.
pub const POST_FORM_FIELDS_COUNT_MAX: usize = 64;

/// Bytes of a browser form after its file's content (fields AWS ignores, such
/// as a submit button, and the closing boundary): read only to find a second
/// file and the end of the form.
pub const POST_FORM_AFTER_FILE_BYTES_MAX: usize = 64 * 1024;

/// Time for a browser form's fields (everything before its file) to arrive,
/// in milliseconds. A browser sends them in one go; the bound is how long a
/// client not yet authenticated (its credentials are among those fields) can
/// hold a connection, each read also having the HTTP layer's progress timeout.
pub const POST_FORM_FIELDS_READ_MS_MAX: u64 = 20_000;

/// Bytes read from the request body at a time while parsing a form; the file
/// part is copied out of this buffer into the chunk being filled.
pub const POST_FORM_READ_BYTES: usize = 64 * 1024;

/// Largest response body (XML, or the first chunk of a GET) copied behind the
/// response head so both leave in one send: copying this much costs less than a
/// second send and a second wakeup of the client. Larger bodies go out as they are.
pub const BODY_COPY_BYTES_MAX: usize = 64 * 1024;
