//! Bucket CORS: Put/Get/DeleteBucketCors, the configuration model with
//! AWS's validation, and the evaluation both a preflight (`OPTIONS`, answered
//! before authentication) and a real cross-origin request use.
//!
//! The configuration is validated, then kept in the catalog as the XML the
//! client sent (`bucket_settings`, name `cors`) and returned as such. The
//! control plane parses it once per snapshot into `BucketInfo::cors`, with the
//! response header values of each rule already joined, so a request pays a
//! header lookup when it has no `Origin` and an `Option` check when its
//! bucket has no configuration.
//!
//! Must not touch: authentication and authorization. A preflight carries no
//! credentials and grants nothing: it only tells the browser what the bucket's
//! owner declared. Real requests are authorized as any other; CORS only adds
//! response headers to them.

use std::rc::Rc;

use http::{BodyLen, Exchange, RequestHead};

use crate::body::{read_small_body_or, require_integrity_header, HeaderChecksums};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::ops::versioning::set_setting;
use crate::ops::RequestContext;
use crate::router::Route;
use crate::shard::{CatalogSnapshot, Shard};
use crate::xml::{self, Node};

/// The catalog setting holding a bucket's CORS configuration (XML).
pub const SETTING_CORS: &str = "cors";
/// Rules per configuration at most (AWS's limit).
const RULES_MAX: usize = 100;
/// A rule's ID length at most, in characters (AWS's limit).
const RULE_ID_CHARS_MAX: usize = 255;
/// The configuration document's size at most: AWS limits it to 64 KB.
pub const CORS_BODY_BYTES_MAX: usize = 64 * 1024;
/// `MaxAgeSeconds` is an `xs:int` in AWS's schema.
const MAX_AGE_SECONDS_MAX: u32 = i32::MAX as u32;
/// AWS names all three request headers it evaluates, whatever the rule.
const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";
/// AWS's own spelling, typo included: clients may compare messages.
const NOT_ALLOWED: &str = "CORSResponse: This CORS request is not allowed. This is usually \
     because the evalution of Origin, request method / Access-Control-Request-Method or \
     Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

/// CORS response headers, in the order AWS sends them; empty when none apply.
pub type CorsHeaders = Vec<(&'static str, String)>;

/// The methods a rule may allow (AWS accepts no other, and matches them
/// case-sensitively).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorsMethod {
    Get,
    Put,
    Head,
    Post,
    Delete,
}

impl CorsMethod {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "GET" => Self::Get,
            "PUT" => Self::Put,
            "HEAD" => Self::Head,
            "POST" => Self::Post,
            "DELETE" => Self::Delete,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Put => "PUT",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Delete => "DELETE",
        }
    }
}

/// One `CORSRule`, values as the client wrote them, plus what every matching
/// request would otherwise recompute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsRule {
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<CorsMethod>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<u32>,
    /// A literal `*` among the origins: AWS then answers `*` and never
    /// allows credentials, whichever origin matched.
    origin_any: bool,
    /// `allowed_headers` lowercased: header names compare case-insensitively.
    allowed_headers_lower: Vec<String>,
    /// `Access-Control-Allow-Methods`, the rule's methods in its order.
    allow_methods_value: String,
    /// `Access-Control-Expose-Headers`, when the rule has any.
    expose_headers_value: Option<String>,
}

/// A bucket's parsed CORS configuration: rules in document order, the first
/// match wins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsConfiguration {
    /// The document as the client sent it (GetBucketCors answers it).
    pub document: String,
    pub rules: Vec<CorsRule>,
}

/// A rule as read from the XML, before the checks AWS answers with
/// InvalidRequest (it answers a malformed document first).
struct RuleText<'n> {
    id: Option<&'n str>,
    origins: Vec<&'n str>,
    methods: Vec<&'n str>,
    headers: Vec<&'n str>,
    expose: Vec<&'n str>,
    max_age_seconds: Option<u32>,
}

