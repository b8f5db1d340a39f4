//! Routing: a pure function from an HTTP request head to the S3 operation it
//! asks for.
//!
//! Owns: finding the bucket (virtual-host style `bucket.<base domain>` first,
//! else path style `/bucket/key`), percent-decoding path and query, validating
//! names into `BucketName`/`ObjectKey`, and choosing one `Endpoint` variant per
//! S3 operation from method, sub-resource query parameters and the
//! `x-amz-copy-source` header. Each variant carries only URL-borne parameters
//! and declares the `Permission` it needs.
//!
//! Must not touch: authentication, bodies, storage. The router never looks at
//! anything but the request head, so it is tested on its own from request
//! lines in the AWS API reference.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

use crate::error::{S3Error, S3ErrorCode};
use crate::names::{BucketName, ObjectKey, UploadId, VersionId};

/// Highest part number S3 allows in a multipart upload.
pub const PART_NUMBER_MAX: u16 = 10_000;
/// The liveness probe lives outside the bucket namespace: `_` is not allowed
/// in bucket names, so no bucket can shadow it.
const HEALTH_PATH: &str = "/_maxiofs/health";
/// The readiness probe: 200 only while this server can take writes.
const READY_PATH: &str = "/_maxiofs/ready";

/// The request head, borrowed from the HTTP layer.
#[derive(Debug, Clone, Copy)]
pub struct RouteInput<'a> {
    pub method: &'a str,
    /// Raw request path, still percent-encoded, without the `?query` part.
    pub path: &'a str,
    /// Raw query string after `?`, still percent-encoded; empty when absent.
    pub query: &'a str,
    /// The `Host` header, possibly with a port.
    pub host: Option<&'a str>,
    /// Header names are lowercase.
    pub headers: &'a [(String, String)],
    /// Configured domains for virtual-host style (`s3.localhost`, `localhost`),
    /// without port. A request to `bucket.s3.localhost:9000` names `bucket`.
    pub base_domains: &'a [String],
}

/// The outcome of routing: the operation, the validated names, and the
/// decoded query parameters in request order for the operation to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub endpoint: Endpoint,
    pub bucket: Option<BucketName>,
    pub key: Option<ObjectKey>,
    pub query: Vec<(String, String)>,
}

impl Route {
    /// The value of the first query parameter called `name`.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        query_find(&self.query, name)
    }
}

/// One variant per S3 operation, carrying only parameters found in the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /_maxiofs/health`: liveness probe, no credentials needed.
    Health,
    /// `GET /_maxiofs/ready`: readiness probe, no credentials needed.
    Ready,
    /// `OPTIONS` on a bucket or object: a CORS preflight, answered from the
    /// bucket's CORS configuration without credentials.
    CorsPreflight,
    GetBucketCors,
    PutBucketCors,
    DeleteBucketCors,
    GetBucketTagging,
    PutBucketTagging,
    DeleteBucketTagging,
    GetBucketRequestPayment,
    PutBucketRequestPayment,
    GetBucketAccelerateConfiguration,
    PutBucketAccelerateConfiguration,
    GetBucketNotificationConfiguration,
    PutBucketNotificationConfiguration,
    ListBuckets,
    HeadBucket,
    CreateBucket,
    DeleteBucket,
    GetBucketLocation,
    GetBucketVersioning,
    PutBucketVersioning,
    GetBucketEncryption,
    PutBucketEncryption,
    DeleteBucketEncryption,
    GetBucketAcl,
    PutBucketAcl,
    GetBucketOwnershipControls,
    PutBucketOwnershipControls,
    DeleteBucketOwnershipControls,
    GetPublicAccessBlock,
    PutPublicAccessBlock,
    DeletePublicAccessBlock,
    GetBucketPolicy,
    PutBucketPolicy,
    DeleteBucketPolicy,
    GetBucketPolicyStatus,
    GetObjectLockConfiguration,
    PutObjectLockConfiguration,
    GetBucketLifecycleConfiguration,
    PutBucketLifecycleConfiguration,
    DeleteBucketLifecycle,
    ListObjectsV1,
    ListObjectsV2,
    ListObjectVersions,
    ListMultipartUploads,
    DeleteObjects,
    PutObject,
    /// `POST /bucket` (or `POST /` on a bucket's host) with a
    /// `multipart/form-data` body: a browser form upload. Its key and
    /// credentials are form fields, so the operation authenticates and
    /// authorizes itself once it has read them.
    PostObject,
    /// `PUT` with `x-amz-copy-source`; the source is a header, not in the URL.
    CopyObject,
    GetObject {
        version_id: Option<VersionId>,
        part_number: Option<u16>,
    },
    HeadObject {
        version_id: Option<VersionId>,
        part_number: Option<u16>,
    },
    DeleteObject {
        version_id: Option<VersionId>,
    },
    GetObjectAttributes {
        version_id: Option<VersionId>,
    },
    GetObjectTagging {
        version_id: Option<VersionId>,
    },
    PutObjectTagging {
        version_id: Option<VersionId>,
    },
    DeleteObjectTagging {
        version_id: Option<VersionId>,
    },
    GetObjectAcl {
        version_id: Option<VersionId>,
    },
    PutObjectAcl {
        version_id: Option<VersionId>,
    },
    GetObjectRetention {
        version_id: Option<VersionId>,
    },
    PutObjectRetention {
        version_id: Option<VersionId>,
    },
    GetObjectLegalHold {
        version_id: Option<VersionId>,
    },
    PutObjectLegalHold {
        version_id: Option<VersionId>,
    },
    RestoreObject {
        version_id: Option<VersionId>,
    },
    CreateMultipartUpload,
    /// `part_number` is in `1..=PART_NUMBER_MAX`.
    UploadPart {
        part_number: u16,
        upload_id: UploadId,
    },
    UploadPartCopy {
        part_number: u16,
        upload_id: UploadId,
    },
    CompleteMultipartUpload {
        upload_id: UploadId,
    },
    AbortMultipartUpload {
        upload_id: UploadId,
    },
    ListParts {
        upload_id: UploadId,
    },
    /// A real S3 operation we recognise but do not implement; `name` is AWS's
    /// operation name (`GetBucketAcl`) so the answer can say exactly what.
    Unsupported {
        name: &'static str,
    },
}

/// What the caller must be allowed to do. Names follow IAM's `s3:` actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Needs no credentials at all (the health probe only).
    Anonymous,
    /// Not implemented: authenticate, then answer `NotImplemented`. No policy
    /// can grant it, so an unsupported operation never becomes allowed by
    /// accident once it is implemented.
    Unsupported,
    ListAllMyBuckets,
    CreateBucket,
    DeleteBucket,
    ListBucket,
    ListBucketVersions,
    ListBucketMultipartUploads,
    GetBucketLocation,
    GetBucketVersioning,
    PutBucketVersioning,
    GetEncryptionConfiguration,
    PutEncryptionConfiguration,
    GetBucketAcl,
    PutBucketAcl,
    GetBucketOwnershipControls,
    PutBucketOwnershipControls,
    GetBucketPublicAccessBlock,
    PutBucketPublicAccessBlock,
    GetBucketPolicy,
    PutBucketPolicy,
    DeleteBucketPolicy,
    GetBucketPolicyStatus,
    GetObjectAcl,
    GetObjectVersionAcl,
    PutObjectAcl,
    PutObjectVersionAcl,
    GetBucketObjectLockConfiguration,
    PutBucketObjectLockConfiguration,
    GetLifecycleConfiguration,
    PutLifecycleConfiguration,
    GetBucketCors,
    PutBucketCors,
    GetBucketTagging,
    PutBucketTagging,
    GetBucketRequestPayment,
    PutBucketRequestPayment,
    GetAccelerateConfiguration,
    PutAccelerateConfiguration,
    GetBucketNotification,
    PutBucketNotification,
    GetObjectRetention,
    PutObjectRetention,
    GetObjectLegalHold,
    PutObjectLegalHold,
    RestoreObject,
    GetObject,
    GetObjectVersion,
    PutObject,
    DeleteObject,
    DeleteObjectVersion,
    GetObjectAttributes,
    GetObjectVersionAttributes,
    GetObjectTagging,
    GetObjectVersionTagging,
    PutObjectTagging,
    PutObjectVersionTagging,
    DeleteObjectTagging,
    DeleteObjectVersionTagging,
    ListMultipartUploadParts,
    AbortMultipartUpload,
}

