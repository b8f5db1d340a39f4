//! HTTPS for the client: which server certificates to trust (`TlsTrust`), the rustls
//! client settings built from it (`TlsEndpoint`), and `Connection`, one monoio byte stream
//! over plain TCP or TLS (monoio-rustls), so the HTTP code in `client` reads and writes
//! both the same way, with owned buffers.
//!
//! Owns: the rustls client configuration (the ring provider, as the server uses; TLS 1.3
//! and 1.2; ALPN "http/1.1"), the accept-any-certificate verifier behind `--insecure`,
//! and PEM loading of `--ca-file`. No system or bundled root store: an https endpoint
//! needs one of the two, which is what a benchmark against a test server has anyway.
//!
//! Must not touch: HTTP, signing, timing or timeouts (the caller bounds each operation
//! and drops the connection when one fails).
//!
//! Main types: `TlsTrust`, `TlsEndpoint`, `Connection`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::TcpStream;
use monoio::BufResult;
use monoio_rustls::{ClientTlsStream, TlsConnector};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The only application protocol the client speaks.
const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// Which server certificates an https endpoint accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsTrust {
    /// Any certificate for any name (`--insecure`). The handshake signature is still
    /// checked, so the server must hold the key of the certificate it sends.
    Insecure,
    /// Certificates that chain to one in this PEM file, for the endpoint's host name
    /// (`--ca-file`). A self-signed server certificate may be listed directly if it is
    /// not marked as a CA (webpki refuses a CA certificate as the server's own).
    CaFile(PathBuf),
}

/// TLS settings for one endpoint, shared by all of its connections.
#[derive(Debug, Clone)]
pub struct TlsEndpoint {
    config: Arc<ClientConfig>,
    /// SNI and the name the certificate must carry: the URL's host.
    server_name: ServerName<'static>,
}

impl TlsEndpoint {
    /// Settings for `host` (a DNS name or an IP address, without brackets or port).
    pub fn new(host: &str, trust: &TlsTrust) -> Result<Self, String> {
        let server_name = ServerName::try_from(host.to_owned())
            .map_err(|e| format!("{host:?} is not a TLS server name: {e}"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS settings: {e}"))?;
        let mut config = match trust {
            TlsTrust::Insecure => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate::new(&provider)))
                .with_no_client_auth(),
            TlsTrust::CaFile(path) => builder
                .with_root_certificates(root_store_from_pem_file(path)?)
                .with_no_client_auth(),
        };
        config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
        Ok(TlsEndpoint {
            config: Arc::new(config),
            server_name,
        })
    }

    /// Completes the handshake over `tcp` now, so the first request does not pay for it
    /// and a refused certificate is reported as such.
    pub async fn connect(&self, tcp: TcpStream) -> io::Result<Connection> {
        let connector = TlsConnector::from(self.config.clone());
        match connector.connect(self.server_name.clone(), tcp).await {
            Ok(tls) => Ok(Connection::Tls(Box::new(tls))),
            Err(e) => {
                let e = io::Error::from(e);
                let name = self.server_name.to_str();
                Err(io::Error::new(
                    e.kind(),
                    format!("TLS handshake with {name}: {e}"),
                ))
            }
        }
    }
}

/// Every certificate in the PEM file at `path`, as trust anchors.
fn root_store_from_pem_file(path: &Path) -> Result<RootCertStore, String> {
    let in_file = |what: String| format!("--ca-file {}: {what}", path.display());
    let pem = std::fs::read(path).map_err(|e| in_file(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| in_file(e.to_string()))?;
        roots.add(cert).map_err(|e| in_file(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(in_file("no CERTIFICATE block".to_owned()));
    }
    Ok(roots)
}

/// `--insecure`: trusts whatever certificate the server presents, for any name, but
/// still verifies the handshake signatures with the provider's algorithms, so a broken
/// server key setup fails here as it would for a real client.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AcceptAnyCertificate {
    fn new(provider: &CryptoProvider) -> Self {
        AcceptAnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// One connection to the server, plain or TLS; reads and writes application bytes with
/// monoio's owned buffers: a buffer moves into the operation and comes back with its result.
pub enum Connection {
    Plain(TcpStream),
    /// Boxed: the rustls state is large and the plain variant should not carry its size.
    Tls(Box<ClientTlsStream<TcpStream>>),
}

impl Connection {
    /// Reads into `buf` from its write position; Ok(0) means the server closed.
    pub async fn read<B: IoBufMut>(&mut self, buf: B) -> BufResult<usize, B> {
        match self {
            Connection::Plain(tcp) => tcp.read(buf).await,
            Connection::Tls(tls) => tls.read(buf).await,
        }
    }

    /// Writes some of `buf`. Over TLS the bytes written are encrypted and on the wire when
    /// this returns: monoio-rustls sends every record it makes before returning.
    pub async fn write<B: IoBuf>(&mut self, buf: B) -> BufResult<usize, B> {
        match self {
            Connection::Plain(tcp) => tcp.write(buf).await,
            Connection::Tls(tls) => tls.write(buf).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_accept_dns_names_and_ip_addresses() {
        for host in ["localhost", "s3.example.com", "127.0.0.1", "::1"] {
            assert!(
                TlsEndpoint::new(host, &TlsTrust::Insecure).is_ok(),
                "{host}"
            );
        }
        assert!(TlsEndpoint::new("bad host", &TlsTrust::Insecure).is_err());
    }

    #[test]
    fn ca_files_without_certificates_are_refused_with_the_path() {
        let path = std::env::temp_dir().join(format!("maxiofs-bench-ca-{}", std::process::id()));
        std::fs::write(&path, "not a certificate\n").expect("write");
        let error = TlsEndpoint::new("localhost", &TlsTrust::CaFile(path.clone())).unwrap_err();
        std::fs::remove_file(&path).expect("remove");
        assert!(error.contains("no CERTIFICATE"), "{error}");
        assert!(error.contains(&path.display().to_string()), "{error}");
        let missing = TlsTrust::CaFile(path.with_extension("missing"));
        assert!(TlsEndpoint::new("localhost", &missing).is_err());
    }
}
