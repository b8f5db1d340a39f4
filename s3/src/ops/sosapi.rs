//! Veeam's Smart Object Storage API (SOSAPI, protocol 1.0): the two virtual
//! objects every bucket answers, `.system-d26a9498-cb7c-4a87-a44a-8ae204f5ba6c/
//! system.xml` (what the server can do and how Veeam should use it) and
//! `…/capacity.xml` (how many bytes there are, are free and are used).
//!
//! Owns: recognising requests for those two keys, rendering both documents
//! (element names, order and the quoted `"1.0"` as in Veeam's SOSAPI 1.0
//! document), answering GET and HEAD, and refusing every write to them.
//! Must not: store anything. The documents are computed per request and are
//! never in the index, so listings cannot show them and no PUT can shadow them.
//! Other keys under the `.system-…/` prefix are ordinary keys.
//!
//! Main types: `SosapiSettings` (the recommendations from the command line),
//! `Document` (which of the two a key names), `Capacity`.

use std::path::Path;
use std::rc::Rc;

use engine::io::uring::{filesystem_bytes, FilesystemBytes};
use http::{BodyLen, Exchange};
use md5::{Digest, Md5};

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::limits::DELETE_OBJECTS_KEYS_MAX;
use crate::ops::conditions::{evaluate_read_conditions, ReadDecision};
use crate::ops::range::parse_range;
use crate::ops::{format_http_date, RequestContext};
use crate::router::{Endpoint, Route};
use crate::shard::Shard;

/// The folder Veeam looks in; the UUID is fixed by the SOSAPI document.
pub const SYSTEM_FOLDER: &str = ".system-d26a9498-cb7c-4a87-a44a-8ae204f5ba6c";
pub const SYSTEM_XML_KEY: &str = ".system-d26a9498-cb7c-4a87-a44a-8ae204f5ba6c/system.xml";
pub const CAPACITY_XML_KEY: &str = ".system-d26a9498-cb7c-4a87-a44a-8ae204f5ba6c/capacity.xml";

/// `KbBlockSize` values Veeam accepts (its job block sizes, before compression).
pub const BLOCK_KIB_ALLOWED: [u32; 5] = [256, 512, 1024, 4096, 8192];
/// Veeam's own default is 1024 KiB; we recommend 4 MiB blocks because every
/// block is one object, and fewer, larger objects cost this server less per
/// byte (one index entry and one request each), as SeaweedFS and MinIO advise.
pub const BLOCK_KIB_DEFAULT: u32 = 4096;
/// Veeam's default of parallel S3 requests per repository task slot.
pub const S3_CONCURRENT_TASKS_DEFAULT: u32 = 64;
/// 0 means "no limit": Veeam uses every task slot the repository has.
pub const STORAGE_CONCURRENT_TASKS_DEFAULT: u32 = 0;

/// The `SystemRecommendations` the server publishes (server flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SosapiSettings {
    /// `S3ConcurrentTaskLimit`: S3 requests Veeam runs in parallel per task slot.
    pub s3_concurrent_tasks_max: u32,
    /// `StorageConcurrentTasksLimit`: repository task slots writing in parallel
    /// (0 = unlimited).
    pub storage_concurrent_tasks_max: u32,
    /// `KbBlockSize`: Veeam's job block size, one of `BLOCK_KIB_ALLOWED`.
    pub block_kib: u32,
}

impl Default for SosapiSettings {
    fn default() -> Self {
        SosapiSettings {
            s3_concurrent_tasks_max: S3_CONCURRENT_TASKS_DEFAULT,
            storage_concurrent_tasks_max: STORAGE_CONCURRENT_TASKS_DEFAULT,
            block_kib: BLOCK_KIB_DEFAULT,
        }
    }
}

/// Which virtual object a key names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Document {
    System,
    Capacity,
}

impl Document {
    /// Only the two exact keys: nothing else under the folder is virtual.
    pub fn of_key(key: &str) -> Option<Document> {
        match key {
            SYSTEM_XML_KEY => Some(Document::System),
            CAPACITY_XML_KEY => Some(Document::Capacity),
            _ => None,
        }
    }
}

/// The three numbers of `capacity.xml`, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacity {
    pub capacity_bytes: u64,
    pub available_bytes: u64,
    pub used_bytes: u64,
}

impl Capacity {
    /// Used is everything not free, including what other programs and the
    /// root reserve hold: Veeam plans with what is left, not with our share.
    pub fn of_filesystem(sizes: FilesystemBytes) -> Capacity {
        Capacity {
            capacity_bytes: sizes.total_bytes,
            available_bytes: sizes.available_bytes,
            used_bytes: sizes.total_bytes.saturating_sub(sizes.free_bytes),
        }
    }
}

