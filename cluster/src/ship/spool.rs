//! The durable queue of one log-shipping target: the records the intake thread accepted and the
//! target has not yet acknowledged, in the target's own directory (mode 0700).
//!
//! Owns: every file in that directory. Knows nothing of threads or targets: the shipper
//! ([`super`]) wraps a [`Spool`] in a mutex and shares it between its intake thread (which
//! appends) and the target's delivery thread (which peeks and acknowledges).
//!
//! Main types: [`Spool`] and [`Position`] (a byte position: segment number, offset).
//!
//! # On-disk layout
//!
//! Segment files `NNNNNNNNNNNNNNNN.seg` (16 decimal digits, zero-padded, mode 0600) hold the
//! records in order; numbers ascend and a new segment starts when the next frame would take the
//! newest past [`SEGMENT_BYTES_MAX`]. Each record is one frame, all integers little-endian:
//!
//! | bytes        | field                                                          |
//! |--------------|----------------------------------------------------------------|
//! | 0..4         | magic `MXSL`                                                   |
//! | 4            | version, 1                                                     |
//! | 5..9         | payload length `n` (u32), 9 ..= 9 + [`MESSAGE_BYTES_MAX`]      |
//! | 9..13        | crc32c of the payload (u32)                                    |
//! | 13           | payload: stream (1 = access, 2 = audit, 3 = bucket event)      |
//! | 14..22       | payload: `time_ms` (u64), milliseconds since the Unix epoch    |
//! | 22..13 + n   | payload: the message, UTF-8, at most [`MESSAGE_BYTES_MAX`]     |
//!
//! The file `cursor` (mode 0600, 25 bytes) holds the first unacknowledged position:
//!
//! | bytes  | field                              |
//! |--------|------------------------------------|
//! | 0..4   | magic `MXSC`                       |
//! | 4      | version, 1                         |
//! | 5..13  | segment number (u64)               |
//! | 13..21 | byte offset in that segment (u64)  |
//! | 21..25 | crc32c of bytes 0..21 (u32)        |
//!
//! It is replaced by writing `cursor.tmp`, fsync, rename, fsync of the directory
//! ([`Spool::ack`]). A missing or corrupt cursor means the start of the oldest segment: the
//! target may then see records twice, never zero times.
//!
//! # Recovery
//!
//! [`Spool::open`] reads every frame from the cursor on (the queue is bounded by `bytes_max`),
//! so that checksums are checked before anything is delivered and the waiting records are
//! counted. A frame that does not check in the newest segment is a torn tail (a crash during an
//! append, whose fdatasync never returned) and the file is cut there. In an older segment it is
//! damage: the rest of that segment is skipped with an error in the log.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{LogRecord, LogStream};

/// A segment is cut and removed as a whole once acknowledged, so this bounds the disk space
/// spent on acknowledged records, and the memory recovery reads at once.
pub const SEGMENT_BYTES_MAX: u64 = 8 * 1024 * 1024;
/// Longer messages are truncated (at a UTF-8 boundary) when appended: syslog collectors commonly
/// cap messages at 64 KiB, and one record must never grow a delivery batch without bound.
pub const MESSAGE_BYTES_MAX: usize = 64 * 1024;

const FRAME_MAGIC: [u8; 4] = *b"MXSL";
const FRAME_VERSION: u8 = 1;
/// Magic, version, payload length, crc32c.
const FRAME_HEADER_BYTES: usize = 4 + 1 + 4 + 4;
/// Stream byte and `time_ms`.
const PAYLOAD_FIXED_BYTES: usize = 1 + 8;
const PAYLOAD_BYTES_MAX: usize = PAYLOAD_FIXED_BYTES + MESSAGE_BYTES_MAX;
/// The largest frame: a queue must hold at least one.
pub const FRAME_BYTES_MAX: usize = FRAME_HEADER_BYTES + PAYLOAD_BYTES_MAX;
const _: () = assert!(FRAME_HEADER_BYTES == 13 && PAYLOAD_FIXED_BYTES == 9);
const _: () = assert!(FRAME_BYTES_MAX as u64 <= SEGMENT_BYTES_MAX);
const _: () = assert!(PAYLOAD_BYTES_MAX <= u32::MAX as usize);

const STREAM_ACCESS: u8 = 1;
const STREAM_AUDIT: u8 = 2;
const STREAM_EVENT: u8 = 3;

const CURSOR_MAGIC: [u8; 4] = *b"MXSC";
const CURSOR_VERSION: u8 = 1;
/// Magic, version, segment, offset, crc32c.
const CURSOR_BYTES: usize = 4 + 1 + 8 + 8 + 4;
const _: () = assert!(CURSOR_BYTES == 25);
const CURSOR_FILE: &str = "cursor";
const CURSOR_TEMP_FILE: &str = "cursor.tmp";
const SEGMENT_SUFFIX: &str = ".seg";
const SEGMENT_DIGITS: usize = 16;

/// Log records name users, addresses and keys: readable by the server's user only.
const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

/// A byte position in the queue: a frame boundary in a segment. Ordered as the records are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

