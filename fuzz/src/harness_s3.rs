//! Fuzz entry points for the parsers of the `s3` crate that read network bytes: routing
//! and query decoding, SigV4 and SigV2 in headers and presigned queries, `aws-chunked`
//! bodies with chunk signatures and trailers, `Range` and conditional headers, and the
//! XML request bodies.
//!
//! Shared, unchanged, by the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`, nightly) and
//! the deterministic replay on stable (`s3/tests/fuzz_replay.rs` includes this file with
//! `#[path]`), so a crash the fuzzer finds replays in `cargo test` as is.
//!
//! Each entry takes arbitrary bytes and must not panic. Beyond that, the entries check
//! what must hold for any input: a parsed range lies within the object; an `aws-chunked`
//! body decodes the same however it is split; a body this harness signs decodes to what
//! was signed, and a corrupted signed body never decodes to anything else; a request
//! this harness signs is never refused for its signature; XML text and timestamps the
//! server writes read back as written.
//!
//! Request-shaped inputs are text: a request line (`PUT /bucket/key?query`), then one
//! `name: value` header per line, which become an `http::RequestHead` as the HTTP layer
//! would hand it over (names lowercased, values trimmed).

use http::RequestHead;
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};

use s3::auth::chunked::{
    decoded_content_length_bytes, AwsChunkedDecoder, ChunkSigningContext, ChunkedMode, Trailers,
    TRAILER_FIELDS_MAX,
};
use s3::auth::sigv2::{self, V2Request};
use s3::auth::sigv4::{
    self, AmzDate, AuthHeader, CredentialScope, PayloadHash, PresignedQuery, RequestParts,
    Signature, SignatureLocation, SigningKey, SigningKeyCache, Verified, VerifyParams,
    EMPTY_SHA256_HEX, PRESIGNED_EXPIRES_SECONDS_MAX,
};
use s3::auth::AuthError;
use s3::checksum::{Checksum, ChecksumAlgorithm};
use s3::error::S3ErrorCode;
use s3::ops::conditions::evaluate_read_conditions;
use s3::ops::range::parse_range;
use s3::router::{query_decode, route, RouteInput};
use s3::xml;

/// AWS's documented example secret; every signature here is made and checked with it.
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const REGION: &str = "us-east-1";
/// 2013-05-24T00:00:00Z, the time of AWS's SigV4 examples: the clock when a request
/// names no usable time of its own.
const NOW_DEFAULT_UNIX_SECONDS: i64 = 1_369_353_600;
/// The virtual-host domain the router is given, as AWS's examples address buckets.
const BASE_DOMAIN: &str = "s3.amazonaws.com";
const AMZ_DATE: &str = "20130524T000000Z";
/// The seed signature of AWS's signed `aws-chunked` example (sigv4-streaming.html).
const CHUNK_SEED_SIGNATURE: &str =
    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
/// The ETag conditional headers are compared with.
const ETAG: &str = "\"d41d8cd98f00b204e9800998ecf8427e\"";

/// Parses request-shaped text as described in the module comment. Lenient on purpose:
/// anything the HTTP layer could hand over is representable, and more.
pub fn request_head(data: &[u8]) -> RequestHead {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().unwrap_or("");
    let (method, target) = request_line.split_once(' ').unwrap_or((request_line, "/"));
    let target = target.strip_suffix(" HTTP/1.1").unwrap_or(target);
    let headers = lines.filter_map(|line| {
        let (name, value) = line.split_once(':')?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim_matches([' ', '\t']).to_owned();
        (!name.is_empty()).then_some((name, value))
    });
    RequestHead {
        method: method.to_owned(),
        target: target.to_owned(),
        headers: headers.collect(),
    }
}

/// Routes the request as the service does first, and returns its decoded query.
fn route_query(head: &RequestHead) -> Option<Vec<(String, String)>> {
    let base_domains = [BASE_DOMAIN.to_owned()];
    let input = RouteInput {
        method: &head.method,
        path: head.path(),
        query: head.query(),
        host: head.header("host"),
        headers: &head.headers,
        base_domains: &base_domains,
    };
    let routed = route(&input);
    let query = query_decode(head.query()).ok();
    if let Ok(routed) = &routed {
        assert_eq!(
            Some(&routed.query),
            query.as_ref(),
            "route decodes the query"
        );
    }
    query
}

