//! Server-side encryption in the S3 layer, with server-managed keys (SSE-S3),
//! keys of the built-in key store (SSE-KMS, `crate::kms`) and
//! customer-provided keys (SSE-C): which new objects are encrypted, where
//! their wrapped data key is kept, and sealing and opening chunk records and
//! inline bodies with `engine::crypto`.
//!
//! SSE-C: the client's key wraps the object's data key and is never stored;
//! the object keeps a salted HMAC of it to tell a wrong key (403) from damage,
//! and returns the key's MD5 as AWS does. Reads, parts and copies of an SSE-C
//! object must present the same key. A copy that changes key re-encrypts
//! under a fresh data key, so the old key never opens the copy.
//!
//! Like AWS since 2023, every new object is encrypted unless the server runs
//! with encryption off; a request may also ask for it
//! (`x-amz-server-side-encryption: AES256`), and a bucket's default encryption
//! ([`BucketEncryption`], set by PutBucketEncryption) asks for it for every new
//! object of the bucket, whatever the server's default. An object stores its wrapped data
//! key in its metadata (`META_SSE_KEY`, internal, never a response header) and
//! the public `x-amz-server-side-encryption: AES256`, which GET and HEAD return.
//! A multipart upload gets its key at creation; every part and the completed
//! object use it. Objects written in clear (before encryption, or with it off)
//! stay readable.

use base64::Engine as _;
use engine::crypto::{constant_time_eq, hmac_sha256, DataKey, MasterKey, CHUNK_TAG_BYTES};
use engine::format::{seal_chunk, seal_chunk_tagged, RecordHeader, RECORD_HEADER_BYTES};
use engine::index::Extent;
use engine::io::AlignedBuf;
use md5::{Digest, Md5};

use crate::error::{S3Error, S3ErrorCode, S3Result};

/// Internal metadata entry holding an object's (or upload's) wrapped data key.
pub(crate) const META_SSE_KEY: &str = engine::crypto::META_WRAPPED_KEY;
pub(crate) const HEADER_SSE: &str = "x-amz-server-side-encryption";
pub(crate) const SSE_AES256: &str = "AES256";
/// Object id used for the cipher of an inline body (an inline object has no
/// record; its data key is its own, so the IV needs no other uniqueness).
const INLINE_OBJECT_ID: u128 = 0;

/// The server's encryption configuration, shared by every shard.
#[derive(Clone, Debug, Default)]
pub struct EncryptionSettings {
    /// Needed to write encrypted objects and to read them back.
    pub master: Option<MasterKey>,
    /// Encrypt new objects that do not ask for it (the default, as on AWS).
    pub encrypt_new_objects: bool,
}

/// A bucket's default encryption (PutBucketEncryption): a new object of the
/// bucket whose request asks for no encryption gets it, even on a server
/// running with encryption off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketEncryption {
    pub algorithm: DefaultAlgorithm,
    /// Reported back by GetBucketEncryption and on the bucket's SSE-KMS
    /// objects: S3 Bucket Keys save KMS requests, which the built-in key
    /// store does not make, so it changes nothing else.
    pub bucket_key_enabled: bool,
}

/// What a bucket's default encryption asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefaultAlgorithm {
    /// SSE-S3.
    Aes256,
    /// SSE-KMS (`aws:kms`, or `aws:kms:dsse` when `dsse`) under the named key,
    /// or the account's default key.
    Kms { dsse: bool, key_id: Option<String> },
}

impl BucketEncryption {
    /// A configuration as the catalog stored it: `AES256`, `aws:kms` or
    /// `aws:kms:dsse`, the latter two optionally followed by `|<key id>`;
    /// None for an algorithm this binary does not know (written by a newer one).
    pub fn from_stored(sse_algorithm: &str, bucket_key_enabled: bool) -> Option<Self> {
        let (algorithm, key_id) = match sse_algorithm.split_once('|') {
            Some((algorithm, key_id)) => (algorithm, Some(key_id.to_owned())),
            None => (sse_algorithm, None),
        };
        let algorithm = match (algorithm, key_id) {
            (SSE_AES256, None) => DefaultAlgorithm::Aes256,
            (SSE_KMS, key_id) => DefaultAlgorithm::Kms {
                dsse: false,
                key_id,
            },
            (SSE_KMS_DSSE, key_id) => DefaultAlgorithm::Kms { dsse: true, key_id },
            _ => return None,
        };
        Some(BucketEncryption {
            algorithm,
            bucket_key_enabled,
        })
    }

