//! Fuzz entry points for the `http` crate's parsers: the request head (request line,
//! fields, framing: Content-Length, Transfer-Encoding, Connection, Expect) and the
//! chunked transfer coding (size lines, extensions, trailers).
//!
//! Those parsers are private to `http`; its public surface is `serve`. So the entries
//! drive a real server, started once per process on its own thread and io_uring runtime
//! as a shard runs it: each input is written to a fresh loopback connection, the
//! connection half-closed, and the answer read to the end. That also covers what sits
//! between the parsers and the socket (the chunked decoder's states in `exchange.rs`,
//! body reads into small and large buffers, keep-alive and pipelining).
//!
//! Shared, unchanged, by the cargo-fuzz targets and `http/tests/fuzz_replay.rs`
//! (included with `#[path]`). An entry fails on a panic anywhere in the server, on a
//! connection the server neither answers nor closes within `ANSWER_TIMEOUT`, and on an
//! answer that is not an HTTP/1.1 status line.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http::{serve, Exchange, Handler, ServerLimits, Shutdown};

/// Time the server gets to answer and close once the client has half-closed. Far above
/// a loopback round trip; below the server's own read timeouts, so a hang shows as one.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
const SERVER_THREAD_NAME: &str = "fuzz-http-server";

static SERVER: OnceLock<SocketAddr> = OnceLock::new();
static SERVER_PANICKED: AtomicBool = AtomicBool::new(false);

/// Reads the whole body (into a buffer sized by the `buf` query parameter, so direct
/// and bounced reads both happen), unless the query says `ignore`; answers with the
/// body's length and trailer count. A body error is left to the server to answer.
struct FuzzHandler;

impl Handler for FuzzHandler {
    async fn handle(&self, ex: &mut Exchange<'_>) {
        let query = ex.head().query().to_owned();
        if query.contains("ignore") {
            let _ = ex.respond(200, &[], Bytes::from_static(b"ignored")).await;
            return;
        }
        let buf_bytes = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("buf=")?.parse::<usize>().ok())
            .unwrap_or(16 * 1024)
            .clamp(1, 1 << 20);
        let mut dst = vec![0u8; buf_bytes];
        let mut body_bytes = 0usize;
        loop {
            match ex.read_body(&mut dst).await {
                Ok(0) => break,
                Ok(n) => body_bytes += n,
                Err(_) => return,
            }
        }
        let (length, trailers) = (body_bytes.to_string(), ex.trailers().len().to_string());
        let headers = [
            ("x-body-bytes", length.as_str()),
            ("x-trailers", trailers.as_str()),
        ];
        let _ = ex.respond(200, &headers, Bytes::new()).await;
    }
}

fn server_addr() -> SocketAddr {
    *SERVER.get_or_init(|| {
        // Chained to the hook in place (libFuzzer's aborts), so a panic on the server
        // thread is both recorded here and fatal there.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some(SERVER_THREAD_NAME) {
                SERVER_PANICKED.store(true, Ordering::SeqCst);
            }
            previous(info);
        }));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new().name(SERVER_THREAD_NAME.to_owned());
        let spawned = thread.spawn(move || {
            let builder = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new();
            let mut runtime = builder.enable_timer().build().expect("io_uring runtime");
            runtime.block_on(async move {
                let listener = monoio::net::TcpListener::bind("127.0.0.1:0")?;
                addr_tx.send(listener.local_addr()?).expect("harness alive");
                let limits = ServerLimits::default();
                let handler = Rc::new(FuzzHandler);
                serve(listener, handler, limits, Shutdown::never(), None).await
            })
        });
        spawned.expect("spawn the server thread");
        addr_rx.recv().expect("server started")
    })
}

/// Sends `request` on a fresh connection, half-closes it and returns all the server
/// wrote before closing.
pub fn exchange(request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(server_addr()).expect("the server accepts");
    stream
        .set_read_timeout(Some(ANSWER_TIMEOUT))
        .expect("timeout");
    // The server may answer and close before reading everything: a failed write is
    // an ordinary outcome, not a finding.
    let _ = stream.write_all(request);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                assert_server_alive();
                panic!("the server neither answered nor closed within {ANSWER_TIMEOUT:?}")
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // Reset: the server closed with input unread, which a lost answer may follow.
            Err(_) => break,
        }
    }
    assert_server_alive();
    if !answer.is_empty() {
        let status_line_ok = answer.len() >= 12
            && answer.starts_with(b"HTTP/1.1 ")
            && answer[9..12].iter().all(u8::is_ascii_digit);
        assert!(
            status_line_ok,
            "answer: {:?}",
            answer.escape_ascii().to_string()
        );
    }
    answer
}

/// A panic on the server thread is a finding even when the connection looked fine.
fn assert_server_alive() {
    let panicked = SERVER_PANICKED.load(Ordering::SeqCst);
    assert!(!panicked, "the server panicked");
}

/// Raw bytes as the start of a connection: a head, maybe a body, maybe more requests.
pub fn fuzz_http_head(data: &[u8]) {
    exchange(data);
}

/// A chunked request body. Byte 0 picks the handler's read buffer (1 byte to 64 KiB,
/// on both sides of the direct-read threshold); the rest follows a fixed head.
pub fn fuzz_http_chunked(data: &[u8]) {
    let Some((&buf_choice, body)) = data.split_first() else {
        return;
    };
    let buf_bytes = 1usize << (buf_choice % 17);
    let head = format!(
        "PUT /bucket/key?buf={buf_bytes} HTTP/1.1\r\nHost: fuzz\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    exchange(&request);
}
