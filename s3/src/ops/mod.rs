//! The S3 operations, one file per family, and the per-request context they
//! share. `mod.rs` holds only that shared glue.

pub mod acl;
pub mod attributes;
pub mod bucket;
pub mod bucket_options;
pub mod conditions;
pub mod copy;
pub mod cors;
pub mod delete;
pub mod encryption;
pub mod lifecycle;
pub mod list;
pub mod multipart;
pub mod notification;
pub mod object;
pub mod object_lock;
pub mod ownership;
pub mod policy;
pub mod post_object;
pub mod public_access;
pub mod query_api;
pub mod range;
pub mod sosapi;
pub mod tagging;
pub mod versioning;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use engine::EngineError;
use http::{BodyLen, Exchange};

use crate::body::BodyIntegrity;
use crate::body::PayloadMode;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::names::ObjectKey;
use crate::router::Route;
use crate::shard::{BucketInfo, CatalogSnapshot, Shard};

/// An account as an `Owner` element shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerText {
    pub id: String,
    pub display_name: String,
}

impl OwnerText {
    pub fn of_account(catalog: &CatalogSnapshot, account_id: &str) -> Self {
        match catalog.account(account_id) {
            Some(account) => OwnerText {
                id: account.canonical_id.clone(),
                display_name: account.name.clone(),
            },
            None => OwnerText {
                id: account_id.to_owned(),
                display_name: account_id.to_owned(),
            },
        }
    }

    pub fn as_xml(&self) -> crate::xml::Owner<'_> {
        crate::xml::Owner {
            id: &self.id,
            display_name: &self.display_name,
        }
    }
}

/// What one request carries through its operation.
pub struct RequestContext {
    pub request_id: String,
    pub route: Route,
    /// How the body is framed and signed (from authentication).
    pub payload: PayloadMode,
    /// Who signed the request (from authentication).
    pub auth: crate::authz::Authenticated,
    pub now_ms: u64,
    /// The catalog as of the start of the request.
    pub catalog: Arc<CatalogSnapshot>,
    /// Set once the response head is on the wire: an error after that can
    /// only cut the connection.
    pub head_sent: bool,
    /// The CORS headers every response to this request carries (computed
    /// once after routing; empty without `Origin` or a matching rule).
    pub cors: crate::ops::cors::CorsHeaders,
    /// Tell when the event notifications of this request's changes are on
    /// disk: awaited before the response head goes out (`crate::notify`).
    pub events: Vec<futures_channel::oneshot::Receiver<bool>>,
}

impl RequestContext {
    pub fn bucket_name(&self) -> S3Result<&str> {
        self.route
            .bucket
            .as_ref()
            .map(|bucket| bucket.as_str())
            .ok_or_else(|| S3Error::new(S3ErrorCode::InvalidRequest, "A bucket name is required."))
    }