    /// The form `from_stored` reads.
    pub fn to_stored(&self) -> String {
        match &self.algorithm {
            DefaultAlgorithm::Aes256 => SSE_AES256.to_owned(),
            DefaultAlgorithm::Kms { dsse, key_id } => {
                let name = if *dsse { SSE_KMS_DSSE } else { SSE_KMS };
                match key_id {
                    Some(key_id) => format!("{name}|{key_id}"),
                    None => name.to_owned(),
                }
            }
        }
    }
}

pub(crate) const SSE_KMS: &str = "aws:kms";
pub(crate) const SSE_KMS_DSSE: &str = "aws:kms:dsse";
pub(crate) const HEADER_KMS_KEY_ID: &str = "x-amz-server-side-encryption-aws-kms-key-id";
pub(crate) const HEADER_KMS_CONTEXT: &str = "x-amz-server-side-encryption-context";
pub(crate) const HEADER_BUCKET_KEY: &str = "x-amz-server-side-encryption-bucket-key-enabled";
/// Internal metadata entry: the canonical encryption context an SSE-KMS
/// object's data key was wrapped under (never a response header).
const META_KMS_CONTEXT: &str = "x-maxiofs-sse-context";
/// Stored-form tag of an SSE-KMS wrapped key: `k1:<key id>:<wrapped>`.
const KMS_STORED_PREFIX: &str = "k1:";

pub(crate) const HEADER_CUSTOMER_ALGORITHM: &str =
    "x-amz-server-side-encryption-customer-algorithm";
pub(crate) const HEADER_CUSTOMER_KEY_MD5: &str = "x-amz-server-side-encryption-customer-key-md5";
/// Stored-form tag of an SSE-C wrapped key: `c1:<salt>:<hmac>:<wrapped>`.
const CUSTOMER_STORED_PREFIX: &str = "c1:";
const CUSTOMER_SALT_BYTES: usize = 16;

/// Which SSE-C headers to read: the object's own, or a copy source's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CustomerHeaders {
    Request,
    CopySource,
}

impl CustomerHeaders {
    fn prefix(self) -> &'static str {
        match self {
            CustomerHeaders::Request => "x-amz-server-side-encryption-customer-",
            CustomerHeaders::CopySource => "x-amz-copy-source-server-side-encryption-customer-",
        }
    }

    /// The algorithm, key and key-MD5 header names (read on every GET: no
    /// formatting per request).
    fn names(self) -> [&'static str; 3] {
        match self {
            CustomerHeaders::Request => [
                HEADER_CUSTOMER_ALGORITHM,
                "x-amz-server-side-encryption-customer-key",
                HEADER_CUSTOMER_KEY_MD5,
            ],
            CustomerHeaders::CopySource => [
                "x-amz-copy-source-server-side-encryption-customer-algorithm",
                "x-amz-copy-source-server-side-encryption-customer-key",
                "x-amz-copy-source-server-side-encryption-customer-key-md5",
            ],
        }
    }
}

/// A client's SSE-C key, checked against its MD5.
pub(crate) struct CustomerKey {
    key: [u8; 32],
    key_md5_base64: String,
}

/// A customer's key travels in a header: AWS (and we) accept it only over
/// TLS, so it is never sent in clear.
pub(crate) fn require_tls_for_customer_keys(head: &http::RequestHead, tls: bool) -> S3Result<()> {
    let carries_key = head.headers.iter().any(|(name, _)| {
        name.starts_with(CustomerHeaders::Request.prefix())
            || name.starts_with(CustomerHeaders::CopySource.prefix())
    });
    if carries_key && !tls {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Requests specifying Server Side Encryption with Customer provided keys must be made \
             over a secure connection.",
        ));
    }
    Ok(())
}

