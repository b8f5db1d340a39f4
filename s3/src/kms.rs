//! SSE-KMS keys as the shards hold them: the built-in key store's keys
//! (created, rotated and disabled through the admin API; their material is
//! sealed with the master key in the catalog and opened into each snapshot),
//! and how a request names one: a key id, a key ARN, `alias/<name>`, or
//! nothing (the account's `aws/s3` key, as AWS does).
//!
//! Owns: resolving a name in the bucket owner's account (another account's
//! key is not found: keys are not shared across tenants), AWS's errors for
//! an unknown (`KMS.NotFoundException`) or disabled (`KMS.DisabledException`)
//! key, and deriving the wrapping key of an object from the key's material
//! and the request's encryption context, so a data key opens only under the
//! context it was written with. Must not: store or change keys (the control
//! plane does).

use std::collections::HashMap;
use std::sync::Arc;

use engine::crypto::{hmac_sha256, MasterKey};

use crate::error::{S3Error, S3ErrorCode, S3Result};

/// The alias of every account's default key (the AWS-managed key).
pub const DEFAULT_KEY_ALIAS: &str = "aws/s3";

/// One key: its versions' material, newest first.
pub struct KmsKey {
    /// A UUID.
    pub id: String,
    pub account: String,
    /// `arn:aws:kms:<region>:<account>:key/<id>`.
    pub arn: String,
    pub enabled: bool,
    /// Material of every version, current first.
    pub versions: Vec<[u8; 32]>,
}

impl std::fmt::Debug for KmsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsKey")
            .field("id", &self.id)
            .field("enabled", &self.enabled)
            .field("versions", &self.versions.len())
            .finish()
    }
}

impl KmsKey {
    /// The wrapping key for data keys written under `context` (the
    /// canonical encryption context): current version first, with the
    /// earlier ones able to open what they wrapped.
    pub fn wrapping_key(&self, context: &str) -> MasterKey {
        let mut derived = self.versions.iter().map(|material| {
            MasterKey::new(hmac_sha256(
                material,
                &[b"maxiofs-kms-data-key\0", context.as_bytes()],
            ))
        });
        let current = derived.next().unwrap_or_else(|| MasterKey::new([0u8; 32]));
        current.with_previous(derived.collect())
    }
}

/// Every key of every account, as a snapshot holds them.
#[derive(Debug, Default)]
pub struct KmsKeys {
    by_id: HashMap<String, Arc<KmsKey>>,
    /// (account, alias without `alias/`) → key id.
    aliases: HashMap<(String, String), String>,
}

impl KmsKeys {
    pub fn insert(&mut self, key: KmsKey, aliases: &[String]) {
        for alias in aliases {
            self.aliases
                .insert((key.account.clone(), alias.clone()), key.id.clone());
        }
        self.by_id.insert(key.id.clone(), Arc::new(key));
    }

    pub fn get(&self, id: &str) -> Option<&Arc<KmsKey>> {
        self.by_id.get(id)
    }

    /// The key `requested` names for an object of `account` (the bucket
    /// owner's), enabled; `None` asks for the account's default key.
    pub fn resolve(&self, account: &str, requested: Option<&str>) -> S3Result<&Arc<KmsKey>> {
        let not_found =
            |name: &str| S3Error::new(S3ErrorCode::KmsNotFound, format!("Invalid keyId '{name}'"));
        let requested = requested.map(str::trim).filter(|name| !name.is_empty());
        let id = match requested {
            None => self
                .aliases
                .get(&(account.to_owned(), DEFAULT_KEY_ALIAS.to_owned()))
                .ok_or_else(|| not_found("alias/aws/s3"))?
                .clone(),
            Some(name) => {
                let alias = name.strip_prefix("alias/").or_else(|| {
                    // arn:aws:kms:<region>:<account>:alias/<name>
                    name.strip_prefix("arn:aws:kms:")
                        .and_then(|rest| rest.split_once(":alias/"))
                        .filter(|(scope, _)| scope.rsplit(':').next() == Some(account))
                        .map(|(_, alias)| alias)
                });
                match alias {
                    Some(alias) => self
                        .aliases
                        .get(&(account.to_owned(), alias.to_owned()))
                        .ok_or_else(|| not_found(name))?
                        .clone(),
                    None => {
                        let id = match name.strip_prefix("arn:aws:kms:") {
                            Some(rest) => {
                                let (scope, key) =
                                    rest.split_once(":key/").ok_or_else(|| not_found(name))?;
                                if scope.rsplit(':').next() != Some(account) {
                                    return Err(not_found(name));
                                }
                                key
                            }
                            None => name,
                        };
                        id.to_owned()
                    }
                }
            }
        };
        let key = self
            .by_id
            .get(&id)
            .filter(|key| key.account == account)
            .ok_or_else(|| not_found(requested.unwrap_or("alias/aws/s3")))?;
        if !key.enabled {
            return Err(S3Error::new(
                S3ErrorCode::KmsDisabled,
                format!("{} is disabled.", key.arn),
            ));
        }
        Ok(key)
    }
}

