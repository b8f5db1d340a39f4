//! `maxiofs admin tenant …`: tenants, their quotas and bandwidth limits,
//! through the admin API (`/api/v1/tenants`).
//!
//! Owns: the tenant commands' flags, the request bodies they become, and
//! the tenant tables. An update that changes a quota or bandwidth limit sends
//! the whole `quota` (or `bandwidth`) object, the limits not given taken from
//! the tenant as it is, so it means the same whether the server replaces or
//! merges that object.

use clap::{ArgGroup, Subcommand};
use serde_json::{json, Map, Value};

use super::api::{api_path, ApiClient};
use super::client::Failure;
use super::output::{self, Output, Table};
use super::quota::{self, merged_limit, parse_limit_bytes, parse_limit_count, Limit};

/// The quota object's fields, in the order tables show them.
const QUOTA_FIELDS: [&str; 4] = ["storage_bytes", "objects", "buckets", "access_keys"];
/// The bandwidth object's fields.
const BANDWIDTH_FIELDS: [&str; 2] = ["in_bytes_per_second", "out_bytes_per_second"];

/// Quota and bandwidth limits of `tenant create` and `tenant update`.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantLimits {
    /// Bytes the tenant's objects may hold in all (`10GiB`, or `none`).
    #[arg(long, value_parser = parse_limit_bytes, value_name = "BYTES|none")]
    pub storage_bytes: Option<Limit>,
    /// Objects the tenant may hold in all (or `none`).
    #[arg(long, value_parser = parse_limit_count, value_name = "N|none")]
    pub objects: Option<Limit>,
    /// Buckets the tenant may have (or `none`).
    #[arg(long, value_parser = parse_limit_count, value_name = "N|none")]
    pub buckets: Option<Limit>,
    /// Access keys the tenant's users may have in all (or `none`).
    #[arg(long, value_parser = parse_limit_count, value_name = "N|none")]
    pub access_keys: Option<Limit>,
    /// Upload bandwidth, bytes per second (`100MiB`, or `none`).
    #[arg(long, value_parser = parse_limit_bytes, value_name = "BYTES_PER_S|none")]
    pub bandwidth_in: Option<Limit>,
    /// Download bandwidth, bytes per second (`100MiB`, or `none`).
    #[arg(long, value_parser = parse_limit_bytes, value_name = "BYTES_PER_S|none")]
    pub bandwidth_out: Option<Limit>,
}

impl TenantLimits {
    /// The quota limits given, in `QUOTA_FIELDS` order.
    fn quota(&self) -> [Option<Limit>; 4] {
        [
            self.storage_bytes,
            self.objects,
            self.buckets,
            self.access_keys,
        ]
    }

    /// The bandwidth limits given, in `BANDWIDTH_FIELDS` order.
    fn bandwidth(&self) -> [Option<Limit>; 2] {
        [self.bandwidth_in, self.bandwidth_out]
    }

    fn any(&self) -> bool {
        self.quota()
            .iter()
            .chain(self.bandwidth().iter())
            .any(Option::is_some)
    }
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// List tenants with what they use.
    List,
    /// Show a tenant: its ids, status, limits and usage.
    Get {
        /// The tenant's name.
        name: String,
    },
    /// Create a tenant. Limits not given are unlimited.
    Create {
        /// The tenant's name.
        name: String,
        /// A name for people (default: the server's choice).
        #[arg(long)]
        display_name: Option<String>,
        #[command(flatten)]
        limits: TenantLimits,
    },
    /// Change a tenant. Limits not given keep their value; `none` removes one.
    #[command(group(ArgGroup::new("change").required(true).multiple(true).args([
        "display_name", "status", "storage_bytes", "objects", "buckets", "access_keys",
        "bandwidth_in", "bandwidth_out",
    ])))]
    Update {
        /// The tenant's name.
        name: String,
        /// A name for people.
        #[arg(long)]
        display_name: Option<String>,
        /// `suspended` refuses every request of the tenant's users and keys.
        #[arg(long, value_parser = ["active", "suspended"])]
        status: Option<String>,
        #[command(flatten)]
        limits: TenantLimits,
    },
    /// Delete a tenant (its buckets must go first).
    Delete {
        /// The tenant's name.
        name: String,
    },
}

pub fn run(client: &ApiClient, command: TenantCommand) -> Result<Output, Failure> {
    match command {
        TenantCommand::List => {
            let answer = client.get(&api_path(&["tenants"]))?;
            let text = tenants_table(output::json_list(&answer, "tenants"));
            Ok(Output::Shown { json: answer, text })
        }
        TenantCommand::Get { name } => {
            let answer = client.get(&api_path(&["tenants", &name]))?;
            Ok(tenant_output(answer))
        }
        TenantCommand::Create {
            name,
            display_name,
            limits,
        } => {
            let body = tenant_create_body(&name, display_name, &limits);
            let answer = client.post(&api_path(&["tenants"]), &body)?;
            Ok(tenant_output(answer))
        }
        TenantCommand::Update {
            name,
            display_name,
            status,
            limits,
        } => {
            let path = api_path(&["tenants", &name]);
            // Only a limit change needs the limits as they are.
            let current = if limits.any() {
                client.get(&path)?
            } else {
                Value::Null
            };
            let body = tenant_patch_body(&current, display_name, status, &limits);
            let answer = client.patch(&path, &body)?;
            Ok(tenant_output(answer))
        }
        TenantCommand::Delete { name } => {
            client.delete(&api_path(&["tenants", &name]))?;
            Ok(Output::Nothing)
        }
    }
}

