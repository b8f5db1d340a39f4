//! Access control lists on the wire and at rest: GetBucketAcl, PutBucketAcl,
//! GetObjectAcl and PutObjectAcl (by version id too), and the ACL a request
//! creating a bucket or object asks for (`x-amz-acl`, `x-amz-grant-*`, a POST
//! form's `acl` field).
//!
//! An ACL is `iam::acl::Acl`; a bucket's is the catalog setting
//! [`SETTING_ACL`], an object's the internal meta entry [`META_ACL`] (it moves
//! with the version, like tags). No stored ACL means the owner's
//! FULL_CONTROL alone. The bucket's object ownership decides whether ACLs
//! apply at all (`ownership`), Block Public Access whether a public one may
//! be set (`public_access`); `authz` hands the ACLs to the policy engine.

use std::rc::Rc;

use engine::index::IndexOp;
use http::{BodyLen, Exchange, RequestHead};
use iam::acl::{Acl, Grant, Grantee, Group, Permission, GRANTS_MAX};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::names::VersionId;
use crate::ops::ownership::{acl_conflicts_with_enforced, acls_not_supported, ObjectOwnership};
use crate::ops::{engine_error, OwnerText, RequestContext};
use crate::shard::{BucketInfo, CatalogSnapshot, Shard};
use crate::xml::{self, XmlWriter};

/// The catalog setting holding a bucket's ACL (`Acl::to_stored`).
pub const SETTING_ACL: &str = "acl";
/// The object meta entry holding an object's ACL; internal, so GET never
/// sends it as a header.
pub(crate) const META_ACL: &str = "x-maxiofs-acl";
/// An AccessControlPolicy of 100 grants is about 30 KiB.
const ACL_BODY_BYTES_MAX: usize = 64 * 1024;

/// What a request asked for, before its owner is known.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requested {
    Canned(String),
    Grants(Vec<Grant>),
}

impl Requested {
    /// The ACL it stands for with `owner` owning the resource.
    fn resolve(&self, owner: &str, bucket_owner: &str) -> Acl {
        match self {
            Requested::Canned(name) => Acl::canned(name, owner, bucket_owner)
                .expect("canned ACL names are checked when parsed"),
            Requested::Grants(grants) => Acl {
                owner: owner.to_owned(),
                grants: grants.clone(),
            },
        }
    }
}

fn invalid_argument(message: &str, name: &str, value: &str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, message)
        .with_detail("ArgumentName", name.to_owned())
        .with_detail("ArgumentValue", value.to_owned())
}

fn malformed_acl() -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedACLError,
        "The XML you provided was not well-formed or did not validate against our published \
         schema",
    )
}

/// A canonical id must name an account of this server.
fn account_grantee(catalog: &CatalogSnapshot, id: &str) -> S3Result<Grantee> {
    let known = catalog
        .accounts
        .values()
        .any(|account| account.canonical_id == id);
    if !known {
        return Err(invalid_argument("Invalid id", "CanonicalUser/ID", id));
    }
    Ok(Grantee::Account(id.to_owned()))
}

fn group_grantee(uri: &str) -> S3Result<Grantee> {
    Group::from_uri(uri)
        .map(Grantee::Group)
        .ok_or_else(|| invalid_argument("Invalid group uri", "Group/URI", uri))
}

fn unresolvable_email() -> S3Error {
    S3Error::new(
        S3ErrorCode::UnresolvableGrantByEmailAddress,
        "The e-mail address you provided does not match any account on record.",
    )
}

fn push_grant(grants: &mut Vec<Grant>, grant: Grant) -> S3Result<()> {
    if !grants.contains(&grant) {
        grants.push(grant);
    }
    if grants.len() > GRANTS_MAX {
        return Err(S3Error::new(
            S3ErrorCode::MalformedACLError,
            format!("An ACL may hold at most {GRANTS_MAX} grants."),
        ));
    }
    Ok(())
}

