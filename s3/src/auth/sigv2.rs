//! AWS Signature Version 2 as S3 uses it: `Authorization: AWS <key>:<sig>`
//! and the presigned `AWSAccessKeyId` / `Expires` / `Signature` query form,
//! which older tools (s3cmd by default) still send.
//!
//! Owns: parsing both forms, the string to sign (the positional Content-MD5,
//! Content-Type and Date lines, CanonicalizedAmzHeaders and
//! CanonicalizedResource, as AWS's "Signing and authenticating REST requests"
//! page specifies), HMAC-SHA1 verification in constant time, and the
//! clock-skew and expiry rules.
//!
//! Must not touch: I/O, the wall clock (`now` is passed in), the key catalog
//! (the caller looks the secret up), the body. SigV2 signs no body hash: the
//! caller checks `Content-MD5` (signed here as a positional line) and, when a
//! client sent one, the signed `x-amz-content-sha256` that `V2Verified`
//! carries.
//!
//! Order of calls: `is_presigned_v2(query)` chooses `parse_presigned_query_v2`
//! and `verify_v2_presigned`; otherwise `is_authorization_header_v2(value)`
//! chooses `parse_authorization_header_v2` and `verify_v2_header`. Between
//! parsing and verifying, the caller looks up the secret of the access key id.
//!
//! Main types: `V2Request`, `SignatureV2`, `V2Credentials`,
//! `V2PresignedQuery`, `V2Verified`.

use std::fmt;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::sigv4::{AmzDate, PayloadHash, CLOCK_SKEW_SECONDS_MAX};
use super::AuthError;

type HmacSha1 = Hmac<Sha1>;

/// What a SigV2 `Authorization` header starts with. SigV4's
/// `AWS4-HMAC-SHA256` does not, as its fourth byte is `4`.
pub const AUTHORIZATION_PREFIX: &str = "AWS ";
/// HMAC-SHA1 output, the signature's size before base64.
pub const SIGNATURE_BYTES: usize = 20;

const QUERY_ACCESS_KEY_ID: &str = "AWSAccessKeyId";
const QUERY_EXPIRES: &str = "Expires";
const QUERY_SIGNATURE: &str = "Signature";

/// Query parameters CanonicalizedResource carries: every sub-resource the
/// router dispatches on (so a signed request cannot be replayed as another
/// operation by adding one: `PUT /b` as `PUT /b?object-lock`), which covers
/// AWS's and botocore's lists, and the `response-*` header overrides. Other
/// parameters (`prefix`, `max-keys`, `list-type`) only shape a listing and
/// are unsigned. Clients that leave out a newer sub-resource (botocore omits
/// `retention`, `legal-hold`, `encryption`, `attributes`) get
/// SignatureDoesNotMatch for those operations: they must use SigV4.
/// Sorted bytewise for `binary_search`.
const SUBRESOURCES_SIGNED: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "attributes",
    "cors",
    "delete",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "location",
    "logging",
    "metadataTable",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "partNumber",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "retention",
    "select",
    "select-type",
    "session",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

const HEADER_MALFORMED_MESSAGE: &str =
    "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature";
const QUERY_INCOMPLETE_MESSAGE: &str =
    "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters";

/// The parts of an HTTP request that SigV2 covers.
///
/// - `method`: as sent, e.g. `GET`.
/// - `raw_path`: the path as sent, still percent-encoded, without the query
///   (`/dictionary/fran%C3%A7ais`). AWS signs it literally, case of the hex
///   digits included.
/// - `bucket_from_host`: the bucket when the `Host` header names it
///   (virtual-host style), `None` for path style; it is prefixed as `/bucket`.
/// - `query_pairs`: every query parameter percent-decoded, `""` for a
///   parameter sent without `=`. Sub-resource values are signed decoded.
/// - `headers`: every header as received, names lowercased, values trimmed;
///   a repeated header appears once per occurrence.
#[derive(Debug, Clone, Copy)]
pub struct V2Request<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub bucket_from_host: Option<&'a str>,
    pub query_pairs: &'a [(String, String)],
    pub headers: &'a [(String, String)],
}

impl<'a> V2Request<'a> {
    /// The first value of a header (`name` must be lowercase).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A SigV2 signature: an HMAC-SHA1, sent as 28 base64 characters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SignatureV2(pub [u8; SIGNATURE_BYTES]);

impl SignatureV2 {
    /// Parses padded standard base64 of exactly 20 bytes.
    pub fn from_base64(text: &str) -> Option<Self> {
        let engine = base64::engine::general_purpose::STANDARD;
        // One spare byte makes a longer input fail the length check below
        // rather than be cut to size.
        let mut buffer = [0u8; SIGNATURE_BYTES + 1];
        let len = engine.decode_slice(text, &mut buffer).ok()?;
        let bytes: [u8; SIGNATURE_BYTES] = buffer[..len].try_into().ok()?;
        Some(SignatureV2(bytes))
    }

    /// The base64 form that appears in headers (and, URL-encoded, in queries).
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// Compares in constant time, so a forger learns nothing from timing.
    pub fn ct_matches(&self, other: &SignatureV2) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for SignatureV2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignatureV2({})", self.to_base64())
    }
}

/// The access key id and signature a SigV2 request presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Credentials {
    pub access_key_id: String,
    pub signature: SignatureV2,
}

/// Whether an `Authorization` header value is SigV2 (`AWS <key>:<sig>`).
pub fn is_authorization_header_v2(value: &str) -> bool {
    value.trim_start().starts_with(AUTHORIZATION_PREFIX)
}

