//! HTTPS: the same server behind a rustls handshake, driven by a blocking rustls client
//! that trusts a CA generated for the test run (no key material is checked in).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http::{ServerLimits, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::support::{connect_tcp, get, pattern_byte, put, Client, TestServer};

type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// A CA and a leaf for "localhost" signed by it, created once per test binary.
struct TestPki {
    /// What the server loads: read back from PEM files, as `--tls-cert/--tls-key` will.
    server: TlsConfig,
    ca_der: CertificateDer<'static>,
}

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_name = "maxiofs test CA";
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        let ca = ca_params.self_signed(&ca_key).expect("CA cert");
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf_params = CertificateParams::new(vec!["localhost".to_string()]).expect("leaf");
        let leaf = leaf_params
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("leaf cert");
        let chain_pem = format!("{}{}", leaf.pem(), ca.pem());
        let server = load_from_files(&chain_pem, &leaf_key.serialize_pem());
        TestPki {
            server,
            ca_der: ca.der().clone(),
        }
    })
}

fn load_from_files(chain_pem: &str, key_pem: &str) -> TlsConfig {
    let dir = std::env::temp_dir().join(format!("maxiofs-http-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (cert_path, key_path) = (dir.join("chain.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, chain_pem).expect("write chain");
    std::fs::write(&key_path, key_pem).expect("write key");
    let loaded = TlsConfig::from_pem_files(&cert_path, &key_path);
    std::fs::remove_dir_all(&dir).expect("remove temp dir");
    loaded.expect("PEM files load")
}

fn client_config(versions: &[&'static rustls::SupportedProtocolVersion]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(pki().ca_der.clone()).expect("CA accepted");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Connects and completes the handshake with the given protocol versions.
fn connect_tls_versions(
    addr: SocketAddr,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Client<TlsStream> {
    let name = ServerName::try_from("localhost").expect("name");
    let conn = ClientConnection::new(client_config(versions), name).expect("client");
    let mut stream = StreamOwned::new(conn, connect_tcp(addr));
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .expect("handshake");
    }
    assert_eq!(stream.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    Client::over(stream)
}

fn connect_tls(addr: SocketAddr) -> Client<TlsStream> {
    connect_tls_versions(addr, rustls::DEFAULT_VERSIONS)
}

fn start_tls(limits: ServerLimits) -> TestServer {
    TestServer::start_tls(limits, pki().server.clone())
}

fn short_timeouts() -> ServerLimits {
    ServerLimits {
        idle_timeout_ms: 200,
        header_read_timeout_ms: 300,
        body_read_timeout_ms: 300,
        tls_handshake_timeout_ms: 300,
        close_linger_ms: 100,
        ..ServerLimits::default()
    }
}

/// Reads until the server closes (within the 5 s read timeout of `connect_tcp`); returns
/// what arrived and how long the close took.
fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return (received, started.elapsed()),
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                return (received, started.elapsed())
            }
            Err(e) => panic!("not closed: {e}"),
        }
    }
}

#[test]
fn get_and_3_mib_put_round_trip_over_tls() {
    let server = start_tls(ServerLimits::default());
    let mut client = connect_tls(server.addr);
    client.send(get("/transport"));
    let response = client.read_response();
    assert_eq!(
        (response.status, response.body.as_slice()),
        (200, &b"tls"[..])
    );

    let body: Vec<u8> = (0..3u64 << 20).map(pattern_byte).collect();
    client.send(put("/echo", &body));
    let response = client.read_response();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("x-declared"), Some("Some(3145728)"));
    assert!(response.body == body, "echoed body differs");

    // A large response written with owned buffers through `write_body`.
    client.send(get("/big?len=3145728"));
    let response = client.read_response();
    assert_eq!(response.body.len(), 3 << 20);
    assert!(response
        .body
        .iter()
        .enumerate()
        .all(|(i, b)| *b == pattern_byte(i as u64)));
}

#[test]
fn keep_alive_serves_two_requests_on_one_tls_connection() {
    let server = start_tls(ServerLimits::default());
    let mut client = connect_tls(server.addr);
    for path in ["/hello", "/chunked"] {
        client.send(get(path));
        let response = client.read_response();
        assert_eq!(response.status, 200, "{path}");
        assert!(!response.closes(), "{path}");
    }
    // Both were answered on the one connection, and it is still open.
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
}

#[test]
fn tls_records_are_not_delayed_by_nagle() {
    // Head and body leave as two TLS records; without TCP_NODELAY the second waits for the
    // client's delayed ACK (about 40 ms), and 50 exchanges would take seconds.
    let server = start_tls(ServerLimits::default());
    let mut client = connect_tls(server.addr);
    let started = Instant::now();
    for _ in 0..50 {
        client.send(get("/two-writes"));
        assert_eq!(client.read_response().body, b"hello");
    }
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1000), "{took:?}");
}

