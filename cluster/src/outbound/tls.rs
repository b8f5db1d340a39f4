//! TCP connections and TLS client configuration for every blocking outbound
//! client of the control plane (log forwarding, alert webhooks and e-mail),
//! and for the `maxiofs admin` command line, which shares this one copy.
//!
//! Owns: which roots are trusted (a private CA file, else the system bundle),
//! the connect, read and write timeouts of an outbound socket, and completing
//! a TLS handshake so that certificate problems surface with a clear message
//! before any payload is written. Main items: `client_config`, `connect`,
//! `handshake`, `TlsStream`.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, ClientConnection, StreamOwned};

/// Where Linux distributions keep the system's trusted CA bundle (Debian and
/// Ubuntu, Fedora and RHEL, openSUSE, Alpine).
pub const SYSTEM_CA_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// A client TLS session over a blocking TCP socket.
pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// Trusted roots: the private CA file if given, else the system bundle
/// (`SSL_CERT_FILE` first, as OpenSSL-based clients honour it).
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    match ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|err| format!("{}: {err}", path.display()))?;
            client_config_from_pem(Some(&pem)).map_err(|err| format!("{}: {err}", path.display()))
        }
        None => client_config_from_pem(None),
    }
}

/// Trusted roots: the CA certificates of `pem` if given (an identity
/// provider's `ca_pem`), else the system bundle.
pub fn client_config_from_pem(pem: Option<&[u8]>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    match pem {
        Some(pem) => {
            for certificate in CertificateDer::pem_slice_iter(pem) {
                roots
                    .add(certificate.map_err(|err| err.to_string())?)
                    .map_err(|err| err.to_string())?;
            }
            if roots.is_empty() {
                return Err("no CERTIFICATE block".to_owned());
            }
        }
        None => {
            let from_env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
            let bundle = from_env
                .into_iter()
                .chain(SYSTEM_CA_BUNDLES.iter().map(PathBuf::from))
                .find_map(|path| std::fs::read(path).ok())
                .ok_or("no system CA bundle found: give the server's CA with --ca-file")?;
            // A system bundle may hold certificates rustls cannot use; the rest still count.
            let certificates = CertificateDer::pem_slice_iter(&bundle).filter_map(Result::ok);
            roots.add_parsable_certificates(certificates);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| format!("TLS: {err}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Connects to the first address of `host` that answers within `timeout`,
/// and bounds every later read and write by it too.
pub fn connect(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let mut last_error = None;
    for address in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(stream) => {
                stream.set_read_timeout(Some(timeout))?;
                stream.set_write_timeout(Some(timeout))?;
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(err) => last_error = Some(err),
        }
    }
    Err(last_error
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "the host has no address")))
}

/// Runs the TLS handshake on a connected socket to its end, so that an
/// untrusted or misnamed certificate is reported here, in words an operator
/// can act on, rather than as a failed first write. The socket's timeouts
/// bound each step of the handshake.
pub fn handshake(
    config: &Arc<ClientConfig>,
    host: &str,
    tcp: TcpStream,
) -> Result<TlsStream, String> {
    let server_name = ServerName::try_from(host.to_owned())
        .map_err(|_| format!("TLS to {host}: the host is not a valid TLS server name"))?;
    let connection = ClientConnection::new(Arc::clone(config), server_name)
        .map_err(|err| format!("TLS to {host}: {err}"))?;
    let mut stream = StreamOwned::new(connection, tcp);
    while stream.conn.is_handshaking() {
        if let Err(err) = stream.conn.complete_io(&mut stream.sock) {
            return Err(format!("TLS to {host}: {}", handshake_error_text(&err)));
        }
    }
    Ok(stream)
}

/// Says why a handshake failed: certificate problems in plain words, socket
/// timeouts as such, anything else as rustls or the OS words it.
fn handshake_error_text(err: &io::Error) -> String {
    if matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        return "the server did not complete the handshake in time".to_owned();
    }
    if err.kind() == io::ErrorKind::UnexpectedEof {
        return "the server closed the connection during the handshake \
                (is it speaking TLS on this port?)"
            .to_owned();
    }
    let tls_error = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls_error {
        Some(rustls::Error::InvalidCertificate(why)) => {
            let reason = match why {
                CertificateError::UnknownIssuer => {
                    "it is not signed by a trusted CA (give the CA file of a private CA)".to_owned()
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    "it does not name this host".to_owned()
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "it has expired".to_owned()
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "it is not valid yet (check the clock)".to_owned()
                }
                CertificateError::Revoked => "it has been revoked".to_owned(),
                other => format!("{other:?}"),
            };
            format!("the server's certificate was refused: {reason}")
        }
        Some(other) => format!("handshake failed: {other}"),
        None => format!("handshake failed: {err}"),
    }
}

