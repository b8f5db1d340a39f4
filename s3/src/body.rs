//! Request bodies as the operations see them: plain, SHA-256-signed or
//! `aws-chunked` (signed chunks, signed or unsigned trailers), all read
//! through one [`PayloadReader`] that verifies what the signature promised.

use std::ops::Range;

use base64::Engine as _;
use engine::io::AlignedBuf;
use http::Exchange;
use md5::Md5;
use sha2::{Digest, Sha256};

use crate::auth::chunked::{AwsChunkedDecoder, ChunkedMode, Trailers};
use crate::auth::sigv4::{PayloadHash, Verified};
use crate::auth::AuthError;
use crate::checksum::{Checksum, ChecksumAlgorithm};
use crate::error::{S3Error, S3ErrorCode, S3Result};

/// Bytes read from the socket at a time when decoding `aws-chunked`.
const CHUNKED_RAW_READ_BYTES: usize = 64 * 1024;

/// How the request body is framed and what protects it.
#[derive(Clone, Debug)]
pub enum PayloadMode {
    /// `UNSIGNED-PAYLOAD`, or a request with no body.
    Unsigned,
    /// The signature covers this SHA-256 of the body.
    Sha256([u8; 32]),
    /// `aws-chunked` framing.
    Chunked(ChunkedMode),
}

impl PayloadMode {
    pub fn from_verified(verified: &Verified) -> Self {
        match verified.payload {
            PayloadHash::Unsigned => PayloadMode::Unsigned,
            PayloadHash::Sha256(digest) => PayloadMode::Sha256(digest),
            PayloadHash::StreamingSigned
            | PayloadHash::StreamingSignedTrailer
            | PayloadHash::StreamingUnsignedTrailer => {
                let mode = ChunkedMode::from_verified(verified).expect("streaming payload");
                PayloadMode::Chunked(mode)
            }
        }
    }
}

/// Reads a request body, verifying its signed hash or chunk signatures.
pub struct PayloadReader<'e, 'c> {
    ex: &'e mut Exchange<'c>,
    sha256: Option<(Sha256, [u8; 32])>,
    chunked: Option<AwsChunkedDecoder>,
    /// The aws-chunked framing as read (allocated on the first read): owned, so the
    /// socket read fills it directly.
    raw: Option<AlignedBuf>,
    /// Decoded bytes that did not fit the caller's buffer yet.
    spill: Vec<u8>,
    spill_at: usize,
    raw_done: bool,
    declared_len_bytes: Option<u64>,
    /// The bucket owner's upload bandwidth limit, if it has one.
    throttle: Option<std::sync::Arc<crate::throttle::TenantThrottle>>,
}

fn decoded_length(head: &http::RequestHead) -> S3Result<Option<u64>> {
    match head.header("x-amz-decoded-content-length") {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| AuthError::DecodedLengthInvalid.into()),
    }
}

fn read_error(err: http::HttpError) -> S3Error {
    tracing::debug!(%err, "request body read failed");
    if matches!(err, http::HttpError::Timeout) {
        return S3Error::new(
            S3ErrorCode::RequestTimeout,
            "Your socket connection to the server was not read from or written to within the \
             timeout period.",
        );
    }
    S3Error::new(
        S3ErrorCode::IncompleteBody,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    )
}

impl<'e, 'c> PayloadReader<'e, 'c> {
    pub fn new(ex: &'e mut Exchange<'c>, mode: &PayloadMode) -> S3Result<Self> {
        let mut declared_len_bytes = ex.body_len_declared();
        let (sha256, chunked) = match mode {
            PayloadMode::Unsigned => (None, None),
            PayloadMode::Sha256(digest) => (Some((Sha256::new(), *digest)), None),
            PayloadMode::Chunked(chunked_mode) => {
                let decoded = decoded_length(ex.head())?;
                if decoded.is_none() && ex.head().header("x-amz-trailer").is_none() {
                    return Err(AuthError::DecodedLengthMissing.into());
                }
                declared_len_bytes = decoded;
                (
                    None,
                    Some(AwsChunkedDecoder::new(chunked_mode.clone(), decoded)),
                )
            }
        };
        Ok(PayloadReader {
            ex,
            sha256,
            chunked,
            raw: None,
            spill: Vec::new(),
            spill_at: 0,
            raw_done: false,
            declared_len_bytes,
            throttle: None,
        })
    }