/// The durable queue of one target. See the module documentation for the layout.
pub struct Spool {
    dir: PathBuf,
    bytes_max: u64,
    segment_bytes_max: u64,
    /// Segment number → readable length: whole frames that were synced (or checked at open).
    /// Never empty after `open`; the newest is where appends go.
    segments: BTreeMap<u64, u64>,
    /// The first unacknowledged record. Moves in memory even when persisting it failed (see
    /// [`Spool::ack`]).
    cursor: Position,
    /// Records from the cursor to the end.
    pending_records: u64,
    /// The newest segment, open for writing; `None` once a failed write or sync sealed it, so
    /// that the next append starts a new segment instead of trusting that file again.
    writer: Option<File>,
    reader: Option<(u64, File)>,
    /// Where the last peek ended and how many records it returned: the count `ack` subtracts
    /// without reading the frames again.
    peeked: Option<(Position, u64)>,
}

/// What one frame at the start of a byte slice is.
enum Decoded {
    /// A whole, checked record and its frame's length in bytes.
    Record(LogRecord, usize),
    /// The slice ends inside the frame.
    Incomplete,
    /// The bytes are not a frame: bad magic, version, length, checksum or payload.
    Corrupt,
}

/// The result of walking the frames of a segment.
struct SegmentScan {
    /// Where the valid frames end.
    valid_end: u64,
    /// Records at or after the start offset.
    records: u64,
    /// Whether the start offset is a frame boundary inside the valid frames.
    start_is_boundary: bool,
}

impl Spool {
    /// Opens (creating if needed) the queue in `dir`, which holds at most `bytes_max` bytes of
    /// unacknowledged frames, and recovers it after a crash (see the module documentation).
    pub fn open(dir: &Path, bytes_max: u64) -> io::Result<Spool> {
        Spool::open_sized(dir, bytes_max, SEGMENT_BYTES_MAX)
    }

