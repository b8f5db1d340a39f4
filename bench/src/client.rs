//! A minimal blocking S3 client: one keep-alive HTTP/1.1 connection (plain or TLS, see
//! `tls`), requests written by hand and signed with SigV4 (unsigned, signed or
//! `aws-chunked` payloads; path- or virtual-host-style), responses parsed for status,
//! `Content-Length`, `ETag` and `Connection: close`.
//!
//! Must not touch: statistics or timing; the caller measures around `request`.
//!
//! Main types: `Endpoint` (where to connect), `S3Client` (one connection and its
//! signer), `Response`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::SystemTime;

use s3::auth::sigv4::{self, AmzDate};

use crate::limits::AWS_CHUNK_BYTES;
use crate::limits::{
    CAPTURED_BODY_BYTES_MAX, READ_BUFFER_BYTES, RESPONSE_HEAD_BYTES_MAX, SOCKET_TIMEOUT,
};
use crate::sign::{hex, Signer, STREAMING_PAYLOAD, UNSIGNED_PAYLOAD};
use crate::tls::{Connection, TlsEndpoint, TlsTrust};
use sha2::{Digest, Sha256};

/// An `http://` or `https://host:port` endpoint, resolved once.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The `Host` header: the URL's authority as given.
    pub host_header: String,
    pub addr: SocketAddr,
    /// TLS settings of an `https://` endpoint.
    pub tls: Option<TlsEndpoint>,
    /// Bucket in the `Host` header (`bucket.host:port`) instead of the path. The
    /// server must know `host` as its domain (`maxiofs server --domains`).
    pub virtual_host: bool,
}

/// How a request body is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadMode {
    /// `x-amz-content-sha256: UNSIGNED-PAYLOAD`: what SDKs send over TLS.
    Unsigned,
    /// The body's SHA-256 in `x-amz-content-sha256`, verified by the server.
    Signed,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: 64 KiB chunks, each signed.
    AwsChunked,
}

impl PayloadMode {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "unsigned" => Ok(PayloadMode::Unsigned),
            "signed" => Ok(PayloadMode::Signed),
            "aws-chunked" => Ok(PayloadMode::AwsChunked),
            _ => Err(format!(
                "payload mode {text:?} must be unsigned, signed or aws-chunked"
            )),
        }
    }
}

/// One request. `path_decoded` is `/bucket` or `/bucket/key` before percent-encoding;
/// `headers` are extra lowercase headers, all signed.
pub struct Request<'a> {
    pub method: &'a str,
    pub path_decoded: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub payload: PayloadMode,
    /// Keep a successful response's body (list pages, upload ids).
    pub capture_body: bool,
}

impl<'a> Request<'a> {
    pub fn new(method: &'a str, path_decoded: &'a str) -> Self {
        Request {
            method,
            path_decoded,
            query: &[],
            headers: &[],
            body: &[],
            payload: PayloadMode::Unsigned,
            capture_body: false,
        }
    }
}

