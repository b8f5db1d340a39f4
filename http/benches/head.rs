//! Request-head cost of a typical boto3 PutObject head (15 header fields).
//!
//! The crate's own parser (`head::parse_head`: httparse, then copying the
//! request line and fields into reused `String`s with lowercased names) is
//! `pub(crate)`, so it cannot be called from here. Two numbers bracket it:
//!
//! - `httparse`: the zero-copy parse alone, the floor `parse_head` builds on.
//! - `round_trip`: the head sent over a keep-alive loopback connection to
//!   `http::serve` (plain HTTP) with a handler that answers 200 at once,
//!   client and server on one monoio runtime (one core). This is the whole
//!   per-request cost of the HTTP layer: parse, framing, handler call,
//!   response head and the socket operations on both ends.

use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http::{serve, Exchange, Handler, ServerLimits, Shutdown, HEADERS_COUNT_CAP};
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};

/// A PutObject head as boto3 sends it (SigV4 header auth, CRC32 checksum,
/// user metadata), with an empty body so only the head is measured.
const PUT_OBJECT_HEAD: &str = "\
PUT /bench-bucket/photos/2025/01/img_000123.jpg HTTP/1.1\r
Host: 127.0.0.1:9000\r
Accept-Encoding: identity\r
User-Agent: Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.1.0 md/arch#x86_64 \
lang/python#3.11.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.0\r
Content-Type: image/jpeg\r
Content-MD5: 1B2M2Y8AsgTpgAmY7PhCfg==\r
x-amz-meta-camera: camera-7\r
x-amz-sdk-checksum-algorithm: CRC32\r
x-amz-checksum-crc32: AAAAAA==\r
X-Amz-Date: 20250115T103000Z\r
X-Amz-Content-SHA256: UNSIGNED-PAYLOAD\r
Authorization: AWS4-HMAC-SHA256 \
Credential=AKIAIOSFODNN7EXAMPLE/20250115/us-east-1/s3/aws4_request, \
SignedHeaders=content-md5;content-type;host;x-amz-checksum-crc32;x-amz-content-sha256;\
x-amz-date;x-amz-meta-camera;x-amz-sdk-checksum-algorithm, \
Signature=a7f1d9e3c2b4a6f8e0d2c4b6a8f0e2d4c6b8a0f2e4d6c8b0a2f4e6d8c0b2a4f6\r
amz-sdk-invocation-id: 3f0c5a4e-8d1b-4c2a-9e7f-6b5d4c3a2b1e\r
amz-sdk-request: attempt=1; max=5\r
Expect: 100-continue\r
Content-Length: 0\r
\r
";

/// Header fields in `PUT_OBJECT_HEAD`.
const PUT_OBJECT_HEADERS_COUNT: usize = 15;

fn bench_httparse(c: &mut Criterion) {
    let head = PUT_OBJECT_HEAD.as_bytes();
    let mut group = c.benchmark_group("request_head");
    group.throughput(Throughput::Elements(1));
    group.bench_function("httparse", |b| {
        let mut fields = [httparse::EMPTY_HEADER; HEADERS_COUNT_CAP];
        b.iter(|| {
            let mut req = httparse::Request::new(&mut fields);
            let status = req.parse(std::hint::black_box(head)).expect("valid head");
            assert!(status.is_complete());
            assert_eq!(req.headers.len(), PUT_OBJECT_HEADERS_COUNT);
        });
    });
    group.finish();
}

/// Answers every request with an empty 200.
struct Ok200;

impl Handler for Ok200 {
    async fn handle(&self, ex: &mut Exchange<'_>) {
        let _ = ex.respond(200, &[], Bytes::new()).await;
    }
}

/// Sends the head `iters` times on one keep-alive connection, reading each
/// response before the next request, and returns the time taken.
async fn round_trips(client: &mut TcpStream, iters: u64) -> Duration {
    let head = Bytes::from_static(PUT_OBJECT_HEAD.as_bytes());
    let mut response = Vec::with_capacity(4096);
    let started = Instant::now();
    for _ in 0..iters {
        let (sent, _) = client.write_all(head.clone()).await;
        sent.expect("request sent");
        response = read_response_head(client, response).await;
    }
    started.elapsed()
}

/// Reads until the end of a response head; the responses have no body.
async fn read_response_head(client: &mut TcpStream, mut buf: Vec<u8>) -> Vec<u8> {
    buf.clear();
    loop {
        let filled = buf.len();
        buf.reserve(1024);
        let (read, returned) = client.read(buf.slice_mut(filled..)).await;
        buf = returned.into_inner();
        assert!(read.expect("response read") > 0, "server closed");
        if buf.ends_with(b"\r\n\r\n") {
            assert!(buf.starts_with(b"HTTP/1.1 200"), "unexpected response");
            return buf;
        }
    }
}

fn bench_round_trip(c: &mut Criterion) {
    let mut runtime = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .build()
        .expect("monoio runtime");
    let driver = match &runtime {
        monoio::FusionRuntime::Uring(_) => "io_uring",
        monoio::FusionRuntime::Legacy(_) => "epoll (io_uring unavailable)",
    };
    println!("request_head/round_trip runs on {driver}");
    let mut client = runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let limits = ServerLimits::default();
        let plain_http = None;
        let server = serve(
            listener,
            Rc::new(Ok200),
            limits,
            Shutdown::never(),
            plain_http,
        );
        monoio::spawn(server);
        let client = TcpStream::connect(addr).await.expect("connect");
        client.set_nodelay(true).expect("TCP_NODELAY");
        client
    });
    let mut group = c.benchmark_group("request_head");
    group.throughput(Throughput::Elements(1));
    group.bench_function("round_trip", |b| {
        b.iter_custom(|iters| runtime.block_on(round_trips(&mut client, iters)));
    });
    group.finish();
}

criterion_group!(benches, bench_httparse, bench_round_trip);
criterion_main!(benches);
