//! `/api/v1/audit`: the audit log, as JSON or (`format=csv`) CSV. System
//! admins see every entry; a tenant admin the entries that concern its
//! tenant (stored with each entry), whoever the actor.

use serde_json::json;

use super::{parse_rfc3339, rfc3339, AdminError, AdminRequest, AdminResponse, AdminResult, Caller};
use crate::audit::{AuditEntry, AuditFilter};
use crate::control::ControlPlane;

const LIMIT_DEFAULT: usize = 100;

fn csv_field(text: &str) -> String {
    // Formula characters are neutralised so a spreadsheet never runs a
    // value someone typed as a user name.
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

pub fn to_csv(entries: &[AuditEntry]) -> String {
    let mut out = String::from("id,time,actor,source,request_id,action,target,outcome,detail\n");
    for AuditEntry { id, event: entry } in entries {
        let fields = [
            id.to_string(),
            rfc3339(entry.time_ms),
            csv_field(&entry.actor),
            csv_field(&entry.source),
            csv_field(&entry.request_id),
            csv_field(&entry.action),
            csv_field(&entry.target),
            csv_field(&entry.outcome),
            csv_field(&entry.detail),
        ];
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

impl ControlPlane {
    pub(super) fn admin_audit(&self, request: &AdminRequest, caller: &Caller) -> AdminResult {
        let system = self.admin_allowed(caller, "admin:GetAudit", None);
        if !system && !self.admin_allowed(caller, "admin:GetAudit", Some(caller.account())) {
            return Err(AdminError::denied());
        }
        let time = |name: &str| -> Result<Option<u64>, AdminError> {
            request
                .query_param(name)
                .map(|text| {
                    parse_rfc3339(text).ok_or_else(|| {
                        AdminError::bad_request(format!("{name} must be an RFC 3339 time."))
                    })
                })
                .transpose()
        };
        let limit = match request.query_param("limit") {
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=crate::audit::QUERY_ROWS_MAX).contains(n))
                .ok_or_else(|| AdminError::bad_request("limit is 1 to 10000."))?,
            None => LIMIT_DEFAULT,
        };
        let filter = AuditFilter {
            from_ms: time("from")?,
            to_ms: time("to")?,
            actor: request.query_param("actor").map(str::to_owned),
            action: request.query_param("action").map(str::to_owned),
            // A tenant admin sees the entries that concern its tenant.
            account: (!system).then(|| caller.account().to_owned()),
            limit,
        };
        let entries = self.catalog.audit_query(&filter)?;
        if request.query_param("format") == Some("csv") {
            return Ok(AdminResponse {
                status: 200,
                content_type: "text/csv; charset=utf-8",
                body: to_csv(&entries).into_bytes(),
                set_cookie: None,
                location: None,
            });
        }
        let entries: Vec<_> = entries
            .iter()
            .map(|AuditEntry { id, event: entry }| {
                json!({
                    "id": id, "time": rfc3339(entry.time_ms), "actor": entry.actor,
                    "source": entry.source, "request_id": entry.request_id, "action": entry.action,
                    "target": entry.target, "outcome": entry.outcome, "detail": entry.detail,
                })
            })
            .collect();
        Ok(AdminResponse::json(200, &json!({"entries": entries})))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let entry = AuditEntry {
            id: 1,
            event: crate::audit::AuditEvent {
                actor: "=cmd()".into(),
                detail: "a,\"b\"".into(),
                ..Default::default()
            },
        };
        let csv = to_csv(&[entry]);
        let line = csv.lines().nth(1).unwrap();
        assert!(line.contains("'=cmd()"));
        assert!(line.ends_with("\"a,\"\"b\"\"\""));
    }
}
