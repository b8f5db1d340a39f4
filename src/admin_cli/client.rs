//! The IAM query API client: endpoint URLs, credentials, SigV4 signing of
//! form-encoded POSTs, a blocking HTTP/1.1 exchange over TCP or TLS, and
//! turning the answer into a result element or an AWS error.
//!
//! Owns: one request per connection (`Connection: close`), the connect and
//! read timeouts, the size bounds on answers, following `IsTruncated` /
//! `Marker` through paged lists. Secrets live only in `Credentials`, whose
//! `Debug` hides them, and never reach an error message. `Transport` (one
//! exchange with one server, TCP or TLS) is shared with the admin API client
//! in `api`, which speaks JSON to the console port instead.
//! Trusted roots and the socket come from `cluster::outbound::tls`, the one
//! copy the server's outbound clients use too.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cluster::outbound::http_post::read_head_line as read_line;
use cluster::outbound::tls::{client_config, connect};
use rustls::pki_types::ServerName;
use s3::auth::sigv4::{self, AmzDate, CredentialScope, RequestParts, SignatureLocation};
use sha2::{Digest, Sha256};

use super::xml::{self, Element};

/// The IAM API version every request names.
const IAM_API_VERSION: &str = "2010-05-08";
/// The SigV4 service name of IAM.
const SERVICE_IAM: &str = "iam";
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// IAM answers are a few KiB; a list page of 1000 roles with their trust
/// documents stays well under this.
const RESPONSE_BODY_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// A server that keeps answering `IsTruncated` past this many pages is looping.
const LIST_PAGES_MAX: usize = 100_000;
/// Why an operation failed, which decides the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The server refused: an AWS error from the IAM API, or the admin API's
    /// `{"error": {"code", "message"}}` (exit status 1).
    Refused { code: String, message: String },
    /// Bad usage, an unreadable input file, no connection or an answer that
    /// is not the server's (exit status 2).
    Local(String),
}

impl Failure {
    pub fn local(message: impl Into<String>) -> Self {
        Failure::Local(message.into())
    }
}