impl Permission {
    /// The IAM action a bucket policy names, or `None` when no policy applies.
    pub fn iam_action(self) -> Option<&'static str> {
        use Permission as P;
        let action = match self {
            P::Anonymous | P::Unsupported => return None,
            P::ListAllMyBuckets => "s3:ListAllMyBuckets",
            P::CreateBucket => "s3:CreateBucket",
            P::DeleteBucket => "s3:DeleteBucket",
            P::ListBucket => "s3:ListBucket",
            P::ListBucketVersions => "s3:ListBucketVersions",
            P::ListBucketMultipartUploads => "s3:ListBucketMultipartUploads",
            P::GetBucketLocation => "s3:GetBucketLocation",
            P::GetBucketVersioning => "s3:GetBucketVersioning",
            P::PutBucketVersioning => "s3:PutBucketVersioning",
            P::GetEncryptionConfiguration => "s3:GetEncryptionConfiguration",
            P::PutEncryptionConfiguration => "s3:PutEncryptionConfiguration",
            P::GetBucketAcl => "s3:GetBucketAcl",
            P::PutBucketAcl => "s3:PutBucketAcl",
            P::GetBucketOwnershipControls => "s3:GetBucketOwnershipControls",
            P::PutBucketOwnershipControls => "s3:PutBucketOwnershipControls",
            P::GetBucketPublicAccessBlock => "s3:GetBucketPublicAccessBlock",
            P::PutBucketPublicAccessBlock => "s3:PutBucketPublicAccessBlock",
            P::GetBucketPolicy => "s3:GetBucketPolicy",
            P::PutBucketPolicy => "s3:PutBucketPolicy",
            P::DeleteBucketPolicy => "s3:DeleteBucketPolicy",
            P::GetBucketPolicyStatus => "s3:GetBucketPolicyStatus",
            P::GetObjectAcl => "s3:GetObjectAcl",
            P::GetObjectVersionAcl => "s3:GetObjectVersionAcl",
            P::PutObjectAcl => "s3:PutObjectAcl",
            P::PutObjectVersionAcl => "s3:PutObjectVersionAcl",
            P::GetBucketObjectLockConfiguration => "s3:GetBucketObjectLockConfiguration",
            P::PutBucketObjectLockConfiguration => "s3:PutBucketObjectLockConfiguration",
            P::GetLifecycleConfiguration => "s3:GetLifecycleConfiguration",
            P::PutLifecycleConfiguration => "s3:PutLifecycleConfiguration",
            P::GetBucketCors => "s3:GetBucketCORS",
            P::PutBucketCors => "s3:PutBucketCORS",
            P::GetBucketTagging => "s3:GetBucketTagging",
            P::PutBucketTagging => "s3:PutBucketTagging",
            P::GetBucketRequestPayment => "s3:GetBucketRequestPayment",
            P::PutBucketRequestPayment => "s3:PutBucketRequestPayment",
            P::GetAccelerateConfiguration => "s3:GetAccelerateConfiguration",
            P::PutAccelerateConfiguration => "s3:PutAccelerateConfiguration",
            P::GetBucketNotification => "s3:GetBucketNotification",
            P::PutBucketNotification => "s3:PutBucketNotification",
            P::GetObjectRetention => "s3:GetObjectRetention",
            P::PutObjectRetention => "s3:PutObjectRetention",
            P::GetObjectLegalHold => "s3:GetObjectLegalHold",
            P::PutObjectLegalHold => "s3:PutObjectLegalHold",
            P::RestoreObject => "s3:RestoreObject",
            P::GetObject => "s3:GetObject",
            P::GetObjectVersion => "s3:GetObjectVersion",
            P::PutObject => "s3:PutObject",
            P::DeleteObject => "s3:DeleteObject",
            P::DeleteObjectVersion => "s3:DeleteObjectVersion",
            P::GetObjectAttributes => "s3:GetObjectAttributes",
            P::GetObjectVersionAttributes => "s3:GetObjectVersionAttributes",
            P::GetObjectTagging => "s3:GetObjectTagging",
            P::GetObjectVersionTagging => "s3:GetObjectVersionTagging",
            P::PutObjectTagging => "s3:PutObjectTagging",
            P::PutObjectVersionTagging => "s3:PutObjectVersionTagging",
            P::DeleteObjectTagging => "s3:DeleteObjectTagging",
            P::DeleteObjectVersionTagging => "s3:DeleteObjectVersionTagging",
            P::ListMultipartUploadParts => "s3:ListMultipartUploadParts",
            P::AbortMultipartUpload => "s3:AbortMultipartUpload",
        };
        Some(action)
    }
}

impl Endpoint {
    /// The permission this operation needs, declared beside the variant list
    /// so adding an operation forces a decision here. Copies also need
    /// `GetObject` on the source and `DeleteObjects` needs `DeleteObject` per
    /// key; the operations check those, as only they read the header or body.
    pub fn permission(&self) -> Permission {
        use Endpoint as E;
        use Permission as P;
        match self {
            E::Health | E::Ready | E::CorsPreflight => P::Anonymous,
            E::GetBucketCors => P::GetBucketCors,
            // IAM has no action of its own for deleting it.
            E::PutBucketCors | E::DeleteBucketCors => P::PutBucketCors,
            E::GetBucketTagging => P::GetBucketTagging,
            // AWS: DeleteBucketTagging needs s3:PutBucketTagging.
            E::PutBucketTagging | E::DeleteBucketTagging => P::PutBucketTagging,
            E::GetBucketRequestPayment => P::GetBucketRequestPayment,
            E::PutBucketRequestPayment => P::PutBucketRequestPayment,
            E::GetBucketAccelerateConfiguration => P::GetAccelerateConfiguration,
            E::PutBucketAccelerateConfiguration => P::PutAccelerateConfiguration,
            E::GetBucketNotificationConfiguration => P::GetBucketNotification,
            E::PutBucketNotificationConfiguration => P::PutBucketNotification,
            E::Unsupported { .. } => P::Unsupported,
            E::ListBuckets => P::ListAllMyBuckets,
            E::HeadBucket | E::ListObjectsV1 | E::ListObjectsV2 => P::ListBucket,
            E::CreateBucket => P::CreateBucket,
            E::DeleteBucket => P::DeleteBucket,
            E::GetBucketLocation => P::GetBucketLocation,
            E::GetBucketVersioning => P::GetBucketVersioning,
            E::PutBucketVersioning => P::PutBucketVersioning,
            E::GetBucketEncryption => P::GetEncryptionConfiguration,
            // IAM has no action of its own for deleting it.
            E::PutBucketEncryption | E::DeleteBucketEncryption => P::PutEncryptionConfiguration,
            E::GetBucketAcl => P::GetBucketAcl,
            E::PutBucketAcl => P::PutBucketAcl,
            E::GetBucketOwnershipControls => P::GetBucketOwnershipControls,
            // IAM has no actions of their own for deleting them.
            E::PutBucketOwnershipControls | E::DeleteBucketOwnershipControls => {
                P::PutBucketOwnershipControls
            }
            E::GetPublicAccessBlock => P::GetBucketPublicAccessBlock,
            E::PutPublicAccessBlock | E::DeletePublicAccessBlock => P::PutBucketPublicAccessBlock,
            E::GetBucketPolicy => P::GetBucketPolicy,
            E::PutBucketPolicy => P::PutBucketPolicy,
            E::DeleteBucketPolicy => P::DeleteBucketPolicy,
            E::GetBucketPolicyStatus => P::GetBucketPolicyStatus,
            E::GetObjectAcl { version_id } => {
                versioned(version_id, P::GetObjectAcl, P::GetObjectVersionAcl)
            }
            E::PutObjectAcl { version_id } => {
                versioned(version_id, P::PutObjectAcl, P::PutObjectVersionAcl)
            }
            E::GetObjectLockConfiguration => P::GetBucketObjectLockConfiguration,
            E::PutObjectLockConfiguration => P::PutBucketObjectLockConfiguration,
            E::GetBucketLifecycleConfiguration => P::GetLifecycleConfiguration,
            // IAM has no action of its own for deleting it.
            E::PutBucketLifecycleConfiguration | E::DeleteBucketLifecycle => {
                P::PutLifecycleConfiguration
            }
            E::GetObjectRetention { .. } => P::GetObjectRetention,
            E::PutObjectRetention { .. } => P::PutObjectRetention,
            E::GetObjectLegalHold { .. } => P::GetObjectLegalHold,
            E::PutObjectLegalHold { .. } => P::PutObjectLegalHold,
            E::RestoreObject { .. } => P::RestoreObject,
            E::ListObjectVersions => P::ListBucketVersions,
            E::ListMultipartUploads => P::ListBucketMultipartUploads,
            E::DeleteObjects => P::DeleteObject,
            E::PutObject | E::CopyObject | E::CreateMultipartUpload => P::PutObject,
            E::PostObject => P::PutObject,
            E::UploadPart { .. } | E::UploadPartCopy { .. } => P::PutObject,
            E::CompleteMultipartUpload { .. } => P::PutObject,
            E::AbortMultipartUpload { .. } => P::AbortMultipartUpload,
            E::ListParts { .. } => P::ListMultipartUploadParts,
            E::GetObject { version_id, .. } | E::HeadObject { version_id, .. } => {
                versioned(version_id, P::GetObject, P::GetObjectVersion)
            }
            E::DeleteObject { version_id } => {
                versioned(version_id, P::DeleteObject, P::DeleteObjectVersion)
            }
            E::GetObjectAttributes { version_id } => versioned(
                version_id,
                P::GetObjectAttributes,
                P::GetObjectVersionAttributes,
            ),
            E::GetObjectTagging { version_id } => {
                versioned(version_id, P::GetObjectTagging, P::GetObjectVersionTagging)
            }
            E::PutObjectTagging { version_id } => {
                versioned(version_id, P::PutObjectTagging, P::PutObjectVersionTagging)
            }
            E::DeleteObjectTagging { version_id } => versioned(
                version_id,
                P::DeleteObjectTagging,
                P::DeleteObjectVersionTagging,
            ),
        }
    }

