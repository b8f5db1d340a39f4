//! ListObjects (V1) and ListObjectsV2: one range scan of the owner shard's
//! index, run on whichever shard received the request.

use std::rc::Rc;

use base64::Engine as _;
use engine::list::{ListItem, ListQuery};
use http::Exchange;

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::limits::LIST_KEYS_MAX;
use crate::ops::{engine_error, RequestContext};
use crate::shard::Shard;
use crate::xml;

const TOKEN_ENGINE: base64::engine::GeneralPurpose =
    base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub(crate) fn max_keys(ctx: &RequestContext) -> S3Result<u32> {
    match ctx.query("max-keys") {
        None => Ok(LIST_KEYS_MAX as u32),
        Some(text) => text
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| n.min(i64::from(u32::MAX)) as u32)
            .ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    "Provided max-keys not an integer or within integer range",
                )
            }),
    }
}

pub(crate) fn encoding_url(ctx: &RequestContext) -> S3Result<bool> {
    match ctx.query("encoding-type") {
        None => Ok(false),
        Some(value) if value.eq_ignore_ascii_case("url") => Ok(true),
        Some(_) => Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Invalid Encoding Method specified in Request",
        )),
    }
}

/// A V2 continuation token is the last returned key or prefix, opaque to clients.
fn encode_token(position: &[u8]) -> String {
    TOKEN_ENGINE.encode(position)
}

fn decode_token(token: &str) -> S3Result<Vec<u8>> {
    TOKEN_ENGINE.decode(token.trim()).map_err(|_| {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "The continuation token provided is incorrect",
        )
    })
}

struct Listing {
    keys: Vec<(String, engine::index::ObjectRecord)>,
    prefixes: Vec<String>,
    truncated: bool,
    last_position: Option<Vec<u8>>,
}

fn run_listing(
    shard: &Shard,
    ctx: &RequestContext,
    after: Option<&[u8]>,
    max: u32,
) -> S3Result<Listing> {
    let bucket = ctx.bucket_info(shard)?;
    let prefix = ctx.query("prefix").unwrap_or("");
    let delimiter = ctx.query("delimiter").filter(|d| !d.is_empty());
    let query = ListQuery {
        bucket_id: bucket.id,
        prefix: prefix.as_bytes(),
        after,
        delimiter: delimiter.map(str::as_bytes),
        entries_max: (max as usize).min(LIST_KEYS_MAX),
    };
    let page = shard
        .reader
        .shard_index(bucket.owner_shard as usize)
        .list(&query)
        .map_err(engine_error)?;
    let last_position = page.items.last().map(|item| item.position().to_vec());
    let mut keys = Vec::new();
    let mut prefixes = Vec::new();
    for item in page.items {
        match item {
            ListItem::Object { key, record } => keys.push((utf8(key)?, record)),
            ListItem::CommonPrefix(prefix) => prefixes.push(utf8(prefix)?),
        }
    }
    Ok(Listing {
        keys,
        prefixes,
        truncated: page.truncated,
        last_position,
    })
}

fn utf8(bytes: Vec<u8>) -> S3Result<String> {
    String::from_utf8(bytes).map_err(|_| S3Error::internal("stored key is not UTF-8"))
}

fn entries(listing: &Listing) -> Vec<xml::ListEntry<'_>> {
    listing
        .keys
        .iter()
        .map(|(key, record)| xml::ListEntry {
            key,
            last_modified_ms: record.last_modified_ms,
            etag: &record.etag,
            size_bytes: record.size_bytes,
            checksum_algorithm: checksum_algorithm(record),
        })
        .collect()
}

pub(crate) fn checksum_algorithm(record: &engine::index::ObjectRecord) -> Option<&'static str> {
    record.meta.iter().find_map(|(name, _)| {
        crate::checksum::ChecksumAlgorithm::from_header_name(name)
            .map(|algorithm| algorithm.sdk_name())
    })
}

pub async fn list_objects_v2(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let max = max_keys(ctx)?;
    let url = encoding_url(ctx)?;
    let token = ctx
        .query("continuation-token")
        .map(decode_token)
        .transpose()?;
    let start_after = ctx.query("start-after").filter(|s| !s.is_empty());
    let after = token.as_deref().or(start_after.map(str::as_bytes));
    let listing = run_listing(shard, ctx, after, max)?;
    let next_token = listing
        .truncated
        .then(|| encode_token(listing.last_position.as_deref().unwrap_or_default()));
    let contents = entries(&listing);
    let prefixes: Vec<&str> = listing.prefixes.iter().map(String::as_str).collect();
    let fetch_owner = ctx
        .query("fetch-owner")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let owner = ctx.bucket_owner(shard)?;
    let mut out = Vec::new();
    xml::list_objects(
        &mut out,
        &xml::ListObjects {
            bucket: ctx.bucket_name()?,
            prefix: ctx.query("prefix").unwrap_or(""),
            delimiter: ctx.query("delimiter"),
            max_keys: max,
            is_truncated: listing.truncated,
            url_encode: url,
            owner: fetch_owner.then(|| owner.as_xml()),
            contents: &contents,
            common_prefixes: &prefixes,
            version: xml::ListVersion::V2 {
                continuation_token: ctx.query("continuation-token"),
                next_continuation_token: next_token.as_deref(),
                start_after,
            },
        },
    );
    ctx.respond_xml(ex, out).await
}

pub async fn list_objects_v1(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let max = max_keys(ctx)?;
    let url = encoding_url(ctx)?;
    let marker = ctx.query("marker").unwrap_or("");
    let after = (!marker.is_empty()).then_some(marker.as_bytes());
    let listing = run_listing(shard, ctx, after, max)?;
    let next_marker = listing
        .last_position
        .as_deref()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let contents = entries(&listing);
    let prefixes: Vec<&str> = listing.prefixes.iter().map(String::as_str).collect();
    let owner = ctx.bucket_owner(shard)?;
    let mut out = Vec::new();
    xml::list_objects(
        &mut out,
        &xml::ListObjects {
            bucket: ctx.bucket_name()?,
            prefix: ctx.query("prefix").unwrap_or(""),
            delimiter: ctx.query("delimiter"),
            max_keys: max,
            is_truncated: listing.truncated,
            url_encode: url,
            owner: Some(owner.as_xml()),
            contents: &contents,
            common_prefixes: &prefixes,
            version: xml::ListVersion::V1 {
                marker,
                next_marker: next_marker.as_deref(),
            },
        },
    );
    ctx.respond_xml(ex, out).await
}