/// A test CA and a leaf for `localhost` and `127.0.0.1` signed by it, for the outbound clients'
/// TLS tests: the server side of a handshake and the CA written to a file.
#[cfg(test)]
pub(crate) mod test_pki {
    use std::net::TcpStream;
    use std::path::PathBuf;
    use std::sync::{Arc, OnceLock};

    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use rustls::{ServerConfig, ServerConnection, StreamOwned};

    pub(crate) struct TestPki {
        pub(crate) ca_pem: String,
        pub(crate) server: Arc<ServerConfig>,
    }

    /// Created once per test binary: key generation is the slow part.
    pub(crate) fn pki() -> &'static TestPki {
        static PKI: OnceLock<TestPki> = OnceLock::new();
        PKI.get_or_init(|| {
            let ca_key = KeyPair::generate().expect("CA key");
            let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca_params
                .distinguished_name
                .push(DnType::CommonName, "maxiofs outbound test CA");
            let ca = ca_params.self_signed(&ca_key).expect("CA cert");
            let leaf_key = KeyPair::generate().expect("leaf key");
            let leaf_params =
                CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                    .expect("leaf params");
            let leaf = leaf_params
                .signed_by(&leaf_key, &ca, &ca_key)
                .expect("leaf cert");
            let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone(), ca.der().clone()];
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let server = ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .expect("server config");
            TestPki {
                ca_pem: ca.pem(),
                server: Arc::new(server),
            }
        })
    }

    /// Writes the CA to a fresh file named after the test, as an operator's
    /// `ca_file` setting would name it.
    pub(crate) fn ca_file(test_name: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "maxiofs-outbound-{test_name}-{}.pem",
            std::process::id()
        ));
        std::fs::write(&path, &pki().ca_pem).expect("write CA file");
        path
    }

    /// The server side of a TLS session on an accepted socket.
    pub(crate) fn accept(tcp: TcpStream) -> StreamOwned<ServerConnection, TcpStream> {
        let connection = ServerConnection::new(Arc::clone(&pki().server)).expect("server conn");
        StreamOwned::new(connection, tcp)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::thread;

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(10);

    #[test]
    fn ca_file_without_certificates_is_refused() {
        let path =
            std::env::temp_dir().join(format!("maxiofs-outbound-empty-{}.pem", std::process::id()));
        std::fs::write(&path, "not a certificate\n").expect("write");
        let err = client_config(Some(&path)).expect_err("no certificate");
        std::fs::remove_file(&path).expect("remove");
        assert!(err.contains("no CERTIFICATE block"), "{err}");
        let missing = client_config(Some(Path::new("/nonexistent/ca.pem")));
        assert!(missing
            .expect_err("missing")
            .contains("/nonexistent/ca.pem"));
    }

    #[test]
    fn handshake_trusts_the_ca_file_and_explains_an_unknown_issuer() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = thread::spawn(move || {
            // The first client trusts the CA and says hello; the second does not.
            let (tcp, _) = listener.accept().expect("accept");
            let mut tls = test_pki::accept(tcp);
            let mut hello = [0u8; 5];
            tls.read_exact(&mut hello).expect("read");
            let (tcp, _) = listener.accept().expect("accept");
            let mut refused = test_pki::accept(tcp);
            let _ = refused.read(&mut [0u8; 1]);
            hello
        });

        let ca_path = test_pki::ca_file("handshake");
        let trusted = client_config(Some(&ca_path)).expect("config");
        std::fs::remove_file(&ca_path).expect("remove CA file");
        let tcp = connect("127.0.0.1", port, TIMEOUT).expect("connect");
        let mut tls = handshake(&trusted, "localhost", tcp).expect("handshake");
        tls.write_all(b"hello").expect("write");
        tls.flush().expect("flush");

        // A config trusting nothing but an unrelated CA: rcgen's own.
        let other = rcgen::generate_simple_self_signed(vec!["other".to_owned()]).expect("rcgen");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(other.cert.der().clone()).expect("root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let untrusted = Arc::new(
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_root_certificates(roots)
                .with_no_client_auth(),
        );
        let tcp = connect("127.0.0.1", port, TIMEOUT).expect("connect");
        let err = handshake(&untrusted, "localhost", tcp).expect_err("untrusted");
        assert!(err.contains("not signed by a trusted CA"), "{err}");
        assert_eq!(&server.join().expect("server"), b"hello");
    }
}
