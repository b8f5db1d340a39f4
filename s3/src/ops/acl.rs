//! Access control lists: GetBucketAcl, PutBucketAcl, GetObjectAcl and
//! PutObjectAcl (by version id too).
//!
//! Until tenants, users and bucket policies exist, every bucket and object
//! has one owner (the root user) and the only ACL this server can honour is
//! the owner's FULL_CONTROL, i.e. the canned `private` ACL (and the two
//! `bucket-owner-*` ones, which mean the same when the object and bucket
//! owner are one). That is what GET reports; a PUT asking for anything wider
//! (public-read, grants to others) is refused with NotImplemented rather than
//! accepted and silently not enforced.

use crate::body::BodyIntegrity;
use std::rc::Rc;

use http::{BodyLen, Exchange};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::names::VersionId;
use crate::ops::OwnerText;
use crate::ops::RequestContext;
use crate::shard::Shard;
use crate::xml::{self, XmlWriter};

/// Canned ACLs that grant nothing beyond the owner's FULL_CONTROL here.
const OWNER_ONLY_CANNED: [&str; 3] = ["private", "bucket-owner-read", "bucket-owner-full-control"];

fn not_supported() -> S3Error {
    S3Error::new(
        S3ErrorCode::NotImplemented,
        "Only the owner's FULL_CONTROL (the private ACL) is supported on this server.",
    )
}

/// The owner-only policy: `AccessControlPolicy` with one FULL_CONTROL grant.
fn owner_only_policy(owner: &OwnerText) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = XmlWriter::document(&mut out);
    w.open_root("AccessControlPolicy");
    w.owner(&owner.as_xml());
    w.open("AccessControlList");
    w.open("Grant");
    w.open("Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"");
    w.text("ID", &owner.id);
    w.text("DisplayName", &owner.display_name);
    w.close("Grantee");
    w.text("Permission", "FULL_CONTROL");
    w.close("Grant");
    w.close("AccessControlList");
    w.close("AccessControlPolicy");
    out
}

/// Accepts a PUT ?acl only when it asks for what already holds.
/// The ACL headers of a request: only the owner-only canned ACLs and no
/// grants. Requests that create an object (PutObject, CopyObject,
/// CreateMultipartUpload) check them as PutObjectAcl does, so a wider ACL is
/// refused rather than accepted and ignored.
pub(crate) fn check_new_object_acl_headers(head: &http::RequestHead) -> S3Result<()> {
    let grants = head
        .headers
        .iter()
        .any(|(name, _)| name.starts_with("x-amz-grant-"));
    let canned_wider = head
        .header("x-amz-acl")
        .is_some_and(|canned| !OWNER_ONLY_CANNED.contains(&canned.trim()));
    match grants || canned_wider {
        true => Err(not_supported()),
        false => Ok(()),
    }
}

fn check_owner_only(head: &http::RequestHead, body: &[u8], owner: &OwnerText) -> S3Result<()> {
    check_new_object_acl_headers(head)?;
    if head.header("x-amz-acl").is_some() {
        if !body.iter().all(u8::is_ascii_whitespace) {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "Specifying both Canned ACLs and Header Grants or an ACL document is not allowed",
            ));
        }
        return Ok(());
    }
    let grants = xml::parse_access_control_policy(body)?;
    let owner_only = grants
        .iter()
        .all(|(grantee, permission)| *grantee == owner.id && permission == "FULL_CONTROL");
    if grants.is_empty() || !owner_only {
        return Err(not_supported());
    }
    Ok(())
}

pub async fn get_bucket_acl(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let owner = ctx.bucket_owner(shard)?;
    ctx.respond_xml(ex, owner_only_policy(&owner)).await
}

pub async fn put_bucket_acl(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let owner = ctx.bucket_owner(shard)?;
    let body = ctx
        .read_xml_body_checked(ex, BodyIntegrity::RequiredUnlessHashSigned)
        .await?;
    check_owner_only(ex.head(), &body, &owner)?;
    ctx.respond(ex, 200, &[], BodyLen::Empty).await
}

pub async fn get_object_acl(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    version_id: Option<VersionId>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let (_, version) = crate::ops::load_object_version(shard, ctx, &bucket, version_id.as_ref())?;
    let headers = crate::ops::versioning::version_headers(version);
    let owner = OwnerText::of_account(&ctx.catalog, &bucket.owner_account);
    ctx.respond_xml_with(ex, &headers, owner_only_policy(&owner))
        .await
}

pub async fn put_object_acl(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    version_id: Option<VersionId>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let body = ctx
        .read_xml_body_checked(ex, BodyIntegrity::RequiredUnlessHashSigned)
        .await?;
    let (_, version) = crate::ops::load_object_version(shard, ctx, &bucket, version_id.as_ref())?;
    let owner = OwnerText::of_account(&ctx.catalog, &bucket.owner_account);
    check_owner_only(ex.head(), &body, &owner)?;
    let headers = crate::ops::versioning::version_headers(version);
    ctx.respond_owned(ex, 200, &headers).await
}
