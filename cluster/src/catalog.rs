//! The SQLite catalog: one database file (`catalog.db`, WAL, synchronous=FULL
//! so a committed change survives power loss), created 0600 because it holds
//! access-key secrets.
//!
//! Tables: `settings`, `buckets`, `access_keys` (schema version 1),
//! `bucket_encryption` (version 2: a bucket's default encryption, keyed by
//! bucket id and removed with the bucket) and `bucket_settings` (version 3:
//! named per-bucket settings such as versioning, removed with the bucket). The schema is brought up to date at
//! every open; each step is idempotent, so a catalog an older binary opened
//! again is upgraded once more without harm.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

pub const CATALOG_FILE: &str = "catalog.db";

/// Schema version 1. Later versions add migrations keyed on `user_version`.
const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS buckets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    owner_shard INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS access_keys (
    access_key TEXT PRIMARY KEY,
    secret_key TEXT NOT NULL,
    user_name TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
PRAGMA user_version = 1;
";

/// Schema version 2: per-bucket default encryption (PutBucketEncryption). A
/// table of its own rather than a column of `buckets`, so that catalogs of
/// version 1 gain it with a plain `CREATE TABLE IF NOT EXISTS`.
const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS bucket_encryption (
    bucket_id INTEGER PRIMARY KEY,
    sse_algorithm TEXT NOT NULL,
    bucket_key_enabled INTEGER NOT NULL
);
PRAGMA user_version = 2;
";

/// Schema version 3: named per-bucket settings (versioning state, Object Lock
/// configuration, lifecycle rules), each value in the S3 layer's own format.
const SCHEMA_V3: &str = "
CREATE TABLE IF NOT EXISTS bucket_settings (
    bucket_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (bucket_id, name)
);
PRAGMA user_version = 3;
";

/// Schema version 4: accounts and identities (issue 15). Every IAM record
/// (account, user, group, role, managed policy, access key, role session) is
/// one row keyed by its account, kind and name, its body a JSON document the
/// `directory` module defines; a bucket's owning account is in
/// `bucket_owners` (a bucket without a row belongs to the default account,
/// as every bucket did before accounts existed).
const SCHEMA_V4: &str = "
CREATE TABLE IF NOT EXISTS iam_records (
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name_key TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (account_id, kind, name_key)
);
CREATE TABLE IF NOT EXISTS bucket_owners (
    bucket_id INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL
);
PRAGMA user_version = 4;
";

/// Schema version 5: tenants (issue 16). The audit log (see `crate::audit`),
/// and requests and bytes in and out per tenant, bucket and day.
const SCHEMA_V5: &str = "
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms INTEGER NOT NULL,
    account TEXT NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    request_id TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_time ON audit_log (time_ms);
CREATE INDEX IF NOT EXISTS audit_log_account ON audit_log (account, id);
CREATE TABLE IF NOT EXISTS traffic_daily (
    account_id TEXT NOT NULL,
    bucket TEXT NOT NULL,
    day TEXT NOT NULL,
    requests INTEGER NOT NULL,
    bytes_in INTEGER NOT NULL,
    bytes_out INTEGER NOT NULL,
    PRIMARY KEY (account_id, bucket, day)
);
PRAGMA user_version = 5;
";

/// The migrations in order: entry `i` brings a catalog to version `i + 1`.
const MIGRATIONS: &[&str] = &[SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5];

#[derive(Debug)]
pub enum CatalogError {
    Sqlite(rusqlite::Error),
    Io(std::io::Error),
    BucketExists,
    NoSuchBucket,
    /// A row this binary cannot interpret (written by a newer version).
    Unreadable(String),
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogError::Sqlite(err) => write!(f, "catalog database: {err}"),
            CatalogError::Io(err) => write!(f, "catalog file: {err}"),
            CatalogError::BucketExists => write!(f, "bucket exists"),
            CatalogError::NoSuchBucket => write!(f, "no such bucket"),
            CatalogError::Unreadable(why) => write!(f, "catalog row unreadable: {why}"),
        }
    }
}

impl std::error::Error for CatalogError {}

impl From<rusqlite::Error> for CatalogError {
    fn from(err: rusqlite::Error) -> Self {
        CatalogError::Sqlite(err)
    }
}

impl From<std::io::Error> for CatalogError {
    fn from(err: std::io::Error) -> Self {
        CatalogError::Io(err)
    }
}

