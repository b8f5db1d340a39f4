//! The audit log: every security-relevant event (logins, lockouts, changes
//! to tenants, users, keys, policies, quotas and bucket settings, object-lock
//! changes, governance bypasses, denied requests) with its time, actor,
//! source address, request id, target and outcome, in the catalog's
//! `audit_log` table; and its retention.
//!
//! Owns: the table's rows and their queries. Callers never pass a secret:
//! entries name keys by id and users by name. Free-text fields are bounded
//! ([`FIELD_CHARS_MAX`]) so no caller can grow a row without limit.

use rusqlite::params;

use crate::catalog::{Catalog, CatalogError};

/// Longer fields are cut (with `…`): an entry names things, it never
/// carries documents.
pub const FIELD_CHARS_MAX: usize = 512;
/// The most entries one query returns.
pub const QUERY_ROWS_MAX: usize = 10_000;

/// What an entry records (defined beside the shards, which send most of them).
pub use s3::audit::AuditEvent;

/// A stored entry: its id (ascending with time of writing) and the event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub event: AuditEvent,
}

/// Writes an entry to the catalog and hands it to log forwarding (when a
/// target wants the audit log); a failure to write is logged, never fatal.
pub fn record(catalog: &Catalog, forward: Option<&crate::ship::Shipper>, event: &AuditEvent) {
    if let Err(err) = catalog.audit_append(event) {
        tracing::error!(%err, "audit entry not written");
    }
    if let Some(shipper) = forward {
        shipper.submit(vec![crate::ship::LogRecord {
            stream: crate::ship::LogStream::Audit,
            time_ms: event.time_ms,
            message: forwarded_json(event),
        }]);
    }
}

/// An entry as log forwarding sends it: one JSON object, fields bounded as
/// in the catalog.
pub fn forwarded_json(event: &AuditEvent) -> String {
    serde_json::json!({
        "time_ms": event.time_ms,
        "account": event.account,
        "actor": bounded(&event.actor),
        "source": bounded(&event.source),
        "request_id": bounded(&event.request_id),
        "action": bounded(&event.action),
        "target": bounded(&event.target),
        "outcome": bounded(&event.outcome),
        "detail": bounded(&event.detail),
    })
    .to_string()
}

/// Which entries a query wants.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub from_ms: Option<u64>,
    pub to_ms: Option<u64>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Only the entries concerning this account (a tenant admin's view).
    pub account: Option<String>,
    pub limit: usize,
}

fn bounded(text: &str) -> String {
    if text.chars().count() <= FIELD_CHARS_MAX {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(FIELD_CHARS_MAX - 1).collect();
    out.push('…');
    out
}

impl Catalog {
    /// Appends one entry (its `id` is assigned).
    pub fn audit_append(&self, entry: &AuditEvent) -> Result<(), CatalogError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO audit_log (time_ms, actor, source, request_id, action, target, \
             outcome, detail, account) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        stmt.execute(params![
            entry.time_ms as i64,
            bounded(&entry.actor),
            bounded(&entry.source),
            bounded(&entry.request_id),
            bounded(&entry.action),
            bounded(&entry.target),
            bounded(&entry.outcome),
            bounded(&entry.detail),
            entry.account,
        ])?;
        Ok(())
    }

    /// Entries matching `filter`, oldest first, at most `filter.limit`
    /// (bounded by [`QUERY_ROWS_MAX`]), the newest ones when more match.
    pub fn audit_query(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, CatalogError> {
        let limit = filter.limit.clamp(1, QUERY_ROWS_MAX) as i64;
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, time_ms, actor, source, request_id, action, target, outcome, detail, \
             account \
             FROM audit_log WHERE time_ms >= ?1 AND time_ms <= ?2 \
             AND (?3 IS NULL OR actor = ?3) AND (?4 IS NULL OR action = ?4) \
             AND (?6 IS NULL OR account = ?6) \
             ORDER BY id DESC LIMIT ?5",
        )?;
        let rows = stmt.query_map(
            params![
                filter.from_ms.unwrap_or(0) as i64,
                filter.to_ms.map_or(i64::MAX, |to| to as i64),
                filter.actor,
                filter.action,
                limit,
                filter.account,
            ],
            |row| {
                Ok(AuditEntry {
                    id: row.get(0)?,
                    event: AuditEvent {
                        time_ms: row.get::<_, i64>(1)? as u64,
                        actor: row.get(2)?,
                        source: row.get(3)?,
                        request_id: row.get(4)?,
                        action: row.get(5)?,
                        target: row.get(6)?,
                        outcome: row.get(7)?,
                        detail: row.get(8)?,
                        account: row.get(9)?,
                    },
                })
            },
        )?;
        let mut out = rows.collect::<Result<Vec<_>, _>>()?;
        out.reverse();
        Ok(out)
    }

    /// Deletes entries older than `before_ms`; returns how many.
    pub fn audit_prune(&self, before_ms: u64) -> Result<usize, CatalogError> {
        Ok(self.conn.execute(
            "DELETE FROM audit_log WHERE time_ms < ?1",
            params![before_ms as i64],
        )?)
    }

    /// Adds requests and bytes in and out to each bucket's day
    /// (`YYYY-MM-DD`, UTC), in one transaction (one sync for the batch).
    pub fn traffic_add(
        &self,
        day: &str,
        rows: &[(&str, &str, (u64, u64, u64))],
    ) -> Result<(), CatalogError> {
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO traffic_daily (account_id, bucket, day, requests, bytes_in, \
                 bytes_out) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (account_id, bucket, day) \
                 DO UPDATE SET requests = requests + ?4, bytes_in = bytes_in + ?5, \
                 bytes_out = bytes_out + ?6",
            )?;
            for (account, bucket, (requests, bytes_in, bytes_out)) in rows {
                stmt.execute(params![
                    account,
                    bucket,
                    day,
                    *requests as i64,
                    *bytes_in as i64,
                    *bytes_out as i64
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A tenant's days: (day, requests, bytes in, bytes out), newest first,
    /// at most `days_max`.
    pub fn traffic_days(
        &self,
        account: &str,
        days_max: usize,
    ) -> Result<Vec<(String, u64, u64, u64)>, CatalogError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT day, SUM(requests), SUM(bytes_in), SUM(bytes_out) FROM traffic_daily \
             WHERE account_id = ?1 GROUP BY day ORDER BY day DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![account, days_max as i64], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)? as u64,
                row.get::<_, i64>(2)? as u64,
                row.get::<_, i64>(3)? as u64,
            ))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_filter_limit_prune_and_stay_bounded() {
        let dir = tempfile_dir();
        let catalog = Catalog::open(&dir).unwrap();
        for (time_ms, actor, action) in [(10, "a", "login"), (20, "b", "login"), (30, "a", "x")] {
            let entry = AuditEvent {
                time_ms,
                actor: actor.into(),
                action: action.into(),
                detail: "d".repeat(FIELD_CHARS_MAX * 2),
                ..Default::default()
            };
            catalog.audit_append(&entry).unwrap();
        }
        let all = catalog
            .audit_query(&AuditFilter {
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].event.time_ms, 10);
        assert_eq!(all[0].event.detail.chars().count(), FIELD_CHARS_MAX);
        let by_actor = catalog
            .audit_query(&AuditFilter {
                actor: Some("a".into()),
                action: Some("login".into()),
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(by_actor.len(), 1);
        let newest = catalog
            .audit_query(&AuditFilter {
                limit: 1,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(newest[0].event.time_ms, 30);
        assert_eq!(catalog.audit_prune(25).unwrap(), 2);
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "maxiofs-audit-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
