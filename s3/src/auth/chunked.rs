//! Incremental decoder for `Content-Encoding: aws-chunked` request bodies:
//! signed chunks (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`), signed chunks with a
//! signed trailer (`...-PAYLOAD-TRAILER`), and unsigned chunks with a
//! trailer (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`, the 2025 SDK default).
//!
//! Owns: the framing (`hex-size[;chunk-signature=<sig>]\r\n<data>\r\n`, a
//! final zero-size chunk, then `name:value\r\n` trailer lines and an
//! optional final `\r\n`), chunk and trailer signature checks, and the
//! decoded length. Bytes may arrive split anywhere; memory per decoder is
//! bounded by the line limits below whatever the input.
//!
//! Must not touch: I/O, checksums of the data (the caller hashes what
//! `feed` hands out and compares with `Trailers`), storage.
//!
//! Data is handed out before the chunk that carries it has been verified
//! (its signature covers the whole chunk). The caller must therefore treat
//! every byte as provisional until `finish` returns `Ok`, and discard the
//! upload on any error, as it does for a single-chunk payload hash.
//!
//! Main types: `ChunkedMode`, `ChunkSigningContext`, `AwsChunkedDecoder`,
//! `Trailers`.

use hmac::Mac;
use sha2::{Digest, Sha256};

use super::sigv4::{Signature, SigningKey, Verified, EMPTY_SHA256_HEX};
use super::AuthError;

/// Longest chunk-size line, in bytes including CRLF. A signed line is about
/// 90 bytes (16 hex digits and an 81-byte signature extension); the rest
/// leaves room for extensions we ignore while bounding per-request memory.
pub const CHUNK_HEADER_LINE_BYTES_MAX: usize = 1024;
/// Longest trailer line, in bytes including CRLF. The longest value we
/// expect is a base64 SHA-256 (44 bytes) or a hex signature (64 bytes).
pub const TRAILER_LINE_BYTES_MAX: usize = 1024;
/// Most trailing headers accepted. SDKs send one checksum and a signature.
pub const TRAILER_FIELDS_MAX: usize = 16;
/// A u64 needs at most 16 hex digits.
const CHUNK_SIZE_HEX_DIGITS_MAX: usize = 16;
const TRAILER_SIGNATURE_NAME: &str = "x-amz-trailer-signature";

/// What a streaming chunk decoder needs from the verified request: the
/// signing key, the strings-to-sign prefix, and the seed signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkSigningContext {
    pub signing_key: SigningKey,
    /// `20130524T000000Z`.
    pub timestamp: String,
    /// `20130524/us-east-1/s3/aws4_request`.
    pub scope: String,
    /// The request's own signature, which the first chunk chains from.
    pub seed_signature: Signature,
}

impl ChunkSigningContext {
    pub fn from_verified(verified: &Verified) -> Self {
        ChunkSigningContext {
            signing_key: verified.signing_key.clone(),
            timestamp: verified.date.timestamp().to_owned(),
            scope: verified.scope.to_string(),
            seed_signature: verified.signature,
        }
    }
}

/// The three `aws-chunked` forms, with the signing material where needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkedMode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: every chunk signed, no trailer.
    Signed(ChunkSigningContext),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: chunks and trailer signed.
    SignedTrailer(ChunkSigningContext),
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: plain chunks, unsigned trailer.
    UnsignedTrailer,
}

impl ChunkedMode {
    /// The mode a verified request's `x-amz-content-sha256` announces, or
    /// `None` when its body is not `aws-chunked`.
    pub fn from_verified(verified: &Verified) -> Option<Self> {
        use super::sigv4::PayloadHash as P;
        let context = || ChunkSigningContext::from_verified(verified);
        match verified.payload {
            P::StreamingSigned => Some(Self::Signed(context())),
            P::StreamingSignedTrailer => Some(Self::SignedTrailer(context())),
            P::StreamingUnsignedTrailer => Some(Self::UnsignedTrailer),
            P::Unsigned | P::Sha256(_) => None,
        }
    }
}

/// Reads `x-amz-decoded-content-length` (the object's size) from headers
/// given as in `RequestParts` (lowercase names).
pub fn decoded_content_length_bytes(headers: &[(String, String)]) -> Result<u64, AuthError> {
    let (_, text) = headers
        .iter()
        .find(|(name, _)| name == "x-amz-decoded-content-length")
        .ok_or(AuthError::DecodedLengthMissing)?;
    let text = text.trim();
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AuthError::DecodedLengthInvalid);
    }
    text.parse().map_err(|_| AuthError::DecodedLengthInvalid)
}

/// The trailing headers that followed the final chunk, names lowercased,
/// without `x-amz-trailer-signature`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trailers {
    fields: Vec<(String, String)>,
}

impl Trailers {
    /// The value of a trailing header (`name` lowercase), e.g.
    /// `x-amz-checksum-crc32`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Checks the chain of chunk signatures and the trailer signature.
#[derive(Debug, Clone)]
struct ChunkVerifier {
    signing_key: SigningKey,
    /// `AWS4-HMAC-SHA256-PAYLOAD\n<timestamp>\n<scope>\n`.
    chunk_prefix: String,
    /// `AWS4-HMAC-SHA256-TRAILER\n<timestamp>\n<scope>\n`.
    trailer_prefix: String,
    /// The last verified signature (the seed before the first chunk).
    signature_previous: Signature,
    /// The signature the current chunk header claims.
    signature_claimed: Signature,
    /// SHA-256 of the current chunk's data, then of the canonical trailer.
    hasher: Sha256,
}

impl ChunkVerifier {
    fn new(context: ChunkSigningContext) -> Self {
        let (ts, scope) = (&context.timestamp, &context.scope);
        ChunkVerifier {
            chunk_prefix: format!("AWS4-HMAC-SHA256-PAYLOAD\n{ts}\n{scope}\n"),
            trailer_prefix: format!("AWS4-HMAC-SHA256-TRAILER\n{ts}\n{scope}\n"),
            signing_key: context.signing_key,
            signature_previous: context.seed_signature,
            signature_claimed: context.seed_signature,
            hasher: Sha256::new(),
        }
    }

