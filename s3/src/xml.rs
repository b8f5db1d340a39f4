//! S3 XML bodies: rendering responses with a small append-only writer, and
//! parsing the few request bodies S3 defines with quick-xml.
//!
//! Owns: `XmlWriter` (escaping, timestamps, URL encoding for
//! `encoding-type=url`), one render function per response document
//! (`list_buckets`, `list_objects`, `delete_result`, `error`, ...) over plain
//! borrowed input structs, and the parsers `parse_delete`,
//! `parse_create_bucket_configuration`, `parse_complete_multipart_upload`,
//! `parse_tagging`, `parse_server_side_encryption_configuration`.
//!
//! Must not touch: storage or HTTP. Renderers append to a caller-owned
//! `Vec<u8>` so a shard can reuse one buffer across responses; listing 1000
//! keys costs one reservation and no per-key allocation.
//!
//! Escaping: `& < > " '` become entities, as AWS writes them (its ETags read
//! `&quot;...&quot;`). Characters XML 1.0 cannot carry (controls other than
//! tab and newline, U+FFFE, U+FFFF) and `\r` (which parsers would turn into
//! `\n`) become `&#xN;` references, in lowercase hex as AWS writes them (key
//! `a\x19\x07` lists as `a&#x19;&#x7;`). Lenient parsers recover the exact
//! key; strict ones need `encoding-type=url`, which is why that option exists.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use quick_xml::events::{BytesStart, BytesText, Event};
use quick_xml::Reader;

use crate::checksum::ChecksumAlgorithm;
use crate::error::{S3Error, S3ErrorCode};
use crate::names::{ObjectKey, VersionId};
use crate::router::PART_NUMBER_MAX;

/// The namespace AWS puts on every S3 response root except `<Error>`.
pub const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";
const PROLOG: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
/// We store every object in one class; AWS reports it on each listed key.
const STORAGE_CLASS: &str = "STANDARD";
/// The region whose `LocationConstraint` AWS renders as an empty element.
const REGION_DEFAULT: &str = "us-east-1";
/// AWS's limit on keys in one DeleteObjects request.
const DELETE_OBJECTS_COUNT_MAX: usize = 1000;
/// Deepest nesting any S3 request body needs is 3; deeper is an attack.
const XML_DEPTH_MAX: usize = 16;
/// Elements in one request body: a 10 000-part completion with a checksum per
/// part needs ~40 000. Bounds the parse tree at a few MB whatever the body.
const XML_ELEMENT_COUNT_MAX: usize = 100_000;
/// Bytes reserved per listed key before rendering a listing: a typical
/// `<Contents>` entry is ~250 bytes, so most listings never reallocate.
const LIST_ENTRY_BYTES_ESTIMATE: usize = 256;
/// What `encoding-type=url` encodes: all but RFC 3986 unreserved characters
/// and `/`, which AWS keeps as is (`quux ab/` comes back as `quux%20ab/`).
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Appends an XML document to a buffer. Tags are trusted literals; all text
/// goes through `escape_into`.
pub struct XmlWriter<'o> {
    out: &'o mut Vec<u8>,
}

impl<'o> XmlWriter<'o> {
    /// Starts a document by writing the prolog every S3 response carries.
    pub fn document(out: &'o mut Vec<u8>) -> Self {
        out.extend_from_slice(PROLOG);
        XmlWriter { out }
    }

    /// `<tag xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`.
    pub fn open_root(&mut self, tag: &str) {
        self.out.push(b'<');
        self.out.extend_from_slice(tag.as_bytes());
        self.out.extend_from_slice(b" xmlns=\"");
        self.out.extend_from_slice(S3_XMLNS.as_bytes());
        self.out.extend_from_slice(b"\">");
    }

    #[inline]
    pub fn open(&mut self, tag: &str) {
        self.out.push(b'<');
        self.out.extend_from_slice(tag.as_bytes());
        self.out.push(b'>');
    }

    /// `<tag xmlns="..."/>`: a root with no content.
    pub fn empty_root(&mut self, tag: &str) {
        self.open_root(tag);
        self.out.truncate(self.out.len() - 1);
        self.out.extend_from_slice(b"/>");
    }

    #[inline]
    pub fn close(&mut self, tag: &str) {
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(tag.as_bytes());
        self.out.push(b'>');
    }

    /// `<tag>text</tag>` with `text` escaped.
    #[inline]
    pub fn text(&mut self, tag: &str, text: &str) {
        self.open(tag);
        escape_into(self.out, text);
        self.close(tag);
    }

    /// `text` when present, nothing otherwise.
    pub fn text_opt(&mut self, tag: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.text(tag, text);
        }
    }

    /// A key-like value, URL-encoded when the client asked for
    /// `encoding-type=url`. Encoded output is plain ASCII with no XML
    /// metacharacters, so it needs no escaping.
    pub fn key_text(&mut self, tag: &str, text: &str, url_encode: bool) {
        if !url_encode {
            return self.text(tag, text);
        }
        self.open(tag);
        for chunk in utf8_percent_encode(text, URL_ENCODE) {
            self.out.extend_from_slice(chunk.as_bytes());
        }
        self.close(tag);
    }

    pub fn number(&mut self, tag: &str, value: u64) {
        self.open(tag);
        push_u64(self.out, value);
        self.close(tag);
    }

    pub fn boolean(&mut self, tag: &str, value: bool) {
        self.open(tag);
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
        self.close(tag);
    }

    /// ISO 8601 with milliseconds, as AWS writes it: `2019-10-12T17:50:30.000Z`.
    pub fn timestamp(&mut self, tag: &str, unix_ms: u64) {
        self.open(tag);
        push_timestamp(self.out, unix_ms);
        self.close(tag);
    }

    /// An ETag in double quotes, as S3 shows it; accepts it quoted or bare.
    pub fn etag(&mut self, tag: &str, etag: &str) {
        self.open(tag);
        let bare = etag
            .strip_prefix('"')
            .and_then(|e| e.strip_suffix('"'))
            .unwrap_or(etag);
        self.out.extend_from_slice(b"&quot;");
        escape_into(self.out, bare);
        self.out.extend_from_slice(b"&quot;");
        self.close(tag);
    }

    pub fn owner(&mut self, owner: &Owner<'_>) {
        self.open("Owner");
        self.text("ID", owner.id);
        self.text("DisplayName", owner.display_name);
        self.close("Owner");
    }
}

/// Appends `text` with XML escaping (see the module comment). Runs of plain
/// bytes are copied in one go; only bytes the table flags are looked at.
pub fn escape_into(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut run_start = 0;
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|&b| ESCAPE_TABLE[b as usize]) {
        i += offset;
        let Some((skip_bytes, replacement)) = escape_replacement(&bytes[i..]) else {
            i += 1;
            continue;
        };
        out.extend_from_slice(&bytes[run_start..i]);
        replacement.write(out);
        i += skip_bytes;
        run_start = i;
    }
    out.extend_from_slice(&bytes[run_start..]);
}

/// Bytes that may need escaping: XML metacharacters, controls except tab and
/// newline, and 0xEF, the lead byte of U+FFFE and U+FFFF.
static ESCAPE_TABLE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b != b'\t' as usize && b != b'\n' as usize;
        b += 1;
    }
    table[b'&' as usize] = true;
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[b'"' as usize] = true;
    table[b'\'' as usize] = true;
    table[0xEF] = true;
    table
};

enum Replacement {
    Entity(&'static [u8]),
    CharRef(u32),
}

impl Replacement {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Replacement::Entity(entity) => out.extend_from_slice(entity),
            Replacement::CharRef(code) => {
                out.extend_from_slice(b"&#x");
                push_hex(out, *code);
                out.push(b';');
            }
        }
    }
}

/// For a flagged byte at `rest[0]`: how many bytes to replace and with what;
/// `None` when it is the 0xEF lead byte of an ordinary character.
fn escape_replacement(rest: &[u8]) -> Option<(usize, Replacement)> {
    let replacement = match rest[0] {
        b'&' => (1, Replacement::Entity(b"&amp;")),
        b'<' => (1, Replacement::Entity(b"&lt;")),
        b'>' => (1, Replacement::Entity(b"&gt;")),
        b'"' => (1, Replacement::Entity(b"&quot;")),
        b'\'' => (1, Replacement::Entity(b"&apos;")),
        0xEF => match rest.get(1..3)? {
            [0xBF, 0xBE] => (3, Replacement::CharRef(0xFFFE)),
            [0xBF, 0xBF] => (3, Replacement::CharRef(0xFFFF)),
            _ => return None,
        },
        control => (1, Replacement::CharRef(u32::from(control))),
    };
    Some(replacement)
}

fn push_hex(out: &mut Vec<u8>, value: u32) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut started = false;
    for shift in (0..8).rev() {
        let digit = (value >> (shift * 4)) & 0xF;
        started |= digit != 0 || shift == 0;
        if started {
            out.push(DIGITS[digit as usize]);
        }
    }
}

fn push_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// Latest instant `push_timestamp` can show, 9999-12-31T23:59:59.999Z: ISO
/// 8601 years have four digits. Stored times come from our clock, so only a
/// corrupt value could be later; it is shown as this rather than crash a shard.
const TIMESTAMP_MS_MAX: u64 = 253_402_300_799_999;