    /// AWS's name for the operation, for logs, metrics and error messages.
    pub fn name(&self) -> &'static str {
        use Endpoint as E;
        match self {
            E::Health => "Health",
            E::Ready => "Ready",
            E::CorsPreflight => "CorsPreflight",
            E::GetBucketCors => "GetBucketCors",
            E::PutBucketCors => "PutBucketCors",
            E::DeleteBucketCors => "DeleteBucketCors",
            E::GetBucketTagging => "GetBucketTagging",
            E::PutBucketTagging => "PutBucketTagging",
            E::DeleteBucketTagging => "DeleteBucketTagging",
            E::GetBucketRequestPayment => "GetBucketRequestPayment",
            E::PutBucketRequestPayment => "PutBucketRequestPayment",
            E::GetBucketAccelerateConfiguration => "GetBucketAccelerateConfiguration",
            E::PutBucketAccelerateConfiguration => "PutBucketAccelerateConfiguration",
            E::GetBucketNotificationConfiguration => "GetBucketNotificationConfiguration",
            E::PutBucketNotificationConfiguration => "PutBucketNotificationConfiguration",
            E::ListBuckets => "ListBuckets",
            E::HeadBucket => "HeadBucket",
            E::CreateBucket => "CreateBucket",
            E::DeleteBucket => "DeleteBucket",
            E::GetBucketLocation => "GetBucketLocation",
            E::GetBucketVersioning => "GetBucketVersioning",
            E::PutBucketVersioning => "PutBucketVersioning",
            E::GetBucketEncryption => "GetBucketEncryption",
            E::PutBucketEncryption => "PutBucketEncryption",
            E::DeleteBucketEncryption => "DeleteBucketEncryption",
            E::GetBucketAcl => "GetBucketAcl",
            E::PutBucketAcl => "PutBucketAcl",
            E::GetBucketOwnershipControls => "GetBucketOwnershipControls",
            E::PutBucketOwnershipControls => "PutBucketOwnershipControls",
            E::DeleteBucketOwnershipControls => "DeleteBucketOwnershipControls",
            E::GetPublicAccessBlock => "GetPublicAccessBlock",
            E::PutPublicAccessBlock => "PutPublicAccessBlock",
            E::DeletePublicAccessBlock => "DeletePublicAccessBlock",
            E::GetBucketPolicy => "GetBucketPolicy",
            E::PutBucketPolicy => "PutBucketPolicy",
            E::DeleteBucketPolicy => "DeleteBucketPolicy",
            E::GetBucketPolicyStatus => "GetBucketPolicyStatus",
            E::GetObjectAcl { .. } => "GetObjectAcl",
            E::PutObjectAcl { .. } => "PutObjectAcl",
            E::GetObjectLockConfiguration => "GetObjectLockConfiguration",
            E::PutObjectLockConfiguration => "PutObjectLockConfiguration",
            E::GetBucketLifecycleConfiguration => "GetBucketLifecycleConfiguration",
            E::PutBucketLifecycleConfiguration => "PutBucketLifecycleConfiguration",
            E::DeleteBucketLifecycle => "DeleteBucketLifecycle",
            E::GetObjectRetention { .. } => "GetObjectRetention",
            E::PutObjectRetention { .. } => "PutObjectRetention",
            E::GetObjectLegalHold { .. } => "GetObjectLegalHold",
            E::PutObjectLegalHold { .. } => "PutObjectLegalHold",
            E::RestoreObject { .. } => "RestoreObject",
            E::ListObjectsV1 => "ListObjects",
            E::ListObjectsV2 => "ListObjectsV2",
            E::ListObjectVersions => "ListObjectVersions",
            E::ListMultipartUploads => "ListMultipartUploads",
            E::DeleteObjects => "DeleteObjects",
            E::PutObject => "PutObject",
            E::PostObject => "PostObject",
            E::CopyObject => "CopyObject",
            E::GetObject { .. } => "GetObject",
            E::HeadObject { .. } => "HeadObject",
            E::DeleteObject { .. } => "DeleteObject",
            E::GetObjectAttributes { .. } => "GetObjectAttributes",
            E::GetObjectTagging { .. } => "GetObjectTagging",
            E::PutObjectTagging { .. } => "PutObjectTagging",
            E::DeleteObjectTagging { .. } => "DeleteObjectTagging",
            E::CreateMultipartUpload => "CreateMultipartUpload",
            E::UploadPart { .. } => "UploadPart",
            E::UploadPartCopy { .. } => "UploadPartCopy",
            E::CompleteMultipartUpload { .. } => "CompleteMultipartUpload",
            E::AbortMultipartUpload { .. } => "AbortMultipartUpload",
            E::ListParts { .. } => "ListParts",
            E::Unsupported { name } => name,
        }
    }
}

/// Addressing a specific version needs the `...Version...` permission in IAM.
fn versioned(version_id: &Option<VersionId>, latest: Permission, exact: Permission) -> Permission {
    if version_id.is_some() {
        exact
    } else {
        latest
    }
}

/// Routes one request head. Pure: same input, same answer, no I/O.
pub fn route(req: &RouteInput<'_>) -> Result<Route, S3Error> {
    let query = query_decode(req.query)?;
    let path = path_decode(req.path)?;
    let host_bucket = req
        .host
        .and_then(|host| host_bucket(host, req.base_domains));
    let (bucket, key) = match host_bucket {
        Some(bucket) => (Some(Cow::Owned(bucket)), &path[1..]),
        None if path == HEALTH_PATH => return route_health(req.method, query, Endpoint::Health),
        None if path == READY_PATH => return route_health(req.method, query, Endpoint::Ready),
        None => path_split(&path),
    };
    let bucket = bucket.map(|b| BucketName::parse(&b)).transpose()?;
    let key = if key.is_empty() {
        None
    } else {
        Some(ObjectKey::parse(key)?)
    };
    let endpoint = match (&bucket, &key) {
        (None, _) => service_endpoint(req.method)?,
        (Some(_), None) => bucket_endpoint(req.method, &query)?,
        (Some(_), Some(_)) => object_endpoint(req.method, &query, req.headers)?,
    };
    Ok(Route {
        endpoint,
        bucket,
        key,
        query,
    })
}

fn route_health(
    method: &str,
    query: Vec<(String, String)>,
    endpoint: Endpoint,
) -> Result<Route, S3Error> {
    if method != "GET" && method != "HEAD" {
        return Err(method_not_allowed(method));
    }
    Ok(Route {
        endpoint,
        bucket: None,
        key: None,
        query,
    })
}

/// Splits a decoded path-style path into bucket and key (`/b/k/x` gives `b`
/// and `k/x`). The path was decoded first, so a `%2F` inside a key is a `/`.
fn path_split(path: &str) -> (Option<Cow<'_, str>>, &str) {
    let rest = &path[1..];
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket = (!bucket.is_empty()).then_some(Cow::Borrowed(bucket));
    (bucket, key)
}

/// Decodes the path. A `+` stays a `+`: only query strings use form encoding.
fn path_decode(raw: &str) -> Result<String, S3Error> {
    if !raw.starts_with('/') {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "The request path must start with '/'.",
        ));
    }
    let decoded = percent_decode_str(raw).decode_utf8().map_err(|_| {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "The request path is not valid UTF-8.",
        )
    })?;
    Ok(decoded.into_owned())
}

/// Decodes `a=1&b&c=x+y` into `[(a, 1), (b, ""), (c, "x y")]`, keeping order.
///
/// `+` means a space here, as in HTML forms and as AWS S3 reads query strings;
/// SDKs always send a literal plus as `%2B`, so nothing they send changes.
pub fn query_decode(raw: &str) -> Result<Vec<(String, String)>, S3Error> {
    let mut pairs = Vec::new();
    for piece in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        pairs.push((
            query_component_decode(name)?,
            query_component_decode(value)?,
        ));
    }
    Ok(pairs)
}

fn query_component_decode(raw: &str) -> Result<String, S3Error> {
    let spaced = if raw.contains('+') {
        Cow::Owned(raw.replace('+', " "))
    } else {
        raw.into()
    };
    let decoded = percent_decode_str(&spaced).decode_utf8().map_err(|_| {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "The query string is not valid UTF-8.",
        )
    })?;
    Ok(decoded.into_owned())
}

/// The bucket named by the `Host` header, or `None` for path style.
///
/// A host equal to a base domain is path style even when it also ends in
/// another base domain (`s3.localhost` with `localhost` configured); otherwise
/// the longest matching domain wins, so `b.s3.localhost` names `b`, not `b.s3`.
pub(crate) fn host_bucket(host: &str, base_domains: &[String]) -> Option<String> {
    let host = host_without_port(host).to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    if base_domains.iter().any(|d| d.eq_ignore_ascii_case(host)) {
        return None;
    }
    let bucket_len = base_domains
        .iter()
        .filter_map(|domain| host_bucket_len(host, domain))
        .min()?;
    Some(host[..bucket_len].to_owned())
}

/// Length of the bucket label(s) when `host` is `<bucket>.<domain>`.
fn host_bucket_len(host: &str, domain: &str) -> Option<usize> {
    let split = host.len().checked_sub(domain.len() + 1)?;
    let suffix = host.get(split..)?;
    let matches = suffix.starts_with('.') && suffix[1..].eq_ignore_ascii_case(domain);
    (matches && split > 0).then_some(split)
}

/// `[::1]:9000` gives `[::1]`, `host:9000` gives `host`.
fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.split_once(':').map_or(host, |(name, _)| name)
}

fn service_endpoint(method: &str) -> Result<Endpoint, S3Error> {
    match method {
        "GET" | "HEAD" => Ok(Endpoint::ListBuckets),
        _ => Err(method_not_allowed(method)),
    }
}

