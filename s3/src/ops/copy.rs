//! CopyObject and UploadPartCopy.
//!
//! CopyObject moves no bytes: the new object's manifest names the source's
//! extents (any shard may read any shard's segments). UploadPartCopy copies
//! the byte range it names into new chunk records on the destination's owner
//! shard, one chunk at a time, so memory stays bounded whatever the size.

use std::rc::Rc;

use engine::crypto::DataKey;
use engine::format::RECORD_HEADER_BYTES;
use engine::index::{IndexOp, ObjectBody, ObjectRecord, PartRecord};
use engine::limits::CHUNK_PAYLOAD_BYTES_MAX;
use http::Exchange;
use md5::{Digest, Md5};

use crate::checksum::{Checksum, ChecksumAlgorithm, ChecksumHasher};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::names::{BucketName, ObjectKey, UploadId};
use crate::ops::conditions::{evaluate_conditions, ReadDecision};
use crate::ops::object::{
    put_stored_headers, write_condition, INTERNAL_META_PREFIX, META_PART_CHECKSUMS,
};
use crate::ops::range::ByteRange;
use crate::ops::tagging::{request_tagging_meta, tagging_directive_replace, META_TAGGING};
use crate::ops::versioning::BucketVersioning;
use crate::ops::{engine_error, RequestContext};
use crate::shard::{BucketInfo, Shard, WriteHold};
use crate::sse::{customer_key, CopyEncryption, CustomerHeaders};
use crate::xml;
use engine::index::VersionSel;

/// The object named by `x-amz-copy-source`.
struct CopySource {
    bucket: BucketInfo,
    key: ObjectKey,
    record: ObjectRecord,
    /// The source's version id, for `x-amz-copy-source-version-id`.
    version_id: Option<String>,
    /// The request named a version other than the latest: copying it over
    /// its own key restores it, which AWS allows without other changes.
    older_version: bool,
}

/// `bucket/key`, optionally `?versionId=...`.
fn copy_source_parse(value: &str) -> S3Result<(BucketName, ObjectKey, Option<VersionSel>)> {
    let invalid = || {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        )
    };
    let (path, query) = value.split_once('?').unwrap_or((value, ""));
    let version = match query.strip_prefix("versionId=") {
        _ if query.is_empty() => None,
        Some(version_id) => Some(crate::ops::versioning::parse_version_id(version_id)?),
        None => return Err(invalid()),
    };
    let decoded = percent_encoding::percent_decode_str(path.trim_start_matches('/'))
        .decode_utf8()
        .map_err(|_| invalid())?;
    let (bucket, key) = decoded.split_once('/').ok_or_else(invalid)?;
    Ok((BucketName::parse(bucket)?, ObjectKey::parse(key)?, version))
}

