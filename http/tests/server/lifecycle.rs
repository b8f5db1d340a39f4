//! Connection limit and graceful shutdown.

use std::time::Duration;

use http::ServerLimits;

use crate::support::{get, TestServer};

#[test]
fn connections_beyond_the_limit_are_closed_at_once() {
    let limits = ServerLimits {
        connections_max: 2,
        ..ServerLimits::default()
    };
    let server = TestServer::start_with(limits);
    let mut admitted: Vec<_> = (0..2).map(|_| server.client()).collect();
    for client in &mut admitted {
        client.send(get("/hello"));
        assert_eq!(client.read_response().body, b"hello");
    }
    let mut rejected = server.client();
    rejected.assert_closed();
    drop(admitted.pop());
    // The slot frees once the server notices the close.
    server.wait_until_served(Duration::from_secs(3));
}

#[test]
fn shutdown_closes_idle_connections_and_finishes_in_flight_ones() {
    let server = TestServer::start();
    let mut idle = server.client();
    idle.send(get("/hello"));
    assert_eq!(idle.read_response().body, b"hello");
    let mut busy = server.client();
    busy.send(get("/slow?ms=300"));
    std::thread::sleep(Duration::from_millis(100));
    let trigger = server.trigger();
    let stopper = std::thread::spawn(move || server.stop());
    std::thread::sleep(Duration::from_millis(50));
    idle.assert_closed();
    let response = busy.read_response();
    assert_eq!(response.body, b"slow");
    assert!(
        response.closes(),
        "in-flight exchange is told the connection ends"
    );
    busy.assert_closed();
    let stop_took = stopper.join().unwrap();
    assert!(stop_took < Duration::from_secs(2), "{stop_took:?}");
    trigger.trigger();
}

#[test]
fn shutdown_grace_bounds_slow_exchanges() {
    let limits = ServerLimits {
        shutdown_grace_ms: 200,
        ..ServerLimits::default()
    };
    let server = TestServer::start_with(limits);
    let mut busy = server.client();
    busy.send(get("/slow?ms=10000"));
    std::thread::sleep(Duration::from_millis(100));
    let stop_took = server.stop();
    assert!(stop_took >= Duration::from_millis(150), "{stop_took:?}");
    assert!(stop_took < Duration::from_secs(2), "{stop_took:?}");
    busy.assert_closed();
}

#[test]
fn shutdown_refuses_new_connections() {
    let server = TestServer::start();
    let addr = server.addr;
    server.stop();
    assert!(std::net::TcpStream::connect(addr).is_err());
}