/// A bucket's default encryption as stored. The catalog keeps the algorithm
/// as text and does not interpret it; the S3 layer does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketEncryptionRow {
    pub sse_algorithm: String,
    pub bucket_key_enabled: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketRow {
    pub id: u64,
    pub name: String,
    pub owner_shard: u16,
    pub created_ms: u64,
}

pub struct Catalog {
    pub(crate) conn: Connection,
}

impl Catalog {
    pub fn open(data_dir: &Path) -> Result<Catalog, CatalogError> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(CATALOG_FILE);
        let conn = Connection::open(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        migrate(&conn)?;
        Ok(Catalog { conn })
    }

    pub fn setting(&self, name: &str) -> Result<Option<String>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT value FROM settings WHERE name = ?1")?;
        Ok(stmt.query_row(params![name], |row| row.get(0)).optional()?)
    }

    pub fn set_setting(&self, name: &str, value: &str) -> Result<(), CatalogError> {
        self.conn.execute(
            "INSERT INTO settings (name, value) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )?;
        Ok(())
    }

    pub fn delete_setting(&self, name: &str) -> Result<(), CatalogError> {
        self.conn
            .execute("DELETE FROM settings WHERE name = ?1", params![name])?;
        Ok(())
    }

    /// The id the next created bucket will get. Ids are never reused, so an
    /// index entry of a deleted bucket can never surface in a new one.
    pub fn next_bucket_id(&self) -> Result<u64, CatalogError> {
        let seq: Option<i64> = self
            .conn
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'buckets'",
                [],
                |row| row.get(0),
            )
            .optional()?;
        Ok(seq.unwrap_or(0) as u64 + 1)
    }

    /// Inserts a bucket with its initial settings, in one transaction (a
    /// bucket created with Object Lock never exists without it).
    pub fn insert_bucket_with_settings(
        &self,
        row: &BucketRow,
        settings: &[(String, String)],
    ) -> Result<(), CatalogError> {
        let tx = self.conn.unchecked_transaction()?;
        insert_bucket_in(&tx, row)?;
        for (name, value) in settings {
            tx.execute(
                "INSERT INTO bucket_settings (bucket_id, name, value) VALUES (?1, ?2, ?3)",
                params![row.id as i64, name, value],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Sets (`Some`) or removes (`None`) one named setting of the bucket with
    /// id `bucket_id`; `NoSuchBucket` when there is none.
    pub fn set_bucket_setting(
        &self,
        bucket_id: u64,
        name: &str,
        value: Option<&str>,
    ) -> Result<(), CatalogError> {
        let tx = self.conn.unchecked_transaction()?;
        require_bucket(&tx, bucket_id)?;
        match value {
            Some(value) => tx.execute(
                "INSERT INTO bucket_settings (bucket_id, name, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT(bucket_id, name) DO UPDATE SET value = excluded.value",
                params![bucket_id as i64, name, value],
            )?,
            None => tx.execute(
                "DELETE FROM bucket_settings WHERE bucket_id = ?1 AND name = ?2",
                params![bucket_id as i64, name],
            )?,
        };
        tx.commit()?;
        Ok(())
    }

    /// Every bucket setting: (bucket id, name, value).
    pub fn bucket_settings(&self) -> Result<Vec<(u64, String, String)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT bucket_id, name, value FROM bucket_settings")?;
        let rows = stmt.query_map([], |row| {
            Ok((row.get::<_, i64>(0)? as u64, row.get(1)?, row.get(2)?))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub fn insert_bucket(&self, row: &BucketRow) -> Result<(), CatalogError> {
        insert_bucket_in(&self.conn, row)
    }

    pub fn bucket(&self, name: &str) -> Result<Option<BucketRow>, CatalogError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, owner_shard, created_ms FROM buckets WHERE name = ?1",
        )?;
        Ok(stmt.query_row(params![name], bucket_row).optional()?)
    }

    /// Removes the bucket and its settings in one transaction, so a bucket
    /// created later under the same name starts without them.
    pub fn delete_bucket(&self, name: &str) -> Result<(), CatalogError> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "DELETE FROM bucket_encryption
             WHERE bucket_id IN (SELECT id FROM buckets WHERE name = ?1)",
            params![name],
        )?;
        tx.execute(
            "DELETE FROM bucket_settings
             WHERE bucket_id IN (SELECT id FROM buckets WHERE name = ?1)",
            params![name],
        )?;
        tx.execute(
            "DELETE FROM bucket_owners
             WHERE bucket_id IN (SELECT id FROM buckets WHERE name = ?1)",
            params![name],
        )?;
        let deleted = tx.execute("DELETE FROM buckets WHERE name = ?1", params![name])?;
        if deleted == 0 {
            return Err(CatalogError::NoSuchBucket);
        }
        tx.commit()?;
        Ok(())
    }

    /// Sets (`Some`) or clears (`None`) the default encryption of the bucket
    /// with id `bucket_id`; `NoSuchBucket` when there is none.
    pub fn set_bucket_encryption(
        &self,
        bucket_id: u64,
        encryption: Option<&BucketEncryptionRow>,
    ) -> Result<(), CatalogError> {
        let tx = self.conn.unchecked_transaction()?;
        require_bucket(&tx, bucket_id)?;
        match encryption {
            Some(row) => tx.execute(
                "INSERT INTO bucket_encryption (bucket_id, sse_algorithm, bucket_key_enabled)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT(bucket_id) DO UPDATE SET
                     sse_algorithm = excluded.sse_algorithm,
                     bucket_key_enabled = excluded.bucket_key_enabled",
                params![bucket_id as i64, row.sse_algorithm, row.bucket_key_enabled],
            )?,
            None => tx.execute(
                "DELETE FROM bucket_encryption WHERE bucket_id = ?1",
                params![bucket_id as i64],
            )?,
        };
        tx.commit()?;
        Ok(())
    }

    /// Every bucket's default encryption, by bucket id (buckets without one
    /// are absent).
    pub fn bucket_encryptions(&self) -> Result<Vec<(u64, BucketEncryptionRow)>, CatalogError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT bucket_id, sse_algorithm, bucket_key_enabled FROM bucket_encryption",
        )?;
        let rows = stmt.query_map([], |row| {
            let encryption = BucketEncryptionRow {
                sse_algorithm: row.get(1)?,
                bucket_key_enabled: row.get(2)?,
            };
            Ok((row.get::<_, i64>(0)? as u64, encryption))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub fn buckets(&self) -> Result<Vec<BucketRow>, CatalogError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, owner_shard, created_ms FROM buckets ORDER BY name",
        )?;
        let rows = stmt.query_map([], bucket_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub fn access_keys(&self) -> Result<Vec<(String, String)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT access_key, secret_key FROM access_keys")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Replaces the stored (sealed) secret of an existing access key.
    pub fn replace_access_key_secret(
        &self,
        access_key: &str,
        secret_key: &str,
    ) -> Result<(), CatalogError> {
        self.conn.execute(
            "UPDATE access_keys SET secret_key = ?2 WHERE access_key = ?1",
            params![access_key, secret_key],
        )?;
        Ok(())
    }

    pub fn upsert_access_key(
        &self,
        access_key: &str,
        secret_key: &str,
        user_name: &str,
        created_ms: u64,
    ) -> Result<(), CatalogError> {
        self.conn.execute(
            "INSERT INTO access_keys (access_key, secret_key, user_name, created_ms)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(access_key) DO UPDATE SET secret_key = excluded.secret_key",
            params![access_key, secret_key, user_name, created_ms as i64],
        )?;
        Ok(())
    }
}

/// Applies the migrations this catalog has not had yet, each in its own
/// transaction: a crash in the middle leaves the previous version intact.
/// `NoSuchBucket` unless a bucket with this id exists.
fn require_bucket(conn: &Connection, bucket_id: u64) -> Result<(), CatalogError> {
    let exists: Option<i64> = conn
        .query_row(
            "SELECT id FROM buckets WHERE id = ?1",
            params![bucket_id as i64],
            |row| row.get(0),
        )
        .optional()?;
    match exists {
        Some(_) => Ok(()),
        None => Err(CatalogError::NoSuchBucket),
    }
}

fn insert_bucket_in(conn: &Connection, row: &BucketRow) -> Result<(), CatalogError> {
    let inserted = conn.execute(
        "INSERT INTO buckets (id, name, owner_shard, created_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(name) DO NOTHING",
        params![
            row.id as i64,
            row.name,
            row.owner_shard,
            row.created_ms as i64
        ],
    )?;
    if inserted == 0 {
        return Err(CatalogError::BucketExists);
    }
    Ok(())
}

fn migrate(conn: &Connection) -> Result<(), CatalogError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let applied = usize::try_from(version).unwrap_or(0);
    for migration in MIGRATIONS.iter().skip(applied) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(migration)?;
        tx.commit()?;
    }
    Ok(())
}

