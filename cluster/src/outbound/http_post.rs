//! One blocking HTTP/1.1 request: a POST to a collector or webhook (only
//! its status matters), or an exchange whose answer body is read back (an
//! identity provider's discovery document, keys and token endpoint).
//!
//! Owns: the request head (`Host`, `Content-Type`, `Content-Length`,
//! `Connection: close`, `User-Agent`, an optional `Authorization` set by the
//! caller), the bounds on what is read back, and error messages that never
//! hold the `Authorization` value or a URL's query. Must not: keep
//! connections, follow redirects or retry; callers decide what a status
//! means (2xx is delivered). Main items: `HttpTarget`, `post`, `exchange`.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;

use super::tls;

/// A collector's answer head is a status line and a few headers; one that
/// runs past this is not answering our POST and must not grow our memory.
const RESPONSE_HEAD_BYTES_MAX: usize = 64 * 1024;
/// The body is only read so the server sees a clean close; its content is
/// ignored, so no more than this is read before hanging up.
const RESPONSE_BODY_DRAIN_BYTES_MAX: u64 = 64 * 1024;
/// Sent as `User-Agent`, so a collector's logs name who posted.
const USER_AGENT: &str = "maxiofs";

/// Where to POST: from a URL by `parse`; `authorization` is the caller's
/// (a bearer token from the settings), never taken from the URL. `Debug`
/// and `Display` hide it, and `Display` hides the query too, because
/// collectors often take their API key there.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpTarget {
    pub tls: bool,
    /// A name or an address; IPv6 without its brackets.
    pub host: String,
    pub port: u16,
    /// Starts with `/`; printable ASCII only.
    pub path_and_query: String,
    /// The whole header value, e.g. `Bearer <token>`.
    pub authorization: Option<String>,
}

impl HttpTarget {
    /// Parses `http://host[:port][/path[?query]]` or `https://…`; the port
    /// defaults to 80 or 443. User information (`user:password@`) is refused:
    /// a secret belongs in `authorization`, not in a URL that gets logged.
    pub fn parse(url: &str) -> Result<HttpTarget, String> {
        let (tls, rest) = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
            _ => return Err(format!("URL {url:?}: must start with http:// or https://")),
        };
        let (authority, path_and_query) = match rest.find(['/', '?', '#']) {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            // The URL is not quoted back: what precedes the @ may be a password.
            return Err("a URL must not hold user information (user:password@); \
                        give the token in the authorization setting instead"
                .to_owned());
        }
        let invalid = |why: &str| format!("URL {url:?}: {why}");
        let (host, port) = parse_authority(authority).map_err(invalid)?;
        let path_and_query = match path_and_query.strip_prefix('?') {
            Some(_) => format!("/{path_and_query}"),
            None => path_and_query.to_owned(),
        };
        if path_and_query.contains('#') {
            return Err(invalid("must not hold a fragment (#)"));
        }
        if !path_and_query.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                "the path must be printable ASCII: percent-encode spaces and other characters",
            ));
        }
        Ok(HttpTarget {
            tls,
            host,
            port: port.unwrap_or(if tls { 443 } else { 80 }),
            path_and_query,
            authorization: None,
        })
    }

    /// The `Host` header: brackets around IPv6, the port only when it is not
    /// the scheme's default, as browsers and curl send it.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default_port = if self.tls { 443 } else { 80 };
        if self.port == default_port {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// The URL without its query (collectors take API keys there) and without
/// the authorization: what logs and error messages may show.
impl fmt::Display for HttpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        let (path, query) = match self.path_and_query.split_once('?') {
            Some((path, _)) => (path, "?[query hidden]"),
            None => (self.path_and_query.as_str(), ""),
        };
        write!(f, "{scheme}://{}{path}{query}", self.host_header())
    }
}