/// The SSE-C key a request presents, if any (all three headers, AES256, a
/// 32-byte key whose MD5 matches).
pub(crate) fn customer_key(
    head: &http::RequestHead,
    which: CustomerHeaders,
) -> S3Result<Option<CustomerKey>> {
    let [algorithm, key, key_md5] = which.names().map(|name| head.header(name).map(str::trim));
    if algorithm.is_none() && key.is_none() && key_md5.is_none() {
        return Ok(None);
    }
    let invalid = |message: &str| S3Error::new(S3ErrorCode::InvalidArgument, message);
    if algorithm != Some(SSE_AES256) {
        return Err(invalid(
            "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
        ));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let key: [u8; 32] = key
        .and_then(|key| b64.decode(key).ok())
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| invalid("The secret key was invalid for the specified algorithm."))?;
    let computed_md5 = b64.encode(Md5::digest(key));
    if key_md5 != Some(computed_md5.as_str()) {
        return Err(invalid(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
        ));
    }
    Ok(Some(CustomerKey {
        key,
        key_md5_base64: computed_md5,
    }))
}

/// The stored form of a data key wrapped by a client's key: a salted HMAC of
/// the key (to recognise it later), then the wrapped data key.
fn customer_stored(customer: &CustomerKey, wrapped: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let salt: [u8; CUSTOMER_SALT_BYTES] = rand::random();
    let check = hmac_sha256(&salt, &[&customer.key]);
    format!(
        "{CUSTOMER_STORED_PREFIX}{}:{}:{wrapped}",
        b64.encode(salt),
        b64.encode(check)
    )
}

/// Opens an SSE-C stored key with the presented key: AccessDenied when it is
/// not the key the object was written with.
fn customer_unwrap(stored: &str, customer: &CustomerKey) -> S3Result<DataKey> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let damaged = || S3Error::internal("This object's stored encryption key is damaged.");
    let rest = stored
        .strip_prefix(CUSTOMER_STORED_PREFIX)
        .ok_or_else(damaged)?;
    let mut fields = rest.splitn(3, ':');
    let (Some(salt), Some(check), Some(wrapped)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(damaged());
    };
    let salt = b64.decode(salt).map_err(|_| damaged())?;
    let check = b64.decode(check).map_err(|_| damaged())?;
    if !constant_time_eq(&hmac_sha256(&salt, &[&customer.key]), &check) {
        return Err(S3Error::new(
            S3ErrorCode::AccessDenied,
            "The provided encryption key is not the one this object was encrypted with.",
        ));
    }
    MasterKey::customer(customer.key)
        .unwrap_data_key(wrapped)
        .map_err(|_| damaged())
}

fn is_customer_stored(stored: &str) -> bool {
    stored.starts_with(CUSTOMER_STORED_PREFIX)
}

/// A new object's data key and the metadata entries that record it.
pub(crate) type NewObjectKey = (DataKey, Vec<(String, String)>);

/// The data key a new object or multipart upload is written with, and the
/// metadata entries that record it; None when it is stored in clear. The
/// request's own choice (SSE-C or `x-amz-server-side-encryption`) comes first;
/// otherwise the destination bucket's default, then the server's, decide.
pub(crate) fn key_for_new_object(
    settings: &EncryptionSettings,
    kms: &crate::kms::KmsKeys,
    bucket_owner: &str,
    bucket_default: Option<&BucketEncryption>,
    head: &http::RequestHead,
) -> S3Result<Option<NewObjectKey>> {
    if let Some(customer) = customer_key(head, CustomerHeaders::Request)? {
        if head.header(HEADER_SSE).is_some() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
            ));
        }
        let (key, wrapped) = MasterKey::customer(customer.key).new_data_key();
        let meta = customer_meta(&customer, customer_stored(&customer, &wrapped));
        return Ok(Some((key, meta)));
    }
    let requested = match head.header(HEADER_SSE).map(str::trim) {
        None => false,
        Some(SSE_AES256) => true,
        Some(algorithm @ (SSE_KMS | SSE_KMS_DSSE)) => {
            return kms_key_for_new_object(
                kms,
                bucket_owner,
                algorithm == SSE_KMS_DSSE,
                head.header(HEADER_KMS_KEY_ID),
                head,
                bucket_default.is_some_and(|default| default.bucket_key_enabled),
            )
            .map(Some)
        }
        Some(_) => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "The encryption method specified is not supported",
            ))
        }
    };
    if head.header(HEADER_KMS_KEY_ID).is_some() || head.header(HEADER_KMS_CONTEXT).is_some() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Server Side Encryption with AWS KMS managed key requires HTTP header \
             x-amz-server-side-encryption : aws:kms",
        ));
    }
    if let (false, Some(default)) = (requested, bucket_default) {
        if let DefaultAlgorithm::Kms { dsse, key_id } = &default.algorithm {
            return kms_key_for_new_object(
                kms,
                bucket_owner,
                *dsse,
                key_id.as_deref(),
                head,
                default.bucket_key_enabled,
            )
            .map(Some);
        }
    }
    if !(requested || bucket_default.is_some() || settings.encrypt_new_objects) {
        return Ok(None);
    }
    let Some(master) = &settings.master else {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Server-side encryption is not configured on this server (no master key).",
        ));
    };
    let (key, wrapped) = master.new_data_key();
    let meta = vec![
        (META_SSE_KEY.to_owned(), wrapped),
        (HEADER_SSE.to_owned(), SSE_AES256.to_owned()),
    ];
    Ok(Some((key, meta)))
}

