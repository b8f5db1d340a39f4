//! PutObject, GetObject and HeadObject: streaming bodies into chunk records
//! on the bucket's owner shard, and verified chunk reads back out.
//!
//! The receiving shard does the CPU work (hashing, checksums, sealing each
//! chunk); the owner shard only writes the sealed buffers and commits.

use std::collections::VecDeque;
use std::rc::Rc;

use engine::crypto::DataKey;
use engine::format::RECORD_HEADER_BYTES;
use engine::index::{
    Extent, IndexOp, Md5AtCommit, Md5Digest, ObjectBody, ObjectRecord, WriteCondition,
};

use crate::notify::EventName;
use engine::io::AlignedBuf;
use engine::limits::{CHUNK_PAYLOAD_BYTES_MAX, INLINE_OBJECT_BYTES_MAX};
use engine::md5_lanes::Md5Stream;
use engine::EngineResult;
use http::{BodyLen, Exchange};
use monoio::buf::IoBuf;
use monoio::task::JoinHandle;

use crate::body::{ByteSource, PayloadReader};
use crate::checksum::{Checksum, ChecksumAlgorithm, ChecksumHasher};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::limits::{BODY_COPY_BYTES_MAX, PUT_CHUNKS_IN_FLIGHT_MAX, PUT_OBJECT_BYTES_MAX};
use crate::ops::conditions::{evaluate_read_conditions, ReadDecision};
use crate::ops::range::{parse_range, ByteRange};
use crate::ops::{engine_error, format_http_date, RequestContext};
use crate::shard::{BucketInfo, Shard, WriteHold};

/// Request headers stored with the object and returned on GET/HEAD.
const STORED_HEADERS: [&str; 6] = [
    "content-type",
    "content-disposition",
    "content-encoding",
    "content-language",
    "cache-control",
    "expires",
];
const USER_META_PREFIX: &str = "x-amz-meta-";
/// S3's default when a PUT names no Content-Type.
const CONTENT_TYPE_DEFAULT: &str = "binary/octet-stream";

/// What the body turned into.
pub(crate) struct Ingested {
    pub size_bytes: u64,
    pub md5: BodyMd5,
    pub checksum: Option<Checksum>,
    pub body: ObjectBody,
    /// Held from the first append until the commit (none for inline bodies).
    pub hold: Option<WriteHold>,
    /// The quota reserved for the body before it was read.
    pub quota: crate::quota::QuotaHold,
}

/// The MD5 of a received body: computed while it streamed, or left to the
/// owner's commit (an inline body under [`Inline::AllowedMd5AtCommit`]).
pub(crate) enum BodyMd5 {
    Known([u8; 16]),
    AtCommit(Md5AtCommit, Md5Digest),
}

impl BodyMd5 {
    /// The digest, for a body whose receiver did not leave it to the commit.
    pub fn known(&self) -> S3Result<[u8; 16]> {
        match self {
            BodyMd5::Known(md5) => Ok(*md5),
            BodyMd5::AtCommit(..) => Err(S3Error::internal(
                "We encountered an internal error. Please try again.",
            )),
        }
    }
}

/// Whether a small body may live inline in the index. Multipart parts may
/// not: a completed upload is one list of extents.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inline {
    Allowed,
    /// Allowed, and an inline body's MD5 is left to the owner's commit, which
    /// hashes its batch's small bodies together in SIMD lanes: for writes
    /// where nothing needs the ETag before the commit (no Content-MD5 to
    /// check, no event to build, an ETag that is the plain MD5).
    AllowedMd5AtCommit,
    Never,
}

