//! Bucket policies: Get/Put/DeleteBucketPolicy and GetBucketPolicyStatus.
//! A policy is parsed (and its size and grammar checked) here, the
//! principals it names are checked by the control plane, which stores it
//! and publishes it to every shard before the client hears back.

use std::rc::Rc;

use http::{BodyLen, Exchange};

use crate::body::HeaderChecksums;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::RequestContext;
use crate::shard::{ControlRequest, Shard};
use crate::xml::XmlWriter;

/// AWS's limit on a bucket policy document.
pub const BUCKET_POLICY_BYTES_MAX: usize = 20 * 1024;

/// The bucket, if the caller belongs to the account that owns it: AWS
/// answers 405 MethodNotAllowed to anyone else, whatever a policy grants.
fn owned_bucket(shard: &Shard, ctx: &RequestContext) -> S3Result<crate::shard::BucketInfo> {
    let bucket = ctx.bucket_info(shard)?;
    let owner =
        ctx.auth.is_system_root() || ctx.auth.account_id() == Some(bucket.owner_account.as_str());
    if !owner {
        return Err(S3Error::new(
            S3ErrorCode::MethodNotAllowed,
            "The specified method is not allowed against this resource.",
        ));
    }
    Ok(bucket)
}

pub async fn get_bucket_policy(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = owned_bucket(shard, ctx)?;
    let policy = bucket.policy.as_ref().ok_or_else(no_such_policy)?;
    let body = policy.document.clone().into_bytes();
    let len = body.len() as u64;
    ctx.send_head(
        ex,
        200,
        &[("content-type", "application/json")],
        BodyLen::Fixed(len),
    )
    .await?;
    let (written, _) = ex.write_body(body).await;
    written.map_err(|err| S3Error::internal(format!("policy body not sent: {err}")))
}

pub async fn put_bucket_policy(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = owned_bucket(shard, ctx)?;
    let body = crate::body::read_small_body_or(
        ex,
        &ctx.payload,
        BUCKET_POLICY_BYTES_MAX,
        HeaderChecksums::OfBody,
        || {
            S3Error::new(
                S3ErrorCode::PolicyTooLarge,
                "Policy exceeds the maximum allowed document size.",
            )
        },
    )
    .await?;
    let document = String::from_utf8(body).map_err(|_| {
        S3Error::new(
            S3ErrorCode::MalformedPolicy,
            "This policy contains invalid Json",
        )
    })?;
    let parsed = iam::parse_policy(&document, iam::PolicyKind::Bucket)
        .map_err(|err| S3Error::new(S3ErrorCode::MalformedPolicy, err.message))?;
    // A bucket's policy may only speak of that bucket and its objects.
    parsed
        .check_bucket_resources(&bucket.name)
        .map_err(|err| S3Error::new(S3ErrorCode::MalformedPolicy, err.message))?;
    if bucket.blocks_public_policy() && parsed.is_public() {
        return Err(crate::ops::public_access::blocked());
    }
    set_policy(shard, ctx, ex, bucket.id, Some(document)).await
}

pub async fn delete_bucket_policy(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = owned_bucket(shard, ctx)?;
    set_policy(shard, ctx, ex, bucket.id, None).await
}

/// Stores (or removes) the policy through the control plane and answers
/// 204 once every shard has it.
async fn set_policy(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    bucket_id: u64,
    document: Option<String>,
) -> S3Result<()> {
    shard
        .control(|reply| ControlRequest::SetBucketPolicy {
            bucket_id,
            document,
            reply,
        })
        .await?;
    ctx.respond(ex, 204, &[], BodyLen::Empty).await
}

/// `<PolicyStatus><IsPublic>true</IsPublic></PolicyStatus>`: whether the
/// policy grants access to anyone, by AWS's meaning of public.
pub async fn get_bucket_policy_status(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let policy = bucket.policy.as_ref().ok_or_else(no_such_policy)?;
    let mut out = Vec::new();
    let mut w = XmlWriter::document(&mut out);
    w.open_root("PolicyStatus");
    w.boolean("IsPublic", policy.parsed.is_public());
    w.close("PolicyStatus");
    ctx.respond_xml(ex, out).await
}

fn no_such_policy() -> S3Error {
    S3Error::new(
        S3ErrorCode::NoSuchBucketPolicy,
        "The bucket policy does not exist",
    )
}