/// An SSE-KMS object's data key under the named key (or the account's
/// default one) and the request's encryption context.
fn kms_key_for_new_object(
    kms: &crate::kms::KmsKeys,
    bucket_owner: &str,
    dsse: bool,
    key_id: Option<&str>,
    head: &http::RequestHead,
    bucket_key_default: bool,
) -> S3Result<NewObjectKey> {
    let key = kms.resolve(bucket_owner, key_id)?;
    let context = crate::kms::canonical_context(head.header(HEADER_KMS_CONTEXT))?;
    let (data_key, wrapped) = key.wrapping_key(&context).new_data_key();
    let bucket_key = match head.header(HEADER_BUCKET_KEY).map(str::trim) {
        Some(value) if value.eq_ignore_ascii_case("true") => true,
        Some(value) if value.eq_ignore_ascii_case("false") => false,
        Some(_) => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "x-amz-server-side-encryption-bucket-key-enabled must be true or false.",
            ))
        }
        None => bucket_key_default,
    };
    let mut meta = vec![
        (
            META_SSE_KEY.to_owned(),
            format!("{KMS_STORED_PREFIX}{}:{wrapped}", key.id),
        ),
        (
            HEADER_SSE.to_owned(),
            if dsse { SSE_KMS_DSSE } else { SSE_KMS }.to_owned(),
        ),
        (HEADER_KMS_KEY_ID.to_owned(), key.arn.clone()),
    ];
    if !context.is_empty() {
        meta.push((META_KMS_CONTEXT.to_owned(), context));
    }
    if bucket_key {
        meta.push((HEADER_BUCKET_KEY.to_owned(), "true".to_owned()));
    }
    Ok((data_key, meta))
}

/// `k1:<key id>:<wrapped>` → (key id, wrapped).
fn kms_stored(stored: &str) -> Option<(&str, &str)> {
    stored.strip_prefix(KMS_STORED_PREFIX)?.split_once(':')
}

fn customer_meta(customer: &CustomerKey, stored: String) -> Vec<(String, String)> {
    vec![
        (META_SSE_KEY.to_owned(), stored),
        (HEADER_CUSTOMER_ALGORITHM.to_owned(), SSE_AES256.to_owned()),
        (
            HEADER_CUSTOMER_KEY_MD5.to_owned(),
            customer.key_md5_base64.clone(),
        ),
    ]
}

fn not_applicable() -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidRequest,
        "The encryption parameters are not applicable to this object.",
    )
}