/// Receives a request body as object data on the bucket's owner shard and
/// checks every integrity signal the client sent (Content-MD5, signed
/// SHA-256, chunk signatures, `x-amz-checksum-*` header or trailer).
///
/// `(bucket, inline, key, objects)`: where the bytes go, whether a small body
/// may be stored in the index, the data key, and the objects the write adds
/// (for the quota). `checksum_default`: the checksum computed when the
/// request names none (a multipart upload's algorithm for its parts).
pub(crate) async fn receive_body(
    shard: &Rc<Shard>,
    ctx: &RequestContext,
    ex: &mut Exchange<'_>,
    (bucket, inline, key, objects): (&BucketInfo, Inline, Option<&DataKey>, u64),
    checksum_default: Option<ChecksumAlgorithm>,
) -> S3Result<Ingested> {
    let content_md5 = parse_content_md5(ex.head().header("content-md5"))?;
    // Content-MD5 is checked before the commit, so the MD5 is needed now.
    let inline = match inline {
        Inline::AllowedMd5AtCommit if content_md5.is_some() => Inline::Allowed,
        inline => inline,
    };
    let checksum_expected = header_checksum(ex.head())?;
    let checksum_algorithm =
        put_checksum_algorithm(ex.head(), checksum_expected.as_ref())?.or(checksum_default);
    let head = ex.head();
    let framed =
        head.header("content-length").is_some() || head.header("transfer-encoding").is_some();
    if !framed {
        return Err(S3Error::new(
            S3ErrorCode::MissingContentLength,
            "You must provide the Content-Length HTTP header.",
        ));
    }
    let mut payload = PayloadReader::new(ex, &ctx.payload)?;
    payload.set_throttle(crate::throttle::of_tenant(
        &shard.catalog(),
        &bucket.owner_account,
    ));
    if payload
        .declared_len_bytes()
        .is_some_and(|len| len > PUT_OBJECT_BYTES_MAX)
    {
        return Err(S3Error::new(
            S3ErrorCode::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed object size.",
        ));
    }
    // Reserved before a byte is read, so a write that does not fit stores
    // nothing; a small body is stored only by its commit, which reserves.
    let declared = payload.declared_len_bytes();
    let at_commit = inline != Inline::Never
        && declared.is_some_and(|len| len <= INLINE_OBJECT_BYTES_MAX as u64);
    let quota = shard
        .quota_hold(bucket, declared, objects, at_commit)
        .await?;
    let mut ingested = ingest(shard, bucket, &mut payload, checksum_algorithm, inline, key).await?;
    ingested.quota = quota;
    let trailer_checksum = payload.finish()?;
    // The closing blank line of an unsigned trailer is optional, so a body cut
    // right after the last chunk would parse: the announced trailer must be there.
    if ex.head().header("x-amz-trailer").is_some() && trailer_checksum.is_none() {
        return Err(S3Error::new(
            S3ErrorCode::IncompleteBody,
            "The trailing checksum announced in x-amz-trailer was not received.",
        ));
    }
    verify_integrity(
        &ingested,
        content_md5,
        checksum_expected.or(trailer_checksum),
    )?;
    Ok(ingested)
}

/// `ETag` (quoted) and the checksum header, as PUT and UploadPart answer.
pub(crate) fn stored_response_headers(
    etag: &str,
    checksum: Option<&Checksum>,
) -> Vec<(String, String)> {
    let mut headers = vec![("etag".to_string(), format!("\"{etag}\""))];
    if let Some(checksum) = checksum {
        headers.push((
            checksum.algorithm().header_name().to_string(),
            checksum.to_base64(),
        ));
    }
    headers
}

pub async fn put_object(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let key = ctx.key()?.as_bytes().to_vec();
    let mut meta = put_stored_headers(ex.head(), ctx)?;
    meta.extend(crate::ops::acl::meta_for_new_object(
        ctx,
        &bucket,
        ex.head(),
        None,
    )?);
    meta.extend(crate::ops::object_lock::lock_meta_for_new_object(
        &bucket,
        ex.head(),
        ctx.now_ms,
    )?);
    let condition = write_condition(ex.head())?;
    let sse = crate::sse::key_for_new_object(
        &shard.settings.encryption,
        &ctx.catalog.kms,
        &bucket.owner_account,
        bucket.encryption.as_ref(),
        ex.head(),
    )?;
    let (data_key, sse_meta) = sse.unzip();
    meta.extend(sse_meta.into_iter().flatten());
    // Nothing needs the ETag before the commit unless an event carries it or
    // it is not the plain MD5 (SSE-C): then the owner's commit computes it.
    let inline = if bucket.notification.is_none() && crate::sse::etag_is_md5(&meta) {
        Inline::AllowedMd5AtCommit
    } else {
        Inline::Allowed
    };
    let target = (&bucket, inline, data_key.as_ref(), 1);
    // As AWS since 2025: an object sent without a checksum gets a CRC64NVME
    // one, so every object can be verified end to end.
    let default = Some(ChecksumAlgorithm::DEFAULT);
    let ingested = receive_body(shard, ctx, ex, target, default).await?;
    if let Some(checksum) = &ingested.checksum {
        meta.push((
            checksum.algorithm().header_name().to_string(),
            checksum.to_base64(),
        ));
    }
    let sse_headers = crate::sse::response_headers(&meta);
    let (etag, md5_at_commit, digest) = match ingested.md5 {
        BodyMd5::Known(md5) => (crate::sse::etag_for(md5, &meta), None, None),
        BodyMd5::AtCommit(job, digest) => (String::new(), Some(job), Some(digest)),
    };
    let version = bucket.versioning.version_write();
    let events = match md5_at_commit {
        None => {
            let created = (
                EventName::ObjectCreatedPut,
                ingested.size_bytes,
                etag.as_str(),
            );
            ctx.object_event_here(shard, ex.peer_addr().ip(), &bucket, created, Some(version))
        }
        // Only left to the commit where the bucket raises no events.
        Some(_) => None,
    };
    let known_etag = etag.clone();
    let record = ObjectRecord {
        size_bytes: ingested.size_bytes,
        etag,
        last_modified_ms: ctx.now_ms,
        meta,
        body: ingested.body,
    };
    let op = IndexOp::PutObject {
        bucket_id: bucket.id,
        key,
        record,
        condition,
        version,
        md5_at_commit,
    };
    shard
        .commit_write(
            bucket.owner_shard,
            (op, events),
            ingested.hold,
            ingested.quota,
        )
        .await?;
    let etag = match digest {
        Some(digest) => hex::encode(digest.get().ok_or_else(|| {
            S3Error::internal("We encountered an internal error. Please try again.")
        })?),
        None => known_etag,
    };
    let mut headers = stored_response_headers(&etag, ingested.checksum.as_ref());
    headers.extend(sse_headers);
    headers.extend(crate::ops::versioning::version_id_header(version));
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    ctx.respond(ex, 200, &refs, BodyLen::Empty).await
}