/// Parses `AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU=`.
pub fn parse_authorization_header_v2(value: &str) -> Result<V2Credentials, AuthError> {
    let malformed = || AuthError::HeaderMalformedV2(HEADER_MALFORMED_MESSAGE);
    let rest = value
        .trim()
        .strip_prefix(AUTHORIZATION_PREFIX)
        .ok_or_else(malformed)?;
    let (access_key_id, signature) = rest.trim_start().split_once(':').ok_or_else(malformed)?;
    let access_key_id = access_key_id_parse(access_key_id).ok_or_else(malformed)?;
    let signature = SignatureV2::from_base64(signature.trim()).ok_or(
        AuthError::HeaderMalformedV2("The signature must be the base64 of a 20-byte HMAC-SHA1."),
    )?;
    Ok(V2Credentials {
        access_key_id,
        signature,
    })
}

/// A non-empty id of printable ASCII without spaces, as the catalog issues.
fn access_key_id_parse(text: &str) -> Option<String> {
    let clean = !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic());
    clean.then(|| text.to_owned())
}

/// A presigned SigV2 URL's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2PresignedQuery {
    pub credentials: V2Credentials,
    /// `Expires` as sent: the string to sign holds this text, not a reformat.
    pub expires_text: String,
    pub expires_unix_seconds: i64,
}

/// Whether the query carries SigV2 presigned-URL parameters. Either of the
/// two that no S3 operation uses is enough: if the others are missing,
/// `parse_presigned_query_v2` says so rather than the request going
/// anonymous.
pub fn is_presigned_v2(query_pairs: &[(String, String)]) -> bool {
    query_pairs
        .iter()
        .any(|(name, _)| name == QUERY_ACCESS_KEY_ID || name == QUERY_SIGNATURE)
}

/// Parses `AWSAccessKeyId`, `Expires` and `Signature` from the decoded query.
pub fn parse_presigned_query_v2(
    query_pairs: &[(String, String)],
) -> Result<V2PresignedQuery, AuthError> {
    let get = |name: &str| presigned_v2_param(query_pairs, name);
    let (access_key_id, expires_text) = (get(QUERY_ACCESS_KEY_ID)?, get(QUERY_EXPIRES)?);
    let signature = get(QUERY_SIGNATURE)?;
    let access_key_id = access_key_id_parse(access_key_id).ok_or(AuthError::QueryMalformedV2(
        "AWSAccessKeyId must be a non-empty access key id.",
    ))?;
    let expires_unix_seconds = expires_parse(expires_text).ok_or(AuthError::QueryMalformedV2(
        "Invalid date (should be seconds since epoch)",
    ))?;
    // The router decodes `+` as a space; a client that left the base64 `+`
    // unescaped meant `+`, and base64 has no spaces to confuse it with.
    let signature = SignatureV2::from_base64(&signature.replace(' ', "+")).ok_or(
        AuthError::QueryMalformedV2("The signature must be the base64 of a 20-byte HMAC-SHA1."),
    )?;
    Ok(V2PresignedQuery {
        credentials: V2Credentials {
            access_key_id,
            signature,
        },
        expires_text: expires_text.to_owned(),
        expires_unix_seconds,
    })
}

/// Exactly one occurrence of a required presigned parameter.
fn presigned_v2_param<'q>(pairs: &'q [(String, String)], name: &str) -> Result<&'q str, AuthError> {
    let mut values = pairs
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str());
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value),
        (None, _) => Err(AuthError::QueryMalformedV2(QUERY_INCOMPLETE_MESSAGE)),
        (Some(_), Some(_)) => Err(AuthError::QueryMalformedV2(
            "A query-string authentication parameter is repeated.",
        )),
    }
}

/// Decimal unix seconds. Nineteen digits still fit an `i64`.
fn expires_parse(text: &str) -> Option<i64> {
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || text.len() > 19 {
        return None;
    }
    text.parse().ok()
}

/// A request whose SigV2 signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Verified {
    pub access_key_id: String,
    /// The body SHA-256 a client signed in `x-amz-content-sha256` (an amz
    /// header, so covered by the signature): the caller must compare it with
    /// the body before committing. `None` when absent or `UNSIGNED-PAYLOAD`;
    /// then only `Content-MD5`, if sent, protects the body.
    pub body_sha256: Option<[u8; 32]>,
}

/// Verifies a request signed in the `Authorization` header.
///
/// The timestamp is `x-amz-date` when present, else `Date`, and must be
/// within `CLOCK_SKEW_SECONDS_MAX` of `now_unix_seconds`.
pub fn verify_v2_header(
    req: &V2Request<'_>,
    credentials: &V2Credentials,
    secret_access_key: &str,
    now_unix_seconds: i64,
) -> Result<V2Verified, AuthError> {
    let (request_unix_seconds, request_time) = verify_v2_header_request_time(req)?;
    if (now_unix_seconds - request_unix_seconds).abs() > CLOCK_SKEW_SECONDS_MAX {
        return Err(AuthError::RequestTimeTooSkewed {
            request_time: request_time.to_owned(),
            request_unix_seconds,
            server_unix_seconds: now_unix_seconds,
        });
    }
    let amz_date = req.header("x-amz-date");
    // With x-amz-date, the Date line is empty and x-amz-date is signed among
    // the amz headers: what AWS, the SDKs and s3cmd do.
    let date_line = match amz_date {
        Some(_) => "",
        None => req.header("date").unwrap_or(""),
    };
    let signature = &credentials.signature;
    if signs_v2(
        req,
        date_line,
        AmzDateLine::Included,
        secret_access_key,
        signature,
    ) {
        return v2_verified(req, credentials);
    }
    // AWS's documented Delete example instead puts x-amz-date's value on the
    // Date line and leaves it out of the amz headers; clients written from
    // that page sign this way. It covers the same request parts, so it is
    // accepted too, at the cost of a second HMAC on failures only.
    if let Some(amz_date) = amz_date {
        if signs_v2(
            req,
            amz_date,
            AmzDateLine::Omitted,
            secret_access_key,
            signature,
        ) {
            return v2_verified(req, credentials);
        }
    }
    Err(AuthError::SignatureMismatch)
}

