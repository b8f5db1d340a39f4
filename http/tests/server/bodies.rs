//! Request bodies (Content-Length, chunked, 100-continue, draining) and response bodies
//! (fixed, chunked, short, overrun).

use crate::support::{bytes_text, get, pattern_byte, put, TestServer};

fn pattern(len_bytes: usize) -> Vec<u8> {
    (0..len_bytes as u64).map(pattern_byte).collect()
}

#[test]
fn large_body_through_bounce_and_read_buffer_paths() {
    let server = TestServer::start();
    let mut client = server.client();
    let body = pattern(3 << 20);
    // A 1 MiB destination reads the socket through the bounce buffer (`/echo`) or straight
    // into the owned buffer (`/echo-owned`); 100 bytes through the connection buffer. The
    // request after the body must stay intact either way.
    for path in ["/echo", "/echo-owned"] {
        for buf_bytes in [1 << 20, 100] {
            let mut request = put(&format!("{path}?buf={buf_bytes}"), &body);
            request.extend(get("/hello").into_bytes());
            client.send(request);
            let response = client.read_response();
            assert_eq!(response.header("x-declared"), Some("Some(3145728)"));
            assert!(response.body == body, "{path} differs for buf={buf_bytes}");
            assert_eq!(client.read_response().body, b"hello");
        }
    }
}

#[test]
fn chunked_request_with_extensions_and_trailers() {
    let server = TestServer::start();
    let mut client = server.client();
    let request = concat!(
        "PUT /echo?buf=4 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
        "5;name=value\r\nhello\r\n",
        "1 ; quoted=\"a;b\"\r\n \r\n",
        "0000000005\r\nworld\r\n",
        "0;last\r\nX-Amz-Checksum-Crc32: abc=\r\nx-other:  v \r\n\r\n",
    );
    client.send(request);
    let response = client.read_response();
    assert_eq!(response.status, 200);
    assert_eq!(bytes_text(&response.body), "hello world");
    assert_eq!(response.header("x-declared"), Some("None"));
    assert_eq!(
        response.header("x-trailers"),
        Some("x-amz-checksum-crc32=abc=;x-other=v")
    );
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
}

#[test]
fn large_chunked_request_split_across_reads() {
    let server = TestServer::start();
    let mut client = server.client();
    let body = pattern(600_000);
    // `/echo-owned` fills one buffer across chunk ends: a size line between two direct
    // reads comes through the connection buffer with the next chunk's first bytes.
    for path in ["/echo", "/echo-owned"] {
        let mut request = format!("PUT {path}?buf=70000 HTTP/1.1\r\nHost: t\r\n").into_bytes();
        request.extend(b"Transfer-Encoding: chunked\r\n\r\n");
        for piece in body.chunks(100_000) {
            request.extend(format!("{:x}\r\n", piece.len()).bytes());
            request.extend(piece);
            request.extend(b"\r\n");
        }
        request.extend(b"0\r\n\r\n");
        for piece in request.chunks(7_777) {
            client.send(piece);
        }
        assert!(client.read_response().body == body, "{path} differs");
    }
}

#[test]
fn bad_chunking_answers_400_and_closes() {
    let server = TestServer::start();
    for framing in [
        "zz\r\nhello\r\n0\r\n\r\n",
        "5\r\nhelloX\r\n0\r\n\r\n",
        "5\nhello\r\n",
    ] {
        let mut client = server.client();
        let head = "PUT /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
        client.send(format!("{head}{framing}"));
        let response = client.read_response();
        assert_eq!(response.status, 400, "{framing:?}");
        assert!(response.closes());
        client.assert_closed();
    }
}

#[test]
fn expect_continue_is_sent_when_the_handler_reads() {
    let server = TestServer::start();
    let mut client = server.client();
    let head = "PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
    client.send(head);
    let (status, headers) = client.read_head();
    assert_eq!((status, headers.len()), (100, 0));
    client.send("hello");
    let response = client.read_response();
    assert_eq!(response.body, b"hello");
    assert!(!response.closes());
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
}

#[test]
fn expect_continue_unread_body_closes_after_the_answer() {
    let server = TestServer::start();
    let mut client = server.client();
    let head = "PUT /forbidden HTTP/1.1\r\nHost: t\r\nContent-Length: 5000000\r\n\
                Expect: 100-continue\r\n\r\n";
    client.send(head);
    let response = client.read_response();
    assert_eq!(
        response.status, 403,
        "no 100 Continue before the final answer"
    );
    assert!(response.closes());
    client.assert_closed();
}

