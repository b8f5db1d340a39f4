//! `maxiofs admin key …`: access keys. A new key's secret is shown once, by
//! `key create`; nothing can show it again. With `--tenant` (and `--user`),
//! create, list and delete work on a tenant's console user's keys through the
//! admin API instead (`TenantKeyCommand`).

use clap::Subcommand;
use serde_json::{json, Value};

use super::api::{api_path, ApiClient};
use super::client::{Failure, IamClient};
use super::output::{self, Output};
use super::Route;

/// A new key as `key create --tenant` shows it.
const TENANT_KEY_FIELDS: [(&str, &str); 4] = [
    ("AccessKeyId", "access_key_id"),
    ("SecretAccessKey", "secret_access_key"),
    ("Status", "status"),
    ("CreatedAt", "created_at"),
];
/// The columns of `key list --tenant`.
const TENANT_KEY_COLUMNS: [(&str, &str); 3] = [
    ("AccessKeyId", "access_key_id"),
    ("Status", "status"),
    ("CreatedAt", "created_at"),
];

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Create an access key and print its secret (the only time it is shown).
    Create {
        /// The user the key is for (default: the user whose key signs the request).
        #[arg(long)]
        user: Option<String>,
        /// --user is a console user of this tenant: create through the admin API.
        #[arg(long, requires = "user")]
        tenant: Option<String>,
    },
    /// List access keys (never their secrets).
    List {
        /// Whose keys (default: the user whose key signs the request).
        #[arg(long)]
        user: Option<String>,
        /// --user is a console user of this tenant: list through the admin API.
        #[arg(long, requires = "user")]
        tenant: Option<String>,
    },
    /// Make an access key usable again.
    Enable {
        /// The access key id.
        access_key_id: String,
        /// The key's user (default: the user whose key signs the request).
        #[arg(long)]
        user: Option<String>,
    },
    /// Make an access key unusable without deleting it.
    Disable {
        /// The access key id.
        access_key_id: String,
        /// The key's user (default: the user whose key signs the request).
        #[arg(long)]
        user: Option<String>,
    },
    /// Delete an access key.
    Delete {
        /// The access key id.
        access_key_id: String,
        /// The key's user (default: the user whose key signs the request).
        #[arg(long)]
        user: Option<String>,
        /// --user is a console user of this tenant: delete through the admin API.
        #[arg(long, requires = "user")]
        tenant: Option<String>,
    },
    /// Show when, where and for which service an access key was last used.
    LastUsed {
        /// The access key id.
        access_key_id: String,
    },
}

/// A key command with `--tenant`: on a console user's keys, through the
/// admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantKeyCommand {
    Create {
        tenant: String,
        user: String,
    },
    List {
        tenant: String,
        user: String,
    },
    Delete {
        tenant: String,
        user: String,
        access_key_id: String,
    },
}

impl KeyCommand {
    /// The admin API form of a command given `--tenant`; any other command
    /// goes to IAM as it is.
    pub fn route(self) -> Route<KeyCommand, TenantKeyCommand> {
        const USER_REQUIRED: &str = "clap requires --user with --tenant";
        Route::Admin(match self {
            KeyCommand::Create {
                user,
                tenant: Some(tenant),
            } => TenantKeyCommand::Create {
                tenant,
                user: user.expect(USER_REQUIRED),
            },
            KeyCommand::List {
                user,
                tenant: Some(tenant),
            } => TenantKeyCommand::List {
                tenant,
                user: user.expect(USER_REQUIRED),
            },
            KeyCommand::Delete {
                access_key_id,
                user,
                tenant: Some(tenant),
            } => TenantKeyCommand::Delete {
                tenant,
                user: user.expect(USER_REQUIRED),
                access_key_id,
            },
            iam => return Route::Iam(iam),
        })
    }
}