fn bucket_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<BucketRow> {
    Ok(BucketRow {
        id: row.get::<_, i64>(0)? as u64,
        name: row.get(1)?,
        owner_shard: row.get(2)?,
        created_ms: row.get::<_, i64>(3)? as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("maxiofs-catalog-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn buckets_round_trip_and_ids_never_repeat() {
        let dir = temp_dir("buckets");
        let catalog = Catalog::open(&dir).unwrap();
        let id = catalog.next_bucket_id().unwrap();
        let row = BucketRow {
            id,
            name: "a".into(),
            owner_shard: 1,
            created_ms: 5,
        };
        catalog.insert_bucket(&row).unwrap();
        assert!(matches!(
            catalog.insert_bucket(&row),
            Err(CatalogError::BucketExists)
        ));
        assert_eq!(catalog.bucket("a").unwrap(), Some(row.clone()));
        catalog.delete_bucket("a").unwrap();
        assert!(matches!(
            catalog.delete_bucket("a"),
            Err(CatalogError::NoSuchBucket)
        ));
        assert!(
            catalog.next_bucket_id().unwrap() > id,
            "ids are never reused"
        );
        let mode = std::fs::metadata(dir.join(CATALOG_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn insert(catalog: &Catalog, name: &str) -> u64 {
        let id = catalog.next_bucket_id().unwrap();
        let row = BucketRow {
            id,
            name: name.into(),
            owner_shard: 0,
            created_ms: 1,
        };
        catalog.insert_bucket(&row).unwrap();
        id
    }

    #[test]
    fn bucket_encryption_is_set_cleared_and_dropped_with_its_bucket() {
        let dir = temp_dir("encryption");
        let catalog = Catalog::open(&dir).unwrap();
        let id = insert(&catalog, "enc");
        let aes = BucketEncryptionRow {
            sse_algorithm: "AES256".into(),
            bucket_key_enabled: true,
        };
        catalog.set_bucket_encryption(id, Some(&aes)).unwrap();
        assert_eq!(
            catalog.bucket_encryptions().unwrap(),
            vec![(id, aes.clone())]
        );
        catalog.set_bucket_encryption(id, None).unwrap();
        assert!(catalog.bucket_encryptions().unwrap().is_empty());
        assert!(matches!(
            catalog.set_bucket_encryption(id + 100, Some(&aes)),
            Err(CatalogError::NoSuchBucket)
        ));

        catalog.set_bucket_encryption(id, Some(&aes)).unwrap();
        catalog.delete_bucket("enc").unwrap();
        assert!(catalog.bucket_encryptions().unwrap().is_empty());
        let again = insert(&catalog, "enc");
        assert!(catalog.bucket_encryptions().unwrap().is_empty());
        catalog.set_bucket_encryption(again, Some(&aes)).unwrap();
        drop(catalog);
        let reopened = Catalog::open(&dir).unwrap();
        assert_eq!(reopened.bucket_encryptions().unwrap(), vec![(again, aes)]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_version_1_catalog_is_upgraded_in_place() {
        let dir = temp_dir("upgrade");
        std::fs::create_dir_all(&dir).unwrap();
        {
            let conn = Connection::open(dir.join(CATALOG_FILE)).unwrap();
            conn.execute_batch(SCHEMA_V1).unwrap();
            conn.execute(
                "INSERT INTO buckets (name, owner_shard, created_ms) VALUES ('old', 0, 1)",
                [],
            )
            .unwrap();
        }
        let catalog = Catalog::open(&dir).unwrap();
        let version: i64 = catalog
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
        let old = catalog.bucket("old").unwrap().expect("kept");
        let aes = BucketEncryptionRow {
            sse_algorithm: "AES256".into(),
            bucket_key_enabled: false,
        };
        catalog.set_bucket_encryption(old.id, Some(&aes)).unwrap();
        drop(catalog);
        // Opening again (as every start does) changes nothing.
        let catalog = Catalog::open(&dir).unwrap();
        assert_eq!(catalog.bucket_encryptions().unwrap(), vec![(old.id, aes)]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn settings_and_keys_persist() {
        let dir = temp_dir("settings");
        {
            let catalog = Catalog::open(&dir).unwrap();
            catalog.set_setting("shard_count", "2").unwrap();
            catalog.upsert_access_key("AK", "SK", "root", 1).unwrap();
        }
        let catalog = Catalog::open(&dir).unwrap();
        assert_eq!(
            catalog.setting("shard_count").unwrap().as_deref(),
            Some("2")
        );
        assert_eq!(
            catalog.access_keys().unwrap(),
            vec![("AK".into(), "SK".into())]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