/// An access key pair. `Debug` shows the key id only.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// Where the server is: scheme, host, port and the path requests go to
/// (`/` unless the server sits under a prefix behind a proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub https: bool,
    /// A name or an address; IPv6 without its brackets.
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Endpoint {
    /// Parses `http[s]://host[:port][/path]`.
    pub fn parse(url: &str) -> Result<Self, String> {
        let invalid = |why: &str| format!("endpoint {url:?}: {why}");
        let (https, rest) = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
            _ => return Err(invalid("must start with http:// or https://")),
        };
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, "/"),
        };
        if path.contains(['?', '#']) || authority.contains('@') {
            return Err(invalid(
                "must not hold a query, a fragment or user information",
            ));
        }
        let (host, port_text) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("an IPv6 address needs its closing ]"))?;
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(invalid("expected :port after the IPv6 address")),
                },
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("names no host"));
        }
        let port = match port_text {
            None => {
                if https {
                    443
                } else {
                    80
                }
            }
            Some(text) => text
                .parse::<u16>()
                .ok()
                .filter(|port| *port != 0)
                .ok_or_else(|| invalid("the port must be a number from 1 to 65535"))?,
        };
        Ok(Endpoint {
            https,
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }

    /// The `Host` header: the port only when it is not the scheme's default,
    /// as clients send it (and so as the server verifies the signature).
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default_port = if self.https { 443 } else { 80 };
        if self.port == default_port {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// The `Authorization` header value for a request, signing every header in
/// `parts.headers` (lowercase names). The canonical request and the key derivation
/// are the server's own (`s3::auth::sigv4`), so client and server cannot
/// disagree on them.
pub fn authorization(
    credentials: &Credentials,
    scope: &CredentialScope,
    date: &AmzDate,
    parts: &RequestParts<'_>,
    payload_sha256_hex: &str,
) -> Result<String, Failure> {
    let mut signed_headers: Vec<String> =
        parts.headers.iter().map(|(name, _)| name.clone()).collect();
    signed_headers.sort_unstable();
    signed_headers.dedup();
    let canonical = sigv4::canonical_request(
        parts,
        &signed_headers,
        payload_sha256_hex,
        SignatureLocation::Header,
    )
    .map_err(|_| Failure::local("could not build the canonical request"))?;
    let string_to_sign = sigv4::string_to_sign(date, scope, &canonical);
    let signature = sigv4::derive_signing_key(&credentials.secret_access_key, scope)
        .sign(string_to_sign.as_bytes());
    Ok(format!(
        "{} Credential={}/{scope}, SignedHeaders={}, Signature={}",
        sigv4::ALGORITHM,
        credentials.access_key_id,
        signed_headers.join(";"),
        signature.to_hex()
    ))
}

/// `name=value&…` with AWS's URI encoding of both, which form decoding reads
/// back exactly (a space is `%20`, never `+`).
pub fn form_body(action: &str, params: &[(&str, String)]) -> String {
    let mut body = String::with_capacity(64);
    let pairs = [("Action", action), ("Version", IAM_API_VERSION)]
        .into_iter()
        .chain(params.iter().map(|(name, value)| (*name, value.as_str())));
    for (i, (name, value)) in pairs.enumerate() {
        if i > 0 {
            body.push('&');
        }
        sigv4::uri_encode(&mut body, name, true);
        body.push('=');
        sigv4::uri_encode(&mut body, value, true);
    }
    body
}

/// How to reach one server: its endpoint, TLS settings for https and the
/// timeout of every step. Each exchange is one request on a fresh connection.
pub struct Transport {
    pub endpoint: Endpoint,
    /// Present for https endpoints.
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
}

impl Transport {
    /// `ca_file` replaces the system's trusted roots (a private CA); it only
    /// matters for https endpoints.
    pub fn new(
        endpoint: Endpoint,
        ca_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let tls = if endpoint.https {
            Some(client_config(ca_file)?)
        } else {
            None
        };
        Ok(Transport {
            endpoint,
            tls,
            timeout,
        })
    }

    /// The headers every request carries after its own: the client's name and
    /// `Connection: close`, then the blank line that ends the head.
    pub fn head_end() -> String {
        format!(
            "user-agent: maxiofs-admin/{}\r\nconnection: close\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        )
    }

    /// Sends a request head and body and reads the answer; any transport
    /// problem is a local failure naming the server.
    pub fn send(&self, head: &[u8], body: &[u8]) -> Result<HttpResponse, Failure> {
        self.exchange(head, body).map_err(|err| {
            let where_to = format!(
                "{}://{}",
                if self.endpoint.https { "https" } else { "http" },
                self.endpoint.host_header()
            );
            // A socket timeout surfaces as WouldBlock (reads) or TimedOut (connect).
            if matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) {
                Failure::local(format!(
                    "{where_to}: no answer within {} s",
                    self.timeout.as_secs()
                ))
            } else {
                Failure::local(format!("{where_to}: {err}"))
            }
        })
    }

    fn exchange(&self, head: &[u8], body: &[u8]) -> io::Result<HttpResponse> {
        let tcp = connect(&self.endpoint.host, self.endpoint.port, self.timeout)?;
        match &self.tls {
            None => send_and_read(tcp, head, body),
            Some(config) => {
                let server_name = ServerName::try_from(self.endpoint.host.clone())
                    .map_err(|_| invalid_data("the host is not a valid TLS server name"))?;
                let connection = rustls::ClientConnection::new(Arc::clone(config), server_name)
                    .map_err(|err| invalid_data(format!("TLS: {err}")))?;
                send_and_read(rustls::StreamOwned::new(connection, tcp), head, body)
            }
        }
    }
}

/// A connected client of one server's IAM API.
pub struct IamClient {
    transport: Transport,
    credentials: Credentials,
    region: String,
    /// `MaxItems` of list requests; the server's default (100 in AWS) when unset.
    page_size: Option<u32>,
}

impl IamClient {
    pub fn new(
        transport: Transport,
        credentials: Credentials,
        region: String,
        page_size: Option<u32>,
    ) -> Self {
        IamClient {
            transport,
            credentials,
            region,
            page_size,
        }
    }

    /// Runs one action and returns its `<{Action}Result>` element (an empty
    /// one for actions that answer with metadata only).
    pub fn call(&self, action: &str, params: &[(&str, String)]) -> Result<Element, Failure> {
        let body = form_body(action, params);
        let response = self.post(body.as_bytes())?;
        let document = xml::parse(&response.body);
        if !(200..300).contains(&response.status) {
            return Err(aws_error(response.status, document.ok()));
        }
        let root = document.map_err(|err| {
            Failure::local(format!("{action}: the server's answer is not IAM's: {err}"))
        })?;
        let result_name = format!("{action}Result");
        Ok(root
            .child(&result_name)
            .cloned()
            .unwrap_or_else(|| Element::empty(&result_name)))
    }

    /// Runs a list action page by page until `IsTruncated` is false. Returns
    /// the first page's result (for the fields beside the list) and the
    /// `<member>`s of the list element `list_name` from every page.
    pub fn call_paged(
        &self,
        action: &str,
        params: &[(&str, String)],
        list_name: &str,
    ) -> Result<(Element, Vec<Element>), Failure> {
        let mut params = params.to_vec();
        params.extend(self.page_size.map(|items| ("MaxItems", items.to_string())));
        let mut first: Option<Element> = None;
        let mut members = Vec::new();
        for _ in 0..LIST_PAGES_MAX {
            let result = self.call(action, &params)?;
            if let Some(list) = result.child(list_name) {
                members.extend(list.members().cloned());
            }
            let next_marker = match result.child_text("IsTruncated") {
                Some("true") => match result.child_text("Marker") {
                    Some(marker) if !marker.is_empty() => Some(marker.to_owned()),
                    _ => {
                        return Err(Failure::local(format!(
                            "{action}: the server says the list goes on but gives no Marker"
                        )))
                    }
                },
                _ => None,
            };
            first.get_or_insert(result);
            let Some(marker) = next_marker else {
                return Ok((first.unwrap_or_else(|| Element::empty(action)), members));
            };
            params.retain(|(name, _)| *name != "Marker");
            params.push(("Marker", marker));
        }
        Err(Failure::local(format!(
            "{action}: the list did not end after {LIST_PAGES_MAX} pages"
        )))
    }

    /// Signs and sends a form POST; any transport problem is a local failure.
    fn post(&self, body: &[u8]) -> Result<HttpResponse, Failure> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Failure::local("the system clock is before 1970"))?;
        let date = AmzDate::from_unix_seconds(i64::try_from(now.as_secs()).unwrap_or(i64::MAX));
        let scope = CredentialScope {
            date: date.date().to_owned(),
            region: self.region.clone(),
            service: SERVICE_IAM.to_owned(),
        };
        let payload_sha256_hex = hex::encode(Sha256::digest(body));
        let endpoint = &self.transport.endpoint;
        let headers = vec![
            ("host".to_owned(), endpoint.host_header()),
            ("content-type".to_owned(), FORM_CONTENT_TYPE.to_owned()),
            (
                "x-amz-content-sha256".to_owned(),
                payload_sha256_hex.clone(),
            ),
            ("x-amz-date".to_owned(), date.timestamp().to_owned()),
        ];
        let parts = RequestParts {
            method: "POST",
            path_decoded: &endpoint.path,
            query_pairs: &[],
            headers: &headers,
        };
        let authorization = authorization(
            &self.credentials,
            &scope,
            &date,
            &parts,
            &payload_sha256_hex,
        )?;
        let mut head = format!("POST {} HTTP/1.1\r\n", endpoint.path);
        for (name, value) in &headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "authorization: {authorization}\r\ncontent-length: {}\r\n",
            body.len()
        ));
        head.push_str(&Transport::head_end());
        self.transport.send(head.as_bytes(), body)
    }
}