/// SigV4: the `Authorization` header and presigned queries, parsed and verified as
/// sent, then verified again with the signature this harness computes for them.
pub fn fuzz_sigv4(data: &[u8]) {
    let head = request_head(data);
    if let Some(value) = head.header("x-amz-content-sha256") {
        let _ = PayloadHash::parse(value);
    }
    let _ = decoded_content_length_bytes(&head.headers);
    let Some(query_pairs) = route_query(&head) else {
        return;
    };
    let Ok(path) = percent_decode_str(head.path()).decode_utf8() else {
        return;
    };
    let parts = RequestParts {
        method: &head.method,
        path_decoded: &path,
        query_pairs: &query_pairs,
        headers: &head.headers,
    };
    if sigv4::is_presigned(&query_pairs) {
        sigv4_presigned(&parts);
    }
    if let Some(value) = head.header("authorization") {
        sigv4_header(&parts, value);
    }
}

fn verify_params(now_unix_seconds: i64) -> VerifyParams<'static> {
    VerifyParams {
        secret_access_key: SECRET,
        region_expected: Some(REGION),
        now_unix_seconds,
    }
}

/// The request time verification reads: `x-amz-date`, else `Date`.
fn sigv4_request_date(parts: &RequestParts<'_>) -> Option<AmzDate> {
    match parts.header("x-amz-date") {
        Some(text) => AmzDate::parse(text.trim()),
        None => AmzDate::parse_http_date(parts.header("date")?.trim()),
    }
}

fn sigv4_sign(date: &AmzDate, scope: &CredentialScope, canonical: &str) -> Signature {
    let to_sign = sigv4::string_to_sign(date, scope, canonical);
    sigv4::derive_signing_key(SECRET, scope).sign(to_sign.as_bytes())
}

fn sigv4_header(parts: &RequestParts<'_>, value: &str) {
    let Ok(header) = sigv4::parse_authorization_header(value) else {
        return;
    };
    assert!(header.signed_headers.iter().any(|name| name == "host"));
    let date = sigv4_request_date(parts);
    let now = date
        .as_ref()
        .map_or(NOW_DEFAULT_UNIX_SECONDS, AmzDate::unix_seconds);
    let mut cache = SigningKeyCache::new();
    let _ = sigv4::verify_header(parts, &header, &verify_params(now), &mut cache);
    let (Some(date), Some(payload)) = (date, parts.header("x-amz-content-sha256")) else {
        return;
    };
    let location = SignatureLocation::Header;
    let canonical = sigv4::canonical_request(parts, &header.signed_headers, payload, location);
    let Ok(canonical) = canonical else {
        return;
    };
    let signature = sigv4_sign(&date, &header.credential.scope, &canonical);
    let signed = AuthHeader {
        signature,
        ..header
    };
    match sigv4::verify_header(parts, &signed, &verify_params(now), &mut cache) {
        Err(AuthError::SignatureMismatch) => panic!("a correctly signed request was refused"),
        Ok(verified) => sigv4_check_verified(&verified, &signed.credential.access_key_id),
        Err(_) => {}
    }
}

fn sigv4_presigned(parts: &RequestParts<'_>) {
    let Ok(query) = sigv4::parse_presigned_query(parts.query_pairs) else {
        return;
    };
    assert!((1..=PRESIGNED_EXPIRES_SECONDS_MAX).contains(&query.expires_seconds));
    let now = query.date.unix_seconds();
    let mut cache = SigningKeyCache::new();
    let _ = sigv4::verify_presigned(parts, &query, &verify_params(now), &mut cache);
    let payload = parts
        .query_pairs
        .iter()
        .find(|(n, _)| n == "X-Amz-Content-Sha256");
    let payload = payload.map_or("UNSIGNED-PAYLOAD", |(_, v)| v.as_str());
    let location = SignatureLocation::Query;
    let canonical = sigv4::canonical_request(parts, &query.signed_headers, payload, location);
    let Ok(canonical) = canonical else {
        return;
    };
    let signature = sigv4_sign(&query.date, &query.credential.scope, &canonical);
    let signed = PresignedQuery { signature, ..query };
    match sigv4::verify_presigned(parts, &signed, &verify_params(now), &mut cache) {
        Err(AuthError::SignatureMismatch) => panic!("a correctly presigned URL was refused"),
        Ok(verified) => sigv4_check_verified(&verified, &signed.credential.access_key_id),
        Err(_) => {}
    }
}

