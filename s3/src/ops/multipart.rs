//! Multipart uploads: CreateMultipartUpload, UploadPart,
//! CompleteMultipartUpload, AbortMultipartUpload, ListParts and
//! ListMultipartUploads.
//!
//! Parts are stored exactly like object chunks, on the bucket's owner shard.
//! Completion moves no bytes: the object's manifest is the parts' extents
//! concatenated, committed in one index transaction that also checks the
//! parts did not change. A retried Complete of a finished upload with the
//! same part list returns the first answer.

use std::rc::Rc;

use engine::index::{IndexOp, ObjectBody, ObjectRecord, PartRecord, UploadKey, UploadRecord};
use http::{BodyLen, Exchange};
use md5::{Digest, Md5};

use crate::checksum::{Checksum, ChecksumAlgorithm, ChecksumHasher};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::limits::{LIST_KEYS_MAX, PART_SIZE_BYTES_MIN, XML_BODY_BYTES_MAX};
use crate::names::UploadId;
use crate::ops::object::{put_stored_headers, receive_body, stored_response_headers, Inline};
use crate::ops::object::{META_PART_CHECKSUMS, META_PART_SIZES};
use crate::ops::{engine_error, RequestContext};
use crate::shard::{BucketInfo, Shard};
use crate::xml::{self, XmlWriter};

/// Upload metadata naming the checksum every part carries, and how the
/// object's checksum derives from them.
const META_CHECKSUM_ALGORITHM: &str = "x-maxiofs-checksum-algorithm";
const META_CHECKSUM_TYPE: &str = "x-maxiofs-checksum-type";
const CHECKSUM_TYPE_COMPOSITE: &str = "COMPOSITE";
const CHECKSUM_TYPE_FULL_OBJECT: &str = "FULL_OBJECT";

/// `x-amz-checksum-algorithm` and `x-amz-checksum-type` of a Create. The
/// type defaults to COMPOSITE, except for CRC64NVME which AWS only offers
/// as FULL_OBJECT.
fn create_checksum_settings(
    head: &http::RequestHead,
) -> S3Result<Option<(ChecksumAlgorithm, &'static str)>> {
    let Some(name) = head.header("x-amz-checksum-algorithm") else {
        // A type says how to combine an algorithm's part checksums: alone it
        // asks for nothing (AWS refuses it).
        if head.header("x-amz-checksum-type").is_some() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The x-amz-checksum-type header can only be used with the \
                 x-amz-checksum-algorithm header.",
            ));
        }
        return Ok(None);
    };
    let algorithm = ChecksumAlgorithm::from_sdk_name(name.trim()).ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Checksum algorithm provided is unsupported.",
        )
    })?;
    let kind = match head.header("x-amz-checksum-type").map(str::trim) {
        None if algorithm == ChecksumAlgorithm::Crc64Nvme => CHECKSUM_TYPE_FULL_OBJECT,
        None => CHECKSUM_TYPE_COMPOSITE,
        Some(kind) if kind.eq_ignore_ascii_case(CHECKSUM_TYPE_COMPOSITE) => CHECKSUM_TYPE_COMPOSITE,
        Some(kind) if kind.eq_ignore_ascii_case(CHECKSUM_TYPE_FULL_OBJECT) => {
            CHECKSUM_TYPE_FULL_OBJECT
        }
        Some(_) => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "Invalid x-amz-checksum-type.",
            ))
        }
    };
    let composite_ok = algorithm != ChecksumAlgorithm::Crc64Nvme;
    let full_ok = crate::checksum::crc_combine(algorithm, 0, 0, 1).is_some();
    if (kind == CHECKSUM_TYPE_COMPOSITE && !composite_ok)
        || (kind == CHECKSUM_TYPE_FULL_OBJECT && !full_ok)
    {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            format!(
                "The {kind} checksum type cannot be used with the {} checksum algorithm.",
                algorithm.sdk_name()
            ),
        ));
    }
    Ok(Some((algorithm, kind)))
}