    /// [`Spool::open`] with another segment size (tests use small ones to cross segments).
    fn open_sized(dir: &Path, bytes_max: u64, segment_bytes_max: u64) -> io::Result<Spool> {
        // Recovery changes the directory in steps; each is redone by the next `open` if a crash
        // interrupts it, so a crash at any point leaves a spool that opens the same way.
        // Step 1: the directory, and no stray temp cursor (what a crash before its rename left;
        // the cursor it was to replace still stands).
        fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)?;
        match fs::remove_file(dir.join(CURSOR_TEMP_FILE)) {
            Err(err) if err.kind() != ErrorKind::NotFound => return Err(err),
            _ => {}
        }
        // Step 2: at least one segment. A crash after creating it leaves an empty segment.
        let mut numbers = segment_numbers_list(dir)?;
        let stored = cursor_read(dir)?;
        if numbers.is_empty() {
            // Numbers keep ascending past a stale cursor, which then reads as "before the
            // oldest segment".
            let number = stored.map_or(1, |cursor| cursor.segment + 1);
            segment_create(dir, number)?;
            dir_sync(dir)?;
            numbers.insert(number);
        }
        // Step 3: read the frames from the cursor on, cutting a torn tail off the newest
        // segment (a crash then leaves the cut done or not: the next open cuts it again).
        let mut cursor = open_cursor_choose(dir, stored, &numbers);
        let (segments, pending_records) = loop {
            if let Some(scanned) = spool_open_scan(dir, &numbers, cursor)? {
                break scanned;
            }
            tracing::warn!(
                dir = %dir.display(), ?cursor,
                "log spool cursor is not on a record: replaying from the oldest segment"
            );
            cursor = open_cursor_choose(dir, None, &numbers);
        };
        // Step 4: remove the segments wholly before the cursor: acknowledged, but a crash
        // between persisting the cursor and removing them left them behind. A crash here
        // leaves some of them for the next open.
        let consumed: Vec<u64> = numbers.range(..cursor.segment).copied().collect();
        for number in &consumed {
            fs::remove_file(segment_path(dir, *number))?;
        }
        if !consumed.is_empty() {
            dir_sync(dir)?;
        }
        let (&newest, _) = segments.last_key_value().expect("a segment exists");
        let writer = OpenOptions::new()
            .write(true)
            .open(segment_path(dir, newest))?;
        let mut spool = Spool {
            dir: dir.to_owned(),
            bytes_max,
            segment_bytes_max,
            segments,
            cursor,
            pending_records,
            writer: Some(writer),
            reader: None,
            peeked: None,
        };
        spool.cursor = spool.position_normalized(cursor);
        Ok(spool)
    }

    /// Appends records (each message truncated to [`MESSAGE_BYTES_MAX`]) and makes them durable
    /// (fdatasync) before returning how many were accepted: a prefix of `records`, short when the
    /// queue would pass `bytes_max` (the caller counts the rest as dropped; the oldest records
    /// are kept, they are what an outage lost track of).
    ///
    /// On an error, count none as accepted. The segment written to is sealed; records that
    /// reached the disk before the failure may still be delivered (after a restart at the
    /// latest): counted as dropped but delivered, never the other way round.
    pub fn append(&mut self, records: &[LogRecord]) -> io::Result<usize> {
        let mut pending_bytes = self.pending_bytes();
        let mut buffer = Vec::new();
        let mut buffered_records = 0;
        let mut accepted = 0;
        for record in records {
            let frame_bytes = frame_bytes(record);
            if pending_bytes + frame_bytes > self.bytes_max {
                break;
            }
            let tail_bytes = self.newest_bytes() + buffer.len() as u64;
            let full = tail_bytes > 0 && tail_bytes + frame_bytes > self.segment_bytes_max;
            if self.writer.is_none() || full {
                self.append_flush(&mut buffer, &mut buffered_records)?;
                self.segment_rotate()?;
            }
            frame_encode(record, &mut buffer);
            buffered_records += 1;
            accepted += 1;
            pending_bytes += frame_bytes;
        }
        self.append_flush(&mut buffer, &mut buffered_records)?;
        Ok(accepted)
    }

    /// Returns records from the cursor on (crossing segments), at most `records_max` and at most
    /// `bytes_max` bytes of frames (but at least one record if any waits), and the position after
    /// the last one, to pass to [`Spool::ack`] once they are delivered. The position may be past
    /// the cursor even with no records, when damaged bytes were skipped: acknowledge it too.
    pub fn peek(
        &mut self,
        records_max: usize,
        bytes_max: u64,
    ) -> io::Result<(Vec<LogRecord>, Position)> {
        let (records, _, position) = self.peek_with_ends(records_max, bytes_max)?;
        Ok((records, position))
    }

    /// [`Spool::peek`], with the position after each record: a consumer that
    /// delivers records one at a time acknowledges up to the last it delivered.
    pub fn peek_with_ends(
        &mut self,
        records_max: usize,
        bytes_max: u64,
    ) -> io::Result<(Vec<LogRecord>, Vec<Position>, Position)> {
        let mut position = self.position_normalized(self.cursor);
        let mut records = Vec::new();
        let mut ends = Vec::new();
        let mut bytes = 0u64;
        let mut budget_spent = false;
        while records.len() < records_max && !budget_spent {
            let segment_bytes = self.segments[&position.segment];
            if position.offset == segment_bytes {
                break; // The end of the newest segment: normalised positions stop only there.
            }
            // A chunk this long holds every frame the budget allows, and at least one whole
            // frame: a frame is never longer than FRAME_BYTES_MAX.
            let budget = bytes_max.saturating_sub(bytes).max(FRAME_BYTES_MAX as u64);
            let records_budget =
                ((records_max - records.len()) as u64).saturating_mul(FRAME_BYTES_MAX as u64);
            let chunk_bytes = (segment_bytes - position.offset)
                .min(budget)
                .min(records_budget);
            let chunk = self.read_at(position, chunk_bytes)?;
            let chunk_is_tail = position.offset + chunk_bytes == segment_bytes;
            let mut at = 0;
            let mut corrupt = false;
            while records.len() < records_max {
                match frame_decode(&chunk[at..]) {
                    Decoded::Record(record, frame) => {
                        if !records.is_empty() && bytes + frame as u64 > bytes_max {
                            budget_spent = true;
                            break;
                        }
                        records.push(record);
                        at += frame;
                        bytes += frame as u64;
                        ends.push(Position {
                            segment: position.segment,
                            offset: position.offset + at as u64,
                        });
                    }
                    Decoded::Incomplete if at == chunk.len() => break,
                    // The chunk ends inside a frame: it does not fit in the budget. At the end
                    // of the readable bytes, which hold whole frames only, it is damage.
                    Decoded::Incomplete => {
                        corrupt = chunk_is_tail;
                        budget_spent = !chunk_is_tail;
                        break;
                    }
                    Decoded::Corrupt => {
                        corrupt = true;
                        break;
                    }
                }
            }
            position.offset += at as u64;
            if corrupt {
                // Only damage after `open` checked the frames gets here (the disk changed
                // under us). Skipping is the only way forward; the count of waiting records is
                // then an estimate until the next start.
                tracing::error!(
                    dir = %self.dir.display(), ?position,
                    skipped_bytes = segment_bytes - position.offset,
                    "log spool segment damaged: skipping the rest of it"
                );
                position.offset = segment_bytes;
            }
            position = self.position_normalized(position);
        }
        self.peeked = Some((position, records.len() as u64));
        Ok((records, ends, position))
    }

    /// Acknowledges every record before `upto` (a position [`Spool::peek`] returned).
    ///
    /// The cursor moves in memory even when persisting it fails: the records were delivered, and
    /// offering them again would resend them for as long as the disk fails. A restart then
    /// replays them from the last persisted cursor (duplicates, never loss).
    pub fn ack(&mut self, upto: Position) -> io::Result<()> {
        let upto = self.position_normalized(upto);
        let readable = self.segments.get(&upto.segment).copied();
        assert!(
            upto >= self.cursor && readable.is_some_and(|bytes| upto.offset <= bytes),
            "log spool ack {upto:?} outside the queue (cursor {:?})",
            self.cursor
        );
        if upto == self.cursor {
            return Ok(());
        }
        let acked_records = match self.peeked {
            Some((peeked, count)) if self.position_normalized(peeked) == upto => count,
            _ => self.records_count(self.cursor, upto)?,
        };
        self.cursor = upto;
        self.peeked = None;
        self.pending_records = self.pending_records.saturating_sub(acked_records);
        cursor_write(&self.dir, upto)?;
        // Step 4: remove the segments wholly before the cursor. A crash in between leaves some
        // of them; `open` removes them. Their removal needs no directory sync for the same
        // reason.
        let consumed: Vec<u64> = self
            .segments
            .range(..upto.segment)
            .map(|(n, _)| *n)
            .collect();
        for number in consumed {
            if self.reader.as_ref().is_some_and(|(n, _)| *n == number) {
                self.reader = None;
            }
            match fs::remove_file(segment_path(&self.dir, number)) {
                Err(err) if err.kind() != ErrorKind::NotFound => return Err(err),
                _ => self.segments.remove(&number),
            };
        }
        Ok(())
    }

    /// Bytes of frames from the cursor to the end: what counts against `bytes_max`.
    pub fn pending_bytes(&self) -> u64 {
        let total: u64 = self
            .segments
            .range(self.cursor.segment..)
            .map(|(_, b)| b)
            .sum();
        total - self.cursor.offset
    }

    /// Records from the cursor to the end.
    pub fn pending_records(&self) -> u64 {
        self.pending_records
    }

    /// The queue's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The first unacknowledged position.
    pub fn cursor(&self) -> Position {
        self.cursor
    }

    fn newest_bytes(&self) -> u64 {
        let (_, bytes) = self.segments.last_key_value().expect("a segment exists");
        *bytes
    }

    /// The same position, moved past the ends of segments that are not the newest.
    fn position_normalized(&self, mut position: Position) -> Position {
        while self.segments.get(&position.segment) == Some(&position.offset) {
            match self.segments.range(position.segment + 1..).next() {
                Some((&next, _)) => {
                    position = Position {
                        segment: next,
                        offset: 0,
                    }
                }
                None => break,
            }
        }
        position
    }

    /// Writes the buffered frames at the end of the newest segment and syncs them.
    fn append_flush(&mut self, buffer: &mut Vec<u8>, records: &mut u64) -> io::Result<()> {
        if buffer.is_empty() {
            return Ok(());
        }
        let (&number, &bytes) = self.segments.last_key_value().expect("a segment exists");
        let writer = self
            .writer
            .as_ref()
            .expect("frames are buffered only with a writer");
        // Step 1: write; step 2: fdatasync. A crash before the sync returns leaves any prefix
        // of these frames, which `open` cuts as a torn tail. Only after it do the frames become
        // readable (the length below), so nothing unsynced is ever delivered.
        let written = writer
            .write_all_at(buffer, bytes)
            .and_then(|()| writer.sync_data());
        if let Err(err) = written {
            // A failed write or sync leaves the file in an unknown state (the kernel may have
            // dropped the dirty pages): never write to it again. Cutting the failed bytes is best
            // effort; if it fails they read as a torn frame later.
            if let Some(writer) = self.writer.take() {
                let _ = writer.set_len(bytes);
            }
            buffer.clear();
            *records = 0;
            return Err(err);
        }
        self.segments.insert(number, bytes + buffer.len() as u64);
        self.pending_records += *records;
        buffer.clear();
        *records = 0;
        Ok(())
    }

    /// Starts the next segment and makes it the one appends go to.
    fn segment_rotate(&mut self) -> io::Result<()> {
        let (&newest, _) = self.segments.last_key_value().expect("a segment exists");
        let number = newest + 1;
        self.writer = None;
        // Step 1: create the file. Step 2: sync the directory, so that its name survives a
        // crash before the frames written into it are acknowledged as durable. A crash after
        // step 1 leaves an empty segment: it reads as no records.
        let file = segment_create(&self.dir, number)?;
        // Known from here on even if the sync fails: the next append then starts another one.
        self.segments.insert(number, 0);
        dir_sync(&self.dir)?;
        self.writer = Some(file);
        Ok(())
    }

    fn read_at(&mut self, position: Position, bytes: u64) -> io::Result<Vec<u8>> {
        if self
            .reader
            .as_ref()
            .is_none_or(|(n, _)| *n != position.segment)
        {
            let file = File::open(segment_path(&self.dir, position.segment))?;
            self.reader = Some((position.segment, file));
        }
        let (_, file) = self.reader.as_ref().expect("opened above");
        let mut buffer = vec![0; bytes as usize];
        file.read_exact_at(&mut buffer, position.offset)?;
        Ok(buffer)
    }

    /// Counts the records between two positions (for an `ack` of a position that is not the
    /// last peek's).
    fn records_count(&mut self, from: Position, to: Position) -> io::Result<u64> {
        let numbers: Vec<(u64, u64)> = self
            .segments
            .range(from.segment..=to.segment)
            .map(|(n, b)| (*n, *b))
            .collect();
        let mut count = 0;
        for (number, bytes) in numbers {
            let start = if number == from.segment {
                from.offset
            } else {
                0
            };
            let end = if number == to.segment {
                to.offset
            } else {
                bytes
            };
            let chunk = self.read_at(
                Position {
                    segment: number,
                    offset: start,
                },
                end - start,
            )?;
            count += frames_walk(&chunk, 0).records;
        }
        Ok(count)
    }
}

