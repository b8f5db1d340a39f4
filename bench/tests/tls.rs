//! HTTPS in the load generator's client: a tiny blocking rustls server thread with
//! certificates generated for the test (no key material is checked in) answers one
//! request, and the client, on a monoio runtime on the test's thread, must complete the
//! exchange with `--insecure` and with `--ca-file`, and must refuse a certificate it was
//! not told to trust.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bench::client::{self, Endpoint, Response, S3Client};
use bench::sign::Signer;
use bench::tls::TlsTrust;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

const RESPONSE_BODY: &[u8] = b"hello over tls";

/// A server certificate for 127.0.0.1 and "localhost", and the PEM a client should trust.
struct TestCert {
    chain: Vec<CertificateDer<'static>>,
    key_pkcs8_der: Vec<u8>,
    trust_pem: String,
}

/// A leaf signed by a test CA; the CA is what the client trusts.
fn ca_signed_cert() -> TestCert {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "maxiofs-bench test CA");
    let ca = ca_params.self_signed(&ca_key).expect("CA cert");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    let leaf = CertificateParams::new(names)
        .expect("leaf params")
        .signed_by(&leaf_key, &ca, &ca_key)
        .expect("leaf cert");
    TestCert {
        chain: vec![leaf.der().clone(), ca.der().clone()],
        key_pkcs8_der: leaf_key.serialize_der(),
        trust_pem: ca.pem(),
    }
}

/// A self-signed leaf (not a CA) for 127.0.0.1 and "localhost", trusted directly.
fn self_signed_cert() -> TestCert {
    self_signed_cert_for(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
}

fn self_signed_cert_for(names: Vec<String>) -> TestCert {
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(names)
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    TestCert {
        chain: vec![cert.der().clone()],
        key_pkcs8_der: key.serialize_der(),
        trust_pem: cert.pem(),
    }
}

/// Serves one TLS connection on 127.0.0.1: reads one request head and answers 200 with
/// `RESPONSE_BODY`. Returns the port and the request head it received (or the error).
fn serve_one(cert: &TestCert) -> (u16, JoinHandle<Result<String, String>>) {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pkcs8_der.clone()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(cert.chain.clone(), key)
        .expect("server cert");
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let tls = ServerConnection::new(Arc::new(config)).map_err(|e| e.to_string())?;
        let mut stream = BufReader::new(StreamOwned::new(tls, tcp));
        let mut head = String::new();
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).map_err(|e| e.to_string())?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let stream = stream.get_mut();
        let status = "HTTP/1.1 200 OK\r\ncontent-length: ";
        write!(stream, "{status}{}\r\n\r\n", RESPONSE_BODY.len()).map_err(|e| e.to_string())?;
        stream.write_all(RESPONSE_BODY).map_err(|e| e.to_string())?;
        stream.flush().map_err(|e| e.to_string())?;
        stream.conn.send_close_notify();
        stream.flush().map_err(|e| e.to_string())?;
        Ok(head)
    });
    (port, server)
}

fn write_pem(pem: &str, name: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("maxiofs-bench-{name}-{}.pem", std::process::id()));
    std::fs::write(&path, pem).expect("write PEM");
    path
}

fn client(url: &str, trust: &TlsTrust) -> S3Client {
    let endpoint = Endpoint::parse(url, Some(trust)).expect("endpoint");
    let signer = Signer::new(
        "AKIATESTTESTTESTTEST",
        "secretsecretsecretsecretsecretsecret1234",
        "us-east-1",
    );
    S3Client::new(endpoint, signer)
}

/// One GET of /bucket/key on a new connection, run on a monoio runtime.
fn get(client: &mut S3Client) -> std::io::Result<Response> {
    client::block_on(client.request("GET", "/bucket/key", &[])).expect("monoio runtime")
}

/// The client gets the whole response, and the server saw a signed S3 request.
fn assert_exchange(url: &str, trust: &TlsTrust, cert: &TestCert) {
    let (port, server) = serve_one(cert);
    let mut client = client(&format!("{url}:{port}"), trust);
    let response = get(&mut client).expect("request");
    assert_eq!(response.status, 200);
    assert_eq!(response.body_bytes, RESPONSE_BODY.len() as u64);
    let head = server
        .join()
        .expect("server thread")
        .expect("server exchange");
    assert!(head.starts_with("GET /bucket/key HTTP/1.1\r\n"), "{head}");
    assert!(head.contains("authorization: AWS4-HMAC-SHA256 "), "{head}");
}

#[test]
fn insecure_accepts_a_self_signed_certificate() {
    let cert = self_signed_cert();
    assert_exchange("https://127.0.0.1", &TlsTrust::Insecure, &cert);
}

#[test]
fn insecure_accepts_a_certificate_for_another_name_and_ca_file_does_not() {
    let cert = self_signed_cert_for(vec!["other.example".to_owned()]);
    assert_exchange("https://127.0.0.1", &TlsTrust::Insecure, &cert);
    let path = write_pem(&cert.trust_pem, "other-name");
    let (port, server) = serve_one(&cert);
    let url = format!("https://127.0.0.1:{port}");
    let error = get(&mut client(&url, &TlsTrust::CaFile(path.clone()))).unwrap_err();
    std::fs::remove_file(&path).expect("remove PEM");
    assert!(error.to_string().contains("certificate"), "{error}");
    assert!(server.join().expect("server thread").is_err());
}

#[test]
fn ca_file_trusts_the_server_signed_by_that_ca() {
    let cert = ca_signed_cert();
    let path = write_pem(&cert.trust_pem, "ca");
    let trust = TlsTrust::CaFile(path.clone());
    assert_exchange("https://127.0.0.1", &trust, &cert);
    std::fs::remove_file(&path).expect("remove PEM");
}

#[test]
fn ca_file_trusts_a_self_signed_server_certificate_directly() {
    let cert = self_signed_cert();
    let path = write_pem(&cert.trust_pem, "self-signed");
    assert_exchange("https://127.0.0.1", &TlsTrust::CaFile(path.clone()), &cert);
    std::fs::remove_file(&path).expect("remove PEM");
}

#[test]
fn ca_file_refuses_a_server_signed_by_another_ca() {
    let (server_cert, other_ca) = (ca_signed_cert(), ca_signed_cert());
    let path = write_pem(&other_ca.trust_pem, "other-ca");
    let (port, server) = serve_one(&server_cert);
    let mut client = client(
        &format!("https://127.0.0.1:{port}"),
        &TlsTrust::CaFile(path.clone()),
    );
    let error = get(&mut client).unwrap_err();
    std::fs::remove_file(&path).expect("remove PEM");
    assert!(error.to_string().contains("certificate"), "{error}");
    assert!(
        server.join().expect("server thread").is_err(),
        "no request reaches the server"
    );
}