    /// Checks the current chunk: the string to sign chains the previous
    /// signature, the empty hash AWS reserves, and the chunk's hash.
    fn verify_chunk(&mut self) -> Result<(), AuthError> {
        let chunk_hash = self.hasher.finalize_reset();
        let computed = self.sign(
            &self.chunk_prefix,
            &[EMPTY_SHA256_HEX.as_bytes(), b"\n", &hex_lower(&chunk_hash)],
        );
        if !computed.ct_matches(&self.signature_claimed) {
            return Err(AuthError::ChunkSignatureMismatch);
        }
        self.signature_previous = self.signature_claimed;
        Ok(())
    }

    /// Checks the trailer signature over the canonical trailer already fed
    /// to `hasher` (`name:value\n` per field).
    fn verify_trailer(&mut self, claimed: &Signature) -> Result<(), AuthError> {
        let trailer_hash = self.hasher.finalize_reset();
        let computed = self.sign(&self.trailer_prefix, &[&hex_lower(&trailer_hash)]);
        if !computed.ct_matches(claimed) {
            return Err(AuthError::TrailerSignatureMismatch);
        }
        Ok(())
    }

    fn sign(&self, prefix: &str, tail: &[&[u8]]) -> Signature {
        let mut mac = self.signing_key.mac();
        mac.update(prefix.as_bytes());
        mac.update(&hex_lower(&self.signature_previous.0));
        mac.update(b"\n");
        for piece in tail {
            mac.update(piece);
        }
        Signature(mac.finalize().into_bytes().into())
    }
}

fn hex_lower(bytes: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    hex::encode_to_slice(bytes, &mut out).expect("32 bytes encode to 64 hex characters");
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Accumulating a `hex-size[;ext]\r\n` line.
    ChunkHeader,
    /// Passing chunk data through.
    ChunkData {
        remaining_bytes: u64,
    },
    /// Expecting the CRLF that ends a chunk's data; `seen` bytes of it read.
    ChunkDataEnd {
        seen: u8,
    },
    /// After the zero-size chunk: trailer lines until an empty line.
    Trailer,
    Done,
    /// An error was returned; the decoder accepts nothing more.
    Failed,
}

/// Decodes an `aws-chunked` body fed in pieces of any size.
///
/// `feed` hands decoded data to a callback and returns how many input bytes
/// it consumed (all of them, unless the body ended inside this input).
/// `finish` is called at the end of the HTTP body.
#[derive(Debug, Clone)]
pub struct AwsChunkedDecoder {
    verifier: Option<ChunkVerifier>,
    trailer_allowed: bool,
    state: State,
    /// The partial chunk-header or trailer line, bounded by the line limits.
    line: Vec<u8>,
    decoded_bytes: u64,
    decoded_bytes_expected: Option<u64>,
    trailers: Trailers,
    trailer_signature: Option<Signature>,
}

impl AwsChunkedDecoder {
    /// `decoded_bytes_expected` is `x-amz-decoded-content-length`, checked as
    /// soon as a chunk would exceed it and again by `finish`.
    pub fn new(mode: ChunkedMode, decoded_bytes_expected: Option<u64>) -> Self {
        let (verifier, trailer_allowed) = match mode {
            ChunkedMode::Signed(context) => (Some(ChunkVerifier::new(context)), false),
            ChunkedMode::SignedTrailer(context) => (Some(ChunkVerifier::new(context)), true),
            ChunkedMode::UnsignedTrailer => (None, true),
        };
        AwsChunkedDecoder {
            verifier,
            trailer_allowed,
            state: State::ChunkHeader,
            line: Vec::with_capacity(128),
            decoded_bytes: 0,
            decoded_bytes_expected,
            trailers: Trailers::default(),
            trailer_signature: None,
        }
    }

    /// Decoded bytes handed out so far.
    pub fn decoded_bytes(&self) -> u64 {
        self.decoded_bytes
    }

    /// Whether the body's end (final chunk and trailer) has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes `input`, calling `on_data` with each run of object data.
    /// Returns the number of input bytes consumed. After an error the
    /// decoder stays failed.
    pub fn feed(
        &mut self,
        input: &[u8],
        mut on_data: impl FnMut(&[u8]),
    ) -> Result<usize, AuthError> {
        let mut consumed = 0;
        while consumed < input.len() && self.state != State::Done {
            match self.step(&input[consumed..], &mut on_data) {
                Ok(step_bytes) => consumed += step_bytes,
                Err(error) => {
                    self.state = State::Failed;
                    return Err(error);
                }
            }
        }
        Ok(consumed)
    }

    /// Ends the body: it must have ended at the end of the trailer section
    /// (the final empty line may be missing, as some clients omit it), and
    /// its decoded length must match. Returns the trailing headers.
    pub fn finish(&mut self) -> Result<Trailers, AuthError> {
        let result = self.finish_inner();
        self.state = if result.is_ok() {
            State::Done
        } else {
            State::Failed
        };
        result
    }

