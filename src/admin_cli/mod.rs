//! `maxiofs admin user|key|group|policy|role …`: manage a running server's
//! identities through the AWS IAM query API on its S3 port, as `aws iam`
//! would, with AWS's request parameters and answers.
//!
//! Owns: the command-line types of those commands, where the endpoint and
//! credentials come from, reading policy documents, and the exit status
//! (0 done, 1 the server refused with an AWS error, printed as
//! `Code: Message`, 2 bad usage or no usable answer). The HTTP and signing
//! live in `client`, the answer tree in `xml`, what is printed in `output`,
//! one module per kind of resource.
//!
//! Secrets never come from the command line, where `ps` shows them to every
//! local user: the secret key is read from `MAXIOFS_SECRET_KEY`,
//! `AWS_SECRET_ACCESS_KEY` or `--secret-key-file`.

mod client;
mod groups;
mod keys;
mod output;
mod policies;
mod roles;
mod users;
mod xml;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use client::{Credentials, Endpoint, Failure, IamClient};
use output::Output;

pub use groups::GroupCommand;
pub use keys::KeyCommand;
pub use policies::PolicyCommand;
pub use roles::RoleCommand;
pub use users::UserCommand;

const ENV_SECRET_KEY: &str = "MAXIOFS_SECRET_KEY";
const ENV_AWS_ACCESS_KEY: &str = "AWS_ACCESS_KEY_ID";
const ENV_AWS_SECRET_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// A policy document larger than this is no policy (AWS's largest, a role's
/// inline policies together, is 10 240 characters); the bound keeps a wrong
/// file from being read whole.
const DOCUMENT_BYTES_MAX: u64 = 1024 * 1024;

/// Where the server is, who is asking, and how to print. Every flag may also
/// follow the subcommand (`maxiofs admin user list --json`).
#[derive(clap::Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// The server's S3 URL (http:// or https://).
    #[arg(
        long,
        global = true,
        env = "MAXIOFS_ENDPOINT",
        default_value = "http://127.0.0.1:9000"
    )]
    pub endpoint: String,

    /// Access key id that signs the requests (default: MAXIOFS_ACCESS_KEY, then
    /// AWS_ACCESS_KEY_ID).
    #[arg(long, global = true, env = "MAXIOFS_ACCESS_KEY")]
    pub access_key: Option<String>,

    /// File whose first line is the secret access key. Without it the secret comes
    /// from MAXIOFS_SECRET_KEY, then AWS_SECRET_ACCESS_KEY; never from the command
    /// line, where every local user can read it.
    #[arg(long, global = true, env = "MAXIOFS_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,

    /// Refused: a secret on the command line is visible to every local user.
    #[arg(long = "secret-key", global = true, hide = true)]
    pub secret_key_on_command_line: Option<String>,

    /// Region in the signature's credential scope (the server's --region).
    #[arg(
        long,
        global = true,
        env = "MAXIOFS_REGION",
        default_value = "us-east-1"
    )]
    pub region: String,

    /// PEM file of the CA that signed the server's certificate (https endpoints);
    /// it replaces the system's trusted CAs.
    #[arg(long, global = true, env = "MAXIOFS_CA_FILE")]
    pub ca_file: Option<PathBuf>,

    /// Seconds to wait for the connection and for each read or write.
    #[arg(long, global = true, default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// Items per page of list requests (IAM's MaxItems, 1 to 1000); lists are
    /// always followed to their end.
    #[arg(long, global = true, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub page_size: Option<u32>,

    /// Print JSON (the shape of `aws iam`'s output) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// `maxiofs admin user …`
#[derive(clap::Args, Debug)]
pub struct UserArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(subcommand)]
    pub command: UserCommand,
}

/// `maxiofs admin key …`
#[derive(clap::Args, Debug)]
pub struct KeyArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(subcommand)]
    pub command: KeyCommand,
}

/// `maxiofs admin group …`
#[derive(clap::Args, Debug)]
pub struct GroupArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(subcommand)]
    pub command: GroupCommand,
}

/// `maxiofs admin policy …`
#[derive(clap::Args, Debug)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(subcommand)]
    pub command: PolicyCommand,
}

/// `maxiofs admin role …`
#[derive(clap::Args, Debug)]
pub struct RoleArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(subcommand)]
    pub command: RoleCommand,
}