/// The object checksum of a completed upload, from its parts' checksums,
/// and the checksum type. None when the upload asked for none or a part
/// lacks one.
fn complete_object_checksum(
    meta: &[(String, String)],
    parts: &[&PartRecord],
) -> S3Result<Option<(Checksum, String, &'static str)>> {
    let find = |name: &str| {
        meta.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let Some(algorithm) = find(META_CHECKSUM_ALGORITHM).and_then(ChecksumAlgorithm::from_sdk_name)
    else {
        return Ok(None);
    };
    let mut part_checksums = Vec::with_capacity(parts.len());
    for part in parts {
        let stored = part.meta.iter().find(|(n, _)| n == algorithm.header_name());
        let Some((_, value)) = stored else {
            return Ok(None);
        };
        let checksum = Checksum::from_base64(algorithm, value)
            .map_err(|_| S3Error::internal("stored part checksum"))?;
        part_checksums.push((checksum, part.size_bytes));
    }
    if find(META_CHECKSUM_TYPE) == Some(CHECKSUM_TYPE_FULL_OBJECT) {
        let mut combined = ChecksumHasher::new(algorithm)
            .finalize()
            .crc_value()
            .unwrap_or(0);
        for (checksum, size) in &part_checksums {
            let value = checksum
                .crc_value()
                .ok_or_else(|| S3Error::internal("crc value"))?;
            combined = crate::checksum::crc_combine(algorithm, combined, value, *size)
                .ok_or_else(|| S3Error::internal("crc combine"))?;
        }
        let checksum = Checksum::from_crc_value(algorithm, combined)
            .ok_or_else(|| S3Error::internal("crc value"))?;
        let text = checksum.to_base64();
        return Ok(Some((checksum, text, CHECKSUM_TYPE_FULL_OBJECT)));
    }
    let mut hasher = ChecksumHasher::new(algorithm);
    for (checksum, _) in &part_checksums {
        hasher.update(checksum.as_bytes());
    }
    let checksum = hasher.finalize();
    let text = format!("{}-{}", checksum.to_base64(), parts.len());
    Ok(Some((checksum, text, CHECKSUM_TYPE_COMPOSITE)))
}

/// The upload's checksum algorithm and type, when Create asked for one.
pub(crate) fn upload_checksum(meta: &[(String, String)]) -> Option<(ChecksumAlgorithm, &str)> {
    let find = |name: &str| {
        meta.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let algorithm = find(META_CHECKSUM_ALGORITHM).and_then(ChecksumAlgorithm::from_sdk_name)?;
    Some((
        algorithm,
        find(META_CHECKSUM_TYPE).unwrap_or(CHECKSUM_TYPE_COMPOSITE),
    ))
}

/// The checksum a part of an upload is stored with: the upload's algorithm.
/// A part sent with another algorithm is refused, as is a part sent without
/// one when the object's checksum is composed from the parts' (COMPOSITE); a
/// FULL_OBJECT upload's part without one gets it computed here. `None`: the
/// upload asked for no checksum, so the part keeps whatever it was sent with.
pub(crate) fn part_checksum_algorithm(
    upload_meta: &[(String, String)],
    head: &http::RequestHead,
) -> S3Result<Option<ChecksumAlgorithm>> {
    let Some((algorithm, kind)) = upload_checksum(upload_meta) else {
        return Ok(None);
    };
    let sent = crate::ops::object::header_checksum(head)?;
    let requested = crate::ops::object::put_checksum_algorithm(head, sent.as_ref())?;
    match requested {
        Some(requested) if requested != algorithm => Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum \
                 Type: {}",
                algorithm.sdk_name().to_ascii_lowercase(),
                requested.sdk_name().to_ascii_lowercase()
            ),
        )),
        None if kind == CHECKSUM_TYPE_COMPOSITE => Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            format!(
                "The upload was created using a {} checksum. The part must include the \
                 checksum of the same type.",
                algorithm.sdk_name().to_ascii_lowercase()
            ),
        )),
        _ => Ok(Some(algorithm)),
    }
}

pub(crate) fn no_such_upload() -> S3Error {
    S3Error::new(
        S3ErrorCode::NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may \
         have been aborted or completed.",
    )
}

/// Upload ids are 16 random bytes, shown as 32 hex digits.
pub(crate) fn upload_key(upload_id: &UploadId) -> S3Result<UploadKey> {
    let mut key = [0u8; 16];
    hex::decode_to_slice(upload_id.as_str(), &mut key).map_err(|_| no_such_upload())?;
    Ok(key)
}

