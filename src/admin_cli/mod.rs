//! `maxiofs admin user|key|group|policy|role|tenant|quota|usage|audit …`:
//! manage a running server. Identities go through the AWS IAM query API on
//! its S3 port, as `aws iam` would, with AWS's request parameters and
//! answers. Tenants, quotas, usage, the audit log, and (with `--tenant`) a
//! tenant's console users and their keys go through the JSON admin API on the
//! console port, one login per command.
//!
//! Owns: the command-line types of those commands, where the endpoints and
//! credentials come from, reading policy documents and passwords, and the
//! exit status (0 done, 1 the server refused, printed as `Code: Message`, 2
//! bad usage or no usable answer). The HTTP and signing live in `client`,
//! the admin API's JSON requests in `api`, the answer tree in `xml`, what
//! is printed in `output`, one module per kind of resource.
//!
//! Secrets never come from the command line, where `ps` shows them to every
//! local user: the secret key is read from `MAXIOFS_SECRET_KEY`,
//! `AWS_SECRET_ACCESS_KEY` or `--secret-key-file`; the admin API password
//! from `--admin-password-file` or `MAXIOFS_ADMIN_PASSWORD` (the root logs in
//! with its key pair); a new console user's from `--password-file` or
//! `MAXIOFS_USER_PASSWORD`.

mod api;
mod audit;
mod client;
mod groups;
mod keys;
mod kms_keys;
mod maintenance;
mod output;
mod policies;
mod quota;
mod roles;
mod tenants;
mod usage;
mod users;
mod xml;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use api::{ApiClient, Login};
use client::{Credentials, Endpoint, Failure, IamClient, Transport};
use output::Output;

pub use audit::AuditQuery;
pub use groups::GroupCommand;
pub use keys::KeyCommand;
pub use kms_keys::KmsKeyCommand;
pub use maintenance::MaintenanceCommand;
pub use policies::PolicyCommand;
pub use quota::QuotaCommand;
pub use roles::RoleCommand;
pub use tenants::TenantCommand;
pub use usage::UsageQuery;
pub use users::UserCommand;

const ENV_SECRET_KEY: &str = "MAXIOFS_SECRET_KEY";
const ENV_AWS_ACCESS_KEY: &str = "AWS_ACCESS_KEY_ID";
const ENV_AWS_SECRET_KEY: &str = "AWS_SECRET_ACCESS_KEY";
const ENV_ADMIN_PASSWORD: &str = "MAXIOFS_ADMIN_PASSWORD";
const ENV_USER_PASSWORD: &str = "MAXIOFS_USER_PASSWORD";
/// A policy document larger than this is no policy (AWS's largest, a role's
/// inline policies together, is 10 240 characters); the bound keeps a wrong
/// file from being read whole.
const DOCUMENT_BYTES_MAX: u64 = 1024 * 1024;
/// A password file larger than this is the wrong file; only its first line
/// counts anyway.
const PASSWORD_FILE_BYTES_MAX: u64 = 64 * 1024;

/// Which API a `user` or `key` command goes to: IAM on the S3 port, or with
/// `--tenant` the admin API on the console port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<Iam, Admin> {
    Iam(Iam),
    Admin(Admin),
}

#[cfg(test)]
impl<Iam, Admin> Route<Iam, Admin> {
    /// The admin API command, if that is where this goes.
    pub fn admin(self) -> Option<Admin> {
        match self {
            Route::Admin(command) => Some(command),
            Route::Iam(_) => None,
        }
    }
}

/// Who is asking and how to print, for every command on a running server.
/// Every flag may also follow the subcommand (`maxiofs admin user list --json`).
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Connection")]
pub struct ClientArgs {
    /// Access key id that signs IAM requests, and the root's admin API user name
    /// (default: MAXIOFS_ACCESS_KEY, then AWS_ACCESS_KEY_ID).
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

    /// PEM file of the CA that signed the server's certificate (https endpoints);
    /// it replaces the system's trusted CAs.
    #[arg(long, global = true, env = "MAXIOFS_CA_FILE")]
    pub ca_file: Option<PathBuf>,

