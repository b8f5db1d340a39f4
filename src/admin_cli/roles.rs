//! `maxiofs admin role …`: IAM roles, their trust policies, and (through
//! `policies`) their inline and attached policies.

use clap::Subcommand;

use super::client::{Failure, IamClient};
use super::output::{self, Output};
use super::policies::{self, IdentityKind, IdentityPolicyCommand};
use super::read_document;

#[derive(Subcommand, Debug)]
pub enum RoleCommand {
    /// Create a role.
    Create {
        /// The role's name.
        name: String,
        /// The trust policy (who may assume the role, JSON) from a file, or `-` for stdin.
        #[arg(long, value_name = "FILE|-")]
        trust: String,
        /// Longest session, in seconds, that assuming the role gives (AWS: 3600 to 43200).
        #[arg(long, value_name = "SECONDS",
            value_parser = clap::value_parser!(u32).range(3600..=43200))]
        max_session_duration: Option<u32>,
        /// A description of the role.
        #[arg(long)]
        description: Option<String>,
        /// The role's path (default /).
        #[arg(long)]
        path: Option<String>,
    },
    /// Show a role with its trust policy.
    Get {
        /// The role's name.
        name: String,
    },
    /// List roles.
    List {
        /// Only roles whose path starts with this.
        #[arg(long)]
        path_prefix: Option<String>,
    },
    /// Delete a role (its policies must go first).
    Delete {
        /// The role's name.
        name: String,
    },
    /// Replace a role's trust policy.
    UpdateTrust {
        /// The role's name.
        name: String,
        /// The trust policy (JSON) from a file, or `-` for stdin.
        #[arg(long, value_name = "FILE|-")]
        trust: String,
    },
    #[command(flatten)]
    Policies(IdentityPolicyCommand),
}

pub fn run(client: &IamClient, command: RoleCommand) -> Result<Output, Failure> {
    match command {
        RoleCommand::Create {
            name,
            trust,
            max_session_duration,
            description,
            path,
        } => {
            let mut params = vec![
                ("RoleName", name),
                ("AssumeRolePolicyDocument", read_document(&trust)?),
            ];
            params.extend(max_session_duration.map(|s| ("MaxSessionDuration", s.to_string())));
            params.extend(description.map(|d| ("Description", d)));
            params.extend(path.map(|p| ("Path", p)));
            let result = client.call("CreateRole", &params)?;
            Ok(output::record_output(&result, "Role"))
        }
        RoleCommand::Get { name } => {
            let result = client.call("GetRole", &[("RoleName", name)])?;
            Ok(output::record_output(&result, "Role"))
        }
        RoleCommand::List { path_prefix } => {
            let params: Vec<_> = path_prefix.map(|p| ("PathPrefix", p)).into_iter().collect();
            let (_, roles) = client.call_paged("ListRoles", &params, "Roles")?;
            Ok(output::list_output(
                "Roles",
                &roles,
                &[
                    "RoleName",
                    "RoleId",
                    "Path",
                    "MaxSessionDuration",
                    "CreateDate",
                    "Arn",
                ],
            ))
        }
        RoleCommand::Delete { name } => {
            client.call("DeleteRole", &[("RoleName", name)])?;
            Ok(Output::Nothing)
        }
        RoleCommand::UpdateTrust { name, trust } => {
            let params = [
                ("RoleName", name),
                ("PolicyDocument", read_document(&trust)?),
            ];
            client.call("UpdateAssumeRolePolicy", &params)?;
            Ok(Output::Nothing)
        }
        RoleCommand::Policies(command) => {
            policies::run_for_identity(client, IdentityKind::Role, command)
        }
    }
}
