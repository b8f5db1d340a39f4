//! The server access log: one line per S3 request in AWS's server access log
//! format (bucket owner, bucket, time, remote address, requester, request id,
//! operation, key, request line, status, error code, bytes sent, object size,
//! total and turn-around time, referer, user agent, version id, host id,
//! signature version, cipher suite, authentication type, host, TLS version,
//! access point, ACL required), so the tools that read AWS's logs read ours.
//!
//! Owns: the formatting of a line ([`AccessEntry::write_line`]) and each
//! shard's buffer of lines ([`AccessLog`]), handed to the writer thread
//! (`cluster::access_log`) through a bounded channel in chunks of many lines.
//! Sending never waits: when the writer falls behind, chunks are dropped,
//! counted and said in the log (at most once a minute). Never a secret: the
//! request line's signature and session token are replaced by `REDACTED`.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::Duration;

use crate::shard::Shard;

/// A shard hands its lines over when this many bytes wait: large enough that
/// a busy shard sends a few chunks a second, small enough to stay in cache.
pub const BUFFER_BYTES_FLUSH: usize = 64 * 1024;
/// Lines wait at most this long on a quiet shard.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Chunks waiting for the writer thread, all shards together (64 MiB at most).
pub const CHANNEL_CHUNKS_MAX: usize = 1024;
/// How often a shard that drops lines says so.
const DROP_WARNING_INTERVAL_MS: u64 = 60_000;
/// A longer field (a user agent, a referer) is cut: one request cannot make a
/// line of any length.
const FIELD_BYTES_MAX: usize = 1024;
/// The request line is cut here (keys are at most 1 KiB; queries are short).
const REQUEST_URI_BYTES_MAX: usize = 4096;
/// Query parameters whose values are secrets or proofs of one.
const REDACTED_PARAMETERS: [&str; 3] = ["x-amz-signature", "signature", "x-amz-security-token"];

/// The channel's sending end, one clone per shard; each message is a chunk of
/// whole lines.
pub type AccessLogSender = SyncSender<String>;

/// One request, as its line shows it; `None` prints AWS's `-`.
#[derive(Clone, Debug, Default)]
pub struct AccessEntry<'a> {
    pub bucket_owner: Option<&'a str>,
    pub bucket: Option<&'a str>,
    pub time_ms: u64,
    pub remote_ip: Option<IpAddr>,
    pub requester: Option<&'a str>,
    pub request_id: &'a str,
    /// AWS's `REST.METHOD.RESOURCE` (see [`operation`]).
    pub operation: Option<(&'a str, &'static str)>,
    /// The key as the request sent it (still URL-encoded, as AWS logs it).
    pub key: Option<&'a str>,
    pub method: &'a str,
    pub target: &'a str,
    pub http_version_minor: u8,
    pub status: Option<u16>,
    pub error_code: Option<&'a str>,
    pub bytes_sent: u64,
    pub object_size: Option<u64>,
    pub total_time_ms: u64,
    pub turn_around_ms: Option<u64>,
    pub referer: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub version_id: Option<&'a str>,
    pub signature_version: Option<&'static str>,
    pub auth_type: Option<&'static str>,
    pub host: Option<&'a str>,
}

impl AccessEntry<'_> {
    /// Appends the line (with its newline) to `out`.
    pub fn write_line(&self, out: &mut String) {
        field(out, self.bucket_owner);
        out.push(' ');
        field(out, self.bucket);
        out.push_str(" [");
        clf_time(out, self.time_ms);
        out.push_str("] ");
        match self.remote_ip {
            Some(ip) => {
                let _ = write!(out, "{ip}");
            }
            None => out.push('-'),
        }
        out.push(' ');
        field(out, self.requester);
        out.push(' ');
        field(out, Some(self.request_id));
        out.push(' ');
        match self.operation {
            Some((method, resource)) => {
                let _ = write!(out, "REST.{method}.{resource}");
            }
            None => out.push('-'),
        }
        out.push(' ');
        field(out, self.key);
        out.push_str(" \"");
        request_line(out, self.method, self.target, self.http_version_minor);
        out.push_str("\" ");
        number(out, self.status.map(u64::from));
        out.push(' ');
        field(out, self.error_code);
        out.push(' ');
        number(out, (self.bytes_sent > 0).then_some(self.bytes_sent));
        out.push(' ');
        number(out, self.object_size);
        out.push(' ');
        number(out, Some(self.total_time_ms));
        out.push(' ');
        number(out, self.turn_around_ms);
        out.push_str(" \"");
        quoted(out, self.referer);
        out.push_str("\" \"");
        quoted(out, self.user_agent);
        out.push_str("\" ");
        field(out, self.version_id);
        out.push(' ');
        // The host id: AWS's x-amz-id-2, which here is the request id.
        field(out, Some(self.request_id));
        out.push(' ');
        field(out, self.signature_version);
        // The cipher suite: the TLS layer does not hand it up.
        out.push_str(" - ");
        field(out, self.auth_type);
        out.push(' ');
        field(out, self.host);
        // TLS version (not handed up either), access point ARN, ACL required.
        out.push_str(" - - -\n");
    }
}