/// `If-None-Match` (`*`, or an ETag) and `If-Match` on writes, checked
/// atomically with the commit on the owner shard.
pub(crate) fn write_condition(head: &http::RequestHead) -> S3Result<WriteCondition> {
    match (head.header("if-none-match"), head.header("if-match")) {
        (Some(_), Some(_)) => Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            "If-Match and If-None-Match together are not supported on writes.",
        )),
        (Some(value), None) if value.trim() == "*" => Ok(WriteCondition::Absent),
        // AWS answers 501 here; other S3 servers write unless the current ETag
        // matches, which is what clients sending it mean.
        (Some(etag), None) => Ok(WriteCondition::EtagDiffers(
            etag.trim().trim_matches('"').to_string(),
        )),
        (None, Some(etag)) => Ok(WriteCondition::EtagMatches(
            etag.trim().trim_matches('"').to_string(),
        )),
        (None, None) => Ok(WriteCondition::None),
    }
}

pub(crate) fn parse_content_md5(value: Option<&str>) -> S3Result<Option<[u8; 16]>> {
    let Some(value) = value else { return Ok(None) };
    use base64::Engine as _;
    let invalid = || {
        S3Error::new(
            S3ErrorCode::InvalidDigest,
            "The Content-MD5 you specified was invalid.",
        )
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| invalid())?;
    raw.try_into().map(Some).map_err(|_| invalid())
}

/// A checksum the client sent as an `x-amz-checksum-*` header.
pub(crate) fn header_checksum(head: &http::RequestHead) -> S3Result<Option<Checksum>> {
    let mut found = None;
    for (name, value) in &head.headers {
        let Some(algorithm) = ChecksumAlgorithm::from_header_name(name) else {
            continue;
        };
        if found.is_some() {
            return Err(S3Error::new(S3ErrorCode::InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."));
        }
        let checksum = Checksum::from_base64(algorithm, value).map_err(|_| {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!("Value for {} header is invalid.", algorithm.header_name()),
            )
        })?;
        found = Some(checksum);
    }
    Ok(found)
}

/// Which checksum to compute while streaming: the one sent as a header, the
/// one announced as a trailer, or the one named by the SDK.
pub(crate) fn put_checksum_algorithm(
    head: &http::RequestHead,
    expected: Option<&Checksum>,
) -> S3Result<Option<ChecksumAlgorithm>> {
    if let Some(checksum) = expected {
        return Ok(Some(checksum.algorithm()));
    }
    if let Some(trailer) = head.header("x-amz-trailer") {
        let algorithm =
            ChecksumAlgorithm::from_header_name(trailer.trim().to_ascii_lowercase().as_str())
                .ok_or_else(|| {
                    S3Error::new(
                        S3ErrorCode::InvalidRequest,
                        "The value specified in the x-amz-trailer header is not supported",
                    )
                })?;
        return Ok(Some(algorithm));
    }
    match head
        .header("x-amz-sdk-checksum-algorithm")
        .or(head.header("x-amz-checksum-algorithm"))
    {
        Some(name) => ChecksumAlgorithm::from_sdk_name(&name.to_ascii_uppercase())
            .map(Some)
            .ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "Checksum algorithm provided is unsupported.",
                )
            }),
        None => Ok(None),
    }
}

