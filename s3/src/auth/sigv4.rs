//! AWS Signature Version 4 as S3 uses it: the `Authorization` header, the
//! presigned-URL query form, the canonical request, the string to sign, the
//! signing key and its per-shard cache.
//!
//! Owns: parsing `AWS4-HMAC-SHA256` credentials, building the canonical
//! request exactly as the S3 SigV4 documentation specifies, verifying
//! signatures in constant time, the clock-skew and expiry rules, and the
//! `x-amz-content-sha256` payload modes. A successful verification returns
//! `Verified`, which also carries what the `aws-chunked` decoder needs.
//!
//! Must not touch: I/O, the wall clock (`now` is passed in), the key catalog
//! (the caller looks the secret up), the body (the caller hashes it).
//!
//! Main types: `RequestParts`, `AuthHeader`, `PresignedQuery`, `AmzDate`,
//! `PayloadHash`, `SigningKey`, `SigningKeyCache`, `Verified`.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::fmt::Write as _;
use std::time::UNIX_EPOCH;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AuthError;

/// Signing keys a shard keeps. A key is per (access key, day, region,
/// service), so this covers thousands of active keys on one day while bounding
/// memory to about a megabyte; an evicted key costs four HMACs to re-derive.
pub const SIGNING_KEY_CACHE_ENTRIES_MAX: usize = 4096;
/// How far a request's time may be from ours: AWS's documented 15 minutes.
pub const CLOCK_SKEW_SECONDS_MAX: i64 = 15 * 60;
/// Longest presigned-URL lifetime AWS accepts: seven days.
pub const PRESIGNED_EXPIRES_SECONDS_MAX: u64 = 7 * 24 * 60 * 60;
/// SDKs sign about ten headers. The bound keeps a hostile SignedHeaders list
/// from making the canonical-header search quadratic in the header block.
pub const SIGNED_HEADERS_COUNT_MAX: usize = 64;

/// The only SigV4 algorithm S3 accepts with HMAC keys.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Hex SHA-256 of the empty string, used in chunk strings to sign.
pub const EMPTY_SHA256_HEX: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const SCOPE_TERMINATOR: &str = "aws4_request";
pub const SERVICE_S3: &str = "s3";
/// Services whose requests this port takes: S3 and the IAM and STS query APIs.
const SERVICES_ACCEPTED: [&str; 3] = [SERVICE_S3, "iam", "sts"];
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

type HmacSha256 = Hmac<Sha256>;

/// The parts of an HTTP request that SigV4 covers.
///
/// - `method`: as sent, e.g. `GET`.
/// - `path_decoded`: the request path percent-decoded once (what the router
///   sees, e.g. `/test$file.text`). S3 does not normalise paths: the
///   canonical URI re-encodes these bytes with AWS's rules, so `a//b` and
///   `a/./b` stay as they are.
/// - `query_pairs`: every query parameter percent-decoded (`+` stays `+`;
///   SDKs send spaces as `%20`), in any order, with `""` for a parameter
///   sent without `=`.
/// - `headers`: every header as received, names lowercased, values raw;
///   a repeated header appears once per occurrence.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    pub path_decoded: &'a str,
    pub query_pairs: &'a [(String, String)],
    pub headers: &'a [(String, String)],
}

impl<'a> RequestParts<'a> {
    /// The first value of a header (`name` must be lowercase).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn query(&self, name: &str) -> Option<&'a str> {
        self.query_pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A SigV4 signature: 32 bytes, sent as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 32]);

impl Signature {
    /// Parses 64 hex characters (either case).
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Signature(bytes))
    }

    /// The lowercase hex form that appears in headers and strings to sign.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Compares in constant time, so a forger learns nothing from timing.
    pub fn ct_matches(&self, other: &Signature) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

/// The derived key that signs one day's requests for one (access key,
/// region, service). As good as the secret for that day: never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    /// Signs a string to sign.
    pub fn sign(&self, string_to_sign: &[u8]) -> Signature {
        let mut mac = self.mac();
        mac.update(string_to_sign);
        Signature(mac.finalize().into_bytes().into())
    }

    /// An HMAC keyed with this key, for callers that sign in pieces (chunks).
    pub(crate) fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// `<date>/<region>/<service>/aws4_request` from the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    /// `YYYYMMDD`.
    pub date: String,
    pub region: String,
    pub service: String,
}

impl fmt::Display for CredentialScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{SCOPE_TERMINATOR}",
            self.date, self.region, self.service
        )
    }
}

/// `<access key id>/<scope>` as sent in `Credential=` or `X-Amz-Credential`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub scope: CredentialScope,
}

impl Credential {
    /// Parses `AK/20130524/us-east-1/s3/aws4_request`. Components must be
    /// non-empty and free of whitespace and control characters, which also
    /// keeps them unambiguous as cache keys.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let parts: Vec<&str> = text.split('/').collect();
        let [access_key_id, date, region, service, terminator] = parts[..] else {
            return Err("Credential must be <key>/<date>/<region>/<service>/aws4_request");
        };
        let clean = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        if ![access_key_id, region, service].into_iter().all(clean) {
            return Err("Credential has an empty or invalid component");
        }
        if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
            return Err("Credential date must be YYYYMMDD");
        }
        if terminator != SCOPE_TERMINATOR {
            return Err("Credential must end with aws4_request");
        }
        let scope = CredentialScope {
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        };
        Ok(Credential {
            access_key_id: access_key_id.to_owned(),
            scope,
        })
    }
}

/// A parsed `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    pub credential: Credential,
    /// Lowercase header names, in the order sent (SDKs send them sorted).
    pub signed_headers: Vec<String>,
    pub signature: Signature,
}

/// Parses the `Authorization` header. Components may come in any order and
/// be separated by commas, spaces or both, as clients vary.
pub fn parse_authorization_header(value: &str) -> Result<AuthHeader, AuthError> {
    let malformed = AuthError::HeaderMalformed;
    let rest = value.trim().strip_prefix(ALGORITHM).ok_or(malformed(
        "The authorization mechanism you have provided is not supported. Please use \
         AWS4-HMAC-SHA256.",
    ))?;
    if !rest.starts_with([' ', '\t']) {
        return Err(malformed("Expected a space after AWS4-HMAC-SHA256"));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for token in rest.split([',', ' ', '\t']).filter(|t| !t.is_empty()) {
        let (key, val) = token
            .split_once('=')
            .ok_or(malformed("Expected Key=Value"))?;
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(malformed("Unknown component in the authorization header")),
        };
        if slot.replace(val).is_some() {
            return Err(malformed(
                "A component is repeated in the authorization header",
            ));
        }
    }
    let credential = credential.ok_or(malformed("Missing Credential"))?;
    let signed_headers = signed_headers.ok_or(malformed("Missing SignedHeaders"))?;
    let signature = signature.ok_or(malformed("Missing Signature"))?;
    Ok(AuthHeader {
        credential: Credential::parse(credential).map_err(malformed)?,
        signed_headers: parse_signed_headers(signed_headers).map_err(malformed)?,
        signature: Signature::from_hex(signature)
            .ok_or(malformed("Signature must be 64 hex characters"))?,
    })
}