/// Verifies a presigned SigV2 URL: `Expires` replaces the Date line, and the
/// URL is refused once `now_unix_seconds` is past it. AWS applies no
/// not-before rule and no maximum lifetime to SigV2 URLs.
pub fn verify_v2_presigned(
    req: &V2Request<'_>,
    query: &V2PresignedQuery,
    secret_access_key: &str,
    now_unix_seconds: i64,
) -> Result<V2Verified, AuthError> {
    if now_unix_seconds > query.expires_unix_seconds {
        return Err(AuthError::PresignedExpired);
    }
    let signature = &query.credentials.signature;
    let date_line = &query.expires_text;
    // A presigned URL carries its x-amz-* "headers" (botocore moves
    // x-amz-security-token there) as query parameters; they are signed as
    // amz headers all the same.
    let mut headers = req.headers.to_vec();
    headers.extend(
        req.query_pairs
            .iter()
            .filter(|(name, _)| name.to_ascii_lowercase().starts_with("x-amz-"))
            .cloned(),
    );
    let with_query_headers = V2Request {
        headers: &headers,
        ..*req
    };
    if !signs_v2(
        &with_query_headers,
        date_line,
        AmzDateLine::Included,
        secret_access_key,
        signature,
    ) {
        return Err(AuthError::SignatureMismatch);
    }
    v2_verified(req, &query.credentials)
}

/// Whether `signature` signs `req` with this Date line: under its path as
/// sent or, for a path-style request to a bucket, under `/bucket/`, which is
/// how botocore signs a bucket request's resource (`/bucket/?versioning`)
/// while sending the path without the slash. Both name the same bucket.
fn signs_v2(
    req: &V2Request<'_>,
    date_line: &str,
    amz_date_line: AmzDateLine,
    secret_access_key: &str,
    signature: &SignatureV2,
) -> bool {
    let signs = |req: &V2Request<'_>| {
        let to_sign = string_to_sign_v2_build(req, date_line, amz_date_line);
        sign_v2(secret_access_key, &to_sign).ct_matches(signature)
    };
    signs(req)
        || bucket_root_alias(req).is_some_and(|alias| {
            signs(&V2Request {
                raw_path: &alias,
                ..*req
            })
        })
}

/// `/bucket/` for a path-style request whose path is `/bucket`.
fn bucket_root_alias(req: &V2Request<'_>) -> Option<String> {
    let name = req.raw_path.strip_prefix('/')?;
    let bucket_only = req.bucket_from_host.is_none() && !name.is_empty() && !name.contains('/');
    bucket_only.then(|| format!("{}/", req.raw_path))
}

/// `x-amz-date` (which takes precedence), else `Date`, in unix seconds.
/// The request's time and the header text it was read from.
fn verify_v2_header_request_time<'r>(req: &V2Request<'r>) -> Result<(i64, &'r str), AuthError> {
    let text = match req.header("x-amz-date") {
        Some(text) => text,
        None => req.header("date").ok_or(AuthError::DateMissing)?,
    };
    let seconds = date_v2_parse(text).ok_or(AuthError::DateInvalid)?;
    Ok((seconds, text))
}

/// Builds the result once the signature matched. Streaming payload modes
/// need SigV4's chunk signatures and signing key, which SigV2 lacks, so an
/// `aws-chunked` body cannot be decoded here and is refused.
fn v2_verified(req: &V2Request<'_>, credentials: &V2Credentials) -> Result<V2Verified, AuthError> {
    let body_sha256 = match req.header("x-amz-content-sha256").map(PayloadHash::parse) {
        None | Some(Ok(PayloadHash::Unsigned)) => None,
        Some(Ok(PayloadHash::Sha256(digest))) => Some(digest),
        Some(Ok(_streaming)) => return Err(AuthError::ContentSha256Invalid),
        Some(Err(error)) => return Err(error),
    };
    Ok(V2Verified {
        access_key_id: credentials.access_key_id.clone(),
        body_sha256,
    })
}

/// Unix seconds of a SigV2 timestamp: any HTTP-date form `httpdate` parses
/// (RFC 1123 with `GMT`, RFC 850, asctime), RFC 1123 with a numeric or `UTC`
/// zone (`+0000`, as s3cmd and AWS's examples send), or the ISO 8601 basic
/// form some clients put in `x-amz-date`. Public so the fuzz targets reach it.
pub fn date_v2_parse(text: &str) -> Option<i64> {
    let text = text.trim();
    AmzDate::parse(text)
        .or_else(|| AmzDate::parse_http_date(text))
        .map(|date| date.unix_seconds())
        .or_else(|| date_v2_parse_zoned(text))
}

/// `Tue, 27 Mar 2007 19:36:42 +0000`: the local time parsed as if GMT,
/// then moved by the zone's offset.
fn date_v2_parse_zoned(text: &str) -> Option<i64> {
    let (local, zone) = text.rsplit_once(' ')?;
    let offset_seconds = match zone {
        "UT" | "UTC" => 0,
        _ => zone_offset_seconds(zone)?,
    };
    let local = AmzDate::parse_http_date(&format!("{local} GMT"))?;
    Some(local.unix_seconds() - offset_seconds)
}

