//! Authentication on the request path: SigV4 header verification and
//! `aws-chunked` body decoding.
//!
//! - `sigv4/verify_header/*`: a boto3-shaped PutObject (15 headers, 9 signed)
//!   verified with a warm `SigningKeyCache` (the steady state: one derivation
//!   per access key per day) and with a cold one (first request of the day, or
//!   an evicted key: four more HMACs plus the cache insertion).
//!   `sigv4/parse_authorization_header` is the parse the service does first.
//! - `aws_chunked/*`: decoding a 1 MiB object sent in 64 KiB chunks, fed in the
//!   64 KiB reads `s3::body` makes and copied out as it does. `signed` checks a
//!   chunk-signature chain (one SHA-256 over the data plus one HMAC per chunk);
//!   `unsigned_trailer` is the 2025 SDK default, framing only.
//!
//! The request is signed in setup with the crate's own public SigV4 pieces,
//! and each decoded body is checked once before timing.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use s3::auth::chunked::{AwsChunkedDecoder, ChunkSigningContext, ChunkedMode};
use s3::auth::sigv4::{
    canonical_request, derive_signing_key, parse_authorization_header, string_to_sign,
    verify_header, AmzDate, AuthHeader, CredentialScope, RequestParts, SignatureLocation,
    SigningKeyCache, Verified, VerifyParams, EMPTY_SHA256_HEX,
};
use s3::checksum::{ChecksumAlgorithm, ChecksumHasher};
use sha2::{Digest, Sha256};

const ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const AMZ_DATE: &str = "20250115T103000Z";
const REGION: &str = "us-east-1";
const PATH: &str = "/bench-bucket/photos/2025/01/img_000123.jpg";
const OBJECT_BYTES: usize = 1 << 20;
/// The chunk size AWS SDKs use for `aws-chunked` uploads.
const CHUNK_DATA_BYTES: usize = 64 * 1024;
/// What `s3::body` reads from the connection per call to `feed`.
const FEED_BYTES: usize = 64 * 1024;

/// Headers botocore leaves out of the signature.
const UNSIGNED_HEADERS: [&str; 3] = ["user-agent", "accept-encoding", "expect"];

/// A request signed with header auth, ready for `verify_header`.
struct SignedRequest {
    headers: Vec<(String, String)>,
    authorization: String,
    auth: AuthHeader,
    now_unix_seconds: i64,
}

impl SignedRequest {
    fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: "PUT",
            path_decoded: PATH,
            query_pairs: &[],
            headers: &self.headers,
        }
    }

    fn params(&self) -> VerifyParams<'static> {
        VerifyParams {
            secret_access_key: SECRET_ACCESS_KEY,
            region_expected: Some(REGION),
            now_unix_seconds: self.now_unix_seconds,
        }
    }

    fn verify(&self, cache: &mut SigningKeyCache) -> Verified {
        verify_header(&self.parts(), &self.auth, &self.params(), cache).expect("signature verifies")
    }
}

/// Signs a boto3-shaped PutObject whose `x-amz-content-sha256` is `payload`.
fn signed_request(payload: &str, extra_headers: &[(&str, &str)]) -> SignedRequest {
    let mut headers: Vec<(String, String)> = [
        ("host", "127.0.0.1:9000"),
        ("accept-encoding", "identity"),
        (
            "user-agent",
            "Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.1.0",
        ),
        ("content-type", "image/jpeg"),
        ("x-amz-meta-camera", "camera-7"),
        ("x-amz-sdk-checksum-algorithm", "CRC32"),
        ("x-amz-date", AMZ_DATE),
        ("x-amz-content-sha256", payload),
        (
            "amz-sdk-invocation-id",
            "3f0c5a4e-8d1b-4c2a-9e7f-6b5d4c3a2b1e",
        ),
        ("amz-sdk-request", "attempt=1; max=5"),
    ]
    .iter()
    .chain(extra_headers)
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    let mut signed_headers: Vec<String> = headers
        .iter()
        .map(|(name, _)| name.clone())
        .filter(|name| !UNSIGNED_HEADERS.contains(&name.as_str()))
        .filter(|name| !name.starts_with("amz-sdk-"))
        .collect();
    signed_headers.sort();
    let date = AmzDate::parse(AMZ_DATE).expect("valid date");
    let scope = CredentialScope {
        date: date.date().to_owned(),
        region: REGION.to_owned(),
        service: "s3".to_owned(),
    };
    let parts = RequestParts {
        method: "PUT",
        path_decoded: PATH,
        query_pairs: &[],
        headers: &headers,
    };
    let canonical = canonical_request(&parts, &signed_headers, payload, SignatureLocation::Header)
        .expect("signed headers present");
    let to_sign = string_to_sign(&date, &scope, &canonical);
    let signature = derive_signing_key(SECRET_ACCESS_KEY, &scope).sign(to_sign.as_bytes());
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/{scope}, SignedHeaders={}, Signature={}",
        signed_headers.join(";"),
        signature.to_hex()
    );
    headers.push(("authorization".to_owned(), authorization.clone()));
    let auth = parse_authorization_header(&authorization).expect("valid authorization");
    SignedRequest {
        headers,
        authorization,
        auth,
        now_unix_seconds: date.unix_seconds(),
    }
}

