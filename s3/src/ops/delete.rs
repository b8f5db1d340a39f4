//! DeleteObject and DeleteObjects. Deletes of many keys are committed
//! concurrently so the owner shard's group commit folds them into a few
//! transactions.
//!
//! In a versioned bucket a delete without a version id writes a delete
//! marker (the null one when versioning is suspended); with a version id it
//! removes that version for good.

use crate::body::BodyIntegrity;
use std::rc::Rc;

use engine::index::{IndexOp, VersionWrite, WriteCondition};
use http::{BodyLen, Exchange};

use crate::error::{S3Error, S3ErrorCode, S3Result};
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

impl Deleted {
    /// The event notification it raises: deleting without a version id in
    /// a versioned bucket writes a delete marker; anything else removes.
    fn event<'a>(&'a self, key: &'a str, version_named: bool) -> crate::notify::ObjectEvent<'a> {
        let name = if self.delete_marker && !version_named {
            crate::notify::EventName::ObjectRemovedDeleteMarkerCreated
        } else {
            crate::notify::EventName::ObjectRemovedDelete
        };
        crate::notify::ObjectEvent {
            name,
            key,
            size_bytes: 0,
            etag: "",
            version_id: self.version_id.as_deref(),
        }
    }
}

/// A conditional delete's preconditions (`If-Match`, `x-amz-if-match-size`,
/// `x-amz-if-match-last-modified-time`, or a DeleteObjects entry's `ETag`,
/// `Size` and `LastModifiedTime`); `WriteCondition::None` when none is given.
pub(crate) fn delete_condition(
    etag: Option<&str>,
    size: Option<&str>,
    last_modified: Option<&str>,
) -> S3Result<WriteCondition> {
    if etag.is_none() && size.is_none() && last_modified.is_none() {
        return Ok(WriteCondition::None);
    }
    let invalid = |what: &str| {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            format!("The {what} precondition is not valid."),
        )
    };
    let size_bytes = size
        .map(|text| text.trim().parse::<u64>().map_err(|_| invalid("size")))
        .transpose()?;
    let last_modified_s = last_modified
        .map(|text| {
            let text = text.trim();
            httpdate::parse_http_date(text)
                .ok()
                .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|since| since.as_secs())
                .or_else(|| crate::xml::parse_timestamp(text).map(|ms| ms / 1000))
                .ok_or_else(|| invalid("last modified time"))
        })
        .transpose()?;
    Ok(WriteCondition::Matches {
        etag: etag.map(|etag| etag.trim().trim_matches('"').to_owned()),
        size_bytes,
        last_modified_s,
    })
}

/// Whether `record` (a specific version, which never changes) meets `condition`.
fn version_meets(record: &engine::index::ObjectRecord, condition: &WriteCondition) -> bool {
    match condition {
        WriteCondition::Matches {
            etag,
            size_bytes,
            last_modified_s,
        } => {
            etag.as_ref()
                .is_none_or(|etag| etag == "*" || &record.etag == etag)
                && size_bytes.is_none_or(|size| record.size_bytes == size)
                && last_modified_s.is_none_or(|secs| record.last_modified_ms / 1000 == secs)
        }
        _ => true,
    }
}

/// The index change deleting `key` (at `version_id`, if given) makes, if
/// `condition` holds (checked in the commit for the current object; before
/// it for a named version, which never changes).
fn plan_delete(
    shard: &Shard,
    bucket: &BucketInfo,
    key: &[u8],
    version_id: Option<&str>,
    now_ms: u64,
    bypass_governance: bool,
    condition: WriteCondition,
) -> S3Result<(IndexOp, Deleted)> {
    let Some(version_id) = version_id else {
        return Ok(match bucket.versioning.version_write() {
            VersionWrite::Unversioned => (
                IndexOp::DeleteObject {
                    bucket_id: bucket.id,
                    key: key.to_vec(),
                    condition,
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
                    condition,
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
    if condition != WriteCondition::None {
        match &existing {
            Some((_, record)) if !record.is_delete_marker() => {
                if !version_meets(record, &condition) {
                    return Err(engine_error(engine::EngineError::PreconditionFailed));
                }
            }
            _ => return Err(engine_error(engine::EngineError::ConditionTargetMissing)),
        }
    }
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
    let head = ex.head();
    let condition = delete_condition(
        head.header("if-match"),
        head.header("x-amz-if-match-size"),
        head.header("x-amz-if-match-last-modified-time"),
    )?;
    let (op, deleted) = plan_delete(
        shard, &bucket, &key, version_id, ctx.now_ms, bypass, condition,
    )?;
    let events = match bucket.notification {
        Some(_) => {
            let key = String::from_utf8_lossy(&key).into_owned();
            let event = deleted.event(&key, version_id.is_some());
            ctx.object_event(shard, ex.peer_addr().ip(), &bucket, event)
        }
        None => None,
    };
    shard
        .commit_notified(bucket.owner_shard, op, events)
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
                let condition = delete_condition(
                    object.etag.as_deref(),
                    object.size.as_deref(),
                    object.last_modified.as_deref(),
                )?;
                plan_delete(
                    shard,
                    &bucket,
                    object.key.as_bytes(),
                    version_id,
                    ctx.now_ms,
                    bypass,
                    condition,
                )
            });
        let events = match &planned {
            Ok((_, deleted)) if bucket.notification.is_some() => {
                let event = deleted.event(object.key.as_str(), version_id.is_some());
                ctx.object_event(shard, ex.peer_addr().ip(), &bucket, event)
            }
            _ => None,
        };
        let task_shard = shard.clone();
        let owner = bucket.owner_shard;
        pending.push(monoio::spawn(async move {
            let (op, deleted) = planned?;
            task_shard
                .commit_notified(owner, op, events)
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
