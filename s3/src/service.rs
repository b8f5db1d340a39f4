//! The S3 request handler of one shard: routes, authenticates, dispatches to
//! the operation, and turns every error into AWS's XML error response.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{BodyLen, Exchange, Handler};

use crate::auth::sigv2;
use crate::auth::sigv4::{self, RequestParts, VerifyParams};
use crate::auth::AuthError;
use crate::body::PayloadMode;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::{
    acl, attributes, bucket, copy, delete, encryption, lifecycle, list, multipart, object,
    object_lock, tagging, versioning, RequestContext,
};
use crate::router::{host_bucket, route, Endpoint, Route, RouteInput};
use crate::shard::Shard;
use crate::xml;

pub struct S3Service {
    shard: Rc<Shard>,
    /// Request ids are a per-process random prefix and a per-shard counter:
    /// unique, cheap, and they say which shard served the request.
    request_prefix: u32,
    request_counter: Cell<u64>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl S3Service {
    pub fn new(shard: Rc<Shard>) -> Self {
        S3Service {
            shard,
            request_prefix: rand::random(),
            request_counter: Cell::new(0),
        }
    }

    fn next_request_id(&self) -> String {
        let counter = self.request_counter.get() + 1;
        self.request_counter.set(counter);
        format!(
            "{:08X}{:02X}{:014X}",
            self.request_prefix, self.shard.id, counter
        )
    }

    fn route(&self, ex: &Exchange<'_>) -> S3Result<Route> {
        let head = ex.head();
        let input = RouteInput {
            method: &head.method,
            path: head.path(),
            query: head.query(),
            host: head.header("host"),
            headers: &head.headers,
            base_domains: &self.shard.settings.virtual_host_domains,
        };
        route(&input)
    }

    /// Verifies the request's signature; returns how its body is protected.
    fn authenticate(&self, ex: &Exchange<'_>, route: &Route, now_ms: u64) -> S3Result<PayloadMode> {
        let head = ex.head();
        let path = percent_encoding::percent_decode_str(head.path())
            .decode_utf8()
            .map_err(|_| S3Error::new(S3ErrorCode::InvalidArgument, "Path is not valid UTF-8"))?;
        let parts = RequestParts {
            method: &head.method,
            path_decoded: &path,
            query_pairs: &route.query,
            headers: &head.headers,
        };
        let catalog = self.shard.catalog();
        let secret_of = |access_key: &str| {
            catalog
                .secrets
                .get(access_key)
                .map(String::as_str)
                .ok_or(AuthError::AccessKeyUnknown)
        };
        let mut cache = self.shard.signing_keys.borrow_mut();
        let params = |secret| VerifyParams {
            secret_access_key: secret,
            region_expected: Some(&self.shard.settings.region),
            now_unix_seconds: (now_ms / 1000) as i64,
        };
        let now_unix_seconds = (now_ms / 1000) as i64;
        let host_bucket = head
            .header("host")
            .and_then(|host| host_bucket(host, &self.shard.settings.virtual_host_domains));
        let v2 = sigv2::V2Request {
            method: &head.method,
            raw_path: head.path(),
            bucket_from_host: host_bucket.as_deref(),
            query_pairs: &route.query,
            headers: &head.headers,
        };
        let v2_mode = |verified: sigv2::V2Verified| match verified.body_sha256 {
            Some(digest) => PayloadMode::Sha256(digest),
            None => PayloadMode::Unsigned,
        };
        let presigned_v4 = sigv4::is_presigned(&route.query);
        let presigned_v2 = sigv2::is_presigned_v2(&route.query);
        if let Some(value) = head.header("authorization") {
            if presigned_v4 || presigned_v2 {
                return Err(only_one_auth_mechanism(value));
            }
        }
        let uses_v2 = presigned_v2
            || (!presigned_v4
                && head
                    .header("authorization")
                    .is_some_and(sigv2::is_authorization_header_v2));
        if uses_v2 && !self.shard.settings.sigv2_enabled {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The authorization mechanism you have provided is not supported. Please use \
                 AWS4-HMAC-SHA256.",
            ));
        }
        let verified = if presigned_v4 {
            let query = sigv4::parse_presigned_query(&route.query)?;
            let secret = secret_of(&query.credential.access_key_id)?;
            sigv4::verify_presigned(&parts, &query, &params(secret), &mut cache)?
        } else if presigned_v2 {
            let query = sigv2::parse_presigned_query_v2(&route.query)?;
            let secret = secret_of(&query.credentials.access_key_id)?;
            return Ok(v2_mode(sigv2::verify_v2_presigned(
                &v2,
                &query,
                secret,
                now_unix_seconds,
            )?));
        } else if let Some(value) = head.header("authorization") {
            if sigv2::is_authorization_header_v2(value) {
                let credentials = sigv2::parse_authorization_header_v2(value)?;
                let secret = secret_of(&credentials.access_key_id)?;
                let verified =
                    sigv2::verify_v2_header(&v2, &credentials, secret, now_unix_seconds)?;
                return Ok(v2_mode(verified));
            }
            let header = sigv4::parse_authorization_header(value)?;
            let secret = secret_of(&header.credential.access_key_id)?;
            sigv4::verify_header(&parts, &header, &params(secret), &mut cache)?
        } else {
            return Err(S3Error::new(S3ErrorCode::AccessDenied, "Access Denied"));
        };
        Ok(PayloadMode::from_verified(&verified))
    }

    async fn dispatch(&self, ctx: &mut RequestContext, ex: &mut Exchange<'_>) -> S3Result<()> {
        let shard = &self.shard;
        crate::sse::require_tls_for_customer_keys(ex.head(), ex.is_tls())?;
        // Veeam's SOSAPI objects are answered (or their writes refused) before
        // the object operations could look for them in the index.
        if crate::ops::sosapi::is_virtual_request(&ctx.route) {
            return crate::ops::sosapi::handle_virtual_request(shard, ctx, ex).await;
        }
        match ctx.route.endpoint.clone() {
            Endpoint::Health => unreachable!("health is answered before authentication"),
            Endpoint::ListBuckets => {
                let head_only = ex.head().method == "HEAD";
                bucket::list_buckets(shard, ctx, ex, head_only).await
            }
            Endpoint::CreateBucket => bucket::create_bucket(shard, ctx, ex).await,
            Endpoint::HeadBucket => bucket::head_bucket(shard, ctx, ex).await,
            Endpoint::DeleteBucket => bucket::delete_bucket(shard, ctx, ex).await,
            Endpoint::GetBucketLocation => bucket::get_bucket_location(shard, ctx, ex).await,
            Endpoint::ListObjectsV1 => list::list_objects_v1(shard, ctx, ex).await,
            Endpoint::ListObjectsV2 => list::list_objects_v2(shard, ctx, ex).await,
            Endpoint::DeleteObjects => delete::delete_objects(shard, ctx, ex).await,
            Endpoint::PutObject => object::put_object(shard, ctx, ex).await,
            Endpoint::GetObject {
                version_id,
                part_number,
            } => object::get_object(shard, ctx, ex, false, part_number, version_id).await,
            Endpoint::HeadObject {
                version_id,
                part_number,
            } => object::get_object(shard, ctx, ex, true, part_number, version_id).await,
            Endpoint::DeleteObject { version_id } => {
                delete::delete_object(shard, ctx, ex, version_id).await
            }
            Endpoint::GetBucketVersioning => {
                versioning::get_bucket_versioning(shard, ctx, ex).await
            }
            Endpoint::PutBucketVersioning => {
                versioning::put_bucket_versioning(shard, ctx, ex).await
            }
            Endpoint::ListObjectVersions => versioning::list_object_versions(shard, ctx, ex).await,
            Endpoint::GetBucketAcl => acl::get_bucket_acl(shard, ctx, ex).await,
            Endpoint::PutBucketAcl => acl::put_bucket_acl(shard, ctx, ex).await,
            Endpoint::GetObjectAcl { version_id } => {
                acl::get_object_acl(shard, ctx, ex, version_id).await
            }
            Endpoint::PutObjectAcl { version_id } => {
                acl::put_object_acl(shard, ctx, ex, version_id).await
            }
            Endpoint::GetBucketLifecycleConfiguration => {
                lifecycle::get_bucket_lifecycle(shard, ctx, ex).await
            }
            Endpoint::PutBucketLifecycleConfiguration => {
                lifecycle::put_bucket_lifecycle(shard, ctx, ex).await
            }
            Endpoint::DeleteBucketLifecycle => {
                lifecycle::delete_bucket_lifecycle(shard, ctx, ex).await
            }
            Endpoint::GetObjectLockConfiguration => {
                object_lock::get_object_lock_configuration(shard, ctx, ex).await
            }
            Endpoint::PutObjectLockConfiguration => {
                object_lock::put_object_lock_configuration(shard, ctx, ex).await
            }
            Endpoint::GetObjectRetention { version_id } => {
                object_lock::get_object_retention(shard, ctx, ex, version_id).await
            }
            Endpoint::PutObjectRetention { version_id } => {
                object_lock::put_object_retention(shard, ctx, ex, version_id).await
            }
            Endpoint::GetObjectLegalHold { version_id } => {
                object_lock::get_object_legal_hold(shard, ctx, ex, version_id).await
            }
            Endpoint::PutObjectLegalHold { version_id } => {
                object_lock::put_object_legal_hold(shard, ctx, ex, version_id).await
            }
            Endpoint::RestoreObject { version_id } => {
                object_lock::restore_object(shard, ctx, ex, version_id).await
            }
            Endpoint::GetObjectAttributes { version_id } => {
                attributes::get_object_attributes(shard, ctx, ex, version_id).await
            }
            Endpoint::CopyObject => copy::copy_object(shard, ctx, ex).await,
            Endpoint::GetBucketEncryption => {
                encryption::get_bucket_encryption(shard, ctx, ex).await
            }
            Endpoint::PutBucketEncryption => {
                encryption::put_bucket_encryption(shard, ctx, ex).await
            }
            Endpoint::DeleteBucketEncryption => {
                encryption::delete_bucket_encryption(shard, ctx, ex).await
            }
            Endpoint::GetObjectTagging { version_id } => {
                tagging::get_object_tagging(shard, ctx, ex, version_id).await
            }
            Endpoint::PutObjectTagging { version_id } => {
                tagging::put_object_tagging(shard, ctx, ex, version_id).await
            }
            Endpoint::DeleteObjectTagging { version_id } => {
                tagging::delete_object_tagging(shard, ctx, ex, version_id).await
            }
            Endpoint::UploadPartCopy {
                part_number,
                upload_id,
            } => copy::upload_part_copy(shard, ctx, ex, part_number, &upload_id).await,
            Endpoint::CreateMultipartUpload => {
                multipart::create_multipart_upload(shard, ctx, ex).await
            }
            Endpoint::UploadPart {
                part_number,
                upload_id,
            } => multipart::upload_part(shard, ctx, ex, part_number, &upload_id).await,
            Endpoint::CompleteMultipartUpload { upload_id } => {
                multipart::complete_multipart_upload(shard, ctx, ex, &upload_id).await
            }
            Endpoint::AbortMultipartUpload { upload_id } => {
                multipart::abort_multipart_upload(shard, ctx, ex, &upload_id).await
            }
            Endpoint::ListParts { upload_id } => {
                multipart::list_parts(shard, ctx, ex, &upload_id).await
            }
            Endpoint::ListMultipartUploads => {
                multipart::list_multipart_uploads(shard, ctx, ex).await
            }
            other => Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                format!("{} is not implemented yet.", other.name()),
            )),
        }
    }

    async fn respond_error(&self, ctx_request_id: &str, ex: &mut Exchange<'_>, err: &S3Error) {
        let status = err.code.status();
        let head_request = ex.head().method == "HEAD";
        let mut body = Vec::new();
        if !head_request && status != 304 {
            xml::error(&mut body, err, ctx_request_id, Some(ctx_request_id));
        }
        let mut headers = vec![
            ("x-amz-request-id", ctx_request_id),
            ("x-amz-id-2", ctx_request_id),
            ("content-type", "application/xml"),
        ];
        headers.extend(err.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let len = body.len() as u64;
        let body_len = if head_request || status == 304 {
            BodyLen::Empty
        } else {
            BodyLen::Fixed(len)
        };
        if ex.send_head(status, &headers, body_len).await.is_err() {
            return;
        }
        if len > 0 {
            let _ = ex.write_body(body).await;
        }
    }

    /// GET, HEAD and DELETE take no body; one sent anyway is read and
    /// discarded before the answer (small ones), or refused (large or slow
    /// ones, after which the connection closes), so a large answer never
    /// deadlocks against a client still writing, nor is cut short.
    async fn discard_unexpected_body(&self, ex: &mut Exchange<'_>) -> S3Result<()> {
        if !matches!(ex.head().method.as_str(), "GET" | "HEAD" | "DELETE") {
            return Ok(());
        }
        ex.discard_body().await.map_err(|_| {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                "GET, HEAD and DELETE requests take no body; this one sent a large or slow one.",
            )
        })
    }

    async fn health(&self, request_id: &str, ex: &mut Exchange<'_>) {
        let (status, body): (u16, &'static [u8]) = if self.shard.all_serving() {
            (200, b"ok\n")
        } else {
            (503, b"starting or stopping\n")
        };
        let headers = [
            ("x-amz-request-id", request_id),
            ("content-type", "text/plain"),
        ];
        let _ = ex
            .respond(status, &headers, bytes::Bytes::from_static(body))
            .await;
    }
}