    /// Seconds to wait for the connection and for each read or write.
    #[arg(long, global = true, default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// Print JSON instead of tables: the shape of `aws iam`'s output for IAM
    /// commands, the server's own answer for admin API ones.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Where the IAM API is: the S3 port.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "IAM API (S3 port)")]
pub struct IamArgs {
    /// The server's S3 URL (http:// or https://).
    #[arg(
        long,
        global = true,
        env = "MAXIOFS_ENDPOINT",
        default_value = "http://127.0.0.1:9000"
    )]
    pub endpoint: String,

    /// Region in the signature's credential scope (the server's --region).
    #[arg(
        long,
        global = true,
        env = "MAXIOFS_REGION",
        default_value = "us-east-1"
    )]
    pub region: String,

    /// Items per page of list requests (IAM's MaxItems, 1 to 1000); lists are
    /// always followed to their end.
    #[arg(long, global = true, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub page_size: Option<u32>,
}

/// Where the admin API is (the console port) and who logs in to it.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Admin API (console port)")]
pub struct ConsoleArgs {
    /// The server's console URL (http:// or https://), where the admin API is.
    #[arg(
        long,
        global = true,
        env = "MAXIOFS_CONSOLE_ENDPOINT",
        default_value = "http://127.0.0.1:9001"
    )]
    pub console_endpoint: String,

    /// Who logs in to the admin API: `tenant/name` for a console user (default: the
    /// access key id, as the root logs in).
    #[arg(long, global = true, env = "MAXIOFS_ADMIN_USER")]
    pub username: Option<String>,

    /// File whose first line is the admin API password. Without it the password
    /// comes from MAXIOFS_ADMIN_PASSWORD, then the secret key (the root's password).
    #[arg(long, global = true, env = "MAXIOFS_ADMIN_PASSWORD_FILE")]
    pub admin_password_file: Option<PathBuf>,

    /// The login's TOTP code (or a backup code), for an account that enrolled one.
    #[arg(long, global = true, value_name = "CODE")]
    pub totp: Option<String>,
}

/// `maxiofs admin user …`
#[derive(clap::Args, Debug)]
pub struct UserArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub iam: IamArgs,
    #[command(flatten)]
    pub console: ConsoleArgs,
    #[command(subcommand)]
    pub command: UserCommand,
}

/// `maxiofs admin key …`
#[derive(clap::Args, Debug)]
pub struct KeyArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub iam: IamArgs,
    #[command(flatten)]
    pub console: ConsoleArgs,
    #[command(subcommand)]
    pub command: KeyCommand,
}

/// `maxiofs admin group …`
#[derive(clap::Args, Debug)]
pub struct GroupArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub iam: IamArgs,
    #[command(subcommand)]
    pub command: GroupCommand,
}

/// `maxiofs admin policy …`
#[derive(clap::Args, Debug)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub iam: IamArgs,
    #[command(subcommand)]
    pub command: PolicyCommand,
}

/// `maxiofs admin role …`
#[derive(clap::Args, Debug)]
pub struct RoleArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub iam: IamArgs,
    #[command(subcommand)]
    pub command: RoleCommand,
}

/// `maxiofs admin tenant …`
#[derive(clap::Args, Debug)]
pub struct TenantArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub console: ConsoleArgs,
    #[command(subcommand)]
    pub command: TenantCommand,
}

/// `maxiofs admin quota …`
#[derive(clap::Args, Debug)]
pub struct QuotaArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub console: ConsoleArgs,
    #[command(subcommand)]
    pub command: QuotaCommand,
}

/// `maxiofs admin kms-key …`
#[derive(clap::Args, Debug)]
pub struct KmsKeyArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub console: ConsoleArgs,
    #[command(subcommand)]
    pub command: KmsKeyCommand,
}

/// `maxiofs admin maintenance …`
#[derive(clap::Args, Debug)]
pub struct MaintenanceArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub console: ConsoleArgs,
    #[command(subcommand)]
    pub command: MaintenanceCommand,
}

/// `maxiofs admin usage`
#[derive(clap::Args, Debug)]
pub struct UsageArgs {
    // First, so its flags are not put under the headings that follow.
    #[command(flatten)]
    pub query: UsageQuery,
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub console: ConsoleArgs,
}

/// `maxiofs admin audit`
#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    // First, so its flags are not put under the headings that follow.
    #[command(flatten)]
    pub query: AuditQuery,
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(flatten)]
    pub console: ConsoleArgs,
}

