//! Server-side encryption with server-managed keys (SSE-S3) in the S3 layer:
//! which new objects are encrypted, where their wrapped data key is kept, and
//! sealing and opening chunk records and inline bodies with `engine::crypto`.
//!
//! Like AWS since 2023, every new object is encrypted unless the server runs
//! with encryption off; a request may also ask for it
//! (`x-amz-server-side-encryption: AES256`). An object stores its wrapped data
//! key in its metadata (`META_SSE_KEY`, internal, never a response header) and
//! the public `x-amz-server-side-encryption: AES256`, which GET and HEAD return.
//! A multipart upload gets its key at creation; every part and the completed
//! object use it. Objects written in clear (before encryption, or with it off)
//! stay readable.

use engine::crypto::{DataKey, MasterKey, CHUNK_TAG_BYTES};
use engine::format::{seal_chunk, seal_chunk_tagged, RecordHeader, RECORD_HEADER_BYTES};
use engine::index::Extent;
use engine::io::AlignedBuf;

use crate::error::{S3Error, S3ErrorCode, S3Result};

/// Internal metadata entry holding an object's (or upload's) wrapped data key.
pub(crate) const META_SSE_KEY: &str = "x-maxiofs-sse-key";
pub(crate) const HEADER_SSE: &str = "x-amz-server-side-encryption";
pub(crate) const SSE_AES256: &str = "AES256";
/// Object id used for the cipher of an inline body (an inline object has no
/// record; its data key is its own, so the IV needs no other uniqueness).
const INLINE_OBJECT_ID: u128 = 0;

/// The server's encryption configuration, shared by every shard.
#[derive(Clone, Debug, Default)]
pub struct EncryptionSettings {
    /// Needed to write encrypted objects and to read them back.
    pub master: Option<MasterKey>,
    /// Encrypt new objects that do not ask for it (the default, as on AWS).
    pub encrypt_new_objects: bool,
}

/// A new object's data key and the metadata entries that record it.
pub(crate) type NewObjectKey = (DataKey, Vec<(String, String)>);

/// The data key a new object or multipart upload is written with, and the
/// metadata entries that record it; None when it is stored in clear.
pub(crate) fn key_for_new_object(
    settings: &EncryptionSettings,
    head: &http::RequestHead,
) -> S3Result<Option<NewObjectKey>> {
    if head
        .header("x-amz-server-side-encryption-customer-algorithm")
        .is_some()
    {
        return Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            "Server-side encryption with customer-provided keys (SSE-C) is not implemented yet.",
        ));
    }
    let requested = match head.header(HEADER_SSE).map(str::trim) {
        None => false,
        Some(SSE_AES256) => true,
        Some(value) if value.starts_with("aws:kms") => {
            return Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                "Server-side encryption with KMS keys is not supported; use AES256.",
            ))
        }
        Some(_) => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "The encryption method specified is not supported",
            ))
        }
    };
    if !(requested || settings.encrypt_new_objects) {
        return Ok(None);
    }
    let Some(master) = &settings.master else {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Server-side encryption is not configured on this server (no master key).",
        ));
    };
    let (key, wrapped) = master.new_data_key();
    let meta = vec![
        (META_SSE_KEY.to_owned(), wrapped),
        (HEADER_SSE.to_owned(), SSE_AES256.to_owned()),
    ];
    Ok(Some((key, meta)))
}

/// The data key stored data was written with; None when it is in clear.
pub(crate) fn key_of(
    settings: &EncryptionSettings,
    meta: &[(String, String)],
) -> S3Result<Option<DataKey>> {
    let Some((_, wrapped)) = meta.iter().find(|(name, _)| name == META_SSE_KEY) else {
        return Ok(None);
    };
    let Some(master) = &settings.master else {
        tracing::error!("an encrypted object was read but the server has no master key");
        return Err(S3Error::internal(
            "This object is encrypted and the server has no master key to read it.",
        ));
    };
    master.unwrap_data_key(wrapped).map(Some).map_err(|err| {
        tracing::error!(%err, "cannot open an object's data key");
        S3Error::internal("This object's encryption key cannot be opened.")
    })
}

/// The `x-amz-server-side-encryption` response header when `meta` says so.
pub(crate) fn response_header(meta: &[(String, String)]) -> Option<(String, String)> {
    meta.iter()
        .find(|(name, _)| name == META_SSE_KEY)
        .map(|_| (HEADER_SSE.to_owned(), SSE_AES256.to_owned()))
}