const XML_PROLOG: &str = "<?xml version=\"1.0\" encoding=\"utf-8\" ?>";

/// `system.xml`. No `APIEndpoints`: they are mandatory only with `IAMSTS`,
/// and this server has no IAM or STS API to hand over. `UploadSessions`
/// (Veeam's per-node data locality) means nothing for a single process.
pub fn system_xml(settings: &SosapiSettings) -> String {
    let mut out = String::with_capacity(640);
    out.push_str(XML_PROLOG);
    out.push_str("<SystemInfo>");
    // The quotes are part of the value: the document and Veeam expect `"1.0"`.
    out.push_str("<ProtocolVersion>\"1.0\"</ProtocolVersion>");
    out.push_str(concat!(
        "<ModelName>\"maxiofs ",
        env!("CARGO_PKG_VERSION"),
        "\"</ModelName>"
    ));
    out.push_str("<ProtocolCapabilities>");
    out.push_str("<CapacityInfo>true</CapacityInfo>");
    out.push_str("<UploadSessions>false</UploadSessions>");
    out.push_str("<IAMSTS>false</IAMSTS>");
    out.push_str("</ProtocolCapabilities>");
    out.push_str("<SystemRecommendations>");
    out.push_str(&format!(
        "<S3ConcurrentTaskLimit>{}</S3ConcurrentTaskLimit>",
        settings.s3_concurrent_tasks_max
    ));
    out.push_str(&format!(
        "<S3MultiObjectDeleteLimit>{DELETE_OBJECTS_KEYS_MAX}</S3MultiObjectDeleteLimit>"
    ));
    out.push_str(&format!(
        "<StorageConcurrentTasksLimit>{}</StorageConcurrentTasksLimit>",
        settings.storage_concurrent_tasks_max
    ));
    out.push_str(&format!(
        "<KbBlockSize>{}</KbBlockSize>",
        settings.block_kib
    ));
    out.push_str("</SystemRecommendations>");
    out.push_str("</SystemInfo>");
    out
}

/// `capacity.xml`.
pub fn capacity_xml(capacity: &Capacity) -> String {
    format!(
        "{XML_PROLOG}<CapacityInfo><Capacity>{}</Capacity><Available>{}</Available>\
         <Used>{}</Used></CapacityInfo>",
        capacity.capacity_bytes, capacity.available_bytes, capacity.used_bytes
    )
}

/// The capacity Veeam should plan with: the bucket's storage quota if it has
/// one, else its tenant's, else the filesystem holding the data directory.
/// Under a quota, what is available is also never more than the disk has.
fn capacity_for_bucket(shard: &Shard, bucket: &crate::shard::BucketInfo) -> S3Result<Capacity> {
    let disk = capacity_of_data_dir(&shard.settings.data_dir)?;
    let usage_of = |bucket: &crate::shard::BucketInfo| -> u64 {
        shard
            .reader
            .shard_index(bucket.owner_shard as usize)
            .bucket_usage(bucket.id)
            .map(|usage| usage.quota_bytes())
            .unwrap_or(0)
    };
    let catalog = shard.catalog();
    let (limit, used) = if let Some(limit) = bucket.quota.bytes {
        (limit, usage_of(bucket))
    } else if let Some(limit) = crate::quota::tenant_quota(&catalog, &bucket.owner_account).bytes {
        let used = catalog
            .buckets
            .values()
            .filter(|other| other.owner_account == bucket.owner_account)
            .map(usage_of)
            .sum();
        (limit, used)
    } else {
        return Ok(disk);
    };
    Ok(Capacity {
        capacity_bytes: limit,
        available_bytes: limit.saturating_sub(used).min(disk.available_bytes),
        used_bytes: used,
    })
}

fn capacity_of_data_dir(data_dir: &Path) -> S3Result<Capacity> {
    // One statvfs on the reactor thread: microseconds, not worth a hop.
    let sizes = filesystem_bytes(data_dir).map_err(|err| {
        tracing::error!(%err, dir = %data_dir.display(), "statvfs of the data directory failed");
        S3Error::internal("We encountered an internal error. Please try again.")
    })?;
    Ok(Capacity::of_filesystem(sizes))
}

