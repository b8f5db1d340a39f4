//! Bucket versioning: GetBucketVersioning, PutBucketVersioning and
//! ListObjectVersions, and the version decisions every object write and
//! delete makes from the bucket's state.
//!
//! The state lives in the catalog (`bucket_settings`, name `versioning`) and
//! reaches every shard in its snapshot as `BucketInfo::versioning`. A bucket
//! that never had versioning writes into each key's single unversioned slot
//! (the fast path); once Enabled, every write makes a new version with an id;
//! Suspended writes make the key's "null" version, replacing the previous
//! null version only. A bucket never returns to unversioned.

use std::rc::Rc;

use engine::index::{next_version_seq, VersionSel, VersionWrite};
use engine::list::{VersionItem, VersionListQuery};
use http::{BodyLen, Exchange};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::limits::LIST_KEYS_MAX;
use crate::ops::{engine_error, RequestContext};
use crate::shard::{BucketInfo, ControlRequest, Shard};
use crate::xml;

/// The catalog setting holding a bucket's versioning state.
pub const SETTING_VERSIONING: &str = "versioning";
/// The catalog setting of a bucket created with Object Lock (`Enabled`).
pub const SETTING_OBJECT_LOCK: &str = "object-lock";
/// The response header naming the version a request wrote, read or deleted.
pub const HEADER_VERSION_ID: &str = "x-amz-version-id";
/// The response header saying the version concerned is a delete marker.
pub const HEADER_DELETE_MARKER: &str = "x-amz-delete-marker";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BucketVersioning {
    /// Never enabled: one unversioned object per key.
    #[default]
    Unversioned,
    Enabled,
    Suspended,
}

impl BucketVersioning {
    /// The state among a bucket's catalog settings.
    pub fn from_settings(settings: &[(String, String)]) -> BucketVersioning {
        match settings
            .iter()
            .find(|(name, _)| name == SETTING_VERSIONING)
            .map(|(_, value)| value.as_str())
        {
            Some("Enabled") => BucketVersioning::Enabled,
            Some("Suspended") => BucketVersioning::Suspended,
            _ => BucketVersioning::Unversioned,
        }
    }

    /// The `Status` GetBucketVersioning reports (none if never enabled).
    pub fn status(self) -> Option<&'static str> {
        match self {
            BucketVersioning::Unversioned => None,
            BucketVersioning::Enabled => Some("Enabled"),
            BucketVersioning::Suspended => Some("Suspended"),
        }
    }

    /// How a new object (or delete marker) is written in this bucket.
    pub fn version_write(self) -> VersionWrite {
        match self {
            BucketVersioning::Unversioned => VersionWrite::Unversioned,
            BucketVersioning::Enabled => VersionWrite::New {
                seq: next_version_seq(),
                null: false,
            },
            BucketVersioning::Suspended => VersionWrite::New {
                seq: next_version_seq(),
                null: true,
            },
        }
    }
}

/// The `x-amz-version-id` a write answers with: none in a bucket that never
/// had versioning, `null` in a suspended one.
pub fn version_id_header(write: VersionWrite) -> Option<(String, String)> {
    match write {
        VersionWrite::Unversioned => None,
        VersionWrite::New { null: true, .. } => Some((HEADER_VERSION_ID.into(), "null".into())),
        VersionWrite::New { seq, null: false } => {
            Some((HEADER_VERSION_ID.into(), format!("{seq:016x}")))
        }
    }
}

/// The `x-amz-version-id` header for a version read or changed in place
/// (none in a bucket that never had versioning).
pub(crate) fn version_headers(version_id: Option<String>) -> Vec<(String, String)> {
    version_id
        .map(|id| (HEADER_VERSION_ID.to_owned(), id))
        .into_iter()
        .collect()
}

/// A client's `versionId`: `null` or one of ours; anything else is the
/// error AWS gives for a version id it never issued.
pub fn parse_version_id(version_id: &str) -> S3Result<VersionSel> {
    VersionSel::parse(version_id)
        .ok_or_else(|| S3Error::new(S3ErrorCode::InvalidArgument, "Invalid version id specified"))
}

pub async fn get_bucket_versioning(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let mut out = Vec::new();
    xml::versioning_configuration(&mut out, bucket.versioning.status());
    ctx.respond_xml(ex, out).await
}

pub async fn put_bucket_versioning(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let body = ctx.read_xml_body(ex).await?;
    let (status, mfa_delete) = xml::parse_versioning_configuration(&body)?;
    if mfa_delete {
        return Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            "MFA Delete is not supported by this server.",
        ));
    }
    refuse_suspending_locked(&bucket, &status)?;
    set_setting(shard, &bucket, SETTING_VERSIONING, Some(status)).await?;
    ctx.respond(ex, 200, &[], BodyLen::Empty).await
}

/// Object Lock needs versioning: a lock-enabled bucket cannot be suspended.
fn refuse_suspending_locked(bucket: &BucketInfo, status: &str) -> S3Result<()> {
    if status == "Suspended" && bucket.object_lock_enabled() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidBucketState,
            "An Object Lock configuration is present on this bucket, so the versioning state \
             cannot be changed.",
        ));
    }
    Ok(())
}