fn sigv4_check_verified(verified: &Verified, access_key_id: &str) {
    assert_eq!(verified.access_key_id, access_key_id);
    let mode = ChunkedMode::from_verified(verified);
    assert_eq!(mode.is_some(), verified.payload.is_streaming());
}

/// SigV2: the `Authorization` header and presigned queries, parsed and verified as sent,
/// then with the signature this harness computes.
pub fn fuzz_sigv2(data: &[u8]) {
    let head = request_head(data);
    for name in ["date", "x-amz-date"] {
        if let Some(text) = head.header(name) {
            let _ = sigv2::date_v2_parse(text);
        }
    }
    let Some(query_pairs) = route_query(&head) else {
        return;
    };
    let host = head.header("host").unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(name, _port)| name);
    let suffix = format!(".{BASE_DOMAIN}");
    let req = V2Request {
        method: &head.method,
        raw_path: head.path(),
        bucket_from_host: host.strip_suffix(suffix.as_str()),
        query_pairs: &query_pairs,
        headers: &head.headers,
    };
    if sigv2::is_presigned_v2(&query_pairs) {
        sigv2_presigned(&req);
    }
    match head.header("authorization") {
        Some(value) if sigv2::is_authorization_header_v2(value) => sigv2_header(&req, value),
        _ => {}
    }
}

fn sigv2_presigned(req: &V2Request<'_>) {
    let Ok(query) = sigv2::parse_presigned_query_v2(req.query_pairs) else {
        return;
    };
    // The last second the URL is valid.
    let now = query.expires_unix_seconds;
    let _ = sigv2::verify_v2_presigned(req, &query, SECRET, now);
    let to_sign = sigv2::string_to_sign_v2(req, &query.expires_text);
    let mut signed = query.clone();
    signed.credentials.signature = sigv2::sign_v2(SECRET, &to_sign);
    match sigv2::verify_v2_presigned(req, &signed, SECRET, now) {
        Err(AuthError::SignatureMismatch) => panic!("a correctly presigned V2 URL was refused"),
        Ok(verified) => assert_eq!(verified.access_key_id, query.credentials.access_key_id),
        Err(_) => {}
    }
}

fn sigv2_header(req: &V2Request<'_>, value: &str) {
    let Ok(credentials) = sigv2::parse_authorization_header_v2(value) else {
        return;
    };
    let amz_date = req.header("x-amz-date");
    let time = amz_date.or_else(|| req.header("date"));
    let Some(now) = time.and_then(sigv2::date_v2_parse) else {
        let _ = sigv2::verify_v2_header(req, &credentials, SECRET, NOW_DEFAULT_UNIX_SECONDS);
        return;
    };
    let _ = sigv2::verify_v2_header(req, &credentials, SECRET, now);
    let date_line = match amz_date {
        Some(_) => "",
        None => req.header("date").unwrap_or(""),
    };
    let mut signed = credentials.clone();
    signed.signature = sigv2::sign_v2(SECRET, &sigv2::string_to_sign_v2(req, date_line));
    match sigv2::verify_v2_header(req, &signed, SECRET, now) {
        Err(AuthError::SignatureMismatch) => panic!("a correctly signed V2 request was refused"),
        Ok(verified) => assert_eq!(verified.access_key_id, credentials.access_key_id),
        Err(_) => {}
    }
}