impl Endpoint {
    /// Parses `http://host[:port][/]` or `https://host[:port][/]` (ports 80 and 443 by
    /// default). An https endpoint needs `trust`: no root store is built in.
    pub fn parse(url: &str, trust: Option<&TlsTrust>) -> Result<Self, String> {
        let (rest, default_port, https) = if let Some(rest) = url.strip_prefix("http://") {
            (rest, 80, false)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (rest, 443, true)
        } else {
            return Err(format!(
                "endpoint {url:?} must start with http:// or https://"
            ));
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) = split_authority(authority);
        if host.is_empty() {
            return Err(format!("endpoint {url:?} has no host"));
        }
        let with_port = match port {
            Some(_) => authority.to_owned(),
            None => format!("{authority}:{default_port}"),
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {authority:?}: {e}"))?
            .next()
            .ok_or_else(|| format!("{authority:?} resolves to no address"))?;
        let tls = match (https, trust) {
            (false, _) => None,
            (true, Some(trust)) => Some(TlsEndpoint::new(host, trust)?),
            (true, None) => {
                return Err(format!(
                    "endpoint {url:?} is https: give --ca-file PEM to trust its certificate, \
                     or --insecure to accept any"
                ))
            }
        };
        Ok(Endpoint {
            host_header: authority.to_owned(),
            addr,
            tls,
            virtual_host: false,
        })
    }
}

/// `host:port` or `[v6]:port` into the host (without brackets) and the port, if any.
fn split_authority(authority: &str) -> (&str, Option<&str>) {
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').unwrap_or((bracketed, ""));
        return (host, after.strip_prefix(':'));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

/// What a request returned.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Body bytes received (and discarded unless the status is an error).
    pub body_bytes: u64,
    /// The start of the body of a non-2xx response, for the operator.
    pub error_body: Vec<u8>,
    /// The whole body of a successful response, when the request asked for it.
    pub body: Vec<u8>,
    pub etag: Option<String>,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// One connection to the server, reopened after an I/O error or `Connection: close`.
pub struct S3Client {
    endpoint: Endpoint,
    signer: Signer,
    connection: Option<BufReader<Connection>>,
    /// Where GET bodies are read to and dropped.
    scratch: Vec<u8>,
    head: Vec<u8>,
    /// The body as sent (aws-chunked framing included), reused between requests.
    body: Vec<u8>,
}

impl S3Client {
    pub fn new(endpoint: Endpoint, signer: Signer) -> Self {
        S3Client {
            endpoint,
            signer,
            connection: None,
            scratch: vec![0; READ_BUFFER_BYTES],
            head: Vec::with_capacity(1024),
            body: Vec::new(),
        }
    }

    /// Opens the connection now, so the first timed request does not pay for it.
    pub fn connect(&mut self) -> io::Result<()> {
        if self.connection.is_none() {
            let stream = TcpStream::connect_timeout(&self.endpoint.addr, SOCKET_TIMEOUT)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(SOCKET_TIMEOUT))?;
            stream.set_write_timeout(Some(SOCKET_TIMEOUT))?;
            let connection = match &self.endpoint.tls {
                None => Connection::Plain(stream),
                Some(tls) => tls.connect(stream)?,
            };
            self.connection = Some(BufReader::with_capacity(READ_BUFFER_BYTES, connection));
        }
        Ok(())
    }

    /// Sends one request and reads the whole response. A `PUT` always carries
    /// `Content-Length`; other methods send one only with a body. On an I/O error the
    /// connection is dropped and the next request opens a new one.
    pub fn send(&mut self, request: &Request<'_>) -> io::Result<Response> {
        self.connect()?;
        self.build_head(request);
        let result = self.exchange(request.capture_body);
        if !matches!(result, Ok((_, true))) {
            self.connection = None;
        }
        result.map(|(response, _)| response)
    }

    /// A request without query or extra headers, unsigned payload.
    pub fn request(
        &mut self,
        method: &str,
        path_decoded: &str,
        body: &[u8],
    ) -> io::Result<Response> {
        let mut request = Request::new(method, path_decoded);
        request.body = body;
        self.send(&request)
    }

    /// Writes the request and reads the response; true when the connection may be reused.
    fn exchange(&mut self, capture_body: bool) -> io::Result<(Response, bool)> {
        let reader = self.connection.as_mut().expect("connected by the caller");
        let stream = reader.get_mut();
        stream.write_all(&self.head)?;
        if !self.body.is_empty() {
            stream.write_all(&self.body)?;
        }
        stream.flush()?;
        let head = read_response_head(reader)?;
        let keep_body = capture_body || !(200..300).contains(&head.status);
        let (body_bytes, body) = read_response_body(
            reader,
            &mut self.scratch,
            head.content_length_bytes,
            keep_body,
        )?;
        let (body, error_body) = match (200..300).contains(&head.status) {
            true => (body, Vec::new()),
            false => (Vec::new(), body),
        };
        let response = Response {
            status: head.status,
            body_bytes,
            error_body,
            body,
            etag: head.etag,
        };
        Ok((response, head.keep_alive))
    }

    /// Builds the head into `self.head` and, unless the body goes out as given, the
    /// encoded body into `self.body`.
    fn build_head(&mut self, request: &Request<'_>) {
        let date = AmzDate::from_unix_seconds(unix_seconds_now());
        let (host, path_decoded) = self.host_and_path(request.path_decoded);
        let content_sha256 = match request.payload {
            PayloadMode::Unsigned => UNSIGNED_PAYLOAD.to_owned(),
            PayloadMode::Signed => hex(&Sha256::digest(request.body)),
            PayloadMode::AwsChunked => STREAMING_PAYLOAD.to_owned(),
        };
        let mut headers = vec![
            ("host".to_owned(), host),
            ("x-amz-content-sha256".to_owned(), content_sha256),
            ("x-amz-date".to_owned(), date.timestamp().to_owned()),
        ];
        let chunked = request.payload == PayloadMode::AwsChunked && !request.body.is_empty();
        if chunked {
            headers.push(("content-encoding".to_owned(), "aws-chunked".to_owned()));
            headers.push((
                "x-amz-decoded-content-length".to_owned(),
                request.body.len().to_string(),
            ));
        }
        headers.extend(request.headers.iter().cloned());
        let (authorization, seed_signature) = self.signer.sign_request(
            request.method,
            &path_decoded,
            request.query,
            &headers,
            &date,
        );
        self.body.clear();
        if chunked {
            encode_aws_chunked(
                &mut self.body,
                &mut self.signer,
                &date,
                seed_signature,
                request.body,
            );
        } else {
            self.body.extend_from_slice(request.body);
        }
        let mut target = String::with_capacity(path_decoded.len() + 16);
        sigv4::uri_encode(&mut target, &path_decoded, false);
        for (i, (name, value)) in request.query.iter().enumerate() {
            target.push(if i == 0 { '?' } else { '&' });
            sigv4::uri_encode(&mut target, name, true);
            target.push('=');
            sigv4::uri_encode(&mut target, value, true);
        }
        self.head.clear();
        let head = &mut self.head;
        // Writing into a Vec cannot fail.
        let _ = write!(head, "{} {target} HTTP/1.1\r\n", request.method);
        for (name, value) in &headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        let _ = write!(head, "authorization: {authorization}\r\n");
        if request.method == "PUT" || !self.body.is_empty() {
            let _ = write!(head, "content-length: {}\r\n", self.body.len());
        }
        head.extend_from_slice(b"\r\n");
    }

    /// The `Host` header and the path as sent, for the endpoint's addressing style.
    fn host_and_path(&self, path_decoded: &str) -> (String, String) {
        let host = &self.endpoint.host_header;
        if !self.endpoint.virtual_host {
            return (host.clone(), path_decoded.to_owned());
        }
        let rest = path_decoded.trim_start_matches('/');
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        (format!("{bucket}.{host}"), format!("/{key}"))
    }
}

/// Frames `body` as signed 64 KiB `aws-chunked` chunks and a signed empty last chunk.
fn encode_aws_chunked(
    out: &mut Vec<u8>,
    signer: &mut Signer,
    date: &AmzDate,
    seed_signature: String,
    body: &[u8],
) {
    let mut previous = seed_signature;
    let last: &[u8] = &[];
    for chunk in body.chunks(AWS_CHUNK_BYTES).chain(std::iter::once(last)) {
        let signature = signer.chunk_signature(date, &previous, chunk);
        let _ = write!(out, "{:x};chunk-signature={signature}\r\n", chunk.len());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
        previous = signature;
    }
}

fn unix_seconds_now() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
}

