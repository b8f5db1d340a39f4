//! The built-in SSE-KMS key store: named keys per tenant in the catalog,
//! their material (32 random bytes per version) sealed with the master key,
//! never on the data disks in clear.
//!
//! Owns: the key record, creating a key (every account has one aliased
//! `aws/s3`, AWS's default for `aws:kms` without a key id, made at start and
//! with each new tenant), rotation (a new version becomes current; earlier
//! ones still open what they wrapped), enabling and disabling, and opening
//! every key into the snapshot the shards encrypt with (`s3::kms`).

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogError};
use crate::directory::{AccountRecord, RecordChange};
use engine::crypto::MasterKey;

/// Keys one tenant may have (each is in every shard's snapshot).
pub const KEYS_PER_ACCOUNT_MAX: usize = 100;
/// Versions a key keeps (rotations beyond this are refused: every version
/// is tried when an object names it).
pub const VERSIONS_MAX: usize = 100;

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KmsKeyRecord {
    /// A UUID.
    pub id: String,
    /// `arn:aws:kms:<region>:<account>:key/<id>`.
    pub arn: String,
    /// Without `alias/`; unique in the account.
    pub alias: Option<String>,
    pub description: String,
    pub created_ms: u64,
    pub enabled: bool,
    /// Newest first.
    pub versions: Vec<KmsKeyVersion>,
}

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KmsKeyVersion {
    pub created_ms: u64,
    pub material_sealed: String,
}

impl crate::directory::Record for KmsKeyRecord {
    const KIND: crate::directory::RecordKind = crate::directory::RecordKind::KmsKey;
    fn record_name(&self) -> &str {
        &self.id
    }
}

impl std::fmt::Debug for KmsKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsKeyRecord")
            .field("id", &self.id)
            .field("alias", &self.alias)
            .field("enabled", &self.enabled)
            .field("versions", &self.versions.len())
            .finish()
    }
}

/// An alias as AWS allows it (after `alias/`): 1-256 of letters, digits and
/// `/_-`, not starting with `aws/` (reserved for AWS's keys).
pub fn valid_alias(alias: &str) -> bool {
    (1..=256).contains(&alias.len())
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
        && !alias.starts_with("aws/")
}

fn uuid() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-4{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn new_version(master: &MasterKey, now_ms: u64) -> KmsKeyVersion {
    let material: [u8; 32] = rand::random();
    KmsKeyVersion {
        created_ms: now_ms,
        material_sealed: master.seal_text(&material),
    }
}

/// A new key of `account`, enabled, with one version.
pub fn new_key(
    master: &MasterKey,
    region: &str,
    account: &str,
    alias: Option<String>,
    description: String,
    now_ms: u64,
) -> KmsKeyRecord {
    let id = uuid();
    KmsKeyRecord {
        arn: format!("arn:aws:kms:{region}:{account}:key/{id}"),
        id,
        alias,
        description,
        created_ms: now_ms,
        enabled: true,
        versions: vec![new_version(master, now_ms)],
    }
}

/// A new current version.
pub fn rotate(record: &mut KmsKeyRecord, master: &MasterKey, now_ms: u64) -> bool {
    if record.versions.len() >= VERSIONS_MAX {
        return false;
    }
    record.versions.insert(0, new_version(master, now_ms));
    true
}

/// Gives every account that has none its `aws/s3` key.
pub fn ensure_default_keys(
    catalog: &Catalog,
    master: &MasterKey,
    region: &str,
    now_ms: u64,
) -> Result<(), CatalogError> {
    for (_, account) in catalog.all_records::<AccountRecord>()? {
        ensure_default_key(catalog, master, region, &account.id, now_ms)?;
    }
    Ok(())
}

/// Gives `account` its `aws/s3` key unless it has one.
pub fn ensure_default_key(
    catalog: &Catalog,
    master: &MasterKey,
    region: &str,
    account: &str,
    now_ms: u64,
) -> Result<(), CatalogError> {
    let has_one = catalog
        .records::<KmsKeyRecord>(account)?
        .iter()
        .any(|key| key.alias.as_deref() == Some(s3::kms::DEFAULT_KEY_ALIAS));
    if has_one {
        return Ok(());
    }
    let key = new_key(
        master,
        region,
        account,
        Some(s3::kms::DEFAULT_KEY_ALIAS.to_owned()),
        "Default key for SSE-KMS without a key id (aws/s3)".to_owned(),
        now_ms,
    );
    catalog.write_records(&[RecordChange::put(account, &key)])
}

/// Seals every key version not sealed by the current master key with it, so
/// the key file's earlier keys are not what the key store depends on.
/// Returns how many versions were sealed anew.
pub fn reseal_keys(catalog: &Catalog, master: &MasterKey) -> Result<usize, String> {
    let mut resealed = 0;
    for (account, mut record) in catalog
        .all_records::<KmsKeyRecord>()
        .map_err(|err| err.to_string())?
    {
        let mut changed = false;
        for version in &mut record.versions {
            if engine::crypto::sealed_text_key_id(&version.material_sealed) == Some(master.id()) {
                continue;
            }
            let plain = master
                .open_text(&version.material_sealed)
                .map_err(|err| format!("KMS key {}: {err}", record.id))?;
            version.material_sealed = master.seal_text(&plain);
            changed = true;
            resealed += 1;
        }
        if changed {
            catalog
                .write_records(&[RecordChange::put(&account, &record)])
                .map_err(|err| err.to_string())?;
        }
    }
    Ok(resealed)
}

/// Every key, material opened, as the shards hold them. A version that does
/// not open (a master key missing from the ring) leaves its key out, logged:
/// its objects then answer KMS.NotFoundException rather than a wrong key.
pub fn load_keys(catalog: &Catalog, master: &MasterKey) -> Result<s3::kms::KmsKeys, CatalogError> {
    let mut keys = s3::kms::KmsKeys::default();
    for (account, record) in catalog.all_records::<KmsKeyRecord>()? {
        let opened: Result<Vec<[u8; 32]>, String> = record
            .versions
            .iter()
            .map(|version| {
                let plain = master
                    .open_text(&version.material_sealed)
                    .map_err(|err| err.to_string())?;
                <[u8; 32]>::try_from(plain.as_slice()).map_err(|_| "not 32 bytes".to_owned())
            })
            .collect();
        let versions = match opened {
            Ok(versions) if !versions.is_empty() => versions,
            Ok(_) => continue,
            Err(err) => {
                tracing::error!(key = record.id, %err, "a KMS key's material does not open");
                continue;
            }
        };
        let aliases: Vec<String> = record.alias.iter().cloned().collect();
        keys.insert(
            s3::kms::KmsKey {
                id: record.id,
                account,
                arn: record.arn,
                enabled: record.enabled,
                versions,
            },
            &aliases,
        );
    }
    Ok(keys)
}
