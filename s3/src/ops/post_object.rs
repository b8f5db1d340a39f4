//! PostObject: browser form uploads (an HTML form, or an SDK's presigned
//! POST), AWS's "POST Object".
//!
//! Owns: turning a form into a write. The credentials are form fields: SigV4
//! (`x-amz-credential`, `x-amz-signature` = hex HMAC of the base64 policy
//! under the day's signing key) or SigV2 (`AWSAccessKeyId`, `signature` =
//! base64 HMAC-SHA1 of the policy under the secret), or none (anonymous).
//! Then the POST policy (`crate::post_policy`), `${filename}` in field
//! values, the fields that mean what PutObject's headers mean (content
//! headers, metadata, `tagging`, `acl`, SSE, checksums, storage class),
//! authorization of `s3:PutObject` on the key, the file through the same
//! ingest, quota and throttling as PutObject, and AWS's three answers (204
//! or 200 empty, 201 with `PostResponse`, 303 to `success_action_redirect`).
//!
//! Must not touch: multipart parsing (`crate::form`), signature primitives
//! (`crate::auth`), the policy engine (`crate::authz`). The router sends
//! every plain `POST /bucket` here; a body that is not a form is answered
//! AWS's PreconditionFailed.
//!
//! A write never starts before its caller is known and allowed:
//! 1. the fields before the file are read (at most 20 KiB, `FormReader`);
//! 2. the signature over the policy is verified, then the policy;
//! 3. `s3:PutObject` is authorized; until then every refusal closes the
//!    connection without reading the rest of the body, as for any
//!    unauthenticated request;
//! 4. the file is streamed into chunks, the rest of the form, the size
//!    range and the integrity fields are checked, and only then is the
//!    object committed. A failure before the commit abandons the chunks
//!    already written (the ingest path's hold): nothing is stored.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use engine::crypto::DataKey;
use engine::index::{IndexOp, ObjectRecord, WriteCondition};
use engine::limits::INLINE_OBJECT_BYTES_MAX;
use http::{BodyLen, Exchange, RequestHead};
use iam::snapshot::KeyIdentity;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::auth::sigv2::{self, SignatureV2};
use crate::auth::sigv4::{self, Credential, Signature, SigningKeyCache};
use crate::auth::AuthError;
use crate::authz::{Authenticated, S3Facts};
use crate::body::{ByteSource, PayloadReader};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::form::{file_count_error, FormFields, FormReader};
use crate::names::ObjectKey;
use crate::ops::object::{self, Inline};
use crate::ops::RequestContext;
use crate::post_policy::PostPolicy;
use crate::router::{Endpoint, Route};
use crate::shard::{BucketInfo, CatalogSnapshot, Shard};

/// `s3:authType` of a form upload, as AWS names it.
const AUTH_TYPE_POST: &str = "POST";
/// `s3:signatureversion` of a SigV2 form.
const SIGNATURE_V2: &str = "AWS";
/// Request headers the form's head keeps: the policy engine's `aws:Referer`
/// and `aws:UserAgent`, and the host the answer's `Location` names.
const REQUEST_HEADERS_KEPT: [&str; 3] = ["host", "user-agent", "referer"];
/// Form fields that are PutObject headers of the same name.
const HEADER_FIELDS: [&str; 9] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-md5",
    "content-type",
    "expires",
    "x-amz-storage-class",
    "x-amz-security-token",
];
/// Prefixes of form fields that are PutObject headers of the same name:
/// user metadata, SSE-S3 and SSE-C, and checksums (value or algorithm).
const HEADER_FIELD_PREFIXES: [&str; 3] = [
    "x-amz-meta-",
    "x-amz-server-side-encryption",
    "x-amz-checksum-",
];
/// Fields that are signed bytes or signatures: `${filename}` is not
/// expanded in them.
const SIGNED_FIELDS: [&str; 3] = ["policy", "x-amz-signature", "signature"];
/// Escaping of the bucket, key and ETag appended to a redirect URL.
const QUERY_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `POST /bucket` with a `multipart/form-data` body.
pub async fn post_object(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let mut admitted = false;
    match post_object_store(shard, ctx, ex, &mut admitted).await {
        Ok(stored) => post_object_respond(shard, ctx, ex, stored).await,
        Err(err) => {
            // The rest of the body is not read for a caller not yet allowed:
            // the answer goes out and the connection closes.
            if !admitted {
                ex.mark_unauthenticated();
            }
            Err(err)
        }
    }
}

/// What the exchange says about the request, taken before the body reader
/// borrows the exchange for the rest of the upload.
struct RequestFacts {
    /// The request's own head, reduced to `REQUEST_HEADERS_KEPT`.
    head: RequestHead,
    peer: SocketAddr,
    tls: bool,
    body_len_bytes: Option<u64>,
}

/// A committed upload and how to answer it.
struct Stored {
    bucket: String,
    key: String,
    etag: String,
    headers: Vec<(String, String)>,
    answer: Answer,
    host: Option<String>,
    tls: bool,
}

