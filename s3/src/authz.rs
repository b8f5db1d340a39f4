//! Who may do what on this shard: after a request authenticated, its action
//! (the route's IAM action), resource (the bucket or object ARN) and the
//! facts its conditions may ask about go to the one policy engine (`iam`),
//! with the caller's identity policies and the bucket's policy from the
//! snapshot. Copies ask again for their source and DeleteObjects for each
//! key, as AWS does.
//!
//! Owns: `Authenticated` (what authentication established), `S3Facts` (the
//! condition keys a request supplies, computed only when asked), and the
//! audit line of every denial. Never waits on the control plane.

use std::net::SocketAddr;
use std::sync::Arc;

use http::RequestHead;

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::router::Route;
use crate::shard::BucketInfo;
use iam::acl::AclTarget;
use iam::snapshot::KeyIdentity;

/// What authentication established about a request.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// `None`: an anonymous request (no signature at all).
    pub identity: Option<Arc<KeyIdentity>>,
    /// `s3:signatureversion`: `AWS4-HMAC-SHA256` or `AWS` (SigV2).
    pub signature_version: &'static str,
    /// `s3:authType`: `REST-HEADER` or `REST-QUERY-STRING`.
    pub auth_type: &'static str,
}

impl Authenticated {
    pub fn anonymous() -> Self {
        Authenticated {
            identity: None,
            signature_version: "",
            auth_type: "",
        }
    }

    pub fn principal(&self) -> Option<&iam::Principal> {
        self.identity
            .as_deref()
            .map(|identity| &*identity.principal)
    }

    /// The server's administrator: allowed everything without evaluation.
    pub fn is_system_root(&self) -> bool {
        self.principal()
            .is_some_and(|principal| principal.kind == iam::PrincipalKind::SystemRoot)
    }

    /// The account the caller belongs to (`None` when anonymous).
    pub fn account_id(&self) -> Option<&str> {
        self.principal()
            .map(|principal| principal.account_id.as_str())
    }
}

/// The request's condition keys, computed when a policy asks for one.
pub struct S3Facts<'a> {
    pub head: &'a RequestHead,
    pub route: &'a Route,
    pub auth: &'a Authenticated,
    pub peer: SocketAddr,
    pub tls: bool,
    pub now_ms: u64,
    /// The object's current tags, when a policy names `s3:ExistingObjectTag`
    /// and the request is about an existing object.
    pub existing_tags: Option<&'a [(String, String)]>,
    /// Loads the ACL of the object the request is about (`None`: none
    /// stored). Asked only when policies alone do not allow an action an
    /// object ACL can grant, on a bucket whose ACLs are enabled.
    pub object_acl: Option<&'a dyn Fn() -> Option<iam::acl::Acl>>,
}

impl iam::ConditionValues for S3Facts<'_> {
    fn values(&self, key_lower: &str) -> Option<Vec<String>> {
        let one = |value: &str| Some(vec![value.to_owned()]);
        match key_lower {
            "aws:sourceip" => one(&self.peer.ip().to_string()),
            "aws:securetransport" => one(if self.tls { "true" } else { "false" }),
            "aws:referer" => self.head.header("referer").and_then(one),
            "aws:useragent" => self.head.header("user-agent").and_then(one),
            "s3:prefix" | "s3:delimiter" | "s3:max-keys" | "s3:versionid" => {
                let name = match key_lower {
                    "s3:prefix" => "prefix",
                    "s3:delimiter" => "delimiter",
                    "s3:max-keys" => "max-keys",
                    _ => "versionId",
                };
                self.route.query_value(name).and_then(one)
            }
            "aws:tokenissuetime" => {
                let session = self.auth.identity.as_ref()?.session.as_ref()?;
                one(&crate::xml::format_timestamp(session.issued_ms))
            }
            "s3:signatureversion" => {
                Some(self.auth.signature_version).filter(|v| !v.is_empty())?;
                one(self.auth.signature_version)
            }
            "s3:authtype" => {
                Some(self.auth.auth_type).filter(|v| !v.is_empty())?;
                one(self.auth.auth_type)
            }
            "s3:object-lock-remaining-retention-days" => {
                let until = self.head.header("x-amz-object-lock-retain-until-date")?;
                let until_ms = crate::xml::parse_timestamp(until)?;
                let days = until_ms.saturating_sub(self.now_ms) / (24 * 3600 * 1000);
                one(&days.to_string())
            }
            "s3:requestobjecttagkeys" => {
                let tags = self.request_tags()?;
                Some(tags.into_iter().map(|(key, _)| key).collect())
            }
            _ => {
                if let Some(tag) = key_lower.strip_prefix("s3:requestobjecttag/") {
                    return self.request_tag(tag);
                }
                if let Some(tag) = key_lower.strip_prefix("s3:existingobjecttag/") {
                    let tags = self.existing_tags?;
                    return find_tag(tags.iter().cloned(), tag);
                }
                // s3:x-amz-acl, s3:x-amz-server-side-encryption, s3:x-amz-copy-source,
                // s3:object-lock-mode, ...: the request header of that name.
                let name = key_lower.strip_prefix("s3:")?;
                let header = if name.starts_with("x-amz-") {
                    name.to_owned()
                } else if name.starts_with("object-lock-") {
                    format!("x-amz-{name}")
                } else {
                    return None;
                };
                let values: Vec<String> =
                    self.head.header_all(&header).map(str::to_owned).collect();
                (!values.is_empty()).then_some(values)
            }
        }
    }
}

