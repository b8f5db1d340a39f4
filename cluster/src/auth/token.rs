//! Admin API session tokens that any holder of the key can verify without a
//! lookup, and the CSRF token bound to a session.
//!
//! Token format (all ASCII, at most `TOKEN_BYTES_MAX` bytes):
//!
//! ```text
//! base64url-nopad(JSON SessionClaims) "." base64url-nopad(HMAC-SHA256(key, first part))
//! ```
//!
//! The MAC covers the first part as sent (its base64 text), so a token is
//! authenticated before its JSON is parsed. The CSRF token is
//! HMAC-SHA256(key, "csrf\0" || session_id) in hex; the NUL byte cannot occur
//! in base64 text, so a CSRF MAC never equals a token MAC.
//!
//! Owns: `TokenKey` (derived from the master key), `SessionClaims`, minting
//! and verification. Must not touch: revocation and logout. A stateless token
//! stays valid until it expires, so the caller keeps a list of revoked
//! `session_id`s (or live sessions) and checks it after `verify`.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Longest token `verify` looks at. Real tokens are about 250 bytes; the
/// bound caps the work an unauthenticated request can cause.
pub const TOKEN_BYTES_MAX: usize = 4096;
/// Random bytes in a session id (128 bits: unguessable, collision-free).
const SESSION_ID_BYTES: usize = 16;
/// HMAC-SHA256 output length.
const MAC_BYTES: usize = 32;
/// Label mixed into the key derivation, so that this key differs from every
/// other key derived from the same master key material. Bump the version to
/// invalidate every outstanding session.
const TOKEN_KEY_LABEL: &[u8] = b"maxiofs admin session tokens v1";
/// Prefix of the CSRF MAC input (see the module comment).
const CSRF_LABEL: &[u8] = b"csrf\0";

/// The key that signs session tokens and CSRF tokens. `Debug` prints no key
/// material.
#[derive(Clone)]
pub struct TokenKey([u8; MAC_BYTES]);

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// HMAC-SHA256(material, label): whatever key material is given never
    /// signs anything itself. The server derives it from random material at
    /// each start, so sessions end with the process.
    ///
    /// Panics on empty material: a token key derived from nothing would be
    /// public, and that is a bug in the caller.
    pub fn derive(master_key_material: &[u8]) -> TokenKey {
        assert!(
            !master_key_material.is_empty(),
            "token key derived from empty key material"
        );
        let mut mac =
            HmacSha256::new_from_slice(master_key_material).expect("HMAC takes any key length");
        mac.update(TOKEN_KEY_LABEL);
        TokenKey(mac.finalize().into_bytes().into())
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length")
    }
}

/// What a session token asserts. Unknown fields are refused, so a token of
/// another shape (an older or future version) never half-parses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionClaims {
    /// 16 random bytes in hex; names the session for revocation, audit and
    /// the CSRF token.
    pub session_id: String,
    /// Who logged in: `root` or `tenant/<name>`.
    pub subject: String,
    pub issued_ms: u64,
    /// The token is refused from this instant on.
    pub expires_ms: u64,
}

impl SessionClaims {
    /// Claims for a new session of `subject` that lasts `ttl_ms` from
    /// `now_ms`, with a fresh random session id.
    pub fn new(subject: &str, now_ms: u64, ttl_ms: u64) -> SessionClaims {
        SessionClaims {
            session_id: new_session_id(),
            subject: subject.to_owned(),
            issued_ms: now_ms,
            expires_ms: now_ms.saturating_add(ttl_ms),
        }
    }
}

/// A fresh session id: 16 bytes from the operating system's generator, hex.
pub fn new_session_id() -> String {
    let mut bytes = [0u8; SESSION_ID_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Why a token was refused. The caller answers 401 to all three; it audits
/// `BadSignature` (a forgery or a rotated key) and asks for a fresh login on
/// `Expired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Too long, not two base64url parts, or claims of the wrong shape.
    Malformed,
    /// The MAC does not match: forged, altered, or signed with another key.
    BadSignature,
    /// Authentic but past `expires_ms`.
    Expired,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            TokenError::Malformed => "session token is malformed",
            TokenError::BadSignature => "session token signature does not match",
            TokenError::Expired => "session token has expired",
        };
        f.write_str(text)
    }
}

impl std::error::Error for TokenError {}

/// Signs `claims` into a token (format in the module comment).
pub fn mint(key: &TokenKey, claims: &SessionClaims) -> String {
    let json = serde_json::to_vec(claims).expect("claims of strings and integers serialise");
    let payload = URL_SAFE_NO_PAD.encode(json);
    let mut mac = key.mac();
    mac.update(payload.as_bytes());
    let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{payload}.{tag}")
}