/// The data key stored data was written with; None when it is in clear.
/// `customer` is the SSE-C key the request presents for this data.
pub(crate) fn key_of(
    settings: &EncryptionSettings,
    kms: &crate::kms::KmsKeys,
    meta: &[(String, String)],
    customer: Option<&CustomerKey>,
) -> S3Result<Option<DataKey>> {
    let stored = meta.iter().find(|(name, _)| name == META_SSE_KEY);
    if let Some((key_id, wrapped)) = stored.and_then(|(_, stored)| kms_stored(stored)) {
        if customer.is_some() {
            return Err(not_applicable());
        }
        let key = kms.get(key_id).ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::KmsNotFound,
                format!("Invalid keyId '{key_id}': the object's KMS key no longer exists."),
            )
        })?;
        if !key.enabled {
            return Err(S3Error::new(
                S3ErrorCode::KmsDisabled,
                format!("{} is disabled.", key.arn),
            ));
        }
        let context = meta
            .iter()
            .find(|(name, _)| name == META_KMS_CONTEXT)
            .map(|(_, context)| context.as_str())
            .unwrap_or("");
        return key
            .wrapping_key(context)
            .unwrap_data_key(wrapped)
            .map(Some)
            .map_err(|err| {
                tracing::error!(%err, key = key_id, "cannot open an SSE-KMS object's data key");
                S3Error::internal("This object's encryption key cannot be opened.")
            });
    }
    let wrapped = match (stored, customer) {
        (None, None) => return Ok(None),
        (None, Some(_)) => return Err(not_applicable()),
        (Some((_, stored)), Some(customer)) if is_customer_stored(stored) => {
            return customer_unwrap(stored, customer).map(Some)
        }
        (Some((_, stored)), None) if is_customer_stored(stored) => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The object was stored using a form of Server Side Encryption. The correct \
                 parameters must be provided to retrieve the object.",
            ))
        }
        (Some(_), Some(_)) => return Err(not_applicable()),
        (Some((_, wrapped)), None) => wrapped,
    };
    let Some(master) = &settings.master else {
        tracing::error!("an encrypted object was read but the server has no master key");
        return Err(S3Error::internal(
            "This object is encrypted and the server has no master key to read it.",
        ));
    };
    master.unwrap_data_key(wrapped).map(Some).map_err(|err| {
        tracing::error!(%err, "cannot open an object's data key");
        S3Error::internal("This object's encryption key cannot be opened.")
    })
}

/// The encryption response headers `meta` calls for: the SSE-S3 one, or the
/// SSE-C algorithm and key MD5.
pub(crate) fn response_headers(meta: &[(String, String)]) -> Vec<(String, String)> {
    let Some((_, stored)) = meta.iter().find(|(name, _)| name == META_SSE_KEY) else {
        return Vec::new();
    };
    if stored.starts_with(KMS_STORED_PREFIX) {
        return meta
            .iter()
            .filter(|(name, _)| {
                name == HEADER_SSE || name == HEADER_KMS_KEY_ID || name == HEADER_BUCKET_KEY
            })
            .cloned()
            .collect();
    }
    if !is_customer_stored(stored) {
        return vec![(HEADER_SSE.to_owned(), SSE_AES256.to_owned())];
    }
    meta.iter()
        .filter(|(name, _)| name == HEADER_CUSTOMER_ALGORITHM || name == HEADER_CUSTOMER_KEY_MD5)
        .cloned()
        .collect()
}

/// The SSE-C key's stored form, when `meta` records one: its objects' ETag
/// mixes it in.
fn customer_stored_key(meta: &[(String, String)]) -> Option<&str> {
    meta.iter()
        .find(|(name, _)| name == META_SSE_KEY)
        .map(|(_, stored)| stored.as_str())
        .filter(|stored| is_customer_stored(stored))
}

/// Whether an object's ETag is the plain MD5 of its bytes (not SSE-C's).
pub(crate) fn etag_is_md5(meta: &[(String, String)]) -> bool {
    customer_stored_key(meta).is_none()
}

/// The ETag of data written with `meta`: the MD5 of the plaintext, except for
/// SSE-C, whose ETag (as on AWS) is not that MD5 (it would let anyone without
/// the key test guesses of the content).
pub(crate) fn etag_for(md5: [u8; 16], meta: &[(String, String)]) -> String {
    match customer_stored_key(meta) {
        Some(stored) => {
            let mut hasher = Md5::new();
            hasher.update(md5);
            hasher.update(stored.as_bytes());
            hex::encode(hasher.finalize())
        }
        None => hex::encode(md5),
    }
}

/// Whether a metadata entry records how data is encrypted.
pub(crate) fn is_encryption_meta(name: &str) -> bool {
    name == META_SSE_KEY
        || name == HEADER_SSE
        || name == HEADER_KMS_KEY_ID
        || name == HEADER_BUCKET_KEY
        || name == META_KMS_CONTEXT
        || name == HEADER_CUSTOMER_ALGORITHM
        || name == HEADER_CUSTOMER_KEY_MD5
}

/// How a CopyObject treats the bytes.
pub(crate) enum CopyEncryption {
    /// The copy keeps the source's encryption: it shares the source's extents
    /// and these metadata entries (its wrapped key, if any).
    Share(Vec<(String, String)>),
    /// The copy changes key (or goes in or out of encryption): the bytes are
    /// decrypted with `source_key` and written anew under `dest`, a fresh data
    /// key, so that the old key never opens the new copy.
    Reencrypt {
        source_key: Option<DataKey>,
        dest: Option<NewObjectKey>,
    },
}

