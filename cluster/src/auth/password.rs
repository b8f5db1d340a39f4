//! Console passwords: argon2id hashing into PHC strings
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), constant-time
//! verification, and the strength rule applied when a password is set.
//!
//! Owns the hashing parameters. The stored PHC string carries its own
//! parameters, so hashes made with older parameters still verify after these
//! change; verification refuses parameters above generous bounds so that a
//! corrupted or planted catalog row cannot make one login cost gigabytes.
//!
//! Must not touch: storage. The caller keeps the PHC string.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;

use super::AuthError;

/// Fewer characters than this are refused when a password is set (NIST SP
/// 800-63B's floor for user-chosen secrets).
pub const PASSWORD_CHARS_MIN: usize = 8;

/// More bytes than this are refused: argon2's input stays bounded, and no
/// sensible passphrase is longer.
pub const PASSWORD_BYTES_MAX: usize = 256;

/// argon2id memory cost in KiB: OWASP's first recommended setting (19 MiB,
/// t=2, p=1), about 10-30 ms on one core, which bounds guessing speed without
/// letting a burst of logins stall the control plane.
const ARGON2_MEMORY_KIB: u32 = 19_456;
/// argon2id passes over memory (OWASP: 2 with 19 MiB).
const ARGON2_ITERATIONS: u32 = 2;
/// argon2id lanes: one, because the control plane hashes on one thread.
const ARGON2_LANES: u32 = 1;
/// Salt length: 16 bytes, the length RFC 9106 recommends.
const SALT_BYTES: usize = 16;

/// Stored hashes asking for more than this memory are refused unverified
/// (256 MiB: 13 times today's setting, room for a future increase).
const VERIFY_MEMORY_KIB_MAX: u32 = 262_144;
/// Stored hashes asking for more passes than this are refused unverified.
const VERIFY_ITERATIONS_MAX: u32 = 16;
/// Stored hashes asking for more lanes than this are refused unverified.
const VERIFY_LANES_MAX: u32 = 8;