/// AWS's answer to a request authenticated both by its query and by an
/// `Authorization` header: which one to trust is ambiguous, so neither is.
fn only_one_auth_mechanism(authorization: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidArgument,
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature \
         query string parameter or the Authorization header should be specified",
    )
    .with_detail("ArgumentName", "Authorization")
    .with_detail("ArgumentValue", authorization)
}

impl Handler for S3Service {
    async fn handle(&self, ex: &mut Exchange<'_>) {
        let request_id = self.next_request_id();
        let now_ms = now_ms();
        // A request refused before it authenticated is answered and its
        // connection closed after a short linger, never drained: an anonymous
        // client dripping a body must not hold a connection slot.
        let route = match self.route(ex) {
            Ok(route) => route,
            Err(err) => {
                ex.mark_unauthenticated();
                return self.respond_error(&request_id, ex, &err).await;
            }
        };
        if route.endpoint == Endpoint::Health {
            return self.health(&request_id, ex).await;
        }
        let payload = match self.authenticate(ex, &route, now_ms) {
            Ok(payload) => payload,
            Err(err) => {
                tracing::debug!(code = err.code.as_str(), "authentication failed");
                ex.mark_unauthenticated();
                return self.respond_error(&request_id, ex, &err).await;
            }
        };
        if let Err(err) = self.discard_unexpected_body(ex).await {
            return self.respond_error(&request_id, ex, &err).await;
        }
        // Held until the response is written: the compactor removes no
        // segment file this request might still read.
        let _pin = self.shard.reader.pin();
        let mut ctx = RequestContext {
            request_id,
            route,
            payload,
            now_ms,
            catalog: self.shard.catalog(),
            head_sent: false,
        };
        if let Err(err) = self.dispatch(&mut ctx, ex).await {
            if err.code == S3ErrorCode::InternalError {
                tracing::warn!(request_id = %ctx.request_id, %err, "request failed");
            }
            if ctx.head_sent {
                ex.close_after();
            } else {
                let err = if err.resource.is_none() {
                    err.with_resource(ctx.resource())
                } else {
                    err
                };
                self.respond_error(&ctx.request_id, ex, &err).await;
            }
        }
    }
}