/// `+hhmm` or `-hhmm` in seconds east of UTC.
fn zone_offset_seconds(zone: &str) -> Option<i64> {
    let b = zone.as_bytes();
    if b.len() != 5 || !b[1..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let two = |i: usize| i64::from(b[i] - b'0') * 10 + i64::from(b[i + 1] - b'0');
    let (hours, minutes) = (two(1), two(3));
    (hours <= 23 && minutes <= 59).then_some(sign * (hours * 3600 + minutes * 60))
}

/// The HMAC-SHA1 of the string to sign under the secret; clients send its
/// base64 (`SignatureV2::to_base64`).
pub fn sign_v2(secret_access_key: &str, string_to_sign: &str) -> SignatureV2 {
    let mut mac = HmacSha1::new_from_slice(secret_access_key.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(string_to_sign.as_bytes());
    SignatureV2(mac.finalize().into_bytes().into())
}

/// Whether `x-amz-date` is one of the CanonicalizedAmzHeaders lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AmzDateLine {
    Included,
    /// The documented Delete example's form: its value is the Date line.
    Omitted,
}

/// The string to sign:
/// `VERB \n Content-MD5 \n Content-Type \n <date_line> \n`
/// `CanonicalizedAmzHeaders CanonicalizedResource`.
///
/// `date_line` is the `Date` header, `""` when `x-amz-date` is present, or
/// `Expires` for a presigned URL.
pub fn string_to_sign_v2(req: &V2Request<'_>, date_line: &str) -> String {
    string_to_sign_v2_build(req, date_line, AmzDateLine::Included)
}

fn string_to_sign_v2_build(
    req: &V2Request<'_>,
    date_line: &str,
    amz_date_line: AmzDateLine,
) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(req.method);
    out.push('\n');
    // Positional lines hold values only; an absent header is an empty line.
    for value in [req.header("content-md5"), req.header("content-type")] {
        out.push_str(value.unwrap_or("").trim());
        out.push('\n');
    }
    out.push_str(date_line.trim());
    out.push('\n');
    canonical_amz_headers(&mut out, req.headers, amz_date_line);
    canonical_resource(&mut out, req);
    out
}

/// One `name:value\n` line per distinct `x-amz-*` header, names lowercased
/// and sorted; repeated headers join their values with `,` in arrival order.
/// Values are trimmed and unfolded, but inner spaces stay, as AWS specifies.
fn canonical_amz_headers(out: &mut String, headers: &[(String, String)], date: AmzDateLine) {
    let mut amz: Vec<(String, &str)> = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.as_str()))
        .filter(|(name, _)| name.starts_with("x-amz-"))
        .filter(|(name, _)| date == AmzDateLine::Included || name != "x-amz-date")
        .collect();
    // Stable, so the values of a repeated header keep their arrival order.
    amz.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (name, value)) in amz.iter().enumerate() {
        let continues = i > 0 && amz[i - 1].0 == *name;
        if continues {
            out.push(',');
        } else {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(name);
            out.push(':');
        }
        push_unfolded(out, value);
    }
    if !amz.is_empty() {
        out.push('\n');
    }
}

/// The value trimmed, with each line break and the whitespace around it
/// (obsolete line folding) replaced by one space.
fn push_unfolded(out: &mut String, value: &str) {
    let lines = value
        .split(['\r', '\n'])
        .map(|line| line.trim_matches([' ', '\t']))
        .filter(|line| !line.is_empty());
    for (i, line) in lines.enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(line);
    }
}