/// AWS's operation resource type for an endpoint, with the method it is
/// logged under (`COPY` for copies, as AWS logs them).
pub fn operation(endpoint: &crate::router::Endpoint, method: &str) -> (&'static str, &'static str) {
    use crate::router::Endpoint as E;
    let method = match method {
        "GET" => "GET",
        "PUT" => "PUT",
        "POST" => "POST",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    };
    let resource = match endpoint {
        // Not logged (see `S3Service::handle`); named for completeness.
        E::Health | E::Ready => "HEALTH",
        E::CorsPreflight => "PREFLIGHT",
        E::GetBucketCors | E::PutBucketCors | E::DeleteBucketCors => "CORS",
        E::ListBuckets => "SERVICE",
        E::HeadBucket | E::CreateBucket | E::DeleteBucket => "BUCKET",
        E::ListObjectsV1 | E::ListObjectsV2 => "BUCKET",
        E::GetBucketLocation => "LOCATION",
        E::GetBucketVersioning | E::PutBucketVersioning => "VERSIONING",
        E::GetBucketEncryption | E::PutBucketEncryption | E::DeleteBucketEncryption => "ENCRYPTION",
        E::GetBucketAcl | E::PutBucketAcl | E::GetObjectAcl { .. } | E::PutObjectAcl { .. } => {
            "ACL"
        }
        E::GetBucketOwnershipControls
        | E::PutBucketOwnershipControls
        | E::DeleteBucketOwnershipControls => "OWNERSHIP_CONTROLS",
        E::GetPublicAccessBlock | E::PutPublicAccessBlock | E::DeletePublicAccessBlock => {
            "PUBLIC_ACCESS_BLOCK"
        }
        E::GetBucketPolicy | E::PutBucketPolicy | E::DeleteBucketPolicy => "BUCKETPOLICY",
        E::GetBucketPolicyStatus => "BUCKETPOLICYSTATUS",
        E::GetObjectLockConfiguration | E::PutObjectLockConfiguration => {
            "OBJECT_LOCK_CONFIGURATION"
        }
        E::GetBucketLifecycleConfiguration
        | E::PutBucketLifecycleConfiguration
        | E::DeleteBucketLifecycle => "LIFECYCLE",
        E::GetObjectRetention { .. } | E::PutObjectRetention { .. } => "RETENTION",
        E::GetObjectLegalHold { .. } | E::PutObjectLegalHold { .. } => "LEGAL_HOLD",
        E::RestoreObject { .. } => "RESTORE",
        E::ListObjectVersions => "BUCKETVERSIONS",
        E::ListMultipartUploads | E::CreateMultipartUpload => "UPLOADS",
        E::DeleteObjects => "MULTI_OBJECT_DELETE",
        E::PutObject | E::PostObject | E::GetObject { .. } | E::HeadObject { .. } => "OBJECT",
        E::DeleteObject { .. } => "OBJECT",
        E::CopyObject => return ("COPY", "OBJECT"),
        E::UploadPartCopy { .. } => return ("COPY", "PART"),
        E::GetObjectAttributes { .. } => "OBJECT_ATTRIBUTES",
        E::GetObjectTagging { .. } | E::PutObjectTagging { .. } | E::DeleteObjectTagging { .. } => {
            "TAGGING"
        }
        E::GetBucketTagging | E::PutBucketTagging | E::DeleteBucketTagging => "TAGGING",
        E::GetBucketRequestPayment | E::PutBucketRequestPayment => "REQUEST_PAYMENT",
        E::GetBucketAccelerateConfiguration | E::PutBucketAccelerateConfiguration => "ACCELERATE",
        E::GetBucketNotificationConfiguration | E::PutBucketNotificationConfiguration => {
            "NOTIFICATION"
        }
        E::UploadPart { .. } => "PART",
        E::CompleteMultipartUpload { .. }
        | E::AbortMultipartUpload { .. }
        | E::ListParts { .. } => "UPLOAD",
        E::Unsupported { .. } => "UNSUPPORTED",
    };
    (method, resource)
}