/// The body of `POST /api/v1/tenants`: the name, and only what was given
/// (an absent limit is unlimited to the server too).
pub fn tenant_create_body(
    name: &str,
    display_name: Option<String>,
    limits: &TenantLimits,
) -> Value {
    let mut body = json!({"name": name});
    if let Some(display_name) = display_name {
        body["display_name"] = Value::String(display_name);
    }
    let given = |fields: &[&str], values: &[Option<Limit>]| {
        let object: Map<String, Value> = fields
            .iter()
            .zip(values)
            .filter_map(|(field, value)| value.map(|v| ((*field).to_owned(), v.json())))
            .collect();
        (!object.is_empty()).then_some(Value::Object(object))
    };
    if let Some(quota) = given(&QUOTA_FIELDS, &limits.quota()) {
        body["quota"] = quota;
    }
    if let Some(bandwidth) = given(&BANDWIDTH_FIELDS, &limits.bandwidth()) {
        body["bandwidth"] = bandwidth;
    }
    body
}

/// The body of `PATCH /api/v1/tenants/{name}`. `current` is the tenant as
/// it is (`null` when no limit changes): a changed `quota` or `bandwidth`
/// object is sent whole, merged from it.
pub fn tenant_patch_body(
    current: &Value,
    display_name: Option<String>,
    status: Option<String>,
    limits: &TenantLimits,
) -> Value {
    let mut body = Map::new();
    if let Some(display_name) = display_name {
        body.insert("display_name".into(), Value::String(display_name));
    }
    if let Some(status) = status {
        body.insert("status".into(), Value::String(status));
    }
    let merged = |name: &str, fields: &[&str], values: &[Option<Limit>]| {
        values.iter().any(Option::is_some).then(|| {
            let object: Map<String, Value> = fields
                .iter()
                .zip(values)
                .map(|(field, value)| {
                    let value = merged_limit(*value, current.get(name), field);
                    ((*field).to_owned(), value)
                })
                .collect();
            Value::Object(object)
        })
    };
    if let Some(quota) = merged("quota", &QUOTA_FIELDS, &limits.quota()) {
        body.insert("quota".into(), quota);
    }
    if let Some(bandwidth) = merged("bandwidth", &BANDWIDTH_FIELDS, &limits.bandwidth()) {
        body.insert("bandwidth".into(), bandwidth);
    }
    Value::Object(body)
}

/// `used of quota` for a list cell (`3 of 10`, `1.2 GiB of 10 GiB`), or
/// just what is used when there is no limit.
fn used_of(tenant: &Value, field: &str, is_size: bool) -> String {
    let short = |value: Option<&Value>| {
        if is_size {
            output::size_cell(value)
        } else {
            output::cell(value)
        }
    };
    let used = short(tenant.get("usage").and_then(|u| u.get(field)));
    match tenant.get("quota").and_then(|q| q.get(field)) {
        None | Some(Value::Null) => used,
        limit => format!("{used} of {}", short(limit)),
    }
}

fn tenants_table(tenants: &[Value]) -> String {
    let mut table = Table::new(&[
        "Name",
        "Status",
        "Buckets",
        "Objects",
        "Storage",
        "CreatedAt",
        "DisplayName",
    ]);
    for tenant in tenants {
        table.push(vec![
            output::cell(tenant.get("name")),
            output::cell(tenant.get("status")),
            used_of(tenant, "buckets", false),
            used_of(tenant, "objects", false),
            used_of(tenant, "storage_bytes", true),
            output::cell(tenant.get("created_at")),
            output::cell(tenant.get("display_name")),
        ]);
    }
    table.render()
}