/// AWS's answers to a successful form upload.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// 303 to this URL, with `bucket`, `key` and `etag` appended.
    Redirect(String),
    /// 200 or 204 without a body, or 201 with a `PostResponse` document.
    Status(u16),
}

/// How the form was signed; AWS exempts different fields from the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signer {
    V4,
    V2,
}

impl Signer {
    /// Fields no policy condition needs to name.
    fn exempt(self, name: &str) -> bool {
        let listed: &[&str] = match self {
            Signer::V4 => &["x-amz-signature", "file", "policy"],
            Signer::V2 => &["awsaccesskeyid", "signature", "file", "policy"],
        };
        listed.contains(&name) || name.starts_with("x-ignore-")
    }
}

/// The fields before the file as the policy sees them: names lowercase,
/// repeated fields joined by commas (AWS's rule), `${filename}` replaced by
/// the file's name (its last path segment).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    fn new(read: &FormFields) -> Form {
        let filename = read
            .file
            .as_ref()
            .and_then(|file| file.filename.as_deref())
            .map_or("", base_name);
        let mut fields: Vec<(String, String)> = Vec::new();
        for (name, value) in &read.fields {
            let value = match SIGNED_FIELDS.contains(&name.as_str()) {
                true => value.clone(),
                false => value.replace("${filename}", filename),
            };
            match fields.iter_mut().find(|(known, _)| known == name) {
                Some((_, joined)) => {
                    joined.push(',');
                    joined.push_str(&value);
                }
                None => fields.push((name.clone(), value)),
            }
        }
        Form { fields }
    }

    fn get(&self, name: &str) -> Option<&str> {
        let found = self.fields.iter().find(|(known, _)| known == name);
        found.map(|(_, value)| value.as_str())
    }
}

/// `C:\dir\a.txt` and `dir/a.txt` give `a.txt`, as AWS takes the name.
fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

async fn post_object_store(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    admitted: &mut bool,
) -> S3Result<Stored> {
    let bucket = ctx.bucket_info(shard)?;
    let boundary = crate::form::boundary_of(ex.head().header("content-type"))?;
    let request = request_facts(shard, ex);
    let mut payload = PayloadReader::new(ex, &ctx.payload)?;
    let throttle = crate::throttle::of_tenant(&ctx.catalog, &bucket.owner_account);
    payload.set_throttle(throttle);
    let mut reader = FormReader::new(payload, &boundary);
    let admission = post_object_admit(shard, ctx, &bucket, &mut reader, &request).await?;
    *admitted = true;
    post_object_write(shard, ctx, &bucket, reader, &request, admission).await
}

/// What steps 1 to 3 established: the form, its fields as a head, the key,
/// and the sizes the policy allows the file.
struct Admission {
    form: Form,
    head: RequestHead,
    key: ObjectKey,
    size_range: Option<(u64, u64)>,
}

/// Steps 1 to 3: the fields, the signature and policy, and the policy
/// engine's consent. The file is not read yet.
async fn post_object_admit<S: ByteSource>(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    bucket: &BucketInfo,
    reader: &mut FormReader<S>,
    request: &RequestFacts,
) -> S3Result<Admission> {
    let read = reader.read_fields().await?;
    let form = Form::new(&read);
    let head = post_object_head(&request.head, &form)?;
    let policy = post_object_authenticate(shard, ctx, &form, &head)?;
    let key = form.get("key").ok_or_else(|| missing_field("key"))?;
    let key = ObjectKey::parse(key)?;
    ctx.route.key = Some(key.clone());
    if let Some((policy, signer)) = &policy {
        policy.check_expiration(ctx.now_ms)?;
        // The URL's bucket is a field the policy must name, whatever the
        // form says.
        let mut fields = form.fields.clone();
        fields.retain(|(name, _)| name != "bucket");
        fields.push(("bucket".to_owned(), bucket.name.clone()));
        policy.check_fields(&fields, |name| signer.exempt(name))?;
    }
    if read.file.is_none() {
        return Err(file_count_error(0));
    }
    post_object_check_reserved(ctx)?;
    crate::sse::require_tls_for_customer_keys(
        &head,
        request.tls || shard.settings.transport.sse_c_allow_plain_http,
    )?;
    post_object_authorize(shard, ctx, bucket, &head, request)?;
    let size_range = policy.and_then(|(policy, _)| policy.length_range());
    Ok(Admission {
        form,
        head,
        key,
        size_range,
    })
}