/// A space-free field: `-` when absent or empty; spaces, quotes and control
/// characters become `%XX` so the line keeps its columns.
fn field(out: &mut String, value: Option<&str>) {
    match value {
        Some(text) if !text.is_empty() => escaped(out, text, FIELD_BYTES_MAX, true),
        _ => out.push('-'),
    }
}

/// The inside of a quoted field: `-` when absent.
fn quoted(out: &mut String, value: Option<&str>) {
    match value {
        Some(text) if !text.is_empty() => escaped(out, text, FIELD_BYTES_MAX, false),
        _ => out.push('-'),
    }
}

fn escaped(out: &mut String, text: &str, bytes_max: usize, escape_space: bool) {
    let mut used = 0;
    for ch in text.chars() {
        used += ch.len_utf8();
        if used > bytes_max {
            break;
        }
        let unsafe_char = ch.is_control() || ch == '"' || ch == '\\' || (escape_space && ch == ' ');
        if unsafe_char {
            let mut bytes = [0u8; 4];
            for byte in ch.encode_utf8(&mut bytes).bytes() {
                let _ = write!(out, "%{byte:02X}");
            }
        } else {
            out.push(ch);
        }
    }
}

fn number(out: &mut String, value: Option<u64>) {
    match value {
        Some(n) => {
            let _ = write!(out, "{n}");
        }
        None => out.push('-'),
    }
}

/// `METHOD target HTTP/1.x` with secret query values replaced.
fn request_line(out: &mut String, method: &str, target: &str, http_version_minor: u8) {
    escaped(out, method, 16, true);
    out.push(' ');
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let mut line = String::with_capacity(target.len().min(REQUEST_URI_BYTES_MAX));
    line.push_str(path);
    if let Some(query) = query {
        line.push('?');
        for (index, pair) in query.split('&').enumerate() {
            if index > 0 {
                line.push('&');
            }
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            let secret = REDACTED_PARAMETERS
                .iter()
                .any(|redacted| name.eq_ignore_ascii_case(redacted));
            if secret {
                line.push_str(name);
                line.push_str("=REDACTED");
            } else {
                line.push_str(pair);
            }
        }
    }
    escaped(out, &line, REQUEST_URI_BYTES_MAX, false);
    let _ = write!(out, " HTTP/1.{http_version_minor}");
}

/// `06/Feb/2019:00:00:38 +0000`.
fn clf_time(out: &mut String, time_ms: u64) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = time_ms / 1000;
    let (year, month, day) = crate::xml::civil_from_days((secs / 86_400) as u32);
    let of_day = secs % 86_400;
    let _ = write!(
        out,
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month as usize).saturating_sub(1) % 12],
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    );
}

/// A shard's lines not yet handed to the writer.
pub struct AccessLog {
    /// `None` once closed (the shard stopped).
    tx: RefCell<Option<AccessLogSender>>,
    buffer: RefCell<String>,
    lines_buffered: Cell<u64>,
    lines_dropped: Cell<u64>,
    /// Every line dropped since the start (the metrics).
    lines_dropped_total: Cell<u64>,
    dropped_warned_ms: Cell<u64>,
}

impl AccessLog {
    pub fn new(tx: AccessLogSender) -> Self {
        AccessLog {
            tx: RefCell::new(Some(tx)),
            buffer: RefCell::new(String::with_capacity(BUFFER_BYTES_FLUSH + FIELD_BYTES_MAX)),
            lines_buffered: Cell::new(0),
            lines_dropped: Cell::new(0),
            lines_dropped_total: Cell::new(0),
            dropped_warned_ms: Cell::new(0),
        }
    }

    /// Adds a request's line; hands the buffer over once it is large.
    pub fn append(&self, entry: &AccessEntry<'_>) {
        let full = {
            let mut buffer = self.buffer.borrow_mut();
            entry.write_line(&mut buffer);
            self.lines_buffered.set(self.lines_buffered.get() + 1);
            buffer.len() >= BUFFER_BYTES_FLUSH
        };
        if full {
            self.flush(entry.time_ms);
        }
    }