/// Splits `host;range;x-amz-date`. AWS requires `host` to be signed.
fn parse_signed_headers(text: &str) -> Result<Vec<String>, &'static str> {
    let names: Vec<String> = text.split(';').map(str::to_owned).collect();
    if names.len() > SIGNED_HEADERS_COUNT_MAX {
        return Err("SignedHeaders lists too many headers");
    }
    let valid = |n: &String| {
        !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase())
    };
    if !names.iter().all(valid) {
        return Err("SignedHeaders must be lowercase header names separated by ';'");
    }
    if !names.iter().any(|n| n == "host") {
        return Err("SignedHeaders must include host");
    }
    Ok(names)
}

/// A presigned URL's `X-Amz-*` query parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedQuery {
    pub credential: Credential,
    pub date: AmzDate,
    pub expires_seconds: u64,
    pub signed_headers: Vec<String>,
    pub signature: Signature,
}

/// Whether the request carries SigV4 presigned-URL parameters.
pub fn is_presigned(query_pairs: &[(String, String)]) -> bool {
    query_pairs
        .iter()
        .any(|(name, _)| name == "X-Amz-Algorithm")
}

/// Parses the presigned-URL parameters from the decoded query.
pub fn parse_presigned_query(
    query_pairs: &[(String, String)],
) -> Result<PresignedQuery, AuthError> {
    let malformed = AuthError::QueryMalformed;
    let get = |name: &str| presigned_param(query_pairs, name);
    if get("X-Amz-Algorithm")? != ALGORITHM {
        return Err(malformed("X-Amz-Algorithm only supports AWS4-HMAC-SHA256"));
    }
    let credential = Credential::parse(get("X-Amz-Credential")?).map_err(malformed)?;
    let date = AmzDate::parse(get("X-Amz-Date")?)
        .ok_or(malformed("X-Amz-Date must be in the ISO8601 Long Format"))?;
    let expires_seconds = parse_expires_seconds(get("X-Amz-Expires")?)?;
    let signed_headers = parse_signed_headers(get("X-Amz-SignedHeaders")?).map_err(malformed)?;
    let signature = Signature::from_hex(get("X-Amz-Signature")?)
        .ok_or(malformed("X-Amz-Signature must be 64 hex characters"))?;
    Ok(PresignedQuery {
        credential,
        date,
        expires_seconds,
        signed_headers,
        signature,
    })
}

/// Exactly one occurrence of a required presigned parameter.
fn presigned_param<'q>(pairs: &'q [(String, String)], name: &str) -> Result<&'q str, AuthError> {
    let mut values = pairs
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str());
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value),
        (None, _) => Err(AuthError::QueryMalformed(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, \
             X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
             X-Amz-Expires parameters.",
        )),
        (Some(_), Some(_)) => Err(AuthError::QueryMalformed(
            "A presigned parameter is repeated",
        )),
    }
}

fn parse_expires_seconds(text: &str) -> Result<u64, AuthError> {
    let invalid = AuthError::QueryMalformed("X-Amz-Expires must be a number of seconds");
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid);
    }
    let seconds: u64 = text.parse().map_err(|_| invalid)?;
    if seconds == 0 {
        return Err(AuthError::QueryMalformed(
            "X-Amz-Expires must be non-negative",
        ));
    }
    if seconds > PRESIGNED_EXPIRES_SECONDS_MAX {
        return Err(AuthError::QueryMalformed(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ));
    }
    Ok(seconds)
}

/// A request timestamp: unix seconds and its ISO 8601 basic form
/// (`20130524T000000Z`), which is what strings to sign contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmzDate {
    unix_seconds: i64,
    timestamp: String,
}

impl AmzDate {
    /// Parses `YYYYMMDD'T'HHMMSS'Z'` exactly.
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<i64> {
            let digits = &b[range];
            digits.iter().all(u8::is_ascii_digit).then(|| {
                digits
                    .iter()
                    .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
            })
        };
        let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
        let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
        let month_ok = (1..=12).contains(&month);
        if !month_ok || !(1..=days_in_month(year, month)).contains(&day) {
            return None;
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let unix_seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
        Some(AmzDate {
            unix_seconds,
            timestamp: text.to_owned(),
        })
    }

    /// Parses an RFC 7231 `Date` header, the fallback when `x-amz-date` is absent.
    pub fn parse_http_date(text: &str) -> Option<Self> {
        let time = httpdate::parse_http_date(text).ok()?;
        let unix_seconds = time.duration_since(UNIX_EPOCH).ok()?.as_secs();
        Some(Self::from_unix_seconds(i64::try_from(unix_seconds).ok()?))
    }

    /// The timestamp of a unix time (tests and the `Date` fallback use it).
    pub fn from_unix_seconds(unix_seconds: i64) -> Self {
        let (days, seconds_of_day) = (
            unix_seconds.div_euclid(86_400),
            unix_seconds.rem_euclid(86_400),
        );
        let (year, month, day) = civil_from_days(days);
        let (hour, minute, second) = (
            seconds_of_day / 3600,
            seconds_of_day / 60 % 60,
            seconds_of_day % 60,
        );
        let timestamp = format!("{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}Z");
        AmzDate {
            unix_seconds,
            timestamp,
        }
    }

    pub fn unix_seconds(&self) -> i64 {
        self.unix_seconds
    }

    /// `20130524T000000Z`.
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }

    /// `20130524`, the credential scope date.
    pub fn date(&self) -> &str {
        &self.timestamp[..8]
    }
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm: years counted from March so February's length comes last).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of `days_from_civil`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// What `x-amz-content-sha256` says about the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadHash {
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    Unsigned,
    /// The hex SHA-256 of the whole body, which the caller must check.
    Sha256([u8; 32]),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: signed `aws-chunked` chunks.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks and trailer.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: unsigned chunks, trailing checksum.
    StreamingUnsignedTrailer,
}

impl PayloadHash {
    /// Parses the header value. SigV4a (`...ECDSA...`) and anything else
    /// unknown is `ContentSha256Invalid`, AWS's InvalidArgument.
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        match value {
            UNSIGNED_PAYLOAD => Ok(Self::Unsigned),
            STREAMING_SIGNED => Ok(Self::StreamingSigned),
            STREAMING_SIGNED_TRAILER => Ok(Self::StreamingSignedTrailer),
            STREAMING_UNSIGNED_TRAILER => Ok(Self::StreamingUnsignedTrailer),
            hex_text => {
                let mut digest = [0u8; 32];
                hex::decode_to_slice(hex_text, &mut digest)
                    .map_err(|_| AuthError::ContentSha256Invalid)?;
                Ok(Self::Sha256(digest))
            }
        }
    }

    /// Whether the body is `aws-chunked` encoded.
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            Self::StreamingSigned | Self::StreamingSignedTrailer | Self::StreamingUnsignedTrailer
        )
    }

    /// For `Sha256`, compares the body's SHA-256 with the signed one; other
    /// modes have nothing to compare here.
    pub fn verify_body_sha256(&self, computed: &[u8; 32]) -> Result<(), AuthError> {
        match self {
            Self::Sha256(signed) if !bool::from(signed.ct_eq(computed)) => {
                Err(AuthError::ContentSha256Mismatch)
            }
            _ => Ok(()),
        }
    }
}