/// Runs `maxiofs admin user …`; returns the exit status.
pub fn run_user(args: UserArgs) -> i32 {
    run(&args.connection, |client| users::run(client, args.command))
}

/// Runs `maxiofs admin key …`; returns the exit status.
pub fn run_key(args: KeyArgs) -> i32 {
    run(&args.connection, |client| keys::run(client, args.command))
}

/// Runs `maxiofs admin group …`; returns the exit status.
pub fn run_group(args: GroupArgs) -> i32 {
    run(&args.connection, |client| groups::run(client, args.command))
}

/// Runs `maxiofs admin policy …`; returns the exit status.
pub fn run_policy(args: PolicyArgs) -> i32 {
    run(&args.connection, |client| {
        policies::run(client, args.command)
    })
}

/// Runs `maxiofs admin role …`; returns the exit status.
pub fn run_role(args: RoleArgs) -> i32 {
    run(&args.connection, |client| roles::run(client, args.command))
}

fn run(
    connection: &ConnectionArgs,
    operation: impl FnOnce(&IamClient) -> Result<Output, Failure>,
) -> i32 {
    let outcome = connect(connection).and_then(|client| operation(&client));
    match outcome {
        Ok(output) => {
            output.print(connection.json);
            0
        }
        Err(Failure::Aws { code, message }) => {
            eprintln!("{code}: {message}");
            1
        }
        Err(Failure::Local(message)) => {
            eprintln!("maxiofs admin: {message}");
            2
        }
    }
}

fn connect(connection: &ConnectionArgs) -> Result<IamClient, Failure> {
    let endpoint = Endpoint::parse(&connection.endpoint).map_err(Failure::Local)?;
    let credentials = credentials(
        connection,
        std::env::var(ENV_SECRET_KEY).ok(),
        std::env::var(ENV_AWS_ACCESS_KEY).ok(),
        std::env::var(ENV_AWS_SECRET_KEY).ok(),
    )?;
    IamClient::new(
        endpoint,
        credentials,
        connection.region.clone(),
        connection.ca_file.as_deref(),
        Duration::from_secs(connection.timeout),
        connection.page_size,
    )
    .map_err(Failure::Local)
}

/// The key pair: the access key from the flag (or MAXIOFS_ACCESS_KEY through
/// clap) else AWS_ACCESS_KEY_ID; the secret from --secret-key-file (an explicit
/// choice wins over the environment), else MAXIOFS_SECRET_KEY, else
/// AWS_SECRET_ACCESS_KEY. The environment is passed in so tests need not set it.
fn credentials(
    connection: &ConnectionArgs,
    maxiofs_secret: Option<String>,
    aws_access_key: Option<String>,
    aws_secret: Option<String>,
) -> Result<Credentials, Failure> {
    if connection.secret_key_on_command_line.is_some() {
        return Err(Failure::local(format!(
            "--secret-key is not accepted (the command line is visible to every local user): \
             set {ENV_SECRET_KEY} or use --secret-key-file"
        )));
    }
    let access_key_id = connection
        .access_key
        .clone()
        .or(aws_access_key)
        .filter(|key| !key.is_empty())
        .ok_or_else(|| {
            Failure::local("no access key: give --access-key or set MAXIOFS_ACCESS_KEY")
        })?;
    let secret_access_key = match &connection.secret_key_file {
        Some(path) => secret_from_file(path)?,
        None => maxiofs_secret
            .or(aws_secret)
            .filter(|secret| !secret.is_empty())
            .ok_or_else(|| {
                Failure::local(format!(
                    "no secret key: set {ENV_SECRET_KEY} or use --secret-key-file"
                ))
            })?,
    };
    Ok(Credentials {
        access_key_id,
        secret_access_key,
    })
}

fn secret_from_file(path: &Path) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| Failure::local(format!("{}: {err}", path.display())))?;
    let secret = text.lines().next().unwrap_or("").trim();
    if secret.is_empty() {
        return Err(Failure::local(format!(
            "{} holds no secret",
            path.display()
        )));
    }
    Ok(secret.to_owned())
}

