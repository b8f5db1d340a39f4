//! A minimal S3 client on monoio: one keep-alive HTTP/1.1 connection (plain or TLS, see
//! `tls`), requests written by hand and signed with SigV4 (unsigned, signed or
//! `aws-chunked` payloads; path- or virtual-host-style), responses parsed for status,
//! `Content-Length`, `ETag` and `Connection: close`.
//!
//! A request goes out as one owned buffer, head and body together, so a small PUT is one
//! write. Responses are read into `Received`, a buffer of our own: the head is parsed
//! there, GET bodies are counted and dropped from it, and list pages, upload ids and
//! error XML are copied out. Every socket operation (the connect with its TLS handshake,
//! each read, each write) must end within `SOCKET_TIMEOUT`; after any failure the
//! connection is dropped and the next request opens a new one.
//!
//! Must not touch: statistics or timing; the caller measures around `send`. Runs inside
//! a monoio runtime with timers, which `block_on` builds.
//!
//! Main types: `Endpoint` (where to connect), `S3Client` (one connection and its
//! signer), `Request`, `Response`.

use std::future::Future;
use std::io::{self, Write as _};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::SystemTime;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::net::TcpStream;
use s3::auth::sigv4::{self, AmzDate};
use sha2::{Digest, Sha256};

use crate::limits::{
    AWS_CHUNK_BYTES, CAPTURED_BODY_BYTES_MAX, READ_BUFFER_BYTES, RESPONSE_HEAD_BYTES_MAX,
    SOCKET_TIMEOUT,
};
use crate::sign::{hex, Signer, STREAMING_PAYLOAD, UNSIGNED_PAYLOAD};
use crate::tls::{Connection, TlsEndpoint, TlsTrust};

/// Runs `future` to completion on a new monoio runtime on this thread: io_uring where the
/// kernel offers it, epoll otherwise, with the timers the client's timeouts need.
pub fn block_on<F: Future>(future: F) -> io::Result<F::Output> {
    let mut runtime = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .build()?;
    Ok(runtime.block_on(future))
}

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
    connection: Option<Connection>,
    /// What the connection delivered and the response parser has not consumed yet.
    received: Received,
    /// The request as sent, head and body (aws-chunked framing included), reused between
    /// requests.
    out: Vec<u8>,
}

impl S3Client {
    pub fn new(endpoint: Endpoint, signer: Signer) -> Self {
        S3Client {
            endpoint,
            signer,
            connection: None,
            received: Received::new(),
            out: Vec::with_capacity(1024),
        }
    }

    /// Opens the connection now (with its TLS handshake), so the first timed request does
    /// not pay for it.
    pub async fn connect(&mut self) -> io::Result<()> {
        if self.connection.is_none() {
            let connection = within_socket_timeout(open_connection(&self.endpoint)).await??;
            self.received.reset();
            self.connection = Some(connection);
        }
        Ok(())
    }

    /// Sends one request and reads the whole response. A `PUT` always carries
    /// `Content-Length`; other methods send one only with a body. On an I/O error the
    /// connection is dropped and the next request opens a new one.
    pub async fn send(&mut self, request: &Request<'_>) -> io::Result<Response> {
        self.connect().await?;
        self.build_request(request);
        let mut connection = self.connection.take().expect("connected above");
        let (response, keep_alive) = self.exchange(&mut connection, request).await?;
        if keep_alive {
            self.connection = Some(connection);
        }
        Ok(response)
    }

    /// A request without query or extra headers, unsigned payload.
    pub async fn request(
        &mut self,
        method: &str,
        path_decoded: &str,
        body: &[u8],
    ) -> io::Result<Response> {
        let mut request = Request::new(method, path_decoded);
        request.body = body;
        self.send(&request).await
    }

