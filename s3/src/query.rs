//! The IAM and STS query APIs' wire format. They arrive on the S3 port as
//! `POST /` with a form-encoded body (`Action=CreateUser&UserName=alice&
//! Version=2010-05-08`), told apart from S3 by the service of the SigV4
//! credential scope (`iam`, `sts`), and answer in AWS's XML shapes.
//!
//! Owns: recognising such a request, decoding its form, the request and
//! answer types the shard hands the control plane (which executes them,
//! `cluster::control::iam`), and rendering answers and errors. Must not
//! touch: the catalog, policies, authorisation (the control plane decides).

use std::sync::Arc;

use percent_encoding::percent_decode;

use crate::xml::XmlWriter;

/// The largest form body accepted: the largest policy document IAM takes
/// (a role's, 10 240 characters) form-encodes to at most three times that,
/// plus the other parameters.
pub const QUERY_BODY_BYTES_MAX: usize = 64 * 1024;
/// Parameters in one request: the largest real call (AssumeRole with ten
/// policy ARNs and fifty tags) has about 130.
pub const QUERY_PARAMS_MAX: usize = 256;

const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Which query API a request speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryService {
    Iam,
    Sts,
}

impl QueryService {
    /// The name its calls count under in the metrics.
    pub fn operation_name(self) -> &'static str {
        match self {
            Self::Iam => "IAM",
            Self::Sts => "STS",
        }
    }

    /// The service named in a SigV4 credential scope, if it is one of ours.
    pub fn from_scope(service: &str) -> Option<Self> {
        match service {
            "iam" => Some(Self::Iam),
            "sts" => Some(Self::Sts),
            _ => None,
        }
    }

    pub fn prefix(self) -> &'static str {
        match self {
            Self::Iam => "iam",
            Self::Sts => "sts",
        }
    }

    fn xmlns(self) -> &'static str {
        match self {
            Self::Iam => IAM_XMLNS,
            Self::Sts => STS_XMLNS,
        }
    }
}

/// The credential scope service of a SigV4 `Authorization` header, without
/// verifying anything: enough to choose between S3 and the query APIs.
pub fn scope_service_of_header(authorization: &str) -> Option<&str> {
    let rest = authorization.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let credential = rest
        .split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("Credential="))?;
    let mut fields = credential.split('/');
    let _key = fields.next()?;
    let _date = fields.next()?;
    let _region = fields.next()?;
    fields.next()
}

/// One decoded query-API call.
#[derive(Clone)]
pub struct QueryRequest {
    pub service: QueryService,
    pub action: String,
    pub params: Vec<(String, String)>,
}

/// Parameters that are credentials (a directory password, a provider's
/// token, a policy is not): never printed.
const SECRET_PARAMS: [&str; 2] = ["LDAPPassword", "WebIdentityToken"];

impl std::fmt::Debug for QueryRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let params: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(name, value)| {
                let shown = if SECRET_PARAMS.contains(&name.as_str()) {
                    "<redacted>"
                } else {
                    value.as_str()
                };
                (name.as_str(), shown)
            })
            .collect();
        f.debug_struct("QueryRequest")
            .field("service", &self.service)
            .field("action", &self.action)
            .field("params", &params)
            .finish()
    }
}

impl QueryRequest {
    /// Decodes a form body; `Action` is required, as AWS requires it.
    pub fn from_form(service: QueryService, body: &[u8]) -> Result<Self, QueryError> {
        let params = parse_form(body)?;
        let action = params
            .iter()
            .find(|(name, _)| name == "Action")
            .map(|(_, value)| value.clone())
            .ok_or_else(QueryError::missing_action)?;
        Ok(QueryRequest {
            service,
            action,
            params,
        })
    }

    /// The value of parameter `name`, if sent.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.as_str())
    }

    /// A required parameter: AWS answers ValidationError naming it.
    pub fn required(&self, name: &str) -> Result<&str, QueryError> {
        self.param(name).ok_or_else(|| {
            QueryError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy \
                 constraint: Member must not be null",
                lower_first(name)
            ))
        })
    }

    /// The members of a list parameter (`PolicyArns.member.1.arn`, ...), in
    /// index order: `prefix` is `PolicyArns.member`, `suffix` `.arn` or "".
    pub fn list(&self, prefix: &str, suffix: &str) -> Vec<&str> {
        let mut members: Vec<(u32, &str)> = self
            .params
            .iter()
            .filter_map(|(name, value)| {
                let rest = name.strip_prefix(prefix)?.strip_prefix('.')?;
                let index = rest.strip_suffix(suffix)?;
                Some((index.parse().ok()?, value.as_str()))
            })
            .collect();
        members.sort_by_key(|(index, _)| *index);
        members.into_iter().map(|(_, value)| value).collect()
    }
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `application/x-www-form-urlencoded`: `+` is a space, `%XX` a byte.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, QueryError> {
    let mut params = Vec::new();
    for pair in body.split(|b| *b == b'&').filter(|pair| !pair.is_empty()) {
        if params.len() == QUERY_PARAMS_MAX {
            return Err(QueryError::validation(format!(
                "The request has more than {QUERY_PARAMS_MAX} parameters."
            )));
        }
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &b""[..]),
        };
        params.push((form_decode(name)?, form_decode(value)?));
    }
    Ok(params)
}