impl fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTarget")
            .field("url", &self.to_string())
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Splits `host[:port]` or `[v6]:port` of a URL. The host may only hold the
/// characters of a DNS name or an IP address, which also keeps line breaks
/// out of the `Host` header. Shared with the syslog URLs.
pub(crate) fn parse_authority(authority: &str) -> Result<(String, Option<u16>), &'static str> {
    let (host, port_text) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or("an IPv6 address needs its closing ]")?;
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b":.".contains(&b))
        {
            return Err("the address in brackets is not IPv6");
        }
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err("expected :port after the IPv6 address"),
            },
        }
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let name_byte = |b: u8| b.is_ascii_alphanumeric() || b"-._".contains(&b);
        if !host.bytes().all(name_byte) {
            return Err("the host must be a DNS name, an IPv4 address or [IPv6]");
        }
        (host, port)
    };
    if host.is_empty() {
        return Err("names no host");
    }
    let port = match port_text {
        None => None,
        Some(text) => Some(
            text.parse::<u16>()
                .ok()
                .filter(|port| *port != 0)
                .ok_or("the port must be a number from 1 to 65535")?,
        ),
    };
    Ok((host.to_owned(), port))
}

/// Sends one POST on a fresh connection and returns the answer's status
/// (after any interim 1xx). `tls` is required for https targets. Every
/// connect, read and write is bounded by `timeout`, and so is the whole
/// exchange up to the answer's head: a server trickling its answer a byte at
/// a time fails it too (reading the rest of the body does not count).
pub fn post(
    target: &HttpTarget,
    tls: Option<&Arc<ClientConfig>>,
    content_type: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<u16, String> {
    let fail = |why: String| format!("POST {target}: {why}");
    let head = request_head("POST", target, Some(content_type), body.len()).map_err(fail)?;
    let tls_config = match (target.tls, tls) {
        (true, None) => return Err(fail("an https URL needs a TLS configuration".into())),
        (true, Some(config)) => Some(config),
        (false, _) => None,
    };
    let deadline = std::time::Instant::now() + timeout;
    let tcp = tls::connect(&target.host, target.port, timeout)
        .map_err(|err| fail(format!("connect: {}", io_error_text(&err, timeout))))?;
    let answer = match tls_config {
        Some(config) => {
            let stream = tls::handshake(config, &target.host, tcp).map_err(fail)?;
            post_exchange(Deadline::new(stream, deadline), head.as_bytes(), body)
        }
        None => post_exchange(Deadline::new(tcp, deadline), head.as_bytes(), body),
    };
    answer.map_err(|err| fail(io_error_text(&err, timeout)))
}

/// An answer whose body was read.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Sends one request on a fresh connection and reads the whole answer, its
/// body at most `body_bytes_max` (a longer one is an error). Redirects are
/// not followed. Every connect, read and write is bounded by `timeout`.
pub fn exchange(
    method: &str,
    target: &HttpTarget,
    tls: Option<&Arc<ClientConfig>>,
    content_type: Option<&str>,
    body: &[u8],
    timeout: Duration,
    body_bytes_max: usize,
) -> Result<HttpAnswer, String> {
    let fail = |why: String| format!("{method} {target}: {why}");
    let head = request_head(method, target, content_type, body.len()).map_err(fail)?;
    let tls_config = match (target.tls, tls) {
        (true, None) => return Err(fail("an https URL needs a TLS configuration".into())),
        (true, Some(config)) => Some(config),
        (false, _) => None,
    };
    // The whole exchange, not only each read, gets `timeout` (and a little
    // more for a server that answers promptly but slowly): a server
    // trickling a byte now and then must not hold the caller for long.
    let deadline = std::time::Instant::now() + timeout * EXCHANGE_TIMEOUTS;
    let tcp = tls::connect(&target.host, target.port, timeout)
        .map_err(|err| fail(format!("connect: {}", io_error_text(&err, timeout))))?;
    let limit = body_bytes_max as u64;
    let answer = match tls_config {
        Some(config) => {
            let stream = tls::handshake(config, &target.host, tcp).map_err(fail)?;
            full_exchange(
                Deadline::new(stream, deadline),
                head.as_bytes(),
                body,
                limit,
            )
        }
        None => full_exchange(Deadline::new(tcp, deadline), head.as_bytes(), body, limit),
    };
    answer.map_err(|err| fail(io_error_text(&err, timeout)))
}

/// How many `timeout`s a whole `exchange` may take.
const EXCHANGE_TIMEOUTS: u32 = 3;
/// How long a POST's answer body may take to be read and dropped, after the
/// status said how it went.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// A stream that fails every read and write once its deadline has passed
/// (each one is also bounded by the socket's own timeout).
struct Deadline<S> {
    inner: S,
    deadline: std::time::Instant,
}

impl<S> Deadline<S> {
    fn new(inner: S, deadline: std::time::Instant) -> Self {
        Deadline { inner, deadline }
    }

    fn check(&self) -> io::Result<()> {
        if std::time::Instant::now() >= self.deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the server took too long to answer",
            ));
        }
        Ok(())
    }
}

