//! SigV4 `Authorization` headers for the load generator's requests.
//!
//! Owns: choosing the signed headers and caching the day's signing key. The canonical
//! request, string to sign and key derivation are the server's own
//! (`s3::auth::sigv4`), so client and server cannot drift apart.
//!
//! Must not touch: sockets or clocks; the caller passes the request time.

use s3::auth::sigv4::{
    self, AmzDate, CredentialScope, RequestParts, SignatureLocation, SigningKey,
};
use sha2::{Digest, Sha256};

/// `x-amz-content-sha256` value of every benchmark request: the body is not hashed,
/// which is what SDKs send over TLS and what the PUT throughput targets assume.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// `x-amz-content-sha256` of an `aws-chunked` body with a signature per chunk.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const SERVICE_S3: &str = "s3";
/// First line of a chunk's string to sign.
const CHUNK_ALGORITHM: &str = "AWS4-HMAC-SHA256-PAYLOAD";

/// Lowercase hex, as SigV4 writes digests.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Signs requests for one access key in one region.
pub struct Signer {
    access_key_id: String,
    secret_access_key: String,
    region: String,
    /// The last day's scope and key: a key lasts a day, so deriving it (four
    /// HMACs) once per day rather than per request keeps the client cheap.
    key_cached: Option<(CredentialScope, SigningKey)>,
}

impl Signer {
    pub fn new(access_key_id: &str, secret_access_key: &str, region: &str) -> Self {
        Signer {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            region: region.to_owned(),
            key_cached: None,
        }
    }

    /// The `Authorization` header value and the request's signature in hex, which
    /// seeds the chain of chunk signatures of an `aws-chunked` body.
    ///
    /// `headers` are lowercase names with their values; every one of them is signed,
    /// and they must include `host`, `x-amz-date` (equal to `date`) and
    /// `x-amz-content-sha256`. `path_decoded` is the path before percent-encoding.
    pub fn sign_request(
        &mut self,
        method: &str,
        path_decoded: &str,
        query_pairs: &[(String, String)],
        headers: &[(String, String)],
        date: &AmzDate,
    ) -> (String, String) {
        let mut signed_headers: Vec<String> = headers.iter().map(|(n, _)| n.clone()).collect();
        signed_headers.sort_unstable();
        signed_headers.dedup();
        let parts = RequestParts {
            method,
            path_decoded,
            query_pairs,
            headers,
        };
        let payload_hash = parts
            .header("x-amz-content-sha256")
            .unwrap_or(UNSIGNED_PAYLOAD);
        let canonical = sigv4::canonical_request(
            &parts,
            &signed_headers,
            payload_hash,
            SignatureLocation::Header,
        )
        .expect("every signed header is taken from the request's own headers");
        self.refresh_signing_key(date);
        let (scope, key) = self.key_cached.as_ref().expect("refreshed above");
        let signature = key
            .sign(sigv4::string_to_sign(date, scope, &canonical).as_bytes())
            .to_hex();
        let authorization = format!(
            "{} Credential={}/{scope},SignedHeaders={},Signature={signature}",
            sigv4::ALGORITHM,
            self.access_key_id,
            signed_headers.join(";"),
        );
        (authorization, signature)
    }

    /// The signature of one `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` chunk, chained to
    /// the previous chunk's (or the request's) signature.
    pub fn chunk_signature(&mut self, date: &AmzDate, previous_hex: &str, chunk: &[u8]) -> String {
        self.refresh_signing_key(date);
        let (scope, key) = self.key_cached.as_ref().expect("refreshed above");
        let chunk_sha256_hex = hex(&Sha256::digest(chunk));
        let string_to_sign = format!(
            "{CHUNK_ALGORITHM}\n{}\n{scope}\n{previous_hex}\n{}\n{chunk_sha256_hex}",
            date.timestamp(),
            sigv4::EMPTY_SHA256_HEX,
        );
        key.sign(string_to_sign.as_bytes()).to_hex()
    }

    /// Derives the signing key when the day changed since the last request.
    fn refresh_signing_key(&mut self, date: &AmzDate) {
        let stale = match &self.key_cached {
            Some((scope, _)) => scope.date != date.date(),
            None => true,
        };
        if stale {
            let scope = CredentialScope {
                date: date.date().to_owned(),
                region: self.region.clone(),
                service: SERVICE_S3.to_owned(),
            };
            let key = sigv4::derive_signing_key(&self.secret_access_key, &scope);
            self.key_cached = Some((scope, key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's documented GET Object example (sig-v4-header-based-auth.html,
    /// "Example: GET Object"): its `Authorization` header, byte for byte.
    #[test]
    fn signs_the_documented_get_object_example() {
        let date = AmzDate::parse("20130524T000000Z").unwrap();
        let headers: Vec<(String, String)> = [
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", sigv4::EMPTY_SHA256_HEX),
            ("x-amz-date", "20130524T000000Z"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        let mut signer = Signer::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "us-east-1",
        );
        let (authorization, _) = signer.sign_request("GET", "/test.txt", &[], &headers, &date);
        assert_eq!(
            authorization,
            "AWS4-HMAC-SHA256 \
             Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }
}
