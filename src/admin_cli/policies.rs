//! `maxiofs admin policy …`: managed policies and their versions. Also the
//! inline and attached policy commands that users, groups and roles share
//! (`put-policy`, `attach-policy`, …), as IAM names those actions alike for
//! the three kinds of identity.

use clap::Subcommand;
use serde_json::{Map, Value};

use super::client::{Failure, IamClient};
use super::output::{self, Output};
use super::read_document;

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Create a managed policy; its first version (v1) is the default.
    Create {
        /// The policy's name.
        name: String,
        /// The policy document (JSON) from a file, or `-` for stdin.
        #[arg(long, value_name = "FILE|-")]
        document: String,
        /// A description, fixed at creation.
        #[arg(long)]
        description: Option<String>,
        /// The policy's path (default /).
        #[arg(long)]
        path: Option<String>,
    },
    /// List managed policies.
    List {
        /// Which policies: all, AWS-managed or this account's own.
        #[arg(long, default_value = "All", value_parser = ["All", "AWS", "Local"])]
        scope: String,
        /// Only policies attached to some user, group or role.
        #[arg(long)]
        only_attached: bool,
    },
    /// Show a managed policy with its default version's document.
    Get {
        /// The policy's ARN.
        arn: String,
    },
    /// Delete a managed policy (detach it and delete its other versions first).
    Delete {
        /// The policy's ARN.
        arn: String,
    },
    /// Add a version to a managed policy.
    CreateVersion {
        /// The policy's ARN.
        arn: String,
        /// The new version's document (JSON) from a file, or `-` for stdin.
        #[arg(long, value_name = "FILE|-")]
        document: String,
        /// Make the new version the one in effect.
        #[arg(long)]
        set_default: bool,
    },
    /// Make a version of a managed policy the one in effect.
    SetDefault {
        /// The policy's ARN.
        arn: String,
        /// The version id (v1, v2, …).
        version: String,
    },
    /// List the versions of a managed policy.
    Versions {
        /// The policy's ARN.
        arn: String,
    },
    /// Delete a version of a managed policy (not the default one).
    DeleteVersion {
        /// The policy's ARN.
        arn: String,
        /// The version id (v1, v2, …).
        version: String,
    },
}

pub fn run(client: &IamClient, command: PolicyCommand) -> Result<Output, Failure> {
    match command {
        PolicyCommand::Create {
            name,
            document,
            description,
            path,
        } => {
            let mut params = vec![
                ("PolicyName", name),
                ("PolicyDocument", read_document(&document)?),
            ];
            params.extend(description.map(|d| ("Description", d)));
            params.extend(path.map(|p| ("Path", p)));
            let result = client.call("CreatePolicy", &params)?;
            Ok(output::record_output(&result, "Policy"))
        }
        PolicyCommand::List {
            scope,
            only_attached,
        } => {
            let params = [
                ("Scope", scope),
                ("OnlyAttached", only_attached.to_string()),
            ];
            let (_, policies) = client.call_paged("ListPolicies", &params, "Policies")?;
            Ok(output::list_output(
                "Policies",
                &policies,
                &[
                    "PolicyName",
                    "DefaultVersionId",
                    "AttachmentCount",
                    "UpdateDate",
                    "Arn",
                ],
            ))
        }
        PolicyCommand::Get { arn } => get(client, arn),
        PolicyCommand::Delete { arn } => {
            client.call("DeletePolicy", &[("PolicyArn", arn)])?;
            Ok(Output::Nothing)
        }
        PolicyCommand::CreateVersion {
            arn,
            document,
            set_default,
        } => {
            let params = [
                ("PolicyArn", arn),
                ("PolicyDocument", read_document(&document)?),
                ("SetAsDefault", set_default.to_string()),
            ];
            let result = client.call("CreatePolicyVersion", &params)?;
            Ok(output::record_output(&result, "PolicyVersion"))
        }
        PolicyCommand::SetDefault { arn, version } => {
            let params = [("PolicyArn", arn), ("VersionId", version)];
            client.call("SetDefaultPolicyVersion", &params)?;
            Ok(Output::Nothing)
        }
        PolicyCommand::Versions { arn } => {
            let params = [("PolicyArn", arn)];
            let (_, versions) = client.call_paged("ListPolicyVersions", &params, "Versions")?;
            Ok(output::list_output(
                "Versions",
                &versions,
                &["VersionId", "IsDefaultVersion", "CreateDate"],
            ))
        }
        PolicyCommand::DeleteVersion { arn, version } => {
            let params = [("PolicyArn", arn), ("VersionId", version)];
            client.call("DeletePolicyVersion", &params)?;
            Ok(Output::Nothing)
        }
    }
}

