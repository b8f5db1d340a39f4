//! `maxiofs admin user …`: IAM users, their group memberships, and (through
//! `policies`) their inline and attached policies. With `--tenant`, create,
//! list, get, update and delete manage that tenant's console users through
//! the admin API instead (`TenantUserCommand`), with their role and password.
//!
//! A console user's password, like every secret, never comes from the
//! command line: `--password-file` or MAXIOFS_USER_PASSWORD.

use std::path::PathBuf;

use clap::{ArgGroup, Subcommand};
use serde_json::{json, Map, Value};

use super::api::{api_path, ApiClient};
use super::client::{Failure, IamClient};
use super::output::{self, Output};
use super::policies::{self, IdentityKind, IdentityPolicyCommand};
use super::Route;

const USER_COLUMNS: [&str; 5] = ["UserName", "UserId", "Path", "CreateDate", "Arn"];
const GROUP_COLUMNS: [&str; 5] = ["GroupName", "GroupId", "Path", "CreateDate", "Arn"];
/// A console user's fields as `user get --tenant` shows them.
const TENANT_USER_FIELDS: [(&str, &str); 7] = [
    ("Name", "name"),
    ("Tenant", "tenant"),
    ("Role", "role"),
    ("Arn", "arn"),
    ("CreatedAt", "created_at"),
    ("HasPassword", "has_password"),
    ("TotpEnabled", "totp_enabled"),
];
/// The columns of `user list --tenant`.
const TENANT_USER_COLUMNS: [(&str, &str); 6] = [
    ("Name", "name"),
    ("Role", "role"),
    ("HasPassword", "has_password"),
    ("TotpEnabled", "totp_enabled"),
    ("CreatedAt", "created_at"),
    ("Arn", "arn"),
];
/// The admin API's roles.
const ROLES: [&str; 4] = ["system-admin", "tenant-admin", "user", "read-only"];

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user: an IAM user, or with --tenant a console user of that tenant.
    Create {
        /// The user's name.
        name: String,
        /// The IAM user's path (default /).
        #[arg(long, conflicts_with = "tenant")]
        path: Option<String>,
        /// Create a console user of this tenant, through the admin API.
        #[arg(long, requires = "role")]
        tenant: Option<String>,
        /// The console user's role.
        #[arg(long, requires = "tenant", value_parser = ROLES)]
        role: Option<String>,
        /// File whose first line is the console user's password (`-`: stdin). Without
        /// it, MAXIOFS_USER_PASSWORD; without either the user has no password.
        #[arg(long, requires = "tenant", value_name = "FILE|-")]
        password_file: Option<PathBuf>,
    },
    /// List users: IAM users, or with --tenant that tenant's console users.
    List {
        /// Only IAM users whose path starts with this.
        #[arg(long, conflicts_with = "tenant")]
        path_prefix: Option<String>,
        /// List this tenant's console users, through the admin API.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Show a user; without NAME, the IAM user whose key signs the request.
    Get {
        /// The user's name.
        name: Option<String>,
        /// Show a console user of this tenant, through the admin API.
        #[arg(long, requires = "name")]
        tenant: Option<String>,
    },
    /// Delete a user (an IAM user's keys, policies and group memberships must go
    /// first).
    Delete {
        /// The user's name.
        name: String,
        /// Delete a console user of this tenant, through the admin API.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Rename an IAM user or move it to another path; with --tenant, change a
    /// console user's role or password.
    #[command(group(ArgGroup::new("tenant_change").multiple(true)
        .args(["role", "password_file"])))]
    Update {
        /// The user's name.
        name: String,
        /// The IAM user's new name.
        #[arg(long, required_unless_present_any = ["new_path", "tenant"],
            conflicts_with = "tenant")]
        new_name: Option<String>,
        /// The IAM user's new path.
        #[arg(long, conflicts_with = "tenant")]
        new_path: Option<String>,
        /// Change a console user of this tenant, through the admin API.
        #[arg(long, requires = "tenant_change")]
        tenant: Option<String>,
        /// The console user's new role.
        #[arg(long, requires = "tenant", value_parser = ROLES)]
        role: Option<String>,
        /// File whose first line is the console user's new password (`-`: stdin).
        #[arg(long, requires = "tenant", value_name = "FILE|-")]
        password_file: Option<PathBuf>,
    },
    /// List the groups a user belongs to.
    Groups {
        /// The user's name.
        name: String,
    },
    #[command(flatten)]
    Policies(IdentityPolicyCommand),
}

