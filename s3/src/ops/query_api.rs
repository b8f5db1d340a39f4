//! The IAM and STS query APIs on a shard: read the form body (bounded, and
//! verified against the signed payload hash), hand the call to the control
//! plane, which authorises and executes it, and answer in AWS's XML.

use std::rc::Rc;

use http::{BodyLen, Exchange};

use crate::authz::Authenticated;
use crate::body::{HeaderChecksums, PayloadMode};
use crate::error::{S3Error, S3ErrorCode};
use crate::query::{
    render_answer, render_error, QueryError, QueryRequest, QueryService, RequestFacts,
    QUERY_BODY_BYTES_MAX,
};
use crate::shard::{ControlRequest, Shard};

pub async fn handle(
    shard: &Rc<Shard>,
    ex: &mut Exchange<'_>,
    service: QueryService,
    body: &[u8],
    auth: Authenticated,
    request_id: &str,
) {
    let Some(identity) = auth.identity.clone() else {
        let err = QueryError::new(
            "MissingAuthenticationToken",
            403,
            "Request is missing Authentication Token",
        );
        return respond_error(ex, service, &err, request_id).await;
    };
    let request = match QueryRequest::from_form(service, body) {
        Ok(request) => request,
        Err(err) => return respond_error(ex, service, &err, request_id).await,
    };
    let facts = request_facts(shard, ex, Some(&*identity));
    let access_key_id = identity.access_key_id.clone();
    let action = request.action.clone();
    let answer = shard
        .query(|reply| ControlRequest::Query {
            access_key_id,
            request,
            facts,
            reply,
        })
        .await;
    answer_query(ex, service, &action, answer, request_id).await
}

/// The STS calls that carry their own proof instead of a signature:
/// AssumeRoleWithWebIdentity (a provider's token) and
/// AssumeRoleWithLDAPIdentity (a directory password). Anything else
/// unsigned is refused as AWS refuses it.
pub async fn handle_unsigned(
    shard: &Rc<Shard>,
    ex: &mut Exchange<'_>,
    service: QueryService,
    body: &[u8],
    request_id: &str,
) {
    ex.mark_unauthenticated();
    let request = match QueryRequest::from_form(service, body) {
        Ok(request) => request,
        Err(err) => return respond_error(ex, service, &err, request_id).await,
    };
    if !matches!(
        request.action.as_str(),
        "AssumeRoleWithWebIdentity" | "AssumeRoleWithLDAPIdentity"
    ) {
        let err = QueryError::new(
            "MissingAuthenticationToken",
            403,
            "Request is missing Authentication Token",
        );
        return respond_error(ex, service, &err, request_id).await;
    }
    let facts = request_facts(shard, ex, None);
    let action = request.action.clone();
    let answer = shard
        .query(|reply| ControlRequest::FederatedQuery {
            request,
            facts,
            reply,
        })
        .await;
    answer_query(ex, service, &action, answer, request_id).await
}

async fn answer_query(
    ex: &mut Exchange<'_>,
    service: QueryService,
    action: &str,
    answer: Result<Vec<crate::query::XmlNode>, QueryError>,
    request_id: &str,
) {
    match answer {
        Ok(result) => {
            let mut out = Vec::new();
            render_answer(&mut out, service, action, &result, request_id);
            respond(ex, 200, out, request_id).await;
        }
        Err(err) => respond_error(ex, service, &err, request_id).await,
    }
}

/// What a policy condition may ask about the caller's connection.
fn request_facts(
    shard: &Shard,
    ex: &Exchange<'_>,
    identity: Option<&iam::snapshot::KeyIdentity>,
) -> RequestFacts {
    let head = ex.head();
    let mut facts = RequestFacts::default();
    let mut fact = |key: &str, value: Option<&str>| {
        if let Some(value) = value {
            facts.values.push((key.to_owned(), vec![value.to_owned()]));
        }
    };
    fact("aws:sourceip", Some(&ex.peer_addr().ip().to_string()));
    fact(
        "aws:securetransport",
        Some(if shard.secure_transport(ex) {
            "true"
        } else {
            "false"
        }),
    );
    fact("aws:useragent", head.header("user-agent"));
    let issued = identity
        .and_then(|identity| identity.session.as_ref())
        .map(|session| crate::xml::format_timestamp(session.issued_ms));
    fact("aws:tokenissuetime", issued.as_deref());
    fact("aws:referer", head.header("referer"));
    facts
}

/// Reads the form body, before authentication (its hash is signed but not
/// sent): bounded by `QUERY_BODY_BYTES_MAX`.
pub async fn read_body(ex: &mut Exchange<'_>) -> Result<Vec<u8>, QueryError> {
    crate::body::read_small_body_or(
        ex,
        &PayloadMode::Unsigned,
        QUERY_BODY_BYTES_MAX,
        HeaderChecksums::OfBody,
        || {
            S3Error::new(
                S3ErrorCode::EntityTooLarge,
                format!("The request body is larger than {QUERY_BODY_BYTES_MAX} bytes."),
            )
        },
    )
    .await
    .map_err(|err| from_s3_error(&err))
}

/// An S3-layer failure (authentication, body) in the query APIs' terms.
pub fn from_s3_error(err: &S3Error) -> QueryError {
    let code = match err.code {
        S3ErrorCode::SignatureDoesNotMatch => "SignatureDoesNotMatch",
        S3ErrorCode::InvalidAccessKeyId => "InvalidClientTokenId",
        S3ErrorCode::ExpiredToken => "ExpiredToken",
        S3ErrorCode::InvalidToken => "InvalidClientTokenId",
        S3ErrorCode::RequestTimeTooSkewed => "RequestExpired",
        S3ErrorCode::AccessDenied => "AccessDenied",
        S3ErrorCode::AuthorizationHeaderMalformed => "IncompleteSignature",
        S3ErrorCode::SlowDown => "Throttling",
        S3ErrorCode::InternalError => "InternalFailure",
        S3ErrorCode::EntityTooLarge => "ValidationError",
        _ => "InvalidParameterValue",
    };
    let status = match code {
        "InvalidClientTokenId" | "SignatureDoesNotMatch" | "AccessDenied" | "ExpiredToken" => 403,
        "Throttling" => 503,
        "InternalFailure" => 500,
        _ => 400,
    };
    QueryError::new(code, status, err.message.clone())
}

pub async fn respond_error(
    ex: &mut Exchange<'_>,
    service: QueryService,
    err: &QueryError,
    request_id: &str,
) {
    let mut out = Vec::new();
    render_error(&mut out, service, err, request_id);
    respond(ex, err.status, out, request_id).await;
}

async fn respond(ex: &mut Exchange<'_>, status: u16, body: Vec<u8>, request_id: &str) {
    let headers = [
        ("x-amzn-requestid", request_id),
        ("content-type", "text/xml"),
    ];
    let len = body.len() as u64;
    if ex
        .send_head(status, &headers, BodyLen::Fixed(len))
        .await
        .is_ok()
    {
        let _ = ex.write_body(body).await;
    }
}