impl CorsConfiguration {
    /// Parses and validates a `CORSConfiguration` as PutBucketCors does.
    pub fn parse(body: &[u8]) -> S3Result<Self> {
        let root = xml::parse_tree(body)?;
        xml::root_expect(&root, "CORSConfiguration")?;
        if !root.text.trim().is_empty() || root.children.iter().any(|c| c.name != "CORSRule") {
            return Err(xml::malformed(
                "a CORSConfiguration holds only CORSRule elements",
            ));
        }
        if root.children.is_empty() || root.children.len() > RULES_MAX {
            return Err(xml::malformed(
                "a CORSConfiguration needs 1 to 100 CORSRules",
            ));
        }
        let texts = root
            .children
            .iter()
            .map(parse_rule_text)
            .collect::<S3Result<Vec<_>>>()?;
        let rules = texts
            .into_iter()
            .map(validate_rule)
            .collect::<S3Result<Vec<_>>>()?;
        // parse_tree accepted only UTF-8.
        let document = String::from_utf8_lossy(body).into_owned();
        Ok(CorsConfiguration { document, rules })
    }

    /// The first rule that allows `origin` to use `method` and, for a
    /// preflight, to send every header named in `request_headers` (the
    /// `Access-Control-Request-Headers` value). A real request passes `None`:
    /// AWS checks its headers only at preflight.
    pub fn rule_for(
        &self,
        origin: &str,
        method: &str,
        request_headers: Option<&str>,
    ) -> Option<&CorsRule> {
        let method = CorsMethod::parse(method)?;
        self.rules.iter().find(|rule| {
            rule.allowed_methods.contains(&method)
                && rule
                    .allowed_origins
                    .iter()
                    .any(|pattern| wildcard_match(pattern, origin))
                && request_header_names(request_headers).all(|name| rule.allows_header(name))
        })
    }
}

impl CorsRule {
    fn allows_header(&self, name: &str) -> bool {
        self.allowed_headers_lower
            .iter()
            .any(|pattern| wildcard_match_ignore_case(pattern, name))
    }

    /// The headers a matching request is answered with; `allow_headers` is
    /// a preflight's `Access-Control-Allow-Headers`.
    pub fn response_headers(&self, origin: &str, allow_headers: Option<String>) -> CorsHeaders {
        let mut headers = Vec::with_capacity(7);
        let allow_origin = if self.origin_any { "*" } else { origin };
        headers.push(("access-control-allow-origin", allow_origin.to_owned()));
        headers.push((
            "access-control-allow-methods",
            self.allow_methods_value.clone(),
        ));
        if let Some(allow_headers) = allow_headers {
            headers.push(("access-control-allow-headers", allow_headers));
        }
        if let Some(expose) = &self.expose_headers_value {
            headers.push(("access-control-expose-headers", expose.clone()));
        }
        if let Some(max_age) = self.max_age_seconds {
            headers.push(("access-control-max-age", max_age.to_string()));
        }
        if !self.origin_any {
            headers.push(("access-control-allow-credentials", "true".to_owned()));
        }
        headers.push(("vary", VARY.to_owned()));
        headers
    }
}

/// The names in an `Access-Control-Request-Headers` value, empty ones skipped.
fn request_header_names(value: Option<&str>) -> impl Iterator<Item = &str> {
    value
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
}

fn parse_rule_text(node: &Node) -> S3Result<RuleText<'_>> {
    if !node.text.trim().is_empty() {
        return Err(xml::malformed("a CORSRule holds only elements"));
    }
    let mut rule = RuleText {
        id: None,
        origins: Vec::new(),
        methods: Vec::new(),
        headers: Vec::new(),
        expose: Vec::new(),
        max_age_seconds: None,
    };
    let mut max_age_seen = false;
    for child in &node.children {
        if !child.children.is_empty() {
            return Err(xml::malformed(&format!("{} holds text only", child.name)));
        }
        let value = child.text.as_str();
        match child.name.as_str() {
            "AllowedOrigin" => rule.origins.push(value),
            "AllowedMethod" => rule.methods.push(value),
            "AllowedHeader" => rule.headers.push(value),
            "ExposeHeader" => rule.expose.push(value),
            "ID" if rule.id.is_none() => rule.id = Some(value),
            "MaxAgeSeconds" if !max_age_seen => {
                max_age_seen = true;
                rule.max_age_seconds = Some(parse_max_age(value)?);
            }
            "ID" | "MaxAgeSeconds" => {
                return Err(xml::malformed(&format!(
                    "{} appears more than once",
                    child.name
                )))
            }
            other => {
                return Err(xml::malformed(&format!(
                    "unknown element {other} in CORSRule"
                )))
            }
        }
    }
    if rule.origins.is_empty() || rule.methods.is_empty() {
        return Err(xml::malformed(
            "a CORSRule needs an AllowedOrigin and an AllowedMethod",
        ));
    }
    if rule
        .id
        .is_some_and(|id| id.chars().count() > RULE_ID_CHARS_MAX)
    {
        return Err(xml::malformed("a CORSRule ID has at most 255 characters"));
    }
    Ok(rule)
}