/// Where the signature travels, which decides what the canonical query holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureLocation {
    Header,
    /// Presigned URL: `X-Amz-Signature` is left out of the canonical query.
    Query,
}

/// Builds the canonical request:
/// `method \n uri \n query \n headers \n signed headers \n payload hash`.
pub fn canonical_request(
    parts: &RequestParts<'_>,
    signed_headers: &[String],
    payload_hash: &str,
    location: SignatureLocation,
) -> Result<String, AuthError> {
    let mut out = String::with_capacity(512);
    out.push_str(parts.method);
    out.push('\n');
    canonical_uri(&mut out, parts.path_decoded);
    out.push('\n');
    canonical_query(&mut out, parts.query_pairs, location);
    out.push('\n');
    canonical_headers(&mut out, parts.headers, signed_headers)?;
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    Ok(out)
}

/// S3 signs the path as sent, encoded once: no normalisation, no double
/// encoding. An empty path is `/`.
fn canonical_uri(out: &mut String, path_decoded: &str) {
    if path_decoded.is_empty() {
        out.push('/');
    } else {
        uri_encode(out, path_decoded, false);
    }
}

fn canonical_query(out: &mut String, pairs: &[(String, String)], location: SignatureLocation) {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .filter(|(name, _)| location == SignatureLocation::Header || name != "X-Amz-Signature")
        .map(|(name, value)| (uri_encoded(name), uri_encoded(value)))
        .collect();
    encoded.sort_unstable();
    for (i, (name, value)) in encoded.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
}

/// One `name:value\n` line per signed header. Repeated headers join their
/// values with commas; each value is trimmed and inner runs of spaces
/// collapse to one, as AWS's Trimall does.
fn canonical_headers(
    out: &mut String,
    headers: &[(String, String)],
    signed_headers: &[String],
) -> Result<(), AuthError> {
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        let mut values = headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name));
        let (_, first) = values
            .next()
            .ok_or_else(|| AuthError::SignedHeaderMissing(name.clone()))?;
        push_trimmed(out, first);
        for (_, value) in values {
            out.push(',');
            push_trimmed(out, value);
        }
        out.push('\n');
    }
    Ok(())
}

fn push_trimmed(out: &mut String, value: &str) {
    let mut words = value.split([' ', '\t']).filter(|w| !w.is_empty());
    if let Some(first) = words.next() {
        out.push_str(first);
    }
    for word in words {
        out.push(' ');
        out.push_str(word);
    }
}

/// AWS's URI encoding: every byte except `A-Za-z0-9-._~` (and `/` when
/// `encode_slash` is false) becomes `%XX` with uppercase hex.
pub fn uri_encode(out: &mut String, input: &str, encode_slash: bool) {
    const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in input.as_bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
        if unreserved || (byte == b'/' && !encode_slash) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(byte >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(byte & 0x0f)]));
        }
    }
}

fn uri_encoded(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    uri_encode(&mut out, input, true);
    out
}

/// `AWS4-HMAC-SHA256 \n timestamp \n scope \n hex(sha256(canonical request))`.
pub fn string_to_sign(date: &AmzDate, scope: &CredentialScope, canonical_request: &str) -> String {
    let hash = Sha256::digest(canonical_request.as_bytes());
    let mut out = String::with_capacity(160);
    let _ = write!(
        out,
        "{ALGORITHM}\n{}\n{scope}\n{}",
        date.timestamp(),
        hex::encode(hash)
    );
    out
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
/// "aws4_request")`.
pub fn derive_signing_key(secret_access_key: &str, scope: &CredentialScope) -> SigningKey {
    let hmac = |key: &[u8], data: &str| -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().into()
    };
    let secret = format!("AWS4{secret_access_key}");
    let date_key = hmac(secret.as_bytes(), &scope.date);
    let region_key = hmac(&date_key, &scope.region);
    let service_key = hmac(&region_key, &scope.service);
    SigningKey(hmac(&service_key, SCOPE_TERMINATOR))
}

/// Derived signing keys of one shard, so a request never pays the four
/// HMACs of a derivation. Deliberately not thread-safe: each shard owns one
/// (`&mut self`), and nothing on the request path takes a lock.
///
/// Evicts first-in first-out at `SIGNING_KEY_CACHE_ENTRIES_MAX`: keys change
/// daily, so the oldest entries are the likeliest to be dead, and a miss
/// costs only a derivation.
#[derive(Default)]
pub struct SigningKeyCache {
    entries: HashMap<String, CachedSigningKey>,
    insertion_order: VecDeque<String>,
    /// Reused buffer for the lookup key, so hits do not allocate.
    lookup_key: String,
}

struct CachedSigningKey {
    /// The secret the key was derived from: if the catalog's secret for
    /// this access key changes, the stale key must not be used. Comparing
    /// it is cheaper than re-deriving.
    secret_access_key: Box<str>,
    signing_key: SigningKey,
}

impl SigningKeyCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The signing key for this access key and scope, derived on a miss.
    pub fn signing_key(
        &mut self,
        access_key_id: &str,
        secret_access_key: &str,
        scope: &CredentialScope,
    ) -> SigningKey {
        self.lookup_key.clear();
        // Components cannot contain '\n' (Credential::parse rejects control
        // characters), so the joined key is unambiguous.
        for part in [access_key_id, &scope.date, &scope.region, &scope.service] {
            self.lookup_key.push_str(part);
            self.lookup_key.push('\n');
        }
        if let Some(cached) = self.entries.get(self.lookup_key.as_str()) {
            let secret_cached = cached.secret_access_key.as_bytes();
            if bool::from(secret_cached.ct_eq(secret_access_key.as_bytes())) {
                return cached.signing_key.clone();
            }
        }
        let signing_key = derive_signing_key(secret_access_key, scope);
        self.insert(secret_access_key, signing_key.clone());
        signing_key
    }

    fn insert(&mut self, secret_access_key: &str, signing_key: SigningKey) {
        let entry = CachedSigningKey {
            secret_access_key: secret_access_key.into(),
            signing_key,
        };
        if let Some(existing) = self.entries.get_mut(self.lookup_key.as_str()) {
            *existing = entry;
            return;
        }
        if self.entries.len() >= SIGNING_KEY_CACHE_ENTRIES_MAX {
            let oldest = self
                .insertion_order
                .pop_front()
                .expect("a full cache has an oldest entry");
            self.entries.remove(&oldest);
        }
        self.insertion_order.push_back(self.lookup_key.clone());
        self.entries.insert(self.lookup_key.clone(), entry);
        assert_eq!(self.entries.len(), self.insertion_order.len());
    }
}

