//! Root credentials: given by the operator (environment) or generated once at
//! first start (AWS-style: a 20-character `AKIA…` id and a 40-character secret).

use rand::Rng;

#[derive(Clone, PartialEq, Eq)]
pub struct RootCredentials {
    pub access_key: String,
    pub secret_key: String,
}

// Never print the secret by accident (Debug is used in logs).
impl std::fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCredentials")
            .field("access_key", &self.access_key)
            .finish()
    }
}

const ACCESS_KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_KEY_ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Random characters from `alphabet` (the OS generator).
pub fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// An AWS-style id: `prefix` then 16 characters (`AKIA...`, `AIDA...`).
pub fn random_id(prefix: &str) -> String {
    format!("{prefix}{}", random_from(ACCESS_KEY_ALPHABET, 16))
}

/// A 40-character secret access key.
pub fn random_secret() -> String {
    random_from(SECRET_KEY_ALPHABET, 40)
}

pub fn generate_root_credentials() -> RootCredentials {
    RootCredentials {
        access_key: format!("AKIA{}", random_from(ACCESS_KEY_ALPHABET, 16)),
        secret_key: random_from(SECRET_KEY_ALPHABET, 40),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credentials_look_like_aws() {
        let creds = generate_root_credentials();
        assert_eq!(creds.access_key.len(), 20);
        assert!(creds.access_key.starts_with("AKIA"));
        assert_eq!(creds.secret_key.len(), 40);
        assert_ne!(creds, generate_root_credentials());
        assert!(!format!("{creds:?}").contains(&creds.secret_key));
    }
}