/// Content headers and user metadata kept with the object.
/// Storage classes S3 accepts on writes. Every object is stored the same
/// way here; the class is accepted so tools that set it keep working.
const STORAGE_CLASSES: [&str; 9] = [
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
    "EXPRESS_ONEZONE",
];

/// The storage class an object or upload was written with (`x-amz-storage-class`,
/// kept in its meta unless STANDARD, so that GET and HEAD send it as AWS does).
pub(crate) fn storage_class(meta: &[(String, String)]) -> &str {
    meta.iter()
        .find(|(name, _)| name == "x-amz-storage-class")
        .map_or("STANDARD", |(_, class)| class.as_str())
}

fn put_check_storage_class(head: &http::RequestHead) -> S3Result<()> {
    match head.header("x-amz-storage-class") {
        Some(class) if !STORAGE_CLASSES.contains(&class.trim()) => Err(S3Error::new(
            S3ErrorCode::InvalidStorageClass,
            "The storage class you specified is not valid",
        )),
        _ => Ok(()),
    }
}

pub(crate) fn put_stored_headers(
    head: &http::RequestHead,
    ctx: &RequestContext,
) -> S3Result<Vec<(String, String)>> {
    put_check_storage_class(head)?;
    let mut meta = Vec::new();
    for (name, value) in &head.headers {
        if name == "content-encoding" {
            // aws-chunked is how this request was framed, not the object's encoding.
            let kept: Vec<&str> = value
                .split(',')
                .map(str::trim)
                .filter(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case("aws-chunked"))
                .collect();
            if !kept.is_empty() {
                meta.push((name.clone(), kept.join(",")));
            }
        } else if STORED_HEADERS.contains(&name.as_str()) || name.starts_with(USER_META_PREFIX) {
            meta.push((name.clone(), value.clone()));
        }
    }
    if let Some(class) = head
        .header("x-amz-storage-class")
        .map(str::trim)
        .filter(|class| *class != "STANDARD")
    {
        meta.push(("x-amz-storage-class".to_owned(), class.to_owned()));
    }
    meta.extend(crate::ops::tagging::request_tagging_meta(head)?);
    let meta_bytes: usize = meta
        .iter()
        .filter(|(name, _)| name.starts_with(USER_META_PREFIX))
        .map(|(name, value)| name.len() - USER_META_PREFIX.len() + value.len())
        .sum();
    if meta_bytes > 2048 {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Your metadata headers exceed the maximum allowed metadata size.",
        )
        .with_resource(ctx.resource()));
    }
    Ok(meta)
}

/// Streams the body into chunk records on the owner shard, hashing (and, with
/// a key, encrypting) as it goes. On failure every append still in flight
/// finishes before the write's hold is dropped (which abandons the write on
/// the owner), so no late append takes the hold again.
pub(crate) async fn ingest<S: ByteSource>(
    shard: &Rc<Shard>,
    bucket: &BucketInfo,
    payload: &mut S,
    checksum_algorithm: Option<ChecksumAlgorithm>,
    inline: Inline,
    key: Option<&DataKey>,
) -> S3Result<Ingested> {
    let mut writer = ChunkWriter {
        shard,
        owner: bucket.owner_shard,
        object_id: rand::random(),
        key,
        in_flight: VecDeque::new(),
        extents: Vec::new(),
        next_index: 0,
        hold: None,
    };
    let result = ingest_stream(&mut writer, payload, checksum_algorithm, inline).await;
    if result.is_err() {
        writer.drain().await;
    }
    result
}

