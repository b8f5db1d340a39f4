//! `maxiofs admin key …`: access keys. A new key's secret is shown once, by
//! `key create`; nothing can show it again.

use clap::Subcommand;

use super::client::{Failure, IamClient};
use super::output::{self, Output};

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Create an access key and print its secret (the only time it is shown).
    Create {
        /// The user the key is for (default: the user whose key signs the request).
        #[arg(long)]
        user: Option<String>,
    },
    /// List access keys (never their secrets).
    List {
        /// Whose keys (default: the user whose key signs the request).
        #[arg(long)]
        user: Option<String>,
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
    },
    /// Show when, where and for which service an access key was last used.
    LastUsed {
        /// The access key id.
        access_key_id: String,
    },
}

pub fn run(client: &IamClient, command: KeyCommand) -> Result<Output, Failure> {
    match command {
        KeyCommand::Create { user } => {
            let params = user_param(user);
            let result = client.call("CreateAccessKey", &params)?;
            // On stderr, so stdout stays the key alone for a script to capture.
            eprintln!("The secret access key is shown only now: store it safely.");
            Ok(output::record_output(&result, "AccessKey"))
        }
        KeyCommand::List { user } => {
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
