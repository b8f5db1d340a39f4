//! The engine's one error type. The S3 layer maps it exhaustively.

use std::fmt;
use std::io;

#[derive(Debug)]
pub enum EngineError {
    /// The disk (or the simulated one) returned an error; the operation failed
    /// and nothing was acknowledged.
    Io(io::Error),
    /// No space left for the write. Nothing already stored is affected.
    DiskFull,
    /// A record failed its checksum, magic or identity check on read: the
    /// stored bytes are not the ones written. Never served.
    Corrupt { detail: String },
    /// The LMDB index failed.
    Index(String),
    /// The bucket is not (or no longer) present in this shard's index.
    NoSuchBucket,
    /// DeleteBucket on a bucket that still holds objects.
    BucketNotEmpty,
    /// The segment was poisoned by an earlier failed write or sync.
    SegmentPoisoned,
    /// A write committed after its records' hold expired (no append for
    /// `INFLIGHT_WRITE_IDLE_MS_MAX`) and the compactor reclaimed them.
    WriteExpired,
    /// The shard's committer thread is gone (shutdown in progress).
    ShuttingDown,
    /// The multipart upload does not exist (never did, completed or aborted).
    NoSuchUpload,
    /// A part named in a completion is missing or has another ETag.
    InvalidPart { part_number: u16 },
    /// A conditional write's condition did not hold.
    PreconditionFailed,
    /// `If-Match` on a key with no object.
    ConditionTargetMissing,
    /// An in-place change (tagging) of a key with no object.
    NoSuchObject,
    /// The compactor tried to retire a segment something still references.
    SegmentInUse { segment: u32 },
    /// Object Lock (retention or legal hold) forbids deleting the version.
    ObjectLocked,
}

pub type EngineResult<T> = Result<T, EngineError>;

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Io(err) => write!(f, "disk i/o error: {err}"),
            EngineError::DiskFull => write!(f, "no space left on the data disk"),
            EngineError::Corrupt { detail } => write!(f, "corrupt record: {detail}"),
            EngineError::Index(detail) => write!(f, "index error: {detail}"),
            EngineError::NoSuchBucket => write!(f, "no such bucket"),
            EngineError::BucketNotEmpty => write!(f, "bucket not empty"),
            EngineError::SegmentPoisoned => write!(f, "segment poisoned by an earlier failure"),
            EngineError::WriteExpired => {
                write!(f, "write idle too long; its records were reclaimed")
            }
            EngineError::ShuttingDown => write!(f, "engine shutting down"),
            EngineError::NoSuchUpload => write!(f, "no such multipart upload"),
            EngineError::PreconditionFailed => write!(f, "write precondition failed"),
            EngineError::ConditionTargetMissing => write!(f, "conditional write on a missing key"),
            EngineError::NoSuchObject => write!(f, "no such object"),
            EngineError::ObjectLocked => write!(f, "the version is protected by Object Lock"),
            EngineError::SegmentInUse { segment } => {
                write!(f, "segment {segment} still holds referenced records")
            }
            EngineError::InvalidPart { part_number } => {
                write!(f, "part {part_number} is missing or changed")
            }
        }
    }
}

impl std::error::Error for EngineError {}

impl From<io::Error> for EngineError {
    fn from(err: io::Error) -> Self {
        if err.raw_os_error() == Some(libc::ENOSPC) {
            EngineError::DiskFull
        } else {
            EngineError::Io(err)
        }
    }
}

impl From<heed::Error> for EngineError {
    fn from(err: heed::Error) -> Self {
        match err {
            heed::Error::Mdb(heed::MdbError::MapFull) => EngineError::DiskFull,
            heed::Error::Io(io_err) => EngineError::from(io_err),
            other => EngineError::Index(other.to_string()),
        }
    }
}