/// A chunk is sealed only once the next read shows whether it is the last:
/// an encrypted chunk's tag says so, which is how a truncated object is caught.
async fn ingest_stream<S: ByteSource>(
    writer: &mut ChunkWriter<'_>,
    payload: &mut S,
    checksum_algorithm: Option<ChecksumAlgorithm>,
    inline: Inline,
) -> S3Result<Ingested> {
    let shard = writer.shard;
    let _ingesting = shard.md5_batch.ingesting();
    let mut md5 = Md5Stream::new();
    let mut checksum = checksum_algorithm.map(ChecksumHasher::new);
    // The chunk read last, not yet sealed: (buffer, payload bytes).
    let mut pending: Option<(AlignedBuf, usize)> = None;
    let mut size_bytes: u64 = 0;
    loop {
        let payload_area = RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + CHUNK_PAYLOAD_BYTES_MAX;
        let (filled, buf) = payload.read_full_into(shard.take_buf(), payload_area).await;
        let filled = match filled {
            Ok(filled) => filled,
            Err(err) => {
                shard.give_buf(buf);
                writer.abandon(pending.map(|(pending, _)| pending));
                return Err(err);
            }
        };
        let payload_span = (RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + filled);
        let at_end = filled < CHUNK_PAYLOAD_BYTES_MAX;
        let inline_body = inline != Inline::Never
            && pending.is_none()
            && writer.next_index == 0
            && at_end
            && filled <= INLINE_OBJECT_BYTES_MAX;
        let md5_at_commit = inline_body && inline == Inline::AllowedMd5AtCommit;
        let mut buf = if md5_at_commit {
            buf
        } else {
            crate::md5_batch::hash_chunk(shard, &mut md5, buf, payload_span).await
        };
        let bytes = &buf.as_full_mut()[payload_span.0..payload_span.1];
        if let Some(hasher) = checksum.as_mut() {
            hasher.update(bytes);
        }
        size_bytes += filled as u64;
        if size_bytes > PUT_OBJECT_BYTES_MAX {
            shard.give_buf(buf);
            writer.abandon(pending.map(|(pending, _)| pending));
            return Err(S3Error::new(
                S3ErrorCode::EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed object size.",
            ));
        }
        if inline_body {
            let stored = match writer.key {
                Some(key) => crate::sse::seal_inline(key, bytes),
                None => bytes.to_vec(),
            };
            let md5 = if md5_at_commit {
                let (job, digest) = Md5AtCommit::new(bytes.to_vec());
                BodyMd5::AtCommit(job, digest)
            } else {
                BodyMd5::Known(md5.finalize())
            };
            shard.give_buf(buf);
            let body = ObjectBody::Inline(stored);
            return Ok(finish_ingest(size_bytes, md5, checksum, body, None));
        }
        if filled == 0 {
            shard.give_buf(buf);
            if let Some((pending, len)) = pending.take() {
                writer.write(pending, len, true).await?;
            }
            break;
        }
        if let Some((pending, len)) = pending.take() {
            writer.write(pending, len, false).await?;
        }
        if at_end {
            writer.write(buf, filled, true).await?;
            break;
        }
        pending = Some((buf, filled));
    }
    let extents = writer.finish().await?;
    let body = ObjectBody::Extents(extents);
    Ok(finish_ingest(
        size_bytes,
        BodyMd5::Known(md5.finalize()),
        checksum,
        body,
        writer.hold.take(),
    ))
}

/// Seals chunks and keeps up to PUT_CHUNKS_IN_FLIGHT_MAX appends in flight to
/// the owner shard.
struct ChunkWriter<'a> {
    shard: &'a Rc<Shard>,
    owner: u16,
    object_id: u128,
    key: Option<&'a DataKey>,
    in_flight: VecDeque<JoinHandle<(EngineResult<Extent>, AlignedBuf)>>,
    extents: Vec<Extent>,
    next_index: u32,
    /// Taken with the first append.
    hold: Option<WriteHold>,
}

impl ChunkWriter<'_> {
    async fn write(&mut self, mut buf: AlignedBuf, len: usize, last: bool) -> S3Result<()> {
        let index = self.next_index;
        crate::sse::seal_record(&mut buf, self.key, self.object_id, index, len, last);
        let (task_shard, owner, object_id) = (self.shard.clone(), self.owner, self.object_id);
        self.hold
            .get_or_insert_with(|| WriteHold::new(&task_shard, owner, object_id));
        self.in_flight.push_back(monoio::spawn(async move {
            task_shard
                .append_chunk(owner, buf, object_id, index, len as u32)
                .await
        }));
        self.next_index += 1;
        if self.in_flight.len() >= PUT_CHUNKS_IN_FLIGHT_MAX {
            let extent = ingest_collect(self.shard, self.in_flight.pop_front()).await?;
            self.extents.push(extent);
        }
        Ok(())
    }

    async fn finish(&mut self) -> S3Result<Vec<Extent>> {
        while let Some(handle) = self.in_flight.pop_front() {
            let extent = ingest_collect(self.shard, Some(handle)).await?;
            self.extents.push(extent);
        }
        Ok(std::mem::take(&mut self.extents))
    }

    /// Returns an unsealed buffer to the pool; `drain` then waits for the
    /// appends in flight (their extents are never committed).
    fn abandon(&self, pending: Option<AlignedBuf>) {
        if let Some(buf) = pending {
            self.shard.give_buf(buf);
        }
    }

    /// Waits for every append still in flight, returning their buffers.
    async fn drain(&mut self) {
        while let Some(handle) = self.in_flight.pop_front() {
            let (_, buf) = handle.await;
            self.shard.give_buf(buf);
        }
    }
}

async fn ingest_collect(
    shard: &Shard,
    handle: Option<JoinHandle<(EngineResult<Extent>, AlignedBuf)>>,
) -> S3Result<Extent> {
    let (result, buf) = handle.expect("an append in flight").await;
    shard.give_buf(buf);
    result.map_err(engine_error)
}