/// Step 4: the object's metadata, its bytes, the rest of the form, and the
/// commit.
async fn post_object_write(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    bucket: &BucketInfo,
    mut reader: FormReader<PayloadReader<'_, '_>>,
    request: &RequestFacts,
    admission: Admission,
) -> S3Result<Stored> {
    let Admission {
        form,
        head,
        key,
        size_range,
    } = admission;
    let (mut meta, data_key) = post_object_meta(shard, ctx, bucket, &form, &head)?;
    let content_md5 = object::parse_content_md5(head.header("content-md5"))?;
    let checksum_expected = object::header_checksum(&head)?;
    let checksum_algorithm = object::put_checksum_algorithm(&head, checksum_expected.as_ref())?
        .or(Some(crate::checksum::ChecksumAlgorithm::DEFAULT));
    // The file is at most what the body has left after the fields, so this
    // reservation covers it; the commit charges the real size.
    let declared = request
        .body_len_bytes
        .map(|len| len.saturating_sub(reader.body_bytes_consumed()));
    let at_commit = declared.is_some_and(|len| len <= INLINE_OBJECT_BYTES_MAX as u64);
    let quota = shard.quota_hold(bucket, declared, 1, at_commit).await?;
    let mut file = FileBytes {
        form: &mut reader,
        size_bytes: 0,
        size_bytes_max: size_range.map(|(_, max)| max),
    };
    let mut ingested = object::ingest(
        shard,
        bucket,
        &mut file,
        checksum_algorithm,
        Inline::Allowed,
        data_key.as_ref(),
    )
    .await?;
    ingested.quota = quota;
    // The form must end properly (one file, a closing boundary) and a signed
    // payload must match, before anything is committed.
    let payload = reader.finish().await?;
    payload.finish()?;
    if let Some((min, _)) = size_range.filter(|(min, _)| ingested.size_bytes < *min) {
        return Err(too_small(ingested.size_bytes, min));
    }
    object::verify_integrity(&ingested, content_md5, checksum_expected)?;
    let etag = crate::sse::etag_for(ingested.md5.known()?, &meta);
    if let Some(checksum) = &ingested.checksum {
        meta.push((
            checksum.algorithm().header_name().to_string(),
            checksum.to_base64(),
        ));
    }
    let mut headers = object::stored_response_headers(&etag, ingested.checksum.as_ref());
    headers.extend(crate::sse::response_headers(&meta));
    let record = ObjectRecord {
        size_bytes: ingested.size_bytes,
        etag: etag.clone(),
        last_modified_ms: ctx.now_ms,
        meta,
        body: ingested.body,
    };
    let version = bucket.versioning.version_write();
    headers.extend(crate::ops::versioning::version_id_header(version));
    let op = IndexOp::PutObject {
        bucket_id: bucket.id,
        key: key.as_bytes().to_vec(),
        record,
        condition: WriteCondition::None,
        version,
        md5_at_commit: None,
    };
    let version_id = crate::ops::versioning::version_id_header(version);
    let event = crate::notify::ObjectEvent {
        name: crate::notify::EventName::ObjectCreatedPost,
        key: key.as_str(),
        size_bytes: ingested.size_bytes,
        etag: &etag,
        version_id: version_id.as_ref().map(|(_, id)| id.as_str()),
    };
    let events = ctx.object_event(shard, request.peer.ip(), bucket, event);
    shard
        .commit_write(
            bucket.owner_shard,
            (op, events),
            ingested.hold,
            ingested.quota,
        )
        .await?;
    Ok(Stored {
        bucket: bucket.name.clone(),
        key: key.as_str().to_owned(),
        etag,
        headers,
        answer: post_object_answer(&form),
        host: request.head.header("host").map(str::to_owned),
        tls: request.tls,
    })
}

/// An object's metadata entries, as `ObjectRecord::meta` holds them.
type Meta = Vec<(String, String)>;

/// The metadata PutObject would store for the same headers (content
/// headers, user metadata, tags, ACL, retention, encryption), and the data
/// key the bytes are sealed with.
fn post_object_meta(
    shard: &Shard,
    ctx: &RequestContext,
    bucket: &BucketInfo,
    form: &Form,
    head: &RequestHead,
) -> S3Result<(Meta, Option<DataKey>)> {
    let mut meta = object::put_stored_headers(head, ctx)?;
    // The form's `acl` field, checked against ownership and Block Public
    // Access like a PUT's `x-amz-acl`.
    meta.extend(crate::ops::acl::meta_for_new_object(
        ctx,
        bucket,
        head,
        form.get("acl"),
    )?);
    meta.extend(crate::ops::object_lock::lock_meta_for_new_object(
        bucket, head, ctx.now_ms,
    )?);
    let sse = crate::sse::key_for_new_object(
        &shard.settings.encryption,
        &ctx.catalog.kms,
        &bucket.owner_account,
        bucket.encryption.as_ref(),
        head,
    )?;
    let (data_key, sse_meta) = sse.unzip();
    meta.extend(sse_meta.into_iter().flatten());
    Ok((meta, data_key))
}

fn request_facts(shard: &Shard, ex: &Exchange<'_>) -> RequestFacts {
    let original = ex.head();
    let headers = original
        .headers
        .iter()
        .filter(|(name, _)| REQUEST_HEADERS_KEPT.contains(&name.as_str()))
        .cloned()
        .collect();
    RequestFacts {
        head: RequestHead {
            method: original.method.clone(),
            target: original.target.clone(),
            headers,
        },
        peer: ex.peer_addr(),
        tls: shard.secure_transport(ex),
        body_len_bytes: ex.body_len_declared(),
    }
}