/// Digits only (an `xs:int` that is not negative), at most `i32::MAX`.
fn parse_max_age(text: &str) -> S3Result<u32> {
    let valid = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    valid
        .then(|| text.parse::<u64>().ok())
        .flatten()
        .filter(|&seconds| seconds <= u64::from(MAX_AGE_SECONDS_MAX))
        .map(|seconds| seconds as u32)
        .ok_or_else(|| xml::malformed("MaxAgeSeconds must be a non-negative 32-bit integer"))
}

/// AWS's checks of one rule, in AWS's order: methods, origins, allowed
/// headers, exposed headers.
fn validate_rule(text: RuleText<'_>) -> S3Result<CorsRule> {
    let mut methods = Vec::with_capacity(text.methods.len());
    for method in &text.methods {
        let parsed = CorsMethod::parse(method).ok_or_else(|| {
            invalid_request(format!(
                "Found unsupported HTTP method in CORS config. Unsupported method is {method}"
            ))
        })?;
        methods.push(parsed);
    }
    let too_many_wildcards = |element: &str, value: &str| {
        invalid_request(format!(
            "{element} \"{value}\" can not have more than one wildcard."
        ))
    };
    if let Some(origin) = text.origins.iter().find(|o| wildcard_count(o) > 1) {
        return Err(too_many_wildcards("AllowedOrigin", origin));
    }
    if let Some(header) = text.headers.iter().find(|h| wildcard_count(h) > 1) {
        return Err(too_many_wildcards("AllowedHeader", header));
    }
    if let Some(header) = text.expose.iter().find(|h| h.contains('*')) {
        return Err(invalid_request(format!(
            "ExposeHeader \"{header}\" contains wildcard. We currently do not support wildcard \
             for ExposeHeader."
        )));
    }
    // Header names go back to browsers inside response headers, where only
    // an HTTP token can stand: a stored control byte would make every
    // matching answer unsendable.
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'+-.^_`|~".contains(&b);
    let not_header_name = |value: &str, wildcard: bool| {
        value.is_empty() || !value.bytes().all(|b| token(b) || (wildcard && b == b'*'))
    };
    if let Some(header) = text.headers.iter().find(|h| not_header_name(h, true)) {
        return Err(invalid_request(format!(
            "AllowedHeader \"{}\" is not a valid header name.",
            header.escape_debug()
        )));
    }
    if let Some(header) = text.expose.iter().find(|h| not_header_name(h, false)) {
        return Err(invalid_request(format!(
            "ExposeHeader \"{}\" is not a valid header name.",
            header.escape_debug()
        )));
    }
    let owned = |values: &[&str]| values.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>();
    let allow_methods_value = methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    Ok(CorsRule {
        id: text.id.map(str::to_owned),
        origin_any: text.origins.contains(&"*"),
        allowed_headers_lower: text
            .headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        allow_methods_value,
        expose_headers_value: (!text.expose.is_empty()).then(|| text.expose.join(", ")),
        allowed_origins: owned(&text.origins),
        allowed_methods: methods,
        allowed_headers: owned(&text.headers),
        expose_headers: owned(&text.expose),
        max_age_seconds: text.max_age_seconds,
    })
}

fn invalid_request(message: String) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidRequest, message)
}

fn wildcard_count(value: &str) -> usize {
    value.bytes().filter(|&b| b == b'*').count()
}

/// `pattern` holds at most one `*`, which stands for any text (empty too);
/// the text before and after it may not overlap in `text`.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, suffix)) => {
            text.len() >= prefix.len() + suffix.len()
                && text.starts_with(prefix)
                && text.ends_with(suffix)
        }
    }
}

