//! The S3 request handler of one shard: routes, authenticates, dispatches to
//! the operation, and turns every error into AWS's XML error response.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{BodyLen, Exchange, Handler};

use crate::access_log::AccessEntry;
use crate::auth::sigv2;
use crate::auth::sigv4::{self, RequestParts, VerifyParams};
use crate::auth::AuthError;
use crate::authz::{Authenticated, S3Facts};
use crate::body::PayloadMode;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::{
    acl, attributes, bucket, bucket_options, copy, cors, delete, encryption, lifecycle, list,
    multipart, notification, object, object_lock, ownership, policy, post_object, public_access,
    query_api, tagging, versioning, RequestContext,
};
use crate::query::QueryService;
use crate::router::{host_bucket, route, Endpoint, Route, RouteInput};
use crate::shard::{CatalogSnapshot, Shard};
use crate::xml;
use iam::snapshot::KeyIdentity;

pub struct S3Service {
    shard: Rc<Shard>,
    /// Request ids are a per-process random prefix and a per-shard counter:
    /// unique, cheap, and they say which shard served the request.
    request_prefix: u32,
    request_counter: Cell<u64>,
}

pub(crate) fn now_ms() -> u64 {
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

    /// Verifies the request's signature; returns how its body is protected
    /// and who signed it. A request with no signature at all is anonymous:
    /// only a bucket policy can let it through. `service` is the credential
    /// scope service the request must be signed for (`s3`, `iam`, `sts`).
    fn authenticate(
        &self,
        ex: &Exchange<'_>,
        route_query: &[(String, String)],
        now_ms: u64,
        service: &str,
        query_body_sha256_hex: Option<&str>,
    ) -> S3Result<(PayloadMode, Authenticated)> {
        let head = ex.head();
        let path = percent_encoding::percent_decode_str(head.path())
            .decode_utf8()
            .map_err(|_| S3Error::new(S3ErrorCode::InvalidArgument, "Path is not valid UTF-8"))?;
        let parts = RequestParts {
            method: &head.method,
            path_decoded: &path,
            query_pairs: route_query,
            headers: &head.headers,
        };
        let catalog = self.shard.catalog();
        let key_of = |access_key: &str| {
            catalog
                .keys
                .get(access_key)
                .cloned()
                .ok_or(AuthError::AccessKeyUnknown)
        };
        let mut cache = self.shard.signing_keys.borrow_mut();
        // IAM and STS are global: clients sign them for us-east-1 (or for
        // whatever region they were given), so the region is not checked.
        let region_expected =
            (service == sigv4::SERVICE_S3).then_some(self.shard.settings.region.as_str());
        let params = |secret| VerifyParams {
            secret_access_key: secret,
            region_expected,
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
            query_pairs: route_query,
            headers: &head.headers,
        };
        let v2_mode = |verified: sigv2::V2Verified| match verified.body_sha256 {
            Some(digest) => PayloadMode::Sha256(digest),
            None => PayloadMode::Unsigned,
        };
        let presigned_v4 = sigv4::is_presigned(route_query);
        let presigned_v2 = sigv2::is_presigned_v2(route_query);
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
        let authenticated = |identity, signature_version, auth_type| Authenticated {
            identity: Some(identity),
            signature_version,
            auth_type,
        };
        let (verified, identity, auth_type) = if presigned_v4 {
            let query = sigv4::parse_presigned_query(route_query)?;
            let identity = key_of(&query.credential.access_key_id)?;
            let verified =
                sigv4::verify_presigned(&parts, &query, &params(&identity.secret), &mut cache)?;
            (verified, identity, AUTH_TYPE_QUERY)
        } else if presigned_v2 {
            let query = sigv2::parse_presigned_query_v2(route_query)?;
            let identity = key_of(&query.credentials.access_key_id)?;
            let verified =
                sigv2::verify_v2_presigned(&v2, &query, &identity.secret, now_unix_seconds)?;
            check_session(&identity, head, route_query, now_ms)?;
            check_tenant_active(&catalog, &identity)?;
            self.shard
                .note_key_use(&query.credentials.access_key_id, "s3", now_ms);
            let identity = authenticated(identity, SIGNATURE_V2, AUTH_TYPE_QUERY);
            return Ok((v2_mode(verified), identity));
        } else if let Some(value) = head.header("authorization") {
            if sigv2::is_authorization_header_v2(value) {
                let credentials = sigv2::parse_authorization_header_v2(value)?;
                let identity = key_of(&credentials.access_key_id)?;
                let verified =
                    sigv2::verify_v2_header(&v2, &credentials, &identity.secret, now_unix_seconds)?;
                check_session(&identity, head, route_query, now_ms)?;
                check_tenant_active(&catalog, &identity)?;
                self.shard
                    .note_key_use(&credentials.access_key_id, "s3", now_ms);
                let identity = authenticated(identity, SIGNATURE_V2, AUTH_TYPE_HEADER);
                return Ok((v2_mode(verified), identity));
            }
            let header = sigv4::parse_authorization_header(value)?;
            let identity = key_of(&header.credential.access_key_id)?;
            let params = params(&identity.secret);
            let verified = match query_body_sha256_hex {
                Some(body_hash) => {
                    sigv4::verify_header_with_body(&parts, &header, &params, &mut cache, body_hash)?
                }
                None => sigv4::verify_header(&parts, &header, &params, &mut cache)?,
            };
            (verified, identity, AUTH_TYPE_HEADER)
        } else {
            return Ok((PayloadMode::Unsigned, Authenticated::anonymous()));
        };
        if verified.scope.service != service {
            return Err(S3Error::new(
                S3ErrorCode::AuthorizationHeaderMalformed,
                format!("The credential scope service must be {service}"),
            ));
        }
        check_session(&identity, head, route_query, now_ms)?;
        check_tenant_active(&catalog, &identity)?;
        self.shard
            .note_key_use(&verified.access_key_id, scope_service(service), now_ms);
        let payload = PayloadMode::from_verified(&verified);
        Ok((
            payload,
            authenticated(identity, sigv4::ALGORITHM, auth_type),
        ))
    }

    /// `Some` when the request is an IAM or STS query-API call: `POST /`
    /// signed for the `iam` or `sts` service.
    fn query_service(&self, ex: &Exchange<'_>) -> Option<QueryService> {
        let head = ex.head();
        if head.method != "POST" || head.path() != "/" {
            return None;
        }
        let Some(authorization) = head.header("authorization") else {
            // Unsigned STS (AssumeRoleWithWebIdentity, ...WithLDAPIdentity):
            // a form posted to `/` without credentials, as AWS's SDKs send it.
            // Browser uploads post multipart forms to a bucket, never this.
            let form = head.header("content-type").is_some_and(|value| {
                value
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
            let presigned = head.query().contains("X-Amz-Credential");
            // `POST /` on a virtual-hosted bucket is that bucket's (a form
            // upload, DeleteObjects, ...), whatever its content type.
            let virtual_bucket = head.header("host").is_some_and(|host| {
                crate::router::host_bucket(host, &self.shard.settings.virtual_host_domains)
                    .is_some()
            });
            return (form && !presigned && !virtual_bucket).then_some(QueryService::Sts);
        };
        let service = crate::query::scope_service_of_header(authorization)?;
        QueryService::from_scope(service)
    }

    /// Asks the policy engine about the route's own action; copies and
    /// DeleteObjects ask again for their sources and keys.
    fn authorize_route(&self, ctx: &RequestContext, ex: &Exchange<'_>) -> S3Result<()> {
        if ctx.auth.is_system_root() {
            return Ok(());
        }
        if ctx.route.endpoint == Endpoint::PostObject {
            // A browser form carries its key and credentials in the body: the
            // operation authenticates and authorizes once it has read them.
            return Ok(());
        }
        if ctx.route.endpoint == Endpoint::DeleteObjects {
            // s3:DeleteObject is asked for each key (`delete::delete_objects`);
            // an anonymous caller no bucket policy or ACL can allow is refused
            // before its body is read.
            let may_grant = ctx
                .route
                .bucket
                .as_ref()
                .and_then(|name| ctx.catalog.buckets.get(name.as_str()))
                .is_some_and(|bucket| {
                    bucket.policy.is_some() || (bucket.acls_enabled() && bucket.acl.is_some())
                });
            if ctx.auth.identity.is_none() && !may_grant {
                return Err(S3Error::new(S3ErrorCode::AccessDenied, "Access Denied"));
            }
            return Ok(());
        }
        let Some(action) = ctx.route.endpoint.permission().iam_action() else {
            // Unsupported operations answer NotImplemented to whoever may
            // call anything: the root has returned already, and an anonymous
            // caller is refused.
            if ctx.auth.identity.is_none() {
                return Err(S3Error::new(S3ErrorCode::AccessDenied, "Access Denied"));
            }
            return Ok(());
        };
        let bucket_name = ctx.route.bucket.as_ref().map(|bucket| bucket.as_str());
        // CreateBucket is about a bucket that is not (yet) the caller's: its
        // name being taken is answered by the operation, as AWS does.
        let bucket = bucket_name
            .filter(|_| ctx.route.endpoint != Endpoint::CreateBucket)
            .and_then(|name| ctx.catalog.buckets.get(name));
        let key = ctx.route.key.as_ref().map(|key| key.as_str());
        let resource = crate::authz::resource_arn(bucket_name, key);
        let existing_tags = match (bucket, key) {
            (Some(bucket), Some(key))
                if crate::authz::needs_existing_tags(&ctx.auth, Some(bucket)) =>
            {
                let version = ctx
                    .route
                    .query_value("versionId")
                    .and_then(engine::index::VersionSel::parse);
                crate::ops::existing_object_tags(&self.shard, bucket, key, version)
            }
            _ => None,
        };
        let object_acl = || match (bucket, key) {
            (Some(bucket), Some(key)) => {
                let version = ctx
                    .route
                    .query_value("versionId")
                    .and_then(engine::index::VersionSel::parse);
                crate::ops::existing_object_acl(&self.shard, bucket, key, version)
            }
            _ => None,
        };
        let facts = S3Facts {
            head: ex.head(),
            route: &ctx.route,
            auth: &ctx.auth,
            peer: ex.peer_addr(),
            tls: self.shard.secure_transport(ex),
            now_ms: ctx.now_ms,
            existing_tags: existing_tags.as_deref(),
            object_acl: Some(&object_acl),
        };
        crate::authz::authorize(&facts, action, &resource, bucket)?;
        // Headers that do more than the operation's own action need that
        // action's permission too, as AWS asks: object lock settings and tags
        // on a new object, and the object's data behind its attributes.
        for extra in extra_actions(&ctx.route.endpoint, ex.head()) {
            match extra {
                "s3:PutObjectAcl" => {
                    crate::authz::authorize_new_object_acl(&facts, &resource, bucket)?
                }
                _ => crate::authz::authorize(&facts, extra, &resource, bucket)?,
            }
        }
        Ok(())
    }

    async fn dispatch(&self, ctx: &mut RequestContext, ex: &mut Exchange<'_>) -> S3Result<()> {
        let shard = &self.shard;
        if ctx.catalog.maintenance && matches!(ex.head().method.as_str(), "PUT" | "POST" | "DELETE")
        {
            return Err(maintenance_refusal());
        }
        let changes_objects = ctx.route.key.is_some()
            || matches!(
                ctx.route.endpoint,
                Endpoint::DeleteObjects | Endpoint::PostObject
            );
        if changes_objects && matches!(ex.head().method.as_str(), "PUT" | "POST" | "DELETE") {
            let bucket = ctx.route.bucket.as_ref();
            if let Some(bucket) = bucket.and_then(|name| ctx.catalog.buckets.get(name.as_str())) {
                crate::notify::refuse_when_full(shard.settings.events.as_ref(), bucket)?;
            }
        }
        crate::sse::require_tls_for_customer_keys(
            ex.head(),
            self.shard.secure_transport(ex) || shard.settings.transport.sse_c_allow_plain_http,
        )?;
        // Veeam's SOSAPI objects are answered (or their writes refused) before
        // the object operations could look for them in the index.
        if crate::ops::sosapi::is_virtual_request(&ctx.route) {
            return crate::ops::sosapi::handle_virtual_request(shard, ctx, ex).await;
        }
        match ctx.route.endpoint.clone() {
            Endpoint::Health | Endpoint::Ready | Endpoint::CorsPreflight => {
                unreachable!("probes and preflights are answered before authentication")
            }
            Endpoint::GetBucketCors => cors::get_bucket_cors(shard, ctx, ex).await,
            Endpoint::PutBucketCors => cors::put_bucket_cors(shard, ctx, ex).await,
            Endpoint::DeleteBucketCors => cors::delete_bucket_cors(shard, ctx, ex).await,
            Endpoint::GetBucketTagging => tagging::get_bucket_tagging(shard, ctx, ex).await,
            Endpoint::PutBucketTagging => tagging::put_bucket_tagging(shard, ctx, ex).await,
            Endpoint::DeleteBucketTagging => tagging::delete_bucket_tagging(shard, ctx, ex).await,
            Endpoint::GetBucketRequestPayment => {
                bucket_options::get_bucket_request_payment(shard, ctx, ex).await
            }
            Endpoint::PutBucketRequestPayment => {
                bucket_options::put_bucket_request_payment(shard, ctx, ex).await
            }
            Endpoint::GetBucketAccelerateConfiguration => {
                bucket_options::get_bucket_accelerate(shard, ctx, ex).await
            }
            Endpoint::PutBucketAccelerateConfiguration => {
                bucket_options::put_bucket_accelerate(shard, ctx, ex).await
            }
            Endpoint::GetBucketNotificationConfiguration => {
                notification::get_bucket_notification(shard, ctx, ex).await
            }
            Endpoint::PutBucketNotificationConfiguration => {
                notification::put_bucket_notification(shard, ctx, ex).await
            }
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
            Endpoint::PostObject => post_object::post_object(shard, ctx, ex).await,
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
            Endpoint::GetBucketPolicy => policy::get_bucket_policy(shard, ctx, ex).await,
            Endpoint::PutBucketPolicy => policy::put_bucket_policy(shard, ctx, ex).await,
            Endpoint::DeleteBucketPolicy => policy::delete_bucket_policy(shard, ctx, ex).await,
            Endpoint::GetBucketPolicyStatus => {
                policy::get_bucket_policy_status(shard, ctx, ex).await
            }
            Endpoint::GetBucketAcl => acl::get_bucket_acl(shard, ctx, ex).await,
            Endpoint::GetBucketOwnershipControls => {
                ownership::get_bucket_ownership_controls(shard, ctx, ex).await
            }
            Endpoint::PutBucketOwnershipControls => {
                ownership::put_bucket_ownership_controls(shard, ctx, ex).await
            }
            Endpoint::DeleteBucketOwnershipControls => {
                ownership::delete_bucket_ownership_controls(shard, ctx, ex).await
            }
            Endpoint::GetPublicAccessBlock => {
                public_access::get_public_access_block(shard, ctx, ex).await
            }
            Endpoint::PutPublicAccessBlock => {
                public_access::put_public_access_block(shard, ctx, ex).await
            }
            Endpoint::DeletePublicAccessBlock => {
                public_access::delete_public_access_block(shard, ctx, ex).await
            }
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

    /// An IAM or STS query-API call: authenticated like any request (signed
    /// for its service), its form body read and verified against the signed
    /// payload hash, then executed by the control plane.
    async fn handle_query(
        &self,
        ex: &mut Exchange<'_>,
        service: QueryService,
        request_id: String,
        now_ms: u64,
    ) {
        let query = match crate::router::query_decode(ex.head().query()) {
            Ok(query) => query,
            Err(err) => {
                let err = query_api::from_s3_error(&err);
                return query_api::respond_error(ex, service, &err, &request_id).await;
            }
        };
        // The body comes first: these clients sign its hash without sending
        // it. It is small (bounded) and read within the usual deadlines.
        let body = match query_api::read_body(ex).await {
            Ok(body) => body,
            Err(err) => {
                ex.mark_unauthenticated();
                return query_api::respond_error(ex, service, &err, &request_id).await;
            }
        };
        if ex.head().header("authorization").is_none() {
            return query_api::handle_unsigned(&self.shard, ex, service, &body, &request_id).await;
        }
        let body_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
        let auth = match self.authenticate(ex, &query, now_ms, service.prefix(), Some(&body_hash)) {
            Ok((_, auth)) => auth,
            Err(err) => {
                ex.mark_unauthenticated();
                let err = query_api::from_s3_error(&err);
                return query_api::respond_error(ex, service, &err, &request_id).await;
            }
        };
        query_api::handle(&self.shard, ex, service, &body, auth, &request_id).await
    }

    async fn respond_error(&self, ctx_request_id: &str, ex: &mut Exchange<'_>, err: &S3Error) {
        self.respond_error_cors(ctx_request_id, ex, err, &[]).await
    }

    /// `respond_error` with the request's CORS headers: a browser reads an
    /// error only when they are there.
    async fn respond_error_cors(
        &self,
        ctx_request_id: &str,
        ex: &mut Exchange<'_>,
        err: &S3Error,
        cors: &[(&'static str, String)],
    ) {
        self.shard
            .metrics
            .borrow_mut()
            .note_error(err.code.as_str());
        ex.set_log_label(err.code.as_str());
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
        headers.extend(cors.iter().map(|(n, v)| (*n, v.as_str())));
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

    /// A CORS preflight: no credentials, no body, answered from the bucket's
    /// configuration in the current catalog snapshot.
    async fn cors_preflight(&self, request_id: &str, route: &Route, ex: &mut Exchange<'_>) {
        let catalog = self.shard.catalog();
        let target = cors::preflight_target(&catalog, route);
        let headers = match cors::preflight(target, route.key.is_some(), ex.head()) {
            Ok(headers) => headers,
            Err(err) => {
                ex.mark_unauthenticated();
                return self.respond_error(request_id, ex, &err).await;
            }
        };
        let mut all: Vec<(&str, &str)> = Vec::with_capacity(headers.len() + 2);
        all.push(("x-amz-request-id", request_id));
        all.push(("x-amz-id-2", request_id));
        all.extend(headers.iter().map(|(name, value)| (*name, value.as_str())));
        let _ = ex.send_head(200, &all, BodyLen::Empty).await;
    }

    /// The liveness probe (every shard serving), or with `ready` the
    /// readiness probe: also this shard's data disk taking writes (not in
    /// disk-full mode). The catalog is open before any shard serves.
    /// Maintenance mode keeps a server ready: it still serves reads.
    async fn health(&self, request_id: &str, ex: &mut Exchange<'_>, ready: bool) {
        let (status, body): (u16, &'static [u8]) = if !self.shard.all_serving() {
            (503, b"starting or stopping\n")
        } else if ready && self.shard.store.disk_full() {
            (503, b"data disk full: writes refused\n")
        } else {
            (200, b"ok\n")
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

/// The service a request was signed for, as GetAccessKeyLastUsed names it.
fn scope_service(service: &str) -> &'static str {
    match service {
        "iam" => "iam",
        "sts" => "sts",
        _ => "s3",
    }
}

/// The actions a request needs besides its route's own.
fn extra_actions(endpoint: &Endpoint, head: &http::RequestHead) -> Vec<&'static str> {
    let mut extra = Vec::new();
    match endpoint {
        Endpoint::PutObject | Endpoint::CopyObject | Endpoint::CreateMultipartUpload => {
            let has = |name| head.header(name).is_some();
            if has("x-amz-object-lock-mode") || has("x-amz-object-lock-retain-until-date") {
                extra.push("s3:PutObjectRetention");
            }
            if has("x-amz-object-lock-legal-hold") {
                extra.push("s3:PutObjectLegalHold");
            }
            if has("x-amz-tagging") {
                extra.push("s3:PutObjectTagging");
            }
            if crate::ops::acl::has_acl_headers(head) {
                extra.push("s3:PutObjectAcl");
            }
        }
        Endpoint::CreateBucket => {
            if crate::ops::acl::has_acl_headers(head) {
                extra.push("s3:PutBucketAcl");
            }
            if head.header("x-amz-object-ownership").is_some() {
                extra.push("s3:PutBucketOwnershipControls");
            }
        }
        // AWS: a conditional delete on an ETag also needs the right to read the object.
        Endpoint::DeleteObject { .. } if head.header("if-match").is_some() => {
            extra.push("s3:GetObject")
        }
        Endpoint::GetObjectAttributes { version_id } => extra.push(match version_id {
            Some(_) => "s3:GetObjectVersion",
            None => "s3:GetObject",
        }),
        _ => {}
    }
    extra
}

const SIGNATURE_V2: &str = "AWS";
const AUTH_TYPE_HEADER: &str = "REST-HEADER";
const AUTH_TYPE_QUERY: &str = "REST-QUERY-STRING";

/// Temporary credentials work only with their session token (header or
/// presigned query) and only until they expire, as on AWS.
/// A suspended tenant's keys are refused (after their signature checked out,
/// so the answer tells nothing to whoever does not hold the secret).
pub(crate) fn check_tenant_active(
    catalog: &crate::shard::CatalogSnapshot,
    identity: &KeyIdentity,
) -> S3Result<()> {
    let suspended = catalog
        .tenants
        .get(&identity.principal.account_id)
        .is_some_and(|tenant| tenant.suspended);
    if suspended {
        return Err(S3Error::new(
            S3ErrorCode::AccessDenied,
            "The account of this access key is suspended.",
        ));
    }
    Ok(())
}

pub(crate) fn check_session(
    identity: &KeyIdentity,
    head: &http::RequestHead,
    query: &[(String, String)],
    now_ms: u64,
) -> S3Result<()> {
    let Some(session) = &identity.session else {
        return Ok(());
    };
    let token = head.header("x-amz-security-token").or_else(|| {
        query
            .iter()
            // SigV4 spells it X-Amz-Security-Token, botocore's SigV2 lower case.
            .find(|(name, _)| name.eq_ignore_ascii_case("x-amz-security-token"))
            .map(|(_, value)| value.as_str())
    });
    let matches = token.is_some_and(|token| {
        use subtle::ConstantTimeEq;
        token.len() == session.token.len()
            && bool::from(token.as_bytes().ct_eq(session.token.as_bytes()))
    });
    if !matches {
        return Err(S3Error::new(
            S3ErrorCode::InvalidToken,
            "The provided token is malformed or otherwise invalid.",
        ));
    }
    if now_ms >= session.expires_ms {
        return Err(S3Error::new(
            S3ErrorCode::ExpiredToken,
            "The provided token has expired.",
        ));
    }
    Ok(())
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

impl S3Service {
    fn audit_event(
        &self,
        ctx: &RequestContext,
        ex: &Exchange<'_>,
        outcome: &str,
        detail: &str,
    ) -> crate::audit::AuditEvent {
        let actor = ctx
            .auth
            .identity
            .as_ref()
            .map(|identity| identity.principal.arn.clone())
            .unwrap_or_else(|| "anonymous".to_owned());
        let bucket_owner = ctx
            .route
            .bucket
            .as_ref()
            .and_then(|bucket| ctx.catalog.buckets.get(bucket.as_str()))
            .map(|bucket| bucket.owner_account.clone());
        let account = bucket_owner
            .or_else(|| {
                let identity = ctx.auth.identity.as_ref()?;
                Some(identity.principal.account_id.clone())
            })
            .unwrap_or_default();
        crate::audit::AuditEvent {
            time_ms: ctx.now_ms,
            account,
            actor,
            source: ex.peer_addr().ip().to_string(),
            request_id: ctx.request_id.clone(),
            action: ctx
                .route
                .endpoint
                .permission()
                .iam_action()
                .unwrap_or("s3:Unknown")
                .to_owned(),
            target: ctx.resource(),
            outcome: outcome.to_owned(),
            detail: detail.to_owned(),
        }
    }

    /// Audits a successful change of bucket settings or object locks, and
    /// any request that bypassed governance retention.
    fn audit_change(&self, ctx: &RequestContext, ex: &Exchange<'_>) {
        let action = ctx.route.endpoint.permission().iam_action().unwrap_or("");
        let bypass = ex
            .head()
            .header("x-amz-bypass-governance-retention")
            .is_some_and(|value| value.eq_ignore_ascii_case("true"));
        let bypass = bypass && ctx.auth.identity.is_some() && crate::audit::audited_bypass(action);
        if !bypass && !crate::audit::audited_change(action) {
            return;
        }
        if !self.shard.audit_budget.admit(ctx.now_ms) {
            return;
        }
        let detail = if bypass {
            "with x-amz-bypass-governance-retention"
        } else {
            ""
        };
        self.shard
            .audit(self.audit_event(ctx, ex, "success", detail));
    }
}

impl Handler for S3Service {
    async fn handle(&self, ex: &mut Exchange<'_>) {
        use tracing::Instrument;
        let started = std::time::Instant::now();
        self.shard.metrics.borrow_mut().begin();
        let request_id = self.next_request_id();
        let mut logged = self.shard.access_log.as_ref().map(|_| LoggedRequest {
            time_ms: now_ms(),
            ..Default::default()
        });
        // Every log line of the request names it, as the response headers do.
        let span = tracing::info_span!("request", id = %request_id);
        // The access log keeps its own copy of the id; without it, none is made.
        let logged_id = logged.as_ref().map(|_| request_id.clone());
        let operation = self
            .serve_request(ex, request_id, &mut logged)
            .instrument(span)
            .await;
        self.shard
            .metrics
            .borrow_mut()
            .end(crate::metrics::RequestOutcome {
                operation,
                status: ex.status_sent(),
                elapsed_us: started.elapsed().as_micros() as u64,
                received_bytes: ex.body_read_bytes(),
                sent_bytes: ex.body_written_bytes(),
            });
        let logged = logged.zip(logged_id);
        if let (Some(log), Some((logged, request_id))) = (self.shard.access_log.as_ref(), logged) {
            // Probes of load balancers and systemd are not S3 requests: a
            // line a second from each would bury the log.
            let probe = operation == Endpoint::Health.name() || operation == Endpoint::Ready.name();
            if !probe {
                let mut logged = logged;
                if logged.bucket_owner.is_none() {
                    // A bucket this request created has its owner now.
                    logged.note_owner(&self.shard.catalog());
                }
                log.append(&logged.entry(ex, &request_id));
            }
        }
    }
}

/// What the access log needs of a request beyond its exchange, gathered
/// only while the access log is on.
#[derive(Default)]
struct LoggedRequest {
    time_ms: u64,
    bucket_owner: Option<String>,
    bucket: Option<String>,
    key: Option<String>,
    requester: Option<String>,
    operation: Option<(&'static str, &'static str)>,
    signature_version: Option<&'static str>,
    auth_type: Option<&'static str>,
    version_id: Option<String>,
}

impl LoggedRequest {
    fn note_route(&mut self, route: &Route, method: &str) {
        self.operation = Some(crate::access_log::operation(&route.endpoint, method));
        self.bucket = route
            .bucket
            .as_ref()
            .map(|bucket| bucket.as_str().to_owned());
        self.key = route.key.as_ref().map(|key| {
            percent_encoding::utf8_percent_encode(key.as_str(), LOGGED_KEY_ESCAPES).to_string()
        });
        self.version_id = route
            .query
            .iter()
            .find(|(name, _)| name == "versionId")
            .map(|(_, value)| value.clone());
    }

    fn note_auth(&mut self, auth: &Authenticated, catalog: &CatalogSnapshot) {
        self.requester = auth.principal().map(|principal| principal.arn.clone());
        self.signature_version = match auth.signature_version {
            "" => None,
            "AWS" => Some("SigV2"),
            _ => Some("SigV4"),
        };
        self.auth_type = match auth.auth_type {
            AUTH_TYPE_HEADER => Some("AuthHeader"),
            AUTH_TYPE_QUERY => Some("QueryString"),
            _ => None,
        };
        self.note_owner(catalog);
    }

    fn note_owner(&mut self, catalog: &CatalogSnapshot) {
        self.bucket_owner = self
            .bucket
            .as_deref()
            .and_then(|bucket| catalog.buckets.get(bucket))
            .map(|bucket| bucket.owner_account.clone());
    }

    fn entry<'a>(&'a self, ex: &'a Exchange<'_>, request_id: &'a str) -> AccessEntry<'a> {
        let head = ex.head();
        let object_size = match self.operation {
            Some((_, "OBJECT" | "PART")) if ex.body_read_bytes() > 0 => Some(ex.body_read_bytes()),
            Some(("GET", "OBJECT")) if ex.body_written_bytes() > 0 => Some(ex.body_written_bytes()),
            _ => None,
        };
        AccessEntry {
            bucket_owner: self.bucket_owner.as_deref(),
            bucket: self.bucket.as_deref(),
            time_ms: self.time_ms,
            remote_ip: Some(ex.peer_addr().ip()),
            requester: self.requester.as_deref(),
            request_id,
            operation: self.operation,
            key: self.key.as_deref(),
            method: &head.method,
            target: &head.target,
            http_version_minor: ex.http_version_minor(),
            status: ex.status_sent(),
            error_code: ex.log_label(),
            bytes_sent: ex.body_written_bytes(),
            object_size,
            total_time_ms: ex.elapsed_ms(),
            turn_around_ms: ex.turn_around_ms(),
            referer: head.header("referer"),
            user_agent: head.header("user-agent"),
            version_id: self.version_id.as_deref(),
            signature_version: self.signature_version,
            auth_type: self.auth_type,
            host: head.header("host"),
        }
    }
}

/// A logged key is URL-encoded as AWS logs it: everything but unreserved
/// characters and `/`.
const LOGGED_KEY_ESCAPES: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

impl S3Service {
    /// Serves one request; returns its operation's name for the metrics.
    async fn serve_request(
        &self,
        ex: &mut Exchange<'_>,
        request_id: String,
        logged: &mut Option<LoggedRequest>,
    ) -> &'static str {
        let now_ms = now_ms();
        // A request refused before it authenticated is answered and its
        // connection closed after a short linger, never drained: an anonymous
        // client dripping a body must not hold a connection slot.
        if let Some(service) = self.query_service(ex) {
            self.handle_query(ex, service, request_id, now_ms).await;
            return service.operation_name();
        }
        let route = match self.route(ex) {
            Ok(route) => route,
            Err(err) => {
                ex.mark_unauthenticated();
                self.respond_error(&request_id, ex, &err).await;
                return UNROUTED_OPERATION;
            }
        };
        let operation = route.endpoint.name();
        if let Some(logged) = logged.as_mut() {
            logged.note_route(&route, &ex.head().method);
        }
        if matches!(route.endpoint, Endpoint::Health | Endpoint::Ready) {
            let ready = route.endpoint == Endpoint::Ready;
            self.health(&request_id, ex, ready).await;
            return operation;
        }
        if route.endpoint == Endpoint::CorsPreflight {
            self.cors_preflight(&request_id, &route, ex).await;
            return operation;
        }
        // Before authentication, so its refusals carry them too. Without an
        // `Origin` this is one header lookup.
        let cors = cors::request_headers(&self.shard, &route, ex.head());
        let (payload, auth) =
            match self.authenticate(ex, &route.query, now_ms, sigv4::SERVICE_S3, None) {
                Ok(authenticated) => authenticated,
                Err(err) => {
                    tracing::debug!(code = err.code.as_str(), "authentication failed");
                    ex.mark_unauthenticated();
                    self.respond_error_cors(&request_id, ex, &err, &cors).await;
                    return operation;
                }
            };
        if let Err(err) = self.discard_unexpected_body(ex).await {
            self.respond_error_cors(&request_id, ex, &err, &cors).await;
            return operation;
        }
        // Held until the response is written: the compactor removes no
        // segment file this request might still read.
        let _pin = self.shard.reader.pin();
        if let Some(logged) = logged.as_mut() {
            logged.note_auth(&auth, &self.shard.catalog());
        }
        let mut ctx = RequestContext {
            request_id,
            route,
            payload,
            auth,
            now_ms,
            catalog: self.shard.catalog(),
            head_sent: false,
            cors,
            events: Vec::new(),
        };
        if let Err(err) = self.authorize_route(&ctx, ex) {
            if ctx.auth.identity.is_none() {
                ex.mark_unauthenticated();
            }
            if self.shard.audit_budget.admit(now_ms) {
                self.shard
                    .audit(self.audit_event(&ctx, ex, "denied", &err.message));
            }
            let err = err.with_resource(ctx.resource());
            self.respond_error_cors(&ctx.request_id, ex, &err, &ctx.cors)
                .await;
            return operation;
        }
        let outcome = self.dispatch(&mut ctx, ex).await;
        if outcome.is_ok() {
            self.audit_change(&ctx, ex);
        }
        if let Some(bucket) = ctx.route.bucket.as_ref() {
            if let Some(info) = ctx.catalog.buckets.get(bucket.as_str()) {
                self.shard.traffic.note(
                    &info.owner_account,
                    &info.name,
                    ex.body_read_bytes(),
                    ex.body_written_bytes(),
                );
            }
        }
        if let Err(err) = outcome {
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
                self.respond_error_cors(&ctx.request_id, ex, &err, &ctx.cors)
                    .await;
            }
        }
        operation
    }
}

/// Seconds a client is told to wait before retrying a write refused in
/// maintenance mode.
const MAINTENANCE_RETRY_AFTER_S: &str = "60";

/// The answer to a write while the server is in maintenance mode.
fn maintenance_refusal() -> S3Error {
    S3Error::new(
        S3ErrorCode::ServiceUnavailable,
        "The server is in maintenance: writes are paused, reads are served. Please retry later.",
    )
    .with_header("retry-after", MAINTENANCE_RETRY_AFTER_S)
}

/// The operation a request that could not be routed counts under.
const UNROUTED_OPERATION: &str = "Unrouted";