    /// The bucket this request names, from the catalog snapshot.
    pub fn bucket_info(&self, shard: &Shard) -> S3Result<BucketInfo> {
        let name = self.bucket_name()?;
        if let Some(info) = self.catalog.buckets.get(name) {
            return Ok(info.clone());
        }
        // A bucket created a moment ago through another shard: its snapshot
        // may have landed after this request started.
        shard.catalog().buckets.get(name).cloned().ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::NoSuchBucket,
                "The specified bucket does not exist",
            )
            .with_resource(format!("/{name}"))
        })
    }

    /// The owner of the bucket this request names, as S3 answers show it:
    /// the owning account's canonical id and name (an account's users share it).
    pub fn bucket_owner(&self, shard: &Shard) -> S3Result<OwnerText> {
        let bucket = self.bucket_info(shard)?;
        Ok(OwnerText::of_account(&self.catalog, &bucket.owner_account))
    }

    /// Asks the policy engine about another resource or action of the
    /// request: a copy's source, each key of DeleteObjects, a governance
    /// bypass. `version` is the version the action is about (its tags are
    /// what `s3:ExistingObjectTag` asks about).
    pub fn authorize_object(
        &self,
        shard: &Shard,
        ex: &Exchange<'_>,
        action: &str,
        target: (&BucketInfo, &str, Option<engine::index::VersionSel>),
    ) -> S3Result<()> {
        let (bucket, key, version) = target;
        if self.auth.is_system_root() {
            return Ok(());
        }
        let existing_tags = crate::authz::needs_existing_tags(&self.auth, Some(bucket))
            .then(|| existing_object_tags(shard, bucket, key, version))
            .flatten();
        let object_acl = || existing_object_acl(shard, bucket, key, version);
        let facts = crate::authz::S3Facts {
            head: ex.head(),
            route: &self.route,
            auth: &self.auth,
            peer: ex.peer_addr(),
            tls: shard.secure_transport(ex),
            now_ms: self.now_ms,
            existing_tags: existing_tags.as_deref(),
            object_acl: Some(&object_acl),
        };
        let resource = crate::authz::resource_arn(Some(&bucket.name), Some(key));
        crate::authz::authorize(&facts, action, &resource, Some(bucket))
    }

    /// The event notifications of a change this request is about to commit
    /// on `bucket`, for the commit to carry (`None` when the bucket has no
    /// rule the event fires); the request then waits for them to be on disk
    /// before it answers.
    #[must_use = "the events travel with the commit"]
    pub fn object_event(
        &mut self,
        shard: &Shard,
        peer: std::net::IpAddr,
        bucket: &BucketInfo,
        event: crate::notify::ObjectEvent<'_>,
    ) -> Option<crate::notify::CommitEvents> {
        bucket.notification.as_ref()?;
        let principal_id = self
            .auth
            .principal()
            .map(|principal| format!("AWS:{}", principal.user_id))
            .unwrap_or_default();
        let source = crate::notify::EventSource {
            region: &shard.settings.region,
            time_ms: crate::service::now_ms(),
            principal_id: &principal_id,
            source_ip: peer.to_string(),
            request_id: &self.request_id,
        };
        let (events, durable) =
            crate::notify::record(shard.settings.events.as_ref(), bucket, &source, &event)?;
        self.events.push(durable);
        Some(events)
    }

    /// [`RequestContext::object_event`] about the object this request names.
    #[must_use = "the events travel with the commit"]
    pub fn object_event_here(
        &mut self,
        shard: &Shard,
        peer: std::net::IpAddr,
        bucket: &BucketInfo,
        (name, size_bytes, etag): (crate::notify::EventName, u64, &str),
        version: Option<engine::index::VersionWrite>,
    ) -> Option<crate::notify::CommitEvents> {
        bucket.notification.as_ref()?;
        let key = self
            .route
            .key
            .as_ref()
            .map(|key| key.as_str().to_owned())
            .unwrap_or_default();
        let version_id = version.and_then(crate::ops::versioning::version_id_header);
        let event = crate::notify::ObjectEvent {
            name,
            key: &key,
            size_bytes,
            etag: etag.trim_matches('"'),
            version_id: version_id.as_ref().map(|(_, id)| id.as_str()),
        };
        self.object_event(shard, peer, bucket, event)
    }

    pub fn key(&self) -> S3Result<&ObjectKey> {
        self.route
            .key
            .as_ref()
            .ok_or_else(|| S3Error::new(S3ErrorCode::InvalidRequest, "An object key is required."))
    }

    /// `/bucket/key` for error bodies.
    pub fn resource(&self) -> String {
        match (&self.route.bucket, &self.route.key) {
            (Some(bucket), Some(key)) => format!("/{}/{}", bucket.as_str(), key.as_str()),
            (Some(bucket), None) => format!("/{}", bucket.as_str()),
            _ => "/".into(),
        }
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.route.query_value(name)
    }

    /// Sends the response head with the headers every response carries.
    pub async fn send_head(
        &mut self,
        ex: &mut Exchange<'_>,
        status: u16,
        headers: &[(&str, &str)],
        body_len: BodyLen,
    ) -> S3Result<()> {
        // A 2xx promises the change is durable, its events included.
        for durable in std::mem::take(&mut self.events) {
            crate::notify::events_durable(durable).await;
        }
        let mut all: Vec<(&str, &str)> = Vec::with_capacity(headers.len() + 2 + self.cors.len());
        all.push(("x-amz-request-id", self.request_id.as_str()));
        all.push(("x-amz-id-2", self.request_id.as_str()));
        all.extend_from_slice(headers);
        all.extend(
            self.cors
                .iter()
                .map(|(name, value)| (*name, value.as_str())),
        );
        // Marked sent only once it was: a head refused before a byte went out
        // (an invalid header value) still leaves room for an error response.
        match ex.send_head(status, &all, body_len).await {
            Ok(()) => {
                self.head_sent = true;
                Ok(())
            }
            Err(err) if ex.head_started() => {
                self.head_sent = true;
                Err(S3Error::internal(format!("response head not sent: {err}")))
            }
            Err(err) => Err(S3Error::internal(format!("response head refused: {err}"))),
        }
    }

    /// A response without a body (or a HEAD response).
    pub async fn respond(
        &mut self,
        ex: &mut Exchange<'_>,
        status: u16,
        headers: &[(&str, &str)],
        body_len: BodyLen,
    ) -> S3Result<()> {
        self.send_head(ex, status, headers, body_len).await
    }

    /// A response with no body and owned headers (version ids and the like).
    pub async fn respond_owned(
        &mut self,
        ex: &mut Exchange<'_>,
        status: u16,
        headers: &[(String, String)],
    ) -> S3Result<()> {
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        self.send_head(ex, status, &refs, BodyLen::Empty).await
    }

    /// The small XML body of a configuration request (at most
    /// `XML_BODY_BYTES_MAX`; header checksums apply to it).
    pub async fn read_xml_body(&self, ex: &mut Exchange<'_>) -> S3Result<Vec<u8>> {
        self.read_xml_body_checked(ex, BodyIntegrity::Optional)
            .await
    }

    /// As `read_xml_body`, for the operations that need an integrity header.
    pub async fn read_xml_body_checked(
        &self,
        ex: &mut Exchange<'_>,
        integrity: BodyIntegrity,
    ) -> S3Result<Vec<u8>> {
        let body = crate::body::read_small_body(
            ex,
            &self.payload,
            crate::limits::XML_BODY_BYTES_MAX,
            crate::body::HeaderChecksums::OfBody,
        )
        .await?;
        let hash_signed = matches!(self.payload, crate::body::PayloadMode::Sha256(_));
        match integrity {
            BodyIntegrity::Optional => {}
            BodyIntegrity::RequiredUnlessHashSigned if hash_signed => {}
            BodyIntegrity::Required | BodyIntegrity::RequiredUnlessHashSigned => {
                crate::body::require_integrity_header(ex.head(), &body)?
            }
        }
        Ok(body)
    }

    /// A 200 response with an XML body.
    pub async fn respond_xml(&mut self, ex: &mut Exchange<'_>, body: Vec<u8>) -> S3Result<()> {
        self.respond_xml_with(ex, &[], body).await
    }

    /// A 200 response with an XML body and extra headers.
    pub async fn respond_xml_with(
        &mut self,
        ex: &mut Exchange<'_>,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> S3Result<()> {
        let len = body.len() as u64;
        let mut all = vec![("content-type", "application/xml")];
        all.extend(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        self.send_head(ex, 200, &all, BodyLen::Fixed(len)).await?;
        let written = if body.len() <= crate::limits::BODY_COPY_BYTES_MAX {
            ex.write_body_copied(&body).await
        } else {
            ex.write_body(body).await.0
        };
        written.map_err(|_| S3Error::internal("client went away"))
    }
}