#[test]
fn expect_continue_with_body_already_sent_keeps_the_connection() {
    let server = TestServer::start();
    let mut client = server.client();
    let head =
        "PUT /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
    let mut request = format!("{head}hello").into_bytes();
    request.extend(get("/hello").into_bytes());
    client.send(request);
    let response = client.read_response();
    assert_eq!(response.body, b"ignored");
    assert!(!response.closes());
    assert_eq!(client.read_response().body, b"hello");
}

#[test]
fn small_unread_body_is_drained_and_connection_kept() {
    let server = TestServer::start();
    let mut client = server.client();
    client.send(put("/ignore", &pattern(10_000)));
    let response = client.read_response();
    assert_eq!(response.body, b"ignored");
    assert!(!response.closes());
    let chunked = "PUT /ignore HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
                   3\r\nabc\r\n0\r\n\r\n";
    client.send(chunked);
    assert_eq!(client.read_response().body, b"ignored");
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
}

#[test]
fn large_unread_body_closes_the_connection() {
    let server = TestServer::start();
    let mut client = server.client();
    let head = "PUT /forbidden HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n";
    client.send(format!("{head}{}", "x".repeat(1000)));
    let response = client.read_response();
    assert_eq!(response.status, 403);
    assert!(response.closes());
    client.assert_closed();
}

#[test]
fn copied_body_follows_the_head_and_keeps_the_connection() {
    let server = TestServer::start();
    let mut client = server.client();
    client.send(get("/copied"));
    assert_eq!(client.read_response().body, b"hello world");
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
}

#[test]
fn chunked_response_is_framed_and_terminated() {
    let server = TestServer::start();
    let mut client = server.client();
    client.send(get("/chunked"));
    let (status, headers) = client.read_head();
    assert_eq!(status, 200);
    assert!(headers
        .iter()
        .any(|(n, v)| n == "Transfer-Encoding" && v == "chunked"));
    let framed = b"6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n";
    assert_eq!(
        bytes_text(&client.read_exact(framed.len())),
        bytes_text(framed)
    );
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
}

#[test]
fn chunked_response_to_http10_is_close_delimited() {
    let server = TestServer::start();
    let mut client = server.client();
    client.send("GET /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let response = client.read_response();
    assert!(response.header("transfer-encoding").is_none());
    assert!(response.closes());
    assert_eq!(response.body, b"hello world");
}

#[test]
fn unfinished_chunked_response_is_cut_off() {
    let server = TestServer::start();
    let mut client = server.client();
    client.send(get("/chunked-unfinished"));
    client.read_head();
    let rest = client.read_to_end();
    assert_eq!(bytes_text(&rest), "6\r\nhello \r\n5\r\nworld\r\n");
}

#[test]
fn short_response_body_closes_the_connection() {
    let server = TestServer::start();
    let mut client = server.client();
    client.send(get("/short"));
    let (_, headers) = client.read_head();
    assert!(headers
        .iter()
        .any(|(n, v)| n == "Content-Length" && v == "10"));
    assert_eq!(client.read_to_end(), b"12345");
}

#[test]
fn overrun_is_refused_without_writing() {
    let server = TestServer::start();
    let mut client = server.client();
    client.send(get("/overrun"));
    assert_eq!(client.read_response().body, b"abc");
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
}

#[test]
fn large_fixed_response_from_reused_buffers() {
    let server = TestServer::start();
    let mut client = server.client();
    client.send(get("/big?len=5000000"));
    assert!(client.read_response().body == pattern(5_000_000));
}

#[test]
fn large_unread_chunked_body_closes_after_the_drain_budget() {
    let server = TestServer::start();
    let mut client = server.client();
    let mut request = b"PUT /ignore HTTP/1.1\r\nHost: t\r\n".to_vec();
    request.extend(b"Transfer-Encoding: chunked\r\n\r\n");
    // One-byte chunks with long extensions: the framing alone exceeds the drain budget.
    let extension = "e".repeat(1000);
    for _ in 0..200 {
        request.extend(format!("1;{extension}\r\nx\r\n").bytes());
    }
    request.extend(b"0\r\n\r\n");
    client.send(request);
    assert_eq!(client.read_response().body, b"ignored");
    client.assert_closed();
}

#[test]
fn oversized_or_excessive_trailers_get_400() {
    let server = TestServer::start();
    let head = "PUT /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n";
    let big_trailer = format!("T: {}\r\n\r\n", "v".repeat(10_000));
    let many_trailers = format!("{}\r\n", "T: v\r\n".repeat(101));
    for trailers in [
        big_trailer,
        many_trailers,
        "bad trailer\r\n\r\n".to_string(),
    ] {
        let mut client = server.client();
        client.send(format!("{head}{trailers}"));
        let response = client.read_response();
        assert_eq!(response.status, 400);
        client.assert_closed();
    }
}
