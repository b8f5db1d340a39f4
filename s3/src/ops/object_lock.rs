//! Object Lock: the bucket configuration (Get/PutObjectLockConfiguration),
//! per-version retention and legal hold (Get/PutObjectRetention,
//! Get/PutObjectLegalHold), the lock headers of PUT/COPY/CreateMultipartUpload
//! and GET/HEAD, and RestoreObject (accepted: nothing here is ever archived).
//!
//! A version's retention and legal hold live in its metadata
//! (`engine::index::META_RETENTION`, `META_LEGAL_HOLD`); the engine refuses,
//! inside the commit transaction, to delete a version they protect, so no
//! path can remove it early. Here are the rules for changing them: COMPLIANCE
//! can only be extended, by anyone; GOVERNANCE can be shortened or removed
//! only with `x-amz-bypass-governance-retention: true` from a caller allowed
//! `s3:BypassGovernanceRetention` (the root always is).

use crate::body::BodyIntegrity;
use std::rc::Rc;

use engine::index::{IndexOp, ObjectRecord, META_LEGAL_HOLD, META_RETENTION};
use http::{BodyLen, Exchange};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::names::VersionId;
use crate::ops::versioning::{parse_version_id, set_setting, BucketVersioning};
use crate::ops::versioning::{SETTING_OBJECT_LOCK, SETTING_VERSIONING};
use crate::ops::{engine_error, RequestContext};
use crate::shard::{BucketInfo, Shard};
use crate::xml::{self, ObjectLockConfig};

/// The catalog setting holding a bucket's default retention
/// (`<mode>:<Days|Years>:<period>`).
pub const SETTING_OBJECT_LOCK_RULE: &str = "object-lock-rule";
pub const HEADER_BYPASS_GOVERNANCE: &str = "x-amz-bypass-governance-retention";
const HEADER_LOCK_MODE: &str = "x-amz-object-lock-mode";
const HEADER_LOCK_UNTIL: &str = "x-amz-object-lock-retain-until-date";
const HEADER_LEGAL_HOLD: &str = "x-amz-object-lock-legal-hold";
const DAY_MS: u64 = 86_400_000;

/// A bucket's default retention, applied to new versions that name none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultRetention {
    pub mode: String,
    /// `Days` or `Years`, as configured (GetObjectLockConfiguration echoes it).
    pub unit: String,
    pub period: u32,
}

impl DefaultRetention {
    pub fn from_setting(value: &str) -> Option<DefaultRetention> {
        let mut fields = value.splitn(3, ':');
        let mode = fields.next()?.to_owned();
        let unit = fields.next()?.to_owned();
        let period = fields.next()?.parse().ok()?;
        Some(DefaultRetention { mode, unit, period })
    }

    fn to_setting(&self) -> String {
        format!("{}:{}:{}", self.mode, self.unit, self.period)
    }

    fn until_ms(&self, now_ms: u64) -> u64 {
        let days = match self.unit.as_str() {
            "Years" => u64::from(self.period) * 365,
            _ => u64::from(self.period),
        };
        now_ms.saturating_add(days.saturating_mul(DAY_MS))
    }
}

/// The creation settings `x-amz-bucket-object-lock-enabled: true` asks for:
/// Object Lock needs versioning, so both are on from the start.
pub fn creation_settings(head: &http::RequestHead) -> S3Result<Vec<(String, String)>> {
    match head
        .header("x-amz-bucket-object-lock-enabled")
        .map(str::trim)
    {
        None => Ok(Vec::new()),
        Some(value) if value.eq_ignore_ascii_case("false") => Ok(Vec::new()),
        Some(value) if value.eq_ignore_ascii_case("true") => Ok(vec![
            (SETTING_VERSIONING.to_owned(), "Enabled".to_owned()),
            (SETTING_OBJECT_LOCK.to_owned(), "Enabled".to_owned()),
        ]),
        Some(_) => Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "x-amz-bucket-object-lock-enabled must be true or false.",
        )),
    }
}

fn missing_configuration() -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidRequest,
        "Bucket is missing Object Lock Configuration",
    )
}

