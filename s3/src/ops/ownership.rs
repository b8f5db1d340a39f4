//! Object ownership: Get/Put/DeleteBucketOwnershipControls, and the setting
//! itself, which decides whether ACLs affect access at all.
//!
//! New buckets get BucketOwnerEnforced, AWS's default since 2023: ACLs are
//! disabled, the bucket owner owns every object, and only policies grant.
//! A bucket without controls (deleted, or created before this setting
//! existed) acts as ObjectWriter, as AWS's older buckets do.

use std::rc::Rc;

use http::{BodyLen, Exchange};

use crate::body::BodyIntegrity;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::versioning::set_setting;
use crate::ops::RequestContext;
use crate::shard::{BucketInfo, Shard};
use crate::xml::{self, XmlWriter};

/// The catalog setting holding a bucket's ObjectOwnership value.
pub const SETTING_OWNERSHIP: &str = "ownership";
/// The CreateBucket header choosing it.
pub const HEADER_OBJECT_OWNERSHIP: &str = "x-amz-object-ownership";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectOwnership {
    /// ACLs are disabled; the bucket owner owns every object.
    BucketOwnerEnforced,
    /// ACLs apply; a new object written with `bucket-owner-full-control`
    /// belongs to the bucket owner.
    BucketOwnerPreferred,
    /// ACLs apply; the writing account owns what it writes.
    ObjectWriter,
}

impl ObjectOwnership {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectOwnership::BucketOwnerEnforced => "BucketOwnerEnforced",
            ObjectOwnership::BucketOwnerPreferred => "BucketOwnerPreferred",
            ObjectOwnership::ObjectWriter => "ObjectWriter",
        }
    }

    pub fn parse(text: &str) -> Option<ObjectOwnership> {
        [
            ObjectOwnership::BucketOwnerEnforced,
            ObjectOwnership::BucketOwnerPreferred,
            ObjectOwnership::ObjectWriter,
        ]
        .into_iter()
        .find(|ownership| ownership.as_str() == text)
    }
}

impl BucketInfo {
    /// Whether ACLs affect access to this bucket and its objects.
    pub fn acls_enabled(&self) -> bool {
        self.ownership != Some(ObjectOwnership::BucketOwnerEnforced)
    }
}

/// The ownership a CreateBucket asks for (`x-amz-object-ownership`), or
/// AWS's default; an unknown value is InvalidArgument.
pub fn requested_at_creation(head: &http::RequestHead) -> S3Result<ObjectOwnership> {
    match head.header(HEADER_OBJECT_OWNERSHIP) {
        None => Ok(ObjectOwnership::BucketOwnerEnforced),
        Some(value) => ObjectOwnership::parse(value.trim()).ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Invalid x-amz-object-ownership header",
            )
            .with_detail("ArgumentName", HEADER_OBJECT_OWNERSHIP)
            .with_detail("ArgumentValue", value.trim())
        }),
    }
}

/// AWS's answer to an ACL on a bucket whose ACLs are disabled.
pub fn acls_not_supported() -> S3Error {
    S3Error::new(
        S3ErrorCode::AccessControlListNotSupported,
        "The bucket does not allow ACLs",
    )
}

/// AWS's answer when BucketOwnerEnforced meets an ACL granting others.
pub fn acl_conflicts_with_enforced() -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidBucketAclWithObjectOwnership,
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
    )
}

fn parse_ownership_controls(body: &[u8]) -> S3Result<ObjectOwnership> {
    let root = xml::parse_tree(body)?;
    xml::root_expect(&root, "OwnershipControls")?;
    let mut rules = root.children.iter().filter(|child| child.name == "Rule");
    let rule = rules
        .next()
        .ok_or_else(|| xml::malformed("OwnershipControls needs one Rule"))?;
    if rules.next().is_some() {
        return Err(xml::malformed("OwnershipControls takes one Rule"));
    }
    let value = xml::child_text_once(rule, "ObjectOwnership")?
        .ok_or_else(|| xml::malformed("a Rule needs an ObjectOwnership"))?;
    ObjectOwnership::parse(value.trim())
        .ok_or_else(|| xml::malformed("ObjectOwnership is not a known value"))
}

pub async fn get_bucket_ownership_controls(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let ownership = bucket.ownership.ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::OwnershipControlsNotFoundError,
            "The bucket ownership controls were not found",
        )
    })?;
    let mut out = Vec::new();
    let mut w = XmlWriter::document(&mut out);
    w.open_root("OwnershipControls");
    w.open("Rule");
    w.text("ObjectOwnership", ownership.as_str());
    w.close("Rule");
    w.close("OwnershipControls");
    ctx.respond_xml(ex, out).await
}

pub async fn put_bucket_ownership_controls(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let body = ctx
        .read_xml_body_checked(ex, BodyIntegrity::RequiredUnlessHashSigned)
        .await?;
    let ownership = parse_ownership_controls(&body)?;
    if ownership == ObjectOwnership::BucketOwnerEnforced {
        let owner = crate::ops::OwnerText::of_account(&ctx.catalog, &bucket.owner_account);
        let shares = bucket
            .acl
            .as_ref()
            .is_some_and(|acl| !acl.only_grants_to(&owner.id));
        if shares {
            return Err(acl_conflicts_with_enforced());
        }
    }
    set_setting(
        shard,
        &bucket,
        SETTING_OWNERSHIP,
        Some(ownership.as_str().to_owned()),
    )
    .await?;
    ctx.respond(ex, 200, &[], BodyLen::Empty).await
}

pub async fn delete_bucket_ownership_controls(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    crate::ops::versioning::delete_setting(shard, ctx, ex, SETTING_OWNERSHIP).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_parse_one_rule_of_known_value() {
        let body = b"<OwnershipControls xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
            <Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule></OwnershipControls>";
        assert_eq!(
            parse_ownership_controls(body).unwrap(),
            ObjectOwnership::ObjectWriter
        );
        for bad in [
            &b"<OwnershipControls></OwnershipControls>"[..],
            b"<OwnershipControls><Rule><ObjectOwnership>Mine</ObjectOwnership></Rule></OwnershipControls>",
            b"<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule>\
              <Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule></OwnershipControls>",
            b"<Ownership><Rule/></Ownership>",
        ] {
            let err = parse_ownership_controls(bad).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::MalformedXML);
        }
    }
}
