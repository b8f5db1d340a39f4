//! Bucket lifecycle: Put/Get/DeleteBucketLifecycleConfiguration, the rule
//! model, and the decisions the background worker (`crate::lifecycle`)
//! applies to each version and upload.
//!
//! The configuration is validated, then kept in the catalog as the XML the
//! client sent (`bucket_settings`, name `lifecycle`) and returned as such.
//! Supported actions: Expiration (Days, Date, ExpiredObjectDeleteMarker),
//! NoncurrentVersionExpiration (NoncurrentDays, NewerNoncurrentVersions) and
//! AbortIncompleteMultipartUpload, with filters on prefix, tags and object
//! size. Transitions are refused: there is no other storage tier.

use crate::body::BodyIntegrity;
use std::rc::Rc;

use http::{BodyLen, Exchange};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::tagging::{TagSet, META_TAGGING};
use crate::ops::versioning::set_setting;
use crate::ops::RequestContext;
use crate::shard::Shard;
use crate::xml::{self, Node};

/// The catalog setting holding a bucket's lifecycle configuration (XML).
pub const SETTING_LIFECYCLE: &str = "lifecycle";
/// Rules per configuration at most (AWS's limit).
const RULES_MAX: usize = 1000;

/// Which objects a rule applies to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleFilter {
    pub prefix: String,
    pub tags: Vec<(String, String)>,
    pub size_greater_than: Option<u64>,
    pub size_less_than: Option<u64>,
}

impl RuleFilter {
    /// Whether an object (key, size, stored metadata) is in scope.
    pub fn matches(&self, key: &[u8], size_bytes: u64, meta: &[(String, String)]) -> bool {
        if !key.starts_with(self.prefix.as_bytes()) {
            return false;
        }
        if self.size_greater_than.is_some_and(|min| size_bytes <= min)
            || self.size_less_than.is_some_and(|max| size_bytes >= max)
        {
            return false;
        }
        if self.tags.is_empty() {
            return true;
        }
        let stored = meta
            .iter()
            .find(|(name, _)| name == META_TAGGING)
            .map(|(_, value)| TagSet::from_stored(value))
            .unwrap_or_default();
        self.tags.iter().all(|tag| stored.0.contains(tag))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LifecycleRule {
    pub id: String,
    pub enabled: bool,
    pub filter: RuleFilter,
    pub expiration_days: Option<u32>,
    pub expiration_date_ms: Option<u64>,
    pub expired_object_delete_marker: bool,
    pub noncurrent_days: Option<u32>,
    pub newer_noncurrent_versions: Option<u32>,
    pub abort_incomplete_days: Option<u32>,
}

/// Parses and validates a `LifecycleConfiguration`.
pub fn parse_configuration(body: &[u8]) -> S3Result<Vec<LifecycleRule>> {
    let root = xml::parse_tree(body)?;
    xml::root_expect(&root, "LifecycleConfiguration")?;
    let rules: Vec<&Node> = root.children.iter().filter(|c| c.name == "Rule").collect();
    if rules.is_empty() || rules.len() > RULES_MAX {
        return Err(xml::malformed(
            "a LifecycleConfiguration needs 1 to 1000 Rules",
        ));
    }
    let parsed = rules
        .into_iter()
        .map(parse_rule)
        .collect::<S3Result<Vec<_>>>()?;
    let mut ids: Vec<&str> = parsed
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| !id.is_empty())
        .collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(invalid(
            "Rule ID must be unique. Found same ID for more than one rule",
        ));
    }
    Ok(parsed)
}

fn invalid(message: &str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, message)
}

fn number<T: std::str::FromStr>(node: &Node, name: &str) -> S3Result<Option<T>> {
    xml::child_text_once(node, name)?
        .map(|text| {
            text.trim()
                .parse::<T>()
                .map_err(|_| xml::malformed(&format!("{name} must be a non-negative integer")))
        })
        .transpose()
}

