//! DeleteObject and DeleteObjects. Deletes of many keys are committed
//! concurrently so the owner shard's group commit folds them into a few
//! transactions.

use std::rc::Rc;

use engine::index::IndexOp;
use http::{BodyLen, Exchange};

use crate::error::S3Result;
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
    // AWS requires an integrity header on DeleteObjects.
    crate::body::require_integrity_header(ex.head(), &body)?;
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