fn push_timestamp(out: &mut Vec<u8>, unix_ms: u64) {
    let unix_ms = unix_ms.min(TIMESTAMP_MS_MAX);
    let secs = unix_ms / 1000;
    // Days and seconds of day fit u32 up to year 9999; 32-bit maths is cheaper.
    let (year, month, day) = civil_from_days((secs / 86_400) as u32);
    let second_of_day = (secs % 86_400) as u32;
    // One fixed-width template filled in place: this runs once per listed key.
    let mut text = *b"0000-00-00T00:00:00.000Z";
    put_digits(&mut text[0..4], year);
    put_digits(&mut text[5..7], month);
    put_digits(&mut text[8..10], day);
    put_digits(&mut text[11..13], second_of_day / 3600);
    put_digits(&mut text[14..16], second_of_day / 60 % 60);
    put_digits(&mut text[17..19], second_of_day % 60);
    put_digits(&mut text[20..23], (unix_ms % 1000) as u32);
    out.extend_from_slice(&text);
}

/// An ISO 8601 UTC timestamp as S3 writes it (`2030-01-02T03:04:05.000Z`).
pub fn format_timestamp(unix_ms: u64) -> String {
    let mut out = Vec::with_capacity(24);
    push_timestamp(&mut out, unix_ms);
    String::from_utf8(out).expect("ASCII")
}

/// Parses an ISO 8601 UTC timestamp (`YYYY-MM-DDTHH:MM:SS`, optional
/// fraction, `Z` or `+00:00`) to Unix milliseconds; None if it is not one.
pub fn parse_timestamp(text: &str) -> Option<u64> {
    let text = text.trim();
    let body = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))?;
    let (date, time) = body.split_once('T')?;
    let mut date_fields = date.split('-');
    let year: i64 = date_fields.next()?.parse().ok()?;
    let month: i64 = date_fields.next()?.parse().ok()?;
    let day: i64 = date_fields.next()?.parse().ok()?;
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut clock_fields = clock.split(':');
    let hour: i64 = clock_fields.next()?.parse().ok()?;
    let minute: i64 = clock_fields.next()?.parse().ok()?;
    let second: i64 = clock_fields.next()?.parse().ok()?;
    let valid = (1970..=9999).contains(&year)
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second < 61
        && date_fields.next().is_none()
        && clock_fields.next().is_none()
        && fraction.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        return None;
    }
    let millis: i64 = format!("{fraction:0<3}")[..3].parse().ok()?;
    let days = crate::auth::sigv4::days_from_civil(year, month, day);
    let ms = ((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000) + millis;
    u64::try_from(ms).ok()
}

/// A bucket's Object Lock configuration: always `Enabled`, with an optional
/// default retention rule (mode, and a period in days or years).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectLockConfig {
    pub default_retention: Option<(String, String, u32)>,
}

/// `ObjectLockConfiguration` (GetObjectLockConfiguration).
pub fn object_lock_configuration(out: &mut Vec<u8>, config: &ObjectLockConfig) {
    let mut w = XmlWriter::document(out);
    w.open_root("ObjectLockConfiguration");
    w.text("ObjectLockEnabled", "Enabled");
    if let Some((mode, unit, period)) = &config.default_retention {
        w.open("Rule");
        w.open("DefaultRetention");
        w.text("Mode", mode);
        w.number(unit, u64::from(*period));
        w.close("DefaultRetention");
        w.close("Rule");
    }
    w.close("ObjectLockConfiguration");
}

/// PutObjectLockConfiguration's body. A configuration without a `Rule` is
/// valid (it removes the default retention).
pub fn parse_object_lock_configuration(body: &[u8]) -> Result<ObjectLockConfig, S3Error> {
    let root = parse_tree(body)?;
    root_expect(&root, "ObjectLockConfiguration")?;
    match child_text_once(&root, "ObjectLockEnabled")?.map(str::trim) {
        Some("Enabled") => {}
        _ => return Err(malformed("ObjectLockEnabled must be Enabled")),
    }
    let Some(rule) = child_once(&root, "Rule")? else {
        return Ok(ObjectLockConfig {
            default_retention: None,
        });
    };
    let retention = child_once(rule, "DefaultRetention")?
        .ok_or_else(|| malformed("Rule needs DefaultRetention"))?;
    let mode = child_text_once(retention, "Mode")?
        .map(str::trim)
        .filter(|m| *m == "GOVERNANCE" || *m == "COMPLIANCE")
        .ok_or_else(|| malformed("Mode must be GOVERNANCE or COMPLIANCE"))?;
    let days = child_text_once(retention, "Days")?;
    let years = child_text_once(retention, "Years")?;
    let (unit, text) = match (days, years) {
        (Some(days), None) => ("Days", days),
        (None, Some(years)) => ("Years", years),
        _ => {
            return Err(malformed(
                "DefaultRetention needs exactly one of Days and Years",
            ))
        }
    };
    let period: u32 = text.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Default retention period must be a positive integer value.",
        )
    })?;
    Ok(ObjectLockConfig {
        default_retention: Some((mode.to_owned(), unit.to_owned(), period)),
    })
}

/// `Retention` (GetObjectRetention).
pub fn retention(out: &mut Vec<u8>, mode: &str, until_ms: u64) {
    let mut w = XmlWriter::document(out);
    w.open_root("Retention");
    w.text("Mode", mode);
    w.timestamp("RetainUntilDate", until_ms);
    w.close("Retention");
}

/// PutObjectRetention's body: (mode, retain-until ms), or None for an empty
/// `Retention` (removing it). Accepted with or without the S3 namespace, as
/// Veeam sends it without.
pub fn parse_retention(body: &[u8]) -> Result<Option<(String, u64)>, S3Error> {
    let root = parse_tree(body)?;
    root_expect(&root, "Retention")?;
    let mode = child_text_once(&root, "Mode")?.map(str::trim);
    let until = child_text_once(&root, "RetainUntilDate")?.map(str::trim);
    match (mode, until) {
        (None, None) => Ok(None),
        (Some(mode), Some(until)) => {
            if mode != "GOVERNANCE" && mode != "COMPLIANCE" {
                return Err(malformed("Mode must be GOVERNANCE or COMPLIANCE"));
            }
            let until_ms = parse_timestamp(until)
                .ok_or_else(|| malformed("RetainUntilDate is not an ISO 8601 date"))?;
            Ok(Some((mode.to_owned(), until_ms)))
        }
        _ => Err(malformed("Retention needs both Mode and RetainUntilDate")),
    }
}

/// `LegalHold` (GetObjectLegalHold).
pub fn legal_hold(out: &mut Vec<u8>, on: bool) {
    let mut w = XmlWriter::document(out);
    w.open_root("LegalHold");
    w.text("Status", if on { "ON" } else { "OFF" });
    w.close("LegalHold");
}

/// PutObjectLegalHold's body: whether the hold is ON.
pub fn parse_legal_hold(body: &[u8]) -> Result<bool, S3Error> {
    let root = parse_tree(body)?;
    root_expect(&root, "LegalHold")?;
    match child_text_once(&root, "Status")?.map(str::trim) {
        Some("ON") => Ok(true),
        Some("OFF") => Ok(false),
        _ => Err(malformed("Status must be ON or OFF")),
    }
}

/// A RestoreObject body, if any, must at least be a `RestoreRequest`.
pub fn parse_restore_request(body: &[u8]) -> Result<(), S3Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    root_expect(&parse_tree(body)?, "RestoreRequest")
}

/// Writes the low `slot.len()` decimal digits of `value` into `slot`.
fn put_digits(slot: &mut [u8], mut value: u32) {
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Gregorian (year, month, day) of a day count since 1970-01-01. Works in
/// 400-year eras counted from 0000-03-01, so leap days fall at era ends.
pub fn civil_from_days(days: u32) -> (u32, u32, u32) {
    const DAYS_FROM_YEAR_0_MARCH_TO_EPOCH: u32 = 719_468;
    const DAYS_PER_ERA: u32 = 146_097;
    let z = days + DAYS_FROM_YEAR_0_MARCH_TO_EPOCH;
    let era = z / DAYS_PER_ERA;
    let day_of_era = z % DAYS_PER_ERA;
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
    let year = year_of_era + era * 400 + u32::from(month <= 2);
    (year, month, day)
}

/// The owner shown in bucket lists and, on request, object lists.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    pub id: &'a str,
    pub display_name: &'a str,
}

/// One bucket in `ListAllMyBucketsResult`.
#[derive(Debug, Clone, Copy)]
pub struct BucketEntry<'a> {
    pub name: &'a str,
    pub creation_date_ms: u64,
}

/// `ListAllMyBucketsResult` (ListBuckets).
pub fn list_buckets(out: &mut Vec<u8>, owner: &Owner<'_>, buckets: &[BucketEntry<'_>]) {
    out.reserve(256 + buckets.len() * 128);
    let mut w = XmlWriter::document(out);
    w.open_root("ListAllMyBucketsResult");
    w.owner(owner);
    w.open("Buckets");
    for bucket in buckets {
        w.open("Bucket");
        w.text("Name", bucket.name);
        w.timestamp("CreationDate", bucket.creation_date_ms);
        w.close("Bucket");
    }
    w.close("Buckets");
    w.close("ListAllMyBucketsResult");
}

/// `LocationConstraint` (GetBucketLocation): empty for us-east-1, as AWS
/// answers for its oldest region, else the region name.
pub fn location_constraint(out: &mut Vec<u8>, region: &str) {
    let mut w = XmlWriter::document(out);
    if region.is_empty() || region == REGION_DEFAULT {
        return w.empty_root("LocationConstraint");
    }
    w.open_root("LocationConstraint");
    escape_into(w.out, region);
    w.close("LocationConstraint");
}

/// One object in a listing.
#[derive(Debug, Clone, Copy)]
pub struct ListEntry<'a> {
    pub key: &'a str,
    pub last_modified_ms: u64,
    /// Hex MD5 (or `<hex>-<parts>`), with or without the surrounding quotes.
    pub etag: &'a str,
    pub size_bytes: u64,
    /// `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1` or `SHA256` when the object was
    /// stored with a checksum.
    pub checksum_algorithm: Option<&'a str>,
}