/// Finds the source and applies the `x-amz-copy-source-if-*` conditions
/// (a failing one is 412, as AWS answers for copies).
fn copy_source_load(
    shard: &Shard,
    ctx: &RequestContext,
    ex: &Exchange<'_>,
) -> S3Result<CopySource> {
    let head = ex.head();
    let value = head.header("x-amz-copy-source").ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "x-amz-copy-source is required",
        )
    })?;
    let (bucket_name, key, version) = copy_source_parse(value)?;
    let bucket = ctx
        .catalog
        .buckets
        .get(bucket_name.as_str())
        .cloned()
        .or_else(|| shard.catalog().buckets.get(bucket_name.as_str()).cloned())
        .ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::NoSuchBucket,
                "The specified bucket does not exist",
            )
            .with_resource(format!("/{}", bucket_name.as_str()))
        })?;
    // Reading the source needs its own permission, asked before the
    // source's existence is revealed.
    let action = match version {
        Some(_) => "s3:GetObjectVersion",
        None => "s3:GetObject",
    };
    ctx.authorize_object(shard, ex, action, (&bucket, key.as_str(), version))?;
    let index = shard.reader.shard_index(bucket.owner_shard as usize);
    let found = match version {
        None => index.get_latest(bucket.id, key.as_bytes()),
        Some(version) => index.get_version(bucket.id, key.as_bytes(), version),
    }
    .map_err(engine_error)?;
    let resource = format!("/{}/{}", bucket.name, key.as_str());
    let (index_key, record) = match found {
        // A delete marker cannot be copied: latest → NoSuchKey, named → 400.
        Some((_, record)) if record.is_delete_marker() && version.is_some() => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The source of a copy request may not specifically refer to a delete marker by \
                 version id.",
            )
            .with_resource(resource))
        }
        Some(found) if !found.1.is_delete_marker() => found,
        _ if version.is_some() => {
            return Err(S3Error::new(
                S3ErrorCode::NoSuchVersion,
                "The specified version does not exist.",
            )
            .with_resource(resource))
        }
        _ => {
            return Err(
                S3Error::new(S3ErrorCode::NoSuchKey, "The specified key does not exist.")
                    .with_resource(resource),
            )
        }
    };
    let older_version = match version {
        None => false,
        Some(_) => index
            .get_latest(bucket.id, key.as_bytes())
            .map_err(engine_error)?
            .is_none_or(|(latest_key, _)| latest_key != index_key),
    };
    let source_versioned = bucket.versioning != BucketVersioning::Unversioned;
    let version_id = engine::index::version_id_of(&index_key, &record);
    let version_id =
        (source_versioned || version.is_some() || version_id != "null").then_some(version_id);
    let mapped: Vec<(String, String)> = head
        .headers
        .iter()
        .filter_map(|(name, value)| {
            name.strip_prefix("x-amz-copy-source-")
                .filter(|rest| rest.starts_with("if-"))
                .map(|rest| (rest.to_string(), value.clone()))
        })
        .collect();
    let conditions = http::RequestHead {
        method: "GET".into(),
        target: String::new(),
        headers: mapped,
    };
    let etag = format!("\"{}\"", record.etag);
    // A copy answers 412 where a GET would answer 304.
    let prefix = "x-amz-copy-source-";
    let (decision, condition) =
        evaluate_conditions(&conditions, &etag, record.last_modified_ms, prefix)?;
    if decision == ReadDecision::NotModified {
        return Err(crate::ops::conditions::precondition_failed(&format!(
            "{prefix}{condition}"
        )));
    }
    Ok(CopySource {
        bucket,
        key,
        record,
        version_id,
        older_version,
    })
}

fn metadata_directive_replace(head: &http::RequestHead) -> S3Result<bool> {
    crate::ops::directive_is_replace(head, "x-amz-metadata-directive")
}