#[test]
fn tls_1_2_clients_are_served() {
    let server = start_tls(ServerLimits::default());
    let mut client = connect_tls_versions(server.addr, &[&rustls::version::TLS12]);
    let version = client.stream.conn.protocol_version();
    assert_eq!(version, Some(rustls::ProtocolVersion::TLSv1_2));
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
}

#[test]
fn plain_http_on_the_tls_port_is_closed_without_an_answer() {
    let server = start_tls(ServerLimits::default());
    let mut plain = connect_tcp(server.addr);
    plain.write_all(get("/hello").as_bytes()).expect("send");
    let (received, _) = read_until_closed(&mut plain);
    // At most a TLS alert record (content type 21), never an HTTP response.
    assert!(received.is_empty() || received[0] == 21, "{received:?}");
    // The shard survived: TLS clients are still served (and the server stops cleanly
    // when dropped, which it would not after a panic).
    let mut client = connect_tls(server.addr);
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
}

#[test]
fn silent_connection_is_closed_at_the_handshake_deadline() {
    // The header timeout is long, so only the handshake deadline can close it.
    let limits = ServerLimits {
        header_read_timeout_ms: 10_000,
        ..short_timeouts()
    };
    let server = start_tls(limits);
    let mut silent = connect_tcp(server.addr);
    let (received, waited) = read_until_closed(&mut silent);
    assert!(received.is_empty(), "{received:?}");
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
}

#[test]
fn trickled_handshake_is_cut_off_at_the_deadline() {
    let limits = ServerLimits {
        header_read_timeout_ms: 10_000,
        ..short_timeouts()
    };
    let server = start_tls(limits);
    let mut trickle = connect_tcp(server.addr);
    trickle
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    // A handshake record header announcing 512 bytes, then one byte every 50 ms: progress
    // on every read, but the handshake deadline holds for the whole handshake.
    trickle.write_all(&[22, 3, 1, 2, 0]).expect("record header");
    let started = Instant::now();
    let mut byte = [0u8; 1];
    let closed_after = loop {
        assert!(started.elapsed() < Duration::from_secs(3), "never closed");
        if trickle.write_all(&[1]).is_err() {
            break started.elapsed();
        }
        match trickle.read(&mut byte) {
            Ok(0) => break started.elapsed(),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break started.elapsed(),
            Ok(_) | Err(_) => {}
        }
    };
    assert!(
        closed_after >= Duration::from_millis(200) && closed_after < Duration::from_secs(2),
        "{closed_after:?}"
    );
}

#[test]
fn stalled_body_over_tls_gets_408_and_the_shard_survives() {
    // The timed-out read is cut under the TLS layer, which must stay usable for the 408.
    let server = start_tls(short_timeouts());
    let mut client = connect_tls(server.addr);
    client.send("PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789");
    let response = client.read_response();
    assert_eq!(response.status, 408);
    assert!(response.closes());
    client.assert_closed();
    let mut client = connect_tls(server.addr);
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
}

#[test]
fn idle_tls_connection_ends_with_close_notify() {
    let server = start_tls(short_timeouts());
    let mut client = connect_tls(server.addr);
    client.send(get("/hello"));
    assert_eq!(client.read_response().body, b"hello");
    // rustls reports Ok(0) only after a close_notify; a bare TCP close is an error.
    let mut rest = [0u8; 16];
    assert_eq!(client.stream.read(&mut rest).expect("clean close"), 0);
}

#[test]
fn shutdown_closes_idle_tls_connections_and_mid_handshake_ones() {
    let server = start_tls(ServerLimits::default());
    let mut idle = connect_tls(server.addr);
    idle.send(get("/hello"));
    assert_eq!(idle.read_response().body, b"hello");
    let mut handshaking = connect_tcp(server.addr);
    std::thread::sleep(Duration::from_millis(50));
    let stop_took = server.stop();
    assert!(stop_took < Duration::from_secs(2), "{stop_took:?}");
    let mut rest = [0u8; 16];
    assert_eq!(idle.stream.read(&mut rest).expect("clean close"), 0);
    let (received, _) = read_until_closed(&mut handshaking);
    assert!(received.is_empty(), "{received:?}");
}

#[test]
fn plain_port_reports_plain_transport() {
    let server = TestServer::start();
    let mut client = server.client();
    client.send(get("/transport"));
    assert_eq!(client.read_response().body, b"plain");
}
