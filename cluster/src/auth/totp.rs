//! Second factor: RFC 6238 time-based one-time codes (HMAC-SHA1, 6 digits,
//! 30-second steps, the only profile every authenticator app supports) and
//! single-use backup codes.
//!
//! Owns: `TotpSecret` and its RFC 4648 base32 text form (no padding, as
//! `otpauth://` URLs carry it), the `otpauth://` enrolment URL, code
//! verification with a ±1 step window and replay refusal, and backup codes
//! stored as SHA-256 hex digests.
//!
//! Must not touch: storage or the clock. The caller passes the time, stores
//! the step `verify_code` returns as the last used step, and stores the
//! backup-code hashes that `consume_backup_code` leaves.

use std::fmt;

use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::RngCore;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AuthError;

type HmacSha1 = Hmac<Sha1>;

/// Secret length: 20 bytes, the HMAC-SHA1 output size RFC 4226 recommends.
pub const TOTP_SECRET_BYTES: usize = 20;
/// Length of one time step (RFC 6238's default; apps assume it).
pub const TOTP_STEP_S: u64 = 30;
/// Digits in a code (RFC 6238's and the apps' default).
pub const TOTP_DIGITS: usize = 6;
/// Steps accepted either side of the current one, for clock drift between
/// the server and the phone and for a code typed just as it rolled over.
const TOTP_STEPS_SKEW: u64 = 1;

/// Backup codes handed out at enrolment.
pub const BACKUP_CODES_COUNT: usize = 10;
/// Characters in one backup code, shown as two groups of four: 40 bits from
/// the 32-character alphabet, enough for a code that only works together
/// with the password and behind the login throttle.
const BACKUP_CODE_CHARS: usize = 8;
/// Crockford's base32 alphabet, lower case: no `i`, `l`, `o` or `u`, so no
/// two characters look alike; `o`, `i` and `l` typed by mistake are read as
/// `0` and `1` (see `backup_code_normalise`).
const BACKUP_CODE_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// RFC 4648 base32 alphabet.
const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A TOTP shared secret. `Debug` prints no key material.
#[derive(Clone)]
pub struct TotpSecret([u8; TOTP_SECRET_BYTES]);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    /// A fresh secret from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOTP_SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        TotpSecret(bytes)
    }

    /// A secret from its raw bytes (tests, and RFC 6238's vectors).
    pub fn from_bytes(bytes: [u8; TOTP_SECRET_BYTES]) -> Self {
        TotpSecret(bytes)
    }

    /// The base32 form shown to the user and put in the `otpauth://` URL:
    /// 32 upper-case characters, no padding.
    pub fn to_base32(&self) -> String {
        base32_encode(&self.0)
    }

    /// Parses the base32 form. Case-insensitive, as users retype it; anything
    /// that is not exactly 20 bytes of canonical base32 is `BadSecret`.
    pub fn from_base32(text: &str) -> Result<Self, AuthError> {
        let bytes = base32_decode(text).ok_or(AuthError::BadSecret)?;
        let bytes: [u8; TOTP_SECRET_BYTES] = bytes.try_into().map_err(|_| AuthError::BadSecret)?;
        Ok(TotpSecret(bytes))
    }
}

/// Characters left as they are in `otpauth://` labels and parameters: RFC
/// 3986's unreserved set. Everything else, including `:` (the label's
/// issuer separator) and spaces, is percent-encoded.
const OTPAUTH_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The enrolment URL in the Key Uri Format that authenticator apps read from
/// a QR code: `otpauth://totp/ISSUER:ACCOUNT?secret=..&issuer=ISSUER&..`.
/// Issuer and account are percent-encoded separately so that a `:` in either
/// cannot move the label's separator.
pub fn otpauth_url(issuer: &str, account: &str, secret: &TotpSecret) -> String {
    let issuer = utf8_percent_encode(issuer, OTPAUTH_ENCODE_SET).to_string();
    let account = utf8_percent_encode(account, OTPAUTH_ENCODE_SET);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}\
         &algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP_S}",
        secret.to_base32()
    )
}

/// The 6-digit code for the step that contains `unix_s`.
pub fn code_at(secret: &TotpSecret, unix_s: u64) -> u32 {
    hotp_value(secret, unix_s / TOTP_STEP_S) % 10u32.pow(TOTP_DIGITS as u32)
}