/// The encryption context a request sends (`x-amz-server-side-encryption-context`:
/// base64 of a JSON object of strings) in its canonical form: keys sorted,
/// compact JSON. Empty when none is sent.
pub fn canonical_context(header: Option<&str>) -> S3Result<String> {
    use base64::Engine as _;
    let Some(header) = header.map(str::trim).filter(|h| !h.is_empty()) else {
        return Ok(String::new());
    };
    let invalid = || {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "The encryption context must be base64-encoded JSON of string keys and values.",
        )
    };
    if header.len() > 8 * 1024 {
        return Err(invalid());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(header)
        .map_err(|_| invalid())?;
    let map: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    serde_json::to_string(&map).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> KmsKeys {
        let mut keys = KmsKeys::default();
        for (id, account, enabled, aliases) in [
            (
                "k-default",
                "111111111111",
                true,
                vec![DEFAULT_KEY_ALIAS.to_owned()],
            ),
            ("k-named", "111111111111", true, vec!["backups".to_owned()]),
            ("k-off", "111111111111", false, vec![]),
            ("k-other", "222222222222", true, vec!["backups".to_owned()]),
        ] {
            keys.insert(
                KmsKey {
                    id: id.into(),
                    account: account.into(),
                    arn: format!("arn:aws:kms:us-east-1:{account}:key/{id}"),
                    enabled,
                    versions: vec![[7u8; 32]],
                },
                &aliases,
            );
        }
        keys
    }

    #[test]
    fn names_resolve_in_the_bucket_owners_account_only() {
        let keys = keys();
        let id = |name: Option<&str>| keys.resolve("111111111111", name).map(|k| k.id.clone());
        assert_eq!(id(None).unwrap(), "k-default");
        assert_eq!(id(Some("k-named")).unwrap(), "k-named");
        assert_eq!(id(Some("alias/backups")).unwrap(), "k-named");
        assert_eq!(
            id(Some("arn:aws:kms:us-east-1:111111111111:key/k-named")).unwrap(),
            "k-named"
        );
        assert_eq!(
            id(Some("arn:aws:kms:us-east-1:111111111111:alias/backups")).unwrap(),
            "k-named"
        );
        for other in [
            "k-other",
            "arn:aws:kms:us-east-1:222222222222:key/k-other",
            "nope",
            "alias/nope",
        ] {
            assert_eq!(
                keys.resolve("111111111111", Some(other)).unwrap_err().code,
                S3ErrorCode::KmsNotFound,
                "{other}"
            );
        }
        assert_eq!(
            keys.resolve("111111111111", Some("k-off"))
                .unwrap_err()
                .code,
            S3ErrorCode::KmsDisabled
        );
    }

    #[test]
    fn a_data_key_opens_only_under_its_context_and_after_rotation() {
        let key = KmsKey {
            id: "k".into(),
            account: "1".into(),
            arn: "arn".into(),
            enabled: true,
            versions: vec![[1u8; 32]],
        };
        let (_, wrapped) = key.wrapping_key("{\"a\":\"b\"}").new_data_key();
        assert!(key
            .wrapping_key("{\"a\":\"b\"}")
            .unwrap_data_key(&wrapped)
            .is_ok());
        assert!(key.wrapping_key("").unwrap_data_key(&wrapped).is_err());
        let rotated = KmsKey {
            versions: vec![[2u8; 32], [1u8; 32]],
            ..key
        };
        assert!(rotated
            .wrapping_key("{\"a\":\"b\"}")
            .unwrap_data_key(&wrapped)
            .is_ok());
        let context = canonical_context(Some("eyJiIjoiMiIsImEiOiIxIn0=")).unwrap();
        assert_eq!(context, "{\"a\":\"1\",\"b\":\"2\"}");
        assert!(canonical_context(Some("not base64!")).is_err());
        assert_eq!(canonical_context(None).unwrap(), "");
    }
}
