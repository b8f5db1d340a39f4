//! The console port's `/s3/` proxy: the console's browser side sends its signed S3 requests to
//! `/s3/<bucket>/<key>?...` on its own origin (so the console's Content-Security-Policy can
//! allow only `'self'`), and this forwards each, unchanged but for the prefix, to the S3 port on
//! loopback over a connection of its own, streaming the body both ways. The request keeps the
//! `Host` the browser signed; the console's cookie is not passed on; the S3 port authenticates
//! and authorises the request as any other (the proxy adds no authority of its own).
//!
//! Limits: a request body needs a `Content-Length` (browsers send one for files), at most
//! [`BODY_BYTES_MAX`]; the answer's head at most [`RESPONSE_HEAD_BYTES_MAX`]; every upstream
//! step within [`UPSTREAM_STEP_TIMEOUT`].

use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;

use http::{BodyLen, Exchange};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};

/// The largest body forwarded: S3's own largest single PUT.
const BODY_BYTES_MAX: u64 = 5 << 30;
/// An S3 answer's head is a few hundred bytes.
const RESPONSE_HEAD_BYTES_MAX: usize = 64 * 1024;
/// Bytes moved per read, both ways.
const CHUNK_BYTES: usize = 256 * 1024;
/// Connecting, and each read or write upstream; a commit of a large part takes seconds.
const UPSTREAM_STEP_TIMEOUT: Duration = Duration::from_secs(120);
/// Request fields not passed on: the connection's own, and the console's session cookie.
const NOT_FORWARDED: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "cookie",
];