fn finish_ingest(
    size_bytes: u64,
    md5: BodyMd5,
    checksum: Option<ChecksumHasher>,
    body: ObjectBody,
    hold: Option<WriteHold>,
) -> Ingested {
    Ingested {
        size_bytes,
        md5,
        checksum: checksum.map(ChecksumHasher::finalize),
        body,
        hold,
        quota: crate::quota::QuotaHold::Unlimited,
    }
}

/// Every integrity signal the client sent must match the bytes received;
/// otherwise nothing is committed.
pub(crate) fn verify_integrity(
    ingested: &Ingested,
    content_md5: Option<[u8; 16]>,
    checksum_expected: Option<Checksum>,
) -> S3Result<()> {
    // (`receive_body` leaves no MD5 to the commit when Content-MD5 came.)
    let md5_differs = match content_md5 {
        Some(expected) => ingested.md5.known()? != expected,
        None => false,
    };
    if md5_differs {
        return Err(S3Error::new(
            S3ErrorCode::BadDigest,
            "The Content-MD5 you specified did not match what we received.",
        ));
    }
    if let (Some(expected), Some(computed)) = (checksum_expected, ingested.checksum) {
        if expected.algorithm() != computed.algorithm() || expected.verify(&computed).is_err() {
            return Err(S3Error::new(
                S3ErrorCode::BadDigest,
                format!(
                    "The {} you specified did not match the calculated checksum.",
                    expected.algorithm().header_name()
                ),
            ));
        }
    }
    Ok(())
}

/// GetObject (with a body) and HeadObject (`head_only`).
pub async fn get_object(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    head_only: bool,
    part_number: Option<u16>,
    version_id: Option<crate::names::VersionId>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let (record, version_header) =
        crate::ops::load_object_version(shard, ctx, &bucket, version_id.as_ref())?;
    // Opened before any header goes out, so a key problem is a clean error.
    let customer = crate::sse::customer_key(ex.head(), crate::sse::CustomerHeaders::Request)?;
    let data_key = crate::sse::key_of(
        &shard.settings.encryption,
        &ctx.catalog.kms,
        &record.meta,
        customer.as_ref(),
    )?;
    let etag = format!("\"{}\"", record.etag);
    let last_modified = format_http_date(record.last_modified_ms);
    match evaluate_read_conditions(ex.head(), &etag, record.last_modified_ms)? {
        ReadDecision::Proceed => {}
        ReadDecision::NotModified => {
            let headers = [
                ("etag", etag.as_str()),
                ("last-modified", last_modified.as_str()),
            ];
            return ctx.respond(ex, 304, &headers, BodyLen::Empty).await;
        }
    }
    let mut headers: Vec<(String, String)> = vec![
        ("etag".into(), etag),
        ("last-modified".into(), last_modified),
        ("accept-ranges".into(), "bytes".into()),
    ];
    if let Some(id) = version_header {
        headers.push((crate::ops::versioning::HEADER_VERSION_ID.into(), id));
    }
    headers.extend(crate::ops::object_lock::response_headers(&record));
    let range = match (part_number, ex.head().header("range")) {
        (Some(_), Some(_)) => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "Cannot specify both Range header and partNumber query parameter",
            ))
        }
        (Some(number), None) => {
            let (range, count) = part_range(&record, number)?;
            // Only objects uploaded in parts have a parts count (as on AWS).
            if record.meta.iter().any(|(name, _)| name == META_PART_SIZES) {
                headers.push(("x-amz-mp-parts-count".into(), count.to_string()));
            }
            if checksum_mode_enabled(ex.head()) {
                headers.extend(part_checksum_header(&record, number));
            }
            range
        }
        (None, Some(value)) => parse_range(value, record.size_bytes)?,
        (None, None) => None,
    };
    get_object_stored_headers(
        &record,
        range.is_none() && checksum_mode_enabled(ex.head()),
        &mut headers,
    );
    get_object_response_overrides(ctx, &mut headers)?;
    let (status, span) = match range {
        Some(range) => {
            headers.push((
                "content-range".into(),
                format!(
                    "bytes {}-{}/{}",
                    range.start, range.end_inclusive, record.size_bytes
                ),
            ));
            (206, range)
        }
        None => (
            200,
            ByteRange {
                start: 0,
                end_inclusive: record.size_bytes.wrapping_sub(1),
            },
        ),
    };
    let len = if record.size_bytes == 0 {
        0
    } else {
        span.end_inclusive - span.start + 1
    };
    let header_refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    if head_only {
        return ctx
            .respond(ex, status, &header_refs, BodyLen::HeadOnly(len))
            .await;
    }
    ctx.send_head(ex, status, &header_refs, BodyLen::Fixed(len))
        .await?;
    if len > 0 {
        let throttle = crate::throttle::of_tenant(&ctx.catalog, &bucket.owner_account);
        let pace = throttle.as_deref().map(|throttle| &throttle.outbound);
        stream_body(shard, ex, &record.body, span, data_key.as_ref(), pace).await?;
    }
    Ok(())
}