/// Stores one bucket setting through the control plane.
pub(crate) async fn set_setting(
    shard: &Rc<Shard>,
    bucket: &BucketInfo,
    name: &str,
    value: Option<String>,
) -> S3Result<()> {
    let bucket_id = bucket.id;
    let name = name.to_owned();
    shard
        .control(|reply| ControlRequest::SetBucketSetting {
            bucket_id,
            name,
            value,
            reply,
        })
        .await
        .map(|_| ())
}

/// DELETE of a bucket configuration kept as one setting (lifecycle, CORS,
/// ownership controls, public access block): removes it and answers 204.
pub(crate) async fn delete_setting(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    name: &str,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    set_setting(shard, &bucket, name, None).await?;
    ctx.respond(ex, 204, &[], BodyLen::Empty).await
}

pub async fn list_object_versions(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let max = crate::ops::list::max_keys(ctx)?;
    let url = crate::ops::list::encoding_url(ctx)?;
    let prefix = ctx.query("prefix").unwrap_or("");
    let delimiter = ctx.query("delimiter").filter(|d| !d.is_empty());
    let key_marker = ctx.query("key-marker").filter(|m| !m.is_empty());
    let version_id_marker = ctx.query("version-id-marker").filter(|m| !m.is_empty());
    let version_marker = match (key_marker, version_id_marker) {
        (_, None) => None,
        (None, Some(_)) => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "A version-id marker cannot be specified without a key marker.",
            ))
        }
        (Some(_), Some(marker)) => Some(parse_version_id(marker)?),
    };
    let query = VersionListQuery {
        bucket_id: bucket.id,
        prefix: prefix.as_bytes(),
        key_marker: key_marker.map(str::as_bytes),
        version_marker,
        delimiter: delimiter.map(str::as_bytes),
        entries_max: (max as usize).min(LIST_KEYS_MAX),
    };
    let page = shard
        .reader
        .shard_index(bucket.owner_shard as usize)
        .list_versions(&query)
        .map_err(engine_error)?;
    let mut keys: Vec<String> = Vec::with_capacity(page.items.len());
    let mut prefixes: Vec<String> = Vec::new();
    for item in &page.items {
        match item {
            VersionItem::Version { key, .. } => keys.push(utf8(key)?),
            VersionItem::CommonPrefix(prefix) => prefixes.push(utf8(prefix)?),
        }
    }
    let mut entries = Vec::with_capacity(keys.len());
    let mut next = (None, None);
    let mut keys_iter = keys.iter();
    let mut prefixes_iter = prefixes.iter();
    for item in &page.items {
        match item {
            VersionItem::Version {
                version_id,
                is_latest,
                record,
                ..
            } => {
                let key = keys_iter.next().expect("one key per version");
                next = (Some(key.as_str()), Some(version_id.as_str()));
                entries.push(if record.is_delete_marker() {
                    xml::VersionEntry::DeleteMarker {
                        key,
                        version_id,
                        is_latest: *is_latest,
                        last_modified_ms: record.last_modified_ms,
                    }
                } else {
                    xml::VersionEntry::Version {
                        key,
                        version_id,
                        is_latest: *is_latest,
                        last_modified_ms: record.last_modified_ms,
                        etag: &record.etag,
                        size_bytes: record.size_bytes,
                        checksum_algorithm: crate::ops::list::checksum_algorithm(record),
                    }
                });
            }
            VersionItem::CommonPrefix(_) => {
                let prefix = prefixes_iter.next().expect("one string per prefix");
                next = (Some(prefix.as_str()), None);
            }
        }
    }
    let common_prefixes: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    let owner = crate::ops::OwnerText::of_account(&ctx.catalog, &bucket.owner_account);
    let mut out = Vec::new();
    xml::list_versions(
        &mut out,
        &xml::ListVersions {
            bucket: &bucket.name,
            prefix,
            key_marker: key_marker.unwrap_or(""),
            version_id_marker: version_id_marker.unwrap_or(""),
            next_key_marker: next.0,
            next_version_id_marker: next.1,
            delimiter,
            max_keys: max,
            is_truncated: page.truncated,
            url_encode: url,
            owner: owner.as_xml(),
            entries: &entries,
            common_prefixes: &common_prefixes,
        },
    );
    ctx.respond_xml(ex, out).await
}

fn utf8(bytes: &[u8]) -> S3Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| S3Error::internal("stored key is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_from_settings_and_headers() {
        let enabled = vec![(SETTING_VERSIONING.to_owned(), "Enabled".to_owned())];
        assert_eq!(
            BucketVersioning::from_settings(&enabled),
            BucketVersioning::Enabled
        );
        assert_eq!(
            BucketVersioning::from_settings(&[]),
            BucketVersioning::Unversioned
        );
        assert_eq!(BucketVersioning::Unversioned.status(), None);
        assert_eq!(version_id_header(VersionWrite::Unversioned), None);
        let suspended = BucketVersioning::Suspended.version_write();
        assert_eq!(
            version_id_header(suspended),
            Some((HEADER_VERSION_ID.into(), "null".into()))
        );
        let (_, id) = version_id_header(BucketVersioning::Enabled.version_write()).unwrap();
        assert_eq!(id.len(), 16);
        assert!(matches!(parse_version_id(&id), Ok(VersionSel::Seq(_))));
        assert!(parse_version_id("3/L4kqtJlcpXroDTDmpUMLUo").is_err());
    }
}