/// The lock metadata a new version gets: from the request's headers, else
/// the bucket's default retention.
pub fn lock_meta_for_new_object(
    bucket: &BucketInfo,
    head: &http::RequestHead,
    now_ms: u64,
) -> S3Result<Vec<(String, String)>> {
    let mode = head.header(HEADER_LOCK_MODE).map(str::trim);
    let until = head.header(HEADER_LOCK_UNTIL).map(str::trim);
    let hold = head.header(HEADER_LEGAL_HOLD).map(str::trim);
    if !bucket.object_lock_enabled() {
        if mode.is_some() || until.is_some() || hold.is_some() {
            return Err(missing_configuration());
        }
        return Ok(Vec::new());
    }
    let mut meta = Vec::new();
    match (mode, until) {
        (Some(mode), Some(until)) => {
            if mode != "GOVERNANCE" && mode != "COMPLIANCE" {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    "Unknown wormMode directive.",
                ));
            }
            let until_ms = xml::parse_timestamp(until).ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    "The retain until date must be an ISO 8601 date.",
                )
            })?;
            if until_ms <= now_ms {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    "The retain until date must be in the future!",
                ));
            }
            meta.push((META_RETENTION.to_owned(), format!("{mode}:{until_ms}")));
        }
        (None, None) => {
            if let Some(default) = &bucket.object_lock_default {
                let until_ms = default.until_ms(now_ms);
                meta.push((
                    META_RETENTION.to_owned(),
                    format!("{}:{until_ms}", default.mode),
                ));
            }
        }
        _ => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be \
                 supplied",
            ))
        }
    }
    match hold {
        None | Some("OFF") => {}
        Some("ON") => meta.push((META_LEGAL_HOLD.to_owned(), "ON".to_owned())),
        Some(_) => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Legal Hold must be either of 'ON' or 'OFF'",
            ))
        }
    }
    Ok(meta)
}

/// A version's retention: (mode, until ms).
fn retention_of(record: &ObjectRecord) -> Option<(String, u64)> {
    let (_, value) = record.meta.iter().find(|(n, _)| n == META_RETENTION)?;
    let (mode, until) = value.split_once(':')?;
    Some((mode.to_owned(), until.parse().ok()?))
}

fn legal_hold_of(record: &ObjectRecord) -> bool {
    record
        .meta
        .iter()
        .any(|(n, v)| n == META_LEGAL_HOLD && v == "ON")
}

/// The lock headers GET and HEAD answer with.
pub fn response_headers(record: &ObjectRecord) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some((mode, until_ms)) = retention_of(record) {
        out.push((HEADER_LOCK_MODE.to_owned(), mode));
        out.push((
            HEADER_LOCK_UNTIL.to_owned(),
            xml::format_timestamp(until_ms),
        ));
    }
    if legal_hold_of(record) {
        out.push((HEADER_LEGAL_HOLD.to_owned(), "ON".to_owned()));
    }
    out
}

