//! Connection exhaustion and unread bodies: drains end by a deadline, a failed
//! authentication closes at once, one client address gets a bounded share of the
//! connections, and a body sent with a bodiless request neither deadlocks the response
//! nor truncates it.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http::ServerLimits;

use crate::support::{connect_tcp_from, get, pattern_byte, Client, TestServer};

fn short_drains() -> ServerLimits {
    ServerLimits {
        body_drain_timeout_ms: 500,
        close_linger_ms: 200,
        ..ServerLimits::default()
    }
}

/// Sends one byte every 50 ms on a clone of `stream` until stopped or refused: a client
/// trickling a body to hold its connection.
struct Dripper {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Dripper {
    fn start(stream: &TcpStream) -> Dripper {
        let mut stream = stream.try_clone().expect("clone");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) && stream.write_all(b"x").is_ok() {
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Dripper {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Dripper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.take().expect("running").join();
    }
}

/// Writes `request` from another thread, as a client does that sends its whole request
/// before reading; errors (the server closing) end it.
fn send_in_background(client: &Client, request: Vec<u8>) -> JoinHandle<()> {
    let mut stream = client.stream.try_clone().expect("clone");
    std::thread::spawn(move || {
        let _ = stream.write_all(&request);
    })
}

fn with_body(head: &str, body_bytes: usize) -> Vec<u8> {
    let head = format!("{head}Content-Length: {body_bytes}\r\n\r\n");
    let mut request = head.into_bytes();
    request.extend((0..body_bytes as u64).map(pattern_byte));
    request
}

#[test]
fn dripped_body_is_cut_off_by_the_drain_deadline() {
    let server = TestServer::start_with(short_drains());
    // A refusal that does not read the body, and a GET that discards it.
    for (path, status) in [("/forbidden", 403), ("/object?len=10", 400)] {
        let mut client = server.client();
        let head = format!("PUT {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 60000\r\n\r\n");
        client.send(format!("{head}{}", "x".repeat(100)));
        let started = Instant::now();
        let dripper = Dripper::start(&client.stream);
        let response = client.read_response();
        assert_eq!(response.status, status, "{path}");
        assert!(response.closes(), "{path}");
        client.assert_closed();
        let took = started.elapsed();
        // Drain deadline (500 ms) plus linger (200 ms), with slack for a loaded machine.
        assert!(took < Duration::from_millis(2_000), "{path}: {took:?}");
        drop(dripper);
    }
}

#[test]
fn small_body_is_drained_before_the_answer_and_connection_kept() {
    let server = TestServer::start_with(short_drains());
    let mut client = server.client();
    let head = "PUT /forbidden HTTP/1.1\r\nHost: t\r\nContent-Length: 30000\r\n\r\n";
    client.send(head);
    // The body arrives in pieces after the head, well within the deadline.
    let body = "y".repeat(10_000);
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(20));
        client.send(&body);
    }
    let response = client.read_response();
    assert_eq!(response.status, 403);
    assert!(!response.closes());
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
}

#[test]
fn failed_authentication_closes_without_draining() {
    let limits = ServerLimits {
        body_drain_timeout_ms: 5_000,
        ..short_drains()
    };
    let server = TestServer::start_with(limits);
    let mut client = server.client();
    let head = "PUT /unauthenticated HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n";
    let started = Instant::now();
    client.send(format!("{head}0123456789"));
    let dripper = Dripper::start(&client.stream);
    let response = client.read_response();
    let answered = started.elapsed();
    assert_eq!(response.status, 403);
    assert!(response.closes());
    client.assert_closed();
    let closed = started.elapsed();
    drop(dripper);
    // No drain (it could take 5 s) before the answer, then only the linger (200 ms)
    // while the client drips.
    assert!(answered < Duration::from_secs(1), "{answered:?}");
    assert!(closed < Duration::from_secs(2), "{closed:?}");
    // Without a body the connection closes as well: no further attempts on it.
    let mut client = server.client();
    client.send(get("/unauthenticated"));
    assert!(client.read_response().closes());
    client.assert_closed();
}

#[test]
fn one_client_address_gets_its_share_of_connections() {
    let limits = ServerLimits {
        connections_per_client_max: 2,
        ..ServerLimits::default()
    };
    let server = TestServer::start_with(limits);
    let mut admitted: Vec<Client> = (0..2).map(|_| server.client()).collect();
    for client in &mut admitted {
        client.send(get("/hello"));
        assert_eq!(client.read_response().body, b"hello");
    }
    let mut refused = server.client();
    refused.assert_closed();
    let other_address = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let mut others: Vec<Client> = (0..2)
        .map(|_| Client::over(connect_tcp_from(server.addr, other_address)))
        .collect();
    for client in &mut others {
        client.send(get("/hello"));
        assert_eq!(client.read_response().body, b"hello");
    }
    drop(admitted.pop());
    // The address's slot frees once the server notices the close.
    server.wait_until_served(Duration::from_secs(3));
}

#[test]
fn get_with_a_large_body_is_refused_quickly_not_deadlocked() {
    let server = TestServer::start();
    // The S3 way: discard_body fails, the handler answers 400.
    let mut client = server.client();
    let request = with_body("GET /object?len=5000000 HTTP/1.1\r\nHost: t\r\n", 5 << 20);
    let started = Instant::now();
    let writer = send_in_background(&client, request);
    let response = client.read_response();
    assert_eq!(
        response.status,
        400,
        "{:?}",
        String::from_utf8_lossy(&response.body)
    );
    assert!(response.closes());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    drop(client);
    writer.join().expect("writer");

    // A handler that forgets to discard: send_head refuses the 5 MB response rather than
    // deadlock on it or have it cut off by the close.
    let mut client = server.client();
    let request = with_body("GET /big?len=5000000 HTTP/1.1\r\nHost: t\r\n", 5 << 20);
    let started = Instant::now();
    let writer = send_in_background(&client, request);
    let response = client.read_response();
    assert_eq!(
        (response.status, response.body.as_slice()),
        (400, &b"request body unread"[..])
    );
    assert!(response.closes());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    drop(client);
    writer.join().expect("writer");
}

#[test]
fn get_with_a_small_body_gets_the_whole_answer_and_keeps_the_connection() {
    let server = TestServer::start();
    for path in ["/object?len=3000000", "/big?len=3000000"] {
        let mut client = server.client();
        let head = format!("GET {path} HTTP/1.1\r\nHost: t\r\n");
        let writer = send_in_background(&client, with_body(&head, 50_000));
        let response = client.read_response();
        assert_eq!(response.status, 200, "{path}");
        assert!(!response.closes(), "{path}");
        let expected: Vec<u8> = (0..3_000_000).map(pattern_byte).collect();
        assert!(response.body == expected, "{path}: body differs");
        writer.join().expect("writer");
        client.send(get("/hello"));
        assert_eq!(client.read_response().body, b"hello", "{path}");
    }
}

#[test]
fn read_buffer_grows_to_fit_a_large_head() {
    let server = TestServer::start();
    let mut client = server.client();
    // Three times the initial read buffer, sent in pieces.
    let field = format!("X-Long: {}\r\n", "a".repeat(12_000));
    let request = format!("GET /hello HTTP/1.1\r\nHost: t\r\n{field}\r\n");
    for piece in request.as_bytes().chunks(3_000) {
        client.send(piece);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(client.read_response().body, b"hello");
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
}