/// The parameters that differ between ListObjects (V1) and ListObjectsV2.
#[derive(Debug, Clone, Copy)]
pub enum ListVersion<'a> {
    V1 {
        /// The request's `marker`, echoed (empty when absent).
        marker: &'a str,
        /// Rendered only when truncated and a delimiter was given, as AWS
        /// does; without a delimiter clients continue from the last key.
        next_marker: Option<&'a str>,
    },
    V2 {
        continuation_token: Option<&'a str>,
        next_continuation_token: Option<&'a str>,
        start_after: Option<&'a str>,
    },
}

/// Everything a `ListBucketResult` shows, borrowed from the caller.
#[derive(Debug, Clone, Copy)]
pub struct ListObjects<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    /// An empty delimiter is not rendered: AWS treats it as absent.
    pub delimiter: Option<&'a str>,
    pub max_keys: u32,
    pub is_truncated: bool,
    /// `encoding-type=url`: URL-encode Key, Prefix, Delimiter, StartAfter,
    /// Marker, NextMarker and each CommonPrefixes Prefix.
    pub url_encode: bool,
    /// Shown on every entry when set: always for V1, on `fetch-owner` for V2.
    pub owner: Option<Owner<'a>>,
    pub contents: &'a [ListEntry<'a>],
    pub common_prefixes: &'a [&'a str],
    pub version: ListVersion<'a>,
}

/// `ListBucketResult` for ListObjects (V1) or ListObjectsV2.
pub fn list_objects(out: &mut Vec<u8>, list: &ListObjects<'_>) {
    let entries = list.contents.len() + list.common_prefixes.len();
    out.reserve(512 + entries * LIST_ENTRY_BYTES_ESTIMATE);
    let mut w = XmlWriter::document(out);
    let url = list.url_encode;
    let delimiter = list.delimiter.filter(|d| !d.is_empty());
    w.open_root("ListBucketResult");
    w.text("Name", list.bucket);
    w.key_text("Prefix", list.prefix, url);
    list_objects_paging(&mut w, list, delimiter.is_some());
    w.number("MaxKeys", u64::from(list.max_keys));
    if let Some(delimiter) = delimiter {
        w.key_text("Delimiter", delimiter, url);
    }
    if url {
        w.text("EncodingType", "url");
    }
    w.boolean("IsTruncated", list.is_truncated);
    list_objects_contents(&mut w, list);
    w.close("ListBucketResult");
}

/// The elements V1 and V2 do not share: markers, or tokens and a key count.
fn list_objects_paging(w: &mut XmlWriter<'_>, list: &ListObjects<'_>, has_delimiter: bool) {
    let url = list.url_encode;
    match list.version {
        ListVersion::V1 {
            marker,
            next_marker,
        } => {
            w.key_text("Marker", marker, url);
            if let Some(next) = next_marker.filter(|_| list.is_truncated && has_delimiter) {
                w.key_text("NextMarker", next, url);
            }
        }
        ListVersion::V2 {
            continuation_token,
            next_continuation_token,
            start_after,
        } => {
            if let Some(start_after) = start_after {
                w.key_text("StartAfter", start_after, url);
            }
            w.text_opt("ContinuationToken", continuation_token);
            w.text_opt("NextContinuationToken", next_continuation_token);
            let key_count = list.contents.len() + list.common_prefixes.len();
            w.number("KeyCount", key_count as u64);
        }
    }
}

fn list_objects_contents(w: &mut XmlWriter<'_>, list: &ListObjects<'_>) {
    for entry in list.contents {
        w.open("Contents");
        w.key_text("Key", entry.key, list.url_encode);
        w.timestamp("LastModified", entry.last_modified_ms);
        w.etag("ETag", entry.etag);
        w.text_opt("ChecksumAlgorithm", entry.checksum_algorithm);
        w.number("Size", entry.size_bytes);
        if let Some(owner) = &list.owner {
            w.owner(owner);
        }
        w.text("StorageClass", STORAGE_CLASS);
        w.close("Contents");
    }
    for prefix in list.common_prefixes {
        w.open("CommonPrefixes");
        w.key_text("Prefix", prefix, list.url_encode);
        w.close("CommonPrefixes");
    }
}

/// `VersioningConfiguration` (GetBucketVersioning): empty for a bucket that
/// never had versioning, as AWS answers.
pub fn versioning_configuration(out: &mut Vec<u8>, status: Option<&str>) {
    let mut w = XmlWriter::document(out);
    let Some(status) = status else {
        return w.empty_root("VersioningConfiguration");
    };
    w.open_root("VersioningConfiguration");
    w.text("Status", status);
    w.close("VersioningConfiguration");
}

/// PutBucketVersioning's body: the requested `Status` (`Enabled` or
/// `Suspended`) and whether `MfaDelete` asks to be enabled.
pub fn parse_versioning_configuration(body: &[u8]) -> Result<(String, bool), S3Error> {
    let root = parse_tree(body)?;
    root_expect(&root, "VersioningConfiguration")?;
    let status = child_text_once(&root, "Status")?
        .map(str::trim)
        .unwrap_or("");
    if status != "Enabled" && status != "Suspended" {
        return Err(malformed("Status must be Enabled or Suspended"));
    }
    let mfa_delete = match child_text_once(&root, "MfaDelete")?.map(str::trim) {
        None | Some("Disabled") => false,
        Some("Enabled") => true,
        Some(_) => return Err(malformed("MfaDelete must be Enabled or Disabled")),
    };
    Ok((status.to_owned(), mfa_delete))
}

/// One entry of a ListObjectVersions page.
#[derive(Debug, Clone, Copy)]
pub enum VersionEntry<'a> {
    Version {
        key: &'a str,
        version_id: &'a str,
        is_latest: bool,
        last_modified_ms: u64,
        etag: &'a str,
        size_bytes: u64,
        checksum_algorithm: Option<&'a str>,
    },
    DeleteMarker {
        key: &'a str,
        version_id: &'a str,
        is_latest: bool,
        last_modified_ms: u64,
    },
}

/// Everything a `ListVersionsResult` shows.
#[derive(Debug, Clone, Copy)]
pub struct ListVersions<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub key_marker: &'a str,
    pub version_id_marker: &'a str,
    pub next_key_marker: Option<&'a str>,
    pub next_version_id_marker: Option<&'a str>,
    pub delimiter: Option<&'a str>,
    pub max_keys: u32,
    pub is_truncated: bool,
    pub url_encode: bool,
    pub owner: Owner<'a>,
    pub entries: &'a [VersionEntry<'a>],
    pub common_prefixes: &'a [&'a str],
}

/// `ListVersionsResult` (ListObjectVersions).
pub fn list_versions(out: &mut Vec<u8>, list: &ListVersions<'_>) {
    out.reserve(
        512 + (list.entries.len() + list.common_prefixes.len()) * LIST_ENTRY_BYTES_ESTIMATE,
    );
    let mut w = XmlWriter::document(out);
    let url = list.url_encode;
    w.open_root("ListVersionsResult");
    w.text("Name", list.bucket);
    w.key_text("Prefix", list.prefix, url);
    w.key_text("KeyMarker", list.key_marker, url);
    w.text("VersionIdMarker", list.version_id_marker);
    if list.is_truncated {
        if let Some(next) = list.next_key_marker {
            w.key_text("NextKeyMarker", next, url);
        }
        w.text_opt("NextVersionIdMarker", list.next_version_id_marker);
    }
    w.number("MaxKeys", u64::from(list.max_keys));
    if let Some(delimiter) = list.delimiter.filter(|d| !d.is_empty()) {
        w.key_text("Delimiter", delimiter, url);
    }
    if url {
        w.text("EncodingType", "url");
    }
    w.boolean("IsTruncated", list.is_truncated);
    for entry in list.entries {
        match *entry {
            VersionEntry::Version {
                key,
                version_id,
                is_latest,
                last_modified_ms,
                etag,
                size_bytes,
                checksum_algorithm,
            } => {
                w.open("Version");
                w.key_text("Key", key, url);
                w.text("VersionId", version_id);
                w.boolean("IsLatest", is_latest);
                w.timestamp("LastModified", last_modified_ms);
                w.etag("ETag", etag);
                w.text_opt("ChecksumAlgorithm", checksum_algorithm);
                w.number("Size", size_bytes);
                w.text("StorageClass", STORAGE_CLASS);
                w.owner(&list.owner);
                w.close("Version");
            }
            VersionEntry::DeleteMarker {
                key,
                version_id,
                is_latest,
                last_modified_ms,
            } => {
                w.open("DeleteMarker");
                w.key_text("Key", key, url);
                w.text("VersionId", version_id);
                w.boolean("IsLatest", is_latest);
                w.timestamp("LastModified", last_modified_ms);
                w.owner(&list.owner);
                w.close("DeleteMarker");
            }
        }
    }
    for prefix in list.common_prefixes {
        w.open("CommonPrefixes");
        w.key_text("Prefix", prefix, url);
        w.close("CommonPrefixes");
    }
    w.close("ListVersionsResult");
}

/// The outcome for one key of a DeleteObjects request, in request order.
#[derive(Debug, Clone, Copy)]
pub enum DeleteOutcome<'a> {
    Deleted {
        key: &'a str,
        version_id: Option<&'a str>,
        /// Set when the delete created a delete marker or removed one.
        delete_marker_version_id: Option<&'a str>,
    },
    Error {
        key: &'a str,
        version_id: Option<&'a str>,
        code: S3ErrorCode,
        message: &'a str,
    },
}