/// RFC 4226's HOTP before the final modulo: HMAC-SHA1 of the big-endian
/// counter, then dynamic truncation to a 31-bit number.
fn hotp_value(secret: &TotpSecret, counter: u64) -> u32 {
    let mut mac = HmacSha1::new_from_slice(&secret.0).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    // The low nibble of the last byte picks where the 4 bytes are read from.
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let word = [
        digest[offset],
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ];
    u32::from_be_bytes(word) & 0x7fff_ffff
}

/// Checks `code` against the steps around `unix_s` (±1) and returns the step
/// it matched, which the caller stores as the new `last_used_step`.
///
/// Refused (None): a code that is not exactly 6 ASCII digits, and any step at
/// or before `last_used_step`, so a code seen over a shoulder or in a log
/// cannot be used a second time. Every candidate step is compared in
/// constant time and all of them are always compared.
pub fn verify_code(
    secret: &TotpSecret,
    code: &str,
    unix_s: u64,
    last_used_step: Option<u64>,
) -> Option<u64> {
    if code.len() != TOTP_DIGITS || !code.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let step_now = unix_s / TOTP_STEP_S;
    let step_first = step_now.saturating_sub(TOTP_STEPS_SKEW);
    let step_last = step_now.saturating_add(TOTP_STEPS_SKEW);
    let mut matched = None;
    for step in step_first..=step_last {
        let expected = format!(
            "{:0width$}",
            code_for_step(secret, step),
            width = TOTP_DIGITS
        );
        let equal: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
        let fresh = last_used_step.is_none_or(|last| step > last);
        // The latest matching step wins: storing the highest step leaves the
        // smallest set of steps open to a replay.
        if equal && fresh {
            matched = Some(step);
        }
    }
    matched
}

fn code_for_step(secret: &TotpSecret, step: u64) -> u32 {
    hotp_value(secret, step) % 10u32.pow(TOTP_DIGITS as u32)
}

/// `count` fresh backup codes, shown once to the user as `xxxx-xxxx`.
/// Store only their `hash_backup_code` digests.
pub fn generate_backup_codes(count: usize) -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..count)
        .map(|_| {
            let mut bytes = [0u8; BACKUP_CODE_CHARS];
            rng.fill_bytes(&mut bytes);
            // 256 is a multiple of 32, so the low five bits are uniform.
            let chars: String = bytes
                .iter()
                .map(|byte| BACKUP_CODE_ALPHABET[usize::from(byte & 31)] as char)
                .collect();
            format!("{}-{}", &chars[..4], &chars[4..])
        })
        .collect()
}

/// The stored form of a backup code: SHA-256 hex of its normalised text.
///
/// A plain digest is enough: a code is only worth anything together with
/// the account's password, and the login throttle stands in front of it.
pub fn hash_backup_code(code: &str) -> String {
    hex::encode(Sha256::digest(backup_code_normalise(code).as_bytes()))
}

/// Lower case, without the `-` and spaces people type or paste, with the
/// look-alike letters outside the alphabet read as the digits they resemble.
fn backup_code_normalise(code: &str) -> String {
    code.chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            lower => lower,
        })
        .collect()
}

/// Uses up one backup code: true when `code` matches a stored digest, which
/// is then removed so that the code never works again. All digests are
/// compared in constant time, whichever matches.
pub fn consume_backup_code(hashes: &mut Vec<String>, code: &str) -> bool {
    let normalised = backup_code_normalise(code);
    let well_formed = normalised.len() == BACKUP_CODE_CHARS
        && normalised
            .bytes()
            .all(|byte| BACKUP_CODE_ALPHABET.contains(&byte));
    if !well_formed {
        return false;
    }
    let presented = hex::encode(Sha256::digest(normalised.as_bytes()));
    let mut matched = None;
    for (index, stored) in hashes.iter().enumerate() {
        if bool::from(stored.as_bytes().ct_eq(presented.as_bytes())) {
            matched = Some(index);
        }
    }
    match matched {
        Some(index) => {
            hashes.swap_remove(index);
            true
        }
        None => false,
    }
}