/// The upload, if it exists and belongs to this bucket and key.
pub(crate) fn load_upload(
    shard: &Shard,
    bucket: &BucketInfo,
    key: &[u8],
    upload: &UploadKey,
) -> S3Result<Option<UploadRecord>> {
    let index = shard.reader.shard_index(bucket.owner_shard as usize);
    let record = index.upload(upload).map_err(engine_error)?;
    Ok(record.filter(|record| record.bucket_id == bucket.id && record.key == key))
}

pub async fn create_multipart_upload(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let key = ctx.key()?.clone();
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
    // The upload's data key: every part and the completed object use it.
    let sse = crate::sse::key_for_new_object(
        &shard.settings.encryption,
        &ctx.catalog.kms,
        &bucket.owner_account,
        bucket.encryption.as_ref(),
        ex.head(),
    )?;
    meta.extend(sse.into_iter().flat_map(|(_, sse_meta)| sse_meta));
    let checksum = create_checksum_settings(ex.head())?;
    if let Some((algorithm, kind)) = checksum {
        meta.push((
            META_CHECKSUM_ALGORITHM.to_string(),
            algorithm.sdk_name().to_string(),
        ));
        meta.push((META_CHECKSUM_TYPE.to_string(), kind.to_string()));
    }
    let sse_headers = crate::sse::response_headers(&meta);
    // Start time first, so that upload ids sort like the uploads of a key are
    // listed (by start) and an upload-id marker whose upload is gone still
    // resumes at the right place.
    let mut upload: UploadKey = rand::random();
    upload[..8].copy_from_slice(&ctx.now_ms.to_be_bytes());
    let record = UploadRecord {
        bucket_id: bucket.id,
        key: key.as_bytes().to_vec(),
        initiated_ms: ctx.now_ms,
        meta,
    };
    let op = IndexOp::CreateUpload {
        bucket_id: bucket.id,
        upload_id: upload,
        record,
    };
    shard
        .commit(bucket.owner_shard, op)
        .await
        .map_err(engine_error)?;
    let mut out = Vec::new();
    let upload_text = hex::encode(upload);
    xml::initiate_multipart_upload_result(&mut out, &bucket.name, key.as_str(), &upload_text);
    let mut headers = vec![("content-type", "application/xml")];
    headers.extend(sse_headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    if let Some((algorithm, kind)) = checksum {
        headers.push(("x-amz-checksum-algorithm", algorithm.sdk_name()));
        headers.push(("x-amz-checksum-type", kind));
    }
    let len = out.len() as u64;
    ctx.send_head(ex, 200, &headers, BodyLen::Fixed(len))
        .await?;
    let (written, _) = ex.write_body(out).await;
    written.map_err(|_| S3Error::internal("client went away"))
}

pub async fn upload_part(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    part_number: u16,
    upload_id: &UploadId,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let key = ctx.key()?.as_bytes().to_vec();
    let upload = upload_key(upload_id)?;
    // Checked before the body is read, so a stale id costs no bandwidth; the
    // commit checks again atomically.
    let Some(upload_record) = load_upload(shard, &bucket, &key, &upload)? else {
        return Err(no_such_upload());
    };
    let customer = crate::sse::customer_key(ex.head(), crate::sse::CustomerHeaders::Request)?;
    let data_key = crate::sse::key_of(
        &shard.settings.encryption,
        &ctx.catalog.kms,
        &upload_record.meta,
        customer.as_ref(),
    )?;
    let part_algorithm = part_checksum_algorithm(&upload_record.meta, ex.head())?;
    let ingested = receive_body(
        shard,
        ctx,
        ex,
        (&bucket, Inline::Never, data_key.as_ref(), 0),
        part_algorithm,
    )
    .await?;
    let ObjectBody::Extents(extents) = ingested.body else {
        unreachable!("parts are never inline")
    };
    let etag = crate::sse::etag_for(ingested.md5.known()?, &upload_record.meta);
    let mut meta = Vec::new();
    if let Some(checksum) = &ingested.checksum {
        meta.push((
            checksum.algorithm().header_name().to_string(),
            checksum.to_base64(),
        ));
    }
    let mut headers = stored_response_headers(&etag, ingested.checksum.as_ref());
    headers.extend(crate::sse::response_headers(&upload_record.meta));
    let record = PartRecord {
        size_bytes: ingested.size_bytes,
        etag,
        last_modified_ms: ctx.now_ms,
        meta,
        extents,
    };
    let op = IndexOp::PutPart {
        upload_id: upload,
        part_number,
        record,
    };
    shard
        .commit_write(
            bucket.owner_shard,
            (op, None),
            ingested.hold,
            ingested.quota,
        )
        .await?;
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    ctx.respond(ex, 200, &refs, BodyLen::Empty).await
}

/// The per-part checksums a Complete request lists, in part order.
type ListedChecksums = Vec<Vec<(ChecksumAlgorithm, String)>>;

/// The part list of a Complete request, in order, ETags unquoted, and the
/// checksums listed with each part.
fn complete_parse_parts(body: &[u8]) -> S3Result<(Vec<(u16, String)>, ListedChecksums)> {
    let parts = xml::parse_complete_multipart_upload(body)?;
    if parts.is_empty() {
        return Err(S3Error::new(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our \
             published schema.",
        ));
    }
    let mut out: Vec<(u16, String)> = Vec::with_capacity(parts.len());
    let mut checksums: ListedChecksums = Vec::with_capacity(parts.len());
    for part in parts {
        if out
            .last()
            .is_some_and(|(last, _)| *last >= part.part_number)
        {
            return Err(S3Error::new(
                S3ErrorCode::InvalidPartOrder,
                "The list of parts was not in ascending order. The parts list must be specified \
                 in order by part number.",
            ));
        }
        out.push((
            part.part_number,
            part.etag.trim().trim_matches('"').to_string(),
        ));
        let listed = [
            (ChecksumAlgorithm::Crc32, part.checksum_crc32),
            (ChecksumAlgorithm::Crc32c, part.checksum_crc32c),
            (ChecksumAlgorithm::Crc64Nvme, part.checksum_crc64nvme),
            (ChecksumAlgorithm::Sha1, part.checksum_sha1),
            (ChecksumAlgorithm::Sha256, part.checksum_sha256),
        ];
        let listed = listed.into_iter().filter_map(|(a, v)| Some((a, v?)));
        checksums.push(listed.collect());
    }
    Ok((out, checksums))
}

/// A checksum listed with a part in a Complete must be the one stored with
/// that part (AWS answers InvalidPart otherwise). A part stored without that
/// algorithm has nothing to compare with.
fn complete_check_part_checksums(
    number: u16,
    part: &PartRecord,
    listed: &[(ChecksumAlgorithm, String)],
) -> S3Result<()> {
    for (algorithm, value) in listed {
        let stored = part.meta.iter().find(|(n, _)| n == algorithm.header_name());
        if stored.is_some_and(|(_, stored)| stored != value.trim()) {
            return Err(engine_error(engine::EngineError::InvalidPart {
                part_number: number,
            }));
        }
    }
    Ok(())
}

/// Checks the listed parts against the stored ones and builds the object.
fn complete_build_record(
    shard: &Shard,
    bucket: &BucketInfo,
    upload: &UploadKey,
    meta: Vec<(String, String)>,
    (listed, listed_checksums): (&[(u16, String)], &ListedChecksums),
    now_ms: u64,
) -> S3Result<ObjectRecord> {
    let index = shard.reader.shard_index(bucket.owner_shard as usize);
    let (stored, _) = index
        .upload_parts(upload, 0, usize::from(u16::MAX))
        .map_err(engine_error)?;
    let mut md5_of_md5s = Md5::new();
    let mut extents = Vec::new();
    let mut size_bytes = 0u64;
    let mut part_sizes = Vec::with_capacity(listed.len());
    let mut used_parts: Vec<&PartRecord> = Vec::with_capacity(listed.len());
    let checksum = upload_checksum(&meta).map(|(algorithm, kind)| (algorithm, kind.to_owned()));
    let mut part_checksums = Vec::with_capacity(listed.len());
    for (position, (number, etag)) in listed.iter().enumerate() {
        if let Some((algorithm, kind)) = &checksum {
            let given = listed_checksums[position]
                .iter()
                .any(|(a, _)| a == algorithm);
            if !given && kind == CHECKSUM_TYPE_COMPOSITE {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    format!(
                        "The upload was created using a {} checksum. The complete request must \
                         include the checksum for each part. It was missing for part {number} \
                         in the request.",
                        algorithm.sdk_name().to_ascii_lowercase()
                    ),
                ));
            }
        }
        let part = stored
            .iter()
            .find(|(stored_number, _)| stored_number == number)
            .map(|(_, part)| part)
            .filter(|part| &part.etag == etag)
            .ok_or_else(|| {
                engine_error(engine::EngineError::InvalidPart {
                    part_number: *number,
                })
            })?;
        complete_check_part_checksums(*number, part, &listed_checksums[position])?;
        let is_last = position + 1 == listed.len();
        if !is_last && part.size_bytes < PART_SIZE_BYTES_MIN {
            return Err(S3Error::new(
                S3ErrorCode::EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed object size.",
            ));
        }
        let digest = hex::decode(&part.etag).map_err(|_| S3Error::internal("stored part etag"))?;
        md5_of_md5s.update(&digest);
        extents.extend_from_slice(&part.extents);
        size_bytes += part.size_bytes;
        part_sizes.push(part.size_bytes.to_string());
        if let Some((algorithm, _)) = &checksum {
            let stored = part.meta.iter().find(|(n, _)| n == algorithm.header_name());
            part_checksums.push(stored.map(|(_, v)| v.clone()).unwrap_or_default());
        }
        used_parts.push(part);
    }
    let etag = format!("{}-{}", hex::encode(md5_of_md5s.finalize()), listed.len());
    let object_checksum = complete_object_checksum(&meta, &used_parts)?;
    let mut meta = meta;
    meta.push((META_PART_SIZES.to_string(), part_sizes.join(",")));
    if part_checksums.iter().all(|value| !value.is_empty()) && !part_checksums.is_empty() {
        meta.push((META_PART_CHECKSUMS.to_string(), part_checksums.join(",")));
    }
    if let Some((checksum, text, kind)) = object_checksum {
        meta.push((checksum.algorithm().header_name().to_string(), text));
        meta.push(("x-amz-checksum-type".to_string(), kind.to_string()));
    }
    Ok(ObjectRecord {
        size_bytes,
        etag,
        last_modified_ms: now_ms,
        meta,
        body: ObjectBody::Extents(extents),
    })
}