struct ResponseHead {
    status: u16,
    content_length_bytes: u64,
    keep_alive: bool,
    etag: Option<String>,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Reads the status line and headers up to the blank line.
fn read_response_head(reader: &mut impl BufRead) -> io::Result<ResponseHead> {
    let mut line = Vec::with_capacity(128);
    let mut head_bytes = read_line(reader, &mut line)?;
    let status = parse_status_line(&line)?;
    let (mut content_length, mut keep_alive, mut chunked) = (None, true, false);
    let mut etag = None;
    loop {
        head_bytes += read_line(reader, &mut line)?;
        if head_bytes > RESPONSE_HEAD_BYTES_MAX {
            return Err(invalid("response head is too large".to_owned()));
        }
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let Some((name, value)) = text.split_once(':') else {
            return Err(invalid(format!("malformed response header {text:?}")));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => content_length = Some(parse_content_length(value)?),
            "connection" => keep_alive = !value.eq_ignore_ascii_case("close"),
            "transfer-encoding" => chunked = !value.eq_ignore_ascii_case("identity"),
            "etag" => etag = Some(value.to_owned()),
            _ => {}
        }
    }
    if chunked {
        return Err(invalid("chunked responses are not supported".to_owned()));
    }
    // 204 and 304 have no body; any other response without a length would be
    // delimited by closing the connection, which S3 servers do not do.
    let content_length_bytes = match (content_length, status) {
        (Some(length), _) => length,
        (None, 204 | 304) => 0,
        (None, _) => return Err(invalid(format!("{status} response without Content-Length"))),
    };
    Ok(ResponseHead {
        status,
        content_length_bytes,
        keep_alive,
        etag,
    })
}

/// Reads one line into `line` without its CRLF; returns the bytes consumed.
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<usize> {
    line.clear();
    let limit = u64::try_from(RESPONSE_HEAD_BYTES_MAX).unwrap_or(u64::MAX);
    let consumed = reader.by_ref().take(limit).read_until(b'\n', line)?;
    if line.last() != Some(&b'\n') {
        let why = if consumed == 0 {
            "connection closed before the response"
        } else {
            "response line is not terminated"
        };
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, why));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(consumed)
}