/// `aws-chunked` bodies. Byte 0 chooses: bits 0-1 the mode (signed, signed with
/// trailer, unsigned with trailer), bit 2 whether the rest is the body itself (clear)
/// or a spec this harness turns into a correctly signed body (set: data chunks split at
/// 0xFF, the last piece `name:value` trailer lines), bit 3 whether the decoded length
/// is announced, bit 4 (spec only) whether one byte of the body is then corrupted.
/// Byte 1 seeds the split points.
pub fn fuzz_aws_chunked(data: &[u8]) {
    let [control, split_seed, rest @ ..] = data else {
        return;
    };
    let mode = chunked_mode(control & 3);
    if control & 4 == 0 {
        let length_announced = control & 8 != 0;
        let expected = length_announced.then(|| u64::from(control >> 4) << (split_seed & 7));
        aws_chunked_raw(&mode, rest, expected, *split_seed);
    } else {
        aws_chunked_generated(&mode, *control, *split_seed, rest);
    }
}

fn chunk_scope() -> CredentialScope {
    CredentialScope {
        date: AMZ_DATE[..8].to_owned(),
        region: REGION.to_owned(),
        service: "s3".to_owned(),
    }
}

fn chunked_mode(bits: u8) -> ChunkedMode {
    let context = || ChunkSigningContext {
        signing_key: sigv4::derive_signing_key(SECRET, &chunk_scope()),
        timestamp: AMZ_DATE.to_owned(),
        scope: chunk_scope().to_string(),
        seed_signature: Signature::from_hex(CHUNK_SEED_SIGNATURE).expect("hex"),
    };
    match bits {
        0 => ChunkedMode::Signed(context()),
        1 => ChunkedMode::SignedTrailer(context()),
        _ => ChunkedMode::UnsignedTrailer,
    }
}

/// What one decode produced: `finish`'s result (or the first error), the data handed
/// out, and the body bytes consumed when it succeeded.
type Decoded = (Result<Vec<(String, String)>, AuthError>, Vec<u8>, usize);

fn decode(
    mode: &ChunkedMode,
    body: &[u8],
    expected: Option<u64>,
    mut piece_len: impl FnMut() -> usize,
) -> Decoded {
    let mut decoder = AwsChunkedDecoder::new(mode.clone(), expected);
    let mut out = Vec::new();
    let mut position = 0;
    while position < body.len() {
        let end = (position + piece_len()).min(body.len());
        match decoder.feed(&body[position..end], |d| out.extend_from_slice(d)) {
            Ok(consumed) => {
                assert!(consumed <= end - position);
                position += consumed;
                if position < end {
                    assert!(decoder.is_done(), "input left over before the end");
                    break;
                }
            }
            Err(error) => return (Err(error), out, position),
        }
    }
    assert_eq!(decoder.decoded_bytes(), out.len() as u64);
    let result = decoder.finish().map(|trailers| trailer_fields(&trailers));
    for (name, value) in result.iter().flatten() {
        if let Some(algorithm) = ChecksumAlgorithm::from_header_name(name) {
            let _ = Checksum::from_base64(algorithm, value);
        }
    }
    (result, out, position)
}

fn trailer_fields(trailers: &Trailers) -> Vec<(String, String)> {
    let fields = trailers.iter();
    fields.map(|(n, v)| (n.to_owned(), v.to_owned())).collect()
}

/// Piece lengths from a seed (xorshift), small or large by the seed's low bit.
fn splitter(seed: u8) -> impl FnMut() -> usize {
    let mut state = u64::from(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let max = if seed & 1 == 0 { 7 } else { 300 };
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % max + 1) as usize
    }
}

/// The same body whole, byte by byte and at seeded split points: same outcome.
fn aws_chunked_raw(mode: &ChunkedMode, body: &[u8], expected: Option<u64>, seed: u8) {
    let whole = decode(mode, body, expected, || body.len());
    let bytewise = decode(mode, body, expected, || 1);
    let split = decode(mode, body, expected, splitter(seed));
    for other in [bytewise, split] {
        assert_eq!(whole.0, other.0, "the outcome depends on the split");
        assert_eq!(whole.1, other.1, "the data handed out depends on the split");
        if whole.0.is_ok() {
            assert_eq!(whole.2, other.2, "the body's end depends on the split");
        }
    }
}

