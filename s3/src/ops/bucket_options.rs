//! Two bucket options with no effect on how objects are stored: who pays for requests
//! (Get/PutBucketRequestPayment) and transfer acceleration (Get/PutBucketAccelerateConfiguration).
//! Both are kept as bucket settings and answered as AWS does, so tools that read or set them
//! (backup software checks `RequestPayment`) get AWS's answers. Neither changes anything here:
//! this server bills nobody and has no acceleration endpoints, which docs/s3-compatibility.md
//! says.

use std::rc::Rc;

use http::{BodyLen, Exchange};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::RequestContext;
use crate::shard::Shard;
use crate::xml::{child_text_once, parse_tree, root_expect, XmlWriter};

/// The bucket setting holding who pays (`Requester`; absent: the owner).
pub const SETTING_REQUEST_PAYMENT: &str = "request_payment";
/// The bucket setting holding the acceleration status (`Enabled` or `Suspended`).
pub const SETTING_ACCELERATE: &str = "accelerate";
/// Either document is a few dozen bytes.
const OPTION_BODY_BYTES_MAX: usize = 4096;

/// The body's `<root><child>value</child></root>`, where value must be one of `allowed`
/// (MalformedXML otherwise, as AWS answers a value outside the schema).
async fn read_option(
    ctx: &RequestContext,
    ex: &mut Exchange<'_>,
    (root_name, child, allowed): (&str, &str, &[&'static str]),
) -> S3Result<&'static str> {
    let body = crate::body::read_small_body(
        ex,
        &ctx.payload,
        OPTION_BODY_BYTES_MAX,
        crate::body::HeaderChecksums::OfBody,
    )
    .await?;
    let root = parse_tree(&body)?;
    root_expect(&root, root_name)?;
    let value = child_text_once(&root, child)?;
    allowed
        .iter()
        .find(|candidate| Some(**candidate) == value)
        .copied()
        .ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::MalformedXML,
                "The XML you provided was not well-formed or did not validate against our \
                 published schema",
            )
        })
}

pub async fn get_bucket_request_payment(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let payer = match bucket.setting_request_payment.as_deref() {
        Some("Requester") => "Requester",
        _ => "BucketOwner",
    };
    let mut out = Vec::new();
    let mut w = XmlWriter::document(&mut out);
    w.open_root("RequestPaymentConfiguration");
    w.text("Payer", payer);
    w.close("RequestPaymentConfiguration");
    ctx.respond_xml(ex, out).await
}

pub async fn put_bucket_request_payment(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let payer = (
        "RequestPaymentConfiguration",
        "Payer",
        &["BucketOwner", "Requester"][..],
    );
    let value = match read_option(ctx, ex, payer).await? {
        "Requester" => Some("Requester".to_owned()),
        _ => None,
    };
    crate::ops::versioning::set_setting(shard, &bucket, SETTING_REQUEST_PAYMENT, value).await?;
    ctx.respond(ex, 200, &[], BodyLen::Empty).await
}

pub async fn get_bucket_accelerate(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let mut out = Vec::new();
    let mut w = XmlWriter::document(&mut out);
    w.open_root("AccelerateConfiguration");
    // Never set: an empty configuration, as AWS answers.
    if let Some(status) = bucket.setting_accelerate.as_deref() {
        w.text("Status", status);
    }
    w.close("AccelerateConfiguration");
    ctx.respond_xml(ex, out).await
}

pub async fn put_bucket_accelerate(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let accelerate = (
        "AccelerateConfiguration",
        "Status",
        &["Enabled", "Suspended"][..],
    );
    let status = read_option(ctx, ex, accelerate).await?;
    if status == "Enabled" && bucket.name.contains('.') {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "S3 Transfer Acceleration is not supported for buckets with periods (.) in their \
             names",
        ));
    }
    crate::ops::versioning::set_setting(
        shard,
        &bucket,
        SETTING_ACCELERATE,
        Some(status.to_owned()),
    )
    .await?;
    ctx.respond(ex, 200, &[], BodyLen::Empty).await
}