    /// Paces the body's reading to a tenant's upload limit.
    pub fn set_throttle(
        &mut self,
        throttle: Option<std::sync::Arc<crate::throttle::TenantThrottle>>,
    ) {
        self.throttle = throttle;
    }

    /// The object's length as the client announced it, if it did.
    pub fn declared_len_bytes(&self) -> Option<u64> {
        self.declared_len_bytes
    }

    /// Fills `dst` completely unless the body ends first; returns how many
    /// bytes were written (less than `dst.len()` only at the end).
    pub async fn read_full(&mut self, dst: &mut [u8]) -> S3Result<usize> {
        let mut filled = 0;
        while filled < dst.len() {
            let n = self.read(&mut dst[filled..]).await?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        Ok(filled)
    }

    /// [`PayloadReader::read_full`] into `buf[range]`: a plain body is read from the
    /// socket straight into `buf` (no copy through a bounce buffer); an aws-chunked one
    /// is decoded into it. The buffer comes back whatever happened.
    pub async fn read_full_into(
        &mut self,
        mut buf: AlignedBuf,
        range: Range<usize>,
    ) -> (S3Result<usize>, AlignedBuf) {
        if self.chunked.is_some() {
            let result = self.read_full(&mut buf.as_full_mut()[range]).await;
            return (result, buf);
        }
        let mut filled = 0;
        while filled < range.len() {
            let at = range.start + filled;
            // monoio reads into a slice only from within the initialized bytes, and a
            // read straight from the socket leaves the length at its end; every byte of
            // an AlignedBuf is initialized (zeroed at allocation), so claim them all
            // before each read.
            buf.set_len(buf.capacity());
            let (result, returned) = self.ex.read_body_into(buf, at..range.end).await;
            buf = returned;
            let n = match result.map_err(read_error) {
                Ok(n) => n,
                Err(err) => return (Err(err), buf),
            };
            if n == 0 {
                break;
            }
            self.hash_signed(&buf.as_full_mut()[at..at + n]);
            self.pace(n).await;
            filled += n;
        }
        (Ok(filled), buf)
    }

    async fn read(&mut self, dst: &mut [u8]) -> S3Result<usize> {
        let n = self.read_unpaced(dst).await?;
        self.pace(n).await;
        Ok(n)
    }

    /// Waits as the bucket owner's upload limit asks after `n` bytes were read.
    async fn pace(&self, n: usize) {
        if let Some(throttle) = &self.throttle {
            crate::throttle::pace(Some(&throttle.inbound), n).await;
        }
    }

    /// Feeds plain body bytes to the signed payload's SHA-256, if it is signed.
    fn hash_signed(&mut self, bytes: &[u8]) {
        if let Some((hasher, _)) = self.sha256.as_mut() {
            hasher.update(bytes);
        }
    }

    async fn read_unpaced(&mut self, dst: &mut [u8]) -> S3Result<usize> {
        if self.chunked.is_some() {
            return self.read_chunked(dst).await;
        }
        let n = self.ex.read_body(dst).await.map_err(read_error)?;
        self.hash_signed(&dst[..n]);
        Ok(n)
    }

    async fn read_chunked(&mut self, dst: &mut [u8]) -> S3Result<usize> {
        loop {
            if self.spill_at < self.spill.len() {
                let n = (self.spill.len() - self.spill_at).min(dst.len());
                dst[..n].copy_from_slice(&self.spill[self.spill_at..self.spill_at + n]);
                self.spill_at += n;
                return Ok(n);
            }
            self.spill.clear();
            self.spill_at = 0;
            if self.raw_done {
                return Ok(0);
            }
            let mut raw = self
                .raw
                .take()
                .unwrap_or_else(|| AlignedBuf::new(CHUNKED_RAW_READ_BYTES));
            raw.set_len(raw.capacity());
            let (result, raw) = self.ex.read_body_into(raw, 0..CHUNKED_RAW_READ_BYTES).await;
            let raw = self.raw.insert(raw);
            let n = result.map_err(read_error)?;
            if n == 0 {
                self.raw_done = true;
                continue;
            }
            let decoder = self.chunked.as_mut().expect("chunked mode");
            let spill = &mut self.spill;
            let mut written = 0;
            let consumed = decoder.feed(&raw.as_slice()[..n], |data| {
                let direct = (dst.len() - written).min(data.len());
                dst[written..written + direct].copy_from_slice(&data[..direct]);
                written += direct;
                spill.extend_from_slice(&data[direct..]);
            })?;
            if consumed < n {
                // The aws-chunked body ended (final chunk and trailer) before
                // the HTTP body did. Reading on and dropping the rest would let
                // a client that keeps sending hold the upload open forever.
                return Err(AuthError::ChunkMalformed("bytes after the final chunk").into());
            }
            if written > 0 {
                return Ok(written);
            }
        }
    }

    /// Call after the body was read to its end: verifies the signed SHA-256
    /// or the chunked framing and trailer, and returns a checksum the client
    /// sent as a trailer.
    pub fn finish(mut self) -> S3Result<Option<Checksum>> {
        if let Some((hasher, expected)) = self.sha256.take() {
            let computed: [u8; 32] = hasher.finalize().into();
            PayloadHash::Sha256(expected).verify_body_sha256(&computed)?;
        }
        let Some(decoder) = self.chunked.as_mut() else {
            return Ok(None);
        };
        let trailers = decoder.finish()?;
        trailer_checksum(&trailers)
    }
}

/// Where object bytes come from: a request body ([`PayloadReader`]) or the
/// file part of a browser form (`crate::form::FormReader`). The ingest path
/// is generic over it, so a PUT pays nothing for the choice.
pub(crate) trait ByteSource {
    /// Fills `dst` completely unless the bytes end first; returns how many
    /// bytes were written (less than `dst.len()` only at the end).
    async fn read_full(&mut self, dst: &mut [u8]) -> S3Result<usize>;