fn form_decode(raw: &[u8]) -> Result<String, QueryError> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_decode(&spaced)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| QueryError::validation("A request parameter is not valid UTF-8."))
}

/// An element of an answer: text, or child elements in order.
#[derive(Clone, PartialEq, Eq)]
pub enum XmlNode {
    Text(&'static str, String),
    Parent(&'static str, Vec<XmlNode>),
}

/// Elements whose text is a secret: never shown by `Debug`.
const SECRET_ELEMENTS: [&str; 2] = ["SecretAccessKey", "SessionToken"];

impl std::fmt::Debug for XmlNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            XmlNode::Text(name, _) if SECRET_ELEMENTS.contains(name) => {
                write!(f, "{name}: <redacted>")
            }
            XmlNode::Text(name, value) => write!(f, "{name}: {value:?}"),
            XmlNode::Parent(name, children) => f.debug_map().entry(name, children).finish(),
        }
    }
}

impl XmlNode {
    pub fn text(name: &'static str, value: impl Into<String>) -> Self {
        XmlNode::Text(name, value.into())
    }

    pub fn parent(name: &'static str, children: Vec<XmlNode>) -> Self {
        XmlNode::Parent(name, children)
    }

    pub fn boolean(name: &'static str, value: bool) -> Self {
        XmlNode::Text(name, if value { "true" } else { "false" }.into())
    }

    /// A list as the query APIs render one: `<Name><member>..</member>...</Name>`.
    pub fn members(name: &'static str, members: Vec<Vec<XmlNode>>) -> Self {
        XmlNode::Parent(
            name,
            members
                .into_iter()
                .map(|children| XmlNode::Parent("member", children))
                .collect(),
        )
    }

    /// A list of plain values: `<Name><member>text</member>...</Name>`.
    pub fn text_members(name: &'static str, values: Vec<String>) -> Self {
        XmlNode::Parent(
            name,
            values
                .into_iter()
                .map(|value| XmlNode::Text("member", value))
                .collect(),
        )
    }

    fn write(&self, w: &mut XmlWriter<'_>) {
        match self {
            XmlNode::Text(name, value) => w.text(name, value),
            XmlNode::Parent(name, children) => {
                w.open(name);
                for child in children {
                    child.write(w);
                }
                w.close(name);
            }
        }
    }
}

/// An error as the query APIs answer one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    pub code: &'static str,
    pub message: String,
    pub status: u16,
}

impl QueryError {
    pub fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        QueryError {
            code,
            message: message.into(),
            status,
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationError", 400, message)
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new("AccessDenied", 403, message)
    }

    fn missing_action() -> Self {
        Self::new(
            "MissingAction",
            400,
            "The request must contain the parameter Action.",
        )
    }

    /// AWS's `<Type>`: the caller's fault (4xx) or the service's (5xx).
    fn fault(&self) -> &'static str {
        if self.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        }
    }
}

/// What the control plane answers: the children of `<{Action}Result>`.
pub type QueryAnswer = Result<Vec<XmlNode>, QueryError>;

/// The facts about a query-API request that only the shard saw: what a
/// policy's conditions may ask about the caller's connection.
#[derive(Clone, Debug, Default)]
pub struct RequestFacts {
    /// Lower-case condition key and its values (`aws:sourceip`, ...).
    pub values: Vec<(String, Vec<String>)>,
}

impl RequestFacts {
    pub fn get(&self, key_lower: &str) -> Option<&[String]> {
        self.values
            .iter()
            .find(|(key, _)| key == key_lower)
            .map(|(_, values)| values.as_slice())
    }
}

/// Who calls: the principal the access key maps to in the control plane's
/// snapshot (the shard sends only the verified key id, so a change published
/// since the shard saw the request counts).
#[derive(Clone, Debug)]
pub struct QueryCaller {
    pub access_key_id: String,
    pub principal: Arc<iam::Principal>,
    /// Whether the key is a temporary one (from STS).
    pub temporary: bool,
}