/// Runs `maxiofs admin user …`; returns the exit status.
pub fn run_user(args: UserArgs) -> i32 {
    match args.command.route() {
        Route::Admin(command) => {
            let env_password = std::env::var(ENV_USER_PASSWORD).ok();
            run_api(&args.client, &args.console, |api| {
                users::run_in_tenant(api, command, env_password)
            })
        }
        Route::Iam(command) => run_iam(&args.client, &args.iam, |client| {
            users::run(client, command)
        }),
    }
}

/// Runs `maxiofs admin key …`; returns the exit status.
pub fn run_key(args: KeyArgs) -> i32 {
    match args.command.route() {
        Route::Admin(command) => run_api(&args.client, &args.console, |api| {
            keys::run_in_tenant(api, command)
        }),
        Route::Iam(command) => {
            run_iam(&args.client, &args.iam, |client| keys::run(client, command))
        }
    }
}

/// Runs `maxiofs admin group …`; returns the exit status.
pub fn run_group(args: GroupArgs) -> i32 {
    run_iam(&args.client, &args.iam, |client| {
        groups::run(client, args.command)
    })
}

/// Runs `maxiofs admin policy …`; returns the exit status.
pub fn run_policy(args: PolicyArgs) -> i32 {
    run_iam(&args.client, &args.iam, |client| {
        policies::run(client, args.command)
    })
}

/// Runs `maxiofs admin role …`; returns the exit status.
pub fn run_role(args: RoleArgs) -> i32 {
    run_iam(&args.client, &args.iam, |client| {
        roles::run(client, args.command)
    })
}

/// Runs `maxiofs admin tenant …`; returns the exit status.
pub fn run_tenant(args: TenantArgs) -> i32 {
    run_api(&args.client, &args.console, |api| {
        tenants::run(api, args.command)
    })
}

/// Runs `maxiofs admin quota …`; returns the exit status.
pub fn run_quota(args: QuotaArgs) -> i32 {
    run_api(&args.client, &args.console, |api| {
        quota::run(api, args.command)
    })
}

/// Runs `maxiofs admin kms-key …`; returns the exit status.
pub fn run_kms_key(args: KmsKeyArgs) -> i32 {
    run_api(&args.client, &args.console, |api| {
        kms_keys::run(api, args.command)
    })
}

/// Runs `maxiofs admin maintenance …`; returns the exit status.
pub fn run_maintenance(args: MaintenanceArgs) -> i32 {
    run_api(&args.client, &args.console, |api| {
        maintenance::run(api, args.command)
    })
}

/// Runs `maxiofs admin usage`; returns the exit status.
pub fn run_usage(args: UsageArgs) -> i32 {
    run_api(&args.client, &args.console, |api| {
        usage::run(api, args.query)
    })
}

/// Runs `maxiofs admin audit`; returns the exit status.
pub fn run_audit(args: AuditArgs) -> i32 {
    run_api(&args.client, &args.console, |api| {
        audit::run(api, args.query)
    })
}

fn run_iam(
    client: &ClientArgs,
    iam: &IamArgs,
    operation: impl FnOnce(&IamClient) -> Result<Output, Failure>,
) -> i32 {
    let outcome = connect_iam(client, iam, &Environment::from_process())
        .and_then(|iam_client| operation(&iam_client));
    finish(outcome, client.json)
}

/// Logs in, runs the operation, and logs out whatever it came to.
fn run_api(
    client: &ClientArgs,
    console: &ConsoleArgs,
    operation: impl FnOnce(&ApiClient) -> Result<Output, Failure>,
) -> i32 {
    let outcome = connect_api(client, console, &Environment::from_process()).and_then(|api| {
        let outcome = operation(&api);
        api.logout();
        outcome
    });
    finish(outcome, client.json)
}

/// Prints what the command produced or why it failed; returns the exit status.
fn finish(outcome: Result<Output, Failure>, as_json: bool) -> i32 {
    match outcome {
        Ok(output) => {
            output.print(as_json);
            0
        }
        Err(Failure::Refused { code, message }) => {
            eprintln!("{code}: {message}");
            1
        }
        Err(Failure::Local(message)) => {
            eprintln!("maxiofs admin: {message}");
            2
        }
    }
}