pub fn bypass_governance(head: &http::RequestHead) -> bool {
    head.header(HEADER_BYPASS_GOVERNANCE)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The bypass header counts only for a caller allowed
/// `s3:BypassGovernanceRetention` on the object (the root always is); for
/// anyone else GOVERNANCE holds as if the header were absent, as on AWS.
pub fn bypass_governance_allowed(
    ctx: &RequestContext,
    shard: &Shard,
    ex: &Exchange<'_>,
    target: (&BucketInfo, &str, Option<engine::index::VersionSel>),
) -> bool {
    bypass_governance(ex.head())
        && ctx
            .authorize_object(shard, ex, "s3:BypassGovernanceRetention", target)
            .is_ok()
}

pub async fn get_object_lock_configuration(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    if !bucket.object_lock_enabled() {
        return Err(S3Error::new(
            S3ErrorCode::ObjectLockConfigurationNotFoundError,
            "Object Lock configuration does not exist for this bucket",
        ));
    }
    let config = ObjectLockConfig {
        default_retention: bucket
            .object_lock_default
            .as_ref()
            .map(|d| (d.mode.clone(), d.unit.clone(), d.period)),
    };
    let mut out = Vec::new();
    xml::object_lock_configuration(&mut out, &config);
    ctx.respond_xml(ex, out).await
}

pub async fn put_object_lock_configuration(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let body = ctx
        .read_xml_body_checked(ex, BodyIntegrity::Required)
        .await?;
    let config = xml::parse_object_lock_configuration(&body)?;
    if !bucket.object_lock_enabled() {
        // As AWS allows since 2023: enabling it on an existing bucket needs
        // versioning on (and keeps it on for good).
        if bucket.versioning != BucketVersioning::Enabled {
            return Err(S3Error::new(
                S3ErrorCode::InvalidBucketState,
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
            ));
        }
        set_setting(shard, &bucket, SETTING_OBJECT_LOCK, Some("Enabled".into())).await?;
    }
    let rule = config
        .default_retention
        .map(|(mode, unit, period)| DefaultRetention { mode, unit, period }.to_setting());
    set_setting(shard, &bucket, SETTING_OBJECT_LOCK_RULE, rule).await?;
    ctx.respond(ex, 200, &[], BodyLen::Empty).await
}

/// The version a retention or legal-hold request concerns, which must exist
/// and not be a delete marker, in a lock-enabled bucket.
fn locked_target(
    shard: &Shard,
    ctx: &RequestContext,
    bucket: &BucketInfo,
    version_id: Option<&VersionId>,
) -> S3Result<(ObjectRecord, Option<String>)> {
    if !bucket.object_lock_enabled() {
        return Err(missing_configuration());
    }
    crate::ops::load_object_version(shard, ctx, bucket, version_id)
}

pub async fn get_object_retention(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    version_id: Option<VersionId>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let (record, version) = locked_target(shard, ctx, &bucket, version_id.as_ref())?;
    let Some((mode, until_ms)) = retention_of(&record) else {
        return Err(no_lock_configuration());
    };
    let mut out = Vec::new();
    xml::retention(&mut out, &mode, until_ms);
    ctx.respond_xml_with(ex, &crate::ops::versioning::version_headers(version), out)
        .await
}

fn no_lock_configuration() -> S3Error {
    S3Error::new(
        S3ErrorCode::NoSuchObjectLockConfiguration,
        "The specified object does not have a ObjectLock configuration",
    )
}

pub async fn put_object_retention(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    version_id: Option<VersionId>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let body = ctx
        .read_xml_body_checked(ex, BodyIntegrity::Required)
        .await?;
    let requested = xml::parse_retention(&body)?;
    let (record, version) = locked_target(shard, ctx, &bucket, version_id.as_ref())?;
    retention_change_allowed(
        retention_of(&record),
        requested.as_ref(),
        ctx.now_ms,
        bypass_governance_allowed(
            ctx,
            shard,
            ex,
            (
                &bucket,
                ctx.key()?.as_str(),
                version_id
                    .as_ref()
                    .and_then(|v| engine::index::VersionSel::parse(v.as_str())),
            ),
        ),
    )?;
    let value = requested.map(|(mode, until_ms)| format!("{mode}:{until_ms}"));
    set_version_meta(
        shard,
        ctx,
        &bucket,
        version_id.as_ref(),
        META_RETENTION,
        value,
    )
    .await?;
    ctx.respond_owned(ex, 200, &crate::ops::versioning::version_headers(version))
        .await
}

/// AWS's rules for replacing `current` with `requested` (None removes).
fn retention_change_allowed(
    current: Option<(String, u64)>,
    requested: Option<&(String, u64)>,
    now_ms: u64,
    bypass: bool,
) -> S3Result<()> {
    if let Some((_, until_ms)) = requested {
        if *until_ms <= now_ms {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "The retain until date must be in the future!",
            ));
        }
    }
    let Some((mode, until_ms)) = current.filter(|(_, until_ms)| *until_ms > now_ms) else {
        return Ok(()); // nothing in force
    };
    let weakened = match requested {
        None => true,
        Some((new_mode, new_until_ms)) => {
            *new_until_ms < until_ms || (mode == "COMPLIANCE" && new_mode != "COMPLIANCE")
        }
    };
    if !weakened {
        return Ok(());
    }
    let refused = || {
        S3Error::new(
            S3ErrorCode::AccessDenied,
            "Access Denied because object protected by object lock.",
        )
    };
    match mode.as_str() {
        "GOVERNANCE" if bypass => Ok(()),
        _ => Err(refused()),
    }
}

pub async fn get_object_legal_hold(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    version_id: Option<VersionId>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let (record, version) = locked_target(shard, ctx, &bucket, version_id.as_ref())?;
    let mut out = Vec::new();
    xml::legal_hold(&mut out, legal_hold_of(&record));
    ctx.respond_xml_with(ex, &crate::ops::versioning::version_headers(version), out)
        .await
}

