//! Object and bucket tagging: the tag set's rules and stored form, the
//! `x-amz-tagging` request header (PutObject, CreateMultipartUpload, CopyObject
//! with `x-amz-tagging-directive`), Get/Put/DeleteObjectTagging, and
//! Get/Put/DeleteBucketTagging (the bucket's tags are the catalog's bucket
//! setting [`SETTING_BUCKET_TAGGING`], in the same stored form).
//!
//! A tag set lives in the object's `meta` under [`META_TAGGING`] as an
//! URL-encoded query string (the header's own form), so it travels with the
//! record through copies and completions and never shows up as a header on GET
//! (internal names are filtered there); GET and HEAD give only its size in
//! `x-amz-tagging-count`. Changing tags rewrites that one entry in place: the
//! bytes, ETag and Last-Modified stay, as on AWS.

use std::rc::Rc;

use engine::index::IndexOp;
use http::{BodyLen, Exchange};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::names::VersionId;
use crate::ops::{engine_error, RequestContext};
use crate::shard::{BucketInfo, Shard};
use crate::xml::{parse_tagging, XmlWriter};

/// The `meta` entry holding an object's tag set; internal (starts with
/// `INTERNAL_META_PREFIX`), so GET never sends it as a header.
pub(crate) const META_TAGGING: &str = "x-maxiofs-tagging";

/// The bucket setting holding a bucket's tag set.
pub const SETTING_BUCKET_TAGGING: &str = "tagging";

/// AWS's limits on object tags (user-defined; `aws:` keys are AWS's own).
const TAGS_PER_OBJECT_MAX: usize = 10;
/// AWS's limit on a bucket's tags.
const TAGS_PER_BUCKET_MAX: usize = 50;
const TAG_KEY_CHARS_MAX: usize = 128;
const TAG_VALUE_CHARS_MAX: usize = 256;
/// A tagging XML body of ten maximal tags is about 5 KiB.
const TAGGING_BODY_BYTES_MAX: usize = 64 * 1024;

/// Characters left unescaped in the stored form: RFC 3986 unreserved.
const STORED_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An object's tags, in the order the client gave them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagSet(pub Vec<(String, String)>);

impl TagSet {
    /// Checks AWS's rules: at most 10 tags, keys 1..=128 and values 0..=256
    /// characters, keys unique and not in the reserved `aws:` space.
    pub fn validate(&self) -> S3Result<()> {
        self.validate_with_count(TAGS_PER_OBJECT_MAX, "Object tags cannot be greater than 10")
    }

    /// A bucket's tag set: AWS's rules with at most 50 tags.
    pub fn validate_bucket(&self) -> S3Result<()> {
        self.validate_with_count(
            TAGS_PER_BUCKET_MAX,
            "Bucket tag count cannot be greater than 50",
        )
    }

    /// At most `count_max` tags (BadRequest with AWS's `message`), then each tag's rules.
    fn validate_with_count(&self, count_max: usize, message: &str) -> S3Result<()> {
        if self.0.len() > count_max {
            return Err(S3Error::new(S3ErrorCode::BadRequest, message));
        }
        self.validate_tags()
    }

    fn validate_tags(&self) -> S3Result<()> {
        for (i, (key, value)) in self.0.iter().enumerate() {
            let key_chars = key.chars().count();
            if key_chars == 0 || key_chars > TAG_KEY_CHARS_MAX {
                return Err(invalid_tag("The TagKey you have provided is invalid"));
            }
            if value.chars().count() > TAG_VALUE_CHARS_MAX {
                return Err(invalid_tag("The TagValue you have provided is invalid"));
            }
            if key.starts_with("aws:") {
                return Err(invalid_tag(
                    "Your TagKey cannot be prefixed with aws: (reserved for AWS)",
                ));
            }
            if self.0[..i].iter().any(|(earlier, _)| earlier == key) {
                return Err(invalid_tag(
                    "Cannot provide multiple Tags with the same key",
                ));
            }
        }
        Ok(())
    }