/// Where delivery resumes: the stored cursor, or the start of the oldest segment when it is
/// missing, corrupt or names no segment (duplicates are acceptable, loss is not).
fn open_cursor_choose(dir: &Path, stored: Option<Position>, numbers: &BTreeSet<u64>) -> Position {
    let oldest_start = Position {
        segment: *numbers.first().expect("a segment exists"),
        offset: 0,
    };
    match stored {
        None => oldest_start,
        // Acknowledged segments were all removed (or the directory was emptied).
        Some(cursor) if cursor.segment < oldest_start.segment => oldest_start,
        Some(cursor) if numbers.contains(&cursor.segment) => cursor,
        Some(cursor) => {
            tracing::warn!(
                dir = %dir.display(), ?cursor,
                "log spool cursor names no segment: replaying from the oldest segment"
            );
            oldest_start
        }
    }
}

/// Reads the segments from the cursor on: their readable lengths and the records waiting. Cuts
/// a torn tail off the newest. `None` when the cursor is not on a frame boundary.
fn spool_open_scan(
    dir: &Path,
    numbers: &BTreeSet<u64>,
    cursor: Position,
) -> io::Result<Option<(BTreeMap<u64, u64>, u64)>> {
    let newest = *numbers.last().expect("a segment exists");
    let mut segments = BTreeMap::new();
    let mut records = 0;
    for &number in numbers.range(cursor.segment..) {
        let path = segment_path(dir, number);
        let bytes = fs::read(&path)?;
        let start = if number == cursor.segment {
            cursor.offset
        } else {
            0
        };
        let scan = frames_walk(&bytes, start);
        if number == cursor.segment && !scan.start_is_boundary {
            return Ok(None);
        }
        let file_bytes = bytes.len() as u64;
        if scan.valid_end < file_bytes && number == newest {
            tracing::warn!(
                segment = %path.display(), cut_bytes = file_bytes - scan.valid_end,
                "log spool: cutting a torn tail (a crash during an append)"
            );
            let file = OpenOptions::new().write(true).open(&path)?;
            file.set_len(scan.valid_end)?;
            file.sync_all()?;
        } else if scan.valid_end < file_bytes {
            tracing::error!(
                segment = %path.display(), offset = scan.valid_end,
                skipped_bytes = file_bytes - scan.valid_end,
                "log spool segment damaged: its records past the damage are skipped"
            );
        }
        segments.insert(number, scan.valid_end);
        records += scan.records;
    }
    Ok(Some((segments, records)))
}