/// The form as a request head: the fields that mean what PutObject's headers
/// mean, under those headers' names (`acl` as `x-amz-acl`, the `tagging`
/// document as `x-amz-tagging`), so PutObject's helpers (stored headers,
/// checksums, SSE, ACL, tags, object lock) and the policy engine's condition
/// keys (`s3:x-amz-acl`, `s3:RequestObjectTag/...`) read them unchanged.
fn post_object_head(request: &RequestHead, form: &Form) -> S3Result<RequestHead> {
    let mut headers = request.headers.clone();
    for (name, value) in &form.fields {
        let header = match name.as_str() {
            "acl" => "x-amz-acl",
            "tagging" => {
                headers.push(("x-amz-tagging".to_owned(), tagging_header(value)?));
                continue;
            }
            name if HEADER_FIELDS.contains(&name) => name,
            name if HEADER_FIELD_PREFIXES.iter().any(|p| name.starts_with(p)) => name,
            _ => continue,
        };
        check_header_field(header, value)?;
        headers.push((header.to_owned(), value.clone()));
    }
    Ok(RequestHead {
        method: request.method.clone(),
        target: request.target.clone(),
        headers,
    })
}

/// The `tagging` field's XML `Tagging` document as an `x-amz-tagging` value.
fn tagging_header(document: &str) -> S3Result<String> {
    let tags = crate::ops::tagging::TagSet(crate::xml::parse_tagging(document.as_bytes())?);
    tags.validate()?;
    Ok(tags.to_stored())
}

/// A field that becomes a stored header must be one HTTP can carry back on
/// GET: a token for a name, no control bytes but tab in a value. A header
/// could never arrive otherwise; a form field can.
fn check_header_field(name: &str, value: &str) -> S3Result<()> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let name_ok = !name.is_empty() && name.bytes().all(token);
    let value_ok = !value.bytes().any(|b| b.is_ascii_control() && b != b'\t');
    if name_ok && value_ok {
        return Ok(());
    }
    Err(S3Error::new(
        S3ErrorCode::InvalidArgument,
        format!("The form field {name} cannot be stored as an object header."),
    )
    .with_detail("ArgumentName", name))
}

/// Verifies the form's signature over its policy and who made it, and
/// returns the policy. A form with neither policy nor signature is
/// anonymous (or keeps the identity of a header-signed request).
fn post_object_authenticate(
    shard: &Shard,
    ctx: &mut RequestContext,
    form: &Form,
    head: &RequestHead,
) -> S3Result<Option<(PostPolicy, Signer)>> {
    let has = |name| form.get(name).is_some();
    let signer = if has("x-amz-signature") || has("x-amz-credential") || has("x-amz-algorithm") {
        Signer::V4
    } else if has("signature") || has("awsaccesskeyid") {
        Signer::V2
    } else if has("policy") {
        return Err(missing_field("AWSAccessKeyId"));
    } else {
        return Ok(None);
    };
    let catalog = shard.catalog();
    let (identity, access_key_id) = match signer {
        Signer::V4 => post_object_verify_v4(shard, &catalog, form)?,
        Signer::V2 => post_object_verify_v2(shard, &catalog, form)?,
    };
    crate::service::check_session(&identity, head, &[], ctx.now_ms)?;
    crate::service::check_tenant_active(&catalog, &identity)?;
    shard.note_key_use(&access_key_id, "s3", ctx.now_ms);
    ctx.auth = Authenticated {
        identity: Some(identity),
        signature_version: match signer {
            Signer::V4 => sigv4::ALGORITHM,
            Signer::V2 => SIGNATURE_V2,
        },
        auth_type: AUTH_TYPE_POST,
    };
    let policy = form.get("policy").ok_or_else(|| missing_field("policy"))?;
    Ok(Some((PostPolicy::parse(policy)?, signer)))
}

/// SigV4: `x-amz-signature` is the hex HMAC-SHA256 of the `policy` field,
/// as sent, under the signing key of `x-amz-credential`'s scope.
fn post_object_verify_v4(
    shard: &Shard,
    catalog: &CatalogSnapshot,
    form: &Form,
) -> S3Result<(Arc<KeyIdentity>, String)> {
    let field = |name: &'static str| form.get(name).ok_or_else(|| missing_field(name));
    let algorithm = field("x-amz-algorithm")?;
    let credential_text = field("x-amz-credential")?;
    let date = field("x-amz-date")?;
    let signature = field("x-amz-signature")?;
    let policy = field("policy")?;
    if algorithm != sigv4::ALGORITHM {
        return Err(invalid_field(
            "x-amz-algorithm",
            algorithm,
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
        ));
    }
    let credential = Credential::parse(credential_text)
        .map_err(|why| invalid_field("x-amz-credential", credential_text, why))?;
    if sigv4::AmzDate::parse(date).is_none() {
        return Err(invalid_field(
            "x-amz-date",
            date,
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
        ));
    }
    if credential.scope.service != sigv4::SERVICE_S3 {
        return Err(invalid_field(
            "x-amz-credential",
            credential_text,
            "The credential scope service must be s3",
        ));
    }
    let region_expected = shard.settings.region.as_str();
    if credential.scope.region != region_expected {
        return Err(AuthError::RegionMismatch {
            region_sent: credential.scope.region.clone(),
            region_expected: region_expected.to_owned(),
        }
        .into());
    }
    let identity = known_key(catalog, &credential.access_key_id)?;
    let mut cache = shard.signing_keys.borrow_mut();
    if !signature_v4_matches(&mut cache, &credential, &identity.secret, policy, signature) {
        return Err(AuthError::SignatureMismatch.into());
    }
    Ok((identity, credential.access_key_id))
}

