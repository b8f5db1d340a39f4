//! Keep-alive, HTTP/1.0, pipelining, TCP_NODELAY, response fields.

use std::time::{Duration, Instant};

use crate::support::{get, put, Client, TestServer};

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let server = TestServer::start();
    let mut client = server.client();
    for _ in 0..20 {
        client.send(get("/hello"));
        let response = client.read_response();
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, &b"hello"[..])
        );
        assert!(!response.closes());
        assert_eq!(response.header("server"), Some("maxiofs"));
        assert!(response.header("date").is_some_and(|d| d.ends_with(" GMT")));
        assert_eq!(response.header("x-test"), Some("1"));
    }
}

#[test]
fn http10_closes_unless_keep_alive_requested() {
    let server = TestServer::start();
    let mut client = server.client();
    client.send("GET /hello HTTP/1.0\r\n\r\n");
    let response = client.read_response();
    assert_eq!(response.status, 200);
    assert!(response.closes());
    client.assert_closed();

    let mut client = server.client();
    for _ in 0..3 {
        client.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let response = client.read_response();
        assert_eq!(response.header("connection"), Some("keep-alive"));
        assert_eq!(response.body, b"hello");
    }
}

#[test]
fn http11_connection_close_is_honoured() {
    let server = TestServer::start();
    let mut client = server.client();
    client.send("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert!(client.read_response().closes());
    client.assert_closed();
}

#[test]
fn handler_close_after_closes() {
    let server = TestServer::start();
    let mut client = server.client();
    client.send(get("/close"));
    let response = client.read_response();
    assert_eq!(response.body, b"bye");
    assert!(response.closes());
    client.assert_closed();
}

#[test]
fn pipelined_requests_in_one_write_are_answered_in_order() {
    let server = TestServer::start();
    let mut client = server.client();
    let mut batch = get("/hello").into_bytes();
    batch.extend(put("/echo", b"first body"));
    batch.extend(get("/nope").into_bytes());
    batch.extend(put("/echo?buf=3", b"second"));
    batch.extend(get("/hello").into_bytes());
    client.send(batch);
    assert_eq!(client.read_response().body, b"hello");
    assert_eq!(client.read_response().body, b"first body");
    assert_eq!(client.read_response().status, 404);
    assert_eq!(client.read_response().body, b"second");
    assert_eq!(client.read_response().body, b"hello");
}

/// Head and body leave in two writes; with Nagle's algorithm on, the body would wait for
/// the client's delayed ACK (~40 ms) on most round trips.
#[test]
fn two_write_responses_are_not_delayed_by_nagle() {
    let server = TestServer::start();
    let mut client = server.client();
    let started = Instant::now();
    for _ in 0..50 {
        client.send(get("/two-writes"));
        assert_eq!(client.read_response().body, b"hello");
    }
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn head_request_announces_length_without_body() {
    let server = TestServer::start();
    let mut client = server.client();
    client.send("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    let response = client.read_head_response();
    assert_eq!(response.header("content-length"), Some("5"));
    client.send("HEAD /big?len=100000 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        client.read_head_response().header("content-length"),
        Some("100000")
    );
    // Had any body bytes been sent, they would be parsed as this response's head.
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
}

#[test]
fn no_content_has_no_length_and_keeps_alive() {
    let server = TestServer::start();
    let mut client = server.client();
    client.send(get("/no-content"));
    let response = client.read_response();
    assert_eq!(response.status, 204);
    assert_eq!(response.header("content-length"), None);
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
}

#[test]
fn leading_empty_lines_before_a_request_are_ignored() {
    let server = TestServer::start();
    let mut client = server.client();
    client.send(format!("\r\n{}", get("/hello")));
    assert_eq!(client.read_response().body, b"hello");
}

#[test]
fn many_connections_are_served_concurrently() {
    let server = TestServer::start();
    let mut clients: Vec<Client> = (0..50).map(|_| server.client()).collect();
    for client in &mut clients {
        client.send(get("/hello"));
    }
    for client in &mut clients {
        assert_eq!(client.read_response().body, b"hello");
    }
}

#[test]
fn head_only_bodies_are_announced_but_never_sent() {
    let server = TestServer::start();
    let mut client = server.client();
    client.send("HEAD /head-only HTTP/1.1\r\nHost: t\r\n\r\n");
    let response = client.read_head_response();
    assert_eq!(
        (response.status, response.header("content-length")),
        (200, Some("42"))
    );
    client.send(get("/not-modified"));
    let response = client.read_head_response();
    assert_eq!(
        (response.status, response.header("content-length")),
        (304, Some("42"))
    );
    client.send("HEAD /chunked HTTP/1.1\r\nHost: t\r\n\r\n");
    let response = client.read_head_response();
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    client.send(get("/head-only"));
    assert_eq!(
        client.read_response().body,
        b"refused",
        "HeadOnly on GET is refused"
    );
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
}