fn parse_rule(node: &Node) -> S3Result<LifecycleRule> {
    let mut rule = LifecycleRule {
        id: xml::child_text_once(node, "ID")?
            .unwrap_or("")
            .trim()
            .to_owned(),
        ..LifecycleRule::default()
    };
    if rule.id.len() > 255 {
        return Err(invalid("ID length should not exceed allowed limit of 255"));
    }
    rule.enabled = match xml::child_text_once(node, "Status")?.map(str::trim) {
        Some("Enabled") => true,
        Some("Disabled") => false,
        _ => return Err(xml::malformed("Status must be Enabled or Disabled")),
    };
    if node
        .children
        .iter()
        .any(|c| c.name == "Transition" || c.name == "NoncurrentVersionTransition")
    {
        return Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            "Transitions are not supported: this server has a single storage class.",
        ));
    }
    rule.filter = match (
        xml::child_once(node, "Filter")?,
        xml::child_text_once(node, "Prefix")?,
    ) {
        (Some(_), Some(_)) => {
            return Err(xml::malformed(
                "a Rule has either Filter or Prefix, not both",
            ))
        }
        (Some(filter), None) => parse_filter(filter)?,
        (None, prefix) => RuleFilter {
            prefix: prefix.unwrap_or("").to_owned(),
            ..RuleFilter::default()
        },
    };
    if let Some(expiration) = xml::child_once(node, "Expiration")? {
        rule.expiration_days = number(expiration, "Days")?;
        rule.expiration_date_ms = xml::child_text_once(expiration, "Date")?
            .map(|date| {
                xml::parse_timestamp(date).ok_or_else(|| invalid("'Date' must be at midnight GMT"))
            })
            .transpose()?;
        rule.expired_object_delete_marker =
            match xml::child_text_once(expiration, "ExpiredObjectDeleteMarker")?.map(str::trim) {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => return Err(xml::malformed("ExpiredObjectDeleteMarker is a boolean")),
            };
        let given = usize::from(rule.expiration_days.is_some())
            + usize::from(rule.expiration_date_ms.is_some())
            + usize::from(rule.expired_object_delete_marker);
        if given != 1 {
            return Err(xml::malformed(
                "Expiration needs exactly one of Days, Date and ExpiredObjectDeleteMarker",
            ));
        }
        if rule.expiration_days == Some(0) {
            return Err(invalid(
                "'Days' for Expiration action must be a positive integer",
            ));
        }
    }
    if let Some(noncurrent) = xml::child_once(node, "NoncurrentVersionExpiration")? {
        rule.noncurrent_days = number(noncurrent, "NoncurrentDays")?;
        rule.newer_noncurrent_versions = number(noncurrent, "NewerNoncurrentVersions")?;
        if rule.noncurrent_days.is_none_or(|days| days == 0) {
            return Err(invalid(
                "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
            ));
        }
    }
    if let Some(abort) = xml::child_once(node, "AbortIncompleteMultipartUpload")? {
        rule.abort_incomplete_days = number(abort, "DaysAfterInitiation")?;
        if rule.abort_incomplete_days.is_none_or(|days| days == 0) {
            return Err(invalid("'DaysAfterInitiation' must be a positive integer"));
        }
        if !rule.filter.tags.is_empty() {
            return Err(invalid(
                "AbortIncompleteMultipartUpload cannot be specified with Tags.",
            ));
        }
    }
    if rule.expiration_days.is_none()
        && rule.expiration_date_ms.is_none()
        && !rule.expired_object_delete_marker
        && rule.noncurrent_days.is_none()
        && rule.abort_incomplete_days.is_none()
    {
        return Err(invalid(
            "At least one action needs to be specified in a rule",
        ));
    }
    Ok(rule)
}

