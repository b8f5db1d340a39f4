//! The SQLite catalog: one database file (`catalog.db`, WAL, synchronous=FULL
//! so a committed change survives power loss), created 0600 because it holds
//! access-key secrets.

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

#[derive(Debug)]
pub enum CatalogError {
    Sqlite(rusqlite::Error),
    Io(std::io::Error),
    BucketExists,
    NoSuchBucket,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogError::Sqlite(err) => write!(f, "catalog database: {err}"),
            CatalogError::Io(err) => write!(f, "catalog file: {err}"),
            CatalogError::BucketExists => write!(f, "bucket exists"),
            CatalogError::NoSuchBucket => write!(f, "no such bucket"),
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketRow {
    pub id: u64,
    pub name: String,
    pub owner_shard: u16,
    pub created_ms: u64,
}

pub struct Catalog {
    conn: Connection,
}

impl Catalog {
    pub fn open(data_dir: &Path) -> Result<Catalog, CatalogError> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(CATALOG_FILE);
        let conn = Connection::open(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA_V1)?;
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

    pub fn insert_bucket(&self, row: &BucketRow) -> Result<(), CatalogError> {
        let inserted = self.conn.execute(
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

    pub fn bucket(&self, name: &str) -> Result<Option<BucketRow>, CatalogError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, owner_shard, created_ms FROM buckets WHERE name = ?1",
        )?;
        Ok(stmt.query_row(params![name], bucket_row).optional()?)
    }

    pub fn delete_bucket(&self, name: &str) -> Result<(), CatalogError> {
        let deleted = self
            .conn
            .execute("DELETE FROM buckets WHERE name = ?1", params![name])?;
        if deleted == 0 {
            return Err(CatalogError::NoSuchBucket);
        }
        Ok(())
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