/// `wildcard_match` for header names, which compare case-insensitively;
/// `pattern` is already lowercase.
fn wildcard_match_ignore_case(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    match pattern.iter().position(|&b| b == b'*') {
        None => pattern.eq_ignore_ascii_case(text),
        Some(star) => {
            let (prefix, suffix) = (&pattern[..star], &pattern[star + 1..]);
            text.len() >= prefix.len() + suffix.len()
                && text[..prefix.len()].eq_ignore_ascii_case(prefix)
                && text[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
        }
    }
}

/// The CORS headers of a real (not preflight) request: none without an
/// `Origin`, for a bucket without a configuration, or when no rule allows
/// the origin and method. The request itself proceeds either way.
pub fn request_headers(shard: &Shard, route: &Route, head: &RequestHead) -> CorsHeaders {
    let Some(origin) = head.header("origin").filter(|origin| !origin.is_empty()) else {
        return Vec::new();
    };
    let catalog = shard.catalog();
    let config = route
        .bucket
        .as_ref()
        .and_then(|bucket| catalog.buckets.get(bucket.as_str()))
        .and_then(|bucket| bucket.cors.as_deref());
    match config.and_then(|config| config.rule_for(origin, &head.method, None)) {
        Some(rule) => rule.response_headers(origin, None),
        None => Vec::new(),
    }
}

/// What a preflight finds of its bucket: `None` when there is no such
/// bucket, else the bucket's configuration, if any.
pub type PreflightTarget<'c> = Option<Option<&'c CorsConfiguration>>;

/// The bucket a preflight names, looked up in `catalog`.
pub fn preflight_target<'c>(catalog: &'c CatalogSnapshot, route: &Route) -> PreflightTarget<'c> {
    let bucket = catalog.buckets.get(route.bucket.as_ref()?.as_str())?;
    Some(bucket.cors.as_deref())
}

/// Answers an `OPTIONS` preflight as AWS does: the headers of the first
/// matching rule, or the error AWS gives. Checked in AWS's order: the
/// `Origin`, the requested method, the bucket, its configuration, a rule.
pub fn preflight(
    target: PreflightTarget<'_>,
    is_object: bool,
    head: &RequestHead,
) -> S3Result<CorsHeaders> {
    let Some(origin) = head.header("origin").filter(|origin| !origin.is_empty()) else {
        return Err(S3Error::new(
            S3ErrorCode::BadRequest,
            "Insufficient information. Origin request header needed.",
        ));
    };
    let method = head.header("access-control-request-method");
    if method.and_then(CorsMethod::parse).is_none() {
        return Err(S3Error::new(
            S3ErrorCode::BadRequest,
            format!(
                "Invalid Access-Control-Request-Method: {}",
                method.unwrap_or("null")
            ),
        ));
    }
    let method = method.unwrap_or_default();
    let resource_type = if is_object { "OBJECT" } else { "BUCKET" };
    let forbidden = |message: &str| {
        S3Error::new(S3ErrorCode::AccessForbidden, message)
            .with_detail("Method", method)
            .with_detail("ResourceType", resource_type)
    };
    let Some(config) = target else {
        return Err(forbidden("CORSResponse: Bucket not found"));
    };
    let Some(config) = config else {
        return Err(forbidden(
            "CORSResponse: CORS is not enabled for this bucket.",
        ));
    };
    let requested = head.header("access-control-request-headers");
    let Some(rule) = config.rule_for(origin, method, requested) else {
        return Err(forbidden(NOT_ALLOWED));
    };
    // AWS echoes the requested names lowercased, in request order.
    let names: Vec<String> = request_header_names(requested)
        .map(str::to_ascii_lowercase)
        .collect();
    let allow_headers = (!names.is_empty()).then(|| names.join(", "));
    Ok(rule.response_headers(origin, allow_headers))
}

pub async fn put_bucket_cors(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    let body = read_small_body_or(
        ex,
        &ctx.payload,
        CORS_BODY_BYTES_MAX,
        HeaderChecksums::OfBody,
        || {
            S3Error::new(
                S3ErrorCode::MaxMessageLengthExceeded,
                "Your request was too big: a CORS configuration is limited to 64 KB.",
            )
        },
    )
    .await?;
    // PutBucketCors requires Content-MD5 (or a checksum) on AWS.
    require_integrity_header(ex.head(), &body)?;
    let config = CorsConfiguration::parse(&body)?;
    set_setting(shard, &bucket, SETTING_CORS, Some(config.document)).await?;
    ctx.respond(ex, 200, &[], BodyLen::Empty).await
}