/// Chunk data and trailer fields read from a spec (see `fuzz_aws_chunked`), the trailer
/// fields made valid: token names other than the signature's, printable values.
fn chunked_spec(spec: &[u8]) -> (Vec<&[u8]>, Vec<(String, String)>) {
    let mut pieces: Vec<&[u8]> = spec.split(|&b| b == 0xFF).collect();
    let trailer_text = if pieces.len() > 1 { pieces.pop() } else { None };
    let chunks = pieces.into_iter().filter(|p| !p.is_empty()).collect();
    let lines = trailer_text.unwrap_or_default().split(|&b| b == b'\n');
    let fields = lines.filter_map(|line| {
        let colon = line.iter().position(|&b| b == b':')?;
        let name: String = line[..colon]
            .iter()
            .filter(|b| b.is_ascii_alphanumeric() || **b == b'-')
            .map(|&b| char::from(b.to_ascii_lowercase()))
            .collect();
        let value: String = line[colon + 1..]
            .iter()
            .filter(|b| b.is_ascii_graphic() || **b == b' ')
            .take(200)
            .map(|&b| char::from(b))
            .collect();
        let usable = !name.is_empty() && name != "x-amz-trailer-signature";
        usable.then(|| (name, value.trim_matches(' ').to_owned()))
    });
    (chunks, fields.take(TRAILER_FIELDS_MAX).collect())
}

/// Signs chunk after chunk as a client does: each signature chains the previous one.
struct ChunkSigner {
    key: SigningKey,
    previous: Signature,
}

impl ChunkSigner {
    fn sign(&mut self, kind: &str, hashes: &str) -> String {
        let (scope, previous) = (chunk_scope(), hex::encode(self.previous.0));
        let to_sign = format!("AWS4-HMAC-SHA256-{kind}\n{AMZ_DATE}\n{scope}\n{previous}\n{hashes}");
        self.previous = self.key.sign(to_sign.as_bytes());
        hex::encode(self.previous.0)
    }

    fn sign_chunk(&mut self, data: &[u8]) -> String {
        let hash = hex::encode(Sha256::digest(data));
        self.sign("PAYLOAD", &format!("{EMPTY_SHA256_HEX}\n{hash}"))
    }
}