/// The metadata of an object version a request is about (the latest when
/// `version` is None); `None` for a missing version or a delete marker.
fn existing_object_meta(
    shard: &Shard,
    bucket: &BucketInfo,
    key: &str,
    version: Option<engine::index::VersionSel>,
) -> Option<Vec<(String, String)>> {
    let index = shard.reader.shard_index(bucket.owner_shard as usize);
    let found = match version {
        None => index.get_latest(bucket.id, key.as_bytes()),
        Some(version) => index.get_version(bucket.id, key.as_bytes(), version),
    };
    let (_, record) = found.ok()??;
    (!record.is_delete_marker()).then_some(record.meta)
}

/// The current tags of an object, for `s3:ExistingObjectTag` conditions.
pub(crate) fn existing_object_tags(
    shard: &Shard,
    bucket: &BucketInfo,
    key: &str,
    version: Option<engine::index::VersionSel>,
) -> Option<Vec<(String, String)>> {
    let meta = existing_object_meta(shard, bucket, key, version)?;
    let (_, stored) = meta
        .iter()
        .find(|(name, _)| name == crate::ops::tagging::META_TAGGING)?;
    Some(crate::ops::tagging::TagSet::from_stored(stored).0)
}

/// The stored ACL of an object, for authorising a request about it.
pub(crate) fn existing_object_acl(
    shard: &Shard,
    bucket: &BucketInfo,
    key: &str,
    version: Option<engine::index::VersionSel>,
) -> Option<iam::acl::Acl> {
    crate::ops::acl::stored_object_acl(&existing_object_meta(shard, bucket, key, version)?)
}