pub async fn complete_multipart_upload(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    upload_id: &UploadId,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let key = ctx.key()?.clone();
    let upload = upload_key(upload_id)?;
    let body = crate::body::read_small_body(
        ex,
        &ctx.payload,
        XML_BODY_BYTES_MAX,
        crate::body::HeaderChecksums::OfObject,
    )
    .await?;
    let (listed, listed_checksums) = complete_parse_parts(&body)?;
    let condition = crate::ops::object::write_condition(ex.head())?;
    let mut encryption_headers = Vec::new();
    let (etag, checksum, version) = match load_upload(shard, &bucket, key.as_bytes(), &upload)? {
        Some(record) => {
            complete_check_checksum_type(ex.head(), &record.meta)?;
            let object = complete_build_record(
                shard,
                &bucket,
                &upload,
                record.meta,
                (&listed, &listed_checksums),
                ctx.now_ms,
            )?;
            let etag = object.etag.clone();
            let size_bytes = object.size_bytes;
            encryption_headers = crate::sse::response_headers(&object.meta);
            let checksum = complete_checksum_of(&object);
            complete_verify_object_checksum(ex.head(), checksum.as_ref())?;
            let version = bucket.versioning.version_write();
            let op = IndexOp::CompleteUpload {
                bucket_id: bucket.id,
                key: key.as_bytes().to_vec(),
                upload_id: upload,
                parts: listed,
                record: object,
                condition,
                version,
            };
            // The object's bytes are the parts' (already counted); it adds
            // one object, reserved by the commit.
            let quota = shard.quota_hold(&bucket, Some(0), 1, true).await?;
            let created = (
                crate::notify::EventName::ObjectCreatedCompleteMultipartUpload,
                size_bytes,
                etag.as_str(),
            );
            let peer = ex.peer_addr().ip();
            let events = ctx.object_event_here(shard, peer, &bucket, created, Some(version));
            shard
                .commit_write(bucket.owner_shard, (op, events), None, quota)
                .await?;
            (etag, checksum, version)
        }
        None => (
            complete_retried(shard, &bucket, key.as_bytes(), &upload, &listed)?,
            None,
            engine::index::VersionWrite::Unversioned,
        ),
    };
    let mut version_headers: Vec<(String, String)> =
        crate::ops::versioning::version_id_header(version)
            .into_iter()
            .collect();
    // As AWS: the object's encryption (SSE-S3, SSE-KMS with its key, SSE-C).
    version_headers.extend(encryption_headers);
    let location = format!("/{}/{}", bucket.name, key.as_str());
    let mut out = Vec::new();
    let mut w = XmlWriter::document(&mut out);
    w.open_root("CompleteMultipartUploadResult");
    w.text("Location", &location);
    w.text("Bucket", &bucket.name);
    w.text("Key", key.as_str());
    w.etag("ETag", &etag);
    if let Some((algorithm, value, kind)) = &checksum {
        w.text(&format!("Checksum{}", algorithm.sdk_name()), value);
        w.text("ChecksumType", kind);
    }
    w.close("CompleteMultipartUploadResult");
    ctx.respond_xml_with(ex, &version_headers, out).await
}