    /// Hands the buffered lines to the writer, without waiting.
    pub fn flush(&self, now_ms: u64) {
        let chunk = {
            let mut buffer = self.buffer.borrow_mut();
            if buffer.is_empty() {
                return;
            }
            std::mem::replace(
                &mut *buffer,
                String::with_capacity(BUFFER_BYTES_FLUSH + FIELD_BYTES_MAX),
            )
        };
        let lines = self.lines_buffered.replace(0);
        let sent = match self.tx.borrow().as_ref() {
            Some(tx) => tx.try_send(chunk),
            None => Err(TrySendError::Disconnected(chunk)),
        };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = sent {
            self.lines_dropped.set(self.lines_dropped.get() + lines);
            self.lines_dropped_total
                .set(self.lines_dropped_total.get() + lines);
        }
        let dropped = self.lines_dropped.get();
        let quiet_since = now_ms.saturating_sub(self.dropped_warned_ms.get());
        if dropped > 0 && quiet_since >= DROP_WARNING_INTERVAL_MS {
            tracing::warn!(
                dropped,
                "access log lines dropped: the access log writer is behind"
            );
            self.lines_dropped.set(0);
            self.dropped_warned_ms.set(now_ms);
        }
    }
}

impl AccessLog {
    /// Lines dropped since the start because the writer was behind.
    pub fn lines_dropped_total(&self) -> u64 {
        self.lines_dropped_total.get()
    }

    /// Hands the last lines over and lets go of the channel, so the writer
    /// finishes once every shard closed (the shard's tasks may outlive it).
    pub fn close(&self, now_ms: u64) {
        self.flush(now_ms);
        self.tx.borrow_mut().take();
    }
}

/// Hands a quiet shard's lines over at least once a second.
pub async fn flush_periodically(shard: Rc<Shard>) {
    loop {
        monoio::time::sleep(FLUSH_INTERVAL).await;
        if let Some(log) = shard.access_log.as_ref() {
            log.flush(crate::service::now_ms());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> AccessEntry<'static> {
        AccessEntry {
            bucket_owner: Some("123456789012"),
            bucket: Some("photos"),
            time_ms: 1_549_411_238_000,
            remote_ip: Some("192.0.2.3".parse().unwrap()),
            requester: Some("arn:aws:iam::123456789012:user/alice"),
            request_id: "3E57427F3EXAMPLE",
            operation: Some(("GET", "VERSIONING")),
            key: None,
            method: "GET",
            target: "/photos?versioning",
            http_version_minor: 1,
            status: Some(200),
            error_code: None,
            bytes_sent: 113,
            object_size: None,
            total_time_ms: 7,
            turn_around_ms: Some(3),
            referer: None,
            user_agent: Some("S3Console/0.4"),
            version_id: None,
            signature_version: Some("SigV4"),
            auth_type: Some("AuthHeader"),
            host: Some("photos.s3.example.com"),
        }
    }

    #[test]
    fn a_line_has_aws_columns() {
        let mut out = String::new();
        entry().write_line(&mut out);
        assert_eq!(
            out,
            "123456789012 photos [06/Feb/2019:00:00:38 +0000] 192.0.2.3 \
             arn:aws:iam::123456789012:user/alice 3E57427F3EXAMPLE REST.GET.VERSIONING - \
             \"GET /photos?versioning HTTP/1.1\" 200 - 113 - 7 3 \"-\" \"S3Console/0.4\" - \
             3E57427F3EXAMPLE SigV4 - AuthHeader photos.s3.example.com - - -\n"
        );
    }

    #[test]
    fn secrets_in_the_request_line_are_redacted_and_fields_stay_whole() {
        let mut entry = entry();
        entry.target = "/photos/a%20b?X-Amz-Credential=AK%2F1&X-Amz-Signature=abcdef\
                        &x-amz-security-token=tok&versionId=1";
        entry.key = Some("a b\"c");
        entry.user_agent = Some("agent \"quoted\"\n");
        let mut out = String::new();
        entry.write_line(&mut out);
        assert!(!out.contains("abcdef") && !out.contains("tok&"), "{out}");
        assert!(out.contains("X-Amz-Signature=REDACTED"));
        assert!(out.contains("x-amz-security-token=REDACTED"));
        assert!(out.contains(" a%20b%22c "), "{out}");
        assert!(out.contains("\"agent %22quoted%22%0A\""), "{out}");
        assert_eq!(out.matches('\n').count(), 1);
    }

    #[test]
    fn long_fields_are_cut() {
        let long = "x".repeat(10 * FIELD_BYTES_MAX);
        let mut entry = entry();
        entry.user_agent = Some(&long);
        let mut out = String::new();
        entry.write_line(&mut out);
        assert!(out.len() < 3 * FIELD_BYTES_MAX);
    }

    #[test]
    fn a_full_channel_drops_and_never_waits() {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let log = AccessLog::new(tx);
        for _ in 0..3 {
            log.append(&entry());
            log.flush(0);
        }
        assert_eq!(rx.try_iter().count(), 1);
    }
}