/// Whether the request targets one of the virtual objects with an operation
/// this module answers: reads are served, writes refused. Everything else on
/// these keys (tagging, attributes, versioned reads) finds no stored object.
pub fn is_virtual_request(route: &Route) -> bool {
    let Some(key) = &route.key else {
        return false;
    };
    if Document::of_key(key.as_str()).is_none() {
        return false;
    }
    matches!(
        route.endpoint,
        Endpoint::GetObject {
            version_id: None,
            ..
        } | Endpoint::HeadObject {
            version_id: None,
            ..
        }
    ) || is_write(&route.endpoint)
}

/// Operations that would store, replace or remove an object at the key.
/// Multipart is refused at both ends so a completed upload cannot shadow
/// the virtual object either.
fn is_write(endpoint: &Endpoint) -> bool {
    matches!(
        endpoint,
        Endpoint::PutObject
            | Endpoint::CopyObject
            | Endpoint::DeleteObject { .. }
            | Endpoint::CreateMultipartUpload
            | Endpoint::CompleteMultipartUpload { .. }
    )
}

/// Answers a request `is_virtual_request` accepted.
pub async fn handle_virtual_request(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    // The documents exist only in buckets that exist.
    let bucket = ctx.bucket_info(shard)?;
    let key = ctx.key()?.as_str();
    let document = Document::of_key(key).expect("is_virtual_request checked the key");
    let (head_only, part_number) = match ctx.route.endpoint {
        Endpoint::GetObject { part_number, .. } => (false, part_number),
        Endpoint::HeadObject { part_number, .. } => (true, part_number),
        _ => {
            return Err(S3Error::new(
                S3ErrorCode::AccessDenied,
                format!(
                    "The key {key} is reserved by the server (Veeam SOSAPI) and cannot be written."
                ),
            ))
        }
    };
    // A virtual object is one part, like any object not uploaded in parts.
    if part_number.is_some_and(|number| number != 1) {
        return Err(S3Error::new(
            S3ErrorCode::InvalidPartNumber,
            "The requested partnumber is not satisfiable",
        ));
    }
    let body = match document {
        Document::System => system_xml(&shard.settings.sosapi),
        Document::Capacity => capacity_xml(&capacity_for_bucket(shard, &bucket)?),
    };
    serve_document(ctx, ex, body.into_bytes(), head_only).await
}

