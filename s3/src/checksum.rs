//! Client-supplied object checksums (`x-amz-checksum-*`), computed while the
//! body streams through.
//!
//! Owns: the five algorithms S3 clients send since the 2025 SDK change
//! (CRC32, CRC32C, CRC64NVME, SHA1, SHA256), their header and SDK names, the
//! incremental `ChecksumHasher`, and `Checksum` values in AWS's wire form
//! (the digest's big-endian bytes, base64-encoded).
//!
//! Must not touch: I/O, storage of checksums, multipart composition
//! (COMPOSITE "-N" values are built by the multipart code from these parts).
//! Pure and synchronous: the caller feeds bytes.
//!
//! Main types: `ChecksumAlgorithm`, `ChecksumHasher`, `Checksum`,
//! `ChecksumError`.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha1::Digest as _;

use crate::error::{S3Error, S3ErrorCode};

/// Longest digest among the supported algorithms (SHA-256), in bytes.
const CHECKSUM_BYTES_MAX: usize = 32;

/// A checksum algorithm a client can ask S3 to verify and store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    /// What an object written without a checksum gets (AWS's default).
    pub const DEFAULT: ChecksumAlgorithm = ChecksumAlgorithm::Crc64Nvme;

    /// Every supported algorithm, in AWS's documentation order.
    pub const ALL: [ChecksumAlgorithm; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// Parses a header (or trailer) name such as `x-amz-checksum-crc32`,
    /// ignoring ASCII case as HTTP header names do.
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name))
    }

    /// The lowercase header that carries this algorithm's value.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Parses the name used in `x-amz-sdk-checksum-algorithm`,
    /// `x-amz-checksum-algorithm` and XML bodies (`CRC32`, `CRC64NVME`, ...).
    /// Case is ignored because some clients send lowercase.
    pub fn from_sdk_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.sdk_name().eq_ignore_ascii_case(name))
    }

    /// The name AWS uses in headers such as `x-amz-checksum-algorithm` and XML.
    pub fn sdk_name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// Length of the raw digest, in bytes.
    pub fn digest_len_bytes(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sdk_name())
    }
}

/// A finished checksum: the algorithm and its digest bytes (big-endian for
/// the CRCs, as AWS transmits them).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checksum {
    algorithm: ChecksumAlgorithm,
    bytes: [u8; CHECKSUM_BYTES_MAX],
}

impl Checksum {
    /// Builds a checksum from raw digest bytes, e.g. read back from storage.
    pub fn from_bytes(algorithm: ChecksumAlgorithm, raw: &[u8]) -> Result<Self, ChecksumError> {
        if raw.len() != algorithm.digest_len_bytes() {
            return Err(ChecksumError::InvalidValue { algorithm });
        }
        let mut bytes = [0u8; CHECKSUM_BYTES_MAX];
        bytes[..raw.len()].copy_from_slice(raw);
        Ok(Checksum { algorithm, bytes })
    }

    /// Parses the base64 value of an `x-amz-checksum-*` header or trailer.
    /// Surrounding whitespace is ignored; anything else that is not exactly
    /// one digest of the right length is rejected.
    pub fn from_base64(algorithm: ChecksumAlgorithm, text: &str) -> Result<Self, ChecksumError> {
        let text = text.trim();
        // Longest valid value: 32 bytes encode to 44 characters. Checking first
        // keeps a hostile header from costing a large decode.
        if text.len() > 44 {
            return Err(ChecksumError::InvalidValue { algorithm });
        }
        let mut raw = [0u8; 48];
        let len = BASE64
            .decode_slice(text, &mut raw)
            .map_err(|_| ChecksumError::InvalidValue { algorithm })?;
        Self::from_bytes(algorithm, &raw[..len])
    }

    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    /// The raw digest, `algorithm().digest_len_bytes()` long.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.algorithm.digest_len_bytes()]
    }

    /// The wire form AWS uses in headers, trailers and XML.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.as_bytes())
    }

    /// Compares a value the client sent with the one computed from the body.
    /// A mismatch is `BadDigest`, as on AWS.
    pub fn verify(&self, computed: &Checksum) -> Result<(), ChecksumError> {
        assert_eq!(
            self.algorithm, computed.algorithm,
            "checksums of different algorithms"
        );
        if self == computed {
            Ok(())
        } else {
            Err(ChecksumError::Mismatch {
                algorithm: self.algorithm,
            })
        }
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checksum({}:{})", self.algorithm, self.to_base64())
    }
}

/// Incremental hasher for one algorithm: `update` with each piece of the
/// body in order, then `finalize`.
#[derive(Clone)]
pub struct ChecksumHasher {
    state: HasherState,
}