pub async fn copy_object(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let key = ctx.key()?.clone();
    let acl_meta = crate::ops::acl::meta_for_new_object(ctx, &bucket, ex.head(), None)?;
    let checksum_wanted = copy_checksum_algorithm(ex.head())?;
    let source = copy_source_load(shard, ctx, ex)?;
    let replace = metadata_directive_replace(ex.head())?;
    let encryption = crate::sse::copy_encryption(
        &shard.settings.encryption,
        &ctx.catalog.kms,
        (&bucket.owner_account, bucket.encryption.as_ref()),
        &source.record.meta,
        ex.head(),
    )?;
    let reencrypt = matches!(encryption, CopyEncryption::Reencrypt { .. });
    let same_object = source.bucket.id == bucket.id && source.key == key && !source.older_version;
    if same_object && !replace && !reencrypt {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself \
             without changing the object's metadata, storage class, website redirect location \
             or encryption attributes.",
        ));
    }
    let mut meta = if replace {
        let mut meta = put_stored_headers(ex.head(), ctx)?;
        // The bytes are the same, so their checksum, their encryption (data key
        // and header) and the server's own notes about them (part sizes) still hold.
        meta.extend(
            source
                .record
                .meta
                .iter()
                .filter(|(n, _)| {
                    n.starts_with("x-amz-checksum-") || n.starts_with(INTERNAL_META_PREFIX)
                })
                .cloned(),
        );
        meta
    } else {
        source.record.meta.clone()
    };
    meta.retain(|(name, _)| !crate::sse::is_encryption_meta(name));
    // The copy is a new version: the source's lock and version flags stay
    // with the source; the copy gets the request's (or the bucket's default).
    meta.retain(|(name, _)| {
        ![
            engine::index::META_RETENTION,
            engine::index::META_LEGAL_HOLD,
            engine::index::META_NULL_VERSION,
        ]
        .contains(&name.as_str())
    });
    meta.extend(crate::ops::object_lock::lock_meta_for_new_object(
        &bucket,
        ex.head(),
        ctx.now_ms,
    )?);
    // An ACL is never copied: the copy gets the request's (AWS).
    meta.retain(|(name, _)| name != crate::ops::acl::META_ACL);
    meta.extend(acl_meta);
    // Tags follow their own directive, whatever the metadata one says.
    meta.retain(|(name, _)| name != META_TAGGING);
    if tagging_directive_replace(ex.head())? {
        meta.extend(request_tagging_meta(ex.head())?);
    } else {
        let source_tags = source.record.meta.iter().find(|(n, _)| n == META_TAGGING);
        meta.extend(source_tags.cloned());
    }
    let same_shard = source.bucket.owner_shard == bucket.owner_shard;
    let size_bytes = source.record.size_bytes;
    // Reserved by the commit only when no byte is written before it (an
    // inline source stays inline); otherwise before the bytes are copied.
    let inline = matches!(source.record.body, ObjectBody::Inline(_));
    let quota = shard
        .quota_hold(&bucket, Some(size_bytes), 1, inline)
        .await?;
    let mut hold = None;
    let mut computed = None;
    let (body, etag) = match encryption {
        // A new checksum needs the bytes read: only a copy without one shares them.
        CopyEncryption::Share(encryption_meta) if same_shard && checksum_wanted.is_none() => {
            meta.extend(encryption_meta);
            (source.record.body.clone(), source.record.etag.clone())
        }
        CopyEncryption::Share(encryption_meta) => {
            // Another shard's records are never shared: its compactor only
            // knows the references its own index holds. The bytes are copied
            // under the same data key (new object id, so new IVs), and the
            // copy keeps the source's wrapped key and ETag.
            let key = crate::sse::key_of(
                &shard.settings.encryption,
                &ctx.catalog.kms,
                &source.record.meta,
                None,
            )?;
            meta.extend(encryption_meta);
            let whole = ByteRange {
                start: 0,
                end_inclusive: source.record.size_bytes.wrapping_sub(1),
            };
            let body = match &source.record.body {
                ObjectBody::Inline(stored) => {
                    if let Some(algorithm) = checksum_wanted {
                        let plain = match &key {
                            Some(key) => crate::sse::open_inline(key, stored)?,
                            None => stored.clone(),
                        };
                        let mut hasher = ChecksumHasher::new(algorithm);
                        hasher.update(&plain);
                        computed = Some(hasher.finalize());
                    }
                    ObjectBody::Inline(stored.clone())
                }
                ObjectBody::Extents(_) => {
                    let keys = (key.clone(), key);
                    let source_span = (&source.record.body, whole);
                    let copied =
                        copy_bytes(shard, source_span, &bucket, keys, checksum_wanted).await?;
                    hold = copied.hold;
                    computed = copied.checksum;
                    ObjectBody::Extents(copied.extents)
                }
            };
            (body, source.record.etag.clone())
        }
        CopyEncryption::Reencrypt { source_key, dest } => {
            let (dest_key, dest_meta) = dest.unzip();
            meta.extend(dest_meta.into_iter().flatten());
            let whole = ByteRange {
                start: 0,
                end_inclusive: source.record.size_bytes.wrapping_sub(1),
            };
            let keys = (source_key, dest_key);
            let source_span = (&source.record.body, whole);
            let copied = copy_bytes(shard, source_span, &bucket, keys, checksum_wanted).await?;
            hold = copied.hold;
            computed = copied.checksum;
            let etag = crate::sse::etag_for(copied.md5, &meta);
            (ObjectBody::Extents(copied.extents), etag)
        }
    };
    if let Some(checksum) = computed {
        // The copy's checksum is of its whole bytes, whatever the source's was.
        meta.retain(|(name, _)| {
            !name.starts_with("x-amz-checksum-") && name != META_PART_CHECKSUMS
        });
        meta.push((
            checksum.algorithm().header_name().to_owned(),
            checksum.to_base64(),
        ));
        meta.push(("x-amz-checksum-type".to_owned(), "FULL_OBJECT".to_owned()));
    }
    let result_checksum = object_checksum(&meta);
    let encryption_headers = crate::sse::response_headers(&meta);
    let record = ObjectRecord {
        size_bytes: source.record.size_bytes,
        etag: etag.clone(),
        last_modified_ms: ctx.now_ms,
        meta,
        body,
    };
    let condition = write_condition(ex.head())?;
    let version = bucket.versioning.version_write();
    let op = IndexOp::PutObject {
        bucket_id: bucket.id,
        key: key.as_bytes().to_vec(),
        record,
        condition,
        version,
        md5_at_commit: None,
    };
    let created = (
        crate::notify::EventName::ObjectCreatedCopy,
        source.record.size_bytes,
        etag.as_str(),
    );
    let events = ctx.object_event_here(shard, ex.peer_addr().ip(), &bucket, created, Some(version));
    shard
        .commit_write(bucket.owner_shard, (op, events), hold, quota)
        .await?;
    let mut headers = encryption_headers;
    headers.extend(crate::ops::versioning::version_id_header(version));
    if let Some(source_version) = source.version_id.clone() {
        headers.push(("x-amz-copy-source-version-id".into(), source_version));
    }
    let mut out = Vec::new();
    let checksum = result_checksum
        .as_ref()
        .map(|(algorithm, value, kind)| (*algorithm, value.as_str(), kind.as_str()));
    xml::copy_object_result(&mut out, &etag, ctx.now_ms, checksum);
    ctx.respond_xml_with(ex, &headers, out).await
}