/// A Complete naming a checksum type must name the upload's.
fn complete_check_checksum_type(
    head: &http::RequestHead,
    upload_meta: &[(String, String)],
) -> S3Result<()> {
    let Some(requested) = head.header("x-amz-checksum-type") else {
        return Ok(());
    };
    let created = upload_checksum(upload_meta).map(|(_, kind)| kind);
    match created {
        Some(kind) if !kind.eq_ignore_ascii_case(requested.trim()) => Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            format!(
                "The upload was created using the {kind} checksum mode. The complete request \
                 must use the same checksum mode."
            ),
        )),
        _ => Ok(()),
    }
}

/// The checksum a completed object carries: algorithm, wire value, type.
fn complete_checksum_of(object: &ObjectRecord) -> Option<(ChecksumAlgorithm, String, String)> {
    let (algorithm, value) = object.meta.iter().find_map(|(name, value)| {
        ChecksumAlgorithm::from_header_name(name).map(|algorithm| (algorithm, value.clone()))
    })?;
    let kind = object
        .meta
        .iter()
        .find(|(name, _)| name == "x-amz-checksum-type")?
        .1
        .clone();
    Some((algorithm, value, kind))
}

/// The `x-amz-checksum-*` headers of a Complete are the client's checksum of the
/// whole object (SDK multipart uploaders send the FULL_OBJECT one): one of the
/// upload's algorithm must match what the parts combine to. A COMPOSITE value may
/// come with or without its `-N` part count.
fn complete_verify_object_checksum(
    head: &http::RequestHead,
    computed: Option<&(ChecksumAlgorithm, String, String)>,
) -> S3Result<()> {
    for (name, value) in &head.headers {
        let Some(algorithm) = ChecksumAlgorithm::from_header_name(name) else {
            continue;
        };
        let Some((computed_algorithm, computed_value, _)) = computed else {
            continue; // the upload has no checksum to compare with
        };
        if algorithm != *computed_algorithm {
            continue;
        }
        let without_count = |v: &str| v.split_once('-').map_or(v, |(base, _)| base).to_owned();
        if without_count(value.trim()) != without_count(computed_value) {
            return Err(S3Error::new(
                S3ErrorCode::BadDigest,
                format!(
                    "The {} you specified did not match the calculated checksum.",
                    algorithm.header_name()
                ),
            ));
        }
    }
    Ok(())
}