/// `DeleteResult` (DeleteObjects). In quiet mode AWS lists only errors.
pub fn delete_result(out: &mut Vec<u8>, quiet: bool, outcomes: &[DeleteOutcome<'_>]) {
    out.reserve(128 + outcomes.len() * 96);
    let mut w = XmlWriter::document(out);
    w.open_root("DeleteResult");
    for outcome in outcomes {
        let is_deleted = matches!(outcome, DeleteOutcome::Deleted { .. });
        if !(quiet && is_deleted) {
            delete_result_outcome(&mut w, outcome);
        }
    }
    w.close("DeleteResult");
}

fn delete_result_outcome(w: &mut XmlWriter<'_>, outcome: &DeleteOutcome<'_>) {
    match *outcome {
        DeleteOutcome::Deleted {
            key,
            version_id,
            delete_marker_version_id,
        } => {
            w.open("Deleted");
            w.text("Key", key);
            w.text_opt("VersionId", version_id);
            if delete_marker_version_id.is_some() {
                w.boolean("DeleteMarker", true);
                w.text_opt("DeleteMarkerVersionId", delete_marker_version_id);
            }
            w.close("Deleted");
        }
        DeleteOutcome::Error {
            key,
            version_id,
            code,
            message,
        } => {
            w.open("Error");
            w.text("Key", key);
            w.text_opt("VersionId", version_id);
            w.text("Code", code.as_str());
            w.text("Message", message);
            w.close("Error");
        }
    }
}

/// `Error`: the body of every failed request. AWS puts no namespace on it.
pub fn error(out: &mut Vec<u8>, err: &S3Error, request_id: &str, host_id: Option<&str>) {
    let mut w = XmlWriter::document(out);
    w.open("Error");
    w.text("Code", err.code.as_str());
    w.text("Message", &err.message);
    w.text_opt("Resource", err.resource.as_deref());
    for (element, value) in &err.details {
        w.text(element, value);
    }
    w.text("RequestId", request_id);
    w.text_opt("HostId", host_id);
    w.close("Error");
}

/// `CopyObjectResult` (CopyObject).
///
/// `checksum`: the new object's checksum (algorithm, value, type), as AWS
/// adds it when the object has one.
pub fn copy_object_result(
    out: &mut Vec<u8>,
    etag: &str,
    last_modified_ms: u64,
    checksum: Option<(ChecksumAlgorithm, &str, &str)>,
) {
    let checksum = checksum.map(|(algorithm, value, kind)| (algorithm, value, Some(kind)));
    copy_result(out, "CopyObjectResult", etag, last_modified_ms, checksum);
}

/// `CopyPartResult` (UploadPartCopy): same fields, another root; the part's
/// checksum when its upload has an algorithm (no type: parts have none).
pub fn copy_part_result(
    out: &mut Vec<u8>,
    etag: &str,
    last_modified_ms: u64,
    checksum: Option<(ChecksumAlgorithm, &str)>,
) {
    let checksum = checksum.map(|(algorithm, value)| (algorithm, value, None));
    copy_result(out, "CopyPartResult", etag, last_modified_ms, checksum);
}

fn copy_result(
    out: &mut Vec<u8>,
    root: &str,
    etag: &str,
    last_modified_ms: u64,
    checksum: Option<(ChecksumAlgorithm, &str, Option<&str>)>,
) {
    let mut w = XmlWriter::document(out);
    w.open_root(root);
    w.etag("ETag", etag);
    w.timestamp("LastModified", last_modified_ms);
    if let Some((algorithm, value, kind)) = checksum {
        w.text_opt("ChecksumType", kind);
        w.text(&format!("Checksum{}", algorithm.sdk_name()), value);
    }
    w.close(root);
}

/// `InitiateMultipartUploadResult` (CreateMultipartUpload).
pub fn initiate_multipart_upload_result(
    out: &mut Vec<u8>,
    bucket: &str,
    key: &str,
    upload_id: &str,
) {
    let mut w = XmlWriter::document(out);
    w.open_root("InitiateMultipartUploadResult");
    w.text("Bucket", bucket);
    w.text("Key", key);
    w.text("UploadId", upload_id);
    w.close("InitiateMultipartUploadResult");
}

/// `CompleteMultipartUploadResult` (CompleteMultipartUpload).
pub fn complete_multipart_upload_result(
    out: &mut Vec<u8>,
    location: &str,
    bucket: &str,
    key: &str,
    etag: &str,
) {
    let mut w = XmlWriter::document(out);
    w.open_root("CompleteMultipartUploadResult");
    w.text("Location", location);
    w.text("Bucket", bucket);
    w.text("Key", key);
    w.etag("ETag", etag);
    w.close("CompleteMultipartUploadResult");
}

/// A parsed DeleteObjects body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRequest {
    pub quiet: bool,
    /// 1..=1000 entries, in request order.
    pub objects: Vec<DeleteRequestObject>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRequestObject {
    pub key: ObjectKey,
    pub version_id: Option<VersionId>,
    /// Conditional delete of this key: its `ETag`, `Size` and
    /// `LastModifiedTime` must match the current object (or the named version).
    pub etag: Option<String>,
    pub size: Option<String>,
    pub last_modified: Option<String>,
}

/// Parses `<Delete><Quiet/>?<Object><Key/><VersionId/>?</Object>+</Delete>`.
///
/// Any namespace or none is accepted. An invalid key or version id fails the
/// whole request with that name's error, since no such object can exist.
pub fn parse_delete(body: &[u8]) -> Result<DeleteRequest, S3Error> {
    let root = parse_tree(body)?;
    root_expect(&root, "Delete")?;
    let mut request = DeleteRequest {
        quiet: false,
        objects: Vec::new(),
    };
    for child in &root.children {
        match child.name.as_str() {
            "Quiet" => request.quiet = parse_bool(&child.text)?,
            "Object" => request.objects.push(parse_delete_object(child)?),
            _ => {}
        }
    }
    let count = request.objects.len();
    if count == 0 || count > DELETE_OBJECTS_COUNT_MAX {
        return Err(malformed(&format!(
            "Delete needs 1 to 1000 objects, not {count}"
        )));
    }
    Ok(request)
}

fn parse_delete_object(object: &Node) -> Result<DeleteRequestObject, S3Error> {
    let key = child_text_once(object, "Key")?.ok_or_else(|| malformed("Object needs a Key"))?;
    let version_id = child_text_once(object, "VersionId")?
        .map(VersionId::parse)
        .transpose()?;
    let etag = child_text_once(object, "ETag")?.map(|etag| etag.trim().to_owned());
    let size = child_text_once(object, "Size")?.map(str::to_owned);
    let last_modified = child_text_once(object, "LastModifiedTime")?.map(str::to_owned);
    Ok(DeleteRequestObject {
        key: ObjectKey::parse(key)?,
        version_id,
        etag,
        size,
        last_modified,
    })
}

/// Parses a CreateBucket body: the requested region, or `None` when the body
/// is empty or names no region (both mean us-east-1).
pub fn parse_create_bucket_configuration(body: &[u8]) -> Result<Option<String>, S3Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let root = parse_tree(body)?;
    root_expect(&root, "CreateBucketConfiguration")?;
    let region = child_text_once(&root, "LocationConstraint")?.map(str::trim);
    Ok(region.filter(|r| !r.is_empty()).map(str::to_owned))
}

/// Parses `<Tagging><TagSet><Tag><Key/><Value/></Tag>*</TagSet></Tagging>`
/// into (key, value) pairs in document order; the caller applies AWS's rules.
pub fn parse_tagging(body: &[u8]) -> Result<Vec<(String, String)>, S3Error> {
    let root = parse_tree(body)?;
    root_expect(&root, "Tagging")?;
    let tag_sets: Vec<&Node> = root
        .children
        .iter()
        .filter(|c| c.name == "TagSet")
        .collect();
    let [tag_set] = tag_sets.as_slice() else {
        return Err(malformed("Tagging needs exactly one TagSet"));
    };
    let mut tags = Vec::new();
    for tag in tag_set.children.iter().filter(|c| c.name == "Tag") {
        let key = child_text_once(tag, "Key")?.ok_or_else(|| malformed("Tag needs a Key"))?;
        let value = child_text_once(tag, "Value")?.unwrap_or_default();
        tags.push((key.to_owned(), value.to_owned()));
    }
    Ok(tags)
}

/// GetBucketEncryption's document: the one rule new objects follow.
pub fn server_side_encryption_configuration(
    out: &mut Vec<u8>,
    sse_algorithm: &str,
    kms_master_key_id: Option<&str>,
    bucket_key_enabled: bool,
) {
    let mut w = XmlWriter::document(out);
    w.open_root("ServerSideEncryptionConfiguration");
    w.open("Rule");
    w.open("ApplyServerSideEncryptionByDefault");
    w.text("SSEAlgorithm", sse_algorithm);
    if let Some(key_id) = kms_master_key_id {
        w.text("KMSMasterKeyID", key_id);
    }
    w.close("ApplyServerSideEncryptionByDefault");
    w.boolean("BucketKeyEnabled", bucket_key_enabled);
    w.close("Rule");
    w.close("ServerSideEncryptionConfiguration");
}

/// The `SSEAlgorithm` values AWS's schema allows. Any other value does not
/// validate against it, which AWS answers with `MalformedXML`.
const SSE_ALGORITHMS: &[&str] = &["AES256", "aws:kms", "aws:kms:dsse"];

/// The one `<Rule>` of a PutBucketEncryption body, as sent and checked against
/// the schema; what this server supports is the caller's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionRule {
    /// One of [`SSE_ALGORITHMS`].
    pub sse_algorithm: String,
    /// `None` when absent or empty.
    pub kms_master_key_id: Option<String>,
    /// `false` when absent.
    pub bucket_key_enabled: bool,
    /// The `EncryptionType` values of `BlockedEncryptionTypes`, if any.
    pub blocked_encryption_types: Vec<String>,
}

