//! The identity records the catalog keeps (schema version 4): accounts,
//! IAM users, groups, roles, managed policies with their versions, access
//! keys and role sessions, each one `iam_records` row with a JSON body; and
//! which account owns each bucket.
//!
//! Names of users, groups, roles and policies are unique within an account
//! ignoring case, as IAM's are: the row key is the lower-cased name, the body
//! keeps the name as created. Access key ids and session key ids are unique
//! across accounts. Secrets are stored sealed by the master key (the caller
//! seals); nothing here interprets policies.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogError};

/// The account of every record and bucket made before accounts existed,
/// and of the root: its id is generated at first start (`SETTING_DEFAULT_ACCOUNT`).
pub const DEFAULT_ACCOUNT_NAME: &str = "default";
/// The catalog setting holding the default account's id.
pub const SETTING_DEFAULT_ACCOUNT: &str = "default_account_id";

/// What kind of record a row holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    Account,
    User,
    Group,
    Role,
    Policy,
    AccessKey,
    Session,
    /// An LDAP or OpenID Connect provider of the tenant (`crate::federation`).
    IdentityProvider,
    /// An SSE-KMS key of the built-in key store (`crate::control::kms`).
    KmsKey,
    /// A webhook the tenant's buckets send event notifications to (`crate::notify`).
    NotificationTarget,
}

impl RecordKind {
    fn as_str(self) -> &'static str {
        match self {
            RecordKind::Account => "account",
            RecordKind::User => "user",
            RecordKind::Group => "group",
            RecordKind::Role => "role",
            RecordKind::Policy => "policy",
            RecordKind::AccessKey => "access-key",
            RecordKind::Session => "session",
            RecordKind::IdentityProvider => "identity-provider",
            RecordKind::KmsKey => "kms-key",
            RecordKind::NotificationTarget => "notification-target",
        }
    }

    /// IAM names are case-insensitive; key ids are exact.
    fn name_key(self, name: &str) -> String {
        match self {
            RecordKind::AccessKey
            | RecordKind::Session
            | RecordKind::Account
            | RecordKind::IdentityProvider
            | RecordKind::KmsKey
            | RecordKind::NotificationTarget => name.to_owned(),
            _ => name.to_ascii_lowercase(),
        }
    }
}

/// A record type and the kind it is stored as.
pub trait Record: Serialize + DeserializeOwned {
    const KIND: RecordKind;
    /// The name the record is stored under (a user's name, a key's id).
    fn record_name(&self) -> &str;
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountRecord {
    /// Twelve digits.
    pub id: String,
    pub name: String,
    /// 64 hex digits: the id S3 answers show as `Owner/ID`.
    pub canonical_id: String,
    pub created_ms: u64,
    /// What the admin API and console show; the name when empty.
    #[serde(default)]
    pub display_name: String,
    /// A suspended tenant's keys are refused; its data stays.
    #[serde(default)]
    pub suspended: bool,
    #[serde(default)]
    pub quota: TenantQuota,
    #[serde(default)]
    pub bandwidth: TenantBandwidth,
}

/// A tenant's quotas (`None`: unlimited).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TenantQuota {
    pub storage_bytes: Option<u64>,
    pub objects: Option<u64>,
    pub buckets: Option<u64>,
    pub access_keys: Option<u64>,
}

/// A tenant's bandwidth limits (`None`: unlimited).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TenantBandwidth {
    pub in_bytes_per_second: Option<u64>,
    pub out_bytes_per_second: Option<u64>,
}

/// How a user signs in to the admin API and console: an argon2 password
/// hash, and TOTP (its secret sealed by the master key) once enrolled.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserLogin {
    pub password_hash: Option<String>,
    pub totp_sealed: Option<String>,
    /// Enrolment started, not yet confirmed with a code.
    pub totp_pending_sealed: Option<String>,
    /// The last TOTP time step used (a code is good once).
    pub totp_last_step: Option<u64>,
    /// SHA-256 of each unused backup code.
    pub backup_code_hashes: Vec<String>,
    /// Admin sessions issued before this moment are refused (set when the
    /// password changes or TOTP is turned off).
    #[serde(default)]
    pub sessions_after_ms: u64,
    /// Set for a user provisioned by a federated sign-in: the provider's id.
    /// Such a user has no password here; its directory decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated_by: Option<String>,
    /// Who the provider says the user is, for good: an OIDC token's `sub`, an
    /// LDAP entry's DN. Another identity of the provider that happens to
    /// carry the same name (a `preferred_username`, a `uid`) is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated_subject: Option<String>,
}

impl std::fmt::Debug for UserLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserLogin")
            .field("has_password", &self.password_hash.is_some())
            .field("totp_enabled", &self.totp_sealed.is_some())
            .finish()
    }
}

