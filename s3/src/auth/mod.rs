//! Request authentication: AWS Signature Version 4 in the `Authorization`
//! header and in presigned URLs (`sigv4`), and the streaming `aws-chunked`
//! body with its chunk and trailer signatures (`chunked`), and AWS Signature
//! Version 2 for older tools such as s3cmd (`sigv2`).
//!
//! Owns: parsing and verifying signatures, the per-shard signing-key cache,
//! and `AuthError`, the one error type of this module, mapped exhaustively
//! to S3 error codes.
//!
//! Must not touch: I/O, clocks, the key catalog. Everything here is pure and
//! synchronous: the caller passes the request's parts, the secret it looked
//! up for the access key id, the current time, and feeds body bytes.
//!
//! Order of calls in a request handler:
//! 1. `sigv4::is_presigned(query)` chooses between
//!    `sigv4::parse_presigned_query` and `sigv4::parse_authorization_header`.
//! 2. Look the access key id up in the shard's key snapshot; an unknown id is
//!    `AuthError::AccessKeyUnknown`.
//! 3. `sigv4::verify_header` / `sigv4::verify_presigned` with the secret, the
//!    shard's `SigningKeyCache` and `now` give `Verified`.
//! 4. Body: for `PayloadHash::Sha256` hash the body and call
//!    `PayloadHash::verify_body_sha256` before committing; for streaming
//!    modes build `chunked::AwsChunkedDecoder` from
//!    `chunked::ChunkedMode::from_verified`, `feed` it and `finish` it, then
//!    compare the trailing checksum (`crate::checksum`) before committing.
//!
//! SigV2 requests (`sigv2::is_presigned_v2`, `sigv2::is_authorization_header_v2`)
//! follow the same parse / look up / verify order; their body is unsigned
//! except for `Content-MD5` and an optional signed `x-amz-content-sha256`.

use std::fmt;

use crate::error::{S3Error, S3ErrorCode};

pub mod chunked;
pub mod sigv2;
pub mod sigv4;