impl<S: Read> Read for Deadline<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.check()?;
        self.inner.read(buf)
    }
}

impl<S: Write> Write for Deadline<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check()?;
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn full_exchange<S: Read + Write>(
    stream: S,
    head: &[u8],
    body: &[u8],
    limit: u64,
) -> io::Result<HttpAnswer> {
    let (mut reader, answer) = send_and_read_head(stream, head, body)?;
    let too_long = || invalid_data(format!("the answer's body is longer than {limit} bytes"));
    let mut body = Vec::new();
    if answer.status == 204 || answer.status == 304 {
        return Ok(HttpAnswer {
            status: answer.status,
            body,
        });
    }
    if answer.chunked {
        let mut line_bytes = 0usize;
        loop {
            let size_line = read_head_line(&mut reader, &mut line_bytes)?;
            let size_text = size_line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size_text, 16)
                .map_err(|_| invalid_data("a chunk size is not hexadecimal"))?;
            if size == 0 {
                break;
            }
            if size > limit.saturating_sub(body.len() as u64) {
                return Err(too_long());
            }
            (&mut reader).take(size).read_to_end(&mut body)?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    } else {
        let wanted = answer.content_length.unwrap_or(limit + 1);
        if wanted > limit {
            if answer.content_length.is_some() {
                return Err(too_long());
            }
            // No length: read to the close, within the limit.
            (&mut reader).take(limit + 1).read_to_end(&mut body)?;
            if body.len() as u64 > limit {
                return Err(too_long());
            }
        } else {
            (&mut reader).take(wanted).read_to_end(&mut body)?;
            if (body.len() as u64) < wanted {
                return Err(invalid_data(
                    "the connection closed inside the answer's body",
                ));
            }
        }
    }
    Ok(HttpAnswer {
        status: answer.status,
        body,
    })
}

/// The request head. Values that would break a header line are refused
/// without quoting them (the authorization is a secret).
fn request_head(
    method: &str,
    target: &HttpTarget,
    content_type: Option<&str>,
    body_bytes: usize,
) -> Result<String, String> {
    let header_safe = |value: &str| !value.chars().any(|c| c.is_control());
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\n",
        target.path_and_query,
        target.host_header(),
    );
    if let Some(content_type) = content_type {
        if !header_safe(content_type) {
            return Err("the content type holds a control character".into());
        }
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {body_bytes}\r\n"
        ));
    }
    head.push_str(&format!(
        "Connection: close\r\nUser-Agent: {USER_AGENT}\r\n"
    ));
    if let Some(authorization) = &target.authorization {
        if !header_safe(authorization) {
            return Err("the authorization value holds a control character".into());
        }
        head.push_str("Authorization: ");
        head.push_str(authorization);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    Ok(head)
}

/// Socket timeouts surface as WouldBlock (reads) or TimedOut (connect).
fn io_error_text(err: &io::Error, timeout: Duration) -> String {
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            format!("no answer within {} ms", timeout.as_millis())
        }
        _ => err.to_string(),
    }
}

/// What `post_exchange` needs of the answer head to drain its body.
struct ResponseHead {
    status: u16,
    content_length: Option<u64>,
    chunked: bool,
}

fn post_exchange<S: Read + Write>(
    stream: Deadline<S>,
    head: &[u8],
    body: &[u8],
) -> io::Result<u16> {
    let (mut reader, answer) = send_and_read_head(stream, head, body)?;
    // The status is known: a failure while draining changes nothing, and
    // the drain has its own bound (the deadline no longer applies).
    reader.get_mut().deadline = std::time::Instant::now() + DRAIN_TIMEOUT;
    let _ = post_drain_body(&mut reader, &answer);
    Ok(answer.status)
}