/// Where `/s3/` requests go.
#[derive(Clone, Debug)]
pub struct ProxyTarget {
    /// The S3 listener, on loopback when it listens on every address.
    pub address: SocketAddr,
    /// When the S3 port speaks TLS: a client that trusts exactly the server's own certificate.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl ProxyTarget {
    /// A target for an S3 port serving `certificate_der` (the first certificate of
    /// `--tls-cert`): the proxy accepts that certificate and no other, whatever name it has,
    /// since it connects to its own process over loopback.
    pub fn pinned_tls(certificate_der: Vec<u8>) -> Result<Arc<rustls::ClientConfig>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(PinnedCertificate {
            certificate_der,
            algorithms: provider.signature_verification_algorithms,
        });
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| format!("TLS: {err}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

/// Trusts one certificate, byte for byte, and checks the handshake's signatures with it.
#[derive(Debug)]
struct PinnedCertificate {
    certificate_der: Vec<u8>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::client::danger::ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let same: bool =
            subtle::ConstantTimeEq::ct_eq(end_entity.as_ref(), self.certificate_der.as_slice())
                .into();
        if same {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

enum ProxyError {
    /// Nothing was sent to the client yet: answer with this status and message.
    Answer(u16, &'static str),
    /// The answer had begun: the connection must close.
    Broken,
}

/// Forwards one `/s3/...` request.
pub async fn forward(ex: &mut Exchange<'_>, target: &ProxyTarget) {
    match forward_steps(ex, target).await {
        Ok(()) => {}
        Err(ProxyError::Answer(status, message)) => {
            ex.close_after();
            let body = bytes::Bytes::from(format!("{message}\n"));
            let headers = [
                ("content-type", "text/plain; charset=utf-8"),
                ("x-content-type-options", "nosniff"),
            ];
            let _ = ex.respond(status, &headers, body).await;
        }
        Err(ProxyError::Broken) => ex.close_after(),
    }
}

async fn step<T>(
    future: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, ProxyError> {
    match monoio::time::timeout(UPSTREAM_STEP_TIMEOUT, future).await {
        Ok(Ok(value)) => Ok(value),
        _ => Err(ProxyError::Answer(502, "The S3 port did not answer.")),
    }
}

async fn forward_steps(ex: &mut Exchange<'_>, target: &ProxyTarget) -> Result<(), ProxyError> {
    let head = ex.head();
    let upstream_target = head.target.strip_prefix("/s3").unwrap_or("/");
    if !upstream_target.starts_with('/') {
        return Err(ProxyError::Answer(404, "No such path."));
    }
    let body_bytes = match ex.body_len_declared() {
        Some(len) if len <= BODY_BYTES_MAX => len,
        Some(_) => return Err(ProxyError::Answer(413, "The body is too large.")),
        None => return Err(ProxyError::Answer(411, "A Content-Length is required.")),
    };
    let mut request_head = format!("{} {upstream_target} HTTP/1.1\r\n", head.method);
    for (name, value) in &head.headers {
        if NOT_FORWARDED.contains(&name.as_str()) || name == "content-length" {
            continue;
        }
        request_head.push_str(&format!("{name}: {value}\r\n"));
    }
    if body_bytes > 0 || head.method == "PUT" || head.method == "POST" {
        request_head.push_str(&format!("content-length: {body_bytes}\r\n"));
    }
    request_head.push_str("connection: close\r\n\r\n");
    let tcp = step(monoio::net::TcpStream::connect(target.address)).await?;
    match &target.tls {
        None => relay(ex, tcp, request_head).await,
        Some(config) => {
            let connector = monoio_rustls::TlsConnector::from(config.clone());
            let name = rustls::pki_types::ServerName::try_from("localhost")
                .expect("a constant valid name");
            let handshake = connector.connect(name, tcp);
            let tls = match monoio::time::timeout(UPSTREAM_STEP_TIMEOUT, handshake).await {
                Ok(Ok(tls)) => tls,
                _ => return Err(ProxyError::Answer(502, "TLS to the S3 port failed.")),
            };
            relay(ex, tls, request_head).await
        }
    }
}

/// Sends the request over `upstream` and relays the answer.
async fn relay<S: AsyncReadRent + AsyncWriteRent>(
    ex: &mut Exchange<'_>,
    mut upstream: S,
    request_head: String,
) -> Result<(), ProxyError> {
    write_upstream(&mut upstream, request_head.into_bytes()).await?;
    // The body, as it arrives.
    let mut chunk = vec![0u8; CHUNK_BYTES];
    loop {
        let read = ex
            .read_body(&mut chunk)
            .await
            .map_err(|_| ProxyError::Answer(400, "The request body did not arrive."))?;
        if read == 0 {
            break;
        }
        let mut part = std::mem::take(&mut chunk);
        part.truncate(read);
        let mut part = write_upstream(&mut upstream, part).await?;
        part.resize(CHUNK_BYTES, 0);
        chunk = part;
    }
    relay_response(ex, &mut upstream).await
}

/// Writes all of `buffer` upstream within the step timeout; gives the buffer back.
async fn write_upstream<S: AsyncWriteRent>(
    upstream: &mut S,
    buffer: Vec<u8>,
) -> Result<Vec<u8>, ProxyError> {
    match monoio::time::timeout(UPSTREAM_STEP_TIMEOUT, upstream.write_all(buffer)).await {
        Ok((Ok(_), buffer)) => Ok(buffer),
        _ => Err(ProxyError::Answer(
            502,
            "The S3 port did not take the request.",
        )),
    }
}

/// Reads into `buffer`'s spare capacity within the step timeout.
async fn read_upstream<S: AsyncReadRent>(
    upstream: &mut S,
    buffer: Vec<u8>,
) -> Option<(usize, Vec<u8>)> {
    match monoio::time::timeout(UPSTREAM_STEP_TIMEOUT, upstream.read(buffer)).await {
        Ok((Ok(read), buffer)) => Some((read, buffer)),
        _ => None,
    }
}

/// Reads the S3 answer's head and streams it back with its body.
async fn relay_response<S: AsyncReadRent>(
    ex: &mut Exchange<'_>,
    upstream: &mut S,
) -> Result<(), ProxyError> {
    let mut buffer: Vec<u8> = Vec::with_capacity(16 * 1024);
    let (status, headers, head_len) = loop {
        if buffer.len() >= RESPONSE_HEAD_BYTES_MAX {
            return Err(ProxyError::Answer(
                502,
                "The S3 port's answer is malformed.",
            ));
        }
        buffer.reserve(16 * 1024);
        let Some((read, filled)) = read_upstream(upstream, buffer).await else {
            return Err(ProxyError::Answer(502, "The S3 port did not answer."));
        };
        buffer = filled;
        if read == 0 {
            return Err(ProxyError::Answer(
                502,
                "The S3 port closed the connection.",
            ));
        }
        let mut fields = [httparse::EMPTY_HEADER; 128];
        let mut response = httparse::Response::new(&mut fields);
        match response.parse(&buffer) {
            Ok(httparse::Status::Complete(len)) => {
                let status = response.code.unwrap_or(502);
                let headers: Vec<(String, String)> = response
                    .headers
                    .iter()
                    .map(|field| {
                        let value = String::from_utf8_lossy(field.value).into_owned();
                        (field.name.to_ascii_lowercase(), value)
                    })
                    .collect();
                break (status, headers, len);
            }
            Ok(httparse::Status::Partial) => continue,
            Err(_) => {
                return Err(ProxyError::Answer(
                    502,
                    "The S3 port's answer is malformed.",
                ))
            }
        }
    };
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.trim().parse::<u64>().ok());
    let bodiless = ex.head().method == "HEAD" || status == 204 || status == 304;
    let body_len = match (bodiless, length) {
        (true, _) => BodyLen::Empty,
        (false, Some(0)) => BodyLen::Empty,
        (false, Some(len)) => BodyLen::Fixed(len),
        (false, None) => {
            return Err(ProxyError::Answer(
                502,
                "The S3 port's answer has no length.",
            ))
        }
    };
    let mut passed: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(name, _)| {
            !matches!(
                name.as_str(),
                "connection"
                    | "keep-alive"
                    | "transfer-encoding"
                    | "content-length"
                    | "date"
                    | "content-security-policy"
                    | "x-content-type-options"
            )
        })
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    // An object is a tenant's bytes on the console's origin: an HTML object
    // opened here must not run script with the console's cookies (it could
    // read a session's CSRF token and act as whoever opened it).
    passed.push(("content-security-policy", "sandbox; default-src 'none'"));
    passed.push(("x-content-type-options", "nosniff"));
    let head_body_len = match (bodiless, length) {
        // A HEAD answer keeps the object's Content-Length.
        (true, Some(len)) if status != 204 && status != 304 => BodyLen::HeadOnly(len),
        _ => body_len,
    };
    if ex.send_head(status, &passed, head_body_len).await.is_err() {
        return Err(ProxyError::Broken);
    }
    let BodyLen::Fixed(mut remaining) = body_len else {
        return ex.finish().await.map_err(|_| ProxyError::Broken);
    };
    let early = buffer.split_off(head_len.min(buffer.len()));
    let mut pending = early;
    loop {
        if !pending.is_empty() {
            let take = (pending.len() as u64).min(remaining) as usize;
            pending.truncate(take);
            remaining -= take as u64;
            let (written, _) = ex.write_body(pending).await;
            written.map_err(|_| ProxyError::Broken)?;
        }
        if remaining == 0 {
            return ex.finish().await.map_err(|_| ProxyError::Broken);
        }
        match read_upstream(upstream, Vec::with_capacity(CHUNK_BYTES)).await {
            Some((read, filled)) if read > 0 => pending = filled,
            _ => return Err(ProxyError::Broken),
        }
    }
}