/// A Complete for an upload that no longer exists: if it was completed with
/// this very part list, answer as the first time (clients retry Completes
/// whose response they lost); otherwise NoSuchUpload.
fn complete_retried(
    shard: &Shard,
    bucket: &BucketInfo,
    key: &[u8],
    upload: &UploadKey,
    listed: &[(u16, String)],
) -> S3Result<String> {
    let index = shard.reader.shard_index(bucket.owner_shard as usize);
    let completed = index.completed_upload(upload).map_err(engine_error)?;
    match completed {
        Some(done) if done.bucket_id == bucket.id && done.key == key && done.parts == listed => {
            Ok(done.etag)
        }
        _ => Err(no_such_upload()),
    }
}

pub async fn abort_multipart_upload(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    upload_id: &UploadId,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let key = ctx.key()?.as_bytes().to_vec();
    let upload = upload_key(upload_id)?;
    if load_upload(shard, &bucket, &key, &upload)?.is_none() {
        return Err(no_such_upload());
    }
    let op = IndexOp::AbortUpload { upload_id: upload };
    shard
        .commit(bucket.owner_shard, op)
        .await
        .map_err(engine_error)?;
    ctx.respond(ex, 204, &[], BodyLen::Empty).await
}

fn query_number(ctx: &RequestContext, name: &str, default: u64) -> S3Result<u64> {
    match ctx.query(name) {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("Invalid value for {name}"),
            )
        }),
    }
}