/// Decides a copy's encryption from the source and the request, as AWS does:
/// SSE-C headers ask for SSE-C under that key; `x-amz-server-side-encryption`
/// (or the destination bucket's default, or the server's) for SSE-S3; an
/// SSE-S3 source stays as it is unless SSE-C is asked for; an SSE-C source
/// needs its key and becomes SSE-S3 (or clear with encryption off) unless new
/// SSE-C headers say otherwise.
pub(crate) fn copy_encryption(
    settings: &EncryptionSettings,
    kms: &crate::kms::KmsKeys,
    dest_bucket: (&str, Option<&BucketEncryption>),
    source_meta: &[(String, String)],
    head: &http::RequestHead,
) -> S3Result<CopyEncryption> {
    let source_customer = customer_key(head, CustomerHeaders::CopySource)?;
    let source_key = key_of(settings, kms, source_meta, source_customer.as_ref())?;
    let stored = source_meta.iter().find(|(name, _)| name == META_SSE_KEY);
    let source_is_server_managed = stored.is_some_and(|(_, s)| !is_customer_stored(s));
    let (dest_owner, dest_bucket_default) = dest_bucket;
    let dest = key_for_new_object(settings, kms, dest_owner, dest_bucket_default, head)?;
    // What protects the bytes: SSE-C, a KMS key (with its context), or SSE-S3.
    let protection = |meta: &[(String, String)]| -> Option<String> {
        let stored = meta.iter().find(|(n, _)| n == META_SSE_KEY)?;
        let context = meta.iter().find(|(n, _)| n == META_KMS_CONTEXT);
        Some(match kms_stored(&stored.1) {
            Some((key_id, _)) => format!("kms:{key_id}:{}", context.map_or("", |(_, c)| c)),
            None if is_customer_stored(&stored.1) => "customer".to_owned(),
            None => "sse-s3".to_owned(),
        })
    };
    // The bytes stay as they are when the copy is protected as its source
    // is (or asks for nothing at all); otherwise they are written anew.
    let source_protection = protection(source_meta);
    let same_protection = match &dest {
        None => true,
        Some((_, meta)) => protection(meta) == source_protection,
    };
    if source_is_server_managed && same_protection {
        let kept = source_meta.iter().filter(|(n, _)| is_encryption_meta(n));
        return Ok(CopyEncryption::Share(kept.cloned().collect()));
    }
    if stored.is_none() && dest.is_none() {
        return Ok(CopyEncryption::Share(Vec::new()));
    }
    Ok(CopyEncryption::Reencrypt { source_key, dest })
}

/// Frames a chunk whose payload sits at `buf[64..64 + payload_len]`,
/// encrypting it first when there is a key. `last`: no chunk of the same
/// write (object or part) follows.
pub(crate) fn seal_record(
    buf: &mut AlignedBuf,
    key: Option<&DataKey>,
    object_id: u128,
    chunk_index: u32,
    payload_len_bytes: usize,
    last: bool,
) {
    match key {
        None => seal_chunk(buf, object_id, chunk_index, payload_len_bytes),
        Some(key) => {
            let payload = &mut buf.as_full_mut()[RECORD_HEADER_BYTES..][..payload_len_bytes];
            let tag = key.seal_chunk(object_id, chunk_index, last, payload);
            seal_chunk_tagged(buf, object_id, chunk_index, payload_len_bytes, &tag);
        }
    }
}

/// Checks and decrypts, in place, a chunk record read (and crc-verified) for
/// `extent`.
pub(crate) fn open_record(
    buf: &mut AlignedBuf,
    key: &DataKey,
    extent: &Extent,
    last: bool,
) -> S3Result<()> {
    let header = RecordHeader::decode(buf.as_slice())
        .map_err(|why| S3Error::internal(format!("chunk header: {why}")))?;
    let payload_len = extent.payload_len_bytes as usize;
    let payload = &mut buf.as_full_mut()[RECORD_HEADER_BYTES..][..payload_len];
    key.open_chunk(
        extent.object_id,
        extent.chunk_index,
        last,
        payload,
        &header.auth_tag,
    )
    .map_err(|err| {
        tracing::error!(segment = extent.segment, offset = extent.offset_bytes, %err,
                "encrypted chunk failed authentication");
        S3Error::internal("Stored data failed its integrity check.")
    })
}