/// The checksum of part `number` of a multipart object whose upload had a
/// checksum algorithm, as the header a read of that part carries.
fn part_checksum_header(record: &ObjectRecord, number: u16) -> Option<(String, String)> {
    let (_, list) = record
        .meta
        .iter()
        .find(|(name, _)| name == META_PART_CHECKSUMS)?;
    let algorithm = record
        .meta
        .iter()
        .find_map(|(name, _)| ChecksumAlgorithm::from_header_name(name))?;
    let value = list.split(',').nth(usize::from(number).checked_sub(1)?)?;
    Some((algorithm.header_name().to_owned(), value.to_owned()))
}

fn checksum_mode_enabled(head: &http::RequestHead) -> bool {
    head.header("x-amz-checksum-mode")
        .is_some_and(|mode| mode.eq_ignore_ascii_case("enabled"))
}

/// Object metadata kept for the server's own use, never sent as a header.
pub(crate) const INTERNAL_META_PREFIX: &str = "x-maxiofs-";
/// Sizes of the parts a multipart object was completed from, comma separated.
pub(crate) const META_PART_SIZES: &str = "x-maxiofs-part-sizes";
/// The checksums (base64, the upload's algorithm) of those parts, comma
/// separated, when the upload had a checksum algorithm.
pub(crate) const META_PART_CHECKSUMS: &str = "x-maxiofs-part-checksums";

/// The byte range of part `number` and the object's part count. Objects not
/// made by multipart upload have one part: the whole object.
fn part_range(record: &ObjectRecord, number: u16) -> S3Result<(Option<ByteRange>, usize)> {
    let sizes: Vec<u64> = match record.meta.iter().find(|(name, _)| name == META_PART_SIZES) {
        Some((_, list)) => list
            .split(',')
            .filter_map(|size| size.parse().ok())
            .collect(),
        None => vec![record.size_bytes],
    };
    let index = usize::from(number);
    if index == 0 || index > sizes.len() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidPartNumber,
            "The requested partnumber is not satisfiable",
        )
        .with_detail("PartNumberRequested", number.to_string())
        .with_detail("ActualPartCount", sizes.len().to_string()));
    }
    let start: u64 = sizes[..index - 1].iter().sum();
    let size = sizes[index - 1];
    if size == 0 {
        return Ok((None, sizes.len()));
    }
    Ok((
        Some(ByteRange {
            start,
            end_inclusive: start + size - 1,
        }),
        sizes.len(),
    ))
}

/// `response-content-type` and friends replace the stored headers on GET.
/// A value that cannot be a header value (a control byte such as CR or LF,
/// or a character outside ISO-8859-1) is refused as AWS refuses it, before
/// anything is sent: it would otherwise split the response head.
fn get_object_response_overrides(
    ctx: &RequestContext,
    headers: &mut Vec<(String, String)>,
) -> S3Result<()> {
    const OVERRIDES: [(&str, &str); 6] = [
        ("response-content-type", "content-type"),
        ("response-content-language", "content-language"),
        ("response-expires", "expires"),
        ("response-cache-control", "cache-control"),
        ("response-content-disposition", "content-disposition"),
        ("response-content-encoding", "content-encoding"),
    ];
    for (param, header) in OVERRIDES {
        if let Some(value) = ctx.query(param) {
            // Anyone could otherwise have a public object served as, say,
            // text/html from this origin; AWS refuses them unsigned too.
            if ctx.auth.identity.is_none() {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "Request specific response headers cannot be used for anonymous GET requests.",
                ));
            }
            if !is_header_value(value) {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    "Header value cannot be represented using ISO-8859-1.",
                )
                .with_detail("ArgumentName", param)
                .with_detail("ArgumentValue", value));
            }
            headers.retain(|(name, _)| name != header);
            headers.push((header.to_string(), value.to_string()));
        }
    }
    Ok(())
}

/// A value HTTP/1.1 can carry in a header field: tab, visible ASCII, space
/// and the rest of ISO-8859-1 (obs-text); no other control byte.
fn is_header_value(value: &str) -> bool {
    value
        .chars()
        .all(|c| c == '\t' || (' '..='~').contains(&c) || ('\u{a0}'..='\u{ff}').contains(&c))
}