    /// Writes the request and reads the response; true when the connection may be reused.
    async fn exchange(
        &mut self,
        connection: &mut Connection,
        request: &Request<'_>,
    ) -> io::Result<(Response, bool)> {
        self.write_request(connection).await?;
        let head = self.received.read_head(connection).await?;
        let success = (200..300).contains(&head.status);
        // A response to HEAD announces the object's length but carries no body.
        let body_length = match request.method {
            "HEAD" => 0,
            _ => head.content_length_bytes,
        };
        let keep_body = request.capture_body || !success;
        let (body_bytes, body) = self
            .received
            .read_body(connection, body_length, keep_body)
            .await?;
        let (body, error_body) = match success {
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

    /// Writes all of `self.out`. The buffer moves into each write and comes back with its
    /// result; one lost with a timed-out write is replaced by an empty one.
    async fn write_request(&mut self, connection: &mut Connection) -> io::Result<()> {
        let mut out = std::mem::take(&mut self.out);
        let (mut written_bytes, mut result) = (0, Ok(()));
        while written_bytes < out.len() {
            let write = connection.write(out.slice(written_bytes..));
            let (wrote, rest) = within_socket_timeout(write).await?;
            out = rest.into_inner();
            match wrote {
                Ok(0) => {
                    result = Err(io::ErrorKind::WriteZero.into());
                    break;
                }
                Ok(n) => written_bytes += n,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.out = out;
        result
    }

    /// Builds the whole request into `self.out`: the head, then the body as given or
    /// framed as `aws-chunked`.
    fn build_request(&mut self, request: &Request<'_>) {
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
        let body_bytes = match chunked {
            true => aws_chunked_encoded_bytes(request.body.len()),
            false => request.body.len(),
        };
        let mut target = String::with_capacity(path_decoded.len() + 16);
        sigv4::uri_encode(&mut target, &path_decoded, false);
        for (i, (name, value)) in request.query.iter().enumerate() {
            target.push(if i == 0 { '?' } else { '&' });
            sigv4::uri_encode(&mut target, name, true);
            target.push('=');
            sigv4::uri_encode(&mut target, value, true);
        }
        let out = &mut self.out;
        out.clear();
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{} {target} HTTP/1.1\r\n", request.method);
        for (name, value) in &headers {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        let _ = write!(out, "authorization: {authorization}\r\n");
        if request.method == "PUT" || body_bytes > 0 {
            let _ = write!(out, "content-length: {body_bytes}\r\n");
        }
        out.extend_from_slice(b"\r\n");
        let head_bytes = out.len();
        match chunked {
            true => encode_aws_chunked(out, &mut self.signer, &date, seed_signature, request.body),
            false => out.extend_from_slice(request.body),
        }
        assert_eq!(
            out.len() - head_bytes,
            body_bytes,
            "Content-Length is the body sent"
        );
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

/// A new connection to the endpoint, its TLS handshake done.
async fn open_connection(endpoint: &Endpoint) -> io::Result<Connection> {
    let tcp = TcpStream::connect_addr(endpoint.addr).await?;
    tcp.set_nodelay(true)?;
    match &endpoint.tls {
        None => Ok(Connection::Plain(tcp)),
        Some(tls) => tls.connect(tcp).await,
    }
}

/// Runs one socket operation within `SOCKET_TIMEOUT`. One that takes longer is dropped,
/// which cancels it in the kernel (monoio's `async-cancel`); its buffer goes with it.
async fn within_socket_timeout<F: Future>(operation: F) -> io::Result<F::Output> {
    monoio::time::timeout(SOCKET_TIMEOUT, operation)
        .await
        .map_err(|_| {
            let why = format!("no progress in {} s", SOCKET_TIMEOUT.as_secs());
            io::Error::new(io::ErrorKind::TimedOut, why)
        })
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

/// The length of `body_bytes` framed by `encode_aws_chunked`, for `Content-Length`, which
/// goes out before the body is framed.
fn aws_chunked_encoded_bytes(body_bytes: usize) -> usize {
    // Per chunk: the data length in hex, ";chunk-signature=", the signature (64 hex
    // digits of an HMAC-SHA256), CRLF, the data, CRLF.
    let frame_bytes = |data_bytes: usize| {
        let hex_digits = (usize::BITS - data_bytes.leading_zeros())
            .div_ceil(4)
            .max(1);
        hex_digits as usize + ";chunk-signature=".len() + 64 + 2 + data_bytes + 2
    };
    let (full_chunks, rest_bytes) = (body_bytes / AWS_CHUNK_BYTES, body_bytes % AWS_CHUNK_BYTES);
    let rest_frame_bytes = match rest_bytes {
        0 => 0,
        _ => frame_bytes(rest_bytes),
    };
    full_chunks * frame_bytes(AWS_CHUNK_BYTES) + rest_frame_bytes + frame_bytes(0)
}

fn unix_seconds_now() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
}

/// Bytes a connection delivered that the parser has not consumed: a response head being
/// read, and whatever part of the body came with it. monoio reads into the spare capacity
/// after them, so a buffer of `READ_BUFFER_BYTES` is allocated once per connection.
struct Received {
    buf: Vec<u8>,
    /// Where the unconsumed bytes of `buf` start.
    start: usize,
}

impl Received {
    fn new() -> Self {
        Received {
            buf: Vec::with_capacity(READ_BUFFER_BYTES),
            start: 0,
        }
    }

    /// Forgets what an old connection left behind, and replaces a buffer lost with a
    /// timed-out read.
    fn reset(&mut self) {
        self.buf.clear();
        self.buf.reserve(READ_BUFFER_BYTES);
        self.start = 0;
    }

    fn unconsumed(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn consume(&mut self, bytes: usize) {
        self.start += bytes;
        assert!(
            self.start <= self.buf.len(),
            "consumed only what was received"
        );
    }

    /// Reads more bytes after the unconsumed ones; Ok(0) means the server closed.
    async fn fill(&mut self, connection: &mut Connection) -> io::Result<usize> {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.buf.len() == self.buf.capacity() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        // Callers keep at most RESPONSE_HEAD_BYTES_MAX unconsumed before a read, which is
        // less than the buffer holds; a read into no room would look like the end.
        assert!(self.buf.len() < self.buf.capacity(), "room to read into");
        let buf = std::mem::take(&mut self.buf);
        let spare_from = buf.len();
        let read = connection.read(buf.slice_mut(spare_from..));
        match within_socket_timeout(read).await {
            Ok((result, buf)) => {
                self.buf = buf.into_inner();
                result
            }
            Err(timed_out) => {
                self.reset();
                Err(timed_out)
            }
        }
    }

    /// Reads up to and including the blank line that ends the response head, and parses it.
    async fn read_head(&mut self, connection: &mut Connection) -> io::Result<ResponseHead> {
        loop {
            if let Some(head_bytes) = response_head_bytes(self.unconsumed()) {
                if head_bytes > RESPONSE_HEAD_BYTES_MAX {
                    return Err(invalid("response head is too large".to_owned()));
                }
                let head = parse_response_head(&self.unconsumed()[..head_bytes]);
                self.consume(head_bytes);
                return head;
            }
            if self.unconsumed().len() > RESPONSE_HEAD_BYTES_MAX {
                return Err(invalid("response head is too large".to_owned()));
            }
            if self.fill(connection).await? == 0 {
                let why = match self.unconsumed().is_empty() {
                    true => "connection closed before the response",
                    false => "connection closed in the middle of a response head",
                };
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, why));
            }
        }
    }

    /// Reads exactly `length` body bytes; keeps up to `CAPTURED_BODY_BYTES_MAX` of them
    /// when asked, and drops the rest from the buffer as they arrive.
    async fn read_body(
        &mut self,
        connection: &mut Connection,
        length: u64,
        keep: bool,
    ) -> io::Result<(u64, Vec<u8>)> {
        let mut kept = Vec::new();
        let mut remaining = length;
        loop {
            let available = self.unconsumed();
            let take =
                usize::try_from(remaining).map_or(available.len(), |r| r.min(available.len()));
            if keep && kept.len() < CAPTURED_BODY_BYTES_MAX {
                let kept_now = take.min(CAPTURED_BODY_BYTES_MAX - kept.len());
                kept.extend_from_slice(&available[..kept_now]);
            }
            self.consume(take);
            remaining -= take as u64;
            if remaining == 0 {
                return Ok((length, kept));
            }
            if self.fill(connection).await? == 0 {
                let why = "connection closed in the middle of a response body";
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, why));
            }
        }
    }
}

#[derive(Debug)]
struct ResponseHead {
    status: u16,
    content_length_bytes: u64,
    keep_alive: bool,
    etag: Option<String>,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Bytes up to and including the blank line that ends a response head, once it has all
/// arrived. Lines end in LF, with or without a CR before it.
fn response_head_bytes(data: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    while let Some(offset) = data[line_start..].iter().position(|&b| b == b'\n') {
        let line_end = line_start + offset;
        if matches!(&data[line_start..line_end], b"" | b"\r") {
            return Some(line_end + 1);
        }
        line_start = line_end + 1;
    }
    None
}

/// Parses a whole response head: the status line, then headers up to the blank line.
fn parse_response_head(head: &[u8]) -> io::Result<ResponseHead> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let status = parse_status_line(lines.next().unwrap_or_default())?;
    let (mut content_length, mut keep_alive, mut chunked) = (None, true, false);
    let mut etag = None;
    // Compared as bytes, without a copy per header: this runs once per request.
    for line in lines.take_while(|line| !line.is_empty()) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            let text = String::from_utf8_lossy(line);
            return Err(invalid(format!("malformed response header {text:?}")));
        };
        let (name, value) = (line[..colon].trim_ascii(), line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") {
            content_length = Some(parse_content_length(value)?);
        } else if name.eq_ignore_ascii_case(b"connection") {
            keep_alive = !value.eq_ignore_ascii_case(b"close");
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = !value.eq_ignore_ascii_case(b"identity");
        } else if name.eq_ignore_ascii_case(b"etag") {
            etag = Some(String::from_utf8_lossy(value).into_owned());
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

fn parse_content_length(value: &[u8]) -> io::Result<u64> {
    let text = String::from_utf8_lossy(value);
    text.parse()
        .map_err(|_| invalid(format!("malformed Content-Length {text:?}")))
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
    fn response_heads_end_at_the_blank_line_and_parse() {
        let response = b"HTTP/1.1 200 OK\r\nETag: \"abc\"\r\ncontent-length: 5\r\n\r\nhello";
        let head_bytes = response_head_bytes(response).unwrap();
        assert_eq!(&response[head_bytes..], b"hello");
        assert_eq!(response_head_bytes(&response[..head_bytes - 1]), None);
        let head = parse_response_head(&response[..head_bytes]).unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.content_length_bytes, 5);
        assert_eq!(head.etag.as_deref(), Some("\"abc\""));
        assert!(head.keep_alive);
        // Bare LF line ends are accepted too.
        let closing = b"HTTP/1.1 204 No Content\nConnection: close\n\n";
        assert_eq!(response_head_bytes(closing), Some(closing.len()));
        let head = parse_response_head(closing).unwrap();
        assert_eq!((head.status, head.content_length_bytes), (204, 0));
        assert!(!head.keep_alive);
    }

    #[test]
    fn response_heads_without_a_length_or_chunked_are_refused() {
        assert!(parse_response_head(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        assert!(parse_response_head(chunked).is_err());
        assert!(parse_response_head(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n").is_err());
        assert!(parse_response_head(b"\r\n").is_err());
        let bad_length = b"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n";
        assert!(parse_response_head(bad_length).is_err());
    }

    #[test]
    fn aws_chunked_length_is_the_length_encoded() {
        let mut signer = Signer::new("AKIATESTTESTTESTTEST", "secret", "us-east-1");
        let date = AmzDate::from_unix_seconds(1_700_000_000);
        let sizes = [
            1,
            15,
            16,
            AWS_CHUNK_BYTES - 1,
            AWS_CHUNK_BYTES,
            3 * AWS_CHUNK_BYTES + 7,
        ];
        for size in sizes {
            let mut out = Vec::new();
            let seed = "0".repeat(64);
            encode_aws_chunked(&mut out, &mut signer, &date, seed, &vec![7u8; size]);
            assert_eq!(out.len(), aws_chunked_encoded_bytes(size), "{size}");
        }
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