    /// Parses an `x-amz-tagging` header: `k1=v1&k2=v2`, URL-encoded.
    pub fn from_header(value: &str) -> S3Result<TagSet> {
        let mut tags = Vec::new();
        for pair in value.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            tags.push((form_decode(key)?, form_decode(value)?));
        }
        let tags = TagSet(tags);
        tags.validate()?;
        Ok(tags)
    }

    /// The stored form (also a valid `x-amz-tagging` header value).
    pub fn to_stored(&self) -> String {
        let encode = |text: &str| utf8_percent_encode(text, STORED_ESCAPES).to_string();
        let pairs: Vec<String> = self
            .0
            .iter()
            .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
            .collect();
        pairs.join("&")
    }

    /// Reads the stored form back. It was written by `to_stored`, so a failure
    /// means a damaged record; the tags that decode are kept.
    pub fn from_stored(stored: &str) -> TagSet {
        let tags = stored
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter_map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                Some((form_decode(key).ok()?, form_decode(value).ok()?))
            })
            .collect();
        TagSet(tags)
    }
}

fn invalid_tag(message: &str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidTag, message)
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space.
fn form_decode(text: &str) -> S3Result<String> {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| invalid_tag("The x-amz-tagging header is not valid UTF-8"))
}

/// The `meta` entry for a request's `x-amz-tagging` header, if it has one.
pub(crate) fn request_tagging_meta(head: &http::RequestHead) -> S3Result<Option<(String, String)>> {
    let Some(value) = head.header("x-amz-tagging") else {
        return Ok(None);
    };
    let tags = TagSet::from_header(value)?;
    Ok((!tags.0.is_empty()).then(|| (META_TAGGING.to_owned(), tags.to_stored())))
}

/// Whether CopyObject takes the tags from the request (`REPLACE`) rather than
/// from the source (`COPY`, the default).
pub(crate) fn tagging_directive_replace(head: &http::RequestHead) -> S3Result<bool> {
    crate::ops::directive_is_replace(head, "x-amz-tagging-directive")
}

/// `x-amz-tagging-count` for GET and HEAD, when the object has tags.
pub(crate) fn tagging_count(meta: &[(String, String)]) -> Option<usize> {
    let (_, stored) = meta.iter().find(|(name, _)| name == META_TAGGING)?;
    let count = TagSet::from_stored(stored).0.len();
    (count > 0).then_some(count)
}

pub async fn get_object_tagging(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    version_id: Option<VersionId>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let (record, version_header) =
        crate::ops::load_object_version(shard, ctx, &bucket, version_id.as_ref())?;
    let tags = record
        .meta
        .iter()
        .find(|(name, _)| name == META_TAGGING)
        .map(|(_, stored)| TagSet::from_stored(stored))
        .unwrap_or_default();
    let out = tagging_xml(&tags);
    let headers = crate::ops::versioning::version_headers(version_header);
    ctx.respond_xml_with(ex, &headers, out).await
}

pub async fn put_object_tagging(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    version_id: Option<VersionId>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let key = ctx.key()?.clone();
    let body = crate::body::read_small_body(
        ex,
        &ctx.payload,
        TAGGING_BODY_BYTES_MAX,
        crate::body::HeaderChecksums::OfBody,
    )
    .await?;
    let tags = TagSet(parse_tagging(&body)?);
    tags.validate()?;
    let value = (!tags.0.is_empty()).then(|| tags.to_stored());
    let event = (
        crate::notify::EventName::ObjectTaggingPut,
        ex.peer_addr().ip(),
    );
    let headers = set_tagging(shard, ctx, bucket, (key.as_str(), version_id), value, event).await?;
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    ctx.respond(ex, 200, &refs, BodyLen::Empty).await
}

pub async fn delete_object_tagging(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    version_id: Option<VersionId>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let key = ctx.key()?.clone();
    let event = (
        crate::notify::EventName::ObjectTaggingDelete,
        ex.peer_addr().ip(),
    );
    let headers = set_tagging(shard, ctx, bucket, (key.as_str(), version_id), None, event).await?;
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    ctx.respond(ex, 204, &refs, BodyLen::Empty).await
}

/// `<Tagging><TagSet><Tag>...</TagSet></Tagging>`.
fn tagging_xml(tags: &TagSet) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = XmlWriter::document(&mut out);
    w.open_root("Tagging");
    w.open("TagSet");
    for (key, value) in &tags.0 {
        w.open("Tag");
        w.text("Key", key);
        w.text("Value", value);
        w.close("Tag");
    }
    w.close("TagSet");
    w.close("Tagging");
    out
}

