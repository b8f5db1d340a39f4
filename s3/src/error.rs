//! The S3 layer's one error type and its exhaustive mapping to AWS error codes,
//! HTTP statuses and the XML error body.
//!
//! Lower layers (engine, http) have their own enums; they become `InternalError`
//! here unless a variant is deliberately passed on (disk full, corrupt data).

use std::fmt;

/// Every S3 error code this server can return. Names are AWS's, verbatim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3ErrorCode {
    AccessDenied,
    /// A refused CORS preflight: AWS's code, its message says `CORSResponse`.
    AccessForbidden,
    AccessControlListNotSupported,
    InvalidBucketAclWithObjectOwnership,
    InvalidPolicyDocument,
    MalformedACLError,
    MalformedPOSTRequest,
    MaxMessageLengthExceeded,
    MaxPostPreDataLengthExceeded,
    NoSuchCORSConfiguration,
    NoSuchTagSet,
    NoSuchPublicAccessBlockConfiguration,
    OwnershipControlsNotFoundError,
    UnresolvableGrantByEmailAddress,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    BadDigest,
    BadRequest,
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    EntityTooLarge,
    EntityTooSmall,
    ExpiredToken,
    IncompleteBody,
    InsufficientStorage,
    InternalError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidBucketName,
    InvalidBucketState,
    InvalidDigest,
    InvalidPart,
    InvalidPartNumber,
    InvalidPartOrder,
    InvalidRange,
    InvalidRequest,
    InvalidStorageClass,
    InvalidTag,
    InvalidToken,
    KeyTooLongError,
    MalformedXML,
    MalformedPolicy,
    MethodNotAllowed,
    MissingContentLength,
    MissingSecurityHeader,
    NoSuchBucket,
    NoSuchBucketPolicy,
    NoSuchKey,
    NoSuchLifecycleConfiguration,
    NoSuchUpload,
    NoSuchVersion,
    NoSuchObjectLockConfiguration,
    NotImplemented,
    NotModified,
    PolicyTooLarge,
    ObjectLockConfigurationNotFoundError,
    PreconditionFailed,
    /// A tenant or bucket quota would be exceeded (MaxIOFS's code; 403).
    QuotaExceeded,
    RequestTimeTooSkewed,
    RequestTimeout,
    ServerSideEncryptionConfigurationNotFoundError,
    /// An SSE-KMS key id, ARN or alias that names no key.
    KmsNotFound,
    /// An SSE-KMS key that is disabled.
    KmsDisabled,
    /// Writes paused (maintenance mode), with Retry-After.
    ServiceUnavailable,
    SignatureDoesNotMatch,
    SlowDown,
    XAmzContentSHA256Mismatch,
}