/// Why a request failed authentication or its body failed verification.
///
/// Messages never carry secrets, signing keys or expected signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The `Authorization` header is not a SigV4 header we can parse.
    HeaderMalformed(&'static str),
    /// The presigned-URL `X-Amz-*` parameters are missing or malformed.
    QueryMalformed(&'static str),
    /// The `Authorization` header is not a SigV2 `AWS <key id>:<signature>`.
    HeaderMalformedV2(&'static str),
    /// The SigV2 `AWSAccessKeyId`, `Expires`, `Signature` parameters are
    /// missing, repeated or malformed.
    QueryMalformedV2(&'static str),
    /// The credential scope names a region other than this server's.
    RegionMismatch {
        region_sent: String,
        region_expected: String,
    },
    /// The credential scope date is not the date of the request timestamp.
    ScopeDateMismatch,
    /// The caller found no secret for the access key id.
    AccessKeyUnknown,
    /// The request signature does not match the one computed here.
    SignatureMismatch,
    /// A header listed in SignedHeaders is absent from the request.
    SignedHeaderMissing(String),
    /// The request carries headers that change what it does (`x-amz-*`,
    /// `Content-MD5`) outside SignedHeaders: the names, lowercase.
    HeadersNotSigned(Vec<String>),
    /// Neither `x-amz-date` nor `Date` is present.
    DateMissing,
    /// `x-amz-date`, `Date` or `X-Amz-Date` is not a valid timestamp.
    DateInvalid,
    /// The request time is more than the allowed skew away from ours.
    RequestTimeTooSkewed {
        /// The request's date header as sent (AWS echoes it).
        request_time: String,
        request_unix_seconds: i64,
        server_unix_seconds: i64,
    },
    /// A presigned URL used after `X-Amz-Date + X-Amz-Expires`.
    PresignedExpired,
    /// A presigned URL dated further in the future than the allowed skew.
    PresignedNotYetValid,
    /// Header authentication without `x-amz-content-sha256`.
    ContentSha256Missing,
    /// `x-amz-content-sha256` is neither a known mode nor a hex SHA-256.
    ContentSha256Invalid,
    /// The body's SHA-256 differs from the signed `x-amz-content-sha256`.
    ContentSha256Mismatch,
    /// A streaming upload without `x-amz-decoded-content-length`.
    DecodedLengthMissing,
    /// `x-amz-decoded-content-length` is not a decimal byte count.
    DecodedLengthInvalid,
    /// The decoded body length differs from `x-amz-decoded-content-length`.
    DecodedLengthMismatch {
        expected_bytes: u64,
        actual_bytes: u64,
    },
    /// The `aws-chunked` framing is broken (bad size line, missing CRLF, ...).
    ChunkMalformed(&'static str),
    /// A chunk's signature does not match its data.
    ChunkSignatureMismatch,
    /// The body ended before the final chunk (and its trailers) arrived.
    BodyTruncated,
    /// The trailing header block after the final chunk is malformed.
    TrailerMalformed(&'static str),
    /// A signed-trailer upload whose trailer carries no signature.
    TrailerSignatureMissing,
    /// The trailer signature does not match the trailing headers.
    TrailerSignatureMismatch,
}

impl AuthError {
    /// AWS's error code for this failure.
    pub fn code(&self) -> S3ErrorCode {
        use S3ErrorCode as C;
        match self {
            Self::HeaderMalformed(_) => C::AuthorizationHeaderMalformed,
            // The presigned form's own code (a bad X-Amz-Expires, -Credential, -Date, ...).
            Self::QueryMalformed(_) => C::AuthorizationQueryParametersError,
            // AWS's own answers to broken SigV2 credentials.
            Self::HeaderMalformedV2(_) => C::InvalidArgument,
            Self::QueryMalformedV2(_) => C::AccessDenied,
            Self::RegionMismatch { .. } => C::AuthorizationHeaderMalformed,
            Self::ScopeDateMismatch => C::AuthorizationHeaderMalformed,
            Self::AccessKeyUnknown => C::InvalidAccessKeyId,
            Self::SignatureMismatch => C::SignatureDoesNotMatch,
            Self::SignedHeaderMissing(_) => C::SignatureDoesNotMatch,
            Self::HeadersNotSigned(_) => C::AccessDenied,
            Self::DateMissing | Self::DateInvalid => C::AccessDenied,
            Self::RequestTimeTooSkewed { .. } => C::RequestTimeTooSkewed,
            Self::PresignedExpired | Self::PresignedNotYetValid => C::AccessDenied,
            Self::ContentSha256Missing => C::InvalidRequest,
            Self::ContentSha256Invalid => C::InvalidArgument,
            Self::ContentSha256Mismatch => C::XAmzContentSHA256Mismatch,
            Self::DecodedLengthMissing => C::MissingContentLength,
            Self::DecodedLengthInvalid => C::InvalidArgument,
            Self::DecodedLengthMismatch { .. } => C::IncompleteBody,
            // AWS's own code for bad framing and trailers (MalformedTrailerError)
            // is missing from S3ErrorCode; InvalidRequest keeps the 400.
            Self::ChunkMalformed(_) | Self::TrailerMalformed(_) => C::InvalidRequest,
            Self::ChunkSignatureMismatch => C::SignatureDoesNotMatch,
            Self::BodyTruncated => C::IncompleteBody,
            Self::TrailerSignatureMissing | Self::TrailerSignatureMismatch => {
                C::SignatureDoesNotMatch
            }
        }
    }

    /// A message close to AWS's wording, so clients and operators recognise it.
    pub fn message(&self) -> String {
        match self {
            Self::HeaderMalformed(why)
            | Self::QueryMalformed(why)
            | Self::HeaderMalformedV2(why)
            | Self::QueryMalformedV2(why) => (*why).to_owned(),
            Self::RegionMismatch {
                region_sent,
                region_expected,
            } => {
                format!("The region '{region_sent}' is wrong; expecting '{region_expected}'")
            }
            Self::ScopeDateMismatch => {
                "Invalid credential date. Date is not the same as X-Amz-Date.".to_owned()
            }
            Self::AccessKeyUnknown => {
                "The AWS Access Key Id you provided does not exist in our records.".to_owned()
            }
            Self::SignatureMismatch
            | Self::ChunkSignatureMismatch
            | Self::TrailerSignatureMismatch => SIGNATURE_MISMATCH_MESSAGE.to_owned(),
            Self::SignedHeaderMissing(name) => {
                format!("The header '{name}' is listed in SignedHeaders but absent.")
            }
            Self::HeadersNotSigned(_) => {
                "There were headers present in the request which were not signed".to_owned()
            }
            Self::DateMissing | Self::DateInvalid => {
                "AWS authentication requires a valid Date or x-amz-date header".to_owned()
            }
            Self::RequestTimeTooSkewed {
                request_unix_seconds,
                server_unix_seconds,
                ..
            } => format!(
                "The difference between the request time ({request_unix_seconds}) and the \
                 server's time ({server_unix_seconds}) is too large."
            ),
            Self::PresignedExpired => "Request has expired".to_owned(),
            Self::PresignedNotYetValid => "Request is not valid yet".to_owned(),
            Self::ContentSha256Missing => {
                "Missing required header for this request: x-amz-content-sha256".to_owned()
            }
            Self::ContentSha256Invalid => "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, \
                a STREAMING- mode, or a valid sha256 value."
                .to_owned(),
            Self::ContentSha256Mismatch => "The provided 'x-amz-content-sha256' header does \
                not match what was computed."
                .to_owned(),
            Self::DecodedLengthMissing => {
                "You must provide the x-amz-decoded-content-length HTTP header.".to_owned()
            }
            Self::DecodedLengthInvalid => "x-amz-decoded-content-length is invalid.".to_owned(),
            Self::DecodedLengthMismatch {
                expected_bytes,
                actual_bytes,
            } => format!(
                "The body decodes to {actual_bytes} bytes but x-amz-decoded-content-length \
                 says {expected_bytes}."
            ),
            Self::ChunkMalformed(why) => format!("Malformed aws-chunked body: {why}."),
            Self::BodyTruncated => "The request body ended before its final chunk.".to_owned(),
            Self::TrailerMalformed(why) => format!("Malformed trailing headers: {why}."),
            Self::TrailerSignatureMissing => {
                "The trailing headers carry no x-amz-trailer-signature.".to_owned()
            }
        }
    }
}

const SIGNATURE_MISMATCH_MESSAGE: &str = "The request signature we calculated does not match \
    the signature you provided. Check your key and signing method.";

impl From<AuthError> for S3Error {
    fn from(error: AuthError) -> Self {
        let err = S3Error::new(error.code(), error.message());
        match &error {
            AuthError::HeadersNotSigned(names) => {
                err.with_detail("HeadersNotSigned", names.join(", "))
            }
            AuthError::RequestTimeTooSkewed {
                request_time,
                server_unix_seconds,
                ..
            } => {
                let server_ms = u64::try_from(*server_unix_seconds).unwrap_or(0) * 1000;
                let server_time = crate::xml::format_timestamp(server_ms).replace(".000Z", "Z");
                err.with_detail("RequestTime", request_time.clone())
                    .with_detail("ServerTime", server_time)
                    .with_detail(
                        "MaxAllowedSkewMilliseconds",
                        (sigv4::CLOCK_SKEW_SECONDS_MAX * 1000).to_string(),
                    )
            }
            _ => err,
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code().as_str(), self.message())
    }
}

impl std::error::Error for AuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_its_aws_code() {
        use S3ErrorCode as C;
        let region = || AuthError::RegionMismatch {
            region_sent: "eu-west-1".into(),
            region_expected: "us-east-1".into(),
        };
        let cases = [
            (
                AuthError::HeaderMalformed("x"),
                C::AuthorizationHeaderMalformed,
            ),
            (
                AuthError::QueryMalformed("x"),
                C::AuthorizationQueryParametersError,
            ),
            (region(), C::AuthorizationHeaderMalformed),
            (
                AuthError::ScopeDateMismatch,
                C::AuthorizationHeaderMalformed,
            ),
            (AuthError::AccessKeyUnknown, C::InvalidAccessKeyId),
            (AuthError::SignatureMismatch, C::SignatureDoesNotMatch),
            (
                AuthError::SignedHeaderMissing("range".into()),
                C::SignatureDoesNotMatch,
            ),
            (AuthError::DateMissing, C::AccessDenied),
            (AuthError::DateInvalid, C::AccessDenied),
            (
                AuthError::RequestTimeTooSkewed {
                    request_time: String::new(),
                    request_unix_seconds: 0,
                    server_unix_seconds: 1,
                },
                C::RequestTimeTooSkewed,
            ),
            (AuthError::PresignedExpired, C::AccessDenied),
            (AuthError::PresignedNotYetValid, C::AccessDenied),
            (AuthError::ContentSha256Missing, C::InvalidRequest),
            (AuthError::ContentSha256Invalid, C::InvalidArgument),
            (
                AuthError::ContentSha256Mismatch,
                C::XAmzContentSHA256Mismatch,
            ),
            (AuthError::DecodedLengthMissing, C::MissingContentLength),
            (AuthError::DecodedLengthInvalid, C::InvalidArgument),
            (
                AuthError::DecodedLengthMismatch {
                    expected_bytes: 2,
                    actual_bytes: 1,
                },
                C::IncompleteBody,
            ),
            (AuthError::ChunkMalformed("x"), C::InvalidRequest),
            (AuthError::ChunkSignatureMismatch, C::SignatureDoesNotMatch),
            (AuthError::BodyTruncated, C::IncompleteBody),
            (AuthError::TrailerMalformed("x"), C::InvalidRequest),
            (AuthError::TrailerSignatureMissing, C::SignatureDoesNotMatch),
            (
                AuthError::TrailerSignatureMismatch,
                C::SignatureDoesNotMatch,
            ),
        ];
        for (error, code) in cases {
            let s3_error = S3Error::from(error.clone());
            assert_eq!(s3_error.code, code, "{error:?}");
            assert!(!s3_error.message.is_empty());
            assert!(error.to_string().starts_with(code.as_str()));
        }
        let message = S3Error::from(region()).message;
        assert_eq!(
            message,
            "The region 'eu-west-1' is wrong; expecting 'us-east-1'"
        );
    }
}
