//! S3 Block Public Access on a bucket: Get/Put/DeletePublicAccessBlock and
//! the four flags as the rest of the server enforces them:
//! - BlockPublicAcls: a request that sets a public ACL (PutBucketAcl,
//!   PutObjectAcl, and the ACL of CreateBucket, PutObject, CopyObject,
//!   CreateMultipartUpload and POST uploads) is refused with AccessDenied.
//! - IgnorePublicAcls: grants to AllUsers and AuthenticatedUsers are skipped
//!   when requests are authorised (`authz`).
//! - BlockPublicPolicy: PutBucketPolicy with a public policy is refused.
//! - RestrictPublicBuckets: while the bucket's policy is public, its grants
//!   count only for principals of the bucket owner's account.
//!
//! A bucket without a configuration blocks nothing (account-level settings,
//! which AWS also has, are not offered).

use std::rc::Rc;

use http::{BodyLen, Exchange};

use crate::body::BodyIntegrity;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::versioning::set_setting;
use crate::ops::RequestContext;
use crate::shard::{BucketInfo, Shard};
use crate::xml::{self, XmlWriter};

/// The catalog setting holding a bucket's configuration (four 0/1 flags).
pub const SETTING_PUBLIC_ACCESS_BLOCK: &str = "public_access_block";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    const ELEMENTS: [&'static str; 4] = [
        "BlockPublicAcls",
        "IgnorePublicAcls",
        "BlockPublicPolicy",
        "RestrictPublicBuckets",
    ];

    fn flags(self) -> [bool; 4] {
        [
            self.block_public_acls,
            self.ignore_public_acls,
            self.block_public_policy,
            self.restrict_public_buckets,
        ]
    }

    fn from_flags(flags: [bool; 4]) -> Self {
        PublicAccessBlock {
            block_public_acls: flags[0],
            ignore_public_acls: flags[1],
            block_public_policy: flags[2],
            restrict_public_buckets: flags[3],
        }
    }

    pub fn to_setting(self) -> String {
        self.flags()
            .iter()
            .map(|flag| if *flag { '1' } else { '0' })
            .collect()
    }

    pub fn from_setting(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 4 || !bytes.iter().all(|b| *b == b'0' || *b == b'1') {
            return None;
        }
        let mut flags = [false; 4];
        for (flag, byte) in flags.iter_mut().zip(bytes) {
            *flag = *byte == b'1';
        }
        Some(Self::from_flags(flags))
    }

    fn parse(body: &[u8]) -> S3Result<Self> {
        let root = xml::parse_tree(body)?;
        xml::root_expect(&root, "PublicAccessBlockConfiguration")?;
        let mut flags = [false; 4];
        for (flag, name) in flags.iter_mut().zip(Self::ELEMENTS) {
            if let Some(text) = xml::child_text_once(&root, name)? {
                *flag = match text.trim() {
                    "true" | "TRUE" | "True" => true,
                    "false" | "FALSE" | "False" => false,
                    other => {
                        return Err(xml::malformed(&format!(
                            "{name} is {other:?}, not a boolean"
                        )))
                    }
                };
            }
        }
        Ok(Self::from_flags(flags))
    }
}

impl BucketInfo {
    fn public_access_block_or_default(&self) -> PublicAccessBlock {
        self.public_access_block.unwrap_or_default()
    }

    /// BlockPublicAcls: a request setting a public ACL is refused.
    pub fn blocks_public_acls(&self) -> bool {
        self.public_access_block_or_default().block_public_acls
    }

    /// IgnorePublicAcls: public grants count for nothing.
    pub fn ignores_public_acls(&self) -> bool {
        self.public_access_block_or_default().ignore_public_acls
    }

    /// BlockPublicPolicy: a public bucket policy is refused.
    pub fn blocks_public_policy(&self) -> bool {
        self.public_access_block_or_default().block_public_policy
    }

    /// RestrictPublicBuckets with a public policy in place.
    pub fn restricts_public_policy(&self) -> bool {
        self.public_access_block_or_default()
            .restrict_public_buckets
            && self.policy.as_ref().is_some_and(|policy| policy.is_public)
    }
}

/// AWS's refusal of a public ACL or policy under Block Public Access.
pub fn blocked() -> S3Error {
    S3Error::new(S3ErrorCode::AccessDenied, "Access Denied")
}

pub async fn get_public_access_block(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let config = bucket.public_access_block.ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::NoSuchPublicAccessBlockConfiguration,
            "The public access block configuration was not found",
        )
    })?;
    let mut out = Vec::new();
    let mut w = XmlWriter::document(&mut out);
    w.open_root("PublicAccessBlockConfiguration");
    for (flag, name) in config.flags().into_iter().zip(PublicAccessBlock::ELEMENTS) {
        w.boolean(name, flag);
    }
    w.close("PublicAccessBlockConfiguration");
    ctx.respond_xml(ex, out).await
}

pub async fn put_public_access_block(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let body = ctx
        .read_xml_body_checked(ex, BodyIntegrity::RequiredUnlessHashSigned)
        .await?;
    let config = PublicAccessBlock::parse(&body)?;
    set_setting(
        shard,
        &bucket,
        SETTING_PUBLIC_ACCESS_BLOCK,
        Some(config.to_setting()),
    )
    .await?;
    ctx.respond(ex, 200, &[], BodyLen::Empty).await
}

pub async fn delete_public_access_block(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    crate::ops::versioning::delete_setting(shard, ctx, ex, SETTING_PUBLIC_ACCESS_BLOCK).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_parses_and_round_trips() {
        let body =
            b"<PublicAccessBlockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
            <BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>false</IgnorePublicAcls>\
            <RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>";
        let config = PublicAccessBlock::parse(body).unwrap();
        assert_eq!(
            config,
            PublicAccessBlock {
                block_public_acls: true,
                ignore_public_acls: false,
                block_public_policy: false,
                restrict_public_buckets: true,
            }
        );
        assert_eq!(config.to_setting(), "1001");
        assert_eq!(PublicAccessBlock::from_setting("1001"), Some(config));
        assert_eq!(PublicAccessBlock::from_setting("10x1"), None);
        assert_eq!(PublicAccessBlock::from_setting("101"), None);
        for bad in [
            &b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls></PublicAccessBlockConfiguration>"[..],
            b"<PublicAccessBlock/>",
            b"<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlockConfiguration>",
        ] {
            assert_eq!(
                PublicAccessBlock::parse(bad).unwrap_err().code,
                S3ErrorCode::MalformedXML
            );
        }
    }
}