/// `x-amz-checksum-algorithm` of a CopyObject: the checksum the copy gets.
fn copy_checksum_algorithm(head: &http::RequestHead) -> S3Result<Option<ChecksumAlgorithm>> {
    let Some(name) = head.header("x-amz-checksum-algorithm") else {
        return Ok(None);
    };
    ChecksumAlgorithm::from_sdk_name(&name.trim().to_ascii_uppercase())
        .map(Some)
        .ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                "Checksum algorithm provided is unsupported. Please try again with any of the \
                 valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
            )
        })
}

/// An object's checksum as its meta holds it: algorithm, value and type
/// (FULL_OBJECT when none was kept).
fn object_checksum(meta: &[(String, String)]) -> Option<(ChecksumAlgorithm, String, String)> {
    let (algorithm, value) = meta.iter().find_map(|(name, value)| {
        ChecksumAlgorithm::from_header_name(name).map(|algorithm| (algorithm, value.clone()))
    })?;
    let kind = meta
        .iter()
        .find(|(name, _)| name == "x-amz-checksum-type")
        .map_or_else(|| "FULL_OBJECT".to_owned(), |(_, kind)| kind.clone());
    Some((algorithm, value, kind))
}

/// `x-amz-copy-source-range: bytes=first-last` (both required, inclusive).
fn copy_source_range(head: &http::RequestHead, size_bytes: u64) -> S3Result<ByteRange> {
    let Some(value) = head.header("x-amz-copy-source-range") else {
        return Ok(ByteRange {
            start: 0,
            end_inclusive: size_bytes.wrapping_sub(1),
        });
    };
    let invalid = || {
        S3Error::new(S3ErrorCode::InvalidArgument,
        "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
    };
    let spec = value.trim().strip_prefix("bytes=").ok_or_else(invalid)?;
    let (first, last) = spec.split_once('-').ok_or_else(invalid)?;
    let start: u64 = first.trim().parse().map_err(|_| invalid())?;
    let end: u64 = last.trim().parse().map_err(|_| invalid())?;
    if end < start {
        return Err(invalid());
    }
    if end >= size_bytes {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        ));
    }
    Ok(ByteRange {
        start,
        end_inclusive: end,
    })
}