pub async fn list_parts(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    upload_id: &UploadId,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let owner = crate::ops::OwnerText::of_account(&ctx.catalog, &bucket.owner_account);
    let key = ctx.key()?.clone();
    let upload = upload_key(upload_id)?;
    let Some(upload_record) = load_upload(shard, &bucket, key.as_bytes(), &upload)? else {
        return Err(no_such_upload());
    };
    let marker = query_number(ctx, "part-number-marker", 0)?.min(u64::from(u16::MAX)) as u16;
    let max = query_number(ctx, "max-parts", LIST_KEYS_MAX as u64)?.min(LIST_KEYS_MAX as u64);
    let index = shard.reader.shard_index(bucket.owner_shard as usize);
    let (parts, truncated) = index
        .upload_parts(&upload, marker, max as usize)
        .map_err(engine_error)?;
    let mut out = Vec::new();
    let mut w = XmlWriter::document(&mut out);
    w.open_root("ListPartsResult");
    w.text("Bucket", &bucket.name);
    w.text("Key", key.as_str());
    w.text("UploadId", upload_id.as_str());
    list_initiator_owner(&mut w, &owner);
    w.text(
        "StorageClass",
        crate::ops::object::storage_class(&upload_record.meta),
    );
    w.number("PartNumberMarker", u64::from(marker));
    let next = parts
        .last()
        .map(|(number, _)| u64::from(*number))
        .unwrap_or(u64::from(marker));
    w.number("NextPartNumberMarker", next);
    w.number("MaxParts", max);
    w.boolean("IsTruncated", truncated);
    for (number, part) in &parts {
        w.open("Part");
        w.number("PartNumber", u64::from(*number));
        w.timestamp("LastModified", part.last_modified_ms);
        w.etag("ETag", &part.etag);
        w.number("Size", part.size_bytes);
        for (name, value) in &part.meta {
            if let Some(algorithm) = crate::checksum::ChecksumAlgorithm::from_header_name(name) {
                w.text(&format!("Checksum{}", algorithm.sdk_name()), value);
            }
        }
        w.close("Part");
    }
    if let Some((algorithm, kind)) = upload_checksum(&upload_record.meta) {
        w.text("ChecksumAlgorithm", algorithm.sdk_name());
        w.text("ChecksumType", kind);
    }
    w.close("ListPartsResult");
    ctx.respond_xml(ex, out).await
}

fn list_initiator_owner(w: &mut XmlWriter<'_>, owner: &crate::ops::OwnerText) {
    w.open("Initiator");
    w.text("ID", &owner.id);
    w.text("DisplayName", &owner.display_name);
    w.close("Initiator");
    w.owner(&owner.as_xml());
}