#[derive(Clone)]
enum HasherState {
    Crc32(crc32fast::Hasher),
    /// Running CRC32C value; `crc32c_append` continues from it.
    Crc32c(u32),
    Crc64Nvme(crc_fast::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl ChecksumHasher {
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        let state = match algorithm {
            ChecksumAlgorithm::Crc32 => HasherState::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => HasherState::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => {
                HasherState::Crc64Nvme(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme))
            }
            ChecksumAlgorithm::Sha1 => HasherState::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => HasherState::Sha256(sha2::Sha256::new()),
        };
        ChecksumHasher { state }
    }

    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self.state {
            HasherState::Crc32(_) => ChecksumAlgorithm::Crc32,
            HasherState::Crc32c(_) => ChecksumAlgorithm::Crc32c,
            HasherState::Crc64Nvme(_) => ChecksumAlgorithm::Crc64Nvme,
            HasherState::Sha1(_) => ChecksumAlgorithm::Sha1,
            HasherState::Sha256(_) => ChecksumAlgorithm::Sha256,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            HasherState::Crc32(h) => h.update(data),
            HasherState::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, data),
            HasherState::Crc64Nvme(d) => d.update(data),
            HasherState::Sha1(h) => h.update(data),
            HasherState::Sha256(h) => h.update(data),
        }
    }

    pub fn finalize(self) -> Checksum {
        let algorithm = self.algorithm();
        let checksum = match self.state {
            HasherState::Crc32(h) => Checksum::from_bytes(algorithm, &h.finalize().to_be_bytes()),
            HasherState::Crc32c(crc) => Checksum::from_bytes(algorithm, &crc.to_be_bytes()),
            HasherState::Crc64Nvme(d) => {
                Checksum::from_bytes(algorithm, &d.finalize().to_be_bytes())
            }
            HasherState::Sha1(h) => Checksum::from_bytes(algorithm, &h.finalize()),
            HasherState::Sha256(h) => Checksum::from_bytes(algorithm, &h.finalize()),
        };
        checksum.expect("every digest has its algorithm's length")
    }
}

/// Why a client checksum was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumError {
    /// The value is not base64 of a digest of the algorithm's length.
    InvalidValue { algorithm: ChecksumAlgorithm },
    /// The value is well formed but differs from the body's checksum.
    Mismatch { algorithm: ChecksumAlgorithm },
}