fn parse_filter(filter: &Node) -> S3Result<RuleFilter> {
    let scope = match xml::child_once(filter, "And")? {
        Some(and) => and,
        None => filter,
    };
    let mut out = RuleFilter {
        prefix: xml::child_text_once(scope, "Prefix")?
            .unwrap_or("")
            .to_owned(),
        size_greater_than: number(scope, "ObjectSizeGreaterThan")?,
        size_less_than: number(scope, "ObjectSizeLessThan")?,
        tags: Vec::new(),
    };
    for tag in scope.children.iter().filter(|c| c.name == "Tag") {
        let key =
            xml::child_text_once(tag, "Key")?.ok_or_else(|| xml::malformed("a Tag needs a Key"))?;
        let value = xml::child_text_once(tag, "Value")?.unwrap_or("");
        out.tags.push((key.to_owned(), value.to_owned()));
    }
    if let (Some(min), Some(max)) = (out.size_greater_than, out.size_less_than) {
        if min >= max {
            return Err(invalid(
                "ObjectSizeGreaterThan must be less than ObjectSizeLessThan",
            ));
        }
    }
    Ok(out)
}

pub async fn put_bucket_lifecycle(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let body = ctx
        .read_xml_body_checked(ex, BodyIntegrity::Required)
        .await?;
    parse_configuration(&body)?;
    let text =
        String::from_utf8(body).map_err(|_| xml::malformed("the configuration is not UTF-8"))?;
    set_setting(shard, &bucket, SETTING_LIFECYCLE, Some(text)).await?;
    ctx.respond(ex, 200, &[], BodyLen::Empty).await
}

pub async fn get_bucket_lifecycle(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let Some(text) = bucket.lifecycle.as_ref() else {
        return Err(S3Error::new(
            S3ErrorCode::NoSuchLifecycleConfiguration,
            "The lifecycle configuration does not exist",
        ));
    };
    ctx.respond_xml(ex, text.as_bytes().to_vec()).await
}

pub async fn delete_bucket_lifecycle(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    crate::ops::versioning::delete_setting(shard, ctx, ex, SETTING_LIFECYCLE).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_with_filters_and_actions() {
        let body = br#"<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
            <Rule><ID>logs</ID><Status>Enabled</Status>
              <Filter><And><Prefix>logs/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag>
                <ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter>
              <Expiration><Days>3</Days></Expiration>
              <NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>
                <NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration>
            </Rule>
            <Rule><ID>mpu</ID><Status>Disabled</Status><Prefix></Prefix>
              <AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation>
              </AbortIncompleteMultipartUpload></Rule>
        </LifecycleConfiguration>"#;
        let rules = parse_configuration(body).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].filter.prefix, "logs/");
        assert_eq!(rules[0].filter.tags, vec![("k".into(), "v".into())]);
        assert_eq!(rules[0].expiration_days, Some(3));
        assert_eq!(rules[0].newer_noncurrent_versions, Some(2));
        assert!(!rules[1].enabled);
        assert_eq!(rules[1].abort_incomplete_days, Some(7));
        let tagged = vec![(
            META_TAGGING.to_owned(),
            TagSet(vec![("k".into(), "v".into())]).to_stored(),
        )];
        assert!(rules[0].filter.matches(b"logs/a", 11, &tagged));
        assert!(!rules[0].filter.matches(b"logs/a", 10, &tagged));
        assert!(!rules[0].filter.matches(b"logs/a", 11, &[]));
        assert!(!rules[0].filter.matches(b"other", 11, &tagged));
    }

    #[test]
    fn bad_configurations_are_refused() {
        let cases: &[&[u8]] = &[
            b"<LifecycleConfiguration></LifecycleConfiguration>",
            b"<LifecycleConfiguration><Rule><Status>Enabled</Status></Rule></LifecycleConfiguration>",
            b"<LifecycleConfiguration><Rule><Status>On</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>",
            b"<LifecycleConfiguration><Rule><Status>Enabled</Status><Expiration><Days>0</Days></Expiration></Rule></LifecycleConfiguration>",
            b"<LifecycleConfiguration><Rule><Status>Enabled</Status><Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition></Rule></LifecycleConfiguration>",
        ];
        for body in cases {
            assert!(
                parse_configuration(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