    /// Reads what has arrived: at least one byte, or 0 once the bytes have
    /// ended. For parsers that must not wait for a full buffer.
    async fn read_some(&mut self, dst: &mut [u8]) -> S3Result<usize> {
        self.read_full(dst).await
    }

    /// [`ByteSource::read_full`] into `buf[range]` of an owned buffer, which a
    /// source that reads a socket can fill without a copy; the buffer comes back
    /// whatever happened.
    async fn read_full_into(
        &mut self,
        mut buf: AlignedBuf,
        range: Range<usize>,
    ) -> (S3Result<usize>, AlignedBuf) {
        let result = self.read_full(&mut buf.as_full_mut()[range]).await;
        (result, buf)
    }
}

impl ByteSource for PayloadReader<'_, '_> {
    async fn read_full(&mut self, dst: &mut [u8]) -> S3Result<usize> {
        PayloadReader::read_full(self, dst).await
    }

    async fn read_some(&mut self, dst: &mut [u8]) -> S3Result<usize> {
        self.read(dst).await
    }

    async fn read_full_into(
        &mut self,
        buf: AlignedBuf,
        range: Range<usize>,
    ) -> (S3Result<usize>, AlignedBuf) {
        PayloadReader::read_full_into(self, buf, range).await
    }
}

fn trailer_checksum(trailers: &Trailers) -> S3Result<Option<Checksum>> {
    for algorithm in ChecksumAlgorithm::ALL {
        if let Some(value) = trailers.get(algorithm.header_name()) {
            let checksum = Checksum::from_base64(algorithm, value).map_err(|_| {
                S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    format!(
                        "Value for {} trailing header is invalid.",
                        algorithm.header_name()
                    ),
                )
            })?;
            return Ok(Some(checksum));
        }
    }
    Ok(None)
}

/// Reads a whole small body (XML configurations, DeleteObjects), refusing
/// more than `max_bytes`.
/// What a request's `x-amz-checksum-*` headers are a checksum of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderChecksums {
    /// The request body (PutBucket*, DeleteObjects): verified here.
    OfBody,
    /// The object being completed (CompleteMultipartUpload): the caller checks
    /// them against the object; only a trailer is about the body.
    OfObject,
}

pub async fn read_small_body(
    ex: &mut Exchange<'_>,
    mode: &PayloadMode,
    max_bytes: usize,
    header_checksums: HeaderChecksums,
) -> S3Result<Vec<u8>> {
    read_small_body_or(ex, mode, max_bytes, header_checksums, || {
        S3Error::new(
            S3ErrorCode::MalformedXML,
            "The XML you provided was larger than the maximum allowed.",
        )
    })
    .await
}