/// The version of the request's object that `version_id` names (the latest
/// when None), with the `x-amz-version-id` value to answer with (none in a
/// bucket that never had versioning). A delete marker is not an object:
/// latest → NoSuchKey, named → MethodNotAllowed, both with
/// `x-amz-delete-marker: true`, as AWS answers.
pub(crate) fn load_object_version(
    shard: &Shard,
    ctx: &RequestContext,
    bucket: &BucketInfo,
    version_id: Option<&crate::names::VersionId>,
) -> S3Result<(engine::index::ObjectRecord, Option<String>)> {
    use crate::ops::versioning::{parse_version_id, HEADER_DELETE_MARKER, HEADER_VERSION_ID};
    let key = ctx.key()?;
    let index = shard.reader.shard_index(bucket.owner_shard as usize);
    let found = match version_id {
        None => index.get_latest(bucket.id, key.as_bytes()),
        Some(version_id) => {
            let version = parse_version_id(version_id.as_str())?;
            index.get_version(bucket.id, key.as_bytes(), version)
        }
    }
    .map_err(engine_error)?;
    let versioned = bucket.versioning != crate::ops::versioning::BucketVersioning::Unversioned;
    let Some((index_key, record)) = found else {
        return Err(match version_id {
            None => S3Error::new(S3ErrorCode::NoSuchKey, "The specified key does not exist."),
            Some(_) => S3Error::new(
                S3ErrorCode::NoSuchVersion,
                "The specified version does not exist.",
            ),
        }
        .with_resource(ctx.resource()));
    };
    let id = engine::index::version_id_of(&index_key, &record);
    let header = (versioned || version_id.is_some() || id != "null").then_some(id);
    if record.is_delete_marker() {
        let err = match version_id {
            None => S3Error::new(S3ErrorCode::NoSuchKey, "The specified key does not exist."),
            Some(_) => S3Error::new(
                S3ErrorCode::MethodNotAllowed,
                "The specified method is not allowed against this resource.",
            )
            .with_header("allow", "DELETE")
            .with_header("last-modified", format_http_date(record.last_modified_ms)),
        };
        let err = err.with_header(HEADER_DELETE_MARKER, "true");
        let err = match header {
            Some(id) => err.with_header(HEADER_VERSION_ID, id),
            None => err,
        };
        return Err(err.with_resource(ctx.resource()));
    }
    Ok((record, header))
}

/// A `COPY`/`REPLACE` directive header (`x-amz-metadata-directive`,
/// `x-amz-tagging-directive`): true for REPLACE; COPY is the default.
pub(crate) fn directive_is_replace(head: &http::RequestHead, header: &str) -> S3Result<bool> {
    match head.header(header).map(str::trim) {
        None => Ok(false),
        Some(value) if value.eq_ignore_ascii_case("COPY") => Ok(false),
        Some(value) if value.eq_ignore_ascii_case("REPLACE") => Ok(true),
        Some(_) => Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            format!("Unknown value for {header}."),
        )),
    }
}

/// Engine failures as the client sees them. Only what the client can act on
/// is passed on; the rest is an InternalError (and a log line).
pub fn engine_error(err: EngineError) -> S3Error {
    match err {
        EngineError::NoSuchBucket => S3Error::new(
            S3ErrorCode::NoSuchBucket,
            "The specified bucket does not exist",
        ),
        EngineError::BucketNotEmpty => S3Error::new(
            S3ErrorCode::BucketNotEmpty,
            "The bucket you tried to delete is not empty",
        ),
        EngineError::DiskFull => S3Error::new(
            S3ErrorCode::InsufficientStorage,
            "The server has no space left to store this object.",
        ),
        EngineError::ShuttingDown => {
            S3Error::new(S3ErrorCode::SlowDown, "The server is shutting down; retry.")
        }
        EngineError::NoSuchUpload => S3Error::new(
            S3ErrorCode::NoSuchUpload,
            "The specified upload does not exist. The upload ID may be invalid, or the upload \
             may have been aborted or completed.",
        ),
        EngineError::InvalidPart { part_number } => S3Error::new(
            S3ErrorCode::InvalidPart,
            format!(
                "One or more of the specified parts could not be found. The part may not have \
                 been uploaded, or the specified entity tag may not match the part's entity \
                 tag. (part {part_number})"
            ),
        ),
        EngineError::PreconditionFailed => S3Error::new(
            S3ErrorCode::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold",
        ),
        EngineError::ObjectLocked => S3Error::new(
            S3ErrorCode::AccessDenied,
            "Access Denied because object protected by object lock.",
        ),
        EngineError::ConditionTargetMissing | EngineError::NoSuchObject => {
            S3Error::new(S3ErrorCode::NoSuchKey, "The specified key does not exist.")
        }
        EngineError::WriteExpired => S3Error::new(
            S3ErrorCode::RequestTimeout,
            "Your socket connection to the server was not read from or written to within the \
             timeout period. Idle connections will be closed.",
        ),
        EngineError::Io(_)
        | EngineError::Corrupt { .. }
        | EngineError::Index(_)
        | EngineError::SegmentInUse { .. }
        | EngineError::SegmentPoisoned => {
            tracing::error!(%err, "engine failure");
            S3Error::internal("We encountered an internal error. Please try again.")
        }
    }
}

/// RFC 7231 date (Last-Modified).
pub fn format_http_date(unix_ms: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(unix_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(
            format_http_date(784_111_777_000),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
    }
}