/// Inline policies by name (document as sent), and the ARNs of attached
/// managed policies: what users, groups and roles all carry.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PolicyHolder {
    pub inline: BTreeMap<String, String>,
    pub attached: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserRecord {
    pub name: String,
    pub path: String,
    /// `AIDA...`: aws:userid.
    pub id: String,
    pub created_ms: u64,
    /// Names of the groups the user is in, as the groups spell them.
    pub groups: Vec<String>,
    pub policies: PolicyHolder,
    #[serde(default)]
    pub login: UserLogin,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupRecord {
    pub name: String,
    pub path: String,
    /// `AGPA...`.
    pub id: String,
    pub created_ms: u64,
    pub policies: PolicyHolder,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoleRecord {
    pub name: String,
    pub path: String,
    /// `AROA...`.
    pub id: String,
    pub created_ms: u64,
    /// Who may assume the role (the AssumeRolePolicyDocument).
    pub trust_policy: String,
    pub description: String,
    pub max_session_duration_s: u32,
    pub policies: PolicyHolder,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PolicyVersionRecord {
    /// `v1`, `v2`, ...
    pub id: String,
    pub document: String,
    pub created_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManagedPolicyRecord {
    pub name: String,
    pub path: String,
    /// `ANPA...`.
    pub id: String,
    pub description: String,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub default_version: String,
    /// The number the next version gets (versions are never renumbered).
    pub next_version: u32,
    pub versions: Vec<PolicyVersionRecord>,
}

impl ManagedPolicyRecord {
    pub fn default_document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|version| version.id == self.default_version)
            .map(|version| version.document.as_str())
    }
}

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessKeyRecord {
    pub id: String,
    /// The user the key belongs to.
    pub user: String,
    /// Sealed by the master key (`s1:<key id>:...`).
    pub secret_sealed: String,
    pub active: bool,
    pub created_ms: u64,
}

/// Role sessions (AssumeRole) and user sessions (GetSessionToken).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionRecord {
    /// `ASIA...`: the temporary access key id.
    pub id: String,
    pub secret_sealed: String,
    pub token: String,
    pub created_ms: u64,
    pub expires_ms: u64,
    /// Set for role sessions: the role's name.
    pub role: Option<String>,
    /// Set for a user's GetSessionToken session: the user's id (`AIDA...`),
    /// which a rename keeps and a user made later under the same name does not.
    pub user_id: Option<String>,
    pub session_name: String,
    /// The session policy passed to AssumeRole, if any.
    pub policy: Option<String>,
    /// The managed policies AssumeRole named as session policies
    /// (`PolicyArns`), resolved at every snapshot as attached ones are.
    #[serde(default)]
    pub policy_arns: Vec<String>,
}

// Never print a secret or token by accident.
impl std::fmt::Debug for AccessKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyRecord")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("active", &self.active)
            .finish()
    }
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("user_id", &self.user_id)
            .field("expires_ms", &self.expires_ms)
            .finish()
    }
}

macro_rules! record {
    ($type:ty, $kind:expr, $field:ident) => {
        impl Record for $type {
            const KIND: RecordKind = $kind;
            fn record_name(&self) -> &str {
                &self.$field
            }
        }
    };
}

record!(AccountRecord, RecordKind::Account, id);
record!(UserRecord, RecordKind::User, name);
record!(GroupRecord, RecordKind::Group, name);
record!(RoleRecord, RecordKind::Role, name);
record!(ManagedPolicyRecord, RecordKind::Policy, name);
record!(AccessKeyRecord, RecordKind::AccessKey, id);
record!(SessionRecord, RecordKind::Session, id);

fn decode<T: Record>(body: &str) -> Result<T, CatalogError> {
    serde_json::from_str(body)
        .map_err(|err| CatalogError::Unreadable(format!("{} record: {err}", T::KIND.as_str())))
}