/// RFC 4648 base32 without padding.
fn base32_encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            text.push(BASE32_ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        text.push(BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    text
}

/// RFC 4648 base32 without padding, case-insensitive. None for a character
/// outside the alphabet (padding included), a length no byte count encodes
/// to, or non-zero leftover bits (so each byte string has one text form).
fn base32_decode(text: &str) -> Option<Vec<u8>> {
    // Lengths mod 8 of 1, 3 and 6 leave whole characters without a byte.
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return None;
    }
    let mut bytes = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for byte in text.bytes() {
        let value = match byte.to_ascii_uppercase() {
            upper @ b'A'..=b'Z' => upper - b'A',
            digit @ b'2'..=b'7' => digit - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    if buffer != 0 {
        return None;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA1 key: the ASCII digits "1234567890" twice.
    fn rfc6238_secret() -> TotpSecret {
        TotpSecret::from_bytes(*b"12345678901234567890")
    }

    /// RFC 6238 appendix B, SHA1 column: (time, 8-digit TOTP).
    const RFC6238_SHA1: [(u64, u32); 6] = [
        (59, 94_287_082),
        (1_111_111_109, 7_081_804),
        (1_111_111_111, 14_050_471),
        (1_234_567_890, 89_005_924),
        (2_000_000_000, 69_279_037),
        (20_000_000_000, 65_353_130),
    ];

    #[test]
    fn rfc6238_sha1_vectors_eight_digits() {
        let secret = rfc6238_secret();
        for (unix_s, code8) in RFC6238_SHA1 {
            assert_eq!(
                hotp_value(&secret, unix_s / 30) % 100_000_000,
                code8,
                "t={unix_s}"
            );
        }
    }

    #[test]
    fn rfc6238_sha1_vectors_six_digits() {
        let secret = rfc6238_secret();
        for (unix_s, code8) in RFC6238_SHA1 {
            assert_eq!(code_at(&secret, unix_s), code8 % 1_000_000, "t={unix_s}");
        }
        assert_eq!(code_at(&secret, 59), 287_082);
        assert_eq!(code_at(&secret, 1_234_567_890), 5_924);
    }

    /// RFC 4226 appendix D: HOTP values for counters 0..9 with the same key.
    #[test]
    fn rfc4226_hotp_vectors() {
        let expected = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        let secret = rfc6238_secret();
        for (counter, code) in expected.into_iter().enumerate() {
            assert_eq!(
                code_for_step(&secret, counter as u64),
                code,
                "counter {counter}"
            );
        }
    }

    #[test]
    fn rfc4648_base32_vectors() {
        let vectors: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "MY"),
            (b"fo", "MZXQ"),
            (b"foo", "MZXW6"),
            (b"foob", "MZXW6YQ"),
            (b"fooba", "MZXW6YTB"),
            (b"foobar", "MZXW6YTBOI"),
        ];
        for (bytes, text) in vectors {
            assert_eq!(base32_encode(bytes), text);
            assert_eq!(base32_decode(text).as_deref(), Some(bytes));
            assert_eq!(
                base32_decode(&text.to_ascii_lowercase()).as_deref(),
                Some(bytes)
            );
        }
    }

    #[test]
    fn base32_round_trips_every_length() {
        let data: Vec<u8> = (0..=255u8).collect();
        for len in 0..64 {
            let bytes = &data[200 - len..200];
            let text = base32_encode(bytes);
            assert_eq!(text.len(), (len * 8).div_ceil(5));
            assert_eq!(base32_decode(&text).as_deref(), Some(bytes), "len {len}");
        }
    }

    #[test]
    fn base32_rejects_bad_text() {
        // Padding, impossible lengths (1, 3, 6 mod 8), characters outside the
        // alphabet.
        for text in [
            "MZXW6YTBOI======",
            "M",
            "MZX",
            "MZXW6Y",
            "MZ1Q",
            "MZ Q",
            "MZXQ=",
            "MZ0Q",
        ] {
            assert_eq!(base32_decode(text), None, "{text:?}");
        }
        // "MY" is 01100 11000: the byte 'f' then two zero bits. "MZ" ends in
        // a set bit, a second spelling of the same byte, so it is refused.
        assert_eq!(base32_decode("MY").as_deref(), Some(&b"f"[..]));
        assert_eq!(base32_decode("MZ"), None);
    }

    #[test]
    fn secret_base32_round_trip_and_length() {
        let secret = TotpSecret::generate();
        let text = secret.to_base32();
        assert_eq!(text.len(), 32);
        let back = TotpSecret::from_base32(&text).unwrap();
        assert_eq!(back.0, secret.0);
        let lower = TotpSecret::from_base32(&text.to_ascii_lowercase()).unwrap();
        assert_eq!(lower.0, secret.0);
        assert_eq!(
            rfc6238_secret().to_base32(),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }

    #[test]
    fn secret_from_bad_base32_is_bad_secret() {
        for text in [
            "",
            "MZXW6YTBOI",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ!",
            "GEZDGNBVGY3TQOJQ",
        ] {
            assert_eq!(
                TotpSecret::from_base32(text).unwrap_err(),
                AuthError::BadSecret
            );
        }
        // 40 characters: 25 bytes, one too many.
        let long = "A".repeat(40);
        assert_eq!(
            TotpSecret::from_base32(&long).unwrap_err(),
            AuthError::BadSecret
        );
    }

    #[test]
    fn generated_secrets_differ_and_debug_hides_them() {
        let one = TotpSecret::generate();
        let two = TotpSecret::generate();
        assert_ne!(one.0, two.0);
        let debug = format!("{one:?}");
        assert_eq!(debug, "TotpSecret(..)");
        assert!(!debug.contains(&one.to_base32()));
    }

    #[test]
    fn otpauth_url_encodes_label_and_issuer() {
        let secret = rfc6238_secret();
        let url = otpauth_url("MaxIOFS", "root", &secret);
        assert_eq!(
            url,
            "otpauth://totp/MaxIOFS:root?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=MaxIOFS&algorithm=SHA1&digits=6&period=30"
        );
        let url = otpauth_url("Acme S3:prod", "tenant/alice@example.com", &secret);
        assert!(
            url.starts_with("otpauth://totp/Acme%20S3%3Aprod:tenant%2Falice%40example.com?secret=")
        );
        assert!(url.contains("&issuer=Acme%20S3%3Aprod&"));
        let url = otpauth_url("x", "a&secret=AAAA", &secret);
        assert!(url.starts_with("otpauth://totp/x:a%26secret%3DAAAA?secret=GEZ"));
    }

    #[test]
    fn verify_accepts_current_and_adjacent_steps() {
        let secret = rfc6238_secret();
        let now_s = 1_111_111_111;
        let step = now_s / TOTP_STEP_S;
        for offset in [-1i64, 0, 1] {
            let at_s = (now_s as i64 + offset * TOTP_STEP_S as i64) as u64;
            let code = format!("{:06}", code_at(&secret, at_s));
            let expected = (step as i64 + offset) as u64;
            assert_eq!(verify_code(&secret, &code, now_s, None), Some(expected));
        }
    }

    #[test]
    fn verify_refuses_steps_outside_the_window() {
        let secret = rfc6238_secret();
        let now_s = 1_111_111_111;
        for offset in [-3i64, -2, 2, 3] {
            let at_s = (now_s as i64 + offset * TOTP_STEP_S as i64) as u64;
            let code = format!("{:06}", code_at(&secret, at_s));
            assert_eq!(
                verify_code(&secret, &code, now_s, None),
                None,
                "offset {offset}"
            );
        }
    }

    #[test]
    fn verify_keeps_leading_zeros() {
        // RFC vector: 1234567890 gives 89005924, so the 6-digit code is 005924.
        let secret = rfc6238_secret();
        let step = 1_234_567_890 / TOTP_STEP_S;
        assert_eq!(
            verify_code(&secret, "005924", 1_234_567_890, None),
            Some(step)
        );
        assert_eq!(verify_code(&secret, "5924", 1_234_567_890, None), None);
    }

    #[test]
    fn verify_refuses_replay_of_a_used_step() {
        let secret = rfc6238_secret();
        let now_s = 2_000_000_000;
        let code = format!("{:06}", code_at(&secret, now_s));
        let step = verify_code(&secret, &code, now_s, None).unwrap();
        assert_eq!(verify_code(&secret, &code, now_s, Some(step)), None);
        assert_eq!(verify_code(&secret, &code, now_s + 10, Some(step)), None);
        // An older step is refused once a later one was used.
        let previous = format!("{:06}", code_at(&secret, now_s - TOTP_STEP_S));
        assert_eq!(verify_code(&secret, &previous, now_s, Some(step)), None);
        // The next step's code still works.
        let next = format!("{:06}", code_at(&secret, now_s + TOTP_STEP_S));
        assert_eq!(
            verify_code(&secret, &next, now_s + TOTP_STEP_S, Some(step)),
            Some(step + 1)
        );
    }

    #[test]
    fn verify_refuses_malformed_codes() {
        let secret = rfc6238_secret();
        let now_s = 59;
        assert_eq!(verify_code(&secret, "287082", now_s, None), Some(1));
        for code in [
            "",
            "28708",
            "2870820",
            " 287082",
            "287082 ",
            "287 082",
            "28708a",
            "+28708",
            "２８７０８２",
            "-287082",
        ] {
            assert_eq!(verify_code(&secret, code, now_s, None), None, "{code:?}");
        }
    }

    #[test]
    fn verify_at_time_zero_does_not_underflow() {
        let secret = rfc6238_secret();
        let code = format!("{:06}", code_at(&secret, 0));
        assert_eq!(verify_code(&secret, &code, 0, None), Some(0));
        assert_eq!(verify_code(&secret, &code, 0, Some(0)), None);
        let far = u64::MAX;
        let code = format!("{:06}", code_at(&secret, far));
        assert_eq!(
            verify_code(&secret, &code, far, None),
            Some(far / TOTP_STEP_S)
        );
    }

    #[test]
    fn verify_with_another_secret_fails() {
        let secret = rfc6238_secret();
        let other = TotpSecret::from_bytes([7u8; TOTP_SECRET_BYTES]);
        let code = format!("{:06}", code_at(&other, 59));
        assert_ne!(code, "287082");
        assert_eq!(verify_code(&secret, &code, 59, None), None);
    }

    #[test]
    fn backup_codes_have_the_documented_shape() {
        let codes = generate_backup_codes(BACKUP_CODES_COUNT);
        assert_eq!(codes.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 9, "{code}");
            assert_eq!(&code[4..5], "-");
            for byte in code.bytes().filter(|byte| *byte != b'-') {
                assert!(BACKUP_CODE_ALPHABET.contains(&byte), "{code}");
                assert!(!b"ilou".contains(&byte));
            }
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        assert!(generate_backup_codes(0).is_empty());
    }

    #[test]
    fn backup_code_hash_normalises_input() {
        let stored = hash_backup_code("ab3d-9xyz");
        assert_eq!(stored.len(), 64);
        assert_eq!(stored, hex::encode(Sha256::digest(b"ab3d9xyz")));
        assert_eq!(hash_backup_code("AB3D-9XYZ"), stored);
        assert_eq!(hash_backup_code(" ab3d 9xyz "), stored);
        assert_eq!(hash_backup_code("ab3d9xyz"), stored);
        assert_ne!(hash_backup_code("ab3d-9xyy"), stored);
        // Look-alike letters are read as the digits the alphabet keeps.
        assert_eq!(hash_backup_code("0011-1abc"), hash_backup_code("oOiI-labc"));
    }

    #[test]
    fn backup_codes_are_single_use() {
        let codes = generate_backup_codes(BACKUP_CODES_COUNT);
        let mut hashes: Vec<String> = codes.iter().map(|code| hash_backup_code(code)).collect();
        assert!(consume_backup_code(&mut hashes, &codes[3]));
        assert_eq!(hashes.len(), 9);
        assert!(!consume_backup_code(&mut hashes, &codes[3]));
        assert_eq!(hashes.len(), 9);
        assert!(consume_backup_code(&mut hashes, &codes[0].to_uppercase()));
        assert!(consume_backup_code(&mut hashes, &codes[9].replace('-', "")));
        assert_eq!(hashes.len(), 7);
        for code in &codes[4..9] {
            assert!(consume_backup_code(&mut hashes, code));
        }
        assert!(consume_backup_code(&mut hashes, &codes[1]));
        assert!(consume_backup_code(&mut hashes, &codes[2]));
        assert!(hashes.is_empty());
        assert!(!consume_backup_code(&mut hashes, &codes[1]));
    }

    #[test]
    fn backup_code_refuses_wrong_and_malformed_input() {
        let mut hashes = vec![hash_backup_code("abcd-efgh")];
        for code in [
            "",
            "abcd",
            "abcd-efg",
            "abcd-efghj",
            "abcd-efgu",
            "abcd_efgh",
            "abcd-efgj",
        ] {
            assert!(!consume_backup_code(&mut hashes, code), "{code:?}");
        }
        assert_eq!(hashes.len(), 1);
        assert!(consume_backup_code(&mut hashes, "ABCD EFGH"));
    }
}
