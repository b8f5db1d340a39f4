//! Security primitives of the admin API's login: pure, synchronous functions
//! with no I/O, no clock and no storage, so each rule can be tested alone.
//!
//! Owns:
//! - `password`: argon2id hashing of console passwords (PHC strings) and the
//!   strength rule applied when a password is set.
//! - `totp`: RFC 6238 one-time codes (secrets, `otpauth://` URLs, replay-safe
//!   verification) and single-use backup codes stored as SHA-256 hashes.
//! - `token`: stateless session tokens (HMAC-SHA256 over JSON claims) and the
//!   CSRF token bound to a session.
//! - `lockout`: the in-memory, bounded failure counters that lock an account
//!   after repeated failures and throttle one source address.
//!
//! Must not touch: the catalog, the network or the clock. Callers pass the
//! current time in (`now_ms`, `unix_s`) and persist whatever these functions
//! return (hashes, last used TOTP step, remaining backup codes).
//!
//! Secrets never appear in `Debug` output or in error messages.

pub mod lockout;
pub mod password;
pub mod token;
pub mod totp;

// Types only: the functions are called through their module
// (`token::verify`, `totp::verify_code`) so that the name says what is verified.
pub use lockout::{FailureOutcome, Locked, LoginLimiter, SourceThrottle, Throttled};
pub use token::{SessionClaims, TokenError, TokenKey};
pub use totp::TotpSecret;

use std::fmt;

/// Errors of the password and TOTP primitives. Session tokens have their own
/// `TokenError` because the caller maps each of its cases to a different
/// answer (re-login, audit of a forgery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The password breaks the strength rule; the text says which rule and
    /// never contains the password.
    WeakPassword(String),
    /// A stored TOTP secret is not base32 of the expected length.
    BadSecret,
    /// The hashing library refused its input or parameters (a bug or a
    /// resource failure, not a wrong password).
    Hashing(String),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::WeakPassword(rule) => write!(f, "password too weak: {rule}"),
            AuthError::BadSecret => write!(f, "TOTP secret is not valid base32 of 20 bytes"),
            AuthError::Hashing(reason) => write!(f, "password hashing failed: {reason}"),
        }
    }
}

impl std::error::Error for AuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_rule_not_the_secret() {
        let weak = AuthError::WeakPassword("must have at least 8 characters".into());
        assert_eq!(
            weak.to_string(),
            "password too weak: must have at least 8 characters"
        );
        assert!(AuthError::BadSecret.to_string().contains("base32"));
        assert!(AuthError::Hashing("x".into())
            .to_string()
            .contains("hashing"));
    }
}