/// What the verifier needs besides the request.
#[derive(Debug, Clone, Copy)]
pub struct VerifyParams<'a> {
    /// The secret the caller looked up for the credential's access key id.
    pub secret_access_key: &'a str,
    /// This server's region; `None` accepts any region, as clients are
    /// configured with whatever their user typed.
    pub region_expected: Option<&'a str>,
    /// The current time, from the shard's clock.
    pub now_unix_seconds: i64,
}

/// A request whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub access_key_id: String,
    pub scope: CredentialScope,
    pub date: AmzDate,
    pub payload: PayloadHash,
    /// The request signature: the seed of a signed `aws-chunked` body.
    pub signature: Signature,
    pub signing_key: SigningKey,
}

/// Verifies a request signed in the `Authorization` header.
pub fn verify_header(
    parts: &RequestParts<'_>,
    header: &AuthHeader,
    params: &VerifyParams<'_>,
    cache: &mut SigningKeyCache,
) -> Result<Verified, AuthError> {
    let payload_text = parts
        .header("x-amz-content-sha256")
        .ok_or(AuthError::ContentSha256Missing);
    verify_header_payload(parts, header, params, cache, || payload_text)
}

/// Verifies a request of the IAM or STS query APIs, whose body the caller
/// read first: those clients sign the body's SHA-256 without sending it in
/// `x-amz-content-sha256`. When the header is sent it must match the body.
pub fn verify_header_with_body(
    parts: &RequestParts<'_>,
    header: &AuthHeader,
    params: &VerifyParams<'_>,
    cache: &mut SigningKeyCache,
    body_sha256_hex: &str,
) -> Result<Verified, AuthError> {
    verify_header_payload(parts, header, params, cache, || {
        match parts.header("x-amz-content-sha256") {
            Some(sent) if !sent.eq_ignore_ascii_case(body_sha256_hex) => {
                Err(AuthError::ContentSha256Mismatch)
            }
            _ => Ok(body_sha256_hex),
        }
    })
}

/// The header form's checks in AWS's order: date and scope, clock skew,
/// then the payload hash `payload_text` gives, then the signature.
fn verify_header_payload<'p>(
    parts: &RequestParts<'p>,
    header: &AuthHeader,
    params: &VerifyParams<'_>,
    cache: &mut SigningKeyCache,
    payload_text: impl FnOnce() -> Result<&'p str, AuthError>,
) -> Result<Verified, AuthError> {
    let date = header_request_date(parts)?;
    check_scope(&header.credential.scope, &date, params.region_expected)?;
    let skew_seconds = (params.now_unix_seconds - date.unix_seconds()).abs();
    if skew_seconds > CLOCK_SKEW_SECONDS_MAX {
        let request_time = parts
            .header("x-amz-date")
            .or_else(|| parts.header("date"))
            .unwrap_or_default();
        return Err(AuthError::RequestTimeTooSkewed {
            request_time: request_time.trim().to_owned(),
            request_unix_seconds: date.unix_seconds(),
            server_unix_seconds: params.now_unix_seconds,
        });
    }
    let payload_text = payload_text()?;
    let payload = PayloadHash::parse(payload_text)?;
    let canonical = canonical_request(
        parts,
        &header.signed_headers,
        payload_text,
        SignatureLocation::Header,
    )?;
    let signed = SignedRequest {
        credential: &header.credential,
        date,
        payload,
        canonical,
    };
    let verified = signed.check(header.signature, params.secret_access_key, cache)?;
    require_signed_headers(parts.headers, &header.signed_headers)?;
    Ok(verified)
}

/// Verifies a presigned URL. The payload is `UNSIGNED-PAYLOAD` unless the
/// URL itself signs an `X-Amz-Content-Sha256`.
pub fn verify_presigned(
    parts: &RequestParts<'_>,
    query: &PresignedQuery,
    params: &VerifyParams<'_>,
    cache: &mut SigningKeyCache,
) -> Result<Verified, AuthError> {
    let date = query.date.clone();
    check_scope(&query.credential.scope, &date, params.region_expected)?;
    if params.now_unix_seconds < date.unix_seconds() - CLOCK_SKEW_SECONDS_MAX {
        return Err(AuthError::PresignedNotYetValid);
    }
    let expires_unix_seconds = date
        .unix_seconds()
        .saturating_add_unsigned(query.expires_seconds);
    if params.now_unix_seconds > expires_unix_seconds {
        return Err(AuthError::PresignedExpired);
    }
    let payload_text = parts
        .query("X-Amz-Content-Sha256")
        .unwrap_or(UNSIGNED_PAYLOAD);
    let payload = PayloadHash::parse(payload_text)?;
    let canonical = canonical_request(
        parts,
        &query.signed_headers,
        payload_text,
        SignatureLocation::Query,
    )?;
    let signed = SignedRequest {
        credential: &query.credential,
        date,
        payload,
        canonical,
    };
    let verified = signed.check(query.signature, params.secret_access_key, cache)?;
    require_signed_headers(parts.headers, &query.signed_headers)?;
    Ok(verified)
}

/// Every header that changes what a request does must be covered by its
/// signature, as AWS requires: each `x-amz-*` header and `Content-MD5`
/// present must be in SignedHeaders. Otherwise a captured or presigned
/// request could be turned into another one (a PUT into a copy of any
/// object, a lock for a century) by adding headers. `x-amz-content-sha256`
/// is exempt: AWS accepts it unsigned, and its value is either the payload
/// hash the signature already covers or is checked against the body.
fn require_signed_headers(
    headers: &[(String, String)],
    signed_headers: &[String],
) -> Result<(), AuthError> {
    let mut unsigned: Vec<String> = Vec::new();
    for (name, _) in headers {
        let guarded = name.starts_with("x-amz-") || name == "content-md5";
        if !guarded || name == "x-amz-content-sha256" {
            continue;
        }
        if !signed_headers.iter().any(|signed| signed == name) && !unsigned.contains(name) {
            unsigned.push(name.clone());
        }
    }
    match unsigned.is_empty() {
        true => Ok(()),
        false => Err(AuthError::HeadersNotSigned(unsigned)),
    }
}

/// A request reduced to what its signature covers, ready to check.
struct SignedRequest<'a> {
    credential: &'a Credential,
    date: AmzDate,
    payload: PayloadHash,
    canonical: String,
}