/// One `x-amz-grant-*` value: `id="…", uri="…", emailAddress="…"`.
fn parse_grant_header(
    catalog: &CatalogSnapshot,
    header: &str,
    value: &str,
    permission: Permission,
    grants: &mut Vec<Grant>,
) -> S3Result<()> {
    for item in value.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (kind, who) = item
            .split_once('=')
            .ok_or_else(|| invalid_argument("Invalid grant", header, item))?;
        let who = who.trim().trim_matches('"');
        let grantee = match kind.trim().to_ascii_lowercase().as_str() {
            "id" => account_grantee(catalog, who)?,
            "uri" => group_grantee(who)?,
            "emailaddress" => return Err(unresolvable_email()),
            _ => return Err(invalid_argument("Invalid grant", header, item)),
        };
        push_grant(
            grants,
            Grant {
                grantee,
                permission,
            },
        )?;
    }
    Ok(())
}

/// The ACL a request's headers ask for; `None` when they name none.
fn requested_by_headers(
    catalog: &CatalogSnapshot,
    head: &RequestHead,
) -> S3Result<Option<Requested>> {
    let mut grants = Vec::new();
    let mut any_grant_header = false;
    for permission in Permission::ALL {
        for value in head.header_all(permission.header()) {
            any_grant_header = true;
            parse_grant_header(catalog, permission.header(), value, permission, &mut grants)?;
        }
    }
    match (head.header("x-amz-acl"), any_grant_header) {
        (Some(_), true) => Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Specifying both Canned ACLs and Header Grants is not allowed",
        )),
        (Some(canned), false) => requested_canned(canned).map(Some),
        (None, true) => Ok(Some(Requested::Grants(grants))),
        (None, false) => Ok(None),
    }
}

fn requested_canned(canned: &str) -> S3Result<Requested> {
    let canned = canned.trim();
    if !iam::acl::CANNED.contains(&canned) {
        return Err(invalid_argument("", "x-amz-acl", canned));
    }
    Ok(Requested::Canned(canned.to_owned()))
}

/// An AccessControlPolicy document's grants (its Owner is not a request to
/// change the owner: ownership follows the bucket's setting).
fn requested_by_body(catalog: &CatalogSnapshot, body: &[u8]) -> S3Result<Requested> {
    grants_of_document(catalog, body).map(Requested::Grants)
}

/// The grants of an AccessControlPolicy document; every canonical id must
/// be one of `catalog`'s accounts.
pub fn grants_of_document(catalog: &CatalogSnapshot, body: &[u8]) -> S3Result<Vec<Grant>> {
    let root = xml::parse_tree(body).map_err(|_| malformed_acl())?;
    if root.name != "AccessControlPolicy" {
        return Err(malformed_acl());
    }
    let list = xml::child_once(&root, "AccessControlList")
        .map_err(|_| malformed_acl())?
        .ok_or_else(malformed_acl)?;
    let mut grants = Vec::new();
    for grant in list.children.iter().filter(|child| child.name == "Grant") {
        let grantee = xml::child_once(grant, "Grantee")
            .map_err(|_| malformed_acl())?
            .ok_or_else(malformed_acl)?;
        let text = |name| {
            xml::child_text_once(grantee, name)
                .map_err(|_| malformed_acl())
                .map(|text| text.map(str::trim))
        };
        let grantee = match (text("ID")?, text("URI")?, text("EmailAddress")?) {
            (Some(id), None, None) => account_grantee(catalog, id)?,
            (None, Some(uri), None) => group_grantee(uri)?,
            (None, None, Some(_)) => return Err(unresolvable_email()),
            _ => return Err(malformed_acl()),
        };
        let permission = xml::child_text_once(grant, "Permission")
            .map_err(|_| malformed_acl())?
            .and_then(|text| Permission::parse(text.trim()))
            .ok_or_else(malformed_acl)?;
        push_grant(
            &mut grants,
            Grant {
                grantee,
                permission,
            },
        )?;
    }
    Ok(grants)
}