fn bucket_endpoint(method: &str, query: &[(String, String)]) -> Result<Endpoint, S3Error> {
    if let Some(endpoint) = subresource_unsupported(BUCKET_SUBRESOURCES, method, query) {
        return endpoint;
    }
    let has = |name| query_has(query, name);
    match method {
        "GET" if has("encryption") => Ok(Endpoint::GetBucketEncryption),
        "PUT" if has("encryption") => Ok(Endpoint::PutBucketEncryption),
        "DELETE" if has("encryption") => Ok(Endpoint::DeleteBucketEncryption),
        "POST" if has("encryption") => Err(method_not_allowed(method)),
        "GET" if has("policyStatus") => Ok(Endpoint::GetBucketPolicyStatus),
        "PUT" | "POST" | "DELETE" if has("policyStatus") => Err(method_not_allowed(method)),
        "GET" if has("policy") => Ok(Endpoint::GetBucketPolicy),
        "PUT" if has("policy") => Ok(Endpoint::PutBucketPolicy),
        "DELETE" if has("policy") => Ok(Endpoint::DeleteBucketPolicy),
        "POST" if has("policy") => Err(method_not_allowed(method)),
        "GET" if has("ownershipControls") => Ok(Endpoint::GetBucketOwnershipControls),
        "PUT" if has("ownershipControls") => Ok(Endpoint::PutBucketOwnershipControls),
        "DELETE" if has("ownershipControls") => Ok(Endpoint::DeleteBucketOwnershipControls),
        "POST" if has("ownershipControls") => Err(method_not_allowed(method)),
        "GET" if has("publicAccessBlock") => Ok(Endpoint::GetPublicAccessBlock),
        "PUT" if has("publicAccessBlock") => Ok(Endpoint::PutPublicAccessBlock),
        "DELETE" if has("publicAccessBlock") => Ok(Endpoint::DeletePublicAccessBlock),
        "POST" if has("publicAccessBlock") => Err(method_not_allowed(method)),
        "GET" if has("acl") => Ok(Endpoint::GetBucketAcl),
        "PUT" if has("acl") => Ok(Endpoint::PutBucketAcl),
        "POST" | "DELETE" if has("acl") => Err(method_not_allowed(method)),
        "GET" if has("object-lock") => Ok(Endpoint::GetObjectLockConfiguration),
        "PUT" if has("object-lock") => Ok(Endpoint::PutObjectLockConfiguration),
        "POST" | "DELETE" if has("object-lock") => Err(method_not_allowed(method)),
        "GET" if has("lifecycle") => Ok(Endpoint::GetBucketLifecycleConfiguration),
        "PUT" if has("lifecycle") => Ok(Endpoint::PutBucketLifecycleConfiguration),
        "DELETE" if has("lifecycle") => Ok(Endpoint::DeleteBucketLifecycle),
        "POST" if has("lifecycle") => Err(method_not_allowed(method)),
        "GET" if has("cors") => Ok(Endpoint::GetBucketCors),
        "PUT" if has("cors") => Ok(Endpoint::PutBucketCors),
        "DELETE" if has("cors") => Ok(Endpoint::DeleteBucketCors),
        "POST" if has("cors") => Err(method_not_allowed(method)),
        "GET" if has("tagging") => Ok(Endpoint::GetBucketTagging),
        "PUT" if has("tagging") => Ok(Endpoint::PutBucketTagging),
        "DELETE" if has("tagging") => Ok(Endpoint::DeleteBucketTagging),
        "POST" if has("tagging") => Err(method_not_allowed(method)),
        "GET" if has("requestPayment") => Ok(Endpoint::GetBucketRequestPayment),
        "PUT" if has("requestPayment") => Ok(Endpoint::PutBucketRequestPayment),
        "POST" | "DELETE" if has("requestPayment") => Err(method_not_allowed(method)),
        "GET" if has("accelerate") => Ok(Endpoint::GetBucketAccelerateConfiguration),
        "PUT" if has("accelerate") => Ok(Endpoint::PutBucketAccelerateConfiguration),
        "GET" if has("notification") => Ok(Endpoint::GetBucketNotificationConfiguration),
        "PUT" if has("notification") => Ok(Endpoint::PutBucketNotificationConfiguration),
        "POST" | "DELETE" if has("notification") => Err(method_not_allowed(method)),
        "POST" | "DELETE" if has("accelerate") => Err(method_not_allowed(method)),
        "GET" if has("location") => Ok(Endpoint::GetBucketLocation),
        "GET" if has("versioning") => Ok(Endpoint::GetBucketVersioning),
        "GET" if has("versions") => Ok(Endpoint::ListObjectVersions),
        "GET" if has("uploads") => Ok(Endpoint::ListMultipartUploads),
        "GET" => bucket_list_endpoint(query),
        "HEAD" => Ok(Endpoint::HeadBucket),
        "PUT" if has("versioning") => Ok(Endpoint::PutBucketVersioning),
        "PUT" => Ok(Endpoint::CreateBucket),
        "POST" if has("delete") => Ok(Endpoint::DeleteObjects),
        // A POST to the bucket itself is a browser form upload; the operation
        // answers AWS's PreconditionFailed when the body is not a form.
        "POST" => Ok(Endpoint::PostObject),
        "DELETE" => Ok(Endpoint::DeleteBucket),
        "OPTIONS" => Ok(Endpoint::CorsPreflight),
        _ => Err(method_not_allowed(method)),
    }
}

fn bucket_list_endpoint(query: &[(String, String)]) -> Result<Endpoint, S3Error> {
    match query_find(query, "list-type") {
        None | Some("1") => Ok(Endpoint::ListObjectsV1),
        Some("2") => Ok(Endpoint::ListObjectsV2),
        Some(_) => Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Invalid list-type: only 2 (ListObjectsV2) or none (ListObjects) is valid.",
        )),
    }
}

fn object_endpoint(
    method: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
) -> Result<Endpoint, S3Error> {
    // `GET ?annotation` names one annotation with `annotationName`, else lists them.
    if method == "GET" && query_has(query, "annotation") && !query_has(query, "annotationName") {
        return Ok(Endpoint::Unsupported {
            name: "ListObjectAnnotations",
        });
    }
    if let Some(endpoint) = subresource_unsupported(OBJECT_SUBRESOURCES, method, query) {
        return endpoint;
    }
    if let Some(endpoint) = object_lock_endpoint(method, query) {
        return endpoint;
    }
    match method {
        "GET" => object_get_endpoint(query),
        "HEAD" => Ok(Endpoint::HeadObject {
            version_id: query_version_id(query)?,
            part_number: query_part_number(query)?,
        }),
        "PUT" => object_put_endpoint(query, headers),
        "POST" => object_post_endpoint(method, query),
        "DELETE" => object_delete_endpoint(query),
        "OPTIONS" => Ok(Endpoint::CorsPreflight),
        _ => Err(method_not_allowed(method)),
    }
}

/// `?retention`, `?legal-hold`, `?restore` and `?acl` on an object.
fn object_lock_endpoint(
    method: &str,
    query: &[(String, String)],
) -> Option<Result<Endpoint, S3Error>> {
    let param = ["retention", "legal-hold", "restore", "acl"]
        .into_iter()
        .find(|param| query_has(query, param))?;
    if method == "HEAD" {
        return None;
    }
    let version_id = match query_version_id(query) {
        Ok(version_id) => version_id,
        Err(err) => return Some(Err(err)),
    };
    Some(match (param, method) {
        ("retention", "GET") => Ok(Endpoint::GetObjectRetention { version_id }),
        ("retention", "PUT") => Ok(Endpoint::PutObjectRetention { version_id }),
        ("legal-hold", "GET") => Ok(Endpoint::GetObjectLegalHold { version_id }),
        ("legal-hold", "PUT") => Ok(Endpoint::PutObjectLegalHold { version_id }),
        ("restore", "POST") => Ok(Endpoint::RestoreObject { version_id }),
        ("acl", "GET") => Ok(Endpoint::GetObjectAcl { version_id }),
        ("acl", "PUT") => Ok(Endpoint::PutObjectAcl { version_id }),
        _ => Err(method_not_allowed(method)),
    })
}

fn object_get_endpoint(query: &[(String, String)]) -> Result<Endpoint, S3Error> {
    if let Some(upload_id) = query_upload_id(query)? {
        return Ok(Endpoint::ListParts { upload_id });
    }
    let version_id = query_version_id(query)?;
    if query_has(query, "tagging") {
        return Ok(Endpoint::GetObjectTagging { version_id });
    }
    if query_has(query, "attributes") {
        return Ok(Endpoint::GetObjectAttributes { version_id });
    }
    let part_number = query_part_number(query)?;
    Ok(Endpoint::GetObject {
        version_id,
        part_number,
    })
}

fn object_put_endpoint(
    query: &[(String, String)],
    headers: &[(String, String)],
) -> Result<Endpoint, S3Error> {
    let is_copy = headers.iter().any(|(name, _)| name == "x-amz-copy-source");
    if query_has(query, "partNumber") || query_has(query, "uploadId") {
        let (part_number, upload_id) = object_put_part_params(query)?;
        return Ok(if is_copy {
            Endpoint::UploadPartCopy {
                part_number,
                upload_id,
            }
        } else {
            Endpoint::UploadPart {
                part_number,
                upload_id,
            }
        });
    }
    if query_has(query, "tagging") {
        return Ok(Endpoint::PutObjectTagging {
            version_id: query_version_id(query)?,
        });
    }
    Ok(if is_copy {
        Endpoint::CopyObject
    } else {
        Endpoint::PutObject
    })
}

/// An upload part needs both parameters; one alone is a client bug, and
/// storing the body as a whole object instead would hide it.
fn object_put_part_params(query: &[(String, String)]) -> Result<(u16, UploadId), S3Error> {
    let part_number = query_part_number(query)?;
    let upload_id = query_upload_id(query)?;
    match (part_number, upload_id) {
        (Some(part_number), Some(upload_id)) => Ok((part_number, upload_id)),
        _ => Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "An upload part needs both partNumber and uploadId.",
        )),
    }
}

fn object_post_endpoint(method: &str, query: &[(String, String)]) -> Result<Endpoint, S3Error> {
    if let Some(upload_id) = query_upload_id(query)? {
        return Ok(Endpoint::CompleteMultipartUpload { upload_id });
    }
    if query_has(query, "uploads") {
        return Ok(Endpoint::CreateMultipartUpload);
    }
    Err(method_not_allowed(method))
}

fn object_delete_endpoint(query: &[(String, String)]) -> Result<Endpoint, S3Error> {
    if let Some(upload_id) = query_upload_id(query)? {
        return Ok(Endpoint::AbortMultipartUpload { upload_id });
    }
    let version_id = query_version_id(query)?;
    if query_has(query, "tagging") {
        return Ok(Endpoint::DeleteObjectTagging { version_id });
    }
    Ok(Endpoint::DeleteObject { version_id })
}

/// A sub-resource we do not implement, with AWS's operation name per method;
/// `""` means S3 has no such operation, which is `MethodNotAllowed`.
struct SubResource {
    param: &'static str,
    get: &'static str,
    put: &'static str,
    post: &'static str,
    delete: &'static str,
}

const fn sub(
    param: &'static str,
    get: &'static str,
    put: &'static str,
    post: &'static str,
    delete: &'static str,
) -> SubResource {
    SubResource {
        param,
        get,
        put,
        post,
        delete,
    }
}