fn connect_iam(
    client: &ClientArgs,
    iam: &IamArgs,
    environment: &Environment,
) -> Result<IamClient, Failure> {
    let endpoint = Endpoint::parse(&iam.endpoint).map_err(Failure::Local)?;
    let credentials = credentials(client, environment)?;
    let transport = Transport::new(
        endpoint,
        client.ca_file.as_deref(),
        Duration::from_secs(client.timeout),
    )
    .map_err(Failure::Local)?;
    Ok(IamClient::new(
        transport,
        credentials,
        iam.region.clone(),
        iam.page_size,
    ))
}

fn connect_api(
    client: &ClientArgs,
    console: &ConsoleArgs,
    environment: &Environment,
) -> Result<ApiClient, Failure> {
    let endpoint = Endpoint::parse(&console.console_endpoint).map_err(Failure::Local)?;
    let login = login(client, console, environment)?;
    let transport = Transport::new(
        endpoint,
        client.ca_file.as_deref(),
        Duration::from_secs(client.timeout),
    )
    .map_err(Failure::Local)?;
    ApiClient::login(transport, &login)
}

/// The environment variables secrets may come from that clap does not read,
/// read once so tests can pass their own.
#[derive(Clone, Default)]
struct Environment {
    maxiofs_secret: Option<String>,
    aws_access_key: Option<String>,
    aws_secret: Option<String>,
    admin_password: Option<String>,
}

impl Environment {
    fn from_process() -> Self {
        Environment {
            maxiofs_secret: std::env::var(ENV_SECRET_KEY).ok(),
            aws_access_key: std::env::var(ENV_AWS_ACCESS_KEY).ok(),
            aws_secret: std::env::var(ENV_AWS_SECRET_KEY).ok(),
            admin_password: std::env::var(ENV_ADMIN_PASSWORD).ok(),
        }
    }
}

/// The key pair that signs IAM requests.
fn credentials(client: &ClientArgs, environment: &Environment) -> Result<Credentials, Failure> {
    refuse_secret_on_command_line(client)?;
    Ok(Credentials {
        access_key_id: access_key_id(client, environment)?,
        secret_access_key: secret_access_key(client, environment)?,
    })
}

/// Who logs in to the admin API, and with what: `--username` else the access
/// key id (the root); the password from --admin-password-file (an explicit
/// choice wins over the environment), else MAXIOFS_ADMIN_PASSWORD, else the
/// secret key.
fn login(
    client: &ClientArgs,
    console: &ConsoleArgs,
    environment: &Environment,
) -> Result<Login, Failure> {
    refuse_secret_on_command_line(client)?;
    let username = match console.username.clone().filter(|name| !name.is_empty()) {
        Some(name) => name,
        None => access_key_id(client, environment).map_err(|_| {
            Failure::local(
                "no user name: give --username (MAXIOFS_ADMIN_USER), or the root's \
                 --access-key (MAXIOFS_ACCESS_KEY)",
            )
        })?,
    };
    let from_environment = environment
        .admin_password
        .clone()
        .filter(|password| !password.is_empty());
    let password = match (&console.admin_password_file, from_environment) {
        (Some(path), _) => read_password(path)?,
        (None, Some(password)) => password,
        (None, None) => secret_access_key(client, environment).map_err(|_| {
            Failure::local(format!(
                "no password: set {ENV_ADMIN_PASSWORD} or use --admin-password-file (the \
                 root's password is its secret key: {ENV_SECRET_KEY} or --secret-key-file)"
            ))
        })?,
    };
    Ok(Login {
        username,
        password,
        totp: console.totp.clone(),
    })
}

fn refuse_secret_on_command_line(client: &ClientArgs) -> Result<(), Failure> {
    if client.secret_key_on_command_line.is_some() {
        return Err(Failure::local(format!(
            "--secret-key is not accepted (the command line is visible to every local user): \
             set {ENV_SECRET_KEY} or use --secret-key-file"
        )));
    }
    Ok(())
}

