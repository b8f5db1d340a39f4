//! `maxiofs admin kms-key list|create|show|rotate|enable|disable --tenant T`:
//! a tenant's SSE-KMS keys in the built-in key store, through the admin API
//! (`/api/v1/tenants/{tenant}/kms-keys`). Key material never leaves the
//! server; keys are disabled, never deleted.

use clap::Subcommand;
use serde_json::{json, Value};

use super::api::{api_path, ApiClient};
use super::client::Failure;
use super::output::{Output, Table};

#[derive(Subcommand, Debug)]
pub enum KmsKeyCommand {
    /// The tenant's keys (its `aws/s3` default key included).
    List {
        #[arg(long, default_value = "default")]
        tenant: String,
    },
    /// A new key, current at once; name it with an alias (`backups` or
    /// `alias/backups`) to use it as `--sse-kms-key-id alias/backups`.
    Create {
        #[arg(long, default_value = "default")]
        tenant: String,
        #[arg(long)]
        alias: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// One key.
    Show {
        #[arg(long, default_value = "default")]
        tenant: String,
        id: String,
    },
    /// A new key version becomes current; objects written before still open.
    Rotate {
        #[arg(long, default_value = "default")]
        tenant: String,
        id: String,
    },
    /// The key works again for writes and reads.
    Enable {
        #[arg(long, default_value = "default")]
        tenant: String,
        id: String,
    },
    /// Writes and reads under the key answer KMS.DisabledException until it is enabled.
    Disable {
        #[arg(long, default_value = "default")]
        tenant: String,
        id: String,
    },
}

pub fn run(client: &ApiClient, command: KmsKeyCommand) -> Result<Output, Failure> {
    let keys = |tenant: &str| api_path(&["tenants", tenant, "kms-keys"]);
    let key = |tenant: &str, id: &str| api_path(&["tenants", tenant, "kms-keys", id]);
    let answer = match command {
        KmsKeyCommand::List { tenant } => {
            let answer = client.get(&keys(&tenant))?;
            let mut table = Table::new(&["ID", "ALIAS", "ENABLED", "VERSIONS", "CREATED"]);
            for key in answer["kms_keys"].as_array().into_iter().flatten() {
                table.push(vec![
                    text(key, "id"),
                    text(key, "alias"),
                    key["enabled"].to_string(),
                    key["versions"].to_string(),
                    text(key, "created_at"),
                ]);
            }
            return Ok(Output::Shown {
                json: answer,
                text: table.render(),
            });
        }
        KmsKeyCommand::Create {
            tenant,
            alias,
            description,
        } => client.post(
            &keys(&tenant),
            &json!({"alias": alias, "description": description}),
        )?,
        KmsKeyCommand::Show { tenant, id } => client.get(&key(&tenant, &id))?,
        KmsKeyCommand::Rotate { tenant, id } => client.post(
            &api_path(&["tenants", &tenant, "kms-keys", &id, "rotate"]),
            &json!({}),
        )?,
        KmsKeyCommand::Enable { tenant, id } => {
            client.patch(&key(&tenant, &id), &json!({"enabled": true}))?
        }
        KmsKeyCommand::Disable { tenant, id } => {
            client.patch(&key(&tenant, &id), &json!({"enabled": false}))?
        }
    };
    Ok(shown(answer))
}

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or("-").to_owned()
}

/// One key as a field list.
fn shown(answer: Value) -> Output {
    let mut table = Table::headless();
    for field in [
        "id",
        "arn",
        "alias",
        "description",
        "created_at",
        "rotated_at",
    ] {
        table.push(vec![format!("{field}:"), text(&answer, field)]);
    }
    table.push(vec!["enabled:".into(), answer["enabled"].to_string()]);
    table.push(vec!["versions:".into(), answer["versions"].to_string()]);
    Output::Shown {
        json: answer,
        text: table.render(),
    }
}