/// `read_small_body` for bodies that are not XML: `too_large` is the
/// answer when the body passes `max_bytes` (PutBucketPolicy's is
/// PolicyTooLarge).
pub async fn read_small_body_or(
    ex: &mut Exchange<'_>,
    mode: &PayloadMode,
    max_bytes: usize,
    header_checksums: HeaderChecksums,
    too_large: impl FnOnce() -> S3Error,
) -> S3Result<Vec<u8>> {
    let mut reader = PayloadReader::new(ex, mode)?;
    let mut body = vec![0u8; (16 * 1024).min(max_bytes + 1)];
    let mut len = 0;
    loop {
        if len == body.len() {
            // One byte past the limit is enough to know the body is too big.
            body.resize((body.len() * 2).min(max_bytes + 1), 0);
        }
        let n = reader.read(&mut body[len..]).await?;
        if n == 0 {
            break;
        }
        len += n;
        // Checked after every read: a body may not pass the limit by
        // whatever the last read happened to bring.
        if len > max_bytes {
            return Err(too_large());
        }
    }
    body.truncate(len);
    let trailer = reader.finish()?;
    small_body_verify_checksums(ex.head(), &body, trailer, header_checksums)?;
    Ok(body)
}

/// Checks a small body against every checksum the client sent for it, as
/// a header or a trailer.
fn small_body_verify_checksums(
    head: &http::RequestHead,
    body: &[u8],
    trailer: Option<Checksum>,
    header_checksums: HeaderChecksums,
) -> S3Result<()> {
    let of_body = header_checksums == HeaderChecksums::OfBody;
    let headers = head.headers.iter().filter(|_| of_body);
    let from_headers = headers.filter_map(|(name, value)| {
        let algorithm = ChecksumAlgorithm::from_header_name(name)?;
        Some(Checksum::from_base64(algorithm, value).map_err(|_| {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!("Value for {name} header is invalid."),
            )
        }))
    });
    for expected in from_headers.chain(trailer.map(Ok)) {
        let expected = expected?;
        let mut hasher = crate::checksum::ChecksumHasher::new(expected.algorithm());
        hasher.update(body);
        if expected.verify(&hasher.finalize()).is_err() {
            return Err(S3Error::new(
                S3ErrorCode::BadDigest,
                format!(
                    "The {} you specified did not match the calculated checksum.",
                    expected.algorithm().header_name()
                ),
            ));
        }
    }
    Ok(())
}

/// For the operations where AWS requires an integrity header (DeleteObjects,
/// PutBucketEncryption): Content-MD5, checked here, or, since the 2025 SDKs,
/// any `x-amz-checksum-*` (verified by `read_small_body`).
pub(crate) fn require_integrity_header(head: &http::RequestHead, body: &[u8]) -> S3Result<()> {
    if let Some(md5) = head.header("content-md5") {
        let expected = base64::engine::general_purpose::STANDARD
            .decode(md5.trim())
            .map_err(|_| {
                S3Error::new(
                    S3ErrorCode::InvalidDigest,
                    "The Content-MD5 you specified was invalid.",
                )
            })?;
        if expected.as_slice() != Md5::digest(body).as_slice() {
            return Err(S3Error::new(
                S3ErrorCode::BadDigest,
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
        return Ok(());
    }
    let has_checksum = head
        .headers
        .iter()
        .any(|(name, _)| name.starts_with("x-amz-checksum-"))
        || head
            .header("x-amz-trailer")
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("x-amz-checksum-"));
    if has_checksum {
        return Ok(());
    }
    Err(S3Error::new(
        S3ErrorCode::InvalidRequest,
        "Missing required header for this request: Content-MD5 OR x-amz-checksum-*",
    ))
}

/// Which integrity signal a configuration body must carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyIntegrity {
    /// Whatever the client sent is checked; nothing is required.
    Optional,
    /// Content-MD5 or an `x-amz-checksum-*` header or trailer, as AWS requires
    /// (DeleteObjects, Object Lock, retention, legal hold, lifecycle, default
    /// encryption): without it a SigV2 or `UNSIGNED-PAYLOAD` request's body
    /// is covered by nothing.
    Required,
    /// As `Required`, but a body whose SHA-256 the signature covers also
    /// qualifies (ACLs: s3cmd signs the hash and sends no Content-MD5).
    RequiredUnlessHashSigned,
}