/// A Tenant answer: its fields and bandwidth, then usage against quota.
fn tenant_output(tenant: Value) -> Output {
    let bandwidth = |field: &str| {
        let limit = tenant.get("bandwidth").and_then(|b| b.get(field));
        match limit.and_then(Value::as_u64) {
            Some(rate) => format!("{}/s ({rate} bytes/s)", output::human_bytes(rate)),
            None => output::limit_text(limit, true),
        }
    };
    let mut text = output::fields_text(&[
        ("Name", output::cell(tenant.get("name"))),
        ("DisplayName", output::cell(tenant.get("display_name"))),
        ("Status", output::cell(tenant.get("status"))),
        ("AccountId", output::cell(tenant.get("account_id"))),
        ("CanonicalId", output::cell(tenant.get("canonical_id"))),
        ("CreatedAt", output::cell(tenant.get("created_at"))),
        ("BandwidthIn", bandwidth("in_bytes_per_second")),
        ("BandwidthOut", bandwidth("out_bytes_per_second")),
    ]);
    let usage = tenant.get("usage");
    let limits = tenant.get("quota");
    let row = |resource, field: &str, is_size| {
        (
            resource,
            output::amount_text(usage.and_then(|u| u.get(field)), is_size),
            output::limit_text(limits.and_then(|q| q.get(field)), is_size),
        )
    };
    text.push('\n');
    text.push_str(&quota::usage_table(&[
        row("Storage", "storage_bytes", true),
        row("Objects", "objects", false),
        row("Buckets", "buckets", false),
        row("AccessKeys", "access_keys", false),
    ]));
    Output::Shown { json: tenant, text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct TestCli {
        #[command(subcommand)]
        command: TenantCommand,
    }

    fn parse(args: &[&str]) -> Result<TenantCommand, clap::Error> {
        TestCli::try_parse_from(std::iter::once("tenant").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    #[test]
    fn create_sends_only_what_was_given() {
        let TenantCommand::Create {
            name,
            display_name,
            limits,
        } = parse(&[
            "create",
            "acme",
            "--display-name",
            "Acme Corp",
            "--storage-bytes",
            "10GiB",
            "--buckets",
            "10",
            "--bandwidth-out",
            "none",
        ])
        .expect("parses")
        else {
            panic!("not create");
        };
        assert_eq!(
            tenant_create_body(&name, display_name, &limits),
            json!({
                "name": "acme",
                "display_name": "Acme Corp",
                "quota": {"storage_bytes": 10737418240u64, "buckets": 10},
                "bandwidth": {"out_bytes_per_second": null},
            })
        );
        let bare = tenant_create_body("t", None, &TenantLimits::default());
        assert_eq!(bare, json!({"name": "t"}));
    }

    #[test]
    fn update_merges_changed_limit_objects_with_the_tenant() {
        let TenantCommand::Update {
            display_name,
            status,
            limits,
            ..
        } = parse(&[
            "update",
            "acme",
            "--status",
            "suspended",
            "--objects",
            "none",
            "--access-keys",
            "5",
        ])
        .expect("parses")
        else {
            panic!("not update");
        };
        let current = json!({
            "name": "acme",
            "quota": {"storage_bytes": 1000, "objects": 50, "buckets": null},
            "bandwidth": {"in_bytes_per_second": 100, "out_bytes_per_second": null},
        });
        assert_eq!(
            tenant_patch_body(&current, display_name, status, &limits),
            json!({
                "status": "suspended",
                "quota": {"storage_bytes": 1000, "objects": null, "buckets": null,
                          "access_keys": 5},
            })
        );
        let renamed = tenant_patch_body(
            &Value::Null,
            Some("New".into()),
            None,
            &TenantLimits::default(),
        );
        assert_eq!(renamed, json!({"display_name": "New"}));
    }

    #[test]
    fn update_needs_a_change_and_a_known_status() {
        assert!(parse(&["update", "acme"]).is_err());
        assert!(parse(&["update", "acme", "--status", "gone"]).is_err());
        assert!(parse(&["update", "acme", "--buckets", "many"]).is_err());
        assert!(parse(&["update", "acme", "--bandwidth-in", "1MiB"]).is_ok());
        assert!(parse(&["create", "acme", "--status", "active"]).is_err());
    }

    #[test]
    fn tables_show_usage_against_limits() {
        let tenant = json!({
            "name": "acme", "display_name": "Acme", "status": "active",
            "account_id": "123456789012", "canonical_id": "c0ffee",
            "created_at": "2026-12-06T17:00:00Z",
            "quota": {"storage_bytes": 10737418240u64, "objects": null, "buckets": 10,
                      "access_keys": null},
            "bandwidth": {"in_bytes_per_second": 1048576, "out_bytes_per_second": null},
            "usage": {"storage_bytes": 2048, "objects": 7, "buckets": 2, "access_keys": 1},
        });
        assert_eq!(
            tenants_table(std::slice::from_ref(&tenant)),
            "Name  Status  Buckets  Objects  Storage          CreatedAt             \
             DisplayName\n\
             acme  active  2 of 10  7        2 KiB of 10 GiB  2026-12-06T17:00:00Z  Acme\n"
        );
        let Output::Shown { json, text } = tenant_output(tenant.clone()) else {
            panic!("nothing shown");
        };
        assert_eq!(json, tenant);
        assert_eq!(
            text,
            "Name          acme\n\
             DisplayName   Acme\n\
             Status        active\n\
             AccountId     123456789012\n\
             CanonicalId   c0ffee\n\
             CreatedAt     2026-12-06T17:00:00Z\n\
             BandwidthIn   1 MiB/s (1048576 bytes/s)\n\
             BandwidthOut  unlimited\n\
             \n\
             Resource    Used          Quota\n\
             Storage     2 KiB (2048)  10 GiB (10737418240)\n\
             Objects     7             unlimited\n\
             Buckets     2             10\n\
             AccessKeys  1             unlimited\n"
        );
    }
}