/// A user command with `--tenant`: on a tenant's console users, through
/// the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantUserCommand {
    Create {
        tenant: String,
        name: String,
        role: String,
        password_file: Option<PathBuf>,
    },
    List {
        tenant: String,
    },
    Get {
        tenant: String,
        name: String,
    },
    Update {
        tenant: String,
        name: String,
        role: Option<String>,
        password_file: Option<PathBuf>,
    },
    Delete {
        tenant: String,
        name: String,
    },
}

impl UserCommand {
    /// The admin API form of a command given `--tenant`; any other command
    /// goes to IAM as it is.
    pub fn route(self) -> Route<UserCommand, TenantUserCommand> {
        Route::Admin(match self {
            UserCommand::Create {
                name,
                tenant: Some(tenant),
                role,
                password_file,
                ..
            } => TenantUserCommand::Create {
                tenant,
                name,
                role: role.expect("clap requires --role with --tenant"),
                password_file,
            },
            UserCommand::List {
                tenant: Some(tenant),
                ..
            } => TenantUserCommand::List { tenant },
            UserCommand::Get {
                name,
                tenant: Some(tenant),
            } => TenantUserCommand::Get {
                tenant,
                name: name.expect("clap requires NAME with --tenant"),
            },
            UserCommand::Update {
                name,
                tenant: Some(tenant),
                role,
                password_file,
                ..
            } => TenantUserCommand::Update {
                tenant,
                name,
                role,
                password_file,
            },
            UserCommand::Delete {
                name,
                tenant: Some(tenant),
            } => TenantUserCommand::Delete { tenant, name },
            iam => return Route::Iam(iam),
        })
    }
}

pub fn run(client: &IamClient, command: UserCommand) -> Result<Output, Failure> {
    match command {
        UserCommand::Create { name, path, .. } => {
            let mut params = vec![("UserName", name)];
            params.extend(path.map(|p| ("Path", p)));
            let result = client.call("CreateUser", &params)?;
            Ok(output::record_output(&result, "User"))
        }
        UserCommand::List { path_prefix, .. } => {
            let params: Vec<_> = path_prefix.map(|p| ("PathPrefix", p)).into_iter().collect();
            let (_, users) = client.call_paged("ListUsers", &params, "Users")?;
            Ok(output::list_output("Users", &users, &USER_COLUMNS))
        }
        UserCommand::Get { name, .. } => {
            let params: Vec<_> = name.map(|n| ("UserName", n)).into_iter().collect();
            let result = client.call("GetUser", &params)?;
            Ok(output::record_output(&result, "User"))
        }
        UserCommand::Delete { name, .. } => {
            client.call("DeleteUser", &[("UserName", name)])?;
            Ok(Output::Nothing)
        }
        UserCommand::Update {
            name,
            new_name,
            new_path,
            ..
        } => {
            let mut params = vec![("UserName", name)];
            params.extend(new_name.map(|n| ("NewUserName", n)));
            params.extend(new_path.map(|p| ("NewPath", p)));
            client.call("UpdateUser", &params)?;
            Ok(Output::Nothing)
        }
        UserCommand::Groups { name } => {
            let params = [("UserName", name)];
            let (_, groups) = client.call_paged("ListGroupsForUser", &params, "Groups")?;
            Ok(output::list_output("Groups", &groups, &GROUP_COLUMNS))
        }
        UserCommand::Policies(command) => {
            policies::run_for_identity(client, IdentityKind::User, command)
        }
    }
}

/// Runs a `--tenant` user command. `env_password` is MAXIOFS_USER_PASSWORD,
/// which only `create` reads: an update changes the password only when
/// asked with `--password-file`, never because of a variable left set.
pub fn run_in_tenant(
    client: &ApiClient,
    command: TenantUserCommand,
    env_password: Option<String>,
) -> Result<Output, Failure> {
    match command {
        TenantUserCommand::Create {
            tenant,
            name,
            role,
            password_file,
        } => {
            let password = match password_file {
                Some(path) => Some(super::read_password(&path)?),
                None => env_password.filter(|password| !password.is_empty()),
            };
            if password.is_none() {
                eprintln!(
                    "No password given (--password-file or MAXIOFS_USER_PASSWORD): \
                     the user cannot log in to the console until one is set."
                );
            }
            let body = tenant_user_create_body(&name, &role, password);
            let answer = client.post(&api_path(&["tenants", &tenant, "users"]), &body)?;
            Ok(tenant_user_output(answer))
        }
        TenantUserCommand::List { tenant } => {
            let answer = client.get(&api_path(&["tenants", &tenant, "users"]))?;
            let users = output::json_list(&answer, "users");
            let text = output::json_table(users, &TENANT_USER_COLUMNS);
            Ok(Output::Shown { json: answer, text })
        }
        TenantUserCommand::Get { tenant, name } => {
            let answer = client.get(&api_path(&["tenants", &tenant, "users", &name]))?;
            Ok(tenant_user_output(answer))
        }
        TenantUserCommand::Update {
            tenant,
            name,
            role,
            password_file,
        } => {
            let password = password_file
                .map(|path| super::read_password(&path))
                .transpose()?;
            let body = tenant_user_patch_body(role, password);
            let path = api_path(&["tenants", &tenant, "users", &name]);
            Ok(tenant_user_output(client.patch(&path, &body)?))
        }
        TenantUserCommand::Delete { tenant, name } => {
            client.delete(&api_path(&["tenants", &tenant, "users", &name]))?;
            Ok(Output::Nothing)
        }
    }
}

