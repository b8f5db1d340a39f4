//! A minimal blocking S3 client: one keep-alive HTTP/1.1 connection, requests written
//! by hand and signed with SigV4 (`UNSIGNED-PAYLOAD`, path-style), responses parsed for
//! status, `Content-Length` and `Connection: close`.
//!
//! Must not touch: statistics or timing; the caller measures around `request`.
//!
//! Main types: `Endpoint` (where to connect), `S3Client` (one connection and its
//! signer), `Response`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::SystemTime;

use s3::auth::sigv4::{self, AmzDate};

use crate::limits::{
    ERROR_BODY_BYTES_MAX, READ_BUFFER_BYTES, RESPONSE_HEAD_BYTES_MAX, SOCKET_TIMEOUT,
};
use crate::sign::{Signer, UNSIGNED_PAYLOAD};

/// An `http://host:port` endpoint, resolved once.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The `Host` header: the URL's authority as given.
    pub host_header: String,
    pub addr: SocketAddr,
}

impl Endpoint {
    /// Parses `http://host[:port][/]`. HTTPS is not supported by this client.
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("endpoint {url:?} must start with http:// (no TLS yet)"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return Err(format!("endpoint {url:?} has no host"));
        }
        let has_port = authority.rsplit_once(':').is_some() && !authority.ends_with(']');
        let with_port = if has_port {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {authority:?}: {e}"))?
            .next()
            .ok_or_else(|| format!("{authority:?} resolves to no address"))?;
        Ok(Endpoint {
            host_header: authority.to_owned(),
            addr,
        })
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
    connection: Option<BufReader<TcpStream>>,
    /// Where GET bodies are read to and dropped.
    scratch: Vec<u8>,
    head: Vec<u8>,
}

impl S3Client {
    pub fn new(endpoint: Endpoint, signer: Signer) -> Self {
        S3Client {
            endpoint,
            signer,
            connection: None,
            scratch: vec![0; READ_BUFFER_BYTES],
            head: Vec::with_capacity(1024),
        }
    }

    /// Opens the connection now, so the first timed request does not pay for it.
    pub fn connect(&mut self) -> io::Result<()> {
        if self.connection.is_none() {
            let stream = TcpStream::connect_timeout(&self.endpoint.addr, SOCKET_TIMEOUT)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(SOCKET_TIMEOUT))?;
            stream.set_write_timeout(Some(SOCKET_TIMEOUT))?;
            self.connection = Some(BufReader::with_capacity(READ_BUFFER_BYTES, stream));
        }
        Ok(())
    }

    /// Sends one request and reads the whole response. `path_decoded` is
    /// `/bucket` or `/bucket/key` before percent-encoding. A `PUT` always carries
    /// `Content-Length`; other methods send no body. On an I/O error the connection
    /// is dropped and the next request opens a new one.
    pub fn request(
        &mut self,
        method: &str,
        path_decoded: &str,
        body: &[u8],
    ) -> io::Result<Response> {
        self.connect()?;
        self.build_head(method, path_decoded, body.len());
        let result = self.exchange(body);
        if !matches!(result, Ok((_, true))) {
            self.connection = None;
        }
        result.map(|(response, _)| response)
    }

    /// Writes the request and reads the response; true when the connection may be reused.
    fn exchange(&mut self, body: &[u8]) -> io::Result<(Response, bool)> {
        let reader = self.connection.as_mut().expect("connected by the caller");
        let stream = reader.get_mut();
        stream.write_all(&self.head)?;
        if !body.is_empty() {
            stream.write_all(body)?;
        }
        let head = read_response_head(reader)?;
        let (body_bytes, error_body) = read_response_body(
            reader,
            &mut self.scratch,
            head.content_length_bytes,
            head.status,
        )?;
        let response = Response {
            status: head.status,
            body_bytes,
            error_body,
        };
        Ok((response, head.keep_alive))
    }

    fn build_head(&mut self, method: &str, path_decoded: &str, body_len: usize) {
        let date = AmzDate::from_unix_seconds(unix_seconds_now());
        let headers = [
            ("host".to_owned(), self.endpoint.host_header.clone()),
            (
                "x-amz-content-sha256".to_owned(),
                UNSIGNED_PAYLOAD.to_owned(),
            ),
            ("x-amz-date".to_owned(), date.timestamp().to_owned()),
        ];
        let authorization = self
            .signer
            .authorization(method, path_decoded, &[], &headers, &date);
        let mut path_encoded = String::with_capacity(path_decoded.len() + 16);
        sigv4::uri_encode(&mut path_encoded, path_decoded, false);
        self.head.clear();
        let head = &mut self.head;
        // Writing into a Vec cannot fail.
        let _ = write!(head, "{method} {path_encoded} HTTP/1.1\r\n");
        for (name, value) in &headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        let _ = write!(head, "authorization: {authorization}\r\n");
        if method == "PUT" || body_len > 0 {
            let _ = write!(head, "content-length: {body_len}\r\n");
        }
        head.extend_from_slice(b"\r\n");
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
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Reads the status line and headers up to the blank line.
fn read_response_head(reader: &mut BufReader<TcpStream>) -> io::Result<ResponseHead> {
    let mut line = Vec::with_capacity(128);
    let mut head_bytes = read_line(reader, &mut line)?;
    let status = parse_status_line(&line)?;
    let (mut content_length, mut keep_alive, mut chunked) = (None, true, false);
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
    })
}

/// Reads one line into `line` without its CRLF; returns the bytes consumed.
fn read_line(reader: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> io::Result<usize> {
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

/// Reads exactly `length` body bytes; keeps the first few of an error body.
fn read_response_body(
    reader: &mut BufReader<TcpStream>,
    scratch: &mut [u8],
    length: u64,
    status: u16,
) -> io::Result<(u64, Vec<u8>)> {
    let keep_error = !(200..300).contains(&status);
    let mut error_body = Vec::new();
    let mut remaining = length;
    while remaining > 0 {
        let want = usize::try_from(remaining).map_or(scratch.len(), |r| r.min(scratch.len()));
        let got = reader.read(&mut scratch[..want])?;
        if got == 0 {
            let why = "connection closed in the middle of a response body";
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, why));
        }
        if keep_error && error_body.len() < ERROR_BODY_BYTES_MAX {
            let keep = got.min(ERROR_BODY_BYTES_MAX - error_body.len());
            error_body.extend_from_slice(&scratch[..keep]);
        }
        remaining -= got as u64;
    }
    Ok((length, error_body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_and_endpoints_parse() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK").unwrap(), 200);
        assert_eq!(parse_status_line(b"HTTP/1.1 503 Slow Down").unwrap(), 503);
        assert!(parse_status_line(b"SSH-2.0 x").is_err());
        let endpoint = Endpoint::parse("http://127.0.0.1:9000/").unwrap();
        assert_eq!(endpoint.host_header, "127.0.0.1:9000");
        assert_eq!(endpoint.addr.port(), 9000);
        assert_eq!(Endpoint::parse("http://127.0.0.1").unwrap().addr.port(), 80);
        assert!(Endpoint::parse("https://127.0.0.1:9000").is_err());
    }
}