impl S3Facts<'_> {
    fn request_tags(&self) -> Option<Vec<(String, String)>> {
        let header = self.head.header("x-amz-tagging")?;
        crate::ops::tagging::TagSet::from_header(header)
            .ok()
            .map(|tags| tags.0)
    }

    /// Tag keys are case-sensitive on AWS, but condition keys reach us in
    /// lower case; a tag whose key matches ignoring case is the one asked for.
    fn request_tag(&self, key_lower: &str) -> Option<Vec<String>> {
        find_tag(self.request_tags()?.into_iter(), key_lower)
    }
}

fn find_tag(tags: impl Iterator<Item = (String, String)>, key_lower: &str) -> Option<Vec<String>> {
    tags.into_iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(key_lower))
        .map(|(_, value)| vec![value])
}

/// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`.
pub fn resource_arn(bucket: Option<&str>, key: Option<&str>) -> String {
    match (bucket, key) {
        (Some(bucket), Some(key)) => format!("arn:aws:s3:::{bucket}/{key}"),
        (Some(bucket), None) => format!("arn:aws:s3:::{bucket}"),
        // ListBuckets: no resource; `arn:aws:s3:::*` and `*` both match this.
        _ => "arn:aws:s3:::".to_owned(),
    }
}

/// Asks the policy engine whether the caller may do `action` on `resource`
/// of `bucket` (absent: the bucket does not exist, or none is named). A
/// denial is logged for the audit trail and answered AccessDenied.
pub fn authorize(
    facts: &S3Facts<'_>,
    action: &str,
    resource: &str,
    bucket: Option<&BucketInfo>,
) -> S3Result<()> {
    let owner = bucket.map(|bucket| bucket.owner_account.as_str());
    authorize_owned_by(facts, action, resource, bucket, owner)
}

/// The ACL a request sets on an object it creates (`x-amz-acl`, grant
/// headers): the writing account owns the new object unless the bucket's
/// ownership says otherwise, so whether it may set that object's ACL is its
/// own account's question (a bucket policy's Deny still applies). This is
/// how a bucket ACL's WRITE grant lets another account upload with
/// `bucket-owner-full-control`, as on AWS.
pub fn authorize_new_object_acl(
    facts: &S3Facts<'_>,
    resource: &str,
    bucket: Option<&BucketInfo>,
) -> S3Result<()> {
    let writer = facts
        .auth
        .account_id()
        .or(bucket.map(|bucket| bucket.owner_account.as_str()));
    // The object being replaced has no say over its successor's ACL.
    let facts = S3Facts {
        object_acl: None,
        ..*facts
    };
    authorize_owned_by(&facts, "s3:PutObjectAcl", resource, bucket, writer)
}

fn authorize_owned_by(
    facts: &S3Facts<'_>,
    action: &str,
    resource: &str,
    bucket: Option<&BucketInfo>,
    resource_account: Option<&str>,
) -> S3Result<()> {
    if facts.auth.is_system_root() {
        return Ok(());
    }
    let principal = facts.auth.principal();
    let acls = bucket.filter(|bucket| bucket.acls_enabled());
    let object_level = iam::acl::permission_for(AclTarget::Object, action).is_some();
    // A bucket's ACL speaks for the bucket's actions; an object's for the
    // object's, loaded below only if policies alone do not allow.
    let bucket_acl = acls
        .filter(|_| !object_level)
        .and_then(|bucket| bucket.acl.as_deref());
    let ignore_public = bucket.is_some_and(|bucket| bucket.ignores_public_acls());
    let resource_acl = |acl, target| iam::ResourceAcl {
        acl,
        target,
        ignore_public,
    };
    let mut request = iam::Request {
        principal,
        action,
        resource,
        resource_account,
        resource_policy: bucket
            .and_then(|bucket| bucket.policy.as_deref())
            .map(|policy| &policy.parsed),
        restrict_resource_policy_to_account: bucket
            .is_some_and(|bucket| bucket.restricts_public_policy()),
        acl: bucket_acl.map(|acl| resource_acl(acl, AclTarget::Bucket)),
        now_ms: facts.now_ms,
        facts,
    };
    let mut decision = iam::authorize(&request);
    let implicit_deny = !decision.allowed && decision.decided_by.is_none();
    let object_acl = match facts.object_acl {
        Some(load) if implicit_deny && object_level && acls.is_some() => load(),
        _ => None,
    };
    if let Some(acl) = &object_acl {
        request.acl = Some(resource_acl(acl, AclTarget::Object));
        decision = iam::authorize(&request);
    }
    if decision.allowed {
        return Ok(());
    }
    let decided_by = decision
        .decided_by
        .as_ref()
        .map(|statement| {
            format!(
                "{} statement {}{}",
                statement.policy,
                statement.index,
                statement
                    .sid
                    .as_deref()
                    .map(|sid| format!(" ({sid})"))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_else(|| "no statement allows it".to_owned());
    tracing::info!(
        target: "audit",
        principal = principal.map(|p| p.arn.as_str()).unwrap_or("anonymous"),
        action,
        resource,
        decided_by = decided_by.as_str(),
        "request denied"
    );
    Err(S3Error::new(S3ErrorCode::AccessDenied, "Access Denied"))
}

/// Whether the policies this request meets mention existing object tags,
/// so the caller loads them only then.
pub fn needs_existing_tags(auth: &Authenticated, bucket: Option<&BucketInfo>) -> bool {
    const PREFIX: &str = "s3:existingobjecttag/";
    if auth.is_system_root() {
        return false;
    }
    let in_bucket = bucket
        .and_then(|bucket| bucket.policy.as_deref())
        .is_some_and(|policy| policy.parsed.references_condition_key_prefix(PREFIX));
    let in_identity = auth.principal().is_some_and(|principal| {
        principal
            .policies
            .iter()
            .chain(principal.session_policies.iter())
            .any(|named| named.policy.references_condition_key_prefix(PREFIX))
    });
    in_bucket || in_identity
}