fn bench_sigv4(c: &mut Criterion) {
    let extra = [
        ("content-length", "1048576"),
        ("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
        ("x-amz-checksum-crc32", "AAAAAA=="),
        ("expect", "100-continue"),
    ];
    let request = signed_request("UNSIGNED-PAYLOAD", &extra);
    let mut group = c.benchmark_group("sigv4");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_authorization_header", |b| {
        b.iter(|| parse_authorization_header(black_box(&request.authorization)));
    });
    group.bench_function("verify_header/warm_cache", |b| {
        let mut cache = SigningKeyCache::new();
        request.verify(&mut cache);
        b.iter(|| request.verify(&mut cache));
    });
    group.bench_function("verify_header/cold_cache", |b| {
        b.iter_batched_ref(
            SigningKeyCache::new,
            |cache| request.verify(cache),
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

/// Deterministic, incompressible-looking object bytes.
fn object_bytes() -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..OBJECT_BYTES)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: each chunk's signature chains the
/// previous one, starting from the request's seed signature.
fn encode_signed(data: &[u8], context: &ChunkSigningContext) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 4096);
    let mut previous = context.seed_signature;
    let final_chunk: &[u8] = &[];
    for piece in data.chunks(CHUNK_DATA_BYTES).chain([final_chunk]) {
        let to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256_HEX}\n{}",
            context.timestamp,
            context.scope,
            previous.to_hex(),
            hex::encode(Sha256::digest(piece)),
        );
        let signature = context.signing_key.sign(to_sign.as_bytes());
        let line = format!(
            "{:x};chunk-signature={}\r\n",
            piece.len(),
            signature.to_hex()
        );
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
        previous = signature;
    }
    out
}

/// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` with a CRC32 trailer, as SDKs send.
fn encode_unsigned_trailer(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 4096);
    for piece in data.chunks(CHUNK_DATA_BYTES) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    let mut crc = ChecksumHasher::new(ChecksumAlgorithm::Crc32);
    crc.update(data);
    let trailer = format!(
        "0\r\nx-amz-checksum-crc32:{}\r\n\r\n",
        crc.finalize().to_base64()
    );
    out.extend_from_slice(trailer.as_bytes());
    out
}

/// Decodes `encoded` as `s3::body` does: 64 KiB reads, data copied out.
fn decode(mode: &ChunkedMode, encoded: &[u8], dst: &mut Vec<u8>) {
    dst.clear();
    let mut decoder = AwsChunkedDecoder::new(mode.clone(), Some(OBJECT_BYTES as u64));
    for piece in encoded.chunks(FEED_BYTES) {
        let consumed = decoder
            .feed(piece, |data| dst.extend_from_slice(data))
            .expect("valid chunk");
        assert_eq!(consumed, piece.len());
    }
    decoder.finish().expect("complete body");
}

fn bench_chunked(c: &mut Criterion) {
    let data = object_bytes();
    let decoded_length = OBJECT_BYTES.to_string();
    let extra = [
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", decoded_length.as_str()),
    ];
    let request = signed_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", &extra);
    let verified = request.verify(&mut SigningKeyCache::new());
    let signed_mode = ChunkedMode::from_verified(&verified).expect("streaming payload");
    let ChunkedMode::Signed(context) = &signed_mode else {
        panic!("expected signed chunks");
    };
    let cases = [
        ("signed", signed_mode.clone(), encode_signed(&data, context)),
        (
            "unsigned_trailer",
            ChunkedMode::UnsignedTrailer,
            encode_unsigned_trailer(&data),
        ),
    ];
    let mut dst = Vec::with_capacity(OBJECT_BYTES);
    let mut group = c.benchmark_group("aws_chunked");
    group.throughput(Throughput::Bytes(OBJECT_BYTES as u64));
    for (name, mode, encoded) in &cases {
        decode(mode, encoded, &mut dst);
        assert_eq!(dst, data, "{name} round trip");
        group.bench_function(format!("{name}/1MiB"), |b| {
            b.iter(|| decode(mode, black_box(encoded), &mut dst));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_sigv4, bench_chunked);
criterion_main!(benches);