/// The body of `POST /api/v1/tenants/{tenant}/users`.
pub fn tenant_user_create_body(name: &str, role: &str, password: Option<String>) -> Value {
    let mut body = json!({"name": name, "role": role});
    if let Some(password) = password {
        body["password"] = Value::String(password);
    }
    body
}

/// The body of `PATCH /api/v1/tenants/{tenant}/users/{name}`: what changes.
pub fn tenant_user_patch_body(role: Option<String>, password: Option<String>) -> Value {
    let fields = [("role", role), ("password", password)];
    let body: Map<String, Value> = fields
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name.to_owned(), Value::String(v))))
        .collect();
    Value::Object(body)
}

fn tenant_user_output(user: Value) -> Output {
    let text = output::json_fields(&user, &TENANT_USER_FIELDS);
    Output::Shown { json: user, text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct TestCli {
        #[command(subcommand)]
        command: UserCommand,
    }

    fn parse(args: &[&str]) -> Result<UserCommand, clap::Error> {
        TestCli::try_parse_from(std::iter::once("user").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    fn tenant_command(args: &[&str]) -> Option<TenantUserCommand> {
        parse(args).expect("parses").route().admin()
    }

    #[test]
    fn tenant_selects_the_admin_api() {
        assert_eq!(
            tenant_command(&["create", "alice", "--tenant", "acme", "--role", "user"]),
            Some(TenantUserCommand::Create {
                tenant: "acme".into(),
                name: "alice".into(),
                role: "user".into(),
                password_file: None,
            })
        );
        assert_eq!(
            tenant_command(&["get", "alice", "--tenant", "acme"]),
            Some(TenantUserCommand::Get {
                tenant: "acme".into(),
                name: "alice".into()
            })
        );
        assert_eq!(
            tenant_command(&["list", "--tenant", "acme"]),
            Some(TenantUserCommand::List {
                tenant: "acme".into()
            })
        );
        assert!(matches!(
            tenant_command(&["update", "alice", "--tenant", "acme", "--role", "read-only"]),
            Some(TenantUserCommand::Update {
                role: Some(_),
                password_file: None,
                ..
            })
        ));
        assert!(tenant_command(&["delete", "alice", "--tenant", "acme"]).is_some());
        for iam in [
            &["create", "alice", "--path", "/x/"][..],
            &["list"],
            &["get"],
            &["update", "alice", "--new-name", "bob"],
            &["delete", "alice"],
        ] {
            assert!(tenant_command(iam).is_none(), "{iam:?} stays on IAM");
        }
    }

    #[test]
    fn tenant_flags_go_together_and_not_with_iam_ones() {
        for bad in [
            &["create", "alice", "--tenant", "acme"][..],
            &["create", "alice", "--role", "user"],
            &["create", "alice", "--tenant", "acme", "--role", "root"],
            &[
                "create", "alice", "--tenant", "acme", "--role", "user", "--path", "/",
            ],
            &["create", "alice", "--password-file", "f"],
            &["get", "--tenant", "acme"],
            &["list", "--tenant", "acme", "--path-prefix", "/"],
            &["update", "alice", "--tenant", "acme"],
            &[
                "update",
                "alice",
                "--tenant",
                "acme",
                "--new-name",
                "b",
                "--role",
                "user",
            ],
            &["update", "alice", "--role", "user"],
            &[
                "update",
                "alice",
                "--tenant",
                "acme",
                "--status",
                "suspended",
            ],
            &["groups", "alice", "--tenant", "acme"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bodies_carry_what_was_given() {
        assert_eq!(
            tenant_user_create_body("alice", "tenant-admin", None),
            json!({"name": "alice", "role": "tenant-admin"})
        );
        assert_eq!(
            tenant_user_create_body("alice", "user", Some("pw d".into())),
            json!({"name": "alice", "role": "user", "password": "pw d"})
        );
        assert_eq!(
            tenant_user_patch_body(Some("read-only".into()), None),
            json!({"role": "read-only"})
        );
        assert_eq!(
            tenant_user_patch_body(None, Some("new".into())),
            json!({"password": "new"})
        );
    }
}
