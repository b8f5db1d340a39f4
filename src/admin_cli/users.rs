//! `maxiofs admin user …`: IAM users, their group memberships, and (through
//! `policies`) their inline and attached policies.

use clap::Subcommand;

use super::client::{Failure, IamClient};
use super::output::{self, Output};
use super::policies::{self, IdentityKind, IdentityPolicyCommand};

const USER_COLUMNS: [&str; 5] = ["UserName", "UserId", "Path", "CreateDate", "Arn"];
const GROUP_COLUMNS: [&str; 5] = ["GroupName", "GroupId", "Path", "CreateDate", "Arn"];

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user.
    Create {
        /// The user's name.
        name: String,
        /// The user's path (default /).
        #[arg(long)]
        path: Option<String>,
    },
    /// List users.
    List {
        /// Only users whose path starts with this.
        #[arg(long)]
        path_prefix: Option<String>,
    },
    /// Show a user; without NAME, the user whose key signs the request.
    Get {
        /// The user's name.
        name: Option<String>,
    },
    /// Delete a user (its keys, policies and group memberships must go first).
    Delete {
        /// The user's name.
        name: String,
    },
    /// Rename a user or move it to another path.
    Update {
        /// The user's name.
        name: String,
        /// The new name.
        #[arg(long, required_unless_present = "new_path")]
        new_name: Option<String>,
        /// The new path.
        #[arg(long)]
        new_path: Option<String>,
    },
    /// List the groups a user belongs to.
    Groups {
        /// The user's name.
        name: String,
    },
    #[command(flatten)]
    Policies(IdentityPolicyCommand),
}

pub fn run(client: &IamClient, command: UserCommand) -> Result<Output, Failure> {
    match command {
        UserCommand::Create { name, path } => {
            let mut params = vec![("UserName", name)];
            params.extend(path.map(|p| ("Path", p)));
            let result = client.call("CreateUser", &params)?;
            Ok(output::record_output(&result, "User"))
        }
        UserCommand::List { path_prefix } => {
            let params: Vec<_> = path_prefix.map(|p| ("PathPrefix", p)).into_iter().collect();
            let (_, users) = client.call_paged("ListUsers", &params, "Users")?;
            Ok(output::list_output("Users", &users, &USER_COLUMNS))
        }
        UserCommand::Get { name } => {
            let params: Vec<_> = name.map(|n| ("UserName", n)).into_iter().collect();
            let result = client.call("GetUser", &params)?;
            Ok(output::record_output(&result, "User"))
        }
        UserCommand::Delete { name } => {
            client.call("DeleteUser", &[("UserName", name)])?;
            Ok(Output::Nothing)
        }
        UserCommand::Update {
            name,
            new_name,
            new_path,
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