/// Bucket sub-resources S3 has and we do not implement yet.
#[rustfmt::skip]
const BUCKET_SUBRESOURCES: &[SubResource] = &[
    sub("website", "GetBucketWebsite", "PutBucketWebsite", "", "DeleteBucketWebsite"),
    sub("logging", "GetBucketLogging", "PutBucketLogging", "", ""),
    sub("replication", "GetBucketReplication", "PutBucketReplication", "",
        "DeleteBucketReplication"),
    sub("analytics", "GetBucketAnalyticsConfiguration", "PutBucketAnalyticsConfiguration", "",
        "DeleteBucketAnalyticsConfiguration"),
    sub("inventory", "GetBucketInventoryConfiguration", "PutBucketInventoryConfiguration", "",
        "DeleteBucketInventoryConfiguration"),
    sub("metrics", "GetBucketMetricsConfiguration", "PutBucketMetricsConfiguration", "",
        "DeleteBucketMetricsConfiguration"),
    sub("intelligent-tiering", "GetBucketIntelligentTieringConfiguration",
        "PutBucketIntelligentTieringConfiguration", "",
        "DeleteBucketIntelligentTieringConfiguration"),
    sub("metadataTable", "GetBucketMetadataTableConfiguration", "",
        "CreateBucketMetadataTableConfiguration", "DeleteBucketMetadataTableConfiguration"),
    sub("session", "CreateSession", "", "", ""),
    // Requests of newer S3 features must never fall through to ListObjects,
    // CreateBucket or DeleteBucket.
    sub("abac", "GetBucketAbac", "PutBucketAbac", "", ""),
    sub("metadataConfiguration", "GetBucketMetadataConfiguration", "",
        "CreateBucketMetadataConfiguration", "DeleteBucketMetadataConfiguration"),
    sub("metadataJournalTable", "", "UpdateBucketMetadataJournalTableConfiguration", "", ""),
    sub("metadataInventoryTable", "", "UpdateBucketMetadataInventoryTableConfiguration", "", ""),
    sub("metadataAnnotationTable", "", "UpdateBucketMetadataAnnotationTableConfiguration", "",
        ""),
];

/// Object sub-resources S3 has and we do not implement yet.
#[rustfmt::skip]
const OBJECT_SUBRESOURCES: &[SubResource] = &[
    sub("torrent", "GetObjectTorrent", "", "", ""),
    sub("select", "", "", "SelectObjectContent", ""),
    // Never PutObject, GetObject or DeleteObject on the object itself.
    sub("annotation", "GetObjectAnnotation", "PutObjectAnnotation", "", "DeleteObjectAnnotation"),
    sub("renameObject", "", "RenameObject", "", ""),
    sub("encryption", "", "UpdateObjectEncryption", "", ""),
];

/// `Some` when the query names a sub-resource from `table`. `HEAD` reads the
/// object or bucket itself whatever the query says, as it does on S3.
fn subresource_unsupported(
    table: &[SubResource],
    method: &str,
    query: &[(String, String)],
) -> Option<Result<Endpoint, S3Error>> {
    let found = table.iter().find(|s| query_has(query, s.param))?;
    let name = match method {
        "GET" => found.get,
        "PUT" => found.put,
        "POST" => found.post,
        "DELETE" => found.delete,
        _ => return None,
    };
    Some(if name.is_empty() {
        Err(method_not_allowed(method))
    } else {
        Ok(Endpoint::Unsupported { name })
    })
}

fn query_find<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn query_has(query: &[(String, String)], name: &str) -> bool {
    query.iter().any(|(n, _)| n == name)
}

fn query_version_id(query: &[(String, String)]) -> Result<Option<VersionId>, S3Error> {
    query_find(query, "versionId")
        .map(VersionId::parse)
        .transpose()
}

fn query_upload_id(query: &[(String, String)]) -> Result<Option<UploadId>, S3Error> {
    query_find(query, "uploadId")
        .map(UploadId::parse)
        .transpose()
}

fn query_part_number(query: &[(String, String)]) -> Result<Option<u16>, S3Error> {
    let Some(raw) = query_find(query, "partNumber") else {
        return Ok(None);
    };
    match raw.parse::<u16>() {
        Ok(n) if (1..=PART_NUMBER_MAX).contains(&n) => Ok(Some(n)),
        _ => Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive.",
        )),
    }
}