pub async fn get_bucket_tagging(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let Some(stored) = bucket.tagging.as_deref() else {
        return Err(
            S3Error::new(S3ErrorCode::NoSuchTagSet, "The TagSet does not exist")
                .with_detail("BucketName", bucket.name.clone()),
        );
    };
    ctx.respond_xml(ex, tagging_xml(&TagSet::from_stored(stored)))
        .await
}

pub async fn put_bucket_tagging(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let body = crate::body::read_small_body(
        ex,
        &ctx.payload,
        TAGGING_BODY_BYTES_MAX,
        crate::body::HeaderChecksums::OfBody,
    )
    .await?;
    // PutBucketTagging requires Content-MD5 (or a checksum) on AWS.
    crate::body::require_integrity_header(ex.head(), &body)?;
    let tags = TagSet(parse_tagging(&body)?);
    tags.validate_bucket()?;
    // An empty tag set removes the tags, as DeleteBucketTagging does.
    let value = (!tags.0.is_empty()).then(|| tags.to_stored());
    crate::ops::versioning::set_setting(shard, &bucket, SETTING_BUCKET_TAGGING, value).await?;
    ctx.respond(ex, 204, &[], BodyLen::Empty).await
}

pub async fn delete_bucket_tagging(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    crate::ops::versioning::delete_setting(shard, ctx, ex, SETTING_BUCKET_TAGGING).await
}

/// Sets the tags of the latest version (or the one named); the response's
/// version header.
/// `event`: the notification the change raises and who asked for it.
async fn set_tagging(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    bucket: BucketInfo,
    (key, version_id): (&str, Option<VersionId>),
    value: Option<String>,
    (event, peer): (crate::notify::EventName, std::net::IpAddr),
) -> S3Result<Vec<(String, String)>> {
    // Resolved first, so a missing version or a delete marker answers as a
    // GET of it would.
    let (_, version_header) =
        crate::ops::load_object_version(shard, ctx, &bucket, version_id.as_ref())?;
    let version = version_id
        .as_ref()
        .map(|id| crate::ops::versioning::parse_version_id(id.as_str()))
        .transpose()?;
    let op = IndexOp::SetObjectMeta {
        bucket_id: bucket.id,
        key: key.as_bytes().to_vec(),
        version,
        name: META_TAGGING.to_owned(),
        value,
    };
    let event = crate::notify::ObjectEvent {
        name: event,
        key,
        size_bytes: 0,
        etag: "",
        version_id: version_header.as_deref(),
    };
    let events = ctx.object_event(shard, peer, &bucket, event);
    shard
        .commit_notified(bucket.owner_shard, op, events)
        .await
        .map_err(|err| engine_error(err).with_resource(ctx.resource()))?;
    Ok(crate::ops::versioning::version_headers(version_header))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_internal_meta() {
        assert!(META_TAGGING.starts_with(crate::ops::object::INTERNAL_META_PREFIX));
    }

    #[test]
    fn header_form_round_trips_through_the_stored_form() {
        let tags = TagSet::from_header("a=1&b+c=d%20e&%C3%A9=%26%3D&empty=").unwrap();
        assert_eq!(
            tags.0,
            vec![
                ("a".into(), "1".into()),
                ("b c".into(), "d e".into()),
                ("é".into(), "&=".into()),
                ("empty".into(), "".into()),
            ]
        );
        assert_eq!(TagSet::from_stored(&tags.to_stored()), tags);
    }

    #[test]
    fn aws_tag_rules_are_enforced() {
        let code = |header: &str| TagSet::from_header(header).err().map(|e| e.code);
        let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert_eq!(code(&eleven.join("&")), Some(S3ErrorCode::BadRequest));
        assert_eq!(code(&eleven[..10].join("&")), None);
        assert_eq!(code("a=1&a=2"), Some(S3ErrorCode::InvalidTag));
        assert_eq!(code("=v"), Some(S3ErrorCode::InvalidTag));
        assert_eq!(code("aws:x=1"), Some(S3ErrorCode::InvalidTag));
        assert_eq!(
            code(&format!("{}=v", "k".repeat(129))),
            Some(S3ErrorCode::InvalidTag)
        );
        assert_eq!(
            code(&format!("k={}", "v".repeat(257))),
            Some(S3ErrorCode::InvalidTag)
        );
        assert_eq!(
            code(&format!("{}={}", "k".repeat(128), "v".repeat(256))),
            None
        );
    }
}