pub async fn upload_part_copy(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    part_number: u16,
    upload_id: &UploadId,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let key = ctx.key()?.as_bytes().to_vec();
    let upload = crate::ops::multipart::upload_key(upload_id)?;
    let Some(upload_record) = crate::ops::multipart::load_upload(shard, &bucket, &key, &upload)?
    else {
        return Err(crate::ops::multipart::no_such_upload());
    };
    let source = copy_source_load(shard, ctx, ex)?;
    let span = copy_source_range(ex.head(), source.record.size_bytes)?;
    let encryption = &shard.settings.encryption;
    let (source_customer, dest_customer) = (
        customer_key(ex.head(), CustomerHeaders::CopySource)?,
        customer_key(ex.head(), CustomerHeaders::Request)?,
    );
    let keys = (
        crate::sse::key_of(
            encryption,
            &ctx.catalog.kms,
            &source.record.meta,
            source_customer.as_ref(),
        )?,
        crate::sse::key_of(
            encryption,
            &ctx.catalog.kms,
            &upload_record.meta,
            dest_customer.as_ref(),
        )?,
    );
    let span_bytes = if span.end_inclusive == u64::MAX {
        0
    } else {
        span.end_inclusive - span.start + 1
    };
    let quota = shard
        .quota_hold(&bucket, Some(span_bytes), 0, false)
        .await?;
    // The part gets its upload's checksum, as an uploaded part does.
    let algorithm =
        crate::ops::multipart::upload_checksum(&upload_record.meta).map(|(algorithm, _)| algorithm);
    let copied = copy_bytes(shard, (&source.record.body, span), &bucket, keys, algorithm).await?;
    let etag = hex::encode(copied.md5);
    let checksum = copied
        .checksum
        .map(|checksum| (checksum.algorithm(), checksum.to_base64()));
    let record = PartRecord {
        size_bytes: copied.size_bytes,
        etag: etag.clone(),
        last_modified_ms: ctx.now_ms,
        meta: checksum
            .iter()
            .map(|(algorithm, value)| (algorithm.header_name().to_owned(), value.clone()))
            .collect(),
        extents: copied.extents,
    };
    let hold = copied.hold;
    let op = IndexOp::PutPart {
        upload_id: upload,
        part_number,
        record,
    };
    shard
        .commit_write(bucket.owner_shard, (op, None), hold, quota)
        .await?;
    let mut out = Vec::new();
    let checksum = checksum.as_ref().map(|(a, value)| (*a, value.as_str()));
    xml::copy_part_result(&mut out, &etag, ctx.now_ms, checksum);
    // As for CopyObject: which version of the source was read.
    let headers: Vec<(String, String)> = source
        .version_id
        .iter()
        .map(|version| ("x-amz-copy-source-version-id".to_owned(), version.clone()))
        .collect();
    ctx.respond_xml_with(ex, &headers, out).await
}

/// What [`copy_bytes`] wrote.
struct Copied {
    extents: Vec<engine::index::Extent>,
    md5: [u8; 16],
    size_bytes: u64,
    hold: Option<WriteHold>,
    /// Of the copied bytes, when asked for.
    checksum: Option<Checksum>,
}