/// The ACL a PutBucketAcl/PutObjectAcl asks for: headers or a body, not both.
fn requested_by_put(
    catalog: &CatalogSnapshot,
    head: &RequestHead,
    body: &[u8],
) -> S3Result<Requested> {
    let body_empty = body.iter().all(u8::is_ascii_whitespace);
    match (requested_by_headers(catalog, head)?, body_empty) {
        (Some(_), false) => Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Specifying both Canned ACLs and Header Grants or an ACL document is not allowed",
        )),
        (Some(requested), true) => Ok(requested),
        (None, false) => requested_by_body(catalog, body),
        (None, true) => Err(S3Error::new(
            S3ErrorCode::MissingSecurityHeader,
            "Your request was missing a required header",
        )
        .with_detail("MissingHeaderName", "x-amz-acl")),
    }
}

/// Checks an ACL against the bucket's settings: with ACLs disabled only one
/// granting the bucket owner alone is accepted (and changes nothing); with
/// BlockPublicAcls a public one is refused. `Ok(false)`: nothing to store.
fn admissible(bucket: &BucketInfo, acl: &Acl, bucket_owner: &str) -> S3Result<bool> {
    if !bucket.acls_enabled() {
        return match acl.only_grants_to(bucket_owner) {
            true => Ok(false),
            false => Err(acls_not_supported()),
        };
    }
    if bucket.blocks_public_acls() && acl.is_public() {
        return Err(crate::ops::public_access::blocked());
    }
    Ok(true)
}

/// A canned ACL or a grant header: the request sets an ACL (which also
/// needs its own permission, see `service`).
pub(crate) fn has_acl_headers(head: &RequestHead) -> bool {
    head.headers
        .iter()
        .any(|(name, _)| name == "x-amz-acl" || name.starts_with("x-amz-grant-"))
}

/// The canonical id of the request's account; an anonymous writer's objects
/// belong to the bucket owner.
fn writer_canonical_id(ctx: &RequestContext, bucket_owner: &str) -> String {
    ctx.auth
        .principal()
        .map(|principal| principal.canonical_id.clone())
        .unwrap_or_else(|| bucket_owner.to_owned())
}

/// The ACL meta entry of a new object (PutObject, CopyObject,
/// CreateMultipartUpload): from the request's headers, or from a POST form's
/// `acl` field when `form_canned` is given. `None`: the bucket owner's
/// FULL_CONTROL alone, which needs no entry.
pub(crate) fn meta_for_new_object(
    ctx: &RequestContext,
    bucket: &BucketInfo,
    head: &RequestHead,
    form_canned: Option<&str>,
) -> S3Result<Option<(String, String)>> {
    // The common case costs no allocation: no ACL asked for, and the new
    // object belongs to the bucket owner, whose FULL_CONTROL needs no entry.
    let owner_writes = bucket.ownership == Some(ObjectOwnership::BucketOwnerEnforced)
        || ctx
            .auth
            .account_id()
            .is_none_or(|account| account == bucket.owner_account);
    if form_canned.is_none() && owner_writes && !has_acl_headers(head) {
        return Ok(None);
    }
    let requested = match form_canned {
        Some(canned) => Some(requested_canned(canned)?),
        None => requested_by_headers(&ctx.catalog, head)?,
    };
    let bucket_owner = OwnerText::of_account(&ctx.catalog, &bucket.owner_account).id;
    let writer = writer_canonical_id(ctx, &bucket_owner);
    let owner = match bucket.ownership {
        Some(ObjectOwnership::BucketOwnerEnforced) => bucket_owner.clone(),
        Some(ObjectOwnership::BucketOwnerPreferred)
            if requested == Some(Requested::Canned("bucket-owner-full-control".into())) =>
        {
            bucket_owner.clone()
        }
        _ => writer,
    };
    let acl = match &requested {
        Some(requested) => requested.resolve(&owner, &bucket_owner),
        None => Acl::private(&owner),
    };
    if !admissible(bucket, &acl, &bucket_owner)? {
        return Ok(None);
    }
    let default = owner == bucket_owner && acl == Acl::private(&bucket_owner);
    Ok((!default).then(|| (META_ACL.to_owned(), acl.to_stored())))
}

