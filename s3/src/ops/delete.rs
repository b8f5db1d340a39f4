//! DeleteObject and DeleteObjects. Deletes of many keys are committed
//! concurrently so the owner shard's group commit folds them into a few
//! transactions.
//!
//! In a versioned bucket a delete without a version id writes a delete
//! marker (the null one when versioning is suspended); with a version id it
//! removes that version for good.

use crate::body::BodyIntegrity;
use std::rc::Rc;

use engine::index::{IndexOp, VersionWrite};
use http::{BodyLen, Exchange};

use crate::error::S3Result;
use crate::ops::versioning::{parse_version_id, version_id_header};
use crate::ops::versioning::{HEADER_DELETE_MARKER, HEADER_VERSION_ID};
use crate::ops::{engine_error, RequestContext};
use crate::shard::{BucketInfo, Shard};
use crate::xml;

/// What a delete did, for the response.
#[derive(Debug, Default)]
struct Deleted {
    /// The version removed, or the delete marker written.
    version_id: Option<String>,
    /// The version concerned is a delete marker (written or removed).
    delete_marker: bool,
}

/// The index change deleting `key` (at `version_id`, if given) makes.
fn plan_delete(
    shard: &Shard,
    bucket: &BucketInfo,
    key: &[u8],
    version_id: Option<&str>,
    now_ms: u64,
    bypass_governance: bool,
) -> S3Result<(IndexOp, Deleted)> {
    let Some(version_id) = version_id else {
        return Ok(match bucket.versioning.version_write() {
            VersionWrite::Unversioned => (
                IndexOp::DeleteObject {
                    bucket_id: bucket.id,
                    key: key.to_vec(),
                },
                Deleted::default(),
            ),
            write @ VersionWrite::New { seq, null } => (
                IndexOp::PutDeleteMarker {
                    bucket_id: bucket.id,
                    key: key.to_vec(),
                    seq,
                    null,
                    last_modified_ms: now_ms,
                },
                Deleted {
                    version_id: version_id_header(write).map(|(_, id)| id),
                    delete_marker: true,
                },
            ),
        });
    };
    let version = parse_version_id(version_id)?;
    let existing = shard
        .reader
        .shard_index(bucket.owner_shard as usize)
        .get_version(bucket.id, key, version)
        .map_err(engine_error)?;
    let op = IndexOp::DeleteVersion {
        bucket_id: bucket.id,
        key: key.to_vec(),
        version,
        now_ms,
        bypass_governance,
    };
    let deleted = Deleted {
        version_id: Some(version_id.to_owned()),
        delete_marker: existing.is_some_and(|(_, record)| record.is_delete_marker()),
    };
    Ok((op, deleted))
}

pub async fn delete_object(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    version_id: Option<crate::names::VersionId>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let key = ctx.key()?.as_bytes().to_vec();
    let version_id = version_id.as_ref().map(|v| v.as_str());
    let version = version_id.and_then(engine::index::VersionSel::parse);
    let bypass = crate::ops::object_lock::bypass_governance_allowed(
        ctx,
        shard,
        ex,
        (&bucket, ctx.key()?.as_str(), version),
    );
    let (op, deleted) = plan_delete(shard, &bucket, &key, version_id, ctx.now_ms, bypass)?;
    shard
        .commit(bucket.owner_shard, op)
        .await
        .map_err(engine_error)?;
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(id) = &deleted.version_id {
        headers.push((HEADER_VERSION_ID, id));
    }
    if deleted.delete_marker {
        headers.push((HEADER_DELETE_MARKER, "true"));
    }
    ctx.respond(ex, 204, &headers, BodyLen::Empty).await
}

pub async fn delete_objects(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let body = ctx
        .read_xml_body_checked(ex, BodyIntegrity::Required)
        .await?;
    let request = xml::parse_delete(&body)?;
    let bypass = crate::ops::object_lock::bypass_governance(ex.head());
    let mut pending = Vec::with_capacity(request.objects.len());
    for object in &request.objects {
        let version_id = object.version_id.as_ref().map(|v| v.as_str());
        let action = match version_id {
            Some(_) => "s3:DeleteObjectVersion",
            None => "s3:DeleteObject",
        };
        let version = version_id.and_then(engine::index::VersionSel::parse);
        let target = (&bucket, object.key.as_str(), version);
        let planned = ctx
            .authorize_object(shard, ex, action, target)
            .and_then(|()| {
                let bypass = bypass
                    && crate::ops::object_lock::bypass_governance_allowed(ctx, shard, ex, target);
                plan_delete(
                    shard,
                    &bucket,
                    object.key.as_bytes(),
                    version_id,
                    ctx.now_ms,
                    bypass,
                )
            });
        let task_shard = shard.clone();
        let owner = bucket.owner_shard;
        pending.push(monoio::spawn(async move {
            let (op, deleted) = planned?;
            task_shard
                .commit(owner, op)
                .await
                .map_err(engine_error)
                .map(|()| deleted)
        }));
    }
    let mut results = Vec::with_capacity(pending.len());
    for handle in pending {
        results.push(handle.await);
    }
    let outcomes: Vec<xml::DeleteOutcome<'_>> = request
        .objects
        .iter()
        .zip(&results)
        .map(|(object, result)| match result {
            Ok(deleted) => xml::DeleteOutcome::Deleted {
                key: object.key.as_str(),
                version_id: object.version_id.as_ref().map(|v| v.as_str()),
                delete_marker_version_id: deleted
                    .delete_marker
                    .then_some(deleted.version_id.as_deref())
                    .flatten(),
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