/// The access key from the flag (or MAXIOFS_ACCESS_KEY through clap), else
/// AWS_ACCESS_KEY_ID.
fn access_key_id(client: &ClientArgs, environment: &Environment) -> Result<String, Failure> {
    client
        .access_key
        .clone()
        .or_else(|| environment.aws_access_key.clone())
        .filter(|key| !key.is_empty())
        .ok_or_else(|| Failure::local("no access key: give --access-key or set MAXIOFS_ACCESS_KEY"))
}

/// The secret from --secret-key-file (an explicit choice wins over the
/// environment), else MAXIOFS_SECRET_KEY, else AWS_SECRET_ACCESS_KEY.
fn secret_access_key(client: &ClientArgs, environment: &Environment) -> Result<String, Failure> {
    match &client.secret_key_file {
        Some(path) => secret_from_file(path),
        None => environment
            .maxiofs_secret
            .clone()
            .or_else(|| environment.aws_secret.clone())
            .filter(|secret| !secret.is_empty())
            .ok_or_else(|| {
                Failure::local(format!(
                    "no secret key: set {ENV_SECRET_KEY} or use --secret-key-file"
                ))
            }),
    }
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

/// A password: the first line of a file, or of stdin for `-`. Only the line
/// break is removed; spaces at either end may belong to the password.
fn read_password(path: &Path) -> Result<String, Failure> {
    let (what, reader): (String, Box<dyn Read>) = if path == Path::new("-") {
        ("stdin".to_owned(), Box::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(path)
            .map_err(|err| Failure::local(format!("{}: {err}", path.display())))?;
        (path.display().to_string(), Box::new(file))
    };
    let mut text = String::new();
    reader
        .take(PASSWORD_FILE_BYTES_MAX)
        .read_to_string(&mut text)
        .map_err(|err| Failure::local(format!("{what}: {err}")))?;
    first_line(&text).ok_or_else(|| Failure::local(format!("{what} holds no password")))
}

/// The first line without its line break; `None` when it is empty.
fn first_line(text: &str) -> Option<String> {
    let line = text.split('\n').next().unwrap_or("");
    let line = line.strip_suffix('\r').unwrap_or(line);
    (!line.is_empty()).then(|| line.to_owned())
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
        Tenant(TenantArgs),
        Quota(QuotaArgs),
        Usage(UsageArgs),
        Audit(AuditArgs),
    }

    fn parse(args: &[&str]) -> Result<TestCli, clap::Error> {
        TestCli::try_parse_from(std::iter::once("maxiofs").chain(args.iter().copied()))
    }

    fn environment(secret: Option<&str>, aws_key: Option<&str>) -> Environment {
        Environment {
            maxiofs_secret: secret.map(str::to_owned),
            aws_access_key: aws_key.map(str::to_owned),
            ..Environment::default()
        }
    }

    fn tenant_args(args: &[&str]) -> TenantArgs {
        let mut all = vec!["tenant"];
        all.extend_from_slice(args);
        match parse(&all).expect("parses").command {
            TestCommand::Tenant(args) => args,
            other => panic!("not tenant: {other:?}"),
        }
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
        assert_eq!(args.iam.endpoint, "https://s3.example.com");
        assert_eq!(args.client.access_key.as_deref(), Some("AKID"));
        assert!(args.client.json);
        assert!(matches!(args.command, UserCommand::List { .. }));

        let args = tenant_args(&[
            "--console-endpoint",
            "https://console.example.com:9443",
            "get",
            "acme",
            "--json",
            "--username",
            "acme/admin",
            "--totp",
            "123456",
        ]);
        assert_eq!(
            args.console.console_endpoint,
            "https://console.example.com:9443"
        );
        assert_eq!(args.console.username.as_deref(), Some("acme/admin"));
        assert_eq!(args.console.totp.as_deref(), Some("123456"));
        assert!(args.client.json);
        assert!(
            parse(&["tenant", "list", "--endpoint", "http://x"]).is_err(),
            "admin API commands have no S3 endpoint"
        );
    }

    #[test]
    fn admin_api_commands_parse() {
        for good in [
            &["tenant", "list"][..],
            &["tenant", "create", "acme", "--objects", "10"],
            &["tenant", "update", "acme", "--storage-bytes", "none"],
            &["tenant", "delete", "acme"],
            &["quota", "get", "b1"],
            &["quota", "set", "b1", "--storage-bytes", "1GiB"],
            &["usage"],
            &["usage", "--tenant", "acme", "--json"],
            &["audit"],
            &[
                "audit",
                "--from",
                "2026-12-06T17:00:00Z",
                "--limit",
                "10000",
                "--csv",
            ],
            &[
                "user", "create", "alice", "--tenant", "acme", "--role", "user",
            ],
            &["key", "list", "--tenant", "acme", "--user", "alice"],
        ] {
            assert!(parse(good).is_ok(), "{good:?}");
        }
        for bad in [
            &["quota", "set", "b1"][..],
            &["quota", "set", "b1", "--buckets", "1"],
            &["audit", "--csv", "--json"],
            &["audit", "--limit", "0"],
            &["audit", "--limit", "10001"],
            &["audit", "--to", "tomorrow"],
            &["usage", "extra"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
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
        let with_secret = environment(Some("s"), None);
        let refused = credentials(&args.client, &with_secret);
        assert!(matches!(refused, Err(Failure::Local(why)) if why.contains("--secret-key")));
        let refused = login(&args.client, &args.console, &with_secret);
        assert!(matches!(refused, Err(Failure::Local(why)) if why.contains("--secret-key")));
    }

    #[test]
    fn credentials_fall_back_to_the_aws_environment() {
        let cli = parse(&["key", "list"]).expect("parses");
        let TestCommand::Key(mut args) = cli.command else {
            panic!("not key");
        };
        args.client.access_key = None;
        let mut aws = environment(None, Some("AKAWS"));
        aws.aws_secret = Some("sa".into());
        let from_aws = credentials(&args.client, &aws).expect("credentials");
        assert_eq!(
            (
                from_aws.access_key_id.as_str(),
                from_aws.secret_access_key.as_str()
            ),
            ("AKAWS", "sa")
        );
        args.client.access_key = Some("AKMAX".into());
        aws.maxiofs_secret = Some("sm".into());
        let ours = credentials(&args.client, &aws).expect("credentials");
        assert_eq!(
            (ours.access_key_id.as_str(), ours.secret_access_key.as_str()),
            ("AKMAX", "sm")
        );
        assert!(credentials(&args.client, &Environment::default()).is_err());
    }

    #[test]
    fn the_root_logs_in_with_its_key_pair_and_users_with_their_password() {
        let mut args = tenant_args(&["list", "--access-key", "AKROOT"]);
        let root = login(
            &args.client,
            &args.console,
            &environment(Some("sroot"), None),
        )
        .expect("login");
        assert_eq!(
            (root.username.as_str(), root.password.as_str(), root.totp),
            ("AKROOT", "sroot", None)
        );

        args.console.username = Some("acme/alice".into());
        let mut env = environment(Some("sroot"), None);
        env.admin_password = Some("alice pw".into());
        let user = login(&args.client, &args.console, &env).expect("login");
        assert_eq!(
            (user.username.as_str(), user.password.as_str()),
            ("acme/alice", "alice pw")
        );

        let dir = std::env::temp_dir().join(format!("maxiofs-admin-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("password");
        std::fs::write(&file, " from file \r\nsecond line\n").expect("writes");
        args.console.admin_password_file = Some(file.clone());
        let from_file = login(&args.client, &args.console, &env).expect("login");
        assert_eq!(
            from_file.password, " from file ",
            "the file wins over the variable"
        );
        std::fs::write(&file, "\n").expect("writes");
        assert!(login(&args.client, &args.console, &env).is_err());
        std::fs::remove_dir_all(&dir).expect("cleans up");

        args.console.admin_password_file = None;
        assert!(
            login(&args.client, &args.console, &Environment::default()).is_err(),
            "no password anywhere"
        );
        args.console.username = None;
        args.client.access_key = None;
        let no_name = login(&args.client, &args.console, &environment(Some("s"), None));
        assert!(matches!(no_name, Err(Failure::Local(why)) if why.contains("--username")));
    }

    #[test]
    fn first_line_keeps_spaces_and_drops_the_line_break() {
        assert_eq!(first_line("pw\n").as_deref(), Some("pw"));
        assert_eq!(first_line(" pw \r\nx").as_deref(), Some(" pw "));
        assert_eq!(first_line("pw").as_deref(), Some("pw"));
        assert_eq!(first_line(""), None);
        assert_eq!(first_line("\nsecond"), None);
    }
}