/// The hasher with this module's parameters.
fn hasher() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None)
        .expect("argon2 parameters are valid constants");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` with argon2id and a fresh random salt into a PHC string.
///
/// Only the length bound is checked here; the strength rule is
/// `check_password_strength`, applied where a password is chosen.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    if password.len() > PASSWORD_BYTES_MAX {
        return Err(too_long());
    }
    let mut salt_bytes = [0u8; SALT_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|error| AuthError::Hashing(error.to_string()))?;
    let hash = hasher()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|error| AuthError::Hashing(error.to_string()))?;
    Ok(hash.to_string())
}

/// True when `password` matches the stored PHC string `phc`.
///
/// The comparison of the derived hash is constant-time (the argon2 crate's
/// `Output` equality). A malformed stored hash, another algorithm than
/// argon2id, or parameters above the verification bounds give false, never a
/// panic: the caller answers "wrong password" either way and logs nothing
/// secret.
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.len() > PASSWORD_BYTES_MAX {
        return false;
    }
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    if !verify_password_params_allowed(&hash) {
        return false;
    }
    hasher().verify_password(password.as_bytes(), &hash).is_ok()
}

/// Whether the stored hash is argon2id with parameters within the bounds
/// this module is willing to spend on one login.
fn verify_password_params_allowed(hash: &PasswordHash<'_>) -> bool {
    if hash.algorithm != Algorithm::Argon2id.ident() {
        return false;
    }
    let Ok(params) = Params::try_from(hash) else {
        return false;
    };
    params.m_cost() <= VERIFY_MEMORY_KIB_MAX
        && params.t_cost() <= VERIFY_ITERATIONS_MAX
        && params.p_cost() <= VERIFY_LANES_MAX
}

/// Checks the rule for a newly chosen password: at least
/// `PASSWORD_CHARS_MIN` characters (Unicode scalar values, so a passphrase in
/// any script counts by what the user typed) and at most
/// `PASSWORD_BYTES_MAX` bytes. The error names the rule, never the password.
pub fn check_password_strength(password: &str) -> Result<(), AuthError> {
    if password.len() > PASSWORD_BYTES_MAX {
        return Err(too_long());
    }
    if password.chars().count() < PASSWORD_CHARS_MIN {
        return Err(AuthError::WeakPassword(format!(
            "must have at least {PASSWORD_CHARS_MIN} characters"
        )));
    }
    Ok(())
}

fn too_long() -> AuthError {
    AuthError::WeakPassword(format!("must be at most {PASSWORD_BYTES_MAX} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three argon2 computations at the real cost: one hash, two verifies.
    #[test]
    fn hash_then_verify_right_and_wrong() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(
            phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "unexpected PHC string shape: {phc}"
        );
        assert!(!phc.contains("correct horse"));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse battery!", &phc));
    }

    /// Hashes made with other (here: cheap) parameters still verify, because
    /// the PHC string carries its parameters.
    #[test]
    fn verify_uses_the_stored_parameters() {
        let params = Params::new(64, 1, 1, None).unwrap();
        let cheap = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let phc = cheap
            .hash_password(b"passphrase", &salt)
            .unwrap()
            .to_string();
        assert!(phc.contains("m=64,t=1,p=1"));
        assert!(verify_password("passphrase", &phc));
        assert!(!verify_password("passphrasf", &phc));
    }

    #[test]
    fn other_argon2_variants_are_refused() {
        let params = Params::new(64, 1, 1, None).unwrap();
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, params);
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let phc = argon2i
            .hash_password(b"passphrase", &salt)
            .unwrap()
            .to_string();
        assert!(phc.starts_with("$argon2i$"));
        assert!(!verify_password("passphrase", &phc));
    }

    /// A stored hash demanding 4 GiB is refused before any work is done.
    #[test]
    fn expensive_stored_parameters_are_refused() {
        let salt = "MDEyMzQ1Njc4OWFiY2RlZg";
        let digest = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        for params in ["m=4194304,t=2,p=1", "m=19456,t=100,p=1", "m=19456,t=2,p=64"] {
            let phc = format!("$argon2id$v=19${params}${salt}${digest}");
            assert!(PasswordHash::new(&phc).is_ok(), "{phc} should parse");
            assert!(!verify_password("whatever1", &phc));
        }
    }

    #[test]
    fn malformed_stored_hashes_are_false_not_panics() {
        let cases = [
            "",
            "$",
            "plaintext-password",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$",
            "$argon2id$v=19$m=abc,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAA",
            "$argon2id$v=19$m=0,t=0,p=0$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=99$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=64,t=1,p=1,x=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAA",
            "$bcrypt$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAA",
            "$2b$12$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
        ];
        for phc in cases {
            assert!(!verify_password("password1", phc), "{phc:?} verified");
        }
    }

    #[test]
    fn oversize_passwords_are_refused_without_hashing() {
        let long = "a".repeat(PASSWORD_BYTES_MAX + 1);
        assert_eq!(hash_password(&long), Err(too_long()));
        assert!(!verify_password(
            &long,
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$AAAA"
        ));
    }

    #[test]
    fn strength_rule_counts_characters_and_bounds_bytes() {
        assert!(check_password_strength("1234567").is_err());
        assert!(check_password_strength("").is_err());
        assert!(check_password_strength("12345678").is_ok());
        // Seven two-byte characters are 14 bytes but still only 7 characters.
        assert!(check_password_strength("ééééééé").is_err());
        assert!(check_password_strength("éééééééé").is_ok());
        assert!(check_password_strength(&"x".repeat(PASSWORD_BYTES_MAX)).is_ok());
        // 86 three-byte characters: 258 bytes, over the bound.
        let long = "€".repeat(86);
        assert!(long.len() > PASSWORD_BYTES_MAX);
        assert_eq!(check_password_strength(&long), Err(too_long()));
    }

    #[test]
    fn strength_errors_never_contain_the_password() {
        let secret = "hunter2";
        let error = check_password_strength(secret).unwrap_err();
        assert!(!error.to_string().contains(secret));
        assert!(!format!("{error:?}").contains(secret));
    }
}