/// Writes the request and reads the final answer's head (after any interim
/// 1xx); the body is left in the reader.
fn send_and_read_head<S: Read + Write>(
    mut stream: S,
    head: &[u8],
    body: &[u8],
) -> io::Result<(BufReader<S>, ResponseHead)> {
    stream.write_all(head)?;
    stream.write_all(body)?;
    stream.flush()?;
    let mut reader = BufReader::new(stream);
    let mut head_bytes = 0usize;
    loop {
        let answer = post_read_head(&mut reader, &mut head_bytes)?;
        if !(100..200).contains(&answer.status) {
            return Ok((reader, answer));
        }
    }
}

/// The status line and headers up to the empty line, counted against the
/// head limit across interim answers.
fn post_read_head<R: BufRead>(reader: &mut R, head_bytes: &mut usize) -> io::Result<ResponseHead> {
    let (status, headers) = read_response_head(reader, head_bytes)?;
    let mut answer = ResponseHead {
        status,
        content_length: None,
        chunked: false,
    };
    for (name, value) in headers {
        if name == "content-length" {
            answer.content_length = value.parse().ok();
        } else if name == "transfer-encoding" {
            answer.chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    Ok(answer)
}

/// An HTTP/1.x answer's status and headers (names lowercased) up to the empty line; every
/// line counts against [`RESPONSE_HEAD_BYTES_MAX`] with what `head_bytes` already holds.
/// Shared with `maxiofs admin`'s client.
pub fn read_response_head<R: BufRead>(
    reader: &mut R,
    head_bytes: &mut usize,
) -> io::Result<(u16, Vec<(String, String)>)> {
    let status_line = read_head_line(reader, head_bytes)?;
    let mut words = status_line.split(' ');
    let version = words.next().unwrap_or("");
    let status = words
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|code| (100..600).contains(code));
    let status = match status {
        Some(status) if version.starts_with("HTTP/1.") => status,
        _ if status_line.is_empty() => {
            return Err(invalid_data(
                "the server closed the connection without answering",
            ))
        }
        _ => return Err(invalid_data("the answer is not HTTP/1.x")),
    };
    let mut headers = Vec::new();
    loop {
        let line = read_head_line(reader, head_bytes)?;
        if line.is_empty() {
            return Ok((status, headers));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(invalid_data("an answer header has no colon"));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
}

/// One head line without its CRLF (or bare LF), counted against
/// [`RESPONSE_HEAD_BYTES_MAX`] (also a chunked body's size lines).
pub fn read_head_line<R: BufRead>(reader: &mut R, head_bytes: &mut usize) -> io::Result<String> {
    let mut line = Vec::new();
    let left = RESPONSE_HEAD_BYTES_MAX.saturating_sub(*head_bytes) as u64;
    reader.take(left + 1).read_until(b'\n', &mut line)?;
    *head_bytes += line.len();
    if *head_bytes > RESPONSE_HEAD_BYTES_MAX {
        return Err(invalid_data(format!(
            "the answer's head is longer than {} KiB",
            RESPONSE_HEAD_BYTES_MAX / 1024
        )));
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    } else if !line.is_empty() {
        return Err(invalid_data(
            "the connection closed inside the answer's head",
        ));
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// Reads (and drops) at most `RESPONSE_BODY_DRAIN_BYTES_MAX` of the body, by
/// its framing, so that a server keeping the connection open anyway does not
/// hold us until the read timeout.
fn post_drain_body<R: BufRead>(reader: &mut R, answer: &ResponseHead) -> io::Result<()> {
    let limit = RESPONSE_BODY_DRAIN_BYTES_MAX;
    if answer.status == 204 || answer.status == 304 {
        return Ok(());
    }
    if answer.chunked {
        let mut drained = 0u64;
        let mut line_bytes = 0usize;
        loop {
            let size_line = read_head_line(reader, &mut line_bytes)?;
            let size_text = size_line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size_text, 16)
                .map_err(|_| invalid_data("a chunk size is not hexadecimal"))?;
            drained += size;
            if size == 0 || drained > limit {
                return Ok(());
            }
            // The chunk and its CRLF.
            io::copy(&mut reader.take(size + 2), &mut io::sink())?;
        }
    }
    let length = answer.content_length.unwrap_or(limit).min(limit);
    io::copy(&mut reader.take(length), &mut io::sink())?;
    Ok(())
}

fn invalid_data(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};
    use std::thread::{self, JoinHandle};

    use super::super::tls::test_pki;
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(10);

    #[test]
    fn parses_urls() {
        let target = HttpTarget::parse("http://127.0.0.1:8080/ingest?x=1").expect("parses");
        assert_eq!(
            (target.tls, target.host.as_str(), target.port),
            (false, "127.0.0.1", 8080)
        );
        assert_eq!(target.path_and_query, "/ingest?x=1");
        assert_eq!(target.authorization, None);
        assert_eq!(target.host_header(), "127.0.0.1:8080");
        assert_eq!(
            target.to_string(),
            "http://127.0.0.1:8080/ingest?[query hidden]"
        );

        let tls = HttpTarget::parse("HTTPS://logs.example.com").expect("parses");
        assert_eq!(
            (tls.tls, tls.port, tls.path_and_query.as_str()),
            (true, 443, "/")
        );
        assert_eq!(tls.to_string(), "https://logs.example.com/");
        let query_only = HttpTarget::parse("http://h?k=v").expect("parses");
        assert_eq!(
            (query_only.port, query_only.path_and_query.as_str()),
            (80, "/?k=v")
        );

        let v6 = HttpTarget::parse("https://[2001:db8::1]:8443/hook").expect("parses");
        assert_eq!((v6.host.as_str(), v6.port), ("2001:db8::1", 8443));
        assert_eq!(v6.host_header(), "[2001:db8::1]:8443");

        for bad in [
            "127.0.0.1:80/x",
            "ftp://h/",
            "http://",
            "http://:80/",
            "http://h:0/",
            "http://h:65536/",
            "http://h:x/",
            "http://[::1/",
            "http://[::1]x/",
            "http://[zz]/",
            "http://h/a b",
            "http://h/a#frag",
            "http://h\r\nX: y/",
            "http://h/é",
        ] {
            assert!(HttpTarget::parse(bad).is_err(), "{bad:?}");
        }
        let userinfo = HttpTarget::parse("https://user:s3cret@h/").expect_err("userinfo");
        assert!(userinfo.contains("user information"), "{userinfo}");
        assert!(!userinfo.contains("s3cret"), "{userinfo}");
    }

    #[test]
    fn debug_hides_the_authorization() {
        let mut target = HttpTarget::parse("http://h/p?key=k3y").expect("parses");
        target.authorization = Some("Bearer t0k3n".into());
        let shown = format!("{target:?} {target}");
        assert!(
            !shown.contains("t0k3n") && !shown.contains("k3y"),
            "{shown}"
        );
    }

    /// Reads one request (head and Content-Length body), answers with
    /// `answer`, and hands back what it read.
    fn serve_one<S: Read + Write>(stream: S, answer: &[u8]) -> (String, Vec<u8>) {
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("request line");
            head.push_str(&line);
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("Content-Length: "))
            .map(|n| n.parse().expect("length"))
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).expect("body");
        let stream = reader.get_mut();
        stream.write_all(answer).expect("answer");
        stream.flush().expect("flush");
        (head, body)
    }

    fn plain_server(answer: &'static [u8]) -> (u16, JoinHandle<(String, Vec<u8>)>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            serve_one(stream, answer)
        });
        (port, server)
    }

    #[test]
    fn posts_with_the_documented_head_and_reads_204() {
        let (port, server) = plain_server(b"HTTP/1.1 204 No Content\r\n\r\n");
        let mut target =
            HttpTarget::parse(&format!("http://127.0.0.1:{port}/ingest?x=1")).expect("parses");
        target.authorization = Some("Bearer t0k3n".into());
        let body = b"{\"a\":1}\n";
        let status = post(&target, None, "application/x-ndjson", body, TIMEOUT).expect("posts");
        assert_eq!(status, 204);
        let (head, received) = server.join().expect("server");
        assert_eq!(received, body);
        let expected = format!(
            "POST /ingest?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Content-Type: application/x-ndjson\r\nContent-Length: 8\r\nConnection: close\r\n\
             User-Agent: maxiofs\r\nAuthorization: Bearer t0k3n\r\n\r\n"
        );
        assert_eq!(head, expected);
    }

    #[test]
    fn returns_a_500_after_an_interim_answer_and_its_body() {
        let (port, server) = plain_server(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Internal Server Error\r\n\
              Content-Length: 5\r\n\r\noops!",
        );
        let target = HttpTarget::parse(&format!("http://127.0.0.1:{port}/")).expect("parses");
        let status = post(&target, None, "text/plain", b"x", TIMEOUT).expect("answers");
        assert_eq!(status, 500);
        server.join().expect("server");
    }

    #[test]
    fn an_endless_answer_head_is_cut_off() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).expect("request") > 2 {
                line.clear();
            }
            let mut stream: TcpStream = reader.into_inner();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\n")
                .expect("status line");
            let filler = format!("X-Filler: {}\r\n", "a".repeat(1000));
            // Until the client hangs up.
            while stream.write_all(filler.as_bytes()).is_ok() {}
        });
        let mut target = HttpTarget::parse(&format!("http://127.0.0.1:{port}/")).expect("parses");
        target.authorization = Some("Bearer t0k3n".into());
        let err = post(&target, None, "text/plain", b"x", TIMEOUT).expect_err("bounded");
        assert!(err.contains("longer than 64 KiB"), "{err}");
        assert!(!err.contains("t0k3n"), "{err}");
        server.join().expect("server");
    }

    /// A server that answers `prefix` and then `then` forever, a piece every
    /// `pause`.
    fn endless_server(prefix: &'static [u8], then: &'static [u8], pause: Duration) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).expect("request") > 2 {
                line.clear();
            }
            let mut stream: TcpStream = reader.into_inner();
            let _ = stream.write_all(prefix);
            while stream.write_all(then).is_ok() {
                thread::sleep(pause);
            }
        });
        port
    }

    #[test]
    fn a_chunk_size_past_the_limit_is_refused_not_read() {
        let port = endless_server(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\nffffffffffffffff\r\n",
            &[b'a'; 4096],
            Duration::ZERO,
        );
        let target = HttpTarget::parse(&format!("http://127.0.0.1:{port}/")).expect("parses");
        let err = exchange("GET", &target, None, None, b"", TIMEOUT, 1024).expect_err("bounded");
        assert!(err.contains("longer than 1024 bytes"), "{err}");
    }

    #[test]
    fn a_trickling_server_gets_the_whole_exchange_s_deadline() {
        let port = endless_server(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n",
            b"x",
            Duration::from_millis(20),
        );
        let target = HttpTarget::parse(&format!("http://127.0.0.1:{port}/")).expect("parses");
        let started = std::time::Instant::now();
        let timeout = Duration::from_millis(200);
        let err = exchange("GET", &target, None, None, b"", timeout, 1 << 20).expect_err("cut off");
        assert!(err.contains("no answer within"), "{err}");
        // Each byte came well within the read timeout: only the exchange's
        // own deadline (3 timeouts) ended it, long before 100 000 bytes.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn posts_over_https_trusting_a_ca_file() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = thread::spawn(move || {
            let (tcp, _) = listener.accept().expect("accept");
            serve_one(
                test_pki::accept(tcp),
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            )
        });
        let ca_path = test_pki::ca_file("https-post");
        let config = tls::client_config(Some(&ca_path)).expect("config");
        std::fs::remove_file(&ca_path).expect("remove CA file");
        let target = HttpTarget::parse(&format!("https://127.0.0.1:{port}/hook")).expect("parses");
        let status = post(&target, Some(&config), "application/json", b"{}", TIMEOUT);
        assert_eq!(status, Ok(200));
        let (head, body) = server.join().expect("server");
        assert!(head.starts_with("POST /hook HTTP/1.1\r\n"), "{head}");
        assert_eq!(body, b"{}");

        let missing = post(&target, None, "application/json", b"{}", TIMEOUT);
        assert!(missing
            .expect_err("no TLS config")
            .contains("TLS configuration"));
    }

    #[test]
    fn a_refused_connection_names_the_url_but_no_secret() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let mut target =
            HttpTarget::parse(&format!("http://127.0.0.1:{port}/p?api_key=k3y")).expect("parses");
        target.authorization = Some("Bearer t0k3n".into());
        let err = post(&target, None, "text/plain", b"x", TIMEOUT).expect_err("refused");
        assert!(
            err.starts_with(&format!("POST http://127.0.0.1:{port}/p")),
            "{err}"
        );
        assert!(!err.contains("t0k3n") && !err.contains("k3y"), "{err}");
    }
}