fn get_object_stored_headers(
    record: &ObjectRecord,
    with_checksum: bool,
    out: &mut Vec<(String, String)>,
) {
    if !record.meta.iter().any(|(name, _)| name == "content-type") {
        out.push(("content-type".into(), CONTENT_TYPE_DEFAULT.into()));
    }
    if let Some(count) = crate::ops::tagging::tagging_count(&record.meta) {
        out.push(("x-amz-tagging-count".into(), count.to_string()));
    }
    let mut checksum_typed = false;
    let mut checksum_given = false;
    for (name, value) in &record.meta {
        if name.starts_with(INTERNAL_META_PREFIX) {
            continue;
        }
        if name.starts_with("x-amz-checksum-") {
            if with_checksum {
                checksum_typed |= name == "x-amz-checksum-type";
                checksum_given = true;
                out.push((name.clone(), value.clone()));
            }
        } else {
            out.push((name.clone(), value.clone()));
        }
    }
    // A checksum of an object sent whole is of the whole object (AWS says so
    // with the type; objects stored before types were kept have none).
    if checksum_given && !checksum_typed {
        out.push(("x-amz-checksum-type".into(), "FULL_OBJECT".into()));
    }
}

type ChunkRead = JoinHandle<(EngineResult<()>, AlignedBuf)>;

fn read_ahead(shard: &Rc<Shard>, extent: Extent) -> ChunkRead {
    let shard = shard.clone();
    monoio::spawn(async move {
        let buf = shard.take_buf();
        shard.reader.read_chunk(&extent, buf).await
    })
}

/// Writes `span` of the object, reading only the chunks it touches.
async fn stream_body(
    shard: &Rc<Shard>,
    ex: &mut Exchange<'_>,
    body: &ObjectBody,
    span: ByteRange,
    key: Option<&DataKey>,
    pace: Option<&crate::throttle::RateLimit>,
) -> S3Result<()> {
    let extents = match body {
        ObjectBody::Inline(stored) => {
            let plain = match key {
                Some(key) => std::borrow::Cow::Owned(crate::sse::open_inline(key, stored)?),
                None => std::borrow::Cow::Borrowed(stored),
            };
            let part = &plain[span.start as usize..=span.end_inclusive as usize];
            let written = ex.write_body_copied(part).await;
            return written.map_err(|_| S3Error::internal("client went away"));
        }
        ObjectBody::Extents(extents) => extents,
    };
    // The chunks the span touches, with the part of each payload it needs.
    let mut wanted = Vec::new();
    let mut offset: u64 = 0;
    for (i, extent) in extents.iter().enumerate() {
        let extent_start = offset;
        let extent_end = offset + u64::from(extent.payload_len_bytes);
        offset = extent_end;
        if extent_end <= span.start || extent_start > span.end_inclusive {
            continue;
        }
        let from = span.start.saturating_sub(extent_start) as usize;
        let to = ((span.end_inclusive + 1).min(extent_end) - extent_start) as usize;
        let last = crate::sse::is_last_of_its_write(extents, i);
        wanted.push((*extent, from, to, last));
    }
    // One chunk is read ahead while the previous one goes to the socket, so
    // the disk and the network overlap.
    let mut next = wanted
        .first()
        .map(|(extent, _, _, _)| read_ahead(shard, *extent));
    for (position, (extent, from, to, last)) in wanted.iter().enumerate() {
        let (read, mut buf) = next.take().expect("a chunk read in flight").await;
        next = wanted
            .get(position + 1)
            .map(|(extent, _, _, _)| read_ahead(shard, *extent));
        let opened = match (read, key) {
            (Err(err), _) => Err(engine_error(err)),
            (Ok(()), Some(key)) => crate::sse::open_record(&mut buf, key, extent, *last),
            (Ok(()), None) => Ok(()),
        };
        if let Err(err) = opened {
            shard.give_buf(buf);
            // Headers are out: the only honest signal left is a cut connection.
            ex.close_after();
            return Err(err);
        }
        let window = RECORD_HEADER_BYTES + from..RECORD_HEADER_BYTES + to;
        let written = if position == 0 && to - from <= BODY_COPY_BYTES_MAX {
            // Small: copied behind the response head so both leave in one send.
            let written = ex.write_body_copied(&buf.as_slice()[window]).await;
            shard.give_buf(buf);
            written
        } else {
            let (written, window) = ex.write_body(buf.slice(window)).await;
            shard.give_buf(window.into_inner());
            written
        };
        written.map_err(|_| S3Error::internal("client went away"))?;
        crate::throttle::pace(pace, to - from).await;
    }
    Ok(())
}