impl SignedRequest<'_> {
    fn check(
        self,
        signature_sent: Signature,
        secret_access_key: &str,
        cache: &mut SigningKeyCache,
    ) -> Result<Verified, AuthError> {
        let scope = &self.credential.scope;
        let to_sign = string_to_sign(&self.date, scope, &self.canonical);
        let access_key_id = &self.credential.access_key_id;
        let signing_key = cache.signing_key(access_key_id, secret_access_key, scope);
        if !signing_key
            .sign(to_sign.as_bytes())
            .ct_matches(&signature_sent)
        {
            return Err(AuthError::SignatureMismatch);
        }
        Ok(Verified {
            access_key_id: access_key_id.clone(),
            scope: scope.clone(),
            date: self.date,
            payload: self.payload,
            signature: signature_sent,
            signing_key,
        })
    }
}

/// `x-amz-date`, else `Date` (RFC 7231), as AWS documents for header auth.
fn header_request_date(parts: &RequestParts<'_>) -> Result<AmzDate, AuthError> {
    if let Some(text) = parts.header("x-amz-date") {
        return AmzDate::parse(text.trim()).ok_or(AuthError::DateInvalid);
    }
    let text = parts.header("date").ok_or(AuthError::DateMissing)?;
    AmzDate::parse_http_date(text.trim()).ok_or(AuthError::DateInvalid)
}