impl Catalog {
    /// The record of kind `T` named `name` in `account`.
    pub fn record<T: Record>(&self, account: &str, name: &str) -> Result<Option<T>, CatalogError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT body FROM iam_records WHERE account_id = ?1 AND kind = ?2 AND name_key = ?3",
        )?;
        let body: Option<String> = stmt
            .query_row(
                params![account, T::KIND.as_str(), T::KIND.name_key(name)],
                |row| row.get(0),
            )
            .optional()?;
        body.map(|body| decode(&body)).transpose()
    }

    /// Every record of kind `T` in `account`, by name.
    pub fn records<T: Record>(&self, account: &str) -> Result<Vec<T>, CatalogError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT body FROM iam_records WHERE account_id = ?1 AND kind = ?2 ORDER BY name_key",
        )?;
        let rows = stmt.query_map(params![account, T::KIND.as_str()], |row| {
            row.get::<_, String>(0)
        })?;
        let mut out = Vec::new();
        for body in rows {
            out.push(decode(&body?)?);
        }
        Ok(out)
    }

    /// Every record of kind `T` in every account: (account id, record).
    pub fn all_records<T: Record>(&self) -> Result<Vec<(String, T)>, CatalogError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT account_id, body FROM iam_records WHERE kind = ?1 ORDER BY account_id, name_key",
        )?;
        let rows = stmt.query_map(params![T::KIND.as_str()], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (account, body) = row?;
            out.push((account, decode(&body)?));
        }
        Ok(out)
    }

    /// Writes records and removes others in one transaction: an identity
    /// change that touches several records (a user and its group) is never
    /// half made.
    pub fn write_records(&self, changes: &[RecordChange]) -> Result<(), CatalogError> {
        let tx = self.conn.unchecked_transaction()?;
        for change in changes {
            match change {
                RecordChange::Put {
                    account,
                    kind,
                    name,
                    body,
                } => tx.execute(
                    "INSERT INTO iam_records (account_id, kind, name_key, body) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(account_id, kind, name_key) DO UPDATE SET body = excluded.body",
                    params![account, kind.as_str(), kind.name_key(name), body],
                )?,
                RecordChange::Delete {
                    account,
                    kind,
                    name,
                } => tx.execute(
                    "DELETE FROM iam_records WHERE account_id = ?1 AND kind = ?2 AND name_key = ?3",
                    params![account, kind.as_str(), kind.name_key(name)],
                )?,
            };
        }
        tx.commit()?;
        Ok(())
    }

    /// The account owning each bucket that has a recorded owner.
    pub fn bucket_owners(&self) -> Result<Vec<(u64, String)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT bucket_id, account_id FROM bucket_owners")?;
        let rows = stmt.query_map([], |row| {
            Ok((row.get::<_, i64>(0)? as u64, row.get::<_, String>(1)?))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub fn set_bucket_owner(&self, bucket_id: u64, account: &str) -> Result<(), CatalogError> {
        self.conn.execute(
            "INSERT INTO bucket_owners (bucket_id, account_id) VALUES (?1, ?2)
             ON CONFLICT(bucket_id) DO UPDATE SET account_id = excluded.account_id",
            params![bucket_id as i64, account],
        )?;
        Ok(())
    }
}

/// One write of `Catalog::write_records`.
pub enum RecordChange {
    Put {
        account: String,
        kind: RecordKind,
        name: String,
        body: String,
    },
    Delete {
        account: String,
        kind: RecordKind,
        name: String,
    },
}

impl RecordChange {
    pub fn put<T: Record>(account: &str, record: &T) -> Self {
        RecordChange::Put {
            account: account.to_owned(),
            kind: T::KIND,
            name: record.record_name().to_owned(),
            body: serde_json::to_string(record).expect("records serialise"),
        }
    }

    pub fn delete<T: Record>(account: &str, name: &str) -> Self {
        RecordChange::Delete {
            account: account.to_owned(),
            kind: T::KIND,
            name: name.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserRecord {
        UserRecord {
            name: name.into(),
            path: "/".into(),
            id: format!("AIDA{name}"),
            created_ms: 1,
            groups: vec![],
            policies: PolicyHolder::default(),
            login: Default::default(),
        }
    }

    #[test]
    fn records_round_trip_and_names_ignore_case() {
        let dir = std::env::temp_dir().join(format!("maxiofs-directory-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let catalog = Catalog::open(&dir).unwrap();
        catalog
            .write_records(&[
                RecordChange::put("111111111111", &user("Alice")),
                RecordChange::put("222222222222", &user("bob")),
            ])
            .unwrap();
        let found: UserRecord = catalog.record("111111111111", "ALICE").unwrap().unwrap();
        assert_eq!(found.name, "Alice");
        assert!(catalog
            .record::<UserRecord>("222222222222", "alice")
            .unwrap()
            .is_none());
        assert_eq!(
            catalog.records::<UserRecord>("111111111111").unwrap().len(),
            1
        );
        assert_eq!(catalog.all_records::<UserRecord>().unwrap().len(), 2);
        catalog
            .write_records(&[RecordChange::delete::<UserRecord>("111111111111", "alice")])
            .unwrap();
        assert!(catalog
            .records::<UserRecord>("111111111111")
            .unwrap()
            .is_empty());
        catalog.set_bucket_owner(7, "111111111111").unwrap();
        assert_eq!(
            catalog.bucket_owners().unwrap(),
            vec![(7, "111111111111".to_owned())]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
