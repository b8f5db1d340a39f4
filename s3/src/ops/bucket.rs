//! Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
//! GetBucketLocation. Creation and deletion go through the control plane,
//! which owns the catalog; everything else reads the catalog snapshot.

use std::rc::Rc;

use http::{BodyLen, Exchange};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::limits::XML_BODY_BYTES_MAX;
use crate::ops::RequestContext;
use crate::shard::{ControlRequest, Shard};
use crate::xml;

pub async fn list_buckets(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    head_only: bool,
) -> S3Result<()> {
    if head_only {
        return ctx.respond(ex, 200, &[], BodyLen::Empty).await;
    }
    let catalog = shard.catalog();
    // An account sees its own buckets; the server's administrator sees all.
    let account = ctx.auth.account_id().unwrap_or_default().to_owned();
    let everything = ctx.auth.is_system_root();
    let owner = crate::ops::OwnerText::of_account(&catalog, &account);
    let entries: Vec<xml::BucketEntry<'_>> = catalog
        .buckets
        .values()
        .filter(|bucket| everything || bucket.owner_account == account)
        .map(|bucket| xml::BucketEntry {
            name: &bucket.name,
            creation_date_ms: bucket.created_ms,
        })
        .collect();
    let mut out = Vec::new();
    xml::list_buckets(&mut out, &owner.as_xml(), &entries);
    ctx.respond_xml(ex, out).await
}

pub async fn create_bucket(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let name = ctx.bucket_name()?.to_string();
    let body = crate::body::read_small_body(
        ex,
        &ctx.payload,
        XML_BODY_BYTES_MAX,
        crate::body::HeaderChecksums::OfBody,
    )
    .await?;
    let location = xml::parse_create_bucket_configuration(&body)?;
    if let Some(location) = location.filter(|l| !l.is_empty()) {
        if location != shard.settings.region
            && !(location == "US" && shard.settings.region == "us-east-1")
        {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!(
                    "The specified location-constraint is not valid; this server serves {}",
                    shard.settings.region
                ),
            ));
        }
    }
    let request_name = name.clone();
    let mut settings = crate::ops::object_lock::creation_settings(ex.head())?;
    let owner = ctx
        .auth
        .principal()
        .ok_or_else(|| S3Error::new(S3ErrorCode::AccessDenied, "Access Denied"))?;
    let owner_account = owner.account_id.clone();
    // A new bucket's object ownership is stored, AWS's default included, so
    // GetBucketOwnershipControls answers it and a later default cannot change it.
    let ownership = crate::ops::ownership::requested_at_creation(ex.head())?;
    settings.push((
        crate::ops::ownership::SETTING_OWNERSHIP.to_owned(),
        ownership.as_str().to_owned(),
    ));
    let acl = crate::ops::acl::setting_for_new_bucket(
        &ctx.catalog,
        ex.head(),
        &owner.canonical_id,
        ownership,
    )?;
    settings.extend(acl.map(|acl| (crate::ops::acl::SETTING_ACL.to_owned(), acl)));
    shard
        .control(|reply| ControlRequest::CreateBucket {
            name: request_name,
            owner_account,
            settings,
            reply,
        })
        .await
        .map_err(|err| err.with_resource(format!("/{name}")))?;
    ctx.catalog = shard.catalog();
    let location_header = format!("/{name}");
    ctx.respond(
        ex,
        200,
        &[("location", location_header.as_str())],
        BodyLen::Empty,
    )
    .await
}

pub async fn head_bucket(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    ctx.bucket_info(shard)?;
    let region = shard.settings.region.clone();
    ctx.respond(
        ex,
        200,
        &[("x-amz-bucket-region", region.as_str())],
        BodyLen::Empty,
    )
    .await
}

pub async fn delete_bucket(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    ctx.bucket_info(shard)?;
    let name = ctx.bucket_name()?.to_string();
    let request_name = name.clone();
    shard
        .control(|reply| ControlRequest::DeleteBucket {
            name: request_name,
            reply,
        })
        .await
        .map_err(|err| err.with_resource(format!("/{name}")))?;
    ctx.respond(ex, 204, &[], BodyLen::Empty).await
}

pub async fn get_bucket_location(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    ctx.bucket_info(shard)?;
    let mut out = Vec::new();
    xml::location_constraint(&mut out, &shard.settings.region);
    ctx.respond_xml(ex, out).await
}