    fn finish_inner(&mut self) -> Result<Trailers, AuthError> {
        match self.state {
            State::Done => {}
            State::Trailer if self.line.is_empty() || self.line == b"\r" => self.end_trailer()?,
            State::Failed => return Err(AuthError::ChunkMalformed("the body already failed")),
            _ => return Err(AuthError::BodyTruncated),
        }
        if let Some(expected_bytes) = self.decoded_bytes_expected {
            if expected_bytes != self.decoded_bytes {
                let actual_bytes = self.decoded_bytes;
                return Err(AuthError::DecodedLengthMismatch {
                    expected_bytes,
                    actual_bytes,
                });
            }
        }
        Ok(std::mem::take(&mut self.trailers))
    }

    /// Advances one state; returns the input bytes consumed (at least one).
    fn step(&mut self, input: &[u8], on_data: &mut impl FnMut(&[u8])) -> Result<usize, AuthError> {
        match self.state {
            State::ChunkHeader => {
                let limit = CHUNK_HEADER_LINE_BYTES_MAX;
                let (consumed, complete) = self.take_line(input, limit, "chunk header too long")?;
                if complete {
                    self.start_chunk()?;
                }
                Ok(consumed)
            }
            State::ChunkData { remaining_bytes } => self.pass_data(input, remaining_bytes, on_data),
            State::ChunkDataEnd { seen } => self.chunk_data_end(input[0], seen).map(|()| 1),
            State::Trailer => {
                let limit = TRAILER_LINE_BYTES_MAX;
                let (consumed, complete) = self.take_line(input, limit, "trailer line too long")?;
                if complete {
                    self.trailer_line()?;
                }
                Ok(consumed)
            }
            State::Done => Ok(0),
            State::Failed => Err(AuthError::ChunkMalformed("the body already failed")),
        }
    }

    /// Appends input up to and including `\n` to `line`. Returns the bytes
    /// consumed and whether the line is complete.
    fn take_line(
        &mut self,
        input: &[u8],
        limit_bytes: usize,
        too_long: &'static str,
    ) -> Result<(usize, bool), AuthError> {
        let (piece, complete) = match input.iter().position(|&b| b == b'\n') {
            Some(end) => (&input[..=end], true),
            None => (input, false),
        };
        if self.line.len() + piece.len() > limit_bytes {
            return Err(if self.state == State::Trailer {
                AuthError::TrailerMalformed(too_long)
            } else {
                AuthError::ChunkMalformed(too_long)
            });
        }
        self.line.extend_from_slice(piece);
        Ok((piece.len(), complete))
    }

    /// The line without its `\n` and an optional `\r` before it.
    fn line_text(&self) -> &[u8] {
        let line = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
        line.strip_suffix(b"\r").unwrap_or(line)
    }

    /// Parses a complete chunk-size line and enters the chunk.
    fn start_chunk(&mut self) -> Result<(), AuthError> {
        let (size_bytes, signature) = parse_chunk_header(self.line_text())?;
        self.line.clear();
        if let Some(verifier) = &mut self.verifier {
            verifier.signature_claimed =
                signature.ok_or(AuthError::ChunkMalformed("chunk-signature missing"))?;
        }
        let total_bytes = self.decoded_bytes.checked_add(size_bytes);
        if let (Some(expected_bytes), Some(total_bytes)) =
            (self.decoded_bytes_expected, total_bytes)
        {
            if total_bytes > expected_bytes {
                let actual_bytes = total_bytes;
                return Err(AuthError::DecodedLengthMismatch {
                    expected_bytes,
                    actual_bytes,
                });
            }
        }
        if size_bytes > 0 {
            self.state = State::ChunkData {
                remaining_bytes: size_bytes,
            };
            return Ok(());
        }
        // The zero-size chunk ends the data: its signature covers no bytes,
        // and the trailer section (possibly just the final CRLF) follows.
        if let Some(verifier) = &mut self.verifier {
            verifier.verify_chunk()?;
        }
        self.state = State::Trailer;
        Ok(())
    }

    fn pass_data(
        &mut self,
        input: &[u8],
        remaining_bytes: u64,
        on_data: &mut impl FnMut(&[u8]),
    ) -> Result<usize, AuthError> {
        let take_bytes =
            usize::try_from(remaining_bytes).map_or(input.len(), |r| r.min(input.len()));
        let data = &input[..take_bytes];
        if let Some(verifier) = &mut self.verifier {
            verifier.hasher.update(data);
        }
        on_data(data);
        self.decoded_bytes += take_bytes as u64;
        let remaining_bytes = remaining_bytes - take_bytes as u64;
        if remaining_bytes > 0 {
            self.state = State::ChunkData { remaining_bytes };
        } else {
            if let Some(verifier) = &mut self.verifier {
                verifier.verify_chunk()?;
            }
            self.state = State::ChunkDataEnd { seen: 0 };
        }
        Ok(take_bytes)
    }

    fn chunk_data_end(&mut self, byte: u8, seen: u8) -> Result<(), AuthError> {
        self.state = match (seen, byte) {
            (0, b'\r') => State::ChunkDataEnd { seen: 1 },
            (1, b'\n') => State::ChunkHeader,
            _ => return Err(AuthError::ChunkMalformed("chunk data not followed by CRLF")),
        };
        Ok(())
    }

