//! Validated names that cross the S3 layer: parse once at the edge, never pass
//! a bare `String` further in.
//!
//! Owns: `BucketName` (AWS general-purpose bucket naming rules), `ObjectKey`
//! (any UTF-8 of 1..=1024 bytes except NUL), and the opaque server-minted
//! tokens `UploadId` and `VersionId`. Each type can only be built through its
//! `parse`, so holding one proves the rules were checked.
//!
//! Must not touch: storage, routing or XML. Errors are `S3Error`s with AWS's
//! codes so callers can pass them straight on.

use std::fmt;

use crate::error::{S3Error, S3ErrorCode};

/// Shortest bucket name AWS accepts, in characters (all ASCII, so also bytes).
const BUCKET_NAME_LEN_MIN: usize = 3;
/// Longest bucket name AWS accepts: one DNS label, so virtual-host style works.
const BUCKET_NAME_LEN_MAX: usize = 63;
/// Prefixes AWS reserves (punycode, internal and documentation names).
const BUCKET_NAME_PREFIXES_RESERVED: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
/// Suffixes AWS reserves for access point aliases, Object Lambda, Multi-Region
/// Access Points, directory buckets and table buckets.
const BUCKET_NAME_SUFFIXES_RESERVED: [&str; 5] =
    ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
/// Longest object key AWS accepts, in UTF-8 bytes.
pub const OBJECT_KEY_LEN_BYTES_MAX: usize = 1024;
/// Longest upload or version id we accept. Ours are far shorter; the cap only
/// keeps a hostile query string from being carried around.
const TOKEN_LEN_BYTES_MAX: usize = 1024;

/// A bucket name that satisfies AWS's general-purpose bucket naming rules.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BucketName(String);

