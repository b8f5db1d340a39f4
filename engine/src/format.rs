//! The framing of every record in a segment file. Byte by byte (all integers
//! little-endian), also in `docs/format.md`:
//!
//! ```text
//! offset size field
//!      0    4 magic            "MXSR" (0x4d 0x58 0x53 0x52)
//!      4    1 format version   1
//!      5    1 kind             1 = object chunk
//!      6    2 header length    64
//!      8    4 payload length   bytes of payload that follow the header
//!     12    4 chunk index      position of this chunk within its object
//!     16   16 object id        u128, random per object (or per part)
//!     32    4 payload crc32c   over the payload bytes only
//!     36    4 header crc32c    over bytes 0..36 and 40..64 of this header
//!     40   24 auth tag         HMAC-SHA256 of an encrypted chunk, truncated
//!                              (see `crypto`); zero for a chunk stored in clear
//!     64    n payload
//!   64+n    p zero padding to the next multiple of 4096
//! ```
//!
//! A record therefore starts and ends on a 4 KiB boundary, so it can be written
//! and read with O_DIRECT in place. The header checksum catches torn and
//! misdirected writes; the payload checksum catches bit rot; the object id and
//! chunk index catch a manifest pointing at the wrong record.

use crate::io::aligned::round_up_to_block;

pub const RECORD_MAGIC: [u8; 4] = *b"MXSR";
pub const RECORD_FORMAT_VERSION: u8 = 1;
pub const RECORD_KIND_OBJECT_CHUNK: u8 = 1;
pub const RECORD_HEADER_BYTES: usize = 64;

const _: () = assert!(RECORD_HEADER_BYTES == AUTH_TAG_OFFSET + AUTH_TAG_BYTES);
const _: () = assert!(crate::limits::DISK_BLOCK_BYTES.is_multiple_of(RECORD_HEADER_BYTES));

/// What a record header says about its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub kind: u8,
    pub payload_len_bytes: u32,
    pub chunk_index: u32,
    pub object_id: u128,
    pub payload_crc32c: u32,
    /// The encrypted payload's authentication tag; zero in clear.
    pub auth_tag: [u8; AUTH_TAG_BYTES],
}

/// Bytes of the header's authentication-tag field.
pub const AUTH_TAG_BYTES: usize = 24;
const AUTH_TAG_OFFSET: usize = 40;

/// Bytes a record with this payload occupies on disk, padding included.
pub const fn record_len_bytes(payload_len_bytes: usize) -> usize {
    round_up_to_block(RECORD_HEADER_BYTES + payload_len_bytes)
}

impl RecordHeader {
    /// Writes the header into the first 64 bytes of `out`.
    pub fn encode(&self, out: &mut [u8]) {
        let out = &mut out[..RECORD_HEADER_BYTES];
        out.fill(0);
        out[0..4].copy_from_slice(&RECORD_MAGIC);
        out[4] = RECORD_FORMAT_VERSION;
        out[5] = self.kind;
        out[6..8].copy_from_slice(&(RECORD_HEADER_BYTES as u16).to_le_bytes());
        out[8..12].copy_from_slice(&self.payload_len_bytes.to_le_bytes());
        out[12..16].copy_from_slice(&self.chunk_index.to_le_bytes());
        out[16..32].copy_from_slice(&self.object_id.to_le_bytes());
        out[32..36].copy_from_slice(&self.payload_crc32c.to_le_bytes());
        out[AUTH_TAG_OFFSET..].copy_from_slice(&self.auth_tag);
        let header_crc = header_crc32c(out);
        out[36..40].copy_from_slice(&header_crc.to_le_bytes());
    }

    /// Parses and checks the header at the start of `input`.
    pub fn decode(input: &[u8]) -> Result<RecordHeader, String> {
        if input.len() < RECORD_HEADER_BYTES {
            return Err("short header".into());
        }
        let input = &input[..RECORD_HEADER_BYTES];
        if input[0..4] != RECORD_MAGIC {
            return Err("bad magic".into());
        }
        let stored_crc = u32::from_le_bytes(input[36..40].try_into().expect("4 bytes"));
        if stored_crc != header_crc32c(input) {
            return Err("header checksum mismatch".into());
        }
        if input[4] != RECORD_FORMAT_VERSION {
            return Err(format!("unknown record format version {}", input[4]));
        }
        Ok(RecordHeader {
            kind: input[5],
            payload_len_bytes: u32::from_le_bytes(input[8..12].try_into().expect("4 bytes")),
            chunk_index: u32::from_le_bytes(input[12..16].try_into().expect("4 bytes")),
            object_id: u128::from_le_bytes(input[16..32].try_into().expect("16 bytes")),
            payload_crc32c: u32::from_le_bytes(input[32..36].try_into().expect("4 bytes")),
            auth_tag: input[AUTH_TAG_OFFSET..].try_into().expect("24 bytes"),
        })
    }
}