    /// Handles one complete trailer line; an empty line ends the body.
    fn trailer_line(&mut self) -> Result<(), AuthError> {
        if self.line_text().is_empty() {
            self.line.clear();
            self.end_trailer()?;
            self.state = State::Done;
            return Ok(());
        }
        if !self.trailer_allowed {
            return Err(AuthError::TrailerMalformed(
                "trailer sent without a trailer mode",
            ));
        }
        let (name, value) = parse_trailer_line(self.line_text())?;
        self.line.clear();
        if name == TRAILER_SIGNATURE_NAME {
            return self.trailer_signature_line(&value);
        }
        if self.trailer_signature.is_some() {
            return Err(AuthError::TrailerMalformed(
                "a field follows x-amz-trailer-signature",
            ));
        }
        if self.trailers.fields.len() >= TRAILER_FIELDS_MAX {
            return Err(AuthError::TrailerMalformed("too many trailing headers"));
        }
        if let Some(verifier) = &mut self.verifier {
            // The canonical trailer AWS signs: `name:value\n` per field.
            for piece in [name.as_bytes(), b":", value.as_bytes(), b"\n"] {
                verifier.hasher.update(piece);
            }
        }
        self.trailers.fields.push((name, value));
        Ok(())
    }

    /// Unsigned-trailer uploads have nothing to check it against, so a
    /// signature there is ignored rather than trusted.
    fn trailer_signature_line(&mut self, value: &str) -> Result<(), AuthError> {
        if self.verifier.is_none() {
            return Ok(());
        }
        let signature = Signature::from_hex(value).ok_or(AuthError::TrailerMalformed(
            "x-amz-trailer-signature is not hex",
        ))?;
        if self.trailer_signature.replace(signature).is_some() {
            return Err(AuthError::TrailerMalformed(
                "x-amz-trailer-signature repeated",
            ));
        }
        Ok(())
    }