/// Whether `sent` (hex) is the SigV4 signature of `policy` for `credential`
/// and `secret`; compared in constant time.
fn signature_v4_matches(
    cache: &mut SigningKeyCache,
    credential: &Credential,
    secret: &str,
    policy: &str,
    sent: &str,
) -> bool {
    let signing_key = cache.signing_key(&credential.access_key_id, secret, &credential.scope);
    let expected = signing_key.sign(policy.as_bytes());
    Signature::from_hex(sent).is_some_and(|sent| sent.ct_matches(&expected))
}

/// Whether `sent` (base64) is the SigV2 signature of `policy` for `secret`;
/// compared in constant time.
fn signature_v2_matches(secret: &str, policy: &str, sent: &str) -> bool {
    let expected = sigv2::sign_v2(secret, policy);
    SignatureV2::from_base64(sent.trim()).is_some_and(|sent| sent.ct_matches(&expected))
}

/// SigV2: `signature` is the base64 HMAC-SHA1 of the `policy` field, as
/// sent, under the secret. Accepted only where SigV2 headers are.
fn post_object_verify_v2(
    shard: &Shard,
    catalog: &CatalogSnapshot,
    form: &Form,
) -> S3Result<(Arc<KeyIdentity>, String)> {
    if !shard.settings.sigv2_enabled {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "The authorization mechanism you have provided is not supported. Please use \
             AWS4-HMAC-SHA256.",
        ));
    }
    let access_key_id = form
        .get("awsaccesskeyid")
        .ok_or_else(|| missing_field("AWSAccessKeyId"))?;
    let signature = form
        .get("signature")
        .ok_or_else(|| missing_field("signature"))?;
    let policy = form.get("policy").ok_or_else(|| missing_field("policy"))?;
    let identity = known_key(catalog, access_key_id)?;
    if !signature_v2_matches(&identity.secret, policy, signature) {
        return Err(AuthError::SignatureMismatch.into());
    }
    Ok((identity, access_key_id.to_owned()))
}

fn known_key(catalog: &CatalogSnapshot, access_key_id: &str) -> S3Result<Arc<KeyIdentity>> {
    let identity = catalog.keys.get(access_key_id).cloned();
    identity.ok_or_else(|| AuthError::AccessKeyUnknown.into())
}

/// Veeam's SOSAPI documents cannot be written through a form either.
fn post_object_check_reserved(ctx: &RequestContext) -> S3Result<()> {
    let as_put = Route {
        endpoint: Endpoint::PutObject,
        ..ctx.route.clone()
    };
    if !crate::ops::sosapi::is_virtual_request(&as_put) {
        return Ok(());
    }
    Err(S3Error::new(
        S3ErrorCode::AccessDenied,
        format!(
            "The key {} is reserved by the server (Veeam SOSAPI) and cannot be written.",
            ctx.key()?.as_str()
        ),
    ))
}

/// `s3:PutObject` on the key, asked of the policy engine as for PutObject,
/// with the form's fields as the request's condition keys; tags and an ACL
/// on the new object need `s3:PutObjectTagging` and `s3:PutObjectAcl` too,
/// as PutObject's headers do.
fn post_object_authorize(
    shard: &Shard,
    ctx: &RequestContext,
    bucket: &BucketInfo,
    head: &RequestHead,
    request: &RequestFacts,
) -> S3Result<()> {
    if ctx.auth.is_system_root() {
        return Ok(());
    }
    let key = ctx.key()?.as_str();
    let existing_tags = crate::authz::needs_existing_tags(&ctx.auth, Some(bucket))
        .then(|| crate::ops::existing_object_tags(shard, bucket, key, None))
        .flatten();
    let facts = S3Facts {
        head,
        route: &ctx.route,
        auth: &ctx.auth,
        peer: request.peer,
        tls: request.tls,
        now_ms: ctx.now_ms,
        existing_tags: existing_tags.as_deref(),
        object_acl: None,
    };
    let resource = crate::authz::resource_arn(Some(&bucket.name), Some(key));
    crate::authz::authorize(&facts, "s3:PutObject", &resource, Some(bucket))?;
    if head.header("x-amz-tagging").is_some() {
        crate::authz::authorize(&facts, "s3:PutObjectTagging", &resource, Some(bucket))?;
    }
    if head.header("x-amz-acl").is_some() {
        crate::authz::authorize_new_object_acl(&facts, &resource, Some(bucket))?;
    }
    Ok(())
}