/// An AWS error from an error answer: IAM's `<ErrorResponse><Error>` or an
/// S3-style `<Error>` (what a server refusing the signature may send).
fn aws_error(status: u16, document: Option<Element>) -> Failure {
    let error = document.as_ref().and_then(|root| root.find("Error"));
    let code = error.and_then(|e| e.child_text("Code")).unwrap_or("");
    let message = error.and_then(|e| e.child_text("Message")).unwrap_or("");
    Failure::Refused {
        code: if code.is_empty() {
            format!("HTTP{status}")
        } else {
            code.to_owned()
        },
        message: if message.is_empty() {
            format!("the server answered HTTP status {status}")
        } else {
            message.to_owned()
        },
    }
}

/// A response as read: the status and the whole body (IAM and the admin
/// API put everything a caller needs in the body).
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

fn send_and_read<S: Read + Write>(
    mut stream: S,
    head: &[u8],
    body: &[u8],
) -> io::Result<HttpResponse> {
    stream.write_all(head)?;
    stream.write_all(body)?;
    stream.flush()?;
    read_response(&mut BufReader::new(stream))
}

/// Reads one HTTP/1.1 response: interim 1xx answers are skipped, the body
/// is delimited by chunked encoding, Content-Length or the end of the stream.
pub fn read_response<R: BufRead>(reader: &mut R) -> io::Result<HttpResponse> {
    let (status, headers) = loop {
        let (status, headers) = read_head(reader)?;
        if !(100..200).contains(&status) {
            break (status, headers);
        }
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let chunked = header("transfer-encoding")
        .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
    let body = if status == 204 || status == 304 {
        Vec::new()
    } else if chunked {
        read_chunked_body(reader)?
    } else if let Some(length) = header("content-length") {
        let length: u64 = length
            .trim()
            .parse()
            .map_err(|_| invalid_data("Content-Length is not a number"))?;
        if length > RESPONSE_BODY_BYTES_MAX {
            return Err(invalid_data("the answer is too large"));
        }
        let mut body = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
        reader.take(length).read_to_end(&mut body)?;
        if body.len() as u64 != length {
            return Err(invalid_data(
                "the connection closed before the answer's end",
            ));
        }
        body
    } else {
        let mut body = Vec::new();
        reader
            .take(RESPONSE_BODY_BYTES_MAX + 1)
            .read_to_end(&mut body)?;
        if body.len() as u64 > RESPONSE_BODY_BYTES_MAX {
            return Err(invalid_data("the answer is too large"));
        }
        body
    };
    Ok(HttpResponse { status, body })
}

/// The status line and headers, up to the empty line (the outbound client's reader).
fn read_head<R: BufRead>(reader: &mut R) -> io::Result<(u16, Vec<(String, String)>)> {
    cluster::outbound::http_post::read_response_head(reader, &mut 0)
}

fn read_chunked_body<R: BufRead>(reader: &mut R) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line_bytes = 0usize;
    loop {
        let size_line = read_line(reader, &mut line_bytes)?;
        let size_text = size_line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size_text, 16)
            .map_err(|_| invalid_data("a chunk size is not hexadecimal"))?;
        if size == 0 {
            // Trailers, if any, up to the empty line.
            while !read_line(reader, &mut line_bytes)?.is_empty() {}
            return Ok(body);
        }
        if body.len() as u64 + size > RESPONSE_BODY_BYTES_MAX {
            return Err(invalid_data("the answer is too large"));
        }
        let before = body.len();
        reader.take(size).read_to_end(&mut body)?;
        if (body.len() - before) as u64 != size {
            return Err(invalid_data("the connection closed inside a chunk"));
        }
        if !read_line(reader, &mut line_bytes)?.is_empty() {
            return Err(invalid_data("a chunk does not end with CRLF"));
        }
        // Chunk-size lines are head-like; only their count per answer is bounded.
        line_bytes = 0;
    }
}