/// A policy document from a file, or stdin for `-`, checked to be JSON here
/// so a typo is reported before anything is sent.
fn read_document(source: &str) -> Result<String, Failure> {
    let (what, mut reader): (String, Box<dyn Read>) = if source == "-" {
        ("stdin".to_owned(), Box::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(source)
            .map_err(|err| Failure::local(format!("{source}: {err}")))?;
        (source.to_owned(), Box::new(file))
    };
    let mut text = String::new();
    reader
        .by_ref()
        .take(DOCUMENT_BYTES_MAX + 1)
        .read_to_string(&mut text)
        .map_err(|err| Failure::local(format!("{what}: {err}")))?;
    if text.len() as u64 > DOCUMENT_BYTES_MAX {
        return Err(Failure::local(format!(
            "{what}: larger than any policy document"
        )));
    }
    serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|err| Failure::local(format!("{what}: not a JSON policy document: {err}")))?;
    Ok(text.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct TestCli {
        #[command(subcommand)]
        command: TestCommand,
    }

    #[derive(clap::Subcommand, Debug)]
    enum TestCommand {
        User(UserArgs),
        Key(KeyArgs),
        Role(RoleArgs),
    }

    fn parse(args: &[&str]) -> Result<TestCli, clap::Error> {
        TestCli::try_parse_from(std::iter::once("maxiofs").chain(args.iter().copied()))
    }

    #[test]
    fn connection_flags_go_before_or_after_the_subcommand() {
        let cli = parse(&[
            "user",
            "--endpoint",
            "https://s3.example.com",
            "list",
            "--json",
            "--access-key",
            "AKID",
        ])
        .expect("parses");
        let TestCommand::User(args) = cli.command else {
            panic!("not user");
        };
        assert_eq!(args.connection.endpoint, "https://s3.example.com");
        assert_eq!(args.connection.access_key.as_deref(), Some("AKID"));
        assert!(args.connection.json);
        assert!(matches!(args.command, UserCommand::List { .. }));
    }

    #[test]
    fn shared_policy_commands_parse_under_each_identity() {
        let cli = parse(&["user", "put-policy", "alice", "p1", "--document", "-"]).expect("parses");
        let TestCommand::User(args) = cli.command else {
            panic!("not user");
        };
        assert!(matches!(
            args.command,
            UserCommand::Policies(policies::IdentityPolicyCommand::PutPolicy { .. })
        ));
        assert!(parse(&["role", "list-attached", "r1"]).is_ok());
        assert!(parse(&["key", "disable", "AKIA0000000000000000"]).is_ok());
        assert!(parse(&["role", "create", "r", "--trust", "t.json"]).is_ok());
        assert!(parse(&[
            "role",
            "create",
            "r",
            "--trust",
            "t",
            "--max-session-duration",
            "60"
        ])
        .is_err());
        assert!(
            parse(&["user", "update", "alice"]).is_err(),
            "update needs a change"
        );
    }

    #[test]
    fn secrets_never_come_from_the_command_line() {
        let cli = parse(&["key", "list", "--access-key", "AKID", "--secret-key", "s"])
            .expect("the hidden flag parses, to be refused with a reason");
        let TestCommand::Key(args) = cli.command else {
            panic!("not key");
        };
        let refused = credentials(&args.connection, Some("s".into()), None, None);
        assert!(matches!(refused, Err(Failure::Local(why)) if why.contains("--secret-key")));
    }

    #[test]
    fn credentials_fall_back_to_the_aws_environment() {
        let cli = parse(&["key", "list"]).expect("parses");
        let TestCommand::Key(mut args) = cli.command else {
            panic!("not key");
        };
        args.connection.access_key = None;
        let from_aws = credentials(
            &args.connection,
            None,
            Some("AKAWS".into()),
            Some("sa".into()),
        )
        .expect("credentials");
        assert_eq!(
            (
                from_aws.access_key_id.as_str(),
                from_aws.secret_access_key.as_str()
            ),
            ("AKAWS", "sa")
        );
        args.connection.access_key = Some("AKMAX".into());
        let ours = credentials(
            &args.connection,
            Some("sm".into()),
            Some("AKAWS".into()),
            Some("sa".into()),
        )
        .expect("credentials");
        assert_eq!(
            (ours.access_key_id.as_str(), ours.secret_access_key.as_str()),
            ("AKMAX", "sm")
        );
        assert!(credentials(&args.connection, None, None, None).is_err());
    }
}
