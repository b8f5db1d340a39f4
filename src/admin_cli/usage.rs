//! `maxiofs admin usage [--tenant T]`: what each tenant stores and its
//! requests and traffic per day, through the admin API (`GET /api/v1/usage`).
//!
//! Owns: the usage query and its two tables (storage per tenant, traffic
//! per tenant and day).

use serde_json::Value;

use super::api::{api_path, with_query, ApiClient};
use super::client::Failure;
use super::output::{self, Output, Table};

/// `maxiofs admin usage`'s own flags.
#[derive(clap::Args, Debug, Clone)]
pub struct UsageQuery {
    /// Only this tenant (default: every tenant the login may see).
    #[arg(long)]
    pub tenant: Option<String>,
}

pub fn run(client: &ApiClient, query: UsageQuery) -> Result<Output, Failure> {
    let answer = client.get(&usage_path(query))?;
    let text = usage_text(&answer);
    Ok(Output::Shown { json: answer, text })
}

fn usage_path(query: UsageQuery) -> String {
    with_query(api_path(&["usage"]), &[("tenant", query.tenant)])
}

/// Storage per tenant, then (when the server reports any) traffic per
/// tenant and day.
fn usage_text(answer: &Value) -> String {
    let tenants = output::json_list(answer, "tenants");
    let mut storage = Table::new(&[
        "Tenant",
        "Storage",
        "Stored",
        "Objects",
        "Versions",
        "Multipart",
        "Buckets",
        "AccessKeys",
    ]);
    let mut traffic = Table::new(&["Tenant", "Date", "Requests", "BytesIn", "BytesOut"]);
    let mut days_total = 0;
    for tenant in tenants {
        let name = output::cell(tenant.get("tenant"));
        storage.push(vec![
            name.clone(),
            output::size_cell(tenant.get("storage_bytes")),
            output::size_cell(tenant.get("stored_bytes")),
            output::cell(tenant.get("objects")),
            output::cell(tenant.get("versions")),
            output::size_cell(tenant.get("multipart_bytes")),
            output::cell(tenant.get("buckets")),
            output::cell(tenant.get("access_keys")),
        ]);
        for day in output::json_list(tenant, "days") {
            days_total += 1;
            traffic.push(vec![
                name.clone(),
                output::cell(day.get("date")),
                output::cell(day.get("requests")),
                output::size_cell(day.get("bytes_in")),
                output::size_cell(day.get("bytes_out")),
            ]);
        }
    }
    let mut text = storage.render();
    if days_total > 0 {
        text.push('\n');
        text.push_str(&traffic.render());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usage_path_names_the_tenant_only_when_given() {
        assert_eq!(usage_path(UsageQuery { tenant: None }), "/api/v1/usage");
        assert_eq!(
            usage_path(UsageQuery {
                tenant: Some("acme".into())
            }),
            "/api/v1/usage?tenant=acme"
        );
    }

    #[test]
    fn usage_shows_storage_then_daily_traffic() {
        let answer = json!({"tenants": [
            {"tenant": "acme", "storage_bytes": 3221225472u64, "stored_bytes": 1073741824,
             "objects": 10, "versions": 12, "multipart_bytes": 0, "buckets": 2,
             "access_keys": 1,
             "days": [{"date": "2026-12-06", "requests": 42, "bytes_in": 2048,
                       "bytes_out": 0}]},
            {"tenant": "idle", "storage_bytes": 0, "stored_bytes": 0, "objects": 0,
             "versions": 0, "multipart_bytes": 0, "buckets": 0, "access_keys": 0,
             "days": []},
        ]});
        assert_eq!(
            usage_text(&answer),
            "Tenant  Storage  Stored  Objects  Versions  Multipart  Buckets  AccessKeys\n\
             acme    3 GiB    1 GiB   10       12        0 B        2        1\n\
             idle    0 B      0 B     0        0         0 B        0        0\n\
             \n\
             Tenant  Date        Requests  BytesIn  BytesOut\n\
             acme    2026-12-06  42        2 KiB    0 B\n"
        );
        let quiet = json!({"tenants": [{"tenant": "idle", "days": []}]});
        assert!(!usage_text(&quiet).contains("Date"));
    }
}
