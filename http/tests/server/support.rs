//! Test support: a server on its own thread and monoio runtime (plain or TLS), a handler
//! with one route per behaviour under test, and a raw blocking HTTP/1.1 client over any
//! byte stream (a TcpStream, or a rustls client stream in `tls.rs`).

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{
    serve, shutdown_signal, BodyLen, Exchange, Handler, HttpError, ServerLimits, ShutdownTrigger,
    TlsConfig,
};

/// A server running `TestHandler` until stopped or dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    trigger: ShutdownTrigger,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_with(ServerLimits::default())
    }

    pub fn start_with(limits: ServerLimits) -> TestServer {
        TestServer::start_serving(limits, None)
    }

    pub fn start_tls(limits: ServerLimits, tls: TlsConfig) -> TestServer {
        TestServer::start_serving(limits, Some(tls))
    }

    fn start_serving(limits: ServerLimits, tls: Option<TlsConfig>) -> TestServer {
        let (trigger, shutdown) = shutdown_signal();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            // io_uring explicitly: the production driver, whose cancellation semantics the
            // timeouts rely on.
            let builder = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new();
            let mut runtime = builder.enable_timer().build().expect("runtime");
            runtime.block_on(async move {
                let listener = monoio::net::TcpListener::bind("127.0.0.1:0")?;
                addr_tx.send(listener.local_addr()?).expect("test alive");
                serve(listener, Rc::new(TestHandler), limits, shutdown, tls).await
            })
        });
        let addr = addr_rx.recv().expect("server started");
        TestServer {
            addr,
            trigger,
            thread: Some(thread),
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Triggers shutdown and waits for `serve` to return; returns how long that took.
    pub fn stop(mut self) -> Duration {
        let started = Instant::now();
        self.trigger.trigger();
        let result = self
            .thread
            .take()
            .expect("running")
            .join()
            .expect("no panic");
        result.expect("serve returned Ok");
        started.elapsed()
    }

    /// Retries a fresh connection until `/hello` is answered, for states the server reaches
    /// asynchronously (a freed connection slot). Panics after `patience`.
    pub fn wait_until_served(&self, patience: Duration) {
        let started = Instant::now();
        loop {
            let mut client = self.client();
            client.send(get("/hello"));
            let mut status_line = [0u8; 12];
            if client.stream.read_exact(&mut status_line).is_ok() {
                assert_eq!(&status_line, b"HTTP/1.1 200");
                return;
            }
            assert!(
                started.elapsed() < patience,
                "not served within {patience:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn trigger(&self) -> ShutdownTrigger {
        self.trigger.clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.trigger.trigger();
        if let Some(thread) = self.thread.take() {
            let joined = thread.join();
            if !std::thread::panicking() {
                joined
                    .expect("server thread panicked")
                    .expect("serve failed");
            }
        }
    }
}

/// One route per behaviour; query `key=value` pairs tune it.
pub struct TestHandler;

impl Handler for TestHandler {
    async fn handle(&self, ex: &mut Exchange<'_>) {
        let path = ex.head().path().to_string();
        let query = ex.head().query().to_string();
        let param = |key: &str| query_param(&query, key);
        match path.as_str() {
            "/hello" => ok(ex, 200, b"hello").await,
            "/transport" => match ex.is_tls() {
                true => ok(ex, 200, b"tls").await,
                false => ok(ex, 200, b"plain").await,
            },
            "/echo" => echo(ex, param("buf").unwrap_or(64 * 1024) as usize).await,
            "/echo-owned" => echo_owned(ex, param("buf").unwrap_or(64 * 1024) as usize).await,
            "/explain" => explain(ex).await,
            "/ignore" => ok(ex, 200, b"ignored").await,
            "/forbidden" => ok(ex, 403, b"no").await,
            "/unauthenticated" => {
                ex.mark_unauthenticated();
                ok(ex, 403, b"who are you").await
            }
            "/object" => object(ex, param("len").unwrap_or(1 << 20)).await,
            "/nothing" => {}
            "/short" => short(ex).await,
            "/two-writes" => two_writes(ex).await,
            "/copied" => copied(ex).await,
            "/chunked" => chunked(ex, true).await,
            "/chunked-unfinished" => chunked(ex, false).await,
            "/slow" => {
                let ms = param("ms").unwrap_or(100);
                monoio::time::sleep(Duration::from_millis(ms)).await;
                ok(ex, 200, b"slow").await
            }
            "/close" => {
                ex.close_after();
                ok(ex, 200, b"bye").await
            }
            "/overrun" => overrun(ex).await,
            "/big" => big(ex, param("len").unwrap_or(1 << 20)).await,
            "/no-content" => ex.respond(204, &[], Bytes::new()).await.expect("204"),
            "/bad-header" => bad_header(ex).await,
            "/head-only" => head_only(ex, 200).await,
            "/not-modified" => head_only(ex, 304).await,
            _ => ok(ex, 404, b"not found").await,
        }
    }
}

fn query_param(query: &str, key: &str) -> Option<u64> {
    let pair = query
        .split('&')
        .find_map(|p| p.strip_prefix(key)?.strip_prefix('='))?;
    pair.parse().ok()
}

async fn ok(ex: &mut Exchange<'_>, status: u16, body: &'static [u8]) {
    let _ = ex
        .respond(status, &[("x-test", "1")], Bytes::from_static(body))
        .await;
}

/// Reads the whole body with a `buf`-byte destination and sends it back, with the body
/// length and trailers in headers. On a body error, returns without answering so the
/// server's own error answer is exercised.
async fn echo(ex: &mut Exchange<'_>, buf_bytes: usize) {
    let mut dst = vec![0u8; buf_bytes];
    let mut body = Vec::new();
    loop {
        match ex.read_body(&mut dst).await {
            Ok(0) => break,
            Ok(n) => body.extend_from_slice(&dst[..n]),
            Err(_) => return,
        }
    }
    let trailers: Vec<String> = ex
        .trailers()
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    let trailers = trailers.join(";");
    let declared = format!("{:?}", ex.body_len_declared());
    let headers = [
        ("x-trailers", trailers.as_str()),
        ("x-declared", declared.as_str()),
    ];
    ex.respond(200, &headers, Bytes::from(body))
        .await
        .expect("echo respond");
}

/// As `echo`, through `read_body_into`, filling one owned buffer from an offset onward
/// as the S3 layer fills a chunk after its record header: each read continues where the
/// last one stopped, and the buffer is emptied into the answer once full.
async fn echo_owned(ex: &mut Exchange<'_>, buf_bytes: usize) {
    const OFFSET: usize = 7;
    let end = OFFSET + buf_bytes;
    let mut owned = vec![0u8; end];
    let mut at = OFFSET;
    let mut body = Vec::new();
    loop {
        // A read straight from the socket leaves the Vec's length at its end; the range
        // must start within the initialized bytes (monoio's rule), as in `read_full_into`.
        owned.resize(end, 0);
        let (result, returned) = ex.read_body_into(owned, at..end).await;
        owned = returned;
        match result {
            Ok(0) => break,
            Ok(n) => at += n,
            Err(_) => return,
        }
        if at == end {
            body.extend_from_slice(&owned[OFFSET..end]);
            at = OFFSET;
        }
    }
    body.extend_from_slice(&owned[OFFSET..at]);
    let declared = format!("{:?}", ex.body_len_declared());
    ex.respond(200, &[("x-declared", declared.as_str())], Bytes::from(body))
        .await
        .expect("echo respond");
}

/// Reads the body; on a body error answers itself, as the S3 layer does with its own
/// error codes.
async fn explain(ex: &mut Exchange<'_>) {
    let mut dst = [0u8; 1024];
    loop {
        match ex.read_body(&mut dst).await {
            Ok(0) => return ok(ex, 200, b"whole body").await,
            Ok(_) => {}
            Err(e) => {
                let again = ex.read_body(&mut dst).await;
                assert!(
                    matches!(again, Err(HttpError::ConnectionBroken)),
                    "{again:?}"
                );
                let text = Bytes::from(e.to_string());
                return ex
                    .respond(400, &[], text)
                    .await
                    .expect("answer after read error");
            }
        }
    }
}

async fn short(ex: &mut Exchange<'_>) {
    ex.send_head(200, &[], BodyLen::Fixed(10))
        .await
        .expect("head");
    ex.write_body(b"12345".to_vec()).await.0.expect("write");
    assert!(matches!(
        ex.finish().await,
        Err(HttpError::BodyIncomplete { missing_bytes: 5 })
    ));
}

/// Head and body in separate writes: the pattern Nagle's algorithm delays without
/// TCP_NODELAY.
async fn two_writes(ex: &mut Exchange<'_>) {
    ex.send_head(200, &[], BodyLen::Fixed(5))
        .await
        .expect("head");
    ex.write_body(Bytes::from_static(b"hello"))
        .await
        .0
        .expect("write");
    ex.finish().await.expect("finish");
}

/// A body copied behind the head in two writes, then one too many.
async fn copied(ex: &mut Exchange<'_>) {
    ex.send_head(200, &[], BodyLen::Fixed(11))
        .await
        .expect("head");
    ex.write_body_copied(b"hello ").await.expect("first write");
    ex.write_body_copied(b"world").await.expect("second write");
    assert!(matches!(
        ex.write_body_copied(b"!").await,
        Err(HttpError::BodyTooLong { .. })
    ));
    ex.finish().await.expect("finish");
}

async fn chunked(ex: &mut Exchange<'_>, finish: bool) {
    ex.send_head(200, &[], BodyLen::Chunked)
        .await
        .expect("head");
    ex.write_body(b"hello ".to_vec()).await.0.expect("chunk 1");
    ex.write_body(Vec::new())
        .await
        .0
        .expect("empty write is no chunk");
    // Copied behind the pending CRLF of chunk 1: framing must not change.
    ex.write_body_copied(b"world").await.expect("chunk 2");
    if finish {
        ex.finish().await.expect("finish");
    }
}

async fn overrun(ex: &mut Exchange<'_>) {
    ex.send_head(200, &[], BodyLen::Fixed(3))
        .await
        .expect("head");
    let (result, _) = ex.write_body(b"abcd".to_vec()).await;
    assert!(
        matches!(result, Err(HttpError::BodyTooLong { .. })),
        "{result:?}"
    );
    ex.write_body(b"abc".to_vec()).await.0.expect("write");
    ex.finish().await.expect("finish");
}

/// A GET as the S3 layer serves it: any request body is discarded first, and a body that
/// cannot be is answered with a 400.
async fn object(ex: &mut Exchange<'_>, len_bytes: u64) {
    if let Err(e) = ex.discard_body().await {
        let text = Bytes::from(format!("discard failed: {e}"));
        return ex.respond(400, &[], text).await.expect("400 after discard");
    }
    let again = ex.read_body(&mut [0u8; 16]).await;
    assert!(
        matches!(again, Ok(0) | Err(HttpError::BodyDiscarded)),
        "{again:?}"
    );
    big(ex, len_bytes).await
}

/// A large body in 64 KiB pieces from a reused Vec: exercises the owned-buffer round trip.
/// A head refused because the request body is unread is answered with a 400.
async fn big(ex: &mut Exchange<'_>, len_bytes: u64) {
    match ex.send_head(200, &[], BodyLen::Fixed(len_bytes)).await {
        Ok(()) => {}
        Err(HttpError::RequestBodyUnread) => {
            let text = Bytes::from_static(b"request body unread");
            return ex.respond(400, &[], text).await.expect("400 after refusal");
        }
        Err(e) => panic!("unexpected {e}"),
    }
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut sent_bytes = 0;
    while sent_bytes < len_bytes {
        let piece_bytes = (len_bytes - sent_bytes).min(64 * 1024) as usize;
        buf.clear();
        buf.extend((0..piece_bytes).map(|i| pattern_byte(sent_bytes + i as u64)));
        let (result, back) = ex.write_body(buf).await;
        if result.is_err() {
            return; // The client stopped reading; the server closes the connection.
        }
        buf = back;
        sent_bytes += piece_bytes as u64;
    }
    ex.finish().await.expect("finish");
}

async fn bad_header(ex: &mut Exchange<'_>) {
    let result = ex
        .send_head(200, &[("x-evil", "a\r\nSet-Cookie: b")], BodyLen::Empty)
        .await;
    assert!(
        matches!(result, Err(HttpError::BadResponseHead(_))),
        "{result:?}"
    );
    ok(ex, 500, b"refused").await;
}

/// `BodyLen::HeadOnly` is refused where the client would wait for the announced body.
async fn head_only(ex: &mut Exchange<'_>, status: u16) {
    match ex
        .send_head(status, &[("etag", "\"x\"")], BodyLen::HeadOnly(42))
        .await
    {
        Ok(()) => ex.finish().await.expect("finish"),
        Err(HttpError::BadResponseHead(_)) => ok(ex, 500, b"refused").await,
        Err(e) => panic!("unexpected {e}"),
    }
}

pub fn pattern_byte(offset: u64) -> u8 {
    (offset.wrapping_mul(31) % 251) as u8
}

/// A parsed response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let field = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name));
        field.map(|(_, v)| v.as_str())
    }

    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// A blocking raw client that reads responses off one connection.
pub struct Client<S = TcpStream> {
    pub stream: S,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        Client::over(connect_tcp(addr))
    }
}