impl S3ErrorCode {
    /// The code string as AWS spells it in `<Code>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "AccessDenied",
            Self::AccessForbidden => "AccessForbidden",
            Self::AccessControlListNotSupported => "AccessControlListNotSupported",
            Self::InvalidBucketAclWithObjectOwnership => "InvalidBucketAclWithObjectOwnership",
            Self::InvalidPolicyDocument => "InvalidPolicyDocument",
            Self::MalformedACLError => "MalformedACLError",
            Self::MalformedPOSTRequest => "MalformedPOSTRequest",
            Self::MaxMessageLengthExceeded => "MaxMessageLengthExceeded",
            Self::MaxPostPreDataLengthExceeded => "MaxPostPreDataLengthExceeded",
            Self::NoSuchCORSConfiguration => "NoSuchCORSConfiguration",
            Self::NoSuchTagSet => "NoSuchTagSet",
            Self::NoSuchPublicAccessBlockConfiguration => "NoSuchPublicAccessBlockConfiguration",
            Self::OwnershipControlsNotFoundError => "OwnershipControlsNotFoundError",
            Self::UnresolvableGrantByEmailAddress => "UnresolvableGrantByEmailAddress",
            Self::AuthorizationHeaderMalformed => "AuthorizationHeaderMalformed",
            Self::AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            Self::BadDigest => "BadDigest",
            Self::BadRequest => "BadRequest",
            Self::BucketAlreadyExists => "BucketAlreadyExists",
            Self::BucketAlreadyOwnedByYou => "BucketAlreadyOwnedByYou",
            Self::BucketNotEmpty => "BucketNotEmpty",
            Self::EntityTooLarge => "EntityTooLarge",
            Self::EntityTooSmall => "EntityTooSmall",
            Self::ExpiredToken => "ExpiredToken",
            Self::IncompleteBody => "IncompleteBody",
            Self::InsufficientStorage => "InsufficientStorage",
            Self::InternalError => "InternalError",
            Self::InvalidAccessKeyId => "InvalidAccessKeyId",
            Self::InvalidArgument => "InvalidArgument",
            Self::InvalidBucketName => "InvalidBucketName",
            Self::InvalidBucketState => "InvalidBucketState",
            Self::InvalidDigest => "InvalidDigest",
            Self::InvalidPart => "InvalidPart",
            Self::InvalidPartNumber => "InvalidPartNumber",
            Self::InvalidPartOrder => "InvalidPartOrder",
            Self::InvalidRange => "InvalidRange",
            Self::InvalidRequest => "InvalidRequest",
            Self::InvalidStorageClass => "InvalidStorageClass",
            Self::InvalidTag => "InvalidTag",
            Self::InvalidToken => "InvalidToken",
            Self::KeyTooLongError => "KeyTooLongError",
            Self::MalformedXML => "MalformedXML",
            Self::MalformedPolicy => "MalformedPolicy",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::MissingContentLength => "MissingContentLength",
            Self::MissingSecurityHeader => "MissingSecurityHeader",
            Self::NoSuchBucket => "NoSuchBucket",
            Self::NoSuchBucketPolicy => "NoSuchBucketPolicy",
            Self::NoSuchKey => "NoSuchKey",
            Self::NoSuchUpload => "NoSuchUpload",
            Self::NoSuchVersion => "NoSuchVersion",
            Self::NoSuchLifecycleConfiguration => "NoSuchLifecycleConfiguration",
            Self::NoSuchObjectLockConfiguration => "NoSuchObjectLockConfiguration",
            Self::ObjectLockConfigurationNotFoundError => "ObjectLockConfigurationNotFoundError",
            Self::NotImplemented => "NotImplemented",
            Self::NotModified => "NotModified",
            Self::PolicyTooLarge => "PolicyTooLarge",
            Self::PreconditionFailed => "PreconditionFailed",
            Self::QuotaExceeded => "QuotaExceeded",
            Self::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            Self::RequestTimeout => "RequestTimeout",
            Self::KmsNotFound => "KMS.NotFoundException",
            Self::KmsDisabled => "KMS.DisabledException",
            Self::ServerSideEncryptionConfigurationNotFoundError => {
                "ServerSideEncryptionConfigurationNotFoundError"
            }
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::SlowDown => "SlowDown",
            Self::XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
        }
    }

    /// The HTTP status AWS returns with this code.
    pub fn status(self) -> u16 {
        match self {
            Self::AccessDenied => 403,
            Self::AccessForbidden => 403,
            Self::AccessControlListNotSupported => 400,
            Self::InvalidBucketAclWithObjectOwnership => 400,
            Self::InvalidPolicyDocument => 400,
            Self::MalformedACLError => 400,
            Self::MalformedPOSTRequest => 400,
            Self::MaxMessageLengthExceeded => 400,
            Self::MaxPostPreDataLengthExceeded => 400,
            Self::NoSuchCORSConfiguration => 404,
            Self::NoSuchTagSet => 404,
            Self::NoSuchPublicAccessBlockConfiguration => 404,
            Self::OwnershipControlsNotFoundError => 404,
            Self::UnresolvableGrantByEmailAddress => 400,
            Self::AuthorizationHeaderMalformed => 400,
            Self::AuthorizationQueryParametersError => 400,
            Self::BadDigest => 400,
            Self::BucketAlreadyExists => 409,
            Self::BucketAlreadyOwnedByYou => 409,
            Self::BucketNotEmpty => 409,
            Self::EntityTooLarge => 400,
            Self::EntityTooSmall => 400,
            Self::ExpiredToken => 400,
            Self::IncompleteBody => 400,
            Self::InsufficientStorage => 507,
            Self::InternalError => 500,
            Self::InvalidAccessKeyId => 403,
            Self::InvalidArgument => 400,
            Self::InvalidBucketName => 400,
            Self::InvalidBucketState => 409,
            Self::InvalidDigest => 400,
            Self::InvalidPart => 400,
            Self::InvalidPartNumber => 416,
            Self::InvalidPartOrder => 400,
            Self::InvalidRange => 416,
            Self::InvalidRequest => 400,
            Self::InvalidStorageClass => 400,
            Self::InvalidTag => 400,
            Self::InvalidToken => 400,
            Self::BadRequest => 400,
            Self::KeyTooLongError => 400,
            Self::MalformedXML => 400,
            Self::MalformedPolicy => 400,
            Self::MethodNotAllowed => 405,
            Self::MissingContentLength => 411,
            Self::MissingSecurityHeader => 400,
            Self::NoSuchBucket => 404,
            Self::NoSuchBucketPolicy => 404,
            Self::NoSuchKey => 404,
            Self::NoSuchUpload => 404,
            Self::NoSuchVersion => 404,
            Self::NoSuchLifecycleConfiguration => 404,
            Self::NoSuchObjectLockConfiguration => 404,
            Self::ObjectLockConfigurationNotFoundError => 404,
            Self::NotImplemented => 501,
            Self::NotModified => 304,
            Self::PolicyTooLarge => 400,
            Self::PreconditionFailed => 412,
            Self::QuotaExceeded => 403,
            Self::RequestTimeTooSkewed => 403,
            Self::RequestTimeout => 400,
            Self::ServerSideEncryptionConfigurationNotFoundError => 404,
            Self::KmsNotFound | Self::KmsDisabled => 400,
            Self::ServiceUnavailable => 503,
            Self::SignatureDoesNotMatch => 403,
            Self::SlowDown => 503,
            Self::XAmzContentSHA256Mismatch => 400,
        }
    }
}

/// An S3 error on its way to the client: code, human message, and the resource
/// it concerns (bucket or key), rendered into AWS's `<Error>` XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    pub code: S3ErrorCode,
    pub message: String,
    pub resource: Option<String>,
    /// Headers the error response carries besides the usual ones (a GET of a
    /// delete marker answers 404 with `x-amz-delete-marker: true`).
    pub headers: Vec<(String, String)>,
    /// Elements the error XML carries after `Resource`, as AWS adds them for
    /// some errors (`HeadersNotSigned`, `ArgumentName`, `ArgumentValue`).
    pub details: Vec<(&'static str, String)>,
}

impl S3Error {
    pub fn new(code: S3ErrorCode, message: impl Into<String>) -> Self {
        S3Error {
            code,
            message: message.into(),
            resource: None,
            headers: Vec::new(),
            details: Vec::new(),
        }
    }

    pub fn with_detail(mut self, element: &'static str, value: impl Into<String>) -> Self {
        self.details.push((element, value.into()));
        self
    }

    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(S3ErrorCode::InternalError, message)
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for S3Error {}

pub type S3Result<T> = Result<T, S3Error>;