/// `[/bucket-from-host] + raw path + [?sub-resources]`. The path is signed as
/// sent, percent-encoding and all; sub-resources are sorted by name (stable,
/// so repeats keep their order) with decoded values, `name` alone when the
/// value is empty.
fn canonical_resource(out: &mut String, req: &V2Request<'_>) {
    if let Some(bucket) = req.bucket_from_host {
        out.push('/');
        out.push_str(bucket);
    }
    if req.raw_path.is_empty() {
        out.push('/');
    } else {
        out.push_str(req.raw_path);
    }
    let mut signed: Vec<&(String, String)> = req
        .query_pairs
        .iter()
        .filter(|(name, _)| SUBRESOURCES_SIGNED.binary_search(&name.as_str()).is_ok())
        .collect();
    signed.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (name, value)) in signed.into_iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(name);
        if !value.is_empty() {
            out.push('=');
            out.push_str(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{S3Error, S3ErrorCode};

    // The credentials of AWS's "Signing and authenticating REST requests"
    // page. Its signatures were computed for the bucket `johnsmith`; later
    // editions renamed it `awsexamplebucket1` in the text but kept the old
    // signatures, which only match the original name.
    const ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const BUCKET: &str = "johnsmith";

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    /// Unix seconds of an RFC 1123 date with a numeric zone.
    fn unix(date: &str) -> i64 {
        date_v2_parse(date).unwrap()
    }

    /// One documented header-auth example.
    struct Example {
        method: &'static str,
        raw_path: &'static str,
        bucket_from_host: Option<&'static str>,
        query: Vec<(String, String)>,
        headers: Vec<(String, String)>,
        signature: String,
        string_to_sign: String,
    }

    impl Example {
        fn request(&self) -> V2Request<'_> {
            V2Request {
                method: self.method,
                raw_path: self.raw_path,
                bucket_from_host: self.bucket_from_host,
                query_pairs: &self.query,
                headers: &self.headers,
            }
        }

        fn authorization(&self) -> String {
            format!("AWS {ACCESS_KEY_ID}:{}", self.signature)
        }

        fn now(&self) -> i64 {
            let req = self.request();
            unix(req.header("x-amz-date").or(req.header("date")).unwrap())
        }

        fn verify_at(&self, now: i64) -> Result<V2Verified, AuthError> {
            let credentials = parse_authorization_header_v2(&self.authorization())?;
            verify_v2_header(&self.request(), &credentials, SECRET, now)
        }
    }

    fn object_get() -> Example {
        Example {
            method: "GET",
            raw_path: "/photos/puppy.jpg",
            bucket_from_host: Some(BUCKET),
            query: vec![],
            headers: pairs(&[
                ("host", "johnsmith.s3.amazonaws.com"),
                ("date", "Tue, 27 Mar 2007 19:36:42 +0000"),
            ]),
            signature: "bWq2s1WEIj+Ydj0vQ697zp+IXMU=".into(),
            string_to_sign: "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg"
                .into(),
        }
    }

    fn object_put() -> Example {
        Example {
            method: "PUT",
            raw_path: "/photos/puppy.jpg",
            bucket_from_host: Some(BUCKET),
            query: vec![],
            headers: pairs(&[
                ("content-type", "image/jpeg"),
                ("content-length", "94328"),
                ("host", "johnsmith.s3.amazonaws.com"),
                ("date", "Tue, 27 Mar 2007 21:15:45 +0000"),
            ]),
            signature: "MyyxeRY7whkBe+bq8fHCL/2kKUg=".into(),
            string_to_sign: "PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n\
                             /johnsmith/photos/puppy.jpg"
                .into(),
        }
    }

    fn list() -> Example {
        Example {
            method: "GET",
            raw_path: "/",
            bucket_from_host: Some(BUCKET),
            query: pairs(&[
                ("prefix", "photos"),
                ("max-keys", "50"),
                ("marker", "puppy"),
            ]),
            headers: pairs(&[
                ("user-agent", "Mozilla/5.0"),
                ("host", "johnsmith.s3.amazonaws.com"),
                ("date", "Tue, 27 Mar 2007 19:42:41 +0000"),
            ]),
            signature: "htDYFYduRNen8P9ZfE/s9SuKy0U=".into(),
            string_to_sign: "GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/johnsmith/".into(),
        }
    }

    fn fetch_acl() -> Example {
        Example {
            method: "GET",
            raw_path: "/",
            bucket_from_host: Some(BUCKET),
            query: pairs(&[("acl", "")]),
            headers: pairs(&[
                ("host", "johnsmith.s3.amazonaws.com"),
                ("date", "Tue, 27 Mar 2007 19:44:46 +0000"),
            ]),
            signature: "c2WLPFtWHVgbEmeEG93a4cG37dM=".into(),
            string_to_sign: "GET\n\n\nTue, 27 Mar 2007 19:44:46 +0000\n/johnsmith/?acl".into(),
        }
    }

    /// Path style, with x-amz-date overriding Date. The page's StringToSign
    /// puts x-amz-date's value on the Date line (see `verify_v2_header`).
    fn delete() -> Example {
        Example {
            method: "DELETE",
            raw_path: "/johnsmith/photos/puppy.jpg",
            bucket_from_host: None,
            query: vec![],
            headers: pairs(&[
                ("user-agent", "dotnet"),
                ("host", "s3.amazonaws.com"),
                ("date", "Tue, 27 Mar 2007 21:20:27 +0000"),
                ("x-amz-date", "Tue, 27 Mar 2007 21:20:26 +0000"),
            ]),
            signature: "lx3byBScXR6KzyMaifNkardMwNk=".into(),
            string_to_sign: "DELETE\n\n\nTue, 27 Mar 2007 21:20:26 +0000\n\
                             /johnsmith/photos/puppy.jpg"
                .into(),
        }
    }

    /// A CNAME bucket (`static.johnsmith.net`) with metadata headers.
    fn upload() -> Example {
        Example {
            method: "PUT",
            raw_path: "/db-backup.dat.gz",
            bucket_from_host: Some("static.johnsmith.net"),
            query: vec![],
            headers: pairs(&[
                ("user-agent", "curl/7.15.5"),
                ("host", "static.johnsmith.net:8080"),
                ("date", "Tue, 27 Mar 2007 21:06:08 +0000"),
                ("x-amz-acl", "public-read"),
                ("content-type", "application/x-download"),
                ("content-md5", "4gJE4saaMU4BqNR0kLY+lw=="),
                ("x-amz-meta-reviewedby", "joe@johnsmith.net"),
                ("x-amz-meta-reviewedby", "jane@johnsmith.net"),
                ("x-amz-meta-filechecksum", "0x02661779"),
                ("x-amz-meta-checksumalgorithm", "crc32"),
                ("content-disposition", "attachment; filename=database.dat"),
                ("content-encoding", "gzip"),
                ("content-length", "5913339"),
            ]),
            signature: "ilyl83RwaSoYIEdixDQcA4OnAnc=".into(),
            string_to_sign: "PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\n\
                             Tue, 27 Mar 2007 21:06:08 +0000\n\
                             x-amz-acl:public-read\n\
                             x-amz-meta-checksumalgorithm:crc32\n\
                             x-amz-meta-filechecksum:0x02661779\n\
                             x-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n\
                             /static.johnsmith.net/db-backup.dat.gz"
                .into(),
        }
    }

    fn list_all_my_buckets() -> Example {
        Example {
            method: "GET",
            raw_path: "/",
            bucket_from_host: None,
            query: vec![],
            headers: pairs(&[
                ("host", "s3.amazonaws.com"),
                ("date", "Wed, 28 Mar 2007 01:29:59 +0000"),
            ]),
            signature: "qGdzdERIC03wnaRNKh6OqZehG9s=".into(),
            string_to_sign: "GET\n\n\nWed, 28 Mar 2007 01:29:59 +0000\n/".into(),
        }
    }

    /// The path is signed exactly as sent, mixed-case hex included.
    fn unicode_keys() -> Example {
        Example {
            method: "GET",
            raw_path: "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
            bucket_from_host: None,
            query: vec![],
            headers: pairs(&[
                ("host", "s3.amazonaws.com"),
                ("date", "Wed, 28 Mar 2007 01:49:49 +0000"),
            ]),
            signature: "DNEZGsoieTZ92F3bUfSPQcbGmlM=".into(),
            string_to_sign: "GET\n\n\nWed, 28 Mar 2007 01:49:49 +0000\n\
                             /dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re"
                .into(),
        }
    }

    fn header_examples() -> Vec<Example> {
        vec![
            object_get(),
            object_put(),
            list(),
            fetch_acl(),
            delete(),
            upload(),
            list_all_my_buckets(),
            unicode_keys(),
        ]
    }

    #[test]
    fn documented_header_examples_verify() {
        for example in header_examples() {
            let req = example.request();
            let date_line = req.header("date").unwrap();
            let to_sign = if req.header("x-amz-date").is_some() {
                let amz_date = req.header("x-amz-date").unwrap();
                string_to_sign_v2_build(&req, amz_date, AmzDateLine::Omitted)
            } else {
                string_to_sign_v2(&req, date_line)
            };
            assert_eq!(to_sign, example.string_to_sign, "{}", example.signature);
            let signature = sign_v2(SECRET, &to_sign);
            assert_eq!(signature.to_base64(), example.signature);
            let verified = example.verify_at(example.now()).unwrap();
            assert_eq!(verified.access_key_id, ACCESS_KEY_ID);
            assert_eq!(verified.body_sha256, None);
        }
    }

    #[test]
    fn x_amz_date_is_signed_as_an_amz_header_with_an_empty_date_line() {
        // What s3cmd, boto and the SDKs send: Date empty, x-amz-date signed.
        let mut example = delete();
        let expected = "DELETE\n\n\n\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\n\
                        /johnsmith/photos/puppy.jpg";
        assert_eq!(string_to_sign_v2(&example.request(), ""), expected);
        let signature = sign_v2(SECRET, expected).to_base64();
        example.signature = signature;
        example.verify_at(example.now()).unwrap();
        // The Date header is ignored: only x-amz-date's time counts.
        example.headers[2].1 = "Wed, 28 Mar 2007 21:20:27 +0000".into();
        example.verify_at(example.now()).unwrap();
    }

    #[test]
    fn documented_query_string_example_verifies() {
        // The Signature arrives decoded: NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D.
        let query = pairs(&[
            ("AWSAccessKeyId", ACCESS_KEY_ID),
            ("Signature", "NpgCjnDzrM+WFzoENXmpNDUsSn8="),
            ("Expires", "1175139620"),
        ]);
        let headers = pairs(&[("host", "johnsmith.s3.amazonaws.com")]);
        let req = V2Request {
            method: "GET",
            raw_path: "/photos/puppy.jpg",
            bucket_from_host: Some(BUCKET),
            query_pairs: &query,
            headers: &headers,
        };
        assert!(is_presigned_v2(&query));
        let parsed = parse_presigned_query_v2(&query).unwrap();
        assert_eq!(parsed.expires_unix_seconds, 1_175_139_620);
        assert_eq!(
            string_to_sign_v2(&req, &parsed.expires_text),
            "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg"
        );
        let verified = verify_v2_presigned(&req, &parsed, SECRET, 1_175_139_620).unwrap();
        assert_eq!(verified.access_key_id, ACCESS_KEY_ID);
        assert_eq!(
            verify_v2_presigned(&req, &parsed, SECRET, 1_175_139_621).unwrap_err(),
            AuthError::PresignedExpired
        );
        // A `+` the client left unescaped reaches us as a space.
        let spaced = pairs(&[
            ("AWSAccessKeyId", ACCESS_KEY_ID),
            ("Signature", "NpgCjnDzrM WFzoENXmpNDUsSn8="),
            ("Expires", "1175139620"),
        ]);
        let req = V2Request {
            query_pairs: &spaced,
            ..req
        };
        let parsed = parse_presigned_query_v2(&spaced).unwrap();
        verify_v2_presigned(&req, &parsed, SECRET, 0).unwrap();
        // Any other secret fails.
        assert_eq!(
            verify_v2_presigned(&req, &parsed, "other", 0).unwrap_err(),
            AuthError::SignatureMismatch
        );
    }

    #[test]
    fn tampered_requests_fail() {
        type Edit = fn(&mut Example);
        let edits: [Edit; 10] = [
            |e| e.method = "DELETE",
            |e| e.raw_path = "/photos/kitten.jpg",
            |e| e.raw_path = "/db-backup%2Edat.gz",
            |e| e.bucket_from_host = Some("janesmith"),
            |e| e.headers[4].1 = "application/octet-stream".into(),
            |e| e.headers[5].1 = "1B2M2Y8AsgTpgAmY7PhCfg==".into(),
            |e| e.headers[3].1 = "private".into(),
            |e| e.headers[6].1 = "mallory@johnsmith.net".into(),
            |e| e.headers.push(("x-amz-meta-extra".into(), "1".into())),
            |e| e.query.push(("versionId".into(), "v1".into())),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut example = upload();
            edit(&mut example);
            let now = example.now();
            let error = example.verify_at(now).unwrap_err();
            assert_eq!(error, AuthError::SignatureMismatch, "edit {i}");
        }
        // Unsigned parts may change freely.
        let mut example = upload();
        example.headers[10].1 = "inline".into();
        example.query.push(("prefix".into(), "x".into()));
        example.verify_at(example.now()).unwrap();
        let mut example = upload();
        example.signature = "jlyl83RwaSoYIEdixDQcA4OnAnc=".into();
        let error = example.verify_at(example.now()).unwrap_err();
        assert_eq!(error, AuthError::SignatureMismatch);
    }

    #[test]
    fn tampered_presigned_urls_fail() {
        let good = pairs(&[
            ("AWSAccessKeyId", ACCESS_KEY_ID),
            ("Expires", "1175139620"),
            ("Signature", "NpgCjnDzrM+WFzoENXmpNDUsSn8="),
        ]);
        let mut later = good.clone();
        later[1].1 = "1175139621".into();
        let mut acl = good.clone();
        acl.push(("acl".into(), String::new()));
        let mut content_type = good.clone();
        content_type.push(("response-content-type".into(), "text/html".into()));
        for query in [later, acl, content_type] {
            let req = V2Request {
                method: "GET",
                raw_path: "/photos/puppy.jpg",
                bucket_from_host: Some(BUCKET),
                query_pairs: &query,
                headers: &[],
            };
            let parsed = parse_presigned_query_v2(&query).unwrap();
            let error = verify_v2_presigned(&req, &parsed, SECRET, 0).unwrap_err();
            assert_eq!(error, AuthError::SignatureMismatch, "{query:?}");
        }
    }

    #[test]
    fn header_requests_outside_the_skew_window_fail() {
        let example = object_get();
        let date = example.now();
        for now in [date - CLOCK_SKEW_SECONDS_MAX, date + CLOCK_SKEW_SECONDS_MAX] {
            example.verify_at(now).unwrap();
        }
        for now in [
            date - CLOCK_SKEW_SECONDS_MAX - 1,
            date + CLOCK_SKEW_SECONDS_MAX + 1,
        ] {
            let error = example.verify_at(now).unwrap_err();
            assert_eq!(
                error,
                AuthError::RequestTimeTooSkewed {
                    request_time: "Tue, 27 Mar 2007 19:36:42 +0000".into(),
                    request_unix_seconds: date,
                    server_unix_seconds: now,
                }
            );
            assert_eq!(S3Error::from(error).code, S3ErrorCode::RequestTimeTooSkewed);
        }
    }

    #[test]
    fn missing_and_invalid_dates_are_rejected() {
        let mut example = object_get();
        example.headers.retain(|(n, _)| n != "date");
        assert_eq!(example.verify_at(0).unwrap_err(), AuthError::DateMissing);
        example.headers.push(("date".into(), "yesterday".into()));
        assert_eq!(example.verify_at(0).unwrap_err(), AuthError::DateInvalid);
        // An invalid x-amz-date is not rescued by a valid Date.
        let mut example = delete();
        example.headers[3].1 = "Tue, 27 Mar 2007 25:20:26 +0000".into();
        assert_eq!(example.verify_at(0).unwrap_err(), AuthError::DateInvalid);
    }

    #[test]
    fn dates_parse_in_every_form_clients_send() {
        let expected = 1_175_024_202; // 2007-03-27T19:36:42Z.
        let same_instant = [
            "Tue, 27 Mar 2007 19:36:42 +0000",
            "Tue, 27 Mar 2007 19:36:42 GMT",
            "Tue, 27 Mar 2007 19:36:42 UTC",
            "Tue, 27 Mar 2007 21:36:42 +0200",
            "Tue, 27 Mar 2007 12:06:42 -0730",
            "Tuesday, 27-Mar-07 19:36:42 GMT",
            "Tue Mar 27 19:36:42 2007",
            "20070327T193642Z",
            "  Tue, 27 Mar 2007 19:36:42 +0000 ",
        ];
        for text in same_instant {
            assert_eq!(date_v2_parse(text), Some(expected), "{text}");
        }
        let invalid = [
            "",
            "Wed, 27 Mar 2007 19:36:42 +0000",
            "Tue, 27 Mar 2007 19:36:42 +2400",
            "Tue, 27 Mar 2007 19:36:42 +0060",
            "Tue, 27 Mar 2007 19:36:42 0000",
            "Tue, 27 Mar 2007 19:36:42 +00",
            "Tue, 27 Mar 2007 19:36:42 PST",
            "Tue, 27 Mar 2007 19:36:42",
            "1175023002",
        ];
        for text in invalid {
            assert_eq!(date_v2_parse(text), None, "{text}");
        }
    }

    #[test]
    fn sub_resources_are_sorted_with_decoded_values() {
        let query = pairs(&[
            ("versionId", "3/L4kqtJl40Nr8X8gdRQBpUMLUo"),
            ("prefix", "ignored"),
            ("uploadId", "a b"),
            ("partNumber", "2"),
            ("response-content-type", "text/plain; charset=utf-8"),
            ("acl", ""),
            ("Acl", "unsigned: names are case-sensitive"),
            ("versioning", ""),
        ]);
        let req = V2Request {
            method: "PUT",
            raw_path: "/b/k%20ey",
            bucket_from_host: None,
            query_pairs: &query,
            headers: &[],
        };
        let expected = "PUT\n\n\n\n/b/k%20ey?acl&partNumber=2&response-content-type=text/plain; \
                        charset=utf-8&uploadId=a b&versionId=3/L4kqtJl40Nr8X8gdRQBpUMLUo\
                        &versioning";
        assert_eq!(string_to_sign_v2(&req, ""), expected);
        assert!(SUBRESOURCES_SIGNED.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn amz_headers_are_lowercased_sorted_joined_and_unfolded() {
        let headers = pairs(&[
            ("X-Amz-Meta-B", "  two  words  "),
            ("x-amz-meta-a", "folded\r\n   value\r\n\tagain"),
            ("x-amz-meta-b", "second"),
            ("x-amzz", "not an amz header"),
            ("content-type", "  text/plain "),
        ]);
        let req = V2Request {
            method: "PUT",
            raw_path: "",
            bucket_from_host: None,
            query_pairs: &[],
            headers: &headers,
        };
        let expected = "PUT\n\ntext/plain\nD\nx-amz-meta-a:folded value again\n\
                        x-amz-meta-b:two  words,second\n/";
        assert_eq!(string_to_sign_v2(&req, "D"), expected);
    }

    #[test]
    fn signed_content_sha256_is_returned_for_the_body_check() {
        let digest_hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let cases = [
            (digest_hex, Ok(Some(hex_digest(digest_hex)))),
            ("UNSIGNED-PAYLOAD", Ok(None)),
            (
                "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                Err(AuthError::ContentSha256Invalid),
            ),
            (
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                Err(AuthError::ContentSha256Invalid),
            ),
            ("abc", Err(AuthError::ContentSha256Invalid)),
        ];
        for (value, expected) in cases {
            let mut example = object_put();
            example
                .headers
                .push(("x-amz-content-sha256".into(), value.into()));
            let req = example.request();
            let to_sign = string_to_sign_v2(&req, req.header("date").unwrap());
            example.signature = sign_v2(SECRET, &to_sign).to_base64();
            let verified = example.verify_at(example.now());
            assert_eq!(verified.map(|v| v.body_sha256), expected, "{value}");
        }
    }

    fn hex_digest(text: &str) -> [u8; 32] {
        let mut digest = [0u8; 32];
        hex::decode_to_slice(text, &mut digest).unwrap();
        digest
    }

    #[test]
    fn authorization_headers_parse() {
        let signature = "bWq2s1WEIj+Ydj0vQ697zp+IXMU=";
        let variants = [
            format!("AWS {ACCESS_KEY_ID}:{signature}"),
            format!("  AWS  {ACCESS_KEY_ID}:{signature} "),
            format!("AWS {ACCESS_KEY_ID}: {signature}"),
        ];
        for value in &variants {
            assert!(is_authorization_header_v2(value), "{value}");
            let credentials = parse_authorization_header_v2(value).unwrap();
            assert_eq!(credentials.access_key_id, ACCESS_KEY_ID);
            assert_eq!(credentials.signature.to_base64(), signature);
        }
        let v4 = "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request";
        assert!(!is_authorization_header_v2(v4));
        assert!(!is_authorization_header_v2("Bearer x"));
    }

    #[test]
    fn malformed_authorization_headers_are_rejected() {
        let cases = [
            "",
            "AWS",
            "AWS ",
            "AWS AKIAIOSFODNN7EXAMPLE",
            "AWS :bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
            "AWS AKIA IOSF:bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
            "AWS AKIAIOSFODNN7EXAMPLE:",
            "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU",
            "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMUAAAA",
            "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj-Ydj0vQ697zp_IXMU=",
            "AWS AKIAIOSFODNN7EXAMPLE:AAAA",
            "AWS4-HMAC-SHA256 AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
        ];
        for value in cases {
            let error = parse_authorization_header_v2(value).unwrap_err();
            assert!(matches!(error, AuthError::HeaderMalformedV2(_)), "{value}");
            assert_eq!(S3Error::from(error).code, S3ErrorCode::InvalidArgument);
        }
    }

    #[test]
    fn malformed_presigned_queries_are_rejected() {
        let good = || {
            pairs(&[
                ("AWSAccessKeyId", ACCESS_KEY_ID),
                ("Expires", "1175139620"),
                ("Signature", "NpgCjnDzrM+WFzoENXmpNDUsSn8="),
            ])
        };
        type Edit = fn(&mut Vec<(String, String)>);
        let edits: [Edit; 9] = [
            |q| q.retain(|(n, _)| n != "Signature"),
            |q| q.retain(|(n, _)| n != "Expires"),
            |q| q.retain(|(n, _)| n != "AWSAccessKeyId"),
            |q| q.push(("Expires".into(), "1".into())),
            |q| q[0].1 = String::new(),
            |q| q[1].1 = "-5".into(),
            |q| q[1].1 = "Tue, 27 Mar 2007 19:36:42 GMT".into(),
            |q| q[1].1 = "9".repeat(20),
            |q| q[2].1 = "NpgCjnDzrM".into(),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut query = good();
            edit(&mut query);
            assert!(is_presigned_v2(&query), "{i}");
            let error = parse_presigned_query_v2(&query).unwrap_err();
            assert!(
                matches!(error, AuthError::QueryMalformedV2(_)),
                "{i}: {error:?}"
            );
            assert_eq!(S3Error::from(error).code, S3ErrorCode::AccessDenied);
        }
        assert!(!is_presigned_v2(&pairs(&[("Expires", "1"), ("acl", "")])));
        assert!(!is_presigned_v2(&pairs(&[("X-Amz-Signature", "ab")])));
    }

    #[test]
    fn new_errors_map_to_aws_codes_and_messages() {
        let header = S3Error::from(AuthError::HeaderMalformedV2(HEADER_MALFORMED_MESSAGE));
        assert_eq!(header.code, S3ErrorCode::InvalidArgument);
        assert_eq!(header.message, HEADER_MALFORMED_MESSAGE);
        let query = S3Error::from(AuthError::QueryMalformedV2(QUERY_INCOMPLETE_MESSAGE));
        assert_eq!(query.code, S3ErrorCode::AccessDenied);
        assert_eq!(query.message, QUERY_INCOMPLETE_MESSAGE);
        let debug = format!("{:?}", sign_v2(SECRET, "x"));
        assert!(debug.starts_with("SignatureV2("));
    }
}