fn header_crc32c(header: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&header[0..36]);
    crc32c::crc32c_append(crc, &header[40..RECORD_HEADER_BYTES])
}

/// Frames the payload that the caller placed at `buf[64..64 + payload_len]`:
/// zeroes the padding, writes the header with both checksums and sets the
/// buffer's length to the whole record. Runs on the shard that received the
/// bytes, so the owner shard only submits the write.
pub fn seal_chunk(
    buf: &mut crate::io::AlignedBuf,
    object_id: u128,
    chunk_index: u32,
    payload_len_bytes: usize,
) {
    seal_chunk_tagged(
        buf,
        object_id,
        chunk_index,
        payload_len_bytes,
        &[0; AUTH_TAG_BYTES],
    );
}

/// `seal_chunk` for an encrypted payload: the header carries its tag.
pub fn seal_chunk_tagged(
    buf: &mut crate::io::AlignedBuf,
    object_id: u128,
    chunk_index: u32,
    payload_len_bytes: usize,
    auth_tag: &[u8; AUTH_TAG_BYTES],
) {
    let record_len = record_len_bytes(payload_len_bytes);
    assert!(record_len <= buf.capacity(), "chunk larger than its buffer");
    let bytes = buf.as_full_mut();
    let payload_end = RECORD_HEADER_BYTES + payload_len_bytes;
    bytes[payload_end..record_len].fill(0);
    let header = RecordHeader {
        kind: RECORD_KIND_OBJECT_CHUNK,
        payload_len_bytes: payload_len_bytes as u32,
        chunk_index,
        object_id,
        payload_crc32c: crc32c::crc32c(&bytes[RECORD_HEADER_BYTES..payload_end]),
        auth_tag: *auth_tag,
    };
    header.encode(bytes);
    buf.set_len(record_len);
}

/// Checks a record read back from disk against what the manifest expects.
pub fn verify_chunk(
    record: &[u8],
    object_id: u128,
    chunk_index: u32,
    payload_len_bytes: u32,
) -> Result<(), String> {
    let header = RecordHeader::decode(record)?;
    if header.kind != RECORD_KIND_OBJECT_CHUNK {
        return Err(format!("unexpected record kind {}", header.kind));
    }
    if header.object_id != object_id || header.chunk_index != chunk_index {
        return Err("record belongs to another object or position".into());
    }
    if header.payload_len_bytes != payload_len_bytes {
        return Err("payload length differs from the manifest".into());
    }
    let payload = &record[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + payload_len_bytes as usize];
    if crc32c::crc32c(payload) != header.payload_crc32c {
        return Err("payload checksum mismatch".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RecordHeader {
        RecordHeader {
            kind: RECORD_KIND_OBJECT_CHUNK,
            payload_len_bytes: 5,
            chunk_index: 7,
            object_id: 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10,
            payload_crc32c: crc32c::crc32c(b"hello"),
            auth_tag: [0x5A; AUTH_TAG_BYTES],
        }
    }

    #[test]
    fn header_round_trips() {
        let mut bytes = [0u8; RECORD_HEADER_BYTES];
        sample().encode(&mut bytes);
        assert_eq!(&bytes[0..4], b"MXSR");
        assert_eq!(RecordHeader::decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn any_flipped_header_byte_is_detected() {
        let mut bytes = [0u8; RECORD_HEADER_BYTES];
        sample().encode(&mut bytes);
        for i in 0..RECORD_HEADER_BYTES {
            let mut copy = bytes;
            copy[i] ^= 0x01;
            assert!(
                RecordHeader::decode(&copy).is_err(),
                "flip at {i} undetected"
            );
        }
    }

    #[test]
    fn record_lengths_are_block_multiples() {
        assert_eq!(record_len_bytes(0), 4096);
        assert_eq!(record_len_bytes(4096 - 64), 4096);
        assert_eq!(record_len_bytes(4096 - 63), 8192);
        assert_eq!(
            record_len_bytes(crate::limits::CHUNK_PAYLOAD_BYTES_MAX),
            1 << 20
        );
    }
}