async fn serve_document(
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    body: Vec<u8>,
    head_only: bool,
) -> S3Result<()> {
    let etag = format!("\"{}\"", hex::encode(Md5::digest(&body)));
    // Generated now, so modified now.
    let last_modified = format_http_date(ctx.now_ms);
    if evaluate_read_conditions(ex.head(), &etag, ctx.now_ms)? == ReadDecision::NotModified {
        let headers = [
            ("etag", etag.as_str()),
            ("last-modified", last_modified.as_str()),
        ];
        return ctx.respond(ex, 304, &headers, BodyLen::Empty).await;
    }
    let size_bytes = body.len() as u64;
    let range = match ex.head().header("range") {
        Some(value) => parse_range(value, size_bytes)?,
        None => None,
    };
    let (status, start, end_exclusive, content_range) = match range {
        Some(range) => (
            206,
            range.start as usize,
            range.end_inclusive as usize + 1,
            Some(format!(
                "bytes {}-{}/{size_bytes}",
                range.start, range.end_inclusive
            )),
        ),
        None => (200, 0, body.len(), None),
    };
    let mut headers = vec![
        ("content-type", "application/xml"),
        ("etag", etag.as_str()),
        ("last-modified", last_modified.as_str()),
        ("accept-ranges", "bytes"),
    ];
    if let Some(content_range) = &content_range {
        headers.push(("content-range", content_range.as_str()));
    }
    let len = (end_exclusive - start) as u64;
    if head_only {
        return ctx
            .respond(ex, status, &headers, BodyLen::HeadOnly(len))
            .await;
    }
    ctx.send_head(ex, status, &headers, BodyLen::Fixed(len))
        .await?;
    ex.write_body_copied(&body[start..end_exclusive])
        .await
        .map_err(|_| S3Error::internal("client went away"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::ObjectKey;

    #[test]
    fn system_document_default() {
        let expected = concat!(
            "<?xml version=\"1.0\" encoding=\"utf-8\" ?>",
            "<SystemInfo>",
            "<ProtocolVersion>\"1.0\"</ProtocolVersion>",
            "<ModelName>\"maxiofs ",
            env!("CARGO_PKG_VERSION"),
            "\"</ModelName>",
            "<ProtocolCapabilities>",
            "<CapacityInfo>true</CapacityInfo>",
            "<UploadSessions>false</UploadSessions>",
            "<IAMSTS>false</IAMSTS>",
            "</ProtocolCapabilities>",
            "<SystemRecommendations>",
            "<S3ConcurrentTaskLimit>64</S3ConcurrentTaskLimit>",
            "<S3MultiObjectDeleteLimit>1000</S3MultiObjectDeleteLimit>",
            "<StorageConcurrentTasksLimit>0</StorageConcurrentTasksLimit>",
            "<KbBlockSize>4096</KbBlockSize>",
            "</SystemRecommendations>",
            "</SystemInfo>",
        );
        assert_eq!(system_xml(&SosapiSettings::default()), expected);
    }

    #[test]
    fn system_document_carries_the_settings() {
        let settings = SosapiSettings {
            s3_concurrent_tasks_max: 16,
            storage_concurrent_tasks_max: 8,
            block_kib: 1024,
        };
        let xml = system_xml(&settings);
        assert!(xml.contains("<S3ConcurrentTaskLimit>16</S3ConcurrentTaskLimit>"));
        assert!(xml.contains("<StorageConcurrentTasksLimit>8</StorageConcurrentTasksLimit>"));
        assert!(xml.contains("<KbBlockSize>1024</KbBlockSize>"));
    }

    #[test]
    fn capacity_document() {
        let capacity = Capacity {
            capacity_bytes: 1_099_511_627_776,
            available_bytes: 824_633_720_832,
            used_bytes: 219_902_325_555,
        };
        assert_eq!(
            capacity_xml(&capacity),
            concat!(
                "<?xml version=\"1.0\" encoding=\"utf-8\" ?>",
                "<CapacityInfo>",
                "<Capacity>1099511627776</Capacity>",
                "<Available>824633720832</Available>",
                "<Used>219902325555</Used>",
                "</CapacityInfo>",
            )
        );
    }

    #[test]
    fn capacity_from_statvfs() {
        // Root's reserve (free but not available) counts neither as used nor
        // as available.
        let sizes = FilesystemBytes {
            total_bytes: 1000,
            free_bytes: 300,
            available_bytes: 250,
        };
        let expected = Capacity {
            capacity_bytes: 1000,
            available_bytes: 250,
            used_bytes: 700,
        };
        assert_eq!(Capacity::of_filesystem(sizes), expected);
    }

    #[test]
    fn only_the_two_exact_keys_are_virtual() {
        assert_eq!(Document::of_key(SYSTEM_XML_KEY), Some(Document::System));
        assert_eq!(Document::of_key(CAPACITY_XML_KEY), Some(Document::Capacity));
        assert_eq!(SYSTEM_XML_KEY, format!("{SYSTEM_FOLDER}/system.xml"));
        assert_eq!(CAPACITY_XML_KEY, format!("{SYSTEM_FOLDER}/capacity.xml"));
        for other in [
            "system.xml",
            ".system-d26a9498-cb7c-4a87-a44a-8ae204f5ba6c/",
            ".system-d26a9498-cb7c-4a87-a44a-8ae204f5ba6c/other.xml",
            ".system-d26a9498-cb7c-4a87-a44a-8ae204f5ba6c/system.xml/",
            "a/.system-d26a9498-cb7c-4a87-a44a-8ae204f5ba6c/system.xml",
            ".SYSTEM-d26a9498-cb7c-4a87-a44a-8ae204f5ba6c/system.xml",
        ] {
            assert_eq!(Document::of_key(other), None, "{other}");
        }
    }

    fn route(endpoint: Endpoint, key: &str) -> Route {
        Route {
            endpoint,
            bucket: None,
            key: Some(ObjectKey::parse(key).expect("valid key")),
            query: Vec::new(),
        }
    }

    #[test]
    fn reads_and_writes_of_the_virtual_keys_are_intercepted() {
        let get = Endpoint::GetObject {
            version_id: None,
            part_number: None,
        };
        let head = Endpoint::HeadObject {
            version_id: None,
            part_number: None,
        };
        for endpoint in [
            get.clone(),
            head,
            Endpoint::PutObject,
            Endpoint::CopyObject,
            Endpoint::DeleteObject { version_id: None },
            Endpoint::CreateMultipartUpload,
        ] {
            assert!(
                is_virtual_request(&route(endpoint.clone(), SYSTEM_XML_KEY)),
                "{endpoint:?}"
            );
        }
        assert!(!is_virtual_request(&route(
            Endpoint::GetObjectTagging { version_id: None },
            SYSTEM_XML_KEY
        )));
        assert!(!is_virtual_request(&route(get.clone(), "plain/key")));
        assert!(!is_virtual_request(&route(
            Endpoint::PutObject,
            "plain/key"
        )));
    }
}