impl BucketName {
    /// Checks every AWS rule; the error message names the rule that failed.
    pub fn parse(name: &str) -> Result<Self, S3Error> {
        match bucket_name_violation(name) {
            None => Ok(BucketName(name.to_owned())),
            Some(rule) => Err(S3Error::new(
                S3ErrorCode::InvalidBucketName,
                format!("The specified bucket is not valid: {rule}."),
            )
            .with_resource(name)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The first naming rule `name` breaks, or `None` when it is a valid name.
fn bucket_name_violation(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if !(BUCKET_NAME_LEN_MIN..=BUCKET_NAME_LEN_MAX).contains(&bytes.len()) {
        return Some("it must be between 3 and 63 characters long");
    }
    if !bytes.iter().all(|&b| bucket_name_byte_allowed(b)) {
        return Some("only lowercase letters, digits, dots and hyphens are allowed");
    }
    let is_alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !is_alnum(&bytes[0]) || !is_alnum(&bytes[bytes.len() - 1]) {
        return Some("it must begin and end with a letter or digit");
    }
    if name.contains("..") {
        return Some("it must not contain two adjacent periods");
    }
    if bucket_name_is_ip_address(name) {
        return Some("it must not be formatted as an IP address");
    }
    if BUCKET_NAME_PREFIXES_RESERVED
        .iter()
        .any(|p| name.starts_with(p))
    {
        return Some("it starts with a reserved prefix");
    }
    if BUCKET_NAME_SUFFIXES_RESERVED
        .iter()
        .any(|s| name.ends_with(s))
    {
        return Some("it ends with a reserved suffix");
    }
    None
}

fn bucket_name_byte_allowed(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
}

/// AWS forbids names "formatted as an IP address": four dot-separated runs of
/// digits. Ranges are not checked, because `999.1.1.1` is just as confusing
/// in a host name as a real address.
fn bucket_name_is_ip_address(name: &str) -> bool {
    let mut labels = 0;
    for label in name.split('.') {
        labels += 1;
        if label.is_empty() || !label.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    labels == 4
}

/// An object key: any UTF-8 string of 1..=1024 bytes without a NUL byte.
///
/// Keys are compared byte for byte: `a`, `a/`, `a//b`, `../x` and `a+b` are
/// all distinct, valid keys. No normalisation ever happens, because S3 keys are
/// opaque and clients rely on getting back exactly what they stored.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// NUL is refused because the index uses 0x00 as the key terminator; every
    /// other character AWS accepts is accepted here.
    pub fn parse(key: &str) -> Result<Self, S3Error> {
        if key.is_empty() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "The object key must not be empty.",
            ));
        }
        if key.len() > OBJECT_KEY_LEN_BYTES_MAX {
            return Err(S3Error::new(
                S3ErrorCode::KeyTooLongError,
                "Your key is too long.",
            ));
        }
        if key.as_bytes().contains(&0) {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "The object key must not contain a NUL character.",
            ));
        }
        Ok(ObjectKey(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A multipart upload id as the client sent it back to us.
///
/// We mint these ourselves, so anything that is not 1..=1024 visible ASCII
/// characters cannot be one of ours and is refused before reaching storage.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UploadId(String);

impl UploadId {
    pub fn parse(id: &str) -> Result<Self, S3Error> {
        token_check(id, "upload id").map(|()| UploadId(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// An object version id as the client sent it. `null` is a valid value: it
/// names the version written while versioning was off or suspended.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VersionId(String);

impl VersionId {
    pub fn parse(id: &str) -> Result<Self, S3Error> {
        token_check(id, "version id").map(|()| VersionId(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether this is the literal `null` version id.
    pub fn is_null(&self) -> bool {
        self.0 == "null"
    }
}

fn token_check(id: &str, what: &str) -> Result<(), S3Error> {
    let visible = id.bytes().all(|b| b.is_ascii_graphic());
    if id.is_empty() || id.len() > TOKEN_LEN_BYTES_MAX || !visible {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            format!("The {what} is not valid."),
        ));
    }
    Ok(())
}

/// Shared trait impls: every name shows as its plain string, which is what a
/// log line or an error message wants.
macro_rules! name_impls {
    ($($name:ident),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<&str> for $name {
            type Error = S3Error;

            fn try_from(value: &str) -> Result<Self, S3Error> {
                Self::parse(value)
            }
        }
    )*};
}

name_impls!(BucketName, ObjectKey, UploadId, VersionId);

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket_code(name: &str) -> Option<S3ErrorCode> {
        BucketName::parse(name).err().map(|e| e.code)
    }

    #[test]
    fn bucket_valid_names() {
        for name in [
            "abc",
            "my-bucket",
            "my.bucket.1",
            "1bucket",
            "a1-b2.c3",
            "docexamplebucket1",
        ] {
            assert_eq!(BucketName::parse(name).unwrap().as_str(), name);
        }
        assert!(BucketName::parse(&"a".repeat(63)).is_ok());
        // Three digit groups or five are not an IP address shape.
        assert!(BucketName::parse("192.168.5").is_ok());
        assert!(BucketName::parse("1.2.3.4.5").is_ok());
        // Reserved words only count at the start or end.
        assert!(BucketName::parse("my-xn--bucket").is_ok());
        assert!(BucketName::parse("my-s3alias-bucket").is_ok());
    }

    #[test]
    fn bucket_length_limits() {
        assert_eq!(bucket_code("ab"), Some(S3ErrorCode::InvalidBucketName));
        assert_eq!(bucket_code(""), Some(S3ErrorCode::InvalidBucketName));
        assert_eq!(
            bucket_code(&"a".repeat(64)),
            Some(S3ErrorCode::InvalidBucketName)
        );
    }

    #[test]
    fn bucket_charset() {
        for name in [
            "MyBucket",
            "my_bucket",
            "my bucket",
            "bücket",
            "my/bucket",
            "a+b",
        ] {
            assert_eq!(
                bucket_code(name),
                Some(S3ErrorCode::InvalidBucketName),
                "{name}"
            );
        }
    }

    #[test]
    fn bucket_first_and_last_character() {
        for name in ["-bucket", "bucket-", ".bucket", "bucket."] {
            assert_eq!(
                bucket_code(name),
                Some(S3ErrorCode::InvalidBucketName),
                "{name}"
            );
        }
    }

    #[test]
    fn bucket_adjacent_periods() {
        assert_eq!(
            bucket_code("my..bucket"),
            Some(S3ErrorCode::InvalidBucketName)
        );
    }

    #[test]
    fn bucket_ip_address() {
        assert_eq!(
            bucket_code("192.168.5.4"),
            Some(S3ErrorCode::InvalidBucketName)
        );
        assert_eq!(
            bucket_code("999.999.999.999"),
            Some(S3ErrorCode::InvalidBucketName)
        );
    }

    #[test]
    fn bucket_reserved_prefixes() {
        for name in [
            "xn--bucket",
            "sthree-bucket",
            "sthree-configurator",
            "amzn-s3-demo-b",
        ] {
            assert_eq!(
                bucket_code(name),
                Some(S3ErrorCode::InvalidBucketName),
                "{name}"
            );
        }
    }

    #[test]
    fn bucket_reserved_suffixes() {
        let names = [
            "b-s3alias",
            "b--ol-s3",
            "b.mrap",
            "b--usw2-az1--x-s3",
            "b--table-s3",
        ];
        for name in names {
            assert_eq!(
                bucket_code(name),
                Some(S3ErrorCode::InvalidBucketName),
                "{name}"
            );
        }
    }

    #[test]
    fn bucket_error_names_rule_and_resource() {
        let err = BucketName::parse("my..bucket").unwrap_err();
        assert!(err.message.contains("adjacent periods"), "{}", err.message);
        assert_eq!(err.resource.as_deref(), Some("my..bucket"));
    }

    #[test]
    fn key_distinct_valid_forms() {
        let keys = [
            "a",
            "a/",
            "a//b",
            "../x",
            "a b",
            "a+b",
            "a%20b",
            "日本/ключ",
            "/",
            " ",
        ];
        for key in keys {
            let parsed = ObjectKey::parse(key).unwrap();
            assert_eq!(parsed.as_str(), key);
            assert_eq!(parsed.as_bytes(), key.as_bytes());
        }
        assert_ne!(
            ObjectKey::parse("a").unwrap(),
            ObjectKey::parse("a/").unwrap()
        );
    }

    #[test]
    fn key_control_characters_other_than_nul_are_valid() {
        assert!(ObjectKey::parse("a\u{1}b\n\r\t\u{7f}").is_ok());
    }

    #[test]
    fn key_empty_is_invalid_argument() {
        assert_eq!(
            ObjectKey::parse("").unwrap_err().code,
            S3ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn key_nul_is_invalid_argument() {
        assert_eq!(
            ObjectKey::parse("a\0b").unwrap_err().code,
            S3ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn key_length_is_counted_in_bytes() {
        assert!(ObjectKey::parse(&"k".repeat(1024)).is_ok());
        let err = ObjectKey::parse(&"k".repeat(1025)).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::KeyTooLongError);
        // 342 three-byte characters are 1026 bytes although only 342 chars.
        let wide = "€".repeat(342);
        assert_eq!(
            ObjectKey::parse(&wide).unwrap_err().code,
            S3ErrorCode::KeyTooLongError
        );
    }

    #[test]
    fn key_orders_bytewise_like_s3_listings() {
        let mut keys: Vec<ObjectKey> = ["b", "a/", "a", "A", "é"]
            .iter()
            .map(|k| ObjectKey::parse(k).unwrap())
            .collect();
        keys.sort();
        let sorted: Vec<&str> = keys.iter().map(ObjectKey::as_str).collect();
        assert_eq!(sorted, ["A", "a", "a/", "b", "é"]);
    }

    #[test]
    fn tokens_accept_visible_ascii_only() {
        assert!(UploadId::parse("VXBsb2FkIElE-_.~+/=").is_ok());
        assert!(VersionId::parse("null").unwrap().is_null());
        for bad in ["", "a b", "ü", "a\nb"] {
            assert_eq!(
                UploadId::parse(bad).unwrap_err().code,
                S3ErrorCode::InvalidArgument
            );
            assert_eq!(
                VersionId::parse(bad).unwrap_err().code,
                S3ErrorCode::InvalidArgument
            );
        }
        assert!(UploadId::parse(&"u".repeat(1025)).is_err());
    }

    #[test]
    fn display_debug_and_try_from() {
        let bucket = BucketName::try_from("photos").unwrap();
        assert_eq!(bucket.to_string(), "photos");
        assert_eq!(format!("{bucket:?}"), "BucketName(\"photos\")");
        assert!(ObjectKey::try_from("").is_err());
    }
}