/// `HTTP/1.1 200 OK` gives 200.
fn parse_status_line(line: &[u8]) -> io::Result<u16> {
    let text = String::from_utf8_lossy(line);
    let mut words = text.split(' ');
    let version = words.next().unwrap_or_default();
    let status = words.next().and_then(|code| code.parse::<u16>().ok());
    match status {
        Some(status) if version.starts_with("HTTP/1.") => Ok(status),
        _ => Err(invalid(format!("malformed status line {text:?}"))),
    }
}

fn parse_content_length(value: &str) -> io::Result<u64> {
    value
        .parse()
        .map_err(|_| invalid(format!("malformed Content-Length {value:?}")))
}

/// Reads exactly `length` body bytes; keeps up to `CAPTURED_BODY_BYTES_MAX` of
/// them when asked.
fn read_response_body(
    reader: &mut impl BufRead,
    scratch: &mut [u8],
    length: u64,
    keep: bool,
) -> io::Result<(u64, Vec<u8>)> {
    let mut kept = Vec::new();
    let mut remaining = length;
    while remaining > 0 {
        let want = usize::try_from(remaining).map_or(scratch.len(), |r| r.min(scratch.len()));
        let got = reader.read(&mut scratch[..want])?;
        if got == 0 {
            let why = "connection closed in the middle of a response body";
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, why));
        }
        if keep && kept.len() < CAPTURED_BODY_BYTES_MAX {
            let take = got.min(CAPTURED_BODY_BYTES_MAX - kept.len());
            kept.extend_from_slice(&scratch[..take]);
        }
        remaining -= got as u64;
    }
    Ok((length, kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_and_endpoints_parse() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK").unwrap(), 200);
        assert_eq!(parse_status_line(b"HTTP/1.1 503 Slow Down").unwrap(), 503);
        assert!(parse_status_line(b"SSH-2.0 x").is_err());
        let endpoint = Endpoint::parse("http://127.0.0.1:9000/", None).unwrap();
        assert_eq!(endpoint.host_header, "127.0.0.1:9000");
        assert_eq!(endpoint.addr.port(), 9000);
        assert!(endpoint.tls.is_none());
        assert_eq!(
            Endpoint::parse("http://127.0.0.1", None)
                .unwrap()
                .addr
                .port(),
            80
        );
        assert_eq!(
            Endpoint::parse("http://[::1]", None).unwrap().addr.port(),
            80
        );
        assert!(Endpoint::parse("ftp://127.0.0.1", None).is_err());
        assert!(Endpoint::parse("http://:9000", None).is_err());
    }

    #[test]
    fn https_endpoints_need_a_trust_setting_and_default_to_443() {
        let error = Endpoint::parse("https://127.0.0.1:9000", None).unwrap_err();
        assert!(
            error.contains("--ca-file") && error.contains("--insecure"),
            "{error}"
        );
        let insecure = Some(&TlsTrust::Insecure);
        let endpoint = Endpoint::parse("https://127.0.0.1", insecure).unwrap();
        assert_eq!(endpoint.addr.port(), 443);
        assert_eq!(endpoint.host_header, "127.0.0.1");
        assert!(endpoint.tls.is_some());
        let v6 = Endpoint::parse("https://[::1]:9443/", insecure).unwrap();
        assert_eq!(v6.addr.port(), 9443);
        // A trust setting does not turn a plain endpoint into TLS.
        assert!(Endpoint::parse("http://127.0.0.1", insecure)
            .unwrap()
            .tls
            .is_none());
    }

    #[test]
    fn authorities_split_into_host_and_port() {
        assert_eq!(
            split_authority("a.example:9000"),
            ("a.example", Some("9000"))
        );
        assert_eq!(split_authority("a.example"), ("a.example", None));
        assert_eq!(split_authority("[::1]:9000"), ("::1", Some("9000")));
        assert_eq!(split_authority("[::1]"), ("::1", None));
    }
}