/// Walks the whole frames at the start of `bytes`, counting those at or after `start`.
fn frames_walk(bytes: &[u8], start: u64) -> SegmentScan {
    let mut at = 0usize;
    let mut records = 0;
    let mut start_is_boundary = start == 0;
    while let Decoded::Record(_, frame) = frame_decode(&bytes[at..]) {
        if at as u64 >= start {
            records += 1;
        }
        at += frame;
        start_is_boundary |= at as u64 == start;
    }
    SegmentScan {
        valid_end: at as u64,
        records,
        start_is_boundary,
    }
}

/// The message as stored: cut to [`MESSAGE_BYTES_MAX`] at a character boundary.
fn message_truncated(message: &str) -> &str {
    if message.len() <= MESSAGE_BYTES_MAX {
        return message;
    }
    let mut end = MESSAGE_BYTES_MAX;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

/// The bytes a record's frame takes on disk (after truncation of its message): what counts
/// against a queue's `bytes_max`.
pub fn frame_bytes(record: &LogRecord) -> u64 {
    (FRAME_HEADER_BYTES + PAYLOAD_FIXED_BYTES + message_truncated(&record.message).len()) as u64
}

fn frame_encode(record: &LogRecord, out: &mut Vec<u8>) {
    let message = message_truncated(&record.message);
    let payload_bytes = PAYLOAD_FIXED_BYTES + message.len();
    let start = out.len();
    out.extend_from_slice(&FRAME_MAGIC);
    out.push(FRAME_VERSION);
    out.extend_from_slice(&(payload_bytes as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    let payload_start = out.len();
    out.push(match record.stream {
        LogStream::Access => STREAM_ACCESS,
        LogStream::Audit => STREAM_AUDIT,
        LogStream::Event => STREAM_EVENT,
    });
    out.extend_from_slice(&record.time_ms.to_le_bytes());
    out.extend_from_slice(message.as_bytes());
    let crc = crc32c::crc32c(&out[payload_start..]);
    out[start + 9..start + 13].copy_from_slice(&crc.to_le_bytes());
    debug_assert!(matches!(frame_decode(&out[start..]), Decoded::Record(..)));
}

fn frame_decode(bytes: &[u8]) -> Decoded {
    let Some(header) = bytes.get(..FRAME_HEADER_BYTES) else {
        return Decoded::Incomplete;
    };
    let payload_bytes = u32::from_le_bytes(header[5..9].try_into().expect("4 bytes")) as usize;
    if header[..4] != FRAME_MAGIC
        || header[4] != FRAME_VERSION
        || !(PAYLOAD_FIXED_BYTES..=PAYLOAD_BYTES_MAX).contains(&payload_bytes)
    {
        return Decoded::Corrupt;
    }
    let frame = FRAME_HEADER_BYTES + payload_bytes;
    let Some(payload) = bytes.get(FRAME_HEADER_BYTES..frame) else {
        return Decoded::Incomplete;
    };
    let crc = u32::from_le_bytes(header[9..13].try_into().expect("4 bytes"));
    if crc32c::crc32c(payload) != crc {
        return Decoded::Corrupt;
    }
    let stream = match payload[0] {
        STREAM_ACCESS => LogStream::Access,
        STREAM_AUDIT => LogStream::Audit,
        STREAM_EVENT => LogStream::Event,
        _ => return Decoded::Corrupt,
    };
    let time_ms = u64::from_le_bytes(payload[1..9].try_into().expect("8 bytes"));
    let Ok(message) = std::str::from_utf8(&payload[PAYLOAD_FIXED_BYTES..]) else {
        return Decoded::Corrupt;
    };
    let record = LogRecord {
        stream,
        time_ms,
        message: message.to_owned(),
    };
    Decoded::Record(record, frame)
}

fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!(
        "{number:0width$}{SEGMENT_SUFFIX}",
        width = SEGMENT_DIGITS
    ))
}

/// Creates an empty segment file (0600); the caller syncs the directory.
fn segment_create(dir: &Path, number: u64) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(segment_path(dir, number))
}