pub async fn get_bucket_cors(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    let bucket = ctx.bucket_info(shard)?;
    // The stored text, not the parsed form: GetBucketCors answers the
    // document as it was put.
    let Some(config) = bucket.cors.as_deref() else {
        return Err(S3Error::new(
            S3ErrorCode::NoSuchCORSConfiguration,
            "The CORS configuration does not exist",
        )
        .with_detail("BucketName", bucket.name.clone()));
    };
    let text = config.document.clone();
    ctx.respond_xml(ex, text.as_bytes().to_vec()).await
}

pub async fn delete_bucket_cors(
    shard: &Rc<Shard>,
    ctx: &mut RequestContext,
    ex: &mut Exchange<'_>,
) -> S3Result<()> {
    crate::ops::versioning::delete_setting(shard, ctx, ex, SETTING_CORS).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "<AllowedOrigin>https://example.com</AllowedOrigin>";
    const METHOD: &str = "<AllowedMethod>GET</AllowedMethod>";

    /// A document with one `<CORSRule>` per argument.
    fn document(rules: &[&str]) -> Vec<u8> {
        let mut out =
            String::from(r#"<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#);
        for rule in rules {
            out.push_str(&format!("<CORSRule>{rule}</CORSRule>"));
        }
        out.push_str("</CORSConfiguration>");
        out.into_bytes()
    }

    fn parse_err(rules: &[&str]) -> S3Error {
        CorsConfiguration::parse(&document(rules)).unwrap_err()
    }

    fn head(method: &str, headers: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: method.to_owned(),
            target: "/".to_owned(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// AWS's own example: two origin rules with headers, one public GET rule.
    fn example() -> CorsConfiguration {
        let rule = |origin: &str| {
            format!(
                "<ID>{origin}</ID><AllowedOrigin>{origin}</AllowedOrigin>\
                 <AllowedMethod>PUT</AllowedMethod><AllowedMethod>POST</AllowedMethod>\
                 <AllowedMethod>DELETE</AllowedMethod><AllowedHeader>*</AllowedHeader>"
            )
        };
        let first = rule("http://www.example1.com");
        let second = format!(
            "<AllowedOrigin>https://*.example2.com</AllowedOrigin>{METHOD}\
             <AllowedMethod>PUT</AllowedMethod><AllowedHeader>Content-*</AllowedHeader>\
             <AllowedHeader>x-amz-date</AllowedHeader><ExposeHeader>ETag</ExposeHeader>\
             <ExposeHeader>x-amz-request-id</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds>"
        );
        let public = format!("<AllowedOrigin>*</AllowedOrigin>{METHOD}");
        CorsConfiguration::parse(&document(&[&first, &second, &public])).unwrap()
    }

    #[test]
    fn rules_parse_with_every_element() {
        let config = example();
        assert_eq!(config.rules.len(), 3);
        let second = &config.rules[1];
        assert_eq!(second.allowed_origins, ["https://*.example2.com"]);
        assert_eq!(second.allowed_methods, [CorsMethod::Get, CorsMethod::Put]);
        assert_eq!(second.allowed_headers, ["Content-*", "x-amz-date"]);
        assert_eq!(second.expose_headers, ["ETag", "x-amz-request-id"]);
        assert_eq!(second.max_age_seconds, Some(3000));
        assert_eq!(
            config.rules[0].id.as_deref(),
            Some("http://www.example1.com")
        );
        assert!(config.rules[2].origin_any);
        assert!(String::from_utf8(document(&[])).is_ok());
    }

    #[test]
    fn limits_of_rules_ids_and_max_age() {
        let minimal = format!("{ORIGIN}{METHOD}");
        let hundred = vec![minimal.as_str(); RULES_MAX];
        assert!(CorsConfiguration::parse(&document(&hundred)).is_ok());
        let too_many = vec![minimal.as_str(); RULES_MAX + 1];
        assert_eq!(parse_err(&too_many).code, S3ErrorCode::MalformedXML);
        assert_eq!(parse_err(&[]).code, S3ErrorCode::MalformedXML);

        let id = |len: usize| format!("{minimal}<ID>{}</ID>", "a".repeat(len));
        assert!(CorsConfiguration::parse(&document(&[&id(255)])).is_ok());
        assert_eq!(parse_err(&[&id(256)]).code, S3ErrorCode::MalformedXML);

        let max_age = |value: &str| format!("{minimal}<MaxAgeSeconds>{value}</MaxAgeSeconds>");
        assert!(CorsConfiguration::parse(&document(&[&max_age("2147483647")])).is_ok());
        for bad in ["2147483648", "-1", "1.5", "", "hour"] {
            assert_eq!(
                parse_err(&[&max_age(bad)]).code,
                S3ErrorCode::MalformedXML,
                "{bad}"
            );
        }
        let twice = format!("{}<MaxAgeSeconds>1</MaxAgeSeconds>", max_age("1"));
        assert_eq!(parse_err(&[&twice]).code, S3ErrorCode::MalformedXML);
    }

    #[test]
    fn malformed_documents_are_malformed_xml() {
        let minimal = format!("{ORIGIN}{METHOD}");
        let cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"not xml".to_vec(),
            b"<CORSConfiguration><CORSRule>".to_vec(),
            format!("<CORSRules><CORSRule>{minimal}</CORSRule></CORSRules>").into_bytes(),
            document(&[ORIGIN]),
            document(&[METHOD]),
            document(&[&format!("{minimal}<AllowedHeaders>*</AllowedHeaders>")]),
            document(&[&format!("{minimal}text")]),
            format!("<CORSConfiguration>{minimal}</CORSConfiguration>").into_bytes(),
        ];
        for body in cases {
            let err = CorsConfiguration::parse(&body).unwrap_err();
            assert_eq!(
                err.code,
                S3ErrorCode::MalformedXML,
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
    }

    #[test]
    fn bad_values_are_invalid_requests_with_aws_messages() {
        let cases = [
            (
                format!("{ORIGIN}{METHOD}<AllowedMethod>PATCH</AllowedMethod>"),
                "Found unsupported HTTP method in CORS config. Unsupported method is PATCH",
            ),
            (
                format!("{ORIGIN}<AllowedMethod>get</AllowedMethod>"),
                "Found unsupported HTTP method in CORS config. Unsupported method is get",
            ),
            (
                format!("<AllowedOrigin>https://*.example.*</AllowedOrigin>{METHOD}"),
                "AllowedOrigin \"https://*.example.*\" can not have more than one wildcard.",
            ),
            (
                format!("{ORIGIN}{METHOD}<AllowedHeader>x-*-*</AllowedHeader>"),
                "AllowedHeader \"x-*-*\" can not have more than one wildcard.",
            ),
            (
                format!("{ORIGIN}{METHOD}<ExposeHeader>x-amz-*</ExposeHeader>"),
                "ExposeHeader \"x-amz-*\" contains wildcard. We currently do not support \
                 wildcard for ExposeHeader.",
            ),
        ];
        for (rule, message) in cases {
            let err = parse_err(&[&rule]);
            assert_eq!(err.code, S3ErrorCode::InvalidRequest, "{rule}");
            assert_eq!(err.message, message);
        }
        // The method is checked before the origin, as AWS does.
        let both = "<AllowedOrigin>**</AllowedOrigin><AllowedMethod>TRACE</AllowedMethod>";
        assert!(parse_err(&[both]).message.contains("TRACE"));
    }

    #[test]
    fn wildcards_match_one_run_of_text() {
        let cases = [
            ("*", "https://example.com", true),
            ("https://example.com", "https://example.com", true),
            ("https://example.com", "https://EXAMPLE.com", false),
            ("https://example.com", "https://example.com:8443", false),
            ("https://*.example.com", "https://a.b.example.com", true),
            ("https://*.example.com", "https://example.com", false),
            ("https://*.example.com", "http://www.example.com", false),
            ("https://example.com:*", "https://example.com:8443", true),
            ("http*", "https://example.com", true),
            ("https://a*a", "https://aa", true),
            ("https://a*a", "https://a", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(wildcard_match(pattern, text), expected, "{pattern} {text}");
        }
        assert!(wildcard_match_ignore_case("x-amz-*", "X-Amz-Date"));
        assert!(wildcard_match_ignore_case("content-type", "Content-Type"));
        assert!(wildcard_match_ignore_case("*-type", "CONTENT-TYPE"));
        assert!(!wildcard_match_ignore_case("x-amz-*", "x-am"));
        assert!(!wildcard_match_ignore_case(
            "content-type",
            "content-length"
        ));
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let config = example();
        let rule = |origin, method, headers| {
            config
                .rule_for(origin, method, headers)
                .map(|rule| rule.allowed_origins[0].as_str())
        };
        let site1 = Some("http://www.example1.com");
        let site2 = Some("https://*.example2.com");
        assert_eq!(rule("http://www.example1.com", "PUT", None), site1);
        assert_eq!(
            rule("http://www.example1.com", "PUT", Some("X-Anything")),
            site1
        );
        // GET is the public rule's only: any origin, no headers allowed there.
        assert_eq!(rule("http://www.example1.com", "GET", None), Some("*"));
        assert_eq!(
            rule("http://www.example1.com", "GET", Some("x-custom")),
            None
        );
        assert_eq!(rule("https://app.example2.com", "PUT", None), site2);
        assert_eq!(
            rule(
                "https://app.example2.com",
                "PUT",
                Some("content-type, X-AMZ-DATE ,")
            ),
            site2
        );
        assert_eq!(
            rule("https://app.example2.com", "PUT", Some("authorization")),
            None
        );
        assert_eq!(rule("https://app.example2.com", "DELETE", None), None);
        assert_eq!(rule("https://app.example2.com", "get", None), None);
        assert_eq!(rule("https://evil.example", "PUT", None), None);
    }

    #[test]
    fn response_headers_follow_aws() {
        let config = example();
        let rule = config
            .rule_for("https://a.example2.com", "GET", None)
            .unwrap();
        let headers = rule.response_headers("https://a.example2.com", Some("x-amz-date".into()));
        let expected: CorsHeaders = vec![
            (
                "access-control-allow-origin",
                "https://a.example2.com".into(),
            ),
            ("access-control-allow-methods", "GET, PUT".into()),
            ("access-control-allow-headers", "x-amz-date".into()),
            (
                "access-control-expose-headers",
                "ETag, x-amz-request-id".into(),
            ),
            ("access-control-max-age", "3000".into()),
            ("access-control-allow-credentials", "true".into()),
            ("vary", VARY.into()),
        ];
        assert_eq!(headers, expected);
        let public = config
            .rule_for("https://other.example", "GET", None)
            .unwrap();
        let expected: CorsHeaders = vec![
            ("access-control-allow-origin", "*".into()),
            ("access-control-allow-methods", "GET".into()),
            ("vary", VARY.into()),
        ];
        assert_eq!(
            public.response_headers("https://other.example", None),
            expected
        );
    }

    #[test]
    fn preflight_answers_and_refusals() {
        let config = example();
        let ask = |headers: &[(&str, &str)]| {
            preflight(Some(Some(&config)), true, &head("OPTIONS", headers))
        };
        let ok = ask(&[
            ("origin", "https://a.example2.com"),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "Content-Type, X-Amz-Date"),
        ])
        .unwrap();
        assert!(ok.contains(&(
            "access-control-allow-headers",
            "content-type, x-amz-date".into()
        )));

        let err = ask(&[("access-control-request-method", "PUT")]).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::BadRequest);
        assert_eq!(
            err.message,
            "Insufficient information. Origin request header needed."
        );
        let err = ask(&[("origin", "https://a.example2.com")]).unwrap_err();
        assert_eq!(err.message, "Invalid Access-Control-Request-Method: null");
        let err = ask(&[
            ("origin", "https://x"),
            ("access-control-request-method", "PATCH"),
        ]);
        assert_eq!(
            err.unwrap_err().message,
            "Invalid Access-Control-Request-Method: PATCH"
        );

        let err = ask(&[
            ("origin", "https://x"),
            ("access-control-request-method", "PUT"),
        ]);
        let err = err.unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AccessForbidden);
        assert_eq!(err.message, NOT_ALLOWED);
        assert_eq!(
            err.details,
            vec![
                ("Method", "PUT".to_owned()),
                ("ResourceType", "OBJECT".to_owned())
            ]
        );

        let asked = head(
            "OPTIONS",
            &[
                ("origin", "https://x"),
                ("access-control-request-method", "GET"),
            ],
        );
        let err = preflight(Some(None), false, &asked).unwrap_err();
        assert_eq!(
            err.message,
            "CORSResponse: CORS is not enabled for this bucket."
        );
        assert_eq!(err.details[1], ("ResourceType", "BUCKET".to_owned()));
        let err = preflight(None, false, &asked).unwrap_err();
        assert_eq!(err.message, "CORSResponse: Bucket not found");
    }
}