/// Copies `span` of an object into new chunk records on `dest`'s owner shard,
/// decrypting with the source's key and encrypting with the destination's,
/// and computing `checksum` of the bytes when given.
async fn copy_bytes(
    shard: &Rc<Shard>,
    (body, span): (&ObjectBody, ByteRange),
    dest: &BucketInfo,
    (source_key, dest_key): (Option<DataKey>, Option<DataKey>),
    checksum: Option<ChecksumAlgorithm>,
) -> S3Result<Copied> {
    let mut checksum = checksum.map(ChecksumHasher::new);
    let object_id: u128 = rand::random();
    // Appends are sequential here, so when an error returns none is in
    // flight and dropping the hold abandons the write at once.
    let mut hold = None;
    let mut md5 = Md5::new();
    let mut extents = Vec::new();
    let len = if span.end_inclusive == u64::MAX {
        0
    } else {
        span.end_inclusive - span.start + 1
    };
    let inline_plain = match (body, &source_key) {
        (ObjectBody::Inline(stored), Some(key)) => Some(crate::sse::open_inline(key, stored)?),
        (ObjectBody::Inline(stored), None) => Some(stored.clone()),
        (ObjectBody::Extents(_), _) => None,
    };
    let mut source = SourceCursor {
        shard,
        body,
        inline_plain,
        key: source_key.as_ref(),
        position: span.start,
        end: span.start + len,
    };
    let mut chunk_index = 0u32;
    while source.position < source.end {
        let mut buf = shard.take_buf();
        let area = &mut buf.as_full_mut()[RECORD_HEADER_BYTES..][..CHUNK_PAYLOAD_BYTES_MAX];
        let filled = match source.fill(area).await {
            Ok(filled) => filled,
            Err(err) => {
                shard.give_buf(buf);
                return Err(err);
            }
        };
        md5.update(&area[..filled]);
        if let Some(hasher) = checksum.as_mut() {
            hasher.update(&area[..filled]);
        }
        let last = source.position >= source.end;
        crate::sse::seal_record(
            &mut buf,
            dest_key.as_ref(),
            object_id,
            chunk_index,
            filled,
            last,
        );
        hold.get_or_insert_with(|| WriteHold::new(shard, dest.owner_shard, object_id));
        let (result, buf) = shard
            .append_chunk(dest.owner_shard, buf, object_id, chunk_index, filled as u32)
            .await;
        shard.give_buf(buf);
        extents.push(result.map_err(engine_error)?);
        chunk_index += 1;
    }
    Ok(Copied {
        extents,
        md5: md5.finalize().into(),
        size_bytes: len,
        hold,
        checksum: checksum.map(ChecksumHasher::finalize),
    })
}

/// Reads an object's bytes sequentially from a position, chunk by chunk.
struct SourceCursor<'a> {
    shard: &'a Rc<Shard>,
    body: &'a ObjectBody,
    /// An inline body's plaintext (decrypted once).
    inline_plain: Option<Vec<u8>>,
    /// The source's data key, when it is encrypted.
    key: Option<&'a DataKey>,
    position: u64,
    end: u64,
}

impl SourceCursor<'_> {
    /// Fills `dst` from the current position up to the end; returns bytes copied.
    async fn fill(&mut self, dst: &mut [u8]) -> S3Result<usize> {
        let mut filled = 0;
        while filled < dst.len() && self.position < self.end {
            let copied = match (self.body, &self.inline_plain) {
                (ObjectBody::Inline(_), Some(bytes)) => {
                    let from = self.position as usize;
                    let n = (dst.len() - filled).min(self.end as usize - from);
                    dst[filled..filled + n].copy_from_slice(&bytes[from..from + n]);
                    n
                }
                (ObjectBody::Extents(extents), _) => {
                    self.fill_from_extent(extents, &mut dst[filled..]).await?
                }
                (ObjectBody::Inline(_), None) => {
                    return Err(S3Error::internal("inline copy source not opened"))
                }
            };
            filled += copied;
            self.position += copied as u64;
        }
        Ok(filled)
    }

    async fn fill_from_extent(
        &self,
        extents: &[engine::index::Extent],
        dst: &mut [u8],
    ) -> S3Result<usize> {
        let mut start = 0u64;
        for (i, extent) in extents.iter().enumerate() {
            let end = start + u64::from(extent.payload_len_bytes);
            if self.position < end {
                let (read, mut buf) = self
                    .shard
                    .reader
                    .read_chunk(extent, self.shard.take_buf())
                    .await;
                let opened = match (read, self.key) {
                    (Err(err), _) => Err(engine_error(err)),
                    (Ok(()), Some(key)) => {
                        let last = crate::sse::is_last_of_its_write(extents, i);
                        crate::sse::open_record(&mut buf, key, extent, last)
                    }
                    (Ok(()), None) => Ok(()),
                };
                if let Err(err) = opened {
                    self.shard.give_buf(buf);
                    return Err(err);
                }
                let from = (self.position - start) as usize;
                let n = dst.len().min((end.min(self.end) - self.position) as usize);
                let payload =
                    &buf.as_slice()[RECORD_HEADER_BYTES + from..RECORD_HEADER_BYTES + from + n];
                dst[..n].copy_from_slice(payload);
                self.shard.give_buf(buf);
                return Ok(n);
            }
            start = end;
        }
        Err(S3Error::internal("copy source shorter than its size"))
    }
}