fn invalid_data(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's worked SigV4 example (General Reference, "Signature Version 4
    /// signing process"): IAM ListUsers as a GET with the action in the query.
    #[test]
    fn signs_aws_documented_list_users_example() {
        let credentials = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        };
        let date = AmzDate::parse("20150830T123600Z").expect("date");
        let scope = CredentialScope {
            date: "20150830".into(),
            region: "us-east-1".into(),
            service: "iam".into(),
        };
        let query = vec![
            ("Action".to_owned(), "ListUsers".to_owned()),
            ("Version".to_owned(), "2010-05-08".to_owned()),
        ];
        let headers = vec![
            ("content-type".to_owned(), FORM_CONTENT_TYPE.to_owned()),
            ("host".to_owned(), "iam.amazonaws.com".to_owned()),
            ("x-amz-date".to_owned(), "20150830T123600Z".to_owned()),
        ];
        let parts = RequestParts {
            method: "GET",
            path_decoded: "/",
            query_pairs: &query,
            headers: &headers,
        };
        let header = authorization(&credentials, &scope, &date, &parts, sigv4::EMPTY_SHA256_HEX)
            .expect("signs");
        assert_eq!(
            header,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn credentials_debug_hides_the_secret() {
        let credentials = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        };
        let shown = format!("{credentials:?}");
        assert!(shown.contains("AKIDEXAMPLE"));
        assert!(!shown.contains("wJalr"));
    }

    #[test]
    fn form_body_encodes_as_aws_does() {
        let body = form_body(
            "PutUserPolicy",
            &[
                ("UserName", "a b+c".to_owned()),
                ("PolicyDocument", "{\"x\":\"/*\"}".to_owned()),
            ],
        );
        assert_eq!(
            body,
            "Action=PutUserPolicy&Version=2010-05-08&UserName=a%20b%2Bc\
             &PolicyDocument=%7B%22x%22%3A%22%2F%2A%22%7D"
        );
    }

    #[test]
    fn parses_endpoints() {
        let plain = Endpoint::parse("http://127.0.0.1:9000").expect("parses");
        assert_eq!(
            plain,
            Endpoint {
                https: false,
                host: "127.0.0.1".into(),
                port: 9000,
                path: "/".into()
            }
        );
        assert_eq!(plain.host_header(), "127.0.0.1:9000");
        let tls = Endpoint::parse("HTTPS://s3.example.com/prefix/").expect("parses");
        assert_eq!(
            (tls.https, tls.port, tls.path.as_str()),
            (true, 443, "/prefix/")
        );
        assert_eq!(tls.host_header(), "s3.example.com");
        let v6 = Endpoint::parse("http://[::1]:9000").expect("parses");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 9000));
        assert_eq!(v6.host_header(), "[::1]:9000");
        for bad in [
            "127.0.0.1:9000",
            "ftp://x",
            "http://",
            "http://h:0",
            "http://h:99999",
            "http://u@h",
            "http://h/?a=b",
            "http://[::1",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_content_length_chunked_and_interim_answers() {
        let with_length = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let response = read_response(&mut &with_length[..]).expect("reads");
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, &b"hello"[..])
        );

        let chunked = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\n\
                        Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nx-t: 1\r\n\r\n";
        let response = read_response(&mut &chunked[..]).expect("reads");
        assert_eq!(
            (response.status, response.body.as_slice()),
            (404, &b"abcde"[..])
        );

        let to_close = b"HTTP/1.0 200 OK\nServer: x\n\n<a/>";
        let response = read_response(&mut &to_close[..]).expect("reads");
        assert_eq!(response.body, b"<a/>");
    }

    #[test]
    fn refuses_truncated_or_foreign_answers() {
        for bad in [
            &b""[..],
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            b"HTTP/1.1 200 OK\r\nContent-Len",
            b"HTTP/1.1 200 OK\r\nbroken header\r\n\r\n",
        ] {
            assert!(
                read_response(&mut &bad[..]).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn aws_errors_come_from_iam_or_s3_error_bodies() {
        let iam = xml::parse(
            b"<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code>\
              <Message>The user with name bob cannot be found.</Message></Error></ErrorResponse>",
        )
        .ok();
        assert_eq!(
            aws_error(404, iam),
            Failure::Refused {
                code: "NoSuchEntity".into(),
                message: "The user with name bob cannot be found.".into()
            }
        );
        let s3 =
            xml::parse(b"<Error><Code>SignatureDoesNotMatch</Code><Message>m</Message></Error>")
                .ok();
        let Failure::Refused { code, .. } = aws_error(403, s3) else {
            panic!("an S3 error body is a refusal");
        };
        assert_eq!(code, "SignatureDoesNotMatch");
        assert_eq!(
            aws_error(502, None),
            Failure::Refused {
                code: "HTTP502".into(),
                message: "the server answered HTTP status 502".into()
            }
        );
    }
}