fn method_not_allowed(method: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::MethodNotAllowed,
        format!("The specified method ({method}) is not allowed against this resource."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use Endpoint as E;

    fn domains() -> Vec<String> {
        vec!["s3.localhost".to_owned(), "localhost".to_owned()]
    }

    /// Routes an HTTP/1.1 request line such as `GET /?location HTTP/1.1`.
    fn route_line(line: &str, host: &str, headers: &[(&str, &str)]) -> Result<Route, S3Error> {
        let mut parts = line.split(' ');
        let method = parts.next().unwrap();
        let target = parts.next().unwrap();
        assert_eq!(parts.next(), Some("HTTP/1.1"), "{line}");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let base_domains = domains();
        let input = RouteInput {
            method,
            path,
            query,
            host: Some(host),
            headers: &headers,
            base_domains: &base_domains,
        };
        route(&input)
    }

    fn upload(id: &str) -> UploadId {
        UploadId::parse(id).unwrap()
    }

    fn version(id: &str) -> Option<VersionId> {
        Some(VersionId::parse(id).unwrap())
    }

    const COPY: &[(&str, &str)] = &[("x-amz-copy-source", "/source-bucket/sourceobject")];

    type Headers = &'static [(&'static str, &'static str)];
    /// Request line, host, headers, then the expected endpoint, bucket and key.
    type Example = (
        &'static str,
        &'static str,
        Headers,
        Endpoint,
        Option<&'static str>,
        Option<&'static str>,
    );

    /// Request lines from the AWS S3 API reference examples; hosts of the form
    /// `bucket.s3.amazonaws.com` become `bucket.s3.localhost:9000`.
    #[rustfmt::skip]
    fn aws_examples() -> Vec<Example> {
        let up = "VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA";
        vec![
            ("GET / HTTP/1.1", "s3.localhost:9000", &[], E::ListBuckets, None, None),
            ("GET /_maxiofs/health HTTP/1.1", "localhost:9000", &[], E::Health, None, None),
            ("GET /_maxiofs/ready HTTP/1.1", "localhost:9000", &[], E::Ready, None, None),
            ("HEAD / HTTP/1.1", "bucket.s3.localhost", &[], E::HeadBucket, Some("bucket"), None),
            ("PUT / HTTP/1.1", "examplebucket.s3.localhost", &[], E::CreateBucket,
             Some("examplebucket"), None),
            ("DELETE / HTTP/1.1", "quotes.s3.localhost", &[], E::DeleteBucket, Some("quotes"),
             None),
            ("GET /?location= HTTP/1.1", "mybucket.s3.localhost", &[], E::GetBucketLocation,
             Some("mybucket"), None),
            ("GET / HTTP/1.1", "quotes.s3.localhost", &[], E::ListObjectsV1, Some("quotes"), None),
            ("GET /?prefix=N&marker=Ned&max-keys=40 HTTP/1.1", "quotes.s3.localhost", &[],
             E::ListObjectsV1, Some("quotes"), None),
            ("GET /?list-type=2 HTTP/1.1", "bucket.s3.localhost", &[], E::ListObjectsV2,
             Some("bucket"), None),
            ("GET /?list-type=2&max-keys=3&prefix=E&start-after=ExampleGuide.pdf HTTP/1.1",
             "example-bucket.s3.localhost", &[], E::ListObjectsV2, Some("example-bucket"), None),
            ("GET /?list-type=2&prefix=photos/2006/&delimiter=/ HTTP/1.1",
             "example-bucket.s3.localhost", &[], E::ListObjectsV2, Some("example-bucket"), None),
            ("GET /?list-type=2&continuation-token=1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM= \
              HTTP/1.1", "bucket.s3.localhost", &[], E::ListObjectsV2, Some("bucket"), None),
            ("GET /?versions HTTP/1.1", "bucket.s3.localhost", &[], E::ListObjectVersions,
             Some("bucket"), None),
            ("GET /?versions&key-marker=key2 HTTP/1.1", "bucket.s3.localhost", &[],
             E::ListObjectVersions, Some("bucket"), None),
            ("GET /?uploads&max-uploads=3 HTTP/1.1", "example-bucket.s3.localhost", &[],
             E::ListMultipartUploads, Some("example-bucket"), None),
            ("GET /?versioning HTTP/1.1", "bucket.s3.localhost", &[], E::GetBucketVersioning,
             Some("bucket"), None),
            ("PUT /?versioning HTTP/1.1", "bucket.s3.localhost", &[], E::PutBucketVersioning,
             Some("bucket"), None),
            ("POST /?delete HTTP/1.1", "bucketname.s3.localhost", &[], E::DeleteObjects,
             Some("bucketname"), None),
            ("PUT /my-image.jpg HTTP/1.1", "mybucket.s3.localhost", &[], E::PutObject,
             Some("mybucket"), Some("my-image.jpg")),
            ("PUT /my-second-image.jpg HTTP/1.1", "mybucket.s3.localhost",
             &[("x-amz-copy-source", "/mybucket/my-image.jpg")], E::CopyObject, Some("mybucket"),
             Some("my-second-image.jpg")),
            ("GET /my-image.jpg HTTP/1.1", "mybucket.s3.localhost", &[],
             E::GetObject { version_id: None, part_number: None }, Some("mybucket"),
             Some("my-image.jpg")),
            ("GET /myObject?versionId=3/L4kqtJlcpXroDTDmpUMLUo HTTP/1.1", "bucket.s3.localhost",
             &[],
             E::GetObject { version_id: version("3/L4kqtJlcpXroDTDmpUMLUo"), part_number: None },
             Some("bucket"), Some("myObject")),
            ("GET /example-object?partNumber=2 HTTP/1.1", "bucket.s3.localhost", &[],
             E::GetObject { version_id: None, part_number: Some(2) }, Some("bucket"),
             Some("example-object")),
            ("HEAD /my-image.jpg HTTP/1.1", "bucket.s3.localhost", &[],
             E::HeadObject { version_id: None, part_number: None }, Some("bucket"),
             Some("my-image.jpg")),
            ("DELETE /my-second-image.jpg HTTP/1.1", "bucket.s3.localhost", &[],
             E::DeleteObject { version_id: None }, Some("bucket"), Some("my-second-image.jpg")),
            ("DELETE /my-third-image.jpg?versionId=UIORUnfndfiufdisojhr398493jf\
              dkjFJjkndnqUifhnw89493jJFJ HTTP/1.1", "bucket.s3.localhost", &[],
             E::DeleteObject {
                 version_id: version("UIORUnfndfiufdisojhr398493jfdkjFJjkndnqUifhnw89493jJFJ"),
             }, Some("bucket"), Some("my-third-image.jpg")),
            ("GET /example-object?attributes HTTP/1.1", "bucket.s3.localhost", &[],
             E::GetObjectAttributes { version_id: None }, Some("bucket"), Some("example-object")),
            ("GET /example-object?tagging HTTP/1.1", "examplebucket.s3.localhost", &[],
             E::GetObjectTagging { version_id: None }, Some("examplebucket"),
             Some("example-object")),
            ("PUT /object-key?tagging HTTP/1.1", "examplebucket.s3.localhost", &[],
             E::PutObjectTagging { version_id: None }, Some("examplebucket"), Some("object-key")),
            ("DELETE /exampleobject?tagging HTTP/1.1", "examplebucket.s3.localhost", &[],
             E::DeleteObjectTagging { version_id: None }, Some("examplebucket"),
             Some("exampleobject")),
            ("POST /example-object?uploads HTTP/1.1", "example-bucket.s3.localhost", &[],
             E::CreateMultipartUpload, Some("example-bucket"), Some("example-object")),
            ("PUT /my-movie.m2ts?partNumber=1&uploadId=VCVsb2FkIElEIGZvciBlbZZpbmcncyBteS1tb3ZpZS5\
              tMnRzIHVwbG9hZR HTTP/1.1", "example-bucket.s3.localhost", &[],
             E::UploadPart {
                 part_number: 1,
                 upload_id: upload("VCVsb2FkIElEIGZvciBlbZZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZR"),
             }, Some("example-bucket"), Some("my-movie.m2ts")),
            ("PUT /newobject?partNumber=2&uploadId=VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRz\
              IHVwbG9hZA HTTP/1.1", "target-bucket.s3.localhost", COPY,
             E::UploadPartCopy { part_number: 2, upload_id: upload(up) }, Some("target-bucket"),
             Some("newobject")),
            ("POST /example-object?uploadId=AAAsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3Zp\
              ZS5tMnRzIRRwbG9hZA HTTP/1.1", "example-bucket.s3.localhost", &[],
             E::CompleteMultipartUpload {
                 upload_id: upload("AAAsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIRRwbG9hZA"),
             }, Some("example-bucket"), Some("example-object")),
            ("DELETE /example-object?uploadId=VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3Zp\
              ZS5tMnRzIHVwbG9hZA HTTP/1.1", "example-bucket.s3.localhost", &[],
             E::AbortMultipartUpload { upload_id: upload(up) }, Some("example-bucket"),
             Some("example-object")),
            ("GET /example-object?uploadId=VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3Zp\
              ZS5tMnRzIHVwbG9hZA&max-parts=2&part-number-marker=1 HTTP/1.1",
             "example-bucket.s3.localhost", &[],
             E::ListParts { upload_id: upload(up) }, Some("example-bucket"),
             Some("example-object")),
            ("GET /?acl HTTP/1.1", "bucket.s3.localhost", &[],
             E::GetBucketAcl, Some("bucket"), None),
            ("PUT /?policy HTTP/1.1", "bucket.s3.localhost", &[],
             E::PutBucketPolicy, Some("bucket"), None),
            ("DELETE /?cors HTTP/1.1", "examplebucket.s3.localhost", &[],
             E::DeleteBucketCors, Some("examplebucket"), None),
            ("GET /?cors HTTP/1.1", "examplebucket.s3.localhost", &[],
             E::GetBucketCors, Some("examplebucket"), None),
            ("PUT /?cors HTTP/1.1", "examplebucket.s3.localhost", &[],
             E::PutBucketCors, Some("examplebucket"), None),
            ("OPTIONS /exampleobject HTTP/1.1", "examplebucket.s3.localhost", &[],
             E::CorsPreflight, Some("examplebucket"), Some("exampleobject")),
            ("OPTIONS / HTTP/1.1", "examplebucket.s3.localhost", &[],
             E::CorsPreflight, Some("examplebucket"), None),
            ("GET /?lifecycle HTTP/1.1", "examplebucket.s3.localhost", &[],
             E::GetBucketLifecycleConfiguration, Some("examplebucket"),
             None),
            ("PUT /?encryption HTTP/1.1", "bucket.s3.localhost", &[],
             E::PutBucketEncryption, Some("bucket"), None),
            ("GET /?encryption HTTP/1.1", "bucket.s3.localhost", &[],
             E::GetBucketEncryption, Some("bucket"), None),
            ("DELETE /?encryption HTTP/1.1", "bucket.s3.localhost", &[],
             E::DeleteBucketEncryption, Some("bucket"), None),
            ("GET /?object-lock HTTP/1.1", "bucket.s3.localhost", &[],
             E::GetObjectLockConfiguration, Some("bucket"), None),
            ("PUT /?tagging HTTP/1.1", "examplebucket.s3.localhost", &[],
             E::PutBucketTagging, Some("examplebucket"), None),
            ("GET /?website HTTP/1.1", "bucket.s3.localhost", &[],
             E::Unsupported { name: "GetBucketWebsite" }, Some("bucket"), None),
            ("GET /?logging HTTP/1.1", "quotes.s3.localhost", &[],
             E::Unsupported { name: "GetBucketLogging" }, Some("quotes"), None),
            ("GET /?notification HTTP/1.1", "examplebucket.s3.localhost", &[],
             E::GetBucketNotificationConfiguration, Some("examplebucket"), None),
            ("PUT /?replication HTTP/1.1", "examplebucket.s3.localhost", &[],
             E::Unsupported { name: "PutBucketReplication" }, Some("examplebucket"), None),
            ("GET /my-image.jpg?acl HTTP/1.1", "bucket.s3.localhost", &[],
             E::GetObjectAcl { version_id: None }, Some("bucket"), Some("my-image.jpg")),
            ("PUT /my-image.jpg?retention HTTP/1.1", "bucket.s3.localhost", &[],
             E::PutObjectRetention { version_id: None }, Some("bucket"), Some("my-image.jpg")),
            ("GET /my-image.jpg?legal-hold HTTP/1.1", "bucket.s3.localhost", &[],
             E::GetObjectLegalHold { version_id: None }, Some("bucket"), Some("my-image.jpg")),
            ("POST /photo1.jpg?restore&versionId=VersionID HTTP/1.1", "bucket.s3.localhost", &[],
             E::RestoreObject { version_id: version("VersionID") }, Some("bucket"),
             Some("photo1.jpg")),
            ("POST / HTTP/1.1", "bucket.s3.localhost", &[],
             E::PostObject, Some("bucket"), None),
            // Newer features: answered NotImplemented, never the object or
            // bucket operation the same method would otherwise reach.
            ("PUT /k?annotation HTTP/1.1", "bucket.s3.localhost", &[],
             E::Unsupported { name: "PutObjectAnnotation" }, Some("bucket"), Some("k")),
            ("DELETE /k?annotation HTTP/1.1", "bucket.s3.localhost", &[],
             E::Unsupported { name: "DeleteObjectAnnotation" }, Some("bucket"), Some("k")),
            ("GET /k?annotation HTTP/1.1", "bucket.s3.localhost", &[],
             E::Unsupported { name: "ListObjectAnnotations" }, Some("bucket"), Some("k")),
            ("GET /k?annotation&annotationName=a HTTP/1.1", "bucket.s3.localhost", &[],
             E::Unsupported { name: "GetObjectAnnotation" }, Some("bucket"), Some("k")),
            ("PUT /k?encryption HTTP/1.1", "bucket.s3.localhost", &[],
             E::Unsupported { name: "UpdateObjectEncryption" }, Some("bucket"), Some("k")),
            ("PUT /k?renameObject HTTP/1.1", "bucket.s3.localhost", &[],
             E::Unsupported { name: "RenameObject" }, Some("bucket"), Some("k")),
            ("DELETE /?metadataConfiguration HTTP/1.1", "bucket.s3.localhost", &[],
             E::Unsupported { name: "DeleteBucketMetadataConfiguration" }, Some("bucket"), None),
            ("PUT /?abac HTTP/1.1", "bucket.s3.localhost", &[],
             E::Unsupported { name: "PutBucketAbac" }, Some("bucket"), None),
            ("GET /?abac HTTP/1.1", "bucket.s3.localhost", &[],
             E::Unsupported { name: "GetBucketAbac" }, Some("bucket"), None),
            ("PUT /?metadataJournalTable HTTP/1.1", "bucket.s3.localhost", &[],
             E::Unsupported { name: "UpdateBucketMetadataJournalTableConfiguration" },
             Some("bucket"), None),
        ]
    }

    #[test]
    fn routes_aws_reference_request_lines() {
        for (line, host, headers, endpoint, bucket, key) in aws_examples() {
            let route = route_line(line, host, headers).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(route.endpoint, endpoint, "{line}");
            assert_eq!(
                route.bucket.as_ref().map(BucketName::as_str),
                bucket,
                "{line}"
            );
            assert_eq!(route.key.as_ref().map(ObjectKey::as_str), key, "{line}");
        }
    }

    /// The same requests in path style route to the same endpoints.
    #[test]
    fn path_style_matches_virtual_host_style() {
        for (line, host, headers, endpoint, bucket, key) in aws_examples() {
            let Some(bucket) = bucket else { continue };
            assert!(host.starts_with(bucket));
            let line = line.replacen(' ', &format!(" /{bucket}"), 1);
            let route = route_line(&line, "s3.localhost:9000", headers).unwrap();
            assert_eq!(route.endpoint, endpoint, "{line}");
            assert_eq!(route.bucket.unwrap().as_str(), bucket, "{line}");
            assert_eq!(route.key.as_ref().map(ObjectKey::as_str), key, "{line}");
        }
    }

    #[test]
    fn path_style_object_with_nested_key() {
        let line = "GET /examplebucket/photos/2006/January/sample.jpg HTTP/1.1";
        let route = route_line(line, "s3.localhost", &[]).unwrap();
        assert_eq!(route.bucket.unwrap().as_str(), "examplebucket");
        assert_eq!(
            route.key.unwrap().as_str(),
            "photos/2006/January/sample.jpg"
        );
    }

    fn routed_key(line: &str, host: &str) -> Option<String> {
        route_line(line, host, &[])
            .unwrap()
            .key
            .map(ObjectKey::into_string)
    }

    #[test]
    fn path_decoding_keeps_plus_and_decodes_percent() {
        assert_eq!(
            routed_key("GET /bkt/a%20b+c HTTP/1.1", "localhost").unwrap(),
            "a b+c"
        );
        assert_eq!(
            routed_key("GET /bkt/a%2Fb HTTP/1.1", "localhost").unwrap(),
            "a/b"
        );
        assert_eq!(
            routed_key("GET /bkt/%E6%97%A5 HTTP/1.1", "localhost").unwrap(),
            "日"
        );
        assert_eq!(
            routed_key("GET /bkt/a%252F HTTP/1.1", "localhost").unwrap(),
            "a%2F"
        );
    }

    #[test]
    fn keys_with_slashes_are_kept_verbatim() {
        assert_eq!(routed_key("GET /bkt/ HTTP/1.1", "localhost"), None);
        assert_eq!(routed_key("GET /bkt// HTTP/1.1", "localhost").unwrap(), "/");
        assert_eq!(
            routed_key("GET /bkt/a//b HTTP/1.1", "localhost").unwrap(),
            "a//b"
        );
        assert_eq!(
            routed_key("GET /bkt/../x HTTP/1.1", "localhost").unwrap(),
            "../x"
        );
        assert_eq!(
            routed_key("GET //a HTTP/1.1", "bkt.localhost").unwrap(),
            "/a"
        );
        assert_eq!(
            routed_key("GET /a/ HTTP/1.1", "bkt.localhost").unwrap(),
            "a/"
        );
    }

    #[test]
    fn query_is_decoded_in_order_with_plus_as_space() {
        let line = "GET /?list-type=2&prefix=a+b%2Bc&delimiter=%2F&fetch-owner HTTP/1.1";
        let route = route_line(line, "bkt.localhost", &[]).unwrap();
        let expected = [
            ("list-type", "2"),
            ("prefix", "a b+c"),
            ("delimiter", "/"),
            ("fetch-owner", ""),
        ];
        let got: Vec<(&str, &str)> = route
            .query
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(route.query_value("prefix"), Some("a b+c"));
        assert_eq!(route.query_value("start-after"), None);
    }

    #[test]
    fn sdk_x_id_parameter_does_not_change_the_route() {
        let route = route_line("GET /key?x-id=GetObject HTTP/1.1", "bkt.localhost", &[]).unwrap();
        assert_eq!(
            route.endpoint,
            E::GetObject {
                version_id: None,
                part_number: None
            }
        );
    }

    fn routed_bucket(host: &str) -> Option<String> {
        let route = route_line("GET / HTTP/1.1", host, &[]).unwrap();
        route.bucket.map(|b| b.as_str().to_owned())
    }

    #[test]
    fn host_matching() {
        assert_eq!(
            routed_bucket("bkt.s3.localhost:9000").as_deref(),
            Some("bkt")
        );
        assert_eq!(routed_bucket("bkt.localhost").as_deref(), Some("bkt"));
        assert_eq!(
            routed_bucket("a.b.c.s3.localhost").as_deref(),
            Some("a.b.c")
        );
        assert_eq!(routed_bucket("BKT.S3.LocalHost").as_deref(), Some("bkt"));
        assert_eq!(routed_bucket("bkt.s3.localhost.").as_deref(), Some("bkt"));
        // A base domain itself, a foreign host, or an address is path style.
        assert_eq!(routed_bucket("s3.localhost"), None);
        assert_eq!(routed_bucket("localhost:9000"), None);
        assert_eq!(routed_bucket("example.com"), None);
        assert_eq!(routed_bucket("127.0.0.1:9000"), None);
        assert_eq!(routed_bucket("[::1]:9000"), None);
        assert_eq!(routed_bucket("xlocalhost"), None);
    }

    #[test]
    fn no_host_header_is_path_style() {
        let base_domains = domains();
        let input = RouteInput {
            method: "GET",
            path: "/bkt/key",
            query: "",
            host: None,
            headers: &[],
            base_domains: &base_domains,
        };
        let route = route(&input).unwrap();
        assert_eq!(route.bucket.unwrap().as_str(), "bkt");
        assert_eq!(route.key.unwrap().as_str(), "key");
    }

    #[test]
    fn health_is_only_outside_buckets() {
        let route = route_line("HEAD /_maxiofs/health HTTP/1.1", "s3.localhost", &[]).unwrap();
        assert_eq!(route.endpoint, E::Health);
        let route = route_line("GET /_maxiofs/health HTTP/1.1", "bkt.localhost", &[]).unwrap();
        assert_eq!(route.key.unwrap().as_str(), "_maxiofs/health");
        let err = route_line("PUT /_maxiofs/health HTTP/1.1", "localhost", &[]).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MethodNotAllowed);
    }

    fn error_code(line: &str) -> S3ErrorCode {
        route_line(line, "s3.localhost", &[]).unwrap_err().code
    }

    #[test]
    fn errors() {
        let long_key = format!("GET /bkt/{} HTTP/1.1", "k".repeat(1025));
        let cases = [
            ("PATCH /bkt/key HTTP/1.1", S3ErrorCode::MethodNotAllowed),
            ("PATCH /bkt HTTP/1.1", S3ErrorCode::MethodNotAllowed),
            ("PUT / HTTP/1.1", S3ErrorCode::MethodNotAllowed),
            ("DELETE / HTTP/1.1", S3ErrorCode::MethodNotAllowed),
            ("POST /bkt/key HTTP/1.1", S3ErrorCode::MethodNotAllowed),
            ("DELETE /bkt?acl HTTP/1.1", S3ErrorCode::MethodNotAllowed),
            (
                "POST /bkt?encryption HTTP/1.1",
                S3ErrorCode::MethodNotAllowed,
            ),
            (
                "GET /bkt/key?restore HTTP/1.1",
                S3ErrorCode::MethodNotAllowed,
            ),
            ("GET /Bad_Bucket/ HTTP/1.1", S3ErrorCode::InvalidBucketName),
            (
                "GET /my..bucket/key HTTP/1.1",
                S3ErrorCode::InvalidBucketName,
            ),
            ("GET /bkt/%FF HTTP/1.1", S3ErrorCode::InvalidArgument),
            ("GET /bkt?prefix=%FF HTTP/1.1", S3ErrorCode::InvalidArgument),
            ("GET /bkt/a%00b HTTP/1.1", S3ErrorCode::InvalidArgument),
            (long_key.as_str(), S3ErrorCode::KeyTooLongError),
            (
                "PUT /bkt/k?partNumber=0&uploadId=u HTTP/1.1",
                S3ErrorCode::InvalidArgument,
            ),
            (
                "PUT /bkt/k?partNumber=10001&uploadId=u HTTP/1.1",
                S3ErrorCode::InvalidArgument,
            ),
            (
                "PUT /bkt/k?partNumber=one&uploadId=u HTTP/1.1",
                S3ErrorCode::InvalidArgument,
            ),
            (
                "PUT /bkt/k?uploadId=u HTTP/1.1",
                S3ErrorCode::InvalidArgument,
            ),
            (
                "PUT /bkt/k?partNumber=1 HTTP/1.1",
                S3ErrorCode::InvalidArgument,
            ),
            (
                "DELETE /bkt/k?uploadId= HTTP/1.1",
                S3ErrorCode::InvalidArgument,
            ),
            (
                "GET /bkt/k?versionId= HTTP/1.1",
                S3ErrorCode::InvalidArgument,
            ),
            (
                "GET /bkt/k?partNumber=-1 HTTP/1.1",
                S3ErrorCode::InvalidArgument,
            ),
            (
                "GET /bkt?list-type=3 HTTP/1.1",
                S3ErrorCode::InvalidArgument,
            ),
        ];
        for (line, code) in cases {
            assert_eq!(error_code(line), code, "{line}");
        }
    }

    #[test]
    fn path_must_be_absolute() {
        let base_domains = domains();
        let input = RouteInput {
            method: "GET",
            path: "http://localhost/bkt",
            query: "",
            host: None,
            headers: &[],
            base_domains: &base_domains,
        };
        assert_eq!(route(&input).unwrap_err().code, S3ErrorCode::InvalidRequest);
    }

    #[test]
    fn permissions() {
        let v = version("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY");
        let cases = [
            (E::Health, Permission::Anonymous),
            (
                E::Unsupported {
                    name: "GetBucketAcl",
                },
                Permission::Unsupported,
            ),
            (E::ListBuckets, Permission::ListAllMyBuckets),
            (E::HeadBucket, Permission::ListBucket),
            (E::ListObjectsV2, Permission::ListBucket),
            (E::ListObjectVersions, Permission::ListBucketVersions),
            (
                E::ListMultipartUploads,
                Permission::ListBucketMultipartUploads,
            ),
            (E::DeleteObjects, Permission::DeleteObject),
            (E::CopyObject, Permission::PutObject),
            (E::CreateMultipartUpload, Permission::PutObject),
            (
                E::UploadPartCopy {
                    part_number: 1,
                    upload_id: upload("u"),
                },
                Permission::PutObject,
            ),
            (
                E::AbortMultipartUpload {
                    upload_id: upload("u"),
                },
                Permission::AbortMultipartUpload,
            ),
            (
                E::ListParts {
                    upload_id: upload("u"),
                },
                Permission::ListMultipartUploadParts,
            ),
            (
                E::GetObject {
                    version_id: None,
                    part_number: None,
                },
                Permission::GetObject,
            ),
            (
                E::HeadObject {
                    version_id: v.clone(),
                    part_number: None,
                },
                Permission::GetObjectVersion,
            ),
            (
                E::DeleteObject {
                    version_id: v.clone(),
                },
                Permission::DeleteObjectVersion,
            ),
            (
                E::GetObjectAttributes {
                    version_id: v.clone(),
                },
                Permission::GetObjectVersionAttributes,
            ),
            (
                E::PutObjectTagging { version_id: v },
                Permission::PutObjectVersionTagging,
            ),
            (
                E::DeleteObjectTagging { version_id: None },
                Permission::DeleteObjectTagging,
            ),
            (
                E::GetBucketEncryption,
                Permission::GetEncryptionConfiguration,
            ),
            (
                E::PutBucketEncryption,
                Permission::PutEncryptionConfiguration,
            ),
            (
                E::DeleteBucketEncryption,
                Permission::PutEncryptionConfiguration,
            ),
        ];
        for (endpoint, permission) in cases {
            assert_eq!(endpoint.permission(), permission, "{endpoint:?}");
        }
        assert_eq!(Permission::ListBucket.iam_action(), Some("s3:ListBucket"));
        assert_eq!(Permission::Unsupported.iam_action(), None);
    }

    /// The table every request is authorised by: each permission an
    /// operation declares names an action the policy engine knows, of the
    /// scope (bucket or object) its resource ARN has. A new variant fails to
    /// compile in `scope_expected` until it is decided here.
    #[test]
    fn every_permission_is_a_known_iam_action_of_its_scope() {
        use iam::actions::{s3_scope, S3Scope};
        fn scope_expected(permission: Permission) -> Option<S3Scope> {
            use Permission as P;
            match permission {
                P::Anonymous | P::Unsupported => None,
                P::ListAllMyBuckets => Some(S3Scope::Other),
                P::CreateBucket => Some(S3Scope::Bucket),
                P::DeleteBucket => Some(S3Scope::Bucket),
                P::ListBucket => Some(S3Scope::Bucket),
                P::ListBucketVersions => Some(S3Scope::Bucket),
                P::ListBucketMultipartUploads => Some(S3Scope::Bucket),
                P::GetBucketLocation => Some(S3Scope::Bucket),
                P::GetBucketVersioning => Some(S3Scope::Bucket),
                P::PutBucketVersioning => Some(S3Scope::Bucket),
                P::GetEncryptionConfiguration => Some(S3Scope::Bucket),
                P::PutEncryptionConfiguration => Some(S3Scope::Bucket),
                P::GetBucketAcl => Some(S3Scope::Bucket),
                P::PutBucketAcl => Some(S3Scope::Bucket),
                P::GetBucketOwnershipControls => Some(S3Scope::Bucket),
                P::PutBucketOwnershipControls => Some(S3Scope::Bucket),
                P::GetBucketPublicAccessBlock => Some(S3Scope::Bucket),
                P::PutBucketPublicAccessBlock => Some(S3Scope::Bucket),
                P::GetBucketPolicy => Some(S3Scope::Bucket),
                P::PutBucketPolicy => Some(S3Scope::Bucket),
                P::DeleteBucketPolicy => Some(S3Scope::Bucket),
                P::GetBucketPolicyStatus => Some(S3Scope::Bucket),
                P::GetObjectAcl => Some(S3Scope::Object),
                P::GetObjectVersionAcl => Some(S3Scope::Object),
                P::PutObjectAcl => Some(S3Scope::Object),
                P::PutObjectVersionAcl => Some(S3Scope::Object),
                P::GetBucketObjectLockConfiguration => Some(S3Scope::Bucket),
                P::PutBucketObjectLockConfiguration => Some(S3Scope::Bucket),
                P::GetLifecycleConfiguration => Some(S3Scope::Bucket),
                P::PutLifecycleConfiguration => Some(S3Scope::Bucket),
                P::GetBucketCors => Some(S3Scope::Bucket),
                P::PutBucketCors => Some(S3Scope::Bucket),
                P::GetBucketTagging => Some(S3Scope::Bucket),
                P::PutBucketTagging => Some(S3Scope::Bucket),
                P::GetBucketRequestPayment => Some(S3Scope::Bucket),
                P::PutBucketRequestPayment => Some(S3Scope::Bucket),
                P::GetAccelerateConfiguration => Some(S3Scope::Bucket),
                P::PutAccelerateConfiguration => Some(S3Scope::Bucket),
                P::GetBucketNotification => Some(S3Scope::Bucket),
                P::PutBucketNotification => Some(S3Scope::Bucket),
                P::GetObjectRetention => Some(S3Scope::Object),
                P::PutObjectRetention => Some(S3Scope::Object),
                P::GetObjectLegalHold => Some(S3Scope::Object),
                P::PutObjectLegalHold => Some(S3Scope::Object),
                P::RestoreObject => Some(S3Scope::Object),
                P::GetObject => Some(S3Scope::Object),
                P::GetObjectVersion => Some(S3Scope::Object),
                P::PutObject => Some(S3Scope::Object),
                P::DeleteObject => Some(S3Scope::Object),
                P::DeleteObjectVersion => Some(S3Scope::Object),
                P::GetObjectAttributes => Some(S3Scope::Object),
                P::GetObjectVersionAttributes => Some(S3Scope::Object),
                P::GetObjectTagging => Some(S3Scope::Object),
                P::GetObjectVersionTagging => Some(S3Scope::Object),
                P::PutObjectTagging => Some(S3Scope::Object),
                P::PutObjectVersionTagging => Some(S3Scope::Object),
                P::DeleteObjectTagging => Some(S3Scope::Object),
                P::DeleteObjectVersionTagging => Some(S3Scope::Object),
                P::ListMultipartUploadParts => Some(S3Scope::Object),
                P::AbortMultipartUpload => Some(S3Scope::Object),
            }
        }
        let all = [
            Permission::Anonymous,
            Permission::Unsupported,
            Permission::ListAllMyBuckets,
            Permission::CreateBucket,
            Permission::DeleteBucket,
            Permission::ListBucket,
            Permission::ListBucketVersions,
            Permission::ListBucketMultipartUploads,
            Permission::GetBucketLocation,
            Permission::GetBucketVersioning,
            Permission::PutBucketVersioning,
            Permission::GetEncryptionConfiguration,
            Permission::PutEncryptionConfiguration,
            Permission::GetBucketAcl,
            Permission::PutBucketAcl,
            Permission::GetBucketOwnershipControls,
            Permission::PutBucketOwnershipControls,
            Permission::GetBucketPublicAccessBlock,
            Permission::PutBucketPublicAccessBlock,
            Permission::GetBucketPolicy,
            Permission::PutBucketPolicy,
            Permission::DeleteBucketPolicy,
            Permission::GetBucketPolicyStatus,
            Permission::GetObjectAcl,
            Permission::GetObjectVersionAcl,
            Permission::PutObjectAcl,
            Permission::PutObjectVersionAcl,
            Permission::GetBucketObjectLockConfiguration,
            Permission::PutBucketObjectLockConfiguration,
            Permission::GetLifecycleConfiguration,
            Permission::PutLifecycleConfiguration,
            Permission::GetBucketCors,
            Permission::PutBucketCors,
            Permission::GetBucketTagging,
            Permission::PutBucketTagging,
            Permission::GetBucketRequestPayment,
            Permission::PutBucketRequestPayment,
            Permission::GetAccelerateConfiguration,
            Permission::PutAccelerateConfiguration,
            Permission::GetBucketNotification,
            Permission::PutBucketNotification,
            Permission::GetObjectRetention,
            Permission::PutObjectRetention,
            Permission::GetObjectLegalHold,
            Permission::PutObjectLegalHold,
            Permission::RestoreObject,
            Permission::GetObject,
            Permission::GetObjectVersion,
            Permission::PutObject,
            Permission::DeleteObject,
            Permission::DeleteObjectVersion,
            Permission::GetObjectAttributes,
            Permission::GetObjectVersionAttributes,
            Permission::GetObjectTagging,
            Permission::GetObjectVersionTagging,
            Permission::PutObjectTagging,
            Permission::PutObjectVersionTagging,
            Permission::DeleteObjectTagging,
            Permission::DeleteObjectVersionTagging,
            Permission::ListMultipartUploadParts,
            Permission::AbortMultipartUpload,
        ];
        for permission in all {
            let expected = scope_expected(permission);
            match (permission.iam_action(), expected) {
                (None, None) => {}
                (Some(action), Some(scope)) => {
                    let name = action.strip_prefix("s3:").expect("an s3 action");
                    assert_eq!(s3_scope(name), Some(scope), "{action}");
                }
                other => panic!("{permission:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn endpoint_names_follow_aws() {
        assert_eq!(E::ListObjectsV1.name(), "ListObjects");
        assert_eq!(
            E::Unsupported {
                name: "GetBucketCors"
            }
            .name(),
            "GetBucketCors"
        );
        let part = E::UploadPart {
            part_number: 3,
            upload_id: upload("u"),
        };
        assert_eq!(part.name(), "UploadPart");
    }
}