/// Parses `<ServerSideEncryptionConfiguration><Rule>
/// <ApplyServerSideEncryptionByDefault><SSEAlgorithm/><KMSMasterKeyID/>?
/// </ApplyServerSideEncryptionByDefault><BucketKeyEnabled/>?</Rule>
/// </ServerSideEncryptionConfiguration>`, with any namespace or none. AWS
/// takes exactly one rule, and a rule without a default algorithm configures
/// nothing, so both are required.
pub fn parse_server_side_encryption_configuration(body: &[u8]) -> Result<EncryptionRule, S3Error> {
    let root = parse_tree(body)?;
    root_expect(&root, "ServerSideEncryptionConfiguration")?;
    let rules: Vec<&Node> = root.children.iter().filter(|c| c.name == "Rule").collect();
    let [rule] = rules.as_slice() else {
        return Err(malformed(
            "ServerSideEncryptionConfiguration needs exactly one Rule",
        ));
    };
    let by_default = child_once(rule, "ApplyServerSideEncryptionByDefault")?
        .ok_or_else(|| malformed("Rule needs ApplyServerSideEncryptionByDefault"))?;
    let sse_algorithm = child_text_once(by_default, "SSEAlgorithm")?
        .map(str::trim)
        .ok_or_else(|| malformed("ApplyServerSideEncryptionByDefault needs an SSEAlgorithm"))?;
    if !SSE_ALGORITHMS.contains(&sse_algorithm) {
        return Err(malformed(&format!(
            "{sse_algorithm:?} is not an SSEAlgorithm (AES256, aws:kms or aws:kms:dsse)"
        )));
    }
    let kms_master_key_id = child_text_once(by_default, "KMSMasterKeyID")?
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    let bucket_key_enabled = child_text_once(rule, "BucketKeyEnabled")?
        .map(parse_bool)
        .transpose()?
        .unwrap_or(false);
    let blocked = child_once(rule, "BlockedEncryptionTypes")?.map(|blocked| {
        let types = blocked.children.iter();
        let types = types.filter(|c| c.name == "EncryptionType");
        types.map(|c| c.text.trim().to_owned()).collect()
    });
    Ok(EncryptionRule {
        sse_algorithm: sse_algorithm.to_owned(),
        kms_master_key_id,
        bucket_key_enabled,
        blocked_encryption_types: blocked.unwrap_or_default(),
    })
}

/// One `<Part>` of a CompleteMultipartUpload body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompletedPart {
    /// In `1..=PART_NUMBER_MAX`; order and uniqueness are checked by the caller.
    pub part_number: u16,
    /// As sent, usually in quotes.
    pub etag: String,
    pub checksum_crc32: Option<String>,
    pub checksum_crc32c: Option<String>,
    pub checksum_crc64nvme: Option<String>,
    pub checksum_sha1: Option<String>,
    pub checksum_sha256: Option<String>,
}

/// Parses `<CompleteMultipartUpload><Part>...</Part>+</CompleteMultipartUpload>`.
pub fn parse_complete_multipart_upload(body: &[u8]) -> Result<Vec<CompletedPart>, S3Error> {
    let root = parse_tree(body)?;
    root_expect(&root, "CompleteMultipartUpload")?;
    let parts = root.children.iter().filter(|c| c.name == "Part");
    let parts: Vec<CompletedPart> = parts.map(parse_completed_part).collect::<Result<_, _>>()?;
    if parts.is_empty() || parts.len() > usize::from(PART_NUMBER_MAX) {
        return Err(malformed("CompleteMultipartUpload needs 1 to 10000 parts"));
    }
    Ok(parts)
}

fn parse_completed_part(part: &Node) -> Result<CompletedPart, S3Error> {
    let number = child_text_once(part, "PartNumber")?.ok_or_else(|| malformed("no PartNumber"))?;
    let number: u32 = number
        .trim()
        .parse()
        .map_err(|_| malformed("PartNumber not a number"))?;
    if number == 0 || number > u32::from(PART_NUMBER_MAX) {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive.",
        ));
    }
    let etag = child_text_once(part, "ETag")?.ok_or_else(|| malformed("Part needs an ETag"))?;
    let checksum = |name| child_text_once(part, name).map(|t| t.map(|t| t.trim().to_owned()));
    Ok(CompletedPart {
        part_number: number as u16,
        etag: etag.trim().to_owned(),
        checksum_crc32: checksum("ChecksumCRC32")?,
        checksum_crc32c: checksum("ChecksumCRC32C")?,
        checksum_crc64nvme: checksum("ChecksumCRC64NVME")?,
        checksum_sha1: checksum("ChecksumSHA1")?,
        checksum_sha256: checksum("ChecksumSHA256")?,
    })
}

/// A parsed element: local name (namespace prefix dropped), its own text
/// (unescaped, concatenated) and child elements. Request bodies are small and
/// bounded, so a tree keeps the extraction code plain.
#[derive(Debug, Default)]
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) text: String,
    pub(crate) children: Vec<Node>,
}

pub(crate) fn parse_tree(body: &[u8]) -> Result<Node, S3Error> {
    let text = std::str::from_utf8(body).map_err(|_| malformed("body is not UTF-8"))?;
    let mut reader = Reader::from_str(text);
    let mut tree = TreeBuilder::default();
    loop {
        match reader.read_event().map_err(|e| malformed(&e.to_string()))? {
            Event::Start(start) => tree.open(&start, false)?,
            Event::Empty(start) => tree.open(&start, true)?,
            Event::End(_) => tree.close()?,
            Event::Text(text) => tree.text(&text_unescape(&text)?)?,
            Event::CData(data) => {
                let data = std::str::from_utf8(&data).map_err(|_| malformed("CDATA not UTF-8"))?;
                tree.text(&normalize_newlines(data))?;
            }
            Event::DocType(_) => return Err(malformed("DTDs are not accepted")),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => return tree.finish(),
        }
    }
}

/// Builds the tree from reader events and enforces the size limits.
#[derive(Default)]
struct TreeBuilder {
    open: Vec<Node>,
    root: Option<Node>,
    element_count: usize,
}

impl TreeBuilder {
    fn open(&mut self, start: &BytesStart<'_>, is_empty: bool) -> Result<(), S3Error> {
        self.element_count += 1;
        if self.root.is_some() {
            return Err(malformed("more than one root element"));
        }
        if self.element_count > XML_ELEMENT_COUNT_MAX || self.open.len() >= XML_DEPTH_MAX {
            return Err(malformed("the document is too large or too deep"));
        }
        let name = std::str::from_utf8(start.local_name().into_inner())
            .map_err(|_| malformed("element name is not UTF-8"))?;
        let node = Node {
            name: name.to_owned(),
            ..Node::default()
        };
        if is_empty {
            self.attach(node);
        } else {
            self.open.push(node);
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), S3Error> {
        let node = self
            .open
            .pop()
            .ok_or_else(|| malformed("unexpected end tag"))?;
        self.attach(node);
        Ok(())
    }

    fn attach(&mut self, node: Node) {
        match self.open.last_mut() {
            Some(parent) => parent.children.push(node),
            None => self.root = Some(node),
        }
    }

    fn text(&mut self, text: &str) -> Result<(), S3Error> {
        match self.open.last_mut() {
            Some(node) => node.text.push_str(text),
            // Only whitespace may sit outside the root element.
            None if text.trim().is_empty() => {}
            None => return Err(malformed("text outside the root element")),
        }
        Ok(())
    }

    fn finish(self) -> Result<Node, S3Error> {
        match (self.root, self.open.is_empty()) {
            (Some(root), true) => Ok(root),
            _ => Err(malformed("the document is incomplete")),
        }
    }
}

fn text_unescape(text: &BytesText<'_>) -> Result<String, S3Error> {
    let raw = std::str::from_utf8(text).map_err(|_| malformed("text is not UTF-8"))?;
    // Line endings are normalised before references are resolved, as XML
    // requires, so an escaped `&#xD;` survives while a raw CR LF does not.
    let raw = normalize_newlines(raw);
    let unescaped = quick_xml::escape::unescape(&raw).map_err(|e| malformed(&e.to_string()))?;
    Ok(unescaped.into_owned())
}

fn normalize_newlines(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.contains('\r') {
        raw.replace("\r\n", "\n").replace('\r', "\n").into()
    } else {
        raw.into()
    }
}

pub(crate) fn root_expect(root: &Node, name: &str) -> Result<(), S3Error> {
    if root.name != name {
        return Err(malformed(&format!(
            "expected root element {name}, found {}",
            root.name
        )));
    }
    Ok(())
}

/// The only child called `name`; a repeated child is malformed.
pub(crate) fn child_once<'n>(node: &'n Node, name: &str) -> Result<Option<&'n Node>, S3Error> {
    let mut found = node.children.iter().filter(|c| c.name == name);
    let first = found.next();
    if found.next().is_some() {
        return Err(malformed(&format!("{name} appears more than once")));
    }
    Ok(first)
}

/// The text of the only child called `name`; a repeated child is malformed.
pub(crate) fn child_text_once<'n>(node: &'n Node, name: &str) -> Result<Option<&'n str>, S3Error> {
    Ok(child_once(node, name)?.map(|c| c.text.as_str()))
}

/// `xs:boolean`, the type AWS's schema gives `Quiet`.
fn parse_bool(text: &str) -> Result<bool, S3Error> {
    match text.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(malformed(&format!("{other:?} is not a boolean"))),
    }
}

