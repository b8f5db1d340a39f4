//! Idle, header-read and body-read timeouts.

use std::time::{Duration, Instant};

use http::ServerLimits;

use crate::support::{get, TestServer};

fn short_timeouts() -> ServerLimits {
    ServerLimits {
        idle_timeout_ms: 200,
        header_read_timeout_ms: 300,
        body_read_timeout_ms: 300,
        close_linger_ms: 100,
        ..ServerLimits::default()
    }
}

#[test]
fn idle_keep_alive_connection_is_closed_quietly() {
    let server = TestServer::start_with(short_timeouts());
    let mut client = server.client();
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
    let started = Instant::now();
    client.assert_closed();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
}

#[test]
fn silent_new_connection_is_closed_after_header_timeout() {
    let server = TestServer::start_with(short_timeouts());
    let mut client = server.client();
    let started = Instant::now();
    client.assert_closed();
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn slow_head_gets_408() {
    let server = TestServer::start_with(short_timeouts());
    let mut client = server.client();
    client.send("GET /hello HTTP/1.1\r\nHost: t\r\n");
    // Dribbling bytes does not extend the header deadline.
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(40));
        client.send("X-A: b\r\n");
    }
    let response = client.read_response();
    assert_eq!(response.status, 408);
    assert!(response.closes());
    client.assert_closed();
}

#[test]
fn stalled_body_gets_408() {
    let server = TestServer::start_with(short_timeouts());
    let mut client = server.client();
    client.send("PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789");
    let response = client.read_response();
    assert_eq!(response.status, 408);
    assert!(response.closes());
    client.assert_closed();
}

#[test]
fn handler_may_answer_a_stalled_body_itself() {
    let server = TestServer::start_with(short_timeouts());
    let mut client = server.client();
    client.send("PUT /explain HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123");
    let response = client.read_response();
    assert_eq!(
        (response.status, response.body.as_slice()),
        (400, &b"timed out"[..])
    );
    assert!(response.closes());
    client.assert_closed();
}

#[test]
fn truncated_body_closes_without_answer() {
    let server = TestServer::start_with(short_timeouts());
    // The owned-buffer reader's next read after the buffered bytes goes straight to the
    // socket (100 kB still due), which must end the same way.
    for (path, declared_bytes) in [("/echo", 100), ("/echo-owned", 100_000)] {
        let mut client = server.client();
        client.send(format!(
            "PUT {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {declared_bytes}\r\n\r\n0123456789"
        ));
        client.stream.shutdown(std::net::Shutdown::Write).unwrap();
        client.assert_closed();
    }
    let mut client = server.client();
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
}

#[test]
fn client_that_stops_reading_is_cut_off_after_write_timeout() {
    let limits = ServerLimits {
        write_timeout_ms: 200,
        connections_max: 1,
        ..short_timeouts()
    };
    let server = TestServer::start_with(limits);
    let mut stalled = server.client();
    stalled.send(get("/big?len=1000000000"));
    // The only connection slot frees once the stalled write times out.
    server.wait_until_served(Duration::from_secs(3));
    drop(stalled);
}