impl From<ChecksumError> for S3Error {
    fn from(error: ChecksumError) -> Self {
        match error {
            ChecksumError::InvalidValue { algorithm } => S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!("Value for {} header is invalid.", algorithm.header_name()),
            ),
            ChecksumError::Mismatch { algorithm } => S3Error::new(
                S3ErrorCode::BadDigest,
                format!("The {algorithm} you specified did not match the calculated checksum."),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Base64 values computed independently with Python's zlib, hashlib and
    /// bitwise reference CRC32C / CRC-64/NVME implementations.
    const HELLO_WORLD: [(ChecksumAlgorithm, &str); 5] = [
        (ChecksumAlgorithm::Crc32, "i9aeUg=="),
        (ChecksumAlgorithm::Crc32c, "crUfeA=="),
        (ChecksumAlgorithm::Crc64Nvme, "OOJZ0D8xKts="),
        (ChecksumAlgorithm::Sha1, "e1AsOh9IyGCa4hLN+2Od7jlnP14="),
        (
            ChecksumAlgorithm::Sha256,
            "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw=",
        ),
    ];

    const EMPTY: [(ChecksumAlgorithm, &str); 5] = [
        (ChecksumAlgorithm::Crc32, "AAAAAA=="),
        (ChecksumAlgorithm::Crc32c, "AAAAAA=="),
        (ChecksumAlgorithm::Crc64Nvme, "AAAAAAAAAAA="),
        (ChecksumAlgorithm::Sha1, "2jmj7l5rSw0yVb/vlWAYkK/YBwk="),
        (
            ChecksumAlgorithm::Sha256,
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        ),
    ];

    /// 66 560 bytes of 'a': the body of AWS's chunked-upload examples. The
    /// CRC32C is the `sOO8/Q==` trailer of the trailing-header example.
    const AWS_CHUNKED_BODY: [(ChecksumAlgorithm, &str); 5] = [
        (ChecksumAlgorithm::Crc32, "sK4Y7A=="),
        (ChecksumAlgorithm::Crc32c, "sOO8/Q=="),
        (ChecksumAlgorithm::Crc64Nvme, "pRf+emrnL+A="),
        (ChecksumAlgorithm::Sha1, "qOlv5ixdz2jRNhlSLmgH6iaTKRI="),
        (
            ChecksumAlgorithm::Sha256,
            "zWnTiHxq+SZLEA17dgIzEzXZqn4718MM3G1vS/uzyIg=",
        ),
    ];

    fn checksum_of(algorithm: ChecksumAlgorithm, data: &[u8]) -> Checksum {
        let mut hasher = ChecksumHasher::new(algorithm);
        hasher.update(data);
        hasher.finalize()
    }

    #[test]
    fn known_vectors_match() {
        let aws_body = vec![b'a'; 66_560];
        type Vectors = [(ChecksumAlgorithm, &'static str); 5];
        let cases: [(&[u8], &Vectors); 3] = [
            (b"Hello world", &HELLO_WORLD),
            (b"", &EMPTY),
            (&aws_body, &AWS_CHUNKED_BODY),
        ];
        for (data, vectors) in cases {
            for (algorithm, expected) in vectors {
                assert_eq!(
                    checksum_of(*algorithm, data).to_base64(),
                    *expected,
                    "{algorithm}"
                );
            }
        }
    }

    #[test]
    fn crc_check_values_are_big_endian() {
        let check = |algorithm| checksum_of(algorithm, b"123456789").as_bytes().to_vec();
        assert_eq!(
            check(ChecksumAlgorithm::Crc32),
            0xCBF4_3926u32.to_be_bytes()
        );
        assert_eq!(
            check(ChecksumAlgorithm::Crc32c),
            0xE306_9283u32.to_be_bytes()
        );
        assert_eq!(
            check(ChecksumAlgorithm::Crc64Nvme),
            0xAE8B_1486_0A79_9888u64.to_be_bytes()
        );
    }

    #[test]
    fn split_updates_equal_one_update() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for algorithm in ChecksumAlgorithm::ALL {
            let whole = checksum_of(algorithm, &data);
            for split in [0, 1, 63, 64, 4097, data.len()] {
                let mut hasher = ChecksumHasher::new(algorithm);
                hasher.update(&data[..split]);
                hasher.update(&data[split..]);
                assert_eq!(hasher.finalize(), whole, "{algorithm} split at {split}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for algorithm in ChecksumAlgorithm::ALL {
            assert_eq!(
                ChecksumAlgorithm::from_header_name(algorithm.header_name()),
                Some(algorithm)
            );
            assert_eq!(
                ChecksumAlgorithm::from_sdk_name(algorithm.sdk_name()),
                Some(algorithm)
            );
        }
        let crc32 = Some(ChecksumAlgorithm::Crc32);
        assert_eq!(
            ChecksumAlgorithm::from_header_name("X-Amz-Checksum-CRC32"),
            crc32
        );
        assert_eq!(ChecksumAlgorithm::from_sdk_name("crc32"), crc32);
        assert_eq!(
            ChecksumAlgorithm::from_sdk_name("crc64nvme"),
            Some(ChecksumAlgorithm::Crc64Nvme)
        );
        assert_eq!(
            ChecksumAlgorithm::from_header_name("x-amz-checksum-md5"),
            None
        );
        assert_eq!(ChecksumAlgorithm::from_sdk_name("MD5"), None);
        assert_eq!(
            ChecksumAlgorithm::from_header_name("x-amz-checksum-crc32-"),
            None
        );
    }

    #[test]
    fn base64_values_parse_and_verify() {
        for (algorithm, text) in HELLO_WORLD {
            let sent = Checksum::from_base64(algorithm, &format!(" {text} ")).unwrap();
            assert_eq!(sent.to_base64(), text);
            assert_eq!(sent.verify(&checksum_of(algorithm, b"Hello world")), Ok(()));
            assert_eq!(
                sent.verify(&checksum_of(algorithm, b"Hello World")),
                Err(ChecksumError::Mismatch { algorithm })
            );
        }
    }

    #[test]
    fn malformed_values_are_invalid() {
        let crc32 = ChecksumAlgorithm::Crc32;
        let invalid = Err(ChecksumError::InvalidValue { algorithm: crc32 });
        for text in [
            "",
            "i9aeUg",
            "i9ae",
            "i9aeUgAA",
            "!!!!!!==",
            "OOJZ0D8xKts=",
            &"A".repeat(400),
        ] {
            assert_eq!(Checksum::from_base64(crc32, text), invalid, "{text:?}");
        }
        // A SHA-256 value offered as SHA-1 has the wrong length.
        let sha1 = ChecksumAlgorithm::Sha1;
        let sha256_text = HELLO_WORLD[4].1;
        assert!(Checksum::from_base64(sha1, sha256_text).is_err());
    }

    #[test]
    fn errors_map_to_aws_codes() {
        let algorithm = ChecksumAlgorithm::Crc64Nvme;
        let invalid = S3Error::from(ChecksumError::InvalidValue { algorithm });
        assert_eq!(invalid.code, S3ErrorCode::InvalidRequest);
        assert!(invalid.message.contains("x-amz-checksum-crc64nvme"));
        let mismatch = S3Error::from(ChecksumError::Mismatch { algorithm });
        assert_eq!(mismatch.code, S3ErrorCode::BadDigest);
        assert!(mismatch.message.contains("CRC64NVME"));
    }
}

/// CRC of `A ‖ B` from `crc(A)`, `crc(B)` and `len(B)`, for the reflected
/// CRCs with all-ones init and xor-out (CRC32, CRC32C, CRC64NVME): appending
/// `len(B)` zero bytes is a linear map over GF(2), applied by repeated
/// squaring of the one-zero-bit operator. This is what lets a multipart
/// upload's FULL_OBJECT checksum be computed from its parts without reading
/// the data again.
pub fn crc_combine(
    algorithm: ChecksumAlgorithm,
    crc_a: u64,
    crc_b: u64,
    len_b_bytes: u64,
) -> Option<u64> {
    let (poly_reflected, width) = match algorithm {
        ChecksumAlgorithm::Crc32 => (0xEDB8_8320_u64, 32),
        ChecksumAlgorithm::Crc32c => (0x82F6_3B78_u64, 32),
        ChecksumAlgorithm::Crc64Nvme => (0x9A6C_9329_AC4B_C9B5_u64, 64),
        ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => return None,
    };
    if len_b_bytes == 0 {
        return Some(crc_a);
    }
    let mut odd = [0u64; 64];
    let mut even = [0u64; 64];
    odd[0] = poly_reflected;
    for (n, row) in odd.iter_mut().enumerate().take(width).skip(1) {
        *row = 1u64 << (n - 1);
    }
    gf2_square(&mut even, &odd, width);
    gf2_square(&mut odd, &even, width);
    let mut crc = crc_a;
    let mut len = len_b_bytes;
    loop {
        gf2_square(&mut even, &odd, width);
        if len & 1 != 0 {
            crc = gf2_times(&even, crc);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
        gf2_square(&mut odd, &even, width);
        if len & 1 != 0 {
            crc = gf2_times(&odd, crc);
        }
        len >>= 1;
        if len == 0 {
            break;
        }
    }
    Some(crc ^ crc_b)
}

fn gf2_times(matrix: &[u64; 64], mut vector: u64) -> u64 {
    let mut sum = 0;
    let mut row = 0;
    while vector != 0 {
        if vector & 1 != 0 {
            sum ^= matrix[row];
        }
        vector >>= 1;
        row += 1;
    }
    sum
}

fn gf2_square(square: &mut [u64; 64], matrix: &[u64; 64], width: usize) {
    for n in 0..width {
        square[n] = gf2_times(matrix, matrix[n]);
    }
}

impl Checksum {
    /// The CRC value as an integer (CRCs only).
    pub fn crc_value(&self) -> Option<u64> {
        match self.algorithm {
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => Some(u64::from(
                u32::from_be_bytes(self.as_bytes().try_into().ok()?),
            )),
            ChecksumAlgorithm::Crc64Nvme => {
                Some(u64::from_be_bytes(self.as_bytes().try_into().ok()?))
            }
            ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => None,
        }
    }

    /// A CRC checksum from its integer value.
    pub fn from_crc_value(algorithm: ChecksumAlgorithm, value: u64) -> Option<Checksum> {
        match algorithm {
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => {
                Checksum::from_bytes(algorithm, &(value as u32).to_be_bytes()).ok()
            }
            ChecksumAlgorithm::Crc64Nvme => {
                Checksum::from_bytes(algorithm, &value.to_be_bytes()).ok()
            }
            ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => None,
        }
    }
}

#[cfg(test)]
mod combine_tests {
    use super::*;

    fn crc(algorithm: ChecksumAlgorithm, data: &[u8]) -> u64 {
        let mut hasher = ChecksumHasher::new(algorithm);
        hasher.update(data);
        hasher.finalize().crc_value().unwrap()
    }

    #[test]
    fn combined_crc_equals_crc_of_concatenation() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for algorithm in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            for split in [0, 1, 4095, 50_000, 99_999, 100_000] {
                let (a, b) = data.split_at(split);
                let combined = crc_combine(
                    algorithm,
                    crc(algorithm, a),
                    crc(algorithm, b),
                    b.len() as u64,
                );
                assert_eq!(
                    combined,
                    Some(crc(algorithm, &data)),
                    "{algorithm:?} at {split}"
                );
            }
        }
        assert_eq!(crc_combine(ChecksumAlgorithm::Sha256, 1, 2, 3), None);
    }
}
