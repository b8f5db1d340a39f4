//! Malformed requests, oversized heads, handler mistakes, and garbage input.

use std::io::Read;
use std::time::Duration;

use http::ServerLimits;

use crate::support::{get, Client, TestServer};

fn answer_of(server: &TestServer, request: &[u8]) -> u16 {
    let mut client = server.client();
    client.send(request);
    let response = client.read_response();
    assert!(response.closes(), "error answers close the connection");
    client.assert_closed();
    response.status
}

#[test]
fn oversized_head_gets_431() {
    let limits = ServerLimits {
        header_bytes_max: 1024,
        ..ServerLimits::default()
    };
    let server = TestServer::start_with(limits);
    let long_field = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Long: {}\r\n\r\n",
        "a".repeat(2000)
    );
    assert_eq!(answer_of(&server, long_field.as_bytes()), 431);
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(2000));
    assert_eq!(answer_of(&server, long_target.as_bytes()), 431);
    // Just under the limit still works.
    let fits = format!(
        "GET /hello HTTP/1.1\r\nHost: t\r\nX-Long: {}\r\n\r\n",
        "a".repeat(900)
    );
    let mut client = server.client();
    client.send(fits);
    assert_eq!(client.read_response().status, 200);
}

#[test]
fn too_many_header_fields_get_431() {
    let limits = ServerLimits {
        headers_count_max: 10,
        ..ServerLimits::default()
    };
    let server = TestServer::start_with(limits);
    let fields: String = (0..11).map(|i| format!("X-{i}: v\r\n")).collect();
    let request = format!("GET / HTTP/1.1\r\n{fields}\r\n");
    assert_eq!(answer_of(&server, request.as_bytes()), 431);
}

#[test]
fn malformed_requests_get_400() {
    let server = TestServer::start();
    let cases: &[&str] = &[
        "GET / HTTP/1.1 extra\r\nHost: t\r\n\r\n",
        "GET\r\n\r\n",
        "GET / HTTP/9.9\r\nHost: t\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nBad Name: v\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\nNo-Colon\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: t\r\n Folded: v\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
        "PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
        "PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "PUT / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
        "PUT / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
    ];
    for case in cases {
        assert_eq!(answer_of(&server, case.as_bytes()), 400, "{case:?}");
    }
    let latin1 = b"GET / HTTP/1.1\r\nHost: t\r\nX-Name: caf\xe9\r\n\r\n";
    assert_eq!(answer_of(&server, latin1), 400);
}

#[test]
fn handler_that_never_responds_gets_500_and_close() {
    let server = TestServer::start();
    assert_eq!(answer_of(&server, get("/nothing").as_bytes()), 500);
}

#[test]
fn invalid_response_header_is_refused_before_sending() {
    let server = TestServer::start();
    let mut client = server.client();
    client.send(get("/bad-header"));
    let response = client.read_response();
    assert_eq!(
        (response.status, response.body.as_slice()),
        (500, &b"refused"[..])
    );
    assert!(response.header("set-cookie").is_none());
}

/// Random bytes, and valid requests with random bytes flipped, never take the shard down:
/// every connection gets an answer or a close, and a clean request works afterwards.
#[test]
fn random_garbage_never_kills_the_server() {
    let limits = ServerLimits {
        header_read_timeout_ms: 300,
        ..ServerLimits::default()
    };
    let server = TestServer::start_with(limits);
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let template = b"PUT /echo?x=1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
                     5;a=b\r\nhello\r\n0\r\nT: v\r\n\r\n";
    for round in 0..150 {
        let mut input = template.to_vec();
        if round % 3 == 0 {
            let len = (next(&mut seed) % 300) as usize;
            input = (0..len).map(|_| next(&mut seed) as u8).collect();
        } else {
            for _ in 0..(1 + next(&mut seed) % 6) {
                let at = (next(&mut seed) % input.len() as u64) as usize;
                input[at] = next(&mut seed) as u8;
            }
        }
        let mut client = server.client();
        client
            .stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        client.send(&input);
        let _ = client.stream.shutdown(std::net::Shutdown::Write);
        let mut sink = Vec::new();
        let _ = client.stream.read_to_end(&mut sink);
    }
    let mut client = Client::connect(server.addr);
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
}

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}