pub async fn list_multipart_uploads(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let owner = crate::ops::OwnerText::of_account(&ctx.catalog, &bucket.owner_account);
    let prefix = ctx.query("prefix").unwrap_or("").to_string();
    let delimiter = ctx
        .query("delimiter")
        .filter(|d| !d.is_empty())
        .map(str::to_string);
    let key_marker = ctx.query("key-marker").unwrap_or("").to_string();
    let id_marker = ctx.query("upload-id-marker").unwrap_or("").to_string();
    let max = query_number(ctx, "max-uploads", LIST_KEYS_MAX as u64)?.min(LIST_KEYS_MAX as u64);
    let url = crate::ops::list::encoding_url(ctx)?;
    let index = shard.reader.shard_index(bucket.owner_shard as usize);
    let uploads = index.bucket_uploads(bucket.id).map_err(engine_error)?;
    // Uploads of one key list in the order they started, so the upload-id marker
    // means "after this upload in that order", found by position, not by id text.
    let marker_position = uploads.iter().position(|(id, record)| {
        record.key == key_marker.as_bytes() && hex::encode(id) == id_marker
    });
    let mut items: Vec<(String, Option<(String, UploadRecord)>)> = Vec::new();
    let mut truncated = false;
    for (position, (id, record)) in uploads.into_iter().enumerate() {
        let key =
            String::from_utf8(record.key.clone()).map_err(|_| S3Error::internal("key utf-8"))?;
        let id_hex = hex::encode(id);
        let after_id_marker = match marker_position {
            Some(marker) => position > marker,
            // The marker upload is gone (completed or aborted): fall back to id order.
            None => id_hex.as_str() > id_marker.as_str(),
        };
        let after_marker = key.as_str() > key_marker.as_str()
            || (key == key_marker && !id_marker.is_empty() && after_id_marker);
        if !key.starts_with(&prefix) || (!key_marker.is_empty() && !after_marker) {
            continue;
        }
        // A key marker that is a common prefix (the last page ended on it)
        // means after every key it rolls up.
        let rolled_up_by_marker = delimiter.as_deref().is_some_and(|d| {
            key_marker.len() > prefix.len()
                && key_marker.ends_with(d)
                && key.starts_with(key_marker.as_str())
        });
        if rolled_up_by_marker {
            continue;
        }
        let common = delimiter.as_deref().and_then(|d| {
            key[prefix.len()..]
                .find(d)
                .map(|at| key[..prefix.len() + at + d.len()].to_string())
        });
        if let Some(common) = common {
            if items
                .last()
                .is_some_and(|(last, upload)| upload.is_none() && *last == common)
            {
                continue;
            }
            if items.len() as u64 == max {
                // `max-uploads=0` lists nothing and is not a page of a longer list.
                truncated = !items.is_empty();
                break;
            }
            items.push((common, None));
            continue;
        }
        if items.len() as u64 == max {
            truncated = !items.is_empty();
            break;
        }
        items.push((key, Some((id_hex, record))));
    }
    let mut out = Vec::new();
    let mut w = XmlWriter::document(&mut out);
    w.open_root("ListMultipartUploadsResult");
    w.text("Bucket", &bucket.name);
    w.key_text("KeyMarker", &key_marker, url);
    w.text("UploadIdMarker", &id_marker);
    if let (true, Some((last_key, last_upload))) = (truncated, items.last()) {
        w.key_text("NextKeyMarker", last_key, url);
        w.text(
            "NextUploadIdMarker",
            last_upload
                .as_ref()
                .map(|(id, _)| id.as_str())
                .unwrap_or(""),
        );
    }
    if let Some(delimiter) = delimiter.as_deref() {
        w.key_text("Delimiter", delimiter, url);
    }
    w.key_text("Prefix", &prefix, url);
    w.number("MaxUploads", max);
    w.boolean("IsTruncated", truncated);
    if url {
        w.text("EncodingType", "url");
    }
    for (key, upload) in &items {
        let Some((id, record)) = upload else {
            continue;
        };
        w.open("Upload");
        w.key_text("Key", key, url);
        w.text("UploadId", id);
        list_initiator_owner(&mut w, &owner);
        w.text(
            "StorageClass",
            crate::ops::object::storage_class(&record.meta),
        );
        w.timestamp("Initiated", record.initiated_ms);
        if let Some((algorithm, kind)) = upload_checksum(&record.meta) {
            w.text("ChecksumAlgorithm", algorithm.sdk_name());
            w.text("ChecksumType", kind);
        }
        w.close("Upload");
    }
    for (prefix, upload) in &items {
        if upload.is_none() {
            w.open("CommonPrefixes");
            w.key_text("Prefix", prefix, url);
            w.close("CommonPrefixes");
        }
    }
    w.close("ListMultipartUploadsResult");
    ctx.respond_xml(ex, out).await
}