    /// The trailer section is complete: check its signature if signed.
    fn end_trailer(&mut self) -> Result<(), AuthError> {
        let Some(verifier) = &mut self.verifier else {
            return Ok(());
        };
        if !self.trailer_allowed {
            return Ok(());
        }
        let claimed = self
            .trailer_signature
            .ok_or(AuthError::TrailerSignatureMissing)?;
        verifier.verify_trailer(&claimed)
    }
}

/// Parses `hex-size[;name=value]*` into the size and the chunk signature.
fn parse_chunk_header(line: &[u8]) -> Result<(u64, Option<Signature>), AuthError> {
    let malformed = AuthError::ChunkMalformed;
    let text = std::str::from_utf8(line).map_err(|_| malformed("chunk header is not text"))?;
    let mut parts = text.split(';');
    let size_text = parts.next().unwrap_or("").trim_matches([' ', '\t']);
    let hex_ok = size_text.bytes().all(|b| b.is_ascii_hexdigit());
    if size_text.is_empty() || size_text.len() > CHUNK_SIZE_HEX_DIGITS_MAX || !hex_ok {
        return Err(malformed("chunk size is not hexadecimal"));
    }
    let size_bytes = u64::from_str_radix(size_text, 16).map_err(|_| malformed("chunk size"))?;
    let mut signature = None;
    for extension in parts {
        let (name, value) = extension.split_once('=').unwrap_or((extension, ""));
        if name.trim_matches([' ', '\t']) != "chunk-signature" {
            continue;
        }
        let parsed = Signature::from_hex(value.trim_matches([' ', '\t']))
            .ok_or(malformed("chunk-signature is not 64 hex characters"))?;
        if signature.replace(parsed).is_some() {
            return Err(malformed("chunk-signature repeated"));
        }
    }
    Ok((size_bytes, signature))
}

/// Parses `name:value`, lowercasing the name and trimming the value.
fn parse_trailer_line(line: &[u8]) -> Result<(String, String), AuthError> {
    let malformed = AuthError::TrailerMalformed;
    let text = std::str::from_utf8(line).map_err(|_| malformed("trailer line is not text"))?;
    let (name, value) = text
        .split_once(':')
        .ok_or(malformed("trailer line has no ':'"))?;
    let name = name.trim_matches([' ', '\t']);
    let name_ok = name.bytes().all(|b| b.is_ascii_graphic());
    if name.is_empty() || !name_ok {
        return Err(malformed("trailer name is invalid"));
    }
    Ok((
        name.to_ascii_lowercase(),
        value.trim_matches([' ', '\t']).to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sigv4::{
        derive_signing_key, parse_authorization_header, verify_header, CredentialScope,
        RequestParts, SigningKeyCache, VerifyParams,
    };
    use crate::checksum::{ChecksumAlgorithm, ChecksumHasher};

    // AWS's chunked-upload examples (sigv4-streaming.html and
    // sigv4-streaming-trailers.html): 65 536 + 1 024 bytes of 'a'.
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const AMZ_DATE: &str = "20130524T000000Z";
    const NOW: i64 = 1_369_353_600;
    const DECODED_BYTES: u64 = 66_560;
    const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    const SIGNATURES: [&str; 3] = [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ];
    const TRAILER_SEED: &str = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";
    const TRAILER_SIGNATURES: [&str; 3] = [
        "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
        "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
        "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
    ];
    const TRAILER: &str = "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:\
        d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n";

    fn scope() -> CredentialScope {
        CredentialScope {
            date: "20130524".into(),
            region: "us-east-1".into(),
            service: "s3".into(),
        }
    }

    fn context(seed: &str) -> ChunkSigningContext {
        ChunkSigningContext {
            signing_key: derive_signing_key(SECRET, &scope()),
            timestamp: AMZ_DATE.into(),
            scope: scope().to_string(),
            seed_signature: Signature::from_hex(seed).unwrap(),
        }
    }

    fn aws_body(signatures: [&str; 3], trailer: &str) -> Vec<u8> {
        let mut body = format!("10000;chunk-signature={}\r\n", signatures[0]).into_bytes();
        body.extend_from_slice(&[b'a'; 65_536]);
        body.extend_from_slice(format!("\r\n400;chunk-signature={}\r\n", signatures[1]).as_bytes());
        body.extend_from_slice(&[b'a'; 1024]);
        body.extend_from_slice(format!("\r\n0;chunk-signature={}\r\n", signatures[2]).as_bytes());
        body.extend_from_slice(trailer.as_bytes());
        body.extend_from_slice(b"\r\n");
        body
    }

    fn signed_example() -> (ChunkedMode, Vec<u8>) {
        (ChunkedMode::Signed(context(SEED)), aws_body(SIGNATURES, ""))
    }

    fn trailer_example() -> (ChunkedMode, Vec<u8>) {
        let mode = ChunkedMode::SignedTrailer(context(TRAILER_SEED));
        (mode, aws_body(TRAILER_SIGNATURES, TRAILER))
    }

    /// Deterministic piece sizes, so a failing split reproduces.
    struct Splitter(u64);

    impl Splitter {
        fn next_len(&mut self, max: u64) -> usize {
            // xorshift64: enough randomness for split points.
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % max + 1) as usize
        }
    }

    type Decoded = (Vec<u8>, Trailers);

    fn decode_with(
        mode: &ChunkedMode,
        body: &[u8],
        expected: Option<u64>,
        mut piece_len: impl FnMut() -> usize,
    ) -> Result<Decoded, AuthError> {
        let mut decoder = AwsChunkedDecoder::new(mode.clone(), expected);
        let mut out = Vec::new();
        let mut position = 0;
        while position < body.len() {
            let end = (position + piece_len()).min(body.len());
            let consumed = decoder.feed(&body[position..end], |d| out.extend_from_slice(d))?;
            assert_eq!(consumed, end - position, "the body ended early");
            position = end;
        }
        assert_eq!(decoder.decoded_bytes(), out.len() as u64);
        Ok((out, decoder.finish()?))
    }

    fn decode(mode: &ChunkedMode, body: &[u8]) -> Result<Decoded, AuthError> {
        decode_with(mode, body, Some(DECODED_BYTES), || usize::MAX / 2)
    }

    /// Whole, one byte at a time, and at pseudo-random split points.
    fn decode_every_way(mode: &ChunkedMode, body: &[u8], expected: Option<u64>) -> Decoded {
        let whole = decode_with(mode, body, expected, || body.len()).unwrap();
        assert_eq!(decode_with(mode, body, expected, || 1).unwrap(), whole);
        for seed in 1..=20u64 {
            let mut splitter = Splitter(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let max = if seed % 2 == 0 { 7 } else { 70_000 };
            let pieces = decode_with(mode, body, expected, || splitter.next_len(max));
            assert_eq!(pieces.unwrap(), whole, "seed {seed}");
        }
        whole
    }

    #[test]
    fn the_documented_signed_upload_decodes_however_it_is_split() {
        let (mode, body) = signed_example();
        let (data, trailers) = decode_every_way(&mode, &body, Some(DECODED_BYTES));
        assert_eq!(data, vec![b'a'; 66_560]);
        assert!(trailers.is_empty());
    }

    #[test]
    fn the_documented_signed_trailer_upload_decodes_however_it_is_split() {
        let (mode, body) = trailer_example();
        let (data, trailers) = decode_every_way(&mode, &body, Some(DECODED_BYTES));
        assert_eq!(data, vec![b'a'; 66_560]);
        assert_eq!(trailers.len(), 1);
        let sent = trailers.get("x-amz-checksum-crc32c").unwrap();
        let mut hasher = ChecksumHasher::new(ChecksumAlgorithm::Crc32c);
        hasher.update(&data);
        assert_eq!(hasher.finalize().to_base64(), sent);
    }

    /// The seed requests of both AWS examples verify, and `from_verified`
    /// hands the decoder what it needs to check the documented bodies.
    #[test]
    fn the_documented_seed_requests_drive_the_decoder() {
        let signed = "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;\
                      x-amz-decoded-content-length;x-amz-storage-class";
        let trailer = "content-encoding;host;x-amz-content-sha256;x-amz-date;\
                       x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer";
        let cases = [
            (
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                signed,
                SEED,
                signed_example().1,
            ),
            (
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                trailer,
                TRAILER_SEED,
                trailer_example().1,
            ),
        ];
        for (payload, signed_headers, seed, body) in cases {
            let headers: Vec<(String, String)> = [
                ("host", "s3.amazonaws.com"),
                ("x-amz-date", AMZ_DATE),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ("x-amz-content-sha256", payload),
                ("content-encoding", "aws-chunked"),
                ("x-amz-decoded-content-length", "66560"),
                ("x-amz-trailer", "x-amz-checksum-crc32c"),
                ("content-length", "66824"),
            ]
            .iter()
            // Each example sends only the headers it signs (and the length).
            .filter(|(n, _)| *n == "content-length" || signed_headers.split(';').any(|s| s == *n))
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
            let parts = RequestParts {
                method: "PUT",
                path_decoded: "/examplebucket/chunkObject.txt",
                query_pairs: &[],
                headers: &headers,
            };
            let authorization = format!(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/\
                 aws4_request,SignedHeaders={signed_headers},Signature={seed}"
            );
            let header = parse_authorization_header(&authorization).unwrap();
            let params = VerifyParams {
                secret_access_key: SECRET,
                region_expected: Some("us-east-1"),
                now_unix_seconds: NOW,
            };
            let verified = verify_header(&parts, &header, &params, &mut SigningKeyCache::new());
            let verified = verified.unwrap();
            let mode = ChunkedMode::from_verified(&verified).unwrap();
            let expected = decoded_content_length_bytes(&headers).unwrap();
            let (data, _) = decode_with(&mode, &body, Some(expected), || 4096).unwrap();
            assert_eq!(data.len(), 66_560);
        }
    }

    /// Encodes a signed body the way an SDK does, computing each string to
    /// sign from the documentation's formula.
    fn encode_signed(chunks: &[&[u8]], trailers: &[(&str, &str)], with_trailer: bool) -> Vec<u8> {
        let key = derive_signing_key(SECRET, &scope());
        let scope = scope().to_string();
        let mut previous = SEED.to_string();
        let mut body = Vec::new();
        let empty: &[u8] = b"";
        for data in chunks.iter().copied().chain([empty]) {
            let to_sign = format!(
                "AWS4-HMAC-SHA256-PAYLOAD\n{AMZ_DATE}\n{scope}\n{previous}\n{EMPTY_SHA256_HEX}\n{}",
                hex::encode(Sha256::digest(data))
            );
            previous = key.sign(to_sign.as_bytes()).to_hex();
            body.extend_from_slice(
                format!("{:x};chunk-signature={previous}\r\n", data.len()).as_bytes(),
            );
            body.extend_from_slice(data);
            if !data.is_empty() {
                body.extend_from_slice(b"\r\n");
            }
        }
        let mut canonical = String::new();
        for (name, value) in trailers {
            body.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
            canonical.push_str(&format!("{name}:{value}\n"));
        }
        if with_trailer {
            let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
            let to_sign =
                format!("AWS4-HMAC-SHA256-TRAILER\n{AMZ_DATE}\n{scope}\n{previous}\n{hash}");
            let signature = key.sign(to_sign.as_bytes()).to_hex();
            body.extend_from_slice(format!("x-amz-trailer-signature:{signature}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body
    }

    #[test]
    fn the_test_encoder_reproduces_the_documented_body() {
        let chunks: [&[u8]; 2] = [&[b'a'; 65_536], &[b'a'; 1024]];
        assert_eq!(encode_signed(&chunks, &[], false), signed_example().1);
    }

    #[test]
    fn small_signed_bodies_with_trailers_decode() {
        let trailers = [
            ("x-amz-checksum-crc32", "NSRBwg=="),
            ("x-amz-meta-note", "two  words"),
        ];
        let body = encode_signed(&[b"hello ", b"wor", b"ld"], &trailers, true);
        let mode = ChunkedMode::SignedTrailer(context(SEED));
        let (data, received) = decode_every_way(&mode, &body, Some(11));
        assert_eq!(data, b"hello world");
        let fields: Vec<(&str, &str)> = received.iter().collect();
        assert_eq!(fields, trailers);
    }

    fn unsigned_body(trailer: &str, line_end: &str) -> Vec<u8> {
        let mut body = b"5\r\nhello\r\n6;ignored=1\r\n world\r\n0\r\n".to_vec();
        body.extend_from_slice(trailer.as_bytes());
        body.extend_from_slice(line_end.as_bytes());
        body
    }

    #[test]
    fn unsigned_trailer_bodies_decode_with_or_without_the_final_crlf() {
        let mode = ChunkedMode::UnsignedTrailer;
        let trailer = "X-Amz-Checksum-CRC32 : DUoRhQ==\r\n";
        for (trailer, line_end) in [(trailer, "\r\n"), (trailer, ""), ("", "\r\n"), ("", "")] {
            let body = unsigned_body(trailer, line_end);
            let (data, trailers) = decode_every_way(&mode, &body, Some(11));
            assert_eq!(data, b"hello world");
            let expected = (!trailer.is_empty()).then_some("DUoRhQ==");
            assert_eq!(
                trailers.get("x-amz-checksum-crc32"),
                expected,
                "{trailer:?}{line_end:?}"
            );
        }
        let bare_newlines = b"5\nhello\r\n0\nx-amz-checksum-crc32:NhCmhg==\n\n";
        let (data, trailers) = decode_every_way(&mode, bare_newlines, None);
        assert_eq!(
            (data.as_slice(), trailers.get("x-amz-checksum-crc32")),
            (&b"hello"[..], Some("NhCmhg=="))
        );
    }

    #[test]
    fn an_unsigned_trailer_signature_is_ignored() {
        let trailer =
            format!("x-amz-checksum-crc32:DUoRhQ==\r\nx-amz-trailer-signature:{SEED}\r\n");
        let body = unsigned_body(&trailer, "\r\n");
        let (_, trailers) = decode_every_way(&ChunkedMode::UnsignedTrailer, &body, Some(11));
        assert_eq!(trailers.len(), 1);
    }

    #[test]
    fn tampered_chunks_fail() {
        let (mode, body) = signed_example();
        let header_bytes = 88;
        for offset in [header_bytes, header_bytes + 65_535, 65_626 + 86, 66_735] {
            let mut tampered = body.clone();
            tampered[offset] = b'b';
            let error = decode(&mode, &tampered).unwrap_err();
            assert_eq!(error, AuthError::ChunkSignatureMismatch, "offset {offset}");
            assert_eq!(
                crate::error::S3Error::from(error).code.as_str(),
                "SignatureDoesNotMatch"
            );
        }
        for signature in SIGNATURES {
            let forged = signature.replacen(&signature[..1], "f", 1);
            let body = String::from_utf8(body.clone())
                .unwrap()
                .replace(signature, &forged);
            let error = decode(&mode, body.as_bytes()).unwrap_err();
            assert_eq!(error, AuthError::ChunkSignatureMismatch);
        }
        // The first chunk's data moved to the second chunk's signature.
        let swapped = aws_body([SIGNATURES[1], SIGNATURES[0], SIGNATURES[2]], "");
        assert_eq!(
            decode(&mode, &swapped).unwrap_err(),
            AuthError::ChunkSignatureMismatch
        );
    }

    #[test]
    fn tampered_trailers_fail() {
        let (mode, body) = trailer_example();
        let text = String::from_utf8(body).unwrap();
        let cases = [
            (text.clone(), None),
            (
                text.replace("sOO8/Q==", "AAAAAA=="),
                Some(AuthError::TrailerSignatureMismatch),
            ),
            (
                text.replace("d81f82fc", "d81f82fd"),
                Some(AuthError::TrailerSignatureMismatch),
            ),
            (
                text.replace("x-amz-trailer-signature", "x-amz-meta-x"),
                Some(AuthError::TrailerSignatureMissing),
            ),
        ];
        for (body, error) in cases {
            assert_eq!(decode(&mode, body.as_bytes()).err(), error);
        }
        let late_field = text.replace("\r\n\r\n", "\r\nx-amz-meta-late:1\r\n\r\n");
        let error = decode(&mode, late_field.as_bytes()).unwrap_err();
        assert!(matches!(error, AuthError::TrailerMalformed(_)), "{error:?}");
    }

    /// Every prefix of a body fails, except those that end after the last
    /// trailer line, where the final CRLF is optional.
    fn assert_truncations_fail(mode: &ChunkedMode, body: &[u8], accepted_from: usize) {
        let positions = (0..300)
            .chain(65_500..65_800)
            .chain(body.len().saturating_sub(300)..body.len());
        for length in positions.filter(|&l| l < body.len()) {
            let result = decode_with(mode, &body[..length], None, || 5000);
            assert_eq!(
                result.is_ok(),
                length >= accepted_from,
                "prefix of {length} bytes"
            );
        }
    }

    #[test]
    fn truncated_bodies_fail() {
        let (mode, body) = signed_example();
        assert_truncations_fail(&mode, &body, body.len() - 2);
        assert_eq!(
            decode(&mode, &body[..1000]).unwrap_err(),
            AuthError::BodyTruncated
        );
        let (mode, body) = trailer_example();
        assert_truncations_fail(&mode, &body, body.len() - 2);
    }

    #[test]
    fn the_decoded_length_must_match() {
        let (mode, body) = signed_example();
        let short = decode_with(&mode, &body, Some(DECODED_BYTES - 1), || 100).unwrap_err();
        let expected = AuthError::DecodedLengthMismatch {
            expected_bytes: DECODED_BYTES - 1,
            actual_bytes: DECODED_BYTES,
        };
        assert_eq!(short, expected);
        let long = decode_with(&mode, &body, Some(DECODED_BYTES + 1), || 100).unwrap_err();
        assert!(matches!(
            long,
            AuthError::DecodedLengthMismatch {
                actual_bytes: DECODED_BYTES,
                ..
            }
        ));
        assert_eq!(
            crate::error::S3Error::from(long).code.as_str(),
            "IncompleteBody"
        );
    }

    #[test]
    fn malformed_framing_is_rejected() {
        let unsigned = ChunkedMode::UnsignedTrailer;
        let malformed = |mode: &ChunkedMode, body: &[u8]| {
            let error = decode_with(mode, body, None, || 3).unwrap_err();
            assert!(
                matches!(
                    error,
                    AuthError::ChunkMalformed(_) | AuthError::TrailerMalformed(_)
                ),
                "{:?}: {error:?}",
                String::from_utf8_lossy(body)
            );
        };
        for body in [
            &b"g\r\n"[..],
            b"\r\n",
            b";chunk-signature=00\r\n",
            b"12345678901234567\r\n",
            b"+5\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloX\r\n0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"0\r\nno-colon\r\n\r\n",
            b"0\r\n:empty-name\r\n\r\n",
            b"0\r\n\xff:x\r\n\r\n",
        ] {
            malformed(&unsigned, body);
        }
        let signed = ChunkedMode::Signed(context(SEED));
        malformed(&signed, b"5\r\nhello\r\n");
        malformed(
            &signed,
            format!("5;chunk-signature={SEED};chunk-signature={SEED}\r\n").as_bytes(),
        );
        malformed(&signed, b"5;chunk-signature=abc\r\n");
        let signed_then_trailer = encode_signed(&[b"hi"], &[("x-amz-checksum-crc32", "x")], false);
        malformed(&signed, &signed_then_trailer);
    }

    #[test]
    fn lines_are_bounded() {
        let mode = ChunkedMode::UnsignedTrailer;
        let mut decoder = AwsChunkedDecoder::new(mode.clone(), None);
        let junk = vec![b'f'; CHUNK_HEADER_LINE_BYTES_MAX - 1];
        assert_eq!(decoder.feed(&junk, |_| {}), Ok(junk.len()));
        assert!(matches!(
            decoder.feed(b"ff", |_| {}),
            Err(AuthError::ChunkMalformed(_))
        ));
        assert!(decoder.line.len() < CHUNK_HEADER_LINE_BYTES_MAX);
        assert!(
            decoder.feed(b"\r\n", |_| {}).is_err(),
            "a failed decoder stays failed"
        );
        assert!(decoder.finish().is_err());

        let long_value = "A".repeat(TRAILER_LINE_BYTES_MAX);
        let body = format!("0\r\nx-amz-checksum-crc32:{long_value}\r\n\r\n");
        let error = decode_with(&mode, body.as_bytes(), None, || 64).unwrap_err();
        assert!(matches!(error, AuthError::TrailerMalformed(_)));

        let many: String = (0..=TRAILER_FIELDS_MAX)
            .map(|i| format!("x-amz-meta-{i}:v\r\n"))
            .collect();
        let body = format!("0\r\n{many}\r\n");
        let error = decode_with(&mode, body.as_bytes(), None, || 64).unwrap_err();
        assert_eq!(
            error,
            AuthError::TrailerMalformed("too many trailing headers")
        );
    }

    #[test]
    fn a_huge_chunk_size_waits_for_data_or_exceeds_the_declared_length() {
        let mode = ChunkedMode::UnsignedTrailer;
        let body = b"ffffffffffffffff\r\nabc";
        let error = decode_with(&mode, body, None, || 4).unwrap_err();
        assert_eq!(error, AuthError::BodyTruncated);
        let error = decode_with(&mode, body, Some(10), || 4).unwrap_err();
        assert!(matches!(
            error,
            AuthError::DecodedLengthMismatch {
                expected_bytes: 10,
                ..
            }
        ));
    }

    #[test]
    fn bytes_after_the_end_are_not_consumed() {
        let (mode, mut body) = trailer_example();
        let end = body.len();
        body.extend_from_slice(b"PUT /next HTTP/1.1\r\n");
        let mut decoder = AwsChunkedDecoder::new(mode, Some(DECODED_BYTES));
        assert_eq!(decoder.feed(&body, |_| {}), Ok(end));
        assert!(decoder.is_done());
        assert_eq!(decoder.feed(b"more", |_| {}), Ok(0));
        assert_eq!(decoder.finish().unwrap().len(), 1);
    }

    /// Feeds `body` in pieces until it is consumed, the body ends or an
    /// error occurs; only a panic (or unbounded memory) would be a failure.
    fn decode_ignoring_outcome(mode: &ChunkedMode, body: &[u8], piece_bytes: usize) {
        let mut decoder = AwsChunkedDecoder::new(mode.clone(), None);
        for piece in body.chunks(piece_bytes) {
            match decoder.feed(piece, |_| {}) {
                Ok(consumed) if consumed == piece.len() => {}
                _ => return,
            }
            assert!(decoder.line.len() <= CHUNK_HEADER_LINE_BYTES_MAX.max(TRAILER_LINE_BYTES_MAX));
        }
        let _ = decoder.finish();
    }

    #[test]
    fn mutated_and_random_input_never_panics() {
        let valid_signed = encode_signed(
            &[b"hello ", b"world"],
            &[("x-amz-checksum-crc32", "DUoRhQ==")],
            true,
        );
        let valid_unsigned = unsigned_body("x-amz-checksum-crc32:DUoRhQ==\r\n", "\r\n");
        let modes = [
            ChunkedMode::SignedTrailer(context(SEED)),
            ChunkedMode::UnsignedTrailer,
        ];
        let mut rng = Splitter(0x5EED);
        for round in 0..4000 {
            let (mode, mut body) = match round % 3 {
                0 => (&modes[0], valid_signed.clone()),
                1 => (&modes[1], valid_unsigned.clone()),
                _ => (
                    &modes[round % 2],
                    (0..rng.next_len(200))
                        .map(|_| rng.next_len(256) as u8)
                        .collect(),
                ),
            };
            for _ in 0..rng.next_len(3) {
                let at = rng.next_len(body.len() as u64 + 1) - 1;
                match rng.next_len(3) {
                    1 if at < body.len() => body[at] = rng.next_len(256) as u8,
                    2 => body.insert(at, rng.next_len(256) as u8),
                    _ if at < body.len() => {
                        body.remove(at);
                    }
                    _ => {}
                }
            }
            let piece = rng.next_len(16);
            decode_ignoring_outcome(mode, &body, piece);
        }
    }

    #[test]
    fn the_decoded_length_header_parses() {
        let headers = |v: &str| vec![("x-amz-decoded-content-length".to_string(), v.to_string())];
        assert_eq!(
            decoded_content_length_bytes(&headers(" 66560 ")),
            Ok(66_560)
        );
        assert_eq!(
            decoded_content_length_bytes(&[]),
            Err(AuthError::DecodedLengthMissing)
        );
        for bad in ["", "-1", "1e3", "0x10", "99999999999999999999999"] {
            let result = decoded_content_length_bytes(&headers(bad));
            assert_eq!(result, Err(AuthError::DecodedLengthInvalid), "{bad}");
        }
    }
}