/// `<{Action}Response xmlns=...><{Action}Result>...</{Action}Result>
/// <ResponseMetadata><RequestId>..</RequestId></ResponseMetadata></...>`.
pub fn render_answer(
    out: &mut Vec<u8>,
    service: QueryService,
    action: &str,
    result: &[XmlNode],
    request_id: &str,
) {
    let response = format!("{action}Response");
    let result_tag = format!("{action}Result");
    let mut w = XmlWriter::document(out);
    w.open(&format!("{response} xmlns=\"{}\"", service.xmlns()));
    if !result.is_empty() {
        w.open(&result_tag);
        for node in result {
            node.write(&mut w);
        }
        w.close(&result_tag);
    }
    w.open("ResponseMetadata");
    w.text("RequestId", request_id);
    w.close("ResponseMetadata");
    w.close(&response);
}

/// `<ErrorResponse xmlns=...><Error><Type>Sender</Type><Code>..</Code>
/// <Message>..</Message></Error><RequestId>..</RequestId></ErrorResponse>`.
pub fn render_error(out: &mut Vec<u8>, service: QueryService, err: &QueryError, request_id: &str) {
    let mut w = XmlWriter::document(out);
    w.open(&format!("ErrorResponse xmlns=\"{}\"", service.xmlns()));
    w.open("Error");
    w.text("Type", err.fault());
    w.text("Code", err.code);
    w.text("Message", &err.message);
    w.close("Error");
    w.text("RequestId", request_id);
    w.close("ErrorResponse");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_plus_and_percent_and_keep_order() {
        let request = QueryRequest::from_form(
            QueryService::Iam,
            b"Action=PutUserPolicy&UserName=al%2Bice&PolicyDocument=%7B%22a%22+%3A+1%7D&Version=2010-05-08",
        )
        .unwrap();
        assert_eq!(request.action, "PutUserPolicy");
        assert_eq!(request.param("UserName"), Some("al+ice"));
        assert_eq!(request.param("PolicyDocument"), Some("{\"a\" : 1}"));
        assert_eq!(request.param("Missing"), None);
        let err = request.required("PolicyName").unwrap_err();
        assert_eq!(err.code, "ValidationError");
        assert!(err.message.contains("'policyName'"), "{}", err.message);
    }

    #[test]
    fn a_form_without_action_or_with_too_many_params_is_refused() {
        let err = QueryRequest::from_form(QueryService::Sts, b"Version=2011-06-15").unwrap_err();
        assert_eq!((err.code, err.status), ("MissingAction", 400));
        let many: Vec<String> = (0..=QUERY_PARAMS_MAX).map(|i| format!("p{i}=1")).collect();
        let err = parse_form(many.join("&").as_bytes()).unwrap_err();
        assert_eq!(err.code, "ValidationError");
        assert!(parse_form(b"a=%FF").is_err());
    }

    #[test]
    fn list_members_come_in_index_order() {
        let request = QueryRequest::from_form(
            QueryService::Sts,
            b"Action=AssumeRole&PolicyArns.member.2.arn=b&PolicyArns.member.1.arn=a&PolicyArns.member.x.arn=c",
        )
        .unwrap();
        assert_eq!(request.list("PolicyArns.member", ".arn"), vec!["a", "b"]);
    }

    #[test]
    fn the_scope_service_is_read_without_verifying() {
        let header =
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
                      SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(scope_service_of_header(header), Some("iam"));
        assert_eq!(scope_service_of_header("AWS AKID:sig"), None);
        assert_eq!(QueryService::from_scope("sts"), Some(QueryService::Sts));
        assert_eq!(QueryService::from_scope("s3"), None);
    }

    #[test]
    fn answers_and_errors_render_in_aws_shapes() {
        let mut out = Vec::new();
        render_answer(
            &mut out,
            QueryService::Iam,
            "ListUsers",
            &[
                XmlNode::members("Users", vec![vec![XmlNode::text("UserName", "a<b")]]),
                XmlNode::boolean("IsTruncated", false),
            ],
            "req1",
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(
            "<ListUsersResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ListUsersResult><Users><member><UserName>a&lt;b</UserName></member></Users><IsTruncated>false</IsTruncated></ListUsersResult><ResponseMetadata><RequestId>req1</RequestId></ResponseMetadata></ListUsersResponse>"
        ), "{text}");
        let mut out = Vec::new();
        render_error(
            &mut out,
            QueryService::Sts,
            &QueryError::access_denied("no"),
            "req2",
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>no</Message></Error><RequestId>req2</RequestId>"), "{text}");
    }
}