/// Checks a token and returns its claims.
///
/// Order matters: the length bound comes before any work, and the MAC
/// (compared in constant time) before the JSON is decoded, so an
/// unauthenticated request never reaches the JSON parser.
pub fn verify(key: &TokenKey, token: &str, now_ms: u64) -> Result<SessionClaims, TokenError> {
    if token.len() > TOKEN_BYTES_MAX {
        return Err(TokenError::Malformed);
    }
    let (payload, tag_text) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag_text)
        .map_err(|_| TokenError::Malformed)?;
    if tag.len() != MAC_BYTES {
        return Err(TokenError::Malformed);
    }
    let mut mac = key.mac();
    mac.update(payload.as_bytes());
    mac.verify_slice(&tag)
        .map_err(|_| TokenError::BadSignature)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    let claims: SessionClaims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    if now_ms >= claims.expires_ms {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// The CSRF token for a session: sent to the console with the login answer
/// and expected back in a header on every request that comes with the
/// session cookie (reads too: the admin API answers secrets to some).
pub fn csrf_token_for(key: &TokenKey, session_id: &str) -> String {
    hex::encode(csrf_mac(key, session_id))
}

/// True when `presented` is the CSRF token of `session_id`, compared in
/// constant time (its length is not secret: always 64 hex characters).
pub fn csrf_matches(key: &TokenKey, session_id: &str, presented: &str) -> bool {
    let expected = hex::encode(csrf_mac(key, session_id));
    expected.as_bytes().ct_eq(presented.as_bytes()).into()
}

fn csrf_mac(key: &TokenKey, session_id: &str) -> [u8; MAC_BYTES] {
    let mut mac = key.mac();
    mac.update(CSRF_LABEL);
    mac.update(session_id.as_bytes());
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: u64 = 1_700_000_000_000;
    const TTL_MS: u64 = 12 * 3600 * 1000;

    fn key() -> TokenKey {
        TokenKey::derive(b"test master key material, 32 b..")
    }

    fn claims() -> SessionClaims {
        SessionClaims::new("tenant/acme", NOW_MS, TTL_MS)
    }

    /// Signs an arbitrary payload text with `key`, as an attacker holding
    /// the key (or a buggy minter) could.
    fn sign_raw(key: &TokenKey, json: &[u8]) -> String {
        let payload = URL_SAFE_NO_PAD.encode(json);
        let mut mac = key.mac();
        mac.update(payload.as_bytes());
        format!(
            "{payload}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    #[test]
    fn round_trip() {
        let claims = claims();
        assert_eq!(claims.session_id.len(), 32);
        assert_eq!(claims.expires_ms, NOW_MS + TTL_MS);
        let token = mint(&key(), &claims);
        assert!(token.len() < 400, "{} bytes", token.len());
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        assert_eq!(verify(&key(), &token, NOW_MS), Ok(claims.clone()));
        assert_eq!(verify(&key(), &token, NOW_MS + TTL_MS - 1), Ok(claims));
    }

    #[test]
    fn key_derivation_is_deterministic_and_labelled() {
        let one = TokenKey::derive(b"material");
        assert_eq!(one.0, TokenKey::derive(b"material").0);
        assert_ne!(one.0, TokenKey::derive(b"materiaL").0);
        // The label is part of the derivation: HMAC(material, label).
        let mut expected = HmacSha256::new_from_slice(b"material").unwrap();
        expected.update(b"maxiofs admin session tokens v1");
        assert_eq!(one.0, <[u8; 32]>::from(expected.finalize().into_bytes()));
    }

    #[test]
    #[should_panic(expected = "empty key material")]
    fn key_from_empty_material_is_a_bug() {
        TokenKey::derive(b"");
    }

    #[test]
    fn debug_prints_no_key() {
        let key = key();
        let debug = format!("{key:?}");
        assert_eq!(debug, "TokenKey(..)");
        assert!(!debug.contains(&hex::encode(key.0)));
    }

    #[test]
    fn tampered_payload_is_bad_signature() {
        let token = mint(&key(), &claims());
        let (_, tag) = token.split_once('.').unwrap();
        let mut forged = claims();
        forged.subject = "root".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let forged_token = format!("{forged_payload}.{tag}");
        assert_eq!(
            verify(&key(), &forged_token, NOW_MS),
            Err(TokenError::BadSignature)
        );
        // One character changed anywhere in the payload.
        let mut bytes = token.into_bytes();
        bytes[5] = if bytes[5] == b'A' { b'B' } else { b'A' };
        let token = String::from_utf8(bytes).unwrap();
        assert_eq!(
            verify(&key(), &token, NOW_MS),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn tampered_signature_is_bad_signature() {
        let token = mint(&key(), &claims());
        let (payload, tag) = token.split_once('.').unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(tag).unwrap();
        for index in [0, 15, 31] {
            raw[index] ^= 1;
            let forged = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&raw));
            assert_eq!(
                verify(&key(), &forged, NOW_MS),
                Err(TokenError::BadSignature)
            );
            raw[index] ^= 1;
        }
        // A truncated or extended signature is not even a MAC.
        let short = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&raw[..31]));
        assert_eq!(verify(&key(), &short, NOW_MS), Err(TokenError::Malformed));
        let long = format!(
            "{payload}.{}",
            URL_SAFE_NO_PAD.encode([&raw[..], &[0]].concat())
        );
        assert_eq!(verify(&key(), &long, NOW_MS), Err(TokenError::Malformed));
    }

    #[test]
    fn wrong_key_is_bad_signature() {
        let token = mint(&key(), &claims());
        let other = TokenKey::derive(b"another master key");
        assert_eq!(
            verify(&other, &token, NOW_MS),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn expired_from_expires_ms_on() {
        let claims = claims();
        let token = mint(&key(), &claims);
        assert_eq!(
            verify(&key(), &token, claims.expires_ms),
            Err(TokenError::Expired)
        );
        assert_eq!(verify(&key(), &token, u64::MAX), Err(TokenError::Expired));
        let overflow = SessionClaims::new("root", u64::MAX - 5, TTL_MS);
        assert_eq!(overflow.expires_ms, u64::MAX);
    }

    #[test]
    fn oversize_is_refused_before_any_work() {
        let token = mint(&key(), &claims());
        let padded = format!("{token}{}", "A".repeat(TOKEN_BYTES_MAX));
        assert_eq!(verify(&key(), &padded, NOW_MS), Err(TokenError::Malformed));
        // A validly signed token over the bound is refused all the same.
        let mut big = claims();
        big.subject = "x".repeat(TOKEN_BYTES_MAX);
        let token = mint(&key(), &big);
        assert_eq!(verify(&key(), &token, NOW_MS), Err(TokenError::Malformed));
    }

    #[test]
    fn garbage_is_malformed() {
        let valid = mint(&key(), &claims());
        let (payload, tag) = valid.split_once('.').unwrap();
        let cases = [
            String::new(),
            ".".into(),
            "..".into(),
            "abc".into(),
            payload.into(),
            format!("{payload}."),
            format!("{payload}.{tag}.{tag}"),
            format!("{payload}.{tag}="),
            format!("{payload}.!{}", &tag[1..]),
            format!("{payload}.{}", "é".repeat(22)),
            "\0\0\0.\0\0\0".into(),
        ];
        for token in cases {
            assert_eq!(
                verify(&key(), &token, NOW_MS),
                Err(TokenError::Malformed),
                "{token:?}"
            );
        }
        // Bad base64 in the payload only fails the MAC: it is checked first.
        let bad_payload = format!("{}!.{tag}", &payload[..payload.len() - 1]);
        assert_eq!(
            verify(&key(), &bad_payload, NOW_MS),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn signed_payloads_of_the_wrong_shape_are_malformed() {
        let key = key();
        let cases: [&[u8]; 7] = [
            b"not json",
            b"[]",
            b"{}",
            br#"{"session_id":"a","subject":"root","issued_ms":1}"#,
            br#"{"session_id":"a","subject":"root","issued_ms":1,"expires_ms":"9"}"#,
            br#"{"session_id":"a","subject":"root","issued_ms":1,"expires_ms":9e99,"x":1}"#,
            br#"{"session_id":"a","subject":"root","issued_ms":1,"expires_ms":1,"admin":true}"#,
        ];
        for json in cases {
            let token = sign_raw(&key, json);
            assert_eq!(
                verify(&key, &token, 0),
                Err(TokenError::Malformed),
                "{}",
                String::from_utf8_lossy(json)
            );
        }
        let exact = br#"{"session_id":"a","subject":"root","issued_ms":1,"expires_ms":10}"#;
        let claims = verify(&key, &sign_raw(&key, exact), 5).unwrap();
        assert_eq!(claims.subject, "root");
    }

    #[test]
    fn session_ids_are_fresh() {
        let one = new_session_id();
        assert_eq!(one.len(), 32);
        assert!(one.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(one, new_session_id());
    }

    #[test]
    fn csrf_token_binds_to_session_and_key() {
        let key = key();
        let token = csrf_token_for(&key, "session-a");
        assert_eq!(token.len(), 64);
        assert_eq!(token, csrf_token_for(&key, "session-a"));
        assert!(csrf_matches(&key, "session-a", &token));
        assert!(!csrf_matches(&key, "session-b", &token));
        assert!(!csrf_matches(
            &TokenKey::derive(b"other"),
            "session-a",
            &token
        ));
        assert!(!csrf_matches(&key, "session-a", ""));
        assert!(!csrf_matches(&key, "session-a", &token[..63]));
        assert!(!csrf_matches(&key, "session-a", &token.to_uppercase()));
        assert!(!csrf_matches(&key, "session-a", &format!("{token}0")));
    }

    #[test]
    fn csrf_token_is_not_a_token_signature() {
        let key = key();
        let claims = claims();
        let token = mint(&key, &claims);
        let (_, tag) = token.split_once('.').unwrap();
        let tag_hex = hex::encode(URL_SAFE_NO_PAD.decode(tag).unwrap());
        assert_ne!(csrf_token_for(&key, &claims.session_id), tag_hex);
    }

    #[test]
    fn errors_display_without_token_contents() {
        assert_eq!(TokenError::Expired.to_string(), "session token has expired");
        assert!(TokenError::BadSignature.to_string().contains("signature"));
        assert!(TokenError::Malformed.to_string().contains("malformed"));
    }
}