/// The body a client sends for these chunks and trailer fields in `mode`.
fn chunked_body(mode: &ChunkedMode, chunks: &[&[u8]], fields: &[(String, String)]) -> Vec<u8> {
    let mut signer = match mode {
        ChunkedMode::Signed(c) | ChunkedMode::SignedTrailer(c) => Some(ChunkSigner {
            key: c.signing_key.clone(),
            previous: c.seed_signature,
        }),
        ChunkedMode::UnsignedTrailer => None,
    };
    let mut body = Vec::new();
    for data in chunks.iter().copied().chain([&[][..]]) {
        body.extend_from_slice(format!("{:x}", data.len()).as_bytes());
        if let Some(signer) = &mut signer {
            body.extend_from_slice(b";chunk-signature=");
            body.extend_from_slice(signer.sign_chunk(data).as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(data);
        if !data.is_empty() {
            body.extend_from_slice(b"\r\n");
        }
    }
    if !matches!(mode, ChunkedMode::Signed(_)) {
        let mut canonical = String::new();
        for (name, value) in fields {
            body.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
            canonical.push_str(&format!("{name}:{value}\n"));
        }
        if let Some(signer) = &mut signer {
            let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
            let signature = signer.sign("TRAILER", &hash);
            body.extend_from_slice(format!("x-amz-trailer-signature:{signature}\r\n").as_bytes());
        }
    }
    body.extend_from_slice(b"\r\n");
    body
}

fn aws_chunked_generated(mode: &ChunkedMode, control: u8, seed: u8, spec: &[u8]) {
    let (chunks, mut fields) = chunked_spec(spec);
    let mut body = chunked_body(mode, &chunks, &fields);
    if matches!(mode, ChunkedMode::Signed(_)) {
        fields.clear();
    }
    let data = chunks.concat();
    let expected = (control & 8 != 0).then_some(data.len() as u64);
    if control & 16 == 0 {
        let decoded = decode(mode, &body, expected, splitter(seed));
        assert_eq!(decoded.0, Ok(fields), "a well-formed body was refused");
        assert_eq!(decoded.1, data);
        assert_eq!(decoded.2, body.len());
        return;
    }
    let at = (usize::from(seed) * 131 + spec.len()) % body.len();
    body[at] ^= (control >> 5).max(1);
    let (result, out, _) = decode(mode, &body, expected, splitter(seed));
    let Ok(trailers) = result else {
        return;
    };
    match mode {
        ChunkedMode::Signed(_) => assert_eq!(out, data, "a corrupted signed body decoded"),
        ChunkedMode::SignedTrailer(_) => {
            assert_eq!(out, data, "a corrupted signed body decoded");
            assert_eq!(trailers, fields, "a corrupted signed trailer decoded");
        }
        ChunkedMode::UnsignedTrailer => {}
    }
}

/// `Range` and the conditional headers. Bytes 0-8 give the object's size (byte 0 a
/// right shift of the u64 in bytes 1-8, so small and huge sizes are both common) and
/// its last-modified time; the rest are header lines.
pub fn fuzz_range_conditions(data: &[u8]) {
    if data.len() < 9 {
        return;
    }
    let raw = u64::from_le_bytes(data[1..9].try_into().expect("8 bytes"));
    let size = raw.checked_shr(u32::from(data[0] % 65)).unwrap_or(0);
    let mut text = b"GET /bucket/key\n".to_vec();
    text.extend_from_slice(&data[9..]);
    let head = request_head(&text);
    for value in head.header_all("range") {
        match parse_range(value, size) {
            Ok(Some(range)) => {
                assert!(range.start <= range.end_inclusive, "{range:?} of {size}");
                assert!(range.end_inclusive < size, "{range:?} of {size}");
            }
            Ok(None) => {}
            Err(error) => assert_eq!(error.code, S3ErrorCode::InvalidRange),
        }
    }
    if let Err(error) = evaluate_read_conditions(&head, ETAG, raw) {
        assert_eq!(error.code, S3ErrorCode::PreconditionFailed);
    }
}

/// Every XML request-body parser on the same bytes; then the writer's escaping and
/// timestamps read back by the parsers.
pub fn fuzz_xml(data: &[u8]) {
    let _ = xml::parse_delete(data);
    let _ = xml::parse_create_bucket_configuration(data);
    let _ = xml::parse_complete_multipart_upload(data);
    let _ = xml::parse_tagging(data);
    let _ = xml::parse_server_side_encryption_configuration(data);
    let _ = xml::parse_object_lock_configuration(data);
    let _ = xml::parse_retention(data);
    let _ = xml::parse_legal_hold(data);
    let _ = s3::ops::acl::grants_of_document(&Default::default(), data);
    let _ = xml::parse_restore_request(data);
    let _ = xml::parse_versioning_configuration(data);
    let _ = s3::ops::lifecycle::parse_configuration(data);
    let _ = s3::ops::cors::CorsConfiguration::parse(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(unix_ms) = xml::parse_timestamp(text) {
        let written = xml::format_timestamp(unix_ms);
        assert_eq!(xml::parse_timestamp(&written), Some(unix_ms), "{text:?}");
    }
    xml_text_round_trip(text);
}

/// Text the writer escapes reads back unchanged, if XML 1.0 can carry it at all.
fn xml_text_round_trip(text: &str) {
    if text.contains('\0') {
        return;
    }
    let mut out = Vec::new();
    let mut w = xml::XmlWriter::document(&mut out);
    w.open_root("Tagging");
    w.open("TagSet");
    w.open("Tag");
    w.text("Key", text);
    w.text("Value", text);
    w.close("Tag");
    w.close("TagSet");
    w.close("Tagging");
    let parsed = xml::parse_tagging(&out);
    let expected = vec![(text.to_owned(), text.to_owned())];
    assert_eq!(
        parsed.ok(),
        Some(expected),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

/// The policy grammar of every kind and its evaluation, and the IAM/STS form parser: a
/// document that parses is evaluated against a few requests (anonymous, a user, a role
/// session with the document as its session policy) without panicking; an explicit Deny
/// in the identity policy is never overridden; the form parser never yields more
/// parameters than its limit.
pub fn fuzz_policy(data: &[u8]) {
    if let Ok(request) = s3::query::QueryRequest::from_form(s3::query::QueryService::Iam, data) {
        assert!(request.params.len() <= s3::query::QUERY_PARAMS_MAX);
        let _ = request.list("PolicyArns.member", ".arn");
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = iam::limits::policy_size_chars(text);
    for kind in [
        iam::PolicyKind::Identity,
        iam::PolicyKind::Bucket,
        iam::PolicyKind::Trust,
        iam::PolicyKind::Session,
    ] {
        let Ok(policy) = iam::parse_policy(text, kind) else {
            continue;
        };
        let _ = policy.is_public();
        let _ = policy.named_principals();
        let _ = policy.references_condition_key_prefix("s3:existingobjecttag/");
        let _ = policy.check_bucket_resources("bucket");
        policy_evaluate(policy, kind);
    }
}

struct FuzzFacts;

impl iam::ConditionValues for FuzzFacts {
    fn values(&self, key_lower: &str) -> Option<Vec<String>> {
        match key_lower {
            "aws:sourceip" => Some(vec!["192.0.2.7".into()]),
            "aws:securetransport" => Some(vec!["false".into()]),
            "s3:prefix" => Some(vec!["home/alice/".into()]),
            "s3:max-keys" => Some(vec!["1000".into()]),
            _ => None,
        }
    }
}

fn policy_evaluate(policy: iam::Policy, kind: iam::PolicyKind) {
    use std::sync::Arc;
    let policy = Arc::new(policy);
    let deny_all = Arc::new(
        iam::parse_policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
            iam::PolicyKind::Identity,
        )
        .expect("a valid policy"),
    );
    let named = |name: &str, policy: &Arc<iam::Policy>| iam::NamedPolicy {
        name: name.into(),
        policy: policy.clone(),
    };
    let identity = matches!(kind, iam::PolicyKind::Identity | iam::PolicyKind::Session);
    let user = iam::Principal {
        kind: iam::PrincipalKind::User,
        account_id: "111122223333".into(),
        canonical_id: "c".repeat(64),
        arn: "arn:aws:iam::111122223333:user/alice".into(),
        user_id: "AIDAEXAMPLE".into(),
        name: "alice".into(),
        role_arn: None,
        policies: if identity {
            vec![named("fuzzed", &policy)]
        } else {
            Vec::new()
        },
        session_policies: Vec::new(),
    };
    let session = iam::Principal {
        kind: iam::PrincipalKind::AssumedRole,
        arn: "arn:aws:sts::111122223333:assumed-role/reader/s1".into(),
        role_arn: Some("arn:aws:iam::111122223333:role/reader".into()),
        name: String::new(),
        session_policies: identity
            .then(|| named("session", &policy))
            .into_iter()
            .collect(),
        ..user.clone()
    };
    let denied = iam::Principal {
        policies: vec![named("deny", &deny_all)],
        ..user.clone()
    };
    let resource_policy = (!identity).then_some(&*policy);
    for (action, resource) in [
        ("s3:GetObject", "arn:aws:s3:::bucket/home/alice/x"),
        ("s3:ListBucket", "arn:aws:s3:::bucket"),
        ("sts:AssumeRole", "arn:aws:iam::111122223333:role/reader"),
        ("iam:CreateUser", "arn:aws:iam::111122223333:user/bob"),
    ] {
        for principal in [None, Some(&user), Some(&session), Some(&denied)] {
            let decision = iam::authorize(&iam::Request {
                principal,
                action,
                resource,
                resource_account: Some("111122223333"),
                resource_policy,
                restrict_resource_policy_to_account: false,
                acl: None,
                now_ms: 1_700_000_000_000,
                facts: &FuzzFacts,
            });
            if principal.is_some_and(|p| std::ptr::eq(p, &denied)) {
                assert!(
                    !decision.allowed,
                    "an explicit Deny was overridden: {action}"
                );
            }
        }
    }
}