pub(crate) use engine::crypto::is_last_of_its_write;

/// An inline body as stored: tag, then ciphertext.
pub(crate) fn seal_inline(key: &DataKey, plain: &[u8]) -> Vec<u8> {
    // One buffer, sealed in place behind room for the tag: a small PUT's
    // body is not copied (or allocated for) twice.
    let mut stored = Vec::with_capacity(CHUNK_TAG_BYTES + plain.len());
    stored.extend_from_slice(&[0u8; CHUNK_TAG_BYTES]);
    stored.extend_from_slice(plain);
    let (tag_field, ciphertext) = stored.split_at_mut(CHUNK_TAG_BYTES);
    let tag = key.seal_chunk(INLINE_OBJECT_ID, 0, true, ciphertext);
    tag_field.copy_from_slice(&tag);
    stored
}

/// The plaintext of an inline body stored by `seal_inline`.
pub(crate) fn open_inline(key: &DataKey, stored: &[u8]) -> S3Result<Vec<u8>> {
    if stored.len() < CHUNK_TAG_BYTES {
        return Err(S3Error::internal("encrypted inline body too short"));
    }
    let (tag, ciphertext) = stored.split_at(CHUNK_TAG_BYTES);
    let mut plain = ciphertext.to_vec();
    key.open_chunk(INLINE_OBJECT_ID, 0, true, &mut plain, tag)
        .map_err(|err| {
            tracing::error!(%err, "encrypted inline object failed authentication");
            S3Error::internal("Stored data failed its integrity check.")
        })?;
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extent(object_id: u128, chunk_index: u32) -> Extent {
        Extent {
            shard: 0,
            segment: 0,
            offset_bytes: 0,
            payload_len_bytes: 1,
            object_id,
            chunk_index,
        }
    }

    fn head(headers: &[(&str, &str)]) -> http::RequestHead {
        http::RequestHead {
            method: "PUT".into(),
            target: "/b/k".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The error code of a refused new-object key (`DataKey` has no `Debug`,
    /// on purpose, so `unwrap_err` is not available).
    fn refused(outcome: S3Result<Option<NewObjectKey>>) -> S3ErrorCode {
        match outcome {
            Err(err) => err.code,
            Ok(_) => panic!("expected the request to be refused"),
        }
    }

    fn is_sse_s3(key: &Option<NewObjectKey>) -> bool {
        key.as_ref().is_some_and(|(_, meta)| {
            response_headers(meta) == [(HEADER_SSE.to_owned(), SSE_AES256.to_owned())]
        })
    }

    #[test]
    fn a_bucket_default_encrypts_on_a_server_with_encryption_off() {
        let off = EncryptionSettings {
            master: Some(MasterKey::generate()),
            encrypt_new_objects: false,
        };
        let bucket_default = BucketEncryption {
            algorithm: DefaultAlgorithm::Aes256,
            bucket_key_enabled: false,
        };
        let bucket_default = Some(&bucket_default);
        let kms = crate::kms::KmsKeys::default();
        let owner = "111111111111";
        let plain = head(&[]);
        assert!(key_for_new_object(&off, &kms, owner, None, &plain)
            .unwrap()
            .is_none());
        assert!(is_sse_s3(
            &key_for_new_object(&off, &kms, owner, bucket_default, &plain).unwrap()
        ));
        // The request's own choice still comes first: here a KMS key the
        // account does not have.
        let asks_kms = head(&[(HEADER_SSE, "aws:kms")]);
        let code = refused(key_for_new_object(
            &off,
            &kms,
            owner,
            bucket_default,
            &asks_kms,
        ));
        assert_eq!(code, S3ErrorCode::KmsNotFound);
        // A copy of a clear object into such a bucket is encrypted anew.
        let copy = copy_encryption(&off, &kms, (owner, bucket_default), &[], &plain).unwrap();
        assert!(matches!(
            copy,
            CopyEncryption::Reencrypt {
                source_key: None,
                dest: Some(_)
            }
        ));
        let copy = copy_encryption(&off, &kms, (owner, None), &[], &plain).unwrap();
        assert!(matches!(copy, CopyEncryption::Share(meta) if meta.is_empty()));
        // Without a master key nothing is written in clear that asked for a key.
        let keyless = EncryptionSettings::default();
        let code = refused(key_for_new_object(
            &keyless,
            &kms,
            owner,
            bucket_default,
            &plain,
        ));
        assert_eq!(code, S3ErrorCode::InvalidRequest);
    }

    #[test]
    fn bucket_encryption_stored_form() {
        for encryption in [
            BucketEncryption {
                algorithm: DefaultAlgorithm::Aes256,
                bucket_key_enabled: true,
            },
            BucketEncryption {
                algorithm: DefaultAlgorithm::Kms {
                    dsse: false,
                    key_id: None,
                },
                bucket_key_enabled: false,
            },
            BucketEncryption {
                algorithm: DefaultAlgorithm::Kms {
                    dsse: true,
                    key_id: Some("alias/backups".into()),
                },
                bucket_key_enabled: true,
            },
        ] {
            let stored = encryption.to_stored();
            assert_eq!(
                BucketEncryption::from_stored(&stored, encryption.bucket_key_enabled),
                Some(encryption),
                "{stored}"
            );
        }
        assert_eq!(BucketEncryption::from_stored("aws:rot13", false), None);
        assert_eq!(BucketEncryption::from_stored("AES256|key", false), None);
    }

    #[test]
    fn sse_kms_objects_name_their_key_and_open_only_with_it() {
        let settings = EncryptionSettings::default();
        let mut kms = crate::kms::KmsKeys::default();
        kms.insert(
            crate::kms::KmsKey {
                id: "k1".into(),
                account: "111111111111".into(),
                arn: "arn:aws:kms:us-east-1:111111111111:key/k1".into(),
                enabled: true,
                versions: vec![[3u8; 32]],
            },
            &[crate::kms::DEFAULT_KEY_ALIAS.to_owned()],
        );
        let request = head(&[
            (HEADER_SSE, "aws:kms"),
            (HEADER_KMS_CONTEXT, "eyJhIjoiYiJ9"),
        ]);
        let (data_key, meta) = key_for_new_object(&settings, &kms, "111111111111", None, &request)
            .unwrap()
            .unwrap();
        let shown = response_headers(&meta);
        assert!(shown.contains(&(HEADER_SSE.to_owned(), "aws:kms".to_owned())));
        assert!(shown.contains(&(
            HEADER_KMS_KEY_ID.to_owned(),
            "arn:aws:kms:us-east-1:111111111111:key/k1".to_owned()
        )));
        assert!(!shown.iter().any(|(name, _)| name == META_KMS_CONTEXT));
        let opened = key_of(&settings, &kms, &meta, None).unwrap().unwrap();
        let (sealed, other) = (
            data_key.seal_chunk(1, 0, true, &mut [0u8; 16]),
            opened.seal_chunk(1, 0, true, &mut [0u8; 16]),
        );
        assert_eq!(sealed, other, "the same data key");
        // Another account cannot name the key; a context-less read of a
        // context-bound key does not open.
        let code = refused(key_for_new_object(
            &settings,
            &kms,
            "222222222222",
            None,
            &request,
        ));
        assert_eq!(code, S3ErrorCode::KmsNotFound);
        let mut stripped = meta.clone();
        stripped.retain(|(name, _)| name != META_KMS_CONTEXT);
        assert!(key_of(&settings, &kms, &stripped, None).is_err());
    }

    #[test]
    fn last_chunk_of_each_write() {
        // A completed upload: part A (two chunks), part B (one chunk).
        let extents = [extent(1, 0), extent(1, 1), extent(2, 0)];
        let flags: Vec<bool> = (0..3).map(|i| is_last_of_its_write(&extents, i)).collect();
        assert_eq!(flags, [false, true, true]);
    }

    #[test]
    fn inline_bodies_round_trip_and_detect_tampering() {
        let (key, _) = MasterKey::generate().new_data_key();
        let stored = seal_inline(&key, b"small object");
        assert_ne!(&stored[CHUNK_TAG_BYTES..], b"small object");
        assert_eq!(open_inline(&key, &stored).unwrap(), b"small object");
        let mut tampered = stored.clone();
        tampered[CHUNK_TAG_BYTES + 1] ^= 1;
        assert!(open_inline(&key, &tampered).is_err());
        assert!(open_inline(&key, &stored[..10]).is_err());
        let (other, _) = MasterKey::generate().new_data_key();
        assert!(open_inline(&other, &stored).is_err());
    }
}