/// Frames a chunk whose payload sits at `buf[64..64 + payload_len]`,
/// encrypting it first when there is a key. `last`: no chunk of the same
/// write (object or part) follows.
pub(crate) fn seal_record(
    buf: &mut AlignedBuf,
    key: Option<&DataKey>,
    object_id: u128,
    chunk_index: u32,
    payload_len_bytes: usize,
    last: bool,
) {
    match key {
        None => seal_chunk(buf, object_id, chunk_index, payload_len_bytes),
        Some(key) => {
            let payload = &mut buf.as_full_mut()[RECORD_HEADER_BYTES..][..payload_len_bytes];
            let tag = key.seal_chunk(object_id, chunk_index, last, payload);
            seal_chunk_tagged(buf, object_id, chunk_index, payload_len_bytes, &tag);
        }
    }
}

/// Checks and decrypts, in place, a chunk record read (and crc-verified) for
/// `extent`.
pub(crate) fn open_record(
    buf: &mut AlignedBuf,
    key: &DataKey,
    extent: &Extent,
    last: bool,
) -> S3Result<()> {
    let header = RecordHeader::decode(buf.as_slice())
        .map_err(|why| S3Error::internal(format!("chunk header: {why}")))?;
    let payload_len = extent.payload_len_bytes as usize;
    let payload = &mut buf.as_full_mut()[RECORD_HEADER_BYTES..][..payload_len];
    key.open_chunk(
        extent.object_id,
        extent.chunk_index,
        last,
        payload,
        &header.auth_tag,
    )
    .map_err(|err| {
        tracing::error!(segment = extent.segment, offset = extent.offset_bytes, %err,
                "encrypted chunk failed authentication");
        S3Error::internal("Stored data failed its integrity check.")
    })
}

/// Whether `extents[i]` is the last chunk of the write (object or part) that
/// stored it: the next extent belongs to another write, or there is none.
pub(crate) fn is_last_of_its_write(extents: &[Extent], i: usize) -> bool {
    extents
        .get(i + 1)
        .is_none_or(|next| next.object_id != extents[i].object_id)
}

/// An inline body as stored: tag, then ciphertext.
pub(crate) fn seal_inline(key: &DataKey, plain: &[u8]) -> Vec<u8> {
    let mut ciphertext = plain.to_vec();
    let tag = key.seal_chunk(INLINE_OBJECT_ID, 0, true, &mut ciphertext);
    let mut stored = Vec::with_capacity(CHUNK_TAG_BYTES + plain.len());
    stored.extend_from_slice(&tag);
    stored.extend_from_slice(&ciphertext);
    stored
}

/// The plaintext of an inline body stored by `seal_inline`.
pub(crate) fn open_inline(key: &DataKey, stored: &[u8]) -> S3Result<Vec<u8>> {
    if stored.len() < CHUNK_TAG_BYTES {
        return Err(S3Error::internal("encrypted inline body too short"));
    }
    let (tag, ciphertext) = stored.split_at(CHUNK_TAG_BYTES);
    let mut plain = ciphertext.to_vec();
    key.open_chunk(INLINE_OBJECT_ID, 0, true, &mut plain, tag)
        .map_err(|err| {
            tracing::error!(%err, "encrypted inline object failed authentication");
            S3Error::internal("Stored data failed its integrity check.")
        })?;
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extent(object_id: u128, chunk_index: u32) -> Extent {
        Extent {
            shard: 0,
            segment: 0,
            offset_bytes: 0,
            payload_len_bytes: 1,
            object_id,
            chunk_index,
        }
    }

    #[test]
    fn last_chunk_of_each_write() {
        // A completed upload: part A (two chunks), part B (one chunk).
        let extents = [extent(1, 0), extent(1, 1), extent(2, 0)];
        let flags: Vec<bool> = (0..3).map(|i| is_last_of_its_write(&extents, i)).collect();
        assert_eq!(flags, [false, true, true]);
    }

    #[test]
    fn inline_bodies_round_trip_and_detect_tampering() {
        let (key, _) = MasterKey::generate().new_data_key();
        let stored = seal_inline(&key, b"small object");
        assert_ne!(&stored[CHUNK_TAG_BYTES..], b"small object");
        assert_eq!(open_inline(&key, &stored).unwrap(), b"small object");
        let mut tampered = stored.clone();
        tampered[CHUNK_TAG_BYTES + 1] ^= 1;
        assert!(open_inline(&key, &tampered).is_err());
        assert!(open_inline(&key, &stored[..10]).is_err());
        let (other, _) = MasterKey::generate().new_data_key();
        assert!(open_inline(&other, &stored).is_err());
    }
}
