//! TLS settings for the server port: `TlsConfig`, loaded once from PEM files and shared by
//! every shard, and the shard-local acceptor derived from it.
//!
//! Owns certificate and key loading (PEM through rustls' own pki-types parser) and the
//! rustls server settings: TLS 1.3 and 1.2, the ring provider, ALPN "http/1.1", no 0-RTT
//! data (replayable, and S3 requests are not all idempotent). Does no I/O on connections:
//! the handshake runs in `io::Socket::tls` under `tls_handshake_timeout_ms`.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use monoio_rustls::TlsAcceptor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache};
use rustls::ServerConfig;

/// The only application protocol the server speaks.
const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// A certificate chain and its private key, ready to serve. Cheap to clone into each shard
/// thread: the rustls settings are behind an `Arc` and never change after loading.
#[derive(Clone)]
pub struct TlsConfig {
    server: Arc<ServerConfig>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the key, not even through a dependency's Debug.
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// Loads a PEM certificate chain (leaf first, then intermediates) and a PEM private
    /// key (PKCS#8, PKCS#1 RSA or SEC1 EC). Errors name the file and what is wrong with it,
    /// including a key that does not belong to the leaf certificate.
    pub fn from_pem_files(
        cert_chain_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> io::Result<TlsConfig> {
        let (cert_chain_path, key_path) = (cert_chain_path.as_ref(), key_path.as_ref());
        let in_file = |path: &Path, e: io::Error| {
            io::Error::new(e.kind(), format!("{}: {e}", path.display()))
        };
        let cert_chain_pem =
            std::fs::read(cert_chain_path).map_err(|e| in_file(cert_chain_path, e))?;
        let key_pem = std::fs::read(key_path).map_err(|e| in_file(key_path, e))?;
        let cert_chain =
            cert_chain_from_pem(&cert_chain_pem).map_err(|e| in_file(cert_chain_path, e))?;
        let key = key_from_pem(&key_pem).map_err(|e| in_file(key_path, e))?;
        TlsConfig::from_der(cert_chain, key)
    }

    /// `from_pem_files` for PEM text already in memory.
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> io::Result<TlsConfig> {
        TlsConfig::from_der(cert_chain_from_pem(cert_chain_pem)?, key_from_pem(key_pem)?)
    }

    fn from_der(
        cert_chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> io::Result<TlsConfig> {
        // The provider is named rather than taken from the process default, which depends
        // on which rustls features the whole build happens to enable.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(invalid_tls)?;
        let mut server = builder
            .with_no_client_auth()
            .with_single_cert(cert_chain, key)
            .map_err(invalid_tls)?;
        server.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
        server.max_early_data_size = 0;
        Ok(TlsConfig {
            server: Arc::new(server),
        })
    }

    /// The acceptor of one shard: shared settings, but a session cache of its own, so that
    /// handshakes on different cores never contend for the cache's lock.
    pub(crate) fn shard_acceptor(&self, session_cache_entries_max: usize) -> TlsAcceptor {
        TlsAcceptor::from(Arc::new(self.shard_server(session_cache_entries_max)))
    }

    fn shard_server(&self, session_cache_entries_max: usize) -> ServerConfig {
        let mut server = ServerConfig::clone(&self.server);
        server.session_storage = match session_cache_entries_max {
            0 => Arc::new(NoServerSessionStorage {}),
            entries_max => ServerSessionMemoryCache::new(entries_max),
        };
        server
    }
}

fn cert_chain_from_pem(pem: &[u8]) -> io::Result<Vec<CertificateDer<'static>>> {
    let cert_chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("certificate chain: {e}")))?;
    if cert_chain.is_empty() {
        return Err(invalid(
            "no CERTIFICATE block in the certificate chain".into(),
        ));
    }
    Ok(cert_chain)
}

fn key_from_pem(pem: &[u8]) -> io::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
        invalid(format!(
            "private key (PKCS#8, RSA or EC PRIVATE KEY block expected): {e}"
        ))
    })
}

fn invalid(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

fn invalid_tls(e: rustls::Error) -> io::Error {
    invalid(format!("certificate and key rejected: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> (String, String) {
        let names = vec!["localhost".to_string()];
        let rcgen::CertifiedKey { cert, key_pair } =
            rcgen::generate_simple_self_signed(names).expect("rcgen");
        (cert.pem(), key_pair.serialize_pem())
    }

    fn error_text(result: io::Result<TlsConfig>) -> String {
        result.expect_err("must be refused").to_string()
    }

    #[test]
    fn pem_pair_loads_and_bad_pem_is_explained() {
        let (cert, key) = self_signed();
        let config = TlsConfig::from_pem(cert.as_bytes(), key.as_bytes()).expect("valid pair");
        assert_eq!(config.server.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert_eq!(format!("{config:?}"), "TlsConfig { .. }");

        let no_cert = error_text(TlsConfig::from_pem(key.as_bytes(), key.as_bytes()));
        assert!(no_cert.contains("no CERTIFICATE"), "{no_cert}");
        let no_key = error_text(TlsConfig::from_pem(cert.as_bytes(), cert.as_bytes()));
        assert!(no_key.contains("private key"), "{no_key}");
        let (_, other_key) = self_signed();
        let mismatch = error_text(TlsConfig::from_pem(cert.as_bytes(), other_key.as_bytes()));
        assert!(mismatch.contains("rejected"), "{mismatch}");
    }

    #[test]
    fn missing_file_is_named() {
        let missing = Path::new("/nonexistent/maxiofs-cert.pem");
        let text = error_text(TlsConfig::from_pem_files(missing, missing));
        assert!(text.contains("/nonexistent/maxiofs-cert.pem"), "{text}");
    }

    #[test]
    fn each_shard_gets_its_own_session_cache() {
        let (cert, key) = self_signed();
        let config = TlsConfig::from_pem(cert.as_bytes(), key.as_bytes()).expect("valid pair");
        let (one, two) = (config.shard_server(16), config.shard_server(16));
        assert!(!Arc::ptr_eq(&one.session_storage, &two.session_storage));
        assert!(!Arc::ptr_eq(
            &one.session_storage,
            &config.server.session_storage
        ));
        assert!(one.session_storage.can_cache());
        assert!(!config.shard_server(0).session_storage.can_cache());
        assert_eq!(one.alpn_protocols, config.server.alpn_protocols);
    }
}