/// `success_action_redirect` (or the older `redirect`) when it is a URL;
/// AWS ignores one it cannot interpret. Else `success_action_status`: 200,
/// 201, or 204 for anything else.
fn post_object_answer(form: &Form) -> Answer {
    let usable = |url: &&str| {
        let lower = url.to_ascii_lowercase();
        let scheme = lower.starts_with("http://") || lower.starts_with("https://");
        scheme && url.bytes().all(|b| b.is_ascii_graphic())
    };
    let redirect = form
        .get("success_action_redirect")
        .filter(usable)
        .or_else(|| form.get("redirect").filter(usable));
    if let Some(url) = redirect {
        return Answer::Redirect(url.to_owned());
    }
    match form.get("success_action_status").map(str::trim) {
        Some("200") => Answer::Status(200),
        Some("201") => Answer::Status(201),
        _ => Answer::Status(204),
    }
}

async fn post_object_respond(
    shard: &Shard,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
    stored: Stored,
) -> S3Result<()> {
    let mut headers = stored.headers.clone();
    let location = object_location(shard, &stored);
    let status = match &stored.answer {
        Answer::Redirect(url) => {
            headers.push(("location".to_owned(), redirect_target(url, &stored)));
            303
        }
        Answer::Status(status) => {
            headers.push(("location".to_owned(), location.clone()));
            *status
        }
    };
    if status != 201 {
        return ctx.respond_owned(ex, status, &headers).await;
    }
    let mut body = Vec::new();
    let mut w = crate::xml::XmlWriter::document(&mut body);
    w.open("PostResponse");
    w.text("Location", &location);
    w.text("Bucket", &stored.bucket);
    w.text("Key", &stored.key);
    w.etag("ETag", &stored.etag);
    w.close("PostResponse");
    headers.push(("content-type".to_owned(), "application/xml".to_owned()));
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    ctx.send_head(ex, 201, &refs, BodyLen::Fixed(body.len() as u64))
        .await?;
    let written = ex.write_body_copied(&body).await;
    written.map_err(|_| S3Error::internal("client went away"))
}

/// The new object's URL, in the addressing style the request used.
fn object_location(shard: &Shard, stored: &Stored) -> String {
    let scheme = if stored.tls { "https" } else { "http" };
    let mut path = String::new();
    sigv4::uri_encode(&mut path, &stored.key, false);
    let domains = &shard.settings.virtual_host_domains;
    match stored.host.as_deref() {
        Some(host) if crate::router::host_bucket(host, domains).is_some() => {
            format!("{scheme}://{host}/{path}")
        }
        Some(host) => format!("{scheme}://{host}/{}/{path}", stored.bucket),
        None => format!("/{}/{path}", stored.bucket),
    }
}

/// The redirect URL with `bucket`, `key` and the quoted `etag` appended as
/// query parameters, as AWS does.
fn redirect_target(url: &str, stored: &Stored) -> String {
    let escape = |text: &str| utf8_percent_encode(text, QUERY_ESCAPES).to_string();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{separator}bucket={}&key={}&etag={}",
        escape(&stored.bucket),
        escape(&stored.key),
        escape(&format!("\"{}\"", stored.etag))
    )
}

/// The file part, refused as soon as it passes the policy's largest size
/// (its bytes past the limit are never stored).
struct FileBytes<'f, S> {
    form: &'f mut FormReader<S>,
    size_bytes: u64,
    size_bytes_max: Option<u64>,
}

impl<S: ByteSource> ByteSource for FileBytes<'_, S> {
    async fn read_full(&mut self, dst: &mut [u8]) -> S3Result<usize> {
        let n = self.form.read_full(dst).await?;
        self.size_bytes += n as u64;
        if let Some(max) = self.size_bytes_max.filter(|max| self.size_bytes > *max) {
            return Err(S3Error::new(
                S3ErrorCode::EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed size",
            )
            .with_detail("MaxSizeAllowed", max.to_string()));
        }
        Ok(n)
    }
}

fn too_small(size_bytes: u64, min: u64) -> S3Error {
    S3Error::new(
        S3ErrorCode::EntityTooSmall,
        "Your proposed upload is smaller than the minimum allowed size",
    )
    .with_detail("ProposedSize", size_bytes.to_string())
    .with_detail("MinSizeAllowed", min.to_string())
}

/// AWS's answer to a form missing a field it needs (or sending it after the
/// file, where it is not read).
fn missing_field(name: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidArgument,
        format!(
            "Bucket POST must contain a field named '{name}'.  If it is specified, please \
             check the order of the fields."
        ),
    )
    .with_detail("ArgumentName", name)
    .with_detail("ArgumentValue", "")
}