pub fn run_in_tenant(client: &ApiClient, command: TenantKeyCommand) -> Result<Output, Failure> {
    match command {
        TenantKeyCommand::Create { tenant, user } => {
            let path = api_path(&["tenants", &tenant, "users", &user, "keys"]);
            let answer = client.post(&path, &json!({}))?;
            // On stderr, so stdout stays the key alone for a script to capture.
            eprintln!("The secret access key is shown only now: store it safely.");
            let text = output::json_fields(&answer, &TENANT_KEY_FIELDS);
            Ok(Output::Shown { json: answer, text })
        }
        TenantKeyCommand::List { tenant, user } => {
            let path = api_path(&["tenants", &tenant, "users", &user, "keys"]);
            let answer: Value = client.get(&path)?;
            let keys = output::json_list(&answer, "keys");
            let text = output::json_table(keys, &TENANT_KEY_COLUMNS);
            Ok(Output::Shown { json: answer, text })
        }
        TenantKeyCommand::Delete {
            tenant,
            user,
            access_key_id,
        } => {
            let segments = ["tenants", &tenant, "users", &user, "keys", &access_key_id];
            client.delete(&api_path(&segments))?;
            Ok(Output::Nothing)
        }
    }
}

pub fn run(client: &IamClient, command: KeyCommand) -> Result<Output, Failure> {
    match command {
        KeyCommand::Create { user, .. } => {
            let params = user_param(user);
            let result = client.call("CreateAccessKey", &params)?;
            // On stderr, so stdout stays the key alone for a script to capture.
            eprintln!("The secret access key is shown only now: store it safely.");
            Ok(output::record_output(&result, "AccessKey"))
        }
        KeyCommand::List { user, .. } => {
            let params = user_param(user);
            let (_, keys) = client.call_paged("ListAccessKeys", &params, "AccessKeyMetadata")?;
            Ok(output::list_output(
                "AccessKeyMetadata",
                &keys,
                &["UserName", "AccessKeyId", "Status", "CreateDate"],
            ))
        }
        KeyCommand::Enable {
            access_key_id,
            user,
        } => set_status(client, access_key_id, user, "Active"),
        KeyCommand::Disable {
            access_key_id,
            user,
        } => set_status(client, access_key_id, user, "Inactive"),
        KeyCommand::Delete {
            access_key_id,
            user,
            ..
        } => {
            let mut params = vec![("AccessKeyId", access_key_id)];
            params.extend(user_param(user));
            client.call("DeleteAccessKey", &params)?;
            Ok(Output::Nothing)
        }
        KeyCommand::LastUsed { access_key_id } => {
            let params = [("AccessKeyId", access_key_id)];
            let result = client.call("GetAccessKeyLastUsed", &params)?;
            Ok(Output::Shown {
                json: output::result_json(&result),
                text: output::record_text(&result),
            })
        }
    }
}

/// UpdateAccessKey with `Active` or `Inactive`.
fn set_status(
    client: &IamClient,
    access_key_id: String,
    user: Option<String>,
    status: &str,
) -> Result<Output, Failure> {
    let mut params = vec![
        ("AccessKeyId", access_key_id),
        ("Status", status.to_owned()),
    ];
    params.extend(user_param(user));
    client.call("UpdateAccessKey", &params)?;
    Ok(Output::Nothing)
}

/// IAM takes the caller's own user when `UserName` is absent.
fn user_param(user: Option<String>) -> Vec<(&'static str, String)> {
    user.map(|name| ("UserName", name)).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct TestCli {
        #[command(subcommand)]
        command: KeyCommand,
    }

    fn parse(args: &[&str]) -> Result<KeyCommand, clap::Error> {
        TestCli::try_parse_from(std::iter::once("key").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    #[test]
    fn tenant_selects_the_admin_api_and_needs_a_user() {
        let tenant = |args: &[&str]| parse(args).expect("parses").route().admin();
        assert_eq!(
            tenant(&["create", "--tenant", "acme", "--user", "alice"]),
            Some(TenantKeyCommand::Create {
                tenant: "acme".into(),
                user: "alice".into()
            })
        );
        assert_eq!(
            tenant(&["delete", "AK1", "--tenant", "acme", "--user", "alice"]),
            Some(TenantKeyCommand::Delete {
                tenant: "acme".into(),
                user: "alice".into(),
                access_key_id: "AK1".into()
            })
        );
        assert!(tenant(&["list", "--tenant", "acme", "--user", "alice"]).is_some());
        assert!(tenant(&["list", "--user", "alice"]).is_none(), "IAM");
        assert!(tenant(&["create"]).is_none(), "IAM");
        assert!(parse(&["create", "--tenant", "acme"]).is_err());
        assert!(parse(&["disable", "AK1", "--tenant", "acme", "--user", "a"]).is_err());
    }
}
