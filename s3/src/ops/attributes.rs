//! GetObjectAttributes: an object's ETag, checksum, parts, storage class and
//! size in one call, without its body.

use std::rc::Rc;

use http::Exchange;

use crate::checksum::ChecksumAlgorithm;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::object::META_PART_SIZES;
use crate::ops::{format_http_date, RequestContext};
use crate::shard::Shard;
use crate::xml::XmlWriter;

const ATTRIBUTES: [&str; 5] = [
    "ETag",
    "Checksum",
    "ObjectParts",
    "StorageClass",
    "ObjectSize",
];

fn requested_attributes(head: &http::RequestHead) -> S3Result<Vec<&'static str>> {
    let list = head.header("x-amz-object-attributes").ok_or_else(|| {
        S3Error::new(S3ErrorCode::InvalidArgument, "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty")
    })?;
    let mut wanted = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let known = ATTRIBUTES
            .iter()
            .find(|a| a.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    format!("Invalid attribute name specified: {name}"),
                )
            })?;
        wanted.push(*known);
    }
    if wanted.is_empty() {
        return Err(S3Error::new(S3ErrorCode::InvalidArgument, "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty"));
    }
    Ok(wanted)
}

pub async fn get_object_attributes(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    version_id: Option<crate::names::VersionId>,
) -> S3Result<()> {
    let wanted = requested_attributes(ex.head())?;
    let bucket = ctx.bucket_info(shard)?;
    let (record, version_header) =
        crate::ops::load_object_version(shard, ctx, &bucket, version_id.as_ref())?;
    // An SSE-C object's checksums describe its plaintext: only its key holder sees them.
    let customer = crate::sse::customer_key(ex.head(), crate::sse::CustomerHeaders::Request)?;
    crate::sse::key_of(
        &shard.settings.encryption,
        &ctx.catalog.kms,
        &record.meta,
        customer.as_ref(),
    )?;
    let part_sizes: Option<Vec<&str>> = record
        .meta
        .iter()
        .find(|(name, _)| name == META_PART_SIZES)
        .map(|(_, list)| list.split(',').collect());
    let mut out = Vec::new();
    let mut w = XmlWriter::document(&mut out);
    w.open_root("GetObjectAttributesResponse");
    for attribute in &wanted {
        match *attribute {
            "ETag" => w.text("ETag", &record.etag),
            "Checksum" => {
                let checksum = record.meta.iter().find_map(|(name, value)| {
                    ChecksumAlgorithm::from_header_name(name).map(|algorithm| (algorithm, value))
                });
                if let Some((algorithm, value)) = checksum {
                    w.open("Checksum");
                    w.text(&format!("Checksum{}", algorithm.sdk_name()), value);
                    w.text("ChecksumType", "FULL_OBJECT");
                    w.close("Checksum");
                }
            }
            "ObjectParts" => {
                if let Some(sizes) = &part_sizes {
                    w.open("ObjectParts");
                    w.number("PartsCount", sizes.len() as u64);
                    w.close("ObjectParts");
                }
            }
            "StorageClass" => w.text("StorageClass", "STANDARD"),
            _ => w.number("ObjectSize", record.size_bytes),
        }
    }
    w.close("GetObjectAttributesResponse");
    let last_modified = format_http_date(record.last_modified_ms);
    let len = out.len() as u64;
    let mut headers = vec![
        ("content-type", "application/xml"),
        ("last-modified", last_modified.as_str()),
    ];
    if let Some(id) = &version_header {
        headers.push((crate::ops::versioning::HEADER_VERSION_ID, id));
    }
    ctx.send_head(ex, 200, &headers, http::BodyLen::Fixed(len))
        .await?;
    let (written, _) = ex.write_body(out).await;
    written.map_err(|_| S3Error::internal("client went away"))
}