fn invalid_field(name: &str, value: &str, why: &str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, why)
        .with_detail("ArgumentName", name)
        .with_detail("ArgumentValue", value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::FileInfo;

    fn form(pairs: &[(&str, &str)], filename: Option<&str>) -> Form {
        let read = FormFields {
            fields: pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            file: Some(FileInfo {
                filename: filename.map(str::to_owned),
            }),
        };
        Form::new(&read)
    }

    #[test]
    fn filename_is_expanded_and_repeats_are_joined() {
        let form = form(
            &[
                ("key", "user/${filename}"),
                ("x-amz-meta-tag", "Ninja"),
                ("x-amz-meta-tag", "Stallman"),
                ("policy", "${filename}"),
            ],
            Some("C:\\Program Files\\directory1\\file.txt"),
        );
        assert_eq!(form.get("key"), Some("user/file.txt"));
        assert_eq!(form.get("x-amz-meta-tag"), Some("Ninja,Stallman"));
        assert_eq!(form.get("policy"), Some("${filename}"));
        let no_name = super::tests::form(&[("key", "a${filename}")], None);
        assert_eq!(no_name.get("key"), Some("a"));
    }

    #[test]
    fn fields_become_put_headers() {
        let form = form(
            &[
                ("key", "k"),
                ("acl", "public-read"),
                ("content-type", "text/plain"),
                ("x-amz-meta-color", "blue"),
                ("x-amz-server-side-encryption", "AES256"),
                ("x-amz-checksum-algorithm", "CRC32"),
                (
                    "tagging",
                    "<Tagging><TagSet><Tag><Key>a b</Key><Value>1</Value></Tag></TagSet></Tagging>",
                ),
                ("success_action_status", "201"),
                ("x-ignore-submit", "Upload"),
            ],
            None,
        );
        let request = RequestHead {
            method: "POST".into(),
            target: "/b".into(),
            headers: vec![("host".into(), "localhost".into())],
        };
        let head = post_object_head(&request, &form).unwrap();
        let names: Vec<&str> = head.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "host",
                "x-amz-acl",
                "content-type",
                "x-amz-meta-color",
                "x-amz-server-side-encryption",
                "x-amz-checksum-algorithm",
                "x-amz-tagging"
            ]
        );
        assert_eq!(head.header("x-amz-tagging"), Some("a%20b=1"));
    }

    #[test]
    fn fields_no_header_could_carry_are_refused() {
        let request = RequestHead::default();
        for (name, value) in [("x-amz-meta-a b", "v"), ("x-amz-meta-a", "line\r\nbreak")] {
            let form = form(&[(name, value)], None);
            let err = post_object_head(&request, &form).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidArgument);
        }
        let bad_tags = form(&[("tagging", "<Tagging>")], None);
        assert!(post_object_head(&request, &bad_tags).is_err());
    }

    #[test]
    fn answers() {
        let cases = [
            (vec![], Answer::Status(204)),
            (vec![("success_action_status", "200")], Answer::Status(200)),
            (vec![("success_action_status", "201")], Answer::Status(201)),
            (vec![("success_action_status", "404")], Answer::Status(204)),
            (
                vec![
                    ("success_action_redirect", "https://x/ok"),
                    ("success_action_status", "201"),
                ],
                Answer::Redirect("https://x/ok".into()),
            ),
            (
                vec![("redirect", "http://x/old")],
                Answer::Redirect("http://x/old".into()),
            ),
            (
                vec![("success_action_redirect", "not a url")],
                Answer::Status(204),
            ),
        ];
        for (pairs, expected) in cases {
            assert_eq!(
                post_object_answer(&form(&pairs, None)),
                expected,
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn redirects_carry_bucket_key_and_quoted_etag() {
        let stored = Stored {
            bucket: "b".into(),
            key: "a b/c.txt".into(),
            etag: "abc".into(),
            headers: Vec::new(),
            answer: Answer::Status(204),
            host: None,
            tls: false,
        };
        assert_eq!(
            redirect_target("https://x/ok", &stored),
            "https://x/ok?bucket=b&key=a%20b%2Fc.txt&etag=%22abc%22"
        );
        assert_eq!(
            redirect_target("https://x/ok?a=1", &stored),
            "https://x/ok?a=1&bucket=b&key=a%20b%2Fc.txt&etag=%22abc%22"
        );
    }

    #[test]
    fn exempt_fields_follow_the_signature_version() {
        assert!(Signer::V4.exempt("x-amz-signature"));
        assert!(!Signer::V4.exempt("awsaccesskeyid"));
        assert!(Signer::V2.exempt("awsaccesskeyid"));
        assert!(Signer::V2.exempt("x-ignore-anything"));
        assert!(!Signer::V2.exempt("x-amz-credential"));
        assert!(!Signer::V4.exempt("x-amz-security-token"));
    }

    /// A policy signed by an independent SigV4 POST implementation with the
    /// AWS documentation's example key; a changed byte must fail.
    #[test]
    fn sigv4_policy_signature() {
        let policy = "eyJleHBpcmF0aW9uIjoiMjAxMy0wOC0wNlQxMjowMDowMC4wMDBaIiwiY29uZGl0aW9u\
            cyI6W3siYWNsIjoicHVibGljLXJlYWQifSxbInN0YXJ0cy13aXRoIiwiJENvbnRlbnQtVHlwZSIsImlt\
            YWdlLyJdLFsic3RhcnRzLXdpdGgiLCIka2V5IiwidXNlci91c2VyMS8iXSxbInN0YXJ0cy13aXRoIiwi\
            JHgtYW16LW1ldGEtdGFnIiwiIl0seyJ4LWFtei1tZXRhLXV1aWQiOiIxNDM2NTEyMzY1MTI3NCJ9LHsi\
            YnVja2V0IjoiZXhhbXBsZWJ1Y2tldCJ9LHsieC1hbXotYWxnb3JpdGhtIjoiQVdTNC1ITUFDLVNIQTI1\
            NiJ9LHsieC1hbXotY3JlZGVudGlhbCI6IkFLSUFJT1NGT0ROTjdFWEFNUExFLzIwMTMwODA2L3VzLWVh\
            c3QtMS9zMy9hd3M0X3JlcXVlc3QifSx7IngtYW16LWRhdGUiOiIyMDEzMDgwNlQxMjAwMDBaIn1dfQ==";
        let credential =
            Credential::parse("AKIAIOSFODNN7EXAMPLE/20130806/us-east-1/s3/aws4_request").unwrap();
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let signature = "5bc8a7be4a6fc6445b94d0f4096f8cf3dfa00303529f8a68ea7dc0c23bb83cd9";
        let mut cache = SigningKeyCache::new();
        assert!(signature_v4_matches(
            &mut cache,
            &credential,
            secret,
            policy,
            signature
        ));
        let upper = signature.to_ascii_uppercase();
        assert!(signature_v4_matches(
            &mut cache,
            &credential,
            secret,
            policy,
            &upper
        ));
        let tampered = policy.replacen("eyJ", "eyK", 1);
        assert!(!signature_v4_matches(
            &mut cache,
            &credential,
            secret,
            &tampered,
            signature
        ));
        assert!(!signature_v4_matches(
            &mut cache,
            &credential,
            "other",
            policy,
            signature
        ));
        assert!(!signature_v4_matches(
            &mut cache,
            &credential,
            secret,
            policy,
            "5bc8"
        ));
        PostPolicy::parse(policy).unwrap();
    }

    /// AWS's SigV2 form example (its policy, with the trailing commas AWS's
    /// own examples carry, and its secret).
    #[test]
    fn sigv2_policy_signature() {
        let policy = "eyAiZXhwaXJhdGlvbiI6ICIyMDA3LTEyLTAxVDEyOjAwOjAwLjAwMFoiLAogICJjb25kaXRp\
            b25zIjogWwogICAgeyJidWNrZXQiOiAiam9obnNtaXRoIiB9LAogICAgWyJzdGFydHMtd2l0aCIsICIka2\
            V5IiwgInVzZXIvZXJpYy8iXSwKICAgIHsiYWNsIjogInB1YmxpYy1yZWFkIiB9LAogICAgeyJyZWRpcmVj\
            dCI6ICJodHRwOi8vam9obnNtaXRoLnMzLmFtYXpvbmF3cy5jb20vc3VjY2Vzc2Z1bF91cGxvYWQuaHRtbC\
            IgfSwKICAgIFsic3RhcnRzLXdpdGgiLCAiJENvbnRlbnQtVHlwZSIsICJpbWFnZS8iXSwKICAgIHsieC1h\
            bXotbWV0YS11dWlkIjogIjE0MzY1MTIzNjUxMjc0In0sCiAgICBbInN0YXJ0cy13aXRoIiwgIiR4LWFtei\
            1tZXRhLXRhZyIsICIiXSwKICBdCn0K";
        let secret = "uV3F3YluFJax1cknvbcGwgjvx4QpvB+leU8dUj2o";
        assert!(signature_v2_matches(
            secret,
            policy,
            "2qCp0odXe7A9IYyUVqn0w2adtCA="
        ));
        assert!(!signature_v2_matches(
            secret,
            policy,
            "2qCp0odXe7A9IYyUVqn0w2adtCB="
        ));
        assert!(!signature_v2_matches(
            "other",
            policy,
            "2qCp0odXe7A9IYyUVqn0w2adtCA="
        ));
        assert!(!signature_v2_matches(secret, policy, "not base64"));
        PostPolicy::parse(policy).unwrap();
    }

    #[test]
    fn base_names() {
        assert_eq!(base_name("C:\\a\\b.txt"), "b.txt");
        assert_eq!(base_name("/tmp/x/y"), "y");
        assert_eq!(base_name("plain"), "plain");
    }
}