fn check_scope(
    scope: &CredentialScope,
    date: &AmzDate,
    region_expected: Option<&str>,
) -> Result<(), AuthError> {
    if scope.date != date.date() {
        return Err(AuthError::ScopeDateMismatch);
    }
    // S3 and the IAM and STS query APIs share the port; the caller checks
    // that the service fits the request it routed.
    if !SERVICES_ACCEPTED.contains(&scope.service.as_str()) {
        return Err(AuthError::HeaderMalformed(
            "The credential scope service must be s3, iam or sts",
        ));
    }
    match region_expected {
        Some(expected) if expected != scope.region => Err(AuthError::RegionMismatch {
            region_sent: scope.region.clone(),
            region_expected: expected.to_owned(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{S3Error, S3ErrorCode};

    // The AWS documentation's example credentials and request time
    // (sig-v4-header-based-auth.html, sigv4-query-string-auth.html).
    const ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const HOST: &str = "examplebucket.s3.amazonaws.com";
    const AMZ_DATE: &str = "20130524T000000Z";
    /// 2013-05-24T00:00:00Z.
    const NOW: i64 = 1_369_353_600;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn params(now_unix_seconds: i64) -> VerifyParams<'static> {
        VerifyParams {
            secret_access_key: SECRET,
            region_expected: None,
            now_unix_seconds,
        }
    }

    fn authorization(signed_headers: &str, signature: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders={signed_headers}, Signature={signature}"
        )
    }

    /// One documented header-auth example, verified end to end.
    struct Example {
        method: &'static str,
        path_decoded: &'static str,
        query: Vec<(String, String)>,
        headers: Vec<(String, String)>,
        authorization: String,
    }

    impl Example {
        fn parts(&self) -> RequestParts<'_> {
            RequestParts {
                method: self.method,
                path_decoded: self.path_decoded,
                query_pairs: &self.query,
                headers: &self.headers,
            }
        }

        fn verify_at(&self, now: i64) -> Result<Verified, AuthError> {
            let header = parse_authorization_header(&self.authorization)?;
            verify_header(
                &self.parts(),
                &header,
                &params(now),
                &mut SigningKeyCache::new(),
            )
        }

        fn canonical(&self) -> String {
            let header = parse_authorization_header(&self.authorization).unwrap();
            let payload = self.parts().header("x-amz-content-sha256").unwrap();
            canonical_request(
                &self.parts(),
                &header.signed_headers,
                payload,
                SignatureLocation::Header,
            )
            .unwrap()
        }
    }

    fn get_object_example() -> Example {
        Example {
            method: "GET",
            path_decoded: "/test.txt",
            query: vec![],
            headers: pairs(&[
                ("host", HOST),
                ("range", "bytes=0-9"),
                ("x-amz-content-sha256", EMPTY_SHA256_HEX),
                ("x-amz-date", AMZ_DATE),
            ]),
            authorization: authorization(
                "host;range;x-amz-content-sha256;x-amz-date",
                "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
            ),
        }
    }

    const PUT_BODY: &[u8] = b"Welcome to Amazon S3.";
    const PUT_BODY_SHA256: &str =
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";

    fn put_object_example() -> Example {
        Example {
            method: "PUT",
            path_decoded: "/test$file.text",
            query: vec![],
            headers: pairs(&[
                ("host", HOST),
                ("date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-date", AMZ_DATE),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ("x-amz-content-sha256", PUT_BODY_SHA256),
            ]),
            authorization: authorization(
                "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
            ),
        }
    }

    fn bucket_get_example(query: &[(&str, &str)], signature: &str) -> Example {
        Example {
            method: "GET",
            path_decoded: "/",
            query: pairs(query),
            headers: pairs(&[
                ("host", HOST),
                ("x-amz-content-sha256", EMPTY_SHA256_HEX),
                ("x-amz-date", AMZ_DATE),
            ]),
            authorization: authorization("host;x-amz-content-sha256;x-amz-date", signature),
        }
    }

    fn lifecycle_example() -> Example {
        let signature = "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543";
        bucket_get_example(&[("lifecycle", "")], signature)
    }

    fn list_objects_example() -> Example {
        // Given out of order on purpose: the canonical query sorts them.
        let signature = "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7";
        bucket_get_example(&[("prefix", "J"), ("max-keys", "2")], signature)
    }

    #[test]
    fn documented_get_object_verifies() {
        let example = get_object_example();
        let expected = format!(
            "GET\n/test.txt\n\nhost:{HOST}\nrange:bytes=0-9\n\
             x-amz-content-sha256:{EMPTY_SHA256_HEX}\nx-amz-date:{AMZ_DATE}\n\n\
             host;range;x-amz-content-sha256;x-amz-date\n{EMPTY_SHA256_HEX}"
        );
        assert_eq!(example.canonical(), expected);
        let verified = example.verify_at(NOW).unwrap();
        assert_eq!(verified.access_key_id, ACCESS_KEY_ID);
        assert_eq!(
            verified.scope.to_string(),
            "20130524/us-east-1/s3/aws4_request"
        );
        assert_eq!(
            verified.payload,
            PayloadHash::Sha256(hex_array(EMPTY_SHA256_HEX))
        );
    }

    #[test]
    fn documented_put_object_verifies_and_checks_the_body() {
        let example = put_object_example();
        assert!(example
            .canonical()
            .starts_with("PUT\n/test%24file.text\n\ndate:"));
        let verified = example.verify_at(NOW).unwrap();
        let body_sha256: [u8; 32] = Sha256::digest(PUT_BODY).into();
        assert_eq!(verified.payload.verify_body_sha256(&body_sha256), Ok(()));
        let other: [u8; 32] = Sha256::digest(b"Welcome to Amazon S3!").into();
        let mismatch = verified.payload.verify_body_sha256(&other);
        assert_eq!(mismatch, Err(AuthError::ContentSha256Mismatch));
    }

    #[test]
    fn documented_bucket_examples_verify() {
        let lifecycle = lifecycle_example();
        assert!(lifecycle
            .canonical()
            .starts_with("GET\n/\nlifecycle=\nhost:"));
        lifecycle.verify_at(NOW).unwrap();
        let list = list_objects_example();
        assert!(list
            .canonical()
            .starts_with("GET\n/\nmax-keys=2&prefix=J\nhost:"));
        list.verify_at(NOW).unwrap();
    }

    fn hex_array(text: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).unwrap();
        out
    }

    #[test]
    fn any_change_to_a_signed_part_fails() {
        let tampered: [fn(&mut Example); 6] = [
            |e| e.method = "HEAD",
            |e| e.path_decoded = "/test.txT",
            |e| e.headers[1].1 = "bytes=0-10".into(),
            |e| e.query.push(("versionId".into(), "1".into())),
            |e| e.headers[2].1 = UNSIGNED_PAYLOAD.into(),
            |e| e.authorization = e.authorization.replace("f0e8bd", "f0e8be"),
        ];
        for (i, tamper) in tampered.iter().enumerate() {
            let mut example = get_object_example();
            tamper(&mut example);
            assert_eq!(
                example.verify_at(NOW).unwrap_err(),
                AuthError::SignatureMismatch,
                "{i}"
            );
        }
    }

    #[test]
    fn unsigned_headers_and_whitespace_in_values_do_not_matter() {
        let mut example = get_object_example();
        example
            .headers
            .push(("user-agent".into(), "anything".into()));
        example.headers[1].1 = "  bytes=0-9 ".into();
        example.verify_at(NOW).unwrap();
    }

    #[test]
    fn a_wrong_secret_fails() {
        let example = get_object_example();
        let header = parse_authorization_header(&example.authorization).unwrap();
        let params = VerifyParams {
            secret_access_key: "not-the-secret",
            ..params(NOW)
        };
        let result = verify_header(
            &example.parts(),
            &header,
            &params,
            &mut SigningKeyCache::new(),
        );
        assert_eq!(result.unwrap_err(), AuthError::SignatureMismatch);
    }

    #[test]
    fn clock_skew_is_fifteen_minutes_either_way() {
        let example = get_object_example();
        example.verify_at(NOW + CLOCK_SKEW_SECONDS_MAX).unwrap();
        example.verify_at(NOW - CLOCK_SKEW_SECONDS_MAX).unwrap();
        for now in [
            NOW + CLOCK_SKEW_SECONDS_MAX + 1,
            NOW - CLOCK_SKEW_SECONDS_MAX - 1,
        ] {
            let skewed = AuthError::RequestTimeTooSkewed {
                request_time: AMZ_DATE.into(),
                request_unix_seconds: NOW,
                server_unix_seconds: now,
            };
            assert_eq!(example.verify_at(now).unwrap_err(), skewed);
            assert_eq!(
                S3Error::from(skewed).code,
                S3ErrorCode::RequestTimeTooSkewed
            );
        }
    }

    #[test]
    fn the_scope_must_match_date_service_and_region() {
        let mut example = get_object_example();
        example.headers[3].1 = "20130525T000000Z".into();
        assert_eq!(
            example.verify_at(NOW).unwrap_err(),
            AuthError::ScopeDateMismatch
        );

        let mut example = get_object_example();
        example.authorization = example.authorization.replace("/s3/", "/ec2/");
        assert!(matches!(
            example.verify_at(NOW),
            Err(AuthError::HeaderMalformed(_))
        ));

        let example = get_object_example();
        let header = parse_authorization_header(&example.authorization).unwrap();
        let mut cache = SigningKeyCache::new();
        for (region, ok) in [("us-east-1", true), ("eu-west-1", false)] {
            let params = VerifyParams {
                region_expected: Some(region),
                ..params(NOW)
            };
            let result = verify_header(&example.parts(), &header, &params, &mut cache);
            assert_eq!(result.is_ok(), ok, "{region}");
        }
    }

    #[test]
    fn payload_header_and_dates_are_required() {
        let without = |name: &str| {
            let mut example = get_object_example();
            example.headers.retain(|(n, _)| n != name);
            example.verify_at(NOW).unwrap_err()
        };
        assert_eq!(
            without("x-amz-content-sha256"),
            AuthError::ContentSha256Missing
        );
        assert_eq!(without("x-amz-date"), AuthError::DateMissing);
        assert_eq!(
            without("range"),
            AuthError::SignedHeaderMissing("range".into())
        );

        let mut example = get_object_example();
        example.headers[2].1 = "not-a-hash".into();
        assert_eq!(
            example.verify_at(NOW).unwrap_err(),
            AuthError::ContentSha256Invalid
        );
        example.headers[2].1 = EMPTY_SHA256_HEX.into();
        example.headers[3].1 = "2013-05-24T00:00:00Z".into();
        assert_eq!(example.verify_at(NOW).unwrap_err(), AuthError::DateInvalid);
    }

    /// Signs `parts` the way a client would, for cases AWS gives no example of.
    fn client_signature(parts: &RequestParts<'_>, signed: &[&str], date: &AmzDate) -> String {
        let signed: Vec<String> = signed.iter().map(|s| s.to_string()).collect();
        let payload = parts.header("x-amz-content-sha256").unwrap();
        let canonical =
            canonical_request(parts, &signed, payload, SignatureLocation::Header).unwrap();
        let scope = CredentialScope {
            date: date.date().into(),
            region: "us-east-1".into(),
            service: "s3".into(),
        };
        let key = derive_signing_key(SECRET, &scope);
        key.sign(string_to_sign(date, &scope, &canonical).as_bytes())
            .to_hex()
    }

    #[test]
    fn the_date_header_is_the_fallback_for_x_amz_date() {
        let headers = pairs(&[
            ("host", HOST),
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-content-sha256", UNSIGNED_PAYLOAD),
        ]);
        let parts = RequestParts {
            method: "GET",
            path_decoded: "/a b",
            query_pairs: &[],
            headers: &headers,
        };
        let signed = ["date", "host", "x-amz-content-sha256"];
        let signature = client_signature(&parts, &signed, &AmzDate::parse(AMZ_DATE).unwrap());
        let header = parse_authorization_header(&authorization(&signed.join(";"), &signature));
        let verified = verify_header(
            &parts,
            &header.unwrap(),
            &params(NOW),
            &mut SigningKeyCache::new(),
        );
        assert_eq!(verified.unwrap().payload, PayloadHash::Unsigned);
    }

    #[test]
    fn repeated_headers_join_with_commas_and_spaces_collapse() {
        let headers = pairs(&[
            ("host", HOST),
            ("x-amz-meta-a", "  one   two  "),
            ("x-amz-meta-a", "three"),
        ]);
        let parts = RequestParts {
            method: "PUT",
            path_decoded: "",
            query_pairs: &[],
            headers: &headers,
        };
        let signed = vec!["host".to_string(), "x-amz-meta-a".to_string()];
        let canonical =
            canonical_request(&parts, &signed, UNSIGNED_PAYLOAD, SignatureLocation::Header)
                .unwrap();
        let expected = format!(
            "PUT\n/\n\nhost:{HOST}\nx-amz-meta-a:one two,three\n\nhost;x-amz-meta-a\n\
             UNSIGNED-PAYLOAD"
        );
        assert_eq!(canonical, expected);
    }

    #[test]
    fn uri_and_query_use_aws_encoding() {
        let query = pairs(&[("b", "x/y z"), ("a", "~é+"), ("a", "!"), ("uploads", "")]);
        let parts = RequestParts {
            method: "POST",
            path_decoded: "/bucket/dir/ké y+%2F*~.txt",
            query_pairs: &query,
            headers: &[],
        };
        let mut uri = String::new();
        canonical_uri(&mut uri, parts.path_decoded);
        assert_eq!(uri, "/bucket/dir/k%C3%A9%20y%2B%252F%2A~.txt");
        let mut canonical = String::new();
        canonical_query(&mut canonical, parts.query_pairs, SignatureLocation::Header);
        assert_eq!(canonical, "a=%21&a=~%C3%A9%2B&b=x%2Fy%20z&uploads=");
    }

    #[test]
    fn authorization_header_variants_parse() {
        let credential = format!("Credential={ACCESS_KEY_ID}/20130524/us-east-1/s3/aws4_request");
        let signature = format!("Signature={}", "ab".repeat(32));
        let variants = [
            format!("AWS4-HMAC-SHA256 {credential},SignedHeaders=host;x-amz-date,{signature}"),
            format!("AWS4-HMAC-SHA256 {credential}, SignedHeaders=host;x-amz-date, {signature}"),
            format!(
                "  AWS4-HMAC-SHA256  {credential} ,\tSignedHeaders=host;x-amz-date ,{signature} "
            ),
            format!("AWS4-HMAC-SHA256 {signature}, SignedHeaders=host;x-amz-date, {credential}"),
            format!("AWS4-HMAC-SHA256 {credential} SignedHeaders=host;x-amz-date {signature}"),
        ];
        for value in &variants {
            let header = parse_authorization_header(value).unwrap();
            assert_eq!(header.credential.access_key_id, ACCESS_KEY_ID, "{value}");
            assert_eq!(header.credential.scope.region, "us-east-1");
            assert_eq!(header.signed_headers, ["host", "x-amz-date"]);
            assert_eq!(header.signature.0, [0xab; 32]);
        }
    }

    #[test]
    fn malformed_authorization_headers_are_rejected() {
        let good = "AK/20130524/us-east-1/s3/aws4_request";
        let sig = "ab".repeat(32);
        let many_headers = "host;".repeat(65);
        // (Credential, SignedHeaders, Signature) each broken in turn.
        let components = [
            ("AK/20130524/us-east-1/s3", "host", sig.as_str()),
            ("AK/2013052X/us-east-1/s3/aws4_request", "host", &sig),
            ("AK/20130524/us-east-1/s3/aws5_request", "host", &sig),
            ("/20130524/us-east-1/s3/aws4_request", "host", &sig),
            ("AK/20130524//s3/aws4_request", "host", &sig),
            (good, "x-amz-date", &sig),
            (good, "Host", &sig),
            (good, "host;;a", &sig),
            (good, &many_headers, &sig),
            (good, "host", "ab"),
            (good, "host", &"g".repeat(64)),
        ];
        let mut cases: Vec<String> = components
            .iter()
            .map(|(c, h, s)| {
                format!("AWS4-HMAC-SHA256 Credential={c},SignedHeaders={h},Signature={s}")
            })
            .collect();
        cases.extend([
            String::new(),
            "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=".to_string(),
            format!("AWS4-HMAC-SHA256Credential={good},SignedHeaders=host,Signature={sig}"),
            format!("AWS4-HMAC-SHA256 Credential={good},SignedHeaders=host"),
            format!("AWS4-HMAC-SHA256 Credential={good},Signature={sig},Signature={sig}"),
            format!("AWS4-HMAC-SHA256 Credential={good},Foo=1,SignedHeaders=host,Signature={sig}"),
            format!("AWS4-HMAC-SHA256 Credential={good},SignedHeaders,Signature={sig}"),
        ]);
        for value in &cases {
            let error = parse_authorization_header(value).unwrap_err();
            assert!(matches!(error, AuthError::HeaderMalformed(_)), "{value}");
            assert_eq!(
                S3Error::from(error).code,
                S3ErrorCode::AuthorizationHeaderMalformed
            );
        }
    }

    const PRESIGNED_SIGNATURE: &str =
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

    fn presigned_query() -> Vec<(String, String)> {
        pairs(&[
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            (
                "X-Amz-Credential",
                "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request",
            ),
            ("X-Amz-Date", AMZ_DATE),
            ("X-Amz-Expires", "86400"),
            ("X-Amz-SignedHeaders", "host"),
            ("X-Amz-Signature", PRESIGNED_SIGNATURE),
        ])
    }

    fn verify_presigned_at(query: &[(String, String)], now: i64) -> Result<Verified, AuthError> {
        let headers = pairs(&[("host", HOST)]);
        let parts = RequestParts {
            method: "GET",
            path_decoded: "/test.txt",
            query_pairs: query,
            headers: &headers,
        };
        let presigned = parse_presigned_query(query)?;
        verify_presigned(
            &parts,
            &presigned,
            &params(now),
            &mut SigningKeyCache::new(),
        )
    }

    #[test]
    fn documented_presigned_url_verifies() {
        let query = presigned_query();
        assert!(is_presigned(&query));
        let parsed = parse_presigned_query(&query).unwrap();
        assert_eq!(parsed.expires_seconds, 86_400);
        assert_eq!(parsed.date.unix_seconds(), NOW);
        let headers = pairs(&[("host", HOST)]);
        let parts = RequestParts {
            method: "GET",
            path_decoded: "/test.txt",
            query_pairs: &query,
            headers: &headers,
        };
        let canonical = canonical_request(
            &parts,
            &parsed.signed_headers,
            UNSIGNED_PAYLOAD,
            SignatureLocation::Query,
        );
        let expected = format!(
            "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=\
             AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=\
             20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\nhost:{HOST}\n\n\
             host\nUNSIGNED-PAYLOAD"
        );
        assert_eq!(canonical.unwrap(), expected);
        let verified = verify_presigned_at(&query, NOW + 3600).unwrap();
        assert_eq!(verified.payload, PayloadHash::Unsigned);
    }

    #[test]
    fn presigned_urls_expire_and_are_not_valid_early() {
        let query = presigned_query();
        verify_presigned_at(&query, NOW + 86_400).unwrap();
        assert_eq!(
            verify_presigned_at(&query, NOW + 86_401).unwrap_err(),
            AuthError::PresignedExpired
        );
        verify_presigned_at(&query, NOW - CLOCK_SKEW_SECONDS_MAX).unwrap();
        let early = verify_presigned_at(&query, NOW - CLOCK_SKEW_SECONDS_MAX - 1);
        assert_eq!(early.unwrap_err(), AuthError::PresignedNotYetValid);
        assert_eq!(
            S3Error::from(AuthError::PresignedExpired).code,
            S3ErrorCode::AccessDenied
        );
    }

    #[test]
    fn tampered_presigned_urls_fail() {
        let mut longer = presigned_query();
        longer[3].1 = "86401".into();
        let mut extra = presigned_query();
        extra.push(("response-content-type".into(), "text/html".into()));
        for query in [longer, extra] {
            assert_eq!(
                verify_presigned_at(&query, NOW).unwrap_err(),
                AuthError::SignatureMismatch
            );
        }
    }

    #[test]
    fn malformed_presigned_queries_are_rejected() {
        type Edit = fn(&mut Vec<(String, String)>);
        let edits: [Edit; 8] = [
            |q| q.retain(|(n, _)| n != "X-Amz-Signature"),
            |q| q.retain(|(n, _)| n != "X-Amz-Date"),
            |q| q.push(("X-Amz-Expires".into(), "1".into())),
            |q| q[0].1 = "AWS4-ECDSA-P256-SHA256".into(),
            |q| q[3].1 = "604801".into(),
            |q| q[3].1 = "0".into(),
            |q| q[3].1 = "-5".into(),
            |q| q[2].1 = "20130524".into(),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut query = presigned_query();
            edit(&mut query);
            let error = parse_presigned_query(&query).unwrap_err();
            assert!(
                matches!(error, AuthError::QueryMalformed(_)),
                "{i}: {error:?}"
            );
        }
        assert!(!is_presigned(&pairs(&[("prefix", "a")])));
    }

    #[test]
    fn payload_modes_parse() {
        let cases = [
            (UNSIGNED_PAYLOAD, PayloadHash::Unsigned),
            (STREAMING_SIGNED, PayloadHash::StreamingSigned),
            (
                STREAMING_SIGNED_TRAILER,
                PayloadHash::StreamingSignedTrailer,
            ),
            (
                STREAMING_UNSIGNED_TRAILER,
                PayloadHash::StreamingUnsignedTrailer,
            ),
            (
                PUT_BODY_SHA256,
                PayloadHash::Sha256(hex_array(PUT_BODY_SHA256)),
            ),
        ];
        for (text, mode) in cases {
            assert_eq!(PayloadHash::parse(text), Ok(mode));
            assert_eq!(mode.is_streaming(), text.starts_with("STREAMING-"));
        }
        for text in [
            "",
            "unsigned-payload",
            "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
            "abc",
        ] {
            assert_eq!(
                PayloadHash::parse(text),
                Err(AuthError::ContentSha256Invalid),
                "{text}"
            );
        }
    }

    #[test]
    fn amz_dates_parse_and_format() {
        let date = AmzDate::parse(AMZ_DATE).unwrap();
        assert_eq!((date.unix_seconds(), date.date()), (NOW, "20130524"));
        // Round trips around epochs, leap days and centuries.
        let days = [
            -1, 0, 59, 365, 11_016, 11_017, 15_849, 47_541, 47_542, 2_932_896,
        ];
        for day in days {
            for second in [0, 1, 43_199, 86_399] {
                let unix = day * 86_400 + second;
                let formatted = AmzDate::from_unix_seconds(unix);
                assert_eq!(
                    AmzDate::parse(formatted.timestamp()),
                    Some(formatted.clone())
                );
                assert_eq!(formatted.unix_seconds(), unix);
            }
        }
        assert_eq!(
            AmzDate::from_unix_seconds(951_782_400).timestamp(),
            "20000229T000000Z"
        );
        assert_eq!(
            AmzDate::from_unix_seconds(4_107_542_400).timestamp(),
            "21000301T000000Z"
        );
        let invalid = [
            "20130524T000000",
            "20130524T000000z",
            "2013-05-24T00:00:00Z",
            "20130230T000000Z",
            "21000229T000000Z",
            "20131301T000000Z",
            "20130524T240000Z",
            "20130524T006000Z",
            "20130524T000060Z",
            "2013O524T000000Z",
            "+0130524T000000Z",
            "",
        ];
        for text in invalid {
            assert_eq!(AmzDate::parse(text), None, "{text}");
        }
        let http = AmzDate::parse_http_date("Fri, 24 May 2013 00:00:00 GMT").unwrap();
        assert_eq!(http.timestamp(), AMZ_DATE);
    }

    #[test]
    fn signing_key_matches_the_aws_general_reference_example() {
        // docs.aws.amazon.com/general/latest/gr/sigv4-calculate-signature.html
        let scope = CredentialScope {
            date: "20150830".into(),
            region: "us-east-1".into(),
            service: "iam".into(),
        };
        let key = derive_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &scope);
        let expected = "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9";
        assert_eq!(hex::encode(key.0), expected);
    }

    fn scope_of_day(day: u32) -> CredentialScope {
        CredentialScope {
            date: format!("2013{:04}", 101 + day),
            region: "us-east-1".into(),
            service: "s3".into(),
        }
    }

    #[test]
    fn the_cache_returns_derived_keys_and_notices_secret_changes() {
        let mut cache = SigningKeyCache::new();
        let scope = scope_of_day(0);
        let key = cache.signing_key(ACCESS_KEY_ID, SECRET, &scope);
        assert_eq!(key, derive_signing_key(SECRET, &scope));
        assert_eq!(cache.signing_key(ACCESS_KEY_ID, SECRET, &scope), key);
        assert_eq!(cache.len(), 1);
        let rotated = cache.signing_key(ACCESS_KEY_ID, "new-secret", &scope);
        assert_eq!(rotated, derive_signing_key("new-secret", &scope));
        assert_eq!(cache.len(), 1);
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
    }

    #[test]
    fn the_cache_is_bounded_and_evicts_the_oldest() {
        let mut cache = SigningKeyCache::new();
        let scope = scope_of_day(0);
        let total = SIGNING_KEY_CACHE_ENTRIES_MAX + 10;
        for i in 0..total {
            cache.signing_key(&format!("AK{i}"), SECRET, &scope);
        }
        assert_eq!(cache.len(), SIGNING_KEY_CACHE_ENTRIES_MAX);
        assert!(!cache.entries.contains_key("AK0\n20130101\nus-east-1\ns3\n"));
        let newest = format!("AK{}\n20130101\nus-east-1\ns3\n", total - 1);
        assert!(cache.entries.contains_key(newest.as_str()));
        let key = cache.signing_key("AK0", SECRET, &scope);
        assert_eq!(key, derive_signing_key(SECRET, &scope));
        assert_eq!(cache.len(), SIGNING_KEY_CACHE_ENTRIES_MAX);
    }
}
