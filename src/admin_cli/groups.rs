//! `maxiofs admin group …`: IAM groups, their members, and (through
//! `policies`) their inline and attached policies.

use clap::Subcommand;
use serde_json::{Map, Value};

use super::client::{Failure, IamClient};
use super::output::{self, Output};
use super::policies::{self, IdentityKind, IdentityPolicyCommand};

#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// Create a group.
    Create {
        /// The group's name.
        name: String,
        /// The group's path (default /).
        #[arg(long)]
        path: Option<String>,
    },
    /// Show a group and its members.
    Get {
        /// The group's name.
        name: String,
    },
    /// List groups.
    List {
        /// Only groups whose path starts with this.
        #[arg(long)]
        path_prefix: Option<String>,
    },
    /// Delete a group (its members and policies must go first).
    Delete {
        /// The group's name.
        name: String,
    },
    /// Add a user to a group.
    AddUser {
        /// The group's name.
        group: String,
        /// The user's name.
        user: String,
    },
    /// Remove a user from a group.
    RemoveUser {
        /// The group's name.
        group: String,
        /// The user's name.
        user: String,
    },
    #[command(flatten)]
    Policies(IdentityPolicyCommand),
}

pub fn run(client: &IamClient, command: GroupCommand) -> Result<Output, Failure> {
    match command {
        GroupCommand::Create { name, path } => {
            let mut params = vec![("GroupName", name)];
            params.extend(path.map(|p| ("Path", p)));
            let result = client.call("CreateGroup", &params)?;
            Ok(output::record_output(&result, "Group"))
        }
        GroupCommand::Get { name } => {
            // GetGroup pages through the members; the group itself is on every page.
            let (first, members) =
                client.call_paged("GetGroup", &[("GroupName", name)], "Users")?;
            let group = first
                .child("Group")
                .ok_or_else(|| Failure::local("GetGroup: the answer holds no Group"))?;
            let mut json = Map::new();
            json.insert("Group".into(), output::element_json(group));
            json.insert(
                "Users".into(),
                Value::Array(members.iter().map(output::element_json).collect()),
            );
            let mut text = output::record_text(group);
            text.push('\n');
            text.push_str(&output::list_table(
                &members,
                &["UserName", "UserId", "Arn"],
            ));
            Ok(Output::Shown {
                json: Value::Object(json),
                text,
            })
        }
        GroupCommand::List { path_prefix } => {
            let params: Vec<_> = path_prefix.map(|p| ("PathPrefix", p)).into_iter().collect();
            let (_, groups) = client.call_paged("ListGroups", &params, "Groups")?;
            Ok(output::list_output(
                "Groups",
                &groups,
                &["GroupName", "GroupId", "Path", "CreateDate", "Arn"],
            ))
        }
        GroupCommand::Delete { name } => {
            client.call("DeleteGroup", &[("GroupName", name)])?;
            Ok(Output::Nothing)
        }
        GroupCommand::AddUser { group, user } => {
            let params = [("GroupName", group), ("UserName", user)];
            client.call("AddUserToGroup", &params)?;
            Ok(Output::Nothing)
        }
        GroupCommand::RemoveUser { group, user } => {
            let params = [("GroupName", group), ("UserName", user)];
            client.call("RemoveUserFromGroup", &params)?;
            Ok(Output::Nothing)
        }
        GroupCommand::Policies(command) => {
            policies::run_for_identity(client, IdentityKind::Group, command)
        }
    }
}