/// The bucket setting a CreateBucket's ACL headers ask for (`None`: the
/// owner's FULL_CONTROL alone). Under BucketOwnerEnforced an ACL granting
/// anyone else is InvalidBucketAclWithObjectOwnership, as on AWS.
pub(crate) fn setting_for_new_bucket(
    catalog: &CatalogSnapshot,
    head: &RequestHead,
    owner: &str,
    ownership: ObjectOwnership,
) -> S3Result<Option<String>> {
    let Some(requested) = requested_by_headers(catalog, head)? else {
        return Ok(None);
    };
    let acl = requested.resolve(owner, owner);
    if acl.only_grants_to(owner) {
        return Ok(None);
    }
    if ownership == ObjectOwnership::BucketOwnerEnforced {
        return Err(acl_conflicts_with_enforced());
    }
    Ok(Some(acl.to_stored()))
}

/// The object's ACL as stored in its meta (`None`: no entry, or damaged).
pub(crate) fn stored_object_acl(meta: &[(String, String)]) -> Option<Acl> {
    let (_, text) = meta.iter().find(|(name, _)| name == META_ACL)?;
    Acl::from_stored(text)
}

/// `AccessControlPolicy` of an ACL, with account names from the catalog.
fn policy_xml(catalog: &CatalogSnapshot, acl: &Acl) -> Vec<u8> {
    let display_name = |canonical_id: &str| {
        catalog
            .accounts
            .values()
            .find(|account| account.canonical_id == canonical_id)
            .map(|account| account.name.clone())
            .unwrap_or_else(|| canonical_id.to_owned())
    };
    let mut out = Vec::new();
    let mut w = XmlWriter::document(&mut out);
    w.open_root("AccessControlPolicy");
    w.owner(&xml::Owner {
        id: &acl.owner,
        display_name: &display_name(&acl.owner),
    });
    w.open("AccessControlList");
    for grant in &acl.grants {
        w.open("Grant");
        match &grant.grantee {
            Grantee::Account(id) => {
                w.open("Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"");
                w.text("ID", id);
                w.text("DisplayName", &display_name(id));
            }
            Grantee::Group(group) => {
                w.open("Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\"");
                w.text("URI", group.uri());
            }
        }
        w.close("Grantee");
        w.text("Permission", grant.permission.as_str());
        w.close("Grant");
    }
    w.close("AccessControlList");
    w.close("AccessControlPolicy");
    out
}

/// The bucket's ACL as it applies: the owner's FULL_CONTROL alone when none
/// is stored or ACLs are disabled.
fn effective_bucket_acl(catalog: &CatalogSnapshot, bucket: &BucketInfo) -> Acl {
    let owner = OwnerText::of_account(catalog, &bucket.owner_account).id;
    match (&bucket.acl, bucket.acls_enabled()) {
        (Some(acl), true) => (**acl).clone(),
        _ => Acl::private(&owner),
    }
}

pub async fn get_bucket_acl(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let acl = effective_bucket_acl(&ctx.catalog, &bucket);
    ctx.respond_xml(ex, policy_xml(&ctx.catalog, &acl)).await
}

pub async fn put_bucket_acl(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let body = read_acl_body(ctx, ex).await?;
    let requested = requested_by_put(&ctx.catalog, ex.head(), &body)?;
    let owner = OwnerText::of_account(&ctx.catalog, &bucket.owner_account).id;
    let acl = requested.resolve(&owner, &owner);
    if admissible(&bucket, &acl, &owner)? {
        let value = (acl != Acl::private(&owner)).then(|| acl.to_stored());
        crate::ops::versioning::set_setting(shard, &bucket, SETTING_ACL, value).await?;
    }
    ctx.respond(ex, 200, &[], BodyLen::Empty).await
}

async fn read_acl_body(ctx: &RequestContext, ex: &mut Exchange<'_>) -> S3Result<Vec<u8>> {
    let body = crate::body::read_small_body_or(
        ex,
        &ctx.payload,
        ACL_BODY_BYTES_MAX,
        crate::body::HeaderChecksums::OfBody,
        || {
            S3Error::new(
                S3ErrorCode::MaxMessageLengthExceeded,
                "Your request was too big.",
            )
        },
    )
    .await?;
    // A document must arrive intact, as AWS requires (Content-MD5 or a
    // checksum) unless the signature covers its hash; headers-only requests
    // have nothing to check.
    let hash_signed = matches!(ctx.payload, crate::body::PayloadMode::Sha256(_));
    if !hash_signed && !body.is_empty() {
        crate::body::require_integrity_header(ex.head(), &body)?;
    }
    Ok(body)
}

pub async fn get_object_acl(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    version_id: Option<VersionId>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let (record, version) =
        crate::ops::load_object_version(shard, ctx, &bucket, version_id.as_ref())?;
    let headers = crate::ops::versioning::version_headers(version);
    let bucket_owner = OwnerText::of_account(&ctx.catalog, &bucket.owner_account).id;
    let acl = bucket
        .acls_enabled()
        .then(|| stored_object_acl(&record.meta))
        .flatten()
        .unwrap_or_else(|| Acl::private(&bucket_owner));
    ctx.respond_xml_with(ex, &headers, policy_xml(&ctx.catalog, &acl))
        .await
}

pub async fn put_object_acl(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    version_id: Option<VersionId>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let key = ctx.key()?.clone();
    let body = read_acl_body(ctx, ex).await?;
    let (record, version_header) =
        crate::ops::load_object_version(shard, ctx, &bucket, version_id.as_ref())?;
    let requested = requested_by_put(&ctx.catalog, ex.head(), &body)?;
    let bucket_owner = OwnerText::of_account(&ctx.catalog, &bucket.owner_account).id;
    // The object keeps its owner; only its grants change.
    let owner = stored_object_acl(&record.meta)
        .map(|acl| acl.owner)
        .unwrap_or_else(|| bucket_owner.clone());
    let acl = requested.resolve(&owner, &bucket_owner);
    let store = admissible(&bucket, &acl, &bucket_owner)?;
    let event = crate::notify::ObjectEvent {
        name: crate::notify::EventName::ObjectAclPut,
        key: key.as_str(),
        size_bytes: record.size_bytes,
        etag: &record.etag,
        version_id: version_header.as_deref(),
    };
    let events = ctx.object_event(shard, ex.peer_addr().ip(), &bucket, event);
    if store {
        let default = owner == bucket_owner && acl == Acl::private(&bucket_owner);
        let version = version_id
            .as_ref()
            .map(|id| crate::ops::versioning::parse_version_id(id.as_str()))
            .transpose()?;
        let op = IndexOp::SetObjectMeta {
            bucket_id: bucket.id,
            key: key.as_bytes().to_vec(),
            version,
            name: META_ACL.to_owned(),
            value: (!default).then(|| acl.to_stored()),
        };
        shard
            .commit_notified(bucket.owner_shard, op, events)
            .await
            .map_err(|err| engine_error(err).with_resource(ctx.resource()))?;
    } else if let Some(events) = events {
        // Accepted without a change to store (ACLs disabled, the owner's
        // own grants): AWS still notifies the call.
        events.enqueue(shard.event_sequence());
    }
    let headers = crate::ops::versioning::version_headers(version_header);
    ctx.respond_owned(ex, 200, &headers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog_with(canonical_ids: &[&str]) -> CatalogSnapshot {
        let mut catalog = CatalogSnapshot::default();
        for (i, id) in canonical_ids.iter().enumerate() {
            let account_id = format!("{i:012}");
            catalog.accounts.insert(
                account_id.clone(),
                iam::snapshot::AccountInfo {
                    id: account_id,
                    name: format!("tenant{i}"),
                    canonical_id: (*id).to_owned(),
                },
            );
        }
        catalog
    }

    fn head(headers: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: "PUT".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..RequestHead::default()
        }
    }

    #[test]
    fn grant_headers_name_accounts_and_groups() {
        let catalog = catalog_with(&["aaaa", "bbbb"]);
        let requested = requested_by_headers(
            &catalog,
            &head(&[
                (
                    "x-amz-grant-read",
                    "id=\"bbbb\", uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"",
                ),
                ("x-amz-grant-write-acp", "id=aaaa"),
            ]),
        )
        .unwrap()
        .unwrap();
        let Requested::Grants(grants) = requested else {
            panic!("grants expected")
        };
        assert_eq!(grants.len(), 3);
        assert_eq!(grants[1].grantee, Grantee::Group(Group::AllUsers));
        for bad in [
            ("x-amz-grant-read", "id=\"cccc\""),
            ("x-amz-grant-read", "uri=\"http://example.com/Everyone\""),
            ("x-amz-grant-read", "everyone"),
        ] {
            let err = requested_by_headers(&catalog, &head(&[bad])).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{bad:?}");
        }
        let err = requested_by_headers(
            &catalog,
            &head(&[("x-amz-grant-read", "emailAddress=\"a@example.com\"")]),
        )
        .unwrap_err();
        assert_eq!(err.code, S3ErrorCode::UnresolvableGrantByEmailAddress);
        let err = requested_by_headers(
            &catalog,
            &head(&[
                ("x-amz-acl", "public-read"),
                ("x-amz-grant-read", "id=aaaa"),
            ]),
        )
        .unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidRequest);
        let err = requested_by_headers(&catalog, &head(&[("x-amz-acl", "world")])).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidArgument);
    }

    #[test]
    fn policy_documents_parse_within_limits() {
        let catalog = catalog_with(&["aaaa", "bbbb"]);
        let body = br#"<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
            <Owner><ID>aaaa</ID></Owner><AccessControlList>
            <Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>bbbb</ID></Grantee><Permission>WRITE</Permission></Grant>
            <Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AuthenticatedUsers</URI></Grantee><Permission>READ</Permission></Grant>
            </AccessControlList></AccessControlPolicy>"#;
        let Requested::Grants(grants) = requested_by_body(&catalog, body).unwrap() else {
            panic!("grants expected")
        };
        assert_eq!(grants.len(), 2);
        let bad_permission = br#"<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>bbbb</ID></Grantee><Permission>EVERYTHING</Permission></Grant></AccessControlList></AccessControlPolicy>"#;
        assert_eq!(
            requested_by_body(&catalog, bad_permission)
                .unwrap_err()
                .code,
            S3ErrorCode::MalformedACLError
        );
        let mut many = String::from("<AccessControlPolicy><AccessControlList>");
        for permission in ["READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL"] {
            for _ in 0..30 {
                many.push_str(&format!(
                    "<Grant><Grantee><ID>bbbb</ID></Grantee><Permission>{permission}</Permission></Grant>"
                ));
            }
        }
        // Repeated grants collapse: five distinct ones are within the limit.
        many.push_str("</AccessControlList></AccessControlPolicy>");
        assert!(requested_by_body(&catalog, many.as_bytes()).is_ok());
        assert_eq!(
            requested_by_body(&catalog, b"<NotAnAcl/>")
                .unwrap_err()
                .code,
            S3ErrorCode::MalformedACLError
        );
    }

    #[test]
    fn grant_count_is_limited() {
        let mut grants = Vec::new();
        let ids: Vec<String> = (0..=GRANTS_MAX).map(|i| format!("{i:064}")).collect();
        let mut result = Ok(());
        for id in &ids {
            result = push_grant(
                &mut grants,
                Grant {
                    grantee: Grantee::Account(id.clone()),
                    permission: Permission::Read,
                },
            );
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result.unwrap_err().code, S3ErrorCode::MalformedACLError);
    }
}