/// GetPolicy says which version is in effect; GetPolicyVersion holds its document.
fn get(client: &IamClient, arn: String) -> Result<Output, Failure> {
    let policy_result = client.call("GetPolicy", &[("PolicyArn", arn.clone())])?;
    let policy = policy_result
        .child("Policy")
        .ok_or_else(|| Failure::local("GetPolicy: the answer holds no Policy"))?;
    let default_version = policy
        .child_text("DefaultVersionId")
        .filter(|version| !version.is_empty())
        .ok_or_else(|| Failure::local("GetPolicy: the answer names no DefaultVersionId"))?;
    let params = [
        ("PolicyArn", arn),
        ("VersionId", default_version.to_owned()),
    ];
    let version_result = client.call("GetPolicyVersion", &params)?;
    let mut json = Map::new();
    json.insert("Policy".into(), output::element_json(policy));
    let mut text = output::record_text(policy);
    if let Some(version) = version_result.child("PolicyVersion") {
        json.insert("PolicyVersion".into(), output::element_json(version));
        text.push('\n');
        text.push_str(&output::record_text(version));
    }
    Ok(Output::Shown {
        json: Value::Object(json),
        text,
    })
}

/// Which kind of identity an inline or attached policy command is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityKind {
    User,
    Group,
    Role,
}

impl IdentityKind {
    /// The word IAM puts in the action names (`PutUserPolicy`).
    fn noun(self) -> &'static str {
        match self {
            IdentityKind::User => "User",
            IdentityKind::Group => "Group",
            IdentityKind::Role => "Role",
        }
    }

    /// The parameter naming the identity (`UserName`).
    fn name_param(self) -> &'static str {
        match self {
            IdentityKind::User => "UserName",
            IdentityKind::Group => "GroupName",
            IdentityKind::Role => "RoleName",
        }
    }
}

/// Inline policies (embedded in one identity) and attached managed policies.
#[derive(Subcommand, Debug)]
pub enum IdentityPolicyCommand {
    /// Add or replace an inline policy.
    PutPolicy {
        /// The user, group or role.
        name: String,
        /// The inline policy's name.
        policy_name: String,
        /// The policy document (JSON) from a file, or `-` for stdin.
        #[arg(long, value_name = "FILE|-")]
        document: String,
    },
    /// Show an inline policy's document.
    GetPolicy {
        /// The user, group or role.
        name: String,
        /// The inline policy's name.
        policy_name: String,
    },
    /// List the names of the inline policies.
    ListPolicies {
        /// The user, group or role.
        name: String,
    },
    /// Delete an inline policy.
    DeletePolicy {
        /// The user, group or role.
        name: String,
        /// The inline policy's name.
        policy_name: String,
    },
    /// Attach a managed policy.
    AttachPolicy {
        /// The user, group or role.
        name: String,
        /// The managed policy's ARN.
        arn: String,
    },
    /// Detach a managed policy.
    DetachPolicy {
        /// The user, group or role.
        name: String,
        /// The managed policy's ARN.
        arn: String,
    },
    /// List the attached managed policies.
    ListAttached {
        /// The user, group or role.
        name: String,
    },
}

pub fn run_for_identity(
    client: &IamClient,
    kind: IdentityKind,
    command: IdentityPolicyCommand,
) -> Result<Output, Failure> {
    let noun = kind.noun();
    let name_param = kind.name_param();
    match command {
        IdentityPolicyCommand::PutPolicy {
            name,
            policy_name,
            document,
        } => {
            let params = [
                (name_param, name),
                ("PolicyName", policy_name),
                ("PolicyDocument", read_document(&document)?),
            ];
            client.call(&format!("Put{noun}Policy"), &params)?;
            Ok(Output::Nothing)
        }
        IdentityPolicyCommand::GetPolicy { name, policy_name } => {
            let params = [(name_param, name), ("PolicyName", policy_name)];
            let result = client.call(&format!("Get{noun}Policy"), &params)?;
            Ok(Output::Shown {
                json: output::result_json(&result),
                text: output::record_text(&result),
            })
        }
        IdentityPolicyCommand::ListPolicies { name } => {
            let params = [(name_param, name)];
            let action = format!("List{noun}Policies");
            let (_, names) = client.call_paged(&action, &params, "PolicyNames")?;
            Ok(output::names_output("PolicyNames", &names, "PolicyName"))
        }
        IdentityPolicyCommand::DeletePolicy { name, policy_name } => {
            let params = [(name_param, name), ("PolicyName", policy_name)];
            client.call(&format!("Delete{noun}Policy"), &params)?;
            Ok(Output::Nothing)
        }
        IdentityPolicyCommand::AttachPolicy { name, arn } => {
            let params = [(name_param, name), ("PolicyArn", arn)];
            client.call(&format!("Attach{noun}Policy"), &params)?;
            Ok(Output::Nothing)
        }
        IdentityPolicyCommand::DetachPolicy { name, arn } => {
            let params = [(name_param, name), ("PolicyArn", arn)];
            client.call(&format!("Detach{noun}Policy"), &params)?;
            Ok(Output::Nothing)
        }
        IdentityPolicyCommand::ListAttached { name } => {
            let params = [(name_param, name)];
            let action = format!("ListAttached{noun}Policies");
            let (_, attached) = client.call_paged(&action, &params, "AttachedPolicies")?;
            Ok(output::list_output(
                "AttachedPolicies",
                &attached,
                &["PolicyName", "PolicyArn"],
            ))
        }
    }
}