pub(crate) fn malformed(detail: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedXML,
        format!(
            "The XML you provided was not well-formed or did not validate against our \
             published schema: {detail}."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn escaped(text: &str) -> String {
        render(|out| escape_into(out, text))
    }

    const PROLOG_STR: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escaped("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
        assert_eq!(escaped("plain/key.txt"), "plain/key.txt");
        assert_eq!(escaped(""), "");
    }

    #[test]
    fn escapes_characters_xml_cannot_carry() {
        assert_eq!(escaped("a\u{1}b\u{1f}c"), "a&#x1;b&#x1f;c");
        assert_eq!(escaped("cr\rlf\ntab\t"), "cr&#xd;lf\ntab\t");
        assert_eq!(escaped("x\u{FFFE}y\u{FFFF}"), "x&#xfffe;y&#xffff;");
        // Other characters with the 0xEF lead byte pass through untouched.
        assert_eq!(
            escaped("\u{FFFD}\u{F000}\u{FEFF}"),
            "\u{FFFD}\u{F000}\u{FEFF}"
        );
        assert_eq!(escaped("日本語 ключ €"), "日本語 ключ €");
    }

    #[test]
    fn timestamps_have_milliseconds() {
        let cases = [
            (1_570_902_630_000, "2019-10-12T17:50:30.000Z"),
            (0, "1970-01-01T00:00:00.000Z"),
            (951_868_799_999, "2000-02-29T23:59:59.999Z"),
            (4_107_542_400_000, "2100-03-01T00:00:00.000Z"),
            (1_570_902_630_007, "2019-10-12T17:50:30.007Z"),
            (TIMESTAMP_MS_MAX, "9999-12-31T23:59:59.999Z"),
            (u64::MAX, "9999-12-31T23:59:59.999Z"),
        ];
        for (ms, expected) in cases {
            assert_eq!(render(|out| push_timestamp(out, ms)), expected);
        }
    }

    #[test]
    fn numbers_and_hex() {
        assert_eq!(render(|out| push_u64(out, 0)), "0");
        assert_eq!(render(|out| push_u64(out, u64::MAX)), u64::MAX.to_string());
        assert_eq!(render(|out| push_hex(out, 0)), "0");
        assert_eq!(render(|out| push_hex(out, 0x10FFFF)), "10ffff");
    }

    #[test]
    fn list_buckets_document() {
        let owner = Owner {
            id: "bcaf1ffd86f41161ca5fb16fd081034f",
            display_name: "webfile",
        };
        let buckets = [
            BucketEntry {
                name: "examplebucket",
                creation_date_ms: 1_570_902_630_000,
            },
            BucketEntry {
                name: "photos",
                creation_date_ms: 1_255_369_830_000,
            },
        ];
        let xml = render(|out| list_buckets(out, &owner, &buckets));
        let expected = format!(
            "{PROLOG_STR}<ListAllMyBucketsResult xmlns=\"{S3_XMLNS}\"><Owner>\
             <ID>bcaf1ffd86f41161ca5fb16fd081034f</ID><DisplayName>webfile</DisplayName></Owner>\
             <Buckets><Bucket><Name>examplebucket</Name>\
             <CreationDate>2019-10-12T17:50:30.000Z</CreationDate></Bucket>\
             <Bucket><Name>photos</Name><CreationDate>2009-10-12T17:50:30.000Z</CreationDate>\
             </Bucket></Buckets></ListAllMyBucketsResult>"
        );
        assert_eq!(xml, expected);
    }

    #[test]
    fn location_constraint_documents() {
        let us = render(|out| location_constraint(out, "us-east-1"));
        assert_eq!(
            us,
            format!("{PROLOG_STR}<LocationConstraint xmlns=\"{S3_XMLNS}\"/>")
        );
        let eu = render(|out| location_constraint(out, "eu-west-1"));
        let expected = format!(
            "{PROLOG_STR}<LocationConstraint xmlns=\"{S3_XMLNS}\">eu-west-1</LocationConstraint>"
        );
        assert_eq!(eu, expected);
    }

    const ENTRY: ListEntry<'static> = ListEntry {
        key: "my-image.jpg",
        last_modified_ms: 1_570_902_630_000,
        etag: "fba9dede5f27731c9771645a39863328",
        size_bytes: 434_234,
        checksum_algorithm: None,
    };

    fn v2<'a>(contents: &'a [ListEntry<'a>], prefixes: &'a [&'a str]) -> ListObjects<'a> {
        ListObjects {
            bucket: "bucket",
            prefix: "",
            delimiter: None,
            max_keys: 1000,
            is_truncated: false,
            url_encode: false,
            owner: None,
            contents,
            common_prefixes: prefixes,
            version: ListVersion::V2 {
                continuation_token: None,
                next_continuation_token: None,
                start_after: None,
            },
        }
    }

    /// The ListObjectsV2 sample response from the AWS API reference.
    #[test]
    fn list_objects_v2_aws_sample() {
        let xml = render(|out| list_objects(out, &v2(&[ENTRY], &[])));
        let expected = format!(
            "{PROLOG_STR}<ListBucketResult xmlns=\"{S3_XMLNS}\"><Name>bucket</Name>\
             <Prefix></Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>\
             <IsTruncated>false</IsTruncated><Contents><Key>my-image.jpg</Key>\
             <LastModified>2019-10-12T17:50:30.000Z</LastModified>\
             <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>\
             <StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>"
        );
        assert_eq!(xml, expected);
    }

    #[test]
    fn list_objects_v2_with_delimiter_tokens_and_owner() {
        let entry = ListEntry {
            checksum_algorithm: Some("CRC32"),
            etag: "\"abc-2\"",
            ..ENTRY
        };
        let contents = [entry];
        let mut list = v2(
            &contents,
            &["photos/2006/February/", "photos/2006/January/"],
        );
        list.prefix = "photos/2006/";
        list.delimiter = Some("/");
        list.is_truncated = true;
        list.owner = Some(Owner {
            id: "id1",
            display_name: "me",
        });
        list.version = ListVersion::V2 {
            continuation_token: Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="),
            next_continuation_token: Some("tok+2"),
            start_after: Some("ExampleGuide.pdf"),
        };
        let xml = render(|out| list_objects(out, &list));
        for part in [
            "<Prefix>photos/2006/</Prefix><StartAfter>ExampleGuide.pdf</StartAfter>",
            "<ContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</ContinuationToken>",
            "<NextContinuationToken>tok+2</NextContinuationToken><KeyCount>3</KeyCount>",
            "<Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>",
            "<ETag>&quot;abc-2&quot;</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm>",
            "<Owner><ID>id1</ID><DisplayName>me</DisplayName></Owner><StorageClass>",
            "<CommonPrefixes><Prefix>photos/2006/February/</Prefix></CommonPrefixes>",
        ] {
            assert!(xml.contains(part), "missing {part} in {xml}");
        }
        assert!(!xml.contains("EncodingType"));
    }

    #[test]
    fn list_objects_v1_marker_rules() {
        let contents = [ENTRY];
        let mut list = v2(&contents, &[]);
        list.version = ListVersion::V1 {
            marker: "Ned",
            next_marker: Some("my-image.jpg"),
        };
        list.is_truncated = true;
        // Without a delimiter AWS sends no NextMarker, even when truncated.
        let xml = render(|out| list_objects(out, &list));
        assert!(
            xml.contains("<Prefix></Prefix><Marker>Ned</Marker><MaxKeys>"),
            "{xml}"
        );
        assert!(
            !xml.contains("NextMarker") && !xml.contains("KeyCount"),
            "{xml}"
        );
        list.delimiter = Some("/");
        let xml = render(|out| list_objects(out, &list));
        assert!(
            xml.contains("<NextMarker>my-image.jpg</NextMarker>"),
            "{xml}"
        );
        list.is_truncated = false;
        let xml = render(|out| list_objects(out, &list));
        assert!(!xml.contains("NextMarker"), "{xml}");
    }

    #[test]
    fn list_objects_empty_delimiter_is_omitted() {
        let mut list = v2(&[], &[]);
        list.delimiter = Some("");
        let xml = render(|out| list_objects(out, &list));
        assert!(!xml.contains("Delimiter"), "{xml}");
        assert!(xml.contains("<KeyCount>0</KeyCount>"), "{xml}");
    }

    /// ceph s3-tests `test_bucket_listv2_encoding_basic`: what AWS returns for
    /// keys `foo+1/bar`, `foo/bar/xyzzy`, `quux ab/thud`, `asdf+b` with `/`.
    #[test]
    fn list_objects_url_encoding_matches_aws() {
        let contents = [ListEntry {
            key: "asdf+b",
            ..ENTRY
        }];
        let mut list = v2(&contents, &["foo+1/", "foo/", "quux ab/"]);
        list.delimiter = Some("/");
        list.url_encode = true;
        list.prefix = "é &";
        list.version = ListVersion::V2 {
            continuation_token: None,
            next_continuation_token: None,
            start_after: Some("a<b"),
        };
        let xml = render(|out| list_objects(out, &list));
        for part in [
            "<Key>asdf%2Bb</Key>",
            "<Prefix>foo%2B1/</Prefix>",
            "<Prefix>foo/</Prefix>",
            "<Prefix>quux%20ab/</Prefix>",
            "<Delimiter>/</Delimiter><EncodingType>url</EncodingType>",
            "<Prefix>%C3%A9%20%26</Prefix>",
            "<StartAfter>a%3Cb</StartAfter>",
        ] {
            assert!(xml.contains(part), "missing {part} in {xml}");
        }
    }

    #[test]
    fn list_objects_url_encodes_v1_markers_and_control_characters() {
        let contents = [ListEntry {
            key: "a\u{1}b~c-d_e.f",
            ..ENTRY
        }];
        let mut list = v2(&contents, &[]);
        list.url_encode = true;
        list.delimiter = Some("\n");
        list.is_truncated = true;
        list.version = ListVersion::V1 {
            marker: "m m",
            next_marker: Some("n\u{1}"),
        };
        let xml = render(|out| list_objects(out, &list));
        for part in [
            "<Key>a%01b~c-d_e.f</Key>",
            "<Marker>m%20m</Marker>",
            "<NextMarker>n%01</NextMarker>",
            "<Delimiter>%0A</Delimiter>",
        ] {
            assert!(xml.contains(part), "missing {part} in {xml}");
        }
    }

    /// Keys that need escaping come back intact through a real XML parser.
    #[test]
    fn listed_keys_round_trip_through_a_parser() {
        let keys = [
            "a&b",
            "<tag>",
            "\"q\" 'a'",
            "ctl\u{1}\u{1f}",
            "cr\r\nlf",
            " spaced ",
            "日本",
        ];
        let contents: Vec<ListEntry> = keys.iter().map(|key| ListEntry { key, ..ENTRY }).collect();
        let xml = render(|out| list_objects(out, &v2(&contents, &[])));
        let root = parse_tree(xml.as_bytes()).unwrap();
        let parsed: Vec<&str> = root
            .children
            .iter()
            .filter(|c| c.name == "Contents")
            .map(|c| child_text_once(c, "Key").unwrap().unwrap())
            .collect();
        assert_eq!(parsed, keys);
    }

    #[test]
    fn list_objects_1000_keys_renders_in_one_reservation() {
        let keys: Vec<String> = (0..1000)
            .map(|i| format!("photos/2006/January/{i:06}.jpg"))
            .collect();
        let contents: Vec<ListEntry> = keys.iter().map(|key| ListEntry { key, ..ENTRY }).collect();
        let mut out = Vec::new();
        let started = std::time::Instant::now();
        list_objects(&mut out, &v2(&contents, &[]));
        let elapsed = started.elapsed();
        let capacity = out.capacity();
        assert_eq!(
            String::from_utf8(out)
                .unwrap()
                .matches("<Contents>")
                .count(),
            1000
        );
        assert!(
            capacity < 512 + 1000 * LIST_ENTRY_BYTES_ESTIMATE * 2,
            "{capacity}"
        );
        // Generous: this takes well under a millisecond; a regression to
        // per-key allocation and formatting machinery would still pass, but
        // something quadratic would not.
        assert!(
            elapsed < std::time::Duration::from_millis(200),
            "{elapsed:?}"
        );
    }

    #[test]
    fn delete_result_aws_sample() {
        let outcomes = [
            DeleteOutcome::Deleted {
                key: "sample1.txt",
                version_id: None,
                delete_marker_version_id: None,
            },
            DeleteOutcome::Error {
                key: "sample2.txt",
                version_id: None,
                code: S3ErrorCode::AccessDenied,
                message: "Access Denied",
            },
        ];
        let xml = render(|out| delete_result(out, false, &outcomes));
        let expected = format!(
            "{PROLOG_STR}<DeleteResult xmlns=\"{S3_XMLNS}\"><Deleted><Key>sample1.txt</Key>\
             </Deleted><Error><Key>sample2.txt</Key><Code>AccessDenied</Code>\
             <Message>Access Denied</Message></Error></DeleteResult>"
        );
        assert_eq!(xml, expected);
        let quiet = render(|out| delete_result(out, true, &outcomes));
        assert!(
            !quiet.contains("<Deleted>") && quiet.contains("<Error>"),
            "{quiet}"
        );
    }

    #[test]
    fn delete_result_versions_and_markers() {
        let outcomes = [DeleteOutcome::Deleted {
            key: "SampleDocument.txt",
            version_id: Some("OYcLXagmS.WaD..oyH4KRguB95_YhLs7"),
            delete_marker_version_id: Some("NeQt5xeFTfgPJD8B4CGWnkSLtluMr11s"),
        }];
        let xml = render(|out| delete_result(out, false, &outcomes));
        let expected = "<Deleted><Key>SampleDocument.txt</Key>\
             <VersionId>OYcLXagmS.WaD..oyH4KRguB95_YhLs7</VersionId>\
             <DeleteMarker>true</DeleteMarker>\
             <DeleteMarkerVersionId>NeQt5xeFTfgPJD8B4CGWnkSLtluMr11s</DeleteMarkerVersionId>\
             </Deleted>";
        assert!(xml.contains(expected), "{xml}");
    }

    #[test]
    fn error_document() {
        let err = S3Error::new(
            S3ErrorCode::NoSuchKey,
            "The resource you requested does not exist",
        )
        .with_resource("/mybucket/myfoto.jpg");
        let xml = render(|out| error(out, &err, "4442587FB7D0A2F9", Some("host<1>")));
        let expected = format!(
            "{PROLOG_STR}<Error><Code>NoSuchKey</Code>\
             <Message>The resource you requested does not exist</Message>\
             <Resource>/mybucket/myfoto.jpg</Resource><RequestId>4442587FB7D0A2F9</RequestId>\
             <HostId>host&lt;1&gt;</HostId></Error>"
        );
        assert_eq!(xml, expected);
        let bare = S3Error::new(S3ErrorCode::InternalError, "x");
        let xml = render(|out| error(out, &bare, "r", None));
        assert!(
            !xml.contains("Resource") && !xml.contains("HostId"),
            "{xml}"
        );
    }

    #[test]
    fn small_results() {
        let copy =
            render(|out| copy_object_result(out, "9b2cf535f27731c974343645a3985328", 0, None));
        let expected = format!(
            "{PROLOG_STR}<CopyObjectResult xmlns=\"{S3_XMLNS}\">\
             <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>\
             <LastModified>1970-01-01T00:00:00.000Z</LastModified></CopyObjectResult>"
        );
        assert_eq!(copy, expected);
        let part = render(|out| copy_part_result(out, "\"e\"", 0, None));
        assert!(part.contains("<CopyPartResult xmlns=") && part.contains("&quot;e&quot;"));
        let init =
            render(|out| initiate_multipart_upload_result(out, "example-bucket", "a&b", "u1"));
        assert!(init.ends_with(
            "<Bucket>example-bucket</Bucket><Key>a&amp;b</Key><UploadId>u1</UploadId>\
             </InitiateMultipartUploadResult>"
        ));
        let done = render(|out| {
            let location = "http://example-bucket.s3.localhost/Example-Object";
            complete_multipart_upload_result(
                out,
                location,
                "example-bucket",
                "Example-Object",
                "3858-9",
            )
        });
        assert!(done.contains("<Key>Example-Object</Key><ETag>&quot;3858-9&quot;</ETag>"));
    }

    fn keys_of(request: &DeleteRequest) -> Vec<&str> {
        request.objects.iter().map(|o| o.key.as_str()).collect()
    }

    /// The DeleteObjects sample request bodies from the AWS API reference.
    #[test]
    fn parse_delete_aws_samples() {
        let body = b"<Delete>\n  <Object>\n    <Key>sample1.txt</Key>\n  </Object>\n  <Object>\n\
                     <Key>sample2.txt</Key>\n  </Object>\n</Delete>";
        let request = parse_delete(body).unwrap();
        assert!(!request.quiet);
        assert_eq!(keys_of(&request), ["sample1.txt", "sample2.txt"]);
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete xmlns=\"{S3_XMLNS}\">\
             <Quiet>true</Quiet><Object><Key>SampleDocument.txt</Key>\
             <VersionId>OYcLXagmS.WaD..oyH4KRguB95_YhLs7</VersionId></Object></Delete>"
        );
        let request = parse_delete(body.as_bytes()).unwrap();
        assert!(request.quiet);
        let version = request.objects[0].version_id.as_ref().unwrap();
        assert_eq!(version.as_str(), "OYcLXagmS.WaD..oyH4KRguB95_YhLs7");
    }

    #[test]
    fn parse_delete_keys_round_trip() {
        let body = "<s3:Delete xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                    <s3:Object><s3:Key>a&amp;b&lt;c&gt;&quot;&apos;</s3:Key></s3:Object>\
                    <s3:Object><s3:Key> 日本/ключ  </s3:Key><s3:ETag>\"e1\"</s3:ETag></s3:Object>\
                    <s3:Object><s3:Key>ctl&#x1;&#xD;x</s3:Key></s3:Object>\
                    <s3:Object><s3:Key><![CDATA[<raw>&]]></s3:Key></s3:Object>\
                    </s3:Delete>";
        let request = parse_delete(body.as_bytes()).unwrap();
        assert_eq!(
            keys_of(&request),
            ["a&b<c>\"'", " 日本/ключ  ", "ctl\u{1}\rx", "<raw>&"]
        );
        assert_eq!(request.objects[1].etag.as_deref(), Some("\"e1\""));
    }

    #[test]
    fn parse_delete_raw_cr_lf_is_normalised_like_any_xml_parser() {
        let request = parse_delete(b"<Delete><Object><Key>a\r\nb\rc</Key></Object></Delete>");
        assert_eq!(keys_of(&request.unwrap()), ["a\nb\nc"]);
    }

    #[test]
    fn parse_delete_limits() {
        let object = "<Object><Key>k</Key></Object>";
        let body = format!("<Delete>{}</Delete>", object.repeat(1000));
        assert_eq!(parse_delete(body.as_bytes()).unwrap().objects.len(), 1000);
        let body = format!("<Delete>{}</Delete>", object.repeat(1001));
        assert_eq!(
            parse_delete(body.as_bytes()).unwrap_err().code,
            S3ErrorCode::MalformedXML
        );
    }

    fn delete_error(body: &str) -> S3ErrorCode {
        parse_delete(body.as_bytes()).unwrap_err().code
    }

    #[test]
    fn parse_delete_rejects_bad_bodies() {
        let malformed = [
            "",
            "<Delete>",
            "<Delete></Delete>",
            "<Delete><Object><Key>k</Key></Object>",
            "<Delete><Object><Key>k</Key></Obj></Delete>",
            "<Delete><Object></Object></Delete>",
            "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
            "<Delete><Quiet>maybe</Quiet><Object><Key>k</Key></Object></Delete>",
            "<Delete><Object><Key>&bogus;</Key></Object></Delete>",
            "<Remove><Object><Key>k</Key></Object></Remove>",
            "<Delete><Object><Key>k</Key></Object></Delete><Delete/>",
            "<!DOCTYPE d [<!ENTITY x \"y\">]><Delete><Object><Key>&x;</Key></Object></Delete>",
            "junk<Delete><Object><Key>k</Key></Object></Delete>",
        ];
        for body in malformed {
            assert_eq!(delete_error(body), S3ErrorCode::MalformedXML, "{body}");
        }
        let invalid = b"<Delete><Object><Key>k\xff</Key></Object></Delete>";
        assert_eq!(
            parse_delete(invalid).unwrap_err().code,
            S3ErrorCode::MalformedXML
        );
        let deep = format!("<Delete>{}{}</Delete>", "<a>".repeat(20), "</a>".repeat(20));
        assert_eq!(delete_error(&deep), S3ErrorCode::MalformedXML);
    }

    #[test]
    fn parse_delete_checks_names() {
        let long = format!(
            "<Delete><Object><Key>{}</Key></Object></Delete>",
            "k".repeat(1025)
        );
        assert_eq!(delete_error(&long), S3ErrorCode::KeyTooLongError);
        let empty = "<Delete><Object><Key></Key></Object></Delete>";
        assert_eq!(delete_error(empty), S3ErrorCode::InvalidArgument);
        let nul = "<Delete><Object><Key>a\u{0}</Key></Object></Delete>";
        assert_eq!(delete_error(nul), S3ErrorCode::InvalidArgument);
        let version = "<Delete><Object><Key>k</Key><VersionId></VersionId></Object></Delete>";
        assert_eq!(delete_error(version), S3ErrorCode::InvalidArgument);
    }

    #[test]
    fn parse_create_bucket_configuration_samples() {
        assert_eq!(parse_create_bucket_configuration(b"").unwrap(), None);
        assert_eq!(parse_create_bucket_configuration(b" \r\n").unwrap(), None);
        // The AWS sample, including its space before `>` in the end tag.
        let body = format!(
            "<CreateBucketConfiguration xmlns=\"{S3_XMLNS}\">\n  \
             <LocationConstraint>Europe</LocationConstraint>\n</CreateBucketConfiguration >"
        );
        let region = parse_create_bucket_configuration(body.as_bytes()).unwrap();
        assert_eq!(region.as_deref(), Some("Europe"));
        let empty = b"<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>";
        assert_eq!(parse_create_bucket_configuration(empty).unwrap(), None);
        let bad = parse_create_bucket_configuration(b"<Bucket/>").unwrap_err();
        assert_eq!(bad.code, S3ErrorCode::MalformedXML);
    }

    /// The CompleteMultipartUpload sample request body from the AWS reference.
    #[test]
    fn parse_complete_multipart_upload_sample() {
        let body = b"<CompleteMultipartUpload>\n  <Part>\n    <PartNumber>1</PartNumber>\n    \
                     <ETag>\"a54357aff0632cce46d942af68356b38\"</ETag>\n  </Part>\n  <Part>\n    \
                     <PartNumber>2</PartNumber>\n    \
                     <ETag>\"0c78aef83f66abc1fa1e8477f296d394\"</ETag>\n    \
                     <ChecksumCRC32>AAAAAA==</ChecksumCRC32>\n  </Part>\n\
                     </CompleteMultipartUpload>";
        let parts = parse_complete_multipart_upload(body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].part_number, 1);
        assert_eq!(parts[0].etag, "\"a54357aff0632cce46d942af68356b38\"");
        assert_eq!(parts[1].checksum_crc32.as_deref(), Some("AAAAAA=="));
        assert_eq!(parts[1].checksum_sha256, None);
    }

    #[test]
    fn parse_complete_multipart_upload_rejects_bad_parts() {
        let cases = [
            ("<CompleteMultipartUpload/>", S3ErrorCode::MalformedXML),
            ("<CompleteMultipartUpload><Part><ETag>e</ETag></Part></CompleteMultipartUpload>",
             S3ErrorCode::MalformedXML),
            ("<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part>\
              </CompleteMultipartUpload>", S3ErrorCode::MalformedXML),
            ("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>\
              </CompleteMultipartUpload>", S3ErrorCode::MalformedXML),
            ("<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>e</ETag></Part>\
              </CompleteMultipartUpload>", S3ErrorCode::InvalidArgument),
            ("<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>e</ETag></Part>\
              </CompleteMultipartUpload>", S3ErrorCode::InvalidArgument),
        ];
        for (body, code) in cases {
            let err = parse_complete_multipart_upload(body.as_bytes()).unwrap_err();
            assert_eq!(err.code, code, "{body}");
        }
    }

    #[test]
    fn server_side_encryption_configuration_document() {
        let doc = render(|out| server_side_encryption_configuration(out, "AES256", None, false));
        let expected = format!(
            "{PROLOG_STR}<ServerSideEncryptionConfiguration xmlns=\"{S3_XMLNS}\"><Rule>\
             <ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>\
             </ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled>\
             </Rule></ServerSideEncryptionConfiguration>"
        );
        assert_eq!(doc, expected);
        // What we render, we read back.
        let rule = parse_server_side_encryption_configuration(doc.as_bytes()).unwrap();
        assert_eq!(rule.sse_algorithm, "AES256");
    }

    /// The PutBucketEncryption sample body from the AWS API reference, then
    /// the same document as boto3 sends it (no namespace, BucketKeyEnabled).
    #[test]
    fn parse_server_side_encryption_configuration_samples() {
        let body = format!(
            "<ServerSideEncryptionConfiguration xmlns=\"{S3_XMLNS}\">\n   <Rule>\n      \
             <ApplyServerSideEncryptionByDefault>\n         \
             <SSEAlgorithm>aws:kms</SSEAlgorithm>\n         \
             <KMSMasterKeyID>arn:aws:kms:us-east-1:1234/5678example</KMSMasterKeyID>\n      \
             </ApplyServerSideEncryptionByDefault>\n   </Rule>\n\
             </ServerSideEncryptionConfiguration>"
        );
        let rule = parse_server_side_encryption_configuration(body.as_bytes()).unwrap();
        assert_eq!(
            rule,
            EncryptionRule {
                sse_algorithm: "aws:kms".into(),
                kms_master_key_id: Some("arn:aws:kms:us-east-1:1234/5678example".into()),
                bucket_key_enabled: false,
                blocked_encryption_types: Vec::new(),
            }
        );
        let boto3 = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                      <ServerSideEncryptionConfiguration><Rule>\
                      <ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>\
                      </ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true\
                      </BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>";
        let rule = parse_server_side_encryption_configuration(boto3).unwrap();
        assert_eq!(rule.sse_algorithm, "AES256");
        assert_eq!(rule.kms_master_key_id, None);
        assert!(rule.bucket_key_enabled);
        let blocked = "<ServerSideEncryptionConfiguration><Rule>\
                       <ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>\
                       </ApplyServerSideEncryptionByDefault><BlockedEncryptionTypes>\
                       <EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes></Rule>\
                       </ServerSideEncryptionConfiguration>";
        let rule = parse_server_side_encryption_configuration(blocked.as_bytes()).unwrap();
        assert_eq!(rule.blocked_encryption_types, ["SSE-C"]);
    }

    #[test]
    fn parse_server_side_encryption_configuration_rejects_what_the_schema_does() {
        let rule = |inner: &str| {
            format!(
                "<ServerSideEncryptionConfiguration><Rule>{inner}</Rule>\
                 </ServerSideEncryptionConfiguration>"
            )
        };
        let by_default = |algorithm: &str| {
            rule(&format!(
                "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>{algorithm}</SSEAlgorithm>\
                 </ApplyServerSideEncryptionByDefault>"
            ))
        };
        let two_rules = "<ServerSideEncryptionConfiguration><Rule/><Rule/>\
                         </ServerSideEncryptionConfiguration>";
        let bad_bool = rule(
            "<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>\
             </ApplyServerSideEncryptionByDefault><BucketKeyEnabled>yes</BucketKeyEnabled>",
        );
        let cases = [
            "".to_owned(),
            "<ServerSideEncryptionConfiguration>".to_owned(),
            "<Tagging/>".to_owned(),
            "<ServerSideEncryptionConfiguration/>".to_owned(),
            two_rules.to_owned(),
            rule(""),
            rule("<ApplyServerSideEncryptionByDefault/>"),
            by_default("SSE-KMS"),
            by_default("aes256"),
            by_default(""),
            bad_bool,
        ];
        for body in cases {
            let err = parse_server_side_encryption_configuration(body.as_bytes()).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::MalformedXML, "{body}");
        }
        for algorithm in ["AES256", " AES256\n", "aws:kms", "aws:kms:dsse"] {
            let body = by_default(algorithm);
            let rule = parse_server_side_encryption_configuration(body.as_bytes()).unwrap();
            assert_eq!(rule.sse_algorithm, algorithm.trim());
        }
    }
}
