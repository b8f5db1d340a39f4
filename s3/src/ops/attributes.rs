//! GetObjectAttributes: an object's ETag, checksum, parts, storage class and
//! size in one call, without its body.

use std::rc::Rc;

use http::Exchange;

use crate::checksum::ChecksumAlgorithm;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::object::{META_PART_CHECKSUMS, META_PART_SIZES};
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

/// Parts per answer at most (AWS's default and limit for `x-amz-max-parts`).
const PARTS_MAX: u64 = 1000;

/// `x-amz-part-number-marker` and `x-amz-max-parts`.
fn parts_paging(head: &http::RequestHead) -> S3Result<(u64, u64)> {
    let number = |name: &str, default: u64| -> S3Result<u64> {
        match head.header(name) {
            None => Ok(default),
            Some(text) => text.trim().parse().map_err(|_| {
                S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    format!("Invalid value for {name}"),
                )
                .with_detail("ArgumentName", name.to_owned())
                .with_detail("ArgumentValue", text.to_owned())
            }),
        }
    };
    let marker = number("x-amz-part-number-marker", 0)?;
    let max = number("x-amz-max-parts", PARTS_MAX)?.min(PARTS_MAX);
    Ok((marker, max))
}

/// A multipart object's parts: their sizes and, when the upload had a
/// checksum algorithm, their checksums.
struct PartsOf<'a> {
    sizes: &'a [&'a str],
    checksums: Option<(&'a [&'a str], ChecksumAlgorithm)>,
}

/// `ObjectParts`: the count, and the page of parts after the marker. AWS
/// lists the parts (with `Size` and checksum) only for uploads that had a
/// checksum algorithm; without, only the count.
fn object_parts(w: &mut XmlWriter<'_>, parts: &PartsOf<'_>, (marker, max): (u64, u64)) {
    w.open("ObjectParts");
    // botocore's TotalPartsCount travels as PartsCount.
    w.number("PartsCount", parts.sizes.len() as u64);
    if let Some((checksums, algorithm)) = parts.checksums {
        let total = parts.sizes.len() as u64;
        let first = marker.min(total);
        let last = first.saturating_add(max).min(total);
        w.number("PartNumberMarker", marker);
        if last > first {
            w.number("NextPartNumberMarker", last);
        }
        w.number("MaxParts", max);
        w.boolean("IsTruncated", last < total);
        let member = format!("Checksum{}", algorithm.sdk_name());
        for number in first + 1..=last {
            let index = (number - 1) as usize;
            w.open("Part");
            w.number("PartNumber", number);
            w.text("Size", parts.sizes[index]);
            if let Some(value) = checksums.get(index) {
                w.text(&member, value);
            }
            w.close("Part");
        }
    }
    w.close("ObjectParts");
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
    let meta = |wanted: &str| {
        record
            .meta
            .iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, value)| value.as_str())
    };
    let part_sizes: Option<Vec<&str>> = meta(META_PART_SIZES).map(|list| list.split(',').collect());
    let checksum = record.meta.iter().find_map(|(name, value)| {
        ChecksumAlgorithm::from_header_name(name).map(|algorithm| (algorithm, value.as_str()))
    });
    let checksum_type = meta("x-amz-checksum-type").unwrap_or("FULL_OBJECT");
    let part_checksums: Option<Vec<&str>> =
        meta(META_PART_CHECKSUMS).map(|list| list.split(',').collect());
    let paging = parts_paging(ex.head())?;
    let mut out = Vec::new();
    let mut w = XmlWriter::document(&mut out);
    w.open_root("GetObjectAttributesResponse");
    for attribute in &wanted {
        match *attribute {
            "ETag" => w.text("ETag", &record.etag),
            "Checksum" => {
                if let Some((algorithm, value)) = checksum {
                    // GetObjectAttributes gives a composite checksum without
                    // its `-<parts>` suffix (the part count is in ObjectParts).
                    let value = value.split_once('-').map_or(value, |(base, _)| base);
                    w.open("Checksum");
                    w.text(&format!("Checksum{}", algorithm.sdk_name()), value);
                    w.text("ChecksumType", checksum_type);
                    w.close("Checksum");
                }
            }
            "ObjectParts" => {
                if let Some(sizes) = &part_sizes {
                    let algorithm = checksum.map(|(algorithm, _)| algorithm);
                    let parts = PartsOf {
                        sizes,
                        checksums: part_checksums.as_deref().zip(algorithm),
                    };
                    object_parts(&mut w, &parts, paging);
                }
            }
            "StorageClass" => w.text(
                "StorageClass",
                crate::ops::object::storage_class(&record.meta),
            ),
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
