//! DeleteObject and DeleteObjects. Deletes of many keys are committed
//! concurrently so the owner shard's group commit folds them into a few
//! transactions.

use std::rc::Rc;

use engine::index::IndexOp;
use http::{BodyLen, Exchange};
use md5::{Digest, Md5};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::limits::XML_BODY_BYTES_MAX;
use crate::ops::{engine_error, RequestContext};
use crate::shard::Shard;
use crate::xml;

pub async fn delete_object(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let key = ctx.key()?.as_bytes().to_vec();
    let op = IndexOp::DeleteObject {
        bucket_id: bucket.id,
        key,
    };
    shard
        .commit(bucket.owner_shard, op)
        .await
        .map_err(engine_error)?;
    ctx.respond(ex, 204, &[], BodyLen::Empty).await
}

/// AWS requires an integrity header on DeleteObjects: Content-MD5 or, since
/// the 2025 SDKs, any `x-amz-checksum-*` (verified by the payload reader).
fn delete_objects_check_integrity(head: &http::RequestHead, body: &[u8]) -> S3Result<()> {
    if let Some(md5) = head.header("content-md5") {
        use base64::Engine as _;
        let expected = base64::engine::general_purpose::STANDARD
            .decode(md5.trim())
            .map_err(|_| {
                S3Error::new(
                    S3ErrorCode::InvalidDigest,
                    "The Content-MD5 you specified was invalid.",
                )
            })?;
        if expected.as_slice() != Md5::digest(body).as_slice() {
            return Err(S3Error::new(
                S3ErrorCode::BadDigest,
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
        return Ok(());
    }
    let has_checksum = head
        .headers
        .iter()
        .any(|(name, _)| name.starts_with("x-amz-checksum-"))
        || head
            .header("x-amz-trailer")
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("x-amz-checksum-"));
    if has_checksum {
        return Ok(());
    }
    Err(S3Error::new(
        S3ErrorCode::InvalidRequest,
        "Missing required header for this request: Content-MD5 or x-amz-checksum-*",
    ))
}

pub async fn delete_objects(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let body = crate::body::read_small_body(
        ex,
        &ctx.payload,
        XML_BODY_BYTES_MAX,
        crate::body::HeaderChecksums::OfBody,
    )
    .await?;
    delete_objects_check_integrity(ex.head(), &body)?;
    let request = xml::parse_delete(&body)?;
    let mut pending = Vec::with_capacity(request.objects.len());
    for object in &request.objects {
        let task_shard = shard.clone();
        let op = IndexOp::DeleteObject {
            bucket_id: bucket.id,
            key: object.key.as_bytes().to_vec(),
        };
        let owner = bucket.owner_shard;
        pending.push(monoio::spawn(
            async move { task_shard.commit(owner, op).await },
        ));
    }
    let mut results = Vec::with_capacity(pending.len());
    for handle in pending {
        results.push(handle.await.map_err(engine_error));
    }
    let outcomes: Vec<xml::DeleteOutcome<'_>> = request
        .objects
        .iter()
        .zip(&results)
        .map(|(object, result)| match result {
            Ok(()) => xml::DeleteOutcome::Deleted {
                key: object.key.as_str(),
                version_id: object.version_id.as_ref().map(|v| v.as_str()),
                delete_marker_version_id: None,
            },
            Err(err) => xml::DeleteOutcome::Error {
                key: object.key.as_str(),
                version_id: object.version_id.as_ref().map(|v| v.as_str()),
                code: err.code,
                message: &err.message,
            },
        })
        .collect();
    let mut out = Vec::new();
    xml::delete_result(&mut out, request.quiet, &outcomes);
    ctx.respond_xml(ex, out).await
}