/// The numbers of the segment files in `dir`; other files are not the spool's and are left.
fn segment_numbers_list(dir: &Path) -> io::Result<BTreeSet<u64>> {
    let mut numbers = BTreeSet::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SEGMENT_SUFFIX)) else {
            continue;
        };
        if stem.len() == SEGMENT_DIGITS && stem.bytes().all(|b| b.is_ascii_digit()) {
            numbers.insert(stem.parse().expect("16 decimal digits fit in u64"));
        }
    }
    Ok(numbers)
}

fn dir_sync(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The stored cursor: `None` when missing or corrupt (then replaying from the oldest segment
/// may duplicate records but loses none).
fn cursor_read(dir: &Path) -> io::Result<Option<Position>> {
    let bytes = match fs::read(dir.join(CURSOR_FILE)) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let decoded = cursor_decode(&bytes);
    if decoded.is_none() {
        tracing::warn!(
            dir = %dir.display(),
            "log spool cursor is corrupt: replaying from the oldest segment"
        );
    }
    Ok(decoded)
}

fn cursor_encode(position: Position) -> [u8; CURSOR_BYTES] {
    let mut bytes = [0; CURSOR_BYTES];
    bytes[..4].copy_from_slice(&CURSOR_MAGIC);
    bytes[4] = CURSOR_VERSION;
    bytes[5..13].copy_from_slice(&position.segment.to_le_bytes());
    bytes[13..21].copy_from_slice(&position.offset.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[..21]);
    bytes[21..].copy_from_slice(&crc.to_le_bytes());
    bytes
}

fn cursor_decode(bytes: &[u8]) -> Option<Position> {
    if bytes.len() != CURSOR_BYTES || bytes[..4] != CURSOR_MAGIC || bytes[4] != CURSOR_VERSION {
        return None;
    }
    let crc = u32::from_le_bytes(bytes[21..].try_into().expect("4 bytes"));
    if crc32c::crc32c(&bytes[..21]) != crc {
        return None;
    }
    Some(Position {
        segment: u64::from_le_bytes(bytes[5..13].try_into().expect("8 bytes")),
        offset: u64::from_le_bytes(bytes[13..21].try_into().expect("8 bytes")),
    })
}

/// Replaces the cursor file.
fn cursor_write(dir: &Path, position: Position) -> io::Result<()> {
    let bytes = cursor_encode(position);
    debug_assert_eq!(cursor_decode(&bytes), Some(position));
    let temp = dir.join(CURSOR_TEMP_FILE);
    // Step 1: write the temp file and sync it. A crash leaves a stray temp file (`open` removes
    // it) and the old cursor: the records since it are delivered again.
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(&temp)?;
    file.write_all(&bytes)?;
    file.sync_data()?;
    // Step 2: rename it over the cursor. Atomic: a crash leaves the old cursor or the new one,
    // whole, never a mix.
    fs::rename(&temp, dir.join(CURSOR_FILE))?;
    // Step 3: sync the directory. From here the new cursor survives a crash.
    dir_sync(dir)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A directory under the system temp dir, removed when dropped.
    pub(crate) struct TempDir(pub(crate) PathBuf);

    impl TempDir {
        pub(crate) fn new(label: &str) -> TempDir {
            let name = format!("maxiofs-ship-{label}-{:016x}", rand::random::<u64>());
            TempDir(std::env::temp_dir().join(name))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Small segments so that a few records cross several of them.
    const TEST_SEGMENT_BYTES: u64 = 1024;

    fn records_make(count: usize) -> Vec<LogRecord> {
        (0..count)
            .map(|i| LogRecord {
                stream: if i % 3 == 0 {
                    LogStream::Audit
                } else {
                    LogStream::Access
                },
                time_ms: 1_700_000_000_000 + i as u64,
                message: format!("record {i} {}", "x".repeat(i * 7 % 200)),
            })
            .collect()
    }

    fn open(dir: &TempDir) -> Spool {
        Spool::open_sized(&dir.0, 1 << 20, TEST_SEGMENT_BYTES).expect("open")
    }

    /// Peeks and acknowledges everything, a few records at a time.
    fn drain(spool: &mut Spool) -> Vec<LogRecord> {
        let mut out = Vec::new();
        loop {
            let (records, upto) = spool.peek(7, 4096).expect("peek");
            if records.is_empty() {
                return out;
            }
            out.extend(records);
            spool.ack(upto).expect("ack");
        }
    }

    fn segment_files(dir: &TempDir) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(&dir.0)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "seg"))
            .collect();
        files.sort();
        files
    }

    #[test]
    fn ship_spool_round_trip_crosses_segments() {
        let dir = TempDir::new("round-trip");
        let mut spool = open(&dir);
        let records = records_make(60);
        for batch in records.chunks(9) {
            assert_eq!(spool.append(batch).unwrap(), batch.len());
        }
        assert_eq!(spool.pending_records(), 60);
        let written: u64 = records.iter().map(frame_bytes).sum();
        assert_eq!(spool.pending_bytes(), written);
        assert!(
            segment_files(&dir).len() > 3,
            "records span several segments"
        );
        for file in segment_files(&dir) {
            let bytes = fs::metadata(&file).unwrap().len();
            assert!(
                bytes <= TEST_SEGMENT_BYTES,
                "{} holds {bytes} bytes",
                file.display()
            );
        }

        // A byte budget smaller than one frame still yields one record.
        let (one, _) = spool.peek(100, 1).unwrap();
        assert_eq!(one, records[..1]);

        assert_eq!(drain(&mut spool), records);
        assert_eq!(spool.pending_records(), 0);
        assert_eq!(spool.pending_bytes(), 0);
        assert_eq!(
            segment_files(&dir).len(),
            1,
            "consumed segments are removed"
        );
    }

    #[test]
    fn ship_spool_reopen_keeps_unacknowledged() {
        let dir = TempDir::new("reopen");
        let records = records_make(40);
        {
            let mut spool = open(&dir);
            spool.append(&records).unwrap();
            let (first, upto) = spool.peek(15, u64::MAX).unwrap();
            assert_eq!(first, records[..15]);
            spool.ack(upto).unwrap();
            // Peeked but not acknowledged: must come back.
            let (next, _) = spool.peek(10, u64::MAX).unwrap();
            assert_eq!(next, records[15..25]);
        }
        let mut spool = open(&dir);
        assert_eq!(spool.pending_records(), 25);
        assert_eq!(drain(&mut spool), records[15..]);
        drop(spool);
        let mut spool = open(&dir);
        assert_eq!(spool.pending_records(), 0);
        assert!(drain(&mut spool).is_empty());
        // Appending after a reopen continues the order.
        spool.append(&records[..3]).unwrap();
        assert_eq!(drain(&mut spool), records[..3]);
    }

    #[test]
    fn ship_spool_torn_tail_mid_frame_is_cut() {
        let dir = TempDir::new("torn");
        let records = records_make(30);
        open(&dir).append(&records).unwrap();
        let last = segment_files(&dir).pop().unwrap();
        let bytes = fs::metadata(&last).unwrap().len();
        let file = OpenOptions::new().write(true).open(&last).unwrap();
        file.set_len(bytes - 5).unwrap();
        drop(file);

        let mut spool = open(&dir);
        assert_eq!(spool.pending_records(), 29);
        let tail_bytes = fs::metadata(&last).unwrap().len();
        assert_eq!(
            tail_bytes,
            bytes - frame_bytes(&records[29]),
            "cut at the frame start"
        );
        // New records go after the cut, in order.
        spool.append(&records[29..]).unwrap();
        assert_eq!(drain(&mut spool), records);
    }

    #[test]
    fn ship_spool_flipped_byte_in_last_frame_is_cut() {
        let dir = TempDir::new("flip");
        let records = records_make(30);
        open(&dir).append(&records).unwrap();
        let last = segment_files(&dir).pop().unwrap();
        let mut bytes = fs::read(&last).unwrap();
        let at = bytes.len() - 3; // Inside the last frame's message.
        bytes[at] ^= 0x20;
        fs::write(&last, &bytes).unwrap();

        let mut spool = open(&dir);
        assert_eq!(drain(&mut spool), records[..29]);
    }

    #[test]
    fn ship_spool_damaged_older_segment_is_skipped_not_stuck() {
        let dir = TempDir::new("damaged");
        let records = records_make(40);
        open(&dir).append(&records).unwrap();
        let first = segment_files(&dir).remove(0);
        let mut bytes = fs::read(&first).unwrap();
        let second_frame = frame_bytes(&records[0]) as usize;
        bytes[second_frame + 20] ^= 0xff;
        fs::write(&first, &bytes).unwrap();

        let mut spool = open(&dir);
        let mut kept = drain(&mut spool);
        assert_eq!(kept.remove(0), records[0]);
        assert!(
            kept.len() < 39,
            "the rest of the damaged segment is skipped"
        );
        assert_eq!(
            kept[..],
            records[40 - kept.len()..],
            "later segments are delivered"
        );
    }

    #[test]
    fn ship_spool_corrupt_or_missing_cursor_replays_from_oldest() {
        let dir = TempDir::new("cursor");
        let records = records_make(60);
        {
            let mut spool = open(&dir);
            spool.append(&records).unwrap();
            let (first, upto) = spool.peek(40, u64::MAX).unwrap();
            assert_eq!(first.len(), 40);
            spool.ack(upto).unwrap();
        }
        let cursor = dir.0.join(CURSOR_FILE);
        let mut bytes = fs::read(&cursor).unwrap();
        bytes[14] ^= 1;
        fs::write(&cursor, &bytes).unwrap();

        let mut spool = open(&dir);
        let replayed = drain(&mut spool);
        assert!(replayed.len() >= 20, "nothing lost");
        assert!(
            replayed.len() < 60,
            "consumed segments were removed at the ack"
        );
        assert_eq!(replayed[..], records[60 - replayed.len()..]);
        drop(spool);

        fs::remove_file(&cursor).unwrap();
        let mut spool = open(&dir);
        assert!(spool.pending_records() > 0);
        let oldest = segment_files(&dir);
        assert_eq!(oldest.len(), 1);
        let bytes = fs::metadata(&oldest[0]).unwrap().len();
        assert_eq!(
            spool.pending_bytes(),
            bytes,
            "missing cursor: start of the oldest segment"
        );
        assert!(!drain(&mut spool).is_empty());
    }

    #[test]
    fn ship_spool_cursor_off_a_frame_boundary_replays_from_oldest() {
        let dir = TempDir::new("cursor-offset");
        let records = records_make(5);
        open(&dir).append(&records).unwrap();
        let segment = *segment_numbers_list(&dir.0).unwrap().first().unwrap();
        cursor_write(&dir.0, Position { segment, offset: 3 }).unwrap();
        let mut spool = open(&dir);
        assert_eq!(drain(&mut spool), records);
    }

    #[test]
    fn ship_spool_full_accepts_fewer_and_keeps_the_oldest() {
        let dir = TempDir::new("full");
        let records = records_make(10);
        let three: u64 = records[..3].iter().map(frame_bytes).sum();
        let mut spool = Spool::open_sized(&dir.0, three, TEST_SEGMENT_BYTES).unwrap();
        assert_eq!(spool.append(&records[..5]).unwrap(), 3);
        assert_eq!(spool.append(&records[5..6]).unwrap(), 0);
        let (first, upto) = spool.peek(2, u64::MAX).unwrap();
        spool.ack(upto).unwrap();
        assert_eq!(first, records[..2]);
        assert_eq!(spool.append(&records[..2]).unwrap(), 2);
        assert_eq!(
            drain(&mut spool),
            [&records[2..3], &records[..2]].concat(),
            "the oldest records are kept"
        );
    }

    #[test]
    fn ship_spool_truncates_long_messages_at_a_char_boundary() {
        let dir = TempDir::new("long");
        let mut spool = open(&dir);
        // 'é' is two bytes: an odd cut point falls inside a character.
        let message = format!("a{}", "é".repeat(MESSAGE_BYTES_MAX));
        let record = LogRecord {
            stream: LogStream::Access,
            time_ms: 7,
            message: message.clone(),
        };
        assert_eq!(spool.append(std::slice::from_ref(&record)).unwrap(), 1);
        let (stored, _) = spool.peek(1, u64::MAX).unwrap();
        let stored = &stored[0].message;
        assert_eq!(stored.len(), MESSAGE_BYTES_MAX - 1);
        assert!(message.starts_with(stored.as_str()));
        assert_eq!(frame_bytes(&record), FRAME_BYTES_MAX as u64 - 1);
    }

    #[test]
    fn ship_spool_ack_of_an_older_peek_counts_records() {
        let dir = TempDir::new("older-peek");
        let mut spool = open(&dir);
        let records = records_make(20);
        spool.append(&records).unwrap();
        let (_, upto) = spool.peek(12, u64::MAX).unwrap();
        spool.peek(3, u64::MAX).unwrap();
        spool.ack(upto).unwrap();
        assert_eq!(spool.pending_records(), 8);
        assert_eq!(drain(&mut spool), records[12..]);
    }

    #[test]
    fn ship_spool_file_modes() {
        let dir = TempDir::new("modes");
        let spool_dir = dir.0.join("nested").join("target");
        let mut spool = Spool::open_sized(&spool_dir, 1 << 20, TEST_SEGMENT_BYTES).unwrap();
        spool.append(&records_make(20)).unwrap();
        let (_, upto) = spool.peek(5, u64::MAX).unwrap();
        spool.ack(upto).unwrap();
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.0), 0o700);
        assert_eq!(mode(&spool_dir), 0o700);
        assert_eq!(mode(&spool_dir.join(CURSOR_FILE)), 0o600);
        let mut files = 0;
        for entry in fs::read_dir(&spool_dir).unwrap() {
            let path = entry.unwrap().path();
            assert_eq!(mode(&path), 0o600, "{}", path.display());
            files += 1;
        }
        assert!(files > 2);
    }
}