/// A loopback TCP connection with a read timeout, so a hung server fails the test.
pub fn connect_tcp(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    client_stream_setup(stream)
}

/// Like `connect_tcp`, from the local address `from` (e.g. 127.0.0.2: all of 127/8 is
/// loopback), so the server sees another client address.
pub fn connect_tcp_from(addr: SocketAddr, from: std::net::IpAddr) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.bind(&SocketAddr::new(from, 0).into()).expect("bind");
    socket.connect(&addr.into()).expect("connect");
    client_stream_setup(socket.into())
}

fn client_stream_setup(stream: TcpStream) -> TcpStream {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

impl<S: Read + Write> Client<S> {
    pub fn over(stream: S) -> Client<S> {
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream.write_all(bytes.as_ref()).expect("send");
    }

    /// Reads more bytes; 0 at end of stream (a reset counts as the end too, and so does a
    /// TLS stream closed without close_notify).
    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                n
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => 0,
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => 0,
            Err(e) => panic!("client read failed: {e}"),
        }
    }

    pub fn read_head(&mut self) -> (u16, Vec<(String, String)>) {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let text = String::from_utf8(self.buf[..end].to_vec()).expect("ascii head");
                self.buf.drain(..end + 4);
                return parse_head(&text);
            }
            assert!(self.fill() > 0, "connection closed before a response head");
        }
    }

    pub fn read_response(&mut self) -> Response {
        let (status, headers) = self.read_head();
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if let Some(len) = response.header("content-length") {
            response.body = self.read_exact(len.parse().expect("length"));
        } else if response.header("transfer-encoding").is_some() {
            response.body = self.read_chunked();
        } else if status != 204 && status != 304 {
            response.body = self.read_to_end();
        }
        response
    }

    /// A response to HEAD: the head only, whatever its Content-Length says.
    pub fn read_head_response(&mut self) -> Response {
        let (status, headers) = self.read_head();
        Response {
            status,
            headers,
            body: Vec::new(),
        }
    }

    pub fn read_exact(&mut self, len: usize) -> Vec<u8> {
        while self.buf.len() < len {
            assert!(
                self.fill() > 0,
                "closed after {} of {len} body bytes",
                self.buf.len()
            );
        }
        self.buf.drain(..len).collect()
    }

    fn read_line(&mut self) -> String {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8(self.buf[..end].to_vec()).expect("ascii");
                self.buf.drain(..end + 2);
                return line;
            }
            assert!(self.fill() > 0, "closed inside chunked framing");
        }
    }

    fn read_chunked(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let size = usize::from_str_radix(&self.read_line(), 16).expect("chunk size");
            if size == 0 {
                assert_eq!(self.read_line(), "", "no trailers expected");
                return body;
            }
            body.extend(self.read_exact(size));
            assert_eq!(self.read_line(), "");
        }
    }

    pub fn read_to_end(&mut self) -> Vec<u8> {
        while self.fill() > 0 {}
        std::mem::take(&mut self.buf)
    }

    /// Asserts the server closed the connection with nothing more to read.
    pub fn assert_closed(&mut self) {
        let rest = self.read_to_end();
        assert!(
            rest.is_empty(),
            "unexpected bytes before close: {:?}",
            bytes_text(&rest)
        );
    }

    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }
}

fn parse_head(text: &str) -> (u16, Vec<(String, String)>) {
    let mut lines = text.split("\r\n");
    let status_line = lines.next().expect("status line");
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().expect("status");
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("field");
            (name.to_string(), value.trim().to_string())
        })
        .collect();
    (status, headers)
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub fn bytes_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n")
}

pub fn put(path: &str, body: &[u8]) -> Vec<u8> {
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    [head.as_bytes(), body].concat()
}