pub async fn put_object_legal_hold(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    version_id: Option<VersionId>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let body = ctx
        .read_xml_body_checked(ex, BodyIntegrity::Required)
        .await?;
    let on = xml::parse_legal_hold(&body)?;
    let (_, version) = locked_target(shard, ctx, &bucket, version_id.as_ref())?;
    let value = on.then(|| "ON".to_owned());
    set_version_meta(
        shard,
        ctx,
        &bucket,
        version_id.as_ref(),
        META_LEGAL_HOLD,
        value,
    )
    .await?;
    ctx.respond_owned(ex, 200, &crate::ops::versioning::version_headers(version))
        .await
}

async fn set_version_meta(
    shard: &Rc<Shard>,
    ctx: &RequestContext,
    bucket: &BucketInfo,
    version_id: Option<&VersionId>,
    name: &str,
    value: Option<String>,
) -> S3Result<()> {
    let version = version_id
        .map(|id| parse_version_id(id.as_str()))
        .transpose()?;
    let op = IndexOp::SetObjectMeta {
        bucket_id: bucket.id,
        key: ctx.key()?.as_bytes().to_vec(),
        version,
        name: name.to_owned(),
        value,
    };
    shard
        .commit(bucket.owner_shard, op)
        .await
        .map_err(|err| engine_error(err).with_resource(ctx.resource()))
}

/// RestoreObject: every object here is in the active tier already, so the
/// request succeeds at once (what AWS answers for an archived object whose
/// restored copy is available), letting Glacier-aware tools proceed.
pub async fn restore_object(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    version_id: Option<VersionId>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let body = ctx.read_xml_body(ex).await?;
    xml::parse_restore_request(&body)?;
    let (_, version) = crate::ops::load_object_version(shard, ctx, &bucket, version_id.as_ref())?;
    ctx.respond_owned(ex, 200, &crate::ops::versioning::version_headers(version))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000_000;

    #[test]
    fn compliance_only_extends_governance_needs_bypass() {
        let compliance = Some(("COMPLIANCE".to_owned(), NOW + 100));
        let longer = ("COMPLIANCE".to_owned(), NOW + 200);
        let shorter = ("COMPLIANCE".to_owned(), NOW + 50);
        let governance = ("GOVERNANCE".to_owned(), NOW + 300);
        assert!(retention_change_allowed(compliance.clone(), Some(&longer), NOW, false).is_ok());
        for bypass in [false, true] {
            assert!(
                retention_change_allowed(compliance.clone(), Some(&shorter), NOW, bypass).is_err()
            );
            assert!(retention_change_allowed(compliance.clone(), None, NOW, bypass).is_err());
            assert!(
                retention_change_allowed(compliance.clone(), Some(&governance), NOW, bypass)
                    .is_err(),
                "COMPLIANCE cannot become GOVERNANCE"
            );
        }
        let current = Some(("GOVERNANCE".to_owned(), NOW + 100));
        let short = ("GOVERNANCE".to_owned(), NOW + 10);
        assert!(retention_change_allowed(current.clone(), Some(&short), NOW, false).is_err());
        assert!(retention_change_allowed(current.clone(), Some(&short), NOW, true).is_ok());
        assert!(retention_change_allowed(current.clone(), None, NOW, true).is_ok());
        assert!(retention_change_allowed(current.clone(), Some(&longer), NOW, false).is_ok());
        // Expired retention constrains nothing; past dates are refused.
        let expired = Some(("COMPLIANCE".to_owned(), NOW - 1));
        assert!(retention_change_allowed(expired, None, NOW, false).is_ok());
        let past = ("GOVERNANCE".to_owned(), NOW - 5);
        assert!(retention_change_allowed(None, Some(&past), NOW, false).is_err());
    }

    #[test]
    fn default_retention_round_trips_and_counts_years() {
        let rule = DefaultRetention {
            mode: "GOVERNANCE".into(),
            unit: "Years".into(),
            period: 2,
        };
        assert_eq!(
            DefaultRetention::from_setting(&rule.to_setting()),
            Some(rule.clone())
        );
        assert_eq!(rule.until_ms(0), 730 * DAY_MS);
    }
}
